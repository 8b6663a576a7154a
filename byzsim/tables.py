"""Write a table as CSV, Markdown and LaTeX side by side.

Every table of the paper that byzsim regenerates (``results/tables/table*``) goes
through :func:`write_table`, so the three formats always hold the same numbers.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

import pandas as pd

from byzsim._io import atomic_write_text

FORMATS = ("csv", "md", "tex")

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
    "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def format_cell(value: object) -> str:
    """Format one cell for the Markdown and LaTeX renderings.

    Floats keep 4 significant digits (``0.0003912`` -> ``3.912e-04``), so a stepsize and
    a ratio both read at a glance; missing values print as an empty cell. The CSV keeps
    full precision.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


def to_markdown(frame: pd.DataFrame) -> str:
    """Render ``frame`` as a GitHub-flavoured Markdown table (no index)."""
    header = [str(column) for column in frame.columns]
    rows = [[format_cell(value).replace("|", r"\|") for value in row]
            for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def to_latex(frame: pd.DataFrame, caption: str | None = None, label: str | None = None) -> str:
    """Render ``frame`` as a ``table`` environment with a ``tabular`` (booktabs rules)."""
    columns = [_latex_escape(str(column)) for column in frame.columns]
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(r"\caption{" + _latex_escape(caption) + "}")
    if label:
        lines.append(r"\label{" + label + "}")
    lines += [r"\begin{tabular}{" + "l" * len(columns) + "}", r"\toprule",
              " & ".join(columns) + r" \\", r"\midrule"]
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(_latex_escape(format_cell(value)) for value in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, stem: str | Path, caption: str | None = None) -> list[Path]:
    """Write ``frame`` to ``stem.csv``, ``stem.md`` and ``stem.tex``, each atomically.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index is not written.
    stem : str or Path
        Output path without suffix, for example ``results/tables/table3_stepsizes``.
    caption : str, optional
        Printed under the Markdown table and used as the LaTeX caption.

    Returns
    -------
    list of Path
        The three files written, in the order csv, md, tex.
    """
    stem = Path(stem)
    markdown = to_markdown(frame)
    if caption:
        markdown += f"\n{caption}\n"
    written = [
        atomic_write_text(stem.with_suffix(".csv"), frame.to_csv(index=False)),
        atomic_write_text(stem.with_suffix(".md"), markdown),
        atomic_write_text(stem.with_suffix(".tex"), to_latex(frame, caption, label=f"tab:{stem.name}")),
    ]
    return written
