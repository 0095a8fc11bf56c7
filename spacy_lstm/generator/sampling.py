"""Choosing the next unit (character or token id) when generating text: the NumPy reference
and its TensorFlow twin, side by side.

Generation samples inside the TensorFlow graph (`make_graph_sampler`, used by
lm_shim.LanguageModelShim.generate_block), many units per graph call; the NumPy functions are
the readable reference that the graph sampler must equal (`graph_sampling_distribution` ==
`sampling_distribution`, tested), and they check the user's arguments. This module imports
TensorFlow only inside the graph functions, so the reference works without it.

Everything is batched: ``probs`` is a ``[B, V]`` array, one row per sequence being generated.
Order of operations (as in most text generators, e.g. HF transformers):

1. ``banned_ids`` are removed (probability 0, even for greedy decoding).
2. ``temperature == 0``: greedy argmax; ``top_k`` / ``top_p`` cannot change the argmax.
3. Otherwise the log-probabilities minus the row maximum are divided by ``temperature``
   (``p ** (1 / T)`` renormalised), so tiny probabilities and tiny/huge temperatures never
   give NaN.
4. ``top_k``: keep the k most likely ids (NumPy: exactly k, exact ties broken arbitrarily;
   graph: every id tied with the k-th is kept; with float logits ties do not happen).
5. ``top_p``: of what is left, keep the smallest set of most likely ids whose cumulative
   probability is ``>= top_p`` (at least one id; 1e-12 of slack against float round-off).
6. Draw one id per row from the renormalised distribution.

Ids whose probability is exactly 0 (or whose logit is ``-inf``) are never sampled.
"""
from typing import Iterable, Optional

import numpy as np

from ..validate import check_integer, check_number

__all__ = [
    "graph_sampler_args",
    "graph_sampling_distribution",
    "make_graph_sampler",
    "sample_next",
    "sampling_distribution",
    "validate_sampling_args",
]


_TOP_P_SLACK = 1e-12


def _check_temperature(temperature) -> None:
    check_number("temperature", temperature, 0.0, meaning="0 means greedy decoding")


def _check_top_k(top_k) -> None:
    check_integer("top_k", top_k, 1, none="no limit")


def _check_top_p(top_p) -> None:
    check_number("top_p", top_p, 0.0, 1.0, low_open=True, none="no limit")


def validate_sampling_args(
    temperature: float, top_k: Optional[int], top_p: Optional[float], n: int, max_length: int
) -> None:
    """Check generation settings (ValueError naming the argument, the value and the range).

    temperature: finite, >= 0 (0 = greedy). top_k: None or an integer >= 1. top_p: None or a
    number in (0, 1]. n: samples, an integer >= 1. max_length: units, an integer >= 0.
    """
    _check_temperature(temperature)
    _check_top_k(top_k)
    _check_top_p(top_p)
    check_integer("n", n, 1)
    check_integer("max_length", max_length, 0)


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
        keep_sorted = before < float(top_p) - _TOP_P_SLACK
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
            f"None, got {rng!r} ({type(rng).__name__})"
        )
    batch, vocab = p.shape
    cum = np.cumsum(p, axis=1)
    u = rng.random(batch)[:, None] * cum[:, -1:]
    idx = (cum <= u).sum(axis=1)  # first position where cum > u
    # Guard against float round-off at the very top: never step past the last id
    # with non-zero probability (which would otherwise be a banned/zero id).
    last_nonzero = vocab - 1 - (p[:, ::-1] > 0).argmax(axis=1)
    return np.minimum(idx, last_nonzero).astype(np.int64)


# --- the TensorFlow twin: the same distribution, computed inside a graph ----------------------
# Same order of operations as sampling_distribution, in float64. Settings are tensors so that
# changing them never retraces a graph: temperature (float64, 0 = greedy), top_k (int32, 0 =
# no limit), top_p (float64, >= 1 = no limit), banned_ids (int32 [n]).


def make_graph_sampler(vocab, temperature, top_k, top_p, banned_ids):
    """Build (in the current graph) the sampler for these settings: returns
    (filter(logits) -> (filtered float64 logits, banned-masked logits), sample(logits, key) ->
    int32 ids). What does not depend on the logits is computed here, once, so a generation
    loop repeats only the per-step work. `key` is an int64 [2] stateless-RNG key."""
    from ..keras.backend import tf

    neg_inf = tf.constant(-np.inf, tf.float64)
    banned = tf.reduce_any(tf.equal(tf.range(vocab)[None, :], tf.cast(banned_ids, tf.int32)[:, None]), axis=0)
    banned = banned[None, :]
    greedy = temperature <= 0
    temperature = tf.where(greedy, tf.constant(1.0, tf.float64), tf.cast(temperature, tf.float64))
    top_k = tf.cast(top_k, tf.int32)
    use_top_k = (top_k > 0) & (top_k < vocab)
    top_p = tf.cast(top_p, tf.float64)
    use_top_p = top_p < 1.0

    def keep_top_k(z):
        # the k-th largest value is the threshold (tf.sort, not tf.math.top_k: any k, and XLA-able)
        kth = tf.gather(tf.sort(z, axis=1, direction="DESCENDING"), top_k - 1, axis=1)
        return tf.where(z >= kth[:, None], z, neg_inf)

    def keep_top_p(z):
        p = tf.nn.softmax(z, axis=1)
        sorted_p = tf.sort(p, axis=1, direction="DESCENDING")
        before = tf.cumsum(sorted_p, axis=1, exclusive=True)  # mass strictly before
        n_keep = tf.maximum(tf.reduce_sum(tf.cast(before < top_p - _TOP_P_SLACK, tf.int32), axis=1), 1)
        cutoff = tf.gather(sorted_p, n_keep - 1, axis=1, batch_dims=1)
        return tf.where(p >= cutoff[:, None], z, neg_inf)

    def filter_logits(logits):
        x = tf.where(banned, neg_inf, tf.cast(logits, tf.float64))
        z = (x - tf.reduce_max(x, axis=1, keepdims=True)) / temperature
        z = tf.cond(use_top_k, lambda: keep_top_k(z), lambda: z)
        z = tf.cond(use_top_p, lambda: keep_top_p(z), lambda: z)
        return z, x

    def sample(logits, key):
        return tf.cond(
            greedy,
            lambda: tf.argmax(tf.where(banned, tf.constant(-np.inf, logits.dtype), logits), axis=1, output_type=tf.int32),
            lambda: tf.random.stateless_categorical(filter_logits(logits)[0], 1, key, dtype=tf.int32)[:, 0],
        )

    return filter_logits, sample


def graph_sampler_args(temperature, top_k, top_p, banned_ids):
    """Python settings -> the tensors make_graph_sampler takes (top_k None -> 0, top_p None -> 1)."""
    from ..keras.backend import tf

    return (
        tf.constant(float(temperature), tf.float64),
        tf.constant(int(top_k or 0), tf.int32),
        tf.constant(1.0 if top_p is None else float(top_p), tf.float64),
        tf.constant(list(banned_ids), tf.int32, shape=[len(banned_ids)]),
    )


def graph_sampling_distribution(logits, temperature, top_k=None, top_p=None, banned_ids=()):
    """The distribution the graph sampler draws from, as a float64 [B, V] tensor: equals
    sampling_distribution(logits, is_logits=True, ...) with the same settings."""
    from ..keras.backend import tf

    logits = tf.convert_to_tensor(logits, tf.float32)
    filter_logits, _ = make_graph_sampler(tf.shape(logits)[1], *graph_sampler_args(temperature, top_k, top_p, banned_ids))
    z, x = filter_logits(logits)
    if temperature == 0:
        return tf.one_hot(tf.argmax(x, axis=1), tf.shape(x)[1], dtype=tf.float64)
    return tf.nn.softmax(z, axis=1)
