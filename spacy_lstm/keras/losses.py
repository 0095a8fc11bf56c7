"""The training losses and the output activations of the networks.

A loss takes (targets, logits, weights) and returns the mean over the weighted entries: a
weight of 0 marks a missing label (multilabel) or padding (language modelling), so one
compiled step handles ragged and partly annotated batches. The activations turn logits into
the scores spaCy sees, in TensorFlow and, for forked workers, in NumPy.
"""
from typing import Callable, Dict

import numpy

from .backend import tf
from .numpy_networks import sigmoid as np_sigmoid, softmax as np_softmax


def softmax_crossentropy(targets, logits, weights):
    """Exclusive classes: targets one-hot rows; weights zero out missing rows."""
    per_row = tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    row_weights = tf.reduce_max(weights, axis=-1)
    return tf.reduce_sum(per_row * row_weights) / tf.maximum(tf.reduce_sum(row_weights), 1.0)


def sigmoid_crossentropy(targets, logits, weights):
    """Multilabel: independent binary cross-entropy per label; weight 0 = missing value."""
    per_cell = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    return tf.reduce_sum(per_cell * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def sparse_crossentropy(targets, logits, weights):
    """Language modelling: next-unit ids per time step; weight 0 = padding."""
    per_step = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    return tf.reduce_sum(per_step * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


LOSSES: Dict[str, Callable] = {
    "softmax_crossentropy": softmax_crossentropy,
    "sigmoid_crossentropy": sigmoid_crossentropy,
    "sparse_crossentropy": sparse_crossentropy,
}
ACTIVATIONS: Dict[str, Callable] = {"softmax": tf.nn.softmax, "sigmoid": tf.nn.sigmoid, "linear": tf.identity}
NUMPY_ACTIVATIONS: Dict[str, Callable[[numpy.ndarray], numpy.ndarray]] = {
    "softmax": np_softmax,
    "sigmoid": np_sigmoid,
    "linear": lambda x: x,
}
