"""model-best by cats_guarded_accuracy: the LSTM's gain over the n-gram path counts only beyond
the dev set's noise (textcat/selection.py)."""
import numpy
import pytest
import spacy

from spacy_lstm.model_attrs import get_shim
from spacy_lstm.textcat.selection import GUARD_Z, LOG_LOSS_Z, guarded_scores
from test_textcat import exclusive_examples, review_texts
from test_textcat_ngrams import make_v2


def one_hot(labels, n_labels=2):
    out = numpy.zeros((len(labels), n_labels), dtype="float32")
    out[numpy.arange(len(labels)), labels] = 1.0
    return out


def exclusive(scores, reference, gold):
    truths = one_hot(gold)
    return guarded_scores(one_hot(scores), None if reference is None else one_hot(reference), truths,
                          numpy.ones_like(truths), exclusive=True, threshold=0.0)


def test_same_predictions_score_the_ngram_accuracy():
    gold = [0, 1] * 50
    reference = gold[:80] + [1 - g for g in gold[80:]]  # 80% right
    scores = exclusive(reference, reference, gold)
    assert scores["cats_accuracy"] == scores["cats_ngram_accuracy"] == scores["cats_guarded_accuracy"] == 0.8
    assert scores["cats_log_loss"] == scores["cats_ngram_log_loss"]


def test_a_gain_within_the_noise_scores_below_the_ngram_model():
    gold = [0, 1] * 50
    reference = gold[:80] + [1 - g for g in gold[80:]]
    lstm = list(reference)
    for i in (80, 81, 82, 83):  # fixes 4 ...
        lstm[i] = gold[i]
    for i in (0, 1):  # ... breaks 2: +2 points on 100 docs, noise
        lstm[i] = 1 - gold[i]
    scores = exclusive(lstm, reference, gold)
    assert scores["cats_accuracy"] == pytest.approx(0.82)
    assert scores["cats_guarded_accuracy"] < scores["cats_ngram_accuracy"] == 0.8


def test_a_clear_gain_counts_less_its_standard_error():
    gold = [0, 1] * 500
    reference = gold[:800] + [1 - g for g in gold[800:]]
    lstm = gold[:900] + [1 - g for g in gold[900:]]  # fixes 100 of 1,000, breaks none
    scores = exclusive(lstm, reference, gold)
    se = numpy.sqrt(100 - 100**2 / 1000) / 1000
    assert scores["cats_guarded_accuracy"] == pytest.approx(0.8 + 0.1 - GUARD_Z * se)
    assert 0.8 < scores["cats_guarded_accuracy"] < scores["cats_accuracy"] == 0.9



@pytest.mark.parametrize("fixed", [1, 2])
def test_fixing_a_doc_or_two_of_a_small_dev_set_is_not_a_gain(fixed):
    """Among ~20 evaluations of a 150-doc dev set, one or two docs fixed (none broken) is luck:
    such a checkpoint ranks below the n-gram path. Three fixed and none broken counts."""
    gold = [0, 1] * 75
    reference = gold[:120] + [1 - g for g in gold[120:]]
    for n_fixed, counts in ((fixed, False), (3, True)):
        lstm = gold[: 120 + n_fixed] + [1 - g for g in gold[120 + n_fixed:]]
        scores = exclusive(lstm, reference, gold)
        assert scores["cats_accuracy"] > scores["cats_ngram_accuracy"] == 0.8
        assert bool(scores["cats_guarded_accuracy"] > scores["cats_ngram_accuracy"]) is counts, n_fixed


def test_without_an_ngram_path_the_guarded_accuracy_is_the_accuracy():
    scores = exclusive([0, 1, 1], None, [0, 1, 0])
    assert scores["cats_accuracy"] == pytest.approx(2 / 3) == scores["cats_guarded_accuracy"]
    assert "cats_ngram_accuracy" not in scores


def test_the_log_loss_is_the_mean_negative_log_probability_of_the_gold_label():
    truths = one_hot([0, 1])
    scores = numpy.array([[0.8, 0.2], [0.5, 0.5]], dtype="float32")
    result = guarded_scores(scores, None, truths, numpy.ones_like(truths), exclusive=True, threshold=0.0)
    assert result["cats_log_loss"] == pytest.approx(-(numpy.log(0.8) + numpy.log(0.5)) / 2, rel=1e-5)


def test_a_clear_gain_with_a_worse_log_loss_ranks_below_the_ngram_model():
    """An LSTM sure of its mistakes: right more often on dev, but the n-gram path's
    probabilities are the better ones. It must not replace the n-gram model."""
    gold = numpy.array([0, 1] * 500)
    truths = one_hot(gold)
    reference = numpy.where(truths > 0.5, 0.6, 0.4).astype("float32")  # right on all, unsure
    reference[:200] = 1.0 - reference[:200]  # 80% right
    lstm = numpy.where(truths > 0.5, 0.999, 0.001).astype("float32")  # right and sure ...
    lstm[:100] = 1.0 - lstm[:100]  # ... but sure of its 10% mistakes: 90% right
    scores = guarded_scores(lstm, reference, truths, numpy.ones_like(truths), exclusive=True, threshold=0.0)
    assert scores["cats_accuracy"] == pytest.approx(0.9) and scores["cats_ngram_accuracy"] == pytest.approx(0.8)
    assert scores["cats_log_loss"] > scores["cats_ngram_log_loss"]
    assert scores["cats_guarded_accuracy"] < scores["cats_ngram_accuracy"]
    # the same gain, as sure as the n-gram path where it is right and wrong: it counts
    calibrated = numpy.where(truths > 0.5, 0.6, 0.4).astype("float32")
    calibrated[:100] = 1.0 - calibrated[:100]
    scores = guarded_scores(calibrated, reference, truths, numpy.ones_like(truths), exclusive=True, threshold=0.0)
    assert scores["cats_guarded_accuracy"] > scores["cats_ngram_accuracy"]


def test_a_log_loss_better_only_within_its_noise_ranks_below_the_ngram_model():
    """A clear accuracy gain, but a log-loss that is lower by less than its standard error: the
    checkpoint fixed 100 docs and grew less sure of 200 others. Not clearly better calibrated,
    so it must not replace the n-gram model; made sure of the 100 docs it fixed, it counts."""
    gold = numpy.array([0, 1] * 500)
    truths = one_hot(gold)
    reference = numpy.where(truths > 0.5, 0.6, 0.4).astype("float32")
    reference[:200] = 1.0 - reference[:200]  # right on 80%, unsure everywhere
    lstm = reference.copy()
    lstm[:100] = numpy.where(truths[:100] > 0.5, 0.55, 0.45)  # fixed, barely
    lstm[200:400] = numpy.where(truths[200:400] > 0.5, 0.52, 0.48)  # still right, less sure
    scores = guarded_scores(lstm, reference, truths, numpy.ones_like(truths), exclusive=True, threshold=0.0)
    change = -numpy.log(lstm[numpy.arange(1000), gold]) + numpy.log(reference[numpy.arange(1000), gold])
    assert 0 < -change.mean() < LOG_LOSS_Z * change.std(ddof=1) / numpy.sqrt(1000)  # better, within noise
    assert scores["cats_accuracy"] == pytest.approx(0.9) and scores["cats_log_loss"] < scores["cats_ngram_log_loss"]
    assert scores["cats_guarded_accuracy"] < scores["cats_ngram_accuracy"]
    lstm[:100] = numpy.where(truths[:100] > 0.5, 0.7, 0.3)
    scores = guarded_scores(lstm, reference, truths, numpy.ones_like(truths), exclusive=True, threshold=0.0)
    assert scores["cats_guarded_accuracy"] > scores["cats_ngram_accuracy"]


def test_multilabel_counts_annotated_decisions_only():
    truths = numpy.array([[1.0, 0.0], [0.0, 1.0]], dtype="float32")
    known = numpy.array([[1.0, 1.0], [1.0, 0.0]], dtype="float32")  # doc 2's second label is missing
    scores = numpy.array([[0.9, 0.2], [0.8, 0.1]], dtype="float32")  # wrong only on doc 2, label 1
    result = guarded_scores(scores, scores, truths, known, exclusive=False, threshold=0.5)
    assert result["cats_accuracy"] == pytest.approx(2 / 3) == result["cats_guarded_accuracy"]
    # binary cross-entropy of the three annotated decisions: 0.9 for yes, 0.2 and 0.8 for no
    expected = -(numpy.log(0.9) + numpy.log(0.8) + numpy.log(0.2)) / 3
    assert result["cats_log_loss"] == pytest.approx(expected, rel=1e-5) == result["cats_ngram_log_loss"]


def multilabel(scores, reference, gold, known=None):
    truths = numpy.asarray(gold, dtype="float32")
    known = numpy.ones_like(truths) if known is None else known
    return guarded_scores(scores, reference, truths, known, exclusive=False, threshold=0.5)


def rare_label_data(n_docs=1000, n_rare=100):
    """Two labels: a common one that both models get right, a rare one (n_rare positives)
    that the n-gram path never dares to predict (probability 0.4 where it is true)."""
    gold = numpy.zeros((n_docs, 2), dtype="float32")
    gold[::2, 0] = 1.0
    gold[:n_rare, 1] = 1.0
    reference = numpy.where(gold > 0.5, 0.7, 0.2).astype("float32")
    reference[:n_rare, 1] = 0.4
    return gold, reference


def test_multilabel_guard_counts_a_clear_macro_f_gain():
    """Macro F counts a rare label as much as a common one: a checkpoint that finds the rare
    label on 60 of its 100 docs, surer where right, clearly gains it."""
    gold, reference = rare_label_data()
    lstm = reference.copy()
    lstm[:60, 1] = 0.6
    scores = multilabel(lstm, reference, gold)
    assert scores["cats_ngram_macro_f"] == pytest.approx(0.5)  # F 1 on the common label, 0 on the rare one
    assert scores["cats_ngram_macro_f"] < scores["cats_guarded_macro_f"] < 0.5 + 0.5 * (2 * 60 / (2 * 60 + 40))


def test_multilabel_guard_ignores_a_macro_f_gain_within_the_noise():
    gold, reference = rare_label_data(n_docs=200, n_rare=10)
    lstm = reference.copy()
    lstm[:1, 1] = 0.6  # one rare doc found: F on that label 0 -> 0.18
    scores = multilabel(lstm, reference, gold)
    assert scores["cats_guarded_macro_f"] < scores["cats_ngram_macro_f"] == pytest.approx(0.5)


def test_multilabel_guard_needs_a_better_log_loss():
    """The same rare docs found, but sure of new mistakes on the common label: the log-loss is
    worse, so the macro F gain does not count."""
    gold, reference = rare_label_data()
    lstm = reference.copy()
    lstm[:60, 1] = 0.6
    lstm[200:260, 0] = numpy.where(gold[200:260, 0] > 0.5, 0.001, 0.999)
    scores = multilabel(lstm, reference, gold)
    assert scores["cats_log_loss"] > scores["cats_ngram_log_loss"]
    assert scores["cats_guarded_macro_f"] < scores["cats_ngram_macro_f"]


def test_multilabel_without_an_ngram_path_the_guarded_macro_f_is_the_macro_f():
    gold, reference = rare_label_data(n_docs=100, n_rare=10)
    scores = multilabel(reference, None, gold)
    assert scores["cats_guarded_macro_f"] == pytest.approx(0.5)
    assert scores["cats_guarded_accuracy"] == scores["cats_accuracy"]


def test_multilabel_macro_f_counts_annotated_labels_only():
    gold, reference = rare_label_data(n_docs=100, n_rare=10)
    known = numpy.ones_like(gold)
    known[:10, 1] = 0.0  # the rare label is not annotated where it is true: no positives left
    scores = multilabel(reference, reference, gold, known)
    assert scores["cats_ngram_macro_f"] == pytest.approx(0.5) == scores["cats_guarded_macro_f"]


def test_the_component_reports_the_guard_and_starts_as_its_ngram_path(tmp_path):
    nlp = spacy.blank("en")
    make_v2(nlp)
    examples = exclusive_examples(nlp, review_texts(30))
    nlp.initialize(lambda: examples)
    scores = nlp.evaluate(examples)
    # the LSTM's output layer starts at zero: the model predicts what its n-gram path predicts
    assert scores["cats_accuracy"] == scores["cats_ngram_accuracy"] == scores["cats_guarded_accuracy"] > 0.5
    assert "cats_score" in scores  # spaCy's own scores are still there
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(tmp_path / "m")
    assert loaded.evaluate(examples)["cats_ngram_accuracy"] == scores["cats_ngram_accuracy"]


def test_the_shipped_configs_select_by_a_guarded_score():
    from spacy.util import load_config
    from test_textcat_ngrams import CONFIGS

    for name, key in (("textcat_lstm", "cats_guarded_accuracy"), ("textcat_lstm_multilabel", "cats_guarded_macro_f"),
                      ("textcat_lstm_pretrained", "cats_guarded_accuracy")):
        weights = load_config(CONFIGS / f"{name}.cfg")["training"]["score_weights"]
        assert weights[key] == 1.0 and sum(w for w in weights.values() if w) == 1.0, name


def test_float_rounding_in_the_log_loss_is_not_a_worse_checkpoint():
    """The network and the n-gram path's NumPy copy differ in the last float digits at step 0."""
    gold = numpy.array([0, 1] * 50)
    truths = one_hot(gold)
    reference = numpy.where(truths > 0.5, 0.7, 0.3).astype("float32")
    network = reference * numpy.float32(1.0 - 1e-6)
    scores = guarded_scores(network, reference, truths, numpy.ones_like(truths), exclusive=True, threshold=0.0)
    assert scores["cats_log_loss"] > scores["cats_ngram_log_loss"]
    assert scores["cats_guarded_accuracy"] == scores["cats_ngram_accuracy"] == 1.0


@pytest.mark.parametrize("name", ["textcat_lstm", "textcat_lstm_multilabel", "textcat_lstm_pretrained"])
def test_the_shipped_configs_first_step_is_a_dry_run(name):
    """spaCy evaluates after the first update: a rate of 0 there makes that evaluation the
    fitted n-gram model itself, a checkpoint model-best can always fall back to."""
    from spacy.util import load_config, registry
    from test_textcat_ngrams import CONFIGS

    optimizer = registry.resolve({"o": load_config(CONFIGS / f"{name}.cfg")["training"]["optimizer"]})["o"]
    assert optimizer.learn_rate == 0.0
    optimizer.step_schedules()
    assert optimizer.learn_rate == 0.0005


def test_with_the_shipped_optimizer_the_first_evaluation_is_the_ngram_model():
    from spacy.util import load_config, load_model_from_config
    from test_textcat_ngrams import CONFIGS

    config = load_config(CONFIGS / "textcat_lstm.cfg", overrides={
        "components.lstm_textcat.model.lstm_width": 8, "components.lstm_textcat.model.embedding_dim": 8,
        "components.lstm_textcat.model.bow_length": 4001,
    })
    nlp = load_model_from_config(config, auto_fill=True)
    examples = exclusive_examples(nlp, review_texts(40))
    optimizer = nlp.initialize(lambda: examples)  # [training.optimizer] of the config
    nlp.update(examples, sgd=optimizer)
    optimizer.step_schedules()
    first = nlp.evaluate(examples)
    assert first["cats_accuracy"] == first["cats_ngram_accuracy"]
    assert first["cats_log_loss"] == pytest.approx(first["cats_ngram_log_loss"], abs=1e-6)
    shim = get_shim(nlp.get_pipe("lstm_textcat").model)
    assert not shim.get_weight("logits/kernel").any()  # the LSTM's output layer is still zero
    nlp.update(examples, sgd=optimizer)  # the next update trains
    assert shim.get_weight("logits/kernel").any()
