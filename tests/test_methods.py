"""Invariants of the five methods (Rammal et al., 2024, Algorithms 1-4)."""

from __future__ import annotations

import numpy as np
import pytest

from byzsim.aggregators import make_aggregator
from byzsim.attacks import make_attack
from byzsim.compressors import make_compressor
from byzsim.engine import run_batch
from byzsim.methods import METHODS, method_class
from byzsim.problems import make_logistic_problem

ALL_METHODS = sorted(METHODS)


def synthetic_problem(setting="heterogeneous", n_workers=6, n_byzantine=0, regularizer="nonconvex",
                      rows=240, d=8, seed=0, density=1.0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((rows, d)) / np.sqrt(d)
    if density < 1.0:
        features[rng.random((rows, d)) >= density] = 0.0
    labels = np.where(rng.random(rows) < 0.5, -1.0, 1.0)
    return make_logistic_problem(features, labels, dataset="synthetic", setting=setting,
                                 regularizer=regularizer, lam=0.1, n_workers=n_workers,
                                 n_byzantine=n_byzantine)


def build_method(name, problem, compressor=None, server_compressor=None, **params):
    compressor = compressor or make_compressor({"name": "identity"}, problem.d)
    server_compressor = server_compressor or make_compressor({"name": "identity"}, problem.d)
    return method_class(name)(compressor, server_compressor=server_compressor, **params)


def run(problem, method, gammas, seeds, aggregator=None, attack=None, iterations=40, log_every=1):
    aggregator = aggregator or make_aggregator({"name": "mean"}, problem.n_byzantine)
    attack = attack or make_attack({"name": "none"})
    rngs = [np.random.default_rng(seed) for seed in seeds]
    return run_batch(problem, method, aggregator, attack, gammas, rngs, iterations, log_every,
                     problem.x_star + 1.0)


def gradient_descent(problem, gamma, iterations):
    x = problem.x_star + 1.0
    norms = [float(np.sum(problem.gradient(x[None])[0] ** 2))]
    for _ in range(iterations):
        x = x - gamma * problem.gradient(x[None])[0]
        norms.append(float(np.sum(problem.gradient(x[None])[0] ** 2)))
    return np.array(norms)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_method_reduces_to_gradient_descent(name):
    problem = synthetic_problem()
    params = {"p": 1.0, "momentum": 1.0} if name == "byz-dasha-page" else {"p": 1.0}
    method = build_method(name, problem, **params)
    [trajectory] = run(problem, method, [0.5], [0])
    expected = gradient_descent(problem, 0.5, 40)
    np.testing.assert_allclose(trajectory.columns()["grad_norm_sq"], expected, rtol=1e-12, atol=1e-15)


def test_ef21_bc_identity_equals_ef21():
    problem = synthetic_problem(n_workers=9, n_byzantine=2)
    topk = make_compressor({"name": "topk", "K": 2}, problem.d)
    aggregator = make_aggregator({"name": "cm", "bucket_size": 2}, problem.n_byzantine)
    attack = make_attack({"name": "alie", "z": 1.06})
    plain = run(problem, build_method("byz-ef21", problem, topk), [0.3, 1.0], [1, 2], aggregator, attack)
    bidirectional = run(problem, build_method("byz-ef21-bc", problem, topk), [0.3, 1.0], [1, 2],
                        aggregator, attack)
    for a, b in zip(plain, bidirectional):
        assert a.grad_norm_sq == b.grad_norm_sq
        assert a.estimator_norm_sq == b.estimator_norm_sq


def test_ef21_bc_topk_server_sends_fewer_bits():
    problem = synthetic_problem()
    topk = make_compressor({"name": "topk", "K": 2}, problem.d)
    method = build_method("byz-ef21-bc", problem, topk, server_compressor=topk)
    [trajectory] = run(problem, method, [0.5], [0], iterations=10)
    assert trajectory.bits_down[-1] == 10 * topk.bits(problem.d)
    assert trajectory.grad_norm_sq[-1] < trajectory.grad_norm_sq[0]


def test_vr_marina_versions_coincide_homogeneous():
    problem = synthetic_problem(setting="homogeneous")
    params = {"p": 0.3, "batch_size": None}
    original = run(problem, build_method("byz-vr-marina", problem, **params), [0.5], [3])[0]
    improved = run(problem, build_method("byz-vr-marina-2", problem, **params), [0.5], [3])[0]
    np.testing.assert_allclose(original.grad_norm_sq, improved.grad_norm_sq, rtol=1e-10)


def test_vr_marina_versions_differ_under_attack():
    problem = synthetic_problem(setting="homogeneous", n_workers=9, n_byzantine=2)
    randk = make_compressor({"name": "randk", "K": 2}, problem.d)
    params = {"p": 0.1, "batch_size": 4}
    aggregator = make_aggregator({"name": "cm", "bucket_size": 2}, problem.n_byzantine)
    attack = make_attack({"name": "bf"})
    original = run(problem, build_method("byz-vr-marina", problem, randk, **params), [0.5], [3],
                   aggregator, attack)[0]
    improved = run(problem, build_method("byz-vr-marina-2", problem, randk, **params), [0.5], [3],
                   aggregator, attack)[0]
    assert not np.allclose(original.grad_norm_sq, improved.grad_norm_sq)


@pytest.mark.parametrize("name", ALL_METHODS)
@pytest.mark.parametrize("setting", ["homogeneous", "heterogeneous"])
@pytest.mark.parametrize("density", [1.0, 0.05])
def test_batch_equals_single_runs(name, setting, density):
    # density 0.05 puts the data below SPARSE_DENSITY, so the CSR passes are compared too.
    problem = synthetic_problem(setting=setting, n_workers=9, n_byzantine=2, density=density,
                                rows=720, d=40)
    assert problem.rows.is_sparse == (density < 0.25)
    kind = {"name": "topk", "K": 2} if name.startswith("byz-ef21") else {"name": "randk", "K": 3}
    compressor = make_compressor(kind, problem.d)
    params = {} if name.startswith("byz-ef21") else {"p": 0.2, "batch_size": 5}
    if name == "byz-dasha-page":
        params["momentum"] = 1.0 / (2 * compressor.omega + 1)
    aggregator = make_aggregator({"name": "cm", "bucket_size": 2}, problem.n_byzantine)
    for attack_name in ("alie", "lf"):
        attack = make_attack({"name": attack_name})
        gammas, seeds = [0.1, 0.4, 0.4], [5, 5, 6]
        batched = run(problem, build_method(name, problem, compressor, **params), gammas, seeds,
                      aggregator, attack, iterations=30, log_every=3)
        for gamma, seed, together in zip(gammas, seeds, batched):
            [alone] = run(problem, build_method(name, problem, compressor, **params), [gamma], [seed],
                          aggregator, attack, iterations=30, log_every=3)
            assert together.grad_norm_sq == alone.grad_norm_sq
            assert together.estimator_norm_sq == alone.estimator_norm_sq
            assert together.bits_up == alone.bits_up


def test_same_seed_same_trajectory():
    problem = synthetic_problem(n_workers=9, n_byzantine=2)
    randk = make_compressor({"name": "randk", "K": 3}, problem.d)
    method = build_method("byz-dasha-page", problem, randk, p=0.2, batch_size=5, momentum=0.3)
    first = run(problem, method, [0.2], [7], make_aggregator({"name": "gm", "bucket_size": 2}, 2),
                make_attack({"name": "ipm"}))
    second = run(problem, method, [0.2], [7], make_aggregator({"name": "gm", "bucket_size": 2}, 2),
                 make_attack({"name": "ipm"}))
    assert first[0].grad_norm_sq == second[0].grad_norm_sq


def test_divergent_run_stops_and_is_marked():
    # With the ridge term, gamma * lam = 1e5 makes ||x|| grow geometrically.
    problem = synthetic_problem(regularizer="ridge")
    method = build_method("byz-ef21", problem)
    slow, fast = run(problem, method, [0.5, 1e6], [0, 0], iterations=200, log_every=10)
    assert slow.iteration[-1] == 200
    assert not any(slow.diverged)
    assert fast.diverged[-1]
    assert not any(fast.diverged[:-1])
    assert fast.iteration[-1] < 200


def test_bits_count_sync_and_compressed_rounds():
    problem = synthetic_problem()
    randk = make_compressor({"name": "randk", "K": 2}, problem.d)
    method = build_method("byz-vr-marina-2", problem, randk, p=0.5, batch_size=4)
    [trajectory] = run(problem, method, [0.1], [0], iterations=50, log_every=50)
    bits = trajectory.bits_up[-1]
    full, compressed = 32 * problem.d, randk.bits(problem.d)
    sync_rounds = (bits - 50 * compressed) / (full - compressed)
    assert sync_rounds == int(sync_rounds)
    assert 5 < sync_rounds < 45
    assert trajectory.bits_down[-1] == 50 * 32 * problem.d


@pytest.mark.parametrize("name", ["byz-vr-marina", "byz-vr-marina-2"])
def test_full_gradient_differences_telescope(name):
    # With full local gradients and no compression, g_i^t + grad f_i(x^{t+1}) - grad f_i(x^t)
    # is grad f_i(x^{t+1}) in every round, synchronized or not: gradient descent again.
    problem = synthetic_problem()
    method = build_method(name, problem, p=0.3, batch_size=None)
    [trajectory] = run(problem, method, [0.5], [4])
    expected = gradient_descent(problem, 0.5, 40)
    np.testing.assert_allclose(trajectory.columns()["grad_norm_sq"], expected, rtol=1e-9)
