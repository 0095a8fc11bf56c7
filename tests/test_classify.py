"""Tests for the batch classification job and its CLI (spacy_lstm.classify, spacy_lstm.cli)."""
import csv
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_lstm.__main__ import app as main_app
from spacy_lstm.classify.job import EXIT_FATAL, EXIT_OK, EXIT_RECORD_ERRORS
from spacy_lstm.classify.local import classify
from spacy_lstm.classify.writer import truncate_partial_line
from spacy_lstm.errors import BatchError

from conftest import make_review

REPO_ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def nlp(textcat_model_dir):
    import spacy

    return spacy.load(textcat_model_dir)


def read_jsonl(path: Path):
    if not path.exists():
        return []
    with open(path, encoding="utf8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def errors_of(output: Path):
    return read_jsonl(Path(str(output) + ".errors.jsonl"))


def write_reviews_jsonl(path: Path, n: int, bad_every: int = 0, seed: int = 0) -> int:
    """n lines; every ``bad_every``-th line malformed in a rotating way. Returns #bad."""
    rng = random.Random(seed)
    bad = 0
    with open(path, "wb") as fh:
        for i in range(n):
            if bad_every and i % bad_every == bad_every - 1:
                kind = (i // bad_every) % 4
                bad += 1
                if kind == 0:
                    fh.write(b'{"id": "r%d", "text": "unterminated\n' % i)
                elif kind == 1:
                    fh.write(b'{"id": "r%d", "txt": "no text field"}\n' % i)
                elif kind == 2:
                    fh.write(b'{"id": "r%d", "text": 42}\n' % i)
                else:
                    fh.write(b'{"id": "r%d", "text": "caf\xe9 latin-1"}\n' % i)
                continue
            rec = {"id": f"r{i}", "text": make_review(rng, i % 2 == 0), "stars": i % 5}
            fh.write(json.dumps(rec).encode("utf8") + b"\n")
    return bad


def flat(text: str) -> str:
    """wasabi wraps long messages; compare on single-spaced text."""
    return " ".join(text.split())


def env_with_repo():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    return env


def run_module(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "spacy_lstm", "classify", *map(str, args)],
        env=env_with_repo(), capture_output=True, text=True, timeout=120, **kwargs,
    )


def assert_exactly_once(output: Path, n_records: int, n_bad: int):
    outs, errs = read_jsonl(output), errors_of(output)
    seqs = [r["seq"] for r in outs] + [r["seq"] for r in errs]
    assert sorted(seqs) == list(range(n_records)), "every record exactly once"
    assert len(errs) == n_bad
    assert [r["seq"] for r in outs] == sorted(r["seq"] for r in outs), "output in input order"
    return outs, errs


# ----------------------------------------------------------------------------- formats

def test_jsonl_ids_cats_and_errors(nlp, tmp_path):
    src = tmp_path / "reviews.jsonl"
    src.write_bytes(
        b'{"id": "a", "text": "great wonderful film"}\n'
        b"\n"  # blank line: not a record
        b'{"text": "awful boring"}\n'
        b"{not json}\n"
        b'{"id": "c", "text": null}\n'
        b"[1, 2]\n"
        b'{"id": "d", "text": "bad \xff byte"}\n'
    )
    out = tmp_path / "pred.jsonl"
    summary = classify(nlp, [str(src)], out)
    outs, errs = read_jsonl(out), errors_of(out)
    assert [r["id"] for r in outs] == ["a", f"{src}:3"]  # given id, else file:line
    for r in outs:
        assert set(r["cats"]) == {"POSITIVE", "NEGATIVE"}
        assert r["label"] == max(r["cats"], key=r["cats"].get)
        assert r["score"] == pytest.approx(max(r["cats"].values()))
    assert nlp("great wonderful film").cats == pytest.approx(outs[0]["cats"])
    assert [e["line"] for e in errs] == [4, 5, 6, 7]
    reasons = [e["reason"] for e in errs]
    assert reasons[0].startswith("invalid JSON")
    assert "not a string" in reasons[1]
    assert "not an object" in reasons[2]
    assert "undecodable" in reasons[3]
    assert errs[0]["location"] == f"{src}:4"
    assert summary.read == 6 and summary.classified == 2 and summary.errors == 4
    assert summary.exit_code == EXIT_RECORD_ERRORS


def test_csv_by_column_name(nlp, tmp_path):
    src = tmp_path / "reviews.csv"
    with open(src, "w", newline="", encoding="utf8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "review", "stars"])
        w.writerow(["x1", "great\nwonderful, multi-line", "5"])  # quoted newline
        w.writerow(["x2", "awful"])  # wrong number of columns
        w.writerow(["x3", "boring film", "1"])
    with open(src, "ab") as fh:
        fh.write(b"x4,caf\xe9,2\n")  # not UTF-8
        fh.write(b",dull plot,2\n")  # empty id -> kept as given ("")
    out = tmp_path / "pred.jsonl"
    summary = classify(nlp, [str(src)], out, text_field="review", keep_fields=["stars"])
    outs, errs = read_jsonl(out), errors_of(out)
    assert [r["id"] for r in outs] == ["x1", "x3", ""]
    assert [r["stars"] for r in outs] == ["5", "1", "2"]
    assert outs[0]["cats"] == pytest.approx(nlp("great\nwonderful, multi-line").cats)
    assert [(e["line"], e["reason"].split(":")[0]) for e in errs] == [
        (4, "wrong number of columns"), (6, "undecodable bytes (not UTF-8)")]
    assert summary.read == 5


def test_csv_missing_column_is_one_error_record(nlp, tmp_path):
    src = tmp_path / "reviews.csv"
    src.write_text("id,body\n1,hello\n")
    summary = classify(nlp, [str(src)], tmp_path / "out.jsonl")
    errs = errors_of(tmp_path / "out.jsonl")
    assert len(errs) == 1 and "no column named 'text'" in errs[0]["reason"] and errs[0]["location"] == str(src)
    assert summary.exit_code == EXIT_RECORD_ERRORS


def test_txt_lines_and_gzip(nlp, tmp_path):
    lines = ["great wonderful film", "", "awful boring film", "moving story"]
    plain = tmp_path / "reviews.txt"
    plain.write_text("\n".join(lines) + "\n")
    gz = tmp_path / "more.txt.gz"
    with gzip.open(gz, "wt", encoding="utf8") as fh:
        fh.write("dull waste\nbrilliant cast\n")
    jgz = tmp_path / "more.jsonl.gz"
    with gzip.open(jgz, "wt", encoding="utf8") as fh:
        fh.write('{"id": "g1", "text": "superb"}\n')
    out = tmp_path / "pred.jsonl"
    summary = classify(nlp, [str(plain), str(gz), str(jgz)], out)
    outs = read_jsonl(out)
    assert [r["id"] for r in outs] == [
        f"{plain}:1", f"{plain}:3", f"{plain}:4", f"{gz}:1", f"{gz}:2", "g1"]
    assert [r["seq"] for r in outs] == list(range(6))
    assert outs[4]["cats"] == pytest.approx(nlp("brilliant cast").cats)
    assert summary.exit_code == EXIT_OK and not errors_of(out)


def test_folder_of_txt_files(nlp, tmp_path):
    root = tmp_path / "aclImdb" / "test"
    texts = {"pos/1_9.txt": "great film", "neg/0_2.txt": "awful", "pos/0_10.txt": "superb",
             "neg/sub/5_1.txt": "boring"}
    for rel, text in texts.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    with gzip.open(root / "pos" / "2_8.txt.gz", "wt") as fh:
        fh.write("loved it")
    (root / "neg" / "9_1.txt").write_bytes(b"\xff\xfe broken")
    (root / "README.md").write_text("not a document")
    out = tmp_path / "outdir"
    out.mkdir()
    summary = classify(nlp, [str(root)], out)  # a folder output gets predictions.jsonl
    pred = out / "predictions.jsonl"
    outs, errs = read_jsonl(pred), errors_of(pred)
    assert [r["id"] for r in outs] == [
        "neg/0_2.txt", "neg/sub/5_1.txt", "pos/0_10.txt", "pos/1_9.txt", "pos/2_8.txt.gz"]
    assert outs[3]["cats"] == pytest.approx(nlp("great film").cats)
    assert [e["id"] for e in errs] == ["neg/9_1.txt"] and errs[0]["line"] is None
    assert summary.read == 6 and summary.exit_code == EXIT_RECORD_ERRORS


def test_glob_is_sorted(nlp, tmp_path):
    for name in ("b.jsonl", "a.jsonl"):
        (tmp_path / name).write_text(json.dumps({"text": name}) + "\n")
    out = tmp_path / "out" / "o.jsonl"  # outside the pattern: an output it matches is refused
    classify(nlp, [str(tmp_path / "*.jsonl")], out)
    assert [r["id"] for r in read_jsonl(out)] == [f"{tmp_path}/a.jsonl:1", f"{tmp_path}/b.jsonl:1"]


# ----------------------------------------------------------------------------- exactly once

def test_exactly_once_straight_through(nlp, tmp_path):
    src = tmp_path / "r.jsonl"
    n_bad = write_reviews_jsonl(src, 400, bad_every=13)
    out = tmp_path / "o.jsonl"
    summary = classify(nlp, [str(src)], out, batch_size=16, keep_fields=["stars"])
    outs, errs = assert_exactly_once(out, 400, n_bad)
    assert all(r["id"] == f"r{r['seq']}" for r in outs)
    assert all(r["stars"] == r["seq"] % 5 for r in outs)
    assert all(e["location"] == f"{src}:{e['seq'] + 1}" for e in errs)
    assert summary.read == 400 and summary.errors == n_bad == 30


def test_kill_mid_run_then_resume(nlp, tmp_path, textcat_model_dir):
    n = 6000
    src = tmp_path / "r.jsonl"
    n_bad = write_reviews_jsonl(src, n, bad_every=17)
    ref = tmp_path / "ref.jsonl"
    classify(nlp, [str(src)], ref, batch_size=64)
    out = tmp_path / "o.jsonl"
    args = [sys.executable, "-m", "spacy_lstm", "classify", str(textcat_model_dir), str(src),
            str(out), "--batch-size", "2", "--quiet"]
    proc = subprocess.Popen(args, env=env_with_repo(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if out.exists() and out.stat().st_size > 20_000:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done_before = len(read_jsonl(out)) if out.read_bytes().endswith(b"\n") else None
    assert 0 < out.stat().st_size
    # simulate the worst case as well: a half-written line at the end of both files
    with open(out, "ab") as fh:
        fh.write(b'{"seq":999999,"id":"half')
    with open(str(out) + ".errors.jsonl", "ab") as fh:
        fh.write(b'{"seq":99')
    # The refusal and the no-op resume below run in this process (CliRunner): each process
    # start pays for a TensorFlow import, and the resume after the kill is the one that counts.
    res = CliRunner().invoke(main_app, ["classify", str(textcat_model_dir), str(src), str(out)])  # no --resume
    assert res.exit_code == EXIT_FATAL and "--resume" in flat(res.output)
    res = run_module(textcat_model_dir, src, out, "--resume", "--batch-size", "64")
    assert res.returncode == EXIT_RECORD_ERRORS, res.stdout + res.stderr
    assert "Skipped" in res.stdout
    outs, errs = assert_exactly_once(out, n, n_bad)
    ref_outs = read_jsonl(ref)
    assert [(r["seq"], r["id"], r["label"]) for r in outs] == [
        (r["seq"], r["id"], r["label"]) for r in ref_outs]
    for a, b in zip(outs, ref_outs):
        assert a["cats"] == pytest.approx(b["cats"], abs=1e-6)
    assert errs == errors_of(ref)
    if done_before is not None:
        assert done_before < n - n_bad
    # resuming a finished run is a no-op
    res = CliRunner().invoke(main_app, ["classify", str(textcat_model_dir), str(src), str(out), "--resume", "-q"])
    assert res.exit_code == EXIT_RECORD_ERRORS, res.output
    assert len(read_jsonl(out)) == n - n_bad


def test_resume_with_gap_between_error_and_output_flush(nlp, tmp_path):
    """A crash between flushing the error file and the output file: errors are
    ahead of the outputs. Resume must neither lose outputs nor duplicate errors."""
    src = tmp_path / "r.jsonl"
    n_bad = write_reviews_jsonl(src, 200, bad_every=5)
    out = tmp_path / "o.jsonl"
    classify(nlp, [str(src)], out)
    outs_full = out.read_text().splitlines(keepends=True)
    out.write_text("".join(outs_full[:50]))  # outputs lag behind the complete error file
    summary = classify(nlp, [str(src)], out, resume=True)
    assert summary.skipped == 50 + n_bad and summary.errors == 0
    assert out.read_text() == "".join(outs_full)
    assert_exactly_once(out, 200, n_bad)


def test_truncate_partial_line(tmp_path):
    p = tmp_path / "f.jsonl"
    p.write_bytes(b'{"seq":0}\n{"seq":1}\n{"se')
    assert truncate_partial_line(p) == 4
    assert p.read_bytes() == b'{"seq":0}\n{"seq":1}\n'
    p.write_bytes(b'{"seq')
    truncate_partial_line(p)
    assert p.read_bytes() == b""


# ----------------------------------------------------------------------------- CLI

def test_cli_exit_codes_and_refuse_overwrite(textcat_model_dir, tmp_path):
    runner = CliRunner()
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "great"}\n{"text": "awful"}\n')
    out = tmp_path / "o.jsonl"
    res = runner.invoke(main_app, ["classify", str(textcat_model_dir), str(good), str(out), "-q"])
    assert res.exit_code == EXIT_OK, res.output
    assert len(read_jsonl(out)) == 2
    res = runner.invoke(main_app, ["classify", str(textcat_model_dir), str(good), str(out)])
    assert res.exit_code == EXIT_FATAL and "already exists" in flat(res.output)
    assert len(read_jsonl(out)) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "great"}\n{"text": 1}\n')
    res = runner.invoke(main_app, ["classify", str(textcat_model_dir), str(bad), str(out), "--overwrite"])
    assert res.exit_code == EXIT_RECORD_ERRORS, res.output
    assert "Records read" in flat(res.output) and "errors.jsonl" in flat(res.output)
    assert len(read_jsonl(out)) == 1 and len(errors_of(out)) == 1
    res = runner.invoke(main_app, ["classify", str(tmp_path / "no-model"), str(good), str(tmp_path / "x.jsonl")])
    assert res.exit_code == EXIT_FATAL and "Cannot load pipeline" in flat(res.output)
    res = runner.invoke(main_app, ["classify", str(textcat_model_dir), str(tmp_path / "missing.jsonl"),
                                   str(tmp_path / "y.jsonl")])
    assert res.exit_code == EXIT_FATAL and "Input not found" in flat(res.output)


def test_registered_on_spacy_cli():
    from spacy.cli._util import app
    from spacy_lstm.cli.classify import classify_cli

    commands = {c.name: c.callback for c in app.registered_commands}
    assert commands.get("lstm-classify") is classify_cli


def test_python_m_entry_point(textcat_model_dir, tmp_path):
    src = tmp_path / "r.csv"
    src.write_text("review,id\ngreat film,7\n")
    out = tmp_path / "o.jsonl"
    res = run_module(textcat_model_dir, src, out, "--text-field", "review", "--n-process", "1", "-b", "4")
    assert res.returncode == EXIT_OK, res.stderr
    assert read_jsonl(out)[0]["id"] == "7"
    assert "Docs/s" in res.stdout


def test_n_process_2_same_output(nlp, tmp_path, textcat_model_dir):
    src = tmp_path / "r.jsonl"
    n_bad = write_reviews_jsonl(src, 300, bad_every=29)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    classify(nlp, [str(src)], a, batch_size=32)
    classify(str(textcat_model_dir), [str(src)], b, batch_size=32, n_process=2)
    assert_exactly_once(b, 300, n_bad)
    assert [(r["id"], r["label"]) for r in read_jsonl(a)] == [(r["id"], r["label"]) for r in read_jsonl(b)]


# ----------------------------------------------------------------------------- memory

def _peak_bytes(nlp, src: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        classify(nlp, [str(src)], out, batch_size=256)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_flat(nlp, tmp_path):
    small, large = tmp_path / "s.jsonl", tmp_path / "l.jsonl"
    write_reviews_jsonl(small, 2_000, bad_every=101, seed=1)
    write_reviews_jsonl(large, 20_000, bad_every=101, seed=1)
    _peak_bytes(nlp, small, tmp_path / "warm.jsonl")  # warm up caches/vocab
    peak_small = _peak_bytes(nlp, small, tmp_path / "s_out.jsonl")
    peak_large = _peak_bytes(nlp, large, tmp_path / "l_out.jsonl")
    assert len(read_jsonl(tmp_path / "l_out.jsonl")) > 19_000
    # 10x the records must not cost anywhere near 10x the memory
    assert peak_large < 1.5 * peak_small + 2_000_000, (peak_small, peak_large)


# ----------------------------------------------------------------------------- ray

try:
    import ray  # noqa: F401
    import ray.data  # noqa: F401

    HAVE_RAY = True
except ImportError:  # pragma: no cover
    HAVE_RAY = False


@pytest.fixture(scope="module")
def ray_local():
    if not HAVE_RAY:
        pytest.skip("ray[data] is not installed (pip install 'spacy-lstm[ray]')")
    import ray

    # workers must be able to import spacy_lstm from this checkout
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_engine_matches_local_with_explanations(ray_local, nlp, tmp_path, textcat_model_dir):
    from spacy_lstm.classify.ray import classify_ray

    src = tmp_path / "r.jsonl"
    n_bad = write_reviews_jsonl(src, 300, bad_every=23)
    folder = tmp_path / "docs"
    for i in range(5):
        (folder / ("pos" if i % 2 else "neg")).mkdir(parents=True, exist_ok=True)
        (folder / ("pos" if i % 2 else "neg") / f"{i}_7.txt").write_text(make_review(random.Random(i), i % 2 == 1))
    inputs = [str(src), str(folder)]
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    # with --explain: each classify_ray run starts actors that import TensorFlow, so this one
    # run also shows that the explanations are the same on both engines
    classify(nlp, inputs, local, keep_fields=["stars"], batch_size=64, explain=3)
    summary = classify_ray(str(textcat_model_dir), inputs, remote, keep_fields=["stars"], batch_size=64, explain=3)
    assert summary.read == 305 and summary.errors == n_bad
    outs, errs = assert_exactly_once(remote, 305, n_bad)
    local_outs = read_jsonl(local)
    assert [(r["seq"], r["id"], r["label"], r.get("stars")) for r in outs] == [
        (r["seq"], r["id"], r["label"], r.get("stars")) for r in local_outs]
    for a, b in zip(outs, local_outs):
        assert a["cats"] == pytest.approx(b["cats"], abs=1e-6)
        assert len(a["explain"]) == 3
        assert [t for t, _ in a["explain"]] == [t for t, _ in b["explain"]]
        assert [w for _, w in a["explain"]] == pytest.approx([w for _, w in b["explain"]], abs=2e-4)
        assert a["explain"][0][1] >= a["explain"][1][1] >= a["explain"][2][1]
    assert errs == errors_of(local)
    # a resumed run cannot mix lines with and without "explain"
    with pytest.raises(BatchError, match="explain|differ|option"):
        classify(nlp, inputs, local, batch_size=64, keep_fields=["stars"], resume=True)


def test_ray_missing_gives_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    from spacy_lstm.classify.ray import import_ray

    with pytest.raises(BatchError, match=r"pip install 'spacy-lstm\[ray\]'"):
        import_ray()


def test_ray_engine_bad_input_blocks_and_resume(ray_local, nlp, tmp_path, textcat_model_dir):
    """Per-record and per-file failures, a file read as many blocks, and --resume: the same
    lines as the local engine."""
    from spacy_lstm.classify.ray import classify_ray

    src = tmp_path / "r.jsonl"
    n_bad = write_reviews_jsonl(src, 200, bad_every=23)
    with open(src, "a") as fh:
        fh.write('{"text":"bad \\udfff","id":2}\n{"text":"ok","id":NaN}\n\n{"text":"last","id":"z"}\n')
    bad_csv = tmp_path / "b.csv"
    bad_csv.write_text("id,body\n1,x\n")
    inputs, n, n_bad = [str(src), str(bad_csv)], 204, n_bad + 3
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    classify(nlp, inputs, local, batch_size=16)
    summary = classify_ray(str(textcat_model_dir), inputs, remote, batch_size=16, block_bytes=2_000)
    assert summary.read == n and summary.errors == n_bad
    outs, errs = assert_exactly_once(remote, n, n_bad)
    assert [(r["seq"], r["id"], r["label"]) for r in outs] == [(r["seq"], r["id"], r["label"]) for r in read_jsonl(local)]
    assert errs == errors_of(local)
    # resume after losing the tail of the output: only the missing records come back
    lines = remote.read_text().splitlines(keepends=True)
    remote.write_text("".join(lines[:100]))
    summary = classify_ray(str(textcat_model_dir), inputs, remote, batch_size=16, block_bytes=2_000, resume=True)
    assert summary.classified == len(lines) - 100 and summary.errors == 0
    assert summary.skipped == n - (len(lines) - 100)
    resumed = read_jsonl(remote)
    full = [json.loads(line) for line in lines]
    assert [(r["seq"], r["id"], r["label"]) for r in resumed] == [(r["seq"], r["id"], r["label"]) for r in full]
    for x, y in zip(resumed, full):  # other batches, other padding: float noise only
        assert x["cats"] == pytest.approx(y["cats"], abs=1e-5)


def test_ray_read_blocks_skips_written_records_before_classification(tmp_path):
    from spacy_lstm.classify.inputs import RecordReader
    from spacy_lstm.classify.paths import expand_inputs
    from spacy_lstm.classify.ray import _read_blocks

    src = tmp_path / "r.jsonl"
    write_reviews_jsonl(src, 300, bad_every=7)
    sources = expand_inputs([str(src)])
    blocks = list(RecordReader(sources).plan(block_bytes=4_000))
    assert len(blocks) > 5 and sum(b.n_records for b in blocks) == 300
    plan = {k: [getattr(b, k) if b.end is not None or k != "end" else -1 for b in blocks]
            for k in ("source", "start", "end", "first_line", "first_seq", "n_records")}
    done = [[0, 149], [151, 151], [200, 299]]
    seqs = []
    for batch in _read_blocks(plan, sources=sources, reader_cfg={}, done=done, batch_size=8):
        seqs.extend(batch["seq"].tolist())
    assert seqs == [150] + list(range(152, 200))


def test_ray_shuts_down_the_ray_it_started_on_failure(monkeypatch, tmp_path, textcat_model_dir):
    import spacy_lstm.classify.ray as ray_engine

    calls = []

    class FakeData:
        class DataContext:
            @staticmethod
            def get_current():
                raise RuntimeError("boom")

    class FakeRay:
        data = FakeData

        @staticmethod
        def is_initialized():
            return False

        @staticmethod
        def init(**kwargs):
            calls.append("init")

        @staticmethod
        def shutdown():
            calls.append("shutdown")

    monkeypatch.setattr(ray_engine, "import_ray", lambda: FakeRay)
    src = tmp_path / "r.jsonl"
    src.write_text('{"text":"great"}\n')
    with pytest.raises(RuntimeError, match="boom"):
        ray_engine.classify_ray(str(textcat_model_dir), [str(src)], tmp_path / "o.jsonl")
    assert calls == ["init", "shutdown"]
    assert not (tmp_path / "o.jsonl.lock").exists()


def test_cli_explain_adds_top_words(textcat_model_dir, tmp_path):
    src = tmp_path / "r.jsonl"
    write_reviews_jsonl(src, 5)
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(main_app, ["classify", str(textcat_model_dir), str(src), str(out), "-q", "--explain", "2"])
    assert res.exit_code == EXIT_OK, res.output
    assert all(len(r["explain"]) == 2 and isinstance(r["explain"][0][0], str) for r in read_jsonl(out))
    res = CliRunner().invoke(main_app, ["classify", str(textcat_model_dir), str(src), str(out), "--explain", "-1"])
    assert res.exit_code == EXIT_FATAL and "--explain" in res.output
