"""Which checkpoint would another selection rule keep? Record every evaluation, replay offline
(a benchmark, not a test).

    python benchmarks/guard_replay.py record CORPUS OUT [--config configs/textcat_lstm.cfg] [--seed 0]
    python benchmarks/guard_replay.py replay OUT [OUT ...] [--z 1,1.645,2] [--log-loss-z 1]

`record` trains the config on CORPUS (train.spacy, dev.spacy, test.spacy: a split that
scripts/benchmark_textcat.py --workdir cached) with a `before_update` callback that saves, at
every evaluation, the dev and test scores of the component and of its n-gram path
(OUT/evals/eval_<step>.npz). Nothing else changes: the training log is the same, line for line,
as without the callback. The accuracy benchmark trains split k with seed k: pass `--seed k` to
record the run that its table reports.

`replay` ranks the recorded evaluations by the run's selection score (`cats_guarded_accuracy`,
or `cats_guarded_macro_f` for the multilabel config) at each GUARD_Z (textcat/selection.py, so
the rule is the shipped one; --log-loss-z sets its LOG_LOSS_Z), keeps the best as spaCy does (a
later equal score wins), and prints its test score beside the n-gram path's and the best test
score of any checkpoint (what the LSTM could add if dev could find it): accuracy for exclusive
classes, macro F at the component's threshold for a multilabel config.
It replays the evaluations that the recorded run reached: patience counts from the best score,
so a rule that prefers an earlier checkpoint than the recorded run's would have stopped sooner,
never later.
"""
import argparse
import subprocess
import sys
from pathlib import Path

import numpy
from spacy.tokens import DocBin
from spacy.util import load_config, registry

from spacy_lstm.textcat.selection import LOG_LOSS_Z, guarded_scores

ROOT = Path(__file__).resolve().parents[1]


@registry.callbacks("spacy_lstm_bench.evaluation_recorder.v1")
def evaluation_recorder(dev_path: str, test_path: str, out_dir: str, eval_frequency: int):
    """A before_update callback: before step s + 1, the model is the one spaCy evaluated at
    step s; save its dev and test scores when s is an evaluation step."""
    from spacy_lstm.textcat.model import ngram_path_scores

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = {}

    def record(nlp, args):
        step = args["step"] - 1
        if step < 0 or step % eval_frequency:
            return
        pipe = nlp.get_pipe(nlp.pipe_names[-1])
        if not parts:
            for part, path in (("dev", dev_path), ("test", test_path)):
                refs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
                parts[part] = [nlp.make_doc(doc.text) for doc in refs]
                gold = numpy.array([[doc.cats.get(label, 0.0) for label in pipe.labels] for doc in refs])
                numpy.save(out / f"{part}_gold.npy", gold)
        arrays = {}
        for part, docs in parts.items():
            arrays[f"{part}_scores"] = pipe.model.predict(docs)
            arrays[f"{part}_ngram"] = ngram_path_scores(pipe.model, docs)
        numpy.savez(out / f"eval_{step:06d}.npz", **arrays)

    return record


def record(args) -> None:
    config = load_config(args.config)
    config["training"]["before_update"] = {
        "@callbacks": "spacy_lstm_bench.evaluation_recorder.v1",
        "dev_path": str(args.corpus / "dev.spacy"),
        "test_path": str(args.corpus / "test.spacy"),
        "out_dir": str(args.out / "evals"),
        "eval_frequency": config["training"]["eval_frequency"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    config.to_disk(args.out / "config.cfg")
    cmd = [sys.executable, "-m", "spacy", "train", str(args.out / "config.cfg"), "--code", __file__,
           "--paths.train", str(args.corpus / "train.spacy"), "--paths.dev", str(args.corpus / "dev.spacy"),
           "--system.seed", str(args.seed), "-o", str(args.out / "model")]
    with (args.out / "train.log").open("w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    print(f"{args.out}: {len(list((args.out / 'evals').glob('eval_*.npz')))} evaluations recorded")


def run_settings(out: Path) -> tuple:
    """(exclusive classes?, threshold, the score model-best is chosen by) of the run in OUT."""
    config = load_config(out / "config.cfg")
    component = config["components"][config["nlp"]["pipeline"][-1]]
    exclusive = component["model"].get("exclusive_classes", True)
    weights = config["training"]["score_weights"]
    selected_by = max((key for key in weights if weights[key]), key=lambda key: weights[key])
    return exclusive, component.get("threshold", 0.0 if exclusive else 0.5), selected_by


def test_score(scores: numpy.ndarray, gold: numpy.ndarray, exclusive: bool, threshold: float) -> float:
    """Accuracy (exclusive classes) or macro F at the threshold (multilabel)."""
    from sklearn.metrics import f1_score

    if exclusive:
        return float((scores.argmax(1) == gold.argmax(1)).mean())
    return float(f1_score(gold >= 0.5, scores >= threshold, average="macro", zero_division=0))


def replay_run(out: Path, zs, log_loss_z: float = LOG_LOSS_Z) -> dict:
    """{"ngram": test score of the n-gram path, "best": the best checkpoint's on test,
    z: (step, test score) of the checkpoint each rule keeps}."""
    evals = out / "evals"
    exclusive, threshold, selected_by = run_settings(out)
    gold = {part: numpy.load(evals / f"{part}_gold.npy") for part in ("dev", "test")}
    files = sorted(evals.glob("eval_*.npz"))
    if not files:
        raise SystemExit(f"no recorded evaluations in {evals}: run `guard_replay.py record` first")
    recorded = [numpy.load(path) for path in files]
    test = [test_score(r["test_scores"], gold["test"], exclusive, threshold) for r in recorded]
    result = {"ngram": test_score(recorded[0]["test_ngram"], gold["test"], exclusive, threshold), "best": max(test)}
    for z in zs:
        scores = [
            guarded_scores(r["dev_scores"], r["dev_ngram"], gold["dev"], numpy.ones_like(gold["dev"]),
                           exclusive=exclusive, threshold=threshold, z=z, log_loss_z=log_loss_z)[selected_by]
            for r in recorded
        ]
        best = max(scores)
        keep = max(i for i, score in enumerate(scores) if score == best)  # a later tie wins
        result[z] = (int(files[keep].stem.split("_")[1]), test[keep])
    return result


def replay(args) -> None:
    zs = [float(z) for z in args.z.split(",")]
    gains = {z: [] for z in zs}
    for out in args.runs:
        r = replay_run(out, zs, args.log_loss_z)
        kept = "  ".join(f"z={z}: step {r[z][0]} {r[z][1]:.4f}" for z in zs)
        print(f"{out}: n-gram path {r['ngram']:.4f}, best checkpoint on test {r['best']:.4f} | {kept}")
        for z in zs:
            gains[z].append(r[z][1] - r["ngram"])
    for z in zs:
        g = numpy.asarray(gains[z]) * 100
        print(f"z={z}: {g.mean():+.2f} points against the n-gram path on average; better in {(g > 0).sum()} runs, "
              f"the same in {(g == 0).sum()}, worse in {(g < 0).sum()}; worst {g.min():+.2f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record")
    rec.add_argument("corpus", type=Path)
    rec.add_argument("out", type=Path)
    rec.add_argument("--config", type=Path, default=ROOT / "configs" / "textcat_lstm.cfg")
    rec.add_argument("--seed", type=int, default=0)
    rep = commands.add_parser("replay")
    rep.add_argument("runs", nargs="+", type=Path)
    rep.add_argument("--z", default="1,1.645,2")
    rep.add_argument("--log-loss-z", type=float, default=LOG_LOSS_Z)
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args)
    else:
        replay(args)


if __name__ == "__main__":
    main()
