"""Tests of byzsim.claims on hand-made stores where a claim is true or false."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from byzsim import store
from store_frames import run_frame
from byzsim.claims import (
    CLAIM_COLUMNS,
    PAPER_CLAIMS,
    Claim,
    check_claims,
    paper_claims,
    summarize_claims,
    write_claims,
)
from byzsim.selection import select_stepsizes

ATTACKS = ("bf", "lf", "ipm", "alie")
OURS = ("byz-vr-marina-2", "byz-dasha-page")


def trajectory(values, *, method, attack, multiplier=1.0, seed=0, aggregator="cm",
               experiment="figure2_3", dataset="phishing", stepsize=None, diverged_from=None,
               bits_per_iteration=100):
    """Return one run's rows in the store schema; ``values`` is ||grad f||^2 and f - f*."""
    return run_frame(values, method=method, attack=attack, multiplier=multiplier, seed=seed,
                     aggregator=aggregator, experiment=experiment, dataset=dataset,
                     stepsize=stepsize, diverged_from=diverged_from,
                     bits_per_iteration=bits_per_iteration)


def decay(rate, floor, n=41):
    return np.exp(-rate * np.arange(n)) + floor


def by_id(claim_id):
    return [claim for claim in PAPER_CLAIMS if claim.claim_id == claim_id]


def figure2_frames(ours_rate, ours_floor, marina_rate, marina_floor, attacks=ATTACKS):
    frames = []
    for attack in attacks:
        for method in OURS:
            frames.append(trajectory(decay(ours_rate, ours_floor), method=method, attack=attack))
        frames.append(trajectory(decay(marina_rate, marina_floor), method="byz-vr-marina",
                                 attack=attack))
    return frames


@pytest.fixture
def store_where_claims_hold(tmp_path):
    """Figure 2 runs written to a real store: ours fall faster and lower than Byz-VR-MARINA."""
    root = tmp_path / "runs"
    frame = pd.concat(figure2_frames(0.5, 1e-4, 0.1, 1e-2), ignore_index=True)
    for _, rows in frame.groupby(list(store.PARTITION_KEYS)):
        store.write_run(store.run_path(root, rows.iloc[0].to_dict()), rows,
                        config={"synthetic": True}, wall_time_s=0.01)
    return store.load(root)


def test_claims_hold_reproduced(store_where_claims_hold):
    frame = store_where_claims_hold
    claims = by_id("figure2-neighborhood") + by_id("figure2-speed")
    result = check_claims(frame, {"figure2_3": select_stepsizes(frame)}, claims)
    assert list(result.columns) == list(CLAIM_COLUMNS)
    assert len(result) == 2 * len(ATTACKS) * len(OURS)
    assert (result["reproduced"] == "yes").all()
    neighborhood = result[result["claim_id"] == "figure2-neighborhood"]
    # Final value: mean over the last 10% of the iterations, 360..400, which are rows 36..40.
    expected_ours = np.mean(decay(0.5, 1e-4)[36:])
    expected_marina = np.mean(decay(0.1, 1e-2)[36:])
    assert neighborhood["method_value"].to_numpy() == pytest.approx(expected_ours)
    assert neighborhood["reference_value"].to_numpy() == pytest.approx(expected_marina)
    assert set(neighborhood["method_multiplier"]) == {"1x"}


def test_claims_fail_not_reproduced():
    # Byz-VR-MARINA is now the better method, so the claims are measured and fail.
    frame = pd.concat(figure2_frames(0.1, 1e-2, 0.5, 1e-4), ignore_index=True)
    claims = by_id("figure2-neighborhood") + by_id("figure2-speed")
    result = check_claims(frame, select_stepsizes(frame), claims)
    assert (result["reproduced"] == "no").all()
    summary = summarize_claims(result).set_index("claim_id")
    assert summary.loc["figure2-neighborhood", "verdict"] == "no"
    assert summary.loc["figure2-neighborhood", "no"] == 8


def test_missing_experiment_not_run(store_where_claims_hold):
    frame = store_where_claims_hold
    result = check_claims(frame, select_stepsizes(frame))
    figure1 = result[result["figure"] == 1]
    assert len(figure1) > 0
    assert (figure1["reproduced"] == "not run").all()
    assert (figure1["detail"] == "experiment not in the result store").all()
    figure2 = result[result["claim_id"] == "figure2-neighborhood"]
    assert (figure2["reproduced"] == "yes").all()
    summary = summarize_claims(result).set_index("claim_id")
    assert summary.loc["figure1-accuracy", "verdict"] == "not run"
    assert summary.loc["figure2-neighborhood", "verdict"] == "yes"


def test_missing_attack_not_run():
    frame = pd.concat(figure2_frames(0.5, 1e-4, 0.1, 1e-2, attacks=("bf", "lf", "alie")))
    result = check_claims(frame, select_stepsizes(frame), by_id("figure2-neighborhood"))
    verdicts = result.groupby("attack")["reproduced"].unique().map(list).to_dict()
    assert verdicts == {"alie": ["yes"], "bf": ["yes"], "ipm": ["not run"], "lf": ["yes"]}


def test_partly_reproduced():
    frames = figure2_frames(0.5, 1e-4, 0.1, 1e-2, attacks=("bf", "lf", "ipm"))
    frames += figure2_frames(0.1, 1e-2, 0.5, 1e-4, attacks=("alie",))
    frame = pd.concat(frames)
    result = check_claims(frame, select_stepsizes(frame), by_id("figure2-neighborhood"))
    summary = summarize_claims(result).iloc[0]
    assert (summary["yes"], summary["no"], summary["not_run"]) == (6, 2, 0)
    assert summary["verdict"] == "partly"


def test_faster_bits_to_threshold():
    claim = Claim(claim_id="c", figure=6, source="test", text="EF21 is faster.",
                  experiment="figure6_7", dataset="phishing", test="faster",
                  metric="grad_norm_sq", x="bits_up", methods=("byz-ef21",),
                  reference="byz-vr-marina", attacks=("bf",))
    # Both end at 0.01. EF21 first reaches it at row 3, MARINA at row 6.
    ef21 = np.array([1.0, 0.5, 0.1, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])
    marina = np.array([1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.01, 0.01, 0.01, 0.01, 0.01])
    frame = pd.concat([
        trajectory(ef21, method="byz-ef21", attack="bf", experiment="figure6_7",
                   bits_per_iteration=42),
        trajectory(marina, method="byz-vr-marina", attack="bf", experiment="figure6_7",
                   bits_per_iteration=32),
    ])
    row = check_claims(frame, None, [claim]).iloc[0]
    assert row["method_value"] == 3 * 10 * 42
    assert row["reference_value"] == 6 * 10 * 32
    assert row["reproduced"] == "yes"
    assert row["detail"] == "eps = 0.01"


def test_faster_tie_final_decides():
    # Byz-VR-MARINA never falls below its start, so both "reach" eps at bits 0.
    claim = Claim(claim_id="c", figure=2, source="test", text="Ours are faster.",
                  experiment="figure2_3", dataset="phishing", test="faster",
                  metric="grad_norm_sq", x="bits_up", methods=("byz-dasha-page",),
                  reference="byz-vr-marina", attacks=("bf",))
    frame = pd.concat([
        trajectory(decay(0.5, 1e-4), method="byz-dasha-page", attack="bf"),
        trajectory(np.full(41, 1.01), method="byz-vr-marina", attack="bf"),
    ])
    row = check_claims(frame, None, [claim]).iloc[0]
    assert row["method_value"] == 0
    assert row["reference_value"] == 0
    assert row["reproduced"] == "yes"
    assert row["detail"] == "eps = 1.01; both reach eps at the same point, so the lower final value decides"


def test_steadier_fluctuation():
    claim = by_id("figure2-stability")[0]
    steady = np.geomspace(1.0, 1e-3, 11)
    zigzag = np.array([1.0, 0.1, 1.0, 0.1, 0.01, 0.1, 0.01, 0.01, 0.01, 0.01, 0.01])
    frames = []
    for attack in ATTACKS:
        frames.append(trajectory(steady, method="byz-vr-marina-2", attack=attack))
        frames.append(trajectory(zigzag, method="byz-dasha-page", attack=attack))
        frames.append(trajectory(zigzag * 2, method="byz-vr-marina", attack=attack))
    frame = pd.concat(frames)
    result = check_claims(frame, None, [claim]).set_index(["method", "attack"])
    # Rises of log10: 0.1 -> 1 (1 decade) and 0.01 -> 0.1 (1 decade).
    assert result.loc[("byz-vr-marina-2", "bf"), "method_value"] == pytest.approx(0.0)
    assert result.loc[("byz-vr-marina-2", "bf"), "reference_value"] == pytest.approx(2.0)
    assert result.loc[("byz-vr-marina-2", "bf"), "reproduced"] == "yes"
    assert result.loc[("byz-dasha-page", "bf"), "reproduced"] == "no"


@pytest.mark.parametrize("strong, weak, verdict", [(100.0, 2.0, "yes"), (2.0, 100.0, "no")])
def test_pronounced_bf_lf(strong, weak, verdict):
    claim = by_id("figure2-bf-lf")[0]
    frames = []
    for attack in ATTACKS:
        factor = strong if attack in ("bf", "lf") else weak
        for method in OURS:
            frames.append(trajectory(decay(0.5, 1e-4), method=method, attack=attack))
        frames.append(trajectory(decay(0.5, 1e-4 * factor), method="byz-vr-marina", attack=attack))
    frame = pd.concat(frames)
    result = check_claims(frame, None, [claim])
    assert len(result) == len(OURS)
    assert set(result["attack"]) == {"BF, LF vs IPM, ALIE"}
    assert result["method_value"].to_numpy() == pytest.approx(strong, rel=1e-2)
    assert result["reference_value"].to_numpy() == pytest.approx(weak, rel=1e-2)
    assert (result["reproduced"] == verdict).all()


def test_larger_stepsize():
    claim = by_id("figure2-stepsize")[0]
    frames = []
    for attack in ATTACKS:
        frames.append(trajectory(decay(0.5, 1e-4), method="byz-vr-marina-2", attack=attack,
                                 stepsize=2e-2))
        frames.append(trajectory(decay(0.5, 1e-4), method="byz-dasha-page", attack=attack,
                                 stepsize=1e-4))
        frames.append(trajectory(decay(0.5, 1e-4), method="byz-vr-marina", attack=attack,
                                 stepsize=4e-4))
    result = check_claims(pd.concat(frames), None, [claim]).set_index(["method", "attack"])
    assert result.loc[("byz-vr-marina-2", "alie"), "reproduced"] == "yes"
    assert result.loc[("byz-vr-marina-2", "alie"), "method_value"] == pytest.approx(2e-2)
    assert result.loc[("byz-dasha-page", "alie"), "reproduced"] == "no"


def test_reference_diverged_everywhere():
    claim = by_id("figure2-neighborhood")[0]
    frames = []
    for attack in ATTACKS:
        for method in OURS:
            frames.append(trajectory(decay(0.5, 1e-4), method=method, attack=attack))
        for multiplier in (1.0, 2.0):
            frames.append(trajectory(decay(0.1, 1e-6), method="byz-vr-marina", attack=attack,
                                     multiplier=multiplier, diverged_from=30))
    frame = pd.concat(frames)
    result = check_claims(frame, select_stepsizes(frame), [claim])
    assert (result["reproduced"] == "yes").all()
    assert (result["detail"] == "reference diverged at every multiplier, the method did not").all()
    assert (result["reference_multiplier"] == "none").all()


def test_method_diverged_everywhere():
    claim = by_id("figure2-neighborhood")[0]
    frames = []
    for attack in ATTACKS:
        frames.append(trajectory(decay(0.5, 1e-6), method="byz-vr-marina-2", attack=attack,
                                 diverged_from=20))
        frames.append(trajectory(decay(0.5, 1e-4), method="byz-dasha-page", attack=attack))
        frames.append(trajectory(decay(0.1, 1e-2), method="byz-vr-marina", attack=attack))
    frame = pd.concat(frames)
    result = check_claims(frame, select_stepsizes(frame), [claim]).set_index(["method", "attack"])
    assert result.loc[("byz-vr-marina-2", "bf"), "reproduced"] == "no"
    assert result.loc[("byz-vr-marina-2", "bf"), "detail"] == "method diverged at every multiplier"
    assert result.loc[("byz-dasha-page", "bf"), "reproduced"] == "yes"


def test_fixed_multiplier_seeds_diverged():
    claim = [c for c in PAPER_CLAIMS if c.claim_id == "figure8-neighborhood"][0]
    frames = []
    for aggregator in ("mean", "cm", "gm"):
        for seed in range(3):
            frames.append(trajectory(decay(0.3, 0.5), method="byz-vr-marina", attack="mimic",
                                     multiplier=10.0, seed=seed, aggregator=aggregator,
                                     experiment="figure8", dataset="quadratic"))
            frames.append(trajectory(decay(0.3, 0.05), method="byz-dasha-page", attack="mimic",
                                     multiplier=10.0, seed=seed, aggregator=aggregator,
                                     experiment="figure8", dataset="quadratic",
                                     diverged_from=30 if seed < 2 else None))
    result = check_claims(pd.concat(frames), None, [claim])
    assert (result["reproduced"] == "no").all()
    assert (result["detail"] == "method 2 of 3 seeds diverged at 10x").all()
    assert (result["method_multiplier"] == "10x").all()


def test_selection_made_when_missing():
    # No selection is given: the best multiplier by the claim's metric is used.
    claim = by_id("figure2-neighborhood")[0]
    frames = []
    for attack in ATTACKS:
        for method in OURS:
            frames.append(trajectory(decay(0.5, 1e-2), method=method, attack=attack, multiplier=1))
            frames.append(trajectory(decay(0.5, 1e-5), method=method, attack=attack, multiplier=8))
        frames.append(trajectory(decay(0.1, 1e-3), method="byz-vr-marina", attack=attack))
    result = check_claims(pd.concat(frames), None, [claim])
    assert set(result["method_multiplier"]) == {"8x"}
    assert (result["reproduced"] == "yes").all()


def test_figure8_neighborhood_spread():
    rng = np.random.default_rng(3)
    frames = []
    for aggregator in ("mean", "cm", "gm"):
        for seed in range(15):
            noise = rng.normal(0.0, 1.0, 41)
            dasha = decay(0.3, 0.05) * (1 + 0.05 * noise)
            marina = decay(0.3, 0.5) * (1 + 0.4 * noise)
            for method, values in (("byz-dasha-page", dasha), ("byz-vr-marina", marina)):
                frames.append(trajectory(values, method=method, attack="mimic", multiplier=10.0,
                                         seed=seed, aggregator=aggregator, experiment="figure8",
                                         dataset="quadratic"))
    frame = pd.concat(frames)
    claims = [claim for claim in PAPER_CLAIMS if claim.figure == 8]
    result = check_claims(frame, None, claims)
    assert len(result) == 3 * 3
    assert (result["reproduced"] == "yes").all()
    assert sorted(set(result["aggregator"])) == ["cm", "gm", "mean"]
    assert set(result["method_multiplier"]) == {"10x"}
    spread = result[result["claim_id"] == "figure8-stability"]
    assert (spread["method_value"] < 0.1).all()
    assert (spread["reference_value"] > 0.2).all()


def test_write_claims_files(store_where_claims_hold, tmp_path):
    frame = store_where_claims_hold
    result = check_claims(frame, select_stepsizes(frame))
    paths = write_claims(result, tmp_path / "results" / "claims")
    assert [path.name for path in paths] == ["claims.md", "claims.csv"]
    assert sorted(path.name for path in (tmp_path / "results").iterdir()) == [
        "claims.csv",
        "claims.md",
    ]
    table = pd.read_csv(paths[1], keep_default_na=False)
    assert list(table.columns) == list(CLAIM_COLUMNS)
    assert len(table) == len(result)
    markdown = paths[0].read_text(encoding="utf-8")
    assert markdown.startswith("# Claims of Rammal et al. (2024)")
    assert "| figure2-neighborhood | 2 |" in markdown
    assert "| figure1-accuracy | 1 |" in markdown
    summary_line = [line for line in markdown.splitlines()
                    if line.startswith("| figure2-neighborhood | 2 |")][0]
    assert summary_line.endswith("| 8 | 0 | 0 | yes |")


def test_paper_claims_cover_figures():
    assert sorted({claim.figure for claim in PAPER_CLAIMS}) == list(range(1, 9))
    ids = [claim.claim_id for claim in PAPER_CLAIMS]
    assert len(ids) == len(set(ids))
    renamed = paper_claims({1: ("homogeneous", "phishing")})
    assert {claim.experiment for claim in renamed if claim.figure == 1} == {"homogeneous"}
    assert {claim.experiment for claim in renamed if claim.figure == 2} == {"figure2_3"}


def test_claim_invalid_test():
    with pytest.raises(ValueError, match="invalid test 'better'"):
        Claim(claim_id="c", figure=1, source="s", text="t", experiment="e", dataset="d",
              test="better", metric="grad_norm_sq", x="bits_up", methods=("a",), reference="b")


def test_frame_missing_column():
    frame = trajectory(decay(0.5, 1e-4), method="byz-dasha-page", attack="bf").drop(
        columns=["stepsize"])
    with pytest.raises(ValueError, match=r"\['stepsize'\]"):
        check_claims(frame, None)


def test_not_run_values_empty(store_where_claims_hold):
    result = check_claims(store_where_claims_hold, None, by_id("figure1-accuracy"))
    assert result["method_value"].map(math.isnan).all()
