"""Aggregation rules of the server, plain and robust (Rammal et al., 2024, Appendix B.1).

An aggregator maps the vectors ``x`` of shape (R, n, d) that the n workers of R
independent runs send to one vector per run, shape (R, d). Rules:

- :class:`Mean`, the arithmetic mean (not robust);
- :class:`CoordinateMedian` (CM, Yin et al., 2018);
- :class:`GeometricMedian` (GM, also RFA; smoothed Weiszfeld algorithm of Pillutla
  et al., 2022);
- :class:`Krum` (Blanchard et al., 2017);
- :class:`Bucketing` (Karimireddy et al., 2022; Algorithm 5 of Rammal et al., 2024),
  which averages the inputs in random buckets of size ``bucket_size`` and passes the
  bucket means to another rule.

Batches
    Every computation is row-wise over the leading run axis, and run r draws its
    random numbers (the bucketing permutation) from ``rngs[r]``, so a batch of R runs
    gives bitwise the same result as R calls with one run each.

Non-finite inputs
    The server discards every received vector with a NaN or infinite entry before
    bucketing and aggregation, as it would discard a malformed message, and aggregates
    the remaining vectors of that run. Because only a Byzantine worker of a run that
    has not diverged sends such a vector, Krum lowers its bound f on the number of
    Byzantine inputs by the number of discarded vectors. A run with no finite vector
    left, or too few for Krum, gets a NaN aggregate, which marks it as diverged. When
    all inputs are finite the only extra cost is one sum over ``x``, which detects the
    case.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

AGGREGATOR_NAMES = ("mean", "cm", "gm", "krum")


def _check_inputs(x: np.ndarray) -> np.ndarray:
    """Return ``x`` as a float64 array of shape (R, n, d), raising ValueError otherwise."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] == 0:
        raise ValueError(
            f"aggregator input must have shape (R, n, d) (runs, workers, dimension) "
            f"with n >= 1, got shape {x.shape}"
        )
    return x


def _check_rngs(rngs: Sequence[np.random.Generator] | None, n_runs: int) -> None:
    if rngs is None or len(rngs) != n_runs:
        count = "no" if rngs is None else len(rngs)
        raise ValueError(
            f"got {count} random generators for {n_runs} runs; pass one "
            f"numpy.random.Generator per run (the leading axis of x)"
        )


class Aggregator:
    """Base class of the aggregation rules.

    Subclasses implement ``_aggregate`` for finite inputs. ``__call__`` validates the
    input and applies the non-finite policy of the module docstring.
    """

    name: str = ""
    label: str = ""
    #: Number of inputs averaged per bucket; 1 means no bucketing.
    bucket_size: int = 1
    #: Whether the rule draws random numbers, so that ``rngs`` is required.
    uses_rngs: bool = False

    def __call__(
        self, x: np.ndarray, rngs: Sequence[np.random.Generator] | None = None
    ) -> np.ndarray:
        """Aggregate the vectors of every run.

        Parameters
        ----------
        x : ndarray, shape (R, n, d)
            Vectors received from the n workers in each of R runs.
        rngs : sequence of numpy.random.Generator, length R, optional
            Run r draws from ``rngs[r]``. Required only by :class:`Bucketing`.

        Returns
        -------
        ndarray, shape (R, d)
            One aggregate per run. It is NaN for a run in which no aggregate exists
            (see the module docstring).

        Raises
        ------
        ValueError
            If ``x`` is not 3-dimensional, if the rule cannot aggregate n inputs
            (Krum), or if ``rngs`` is missing or has the wrong length (bucketing).
        """
        x = _check_inputs(x)
        self.validate_n_inputs(x.shape[1])
        if self.uses_rngs:
            _check_rngs(rngs, x.shape[0])
        # The sum is non-finite whenever an entry is. An overflow can also make it
        # non-finite, which only sends a finite batch through the slower exact path.
        with np.errstate(over="ignore", invalid="ignore"):
            all_finite = np.isfinite(np.sum(x))
        if all_finite:
            return self._aggregate(x, rngs, n_discarded=0)
        return self._aggregate_finite_rows(x, rngs)

    def validate_n_inputs(self, n: int) -> None:
        """Raise ValueError if the rule cannot aggregate ``n`` inputs (no-op here)."""

    def supports(self, n: int, n_discarded: int = 0) -> bool:
        """Return whether ``n`` inputs left after discarding ``n_discarded`` can be aggregated."""
        return n >= 1

    def _aggregate(
        self, x: np.ndarray, rngs: Sequence[np.random.Generator] | None, n_discarded: int
    ) -> np.ndarray:
        raise NotImplementedError

    def _aggregate_finite_rows(
        self, x: np.ndarray, rngs: Sequence[np.random.Generator] | None
    ) -> np.ndarray:
        """Aggregate each run over its finite input vectors only (the slow path)."""
        n_runs, n, d = x.shape
        finite_rows = np.isfinite(x).all(axis=2)
        out = np.empty((n_runs, d))

        # A loop over runs, because each run may keep a different number of vectors.
        for r in range(n_runs):
            kept_rows = finite_rows[r]
            n_kept = int(kept_rows.sum())
            n_discarded = n - n_kept
            run_rngs = None if rngs is None else [rngs[r]]
            if n_discarded == 0:
                out[r] = self._aggregate(x[r : r + 1], run_rngs, 0)[0]
                continue

            logger.debug(
                "run %d: discarded %d of %d received vectors with non-finite entries",
                r, n_discarded, n,
            )
            if not self.supports(n_kept, n_discarded):
                logger.warning(
                    "run %d: %s cannot aggregate the %d finite vectors left after "
                    "discarding %d non-finite ones; the aggregate is NaN",
                    r, self.label, n_kept, n_discarded,
                )
                out[r] = np.nan
                continue
            out[r] = self._aggregate(x[r : r + 1, kept_rows], run_rngs, n_discarded)[0]
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"


class Mean(Aggregator):
    """Arithmetic mean of the inputs, the aggregator of non-robust methods."""

    name = "mean"
    label = "Mean"

    def _aggregate(self, x, rngs, n_discarded):
        return np.mean(x, axis=1)


class CoordinateMedian(Aggregator):
    """Coordinate-wise median (CM, Yin et al., 2018).

    Coordinate j of the output is the median of coordinate j of the inputs. For an
    even number of inputs it is the mean of the two middle values (``numpy.median``).
    """

    name = "cm"
    label = "CM"

    def _aggregate(self, x, rngs, n_discarded):
        # Sorting is faster than np.median's partition for the few inputs of a round, and
        # gives the same values: the middle input, or the mean of the two middle ones.
        n = x.shape[1]
        ordered = np.sort(x, axis=1)
        if n % 2:
            return ordered[:, n // 2]
        return (ordered[:, n // 2 - 1] + ordered[:, n // 2]) / 2.0


def _distances(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Return ||x_i - z|| of shape (R, n) for x of shape (R, n, d) and z of shape (R, d)."""
    diff = x - z[:, None, :]
    return np.sqrt(np.sum(diff * diff, axis=-1))


class GeometricMedian(Aggregator):
    """Geometric median (GM or RFA) by the smoothed Weiszfeld algorithm.

    Approximates argmin_z sum_i ||z - x_i|| (Chen et al., 2017) with the iteration
    z <- sum_i beta_i x_i / sum_i beta_i, beta_i = 1 / max(nu, ||z - x_i||), started at
    the mean (Pillutla et al., 2022, smoothed Weiszfeld). The smoothing nu keeps every
    weight finite when an iterate lands on an input, and every input counts with its
    multiplicity. Run r stops after the first step with
    ||z_new - z|| <= tol * max(median_i ||z - x_i||, nu), or after ``max_iter`` steps.
    A run that stops no longer changes while the other runs of the batch continue, so
    batching does not change results.

    Parameters
    ----------
    nu : float, default 1e-6
        Smoothing parameter, the default of Pillutla et al.'s published RFA code.
    tol : float, default 1e-10
        Relative step length at which a run stops.
    max_iter : int, default 1000
        Maximum number of Weiszfeld steps.

    Raises
    ------
    ValueError
        If nu or tol is not positive or max_iter < 1.
    """

    name = "gm"
    label = "GM"

    def __init__(self, nu: float = 1e-6, tol: float = 1e-10, max_iter: int = 1000) -> None:
        if not nu > 0:
            raise ValueError(f"smoothing nu must be positive, got nu={nu!r}")
        if not tol > 0:
            raise ValueError(f"tolerance tol must be positive, got tol={tol!r}")
        if (
            isinstance(max_iter, bool)
            or not isinstance(max_iter, (int, np.integer))
            or max_iter < 1
        ):
            raise ValueError(f"max_iter must be a positive integer, got max_iter={max_iter!r}")
        self.nu = float(nu)
        self.tol = float(tol)
        self.max_iter = int(max_iter)

    def _aggregate(self, x, rngs, n_discarded):
        z = np.mean(x, axis=1)
        distances = _distances(x, z)
        active = np.ones(x.shape[0], dtype=bool)

        for _ in range(self.max_iter):
            weights = 1.0 / np.maximum(distances, self.nu)
            z_new = np.sum(weights[:, :, None] * x, axis=1) / np.sum(weights, axis=1)[:, None]
            step = np.sqrt(np.sum((z_new - z) ** 2, axis=-1))
            # Outliers cannot inflate the median distance as they would the mean. The
            # floor nu lets a run stop when its iterate sits on a majority of identical
            # inputs, where the median distance is 0.
            scale = np.maximum(np.median(distances, axis=1), self.nu)
            converged = step <= self.tol * scale

            z = np.where(active[:, None], z_new, z)
            distances = _distances(x, z)
            active &= ~converged
            if not active.any():
                break
        else:
            logger.debug(
                "smoothed Weiszfeld reached max_iter=%d before tol=%g in %d run(s)",
                self.max_iter, self.tol, int(active.sum()),
            )
        return z


class Krum(Aggregator):
    """Krum (Blanchard et al., 2017).

    Returns the input x_i that minimizes the sum of squared distances to its
    n - f - 2 nearest other inputs, where f bounds the number of Byzantine inputs.
    Ties go to the lower input index.

    NOTE: the pairwise differences take O(R n^2 d) memory.

    Parameters
    ----------
    n_byzantine : int
        f, the number of Byzantine workers. Inside :class:`Bucketing` it bounds the
        number of corrupted buckets, because each Byzantine input lands in one bucket.

    Raises
    ------
    ValueError
        If n_byzantine is negative or not an integer.
    """

    name = "krum"
    label = "Krum"

    def __init__(self, n_byzantine: int) -> None:
        if isinstance(n_byzantine, bool) or not isinstance(n_byzantine, (int, np.integer)):
            raise ValueError(f"n_byzantine must be an integer, got {n_byzantine!r}")
        if n_byzantine < 0:
            raise ValueError(f"n_byzantine must be >= 0, got {n_byzantine}")
        self.n_byzantine = int(n_byzantine)

    def _f(self, n_discarded: int) -> int:
        return max(0, self.n_byzantine - n_discarded)

    def supports(self, n: int, n_discarded: int = 0) -> bool:
        """Return whether n > 2f + 2, where f is lowered by the discarded inputs."""
        return n > 2 * self._f(n_discarded) + 2

    def validate_n_inputs(self, n: int) -> None:
        """Raise ValueError unless n > 2f + 2, the condition of Blanchard et al. (2017)."""
        if not self.supports(n):
            raise ValueError(
                f"Krum needs n > 2f + 2 inputs, got n={n} and f={self.n_byzantine}; "
                f"use more workers or fewer Byzantine workers"
            )

    def _aggregate(self, x, rngs, n_discarded):
        n_runs, n, _ = x.shape
        n_neighbours = n - self._f(n_discarded) - 2

        diff = x[:, :, None, :] - x[:, None, :, :]
        squared_distances = np.sum(diff * diff, axis=-1)
        index = np.arange(n)
        squared_distances[:, index, index] = np.inf

        nearest = np.sort(squared_distances, axis=-1)[:, :, :n_neighbours]
        scores = np.sum(nearest, axis=-1)
        selected = np.argmin(scores, axis=1)
        return x[np.arange(n_runs), selected]


class Bucketing(Aggregator):
    """Robust aggregation with bucketing (Karimireddy et al., 2022).

    Algorithm 5 of Rammal et al. (2024): draw a random permutation of the n inputs,
    average consecutive groups of ``bucket_size`` = s permuted inputs into ceil(n/s)
    buckets, and return ``inner`` applied to the bucket means. Run r draws its
    permutation with ``rngs[r].permutation(n)``.

    When s does not divide n, the last bucket has n mod s inputs, and it is averaged
    over that actual size, as in Karimireddy et al.'s published code. Algorithm 5,
    line 3 and the published code of Rammal et al. divide by s instead, which scales
    that bucket by (n mod s)/s towards 0, so even n identical inputs would not
    aggregate to themselves. Both rules agree when s divides n, as for n = 16 and s = 2.

    Parameters
    ----------
    inner : Aggregator
        Rule applied to the bucket means. :class:`Krum` receives n = ceil(n/s) buckets
        and keeps its f, the number of Byzantine workers, because each Byzantine input
        lands in exactly one bucket and so corrupts at most one.
    bucket_size : int
        s >= 1; s = 1 only permutes the inputs.

    Raises
    ------
    ValueError
        If bucket_size is not a positive integer or ``inner`` is a Bucketing.
    """

    uses_rngs = True

    def __init__(self, inner: Aggregator, bucket_size: int) -> None:
        if isinstance(bucket_size, bool) or not isinstance(bucket_size, (int, np.integer)):
            raise ValueError(f"bucket_size must be a positive integer, got {bucket_size!r}")
        if bucket_size < 1:
            raise ValueError(f"bucket_size must be >= 1, got bucket_size={bucket_size}")
        if isinstance(inner, Bucketing):
            raise ValueError("bucketing cannot wrap another bucketing aggregator")
        self.inner = inner
        self.bucket_size = int(bucket_size)
        self.name = inner.name
        self.label = f"{inner.label} + bucketing (s={self.bucket_size})"

    def n_buckets(self, n: int) -> int:
        """Return ceil(n / s), the number of buckets of n inputs."""
        return math.ceil(n / self.bucket_size)

    def supports(self, n: int, n_discarded: int = 0) -> bool:
        """Return whether the inner rule can aggregate the buckets of n inputs."""
        return n >= 1 and self.inner.supports(self.n_buckets(n), n_discarded)

    def validate_n_inputs(self, n: int) -> None:
        """Raise ValueError if the inner rule cannot aggregate the ceil(n/s) buckets."""
        n_buckets = self.n_buckets(n)
        try:
            self.inner.validate_n_inputs(n_buckets)
        except ValueError as error:
            raise ValueError(
                f"bucketing with s={self.bucket_size} turns the n={n} inputs into "
                f"{n_buckets} buckets, which {self.inner.label} aggregates: {error}. "
                f"Use a smaller bucket_size or none."
            ) from error

    def _aggregate(self, x, rngs, n_discarded):
        n_runs, n, d = x.shape
        _check_rngs(rngs, n_runs)
        s = self.bucket_size

        permutations = np.stack([rng.permutation(n) for rng in rngs])
        shuffled = x[np.arange(n_runs)[:, None], permutations]

        n_full = n // s
        bucket_means = [shuffled[:, : n_full * s].reshape(n_runs, n_full, s, d).mean(axis=2)]
        if n_full * s < n:
            bucket_means.append(shuffled[:, n_full * s :].mean(axis=1, keepdims=True))
        buckets = np.concatenate(bucket_means, axis=1)
        return self.inner._aggregate(buckets, rngs, n_discarded)


_RULES = {"mean": Mean, "cm": CoordinateMedian, "gm": GeometricMedian, "krum": Krum}
_RULE_PARAMETERS = {"mean": set(), "cm": set(), "gm": {"nu", "tol", "max_iter"}, "krum": set()}


def make_aggregator(spec: Mapping, n_byzantine: int) -> Aggregator:
    """Build an aggregator from its specification.

    Parameters
    ----------
    spec : mapping
        ``{"name": "cm", "bucket_size": 2}``; name is one of mean, cm, gm, krum.
        bucket_size None, 1 or absent means no bucketing. gm also takes ``nu``,
        ``tol`` and ``max_iter`` (see :class:`GeometricMedian`).
    n_byzantine : int
        Number of Byzantine workers, the f of Krum.

    Returns
    -------
    Aggregator
        The rule, wrapped in :class:`Bucketing` when bucket_size >= 2.

    Raises
    ------
    ValueError
        If the name or a parameter is unknown or invalid.
    """
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(
            f"aggregator specification must be a mapping with a 'name' "
            f"(one of {', '.join(AGGREGATOR_NAMES)}), got {spec!r}"
        )
    name = spec["name"]
    if name not in _RULES:
        raise ValueError(
            f"unknown aggregator {name!r}; allowed names: {', '.join(AGGREGATOR_NAMES)}"
        )
    allowed = {"name", "bucket_size"} | _RULE_PARAMETERS[name]
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)} for aggregator {name!r}; "
            f"allowed: {sorted(allowed)}"
        )

    if isinstance(n_byzantine, bool) or not isinstance(n_byzantine, (int, np.integer)):
        raise ValueError(f"n_byzantine must be an integer >= 0, got {n_byzantine!r}")
    if n_byzantine < 0:
        raise ValueError(f"n_byzantine must be >= 0, got n_byzantine={n_byzantine}")

    parameters = {key: spec[key] for key in _RULE_PARAMETERS[name] if key in spec}
    if name == "krum":
        rule = Krum(n_byzantine=n_byzantine)
    else:
        rule = _RULES[name](**parameters)

    bucket_size = spec.get("bucket_size")
    if bucket_size is None:
        return rule
    if isinstance(bucket_size, bool) or not isinstance(bucket_size, (int, np.integer)):
        raise ValueError(
            f"bucket_size must be a positive integer or null, got {bucket_size!r}"
        )
    if bucket_size == 1:
        return rule
    return Bucketing(rule, bucket_size)
