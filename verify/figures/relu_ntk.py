"""Figures for docs/theory.md §3: finite-width ReLU networks against their NTK theory.

``relu-ntk-width`` — as the width m grows: the empirical NTK of a random network approaches
H^∞ with the predicted mean-squared error Σu²P(1−P)/(m/2) (K1); a network fine-tuned by
gradient descent from pretrained weights approaches the kernel predictor
f_S + k(·, X)(H^∞)⁻¹(y − f_S(X)) at rate m^(−1/2); the distance its weights travel
approaches sqrt(rᵀ(H^∞)⁻¹r) (K3).

``relu-ntk-source-distance`` — sweeping ‖θ_T − θ_S‖: the measured target risk of the
fine-tuned network and of the infinite-width kernel predictor built from the same source
network, and the generalisation term sqrt(2(y − u_S)ᵀ(H^∞)⁻¹(y − u_S)/n) against its
linear-teacher bound B = 2√2‖θ_T − θ_S‖/√n (K2, K3). B bounds the term of an exact source
(u_S = Xθ_S); a trained source network misses θ_S by its misfit Xθ_S − u_S, so its term is
bounded (triangle inequality) by the full bound B + G_misfit, which is drawn with it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

import numeric.data as nd
import numeric.relu_ntk as nr
import symbolic.relu_ntk as sr
from verify.figures import FigureData, Panel, Series, Size, figure, mean_and_stderr, rate_series
from verify.relu_ntk import source_sweep


@dataclass(frozen=True)
class _WidthPlan:
    d: int
    n: int
    widths: tuple[int, ...]
    replicates: int
    n_test: int
    seed: int


WIDTH_PLANS: dict[Size, _WidthPlan] = {
    "tiny": _WidthPlan(d=6, n=8, widths=(128, 512, 2048), replicates=3, n_test=64, seed=3),
    "quick": _WidthPlan(d=8, n=12, widths=(128, 512, 2048, 8192), replicates=4, n_test=128, seed=3),
    "full": _WidthPlan(
        d=10, n=16, widths=(128, 512, 2048, 8192, 32768), replicates=8, n_test=256, seed=3
    ),
}


def _slope(sizes: list[float], values: list[float]) -> float:
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def _pm(value: float, se: float) -> str:
    """``-0.44 ± 0.02`` in mathtext (a fitted slope and its standard error)."""
    return f"${value:.2f} \\pm {se:.2f}$"


@figure(
    "relu-ntk-width",
    "K1/K3: as the width grows, the empirical NTK approaches H^inf with the predicted error, "
    "and GD fine-tuning approaches the kernel predictor and its distance travelled",
)
def width_figure(size: Size) -> FigureData:
    plan = WIDTH_PLANS[size]
    rng = np.random.default_rng(plan.seed)
    theta_s = nd.random_unit_vector(plan.d, rng)
    theta_t = nd.synthetic_teacher(theta_s, 1.0, 0.5, rng)
    X_source = nd.sample_sphere(3 * plan.d, plan.d, rng)
    X = nd.sample_sphere(plan.n, plan.d, rng)
    X_test = nd.sample_sphere(plan.n_test, plan.d, rng)
    y = X @ theta_t
    H = sr.first_layer_ntk(X)
    u, p = X @ X.T, sr.orthant_probability(X)
    per_neuron = float(np.mean(u * u * p * (1.0 - p)))

    ntk_rms: list[float] = []
    ntk_se: list[float] = []
    gap_mean: list[float] = []
    gap_se: list[float] = []
    dist_mean: list[float] = []
    dist_se: list[float] = []
    all_sizes: list[float] = []
    all_gaps: list[float] = []
    all_rms: list[float] = []
    scatter_x: list[float] = []
    scatter_y: list[float] = []
    for k, m in enumerate(plan.widths):
        mses, gaps, ratios = [], [], []
        for r in range(plan.replicates):
            init = np.random.default_rng([plan.seed, k, r])
            net = nr.init_network(m, plan.d, init)
            mses.append(float(np.mean((nr.empirical_ntk(net, X) - H) ** 2)))
            source = nr.pretrain(X_source, theta_s, m, init, rtol=1e-3)
            f_s, f_s_test = source.network(X), source.network(X_test)
            run = nr.fine_tune(X, y, source.network, rtol=1e-8)
            want = sr.finetuned_predictor(X, y, f_s, X_test, f_s_test)
            got = run.network(X_test)
            gaps.append(
                float(np.sqrt(np.mean((got - want) ** 2) / np.mean((want - f_s_test) ** 2)))
            )
            ratios.append(run.distance / sr.distance_travelled(X, y, f_s))
            if k == len(plan.widths) - 1 and r == 0:
                scatter_x, scatter_y = want.tolist(), got.tolist()
        mse, mse_se = mean_and_stderr(mses)
        ntk_rms.append(math.sqrt(mse))
        ntk_se.append(mse_se / (2.0 * math.sqrt(mse)))
        for store, se_store, vals in ((gap_mean, gap_se, gaps), (dist_mean, dist_se, ratios)):
            mean, se = mean_and_stderr(vals)
            store.append(mean)
            se_store.append(se)
        all_sizes.extend([float(m)] * len(gaps))
        all_gaps.extend(gaps)
        all_rms.extend(math.sqrt(v) for v in mses)

    widths = [float(m) for m in plan.widths]
    predicted = [math.sqrt(per_neuron / (m / 2)) for m in widths]
    half = "$-1/2$"
    ntk_fit_series, ntk_fit = rate_series("random init", all_sizes, all_rms, -0.5, half)
    gap_fit_series, gap_fit = rate_series("GD fine-tuned network", all_sizes, all_gaps, -0.5, half)
    gap_slope = gap_fit.slope
    lo, hi = min(scatter_x), max(scatter_x)
    panels = [
        Panel(
            r"K1: empirical NTK vs $H^\infty$ (RMS over entries); fitted slope "
            f"{_pm(ntk_fit.slope, ntk_fit.slope_se)}",
            "width $m$",
            r"RMS $|K_m - H^\infty|$",
            [
                Series(
                    r"predicted $\sqrt{\overline{u^2 P(1-P)}\,/\,(m/2)}$",
                    "theory",
                    widths,
                    predicted,
                ),
                Series("random init", "training", widths, ntk_rms, ntk_se),
                *ntk_fit_series,
            ],
            xscale="log",
            yscale="log",
        ),
        Panel(
            "K3: network vs kernel predictor (held-out points); fitted slope "
            f"{_pm(gap_fit.slope, gap_fit.slope_se)}",
            "width $m$",
            "RMS gap / RMS fine-tuning update",
            [
                Series("GD fine-tuned network", "training", widths, gap_mean, gap_se),
                *gap_fit_series,
            ],
            xscale="log",
            yscale="log",
        ),
        Panel(
            f"K3: predictions at $m$ = {plan.widths[-1]}",
            r"kernel predictor $f_S + k(x,X)\,H^{-1}(y - f_S(X))$",
            "fine-tuned network $f(x)$",
            [
                Series("$y = x$", "theory", [lo, hi], [lo, hi]),
                Series("held-out points", "training", scatter_x, scatter_y),
            ],
        ),
        Panel(
            "K3: distance travelled",
            "width $m$",
            r"$\|W_{FT} - W_S\|_F\,/\,\sqrt{r^\top H^{-1} r}$",
            [
                Series("NTK limit", "theory", widths, [1.0] * len(widths)),
                Series("GD fine-tuned network", "training", widths, dist_mean, dist_se),
            ],
            xscale="log",
        ),
    ]
    summary = {
        "ntk_error_slope": ntk_fit.slope,
        "ntk_error_slope_se": ntk_fit.slope_se,
        "gap_slope_se": gap_fit.slope_se,
        "ntk_mse_over_predicted": [(r / q) ** 2 for r, q in zip(ntk_rms, predicted, strict=True)],
        "gap_slope": gap_slope,
        "gap_times_sqrt_m": [g * math.sqrt(m) for g, m in zip(gap_mean, widths, strict=True)],
        "distance_ratio": dist_mean,
    }
    setting = {
        "d": plan.d,
        "n": plan.n,
        "n_source": 3 * plan.d,
        "widths": list(plan.widths),
        "replicates": plan.replicates,
        "n_test": plan.n_test,
        "seed": plan.seed,
        "teachers": "theta_S unit, theta_T = theta_S + 0.5 zeta",
        "seeding": "numpy default_rng(seed) gives theta_S, theta_T, the source, training and "
        "test inputs, in that order; width k, replicate r: default_rng([seed, k, r]) gives the "
        "random network, then the pretraining",
    }
    return FigureData(
        "relu-ntk-width",
        "Shallow ReLU networks: finite width vs the NTK limit (docs/theory.md K1, K3)",
        panels,
        setting,
        summary,
    )


@dataclass(frozen=True)
class _SourcePlan:
    d: int
    n: int
    width: int
    source_factor: int
    n_test: int
    distances: tuple[float, ...]
    seed: int


SOURCE_PLANS: dict[Size, _SourcePlan] = {
    "tiny": _SourcePlan(5, 10, 256, 6, 2000, (0.25, 0.5, 1.0, 2.0), 11),
    "quick": _SourcePlan(8, 20, 1024, 6, 10_000, (0.125, 0.25, 0.5, 1.0, 2.0, 4.0), 11),
    "full": _SourcePlan(10, 30, 4096, 8, 40_000, tuple(2.0**k for k in range(-4, 3)), 11),
}


@figure(
    "relu-ntk-source-distance",
    "K3: the target risk of a fine-tuned ReLU network falls as the source teacher approaches "
    "the target; the generalisation term against its bound 2 sqrt(2) |theta_T - theta_S| / sqrt(n) "
    "plus the source misfit term",
)
def source_distance_figure(size: Size) -> FigureData:
    plan = SOURCE_PLANS[size]
    sweep = source_sweep(
        plan.d, plan.n, plan.seed, plan.width, plan.source_factor, plan.n_test, plan.distances
    )
    s = list(sweep.distances)
    exact = list(sweep.exact_term)
    # G is a norm (√(2/n)·‖·‖ in the H^∞⁻¹ metric): G(y − u_S) ≤ G(y − Xθ_S) + G(Xθ_S − u_S)
    # ≤ B + G_misfit. The trained source network's term is bounded by this sum, not by B.
    full_bound = [b + m for b, m in zip(sweep.bound, sweep.misfit, strict=True)]
    panels = [
        Panel(
            "K3: target risk after fine-tuning",
            r"$\|\theta_T - \theta_S\|$",
            r"$E_x\,(f(x) - \theta_T^\top x)^2$",
            [
                Series(
                    "NTK-limit predictor from the same source", "theory", s, list(sweep.kernel_risk)
                ),
                Series(
                    f"GD fine-tuned network ($m$ = {plan.width})",
                    "training",
                    s,
                    list(sweep.risk),
                    list(sweep.risk_stderr),
                ),
            ],
            xscale="log",
            yscale="log",
        ),
        Panel(
            r"K2/K3: term $G$ and its full bound",
            r"$\|\theta_T - \theta_S\|$",
            r"$G(r) = \sqrt{2\,r^\top (H^\infty)^{-1} r\,/\,n}$",
            [
                Series(
                    r"full bound $B + G(X\theta_S - u_S)$ (source misfit)",
                    "theory",
                    s,
                    full_bound,
                ),
                Series(
                    r"bound $B = 2\sqrt{2}\,\|\theta_T - \theta_S\| / \sqrt{n}$",
                    "theory",
                    s,
                    list(sweep.bound),
                ),
                Series(r"exact source, $r = y - X\theta_S$ ($\leq B$)", "theory", s, exact),
                Series(
                    r"trained source network, $r = y - u_S$",
                    "training",
                    s,
                    list(sweep.term),
                ),
            ],
            xscale="log",
            yscale="log",
        ),
    ]
    risk = list(sweep.risk)
    summary = {
        "risk": risk,
        "kernel_risk": list(sweep.kernel_risk),
        "risk_increasing": all(a < b for a, b in itertools.pairwise(risk)),
        "risk_slope_top": _slope(s[-2:], risk[-2:]),
        "term_over_bound": [g / b for g, b in zip(sweep.term, sweep.bound, strict=True)],
        "misfit_term": list(sweep.misfit),
        "term_over_full_bound": [g / f for g, f in zip(sweep.term, full_bound, strict=True)],
    }
    setting = {
        "d": plan.d,
        "n": plan.n,
        "width": plan.width,
        "n_source": plan.source_factor * plan.d,
        "n_test": plan.n_test,
        "distances": s,
        "seed": plan.seed,
        "teachers": "theta_T unit, theta_S = theta_T + s * (random unit direction)",
    }
    return FigureData(
        "relu-ntk-source-distance",
        "Fine-tuning ReLU networks from closer sources (docs/theory.md K3)",
        panels,
        setting,
        summary,
    )
