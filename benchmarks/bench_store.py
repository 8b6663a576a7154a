"""Time writing and loading the result store: by default 1,000 runs of 1,000 rows each.

Each run is one job file with one seed, written with ``byzsim.store.write_run`` into a
temporary folder that is removed at the end. The goal is a full ``load`` under 2 s.

Usage: ``python benchmarks/bench_store.py [--runs N] [--rows N]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from byzsim import store

LOAD_GOAL_S = 2.0
DATASETS = ("phishing", "w8a")
METHODS = ("byz-vr-marina", "byz-vr-marina-2", "byz-dasha-page", "byz-ef21", "byz-ef21-bc")
ATTACKS = ("bf", "lf", "ipm", "alie", "none")
AGGREGATORS = ("cm", "gm", "krum", "mean")


def identities(runs: int) -> list[dict]:
    """Return ``runs`` distinct job identities; each pass over the cells doubles the multiplier."""
    cells = list(itertools.product(DATASETS, METHODS, ATTACKS, AGGREGATORS))
    result = []
    for index in range(runs):
        dataset, method, attack, aggregator = cells[index % len(cells)]
        result.append({
            "experiment": "benchmark", "dataset": dataset, "method": method, "attack": attack,
            "aggregator": aggregator, "multiplier": 2.0 ** (index // len(cells) - 2),
        })
    return result


def trajectory(identity: dict, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Build one run's trajectory table with ``rows`` records."""
    iteration = np.arange(rows, dtype=np.int64) * 10
    frame = pd.DataFrame({
        **identity, "setting": "heterogeneous", "problem": "logistic-nonconvex",
        "bucket_size": 2, "compressor": "randk(K=6)", "stepsize": 0.01 * identity["multiplier"],
        "seed": 0, "iteration": iteration, "bits_up": iteration * 384, "bits_down": iteration * 4096,
        "grad_norm_sq": rng.random(rows), "optimality_gap": rng.random(rows),
        "estimator_norm_sq": rng.random(rows), "diverged": False,
    }, index=pd.RangeIndex(rows))
    return frame[list(store.SCHEMA.names)]


def timed(repeats: int, function, *args, **kwargs):
    """Call ``function`` ``repeats`` times; return its result, the minimum wall and CPU seconds.

    CPU seconds are the process time of all threads. On a shared machine the minimum wall
    time is the least disturbed measurement.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        result = function(*args, **kwargs)
        walls.append(time.perf_counter() - wall_start)
        cpus.append(time.process_time() - cpu_start)
    return result, min(walls), min(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="number of job files (default 1000)")
    parser.add_argument("--rows", type=int, default=1000, help="rows per file (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each read (default 3)")
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()}, pyarrow {pa.__version__}, pandas {pd.__version__}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}, load average {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(0)
    jobs = identities(args.runs)
    with tempfile.TemporaryDirectory(prefix="bench_store_") as folder:
        root = Path(folder) / "runs"
        frames = [trajectory(identity, args.rows, rng) for identity in jobs]

        def write_all() -> None:
            for identity, frame in zip(jobs, frames):
                store.write_run(store.run_path(root, identity), frame, {"benchmark": identity}, 0.0)

        results = [("write_run, all files", *timed(1, write_all)[1:], args.runs * args.rows)]
        size_mb = sum(path.stat().st_size for path in root.rglob("run.parquet")) / 1e6
        reads = [
            ("load, everything", store.load, {}),
            ("load, method=byz-dasha-page", store.load, {"method": "byz-dasha-page"}),
            ("load, one file by its folder keys", store.load,
             {"dataset": "w8a", "method": "byz-ef21", "attack": "alie", "aggregator": "cm",
              "multiplier": 1}),
            ("load, stepsize=0.01 (no folder key)", store.load, {"stepsize": 0.01}),
            ("summary, everything", store.summary, {}),
            ("list_files", store.list_files, {}),
        ]
        for label, function, filters in reads:
            frame, wall_s, cpu_s = timed(args.repeats, function, root, **filters)
            results.append((label, wall_s, cpu_s, len(frame)))
        full_load_s = results[1][1]

    print(f"{args.runs} files x {args.rows} rows, {size_mb:.1f} MB on disk; "
          f"reads: minimum of {args.repeats} repeats")
    print(f"{'operation':<36} {'wall s':>8} {'CPU s':>8} {'rows':>9}")
    for label, wall_s, cpu_s, count in results:
        print(f"{label:<36} {wall_s:8.3f} {cpu_s:8.3f} {count:>9}")
    verdict = "met" if full_load_s < LOAD_GOAL_S else "MISSED"
    print(f"goal: full load under {LOAD_GOAL_S:.0f} s wall: {verdict}")
    return 0 if full_load_s < LOAD_GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
