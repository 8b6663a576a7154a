"""Workflow configuration: load, validate, fill defaults, expand into simulation jobs.

``config/config.yaml`` describes the paper's experiments declaratively. The Snakefile
and users outside Snakemake both read it through this module, so they see the same
checks, defaults and job grid.

* :func:`load_config` reads one or more YAML files, merges them key by key (a later
  file overrides an earlier one, as Snakemake's ``--configfile`` does), and validates.
* :func:`validate_config` checks a config against ``workflow/schemas/config.schema.yaml``
  (JSON Schema draft 2020-12), fills every default the schema declares, at every
  nesting level, and checks what a schema cannot express (dataset names against the
  registry, B < n/2, figure datasets). Errors raise :class:`ConfigError` naming the
  key, for example ``config key experiments.figure1.attacks[2]: 'alei' is not one of
  ['none', 'bf', 'lf', 'ipm', 'alie', 'mimic']``.
* :func:`expand_jobs` lists the simulation jobs (experiment x dataset x method x attack
  x aggregator x multiplier), and :func:`build_spec` turns one job into the run
  specification of :func:`byzsim.simulate.simulate`, with every setting written out.

The LibSVM mirror is resolved by :func:`resolve_mirror`: the ``data.mirror`` key wins,
then the environment variable ``BYZSIM_LIBSVM_MIRROR``, then the upstream LibSVM site.
"""

from __future__ import annotations

import copy
import difflib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

logger = logging.getLogger(__name__)

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# NOTE: the schema lives in the workflow folder, which a non-editable install of the
# package does not contain; pass schema_path explicitly in that case.
SCHEMA_PATH = REPOSITORY_ROOT / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG_PATH = REPOSITORY_ROOT / "config" / "config.yaml"
MIRROR_ENVIRONMENT_VARIABLE = "BYZSIM_LIBSVM_MIRROR"
RUNS_ROOT = "results/runs"

# Every key of a run specification's method_params. None selects the paper's choice.
METHOD_PARAM_DEFAULTS: dict[str, Any] = {
    "p": None, "momentum": None, "batch_size": None, "full_gradients": False,
}
# Selection metrics and figure axes that need f*, known only for these problems.
PROBLEMS_WITH_KNOWN_OPTIMUM = ("logistic-ridge", "quadratic")


class ConfigError(ValueError):
    """An invalid workflow configuration; the message names every offending key."""


@dataclass(frozen=True)
class Job:
    """One simulation job: all seeds of one multiplier of one grid cell."""

    experiment: str
    dataset: str
    method: str
    attack: str
    aggregator: str
    multiplier: float

    def identity(self) -> dict[str, Any]:
        """Return the partition identity used by :func:`byzsim.store.run_path`."""
        return {
            "experiment": self.experiment, "dataset": self.dataset, "method": self.method,
            "attack": self.attack, "aggregator": self.aggregator, "multiplier": self.multiplier,
        }


# ---------------------------------------------------------------------------------------
# Loading and validation


def load_config(paths: Iterable[str | os.PathLike] | str | os.PathLike = DEFAULT_CONFIG_PATH,
                overrides: Mapping[str, Any] | None = None,
                schema_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load YAML config files, merge them in order, and validate the result.

    Parameters
    ----------
    paths : path or iterable of paths
        YAML files. Each later file is merged into the earlier ones key by key:
        mappings merge recursively and every other value is replaced. Snakemake merges
        ``--configfile`` into the Snakefile's ``configfile`` the same way.
    overrides : mapping, optional
        Merged last, like Snakemake's ``--config``.
    schema_path : path, optional
        JSON schema; default ``workflow/schemas/config.schema.yaml`` of the repository.

    Returns
    -------
    dict
        The validated config with every default filled in.

    Raises
    ------
    FileNotFoundError
        When a config file does not exist.
    ConfigError
        When a file is not a YAML mapping or the merged config is invalid.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    config: dict[str, Any] = {}
    for path in paths:
        path = Path(path)
        with path.open(encoding="utf-8") as stream:
            loaded = yaml.safe_load(stream)
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must contain a YAML mapping, not {type(loaded).__name__}")
        merge_config(config, loaded)
    if overrides:
        merge_config(config, copy.deepcopy(dict(overrides)))
    return validate_config(config, schema_path=schema_path)


def merge_config(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base`` in place and return ``base``.

    Mappings merge key by key and recursively. Lists and scalars replace the old
    value. This is the rule of ``snakemake.utils.update_config`` (Snakemake 9).
    """
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        elif isinstance(value, Mapping):
            base[key] = merge_config({}, value)
        else:
            base[key] = value
    return base


def load_schema(schema_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read the JSON schema of the config (a YAML file)."""
    path = Path(schema_path) if schema_path is not None else SCHEMA_PATH
    if not path.exists():
        raise FileNotFoundError(
            f"config schema {path} not found; pass schema_path=<repository>/workflow/schemas/"
            "config.schema.yaml when byzsim is installed without its repository"
        )
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _validator_with_defaults(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """Build a draft 2020-12 validator that fills ``default`` values while it validates.

    This follows the recipe of the jsonschema FAQ that ``snakemake.utils.validate``
    uses, except that a default is deep-copied. Snakemake 9 inserts the schema's own
    default object, so two experiments would share one mutable ``selection`` mapping.
    A default mapping is validated after it is inserted, so the defaults nested inside
    it are filled as well.
    """
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    extended = jsonschema.validators.extend(base, {"properties": set_defaults})
    return extended(schema)


def format_key(path: Iterable[Any]) -> str:
    """Format a path into the config as ``experiments.figure1.attacks[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _describe_error(error: jsonschema.ValidationError) -> str:
    """Turn one schema violation into a line that names the key and the allowed values."""
    key = format_key(error.absolute_path)
    where = f"config key {key}" if key else "config"
    # A schema's "x-error" replaces jsonschema's message; "{instance!r}" names the value.
    custom = error.schema.get("x-error") if isinstance(error.schema, dict) else None
    if custom:
        return f"{where}: {custom.format(instance=error.instance)}"
    if error.validator == "additionalProperties" and error.validator_value is False:
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        lines = []
        for name in unexpected:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"config key {format_key([*error.absolute_path, name])} is not allowed{hint}; "
                         f"allowed keys: {allowed}")
        return "\n".join(lines)
    if error.validator == "required":
        return f"{where}: missing required key {error.message.split(' is a required')[0]}"
    if error.validator == "false":
        return f"{where}: this key is not allowed here"
    if error.validator == "type" and isinstance(error.instance, str) and _reads_as_scalar(error.instance):
        # Snakemake's --config reads values nested in a mapping with YAML's BaseLoader,
        # which keeps every scalar as text.
        return (f"{where}: {error.message}; Snakemake's --config passes values inside a "
                "mapping as text, so set numbers, booleans and null in a --configfile instead")
    return f"{where}: {error.message}"


def _reads_as_scalar(text: str) -> bool:
    """True when YAML reads ``text`` as a number, boolean or null rather than as text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return value is None or isinstance(value, (bool, int, float))


def _schema_errors(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = _validator_with_defaults(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    messages: list[str] = []
    for error in errors:
        # An invalid name in a mapping (propertyNames) is reported at the mapping's key.
        message = _describe_error(error)
        if message not in messages:
            messages.append(message)
    return messages


def validate_config(config: dict[str, Any], schema_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Validate ``config`` in place, fill its defaults, and return it.

    Parameters
    ----------
    config : dict
        The merged config (for example Snakemake's ``config``). It is modified: every
        default of the schema is inserted.
    schema_path : path, optional
        JSON schema; default ``workflow/schemas/config.schema.yaml``.

    Returns
    -------
    dict
        ``config`` itself.

    Raises
    ------
    ConfigError
        Listing every violation, one per line, each naming its key, for example
        ``config key experiments.figure1.iterations: 'abc' is not of type 'integer'``.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"the config must be a mapping, not {type(config).__name__}")
    schema = load_schema(schema_path)
    messages = _schema_errors(config, schema)
    if not messages:
        messages = _semantic_errors(config)
    if messages:
        raise ConfigError(f"invalid config ({len(messages)} problem(s)):\n" + "\n".join(messages))
    return config


def _semantic_errors(config: dict[str, Any]) -> list[str]:
    """Check what the schema cannot express, on a config that the schema accepted."""
    messages: list[str] = []
    registry = config["datasets"]
    for name in config["tables"]["datasets"]:
        if name not in registry:
            messages.append(f"config key tables.datasets: dataset {name!r} is not in the datasets "
                            f"registry {sorted(registry)}; add an entry under datasets:")
    if config["tables"]["stepsizes_dataset"] not in registry:
        messages.append(f"config key tables.stepsizes_dataset: dataset "
                        f"{config['tables']['stepsizes_dataset']!r} is not in the datasets registry "
                        f"{sorted(registry)}")

    tables = config["tables"]
    if 2 * tables["n_byzantine"] >= tables["n_workers"]:
        messages.append(f"config key tables.n_byzantine: {tables['n_byzantine']} Byzantine workers of "
                        f"{tables['n_workers']} is too many; robust aggregation needs B < n/2")

    figure_owner: dict[str, str] = {}
    for name, experiment in config["experiments"].items():
        prefix = f"config key experiments.{name}"
        kind = experiment["problem"]["kind"]
        if 2 * experiment["n_byzantine"] >= experiment["n_workers"]:
            messages.append(f"{prefix}.n_byzantine: {experiment['n_byzantine']} Byzantine workers of "
                            f"{experiment['n_workers']} is too many; robust aggregation needs B < n/2")
        if kind == "quadratic":
            if "datasets" in experiment:
                messages.append(f"{prefix}.datasets: the quadratic problem generates its own data; "
                                "remove this key")
        elif "datasets" not in experiment:
            messages.append(f"{prefix}: missing required key 'datasets' (registry names, e.g. [phishing])")
        else:
            for index, dataset in enumerate(experiment["datasets"]):
                if dataset not in registry:
                    messages.append(f"{prefix}.datasets[{index}]: dataset {dataset!r} is not in the "
                                    f"datasets registry {sorted(registry)}; add an entry under datasets:")
        problem = problem_name(experiment)
        if experiment["selection"]["metric"] == "optimality_gap" and problem not in PROBLEMS_WITH_KNOWN_OPTIMUM:
            messages.append(f"{prefix}.selection.metric: optimality_gap needs f*, which is unknown for "
                            f"{problem}; use grad_norm_sq")
        datasets = experiment_datasets(experiment)
        for figure, settings in experiment["figures"].items():
            figure_key = f"{prefix}.figures.{figure}"
            if figure in figure_owner:
                messages.append(f"{figure_key}: figure name {figure!r} is already used by experiment "
                                f"{figure_owner[figure]!r}; figure names must be unique")
            figure_owner[figure] = name
            dataset = settings.get("dataset")
            if dataset is None and len(datasets) > 1:
                messages.append(f"{figure_key}: missing key 'dataset'; the experiment has several "
                                f"datasets {datasets}")
            elif dataset is not None and dataset not in datasets:
                messages.append(f"{figure_key}.dataset: {dataset!r} is not one of the experiment's "
                                f"datasets {datasets}")
            # An attacks figure draws one aggregator, a neighborhood figure one attack.
            fixed = "aggregator" if settings["kind"] == "attacks" else "attack"
            choices = experiment[f"{fixed}s"]
            if settings.get(fixed) is None and len(choices) > 1:
                messages.append(f"{figure_key}: missing key {fixed!r}; a {settings['kind']} figure draws "
                                f"one {fixed} and the experiment has several {choices}")
            elif settings.get(fixed) is not None and settings[fixed] not in choices:
                messages.append(f"{figure_key}.{fixed}: {settings[fixed]!r} is not one of the "
                                f"experiment's {fixed}s {choices}")
            if settings["y"] == "optimality_gap" and problem not in PROBLEMS_WITH_KNOWN_OPTIMUM:
                messages.append(f"{figure_key}.y: optimality_gap needs f*, which is unknown for "
                                f"{problem}; use grad_norm_sq")
    return messages


# ---------------------------------------------------------------------------------------
# Reading a validated config


def resolve_mirror(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str | None:
    """Return the LibSVM source: ``data.mirror``, else ``$BYZSIM_LIBSVM_MIRROR``, else None.

    None means the upstream LibSVM site. An empty environment variable counts as unset.
    """
    environ = os.environ if environ is None else environ
    mirror = config.get("data", {}).get("mirror")
    if mirror:
        return str(mirror)
    return environ.get(MIRROR_ENVIRONMENT_VARIABLE) or None


def problem_name(experiment: Mapping[str, Any]) -> str:
    """Return the store's problem name: logistic-nonconvex, logistic-ridge or quadratic."""
    problem = experiment["problem"]
    if problem["kind"] == "quadratic":
        return "quadratic"
    return f"logistic-{problem['regularizer']}"


def experiment_datasets(experiment: Mapping[str, Any]) -> list[str]:
    """Return the experiment's datasets; ``["quadratic"]`` for the quadratic problem."""
    if experiment["problem"]["kind"] == "quadratic":
        return ["quadratic"]
    return list(experiment["datasets"])


def datasets_used(config: Mapping[str, Any]) -> list[str]:
    """Return the sorted registry names that an experiment or a table needs."""
    names = set(config["tables"]["datasets"]) | {config["tables"]["stepsizes_dataset"]}
    for experiment in config["experiments"].values():
        if experiment["problem"]["kind"] != "quadratic":
            names.update(experiment["datasets"])
    return sorted(names)


def compressor_spec(compressor: Mapping[str, Any]) -> dict[str, Any]:
    """Return a compressor mapping without its null keys (null K or k_fraction means unset)."""
    return {key: value for key, value in compressor.items() if value is not None}


def method_settings(experiment: Mapping[str, Any], method: str) -> dict[str, Any]:
    """Return the compressors, method parameters and multipliers in force for ``method``.

    A per-method entry under ``methods:`` overrides the experiment's value; method
    parameters merge key by key over :data:`METHOD_PARAM_DEFAULTS`.
    """
    overrides = experiment["methods"][method]
    params = {**METHOD_PARAM_DEFAULTS, **experiment["method_params"], **overrides.get("method_params", {})}
    return {
        "compressor": compressor_spec(overrides.get("compressor", experiment["compressor"])),
        "server_compressor": compressor_spec(overrides.get("server_compressor",
                                                           experiment["server_compressor"])),
        "method_params": params,
        "multipliers": [float(m) for m in overrides.get("multipliers", experiment["multipliers"])],
    }


def expand_jobs(config: Mapping[str, Any], experiments: Iterable[str] | None = None) -> list[Job]:
    """List the simulation jobs of the given experiments (default: all).

    The grid of an experiment is datasets x methods x attacks x aggregators x the
    method's multipliers, in the order the config lists them.

    Raises
    ------
    ConfigError
        For an experiment name that is not in the config.
    """
    names = list(config["experiments"]) if experiments is None else list(experiments)
    jobs: list[Job] = []
    for name in names:
        if name not in config["experiments"]:
            raise ConfigError(f"experiment {name!r} not found; the config defines {sorted(config['experiments'])}")
        experiment = config["experiments"][name]
        for dataset in experiment_datasets(experiment):
            for method in experiment["methods"]:
                multipliers = method_settings(experiment, method)["multipliers"]
                for attack in experiment["attacks"]:
                    for aggregator in experiment["aggregators"]:
                        for multiplier in multipliers:
                            jobs.append(Job(name, dataset, method, attack, aggregator, multiplier))
    return jobs


def group_cells(jobs: Iterable[Job]) -> dict[tuple[str, str, str, str, str], list[Job]]:
    """Group jobs by grid cell (experiment, dataset, method, attack, aggregator).

    The jobs of one cell differ only in their multiplier, so they can run as one batch.
    """
    cells: dict[tuple[str, str, str, str, str], list[Job]] = {}
    for job in jobs:
        key = (job.experiment, job.dataset, job.method, job.attack, job.aggregator)
        cells.setdefault(key, []).append(job)
    return cells


def attack_spec(experiment: Mapping[str, Any], attack: str) -> dict[str, Any]:
    """Return the attack part of a run specification, e.g. ``{"name": "alie", "z": 1.06}``."""
    return {"name": attack, **copy.deepcopy(experiment["attack_params"].get(attack, {}))}


def _in_grid(experiment: Mapping[str, Any], job: Job) -> bool:
    if job.method not in experiment["methods"]:
        return False
    return (job.dataset in experiment_datasets(experiment)
            and job.attack in experiment["attacks"]
            and job.aggregator in experiment["aggregators"]
            and float(job.multiplier) in method_settings(experiment, job.method)["multipliers"])


def build_spec(config: Mapping[str, Any], job: Job) -> dict[str, Any]:
    """Return the run specification of ``job`` for :func:`byzsim.simulate.simulate`.

    Every setting is written out instead of relying on the engine's defaults, so the
    metadata stored with the result records exactly how it was made.

    Raises
    ------
    ConfigError
        When the job is not part of the config's grid.
    """
    experiment = config["experiments"].get(job.experiment)
    if experiment is None:
        raise ConfigError(f"experiment {job.experiment!r} not found; the config defines "
                          f"{sorted(config['experiments'])}")
    if not _in_grid(experiment, job):
        raise ConfigError(f"{job} is not in the grid of experiment {job.experiment!r}; check its "
                          "datasets, methods, attacks, aggregators and multipliers")
    problem = dict(experiment["problem"])
    if problem["kind"] == "logistic":
        problem = {"kind": "logistic", "dataset": job.dataset,
                   "dataset_entry": dict(config["datasets"][job.dataset]),
                   "regularizer": problem["regularizer"], "lam": float(problem["lam"]),
                   "setting": problem["setting"]}
    settings = method_settings(experiment, job.method)
    return {
        "experiment": job.experiment,
        "problem": problem,
        "n_workers": experiment["n_workers"],
        "n_byzantine": experiment["n_byzantine"],
        "method": job.method,
        "method_params": settings["method_params"],
        "compressor": settings["compressor"],
        "server_compressor": settings["server_compressor"],
        "aggregator": {"name": job.aggregator, "bucket_size": experiment["bucket_size"]},
        "attack": attack_spec(experiment, job.attack),
        "multipliers": [float(job.multiplier)],
        "iterations": experiment["iterations"],
        "log_every": experiment["log_every"],
        "seeds": list(experiment["seeds"]),
        "x0": experiment["x0"],
        "stepsize_form": experiment["stepsize_form"],
    }


def figure_settings(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return every figure by name with its experiment, dataset and drawing options."""
    figures: dict[str, dict[str, Any]] = {}
    for name, experiment in config["experiments"].items():
        for figure, settings in experiment["figures"].items():
            fixed = "aggregator" if settings["kind"] == "attacks" else "attack"
            figures[figure] = {
                "experiment": name,
                **copy.deepcopy(settings),
                "dataset": settings.get("dataset") or experiment_datasets(experiment)[0],
                fixed: settings.get(fixed) or experiment[f"{fixed}s"][0],
            }
    return figures
