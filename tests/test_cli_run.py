"""``byzsim run``: one simulation from the command line into a result file."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from byzsim import store
from byzsim.cli import main


def test_run_writes_batched_trajectories(tmp_path, libsvm_mirror, session_data_dir):
    out = tmp_path / "run.parquet"
    status = main(["run", "--method", "byz-dasha-page", "--attack", "alie", "--aggregator", "cm",
                   "--bucket-size", "2", "--dataset", "phishing", "--setting", "heterogeneous",
                   "--multiplier", "1", "16", "--iterations", "40", "--log-every", "10",
                   "--seed", "0", "--data-dir", str(session_data_dir), "--mirror", str(libsvm_mirror),
                   "--out", str(out)])
    assert status == 0
    table = pq.read_table(out).to_pandas()
    assert sorted(table["multiplier"].unique()) == [1.0, 16.0]
    assert len(table) == 2 * 5
    assert set(table["iteration"]) == {0, 10, 20, 30, 40}
    config = store.read_metadata(out)["config"]
    assert config["method"] == "byz-dasha-page"
    assert config["multipliers"] == [1.0, 16.0]


def test_run_print_spec_fills_defaults(capsys):
    status = main(["run", "--method", "byz-ef21", "--compressor", "topk", "--k", "1", "--print-spec"])
    assert status == 0
    spec = json.loads(capsys.readouterr().out)
    assert spec["compressor"] == {"name": "topk", "K": 1}
    assert spec["aggregator"] == {"name": "cm", "bucket_size": 2}
    assert "d" not in spec["problem"]


def test_run_rejects_k_above_dimension(tmp_path, libsvm_mirror, session_data_dir, caplog):
    status = main(["run", "--k", "100", "--iterations", "2", "--data-dir", str(session_data_dir),
                   "--mirror", str(libsvm_mirror), "--out", str(tmp_path / "run.parquet")])
    assert status == 2
    assert "K=100" in caplog.text
    assert not (tmp_path / "run.parquet").exists()


def test_run_reads_registry_from_config(tmp_path, libsvm_mirror):
    # A dataset beyond the built-in registry: the first 1,300 rows of phishing.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rows = (libsvm_mirror / "phishing").read_text().splitlines()[:1300]
    (mirror / "phishing_head").write_text("\n".join(rows) + "\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        "data: {mirror: " + str(mirror) + "}\n"
        "datasets:\n  phishing_head: {file: phishing_head, rows: 1300, features: 68}\n")
    out = tmp_path / "run.parquet"
    status = main(["run", "--dataset", "phishing_head", "--config", str(config), "--iterations", "5",
                   "--log-every", "5", "--data-dir", str(tmp_path / "data"), "--out", str(out)])
    assert status == 0
    frame = pq.read_table(out).to_pandas()
    assert set(frame["dataset"]) == {"phishing_head"}
    assert store.read_metadata(out)["config"]["problem"]["dataset_entry"]["rows"] == 1300
