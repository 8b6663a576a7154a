"""LibSVM binary datasets: registry, download, parsing and cached arrays.

The logistic regression experiments of Rammal et al. (AISTATS 2024, Appendix H) use
the LibSVM binary classification datasets phishing and w8a (Chang and Lin, 2011).
This module downloads a dataset file from the LibSVM site or a mirror, checks that it
parses to the number of rows and features of its registry entry, and caches the parsed
arrays beside the file as ``<name>.npz``.

Sources, in order of precedence: the ``mirror`` argument (the workflow passes
``data.mirror`` of config/config.yaml), the environment variable
``BYZSIM_LIBSVM_MIRROR``, then the upstream folder :data:`DEFAULT_SOURCE`. A source is
an http(s) URL, a ``file://`` URL or a plain folder path.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import logging
import lzma
import numbers
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from byzsim import __version__
from byzsim._io import atomic_path

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_REGISTRY",
    "DEFAULT_SOURCE",
    "MIRROR_ENV",
    "DatasetError",
    "LibSVMFormatError",
    "dataset_table",
    "fetch_dataset",
    "load_dataset",
    "load_libsvm",
    "resolve_source",
    "validate_registry",
]

DEFAULT_SOURCE = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary/"
MIRROR_ENV = "BYZSIM_LIBSVM_MIRROR"

# Upstream file names. Row and feature counts are those of Rammal et al. (2024, Table 2).
DEFAULT_REGISTRY: dict[str, dict[str, object]] = {
    "phishing": {"file": "phishing", "rows": 11055, "features": 68},
    "w8a": {"file": "w8a", "rows": 49749, "features": 300},
}

MIRROR_HINT = (
    f"To download from another source, set the environment variable {MIRROR_ENV} or "
    "data.mirror in config/config.yaml (or pass --mirror to 'byzsim data fetch') to an "
    "http(s) URL, a file:// URL or a folder that contains the LibSVM files."
)

# The same pattern as the dataset names of workflow/schemas/config.schema.yaml, because a
# name becomes a file name in the data folder and a partition value of the result store.
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_RESERVED_NAMES = frozenset({"quadratic"})  # the store's dataset value of the quadratic problem
_ENTRY_KEYS = ("file", "rows", "features")

_DECOMPRESSORS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_CHUNK_BYTES = 1 << 20
_PROGRESS_INTERVAL_SECONDS = 1.0
# Status codes worth another attempt: timeouts, rate limits and server-side failures.
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_USER_AGENT = f"byzsim/{__version__} (Python urllib)"

_CACHE_FORMAT = 1


class DatasetError(RuntimeError):
    """A dataset could not be downloaded, or its file does not match its registry entry."""


class LibSVMFormatError(ValueError):
    """A LibSVM file is malformed or is not a binary classification dataset."""


# ----------------------------------------------------------------------------------------
# Registry


def validate_registry(registry: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, dict]:
    """Check a dataset registry and return a normalized copy.

    Parameters
    ----------
    registry : mapping or None
        Dataset name -> ``{"file": str, "rows": int, "features": int}``, the layout of the
        ``datasets:`` section of config/config.yaml. None selects :data:`DEFAULT_REGISTRY`.

    Returns
    -------
    dict
        Name -> entry with ``file`` as str and ``rows`` and ``features`` as int.

    Raises
    ------
    ValueError
        If the registry is not a mapping, a name is invalid or reserved, or an entry has a
        missing or unknown key, a file name with a folder part, or a count that is not a
        positive integer. The message names the entry and the key.
    """
    if registry is None:
        registry = DEFAULT_REGISTRY
    if not isinstance(registry, Mapping):
        raise ValueError(
            f"invalid dataset registry {registry!r}: expected a mapping of dataset name to "
            "{file, rows, features}"
        )

    validated = {}
    for name, entry in registry.items():
        validated[name] = _validate_entry(name, entry)
    return validated


def _validate_entry(name: object, entry: object) -> dict[str, object]:
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"invalid dataset name {name!r}: use letters, digits and _ . + - "
            "(starting with a letter or digit)"
        )
    if name in _RESERVED_NAMES:
        raise ValueError(f"invalid dataset name {name!r}: it is reserved for the quadratic problem")
    if not isinstance(entry, Mapping):
        raise ValueError(
            f"invalid registry entry for dataset {name!r}: expected a mapping with keys "
            f"file, rows and features, got {entry!r}"
        )

    missing = [key for key in _ENTRY_KEYS if key not in entry]
    unknown = sorted(str(key) for key in entry if key not in _ENTRY_KEYS)
    if missing:
        raise ValueError(f"registry entry for dataset {name!r} is missing the key(s) {', '.join(missing)}")
    if unknown:
        raise ValueError(
            f"registry entry for dataset {name!r} has unknown key(s) {', '.join(unknown)}: "
            "the allowed keys are file, rows and features"
        )

    file_name = entry["file"]
    if (
        not isinstance(file_name, str)
        or file_name in ("", ".", "..")
        or "/" in file_name
        or "\\" in file_name
    ):
        raise ValueError(
            f"invalid file {file_name!r} in the registry entry for dataset {name!r}: expected "
            "the file name in the LibSVM folder, without a folder part (for example 'w8a')"
        )

    counts = {}
    for key in ("rows", "features"):
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(
                f"invalid {key} {value!r} in the registry entry for dataset {name!r}: "
                "expected a positive integer"
            )
        counts[key] = int(value)
    return {"file": file_name, "rows": counts["rows"], "features": counts["features"]}


def _registry_entry(name: str, registry: Mapping | None) -> dict[str, object]:
    validated = validate_registry(registry)
    if name not in validated:
        known = ", ".join(sorted(validated)) or "none"
        raise ValueError(
            f"unknown dataset {name!r} (known datasets: {known}). Add an entry with file, "
            "rows and features to the datasets section of config/config.yaml."
        )
    return validated[name]


# ----------------------------------------------------------------------------------------
# Sources and downloads


def resolve_source(mirror: str | os.PathLike | None = None) -> str:
    """Return the base URL that dataset files are downloaded from, ending with ``/``.

    Parameters
    ----------
    mirror : str, path-like or None
        An http(s) URL, a ``file://`` URL or a folder path. None or an empty string falls
        back to the environment variable ``BYZSIM_LIBSVM_MIRROR`` and then to
        :data:`DEFAULT_SOURCE`.

    Returns
    -------
    str
        An http(s) URL, or a ``file://`` URL of an existing folder.

    Raises
    ------
    ValueError
        If the mirror has a URL scheme other than http, https or file.
    DatasetError
        If a local mirror folder does not exist.
    """
    origin = "the mirror argument"
    if mirror is None or str(mirror) == "":
        mirror = os.environ.get(MIRROR_ENV) or None
        origin = f"the environment variable {MIRROR_ENV}"
    if mirror is None:
        return DEFAULT_SOURCE

    text = os.fspath(mirror)
    scheme = urllib.parse.urlsplit(text).scheme.lower()
    if scheme in ("http", "https"):
        return text.rstrip("/") + "/"
    if scheme == "file":
        folder = Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path))
    elif scheme == "" or (len(scheme) == 1 and os.name == "nt"):  # a Windows drive letter
        folder = Path(text).expanduser()
    else:
        raise ValueError(
            f"unsupported mirror {text!r} from {origin}: use an http(s) URL, a file:// URL "
            "or a folder path"
        )

    if not folder.is_dir():
        raise DatasetError(f"mirror folder {folder} from {origin} not found. {MIRROR_HINT}")
    return folder.resolve().as_uri() + "/"


def fetch_dataset(
    name: str,
    dest_dir: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
    registry: Mapping | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    *,
    backoff: float = 1.0,
) -> Path:
    """Download one dataset file into ``dest_dir`` unless a valid copy is there.

    The file is stored decompressed as ``dest_dir/<name>`` (a ``.gz``, ``.bz2`` or ``.xz``
    suffix of the registry's file name selects the decompressor). The download goes to
    a temporary file in ``dest_dir``, which is renamed only after it parses to the
    registry's rows and features, so a failed download leaves nothing behind. The parsed
    arrays are cached as ``dest_dir/<name>.npz`` for :func:`load_dataset`.

    Parameters
    ----------
    name : str
        Dataset name, a key of the registry.
    dest_dir : str or path-like
        Folder for the file, created if missing.
    mirror : str, path-like or None
        Source of the files, see :func:`resolve_source`.
    registry : mapping or None
        Dataset registry, see :func:`validate_registry`. None selects the default.
    timeout : float
        Seconds to wait for the connection and for each read from an http(s) server.
    retries : int
        Further attempts after a failed first one. Network errors, timeouts, incomplete
        bodies and the HTTP statuses 408, 425, 429, 500, 502, 503 and 504 are retried.
        Other HTTP errors and local mirrors get no retry.
    backoff : float
        Seconds before the first retry. The wait doubles for each further retry.

    Returns
    -------
    Path
        ``dest_dir/<name>``.

    Raises
    ------
    DatasetError
        If the download fails or its content is invalid (the message names the URL and
        the mirror option), or if an existing ``dest_dir/<name>`` does not match the
        registry. An existing invalid file is never replaced, so that a file the user
        placed there is not lost.
    ValueError
        If the name, registry, mirror, timeout or retries are invalid.
    """
    entry = _registry_entry(name, registry)
    destination = Path(dest_dir) / name
    cache = _cache_path(destination)
    if destination.exists():
        digest = _sha256(destination)
        if _read_cache(cache, digest, entry) is not None:
            logger.debug("%s is already present at %s", name, destination)
            return destination
        features, labels = _parse_local(destination, entry)
    else:
        features, labels = _download_dataset(name, entry, destination, mirror, timeout, retries, backoff)
        digest = _sha256(destination)

    # The file was parsed to validate it, so keep the arrays for load_dataset.
    _write_cache(cache, features, labels, digest)
    return destination


def _download_dataset(
    name: str,
    entry: Mapping,
    destination: Path,
    mirror: str | os.PathLike | None,
    timeout: float,
    retries: int,
    backoff: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Download, decompress and validate one dataset file and return its parsed arrays."""
    if not timeout > 0:
        raise ValueError(f"invalid timeout {timeout!r}: expected a positive number of seconds")
    if isinstance(retries, bool) or not isinstance(retries, numbers.Integral) or retries < 0:
        raise ValueError(f"invalid retries {retries!r}: expected a non-negative integer")
    if not backoff >= 0:
        raise ValueError(f"invalid backoff {backoff!r}: expected a non-negative number of seconds")

    file_name = entry["file"]
    url = resolve_source(mirror) + urllib.parse.quote(file_name)
    destination.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s from %s", name, url)

    with atomic_path(destination) as part:
        decompress = _DECOMPRESSORS.get(Path(file_name).suffix.lower())
        if decompress is None:
            _download_file(name, url, part, timeout, int(retries), backoff)
        else:
            compressed = part.with_name(part.name + Path(file_name).suffix)
            try:
                _download_file(name, url, compressed, timeout, int(retries), backoff)
                _decompress_file(decompress, compressed, part, url)
            finally:
                compressed.unlink(missing_ok=True)

        try:
            features, labels = load_libsvm(part, entry["features"])
        except LibSVMFormatError as error:
            raise DatasetError(f"Download of {url} is not a valid LibSVM file: {error}. {MIRROR_HINT}") from None
        _check_rows(features, entry, f"Download of {url}", MIRROR_HINT)

    logger.info("saved %s to %s (%d rows, %d features)", name, destination, *features.shape)
    return features, labels


def _download_file(name: str, url: str, target: Path, timeout: float, retries: int, backoff: float) -> None:
    """Copy ``url`` to ``target``, retrying failures of an http(s) source."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "file":
        source = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        try:
            with open(source, "rb") as stream:
                _copy_stream(name, stream, target, source.stat().st_size)
        except FileNotFoundError:
            raise DatasetError(f"Download of {url} failed: file not found. {MIRROR_HINT}") from None
        except OSError as error:
            raise DatasetError(f"Download of {url} failed: {error}. {MIRROR_HINT}") from None
        return

    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _download_http(name, url, target, timeout)
            return
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code} {error.reason}"
            error.close()
            if error.code not in _RETRY_STATUS:
                raise DatasetError(f"Download of {url} failed: {problem}. {MIRROR_HINT}") from None
        except urllib.error.URLError as error:
            problem = _describe_network_error(error.reason, timeout)
        except (OSError, HTTPException, _IncompleteBody) as error:  # OSError covers socket and TLS errors
            problem = _describe_network_error(error, timeout)

        if attempt == attempts:
            break
        delay = backoff * 2 ** (attempt - 1)
        logger.warning(
            "download of %s failed (attempt %d of %d): %s. Retrying in %.1f s.",
            url, attempt, attempts, problem, delay,
        )
        time.sleep(delay)

    raise DatasetError(f"Download of {url} failed after {attempts} attempt(s): {problem}. {MIRROR_HINT}")


class _IncompleteBody(Exception):
    """The server closed the connection before sending its announced Content-Length."""


def _describe_network_error(error: object, timeout: float) -> str:
    if isinstance(error, TimeoutError):
        return f"timed out after {timeout:g} s"
    return str(error) or type(error).__name__


def _download_http(name: str, url: str, target: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        received = _copy_stream(name, response, target, expected)

    # http.client ends a short body silently (Python 3.11), so compare with the header.
    if expected is not None and received != expected:
        raise _IncompleteBody(f"incomplete body: received {received:,} of {expected:,} bytes")


def _copy_stream(name: str, stream: BinaryIO, target: Path, expected: int | None) -> int:
    """Write ``stream`` to ``target`` and return the number of bytes written.

    Progress goes to the INFO log at most once a second while copying, and once at the end.
    """
    received = 0
    last_log = time.monotonic()
    total = f"{expected:,}" if expected is not None else "?"
    with open(target, "wb") as output:
        while chunk := stream.read(_CHUNK_BYTES):
            output.write(chunk)
            received += len(chunk)
            now = time.monotonic()
            if now - last_log >= _PROGRESS_INTERVAL_SECONDS:
                logger.info("%s: %s of %s bytes downloaded", name, f"{received:,}", total)
                last_log = now
    logger.info("%s: %s of %s bytes downloaded", name, f"{received:,}", total)
    return received


def _decompress_file(decompress, compressed: Path, target: Path, url: str) -> None:
    try:
        with decompress(compressed, "rb") as stream, open(target, "wb") as output:
            shutil.copyfileobj(stream, output, _CHUNK_BYTES)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as error:
        raise DatasetError(
            f"Download of {url} is not valid {compressed.suffix} data: {error}. {MIRROR_HINT}"
        ) from None


# ----------------------------------------------------------------------------------------
# Parsing

# Bytes that str.split() treats as whitespace after a latin-1 decode, so that the token
# boundaries found with NumPy match the tokens of str.split().
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[code for code in range(256) if chr(code).isspace()]] = True
_COMMENT = re.compile(rb"#[^\n]*")
_NEWLINE = ord("\n")
_MAX_LISTED_LABELS = 10


def load_libsvm(path: str | os.PathLike, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse a LibSVM binary classification file into dense arrays.

    Each non-blank line is ``label index:value index:value ...`` with one-based feature
    indices in any order. Blank lines, trailing whitespace, a last line without a newline,
    ``#`` comments (whole lines and line ends) and ``qid:`` tokens are accepted, and
    ``qid:`` tokens are ignored. Features not listed are 0. The whole file is read into
    memory and X is dense, so memory grows with the file size and rows * n_features.

    Labels may be {0, 1}, {-1, +1} or {1, 2}. The smaller label becomes -1.0 and the larger
    +1.0. A file with a single label value is accepted only if that value is -1, 0, 1 or 2:
    -1 and 0 become -1.0, and 1 and 2 become +1.0, so a lone 1 is read as the positive
    class of {0, 1} or {-1, +1}, not as the negative class of {1, 2}.

    Parameters
    ----------
    path : str or path-like
        The LibSVM file (uncompressed).
    n_features : int
        Number of features d, from the caller or the registry. It is never inferred from
        the largest index in the file, because a file may not use its last features.

    Returns
    -------
    X : numpy.ndarray of float64, shape (rows, n_features)
    y : numpy.ndarray of float64, shape (rows,)
        Labels in {-1.0, +1.0}.

    Raises
    ------
    LibSVMFormatError
        If a token is malformed: a feature without a colon, a number that does not parse,
        or a line that starts with a feature. Also if a feature index is 0 or above
        ``n_features``, an index appears twice in a line, a value is not finite, or the
        labels are not one of the binary label sets above. The message names the file,
        the line number and the token, or lists the labels found.
    ValueError
        If ``n_features`` is not a positive integer.
    FileNotFoundError
        If ``path`` does not exist.
    """
    if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral) or n_features < 1:
        raise ValueError(f"invalid n_features {n_features!r}: expected a positive integer")
    path = Path(path)
    return _parse_libsvm(path.read_bytes(), int(n_features), str(path))


def _parse_libsvm(data: bytes, n_features: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    if b"#" in data:
        data = _COMMENT.sub(b"", data)  # keeps the newline, so line numbers stay the same

    # Token boundaries and line numbers come from one vectorized pass over the bytes, and
    # the token text from str.split(). NumPy then parses all numbers at once.
    codes = np.frombuffer(data, dtype=np.uint8)
    is_space = _WHITESPACE[codes]
    follows_space = np.ones_like(is_space)
    follows_space[1:] = is_space[:-1]
    token_starts = np.flatnonzero(~is_space & follows_space)
    newline_offsets = np.flatnonzero(codes == _NEWLINE)
    token_lines = np.searchsorted(newline_offsets, token_starts, side="right") + 1

    tokens = np.array(data.decode("latin-1").split(), dtype=StringDType())
    if tokens.size != token_starts.size:  # the two whitespace definitions disagree
        raise RuntimeError(f"internal error: tokenizing {source} found {tokens.size} and {token_starts.size} tokens")
    if tokens.size == 0:
        return np.zeros((0, n_features)), np.zeros(0)

    starts_line = np.ones(tokens.size, dtype=bool)
    starts_line[1:] = token_lines[1:] != token_lines[:-1]
    row_of_token = np.cumsum(starts_line) - 1
    n_rows = int(row_of_token[-1]) + 1

    labels = _parse_labels(tokens[starts_line], token_lines[starts_line], source)

    is_feature = ~starts_line
    if b"qid:" in data:
        is_feature &= ~np.strings.startswith(tokens, "qid:")
    rows = row_of_token[is_feature]
    indices, values = _parse_features(tokens[is_feature], token_lines[is_feature], n_features, source)

    flat_positions = rows * n_features + (indices - 1)
    _check_unique_indices(flat_positions, tokens[is_feature], token_lines[is_feature], source)

    features = np.zeros((n_rows, n_features))
    features.ravel()[flat_positions] = values
    return features, labels


def _parse_labels(tokens: np.ndarray, lines: np.ndarray, source: str) -> np.ndarray:
    has_colon = np.strings.find(tokens, ":") >= 0
    if has_colon.any():
        first = int(np.argmax(has_colon))
        raise LibSVMFormatError(
            f"{source}, line {lines[first]}: expected a label before the features, found {tokens[first]!r}"
        )
    values = _to_numbers(tokens, lines, np.float64, "label", source)
    if not np.isfinite(values).all():
        first = int(np.argmax(~np.isfinite(values)))
        raise LibSVMFormatError(f"{source}, line {lines[first]}: label {tokens[first]!r} is not finite")
    return _binary_labels(values, source)


def _binary_labels(values: np.ndarray, source: str) -> np.ndarray:
    classes = np.unique(values)
    known_pairs = ({0.0, 1.0}, {-1.0, 1.0}, {1.0, 2.0})
    if classes.size == 2 and set(classes.tolist()) in known_pairs:
        return np.where(values == classes[1], 1.0, -1.0)
    if classes.size == 1 and classes[0] in (-1.0, 0.0, 1.0, 2.0):
        return np.full(values.shape, 1.0 if classes[0] > 0 else -1.0)

    listed = ", ".join(f"{value:g}" for value in classes[:_MAX_LISTED_LABELS])
    if classes.size > _MAX_LISTED_LABELS:
        listed += ", ..."
    raise LibSVMFormatError(
        f"{source}: found {classes.size} distinct label(s) ({listed}), but a binary "
        "classification file needs the labels {0, 1}, {-1, +1} or {1, 2}"
    )


def _parse_features(
    tokens: np.ndarray, lines: np.ndarray, n_features: int, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``index:value`` tokens and return one-based indices (int64) and values (float64)."""
    colon_counts = np.strings.count(tokens, ":")
    index_text, _, value_text = np.strings.partition(tokens, np.array(":", dtype=StringDType()))
    malformed = (colon_counts != 1) | (np.strings.str_len(index_text) == 0) | (np.strings.str_len(value_text) == 0)
    if malformed.any():
        first = int(np.argmax(malformed))
        raise LibSVMFormatError(
            f"{source}, line {lines[first]}: invalid feature {tokens[first]!r}, expected index:value"
        )

    indices = _to_numbers(index_text, lines, np.int64, "feature index", source, tokens)
    out_of_range = (indices < 1) | (indices > n_features)
    if out_of_range.any():
        first = int(np.argmax(out_of_range))
        raise LibSVMFormatError(
            f"{source}, line {lines[first]}: feature index {indices[first]} in {tokens[first]!r} "
            f"is out of range: indices are one-based and at most n_features={n_features}"
        )

    values = _to_numbers(value_text, lines, np.float64, "feature value", source, tokens)
    if not np.isfinite(values).all():
        first = int(np.argmax(~np.isfinite(values)))
        raise LibSVMFormatError(f"{source}, line {lines[first]}: feature value in {tokens[first]!r} is not finite")
    return indices, values


def _to_numbers(
    texts: np.ndarray,
    lines: np.ndarray,
    dtype: type,
    field_name: str,
    source: str,
    tokens: np.ndarray | None = None,
) -> np.ndarray:
    """Convert strings to ``dtype`` at once, and name the first invalid one on failure."""
    try:
        return texts.astype(dtype)
    except (ValueError, OverflowError):
        pass

    # Error path only: find the offending token one by one.
    convert = int if dtype is np.int64 else float
    for position, text in enumerate(texts.tolist()):
        try:
            converted = convert(text)
            if convert is int and not np.iinfo(np.int64).min <= converted <= np.iinfo(np.int64).max:
                raise OverflowError
        except (ValueError, OverflowError):
            context = f" in {tokens[position]!r}" if tokens is not None else ""
            raise LibSVMFormatError(
                f"{source}, line {lines[position]}: invalid {field_name} {text!r}{context}"
            ) from None
    raise RuntimeError(f"internal error: NumPy rejected a {field_name} of {source} that Python accepts")


def _check_unique_indices(flat_positions: np.ndarray, tokens: np.ndarray, lines: np.ndarray, source: str) -> None:
    # Files written in row order with increasing indices pass the first test without a sort.
    if flat_positions.size < 2 or (np.diff(flat_positions) > 0).all():
        return
    order = np.argsort(flat_positions, kind="stable")
    repeated = flat_positions[order[1:]] == flat_positions[order[:-1]]
    if repeated.any():
        second = order[1:][repeated].min()  # the earliest token that repeats an index
        raise LibSVMFormatError(
            f"{source}, line {lines[second]}: feature {tokens[second]!r} repeats an index of the same line"
        )


# ----------------------------------------------------------------------------------------
# Cached arrays


def load_dataset(
    name: str,
    data_dir: str | os.PathLike = "data",
    mirror: str | os.PathLike | None = None,
    registry: Mapping | None = None,
    *,
    timeout: float = 30.0,
    retries: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the features and labels of a registered dataset, downloading it if needed.

    The parsed arrays are cached as ``data_dir/<name>.npz`` together with the sha256 of
    ``data_dir/<name>``. The cache is used when that checksum and the registry's shape
    match, and is rebuilt from the file otherwise.

    Parameters
    ----------
    name : str
        Dataset name, a key of the registry.
    data_dir : str or path-like
        Folder of the dataset files and caches.
    mirror : str, path-like or None
        Source of the files, see :func:`resolve_source`.
    registry : mapping or None
        Dataset registry, see :func:`validate_registry`. None selects the default.
    timeout, retries
        As for :func:`fetch_dataset`, used only when the file must be downloaded.

    Returns
    -------
    X : numpy.ndarray of float64, shape (rows, features)
    y : numpy.ndarray of float64, shape (rows,)
        Labels in {-1.0, +1.0}.

    Raises
    ------
    DatasetError
        If the download fails, or the file's shape differs from the registry entry (the
        message names the expected and found shape).
    LibSVMFormatError
        If an existing file in ``data_dir`` is malformed.
    ValueError
        If the name, registry or mirror is invalid.
    """
    entry = _registry_entry(name, registry)
    source = Path(data_dir) / name
    cache = _cache_path(source)

    if source.exists():
        digest = _sha256(source)
        cached = _read_cache(cache, digest, entry)
        if cached is not None:
            logger.debug("loaded %s from the cache %s", name, cache)
            return cached
        features, labels = _parse_local(source, entry)
    else:
        features, labels = _download_dataset(name, entry, source, mirror, timeout, retries, 1.0)
        digest = _sha256(source)

    _write_cache(cache, features, labels, digest)
    logger.info("cached the parsed arrays of %s in %s", name, cache)
    return features, labels


def _parse_local(path: Path, entry: Mapping) -> tuple[np.ndarray, np.ndarray]:
    features, labels = load_libsvm(path, entry["features"])
    _check_rows(
        features, entry, str(path),
        "Delete the file to download it again, or correct the registry entry.",
    )
    return features, labels


def _check_rows(features: np.ndarray, entry: Mapping, file_label: str, advice: str) -> None:
    expected = (entry["rows"], entry["features"])
    if features.shape != expected:
        raise DatasetError(
            f"{file_label} has the wrong shape: expected {expected} (rows, features) from the "
            f"dataset registry, found {features.shape}. {advice}"
        )


def _cache_path(source: Path) -> Path:
    return source.with_name(source.name + ".npz")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _write_cache(cache: Path, features: np.ndarray, labels: np.ndarray, digest: str) -> None:
    # Compressed sparse rows: the LibSVM files are sparse (w8a: 4 % non-zeros), so the
    # cache is a few MB where the dense w8a matrix is 119 MB.
    rows, columns = np.nonzero(features)
    indptr = np.zeros(features.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=features.shape[0]), out=indptr[1:])
    with atomic_path(cache) as part, open(part, "wb") as stream:
        np.savez(
            stream,
            format=np.int64(_CACHE_FORMAT),
            source_sha256=np.array(digest),
            shape=np.array(features.shape, dtype=np.int64),
            indptr=indptr,
            indices=columns.astype(np.int32),
            data=features[rows, columns],
            y=labels,
        )


def _read_cache(cache: Path, digest: str, entry: Mapping) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the cached arrays, or None if the cache is missing, stale or unreadable."""
    if not cache.exists():
        return None
    try:
        with np.load(cache, allow_pickle=False) as stored:
            if int(stored["format"]) != _CACHE_FORMAT or str(stored["source_sha256"]) != digest:
                logger.info("cache %s is out of date: its source file changed", cache)
                return None
            shape = tuple(int(size) for size in stored["shape"])
            if shape != (entry["rows"], entry["features"]):
                logger.info("cache %s is out of date: the registry shape changed", cache)
                return None
            indptr, indices, values, labels = (stored[key] for key in ("indptr", "indices", "data", "y"))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        logger.warning("cache %s is ignored because it cannot be read: %s", cache, error)
        return None

    features = np.zeros(shape)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    features.ravel()[rows * shape[1] + indices] = values
    return features, labels


# ----------------------------------------------------------------------------------------
# Table 2


def dataset_table(
    names: Iterable[str] | None = None,
    data_dir: str | os.PathLike = "data",
    mirror: str | os.PathLike | None = None,
    registry: Mapping | None = None,
) -> pd.DataFrame:
    """Build the dataset overview of Rammal et al. (2024, Table 2) from the loaded data.

    Parameters
    ----------
    names : iterable of str or None
        Datasets in row order. None lists every registry entry.
    data_dir, mirror, registry
        As for :func:`load_dataset`.

    Returns
    -------
    pandas.DataFrame
        One row per dataset with the columns ``dataset``, ``N (samples)``,
        ``d (features)``, ``+1 labels`` and ``-1 labels`` (counts) and ``+1 share`` (the
        fraction of +1 labels).

    Raises
    ------
    DatasetError, LibSVMFormatError, ValueError
        As for :func:`load_dataset`.
    """
    if names is None:
        names = list(validate_registry(registry))
    records = []
    for name in names:
        features, labels = load_dataset(name, data_dir=data_dir, mirror=mirror, registry=registry)
        positives = int(np.count_nonzero(labels > 0))
        records.append({
            "dataset": name,
            "N (samples)": features.shape[0],
            "d (features)": features.shape[1],
            "+1 labels": positives,
            "-1 labels": features.shape[0] - positives,
            "+1 share": positives / features.shape[0] if features.shape[0] else float("nan"),
        })
    columns = ["dataset", "N (samples)", "d (features)", "+1 labels", "-1 labels", "+1 share"]
    return pd.DataFrame.from_records(records, columns=columns)
