"""lstm_generator: training, generation, scoring, serialisation, spacy train, CLI, errors."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.training import Example
from thinc.api import Config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
TEXT = "the cat sat on the mat. " * 40
TINY = {"seq_length": 20, "model": {"lstm_width": 64, "embedding_dim": 16}}


def make_examples(nlp, text=TEXT, size=240):
    docs = [nlp.make_doc(text[i : i + size]) for i in range(0, len(text), size)]
    return [Example(d, d) for d in docs]


def train_tiny(config=TINY, steps=150, lr=0.01):
    nlp = spacy.blank("en")
    gen = nlp.add_pipe("lstm_generator", config=config)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = lr
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp, gen


@pytest.fixture(scope="module")
def trained():
    return train_tiny()


def run_spacy(*args, timeout=240):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONIOENCODING="utf8")
    return subprocess.run(
        [sys.executable, "-m", "spacy", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


# --- learning and generation -------------------------------------------------------------------


def test_learns_repetitive_text_greedy_reproduces_it(trained):
    nlp, gen = trained
    # "the " alone is ambiguous (cat / mat): greedy may pick either, depending on training
    out = gen.generate("mat. the ", max_length=40, temperature=0)
    assert out == ["cat sat on the mat. the cat sat on the m"]
    assert gen.generate("on the", max_length=8, temperature=0, n=3) == [" mat. th"] * 3


def test_seed_reproducible_and_seeds_differ(trained):
    _, gen = trained
    kwargs = dict(n=2, max_length=60, temperature=3.0)
    a = gen.generate("the ", seed=1, **kwargs)
    assert a == gen.generate("the ", seed=1, **kwargs)
    assert a != gen.generate("the ", seed=2, **kwargs)
    assert all(len(t) == 60 for t in a)


def test_top_k_one_is_greedy(trained):
    _, gen = trained
    greedy = gen.generate("sat ", max_length=30, temperature=0)
    assert gen.generate("sat ", max_length=30, temperature=1.5, top_k=1, seed=3) == greedy
    assert gen.generate("sat ", max_length=30, temperature=0.8, top_p=1e-6, seed=4) == greedy


def test_stop_strings(trained):
    _, gen = trained
    assert gen.generate("mat. the ", max_length=100, temperature=0, stop=".") == ["cat sat on the mat"]
    assert gen.generate("mat. the ", max_length=100, temperature=0, stop=["zz", "on t"]) == ["cat sat "]
    # a stop string that never occurs: full length; max_length 0: empty
    assert len(gen.generate("the ", max_length=50, temperature=0, stop="xyz")[0]) == 50
    assert gen.generate("the ", max_length=0, n=2) == ["", ""]


def test_stream_equals_batch(trained):
    _, gen = trained
    for kwargs in (
        dict(max_length=80, temperature=2.0, seed=7),
        dict(max_length=80, temperature=2.0, seed=7, stop=["mat"]),
        dict(max_length=80, temperature=0, stop=". the"),
    ):
        pieces = list(gen.generate_stream("the ", **kwargs))
        (text,) = gen.generate("the ", n=1, **kwargs)
        assert "".join(pieces) == text
        assert len(pieces) >= len(text) - 4  # streamed unit by unit (stop prefixes held back)


def test_block_sizes_do_not_change_the_text(trained, monkeypatch):
    from spacy_lstm.generator import generation

    _, gen = trained
    kwargs = dict(n=3, max_length=150, temperature=1.5, top_k=20, top_p=0.95, seed=9)
    texts = gen.generate("the ", **kwargs)  # blocks of 16 + 128 + 6 units
    assert all(len(t) == 150 for t in texts)
    # a shorter max_length gives a prefix: unit i is drawn with the key (seed, i)
    short = gen.generate("the ", **dict(kwargs, max_length=20))
    assert short == [t[:20] for t in texts]
    monkeypatch.setattr(generation, "FIRST_BLOCK", 3)
    monkeypatch.setattr(generation, "BLOCK", 7)
    assert gen.generate("the ", **kwargs) == texts
    stopped = gen.generate("the ", **dict(kwargs, stop=["at"]))
    assert stopped == [t[: t.index("at")] if "at" in t else t for t in texts]
    pieces = list(gen.generate_stream("the ", max_length=150, temperature=1.5, seed=9))
    monkeypatch.undo()
    assert "".join(pieces) == gen.generate("the ", max_length=150, temperature=1.5, seed=9)[0]


def test_generate_block_settings_are_tensors(trained):
    _, gen = trained
    shim = gen.model.shims[0]
    logits, states = shim.feed(gen.prompt_ids("the ")[None].repeat(2, axis=0))
    settings = dict(temperature=1.0, top_k=None, top_p=None, seed=5, banned_ids=(0, 1))
    whole, _, _ = shim.generate_block(logits, states, 30, start=0, **settings)
    first, logits2, states2 = shim.generate_block(logits, states, 7, start=0, **settings)
    rest, _, _ = shim.generate_block(logits2, states2, 23, start=7, **settings)
    assert whole.shape == (2, 30) and whole.dtype == numpy.int32
    numpy.testing.assert_array_equal(numpy.concatenate([first, rest], axis=1), whole)
    assert not numpy.isin(whole, [0, 1]).any()
    fn = shim._graphs["_generate_block_graph"]
    for temperature, top_k, top_p in ((0.0, None, None), (0.5, 3, 0.9), (2.0, 1, None)):
        ids, _, _ = shim.generate_block(logits[:1], tuple((h[:1], c[:1]) for h, c in states), 5, start=0,
                                        **dict(settings, temperature=temperature, top_k=top_k, top_p=top_p))
        assert ids.shape == (1, 5)
    assert shim._graphs["_generate_block_graph"] is fn  # one graph for every setting
    assert fn.experimental_get_tracing_count() == 1


def test_unseen_prompt_units_and_empty_prompt(trained):
    _, gen = trained
    (text,) = gen.generate("ZQ€ the ", max_length=20, temperature=0)
    assert len(text) == 20 and set(text) <= set(TEXT)
    assert len(gen.generate("", max_length=10, temperature=0.5, seed=0)[0]) == 10


def test_stateful_steps_match_full_network(trained):
    _, gen = trained
    shim = gen.model.shims[0]
    ids = gen.prompt_ids("the cat sat on the")
    full = shim.network(ids[None]).numpy()[0]
    logits, states = shim.feed(ids[None, :5])
    numpy.testing.assert_allclose(logits[0], full[4], atol=1e-4)
    for t in range(5, len(ids)):
        logits, states = shim.feed(ids[None, t : t + 1], states)  # one step from the states
        numpy.testing.assert_allclose(logits[0], full[t], atol=1e-4)


def test_perplexity_typical_below_random(trained):
    nlp, _ = trained
    rng = numpy.random.default_rng(0)
    alphabet = list("abcdefghijklmnopqrstuvwxyz .")
    random_text = "".join(rng.choice(alphabet, size=200))
    typical = nlp("the cat sat on the mat. the cat sat on the mat. the cat")
    noise = nlp(random_text)
    assert typical._.lstm_perplexity < 1.5 < 5 < noise._.lstm_perplexity
    assert typical._.lstm_bpc < noise._.lstm_bpc
    assert nlp("a")._.lstm_perplexity is None  # nothing to score
    scores = nlp.evaluate(make_examples(nlp))
    assert scores["lstm_bpc"] < 0.5 and 0.7 < scores["lstm_score"] <= 1.0
    assert scores["lstm_score"] == pytest.approx(2 ** -scores["lstm_bpc"])


def test_numpy_scoring_matches_tensorflow(trained):
    from spacy_lstm.keras import fork

    nlp, gen = trained
    shim = gen.model.shims[0]
    ids = gen.prompt_ids("the cat sat on the mat. the")[None]
    tf_nll = shim.nll(ids[:, :-1], ids[:, 1:])
    shim.snapshot_weights()
    fork._FORKED = True  # as in a forked worker
    try:
        np_nll = shim.nll(ids[:, :-1], ids[:, 1:])
    finally:
        fork._FORKED = False
    numpy.testing.assert_allclose(np_nll, tf_nll, atol=1e-4)


# --- serialisation -----------------------------------------------------------------------------


def test_to_bytes_round_trip(trained):
    nlp, gen = trained
    kwargs = dict(n=3, max_length=50, temperature=1.2, top_p=0.9, seed=11)
    expected = gen.generate("the ", **kwargs)
    nlp2 = spacy.blank("en")
    gen2 = nlp2.add_pipe("lstm_generator", config=TINY)
    gen2.from_bytes(gen.to_bytes())
    assert gen2.units == gen.units
    assert gen2.generate("the ", **kwargs) == expected


def test_to_disk_spacy_load_round_trip(trained, tmp_path):
    nlp, gen = trained
    kwargs = dict(n=2, max_length=50, temperature=1.0, top_k=5, seed=5)
    nlp.to_disk(tmp_path / "gen")
    assert not list((tmp_path / "gen").rglob("*.pkl")) and not list((tmp_path / "gen").rglob("*.keras"))
    nlp2 = spacy.load(tmp_path / "gen")
    assert nlp2.get_pipe("lstm_generator").generate("the ", **kwargs) == gen.generate("the ", **kwargs)
    text = "the cat sat on the mat."
    assert nlp2(text)._.lstm_perplexity == pytest.approx(nlp(text)._.lstm_perplexity, rel=1e-5)


def test_token_level_units_keep_whitespace():
    config = {"seq_length": 8, "model": {"level": "token", "lstm_width": 32, "embedding_dim": 16}}
    nlp, gen = train_tiny(config, steps=120)
    assert "cat " in gen.units and "." not in gen.units and ". " in gen.units
    # the prompt's last token keeps its whitespace: "cat " is the unit the model knows
    assert gen.generate("the cat ", max_length=6, temperature=0) == ["sat on the mat. the "]
    assert nlp("the cat sat on the mat. the cat ")._.lstm_perplexity < 2.0


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(temperature=-0.5), "temperature"),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(top_k=0), "top_k"),
        (dict(n=0), "n must be"),
        (dict(max_length=-1), "max_length"),
        (dict(stop=[""]), "stop"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_generation_arguments(trained, kwargs, match):
    _, gen = trained
    with pytest.raises(ValueError, match=match):
        gen.generate("the ", **kwargs)
    if "n" not in kwargs:
        with pytest.raises(ValueError, match=match):
            list(gen.generate_stream("the ", **kwargs))


def test_factory_declares_every_doc_extension_it_assigns():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_generator")
    assigns = nlp.get_pipe_meta("lstm_generator").assigns
    assert set(assigns) == {"doc._.lstm_perplexity", "doc._.lstm_bpc", "doc._.lstm_unknown_share", "doc._.lstm_lm_stats"}


def test_generate_untrained_component():
    from spacy_lstm.errors import NotInitializedError

    nlp = spacy.blank("en")
    gen = nlp.add_pipe("lstm_generator")
    with pytest.raises(NotInitializedError, match="not been trained or initialized"):
        gen.generate("the ")
    with pytest.raises(NotInitializedError, match="not been trained or initialized"):
        nlp("some text")


def test_bad_corpora(tmp_path):
    from spacy.util import registry

    nlp = spacy.blank("en")
    gen = nlp.add_pipe("lstm_generator", config={"seq_length": 50})
    with pytest.raises(ValueError, match="training corpus is empty"):
        nlp.initialize(lambda: [])
    short = [Example(d, d) for d in [nlp.make_doc("too short")]]
    with pytest.raises(ValueError, match="smaller than one training sequence.*9 characters.*seq_length = 50"):
        nlp.initialize(lambda: short)
    empty = [Example(d, d) for d in [nlp.make_doc("")]]
    with pytest.raises(ValueError, match="contains no text"):
        nlp.initialize(lambda: empty)
    reader = registry.readers.get("spacy_lstm.PlainTextCorpus.v1")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("  \n")
    with pytest.raises(ValueError, match="contains no text"):
        list(reader(tmp_path / "empty")(nlp))
    with pytest.raises(Exception, match="missing"):
        reader(tmp_path / "missing")
    assert gen is nlp.get_pipe("lstm_generator")


# --- spacy train, sourcing, CLI ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    text = ("ROMEO: the cat sat on the mat.\nJULIET: the dog lay on the log.\n\n") * 60
    for split, body in (("train", text), ("dev", text[:600])):
        (root / split).mkdir()
        (root / split / "text.txt").write_text(body, encoding="utf8")
    return root


TINY_TRAIN = ["--training.max_steps", "30", "--training.eval_frequency", "15",
              "--components.lstm_generator.model.lstm_width", "32", "--training.optimizer.learn_rate", "0.01"]


@pytest.fixture(scope="module")
def trained_char_dir(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("train_char")
    res = run_spacy("train", str(CONFIGS / "generator_char.cfg"), "--paths.train", str(tiny_corpus / "train"),
                    "--paths.dev", str(tiny_corpus / "dev"), "-o", str(out), "--corpora.train.streams", "8",
                    "--corpora.train.piece_size", "40", "--training.batcher.size", "8",
                    "--components.lstm_generator.seq_length", "40", *TINY_TRAIN)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "LSTM_BPC" in res.stdout and "LSTM_SCORE" in res.stdout
    return out


def test_spacy_train_char_config(trained_char_dir):
    for name in ("model-best", "model-last"):
        nlp = spacy.load(trained_char_dir / name)
        gen = nlp.get_pipe("lstm_generator")
        assert gen.level == "char" and gen.seq_length == 40
        assert len(gen.generate("ROMEO:", n=2, max_length=30, seed=1)[1]) == 30
    meta = spacy.load(trained_char_dir / "model-best").meta
    assert 0 < meta["performance"]["lstm_bpc"] < 8


def test_spacy_train_token_config(tiny_corpus, tmp_path):
    res = run_spacy("train", str(CONFIGS / "generator_token.cfg"), "--paths.train", str(tiny_corpus / "train"),
                    "--paths.dev", str(tiny_corpus / "dev"), "-o", str(tmp_path), "--corpora.train.chunk_size", "300",
                    "--components.lstm_generator.seq_length", "10", *TINY_TRAIN)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "LSTM_PERP" in res.stdout
    gen = spacy.load(tmp_path / "model-best").get_pipe("lstm_generator")
    assert gen.level == "token" and "ROMEO" in gen.units
    assert gen.generate("ROMEO:", max_length=5, temperature=0)[0]


def test_resume_from_model_last_with_source(trained_char_dir, tiny_corpus, tmp_path):
    source = trained_char_dir / "model-last"
    config = Config().from_disk(CONFIGS / "generator_char.cfg", interpolate=False)
    config["components"]["lstm_generator"] = {"source": str(source)}
    config.to_disk(tmp_path / "resume.cfg")
    # sourcing in-process keeps the trained weights and unit table
    nlp = spacy.util.load_model_from_config(
        config.merge({"paths": {"train": str(tiny_corpus / "train"), "dev": str(tiny_corpus / "dev")}}), auto_fill=True
    )
    original = spacy.load(source).get_pipe("lstm_generator")
    sourced = nlp.get_pipe("lstm_generator")
    assert sourced.units == original.units
    assert sourced.generate("ROMEO:", max_length=40, temperature=0) == original.generate("ROMEO:", max_length=40, temperature=0)
    # and spacy train continues training from it
    res = run_spacy("train", str(tmp_path / "resume.cfg"), "--paths.train", str(tiny_corpus / "train"),
                    "--paths.dev", str(tiny_corpus / "dev"), "-o", str(tmp_path / "out"),
                    "--training.max_steps", "10", "--training.eval_frequency", "5", "--verbose")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Resuming training for: ['lstm_generator']" in res.stdout + res.stderr
    resumed = spacy.load(tmp_path / "out" / "model-last").get_pipe("lstm_generator")
    assert resumed.units == original.units


def spacy_cli(*args):
    """`python -m spacy ARGS`, in this process: spaCy's CLI finds its commands through the
    `spacy_cli` entry points (registry.cli), as setup_cli() does, so no TensorFlow start."""
    from spacy.cli._util import app
    from spacy.util import registry
    from typer.testing import CliRunner

    registry.cli.get_all()
    return CliRunner().invoke(app, list(args))


def test_cli_prints_samples(trained_char_dir):
    from spacy.cli._util import app
    from spacy.util import registry
    from spacy_lstm.cli.generate import generate_cli

    assert "lstm-generate" in registry.cli.get_all()  # the spacy_cli entry point
    assert {c.name: c.callback for c in app.registered_commands}.get("lstm-generate") is generate_cli
    res = spacy_cli("lstm-generate", str(trained_char_dir / "model-best"), "--prompt", "ROMEO:", "--n", "2",
                    "--max-length", "25", "--temperature", "0.7", "--seed", "1")
    assert res.exit_code == 0, res.output
    assert "Sample 1" in res.output and "Sample 2" in res.output
    assert res.output.count("ROMEO:") >= 2
    bad = spacy_cli("lstm-generate", str(trained_char_dir / "model-best"), "--temperature", "-1")
    assert bad.exit_code == 1 and "temperature" in bad.output


def test_cli_corrupt_model_is_a_clean_error(trained_char_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(trained_char_dir / "model-best", model)
    weights = model / "lstm_generator" / "model"
    weights.write_bytes(weights.read_bytes()[:300])
    res = spacy_cli("lstm-generate", str(model), "--max-length", "10")
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception  # no traceback
    assert "Could not load the pipeline" in res.output and "corrupted" in res.output
