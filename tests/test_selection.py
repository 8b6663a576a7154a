"""Tests of byzsim.selection: scores, the choice of multiplier, divergence and files."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from byzsim import store
from store_frames import IDENTITY, run_frame
from byzsim.selection import (
    SELECTION_COLUMNS,
    format_multiplier,
    read_selection,
    run_scores,
    seed_curve,
    select_runs,
    select_stepsizes,
    validate_rule,
    write_selection,
)

def trajectory(values, *, multiplier=1.0, seed=0, log_every=10, diverged_from=None, **identity):
    """Return one run's rows in the store schema with ``grad_norm_sq`` = ``values``."""
    return run_frame(values, multiplier=multiplier, seed=seed, log_every=log_every,
                     diverged_from=diverged_from, gap_factor=2.0, **identity)


def constant_tail(head, tail_value, n=21):
    """Values that fall from ``head`` to ``tail_value``, constant over the last rows."""
    values = np.full(n, float(tail_value))
    values[0] = head
    return values


def test_rule_defaults_filled():
    rule = validate_rule({"metric": "optimality_gap"})
    assert rule == {"metric": "optimality_gap", "statistic": "mean", "last_fraction": 0.1}


@pytest.mark.parametrize(
    "rule, fragment",
    [
        ({"metrc": "grad_norm_sq"}, "metrc"),
        ({"metric": "loss"}, "'loss'"),
        ({"statistic": "max"}, "'max'"),
        ({"last_fraction": 0.0}, "last_fraction 0.0"),
        ({"last_fraction": 1.5}, "last_fraction 1.5"),
        ({"last_fraction": "0.1"}, "last_fraction '0.1'"),
    ],
)
def test_rule_invalid_named(rule, fragment):
    with pytest.raises(ValueError, match=fragment):
        validate_rule(rule)


def test_score_mean_over_last_window():
    # 21 rows at iterations 0..200: the last 10% is iterations 180, 190, 200.
    values = np.arange(21, dtype=np.float64) + 1.0
    scores = run_scores(trajectory(values), {"last_fraction": 0.1})
    assert len(scores) == 1
    assert scores["score"].iloc[0] == pytest.approx(np.mean([19.0, 20.0, 21.0]))


@pytest.mark.parametrize(
    "statistic, expected",
    [("mean", 4.0), ("median", 3.0), ("min", 2.0), ("last", 7.0)],
)
def test_score_statistics(statistic, expected):
    # last_fraction 0.2 over iterations 0..200 keeps iterations 160..200.
    values = np.ones(21)
    values[-5:] = [3.0, 2.0, 5.0, 3.0, 7.0]
    scores = run_scores(trajectory(values), {"statistic": statistic, "last_fraction": 0.2})
    assert scores["score"].iloc[0] == pytest.approx(expected)


def test_select_lowest_score():
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.3), multiplier=1.0),
            trajectory(constant_tail(1.0, 0.1), multiplier=2.0),
            trajectory(constant_tail(1.0, 0.2), multiplier=4.0),
        ]
    )
    selection = select_stepsizes(frame, None)
    assert list(selection.columns) == list(SELECTION_COLUMNS)
    assert selection["multiplier"].tolist() == [1.0, 2.0, 4.0]
    assert selection["score"].tolist() == pytest.approx([0.3, 0.1, 0.2])
    assert selection["selected"].tolist() == [False, True, False]


def test_select_never_diverged():
    # The diverged run has the lowest score up to its divergence, yet is never chosen.
    diverged = trajectory(constant_tail(1.0, 1e-9), multiplier=8.0, diverged_from=18)
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.5), multiplier=1.0),
            trajectory(constant_tail(1.0, 0.4), multiplier=2.0),
            diverged,
        ]
    )
    selection = select_stepsizes(frame, {"metric": "grad_norm_sq"})
    chosen = selection[selection["selected"]]
    assert chosen["multiplier"].tolist() == [2.0]
    assert selection.set_index("multiplier")["diverged"].to_dict() == {
        1.0: False,
        2.0: False,
        8.0: True,
    }


def test_select_diverged_seed_excludes():
    # One of two seeds diverged: the multiplier is out even though its mean is best.
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.01), multiplier=4.0, seed=0),
            trajectory(constant_tail(1.0, 0.01), multiplier=4.0, seed=1, diverged_from=20),
            trajectory(constant_tail(1.0, 0.5), multiplier=1.0, seed=0),
            trajectory(constant_tail(1.0, 0.5), multiplier=1.0, seed=1),
        ]
    )
    selection = select_stepsizes(frame)
    assert selection.loc[selection["selected"], "multiplier"].tolist() == [1.0]


def test_select_all_diverged_warns(caplog):
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.5), multiplier=1.0, diverged_from=5),
            trajectory(constant_tail(1.0, 0.4), multiplier=2.0, diverged_from=3),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="byzsim.selection"):
        selection = select_stepsizes(frame)
    assert not selection["selected"].any()
    assert selection["diverged"].all()
    assert "no stepsize selected" in caplog.text
    assert "method=byz-dasha-page" in caplog.text


def test_select_tie_smaller_multiplier():
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.25), multiplier=4.0),
            trajectory(constant_tail(1.0, 0.25), multiplier=2.0),
            trajectory(constant_tail(1.0, 0.25), multiplier=8.0),
        ]
    )
    selection = select_stepsizes(frame)
    assert selection.loc[selection["selected"], "multiplier"].tolist() == [2.0]


def test_select_mean_over_seeds():
    # Multiplier 1: seeds score 0.1 and 0.5 (mean 0.3). Multiplier 2: 0.2 and 0.2.
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.1), multiplier=1.0, seed=0),
            trajectory(constant_tail(1.0, 0.5), multiplier=1.0, seed=1),
            trajectory(constant_tail(1.0, 0.2), multiplier=2.0, seed=0),
            trajectory(constant_tail(1.0, 0.2), multiplier=2.0, seed=1),
        ]
    )
    selection = select_stepsizes(frame)
    assert selection["score"].tolist() == pytest.approx([0.3, 0.2])
    assert selection.loc[selection["selected"], "multiplier"].tolist() == [2.0]


def test_select_nan_score_skipped():
    with_nan = constant_tail(1.0, 0.01)
    with_nan[-3:] = np.nan
    frame = pd.concat(
        [
            trajectory(with_nan, multiplier=2.0),
            trajectory(constant_tail(1.0, 0.3), multiplier=1.0),
        ]
    )
    selection = select_stepsizes(frame)
    assert np.isnan(selection.set_index("multiplier").loc[2.0, "score"])
    assert selection.loc[selection["selected"], "multiplier"].tolist() == [1.0]


def test_select_per_cell():
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.1), multiplier=1.0, attack="bf"),
            trajectory(constant_tail(1.0, 0.2), multiplier=2.0, attack="bf"),
            trajectory(constant_tail(1.0, 0.3), multiplier=1.0, attack="lf"),
            trajectory(constant_tail(1.0, 0.2), multiplier=2.0, attack="lf"),
            trajectory(constant_tail(1.0, 0.9), multiplier=1.0, method="byz-vr-marina"),
        ]
    )
    selection = select_stepsizes(frame)
    chosen = selection[selection["selected"]].set_index(["method", "attack"])["multiplier"]
    assert chosen.to_dict() == {
        ("byz-dasha-page", "bf"): 1.0,
        ("byz-dasha-page", "lf"): 2.0,
        ("byz-vr-marina", "alie"): 1.0,
    }


def test_select_optimality_gap_metric():
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.1), multiplier=1.0),
            trajectory(constant_tail(1.0, 0.2), multiplier=2.0),
        ]
    )
    # optimality_gap is twice grad_norm_sq in these rows.
    selection = select_stepsizes(frame, {"metric": "optimality_gap"})
    assert selection["score"].tolist() == pytest.approx([0.2, 0.4])


def test_select_null_gap_rejected():
    frame = trajectory(constant_tail(1.0, 0.1))
    frame["optimality_gap"] = np.nan
    with pytest.raises(ValueError, match="null in every row"):
        select_stepsizes(frame, {"metric": "optimality_gap"})


def test_select_missing_column():
    frame = trajectory(constant_tail(1.0, 0.1)).drop(columns=["diverged"])
    with pytest.raises(ValueError, match=r"\['diverged'\]"):
        select_stepsizes(frame)


def test_select_categorical_identity():
    # Hive partition readers may return identity columns as categoricals of strings.
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.3), multiplier=1.0),
            trajectory(constant_tail(1.0, 0.1), multiplier=0.5),
        ]
    )
    frame["multiplier"] = pd.Categorical(frame["multiplier"].map(repr))
    frame["method"] = pd.Categorical(frame["method"])
    selection = select_stepsizes(frame)
    assert selection["multiplier"].dtype == np.float64
    assert selection.loc[selection["selected"], "multiplier"].tolist() == [0.5]
    assert len(select_runs(frame, selection)) == 21


def test_select_runs_keeps_chosen():
    frame = pd.concat(
        [
            trajectory(constant_tail(1.0, 0.3), multiplier=1.0),
            trajectory(constant_tail(1.0, 0.1), multiplier=2.0),
        ]
    )
    chosen = select_runs(frame, select_stepsizes(frame))
    assert len(chosen) == 21
    assert set(chosen["multiplier"]) == {2.0}


def test_store_round_trip(tmp_path):
    root = tmp_path / "runs"
    for multiplier, tail in ((1.0, 0.3), (2.0, 0.05), (4.0, 0.1)):
        rows = trajectory(constant_tail(1.0, tail), multiplier=multiplier)
        identity = rows.iloc[0].to_dict()
        store.write_run(store.run_path(root, identity), rows, config={"test": True}, wall_time_s=0.1)

    frame = store.load(root, experiment="figure2_3")
    selection = select_stepsizes(frame)
    assert selection.loc[selection["selected"], "multiplier"].tolist() == [2.0]

    path = write_selection(selection, tmp_path / "selection" / "figure2_3.csv")
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["figure2_3.csv"]
    read_back = read_selection(path)
    pd.testing.assert_frame_equal(read_back, selection, check_dtype=False)
    assert read_back["selected"].dtype == bool
    assert read_back["multiplier"].dtype == np.float64


def test_seed_curve_common_iterations():
    long_run = trajectory([4.0, 2.0, 1.0, 0.5], seed=0)
    short_run = trajectory([2.0, 4.0, 3.0], seed=1, diverged_from=2)
    curve = seed_curve(pd.concat([long_run, short_run]), "bits_up", "grad_norm_sq")
    assert curve.index.tolist() == [0, 10, 20]
    assert curve["mean"].tolist() == pytest.approx([3.0, 3.0, 2.0])
    assert curve["std"].tolist() == pytest.approx([np.sqrt(2.0), np.sqrt(2.0), np.sqrt(2.0)])
    assert curve["x"].tolist() == pytest.approx([0.0, 1920.0, 3840.0])


@pytest.mark.parametrize("value, text", [(64.0, "64x"), (1.0, "1x"), (0.5, "0.5x"), (10, "10x")])
def test_format_multiplier(value, text):
    assert format_multiplier(value) == text
