"""The paper's Figure 2 from both sides: closed-form risk (lines) and trained networks (points).

(a) ``depth``: excess risk of the fine-tuned deep linear network against depth N for
    θ_T = αθ_S + εζ with n = d/10, plus the infinite-depth value and the D4 alignment
    predictor (1 − n/d)·2‖θ_T‖²(1 − cos∠(θ_S, θ_T)).
(b) ``rescale``: a 7-layer network, the risk when θ_S or θ_T is multiplied by a factor κ
    (and, for reference, linear regression N = 1).

Training = gradient flow on every layer from balanced weights of the stated hidden width
(numeric.deep_linear.fine_tune's default adaptive flow: it integrates the balanced chain on
its invariant set, the embedded width-one chain, which the claim D3-invariant-set checks
against the plain full-matrix flow); theory = symbolic.deep_linear.finetuned_risk on the same
designs. Points average over designs (error bars: one standard error over designs). Design k
is ``numpy.random.default_rng(k)``: θ_S, θ_T, then the n × d inputs, in that order; the
pretrained layers are ``balanced_weights(θ_S, widths, k)``.
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


#: Target accuracy ‖w − w_flow(∞)‖/‖w‖ of the adaptive flow in the deep-linear figures
#: (fine_tune's default): far below anything a figure can show.
FIGURE_TOL = 1e-10
#: With frozen layers the adaptive flow stops when the trainable layers' gradient has
#: shrunk by this factor (fine_tune's rule for masks; ∇L(w) itself need not vanish there).
FROZEN_RTOL = 1e-10

#: The paper's depths (Figure 2a) at every size but tiny; ``full`` is the paper's d = 1000,
#: n = d/10 with 10 designs per point.
PAPER_DEPTHS = (1, 2, 3, 5, 7, 10, 20)
SCALES: dict[str, _Scale] = {
    "tiny": _Scale(20, (1, 2, 4), 1, (0.5, 1.0, 2.0), 3),
    "quick": _Scale(200, PAPER_DEPTHS, 3, (0.25, 0.5, 1.0, 2.0, 4.0), 10),
    "full": _Scale(1000, PAPER_DEPTHS, 10, (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0), 50),
}
#: Points on the rescale figure's theory lines (log-spaced over the trained factors).
RESCALE_GRID = 25
#: The depth figure's teachers θ_T = αθ_S + εζ as (α, ε), by panel: aligned (ε = 0, the
#: N → ∞ limit is 0) and not aligned (ε = 0.3).
TEACHER_PANELS: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = (
    ("aligned, $\\theta_T = \\alpha\\theta_S$: depth helps, limit 0", ((2.0, 0.0), (0.5, 0.0))),
    ("not aligned, $\\theta_T = \\alpha\\theta_S + 0.3\\zeta$", ((2.0, 0.3), (1.0, 0.3))),
)
TEACHERS: tuple[tuple[float, float], ...] = tuple(t for _, ts in TEACHER_PANELS for t in ts)


def _trained_risk(
    theta_s: np.ndarray, theta_t: np.ndarray, X: np.ndarray, depth: int, width: int, seed: int
) -> tuple[float, float]:
    """(excess risk ‖w − θ_T‖², the flow's own error estimate ‖w − w_coarse‖/‖w‖ + distance)
    of gradient flow on all ``depth`` layers (hidden width ``width``) from balanced weights."""
    weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(theta_s.size, width, depth), seed)
    run = ndl.fine_tune(X, X @ theta_t, weights, solver="flow", tol=FIGURE_TOL)
    estimate = run.error_estimate
    if estimate is None:  # pragma: no cover - the adaptive flow always estimates by default
        raise RuntimeError("the adaptive flow returned no error estimate")
    return float(np.sum((run.end_to_end - theta_t) ** 2)), float(estimate)


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

    Two panels, so that no line hides under another: aligned teachers (α > 0, ε = 0, θ_T ∥
    θ_S), whose limit is 0, and teachers that are not aligned (ε = 0.3). At α = 1, ε > 0 the
    risk rises slowly with depth (depth is exactly neutral only for θ_T = θ_S). Summary
    ``fraction_of_way_to_limit``: (R(1) − R(N_max))/(R(1) − R(∞)) per teacher, how much of
    the way to the dashed line the plotted depths cover; ``max_training_error_estimate``:
    the largest of the flows' own error estimates ‖w − w_coarse‖/‖w‖ + distance.
    """
    sc = SCALES[size]
    n = max(1, sc.d // 10)
    worst_gap, worst_estimate = 0.0, 0.0
    limits: dict[str, float] = {}
    fractions: dict[str, float] = {}
    panels: list[Panel] = []
    xs = [float(x) for x in sc.depths]
    for heading, teachers in TEACHER_PANELS:
        series: list[Series] = []
        for alpha, eps in teachers:
            label = f"$\\alpha$ = {alpha:g}, $\\varepsilon$ = {eps:g}"
            theory, train, train_se, cos_pred = [], [], [], []
            for depth in sc.depths:
                th, tr = [], []
                for seed in range(sc.seeds):
                    theta_s, theta_t, X = _draw(sc.d, seed, alpha, eps)
                    th.append(sdl.finetuned_risk(X, X @ theta_t, theta_s, theta_t, depth))
                    risk, estimate = _trained_risk(theta_s, theta_t, X, depth, sc.width, seed)
                    tr.append(risk)
                    worst_estimate = max(worst_estimate, estimate)
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
            ]
            if eps > 0:  # for ε = 0 the predictor is exactly 0, the dashed line
                series.append(
                    Series(
                        f"{label} [D4 large-$d$ predictor of the limit]",
                        "theory",
                        [xs[0], xs[-1]],
                        [mean_and_stderr(cos_pred)[0]] * 2,
                        style="dotted",
                    )
                )
        title = heading
        if (1.0, 0.3) in teachers:
            slow = fractions["alpha=1, eps=0.3"]
            title += (
                f"; $\\alpha$ = 1 rises slowly, {100 * slow:.0f}% of the way to its limit "
                f"by $N = {sc.depths[-1]}$"
            )
        panels.append(
            Panel(
                title,
                "depth $N$ (number of layers)",
                "excess risk $R(w)$",
                series,
                xscale="log",
                # the aligned limit 0 is drawn on a linear axis; the others differ by decades
                yscale="log" if all(eps > 0 for _, eps in teachers) else "linear",
            )
        )
    return FigureData(
        "depth",
        f"Risk vs depth after fine-tuning (Figure 2a): $d$ = {sc.d}, $n$ = {n}, hidden width "
        f"{sc.width}; mean and 1 s.e. over {sc.seeds} design(s), each point trained by "
        "gradient flow on all layers",
        panels,
        {
            "d": sc.d,
            "n": n,
            "depths": list(sc.depths),
            "seeds": sc.seeds,
            "designs": list(range(sc.seeds)),
            "hidden_width": sc.width,
            "teachers": TEACHERS,
            "training": "numeric.deep_linear.fine_tune(X, X @ theta_T, balanced_weights("
            f"theta_S, uniform_widths(d, {sc.width}, N), k), tol={FIGURE_TOL:g})",
            "seeding": "design k: numpy default_rng(k) gives theta_S, theta_T, then the n x d "
            "inputs, in that order",
        },
        {
            "max_rel_gap_training_vs_theory": worst_gap,
            "max_training_error_estimate": worst_estimate,
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
    worst_gap, worst_estimate = 0.0, 0.0
    grid = np.geomspace(sc.factors[0], sc.factors[-1], RESCALE_GRID)
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
                risk, estimate = _trained_risk(theta_s, theta_t, X, depth, sc.width, seed)
                tr.append(risk)
                worst_estimate = max(worst_estimate, estimate)
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
        f"$d$ = {sc.d}, $n$ = {n}, width {sc.width}, $\\theta_T = \\theta_S + 0.3\\zeta$; "
        f"{sc.seeds} design(s)",
        "rescaling factor $\\kappa$",
        "excess risk $R(w)$",
        series,
        xscale="log",
        yscale="log",
    )
    return FigureData(
        "rescale",
        "Figure 2b: rescaling $\\theta_S$ or $\\theta_T$ by $\\kappa$ with $N = 7$ layers",
        [panel],
        {
            "d": sc.d,
            "n": n,
            "depth": depth,
            "hidden_width": sc.width,
            "factors": list(sc.factors),
            "seeds": sc.seeds,
            "designs": list(range(sc.seeds)),
            "training": "numeric.deep_linear.fine_tune(X, X @ theta_T, balanced_weights("
            f"theta_S, uniform_widths(d, {sc.width}, 7), k), tol={FIGURE_TOL:g}) with "
            "theta_S or theta_T multiplied by kappa",
            "seeding": "design k: numpy default_rng(k) gives theta_S, theta_T, then the n x d "
            "inputs, in that order",
        },
        {
            "max_rel_gap_training_vs_theory": worst_gap,
            "max_training_error_estimate": worst_estimate,
        },
    )


#: A frozen run "ends at the saddle" when its β = ⟨w, θ_S⟩ is ≤ this (rounding of a flow
#: that shrinks β towards 0; real minimisers have |β| ~ ‖θ_T‖ ~ 1).
SADDLE_BETA = 1e-6
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
    Training: gradient flow (fine_tune's adaptive integrator, strict: a run that does not
    converge raises) from the balanced weights. With W_1 frozen, balance of the trainable
    layers is conserved, so β = ⟨w, θ_S⟩ keeps its sign: a draw whose best β (the floor's)
    is negative is driven to the saddle β = 0 instead, where the ratio is ‖θ_T‖²/floor
    (summary ``frozen_runs_at_the_saddle_beta_0``; still ≥ 1, as D6 says).
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
    worst_gap, at_saddle = 0.0, 0
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
                X, y, [w.copy() for w in weights], trainable=mask, rtol=FROZEN_RTOL
            )
            at_saddle += float(frozen.end_to_end @ theta_s) <= SADDLE_BETA
            frozen_x.append(float(n))
            frozen_ratio.append(float(np.sum((frozen.end_to_end - theta_t) ** 2)) / floor)
            if n == ns[-1]:
                last_ratio.append(frozen_ratio[-1])
            if n >= d:  # least squares is θ_T itself: risk 0, not drawn on the log axis
                continue
            w_full = ndl.fine_tune(X, y, [w.copy() for w in weights], tol=FIGURE_TOL).end_to_end
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
        f"$N$ = {depth}, width {width}, $d$ = {d}, $\\theta_T = \\theta_S + {FREEZE_EPS:g}\\zeta$; "
        f"one point per draw, {draws} draws (the same for every $n$)",
        "target samples $n$",
        "risk / floor $\\min_\\beta R(\\beta\\theta_S)$",
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
            "frozen_runs_at_the_saddle_beta_0": at_saddle,
        },
    )
