"""Check the comparisons that Rammal et al. (2024) state about their experiments.

Section 4 and Appendix H of the paper state which method beats which in each figure.
:data:`PAPER_CLAIMS` encodes every such statement as data, one :class:`Claim` per
statement and figure, with the wording paraphrased in one line. :func:`check_claims`
measures each claim on the result store and returns one row per panel (attack and
aggregator) and compared method, with both numbers and the verdict.

Every method is measured at its selected stepsize multiplier (see
:mod:`byzsim.selection`). The tests are:

``lower_final``
    The *final value* of the metric is lower for the method than for the reference
    method. The final value is the mean of the metric over the last 10% (by default)
    of the recorded iterations, averaged over the seeds, which is the score of
    :func:`byzsim.selection.select_stepsizes` with its default rule.
``faster``
    The method needs fewer iterations or bits (the figure's x-axis) than the
    reference to first reach the level eps, the larger of the two final values.
    Both curves (means over the seeds) reach eps, because a mean over the last 10%
    is never below the minimum of that window. So this measures "converges faster"
    up to a level both methods attain. When both first reach eps at the same point,
    typically their common start because one method never falls below its initial
    value, the method with the lower final value counts as faster.
``steadier``
    The method's *fluctuation* is lower: the total rise of log10 of the metric along
    the seed-mean curve, in decades, that is sum(max(0, log10 y[k+1] - log10 y[k])).
    A curve that never goes up scores 0.
``spread``
    The method's relative spread over the seeds is lower: std/mean of the metric
    over the seeds (ddof=1), averaged over the last 10% of the iterations. This is
    the width of Figure 8's band on its log axis.
``pronounced``
    The improvement factor (reference final value / method final value) has a
    larger geometric mean over the attacks of the claim (BF, LF) than over the
    attacks of ``versus_attacks`` (IPM, ALIE).
``larger_stepsize``
    The method's selected stepsize gamma (multiplier times its theoretical gamma) is
    larger than the reference's.

Verdicts: ``yes`` (reproduced), ``no`` (measured and not reproduced) and ``not run``
(the experiment, panel or method is missing from the store). A method that diverged
at every multiplier has no value. So has a method measured at a single fixed
multiplier, as in Figure 8, when any of its seeds diverged. Such a method fails its
own claims, and such a reference loses the comparison.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from byzsim._io import atomic_write_text
from byzsim.selection import (
    CELL_KEYS,
    format_multiplier,
    normalize_identity,
    run_scores,
    seed_curve,
    select_runs,
    select_stepsizes,
)

logger = logging.getLogger(__name__)

TESTS: tuple[str, ...] = (
    "lower_final",
    "faster",
    "steadier",
    "spread",
    "pronounced",
    "larger_stepsize",
)
VERDICTS: tuple[str, ...] = ("yes", "no", "not run")

#: Share of the last recorded iterations over which final values are averaged.
FINAL_FRACTION = 0.1

#: Columns of the table returned by :func:`check_claims`.
CLAIM_COLUMNS: tuple[str, ...] = (
    "claim_id",
    "figure",
    "source",
    "claim",
    "experiment",
    "dataset",
    "attack",
    "aggregator",
    "measure",
    "method",
    "method_multiplier",
    "method_value",
    "reference",
    "reference_multiplier",
    "reference_value",
    "reproduced",
    "detail",
)

_METRIC_TEXT = {"grad_norm_sq": "‖∇f(x)‖²", "optimality_gap": "f(x) − f*"}
_X_TEXT = {"iteration": "iterations", "bits_up": "bits sent per worker"}
_ATTACK_TEXT = {"bf": "BF", "lf": "LF", "ipm": "IPM", "alie": "ALIE", "none": "none", "mimic": "mimic"}


@dataclass(frozen=True)
class Claim:
    """One comparison stated in the paper, checked per panel and compared method.

    Attributes
    ----------
    claim_id : str
        Short unique id, e.g. ``"figure2-speed"``.
    figure : int
        The paper's figure number.
    source : str
        Where the paper states it, e.g. ``"Section 4"``.
    text : str
        The paper's statement paraphrased in one line.
    experiment, dataset : str
        The store's experiment name and dataset the claim is about.
    test : str
        One of :data:`TESTS` (see the module docstring).
    metric : str
        ``grad_norm_sq`` or ``optimality_gap``.
    x : str
        ``iteration`` or ``bits_up``: the x-axis of the figure, used by ``faster``.
    methods : tuple of str
        The methods claimed to do better. Each gets its own row per panel.
    reference : str
        The method they are compared against.
    attacks : tuple of str
        The panels' attacks. For ``pronounced``, the attacks under which the
        advantage is claimed to be larger.
    versus_attacks : tuple of str
        ``pronounced`` only: the attacks the advantage is compared with.
    aggregators : tuple of str or None
        The panels' aggregators. None means every aggregator the store contains for the
        experiment (the paper's Figures 1-7 use one, CM with bucketing).
    """

    claim_id: str
    figure: int
    source: str
    text: str
    experiment: str
    dataset: str
    test: str
    metric: str
    x: str
    methods: tuple[str, ...]
    reference: str
    attacks: tuple[str, ...] = ("bf", "lf", "ipm", "alie")
    versus_attacks: tuple[str, ...] = ()
    aggregators: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.test not in TESTS:
            raise ValueError(
                f"claim {self.claim_id}: invalid test {self.test!r}; use one of {list(TESTS)}"
            )
        if self.metric not in _METRIC_TEXT:
            raise ValueError(
                f"claim {self.claim_id}: invalid metric {self.metric!r}; use one of {list(_METRIC_TEXT)}"
            )
        if self.x not in _X_TEXT:
            raise ValueError(
                f"claim {self.claim_id}: invalid x {self.x!r}; use one of {list(_X_TEXT)}"
            )
        if self.test == "pronounced" and not self.versus_attacks:
            raise ValueError(
                f"claim {self.claim_id}: the test 'pronounced' needs versus_attacks, the "
                "attacks the advantage is compared with"
            )


#: Figure number -> (experiment, dataset) of the default paper workflow.
PAPER_EXPERIMENTS: dict[int, tuple[str, str]] = {
    1: ("figure1", "phishing"),
    2: ("figure2_3", "phishing"),
    3: ("figure2_3", "w8a"),
    4: ("figure4_5", "phishing"),
    5: ("figure4_5", "w8a"),
    6: ("figure6_7", "phishing"),
    7: ("figure6_7", "w8a"),
    8: ("figure8", "quadratic"),
}

_MARINA = "byz-vr-marina"
_MARINA_2 = "byz-vr-marina-2"
_DASHA = "byz-dasha-page"
_OURS = (_MARINA_2, _DASHA)
_BOTH = "Byz-VR-MARINA 2.0 and Byz-DASHA-PAGE"

# Axes of each figure: (metric, x-axis, attacks, aggregators or None for those stored).
_FIGURE_AXES: dict[int, tuple[str, str, tuple[str, ...], tuple[str, ...] | None]] = {
    1: ("grad_norm_sq", "iteration", ("bf", "lf", "ipm", "alie"), None),
    2: ("grad_norm_sq", "bits_up", ("bf", "lf", "ipm", "alie"), None),
    3: ("grad_norm_sq", "bits_up", ("bf", "lf", "ipm", "alie"), None),
    4: ("optimality_gap", "bits_up", ("bf", "lf", "ipm", "alie"), None),
    5: ("optimality_gap", "bits_up", ("bf", "lf", "ipm", "alie"), None),
    6: ("grad_norm_sq", "bits_up", ("bf", "lf", "ipm", "alie"), None),
    7: ("grad_norm_sq", "bits_up", ("bf", "lf", "ipm", "alie"), None),
    8: ("optimality_gap", "iteration", ("mimic",), ("mean", "cm", "gm")),
}

# Every comparison of Section 4 and Appendix H, one line each:
# (figure, id suffix, where the paper states it, test, methods, reference, paraphrase).
# A "pronounced" test compares BF, LF against IPM, ALIE.
_PAPER_STATEMENTS: tuple[tuple[int, str, str, str, tuple[str, ...], str, str], ...] = (
    (1, "accuracy", "Section 4", "lower_final", _OURS, _MARINA,
     f"Under every attack, {_BOTH} reach a lower ‖∇f‖² than Byz-VR-MARINA."),
    (1, "speed", "Section 4", "faster", _OURS, _MARINA,
     f"Under every attack, {_BOTH} converge in fewer iterations than Byz-VR-MARINA."),
    (1, "lead", "Section 4", "lower_final", (_DASHA,), _MARINA_2,
     "Byz-DASHA-PAGE takes the lead: a lower ‖∇f‖² than Byz-VR-MARINA 2.0 under every attack."),
    (1, "stepsize", "Appendix H.3", "larger_stepsize", _OURS, _MARINA,
     f"{_BOTH} tolerate larger stepsizes than Byz-VR-MARINA."),
    (2, "speed", "Section 4", "faster", _OURS, _MARINA,
     f"{_BOTH} converge faster (in bits) than Byz-VR-MARINA."),
    (2, "neighborhood", "Section 4", "lower_final", _OURS, _MARINA,
     f"Byz-VR-MARINA converges to a larger neighborhood (final ‖∇f‖²) than {_BOTH}."),
    (2, "stability", "Section 4", "steadier", _OURS, _MARINA,
     f"{_BOTH} fluctuate less than Byz-VR-MARINA."),
    (2, "bf-lf", "Section 4", "pronounced", _OURS, _MARINA,
     "The advantage over Byz-VR-MARINA is most apparent under the BF and LF attacks."),
    (2, "stepsize", "Appendix H.3", "larger_stepsize", _OURS, _MARINA,
     f"{_BOTH} tolerate larger stepsizes than Byz-VR-MARINA."),
    (3, "speed", "Appendix H.1.1", "faster", _OURS, _MARINA,
     f"On w8a, {_BOTH} converge faster (in bits) than Byz-VR-MARINA under every attack."),
    (3, "accuracy", "Appendix H.1.1", "lower_final", _OURS, _MARINA,
     f"On w8a, {_BOTH} reach a lower ‖∇f‖² than Byz-VR-MARINA under every attack."),
    (3, "stepsize", "Appendix H.3", "larger_stepsize", _OURS, _MARINA,
     f"{_BOTH} tolerate larger stepsizes than Byz-VR-MARINA."),
    *(
        statement
        for figure, dataset in ((4, "phishing"), (5, "w8a"))
        for statement in (
            (figure, "speed", "Appendix H.1.2", "faster", _OURS, _MARINA,
             f"PL case on {dataset}: {_BOTH} converge faster (in bits) than Byz-VR-MARINA."),
            (figure, "accuracy", "Appendix H.1.2", "lower_final", _OURS, _MARINA,
             f"PL case on {dataset}: {_BOTH} reach a smaller f(x) − f* than Byz-VR-MARINA."),
            (figure, "stability", "Appendix H.1.2", "steadier", _OURS, _MARINA,
             f"PL case on {dataset}: {_BOTH} are more stable than Byz-VR-MARINA."),
            (figure, "bf-lf", "Appendix H.1.2", "pronounced", _OURS, _MARINA,
             f"PL case on {dataset}: the improvement over Byz-VR-MARINA is most pronounced under BF and LF."),
        )
    ),
    (6, "speed", "Appendix H.1.3", "faster", ("byz-ef21",), _MARINA,
     "On phishing, Byz-EF21 converges faster (in bits) than Byz-VR-MARINA before both stagnate."),
    (7, "speed", "Appendix H.1.3", "faster", ("byz-ef21",), _MARINA,
     "On w8a, Byz-EF21 converges faster (in bits) than Byz-VR-MARINA before both stagnate."),
    (8, "neighborhood", "Appendix H.2", "lower_final", (_DASHA,), _MARINA,
     "Byz-DASHA-PAGE converges to a smaller neighborhood (mean final f(x) − f*) than Byz-VR-MARINA."),
    (8, "speed", "Appendix H.2", "faster", (_DASHA,), _MARINA,
     "Byz-DASHA-PAGE converges faster (in iterations) than Byz-VR-MARINA."),
    (8, "stability", "Appendix H.2", "spread", (_DASHA,), _MARINA,
     "Byz-DASHA-PAGE is more stable over the runs than Byz-VR-MARINA (narrower band)."),
)


def paper_claims(experiments: Mapping[int, tuple[str, str]] | None = None) -> list[Claim]:
    """Return the claims of Section 4 and Appendix H of Rammal et al. (2024).

    Parameters
    ----------
    experiments : mapping or None
        Figure number -> (experiment name, dataset) in the store. Missing figures
        take :data:`PAPER_EXPERIMENTS`.

    Returns
    -------
    list of Claim
        In figure order.
    """
    where = {**PAPER_EXPERIMENTS, **dict(experiments or {})}
    claims = []
    for figure, suffix, source, test, methods, reference, text in _PAPER_STATEMENTS:
        metric, x, attacks, aggregators = _FIGURE_AXES[figure]
        versus: tuple[str, ...] = ()
        if test == "pronounced":
            attacks, versus = ("bf", "lf"), ("ipm", "alie")
        experiment, dataset = where[figure]
        claims.append(
            Claim(
                claim_id=f"figure{figure}-{suffix}",
                figure=figure,
                source=source,
                text=text,
                experiment=experiment,
                dataset=dataset,
                test=test,
                metric=metric,
                x=x,
                methods=methods,
                reference=reference,
                attacks=attacks,
                versus_attacks=versus,
                aggregators=aggregators,
            )
        )
    return claims


#: The default claims, for the experiment names of :data:`PAPER_EXPERIMENTS`.
PAPER_CLAIMS: list[Claim] = paper_claims()


@dataclass
class _Cell:
    """Measurements of one method in one panel at its selected multiplier."""

    status: str  # "ok", "missing" or "diverged"
    reason: str = ""  # for "diverged": where it diverged
    multiplier: float = math.nan
    stepsize: float = math.nan
    final: float = math.nan
    curve: pd.DataFrame | None = None  # index iteration; columns x, mean, std


def _concat_selections(selection_frames) -> pd.DataFrame | None:
    if selection_frames is None:
        return None
    if isinstance(selection_frames, pd.DataFrame):
        frames = [selection_frames]
    elif isinstance(selection_frames, Mapping):
        frames = list(selection_frames.values())
    else:
        frames = list(selection_frames)
    frames = [frame for frame in frames if frame is not None and not frame.empty]
    if not frames:
        return None
    return normalize_identity(pd.concat(frames, ignore_index=True))


def _filter(frame: pd.DataFrame, **values: str) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in values.items():
        mask &= (frame[column] == value).to_numpy()
    return frame[mask]


class _Measurer:
    """Measure methods in panels of one claim's experiment, caching per cell."""

    def __init__(self, frame: pd.DataFrame, selection: pd.DataFrame | None, last_fraction: float):
        self.frame = frame
        self.selection = selection
        self.last_fraction = last_fraction
        self._cache: dict[tuple, _Cell] = {}

    def cell(self, claim: Claim, method: str, attack: str, aggregator: str) -> _Cell:
        key = (claim.experiment, claim.dataset, method, attack, aggregator, claim.metric, claim.x)
        if key not in self._cache:
            self._cache[key] = self._measure(claim, method, attack, aggregator)
        return self._cache[key]

    def _measure(self, claim: Claim, method: str, attack: str, aggregator: str) -> _Cell:
        identity = dict(
            zip(CELL_KEYS, (claim.experiment, claim.dataset, method, attack, aggregator))
        )
        rows = _filter(self.frame, **identity)
        if rows.empty:
            return _Cell(status="missing")

        rule = {"metric": claim.metric, "statistic": "mean", "last_fraction": self.last_fraction}
        selection = None if self.selection is None else _filter(self.selection, **identity)
        if selection is None or selection.empty:
            if rows["multiplier"].nunique() == 1:
                chosen = rows
            else:
                logger.info("no stepsize selection for %s; selecting with rule %s", identity, rule)
                selection = select_stepsizes(rows, rule)
                chosen = select_runs(rows, selection)
        else:
            chosen = select_runs(rows, selection)
        if chosen.empty:
            if selection["selected"].astype(bool).any():
                logger.warning("the selected multiplier of %s has no rows in the store", identity)
                return _Cell(status="missing")
            return _Cell(status="diverged", reason="diverged at every multiplier")

        scores = run_scores(chosen, rule)
        multiplier = float(chosen["multiplier"].iloc[0])
        if scores["diverged"].any():
            # Only a cell measured without selection (a single multiplier) gets here,
            # because the selection never picks a multiplier with a diverged seed.
            reason = (
                f"{int(scores['diverged'].sum())} of {len(scores)} seeds diverged at "
                f"{format_multiplier(multiplier)}"
            )
            return _Cell(status="diverged", reason=reason, multiplier=multiplier)
        return _Cell(
            status="ok",
            multiplier=multiplier,
            stepsize=float(chosen["stepsize"].iloc[0]),
            final=float(scores["score"].mean(skipna=False)),
            curve=seed_curve(chosen, claim.x, claim.metric),
        )


def _first_reach(curve: pd.DataFrame, level: float) -> float:
    """Return the x of the first point of ``curve`` at or below ``level``, NaN if none."""
    reached = np.flatnonzero(curve["mean"].to_numpy(dtype=np.float64) <= level)
    return float(curve["x"].iloc[reached[0]]) if reached.size else math.nan


def _fluctuation(curve: pd.DataFrame) -> float:
    """Return the total rise of log10 of the curve, in decades, over its positive points."""
    values = curve["mean"].to_numpy(dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size < 2:
        return math.nan
    return float(np.clip(np.diff(np.log10(values)), 0.0, None).sum())


def _relative_spread(curve: pd.DataFrame, last_fraction: float) -> float:
    """Return the mean of std/mean over the seeds in the last ``last_fraction`` of iterations."""
    iterations = curve.index.to_numpy(dtype=np.float64)
    start = iterations.max() - last_fraction * (iterations.max() - iterations.min())
    window = curve[iterations >= start]
    ratio = window["std"].to_numpy(dtype=np.float64) / window["mean"].to_numpy(dtype=np.float64)
    ratio = ratio[np.isfinite(ratio)]
    return float(ratio.mean()) if ratio.size else math.nan


def _measure_text(claim: Claim, last_fraction: float) -> str:
    metric = _METRIC_TEXT[claim.metric]
    percent = f"{100 * last_fraction:g}%"
    final = f"final {metric} (mean over the last {percent} of iterations and over seeds)"
    if claim.test == "lower_final":
        return f"{final}; lower is better"
    if claim.test == "faster":
        return (
            f"{_X_TEXT[claim.x]} to first reach eps = the larger of the two final values, {final}; fewer is "
            "better, and on a tie the lower final value wins"
        )
    if claim.test == "steadier":
        return (
            f"fluctuation: total rise of log10 {metric} along the run, in decades; lower "
            "is better"
        )
    if claim.test == "spread":
        return (
            f"std/mean of {metric} over seeds, averaged over the last {percent} of "
            "iterations; lower is better"
        )
    if claim.test == "pronounced":
        attacks = ", ".join(_ATTACK_TEXT.get(a, a) for a in claim.attacks)
        versus = ", ".join(_ATTACK_TEXT.get(a, a) for a in claim.versus_attacks)
        return (
            f"improvement factor ({claim.reference} {final} / method's), geometric mean over "
            f"{attacks} (method_value) against over {versus} (reference_value); higher "
            f"under {attacks} is the claim"
        )
    return "selected stepsize gamma (multiplier × theoretical gamma); larger is the claim"


def _compare_pair(
    claim: Claim, ours: _Cell, theirs: _Cell, last_fraction: float
) -> tuple[float, float, str, str]:
    """Return (method value, reference value, verdict, detail) for one panel."""
    if ours.status == "missing" or theirs.status == "missing":
        return math.nan, math.nan, "not run", "method or reference missing from the store"
    if ours.status == "diverged" and theirs.status == "diverged":
        return math.nan, math.nan, "no", f"method {ours.reason}; reference {theirs.reason}"
    if ours.status == "diverged":
        return math.nan, math.nan, "no", f"method {ours.reason}"
    if theirs.status == "diverged":
        return math.nan, math.nan, "yes", f"reference {theirs.reason}, the method did not"

    if claim.test == "lower_final":
        values = ours.final, theirs.final
        detail = ""
    elif claim.test == "faster":
        level = max(ours.final, theirs.final)
        values = _first_reach(ours.curve, level), _first_reach(theirs.curve, level)
        detail = f"eps = {level:.3g}"
        if values[0] == values[1]:
            detail += "; both reach eps at the same point, so the lower final value decides"
            reproduced = ours.final < theirs.final
            return values[0], values[1], "yes" if reproduced else "no", detail
    elif claim.test == "steadier":
        values = _fluctuation(ours.curve), _fluctuation(theirs.curve)
        detail = ""
    elif claim.test == "spread":
        values = (
            _relative_spread(ours.curve, last_fraction),
            _relative_spread(theirs.curve, last_fraction),
        )
        detail = ""
    else:  # larger_stepsize
        values = ours.stepsize, theirs.stepsize
        detail = ""

    if not all(np.isfinite(values)):
        detail = f"{detail}; a value is undefined" if detail else "a value is undefined"
        return values[0], values[1], "no", detail
    if claim.test == "larger_stepsize":
        reproduced = values[0] > values[1]
    else:
        reproduced = values[0] < values[1]
    return values[0], values[1], "yes" if reproduced else "no", detail


def _improvement_factor(claim: Claim, measurer: _Measurer, method: str, attacks, aggregator: str):
    """Return the geometric mean of reference final / method final over ``attacks``.

    Returns (factor, None) or (NaN, reason) when a panel is missing or diverged.
    """
    logs = []
    for attack in attacks:
        ours = measurer.cell(claim, method, attack, aggregator)
        theirs = measurer.cell(claim, claim.reference, attack, aggregator)
        if "missing" in (ours.status, theirs.status):
            return math.nan, "not run"
        if "diverged" in (ours.status, theirs.status):
            reason = ours.reason or theirs.reason
            return math.nan, f"under {_ATTACK_TEXT.get(attack, attack)}, a method {reason}"
        ratio = theirs.final / ours.final
        if not (np.isfinite(ratio) and ratio > 0):
            attack_text = _ATTACK_TEXT.get(attack, attack)
            return math.nan, f"final value under {attack_text} is zero or undefined"
        logs.append(math.log(ratio))
    return math.exp(sum(logs) / len(logs)), None


def _aggregators_of(claim: Claim, frame: pd.DataFrame) -> list[str]:
    if claim.aggregators is not None:
        return list(claim.aggregators)
    rows = _filter(frame, experiment=claim.experiment, dataset=claim.dataset)
    present = sorted(rows["aggregator"].unique().tolist())
    return present or [""]


def _claim_rows(
    claim: Claim, frame: pd.DataFrame, measurer: _Measurer, last_fraction: float
) -> list[dict]:
    experiment_present = not _filter(
        frame, experiment=claim.experiment, dataset=claim.dataset
    ).empty
    base = {
        "claim_id": claim.claim_id,
        "figure": claim.figure,
        "source": claim.source,
        "claim": claim.text,
        "experiment": claim.experiment,
        "dataset": claim.dataset,
        "measure": _measure_text(claim, last_fraction),
        "reference": claim.reference,
    }
    rows = []
    for aggregator in _aggregators_of(claim, frame):
        if claim.test == "pronounced":
            panels = [
                ", ".join(_ATTACK_TEXT.get(a, a) for a in claim.attacks)
                + " vs "
                + ", ".join(_ATTACK_TEXT.get(a, a) for a in claim.versus_attacks)
            ]
        else:
            panels = list(claim.attacks)
        for panel in panels:
            for method in claim.methods:
                row = {
                    **base,
                    "attack": panel,
                    "aggregator": aggregator,
                    "method": method,
                    "method_multiplier": "",
                    "method_value": math.nan,
                    "reference_multiplier": "",
                    "reference_value": math.nan,
                }
                if not experiment_present:
                    row.update(reproduced="not run", detail="experiment not in the result store")
                elif claim.test == "pronounced":
                    row.update(_pronounced(claim, measurer, method, aggregator))
                else:
                    ours = measurer.cell(claim, method, panel, aggregator)
                    theirs = measurer.cell(claim, claim.reference, panel, aggregator)
                    value, reference_value, verdict, detail = _compare_pair(
                        claim, ours, theirs, last_fraction
                    )
                    row.update(
                        method_multiplier=_multiplier_text(ours),
                        reference_multiplier=_multiplier_text(theirs),
                        method_value=value,
                        reference_value=reference_value,
                        reproduced=verdict,
                        detail=detail,
                    )
                rows.append(row)
    return rows


def _multiplier_text(cell: _Cell) -> str:
    if cell.status == "missing":
        return ""
    if cell.status == "diverged" and not np.isfinite(cell.multiplier):
        return "none"
    return format_multiplier(cell.multiplier)


def _pronounced(claim: Claim, measurer: _Measurer, method: str, aggregator: str) -> dict:
    strong, strong_reason = _improvement_factor(claim, measurer, method, claim.attacks, aggregator)
    weak, weak_reason = _improvement_factor(claim, measurer, method, claim.versus_attacks, aggregator)
    reason = strong_reason or weak_reason
    if reason == "not run":
        verdict, detail = "not run", "an attack's panel is missing from the store"
    elif reason:
        verdict, detail = "no", reason
    else:
        verdict, detail = ("yes" if strong > weak else "no"), ""
    return {"method_value": strong, "reference_value": weak, "reproduced": verdict, "detail": detail}


def check_claims(
    frame: pd.DataFrame,
    selection_frames=None,
    claims: Sequence[Claim] | None = None,
    *,
    last_fraction: float = FINAL_FRACTION,
) -> pd.DataFrame:
    """Measure every claim on the result store and return one row per panel and method.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table of the store (all experiments), as :func:`byzsim.store.load`
        returns it.
    selection_frames : DataFrame, mapping or sequence of DataFrames, or None
        Stepsize selections (:func:`byzsim.selection.select_stepsizes`), e.g. one per
        experiment. A cell without a selection row is measured at its only multiplier,
        or, with several multipliers, selected on the fly by the claim's metric (mean
        over the last ``last_fraction``), and an info message is logged.
    claims : sequence of Claim or None
        The claims to check. None means :data:`PAPER_CLAIMS`.
    last_fraction : float
        Share of the last recorded iterations that final values average over.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CLAIM_COLUMNS`. ``reproduced`` is ``yes``, ``no`` or
        ``not run``, and ``detail`` explains a verdict that is not a plain comparison.

    Raises
    ------
    ValueError
        When ``frame`` lacks a store column or ``last_fraction`` is not in (0, 1].
    """
    if not 0.0 < last_fraction <= 1.0:
        raise ValueError(f"invalid last_fraction {last_fraction!r}; use a number in (0, 1]")
    needed = list(CELL_KEYS) + ["multiplier", "seed", "iteration", "diverged", "stepsize"]
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise ValueError(f"the result frame lacks column(s) {missing}; pass the store's long table")
    claims = PAPER_CLAIMS if claims is None else list(claims)
    frame = normalize_identity(frame)
    measurer = _Measurer(frame, _concat_selections(selection_frames), last_fraction)

    rows = []
    for claim in claims:
        rows.extend(_claim_rows(claim, frame, measurer, last_fraction))
    result = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    result["figure"] = result["figure"].astype("int64")
    for column in ("method_value", "reference_value"):
        result[column] = result[column].astype("float64")
    counts = result["reproduced"].value_counts().to_dict()
    logger.info("checked %d claims in %d rows: %s", len(claims), len(result), counts)
    return result


def summarize_claims(result: pd.DataFrame) -> pd.DataFrame:
    """Return one row per claim with its verdict over the panels that were run.

    The verdict is ``yes`` when every measured row is ``yes``, ``no`` when none is,
    ``partly`` otherwise, and ``not run`` when no row was measured. Columns:
    claim_id, figure, claim, yes, no, not_run, verdict.
    """
    grouped = result.groupby(["claim_id"], sort=False)
    summary = grouped.agg(
        figure=("figure", "first"),
        claim=("claim", "first"),
        yes=("reproduced", lambda verdicts: int((verdicts == "yes").sum())),
        no=("reproduced", lambda verdicts: int((verdicts == "no").sum())),
        not_run=("reproduced", lambda verdicts: int((verdicts == "not run").sum())),
    ).reset_index()
    verdict = np.where(
        summary["yes"] + summary["no"] == 0,
        "not run",
        np.where(summary["no"] == 0, "yes", np.where(summary["yes"] == 0, "no", "partly")),
    )
    summary["verdict"] = verdict
    return summary


def _format_number(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        return _format_number(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(frame.columns) + " |",
        "| " + " | ".join("---" for _ in frame.columns) + " |",
    ]
    for record in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(value) for value in record) + " |")
    return "\n".join(lines)


def claims_markdown(result: pd.DataFrame) -> str:
    """Return the Markdown report: the verdict per claim, then every measured row."""
    summary = summarize_claims(result)
    detail_columns = [
        "claim_id",
        "attack",
        "aggregator",
        "method",
        "method_multiplier",
        "method_value",
        "reference",
        "reference_multiplier",
        "reference_value",
        "reproduced",
        "detail",
    ]
    measures = result.drop_duplicates("claim_id")[["claim_id", "source", "measure"]]
    parts = [
        "# Claims of Rammal et al. (2024) checked against the result store",
        "",
        "Each row of the first table is one comparison stated in Section 4 or Appendix H "
        "of the paper. Every method is measured at its selected stepsize multiplier. "
        "`yes` counts the panels (attack, aggregator) and methods where our numbers "
        "reproduce the statement, `no` those where they do not, and `not run` those "
        "missing from the store.",
        "",
        _markdown_table(summary),
        "",
        "## What each claim measures",
        "",
        _markdown_table(measures),
        "",
        "## Numbers per panel",
        "",
        _markdown_table(result[detail_columns]),
        "",
    ]
    return "\n".join(parts)


def write_claims(result: pd.DataFrame, out_stem: str | os.PathLike[str] = "results/claims") -> list[Path]:
    """Write ``<out_stem>.md`` and ``<out_stem>.csv`` atomically and return both paths.

    Parent folders are created. Each file goes to a temporary file in its folder that
    then replaces the target, so a reader never sees a half-written report.

    Raises
    ------
    ValueError
        When ``result`` lacks a column of :data:`CLAIM_COLUMNS`.
    """
    missing = [column for column in CLAIM_COLUMNS if column not in result.columns]
    if missing:
        raise ValueError(f"the claims table lacks column(s) {missing}; pass the output of check_claims")
    stem = Path(out_stem)
    markdown_path = stem.with_name(f"{stem.name}.md")
    csv_path = stem.with_name(f"{stem.name}.csv")
    atomic_write_text(markdown_path, claims_markdown(result))
    atomic_write_text(csv_path, result.loc[:, list(CLAIM_COLUMNS)].to_csv(index=False))
    return [markdown_path, csv_path]
