"""Tests of byzsim.attacks: each attack's formula on hand-made inputs, shapes, factory."""

import numpy as np
import pytest
from scipy.stats import norm

from byzsim.attacks import (
    ALittleIsEnough,
    AttackContext,
    BitFlipping,
    InnerProductManipulation,
    LabelFlipping,
    Mimic,
    NoAttack,
    alie_z_max,
    make_attack,
)

# Two runs, G = 4 good workers, d = 2. All values are exact in binary floating point.
GOOD = np.array(
    [
        [[1.0, -2.0], [3.0, 0.0], [5.0, 2.0], [7.0, 4.0]],
        [[0.0, 1.0], [0.0, 1.0], [4.0, 1.0], [4.0, 1.0]],
    ]
)
N_BYZANTINE = 3


def make_context(honest_byzantine=None, gradient=None):
    if gradient is None:
        gradient = np.array([[0.5, -1.0], [2.0, 0.25]])
    calls = []

    def byzantine_gradient():
        calls.append(1)
        return gradient

    context = AttackContext(
        good=GOOD,
        honest_byzantine=honest_byzantine,
        byzantine_gradient=byzantine_gradient,
        n_byzantine=N_BYZANTINE,
        rngs=[np.random.default_rng(0), np.random.default_rng(1)],
    )
    return context, calls


def expect_all_byzantine(out, per_run):
    """Check that every Byzantine worker of run r sends per_run[r]."""
    assert out.shape == (2, N_BYZANTINE, 2)
    assert np.array_equal(out, np.repeat(np.asarray(per_run)[:, None, :], N_BYZANTINE, axis=1))


def test_none_returns_honest():
    honest = np.arange(12.0).reshape(2, 3, 2)
    context, _ = make_context(honest_byzantine=honest)
    out = NoAttack()(context)
    assert np.array_equal(out, honest)
    out[0, 0, 0] = -99.0
    assert honest[0, 0, 0] == 0.0


def test_none_flags():
    assert NoAttack.runs_honestly
    assert not NoAttack.flips_labels


def test_none_needs_honest_vectors():
    context, _ = make_context()
    with pytest.raises(ValueError, match="honest_byzantine"):
        NoAttack()(context)


def test_lf_returns_honest_and_flips():
    honest = -np.arange(12.0).reshape(2, 3, 2)
    context, _ = make_context(honest_byzantine=honest)
    assert np.array_equal(LabelFlipping()(context), honest)
    assert LabelFlipping.runs_honestly
    assert LabelFlipping.flips_labels


def test_lf_checks_honest_shape():
    context, _ = make_context(honest_byzantine=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"\(2, 3, 2\)"):
        LabelFlipping()(context)


def test_bf_negates_byzantine_gradient():
    context, calls = make_context()
    out = BitFlipping()(context)
    expect_all_byzantine(out, [[-0.5, 1.0], [-2.0, -0.25]])
    assert len(calls) == 1
    assert not BitFlipping.runs_honestly


def test_bf_checks_gradient_shape():
    context, _ = make_context(gradient=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(R, d\)"):
        BitFlipping()(context)


def test_ipm_formula():
    context, _ = make_context()
    out = InnerProductManipulation(z=0.5)(context)
    # Run 0: sum (16, 4), -(0.5/4) sum = (-2, -0.5). Run 1: sum (8, 4) -> (-1, -0.5).
    expect_all_byzantine(out, [[-2.0, -0.5], [-1.0, -0.5]])


def test_ipm_default_z():
    context, _ = make_context()
    assert InnerProductManipulation().z == 0.1
    out = InnerProductManipulation()(context)
    assert np.allclose(out[0, 0], [-0.4, -0.1])


def test_alie_formula():
    context, _ = make_context()
    out = ALittleIsEnough(z=2.0)(context)
    # Run 0: mean (4, 1), population std (sqrt(5), sqrt(5)).
    # Run 1: mean (2, 1), population std (2, 0).
    root5 = np.sqrt(5.0)
    expect_all_byzantine(out, [[4.0 - 2.0 * root5, 1.0 - 2.0 * root5], [-2.0, 1.0]])


def test_alie_population_std():
    context, _ = make_context()
    out = ALittleIsEnough(z=1.0)(context)
    # ddof=1 would give std sqrt(16/3) = 2.309 in run 1, coordinate 0.
    assert out[1, 0, 0] == 0.0


def test_alie_default_z():
    context, _ = make_context()
    assert ALittleIsEnough().z == 1.06
    out = ALittleIsEnough()(context)
    assert out[1, 0, 0] == pytest.approx(2.0 - 1.06 * 2.0)


def test_alie_z_max_value():
    # n = 16, B = 3: s = 9 - 3 = 6 supporters, quantile of (13 - 6) / 13.
    z = alie_z_max(16, 3)
    assert norm.cdf(z) == pytest.approx(7 / 13)
    assert z == pytest.approx(0.0966, abs=1e-4)


def test_alie_auto():
    context, _ = make_context()
    out = ALittleIsEnough(z="auto")(context)
    # n = 4 + 3 = 7: s = 4 - 3 = 1, quantile of 3/4.
    z = norm.ppf(3 / 4)
    assert np.allclose(out[1, 0], [2.0 - z * 2.0, 1.0])


def test_alie_z_max_needs_good_majority():
    with pytest.raises(ValueError, match="n=6.*B=4"):
        alie_z_max(6, 4)


def test_mimic_copies_target():
    context, _ = make_context()
    expect_all_byzantine(Mimic()(context), [[1.0, -2.0], [0.0, 1.0]])
    expect_all_byzantine(Mimic(target=2)(context), [[5.0, 2.0], [4.0, 1.0]])


def test_mimic_target_out_of_range():
    context, _ = make_context()
    with pytest.raises(ValueError, match=r"target=4.*G=4"):
        Mimic(target=4)(context)


def test_outputs_writable_and_independent():
    context, _ = make_context()
    for attack in (BitFlipping(), InnerProductManipulation(), ALittleIsEnough(), Mimic()):
        out = attack(context)
        out[0, 0, 0] = 123.0
        assert out[0, 1, 0] != 123.0, attack.name
    assert GOOD[0, 0, 0] == 1.0


# Factory


@pytest.mark.parametrize(
    ("spec", "attack_type"),
    [
        ({"name": "none"}, NoAttack),
        ({"name": "bf"}, BitFlipping),
        ({"name": "lf"}, LabelFlipping),
        ({"name": "ipm", "z": 0.2}, InnerProductManipulation),
        ({"name": "alie", "z": 1.06}, ALittleIsEnough),
        ({"name": "mimic", "target": 1}, Mimic),
    ],
)
def test_factory_types(spec, attack_type):
    attack = make_attack(spec)
    assert type(attack) is attack_type
    assert attack.name == spec["name"]


def test_factory_parameters():
    assert make_attack({"name": "ipm", "z": 0.2}).z == 0.2
    assert make_attack({"name": "alie", "z": "auto"}).z == "auto"
    assert make_attack({"name": "alie", "z": None}).z == 1.06
    assert make_attack({"name": "mimic", "target": 3}).target == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "gaussian"}, "allowed names: none, bf, lf, ipm, alie, mimic"),
        ({"name": "bf", "z": 1.0}, "unknown parameter"),
        ({"name": "alie", "epsilon": 1.0}, "unknown parameter"),
        ({"name": "ipm", "z": -0.1}, "positive"),
        ({"name": "alie", "z": "max"}, "number or 'auto'"),
        ({"name": "mimic", "target": -1}, "target"),
        ({"z": 1.0}, "'name'"),
    ],
)
def test_factory_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        make_attack(spec)


def test_labels():
    labels = {name: make_attack({"name": name}).label for name in ("bf", "lf", "ipm", "alie")}
    assert labels == {"bf": "BF", "lf": "LF", "ipm": "IPM", "alie": "ALIE"}


@pytest.mark.parametrize("name", ["none", "bf", "lf", "ipm", "alie", "mimic"])
def test_batch_matches_single_runs(name):
    rng = np.random.default_rng(3)
    n_runs, n_good, d = 3, 13, 5
    good = rng.normal(size=(n_runs, n_good, d))
    honest = rng.normal(size=(n_runs, N_BYZANTINE, d))
    gradient = rng.normal(size=(n_runs, d))
    attack = make_attack({"name": name})

    def context(runs):
        return AttackContext(
            good=good[runs],
            honest_byzantine=honest[runs],
            byzantine_gradient=lambda: gradient[runs],
            n_byzantine=N_BYZANTINE,
            rngs=[np.random.default_rng(r) for r in range(runs.stop - runs.start)],
        )

    batch = attack(context(slice(0, n_runs)))
    single = np.concatenate([attack(context(slice(r, r + 1))) for r in range(n_runs)])
    assert batch.shape == (n_runs, N_BYZANTINE, d)
    assert np.array_equal(batch, single)
