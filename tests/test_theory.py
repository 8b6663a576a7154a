"""Tests of byzsim.theory: smoothness constants, theoretical stepsizes, Tables 1 and 3."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from byzsim import theory
from byzsim.problems import split_heterogeneous

LAM = 0.1

# Constants printed by the authors' published notebook for phishing (heterogeneous
# split over 13 good workers, lam = 0.1): L, L_avg and max_j L_ij.
NOTEBOOK_PHISHING = (0.26256412732071766, 0.266030184485412, 0.3499885367500001)


# -- data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phishing_split(phishing):
    """Phishing split over 13 good workers: (A of shape (11050, 68), shards (13, 850, 68))."""
    features, labels = phishing
    shards, _ = split_heterogeneous(features, labels, 13)
    return shards.reshape(-1, shards.shape[2]), shards


# -- logistic loss by hand -----------------------------------------------------------------


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _regularizer_second_derivative(x, regularizer):
    if regularizer == "ridge":
        return np.full_like(x, 2.0)
    return (2.0 - 6.0 * x**2) / (1.0 + x**2) ** 3


def _hessian(A, y, x, regularizer):
    s = _sigmoid(y * (A @ x))
    data = (A.T * (s * (1.0 - s))) @ A / A.shape[0]
    return data + np.diag(0.5 * LAM * _regularizer_second_derivative(x, regularizer))


def _gradient(A, y, x):
    data = -(A.T @ (y * _sigmoid(-y * (A @ x)))) / A.shape[0]
    return data + 0.5 * LAM * 2.0 * x / (1.0 + x**2) ** 2


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    G, m, d = 4, 30, 6
    # Shards of different scales, so that the local constants differ.
    shards = rng.normal(size=(G, m, d)) * np.array([0.5, 1.0, 1.5, 2.0])[:, None, None]
    labels = rng.choice([-1.0, 1.0], size=(G, m))
    return shards.reshape(G * m, d), shards, labels.reshape(-1), labels


# -- constants -----------------------------------------------------------------------------


def test_constants_L_hessian_at_zero(synthetic):
    A, shards, y, _ = synthetic
    constants = theory.logistic_constants(A, shards, LAM)

    # At x = 0 the logistic curvature is 1/4 and r''(0) = 2: the bound is attained.
    top = np.linalg.eigvalsh(_hessian(A, y, np.zeros(A.shape[1]), "nonconvex"))[-1]
    assert constants.L == pytest.approx(top, rel=1e-12)


@pytest.mark.parametrize("regularizer", ["nonconvex", "ridge"])
def test_constants_L_bounds_hessian(synthetic, regularizer):
    A, shards, y, _ = synthetic
    constants = theory.logistic_constants(A, shards, LAM)
    rng = np.random.default_rng(1)
    for _ in range(50):
        x = rng.normal(scale=2.0, size=A.shape[1])
        eigenvalues = np.linalg.eigvalsh(_hessian(A, y, x, regularizer))
        assert np.max(np.abs(eigenvalues)) <= constants.L * (1 + 1e-12)


def test_constants_local_rms(synthetic):
    A, shards, _, shard_labels = synthetic
    constants = theory.logistic_constants(A, shards, LAM)

    local = [np.linalg.eigvalsh(_hessian(shard, labels, np.zeros(A.shape[1]), "nonconvex"))[-1]
             for shard, labels in zip(shards, shard_labels)]
    assert constants.L_pm == pytest.approx(np.sqrt(np.mean(np.square(local))), rel=1e-12)


def test_constants_calL_single_sample(synthetic):
    A, shards, _, _ = synthetic
    constants = theory.logistic_constants(A, shards, LAM)

    # Hessian of one sample at 0: a a^T / 4 + lam I, top eigenvalue ||a||^2/4 + lam.
    per_sample = [np.linalg.eigvalsh(np.outer(a, a) / 4 + LAM * np.eye(A.shape[1]))[-1] for a in A]
    assert constants.calL_pm == pytest.approx(max(per_sample), rel=1e-12)


def test_constants_global_hessian_variance(synthetic):
    """Assumption 1.2 holds with L_pm at random pairs of points."""
    A, shards, y, shard_labels = synthetic
    constants = theory.logistic_constants(A, shards, LAM)
    rng = np.random.default_rng(2)
    for _ in range(50):
        x, z = rng.normal(scale=2.0, size=(2, A.shape[1]))
        local = [np.sum((_gradient(s, t, x) - _gradient(s, t, z)) ** 2)
                 for s, t in zip(shards, shard_labels)]
        variance = np.mean(local) - np.sum((_gradient(A, y, x) - _gradient(A, y, z)) ** 2)
        assert variance <= constants.L_pm**2 * np.sum((x - z) ** 2)


def test_constants_local_hessian_variance(synthetic):
    """Assumption 1.3 holds with calL_pm for uniform sampling of one sample (b = 1)."""
    A, shards, _, shard_labels = synthetic
    constants = theory.logistic_constants(A, shards, LAM)
    rng = np.random.default_rng(3)
    for _ in range(20):
        x, z = rng.normal(scale=2.0, size=(2, A.shape[1]))
        variances = []
        for shard, labels in zip(shards, shard_labels):
            per_sample = np.array([_gradient(a[None], t[None], x) - _gradient(a[None], t[None], z)
                                   for a, t in zip(shard, labels)])
            variances.append(np.mean(np.sum((per_sample - per_sample.mean(axis=0)) ** 2, axis=1)))
        assert np.mean(variances) <= constants.calL_pm**2 * np.sum((x - z) ** 2)


def test_constants_list_equals_array(synthetic):
    A, shards, _, _ = synthetic
    from_array = theory.logistic_constants(A, shards, LAM)
    from_list = theory.logistic_constants(A, list(shards), LAM)
    assert from_list.L_pm == pytest.approx(from_array.L_pm, rel=1e-12)
    assert from_list.L == from_array.L
    assert from_list.calL_pm == from_array.calL_pm


def test_constants_sparse_equals_dense(synthetic):
    A, shards, _, _ = synthetic
    dense = theory.logistic_constants(A, list(shards), LAM)
    sparse = theory.logistic_constants(scipy.sparse.csr_matrix(A),
                                       [scipy.sparse.csr_matrix(s) for s in shards], LAM)
    assert sparse.L == pytest.approx(dense.L, rel=1e-9)
    assert sparse.L_pm == pytest.approx(dense.L_pm, rel=1e-9)
    assert sparse.calL_pm == pytest.approx(dense.calL_pm, rel=1e-12)


def test_constants_homogeneous_L_pm_equals_L(synthetic):
    A, _, _, _ = synthetic
    constants = theory.logistic_constants(A, [A] * 5, LAM)
    assert constants.L_pm == pytest.approx(constants.L, rel=1e-12)


def test_constants_invalid_input(synthetic):
    A, shards, _, _ = synthetic
    with pytest.raises(ValueError, match="lam"):
        theory.logistic_constants(A, shards, -1.0)
    with pytest.raises(ValueError, match="shape"):
        theory.logistic_constants(A, shards[0], LAM)
    with pytest.raises(ValueError, match="empty"):
        theory.logistic_constants(A, [], LAM)


def test_quadratic_constants():
    constants = theory.quadratic_constants()
    assert (constants.L, constants.L_pm, constants.calL_pm) == (1.0, 0.0, 0.0)
    with pytest.raises(AttributeError):
        constants.L = 2.0  # frozen


def test_phishing_constants_match_notebook(phishing_split):
    A, shards = phishing_split
    constants = theory.logistic_constants(A, shards, LAM)
    assert shards.shape == (13, 850, 68)
    assert constants.L == pytest.approx(NOTEBOOK_PHISHING[0], rel=1e-9)
    assert constants.L_pm == pytest.approx(NOTEBOOK_PHISHING[1], rel=1e-9)
    assert constants.calL_pm == pytest.approx(NOTEBOOK_PHISHING[2], rel=1e-9)


# -- c * delta and parameter choices -------------------------------------------------------


def test_c_delta_paper_setup():
    assert theory.c_delta(3, 16) == pytest.approx(3.2)
    assert theory.c_delta(3, 16, c=1.0) == pytest.approx(3 / 16)
    assert theory.c_delta(0, 16) == 0.0


@pytest.mark.parametrize("n_byzantine, n_workers, c", [(8, 16, 1.0), (-1, 16, 1.0), (1, 0, 1.0),
                                                       (1, 16, -1.0)])
def test_c_delta_invalid(n_byzantine, n_workers, c):
    with pytest.raises(ValueError):
        theory.c_delta(n_byzantine, n_workers, c=c)


def test_parameter_choices_paper():
    omega = 68 / 6 - 1
    assert theory.default_batch_size(850) == 8
    assert theory.default_batch_size(50) == 1
    assert theory.vr_marina_probability(omega, 8, 850) == pytest.approx(8 / 850)
    assert theory.vr_marina_probability(1.0, 8, 10) == pytest.approx(0.8)
    assert theory.vr_marina_probability(2.0, 8, 10) == pytest.approx(0.5)
    assert theory.vr_marina_probability(0.0, 8, 850) == pytest.approx(8 / 850)
    assert theory.vr_marina_probability(0.0, 10, 10) == 1.0
    assert theory.vr_marina_probability(33.0, full_gradients=True) == pytest.approx(1 / 34)
    assert theory.dasha_page_probability(8, 850) == pytest.approx(8 / 850)
    assert theory.dasha_page_momentum(omega) == pytest.approx(1 / (2 * omega + 1))
    assert theory.dasha_page_momentum(0.0) == 1.0


def test_parameter_choices_invalid():
    with pytest.raises(ValueError, match="full_gradients"):
        theory.vr_marina_probability(1.0)
    with pytest.raises(ValueError, match="omega"):
        theory.vr_marina_probability(-1.0, 1, 10)
    with pytest.raises(ValueError, match="batch size"):
        theory.dasha_page_probability(11, 10)
    with pytest.raises(ValueError, match="m = 0"):
        theory.default_batch_size(0)


# -- stepsizes by hand ---------------------------------------------------------------------

# L = 1, L_pm = 1, calL_pm = 2, omega = 1, p = 1/2, b = 4, G = 4, c delta = 1/8:
# sqrt(1/G) + sqrt(8 c delta) = 1/2 + 1 = 3/2, so the aggregation factor is 9/4.
HAND = dict(L=1.0, L_pm=1.0, calL_pm=2.0, omega=1.0, p=0.5, b=4, G=4, c_delta=0.125)


def test_vr_marina_2_theorem_hand():
    # (1-p)/p = 1; omega (calL^2/b + L_pm^2 + L^2) + calL^2/b = 3 + 1; eta = 4 * 9/4 = 9.
    assert theory.byz_vr_marina_2_stepsize(**HAND) == pytest.approx(1 / (1 + 3))


def test_dasha_page_theorem_hand():
    # 8*1*3*(1+1) = 48; (1/2)/4 * (12*3 + 4) * 4 = 20; eta = 68 * 9/4 = 153.
    assert theory.byz_dasha_page_stepsize(**HAND) == pytest.approx(1 / (1 + math.sqrt(153)))


def test_vr_marina_theorem_hand():
    # 6 * (1 + 1/8) * (1 + 2*1) = 20.25; 6 * (2 + 1/8) * 1 = 12.75; A = 33.
    assert theory.byz_vr_marina_stepsize(**HAND) == pytest.approx(1 / (1 + math.sqrt(33)))


def test_ef21_bc_theorem_hand():
    # 32/alpha_D^2 = 128; 1 + 5/alpha_P^2 = 21; (1 + sqrt(1))^2 = 4; L_pm^2 + L^2 = 2.
    gamma = theory.byz_ef21_bc_stepsize(1.0, 1.0, alpha_D=0.5, alpha_P=0.5, c_delta=0.125)
    assert gamma == pytest.approx(1 / (1 + math.sqrt(128 * 21 * 4 * 2)))


def test_ef21_theorem_alpha_p_one():
    # Same as Byz-EF21-BC with alpha_P = 1: factor 1 + 5 = 6.
    gamma = theory.byz_ef21_stepsize(1.0, 1.0, alpha_D=0.5, c_delta=0.125)
    assert gamma == pytest.approx(1 / (1 + math.sqrt(128 * 6 * 4 * 2)))


def test_published_code_hand():
    code = dict(HAND, form="published-code")
    # 12/p [(L_pm^2 + calL^2/b) omega + calL^2/b](1/G + 8 c delta/p) + 96 c delta/p^2
    # = 24 * 3 * 9/4 + 48 = 210.
    assert theory.byz_vr_marina_stepsize(**code) == pytest.approx(1 / (1 + math.sqrt(210)))
    # (1-p)/p (omega (calL^2/b + L_pm^2) + calL^2/b) * 9/4 = 3 * 9/4.
    assert theory.byz_vr_marina_2_stepsize(**code) == pytest.approx(1 / (1 + math.sqrt(6.75)))
    # (12*3*(1 + 1) + 2/p * 1) * 9/4 = 76 * 9/4 = 171.
    assert theory.byz_dasha_page_stepsize(**code) == pytest.approx(1 / (1 + math.sqrt(171)))
    # 1/(L + 2/alpha_D (1 + sqrt(8 c delta)) L_pm) = 1/(1 + 4*2).
    gamma = theory.byz_ef21_stepsize(1.0, 1.0, alpha_D=0.5, c_delta=0.125, form="published-code")
    assert gamma == pytest.approx(1 / 9)


def test_published_code_full_gradient_notebook():
    """Full gradients and p = 1/(omega+1) give the notebook's omega^2 L_pm^2 (...)^2."""
    omega, L, L_pm, G, cd = 33.0, 0.26, 0.27, 13, 3.2
    expected = 1 / (L + omega * L_pm * (math.sqrt(1 / G) + math.sqrt(8 * cd)))
    gamma = theory.byz_vr_marina_2_stepsize(L, L_pm, 0.0, omega, 1 / (omega + 1), 1, G, cd,
                                            form="published-code")
    assert gamma == pytest.approx(expected, rel=1e-12)


def test_stepsize_p_one_limit():
    constants = dict(L=2.0, L_pm=3.0, calL_pm=5.0, omega=7.0, p=1.0, b=2, G=3, c_delta=1.0)
    assert theory.byz_vr_marina_stepsize(**constants) == pytest.approx(0.5)
    assert theory.byz_vr_marina_2_stepsize(**constants) == pytest.approx(0.5)
    assert theory.byz_dasha_page_stepsize(**dict(constants, omega=0.0)) == pytest.approx(0.5)
    # Byz-DASHA-PAGE keeps its compression term at p = 1 when omega > 0.
    assert theory.byz_dasha_page_stepsize(**constants) < 0.5


def test_stepsize_no_byzantine_no_compression():
    # omega = 0 and no sampling noise: only Byz-DASHA-PAGE's terms vanish for any p.
    gamma = theory.byz_dasha_page_stepsize(1.5, 1.0, 0.0, 0.0, 0.3, 1, 10, 0.0)
    assert gamma == pytest.approx(1 / 1.5)


def test_stepsize_decreases_with_c_delta():
    for method in theory.METHODS:
        gammas = [theory.theoretical_stepsize(method, theory.SmoothnessConstants(1.0, 1.0, 2.0),
                                              omega=1.0, alpha_D=0.5,
                                              alpha_P=0.5 if method == "byz-ef21-bc" else 1.0,
                                              p=0.5, b=4, G=4, c_delta=cd)
                  for cd in (0.0, 0.1, 1.0)]
        assert gammas[0] > gammas[1] > gammas[2], method


def test_theoretical_stepsize_dispatch():
    constants = theory.SmoothnessConstants(L=1.0, L_pm=1.0, calL_pm=2.0)
    args = dict(omega=1.0, p=0.5, b=4, G=4, c_delta=0.125)
    assert theory.theoretical_stepsize("byz-vr-marina", constants, **args) == \
        theory.byz_vr_marina_stepsize(**HAND)
    assert theory.theoretical_stepsize("byz-vr-marina-2", constants, **args) == \
        theory.byz_vr_marina_2_stepsize(**HAND)
    assert theory.theoretical_stepsize("byz-dasha-page", constants, **args,
                                       form="published-code") == \
        theory.byz_dasha_page_stepsize(**HAND, form="published-code")
    assert theory.theoretical_stepsize("byz-ef21", constants, alpha_D=0.5, c_delta=0.125) == \
        theory.byz_ef21_stepsize(1.0, 1.0, 0.5, 0.125)
    assert theory.theoretical_stepsize("byz-ef21-bc", constants, alpha_D=0.5, alpha_P=0.5,
                                       c_delta=0.125) == \
        theory.byz_ef21_bc_stepsize(1.0, 1.0, 0.5, 0.5, 0.125)


def test_theoretical_stepsize_rejects():
    constants = theory.SmoothnessConstants(L=1.0, L_pm=1.0, calL_pm=2.0)
    with pytest.raises(ValueError, match="unknown method"):
        theory.theoretical_stepsize("byz-sgd", constants)
    with pytest.raises(ValueError, match="alpha_P"):
        theory.theoretical_stepsize("byz-ef21", constants, alpha_D=0.5, alpha_P=0.5)
    with pytest.raises(ValueError, match="published code"):
        theory.theoretical_stepsize("byz-ef21-bc", constants, alpha_D=0.5, alpha_P=0.5,
                                    form="published-code")
    with pytest.raises(ValueError, match="form"):
        theory.theoretical_stepsize("byz-vr-marina", constants, form="corollary")


@pytest.mark.parametrize("change", [dict(p=0.0), dict(p=1.5), dict(b=0), dict(G=0),
                                    dict(omega=-1.0), dict(c_delta=-0.1), dict(L=0.0),
                                    dict(L_pm=-1.0)])
def test_stepsize_invalid_parameters(change):
    for function in (theory.byz_vr_marina_stepsize, theory.byz_vr_marina_2_stepsize,
                     theory.byz_dasha_page_stepsize):
        with pytest.raises(ValueError):
            function(**dict(HAND, **change))


def test_ef21_invalid_alpha():
    with pytest.raises(ValueError, match="alpha_D"):
        theory.byz_ef21_bc_stepsize(1.0, 1.0, alpha_D=0.0, alpha_P=1.0, c_delta=0.1)
    with pytest.raises(ValueError, match="alpha_P"):
        theory.byz_ef21_bc_stepsize(1.0, 1.0, alpha_D=1.0, alpha_P=1.5, c_delta=0.1)
    with pytest.raises(ValueError, match="alpha_D"):
        theory.byz_ef21_stepsize(1.0, 1.0, alpha_D=2.0, c_delta=0.1, form="published-code")


# -- Table 3 -------------------------------------------------------------------------------


def test_table3_phishing_matches_paper(phishing_split):
    A, shards = phishing_split
    table = theory.table3_stepsizes(A, shards)

    assert list(table.columns) == ["method", "form", "setup", "ours", "paper", "ratio"]
    published = table[table["form"] == "published-code"]
    assert set(published["method"]) == {"Byz-VR-MARINA", "Byz-VR-MARINA 2.0", "Byz-DASHA-PAGE"}
    for row in published.itertuples():
        assert abs(row.ratio - 1.0) <= 0.10, (row.method, row.setup, row.ours)
    assert np.allclose(table["ratio"], table["ours"] / table["paper"])


def test_table3_phishing_values(phishing_split):
    A, shards = phishing_split
    table = theory.table3_stepsizes(A, shards).set_index(["form", "setup"])
    published = table.loc["published-code"]
    by_method = {row.method: row.ours for row in published.itertuples()
                 if "full local gradients" not in row.Index}
    assert by_method["Byz-VR-MARINA"] == pytest.approx(3.890e-4, rel=1e-3)
    assert by_method["Byz-VR-MARINA 2.0"] == pytest.approx(1.910e-2, rel=1e-3)
    assert by_method["Byz-DASHA-PAGE"] == pytest.approx(1.2196e-2, rel=1e-3)
    full = [row for row in published.itertuples() if "full local gradients" in row.Index]
    assert len(full) == 1
    assert full[0].ours == pytest.approx(2.122e-2, rel=1e-3)
    assert "RandK K=6" in next(iter(published.index))
    # The stated Byz-VR-MARINA bound is twice the table's value.
    theorem = table.loc["theorem"]
    marina = theorem[theorem["method"] == "Byz-VR-MARINA"]["ratio"].iloc[0]
    assert marina == pytest.approx(2.076, rel=1e-3)


def test_table3_c_delta_override(phishing_split):
    A, shards = phishing_split
    default = theory.table3_stepsizes(A, shards)
    smaller = theory.table3_stepsizes(A, shards, c_delta_value=0.1875)
    assert (smaller["ours"].to_numpy() > default["ours"].to_numpy()).all()
    assert smaller["setup"].str.contains("c\\*delta=0.1875").all()


# -- Table 1 -------------------------------------------------------------------------------


def test_table1_hand_values():
    # omega = 3, m = 100, b = 4: p = min(1/3, 0.04) = 0.04, max(omega^2, m omega/b) = 75,
    # max(omega, m/b) = 25. c = 2, delta = 1/8: c delta = 1/4. G = 4, B = 0.1, zeta^2 = 2.
    table = theory.table1_rates(omega=3.0, m=100, b=4, G=4, c=2.0, delta=0.125,
                                alpha_D=0.5, alpha_P=0.25, B_het=0.1, zeta2=2.0)
    rows = table.set_index("method")
    assert list(rows.index) == ["Byz-VR-MARINA", "Byz-VR-MARINA 2.0", "Byz-DASHA-PAGE",
                                "Byz-EF21", "Byz-EF21-BC"]

    marina = rows.loc["Byz-VR-MARINA"]
    assert marina["rounds_value"] == pytest.approx(1 + math.sqrt(75) * (0.5 + math.sqrt(0.25 * 25)))
    assert marina["epsilon_bound_value"] == pytest.approx(0.5 / (0.04 - 0.025))
    assert marina["delta_bound_value"] == pytest.approx(0.04 / (2 * 0.1))

    marina2 = rows.loc["Byz-VR-MARINA 2.0"]
    assert marina2["rounds_value"] == pytest.approx(1 + math.sqrt(75) * (0.5 + 0.5))
    assert marina2["epsilon_bound_value"] == pytest.approx(0.5 / (1 - 0.025))
    assert marina2["delta_bound_value"] == pytest.approx(1 / ((2 + math.sqrt(2)) * 0.1))

    dasha = rows.loc["Byz-DASHA-PAGE"]
    assert dasha["rounds_value"] == pytest.approx(1 + (3 + 10 / 4) * 1.0)
    assert dasha["epsilon_bound_value"] == marina2["epsilon_bound_value"]
    assert dasha["delta_bound_value"] == marina2["delta_bound_value"]

    ef_term = 0.25 + 0.5
    ef21 = rows.loc["Byz-EF21"]
    assert ef21["rounds_value"] == pytest.approx(1.5 / 0.5)
    assert ef21["epsilon_bound_value"] == pytest.approx(ef_term * 2 / (1 - 0.1 * ef_term))
    assert ef21["delta_bound_value"] == pytest.approx(1 / (2 * (0.1 + 0.01)))
    assert rows.loc["Byz-EF21-BC", "rounds_value"] == pytest.approx(1.5 / (0.5 * 0.25))


def test_table1_vacuous_bounds_inf():
    # c delta B > p, so Byz-VR-MARINA has no finite accuracy. B = 0 bounds no delta.
    table = theory.table1_rates(omega=3.0, m=100, b=4, G=4, c=2.0, delta=0.125,
                                alpha_D=0.5, alpha_P=0.5, B_het=0.5, zeta2=1.0)
    assert math.isinf(table.loc[0, "epsilon_bound_value"])
    no_heterogeneity = theory.table1_rates(omega=3.0, m=100, b=4, G=4, c=2.0, delta=0.125,
                                           alpha_D=0.5, alpha_P=0.5, B_het=0.0, zeta2=1.0)
    assert np.isinf(no_heterogeneity["delta_bound_value"]).all()
    assert np.isfinite(no_heterogeneity["epsilon_bound_value"]).all()


def test_table1_expressions_plain_text():
    table = theory.table1_rates(omega=1.0, m=10, b=1, G=2, c=1.0, delta=0.1,
                                alpha_D=1.0, alpha_P=1.0, B_het=0.0, zeta2=0.0)
    for column in ("rounds", "epsilon_bound", "delta_bound"):
        assert not table[column].str.contains(r"\\|\$").any()
    assert table.loc[2, "rounds"] == "1 + (omega + sqrt(m)/b) * (sqrt(1/G) + sqrt(c*delta))"


def test_table1_invalid():
    with pytest.raises(ValueError, match="b = 20"):
        theory.table1_rates(omega=1.0, m=10, b=20, G=2, c=1.0, delta=0.1,
                            alpha_D=1.0, alpha_P=1.0, B_het=0.0, zeta2=0.0)
    with pytest.raises(ValueError, match="delta"):
        theory.table1_rates(omega=1.0, m=10, b=1, G=2, c=1.0, delta=0.6,
                            alpha_D=1.0, alpha_P=1.0, B_het=0.0, zeta2=0.0)


# -- written tables ------------------------------------------------------------------------


def test_write_theory_tables(tmp_path, phishing_split):
    A, shards = phishing_split
    paths = theory.write_theory_tables(tmp_path / "tables", A, shards)

    names = sorted(path.name for path in paths)
    assert names == sorted(f"{stem}.{ext}" for stem in ("table1_rates", "table3_stepsizes")
                           for ext in ("csv", "md", "tex"))
    assert all(path.stat().st_size > 0 for path in paths)

    table3 = pd.read_csv(tmp_path / "tables" / "table3_stepsizes.csv")
    expected = theory.table3_stepsizes(A, shards)
    assert np.allclose(table3["ours"], expected["ours"], rtol=1e-12)
    table1 = pd.read_csv(tmp_path / "tables" / "table1_rates.csv")
    assert list(table1["method"]) == list(theory.METHOD_LABELS.values())
    assert "Byz-DASHA-PAGE" in (tmp_path / "tables" / "table3_stepsizes.md").read_text()
