"""Optimization problems and the data each worker holds.

A problem splits the objective over ``n`` workers, ``B`` of them Byzantine, and gives
the engine vectorized gradient oracles on a batch of ``R`` points of shape ``(R, d)``:

* :class:`LogisticProblem`: logistic regression with the nonconvex regularizer
  ``r(x) = sum_k x_k^2 / (1 + x_k^2)`` or the ridge regularizer ``r(x) = ||x||^2``
  (Rammal et al., 2024, Appendix H.1), homogeneous or heterogeneous split.
* :class:`QuadraticProblem`: ``f_i(x) = 0.5 ||x||^2 + <zeta_g, x>`` for two groups of
  good workers (Rammal et al., 2024, Appendix H.2).

The workers that compute honestly form a :class:`WorkerGroup`: the good workers, and
the Byzantine workers when an attack lets them run the method on their own data.
Gradients are computed one run at a time (a loop over the ``R`` runs, never over
workers), so that a batch of runs gives bitwise the same numbers as runs made one by one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import sparse
from scipy.special import expit

logger = logging.getLogger(__name__)

REGULARIZERS = ("nonconvex", "ridge")
SETTINGS = ("homogeneous", "heterogeneous")

# Full passes over the data (full gradients, and f and grad f at each record) use a CSR
# copy of a matrix whose share of nonzeros is below this. A pass over w8a (3.9% nonzeros)
# then costs about a tenth of a dense one, and phishing (44% nonzeros) stays dense.
SPARSE_DENSITY = 0.25


class RowMatrix:
    """The rows ``a_j`` of a data matrix, for full passes ``A x`` and ``A^T w``.

    Holds a CSR copy when the matrix is sparse enough (see :data:`SPARSE_DENSITY`),
    else the dense array itself. Both give the same products up to rounding.

    Parameters
    ----------
    rows : numpy.ndarray, shape (N, d)
    """

    def __init__(self, rows: np.ndarray):
        density = np.count_nonzero(rows) / max(rows.size, 1)
        self.matrix = sparse.csr_matrix(rows) if density < SPARSE_DENSITY else rows
        self.transposed = self.matrix.T.tocsr() if sparse.issparse(self.matrix) else rows.T

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """Return ``A x``, shape (N,)."""
        return self.matrix @ x

    def rmatvec(self, w: np.ndarray) -> np.ndarray:
        """Return ``A^T w``, shape (d,)."""
        return self.transposed @ w

    @property
    def is_sparse(self) -> bool:
        """Whether the rows are stored as CSR."""
        return sparse.issparse(self.matrix)

    def margins(self, x: np.ndarray) -> np.ndarray:
        """Return ``A x_r`` for every run r: ``(R, d)`` -> ``(R, N)``.

        A CSR matrix takes all runs in one pass over its nonzeros. scipy adds up every
        entry of a CSR product over the nonzeros of its row in storage order for any
        number of columns (csr_matvec and csr_matvecs of scipy/sparse/sparsetools/csr.h),
        so the result equals :meth:`matvec` run by run, bit for bit.
        """
        if self.is_sparse:
            return np.ascontiguousarray((self.matrix @ x.T).T)
        return np.stack([self.matrix @ point for point in x])

    def weighted_sums(self, weights: np.ndarray) -> np.ndarray:
        """Return ``A^T w_r`` for every run r: ``(R, N)`` -> ``(R, d)``, bitwise as :meth:`rmatvec`."""
        if self.is_sparse:
            return np.ascontiguousarray((self.transposed @ weights.T).T)
        return np.stack([self.transposed @ w for w in weights])


def regularizer_value(x: np.ndarray, regularizer: str) -> np.ndarray:
    """Return ``r(x)`` for each row of ``x`` (shape ``(..., d)`` -> ``(...)``)."""
    if regularizer == "ridge":
        return np.sum(x * x, axis=-1)
    squared = x * x
    return np.sum(squared / (1.0 + squared), axis=-1)


def regularizer_gradient(x: np.ndarray, regularizer: str) -> np.ndarray:
    """Return ``grad r(x)``, same shape as ``x``."""
    if regularizer == "ridge":
        return 2.0 * x
    return 2.0 * x / (1.0 + x * x) ** 2


def sample_without_replacement(rng: np.random.Generator, k: int, m: int, b: int) -> np.ndarray:
    """Draw ``k`` independent uniform subsets of size ``b`` from ``range(m)``.

    Rejection sampling: draw ``(k, b)`` indices with replacement and redraw every row
    that contains a repeated index. A row is accepted with probability about
    ``exp(-b^2 / 2m)``, and an accepted row is a uniform ordered subset. This avoids the
    ``k * m`` random numbers of a full shuffle per worker.

    Returns
    -------
    numpy.ndarray of int64, shape (k, b)
    """
    if b > m:
        raise ValueError(f"batch size b={b} exceeds the local dataset size m={m}")
    if 2 * b > m:
        # Dense case: a random order of all m indices is cheaper than rejection.
        return np.argsort(rng.random((k, m)), axis=1, kind="stable")[:, :b]
    indices = rng.integers(0, m, size=(k, b))
    while True:
        ordered = np.sort(indices, axis=1)
        repeated = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
        if not repeated.any():
            return indices
        indices[repeated] = rng.integers(0, m, size=(int(repeated.sum()), b))


def sample_batches_without_replacement(rngs: Sequence[np.random.Generator], k: int, m: int,
                                       b: int) -> np.ndarray:
    """Draw, for every run, ``k`` uniform subsets of size ``b`` from ``range(m)``.

    Run ``r`` draws exactly what ``sample_without_replacement(rngs[r], k, m, b)`` draws:
    the first draw of every run and the check for repeated indices are done for all
    runs at once, and only the runs with a repeated index redraw, one run at a time.

    Returns
    -------
    numpy.ndarray of int64, shape (R, k, b)
    """
    if 2 * b > m:
        # The dense case, and the error for b > m, one run at a time.
        return np.stack([sample_without_replacement(rng, k, m, b) for rng in rngs])
    indices = np.stack([rng.integers(0, m, size=(k, b)) for rng in rngs])
    ordered = np.sort(indices, axis=-1)
    repeated = np.any(ordered[..., 1:] == ordered[..., :-1], axis=-1)
    for r in np.flatnonzero(repeated.any(axis=1)):
        rows = repeated[r]
        while rows.any():
            indices[r, rows] = rngs[r].integers(0, m, size=(int(rows.sum()), b))
            ordered = np.sort(indices[r], axis=1)
            rows = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
    return indices


class WorkerGroup:
    """Workers that compute gradients honestly on their own local functions.

    Attributes
    ----------
    k : int
        Number of workers in the group.
    m : int
        Number of samples of each worker's local finite sum ``f_i = (1/m) sum_j f_ij``.
    """

    k: int
    m: int

    def full_gradients(self, x: np.ndarray) -> np.ndarray:
        """Return ``grad f_i(x_r)`` for every run ``r`` and worker ``i``: ``(R, d)`` -> ``(R, k, d)``."""
        raise NotImplementedError

    def sample_batches(self, rngs: Sequence[np.random.Generator], b: int) -> np.ndarray:
        """Draw each worker's mini-batch (uniform, without replacement): ``(R, k, b)`` indices."""
        return sample_batches_without_replacement(rngs, self.k, self.m, b)

    def batch_gradient_differences(self, x_new: np.ndarray, x_old: np.ndarray,
                                   batches: np.ndarray) -> np.ndarray:
        """Return the mini-batch estimator of ``grad f_i(x_new) - grad f_i(x_old)``.

        Parameters
        ----------
        x_new, x_old : numpy.ndarray, shape (R, d)
        batches : numpy.ndarray of int, shape (R, k, b)
            Sample indices of each worker, from :meth:`sample_batches`; the same samples
            are used at both points (Rammal et al., 2024, Assumption 1.3).

        Returns
        -------
        numpy.ndarray, shape (R, k, d)
        """
        raise NotImplementedError


class LogisticWorkers(WorkerGroup):
    """Workers whose local function is a regularized logistic loss on their own rows.

    Parameters
    ----------
    features : numpy.ndarray, shape (m, d) or (k, m, d)
        One matrix shared by all ``k`` workers (homogeneous data and Byzantine workers,
        stored once, never ``k`` times), or one shard per worker.
    labels : numpy.ndarray, shape (m,) or (k, m)
        Labels in {-1, +1}, matching ``features``.
    k : int
        Number of workers.
    lam : float
        Regularization weight: ``f_i = (1/m) sum_j log(1 + exp(-y_j a_j^T x)) + (lam/2) r(x)``.
    regularizer : {"nonconvex", "ridge"}
    """

    def __init__(self, features: np.ndarray, labels: np.ndarray, k: int, lam: float, regularizer: str):
        self.shared = features.ndim == 2
        self.features = features
        self.labels = labels
        self.k = k
        self.m = features.shape[-2]
        self.lam = lam
        self.regularizer = regularizer
        # One matrix of all rows for full passes; per-worker sums of a shard's rows are
        # the product with the (k, k*m) block indicator S, where S[i, j] = 1 if row j
        # belongs to worker i (shards are stored one after another).
        self.rows = RowMatrix(features if self.shared else features.reshape(-1, features.shape[-1]))
        self.all_labels = labels.reshape(-1)
        if not self.shared:
            self.shard_indicator = sparse.csr_matrix(
                (np.ones(k * self.m), np.arange(k * self.m), np.arange(0, k * self.m + 1, self.m)),
                shape=(k, k * self.m))

    def _regularizer_gradient(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * self.lam * regularizer_gradient(x, self.regularizer)

    def full_gradients(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], self.k, x.shape[1]))
        for r, point in enumerate(x):
            # d(loss)/d(margin) for loss = log(1 + exp(-y z)) is -y * sigmoid(-y z).
            labels = self.all_labels
            weights = -labels * expit(-labels * self.rows.matvec(point))
            if self.shared:
                out[r] = self.rows.rmatvec(weights) / self.m
            else:
                weighted = self.shard_indicator.multiply(weights[None, :]).tocsr()
                sums = weighted @ self.rows.matrix
                out[r] = (sums.toarray() if sparse.issparse(sums) else sums) / self.m
            out[r] += self._regularizer_gradient(point)
        return out

    def batch_gradient_differences(self, x_new, x_old, batches):
        if self.rows.is_sparse:
            return self._sparse_batch_gradient_differences(x_new, x_old, batches)
        b = batches.shape[-1]
        if self.shared:
            rows, labels = self.features[batches], self.labels[batches]
        else:
            workers = np.arange(self.k)[None, :, None]
            rows, labels = self.features[workers, batches], self.labels[workers, batches]
        # rows: (R, k, b, d). Every (b, d) @ (d,) product is its own BLAS call, as for a
        # single run, so a batch of runs gives bitwise the same numbers as runs one by one.
        margins_new = np.matmul(rows, x_new[:, None, :, None])[..., 0]
        margins_old = np.matmul(rows, x_old[:, None, :, None])[..., 0]
        weights_new = -labels * expit(-labels * margins_new)
        weights_old = -labels * expit(-labels * margins_old)
        out = np.matmul((weights_new - weights_old)[:, :, None, :], rows)[:, :, 0, :] / b
        out += (self._regularizer_gradient(x_new) - self._regularizer_gradient(x_old))[:, None, :]
        return out

    def _sparse_batch_gradient_differences(self, x_new, x_old, batches):
        n_runs, d = x_new.shape
        b = batches.shape[-1]
        offsets = 0 if self.shared else (np.arange(self.k) * self.m)[None, :, None]
        rows = (batches + offsets).reshape(-1)  # (R k b,) rows of the stacked matrix
        selected = self.rows.matrix[rows]
        entry_row = np.repeat(np.arange(rows.size), np.diff(selected.indptr))
        entry_run = entry_row // (self.k * b)
        labels = self.all_labels[rows]

        def weights(x):
            # np.bincount adds the weights in input order, so every row sums its own
            # nonzeros in the same order whatever the other runs are.
            margins = np.bincount(entry_row, weights=selected.data * x[entry_run, selected.indices],
                                  minlength=rows.size)
            return -labels * expit(-labels * margins)

        difference = weights(x_new) - weights(x_old)
        out = np.bincount((entry_row // b) * d + selected.indices,
                          weights=selected.data * difference[entry_row], minlength=n_runs * self.k * d)
        out = out.reshape(n_runs, self.k, d) / b
        out += (self._regularizer_gradient(x_new) - self._regularizer_gradient(x_old))[:, None, :]
        return out


class QuadraticWorkers(WorkerGroup):
    """Workers with ``f_i(x) = 0.5 ||x||^2 + <zeta_i, x>`` (one sample each, so m = 1).

    Parameters
    ----------
    zeta : numpy.ndarray, shape (k, d)
        Linear term of each worker.
    """

    def __init__(self, zeta: np.ndarray):
        self.zeta = zeta
        self.k = zeta.shape[0]
        self.m = 1

    def full_gradients(self, x):
        return x[:, None, :] + self.zeta[None, :, :]

    def sample_batches(self, rngs, b):
        # One sample per worker: the mini-batch is the whole local function, no draw.
        return np.zeros((len(rngs), self.k, 1), dtype=np.int64)

    def batch_gradient_differences(self, x_new, x_old, batches):
        return np.broadcast_to((x_new - x_old)[:, None, :], (x_new.shape[0], self.k, x_new.shape[1])).copy()


@dataclass
class Problem:
    """An objective ``f = (1/G) sum_{i in good} f_i`` split over ``n`` workers.

    Attributes
    ----------
    name : str
        ``"logistic-nonconvex"``, ``"logistic-ridge"`` or ``"quadratic"``.
    dataset, setting : str
        Dataset name (``"quadratic"`` for the quadratic problem) and data split.
    n_workers, n_byzantine : int
    good : WorkerGroup
        The ``G = n - B`` good workers.
    f_star : float or None
        ``min f`` when it is known to high accuracy (ridge and quadratic), else None.
    x_star : numpy.ndarray, shape (d,)
        A minimizer (ridge, quadratic) or a stationary point found by L-BFGS (nonconvex).
    """

    name: str
    dataset: str
    setting: str
    n_workers: int
    n_byzantine: int
    d: int
    good: WorkerGroup
    x_star: np.ndarray
    f_star: float | None
    _byzantine_factory: object = field(repr=False, default=None)

    @property
    def n_good(self) -> int:
        return self.n_workers - self.n_byzantine

    def byzantine_workers(self, flip_labels: bool = False) -> WorkerGroup:
        """Return the Byzantine workers as honest workers on their own data.

        They hold the whole dataset (Rammal et al., 2024, Appendix H.1); with
        ``flip_labels`` every label y becomes -y (the label-flipping attack).
        """
        return self._byzantine_factory(flip_labels)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Return ``grad f(x)`` of the true objective over the good workers, ``(R, d)``."""
        raise NotImplementedError

    def loss(self, x: np.ndarray) -> np.ndarray:
        """Return ``f(x)`` for each row of ``x``: ``(R, d)`` -> ``(R,)``."""
        raise NotImplementedError


class LogisticProblem(Problem):
    """Regularized logistic regression split over the workers (Rammal et al., 2024, App. H.1).

    Use :func:`make_logistic_problem` to build one.
    """

    features: np.ndarray  # (N_good, d): the rows of the good workers, for f and grad f
    rows: RowMatrix       # the same rows, for full passes
    labels: np.ndarray
    lam: float
    regularizer: str

    def gradient(self, x):
        weights = -self.labels * expit(-self.labels * self.rows.margins(x))
        out = self.rows.weighted_sums(weights) / self.labels.shape[0]
        out += 0.5 * self.lam * regularizer_gradient(x, self.regularizer)
        return out

    def loss(self, x):
        margins = self.rows.margins(x)
        data_term = np.mean(np.logaddexp(0.0, -self.labels * margins), axis=-1)
        return data_term + 0.5 * self.lam * regularizer_value(x, self.regularizer)


def split_heterogeneous(features: np.ndarray, labels: np.ndarray, n_good: int):
    """Split the rows into ``n_good`` consecutive, unshuffled shards of ``floor(N/G)`` rows.

    The remainder ``N mod G`` rows are dropped, as in the authors' published code
    (Rammal et al., 2024: "evenly distributed among good workers, without any uniform
    sampling or shuffling").

    Returns
    -------
    shards : numpy.ndarray, shape (G, m, d)
    shard_labels : numpy.ndarray, shape (G, m)
    """
    m = features.shape[0] // n_good
    if m == 0:
        raise ValueError(f"{features.shape[0]} samples cannot be split over {n_good} good workers")
    used = m * n_good
    return (features[:used].reshape(n_good, m, -1), labels[:used].reshape(n_good, m))


def make_logistic_problem(features: np.ndarray, labels: np.ndarray, *, dataset: str,
                          setting: str, regularizer: str, lam: float, n_workers: int,
                          n_byzantine: int, solution=None) -> LogisticProblem:
    """Build the logistic regression problem of Rammal et al. (2024), Appendix H.1.

    Parameters
    ----------
    features : numpy.ndarray, shape (N, d)
    labels : numpy.ndarray, shape (N,)
        Labels in {-1, +1}.
    dataset : str
        Name recorded with the results.
    setting : {"homogeneous", "heterogeneous"}
        Homogeneous: every worker holds the whole dataset (one shared array).
        Heterogeneous: the good workers hold consecutive equal shards (see
        :func:`split_heterogeneous`); the Byzantine workers hold the whole dataset.
    regularizer : {"nonconvex", "ridge"}
    lam : float
        Regularization weight (0.1 in the paper).
    n_workers, n_byzantine : int
        ``n`` and ``B``, with ``0 <= B < n / 2``.
    solution : tuple (x_star, f_star), optional
        A precomputed solution (see :func:`solve_logistic`); computed when omitted.

    Raises
    ------
    ValueError
        For an unknown setting or regularizer, or an invalid worker count.
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; expected one of {list(SETTINGS)}")
    if regularizer not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {regularizer!r}; expected one of {list(REGULARIZERS)}")
    validate_worker_counts(n_workers, n_byzantine)
    n_good = n_workers - n_byzantine
    features = np.ascontiguousarray(features, dtype=np.float64)
    labels = np.ascontiguousarray(labels, dtype=np.float64)
    if setting == "homogeneous":
        good = LogisticWorkers(features, labels, n_good, lam, regularizer)
        good_features, good_labels = features, labels
    else:
        shards, shard_labels = split_heterogeneous(features, labels, n_good)
        good = LogisticWorkers(shards, shard_labels, n_good, lam, regularizer)
        good_features = shards.reshape(-1, features.shape[1])
        good_labels = shard_labels.reshape(-1)

    byzantine_groups: dict[bool, WorkerGroup] = {}

    def byzantine_factory(flip_labels: bool) -> WorkerGroup:
        # Built once per label choice, because every run_batch call asks for them and a
        # sparse group converts the whole dataset to CSR.
        if flip_labels not in byzantine_groups:
            byzantine_groups[flip_labels] = LogisticWorkers(
                features, -labels if flip_labels else labels, n_byzantine, lam, regularizer)
        return byzantine_groups[flip_labels]

    problem = LogisticProblem(
        name=f"logistic-{regularizer}", dataset=dataset, setting=setting, n_workers=n_workers,
        n_byzantine=n_byzantine, d=features.shape[1], good=good,
        x_star=np.zeros(features.shape[1]), f_star=None, _byzantine_factory=byzantine_factory,
    )
    problem.features, problem.labels = good_features, good_labels
    problem.rows = good.rows  # the good workers' rows, stacked as good_features
    problem.lam, problem.regularizer = lam, regularizer
    x_star, f_star = solution if solution is not None else solve_logistic(problem)
    problem.x_star = np.asarray(x_star, dtype=np.float64)
    problem.f_star = f_star
    return problem


def solve_logistic(problem: LogisticProblem, gtol: float = 1e-10) -> tuple[np.ndarray, float | None]:
    """Find ``x*`` with L-BFGS, polished by Newton steps for the ridge (PL) case.

    The authors' published code started every run from ``x* + 1`` with ``x*`` from
    L-BFGS. For the ridge regularizer ``f`` is strongly convex, so Newton steps from the
    L-BFGS point bring ``||grad f(x*)||`` to ``gtol`` and ``f* = f(x*)`` is returned;
    for the nonconvex regularizer ``x*`` is a stationary point and ``f*`` is None.

    Returns
    -------
    x_star : numpy.ndarray, shape (d,)
    f_star : float or None
    """
    from scipy.optimize import minimize

    def value_and_gradient(x):
        point = x[None, :]
        return float(problem.loss(point)[0]), problem.gradient(point)[0]

    result = minimize(value_and_gradient, np.zeros(problem.d), jac=True, method="L-BFGS-B",
                      options={"maxiter": 10_000, "gtol": 1e-12, "ftol": 1e-15})
    x = result.x
    if problem.regularizer != "ridge":
        logger.info("L-BFGS stationary point of %s: ||grad f||^2 = %.3e",
                    problem.name, float(np.sum(problem.gradient(x[None])[0] ** 2)))
        return x, None
    features, labels = problem.features, problem.labels
    for _ in range(50):
        gradient = problem.gradient(x[None])[0]
        if np.linalg.norm(gradient) <= gtol:
            break
        s = expit(labels * (features @ x))
        hessian = (features.T * (s * (1.0 - s))) @ features / labels.shape[0]
        hessian[np.diag_indices_from(hessian)] += problem.lam
        x = x - np.linalg.solve(hessian, gradient)
    gradient_norm = float(np.linalg.norm(problem.gradient(x[None])[0]))
    if gradient_norm > gtol:
        raise RuntimeError(f"Newton polish stopped at ||grad f(x*)|| = {gradient_norm:.2e} > {gtol:.0e}")
    return x, float(problem.loss(x[None])[0])


class QuadraticProblem(Problem):
    """The neighborhood experiment of Rammal et al. (2024), Appendix H.2.

    Use :func:`make_quadratic_problem` to build one.
    """

    zeta_mean: np.ndarray

    def gradient(self, x):
        return x + self.zeta_mean

    def loss(self, x):
        return 0.5 * np.sum(x * x, axis=-1) + x @ self.zeta_mean


def make_quadratic_problem(*, d: int = 100, n_workers: int = 28, n_byzantine: int = 8,
                           groups: int = 2, problem_seed: int = 0) -> QuadraticProblem:
    """Build ``f_i(x) = 0.5 ||x||^2 + <zeta_g, x>`` with the good workers in equal groups.

    The vectors ``zeta_g`` are standard normal draws of ``numpy.random.default_rng(problem_seed)``,
    one per group (the paper does not say how they were drawn). Good worker ``i`` belongs
    to group ``i // (G / groups)``; the Byzantine workers' own data is that of group 0,
    which the mimic attack copies. Then ``x* = -mean(zeta_i)`` and
    ``f* = -0.5 ||mean(zeta_i)||^2``.

    Raises
    ------
    ValueError
        If the good workers cannot be split into ``groups`` equal groups.
    """
    validate_worker_counts(n_workers, n_byzantine)
    n_good = n_workers - n_byzantine
    if groups < 1 or n_good % groups:
        raise ValueError(f"{n_good} good workers cannot be split into {groups} equal groups")
    zeta_groups = np.random.default_rng(problem_seed).standard_normal((groups, d))
    zeta = np.repeat(zeta_groups, n_good // groups, axis=0)
    zeta_mean = zeta.mean(axis=0)

    def byzantine_factory(flip_labels: bool) -> WorkerGroup:
        return QuadraticWorkers(np.repeat(zeta_groups[:1], n_byzantine, axis=0))

    problem = QuadraticProblem(
        name="quadratic", dataset="quadratic", setting="heterogeneous", n_workers=n_workers,
        n_byzantine=n_byzantine, d=d, good=QuadraticWorkers(zeta), x_star=-zeta_mean,
        f_star=float(-0.5 * zeta_mean @ zeta_mean), _byzantine_factory=byzantine_factory,
    )
    problem.zeta_mean = zeta_mean
    return problem


def validate_worker_counts(n_workers: int, n_byzantine: int) -> None:
    """Raise ValueError unless ``0 <= B`` and the good workers are a strict majority."""
    if n_workers < 1 or n_byzantine < 0 or 2 * n_byzantine >= n_workers:
        raise ValueError(
            f"invalid worker counts n_workers={n_workers}, n_byzantine={n_byzantine}: "
            "Byzantine workers must be fewer than half of all workers"
        )
