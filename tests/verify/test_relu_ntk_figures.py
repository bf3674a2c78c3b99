"""The §3 figures at size ``tiny``: theory and training agree where the theory says they do.

Also: deliberate bugs on either side make the K-claims fail (the claims are not vacuous),
and a K-claim setting survives the JSON round trip of ``python -m verify reproduce``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import numeric.relu_ntk as nr
import symbolic.relu_ntk as sr
from verify import cli, registry
from verify.claim import setting_to_json
from verify.figures import FigureData, Series, all_figures, plot, write_numbers
from verify.profiles import PROFILES
from verify.runner import run_claim

QUICK = PROFILES["quick"]


def _series(data: FigureData, panel_start: str, label_start: str) -> Series:
    for panel in data.panels:
        if panel.title.startswith(panel_start):
            for s in panel.series:
                if s.label.startswith(label_start):
                    return s
    raise AssertionError(f"no series {label_start!r} in panel {panel_start!r}")


@pytest.fixture(scope="module")
def width_data() -> FigureData:
    return all_figures()["relu-ntk-width"].build("tiny")


@pytest.fixture(scope="module")
def source_data() -> FigureData:
    return all_figures()["relu-ntk-source-distance"].build("tiny")


def test_width_figure_numbers(width_data: FigureData, tmp_path: Path) -> None:
    widths = width_data.setting["widths"]
    # K1: the empirical NTK's mean-squared error is the predicted Σu²P(1−P)/(m/2), up to the
    # scatter of a 3-replicate mean (relative SD ≲ 0.3 on the MSE): a factor 2 is > 3 SD.
    for ratio in width_data.summary["ntk_mse_over_predicted"]:
        assert 0.5 <= ratio <= 2.0
    # K3: the gap to the kernel predictor is O(1/√m) with the claim's constant, and falls.
    assert all(c <= 5.0 for c in width_data.summary["gap_times_sqrt_m"])
    assert -0.8 <= width_data.summary["gap_slope"] <= -0.2
    # The distance travelled approaches sqrt(r'H^-1 r) within 3/√m (K3-distance-travelled).
    for ratio, m in zip(width_data.summary["distance_ratio"], widths, strict=True):
        assert abs(ratio - 1.0) <= 3.0 / math.sqrt(m)
    # Held-out predictions of the widest network lie on the kernel predictor's diagonal.
    pts = _series(width_data, "K3: predictions", "held-out")
    x, y = np.array(pts.x), np.array(pts.y)
    assert np.sqrt(np.mean((y - x) ** 2)) <= 5.0 / math.sqrt(widths[-1]) * np.std(x)
    paths = write_numbers(width_data, tmp_path)
    assert json.loads(paths[0].read_text())["name"] == "relu-ntk-width"
    assert plot(width_data, tmp_path).stat().st_size > 0


def test_source_distance_figure_numbers(source_data: FigureData, tmp_path: Path) -> None:
    s = source_data.summary
    # The measured risk falls as the source approaches the target ...
    assert s["risk_increasing"]
    # ... roughly as ‖θ_T − θ_S‖² once the distance dominates the source misfit ...
    assert 1.5 <= s["risk_slope_top"] <= 2.5
    # ... and agrees with the infinite-width kernel predictor built from the same source
    # (finite width m = 256: relative gap of the update ~2/√m, so the risk within ~25%).
    for got, want in zip(s["risk"], s["kernel_risk"], strict=True):
        assert abs(got - want) <= 0.25 * want
    term = _series(source_data, "K2/K3", "trained source")
    bound = _series(source_data, "K2/K3", "bound")
    exact = _series(source_data, "K2/K3", "exact source")
    # K2: with an exact source the term is below the bound; the trained source obeys the
    # bound up to its own misfit term (triangle inequality).
    assert all(e <= b * (1 + 1e-9) for e, b in zip(exact.y, bound.y, strict=True))
    for g, b, mis in zip(term.y, bound.y, s["misfit_term"], strict=True):
        assert g <= b + mis + 1e-12
    write_numbers(source_data, tmp_path)
    assert plot(source_data, tmp_path).exists()


#: Rounding of the three G's (one H^∞ Gram of X, solved by symbolic's quadratic form): each
#: ≈ κ(H^∞)·n·eps relative, κ ≈ 13 and n = 10 at tiny: ≈ 3e-14; ×30 headroom.
TRIANGLE_RTOL = 1e-12


def test_source_distance_draws_the_full_bound(source_data: FigureData) -> None:
    """Issue 13: a trained point lay above the drawn B (1.46× at s = 0.125, quick) because
    the source misfit term was not drawn. The full bound B + G(Xθ_S − u_S) is drawn, every
    trained point lies below it, and the y-axis says what the quantity is."""
    (panel,) = [p for p in source_data.panels if p.title.startswith("K2/K3")]
    assert "$" in panel.ylabel and "H^\\infty" in panel.ylabel and panel.ylabel != "term"
    full = _series(source_data, "K2/K3", "full bound")
    bound = _series(source_data, "K2/K3", "bound")
    term = _series(source_data, "K2/K3", "trained source")
    misfit = source_data.summary["misfit_term"]
    # The drawn full bound contains every term: B plus the source misfit term.
    for f, b, m in zip(full.y, bound.y, misfit, strict=True):
        assert m > 0.0 and f == pytest.approx(b + m, rel=1e-15)
    # Every trained point is below the full bound drawn next to it (triangle inequality).
    for g, f in zip(term.y, full.y, strict=True):
        assert g <= f * (1 + TRIANGLE_RTOL)
    assert all(r <= 1 + TRIANGLE_RTOL for r in source_data.summary["term_over_full_bound"])


def test_figures_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["figures", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "relu-ntk-width" in listed and "relu-ntk-source-distance" in listed


# --------------------------------------------------------------------------------------
# The K-claims catch injected bugs
# --------------------------------------------------------------------------------------


def _arccos_gram(X: object, Z: object = None, *, normalize: bool = False) -> np.ndarray:
    """Bug: the textbook arccos form at the rounded u (loses half the digits near u = ±1)."""
    Xa = np.asarray(X, dtype=float)
    Za = Xa if Z is None else np.asarray(Z, dtype=float)
    u = np.clip(Xa @ Za.T, -1.0, 1.0)
    return np.asarray(u * (np.pi - np.arccos(u)) / (2 * np.pi))


def test_arccos_evaluation_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sr, "first_layer_ntk", _arccos_gram)
    result = run_claim(registry.get("K1-kernel-quadrature"), QUICK, max_examples=10)
    assert not result.passed
    assert result.failing_outcome is not None and math.isfinite(result.failing_outcome.error)


def test_wrong_loss_normalisation_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = nr._loss_grad

    def doubled(*args: object) -> object:  # Bug: the gradient of (1/n)‖f − y‖²
        value, grad, res, pre = original(*args)  # type: ignore[arg-type]
        return 2 * value, 2 * grad, res, pre

    monkeypatch.setattr(nr, "_loss_grad", doubled)
    claim = registry.get("K3-predictor-width")
    setting = claim.setting_type(d=6, n=6, seed=1, steps=20, base_width=128, replicates=2)
    assert not claim.check(setting).passed  # k GD steps now take twice the time


def test_missing_factor_one_half_in_the_kernel_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = sr.first_layer_ntk
    monkeypatch.setattr(sr, "first_layer_ntk", lambda X, Z=None, **kw: 2 * original(X, Z, **kw))
    result = run_claim(registry.get("K1-empirical-ntk-width"), QUICK, max_examples=3)
    assert not result.passed
    assert result.failing_outcome is not None and math.isfinite(result.failing_outcome.error)


def test_k_claim_setting_round_trips_through_reproduce(capsys: pytest.CaptureFixture[str]) -> None:
    claim = registry.get("K3-distance-travelled")
    setting = claim.setting_type(d=6, n=5, seed=3, source="init", width=512, scale=1.0)
    text = setting_to_json(setting)
    assert claim.setting_from_json(text) == setting
    assert cli.main(["reproduce", claim.name, "--setting", text]) == 0
    assert capsys.readouterr().out.startswith("PASS  K3-distance-travelled")


def test_width_figure_is_readable_at_double_column(width_data: FigureData, tmp_path: Path) -> None:
    """Issue 13: the four-panel width figure was 3590 px wide (four panels in a row). Now two
    panels per row, at most 7 in (+ the tight bounding box's 0.1 in pad per side) at the
    style's dpi, and one legend: a colour per base label plus the style key (theory,
    training, fit band, theory slope)."""
    import matplotlib.pyplot as plt

    from verify.figures import draw, legends, plot_files, style

    paths = plot_files(width_data, tmp_path, ("png", "svg"))
    head = paths[0].read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width_px = int.from_bytes(head[16:20], "big")
    assert width_px <= (style.DOUBLE_COLUMN + 2 * 0.1) * style.PNG_DPI
    with style.style():
        fig = draw(width_data)
    try:
        rows: dict[float, int] = {}
        for ax in fig.axes:
            if ax.get_visible() and ax.axison:
                y0 = round(ax.get_position().y0, 6)
                rows[y0] = rows.get(y0, 0) + 1
        assert len(rows) == 2 and max(rows.values()) == 2
        (legend,) = legends(fig)
        bases = {s.label.split(" [")[0] for p in width_data.panels for s in p.series}
        # + theory, training, the fitted-rate band and the dashed "theory slope -1/2"
        assert len(legend.get_texts()) == len(bases) + 4
    finally:
        plt.close(fig)


def test_width_rates_are_fitted_with_a_band_and_the_theory_slope(width_data: FigureData) -> None:
    """Issue 13: a rate panel shows the fitted slope (in its title, ± its standard error) with
    its 95% band around the fitted line, and the theoretical slope -1/2 as a reference line."""
    from verify.statistics import loglog_fit

    for panel, key in zip(width_data.panels[:2], ("ntk_error_slope", "gap_slope"), strict=True):
        (fit,) = [s for s in panel.series if s.kind == "fit"]
        (ref,) = [s for s in panel.series if "theory slope" in s.label]
        assert fit.lower is not None and fit.upper is not None
        assert all(lo < y < hi for lo, y, hi in zip(fit.lower, fit.y, fit.upper, strict=True))
        slope = (math.log(ref.y[-1]) - math.log(ref.y[0])) / (
            math.log(ref.x[-1]) - math.log(ref.x[0])
        )
        assert abs(slope + 0.5) <= 1e-12
        assert f"${width_data.summary[key]:.2f} \\pm" in panel.title
        (train,) = [s for s in panel.series if s.kind == "training"]
        # The fit uses every replicate; its slope is near the slope through the means.
        means = loglog_fit(np.array(train.x), np.array(train.y))
        assert abs(means.slope - width_data.summary[key]) <= 0.2
