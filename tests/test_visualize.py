"""scripts/visualize.py: the embedding map colours each word by the label it pushes the
classifier towards, for the default wide-and-deep network (token ids and n-gram ids)."""
import sys
from pathlib import Path

import pytest
import spacy

from test_textcat import NEG, POS, TINY, exclusive_examples, review_texts, train

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))  # as when the scripts run

import visualize  # noqa: E402


@pytest.fixture(scope="module")
def wide_and_deep_model(tmp_path_factory):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": TINY})  # bow_ngram_size = 2: two inputs
    assert nlp.get_pipe("lstm_textcat").model.attrs["cfg"]["bow_ngram_size"] > 0
    train(nlp, exclusive_examples(nlp, review_texts(24)))
    path = tmp_path_factory.mktemp("visualize") / "model"
    nlp.to_disk(path)
    return path


def test_words_are_coloured_by_the_label_they_push_towards(wide_and_deep_model, tmp_path):
    output = tmp_path / "map.png"
    labels = visualize.plot_embeddings(str(wide_and_deep_model), output, n_words=40, seed=0)
    assert output.is_file() and output.stat().st_size > 10_000
    assert labels is not None and set(labels.values()) <= {"pos", "neg"}
    pos = [labels[w] for w in POS if w in labels]
    neg = [labels[w] for w in NEG if w in labels]
    assert len(pos) >= 5 and len(neg) >= 5
    assert pos.count("pos") >= len(pos) - 1, labels
    assert neg.count("neg") >= len(neg) - 1, labels


def test_errors_are_not_swallowed(wide_and_deep_model, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the network cannot run")

    monkeypatch.setattr(visualize, "word_labels", broken)
    with pytest.raises(RuntimeError, match="cannot run"):
        visualize.plot_embeddings(str(wide_and_deep_model), tmp_path / "map.png", n_words=40, seed=0)
