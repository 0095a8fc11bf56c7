"""The n-gram path of `spacy_lstm.LSTMTextCat.v2`: a logistic regression over binarised,
hashed 1..n-grams, optionally naive-Bayes weighted (NBSVM; Wang & Manning, 2012), fitted
exactly at `initialize`. NumPy, SciPy and scikit-learn; no TensorFlow.

Why it is fitted there and not in the training loop: a linear model over sparse n-grams is a
convex problem that a solver settles in seconds, while inside the loop it learns at the pace,
and stops at the step, chosen for the LSTM, which memorises a few thousand training texts long
before the n-gram weights converge. Fitted first and then frozen, the n-gram path is a strong
classifier from the first step on, and the LSTM learns what it gets wrong.

What the LSTM should learn is the n-gram model's error on texts it has *not* seen: on its own
training texts a linear model with this many features is nearly always right. So the model is
also fitted on k-1 of k folds of the training texts, and the logits of each held-out fold are
kept ("out-of-fold" logits, as in stacking): the LSTM trains on top of those, and predicts on
top of the model fitted on all texts.

The same folds choose the model: the n-gram orders (1..n), with or without the character
n-grams (when they are on: they help short texts but not long reviews), the weighting ("nb":
each n-gram's value is its naive-Bayes log-count ratio, which helps on sentiment and long
reviews; "none": presence) and the inverse regularisation strength C. The candidates with the
lowest out-of-fold log-loss win and are averaged, so the choice follows the corpus (bigrams and
NB weights for long reviews, unigrams for a small corpus of short texts) instead of one setting
tuned on one benchmark. Log-loss rather than accuracy: it scores every held-out doc by how sure
the candidate was, not only which side of 0.5 it fell on, so it separates candidates with less
noise; over 3 splits of 6 corpora (18 runs) the log-loss choice, with C down to 0.03 among the
candidates, was 0.4 points more accurate on test than the accuracy choice (12 runs better, 6
worse, no corpus worse on average).
"""
import warnings
from dataclasses import dataclass
from itertools import product
from typing import Dict, List, Optional, Sequence, Tuple

import numpy

WEIGHTINGS = ("nb", "none")
# The inverse L2 strengths tried on the folds (down to 0.03: strong regularisation wins on a few
# thousand short texts).
C_VALUES = (0.03, 0.1, 0.3, 1.0)
# The n-gram path is the average of this many best candidates: averaging a few good linear
# models was steadier across corpora than the single best (1-2 points on small corpora).
AVERAGED = 3
# liblinear's passes over the data per fit. Short texts converge in under 50; on longer ones some
# labels never meet liblinear's tolerance (Reuters-21578's "crude" at C = 1: 2,000 passes, a minute
# per fit), yet the held-out log-loss after 50 passes is the converged one to within 0.0003.
MAX_ITER = 50


@dataclass
class NgramFit:
    """The fitted n-gram path. weights: [n_buckets, n_labels] (row 0, padding, is zero);
    bias: [n_labels]; held_out_logits: [n_docs, n_labels] out-of-fold logits (None when the
    data is too small to fold); choice: the averaged candidates and their held-out scores."""

    weights: numpy.ndarray
    bias: numpy.ndarray
    held_out_logits: Optional[numpy.ndarray]
    choice: Dict[str, object]


def bucket_ranges(n_buckets: int, ngram_size: int, with_chars: bool = False) -> List[Tuple[int, int]]:
    """The bucket id ranges [start, end) of the n-gram path, equally wide, after padding (0):
    [characters,] order 1, ..., order ngram_size. The character n-grams come first, so that
    every order-k candidate (columns up to the end of order k) uses them; without them the
    layout is the one pipelines were saved with before they existed."""
    n_ranges = ngram_size + (1 if with_chars else 0)
    width = (n_buckets - 1) // n_ranges
    return [(1 + k * width, 1 + (k + 1) * width) for k in range(n_ranges)]


def order_ranges(n_buckets: int, ngram_size: int, with_chars: bool = False) -> List[Tuple[int, int]]:
    """The bucket id range [start, end) of each n-gram order 1..ngram_size: each order has its
    own range, so a model that uses only some orders is exact."""
    return bucket_ranges(n_buckets, ngram_size, with_chars)[-ngram_size:] if ngram_size else []


def char_range(n_buckets: int, ngram_size: int) -> Tuple[int, int]:
    """The bucket id range [start, end) of the character n-grams (when they are on)."""
    return bucket_ranges(n_buckets, ngram_size, with_chars=True)[0]


def ngram_logits(weights: numpy.ndarray, bias: numpy.ndarray, ngram_ids: Sequence[numpy.ndarray]) -> numpy.ndarray:
    """[n_docs, n_labels] logits of the n-gram path: each doc's bucket weights summed, plus bias."""
    if not len(ngram_ids):
        return numpy.zeros((0, len(bias)), dtype=weights.dtype)
    return numpy.stack([weights[ids].sum(axis=0) for ids in ngram_ids]) + bias


def ngram_matrix(ngram_ids: Sequence[numpy.ndarray], n_buckets: int):
    """Binary CSR matrix [n_docs, n_buckets]: which bucket ids each doc has."""
    from scipy.sparse import csr_matrix

    unique = [numpy.unique(ids) for ids in ngram_ids]
    indptr = numpy.zeros(len(unique) + 1, dtype="int64")
    numpy.cumsum([len(u) for u in unique], out=indptr[1:])
    indices = numpy.concatenate(unique).astype("int64") if unique else numpy.zeros(0, dtype="int64")
    return csr_matrix((numpy.ones(len(indices)), indices, indptr), shape=(len(unique), n_buckets))


def nb_ratios(X, y: numpy.ndarray, alpha: float = 1.0) -> numpy.ndarray:
    """Naive-Bayes log-count ratio of every column for a binary target y (0/1)."""
    p = numpy.asarray(X[y == 1].sum(axis=0)).ravel() + alpha
    q = numpy.asarray(X[y == 0].sum(axis=0)).ravel() + alpha
    return numpy.log(p / p.sum()) - numpy.log(q / q.sum())


def fit_binary(X, y: numpy.ndarray, C: float, weighting: str) -> Tuple[numpy.ndarray, float]:
    """(weights per column, intercept) of one binary logistic regression. liblinear's dual
    solver: exact and fast when there are many more n-grams than documents."""
    from scipy.sparse import diags
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):  # one class only: the smoothed prior is all to learn
        prior = (n_pos + 0.5) / (len(y) + 1.0)
        return numpy.zeros(X.shape[1]), float(numpy.log(prior / (1.0 - prior)))
    scale = nb_ratios(X, y) if weighting == "nb" else numpy.ones(X.shape[1])
    # A fixed seed for liblinear's coordinate order, so a fit does not depend on what ran before it.
    # (Its random state is global to the process: fits on several threads would not be repeatable.)
    regression = LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=MAX_ITER, random_state=0)
    with warnings.catch_warnings():  # a not-quite-converged fit is still a good fit here
        warnings.simplefilter("ignore", ConvergenceWarning)
        regression.fit(X @ diags(scale), y)
    return scale * regression.coef_[0], float(regression.intercept_[0])


def stratified_folds(y: numpy.ndarray, n_folds: int, seed: int) -> Optional[numpy.ndarray]:
    """A fold index per row, stratified by y (0/1); None when a class has fewer rows than folds."""
    if n_folds < 2 or numpy.bincount(y, minlength=2).min() < n_folds:
        return None
    rng = numpy.random.default_rng(seed)
    fold = numpy.empty(len(y), dtype="int64")
    for value in (0, 1):
        rows = numpy.flatnonzero(y == value)
        fold[rng.permutation(rows)] = numpy.arange(len(rows)) % n_folds
    return fold


def _binary_log_loss(logits: numpy.ndarray, y: numpy.ndarray) -> float:
    return float(numpy.mean(numpy.logaddexp(0.0, numpy.where(y == 1, -logits, logits))))


class _Problems:
    """The binary problems the n-gram path solves: one for two exclusive classes (the logit of
    label 1 against label 0, whose logit stays 0), else one per label (one-vs-rest), each on
    the docs where that label is annotated."""

    def __init__(self, truths: numpy.ndarray, exclusive: bool, n_folds: int, seed: int):
        n_docs, n_labels = truths.shape
        known = ~numpy.isnan(truths)
        self.exclusive = exclusive
        self.n_labels = n_labels
        self.labels = [1] if exclusive and n_labels == 2 else list(range(n_labels))
        self.rows = [numpy.arange(n_docs) if exclusive else numpy.flatnonzero(known[:, k]) for k in self.labels]
        self.targets = [(numpy.nan_to_num(truths[rows, k]) > 0.5).astype("int64") for k, rows in zip(self.labels, self.rows)]
        self.folds = [stratified_folds(y, n_folds, seed + k) for k, y in zip(self.labels, self.targets)]
        self.n_folds = n_folds
        self.gold = numpy.nan_to_num(truths).argmax(axis=1) if exclusive else None

    @property
    def can_fold(self) -> bool:
        return all(fold is not None for fold in self.folds)


def _held_out(X, problems: _Problems, C: float, weighting: str) -> numpy.ndarray:
    """Out-of-fold logits [n_docs, n_labels] of one candidate (bias included)."""
    logits = numpy.zeros((X.shape[0], problems.n_labels))
    for k, rows, y, fold in zip(problems.labels, problems.rows, problems.targets, problems.folds):
        Xk = X[rows]
        for f in range(problems.n_folds):
            w, b = fit_binary(Xk[fold != f], y[fold != f], C, weighting)
            logits[rows[fold == f], k] = Xk[fold == f] @ w + b
    return logits


def _score(logits: numpy.ndarray, problems: _Problems) -> Tuple[float, float]:
    """(held-out accuracy, held-out log-loss) of a candidate; lower log-loss is better, the
    accuracy is reported (multilabel: 0)."""
    loss = sum(_binary_log_loss(logits[rows, k], y) for k, rows, y in zip(problems.labels, problems.rows, problems.targets))
    if not problems.exclusive:
        return 0.0, loss
    return float(numpy.mean(logits.argmax(axis=1) == problems.gold)), loss


def fit_ngram_model(
    ngram_ids: Sequence[numpy.ndarray],
    truths: numpy.ndarray,
    *,
    exclusive: bool,
    n_buckets: int,
    ngram_size: int,
    char_ngrams: int = 0,
    C_values: Sequence[float] = C_VALUES,
    weightings: Sequence[str] = WEIGHTINGS,
    n_folds: int = 3,
    seed: int = 0,
) -> NgramFit:
    """Choose and fit the n-gram path on the training docs' bucket ids (see the module
    docstring). truths: [n_docs, n_labels] gold values, NaN where a label is not annotated;
    char_ngrams: whether the ids include character n-grams (bucket_ranges)."""
    truths = numpy.asarray(truths, dtype="float64")
    X = ngram_matrix(ngram_ids, n_buckets)
    problems = _Problems(truths, exclusive, n_folds, seed)
    ranges = order_ranges(n_buckets, ngram_size, with_chars=bool(char_ngrams))
    char_options = (False, True) if char_ngrams else (False,)
    candidates = list(product(range(1, ngram_size + 1), char_options, weightings, C_values))

    def columns(order: int, chars: bool) -> slice:  # without characters: from order 1's range on
        return slice(ranges[0][0] if char_ngrams and not chars else 0, ranges[order - 1][1])

    if problems.can_fold:
        scored = []
        for order, chars, weighting, C in candidates:
            logits = _held_out(X[:, columns(order, chars)], problems, C, weighting)
            loss = _score(logits, problems)[1]
            scored.append((loss, (order, chars, weighting, C), logits))
        scored.sort(key=lambda item: item[0])
        chosen = [candidate for _, candidate, _ in scored[:AVERAGED]]
        held_out = sum(logits for _, _, logits in scored[:AVERAGED]) / len(chosen)
        accuracy, loss = _score(held_out, problems)
    else:  # too few docs to hold any out: the least regularised candidate, no held-out logits
        chosen, held_out, accuracy, loss = [candidates[-1]], None, None, None
    weights = numpy.zeros((n_buckets, truths.shape[1]), dtype="float64")
    bias = numpy.zeros(truths.shape[1], dtype="float64")
    for order, chars, weighting, C in chosen:
        used = columns(order, chars)
        for k, rows, y in zip(problems.labels, problems.rows, problems.targets):
            w, b = fit_binary(X[rows, used], y, C, weighting)
            weights[used, k] += w / len(chosen)
            bias[k] += b / len(chosen)
    weights[0] = 0.0
    if held_out is not None and not exclusive:  # docs whose label is not annotated: the full model
        for k, rows in zip(problems.labels, problems.rows):
            unknown = numpy.setdiff1d(numpy.arange(X.shape[0]), rows)
            held_out[unknown, k] = X[unknown] @ weights[:, k] + bias[k]
    choice = {
        "candidates": [{"ngram_orders": o, "char_ngrams": ch, "weighting": w, "C": c} for o, ch, w, c in chosen],
        "held_out_accuracy": accuracy,
        "held_out_log_loss": loss,
    }
    held_out = None if held_out is None else held_out.astype("float32")
    return NgramFit(weights.astype("float32"), bias.astype("float32"), held_out, choice)
