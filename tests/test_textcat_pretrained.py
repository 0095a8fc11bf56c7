"""lstm_textcat initialised from an lstm_generator language model (textcat/pretrained.py), the
fine-tuning options, and honest scores for units the language model does not know."""
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam

from spacy_lstm.model_attrs import get_shim
from spacy_lstm.textcat.pretrained import pretrained_paths
from test_textcat import exclusive_examples, review_texts

CONFIGS = Path(__file__).parent.parent / "configs"
WIDTHS = {"embedding_dim": 8, "lstm_width": 8}
TEXTCAT = {"@architectures": "spacy_lstm.LSTMTextCat.v2", "bidirectional": False, **WIDTHS}


def train_language_model(path: Path, level="token", attr="LOWER", steps=20, **model):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_generator", config={
        "seq_length": 8,
        "model": {"@architectures": "spacy_lstm.LSTMGenerator.v2", "level": level, "attr": attr, "max_vocab": 60, **WIDTHS, **model},
    })
    docs = [nlp.make_doc(text) for text, _ in review_texts(40, seed=7)]
    examples = [Example(d, d) for d in docs]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path)
    return nlp


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / "model-best"
    lm = train_language_model(path)
    return path, lm


def pretrained_textcat(path, **model):
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("lstm_textcat", config={"model": {**TEXTCAT, **model}})
    examples = exclusive_examples(nlp, review_texts(30))
    textcat.initialize(lambda: examples, nlp=nlp, language_model=str(path))
    return nlp, textcat, examples


def test_initialisation_copies_the_language_model(language_model):
    path, lm = language_model
    nlp, textcat, _ = pretrained_textcat(path)
    lm_model = lm.get_pipe("lstm_generator").model
    lm_table = lm_model.attrs["unit_table"].tokens
    table = textcat.model.attrs["token_table"].tokens
    assert table[: len(lm_table)] == lm_table  # the same ids for the same tokens
    ours, theirs = get_shim(textcat.model).get_weights(), get_shim(lm_model).get_weights()
    numpy.testing.assert_array_equal(ours["embedding/embeddings"][1 : len(lm_table)], theirs["embedding/embeddings"][1:])
    for name in pretrained_paths(1):
        numpy.testing.assert_array_equal(ours[name], theirs[name])
    # tokens of the training data the language model never saw get rows too
    assert len(table) >= len(lm_table)


def test_the_pipeline_folder_or_the_component_folder(language_model):
    path, _ = language_model
    _, textcat, _ = pretrained_textcat(path / "lstm_generator")
    assert textcat.model.attrs["token_table"].tokens[2:5]


@pytest.mark.parametrize("model,message", [
    ({"bidirectional": True}, "forward LSTM only: set bidirectional = false"),
    ({"lstm_width": 16}, "set lstm_width = 8"),
    ({"embedding_dim": 4}, "set embedding_dim = 8"),
    ({"attr": "ORTH"}, 'attr = "ORTH"'),
])
def test_mismatched_language_model_names_the_setting(language_model, model, message):
    path, _ = language_model
    with pytest.raises(ValueError, match=message):
        pretrained_textcat(path, **model)


def test_character_level_or_missing_language_model(tmp_path):
    char_lm = tmp_path / "char"
    train_language_model(char_lm, level="char", attr=None, steps=1, max_vocab=40)
    with pytest.raises(ValueError, match="character level"):
        pretrained_textcat(char_lm)
    with pytest.raises(ValueError, match="does not exist"):
        pretrained_textcat(tmp_path / "nowhere")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="not a spaCy pipeline"):
        pretrained_textcat(tmp_path / "folder")
    textcat_only = tmp_path / "textcat_only"
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": {**TEXTCAT}})
    nlp.initialize(lambda: exclusive_examples(nlp, review_texts(6)))
    nlp.to_disk(textcat_only)
    with pytest.raises(ValueError, match="no lstm_generator"):
        pretrained_textcat(textcat_only)


def test_freezing_keeps_the_pretrained_layers_fixed(language_model):
    path, _ = language_model
    nlp, textcat, examples = pretrained_textcat(path, freeze_pretrained_steps=2, pretrained_lr_scale=0.5)
    shim = get_shim(textcat.model)
    before = shim.get_weights()
    optimizer = Adam(0.01, use_averages=False)
    nlp.update(examples, sgd=optimizer)
    nlp.update(examples, sgd=optimizer)
    frozen = shim.get_weights()
    for name in ["embedding/embeddings", *pretrained_paths(1)]:
        numpy.testing.assert_array_equal(frozen[name], before[name])
    assert not numpy.array_equal(frozen["logits/kernel"], before["logits/kernel"])
    nlp.update(examples, sgd=optimizer)  # step 3: unfrozen
    assert not numpy.array_equal(shim.get_weights()["lstm_0/lstm_cell/kernel"], before["lstm_0/lstm_cell/kernel"])


def test_gibberish_scores_worse_than_real_text(language_model):
    _, lm = language_model
    real = lm(" ".join(text for text, _ in review_texts(6, seed=7)))
    gibberish = lm("qwx zzv plorf gnub " * 5)
    assert gibberish._.lstm_perplexity > 3 * real._.lstm_perplexity
    assert gibberish._.lstm_unknown_share == 1.0 and real._.lstm_unknown_share < 0.2
    scores = lm.get_pipe("lstm_generator").score([Example(gibberish, gibberish)])
    assert scores["lstm_unknown_share"] == 1.0


def test_attribute_units_generate_spaced_text(language_model):
    _, lm = language_model
    text = lm.get_pipe("lstm_generator").generate("the movie", max_length=6, temperature=0, seed=0)[0]
    words = text.split()
    assert len(words) == 6 and text.endswith(" ") and all(w == w.lower() for w in words)


def test_pretrained_config_trains_end_to_end(tmp_path):
    from test_training import write_docbins

    write_docbins(tmp_path, multilabel=False)
    lm_dir = tmp_path / "lm"
    text = tmp_path / "unlabelled.txt"
    text.write_text("\n".join(t for t, _ in review_texts(60, seed=5)))
    small = ["--components.lstm_generator.model.lstm_width", "8", "--components.lstm_generator.model.embedding_dim", "8"]
    out = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(CONFIGS / "pretrain_lm.cfg"), "-o", str(lm_dir),
         "--paths.train", str(text), "--paths.dev", str(text), "--training.max_steps", "10",
         "--training.eval_frequency", "5", *small],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    model = "--components.lstm_textcat.model"
    out = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(CONFIGS / "textcat_lstm_pretrained.cfg"), "-o", str(tmp_path / "tc"),
         "--paths.train", str(tmp_path / "train.spacy"), "--paths.dev", str(tmp_path / "dev.spacy"),
         "--paths.language_model", str(lm_dir / "model-best"), "--training.max_steps", "20",
         "--training.eval_frequency", "10", f"{model}.lstm_width", "8", f"{model}.embedding_dim", "8"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    nlp = spacy.load(tmp_path / "tc" / "model-best")
    assert set(nlp("a great movie").cats) == {"pos", "neg"}
