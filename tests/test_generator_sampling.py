import numpy as np
import pytest

from spacy_lstm.generator.sampling import (
    sample_next,
    sampling_distribution,
    validate_sampling_args,
)


def _random_probs(batch, vocab, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.3, size=(batch, vocab))
    return x / x.sum(axis=1, keepdims=True)


def test_greedy_is_argmax():
    probs = _random_probs(16, 50)
    out = sample_next(probs, temperature=0, top_k=None, top_p=None, rng=None)
    assert out.shape == (16,)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, probs.argmax(axis=1))


def test_greedy_does_not_consume_rng():
    probs = _random_probs(4, 10)
    rng = np.random.default_rng(3)
    sample_next(probs, temperature=0.0, rng=rng)
    assert rng.random() == np.random.default_rng(3).random()


def test_greedy_with_logits_and_1d_input():
    logits = np.array([[-1.0, 5.0, 2.0], [3.0, -np.inf, 0.0]])
    np.testing.assert_array_equal(
        sample_next(logits, temperature=0, is_logits=True), [1, 0]
    )
    assert sample_next(np.array([0.1, 0.2, 0.7]), temperature=0).tolist() == [2]


@pytest.mark.parametrize("temperature", [0.01, 0.5, 1.0, 3.0, 100.0])
def test_top_k_1_is_greedy(temperature):
    probs = _random_probs(32, 40, seed=1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        out = sample_next(probs, temperature=temperature, top_k=1, rng=rng)
        np.testing.assert_array_equal(out, probs.argmax(axis=1))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 10.0])
def test_tiny_top_p_is_greedy(temperature):
    probs = _random_probs(32, 40, seed=2)
    rng = np.random.default_rng(0)
    for _ in range(5):
        out = sample_next(probs, temperature=temperature, top_p=1e-9, rng=rng)
        np.testing.assert_array_equal(out, probs.argmax(axis=1))


def test_top_p_keeps_smallest_nucleus():
    probs = np.array([[0.5, 0.3, 0.15, 0.05]])
    dist = sampling_distribution(probs, temperature=1.0, top_p=0.8)
    np.testing.assert_allclose(dist, [[0.5 / 0.8, 0.3 / 0.8, 0, 0]])
    dist = sampling_distribution(probs, temperature=1.0, top_p=0.81)
    np.testing.assert_allclose(dist, [[0.5, 0.3, 0.15, 0]] / np.float64(0.95))
    dist = sampling_distribution(probs, temperature=1.0, top_p=1.0)
    np.testing.assert_allclose(dist, probs)


def test_top_k_then_top_p():
    probs = np.array([[0.4, 0.3, 0.2, 0.1]])
    dist = sampling_distribution(probs, temperature=1.0, top_k=2)
    np.testing.assert_allclose(dist, [[0.4 / 0.7, 0.3 / 0.7, 0, 0]])
    # after top_k=3 the mass is 0.4/0.9, 0.3/0.9, 0.2/0.9; top_p=0.5 -> 2 ids
    dist = sampling_distribution(probs, temperature=1.0, top_k=3, top_p=0.5)
    np.testing.assert_allclose(dist, [[0.4 / 0.7, 0.3 / 0.7, 0, 0]])
    # top_k larger than the vocab keeps everything
    dist = sampling_distribution(probs, temperature=1.0, top_k=100)
    np.testing.assert_allclose(dist, probs)


def test_samples_only_from_top_k():
    probs = _random_probs(8, 30, seed=5)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    rng = np.random.default_rng(1)
    for _ in range(50):
        out = sample_next(probs, temperature=2.0, top_k=3, rng=rng)
        assert all(out[i] in top3[i] for i in range(8))


def test_same_seed_same_samples_different_seeds_differ():
    probs = _random_probs(8, 20, seed=4)

    def draw(seed):
        rng = np.random.default_rng(seed)
        draws = [sample_next(probs, temperature=1.0, rng=rng) for _ in range(50)]
        return np.stack(draws)

    np.testing.assert_array_equal(draw(123), draw(123))
    assert not np.array_equal(draw(123), draw(124))


def test_frequencies_match_distribution():
    dist = np.array([0.5, 0.25, 0.15, 0.07, 0.03, 0.0])
    n = 40_000
    probs = np.tile(dist, (n, 1))
    out = sample_next(probs, temperature=1.0, rng=np.random.default_rng(7))
    freq = np.bincount(out, minlength=len(dist)) / n
    np.testing.assert_allclose(freq, dist, atol=0.01)
    assert freq[-1] == 0.0  # probability 0 is never drawn


def test_unnormalised_rows_are_fine():
    probs = np.array([[2.0, 6.0, 0.0]])
    np.testing.assert_allclose(
        sampling_distribution(probs, temperature=1.0), [[0.25, 0.75, 0.0]]
    )


def test_temperature_flattens_and_sharpens():
    probs = np.array([[0.7, 0.2, 0.09, 0.01]])
    hot = sampling_distribution(probs, temperature=1e6)
    np.testing.assert_allclose(hot, np.full((1, 4), 0.25), atol=1e-5)
    assert np.all(np.diff(sampling_distribution(probs, temperature=3.0)[0]) < 0)
    warm = sampling_distribution(probs, temperature=2.0)
    assert warm[0, 0] < 0.7 and warm[0, 3] > 0.01
    # p ** (1/T), renormalised
    expected = probs ** 0.5 / (probs ** 0.5).sum()
    np.testing.assert_allclose(warm, expected)
    cold = sampling_distribution(probs, temperature=0.05)
    assert cold[0, 0] > 0.999
    # and the empirical frequencies follow
    rng = np.random.default_rng(0)
    out = sample_next(np.tile(probs, (20_000, 1)), temperature=1e6, rng=rng)
    np.testing.assert_allclose(np.bincount(out, minlength=4) / 20_000, 0.25, atol=0.02)


def test_tiny_probabilities_and_extreme_temperatures_no_nan():
    probs = np.array([[1.0, 1e-300, 0.0, 5e-324], [1e-200, 1e-250, 1e-300, 1e-310]])
    for t in [1e-300, 1e-8, 0.3, 1.0, 1e8, 1e300]:
        dist = sampling_distribution(probs, temperature=t)
        assert np.all(np.isfinite(dist))
        np.testing.assert_allclose(dist.sum(axis=1), 1.0)
        out = sample_next(probs, temperature=t, top_p=0.9, top_k=3,
                          rng=np.random.default_rng(0))
        assert out[0] != 2  # probability 0 never sampled
    out = sample_next(probs, temperature=1e-300, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out, [0, 0])


def test_banned_ids_never_chosen():
    probs = _random_probs(64, 12, seed=9)
    probs[:, 0] = 10.0  # padding would win greedily
    probs[:, 1] = 5.0
    banned = [0, 1]
    out = sample_next(probs, temperature=0, banned_ids=banned)
    assert not np.isin(out, banned).any()
    rng = np.random.default_rng(0)
    for kwargs in [dict(), dict(top_k=1), dict(top_k=3), dict(top_p=0.5),
                   dict(temperature=100.0)]:
        kwargs.setdefault("temperature", 1.0)
        for _ in range(20):
            out = sample_next(probs, rng=rng, banned_ids=banned, **kwargs)
            assert not np.isin(out, banned).any()
    dist = sampling_distribution(probs, temperature=1.0, banned_ids=np.array(banned))
    assert np.all(dist[:, banned] == 0)


def test_everything_banned_raises():
    with pytest.raises(ValueError, match="banned or has probability 0"):
        sample_next(np.array([[0.5, 0.5, 0.0]]), temperature=1.0, banned_ids=[0, 1])
    with pytest.raises(ValueError, match="banned_ids"):
        sample_next(np.array([[0.5, 0.5]]), temperature=0, banned_ids=[2])


@pytest.mark.parametrize(
    "probs,match",
    [
        (np.array([[0.5, np.nan]]), "NaN"),
        (np.array([[0.5, -0.1]]), "negative"),
        (np.zeros((2, 3, 4)), "shape"),
        (np.zeros((2, 0)), "shape"),
    ],
)
def test_bad_probs_raise(probs, match):
    with pytest.raises(ValueError, match=match):
        sample_next(probs, temperature=1.0, rng=np.random.default_rng(0))


def test_bad_rng_raises():
    with pytest.raises(ValueError, match="rng"):
        sample_next(np.array([[0.5, 0.5]]), temperature=1.0, rng=42)


GOOD = dict(temperature=1.0, top_k=None, top_p=None, n=1, max_length=0)


def test_validate_good_args():
    validate_sampling_args(**GOOD)
    validate_sampling_args(temperature=0, top_k=5, top_p=1.0, n=3, max_length=100)
    validate_sampling_args(
        temperature=np.float32(0.7), top_k=np.int64(2), top_p=0.9, n=np.int32(2),
        max_length=np.int64(0),
    )


@pytest.mark.parametrize(
    "name,value",
    [
        ("temperature", -0.1),
        ("temperature", float("nan")),
        ("temperature", float("inf")),
        ("temperature", "1.0"),
        ("temperature", None),
        ("temperature", True),
        ("top_k", 0),
        ("top_k", -3),
        ("top_k", 2.5),
        ("top_k", 2.0),
        ("top_k", "5"),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("top_p", -0.2),
        ("top_p", "0.9"),
        ("n", 0),
        ("n", -1),
        ("n", 1.0),
        ("n", None),
        ("max_length", -1),
        ("max_length", 10.5),
        ("max_length", "100"),
    ],
)
def test_validate_bad_args(name, value):
    args = dict(GOOD, **{name: value})
    with pytest.raises(ValueError) as exc:
        validate_sampling_args(**args)
    msg = str(exc.value)
    assert msg.startswith(name)
    assert repr(value) in msg


@pytest.mark.parametrize(
    "name,value", [("temperature", -1.0), ("top_k", 0), ("top_p", 2.0)]
)
def test_sample_next_validates_too(name, value):
    kwargs = dict({"temperature": 1.0}, **{name: value})
    with pytest.raises(ValueError, match=name):
        sample_next(np.array([[0.5, 0.5]]), rng=np.random.default_rng(0), **kwargs)


# --- the TensorFlow twin used for generation (the graph sampler) -------------------------------


@pytest.mark.parametrize(
    "temperature,top_k,top_p",
    [
        (1.0, None, None),
        (0.7, None, None),
        (3.0, None, None),
        (1.0, 5, None),
        (0.5, 1, None),
        (1.0, None, 0.9),
        (1.3, None, 0.5),
        (0.8, 10, 0.8),
        (2.0, 3, 0.99),
        (1.0, None, 1e-9),
        (1.0, 100, 1.0),
        (0, None, None),
        (0, 4, 0.5),
    ],
)
def test_tf_distribution_matches_numpy(temperature, top_k, top_p):
    from spacy_lstm.generator.sampling import graph_sampling_distribution

    rng = np.random.default_rng(11)
    logits = (rng.normal(size=(24, 60)) * 3).astype(np.float32)
    logits[0, 5] = -np.inf  # an id the model rules out
    banned = (0, 1)
    expected = sampling_distribution(
        logits, temperature=temperature, top_k=top_k, top_p=top_p, banned_ids=banned, is_logits=True
    )
    got = graph_sampling_distribution(logits, temperature, top_k, top_p, banned).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert (got[:, list(banned)] == 0).all()


def test_tf_sampler_draws_from_filtered_distribution_reproducibly():
    from spacy_lstm.generator.sampling import graph_sampler_args, make_graph_sampler
    from spacy_lstm.keras.backend import tf

    with np.errstate(divide="ignore"):  # id 0 has probability 0: logit -inf
        logits = np.log(np.array([[0.0, 0.1, 0.4, 0.3, 0.15, 0.05]] * 4000, dtype=np.float32))

    def draw(seed, top_k=None, top_p=None, temperature=1.0):
        _, sample = make_graph_sampler(logits.shape[1], *graph_sampler_args(temperature, top_k, top_p, [1]))
        return sample(tf.constant(logits), tf.constant([seed, 0], tf.int64)).numpy()

    ids = draw(3)
    np.testing.assert_array_equal(ids, draw(3))
    assert (ids != draw(4)).any()
    freqs = np.bincount(ids, minlength=6) / len(ids)
    np.testing.assert_allclose(freqs, [0, 0, 0.4 / 0.9, 0.3 / 0.9, 0.15 / 0.9, 0.05 / 0.9], atol=0.03)
    assert set(draw(5, top_k=2).tolist()) == {2, 3}
    assert set(draw(6, top_p=0.6).tolist()) == {2, 3}  # 0.4/0.9 < 0.6 <= 0.7/0.9
    assert set(draw(7, temperature=0.0).tolist()) == {2}
