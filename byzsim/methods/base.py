"""The interface every method implements; the loop that runs them is :mod:`byzsim.engine`.

All five methods of Rammal et al. (2024) share one round structure: the server moves
the model with the aggregated estimator ``g^t``, broadcasts, every worker updates its
local estimator ``g_i^{t+1}`` and sends a (compressed) message, the Byzantine workers
send what the attack chooses, and the server aggregates ``g_1^{t+1}, ..., g_n^{t+1}``
with a robust aggregator. A method supplies only its own steps: the coin of a round,
what the server broadcasts, and the workers' update rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from byzsim.problems import WorkerGroup

# Bits of one uncompressed value on the wire (float32), the convention of byzsim.compressors.
BITS_PER_FLOAT = 32


@dataclass
class Round:
    """Random choices of one round shared by all workers of each run.

    Attributes
    ----------
    coins : numpy.ndarray of bool, shape (R,)
        ``c^{t+1}`` of each run (always True for methods without a coin).
    """

    coins: np.ndarray


class Method:
    """Update rules of one method; :func:`byzsim.engine.run_batch` drives the rounds.

    Subclasses set ``name`` (the config name) and ``label`` (the display name) and
    implement :meth:`init_worker_state` and :meth:`worker_step`; methods with a coin
    or a compressed broadcast also override :meth:`start_round` and :meth:`broadcast`.

    Parameters
    ----------
    compressor : byzsim.compressors compressor
        The workers' compressor ``Q_i`` or ``C_i``.
    p : float
        Probability of a synchronization round (ignored by methods without a coin).
    batch_size : int or None
        Mini-batch size ``b``; None means full local gradients.
    """

    name: str = ""
    label: str = ""
    uses_coin: bool = False

    def __init__(self, compressor, *, p: float = 1.0, batch_size: int | None = None,
                 momentum: float | None = None, server_compressor=None):
        self.compressor = compressor
        self.p = float(p)
        self.batch_size = batch_size
        self.momentum = momentum
        self.server_compressor = server_compressor

    def start_round(self, rngs: Sequence[np.random.Generator]) -> Round:
        """Draw the coin ``c^{t+1}`` of each run (one draw per run; always 1 when p >= 1)."""
        if not self.uses_coin or self.p >= 1.0:
            return Round(coins=np.ones(len(rngs), dtype=bool))
        return Round(coins=np.array([rng.random() < self.p for rng in rngs], dtype=bool))

    def init_server_state(self, x0: np.ndarray) -> dict[str, np.ndarray]:
        """Return the server's own state besides ``x`` and ``g`` (empty by default)."""
        return {}

    def broadcast(self, x_new: np.ndarray, server_state: dict, rngs) -> tuple[np.ndarray, int]:
        """Return the point where workers evaluate gradients and the downlink bits per worker.

        By default the server broadcasts one uncompressed vector (``g^t`` or ``x^{t+1}``),
        from which every worker computes ``x^{t+1}`` exactly.
        """
        return x_new, BITS_PER_FLOAT * x_new.shape[1]

    def init_worker_state(self, group: WorkerGroup, x0: np.ndarray) -> dict[str, np.ndarray]:
        """Return the workers' initial state, starting with ``g_i^0 = grad f_i(x^0)``."""
        raise NotImplementedError

    def worker_step(self, group: WorkerGroup, state: dict[str, np.ndarray], point: np.ndarray,
                    x_old: np.ndarray, g_server: np.ndarray, round_: Round,
                    rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Update ``state`` in place and return the uplink bits each worker sent.

        Parameters
        ----------
        group : WorkerGroup
            The ``k`` workers that compute honestly.
        state : dict of numpy.ndarray
            Arrays of shape ``(R, k, d)``; ``state["g"]`` is ``g_i`` and must hold
            ``g_i^{t+1}`` on return.
        point : numpy.ndarray, shape (R, d)
            Where the workers evaluate gradients this round (``x^{t+1}``, or ``w^{t+1}``
            for Byz-EF21-BC).
        x_old : numpy.ndarray, shape (R, d)
            ``x^t``.
        g_server : numpy.ndarray, shape (R, d)
            The broadcast estimator ``g^t``.

        Returns
        -------
        numpy.ndarray of int64, shape (R,)
            Uplink bits sent by each worker this round.
        """
        raise NotImplementedError

    def sample_gradient_differences(self, group: WorkerGroup, point: np.ndarray,
                                    x_old: np.ndarray, rngs) -> np.ndarray:
        """Return the mini-batch estimate of ``grad f_i(point) - grad f_i(x_old)``, ``(R, k, d)``.

        With full local gradients (``batch_size`` None) the difference is exact.
        """
        if self.batch_size is None:
            return group.full_gradients(point) - group.full_gradients(x_old)
        batches = group.sample_batches(rngs, self.batch_size)
        return group.batch_gradient_differences(point, x_old, batches)


def select_runs(rngs: Sequence[np.random.Generator], runs: np.ndarray) -> list[np.random.Generator]:
    """Return the generators of the runs with indices ``runs``."""
    return [rngs[r] for r in runs]
