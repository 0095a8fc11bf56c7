"""``spacy_lstm.PlainTextStreams.v1``: the training text as parallel streams, for truncated
backpropagation through time (``stateful_training = true`` of ``lstm_generator``).

The corpus (the files and records ``PlainTextCorpus.v1`` reads, joined in the same order) is
cut into ``streams`` contiguous parts of equal length. Each epoch yields, step after step,
the next ``piece_size`` characters of every stream, stream 0 first:

    [corpora.train]
    @readers = "spacy_lstm.PlainTextStreams.v1"
    path = ${paths.train}
    streams = 64
    piece_size = 100

    [training]
    max_epochs = -1          # read the corpus in this order (spaCy shuffles a loaded epoch)

    [training.batcher]
    @batchers = "spacy.batch_by_sequence.v1"
    size = 64                # = streams: one piece of every stream per step

Every doc carries ``doc.user_data["spacy_lstm.stream"] = (epoch, stream, start, end)``
(character offsets into the joined text), which is how the generator knows that a piece
continues the one that the same batch row had in the previous step, and carries the LSTM
state over. Each epoch starts at a new offset (drawn from ``seed`` and the epoch), so the
window borders move; the characters before it, and the last ``< streams`` ones, are skipped
in that epoch.

Pieces are cut at exact character counts: a token-level model would read a word cut at a
piece border as two tokens (rare with a large ``piece_size``). Memory: the joined text is
held in memory (about 4 bytes per character at most).
"""
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, Optional, Union

import numpy
from spacy.training import Example
from spacy.util import registry

from ..validate import check_integer
from .reader import PlainTextCorpus

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401

STREAM_KEY = "spacy_lstm.stream"
# On the first doc of every epoch: the character counts of the whole corpus, so that a
# character-level unit table is built from all of it (spaCy's initialize sees only the first
# 100 docs of a streamed corpus).
CHAR_COUNTS_KEY = "spacy_lstm.char_counts"


@registry.readers("spacy_lstm.PlainTextStreams.v1")
class PlainTextStreams:
    """See the module docstring.

    path (Path): the file or folder to read from (as PlainTextCorpus.v1).
    streams (int): parallel streams (the rows of a training batch).
    piece_size (int): characters per doc (one piece of one stream).
    jsonl_field (str): the field holding the text in JSONL records.
    seed (int): draws each epoch's starting offset.
    """

    def __init__(
        self,
        path: Optional[Union[str, Path]],
        *,
        streams: int = 64,
        piece_size: int = 100,
        jsonl_field: str = "text",
        seed: int = 0,
    ) -> None:
        check_integer("streams", streams, 1, meaning="parallel streams, the rows of a batch")
        check_integer("piece_size", piece_size, 1, meaning="characters per doc")
        self.corpus = PlainTextCorpus(path, chunk_size=1 << 16, jsonl_field=jsonl_field)
        self.streams = streams
        self.piece_size = piece_size
        self.seed = seed
        self.epoch = 0
        self._text: Optional[str] = None
        self._char_counts: Optional[Dict[str, int]] = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self.corpus.iter_chunks())
        return self._text

    def pieces(self, epoch: int) -> Iterator[tuple]:
        """(stream, start, end) of every piece of an epoch, in reading order."""
        n = len(self.text)
        offset = int(numpy.random.default_rng([self.seed, epoch]).integers(0, self.piece_size)) if n > 2 * self.piece_size else 0
        length = (n - offset) // self.streams
        if length < 2:
            raise ValueError(
                f"The corpus at {self.corpus.path} has {n} characters, too few for "
                f"streams = {self.streams}: lower `streams` or add text."
            )
        for begin in range(0, length, self.piece_size):
            for stream in range(self.streams):
                start = offset + stream * length + begin
                yield stream, start, start + min(self.piece_size, length - begin)

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        """One ``Example(doc, doc)`` per piece, ``doc = nlp.make_doc(piece)``."""
        epoch = self.epoch
        self.epoch += 1
        text = self.text
        for i, (stream, start, end) in enumerate(self.pieces(epoch)):
            doc = nlp.make_doc(text[start:end])
            doc.user_data[STREAM_KEY] = (epoch, stream, start, end)
            if i == 0:
                doc.user_data[CHAR_COUNTS_KEY] = self.char_counts
            yield Example(doc, doc)

    @property
    def char_counts(self) -> Dict[str, int]:
        if self._char_counts is None:
            self._char_counts = dict(Counter(self.text))
        return self._char_counts
