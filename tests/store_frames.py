"""Hand-made runs in the result store schema, shared by the selection, figure and claims tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

IDENTITY = {
    "experiment": "figure2_3",
    "dataset": "phishing",
    "setting": "heterogeneous",
    "problem": "logistic-nonconvex",
    "method": "byz-dasha-page",
    "attack": "alie",
    "aggregator": "cm",
    "bucket_size": 2,
    "compressor": "randk(K=6)",
}


def run_frame(values, *, multiplier=1.0, seed=0, log_every=10, diverged_from=None, stepsize=None,
              bits_per_iteration=192, gap_factor=1.0, **identity) -> pd.DataFrame:
    """Return one run's rows: ``grad_norm_sq`` = ``values``, ``optimality_gap`` = ``gap_factor * values``.

    Records are ``log_every`` iterations apart; from record ``diverged_from`` on, the run is
    marked diverged. ``identity`` overrides the columns of :data:`IDENTITY`.
    """
    values = np.asarray(values, dtype=np.float64)
    iterations = np.arange(values.size, dtype=np.int64) * log_every
    diverged = np.zeros(values.size, dtype=bool)
    if diverged_from is not None:
        diverged[diverged_from:] = True
    return pd.DataFrame(
        {
            **{**IDENTITY, **identity},
            "multiplier": float(multiplier),
            "stepsize": 1e-3 * multiplier if stepsize is None else stepsize,
            "seed": seed,
            "iteration": iterations,
            "bits_up": iterations * bits_per_iteration,
            "bits_down": iterations * 2176,
            "grad_norm_sq": values,
            "optimality_gap": values * gap_factor,
            "estimator_norm_sq": values,
            "diverged": diverged,
        }
    )
