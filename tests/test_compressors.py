"""Tests of byzsim.compressors: definitions, Monte Carlo moments, bit counts, batching.

Monte Carlo checks draw N = 20000 independent compressions of one vector in a single
call and accept an estimate within 5 standard errors of its exact expectation. Under
the central limit theorem one such check fails by chance with probability about 6e-7,
and the seeds are fixed, so a failure points to a wrong implementation.
"""

import numpy as np
import pytest

from byzsim.compressors import (
    Identity,
    NaturalCompression,
    RandK,
    TopK,
    make_compressor,
)

N_SAMPLES = 20_000
N_STANDARD_ERRORS = 5.0


def make_rngs(seeds):
    return [np.random.default_rng(seed) for seed in seeds]


def draw_samples(compressor, x, seed=0):
    """Return N_SAMPLES compressions of the d-vector x, shape (N_SAMPLES, d)."""
    batch = np.broadcast_to(x, (1, N_SAMPLES, x.size))
    return compressor(batch, make_rngs([seed]))[0]


def natural_rounding_variance(x):
    """Return the exact E|C(t) - t|^2 of natural compression per coordinate t of x."""
    magnitude = np.abs(x)
    lower = 2.0 ** np.floor(np.log2(magnitude))
    upper = 2.0 * lower
    return (upper - magnitude) * (magnitude - lower)


# RandK


def test_randk_keeps_k_scaled_coordinates():
    x = np.arange(1.0, 11.0)
    out = draw_samples(RandK(K=3, d=10), x)[:50]
    nonzero = out != 0
    assert np.all(nonzero.sum(axis=1) == 3)
    assert np.allclose(out[nonzero], (np.broadcast_to(x, out.shape) * 10 / 3)[nonzero])


def test_randk_unbiased_monte_carlo():
    d, K = 10, 3
    x = np.linspace(-2.0, 3.0, d)
    samples = draw_samples(RandK(K=K, d=d), x)
    # Each coordinate is x_j d/K with probability K/d, else 0: variance x_j^2 (d/K - 1).
    standard_error = np.abs(x) * np.sqrt(d / K - 1) / np.sqrt(N_SAMPLES)
    assert np.all(np.abs(samples.mean(axis=0) - x) <= N_STANDARD_ERRORS * standard_error)


def test_randk_variance_equals_omega_norm():
    d, K = 10, 3
    compressor = RandK(K=K, d=d)
    x = np.linspace(-2.0, 3.0, d)
    errors = np.sum((draw_samples(compressor, x, seed=1) - x) ** 2, axis=1)
    expected = (d / K - 1) * np.sum(x**2)
    standard_error = errors.std() / np.sqrt(N_SAMPLES)
    assert compressor.omega == pytest.approx(d / K - 1)
    assert abs(errors.mean() - expected) <= N_STANDARD_ERRORS * standard_error


def test_randk_index_sets_uniform():
    d, K = 6, 2
    counts = (draw_samples(RandK(K=K, d=d), np.ones(d), seed=2) != 0).sum(axis=0)
    # Each coordinate is kept with probability K/d: binomial counts.
    p = K / d
    standard_error = np.sqrt(N_SAMPLES * p * (1 - p))
    assert np.all(np.abs(counts - N_SAMPLES * p) <= N_STANDARD_ERRORS * standard_error)


def test_randk_parameters():
    compressor = RandK(K=6, d=68)
    assert compressor.unbiased
    assert compressor.omega == pytest.approx(68 / 6 - 1)
    assert compressor.alpha == pytest.approx(6 / 68)
    assert compressor.label == "randk(K=6)"


def test_randk_full_keeps_vector():
    x = np.random.default_rng(3).normal(size=(2, 3, 5))
    out = RandK(K=5, d=5)(x, make_rngs([0, 1]))
    assert np.array_equal(out, x)


# TopK


def test_topk_keeps_largest_magnitude():
    out = TopK(K=1, d=3)(np.array([[[-10.0, 1.0, 2.0]]]))
    assert np.array_equal(out, [[[-10.0, 0.0, 0.0]]])


def test_topk_ties_lower_index_first():
    out = TopK(K=2, d=4)(np.array([[[3.0, 1.0, -3.0, 3.0]]]))
    assert np.array_equal(out, [[[3.0, 0.0, -3.0, 0.0]]])


def test_topk_contraction():
    rng = np.random.default_rng(4)
    d = 20
    for K in (1, 5, 19, 20):
        x = rng.normal(size=(3, 50, d)) * rng.exponential(size=(3, 50, d))
        errors = np.sum((TopK(K=K, d=d)(x) - x) ** 2, axis=-1)
        bound = (1 - K / d) * np.sum(x**2, axis=-1)
        assert np.all(errors <= bound * (1 + 1e-12)), K


def test_topk_parameters():
    compressor = TopK(K=1, d=68)
    assert not compressor.unbiased
    assert compressor.omega is None
    assert compressor.alpha == pytest.approx(1 / 68)
    assert compressor.label == "topk(K=1)"


# Natural compression


def test_natural_zero_and_powers_of_two():
    x = np.array([[[0.0, 1.0, -2.0, 0.25, 2.0**-1040, -(2.0**600)]]])
    for seed in range(5):
        assert np.array_equal(NaturalCompression()(x, make_rngs([seed])), x)


def test_natural_rounds_to_neighbour_powers():
    x = np.array([1.5, -3.0, 0.3, 1e-300, -7.9e250])
    samples = draw_samples(NaturalCompression(), x)[:200]
    lower = 2.0 ** np.floor(np.log2(np.abs(x)))
    is_lower = np.abs(samples) == lower
    is_upper = np.abs(samples) == 2 * lower
    assert np.all(is_lower | is_upper)
    assert np.all(np.sign(samples) == np.sign(x))


def test_natural_unbiased_monte_carlo():
    x = np.array([1.5, -3.0, 0.3, 4.0 / 3.0, -5.0, 100.0, 0.7])
    samples = draw_samples(NaturalCompression(), x, seed=5)
    standard_error = np.sqrt(natural_rounding_variance(x) / N_SAMPLES)
    assert np.all(np.abs(samples.mean(axis=0) - x) <= N_STANDARD_ERRORS * standard_error)


def test_natural_variance_within_omega():
    compressor = NaturalCompression()
    # |t| = (4/3) 2^k attains the worst ratio 1/8 = omega.
    x = np.array([4.0 / 3.0, -8.0 / 3.0, 1.5, -3.0, 0.3, 100.0])
    errors = np.sum((draw_samples(compressor, x, seed=6) - x) ** 2, axis=1)
    exact = natural_rounding_variance(x).sum()
    standard_error = errors.std() / np.sqrt(N_SAMPLES)
    assert compressor.omega == 0.125
    assert exact <= compressor.omega * np.sum(x**2)
    assert abs(errors.mean() - exact) <= N_STANDARD_ERRORS * standard_error
    assert errors.mean() <= compressor.omega * np.sum(x**2) + N_STANDARD_ERRORS * standard_error


def test_natural_passes_nonfinite():
    x = np.array([[[np.nan, np.inf, -np.inf, 3.0]]])
    out = NaturalCompression()(x, make_rngs([0]))
    assert np.isnan(out[0, 0, 0])
    assert out[0, 0, 1] == np.inf
    assert out[0, 0, 2] == -np.inf
    assert abs(out[0, 0, 3]) in (2.0, 4.0)


def test_natural_parameters():
    compressor = NaturalCompression()
    assert compressor.unbiased
    assert compressor.alpha == pytest.approx(8 / 9)
    assert compressor.label == "natural"


# Identity


def test_identity_returns_copy():
    x = np.random.default_rng(7).normal(size=(2, 3, 4))
    out = Identity()(x, make_rngs([0, 1]))
    assert np.array_equal(out, x)
    out[0, 0, 0] = 99.0
    assert x[0, 0, 0] != 99.0
    assert Identity().omega == 0.0
    assert Identity().alpha == 1.0


# Bit counts


@pytest.mark.parametrize(
    ("spec", "d", "expected"),
    [
        ({"name": "randk", "K": 6}, 68, 32 * 6),
        ({"name": "randk", "K": 1}, 300, 32),
        ({"name": "topk", "K": 1}, 68, 32 + 7),
        ({"name": "topk", "K": 3}, 300, 3 * (32 + 9)),
        ({"name": "topk", "K": 2}, 256, 2 * (32 + 8)),
        ({"name": "topk", "K": 1}, 1, 32),
        ({"name": "topk", "K": 1}, 2, 33),
        ({"name": "natural"}, 68, 9 * 68),
        ({"name": "identity"}, 68, 32 * 68),
    ],
)
def test_bits(spec, d, expected):
    bits = make_compressor(spec, d).bits(d)
    assert isinstance(bits, int)
    assert bits == expected


# Factory and errors


@pytest.mark.parametrize(
    ("k_fraction", "d", "K"),
    [(0.1, 68, 6), (0.1, 300, 30), (0.1, 100, 10), (0.29, 100, 29), (0.001, 68, 1), (1.0, 7, 7)],
)
def test_factory_k_fraction(k_fraction, d, K):
    compressor = make_compressor({"name": "randk", "k_fraction": k_fraction}, d)
    assert compressor.K == K
    assert compressor.d == d


def test_factory_types():
    assert isinstance(make_compressor({"name": "identity"}, 5), Identity)
    assert isinstance(make_compressor({"name": "natural"}, 5), NaturalCompression)
    assert isinstance(make_compressor({"name": "topk", "K": 2}, 5), TopK)
    assert isinstance(make_compressor({"name": "randk", "K": 2}, 5), RandK)


@pytest.mark.parametrize("K", [0, 6, -1])
def test_k_out_of_range(K):
    for name in ("randk", "topk"):
        with pytest.raises(ValueError, match=rf"K={K}.*d=5"):
            make_compressor({"name": name, "K": K}, 5)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "qsgd"}, "allowed names: identity, randk, topk, natural"),
        ({"name": "randk", "K": 2, "scale": 1}, "unknown parameter"),
        ({"name": "natural", "K": 2}, "unknown parameter"),
        ({"name": "randk"}, "exactly one of 'K'"),
        ({"name": "randk", "K": 2, "k_fraction": 0.1}, "exactly one of 'K'"),
        ({"name": "randk", "k_fraction": 0.0}, "k_fraction"),
        ({"name": "randk", "k_fraction": 1.5}, "k_fraction"),
        ({"name": "topk", "K": 1.5}, "K must be an integer"),
        ({"K": 2}, "'name'"),
    ],
)
def test_factory_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        make_compressor(spec, 10)


def test_dimension_mismatch():
    with pytest.raises(ValueError, match="d=5"):
        RandK(K=2, d=5)(np.zeros((1, 2, 6)), make_rngs([0]))


def test_rngs_count_mismatch():
    with pytest.raises(ValueError, match="2 random generators for 3 runs"):
        NaturalCompression()(np.ones((3, 2, 4)), make_rngs([0, 1]))


def test_input_shape_checked():
    with pytest.raises(ValueError, match=r"\(R, k, d\)"):
        Identity()(np.zeros((2, 3)))


# Batches


@pytest.mark.parametrize(
    "spec",
    [{"name": "randk", "K": 3}, {"name": "topk", "K": 2}, {"name": "natural"}, {"name": "identity"}],
)
def test_batch_matches_single_runs(spec):
    n_runs, n_senders, d = 4, 5, 9
    x = np.random.default_rng(8).normal(size=(n_runs, n_senders, d))
    compressor = make_compressor(spec, d)
    seeds = [11, 12, 13, 14]

    batch_rngs = make_rngs(seeds)
    single_rngs = make_rngs(seeds)
    # Two rounds, so that the generators' states after the first round also match.
    for _ in range(2):
        batch = compressor(x, batch_rngs)
        single = np.concatenate(
            [compressor(x[r : r + 1], single_rngs[r : r + 1]) for r in range(n_runs)]
        )
        assert np.array_equal(batch, single)


def test_randk_deterministic_for_seed():
    x = np.random.default_rng(9).normal(size=(2, 3, 8))
    first = RandK(K=2, d=8)(x, make_rngs([5, 6]))
    second = RandK(K=2, d=8)(x, make_rngs([5, 6]))
    assert np.array_equal(first, second)
