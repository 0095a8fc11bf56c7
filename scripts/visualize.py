"""Pictures of a trained lstm_textcat pipeline: a t-SNE map of its word embeddings, and its
training curves.

    python scripts/visualize.py MODEL EMBEDDINGS.png [--n-words 300] [--log LOG.jsonl]
        [--curves CURVES.png] [--seed 0]

The map: the learned rows of the network's embedding for the ``--n-words`` most frequent
words of the training data (rows 2.. of the token table, which is ordered by frequency; row 0
is padding and row 1 unknown words; punctuation and numbers are skipped), projected to 2-D
with scikit-learn's t-SNE (cosine distances) and drawn with matplotlib, each point labelled
with its word. Each word is coloured by the label it pushes the classifier towards, with a
legend, as the classic map of positive and negative words: the word alone, as a one-token
document, goes through the component's own featuriser and network (both paths of the
wide-and-deep network: LSTM and bag of n-grams), and the label whose score rises most above
that of an unknown word is its colour. So the sentiment (or topic) structure the model
learned is visible at a glance.

The curves come from spaCy's training log: the JSON lines ``spacy.ConsoleLogger.v3`` writes
with ``output_file`` (project.yml's train commands set it). Without a log file, the curves
fall back to the final scores in ``MODEL/meta.json`` (``performance``), drawn as points.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy
from _common import find_textcat

UNKNOWN = "<unk>"  # a word no token table holds: the baseline every word is compared with


def lstm_textcat(nlp):
    name, pipe = find_textcat(nlp, "an lstm_textcat (a model with a token table)")
    if "token_table" not in getattr(pipe.model, "attrs", {}):
        raise SystemExit(f"the component '{name}' is not an lstm_textcat: the embedding map needs its token table")
    return name, pipe


def is_word(token: str) -> bool:
    return any(c.isalpha() for c in token) and not token.startswith("<")


def word_labels(nlp, pipe, words: List[str]) -> List[str]:
    """The label each word pushes the classifier towards (see the module docstring)."""
    from spacy.tokens import Doc

    scores = numpy.asarray(pipe.predict([Doc(nlp.vocab, words=[w]) for w in words + [UNKNOWN]]), dtype="float64")
    scores = numpy.clip(scores, 1e-7, 1.0 - 1e-7)
    if getattr(pipe, "support_missing_values", False):  # independent sigmoids: the logits
        logits = numpy.log(scores) - numpy.log1p(-scores)
    else:  # softmax: log-probabilities are the logits up to a constant per document
        logits = numpy.log(scores)
    push = logits[:-1] - logits[-1]
    labels = list(pipe.labels)
    return [labels[k] for k in push.argmax(axis=1)]


def plot_embeddings(model: str, output: Path, n_words: int, seed: int) -> Dict[str, str]:
    """Draw the map; returns each mapped word's label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import spacy
    from sklearn.manifold import TSNE

    from spacy_lstm.model_attrs import get_shim

    nlp = spacy.load(model)
    name, pipe = lstm_textcat(nlp)
    tokens = list(pipe.model.attrs["token_table"].tokens)
    table = get_shim(pipe.model).get_weights()["embedding/embeddings"]
    rows = numpy.array([i for i, t in enumerate(tokens) if 2 <= i < len(table) and is_word(t)][:n_words])
    if len(rows) < 5:
        raise SystemExit(f"only {len(rows)} words in the model's vocabulary: too few to map")
    words = [tokens[i] for i in rows]
    perplexity = float(min(30, max(2, (len(rows) - 1) / 3)))
    points = TSNE(
        n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed
    ).fit_transform(table[rows])
    labels = list(pipe.labels)
    pushes = word_labels(nlp, pipe, words)

    fig, ax = plt.subplots(figsize=(16, 16), dpi=100)
    colours = {label: plt.get_cmap("tab10")(k % 10) for k, label in enumerate(labels)}
    for label in labels:
        mask = numpy.array([p == label for p in pushes])
        count = int(mask.sum())
        ax.scatter(points[mask, 0], points[mask, 1], s=12, color=colours[label], label=f"pushes towards {label} ({count})")
    ax.legend(loc="upper right", fontsize=12, title="each word, alone")
    for (x, y), word, label in zip(points, words, pushes):
        ax.annotate(word, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=8, color=colours[label])
    ax.set_title(
        f"t-SNE of the {len(rows)} most frequent words' learned embeddings ({name}, {Path(model).as_posix()})",
        fontsize=14,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)
    print(f"wrote {output} ({len(rows)} words: " + ", ".join(f"{pushes.count(label)} {label}" for label in labels) + ")")
    return dict(zip(words, pushes))


def read_log(path: Path) -> List[dict]:
    """The log's entries. Only the last line may be unreadable (a run killed mid-write leaves
    it partial): it is left out with a note; any other bad line is an error."""
    lines = [line.strip() for line in path.read_text(encoding="utf8").splitlines() if line.strip()]
    entries = []
    for number, line in enumerate(lines, start=1):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number < len(lines):
                raise SystemExit(f"{path}, line {number}: not a spaCy training log entry ({err})")
            print(f"note: left out the partial last line of {path}")
    return entries


def plot_curves(model: str, log: Optional[Path], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = read_log(log) if log and log.is_file() else []
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=100)
    if entries:
        steps = [e["step"] for e in entries]
        # spaCy logs the loss summed since the previous evaluation: divide by the steps taken.
        spans = [max(1, step - prev) for prev, step in zip([0] + steps[:-1], steps)]
        for pipe in entries[0].get("losses", {}):
            losses = [e["losses"].get(pipe, numpy.nan) / n for e, n in zip(entries, spans)]
            ax_loss.plot(steps, losses, marker="o", label=pipe)
        score_names = [k for k in entries[0].get("scores", {}) if k != "speed"]
        for key in score_names:
            ax_score.plot(steps, [e["scores"].get(key, numpy.nan) / 100 for e in entries], marker="o", label=key)
        ax_score.plot(steps, [e["score"] for e in entries], linestyle="--", color="black", label="score (weighted)")
        source = str(log)
    else:
        meta_path = Path(model) / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf8")) if meta_path.is_file() else {}
        perf = {k: v for k, v in (meta.get("performance") or {}).items() if isinstance(v, (int, float))}
        ax_score.bar(list(perf), list(perf.values()))
        ax_score.tick_params(axis="x", rotation=45)
        ax_loss.text(0.5, 0.5, "no training log", ha="center", va="center", transform=ax_loss.transAxes)
        source = f"{meta_path} (no log at {log})"
        print(f"note: no training log at {log}; drew the final scores from {meta_path}")
    ax_loss.set_title("training loss (mean per step)")
    ax_loss.set_xlabel("step")
    ax_score.set_title("dev scores")
    ax_score.set_xlabel("step")
    ax_score.set_ylim(0, 1.02)
    for ax in (ax_loss, ax_score):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"training curves: {source}", fontsize=9)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)
    print(f"wrote {output}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("output", type=Path, help="PNG of the embedding map")
    parser.add_argument("--n-words", type=int, default=300)
    parser.add_argument("--log", type=Path, default=None, help="spaCy JSONL training log")
    parser.add_argument("--curves", type=Path, default=None, help="PNG of the training curves")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    plot_embeddings(args.model, args.output, args.n_words, args.seed)
    if args.curves:
        plot_curves(args.model, args.log, args.curves)
    return 0


if __name__ == "__main__":
    sys.exit(main())
