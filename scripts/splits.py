"""Deterministic, stratified train/dev/test splits of labelled corpora (scripts/corpora.py
loads them): the same seed always gives the same parts, each with the corpus's label mix.
Not part of the spacy-lstm package."""
import math
import random
from collections import Counter, defaultdict
from typing import Dict, Iterable, List, Sequence, Tuple

from corpora import LabelledText


def positive_labels(cats: Dict[str, float]) -> Tuple[str, ...]:
    """The stratification key: the set of labels a document has (one for exclusive data)."""
    return tuple(sorted(label for label, score in cats.items() if score >= 0.5))


def label_counts(examples: Iterable[LabelledText]) -> Counter:
    return Counter(label for _, cats in examples for label in positive_labels(cats))


def _apportion(total: int, sizes: Dict, caps: Dict) -> Dict:
    """Split ``total`` over groups in proportion to ``sizes`` (largest-remainder method),
    never giving a group more than its cap, so per-group counts sum exactly to ``total``."""
    whole = sum(sizes.values())
    quotas = {k: total * n / whole for k, n in sizes.items()} if whole else {}
    alloc = {k: min(math.floor(q), caps[k]) for k, q in quotas.items()}
    by_remainder = sorted(quotas, key=lambda k: (alloc[k] - quotas[k], k))
    while sum(alloc.values()) < total:
        grew = False
        for k in by_remainder:
            if sum(alloc.values()) < total and alloc[k] < caps[k]:
                alloc[k] += 1
                grew = True
        if not grew:
            break
    return alloc


def stratified_parts(examples: Sequence[LabelledText], part_sizes: Sequence[int], seed: int = 0) -> List[List[LabelledText]]:
    """Disjoint random parts of the given sizes, each with the corpus's label mix.

    Deterministic for a seed: classes are visited in sorted order with one seeded RNG, and
    each part is shuffled so classes are interleaved rather than in blocks.
    """
    rng = random.Random(seed)
    by_key: Dict[Tuple[str, ...], List[int]] = defaultdict(list)
    for i, (_, cats) in enumerate(examples):
        by_key[positive_labels(cats)].append(i)
    pools = {}
    for key in sorted(by_key):
        pool = by_key[key][:]
        rng.shuffle(pool)
        pools[key] = pool
    sizes = {k: len(v) for k, v in pools.items()}
    parts = []
    for size in part_sizes:
        take = _apportion(size, sizes, {k: len(v) for k, v in pools.items()})
        part = []
        for key in sorted(pools):
            part.extend(pools[key][: take.get(key, 0)])
            pools[key] = pools[key][take.get(key, 0):]
        rng.shuffle(part)
        parts.append([examples[i] for i in part])
    return parts


def train_dev_test_split(
    examples: Sequence[LabelledText], dev: float = 0.1, test: float = 0.1, seed: int = 0
) -> Tuple[List[LabelledText], List[LabelledText], List[LabelledText]]:
    """Stratified train/dev/test split. Held-out sizes round up (as scikit-learn does), so
    80/10/10 of MR's 10,568 docs gives 8,454 / 1,057 / 1,057."""
    n = len(examples)
    n_test = min(n, math.ceil(n * test))
    n_dev = min(n - n_test, math.ceil(n * dev))
    test_part, dev_part, train_part = stratified_parts(examples, [n_test, n_dev, n - n_test - n_dev], seed)
    return train_part, dev_part, test_part


def stratified_sample(examples: Sequence[LabelledText], n: int, seed: int = 0) -> List[LabelledText]:
    """A label-balanced-as-the-corpus slice of ``n`` docs, for quick experiments."""
    return stratified_parts(examples, [min(n, len(examples))], seed)[0]


def deduplicate(examples: Iterable[LabelledText]) -> List[LabelledText]:
    """Keep the first copy of each exact text, so no document sits in both train and test."""
    seen = set()
    kept = []
    for example in examples:
        if example.text not in seen:
            seen.add(example.text)
            kept.append(example)
    return kept
