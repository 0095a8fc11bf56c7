"""`spacy train` / `spacy evaluate` with the shipped configs, end to end, on tiny data."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.cli.evaluate import evaluate
from spacy.tokens import DocBin

from test_textcat import review_texts

CONFIGS = Path(__file__).parent.parent / "configs"
TINY_OVERRIDES = ["--training.max_steps", "40", "--training.eval_frequency", "20"]


def write_docbins(path: Path, multilabel: bool) -> None:
    nlp = spacy.blank("en")
    for split, n, seed in (("train", 40, 0), ("dev", 12, 1)):
        db = DocBin()
        for text, y in review_texts(n, seed):
            doc = nlp.make_doc(text)
            doc.cats = {"pos": float(y == "pos"), "neg": float(y == "neg")}
            if multilabel:
                doc.cats["short"] = float(len(doc) < 7)
            db.add(doc)
        db.to_disk(path / f"{split}.spacy")


@pytest.mark.parametrize(
    "config,component",
    [("textcat_lstm.cfg", "lstm_textcat"), ("textcat_lstm_multilabel.cfg", "lstm_textcat_multilabel")],
)
def test_spacy_train_and_evaluate(tmp_path, config, component):
    write_docbins(tmp_path, multilabel="multilabel" in config)
    model = f"--components.{component}.model"
    cmd = [
        sys.executable, "-m", "spacy", "train", str(CONFIGS / config), "-o", str(tmp_path / "out"),
        "--paths.train", str(tmp_path / "train.spacy"), "--paths.dev", str(tmp_path / "dev.spacy"),
        *TINY_OVERRIDES, f"{model}.lstm_width", "16", f"{model}.embedding_dim", "16",
        "--training.optimizer.learn_rate", "0.01",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "CATS_SCORE" in out.stdout
    best = tmp_path / "out" / "model-best"
    assert (best / component / "model").is_file()
    # `spacy evaluate`, in this process: what it runs is spaCy's, and one TensorFlow start
    # (the training above, from the entry points alone) is proof enough of the plugin's side.
    metrics = tmp_path / "metrics.json"
    evaluate(str(best), tmp_path / "dev.spacy", output=metrics, silent=True)
    scores = json.loads(metrics.read_text())
    assert 0.5 < scores["cats_score"] <= 1.0
    assert 0.0 <= scores["cats_macro_auc"] <= 1.0
    nlp = spacy.load(best)
    assert set(nlp("a great movie").cats) >= {"pos", "neg"}
