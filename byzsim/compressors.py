"""Compression operators for the messages of workers and server.

Every compressor compresses a batch ``x`` of shape ``(R, k, d)``: R independent runs,
k senders per run, each sender's d-vector compressed independently. Random draws of
run r come from ``rngs[r]`` with shapes that do not depend on R, so a batch of R runs
gives bitwise the same result as R calls with one run each.

Classes (Rammal et al., 2024, Appendix B.2):

- :class:`RandK` (Stich et al., 2018), unbiased with omega = d/K - 1.
- :class:`TopK` (Alistarh et al., 2018), contractive with alpha = K/d.
- :class:`NaturalCompression` (Horváth et al., 2019), unbiased with omega = 1/8.
- :class:`Identity`, with omega = 0 and alpha = 1.

An unbiased compressor C in U(omega) (Definition 1.2) reports ``alpha = 1/(omega + 1)``,
the contraction parameter of the scaled compressor C/(omega + 1), which lies in
B(1/(omega + 1)) (Definition 1.3).

Bit counts (``bits(d)``, the exact size of one compressed message of a d-vector):

- every transmitted value costs 32 bits (float32 on the wire);
- RandK sends its K values. The K indices are derived from a random seed that worker
  and server share, so they cost nothing: 32 K bits;
- TopK sends K values and K indices of ceil(log2 d) bits each: K (32 + ceil(log2 d)) bits;
- natural compression sends 9 bits per coordinate, the sign bit and the 8 exponent
  bits of a float32 whose mantissa is zero, as Horváth et al. (2019) count it: 9 d bits;
- identity sends 32 d bits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

#: Bits of one transmitted value (float32 on the wire).
VALUE_BITS = 32

#: Bits of one naturally compressed coordinate: a sign bit and 8 exponent bits.
NATURAL_BITS_PER_COORDINATE = 9

COMPRESSOR_NAMES = ("identity", "randk", "topk", "natural")


def _check_batch(x: np.ndarray, d: int | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array of shape (R, k, d), raising ValueError otherwise."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(
            f"compressor input must have shape (R, k, d) (runs, senders, dimension), "
            f"got shape {x.shape}"
        )
    if d is not None and x.shape[2] != d:
        raise ValueError(
            f"compressor was built for dimension d={d} but got vectors of dimension "
            f"{x.shape[2]}; build it with make_compressor(spec, d={x.shape[2]})"
        )
    return x


def _check_rngs(rngs: Sequence[np.random.Generator], n_runs: int) -> None:
    if len(rngs) != n_runs:
        raise ValueError(
            f"got {len(rngs)} random generators for {n_runs} runs; pass one "
            f"numpy.random.Generator per run (the leading axis of x)"
        )


def _check_K(K: int, d: int) -> None:
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)):
        raise ValueError(f"K must be an integer, got K={K!r}")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"dimension d must be a positive integer, got d={d!r}")
    if not 1 <= K <= d:
        raise ValueError(f"K must satisfy 1 <= K <= d, got K={K} and d={d}")


def index_bits(d: int) -> int:
    """Return ceil(log2 d), the bits of one coordinate index of a d-vector (0 for d = 1)."""
    if d < 1:
        raise ValueError(f"dimension d must be a positive integer, got d={d}")
    return (int(d) - 1).bit_length()


@dataclass(frozen=True)
class Identity:
    """Identity compressor: sends the vector unchanged, omega = 0 and alpha = 1."""

    name: ClassVar[str] = "identity"
    unbiased: ClassVar[bool] = True

    @property
    def omega(self) -> float:
        """Variance parameter of Definition 1.2."""
        return 0.0

    @property
    def alpha(self) -> float:
        """Contraction parameter of Definition 1.3."""
        return 1.0

    @property
    def label(self) -> str:
        """Name used in the result store, ``"identity"``."""
        return "identity"

    def bits(self, d: int) -> int:
        """Return 32 d, the bits of one uncompressed d-vector."""
        return VALUE_BITS * int(d)

    def __call__(
        self, x: np.ndarray, rngs: Sequence[np.random.Generator] | None = None
    ) -> np.ndarray:
        """Return a copy of ``x`` (shape (R, k, d)). ``rngs`` is not used."""
        # A copy, so that a method updating its compressed messages in place cannot
        # change the vectors it compressed.
        return _check_batch(x).copy()


@dataclass(frozen=True)
class RandK:
    """RandK sparsification (Stich et al., 2018).

    Keeps K coordinates drawn uniformly without replacement, independently for each
    sender, and scales them by d/K. It is unbiased with omega = d/K - 1.

    Parameters
    ----------
    K : int
        Number of kept coordinates, 1 <= K <= d.
    d : int
        Dimension of the compressed vectors.

    Raises
    ------
    ValueError
        If K is not an integer in [1, d].
    """

    K: int
    d: int
    name: ClassVar[str] = "randk"
    unbiased: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_K(self.K, self.d)

    @property
    def omega(self) -> float:
        """Variance parameter of Definition 1.2, d/K - 1."""
        return self.d / self.K - 1.0

    @property
    def alpha(self) -> float:
        """Contraction parameter of the scaled compressor C/(omega + 1), K/d."""
        return 1.0 / (self.omega + 1.0)

    @property
    def label(self) -> str:
        """Name used in the result store, for example ``"randk(K=6)"``."""
        return f"randk(K={self.K})"

    def bits(self, d: int) -> int:
        """Return 32 K: the K values only, because the indices come from a shared seed."""
        _check_K(self.K, d)
        return VALUE_BITS * self.K

    def __call__(self, x: np.ndarray, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Compress every sender's vector.

        Parameters
        ----------
        x : ndarray, shape (R, k, d)
            Vectors of k senders in R runs.
        rngs : sequence of numpy.random.Generator, length R
            Run r draws its k index sets from ``rngs[r]``.

        Returns
        -------
        ndarray, shape (R, k, d)
            (d/K) x on the kept coordinates, 0 elsewhere.
        """
        x = _check_batch(x, self.d)
        n_runs, n_senders, d = x.shape
        _check_rngs(rngs, n_runs)

        # The K smallest of d i.i.d. uniforms sit at a uniformly random K-subset.
        kept_indices = np.stack(
            [
                np.argpartition(rng.random((n_senders, d)), self.K - 1, axis=-1)[:, : self.K]
                for rng in rngs
            ]
        )

        scale = d / self.K
        out = np.zeros_like(x)
        kept_values = np.take_along_axis(x, kept_indices, axis=-1) * scale
        np.put_along_axis(out, kept_indices, kept_values, axis=-1)
        return out


@dataclass(frozen=True)
class TopK:
    """TopK sparsification (Alistarh et al., 2018).

    Keeps the K coordinates of largest magnitude and zeroes the rest. It is biased and
    contractive with alpha = K/d. Among coordinates of equal magnitude the one with the
    lower index is kept first (a stable sort by decreasing magnitude). It draws no
    random numbers.

    Parameters
    ----------
    K : int
        Number of kept coordinates, 1 <= K <= d.
    d : int
        Dimension of the compressed vectors.

    Raises
    ------
    ValueError
        If K is not an integer in [1, d].
    """

    K: int
    d: int
    name: ClassVar[str] = "topk"
    unbiased: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_K(self.K, self.d)

    @property
    def omega(self) -> None:
        """None, because TopK is biased."""
        return None

    @property
    def alpha(self) -> float:
        """Contraction parameter of Definition 1.3, K/d."""
        return self.K / self.d

    @property
    def label(self) -> str:
        """Name used in the result store, for example ``"topk(K=1)"``."""
        return f"topk(K={self.K})"

    def bits(self, d: int) -> int:
        """Return K (32 + ceil(log2 d)): K values and K coordinate indices."""
        _check_K(self.K, d)
        return self.K * (VALUE_BITS + index_bits(d))

    def __call__(
        self, x: np.ndarray, rngs: Sequence[np.random.Generator] | None = None
    ) -> np.ndarray:
        """Keep the K largest-magnitude coordinates of every sender's vector.

        Parameters
        ----------
        x : ndarray, shape (R, k, d)
            Vectors of k senders in R runs.
        rngs : sequence of numpy.random.Generator, optional
            Not used, because TopK is deterministic.

        Returns
        -------
        ndarray, shape (R, k, d)
            x on the kept coordinates, 0 elsewhere.
        """
        x = _check_batch(x, self.d)
        kept_indices = np.argsort(-np.abs(x), axis=-1, kind="stable")[..., : self.K]
        out = np.zeros_like(x)
        kept_values = np.take_along_axis(x, kept_indices, axis=-1)
        np.put_along_axis(out, kept_indices, kept_values, axis=-1)
        return out


@dataclass(frozen=True)
class NaturalCompression:
    """Natural compression (Horváth et al., 2019).

    Rounds every nonzero coordinate t to one of the two signed powers of two around it:
    to sign(t) 2^floor(log2|t|) with probability p(t) = (2^ceil(log2|t|) - |t|) /
    2^floor(log2|t|), else to sign(t) 2^ceil(log2|t|), which makes it unbiased with
    omega = 1/8. C(0) = 0, and an exact power of two is kept unchanged. Non-finite
    coordinates are passed through, so that a diverged run stays visibly diverged.

    NOTE: a coordinate with |t| > 2^1023 that rounds up becomes inf, because 2^1024
    exceeds the float64 range.
    """

    name: ClassVar[str] = "natural"
    unbiased: ClassVar[bool] = True

    @property
    def omega(self) -> float:
        """Variance parameter of Definition 1.2, 1/8."""
        return 0.125

    @property
    def alpha(self) -> float:
        """Contraction parameter of the scaled compressor C/(omega + 1), 8/9."""
        return 1.0 / (self.omega + 1.0)

    @property
    def label(self) -> str:
        """Name used in the result store, ``"natural"``."""
        return "natural"

    def bits(self, d: int) -> int:
        """Return 9 d: a sign bit and 8 exponent bits per coordinate."""
        return NATURAL_BITS_PER_COORDINATE * int(d)

    def __call__(self, x: np.ndarray, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Round every coordinate of every sender's vector to a signed power of two.

        Parameters
        ----------
        x : ndarray, shape (R, k, d)
            Vectors of k senders in R runs.
        rngs : sequence of numpy.random.Generator, length R
            Run r draws one uniform number per coordinate from ``rngs[r]``.

        Returns
        -------
        ndarray, shape (R, k, d)
            Signed powers of two (or 0), with expectation x.
        """
        x = _check_batch(x)
        n_runs = x.shape[0]
        _check_rngs(rngs, n_runs)
        uniforms = np.stack([rng.random(x.shape[1:]) for rng in rngs]).reshape(x.shape)

        # frexp writes |t| = m 2^e with m in [0.5, 1), so the lower power of two is
        # 2^(e-1) = 0.5 * 2^e and the upper one is 2^e. Rounding up with probability
        # 2m - 1 = |t|/2^(e-1) - 1 = 1 - p(t) keeps the expectation at |t|. An exact
        # power of two has m = 0.5, so it never rounds up.
        mantissa, exponent = np.frexp(np.abs(x))
        round_up = uniforms < 2.0 * mantissa - 1.0
        magnitude = np.ldexp(np.where(round_up, 1.0, 0.5), exponent)
        out = np.sign(x) * magnitude
        return np.where(np.isfinite(x), out, x)


Compressor = Identity | RandK | TopK | NaturalCompression

_ALLOWED_KEYS = {
    "identity": {"name"},
    "natural": {"name"},
    "randk": {"name", "K", "k_fraction"},
    "topk": {"name", "K", "k_fraction"},
}


def _resolve_K(spec: Mapping, d: int) -> int:
    """Return K from ``spec["K"]`` or from K = max(1, floor(k_fraction * d))."""
    name = spec["name"]
    if ("K" in spec) == ("k_fraction" in spec):
        raise ValueError(
            f"compressor {name!r} needs exactly one of 'K' (number of kept coordinates) "
            f"or 'k_fraction' (fraction of d), got {dict(spec)}"
        )
    if "K" in spec:
        return spec["K"]

    k_fraction = spec["k_fraction"]
    if isinstance(k_fraction, bool) or not isinstance(k_fraction, (int, float)):
        raise ValueError(f"k_fraction must be a number in (0, 1], got {k_fraction!r}")
    if not 0.0 < k_fraction <= 1.0:
        raise ValueError(f"k_fraction must be in (0, 1], got k_fraction={k_fraction}")
    # Rounding to 9 decimals first removes float noise such as 0.29 * 100 = 28.999...
    return max(1, math.floor(round(k_fraction * d, 9)))


def make_compressor(spec: Mapping, d: int) -> Compressor:
    """Build a compressor from its specification.

    Parameters
    ----------
    spec : mapping
        ``{"name": "randk", "K": 6}``, ``{"name": "randk", "k_fraction": 0.1}``
        (K = max(1, floor(k_fraction * d))), ``{"name": "topk", "K": 1}`` (or
        ``k_fraction``), ``{"name": "natural"}`` or ``{"name": "identity"}``.
    d : int
        Dimension of the vectors to compress.

    Returns
    -------
    Identity, RandK, TopK or NaturalCompression

    Raises
    ------
    ValueError
        If the name or a parameter is unknown, or K is not in [1, d].
    """
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(
            f"compressor specification must be a mapping with a 'name' "
            f"(one of {', '.join(COMPRESSOR_NAMES)}), got {spec!r}"
        )
    name = spec["name"]
    if name not in _ALLOWED_KEYS:
        raise ValueError(
            f"unknown compressor {name!r}; allowed names: {', '.join(COMPRESSOR_NAMES)}"
        )
    unknown = set(spec) - _ALLOWED_KEYS[name]
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)} for compressor {name!r}; "
            f"allowed: {sorted(_ALLOWED_KEYS[name])}"
        )

    if name == "identity":
        return Identity()
    if name == "natural":
        return NaturalCompression()
    K = _resolve_K(spec, d)
    if name == "randk":
        return RandK(K=K, d=d)
    return TopK(K=K, d=d)
