"""``byzsim run``: one simulation outside Snakemake, written to a Parquet file.

The workflow runs the same :func:`byzsim.simulate.simulate`, and a batch gives bitwise
the runs made one by one, so a run made here and a run made by Snakemake with the same
specification hold the same trajectories.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import yaml

from byzsim.cli.data import read_data_config
from byzsim.simulate import DEFAULT_SPEC, resolve_spec, run_spec_to_store

logger = logging.getLogger(__name__)

METHOD_NAMES = ("byz-vr-marina", "byz-vr-marina-2", "byz-dasha-page", "byz-ef21", "byz-ef21-bc")
ATTACK_NAMES = ("none", "bf", "lf", "ipm", "alie", "mimic")
AGGREGATOR_NAMES = ("mean", "cm", "gm", "krum")
COMPRESSOR_NAMES = ("identity", "randk", "topk", "natural")


def add_parser(subparsers) -> None:
    """Register ``byzsim run`` and its options."""
    parser = subparsers.add_parser(
        "run", help="run one simulation and write its trajectory",
        description="Run one simulation (all multipliers and seeds as one batch) and write "
                    "its trajectories to a Parquet file of the result store schema.",
    )
    parser.add_argument("--spec", type=Path, help="YAML or JSON run specification; options given "
                        "on the command line override its keys")
    parser.add_argument("--experiment", help="experiment name recorded with the results (default: custom)")
    parser.add_argument("--method", choices=METHOD_NAMES, help="method (default: byz-dasha-page)")
    parser.add_argument("--attack", choices=ATTACK_NAMES, help="Byzantine attack (default: alie)")
    parser.add_argument("--z", type=float, help="attack strength z of ipm (default 0.1) and alie (default 1.06)")
    parser.add_argument("--aggregator", choices=AGGREGATOR_NAMES, help="robust aggregator (default: cm)")
    parser.add_argument("--bucket-size", type=int, help="bucket size s of bucketing; 1 = no bucketing (default: 2)")

    parser.add_argument("--problem", choices=("logistic", "quadratic"), help="problem (default: logistic)")
    parser.add_argument("--dataset", help="LibSVM dataset of the registry (default: phishing)")
    parser.add_argument("--setting", choices=("homogeneous", "heterogeneous"),
                        help="data split over the good workers (default: heterogeneous)")
    parser.add_argument("--regularizer", choices=("nonconvex", "ridge"),
                        help="regularizer r(x) of the logistic loss (default: nonconvex)")
    parser.add_argument("--lam", type=float, help="regularization weight lambda (default: 0.1)")
    parser.add_argument("--n-workers", type=int, help="number of workers n (default: 16)")
    parser.add_argument("--n-byzantine", type=int, help="number of Byzantine workers B (default: 3)")

    parser.add_argument("--compressor", choices=COMPRESSOR_NAMES, help="workers' compressor (default: randk)")
    parser.add_argument("--k", type=int, help="K of randk/topk, in coordinates (default: 0.1 d for randk)")
    parser.add_argument("--server-compressor", choices=COMPRESSOR_NAMES,
                        help="server compressor C^P of byz-ef21-bc (default: identity)")
    parser.add_argument("--server-k", type=int, help="K of the server compressor, in coordinates")
    parser.add_argument("--p", type=float, help="probability p of a synchronization round (default: the paper's)")
    parser.add_argument("--momentum", type=float, help="momentum a of byz-dasha-page (default: 1/(2 omega + 1))")
    parser.add_argument("--batch-size", type=int, help="mini-batch size b in samples (default: floor(0.01 m))")
    parser.add_argument("--full-gradients", action="store_true", default=None,
                        help="compute full local gradients instead of mini-batches")

    parser.add_argument("--multiplier", type=float, nargs="+",
                        help="stepsize multipliers of the theoretical stepsize, run as one batch (default: 1)")
    parser.add_argument("--iterations", type=int, help="number of rounds T (default: 1000)")
    parser.add_argument("--log-every", type=int, help="record every this many rounds (default: 10)")
    parser.add_argument("--seed", type=int, nargs="+", help="random seeds, run as one batch (default: 0)")
    parser.add_argument("--x0", choices=("solution_plus_one", "zeros"),
                        help="starting point: x* + 1 (authors' choice) or zeros (default: solution_plus_one)")

    parser.add_argument("--data-dir", default="data", help="folder of datasets and cached solutions (default: data)")
    parser.add_argument("--mirror", help="LibSVM mirror (http(s) URL, file:// URL or folder); "
                        "default: data.mirror of --config, then $BYZSIM_LIBSVM_MIRROR, else upstream")
    parser.add_argument("--config", metavar="FILE",
                        help="workflow configuration (config/config.yaml) whose datasets section "
                             "is the dataset registry, for a dataset beyond phishing and w8a")
    parser.add_argument("--print-spec", action="store_true",
                        help="print the specification with every default filled in, as JSON, and exit "
                        "without running (p, momentum and batch size stay null where the paper's "
                        "choice applies; the run's log shows their values)")
    parser.add_argument("--out", type=Path, default=Path("run.parquet"),
                        help="output Parquet file (default: run.parquet)")
    parser.set_defaults(func=run_command)


def spec_from_args(args: argparse.Namespace) -> dict:
    """Build a run specification from a ``--spec`` file and the command-line options."""
    spec: dict = {}
    if args.spec is not None:
        text = args.spec.read_text(encoding="utf-8")
        spec = yaml.safe_load(text) or {}
        if not isinstance(spec, dict):
            raise ValueError(f"{args.spec} must hold a mapping of run specification keys")
    problem = dict(spec.get("problem", {}))
    params = dict(spec.get("method_params", {}))

    def override(target: dict, key: str, value) -> None:
        if value is not None:
            target[key] = value

    override(spec, "experiment", args.experiment)
    override(spec, "method", args.method)
    override(spec, "n_workers", args.n_workers)
    override(spec, "n_byzantine", args.n_byzantine)
    override(spec, "iterations", args.iterations)
    override(spec, "log_every", args.log_every)
    override(spec, "multipliers", args.multiplier)
    override(spec, "seeds", args.seed)
    override(spec, "x0", args.x0)
    override(problem, "kind", args.problem)
    override(problem, "dataset", args.dataset)
    override(problem, "setting", args.setting)
    override(problem, "regularizer", args.regularizer)
    override(problem, "lam", args.lam)
    override(params, "p", args.p)
    override(params, "momentum", args.momentum)
    override(params, "batch_size", args.batch_size)
    override(params, "full_gradients", args.full_gradients)
    if args.attack is not None:
        spec["attack"] = {"name": args.attack}
    if args.z is not None:
        spec.setdefault("attack", dict(DEFAULT_SPEC["attack"]))["z"] = args.z
    if args.aggregator is not None or args.bucket_size is not None:
        aggregator = dict(spec.get("aggregator", DEFAULT_SPEC["aggregator"]))
        override(aggregator, "name", args.aggregator)
        override(aggregator, "bucket_size", args.bucket_size)
        spec["aggregator"] = aggregator
    if args.compressor is not None or args.k is not None:
        compressor = {"name": args.compressor or spec.get("compressor", DEFAULT_SPEC["compressor"])["name"]}
        if args.k is not None:
            compressor["K"] = args.k
        elif compressor["name"] == "randk":
            compressor["k_fraction"] = 0.1
        spec["compressor"] = compressor
    if args.server_compressor is not None:
        spec["server_compressor"] = {"name": args.server_compressor}
        override(spec["server_compressor"], "K", args.server_k)
    if problem:
        spec["problem"] = problem
    if params:
        spec["method_params"] = params
    return spec


def run_command(args: argparse.Namespace) -> int:
    """Run ``byzsim run``."""
    spec = spec_from_args(args)
    registry, data_section = read_data_config(args.config)
    dataset = spec.get("problem", {}).get("dataset")
    if registry and dataset in registry and not spec.get("problem", {}).get("dataset_entry"):
        spec["problem"]["dataset_entry"] = dict(registry[dataset])
    mirror = args.mirror or data_section.get("mirror")
    spec = resolve_spec(spec)
    if args.print_spec:
        print(json.dumps(spec, indent=2))
        return 0
    path = run_spec_to_store(spec, args.out, data_dir=args.data_dir, mirror=mirror)
    logger.info("trajectories written to %s", path)
    return 0
