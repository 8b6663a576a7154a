"""Command-line entry point ``byzsim``.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers its options and sets ``func`` to the
function that runs it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Subcommand modules, in the order ``byzsim --help`` lists them.
COMMANDS = ("run", "results", "data")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``byzsim`` parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="byzsim",
        description="Simulate Byzantine-robust methods with communication compression.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="log more detail (-v: debug messages)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"byzsim.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``byzsim`` command line and return its exit status."""
    # One BLAS thread, as in the workflow's jobs: the last bits of a matrix-vector product
    # depend on OpenBLAS's thread count, and a run should give the same numbers anywhere.
    # This takes effect only if NumPy is not imported yet (it is not, when run as `byzsim`).
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # Output piped into a command that stopped reading early (for example `| head`).
        sys.stdout = open(os.devnull, "w")
        return 0
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        # Bad input and failed downloads end with one readable line, not a traceback.
        logging.getLogger("byzsim").error("%s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
