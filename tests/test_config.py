"""Tests of byzsim.config: schema validation, defaults, merging and grid expansion."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from byzsim import config as bc

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO / "config" / "config.yaml"
QUICK_CONFIG = REPO / "config" / "quick.yaml"
ATTACKS = ["none", "bf", "lf", "ipm", "alie", "mimic"]


def minimal_experiment(**overrides):
    experiment = {
        "problem": {"kind": "logistic"},
        "datasets": ["phishing"],
        "methods": {"byz-dasha-page": {}},
        "iterations": 10,
    }
    experiment.update(overrides)
    return experiment


def rejection(config: dict) -> str:
    with pytest.raises(bc.ConfigError) as caught:
        bc.validate_config(config)
    return str(caught.value)


@pytest.fixture(scope="module")
def paper():
    return bc.load_config(PAPER_CONFIG)


# --------------------------------------------------------------------------- validation


def test_paper_config_valid(paper):
    assert list(paper["experiments"]) == ["figure1", "figure2", "figure4", "figure6", "figure8"]


def test_enum_typo_names_key_and_values():
    config = {"experiments": {"figure1": minimal_experiment(attacks=["bf", "lf", "alei"])}}
    message = rejection(config)
    assert (
        "config key experiments.figure1.attacks[2]: 'alei' is not one of "
        "['none', 'bf', 'lf', 'ipm', 'alie', 'mimic']"
    ) in message


def test_unknown_key_suggests_spelling():
    experiment = minimal_experiment()
    experiment["iteratons"] = experiment.pop("iterations")
    message = rejection({"experiments": {"figure1": experiment}})
    assert "config key experiments.figure1.iteratons is not allowed (did you mean 'iterations'?)" in message
    assert "allowed keys: ['aggregators', 'attack_params'" in message
    assert "config key experiments.figure1: missing required key 'iterations'" in message


def test_unknown_top_level_key():
    message = rejection({"experiments": {"e": minimal_experiment()}, "experimnts": {}})
    assert "config key experimnts is not allowed (did you mean 'experiments'?)" in message
    assert "allowed keys: ['data', 'datasets', 'experiments', 'tables', 'workflow']" in message


def test_wrong_type_names_key():
    message = rejection({"experiments": {"figure1": minimal_experiment(iterations="many")}})
    assert "config key experiments.figure1.iterations: 'many' is not of type 'integer'" in message


def test_wrong_type_of_section():
    message = rejection({"experiments": {"e": minimal_experiment()}, "data": 5})
    assert "config key data: 5 is not of type 'object'" in message


def test_unknown_method_name():
    message = rejection({"experiments": {"e": minimal_experiment(methods={"byz-dasha": {}})}})
    assert ("config key experiments.e.methods: 'byz-dasha' is not one of ['byz-vr-marina', "
            "'byz-vr-marina-2', 'byz-dasha-page', 'byz-ef21', 'byz-ef21-bc']") in message


def test_unknown_problem_kind_reports_once():
    message = rejection({"experiments": {"e": minimal_experiment(problem={"kind": "logstic"})}})
    assert "config key experiments.e.problem.kind: 'logstic' is not one of ['logistic', 'quadratic']" in message
    assert message.count("config key") == 1


def test_quadratic_rejects_logistic_key():
    experiment = minimal_experiment(problem={"kind": "quadratic", "regularizer": "ridge"})
    del experiment["datasets"]
    message = rejection({"experiments": {"e": experiment}})
    assert "config key experiments.e.problem.regularizer is not allowed" in message
    assert "allowed keys: ['d', 'groups', 'kind', 'problem_seed']" in message


def test_compressor_needs_one_size():
    both = {"name": "randk", "K": 2, "k_fraction": 0.1}
    message = rejection({"experiments": {"e": minimal_experiment(compressor=both)}})
    assert "config key experiments.e.compressor: randk and topk take exactly one of K or k_fraction" in message
    neither = {"name": "topk"}
    assert "exactly one of K or k_fraction" in rejection({"experiments": {"e": minimal_experiment(compressor=neither)}})


def test_natural_rejects_size():
    message = rejection({"experiments": {"e": minimal_experiment(compressor={"name": "natural", "K": 3})}})
    assert "config key experiments.e.compressor: identity and natural take no K or k_fraction" in message


def test_all_problems_listed():
    experiment = minimal_experiment(iterations=0, seeds=[])
    message = rejection({"experiments": {"e": experiment}})
    assert "config key experiments.e.iterations: 0 is less than the minimum of 1" in message
    assert "config key experiments.e.seeds: [] should be non-empty" in message
    assert message.startswith("invalid config (2 problem(s)):")


def test_dataset_outside_registry():
    message = rejection({"experiments": {"e": minimal_experiment(datasets=["mnist"])}})
    assert "config key experiments.e.datasets[0]: dataset 'mnist' is not in the datasets registry" in message


def test_invalid_dataset_names():
    entry = {"file": "x", "rows": 1, "features": 1}
    for name in ("a+b", "quadratic", "_hidden"):
        message = rejection({"experiments": {"e": minimal_experiment()}, "datasets": {name: entry}})
        assert f"config key datasets: invalid dataset name {name!r}: use ASCII letters" in message


def test_too_many_byzantine():
    message = rejection({"experiments": {"e": minimal_experiment(n_workers=6, n_byzantine=3)}})
    assert "config key experiments.e.n_byzantine: 3 Byzantine workers of 6 is too many" in message


def test_quadratic_rejects_datasets():
    experiment = minimal_experiment(problem={"kind": "quadratic"})
    message = rejection({"experiments": {"e": experiment}})
    assert "config key experiments.e.datasets: the quadratic problem generates its own data" in message


def test_optimality_gap_needs_known_optimum():
    experiment = minimal_experiment(selection={"metric": "optimality_gap"})
    message = rejection({"experiments": {"e": experiment}})
    assert "config key experiments.e.selection.metric: optimality_gap needs f*" in message


def test_figure_dataset_required_when_ambiguous():
    experiment = minimal_experiment(datasets=["phishing", "w8a"], figures={"fig": {}})
    message = rejection({"experiments": {"e": experiment}})
    assert "config key experiments.e.figures.fig: missing key 'dataset'" in message


def test_figure_aggregator_required_when_ambiguous():
    experiment = minimal_experiment(aggregators=["cm", "gm"], figures={"fig": {}})
    message = rejection({"experiments": {"e": experiment}})
    assert "config key experiments.e.figures.fig: missing key 'aggregator'" in message


def test_figure_names_unique():
    config = {"experiments": {
        "a": minimal_experiment(figures={"fig": {}}),
        "b": minimal_experiment(figures={"fig": {}}),
    }}
    message = rejection(config)
    assert "config key experiments.b.figures.fig: figure name 'fig' is already used by experiment 'a'" in message


# --------------------------------------------------------------------------- defaults


def test_defaults_fill_nested():
    config = bc.validate_config({"experiments": {"e": minimal_experiment()}})
    experiment = config["experiments"]["e"]
    assert config["data"] == {"dir": "data", "mirror": None}
    assert config["datasets"]["w8a"] == {"file": "w8a", "rows": 49749, "features": 300}
    assert config["tables"]["stepsizes_dataset"] == "phishing"
    assert experiment["problem"] == {"kind": "logistic", "regularizer": "nonconvex", "lam": 0.1,
                                     "setting": "heterogeneous"}
    assert (experiment["n_workers"], experiment["n_byzantine"]) == (16, 3)
    assert experiment["aggregators"] == ["cm"]
    assert experiment["bucket_size"] == 2
    assert experiment["attacks"] == ["bf", "lf", "ipm", "alie"]
    assert experiment["attack_params"] == {"ipm": {"z": 0.1}, "alie": {"z": 1.06}, "mimic": {"target": 0}}
    assert experiment["multipliers"] == [1, 4, 16, 64, 256]
    assert experiment["compressor"] == {"name": "randk", "k_fraction": 0.1}
    assert experiment["selection"] == {"metric": "grad_norm_sq", "statistic": "mean", "last_fraction": 0.1}


def test_defaults_fill_partial_section():
    experiment = minimal_experiment(attack_params={"alie": {"z": 2.0}}, selection={"statistic": "median"})
    config = bc.validate_config({"experiments": {"e": experiment}})
    filled = config["experiments"]["e"]
    assert filled["attack_params"]["alie"] == {"z": 2.0}
    assert filled["attack_params"]["ipm"] == {"z": 0.1}
    assert filled["selection"] == {"metric": "grad_norm_sq", "statistic": "median", "last_fraction": 0.1}


def test_figure_defaults_fill():
    config = bc.validate_config({"experiments": {"e": minimal_experiment(figures={"fig": {}})}})
    assert bc.figure_settings(config)["fig"] == {
        "experiment": "e", "kind": "attacks", "x": "bits_up", "y": "grad_norm_sq",
        "normalize": False, "title": None, "dataset": "phishing", "aggregator": "cm",
    }


def test_defaults_not_shared():
    config = bc.validate_config({"experiments": {"a": minimal_experiment(), "b": minimal_experiment()}})
    config["experiments"]["a"]["selection"]["last_fraction"] = 0.5
    config["experiments"]["a"]["attacks"].append("none")
    assert config["experiments"]["b"]["selection"]["last_fraction"] == 0.1
    assert config["experiments"]["b"]["attacks"] == ["bf", "lf", "ipm", "alie"]


def test_validation_keeps_given_values():
    original = {"experiments": {"e": minimal_experiment(seeds=[3, 4], bucket_size=None)}}
    config = bc.validate_config(copy.deepcopy(original))
    assert config["experiments"]["e"]["seeds"] == [3, 4]
    assert config["experiments"]["e"]["bucket_size"] is None


def _resolve(schema, node):
    """Follow a local ``$ref`` of the schema."""
    while isinstance(node, dict) and "$ref" in node:
        target = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _closed(schema, node) -> bool:
    """True when ``node`` rejects unknown keys itself or through every if/then branch."""
    if node.get("additionalProperties") is False:
        return True
    branches = [_resolve(schema, item["then"]) for item in node.get("allOf", []) if "then" in item]
    return bool(branches) and all(branch.get("additionalProperties") is False for branch in branches)


def test_schema_objects_closed_and_described():
    schema = bc.load_schema()
    problems = []

    def visit(node, path, in_condition):
        if isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{path}[{index}]", in_condition)
            return
        if not isinstance(node, dict):
            return
        # Conditions (if, oneOf, not) restate keys only to test them.
        if "properties" in node and not in_condition:
            if node.get("type") == "object" and not _closed(schema, node):
                problems.append(f"{path}: unknown keys are not rejected")
            for name, sub in node["properties"].items():
                if "description" not in sub and "description" not in _resolve(schema, sub):
                    problems.append(f"{path}.{name}: no description")
        for key, value in node.items():
            visit(value, f"{path}.{key}", in_condition or key in ("if", "oneOf", "anyOf", "not"))

    visit(schema, "schema", False)
    assert problems == []


def test_snakemake_validate_accepts_paper(paper):
    from snakemake.utils import validate

    raw = yaml.safe_load(PAPER_CONFIG.read_text())
    validate(raw, str(bc.SCHEMA_PATH))
    assert raw["experiments"]["figure1"]["attack_params"]["ipm"]["z"] == 0.1


# --------------------------------------------------------------------------- merging and loading


def test_merge_is_recursive():
    base = {"experiments": {"e": {"attacks": ["bf"], "selection": {"metric": "grad_norm_sq"}}}}
    bc.merge_config(base, {"experiments": {"e": {"attacks": ["lf"], "selection": {"statistic": "min"}}}})
    assert base == {"experiments": {"e": {"attacks": ["lf"],
                                          "selection": {"metric": "grad_norm_sq", "statistic": "min"}}}}


def test_load_merges_files_in_order(tmp_path):
    override = tmp_path / "override.yaml"
    override.write_text("experiments:\n  figure1:\n    attacks: [bf, none]\n    iterations: 7\n")
    config = bc.load_config([PAPER_CONFIG, override], overrides={"experiments": {"figure1": {"iterations": 9}}})
    assert config["experiments"]["figure1"]["attacks"] == ["bf", "none"]
    assert config["experiments"]["figure1"]["iterations"] == 9
    assert config["experiments"]["figure1"]["multipliers"] == [1, 4, 16, 64, 256]


def test_override_switches_compressor_size(tmp_path):
    override = {"experiments": {"figure1": {"compressor": {"K": 3, "k_fraction": None}}}}
    config = bc.load_config(PAPER_CONFIG, overrides=override)
    assert bc.method_settings(config["experiments"]["figure1"], "byz-dasha-page")["compressor"] == {
        "name": "randk", "K": 3}


def test_load_rejects_non_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(bc.ConfigError, match="must contain a YAML mapping"):
        bc.load_config(path)


def test_resolve_mirror_precedence():
    config = {"data": {"dir": "data", "mirror": None}}
    environ = {"BYZSIM_LIBSVM_MIRROR": "/srv/libsvm"}
    assert bc.resolve_mirror(config, environ={}) is None
    assert bc.resolve_mirror(config, environ=environ) == "/srv/libsvm"
    assert bc.resolve_mirror({"data": {"mirror": "http://127.0.0.1:8000/"}}, environ=environ) == "http://127.0.0.1:8000/"
    assert bc.resolve_mirror(config, environ={"BYZSIM_LIBSVM_MIRROR": ""}) is None


# --------------------------------------------------------------------------- expansion


def test_paper_job_counts(paper):
    jobs = bc.expand_jobs(paper)
    counts = {name: sum(job.experiment == name for job in jobs) for name in paper["experiments"]}
    # 3 methods x 4 attacks x 7 multipliers per dataset; figure6 has 2 methods; figure8 is
    # 2 methods x 3 aggregators x 1 multiplier.
    assert counts == {"figure1": 60, "figure2": 120, "figure4": 120, "figure6": 80, "figure8": 6}
    assert len(jobs) == 386
    assert len(bc.group_cells(jobs)) == 82
    assert len(set(jobs)) == len(jobs)


def test_quick_profile_smaller():
    quick = bc.load_config([PAPER_CONFIG, QUICK_CONFIG])
    jobs = bc.expand_jobs(quick)
    assert len(jobs) == 82
    assert quick["experiments"]["figure1"]["methods"].keys() == {"byz-vr-marina", "byz-vr-marina-2",
                                                                  "byz-dasha-page"}
    assert quick["experiments"]["figure8"]["seeds"] == [0, 1, 2]


def test_per_method_multipliers():
    experiment = minimal_experiment(methods={"byz-dasha-page": {}, "byz-vr-marina": {"multipliers": [64, 128]}},
                                    multipliers=[1, 2], attacks=["bf"])
    config = bc.validate_config({"experiments": {"e": experiment}})
    jobs = bc.expand_jobs(config)
    assert [(job.method, job.multiplier) for job in jobs] == [
        ("byz-dasha-page", 1.0), ("byz-dasha-page", 2.0), ("byz-vr-marina", 64.0), ("byz-vr-marina", 128.0)]


def test_expand_unknown_experiment(paper):
    with pytest.raises(bc.ConfigError, match="experiment 'figure9' not found"):
        bc.expand_jobs(paper, ["figure9"])


def test_spec_is_explicit(paper):
    job = bc.Job("figure2", "w8a", "byz-dasha-page", "alie", "cm", 16.0)
    spec = bc.build_spec(paper, job)
    assert spec == {
        "experiment": "figure2",
        "problem": {"kind": "logistic", "dataset": "w8a",
                    "dataset_entry": {"file": "w8a", "rows": 49749, "features": 300},
                    "regularizer": "nonconvex", "lam": 0.1, "setting": "heterogeneous"},
        "n_workers": 16,
        "n_byzantine": 3,
        "method": "byz-dasha-page",
        "method_params": {"p": None, "momentum": None, "batch_size": None, "full_gradients": False},
        "compressor": {"name": "randk", "k_fraction": 0.1},
        "server_compressor": {"name": "identity"},
        "aggregator": {"name": "cm", "bucket_size": 2},
        "attack": {"name": "alie", "z": 1.06},
        "multipliers": [16.0],
        "iterations": paper["experiments"]["figure2"]["iterations"],
        "log_every": paper["experiments"]["figure2"]["log_every"],
        "seeds": [0],
        "x0": "solution_plus_one",
        "stepsize_form": "published-code",
    }


def test_spec_method_override(paper):
    ef21 = bc.build_spec(paper, bc.Job("figure6", "phishing", "byz-ef21", "bf", "cm", 1.0))
    marina = bc.build_spec(paper, bc.Job("figure6", "phishing", "byz-vr-marina", "bf", "cm", 1.0))
    assert ef21["compressor"] == {"name": "topk", "K": 1}
    assert marina["compressor"] == {"name": "randk", "K": 1}
    assert ef21["method_params"]["full_gradients"] is True
    assert marina["method_params"]["full_gradients"] is True


def test_spec_quadratic(paper):
    spec = bc.build_spec(paper, bc.Job("figure8", "quadratic", "byz-vr-marina", "mimic", "gm", 10.0))
    assert spec["problem"] == {"kind": "quadratic", "d": 100, "groups": 2, "problem_seed": 0}
    assert (spec["n_workers"], spec["n_byzantine"]) == (28, 8)
    assert spec["attack"] == {"name": "mimic", "target": 0}
    assert spec["compressor"] == {"name": "randk", "K": 5}
    assert spec["seeds"] == list(range(15))
    assert spec["stepsize_form"] == "theorem"


def test_spec_outside_grid(paper):
    with pytest.raises(bc.ConfigError, match="is not in the grid of experiment 'figure1'"):
        bc.build_spec(paper, bc.Job("figure1", "phishing", "byz-dasha-page", "bf", "cm", 3.0))
    with pytest.raises(bc.ConfigError, match="is not in the grid"):
        bc.build_spec(paper, bc.Job("figure1", "phishing", "byz-ef21", "bf", "cm", 1.0))


def test_specs_accepted_by_engine(paper):
    from byzsim.simulate import resolve_spec

    for job in bc.expand_jobs(paper):
        spec = bc.build_spec(paper, job)
        resolved = resolve_spec(spec)
        assert resolved["multipliers"] == [job.multiplier]


def test_job_paths_unique(paper):
    from byzsim.store import run_path

    paths = {str(run_path("results/runs", job.identity())) for job in bc.expand_jobs(paper)}
    assert len(paths) == 386
    assert "results/runs/experiment=figure8/dataset=quadratic/method=byz-vr-marina/attack=mimic/" \
           "aggregator=gm/multiplier=10/run.parquet" in paths
