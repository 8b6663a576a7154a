"""Send a workflow script's log records to its rule's ``log:`` file."""

from __future__ import annotations

import logging
import sys


def start_logging(snakemake) -> logging.Logger:
    """Log INFO and above of every module to the job's log file and return the script's logger.

    Uncaught exceptions are logged with their traceback before Python prints them, so
    the log file shows why a job failed.
    """
    logging.basicConfig(
        filename=str(snakemake.log[0]),
        filemode="w",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logger = logging.getLogger(f"workflow.{snakemake.rule}")
    previous_hook = sys.excepthook

    def log_uncaught(kind, error, traceback):
        logger.error("job of rule %s failed", snakemake.rule, exc_info=(kind, error, traceback))
        previous_hook(kind, error, traceback)

    sys.excepthook = log_uncaught
    return logger
