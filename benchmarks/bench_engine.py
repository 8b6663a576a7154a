"""Benchmark the batched engine against a per-worker reference loop.

Measures run-iterations per second of :func:`byzsim.engine.run_batch`, built by the
same factories as :func:`byzsim.simulate.simulate`, and of a plain reference
implementation kept in this file. The reference is written the way research scripts
usually are, with a Python loop over the workers of one run. Each worker computes its
mini-batch gradient difference, compresses it and updates its own NumPy vectors. Then
the attack runs, and the server takes a bucketed coordinate-wise median over the list
of vectors. byzsim computes a batch of R runs at once, and the reference makes the
same R runs one after another.

Setup of Rammal et al. (2024, Appendix H.1): logistic regression with the nonconvex
regularizer (lambda = 0.1), heterogeneous split over n = 16 workers of which B = 3 are
Byzantine, RandK with K = floor(0.1 d), mini-batches of b = floor(0.01 m) samples, CM
with bucketing (s = 2) and ALIE with z = 1.06.

Usage::

    .venv/bin/python benchmarks/bench_engine.py            # the table, about 5 minutes on 2 cores
    .venv/bin/python benchmarks/bench_engine.py --profile  # cProfile of byzsim, phishing, 8 runs
    .venv/bin/python benchmarks/bench_engine.py --package-root /path/to/copy  # time another byzsim

Datasets come from ``--mirror``, else ``$BYZSIM_LIBSVM_MIRROR``, else the folder
``shared/data/libsvm`` beside the repository. BLAS runs on one thread unless
``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) is set, as in the
workflow's simulation jobs. The exit status is 1 when byzsim and the reference disagree
(see :func:`check_agreement`), so ``make bench`` fails then.
"""

from __future__ import annotations

import os

# One BLAS thread, as workflow/scripts/simulate_run.py sets for every simulation job. It
# must be set before NumPy loads OpenBLAS. With 2 BLAS threads, the --profile run of
# byzsim took 10 times longer while other jobs shared the 2 cores.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.special import expit  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
MIRROR_ENV = "BYZSIM_LIBSVM_MIRROR"  # the variable byzsim.data reads

logger = logging.getLogger("bench_engine")

# Mirror folder of the development machines, used when MIRROR_ENV is unset.
SIBLING_MIRROR = REPOSITORY.parent / "shared" / "data" / "libsvm"

METHODS = ("byz-dasha-page", "byz-vr-marina")
DATASETS = ("phishing", "w8a")
RUN_COUNTS = (1, 8)
ALIE_Z = 1.06
BUCKET_SIZE = 2

# gamma = MULTIPLIER * gamma_th. The theoretical stepsize barely moves ||grad f||^2 in a
# few hundred rounds. With 64 gamma_th it falls on phishing within 300 rounds and no run
# diverges, so the agreement check compares two trajectories that move.
MULTIPLIER = 64.0

# At every record, the medians over the runs of ||grad f(x^t)||^2 of byzsim and of the
# reference must lie within this factor of each other. The two draw from different
# random streams, so single runs differ, and the median over the seeds is compared.
AGREEMENT_FACTOR = 2.0


# --------------------------------------------------------------------------- reference


@dataclass
class ReferenceSetup:
    """Everything the reference loop needs, taken from the byzsim objects of one case.

    Attributes
    ----------
    shards : list of numpy.ndarray, each shape (m, d)
        Feature rows of each good worker.
    shard_labels : list of numpy.ndarray, each shape (m,)
        Labels in {-1, +1} of each good worker.
    features, labels : numpy.ndarray, shapes (G m, d) and (G m,)
        All rows of the good workers, for ``grad f`` of the true objective.
    lam : float
        Regularization weight.
    n_byzantine : int
    gamma, p, momentum : float
        Stepsize, probability of a full-gradient round, and momentum ``a`` (DASHA-PAGE).
    batch_size, K : int
        Mini-batch size ``b`` and the RandK parameter.
    x0 : numpy.ndarray, shape (d,)
    """

    shards: list[np.ndarray]
    shard_labels: list[np.ndarray]
    features: np.ndarray
    labels: np.ndarray
    lam: float
    n_byzantine: int
    gamma: float
    p: float
    momentum: float | None
    batch_size: int
    K: int
    x0: np.ndarray


def local_gradient(A, y, x, lam):
    """Return the gradient of (1/m) sum_j log(1 + exp(-y_j a_j^T x)) + (lam/2) r(x) at x."""
    weights = -y * expit(-y * (A @ x))
    # r(x) = sum_k x_k^2 / (1 + x_k^2), so (lam/2) grad r(x) = lam x / (1 + x^2)^2.
    return weights @ A / A.shape[0] + lam * x / (1.0 + x * x) ** 2


def minibatch_difference(A, y, x_new, x_old, b, lam, rng):
    """Return the mini-batch estimate of grad f_i(x_new) - grad f_i(x_old) on b samples."""
    rows = rng.choice(A.shape[0], b, replace=False)
    A_batch, y_batch = A[rows], y[rows]
    return local_gradient(A_batch, y_batch, x_new, lam) - local_gradient(A_batch, y_batch, x_old, lam)


def randk(v, K, rng):
    """Return RandK of v: K coordinates drawn without replacement, scaled by d/K."""
    d = v.shape[0]
    kept = rng.choice(d, K, replace=False)
    out = np.zeros(d)
    out[kept] = v[kept] * (d / K)
    return out


def alie(good, n_byzantine, z):
    """Return the ALIE vectors mean - z std of the good vectors, one per Byzantine worker."""
    stacked = np.array(good)
    vector = stacked.mean(axis=0) - z * stacked.std(axis=0)
    return [vector.copy() for _ in range(n_byzantine)]


def bucketed_median(vectors, bucket_size, rng):
    """Return the coordinate-wise median of the means of randomly permuted buckets."""
    order = rng.permutation(len(vectors))
    buckets = []
    for start in range(0, len(vectors), bucket_size):
        members = [vectors[j] for j in order[start:start + bucket_size]]
        buckets.append(np.mean(members, axis=0))
    return np.median(np.array(buckets), axis=0)


def reference_run(method, setup, iterations, log_every, rng):
    """Run one run of Byz-DASHA-PAGE or Byz-VR-MARINA with a loop over the workers.

    Parameters
    ----------
    method : {"byz-dasha-page", "byz-vr-marina"}
    setup : ReferenceSetup
    iterations, log_every : int
    rng : numpy.random.Generator

    Returns
    -------
    list of float
        ``||grad f(x^t)||^2`` at t = 0, every ``log_every`` rounds and the last round,
        the records of :func:`byzsim.engine.run_batch`.

    Raises
    ------
    ValueError
        If ``method`` is neither of the two benchmarked methods.
    """
    if method not in METHODS:
        raise ValueError(f"unknown reference method {method!r}; expected one of {list(METHODS)}")
    s = setup
    n_good = len(s.shards)
    x = s.x0.copy()
    g_workers = [local_gradient(A, y, x, s.lam) for A, y in zip(s.shards, s.shard_labels)]
    h_workers = [g.copy() for g in g_workers]
    g = local_gradient(s.features, s.labels, x, s.lam)
    records = [float(g @ g)]

    for t in range(iterations):
        coin = rng.random() < s.p
        x_new = x - s.gamma * g
        for i in range(n_good):
            A, y = s.shards[i], s.shard_labels[i]
            if method == "byz-dasha-page":
                # Algorithm 2 of Rammal et al. (2024): PAGE estimator h_i, compressed
                # momentum message Q(h_i^{t+1} - h_i^t - a (g_i^t - h_i^t)).
                if coin:
                    h_new = local_gradient(A, y, x_new, s.lam)
                else:
                    h_new = h_workers[i] + minibatch_difference(A, y, x_new, x, s.batch_size, s.lam, rng)
                message = randk(h_new - h_workers[i] - s.momentum * (g_workers[i] - h_workers[i]), s.K, rng)
                g_workers[i] = g_workers[i] + message
                h_workers[i] = h_new
            elif coin:
                # Byz-VR-MARINA (Gorbunov et al., 2023, Algorithm 1): full local gradient.
                g_workers[i] = local_gradient(A, y, x_new, s.lam)
            else:
                g_workers[i] = g + randk(minibatch_difference(A, y, x_new, x, s.batch_size, s.lam, rng), s.K, rng)
        vectors = g_workers + alie(g_workers, s.n_byzantine, ALIE_Z)
        g = bucketed_median(vectors, BUCKET_SIZE, rng)
        x = x_new
        if (t + 1) % log_every == 0 or t + 1 == iterations:
            gradient = local_gradient(s.features, s.labels, x, s.lam)
            records.append(float(gradient @ gradient))
    return records


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """The byzsim objects and the reference setup of one (dataset, method) pair."""

    dataset: str
    method_name: str
    problem: object
    method: object
    aggregator: object
    attack: object
    gamma: float
    x0: np.ndarray
    reference: ReferenceSetup


def build_case(dataset, method_name, data_dir, mirror, multiplier):
    """Build one benchmark case with the factories of :mod:`byzsim.simulate`."""
    from byzsim import simulate

    spec = simulate.resolve_spec({
        "experiment": "bench-engine",
        "problem": {"kind": "logistic", "dataset": dataset, "regularizer": "nonconvex",
                    "lam": 0.1, "setting": "heterogeneous"},
        "n_workers": 16, "n_byzantine": 3, "method": method_name,
        "compressor": {"name": "randk", "k_fraction": 0.1},
        "aggregator": {"name": "cm", "bucket_size": BUCKET_SIZE},
        "attack": {"name": "alie", "z": ALIE_Z},
        "multipliers": [multiplier],
    })
    problem, constants = simulate.build_problem(spec, data_dir, mirror)
    method, aggregator, attack, gamma_theory, compressor = simulate.build_parts(spec, problem, constants)
    x0 = simulate.starting_point(problem, spec["x0"])
    good = problem.good
    if good.shared or method.batch_size is None:
        raise RuntimeError(f"case {dataset}, {method_name} has shared features or full local gradients; "
                           "the reference loop needs the heterogeneous split and mini-batches")
    reference = ReferenceSetup(
        shards=list(good.features), shard_labels=list(good.labels),
        features=problem.features, labels=problem.labels, lam=problem.lam,
        n_byzantine=problem.n_byzantine, gamma=multiplier * gamma_theory, p=method.p,
        momentum=method.momentum, batch_size=method.batch_size, K=compressor.K, x0=x0,
    )
    return Case(dataset, method_name, problem, method, aggregator, attack,
                multiplier * gamma_theory, x0, reference)


def run_byzsim(case, n_runs, iterations, log_every):
    """Run seeds 0..n_runs-1 as one batch and return their ||grad f||^2 records, shape (n_runs, records)."""
    from byzsim import engine

    rngs = [np.random.default_rng(seed) for seed in range(n_runs)]
    trajectories = engine.run_batch(case.problem, case.method, case.aggregator, case.attack,
                                    [case.gamma] * n_runs, rngs, iterations, log_every, case.x0)
    if any(any(t.diverged) for t in trajectories):
        raise RuntimeError(f"a byzsim run diverged ({case.dataset}, {case.method_name}), so its speed is not "
                           "comparable; lower --multiplier")
    return np.array([t.grad_norm_sq for t in trajectories])


def run_reference(case, n_runs, iterations, log_every):
    """Run seeds 0..n_runs-1 one after another, with the same return value as :func:`run_byzsim`."""
    return np.array([
        reference_run(case.method_name, case.reference, iterations, log_every, np.random.default_rng(seed))
        for seed in range(n_runs)
    ])


def best_time(function, repeats):
    """Call ``function`` ``repeats`` times and return the smallest wall and CPU seconds and the last result.

    The CPU time (``time.process_time``, all threads of the process) is less affected than
    the wall time when other processes share the cores.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        result = function()
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    return min(wall), min(cpu), result


def traced_peak_mib(function):
    """Return the tracemalloc peak in MiB of the allocations one call of ``function`` makes.

    NumPy reports its array buffers to tracemalloc, so the peak covers arrays and Python
    objects allocated during the call, not the dataset loaded before it. The call runs
    untimed, because tracing slows every allocation.
    """
    tracemalloc.start()
    try:
        function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def check_agreement(case, n_runs, byzsim_records, reference_records):
    """Return a list of disagreements between byzsim and the reference (empty when they agree).

    Both start from the same x^0, so the first records must be equal. At every later
    record the medians over the runs must lie within AGREEMENT_FACTOR of each other,
    and where byzsim lowers the median ||grad f||^2 by more than that factor over the
    whole run, the reference must lower it too.
    """
    label = f"{case.dataset}, {case.method_name}, {n_runs} run(s)"
    found = []
    if not np.allclose(byzsim_records[:, 0], reference_records[:, 0], rtol=1e-10, atol=0.0):
        found.append(f"{label}: initial ||grad f||^2 differ: "
                        f"{byzsim_records[0, 0]:.6e} vs {reference_records[0, 0]:.6e}")
    byzsim_median = np.median(byzsim_records, axis=0)
    reference_median = np.median(reference_records, axis=0)
    ratio = byzsim_median / reference_median
    outside = np.flatnonzero((ratio > AGREEMENT_FACTOR) | (ratio < 1.0 / AGREEMENT_FACTOR))
    if outside.size:
        found.append(f"{label}: median ||grad f||^2 differs by more than {AGREEMENT_FACTOR}x at "
                        f"record {outside[0]}: {byzsim_median[outside[0]]:.3e} (byzsim) vs "
                        f"{reference_median[outside[0]]:.3e} (reference)")
    if byzsim_median[-1] * AGREEMENT_FACTOR < byzsim_median[0] and not reference_median[-1] < reference_median[0]:
        found.append(f"{label}: byzsim lowers ||grad f||^2 but the reference does not")
    return found


# --------------------------------------------------------------------------- main


def benchmark(cases, iterations, log_every, repeats, run_counts):
    """Time and trace every case, and return the table rows and all disagreements found."""
    rows, disagreements = [], []
    for case in cases:
        for n_runs in run_counts:
            logger.info("timing %s, %s, %d run(s)", case.dataset, case.method_name, n_runs)
            byzsim_wall, byzsim_cpu, byzsim_records = best_time(
                lambda: run_byzsim(case, n_runs, iterations, log_every), repeats)
            reference_wall, reference_cpu, reference_records = best_time(
                lambda: run_reference(case, n_runs, iterations, log_every), repeats)
            byzsim_peak = traced_peak_mib(lambda: run_byzsim(case, n_runs, iterations, log_every))
            reference_peak = traced_peak_mib(lambda: run_reference(case, n_runs, iterations, log_every))
            disagreements += check_agreement(case, n_runs, byzsim_records, reference_records)
            work = n_runs * iterations
            rows.append({
                "dataset": case.dataset, "method": case.method_name, "runs": n_runs,
                "byzsim run-it/s": work / byzsim_wall, "reference run-it/s": work / reference_wall,
                "ratio": reference_wall / byzsim_wall, "CPU ratio": reference_cpu / byzsim_cpu,
                "byzsim MiB": byzsim_peak, "reference MiB": reference_peak,
                "byzsim final": float(np.median(byzsim_records[:, -1])),
                "reference final": float(np.median(reference_records[:, -1])),
            })
    return pd.DataFrame(rows), disagreements


def profile_byzsim(cases, iterations, log_every, n_runs, top):
    """Print the top cProfile entries of byzsim on phishing with ``n_runs`` runs, by own and cumulative time."""
    for case in cases:
        if case.dataset != "phishing":
            continue
        profiler = cProfile.Profile()
        profiler.enable()
        run_byzsim(case, n_runs, iterations, log_every)
        profiler.disable()
        for order in ("tottime", "cumulative"):
            print(f"\ncProfile of byzsim: {case.dataset}, {case.method_name}, {n_runs} runs, "
                  f"{iterations} iterations (sorted by {order})")
            pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(order).print_stats(top)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=300, help="iterations (rounds) per run (default 300)")
    parser.add_argument("--log-every", type=int, default=10,
                        help="rounds between two ||grad f||^2 records, as in the run specification (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per case; the best counts (default 3)")
    parser.add_argument("--multiplier", type=float, default=MULTIPLIER,
                        help=f"stepsize as a multiple of the theoretical one (default {MULTIPLIER:g})")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--runs", nargs="+", type=int, default=list(RUN_COUNTS),
                        help="batch sizes R to time (default 1 8)")
    parser.add_argument("--data-dir", type=Path, default=REPOSITORY / "data",
                        help="folder for the dataset files and cached solutions (default <repository>/data)")
    parser.add_argument("--mirror", default=None,
                        help=f"LibSVM mirror (folder or URL); default ${MIRROR_ENV}, "
                             "else shared/data/libsvm beside the repository")
    parser.add_argument("--package-root", type=Path, default=REPOSITORY,
                        help="folder that contains the byzsim package to time (default: this repository)")
    parser.add_argument("--profile", action="store_true",
                        help="print cProfile of byzsim on phishing with the largest --runs, instead of the table")
    parser.add_argument("--top", type=int, default=25, help="profile entries to print (default 25)")
    arguments = parser.parse_args(argv)
    if arguments.iterations < 1 or arguments.repeats < 1 or min(arguments.runs) < 1:
        parser.error("--iterations, --repeats and --runs must be positive")
    return arguments


def resolve_mirror(mirror):
    """Return the mirror argument for byzsim.data: the option, the environment, or the sibling folder."""
    if mirror:
        return mirror
    if os.environ.get(MIRROR_ENV):
        return None  # byzsim.data reads the environment variable itself
    return str(SIBLING_MIRROR)


def main(argv=None):
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("byzsim").setLevel(logging.WARNING)
    sys.path.insert(0, str(arguments.package_root.resolve()))
    import byzsim

    mirror = resolve_mirror(arguments.mirror)
    cases = [build_case(dataset, method, arguments.data_dir, mirror, arguments.multiplier)
             for dataset in arguments.datasets for method in arguments.methods]

    threads = {name: os.environ[name] for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    print(f"machine: {platform.machine()}, {os.cpu_count()} logical cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, BLAS threads {threads}")
    print(f"byzsim: {Path(byzsim.__file__).parent}")
    if arguments.profile:
        profile_byzsim(cases, arguments.iterations, arguments.log_every, max(arguments.runs), arguments.top)
        return 0

    table, disagreements = benchmark(cases, arguments.iterations, arguments.log_every,
                                     arguments.repeats, arguments.runs)
    print(f"{arguments.iterations} iterations, best of {arguments.repeats}, gamma = {arguments.multiplier:g} x "
          "theoretical, seeds 0..R-1, ||grad f||^2 recorded every "
          f"{arguments.log_every} iterations by both implementations.\n"
          "run-it/s: runs x iterations / best wall time. ratio: reference / byzsim wall time; "
          "CPU ratio: the same with process CPU time.\n"
          "MiB: tracemalloc peak of one untimed call (arrays and objects allocated during the runs, "
          "not the dataset). final: median over runs of the last ||grad f||^2.")
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if disagreements:
        print("\nbyzsim and the reference disagree:")
        for line in disagreements:
            print("  " + line)
        return 1
    print("\nagreement: same ||grad f(x^0)||^2, and the medians over runs of ||grad f(x^t)||^2 agree "
          f"within {AGREEMENT_FACTOR:g}x at every record.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
