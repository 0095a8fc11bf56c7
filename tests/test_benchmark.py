"""The accuracy benchmark (scripts/benchmark_textcat.py, benchmark_tables.py): every system on the same splits,
and a raw-Keras baseline that is exactly the lstm_textcat network."""
import json
import shutil
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import load_config

from test_textcat import exclusive_examples, review_texts

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

TINY = {"lstm_width": 8, "embedding_dim": 8, "max_vocab": 200, "bow_length": 1025}


def tiny_config(tmp_path: Path, name: str = "textcat_lstm") -> Path:
    """A shipped config with a tiny network and a short patience."""
    config = load_config(ROOT / "configs" / f"{name}.cfg")
    config["components"][config["nlp"]["pipeline"][-1]]["model"].update(TINY)
    config["training"].update({"patience": 20, "eval_frequency": 10})
    path = tmp_path / f"tiny_{name}.cfg"
    config.to_disk(path)
    return path


def layers_and_size(network):
    return [(type(layer).__name__, layer.name) for layer in network.layers], network.count_params()


@pytest.mark.parametrize("ngram_size", [2, 0])
def test_raw_keras_baseline_is_the_same_network(tmp_path, ngram_size):
    from keras_baseline import build_baseline_network, load_model_settings

    from spacy_lstm.model_attrs import get_shim

    config = tiny_config(tmp_path)
    overrides = {"components.lstm_textcat.model.bow_ngram_size": ngram_size}
    cfg, learn_rate = load_model_settings(config, overrides)
    assert learn_rate == load_config(config)["training"]["optimizer"]["learn_rate"]["schedule"]["rate"]  # after the dry first step
    nlp = spacy.blank("en")
    component = load_config(config, overrides=overrides)["components"]["lstm_textcat"]
    textcat = nlp.add_pipe("lstm_textcat", config={"model": component["model"]})
    nlp.initialize(lambda: exclusive_examples(nlp, review_texts(20)))
    ours = get_shim(textcat.model).network
    baseline = build_baseline_network(cfg, textcat.model.get_dim("nV"), len(textcat.labels))
    assert layers_and_size(baseline) == layers_and_size(ours)
    assert ("Embedding", "bow_weights") in layers_and_size(ours)[0] or ngram_size == 0
    if ngram_size:  # the one difference: how the n-gram weights are learned
        assert baseline.get_layer("bow_weights").trainable and not ours.get_layer("bow_weights").trainable


def test_summary_is_mean_and_spread_over_splits():
    from benchmark_tables import summarise, table

    runs = [
        {"accuracy": 0.8, "macro_f": 0.7, "train_seconds": 10, "docs_per_second": 100},
        {"accuracy": 0.9, "macro_f": 0.9, "train_seconds": 30, "docs_per_second": 300, "stopped_by_budget": True},
    ]
    summary = summarise(runs)
    assert summary["accuracy"] == pytest.approx(0.85) and summary["accuracy_std"] == pytest.approx(0.0707, abs=1e-4)
    assert summary["splits"] == 2 and summary["stopped_by_budget"]
    row = table("demo", {"lstm": summary}).splitlines()[-1]
    assert "0.850 ± 0.071" in row and "(budget)" in row
    # a system run on fewer of the same splits says so in its row
    rows = table("demo", {"lstm": summary, "keras": summarise(runs[:1])}).splitlines()
    assert "(1 split only)" in rows[-1] and "only" not in rows[-2]



def test_readme_keeps_the_rows_that_were_not_run_again(tmp_path):
    """Benchmarking one corpus, or one system of it, in a fresh checkout replaces those rows and
    no others; the best score of each corpus is bold whichever run it came from."""
    from benchmark_tables import README_END, README_START, SYSTEMS, summarise, update_readme

    runs = [{"accuracy": 0.9, "macro_f": 0.8, "macro_auc": 0.95, "train_seconds": 5, "docs_per_second": 50}]
    for name, multilabel in (("bbc", False), ("tweets3-multilabel", True)):
        record = {"name": name, "n_docs": 9, "splits": 1, "multilabel": multilabel, "summary": {"lstm": summarise(runs)}}
        (tmp_path / f"benchmark_{name}.json").write_text(json.dumps(record))
    header = "| corpus | system | {} | train time | predict docs/s |\n|---|---|---|---|---|---|\n"
    readme = tmp_path / "README.md"
    readme.write_text(
        f"intro\n{README_START}\nText.\n\n{header.format('test accuracy | macro F')}"
        "| amazon (3 docs, 3 splits) | old amazon row | 0.7 | 0.7 | 1 s | 1 |\n"
        f"| bbc (9 docs, 1 split) | {SYSTEMS['lstm']} | **0.950** | 0.5 | 1 s | 1 |\n"
        f"| bbc (9 docs, 1 split) | {SYSTEMS['bow1']} | 0.920 | 0.5 | 1 s | 1 |\n\n"
        f"Multilabel: text.\n\n{header.format('macro F | macro AUC')}"
        f"| tweets3-multilabel (4 docs, 3 splits) | old multilabel row | 0.6 | 0.7 | 1 s | 1 |\n{README_END}\nafter\n"
    )
    update_readme(readme, tmp_path)
    text = readme.read_text()
    exclusive, multilabel = text.split("Multilabel:")
    bbc = [line for line in exclusive.splitlines() if line.startswith("| bbc")]
    assert bbc == [  # lstm run again (0.900), bow1 kept (0.920, now the best), in the SYSTEMS order
        f"| bbc (9 docs, 1 split) | {SYSTEMS['lstm']} | 0.900 | 0.800 | 5 s | 50 |",
        f"| bbc (9 docs, 1 split) | {SYSTEMS['bow1']} | **0.920** | 0.5 | 1 s | 1 |",
    ]
    assert exclusive.index("| amazon (3 docs, 3 splits) | old amazon row | **0.7** |") < exclusive.index("| bbc")
    assert "old multilabel row" in multilabel and "| tweets3-multilabel (9 docs, 1 split) | lstm_textcat_multilabel" in multilabel
    assert text.startswith("intro\n") and text.endswith(f"{README_END}\nafter\n") and text.count("| corpus |") == 2


def test_benchmark_runs_end_to_end(tmp_path):
    data = tmp_path / "reviews.jsonl"
    with data.open("w") as f:
        for text, label in review_texts(60, seed=3):
            f.write(json.dumps({"text": text, "label": label}) + "\n")
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- benchmark:start -->\nold\n<!-- benchmark:end -->\nafter\n")
    out = tmp_path / "metrics"
    from benchmark_textcat import main

    # The script's main() runs in this process (its trainings are `spacy train` subprocesses
    # all the same): a driver process would only add a TensorFlow start.
    args = [
        "jsonl", str(out), "--jsonl", str(data),
        "--splits", "1", "--config", str(tiny_config(tmp_path)), "--ensemble-minutes", "0.2", "--readme", str(readme),
        # one of each kind of run (the _pure and bow1 systems differ from these by an override)
        "--systems", "lstm,bow2,ensemble,keras",
    ]
    assert main(args) == 0
    record = json.loads((out / "benchmark_reviews.json").read_text())
    assert set(record["summary"]) == {"lstm", "bow2", "ensemble", "keras"}
    for system, s in record["summary"].items():
        for field in ("accuracy", "macro_f", "train_seconds", "docs_per_second"):
            assert isinstance(s[field], float) and s[field] >= 0, (system, field)
        assert 0.0 <= s["accuracy"] <= 1.0
    rows = [line for line in (out / "benchmark.md").read_text().splitlines() if line.startswith("| reviews")]
    assert len(rows) == 4 and all(cell.strip() for row in rows for cell in row.strip("|").split("|"))
    text = readme.read_text()
    assert "old" not in text and text.count("| reviews") == 4 and text.endswith("after\n")


def test_resume_reuses_the_runs_an_earlier_call_finished(tmp_path):
    data = tmp_path / "reviews.jsonl"
    with data.open("w") as f:
        for text, label in review_texts(40, seed=5):
            f.write(json.dumps({"text": text, "label": label}) + "\n")
    from benchmark_textcat import main

    args = ["jsonl", str(tmp_path / "metrics"), "--jsonl", str(data), "--splits", "1", "--systems", "bow1",
            "--workdir", str(tmp_path / "work")]
    assert main(args) == 0
    first = json.loads((tmp_path / "metrics" / "benchmark_reviews.json").read_text())["runs"]["bow1"]
    model = tmp_path / "work" / "reviews" / "bow1_s0"
    shutil.rmtree(model)  # a resumed call does not train again
    assert main(args + ["--resume"]) == 0
    assert not model.exists()
    assert json.loads((tmp_path / "metrics" / "benchmark_reviews.json").read_text())["runs"]["bow1"] == first
    with pytest.raises(SystemExit):
        main(args[:-2] + ["--resume"])  # nothing to resume from without a workdir



def test_benchmark_runs_on_an_imdb_tree_with_its_own_test_set(tmp_path):
    """IMDB as a user brings it (aclImdb/{train,test}/{pos,neg}/*.txt): every split is scored
    on the official test reviews, never on a slice of train, within a per-system budget."""
    root = tmp_path / "aclImdb"
    for part, seed in (("train", 1), ("test", 2)):
        for i, (text, label) in enumerate(review_texts(40, seed=seed)):
            folder = root / part / label
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(f"{part}doc {text}", encoding="utf8")
    from benchmark_textcat import main

    args = ["imdb", str(tmp_path / "metrics"), "--imdb-dir", str(root), "--splits", "1", "--systems", "bow1",
            "--max-minutes", "10", "--workdir", str(tmp_path / "work")]
    assert main(args) == 0
    record = json.loads((tmp_path / "metrics" / "benchmark_imdb.json").read_text())
    assert record["n_docs"] == 80 and 0.0 <= record["summary"]["bow1"]["accuracy"] <= 1.0
    corpus = tmp_path / "work" / "imdb" / "corpus_s0"
    texts = {part: [doc.text for doc in DocBin().from_disk(corpus / f"{part}.spacy").get_docs(spacy.blank("en").vocab)]
             for part in ("train", "dev", "test")}
    assert len(texts["test"]) == 40 and all(text.startswith("testdoc") for text in texts["test"])
    assert all(text.startswith("traindoc") for text in texts["train"] + texts["dev"])


def test_multilabel_benchmark_ranks_by_macro_f_in_its_own_table(tmp_path):
    data = tmp_path / "reviews.jsonl"
    with data.open("w") as f:  # some docs carry two labels
        for i, (text, label) in enumerate(review_texts(60, seed=4)):
            f.write(json.dumps({"text": text, "label": [label, "other"] if i % 3 == 0 else [label]}) + "\n")
    out = tmp_path / "metrics"
    from benchmark_textcat import main

    args = [
        "jsonl", str(out), "--jsonl", str(data), "--splits", "1",
        "--config", str(tiny_config(tmp_path, "textcat_lstm_multilabel")), "--systems", "lstm,bow1,keras",
    ]
    assert main(args) == 0
    record = json.loads((out / "benchmark_reviews-multilabel.json").read_text())
    assert record["multilabel"] and set(record["summary"]) == {"lstm", "bow1"}  # raw Keras: exclusive only
    for s in record["summary"].values():
        assert 0.0 <= s["macro_f"] <= 1.0 and 0.0 <= s["macro_auc"] <= 1.0
    text = (out / "benchmark.md").read_text()
    assert "Multilabel" in text and "| corpus | system | macro F | macro AUC |" in text
    assert text.count("| reviews-multilabel") == 2 and "lstm_textcat_multilabel (configs/" in text


def test_learning_curve_runs_and_draws_a_png(tmp_path):
    from test_textcat_pretrained import train_language_model
    from test_training import write_docbins

    write_docbins(tmp_path, multilabel=False)
    (tmp_path / "test.spacy").write_bytes((tmp_path / "dev.spacy").read_bytes())
    lm = tmp_path / "lm"
    train_language_model(lm, steps=2)
    png = tmp_path / "curve.png"
    overrides = "training.patience=10,training.eval_frequency=5,components.lstm_textcat.model.lstm_width=8,components.lstm_textcat.model.embedding_dim=8"
    from learning_curve import main

    # in this process, as the benchmark above: each system still trains in a `spacy train` subprocess
    args = [str(tmp_path), str(png), "--language-model", str(lm), "--sizes", "12", "--seeds", "1", "--overrides", overrides]
    assert main(args) == 0
    from PIL import Image

    with Image.open(png) as image:
        assert image.size[0] > 400 and image.size[1] > 300
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert len(colours) > 20  # lines, markers and text, not a blank canvas
    runs = json.loads(png.with_suffix(".json").read_text())["runs"]
    assert {(r["system"], r["n"]) for r in runs} == {(s, n) for s in ("scratch", "pretrained", "bow1") for n in (12,)}
    assert len(runs) == 3 and all(0.0 <= r["accuracy"] <= 1.0 for r in runs)
    table = png.with_suffix(".md").read_text()
    assert "| 12 |" in table


def test_language_model_probe_runs_and_reports_every_column(tmp_path, capsys):
    from test_textcat_pretrained import train_language_model
    from test_training import write_docbins

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from lm_probe import main

    write_docbins(tmp_path, multilabel=False)
    (tmp_path / "test.spacy").write_bytes((tmp_path / "dev.spacy").read_bytes())
    train_language_model(tmp_path / "lm", steps=2)
    assert main([str(tmp_path), str(tmp_path / "lm"), "--sizes", "12,0", "--seeds", "2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "±" in line]
    assert len(rows) == 2 and rows[0].startswith("| 12 |")  # 12 labelled docs, then all of them
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")[1:]]
        assert len(cells) == 3 and all(0.0 <= float(c.split(" ± ")[0]) <= 1.0 for c in cells)


def test_probe_pools_only_the_real_units():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from lm_probe import pooled_states
    from spacy_lstm.model_attrs import TokenTable

    class LM:  # the table and settings the pooling reads
        table = TokenTable(["<pad>", "<unk>", "a", "b"])
        settings = {"attr": "LOWER", "lstm_width": 1}

    def states_of(ids):  # a "state" equal to the unit id, so the pooled values are known
        return ids[..., None].astype("float32")

    nlp = spacy.blank("en")
    pooled = pooled_states(states_of, LM, [nlp("a b b"), nlp("b")], max_length=10)
    a, b = 2.0, 3.0  # the ids of "a" and "b"
    numpy.testing.assert_allclose(pooled[0], [max(a, b), (a + 2 * b) / 3, b])  # max, mean, last
    numpy.testing.assert_allclose(pooled[1], [b, b, b])  # its padding is not pooled


def test_pretraining_speed_benchmark_runs_both_sides(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from pretrain_speed import main

    texts = [" ".join(text for text, _ in review_texts(12, seed=k)) for k in range(24)]
    for name, rows in (("train.jsonl", texts[:20]), ("dev.jsonl", texts[20:])):
        (tmp_path / name).write_text("".join(json.dumps({"text": t}) + "\n" for t in rows), encoding="utf8")
    assert main([str(tmp_path), "--steps", "2"]) == 0
    out = capsys.readouterr().out
    speeds = [float(line.split(" tokens/s")[0].rsplit(" ", 1)[1].replace(",", "")) for line in out.splitlines() if "tokens/s" in line]
    assert len(speeds) == 2 and all(s > 0 for s in speeds)
    assert "speed ratio (component / Keras fit)" in out


@pytest.mark.parametrize("name", ["textcat_lstm", "textcat_lstm_multilabel"])
def test_guard_replay_records_every_evaluation_and_replays_the_shipped_rule(tmp_path, capsys, name):
    from test_training import write_docbins

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from guard_replay import main, replay_run

    multilabel = name.endswith("multilabel")
    write_docbins(tmp_path, multilabel=multilabel)
    (tmp_path / "test.spacy").write_bytes((tmp_path / "dev.spacy").read_bytes())
    out = tmp_path / "run"
    main(["record", str(tmp_path), str(out), "--config", str(tiny_config(tmp_path, name))])
    evaluations = sorted((out / "evals").glob("eval_*.npz"))
    assert len(evaluations) >= 2 and evaluations[0].name == "eval_000000.npz"
    logged = [line for line in (out / "train.log").read_text().splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert len(evaluations) in (len(logged) - 1, len(logged))  # the last evaluation has no update after it
    result = replay_run(out, [1.0, 1e9])
    assert 0.0 <= result[1.0][1] <= result["best"] <= 1.0 and 0.0 <= result["ngram"] <= result["best"]
    # an unreachable bound keeps a checkpoint whose dev decisions are the n-gram path's
    kept = numpy.load(out / "evals" / f"eval_{result[1e9][0]:06d}.npz")
    if multilabel:
        assert kept["dev_scores"].shape[1] == 3
        assert ((kept["dev_scores"] >= 0.5) == (kept["dev_ngram"] >= 0.5)).all()
    else:
        assert (kept["dev_scores"].argmax(axis=1) == kept["dev_ngram"].argmax(axis=1)).all()
    main(["replay", str(out), "--z", "1,1.645", "--log-loss-z", "0"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("z=1.0: ") and lines[-1].startswith("z=1.645: ") and "n-gram path" in lines[-3]
