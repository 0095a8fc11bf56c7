"""The spaCy project (project.yml): the `all` workflow end to end on a tiny slice, the corpus
step's determinism, and the messages for missing or corrupted assets.

Nothing here touches the real corpora: each test copies project.yml, scripts/ and configs/
into a temporary folder and writes small *fabricated* asset files there, with a matching
assets/checksums.json, so the `fetch` step finds them intact and skips the download (no
network needed). The whole file runs in about 2 minutes on 2 CPU cores.
"""
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600

POS = "great wonderful superb loved brilliant moving excellent fun charming".split()
NEG = "awful boring terrible hated dull waste bad worst tedious".split()
FILLER = "the movie film plot acting was a and it this story cast director".split()

SONNET = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n"
    "JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\nDeny thy father and refuse thy name.\n\n"
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_fake_assets(project: Path, n_reviews: int = 240) -> None:
    """MR-format review snippets and a few 'Shakespeare' texts, plus their checksums."""
    rng = random.Random(0)
    assets = project / "assets"
    (assets / "mr").mkdir(parents=True)
    lines = []
    for i in range(n_reviews):
        positive = i % 2 == 0
        words = [rng.choice(FILLER if rng.random() < 0.6 else (POS if positive else NEG)) for _ in range(rng.randint(6, 20))]
        rating = rng.uniform(0.5, 3.5) * (1 if positive else -1)
        lines.append(f"{i + 1}_1\t{rating:.6f}\t{' '.join(words).capitalize()} ({i}).")
    (assets / "mr" / "movieReviewSnippets_GroundTruth.txt").write_text("\r\n".join(lines) + "\r\n", encoding="utf8")
    (assets / "shakespeare").mkdir()
    for name in ("hamlet_gut.txt", "romeo_and_juliet_gut.txt"):
        (assets / "shakespeare" / name).write_text(SONNET * 40, encoding="utf8")
    checksums = {}
    for corpus in ("mr", "shakespeare"):
        files = {p.relative_to(assets).as_posix(): sha256(p) for p in sorted((assets / corpus).rglob("*")) if p.is_file()}
        checksums[corpus] = {"package": "fabricated for tests", "files": files}
    (assets / "checksums.json").write_text(json.dumps(checksums, indent=1, sort_keys=True), encoding="utf8")


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "configs", project / "configs")
    write_fake_assets(project)
    return project


def env():
    e = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", ANSI_COLORS_DISABLED="1", CUDA_VISIBLE_DEVICES="")
    e.pop("PYTHONPATH", None)
    return e


def run(args, cwd, check=True):
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return result


TINY_VARS = [
    "--vars.limit", "60",
    "--vars.max_steps", "16",
    "--vars.eval_frequency", "8",
    "--vars.gen_max_steps", "6",
    "--vars.gen_eval_frequency", "3",
    "--vars.gen_train_chars", "8000",
    "--vars.gen_dev_chars", "2000",
    "--vars.gen_samples", "1",
    "--vars.gen_max_length", "40",
    "--vars.gen_temperatures", "0.5,1.0",
    "--vars.n_words", "30",
    # Kept between test runs: the public dependencies (TensorFlow...) are installed once.
    "--vars.smoke_venv", str(Path(tempfile.gettempdir()) / "spacy-lstm-tests-smoke-venv"),
]


@pytest.fixture(scope="module")
def finished_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("all"))
    result = run(["-m", "spacy", "project", "run", "all", ".", *TINY_VARS], cwd=project)
    return project, result.stdout + result.stderr


def test_all_workflow_scores(finished_project):
    project, _ = finished_project
    metrics = json.loads((project / "metrics" / "mr.json").read_text())
    assert metrics["n_docs"] == 6  # 10% of the 60-document slice
    for key in ("accuracy", "cats_score", "cats_macro_p", "cats_macro_r", "cats_macro_f"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["labels"] == ["neg", "pos"]
    log = [json.loads(line) for line in (project / "training" / "mr" / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [0, 8, 16]


def test_all_workflow_pictures(finished_project):
    import matplotlib.image

    project, _ = finished_project
    for name in ("mr_embeddings.png", "mr_training.png"):
        image = matplotlib.image.imread(project / "metrics" / name)
        height, width = image.shape[:2]
        assert height >= 300 and width >= 300, (name, image.shape)
        assert image.std() > 0.01, f"{name} is blank"


def test_all_workflow_package(finished_project):
    project, output = finished_project
    wheel = project / "packages" / "en_lstm_reviews-0.1.0" / "dist" / "en_lstm_reviews-0.1.0-py3-none-any.whl"
    assert wheel.is_file()
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read("en_lstm_reviews-0.1.0.dist-info/METADATA").decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any("spacy-lstm" in line for line in requires), requires
    # spacy-lstm is on no package index: its wheel lies next to the model's, in packages/.
    assert [p.name for p in (project / "packages").glob("spacy_lstm-*.whl")] == ["spacy_lstm-0.1.0-py3-none-any.whl"]
    # The package command installed both wheels in a fresh, isolated virtualenv (nothing of
    # this environment visible in it) and classified a review.
    assert "spaCy, en_lstm_reviews and spacy_lstm all came from the isolated virtualenv" in output
    assert "smoke test passed" in output


def test_all_workflow_generator(finished_project):
    project, _ = finished_project
    text = (project / "metrics" / "generated.txt").read_text(encoding="utf8")
    assert "=== temperature 0.5" in text and "=== temperature 1.0" in text
    assert "ROMEO:" in text
    assert "\x1b[" not in text


def test_all_workflow_classify(finished_project):
    project, output = finished_project
    gold = [json.loads(line) for line in (project / "corpus" / "mr" / "test.jsonl").read_text().splitlines()]
    predictions = [json.loads(line) for line in (project / "metrics" / "mr_predictions.jsonl").read_text().splitlines()]
    assert sorted(p["id"] for p in predictions) == sorted(g["id"] for g in gold)
    for p in predictions:
        assert set(p["cats"]) == {"neg", "pos"}
    assert "each exactly once" in output


def test_all_workflow_explains(finished_project):
    project, _ = finished_project
    page = (project / "metrics" / "mr_explanations.html").read_text(encoding="utf8")
    assert page.lstrip().lower().startswith("<!doctype html") and page.count("<span") > 20


def test_rerun_skips_finished_steps(finished_project):
    project, _ = finished_project
    result = run(["-m", "spacy", "project", "run", "evaluate", ".", *TINY_VARS], cwd=project)
    assert "Skipping 'evaluate': nothing changed" in result.stdout


def test_corpus_splits_deterministic_and_disjoint(tmp_path):
    from spacy.tokens import DocBin
    import spacy

    project = make_project(tmp_path)
    for out in ("a", "b"):
        run(["scripts/project_data.py", "corpus", "mr", f"corpus/{out}", "--limit", "100", "--seed", "0"], cwd=project)
    for name in ("train.spacy", "dev.spacy", "test.spacy", "test.jsonl"):
        assert (project / "corpus/a" / name).read_bytes() == (project / "corpus/b" / name).read_bytes(), name
    nlp = spacy.blank("en")
    texts = {
        split: [d.text for d in DocBin().from_disk(project / "corpus/a" / f"{split}.spacy").get_docs(nlp.vocab)]
        for split in ("train", "dev", "test")
    }
    assert [len(texts[s]) for s in ("train", "dev", "test")] == [80, 10, 10]
    assert not set(texts["train"]) & set(texts["dev"])
    assert not set(texts["train"]) & set(texts["test"])
    assert not set(texts["dev"]) & set(texts["test"])


def test_missing_asset_names_the_fetch_command(tmp_path):
    project = make_project(tmp_path)
    (project / "assets" / "mr" / "movieReviewSnippets_GroundTruth.txt").unlink()
    result = run(["scripts/project_data.py", "corpus", "mr", "corpus/mr"], cwd=project, check=False)
    assert result.returncode != 0
    assert "missing" in result.stderr and "spacy project run fetch" in result.stderr
    assert not (project / "corpus" / "mr" / "train.spacy").exists()


def test_corrupted_asset_names_the_fetch_command(tmp_path):
    project = make_project(tmp_path)
    path = project / "assets" / "mr" / "movieReviewSnippets_GroundTruth.txt"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # a truncated download
    result = run(["-m", "spacy", "project", "run", "corpus", "."], cwd=project, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "checksum mismatch" in output and "spacy project run fetch" in output


def test_brought_corpus_missing_says_how_to_pass_it(tmp_path):
    project = make_project(tmp_path)
    result = run(["scripts/project_data.py", "fetch", "imdb", "--imdb-dir", "assets/aclImdb"], cwd=project, check=False)
    assert result.returncode != 0
    assert "--vars.imdb_dir" in result.stderr


def minutes_said(text: str, pattern: str) -> int:
    found = re.findall(pattern, text, flags=re.IGNORECASE | re.DOTALL)
    assert len(found) == 1, (pattern, found)
    return int(found[0])


def test_readme_and_project_yml_say_the_same_time_for_all():
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    project = (ROOT / "project.yml").read_text(encoding="utf8")
    said_readme = minutes_said(readme, r"`spacy project run all` takes about (\d+) minutes")
    said_project = minutes_said(project, r"about (\d+) minutes on 2 (?:CPU )?cores")
    assert said_readme == said_project


def test_no_file_points_to_a_design_document_the_repository_lacks():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    if (ROOT / "DESIGN.md").is_file():
        return
    pointing = [
        name for name in tracked
        if not name.startswith("tests/") and (ROOT / name).is_file()
        and "DESIGN.md" in (ROOT / name).read_text(encoding="utf8", errors="replace")
    ]
    assert not pointing, f"these files point to a DESIGN.md that is not in the repository: {pointing}"


def test_plugin_source_without_direct_url_is_the_imported_checkout(monkeypatch):
    """An editable install by an older pip leaves spacy_lstm.egg-info (no direct_url.json) in
    the checkout, and that metadata is what importlib finds: the checkout is still found."""
    import importlib.metadata

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    try:
        from package_model import plugin_source
    finally:
        sys.path.pop(0)

    class NoDirectUrl:
        def read_text(self, name):
            return None

    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: NoDirectUrl())
    source = plugin_source(None)
    assert (source / "setup.py").is_file() and (source / "spacy_lstm" / "__init__.py").is_file()
    assert plugin_source(Path("elsewhere")) == Path("elsewhere")
