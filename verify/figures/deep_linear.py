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


#: The depth figure's dashed line is finetuned_risk at N = ∞ on the same designs and averaged
#: like the curve: the N → ∞ limit of the plotted theory line (tests check it against N = 10⁶).
INFINITE_DEPTH = math.inf


def theory_mean(sc: _Scale, alpha: float, eps: float, depth: float) -> float:
    """The depth figure's theory value: D5's risk at ``depth``, averaged over the designs."""
    risks = []
    for seed in range(sc.seeds):
        theta_s, theta_t, X = _draw(sc.d, seed, alpha, eps)
        risks.append(sdl.finetuned_risk(X, X @ theta_t, theta_s, theta_t, depth))
    return mean_and_stderr(risks)[0]


@figure("depth", "Figure 2(a): risk vs depth for theta_T = alpha theta_S + eps zeta, n = d/10")
def depth_figure(size: Size) -> FigureData:
    """Theory line: D5's risk averaged over the designs at each plotted depth; dashed: the
    same average at N = ∞ (its limit, whether or not the plotted depths get near it);
    dotted: D4's large-d predictor (1 − n/d)·2‖θ_T‖²(1 − cos∠(θ_S, θ_T)), an approximation
    of the dashed value (off by O(1/√n) at small n).

    Only α > 0, ε = 0 (θ_T ∥ θ_S) makes the limit 0; for ε > 0 the teacher is not aligned,
    and at α = 1, ε > 0 the risk rises slowly with depth (depth is exactly neutral only for
    θ_T = θ_S). Summary ``fraction_of_way_to_limit``: (R(1) − R(N_max))/(R(1) − R(∞)) per
    teacher, how much of the way to the dashed line the plotted depths cover.
    """
    sc = SCALES[size]
    n = max(1, sc.d // 10)
    series: list[Series] = []
    worst_gap = 0.0
    limits: dict[str, float] = {}
    fractions: dict[str, float] = {}
    for alpha, eps in TEACHERS:
        label = f"$\\alpha$ = {alpha:g}, $\\varepsilon$ = {eps:g}"
        theory, train, train_se, cos_pred = [], [], [], []
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
            cos = float(theta_s @ theta_t / (np.linalg.norm(theta_s) * np.linalg.norm(theta_t)))
            cos_pred.append((1 - n / sc.d) * 2 * float(theta_t @ theta_t) * (1 - cos))
        limit = theory_mean(sc, alpha, eps, INFINITE_DEPTH)
        key = f"alpha={alpha:g}, eps={eps:g}"
        limits[key] = limit
        gap = theory[0] - limit  # 0 only if depth is exactly neutral (θ_T = θ_S)
        fractions[key] = (theory[0] - theory[-1]) / gap if gap != 0.0 else 1.0
        xs = [float(x) for x in sc.depths]
        series += [
            Series(label, "theory", xs, theory),
            Series(label, "training", xs, train, train_se),
            Series(
                f"{label} [$N \\to \\infty$ limit of the theory line]",
                "theory",
                [xs[0], xs[-1]],
                [limit] * 2,
                style="dashed",
            ),
            Series(
                f"{label} [D4 large-$d$ predictor of the limit]",
                "theory",
                [xs[0], xs[-1]],
                [mean_and_stderr(cos_pred)[0]] * 2,
                style="dotted",
            ),
        ]
    slow = fractions["alpha=1, eps=0.3"]
    panel = Panel(
        f"$d$ = {sc.d}, $n$ = {n}; mean (bar: 1 s.e.) over {sc.seeds} design(s). "
        f"$\\alpha$ = 1, $\\varepsilon$ = 0.3 ($\\theta_T \\neq \\theta_S$) rises slowly: "
        f"{100 * slow:.0f}% of the way to its limit by $N$ = {sc.depths[-1]}",
        "depth $N$ (number of layers)",
        "excess risk $R(w)$",
        series,
    )
    return FigureData(
        "depth",
        "Fine-tuning a deep linear network: risk vs depth (Figure 2a)",
        [panel],
        {"d": sc.d, "n": n, "depths": list(sc.depths), "seeds": sc.seeds, "teachers": TEACHERS},
        {
            "max_rel_gap_training_vs_theory": worst_gap,
            "infinite_depth_risk": limits,
            "fraction_of_way_to_limit": fractions,
        },
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


#: Setting of the freezing figure: θ_T = θ_S + 0.8ζ, a 3-layer network of width 6.
FREEZE_ALPHA, FREEZE_EPS = 1.0, 0.8
FREEZE_DEPTH, FREEZE_WIDTH = 3, 6
FREEZE_SIZES: dict[str, tuple[int, int, tuple[int, ...]]] = {
    # (d, draws, sample sizes n). n near d is left out: gradient flow needs a time ∝ κ(XXᵀ),
    # which blows up there.
    "tiny": (12, 2, (2, 4, 30)),
    "quick": (20, 4, (2, 4, 8, 12, 40, 60)),
    "full": (40, 10, (2, 5, 10, 15, 20, 60, 80, 120)),
}


@figure("freezing", "D6: per-draw risk / floor vs n, full fine-tuning vs a frozen first layer")
def freezing_figure(size: Size) -> FigureData:
    """Per draw, the excess risk divided by that draw's D6 floor min_β R(βθ_S).

    D6 bounds each draw: with the first layer frozen the end-to-end vector stays in
    span{θ_S}, so risk/floor ≥ 1 for every draw and every n (dashed line at 1). Full
    fine-tuning (D3, n < d) is not bound by it: its closed-form ratio is one dotted line per
    draw, its trained ratios the points on them (for n ≥ d its risk is 0, off the log axis).
    Draw k is seeded once (``default_rng(k)``, in this order): θ_S, θ_T, the n_max × d
    inputs (sample size n uses the first n rows) and the pretrained weights; so the floor of
    a draw is the same for every n and its lines are smooth in n.
    """
    d, draws, ns = FREEZE_SIZES[size]
    depth, width = FREEZE_DEPTH, FREEZE_WIDTH
    mask = [False] + [True] * (depth - 1)
    frozen_x: list[float] = []
    frozen_ratio: list[float] = []
    full_x: list[float] = []
    full_ratio: list[float] = []
    theory_lines: list[Series] = []
    floors: list[float] = []
    worst_gap, not_converged = 0.0, 0
    last_ratio: list[float] = []
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        theta_s = nd.random_unit_vector(d, rng)
        theta_t = nd.synthetic_teacher(theta_s, FREEZE_ALPHA, FREEZE_EPS, rng)
        X_all = nd.sample_inputs(max(ns), d, rng)
        weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(d, width, depth), rng)
        floor = sdl.frozen_layers_risk_floor(theta_s, theta_t)
        floors.append(floor)
        line_x, line_y = [], []
        for n in ns:
            X = X_all[:n]
            y = X @ theta_t
            frozen = ndl.fine_tune(
                X,
                y,
                [w.copy() for w in weights],
                solver="flow",
                trainable=mask,
                max_steps=20_000,
                strict=False,
                flow_cfl=FIGURE_CFL,
                rtol=FIGURE_RTOL,
            )
            not_converged += not frozen.converged
            frozen_x.append(float(n))
            frozen_ratio.append(float(np.sum((frozen.end_to_end - theta_t) ** 2)) / floor)
            if n == ns[-1]:
                last_ratio.append(frozen_ratio[-1])
            if n >= d:  # least squares is θ_T itself: risk 0, not drawn on the log axis
                continue
            w_full = ndl.fine_tune(
                X,
                y,
                [w.copy() for w in weights],
                solver="flow",
                flow_cfl=FIGURE_CFL,
                rtol=FIGURE_RTOL,
            ).end_to_end
            th = sdl.finetuned_risk(X, y, theta_s, theta_t, depth)
            tr = float(np.sum((w_full - theta_t) ** 2))
            worst_gap = max(worst_gap, abs(tr - th) / max(th, 1e-6))
            full_x.append(float(n))
            full_ratio.append(tr / floor)
            line_x.append(float(n))
            line_y.append(th / floor)
        theory_lines.append(
            Series(
                "all layers fine-tuned [D3, one line per draw]",
                "theory",
                line_x,
                line_y,
                style="dotted",
            )
        )
    panel = Panel(
        f"$N$ = {depth}, $d$ = {d}, $\\theta_T = \\theta_S + {FREEZE_EPS:g}\\zeta$, noiseless; "
        f"each point one of {draws} draws (same draws for every $n$); "
        "floor = min over $\\beta$ of $R(\\beta\\theta_S)$",
        "target samples $n$",
        "risk / D6 floor, per draw",
        [
            *theory_lines,
            Series("all layers fine-tuned", "training", full_x, full_ratio),
            Series("first layer frozen", "training", frozen_x, frozen_ratio),
            Series(
                "first layer frozen [D6: ratio $\\geq$ 1 for every draw]",
                "theory",
                [float(ns[0]), float(ns[-1])],
                [1.0, 1.0],
                style="dashed",
            ),
        ],
        xscale="log",
        yscale="log",
    )
    return FigureData(
        "freezing",
        "Freezing the first layer of a balanced deep linear network (D6)",
        [panel],
        {
            "d": d,
            "depth": depth,
            "width": width,
            "alpha": FREEZE_ALPHA,
            "epsilon": FREEZE_EPS,
            "draws": draws,
            "seeds": list(range(draws)),
            "ns": list(ns),
            "seeding": "draw k: numpy default_rng(k) gives theta_S, theta_T, inputs "
            "(max(ns) x d; n uses the first n rows) and the pretrained weights, in that order",
            "floors": floors,
        },
        {
            "max_rel_gap_full_vs_D3": worst_gap,
            "min_frozen_ratio_to_floor": min(frozen_ratio),
            "max_relative_dip_below_floor": max(0.0, 1.0 - min(frozen_ratio)),
            "min_frozen_risk_over_floor_at_largest_n": min(last_ratio),
            "frozen_runs_not_converged": not_converged,
        },
    )
