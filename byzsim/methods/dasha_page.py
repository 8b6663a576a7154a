"""Byz-DASHA-PAGE (Rammal et al., 2024, Algorithm 2).

Each worker keeps a PAGE estimator ``h_i`` of its gradient (full gradient with
probability ``p``, otherwise ``h_i^t`` plus a mini-batch gradient difference) and a
compressed momentum estimator ``g_i`` that tracks it:
``g_i^{t+1} = g_i^t + Q_i(h_i^{t+1} - h_i^t - a (g_i^t - h_i^t))``.

Lines 11-13 run in both branches of the coin: the worker sends ``m_i^{t+1}`` every
round. The extracted pseudo-code indents them under ``else``, but DASHA-PAGE
(Tyurin and Richtárik, 2023, Algorithm 1) and the authors' published code compute
and send the message in every round, and Theorem 2.2 assumes so.
"""

from __future__ import annotations

import numpy as np

from byzsim.methods.base import Method, select_runs


class ByzDashaPage(Method):
    """Byz-DASHA-PAGE with momentum ``a`` (``momentum``) and probability ``p``."""

    name = "byz-dasha-page"
    label = "Byz-DASHA-PAGE"
    uses_coin = True

    def init_worker_state(self, group, x0):
        gradients = group.full_gradients(x0)
        return {"g": gradients, "h": gradients.copy()}

    def worker_step(self, group, state, point, x_old, g_server, round_, rngs):
        d = point.shape[1]
        h_new = np.empty_like(state["h"])
        sync = np.flatnonzero(round_.coins)
        page = np.flatnonzero(~round_.coins)
        if sync.size:
            h_new[sync] = group.full_gradients(point[sync])  # line 8
        if page.size:
            delta = self.sample_gradient_differences(group, point[page], x_old[page], select_runs(rngs, page))
            h_new[page] = state["h"][page] + delta  # line 10
        h, g = state["h"], state["g"]
        message = self.compressor(h_new - h - self.momentum * (g - h), rngs)  # line 11
        state["g"] = g + message  # line 12
        state["h"] = h_new
        return np.full(point.shape[0], self.compressor.bits(d), dtype=np.int64)
