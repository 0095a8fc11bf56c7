"""Label efficiency (ULMFiT's key figure): test accuracy against the number of labelled
training documents, for lstm_textcat from scratch, lstm_textcat initialised from a language
model, and spaCy's TextCatBOW.v3.

    python scripts/learning_curve.py CORPUS_DIR OUTPUT.png --language-model training/lm/model-best
        [--sizes 100,300,1000,3000,0] [--seeds 3] [--systems scratch,pretrained,bow1]

CORPUS_DIR holds one split (train/dev/test.spacy). For each size n (0 = every training
document) and seed, a stratified sample of n labelled training documents trains every system;
the dev set is a stratified sample of max(100, n / 4) dev documents (a few-label user would
not have a thousand labelled dev documents either); the test set is always the whole test
split. The language model must have been trained on text that excludes the dev and test
splits (`spacy project run pretrain` uses the training splits only). Writes OUTPUT.png, and
OUTPUT.json / OUTPUT.md with every run and the mean ± std per point.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

import numpy

from benchmark_textcat import builtin_config, spacy_train
from evaluate import evaluate

HERE = Path(__file__).resolve().parent
SYSTEMS = {
    "scratch": "lstm_textcat from scratch (textcat_lstm.cfg)",
    "pretrained": "lstm_textcat from a language model (textcat_lstm_pretrained.cfg)",
    "bow1": "spaCy TextCatBOW.v3 (unigrams)",
}


def stratified_sample(docs: list, n: int, seed: int) -> list:
    """n docs (all for n = 0 or n >= len) in the label proportions of `docs`."""
    if n <= 0 or n >= len(docs):
        return list(docs)
    rng = numpy.random.default_rng(seed)
    by_label: Dict[str, List[int]] = {}
    for i, doc in enumerate(docs):
        by_label.setdefault(max(doc.cats, key=doc.cats.get), []).append(i)
    chosen: List[int] = []
    for label, rows in sorted(by_label.items()):
        k = max(1, round(n * len(rows) / len(docs)))
        chosen.extend(rng.choice(rows, size=min(k, len(rows)), replace=False).tolist())
    return [docs[i] for i in sorted(chosen)]


def write_sample(source: Path, target: Path, n: int, seed: int) -> int:
    import spacy
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(source).get_docs(spacy.blank("en").vocab))
    sample = stratified_sample(docs, n, seed)
    DocBin(docs=sample).to_disk(target)
    return len(sample)


def plot(points: Dict[str, Dict[int, List[float]]], sizes: Dict[int, int], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for system, by_size in points.items():
        xs = sorted(by_size)
        means = [numpy.mean(by_size[x]) for x in xs]
        stds = [numpy.std(by_size[x]) for x in xs]
        ax.errorbar([sizes[x] for x in xs], means, yerr=stds, marker="o", capsize=3, label=SYSTEMS[system])
    ax.set_xscale("log")
    ax.set_xlabel("labelled training documents")
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--language-model", type=Path, default=None)
    parser.add_argument("--sizes", default="100,300,1000,3000,0")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--configs", type=Path, default=HERE.parent / "configs")
    parser.add_argument("--overrides", default="", help="extra spacy train overrides for the lstm systems, KEY=VALUE,...")
    args = parser.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s]
    if set(systems) - set(SYSTEMS):
        parser.error(f"unknown systems {sorted(set(systems) - set(SYSTEMS))}; choose from {', '.join(SYSTEMS)}")
    if "pretrained" in systems and not (args.language_model and (args.language_model / "config.cfg").is_file()):
        parser.error("the pretrained system needs --language-model (spacy project run pretrain writes training/lm/model-best)")
    extra = dict(kv.split("=", 1) for kv in args.overrides.split(",") if kv)
    from spacy.tokens import DocBin

    n_train = len(DocBin().from_disk(args.corpus / "train.spacy"))
    wanted = [int(s) for s in args.sizes.split(",") if s]
    sizes = {n: (n_train if n <= 0 or n >= n_train else n) for n in wanted}
    sizes = {n: size for n, size in sizes.items() if n <= 0 or n < n_train}  # "all" once
    runs: List[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bow = builtin_config(work / "bow1.cfg", "efficiency", 1)
        for n, size in sizes.items():
            for seed in range(args.seeds):
                split = work / f"n{size}_s{seed}"
                split.mkdir()
                write_sample(args.corpus / "train.spacy", split / "train.spacy", size, seed)
                write_sample(args.corpus / "dev.spacy", split / "dev.spacy", max(100, size // 4), seed)
                for system in systems:
                    overrides: Dict[str, object] = {"system.seed": seed}
                    if system == "bow1":
                        config = bow
                    else:
                        config = args.configs / ("textcat_lstm_pretrained.cfg" if system == "pretrained" else "textcat_lstm.cfg")
                        overrides.update(extra)
                        if system == "pretrained":
                            overrides["paths.language_model"] = args.language_model
                    out = split / system
                    info = spacy_train(config, split, out, overrides, None)
                    accuracy = evaluate(str(out / "model-best"), args.corpus / "test.spacy")["accuracy"]
                    runs.append({"system": system, "n": size, "seed": seed, "accuracy": accuracy, "train_seconds": info["train_seconds"]})
                    print(f"n={size} seed={seed} {system}: {accuracy:.4f}", flush=True)
    points: Dict[str, Dict[int, List[float]]] = {s: {} for s in systems}
    for run in runs:
        points[run["system"]].setdefault(run["n"], []).append(run["accuracy"])
    identity = {size: size for size in sizes.values()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    plot(points, identity, f"Label efficiency on {args.corpus.name}", args.output)
    lines = ["| labelled docs | " + " | ".join(SYSTEMS[s] for s in systems) + " |", "|---" * (len(systems) + 1) + "|"]
    for size in sorted(identity):
        cells = [f"{numpy.mean(points[s][size]):.3f} ± {numpy.std(points[s][size]):.3f}" for s in systems]
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    args.output.with_suffix(".md").write_text(table, encoding="utf8")
    args.output.with_suffix(".json").write_text(json.dumps({"corpus": str(args.corpus), "runs": runs}, indent=2) + "\n")
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
