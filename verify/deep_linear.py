"""Claims of THEORY.md §2 (deep linear networks, D1–D6): closed form versus training.

Training is on the layer matrices (numeric.deep_linear): plain gradient descent, or
gradient flow integrated by fixed-step RK4. Strategies keep n ≤ d/2 so that, on average,
‖(I − P)θ_S‖² ≈ (1 − n/d)‖θ_S‖² ≥ ‖θ_S‖²/2 keeps the end-to-end vector away from the saddle
w = 0, input spectra anisotropic only where the closed form is the subject (D3-flow-limit,
condition ≤ 3: flows slow down with κ(XXᵀ)), widths
small (the closed form does not depend on them) and depth in [1, 10].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

import numeric.data as nd
import numeric.deep_linear as ndl
import symbolic.deep_linear as sdl
from finetune_theory.checks import FloatArray
from verify.claim import Claim, Curve, Oracle, Outcome, Tolerance, relative_error
from verify.linear import SEEDS, SPECTRA

# --------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------

RK4_RICHARDSON = Tolerance(
    "rk4-error-estimate",
    10.0,
    "RK4 is 4th order, so |w_h - w*| ~ |w_h - w_2h|/15 (Richardson error estimate from a "
    "second run at twice the step); the closed form must lie within 10x that estimate plus "
    "1e-9 |w| for the gradient stopping tolerance (rtol 1e-10 times kappa)",
)
SLOPE = Tolerance(
    "convergence-order",
    0.2,
    "error = a h^p + O(h^(p+1)): the log-log slope fitted over h, h/2, h/4 deviates from the "
    "order p by O(h b/a); 0.2 is met once h is in the asymptotic range, which half the "
    "default step and below are",
)
DRIFT_MAX = 1e-6
DRIFT_ORDER_MIN = 1e-9
CONSERVED = Tolerance(
    "rk4-drift-order",
    1.0,
    "ratio to the worst part: the exact flow conserves W_(j+1)^T W_(j+1) - W_j W_j^T, RK4 "
    "drifts by O(h^4) or faster; with fixed steps, the drift at h*lambda = 0.05 must be below "
    "1e-6 relative and, when the drift at 0.1 exceeds 1e-9 (clear of accumulated rounding), "
    "its order between 0.1 and 0.05 must be >= 4 - 0.6 (0.2 is pre-asymptotic for some "
    "settings and only drawn in the report's curve)",
)
PROBE_SCALE = 0.05
PRETRAIN_TARGETS = (1e-2, 3e-3, 1e-3)
IMBALANCE_LAW = Tolerance(
    "linear-in-imbalance",
    0.25,
    "the closed form is smooth in the initial weights, so the gap is O(imbalance): the "
    "log-log slope of gap vs imbalance at 1e-2, 3e-3, 1e-3 must be >= 1 - 0.25 (measured "
    "0.97-1.03 typically, up to 1.26 where the linear coefficient nearly cancels; the "
    "constant gap/imbalance ranges 0.005-0.9 and is reported, not bounded; below ~1e-4 the "
    "RK4 drift of a long pretraining (~1e-7) dominates, at ~0.2 growth is faster)",
)
ROUNDING = Tolerance(
    "float-rounding",
    1e-11,
    "an exact consequence of the theorem; only float64 rounding (~1e-16 per operation over "
    "<= 1e5 operations) and, for trained values, the flow's error (~1e-9) separate the sides",
)

#: Relative accuracy of the first-order rate constant after one Richardson step at N = 1e5.
RATE_RTOL = 1e-3

# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeepProblem:
    """A deep-linear fine-tuning problem: sizes, depth, hidden width, teacher family, the
    input spectrum (Σ with a random eigenbasis) and a seed."""

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
        return X, y, theta_s, theta_t, ndl.balanced_weights(theta_s, self.widths(), rng)


@st.composite
def deep_problems(
    draw: st.DrawFn,
    min_depth: int = 1,
    max_depth: int = 10,
    max_d: int = 24,
    max_condition: float = 1.0,
) -> DeepProblem:
    """Deep problems; ``max_condition`` > 1 also draws anisotropic input spectra."""
    d = draw(st.integers(4, max_d))
    anisotropic = max_condition > 1.0
    return DeepProblem(
        d=d,
        n=draw(st.integers(1, d // 2)),
        depth=draw(st.integers(min_depth, max_depth)),
        width=draw(st.integers(1, 8)),
        seed=draw(SEEDS),
        source_norm=draw(st.floats(0.5, 2.0)),
        alpha=draw(st.floats(-2.0, 2.0)),
        epsilon=draw(st.floats(0.05, 1.0)),  # θ_T ≠ 0, so X⁺y ≠ 0 almost surely
        noise_std=draw(st.sampled_from([0.0, 0.1])),
        spectrum=draw(st.sampled_from(SPECTRA)) if anisotropic else "isotropic",
        condition=draw(st.floats(1.0, max_condition)) if anisotropic else 1.0,
    )


#: Gradient tolerance of the claims' flows: far below the RK4 error, so that the stopping
#: error (≲ κ·rtol relative) stays under the 1e-9 floor of the flow tolerance.
CLAIM_RTOL = 1e-12


def flow_with_estimate(
    weights: tuple[FloatArray, ...], X: FloatArray, y: FloatArray, require_balance: bool = False
) -> tuple[FloatArray, float]:
    """The RK4 flow limit and its Richardson error estimate |w_h − w_2h|/15 (RK4 is 4th order)."""
    fine = ndl.fine_tune(
        weights, X, y, solver="flow", require_balance=require_balance, rtol=CLAIM_RTOL
    )
    coarse = ndl.fine_tune(
        weights, X, y, solver="flow", flow_cfl=2 * ndl.DEFAULT_FLOW_CFL, rtol=CLAIM_RTOL
    )
    return fine.end_to_end, float(np.linalg.norm(fine.end_to_end - coarse.end_to_end)) / 15.0


def flow_threshold(estimate: float, scale: float) -> float:
    """Relative tolerance for a flow limit: 10× its error estimate plus the stopping floor."""
    return RK4_RICHARDSON.bound * estimate / scale + 1e-9


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
    base = ndl.fine_tune(weights, X, y, solver="gd", max_steps=0, strict=False).step
    hs = [base * f for f in (0.5, 0.25, 0.125)]
    errs = []
    for h in hs:
        moved = ndl.fine_tune(weights, X, y, solver="gd", step=h, max_steps=1, strict=False)
        errs.append(float(np.linalg.norm(moved.end_to_end - theta_s - h * velocity)))
    if max(errs) <= 1e-14 * float(np.linalg.norm(h * velocity)):  # N = 1: GD is exactly linear
        return Outcome(0.0, SLOPE.bound, 2.0, 2.0, note="error at rounding level (depth 1)")
    slope = _slope(hs, errs)
    curve = Curve(tuple(hs), tuple(errs), "GD step eta", "|w(eta) - w0 - eta w_dot|", 2.0)
    return Outcome(abs(slope - 2.0), SLOPE.bound, 2.0, slope, note=f"errors {errs}", curve=curve)


D1_ONE_STEP = Claim(
    name="D1-one-step",
    statement="one layer-wise GD step moves w by -eta |w|^(2-2/N)(g + (N-1) w^ w^T g) + O(eta^2)",
    source="THEORY.md D1",
    oracle=Oracle.SYMBOLIC_IDENTITY,
    tolerance=SLOPE,
    setting_type=DeepProblem,
    strategy=deep_problems(min_depth=2),
    check=check_one_step,
    examples=15,
)


@dataclass(frozen=True)
class BalanceSetting:
    """Random (unbalanced) initial weights trained by the RK4 flow up to time ``horizon``."""

    problem: DeepProblem
    init_scale: float
    horizon: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "problem", _nested(self.problem))


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
    drifts = []
    for cfl in cfls:
        run = ndl.fine_tune(
            weights,
            X,
            y,
            solver="flow",
            flow_cfl=cfl,
            max_time=s.horizon,
            fixed_step=True,
            strict=False,
        )
        after = _imbalance_matrices(run.weights)
        drifts.append(
            max(float(np.linalg.norm(a - b)) for a, b in zip(after, before, strict=True)) / scale
        )
    # The order from the two finest steps: at h·λ̂ = 0.2 RK4 is still pre-asymptotic for some
    # settings (drift ratio 5-8 instead of 16 from 0.2 to 0.1); 0.2 stays in the curve.
    order = _slope(cfls[1:], [max(x, 1e-300) for x in drifts[1:]])
    parts = {"drift at h/4": (drifts[-1], DRIFT_MAX)}
    if drifts[1] > DRIFT_ORDER_MIN:
        parts["drift order short of RK4's 4"] = (max(0.0, 4.0 - order), 0.6)
    return Outcome.combine(
        parts,
        4.0,
        order,
        note=f"drifts {drifts}",
        curve=Curve(
            tuple(cfls), tuple(drifts), "RK4 step h*lambda", "relative imbalance drift", 4.0
        ),
    )


D1_BALANCE = Claim(
    name="D1-balance-conserved",
    statement="gradient flow on the layers conserves W_(j+1)^T W_(j+1) - W_j W_j^T "
    "(so balanced weights stay balanced)",
    source="THEORY.md D1 (Arora, Cohen, Hazan 2018)",
    oracle=Oracle.TRAINING,
    tolerance=CONSERVED,
    setting_type=BalanceSetting,
    strategy=st.builds(
        BalanceSetting,
        problem=deep_problems(min_depth=2, max_depth=5, max_d=12),
        init_scale=st.floats(0.3, 1.0),
        horizon=st.floats(1.0, 3.0),
    ),
    check=check_balance_conserved,
    examples=8,
)

# --------------------------------------------------------------------------------------
# D3
# --------------------------------------------------------------------------------------


def check_flow_limit(p: DeepProblem) -> Outcome:
    X, y, theta_s, _, weights = p.build()
    want = sdl.finetuned_end_to_end(X, y, theta_s, p.depth)
    w, estimate = flow_with_estimate(weights, X, y, require_balance=True)
    scale = float(np.linalg.norm(want))
    return Outcome(
        relative_error(w, want),
        flow_threshold(estimate, scale),
        scale,
        float(np.linalg.norm(w)),
        note=f"RK4 error estimate {estimate / scale:.2g}",
    )


D3_FLOW = Claim(
    name="D3-flow-limit",
    statement="gradient flow on all layers from balanced weights converges to "
    "w = X^+y + c(I-P)theta_S with c the positive root of "
    "|theta_S|^2 c^(2N/(N-1)) - |(I-P)theta_S|^2 c^2 = |X^+y|^2",
    source="THEORY.md D3",
    oracle=Oracle.TRAINING,
    tolerance=RK4_RICHARDSON,
    setting_type=DeepProblem,
    strategy=deep_problems(max_condition=3.0),
    check=check_flow_limit,
    examples=8,
    thorough_strategy=deep_problems(max_d=64, max_condition=3.0),
)


def check_gd_rate(p: DeepProblem) -> Outcome:
    """GD lands O(η) from the flow limit; one Richardson step makes it O(η²).

    Steps η/2 … η/16 of the default step keep the fit in the asymptotic range (at the default
    step the η² and η³ terms of the Richardson error can still cancel)."""
    X, y, theta_s, _, weights = p.build()
    want = sdl.finetuned_end_to_end(X, y, theta_s, p.depth)
    base = ndl.fine_tune(weights, X, y, solver="gd", max_steps=0, strict=False).step
    hs = [base * f for f in (0.5, 0.25, 0.125, 0.0625)]
    # rtol 1e-13: the Richardson errors (down to ~1e-9) must stay above the stopping error.
    ends = [ndl.fine_tune(weights, X, y, solver="gd", step=h, rtol=1e-13).end_to_end for h in hs]
    errs = [relative_error(w, want) for w in ends]
    rich = [relative_error(2 * ends[i + 1] - ends[i], want) for i in range(3)]
    slope_gd = _slope(hs, errs)
    slope_rich = _slope(hs[:3], rich)
    return Outcome.combine(
        {
            "GD order 1": (abs(slope_gd - 1.0), SLOPE.bound),
            "Richardson order below 2": (max(0.0, 2.0 - slope_rich), 0.4),
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
    source="THEORY.md D3, section 5",
    oracle=Oracle.TRAINING,
    tolerance=Tolerance(
        "convergence-orders",
        1.0,
        "ratio to the worst part: |GD slope - 1| <= 0.2 and Richardson slope >= 2 - 0.4 over "
        "eta/2 .. eta/16 of the default step; error = a eta^p + O(eta^(p+1)) so fitted slopes "
        "deviate by O(eta b/a) (measured over 40 settings: 0.996-1.033 and 1.91-2.31). The "
        "Richardson check is one-sided: when the eta^2 coefficient nearly cancels the eta^3 "
        "term the fitted slope exceeds 2 (seen up to 2.7), still O(eta^2) or better",
    ),
    setting_type=DeepProblem,
    strategy=deep_problems(min_depth=2, max_depth=6, max_d=16),
    check=check_gd_rate,
    examples=3,
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
        weights = ndl.pretrain(theta_s, p.widths(), p.seed, init_scale=scale)
        w0 = ndl.end_to_end(weights)
        want = sdl.finetuned_end_to_end(X, y, w0, p.depth)
        # A fine RK4 step: at the default step the flow's own error can reach ~1e-5, the
        # size of the smallest gaps measured here; at h·λ̂ = 0.125 it is 256x smaller.
        run = ndl.fine_tune(weights, X, y, solver="flow", flow_cfl=0.125, rtol=CLAIM_RTOL)
        gaps.append(relative_error(run.end_to_end, want))
        imbalances.append(ndl.imbalance(weights))
    slope = _slope(imbalances, gaps)
    ratio = max(g / i for g, i in zip(gaps, imbalances, strict=True))
    return Outcome(
        max(0.0, 1.0 - slope),
        IMBALANCE_LAW.bound,
        1.0,
        slope,
        note=f"gap/imbalance <= {ratio:.3g}; imbalances {imbalances}; gaps {gaps}",
        curve=Curve(
            tuple(imbalances), tuple(gaps), "relative imbalance", "relative gap to D3", 1.0
        ),
    )


D3_PRETRAINED = Claim(
    name="D3-pretrained",
    statement="fine-tuning from pretrained (approximately balanced) weights departs from the "
    "balanced closed form by O(imbalance): the gap vanishes at least linearly as the "
    "imbalance goes to 0",
    source="THEORY.md D2-D3 (measured degradation)",
    oracle=Oracle.TRAINING,
    tolerance=IMBALANCE_LAW,
    setting_type=DeepProblem,
    strategy=deep_problems(min_depth=2, max_depth=4, max_d=14),
    check=check_pretrained,
    examples=2,
)

# --------------------------------------------------------------------------------------
# D4, D5
# --------------------------------------------------------------------------------------


def check_depth_limit(p: DeepProblem) -> Outcome:
    """Trained c_N (from the flow) move monotonically toward c_∞ and match the closed form;
    the closed form's rate (N − 1)(c_N − c_∞) → K holds (Richardson at N ~ 1e5)."""
    X, y, theta_s, _, _ = p.build()
    pinv = np.linalg.pinv(X)
    null_s = theta_s - pinv @ (X @ theta_s)
    c_inf = sdl.scale_factor(X, y, theta_s, math.inf)
    depths = (2, 3, 5, 8)
    trained, tol = [], []
    for depth in depths:
        weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(p.d, p.width, depth), p.seed)
        w, estimate = flow_with_estimate(weights, X, y)
        null_w = w - pinv @ (X @ w)
        trained.append(float(null_w @ null_s) / float(null_s @ null_s))
        # c = ⟨(I−P)w, (I−P)θ_S⟩/‖(I−P)θ_S‖²: its error is at most |δw|/‖(I−P)θ_S‖.
        bound = RK4_RICHARDSON.bound * estimate + 1e-9 * float(np.linalg.norm(w))
        tol.append(bound / float(np.linalg.norm(null_s)))
    closed = [sdl.scale_factor(X, y, theta_s, depth) for depth in depths]
    match = max(abs(a - b) / t for a, b, t in zip(trained, closed, tol, strict=True))
    dist = [abs(c - c_inf) for c in trained]
    back = max(
        0.0,
        *((b - a) / (ta + tb) for a, b, ta, tb in zip(dist, dist[1:], tol, tol[1:], strict=False)),
    )
    K = sdl.scale_factor_limit_coefficient(X, y, theta_s)
    m = 100_000
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
    source="THEORY.md D4",
    oracle=Oracle.TRAINING,
    tolerance=Tolerance(
        "flow-accuracy+asymptotic-rate",
        1.0,
        "ratio to the worst part: trained c_N within the RK4 tolerance (10x its Richardson "
        "error estimate) of the closed form and never moving away from c_inf by more than "
        "that; the rate constant K to 1e-3 relative after one Richardson step in 1/(N-1) "
        "at N = 1e5",
    ),
    setting_type=DeepProblem,
    strategy=deep_problems(max_d=16),
    check=check_depth_limit,
    examples=3,
)


@dataclass(frozen=True)
class AlignedSetting:
    """θ_T = αθ_S exactly (ε = 0, no noise)."""

    d: int
    n: int
    seed: int
    alpha: float
    width: int


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
    for depth in (1, 2, 4, 8):
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
        note=f"trained risks at N = 1, 2, 4, 8: {risks}",
    )


D5_ALIGNED = Claim(
    name="D5-aligned-teacher",
    statement="for theta_T = alpha theta_S (alpha > 0): infinite depth recovers theta_T exactly; "
    "the trained risk (c_N - alpha)^2 |(I-P)theta_S|^2 falls with depth; alpha = 1 is "
    "depth-neutral",
    source="THEORY.md D4-D5",
    oracle=Oracle.EXACT_SPECIAL_CASE,
    tolerance=Tolerance(
        "exact+flow-accuracy",
        1.0,
        "ratio to the worst part: w_inf = theta_T up to rounding (1e-11); the risk identity "
        "to 1e-9; trained w within the RK4 tolerance (10x its Richardson error estimate) of "
        "the closed form; risks not rising with depth by more than that error can cause",
    ),
    setting_type=AlignedSetting,
    strategy=st.builds(
        AlignedSetting,
        d=st.integers(6, 20),
        n=st.integers(1, 3),
        seed=SEEDS,
        alpha=st.one_of(st.just(1.0), st.floats(0.2, 3.0)),
        width=st.integers(1, 6),
    ),
    check=check_aligned,
    examples=4,
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
    run = ndl.fine_tune(weights, X, y, solver="gd", trainable=mask, max_steps=s.steps, strict=False)
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
    source="THEORY.md D6",
    oracle=Oracle.EXACT_SPECIAL_CASE,
    tolerance=ROUNDING,
    setting_type=FrozenSetting,
    strategy=st.builds(
        FrozenSetting,
        problem=deep_problems(min_depth=2, max_depth=6, max_d=16),
        n=st.integers(1, 60),
        condition=st.floats(1.0, 10.0),
        steps=st.integers(1, 400),
    ),
    check=check_frozen,
    examples=15,
)

CLAIMS: tuple[Claim, ...] = (
    D1_ONE_STEP,
    D1_BALANCE,
    D3_FLOW,
    D3_GD_RATE,
    D3_PRETRAINED,
    D4_LIMIT,
    D5_ALIGNED,
    D6_FROZEN,
)
