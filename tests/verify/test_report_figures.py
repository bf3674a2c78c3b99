"""The report and explore figures (verify/report.py): shared style sizes, readable ticks,
strip plot for few examples, rate panels with a fitted slope and its 95% band."""

from __future__ import annotations

import itertools
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import t as student

import verify.report as vr
from verify.figures import style as st

#: Slope/intercept recovered from exact power-law data: a least-squares fit of ~10 log10
#: values of size ~1 loses a few ulps per sum; 1e-12 leaves a wide margin over float rounding.
FIT_TOL = 1e-12
#: Pixels the tight bounding box may add to a figure's width: 2 × SAVE_PAD_INCHES at
#: PNG_DPI plus one pixel of rounding.
PAD_PX = 2 * vr.SAVE_PAD_INCHES * st.PNG_DPI + 1


def _claim(name: str, ratios: list[float], curve: dict[str, Any] | None = None) -> dict[str, Any]:
    """The keys of a report.json claim that the figures read."""
    return {
        "name": name,
        "examples": len(ratios),
        "ratios": ratios,
        "worst": {"curve": curve} if curve is not None else None,
        "coverage": {
            "examples": len(ratios),
            "fields": {
                "d": {
                    "kind": "numeric",
                    "count": len(ratios),
                    "min": 2.0,
                    "max": 54.0,
                    "scale": "linear",
                    "edges": list(np.linspace(2.0, 54.0, 11)),
                    "counts": [3, 1, 0, 1, 1, 6, 3, 9, 0, 1],
                },
                "n_test": {
                    "kind": "numeric",
                    "count": len(ratios),
                    "min": 4000.0,
                    "max": 4000.0,
                    "scale": "linear",
                    "edges": [4000.0] * 11,
                    "counts": [0] * 9 + [len(ratios)],
                },
            },
        },
    }


def _noisy_rate() -> dict[str, Any]:
    """A rate measured with replicates: m^(-1/2) times deterministic scatter."""
    widths = np.repeat([128.0, 512.0, 2048.0, 8192.0], 4)
    scatter = np.tile([0.8, 1.1, 0.95, 1.2], 4)
    return {
        "x": list(widths),
        "y": list(widths**-0.5 * scatter),
        "xlabel": "width m",
        "ylabel": "|K_m - H^inf|",
        "expected_slope": -0.5,
    }


def _png_width(path: Path) -> int:
    """Width in pixels from the PNG's IHDR chunk."""
    return int(struct.unpack(">I", path.read_bytes()[16:20])[0])


def _overlap(boxes: list[Any]) -> list[tuple[int, int]]:
    """Index pairs of overlapping bounding boxes (x0, x1, y0, y1 compared directly)."""
    return [
        (i, j)
        for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2)
        if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1
    ]


def _figure(draw: Any, *args: Any) -> Any:
    import matplotlib.pyplot as plt

    with st.style():
        return draw(plt, *args)


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_fit_recovers_an_exact_power_law() -> None:
    x = np.geomspace(10.0, 1e4, 10)
    fit = vr._loglog_fit(x, 3.0 * x**-0.5)
    assert fit is not None
    assert abs(fit.slope + 0.5) < FIT_TOL
    assert abs(fit.intercept - math.log10(3.0)) < FIT_TOL
    assert fit.slope_se < FIT_TOL and fit.dof == 8


def test_band_contains_the_line_and_has_the_textbook_half_width() -> None:
    x = np.repeat([10.0, 100.0, 1000.0], 3)
    y = x**-1.0 * np.tile([0.7, 1.0, 1.4], 3)
    fit = vr._loglog_fit(x, y)
    assert fit is not None
    grid = np.geomspace(10.0, 1000.0, 21)
    lo, hi = fit.band(grid)
    line = fit.line(grid)
    assert np.all(lo < line) and np.all(line < hi)
    # At the centroid the band's half-width (log10 space) is t_{n-2} · s / sqrt(n), s the
    # residual standard deviation; everywhere it is t · s · sqrt(1/n + (lx - x̄)²/Sxx).
    lx, ly = np.log10(x), np.log10(y)
    resid = ly - (fit.intercept + fit.slope * lx)
    s = math.sqrt(float(np.sum(resid**2)) / (x.size - 2))
    sxx = float(np.sum((lx - lx.mean()) ** 2))
    tq = float(student.ppf(0.975, x.size - 2))
    lo_c, hi_c = fit.band(np.array([10.0 ** lx.mean()]))
    half = (math.log10(hi_c[0]) - math.log10(lo_c[0])) / 2
    assert half == pytest.approx(tq * s / math.sqrt(x.size), rel=1e-10)
    half_all = (np.log10(hi) - np.log10(lo)) / 2
    want = tq * s * np.sqrt(1 / x.size + (np.log10(grid) - lx.mean()) ** 2 / sxx)
    np.testing.assert_allclose(half_all, want, rtol=1e-10)
    assert fit.slope_se == pytest.approx(s / math.sqrt(sxx), rel=1e-10)


def test_fit_needs_three_points_at_two_widths() -> None:
    assert vr._loglog_fit(np.array([1.0, 10.0]), np.array([1.0, 0.1])) is None
    assert vr._loglog_fit(np.array([5.0, 5.0, 5.0]), np.array([1.0, 2.0, 3.0])) is None


def _bars(ax: Any) -> list[Any]:
    from matplotlib.patches import Rectangle

    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_two_examples_get_a_strip_plot_many_get_a_histogram() -> None:
    fig = _figure(vr._claim_figure, _claim("two", [0.3, 0.05]))
    try:
        ax = fig.axes[0]
        assert _bars(ax) == []
        strips = [ln for ln in ax.lines if ln.get_linestyle() == "None"]
        assert len(strips) == 1 and len(strips[0].get_xdata()) == 2
        assert any(list(ln.get_xdata()) == [0.0, 0.0] for ln in ax.lines)  # threshold at 0
    finally:
        _close(fig)
    many = list(np.geomspace(1e-3, 0.9, 60))
    fig = _figure(vr._claim_figure, _claim("many", many))
    try:
        ax = fig.axes[0]
        assert len(_bars(ax)) >= 8
        assert not [ln for ln in ax.lines if ln.get_linestyle() == "None"]
    finally:
        _close(fig)


def test_rate_panel_draws_points_fit_band_and_theory_but_joins_no_points() -> None:
    curve = _noisy_rate()
    fig = _figure(vr._claim_figure, _claim("rate", [0.4] * 25, curve))
    try:
        cx = fig.axes[1]
        measured = [ln for ln in cx.lines if len(ln.get_xdata()) == len(curve["x"])]
        assert len(measured) == 1
        assert measured[0].get_linestyle() == "None" and measured[0].get_marker() == "o"
        labels = [ln.get_label() for ln in cx.lines]
        assert any(lab.startswith("fit, 95% band: slope -0.5") for lab in labels), labels
        assert "theory slope -0.5" in labels
        assert [c.get_gid() for c in cx.collections] == [vr.FIT_BAND_GID]
        legend = cx.get_legend()
        assert legend is not None and len(legend.get_texts()) == 3  # band folded into fit
    finally:
        _close(fig)


def test_rate_panel_with_two_points_has_no_fit_but_the_theory_slope() -> None:
    curve = dict(_noisy_rate(), x=[100.0, 1000.0], y=[0.1, 0.03])
    fig = _figure(vr._claim_figure, _claim("short", [0.4] * 25, curve))
    try:
        cx = fig.axes[1]
        assert len(cx.collections) == 0
        assert [ln.get_label() for ln in cx.lines] == [
            "measured (worst example)",
            "theory slope -0.5",
        ]
    finally:
        _close(fig)


@pytest.mark.parametrize(
    "ratios",
    [
        # the case: 25 ratios within 0.2 decades of each other and the threshold
        list(np.geomspace(0.63, 0.81, 25)),
        list(np.geomspace(1e-16, 1e-2, 40)),
    ],
)
def test_tick_labels_do_not_overlap(ratios: list[float]) -> None:
    fig = _figure(vr._claim_figure, _claim("ticks", ratios, _noisy_rate()))
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                boxes = [
                    t.get_window_extent(renderer)
                    for t in axis.get_ticklabels()
                    if t.get_visible() and t.get_text()
                ]
                assert _overlap(boxes) == [], [t.get_text() for t in axis.get_ticklabels()]
            assert len([t for t in ax.xaxis.get_ticklabels() if t.get_text()]) >= 2
    finally:
        _close(fig)


def test_explore_title_is_wrapped_and_a_log_log_curve_gets_a_fit() -> None:
    item = {
        "name": "width",
        "title": "ReLU network fine-tuned by GD vs the NTK (H^∞) kernel predictor, a long title",
        "xlabel": "width m",
        "ylabel": "relative RMS gap on held-out points",
        "x": [64.0, 256.0, 1024.0, 4096.0],
        "y": [0.2, 0.11, 0.05, 0.026],
        "xscale": "log",
        "yscale": "log",
        "reference_y": None,
        "reference_label": None,
    }
    fig = _figure(vr._explore_figure, item)
    try:
        ax = fig.axes[0]
        assert "\n" in ax.get_title()
        fig.canvas.draw()
        title = ax.title.get_window_extent(fig.canvas.get_renderer())
        assert title.x0 >= 0 and title.x1 <= fig.bbox.width  # not cut off
        assert [c.get_gid() for c in ax.collections] == [vr.FIT_BAND_GID]
        assert ax.lines[0].get_linestyle() == "None"
    finally:
        _close(fig)
    with_ref = dict(item, reference_y=[0.1, 0.05, 0.025, 0.0125], reference_label="ref")
    fig = _figure(vr._explore_figure, with_ref)
    try:
        ax = fig.axes[0]
        assert len(ax.collections) == 0 and [ln.get_label() for ln in ax.lines][-1] == "ref"
    finally:
        _close(fig)


def test_png_widths_fit_the_columns(tmp_path: Path) -> None:
    doc = {
        "claims": [
            _claim("one-panel", [0.3, 0.05]),
            _claim("two-panels", [0.4] * 25, _noisy_rate()),
        ],
        "explore": [
            {
                "name": "n-near-d",
                "title": "Linear regression (d = 40, σ = 1): GD risk over 200 designs vs the L4 "
                "asymptotic risk",
                "xlabel": "d − n",
                "ylabel": "relative gap |risk_MC − risk_L4| / risk_L4",
                "x": [24.0, 12.0, 8.0, 6.0, 5.0],
                "y": [0.01, 0.03, 0.05, 0.08, float("nan")],
                "reference_y": [0.04, 0.08, 0.1, 0.2, 0.25],
                "reference_label": "exact finite-n risk (L3) vs L4",
            }
        ],
    }
    files = vr._plots(doc, tmp_path)
    limits = {
        "one-panel": st.SINGLE_COLUMN,
        "two-panels": st.DOUBLE_COLUMN,
        "coverage:one-panel": st.DOUBLE_COLUMN,
        "explore:n-near-d": st.SINGLE_COLUMN,
    }
    for key, width_in in limits.items():
        px = _png_width(tmp_path / files[key])
        assert px <= width_in * st.PNG_DPI + PAD_PX, (key, px)
        assert px >= 0.6 * width_in * st.PNG_DPI, (key, px)  # drawn at that size, not smaller
