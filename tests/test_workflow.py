"""End-to-end tests of the Snakemake workflow on the quick profile with the real datasets.

The workflow (Snakefile, workflow/, config/, profiles/) is copied into a temporary folder
and run there with real Snakemake, downloading phishing and w8a from an HTTP server on
127.0.0.1 that serves the LibSVM mirror. Later tests dry-run config changes against the
finished run and count the jobs Snakemake would schedule.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from byzsim import store
from byzsim.selection import SELECTION_COLUMNS, read_selection

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "profiles")
FIGURES = [f"figure{number}" for number in range(1, 9)]
TABLES = ["table1_rates", "table2_datasets", "table3_stepsizes"]
EXPERIMENTS = ["figure1", "figure2", "figure4", "figure6", "figure8"]
# Grid points of config/quick.yaml: 2 attacks x 2 multipliers for 3 methods on phishing
# (figure1), 3 methods on two datasets (figure2, figure4), 2 methods on two datasets
# (figure6), plus 2 methods x 3 aggregators of figure8.
QUICK_SIMULATIONS = 12 + 24 + 24 + 16 + 6
# Grid cells (one batched job each): the same without the factor 2 of the multipliers.
QUICK_CELLS = 6 + 12 + 12 + 8 + 6
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Workflow:
    directory: Path
    environment: dict[str, str]
    first_run: subprocess.CompletedProcess
    first_run_seconds: float

    def snakemake(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``python -m snakemake ARGS`` in the workflow copy; output is text."""
        return subprocess.run(
            [sys.executable, "-m", "snakemake", *args],
            cwd=self.directory, env=self.environment, capture_output=True, text=True,
        )

    def dry_run(self, *args: str, overlay: str | None = None) -> subprocess.CompletedProcess:
        """Dry-run on the quick profile, with ``overlay`` merged over it."""
        # A second --configfile option would replace the first, so both files follow one.
        configfiles = ["config/quick.yaml"] + ([overlay] if overlay else [])
        result = self.snakemake("-n", "--configfile", *configfiles, *args)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    def write_overlay(self, name: str, content: dict) -> str:
        path = self.directory / "config" / name
        path.write_text(yaml.safe_dump(content), encoding="utf-8")
        return f"config/{name}"


def output_text(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def job_counts(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Parse the "Job stats" table that a Snakemake dry run prints.

    The rules ``simulate_<cell>`` of batched grid cells are counted together as "simulate".
    """
    lines = output_text(result).splitlines()
    if "Job stats:" not in lines:
        return {}
    counts = {}
    for line in lines[lines.index("Job stats:") + 3:]:
        fields = line.split()
        if len(fields) != 2 or fields[0] == "total":
            break
        name = "simulate" if fields[0].startswith("simulate_") else fields[0]
        counts[name] = counts.get(name, 0) + int(fields[1])
    return counts


def planned_outputs(result: subprocess.CompletedProcess, rule: str) -> list[str]:
    """Output paths of the planned jobs of ``rule`` in a dry run's job listing."""
    outputs, current = [], None
    for line in output_text(result).splitlines():
        stripped = line.strip()
        if stripped in (f"rule {rule}:", f"localrule {rule}:") or (
                rule == "simulate" and stripped.startswith("rule simulate_")):
            current = rule
        elif stripped.startswith(("rule ", "localrule ")):
            current = None
        elif current and stripped.startswith("output:"):
            outputs.extend(part.strip() for part in stripped.removeprefix("output:").split(","))
    return outputs


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, http_mirror) -> Workflow:
    directory = tmp_path_factory.mktemp("workflow")
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, directory / name)
        else:
            shutil.copy2(source, directory / name)
    environment = dict(os.environ, BYZSIM_LIBSVM_MIRROR=http_mirror)
    copy = Workflow(directory, environment, None, 0.0)
    started = time.perf_counter()
    copy.first_run = copy.snakemake("--cores", "2", "--configfile", "config/quick.yaml")
    copy.first_run_seconds = time.perf_counter() - started
    print(f"quick profile end to end: {copy.first_run_seconds:.1f} s")
    return copy


def test_quick_run_succeeds(workflow):
    assert workflow.first_run.returncode == 0, output_text(workflow.first_run)[-5000:]
    assert "steps (100%) done" in output_text(workflow.first_run)


def test_quick_figures_valid(workflow):
    for figure in FIGURES:
        pdf = workflow.directory / "figures" / f"{figure}.pdf"
        png = workflow.directory / "figures" / f"{figure}.png"
        assert pdf.read_bytes()[:5] == b"%PDF-", pdf
        header = png.read_bytes()[:24]
        assert header[:8] == PNG_SIGNATURE, png
        width, height = struct.unpack(">II", header[16:24])
        assert width > 500, (png, width)
        assert height > 200, (png, height)


def test_quick_tables_valid(workflow):
    tables = workflow.directory / "results" / "tables"
    for stem in TABLES:
        for suffix in ("md", "tex"):
            assert (tables / f"{stem}.{suffix}").stat().st_size > 0
        assert len(pd.read_csv(tables / f"{stem}.csv")) > 0
    datasets = pd.read_csv(tables / "table2_datasets.csv").set_index("dataset")
    assert datasets.loc["phishing", "N (samples)"] == 11055
    assert datasets.loc["phishing", "d (features)"] == 68
    assert datasets.loc["w8a", "N (samples)"] == 49749
    assert datasets.loc["w8a", "d (features)"] == 300
    assert "\\begin{tabular}" in (tables / "table3_stepsizes.tex").read_text()


def test_quick_store_valid(workflow):
    runs = workflow.directory / "results" / "runs"
    files = sorted(runs.rglob("run.parquet"))
    assert len(files) == QUICK_SIMULATIONS
    for path in files:
        table = pq.read_table(path)
        assert table.schema.names == store.SCHEMA.names, path
        assert table.num_rows > 0, path
    frame = store.load(runs, experiment="figure8")
    assert sorted(frame["seed"].unique()) == [0, 1, 2]
    assert set(frame["aggregator"]) == {"mean", "cm", "gm"}


def test_quick_selection_valid(workflow):
    for experiment in EXPERIMENTS:
        selection = read_selection(workflow.directory / "results" / "selection" / f"{experiment}.csv")
        assert list(selection.columns) == list(SELECTION_COLUMNS)
        assert set(selection["experiment"]) == {experiment}
        per_cell = selection.groupby(["dataset", "method", "attack", "aggregator"])
        assert (per_cell["selected"].sum() <= 1).all()
        expected_candidates = 1 if experiment == "figure8" else 2
        assert (per_cell.size() == expected_candidates).all()


def test_quick_claims_written(workflow):
    claims = pd.read_csv(workflow.directory / "results" / "claims.csv", keep_default_na=False)
    assert len(claims) > 0
    assert set(claims["reproduced"]) <= {"yes", "no", "not run"}
    assert (workflow.directory / "results" / "claims.md").read_text().startswith("# Claims")


def test_quick_logs_written(workflow):
    logs = sorted((workflow.directory / "logs" / "simulate").rglob("*.log"))
    assert len(logs) == QUICK_CELLS
    for log in logs:
        assert "run specification" in log.read_text(), log
    benchmarks = sorted((workflow.directory / "logs" / "benchmarks").rglob("*.tsv"))
    assert len(benchmarks) == QUICK_CELLS + 2 + 2 + 5 + 8 + 2 + 1


def test_noop_rerun_plans_nothing(workflow):
    started = time.perf_counter()
    result = workflow.dry_run()
    print(f"no-op dry run: {time.perf_counter() - started:.1f} s")
    assert "Nothing to be done" in output_text(result)
    assert job_counts(result) == {}


def test_added_attack_plans_new_jobs(workflow):
    result = workflow.dry_run("--config", "experiments={figure1: {attacks: [bf, alie, ipm]}}")
    # One batched job per new cell (3 methods), each writing its 2 multipliers' files.
    assert job_counts(result) == {
        "simulate": 3, "select_stepsizes": 1, "plot_figure": 1, "check_claims": 1, "reproduce_all": 1,
    }
    planned = planned_outputs(result, "simulate")
    assert len(planned) == 6
    assert all("experiment=figure1/" in path and "/attack=ipm/" in path for path in planned)


def test_added_multiplier_reruns_its_cells(workflow):
    # A batched job holds every multiplier of its cell, so the 12 cells of figure2 rerun
    # (3 methods x 2 attacks x 2 datasets); no other experiment is touched.
    overlay = workflow.write_overlay("more_multipliers.yaml",
                                     {"experiments": {"figure2": {"multipliers": [1, 8, 16]}}})
    result = workflow.dry_run(overlay=overlay)
    assert job_counts(result) == {
        "simulate": 12, "select_stepsizes": 1, "plot_figure": 2, "check_claims": 1, "reproduce_all": 1,
    }
    planned = planned_outputs(result, "simulate")
    assert len(planned) == 36
    assert all("experiment=figure2/" in path for path in planned)
    assert sum("/multiplier=16/" in path for path in planned) == 12


def test_unbatched_jobs_one_per_multiplier(workflow):
    overlay = workflow.write_overlay("unbatched.yaml", {"workflow": {"batch_multipliers": False}})
    result = workflow.snakemake("-n", "--configfile", "config/quick.yaml", overlay,
                                "--forceall", "simulations")
    assert result.returncode == 0, output_text(result)[-3000:]
    assert job_counts(result)["simulate"] == QUICK_SIMULATIONS
    assert "rule simulate:" in output_text(result)


def test_added_aggregator_plans_new_jobs(workflow):
    overlay = workflow.write_overlay("more_aggregators.yaml", {"experiments": {"figure1": {
        "aggregators": ["cm", "gm"], "figures": {"figure1": {"aggregator": "cm"}}}}})
    result = workflow.dry_run(overlay=overlay)
    assert job_counts(result) == {
        "simulate": 6, "select_stepsizes": 1, "plot_figure": 1, "check_claims": 1, "reproduce_all": 1,
    }
    assert all("/aggregator=gm/" in path for path in planned_outputs(result, "simulate"))


def test_added_seed_reruns_its_experiment(workflow):
    # A job holds every seed of its multiplier, so a new seed reruns that experiment's jobs.
    overlay = workflow.write_overlay("more_seeds.yaml", {"experiments": {"figure8": {"seeds": [0, 1, 2, 3]}}})
    result = workflow.dry_run(overlay=overlay)
    assert job_counts(result) == {
        "simulate": 6, "select_stepsizes": 1, "plot_figure": 1, "check_claims": 1, "reproduce_all": 1,
    }
    assert all("experiment=figure8/" in path for path in planned_outputs(result, "simulate"))


def test_bad_attack_names_key(workflow):
    result = workflow.snakemake("-n", "--configfile", "config/quick.yaml",
                                "--config", "experiments={figure1: {attacks: [bf, alei]}}")
    assert result.returncode != 0
    assert ("config key experiments.figure1.attacks[1]: 'alei' is not one of "
            "['none', 'bf', 'lf', 'ipm', 'alie', 'mimic']") in output_text(result)


def test_bad_key_names_allowed_keys(workflow):
    overlay = workflow.write_overlay("typo.yaml", {"experiments": {"figure2": {"iteratons": 10}}})
    result = workflow.snakemake("-n", "--configfile", "config/quick.yaml", overlay)
    assert result.returncode != 0
    text = output_text(result)
    assert "config key experiments.figure2.iteratons is not allowed (did you mean 'iterations'?)" in text
    assert "allowed keys: ['aggregators', 'attack_params'" in text


def test_slurm_profile_dry_run(workflow):
    result = workflow.snakemake("-n", "--profile", "profiles/slurm", "--configfile", "config/quick.yaml",
                                "--forceall", "simulations")
    assert result.returncode == 0, output_text(result)[-3000:]
    text = output_text(result)
    assert "Using profile profiles/slurm" in text
    assert job_counts(result)["simulate"] == QUICK_CELLS
    assert "runtime=120" in text


def test_report_embeds_results(workflow):
    result = workflow.snakemake("--report", "report.html", "--configfile", "config/quick.yaml")
    assert result.returncode == 0, output_text(result)[-3000:]
    report = (workflow.directory / "report.html").read_text(encoding="utf-8")
    for figure in FIGURES:
        assert f"{figure}.png" in report
    for stem in TABLES:
        assert f"{stem}.csv" in report
    assert "one panel per Byzantine attack" in report
    assert "Table 2 of the paper" in report


def test_new_dataset_runs_only_its_jobs(workflow, libsvm_mirror, tmp_path):
    # A new LibSVM dataset: the first 2,000 rows of phishing, in a mirror of its own.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rows = (libsvm_mirror / "phishing").read_text().splitlines()[:2000]
    (mirror / "phishing_head").write_text("\n".join(rows) + "\n")
    overlay = workflow.write_overlay("new_dataset.yaml", {
        # data.mirror wins over BYZSIM_LIBSVM_MIRROR, whose server lacks this file.
        "data": {"mirror": str(mirror)},
        "datasets": {"phishing_head": {"file": "phishing_head", "rows": 2000, "features": 68}},
        "experiments": {"figure2": {"datasets": ["phishing", "w8a", "phishing_head"]}},
    })
    planned = workflow.dry_run(overlay=overlay)
    assert job_counts(planned) == {
        "download_dataset": 1, "cache_dataset": 1, "simulate": 6, "select_stepsizes": 1,
        "plot_figure": 2, "check_claims": 1, "reproduce_all": 1,
    }
    assert all("/dataset=phishing_head/" in path for path in planned_outputs(planned, "simulate"))

    result = workflow.snakemake("--cores", "2", "--configfile", "config/quick.yaml", overlay)
    assert result.returncode == 0, output_text(result)[-5000:]
    frame = store.load(workflow.directory / "results" / "runs", experiment="figure2", dataset="phishing_head")
    assert frame.groupby(["method", "attack", "multiplier"]).ngroups == 12
    assert "Nothing to be done" in output_text(workflow.dry_run(overlay=overlay))
