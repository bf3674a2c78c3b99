"""The experiment figures of issue 6 at tiny size: files, and the numbers behind them.

Where the theory claims agreement the numbers must show it: the trained risk equals the
finite-n risk of the same designs up to label-noise Monte Carlo (|z| ≤ 5), the learning
curves follow L4 within Monte Carlo plus finite size, full fine-tuning matches D3, and a
frozen first layer never beats the D6 floor. Where the theory makes no claim (real,
non-Gaussian data) only the files and the sanity of the numbers are checked.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from finetune_theory import InputError
from numeric.realdata import NON_CONSTANT_PIXELS, load_digit_tasks
from verify.figures import all_figures, plot, write_numbers

MC_Z = 5.0  # Monte Carlo: false-alarm probability 6e-7 per comparison for a normal mean
# The deep-linear figures train with the adaptive flow at tol 1e-10 (w within ~1e-10 of its
# limit, the flow's own estimate), so risks agree with D3 to ~1e-9 relative; 1e-6 leaves room.
FLOW_RISK_RTOL = 1e-6


def _build(name: str, tmp_path: Path) -> dict[str, float]:
    data = all_figures()[name].build("tiny")
    paths = [*write_numbers(data, tmp_path), plot(data, tmp_path)]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    doc = json.loads(paths[0].read_text())
    assert {s["kind"] for p in doc["panels"] for s in p["series"]} == {"theory", "training"}
    assert all(p["xlabel"] and p["ylabel"] for p in doc["panels"])
    return dict(data.summary)


def test_similarity(tmp_path: Path) -> None:
    s = _build("similarity", tmp_path)
    assert s["max_abs_z_trained_vs_finite_n"] <= MC_Z
    # The paper's point: the covariance-aware measure predicts the trained risk better.
    assert s["pearson_l4"] > s["pearson_plain"]
    assert s["pearson_finite"] > 0.99


def test_sample_complexity(tmp_path: Path) -> None:
    s = _build("sample-complexity", tmp_path)
    # L4 is asymptotic: at d = 40 its finite-size error (≲ 2/(d − n) relative, see the
    # L4 claim) is below the Monte Carlo error of 4 designs, so 5 standard errors suffice.
    assert s["max_z_trained_vs_L4"] <= MC_Z


def test_realistic(tmp_path: Path) -> None:
    s = _build("realistic", tmp_path)
    assert all(
        math.isfinite(v) and -1.0 <= v <= 1.0
        for k, v in s.items()
        if k.startswith(("pearson", "spearman"))
    )
    assert s["max_rel_gap_trained_vs_l4"] >= 0.0
    # L1 holds for any design, real pixels included: every trained model is θ_FT up to the
    # stopping rule's error model κ·(rtol·‖θ_FT − θ_S‖ + rounding) (the figure's bound).
    assert s["max_L1_error_over_bound"] <= 1.0
    # All 61 pixels: subsets of real images are ill-conditioned, the reason for method="cg".
    assert s["max_condition_XXt"] > 100.0


def test_realistic_learning_curves_say_where_they_leave_l4() -> None:
    """The learning-curve panel's title quotes the summary: up to which measured n every
    curve is within CURVE_AGREEMENT of L4, and the largest trained / L4 ratio."""
    from verify.figures import linear as fl

    data = all_figures()["realistic"].build("tiny")
    s = data.summary
    (panel,) = [p for p in data.panels if p.title.startswith("learning curves")]
    assert f"up to $n = {s['curves_within_agreement_up_to_n']}$" in panel.title
    assert fl._times_ten(s["max_curve_ratio_trained_over_l4"]) in panel.title
    assert f"{100 * fl.CURVE_AGREEMENT:.0f}%" in panel.title
    assert s["curves_within_agreement_up_to_n"] in [0, *data.setting["curve_ns"]]
    measured = [x for series in panel.series if series.kind == "training" for x in series.x]
    assert max(measured) == max(data.setting["curve_ns"])


def test_digit_tasks_components_are_backward_compatible() -> None:
    default, every, rotated = load_digit_tasks(), load_digit_tasks(None), load_digit_tasks(61)
    assert default.X.shape == (1797, 30)
    assert every.X.shape == rotated.X.shape == (1797, NON_CONSTANT_PIXELS)
    # 61 principal coordinates are the 61 pixels in another orthonormal basis: the same
    # least-squares teachers' predictions (lstsq rounding ≈ κ(X)·eps, κ(X) ≈ 12; 1e-10).
    assert np.allclose(
        every.X @ every.teachers.T, rotated.X @ rotated.teachers.T, rtol=0, atol=1e-10
    )
    assert np.allclose(every.noise_var, rotated.noise_var, rtol=1e-10)
    for bad in (0, 62, 2.5):
        with pytest.raises(InputError, match="components must"):
            load_digit_tasks(bad)  # type: ignore[arg-type]


def test_freezing(tmp_path: Path) -> None:
    s = _build("freezing", tmp_path)
    assert s["max_rel_gap_full_vs_D3"] <= FLOW_RISK_RTOL
    assert s["max_relative_dip_below_floor"] <= 1e-9
    assert s["min_frozen_risk_over_floor_at_largest_n"] >= 1.0 - 1e-9


def test_every_figure_is_registered() -> None:
    names = set(all_figures())
    assert names >= {
        "similarity",
        "sample-complexity",
        "realistic",
        "depth",
        "rescale",
        "freezing",
        "relu-ntk-width",
        "relu-ntk-source-distance",
    }


@pytest.mark.parametrize("name", ["realistic"])
def test_missing_scikit_learn_is_a_clear_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake(mod: str, *args: object, **kwargs: object) -> object:
        if mod.startswith("sklearn"):
            raise ImportError("no sklearn here")
        return real_import(mod, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r'pip install "\.\[data\]"'):
        all_figures()[name].build("tiny")


def test_realistic_panel_titles_name_what_each_panel_shows() -> None:
    """Issue 13: both scatter panels were titled "source digit -> target 8". Both show the
    same nine source digits (one point each) against a different predictor: the titles must
    differ and name the predictor, the sources and the target."""
    data = all_figures()["realistic"].build("tiny")
    titles = [p.title for p in data.panels]
    assert len(set(titles)) == len(titles)
    plain, l4 = titles[0], titles[1]
    assert plain.startswith("plain distance") and l4.startswith("L4 prediction")
    sources = data.setting["sources"]
    assert all(f"{len(sources)} source digits" in t and "target 8" in t for t in (plain, l4))
    assert "->" not in plain and r"\|\theta_S-\theta_T\|^2" in data.panels[0].xlabel
