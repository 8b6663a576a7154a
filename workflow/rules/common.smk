# Shared state of the workflow: the validated config, the job grid, and the helper
# functions of the rules (Snakemake's linter asks to keep them apart from rules).

import json
import re

import byzsim.config
import byzsim.store

# Validates the merged config (config/config.yaml, --configfile, --config) and fills
# every default of workflow/schemas/config.schema.yaml; raises ConfigError naming the key.
byzsim.config.validate_config(config)

RUNS_ROOT = byzsim.config.RUNS_ROOT
DATA_DIR = config["data"]["dir"].rstrip("/")
JOBS = byzsim.config.expand_jobs(config)
FIGURES = byzsim.config.figure_settings(config)
EXPERIMENTS = list(config["experiments"])
TABLE_STEMS = ["table1_rates", "table2_datasets", "table3_stepsizes"]
TABLE_FORMATS = ["csv", "md", "tex"]

# Path of each job's result file, built by the store so the multiplier folder text is
# the store's canonical one (1, 0.5, 64).
RUN_FILES = {job: str(byzsim.store.run_path(RUNS_ROOT, job.identity())) for job in JOBS}
JOB_BY_FILE = {path: job for job, path in RUN_FILES.items()}


def _alternatives(names):
    """Regex matching exactly one of ``names`` (used to constrain wildcards)."""
    return "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True)) or "(?!)"


wildcard_constraints:
    experiment="[^/]+",
    dataset="[^/]+",
    method="[^/]+",
    attack="[^/]+",
    aggregator="[^/]+",
    multiplier="[^/]+",


def run_files(experiment, **filters):
    """Result files of ``experiment`` whose job matches every filter (job field -> value)."""
    return [
        path
        for job, path in RUN_FILES.items()
        if job.experiment == experiment
        and all(getattr(job, key) == value for key, value in filters.items())
    ]


def figure_run_files(figure):
    """Result files drawn by one figure: its experiment, dataset and fixed aggregator or attack."""
    settings = FIGURES[figure]
    fixed = "aggregator" if settings["kind"] == "attacks" else "attack"
    return run_files(settings["experiment"], dataset=settings["dataset"], **{fixed: settings[fixed]})


def dataset_cache(name):
    """Parsed-array cache of a registry dataset, written by rule cache_dataset."""
    return f"{DATA_DIR}/{name}.npz"


def job_of(wildcards):
    """The job whose result file the wildcards name; raises for a file outside the grid."""
    path = str(byzsim.store.run_path(RUNS_ROOT, dict(wildcards)))
    try:
        return JOB_BY_FILE[path]
    except KeyError:
        raise ValueError(
            f"{path} is not a job of the config's grid; check experiment "
            f"{wildcards.experiment!r} in config/config.yaml"
        ) from None


def job_spec_json(wildcards):
    """Run specification of one job as canonical JSON (sorted keys).

    It is the only parameter of a simulation job, so Snakemake's params trigger reruns
    exactly the jobs whose own specification changed.
    """
    spec = byzsim.config.build_spec(config, job_of(wildcards))
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def cell_spec_json(jobs):
    """Run specification of one grid cell: every multiplier of ``jobs`` in one batch."""
    spec = byzsim.config.build_spec(config, jobs[0])
    spec["multipliers"] = [float(job.multiplier) for job in jobs]
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def simulation_inputs(wildcards):
    """Parsed dataset of a simulation job; the quadratic problem needs none."""
    job = job_of(wildcards)
    if job.dataset == "quadratic":
        return []
    return [dataset_cache(job.dataset)]


def figure_settings_json(wildcards):
    """Drawing options of one figure as canonical JSON, its plot job's parameter."""
    return json.dumps(FIGURES[wildcards.figure], sort_keys=True)


def figure_caption(wildcards):
    """Caption of the figure for the Snakemake report (byzsim.figures.caption)."""
    import byzsim.figures

    settings = FIGURES[wildcards.figure]
    return byzsim.figures.caption(
        kind=settings["kind"],
        x=settings["x"],
        y=settings["y"],
        dataset=settings["dataset"],
        normalize=settings["normalize"],
        title=settings["title"],
    )


def table_outputs(stem):
    """Outputs of one table; the CSV is embedded in the Snakemake report."""
    return {
        "csv": report(
            f"results/tables/{stem}.csv",
            caption=f"../report/{stem}.rst",
            category="Tables",
            labels={"table": stem},
        ),
        "md": f"results/tables/{stem}.md",
        "tex": f"results/tables/{stem}.tex",
    }


# Figure number -> (experiment, dataset) for the figures named figure<N> in the config;
# the claims of a figure missing here are reported as "not run".
PAPER_FIGURES = {
    int(name[len("figure"):]): [settings["experiment"], settings["dataset"]]
    for name, settings in FIGURES.items()
    if re.fullmatch(r"figure[1-8]", name)
}
