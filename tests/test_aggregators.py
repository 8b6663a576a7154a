"""Tests of byzsim.aggregators: each rule against its definition, bucketing, batching,
the Krum condition and the non-finite policy."""

import numpy as np
import pytest
from scipy.optimize import minimize

from byzsim.aggregators import (
    Aggregator,
    Bucketing,
    CoordinateMedian,
    GeometricMedian,
    Krum,
    Mean,
    make_aggregator,
)

ALL_SPECS = [
    {"name": "mean"},
    {"name": "cm"},
    {"name": "gm"},
    {"name": "krum"},
    {"name": "mean", "bucket_size": 2},
    {"name": "cm", "bucket_size": 2},
    {"name": "gm", "bucket_size": 2},
    {"name": "cm", "bucket_size": 3},
]


def make_rngs(seeds):
    return [np.random.default_rng(seed) for seed in seeds]


def one_run(*vectors):
    """Return the vectors of one run as an array of shape (1, n, d)."""
    return np.asarray(vectors, dtype=np.float64)[None]


class RecordInputs(Aggregator):
    """Inner rule that stores the bucket means it receives and returns their first row."""

    name = "record"
    label = "Record"

    def __init__(self):
        self.received = []

    def _aggregate(self, x, rngs, n_discarded):
        self.received.append(x.copy())
        return x[:, 0]


# Mean and coordinate-wise median


def test_mean_definition():
    out = Mean()(one_run([1.0, 2.0], [3.0, 6.0], [5.0, 1.0]))
    assert np.array_equal(out, [[3.0, 3.0]])


def test_cm_odd_count():
    out = CoordinateMedian()(one_run([1.0, 9.0], [7.0, -2.0], [3.0, 4.0]))
    assert np.array_equal(out, [[3.0, 4.0]])


def test_cm_even_count_averages_middle():
    out = CoordinateMedian()(one_run([1.0, 8.0], [2.0, -4.0], [3.0, 0.0], [10.0, 2.0]))
    assert np.array_equal(out, [[2.5, 1.0]])


def test_cm_ignores_minority_outlier():
    out = CoordinateMedian()(one_run([1.0], [1.0], [1.0], [1e12], [-1e12]))
    assert np.array_equal(out, [[1.0]])


# Geometric median


def sum_of_distances(z, points):
    return np.sum(np.linalg.norm(points - z, axis=1))


def test_gm_matches_scipy_minimizer():
    points = np.random.default_rng(0).normal(size=(7, 3)) * [1.0, 2.0, 0.5]
    gm = GeometricMedian()(points[None])[0]

    result = minimize(
        sum_of_distances,
        points.mean(axis=0),
        args=(points,),
        method="Nelder-Mead",
        options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 20_000},
    )
    assert result.success
    assert sum_of_distances(gm, points) <= result.fun * (1 + 1e-10)
    assert np.linalg.norm(gm - result.x) <= 1e-6


def test_gm_iterate_on_input_is_finite():
    # The first iterate, the mean, equals the input 0, whose distance is 0.
    out = GeometricMedian()(one_run([0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]))
    assert np.all(np.isfinite(out))
    assert np.allclose(out, [[0.0, 0.0]], atol=1e-6)


def test_gm_counts_duplicates():
    # At a = (0, 0) with multiplicity 2, the unit vectors towards the other inputs sum
    # to norm sqrt(2) <= 2, so a minimizes the sum of distances.
    out = GeometricMedian()(one_run([0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 1.0]))
    assert np.allclose(out, [[0.0, 0.0]], atol=1e-5)
    # With a only once, the geometric median lies off a, so the multiplicity matters.
    single = GeometricMedian()(one_run([0.0, 0.0], [1.0, 0.0], [0.0, 1.0]))
    assert np.linalg.norm(single) > 0.1


def test_gm_identical_inputs():
    vector = [0.3, -1.7, 2.5]
    out = GeometricMedian()(one_run(vector, vector, vector, vector))
    assert np.array_equal(out, [vector])


def test_gm_robust_to_minority():
    good = np.full((5, 2), 1.0)
    points = np.concatenate([good, [[1e9, -1e9], [1e9, 1e9]]])
    out = GeometricMedian()(points[None])
    assert np.allclose(out, [[1.0, 1.0]], atol=1e-4)


@pytest.mark.parametrize(
    "kwargs", [{"nu": 0.0}, {"tol": -1.0}, {"max_iter": 0}, {"max_iter": 2.5}]
)
def test_gm_parameter_errors(kwargs):
    with pytest.raises(ValueError):
        GeometricMedian(**kwargs)


# Krum


def test_krum_selection():
    # f = 1, n = 5: each score sums the squared distances to the 2 nearest others.
    # Scores: 0 -> 4 + 9, 2 -> 1 + 4, 3 -> 1 + 9, 7 -> 16 + 25, 100 -> large.
    out = Krum(n_byzantine=1)(one_run([0.0], [2.0], [3.0], [7.0], [100.0]))
    assert np.array_equal(out, [[2.0]])


def test_krum_selection_permuted_2d():
    points = np.array([[10.0, 10.0], [0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-5.0, 0.0], [0.5, 0.5]])
    # With f = 1 every score uses the 3 nearest others; (0.5, 0.5) has 0.5 + 0.5 + 0.5.
    out = Krum(n_byzantine=1)(points[None])
    assert np.array_equal(out, [[0.5, 0.5]])


def test_krum_ties_lower_index():
    out = Krum(n_byzantine=1)(one_run([0.0], [1.0], [2.0], [3.0], [100.0]))
    # Inputs 1 and 2 both score 1 + 1; the lower index wins.
    assert np.array_equal(out, [[1.0]])


def test_krum_returns_an_input():
    x = np.random.default_rng(1).normal(size=(3, 9, 4))
    out = Krum(n_byzantine=2)(x)
    for r in range(3):
        assert any(np.array_equal(out[r], row) for row in x[r])


@pytest.mark.parametrize(("n", "f"), [(4, 1), (8, 3), (2, 0)])
def test_krum_too_few_inputs(n, f):
    with pytest.raises(ValueError, match=rf"n={n} and f={f}"):
        Krum(n_byzantine=f)(np.zeros((1, n, 2)))


def test_krum_minimum_inputs_accepted():
    out = Krum(n_byzantine=1)(np.zeros((1, 5, 2)))
    assert out.shape == (1, 2)


def test_krum_bucketing_counts_buckets():
    aggregator = make_aggregator({"name": "krum", "bucket_size": 2}, n_byzantine=3)
    with pytest.raises(ValueError, match=r"8 buckets.*n=8 and f=3.*smaller bucket_size"):
        aggregator(np.zeros((1, 16, 2)), make_rngs([0]))
    # 9 buckets > 2 * 3 + 2 are enough.
    out = aggregator(np.zeros((1, 18, 2)), make_rngs([0]))
    assert out.shape == (1, 2)


def test_krum_negative_f():
    with pytest.raises(ValueError, match="n_byzantine"):
        Krum(n_byzantine=-1)


# Bucketing


def test_bucketing_count_and_last_bucket_mean():
    n, s = 7, 3
    recorder = RecordInputs()
    Bucketing(recorder, bucket_size=s)(np.eye(n)[None], make_rngs([0]))
    buckets = recorder.received[0][0]

    assert buckets.shape == (3, n)
    sizes = (buckets > 0).sum(axis=1)
    assert list(sizes) == [3, 3, 1]
    # Every bucket is the mean over its actual members, the last one included.
    for bucket, size in zip(buckets, sizes):
        assert np.allclose(bucket[bucket > 0], 1.0 / size)
    # Every input lands in exactly one bucket.
    assert np.array_equal((buckets > 0).sum(axis=0), np.ones(n))


def test_bucketing_uses_run_permutation():
    n, s = 6, 2
    recorder = RecordInputs()
    x = np.arange(n, dtype=np.float64).reshape(1, n, 1) * np.ones((2, n, 1))
    Bucketing(recorder, bucket_size=s)(x, make_rngs([3, 4]))
    buckets = recorder.received[0][:, :, 0]

    for r, seed in enumerate([3, 4]):
        permutation = np.random.default_rng(seed).permutation(n)
        expected = permutation.reshape(n // s, s).mean(axis=1)
        assert np.array_equal(buckets[r], expected)


def test_bucketing_identical_inputs_unchanged():
    vector = [0.7, -1.3]
    x = np.array([[vector] * 7])
    for name in ("mean", "cm", "gm"):
        out = make_aggregator({"name": name, "bucket_size": 3}, 0)(x, make_rngs([0]))
        assert np.allclose(out, [vector], rtol=1e-15, atol=0), name


def test_bucketing_mean_of_full_buckets():
    x = np.random.default_rng(2).normal(size=(1, 8, 3))
    out = make_aggregator({"name": "mean", "bucket_size": 2}, 0)(x, make_rngs([0]))
    assert np.allclose(out, x.mean(axis=1))


def test_bucketing_needs_rngs():
    with pytest.raises(ValueError, match="random generators"):
        make_aggregator({"name": "cm", "bucket_size": 2}, 3)(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="1 random generators for 2 runs"):
        make_aggregator({"name": "cm", "bucket_size": 2}, 3)(np.zeros((2, 4, 3)), make_rngs([0]))


def test_bucketing_label():
    aggregator = make_aggregator({"name": "cm", "bucket_size": 2}, 3)
    assert aggregator.label == "CM + bucketing (s=2)"
    assert aggregator.name == "cm"
    assert aggregator.bucket_size == 2


# Factory


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ({"name": "mean"}, Mean),
        ({"name": "cm", "bucket_size": None}, CoordinateMedian),
        ({"name": "gm", "bucket_size": 1}, GeometricMedian),
        ({"name": "krum"}, Krum),
    ],
)
def test_factory_without_bucketing(spec, rule):
    aggregator = make_aggregator(spec, 3)
    assert type(aggregator) is rule
    assert aggregator.bucket_size == 1


def test_factory_gm_parameters():
    aggregator = make_aggregator({"name": "gm", "nu": 1e-3, "tol": 1e-6, "max_iter": 7}, 0)
    assert (aggregator.nu, aggregator.tol, aggregator.max_iter) == (1e-3, 1e-6, 7)


def test_factory_krum_f():
    aggregator = make_aggregator({"name": "krum", "bucket_size": 2}, 2)
    assert aggregator.inner.n_byzantine == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "trimmed-mean"}, "allowed names: mean, cm, gm, krum"),
        ({"name": "cm", "nu": 1.0}, "unknown parameter"),
        ({"name": "mean", "bucket": 2}, "unknown parameter"),
        ({"name": "cm", "bucket_size": 0}, "bucket_size"),
        ({"name": "cm", "bucket_size": 2.5}, "bucket_size"),
        ({"bucket_size": 2}, "'name'"),
    ],
)
def test_factory_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        make_aggregator(spec, 3)


def test_input_shape_checked():
    with pytest.raises(ValueError, match=r"\(R, n, d\)"):
        Mean()(np.zeros((4, 3)))


# Batches


@pytest.mark.parametrize("spec", ALL_SPECS + [{"name": "krum", "bucket_size": 2}])
@pytest.mark.parametrize("d", [1, 5])
def test_batch_matches_single_runs(spec, d):
    n_runs, n = 4, 19
    x = np.random.default_rng(5).normal(size=(n_runs, n, d)) * np.exp(
        np.random.default_rng(6).normal(size=(n_runs, n, 1))
    )
    aggregator = make_aggregator(spec, n_byzantine=3)
    seeds = [21, 22, 23, 24]
    batch_rngs = make_rngs(seeds)
    single_rngs = make_rngs(seeds)

    for _ in range(2):
        batch = aggregator(x, batch_rngs)
        single = np.concatenate(
            [aggregator(x[r : r + 1], single_rngs[r : r + 1]) for r in range(n_runs)]
        )
        assert batch.shape == (n_runs, d)
        assert np.array_equal(batch, single)


# Non-finite inputs


def poisoned_batch(bad_value):
    """Return 3 runs of 9 workers; runs 0 and 2 get non-finite Byzantine rows 7 and 8."""
    x = np.random.default_rng(7).normal(size=(3, 9, 4))
    x[0, 8] = bad_value
    x[2, 7, 1] = bad_value
    x[2, 8, 3] = bad_value
    return x


@pytest.mark.parametrize("spec", ALL_SPECS)
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nonfinite_inputs_discarded(spec, bad_value):
    x = poisoned_batch(bad_value)
    aggregator = make_aggregator(spec, n_byzantine=2)
    out = aggregator(x, make_rngs([1, 2, 3]))

    assert np.all(np.isfinite(out))
    # Each run equals the aggregate of its finite rows alone, drawn from the same seed.
    kept_rows = [x[0, :8], x[1], x[2, :7]]
    for r, (kept, seed) in enumerate(zip(kept_rows, [1, 2, 3])):
        expected = aggregator(kept[None], make_rngs([seed]))[0]
        assert np.array_equal(out[r], expected), r


def test_nonfinite_krum_lowers_f():
    # n = 6 and f = 1: after discarding the NaN vector, f = 0 and Krum sums the
    # squared distances to the 5 - 0 - 2 = 3 nearest others: 2 scores 1 + 4 + 4 and
    # wins. With f = 1 kept, 2 neighbours would make 1 win (1 + 1).
    x = one_run([0.0], [1.0], [2.0], [4.0], [5.0], [np.nan])
    out = Krum(n_byzantine=1)(x)
    assert np.array_equal(out, [[2.0]])
    assert np.array_equal(Krum(n_byzantine=1)(x[:, :5]), [[1.0]])


def test_nonfinite_bucketed_krum():
    x = poisoned_batch(np.nan)
    aggregator = make_aggregator({"name": "krum", "bucket_size": 2}, n_byzantine=1)
    out = aggregator(x, make_rngs([1, 2, 3]))

    assert np.all(np.isfinite(out))
    # Each discarded vector lowers f from 1 to 0, so the 4 buckets of the 8 (run 0)
    # or 7 (run 2) finite inputs satisfy 4 > 2 f + 2, which 4 buckets with f = 1 fail.
    without_f = Bucketing(Krum(n_byzantine=0), bucket_size=2)
    assert np.array_equal(out[0], without_f(x[:1, :8], make_rngs([1]))[0])
    assert np.array_equal(out[2], without_f(x[2:, :7], make_rngs([3]))[0])
    with pytest.raises(ValueError, match="4 buckets"):
        aggregator(x[:1, :8], make_rngs([1]))


def test_nonfinite_mean_is_mean_of_rest():
    out = Mean()(one_run([1.0, 2.0], [3.0, 4.0], [np.inf, 0.0]))
    assert np.array_equal(out, [[2.0, 3.0]])


def test_all_nonfinite_gives_nan():
    x = np.full((2, 5, 3), np.nan)
    x[1] = 1.0
    for spec in ALL_SPECS:
        out = make_aggregator(spec, n_byzantine=1)(x, make_rngs([0, 1]))
        assert np.all(np.isnan(out[0])), spec
        assert np.array_equal(out[1], [1.0, 1.0, 1.0]), spec


def test_finite_overflow_takes_exact_path():
    # The sum overflows to inf although every entry is finite: the slow path must
    # still aggregate all rows.
    x = one_run([1e308], [1e308], [1e308])
    assert np.array_equal(CoordinateMedian()(x), [[1e308]])
