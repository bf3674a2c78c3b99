"""The paper's Figure 2 from both sides: closed-form risk (lines) and trained networks (points).

(a) ``depth``: excess risk of the fine-tuned deep linear network against depth N for
    θ_T = αθ_S + εζ with n = d/10, plus the infinite-depth value and the D4 alignment
    predictor (1 − n/d)·2‖θ_T‖²(1 − cos∠(θ_S, θ_T)).
(b) ``rescale``: a 7-layer network, the risk when θ_S or θ_T is multiplied by a factor κ
    (and, for reference, linear regression N = 1).

Training = RK4 gradient flow on every layer from balanced weights (numeric.deep_linear);
theory = symbolic.deep_linear.finetuned_risk on the same designs. Points average over seeds
(error bars: one standard error over seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import numeric.data as nd
import numeric.deep_linear as ndl
import symbolic.deep_linear as sdl
from verify.figures import FigureData, Panel, Series, Size, figure, mean_and_stderr


@dataclass(frozen=True)
class _Scale:
    d: int
    depths: tuple[int, ...]
    seeds: int
    factors: tuple[float, ...]
    width: int


#: Flow settings for figures: the default RK4 step (h·λ̂ = 0.5; twice that makes the risks
#: ~20x less accurate, ~2e-5) stopped at a relative gradient of 1e-8 rather than 1e-10.
FIGURE_CFL = 0.5
FIGURE_RTOL = 1e-8

SCALES: dict[str, _Scale] = {
    "tiny": _Scale(20, (1, 2, 4), 1, (0.5, 1.0, 2.0), 3),
    "quick": _Scale(60, (1, 2, 4, 6, 8), 2, (0.25, 0.5, 1.0, 2.0, 4.0), 4),
    "full": _Scale(
        200, (1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 10, (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0), 20
    ),
}
TEACHERS: tuple[tuple[float, float], ...] = ((2.0, 0.0), (2.0, 0.3), (0.5, 0.0), (1.0, 0.3))


def _trained_risk(
    theta_s: np.ndarray, theta_t: np.ndarray, X: np.ndarray, depth: int, width: int, seed: int
) -> float:
    weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(theta_s.size, width, depth), seed)
    w = ndl.fine_tune(
        X, X @ theta_t, weights, solver="flow", flow_cfl=FIGURE_CFL, rtol=FIGURE_RTOL
    ).end_to_end
    return float(np.sum((w - theta_t) ** 2))


def _draw(d: int, seed: int, alpha: float, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta_s = nd.random_unit_vector(d, rng)
    theta_t = nd.synthetic_teacher(theta_s, alpha, eps, rng)
    X = nd.sample_inputs(max(1, d // 10), d, rng)
    return theta_s, theta_t, X


@figure("depth", "Figure 2(a): risk vs depth for theta_T = alpha theta_S + eps zeta, n = d/10")
def depth_figure(size: Size) -> FigureData:
    sc = SCALES[size]
    n = max(1, sc.d // 10)
    series: list[Series] = []
    worst_gap = 0.0
    for alpha, eps in TEACHERS:
        label = f"$\\alpha$ = {alpha:g}, $\\varepsilon$ = {eps:g}"
        theory, train, train_se, inf_risk, cos_pred = [], [], [], [], []
        for depth in sc.depths:
            th, tr = [], []
            for seed in range(sc.seeds):
                theta_s, theta_t, X = _draw(sc.d, seed, alpha, eps)
                th.append(sdl.finetuned_risk(X, X @ theta_t, theta_s, theta_t, depth))
                tr.append(_trained_risk(theta_s, theta_t, X, depth, sc.width, seed))
                worst_gap = max(worst_gap, abs(tr[-1] - th[-1]) / max(th[-1], 1e-6))
            theory.append(mean_and_stderr(th)[0])
            m, se = mean_and_stderr(tr)
            train.append(m)
            train_se.append(se)
        for seed in range(sc.seeds):
            theta_s, theta_t, X = _draw(sc.d, seed, alpha, eps)
            inf_risk.append(sdl.finetuned_risk(X, X @ theta_t, theta_s, theta_t, math.inf))
            cos = float(theta_s @ theta_t / (np.linalg.norm(theta_s) * np.linalg.norm(theta_t)))
            cos_pred.append((1 - n / sc.d) * 2 * float(theta_t @ theta_t) * (1 - cos))
        xs = [float(x) for x in sc.depths]
        series += [
            Series(label, "theory", xs, theory),
            Series(label, "training", xs, train, train_se),
            Series(
                f"{label} [$N = \\infty$]",
                "theory",
                [xs[0], xs[-1]],
                [mean_and_stderr(inf_risk)[0]] * 2,
                style="dashed",
            ),
            Series(
                f"{label} [D4 alignment predictor]",
                "theory",
                [xs[0], xs[-1]],
                [mean_and_stderr(cos_pred)[0]] * 2,
                style="dotted",
            ),
        ]
    panel = Panel(
        f"$d$ = {sc.d}, $n$ = {n}, isotropic inputs; mean (bar: 1 s.e.) over {sc.seeds} design(s)",
        "depth $N$ (number of layers)",
        "excess risk $R(w)$",
        series,
    )
    return FigureData(
        "depth",
        "Fine-tuning a deep linear network: risk vs depth (Figure 2a)",
        [panel],
        {"d": sc.d, "n": n, "depths": list(sc.depths), "seeds": sc.seeds, "teachers": TEACHERS},
        {"max_rel_gap_training_vs_theory": worst_gap},
    )


@figure("rescale", "Figure 2(b): 7-layer network, risk when rescaling theta_S or theta_T")
def rescale_figure(size: Size) -> FigureData:
    sc = SCALES[size]
    depth = 7
    alpha, eps = 1.0, 0.3
    n = max(1, sc.d // 10)
    series: list[Series] = []
    worst_gap = 0.0
    grid = np.geomspace(sc.factors[0], sc.factors[-1], 41)
    for which in ("theta_S", "theta_T"):

        def setting(
            seed: int, kappa: float, which: str = which
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            theta_s, theta_t, X = _draw(sc.d, seed, alpha, eps)
            if which == "theta_S":
                return kappa * theta_s, theta_t, X
            return theta_s, kappa * theta_t, X

        def closed(kappa: float, depth: int) -> float:
            risks = []
            for seed in range(sc.seeds):
                theta_s, theta_t, X = setting(seed, kappa)
                risks.append(sdl.finetuned_risk(X, X @ theta_t, theta_s, theta_t, depth))
            return mean_and_stderr(risks)[0]

        train, train_se = [], []
        for kappa in sc.factors:
            tr = []
            for seed in range(sc.seeds):
                theta_s, theta_t, X = setting(seed, kappa)
                tr.append(_trained_risk(theta_s, theta_t, X, depth, sc.width, seed))
                th = sdl.finetuned_risk(X, X @ theta_t, theta_s, theta_t, depth)
                worst_gap = max(worst_gap, abs(tr[-1] - th) / max(th, 1e-6))
            m, se = mean_and_stderr(tr)
            train.append(m)
            train_se.append(se)
        label = "rescale $\\theta_S$" if which == "theta_S" else "rescale $\\theta_T$"
        gx = [float(k) for k in grid]
        series += [
            Series(label, "theory", gx, [closed(k, depth) for k in gx]),
            Series(label, "training", [float(k) for k in sc.factors], train, train_se),
            Series(
                f"{label} [$N = 1$ (linear regression)]",
                "theory",
                gx,
                [closed(k, 1) for k in gx],
                style="dashed",
            ),
        ]
    panel = Panel(
        f"$N = 7$ (theory lines, training points), $\\theta_T = \\theta_S + 0.3\\zeta$, "
        f"$d$ = {sc.d}, $n$ = {n}",
        "rescaling factor $\\kappa$",
        "excess risk $R(w)$",
        series,
        xscale="log",
        yscale="log",
    )
    return FigureData(
        "rescale",
        "Rescaling the source or the target in a 7-layer network (Figure 2b)",
        [panel],
        {"d": sc.d, "n": n, "depth": depth, "factors": list(sc.factors), "seeds": sc.seeds},
        {"max_rel_gap_training_vs_theory": worst_gap},
    )


@figure("freezing", "D6: risk vs n for full fine-tuning vs a frozen first layer, against the floor")
def freezing_figure(size: Size) -> FigureData:
    d = {"tiny": 12, "quick": 20, "full": 40}[size]
    depth, width = 3, 6
    seeds = {"tiny": 2, "quick": 4, "full": 10}[size]
    ns = {
        # n near d is left out: gradient flow needs a time ∝ κ(XXᵀ), which blows up there.
        "tiny": [2, 4, 30],
        "quick": [2, 4, 8, 12, 40, 60],
        "full": [2, 5, 10, 15, 20, 60, 80, 120],
    }[size]
    full_t: list[float] = []
    full_se: list[float] = []
    frozen_t: list[float] = []
    frozen_se: list[float] = []
    theory_full: list[float] = []
    floors: list[float] = []
    last_ratio: list[float] = []
    worst_gap, worst_below = 0.0, 0.0
    for n in ns:
        fr, fu, th = [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng([seed, n])
            theta_s = nd.random_unit_vector(d, rng)
            theta_t = nd.synthetic_teacher(theta_s, 1.0, 0.8, rng)
            X = nd.sample_inputs(n, d, rng)
            y = X @ theta_t
            weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(d, width, depth), rng)
            w_full = ndl.fine_tune(
                X, y, weights, solver="flow", flow_cfl=FIGURE_CFL, rtol=FIGURE_RTOL
            ).end_to_end
            mask = [False] + [True] * (depth - 1)
            w_frozen = ndl.fine_tune(
                X,
                y,
                weights,
                solver="flow",
                trainable=mask,
                max_steps=20_000,
                strict=False,
                flow_cfl=FIGURE_CFL,
                rtol=FIGURE_RTOL,
            ).end_to_end
            floor = sdl.frozen_layers_risk_floor(theta_s, theta_t)
            fu.append(float(np.sum((w_full - theta_t) ** 2)))
            fr.append(float(np.sum((w_frozen - theta_t) ** 2)))
            # D3 holds for n < d; for n ≥ d the flow reaches least squares, θ_T itself.
            th.append(sdl.finetuned_risk(X, y, theta_s, theta_t, depth) if n < d else 0.0)
            floors.append(floor)
            worst_gap = max(worst_gap, abs(fu[-1] - th[-1]) / max(th[-1], 1e-6))
            worst_below = max(worst_below, (floor - fr[-1]) / floor)
            if n == ns[-1]:
                last_ratio.append(fr[-1] / floor)
        for vals, mean_list, se_list in ((fu, full_t, full_se), (fr, frozen_t, frozen_se)):
            m, se = mean_and_stderr(vals)
            mean_list.append(m)
            se_list.append(se)
        theory_full.append(mean_and_stderr(th)[0])
    xs = [float(n) for n in ns]
    floor_mean = float(np.mean(floors))
    panel = Panel(
        f"$N$ = {depth}, $d$ = {d}, $\\theta_T = \\theta_S + 0.8\\zeta$, noiseless; "
        f"mean over {seeds} draws",
        "target samples $n$",
        "excess risk $R(w)$",
        [
            Series("all layers fine-tuned", "theory", xs, theory_full),
            Series("all layers fine-tuned", "training", xs, full_t, full_se),
            Series("first layer frozen", "training", xs, frozen_t, frozen_se),
            Series(
                "first layer frozen [D6 floor, any $n$]",
                "theory",
                [xs[0], xs[-1]],
                [floor_mean] * 2,
                style="dashed",
            ),
        ],
    )
    return FigureData(
        "freezing",
        "Freezing the first layer of a balanced deep linear network (D6)",
        [panel],
        {"d": d, "depth": depth, "width": width, "seeds": seeds, "ns": ns},
        {
            "max_rel_gap_full_vs_D3": worst_gap,
            "max_relative_dip_below_floor": worst_below,
            "min_frozen_risk_over_floor_at_largest_n": min(last_ratio),
        },
    )
