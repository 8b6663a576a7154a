"""Fixtures shared by the test files: the LibSVM mirror, its datasets and an HTTP server."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from byzsim.data import MIRROR_ENV, load_dataset

REPOSITORY = Path(__file__).resolve().parents[1]
# Without BYZSIM_LIBSVM_MIRROR, the tests read the mirror in the folder shared/data/libsvm
# beside the repository, where the development machines keep it.
SIBLING_MIRROR = REPOSITORY.parent / "shared" / "data" / "libsvm"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name is fixed by http.server
        pass


def _serve_directory(directory: Path):
    """Start a ThreadingHTTPServer for ``directory`` on 127.0.0.1 and return it with its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


@pytest.fixture(scope="session")
def libsvm_mirror() -> Path:
    """Folder that contains the LibSVM files phishing and w8a."""
    configured = os.environ.get(MIRROR_ENV)
    if configured:
        if urllib.parse.urlsplit(configured).scheme == "file":
            folder = Path(urllib.request.url2pathname(urllib.parse.urlsplit(configured).path))
        elif urllib.parse.urlsplit(configured).scheme in ("http", "https"):
            pytest.fail(f"{MIRROR_ENV}={configured} is a URL, but the tests need a local mirror folder")
        else:
            folder = Path(configured)
    else:
        folder = SIBLING_MIRROR

    if not (folder / "phishing").is_file() or not (folder / "w8a").is_file():
        pytest.fail(
            f"LibSVM mirror folder {folder} not found or incomplete. Set {MIRROR_ENV} to a "
            "folder that contains the files phishing and w8a."
        )
    return folder


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory) -> Path:
    """Data folder shared by the session's dataset fixtures."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def phishing(libsvm_mirror, session_data_dir):
    """(X, y) of phishing, shape (11055, 68) and (11055,)."""
    return load_dataset("phishing", data_dir=session_data_dir, mirror=libsvm_mirror)


@pytest.fixture(scope="session")
def w8a(libsvm_mirror, session_data_dir):
    """(X, y) of w8a, shape (49749, 300) and (49749,)."""
    return load_dataset("w8a", data_dir=session_data_dir, mirror=libsvm_mirror)


@pytest.fixture(scope="session")
def http_mirror(libsvm_mirror):
    """Base URL of an HTTP server on 127.0.0.1 that serves the LibSVM mirror folder."""
    server, url = _serve_directory(libsvm_mirror)
    yield url
    server.shutdown()
    server.server_close()
