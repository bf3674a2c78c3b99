"""The deep-linear figures draw what the theorems bound (issue 13, item 2), at tiny size.

freezing: D6 bounds each draw, so the plotted per-draw ratio risk / floor is >= 1 for every
frozen draw, and the floors are those of the stated seeding (the same draws for every n).
depth: the dashed N = ∞ line is the N → ∞ limit of the plotted theory line (the same closed
form on the same designs, averaged the same way), and the panel title states truthfully how
far the α = 1, ε = 0.3 curve gets towards it; aligned and unaligned teachers are drawn in
separate panels (the aligned limit 0 on a linear axis) and the figure states its setting.
"""

from __future__ import annotations

import math
import re
from functools import cache

import numpy as np
import pytest

import numeric.data as nd
import symbolic.deep_linear as sdl
from verify.figures import FigureData, Series, all_figures
from verify.figures import deep_linear as fdl

# A frozen first layer keeps w = (W_N ⋯ W_1)ᵀ in span{θ_S} up to rounding in the product of
# depth × width matrices (~depth·width·ε_mach·‖w‖ ≈ 1e-14 here), and the floor's absolute
# error is ≲ 4d·ε_mach·‖θ_T‖² (its docstring); with floor ≈ 0.6·‖θ_T‖²/2 at ε = 0.8 both
# are ≪ 1e-9 of the floor. Any draw below the floor by more is a real violation of D6.
FLOOR_RATIO_RTOL = 1e-9
# Trained full fine-tuning comes from an RK4 flow (relative error in w ~1e-8), so its risk
# agrees with the D3 closed form to ~1e-6 relative (the same bound as test_figures.py).
FLOW_RISK_RTOL = 1e-5
# c(N) = c_∞ + O(1/N), so R(N) − R(∞) ≈ K/N; measured K ≤ 6 at the tiny and quick designs
# (risks ≤ 1). At N = 10⁶ a gap of 1e-4 allows K ≤ 100, while a differently computed limit
# (the D4 predictor, a per-design limit of another average) is off by ≥ 1e-2.
LARGE_DEPTH = 10**6
LIMIT_ATOL = 1e-4
# Going from N = 10⁵ to 10⁶ the 1/N (ε > 0) or 1/N² (ε = 0) gap shrinks 10-100x; 0.2 leaves
# room for the next order. Gaps below 1e-12 are float64 rounding of risks ≤ 1.
DECADE_SHRINK = 0.2
ROUNDING_ATOL = 1e-12


@cache
def _build(name: str) -> FigureData:
    return all_figures()[name].build("tiny")


def _series(data: FigureData, label: str, kind: str) -> list[Series]:
    found = [s for p in data.panels for s in p.series if s.label == label and s.kind == kind]
    assert found, f"no {kind} series {label!r}"
    return found


def test_every_frozen_draw_is_at_or_above_its_floor() -> None:
    data = _build("freezing")
    (frozen,) = _series(data, "first layer frozen", "training")
    _, draws, ns = fdl.FREEZE_SIZES["tiny"]
    assert len(frozen.y) == draws * len(ns)  # one point per draw and n, not a mean
    assert frozen.yerr is None
    assert min(frozen.y) >= 1 - FLOOR_RATIO_RTOL, frozen.y
    assert data.summary["min_frozen_ratio_to_floor"] == min(frozen.y)
    (line,) = [s for s in data.panels[0].series if s.kind == "theory" and s.style == "dashed"]
    assert line.y == [1.0, 1.0] and line.x == [float(ns[0]), float(ns[-1])]
    assert data.panels[0].yscale == "log"


def test_freezing_floors_come_from_one_seeding_per_draw() -> None:
    data = _build("freezing")
    d, draws, ns = fdl.FREEZE_SIZES["tiny"]
    assert data.setting["seeds"] == list(range(draws)) and data.setting["ns"] == list(ns)
    for seed, floor in enumerate(data.setting["floors"]):
        rng = np.random.default_rng(seed)
        theta_s = nd.random_unit_vector(d, rng)
        theta_t = nd.synthetic_teacher(theta_s, fdl.FREEZE_ALPHA, fdl.FREEZE_EPS, rng)
        assert floor == sdl.frozen_layers_risk_floor(theta_s, theta_t)


def test_full_fine_tuning_points_lie_on_their_per_draw_d3_lines() -> None:
    data = _build("freezing")
    d, draws, ns = fdl.FREEZE_SIZES["tiny"]
    lines = _series(data, "all layers fine-tuned [D3, one line per draw]", "theory")
    (points,) = _series(data, "all layers fine-tuned", "training")
    assert len(lines) == draws
    assert all(line.x == [float(n) for n in ns if n < d] for line in lines)
    theory = [(x, y) for line in lines for x, y in zip(line.x, line.y, strict=True)]
    assert [x for x, _ in theory] == points.x
    for (_, th), tr in zip(theory, points.y, strict=True):
        assert tr == pytest.approx(th, rel=FLOW_RISK_RTOL)
    assert data.summary["max_rel_gap_full_vs_D3"] <= FLOW_RISK_RTOL


@pytest.mark.parametrize(("alpha", "eps"), fdl.TEACHERS)
def test_depth_dashed_line_is_the_limit_of_the_theory_line(alpha: float, eps: float) -> None:
    data = _build("depth")
    label = f"$\\alpha$ = {alpha:g}, $\\varepsilon$ = {eps:g}"
    (curve,) = _series(data, label, "theory")
    (dashed,) = _series(data, f"{label} [$N \\to \\infty$ limit of the theory line]", "theory")
    sc = fdl.SCALES["tiny"]
    # The plotted curve is this closed form on these designs ...
    assert curve.y == [fdl.theory_mean(sc, alpha, eps, n) for n in sc.depths]
    # ... and the dashed value is where the same closed form goes as N grows.
    limit = dashed.y[0]
    assert dashed.y == [limit, limit]
    gap_5 = abs(fdl.theory_mean(sc, alpha, eps, LARGE_DEPTH // 10) - limit)
    gap_6 = abs(fdl.theory_mean(sc, alpha, eps, LARGE_DEPTH) - limit)
    assert gap_6 <= LIMIT_ATOL
    assert gap_6 <= max(DECADE_SHRINK * gap_5, ROUNDING_ATOL)
    if eps == 0:  # aligned teacher: the infinitely deep network recovers θ_T (D4)
        assert limit <= ROUNDING_ATOL
    assert data.summary["infinite_depth_risk"][f"alpha={alpha:g}, eps={eps:g}"] == limit
    assert math.isfinite(data.summary["fraction_of_way_to_limit"][f"alpha={alpha:g}, eps={eps:g}"])


def test_depth_title_states_the_unaligned_alpha_one_curve_truthfully() -> None:
    data = _build("depth")
    (curve,) = _series(data, "$\\alpha$ = 1, $\\varepsilon$ = 0.3", "theory")
    (dashed,) = _series(
        data,
        "$\\alpha$ = 1, $\\varepsilon$ = 0.3 [$N \\to \\infty$ limit of the theory line]",
        "theory",
    )
    # θ_T = θ_S + 0.3ζ is not θ_T = θ_S: the risk rises with depth towards a higher limit,
    # so "depth is neutral" would be false for this series.
    assert all(b > a for a, b in zip(curve.y, curve.y[1:], strict=False))
    assert dashed.y[0] > curve.y[-1]
    frac = (curve.y[0] - curve.y[-1]) / (curve.y[0] - dashed.y[0])
    (title,) = [p.title for p in data.panels if "of the way" in p.title]
    m = re.search(r"(\d+)% of the way to its limit by \$N = (\d+)\$", title)
    assert m, title
    assert int(m.group(1)) == round(100 * frac)
    assert int(m.group(2)) == fdl.SCALES["tiny"].depths[-1]


def test_depth_panels_separate_aligned_from_unaligned_teachers_and_state_the_setting() -> None:
    data = _build("depth")
    sc = fdl.SCALES["tiny"]
    teachers = [{s.label for s in p.series if s.kind == "training"} for p in data.panels]
    assert teachers == [
        {"$\\alpha$ = 2, $\\varepsilon$ = 0", "$\\alpha$ = 0.5, $\\varepsilon$ = 0"},
        {"$\\alpha$ = 2, $\\varepsilon$ = 0.3", "$\\alpha$ = 1, $\\varepsilon$ = 0.3"},
    ]
    assert [p.yscale for p in data.panels] == ["linear", "log"]
    for part in (f"$d$ = {sc.d}", f"hidden width {sc.width}", f"{sc.seeds} design(s)"):
        assert part in data.title
    assert data.setting["hidden_width"] == sc.width
    assert data.setting["designs"] == list(range(sc.seeds))
