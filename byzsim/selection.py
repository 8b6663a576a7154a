"""Stepsize selection: pick the best multiplier of the theoretical stepsize per grid cell.

Rammal et al. (2024, Appendix H.1) tune each method's stepsize over
``{2^k * gamma_th}`` and plot the best one ("1x", "2x", ..., "64x"). This module
makes that choice reproducible from the result store's long table.

A *cell* is one (experiment, dataset, method, attack, aggregator) combination. Its
candidates are the multipliers present in the frame. A *run* is one (cell,
multiplier, seed) trajectory.

Score of a run
    The ``statistic`` of ``metric`` over the rows whose iteration lies in the last
    ``last_fraction`` of the run's recorded iterations, that is
    ``iteration >= t_end - last_fraction * (t_end - t_start)``. The last recorded row
    is always in that window. ``statistic`` is one of ``mean``, ``median``, ``min``
    (over the window) or ``last`` (the value at the last recorded iteration).

Score of a candidate
    The mean of its runs' scores over the seeds. A NaN run score makes the candidate's
    score NaN instead of being skipped, so a missing value never improves a candidate.

Choice
    The candidate with the lowest score among those that did not diverge (no row with
    ``diverged`` true in any seed) and have a finite score. Ties go to the smaller
    multiplier, because the smaller stepsize is the safer choice when the data cannot
    tell the two apart. A cell without such a candidate gets ``selected`` false in
    every row, and a warning is logged.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from byzsim._io import atomic_path

logger = logging.getLogger(__name__)

#: Identity columns that define one selection cell.
CELL_KEYS: tuple[str, ...] = ("experiment", "dataset", "method", "attack", "aggregator")

#: Columns of the selection table, in output order.
SELECTION_COLUMNS: tuple[str, ...] = CELL_KEYS + ("multiplier", "score", "diverged", "selected")

METRICS: tuple[str, ...] = ("grad_norm_sq", "optimality_gap")
STATISTICS: tuple[str, ...] = ("mean", "median", "last", "min")

#: The rule used when a key is missing: mean of ||grad f||^2 over the last 10% of iterations.
DEFAULT_RULE: dict[str, Any] = {"metric": "grad_norm_sq", "statistic": "mean", "last_fraction": 0.1}


def validate_rule(rule: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``rule`` with defaults filled in, after checking every key and value.

    Parameters
    ----------
    rule : mapping or None
        Keys ``metric`` (``grad_norm_sq`` or ``optimality_gap``), ``statistic``
        (``mean``, ``median``, ``last`` or ``min``) and ``last_fraction`` (a number in
        (0, 1]). Missing keys take the values of :data:`DEFAULT_RULE`. None means
        :data:`DEFAULT_RULE`.

    Returns
    -------
    dict
        A new dict with all three keys.

    Raises
    ------
    ValueError
        On an unknown key, an unknown metric or statistic, or a ``last_fraction``
        outside (0, 1]. The message names the value and the allowed ones.
    """
    rule = dict(rule or {})
    unknown = sorted(set(rule) - set(DEFAULT_RULE))
    if unknown:
        raise ValueError(
            f"invalid selection rule key(s) {unknown}; valid keys are {sorted(DEFAULT_RULE)}"
        )
    checked = {**DEFAULT_RULE, **rule}
    if checked["metric"] not in METRICS:
        raise ValueError(
            f"invalid selection metric {checked['metric']!r}; use one of {list(METRICS)}"
        )
    if checked["statistic"] not in STATISTICS:
        raise ValueError(
            f"invalid selection statistic {checked['statistic']!r}; use one of {list(STATISTICS)}"
        )
    fraction = checked["last_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not (
        0.0 < float(fraction) <= 1.0
    ):
        raise ValueError(
            f"invalid last_fraction {fraction!r}; use a number in (0, 1], e.g. 0.1 for the "
            "last 10% of the iterations"
        )
    checked["last_fraction"] = float(fraction)
    return checked


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"the result frame lacks column(s) {missing}; pass the long table of "
            "byzsim.store.load, which has them"
        )


def normalize_identity(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose identity columns have their store types.

    Readers outside byzsim may return partition columns as categoricals or strings
    (for example ``pandas.read_parquet`` on the hive folders). Cell keys become
    strings, ``multiplier`` float64 and ``seed`` int64, so that merges and equality
    tests on these columns behave the same whatever read the frame.
    """
    frame = frame.copy()
    for column in CELL_KEYS:
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
    if "multiplier" in frame.columns:
        multiplier = frame["multiplier"]
        if not pd.api.types.is_numeric_dtype(multiplier):
            multiplier = pd.to_numeric(multiplier.astype(str), errors="raise")
        frame["multiplier"] = multiplier.astype("float64")
    if "seed" in frame.columns:
        frame["seed"] = frame["seed"].astype("int64")
    return frame


def run_scores(frame: pd.DataFrame, rule: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Score every run of ``frame`` by ``rule``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table in the store schema, one row per run per recorded iteration. It
        needs the cell keys, ``multiplier``, ``seed``, ``iteration``, ``diverged`` and
        the rule's metric.
    rule : mapping or None
        See :func:`validate_rule`.

    Returns
    -------
    pandas.DataFrame
        One row per run, with the cell keys, ``multiplier``, ``seed``, ``score``
        (float64, NaN when the window contains no value of the metric) and ``diverged``
        (bool, true when any row of the run has ``diverged`` true).

    Raises
    ------
    ValueError
        On an invalid rule, a missing column, or a metric that is null in every row
        (``optimality_gap`` is null when f* is unknown).
    """
    rule = validate_rule(rule)
    metric = rule["metric"]
    run_keys = list(CELL_KEYS) + ["multiplier", "seed"]
    _require_columns(frame, run_keys + ["iteration", "diverged", metric])
    if frame.empty:
        return pd.DataFrame(
            {
                **{key: pd.Series(dtype=str) for key in CELL_KEYS},
                "multiplier": pd.Series(dtype="float64"),
                "seed": pd.Series(dtype="int64"),
                "score": pd.Series(dtype="float64"),
                "diverged": pd.Series(dtype=bool),
            }
        )

    frame = normalize_identity(frame)
    values = pd.to_numeric(frame[metric], errors="coerce").astype("float64")
    if values.isna().all():
        raise ValueError(
            f"metric {metric!r} is null in every row of the result frame; f* is unknown "
            "for this problem, so select by metric 'grad_norm_sq' instead"
        )

    iteration = frame["iteration"].astype("int64")
    by_run = iteration.groupby([frame[key] for key in run_keys], sort=False)
    t_end = by_run.transform("max")
    t_start = by_run.transform("min")
    in_window = iteration >= t_end - rule["last_fraction"] * (t_end - t_start)

    window = frame.loc[in_window, run_keys].copy()
    window["value"] = values[in_window]
    window["iteration"] = iteration[in_window]
    grouped = window.groupby(run_keys, sort=True)
    if rule["statistic"] == "last":
        last_rows = window.sort_values("iteration", kind="stable").groupby(run_keys).tail(1)
        scores = last_rows.set_index(run_keys)["value"]
    else:
        scores = grouped["value"].agg(rule["statistic"])

    diverged = frame["diverged"].fillna(False).astype(bool).groupby(
        [frame[key] for key in run_keys]
    ).any()
    result = pd.DataFrame({"score": scores}).join(diverged.rename("diverged"), how="outer")
    result["diverged"] = result["diverged"].fillna(False).astype(bool)
    return result.reset_index()


def select_stepsizes(frame: pd.DataFrame, rule: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Pick, per (experiment, dataset, method, attack, aggregator), the best multiplier.

    The score of a multiplier is the mean over seeds of its runs' scores (see the
    module docstring). The lowest score wins among the multipliers whose runs never
    diverged and whose score is finite. Ties go to the smaller multiplier. A cell
    with no such multiplier is returned with ``selected`` false in all its rows, and
    a warning naming the cell is logged.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table in the store schema (see :func:`run_scores` for the columns used).
    rule : mapping or None
        ``{metric, statistic, last_fraction}``, see :func:`validate_rule`.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, sorted by cell and multiplier, with columns
        :data:`SELECTION_COLUMNS`: the cell keys (str), ``multiplier`` (float64),
        ``score`` (float64), ``diverged`` (bool) and ``selected`` (bool, true in at
        most one row per cell).

    Raises
    ------
    ValueError
        As :func:`run_scores`.
    """
    runs = run_scores(frame, rule)
    candidate_keys = list(CELL_KEYS) + ["multiplier"]
    grouped = runs.groupby(candidate_keys, sort=True)
    # skipna=False: a seed without a score must not leave the others to decide alone.
    candidates = pd.DataFrame(
        {
            "score": grouped["score"].agg(lambda scores: scores.mean(skipna=False)),
            "diverged": grouped["diverged"].any(),
        }
    ).reset_index()
    candidates["score"] = candidates["score"].astype("float64")
    candidates["diverged"] = candidates["diverged"].astype(bool)

    eligible = ~candidates["diverged"] & np.isfinite(candidates["score"].to_numpy())
    best = (
        candidates[eligible]
        .sort_values(["score", "multiplier"], kind="stable")
        .groupby(list(CELL_KEYS), sort=False)
        .head(1)
    )
    candidates["selected"] = False
    candidates.loc[best.index, "selected"] = True

    has_choice = candidates.groupby(list(CELL_KEYS), sort=False)["selected"].transform("any")
    for cell, rows in candidates[~has_choice].groupby(list(CELL_KEYS), sort=True):
        cell_text = ", ".join(f"{key}={value}" for key, value in zip(CELL_KEYS, cell))
        n_diverged = int(rows["diverged"].sum())
        logger.warning(
            "no stepsize selected for %s: %d of %d multipliers %s diverged and the rest "
            "have no finite score; extend the grid towards smaller multipliers",
            cell_text,
            n_diverged,
            len(rows),
            sorted(rows["multiplier"].tolist()),
        )

    return candidates.loc[:, list(SELECTION_COLUMNS)].reset_index(drop=True)


def select_runs(frame: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of ``frame`` that belong to a selected multiplier of their cell.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table in the store schema.
    selection : pandas.DataFrame
        Output of :func:`select_stepsizes` (or :func:`read_selection`), possibly for
        several experiments. Only rows with ``selected`` true are used.

    Returns
    -------
    pandas.DataFrame
        The matching rows of ``frame`` with normalized identity columns (see
        :func:`normalize_identity`), in their original order.

    Raises
    ------
    ValueError
        When either frame lacks a needed column.
    """
    keys = list(CELL_KEYS) + ["multiplier"]
    _require_columns(frame, keys)
    _require_columns(selection, keys + ["selected"])
    frame = normalize_identity(frame)
    chosen = normalize_identity(selection)
    chosen = chosen.loc[chosen["selected"].astype(bool), keys].drop_duplicates()
    matched = frame.reset_index(drop=True).merge(
        chosen.assign(_chosen=True), on=keys, how="left", sort=False
    )
    return frame.reset_index(drop=True).loc[matched["_chosen"].eq(True).to_numpy()]


def seed_curve(runs: pd.DataFrame, x: str, metric: str) -> pd.DataFrame:
    """Aggregate the seeds of one candidate per iteration.

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of one (cell, multiplier), any number of seeds.
    x : str
        Column averaged over the seeds as the curve's x value, e.g. ``bits_up``.
    metric : str
        Column whose mean and sample standard deviation (ddof=1) over the seeds are
        returned. Non-numeric values count as NaN.

    Returns
    -------
    pandas.DataFrame
        Indexed by iteration (sorted), with columns ``x``, ``mean``, ``std`` (NaN
        for a single seed) and ``count``. Only the iterations that every seed recorded
        are kept, so a seed that diverged early cuts the curve where it stopped.
    """
    n_seeds = runs["seed"].nunique()
    values = runs.assign(_y=pd.to_numeric(runs[metric], errors="coerce").astype("float64"))
    grouped = values.groupby("iteration", sort=True)
    curve = pd.DataFrame(
        {
            "x": grouped[x].mean().astype("float64"),
            "mean": grouped["_y"].mean(),
            "std": grouped["_y"].std(ddof=1),
            "count": grouped["_y"].size(),
        }
    )
    return curve[curve["count"] == n_seeds]


def write_selection(selection: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a selection table to CSV atomically and return the path written.

    The file appears complete or not at all: the table goes to a temporary file in the
    same folder, which then replaces ``path``. Parent folders are created.

    Raises
    ------
    ValueError
        When ``selection`` lacks a column of :data:`SELECTION_COLUMNS`.
    """
    _require_columns(selection, SELECTION_COLUMNS)
    path = Path(path)
    with atomic_path(path) as temporary:
        selection.loc[:, list(SELECTION_COLUMNS)].to_csv(temporary, index=False)
    return path


def read_selection(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a selection CSV written by :func:`write_selection`, with its column types.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file lacks a column of :data:`SELECTION_COLUMNS`.
    """
    selection = pd.read_csv(
        path,
        dtype={key: str for key in CELL_KEYS},
        keep_default_na=False,
        na_values={"score": ["", "nan", "NaN"]},
    )
    _require_columns(selection, SELECTION_COLUMNS)
    selection["multiplier"] = selection["multiplier"].astype("float64")
    selection["score"] = selection["score"].astype("float64")
    for column in ("diverged", "selected"):
        selection[column] = selection[column].map(_parse_bool).astype(bool)
    return selection


def _parse_bool(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"invalid boolean {value!r} in a selection file; expected True or False")


def format_multiplier(multiplier: float) -> str:
    """Format a stepsize multiplier as the paper's plots do: 64.0 -> "64x", 0.5 -> "0.5x"."""
    if math.isfinite(multiplier) and float(multiplier).is_integer():
        return f"{int(multiplier)}x"
    return f"{multiplier:g}x"
