"""Byzantine attacks: the vectors that the B Byzantine workers send to the server.

An attack receives an :class:`AttackContext` describing the current round of R
independent runs and returns the Byzantine vectors, shape (R, B, d). Attacks and
defaults (Rammal et al., 2024, Section 4 and Appendix H.1):

- ``none``: the Byzantine workers run the method honestly on their own data.
- ``bf``, bit flipping: send -grad f_B(x), the negated full gradient of the Byzantine
  workers' local function.
- ``lf``, label flipping: run the method honestly with the labels y -> -y.
- ``ipm``, inner product manipulation (Xie et al., 2020): send -(z/G) sum_i g_i over
  the G good vectors. Default z = 0.1, the value in the authors' published code
  (github.com/Nikosimus/CC-for-BR-Learning).
- ``alie``, A Little Is Enough (Baruch et al., 2019): send mean - z * std of the good
  vectors, coordinate-wise. Default z = 1.06, the value in the authors' published code.
- ``mimic`` (Karimireddy et al., 2022): every Byzantine worker copies the vector of the
  good worker ``target``. Default target 0, a worker of the first group of the
  quadratic experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from statistics import NormalDist

ATTACK_NAMES = ("none", "bf", "lf", "ipm", "alie", "mimic")


@dataclass
class AttackContext:
    """State of one round of R runs that an attack may use.

    Attributes
    ----------
    good : ndarray, shape (R, G, d)
        The vectors g_i^{t+1} of the good workers that the server is about to aggregate.
    honest_byzantine : ndarray, shape (R, B, d), or None
        The vectors the Byzantine workers get by running the method honestly on their
        own data (label-flipped for ``lf``). None unless ``attack.runs_honestly``.
    byzantine_gradient : callable
        Returns the full gradient of the Byzantine workers' local function (the whole
        dataset) at the current point, shape (R, d).
    n_byzantine : int
        B, the number of Byzantine workers.
    rngs : sequence of numpy.random.Generator, length R
        Random generators of the runs.
    """

    good: np.ndarray
    honest_byzantine: np.ndarray | None
    byzantine_gradient: Callable[[], np.ndarray]
    n_byzantine: int
    rngs: Sequence[np.random.Generator]


def _repeat_for_byzantine(vector: np.ndarray, n_byzantine: int) -> np.ndarray:
    """Return a writable (R, B, d) array in which every Byzantine worker sends ``vector`` (R, d)."""
    return np.repeat(vector[:, None, :], n_byzantine, axis=1)


def _honest_vectors(ctx: AttackContext, attack_name: str) -> np.ndarray:
    if ctx.honest_byzantine is None:
        raise ValueError(
            f"attack {attack_name!r} runs the method honestly, so the context needs "
            f"honest_byzantine of shape (R, B, d), got None"
        )
    honest = np.asarray(ctx.honest_byzantine, dtype=np.float64)
    expected = (ctx.good.shape[0], ctx.n_byzantine, ctx.good.shape[2])
    if honest.shape != expected:
        raise ValueError(
            f"honest_byzantine must have shape (R, B, d) = {expected}, got {honest.shape}"
        )
    return honest.copy()


class NoAttack:
    """``none``: the Byzantine workers behave honestly and send ``ctx.honest_byzantine``."""

    name = "none"
    label = "none"
    runs_honestly = True
    flips_labels = False

    def __call__(self, ctx: AttackContext) -> np.ndarray:
        """Return a copy of ``ctx.honest_byzantine``, shape (R, B, d)."""
        return _honest_vectors(ctx, self.name)


class BitFlipping:
    """``bf``, bit flipping: every Byzantine worker sends -grad f_B(x).

    f_B is the Byzantine workers' local function (their whole dataset), so each sends
    the negated full gradient at the current point.
    """

    name = "bf"
    label = "BF"
    runs_honestly = False
    flips_labels = False

    def __call__(self, ctx: AttackContext) -> np.ndarray:
        """Return -ctx.byzantine_gradient() repeated for the B workers, shape (R, B, d)."""
        gradient = np.asarray(ctx.byzantine_gradient(), dtype=np.float64)
        expected = (ctx.good.shape[0], ctx.good.shape[2])
        if gradient.shape != expected:
            raise ValueError(
                f"byzantine_gradient() must return shape (R, d) = {expected}, "
                f"got {gradient.shape}"
            )
        return _repeat_for_byzantine(-gradient, ctx.n_byzantine)


class LabelFlipping:
    """``lf``, label flipping: the Byzantine workers run the method honestly with y -> -y.

    The method computes their vectors on flipped labels (``flips_labels`` is True) and
    passes them as ``ctx.honest_byzantine``.
    """

    name = "lf"
    label = "LF"
    runs_honestly = True
    flips_labels = True

    def __call__(self, ctx: AttackContext) -> np.ndarray:
        """Return a copy of ``ctx.honest_byzantine``, shape (R, B, d)."""
        return _honest_vectors(ctx, self.name)


class InnerProductManipulation:
    """``ipm``, inner product manipulation (Xie et al., 2020).

    Every Byzantine worker sends -(z/G) sum_{i in G} g_i, where g_i are the G good
    vectors.

    The authors' published code (github.com/Nikosimus/CC-for-BR-Learning) applies this
    formula to the differences g_i - g, where g is the previous aggregate, and adds g
    back, which sends -z mean(g_i) + (1 + z) g. This class implements the formula as
    Rammal et al. (2024) state it.

    Parameters
    ----------
    z : float, default 0.1
        Attack strength, z > 0.

    Raises
    ------
    ValueError
        If z is not a positive number.
    """

    name = "ipm"
    label = "IPM"
    runs_honestly = False
    flips_labels = False

    def __init__(self, z: float = 0.1) -> None:
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not z > 0:
            raise ValueError(f"IPM strength z must be a positive number, got z={z!r}")
        self.z = float(z)

    def __call__(self, ctx: AttackContext) -> np.ndarray:
        """Return -(z/G) times the sum of the good vectors for every Byzantine worker."""
        good = np.asarray(ctx.good, dtype=np.float64)
        n_good = good.shape[1]
        return _repeat_for_byzantine(-(self.z / n_good) * np.sum(good, axis=1), ctx.n_byzantine)


def alie_z_max(n_workers: int, n_byzantine: int) -> float:
    """Return z_max of Baruch et al. (2019), the strongest ALIE z that evades detection.

    With s = floor(n/2 + 1) - B supporters needed for a majority, z_max is the
    standard normal quantile of (n - B - s) / (n - B), as in Karimireddy et al.'s
    published code. For n = 16 and B = 3 it is about 0.0966.

    Raises
    ------
    ValueError
        If the Byzantine workers alone form a majority (s <= 0), where z_max is infinite.
    """
    n_good = n_workers - n_byzantine
    supporters = n_workers // 2 + 1 - n_byzantine
    if n_byzantine < 0 or n_good < 1 or supporters <= 0:
        raise ValueError(
            f"ALIE z='auto' needs a good majority, got n={n_workers} workers of which "
            f"B={n_byzantine} are Byzantine; pass a number as z"
        )
    # statistics.NormalDist, not scipy.stats: importing scipy.stats costs seconds per job.
    return float(NormalDist().inv_cdf((n_good - supporters) / n_good))


class ALittleIsEnough:
    """``alie``, A Little Is Enough (Baruch et al., 2019).

    Every Byzantine worker sends mu - z sigma, where mu and sigma are the coordinate-wise
    mean and standard deviation of the G good vectors. sigma is the population standard
    deviation (ddof=0), the empirical standard deviation of the G vectors that the
    attacker observes, as in the authors' published code, which divides by G.

    The authors' published code (github.com/Nikosimus/CC-for-BR-Learning) multiplies z
    by the coordinate-wise variance sigma^2 instead of sigma. This class implements the
    standard deviation, as Rammal et al. (2024) and Baruch et al. (2019) state it.

    Parameters
    ----------
    z : float or "auto", default 1.06
        Attack strength. "auto" uses :func:`alie_z_max` for n = G + B workers.

    Raises
    ------
    ValueError
        If z is neither a number nor "auto".
    """

    name = "alie"
    label = "ALIE"
    runs_honestly = False
    flips_labels = False

    def __init__(self, z: float | str = 1.06) -> None:
        if z != "auto" and (isinstance(z, bool) or not isinstance(z, (int, float))):
            raise ValueError(f"ALIE strength z must be a number or 'auto', got z={z!r}")
        self.z = z if z == "auto" else float(z)

    def __call__(self, ctx: AttackContext) -> np.ndarray:
        """Return mu - z sigma of the good vectors for every Byzantine worker, shape (R, B, d)."""
        good = np.asarray(ctx.good, dtype=np.float64)
        n_good = good.shape[1]
        if self.z == "auto":
            z = alie_z_max(n_good + ctx.n_byzantine, ctx.n_byzantine)
        else:
            z = self.z
        mean = np.mean(good, axis=1)
        std = np.std(good, axis=1, ddof=0)
        return _repeat_for_byzantine(mean - z * std, ctx.n_byzantine)


class Mimic:
    """``mimic`` (Karimireddy et al., 2022): every Byzantine worker copies a good worker.

    Parameters
    ----------
    target : int, default 0
        Index of the copied good worker, 0 <= target < G. Worker 0 belongs to the first
        group of the quadratic experiment.

    Raises
    ------
    ValueError
        If target is not a non-negative integer.
    """

    name = "mimic"
    label = "Mimic"
    runs_honestly = False
    flips_labels = False

    def __init__(self, target: int = 0) -> None:
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0:
            raise ValueError(f"mimic target must be a good worker index >= 0, got {target!r}")
        self.target = int(target)

    def __call__(self, ctx: AttackContext) -> np.ndarray:
        """Return the vector of good worker ``target`` for every Byzantine worker."""
        good = np.asarray(ctx.good, dtype=np.float64)
        n_good = good.shape[1]
        if self.target >= n_good:
            raise ValueError(
                f"mimic target={self.target} is not a good worker; there are G={n_good} "
                f"good workers, so use a target in [0, {n_good - 1}]"
            )
        return _repeat_for_byzantine(good[:, self.target], ctx.n_byzantine)


Attack = NoAttack | BitFlipping | LabelFlipping | InnerProductManipulation | ALittleIsEnough | Mimic

_ATTACKS = {
    "none": NoAttack,
    "bf": BitFlipping,
    "lf": LabelFlipping,
    "ipm": InnerProductManipulation,
    "alie": ALittleIsEnough,
    "mimic": Mimic,
}
_ATTACK_PARAMETERS = {
    "none": set(),
    "bf": set(),
    "lf": set(),
    "ipm": {"z"},
    "alie": {"z"},
    "mimic": {"target"},
}


def make_attack(spec: Mapping) -> Attack:
    """Build an attack from its specification.

    Parameters
    ----------
    spec : mapping
        ``{"name": "alie", "z": 1.06}``; name is one of none, bf, lf, ipm, alie, mimic.
        ipm and alie take ``z``, mimic takes ``target``. An absent or null parameter
        gets the class default.

    Returns
    -------
    NoAttack, BitFlipping, LabelFlipping, InnerProductManipulation, ALittleIsEnough or Mimic

    Raises
    ------
    ValueError
        If the name or a parameter is unknown or invalid.
    """
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(
            f"attack specification must be a mapping with a 'name' "
            f"(one of {', '.join(ATTACK_NAMES)}), got {spec!r}"
        )
    name = spec["name"]
    if name not in _ATTACKS:
        raise ValueError(f"unknown attack {name!r}; allowed names: {', '.join(ATTACK_NAMES)}")
    allowed = {"name"} | _ATTACK_PARAMETERS[name]
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)} for attack {name!r}; "
            f"allowed: {sorted(allowed)}"
        )
    parameters = {
        key: spec[key]
        for key in _ATTACK_PARAMETERS[name]
        if key in spec and spec[key] is not None
    }
    return _ATTACKS[name](**parameters)
