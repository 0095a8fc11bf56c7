"""Pictures of a trained lstm_textcat pipeline: a t-SNE map of its word embeddings, and its
training curves.

    python scripts/visualize.py MODEL EMBEDDINGS.png [--n-words 300] [--log LOG.jsonl]
        [--curves CURVES.png] [--seed 0]

The map: the learned rows of the Keras network's ``embedding`` layer for the ``--n-words``
most frequent words of the training data (rows 2.. of the token table, which is ordered by
frequency; row 0 is padding and row 1 unknown words; punctuation and numbers are skipped),
projected to 2-D with scikit-learn's t-SNE (cosine distances) and drawn with matplotlib,
each point labelled with its word. Each point is coloured by the class the classifier's
output layer would push that word towards (the word's embedding fed through the network
alone), so the sentiment (or topic) structure the model learned is visible at a glance.

The curves come from spaCy's training log: the JSON lines ``spacy.ConsoleLogger.v3`` writes
with ``output_file`` (project.yml's train commands set it). Without a log file, the curves
fall back to the final scores in ``MODEL/meta.json`` (``performance``), drawn as points.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

import numpy


def find_textcat(nlp):
    for name, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if model is not None and "token_table" in getattr(model, "attrs", {}):
            return name, pipe
    raise SystemExit(
        f"no lstm_textcat component in the pipeline ({', '.join(nlp.pipe_names)}): "
        "the embedding map needs a component whose model has a token table"
    )


def keras_network(nlp, pipe):
    from spacy_lstm.model_attrs import get_shim

    try:
        return get_shim(pipe.model).network
    except Exception:
        nlp("warm up")  # some builds create the Keras network on first use
        return get_shim(pipe.model).network


def is_word(token: str) -> bool:
    return any(c.isalpha() for c in token) and not token.startswith("<")


def word_classes(network, rows: numpy.ndarray, labels: List[str]) -> Optional[numpy.ndarray]:
    """The label each word alone pushes the classifier towards (None if it can't be read)."""
    try:
        import tensorflow as tf

        ids = tf.constant(rows.reshape(-1, 1), dtype="int32")
        logits = numpy.asarray(network(ids, training=False))
        if logits.shape[-1] != len(labels):
            return None
        if logits.shape[-1] == 1:
            return (logits[:, 0] > 0).astype(int)
        return logits.argmax(-1)
    except Exception as err:  # colouring is a bonus; the map must not depend on it
        print(f"note: words not coloured by class ({err})")
        return None


def plot_embeddings(model: str, output: Path, n_words: int, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import spacy
    from sklearn.manifold import TSNE

    nlp = spacy.load(model)
    name, pipe = find_textcat(nlp)
    tokens = list(pipe.model.attrs["token_table"].tokens)
    network = keras_network(nlp, pipe)
    table = numpy.asarray(network.get_layer("embedding").get_weights()[0])
    rows = numpy.array([i for i, t in enumerate(tokens) if i >= 2 and i < len(table) and is_word(t)][:n_words])
    if len(rows) < 5:
        raise SystemExit(f"only {len(rows)} words in the model's vocabulary: too few to map")
    words = [tokens[i] for i in rows]
    vectors = table[rows]
    perplexity = float(min(30, max(2, (len(rows) - 1) / 3)))
    points = TSNE(
        n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed
    ).fit_transform(vectors)
    labels = list(pipe.labels)
    classes = word_classes(network, rows, labels)

    fig, ax = plt.subplots(figsize=(16, 16), dpi=100)
    palette = plt.get_cmap("tab10")
    if classes is None:
        ax.scatter(points[:, 0], points[:, 1], s=12, color="tab:blue")
    else:
        for k, label in enumerate(labels):
            mask = classes == k
            ax.scatter(points[mask, 0], points[mask, 1], s=12, color=palette(k % 10), label=f"pushes towards {label}")
        ax.legend(loc="upper right", fontsize=12)
    for (x, y), word, k in zip(points, words, classes if classes is not None else [0] * len(words)):
        ax.annotate(word, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=8, color=palette(k % 10))
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
    print(f"wrote {output} ({len(rows)} words)")


def read_log(path: Path) -> List[dict]:
    entries = []
    for line in path.read_text(encoding="utf8").splitlines():
        line = line.strip()
        if line:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a run killed mid-write leaves a partial last line
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
