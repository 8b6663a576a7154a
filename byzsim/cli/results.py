"""``byzsim results``: list, summarize and export the result store."""

from __future__ import annotations

import argparse
import math
import sys

import pandas as pd

from byzsim import store

# Filter options shared by the three actions, as (option, column).
_FILTER_OPTIONS = (
    ("--experiment", "experiment"),
    ("--dataset", "dataset"),
    ("--method", "method"),
    ("--attack", "attack"),
    ("--aggregator", "aggregator"),
    ("--multiplier", "multiplier"),
    ("--seed", "seed"),
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``results`` subcommand and its actions ``list``, ``summary`` and ``export``."""
    parser = subparsers.add_parser(
        "results",
        help="list, summarize or export stored simulation results",
        description="Inspect the Parquet result store written by the simulation jobs.",
    )
    actions = parser.add_subparsers(dest="results_action", required=True, metavar="ACTION")

    list_parser = actions.add_parser(
        "list", help="print one line per result file with its identity and row count",
    )
    _add_common_options(list_parser)
    list_parser.set_defaults(func=run_list)

    summary_parser = actions.add_parser(
        "summary", help="print one line per run: final and best squared gradient norm, divergence",
    )
    _add_common_options(summary_parser)
    summary_parser.set_defaults(func=run_summary)

    export_parser = actions.add_parser(
        "export", help="write the selected trajectories to one CSV or Parquet file",
    )
    export_parser.add_argument("path", help="output file; missing folders are created")
    export_parser.add_argument(
        "--format", choices=("csv", "parquet"), default=None,
        help="output format (default: from the suffix of PATH)",
    )
    _add_common_options(export_parser)
    export_parser.set_defaults(func=run_export)
    return parser


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", default=store.DEFAULT_ROOT,
        help=f"folder of the result store (default: {store.DEFAULT_ROOT})",
    )
    for option, column in _FILTER_OPTIONS:
        parser.add_argument(
            option, dest=column, action="extend", nargs="+", metavar=column.upper(),
            help=f"keep only runs with one of these {column} values (repeatable)",
        )


def _filters(args: argparse.Namespace) -> dict[str, list[str]]:
    return {
        column: getattr(args, column)
        for _, column in _FILTER_OPTIONS
        if getattr(args, column) is not None
    }


def _format_float(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}"


def _print_runs(frame: pd.DataFrame) -> None:
    """Print runs as an aligned table, after one line per identity column shared by all rows."""
    constant = [
        column for column in store.IDENTITY_COLUMNS
        if len(frame) > 1 and frame[column].astype(str).nunique() == 1
    ]
    for column in constant:
        value = frame[column].iloc[0]
        text = _format_float(value) if isinstance(value, float) else str(value)
        print(f"{column}: {text}")
    varying = frame.drop(columns=constant)
    if constant:
        print()
    print(varying.to_string(index=False, float_format=_format_float))


def run_list(args: argparse.Namespace) -> int:
    """Print one line per result file: folder values, seeds and row count."""
    files = store.list_files(args.root, **_filters(args))
    if files.empty:
        print(f"no result files in {args.root} match the filters")
        return 0
    files["seeds"] = [",".join(map(str, seeds)) for seeds in files["seeds"]]
    print(files.drop(columns="path").to_string(index=False))
    return 0


def run_summary(args: argparse.Namespace) -> int:
    """Print one line per run of the selected results."""
    runs = store.summary(args.root, **_filters(args))
    if runs.empty:
        print(f"no runs in {args.root} match the filters")
        return 0
    _print_runs(runs)
    print(f"\n{len(runs)} runs", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write the selected trajectories to ``args.path``."""
    path = store.export(args.path, fmt=args.format, root=args.root, **_filters(args))
    print(path)
    return 0
