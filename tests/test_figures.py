"""Tests of byzsim.figures on small synthetic stores written with byzsim.store."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex

from byzsim import store
from store_frames import run_frame
from byzsim.figures import (
    FIGURE_WIDTH,
    METHOD_STYLES,
    PNG_DPI,
    caption,
    draw_figure,
    save_figure,
)
from byzsim.selection import select_stepsizes

METHODS = ("byz-vr-marina", "byz-vr-marina-2", "byz-dasha-page")
# Not in panel order (BF, LF, IPM, ALIE), so the tests see draw_figure sort them.
ATTACKS = ("alie", "bf", "ipm", "lf")


def trajectory(values, *, method, attack, multiplier, seed=0, aggregator="cm", diverged_from=None,
               experiment="figure2_3", dataset="phishing"):
    """Return one run's rows in the store schema with ``grad_norm_sq`` = ``values``."""
    return run_frame(values, method=method, attack=attack, multiplier=multiplier, seed=seed,
                     aggregator=aggregator, diverged_from=diverged_from, experiment=experiment,
                     dataset=dataset, gap_factor=2.0)


def decay(rate, floor, n=31):
    return np.exp(-rate * np.arange(n)) + floor


def write_store(root, frames):
    """Write each (cell, multiplier) job of ``frames`` to the store under ``root``."""
    frame = pd.concat(frames, ignore_index=True)
    for _, rows in frame.groupby(list(store.PARTITION_KEYS)):
        identity = rows.iloc[0].to_dict()
        store.write_run(store.run_path(root, identity), rows, config={"synthetic": True},
                        wall_time_s=0.01)
    return store.load(root)


@pytest.fixture(scope="module")
def attack_store(tmp_path_factory):
    """Store of three methods x four attacks x multipliers 1, 2, 4 on phishing.

    The best multiplier is 4 for Byz-DASHA-PAGE, 2 for Byz-VR-MARINA 2.0 and 1 for
    Byz-VR-MARINA (its larger multipliers end higher).
    """
    frames = []
    for attack in ATTACKS:
        for multiplier in (1.0, 2.0, 4.0):
            frames.append(trajectory(decay(0.2 * multiplier, 1e-4 / multiplier), method="byz-dasha-page",
                                     attack=attack, multiplier=multiplier))
            floor = 1e-3 if multiplier == 2.0 else 5e-3
            frames.append(trajectory(decay(0.2, floor), method="byz-vr-marina-2", attack=attack,
                                     multiplier=multiplier))
            frames.append(trajectory(decay(0.1, 1e-2 * multiplier), method="byz-vr-marina",
                                     attack=attack, multiplier=multiplier))
    return write_store(tmp_path_factory.mktemp("attack_store") / "runs", frames)


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_files_valid(attack_store, tmp_path):
    figure = draw_figure(attack_store, select_stepsizes(attack_store), title="Figure 2")
    paths = save_figure(figure, tmp_path / "figures" / "figure2")
    assert [path.name for path in paths] == ["figure2.pdf", "figure2.png"]
    assert paths[0].read_bytes()[:4] == b"%PDF"
    width_in, height_in = figure.get_size_inches()
    assert png_size(paths[1]) == (round(width_in * PNG_DPI), round(height_in * PNG_DPI))
    # Only the two figures are left: no temporary files.
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == [
        "figure2.pdf",
        "figure2.png",
    ]


def test_pdf_fonts_deterministic(attack_store, tmp_path):
    # One panel keeps the four saves short.
    frame = attack_store[attack_store["attack"] == "bf"]
    selection = select_stepsizes(frame)
    first = save_figure(draw_figure(frame, selection), tmp_path / "first")[0].read_bytes()
    second = save_figure(draw_figure(frame, selection), tmp_path / "second")[0].read_bytes()
    assert first == second
    assert b"/FontFile2" in first
    assert b"/Type3" not in first


def test_panel_titles_order(attack_store):
    figure = draw_figure(attack_store, select_stepsizes(attack_store))
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["phishing, BF", "phishing, LF", "phishing, IPM", "phishing, ALIE"]
    assert figure.get_size_inches()[0] == pytest.approx(FIGURE_WIDTH)


def test_legend_selected_multiplier(attack_store):
    figure = draw_figure(attack_store, select_stepsizes(attack_store))
    for ax in figure.axes:
        assert legend_texts(ax) == [
            "Byz-VR-MARINA (1x)",
            "Byz-VR-MARINA 2.0 (2x)",
            "Byz-DASHA-PAGE (4x)",
        ]


def test_axes_scales_labels(attack_store):
    figure = draw_figure(attack_store, select_stepsizes(attack_store), x="iteration")
    for ax in figure.axes:
        assert ax.get_yscale() == "log"
        assert ax.get_xlabel() == "iterations"
    assert "nabla f" in figure.axes[0].get_ylabel()


def test_caption_true_objective(attack_store):
    figure = draw_figure(attack_store, select_stepsizes(attack_store), title="Figure 2")
    suptitle = figure.get_suptitle()
    assert suptitle.startswith("Figure 2\n")
    assert "true objective" in suptitle
    assert "not the estimator" in suptitle
    text = caption(attack_store, dataset="phishing", title="Figure 2")
    assert "gradient of the true objective f" in text
    assert "not the norm of the method's gradient estimator" in text
    assert "heterogeneous" in text
    assert "x-axis: bits sent per worker" in text


def test_fonts_at_least_8pt(attack_store, tmp_path):
    figure = draw_figure(attack_store, select_stepsizes(attack_store), title="Figure 2")
    texts = figure.findobj(lambda artist: hasattr(artist, "get_fontsize") and
                           hasattr(artist, "get_text") and artist.get_text())
    assert texts
    assert min(text.get_fontsize() for text in texts) >= 8
    save_figure(figure, tmp_path / "fonts")
    ticks = [label for ax in figure.axes for label in ax.get_xticklabels() + ax.get_yticklabels()]
    assert ticks
    assert min(label.get_fontsize() for label in ticks) >= 8


def test_method_colours_fixed(attack_store, tmp_path):
    first = draw_figure(attack_store, select_stepsizes(attack_store))
    subset = attack_store[attack_store["method"] != "byz-vr-marina"]
    second = draw_figure(subset, select_stepsizes(subset))
    for figure in (first, second):
        for line in figure.axes[0].get_lines():
            label = line.get_label()
            method = {"Byz-VR-MARINA (": "byz-vr-marina", "Byz-VR-MARINA 2.0 (": "byz-vr-marina-2",
                      "Byz-DASHA-PAGE (": "byz-dasha-page"}
            owner = [name for prefix, name in method.items() if label.startswith(prefix)]
            assert len(owner) == 1
            assert to_hex(line.get_color()) == to_hex(METHOD_STYLES[owner[0]]["color"])
    colours = {to_hex(style["color"]) for style in METHOD_STYLES.values()}
    linestyles = {str(style["linestyle"]) for style in METHOD_STYLES.values()}
    assert len(colours) == len(METHOD_STYLES)
    assert len(linestyles) == len(METHOD_STYLES)


def test_log_masks_nonpositive(tmp_path):
    values = decay(0.2, 1e-3, n=8)
    values[[2, 4, 6]] = [0.0, -1.0, np.nan]
    frame = write_store(
        tmp_path / "runs",
        [trajectory(values, method="byz-dasha-page", attack="bf", multiplier=1.0)],
    )
    figure = draw_figure(frame, None, x="iteration")
    line = figure.axes[0].get_lines()[0]
    drawn = np.asarray(line.get_ydata(), dtype=np.float64)
    assert np.isnan(drawn[[2, 4, 6]]).all()
    np.testing.assert_allclose(drawn[[0, 1, 3, 5, 7]], values[[0, 1, 3, 5, 7]])
    paths = save_figure(figure, tmp_path / "masked")
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_all_nonpositive_panel(tmp_path):
    frame = write_store(
        tmp_path / "runs",
        [trajectory(np.zeros(5), method="byz-dasha-page", attack="bf", multiplier=1.0)],
    )
    figure = draw_figure(frame, None)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert "no positive values to draw" in texts
    save_figure(figure, tmp_path / "empty")


def test_diverged_marker(tmp_path):
    # Byz-VR-MARINA diverged at both multipliers, so nothing is selected for it.
    blown = decay(0.1, 1e-2, n=12)
    blown[-1] = np.inf
    frames = [
        trajectory(decay(0.2, 1e-4), method="byz-dasha-page", attack="bf", multiplier=1.0),
        trajectory(blown, method="byz-vr-marina", attack="bf", multiplier=1.0, diverged_from=11),
        trajectory(blown, method="byz-vr-marina", attack="bf", multiplier=2.0, diverged_from=11),
    ]
    frame = write_store(tmp_path / "runs", frames)
    selection = select_stepsizes(frame)
    figure = draw_figure(frame, selection, x="iteration")
    ax = figure.axes[0]
    assert legend_texts(ax) == ["Byz-VR-MARINA (1x)\n(diverged)", "Byz-DASHA-PAGE (1x)"]
    markers = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(markers) == 1
    # The cross sits on the last drawable point: iteration 100, before the inf at 110.
    assert markers[0].get_xdata()[0] == 100
    assert markers[0].get_ydata()[0] == pytest.approx(blown[10])
    main_line = [line for line in ax.get_lines() if line.get_label().startswith("Byz-VR-MARINA")][0]
    assert len(main_line.get_xdata()) == 12


def test_normalize_initial_value(attack_store):
    figure = draw_figure(attack_store, select_stepsizes(attack_store), normalize=True)
    for ax in figure.axes:
        for line in ax.get_lines():
            assert line.get_ydata()[0] == pytest.approx(1.0)
    assert "divided by its initial value" in figure.get_suptitle()


def test_neighborhood_bands(tmp_path):
    rng = np.random.default_rng(0)
    frames = []
    for aggregator in ("gm", "mean", "cm"):
        for seed in range(5):
            for method, floor in (("byz-vr-marina", 0.5), ("byz-dasha-page", 0.05)):
                values = 10 * np.exp(-0.3 * np.arange(20)) + floor * (1 + rng.normal(0, 0.9, 20))
                frames.append(trajectory(values, method=method, attack="mimic", multiplier=10.0,
                                         seed=seed, aggregator=aggregator, experiment="figure8",
                                         dataset="quadratic"))
    frame = write_store(tmp_path / "runs", frames)

    figure = draw_figure(frame, None, kind="neighborhood", x="iteration", y="optimality_gap",
                         title="Figure 8")
    assert [ax.get_title() for ax in figure.axes] == [
        "quadratic, Mean",
        "quadratic, CM",
        "quadratic, GM",
    ]
    for ax in figure.axes:
        assert legend_texts(ax) == ["Byz-VR-MARINA (10x)", "Byz-DASHA-PAGE (10x)"]
        bands = [child for child in ax.get_children() if isinstance(child, PolyCollection)]
        assert len(bands) == 2
        bottom = ax.get_ylim()[0]
        assert bottom > 0

    # The drawn line is the mean over the five seeds.
    cm_rows = frame[(frame["aggregator"] == "cm") & (frame["method"] == "byz-dasha-page")]
    expected = cm_rows.groupby("iteration")["optimality_gap"].mean().to_numpy()
    drawn = figure.axes[1].get_lines()[1].get_ydata()
    positive = expected > 0
    np.testing.assert_allclose(np.asarray(drawn)[positive], expected[positive])
    save_figure(figure, tmp_path / "figure8")


def test_several_datasets_need_choice(attack_store):
    other = attack_store.assign(dataset="w8a")
    both = pd.concat([attack_store, other], ignore_index=True)
    selection = select_stepsizes(both)
    with pytest.raises(ValueError, match="pass dataset="):
        draw_figure(both, selection)
    figure = draw_figure(both, selection, dataset="w8a")
    assert figure.axes[0].get_title() == "w8a, BF"
    with pytest.raises(ValueError, match="'a9a' is not in the result frame"):
        draw_figure(both, selection, dataset="a9a")


def test_selected_rows_missing(attack_store):
    selection = select_stepsizes(attack_store)
    without_best = attack_store[~((attack_store["method"] == "byz-dasha-page")
                                  & (attack_store["multiplier"] == 4.0))]
    with pytest.raises(ValueError, match="selected multiplier 4 of cell"):
        draw_figure(without_best, selection)


def test_multipliers_need_selection(attack_store):
    with pytest.raises(ValueError, match="no selection was given"):
        draw_figure(attack_store, None)


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"kind": "grid"}, "invalid kind 'grid'"),
        ({"x": "time"}, "invalid x 'time'"),
        ({"y": "loss"}, "invalid y 'loss'"),
    ],
)
def test_invalid_options(attack_store, options, fragment):
    with pytest.raises(ValueError, match=fragment):
        draw_figure(attack_store, select_stepsizes(attack_store), **options)


def test_empty_frame_rejected(attack_store):
    with pytest.raises(ValueError, match="empty"):
        draw_figure(attack_store.iloc[:0], None)
