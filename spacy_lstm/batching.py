"""Helpers for spaCy's batchers, registered in `registry.misc` (entry point `spacy_misc`)."""
from typing import Callable

from spacy.util import registry


@registry.misc("spacy_lstm.truncated_length.v1")
def make_truncated_length(max_length: int) -> Callable[[object], int]:
    """`get_length` for `spacy.batch_by_padded.v1`: a document's length as the network sees
    it (at most `max_length` tokens; 0 = no limit), so that long reviews, which the LSTM reads
    truncated, do not shrink their batches to a handful of documents."""
    if max_length < 0:
        raise ValueError(f"max_length must be >= 0 (0 = no limit), got {max_length}.")

    def truncated_length(item) -> int:
        return min(len(item), max_length) if max_length else len(item)

    return truncated_length
