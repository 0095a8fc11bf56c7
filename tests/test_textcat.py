"""lstm_textcat / lstm_textcat_multilabel: spaCy's textcat contract with a Keras LSTM inside."""
import json
import subprocess
import sys
import textwrap

import numpy
import pytest
import spacy
import srsly
from spacy.training import Example
from thinc.api import Adam

from spacy_lstm.model_attrs import get_shim
from spacy_lstm.errors import ModelDataError, NotInitializedError

TINY = {"embedding_dim": 16, "lstm_width": 16}
POS = "great wonderful loved excellent superb fun".split()
NEG = "awful terrible hated boring bad dull".split()
FILL = "the movie film plot acting was and a it story".split()


def review_texts(n, seed=0):
    rng = numpy.random.default_rng(seed)
    out = []
    for i in range(n):
        words = list(rng.choice(FILL, 4 + i % 5)) + list(rng.choice(POS if i % 2 == 0 else NEG, 2))
        rng.shuffle(words)
        out.append((" ".join(words), "pos" if i % 2 == 0 else "neg"))
    return out


def exclusive_examples(nlp, data):
    return [
        Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(y == "pos"), "neg": float(y == "neg")}})
        for t, y in data
    ]


def train(nlp, examples, steps=30, learn_rate=0.01):
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = learn_rate
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return optimizer


@pytest.fixture(scope="module")
def trained():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": TINY})
    data = review_texts(24)
    train(nlp, exclusive_examples(nlp, data))
    return nlp, [t for t, _ in data]


def test_entry_points_resolve_without_import():
    code = textwrap.dedent(
        """
        import sys, spacy
        from spacy.util import registry
        nlp = spacy.blank("en")
        assert "tensorflow" not in sys.modules, "registering components must not import TF"
        nlp.add_pipe("lstm_textcat")
        nlp.add_pipe("lstm_textcat_multilabel")
        assert registry.architectures.get("spacy_lstm.LSTMTextCat.v1")
        print(nlp.pipe_names)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "['lstm_textcat', 'lstm_textcat_multilabel']" in out.stdout


def test_exclusive_overfits_tiny_set(trained):
    nlp, texts = trained
    data = review_texts(24)
    predicted = [max(nlp(t).cats.items(), key=lambda kv: kv[1])[0] for t, _ in data]
    assert predicted == [y for _, y in data]
    for text in texts:
        assert sum(nlp(text).cats.values()) == pytest.approx(1.0, abs=1e-5)


def test_multilabel_overfits_with_missing_values():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat_multilabel", config={"model": TINY})
    data = review_texts(24)
    examples = []
    for i, (text, y) in enumerate(data):
        cats = {"pos": float(y == "pos"), "short": float(len(text.split()) < 7)}
        if i % 4 == 3:
            del cats["short"]  # a missing value: neither 0 nor 1, not penalised
        examples.append(Example.from_dict(nlp.make_doc(text), {"cats": cats}))
    train(nlp, examples, steps=40)
    for eg in examples:
        cats = nlp(eg.reference.text).cats
        assert set(cats) == {"pos", "short"}
        for label, gold in eg.reference.cats.items():
            assert (cats[label] >= 0.5) == bool(gold), (eg.reference.text, label, cats)


def test_pipe_equals_one_by_one_and_bucketing_is_invisible(trained):
    nlp, texts = trained
    one_by_one = [nlp(t).cats for t in texts]
    for batch_size in (1, 5, 64):
        piped = [d.cats for d in nlp.pipe(texts, batch_size=batch_size)]
        for a, b in zip(piped, one_by_one):
            assert a == pytest.approx(b, abs=1e-5)


def test_fresh_process_and_n_process_2_match_in_process(trained, tmp_path):
    """A saved pipeline loaded in a fresh process gives exactly the cats of the pipeline that
    saved it. TensorFlow is not fork-safe: spaCy's forked workers must still give the same
    cats, and never hang (the subprocess has a timeout). One subprocess checks both, as each
    start pays for a TensorFlow import."""
    nlp, texts = trained
    nlp.to_disk(tmp_path / "model")
    expected = [nlp(t).cats for t in texts]
    code = textwrap.dedent(
        f"""
        import json, spacy
        nlp = spacy.load({str(tmp_path / 'model')!r})
        texts = {texts!r}
        one_by_one = [nlp(t).cats for t in texts]  # TensorFlow is running in the parent before the fork
        print(json.dumps([one_by_one, [d.cats for d in nlp.pipe(texts, n_process=2, batch_size=4)]]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    fresh, forked = json.loads(out.stdout.strip().splitlines()[-1])
    assert fresh == expected
    assert len(forked) == len(expected)
    for a, b in zip(forked, expected):
        assert a == pytest.approx(b, abs=1e-5)


def test_bytes_and_disk_round_trips_are_exact(trained, tmp_path):
    nlp, texts = trained
    expected = [nlp(t).cats for t in texts]
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("lstm_textcat", config={"model": TINY})
    nlp2.from_bytes(nlp.to_bytes())
    assert [nlp2(t).cats for t in texts] == expected
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert [loaded(t).cats for t in texts] == expected
    # and in a fresh process: test_fresh_process_and_n_process_2_match_in_process


def test_saved_model_holds_no_pickle(trained, tmp_path):
    nlp, _ = trained
    nlp.to_disk(tmp_path / "model")
    blob = (tmp_path / "model" / "lstm_textcat" / "model").read_bytes()
    assert b"spacy-lstm.weights" in blob
    # Every bytes value, down through nested msgpack, is msgpack, an array or text: none is a
    # pickle (which always starts with its protocol byte, 0x80). Searching the whole file for
    # a pickle header instead would match random weight bytes now and then.
    leaves = []

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, bytes):
            try:
                walk(srsly.msgpack_loads(value))
            except Exception:
                leaves.append(value)

    walk(srsly.msgpack_loads(blob))
    assert not [leaf[:8] for leaf in leaves if leaf[:1] == b"\x80"]


def test_learning_rate_schedule_reaches_keras():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": TINY})
    examples = exclusive_examples(nlp, review_texts(8))
    nlp.initialize(lambda: examples)
    optimizer = Adam(learn_rate=[0.0, 0.0, 0.005, 0.001])
    shim = get_shim(nlp.get_pipe("lstm_textcat").model)
    before = shim.get_weights()
    seen = []
    for step in range(4):
        weights = shim.get_weights()
        nlp.update(examples, sgd=optimizer)
        seen.append(float(shim.keras_optimizer.learning_rate.numpy()))
        changed = any(not numpy.array_equal(weights[k], v) for k, v in shim.get_weights().items())
        assert changed == (optimizer.learn_rate > 0), step
        optimizer.step_schedules()
    assert seen == pytest.approx([0.0, 0.0, 0.005, 0.001])
    assert any(not numpy.array_equal(before[k], v) for k, v in shim.get_weights().items())


def test_optimizer_settings_map_onto_keras():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": TINY})
    examples = exclusive_examples(nlp, review_texts(4))
    nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=Adam(0.001, L2=0.01, grad_clip=2.0, beta1=0.8, beta2=0.99))
    keras_opt = get_shim(nlp.get_pipe("lstm_textcat").model).keras_optimizer
    assert type(keras_opt).__name__ == "AdamW"
    assert keras_opt.weight_decay == pytest.approx(0.01)
    assert keras_opt.clipnorm == pytest.approx(2.0)
    assert keras_opt.beta_1 == pytest.approx(0.8) and keras_opt.beta_2 == pytest.approx(0.99)


def test_update_without_sgd_accumulates_until_finish_update():
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("lstm_textcat", config={"model": TINY})
    examples = exclusive_examples(nlp, review_texts(8))
    optimizer = nlp.initialize(lambda: examples)
    shim = get_shim(textcat.model)
    before = shim.get_weights()
    losses = textcat.update(examples)  # no sgd, as in spaCy's training loop: the step waits
    assert all(numpy.array_equal(before[k], v) for k, v in shim.get_weights().items())
    textcat.finish_update(optimizer)
    assert losses["lstm_textcat"] > 0  # known once the fused step ran
    after = shim.get_weights()
    assert any(not numpy.array_equal(before[k], v) for k, v in after.items())
    textcat.finish_update(optimizer)  # nothing waiting: a no-op, not a zero-gradient Adam step
    assert all(numpy.array_equal(after[k], v) for k, v in shim.get_weights().items())


def test_gradient_accumulation_sums_batches():
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("lstm_textcat", config={"model": TINY})
    examples = exclusive_examples(nlp, review_texts(8))
    optimizer = nlp.initialize(lambda: examples)
    losses = {}
    textcat.update(examples[:4], losses=losses)
    textcat.update(examples[4:], losses=losses)
    before = get_shim(textcat.model).get_weights()
    textcat.finish_update(optimizer)
    assert losses["lstm_textcat"] > 0
    assert any(not numpy.array_equal(before[k], v) for k, v in get_shim(textcat.model).get_weights().items())


def test_thinc_begin_update_protocol_trains():
    """spaCy's generic loop (begin_update -> get_loss -> backprop -> finish_update) works too."""
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("lstm_textcat", config={"model": TINY})
    examples = exclusive_examples(nlp, review_texts(12))
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.01
    docs = [eg.predicted for eg in examples]
    first = None
    for _ in range(15):
        scores, backprop = textcat.model.begin_update(docs)
        loss, d_scores = textcat.get_loss(examples, scores)
        first = loss if first is None else first
        backprop(d_scores)
        textcat.finish_update(optimizer)
    assert loss < first * 0.5


def test_add_label_after_training_keeps_what_was_learned(trained):
    nlp, texts = trained
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("lstm_textcat", config={"model": TINY})
    nlp2.from_bytes(nlp.to_bytes())
    textcat = nlp2.get_pipe("lstm_textcat")
    before = nlp2(texts[0]).cats
    assert textcat.add_label("neutral") == 1
    after = nlp2(texts[0]).cats
    assert set(after) == {"pos", "neg", "neutral"}
    assert max(after, key=after.get) == max(before, key=before.get)


def test_positive_label_and_scores_from_spacy_scorer():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": TINY})
    examples = exclusive_examples(nlp, review_texts(16))
    nlp.get_pipe("lstm_textcat").initialize(lambda: examples, nlp=nlp, positive_label="pos")
    optimizer = nlp.create_optimizer()
    optimizer.learn_rate = 0.01
    for _ in range(25):
        nlp.update(examples, sgd=optimizer)
    scores = nlp.evaluate(examples)
    assert scores["cats_score_desc"] == "F (pos)"
    assert scores["cats_score"] == pytest.approx(1.0)
    assert 0.0 <= scores["cats_macro_auc"] <= 1.0
    with pytest.raises(ValueError, match="E920"):
        nlp.get_pipe("lstm_textcat").initialize(lambda: examples, nlp=nlp, positive_label="nope")


def test_empty_whitespace_and_huge_documents(trained):
    nlp, _ = trained
    for text in ("", "   \n\t "):
        cats = nlp(text).cats
        assert set(cats) == {"pos", "neg"}
        assert sum(cats.values()) == pytest.approx(1.0, abs=1e-5)
    huge = ("the movie was great " * 50_000)[:999_999]
    cats = nlp(huge).cats  # truncated to max_length tokens, not an out-of-memory crash
    assert cats["pos"] > cats["neg"]


def test_truncation_keeps_head_and_tail():
    from spacy_lstm.textcat.featurize import truncate

    ids = numpy.arange(10)
    assert truncate(ids, 4, "head").tolist() == [0, 1, 2, 3]
    assert truncate(ids, 4, "tail").tolist() == [6, 7, 8, 9]
    assert truncate(ids, 5, "head_tail").tolist() == [0, 1, 2, 8, 9]
    assert truncate(ids, 0, "head").tolist() == list(range(10))


def test_numpy_runtime_matches_keras():
    """Forked workers predict with NumPy: it must be the same function as the Keras net."""
    from spacy_lstm.keras import numpy_networks
    from spacy_lstm.keras.networks import build_text_classifier

    rng = numpy.random.default_rng(0)
    ids = rng.integers(2, 30, size=(4, 9)).astype("int32")
    ids[0, 5:] = 0
    ids[2, 1:] = 0
    for pooling in ("last", "max", "mean", "max_mean", "attention"):
        for bidirectional in (False, True):
            cfg = dict(lstm_depth=2, bidirectional=bidirectional, pooling=pooling, hidden_width=5)
            net = build_text_classifier(
                vocab_size=30, n_labels=3, embedding_dim=6, lstm_width=4, lstm_depth=2,
                bidirectional=bidirectional, dropout=0.0, recurrent_dropout=0.0, pooling=pooling,
                attention_width=3, hidden_width=5,
            )
            weights = {v.path: v.numpy() for v in net.weights}
            expected = net(ids).numpy()
            got = numpy_networks.text_classifier(weights, ids, cfg)
            numpy.testing.assert_allclose(got, expected, atol=1e-5, err_msg=f"{pooling} bi={bidirectional}")


def test_wide_and_deep_bag_of_ngrams(tmp_path):
    """bow_ngram_size adds TextCatBOW-style n-gram weights to the LSTM logits: it trains, its
    NumPy twin agrees with Keras (forked workers), and it survives save/load and add_label."""
    from spacy_lstm.keras import numpy_networks
    from spacy_lstm.textcat.model import textcat_features
    from spacy_lstm.textcat.featurize import network_inputs

    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": {**TINY, "bow_ngram_size": 2, "bow_length": 5000}})
    data = review_texts(24)
    train(nlp, exclusive_examples(nlp, data), steps=20)
    assert [max(nlp(t).cats.items(), key=lambda kv: kv[1])[0] for t, _ in data] == [y for _, y in data]
    model = nlp.get_pipe("lstm_textcat").model
    shim = get_shim(model)
    weights = shim.get_weights()
    assert weights["bow_weights/embeddings"].shape == (5000, 2)
    assert numpy.abs(weights["bow_weights/embeddings"]).sum() > 0  # the wide part learned too
    features = textcat_features(model, [nlp.make_doc(t) for t, _ in data] + [nlp.make_doc("")])
    inputs = network_inputs(features, range(len(data) + 1))
    logits = numpy_networks.text_classifier(weights, inputs, model.attrs["cfg"])
    probs = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
    numpy.testing.assert_allclose(probs, shim.predict(inputs), atol=1e-5)
    nlp.to_disk(tmp_path / "model")
    texts = [t for t, _ in data]
    loaded = spacy.load(tmp_path / "model")
    assert [loaded(t).cats for t in texts] == [nlp(t).cats for t in texts]
    nlp.get_pipe("lstm_textcat").add_label("neutral")
    assert set(nlp(texts[0]).cats) == {"pos", "neg", "neutral"}


def test_hashed_ngrams_are_order_sensitive_and_in_range():
    from spacy_lstm.textcat.featurize import hashed_ngrams

    hashes = numpy.asarray([11, 22, 33], dtype="uint64")
    ids = hashed_ngrams(hashes, 2, 100)
    assert len(ids) == 3 + 2 and ids.min() >= 1 and ids.max() < 100
    reversed_ids = hashed_ngrams(hashes[::-1].copy(), 2, 100)
    assert sorted(ids[:3]) == sorted(reversed_ids[:3])  # same unigrams
    assert list(ids[3:]) != list(reversed_ids[3:][::-1])  # different bigrams
    assert hashed_ngrams(hashes[:0], 2, 100).size == 0


def test_static_vectors_initialise_the_embedding():
    nlp = spacy.blank("en")
    vectors = {"great": numpy.full(8, 0.5, "f"), "awful": numpy.full(8, -0.5, "f")}
    for word, vector in vectors.items():
        nlp.vocab.set_vector(word, vector)
    nlp.add_pipe("lstm_textcat", config={"model": {**TINY, "static_vectors": True, "freeze_vectors": True}})
    examples = exclusive_examples(nlp, review_texts(8))
    optimizer = nlp.initialize(lambda: examples)
    model = nlp.get_pipe("lstm_textcat").model
    table = model.attrs["token_table"]
    embeddings = get_shim(model).get_weights()["embedding/embeddings"]
    assert embeddings.shape[1] == 8  # the vectors' width wins over embedding_dim
    assert numpy.allclose(embeddings[table.tokens.index("great")], 0.5)
    nlp.update(examples, sgd=optimizer)
    after = get_shim(model).get_weights()["embedding/embeddings"]
    assert numpy.array_equal(after, embeddings)  # frozen


def test_static_vectors_without_vectors_is_a_clear_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": {**TINY, "static_vectors": True}})
    with pytest.raises(ValueError, match="spacy init vectors"):
        nlp.initialize(lambda: exclusive_examples(nlp, review_texts(4)))


# --- bad input: each gets an error naming the problem and the fix -----------------------------


def test_untrained_component_names_the_fix():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat")
    with pytest.raises(NotInitializedError, match="spacy train|initialize"):
        nlp("A review")


@pytest.mark.parametrize("factory", ["lstm_textcat", "lstm_textcat_multilabel"])
def test_loss_is_a_mean_over_the_batch(factory):
    """The same examples twice, with their scores, give the same loss and half the gradient per
    row. spaCy's test_issue9904 checks this with `scores.repeat(2, axis=0)`, which pairs the
    scores with the wrong examples and holds only when every doc has the same scores, so
    its intent is tested here with the scores aligned. Missing multilabel values add nothing."""
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe(factory, config={"model": TINY})
    for label in ("a", "b", "c"):
        textcat.add_label(label)
    cats = [{"a": 1.0, "b": 0.0, "c": 0.0}, {"a": 0.0, "b": 1.0, "c": 0.0}, {"a": 0.0, "b": 0.0, "c": 1.0}]
    multilabel = factory == "lstm_textcat_multilabel"
    if multilabel:
        del cats[1]["c"]  # a missing value
    examples = [Example.from_dict(nlp.make_doc(f"doc {i}"), {"cats": c}) for i, c in enumerate(cats)]
    scores = numpy.asarray([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.1, 0.8]], dtype="f")
    loss, d_scores = textcat.get_loss(examples, scores)
    if multilabel:  # binary cross-entropy, averaged over the 8 cells that are not missing
        truths = numpy.asarray([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
        cells = -(truths * numpy.log(scores) + (1 - truths) * numpy.log(1 - scores))
        assert loss == pytest.approx((cells.sum() - cells[1, 2]) / 8, rel=1e-5)
        assert d_scores[1, 2] == 0.0
        changed = scores.copy()
        changed[1, 2] = 0.9
        assert textcat.get_loss(examples, changed)[0] == pytest.approx(loss, rel=1e-6)
    else:  # cross-entropy of the gold class, averaged over the docs
        assert loss == pytest.approx(-numpy.log([0.7, 0.6, 0.8]).mean(), rel=1e-5)
    loss_twice, d_scores_twice = textcat.get_loss(examples * 2, numpy.concatenate([scores, scores]))
    assert loss_twice == pytest.approx(loss, rel=1e-6)
    numpy.testing.assert_allclose(d_scores_twice, numpy.concatenate([d_scores, d_scores]) / 2, rtol=1e-6)


@pytest.mark.parametrize("factory", ["lstm_textcat", "lstm_textcat_multilabel"])
def test_fixed_seed_gives_identical_results(factory):
    """thinc's fix_random_seed makes initialisation and training reproducible (spaCy's
    test_issue5551), also with a doc shorter than the n-gram size (spaCy's test_issue3611):
    spaCy's versions of both pass spaCy's own architectures, so they do not run against us."""
    from thinc.api import fix_random_seed

    results = []
    for _ in range(2):
        fix_random_seed(0)
        nlp = spacy.blank("en")
        textcat = nlp.add_pipe(factory, config={"model": {**TINY, "bow_ngram_size": 2}})
        data = [("This is an offensive text", "neg"), ("inoff", "pos")]
        examples = exclusive_examples(nlp, data)
        optimizer = nlp.initialize(lambda: examples)
        for _ in range(3):
            nlp.update(examples, sgd=optimizer)
        results.append(textcat.predict([eg.predicted for eg in examples]))
    numpy.testing.assert_array_equal(results[0], results[1])


def test_bad_gold_is_rejected(trained):
    nlp, _ = trained
    optimizer = nlp.create_optimizer()
    doc = nlp.make_doc("a review")
    with pytest.raises(ValueError, match="E895.*use `lstm_textcat_multilabel`: configs/textcat_lstm_multilabel.cfg"):
        nlp.update([Example.from_dict(doc, {"cats": {"pos": 1.0, "neg": 1.0}})], sgd=optimizer)
    with pytest.raises(ValueError, match="E851"):
        nlp.update([Example.from_dict(doc, {"cats": {"pos": 0.7, "neg": 0.3}})], sgd=optimizer)
    with pytest.raises(ValueError, match="does not know.*add_label"):
        nlp.update([Example.from_dict(doc, {"cats": {"pos": 1.0, "neg": 0.0, "meh": 0.0}})], sgd=optimizer)


def test_fewer_than_two_labels_is_rejected():
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": TINY})
    examples = [Example.from_dict(nlp.make_doc("good"), {"cats": {"pos": 1.0}})]
    with pytest.raises(ValueError, match="E867"):
        nlp.initialize(lambda: examples)


def test_missing_or_corrupted_weights(trained, tmp_path):
    nlp, _ = trained
    nlp.to_disk(tmp_path / "missing")
    (tmp_path / "missing" / "lstm_textcat" / "model").unlink()
    with pytest.raises(ModelDataError, match="missing"):
        spacy.load(tmp_path / "missing")
    nlp.to_disk(tmp_path / "corrupt")
    weights_file = tmp_path / "corrupt" / "lstm_textcat" / "model"
    weights_file.write_bytes(weights_file.read_bytes()[: 500])
    with pytest.raises(ModelDataError, match="corrupted"):
        spacy.load(tmp_path / "corrupt")


def test_bad_architecture_settings():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="Unknown pooling .median.. Choose one of"):
        nlp.add_pipe("lstm_textcat", config={"model": {"pooling": "median"}})
    with pytest.raises(ValueError, match="Unknown token attribute .COLOUR."):
        nlp.add_pipe("lstm_textcat", name="t2", config={"model": {"attr": "COLOUR"}})


def test_numeric_token_attributes_are_refused():
    """The token table holds strings: LENGTH or IS_ALPHA would fill it with symbol names."""
    nlp = spacy.blank("en")
    for attr in ("LENGTH", "is_alpha", "IDX"):
        with pytest.raises(ValueError, match=f"Token attribute '{attr}' holds numbers.*string attribute"):
            nlp.add_pipe("lstm_textcat", name=f"t_{attr}", config={"model": {"attr": attr}})
    for attr in ("NORM", "lemma", "SHAPE"):  # string attributes are fine
        nlp.add_pipe("lstm_textcat", name=f"t_{attr}", config={"model": {"attr": attr}})


def test_settings_come_from_the_config_not_the_weights_file(trained, tmp_path):
    """A prediction-time setting edited in the saved config applies on load (the weights file
    carries no stale copy of the architecture settings)."""
    nlp, texts = trained
    nlp.to_disk(tmp_path / "model")
    config = (tmp_path / "model" / "config.cfg").read_text()
    assert "batch_size = 256" in config
    (tmp_path / "model" / "config.cfg").write_text(config.replace("batch_size = 256", "batch_size = 3"))
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("lstm_textcat").model.attrs["cfg"]["batch_size"] == 3
    for a, b in zip([d.cats for d in loaded.pipe(texts)], [nlp(t).cats for t in texts]):
        assert a == pytest.approx(b, abs=1e-5)
