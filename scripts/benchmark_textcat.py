"""Benchmark lstm_textcat against spaCy's built-in classifiers and raw Keras, on the same splits.

    python scripts/benchmark_textcat.py CORPUS_DIR OUTPUT.md [--config configs/textcat_lstm.cfg]
        [--systems lstm,bow,ensemble,keras] [--lstm-steps 600] [--bow-steps 2000]
        [--ensemble-steps 3000] [--ensemble-minutes 6] [--keras-epochs 3] [--seed 0]

CORPUS_DIR holds train/dev/test.spacy (``spacy project run corpus``). Systems, each trained on
train.spacy, model-selected on dev.spacy, scored once on test.spacy:

* ``lstm``: ``spacy train`` with the lstm_textcat config, ``--lstm-steps`` steps (the
  learning-rate schedule is stretched to the same number of steps).
* ``bow``: spaCy ``TextCatBOW.v3`` (unigrams + bigrams), spaCy's quickstart config
  (``spacy init config -p textcat -o efficiency``), ``--bow-steps`` steps.
* ``ensemble``: spaCy ``TextCatEnsemble.v2`` (quickstart ``-o accuracy``: a CNN tok2vec +
  BOW, no pretrained vectors). It is slow on CPU, so it gets a budget: ``--ensemble-steps``
  steps or ``--ensemble-minutes`` of wall-clock training, whichever ends first (the run is
  stopped and the best checkpoint so far, evaluated every 100 steps, is scored).
* ``keras``: the LSTM path of the lstm_textcat network (``build_text_classifier`` from
  ``spacy_lstm.keras.networks`` with the config's hyperparameters, fed by the component's own
  featuriser: same token table, same truncation) trained with plain ``model.fit`` (Adam, the
  config's learning rate, batch 32), ``--keras-epochs`` epochs, keeping the epoch with the
  best dev accuracy: what the bridge adds or costs.

Reported: test accuracy, macro F, training time (wall clock, including spaCy's
initialisation and periodic dev evaluation), and prediction speed (docs/s over the test set,
tokenisation included, batch 256). Writes OUTPUT.md and OUTPUT.json, and rebuilds
metrics/benchmark.md from every metrics/benchmark_*.json so the datasets sit in one table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict

import numpy

from _common import accuracy, labels_of
from evaluate import evaluate


def spacy_train(config: Path, corpus: Path, out: Path, overrides: Dict[str, str], gpu_id: int, timeout: float = None) -> dict:
    cmd = [
        sys.executable, "-m", "spacy", "train", str(config), "--output", str(out),
        "--paths.train", str(corpus / "train.spacy"), "--paths.dev", str(corpus / "dev.spacy"),
        "--gpu-id", str(gpu_id),
    ]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", ANSI_COLORS_DISABLED="1")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    stopped = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
        stopped = True
    seconds = time.perf_counter() - start
    if proc.returncode and not stopped:
        raise SystemExit(f"spacy train failed for {config} (exit {proc.returncode})")
    if not (out / "model-best").is_dir():
        raise SystemExit(f"no model-best in {out} (stopped before the first evaluation?)")
    return {"train_seconds": seconds, "stopped_by_time_budget": stopped}


def builtin_config(path: Path, optimize: str, ngram_size: int, seed: int) -> Path:
    from spacy.cli.init_config import init_config

    config = init_config(lang="en", pipeline=["textcat"], optimize=optimize, gpu=False, pretraining=False, silent=True)
    model = config["components"]["textcat"]["model"]
    bow = model if model.get("@architectures", "").startswith("spacy.TextCatBOW") else model.get("linear_model", {})
    if bow:
        bow["ngram_size"] = ngram_size
    config["system"]["seed"] = seed
    # No pretrained vectors (the quickstart's accuracy config asks for en_core_web_lg): every
    # system here learns its embeddings from the training split alone.
    config["paths"]["vectors"] = None
    config["initialize"]["vectors"] = None
    embed = config["components"].get("tok2vec", {}).get("model", {}).get("embed", {})
    if "include_static_vectors" in embed:
        embed["include_static_vectors"] = False
    config.to_disk(path)
    return path


def run_spacy_system(name: str, config: Path, corpus: Path, workdir: Path, overrides: dict, gpu_id: int, timeout=None) -> dict:
    out = workdir / name
    info = spacy_train(config, corpus, out, overrides, gpu_id, timeout)
    scores = evaluate(str(out / "model-best"), corpus / "test.spacy", gpu_id)
    return {
        **info,
        "accuracy": scores["accuracy"],
        "macro_f": scores["cats_macro_f"],
        "docs_per_second": scores["docs_per_second"],
        "n_test": scores["n_docs"],
        "budget": overrides,
    }


def keras_baseline(config_path: Path, corpus: Path, epochs: int, seed: int) -> dict:
    """The LSTM path of the lstm_textcat network (no bag of n-grams), built by the same
    function from the config's settings and fed by the same featuriser (token table,
    truncation), trained with plain model.fit: what the spaCy integration adds or costs."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.util import load_config
    from sklearn.metrics import f1_score

    from spacy_lstm.keras.backend import keras
    from spacy_lstm.keras.networks import build_text_classifier
    from spacy_lstm.textcat.featurize import build_token_table, docs_to_ids

    cfg = load_config(config_path)
    m = next(c for c in cfg["components"].values() if "model" in c)["model"]
    opt = cfg["training"]["optimizer"]
    lr = opt["learn_rate"]["initial_rate"] if isinstance(opt["learn_rate"], dict) else opt["learn_rate"]
    keras.utils.set_random_seed(seed)

    nlp = spacy.blank("en")

    def load(split):
        docs = list(DocBin().from_disk(corpus / f"{split}.spacy").get_docs(nlp.vocab))
        return [d.text for d in docs], labels_of(docs)

    (train_x, train_gold), (dev_x, dev_gold), (test_x, test_gold) = load("train"), load("dev"), load("test")
    labels = sorted(set(train_gold))

    start = time.perf_counter()
    train_docs = list(nlp.tokenizer.pipe(train_x))
    table = build_token_table(train_docs, m["attr"], max_vocab=int(m["max_vocab"]), min_freq=int(m["min_freq"]))

    def encode(docs):
        ids = docs_to_ids(docs, table, m["attr"], int(m["max_length"]), m["truncation"])
        return keras.utils.pad_sequences(ids, padding="post", maxlen=max(len(r) for r in ids))

    def label_ids(gold):
        return numpy.array([labels.index(label) for label in gold])

    network = build_text_classifier(
        vocab_size=len(table), n_labels=len(labels), embedding_dim=int(m["embedding_dim"]),
        lstm_width=int(m["lstm_width"]), lstm_depth=int(m["lstm_depth"]), bidirectional=bool(m["bidirectional"]),
        dropout=float(m["dropout"]), recurrent_dropout=float(m["recurrent_dropout"]), pooling=m["pooling"],
        attention_width=int(m["attention_width"]), hidden_width=int(m["hidden_width"]),
    )
    network.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x_train, x_dev = encode(train_docs), encode(list(nlp.tokenizer.pipe(dev_x)))
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=epochs, restore_best_weights=True, mode="max")
    history = network.fit(
        x_train, label_ids(train_gold), validation_data=(x_dev, label_ids(dev_gold)), epochs=epochs,
        batch_size=32, callbacks=[stop], verbose=2,
    )
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    preds = []
    for i in range(0, len(test_x), 256):
        x = encode(list(nlp.tokenizer.pipe(test_x[i : i + 256])))
        preds.extend(labels[k] for k in numpy.asarray(network.predict_on_batch(x)).argmax(-1))
    seconds = time.perf_counter() - start
    return {
        "train_seconds": train_seconds,
        "stopped_by_time_budget": False,
        "accuracy": accuracy(preds, test_gold),
        "macro_f": float(f1_score(test_gold, preds, average="macro")),
        "docs_per_second": len(test_x) / seconds,
        "n_test": len(test_x),
        "budget": {"epochs": epochs, "batch_size": 32, "best_epoch": int(numpy.argmax(history.history["val_accuracy"])) + 1},
    }


SYSTEM_NAMES = {
    "lstm": "lstm_textcat (spacy train)",
    "bow": "spaCy TextCatBOW.v3 (uni+bigrams)",
    "ensemble": "spaCy TextCatEnsemble.v2",
    "keras": "raw Keras, same network, model.fit",
}


def budget_text(key: str, r: dict) -> str:
    b = r.get("budget", {})
    if key == "keras":
        return f"{b.get('epochs')} epochs (best dev: {b.get('best_epoch')})"
    steps = b.get("training.max_steps")
    text = f"{steps} steps"
    if r.get("stopped_by_time_budget"):
        text += ", stopped by the time budget"
    return text


def markdown(dataset: str, results: Dict[str, dict], header: bool = True) -> str:
    lines = []
    if header:
        lines += ["| dataset | system | test acc | macro F | train time | docs/s (predict) | budget |", "|---|---|---|---|---|---|---|"]
    for key, r in results.items():
        lines.append(
            f"| {dataset} | {SYSTEM_NAMES.get(key, key)} | {r['accuracy']:.3f} | {r['macro_f']:.3f} | "
            f"{r['train_seconds']:.0f} s | {r['docs_per_second']:.0f} | {budget_text(key, r)} |"
        )
    return "\n".join(lines) + "\n"


def rebuild_summary(folder: Path) -> None:
    parts = []
    for path in sorted(folder.glob("benchmark_*.json")):
        data = json.loads(path.read_text())
        parts.append(markdown(data["dataset"], data["results"], header=not parts))
    if parts:
        text = (
            "# Benchmark: lstm_textcat vs spaCy built-ins vs raw Keras\n\n"
            "Same deterministic splits (scripts/make_corpus.py, 80/10/10, seed 0); test set scored once.\n"
            "Regenerate: `spacy project run benchmark . --vars.dataset NAME`.\n\n" + "".join(parts)
        )
        (folder / "benchmark.md").write_text(text, encoding="utf8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--config", type=Path, default=Path("configs/textcat_lstm.cfg"))
    parser.add_argument("--systems", default="lstm,bow,ensemble,keras")
    parser.add_argument("--lstm-steps", type=int, default=600)
    parser.add_argument("--bow-steps", type=int, default=2000)
    parser.add_argument("--ensemble-steps", type=int, default=3000)
    parser.add_argument("--ensemble-minutes", type=float, default=6)
    parser.add_argument("--keras-epochs", type=int, default=3)
    parser.add_argument("--eval-frequency", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--workdir", type=Path, default=None, help="where to keep the trained models (default: a temp folder)")
    args = parser.parse_args()

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEM_NAMES)
    if unknown:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEM_NAMES)}")
    for split in ("train", "dev", "test"):
        if not (args.corpus / f"{split}.spacy").is_file():
            raise SystemExit(f"{args.corpus / (split + '.spacy')} not found: run `spacy project run corpus` first")
    dataset = args.corpus.name
    results: Dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        common = {"system.seed": args.seed, "training.eval_frequency": args.eval_frequency}
        for key in systems:
            print(f"\n===== {SYSTEM_NAMES[key]} =====", flush=True)
            if key == "lstm":
                overrides = {**common, "training.max_steps": args.lstm_steps, "training.optimizer.learn_rate.total_steps": args.lstm_steps}
                results[key] = run_spacy_system(key, args.config, args.corpus, workdir, overrides, args.gpu_id)
            elif key == "bow":
                config = builtin_config(workdir / "bow.cfg", "efficiency", 2, args.seed)
                overrides = {**common, "training.max_steps": args.bow_steps}
                results[key] = run_spacy_system(key, config, args.corpus, workdir, overrides, args.gpu_id)
            elif key == "ensemble":
                config = builtin_config(workdir / "ensemble.cfg", "accuracy", 1, args.seed)
                overrides = {**common, "training.max_steps": args.ensemble_steps}
                results[key] = run_spacy_system(
                    key, config, args.corpus, workdir, overrides, args.gpu_id, timeout=args.ensemble_minutes * 60
                )
            else:
                results[key] = keras_baseline(args.config, args.corpus, args.keras_epochs, args.seed)
            r = results[key]
            print(f"{SYSTEM_NAMES[key]}: acc {r['accuracy']:.3f}, macro F {r['macro_f']:.3f}, "
                  f"train {r['train_seconds']:.0f} s, {r['docs_per_second']:.0f} docs/s", flush=True)
    table = markdown(dataset, results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(f"# Benchmark on {args.corpus}\n\n{table}", encoding="utf8")
    args.output.with_suffix(".json").write_text(
        json.dumps({"dataset": dataset, "corpus": str(args.corpus), "results": results}, indent=2) + "\n", encoding="utf8"
    )
    rebuild_summary(args.output.parent)
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
