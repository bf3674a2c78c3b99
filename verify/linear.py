"""Claims of docs/theory.md §1 (linear regression, L1–L4): closed form versus training.

Each claim draws settings of plain numbers with Hypothesis, builds matrices from the
setting's seed, evaluates the closed form with :mod:`symbolic.linear` and trains with
:mod:`numeric.linear`. Strategies (:mod:`verify.strategies`) cover the theorems' whole
hypothesis space: d up to 400 (1000 in ``thorough``), n from 1 to d − 1 (the interpolation
regime) or d + 2 to 3d (least squares), κ(Σ) up to 100, and θ_S at any angle to the row
space of X, including inside it. The training claims judge the trained weights against an
*a-posteriori* bound: every iterate stays in θ_S + rowspace(X), where ‖∇L(θ)‖ ≥ μ_min‖θ − θ_FT‖
(μ_min the smallest nonzero eigenvalue of XᵀX/n), so the optimisation error of the run is
at most ‖∇L(θ)‖/μ_min, whatever the conditioning. Plain GD trains wherever it needs at
most :data:`GD_BUDGET` steps; beyond that (n → d with anisotropic Σ: κ(XXᵀ) up to ~1e8)
conjugate gradients from θ_S, the same first-order training with the same limit, in ~√κ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import numeric.data as nd
import numeric.linear as nl
import symbolic.linear as sl
from finetune_theory.checks import FloatArray
from verify import statistics as vs
from verify.claim import (
    SEED_RULE,
    Claim,
    Oracle,
    Outcome,
    Rule,
    Tolerance,
    above,
    at_least,
    at_most,
    check_rules,
    finite,
    one_of,
    relative_error,
)
from verify.strategies import (
    INDEPENDENT,
    MAX_D_THOROUGH,
    SEEDS,
    SPECTRA,
    condition_numbers,
    dimensions,
    least_squares_sizes,
    place_source,
    row_fractions,
    sample_sizes,
)

# --------------------------------------------------------------------------------------
# Tolerances, each tied to an error model
# --------------------------------------------------------------------------------------

GD_LIMIT = Tolerance(
    "a-posteriori-optimisation-bound",
    1.0,
    "ratio to the bound: |theta - theta_FT| <= 2|grad L(theta)|/mu_min (the run's own "
    "optimisation error: iterates stay in theta_S + rowspace(X), where the gradient is at "
    "least mu_min times the error; factor 2 for the rounding of the gradient itself) plus "
    "the rounding of both sides, 64 kappa(X) eps (|theta_S| + |theta_FT|) (a backward-stable "
    "least-squares solve and a contracting iteration each lose ~kappa(X) eps)",
)
#: Plain GD runs wherever its estimated step count is at most this; else conjugate gradients.
GD_BUDGET = 2_000
TRAJECTORY = Tolerance(
    "float-rounding-k-steps",
    1e-11,
    "the GD recurrence is solved exactly by rsolve; each of k <= 300 float64 steps adds "
    "rounding ~kappa*eps, so the accumulated relative error is <= 300*350*1.1e-16 ~ 1e-11",
)
RISK_IDENTITY = Tolerance(
    "a-posteriori-quadratic",
    1.0,
    "ratio to the bound: R is quadratic in theta, so the run's optimisation error delta "
    "(the a-posteriori bound of a-posteriori-optimisation-bound) moves it by at most "
    "2|Sigma(theta - theta_T)| delta + lambda_max(Sigma) delta^2; plus rounding of the terms, "
    "1e-12 max(R, |theta_S|^2 + |theta_T|^2) (sums of <= d^2 products)",
)
MC_Z = vs.MC_Z
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
    "ratio to the worst part: an exact identity of the theorem (risk 0, theta_T recovered) "
    "holds for the closed form to 1e-10 + 64 kappa eps, and for the trained weights within "
    "their a-posteriori optimisation bound (see a-posteriori-optimisation-bound)",
)

# --------------------------------------------------------------------------------------
# Rules: a setting's hypotheses (Claim.validate_setting runs a setting's validate())
# --------------------------------------------------------------------------------------


SPECTRUM_RULES = (
    one_of("spectrum", SPECTRA),
    at_least("condition", 1.0, "kappa(Sigma) = lambda_max/lambda_min"),
)
ROW_FRACTION_RULE = Rule(
    "row_fraction",
    lambda s: s.row_fraction == INDEPENDENT or 0.0 <= s.row_fraction <= 1.0,
    f"row_fraction = {INDEPENDENT} (theta_S independent of X) or in [0, 1] (a fraction "
    "of |theta_S|^2)",
)
#: θ_T = αθ_S + εζ: any finite α, ε ≥ 0; label noise σ ≥ 0.
TEACHER_RULES = (
    finite("alpha"),
    at_least("epsilon", 0.0, "the teacher spread"),
    at_least("noise_std", 0.0, "a standard deviation"),
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
    #: Fraction of ‖θ_S‖² in the row space of X (−1: θ_S drawn independently of X).
    row_fraction: float = INDEPENDENT

    def validate(self) -> None:
        """L1–L2 hold for every n ≥ 1 and d ≥ 1 (interpolation for n ≤ d, least squares for
        n ≥ d; X has full rank almost surely): sizes ≥ 1, a known spectrum with κ ≥ 1, a
        finite teacher, ε, σ ≥ 0 and θ_S independent of X or at a fraction in [0, 1]."""
        check_rules(self, REGRESSION_RULES)

    def build(self) -> Problem:
        rng = np.random.default_rng(self.seed)
        cov = nd.cov_from_spectrum(nd.spectrum(self.spectrum, self.d, self.condition), rng)  # type: ignore[arg-type]
        theta_s = nd.random_unit_vector(self.d, rng)
        theta_t = nd.synthetic_teacher(theta_s, self.alpha, self.epsilon, rng)
        X = nd.sample_inputs(self.n, self.d, rng, cov=cov)
        noise = self.noise_std * rng.standard_normal(self.n)
        theta_s = place_source(theta_s, X, self.row_fraction, rng)
        return Problem(X, X @ theta_t + noise, noise, theta_s, theta_t, cov)


REGRESSION_RULES: tuple[Rule, ...] = (
    at_least("d", 1),
    at_least("n", 1),
    SEED_RULE,
    *SPECTRUM_RULES,
    *TEACHER_RULES,
    ROW_FRACTION_RULE,
)


@st.composite
def regression_settings(
    draw: st.DrawFn, min_d: int = 2, max_d: int = 400, max_condition: float = 100.0
) -> RegressionSetting:
    """d up to ``max_d`` (tiered), n from 1 to d − 1 (n ≤ 0.9d above d = 100) or, for
    d ≤ 150, d + 2 to 3d; κ(Σ) up to ``max_condition``; θ_S at any angle to the row space."""
    d = draw(dimensions(max_d, min_d=min_d))
    if d <= 150 and draw(st.integers(0, 3)) == 0:
        n = draw(least_squares_sizes(d))
    else:
        n = draw(sample_sizes(d, large_ratio=0.9))
    return RegressionSetting(
        d=d,
        n=n,
        seed=draw(SEEDS),
        spectrum=draw(st.sampled_from(SPECTRA)),
        condition=draw(condition_numbers(max_condition)),
        alpha=draw(st.floats(-2.0, 2.0)),
        epsilon=draw(st.floats(0.0, 1.0)),
        noise_std=draw(st.sampled_from([0.0, 0.1, 1.0])),
        row_fraction=draw(row_fractions()),
    )


REGRESSION_DOMAIN = (
    "d 2-400 (thorough 1000), n 1..d-1 (n <= 0.9d above d = 100: training cost) or "
    "d+2..3d (d <= 150), Sigma isotropic/power-law/spiked/two-level with kappa 1-100, "
    "theta_S independent of X or with a fraction 0, 1e-12, any, 1-1e-12 or 1 of its norm^2 "
    "in the row space, theta_T = alpha theta_S + eps zeta (alpha in [-2, 2]), noise 0-1"
)


def describe_regression(s: RegressionSetting) -> dict[str, float | str]:
    """n/d and the regime for the coverage map."""
    return {"n/d": s.n / s.d, "regime": "interpolation" if s.n < s.d else "least squares"}


def _scale(p: Problem) -> float:
    return float(np.linalg.norm(p.theta_s))


def spectrum_of(X: FloatArray) -> tuple[float, float, float]:
    """(μ_max, μ_min, κ(X)): extreme nonzero eigenvalues of XᵀX/n and X's condition number
    (the claims' own, independent of the trainers': see :func:`_stack_spectrum`)."""
    top, low = (float(v) for v in _stack_spectrum(X))
    return top, low, math.sqrt(top / low)


def choose_method(condition: float, rtol: float) -> str:
    """Plain GD when it needs at most :data:`GD_BUDGET` steps and at most 3× the steps of
    conjugate gradients at this κ(XXᵀ); conjugate gradients (same limit) otherwise."""
    gd = nl.estimated_steps(condition, rtol, "gd")
    return "gd" if gd <= min(GD_BUDGET, 3.0 * nl.estimated_steps(condition, rtol, "cg")) else "cg"


def train(
    p: Problem, rtol: float = nl.DEFAULT_RTOL, prefer_gd: bool = True
) -> tuple[FloatArray, float, str]:
    """Fine-tune from θ_S: (weights, a-posteriori optimisation-error bound, method).

    ``prefer_gd``: GD whenever it needs at most :data:`GD_BUDGET` steps at this κ(XXᵀ)
    (the theorem's algorithm), else conjugate gradients (same limit); otherwise
    :func:`choose_method`. The bound is 2‖∇L(θ)‖/μ_min plus 64κ(X)eps(‖θ_S‖ + ‖θ‖)."""
    return train_arrays(p.X, p.y, p.theta_s, rtol, prefer_gd)


def train_arrays(
    X: FloatArray, y: FloatArray, theta_s: FloatArray, rtol: float, prefer_gd: bool
) -> tuple[FloatArray, float, str]:
    """:func:`train` on arrays."""
    mu_max, mu_min, cond = spectrum_of(X)
    if prefer_gd:
        gd_ok = nl.estimated_steps(mu_max / mu_min, rtol, "gd") <= GD_BUDGET
        method = "gd" if gd_ok else "cg"
    else:
        method = choose_method(mu_max / mu_min, rtol)
    run = nl.fine_tune(X, y, theta_s, method=method, rtol=rtol)  # type: ignore[arg-type]
    grad = nl.loss_gradient(X, y, run.theta)[1]
    eps = np.finfo(np.float64).eps
    bound = 2.0 * float(np.linalg.norm(grad)) / mu_min
    bound += 64.0 * cond * eps * (float(np.linalg.norm(theta_s)) + float(np.linalg.norm(run.theta)))
    return run.theta, bound, method


# --------------------------------------------------------------------------------------
# L1
# --------------------------------------------------------------------------------------


def check_gd_limit(s: RegressionSetting) -> Outcome:
    p = s.build()
    want = sl.finetuned_weights(p.X, p.y, p.theta_s)
    got, bound, method = train(p)
    err = float(np.linalg.norm(got - want))
    return Outcome(
        err / bound,
        GD_LIMIT.bound,
        float(np.linalg.norm(want)),
        float(np.linalg.norm(got)),
        note=f"{method}: |theta - theta_FT| {err:.3g} vs bound {bound:.3g}",
    )


L1_GD_LIMIT = Claim(
    name="L1-gd-limit",
    statement="first-order training from θ_S (GD; conjugate gradients where GD would need "
    f"more than {GD_BUDGET} steps) converges to θ_FT = θ_S + X⁺(y − Xθ_S) "
    "(least squares for n > d)",
    source="docs/theory.md L1",
    oracle=Oracle.TRAINING,
    tolerance=GD_LIMIT,
    setting_type=RegressionSetting,
    strategy=regression_settings(),
    check=check_gd_limit,
    examples=40,
    thorough_strategy=regression_settings(max_d=MAX_D_THOROUGH),
    domain=REGRESSION_DOMAIN,
    describe=describe_regression,
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

    def validate(self) -> None:
        """The problem's rules; a stable step (0 < fraction < 1 of 2/λ_max) and at most
        :data:`TRAJECTORY_MAX_K` steps (the rounding model of :data:`TRAJECTORY`)."""
        check_rules(self.problem, REGRESSION_RULES, "problem.")
        check_rules(self, TRAJECTORY_RULES)


#: Most GD steps the rounding model of :data:`TRAJECTORY` covers (k <= 300 steps).
TRAJECTORY_MAX_K = 300
TRAJECTORY_RULES: tuple[Rule, ...] = (
    Rule(
        "step_fraction",
        lambda s: 0.0 < s.step_fraction < 1.0,
        "0 < step_fraction < 1 (a stable step eta < 2/lambda_max(X^TX/n))",
    ),
    at_least("k", 0),
    at_most("k", TRAJECTORY_MAX_K, "the accumulated rounding of TRAJECTORY's error model"),
)


#: Relative agreement of two backward-stable routes to lambda_max(X^TX/n) (SVD norm, Gram
#: eigenvalues): each is exact for a matrix within ~d eps of X^TX/n.
SPECTRAL_RTOL = 1e-11


def check_gd_trajectory(s: TrajectorySetting) -> Outcome:
    p = s.problem.build()
    # The step comes from the claim's own spectrum (Gram eigenvalues), not from the function
    # under test; gd_stability_limit is checked against the same 2/mu_max below.
    mu_max = spectrum_of(p.X)[0]
    eta = s.step_fraction * 2.0 / mu_max
    want = sl.gd_iterate(p.X, p.y, p.theta_s, eta, s.k)
    # rtol = tiny: run exactly k steps unless the gradient reaches its rounding floor.
    run = nl.fine_tune(
        p.X, p.y, p.theta_s, step=eta, rtol=np.finfo(float).tiny, max_steps=s.k, strict=False
    )
    err = relative_error(run.theta, want, floor=0.1 * _scale(p))
    limit_err = abs(sl.gd_stability_limit(p.X) * mu_max / 2.0 - 1.0)
    return Outcome.combine(
        {
            "k-th GD iterate vs rsolve solution": (err, TRAJECTORY.bound),
            "stability limit vs 2/mu_max": (limit_err, SPECTRAL_RTOL),
        },
        float(np.linalg.norm(want)),
        float(np.linalg.norm(run.theta)),
    )


L1_TRAJECTORY = Claim(
    name="L1-gd-trajectory",
    statement="the k-th GD iterate equals the rsolve solution of the GD recurrence "
    "(null-space part of θ_S untouched, row-space part relaxing as (1 − ημ)^k)",
    source="docs/theory.md L1 (GD recurrence)",
    oracle=Oracle.SYMBOLIC_IDENTITY,
    tolerance=TRAJECTORY,
    setting_type=TrajectorySetting,
    strategy=st.builds(
        TrajectorySetting,
        problem=regression_settings(),
        step_fraction=st.floats(0.05, 0.95),
        k=st.integers(0, TRAJECTORY_MAX_K),
    ),
    check=check_gd_trajectory,
    examples=40,
    domain=REGRESSION_DOMAIN + "; step 0.05-0.95 of the stability limit, k 0-300 steps",
    describe=lambda s: describe_regression(s.problem),
)

# --------------------------------------------------------------------------------------
# L2
# --------------------------------------------------------------------------------------


def check_risk_decomposition(s: RegressionSetting) -> Outcome:
    p = s.build()
    terms = sl.risk_decomposition(p.X, p.y, p.theta_s, p.theta_t, p.cov)
    theta, delta, method = train(p)
    trained = float(nl.quadratic_risk(theta, p.theta_t, p.cov))
    lam_max = float(np.linalg.eigvalsh(p.cov)[-1])
    bound = 2.0 * float(np.linalg.norm(p.cov @ (theta - p.theta_t))) * delta
    bound += lam_max * delta**2
    bound += 1e-12 * max(abs(terms.total), float(p.theta_s @ p.theta_s + p.theta_t @ p.theta_t))
    err = abs(trained - terms.total)
    return Outcome(
        err / bound, RISK_IDENTITY.bound, terms.total, trained, note=f"{method}, bound {bound:.3g}"
    )


L2_DECOMPOSITION = Claim(
    name="L2-risk-decomposition",
    statement="R(θ_FT) = Δᵀ(I−P)Σ(I−P)Δ + 2Δᵀ(I−P)ΣX⁺ξ + ξᵀX⁺ᵀΣX⁺ξ (bias + cross + variance)",
    source="docs/theory.md L2",
    oracle=Oracle.TRAINING,
    tolerance=RISK_IDENTITY,
    setting_type=RegressionSetting,
    strategy=regression_settings(),
    check=check_risk_decomposition,
    examples=30,
    thorough_strategy=regression_settings(max_d=MAX_D_THOROUGH),
    domain=REGRESSION_DOMAIN,
    describe=describe_regression,
)


@dataclass(frozen=True)
class NoiseAverageSetting:
    """A fixed design (from ``problem``) with ``draws`` independent label-noise vectors."""

    problem: RegressionSetting
    draws: int

    def __post_init__(self) -> None:
        if isinstance(self.problem, dict):
            object.__setattr__(self, "problem", RegressionSetting(**self.problem))

    def validate(self) -> None:
        """The problem's rules with label noise (σ > 0: the average is over it), and at
        least two draws (a standard error)."""
        check_rules(self.problem, (*REGRESSION_RULES, NOISY), "problem.")
        check_rules(self, (at_least("draws", 2, "a standard error needs two draws"),))


NOISY = above("noise_std", 0.0, "the average is over label noise")


def check_noise_average(s: NoiseAverageSetting) -> Outcome:
    p = s.problem.build()
    sigma = s.problem.noise_std
    want = sl.expected_risk_given_design(p.X, p.theta_s, p.theta_t, p.cov, sigma**2)
    rng = np.random.default_rng([s.problem.seed, 1])
    Xs = np.broadcast_to(p.X, (s.draws, *p.X.shape))
    ys = p.X @ p.theta_t + sigma * rng.standard_normal((s.draws, p.X.shape[0]))
    mu_max, mu_min, _ = spectrum_of(p.X)
    method = choose_method(mu_max / mu_min, 1e-10)
    run = nl.fine_tune_many(Xs, ys, p.theta_s, method=method, rtol=1e-10)  # type: ignore[arg-type]
    risks = nl.quadratic_risk(run.theta, p.theta_t, p.cov)
    mean, se = float(risks.mean()), float(risks.std(ddof=1) / np.sqrt(s.draws))
    # The runs' optimisation error (a-posteriori, per draw) moves each risk by at most
    # 2 sqrt(lambda_max R) delta + lambda_max delta^2.
    lam_max = float(np.linalg.eigvalsh(p.cov)[-1])
    delta = 2.0 * np.asarray(run.grad_norm) / mu_min
    floor = float(np.mean(2.0 * np.sqrt(lam_max * risks) * delta + lam_max * delta**2))
    power = vs.detectable_bias(se, mean, floor)
    return Outcome(
        abs(mean - want),
        MC_Z * se + floor,
        want,
        mean,
        note=f"{method}, stderr {se:.3g}, detectable bias {power:.2%}",
    )


L2_NOISE_AVERAGE = Claim(
    name="L2-noise-average",
    statement="averaged over label noise, R(θ_FT) = Δᵀ(I−P)Σ(I−P)Δ + σ² tr(X⁺ᵀΣX⁺)",
    source="docs/theory.md L2 (E over xi)",
    oracle=Oracle.MONTE_CARLO,
    tolerance=MONTE_CARLO,
    setting_type=NoiseAverageSetting,
    strategy=st.builds(
        NoiseAverageSetting,
        problem=regression_settings(max_d=60).filter(lambda r: r.noise_std > 0),
        draws=st.just(400),
    ),
    check=check_noise_average,
    examples=25,
    domain=REGRESSION_DOMAIN.replace(
        "d 2-400 (thorough 1000)", "d 2-60 (400 trainings per example bound d)"
    ).replace("noise 0-1", "noise 0.1 or 1")
    + "; 400 noise draws on one design",
    power="per example ((5 + 2.33) SE + floor)/E R in its note; measured 0.1-31% with 400 "
    "noise draws (quick, seed 0)",
    describe=lambda s: describe_regression(s.problem),
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

    def validate(self) -> None:
        """L3's hypotheses: with noise n ≤ d − 2 or n ≥ d + 2 (the inverse-Wishart mean is
        finite); without noise n < d (for n ≥ d the risk is 0: no relative bias to
        detect); sizes ≥ 1, ε, σ ≥ 0 and at least two designs (a standard error)."""
        check_rules(self, L3_RULES)


L3_RULES: tuple[Rule, ...] = (
    at_least("d", 1),
    at_least("n", 1),
    SEED_RULE,
    *TEACHER_RULES,
    Rule(
        "n, d",
        lambda s: s.noise_std == 0.0 or s.n <= s.d - 2 or s.n >= s.d + 2,
        "n <= d - 2 or n >= d + 2 when noise_std > 0 (L3: the inverse-Wishart mean is finite)",
    ),
    Rule(
        "n, d",
        lambda s: s.noise_std > 0.0 or s.n < s.d,
        "n < d when noise_std = 0 (L3: for n >= d the noiseless risk is 0, no relative bias "
        "to detect)",
    ),
    at_least("designs", 2, "a standard error needs two designs"),
)


#: Orthonormal source directions (each with its own noise draw) trained per design.
PROBES = 4
#: Training tolerance of the L3 runs: their a-posteriori risk floor (~kappa rtol relative)
#: stays far below the 0.3% standard errors the power target needs.
L3_RTOL = 1e-9
#: Rounds of extra designs after the pilot, each sized from the variance seen so far.
MAX_ROUNDS = 3
#: Designs of the pilot batch that estimates the per-design variance.
PILOT_DESIGNS = 48
#: With noise, n/d stays at most this (or d/n does): see :func:`design_average_settings`.
NOISY_RATIO = 0.6
#: Without noise, n/d stays at most this: the bias (1 - n/d)|Delta|^2 has a relative spread
#: ~ sqrt(2n/(d(d - n))) per design, so n -> d needs ~10^4 designs for a 2% detectable bias.
NOISELESS_RATIO = 0.8
#: Largest d of the L3 search (the power target makes every example thousands of
#: trainings; the large-d behaviour is L4's domain).
L3_MAX_D, L3_MAX_D_THOROUGH = 100, 400
#: At most this many matrix entries (designs x probes x n x d) are trained per example.
MAX_WORK = 4e9
#: Entries per training batch (memory: 8 bytes each, a few copies).
CHUNK_ENTRIES = 2_000_000


@st.composite
def design_average_settings(draw: st.DrawFn, max_d: int = L3_MAX_D) -> DesignAverageSetting:
    """d 3..``max_d`` (tiered); noiseless: n in [1, min(d − 1, 0.8d)], the
    bias (1 − n/d)‖Δ‖² has every moment; with noise: n ≤ min(d − 8, 0.6d) or
    n ≥ max(d + 8, d/0.6) (up to 2d + 8): the inverse-Wishart trace has a finite fourth
    moment (so the standard error is itself reliable) and a spread small enough that the
    designs for a 2% detectable bias stay affordable (at n = 0.9d it needs ~10^4 designs).
    ``designs`` is the pilot batch; the check adds designs until the power target is met."""
    d = draw(dimensions(max_d, min_d=3))
    # Noise first (the noise term carries the degrees of freedom d - n - 1), under-
    # parameterised first: the simplest draws are the ones most sensitive to the formula.
    noise = draw(st.sampled_from([1.0, 0.3, 0.0]))
    if noise == 0.0:
        n = draw(st.integers(1, max(1, min(d - 1, int(NOISELESS_RATIO * d)))))
    elif d > 9 and not draw(st.booleans()):
        n = draw(st.integers(1, max(1, min(d - 8, int(NOISY_RATIO * d)))))
    else:
        n = draw(st.integers(max(d + 8, math.ceil(d / NOISY_RATIO)), 2 * d + 8))
    return DesignAverageSetting(
        d=d,
        n=n,
        seed=draw(SEEDS),
        alpha=draw(st.floats(-2.0, 2.0)),
        epsilon=draw(st.floats(0.0, 1.0)),
        noise_std=noise,
        designs=PILOT_DESIGNS,
    )


def trained_risks(
    X: FloatArray,
    y: FloatArray,
    theta_s: FloatArray,
    theta_t: FloatArray,
    cov: FloatArray,
    rtol: float = 1e-12,
) -> tuple[FloatArray, float, str]:
    """Fine-tune every design of a stack from θ_S: (risks, mean a-posteriori risk error,
    method). GD when it needs at most :data:`GD_BUDGET` steps on the worst design, else
    conjugate gradients; the risk error per design is 2√(λ_max R)δ + λ_max δ² with
    δ = 2‖∇L‖/μ_min (see :func:`train`)."""
    mu_max, mu_min = (np.asarray(v) for v in _stack_spectrum(X))
    method = choose_method(float(np.max(mu_max / mu_min)), rtol)
    run = nl.fine_tune_many(X, y, theta_s, method=method, rtol=rtol)  # type: ignore[arg-type]
    risks = nl.quadratic_risk(run.theta, theta_t, cov)
    lam_max = float(np.linalg.eigvalsh(cov)[-1])
    delta = 2.0 * np.asarray(run.grad_norm) / mu_min
    floor = float(np.mean(2.0 * np.sqrt(lam_max * risks) * delta + lam_max * delta**2))
    return np.asarray(risks, dtype=np.float64), floor, method


def _stack_spectrum(X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(μ_max, μ_min) of XᵀX/n per design of a stack (…, n, d), nonzero eigenvalues."""
    n, d = X.shape[-2:]
    Xt = np.swapaxes(X, -1, -2)
    gram = X @ Xt if n <= d else Xt @ X  # the smaller Gram matrix: eigenvalues n·μ
    lam = np.linalg.eigvalsh(gram)
    top = lam[..., -1:]
    keep = lam > top * max(n, d) * np.finfo(np.float64).eps
    low = np.min(np.where(keep, lam, np.inf), axis=-1)
    return np.asarray(top[..., 0] / n), np.asarray(low / n)


def bartlett_inverse_trace(X: FloatArray) -> tuple[FloatArray, float]:
    """Per design, V = sum_i 1/L_ii^2 for the Cholesky factor L of the smaller Gram matrix
    (XX^T for n < d, X^TX for n > d), and its exact mean.

    Bartlett's decomposition of a Wishart matrix W_p(k, I): L_ii^2 ~ chi^2_(k-i+1),
    independent, and E[1/chi^2_v] = 1/(v - 2), so E V = sum_(i=1..p) 1/(k - i - 1). V tracks
    the inverse-Wishart trace behind the variance term (a control variate, not the formula
    under test: it needs k - p >= 4 for a finite variance)."""
    n, d = X.shape[-2:]
    Xt = np.swapaxes(X, -1, -2)
    gram = X @ Xt if n < d else Xt @ X
    diag = np.diagonal(np.linalg.cholesky(gram), axis1=-2, axis2=-1)
    p, k = min(n, d), max(n, d)
    mean = float(sum(1.0 / (k - i - 1) for i in range(1, p + 1)))
    return np.sum(1.0 / diag**2, axis=-1), mean


def _design_batch(
    s: DesignAverageSetting,
    theta_t: FloatArray,
    delta_norm: float,
    designs: int,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, float, str]:
    """Train ``designs`` isotropic designs, each from ``PROBES`` source points: per design the
    mean risk over its probes, the control variates (known mean 0) and the mean a-posteriori
    risk floor."""
    k = min(PROBES, s.d)
    per_chunk = max(1, int(CHUNK_ENTRIES // (k * s.n * s.d)))
    risks, controls, floors, methods = [], [], [], set()
    done = 0
    while done < designs:
        c = min(per_chunk, designs - done)
        X = nd.sample_inputs(s.n, s.d, rng, batch=c)
        # Orthonormal directions q_j per design: by rotation invariance of N(0, I) inputs the
        # risk law depends on Delta only through |Delta|, so theta_S^(j) = theta_T - |Delta| q_j
        # are K draws of the same problem whose bias parts are negatively correlated.
        q = np.linalg.qr(rng.standard_normal((c, s.d, k)))[0]
        sources = theta_t[None, :, None] - delta_norm * q
        Xs = np.repeat(X, k, axis=0)
        ys = nd.labels(Xs, theta_t, s.noise_std, rng)
        ts = np.swapaxes(sources, 1, 2).reshape(c * k, s.d)
        r, floor, method = trained_risks(Xs, ys, ts, theta_t, np.eye(s.d), L3_RTOL)
        risks.append(r.reshape(c, k).mean(axis=1))
        xq = np.einsum("mnd,mdk->mnk", X, q)
        cv = [delta_norm**2 * (np.sum(xq**2, axis=(1, 2)) / k - s.n)]
        if s.noise_std > 0:
            v, v_mean = bartlett_inverse_trace(X)
            cv.append(s.noise_std**2 * (v - v_mean))
        controls.append(np.column_stack(cv))
        floors.append(floor * c)
        methods.add(method)
        done += c
    return (
        np.concatenate(risks),
        np.concatenate(controls),
        float(sum(floors) / designs),
        "+".join(sorted(methods)),
    )


def check_expected_risk(s: DesignAverageSetting) -> Outcome:
    rng = np.random.default_rng(s.seed)
    theta_s = nd.random_unit_vector(s.d, rng)
    theta_t = nd.synthetic_teacher(theta_s, s.alpha, s.epsilon, rng)
    delta_sq = float(np.sum((theta_s - theta_t) ** 2))
    want = sl.expected_risk_isotropic(delta_sq, n=s.n, d=s.d, noise_var=s.noise_std**2)
    delta_norm = math.sqrt(delta_sq)
    risks, controls, floor, method = _design_batch(s, theta_t, delta_norm, s.designs, rng)
    # Work per design: probes x entries x ~sqrt(kappa(XX^T)) conjugate-gradient iterations,
    # kappa from the Marchenko-Pastur edges ((1 + sqrt(r))/(1 - sqrt(r)))^2, r = min/max(n, d).
    r = min(s.n, s.d) / max(s.n, s.d)
    iterations = (1 + math.sqrt(r)) / (1 - math.sqrt(r)) if r < 1 else 1e3
    cap = max(s.designs, int(MAX_WORK / (min(PROBES, s.d) * s.n * s.d * iterations)))
    for _ in range(MAX_ROUNDS):
        est = vs.control_variate_mean(risks, controls)
        if est.mean <= 0 or vs.detectable_bias(est.stderr, est.mean, floor) <= vs.POWER_TARGET:
            break
        # More designs for a detectable bias of POWER_TARGET, from the variance seen so far
        # (never from the formula under test); 1.3x for the error of that estimate.
        rel_sd = est.stderr * math.sqrt(est.samples) / est.mean
        total = min(cap, math.ceil(1.3 * vs.samples_for(rel_sd)))
        if total <= len(risks):
            break
        extra = total - len(risks)
        more = _design_batch(s, theta_t, delta_norm, extra, rng)
        floor = (floor * len(risks) + more[2] * extra) / total
        risks = np.concatenate([risks, more[0]])
        controls = np.concatenate([controls, more[1]])
    est = vs.control_variate_mean(risks, controls)
    parts = {"E R vs formula (5 SE + floor)": (abs(est.mean - want), MC_Z * est.stderr + floor)}
    power = vs.detectable_bias(est.stderr, est.mean, floor)
    if (delta_sq > 0 or s.noise_std > 0) and not power <= vs.POWER_TARGET:
        # Underpowered (the design cap bound): a failure of the claim, not of the formula.
        # When met, the power is reported but does not enter the score Hypothesis climbs.
        parts[f"detectable bias <= {vs.POWER_TARGET:.0%}"] = (power, vs.POWER_TARGET)
    return Outcome.combine(
        parts,
        want,
        est.mean,
        note=f"{method}, {est.samples} designs x {min(PROBES, s.d)} probes, stderr "
        f"{est.stderr:.3g}, variance reduction {est.reduction:.2f}, detectable bias {power:.2%}",
    )


L3_EXPECTED = Claim(
    name="L3-expected-risk",
    statement="for x ~ N(0, I): E R(θ_FT) = (1 − n/d)‖Δ‖² + σ²n/(d − n − 1) if n ≤ d − 2, "
    "σ²d/(n − d − 1) if n ≥ d + 2",
    source="docs/theory.md L3",
    oracle=Oracle.MONTE_CARLO,
    tolerance=MONTE_CARLO,
    setting_type=DesignAverageSetting,
    strategy=design_average_settings(),
    check=check_expected_risk,
    examples=12,
    thorough_strategy=design_average_settings(max_d=L3_MAX_D_THOROUGH),
    domain=f"isotropic inputs, d 3-{L3_MAX_D} (thorough {L3_MAX_D_THOROUGH}); noiseless: n "
    f"1..min(d - 1, {NOISELESS_RATIO}d); noise 0.3 or 1: n <= min(d - 8, {NOISY_RATIO}d) or "
    f"max(d + 8, d/{NOISY_RATIO})..2d + 8 (finite fourth moment of the inverse-Wishart trace, "
    f"affordable power); {PILOT_DESIGNS} pilot designs x {PROBES} orthonormal source "
    f"directions, then designs added until the detectable bias is <= {vs.POWER_TARGET:.0%}",
    describe=lambda s: {"n/d": s.n / s.d},
    power="every example detects a 2% relative bias of E R with probability >= 0.99 "
    "((5 + 2.33) SE + floor <= 0.02 E R, SE from the run's own control-variate variance): "
    "designs are added until it does, and an example that cannot (design cap) fails",
)


@dataclass(frozen=True)
class SpecialCaseSetting:
    """``case`` 'n=d': a square, well-conditioned design without noise (θ_T is recovered);
    'source=target': θ_S = θ_T with optional noise (the bias and cross terms vanish)."""

    case: str
    d: int
    seed: int
    noise_std: float
    #: Condition number of the square design of the 'n=d' case.
    condition: float = 3.0

    def validate(self) -> None:
        """A known case, d ≥ 1, σ ≥ 0 and a condition number ≥ 1 (any d: the 'n=d' design
        is square and full rank, 'source=target' draws n ≤ max(1, d − 1))."""
        check_rules(self, SPECIAL_CASE_RULES)


#: The special cases of :class:`SpecialCaseSetting`.
SPECIAL_CASES = ("n=d", "source=target")
SPECIAL_CASE_RULES: tuple[Rule, ...] = (
    one_of("case", SPECIAL_CASES),
    at_least("d", 1),
    SEED_RULE,
    at_least("noise_std", 0.0, "a standard deviation"),
    at_least("condition", 1.0, "the square design's condition number"),
)


def check_special_case(s: SpecialCaseSetting) -> Outcome:
    rng = np.random.default_rng(s.seed)
    theta_t = nd.random_unit_vector(s.d, rng)
    if s.case == "n=d":
        theta_s = nd.random_unit_vector(s.d, rng)
        # X = U diag(svals) Vᵀ, singular values log-uniform in [1, cond]: square, full rank.
        u, v = nd.random_orthogonal(s.d, rng), nd.random_orthogonal(s.d, rng)
        X = (u * np.exp(rng.uniform(0.0, np.log(s.condition), s.d))) @ v.T
        y = X @ theta_t
        sym = sl.finetuned_weights(X, y, theta_s)
        theta, bound, method = train_arrays(X, y, theta_s, nl.DEFAULT_RTOL, True)
        risk_formula = sl.expected_risk_isotropic(
            float(np.sum((theta_s - theta_t) ** 2)), n=s.d, d=s.d
        )
        eps = np.finfo(np.float64).eps
        return Outcome.combine(
            {
                "closed form recovers theta_T": (
                    max(relative_error(sym, theta_t), risk_formula),
                    EXACT.bound + 64 * s.condition * eps,
                ),
                "trained recovers theta_T (a-posteriori bound)": (
                    float(np.linalg.norm(theta - theta_t)),
                    bound,
                ),
            },
            0.0,
            float(np.linalg.norm(theta - theta_t)),
            note=method,
        )
    n = int(rng.integers(1, max(2, s.d) + 1)) if s.d > 1 else 1
    X = nd.sample_inputs(min(n, max(1, s.d - 1)), s.d, rng)
    noise = s.noise_std * rng.standard_normal(X.shape[0])
    y = X @ theta_t + noise
    terms = sl.risk_decomposition(X, y, theta_t, theta_t)
    theta, delta, method = train_arrays(X, y, theta_t, nl.DEFAULT_RTOL, True)
    trained = float(nl.quadratic_risk(theta, theta_t))
    exact = abs(terms.bias) + abs(terms.cross)
    risk_bound = 2.0 * np.sqrt(max(trained, 0.0)) * delta + delta**2 + 1e-12 * terms.variance
    return Outcome.combine(
        {
            "bias and cross terms vanish": (exact, EXACT.bound),
            "trained risk = variance term (a-posteriori bound)": (
                abs(trained - terms.variance),
                risk_bound,
            ),
        },
        terms.variance,
        trained,
        note=method,
    )


EXACT_CASES = Claim(
    name="L-exact-cases",
    statement="n = d without noise recovers θ_T exactly; θ_S = θ_T leaves zero "
    "bias and cross terms (risk = variance, 0 without noise)",
    source="docs/theory.md L1-L3 (special cases)",
    oracle=Oracle.EXACT_SPECIAL_CASE,
    tolerance=EXACT,
    setting_type=SpecialCaseSetting,
    strategy=st.builds(
        SpecialCaseSetting,
        case=st.sampled_from(SPECIAL_CASES),
        d=dimensions(400, min_d=1),
        seed=SEEDS,
        noise_std=st.sampled_from([0.0, 0.5]),
        condition=condition_numbers(100.0),
    ),
    check=check_special_case,
    examples=30,
    domain="d 1-400 (tiered); n = d square designs with condition number 1-100 (no noise); "
    "theta_S = theta_T with n 1..d-1 isotropic inputs, noise 0 or 0.5",
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

    def validate(self) -> None:
        """L4's regime γ = d/n > 1 (n < d; n ≤ d − 2 with noise, where the finite-n variance
        term is finite), d ≥ :data:`L4_MIN_D` (where the finite-size allowance of
        :data:`ASYMPTOTIC` was measured), a known spectrum and alignment, σ ≥ 0 and at least
        two designs (a standard error)."""
        check_rules(self, L4_RULES)


#: Smallest d at which the finite-size allowance 2/(d − n) of :data:`ASYMPTOTIC` was
#: measured (d = 50..400): below it the asymptotic risk is not what a finite run estimates.
L4_MIN_D = 50
L4_RULES: tuple[Rule, ...] = (
    at_least("d", L4_MIN_D, "the finite-size allowance of ASYMPTOTIC is measured from there"),
    at_least("n", 1),
    Rule("n, d", lambda s: s.n < s.d, "n < d (L4: gamma = d/n > 1)"),
    Rule(
        "n, d",
        lambda s: s.noise_std == 0.0 or s.n <= s.d - 2,
        "n <= d - 2 when noise_std > 0 (the finite-n variance term is finite)",
    ),
    SEED_RULE,
    *SPECTRUM_RULES,
    one_of("alignment", ALIGNMENTS),
    at_least("noise_std", 0.0, "a standard deviation"),
    at_least("designs", 2, "a standard error needs two designs"),
)


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
def asymptotic_settings(draw: st.DrawFn, max_d: int = 400) -> AsymptoticSetting:
    """d ∈ [200, ``max_d``] (proportional regime), γ = d/n ∈ [1.5, 8], κ(Σ) up to 100,
    Δ on the top, middle or bottom tenth of Σ's eigen-directions or spread at random."""
    d = draw(st.integers(200, max_d))
    gamma = draw(st.floats(1.5, 8.0))
    return AsymptoticSetting(
        d=d,
        n=max(1, min(d - 2, round(d / gamma))),
        seed=draw(SEEDS),
        spectrum=draw(st.sampled_from(SPECTRA)),
        condition=draw(condition_numbers(100.0)),
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
    cov = np.diag(lam)
    X = nd.sample_inputs(s.n, s.d, rng, cov=cov, batch=s.designs)
    y = nd.labels(X, theta_t, s.noise_std, rng)
    risks, floor, method = trained_risks(X, y, theta_t + b, theta_t, cov)
    mean, se = float(risks.mean()), float(risks.std(ddof=1) / np.sqrt(s.designs))
    # The finite-size allowance scales with the trained mean (not the formula under test).
    finite = FINITE_SIZE_C * mean / (s.d - s.n)
    threshold = MC_Z * se + finite + floor
    power = vs.detectable_bias(se, mean, finite + floor)
    return Outcome(
        abs(mean - want),
        threshold,
        want,
        mean,
        note=f"{method}, stderr {se:.3g}, detectable bias {power:.2%}",
    )


L4_ASYMPTOTIC = Claim(
    name="L4-asymptotic-risk",
    statement="at large d, E R(θ_FT) matches the HMRT asymptotic bias + variance "
    "with β → θ_T − θ_S",
    source="docs/theory.md L4",
    oracle=Oracle.MONTE_CARLO,
    tolerance=ASYMPTOTIC,
    setting_type=AsymptoticSetting,
    strategy=asymptotic_settings(),
    check=check_asymptotic,
    examples=25,
    thorough_strategy=asymptotic_settings(max_d=MAX_D_THOROUGH),
    domain="d 200-400 (thorough 1000), gamma = d/n 1.5-8, Sigma = diag(spectrum) "
    "isotropic/power-law/spiked/two-level with kappa 1-100, Delta on the top/middle/bottom "
    "tenth of the eigen-directions or random, noise 0 or 0.5, 32 designs",
    describe=lambda s: {"gamma": s.d / s.n},
    power="per example ((5 + 2.33) SE + finite-size allowance 2/(d - n) + floor)/E R, in its "
    "note; measured 4-30% at 32 designs, d 200-400 (quick, seed 0): the 2% target is not "
    "met (the finite-size allowance alone is 0.5-3%; it needs d - n >= 200 and ~10^3 "
    "designs)",
)

# --------------------------------------------------------------------------------------
# The package's own estimators and generators (what every other claim builds on)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimatorSetting:
    """A covariance (spectrum, κ), a source vector, a teacher family (α, ε), label noise σ
    and a Monte Carlo budget M of test inputs."""

    d: int
    seed: int
    spectrum: str
    condition: float
    alpha: float
    epsilon: float
    noise_std: float
    samples: int

    def validate(self) -> None:
        """d ≥ 1, a known spectrum with κ ≥ 1, a finite teacher with ε, σ ≥ 0 and at least
        :data:`ESTIMATOR_MIN_SAMPLES` samples (the error model of the standard-error part)."""
        check_rules(self, ESTIMATOR_RULES)


#: Fewest Monte Carlo samples M at which the sample sd of the risk samples is within ~3%
#: (see :data:`STDERR_LOG_RATIO`): the standard-error part of :data:`ESTIMATORS` needs it.
ESTIMATOR_MIN_SAMPLES = 10_000
ESTIMATOR_RULES: tuple[Rule, ...] = (
    at_least("d", 1),
    SEED_RULE,
    *SPECTRUM_RULES,
    *TEACHER_RULES,
    at_least("samples", ESTIMATOR_MIN_SAMPLES, "the standard-error model of ESTIMATORS"),
)


#: Standard errors allowed for the Monte Carlo parts (false alarm ~6e-7 each, as MC_Z).
ESTIMATOR_Z = MC_Z
#: |log(reported/exact standard error)|: the risk samples are R chi^2_1 (sd sqrt(2) R), whose
#: sample sd has relative error ~sqrt(56/M)/2 <= 0.03 at M >= 10^4: log 1.2 is > 6 of those.
STDERR_LOG_RATIO = math.log(1.2)
ESTIMATORS = Tolerance(
    "exact-generators+monte-carlo-5se",
    1.0,
    "ratio to the worst part: generators exactly (cov_from_spectrum's eigenvalues = the "
    "spectrum to 1e-12 kappa; synthetic_teacher at epsilon = 0 is alpha theta_S to 1e-14); "
    "Monte Carlo parts within 5 standard errors of their exact expectations (sample "
    "covariance entry (i, j): SE sqrt((S_ii S_jj + S_ij^2)/M); label-noise variance: SE "
    "sigma^2 sqrt(2/M); teacher spread E|theta_T - alpha theta_S|^2 = epsilon^2: SE "
    "epsilon^2 sqrt(2/(d K)); population risk: its own SE) and the reported standard error "
    "within a factor 1.2 of the exact sqrt(2) R/sqrt(M); sample_complexity equal to the "
    "smallest n found by scanning the L3 risk",
)


#: Smallest epsilon / max(1, |alpha|) at which the teacher spread is measured as
#: theta_T - alpha theta_S: the cancellation leaves a relative error ~1e-16 / ratio on epsilon,
#: 2e-10 at 1e-6, far inside the spread's Monte Carlo standard error (~7% at K = 400, d = 1).
SPREAD_MIN_RATIO = 1e-6


def check_estimators(s: EstimatorSetting) -> Outcome:
    rng = np.random.default_rng(s.seed)
    lam = nd.spectrum(s.spectrum, s.d, s.condition)  # type: ignore[arg-type]
    cov = nd.cov_from_spectrum(lam, rng)
    eig = np.linalg.eigvalsh(cov)
    parts: dict[str, tuple[float, float]] = {
        "cov_from_spectrum eigenvalues": (
            float(np.max(np.abs(eig - np.sort(lam)))) / float(np.max(lam)),
            1e-12 * s.condition,
        )
    }
    theta_s = nd.random_unit_vector(s.d, rng)
    exact_teacher = nd.synthetic_teacher(theta_s, s.alpha, 0.0, rng)
    parts["synthetic_teacher at epsilon = 0"] = (
        float(np.linalg.norm(exact_teacher - s.alpha * theta_s)),
        1e-14 * max(1.0, abs(s.alpha)),
    )
    k = 400
    # theta_T - alpha theta_S recovers epsilon zeta only while epsilon is well above the
    # rounding of alpha theta_S (~1e-16 |alpha|); below SPREAD_MIN_RATIO |alpha| the spread is
    # measured on the alpha = 0 teacher, where theta_T = epsilon zeta with no cancellation.
    alpha = s.alpha if s.epsilon >= SPREAD_MIN_RATIO * max(1.0, abs(s.alpha)) else 0.0
    spread = [
        float(np.sum((nd.synthetic_teacher(theta_s, alpha, s.epsilon, rng) - alpha * theta_s) ** 2))
        for _ in range(k)
    ]
    if s.epsilon > 1e-100:  # (below, epsilon^2 underflows: nothing to measure)
        se = s.epsilon**2 * math.sqrt(2.0 / (s.d * k))
        parts["teacher spread E|theta_T - alpha theta_S|^2 = epsilon^2"] = (
            abs(float(np.mean(spread)) - s.epsilon**2),
            ESTIMATOR_Z * se,
        )
    X = nd.sample_inputs(s.samples, s.d, rng, cov=cov)
    sample_cov = X.T @ X / s.samples
    diag = np.diag(cov)
    entry_se = np.sqrt((np.outer(diag, diag) + cov**2) / s.samples)
    parts["sample covariance of sample_inputs (max |z|)"] = (
        float(np.max(np.abs(sample_cov - cov) / entry_se)),
        ESTIMATOR_Z + 1.0,  # max over d(d+1)/2 <= 1300 entries: 6 SE, false alarm ~3e-6
    )
    theta_t = nd.synthetic_teacher(theta_s, s.alpha, s.epsilon, rng)
    y = nd.labels(X, theta_t, s.noise_std, rng)
    if s.noise_std > 0:
        noise_var = float(np.mean((y - X @ theta_t) ** 2))
        parts["label noise variance"] = (
            abs(noise_var - s.noise_std**2),
            ESTIMATOR_Z * s.noise_std**2 * math.sqrt(2.0 / s.samples),
        )
    R = sl.excess_risk(theta_s, theta_t, cov)
    est = nl.population_risk_mc(theta_s, theta_t, rng, cov=cov, n_test=s.samples)
    if R > 0:
        parts["population_risk_mc vs excess_risk"] = (abs(est.mean - R), ESTIMATOR_Z * est.stderr)
        parts["reported stderr vs sqrt(2) R/sqrt(M)"] = (
            abs(math.log(est.stderr / (math.sqrt(2.0) * R / math.sqrt(s.samples)))),
            STDERR_LOG_RATIO,
        )
    # sample_complexity: the smallest n whose noiseless L3 risk (1 - n/d)|Delta|^2 <= eps,
    # found by scanning n (the L3 formula itself is checked against training by L3).
    delta_sq = float(np.sum((theta_s - theta_t) ** 2))
    eps_target = 0.37 * delta_sq if delta_sq > 0 else 0.1
    # (with Delta = 0 every n meets it: n = 0; at n = d the noiseless risk is 0 <= eps)
    scan = next(
        n for n in range(s.d + 1) if sl.expected_risk_isotropic(delta_sq, n=n, d=s.d) <= eps_target
    )
    parts["sample_complexity vs scan"] = (
        float(abs(sl.sample_complexity(delta_sq, d=s.d, epsilon=eps_target) - scan)),
        0.5,
    )
    return Outcome.combine(parts, R, est.mean, note=f"M = {s.samples}")


ESTIMATORS_CLAIM = Claim(
    name="L-estimators",
    statement="the package's generators and estimators do what the other claims assume: "
    "Sigma has the requested spectrum, theta_T = alpha theta_S + epsilon zeta with "
    "E|zeta|^2 = 1, inputs have covariance Sigma, labels noise variance sigma^2, "
    "population_risk_mc estimates (theta - theta_T)^T Sigma (theta - theta_T) with the "
    "right standard error, and sample_complexity is the smallest n meeting the L3 risk",
    source="docs/theory.md L1-L3 (setup)",
    oracle=Oracle.EXACT_SPECIAL_CASE,
    tolerance=ESTIMATORS,
    setting_type=EstimatorSetting,
    strategy=st.builds(
        EstimatorSetting,
        d=dimensions(50, min_d=1),
        seed=SEEDS,
        spectrum=st.sampled_from(SPECTRA),
        condition=condition_numbers(100.0),
        alpha=st.floats(-2.0, 2.0),
        epsilon=st.floats(0.0, 1.0),
        noise_std=st.sampled_from([0.0, 0.5, 1.0]),
        samples=st.just(20_000),
    ),
    check=check_estimators,
    examples=15,
    domain="d 1-50 (tiered), Sigma isotropic/power-law/spiked/two-level with kappa 1-100, "
    "alpha in [-2, 2], epsilon in [0, 1], noise 0, 0.5 or 1; 20000 inputs and test points, "
    "400 teachers",
    power="Monte Carlo parts at 5-6 SE of M = 20000: a relative error of 5% in the "
    "population risk, 2.5% in the noise variance or 3x in the standard error is detected",
)

CLAIMS: tuple[Claim, ...] = (
    L1_GD_LIMIT,
    L1_TRAJECTORY,
    L2_DECOMPOSITION,
    L2_NOISE_AVERAGE,
    L3_EXPECTED,
    EXACT_CASES,
    L4_ASYMPTOTIC,
    ESTIMATORS_CLAIM,
)
