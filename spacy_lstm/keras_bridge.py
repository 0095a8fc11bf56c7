"""Deprecated: the Keras bridge moved to `spacy_lstm.keras` (shim, fork safety, losses,
optimizer mapping) and `spacy_lstm.generator` (the language-model shim and the graph sampler).
This module re-exports their public names for one release."""
import warnings

from .generator.lm_shim import LanguageModelShim
from .generator.sampling import graph_sampling_distribution as tf_sampling_distribution
from .keras.fork import tensorflow_usable
from .keras.losses import LOSSES
from .keras.shim import KerasShim

__all__ = ["KerasShim", "LOSSES", "LanguageModelShim", "tensorflow_usable", "tf_sampling_distribution"]

warnings.warn(
    "spacy_lstm.keras_bridge is deprecated: import from spacy_lstm.keras.shim (KerasShim) or "
    "spacy_lstm.generator.lm_shim (LanguageModelShim).",
    DeprecationWarning,
    stacklevel=2,
)
