"""Claims of docs/theory.md §2 (deep linear networks, D1–D6): closed form versus training.

Training is on the layer matrices (numeric.deep_linear): plain gradient descent, or
gradient flow integrated by an adaptive method (DOP853, or Radau when κ(XXᵀ) is large) —
from balanced rank-one weights on the invariant set of the flow, the embedded width-one
chain (its own claim, D3-invariant-set, checks it against the full-matrix flow), or the
fixed-step RK4 where a claim studies the integrator's order. Strategies
(:mod:`verify.strategies`) cover the hypothesis space of D3: d up to 400 (1000 in
``thorough``), n from 1 to d − 1, κ(Σ) up to 100, depth 1 to 50, hidden widths 1 to d,
‖θ_S‖ over four decades and θ_S at any angle to the row space of X, including inside it;
claims that train full layer matrices from unbalanced weights stay smaller and say so in
their domain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

import numeric.data as nd
import numeric.deep_linear as ndl
import symbolic.deep_linear as sdl
from finetune_theory.checks import FloatArray
from verify.claim import (
    SEED_RULE,
    Claim,
    Curve,
    Oracle,
    Outcome,
    Rule,
    Tolerance,
    above,
    at_least,
    check_rules,
    relative_error,
    rules,
)
from verify.linear import ROW_FRACTION_RULE, SPECTRUM_RULES, TEACHER_RULES, spectrum_of
from verify.strategies import (
    INDEPENDENT,
    MAX_D_THOROUGH,
    SEEDS,
    SPECTRA,
    condition_numbers,
    dimensions,
    place_source,
    row_fractions,
    sample_sizes,
)

# --------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------

FLOW_ESTIMATE = Tolerance(
    "flow-error-estimate",
    10.0,
    "the adaptive flow reports an error estimate |w - w_coarse| (a second run at a 10x "
    "looser local tolerance: the coarse run's error, which exceeds the fine run's) plus the "
    "remaining Newton distance |X^+(Xw - y)|; the closed form must lie within 10x that "
    "estimate plus a floor of 1e-10 + 1e-13 kappa(X) relative (the closed form's own "
    "rounding through X^+); for depths 2-20 the float solve of c must also match the exact "
    "CRootOf to 1e-13 max(1, |ln c|) (Newton's error plus forming A, B, C)",
)
#: Relative floor of :data:`FLOW_ESTIMATE` before the κ(X) term: the flows' target tol.
FLOW_FLOOR = 1e-10
SLOPE = Tolerance(
    "convergence-order",
    0.2,
    "error = a h^p + O(h^(p+1)): the log-log slope fitted over h, h/2, h/4 deviates from the "
    "order p by O(h b/a); 0.2 is met once h is in the asymptotic range, which half the "
    "default step and below are",
)
DRIFT_MAX = 1e-6
#: Fewest fixed RK4 steps over the horizon at the coarsest step of the drift-order fit
#: (with 1-3 steps the steps made to divide the horizon are far from halving each other).
MIN_DRIFT_STEPS = 8
MAX_DRIFT_STEPS = 400
DRIFT_ORDER_MIN = 1e-9
#: Trajectory differences below this (relative) are rounding: the order is not fitted.
TRAJECTORY_ORDER_MIN = 1e-10
#: RK4's measured trajectory order may fall short of 4 by this much (h*lambda = 0.2 is
#: pre-asymptotic for some settings: differences ratio 8-12 instead of 16).
TRAJECTORY_ORDER_SLACK = 1.0
CONSERVED = Tolerance(
    "rk4-drift-order",
    1.0,
    "ratio to the worst part: the exact flow conserves W_(j+1)^T W_(j+1) - W_j W_j^T, RK4 "
    "drifts by O(h^4) or faster; with fixed steps (h*lambda = 0.2, 0.1, 0.05, at least 8 and "
    "at most 400 steps over the horizon), when the drift at 0.1 exceeds 1e-9 (clear of "
    "accumulated rounding) its order between 0.1 and 0.05 must be >= 4 - 0.6 (a drift "
    "tending to a non-zero constant fails it; 0.2 is pre-asymptotic for some settings and "
    "only drawn in the report's curve), otherwise the drift at 0.05 must be below 1e-6 "
    "relative (its size in stiff settings, n -> d, is set by the RK4 constant, not the law); "
    "and the integrator's order is measured, not assumed: successive differences of the "
    "end-to-end weights at the three steps (when above 1e-10 relative) must shrink at order "
    ">= 4 - 1",
)
PROBE_SCALE = 0.05
PRETRAIN_TARGETS = (1e-4, 3e-5, 1e-5)
#: A gap below this multiple of the imbalance (at the smallest imbalance) is linear already.
IMBALANCE_SIGNIFICANT = 0.02
IMBALANCE_LAW = Tolerance(
    "linear-in-imbalance",
    0.25,
    "the closed form is smooth in the initial weights, so the gap is O(imbalance): the "
    "log-log slope of gap vs imbalance at 1e-4, 3e-5, 1e-5 must be >= 1 - 0.25 (measured "
    "0.95-1.03 typically, up to 1.26 where the linear coefficient nearly cancels), measured "
    "between the end points (gap/imbalance must not grow by more than 10^0.25 from 1e-4 to "
    "1e-5) unless the gap at 1e-5 is below 0.02 x the imbalance, itself a linear law (there "
    "the linear coefficient nearly cancels and the tiny gaps wander: found d = 2, n = 1, "
    "alpha = -2, ratio 0.004; gap/imbalance itself is scale-dependent, 2.6 at "
    "|theta_S| = 10, and not bounded); the widened "
    "search found pre-asymptotic slopes of 0.70 at 1e-2..1e-3 (d = 3, n = 1) and 0.36-0.78 "
    "at 1e-3..1e-4 (theta_S 97% in the row space), each tending to 0.95-0.98 by 1e-5..1e-6, "
    "so the fit uses small imbalances; the pretraining runs DOP853 at rtol 1e-13, whose "
    "drift stays far below)",
)
ROUNDING = Tolerance(
    "float-rounding",
    1e-11,
    "an exact consequence of the theorem; only float64 rounding (~1e-16 per operation over "
    "<= 1e5 operations) and, for trained values, the flow's error (~1e-9) separate the sides",
)

#: Relative accuracy of the first-order rate constant after one Richardson step at
#: N = max(1e5, 1e3|K|/c_∞).
RATE_RTOL = 1e-3

# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeepProblem:
    """A deep-linear fine-tuning problem: sizes, depth, hidden width, teacher family, the
    input spectrum (Σ with a random eigenbasis), where θ_S sits relative to the row space of
    X (``row_fraction`` of ‖θ_S‖², −1 = independent of X) and a seed."""

    d: int
    n: int
    depth: int
    width: int
    seed: int
    source_norm: float
    alpha: float
    epsilon: float
    noise_std: float
    spectrum: str = "isotropic"
    condition: float = 1.0
    row_fraction: float = INDEPENDENT

    def validate(self) -> None:
        """What every deep-linear claim needs: sizes, depth and width ≥ 1, θ_S ≠ 0 (D2's
        balanced weights; D3 assumes it), a finite teacher with ε, σ ≥ 0, a known spectrum
        with κ ≥ 1 and θ_S independent of X or at a row-space fraction in [0, 1]. Claims
        whose theorem needs more (n < d, depth ≥ 2, ...) add claim-level rules."""
        check_rules(self, DEEP_RULES)

    def widths(self) -> list[int]:
        return ndl.uniform_widths(self.d, self.width, self.depth)

    def build(
        self,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, tuple[FloatArray, ...]]:
        """(X, y, θ_S, θ_T, balanced weights)."""
        rng = np.random.default_rng(self.seed)
        theta_s = self.source_norm * nd.random_unit_vector(self.d, rng)
        theta_t = nd.synthetic_teacher(theta_s, self.alpha, self.epsilon, rng)
        lam = nd.spectrum(self.spectrum, self.d, self.condition)  # type: ignore[arg-type]
        X = nd.sample_inputs(self.n, self.d, rng, cov=nd.cov_from_spectrum(lam, rng))
        y = X @ theta_t + self.noise_std * rng.standard_normal(self.n)
        theta_s = place_source(theta_s, X, self.row_fraction, rng)
        if self.n == 1 and self.row_fraction >= 1.0 - 1e-9 and float(X @ theta_s @ y) < 0.0:
            # θ_S in a one-dimensional row space with Xθ_S of the opposite sign to y: w would
            # have to pass through the saddle w = 0, excluded by D3's hypothesis; orient it.
            theta_s = -theta_s
        if self.depth > SADDLE_DEPTH:
            theta_s = orient_source(X, y, theta_s)
        return X, y, theta_s, theta_t, ndl.balanced_weights(theta_s, self.widths(), rng)


DEEP_RULES: tuple[Rule, ...] = (
    at_least("d", 1),
    at_least("n", 1),
    at_least("depth", 1),
    at_least("width", 1),
    SEED_RULE,
    above("source_norm", 0.0, "theta_S != 0"),
    *TEACHER_RULES,
    *SPECTRUM_RULES,
    ROW_FRACTION_RULE,
)
#: D3's hypothesis n < d (X of full row rank almost surely).
INTERPOLATION = Rule("n, d", lambda p: p.n < p.d, "n < d (D3: interpolation)")
#: D3 excludes a flow through w = 0: with y = 0 and θ_S in the row space the limit is w = 0.
NOT_SADDLE = Rule(
    "alpha, epsilon, noise_std, row_fraction",
    lambda p: (
        p.alpha != 0 or p.epsilon > 0 or p.noise_std > 0 or (p.row_fraction < 1.0 and p.n < p.d)
    ),
    "y != 0 (alpha, epsilon or noise_std non-zero) unless theta_S leaves the row space "
    "(row_fraction < 1, n < d): else the flow ends at the saddle w = 0 (D3 excludes it)",
)
#: The claims that train to D3's limit: interpolation, away from the saddle.
D3_RULES = (INTERPOLATION, NOT_SADDLE)


def min_depth(depth: int, why: str) -> Rule:
    """depth >= ``depth``, with the reason."""
    return at_least("depth", depth, why)


#: Above this depth a target whose row-space part opposes θ_S's is not trainable in
#: practice: w must pass near the saddle w = 0, where ‖w‖ ≥ ‖(I − P)w‖ = c‖(I − P)θ_S‖ gives
#: only ‖w‖ ≥ (B/A)^{N/2}‖θ_S‖ and the flow's speed ~‖w‖^{2−2/N} makes the escape time grow
#: like (A/B)^N (found by the widened search: d = 2, n = 1, N = 50 stalls at flow time
#: 1.5e16). D3 assumes convergence, so such settings are outside its hypothesis; the
#: strategies keep negative alignment (α < 0, θ_T = −θ_S) at depths up to this one.
SADDLE_DEPTH = 8


def orient_source(X: FloatArray, y: FloatArray, theta_s: FloatArray) -> FloatArray:
    """±θ_S with ⟨Pθ_S, X⁺y⟩ ≥ 0: the row-space part need not reverse through w ≈ 0."""
    coords = np.linalg.lstsq(X.T, theta_s, rcond=None)[0]  # Pθ_S = Xᵀ coords
    target = np.linalg.lstsq(X, y, rcond=None)[0]  # X⁺y
    return -theta_s if float((X.T @ coords) @ target) < 0.0 else theta_s


def widest_chain(d: int, depth: int) -> int:
    """The largest hidden width w <= d whose uniform chain [d, w, ..., w, 1] of ``depth``
    layers has at most ``numeric.deep_linear.MAX_PARAMETERS`` entries (the trainer refuses
    larger chains), i.e. d·w + (depth − 2)·w² + w <= MAX_PARAMETERS."""
    if depth <= 1:
        return d

    def entries(w: int) -> int:
        return d * w + (depth - 2) * w * w + w

    a, b, cap = depth - 2, d + 1, ndl.MAX_PARAMETERS
    w = cap // b if a == 0 else int((-b + math.sqrt(b * b + 4 * a * cap)) / (2 * a))
    w = max(1, min(d, w))
    while w > 1 and entries(w) > cap:
        w -= 1
    return w


@st.composite
def deep_problems(
    draw: st.DrawFn,
    min_depth: int = 1,
    max_depth: int = 50,
    max_d: int = 400,
    max_condition: float = 100.0,
    max_width: int | None = None,
    angles: str = "all",
    max_ratio: float = 1.0,
    alphas: tuple[float, float] = (-2.0, 2.0),
    log_norms: tuple[float, float] = (-2.0, 2.0),
    trained_depth: int = 0,
) -> DeepProblem:
    """Deep problems over D3's hypothesis space (see the module docstring).

    n: 1 to d − 1 (:func:`sample_sizes`), or 1 to ``max_ratio``·d when that is below 1.
    Depth: 1 to ``max_depth`` (the ends and small depths drawn often); hidden width 1 to
    min(d, ``max_width``) and to :func:`widest_chain` of the deepest chain trained (the drawn
    depth, or ``trained_depth`` when the check trains deeper chains); ‖θ_S‖ log-uniform in
    10^``log_norms`` ([1e-2, 1e2]);
    θ_T = αθ_S + εζ with α in ``alphas`` (default [−2, 2]); ``angles``: "all" draws θ_S's
    row-space fraction from :func:`row_fractions`, "open" from (1e-3, 1 − 1e-3) or
    independent of X (both Pθ_S and (I − P)θ_S non-zero), "independent" keeps θ_S
    independent of X. (:meth:`DeepProblem.build` orients a θ_S lying in a one-dimensional
    row space so that the flow need not cross the saddle w = 0, which D3's hypothesis excludes.)
    """
    d = draw(dimensions(max_d, min_d=2))
    n = (
        draw(sample_sizes(d))
        if max_ratio >= 1.0
        else draw(st.integers(1, max(1, int(max_ratio * d))))
    )
    depth = draw(
        st.one_of(st.integers(min_depth, min(max_depth, 6)), st.integers(min_depth, max_depth))
    )
    top_width = d if max_width is None else max(1, min(d, max_width))
    top_width = min(top_width, widest_chain(d, max(depth, trained_depth)))
    if angles == "all":
        fraction = draw(row_fractions())
    elif angles == "open":
        fraction = draw(st.one_of(st.just(INDEPENDENT), st.floats(1e-3, 1.0 - 1e-3)))
    else:
        fraction = INDEPENDENT
    return DeepProblem(
        d=d,
        n=n,
        depth=depth,
        width=draw(st.integers(1, top_width)),
        seed=draw(SEEDS),
        source_norm=draw(st.floats(*log_norms).map(lambda e: float(10.0**e))),
        alpha=draw(st.floats(*alphas)),
        epsilon=draw(st.floats(0.05, 1.0)),  # θ_T ≠ 0, so X⁺y ≠ 0 almost surely
        noise_std=draw(st.sampled_from([0.0, 0.1])),
        spectrum=draw(st.sampled_from(SPECTRA)),
        condition=draw(condition_numbers(max_condition)),
        row_fraction=fraction,
    )


DEEP_DOMAIN = (
    "d 2-400 (tiered; thorough 1000), n 1..d-1, depth 1-50, hidden width 1..d, "
    "|theta_S| 1e-2..1e2, theta_S independent of X or with a fraction 0, 1e-12, any, "
    "1-1e-12 or 1 of its norm^2 in the row space, theta_T = alpha theta_S + eps zeta "
    "(alpha in [-2, 2]), Sigma isotropic/power-law/spiked/two-level with kappa 1-100, "
    "noise 0 or 0.1"
)


def describe_deep(p: DeepProblem) -> dict[str, float | str]:
    """n/d for the coverage map."""
    return {"n/d": p.n / p.d}


#: Target accuracy of the claims' adaptive flows (‖w − w_flow(∞)‖/‖w‖). Each flow reports
#: its own error estimate, which sets the claim's threshold; 1e-8 keeps stiff settings
#: (n → d, κ(Σ) = 100: Radau, ~tol^(−1/5) steps per decay time) affordable while any error
#: in a closed form shows up many orders of magnitude above it.
CLAIM_TOL = 1e-8


def estimate_of(run: ndl.DeepResult) -> float:
    """``run.error_estimate`` of a strict adaptive run, which always carries one (None only
    for GD, RK4, estimate_error=False and unconverged runs: a verifier bug here)."""
    if run.error_estimate is None:
        raise AssertionError(f"the {run.method} run carries no error estimate")
    return run.error_estimate


def flow_with_estimate(
    weights: tuple[FloatArray, ...], X: FloatArray, y: FloatArray, require_balance: bool = False
) -> tuple[FloatArray, float]:
    """The adaptive flow limit and its error estimate ‖w − w_coarse‖ (absolute; from a second
    run at a 10× looser integrator tolerance, plus the remaining Newton distance)."""
    run = ndl.fine_tune(
        X, y, weights, solver="flow", require_balance=require_balance, tol=CLAIM_TOL
    )
    return run.end_to_end, estimate_of(run) * float(np.linalg.norm(run.end_to_end))


def flow_threshold(estimate: float, scale: float, cond: float = 1.0) -> float:
    """Relative tolerance for a flow limit: 10× its error estimate plus the floor
    1e-10 + 1e-13·κ(X) (see :data:`FLOW_ESTIMATE`)."""
    return FLOW_ESTIMATE.bound * estimate / scale + FLOW_FLOOR + 1e-13 * cond


def _nested(value: DeepProblem | dict[str, Any]) -> DeepProblem:
    """A nested problem given as a dataclass or as its JSON dict (reproduce commands)."""
    return value if isinstance(value, DeepProblem) else DeepProblem(**value)


# --------------------------------------------------------------------------------------
# D1
# --------------------------------------------------------------------------------------


def _slope(hs: list[float], errs: list[float]) -> float:
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


def check_one_step(p: DeepProblem) -> Outcome:
    """One GD step of size η on the layers moves w by ηẇ(D1) + O(η²): fit the order."""
    X, y, theta_s, _, weights = p.build()
    g = X.T @ (X @ theta_s - y) / p.n
    velocity = sdl.end_to_end_velocity(theta_s, g, p.depth)
    base = ndl.fine_tune(X, y, weights, solver="gd", max_steps=0, strict=False).step
    hs = [base * f for f in (0.5, 0.25, 0.125)]
    errs = []
    for h in hs:
        moved = ndl.fine_tune(X, y, weights, solver="gd", step=h, max_steps=1, strict=False)
        errs.append(float(np.linalg.norm(moved.end_to_end - theta_s - h * velocity)))
    eps = float(np.finfo(np.float64).eps)
    grads = gradient_check(weights, X, y, p.seed)
    if max(errs) <= 64 * eps * float(np.linalg.norm(theta_s) + np.linalg.norm(h * velocity)):
        # The remainder is at rounding level: N = 1 (GD is exactly linear) or a vanishing η²
        # term (θ_S ⊥ rowspace(X): the second layer's gradient W_1g is 0).
        return Outcome.combine(
            {"remainder at rounding level": (0.0, SLOPE.bound), "layer_gradients": grads},
            2.0,
            2.0,
            note=f"errors {errs}",
        )
    slope = _slope(hs, errs)
    curve = Curve(tuple(hs), tuple(errs), "GD step eta", "|w(eta) - w0 - eta w_dot|", 2.0)
    # One-sided: D1 is the first-order term, so the remainder is O(η²) or smaller; a slope
    # above 2 (the η² coefficient vanishes, e.g. θ_S orthogonal to the row space, where
    # ŵᵀg = 0) is still agreement, a wrong velocity leaves an O(η) remainder (slope 1).
    return Outcome.combine(
        {
            "remainder order short of 2": (max(0.0, 2.0 - slope), SLOPE.bound),
            "layer_gradients vs central differences of the loss": grads,
        },
        2.0,
        slope,
        note=f"errors {errs}",
        curve=curve,
    )


#: Central differences of the loss along random layer directions, step h = 1e-5 relative:
#: truncation ~(N h)^2 <= 2.5e-7 (N <= 50) and rounding ~eps |L|/h; allowed 1e-5 of
#: |G||E| + 1e-7 |L|/h (a wrong gradient, a transpose or a factor, is off by O(1)).
GRADIENT_CHECK_STEP = 1e-5
GRADIENT_CHECK_RTOL = 1e-5


def gradient_check(
    weights: Sequence[FloatArray], X: FloatArray, y: FloatArray, seed: int
) -> tuple[float, float]:
    """(error, threshold) of ndl.layer_gradients against central differences of
    L(W) = (1/2n)|X (W_N ... W_1)^T - y|^2, the product formed here (not by the package),
    along one random direction per layer: the worst relative discrepancy."""
    rng = np.random.default_rng([seed, 11])
    n = X.shape[0]

    def loss(ws: Sequence[FloatArray]) -> float:
        prod = ws[0]
        for W in ws[1:]:
            prod = W @ prod
        r = X @ prod.ravel() - y
        return 0.5 * float(r @ r) / float(n)

    grads, _ = ndl.layer_gradients(X, y, weights)
    worst = 0.0
    base = abs(loss(weights))
    for j, W in enumerate(weights):
        E = rng.standard_normal(W.shape)
        h = GRADIENT_CHECK_STEP * max(float(np.linalg.norm(W)), 1e-300) / float(np.linalg.norm(E))

        up = [*weights[:j], W + h * E, *weights[j + 1 :]]
        down = [*weights[:j], W - h * E, *weights[j + 1 :]]
        fd = (loss(up) - loss(down)) / (2.0 * h)
        scale = float(np.linalg.norm(grads[j]) * np.linalg.norm(E)) + 1e-7 * base / h
        worst = max(worst, abs(fd - float(np.sum(grads[j] * E))) / max(scale, 1e-300))
    return worst, GRADIENT_CHECK_RTOL


D1_ONE_STEP = Claim(
    name="D1-one-step",
    statement="one layer-wise GD step moves w by -eta |w|^(2-2/N)(g + (N-1) w^ w^T g) + O(eta^2)",
    source="docs/theory.md D1",
    oracle=Oracle.SYMBOLIC_IDENTITY,
    tolerance=SLOPE,
    setting_type=DeepProblem,
    strategy=deep_problems(min_depth=2, max_width=200),
    check=check_one_step,
    examples=25,
    thorough_strategy=deep_problems(min_depth=2, max_width=200, max_d=MAX_D_THOROUGH),
    domain=DEEP_DOMAIN.replace("depth 1-50", "depth 2-50").replace(
        "hidden width 1..d", "hidden width 1..min(d, 200)"
    )
    + "; steps 1/2, 1/4, 1/8 of the default GD step",
    describe=describe_deep,
    validate=rules(min_depth(2, "a deep chain: at depth 1 one GD step is exactly linear")),
)


@dataclass(frozen=True)
class BalanceSetting:
    """Random (unbalanced) initial weights trained by the RK4 flow up to time ``horizon``."""

    problem: DeepProblem
    init_scale: float
    horizon: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "problem", _nested(self.problem))

    def validate(self) -> None:
        """The problem's rules with depth ≥ 2 (the conserved W_(j+1)ᵀW_(j+1) − W_jW_jᵀ
        needs two layers), a positive initial scale and a positive horizon."""
        check_rules(self.problem, (*DEEP_RULES, TWO_LAYERS), "problem.")
        check_rules(
            self,
            (
                above("init_scale", 0.0, "random non-zero weights"),
                above("horizon", 0.0, "a flow time"),
            ),
        )


TWO_LAYERS = min_depth(2, "at least two layers")


def _imbalance_matrices(weights: tuple[FloatArray, ...]) -> list[FloatArray]:
    return [
        weights[j + 1].T @ weights[j + 1] - weights[j] @ weights[j].T
        for j in range(len(weights) - 1)
    ]


def check_balance_conserved(s: BalanceSetting) -> Outcome:
    """The drift of W_{j+1}ᵀW_{j+1} − W_jW_jᵀ over [0, T] vanishes as h → 0 at RK4's order 4.

    The exact flow conserves the matrices; RK4 drifts by O(h⁴) (often O(h⁵): the leading
    term of a quadratic invariant's drift can cancel). Fixed steps h = cfl/λ̂(start) make
    the three runs differ only in h (adaptive steps and a clipped last step add noise to the
    fitted order). The drift at the finest step must be
    tiny, and where the integrator's drift stands clear of rounding (coarsest drift above
    DRIFT_ORDER_MIN) its fitted order must be that of RK4 — evidence that it is integrator
    error, not a property of the flow. Below that, accumulated rounding (~1e-13 over
    thousands of steps) makes the fitted order meaningless and it is not checked.
    """
    X, y, *_ = s.problem.build()
    weights = ndl.random_weights(s.problem.widths(), s.init_scale, s.problem.seed)
    before = _imbalance_matrices(weights)
    scale = max(float(np.sum(W**2)) for W in weights)
    cfls = [0.2, 0.1, 0.05]
    # A probe at the coarsest step: at most MAX_DRIFT_STEPS steps (stiff random chains with
    # large gains would need 10⁴+ steps per run: the horizon is then shortened to what the
    # probe reached), at least MIN_DRIFT_STEPS (a short horizon: the steps are refined).
    probe = ndl.fine_tune(
        X,
        y,
        weights,
        solver="flow",
        flow_cfl=cfls[0],
        max_time=s.horizon,
        fixed_step=True,
        strict=False,
        max_steps=MAX_DRIFT_STEPS,
    )
    horizon = s.horizon if probe.steps < MAX_DRIFT_STEPS else probe.time
    if probe.steps < MIN_DRIFT_STEPS:
        cfls = [c * probe.steps / MIN_DRIFT_STEPS for c in cfls]
    drifts, hs, ends = [], [], []
    for cfl in cfls:
        run = ndl.fine_tune(
            X,
            y,
            weights,
            solver="flow",
            flow_cfl=cfl,
            max_time=horizon,
            fixed_step=True,
            strict=False,
        )
        after = _imbalance_matrices(run.weights)
        # The actual step: made to divide the horizon, so not cfl/λ̂ (run.step is the last,
        # possibly clipped, step).
        hs.append(horizon / max(run.steps, 1))
        ends.append(ndl.end_to_end(run.weights))
        drifts.append(
            max(float(np.linalg.norm(a - b)) for a, b in zip(after, before, strict=True)) / scale
        )
    # The order from the two finest steps: at h·λ̂ = 0.2 RK4 is still pre-asymptotic for some
    # settings (drift ratio 5-8 instead of 16 from 0.2 to 0.1); 0.2 stays in the curve.
    # The slope is fitted against the steps actually taken (a short horizon of a few steps
    # makes them differ from the nominal halving: 2, 3, 5 steps are ratios 1.5 and 1.67).
    order = _slope(hs[1:], [max(x, 1e-300) for x in drifts[1:]])
    if drifts[1] > DRIFT_ORDER_MIN:  # integrator error clear of rounding: its order
        parts = {"drift order short of RK4's 4": (max(0.0, 4.0 - order), 0.6)}
    else:  # at rounding level: the drift itself must be tiny
        parts = {"drift at h/4": (drifts[-1], DRIFT_MAX)}
    # The integrator's own order, measured on the trajectory: successive differences of the
    # end-to-end weights at h, h/2, h/4 shrink like h^4 for RK4 (a stage from a wrong slope
    # leaves order 2 and would let every RK4 tolerance grow with the error it should bound).
    e1 = float(np.linalg.norm(ends[0] - ends[1]))
    e2 = float(np.linalg.norm(ends[1] - ends[2]))
    size = float(np.linalg.norm(ends[-1]))
    trajectory_order = math.nan
    if e2 > TRAJECTORY_ORDER_MIN * size:
        trajectory_order = math.log(e1 / e2) / math.log(hs[0] / hs[1])
        parts["trajectory order short of RK4's 4"] = (
            max(0.0, 4.0 - trajectory_order),
            TRAJECTORY_ORDER_SLACK,
        )
    return Outcome.combine(
        parts,
        4.0,
        order,
        note=f"drifts {drifts}, trajectory order {trajectory_order:.3g}",
        curve=Curve(tuple(hs), tuple(drifts), "RK4 step h", "relative imbalance drift", 4.0),
    )


D1_BALANCE = Claim(
    name="D1-balance-conserved",
    statement="gradient flow on the layers conserves W_(j+1)^T W_(j+1) - W_j W_j^T "
    "(so balanced weights stay balanced)",
    source="docs/theory.md D1 (Arora, Cohen, Hazan 2018)",
    oracle=Oracle.TRAINING,
    tolerance=CONSERVED,
    setting_type=BalanceSetting,
    strategy=st.builds(
        BalanceSetting,
        problem=deep_problems(
            min_depth=2,
            max_depth=8,
            max_d=24,
            max_width=24,
            max_condition=10.0,
            angles="independent",
            log_norms=(-0.3, 0.3),
        ),
        init_scale=st.floats(0.3, 0.8),
        horizon=st.floats(1.0, 3.0),
    ),
    check=check_balance_conserved,
    examples=25,
    domain="random (unbalanced) full-rank weights, d 2-24, n 1..d-1, depth 2-8, widths "
    "1..min(d, 24), kappa(Sigma) 1-10, |theta_S| 0.5-2, horizon 1-3; fixed-step RK4 on all "
    "full layer matrices at three steps (cost bounds the sizes: the conservation law is "
    "size-independent)",
    describe=lambda s: describe_deep(s.problem),
)

# --------------------------------------------------------------------------------------
# D3
# --------------------------------------------------------------------------------------


#: Local tolerance of the second, loose flow run that tests the error estimate itself.
LOOSE_TOL = 1e-5
#: Central-difference step of the stationarity test, relative to |w|: truncation ~h^2 and
#: rounding ~eps/h of Q_N both stay below 1e-7 relative.
STATIONARITY_STEP = 1e-4
STATIONARITY_FLOOR = 1e-7


def regularizer_stationarity(
    w: FloatArray, theta_s: FloatArray, X: FloatArray, depth: int, w_rtol: float, seed: int
) -> tuple[float, float]:
    """(error, threshold): the trained w minimises Q_N (implicit_regularizer_value) over the
    interpolants, so its directional derivatives along null(X) vanish. Measured by central
    differences along three random null directions, relative to the gradient scale
    ((N + 1)/N)|w|^(1/N); allowed: 10x the trained w's relative error (a displacement
    delta moves the gradient by ~|Hessian| delta) plus STATIONARITY_FLOOR."""
    rng = np.random.default_rng([seed, 7])
    r = float(np.linalg.norm(w))
    h = STATIONARITY_STEP * r
    worst = 0.0
    for _ in range(3):
        raw = rng.standard_normal(w.shape[0])
        null = raw - np.linalg.lstsq(X, X @ raw, rcond=None)[0]  # (I - P) raw
        norm = float(np.linalg.norm(null))
        if norm == 0.0 or h == 0.0:
            continue
        null /= norm
        up = sdl.implicit_regularizer_value(w + h * null, theta_s, depth)
        down = sdl.implicit_regularizer_value(w - h * null, theta_s, depth)
        slope = (up - down) / (2.0 * h)
        worst = max(worst, abs(slope) / ((depth + 1) / depth * r ** (1.0 / depth)))
    return worst, 10.0 * w_rtol + STATIONARITY_FLOOR


def check_flow_limit(p: DeepProblem) -> Outcome:
    X, y, theta_s, _, weights = p.build()
    want = sdl.finetuned_end_to_end(X, y, theta_s, p.depth)
    run = ndl.fine_tune(X, y, weights, solver="flow", require_balance=True, tol=CLAIM_TOL)
    w = run.end_to_end
    scale = float(np.linalg.norm(want))
    estimate = estimate_of(run) * float(np.linalg.norm(w))
    parts = {
        "trained vs closed form": (
            relative_error(w, want),
            flow_threshold(estimate, scale, spectrum_of(X)[2]),
        )
    }
    note = f"{run.method}, error estimate {estimate / scale:.2g}, {run.evaluations} evals"
    # The error estimate must be honest where it matters: a run at a loose tolerance (its
    # error far above the floor) must land within 10x its own estimate of the closed form.
    loose = ndl.fine_tune(X, y, weights, solver="flow", require_balance=True, tol=LOOSE_TOL)
    w_loose = loose.end_to_end
    parts[f"tol {LOOSE_TOL:g} run within 10x its own error estimate"] = (
        relative_error(w_loose, want),
        flow_threshold(estimate_of(loose) * float(np.linalg.norm(w_loose)), scale, 1.0),
    )
    parts["trained w stationary for Q_N on {Xw = y}"] = regularizer_stationarity(
        w, theta_s, X, p.depth, parts["trained vs closed form"][1], p.seed
    )
    if 2 <= p.depth <= ROOTOF_MAX_DEPTH:
        # The exact algebraic root (CRootOf of A s^N - B s^(N-1) - C, SymPy) against the
        # float solve; on the B = 0 branch (theta_S in the row space) against the root at
        # B = 1e-30 A, which c is continuous in (it moves c by ~1e-30 relative).
        # Both at theta_S and at its row-space part P theta_S (B = 0: the branch is
        # exercised in every example, not only where the setting puts theta_S in the row space).
        row_part = np.linalg.lstsq(X, X @ theta_s, rcond=None)[0]
        for label, source in (("", theta_s), (" at P theta_S (B = 0 branch)", row_part)):
            if not np.any(source):
                continue
            A, B, C = sdl.scale_inputs(X, y, source)
            if C > 0 and A > 0:
                exact = sdl.scale_factor_rootof(A, max(B, 1e-30 * A), C, p.depth)
                c_exact = float(exact.evalf(30))
                c = sdl.scale_factor(X, y, source, p.depth)
                parts["CRootOf vs float solve of c" + label] = (
                    abs(c / c_exact - 1.0),
                    ROOTOF_RTOL * max(1.0, abs(math.log(c_exact))),
                )
                if not label:
                    note += f", c = {c:.12g}" + (" (B = 0 branch)" if B == 0 else "")
    return Outcome.combine(parts, scale, float(np.linalg.norm(w)), note=note)


#: Depths at which D3-flow-limit also checks the scale factor against its exact CRootOf
#: (a degree-N polynomial with the inputs' exact binary rationals: milliseconds to N = 20).
ROOTOF_MAX_DEPTH = 20
#: The float solve's error: ~4 eps max(1, |ln c|) from the Newton iteration, plus the
#: rounding of forming A, B, C from the same ratios (a few eps, halved by d ln c/d ln k).
ROOTOF_RTOL = 1e-13


D3_FLOW = Claim(
    name="D3-flow-limit",
    statement="gradient flow on all layers from balanced weights converges to "
    "w = X^+y + c(I-P)theta_S with c the positive root of "
    "|theta_S|^2 c^(2N/(N-1)) - |(I-P)theta_S|^2 c^2 = |X^+y|^2",
    source="docs/theory.md D3",
    oracle=Oracle.TRAINING,
    tolerance=FLOW_ESTIMATE,
    setting_type=DeepProblem,
    strategy=deep_problems(),
    check=check_flow_limit,
    examples=25,
    thorough_strategy=deep_problems(max_d=MAX_D_THOROUGH),
    domain=DEEP_DOMAIN,
    describe=describe_deep,
    validate=rules(*D3_RULES),
)


INVARIANT = Tolerance(
    "integrator-tolerances",
    1.0,
    "ratio to the worst part: the reduced (width-one chain) flow and the plain full-matrix "
    "flow are two integrations of one trajectory, so their end-to-end limits differ by at "
    "most 10x the sum of their error estimates plus 1e-10; the full flow's final layers are "
    "rank one (relative residual <= 1e-8: exact for the flow, the integrator's error "
    "leaves ~its local tolerance) and equal the embedded reduced weights within the same "
    "bound",
)


def check_invariant_set(p: DeepProblem) -> Outcome:
    """The structural fact behind the fast flow, against the plain computation."""
    X, y, _, _, weights = p.build()
    reduced = ndl.fine_tune(X, y, weights, tol=CLAIM_TOL)
    full = ndl.fine_tune(X, y, weights, reduce=False, integrator="dop853", tol=CLAIM_TOL)
    scale = float(np.linalg.norm(full.end_to_end))
    est = (estimate_of(reduced) + estimate_of(full)) * scale
    bound = 10.0 * est + 1e-10 * scale  # 10x the two runs' error estimates (INVARIANT)
    gap = float(np.linalg.norm(reduced.end_to_end - full.end_to_end))
    layers = max(
        float(np.linalg.norm(a - b)) / max(float(np.linalg.norm(b)), 1e-300)
        for a, b in zip(reduced.weights, full.weights, strict=True)
    )
    rank = ndl.rank_one_residual(full.weights)
    return Outcome.combine(
        {
            "end-to-end limits agree": (gap, bound),
            "full flow stays rank one": (rank, 1e-8),
            "layers equal the embedded chain": (layers, 1e-8 + 10.0 * est / scale),
        },
        float(np.linalg.norm(reduced.end_to_end)),
        scale,
        note=f"{reduced.method} vs {full.method}; rank-one residual {rank:.2g}",
    )


D3_INVARIANT = Claim(
    name="D3-invariant-set",
    statement="gradient flow on all full layer matrices from balanced rank-one weights stays "
    "on the rank-one set {W_1 = v_1 u^T, W_j = s_j v_j v_(j-1)^T}: it is the embedded flow "
    "of the width-one chain that the fast trainer integrates (same limit, same layers)",
    source="docs/theory.md D2-D3 (structure of the flow; the fast path's own claim)",
    oracle=Oracle.TRAINING,
    tolerance=INVARIANT,
    setting_type=DeepProblem,
    strategy=deep_problems(
        max_d=16,
        max_depth=5,
        max_width=8,
        max_condition=10.0,
        log_norms=(-1.0, 1.0),
        max_ratio=0.75,
    ),
    check=check_invariant_set,
    examples=25,
    domain="d 2-16, n 1..3d/4, depth 1-5, hidden width 1..min(d, 8), kappa(Sigma) 1-10, "
    "|theta_S| 0.1-10, "
    "theta_S at any angle to the row space (full-matrix DOP853 on every layer, ~N kappa(XX^T) "
    "steps, bounds the sizes and n/d: it is the slow reference path)",
    describe=describe_deep,
    validate=rules(NOT_SADDLE),
)


#: Richardson errors at most this fraction of the GD errors: the O(η) term cancelled.
RICHARDSON_CANCEL = 1e-3
#: GD errors below this at every step mean GD has no O(η) bias to fit (stopping rule
#: rtol 1e-13 times κ ≲ 1e-11, plus rounding).
GD_EXACT = 1e-9


def check_gd_rate(p: DeepProblem) -> Outcome:
    """GD lands O(η) from the flow limit; one Richardson step makes it O(η²).

    Steps η/2 … η/16 of the default step keep the fit in the asymptotic range (at the default
    step the η² and η³ terms of the Richardson error can still cancel)."""
    X, y, theta_s, _, weights = p.build()
    want = sdl.finetuned_end_to_end(X, y, theta_s, p.depth)
    base = ndl.fine_tune(
        X, y, weights, solver="gd", max_steps=0, strict=False, curvature="bound"
    ).step
    hs = [base * f for f in (0.5, 0.25, 0.125, 0.0625)]
    # rtol 1e-13: the Richardson errors (down to ~1e-9) must stay above the stopping error.
    ends = [
        ndl.fine_tune(X, y, weights, solver="gd", step=h, rtol=1e-13, curvature="bound").end_to_end
        for h in hs
    ]
    errs = [relative_error(w, want) for w in ends]
    if max(errs) <= GD_EXACT:
        # No O(η) bias to measure: GD lands on the flow's limit for every step (θ_S in the
        # row space: (I − P)w stays 0 and both limits are X⁺y). Agreement is the check.
        return Outcome(
            max(errs) / GD_EXACT, 1.0, 0.0, max(errs), note=f"GD exact at every step: {errs}"
        )
    rich = [relative_error(2 * ends[i + 1] - ends[i], want) for i in range(3)]
    slope_gd = _slope(hs, errs)
    slope_rich = _slope(hs[:3], rich)
    # Below ~1e-6 the Richardson errors reach the GD runs' own stopping error (amplified 3×
    # by the combination) and stop falling (found: 1.0e-7, 1.0e-6, 3.7e-7 with GD errors
    # 6.8e-3 … 8.5e-4). Removing at least RICHARDSON_CANCEL of the O(η) error at every step
    # is then the evidence that its leading term is exactly linear in η.
    cancelled = all(r <= RICHARDSON_CANCEL * e for r, e in zip(rich, errs, strict=False))
    return Outcome.combine(
        {
            "GD order 1": (abs(slope_gd - 1.0), SLOPE.bound),
            "Richardson order below 2": (
                0.0 if cancelled else max(0.0, 2.0 - slope_rich),
                0.4,
            ),
        },
        1.0,
        slope_gd,
        note=f"GD errors {errs}, Richardson errors {rich}",
        curve=Curve(tuple(hs), tuple(errs), "GD step eta", "relative error vs D3 closed form", 1.0),
    )


D3_GD_RATE = Claim(
    name="D3-gd-rate",
    statement="plain GD on the layers lands O(eta) from the D3 closed form (slope 1); one "
    "Richardson step 2w(eta/2) - w(eta) makes it O(eta^2) (slope 2)",
    source="docs/theory.md D3, section 5",
    oracle=Oracle.TRAINING,
    tolerance=Tolerance(
        "convergence-orders",
        1.0,
        "ratio to the worst part: |GD slope - 1| <= 0.2 and Richardson slope >= 2 - 0.4 over "
        "eta/2 .. eta/16 of the default step; error = a eta^p + O(eta^(p+1)) so fitted slopes "
        "deviate by O(eta b/a) (measured over 40 settings: 0.996-1.033 and 1.91-2.31). The "
        "Richardson check is one-sided: when the eta^2 coefficient nearly cancels the eta^3 "
        "term the fitted slope exceeds 2 (seen up to 2.7), still O(eta^2) or better; and when "
        "every Richardson error is below 1e-3 of the GD error at the same step (the O(eta) "
        "term cancelled down to the runs' stopping error, where the slope is noise) it passes",
    ),
    setting_type=DeepProblem,
    strategy=deep_problems(
        min_depth=2,
        max_depth=4,
        max_d=12,
        max_width=6,
        max_condition=10.0,
        max_ratio=0.5,
        alphas=(0.5, 2.0),
        log_norms=(-0.3, 0.3),
        angles="open",
    ),
    check=check_gd_rate,
    examples=25,
    domain="d 2-12, n 1..d/2, depth 2-4, hidden width 1..min(d, 6), kappa(Sigma) 1-10, "
    "|theta_S| 0.5-2, alpha 0.5-2, theta_S with 1e-3..1-1e-3 of its norm^2 in the row space "
    "or independent of X; four GD runs to "
    "convergence at 1/2..1/16 of the default step (their step counts, ~kappa/eta with kappa "
    "the layer Hessian's condition number, which grows with depth and n/d and near the "
    "saddle w = 0, bound the sizes, depth, n/d, |theta_S| and alpha: depth 6 took up to 60 s "
    "per example)",
    describe=describe_deep,
    validate=rules(*D3_RULES, min_depth(2, "at depth 1 GD lands on the limit: no O(eta) gap")),
)


def check_pretrained(p: DeepProblem) -> Outcome:
    """From pretrained (approximately balanced) weights the gap grows ∝ imbalance.

    Gradient flow conserves the initial imbalance, which scales as init_scale², so one probe
    pretraining fixes the init scales that give relative imbalances of PRETRAIN_TARGETS
    (a regime where the gap is linear and the RK4 drift of pretraining, ~1e-7, is negligible).
    """
    X, y, theta_s, _, _ = p.build()
    probe = ndl.imbalance(ndl.pretrain(theta_s, p.widths(), p.seed, init_scale=PROBE_SCALE))
    gaps, imbalances = [], []
    for target in PRETRAIN_TARGETS:
        scale = PROBE_SCALE * math.sqrt(target / probe)
        weights = ndl.pretrain(theta_s, p.widths(), p.seed, init_scale=scale, rtol=1e-13)
        w0 = ndl.end_to_end(weights)
        want = sdl.finetuned_end_to_end(X, y, w0, p.depth)
        # The adaptive full-matrix flow (the weights are not rank one): its error (~1e-10)
        # is far below the smallest gaps measured here (~1e-5).
        run = ndl.fine_tune(X, y, weights, solver="flow", estimate_error=False)
        gaps.append(relative_error(run.end_to_end, want))
        imbalances.append(ndl.imbalance(weights))
    slope = _slope(imbalances, gaps)
    ratios = [g / i for g, i in zip(gaps, imbalances, strict=True)]
    # Sub-linear decay shows as gap/imbalance growing toward small imbalance: the slope
    # between the end points must be >= 1 − bound, unless at the smallest imbalance the gap
    # is below IMBALANCE_SIGNIFICANT × imbalance (gap ≤ 0.02δ is itself a linear law; there
    # the linear coefficient nearly cancels and the tiny gaps wander: d = 2, n = 1, α = −2
    # gave 8.5e-8, 9.3e-8, 4.4e-8 at 1e-4, 3e-5, 1e-5, not flow error: identical at tol
    # 1e-12).
    short = 0.0
    if ratios[-1] > IMBALANCE_SIGNIFICANT:
        span = math.log(imbalances[0] / imbalances[-1])
        growth = math.log(ratios[-1] / max(ratios[0], 1e-300))
        short = max(0.0, growth / span) if span > 0 else math.inf  # 1 − end-point slope
    return Outcome(
        short,
        IMBALANCE_LAW.bound,
        1.0,
        slope,
        note=f"gap/imbalance {[f'{r:.3g}' for r in ratios]}; imbalances {imbalances}; gaps {gaps}",
        curve=Curve(
            tuple(imbalances), tuple(gaps), "relative imbalance", "relative gap to D3", 1.0
        ),
    )


D3_PRETRAINED = Claim(
    name="D3-pretrained",
    statement="fine-tuning from pretrained (approximately balanced) weights departs from the "
    "balanced closed form by O(imbalance): the gap vanishes at least linearly as the "
    "imbalance goes to 0",
    source="docs/theory.md D2-D3 (measured degradation)",
    oracle=Oracle.TRAINING,
    tolerance=IMBALANCE_LAW,
    setting_type=DeepProblem,
    strategy=deep_problems(
        min_depth=2,
        max_depth=3,
        max_d=10,
        max_width=6,
        max_condition=10.0,
        angles="open",
        max_ratio=0.75,
    ),
    check=check_pretrained,
    examples=25,
    domain="d 2-10, n 1..3d/4, depth 2-3, hidden width 1..min(d, 6), kappa(Sigma) 1-10; "
    "four source pretrainings from small random initialisations per example and full-matrix "
    "fine-tuning flows (explicit, ~N kappa(XX^T) steps) bound the sizes and n/d",
    describe=describe_deep,
    validate=rules(*D3_RULES, min_depth(2, "an imbalance needs two layers")),
)

# --------------------------------------------------------------------------------------
# D4, D5
# --------------------------------------------------------------------------------------


#: The depths D4 trains (and whose closed forms it compares).
D4_DEPTHS = (2, 8, 50)


def check_depth_limit(p: DeepProblem) -> Outcome:
    """Trained c_N (from the flow) move monotonically toward c_∞ and match the closed form;
    the closed form's rate (N − 1)(c_N − c_∞) → K holds (Richardson at N ~ 1e5)."""
    X, y, theta_s, _, _ = p.build()
    theta_s = orient_source(X, y, theta_s)  # trained up to depth 50 (see SADDLE_DEPTH)
    pinv = np.linalg.pinv(X)
    null_s = theta_s - pinv @ (X @ theta_s)
    c_inf = sdl.scale_factor(X, y, theta_s, math.inf)
    depths = D4_DEPTHS
    trained, tol = [], []
    for depth in depths:
        weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(p.d, p.width, depth), p.seed)
        w, estimate = flow_with_estimate(weights, X, y)
        null_w = w - pinv @ (X @ w)
        trained.append(float(null_w @ null_s) / float(null_s @ null_s))
        # c = ⟨(I−P)w, (I−P)θ_S⟩/‖(I−P)θ_S‖²: its error is at most |δw|/‖(I−P)θ_S‖.
        bound = FLOW_ESTIMATE.bound * estimate + 1e-9 * float(np.linalg.norm(w))
        tol.append(bound / float(np.linalg.norm(null_s)))
    closed = [sdl.scale_factor(X, y, theta_s, depth) for depth in depths]
    match = max(abs(a - b) / t for a, b, t in zip(trained, closed, tol, strict=True))
    dist = [abs(c - c_inf) for c in trained]
    back = max(
        0.0,
        *((b - a) / (ta + tb) for a, b, ta, tb in zip(dist, dist[1:], tol, tol[1:], strict=False)),
    )
    K = sdl.scale_factor_limit_coefficient(X, y, theta_s)
    # The expansion c_N = c_∞ + K/(N − 1) + K₂/(N − 1)² + …: one Richardson step leaves
    # O(K₂/N²) with K₂ ~ K²/c_∞, so N must be ≫ |K|/c_∞ (θ_S nearly in the null space gives
    # |K|/c_∞ ~ 2e3: found by the widened search); N = max(1e5, 1e3|K|/c_∞).
    m = int(max(1e5, 1e3 * abs(K) / max(c_inf, 1e-300)))
    f1 = m * (sdl.scale_factor(X, y, theta_s, m + 1) - c_inf)
    f2 = 2 * m * (sdl.scale_factor(X, y, theta_s, 2 * m + 1) - c_inf)
    rate = abs(2 * f2 - f1 - K) / max(abs(K), 1e-9 * (1 + c_inf))
    return Outcome.combine(
        {
            "trained c_N vs closed form (in flow tolerances)": (match, 1.0),
            "c_N moving away from c_inf (in flow tolerances)": (back, 1.0),
            "rate (N-1)(c_N - c_inf) -> K": (rate, RATE_RTOL),
        },
        c_inf,
        trained[-1],
        note=f"trained c_N at N = {depths}: {trained}, c_inf {c_inf:.6g}, K {K:.4g}",
    )


D4_LIMIT = Claim(
    name="D4-depth-limit",
    statement="c_N moves monotonically toward c_inf = |X^+y|/|P theta_S| (trained c_N match the "
    "closed form) and (N-1)(c_N - c_inf) -> -A c_inf ln c_inf/(A-B)",
    source="docs/theory.md D4",
    oracle=Oracle.TRAINING,
    tolerance=Tolerance(
        "flow-accuracy+asymptotic-rate",
        1.0,
        "ratio to the worst part: trained c_N within the flow tolerance (10x its error "
        "estimate) of the closed form and never moving away from c_inf by more than "
        "that; the rate constant K to 1e-3 relative after one Richardson step in 1/(N-1) "
        "at N = max(1e5, 1e3 |K|/c_inf) (the O(K^2/(c_inf N^2)) remainder is then ~1e-6)",
    ),
    setting_type=DeepProblem,
    strategy=deep_problems(angles="open", trained_depth=max(D4_DEPTHS)),
    check=check_depth_limit,
    examples=25,
    thorough_strategy=deep_problems(
        angles="open", max_d=MAX_D_THOROUGH, trained_depth=max(D4_DEPTHS)
    ),
    domain=DEEP_DOMAIN.replace(
        "depth 1-50", "trained depths 2, 8, 50 (closed form to 2e5)"
    ).replace("1e-12, any, 1-1e-12 or 1 of its norm^2", "1e-3..1-1e-3 of its norm^2")
    + " (c_N and c_inf need both P theta_S and (I-P) theta_S non-zero)",
    describe=describe_deep,
    validate=rules(
        INTERPOLATION,
        Rule(
            "row_fraction",
            lambda p: p.row_fraction == INDEPENDENT or 0.0 < p.row_fraction < 1.0,
            f"row_fraction = {INDEPENDENT} or in (0, 1) (D4: P theta_S and (I - P) theta_S "
            "both non-zero)",
        ),
        Rule(
            "alpha, epsilon, noise_std",
            lambda p: p.alpha != 0 or p.epsilon > 0 or p.noise_std > 0,
            "not all 0 (D4: c_inf = |X^+y|/|P theta_S| > 0 needs y != 0)",
        ),
    ),
)


@dataclass(frozen=True)
class AlignedSetting:
    """θ_T = αθ_S exactly (ε = 0, no noise)."""

    d: int
    n: int
    seed: int
    alpha: float
    width: int

    def validate(self) -> None:
        """D4–D5's hypotheses: n < d, θ_T = αθ_S with α > 0; sizes and width ≥ 1."""
        check_rules(
            self,
            (
                at_least("d", 1),
                at_least("n", 1),
                INTERPOLATION,
                SEED_RULE,
                above("alpha", 0.0, "D5: theta_T = alpha theta_S with alpha > 0"),
                at_least("width", 1),
            ),
        )


ALIGNED_DEPTHS = (1, 2, 8, 50)


@st.composite
def aligned_settings(draw: st.DrawFn, max_d: int = 400) -> AlignedSetting:
    """d up to ``max_d`` (tiered), n from 1 to d − 1, α = 1 (depth-neutral) or in [0.2, 3]."""
    d = draw(dimensions(max_d, min_d=2))
    return AlignedSetting(
        d=d,
        n=draw(sample_sizes(d, large_ratio=0.9, large_d=40)),
        seed=draw(SEEDS),
        alpha=draw(st.one_of(st.just(1.0), st.floats(0.2, 3.0))),
        width=draw(st.integers(1, widest_chain(d, max(ALIGNED_DEPTHS)))),
    )


def check_aligned(s: AlignedSetting) -> Outcome:
    """Infinite depth recovers θ_T (α > 0); the risk is (c_N − α)²‖(I − P)θ_S‖² and falls
    with depth; α = 1 is depth-neutral (risk 0 at every depth)."""
    rng = np.random.default_rng(s.seed)
    theta_s = nd.random_unit_vector(s.d, rng)
    theta_t = s.alpha * theta_s
    X = nd.sample_inputs(s.n, s.d, rng)
    y = X @ theta_t
    recovery = relative_error(sdl.finetuned_end_to_end(X, y, theta_s, math.inf), theta_t)
    null = theta_s - np.linalg.pinv(X) @ (X @ theta_s)
    q = float(null @ null)
    identity, flow, risks, slack = 0.0, 0.0, [], []
    for depth in ALIGNED_DEPTHS:
        c = sdl.scale_factor(X, y, theta_s, depth)
        closed = sdl.finetuned_risk(X, y, theta_s, theta_t, depth)
        identity = max(identity, abs(closed - (c - s.alpha) ** 2 * q) / max(closed, 1e-3 * q))
        weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(s.d, s.width, depth), rng)
        w, estimate = flow_with_estimate(weights, X, y)
        want = sdl.finetuned_end_to_end(X, y, theta_s, depth)
        tol = flow_threshold(estimate, float(np.linalg.norm(want)))
        flow = max(flow, relative_error(w, want) / tol)
        risk = float(np.sum((w - theta_t) ** 2))
        risks.append(risk)
        delta = tol * float(np.linalg.norm(want))  # bound on |w - w_closed|
        slack.append(2 * math.sqrt(risk) * delta + delta**2)
    rises = max(
        0.0,
        *(
            (b - a) / (sa + sb + 1e-300)
            for a, b, sa, sb in zip(risks, risks[1:], slack, slack[1:], strict=False)
        ),
    )
    return Outcome.combine(
        {
            "w_inf = theta_T": (recovery, ROUNDING.bound),
            "risk = (c - alpha)^2 |(I-P)theta_S|^2": (identity, 1e-9),
            "trained w vs closed form (in flow tolerances)": (flow, 1.0),
            "risk rising with depth (in flow tolerances)": (rises, 1.0),
        },
        0.0,
        risks[-1],
        note=f"trained risks at N = {ALIGNED_DEPTHS}: {risks}",
    )


D5_ALIGNED = Claim(
    name="D5-aligned-teacher",
    statement="for theta_T = alpha theta_S (alpha > 0): infinite depth recovers theta_T exactly; "
    "the trained risk (c_N - alpha)^2 |(I-P)theta_S|^2 falls with depth; alpha = 1 is "
    "depth-neutral",
    source="docs/theory.md D4-D5",
    oracle=Oracle.EXACT_SPECIAL_CASE,
    tolerance=Tolerance(
        "exact+flow-accuracy",
        1.0,
        "ratio to the worst part: w_inf = theta_T up to rounding (1e-11); the risk identity "
        "to 1e-9; trained w within the RK4 tolerance (10x its Richardson error estimate) of "
        "the closed form; risks not rising with depth by more than that error can cause",
    ),
    setting_type=AlignedSetting,
    strategy=aligned_settings(),
    check=check_aligned,
    examples=25,
    thorough_strategy=aligned_settings(max_d=MAX_D_THOROUGH),
    domain="d 2-400 (tiered; thorough 1000), n 1..d-1 (<= 0.9d above d = 40: four flows "
    "to depth 50 per example) isotropic inputs, alpha = 1 or 0.2-3, "
    "hidden width "
    "1..d, trained depths 1, 2, 8, 50 and the infinite-depth closed form",
    describe=lambda s: {"n/d": s.n / s.d},
)

# --------------------------------------------------------------------------------------
# D6
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrozenSetting:
    """A deep problem (any n, including n ≥ d) with Σ from a spectrum, W_1 frozen."""

    problem: DeepProblem
    n: int
    condition: float
    steps: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "problem", _nested(self.problem))

    def validate(self) -> None:
        """The problem's rules with depth ≥ 2 (W_1 frozen leaves layers to train); D6 holds
        for every n ≥ 1; κ(Σ) ≥ 1 and at least one GD step."""
        check_rules(self.problem, (*DEEP_RULES, TWO_LAYERS), "problem.")
        check_rules(
            self,
            (
                at_least("n", 1),
                at_least("condition", 1.0, "kappa(Sigma) = lambda_max/lambda_min"),
                at_least("steps", 1),
            ),
        )


def check_frozen(s: FrozenSetting) -> Outcome:
    p = s.problem
    rng = np.random.default_rng(p.seed)
    cov = nd.cov_from_spectrum(nd.spectrum("power-law", p.d, s.condition), rng)
    theta_s = p.source_norm * nd.random_unit_vector(p.d, rng)
    theta_t = nd.synthetic_teacher(theta_s, p.alpha, max(p.epsilon, 0.1), rng)
    X = nd.sample_inputs(s.n, p.d, rng, cov=cov)
    y = X @ theta_t + p.noise_std * rng.standard_normal(s.n)
    weights = ndl.balanced_weights(theta_s, p.widths(), rng)
    mask = [False] + [True] * (p.depth - 1)
    run = ndl.fine_tune(X, y, weights, solver="gd", trainable=mask, max_steps=s.steps, strict=False)
    w = run.end_to_end
    unit = theta_s / np.linalg.norm(theta_s)
    off_span = float(np.linalg.norm(w - unit * (unit @ w))) / max(float(np.linalg.norm(w)), 1e-300)
    floor = sdl.frozen_layers_risk_floor(theta_s, theta_t, cov)
    risk = float((w - theta_t) @ cov @ (w - theta_t))
    below = max(0.0, floor - risk) / max(floor, 1e-12)
    return Outcome(
        max(off_span, below),
        ROUNDING.bound,
        floor,
        risk,
        note=f"off-span {off_span:.2g}, risk {risk:.6g} vs floor {floor:.6g}",
    )


D6_FROZEN = Claim(
    name="D6-frozen-first-layer",
    statement="with W_1 frozen the end-to-end vector stays in span{theta_S} and the risk never "
    "goes below theta_T^T S theta_T - (theta_S^T S theta_T)^2/(theta_S^T S theta_S), for every n",
    source="docs/theory.md D6",
    oracle=Oracle.EXACT_SPECIAL_CASE,
    tolerance=ROUNDING,
    setting_type=FrozenSetting,
    strategy=st.builds(
        FrozenSetting,
        problem=deep_problems(min_depth=2, max_depth=10, max_width=128, angles="independent"),
        n=st.integers(1, 120),
        condition=condition_numbers(100.0),
        steps=st.integers(1, 400),
    ),
    check=check_frozen,
    examples=25,
    domain="d 2-400 (tiered), any n 1-120 (including n >= d), depth 2-10, hidden width "
    "1..min(d, 128), power-law Sigma with kappa 1-100, 1-400 GD steps with W_1 frozen",
    describe=lambda s: {"n/d": s.n / s.problem.d},
)

CLAIMS: tuple[Claim, ...] = (
    D1_ONE_STEP,
    D1_BALANCE,
    D3_FLOW,
    D3_INVARIANT,
    D3_GD_RATE,
    D3_PRETRAINED,
    D4_LIMIT,
    D5_ALIGNED,
    D6_FROZEN,
)
