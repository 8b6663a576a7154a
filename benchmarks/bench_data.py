"""Time parsing w8a and loading it from the cache, against scikit-learn when installed.

Usage: ``python benchmarks/bench_data.py [--mirror URL_OR_DIR] [--repeats N]``

The dataset is downloaded into a temporary folder from ``--mirror``, else from
``$BYZSIM_LIBSVM_MIRROR``, else from the LibSVM site. Goals: parsing w8a (3.4 MB,
49,749 rows, 300 features) into dense arrays in under 2 s, and loading it from the
``.npz`` cache in under 0.2 s. Each time printed is the median of ``--repeats`` runs in
one process, with the best run beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from byzsim.data import load_dataset, load_libsvm, validate_registry

PARSE_GOAL_SECONDS = 2.0
CACHE_GOAL_SECONDS = 0.2


def time_calls(function, repeats: int) -> tuple[float, float]:
    """Call ``function`` ``repeats`` times and return the median and best wall time in s."""
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), min(durations)


def report(label: str, timing: tuple[float, float], goal: float | None = None) -> None:
    median, best = timing
    line = f"{label:<44} median {median:7.3f} s   best {best:7.3f} s"
    if goal is not None:
        line += f"   goal < {goal:g} s: {'met' if median < goal else 'NOT MET'}"
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=None, help="http(s) URL, file:// URL or folder of the LibSVM files")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (default: 5)")
    args = parser.parse_args(argv)

    entry = validate_registry()["w8a"]
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}"
    )

    with tempfile.TemporaryDirectory(prefix="bench_data_") as folder:
        data_dir = Path(folder)
        load_dataset("w8a", data_dir, mirror=args.mirror)  # downloads and writes the cache
        source = data_dir / "w8a"
        print(f"w8a: {source.stat().st_size:,} bytes, expected shape ({entry['rows']}, {entry['features']})")

        parse = time_calls(lambda: load_libsvm(source, entry["features"]), args.repeats)
        cache = time_calls(lambda: load_dataset("w8a", data_dir), args.repeats)
        report("byzsim load_libsvm (dense X)", parse, PARSE_GOAL_SECONDS)
        report("byzsim load_dataset from the cache", cache, CACHE_GOAL_SECONDS)

        try:
            from sklearn.datasets import load_svmlight_file
        except ImportError:
            print("scikit-learn is not installed: no comparison with sklearn.datasets.load_svmlight_file")
            return 0

        # NOTE: this comparison has not been run, because scikit-learn is not a
        # dependency of byzsim.
        sparse = time_calls(lambda: load_svmlight_file(str(source), n_features=entry["features"]), args.repeats)
        dense = time_calls(
            lambda: load_svmlight_file(str(source), n_features=entry["features"])[0].toarray(), args.repeats
        )
        report("sklearn load_svmlight_file (sparse X)", sparse)
        report("sklearn load_svmlight_file + toarray()", dense)
        print(f"ratio byzsim parse / sklearn sparse:  {parse[0] / sparse[0]:.2f}")
        print(f"ratio byzsim parse / sklearn dense:   {parse[0] / dense[0]:.2f}")
        print(f"ratio byzsim cache / sklearn dense:   {cache[0] / dense[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
