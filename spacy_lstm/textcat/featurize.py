"""Doc -> network inputs for `lstm_textcat`: the token table built at `initialize`, token ids
after truncation, hashed n-gram ids for the bag-of-n-grams path, padding and length buckets.

The table maps the hash of a token attribute (LOWER, NORM, ORTH, ...) to a dense id for the
Keras Embedding. Lookups are vectorised (model_attrs.TokenTable), so featurising costs no
Python work per token, and each doc's attribute array is read once for both paths.
"""
from collections import Counter
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import IDS as ATTR_IDS
from spacy.strings import StringStore, get_string_id
from spacy.tokens import Doc

from ..model_attrs import PAD_ID, PAD_TOKEN, UNK_ID, UNK_TOKEN, TokenTable
from .char_ngrams import token_char_ids
from .ngram_model import char_range, order_ranges

TRUNCATIONS = ("head", "tail", "head_tail")


# Token attributes whose values are strings (hashes in the StringStore, or symbols such as
# POS tags), which a token table can hold. The others (LENGTH, IS_ALPHA, LIKE_NUM, IDX, ...)
# are numbers: read as hashes they would fill the table with unrelated symbol names.
STRING_ATTRS = (
    "ORTH", "LOWER", "NORM", "SHAPE", "PREFIX", "SUFFIX", "LEMMA", "POS", "TAG", "DEP", "MORPH",
    "ENT_TYPE", "ENT_KB_ID", "ENT_ID", "LANG",
)


def attr_id(attr: str) -> int:
    """The spaCy attribute id for a string attribute such as "LOWER", with a helpful error."""
    key = attr.upper()
    if key not in ATTR_IDS:
        raise ValueError(
            f"Unknown token attribute '{attr}' for the LSTM featurizer. "
            "Use a string attribute such as LOWER, NORM, ORTH, LEMMA or SHAPE."
        )
    if key not in STRING_ATTRS:
        raise ValueError(
            f"Token attribute '{attr}' holds numbers, not strings: the LSTM featurizer builds "
            "a table of token strings, so it needs a string attribute such as LOWER, NORM, "
            f"ORTH, LEMMA or SHAPE (any of {', '.join(STRING_ATTRS)})."
        )
    return ATTR_IDS[key]


def build_token_table(docs: Iterable[Doc], attr: str, *, max_vocab: int, min_freq: int = 1) -> TokenTable:
    """Count `attr` over the docs; keep the `max_vocab` most frequent (ties by string)."""
    if max_vocab < 3:
        raise ValueError(f"max_vocab must be at least 3 (padding, unknown and one token), got {max_vocab}.")
    aid = attr_id(attr)
    counts: Counter = Counter()
    strings = None
    for doc in docs:
        counts.update(doc.to_array(aid).tolist())
        strings = doc.vocab.strings
    if strings is None:
        return TokenTable.empty()
    ranked = sorted(
        (strings[key] for key, freq in counts.items() if freq >= min_freq),
        key=lambda text: (-counts[get_string_id(text)], text),
    )
    return TokenTable([PAD_TOKEN, UNK_TOKEN] + ranked[: max_vocab - 2])


def truncate(ids: numpy.ndarray, max_length: int, truncation: str) -> numpy.ndarray:
    """Keep at most `max_length` ids: the first ones ("head"), the last ones ("tail"), or
    the first and last halves ("head_tail": reviews state their verdict at both ends)."""
    if max_length <= 0 or len(ids) <= max_length:
        return ids
    if truncation == "head":
        return ids[:max_length]
    if truncation == "tail":
        return ids[-max_length:]
    head = (max_length + 1) // 2
    return numpy.concatenate([ids[:head], ids[len(ids) - (max_length - head):]])


def doc_hashes(docs: Sequence[Doc], attr: str) -> List[numpy.ndarray]:
    """The attribute hashes (uint64) of every doc's tokens: read once, used by both paths."""
    aid = attr_id(attr)
    return [doc.to_array(aid) for doc in docs]


def hashes_to_ids(
    hashes: Sequence[numpy.ndarray], table: TokenTable, max_length: int, truncation: str
) -> List[numpy.ndarray]:
    """One int32 id array per doc. An empty doc becomes a single UNK id so that every
    sequence has a real step (a fully masked row has no defined LSTM output)."""
    return [
        truncate(table.lookup(h), max_length, truncation) if len(h) else numpy.asarray([UNK_ID], dtype="int32")
        for h in hashes
    ]


def docs_to_ids(
    docs: Sequence[Doc], table: TokenTable, attr: str, max_length: int, truncation: str
) -> List[numpy.ndarray]:
    """Token ids per doc, as the LSTM sees them (see hashes_to_ids)."""
    return hashes_to_ids(doc_hashes(docs, attr), table, max_length, truncation)


_NGRAM_MIX = numpy.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: order-sensitive mixing


def ngram_hashes(hashes: numpy.ndarray, ngram_size: int) -> List[numpy.ndarray]:
    """The 64-bit hash of every 1..ngram_size-gram of a doc's attribute hashes, one array per
    order (spaCy's hashes are stable across processes, so are these)."""
    hashes = hashes.astype("uint64")
    grams = [hashes]
    for n in range(2, ngram_size + 1):
        if len(hashes) < n:
            break
        h = hashes[: len(hashes) - n + 1].copy()
        for k in range(1, n):
            h = h * _NGRAM_MIX ^ hashes[k : len(hashes) - n + 1 + k]
        grams.append(h)
    return grams


def ngram_buckets(
    hashes: numpy.ndarray, ngram_size: int, length: int, *, distinct: bool, char_ngrams: int = 0
) -> List[numpy.ndarray]:
    """The bucket id in [1, length) of every n-gram occurrence, one array per order 1..n (the
    k-th entry of order n covers tokens k..k+n-1): `distinct` (LSTMTextCat.v2) hashes each
    order into its own range (after the character n-grams' range when `char_ngrams` is on;
    ngram_model.bucket_ranges), else (v1) all orders share the buckets; 0 stays padding."""
    grams = ngram_hashes(hashes, ngram_size)
    if not distinct:
        return [(g % numpy.uint64(length - 1) + numpy.uint64(1)).astype("int32") for g in grams]
    ranges = order_ranges(length, ngram_size, with_chars=bool(char_ngrams))
    return [(g % numpy.uint64(end - start) + numpy.uint64(start)).astype("int32") for g, (start, end) in zip(grams, ranges)]


def char_positions(tokens: numpy.ndarray, cfg: dict) -> numpy.ndarray:
    """Which of the tokens (hashes or positions) the n-gram path reads also give character
    n-grams: at most bow_char_max_length of them (0 = all), truncated as the model truncates."""
    return truncate(tokens, cfg["bow_char_max_length"], cfg["truncation"])


def char_ids(hashes: numpy.ndarray, cfg: dict, strings: Optional[StringStore]) -> List[numpy.ndarray]:
    """Per token hash, its distinct character n-gram bucket ids (char_ngrams.py)."""
    if strings is None:
        raise ValueError("Character n-grams (bow_char_ngrams) need the docs' StringStore to read token strings.")
    return token_char_ids(hashes, strings, cfg["bow_char_ngrams"], char_range(cfg["bow_length"], cfg["bow_ngram_size"]))


def hashed_ngrams(hashes: numpy.ndarray, ngram_size: int, length: int) -> numpy.ndarray:
    """Every n-gram occurrence's bucket id, all orders sharing the buckets (LSTMTextCat.v1)."""
    return numpy.concatenate(ngram_buckets(hashes, ngram_size, length, distinct=False))


def uses_chars(cfg: dict) -> bool:
    """Whether an architecture's n-gram path has character n-grams (v2, bow_char_ngrams > 0)."""
    return cfg.get("ngram_model") == "fitted" and bool(cfg["bow_ngram_size"]) and bool(cfg.get("bow_char_ngrams"))


def ngram_ids(hashes: numpy.ndarray, cfg: dict, strings: Optional[StringStore] = None) -> numpy.ndarray:
    """One doc's n-gram bucket ids as an architecture's n-gram path reads them, from its first
    and last `bow_max_length` tokens (0 = all): LSTMTextCat.v2 ("fitted") each distinct word
    n-gram and (bow_char_ngrams) character n-gram once, v1 every occurrence in shared buckets."""
    hashes = truncate(hashes, cfg["bow_max_length"], cfg["truncation"])
    if cfg.get("ngram_model") != "fitted":
        return hashed_ngrams(hashes, cfg["bow_ngram_size"], cfg["bow_length"])
    chars = cfg["bow_char_ngrams"] if uses_chars(cfg) else 0
    buckets = ngram_buckets(hashes, cfg["bow_ngram_size"], cfg["bow_length"], distinct=True, char_ngrams=chars)
    if chars:
        buckets += char_ids(char_positions(hashes, cfg), cfg, strings)
    return numpy.unique(numpy.concatenate(buckets))


def hashes_to_ngrams(
    hashes: Sequence[numpy.ndarray], cfg: dict, strings: Optional[StringStore] = None
) -> List[numpy.ndarray]:
    """Each doc's n-gram bucket ids (ngram_ids); `strings` for character n-grams."""
    return [ngram_ids(h, cfg, strings) for h in hashes]


def pad(seqs: Sequence[numpy.ndarray]) -> numpy.ndarray:
    """Right-pad id sequences with PAD_ID into a (batch, longest) int32 matrix (at least one
    column, so that a batch of empty sequences is still a valid network input)."""
    width = max(1, max(len(s) for s in seqs))
    out = numpy.full((len(seqs), width), PAD_ID, dtype="int32")
    for i, seq in enumerate(seqs):
        out[i, : len(seq)] = seq
    return out


def length_buckets(lengths: Sequence[int], batch_size: int) -> Iterator[numpy.ndarray]:
    """Indices grouped by similar length, `batch_size` at a time, so that short documents do
    not pay for the padding of long ones. Yields index arrays into the original order."""
    order = numpy.argsort(numpy.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def doc_features(docs: Sequence[Doc], table: TokenTable, cfg: dict) -> Tuple[List[numpy.ndarray], ...]:
    """Per-doc features with an architecture's settings: (token ids,) or, with the
    bag-of-n-grams path, (token ids, n-gram ids). Each doc's attribute array is read once."""
    hashes = doc_hashes(docs, cfg["attr"])
    ids = hashes_to_ids(hashes, table, cfg["max_length"], cfg["truncation"])
    if not cfg["bow_ngram_size"]:
        return (ids,)
    return ids, hashes_to_ngrams(hashes, cfg, docs[0].vocab.strings if len(docs) else None)


def doc_ngrams(docs: Sequence[Doc], cfg: dict) -> List[numpy.ndarray]:
    """Each doc's n-gram bucket ids alone (doc_features without the token ids)."""
    return hashes_to_ngrams(doc_hashes(docs, cfg["attr"]), cfg, docs[0].vocab.strings if len(docs) else None)


def network_inputs(features: Tuple[List[numpy.ndarray], ...], idx: Sequence[int]):
    """The padded network input for the docs at `idx`: one matrix, or a tuple of matrices."""
    padded = tuple(pad([feature[i] for i in idx]) for feature in features)
    return padded[0] if len(padded) == 1 else padded
