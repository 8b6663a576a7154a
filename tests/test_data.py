"""Tests of byzsim.data: registry, sources, downloads, the LibSVM parser and the cache."""

from __future__ import annotations

import argparse
import bz2
import contextlib
import gzip
import http.server
import logging
import lzma
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from byzsim import data
from byzsim.cli import data as cli_data
from byzsim.data import (
    DEFAULT_SOURCE,
    MIRROR_ENV,
    DatasetError,
    LibSVMFormatError,
    dataset_table,
    fetch_dataset,
    load_dataset,
    load_libsvm,
    resolve_source,
    validate_registry,
)

TINY_TEXT = "+1 1:0.5 3:1.5\n-1 2:2\n+1 4:-1e-3\n"
TINY_X = np.array([[0.5, 0.0, 1.5, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, -1e-3]])
TINY_Y = np.array([1.0, -1.0, 1.0])
TINY_REGISTRY = {"tiny": {"file": "tiny", "rows": 3, "features": 4}}
PHISHING_CUT_ROWS = 8618


def write_file(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def parse_text(tmp_path: Path, text: str | bytes, n_features: int = 4):
    return load_libsvm(write_file(tmp_path / "input.libsvm", text), n_features)


def parse_error(tmp_path: Path, text: str, n_features: int = 4) -> str:
    path = write_file(tmp_path / "input.libsvm", text)
    with pytest.raises(LibSVMFormatError) as info:
        load_libsvm(path, n_features)
    return str(info.value).removeprefix(f"{path}")


def cut_lines(source: Path, target: Path, n_lines: int) -> Path:
    lines = source.read_bytes().splitlines(keepends=True)
    return write_file(target, b"".join(lines[:n_lines]))


@contextlib.contextmanager
def running_server(handler_class):
    """Serve ``handler_class`` on 127.0.0.1 and yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name is fixed by http.server
        pass


def folder_handler(directory: Path, fail_first: int = 0, status: int = 503):
    """Return a handler class that serves ``directory`` after responding ``status`` to the first requests."""
    requests = []

    class Handler(QuietHandler):
        def do_GET(self):
            requests.append(self.path)
            if len(requests) <= fail_first:
                self.send_error(status)
                return
            path = directory / self.path.lstrip("/")
            if not path.is_file():
                self.send_error(404, "File not found")
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    Handler.requests = requests
    return Handler


def assert_empty(folder: Path) -> None:
    leftovers = sorted(path.name for path in folder.iterdir()) if folder.exists() else []
    assert leftovers == []


@pytest.fixture
def tiny_mirror(tmp_path) -> Path:
    return write_file(tmp_path / "mirror" / "tiny", TINY_TEXT).parent


# ----------------------------------------------------------------------------------------
# Registry


def test_registry_default_entries():
    registry = validate_registry(None)

    assert registry == data.DEFAULT_REGISTRY
    assert registry["phishing"] == {"file": "phishing", "rows": 11055, "features": 68}
    assert registry["w8a"] == {"file": "w8a", "rows": 49749, "features": 300}


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        ([("tiny", {})], "invalid dataset registry [('tiny', {})]: expected a mapping of dataset name"),
        ({"tiny": {"file": "tiny", "rows": 3}}, "registry entry for dataset 'tiny' is missing the key(s) features"),
        (
            {"tiny": {"file": "tiny", "rows": 3, "features": 4, "url": "x"}},
            "registry entry for dataset 'tiny' has unknown key(s) url: the allowed keys are file, rows and features",
        ),
        ({"tiny": {"file": "tiny", "rows": 0, "features": 4}}, "invalid rows 0 in the registry entry for dataset 'tiny'"),
        ({"tiny": {"file": "tiny", "rows": 3, "features": True}}, "invalid features True in the registry entry"),
        ({"tiny": {"file": "tiny", "rows": "3", "features": 4}}, "invalid rows '3' in the registry entry"),
        ({"tiny": {"file": "sub/tiny", "rows": 3, "features": 4}}, "invalid file 'sub/tiny' in the registry entry"),
        ({"tiny": {"file": "", "rows": 3, "features": 4}}, "invalid file '' in the registry entry"),
        ({"tiny": "tiny"}, "invalid registry entry for dataset 'tiny': expected a mapping"),
        ({"../tiny": {"file": "tiny", "rows": 3, "features": 4}}, "invalid dataset name '../tiny'"),
        ({"quadratic": {"file": "q", "rows": 3, "features": 4}}, "it is reserved for the quadratic problem"),
    ],
)
def test_registry_invalid_entry(registry, message):
    with pytest.raises(ValueError) as info:
        validate_registry(registry)

    assert message in str(info.value)


def test_registry_unknown_dataset(tmp_path):
    with pytest.raises(ValueError) as info:
        load_dataset("covtype", data_dir=tmp_path)

    assert str(info.value).startswith("unknown dataset 'covtype' (known datasets: phishing, w8a).")
    assert "datasets section of config/config.yaml" in str(info.value)


def test_registry_custom_entry(tmp_path, tiny_mirror):
    features, labels = load_dataset("tiny", data_dir=tmp_path / "data", mirror=tiny_mirror, registry=TINY_REGISTRY)

    np.testing.assert_array_equal(features, TINY_X)
    np.testing.assert_array_equal(labels, TINY_Y)


# ----------------------------------------------------------------------------------------
# Sources


def test_source_default(monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)

    assert resolve_source(None) == DEFAULT_SOURCE
    assert resolve_source("") == DEFAULT_SOURCE
    assert DEFAULT_SOURCE == "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary/"


def test_source_environment_variable(monkeypatch, tiny_mirror):
    monkeypatch.setenv(MIRROR_ENV, str(tiny_mirror))

    assert resolve_source(None) == tiny_mirror.resolve().as_uri() + "/"


def test_source_argument_wins(monkeypatch, tmp_path, tiny_mirror):
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "missing"))

    assert resolve_source("http://127.0.0.1:9/libsvm") == "http://127.0.0.1:9/libsvm/"
    assert resolve_source(tiny_mirror.as_uri()) == tiny_mirror.resolve().as_uri() + "/"


def test_source_missing_folder(tmp_path):
    with pytest.raises(DatasetError) as info:
        resolve_source(tmp_path / "missing")

    assert str(info.value).startswith(f"mirror folder {tmp_path / 'missing'} from the mirror argument not found.")
    assert MIRROR_ENV in str(info.value)


def test_source_unsupported_scheme():
    with pytest.raises(ValueError) as info:
        resolve_source("ftp://127.0.0.1/libsvm")

    assert "unsupported mirror 'ftp://127.0.0.1/libsvm'" in str(info.value)


# ----------------------------------------------------------------------------------------
# Downloads of the real files


def test_fetch_http_mirror(tmp_path, http_mirror, libsvm_mirror):
    dest = tmp_path / "data"

    path = fetch_dataset("phishing", dest, mirror=http_mirror)

    assert path == dest / "phishing"
    assert path.read_bytes() == (libsvm_mirror / "phishing").read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == ["phishing", "phishing.npz"]


def test_fetch_file_url(tmp_path, libsvm_mirror):
    path = fetch_dataset("w8a", tmp_path, mirror=libsvm_mirror.as_uri())

    assert path.read_bytes() == (libsvm_mirror / "w8a").read_bytes()


def test_fetch_plain_folder(tmp_path, libsvm_mirror):
    path = fetch_dataset("phishing", tmp_path, mirror=str(libsvm_mirror))

    assert path.read_bytes() == (libsvm_mirror / "phishing").read_bytes()


def test_fetch_environment_mirror(tmp_path, monkeypatch, libsvm_mirror):
    monkeypatch.setenv(MIRROR_ENV, str(libsvm_mirror))

    path = fetch_dataset("phishing", tmp_path)

    assert path.read_bytes() == (libsvm_mirror / "phishing").read_bytes()


def test_fetch_logs_progress(tmp_path, http_mirror, caplog):
    caplog.set_level(logging.INFO, logger="byzsim.data")

    fetch_dataset("phishing", tmp_path, mirror=http_mirror)

    assert "phishing: 3,620,168 of 3,620,168 bytes downloaded" in caplog.messages


def test_fetch_existing_not_downloaded(tmp_path, tiny_mirror):
    path = fetch_dataset("tiny", tmp_path, mirror=tiny_mirror, registry=TINY_REGISTRY)
    before = path.stat().st_mtime_ns
    handler = folder_handler(tmp_path / "empty")

    with running_server(handler) as url:
        again = fetch_dataset("tiny", tmp_path, mirror=url, registry=TINY_REGISTRY)

    assert again == path
    assert path.stat().st_mtime_ns == before
    assert handler.requests == []


def test_fetch_existing_without_cache(tmp_path):
    existing = write_file(tmp_path / "tiny", TINY_TEXT)

    path = fetch_dataset("tiny", tmp_path, mirror=tmp_path / "missing", registry=TINY_REGISTRY)

    assert path == existing
    assert path.read_text() == TINY_TEXT
    with np.load(tmp_path / "tiny.npz") as stored:
        assert str(stored["source_sha256"]) == data._sha256(existing)


def test_fetch_existing_invalid_kept(tmp_path, tiny_mirror):
    existing = write_file(tmp_path / "tiny", "+1 1:1\n")

    with pytest.raises(DatasetError) as info:
        fetch_dataset("tiny", tmp_path, mirror=tiny_mirror, registry=TINY_REGISTRY)

    assert "expected (3, 4) (rows, features) from the dataset registry, found (1, 4)" in str(info.value)
    assert "Delete the file to download it again" in str(info.value)
    assert existing.read_text() == "+1 1:1\n"


def test_fetch_phishing_cut_rejected(tmp_path, libsvm_mirror):
    mirror = tmp_path / "mirror"
    cut_lines(libsvm_mirror / "phishing", mirror / "phishing", PHISHING_CUT_ROWS)
    dest = tmp_path / "data"

    with running_server(folder_handler(mirror)) as url:
        with pytest.raises(DatasetError) as info:
            fetch_dataset("phishing", dest, mirror=url)

    message = str(info.value)
    assert message.startswith(f"Download of {url}phishing has the wrong shape: ")
    assert "expected (11055, 68) (rows, features) from the dataset registry, found (8618, 68)" in message
    assert MIRROR_ENV in message
    assert_empty(dest)


# ----------------------------------------------------------------------------------------
# Failed downloads


def test_fetch_http_404(tmp_path, http_mirror):
    registry = {"absent": {"file": "absent", "rows": 1, "features": 1}}
    dest = tmp_path / "data"

    with pytest.raises(DatasetError) as info:
        fetch_dataset("absent", dest, mirror=http_mirror, registry=registry)

    message = str(info.value)
    assert message.startswith(f"Download of {http_mirror}absent failed: HTTP 404 File not found. ")
    assert f"set the environment variable {MIRROR_ENV} or data.mirror in config/config.yaml" in message
    assert_empty(dest)


def test_fetch_http_404_no_retry(tmp_path):
    handler = folder_handler(tmp_path / "empty")
    dest = tmp_path / "data"

    with running_server(handler) as url:
        with pytest.raises(DatasetError):
            fetch_dataset("tiny", dest, mirror=url, registry=TINY_REGISTRY, retries=3, backoff=0.0)

    assert handler.requests == ["/tiny"]
    assert_empty(dest)


def test_fetch_retries_server_error(tmp_path, tiny_mirror, caplog):
    handler = folder_handler(tiny_mirror, fail_first=1, status=503)

    with running_server(handler) as url:
        path = fetch_dataset("tiny", tmp_path, mirror=url, registry=TINY_REGISTRY, retries=1, backoff=0.0)

    assert path.read_text() == TINY_TEXT
    assert handler.requests == ["/tiny", "/tiny"]
    assert any("failed (attempt 1 of 2): HTTP 503" in message for message in caplog.messages)


def test_fetch_server_error_exhausts_retries(tmp_path, tiny_mirror):
    handler = folder_handler(tiny_mirror, fail_first=10, status=503)
    dest = tmp_path / "data"

    with running_server(handler) as url:
        with pytest.raises(DatasetError) as info:
            fetch_dataset("tiny", dest, mirror=url, registry=TINY_REGISTRY, retries=2, backoff=0.0)

    assert str(info.value).startswith(f"Download of {url}tiny failed after 3 attempt(s): HTTP 503 ")
    assert len(handler.requests) == 3
    assert_empty(dest)


def test_fetch_truncated_body(tmp_path):
    body = TINY_TEXT.encode()

    class TruncatingHandler(QuietHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 100))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

    dest = tmp_path / "data"
    with running_server(TruncatingHandler) as url:
        with pytest.raises(DatasetError) as info:
            fetch_dataset("tiny", dest, mirror=url, registry=TINY_REGISTRY, retries=1, backoff=0.0)

    message = str(info.value)
    assert message.startswith(
        f"Download of {url}tiny failed after 2 attempt(s): incomplete body: "
        f"received {len(body)} of {len(body) + 100} bytes. "
    )
    assert MIRROR_ENV in message
    assert_empty(dest)


def test_fetch_hanging_server(tmp_path):
    # The kernel completes the TCP handshake for the listen backlog, and nothing ever
    # accepts the connection or responds, so every attempt times out.
    listener = socket.create_server(("127.0.0.1", 0), backlog=8)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    dest = tmp_path / "data"

    started = time.monotonic()
    try:
        with pytest.raises(DatasetError) as info:
            fetch_dataset("tiny", dest, mirror=url, registry=TINY_REGISTRY, timeout=0.5, retries=1, backoff=0.1)
    finally:
        listener.close()
    elapsed = time.monotonic() - started

    message = str(info.value)
    assert message.startswith(f"Download of {url}tiny failed after 2 attempt(s): timed out after 0.5 s. ")
    assert MIRROR_ENV in message
    assert elapsed >= 1.0
    assert_empty(dest)


def test_fetch_local_file_missing(tmp_path, tiny_mirror):
    registry = {"absent": {"file": "absent", "rows": 1, "features": 1}}
    dest = tmp_path / "data"

    with pytest.raises(DatasetError) as info:
        fetch_dataset("absent", dest, mirror=tiny_mirror, registry=registry)

    assert str(info.value).startswith(f"Download of {tiny_mirror.resolve().as_uri()}/absent failed: file not found. ")
    assert_empty(dest)


def test_fetch_invalid_content(tmp_path):
    mirror = write_file(tmp_path / "mirror" / "tiny", "<html>Not a dataset</html>\n").parent
    dest = tmp_path / "data"

    with pytest.raises(DatasetError) as info:
        fetch_dataset("tiny", dest, mirror=mirror, registry=TINY_REGISTRY)

    assert "is not a valid LibSVM file: " in str(info.value)
    assert "invalid label '<html>Not'" in str(info.value)
    assert_empty(dest)


# ----------------------------------------------------------------------------------------
# Compressed files


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)])
def test_fetch_compressed(tmp_path, suffix, compress):
    mirror = write_file(tmp_path / "mirror" / f"tiny{suffix}", compress(TINY_TEXT.encode())).parent
    registry = {"tiny": {"file": f"tiny{suffix}", "rows": 3, "features": 4}}
    dest = tmp_path / "data"

    with running_server(folder_handler(mirror)) as url:
        path = fetch_dataset("tiny", dest, mirror=url, registry=registry)

    assert path == dest / "tiny"
    assert path.read_text() == TINY_TEXT
    assert sorted(p.name for p in dest.iterdir()) == ["tiny", "tiny.npz"]


def test_fetch_compressed_invalid(tmp_path):
    mirror = write_file(tmp_path / "mirror" / "tiny.gz", TINY_TEXT).parent
    registry = {"tiny": {"file": "tiny.gz", "rows": 3, "features": 4}}
    dest = tmp_path / "data"

    with pytest.raises(DatasetError) as info:
        fetch_dataset("tiny", dest, mirror=mirror, registry=registry)

    assert f"Download of {mirror.resolve().as_uri()}/tiny.gz is not valid .gz data: " in str(info.value)
    assert_empty(dest)


def test_fetch_compressed_truncated(tmp_path):
    compressed = bz2.compress((TINY_TEXT * 50).encode())
    mirror = write_file(tmp_path / "mirror" / "tiny.bz2", compressed[: len(compressed) // 2]).parent
    registry = {"tiny": {"file": "tiny.bz2", "rows": 150, "features": 4}}
    dest = tmp_path / "data"

    with pytest.raises(DatasetError) as info:
        fetch_dataset("tiny", dest, mirror=mirror, registry=registry)

    assert "is not valid .bz2 data: Compressed file ended before the end-of-stream marker" in str(info.value)
    assert_empty(dest)


# ----------------------------------------------------------------------------------------
# Parser: labels


def test_parse_labels_zero_one(tmp_path):
    _, labels = parse_text(tmp_path, "0 1:1\n1 2:1\n0 3:1\n")

    np.testing.assert_array_equal(labels, [-1.0, 1.0, -1.0])


def test_parse_labels_plus_minus_one(tmp_path):
    _, labels = parse_text(tmp_path, "+1 1:1\n-1 2:1\n1 3:1\n")

    np.testing.assert_array_equal(labels, [1.0, -1.0, 1.0])


def test_parse_labels_one_two(tmp_path):
    _, labels = parse_text(tmp_path, "1 1:1\n2 2:1\n2 3:1\n")

    np.testing.assert_array_equal(labels, [-1.0, 1.0, 1.0])


def test_parse_labels_float_notation(tmp_path):
    _, labels = parse_text(tmp_path, "1.0 1:1\n-1.0 2:1\n")

    np.testing.assert_array_equal(labels, [1.0, -1.0])


@pytest.mark.parametrize(("label", "expected"), [("-1", -1.0), ("0", -1.0), ("1", 1.0), ("+1", 1.0), ("2", 1.0)])
def test_parse_labels_single_class(tmp_path, label, expected):
    _, labels = parse_text(tmp_path, f"{label} 1:1\n{label} 2:1\n")

    np.testing.assert_array_equal(labels, [expected, expected])


def test_parse_labels_single_unknown(tmp_path):
    message = parse_error(tmp_path, "5 1:1\n5 2:1\n")

    assert message == (
        ": found 1 distinct label(s) (5), but a binary classification file needs the labels "
        "{0, 1}, {-1, +1} or {1, 2}"
    )


def test_parse_labels_three_classes(tmp_path):
    message = parse_error(tmp_path, "1 1:1\n-1 2:1\n0 3:1\n")

    assert message == (
        ": found 3 distinct label(s) (-1, 0, 1), but a binary classification file needs the "
        "labels {0, 1}, {-1, +1} or {1, 2}"
    )


def test_parse_labels_unknown_pair(tmp_path):
    message = parse_error(tmp_path, "0 1:1\n2 2:1\n")

    assert message.startswith(": found 2 distinct label(s) (0, 2), but a binary")


def test_parse_labels_many_listed(tmp_path):
    text = "".join(f"{label} 1:1\n" for label in range(12))

    message = parse_error(tmp_path, text)

    assert message.startswith(": found 12 distinct label(s) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...), but")


def test_parse_label_not_number(tmp_path):
    message = parse_error(tmp_path, "+1 1:1\nyes 2:1\n")

    assert message == ", line 2: invalid label 'yes'"


def test_parse_label_multilabel(tmp_path):
    message = parse_error(tmp_path, "1,2 1:1\n")

    assert message == ", line 1: invalid label '1,2'"


# ----------------------------------------------------------------------------------------
# Parser: features and layout


def test_parse_basic(tmp_path):
    features, labels = parse_text(tmp_path, TINY_TEXT)

    assert features.dtype == np.float64
    assert labels.dtype == np.float64
    np.testing.assert_array_equal(features, TINY_X)
    np.testing.assert_array_equal(labels, TINY_Y)


def test_parse_n_features_from_caller(tmp_path):
    features, _ = parse_text(tmp_path, "+1 1:1 2:1\n-1 1:1\n", n_features=7)

    assert features.shape == (2, 7)
    np.testing.assert_array_equal(features[:, 2:], 0.0)


def test_parse_blank_lines(tmp_path):
    features, labels = parse_text(tmp_path, "\n+1 1:0.5 3:1.5\n\n\n-1 2:2\n   \n+1 4:-1e-3\n\n")

    np.testing.assert_array_equal(features, TINY_X)
    np.testing.assert_array_equal(labels, TINY_Y)


def test_parse_trailing_spaces(tmp_path):
    features, _ = parse_text(tmp_path, "+1 1:0.5 3:1.5 \n-1 2:2\t \n+1 4:-1e-3  \n")

    np.testing.assert_array_equal(features, TINY_X)


def test_parse_last_line_without_newline(tmp_path):
    features, labels = parse_text(tmp_path, TINY_TEXT.rstrip("\n"))

    np.testing.assert_array_equal(features, TINY_X)
    np.testing.assert_array_equal(labels, TINY_Y)


def test_parse_crlf_line_endings(tmp_path):
    features, _ = parse_text(tmp_path, TINY_TEXT.replace("\n", "\r\n"))

    np.testing.assert_array_equal(features, TINY_X)


def test_parse_comment_full_line(tmp_path):
    features, labels = parse_text(tmp_path, "# header: 3 rows\n+1 1:0.5 3:1.5\n#-1 4:9\n-1 2:2\n+1 4:-1e-3\n")

    np.testing.assert_array_equal(features, TINY_X)
    np.testing.assert_array_equal(labels, TINY_Y)


def test_parse_comment_trailing(tmp_path):
    features, _ = parse_text(tmp_path, "+1 1:0.5 3:1.5 # first row\n-1 2:2#x 4:9\n+1 4:-1e-3\n")

    np.testing.assert_array_equal(features, TINY_X)


def test_parse_comment_keeps_line_numbers(tmp_path):
    message = parse_error(tmp_path, "# header\n+1 1:1 # note\n-1 x:1\n")

    assert message == ", line 3: invalid feature index 'x' in 'x:1'"


def test_parse_qid_ignored(tmp_path):
    features, _ = parse_text(tmp_path, "+1 qid:1 1:0.5 3:1.5\n-1 qid:1 2:2\n+1 qid:2 4:-1e-3\n")

    np.testing.assert_array_equal(features, TINY_X)


def test_parse_unsorted_indices(tmp_path):
    features, _ = parse_text(tmp_path, "+1 3:1.5 1:0.5\n-1 2:2\n+1 4:-1e-3\n")

    np.testing.assert_array_equal(features, TINY_X)


def test_parse_row_without_features(tmp_path):
    features, labels = parse_text(tmp_path, "-1 \n+1 2:1\n")

    np.testing.assert_array_equal(features, [[0, 0, 0, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(labels, [-1.0, 1.0])


def test_parse_empty_file(tmp_path):
    features, labels = parse_text(tmp_path, "# nothing\n\n")

    assert features.shape == (0, 4)
    assert labels.shape == (0,)


def test_parse_index_zero(tmp_path):
    message = parse_error(tmp_path, "+1 1:1\n-1 0:1 2:1\n")

    assert message == (
        ", line 2: feature index 0 in '0:1' is out of range: indices are one-based and at most n_features=4"
    )


def test_parse_index_above_n_features(tmp_path):
    message = parse_error(tmp_path, "+1 1:1\n\n-1 5:1\n")

    assert message == (
        ", line 3: feature index 5 in '5:1' is out of range: indices are one-based and at most n_features=4"
    )


def test_parse_token_without_colon(tmp_path):
    message = parse_error(tmp_path, "+1 1:1\n-1 2:1 3\n")

    assert message == ", line 2: invalid feature '3', expected index:value"


@pytest.mark.parametrize("token", ["3:", ":3", "1:2:3"])
def test_parse_token_incomplete(tmp_path, token):
    message = parse_error(tmp_path, f"+1 1:1 {token}\n")

    assert message == f", line 1: invalid feature '{token}', expected index:value"


def test_parse_value_not_number(tmp_path):
    message = parse_error(tmp_path, "+1 1:1\n-1 2:abc\n")

    assert message == ", line 2: invalid feature value 'abc' in '2:abc'"


def test_parse_index_not_integer(tmp_path):
    message = parse_error(tmp_path, "+1 1.5:1\n")

    assert message == ", line 1: invalid feature index '1.5' in '1.5:1'"


def test_parse_index_overflow(tmp_path):
    message = parse_error(tmp_path, "+1 99999999999999999999:1\n")

    assert message == ", line 1: invalid feature index '99999999999999999999' in '99999999999999999999:1'"


def test_parse_line_starts_with_feature(tmp_path):
    message = parse_error(tmp_path, "+1 1:1\n3:0.5 2:1\n")

    assert message == ", line 2: expected a label before the features, found '3:0.5'"


def test_parse_value_not_finite(tmp_path):
    message = parse_error(tmp_path, "+1 1:1\n-1 2:nan\n")

    assert message == ", line 2: feature value in '2:nan' is not finite"


def test_parse_duplicate_index(tmp_path):
    message = parse_error(tmp_path, "+1 1:1\n-1 2:1 3:1 2:5\n")

    assert message == ", line 2: feature '2:5' repeats an index of the same line"


def test_parse_invalid_n_features(tmp_path):
    path = write_file(tmp_path / "input.libsvm", TINY_TEXT)

    with pytest.raises(ValueError) as info:
        load_libsvm(path, 0)

    assert str(info.value) == "invalid n_features 0: expected a positive integer"


# ----------------------------------------------------------------------------------------
# Real files, cache and table


def test_phishing_shape(phishing):
    features, labels = phishing

    assert features.shape == (11055, 68)
    assert labels.shape == (11055,)
    assert set(np.unique(labels)) == {-1.0, 1.0}
    # Every row encodes 30 categorical attributes as ones scaled to 0.18257.
    np.testing.assert_array_equal(np.count_nonzero(features, axis=1), 30)
    assert set(np.unique(features[features != 0])) == {0.18257}


def test_w8a_shape(w8a):
    features, labels = w8a

    assert features.shape == (49749, 300)
    assert labels.shape == (49749,)
    assert set(np.unique(labels)) == {-1.0, 1.0}
    assert set(np.unique(features)) == {0.0, 1.0}


def test_cache_written_and_reused(tmp_path, tiny_mirror, caplog):
    data_dir = tmp_path / "data"
    first = load_dataset("tiny", data_dir, mirror=tiny_mirror, registry=TINY_REGISTRY)
    cache = data_dir / "tiny.npz"
    written = cache.stat().st_mtime_ns
    caplog.set_level(logging.DEBUG, logger="byzsim.data")

    second = load_dataset("tiny", data_dir, mirror=tmp_path / "missing", registry=TINY_REGISTRY)

    assert cache.stat().st_mtime_ns == written
    assert f"loaded tiny from the cache {cache}" in caplog.messages
    np.testing.assert_array_equal(second[0], first[0])
    np.testing.assert_array_equal(second[1], first[1])


def test_cache_rebuilt_after_source_changed(tmp_path, tiny_mirror, caplog):
    data_dir = tmp_path / "data"
    load_dataset("tiny", data_dir, mirror=tiny_mirror, registry=TINY_REGISTRY)
    write_file(data_dir / "tiny", TINY_TEXT.replace("2:2", "2:7"))
    caplog.set_level(logging.INFO, logger="byzsim.data")

    features, _ = load_dataset("tiny", data_dir, registry=TINY_REGISTRY)

    assert features[1, 1] == 7.0
    assert f"cache {data_dir / 'tiny.npz'} is out of date: its source file changed" in caplog.messages
    with np.load(data_dir / "tiny.npz") as stored:
        assert str(stored["source_sha256"]) == data._sha256(data_dir / "tiny")


def test_cache_rebuilt_when_corrupt(tmp_path, tiny_mirror):
    data_dir = tmp_path / "data"
    load_dataset("tiny", data_dir, mirror=tiny_mirror, registry=TINY_REGISTRY)
    write_file(data_dir / "tiny.npz", b"not a zip file")

    features, labels = load_dataset("tiny", data_dir, registry=TINY_REGISTRY)

    np.testing.assert_array_equal(features, TINY_X)
    np.testing.assert_array_equal(labels, TINY_Y)
    with np.load(data_dir / "tiny.npz") as stored:
        assert tuple(stored["shape"]) == (3, 4)


def test_cache_matches_parse(w8a, libsvm_mirror, session_data_dir):
    parsed_features, parsed_labels = load_libsvm(libsvm_mirror / "w8a", 300)
    assert (session_data_dir / "w8a.npz").exists()

    cached_features, cached_labels = load_dataset("w8a", session_data_dir)

    np.testing.assert_array_equal(cached_features, parsed_features)
    np.testing.assert_array_equal(cached_labels, parsed_labels)
    np.testing.assert_array_equal(cached_features, w8a[0])


def test_load_phishing_cut_rejected(tmp_path, libsvm_mirror):
    data_dir = tmp_path / "data"
    cut_lines(libsvm_mirror / "phishing", data_dir / "phishing", PHISHING_CUT_ROWS)

    with pytest.raises(DatasetError) as info:
        load_dataset("phishing", data_dir, mirror=libsvm_mirror)

    assert str(info.value) == (
        f"{data_dir / 'phishing'} has the wrong shape: expected (11055, 68) (rows, features) "
        "from the dataset registry, found (8618, 68). Delete the file to download it again, "
        "or correct the registry entry."
    )
    assert not (data_dir / "phishing.npz").exists()


def test_dataset_table_values(phishing, w8a, session_data_dir):
    table = dataset_table(["phishing", "w8a"], data_dir=session_data_dir, mirror=None, registry=None)

    assert list(table.columns) == ["dataset", "N (samples)", "d (features)", "+1 labels", "-1 labels", "+1 share"]
    assert table["dataset"].tolist() == ["phishing", "w8a"]
    assert table["N (samples)"].tolist() == [11055, 49749]
    assert table["d (features)"].tolist() == [68, 300]
    assert table["+1 labels"].tolist() == [int((phishing[1] > 0).sum()), int((w8a[1] > 0).sum())]
    assert (table["+1 labels"] + table["-1 labels"]).tolist() == [11055, 49749]
    np.testing.assert_allclose(table["+1 share"], table["+1 labels"] / table["N (samples)"])


# ----------------------------------------------------------------------------------------
# Command line


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="byzsim")
    cli_data.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_fetch(tmp_path, http_mirror, libsvm_mirror):
    dest = tmp_path / "data"

    status = run_cli(["data", "fetch", "phishing", "w8a", "--dest", str(dest), "--mirror", http_mirror])

    assert status == 0
    assert (dest / "phishing").read_bytes() == (libsvm_mirror / "phishing").read_bytes()
    assert (dest / "w8a").read_bytes() == (libsvm_mirror / "w8a").read_bytes()


def test_cli_fetch_config_registry(tmp_path, tiny_mirror):
    config = write_file(
        tmp_path / "config.yaml",
        f"data:\n  dir: {tmp_path / 'data'}\n  mirror: {tiny_mirror}\n"
        "datasets:\n  tiny: {file: tiny, rows: 3, features: 4}\n",
    )

    status = run_cli(["data", "fetch", "tiny", "--config", str(config)])

    assert status == 0
    assert (tmp_path / "data" / "tiny").read_text() == TINY_TEXT


def test_cli_table(tmp_path, tiny_mirror):
    out = tmp_path / "tables" / "table2_datasets"
    data_dir = tmp_path / "data"
    config = write_file(tmp_path / "config.yaml", "datasets:\n  tiny: {file: tiny, rows: 3, features: 4}\n")

    status = run_cli([
        "data", "table", "--data-dir", str(data_dir), "--out", str(out),
        "--mirror", str(tiny_mirror), "--config", str(config),
    ])

    assert status == 0
    table = pd.read_csv(out.with_suffix(".csv"))
    assert table.to_dict("records") == [{
        "dataset": "tiny", "N (samples)": 3, "d (features)": 4,
        "+1 labels": 2, "-1 labels": 1, "+1 share": pytest.approx(2 / 3),
    }]
    assert out.with_suffix(".md").exists()
    assert out.with_suffix(".tex").exists()
    assert (data_dir / "tiny.npz").exists()
