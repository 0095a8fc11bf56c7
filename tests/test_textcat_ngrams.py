"""LSTMTextCat.v2's n-gram path: fitted at initialize on held-out folds, frozen, and the LSTM
trained on top of its out-of-fold logits."""
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from thinc.api import Adam

from spacy_lstm.model_attrs import get_shim
from spacy_lstm.textcat.featurize import ngram_hashes, ngram_ids
from spacy_lstm.textcat.char_ngrams import char_ngrams, token_char_ids
from spacy_lstm.textcat.ngram_model import char_range, fit_ngram_model, order_ranges
from test_textcat import TINY, exclusive_examples, review_texts

CONFIGS = Path(__file__).parent.parent / "configs"


V2_NGRAMS = {"ngram_model": "fitted", "truncation": "head_tail", "bow_max_length": 5, "bow_ngram_size": 3,
             "bow_length": 1000, "bow_char_ngrams": 0, "bow_char_max_length": 400}


def ngram_set(hashes, ngram_size, length):
    """v2's word n-gram ids of a whole doc, without character n-grams."""
    cfg = {**V2_NGRAMS, "bow_max_length": 0, "bow_ngram_size": ngram_size, "bow_length": length}
    return ngram_ids(hashes, cfg)


def bucket_ids(n_docs, rng, informative=(1, 2), n_buckets=64):
    """Docs as bucket-id sets: bucket 1 marks label 1, bucket 2 label 0, plus noise."""
    docs, y = [], []
    for i in range(n_docs):
        label = i % 2
        noise = rng.integers(3, n_buckets, size=5)
        docs.append(numpy.concatenate([[informative[0] if label else informative[1]], noise]))
        y.append(label)
    truths = numpy.zeros((n_docs, 2))
    truths[numpy.arange(n_docs), y] = 1.0
    return docs, truths


def test_each_order_has_its_own_bucket_range():
    hashes = numpy.asarray([11, 22, 33, 44], dtype="uint64")
    ids = ngram_set(hashes, 2, 101)
    (lo1, hi1), (lo2, hi2) = order_ranges(101, 2)
    unigrams = [i for i in ids if lo1 <= i < hi1]
    bigrams = [i for i in ids if lo2 <= i < hi2]
    assert len(unigrams) == 4 and len(bigrams) == 3 and len(ids) == 7
    assert len(ngram_hashes(hashes, 2)) == 2
    # a repeated n-gram counts once
    assert len(ngram_set(numpy.asarray([5, 5, 5], dtype="uint64"), 1, 101)) == 1


def test_without_character_ngrams_the_ids_are_those_of_before():
    """Pipelines saved before bow_char_ngrams existed load with it off: same ids, same layout
    (these arrays were computed by the code before the change)."""
    doc = spacy.blank("en").make_doc("The movie was great , great fun")
    hashes = doc.to_array("LOWER")
    assert ngram_set(hashes, 2, 262144).tolist() == [
        7210, 12171, 23512, 37273, 45779, 47945, 157835, 161573, 220488, 233439, 238988, 240578]
    assert ngram_ids(hashes, V2_NGRAMS).tolist() == [65, 166, 185, 238, 288, 360, 473, 557, 646, 682, 744, 888]
    assert order_ranges(1000, 3) == order_ranges(1000, 3, with_chars=False) == [(1, 334), (334, 667), (667, 1000)]


def test_character_ngrams_have_their_own_range_first():
    nlp = spacy.blank("en")
    doc = nlp.make_doc("The movie was great , great fun")
    cfg = {**V2_NGRAMS, "bow_char_ngrams": 5}
    ids = ngram_ids(doc.to_array("LOWER"), cfg, nlp.vocab.strings)
    (c_lo, c_hi), ranges = char_range(1000, 3), order_ranges(1000, 3, with_chars=True)
    assert (c_lo, c_hi) == (1, 250) and ranges == [(250, 499), (499, 748), (748, 997)]
    chars = ids[ids < c_hi]
    assert len(chars) > 30 and chars.min() >= c_lo
    # the word n-grams are the same n-grams in the shifted ranges: as many per order as before
    before = ngram_ids(doc.to_array("LOWER"), V2_NGRAMS)
    for (lo, hi), (old_lo, old_hi) in zip(ranges, order_ranges(1000, 3)):
        assert ((ids >= lo) & (ids < hi)).sum() == ((before >= old_lo) & (before < old_hi)).sum()
    assert char_ngrams("ab", 3) == [" a", "ab", "b ", " ab", "ab "]


def test_character_ngram_ids_are_stable_across_processes():
    """spaCy's string hash (MurmurHash), not Python's salted hash(): computed in another process."""
    nlp = spacy.blank("en")
    hashes = numpy.asarray([nlp.vocab.strings.add("great")], dtype="uint64")
    assert token_char_ids(hashes, nlp.vocab.strings, 3, (1, 101))[0].tolist() == [5, 9, 12, 13, 14, 23, 46, 54, 73, 76]


def test_character_ngrams_read_at_most_bow_char_max_length_tokens_and_the_cache_is_bounded(monkeypatch):
    from spacy_lstm.textcat import char_ngrams as module

    nlp = spacy.blank("en")
    doc = nlp.make_doc("alpha beta gamma delta epsilon zeta eta theta")
    cfg = {**V2_NGRAMS, "bow_max_length": 0, "bow_char_ngrams": 3, "bow_char_max_length": 3}
    monkeypatch.setattr(module, "CACHE_SIZE", 4)
    monkeypatch.setattr(module, "_caches", {})
    ids = ngram_ids(doc.to_array("LOWER"), cfg, nlp.vocab.strings)
    # head_tail: "alpha beta" and "theta" give character n-grams, the others do not
    read = nlp.make_doc("alpha beta theta").to_array("LOWER")
    expected = numpy.unique(numpy.concatenate(token_char_ids(read, nlp.vocab.strings, 3, char_range(1000, 3))))
    assert ids[ids < char_range(1000, 3)[1]].tolist() == expected.tolist()
    for text in ("one two three four five six seven", "eight nine ten"):
        ngram_ids(nlp.make_doc(text).to_array("LOWER"), {**cfg, "bow_char_max_length": 0}, nlp.vocab.strings)
    assert all(len(cache) <= 4 for cache in module._caches.values())
    assert ngram_ids(doc.to_array("LOWER"), cfg, nlp.vocab.strings).tolist() == ids.tolist()  # evicted: recomputed


def test_fit_learns_the_informative_bucket_and_keeps_held_out_logits():
    docs, truths = bucket_ids(60, numpy.random.default_rng(0))
    fit = fit_ngram_model(docs, truths, exclusive=True, n_buckets=64, ngram_size=1, C_values=[1.0], weightings=["none"])
    assert fit.weights.shape == (64, 2) and fit.bias.shape == (2,)
    assert not fit.weights[:, 0].any()  # two exclusive labels: one binary problem, label 0's logit stays 0
    assert fit.weights[1, 1] > 0.5 > -0.5 > fit.weights[2, 1]
    assert fit.weights[0].tolist() == [0.0, 0.0]  # padding
    in_sample = numpy.stack([fit.weights[d].sum(axis=0) for d in docs]) + fit.bias
    assert fit.held_out_logits.shape == (60, 2)
    # out-of-fold logits come from models that did not see the doc: less sure than in-sample
    assert numpy.abs(fit.held_out_logits[:, 1]).mean() < numpy.abs(in_sample[:, 1]).mean()
    assert (fit.held_out_logits.argmax(axis=1) == truths.argmax(axis=1)).mean() == 1.0


def test_held_out_folds_choose_the_candidate():
    docs, truths = bucket_ids(90, numpy.random.default_rng(1))
    fit = fit_ngram_model(docs, truths, exclusive=True, n_buckets=64, ngram_size=1, C_values=[1e-4, 1.0], weightings=["none"])
    # both are right on every held-out doc; C = 1e-4 is barely sure of it (log-loss ~ log 2)
    assert fit.choice["held_out_accuracy"] == 1.0
    assert [c["C"] for c in fit.choice["candidates"]] == [1.0, 1e-4]  # best first; both averaged
    assert fit.choice["held_out_log_loss"] < 0.69


def test_candidates_are_ranked_by_held_out_log_loss_not_accuracy(monkeypatch):
    """A candidate that is right more often but confidently wrong on the rest ranks below one
    that is less often right but never sure of a mistake (the log-loss is the less noisy
    ranking on small corpora: ngram_model's docstring gives the figures)."""
    import spacy_lstm.textcat.ngram_model as ngram_model

    docs, truths = bucket_ids(100, numpy.random.default_rng(5))
    sign = numpy.where(truths[:, 1] > 0.5, 1.0, -1.0)

    def held_out(X, problems, C, weighting):
        logits = numpy.zeros((X.shape[0], 2))
        if C == 1.0:  # 95% right, but sure of its 5 mistakes
            logits[:, 1] = sign * numpy.where(numpy.arange(X.shape[0]) < 5, -20.0, 3.0)
        else:  # 80% right, never sure
            logits[:, 1] = sign * numpy.where(numpy.arange(X.shape[0]) < 20, -0.5, 3.0)
        return logits

    monkeypatch.setattr(ngram_model, "_held_out", held_out)
    fit = fit_ngram_model(docs, truths, exclusive=True, n_buckets=64, ngram_size=1, C_values=[0.1, 1.0], weightings=["none"])
    assert [c["C"] for c in fit.choice["candidates"]] == [0.1, 1.0]  # lowest log-loss first


def test_held_out_folds_choose_whether_to_use_the_character_ngrams():
    # the character range [1, 32) holds the evidence (buckets 1 and 2), order 1's [32, 63) noise
    docs, truths = bucket_ids(90, numpy.random.default_rng(4))
    docs = [numpy.concatenate([d[:1], d[1:] % 31 + 32]) for d in docs]
    fit = fit_ngram_model(
        docs, truths, exclusive=True, n_buckets=64, ngram_size=1, char_ngrams=5, C_values=[1.0], weightings=["none"]
    )
    assert [c["char_ngrams"] for c in fit.choice["candidates"]] == [True, False]  # best first; both averaged
    assert fit.weights[1, 1] > 0.2 > -0.2 > fit.weights[2, 1]  # half of the chosen candidates use them


def test_multilabel_missing_values_and_a_label_without_positives():
    docs, truths = bucket_ids(40, numpy.random.default_rng(2))
    truths = numpy.concatenate([truths[:, 1:], numpy.zeros((40, 1))], axis=1)  # label 1: never positive
    truths[:5, 0] = numpy.nan  # not annotated
    fit = fit_ngram_model(docs, truths, exclusive=False, n_buckets=64, ngram_size=1)
    assert fit.weights[1, 0] > 0 > fit.weights[2, 0]
    assert not fit.weights[:, 1].any() and fit.bias[1] < -2  # only the prior: "never"
    assert fit.held_out_logits is None  # label 1 has no positive doc to hold out


def test_too_few_docs_to_fold_still_fit():
    docs, truths = bucket_ids(4, numpy.random.default_rng(3))
    fit = fit_ngram_model(docs, truths, exclusive=True, n_buckets=64, ngram_size=1)
    assert fit.held_out_logits is None
    assert fit.weights[1, 1] > 0


def make_v2(nlp, **cfg):
    return nlp.add_pipe("lstm_textcat", config={"model": {**TINY, "@architectures": "spacy_lstm.LSTMTextCat.v2", **cfg}})


def test_training_starts_from_the_fitted_ngram_model_and_keeps_it_frozen():
    nlp = spacy.blank("en")
    textcat = make_v2(nlp)
    examples = exclusive_examples(nlp, review_texts(30))
    optimizer = nlp.initialize(lambda: examples)
    shim = get_shim(textcat.model)
    before = shim.get_weights()
    assert before["bow_weights/embeddings"].any()
    assert not before["logits/kernel"].any()  # the LSTM head starts at zero ...
    docs = [nlp.make_doc(eg.reference.text) for eg in examples]
    ngram_only = textcat.predict(docs)
    cfg = textcat.model.attrs["cfg"]
    assert cfg["bow_char_ngrams"] == 5  # the factory default: word and character n-grams
    ngrams = [ngram_ids(d.to_array("LOWER"), cfg, nlp.vocab.strings) for d in docs]
    logits = numpy.stack([before["bow_weights/embeddings"][g].sum(axis=0) for g in ngrams]) + before["logits/bias"]
    expected = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    numpy.testing.assert_allclose(ngram_only, expected, atol=1e-5)  # ... so it IS the n-gram model
    assert len(textcat.model.attrs["training_state"]["held_out_offsets"]) == 30
    optimizer.learn_rate = 0.01
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    after = shim.get_weights()
    numpy.testing.assert_array_equal(after["bow_weights/embeddings"], before["bow_weights/embeddings"])
    assert after["logits/kernel"].any()
    assert set(textcat.model.attrs["ngram_choice"]["candidates"][0]) == {"ngram_orders", "char_ngrams", "weighting", "C"}


def test_the_lstm_trains_on_the_held_out_logits(monkeypatch):
    nlp = spacy.blank("en")
    textcat = make_v2(nlp)
    examples = exclusive_examples(nlp, review_texts(30))
    nlp.initialize(lambda: examples)
    seen = []
    shim = get_shim(textcat.model)
    original = shim.update
    monkeypatch.setattr(shim, "update", lambda *a, **kw: (seen.append(kw["logit_offsets"]), original(*a, **kw)))
    nlp.update(examples[:4], sgd=Adam(0.001))
    table = textcat.model.attrs["training_state"]["held_out_offsets"]
    expected = numpy.stack([table[hash(eg.reference.text)] for eg in examples[:4]])
    numpy.testing.assert_allclose(seen[0], expected)
    unseen = exclusive_examples(nlp, [("a text never seen at initialize", "pos")])
    nlp.update(unseen, sgd=Adam(0.001))
    assert not seen[1].any()  # no held-out logits: learn on top of the fitted model itself


def test_held_out_logits_are_not_saved(tmp_path):
    nlp = spacy.blank("en")
    make_v2(nlp)
    examples = exclusive_examples(nlp, review_texts(12))
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(tmp_path / "m")
    textcat = loaded.get_pipe("lstm_textcat")
    assert textcat.model.attrs["training_state"] == {}
    assert textcat.model.attrs["ngram_choice"]["candidates"][0]["ngram_orders"] in (1, 2)
    assert textcat.model.attrs["cfg"]["bow_char_ngrams"] == 5  # character n-grams on (the default)
    for text in [eg.reference.text for eg in examples[:3]] + ["unseen wordz, misspelt"]:
        assert loaded(text).cats == pytest.approx(nlp(text).cats, abs=1e-6)


def test_a_config_without_the_character_setting_keeps_them_off():
    """A pipeline saved before bow_char_ngrams existed has no such line in its config."""
    from spacy_lstm.textcat.architecture import build_lstm_textcat_v2

    assert build_lstm_textcat_v2(**TINY).attrs["cfg"]["bow_char_ngrams"] == 0


def test_v2_needs_gold_values_for_every_training_doc():
    nlp = spacy.blank("en")
    textcat = make_v2(nlp)
    textcat.add_label("pos")
    textcat.add_label("neg")
    docs = [nlp.make_doc("good"), nlp.make_doc("bad")]
    with pytest.raises(ValueError, match="gold categories of every training doc"):
        textcat.model.initialize(X=docs)


@pytest.mark.parametrize("setting,value,message", [
    ("bow_C", [], "bow_C must be a non-empty list"),
    ("bow_C", [0.0], "bow_C must be a finite number > 0"),
    ("bow_weightings", ["tfidf"], "Unknown bow_weightings 'tfidf'"),
    ("bow_folds", -1, "bow_folds must be an integer >= 0"),
    ("bow_char_ngrams", 1, r"bow_char_ngrams must be 0 \(no character n-grams\) or an integer >= 2"),
    ("bow_char_ngrams", "5", "bow_char_ngrams must be 0"),
    ("bow_char_max_length", -1, "bow_char_max_length must be an integer >= 0"),
    ("bow_length", 3, "set bow_length > 3"),
])
def test_bad_ngram_settings_are_named(setting, value, message):
    nlp = spacy.blank("en")
    with pytest.raises(Exception, match=message):
        make_v2(nlp, **{setting: value})


def test_stopping_rule_stops(tmp_path):
    """The shipped config has no step budget: training ends when dev stops improving."""
    from test_training import write_docbins

    write_docbins(tmp_path, multilabel=False)
    cmd = [
        sys.executable, "-m", "spacy", "train", str(CONFIGS / "textcat_lstm.cfg"), "-o", str(tmp_path / "out"),
        "--paths.train", str(tmp_path / "train.spacy"), "--paths.dev", str(tmp_path / "dev.spacy"),
        "--training.patience", "20", "--training.eval_frequency", "10",
        "--components.lstm_textcat.model.lstm_width", "8", "--components.lstm_textcat.model.embedding_dim", "8",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    steps = [int(line.split()[1]) for line in out.stdout.splitlines() if line.strip()[:1].isdigit() and len(line.split()) > 3]
    assert steps and max(steps) < 200  # stopped on patience, long before any budget
    assert "max_steps = 0" in (CONFIGS / "textcat_lstm.cfg").read_text()


@pytest.mark.parametrize(
    "name,component,differs",
    [
        ("textcat_lstm", "lstm_textcat", {}),
        ("textcat_lstm_multilabel", "lstm_textcat_multilabel", {"exclusive_classes": False}),
        ("textcat_lstm_pretrained", "lstm_textcat", {"bidirectional": False}),  # a forward language model
    ],
)
def test_shipped_configs_spell_out_the_factory_defaults(name, component, differs):
    """A default changed in code (e.g. the n-gram candidates) must reach the shipped configs:
    their model blocks equal the factory's default model but for the settings they exist to change."""
    from spacy.util import load_config
    from thinc.api import Config

    from spacy_lstm.textcat.component import MODEL_CONFIG
    from spacy_lstm.textcat.ngram_model import C_VALUES, WEIGHTINGS

    default = Config().from_str(MODEL_CONFIG.format(exclusive="true"))["model"]
    assert default["bow_C"] == list(C_VALUES) and default["bow_weightings"] == list(WEIGHTINGS)
    shipped = load_config(CONFIGS / f"{name}.cfg")["components"][component]["model"]
    assert shipped == {**default, **differs}
