"""Tests of the Parquet result store and of ``byzsim results``."""

from __future__ import annotations

import datetime
import hashlib
import json
import multiprocessing
import os
import platform
import re
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import byzsim
from byzsim import store
from byzsim.cli import main

IDENTITY = {
    "experiment": "figure2", "dataset": "phishing", "setting": "heterogeneous",
    "problem": "logistic-nonconvex", "method": "byz-dasha-page", "attack": "alie",
    "aggregator": "cm", "bucket_size": 2, "compressor": "randk(K=6)", "multiplier": 1.0,
}
CONFIG = {"experiment": "figure2", "method": "byz-dasha-page", "multipliers": [1.0], "seeds": [0, 1]}


def make_frame(seeds=(0, 1), iterations=5, rng_seed=0, **identity) -> pd.DataFrame:
    """Build a trajectory table of ``len(seeds)`` runs with ``iterations`` records each."""
    values = {**IDENTITY, **identity}
    rng = np.random.default_rng(rng_seed)
    rows = len(seeds) * iterations
    frame = pd.DataFrame({key: [value] * rows for key, value in values.items()})
    frame["stepsize"] = 0.01 * float(values["multiplier"])
    frame["seed"] = np.repeat(np.asarray(seeds, dtype=np.int64), iterations)
    frame["iteration"] = np.tile(np.arange(iterations, dtype=np.int64) * 10, len(seeds))
    frame["bits_up"] = frame["iteration"] * 64
    frame["bits_down"] = frame["iteration"] * 32
    frame["grad_norm_sq"] = rng.random(rows)
    frame["optimality_gap"] = rng.random(rows)
    frame["estimator_norm_sq"] = rng.random(rows)
    frame["diverged"] = False
    return frame[list(store.SCHEMA.names)]


def write(root: Path, frame: pd.DataFrame, config=None, wall_time_s=1.5) -> Path:
    identity = frame.iloc[0].to_dict()
    return store.write_run(store.run_path(root, identity), frame, config or CONFIG, wall_time_s)


def assert_store_dtypes(frame: pd.DataFrame) -> None:
    for field in store.SCHEMA:
        column = frame[field.name]
        if pa.types.is_string(field.type):
            assert pd.api.types.is_string_dtype(column), field.name
            assert not isinstance(column.dtype, pd.CategoricalDtype), field.name
        else:
            assert column.dtype == np.dtype(field.type.to_pandas_dtype()), field.name


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "value, text",
    [(1, "1"), (1.0, "1"), (0.5, "0.5"), (0.1, "0.1"), (1e-05, "1e-05"), (64, "64"),
     (1e16, "1e+16"), (2.5e-07, "2.5e-07"), ("0.50", "0.5"), (np.float64(4.0), "4")],
)
def test_format_multiplier_canonical(value, text):
    assert store.format_multiplier(value) == text
    assert float(text) == float(value)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True, "abc", None])
def test_format_multiplier_rejects(value):
    with pytest.raises(ValueError, match="multiplier"):
        store.format_multiplier(value)


def test_run_path_layout(tmp_path):
    path = store.run_path(tmp_path, {**IDENTITY, "multiplier": 0.5})
    expected = (tmp_path / "experiment=figure2" / "dataset=phishing" / "method=byz-dasha-page"
                / "attack=alie" / "aggregator=cm" / "multiplier=0.5" / "run.parquet")
    assert path == expected


def test_run_path_missing_key(tmp_path):
    identity = {key: value for key, value in IDENTITY.items() if key != "attack"}
    with pytest.raises(ValueError, match="attack"):
        store.run_path(tmp_path, identity)


@pytest.mark.parametrize("method", ["a/b", "", "_hidden", ".dot", "x y", "a%2Fb"])
def test_run_path_rejects_folder_text(tmp_path, method):
    with pytest.raises(ValueError, match="invalid method"):
        store.run_path(tmp_path, {**IDENTITY, "method": method})


# --------------------------------------------------------------------------- round trip


def test_round_trip_columns(tmp_path):
    frame = make_frame()
    frame.loc[3, "optimality_gap"] = np.nan  # null: f* unknown in this row
    frame.loc[4, "grad_norm_sq"] = np.nan  # NaN of a diverged record stays a value
    frame.loc[4, "diverged"] = True
    path = write(tmp_path, frame)

    loaded = store.load(tmp_path)
    assert_store_dtypes(loaded)
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)

    table = pq.read_table(path)
    assert table.schema.equals(store.SCHEMA, check_metadata=False)
    assert table.column("optimality_gap").null_count == 1
    assert table.column("grad_norm_sq").null_count == 0
    assert np.isnan(table.column("grad_norm_sq")[4].as_py())


def test_metadata_round_trip(tmp_path):
    path = write(tmp_path, make_frame(), wall_time_s=12.25)
    metadata = store.read_metadata(path)

    assert set(metadata) == set(store.METADATA_KEYS)
    assert metadata["config"] == CONFIG
    canonical = json.dumps(CONFIG, sort_keys=True, separators=(",", ":"))
    assert metadata["config_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert metadata["byzsim_version"] == byzsim.__version__
    assert metadata["numpy_version"] == np.__version__
    assert metadata["pandas_version"] == pd.__version__
    assert metadata["pyarrow_version"] == pa.__version__
    assert metadata["python_version"] == platform.python_version()
    assert metadata["seeds"] == [0, 1]
    assert metadata["wall_time_s"] == 12.25
    assert metadata["store_format"] == store.STORE_FORMAT
    created = datetime.datetime.fromisoformat(metadata["created_utc"])
    assert created.utcoffset() == datetime.timedelta(0)
    age = datetime.datetime.now(datetime.timezone.utc) - created
    assert datetime.timedelta(0) <= age < datetime.timedelta(minutes=5)
    assert metadata["git_commit"] == store.source_revision()["git_commit"]


def test_metadata_explicit_seeds(tmp_path):
    frame = make_frame(seeds=(3, 7))
    path = store.write_run(store.run_path(tmp_path, IDENTITY), frame, CONFIG, 1.0, seeds=[7, 3])
    assert store.read_metadata(path)["seeds"] == [3, 7]
    with pytest.raises(ValueError, match=r"seeds \[3, 8\]"):
        store.write_run(store.run_path(tmp_path, IDENTITY), frame, CONFIG, 1.0, seeds=[3, 8])


def test_metadata_rejects_bad_config(tmp_path):
    with pytest.raises(ValueError, match="JSON"):
        write(tmp_path, make_frame(), config={"gamma": float("nan")})
    with pytest.raises(ValueError, match="JSON"):
        write(tmp_path, make_frame(), config={"rng": object()})


@pytest.mark.parametrize("wall_time_s", [-1.0, float("inf"), "fast"])
def test_write_rejects_wall_time(tmp_path, wall_time_s):
    with pytest.raises(ValueError, match="wall_time_s"):
        write(tmp_path, make_frame(), wall_time_s=wall_time_s)


def git(repository: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(repository), "-c", "user.name=Test", "-c", "user.email=test@example.org",
         *args], capture_output=True, text=True, check=True,
    )
    return completed.stdout.strip()


def test_source_revision_git(tmp_path):
    package = tmp_path / "repository" / "byzsim"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("x = 1\n")
    git(package.parent, "init", "--quiet")
    assert store.source_revision(package) == {"git_commit": None, "git_dirty": None}

    git(package.parent, "add", ".")
    git(package.parent, "commit", "--quiet", "-m", "initial")
    head = git(package.parent, "rev-parse", "HEAD")
    assert store.source_revision(package) == {"git_commit": head, "git_dirty": False}

    (package / "__init__.py").write_text("x = 2\n")
    assert store.source_revision(package) == {"git_commit": head, "git_dirty": True}


def test_source_revision_other_repository(tmp_path):
    # A package folder below a checkout's top level (for example in a virtualenv inside
    # another repository) must not report that checkout's commit.
    package = tmp_path / "repository" / ".venv" / "site-packages" / "byzsim"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    git(tmp_path / "repository", "init", "--quiet")
    git(tmp_path / "repository", "commit", "--quiet", "--allow-empty", "-m", "initial")
    assert store.source_revision(package) == {"git_commit": None, "git_dirty": None}


def test_source_revision_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable on PATH
    assert store.source_revision() == {"git_commit": None, "git_dirty": None}


# --------------------------------------------------------------------------- schema


def test_integral_float_stays_float(tmp_path):
    frame = make_frame(multiplier=64)
    for column in ("grad_norm_sq", "optimality_gap", "estimator_norm_sq", "stepsize"):
        frame[column] = np.arange(len(frame), dtype=np.int64)
    assert frame["multiplier"].dtype == np.int64
    path = write(tmp_path, frame)

    schema = pq.read_schema(path)
    for column in ("multiplier", "stepsize", "grad_norm_sq", "optimality_gap", "estimator_norm_sq"):
        assert schema.field(column).type == pa.float64(), column
    loaded = store.load(tmp_path)
    assert_store_dtypes(loaded)
    assert loaded["multiplier"].tolist() == [64.0] * len(frame)


def test_integral_floats_for_int_columns(tmp_path):
    frame = make_frame()
    frame["bits_up"] = frame["bits_up"].astype(np.float64)
    write(tmp_path, frame)
    assert store.load(tmp_path)["bits_up"].dtype == np.int64

    frame["bits_up"] = frame["bits_up"] + 0.5
    with pytest.raises(ValueError, match="'bits_up'"):
        write(tmp_path, frame)


def test_schema_missing_extra_columns(tmp_path):
    frame = make_frame().drop(columns=["bits_down"]).assign(loss=1.0)
    with pytest.raises(ValueError, match="missing columns bits_down; unknown columns loss"):
        write(tmp_path, frame)


def test_schema_rejects_nulls(tmp_path):
    frame = make_frame()
    frame["seed"] = pd.array([0, None] * 5, dtype="Int64")
    with pytest.raises(ValueError, match="'seed' contains 5 missing values"):
        store.write_run(store.run_path(tmp_path, IDENTITY), frame, CONFIG, 1.0)


def test_schema_rejects_text_numbers(tmp_path):
    frame = make_frame()
    frame["experiment"] = 7
    with pytest.raises(ValueError, match="'experiment'"):
        store.write_run(tmp_path / "run.parquet", frame, CONFIG, 1.0)


def test_write_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match="no rows"):
        store.write_run(tmp_path / "run.parquet", make_frame().iloc[:0], CONFIG, 1.0)


def test_write_rejects_folder_mismatch(tmp_path):
    path = store.run_path(tmp_path, {**IDENTITY, "multiplier": 1.0})
    with pytest.raises(ValueError, match=r"multiplier=1"):
        store.write_run(path, make_frame(multiplier=0.5), CONFIG, 1.0)
    mixed = pd.concat([make_frame(method="byz-ef21"), make_frame()], ignore_index=True)
    with pytest.raises(ValueError, match="method"):
        store.write_run(path, mixed, CONFIG, 1.0)
    assert not path.exists()


def test_write_outside_layout(tmp_path):
    # A file outside the layout may contain any identities, for example several multipliers.
    frame = pd.concat([make_frame(), make_frame(multiplier=0.5)], ignore_index=True)
    path = store.write_run(tmp_path / "all.parquet", frame, CONFIG, 1.0)
    assert pq.read_metadata(path).num_rows == len(frame)


# --------------------------------------------------------------------------- atomicity


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    frame = make_frame()
    path = write(tmp_path, frame)
    before = path.read_bytes()

    def fail_midway(table, where, **kwargs):
        where.write(b"PAR1 partial content")
        raise OSError("disk full")

    monkeypatch.setattr(store.pq, "write_table", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path, make_frame(rng_seed=1))
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == ["run.parquet"]


def test_written_file_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        path = write(tmp_path, make_frame())
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


def _concurrent_writer(root: str, tag: int, rounds: int, barrier) -> None:
    for round_index in range(rounds):
        barrier.wait()
        frame = make_frame(seeds=tuple(range(8)), iterations=5000, rng_seed=1000 * round_index + tag)
        frame["bits_up"] = tag
        config = {**CONFIG, "writer": tag, "round": round_index}
        store.write_run(store.run_path(root, IDENTITY), frame, config, float(tag))
        barrier.wait()


@pytest.mark.slow
def test_concurrent_writers_one_wins(tmp_path):
    rounds = 4
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3, timeout=120)
    writers = [
        context.Process(target=_concurrent_writer, args=(str(tmp_path), tag, rounds, barrier))
        for tag in (1, 2)
    ]
    for writer in writers:
        writer.start()
    path = store.run_path(tmp_path, IDENTITY)
    try:
        for round_index in range(rounds):
            barrier.wait()  # both writers start
            barrier.wait()  # both writers finished
            metadata = store.read_metadata(path)
            tag = metadata["config"]["writer"]
            assert metadata["config"]["round"] == round_index
            assert metadata["wall_time_s"] == float(tag)
            expected = make_frame(seeds=tuple(range(8)), iterations=5000,
                                  rng_seed=1000 * round_index + tag)
            expected["bits_up"] = tag
            pd.testing.assert_frame_equal(store.load(tmp_path), expected, check_dtype=False)
            assert sorted(os.listdir(path.parent)) == ["run.parquet"]
    finally:
        for writer in writers:
            writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]


# --------------------------------------------------------------------------- corruption


def truncate(path: Path, missing_bytes: int = 100) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size - missing_bytes)


def test_truncated_file_load(tmp_path):
    write(tmp_path, make_frame(multiplier=0.5))
    damaged = write(tmp_path, make_frame())
    truncate(damaged)
    with pytest.raises(store.CorruptResultError) as error:
        store.load(tmp_path)
    assert error.value.path == damaged
    assert str(damaged) in str(error.value)
    assert "delete it and rerun" in str(error.value)
    assert len(store.load(tmp_path, multiplier=0.5)) == 10


def test_truncated_file_metadata(tmp_path):
    damaged = write(tmp_path, make_frame())
    truncate(damaged, missing_bytes=1)
    with pytest.raises(store.CorruptResultError, match=re.escape(str(damaged))):
        store.read_metadata(damaged)
    with pytest.raises(store.CorruptResultError, match=re.escape(str(damaged))):
        store.summary(tmp_path)


# --------------------------------------------------------------------------- loading


@pytest.fixture()
def three_multipliers(tmp_path) -> Path:
    for multiplier in (1.0, 0.1, 1e-05):
        write(tmp_path, make_frame(multiplier=multiplier))
    return tmp_path


def test_partition_type_stability(three_multipliers):
    together = store.load(three_multipliers)
    assert_store_dtypes(together)
    assert sorted(together["multiplier"].unique()) == [1e-05, 0.1, 1.0]
    for multiplier in (1.0, 0.1, 1e-05):
        alone = store.load(three_multipliers, multiplier=multiplier)
        assert_store_dtypes(alone)
        assert alone["multiplier"].unique().tolist() == [multiplier]
        assert (alone.dtypes == together.dtypes).all()
        folder = store.run_path(three_multipliers, {**IDENTITY, "multiplier": multiplier}).parent
        read_directly = pd.read_parquet(folder, partitioning=None)
        assert (read_directly.dtypes == together.dtypes).all()


@pytest.mark.parametrize("value", [1, "1", 1.0, np.float64(1.0), "1.0", [1], (1, 64)])
def test_load_filter_as_written(three_multipliers, value):
    loaded = store.load(three_multipliers, multiplier=value)
    assert loaded["multiplier"].unique().tolist() == [1.0]
    assert len(loaded) == 10


def test_load_filter_lists(three_multipliers):
    loaded = store.load(three_multipliers, multiplier=["0.1", 1e-05])
    assert sorted(loaded["multiplier"].unique()) == [1e-05, 0.1]
    assert store.load(three_multipliers, seed="1")["seed"].unique().tolist() == [1]
    assert len(store.load(three_multipliers, bucket_size=2.0)) == 30
    assert store.load(three_multipliers, bucket_size=1).empty
    assert len(store.load(three_multipliers, method=["byz-dasha-page", "byz-ef21"])) == 30
    assert store.load(three_multipliers, method="byz-ef21").empty
    assert len(store.load(three_multipliers, compressor="randk(K=6)", stepsize=0.001)) == 10


def test_load_empty_keeps_schema(three_multipliers):
    loaded = store.load(three_multipliers, experiment="figure9")
    assert loaded.empty
    assert loaded.columns.tolist() == list(store.SCHEMA.names)


def test_load_unknown_filter(three_multipliers):
    with pytest.raises(ValueError, match="unknown filter 'gamma'; valid filters: experiment, dataset"):
        store.load(three_multipliers, gamma=1)


@pytest.mark.parametrize("key, value", [("multiplier", "abc"), ("seed", 1.5), ("seed", True),
                                        ("method", 0.5)])
def test_load_invalid_filter_value(three_multipliers, key, value):
    with pytest.raises(ValueError, match=f"invalid {key} filter"):
        store.load(three_multipliers, **{key: value})


def test_load_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="result store"):
        store.load(tmp_path / "absent")


def test_load_root_inside_layout(three_multipliers):
    experiment_folder = three_multipliers / "experiment=figure2"
    assert len(store.load(experiment_folder)) == 30
    assert len(store.load(experiment_folder, multiplier=0.1)) == 10
    job_folder = store.run_path(three_multipliers, IDENTITY).parent
    assert store.load(job_folder)["multiplier"].unique().tolist() == [1.0]


def test_load_ignores_temporary_files(three_multipliers):
    folder = store.run_path(three_multipliers, IDENTITY).parent
    (folder / ".run.parquet.0123.tmp").write_bytes(b"PAR1 partial")
    assert len(store.load(three_multipliers)) == 30


def test_summary_one_row_per_run(tmp_path):
    frame = make_frame(seeds=(0, 1), iterations=4)
    frame.loc[frame["seed"] == 1, "diverged"] = [False, False, True, True]
    frame.loc[frame["seed"] == 0, "optimality_gap"] = [4.0, 3.0, 2.0, np.nan]
    write(tmp_path, frame, wall_time_s=7.5)
    write(tmp_path, make_frame(multiplier=0.5), wall_time_s=2.0)

    runs = store.summary(tmp_path)
    assert runs.columns.tolist() == list(store.SUMMARY_COLUMNS)
    assert len(runs) == 4
    run = runs[(runs["multiplier"] == 1.0) & (runs["seed"] == 0)].iloc[0]
    trajectory = frame[frame["seed"] == 0]
    assert run["iterations"] == 30
    assert run["final_grad_norm_sq"] == trajectory["grad_norm_sq"].iloc[-1]
    assert run["best_grad_norm_sq"] == trajectory["grad_norm_sq"].min()
    assert np.isnan(run["final_optimality_gap"])
    assert run["final_bits_up"] == 30 * 64
    assert not run["diverged"]
    assert run["job_wall_time_s"] == 7.5
    diverged = runs[(runs["multiplier"] == 1.0) & (runs["seed"] == 1)].iloc[0]
    assert diverged["diverged"]
    assert runs.loc[runs["multiplier"] == 0.5, "job_wall_time_s"].tolist() == [2.0, 2.0]


def test_summary_filters(tmp_path):
    write(tmp_path, make_frame())
    write(tmp_path, make_frame(attack="ipm"))
    runs = store.summary(tmp_path, attack="ipm", seed=[0])
    assert runs["attack"].tolist() == ["ipm"]
    assert runs["seed"].tolist() == [0]
    assert store.summary(tmp_path, attack="lf").empty


# --------------------------------------------------------------------------- readers without byzsim


def test_pandas_reads_store(three_multipliers):
    frame = pd.read_parquet(three_multipliers, partitioning=None)
    assert_store_dtypes(frame)
    assert len(frame) == 30
    filtered = pd.read_parquet(three_multipliers, partitioning=None, filters=[("multiplier", "==", 1)])
    assert filtered["multiplier"].unique().tolist() == [1.0]


def test_pandas_inferred_partitions_fail(three_multipliers):
    # The module docstring promises an error, not silently changed types.
    with pytest.raises(pa.ArrowTypeError):
        pd.read_parquet(three_multipliers)


def test_pyarrow_reads_store(three_multipliers):
    dataset = ds.dataset(three_multipliers, format="parquet", partitioning="hive",
                         schema=store.SCHEMA)
    table = dataset.to_table()
    assert table.schema.equals(store.SCHEMA)
    assert table.num_rows == 30
    selected = dataset.to_table(filter=ds.field("multiplier") == 1e-05)
    assert selected.column("multiplier").unique().to_pylist() == [1e-05]

    some_file = next(three_multipliers.rglob("run.parquet"))
    by_file_schema = ds.dataset(three_multipliers, format="parquet", partitioning="hive",
                                schema=pq.read_schema(some_file))
    assert by_file_schema.to_table().num_rows == 30


DUCKDB_QUERY = (
    "SELECT * FROM read_parquet('{root}/**/*.parquet', hive_partitioning=true, "
    "hive_types_autocast=false, hive_types={{'multiplier': DOUBLE}}) {where}"
)


@pytest.mark.parametrize("where", ["", "WHERE multiplier = 1", "WHERE multiplier = 1e-05"])
def test_duckdb_reads_store(three_multipliers, where):
    frame = duckdb.sql(DUCKDB_QUERY.format(root=three_multipliers, where=where)).df()
    assert_store_dtypes(frame)
    assert len(frame) == (30 if not where else 10)


def test_duckdb_one_folder_same_types(three_multipliers):
    folder = three_multipliers / "experiment=figure2"
    together = duckdb.sql(DUCKDB_QUERY.format(root=three_multipliers, where="")).df()
    single = duckdb.sql(DUCKDB_QUERY.format(root=folder, where="WHERE multiplier = 1")).df()
    assert (single.dtypes == together.dtypes).all()


# --------------------------------------------------------------------------- command line


def test_cli_list(three_multipliers, capsys):
    assert main(["results", "list", "--root", str(three_multipliers)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["experiment", "dataset", "method", "attack", "aggregator",
                                "multiplier", "seeds", "rows"]
    assert len(lines) == 4
    assert lines[1].split() == ["figure2", "phishing", "byz-dasha-page", "alie", "cm", "0.1", "0,1", "10"]
    assert {line.split()[5] for line in lines[1:]} == {"0.1", "1", "1e-05"}


def test_cli_list_filter(three_multipliers, capsys):
    assert main(["results", "list", "--root", str(three_multipliers), "--multiplier", "1e-5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[1].split()[5] == "1e-05"


def test_cli_summary(three_multipliers, capsys):
    write(three_multipliers, make_frame(method="byz-ef21"))
    assert main(["results", "summary", "--root", str(three_multipliers), "--method",
                 "byz-dasha-page", "--multiplier", "1", "0.1"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "method: byz-dasha-page" in lines
    assert "experiment: figure2" in lines
    header = next(line for line in lines if line.lstrip().startswith("multiplier"))
    table = lines[lines.index(header):]
    assert header.split()[:3] == ["multiplier", "stepsize", "seed"]
    assert len(table) == 5
    assert len({len(line) for line in table}) == 1  # aligned columns
    assert "4 runs" in captured.err


def test_cli_summary_no_match(three_multipliers, capsys):
    assert main(["results", "summary", "--root", str(three_multipliers), "--attack", "lf"]) == 0
    assert "no runs" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_export(three_multipliers, tmp_path, capsys, fmt):
    out = tmp_path / "exports" / f"selection.{fmt}"
    assert main(["results", "export", "--format", fmt, str(out), "--root", str(three_multipliers),
                 "--multiplier", "0.1", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    expected = store.load(three_multipliers, multiplier=[0.1, 1])
    exported = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    pd.testing.assert_frame_equal(exported, expected, check_dtype=False)
    assert sorted(os.listdir(out.parent)) == [out.name]


def test_cli_export_suffix_format(three_multipliers, tmp_path):
    out = tmp_path / "all.parquet"
    assert main(["results", "export", str(out), "--root", str(three_multipliers)]) == 0
    assert pq.read_table(out).schema.equals(store.SCHEMA, check_metadata=False)
    sources = json.loads(pq.read_schema(out).metadata[b"byzsim.sources"])
    expected_sources = {
        str(path): store.read_metadata(path)["config_sha256"]
        for path in three_multipliers.rglob("run.parquet")
    }
    assert {source["path"]: source["config_sha256"] for source in sources} == expected_sources
    assert main(["results", "export", str(tmp_path / "all.json"), "--root",
                 str(three_multipliers)]) == 2


def test_cli_export_no_match(three_multipliers, tmp_path, caplog):
    out = tmp_path / "none.csv"
    assert main(["results", "export", str(out), "--root", str(three_multipliers),
                 "--dataset", "w8a"]) == 2
    assert not out.exists()
    assert "nothing was exported" in caplog.text


def test_cli_corrupt_file(three_multipliers, caplog):
    damaged = store.run_path(three_multipliers, IDENTITY)
    truncate(damaged)
    assert main(["results", "summary", "--root", str(three_multipliers)]) == 2
    assert str(damaged) in caplog.text
