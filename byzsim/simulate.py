"""Turn one run specification into simulated trajectories (and a result file).

A run specification is a JSON-serializable dict (see :data:`DEFAULT_SPEC` for every key
and its default). One specification covers all ``multipliers x seeds`` runs of one grid
cell, and :func:`simulate` runs them as one batch through :func:`byzsim.engine.run_batch`.
The Snakemake workflow and ``byzsim run`` both call :func:`run_spec_to_store`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from byzsim import engine
from byzsim._io import atomic_path
from byzsim.methods import method_class
from byzsim.problems import Problem, make_logistic_problem, make_quadratic_problem

logger = logging.getLogger(__name__)

DEFAULT_SPEC: dict[str, Any] = {
    "experiment": "custom",
    "problem": {
        "kind": "logistic",            # logistic | quadratic
        "dataset": "phishing",         # logistic: a dataset of the registry
        "dataset_entry": None,         # registry entry {file, rows, features} for a dataset not built in
        "regularizer": "nonconvex",    # nonconvex | ridge
        "lam": 0.1,
        "setting": "heterogeneous",    # homogeneous | heterogeneous
        "d": 100,                      # quadratic only
        "groups": 2,                   # quadratic only
        "problem_seed": 0,             # quadratic only: seed of zeta_1, zeta_2
    },
    "n_workers": 16,
    "n_byzantine": 3,
    "method": "byz-dasha-page",
    "method_params": {"p": None, "momentum": None, "batch_size": None, "full_gradients": False},
    "compressor": {"name": "randk", "k_fraction": 0.1},
    "server_compressor": {"name": "identity"},
    "aggregator": {"name": "cm", "bucket_size": 2},
    "attack": {"name": "alie"},
    "multipliers": [1.0],
    # Bound that gives the theoretical stepsize: "published-code" is the simplified form
    # the authors evaluated for Table 3 and their plots' multipliers, "theorem" the bound
    # as Theorems 2.1, 2.2 and 3.1 state it (see byzsim.theory).
    "stepsize_form": "published-code",
    "iterations": 1000,
    "log_every": 10,
    "seeds": [0],
    "x0": "solution_plus_one",         # solution_plus_one | zeros
}

X0_CHOICES = ("solution_plus_one", "zeros")


def resolve_spec(spec: dict) -> dict:
    """Return ``spec`` with every missing key filled from :data:`DEFAULT_SPEC`.

    Raises
    ------
    ValueError
        For an unknown key (the message names it and lists the valid keys) or an
        invalid value.
    """
    resolved = copy.deepcopy(DEFAULT_SPEC)
    for key, value in spec.items():
        if key not in resolved:
            raise ValueError(f"unknown run specification key {key!r}; valid keys: {sorted(resolved)}")
        if key in ("problem", "method_params"):
            unknown = set(value) - set(resolved[key])
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)} in {key!r}; valid keys: {sorted(resolved[key])}")
            resolved[key].update(value)
        else:
            resolved[key] = copy.deepcopy(value)
    # Keep only the problem keys of the chosen kind, so a stored specification does not
    # carry another problem's defaults.
    if resolved["problem"]["kind"] == "quadratic":
        resolved["problem"]["dataset"] = "quadratic"
        for key in ("dataset_entry", "regularizer", "lam", "setting"):
            resolved["problem"].pop(key)
    else:
        for key in ("d", "groups", "problem_seed"):
            resolved["problem"].pop(key)
    for key in ("multipliers", "seeds"):
        if isinstance(resolved[key], (int, float)):
            resolved[key] = [resolved[key]]
        if not resolved[key]:
            raise ValueError(f"{key} must list at least one value")
    if any(not (isinstance(m, (int, float)) and m > 0 and math.isfinite(m)) for m in resolved["multipliers"]):
        raise ValueError(f"multipliers must be positive numbers, got {resolved['multipliers']}")
    if resolved["stepsize_form"] not in ("published-code", "theorem"):
        raise ValueError(f"unknown stepsize_form {resolved['stepsize_form']!r}; "
                         "expected 'published-code' or 'theorem'")
    if resolved["x0"] not in X0_CHOICES:
        raise ValueError(f"unknown x0 {resolved['x0']!r}; expected one of {list(X0_CHOICES)}")
    for key in ("iterations", "log_every"):
        if not isinstance(resolved[key], int) or resolved[key] < 1:
            raise ValueError(f"{key} must be a positive integer, got {resolved[key]!r}")
    method_class(resolved["method"])
    return resolved


# --------------------------------------------------------------------------- problem


def build_problem(spec: dict, data_dir: str | Path = "data", mirror: str | None = None) -> tuple[Problem, Any]:
    """Build the problem of a resolved ``spec`` and its smoothness constants.

    The logistic problems load their dataset through :func:`byzsim.data.load_dataset`
    and cache ``x*``, ``f*`` and the smoothness constants under ``data_dir/solutions``,
    keyed by everything they depend on.
    """
    from byzsim import theory

    problem_spec = spec["problem"]
    if problem_spec["kind"] == "quadratic":
        problem = make_quadratic_problem(
            d=problem_spec["d"], n_workers=spec["n_workers"], n_byzantine=spec["n_byzantine"],
            groups=problem_spec["groups"], problem_seed=problem_spec["problem_seed"],
        )
        return problem, theory.quadratic_constants()
    if problem_spec["kind"] != "logistic":
        raise ValueError(f"unknown problem kind {problem_spec['kind']!r}; expected 'logistic' or 'quadratic'")

    from byzsim.data import load_dataset

    name = problem_spec["dataset"]
    registry = {name: problem_spec["dataset_entry"]} if problem_spec["dataset_entry"] else None
    features, labels = load_dataset(name, data_dir=data_dir, mirror=mirror, registry=registry)
    key = dict(dataset=name, rows=features.shape[0], setting=problem_spec["setting"],
               regularizer=problem_spec["regularizer"], lam=problem_spec["lam"],
               n_workers=spec["n_workers"], n_byzantine=spec["n_byzantine"])
    cache = Path(data_dir) / "solutions" / (
        f"{name}-{problem_spec['setting']}-{problem_spec['regularizer']}-"
        f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]}.npz")
    solution = constants = None
    if cache.exists():
        with np.load(cache) as stored:
            f_star = float(stored["f_star"])
            solution = (stored["x_star"], None if math.isnan(f_star) else f_star)
            constants = theory.SmoothnessConstants(*(float(v) for v in stored["constants"]))
    problem = make_logistic_problem(
        features, labels, dataset=name, setting=problem_spec["setting"],
        regularizer=problem_spec["regularizer"], lam=problem_spec["lam"],
        n_workers=spec["n_workers"], n_byzantine=spec["n_byzantine"], solution=solution,
    )
    if constants is None:
        # Homogeneous: every good worker's local data is the whole matrix.
        shards = [problem.features] * problem.n_good if problem.good.shared else problem.good.features
        constants = theory.logistic_constants(problem.features, shards, problem_spec["lam"])
        f_star = math.nan if problem.f_star is None else problem.f_star
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, x_star=problem.x_star, f_star=f_star,
                         constants=np.array([constants.L, constants.L_pm, constants.calL_pm]))
    return problem, constants


def starting_point(problem: Problem, choice: str) -> np.ndarray:
    """Return ``x^0``: ``x* + 1`` (every coordinate shifted by one, as the authors' code) or zeros."""
    if choice == "zeros":
        return np.zeros(problem.d)
    return problem.x_star + 1.0


# --------------------------------------------------------------------------- method


def method_parameters(spec: dict, problem: Problem, compressor) -> dict[str, Any]:
    """Return the method's ``p``, ``momentum`` (``a``) and ``batch_size`` (``b``).

    The paper's choices (Rammal et al., 2024, Table 1 and Appendix H.1), each replaced by
    a value given in ``spec["method_params"]``:

    * ``b = max(1, floor(0.01 m))``, or full local gradients (``b = m``);
    * Byz-VR-MARINA and 2.0: ``p = min(1/omega, b/m)`` with mini-batches,
      ``p = 1/(omega + 1)`` with full local gradients;
    * Byz-DASHA-PAGE: ``p = b/m`` and ``a = 1/(2 omega + 1)``;
    * Byz-EF21 and -BC: no coin and full local gradients.
    """
    from byzsim import theory

    params = spec["method_params"]
    name = spec["method"]
    m = problem.good.m
    full = bool(params["full_gradients"]) or name in ("byz-ef21", "byz-ef21-bc") or m == 1
    b = m if full else (params["batch_size"] or theory.default_batch_size(m))
    if not 1 <= b <= m:
        raise ValueError(f"batch_size={b} must lie between 1 and the local dataset size m={m}")
    omega = compressor.omega
    if name in ("byz-vr-marina", "byz-vr-marina-2", "byz-dasha-page") and omega is None:
        raise ValueError(f"{name} needs an unbiased compressor (randk, natural, identity), "
                         f"got {compressor.label}")
    p = params["p"]
    if p is None:
        if name in ("byz-vr-marina", "byz-vr-marina-2"):
            p = theory.vr_marina_probability(omega, b, m, full_gradients=full)
        elif name == "byz-dasha-page":
            p = theory.dasha_page_probability(b, m)
        else:
            p = 1.0
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p={p} must lie in (0, 1]")
    momentum = params["momentum"]
    if momentum is None and name == "byz-dasha-page":
        momentum = theory.dasha_page_momentum(omega)
    return {"p": float(p), "momentum": momentum, "batch_size": None if full else int(b), "b": int(b), "m": int(m)}


def build_parts(spec: dict, problem: Problem, constants):
    """Build the compressor, method, aggregator, attack and theoretical stepsize of ``spec``."""
    from byzsim import theory
    from byzsim.aggregators import make_aggregator
    from byzsim.attacks import make_attack
    from byzsim.compressors import make_compressor

    compressor = make_compressor(spec["compressor"], problem.d)
    server_compressor = make_compressor(spec["server_compressor"], problem.d)
    params = method_parameters(spec, problem, compressor)
    method = method_class(spec["method"])(
        compressor, p=params["p"], batch_size=params["batch_size"], momentum=params["momentum"],
        server_compressor=server_compressor,
    )
    aggregator = make_aggregator(spec["aggregator"], problem.n_byzantine)
    attack = make_attack(spec["attack"])
    alpha_p = server_compressor.alpha if spec["method"] == "byz-ef21-bc" else 1.0
    form = spec["stepsize_form"]
    if spec["method"] == "byz-ef21-bc" and form == "published-code":
        # The authors' code has no Byz-EF21-BC stepsize; Theorem 3.1 is the only source.
        form = "theorem"
    gamma = theory.theoretical_stepsize(
        spec["method"], constants, omega=compressor.omega or 0.0, alpha_D=compressor.alpha,
        alpha_P=alpha_p, p=params["p"], b=params["b"], G=problem.n_good,
        c_delta=theory.c_delta(problem.n_byzantine, problem.n_workers), form=form,
    )
    logger.info("%s on %s: p=%.4g, b=%d of m=%d, theoretical gamma=%.4g", method.label, problem.name,
                params["p"], params["b"], params["m"], gamma)
    return method, aggregator, attack, gamma, compressor


# --------------------------------------------------------------------------- running


def simulate(spec: dict, data_dir: str | Path = "data", mirror: str | None = None) -> pd.DataFrame:
    """Run every ``(multiplier, seed)`` pair of ``spec`` as one batch.

    Parameters
    ----------
    spec : dict
        Run specification; missing keys take their :data:`DEFAULT_SPEC` values.
    data_dir : str or Path
        Where datasets and cached solutions live.
    mirror : str, optional
        LibSVM mirror (URL, ``file://`` URL or folder) for a dataset not yet on disk.

    Returns
    -------
    pandas.DataFrame
        The long table of :data:`byzsim.store.SCHEMA`: one row per run and record.
    """
    spec = resolve_spec(spec)
    problem, constants = build_problem(spec, data_dir, mirror)
    method, aggregator, attack, gamma_theory, compressor = build_parts(spec, problem, constants)
    pairs = [(float(mult), int(seed)) for mult in spec["multipliers"] for seed in spec["seeds"]]
    gammas = [mult * gamma_theory for mult, _ in pairs]
    rngs = [np.random.default_rng(seed) for _, seed in pairs]
    logger.info("simulating %d run(s) of %s, %s attack, %d iterations", len(pairs), method.label,
                spec["attack"]["name"], spec["iterations"])
    trajectories = engine.run_batch(problem, method, aggregator, attack, gammas, rngs,
                                    spec["iterations"], spec["log_every"],
                                    starting_point(problem, spec["x0"]))
    frames = []
    for (multiplier, seed), gamma, trajectory in zip(pairs, gammas, trajectories):
        columns = trajectory.columns()
        rows = len(columns["iteration"])
        identity = {
            "experiment": spec["experiment"], "dataset": problem.dataset, "setting": problem.setting,
            "problem": problem.name, "method": spec["method"], "attack": spec["attack"]["name"],
            "aggregator": spec["aggregator"]["name"],
            "bucket_size": int(spec["aggregator"].get("bucket_size") or 1),
            "compressor": compressor.label, "multiplier": multiplier, "stepsize": gamma, "seed": seed,
        }
        frame = pd.DataFrame({key: [value] * rows for key, value in identity.items()})
        for key, values in columns.items():
            frame[key] = values
        if problem.f_star is None:
            frame["optimality_gap"] = pd.Series([None] * rows, dtype="Float64")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def run_spec_to_store(spec: dict, path: str | Path, data_dir: str | Path = "data",
                      mirror: str | None = None) -> Path:
    """Simulate ``spec`` and write its trajectories to the Parquet file ``path``.

    The file's metadata contains the fully resolved specification, so a result says exactly
    how it was made; the write is atomic (see :func:`byzsim.store.write_run`).
    """
    from byzsim import store

    resolved = resolve_spec(spec)
    started = time.perf_counter()
    frame = simulate(resolved, data_dir=data_dir, mirror=mirror)
    wall_time = time.perf_counter() - started
    written = store.write_run(path, frame, config=resolved, wall_time_s=wall_time, seeds=resolved["seeds"])
    logger.info("wrote %d rows to %s in %.1f s", len(frame), path, wall_time)
    return Path(written)


def run_batch_to_store(spec: dict, paths: dict[float, str | Path], data_dir: str | Path = "data",
                       mirror: str | None = None) -> list[Path]:
    """Simulate all multipliers of ``spec`` as one batch and write one file per multiplier.

    Each file contains the seeds of one multiplier and records the specification with that
    multiplier alone, exactly what :func:`run_spec_to_store` of that multiplier would
    write: a batch gives bitwise the same trajectories as the runs made one by one.

    Parameters
    ----------
    paths : dict
        Output file of each multiplier of ``spec["multipliers"]``.

    Raises
    ------
    ValueError
        If ``paths`` does not name exactly the multipliers of ``spec``.
    """
    from byzsim import store

    resolved = resolve_spec(spec)
    multipliers = [float(m) for m in resolved["multipliers"]]
    given = {float(m): Path(p) for m, p in paths.items()}
    if sorted(given) != sorted(multipliers):
        raise ValueError(f"output paths are given for multipliers {sorted(given)}, but the "
                         f"specification lists {sorted(multipliers)}")
    started = time.perf_counter()
    frame = simulate(resolved, data_dir=data_dir, mirror=mirror)
    # The wall time of the batch, shared equally: an estimate of each multiplier's share.
    wall_time = (time.perf_counter() - started) / len(multipliers)
    written = []
    for multiplier in multipliers:
        single = dict(resolved, multipliers=[multiplier])
        rows = frame[frame["multiplier"] == multiplier].reset_index(drop=True)
        written.append(Path(store.write_run(given[multiplier], rows, config=single,
                                            wall_time_s=wall_time, seeds=resolved["seeds"])))
    logger.info("wrote %d result files in %.1f s", len(written), wall_time * len(multipliers))
    return written
