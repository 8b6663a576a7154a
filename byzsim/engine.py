"""The round loop shared by all methods, on a batch of independent runs.

:func:`run_batch` runs ``R`` runs of one method on one problem at once (typically one
per stepsize multiplier or seed). Every array has the runs on its leading axis and the
workers on the next; each run draws from its own generator in a fixed order (coin,
mini-batches and compression of the good workers, then of the honest Byzantine workers,
then the aggregator's permutation), so a batch reproduces, bit for bit, the same runs
made one at a time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from byzsim.methods.base import Method
from byzsim.problems import Problem

logger = logging.getLogger(__name__)

# A run whose ||grad f(x^t)||^2 exceeds this factor times its starting value, or whose
# iterate or estimator is no longer finite, is marked diverged and stopped.
DIVERGENCE_FACTOR = 1e12


@dataclass
class Trajectory:
    """Records of one run, taken every ``log_every`` iterations (one list entry per record)."""

    iteration: list[int] = field(default_factory=list)
    bits_up: list[int] = field(default_factory=list)
    bits_down: list[int] = field(default_factory=list)
    grad_norm_sq: list[float] = field(default_factory=list)
    optimality_gap: list[float] = field(default_factory=list)
    estimator_norm_sq: list[float] = field(default_factory=list)
    diverged: list[bool] = field(default_factory=list)

    def columns(self) -> dict[str, np.ndarray]:
        """Return the records as NumPy arrays keyed by store column name."""
        return {
            "iteration": np.asarray(self.iteration, dtype=np.int64),
            "bits_up": np.asarray(self.bits_up, dtype=np.int64),
            "bits_down": np.asarray(self.bits_down, dtype=np.int64),
            "grad_norm_sq": np.asarray(self.grad_norm_sq, dtype=np.float64),
            "optimality_gap": np.asarray(self.optimality_gap, dtype=np.float64),
            "estimator_norm_sq": np.asarray(self.estimator_norm_sq, dtype=np.float64),
            "diverged": np.asarray(self.diverged, dtype=bool),
        }


@dataclass
class _Batch:
    """State of the runs still active (diverged runs are dropped from every array)."""

    runs: np.ndarray          # (R_active,) indices into the caller's runs
    x: np.ndarray             # (R_active, d)
    g: np.ndarray             # (R_active, d): the aggregate g^t
    gammas: np.ndarray        # (R_active,)
    worker_states: list[dict[str, np.ndarray]]
    server_state: dict[str, np.ndarray]

    def keep(self, mask: np.ndarray) -> None:
        self.runs, self.x, self.g, self.gammas = (a[mask] for a in (self.runs, self.x, self.g, self.gammas))
        self.worker_states = [{k: v[mask] for k, v in s.items()} for s in self.worker_states]
        self.server_state = {k: v[mask] for k, v in self.server_state.items()}


def run_batch(problem: Problem, method: Method, aggregator, attack, gammas: Sequence[float],
              rngs: Sequence[np.random.Generator], iterations: int, log_every: int,
              x0: np.ndarray, progress_every_s: float = 10.0) -> list[Trajectory]:
    """Run ``R = len(gammas)`` independent runs of ``method`` and return their trajectories.

    Parameters
    ----------
    problem : byzsim.problems.Problem
    method : byzsim.methods.Method
    aggregator : callable
        ``aggregator(vectors, rngs)`` maps ``(R, n, d)`` to ``(R, d)`` (byzsim.aggregators).
    attack : callable
        Byzantine attack of :mod:`byzsim.attacks`, called with an ``AttackContext``.
    gammas : sequence of float, length R
        Stepsize of each run.
    rngs : sequence of numpy.random.Generator, length R
        Random stream of each run.
    iterations : int
        Number of rounds ``T``.
    log_every : int
        Record every ``log_every`` rounds, plus round 0 and the last round.
    x0 : numpy.ndarray, shape (d,)
        Starting point of every run.
    progress_every_s : float
        Minimum wall time between two progress messages (logged at INFO).

    Returns
    -------
    list of Trajectory, length R
        A run that diverges stops there; its last record has ``diverged`` True.
    """
    from byzsim.attacks import AttackContext

    gammas = np.asarray(gammas, dtype=np.float64)
    n_runs, d = gammas.shape[0], problem.d
    if len(rngs) != n_runs:
        raise ValueError(f"got {len(rngs)} random generators for {n_runs} stepsizes")
    if iterations < 1 or log_every < 1:
        raise ValueError(f"iterations={iterations} and log_every={log_every} must both be >= 1")

    x = np.tile(np.asarray(x0, dtype=np.float64), (n_runs, 1))
    groups = [problem.good]
    if attack.runs_honestly and problem.n_byzantine > 0:
        groups.append(problem.byzantine_workers(flip_labels=attack.flips_labels))
    byzantine_data = problem.byzantine_workers(flip_labels=False) if problem.n_byzantine > 0 else None
    batch = _Batch(
        runs=np.arange(n_runs), x=x,
        # g^0 = grad f(x^0), the exact gradient over the good workers, as in the authors'
        # published code (the paper initializes g_i^0 = grad f_i(x^0) but leaves g^0 open).
        g=problem.gradient(x), gammas=gammas,
        worker_states=[method.init_worker_state(group, x) for group in groups],
        server_state=method.init_server_state(x),
    )
    trajectories = [Trajectory() for _ in range(n_runs)]
    bits_up = np.zeros(n_runs, dtype=np.int64)
    bits_down = np.zeros(n_runs, dtype=np.int64)
    initial = _record(problem, batch, trajectories, 0, bits_up, bits_down)
    n_good = problem.n_good
    started = last_report = time.perf_counter()

    for t in range(iterations):
        active_rngs = [rngs[r] for r in batch.runs]
        round_ = method.start_round(active_rngs)
        x_new = batch.x - batch.gammas[:, None] * batch.g
        point, down = method.broadcast(x_new, batch.server_state, active_rngs)
        up = None
        honest_vectors = []
        for group, state in zip(groups, batch.worker_states):
            sent = method.worker_step(group, state, point, batch.x, batch.g, round_, active_rngs)
            up = sent if up is None else up
            honest_vectors.append(state["g"])
        vectors = honest_vectors[0][:, :n_good]
        if problem.n_byzantine > 0:
            context = AttackContext(
                good=vectors,
                honest_byzantine=honest_vectors[1] if len(honest_vectors) > 1 else None,
                byzantine_gradient=lambda point=point: byzantine_data.full_gradients(point)[:, 0, :],
                n_byzantine=problem.n_byzantine, rngs=active_rngs,
            )
            vectors = np.concatenate([vectors, attack(context)], axis=1)
        batch.g = aggregator(vectors, active_rngs)
        batch.x = x_new
        bits_up[batch.runs] += up
        bits_down[batch.runs] += down

        finite = np.isfinite(batch.x).all(axis=1) & np.isfinite(batch.g).all(axis=1)
        is_log = (t + 1) % log_every == 0 or t + 1 == iterations
        if is_log or not finite.all():
            grad_norm_sq = _record(problem, batch, trajectories, t + 1, bits_up, bits_down)
            with np.errstate(invalid="ignore"):
                diverged = ~np.isfinite(grad_norm_sq) | ~finite | (grad_norm_sq > DIVERGENCE_FACTOR * initial)
            for i in np.flatnonzero(diverged):
                trajectories[batch.runs[i]].diverged[-1] = True
            if diverged.any():
                logger.warning("%d run(s) diverged at iteration %d (stepsizes %s)", int(diverged.sum()),
                               t + 1, batch.gammas[diverged].tolist())
                initial = initial[~diverged]
                batch.keep(~diverged)
                if batch.runs.size == 0:
                    break
        now = time.perf_counter()
        if now - last_report >= progress_every_s:
            last_report = now
            logger.info("iteration %d/%d (%.0f%%), %.1f s elapsed", t + 1, iterations,
                        100.0 * (t + 1) / iterations, now - started)
    return trajectories


def _record(problem, batch, trajectories, iteration, bits_up, bits_down):
    """Append one record per active run and return their ``||grad f(x)||^2``, shape (R_active,)."""
    grad_norm_sq = np.sum(problem.gradient(batch.x) ** 2, axis=1)
    gap = problem.loss(batch.x) - problem.f_star if problem.f_star is not None else None
    estimator_norm_sq = np.sum(batch.g ** 2, axis=1)
    for i, run in enumerate(batch.runs):
        record = trajectories[run]
        record.iteration.append(iteration)
        record.bits_up.append(int(bits_up[run]))
        record.bits_down.append(int(bits_down[run]))
        record.grad_norm_sq.append(float(grad_norm_sq[i]))
        record.optimality_gap.append(float(gap[i]) if gap is not None else float("nan"))
        record.estimator_norm_sq.append(float(estimator_norm_sq[i]))
        record.diverged.append(False)
    return grad_norm_sq
