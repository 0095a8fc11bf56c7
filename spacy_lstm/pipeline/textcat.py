"""Deprecated: moved to `spacy_lstm.textcat.component`; re-exported here for one release.
The factories `lstm_textcat` and `lstm_textcat_multilabel` need no import."""
import warnings

from ..textcat.component import (
    LSTMMultiLabelTextCategorizer,
    LSTMTextCategorizer,
    make_lstm_textcat,
    make_lstm_textcat_multilabel,
)

__all__ = ["LSTMMultiLabelTextCategorizer", "LSTMTextCategorizer", "make_lstm_textcat", "make_lstm_textcat_multilabel"]

warnings.warn(
    "spacy_lstm.pipeline.textcat is deprecated: import from spacy_lstm.textcat.component.",
    DeprecationWarning,
    stacklevel=2,
)
