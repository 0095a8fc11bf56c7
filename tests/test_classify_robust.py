"""`spacy lstm-classify` survives any input (issue 10): each test reproduces one defect."""
import csv
import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_lstm.__main__ import app as main_app
from spacy_lstm.classify.job import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_RECORD_ERRORS, EXIT_TERMINATED
from spacy_lstm.classify.local import classify
from spacy_lstm.classify.writer import ExactlyOnceWriter
from spacy_lstm.errors import BatchError

from conftest import make_review
from test_classify import assert_exactly_once, env_with_repo, errors_of, flat, read_jsonl


@pytest.fixture(scope="module")
def nlp(textcat_model_dir):
    import spacy

    return spacy.load(textcat_model_dir)


def cli(*args):
    return CliRunner().invoke(main_app, ["classify", *map(str, args)])


# ----------------------------------------------------------------------------- 1: bad records

def test_bad_records_become_error_records_and_the_run_goes_on(nlp, tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_text(
        '{"text":"ok","id":1}\n'
        '{"text":"bad \\udfff","id":2}\n'           # lone surrogate in the text
        '{"text":"ok","id":NaN}\n'                   # NaN id
        '{"text":"ok","id":3,"k":Infinity}\n'        # Infinity in a kept field
        '{"text":"ok","id":"\\ud800x"}\n'            # lone surrogate in the id
        '{"text":"ok","id":123456789012345678901234567890}\n'  # > 64 bits: valid JSON, kept exactly
        '[[[[' + "[" * 100_000 + '\n'                # nested too deeply for the parser
        '{"text":"last","id":9}\n'
    )
    out = tmp_path / "o.jsonl"
    summary = classify(nlp, [str(src)], out, keep_fields=["k"])
    outs, errs = assert_exactly_once(out, 8, 5)
    assert [r["id"] for r in outs] == [1, 123456789012345678901234567890, 9]
    reasons = {e["seq"]: e["reason"] for e in errs}
    assert "lone surrogate" in reasons[1]
    assert "field 'id'" in reasons[2] and "JSON" in reasons[2]
    assert "field 'k'" in reasons[3]
    assert "field 'id'" in reasons[4] and "Unicode" in reasons[4]
    assert reasons[6].startswith("invalid JSON")
    assert summary.exit_code == EXIT_RECORD_ERRORS


def test_text_over_max_length_is_classified_and_flagged(nlp, tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps({"text": "great film " * 200}) + "\n" + json.dumps({"text": "great film"}) + "\n")
    old = nlp.max_length
    nlp.max_length = 1000
    try:
        summary = classify(nlp, [str(src)], tmp_path / "o.jsonl")
    finally:
        nlp.max_length = old
    outs = read_jsonl(tmp_path / "o.jsonl")
    assert len(outs) == 2 and outs[0]["truncated"] is True and "truncated" not in outs[1]
    assert outs[0]["label"] in ("POSITIVE", "NEGATIVE")
    assert summary.truncated == 1 and summary.errors == 0


def test_nan_score_is_an_error_record(nlp, tmp_path, monkeypatch):
    from spacy_lstm.classify.job import Predictor

    real = Predictor.members

    def members(meta, kept, cats, truncated, explain=None):
        if '"nan"' in meta:
            cats = {k: float("nan") for k in cats}
        return real(meta, kept, cats, truncated, explain)

    monkeypatch.setattr(Predictor, "members", staticmethod(members))
    src = tmp_path / "p.jsonl"
    src.write_text('{"text":"a","id":"nan"}\n{"text":"b","id":"ok"}\n')
    classify(nlp, [str(src)], tmp_path / "o.jsonl")
    outs, errs = assert_exactly_once(tmp_path / "o.jsonl", 2, 1)
    assert "not a finite number" in errs[0]["reason"] and errs[0]["id"] == "nan"


def test_bad_file_is_one_error_record_and_later_files_are_read(nlp, tmp_path):
    a, bad, cr, c = (tmp_path / n for n in ("a.jsonl", "b.csv", "c.csv", "d.jsonl"))
    a.write_text('{"text":"great"}\n{"text":"awful"}\n')
    bad.write_text("id,body\n1,hello\n2,there\n")  # no text column
    cr.write_bytes(b"id,text\r1,great film\r2,awful film\r")  # CR-only line endings
    c.write_text('{"text":"superb"}\n')
    out = tmp_path / "out" / "o.jsonl"
    summary = classify(nlp, [str(a), str(bad), str(cr), str(c)], out)
    outs, errs = assert_exactly_once(out, 6, 1)
    assert errs[0]["location"] == str(bad) and "no column named 'text'" in errs[0]["reason"]
    assert [r["id"] for r in outs][-3:] == ["1", "2", f"{c}:1"]
    assert summary.exit_code == EXIT_RECORD_ERRORS


# ----------------------------------------------------------------------------- 2: outputs are not inputs

def test_output_among_the_inputs_is_refused_before_anything_is_written(nlp, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    src = data / "r.jsonl"
    src.write_text('{"text":"great"}\n' * 3)
    before = src.read_bytes()
    for inputs, output, why in [
        ([src], src, "is one of the inputs"),
        ([str(data / "*.jsonl")], data / "o.jsonl", "matches the input pattern"),
        ([str(data / "*.jsonl")], data / "o.txt", "matches the input pattern"),  # its error file would
        ([str(tmp_path / "**" / "*.jsonl")], data / "sub" / "o.jsonl", "matches the input pattern"),
        ([data], data / "o.jsonl", "inside the input folder"),
    ]:
        if inputs == [data]:
            (data / "doc.txt").write_text("great")
        with pytest.raises(BatchError, match=why):
            classify(nlp, [str(i) for i in inputs], output, overwrite=True)
    assert src.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == ["doc.txt", "r.jsonl"]


def test_input_names_are_literal_when_they_exist(nlp, tmp_path):
    odd = tmp_path / "reviews[1].jsonl"
    odd.write_text('{"text":"great"}\n')
    (tmp_path / "reviews1.jsonl").write_text('{"text":"not me"}\n')
    out = tmp_path / "out" / "o.jsonl"
    classify(nlp, [str(odd)], out)
    assert [r["id"] for r in read_jsonl(out)] == [f"{odd}:1"]


def test_output_with_trailing_slash_is_a_folder(textcat_model_dir, tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text('{"text":"great"}\n')
    res = cli(textcat_model_dir, src, f"{tmp_path}/out/", "-q")
    assert res.exit_code == 0, res.output
    assert len(read_jsonl(tmp_path / "out" / "predictions.jsonl")) == 1


# ----------------------------------------------------------------------------- 3: one writer per output

def test_second_writer_is_refused_and_a_stale_lock_taken_over(tmp_path):
    out = tmp_path / "o.jsonl"
    first = ExactlyOnceWriter(out).open()
    with pytest.raises(BatchError, match=f"being written by process {os.getpid()}"):
        ExactlyOnceWriter(out, overwrite=True).open()
    first.close()
    assert not (tmp_path / "o.jsonl.lock").exists()
    # a lock file left by a process that died (SIGKILL): taken over
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "o.jsonl.lock").write_text(proc.stdout)
    ExactlyOnceWriter(out, overwrite=True).open().close()


# ----------------------------------------------------------------------------- 4: --resume checks the inputs

def test_resume_refuses_different_inputs(nlp, tmp_path):
    b = tmp_path / "b.jsonl"
    b.write_text('{"text":"great"}\n{"text":"awful"}\n')
    out = tmp_path / "out" / "o.jsonl"
    classify(nlp, [str(tmp_path / "*.jsonl")], out)
    (tmp_path / "a.jsonl").write_text('{"text":"sorts first"}\n')
    with pytest.raises(BatchError, match="not those of the first run"):
        classify(nlp, [str(tmp_path / "*.jsonl")], out, resume=True)
    with pytest.raises(BatchError, match="settings differ"):
        classify(nlp, [str(b)], out, resume=True, text_field="body")
    assert len(read_jsonl(out)) == 2


# ----------------------------------------------------------------------------- 5: CSV

def test_csv_long_and_multiline_fields(nlp, tmp_path):
    src = tmp_path / "r.csv"
    long_text = ("great film\n" * 20_000)  # 220,000 characters over 20,000 lines, quoted
    with open(src, "w", newline="", encoding="utf8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for i in range(5):
            w.writerow([str(i), long_text if i % 2 == 0 else "awful"])
    out = tmp_path / "o.jsonl"
    summary = classify(nlp, [str(src)], out)
    outs, errs = assert_exactly_once(out, 5, 0)
    assert [r["id"] for r in outs] == ["0", "1", "2", "3", "4"]
    assert summary.exit_code == 0


# ----------------------------------------------------------------------------- 6: writes

def test_failed_write_leaves_no_partial_line_and_is_not_retried(tmp_path, monkeypatch):
    out = tmp_path / "o.jsonl"
    w = ExactlyOnceWriter(out).open()
    w.add_raw(0, '"id":"a"', False)
    w.commit()
    w.add_raw(1, '"id":"' + "b" * 10_000 + '"', False)
    real_write = os.write

    def full_disk(fd, data):
        real_write(fd, bytes(data[:100]))  # part of the line reaches the disk, then ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(BatchError, match="^No space left on device while writing .*--resume"):
        w.commit()
    monkeypatch.setattr(os, "write", real_write)
    w.close()  # no blind retry of the failed commit
    assert out.read_bytes() == b'{"seq":0,"id":"a"}\n'


# ----------------------------------------------------------------------------- 7: smaller ones

def test_reserved_keep_fields_are_refused(nlp, tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text('{"text":"great","seq":5}\n')
    with pytest.raises(BatchError, match="--keep-fields cannot include seq"):
        classify(nlp, [str(src)], tmp_path / "o.jsonl", keep_fields=["seq"])


def test_pipeline_without_text_classifier_is_fatal(tmp_path):
    import spacy

    src = tmp_path / "r.jsonl"
    src.write_text('{"text":"great"}\n')
    with pytest.raises(BatchError, match="no text classifier"):
        classify(spacy.blank("en"), [str(src)], tmp_path / "o.jsonl")


def test_corrupt_model_is_a_clear_error(textcat_model_dir, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(textcat_model_dir, model)
    for f in (model / "lstm_textcat").iterdir():
        if f.is_file():
            f.write_bytes(b"\x00garbage")
    src = tmp_path / "r.jsonl"
    src.write_text('{"text":"great"}\n')
    res = cli(model, src, tmp_path / "o.jsonl")
    assert res.exit_code == EXIT_FATAL and "Cannot load pipeline" in flat(res.output)
    assert "Traceback" not in res.output


def _start(textcat_model_dir, src, out, *extra):
    args = [sys.executable, "-m", "spacy_lstm", "classify", str(textcat_model_dir), str(src), str(out),
            "--batch-size", "4", *map(str, extra)]
    return subprocess.Popen(args, env=env_with_repo(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_output(proc, out, size=2_000, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.stat().st_size > size:
            return
        time.sleep(0.05)
    raise AssertionError(f"no output to interrupt (exit {proc.poll()})")


def write_many(path: Path, n: int):
    rng = random.Random(0)
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": i, "text": make_review(rng, i % 2 == 0, 40)}) + "\n")


def child_pids(pid: int):
    """Direct children of ``pid``, from /proc (Linux)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def still_alive(pids, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        alive = [p for p in pids if Path(f"/proc/{p}").exists()
                 and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
        if not alive or time.time() > deadline:
            return alive
        time.sleep(0.1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("n_process", [1, 2])
def test_sigterm_is_like_ctrl_c_and_workers_die(textcat_model_dir, tmp_path, n_process):
    src = tmp_path / "r.jsonl"
    write_many(src, 20_000)
    out = tmp_path / "o.jsonl"
    proc = _start(textcat_model_dir, src, out, "--n-process", n_process)
    try:
        _wait_for_output(proc, out)
        children = child_pids(proc.pid)
        assert len(children) >= (n_process if n_process > 1 else 0)
        if n_process == 1:  # a second run to the same output is refused while this one holds the lock
            second = subprocess.run([sys.executable, "-m", "spacy_lstm", "classify", str(textcat_model_dir),
                                     str(src), str(out), "--resume"], env=env_with_repo(), capture_output=True,
                                    text=True, timeout=120)
            assert second.returncode == EXIT_FATAL and f"process {proc.pid}" in flat(second.stdout)
        proc.send_signal(signal.SIGTERM if n_process == 1 else signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (EXIT_TERMINATED if n_process == 1 else EXIT_INTERRUPTED), stdout
    assert "Interrupted" in stdout and "--resume" in flat(stdout)
    assert not still_alive(children)
    assert out.read_bytes().endswith(b"\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_parent_takes_its_workers_along(textcat_model_dir, tmp_path):
    src = tmp_path / "r.jsonl"
    write_many(src, 20_000)
    out = tmp_path / "o.jsonl"
    proc = _start(textcat_model_dir, src, out, "--n-process", 2)
    try:
        _wait_for_output(proc, out)
        children = child_pids(proc.pid)
        assert len(children) >= 2
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    alive = still_alive(children)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive


# ----------------------------------------------------------------------------- randomised kill/resume

def write_hostile_inputs(folder: Path, n: int, seed: int):
    """Two JSONL files with malformed records of every kind, and a bad CSV file between them.
    Returns (inputs, number of records)."""
    rng = random.Random(seed)
    bad_lines = [
        b'{"id": 1, "text": "unterminated\n', b'{"txt": "no text field"}\n', b'{"text": 42}\n',
        b'{"text": "caf\xe9 latin-1"}\n', b'{"text": "bad \\udfff"}\n', b'{"text": "x", "id": NaN}\n',
        b'{"text": "x", "id": Infinity}\n', b'[1, 2]\n', b'[' * 5000 + b'\n',
        b'{"text": "x", "id": 123456789012345678901234567890}\n',
    ]
    inputs, total = [], 0
    for name in ("a.jsonl", "b.csv", "c.jsonl"):
        path = folder / name
        inputs.append(str(path))
        if name == "b.csv":
            path.write_text("id,body\n1,no text column\n")
            total += 1
            continue
        with open(path, "wb") as fh:
            for i in range(n):
                if rng.random() < 0.1:
                    fh.write(rng.choice(bad_lines))
                else:
                    fh.write(json.dumps({"id": f"{name}{i}", "text": make_review(rng, i % 2 == 0, 30)}).encode() + b"\n")
                total += 1
    return inputs, total


def test_random_kills_then_resume_gives_every_seq_exactly_once(textcat_model_dir, tmp_path):
    rng = random.Random(int(time.time()))
    inputs, total = write_hostile_inputs(tmp_path, 800, seed=rng.randrange(1000))
    out = tmp_path / "out" / "o.jsonl"
    args = [sys.executable, "-m", "spacy_lstm", "classify", str(textcat_model_dir), *inputs, str(out),
            "--batch-size", "8", "--quiet"]
    kills = []
    for attempt in range(2):  # each start costs a TensorFlow import: two kills keep it short
        proc = subprocess.Popen(args + (["--resume"] if attempt else []), env=env_with_repo(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            start = out.stat().st_size if out.exists() else 0
            deadline = time.time() + 60
            while proc.poll() is None and time.time() < deadline:  # wait until it writes
                if out.exists() and out.stat().st_size > start:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 1.5))
            sig = rng.choice([signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
            kills.append(sig.name)
            proc.send_signal(sig)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    done = subprocess.run(args + ["--resume"], env=env_with_repo(), capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_RECORD_ERRORS, (kills, done.stdout, done.stderr)
    seqs = [r["seq"] for r in read_jsonl(out)] + [r["seq"] for r in errors_of(out)]
    assert sorted(seqs) == list(range(total)), kills


def test_killed_ray_driver_takes_its_ray_along(tmp_path):
    """The Ray engine's local Ray (gcs_server, raylet, workers) stops when the driver is
    killed with SIGKILL: what the engine does after ray.init, in a driver of its own."""
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("ray")
    driver = tmp_path / "driver.py"
    driver.write_text(
        "import sys, time, ray\n"
        "from spacy_lstm.classify.workers import child_pids, reap_when_gone\n"
        "before = child_pids()\n"
        "ray.init(include_dashboard=False, num_cpus=1)\n"
        "reaper = reap_when_gone(child_pids() - before)\n"
        "print(' '.join(map(str, sorted(child_pids() - before - {reaper.pid}))), flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, str(driver)], stdout=subprocess.PIPE, text=True, env=env_with_repo())
    try:
        started = [psutil.Process(int(pid)) for pid in proc.stdout.readline().split()]
        assert any("raylet" in p.name() for p in started), [p.name() for p in started]
        proc.kill()
        proc.wait(timeout=30)
        gone, alive = psutil.wait_procs(started, timeout=30)
        assert not alive, [p.name() for p in alive]
    finally:
        proc.kill()
