"""Character n-grams for the n-gram path of `spacy_lstm.LSTMTextCat.v2` (`bow_char_ngrams`):
the 2..N-grams of each token's attribute string padded with a space on each side (" word "),
hashed with spaCy's string hash (MurmurHash, the same in every process) into their own bucket
range (ngram_model.bucket_ranges).

Why: on small corpora of short texts most words are rare, and a word n-gram seen once or never
in training says nothing; its character n-grams (stems, affixes, misspellings, hashtags) are
shared with words that were seen. With them the linear path gained 0.5 to 3 points over word
n-grams alone on every benchmark corpus.

A token string's bucket ids are cached by its attribute hash, so a corpus costs Python work
once per distinct token string, not per token.
"""
from itertools import islice
from typing import Dict, List, Tuple

import numpy
from spacy.strings import StringStore, get_string_id

# Token strings whose ids are cached per setting; beyond that the oldest half is dropped.
CACHE_SIZE = 1 << 17

_caches: Dict[Tuple[int, int, int], Dict[int, numpy.ndarray]] = {}


def char_ngrams(text: str, max_n: int) -> List[str]:
    """The 2..max_n-character n-grams of " text " (every occurrence)."""
    padded = f" {text} "
    return [padded[i : i + n] for n in range(2, max_n + 1) for i in range(len(padded) - n + 1)]


def _bucket_ids(text: str, max_n: int, start: int, end: int) -> numpy.ndarray:
    grams = char_ngrams(text, max_n)
    hashes = numpy.fromiter((get_string_id(g) for g in grams), dtype="uint64", count=len(grams))
    return numpy.unique(hashes % numpy.uint64(end - start) + numpy.uint64(start)).astype("int32")


def token_char_ids(
    hashes: numpy.ndarray, strings: StringStore, max_n: int, bucket_range: Tuple[int, int]
) -> List[numpy.ndarray]:
    """Per token (given by its attribute hash), the distinct bucket ids in bucket_range of its
    character n-grams."""
    start, end = bucket_range
    cache = _caches.setdefault((max_n, start, end), {})
    out = []
    for key in hashes.tolist():
        ids = cache.get(key)
        if ids is None:
            if key not in strings:
                raise ValueError(
                    f"Token attribute hash {key} is not in the StringStore of the docs: character "
                    "n-grams need the token strings. Featurise docs with the vocab they were made with."
                )
            if len(cache) >= CACHE_SIZE:
                for old in list(islice(cache, CACHE_SIZE // 2)):
                    del cache[old]
            ids = cache[key] = _bucket_ids(strings[key], max_n, start, end)
        out.append(ids)
    return out
