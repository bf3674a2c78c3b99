"""Issue 13, item 2: the sample-complexity figure draws only measured n(ε) as training data,
on a grid that reaches the ends, with a smooth L4 n(ε) (tiny size)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verify.figures import FigureData, Series, all_figures
from verify.figures.linear import _measured_samples_needed

#: See test_theory_n_eps_is_smooth_and_starts_at_the_grid: linear interpolation of the
#: drawn L4 curve between its grid points (measured ≤ 6e-5 relative).
INTERP_RTOL = 1e-3


@pytest.fixture(scope="module")
def data() -> FigureData:
    return all_figures()["sample-complexity"].build("tiny")


def _panel_series(data: FigureData, title_start: str, kind: str) -> list[Series]:
    (panel,) = [p for p in data.panels if p.title.startswith(title_start)]
    return [s for s in panel.series if s.kind == kind]


def test_learning_curves_are_measured_from_one_sample_to_d_minus_one(data: FigureData) -> None:
    ns, d = data.setting["ns"], data.setting["d"]
    # Noiseless labels: from n = d on the risk is exactly 0, so n(ε) ≤ d; the grid measures
    # every n that can matter, 1 … d − 1.
    assert ns[0] == 1 and ns[-1] == d - 1 and ns == sorted(set(ns))
    for s in _panel_series(data, "learning curves", "training"):
        assert s.x == [float(n) for n in ns]
    for s in _panel_series(data, "learning curves", "theory"):
        assert s.x[0] <= ns[0] and s.x[-1] >= ns[-1]


def test_measured_n_eps_markers_sit_only_at_measured_n(data: FigureData) -> None:
    ns = data.setting["ns"]
    curves = {s.label: s.y for s in _panel_series(data, "learning curves", "training")}
    markers = _panel_series(data, "samples needed", "training")
    assert markers and all(s.x for s in markers)
    for s in markers:
        assert set(s.y) <= {float(n) for n in ns}  # never an interpolated n
        # Each marker (ε, n) is the measured n(ε): the smallest measured n from which every
        # measured risk is ≤ ε (read off the learning curve the figure draws).
        for eps, n in zip(s.x, s.y, strict=True):
            assert _measured_samples_needed(eps, ns, curves[s.label]) == n


def test_theory_n_eps_is_smooth_and_starts_at_the_grid(data: FigureData) -> None:
    ns = data.setting["ns"]
    theory = _panel_series(data, "samples needed", "theory")
    shown = [v for s in theory for v in s.y if math.isfinite(v)]
    # The smallest measured n is at or below the smallest theory n(ε) on the plot.
    assert ns[0] <= min(shown)
    assert data.summary["theory_min_n_eps"] == min(shown)
    curves = {s.label: s for s in _panel_series(data, "learning curves", "theory")}
    for s in theory:
        eps, n_eps = np.array(s.x), np.array(s.y)
        assert np.all(np.isfinite(n_eps))  # every ε on the axis is reached before n = d − 1
        assert len(eps) >= 100  # a fine ε grid, not a polyline through a few points
        # "Smallest n from which the risk stays ≤ ε" can only fall as ε grows.
        assert np.all(np.diff(n_eps) <= 0.0)
        # Where n(ε) is interior it solves L4-risk(n) = ε (brentq on the exact L4): the drawn
        # curve's linear interpolation at n(ε) is ε up to the interpolation error between grid
        # points, h²|R''|/(8R) with h = (d − 2)/399 ≈ 0.1: ≤ 6e-5 measured, 1e-3 allowed.
        curve = curves[s.label]
        interior = n_eps > ns[0]
        got = np.interp(n_eps[interior], curve.x, curve.y)
        assert np.allclose(got, eps[interior], rtol=INTERP_RTOL, atol=0.0)
