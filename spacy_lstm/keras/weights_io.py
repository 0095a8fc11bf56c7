"""The weights file of a Keras network: plain arrays in msgpack, never a pickle.

A saved pipeline stores each network as its weights keyed by Keras variable path (e.g.
"lstm_textcat/embedding/embeddings") plus, after training, the optimizer's state, so that a
pipeline `source`d for more training resumes where it stopped. Loading reads arrays only: the
network itself is always rebuilt from the config, so no code comes from the model directory.
"""
from typing import Dict, Optional, Tuple

import numpy
import srsly

from ..errors import ModelDataError

WEIGHTS_FORMAT = "spacy-lstm.weights"
WEIGHTS_VERSION = 1

Weights = Dict[str, numpy.ndarray]


def weights_to_bytes(weights: Weights, optimizer_state: Optional[Weights] = None) -> bytes:
    """The weights (and the optimizer state, when there is one) as one msgpack message."""
    msg = {
        "format": WEIGHTS_FORMAT,
        "version": WEIGHTS_VERSION,
        "weights": [[path, numpy.ascontiguousarray(a)] for path, a in weights.items()],
    }
    if optimizer_state:
        msg["optimizer"] = [[name, numpy.ascontiguousarray(a)] for name, a in optimizer_state.items()]
    return srsly.msgpack_dumps(msg)


def weights_from_bytes(data: bytes) -> Tuple[Weights, Optional[Weights]]:
    """(weights, optimizer state or None) from weights_to_bytes' message."""
    try:
        msg = srsly.msgpack_loads(data)
    except Exception as err:
        raise ModelDataError(f"The model weights could not be read ({err}).") from None
    if not isinstance(msg, dict) or msg.get("format") != WEIGHTS_FORMAT:
        raise ModelDataError("The model weights are not in spacy-lstm's format.")
    weights = {path: numpy.asarray(array) for path, array in msg["weights"]}
    optimizer_state = {name: numpy.asarray(a) for name, a in msg.get("optimizer", [])} or None
    return weights, optimizer_state


def assign_weights(model, weights: Weights) -> None:
    """Set a built Keras model's variables from `weights`, after checking that every path and
    shape fits: weights from another config get an error that says so, not a TensorFlow trace."""
    expected = {v.path: tuple(v.shape) for v in model.weights}
    got = {path: tuple(numpy.shape(array)) for path, array in weights.items()}
    if expected != got:
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        wrong = sorted(p for p in set(expected) & set(got) if expected[p] != got[p])
        raise ModelDataError(
            "The saved weights do not fit the network built from the config "
            f"(missing: {missing[:5]}, unexpected: {extra[:5]}, wrong shape: "
            f"{[(p, got[p], expected[p]) for p in wrong[:5]]}). Load the weights with the "
            "config they were trained with, or retrain."
        )
    for variable in model.weights:
        variable.assign(weights[variable.path])
