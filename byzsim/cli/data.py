"""Subcommand ``byzsim data``: download the LibSVM datasets and write the dataset table."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml

from byzsim import data
from byzsim.tables import write_table

logger = logging.getLogger(__name__)

TABLE_CAPTION = (
    "LibSVM datasets used in the experiments (Rammal et al., 2024, Table 2): number of "
    "samples N, number of features d and the label balance."
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``byzsim data fetch`` and ``byzsim data table`` and return the parser."""
    parser = subparsers.add_parser(
        "data",
        help="download the LibSVM datasets and write the dataset table",
        description="Download the LibSVM datasets and write the dataset table (Table 2).",
    )
    actions = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    fetch = actions.add_parser(
        "fetch",
        help="download datasets into a folder",
        description=(
            "Download LibSVM datasets and check their number of rows and features. A file "
            "that is already present and valid is not downloaded again."
        ),
    )
    fetch.add_argument("names", nargs="+", metavar="NAME", help="dataset name, for example phishing or w8a")
    fetch.add_argument("--dest", default=None, help="folder for the downloaded files (default: data)")
    _add_source_options(fetch)
    fetch.add_argument(
        "--timeout", type=float, default=30.0,
        help="seconds to wait for the connection and for each read (default: 30)",
    )
    fetch.add_argument(
        "--retries", type=int, default=3,
        help="further attempts after a failed download (default: 3)",
    )
    fetch.set_defaults(func=run_fetch)

    table = actions.add_parser(
        "table",
        help="write the dataset table as CSV, Markdown and LaTeX",
        description=(
            "Load the datasets (downloading them if needed) and write the number of samples, "
            "features and the label balance of each to OUT.csv, OUT.md and OUT.tex."
        ),
    )
    table.add_argument(
        "names", nargs="*", metavar="NAME",
        help="datasets in row order (default: every dataset of the registry)",
    )
    table.add_argument("--data-dir", default=None, help="folder of the dataset files (default: data)")
    table.add_argument(
        "--out", default="results/tables/table2_datasets",
        help="output path without suffix (default: results/tables/table2_datasets)",
    )
    _add_source_options(table)
    table.set_defaults(func=run_table)
    return parser


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mirror", default=None, metavar="URL_OR_DIR",
        help=(
            f"http(s) URL, file:// URL or folder to download from in place of the LibSVM "
            f"site (default: data.mirror of --config, then ${data.MIRROR_ENV})"
        ),
    )
    parser.add_argument(
        "--config", default=None, metavar="FILE",
        help=(
            "workflow configuration (config/config.yaml) whose datasets section is the "
            "dataset registry and whose data.dir and data.mirror are the defaults of the "
            "folder and mirror options"
        ),
    )


def read_data_config(path: str | None) -> tuple[dict | None, dict]:
    """Return the dataset registry and the data section of a workflow configuration."""
    if path is None:
        return None, {}
    with open(path, encoding="utf-8") as stream:
        config = yaml.safe_load(stream) or {}
    if not isinstance(config, dict):
        raise ValueError(f"invalid configuration {path}: expected a YAML mapping at the top level")
    data_section = config.get("data") or {}
    if not isinstance(data_section, dict):
        raise ValueError(f"invalid data section in {path}: expected a mapping with the keys dir and mirror")
    return config.get("datasets"), data_section


def run_fetch(args: argparse.Namespace) -> int:
    """Download each named dataset and log where it is stored."""
    registry, data_section = read_data_config(args.config)
    dest = args.dest or data_section.get("dir") or "data"
    mirror = args.mirror or data_section.get("mirror")
    for name in args.names:
        path = data.fetch_dataset(
            name, dest, mirror=mirror, registry=registry, timeout=args.timeout, retries=args.retries,
        )
        logger.info("%s is ready at %s", name, path)
    return 0


def run_table(args: argparse.Namespace) -> int:
    """Write the dataset table to ``args.out`` with the suffixes .csv, .md and .tex."""
    registry, data_section = read_data_config(args.config)
    data_dir = args.data_dir or data_section.get("dir") or "data"
    mirror = args.mirror or data_section.get("mirror")
    frame = data.dataset_table(args.names or None, data_dir=data_dir, mirror=mirror, registry=registry)
    for path in write_table(frame, Path(args.out), caption=TABLE_CAPTION):
        logger.info("wrote %s", path)
    return 0
