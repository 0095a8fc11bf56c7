"""Deprecated: the architectures moved to `spacy_lstm.textcat.architecture` and
`spacy_lstm.generator.architecture`. This module re-exports their public names for one release;
registered names (`spacy_lstm.LSTMTextCat.v1`, ...) are unchanged and need no import."""
import warnings

from .generator.architecture import build_lstm_generator, generator_is_initialized, unit_index
from .model_attrs import ArchitectureSettings, get_shim
from .textcat.architecture import build_lstm_textcat
from .textcat.model import is_initialized, resize_textcat_output, textcat_features
from .textcat.featurize import network_inputs

__all__ = ["ArchitectureSettings", "build_lstm_generator", "build_lstm_textcat", "generator_is_initialized", "get_shim", "is_initialized", "network_inputs", "resize_textcat_output", "textcat_features", "unit_index"]

warnings.warn(
    "spacy_lstm.architectures is deprecated: import from spacy_lstm.textcat.architecture or "
    "spacy_lstm.generator.architecture.",
    DeprecationWarning,
    stacklevel=2,
)
