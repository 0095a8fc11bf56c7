"""Evaluate a trained text classifier on a held-out .spacy file; write JSON, print a table.

    python scripts/evaluate.py MODEL TEST.spacy OUTPUT.json [--gpu-id -1]

The JSON holds spaCy's own textcat scores (``cats_score``, ``cats_macro_f``, ``cats_macro_auc``,
per-label P/R/F, exactly what ``spacy evaluate`` reports) plus what spaCy's scorer leaves out
for exclusive classes: ``accuracy`` (argmax of doc.cats == gold label), the number of documents
and the prediction speed. Every score is a fraction in [0, 1].
"""
import argparse
import json
import sys
import time
from pathlib import Path

from _common import accuracy, find_textcat, labels_of


def evaluate(model: str, test_path: Path, gpu_id: int = -1) -> dict:
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    name, pipe = find_textcat(nlp)
    gold_docs = list(DocBin().from_disk(test_path).get_docs(nlp.vocab))
    if not gold_docs:
        raise SystemExit(f"{test_path} holds no documents")
    list(nlp.pipe(d.text for d in gold_docs[:64]))  # warm up: graph tracing is not prediction
    start = time.perf_counter()
    predicted = list(nlp.pipe((d.text for d in gold_docs), batch_size=256))
    seconds = time.perf_counter() - start
    examples = [Example(p, g) for p, g in zip(predicted, gold_docs)]
    scores = pipe.score(examples)
    labels = sorted(gold_docs[0].cats)
    result = {
        "model": str(model),
        "component": name,
        "test": str(test_path),
        "n_docs": len(gold_docs),
        "labels": labels,
        "accuracy": accuracy(labels_of(predicted), labels_of(gold_docs)),
        "cats_score": scores.get("cats_score"),
        "cats_score_desc": scores.get("cats_score_desc"),
        "cats_macro_p": scores.get("cats_macro_p"),
        "cats_macro_r": scores.get("cats_macro_r"),
        "cats_macro_f": scores.get("cats_macro_f"),
        "cats_macro_auc": scores.get("cats_macro_auc"),
        "cats_micro_f": scores.get("cats_micro_f"),
        "cats_f_per_type": scores.get("cats_f_per_type"),
        "cats_ngram_accuracy": scores.get("cats_ngram_accuracy"),
        "docs_per_second": len(gold_docs) / seconds if seconds else None,
    }
    return result


def print_table(result: dict) -> None:
    from wasabi import msg

    rows = [
        ("Accuracy", f"{result['accuracy']:.3f}"),
        ("Macro P", f"{result['cats_macro_p']:.3f}"),
        ("Macro R", f"{result['cats_macro_r']:.3f}"),
        ("Macro F", f"{result['cats_macro_f']:.3f}"),
        ("Macro AUC", f"{result['cats_macro_auc']:.3f}" if result["cats_macro_auc"] is not None else "-"),
        ("Docs", str(result["n_docs"])),
        ("Docs/s", f"{result['docs_per_second']:.0f}"),
    ]
    msg.divider(f"{result['component']} on {result['test']}")
    msg.table(rows, aligns=("l", "r"))
    per_type = result.get("cats_f_per_type") or {}
    if per_type:
        msg.table(
            [(label, f"{s['p']:.3f}", f"{s['r']:.3f}", f"{s['f']:.3f}") for label, s in sorted(per_type.items())],
            header=("Label", "P", "R", "F"),
            aligns=("l", "r", "r", "r"),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("test", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--gpu-id", type=int, default=-1)
    args = parser.parse_args()
    result = evaluate(args.model, args.test, args.gpu_id)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    print_table(result)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
