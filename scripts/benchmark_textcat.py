"""The accuracy benchmark: lstm_textcat against spaCy's own classifiers and raw Keras, every
system on the same splits, mean and spread over several random splits.

    python scripts/benchmark_textcat.py DATASET OUTPUT_DIR [--splits 3] [--limit N]
        [--systems lstm,lstm_pure,bow1,bow2,ensemble,keras,keras_pure] [--ensemble-minutes 10]
        [--max-minutes M] [--config configs/textcat_lstm.cfg] [--readme README.md]
        [--imdb-dir D | --jsonl F | --csv F] [--text-field text] [--label-field label]

For each split seed 0..N-1, scripts/make_corpus.py writes a stratified 80/10/10 split of
DATASET (mr, cornell, bbc, imdb, jsonl, csv; `--limit` takes a stratified slice first; imdb
keeps its official test set). Every system trains on train, selects its model on dev, and is
scored once on test:

* lstm: `spacy train` with the lstm_textcat config as shipped.
* lstm_pure: the same config with `bow_ngram_size = 0`: the LSTM alone.
* bow1 / bow2: spaCy's `TextCatBOW.v3` from spaCy's efficiency quickstart (`spacy init config
  -p textcat -o efficiency`), unigrams as shipped / with bigrams.
* ensemble: spaCy's `TextCatEnsemble.v2` from the accuracy quickstart, without pretrained
  vectors (every system learns from the training split alone). Slow on CPU: it trains to
  convergence or for `--ensemble-minutes`, then its best checkpoint is scored.
* keras / keras_pure: exactly the network of the lstm / lstm_pure row, trained with plain
  `model.fit` (scripts/keras_baseline.py).
* lstm_pretrained: configs/textcat_lstm_pretrained.cfg, initialised from a language model
  (configs/pretrain_lm.cfg) trained on the split's training texts (unlabelled use; never dev
  or test) plus `--unlabelled` text, `--pretrain-steps` steps.
* `--max-minutes` stops any system after that much training (a budget for large corpora
  such as IMDB; the table says when a budget ended a run).

With a multilabel config (`--config configs/textcat_lstm_multilabel.cfg`) the spaCy systems are
the same quickstarts with `textcat_multilabel`, every system is ranked by macro F at its own
threshold (0.5 for all) beside macro AUC, the corpus is named NAME-multilabel, and the raw Keras
rows are left out (the baseline script trains exclusive classes only).

With `--workdir`, each finished run's scores are also kept beside its model
(WORKDIR/NAME/<system>_s<split>.json); `--resume` reuses them, so a benchmark of several hours
that stopped (a crash, a missing corpus, a reboot) goes on from the first run it lacks.

Writes OUTPUT_DIR/benchmark_<name>.json (every split) and .md (mean ± std), rebuilds
OUTPUT_DIR/benchmark.md from all benchmark_*.json, and with `--readme` replaces, in the table
between `<!-- benchmark:start -->` and `<!-- benchmark:end -->` in the README, the rows of the
systems and corpora that OUTPUT_DIR holds (the other rows stay: split k is the same in every run).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy

from benchmark_tables import SYSTEMS, rebuild_summary, summarise, system_name, table, update_readme
from evaluate import evaluate
from keras_baseline import train_keras_baseline

HERE = Path(__file__).resolve().parent
def make_split(dataset: str, out: Path, seed: int, limit: int, extra: List[str]) -> Path:
    if not (out / "test.spacy").is_file():
        cmd = [sys.executable, str(HERE / "make_corpus.py"), dataset, str(out), "--seed", str(seed), *extra]
        if limit:
            cmd += ["--limit", str(limit)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def spacy_train(config: Path, corpus, out: Path, overrides: Dict[str, object], max_seconds: Optional[float]) -> dict:
    """`spacy train` in a subprocess; stopped after max_seconds (its model-best is kept).
    corpus: a folder with train.spacy and dev.spacy, or {"train": path, "dev": path}."""
    paths = corpus if isinstance(corpus, dict) else {split: corpus / f"{split}.spacy" for split in ("train", "dev")}
    cmd = [
        sys.executable, "-m", "spacy", "train", str(config), "--output", str(out),
        "--paths.train", str(paths["train"]), "--paths.dev", str(paths["dev"]),
    ]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", ANSI_COLORS_DISABLED="1")
    log = open(out.with_suffix(".log"), "w")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    stopped = False
    try:
        proc.wait(timeout=max_seconds)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
        stopped = True
    seconds = time.perf_counter() - start
    log.close()
    if proc.returncode and not stopped:
        raise SystemExit(f"spacy train failed for {config}: see {log.name}")
    if not (out / "model-best").is_dir():
        raise SystemExit(f"no model-best in {out}: stopped before the first evaluation? see {log.name}")
    meta = json.loads((out / "model-best" / "meta.json").read_text())
    return {"train_seconds": seconds, "stopped_by_budget": stopped, "dev_score": meta.get("performance", {}).get("cats_score")}



def builtin_config(path: Path, optimize: str, ngram_size: int, multilabel: bool = False) -> Path:
    """spaCy's quickstart textcat (or textcat_multilabel) config (`spacy init config`), without
    pretrained vectors."""
    from spacy.cli.init_config import init_config

    pipe = "textcat_multilabel" if multilabel else "textcat"
    config = init_config(lang="en", pipeline=[pipe], optimize=optimize, gpu=False, pretraining=False, silent=True)
    model = config["components"][pipe]["model"]
    bow = model if model.get("@architectures", "").startswith("spacy.TextCatBOW") else model.get("linear_model", {})
    if bow:
        bow["ngram_size"] = ngram_size
    config["paths"]["vectors"] = None
    config["initialize"]["vectors"] = None
    embed = config["components"].get("tok2vec", {}).get("model", {}).get("embed", {})
    if "include_static_vectors" in embed:
        embed["include_static_vectors"] = False
    config.to_disk(path)
    return path


def component_of(config: Path) -> str:
    from spacy.util import load_config

    return load_config(config)["nlp"]["pipeline"][-1]


def is_multilabel(config: Path) -> bool:
    """Whether the config trains lstm_textcat_multilabel (any number of labels per doc)."""
    from spacy.util import load_config

    cfg = load_config(config)
    return cfg["components"][cfg["nlp"]["pipeline"][-1]].get("factory") == "lstm_textcat_multilabel"


def run_system(key: str, args, corpus: Path, work: Path, seed: int) -> dict:
    budget = args.max_minutes * 60 if args.max_minutes else None
    pure = {f"components.{component_of(args.config)}.model.bow_ngram_size": 0}
    if key == "lstm_pretrained":
        lm = pretrain(args, corpus, work / f"lm_s{seed}", seed)
        config = args.config.parent / "textcat_lstm_pretrained.cfg"
        out = work / f"{key}_s{seed}"
        info = spacy_train(config, corpus, out, {"system.seed": seed, "paths.language_model": lm}, budget)
        info["train_seconds"] += lm_seconds(lm)
        return {**info, **_scores(out, corpus)}
    if key in ("keras", "keras_pure"):
        result = train_keras_baseline(args.config, corpus, overrides=pure if key == "keras_pure" else None, seed=seed, max_seconds=budget)
        result["stopped_by_budget"] = budget is not None and result["train_seconds"] >= budget
        return result
    overrides: Dict[str, object] = {"system.seed": seed}
    if key in ("lstm", "lstm_pure"):
        config = args.config
        if key == "lstm_pure":
            overrides.update(pure)
    elif key in ("bow1", "bow2"):
        config = builtin_config(work / f"{key}.cfg", "efficiency", int(key[-1]), args.multilabel)
    else:
        config = builtin_config(work / "ensemble.cfg", "accuracy", 1, args.multilabel)
        budget = min(budget or numpy.inf, args.ensemble_minutes * 60)
    out = work / f"{key}_s{seed}"
    info = spacy_train(config, corpus, out, overrides, budget)
    return {**info, **_scores(out, corpus)}


def _scores(out: Path, corpus: Path) -> dict:
    scores = evaluate(str(out / "model-best"), corpus / "test.spacy")
    return {
        "accuracy": scores["accuracy"],
        "macro_f": scores["cats_macro_f"],
        "macro_auc": scores["cats_macro_auc"],
        "docs_per_second": scores["docs_per_second"],
        "n_test": scores["n_docs"],
    }


def pretrain(args, corpus: Path, out: Path, seed: int) -> Path:
    """A language model (configs/pretrain_lm.cfg) on the split's training texts and
    `--unlabelled` text; returns its model-best. Its training time is kept beside it."""
    text = out.with_name(out.name + "_text")
    cmd = [sys.executable, str(HERE / "unlabelled_text.py"), str(text), "--corpora", str(corpus), "--seed", str(seed)]
    if args.unlabelled:
        cmd += ["--extra", str(args.unlabelled)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    overrides = {"system.seed": seed}
    if args.pretrain_steps:
        overrides["training.max_steps"] = args.pretrain_steps
    lm_config = args.config.parent / "pretrain_lm.cfg"
    lm_text = {"train": text / "train.jsonl", "dev": text / "dev.jsonl"}
    info = spacy_train(lm_config, lm_text, out, overrides, None)
    (out / "seconds.txt").write_text(str(info["train_seconds"]))
    return out / "model-best"


def lm_seconds(model_best: Path) -> float:
    return float((model_best.parent / "seconds.txt").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--name", default=None, help="the corpus name in the tables (default: DATASET, or the file name for jsonl and csv; -N with --limit; -multilabel with a multilabel config)")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--systems", default="lstm,lstm_pure,bow1,bow2,ensemble,keras,keras_pure")
    parser.add_argument("--config", type=Path, default=HERE.parent / "configs" / "textcat_lstm.cfg")
    parser.add_argument("--ensemble-minutes", type=float, default=10.0)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="training budget per system (0 = none)")
    parser.add_argument("--imdb-dir", default=None, help="dataset imdb: the aclImdb folder")
    parser.add_argument("--jsonl", default=None, help="dataset jsonl: the file")
    parser.add_argument("--csv", default=None, help="dataset csv: the file")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--label-field", default="label")
    parser.add_argument("--unlabelled", type=Path, default=None, help="lstm_pretrained: more unlabelled text (txt, jsonl, folder)")
    parser.add_argument("--pretrain-steps", type=int, default=0, help="lstm_pretrained: language-model steps (0: pretrain_lm.cfg's)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the splits and the models here (a folder per corpus; cached splits are reused)")
    parser.add_argument("--resume", action="store_true", help="with --workdir: reuse the scores of runs an earlier call finished")
    parser.add_argument("--readme", type=Path, default=None)
    args = parser.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown or not systems:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    if args.splits < 1:
        parser.error("--splits must be >= 1")
    if args.resume and not args.workdir:
        parser.error("--resume needs --workdir (the folder where the earlier call kept its runs)")
    args.multilabel = is_multilabel(args.config)
    if args.multilabel and {"keras", "keras_pure"} & set(systems):
        print("multilabel config: the raw Keras rows are left out (scripts/keras_baseline.py trains exclusive classes only)")
        systems = [key for key in systems if key not in ("keras", "keras_pure")]
    if args.multilabel and "lstm_pretrained" in systems:
        parser.error("lstm_pretrained trains configs/textcat_lstm_pretrained.cfg, exclusive classes only: drop it from --systems")
    user_input = {"imdb": args.imdb_dir, "jsonl": args.jsonl, "csv": args.csv}.get(args.dataset)
    base = Path(user_input).name.split(".")[0] if args.dataset in ("jsonl", "csv") else args.dataset
    default_name = (f"{base}-{args.limit}" if args.limit else base) + ("-multilabel" if args.multilabel else "")
    name = args.name or default_name
    extra = ["--input", user_input] if user_input else []
    if args.dataset in ("jsonl", "csv"):
        extra += ["--text-field", args.text_field, "--label-field", args.label_field]
    runs: Dict[str, List[dict]] = {key: [] for key in systems}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir / name if args.workdir else Path(tmp)  # splits are cached per corpus
        work.mkdir(parents=True, exist_ok=True)
        for seed in range(args.splits):
            corpus = make_split(args.dataset, work / f"corpus_s{seed}", seed, args.limit, extra)
            for key in systems:
                print(f"===== split {seed}: {system_name(key, args.multilabel)}", flush=True)
                saved = work / f"{key}_s{seed}.json"
                if args.resume and saved.is_file():
                    result = json.loads(saved.read_text())
                    print("      (scores of an earlier call, --resume)")
                else:
                    result = run_system(key, args, corpus, work, seed)
                    saved.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
                runs[key].append(result)
                print(f"      accuracy {result['accuracy']:.4f}, {result['train_seconds']:.0f} s", flush=True)
        from spacy.tokens import DocBin

        n_docs = sum(len(DocBin().from_disk(work / "corpus_s0" / f"{s}.spacy")) for s in ("train", "dev", "test"))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    previous = args.output_dir / f"benchmark_{name}.json"
    if previous.is_file():  # systems run earlier stay in the table: split k is the same split in every run
        old = json.loads(previous.read_text())
        runs = {**{k: v for k, v in old["runs"].items() if k not in runs}, **runs}
    runs = {key: runs[key] for key in SYSTEMS if key in runs}
    summary = {key: summarise(r) for key, r in runs.items()}
    n_splits = max(s["splits"] for s in summary.values())
    record = {"name": name, "dataset": args.dataset, "limit": args.limit, "n_docs": n_docs, "splits": n_splits,
              "config": str(args.config), "multilabel": args.multilabel, "summary": summary, "runs": runs}
    (args.output_dir / f"benchmark_{name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf8")
    (args.output_dir / f"benchmark_{name}.md").write_text(table(name, summary, multilabel=args.multilabel), encoding="utf8")
    rebuild_summary(args.output_dir)
    if args.readme:
        update_readme(args.readme, args.output_dir)
    print("\n" + table(name, summary, multilabel=args.multilabel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
