"""spacy_lstm.truncated_length.v1: batch_by_padded measures documents as the LSTM reads them."""
import pytest
import spacy
from spacy.training import Example
from spacy.util import registry


def test_long_documents_count_as_truncated():
    nlp = spacy.blank("en")
    examples = [Example(nlp.make_doc(" ".join(["word"] * n)), nlp.make_doc(" ".join(["word"] * n))) for n in (5, 50, 900)]
    get_length = registry.misc.get("spacy_lstm.truncated_length.v1")(max_length=100)
    assert [get_length(eg) for eg in examples] == [5, 50, 100]
    batcher = registry.batchers.get("spacy.batch_by_padded.v1")(
        size=300, buffer=8, discard_oversize=False, get_length=get_length
    )
    batches = list(batcher(examples))
    assert sum(len(b) for b in batches) == 3  # nothing dropped
    assert len(batches) == 1  # 3 docs x 100 (truncated) fit one padded batch of 300
    assert registry.misc.get("spacy_lstm.truncated_length.v1")(max_length=0)(examples[2]) == 900


def test_negative_max_length_is_rejected():
    with pytest.raises(ValueError, match="max_length must be an integer >= 0"):
        registry.misc.get("spacy_lstm.truncated_length.v1")(max_length=-1)
