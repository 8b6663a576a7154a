"""Figures 1-8 of Rammal et al. (2024) drawn from the result store's long table.

Two layouts cover the paper's figures:

``kind="attacks"`` (Figures 1-7)
    One panel per Byzantine attack, in the order BF, LF, IPM, ALIE (then ``none`` and
    ``mimic`` when present), each titled "<dataset>, <attack>". Each method is one
    line at its selected stepsize multiplier, labelled like "Byz-DASHA-PAGE (64x)".
    With several seeds the line is their mean.

``kind="neighborhood"`` (Figure 8)
    One panel per aggregator (mean, CM, GM, then Krum). Each method is the mean over
    the seeds with a shaded band of one sample standard deviation (ddof=1).

The y-axis is logarithmic. ``grad_norm_sq`` is ||grad f(x^t)||^2 of the true
objective f over the good workers, not the norm of the method's estimator g^t.
Values that are zero, negative or NaN cannot be drawn on a log axis and are left out
of the line (matplotlib breaks the line there). A run that diverged is drawn up to
its last recorded point, marked with an "x" there, and labelled "(diverged)".

Figures are built on :class:`matplotlib.figure.Figure` without pyplot, so drawing
needs no display and leaves pyplot's global state alone. Colours, line styles and
markers are fixed per method for every figure. Colours come from the Okabe-Ito
palette, which stays distinguishable under the common colour-vision deficiencies.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import EngFormatter, MaxNLocator

from byzsim._io import atomic_path
from byzsim.selection import (
    CELL_KEYS,
    format_multiplier,
    normalize_identity,
    seed_curve,
    select_runs,
)

logger = logging.getLogger(__name__)

METHOD_LABELS: dict[str, str] = {
    "byz-vr-marina": "Byz-VR-MARINA",
    "byz-vr-marina-2": "Byz-VR-MARINA 2.0",
    "byz-dasha-page": "Byz-DASHA-PAGE",
    "byz-ef21": "Byz-EF21",
    "byz-ef21-bc": "Byz-EF21-BC",
}
ATTACK_LABELS: dict[str, str] = {
    "bf": "BF",
    "lf": "LF",
    "ipm": "IPM",
    "alie": "ALIE",
    "none": "no attack",
    "mimic": "mimic",
}
AGGREGATOR_LABELS: dict[str, str] = {"mean": "Mean", "cm": "CM", "gm": "GM", "krum": "Krum"}

# The eight colours of the Okabe-Ito palette.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "black": "#000000",
}

#: Fixed colour, line style and marker of each method, shared by all figures.
METHOD_STYLES: dict[str, dict[str, object]] = {
    "byz-vr-marina": {"color": OKABE_ITO["vermillion"], "linestyle": "--", "marker": "o"},
    "byz-vr-marina-2": {"color": OKABE_ITO["blue"], "linestyle": "-.", "marker": "s"},
    "byz-dasha-page": {"color": OKABE_ITO["bluish green"], "linestyle": "-", "marker": "^"},
    "byz-ef21": {"color": OKABE_ITO["reddish purple"], "linestyle": ":", "marker": "D"},
    "byz-ef21-bc": {"color": OKABE_ITO["orange"], "linestyle": (0, (5, 1, 1, 1)), "marker": "v"},
}
# Methods outside METHOD_STYLES (a user's own) take these in sorted name order.
_FALLBACK_STYLES: tuple[dict[str, object], ...] = (
    {"color": OKABE_ITO["sky blue"], "linestyle": (0, (1, 1)), "marker": "P"},
    {"color": OKABE_ITO["black"], "linestyle": (0, (3, 1, 1, 1, 1, 1)), "marker": "*"},
)

KINDS: tuple[str, ...] = ("attacks", "neighborhood")
X_AXES: dict[str, str] = {
    "iteration": "iterations",
    "bits_up": "bits sent per worker",
}
Y_AXES: dict[str, str] = {
    "grad_norm_sq": r"$\|\nabla f(x^t)\|^2$",
    "optimality_gap": r"$f(x^t) - f^*$",
}
_Y_NORMALIZED: dict[str, str] = {
    "grad_norm_sq": r"$\|\nabla f(x^t)\|^2 / \|\nabla f(x^0)\|^2$",
    "optimality_gap": r"$(f(x^t) - f^*) / (f(x^0) - f^*)$",
}
# Plain-text descriptions of the y-axis for captions and the figure's note.
_Y_TEXT: dict[str, str] = {
    "grad_norm_sq": (
        "‖∇f(x^t)‖², the squared norm of the gradient of the true objective f "
        "(the average of the good workers' functions) at the iterate x^t, not the "
        "norm of the method's gradient estimator g^t"
    ),
    "optimality_gap": "f(x^t) − f*, the optimality gap of the true objective f over the good workers",
}
_Y_NOTE: dict[str, str] = {
    "grad_norm_sq": r"y: $\|\nabla f(x^t)\|^2$ of the true objective $f$ over the good workers, "
    r"not the estimator $g^t$",
    "optimality_gap": r"y: $f(x^t) - f^*$ of the true objective $f$ over the good workers",
}

#: Figure width in inches, about the text width of a two-column conference page.
FIGURE_WIDTH = 7.0
#: Figure height in inches without the legend strip, which adds 0.16 in per legend line.
FIGURE_HEIGHT = 2.6
PNG_DPI = 150
# Font sizes in points: at least 8 pt once the figure is printed at FIGURE_WIDTH.
_RC = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 9,
}
_PANEL_ORDER: dict[str, tuple[str, ...]] = {
    "attacks": ("bf", "lf", "ipm", "alie", "none", "mimic"),
    "neighborhood": ("mean", "cm", "gm", "krum"),
}
_PANEL_COLUMN = {"attacks": "attack", "neighborhood": "aggregator"}
_PANEL_LABELS = {"attacks": ATTACK_LABELS, "neighborhood": AGGREGATOR_LABELS}


def method_label(method: str) -> str:
    """Return the display label of a method name, or the name itself if unknown."""
    return METHOD_LABELS.get(method, method)


def method_style(method: str, others: tuple[str, ...] = ()) -> dict[str, object]:
    """Return the colour, line style and marker of ``method``.

    Known methods always get the same style. An unknown method gets a fallback style
    by its position in ``others``, the sorted unknown method names of the figure.
    """
    if method in METHOD_STYLES:
        return dict(METHOD_STYLES[method])
    position = others.index(method) if method in others else 0
    return dict(_FALLBACK_STYLES[position % len(_FALLBACK_STYLES)])


# Maximum characters of a one-line legend label that fits a 1.75 in slot at 8 pt.
_MAX_LABEL_CHARS = len("Byz-VR-MARINA 2.0 (64x)")


def _curve_label(method: str, multiplier: float) -> str:
    """Return the legend label "<method> (<multiplier>x)", on two lines if too long."""
    name = method_label(method)
    stepsize = format_multiplier(multiplier)
    if len(name) + len(stepsize) + 3 > _MAX_LABEL_CHARS:
        return f"{name}\n({stepsize})"
    return f"{name} ({stepsize})"


def _check_choice(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"invalid {name} {value!r}; use one of {list(allowed)}")


def _single_value(frame: pd.DataFrame, column: str, requested: str | None, fix: str) -> str:
    present = sorted(frame[column].unique().tolist())
    if requested is not None:
        if requested not in present:
            raise ValueError(f"{column} {requested!r} is not in the result frame; present: {present}")
        return requested
    if len(present) != 1:
        raise ValueError(f"the result frame contains several {column} values {present}; {fix}")
    return present[0]


def _chosen_runs(frame: pd.DataFrame, selection: pd.DataFrame | None) -> pd.DataFrame:
    """Return the rows of the multiplier to draw for every cell of ``frame``.

    Without a selection every cell must have one multiplier. A cell whose candidates
    all diverged has no selected multiplier, so its smallest multiplier is drawn, and
    its line shows the divergence. A selected multiplier missing from ``frame``
    raises ValueError.
    """
    cell_keys = list(CELL_KEYS)
    if selection is None:
        counts = frame.groupby(cell_keys)["multiplier"].nunique()
        ambiguous = counts[counts > 1]
        if not ambiguous.empty:
            cell = dict(zip(cell_keys, ambiguous.index[0]))
            raise ValueError(
                f"cell {cell} has {int(ambiguous.iloc[0])} multipliers and no selection was "
                "given; pass the output of byzsim.selection.select_stepsizes"
            )
        return frame

    selection = normalize_identity(selection)
    chosen = select_runs(frame, selection)
    drawn = chosen[cell_keys].drop_duplicates()
    missing = frame[cell_keys].drop_duplicates().merge(drawn, how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"].drop(columns="_merge")
    pieces = [chosen]
    for cell in missing.itertuples(index=False):
        cell_dict = dict(zip(cell_keys, cell))
        in_selection = selection
        for key, value in cell_dict.items():
            in_selection = in_selection[in_selection[key] == value]
        if in_selection.empty:
            raise ValueError(
                f"the selection has no row for cell {cell_dict}; compute it with "
                "byzsim.selection.select_stepsizes on the same frame"
            )
        if in_selection["selected"].astype(bool).any():
            selected = in_selection.loc[in_selection["selected"].astype(bool), "multiplier"]
            raise ValueError(
                f"the selected multiplier {selected.iloc[0]:g} of cell {cell_dict} has no rows "
                "in the result frame; load all runs of the experiment"
            )
        rows = frame
        for key, value in cell_dict.items():
            rows = rows[rows[key] == value]
        smallest = rows["multiplier"].min()
        logger.warning(
            "no selected multiplier for %s (every candidate diverged or has no finite "
            "score); drawing the smallest multiplier, %g",
            cell_dict,
            smallest,
        )
        pieces.append(rows[rows["multiplier"] == smallest])
    return pd.concat(pieces, ignore_index=True)


def _log_safe(values: np.ndarray) -> np.ndarray:
    """Replace values that a log axis cannot show (<= 0, NaN, inf) with NaN."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def _normalizer(mean: np.ndarray, curve_name: str) -> float:
    """Return the first finite positive value of a curve, by which it is divided."""
    drawable = np.flatnonzero(np.isfinite(mean) & (mean > 0))
    if drawable.size == 0:
        return np.nan
    if drawable[0] != 0:
        logger.warning(
            "%s: the initial value %r cannot be a divisor; dividing by the first positive "
            "value, at row %d",
            curve_name,
            mean[0],
            drawable[0],
        )
    return float(mean[drawable[0]])


def _draw_curve(
    ax: Axes,
    curve: pd.DataFrame,
    *,
    label: str,
    style: Mapping[str, object],
    diverged: bool,
    band: bool,
    scale: float,
) -> tuple[np.ndarray, tuple | None]:
    """Draw one method's line and return the drawn y values and its band, if any.

    The band is (x, lower, upper, colour). It is filled later by :func:`_fill_bands`,
    once the panel's lower limit is known.
    """
    x_values = curve["x"].to_numpy(dtype=np.float64)
    mean = curve["mean"].to_numpy(dtype=np.float64) / scale
    y_values = _log_safe(mean)
    if diverged:
        # A second line keeps the legend as narrow as the panel.
        label = f"{label}\n(diverged)"
    n_markers = 8
    ax.plot(
        x_values,
        y_values,
        label=label,
        color=style["color"],
        linestyle=style["linestyle"],
        marker=style["marker"],
        markersize=3.5,
        markevery=max(1, len(x_values) // n_markers),
        linewidth=1.3,
    )
    band_edges = None
    if band:
        # A single seed has no standard deviation, so its band has zero width.
        std = np.nan_to_num(curve["std"].to_numpy(dtype=np.float64) / scale, nan=0.0)
        band_edges = (x_values, mean - std, _log_safe(mean + std), style["color"])
    if diverged:
        drawn = np.flatnonzero(np.isfinite(y_values))
        if drawn.size:
            last = drawn[-1]
            ax.plot(
                [x_values[last]],
                [y_values[last]],
                linestyle="none",
                marker="x",
                markersize=8,
                markeredgewidth=1.6,
                color=style["color"],
                label="_diverged",
            )
    return y_values, band_edges


def _fill_bands(ax: Axes, bands: list[tuple], drawn_minimum: float) -> None:
    """Fill the standard-deviation bands, clipping each lower edge at the panel's bottom.

    Where mean - std <= 0 the band reaches below any log axis, so its lower edge is
    drawn at the bottom of the panel instead of being dropped.
    """
    if not bands or not np.isfinite(drawn_minimum):
        return
    bottom = drawn_minimum / 2.0
    ax.set_ylim(bottom=bottom)
    for x_values, lower, upper, color in bands:
        lower = np.where(np.isfinite(lower) & (lower > bottom), lower, bottom)
        ax.fill_between(x_values, lower, upper, color=color, alpha=0.2, linewidth=0, label="_band")


def draw_figure(
    frame: pd.DataFrame,
    selection: pd.DataFrame | None,
    *,
    kind: str = "attacks",
    x: str = "bits_up",
    y: str = "grad_norm_sq",
    dataset: str | None = None,
    title: str | None = None,
    normalize: bool = False,
) -> Figure:
    """Draw one figure of the paper from the long table of one experiment.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table in the store schema for one experiment and one aggregator
        (``kind="attacks"``) or one attack (``kind="neighborhood"``). It may hold all
        candidate multipliers of the stepsize search.
    selection : pandas.DataFrame or None
        Output of :func:`byzsim.selection.select_stepsizes`. Each (method, panel) is
        drawn at its selected multiplier. A cell whose candidates all diverged is
        drawn at its smallest multiplier, marked as diverged. None is allowed when
        every cell of ``frame`` has a single multiplier (Figure 8 uses 10x only).
    kind : {"attacks", "neighborhood"}
        One panel per attack (Figures 1-7) or per aggregator with a band of one
        standard deviation over the seeds (Figure 8).
    x : {"iteration", "bits_up"}
        The x-axis: iterations, or uplink bits sent per worker so far.
    y : {"grad_norm_sq", "optimality_gap"}
        The y-axis, on a log scale.
    dataset : str or None
        The dataset to draw; None when the frame contains only one.
    title : str or None
        The figure's title, drawn above the y-axis note.
    normalize : bool
        Divide each curve (and its band) by its initial value, as the authors'
        published plots do. A curve whose initial value is not positive is divided by
        its first positive value, and a warning is logged.

    Returns
    -------
    matplotlib.figure.Figure
        A figure of width :data:`FIGURE_WIDTH` inches with one axes per panel.

    Raises
    ------
    ValueError
        On an invalid ``kind``, ``x`` or ``y``, a missing column, an empty frame, a
        dataset not in the frame, several datasets, experiments, aggregators
        (``attacks``) or attacks (``neighborhood``) in the frame, or a cell that has
        several multipliers but no selection.
    """
    _check_choice("kind", kind, KINDS)
    _check_choice("x", x, tuple(X_AXES))
    _check_choice("y", y, tuple(Y_AXES))
    needed = list(CELL_KEYS) + ["multiplier", "seed", "iteration", "diverged", x, y]
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise ValueError(f"the result frame lacks column(s) {missing} needed for the figure")
    if frame.empty:
        raise ValueError("the result frame is empty; run the experiment's simulations first")

    frame = normalize_identity(frame)
    dataset = _single_value(frame, "dataset", dataset, "pass dataset=...")
    frame = frame[frame["dataset"] == dataset]
    _single_value(frame, "experiment", None, "filter the frame to one experiment")
    panel_column = _PANEL_COLUMN[kind]
    other_column = "aggregator" if kind == "attacks" else "attack"
    _single_value(frame, other_column, None, f"filter the frame to one {other_column}")

    runs = _chosen_runs(frame, selection)
    known_order = _PANEL_ORDER[kind]
    present = runs[panel_column].unique().tolist()
    panels = [value for value in known_order if value in present] + sorted(
        value for value in present if value not in known_order
    )
    methods = [method for method in METHOD_LABELS if method in runs["method"].unique()]
    others = tuple(sorted(set(runs["method"].unique()) - set(METHOD_LABELS)))
    methods += list(others)

    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(FIGURE_WIDTH, FIGURE_HEIGHT))
        axes = figure.subplots(1, len(panels), squeeze=False)[0]
        for ax, panel in zip(axes, panels):
            _draw_panel(
                ax,
                runs[runs[panel_column] == panel],
                methods=methods,
                others=others,
                x=x,
                y=y,
                band=kind == "neighborhood",
                normalize=normalize,
            )
            panel_label = _PANEL_LABELS[kind].get(panel, panel)
            ax.set_title(f"{dataset}, {panel_label}")
            ax.set_xlabel(X_AXES[x])
        axes[0].set_ylabel(_Y_NORMALIZED[y] if normalize else Y_AXES[y])
        note = _Y_NOTE[y] + (", divided by its initial value" if normalize else "")
        figure.suptitle(f"{title}\n{note}" if title else note)
        _place_legends(figure, axes)
    return figure


def _draw_panel(
    ax: Axes,
    runs: pd.DataFrame,
    *,
    methods: list[str],
    others: tuple[str, ...],
    x: str,
    y: str,
    band: bool,
    normalize: bool,
) -> None:
    """Draw every method's curve of one panel, then its bands, legend and scales."""
    ax.set_yscale("log")
    drawn_minimum = np.inf
    bands = []
    for method in methods:
        method_runs = runs[runs["method"] == method]
        if method_runs.empty:
            continue
        multiplier = float(method_runs["multiplier"].iloc[0])
        diverged = bool(method_runs["diverged"].fillna(False).astype(bool).any())
        curve = seed_curve(method_runs, x, y)
        label = _curve_label(method, multiplier)
        scale = 1.0
        if normalize:
            scale = _normalizer(curve["mean"].to_numpy(dtype=np.float64), label)
        y_values, band_edges = _draw_curve(
            ax,
            curve,
            label=label,
            style=method_style(method, others),
            diverged=diverged,
            band=band,
            scale=scale,
        )
        candidates = y_values
        if band_edges is not None:
            bands.append(band_edges)
            candidates = np.concatenate([y_values, _log_safe(band_edges[1])])
        if np.isfinite(candidates).any():
            drawn_minimum = min(drawn_minimum, float(np.nanmin(candidates)))

    if not np.isfinite(drawn_minimum):
        ax.text(
            0.5,
            0.5,
            "no positive values to draw",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    _fill_bands(ax, bands, drawn_minimum)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.5)
    # Explicit, because matplotlib creates tick labels at draw time, after rc_context.
    ax.tick_params(which="both", labelsize=_RC["xtick.labelsize"])
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    # SI prefixes ("300k", "1.2M") keep bit counts short and leave no offset text to
    # collide with the axis label.
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))


def _place_legends(figure: Figure, axes) -> None:
    """Put each panel's legend in a strip below the panels, sized for the longest one.

    The legends stay out of the constrained layout, which would otherwise shrink the
    panels to make room for them beside each other. Legend i starts at the left edge
    of the i-th equal slot of the figure's width, so legends never overlap or leave
    the figure. At 8 pt the longest label, "Byz-VR-MARINA 2.0 (64x)", is about 1.45 in
    wide, so with a short handle a legend fits the 1.75 in slot of a row of four.
    """
    # A legend line at 8 pt with labelspacing 0.3 is about 0.144 in high, rounded up.
    line_height = 0.16
    n_lines = max(
        sum(1 + label.count("\n") for label in ax.get_legend_handles_labels()[1]) for ax in axes
    )
    strip = line_height * n_lines + 0.08
    height = FIGURE_HEIGHT + strip
    figure.set_size_inches(FIGURE_WIDTH, height)
    bottom = strip / height
    figure.set_layout_engine(ConstrainedLayoutEngine(rect=(0.0, bottom, 1.0, 1.0 - bottom)))
    slot = 1.0 / len(axes)
    margin = 0.04 / FIGURE_WIDTH
    for index, ax in enumerate(axes):
        if not ax.get_legend_handles_labels()[1]:
            continue
        legend = ax.legend(
            loc="upper left",
            bbox_to_anchor=(index * slot + margin, bottom),
            bbox_transform=figure.transFigure,
            frameon=False,
            handlelength=1.6,
            handletextpad=0.3,
            borderaxespad=0.0,
            borderpad=0.0,
            labelspacing=0.3,
        )
        legend.set_in_layout(False)


def caption(
    frame: pd.DataFrame | None = None,
    *,
    kind: str = "attacks",
    x: str = "bits_up",
    y: str = "grad_norm_sq",
    dataset: str | None = None,
    normalize: bool = False,
    title: str | None = None,
) -> str:
    """Return the figure's caption as plain text, for example for a Snakemake report.

    The caption names the panels, the stepsize shown in the legend, both axes (the
    y-axis is the true objective over the good workers, not the estimator) and the
    diverged marker. With ``frame``, it also names the setting, the problem and the
    number of seeds found there.

    Raises
    ------
    ValueError
        On an invalid ``kind``, ``x`` or ``y``.
    """
    _check_choice("kind", kind, KINDS)
    _check_choice("x", x, tuple(X_AXES))
    _check_choice("y", y, tuple(Y_AXES))
    parts: list[str] = []
    if title:
        parts.append(title.rstrip(".") + ".")

    where = []
    n_seeds = None
    if frame is not None and not frame.empty:
        if dataset is not None and "dataset" in frame.columns:
            frame = frame[frame["dataset"].astype(str) == dataset]
        for column in ("setting", "problem"):
            if column in frame.columns:
                where.extend(sorted(frame[column].dropna().astype(str).unique().tolist()))
        if "seed" in frame.columns:
            n_seeds = int(frame["seed"].nunique())
    data_text = f" on {dataset}" if dataset else ""
    setting_text = f" ({', '.join(where)})" if where else ""

    if kind == "attacks":
        parts.append(
            f"Convergence{data_text}{setting_text}, one panel per Byzantine attack "
            "(BF: bit flipping, LF: label flipping, IPM: inner product manipulation, "
            "ALIE: a little is enough)."
        )
        parts.append(
            "Each method is drawn at its selected stepsize gamma = multiplier × its "
            "theoretical stepsize, with the multiplier in the legend (e.g. 64x)."
        )
        if n_seeds and n_seeds > 1:
            parts.append(f"Lines are means over {n_seeds} runs (seeds).")
    else:
        runs_text = f"{n_seeds} runs (seeds)" if n_seeds else "the runs (seeds)"
        parts.append(
            f"Mean over {runs_text}{data_text}{setting_text}, one panel per aggregation "
            "rule; the shaded band is one sample standard deviation over the runs."
        )
    parts.append(f"y-axis (log scale): {_Y_TEXT[y]}.")
    if normalize:
        parts.append("Each curve is divided by its initial value.")
    parts.append(f"x-axis: {X_AXES[x]}.")
    parts.append(
        "Zero, negative and undefined values are not drawn. A run that diverged ends "
        "with an x marker and is labelled (diverged)."
    )
    return " ".join(parts)


def save_figure(figure: Figure, stem: str | os.PathLike[str]) -> list[Path]:
    """Write ``figure`` as ``<stem>.pdf`` (vector) and ``<stem>.png`` and return both paths.

    Each file goes to a temporary file in the target folder that then replaces the
    target, so a reader never sees a half-written figure. The PNG has
    :data:`PNG_DPI` dots per inch. The PDF has no creation date, so a figure drawn
    again from the same data gives the same PDF bytes. Parent folders are created.
    """
    stem = Path(stem)
    written = []
    for extension, options in (
        ("pdf", {"metadata": {"CreationDate": None}}),
        ("png", {"dpi": PNG_DPI}),
    ):
        target = stem.with_name(f"{stem.name}.{extension}")
        # TrueType (Type 42) fonts in the PDF, because some submission systems reject the
        # Type 3 fonts that matplotlib embeds by default. The setting is read at save.
        with atomic_path(target) as temporary, matplotlib.rc_context({"pdf.fonttype": 42}):
            figure.savefig(temporary, format=extension, **options)
        written.append(target)
    return written
