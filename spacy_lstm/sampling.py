"""Choosing the next unit (character or token id) when generating text.

NumPy only: this module never imports TensorFlow / Keras, so it can be used and
tested without them. Everything is batched: ``probs`` is a ``[B, V]`` array with
one row per sequence being generated, and ``sample_next`` returns ``B`` ids
without a Python loop over the batch.

Order of operations (the same as most text generators, e.g. HF transformers):

1. ``banned_ids`` are removed (probability 0, even for greedy decoding).
2. ``temperature == 0``: greedy argmax; ``top_k`` / ``top_p`` cannot change the
   argmax, so they are ignored.
3. Otherwise the log-probabilities are divided by ``temperature``
   (``p ** (1 / T)`` renormalised), computed in log space after subtracting the
   row maximum, so tiny probabilities and tiny/huge temperatures never give NaN.
4. ``top_k``: keep the k most likely ids (exactly k; exact ties broken
   arbitrarily but deterministically).
5. ``top_p``: of what is left, keep the smallest set of most likely ids whose
   cumulative probability is ``>= top_p`` (always at least one id; 1e-12 of
   slack against float round-off; exact ties broken arbitrarily).
6. Draw one id per row from the renormalised distribution.

Ids whose probability is exactly 0 (or whose logit is ``-inf``) are never
sampled, at any temperature.
"""
from numbers import Integral, Real
from typing import Iterable, Optional

import numpy as np

__all__ = ["sample_next", "sampling_distribution", "validate_sampling_args"]


def _is_real(value) -> bool:
    return isinstance(value, (Real, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def _is_int(value) -> bool:
    return isinstance(value, (Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def _describe(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def _check_temperature(temperature) -> None:
    if not _is_real(temperature) or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(
            f"temperature must be a finite number >= 0 (0 means greedy decoding), "
            f"got {_describe(temperature)}"
        )


def _check_top_k(top_k) -> None:
    if top_k is None:
        return
    if not _is_int(top_k) or top_k < 1:
        raise ValueError(
            f"top_k must be None (no limit) or an integer >= 1, got {_describe(top_k)}"
        )


def _check_top_p(top_p) -> None:
    if top_p is None:
        return
    if not _is_real(top_p) or not (0.0 < float(top_p) <= 1.0):
        raise ValueError(
            f"top_p must be None (no limit) or a number in the range (0, 1], "
            f"got {_describe(top_p)}"
        )


def validate_sampling_args(
    temperature: float,
    top_k: Optional[int],
    top_p: Optional[float],
    n: int,
    max_length: int,
) -> None:
    """Check generation settings, raising ValueError with a clear message.

    temperature (float): finite, >= 0 (0 = greedy).
    top_k (Optional[int]): None or an integer >= 1.
    top_p (Optional[float]): None or a number in (0, 1].
    n (int): number of texts to generate, integer >= 1.
    max_length (int): maximum number of units to generate, integer >= 0.

    Booleans are rejected everywhere (``True`` is not a temperature), integers
    must be real integers (``2.0`` is not a valid ``top_k``); NumPy scalars are
    accepted. Each message names the argument, the value given and the range.
    """
    _check_temperature(temperature)
    _check_top_k(top_k)
    _check_top_p(top_p)
    if not _is_int(n) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {_describe(n)}")
    if not _is_int(max_length) or max_length < 0:
        raise ValueError(
            f"max_length must be an integer >= 0, got {_describe(max_length)}"
        )


def _as_log_probs(probs, is_logits: bool) -> np.ndarray:
    x = np.array(probs, dtype=np.float64)  # a copy: we write into it
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(
            f"probs must be an array of shape [batch, vocab] (or [vocab]) with "
            f"vocab >= 1, got shape {np.shape(probs)}"
        )
    if np.isnan(x).any():
        raise ValueError("probs contains NaN values")
    if is_logits:
        if np.isposinf(x).any():
            raise ValueError("logits contain +inf values")
        return x
    if (x < 0).any():
        raise ValueError(
            "probs contains negative values; pass is_logits=True if these are logits"
        )
    if np.isinf(x).any():
        raise ValueError("probs contains infinite values")
    with np.errstate(divide="ignore"):
        return np.log(x)


def _ban(logp: np.ndarray, banned_ids: Optional[Iterable[int]]) -> None:
    if banned_ids is None:
        return
    banned = np.asarray(list(banned_ids), dtype=np.int64).reshape(-1)
    if banned.size == 0:
        return
    vocab = logp.shape[1]
    bad = banned[(banned < 0) | (banned >= vocab)]
    if bad.size:
        raise ValueError(
            f"banned_ids must be ids in the range [0, {vocab - 1}] (the vocab size "
            f"is {vocab}), got {bad.tolist()}"
        )
    logp[:, banned] = -np.inf


def sampling_distribution(
    probs: np.ndarray,
    *,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    top_p: Optional[float] = None,
    banned_ids: Optional[Iterable[int]] = None,
    is_logits: bool = False,
) -> np.ndarray:
    """The distribution ``sample_next`` draws from, as a float64 ``[B, V]`` array
    whose rows sum to 1 (one-hot at the argmax for ``temperature == 0``).

    probs: ``[B, V]`` (or ``[V]``, treated as B=1) non-negative probabilities
        (rows need not be normalised), or logits if ``is_logits=True``.
    Raises ValueError for bad arguments, NaN input, or a row in which every id
    is banned or has probability 0.
    """
    _check_temperature(temperature)
    _check_top_k(top_k)
    _check_top_p(top_p)
    logp = _as_log_probs(probs, is_logits)
    _ban(logp, banned_ids)
    row_max = logp.max(axis=1, keepdims=True)
    dead = ~np.isfinite(row_max[:, 0])
    if dead.any():
        rows = np.flatnonzero(dead).tolist()
        raise ValueError(
            f"no id can be chosen in row(s) {rows[:10]}: every id is banned or has "
            f"probability 0"
        )
    batch, vocab = logp.shape
    if temperature == 0:
        out = np.zeros_like(logp)
        out[np.arange(batch), logp.argmax(axis=1)] = 1.0
        return out
    # Shift first so the row maximum is exactly 0: dividing by any temperature
    # then keeps it finite (no -inf - -inf = NaN), and exp() cannot overflow.
    z = (logp - row_max) / float(temperature)
    cand = None  # with top_k, work on the [B, k] candidate columns only
    if top_k is not None and top_k < vocab:
        cand = np.argpartition(-z, int(top_k) - 1, axis=1)[:, : int(top_k)]
        z = np.take_along_axis(z, cand, axis=1)
    p = np.exp(z)  # the row max is exp(0) = 1 (kept by top_k), so sum >= 1
    p /= p.sum(axis=1, keepdims=True)
    if top_p is not None and top_p < 1.0:
        # quicksort: much faster than a stable sort on big vocabularies; exact
        # ties are broken arbitrarily (but deterministically).
        order = np.argsort(-p, axis=1)
        sorted_p = np.take_along_axis(p, order, axis=1)
        before = np.cumsum(sorted_p, axis=1) - sorted_p  # mass strictly before
        # A little slack so that float round-off (0.5 + 0.3 -> 0.7999...) does
        # not pull in one more id when the nucleus hits top_p exactly.
        keep_sorted = before < float(top_p) - 1e-12
        keep_sorted[:, 0] = True
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=1)
        p = np.where(keep, p, 0.0)
        p /= p.sum(axis=1, keepdims=True)
    if cand is not None:
        full = np.zeros((batch, vocab))
        np.put_along_axis(full, cand, p, axis=1)
        p = full
    return p


def sample_next(
    probs: np.ndarray,
    *,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    top_p: Optional[float] = None,
    rng: Optional[np.random.Generator] = None,
    banned_ids: Optional[Iterable[int]] = None,
    is_logits: bool = False,
) -> np.ndarray:
    """Pick one id per row of ``probs``; returns an int64 array of shape ``[B]``.

    probs: ``[B, V]`` probabilities (or ``[V]``, treated as B=1 -> shape (1,)),
        or logits if ``is_logits=True``. Rows need not be normalised.
    temperature: 0 = greedy argmax (``rng`` is not used); otherwise log-probs
        are divided by it (<1 sharper, >1 flatter).
    top_k / top_p: see the module docstring (k first, then p).
    rng: a ``np.random.Generator``; None uses a fresh unseeded one (not
        reproducible). Each non-greedy call consumes exactly ``B`` uniform draws
        (``rng.random(B)``), whatever top_k / top_p are.
    banned_ids: ids never returned (e.g. padding / unknown), even greedily.
    """
    p = sampling_distribution(
        probs,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        banned_ids=banned_ids,
        is_logits=is_logits,
    )
    if temperature == 0:
        return p.argmax(axis=1).astype(np.int64)
    if rng is None:
        rng = np.random.default_rng()
    elif not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)) or "
            f"None, got {_describe(rng)}"
        )
    batch, vocab = p.shape
    cum = np.cumsum(p, axis=1)
    u = rng.random(batch)[:, None] * cum[:, -1:]
    idx = (cum <= u).sum(axis=1)  # first position where cum > u
    # Guard against float round-off at the very top: never step past the last id
    # with non-zero probability (which would otherwise be a banned/zero id).
    last_nonzero = vocab - 1 - (p[:, ::-1] > 0).argmax(axis=1)
    return np.minimum(idx, last_nonzero).astype(np.int64)
