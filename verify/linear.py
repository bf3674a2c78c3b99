"""Claims of THEORY.md §1 (linear regression, L1–L4): closed form versus training.

Each claim draws settings of plain numbers with Hypothesis, builds matrices from the
setting's seed, evaluates the closed form with :mod:`symbolic.linear` and trains with
:mod:`numeric.linear`. Strategies build valid settings directly: n ≤ d/2 or n ≥ 2d keeps
κ(XXᵀ) ≲ 34 for Gaussian designs, and cond Σ ≤ 10 keeps the total condition number ≲ 350,
so failures are about the mathematics rather than rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import numeric.data as nd
import numeric.linear as nl
import symbolic.linear as sl
from finetune_theory.checks import FloatArray
from verify.claim import Claim, Oracle, Outcome, Tolerance, relative_error

SPECTRA = ("isotropic", "power-law", "spiked", "two-level")
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)

# --------------------------------------------------------------------------------------
# Tolerances, each tied to an error model
# --------------------------------------------------------------------------------------

GD_LIMIT = Tolerance(
    "gd-converged",
    1e-10,
    "GD stops at ||grad|| <= 1e-14 ||grad_0|| (or its rounding floor), leaving a relative "
    "error <= kappa*1e-14*|e_0|/|theta_FT| "
    "with kappa(XX^T) <= ~350 for these designs, plus float rounding (~1e-15)",
)
TRAJECTORY = Tolerance(
    "float-rounding-k-steps",
    1e-11,
    "the GD recurrence is solved exactly by rsolve; each of k <= 300 float64 steps adds "
    "rounding ~kappa*eps, so the accumulated relative error is <= 300*350*1.1e-16 ~ 1e-11",
)
RISK_IDENTITY = Tolerance(
    "gd-converged-quadratic",
    1e-8,
    "R is quadratic in theta; the GD error (<= 1e-10 relative) enters R through "
    "2|<Sigma(theta - theta_T), delta>|, relative to max(R, 1e-3 (|theta_S|^2 + |theta_T|^2))",
)
MC_Z = 5.0
MONTE_CARLO = Tolerance(
    "monte-carlo-5se",
    MC_Z,
    "a Monte Carlo mean over M independent draws deviates from its expectation by "
    "z*s/sqrt(M); z = 5 has false-alarm probability 6e-7 per example for a normal mean",
)
FINITE_SIZE_C = 2.0
ASYMPTOTIC = Tolerance(
    "monte-carlo-5se+finite-size",
    FINITE_SIZE_C,
    "5 standard errors of the Monte Carlo mean plus a finite-size bias of "
    "2/(d - n) relative: for isotropic inputs the exact finite-n variance exceeds the "
    "asymptotic one by the factor (d - n)/(d - n - 1) (L3), and measured deviations for "
    "power-law, spiked and two-level spectra at d = 50..400 stay below 2/(d - n)",
)
EXACT = Tolerance(
    "exact-up-to-rounding",
    1e-10,
    "an exact identity of the theorem (risk 0, theta_T recovered); only GD's stopping "
    "tolerance (kappa*1e-14) and float rounding separate the two sides",
)

# --------------------------------------------------------------------------------------
# Settings and how a setting becomes matrices
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One fine-tuning problem built from a setting's seed."""

    X: FloatArray
    y: FloatArray
    noise: FloatArray
    theta_s: FloatArray
    theta_t: FloatArray
    cov: FloatArray


@dataclass(frozen=True)
class RegressionSetting:
    """d, n, a seed, the input spectrum, the teacher family θ_T = αθ_S + εζ and noise σ."""

    d: int
    n: int
    seed: int
    spectrum: str
    condition: float
    alpha: float
    epsilon: float
    noise_std: float

    def build(self) -> Problem:
        rng = np.random.default_rng(self.seed)
        cov = nd.cov_from_spectrum(nd.spectrum(self.spectrum, self.d, self.condition), rng)  # type: ignore[arg-type]
        theta_s = nd.random_unit_vector(self.d, rng)
        theta_t = nd.synthetic_teacher(theta_s, self.alpha, self.epsilon, rng)
        X = nd.sample_inputs(self.n, self.d, rng, cov=cov)
        noise = self.noise_std * rng.standard_normal(self.n)
        return Problem(X, X @ theta_t + noise, noise, theta_s, theta_t, cov)


@st.composite
def regression_settings(draw: st.DrawFn, min_d: int = 2, max_d: int = 40) -> RegressionSetting:
    """Well-conditioned settings: n ≤ d/2 (interpolation) or n ≥ 2d (least squares)."""
    d = draw(st.integers(min_d, max_d))
    if draw(st.booleans()) or d > 20:
        n = draw(st.integers(1, max(1, d // 2)))
    else:
        n = draw(st.integers(2 * d, 3 * d))
    return RegressionSetting(
        d=d,
        n=n,
        seed=draw(SEEDS),
        spectrum=draw(st.sampled_from(SPECTRA)),
        condition=draw(st.floats(1.0, 10.0)),
        alpha=draw(st.floats(-2.0, 2.0)),
        epsilon=draw(st.floats(0.0, 1.0)),
        noise_std=draw(st.sampled_from([0.0, 0.1, 1.0])),
    )


def _scale(p: Problem) -> float:
    return float(np.linalg.norm(p.theta_s))


# --------------------------------------------------------------------------------------
# L1
# --------------------------------------------------------------------------------------


def check_gd_limit(s: RegressionSetting) -> Outcome:
    p = s.build()
    want = sl.finetuned_weights(p.X, p.y, p.theta_s)
    got = nl.fine_tune(p.X, p.y, p.theta_s).theta
    err = relative_error(got, want, floor=0.1 * _scale(p))
    return Outcome(err, GD_LIMIT.bound, float(np.linalg.norm(want)), float(np.linalg.norm(got)))


L1_GD_LIMIT = Claim(
    name="L1-gd-limit",
    statement="GD from θ_S converges to θ_FT = θ_S + X⁺(y − Xθ_S)",
    source="THEORY.md L1",
    oracle=Oracle.TRAINING,
    tolerance=GD_LIMIT,
    setting_type=RegressionSetting,
    strategy=regression_settings(),
    check=check_gd_limit,
    examples=40,
    thorough_strategy=regression_settings(max_d=120),
)


@dataclass(frozen=True)
class TrajectorySetting:
    """A regression setting plus a step η = fraction × 2/λ_max(XᵀX/n) and a step count k."""

    problem: RegressionSetting
    step_fraction: float
    k: int

    def __post_init__(self) -> None:
        if isinstance(self.problem, dict):  # JSON round-trip of the nested setting
            object.__setattr__(self, "problem", RegressionSetting(**self.problem))


def check_gd_trajectory(s: TrajectorySetting) -> Outcome:
    p = s.problem.build()
    eta = s.step_fraction * sl.gd_stability_limit(p.X)
    want = sl.gd_iterate(p.X, p.y, p.theta_s, eta, s.k)
    # rtol = tiny: run exactly k steps unless the gradient reaches its rounding floor.
    run = nl.fine_tune(
        p.X, p.y, p.theta_s, step=eta, rtol=np.finfo(float).tiny, max_steps=s.k, strict=False
    )
    err = relative_error(run.theta, want, floor=0.1 * _scale(p))
    return Outcome(
        err, TRAJECTORY.bound, float(np.linalg.norm(want)), float(np.linalg.norm(run.theta))
    )


L1_TRAJECTORY = Claim(
    name="L1-gd-trajectory",
    statement="the k-th GD iterate equals the rsolve solution of the GD recurrence "
    "(null-space part of θ_S untouched, row-space part relaxing as (1 − ημ)^k)",
    source="THEORY.md L1 (GD recurrence)",
    oracle=Oracle.SYMBOLIC_IDENTITY,
    tolerance=TRAJECTORY,
    setting_type=TrajectorySetting,
    strategy=st.builds(
        TrajectorySetting,
        problem=regression_settings(),
        step_fraction=st.floats(0.05, 0.95),
        k=st.integers(0, 300),
    ),
    check=check_gd_trajectory,
    examples=40,
)

# --------------------------------------------------------------------------------------
# L2
# --------------------------------------------------------------------------------------


def check_risk_decomposition(s: RegressionSetting) -> Outcome:
    p = s.build()
    terms = sl.risk_terms(p.X, p.noise, p.theta_s, p.theta_t, p.cov)
    theta = nl.fine_tune(p.X, p.y, p.theta_s).theta
    trained = float(nl.quadratic_risk(theta, p.theta_t, p.cov))
    floor = 1e-3 * float(p.theta_s @ p.theta_s + p.theta_t @ p.theta_t)
    err = abs(trained - terms.total) / max(abs(terms.total), floor)
    return Outcome(err, RISK_IDENTITY.bound, terms.total, trained)


L2_DECOMPOSITION = Claim(
    name="L2-risk-decomposition",
    statement="R(θ_FT) = Δᵀ(I−P)Σ(I−P)Δ + 2Δᵀ(I−P)ΣX⁺ξ + ξᵀX⁺ᵀΣX⁺ξ (bias + cross + variance)",
    source="THEORY.md L2",
    oracle=Oracle.TRAINING,
    tolerance=RISK_IDENTITY,
    setting_type=RegressionSetting,
    strategy=regression_settings(),
    check=check_risk_decomposition,
    examples=30,
    thorough_strategy=regression_settings(max_d=120),
)


@dataclass(frozen=True)
class NoiseAverageSetting:
    """A fixed design (from ``problem``) with ``draws`` independent label-noise vectors."""

    problem: RegressionSetting
    draws: int

    def __post_init__(self) -> None:
        if isinstance(self.problem, dict):
            object.__setattr__(self, "problem", RegressionSetting(**self.problem))


def check_noise_average(s: NoiseAverageSetting) -> Outcome:
    p = s.problem.build()
    sigma = s.problem.noise_std
    want = sl.expected_risk_given_design(p.X, p.theta_s, p.theta_t, p.cov, sigma**2)
    rng = np.random.default_rng([s.problem.seed, 1])
    Xs = np.broadcast_to(p.X, (s.draws, *p.X.shape))
    ys = p.X @ p.theta_t + sigma * rng.standard_normal((s.draws, p.X.shape[0]))
    thetas = nl.fine_tune_many(Xs, ys, p.theta_s, rtol=1e-10).theta
    risks = nl.quadratic_risk(thetas, p.theta_t, p.cov)
    mean, se = float(risks.mean()), float(risks.std(ddof=1) / np.sqrt(s.draws))
    floor = 1e-9 * max(want, 1e-12)  # GD error at rtol 1e-10, relative
    return Outcome(abs(mean - want), MC_Z * se + floor, want, mean, note=f"stderr {se:.3g}")


L2_NOISE_AVERAGE = Claim(
    name="L2-noise-average",
    statement="averaged over label noise, R(θ_FT) = Δᵀ(I−P)Σ(I−P)Δ + σ² tr(X⁺ᵀΣX⁺)",
    source="THEORY.md L2 (E over xi)",
    oracle=Oracle.MONTE_CARLO,
    tolerance=MONTE_CARLO,
    setting_type=NoiseAverageSetting,
    strategy=st.builds(
        NoiseAverageSetting,
        problem=regression_settings(max_d=24).filter(lambda r: r.noise_std > 0),
        draws=st.just(400),
    ),
    check=check_noise_average,
    examples=8,
)

# --------------------------------------------------------------------------------------
# L3
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignAverageSetting:
    """Isotropic Gaussian designs: sizes, teacher family, noise and the number of designs."""

    d: int
    n: int
    seed: int
    alpha: float
    epsilon: float
    noise_std: float
    designs: int


@st.composite
def design_average_settings(draw: st.DrawFn) -> DesignAverageSetting:
    """n ≤ min(d − 8, 0.7d) or n ≥ max(d + 8, 1.4d): the inverse-Wishart trace then has
    finite fourth moment (so the standard error is itself reliable) and GD stays fast."""
    d = draw(st.integers(10, 24))
    if draw(st.booleans()):
        n = draw(st.integers(1, min(d - 8, int(0.7 * d))))
    else:
        n = draw(st.integers(max(d + 8, int(np.ceil(1.4 * d))), 2 * d + 8))
    return DesignAverageSetting(
        d=d,
        n=n,
        seed=draw(SEEDS),
        alpha=draw(st.floats(-2.0, 2.0)),
        epsilon=draw(st.floats(0.0, 1.0)),
        noise_std=draw(st.sampled_from([0.0, 0.3, 1.0])),
        designs=300,
    )


def check_expected_risk(s: DesignAverageSetting) -> Outcome:
    rng = np.random.default_rng(s.seed)
    theta_s = nd.random_unit_vector(s.d, rng)
    theta_t = nd.synthetic_teacher(theta_s, s.alpha, s.epsilon, rng)
    delta_sq = float(np.sum((theta_s - theta_t) ** 2))
    want = sl.expected_risk_isotropic(s.n, s.d, delta_sq, s.noise_std**2)
    est = nl.expected_risk_mc(
        theta_s, theta_t, s.n, rng, noise_std=s.noise_std, designs=s.designs, rtol=1e-8
    )
    floor = 1e-6 * (delta_sq + s.noise_std**2)  # optimisation error at rtol 1e-8
    return Outcome(
        abs(est.mean - want),
        MC_Z * est.stderr + floor,
        want,
        est.mean,
        note=f"stderr {est.stderr:.3g}",
    )


L3_EXPECTED = Claim(
    name="L3-expected-risk",
    statement="for x ~ N(0, I): E R(θ_FT) = (1 − n/d)‖Δ‖² + σ²n/(d − n − 1) if n ≤ d − 2, "
    "σ²d/(n − d − 1) if n ≥ d + 2",
    source="THEORY.md L3",
    oracle=Oracle.MONTE_CARLO,
    tolerance=MONTE_CARLO,
    setting_type=DesignAverageSetting,
    strategy=design_average_settings(),
    check=check_expected_risk,
    examples=10,
)


@dataclass(frozen=True)
class SpecialCaseSetting:
    """``case`` 'n=d': a square, well-conditioned design without noise (θ_T is recovered);
    'source=target': θ_S = θ_T with optional noise (the bias and cross terms vanish)."""

    case: str
    d: int
    seed: int
    noise_std: float


def check_special_case(s: SpecialCaseSetting) -> Outcome:
    rng = np.random.default_rng(s.seed)
    theta_t = nd.random_unit_vector(s.d, rng)
    if s.case == "n=d":
        theta_s = nd.random_unit_vector(s.d, rng)
        # X = U diag(svals) Vᵀ with singular values in [1, 3]: square and well conditioned.
        u, v = nd.random_orthogonal(s.d, rng), nd.random_orthogonal(s.d, rng)
        X = (u * rng.uniform(1.0, 3.0, s.d)) @ v.T
        y = X @ theta_t
        sym = sl.finetuned_weights(X, y, theta_s)
        theta = nl.fine_tune(X, y, theta_s).theta
        risk_formula = sl.expected_risk_isotropic(s.d, s.d, float(np.sum((theta_s - theta_t) ** 2)))
        err = max(relative_error(sym, theta_t), relative_error(theta, theta_t), risk_formula)
        return Outcome(err, EXACT.bound, 0.0, float(np.linalg.norm(theta - theta_t)))
    n = int(rng.integers(1, max(2, s.d // 2) + 1))
    X = nd.sample_inputs(n, s.d, rng)
    noise = s.noise_std * rng.standard_normal(n)
    terms = sl.risk_terms(X, noise, theta_t, theta_t)
    trained = float(nl.quadratic_risk(nl.fine_tune(X, X @ theta_t + noise, theta_t).theta, theta_t))
    err = (
        abs(terms.bias)
        + abs(terms.cross)
        + abs(trained - terms.variance) / max(terms.variance, 1e-12)
    )
    return Outcome(err, EXACT.bound, terms.variance, trained)


EXACT_CASES = Claim(
    name="L-exact-cases",
    statement="n = d without noise recovers θ_T exactly; θ_S = θ_T leaves zero "
    "bias and cross terms (risk = variance, 0 without noise)",
    source="THEORY.md L1-L3 (special cases)",
    oracle=Oracle.EXACT_SPECIAL_CASE,
    tolerance=EXACT,
    setting_type=SpecialCaseSetting,
    strategy=st.builds(
        SpecialCaseSetting,
        case=st.sampled_from(["n=d", "source=target"]),
        d=st.integers(1, 12),
        seed=SEEDS,
        noise_std=st.sampled_from([0.0, 0.5]),
    ),
    check=check_special_case,
    examples=30,
)

# --------------------------------------------------------------------------------------
# L4
# --------------------------------------------------------------------------------------

ALIGNMENTS = ("random", "top", "middle", "bottom")


@dataclass(frozen=True)
class AsymptoticSetting:
    """Large-d setting: Σ = diag(spectrum), Δ placed in the top/middle/bottom tenth of the
    eigen-directions (or spread at random), γ = d/n, noise σ and the number of designs."""

    d: int
    n: int
    seed: int
    spectrum: str
    condition: float
    alignment: str
    noise_std: float
    designs: int


def delta_coordinates(alignment: str, d: int, rng: np.random.Generator) -> FloatArray:
    """Unit-norm Δ in the eigenbasis (decreasing eigenvalues): supported on one tenth of the
    directions at the top, middle or bottom of the spectrum, or spread at random."""
    b = np.zeros(d)
    w = max(1, d // 10)
    start = {"top": 0, "middle": d // 2 - w // 2, "bottom": d - w}.get(alignment)
    if alignment == "random":
        b = rng.standard_normal(d)
    elif start is not None:
        b[start : start + w] = rng.standard_normal(w)
    else:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    return np.asarray(b / np.linalg.norm(b), dtype=np.float64)


@st.composite
def asymptotic_settings(draw: st.DrawFn) -> AsymptoticSetting:
    """d ∈ [300, 400], γ = d/n ∈ [2, 4], cond Σ ≤ 5: large enough for the proportional
    limit, conditioned so that GD on 32 designs takes about a second."""
    d = draw(st.integers(300, 400))
    n = draw(st.integers(int(np.ceil(d / 4)), d // 2))
    return AsymptoticSetting(
        d=d,
        n=n,
        seed=draw(SEEDS),
        spectrum=draw(st.sampled_from(SPECTRA)),
        condition=draw(st.floats(1.0, 5.0)),
        alignment=draw(st.sampled_from(ALIGNMENTS)),
        noise_std=draw(st.sampled_from([0.0, 0.5])),
        designs=32,
    )


def check_asymptotic(s: AsymptoticSetting) -> Outcome:
    rng = np.random.default_rng(s.seed)
    lam = nd.spectrum(s.spectrum, s.d, s.condition)  # type: ignore[arg-type]
    b = delta_coordinates(s.alignment, s.d, rng)
    bias, variance = sl.asymptotic_risk(lam, b, s.d / s.n, s.noise_std**2)
    want = bias + variance
    theta_t = nd.random_unit_vector(s.d, rng)
    est = nl.expected_risk_mc(
        theta_t + b,
        theta_t,
        s.n,
        rng,
        cov=np.diag(lam),
        noise_std=s.noise_std,
        designs=s.designs,
        rtol=1e-8,
    )
    threshold = MC_Z * est.stderr + FINITE_SIZE_C * want / (s.d - s.n)
    return Outcome(abs(est.mean - want), threshold, want, est.mean, note=f"stderr {est.stderr:.3g}")


L4_ASYMPTOTIC = Claim(
    name="L4-asymptotic-risk",
    statement="at large d, E R(θ_FT) matches the HMRT asymptotic bias + variance "
    "with β → θ_T − θ_S",
    source="THEORY.md L4",
    oracle=Oracle.MONTE_CARLO,
    tolerance=ASYMPTOTIC,
    setting_type=AsymptoticSetting,
    strategy=asymptotic_settings(),
    check=check_asymptotic,
    examples=4,
)

CLAIMS: tuple[Claim, ...] = (
    L1_GD_LIMIT,
    L1_TRAJECTORY,
    L2_DECOMPOSITION,
    L2_NOISE_AVERAGE,
    L3_EXPECTED,
    EXACT_CASES,
    L4_ASYMPTOTIC,
)
