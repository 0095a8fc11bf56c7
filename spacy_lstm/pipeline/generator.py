"""Deprecated: moved to `spacy_lstm.generator.component`; re-exported here for one release.
The factory `lstm_generator` needs no import."""
import warnings

from ..generator.component import LSTMGenerator, language_model_score, make_lstm_generator

__all__ = ["LSTMGenerator", "language_model_score", "make_lstm_generator"]

warnings.warn(
    "spacy_lstm.pipeline.generator is deprecated: import from spacy_lstm.generator.component.",
    DeprecationWarning,
    stacklevel=2,
)
