"""The thinc <-> Keras shim (spacy_lstm/keras/): what thinc's protocols and spaCy's optimizer
settings mean for the Keras network behind lstm_textcat."""
import numpy
import pytest
import spacy
from thinc.api import SGD, Adam

from spacy_lstm.model_attrs import get_shim
from spacy_lstm.textcat.architecture import textcat_features
from spacy_lstm.textcat.featurize import network_inputs

from test_textcat import TINY, exclusive_examples, review_texts


def initialized_textcat(**model):
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("lstm_textcat", config={"model": {**TINY, **model}})
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
