"""What `lstm_generator` does outside spaCy and Keras: units, training windows, stop strings
and the sampling loop. NumPy only; the network, and the sampler (in the graph), are reached
through the shim's `feed` / `generate_block`.

Units. At ``level = "char"`` a unit is one character. At ``level = "token"`` a unit is a
token's text *with its trailing whitespace* (``token.text_with_ws``), from spaCy's tokenizer,
so joining generated units gives back correctly spaced text and ``"".join(units) == text``
for every doc; or, with ``attr`` (LSTMGenerator.v2), a token attribute such as LOWER, the
units lstm_textcat reads, which generated text joins with spaces. Both levels use the same table (model_attrs.TokenTable): id 0 is padding, id 1
stands for every unit not in the table (units rarer than ``min_freq`` or beyond
``max_vocab``, and units never seen in training, e.g. in a prompt). Neither is ever generated.
"""
from collections import Counter
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy

from ..model_attrs import PAD_ID, PAD_TOKEN, UNK_ID, UNK_TOKEN, TokenTable
from .sampling import validate_sampling_args

LEVELS = ("char", "token")


def doc_units(doc, level: str, attr: Optional[str] = None) -> List[str]:
    """The units of a Doc: its characters, its tokens with their trailing whitespace, or (with
    `attr`, e.g. "LOWER") the token attribute's strings, as lstm_textcat reads tokens."""
    if level == "char":
        return list(doc.text)
    if attr is None:
        return [token.text_with_ws for token in doc]
    strings = doc.vocab.strings
    return [strings[key] for key in doc.to_array(attr).tolist()]


def build_unit_table(unit_lists: Iterable[Sequence[str]], *, max_vocab: int, min_freq: int) -> Tuple[TokenTable, int]:
    """Count units; keep the `max_vocab - 2` most frequent with count >= min_freq (ties by
    string). Returns (table, total number of units seen)."""
    counts: Counter = Counter()
    total = 0
    for units in unit_lists:
        counts.update(units)
        total += len(units)
    ranked = sorted((u for u, f in counts.items() if f >= min_freq), key=lambda u: (-counts[u], u))
    return TokenTable([PAD_TOKEN, UNK_TOKEN] + ranked[: max_vocab - 2]), total


class UnitIndex:
    """unit string -> id (dict based; built once per table)."""

    def __init__(self, table: TokenTable):
        self.table = table
        self.ids = {unit: i for i, unit in enumerate(table.tokens) if i >= 2}

    def encode(self, units: Sequence[str]) -> numpy.ndarray:
        get = self.ids.get
        return numpy.fromiter((get(u, UNK_ID) for u in units), dtype="int32", count=len(units))

    def decode(self, ids: Iterable[int]) -> List[str]:
        tokens = self.table.tokens
        return [tokens[i] for i in ids]


def cut_windows(ids: numpy.ndarray, seq_length: int, offset: int = 0) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Cut one id sequence into (inputs, targets, weights) windows of seq_length, stride
    seq_length, targets shifted by one. Starting at `offset`, every unit after the first
    (or after `offset`) is a target exactly once; the last window is right-padded with
    weight 0. Returns three [n_windows, seq_length] arrays (n_windows may be 0)."""
    ids = ids[offset:]
    n_targets = len(ids) - 1
    if n_targets < 1:
        empty = numpy.zeros((0, seq_length), dtype="int32")
        return empty, empty, empty.astype("float32")
    n_windows = -(-n_targets // seq_length)
    padded = numpy.full(n_windows * seq_length + 1, PAD_ID, dtype="int32")
    padded[: len(ids)] = ids
    inputs = padded[:-1].reshape(n_windows, seq_length)
    targets = padded[1:].reshape(n_windows, seq_length)
    weights = numpy.zeros(n_windows * seq_length, dtype="float32")
    weights[:n_targets] = 1.0
    return inputs, targets, weights.reshape(n_windows, seq_length)


# --- stop strings ----------------------------------------------------------------------------


def check_stop(stop: Union[None, str, Sequence[str]]) -> List[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        stop = [stop]
    stops = list(stop)
    bad = [s for s in stops if not isinstance(s, str) or not s]
    if bad:
        raise ValueError(f"stop must be a string or a list of non-empty strings, got {bad!r} in {stop!r}")
    return stops


class StopFilter:
    """Streams generated text, ending it before the first stop string (which is not part of
    the output). Text that could be the start of a stop string is held back until the next
    pieces decide, so a streamed text is exactly the text a batch call returns."""

    def __init__(self, stops: Sequence[str]):
        self.stops = list(stops)
        self.longest = max((len(s) for s in self.stops), default=0)
        self.text = ""  # generated so far (without the stop string once found)
        self.emitted = 0
        self.done = False

    def push(self, piece: str) -> str:
        """Add a generated piece; return the text that is now safe to emit."""
        if self.done:
            return ""
        search_from = max(0, len(self.text) - self.longest + 1)
        self.text += piece
        if self.stops:
            hits = [i for i in (self.text.find(s, search_from) for s in self.stops) if i >= 0]
            if hits:
                self.text = self.text[: min(hits)]
                self.done = True
                return self._emit(len(self.text))
            return self._emit(len(self.text) - self._held_back())
        return self._emit(len(self.text))

    def flush(self) -> str:
        """The end of the text (max_length reached): emit what was held back."""
        return self._emit(len(self.text))

    def _held_back(self) -> int:
        """Length of the longest end of the text that is a proper prefix of a stop string."""
        for k in range(min(self.longest - 1, len(self.text)), 0, -1):
            tail = self.text[-k:]
            if any(s.startswith(tail) for s in self.stops):
                return k
        return 0

    def _emit(self, upto: int) -> str:
        upto = max(upto, self.emitted)
        out = self.text[self.emitted : upto]
        self.emitted = upto
        return out


# --- the sampling loop -----------------------------------------------------------------------

# Units generated per graph call: a short first block so that streaming starts quickly, then
# longer ones, so that TensorFlow's fixed cost per call is shared by many units. After a stop
# string, at most one block's remaining units are wasted.
FIRST_BLOCK = 16
BLOCK = 128


def generation_key(seed: Optional[int]) -> int:
    """The int64 key of the stateless random draws: a hash of `seed` (any integer >= 0), or a
    random key for seed=None (not reproducible)."""
    words = numpy.random.SeedSequence(seed).generate_state(2, dtype="uint32")
    return int((int(words[0]) << 31) ^ int(words[1]))  # < 2 ** 63


def iter_generation(
    shim,
    index: UnitIndex,
    prompt_ids: numpy.ndarray,
    *,
    n: int,
    max_length: int,
    temperature: float,
    top_k: Optional[int],
    top_p: Optional[float],
    seed: Optional[int],
    stop: Sequence[str],
    unit_suffix: str = "",
) -> Iterator[List[str]]:
    """Yield, after every generated unit, the text each of the n samples may emit now
    (each unit followed by `unit_suffix`: a space for units without their whitespace).

    The prompt (>= 1 unit) is fed once for the whole batch; then the units are sampled in
    blocks, many LSTM steps (and the sampling, in TensorFlow) per graph call
    (`shim.generate_block`). A sample that hit a stop string gets "" from then on; the loop
    ends when all are done (the rest of the block is dropped) or after max_length units.
    Same seed (and same n and settings), same texts: unit i is drawn with the stateless key
    (hash of seed, i), so the block sizes do not change the text (streaming == batch).
    The sampler is the TensorFlow twin of spacy_lstm.sampling (same filtered distribution).
    """
    validate_sampling_args(temperature, top_k, top_p, n, max_length)
    filters = [StopFilter(stop) for _ in range(n)]
    if max_length == 0:
        return
    key = generation_key(seed)
    banned = (PAD_ID, UNK_ID)
    logits, states = shim.feed(numpy.tile(prompt_ids[None, :], (n, 1)))
    done = 0
    while done < max_length:
        n_steps = min(FIRST_BLOCK if done == 0 else BLOCK, max_length - done)
        block, logits, states = shim.generate_block(
            logits, states, n_steps, temperature=temperature, top_k=top_k, top_p=top_p,
            seed=key, start=done, banned_ids=banned,
        )
        for column in block.T.tolist():
            done += 1
            out = [f.push(p + unit_suffix) for f, p in zip(filters, index.decode(column))]
            last = done == max_length or all(f.done for f in filters)
            if last:
                yield [o + f.flush() for o, f in zip(out, filters)]
                return
            yield out


def real_word_share(texts: Sequence[str], training_text: str) -> float:
    """The share of the words of `texts` (split on whitespace) that occur, written the same
    way, among the words of `training_text`: a readable measure of how much of a sample is
    spelt like the training text (0.0 for texts without words)."""
    known = set(training_text.split())
    words = [w for text in texts for w in text.split()]
    return sum(w in known for w in words) / len(words) if words else 0.0
