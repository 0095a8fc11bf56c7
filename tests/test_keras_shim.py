"""The thinc <-> Keras shim (spacy_lstm/keras/): what thinc's protocols and spaCy's optimizer
settings mean for the Keras network behind lstm_textcat."""
import numpy
import pytest
import spacy
from thinc.api import SGD, Adam

from spacy_lstm.model_attrs import get_shim
from spacy_lstm.textcat.model import textcat_features
from spacy_lstm.textcat.featurize import network_inputs

from test_textcat import TINY, exclusive_examples, review_texts


def initialized_textcat(**model):
    """A tiny LSTMTextCat.v1 (random output layer, every weight trainable): what these tests
    check is the shim, and v2's zero-initialised head would hide dropout and gradients."""
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("lstm_textcat", config={"model": {"@architectures": "spacy_lstm.LSTMTextCat.v1", **TINY, **model}})
    examples = exclusive_examples(nlp, review_texts(8))
    nlp.initialize(lambda: examples)
    return nlp, textcat, examples


def inputs_of(textcat, examples):
    features = textcat_features(textcat.model, [eg.predicted for eg in examples])
    return network_inputs(features, range(len(examples)))


def plain_sgd(learn_rate=1.0, **kwargs):
    """Keras SGD: w -= learn_rate * gradient, nothing else (no clipping, no averages)."""
    return SGD(learn_rate, grad_clip=0.0, use_averages=False, **kwargs)


def test_begin_update_differentiates_the_outputs_it_returned():
    """thinc's begin_update: the gradient must be that of the very outputs returned, dropout
    masks included. With d_outputs = e_0 on every row, the gradient of the logits bias is
    sum over rows of p0 * (e_0 - p), computed here from the returned outputs p."""
    nlp, textcat, examples = initialized_textcat(dropout=0.5)
    shim = get_shim(textcat.model)
    inputs = inputs_of(textcat, examples)
    before = shim.get_weights()["logits/bias"]
    outputs, backprop = shim.begin_update(inputs)
    assert not numpy.allclose(outputs, shim.predict(inputs), atol=1e-4)  # dropout was on
    d_outputs = numpy.zeros_like(outputs)
    d_outputs[:, 0] = 1.0
    backprop(d_outputs)
    shim.finish_update(plain_sgd(1.0))
    p = outputs.astype("float64")
    expected_gradient = (p[:, :1] * (numpy.eye(p.shape[1])[0] - p)).sum(axis=0)
    step = shim.get_weights()["logits/bias"] - before
    numpy.testing.assert_allclose(step, -expected_gradient, atol=1e-5)


def test_from_bytes_forgets_pending_batches_and_accumulated_gradients():
    """Loading weights starts afresh: a batch that waited for finish_update, or gradients
    accumulated by begin_update's backprop, belong to the weights that were replaced."""
    nlp, textcat, examples = initialized_textcat()
    shim = get_shim(textcat.model)
    saved = shim.to_bytes()
    loaded = shim.get_weights()
    textcat.update(examples)  # no sgd: the batch waits for finish_update
    shim.from_bytes(saved)
    textcat.finish_update(plain_sgd())
    for path, array in shim.get_weights().items():
        numpy.testing.assert_array_equal(array, loaded[path], err_msg=path)
    scores, backprop = textcat.model.begin_update([eg.predicted for eg in examples])
    backprop(numpy.ones_like(scores))
    shim.from_bytes(saved)
    textcat.finish_update(plain_sgd())
    for path, array in shim.get_weights().items():
        numpy.testing.assert_array_equal(array, loaded[path], err_msg=path)


@pytest.mark.parametrize("weight_decay", [False, True])
def test_L2_reaches_keras(weight_decay):
    """[training.optimizer] L2, as weight decay or (L2_is_weight_decay = false) added to the
    gradient as thinc does: either way one SGD step moves every weight by -lr * L2 * w more
    than the same step without L2."""
    nlp, textcat, examples = initialized_textcat(dropout=0.0)
    shim = get_shim(textcat.model)
    start = shim.get_weights()
    textcat.update(examples, sgd=plain_sgd(0.5))
    without = shim.get_weights()
    shim.set_weights(start)
    textcat.update(examples, sgd=plain_sgd(0.5, L2=0.1, L2_is_weight_decay=weight_decay))
    with_l2 = shim.get_weights()
    for path in ("logits/kernel", "logits/bias", "embedding/embeddings", "bow_weights/embeddings"):
        numpy.testing.assert_allclose(
            with_l2[path] - without[path], -0.5 * 0.1 * start[path], atol=1e-5, err_msg=path
        )


def test_settings_keras_lacks_are_named_in_one_warning_each(monkeypatch):
    from spacy_lstm.keras import optimizer as optimizer_mapping

    monkeypatch.setattr(optimizer_mapping, "_WARNED", set())
    nlp, textcat, examples = initialized_textcat()
    with pytest.warns(UserWarning) as caught:
        textcat.update(examples, sgd=Adam(0.001, use_averages=True))
        textcat.update(examples, sgd=Adam(0.001, use_averages=True))  # another optimizer
    about_averages = [str(w.message) for w in caught if "use_averages" in str(w.message)]
    assert len(about_averages) == 1, about_averages
    assert "use_averages = false" in about_averages[0]


def test_get_weight_reads_one_variable():
    _, textcat, _ = initialized_textcat()
    shim = get_shim(textcat.model)
    weights = shim.get_weights()
    path = next(iter(weights))
    assert numpy.array_equal(shim.get_weight(path), weights[path])
    with pytest.raises(KeyError, match="has no weight 'nope'"):
        shim.get_weight("nope")
