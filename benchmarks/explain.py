"""How faithful and how fast `lstm_textcat.explain()` is, on test reviews.

    python benchmarks/explain.py MODEL TEST.jsonl [--limit N] [--steps 2] [--out metrics/explain.md]

Faithfulness (deletion AOPC; Samek et al. 2017): for k = 1..10, delete the k tokens a method
ranks highest for the predicted label and measure how far that label's probability falls;
AOPC(k) is the mean fall over the documents (with fewer than k tokens: all deleted). Methods:
`ig` (the explanation: n-gram shares + integrated gradients), `ngram` and `lstm_ig` (its two
parts alone), `grad_x_input` (n-gram shares + the gradient at the document times its
difference from the baseline, the cheap method IG corrects), `attention` (the attention
pooling's weights, when the model pools with attention) and `random`.

Completeness: per doc |sum(weights) - (margin(doc) - margin(baseline))|, relative to that
difference (what the tolerance checks) and relative to the LSTM path's own difference.

Speed: docs/s of `explain()` (on docs that went through the pipeline) against `nlp.pipe` on
the same texts, measured alternately, with the median of `--repeats` runs of each.
"""
import argparse
import random
import statistics
import time
from pathlib import Path

import numpy
import srsly

K_MAX = 10


def deletion_curve(textcat, docs, labels_idx, rankings):
    """[K_MAX] mean fall of the predicted label's probability after deleting the top-k."""
    from spacy.tokens import Doc

    base = textcat.predict(docs)[numpy.arange(len(docs)), labels_idx]
    curve = []
    for k in range(1, K_MAX + 1):
        cut = []
        for doc, order in zip(docs, rankings):
            drop = set(order[:k].tolist())
            words = [t.text for t in doc if t.i not in drop]
            spaces = [bool(t.whitespace_) for t in doc if t.i not in drop]
            cut.append(Doc(doc.vocab, words=words, spaces=spaces))
        probs = textcat.predict(cut)[numpy.arange(len(docs)), labels_idx]
        curve.append(float(numpy.mean(base - probs)))
    return curve


def rankings_by_method(textcat, docs, explanations, seed: int):
    """method -> one token ranking (indices, best first) per doc."""
    from spacy_lstm.keras.attribution import attributor_for
    from spacy_lstm.model_attrs import get_shim
    from spacy_lstm.textcat.featurize import pad
    from spacy_lstm.textcat.model import textcat_features

    cfg = textcat.model.attrs["cfg"]
    if any(len(d) > cfg["max_length"] > 0 for d in docs):
        raise SystemExit("benchmarks/explain.py maps LSTM positions to tokens 1:1: use docs within max_length")
    rank = lambda w: numpy.argsort(-numpy.asarray(w), kind="stable")  # noqa: E731
    methods = {
        "ig": [rank(e.weights) for e in explanations],
        "ngram": [rank(e.ngram_weights) for e in explanations],
        "lstm_ig": [rank(e.lstm_weights) for e in explanations],
    }
    attributor = attributor_for(get_shim(textcat.model).network, exclusive=cfg["exclusive_classes"])
    ids = pad(textcat_features(textcat.model, docs)[0])
    labels = numpy.asarray([list(textcat.labels).index(e.label) for e in explanations], dtype="int32")
    offsets = numpy.zeros((len(docs), len(textcat.labels)), dtype="float32")  # labels are given: no offsets needed
    gxi = attributor.gradient_x_input(ids, offsets, labels)["attributions"]
    methods["grad_x_input"] = [rank(e.ngram_weights + gxi[i, : len(e.doc)]) for i, e in enumerate(explanations)]
    if cfg["pooling"] == "attention":
        att = attributor.attention_weights(ids)
        methods["attention"] = [rank(att[i, : len(e.doc)]) for i, e in enumerate(explanations)]
    rng = random.Random(seed)
    methods["random"] = [numpy.asarray(rng.sample(range(len(d)), len(d)), dtype="int64") for d in docs]
    return methods, labels


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    import spacy

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("test", type=Path, help="JSONL with a text field (e.g. corpus/mr/test.jsonl)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="default: the component's default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the tables here (Markdown)")
    args = parser.parse_args()
    from spacy_lstm.textcat.component import find_classifier
    from spacy_lstm.textcat.explain import DEFAULT_STEPS

    steps = args.steps or DEFAULT_STEPS
    nlp = spacy.load(args.model)
    textcat = find_classifier(nlp)
    texts = [r["text"] for r in srsly.read_jsonl(args.test)]
    texts = texts[: args.limit] if args.limit else texts
    docs = [d for d in nlp.pipe(texts, batch_size=1000) if len(d)]
    textcat.explain(docs[:64], steps=steps)  # trace the graphs: not part of the timing
    pipe_s, explain_s = [], []
    for _ in range(args.repeats):  # alternate, so that both see the same load on the machine
        pipe_s.append(seconds(lambda: list(nlp.pipe(texts, batch_size=1000))))
        explain_s.append(seconds(lambda: textcat.explain(docs, steps=steps)))
    pipe_rate, explain_rate = len(texts) / statistics.median(pipe_s), len(docs) / statistics.median(explain_s)
    explanations = textcat.explain(docs, steps=steps)
    errors = numpy.asarray([e.completeness_error for e in explanations])
    lstm_errors = numpy.asarray([
        abs(e.lstm_weights.sum() - (e.margin - e.ngram_weights.sum() - e.baseline)) / max(abs(e.margin - e.ngram_weights.sum() - e.baseline), 1e-2)
        for e in explanations
    ])
    used = numpy.asarray([e.steps for e in explanations])
    methods, labels = rankings_by_method(textcat, docs, explanations, args.seed)
    curves = {name: deletion_curve(textcat, docs, labels, ranks) for name, ranks in methods.items()}
    lines = [
        f"# Explanations: {args.model} on {len(docs)} documents of {args.test}",
        "",
        f"Default steps: {steps} Gauss-Legendre nodes; recomputed (more nodes) for {int((used > steps).sum())} docs "
        f"(max {int(used.max())} nodes).",
        "",
        "| completeness error | median | 95th pct | max |",
        "|---|---|---|---|",
        f"| relative to margin(doc) - margin(baseline) | {numpy.median(errors):.4%} | {numpy.quantile(errors, 0.95):.4%} | {errors.max():.4%} |",
        f"| relative to the LSTM path's own difference | {numpy.median(lstm_errors):.4%} | {numpy.quantile(lstm_errors, 0.95):.4%} | {lstm_errors.max():.4%} |",
        "",
        f"Speed: explain {explain_rate:.1f} docs/s, nlp.pipe {pipe_rate:.1f} docs/s: ratio {explain_rate / pipe_rate:.3f} "
        f"(median of {args.repeats} alternating runs).",
        "",
        "Deletion: mean fall of the predicted label's probability after deleting the top-k tokens (higher = more faithful)",
        "",
        "| method | " + " | ".join(f"k={k}" for k in range(1, K_MAX + 1)) + " | AOPC (mean) |",
        "|---|" + "---|" * (K_MAX + 1),
    ]
    for name, curve in sorted(curves.items(), key=lambda item: -numpy.mean(item[1])):
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in curve) + f" | **{numpy.mean(curve):.3f}** |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf8")


if __name__ == "__main__":
    main()
