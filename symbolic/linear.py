"""Linear regression fine-tuned from pretrained weights θ_S (docs/theory.md §1, L1–L4).

Two kinds of public names live here:

* ``derive_*`` functions return frozen dataclasses of SymPy objects produced by SymPy doing
  the algebra (``solve``, ``rsolve``, ``integrate``, ``limit``), each paired with the
  textbook form so a test can show that they agree. They are cached: the first call does the
  algebra, later calls are free. Some of them check a stated answer taken from the literature
  instead of deriving it; each result's ``.provenance`` says which (docs/theory.md).
* Evaluation functions (:func:`finetuned_weights`, :func:`excess_risk`,
  :func:`expected_risk_isotropic`, :func:`asymptotic_risk`, ...) take numbers and NumPy
  arrays and return floats/arrays. Scalar closed forms are evaluated by ``_form_*``
  functions: the derived expression shipped as plain arithmetic (no SymPy work at call
  time; tests/symbolic/test_shipped_forms.py checks each equals its derivation); matrix
  closed forms use the equivalent NumPy linear algebra.

Conventions (docs/notation.md): X is (n, d) with rows x_i; the loss is
L(θ) = (1/2n)‖Xθ − y‖²; excess risk R(θ) = (θ − θ_T)ᵀ Σ (θ − θ_T) excludes the label
noise σ²; Δ = θ_S − θ_T.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any, TypeVar, cast

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike
from scipy import optimize

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.deprecation import warn_deprecated
from finetune_theory.errors import InputError
from finetune_theory.scaling import pow2_scale as _unit
from symbolic import _symbols as syms
from symbolic._provenance import Provenance, provenance_of
from symbolic._render import LatexRendered

__all__ = [
    "AsymptoticIsotropic",
    "ExpectedRiskDerivation",
    "GradientDescentDerivation",
    "KKTDerivation",
    "MatrixKKTDerivation",
    "RiskDecomposition",
    "RiskTerms",
    "SampleComplexity",
    "asymptotic_risk",
    "derive_asymptotic_isotropic",
    "derive_expected_risk_isotropic",
    "derive_gradient_descent",
    "derive_min_distance_interpolant",
    "derive_min_distance_interpolant_matrix",
    "derive_risk_decomposition",
    "derive_sample_complexity",
    "derive_two_level_fixed_point",
    "excess_risk",
    "expected_risk_given_design",
    "expected_risk_isotropic",
    "finetuned_weights",
    "gd_iterate",
    "gd_stability_limit",
    "hmrt_c0",
    "risk_decomposition",
    "risk_terms",
    "sample_complexity",
    "sample_complexity_ratio",
]


# ======================================================================================
# float64 range: exact power-of-two scaling, so that no intermediate over- or underflows
# ======================================================================================


def _scaled(value: float, shift: int, what: str, normal: bool = False) -> float:
    """value·2^shift as a float, or an InputError naming ``what`` when it overflows float64
    (and, with ``normal``, when it falls below the normal range). Underflow otherwise
    rounds to a subnormal or 0, the correctly rounded value."""
    if not math.isfinite(value):
        raise InputError(f"{what} overflows float64")
    if value == 0.0:
        if normal:
            raise InputError(f"{what} is 0 in float64 (below the normal range)")
        return 0.0
    mantissa, e = math.frexp(value)
    if e + shift > 1024:
        raise InputError(f"{what} overflows float64 (about 2^{e + shift})")
    if normal and e + shift < -1021:
        raise InputError(f"{what} underflows float64 (about 2^{e + shift})")
    return math.ldexp(mantissa, e + shift)


def _scaled_difference(a: FloatArray, b: FloatArray) -> tuple[FloatArray, int]:
    """(u, e) with a − b = u·2^e, computed without overflow (both scaled by one power of 2)."""
    e = _unit(np.concatenate([a, b]))[1]
    u, f = _unit(np.ldexp(a, -e) - np.ldexp(b, -e))
    return u, e + f


def _quad(a: FloatArray, S: FloatArray, b: FloatArray, shift: int, what: str) -> float:
    """aᵀSb·2^shift, each factor rescaled to unit size first (InputError naming ``what``
    if the result overflows float64)."""
    au, ea = _unit(a)
    bu, eb = _unit(b)
    Su, es = _unit(S)
    return _scaled(float(au @ Su @ bu), shift + ea + eb + es, what)


# ======================================================================================
# L1 — implicit bias: the interpolant closest to θ_S
# ======================================================================================


@dataclass(frozen=True)
class KKTDerivation(LatexRendered):
    """L1 for concrete sizes with symbolic entries.

    ``solution`` solves the KKT system of min ½‖θ − θ_S‖² s.t. Xθ = y (SymPy ``solve``);
    ``textbook`` is θ_S + Xᵀ(XXᵀ)⁻¹(y − Xθ_S); their difference simplifies to zero.
    """

    X: sp.Matrix
    y: sp.Matrix
    theta_s: sp.Matrix
    lagrangian: sp.Expr
    solution: sp.Matrix
    textbook: sp.Matrix

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_min_distance_interpolant")


#: Largest KKT sizes :func:`derive_min_distance_interpolant` accepts. The elimination itself
#: is fast, but the rational functions it returns grow quickly (3 × 8 has ~2·10⁴ operations
#: per entry; n_rows = 4 makes the textbook inverse take seconds and simplifying the
#: difference minutes). General sizes are derive_min_distance_interpolant_matrix's job.
MAX_KKT_ROWS = 3
MAX_KKT_COLS = 8


def derive_min_distance_interpolant(n_rows: int = 2, d_cols: int = 3) -> KKTDerivation:
    """Solve the Lagrangian/KKT system of L1 for an (n_rows, d_cols) design of symbols.

    L(θ, λ) = ½‖θ − θ_S‖² + λᵀ(Xθ − y); setting ∂L/∂θ = 0 and Xθ = y gives a linear system
    in (θ, λ) that SymPy solves exactly (Gaussian elimination of the KKT matrix,
    ``LUsolve``; no simplification, so the entries are unsimplified rational functions).
    Needs 1 ≤ n_rows < d_cols (a genuine interpolation problem), n_rows ≤ MAX_KKT_ROWS and
    d_cols ≤ MAX_KKT_COLS. The arguments are validated before the cache is consulted, so
    ``derive_min_distance_interpolant(2.0, 3)`` is refused even after ``(2, 3)``.
    """
    n_rows = checks.positive_int(n_rows, "n_rows")
    d_cols = checks.positive_int(d_cols, "d_cols")
    if n_rows >= d_cols:
        raise InputError(
            f"derive_min_distance_interpolant needs n < d: n_rows must be < d_cols (more "
            f"features than samples), got n_rows={n_rows}, d_cols={d_cols}"
        )
    if n_rows > MAX_KKT_ROWS or d_cols > MAX_KKT_COLS:
        raise InputError(
            f"derive_min_distance_interpolant takes n_rows <= {MAX_KKT_ROWS} and d_cols <= "
            f"{MAX_KKT_COLS} (symbolic entries; larger sizes take minutes to hours), got "
            f"n_rows={n_rows}, d_cols={d_cols}; use derive_min_distance_interpolant_matrix "
            f"for general sizes"
        )
    return _kkt_derivation(n_rows, d_cols)


@cache
def _kkt_derivation(n_rows: int, d_cols: int) -> KKTDerivation:
    """The cached work of :func:`derive_min_distance_interpolant` (validated sizes only)."""
    X = sp.Matrix(n_rows, d_cols, lambda i, j: sp.Symbol(f"x_{i}{j}", real=True))
    y = sp.Matrix(n_rows, 1, lambda i, _: sp.Symbol(f"y_{i}", real=True))
    ts = sp.Matrix(d_cols, 1, lambda i, _: sp.Symbol(f"s_{i}", real=True))
    th = sp.Matrix(d_cols, 1, lambda i, _: sp.Symbol(f"t_{i}", real=True))
    lm = sp.Matrix(n_rows, 1, lambda i, _: sp.Symbol(f"l_{i}", real=True))
    lagrangian = ((th - ts).T * (th - ts))[0] / 2 + (lm.T * (X * th - y))[0]
    unknowns = list(th) + list(lm)
    equations = [sp.diff(lagrangian, v) for v in th] + list(X * th - y)
    kkt, rhs = sp.linear_eq_to_matrix(equations, unknowns)
    solution = kkt.LUsolve(rhs)[:d_cols, 0]
    textbook = ts + X.T * _symmetric_inverse(X * X.T) * (y - X * ts)
    return KKTDerivation(X, y, ts, lagrangian, solution, textbook)


def _symmetric_inverse(gram: sp.Matrix) -> sp.Matrix:
    """gram⁻¹ as adj/det, computed for a generic symmetric matrix of fresh symbols and then
    substituted (inverting the expanded Gram entries directly takes minutes at 3 × 6)."""
    m = gram.rows
    entries = {(i, j): sp.Dummy(f"g{i}{j}") for i in range(m) for j in range(i, m)}
    generic = sp.Matrix(m, m, lambda i, j: entries[min(i, j), max(i, j)])
    inverse = generic.adjugate(method="berkowitz") / generic.det(method="berkowitz")
    return inverse.subs({g: gram[i, j] for (i, j), g in entries.items()})


@dataclass(frozen=True)
class MatrixKKTDerivation(LatexRendered):
    """L1 as matrix algebra for general (n, d) with MatrixSymbols.

    Attributes are SymPy matrix expressions: the multiplier λ* = (XXᵀ)⁻¹(Xθ_S − y),
    the solution θ* = θ_S − Xᵀλ*, the residuals of the constraint and of stationarity
    (both simplify to zero matrices), ``null_direction_image`` = Xu for the generic
    null-space direction u = (I − Xᵀ(XXᵀ)⁻¹X)z (zero), ``cross_term`` = (θ* − θ_S)ᵀu
    (simplifies to zero, so ‖θ* + u − θ_S‖² = ‖θ* − θ_S‖² + ‖u‖²: every other interpolant
    θ* + u is farther from θ_S and θ* is the unique minimiser),
    and ``textbook`` θ_S + X⁺(y − Xθ_S) with X⁺ = Xᵀ(XXᵀ)⁻¹ (full row rank).
    """

    multiplier: sp.MatrixExpr
    solution: sp.MatrixExpr
    constraint_residual: sp.MatrixExpr
    stationarity_residual: sp.MatrixExpr
    null_direction_image: sp.MatrixExpr
    cross_term: sp.MatrixExpr
    textbook: sp.MatrixExpr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_min_distance_interpolant_matrix")


@cache
def derive_min_distance_interpolant_matrix() -> MatrixKKTDerivation:
    """Eliminate θ from the KKT system with matrix symbols (general n ≤ d, full row rank).

    Stationarity θ − θ_S + Xᵀλ = 0 gives θ(λ) = θ_S − Xᵀλ; substituting into Xθ = y gives
    (XXᵀ)λ = Xθ_S − y, solved by λ* = (XXᵀ)⁻¹(Xθ_S − y). SymPy checks each step by
    simplifying the residuals to zero.
    """
    X, y, ts = syms.X, syms.y, syms.theta_s
    gram = X * X.T
    lam_star = gram.I * (X * ts - y)
    theta_star = ts - X.T * lam_star
    constraint = (X * theta_star - y).expand().doit()
    stationarity = (theta_star - ts + X.T * lam_star).expand().doit()
    # A generic null-space direction: u = (I − Xᵀ(XXᵀ)⁻¹X)z satisfies Xu = 0.
    z = sp.MatrixSymbol("z", syms.d, 1)
    u = (syms.identity_d - X.T * gram.I * X) * z
    null_check = (X * u).expand().doit()
    cross = ((theta_star - ts).T * u).expand().doit()
    textbook = ts + X.T * gram.I * (y - X * ts)
    return MatrixKKTDerivation(
        lam_star, theta_star, constraint, stationarity, null_check, cross, textbook
    )


@dataclass(frozen=True)
class GradientDescentDerivation(LatexRendered):
    """L1 for gradient descent, solved along the eigen-directions of XᵀX/n.

    With eigenpair (μ, v) of XᵀX/n, b = vᵀXᵀy/n and e_k = vᵀθ_k, one GD step
    θ_{k+1} = θ_k − η∇L(θ_k) reads e_{k+1} = (1 − ημ)e_k + ηb (μ > 0, row space) and
    e_{k+1} = e_k (μ = 0, null space of X). ``rsolve`` solves both recurrences.

    Attributes: the recurrences, their solutions ``row_solution`` (in k, η, μ, b, e₀) and
    ``null_solution`` (= e₀: the θ_S component outside the row space is never changed),
    ``row_limit`` = b/μ (the k-independent part: the least-squares coordinate),
    ``transient`` = (e₀ − b/μ)(1 − ημ)^k, ``transient_decay`` = lim_k (1/(1 + q))^k = 0 for
    q > 0 (so the transient vanishes whenever |1 − ημ| < 1) and ``stability`` (the η-range
    where |1 − ημ| < 1 holds: η < 2/μ).
    """

    row_recurrence: sp.Expr
    null_recurrence: sp.Expr
    row_solution: sp.Expr
    null_solution: sp.Expr
    row_limit: sp.Expr
    transient: sp.Expr
    transient_decay: sp.Expr
    stability: sp.Basic

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_gradient_descent")


_B = sp.Symbol("b", real=True)
_E0 = sp.Symbol("e0", real=True)


@cache
def derive_gradient_descent() -> GradientDescentDerivation:
    """Solve the GD recurrence per eigen-direction with ``rsolve`` (see the dataclass)."""
    e = sp.Function("e")
    k, eta, mu = syms.k, syms.eta, syms.mu
    row_rec = e(k + 1) - (1 - eta * mu) * e(k) - eta * _B
    null_rec = e(k + 1) - e(k)
    row_sol = sp.simplify(sp.rsolve(row_rec, e(k), {e(0): _E0}))
    null_sol = sp.rsolve(null_rec, e(k), {e(0): _E0})
    steady, transient = sp.expand(row_sol).as_independent(k, as_Add=True)
    # The transient is a multiple of (1 − ημ)^k. Writing |1 − ημ| = 1/(1 + q) with q > 0
    # (i.e. |1 − ημ| < 1), its modulus tends to 0; the stable η-range is solved for below.
    q = sp.Symbol("q", positive=True)
    decay = sp.limit((1 / (1 + q)) ** k, k, sp.oo)
    stability = sp.solve_univariate_inequality(sp.Abs(1 - eta * mu) < 1, eta, relational=True)
    return GradientDescentDerivation(
        row_rec,
        null_rec,
        row_sol,
        null_sol,
        sp.simplify(steady),
        transient,
        decay,
        stability,
    )


def _gd_progress(x: Any, k: Any) -> Any:
    """1 − (1 − x)^k for x = ημ ≥ 0 and an integer k ≥ 0: how far k GD steps have moved a
    row-space coordinate from e₀ towards b/μ.

    SymPy input gives the expression itself. Floats/arrays are evaluated without forming
    1 − x (whose rounding would be amplified k-fold: at x = 10⁻¹⁵, k = 10¹⁵ it is a 5% error):
    (1 − x)^k = ±exp(k·ln|1 − x|) with ln|1 − x| = log1p(−x) for x < 1, and 1 − exp(t) as
    −expm1(t), so a tiny step moves a coordinate by k·x to full relative precision.
    """
    if isinstance(x, sp.Basic) or isinstance(k, sp.Basic):
        return 1 - (1 - x) ** k
    xa = np.asarray(x, dtype=np.float64)
    if k == 0:
        return np.zeros_like(xa)
    kf = float(k) if k < 2**1000 else math.inf
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_mod = np.where(xa < 1.0, np.log1p(-np.minimum(xa, 1.0)), np.log(np.abs(xa - 1.0)))
        t = np.where(log_mod == 0.0, 0.0, kf * log_mod)  # k·ln|1 − x| (0·inf guarded)
        negative = (xa > 1.0) & (k % 2 == 1)  # (1 − x)^k < 0
        return np.where(negative, 1.0 + np.exp(t), -np.expm1(t))


def _form_row_solution(k: Any, eta: Any, mu: Any, b: Any, e0: Any) -> Any:
    """Shipped ``derive_gradient_descent().row_solution``: b/μ + (e₀ − b/μ)(1 − ημ)^k,
    written as e₀ + (b/μ − e₀)·(1 − (1 − ημ)^k) (see :func:`_gd_progress`).

    Plain arithmetic (works on floats, arrays and SymPy symbols); the test suite checks that
    it simplifies to the ``rsolve`` solution.
    """
    steady = b / mu
    return e0 + (steady - e0) * _gd_progress(eta * mu, k)


def gd_stability_limit(X: ArrayLike) -> float:
    """Largest stable GD step for L(θ) = (1/2n)‖Xθ − y‖²: 2/λ_max(XᵀX/n) = 2n/σ_max(X)².

    From :func:`derive_gradient_descent`: a step η is stable iff η < 2/μ for every
    eigenvalue μ of XᵀX/n. X is rescaled by a power of 2 first, so any representable X
    works; an InputError names X when the limit itself is not a normal float64.
    """
    Xa = checks.as_matrix(X, "X")
    Xu, ex = _unit(Xa)
    mu_max = float(np.linalg.norm(Xu, 2) ** 2 / Xu.shape[0])
    if mu_max == 0.0:
        raise InputError("X must not be all zeros (no stability limit: the loss is flat)")
    limit = 2.0 / mu_max
    return _scaled(limit, -2 * ex, "the stability limit 2n/sigma_max(X)^2", normal=True)


def gd_iterate(X: ArrayLike, y: ArrayLike, theta_s: ArrayLike, step: float, k: int) -> FloatArray:
    """The k-th gradient-descent iterate from θ_S, evaluated from the ``rsolve`` solution.

    θ_k = θ_S + Σ_{μ_i>0} (e_k(μ_i) − v_iᵀθ_S) v_i, with e_k the derived row-space solution
    b/μ + (e₀ − b/μ)(1 − ημ)^k; null-space coordinates stay at their θ_S values.
    Loss convention (1/2n)‖Xθ − y‖², so μ_i = s_i²/n are eigenvalues of XᵀX/n (s_i the
    singular values of X) and b/μ = u_iᵀy/s_i. Any k ≥ 0 and any step > 0 are accepted (the
    formula also describes divergence above 2/μ_max); an iterate that overflows float64 is
    an InputError. X is rescaled by a power of 2, so tiny and huge designs work, and
    (1 − ημ)^k is evaluated without rounding 1 − ημ (accurate for any k).
    """
    Xa, ya = checks.design_and_labels(X, y)
    ts = checks.as_vector(theta_s, "theta_s", Xa.shape[1])
    eta = checks.positive(step, "step")
    k = checks.positive_int(k, "k", minimum=0)
    if k == 0:
        return ts
    n = Xa.shape[0]
    Xu, ex = _unit(Xa)  # X = Xu·2^ex: singular values s·2^ex, same singular vectors
    u, s, vt = np.linalg.svd(Xu, full_matrices=False)
    keep = s > s[0] * max(Xa.shape) * np.finfo(np.float64).eps
    u, s, vt = u[:, keep], s[keep], vt[keep]
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        steady = np.ldexp((u.T @ ya) / s, -ex)  # b/μ = u_iᵀy/s_i
        eta_mu = np.ldexp(eta * s**2 / n, 2 * ex)  # η·μ_i
        e0 = vt @ ts
        # The shipped form uses b and μ only through b/μ and ημ: pass those (μ = 1).
        ek = _form_row_solution(k, eta_mu, 1.0, steady, e0)
        theta = ts + vt.T @ (ek - e0)
    if not np.all(np.isfinite(steady)):
        raise InputError(
            "X is too small for y: the least-squares coordinates u_i^T y / s_i overflow float64"
        )
    if not np.all(np.isfinite(theta)):
        raise InputError(
            f"step={eta!r}, k={k}: the iterate overflows float64 (step*mu_max = "
            f"{float(np.max(eta_mu)):.3g} for this X; above 2, i.e. above the stability "
            f"limit 2/mu_max, |1 - step*mu|^k grows)"
        )
    return np.asarray(theta, dtype=np.float64)


def finetuned_weights(X: ArrayLike, y: ArrayLike, theta_s: ArrayLike) -> FloatArray:
    """L1: θ_FT = θ_S + X⁺(y − Xθ_S) = (I − P)θ_S + X⁺y.

    The limit of gradient descent (any stable step) or gradient flow on
    L(θ) = (1/2n)‖Xθ − y‖² started at θ_S: the interpolant closest to θ_S when n ≤ d and X
    has full row rank, and the least-squares solution (θ_S forgotten) when n ≥ d has full
    column rank. X⁺y is computed by a minimum-norm least-squares solve, which equals the
    pseudo-inverse formula without forming X⁺.

    Parameters: X (n, d), y (n,), theta_s (d,). Returns θ_FT (d,).
    """
    Xa, ya = checks.design_and_labels(X, y)
    ts = checks.as_vector(theta_s, "theta_s", Xa.shape[1])
    correction, *_ = np.linalg.lstsq(Xa, ya - Xa @ ts, rcond=None)
    return np.asarray(ts + correction, dtype=np.float64)


# ======================================================================================
# L2 — exact risk of the fine-tuned model
# ======================================================================================


@dataclass(frozen=True)
class RiskDecomposition(LatexRendered):
    """L2 derived with matrix symbols; X⁺ is a symbol with X⁺X = P.

    ``error`` = θ_FT − θ_T after substituting y = Xθ_T + ξ; ``error_residual`` is
    error − [(I − P)Δ + X⁺ξ] (expands to zero). ``bias``, ``cross`` and ``variance`` are
    the terms of the expanded quadratic form eᵀΣe with zero, one and two factors of ξ;
    ``cross_residual`` is cross − 2Δᵀ(I − P)ΣX⁺ξ after using Σ = Σᵀ and that a 1×1 matrix
    equals its transpose (zero). E_ξ kills the cross term (E ξ = 0) and turns the variance
    into σ² tr(X⁺ᵀΣX⁺).
    """

    error: sp.MatrixExpr
    error_residual: sp.MatrixExpr
    bias: sp.MatrixExpr
    cross: sp.MatrixExpr
    variance: sp.MatrixExpr
    bias_textbook: sp.MatrixExpr
    cross_textbook: sp.MatrixExpr
    variance_textbook: sp.MatrixExpr
    cross_residual: sp.MatrixExpr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_risk_decomposition")


def _count(expr: sp.Basic, atom: sp.Basic) -> int:
    return sum(1 for a in sp.preorder_traversal(expr) if a == atom)


@cache
def derive_risk_decomposition() -> RiskDecomposition:
    """Expand R(θ_FT) = (θ_FT − θ_T)ᵀΣ(θ_FT − θ_T) and sort the terms by powers of ξ."""
    X, Xp, ts, tt, xi, cov, eye = (
        syms.X,
        syms.X_pinv,
        syms.theta_s,
        syms.theta_t,
        syms.xi,
        syms.cov,
        syms.identity_d,
    )
    proj = Xp * X
    y = X * tt + xi
    theta_ft = ts + Xp * (y - X * ts)
    err = (theta_ft - tt).expand()
    delta = ts - tt
    textbook_err = (eye - proj) * delta + Xp * xi
    err_residual = (err - textbook_err.expand()).expand().doit()
    quad = (err.T * cov * err).expand()
    groups: dict[int, list[sp.Basic]] = {0: [], 1: [], 2: []}
    for term in sp.Add.make_args(quad):
        groups[_count(term, xi)].append(term)
    bias, cross, variance = (sp.MatAdd(*groups[i]).doit() for i in (0, 1, 2))
    bias_tb = delta.T * (eye - proj).T * cov * (eye - proj) * delta
    cross_tb = 2 * delta.T * (eye - proj).T * cov * Xp * xi
    var_tb = xi.T * Xp.T * cov * Xp * xi
    # A 1×1 matrix equals its transpose; Σ is symmetric. Transpose the terms that carry ξᵀ.
    flipped = [t.T.doit() if _has_transposed(t, xi) else t for t in sp.Add.make_args(cross)]
    flipped_sum = sp.MatAdd(*flipped).doit().subs(cov.T, cov)
    cross_residual = (flipped_sum - cross_tb.expand()).expand().doit()
    return RiskDecomposition(
        err, err_residual, bias, cross, variance, bias_tb, cross_tb, var_tb, cross_residual
    )


def _has_transposed(term: sp.Basic, sym: sp.MatrixSymbol) -> bool:
    return any(isinstance(a, sp.Transpose) and a.arg == sym for a in sp.preorder_traversal(term))


@dataclass(frozen=True)
class RiskTerms:
    """Numeric values of the L2 terms; ``total`` = bias + cross + variance = R(θ_FT)."""

    bias: float
    cross: float
    variance: float

    @property
    def total(self) -> float:
        return self.bias + self.cross + self.variance


def _design_cov(X: FloatArray, cov: ArrayLike | None) -> FloatArray:
    d = X.shape[1]
    return np.eye(d) if cov is None else checks.as_cov(cov, d)


def _noise_trace(s2: float, pinv: FloatArray, S: FloatArray, shift: int, what: str) -> float:
    """s2·tr(pinvᵀ S pinv)·2^shift with every factor rescaled to unit size first."""
    if s2 == 0.0:
        return 0.0
    Pu, ep = _unit(pinv)
    Su, es = _unit(S)
    m2, e2 = math.frexp(s2)
    core = m2 * float(np.trace(Pu.T @ Su @ Pu))
    return _scaled(core, shift + 2 * ep + es + e2, what)


def _label_noise(Xa: FloatArray, ya: FloatArray, tt: FloatArray) -> tuple[FloatArray, int]:
    """(u, e) with ξ = y − Xθ_T = u·2^e and max|u| in [0.5, 1) (u = 0, e = 0 if ξ = 0).

    X and θ_T are rescaled by powers of 2 before the product (exact), and y and Xθ_T are
    brought to one common power of 2 before the subtraction, so ξ is never formed in float64:
    it may be far outside float64's range (X ~ 1e300 with θ_T ~ 1e100) and still be used."""
    Xu, ex = _unit(Xa)
    tu, et = _unit(tt)
    fit = Xu @ tu  # Xθ_T·2^-(ex + et), entries at most d in size
    yu, ey = _unit(ya)
    ef = ex + et
    if not np.any(fit):
        top = ey
    elif not np.any(yu):
        top = ef
    else:
        top = max(ey, ef)
    with np.errstate(under="ignore"):
        diff = np.ldexp(yu, ey - top) - np.ldexp(fit, ef - top)
    u, f = _unit(np.asarray(diff, dtype=np.float64))
    return u, top + f


def _risk_terms_scaled(
    Xa: FloatArray,
    xu: FloatArray,
    en: int,
    ts: FloatArray,
    tt: FloatArray,
    sig: FloatArray,
    noise: str,
) -> RiskTerms:
    """The L2 terms for validated inputs and the noise ξ = xu·2^en (``noise`` names it in
    the overflow messages)."""
    du, ed = _scaled_difference(ts, tt)  # Δ = du·2^ed
    Xu, ex = _unit(Xa)  # X = Xu·2^ex, X⁺ = pinv·2^-ex, P = pinv·Xu
    pinv = np.linalg.pinv(Xu)
    resid = du - pinv @ (Xu @ du)  # (I − P)Δ
    lifted = pinv @ xu  # X⁺ξ, in units of 2^(en − ex)
    cross_what = f"the cross term (theta_s, {noise}, X)"
    variance_what = f"the variance term ({noise}, X, cov)"
    return RiskTerms(
        bias=_quad(resid, sig, resid, 2 * ed, "the bias term (from theta_s - theta_t, cov)"),
        cross=_quad(2.0 * resid, sig, lifted, ed + en - ex, cross_what),
        variance=_quad(lifted, sig, lifted, 2 * (en - ex), variance_what),
    )


def risk_decomposition(
    X: ArrayLike,
    y: ArrayLike,
    theta_s: ArrayLike,
    theta_t: ArrayLike,
    cov: ArrayLike | None = None,
) -> RiskTerms:
    """L2 (docs/theory.md §1): the exact bias, cross and variance terms of R(θ_FT) for one
    design X and labels y, where θ_FT = θ_S + X⁺(y − Xθ_S) is the fine-tuned solution (L1).

    With Δ = θ_S − θ_T, P = X⁺X and the label noise ξ = y − Xθ_T (computed here, from y):
    bias = Δᵀ(I − P)Σ(I − P)Δ, cross = 2Δᵀ(I − P)ΣX⁺ξ, variance = ξᵀX⁺ᵀΣX⁺ξ, and
    ``total`` = R(θ_FT) = (θ_FT − θ_T)ᵀΣ(θ_FT − θ_T) (excess risk, without σ²). Parameters:
    X (n, d), y (n,) the labels, theta_s and theta_t (d,), cov Σ (d, d) symmetric PSD
    (default identity). Every input is rescaled by a power of 2 before the algebra and ξ is
    kept in that scaled form, so any representable magnitudes work; a term whose value
    overflows float64 is an InputError naming its inputs.
    """
    Xa, ya = checks.design_and_labels(X, y)
    d = Xa.shape[1]
    ts = checks.as_vector(theta_s, "theta_s", d)
    tt = checks.as_vector(theta_t, "theta_t", d)
    sig = _design_cov(Xa, cov)
    xu, en = _label_noise(Xa, ya, tt)
    return _risk_terms_scaled(Xa, xu, en, ts, tt, sig, "y - X theta_t")


def risk_terms(
    X: ArrayLike,
    noise: ArrayLike,
    theta_s: ArrayLike,
    theta_t: ArrayLike,
    cov: ArrayLike | None = None,
) -> RiskTerms:
    """Deprecated (removed in finetune-theory 0.2.0): use :func:`risk_decomposition`, which
    takes the labels y where this function takes the noise ξ = y − Xθ_T.

    The L2 terms of :func:`risk_decomposition` for one design X (n, d) and noise draw
    noise ξ (n,); theta_s, theta_t (d,), cov Σ (d, d) (default identity). Unchanged from
    before the rename: the same rescaled computation, with the noise given directly.
    """
    warn_deprecated(
        "symbolic.linear.risk_terms(X, noise, ...)",
        "symbolic.linear.risk_decomposition(X, y, ...) (it takes the labels y = X theta_t + "
        "noise, not the noise)",
    )
    Xa = checks.as_matrix(X, "X")
    n, d = Xa.shape
    xi = checks.as_vector(noise, "noise", n)
    ts = checks.as_vector(theta_s, "theta_s", d)
    tt = checks.as_vector(theta_t, "theta_t", d)
    sig = _design_cov(Xa, cov)
    xu, en = _unit(xi)  # ξ = xu·2^en
    return _risk_terms_scaled(Xa, xu, en, ts, tt, sig, "noise")


risk_terms.__deprecated__ = "symbolic.linear.risk_decomposition"  # type: ignore[attr-defined]


def expected_risk_given_design(
    X: ArrayLike,
    theta_s: ArrayLike,
    theta_t: ArrayLike,
    cov: ArrayLike | None = None,
    noise_var: float = 0.0,
) -> float:
    """L2 averaged over label noise: Δᵀ(I − P)Σ(I − P)Δ + σ² tr(X⁺ᵀΣX⁺) for a fixed X.

    Inputs are rescaled by powers of 2 (any representable magnitudes work); a risk that
    overflows float64 is an InputError naming its inputs.
    """
    Xa = checks.as_matrix(X, "X")
    d = Xa.shape[1]
    s2 = checks.nonnegative(noise_var, "noise_var")
    ts = checks.as_vector(theta_s, "theta_s", d)
    tt = checks.as_vector(theta_t, "theta_t", d)
    sig = _design_cov(Xa, cov)
    du, ed = _scaled_difference(ts, tt)
    Xu, ex = _unit(Xa)
    pinv = np.asarray(np.linalg.pinv(Xu), dtype=np.float64)
    resid = du - pinv @ (Xu @ du)
    bias = _quad(resid, sig, resid, 2 * ed, "the bias term (from theta_s - theta_t, cov)")
    variance = _noise_trace(s2, pinv, sig, -2 * ex, "the variance term (noise_var, X, cov)")
    return _scaled(bias + variance, 0, "the expected risk (theta_s, theta_t, noise_var)")


def excess_risk(theta: ArrayLike, theta_t: ArrayLike, cov: ArrayLike | None = None) -> float:
    """R(θ) = (θ − θ_T)ᵀΣ(θ − θ_T) = E_x[(θ·x − θ_T·x)²] for x ~ N(0, Σ).

    Excess risk: the label noise σ² is not included. ``cov`` defaults to the identity.
    θ − θ_T and Σ are rescaled by powers of 2 (no spurious overflow); a risk that overflows
    float64 is an InputError.
    """
    th = checks.as_vector(theta, "theta")
    tt = checks.as_vector(theta_t, "theta_t", th.shape[0])
    sig = np.eye(th.shape[0]) if cov is None else checks.as_cov(cov, th.shape[0])
    diff, e = _scaled_difference(th, tt)
    return _quad(diff, sig, diff, 2 * e, "the excess risk (from theta - theta_t, cov)")


_F = TypeVar("_F", bound=Callable[..., Any])

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _old_positional_layout(old: tuple[str, ...], required: int, advice: str) -> Callable[[_F], _F]:
    """Transition for one release: also accept the pre-0.1 positional layout ``old``.

    The decorated function keeps its (new) signature and type hints; only a call with more
    positional arguments than that signature allows, at least ``required`` and at most
    ``len(old)`` of them, is read in the OLD order ``old`` (with any further arguments by
    keyword) and emits a DeprecationWarning ending in ``advice``. Every other layout goes to
    the function unchanged, so Python raises its usual TypeError for it; a keyword that
    repeats a positional one is a TypeError too. Keyword calls never warn (the names did not
    change).
    """

    def decorate(func: _F) -> _F:
        params = inspect.signature(func).parameters.values()
        allowed = sum(1 for p in params if p.kind in _POSITIONAL)
        what = (
            f"positional ({', '.join(old[:required])}) arguments to "
            f"{func.__module__}.{func.__name__}"
        )

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) <= allowed or not required <= len(args) <= len(old):
                return func(*args, **kwargs)
            named = dict(zip(old, args, strict=False))
            repeated = sorted(set(named) & set(kwargs))
            if repeated:
                raise TypeError(
                    f"{func.__name__}() got multiple values for argument {repeated[0]!r}"
                )
            warn_deprecated(what, advice)
            return func(**named, **kwargs)

        return cast(_F, wrapper)

    return decorate


# ======================================================================================
# L3 — expected risk for isotropic Gaussian design, exact at finite (n, d)
# ======================================================================================


@dataclass(frozen=True)
class ExpectedRiskDerivation(LatexRendered):
    """L3 derived from the inverse chi-square mean.

    ``inverse_chi2_mean`` is E[1/χ²_k] obtained by integrating the χ²_k density with
    SymPy: a Piecewise equal to 1/(k − 2) under the convergence condition k > 2.
    For W = XXᵀ ~ Wishart_n(d, I), 1/(W⁻¹)_ii ~ χ²_{d−n+1} (Bartlett decomposition), so
    E tr W⁻¹ = n E[1/χ²_{d−n+1}]; for n > d the same holds with n and d swapped and
    W = XᵀX. The bias uses E P = (n/d) I (rotational invariance; tr P = rank X = n).

    The two regimes, named after the linear system Xθ = y:

    * ``under`` — under-determined, n ≤ d − 2 (fewer samples than dimensions): θ_FT
      interpolates and keeps the source's null-space part (I − P)θ_S, so
      E R = (1 − n/d)‖Δ‖² + σ²n/(d − n − 1) (bias of the unlearned directions + noise).
    * ``over`` — over-determined, n ≥ d + 2: θ_FT is the least-squares solution and θ_S is
      forgotten, so E R = σ²d/(n − d − 1) (noise only).

    Their conditions come from k > 2 (the inverse χ² mean is infinite for
    n ∈ {d − 1, d, d + 1} when σ² > 0); ``piecewise`` joins them; ``textbook`` is
    docs/theory.md's formula.
    ``near_interpolation_threshold`` is lim_{n→d−1⁻} of ``under`` with σ² > 0 (∞);
    ``noiseless_at_threshold`` is lim_{n→d} of the σ² = 0 bias (0);
    ``proportional_under``/``proportional_over`` are the limits d → ∞ at fixed
    γ = d/n > 1 and ψ = n/d > 1.
    """

    inverse_chi2_mean: sp.Expr
    under: sp.Expr
    over: sp.Expr
    piecewise: sp.Expr
    textbook: sp.Expr
    near_interpolation_threshold: sp.Expr
    noiseless_at_threshold: sp.Expr
    proportional_under: sp.Expr
    proportional_over: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_expected_risk_isotropic")


_CHI2_DOF = sp.Symbol("k", positive=True)


@cache
def derive_expected_risk_isotropic() -> ExpectedRiskDerivation:
    """Derive L3 (see :class:`ExpectedRiskDerivation`)."""
    x = sp.Symbol("x", positive=True)
    kd = _CHI2_DOF
    density = x ** (kd / 2 - 1) * sp.exp(-x / 2) / (2 ** (kd / 2) * sp.gamma(kd / 2))
    inv_mean = sp.integrate(density / x, (x, 0, sp.oo), conds="piecewise")
    if not isinstance(inv_mean, sp.Piecewise):  # pragma: no cover - SymPy behaviour guard
        raise RuntimeError("SymPy did not return the convergence condition of E[1/chi2_k]")
    value, condition = inv_mean.args[0]
    value = sp.gammasimp(sp.simplify(value))
    n, d, s2, D = syms.n, syms.d, syms.sigma2, syms.delta_sq
    trace_under = n * value.subs(kd, d - n + 1)  # E tr (XXᵀ)⁻¹
    trace_over = d * value.subs(kd, n - d + 1)  # E tr (XᵀX)⁻¹
    bias_under = (1 - n / d) * D  # Δᵀ E(I − P) Δ
    # Not simplified: simplify merges bias and variance into one unreadable fraction, while
    # the substitution already gives (1 − n/d)‖Δ‖² + σ²n/(d − n − 1) and σ²d/(n − d − 1).
    under = bias_under + s2 * trace_under
    over = s2 * trace_over
    cond_under = sp.simplify(condition.subs(kd, d - n + 1))  # d − n + 1 > 2  ⇔  n ≤ d − 2
    cond_over = sp.simplify(condition.subs(kd, n - d + 1))
    piecewise = sp.Piecewise((under, cond_under), (over, cond_over), (sp.nan, True))
    textbook = sp.Piecewise(
        ((1 - n / d) * D + s2 * n / (d - n - 1), n <= d - 2),
        (s2 * d / (n - d - 1), n >= d + 2),
        (sp.nan, True),
    )
    h = sp.Symbol("h", positive=True)
    m = sp.Symbol("m", integer=True, positive=True)  # d = m + 1 ≥ 2 so that n = d − 1 ≥ 1
    noisy = under.subs(s2, sp.Symbol("sigma2_pos", positive=True)).subs(d, m + 1)
    near = sp.limit(noisy.subs(n, m - h), h, 0, "+")
    noiseless = sp.limit(bias_under.subs(n, d - h), h, 0, "+")
    dc = sp.Symbol("d", positive=True)
    prop_under = sp.limit(under.subs(n, dc / syms.gamma).subs(d, dc), dc, sp.oo)
    prop_over = sp.limit(over.subs(n, syms.psi * dc).subs(d, dc), dc, sp.oo)
    return ExpectedRiskDerivation(
        inv_mean,
        under,
        over,
        piecewise,
        textbook,
        near,
        noiseless,
        sp.simplify(prop_under),
        sp.simplify(prop_over),
    )


def _form_risk_under(n: Any, d: Any, delta_sq: Any, noise_var: Any) -> Any:
    """Shipped ``derive_expected_risk_isotropic().under``: (1 − n/d)‖Δ‖² + σ²n/(d − n − 1)."""
    return (1 - n / d) * delta_sq + noise_var * n / (d - n - 1)


def _form_risk_over(n: Any, d: Any, delta_sq: Any, noise_var: Any) -> Any:
    """Shipped ``derive_expected_risk_isotropic().over``: σ²d/(n − d − 1)."""
    return noise_var * d / (n - d - 1)


@_old_positional_layout(
    ("n", "d", "delta_sq", "noise_var"),
    3,
    "symbolic.linear.expected_risk_isotropic(delta_sq, n=n, d=d, noise_var=noise_var): "
    "pass n= and d= by keyword",
)
def expected_risk_isotropic(delta_sq: float, *, n: int, d: int, noise_var: float = 0.0) -> float:
    """L3 (docs/theory.md §1): E_X,ξ R(θ_FT) for x ~ N(0, I_d), exact at finite (n, d).

    n ≤ d − 2: (1 − n/d)‖Δ‖² + σ² n/(d − n − 1);  n ≥ d + 2: σ² d/(n − d − 1).
    Without noise the bias formula holds for every n (it is 0 for n ≥ d). With noise the
    expectation is infinite for n ∈ {d − 1, d, d + 1} and an :class:`InputError` is raised.
    Evaluates the shipped forms of :func:`derive_expected_risk_isotropic`'s expressions.
    Parameters: delta_sq = ‖θ_S − θ_T‖², then by keyword n ≥ 0 samples (n = 0 leaves θ_S:
    risk ‖Δ‖²), d ≥ 1 dimensions and noise_var = σ².

    Until finetune-theory 0.2.0 the old positional call ``(n, d, delta_sq[, noise_var])`` is
    still read in that order, with a DeprecationWarning.
    """
    n = checks.positive_int(n, "n", minimum=0)
    d = checks.positive_int(d, "d")
    D = checks.nonnegative(delta_sq, "delta_sq")
    s2 = checks.nonnegative(noise_var, "noise_var")
    if s2 == 0.0 or n == 0:
        return float(max(0.0, 1.0 - n / d) * D)
    what = "the expected risk (from delta_sq, noise_var)"
    if n <= d - 2:
        return _scaled(float(_form_risk_under(n, d, D, s2)), 0, what)
    if n >= d + 2:
        return _scaled(float(_form_risk_over(n, d, D, s2)), 0, what)
    raise InputError(
        f"expected_risk_isotropic: with noise_var > 0 the expected risk is infinite for "
        f"d - 2 < n < d + 2 (inverse Wishart mean), got n={n}, d={d}"
    )


@dataclass(frozen=True)
class SampleComplexity(LatexRendered):
    """n(ε) from solving (1 − n/d)‖Δ‖² = ε for n (noiseless L3).

    ``n_finetune`` = d(1 − ε/‖Δ‖²), ``n_scratch`` the same with ‖Δ‖² → ‖θ_T‖² (θ_S = 0)
    and ``ratio`` = n_finetune/n_scratch, all before rounding up, valid for ε below the
    respective starting risk (otherwise zero samples are needed).
    """

    n_finetune: sp.Expr
    n_scratch: sp.Expr
    ratio: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_sample_complexity")


@cache
def derive_sample_complexity() -> SampleComplexity:
    """Solve the noiseless L3 risk for the sample size (see :class:`SampleComplexity`)."""
    nc, d, D, T, eps = syms.n_c, syms.d, syms.delta_sq, syms.theta_t_sq, syms.epsilon
    (n_ft,) = sp.solve(sp.Eq((1 - nc / d) * D, eps), nc)
    n_sc = n_ft.subs(D, T)
    return SampleComplexity(sp.factor(n_ft), sp.factor(n_sc), sp.factor(sp.simplify(n_ft / n_sc)))


def _form_n_finetune(d: Any, delta_sq: Any, epsilon: Any) -> Any:
    """Shipped ``derive_sample_complexity().n_finetune``: d(1 − ε/‖Δ‖²)."""
    return d * (1 - epsilon / delta_sq)


@_old_positional_layout(
    ("epsilon", "delta_sq", "d"),
    3,
    "symbolic.linear.sample_complexity(delta_sq, d=d, epsilon=epsilon): "
    "pass d= and epsilon= by keyword",
)
def sample_complexity(delta_sq: float, *, d: int, epsilon: float) -> int:
    """Smallest n with noiseless expected excess risk (1 − n/d)‖Δ‖² ≤ ε (isotropic design,
    L3, docs/theory.md §1).

    n(ε) = ⌈d(1 − ε/‖Δ‖²)⌉, or 0 when ε ≥ ‖Δ‖². Pass delta_sq = ‖θ_T‖² for training from
    scratch (θ_S = 0). The shipped form is evaluated in exact rational arithmetic on the
    float inputs (fractions.Fraction), so the ceiling is exact for every d (a float
    evaluation carries an error of order d·ε_mach, which at d = 10¹⁵ is a sample or more).

    Until finetune-theory 0.2.0 the old positional call ``(epsilon, delta_sq, d)`` is still
    read in that order, with a DeprecationWarning.
    """
    eps = checks.positive(epsilon, "epsilon")
    D = checks.nonnegative(delta_sq, "delta_sq")
    d = checks.positive_int(d, "d")
    if eps >= D:
        return 0
    raw: Fraction = _form_n_finetune(Fraction(d), Fraction(D), Fraction(eps))
    return max(0, math.ceil(raw))


@_old_positional_layout(
    ("epsilon", "delta_sq", "theta_t_sq", "d"),
    4,
    "symbolic.linear.sample_complexity_ratio(delta_sq, theta_t_sq, d=d, epsilon=epsilon): "
    "pass d= and epsilon= by keyword",
)
def sample_complexity_ratio(delta_sq: float, theta_t_sq: float, *, d: int, epsilon: float) -> float:
    """n_FT(ε)/n_scratch(ε) with integer sample sizes from :func:`sample_complexity`:
    delta_sq = ‖θ_S − θ_T‖² for fine-tuning, theta_t_sq = ‖θ_T‖² for training from scratch.

    Defined only when training from scratch needs samples (epsilon < theta_t_sq); otherwise
    the ratio n_FT/0 is undefined (0/0 or +∞) and an InputError is raised.

    Until finetune-theory 0.2.0 the old positional call ``(epsilon, delta_sq, theta_t_sq,
    d)`` is still read in that order, with a DeprecationWarning.
    """
    checks.nonnegative(theta_t_sq, "theta_t_sq")  # named here: sample_complexity says delta_sq
    n_ft = sample_complexity(delta_sq, d=d, epsilon=epsilon)
    n_sc = sample_complexity(theta_t_sq, d=d, epsilon=epsilon)
    if n_sc == 0:
        raise InputError(
            f"sample_complexity_ratio is undefined when training from scratch needs no "
            f"samples: epsilon={epsilon!r} >= theta_t_sq={theta_t_sq!r} (n_FT = {n_ft}, "
            f"n_scratch = 0)"
        )
    return n_ft / n_sc


# ======================================================================================
# L4 — proportional asymptotics for a general covariance (HMRT 2019, β → θ_T − θ_S)
# ======================================================================================


@dataclass(frozen=True)
class AsymptoticIsotropic(LatexRendered):
    """L4 with every eigenvalue equal to λ, solved by SymPy.

    ``c0`` solves 1 − 1/γ = 1/(1 + c₀γλ): c₀ = 1/(γ(γ − 1)λ); ``bias`` = λ‖Δ‖²(1 − 1/γ),
    ``variance`` = σ²/(γ − 1) — at λ = 1 these are the proportional limits of L3.
    """

    fixed_point: sp.Expr
    c0: sp.Expr
    bias: sp.Expr
    variance: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_asymptotic_isotropic")


def _hmrt_terms(
    c0: sp.Expr, lam: sp.Expr, b_sq: sp.Expr, gamma: sp.Expr
) -> tuple[sp.Expr, sp.Expr]:
    """HMRT bias factor and variance factor for a single spectral level (symbolic)."""
    denom = (1 + c0 * gamma * lam) ** 2
    a_ratio = (lam**2 / denom) / (lam / denom)
    return (1 + gamma * c0 * a_ratio) * b_sq * lam / denom, gamma * c0 * a_ratio


@cache
def derive_asymptotic_isotropic() -> AsymptoticIsotropic:
    """Solve the HMRT fixed point and risk for a one-level spectrum (see dataclass)."""
    gam, lam, c0 = syms.gamma, syms.lam, syms.c0
    fixed = sp.Eq(1 - 1 / gam, 1 / (1 + c0 * gam * lam))
    (c0_sol,) = sp.solve(fixed, c0)
    bias, var_factor = _hmrt_terms(c0_sol, lam, syms.delta_sq, gam)
    return AsymptoticIsotropic(
        fixed,
        sp.simplify(c0_sol),
        sp.factor(sp.simplify(bias)),
        sp.simplify(syms.sigma2 * var_factor),
    )


@cache
def derive_two_level_fixed_point() -> tuple[sp.Expr, sp.Expr]:
    """HMRT fixed point for a spectrum with a fraction p at λ₁ and 1 − p at λ₂.

    Returns (equation, c₀) where c₀ is the unique positive root of the quadratic that SymPy
    obtains from 1 − 1/γ = p/(1 + c₀γλ₁) + (1 − p)/(1 + c₀γλ₂), valid for γ > 1.
    The equation is HMRT's, stated rather than derived: a tuple has no ``.provenance``, so
    look it up with ``symbolic.provenance_of("derive_two_level_fixed_point")``.
    """
    gam, c0 = syms.gamma, syms.c0
    l1, l2 = sp.symbols("lambda1 lambda2", positive=True)
    p = sp.Symbol("p", positive=True)
    eq = sp.Eq(1 - 1 / gam, p / (1 + c0 * gam * l1) + (1 - p) / (1 + c0 * gam * l2))
    roots = sp.solve(eq, c0)
    # Of the two roots, the positive one has the + sign on the square root; identify it by
    # evaluating at a valid point (γ = 2, p = 1/2, λ₁ = 1, λ₂ = 3).
    point = {gam: 2, p: sp.Rational(1, 2), l1: 1, l2: 3}
    positive_roots = [r for r in roots if sp.N(r.subs(point)) > 0]
    if len(positive_roots) != 1:  # pragma: no cover - SymPy behaviour guard
        raise RuntimeError("expected exactly one positive root of the two-level fixed point")
    return eq, positive_roots[0]


def _gamma_above_one(gamma: float) -> float:
    gam = checks.positive(gamma, "gamma")
    if gam <= 1.0:
        raise InputError(f"gamma = d/n must be > 1 (interpolation regime), got {gam!r}")
    return gam


def _hmrt_u(lam: FloatArray, gam: float) -> float:
    """u = c₀γ for a spectrum ``lam`` with max in [0.5, 1): the root of
    mean uλ/(1 + uλ) = 1/γ.

    This is the HMRT fixed point mean 1/(1 + c₀γλ) = 1 − 1/γ with both sides subtracted
    from 1, so that 1/γ is never rounded into 1 − 1/γ (that loses γ·ε_mach relative: 10⁻¹⁰
    at γ = 10⁶). The left side increases strictly from 0 to 1 in u; it is below 1/γ at
    u = 1/(2(γ−1)λ_max) and above it at 2/((γ−1)λ_min), and Brent's method finds the root
    to relative precision ~4 ulp.
    """
    target = 1.0 / gam

    def f(u: float) -> float:
        x = u * lam
        return float(np.mean(x / (1.0 + x))) - target

    lo = 0.5 / (gam - 1.0) / float(lam.max())
    hi = 2.0 / (gam - 1.0) / float(lam.min())
    if not (math.isfinite(hi) and f(lo) < 0.0 < f(hi)):
        raise InputError(
            f"gamma={gam!r} is too close to 1 for these eigenvalues: the HMRT fixed point "
            f"c0 ~ 1/(gamma (gamma - 1) lambda_min) cannot be bracketed in float64"
        )
    xtol = max(lo * np.finfo(np.float64).eps, float(np.finfo(np.float64).smallest_subnormal))
    return float(optimize.brentq(f, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=1000))


def hmrt_c0(eigenvalues: ArrayLike, gamma: float) -> float:
    """The unique c₀ > 0 with (1/d)Σ_i 1/(1 + c₀γλ_i) = 1 − 1/γ (γ = d/n > 1).

    The left side decreases strictly from 1 to 0 in c₀, so the root is unique. It is solved
    for u = c₀γ on the spectrum rescaled by a power of 2 (c₀ scales as 1/λ), in the form
    mean uλ/(1 + uλ) = 1/γ that keeps full precision for large γ (see :func:`_hmrt_u`),
    bracketed in [1/(2(γ−1)λ_max), 2/((γ−1)λ_min)] and found by Brent's method to relative
    precision ~4 ulp. An InputError names gamma/eigenvalues when c₀ is not a normal float64.
    """
    lam = checks.as_eigenvalues(eigenvalues)
    gam = _gamma_above_one(gamma)
    lam_u, e = _unit(lam)  # λ = λ_u·2^e, so c₀ = (u/γ)·2^-e
    u = _hmrt_u(lam_u, gam)
    mu, eu = math.frexp(u)
    mg, eg = math.frexp(gam)
    return _scaled(mu / mg, eu - eg - e, "c0 (from gamma and eigenvalues)", normal=True)


def asymptotic_risk(
    eigenvalues: ArrayLike,
    delta_coords: ArrayLike,
    gamma: float,
    noise_var: float = 0.0,
) -> tuple[float, float]:
    """L4: the proportional-asymptotics (bias, variance) of fine-tuning (HMRT 2019).

    With c₀ from :func:`hmrt_c0`, A = mean λ²/(1 + c₀γλ)², Bq = mean λ/(1 + c₀γλ)²:
    bias = (1 + γc₀A/Bq) Σ_i b_i²λ_i/(1 + c₀γλ_i)², variance = σ²γc₀A/Bq,
    where b_i = ⟨Δ, v_i⟩ are the coordinates of Δ = θ_S − θ_T (or θ_T − θ_S: only b_i²
    enters) in the eigenbasis of Σ. The spectrum is the discrete measure (1/d)Σδ_{λ_i};
    the excess risk (without test noise) is bias + variance. Regime: n, d → ∞, γ = d/n > 1.
    Evaluated with u = c₀γ on the spectrum and b rescaled by powers of 2 (γc₀A/Bq is scale
    free, the bias scales as λ·b²), so any representable inputs work; a bias or variance
    that overflows float64 is an InputError.
    """
    lam = checks.as_eigenvalues(eigenvalues)
    b = checks.as_vector(delta_coords, "delta_coords", lam.shape[0])
    s2 = checks.nonnegative(noise_var, "noise_var")
    gam = _gamma_above_one(gamma)
    lam_u, e = _unit(lam)
    b_u, eb = _unit(b)
    u = _hmrt_u(lam_u, gam)  # c₀γ in the units of lam_u
    denom = (1.0 + u * lam_u) ** 2
    a_mean = float(np.mean(lam_u**2 / denom))
    bq_mean = float(np.mean(lam_u / denom))
    factor = u * a_mean / bq_mean
    core = (1.0 + factor) * float(np.sum(b_u**2 * lam_u / denom))
    bias = _scaled(core, e + 2 * eb, "the bias (from delta_coords and eigenvalues)")
    return bias, _scaled(s2 * factor, 0, "the variance (from noise_var)")
