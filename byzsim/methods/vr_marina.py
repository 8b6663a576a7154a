"""Byz-VR-MARINA (Gorbunov et al., 2023) and Byz-VR-MARINA 2.0 (Rammal et al., 2024, Alg. 1).

Both compute, with probability ``p``, full local gradients (a synchronization round,
sent uncompressed) and otherwise a compressed mini-batch gradient difference
``m_i^{t+1} = Q_i(Delta_i(x^{t+1}, x^t))``. They differ only in line 12:
Byz-VR-MARINA sets ``g_i^{t+1} = g^t + m_i^{t+1}`` from the broadcast aggregate, which
carries the Byzantine workers' past messages, while 2.0 sets ``g_i^{t+1} = g_i^t + m_i^{t+1}``
from the worker's own estimator.
"""

from __future__ import annotations

import numpy as np

from byzsim.methods.base import BITS_PER_FLOAT, Method, select_runs


class ByzVRMarina2(Method):
    """Byz-VR-MARINA 2.0 (Rammal et al., 2024, Algorithm 1)."""

    name = "byz-vr-marina-2"
    label = "Byz-VR-MARINA 2.0"
    uses_coin = True

    def init_worker_state(self, group, x0):
        gradients = group.full_gradients(x0)
        state = {"g": gradients}
        if self.batch_size is None:
            # With full local gradients every round needs grad f_i(x^{t+1}); keeping it
            # gives the next round's grad f_i(x^t) without a second pass over the data.
            state["last_gradient"] = gradients.copy()
        return state

    def base_estimator(self, state, g_server, runs):
        """Return the vector that line 12 adds ``m_i^{t+1}`` to: ``g_i^t`` here."""
        return state["g"][runs]

    def worker_step(self, group, state, point, x_old, g_server, round_, rngs):
        d = point.shape[1]
        sync = np.flatnonzero(round_.coins)
        compressed = np.flatnonzero(~round_.coins)
        if self.batch_size is None:
            gradients = group.full_gradients(point)
            delta = gradients - state["last_gradient"]
            state["last_gradient"] = gradients
        if sync.size:
            # Lines 8-9: g_i^{t+1} = grad f_i(x^{t+1}), sent uncompressed.
            state["g"][sync] = gradients[sync] if self.batch_size is None else group.full_gradients(point[sync])
        if compressed.size:
            run_rngs = select_runs(rngs, compressed)
            if self.batch_size is None:
                delta_compressed = delta[compressed]
            else:
                delta_compressed = self.sample_gradient_differences(
                    group, point[compressed], x_old[compressed], run_rngs)
            message = self.compressor(delta_compressed, run_rngs)  # line 11
            state["g"][compressed] = self.base_estimator(state, g_server, compressed) + message  # line 12
        return np.where(round_.coins, BITS_PER_FLOAT * d, self.compressor.bits(d)).astype(np.int64)


class ByzVRMarina(ByzVRMarina2):
    """Byz-VR-MARINA (Gorbunov et al., 2023, Algorithm 1): line 12 adds to ``g^t``."""

    name = "byz-vr-marina"
    label = "Byz-VR-MARINA"

    def base_estimator(self, state, g_server, runs):
        return g_server[runs][:, None, :]
