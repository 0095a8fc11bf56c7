"""One HTML page explaining the test reviews a reader learns most from: the most confident
errors and as many correct predictions (the most confident ones), each headed by its gold label.

    python scripts/explain_examples.py MODEL TEST.spacy OUTPUT.html [--n 20]
"""
import argparse
import html
from pathlib import Path

from _common import find_textcat, top_label


def main() -> None:
    import spacy
    from spacy.tokens import DocBin

    from spacy_lstm.render import PAGE, render_explanations

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("test", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--n", type=int, default=20, help="errors, and correct reviews, to show")
    args = parser.parse_args()
    nlp = spacy.load(args.model)
    _, textcat = find_textcat(nlp)
    gold = list(DocBin().from_disk(args.test).get_docs(nlp.vocab))
    predicted = list(nlp.pipe(d.text for d in gold))
    rows = [(top_label(p.cats), top_label(g.cats), max(p.cats.values()), p) for p, g in zip(predicted, gold)]
    errors = sorted((r for r in rows if r[0] != r[1]), key=lambda r: -r[2])[: args.n]
    correct = sorted((r for r in rows if r[0] == r[1]), key=lambda r: -r[2])[: args.n]
    textcat.explain([r[3] for r in errors + correct])  # one call: the attribution graph is traced once
    sections = []
    for heading, chosen in ((f"The {len(errors)} most confident errors", errors), (f"{len(correct)} correct predictions", correct)):
        docs = [r[3] for r in chosen]
        fragment = render_explanations(docs, jupyter=False, titles=[f"gold {r[1]}" for r in chosen]) if docs else ""
        sections.append(f"<h2>{html.escape(heading)}</h2>\n{fragment}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(PAGE.format(title=f"Explanations: {html.escape(args.model)}", body="\n".join(sections)), encoding="utf8")
    print(f"{len(errors)} errors and {len(correct)} correct reviews explained: {args.output}")


if __name__ == "__main__":
    main()
