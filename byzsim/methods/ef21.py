"""Byz-EF21 and Byz-EF21-BC (Rammal et al., 2024, Algorithms 3 and 4).

Every worker compresses the difference between its new full local gradient and its
estimator with a contractive compressor ``C_i`` (EF21 error feedback, Richtárik et al.,
2021): ``g_i^{t+1} = g_i^t + C_i(grad f_i(y) - g_i^t)``. Byz-EF21 evaluates at
``y = x^{t+1}``; Byz-EF21-BC also compresses the broadcast with ``C^P`` (EF21-P,
Gruntkowska et al., 2023) and evaluates at the workers' copy ``y = w^{t+1}``.
"""

from __future__ import annotations

import numpy as np

from byzsim.methods.base import Method


class ByzEF21(Method):
    """Byz-EF21 (Algorithm 3)."""

    name = "byz-ef21"
    label = "Byz-EF21"

    def init_worker_state(self, group, x0):
        return {"g": group.full_gradients(x0)}

    def worker_step(self, group, state, point, x_old, g_server, round_, rngs):
        d = point.shape[1]
        difference = group.full_gradients(point) - state["g"]
        state["g"] = state["g"] + self.compressor(difference, rngs)  # lines 6-7 (Alg. 4: 9-10)
        return np.full(point.shape[0], self.compressor.bits(d), dtype=np.int64)


class ByzEF21BC(ByzEF21):
    """Byz-EF21-BC (Algorithm 4) with server compressor ``C^P`` (``server_compressor``)."""

    name = "byz-ef21-bc"
    label = "Byz-EF21-BC"

    def init_server_state(self, x0):
        return {"w": x0.copy()}  # w^0 = x^0 (Theorem 3.1)

    def broadcast(self, x_new, server_state, rngs):
        d = x_new.shape[1]
        if self.server_compressor.name == "identity":
            # The identity C^P gives w^{t+1} = w^t + (x^{t+1} - w^t) = x^{t+1}; set it
            # exactly, so that Byz-EF21-BC with the identity is Byz-EF21 to the last bit.
            w_new = x_new.copy()
        else:
            shift = self.server_compressor((x_new - server_state["w"])[:, None, :], rngs)[:, 0, :]
            w_new = server_state["w"] + shift  # lines 4-5 (and line 8 on every worker)
        server_state["w"] = w_new
        return w_new, self.server_compressor.bits(d)
