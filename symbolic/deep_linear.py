"""Deep linear networks fine-tuned from balanced pretrained weights (docs/theory.md §2, D1–D6).

Network f(x) = W_N ⋯ W_1 x with scalar output, end-to-end vector w = (W_N ⋯ W_1)ᵀ, trained by
gradient flow on L = (1/2n)‖Xw − y‖² over all layers from balanced weights with end-to-end
vector θ_S (N = ``depth`` = number of weight matrices; N = 1 is linear regression).

``derive_*`` functions return frozen dataclasses of SymPy objects (cached), each with a
``.provenance`` saying whether SymPy derived it or checked a stated answer (docs/theory.md);
evaluation functions take NumPy arrays:

* :func:`end_to_end_velocity` — D1: ẇ = −‖w‖^{2−2/N}(g + (N − 1)ŵŵᵀg).
* :func:`scale_factor`, :func:`finetuned_end_to_end` — D3/D4:
  w_∞ = X⁺y + c(I − P)θ_S with c the unique positive root of
  ‖θ_S‖²c^{2N/(N−1)} − ‖(I − P)θ_S‖²c² = ‖X⁺y‖² (c = 1 for N = 1;
  c_∞ = ‖X⁺y‖/‖Pθ_S‖ for N = ∞).
* :func:`finetuned_risk` — D5: R(w_∞) as a function of depth.
* :func:`frozen_layers_risk_floor` — D6: θ_TᵀΣθ_T − (θ_SᵀΣθ_T)²/(θ_SᵀΣθ_S).
* :func:`implicit_regularizer` — Q_N(w) = ‖w‖^{(N+1)/N} − ((N+1)/N)‖θ_S‖^{1/N}θ̂_Sᵀw, whose
  minimiser over {w : Xw = y} is w_∞.

Regime: n < d, X of full row rank, θ_S ≠ 0, gradient flow (finite-step GD is O(η) away),
balanced initialisation, and a flow that converges to an interpolant without passing
through w = 0.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import IllConditionedWarning, InputError
from finetune_theory.scaling import ldexp_checked as _ldexp_checked
from finetune_theory.scaling import pow2_scale as _pow2_scale
from symbolic import _symbols as syms
from symbolic._provenance import Provenance, provenance_of
from symbolic._render import LatexRendered

__all__ = [
    "EndToEndDerivation",
    "ImplicitBiasDerivation",
    "InfiniteDepthDerivation",
    "RegularizerDerivation",
    "closed_form_roots",
    "derive_end_to_end_dynamics",
    "derive_frozen_layers",
    "derive_implicit_bias",
    "derive_infinite_depth",
    "derive_regularizer",
    "end_to_end_velocity",
    "finetuned_end_to_end",
    "finetuned_risk",
    "frozen_layers_risk_floor",
    "implicit_regularizer",
    "implicit_regularizer_value",
    "scale_factor",
    "scale_factor_limit_coefficient",
    "scale_factor_rootof",
    "scale_inputs",
]

N = syms.depth
# Norms entering the scalar equation: A = ‖θ_S‖², B = ‖(I − P)θ_S‖², C = ‖X⁺y‖².
A_, B_, C_ = sp.symbols("A B C", positive=True)
c_, s_ = sp.symbols("c s", positive=True)


# ======================================================================================
# D1 — end-to-end dynamics under balanced initialisation
# ======================================================================================


@dataclass(frozen=True)
class EndToEndDerivation(LatexRendered):
    """D1 for a concrete depth, derived by the chain rule on layer matrices with symbols.

    Gradient flow Ẇ_j = −∂L/∂W_j moves w by ẇ = −JJᵀg with J = ∂w/∂(all entries) and
    g = ∇L(w) (chain rule: L depends on the layers only through w). ``gram_residual`` is
    JJᵀ − ‖w‖^{2−2/N}(I + (N − 1)ŵŵᵀ) at a balanced rank-one point W_1 = s v_1θ̂ᵀ,
    W_j = s v_jv_{j−1}ᵀ, W_N = s v_{N−1}ᵀ (unit vectors parameterised rationally,
    ((1 − t²)/(1 + t²), 2t/(1 + t²))): the zero matrix. ``balance_drift`` lists
    d/dt(W_{j+1}ᵀW_{j+1} − W_jW_jᵀ) under the flow for *generic* weights and a generic
    gradient g (each the zero matrix: balancedness, and any imbalance, is conserved).
    ``general_sum`` is Σ_{j=2}^N s^{2(N−j)}s^{2(j−1)} = (N − 1)s^{2N−2} for symbolic N: the
    ŵŵᵀ coefficient (layer j contributes ‖W_N⋯W_{j+1}‖²·(W_{j−1}⋯W_1)ᵀ(W_{j−1}⋯W_1)), and
    ``prefactor`` = s^{2N−2} with s = ‖w‖^{1/N}, i.e. ‖w‖^{2−2/N}.
    """

    depth: int
    gram_residual: sp.Matrix
    balance_drift: tuple[sp.Matrix, ...]
    general_sum: sp.Expr
    prefactor: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_end_to_end_dynamics")


def _layer_symbols(widths: list[int]) -> list[sp.Matrix]:
    return [
        sp.Matrix(
            widths[j + 1], widths[j], lambda a, b, j=j: sp.Symbol(f"W{j + 1}_{a}{b}", real=True)
        )
        for j in range(len(widths) - 1)
    ]


def _chain(mats: list[sp.Matrix]) -> sp.Matrix:
    prod = mats[-1]
    for M in reversed(mats[:-1]):
        prod = prod * M
    return prod.T  # w = (W_N ⋯ W_1)ᵀ


def _rational_unit(t: sp.Symbol) -> sp.Matrix:
    return sp.Matrix([(1 - t**2) / (1 + t**2), 2 * t / (1 + t**2)])


def derive_end_to_end_dynamics(depth: int = 3) -> EndToEndDerivation:
    """Derive D1 for ``depth`` ≤ 4 with d = 2 and hidden widths 2 (see the dataclass).

    ``depth`` is validated before the cache is consulted (``depth=3.0`` or ``True`` are
    refused even after a cached ``depth=3`` or ``depth=1``: they compare equal as keys).
    """
    depth = checks.positive_int(depth, "depth")
    if depth > 4:
        raise InputError(f"depth must be <= 4 for the symbolic chain-rule check, got {depth}")
    return _derive_end_to_end_dynamics(depth)


@cache
def _derive_end_to_end_dynamics(depth: int) -> EndToEndDerivation:
    widths = [2] + [2] * (depth - 1) + [1]
    mats = _layer_symbols(widths)
    w = _chain(mats)
    params = [x for M in mats for x in M]
    J = w.jacobian(params)
    gram = J * J.T
    s = sp.Symbol("s", positive=True)
    ts = sp.symbols(f"t0:{depth}", real=True)
    vs = (
        [_rational_unit(ts[0])]
        + [_rational_unit(ts[k]) for k in range(1, depth)]
        + [sp.Matrix([1])]
    )
    point: dict[sp.Symbol, sp.Expr] = {}
    for j, M in enumerate(mats):
        value = s * vs[j + 1] * vs[j].T
        point.update({M[a, b]: value[a, b] for a in range(M.rows) for b in range(M.cols)})
    theta_hat = vs[0]
    textbook = s ** (2 * depth - 2) * (sp.eye(2) + (depth - 1) * theta_hat * theta_hat.T)
    residual = (gram.subs(point) - textbook).applyfunc(lambda e: sp.cancel(sp.together(e)))
    # Balance drift for generic weights: Ẇ_j = −Σ_k g_k ∂w_k/∂W_j.
    g = sp.Matrix(2, 1, lambda i, _: sp.Symbol(f"g_{i}", real=True))
    velocity = []
    for M in mats:
        dLdW = M.applyfunc(lambda entry: sum(g[k] * sp.diff(w[k], entry) for k in range(2)))
        velocity.append(-dLdW)
    drift = []
    for j in range(depth - 1):
        Wj, Wk, Vj, Vk = mats[j], mats[j + 1], velocity[j], velocity[j + 1]
        d_upper = Vk.T * Wk + Wk.T * Vk
        d_lower = Vj * Wj.T + Wj * Vj.T
        drift.append((d_upper - d_lower).applyfunc(sp.expand))
    j = sp.Symbol("j", integer=True, positive=True)
    s_sym = sp.Symbol("s", positive=True)
    general = sp.simplify(sp.summation(s_sym ** (2 * (N - j)) * s_sym ** (2 * (j - 1)), (j, 2, N)))
    norm_w = sp.Symbol("r", positive=True)
    prefactor = sp.powsimp(s_sym ** (2 * N - 2)).subs(s_sym, norm_w ** (1 / N))
    return EndToEndDerivation(depth, residual, tuple(drift), general, sp.powsimp(prefactor))


def end_to_end_velocity(w: ArrayLike, grad: ArrayLike, depth: int) -> FloatArray:
    """D1: ẇ = −‖w‖^{2−2/N}(g + (N − 1)ŵŵᵀg) for balanced weights of depth N.

    ``w`` the end-to-end vector (d,), ``grad`` g = ∇L(w) (d,). Gradient-flow time units of
    L = (1/2n)‖Xw − y‖².

    Evaluated on power-of-two-rescaled copies of w and g (exact), with ‖w‖^{2−2/N} split
    into a mantissa and an exactly computed power of two, so no norm or product over- or
    underflows at any input scale; InputError (naming w and grad) if ẇ itself overflows.
    """
    wa = checks.as_vector(w, "w")
    ga = checks.as_vector(grad, "grad", wa.shape[0])
    depth = checks.positive_int(depth, "depth")
    ws, ew = _pow2_scale(wa)  # w = ws·2^ew, max|ws| in [0.5, 1)
    gs, eg = _pow2_scale(ga)
    norm_s = float(np.linalg.norm(ws))
    if norm_s == 0.0:
        if depth == 1:
            return np.asarray(-ga, dtype=np.float64)
        raise InputError("w must be non-zero for depth > 1 (w = 0 is a saddle: velocity 0)")
    what = ws / norm_s
    # ‖w‖^{2−2/N} = norm_s^{2−2/N}·2^{ew(2−2/N)}, ew(2−2/N) = 2ew − 2ew/N split exactly.
    whole, frac = _exponent_times(ew, 2 * depth - 2, depth)
    core = -(norm_s ** (2.0 - 2.0 / depth)) * 2.0**frac * (gs + (depth - 1) * what * (what @ gs))
    return _ldexp_vector(core, whole + eg, "w and grad: the velocity")


# ======================================================================================
# D3 — the implicit bias: invariant, scalar equation, closed forms, limits
# ======================================================================================


@dataclass(frozen=True)
class ImplicitBiasDerivation(LatexRendered):
    """D3 from D1, step by step.

    ``null_velocity_residual``: with z = (I − P)w and g = Xᵀr/n, (I − P)ẇ minus
    −‖w‖^{2−2/N}(N − 1)(wᵀg/‖w‖²) z (MatrixSymbol algebra; zero because (I − P)Xᵀ = 0).
    ``norm_odes``: dsolve solutions of ρ' = −2N h ρ and ζ' = −2(N − 1) h ζ for ρ = ‖w‖²,
    ζ = ‖z‖², with h(t) = ‖w‖^{−2/N}wᵀg an arbitrary function.
    ``invariant``: ζ/ζ₀ eliminated in terms of ρ/ρ₀, = (ρ/ρ₀)^{(N−1)/N}; so
    c = ‖z‖/‖z₀‖ = (‖w‖/‖θ_S‖)^{(N−1)/N} and z keeps its direction (ż ∥ z).
    ``scalar_equation``: A c^{2N/(N−1)} − Bc² − C (= 0 at convergence, where Pw_∞ = X⁺y),
    A = ‖θ_S‖², B = ‖(I − P)θ_S‖², C = ‖X⁺y‖². ``polynomial``: its form in s = c^{2/(N−1)},
    A s^N − B s^{N−1} − C. ``monotone_form``: the polynomial divided by s^{N−1},
    A s − B − C s^{1−N}; ``monotone_slope`` its derivative, positive for s > 0, so the
    positive root is unique for every N (Descartes: one sign change).
    ``depth_one``: c at N = 1 (1). ``limit_equation``: lim_{N→∞} of the scalar equation,
    (A − B)c² − C; ``c_infinity`` its positive root √(C/(A − B)) = ‖X⁺y‖/‖Pθ_S‖.
    ``first_order``: dc/dε at ε = 1/(N − 1) = 0, −A c ln c/(A − B) at c = c_∞: so
    c_N = c_∞ + K/(N − 1) + O(1/N²), approaching monotonically from the side of −sign(ln c_∞).
    """

    null_velocity_residual: sp.MatrixExpr
    norm_odes: tuple[sp.Eq, sp.Eq]
    invariant: sp.Expr
    scalar_equation: sp.Expr
    polynomial: sp.Expr
    monotone_form: sp.Expr
    monotone_slope: sp.Expr
    depth_one: sp.Expr
    limit_equation: sp.Expr
    c_infinity: sp.Expr
    first_order: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_implicit_bias")


@cache
def derive_implicit_bias() -> ImplicitBiasDerivation:
    """Derive D3 and D4's limit from D1 (see :class:`ImplicitBiasDerivation`)."""
    # (1) Null-space projection of D1, with matrix symbols.
    X, w = syms.X, syms.theta
    r = sp.MatrixSymbol("r", syms.n, 1)
    a, rho = sp.symbols("a rho", positive=True)  # a = ‖w‖^{2−2/N}, rho = ‖w‖²
    g = X.T * r / syms.n
    proj = X.T * (X * X.T).I * X
    wdot = -a * g - a * (N - 1) / rho * w * (w.T * g)
    z = (syms.identity_d - proj) * w
    zdot = ((syms.identity_d - proj) * wdot).expand().doit()
    target = (-a * (N - 1) / rho * z * (w.T * g)).expand().doit()
    null_residual = (zdot - target).expand().doit()
    # (2) Norm ODEs along the flow, with h(t) = ‖w‖^{−2/N} wᵀg arbitrary.
    t = sp.Symbol("t", real=True)
    h = sp.Function("h")
    rho_f, zeta_f = sp.Function("rho"), sp.Function("zeta")
    ode_rho = sp.dsolve(sp.Eq(rho_f(t).diff(t), -2 * N * h(t) * rho_f(t)))
    ode_zeta = sp.dsolve(sp.Eq(zeta_f(t).diff(t), -2 * (N - 1) * h(t) * zeta_f(t)))
    # (3) Eliminate the common integral H = ∫h: ρ = ρ₀e^{−2NH}, ζ = ζ₀e^{−2(N−1)H}.
    H = sp.Symbol("H", real=True)
    rho0, zeta0, rho_t = sp.symbols("rho0 zeta0 rho_t", positive=True)
    integral = ode_rho.rhs.atoms(sp.Integral).pop()
    rho_expr = ode_rho.rhs.subs(integral, H)
    const = (rho_expr.free_symbols - {H, N}).pop()
    rho_expr = rho_expr.subs(const, rho0)
    zeta_expr = ode_zeta.rhs.subs(ode_zeta.rhs.atoms(sp.Integral).pop(), H)
    zeta_expr = zeta_expr.subs((zeta_expr.free_symbols - {H, N}).pop(), zeta0)
    (H_sol,) = sp.solve(sp.Eq(rho_expr, rho_t), H)
    invariant = sp.powsimp(sp.simplify(zeta_expr.subs(H, H_sol) / zeta0), force=True)
    # (4) Scalar equation: c² = ζ/ζ₀ = (ρ/A)^{(N−1)/N} ⇒ ρ_∞ = A c^{2N/(N−1)} = C + B c².
    (rho_inf,) = sp.solve(sp.Eq(c_**2, (rho_t / A_) ** ((N - 1) / N)), rho_t)
    scalar = sp.powsimp(sp.expand(rho_inf - B_ * c_**2 - C_), force=True)
    M = sp.Symbol("M", integer=True, positive=True)  # M = N − 1 ≥ 1
    poly = sp.powsimp(sp.expand(scalar.subs(N, M + 1).subs(c_, s_ ** (M / 2))), force=True).subs(
        M, N - 1
    )
    monotone = sp.expand(sp.powsimp(poly / s_ ** (N - 1), force=True))  # A s − B − C s^{1−N}
    slope = sp.diff(monotone, s_)
    depth_one = ((rho_t / A_) ** sp.Rational(1, 2)) ** ((N - 1) / N)
    # (5) N → ∞.
    lim = sp.limit(c_ ** (2 * N / (N - 1)), N, sp.oo) * A_ - B_ * c_**2 - C_
    gap = sp.Symbol("D", positive=True)  # A − B = ‖Pθ_S‖² > 0
    (c_gap,) = sp.solve(lim.subs(A_, B_ + gap), c_)
    c_inf = c_gap.subs(gap, A_ - B_)
    eps = sp.Symbol("epsilon", positive=True)  # ε = 1/(N − 1)
    F = A_ * c_ ** (2 + 2 * eps) - B_ * c_**2 - C_
    dc = (-sp.diff(F, eps) / sp.diff(F, c_)).subs(eps, 0)
    first = sp.simplify(dc.subs(c_, c_inf))
    return ImplicitBiasDerivation(
        null_residual,
        (ode_rho, ode_zeta),
        invariant,
        scalar,
        sp.powsimp(sp.expand(poly)),
        monotone,
        sp.simplify(slope),
        depth_one.subs(N, 1),
        sp.expand(lim),
        c_inf,
        first,
    )


# --------------------------------------------------------------------------------------
# Shipped forms. Each is plain arithmetic on its arguments, so calling it with SymPy
# symbols rebuilds the expression; tests/symbolic/test_shipped_forms.py checks each one
# against the derivation above (no SymPy work happens when a closed form is evaluated).
# --------------------------------------------------------------------------------------


def _form_polynomial(s: Any, A: Any, B: Any, C: Any, depth: Any) -> Any:
    """``derive_implicit_bias().polynomial``: A s^N − B s^{N−1} − C."""
    return A * s**depth - B * s ** (depth - 1) - C


def _form_ratio_equation(c: Any, b: Any, k: Any, eps: Any) -> Any:
    """The scalar equation divided by A, with b = B/A, k = C/A, ε = 1/(N − 1):
    c²(c^{2ε} − b) − k (smooth in ε down to ε = 0, where it is the N = ∞ equation)."""
    return c**2 * (c ** (2 * eps) - b) - k


def _form_c_without_null(k: Any, depth: Any) -> Any:
    """Positive root at B = 0: c = k^{(N−1)/(2N)}, k = C/A."""
    return k ** ((depth - 1) / (2 * depth))


def _form_c_without_labels(b: Any, depth: Any) -> Any:
    """Positive root at C = 0 (X⁺y = 0): c = b^{(N−1)/2}, b = B/A."""
    return b ** ((depth - 1) / 2)


def _form_c_infinity(A: Any, B: Any, C: Any) -> Any:
    """``derive_implicit_bias().c_infinity``: √(C/(A − B)) = ‖X⁺y‖/‖Pθ_S‖."""
    half = sp.Rational(1, 2) if isinstance(A, sp.Basic) else 0.5
    return (C / (A - B)) ** half


def _form_limit_coefficient(A: Any, B: Any, c_inf: Any, log: Any = math.log) -> Any:
    """``derive_implicit_bias().first_order`` at c = c_∞: −A c_∞ ln c_∞/(A − B)."""
    return -A * c_inf * log(c_inf) / (A - B)


def closed_form_roots(depth: int) -> tuple[sp.Expr, ...]:
    """All roots in s of A s^N − B s^{N−1} − C for N = depth ∈ {2, 3, 4}, by radicals.

    Exactly one of them is real and positive for given A, B, C > 0; c = s^{(N−1)/2}.
    ``depth`` is validated before the cache is consulted (2.0 or True are refused).
    """
    depth = checks.positive_int(depth, "depth", minimum=2)
    if depth > 4:
        raise InputError(f"depth must be 2, 3 or 4 for a solution by radicals, got {depth}")
    return _closed_form_roots(depth)


@cache
def _closed_form_roots(depth: int) -> tuple[sp.Expr, ...]:
    return tuple(sp.solve(_form_polynomial(s_, A_, B_, C_, depth), s_))


#: Largest depth :func:`scale_factor_rootof` accepts. Isolating the real roots of the
#: degree-N polynomial exactly costs milliseconds at N ≤ 20 for ordinary inputs but grows
#: steeply with N and with the bit size of the exact rationals (measured: ~2 s at N = 16,
#: ~17 s at N = 32 for A, B, C spanning float64's whole exponent range); a degree-10^15
#: polynomial cannot even be formed. 32 covers the verifier's use (N ≤ 20).
ROOTOF_MAX_DEPTH = 32


def scale_factor_rootof(A: float, B: float, C: float, depth: int) -> sp.Expr:
    """c as an exact algebraic number: CRootOf of A s^N − B s^{N−1} − C (rational inputs).

    A, B, C > 0 are converted to the exact rationals of their binary floats; the largest
    real root of the polynomial is the unique positive one; returns s^{(N−1)/2} as a SymPy
    expression (evaluate with ``.evalf(50)``). ``depth`` an integer in
    [2, :data:`ROOTOF_MAX_DEPTH`]. The root s lies in [m, 2m] with
    m = max(B/A, (C/A)^{1/N}) (from s^{N−1}(As − B) = C), so the polynomial is written in
    u = s/λ with λ = 2^{round(log₂ m)} (exact) and its root isolated near u = 1: otherwise
    root isolation crawls for roots far from 1 (s ≈ 1e600 for A = 1e-300, B = 1e300).
    """
    depth = checks.positive_int(depth, "depth", minimum=2)
    if depth > ROOTOF_MAX_DEPTH:
        raise InputError(
            f"depth must be <= {ROOTOF_MAX_DEPTH} for the exact root of the degree-N "
            f"polynomial (root isolation cost grows steeply with N), got {depth}"
        )
    floats = {k: checks.positive(v, k) for k, v in (("A", A), ("B", B), ("C", C))}
    vals = {k: sp.Rational(v) for k, v in floats.items()}
    log2_m = max(
        math.log2(floats["B"]) - math.log2(floats["A"]),
        (math.log2(floats["C"]) - math.log2(floats["A"])) / depth,
    )
    lam = sp.Integer(2) ** round(log2_m)
    scaled = _form_polynomial(lam * s_, vals["A"], vals["B"], vals["C"], depth) / lam ** (depth - 1)
    poly = sp.Poly(sp.expand(scaled), s_)
    roots = [lam * u for u in poly.real_roots()]
    return sp.Pow(roots[-1], sp.Rational(depth - 1, 2))


#: ‖(I − P)θ_S‖ is decided to be 0 (the B = 0 branch) when the computed value is at most
#: NULL_ZERO_FACTOR·√d·ε_mach·cond(X)·‖θ_S‖. Error model: the SVD is backward stable, so its
#: right singular vectors span the row space of X + E with ‖E‖ ≲ ε_mach‖X‖; that subspace
#: is tilted by ≤ ε_mach·cond(X) (Wedin), and forming θ_S − VᵀVθ_S adds ≲ √d·ε_mach‖θ_S‖.
#: Below that level the computed null component is rounding noise. The closed form is
#: continuous at B = 0 (c changes by ≤ b/(2c^{2ε}) relative, b = B/A ≲ 1e-26 here), so the
#: branch switch moves c by far less than its own rounding error.
NULL_ZERO_FACTOR = 8.0

#: An IllConditionedWarning is emitted when cond(X) = σ_max/σ_min exceeds ε_mach^{-1/2}
#: = 2²⁶ ≈ 6.7e7: X⁺y, P and hence B and C then carry relative errors up to
#: ~cond(X)·ε_mach > √ε_mach, i.e. more than half of float64's digits may be wrong.
ILL_CONDITIONED_COND = 2.0**26

_EPS = float(np.finfo(np.float64).eps)
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class _Ratios:
    """Scale-free inputs of the scalar equation, free of over/underflow.

    p = ‖Pθ_S‖/‖θ_S‖, q = ‖(I − P)θ_S‖/‖θ_S‖ (b = q², A − B = p²A), and
    log_kappa = ln(‖X⁺y‖/‖θ_S‖) (k = C/A = e^{2·log_kappa}; −inf when X⁺y = 0).
    The vectors are kept as (mantissa vector, power-of-two exponent) pairs.
    """

    p: float
    q: float
    log_kappa: float
    cond: float
    pinv_y: FloatArray  # X⁺y / 2^{pinv_y_exp}
    pinv_y_exp: int
    null: FloatArray  # (I − P)θ_S / 2^{null_exp}, as computed (also on the B = 0 branch)
    null_exp: int


def _exponent_times(e: int, num: int, den: int) -> tuple[int, float]:
    """e·num/den = whole + frac with whole an int and frac in [0, 1) (exact integer
    division; frac = remainder/den is correctly rounded)."""
    whole, rest = divmod(e * num, den)
    return whole, rest / den


def _ldexp_vector(x: FloatArray, e: int, what: str) -> FloatArray:
    """x·2^e elementwise, or InputError naming ``what`` if an entry overflows."""
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(x, e)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{what} overflows float64 (an entry exceeds 1.8e308)")
    return np.asarray(out, dtype=np.float64)


def _ratios(X: ArrayLike, y: ArrayLike, theta_s: ArrayLike) -> _Ratios:
    Xa, ya = checks.design_and_labels(X, y)
    n, d = Xa.shape
    checks.underparameterised_rule(n, d, "the deep-linear implicit bias (D3)")
    ts = checks.as_vector(theta_s, "theta_s", d)
    if not np.any(ts):
        raise InputError("theta_s must be non-zero: fine-tuning starts from its direction")
    Xs, ex = _pow2_scale(Xa)
    ys, ey = _pow2_scale(ya)
    tss, et = _pow2_scale(ts)
    checks.full_row_rank(Xs)
    U, sv, Vt = np.linalg.svd(Xs, full_matrices=False)
    cond = float(sv[0] / sv[-1])
    if cond > ILL_CONDITIONED_COND:
        warnings.warn(
            f"X is ill-conditioned (cond(X) = {cond:.3g} > {ILL_CONDITIONED_COND:.3g}): "
            f"X^+ y and the projection P = X^+ X carry relative errors up to "
            f"~cond(X)*eps = {cond * _EPS:.2g}, so the deep-linear closed form may have lost "
            "more than half of its digits",
            IllConditionedWarning,
            stacklevel=3,
        )
    coords = Vt @ tss  # Pθ_S in the orthonormal basis of the row space
    null = tss - Vt.T @ coords
    null = null - Vt.T @ (Vt @ null)  # re-orthogonalise (twice is enough)
    t_norm = float(np.linalg.norm(tss))
    p = min(1.0, float(np.linalg.norm(coords)) / t_norm)
    q = min(1.0, float(np.linalg.norm(null)) / t_norm)
    if q <= NULL_ZERO_FACTOR * math.sqrt(d) * _EPS * cond:
        q = 0.0
        p = 1.0
    beta = (U.T @ ys) / sv  # X⁺y = Vᵀβ·2^{ey−ex}
    b_norm = float(np.linalg.norm(beta))
    log_kappa = -math.inf if b_norm == 0.0 else (ey - ex - et) * _LN2 + math.log(b_norm / t_norm)
    return _Ratios(p, q, log_kappa, cond, Vt.T @ beta, ey - ex, null, et)


def _check_depth(depth: object) -> int | float:
    """A positive int (any size; bools refused) or ``math.inf``."""
    if isinstance(depth, float) and depth == math.inf:
        return math.inf
    if isinstance(depth, float | np.floating) and not isinstance(depth, bool):
        raise InputError(
            f"depth must be an integer >= 1 or math.inf (number of weight matrices), got {depth!r}"
        )
    return checks.positive_int(depth, "depth")


def _log_scale(r: _Ratios, depth: int | float) -> float:
    """t = ln c, from c²(c^{2ε} − q²) = κ² (ε = 1/(N − 1)) in log form.

    g(t) = 2t + ln(p² + expm1(2εt)) − 2 ln κ (using e^{2εt} − q² = p² + expm1(2εt), so
    no 1 − q² cancellation) is strictly increasing and concave on t > ln(q)/ε; its root is
    bracketed by the provable bounds
    max(ln κ/(1 + ε), ln(q)/ε, min(0, t_∞)) ≤ t ≤ min(max(0, t_∞), max(1, ln κ − ½ln 2ε))
    with t_∞ = ln κ − ln p (the N = ∞ root). A safeguarded Newton iteration (Newton steps
    that leave the bracket are replaced by bisection; the bracket shrinks on every
    evaluation) stops when the step is below 2ε_mach·max(1, |t|). Branches: N = 1 ⇒ t = 0;
    N = ∞ ⇒ t_∞; q = 0 ⇒ t = ln κ·(N − 1)/N; κ = 0 ⇒ t = (N − 1) ln q.
    """
    if depth == 1:
        return 0.0
    L = r.log_kappa
    if depth == math.inf:
        if r.p == 0.0:
            raise InputError(
                "theta_s must have a component in the row space of X for depth = inf "
                "(c_inf = |X^+ y| / |P theta_S| is undefined when P theta_S = 0)"
            )
        return L - math.log(r.p)
    eps = 1 / (depth - 1)  # int / int: correctly rounded for every int depth
    if r.q == 0.0:  # B = 0: c = k^{(N−1)/(2N)}
        return L / (1.0 + eps)
    log_q = math.log(r.q)
    if math.isinf(L):  # C = 0 (L = −inf; L is never +inf): c = b^{(N−1)/2}
        return log_q / eps if eps > 0.0 else (0.0 if log_q == 0.0 else -math.inf)
    if eps == 0.0:  # N − 1 beyond 2^1024: ε underflows, the N = ∞ root is exact to ~1e-308
        if r.p == 0.0:
            raise InputError(
                f"depth must be below 1e308 when theta_s has no row-space component "
                f"(the root grows without bound with depth), got {depth}"
            )
        return L - math.log(r.p)
    p2, q2 = r.p * r.p, r.q * r.q

    def g_and_slope(t: float) -> tuple[float, float]:
        x = 2.0 * eps * t
        if x > 30.0:  # e^x − q² = e^x(1 − q²e^{−x}), no overflow, no cancellation
            shrink = q2 * math.exp(-x)
            return 2.0 * t + x + math.log1p(-shrink) - 2.0 * L, 2.0 + 2.0 * eps / (1 - shrink)
        v = p2 + math.expm1(x)
        if v <= 0.0:
            return -math.inf, math.inf
        return 2.0 * t + math.log(v) - 2.0 * L, 2.0 + 2.0 * eps * math.exp(x) / v

    t_inf = L - math.log(r.p) if r.p > 0.0 else math.inf
    lo = max(L / (1.0 + eps), log_q / eps, min(0.0, t_inf))
    hi = min(max(0.0, t_inf), max(1.0, L - 0.5 * math.log(2.0 * eps)))
    if not lo < hi:
        return hi
    t = lo
    for _ in range(400):
        g, slope = g_and_slope(t)
        if g == 0.0:
            return t
        if g < 0.0:
            lo = t
        else:
            hi = t
        if hi - lo <= 4.0 * _EPS * max(1.0, abs(lo), abs(hi)):
            return 0.5 * (lo + hi)
        new = t - g / slope if math.isfinite(g) else math.nan
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - t) <= 2.0 * _EPS * max(1.0, abs(t)):
            # A tiny Newton step is convergence only where g itself is at rounding level;
            # near the singular end t → ln(q)/ε (p ≈ 0: g → −∞, slope ~ 1/p²) Newton crawls
            # while g is far from 0, so bisect instead (found by the D3 claim: θ_S in the
            # null space of X returned c = 1).
            if math.isfinite(g) and abs(g) <= 16.0 * _EPS * (1.0 + 2.0 * abs(t) + 2.0 * abs(L)):
                return new
            new = 0.5 * (lo + hi)
            if not lo < new < hi:
                return t
        t = new
    return t  # pragma: no cover - 400 safeguarded steps always reach the stopping rule


def _exp_checked(t: float, what: str) -> float:
    if t > 709.78:
        raise InputError(
            f"{what} = exp({t:.6g}) overflows float64: rescale theta_s or y (the result "
            "depends on them only through ratios)"
        )
    return math.exp(t)


def scale_inputs(X: ArrayLike, y: ArrayLike, theta_s: ArrayLike) -> tuple[float, float, float]:
    """(A, B, C) = (‖θ_S‖², ‖(I − P)θ_S‖², ‖X⁺y‖², validating the D3 regime.

    Needs n < d, X of full row rank and θ_S ≠ 0. P is the projector on the row space,
    VᵀV with V from the SVD of X; B is 0 on the B = 0 branch (see
    :data:`NULL_ZERO_FACTOR`). The evaluation functions never form A, B, C (they work with
    the ratios B/A, C/A, free of over/underflow). Each is formed from a power-of-two-
    rescaled vector and scaled back exactly; an :class:`InputError` is raised if a squared
    norm overflows float64 or A underflows to 0 (B and C round to subnormals or 0 below
    float64's normal range).
    """
    r = _ratios(X, y, theta_s)
    tss, et = _pow2_scale(checks.as_vector(theta_s, "theta_s"))
    a_s = float(tss @ tss)  # A/2^{2et}, in [0.25, d)
    A = _ldexp_checked(a_s, 2 * et, "theta_s: A = |theta_s|^2")
    if A == 0.0:
        raise InputError("theta_s: A = |theta_s|^2 underflows float64 (rescale theta_s and y)")
    B = _ldexp_checked(a_s * r.q * r.q, 2 * et, "theta_s: B = |(I - P) theta_s|^2")
    C = _ldexp_checked(
        float(r.pinv_y @ r.pinv_y), 2 * r.pinv_y_exp, "y (or a small X): C = |X^+ y|^2"
    )
    return A, B, C


def _ratios_from_norms(A: float, B: float, C: float) -> _Ratios:
    A = checks.positive(A, "A")
    B = checks.nonnegative(B, "B")
    C = checks.nonnegative(C, "C")
    if B > A:
        raise InputError(f"B = |(I - P) theta_s|^2 must be <= A = |theta_s|^2, got {B!r} > {A!r}")
    empty = np.zeros(1)
    log_kappa = 0.5 * (math.log(C) - math.log(A)) if C > 0.0 else -math.inf
    return _Ratios(math.sqrt((A - B) / A), math.sqrt(B / A), log_kappa, 1.0, empty, 0, empty, 0)


def _scale_from_norms(A: float, B: float, C: float, depth: float) -> float:
    """c from (A, B, C) directly (for tests and exact-arithmetic comparisons)."""
    return _exp_checked(_log_scale(_ratios_from_norms(A, B, C), _check_depth(depth)), "c")


def scale_factor(X: ArrayLike, y: ArrayLike, theta_s: ArrayLike, depth: float) -> float:
    """D3: the factor c multiplying (I − P)θ_S in the fine-tuned end-to-end vector.

    c is the unique positive root of ‖θ_S‖²c^{2N/(N−1)} − ‖(I − P)θ_S‖²c² = ‖X⁺y‖², i.e.
    of c²(c^{2ε} − b) = k with ε = 1/(N − 1), b = B/A, k = C/A, solved in t = ln c by a
    safeguarded Newton iteration on a provable bracket (see ``_log_scale``). Branches:
    N = 1 ⇒ c = 1; N = ``math.inf`` ⇒ c_∞ = ‖X⁺y‖/‖Pθ_S‖ (InputError if Pθ_S = 0);
    B = 0 (θ_S in the row space, decided as in :data:`NULL_ZERO_FACTOR`) ⇒ c = k^{(N−1)/(2N)};
    X⁺y = 0 ⇒ c = b^{(N−1)/2}. Every int depth ≥ 1 works (ε = 1/(N − 1) in float; c is
    continuous as N → ∞, |c_N − c_∞| ≈ |K|/(N − 1)).
    Scale-free: c depends on (X, y, θ_S) only through b and k, which are formed from
    power-of-two-rescaled vectors (inputs from 1e-300 to 1e300 neither over- nor underflow;
    InputError if c itself overflows).

    Error: |δc|/c ≲ 4ε_mach·max(1, |ln c|) from the solve, plus the propagated error of b and
    k: δb ≈ 2q·δq with |δq| ≲ ε_mach·cond(X) (row-space tilt) and |δk|/k ≲ 2ε_mach·cond(X),
    amplified by |∂ ln c/∂ ln k| ≤ 1/2 and |∂ ln c/∂b| ≤ 1/(2(c^{2ε} − b) + 2εc^{2ε}).
    cond(X) > :data:`ILL_CONDITIONED_COND` emits an IllConditionedWarning.
    ``depth`` N: a positive int or ``math.inf``; regime n < d, X full row rank, θ_S ≠ 0.
    """
    depth_v = _check_depth(depth)
    return _exp_checked(_log_scale(_ratios(X, y, theta_s), depth_v), "c")


def scale_factor_limit_coefficient(X: ArrayLike, y: ArrayLike, theta_s: ArrayLike) -> float:
    """K in c_N = c_∞ + K/(N − 1) + O(1/N²): K = −A c_∞ ln c_∞ / (A − B) (derived).

    Evaluated as −c_∞ ln(c_∞)/p² with p = ‖Pθ_S‖/‖θ_S‖ and ln c_∞ from the ratios (no
    overflow). Needs X⁺y ≠ 0 and Pθ_S ≠ 0.
    """
    r = _ratios(X, y, theta_s)
    if r.log_kappa == -math.inf:
        raise InputError(
            "y must have X^+ y != 0 for the 1/N rate (with X^+ y = 0, c_N = (B/A)^((N-1)/2) "
            "decays geometrically to c_inf = 0)"
        )
    t_inf = _log_scale(r, math.inf)
    c_inf = _exp_checked(t_inf, "c_inf")
    value = _form_limit_coefficient(1.0, 1.0 - r.p * r.p, c_inf, log=lambda _: t_inf)
    if not math.isfinite(value):
        raise InputError("theta_s: K = -c_inf ln(c_inf)/(A - B) overflows float64")
    return float(value)


def finetuned_end_to_end(
    X: ArrayLike, y: ArrayLike, theta_s: ArrayLike, depth: float
) -> FloatArray:
    """D3/D4: w_∞ = X⁺y + c(I − P)θ_S, the end-to-end vector gradient flow converges to.

    Fine-tuning all layers of a depth-N linear network from balanced weights with end-to-end
    vector θ_S on L = (1/2n)‖Xw − y‖². ``depth``: positive int or ``math.inf`` (then only the
    direction of θ_S matters). N = 1 gives linear regression's θ_S + X⁺(y − Xθ_S).
    c as in :func:`scale_factor`; X⁺y and (I − P)θ_S come from the SVD of the
    power-of-two-rescaled X (relative error ≲ cond(X)·ε_mach; IllConditionedWarning above
    :data:`ILL_CONDITIONED_COND`). Parameters: X (n, d) with n < d and full row rank,
    y (n,), theta_s (d,) non-zero.
    """
    depth_v = _check_depth(depth)
    r = _ratios(X, y, theta_s)
    t = _log_scale(r, depth_v)
    with np.errstate(over="raise", under="ignore"):
        try:
            part_y = np.ldexp(r.pinv_y, r.pinv_y_exp)
            part_null = math.exp(t + r.null_exp * _LN2) * r.null if np.any(r.null) else r.null
            w = part_y + part_null
        except (FloatingPointError, OverflowError) as exc:
            raise InputError(
                "theta_s or y: the fine-tuned end-to-end vector overflows float64"
            ) from exc
    if not np.all(np.isfinite(w)):
        raise InputError("theta_s or y: the fine-tuned end-to-end vector overflows float64")
    return np.asarray(w, dtype=np.float64)


def finetuned_risk(
    X: ArrayLike,
    y: ArrayLike,
    theta_s: ArrayLike,
    theta_t: ArrayLike,
    depth: float,
    cov: ArrayLike | None = None,
) -> float:
    """D5: R(w_∞) = (w_∞ − θ_T)ᵀΣ(w_∞ − θ_T) for the depth-N fine-tuned network.

    For noiseless labels y = Xθ_T this is ‖(I − P)(cθ_S − θ_T)‖²_Σ, and for θ_T = αθ_S it is
    (c − α)²θ_Sᵀ(I − P)Σ(I − P)θ_S: depth matters only through c. Any α (θ_T = −θ_S
    included). The quadratic form is evaluated on the difference rescaled by a power of two
    (no overflow in the squares); InputError if the risk itself overflows.
    """
    w = finetuned_end_to_end(X, y, theta_s, depth)
    tt = checks.as_vector(theta_t, "theta_t", w.shape[0])
    sig = np.eye(w.shape[0]) if cov is None else checks.as_cov(cov, w.shape[0])
    with np.errstate(over="ignore"):
        diff = w - tt
    if not np.all(np.isfinite(diff)):
        raise InputError("theta_t: w_inf - theta_t overflows float64")
    ds, e = _pow2_scale(diff)
    sig_s, es = _pow2_scale(sig)
    if not np.any(ds):
        return 0.0
    return _ldexp_checked(float(ds @ sig_s @ ds), 2 * e + es, "theta_t: the risk")


# ======================================================================================
# D4/D5 — infinite depth, alignment, depth-neutral case
# ======================================================================================


@dataclass(frozen=True)
class InfiniteDepthDerivation(LatexRendered):
    """D4–D5 consequences for θ_T = αθ_S (noiseless), derived by substitution.

    With y = Xθ_T: X⁺y = αPθ_S, so C = α²‖Pθ_S‖² = α²(A − B).
    ``c_infinity_aligned`` = √(C/(A − B)) = |α|: for α > 0 the infinitely deep network
    recovers θ_T exactly. ``depth_neutral``: the polynomial at α = 1, s = 1 (zero for every
    N, so c = 1 at every depth: depth is neutral when θ_T = θ_S).
    ``risk_aligned`` = (c − α)²·Q with Q = θ_Sᵀ(I − P)Σ(I − P)θ_S (the N-dependence is all
    in c); ``alignment_gap`` = ‖(‖θ_T‖/‖θ_S‖)θ_S − θ_T‖² rewritten with cos∠(θ_S, θ_T):
    2‖θ_T‖²(1 − cos), the large-d isotropic R_∞ ≈ (1 − n/d)·alignment_gap.
    """

    c_infinity_aligned: sp.Expr
    depth_neutral: sp.Expr
    risk_aligned: sp.Expr
    alignment_gap: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_infinite_depth")


@cache
def derive_infinite_depth() -> InfiniteDepthDerivation:
    """Derive the aligned-teacher consequences (see :class:`InfiniteDepthDerivation`)."""
    alpha = sp.Symbol("alpha", real=True)
    ib = derive_implicit_bias()
    c_inf = sp.simplify(ib.c_infinity.subs(C_, alpha**2 * (A_ - B_)))
    neutral = sp.simplify(ib.polynomial.subs(C_, A_ - B_).subs(s_, 1))
    Q = sp.Symbol("Q", nonnegative=True)
    # w_∞ − θ_T = αPθ_S + c(I − P)θ_S − αθ_S = (c − α)(I − P)θ_S.
    risk = sp.factor(sp.expand((c_ - alpha) ** 2 * Q))
    tt_norm, ts_norm, cos = sp.symbols("thetaT_norm thetaS_norm cos", positive=True)
    # ‖(‖θ_T‖/‖θ_S‖)θ_S − θ_T‖² = ‖θ_T‖² − 2(‖θ_T‖/‖θ_S‖)θ_Sᵀθ_T + ‖θ_T‖², θ_Sᵀθ_T = ‖θ_S‖‖θ_T‖cos.
    inner = ts_norm * tt_norm * cos
    gap = sp.factor(sp.expand(tt_norm**2 - 2 * (tt_norm / ts_norm) * inner + tt_norm**2))
    return InfiniteDepthDerivation(c_inf, neutral, risk, gap)


# ======================================================================================
# The implicit regulariser Q_N
# ======================================================================================


@dataclass(frozen=True)
class RegularizerDerivation(LatexRendered):
    """Q_N(w) = q(‖w‖) − a θ̂_Sᵀw with q(r) = r^{(N+1)/N}, a = ((N+1)/N)‖θ_S‖^{1/N}.

    ∇Q = q'(r)ŵ − aθ̂_S. Stationarity on {Xw = y} means (I − P)∇Q = 0, i.e.
    (I − P)w = (a r/q'(r))(I − P)θ̂_S. ``stationarity_residual`` is a r/q'(r) − ‖θ_S‖·c with
    c = (r/‖θ_S‖)^{(N−1)/N} (zero: the constrained minimiser is exactly D3's w_∞).
    ``curvature``: (q''(r), q'(r)/r), both positive for r > 0, so Q is strictly convex and
    the stationary point is the unique minimiser. ``depth_one_residual``: Q_1 − (‖w − θ_S‖² −
    ‖θ_S‖²) with concrete 3-vectors (zero). ``depth_two``: Q_2, the two-layer regulariser
    ‖w‖^{3/2} − (3/2)‖θ_S‖^{−1/2}θ_Sᵀw (zero initialisation-shape parameter).
    """

    regularizer: sp.Expr
    stationarity_residual: sp.Expr
    curvature: tuple[sp.Expr, sp.Expr]
    depth_one_residual: sp.Expr
    depth_two: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_regularizer")


_R, _T, _P = sp.symbols("r T p", positive=True)  # ‖w‖, ‖θ_S‖, θ̂_Sᵀw (alignment)


def implicit_regularizer(depth: int | sp.Symbol | None = None) -> sp.Expr:
    """Q_N as a SymPy expression in r = ‖w‖, T = ‖θ_S‖ and p = θ̂_Sᵀw (symbols ``r T p``).

    Q_N(w) = ‖w‖^{(N+1)/N} − ((N+1)/N)‖θ_S‖^{1/N} θ̂_Sᵀw; w_∞ = argmin Q_N s.t. Xw = y.
    ``depth`` None keeps N symbolic; otherwise a SymPy symbol or an integer ≥ 1 (floats,
    bools, complex numbers and strings are refused).
    """
    n_val: Any
    if depth is None:
        n_val = N
    elif isinstance(depth, sp.Symbol):
        n_val = depth
    else:
        n_val = checks.positive_int(depth, "depth")  # bool, float, complex, str refused
    return (
        _R ** ((n_val + 1) / sp.S(n_val)) - (n_val + 1) / sp.S(n_val) * _T ** (1 / sp.S(n_val)) * _P
    )


def implicit_regularizer_value(w: ArrayLike, theta_s: ArrayLike, depth: int) -> float:
    """Numeric Q_N(w) for vectors w, θ_S (see :func:`implicit_regularizer`).

    Q_N = ‖w‖^{(N+1)/N} − ((N+1)/N)‖θ_S‖^{1/N}θ̂_Sᵀw, evaluated on power-of-two-rescaled
    copies of w and θ_S with the powers of two of both terms carried exactly, so no norm
    over- or underflows; InputError (naming w and theta_s) if Q_N itself overflows.
    Absolute error ≲ 4dε_mach(‖w‖^{(N+1)/N} + ((N+1)/N)‖θ_S‖^{1/N}‖w‖) (the two terms
    cancel near the minimiser).
    """
    wa = checks.as_vector(w, "w")
    ts = checks.as_vector(theta_s, "theta_s", wa.shape[0])
    depth = checks.positive_int(depth, "depth")
    tss, et = _pow2_scale(ts)
    t_s = float(np.linalg.norm(tss))
    if t_s == 0.0:
        raise InputError("theta_s must be non-zero (Q_N uses its direction)")
    ws, ew = _pow2_scale(wa)
    r_s = float(np.linalg.norm(ws))
    # ‖w‖^{(N+1)/N} = r_s^{(N+1)/N}·2^{ew + ew/N};  ‖θ_S‖^{1/N} = t_s^{1/N}·2^{et/N}.
    q1, f1 = _exponent_times(ew, 1, depth)
    q2, f2 = _exponent_times(et, 1, depth)
    top = max(q1, q2)
    first = math.ldexp(r_s ** ((depth + 1) / depth) * 2.0**f1, q1 - top)
    align = float(tss @ ws) / t_s  # θ̂_Sᵀw / 2^ew
    second = math.ldexp((depth + 1) / depth * t_s ** (1 / depth) * 2.0**f2 * align, q2 - top)
    return _ldexp_checked(first - second, ew + top, "w and theta_s: Q_N")


@cache
def derive_regularizer() -> RegularizerDerivation:
    """Check that Q_N's constrained stationarity condition is D3 (see the dataclass)."""
    Q = implicit_regularizer()
    q = _R ** ((N + 1) / N)
    a = -sp.diff(Q, _P)  # coefficient of θ̂_Sᵀw
    qprime = sp.diff(q, _R)
    c_rel = (_R / _T) ** ((N - 1) / N)
    residual = sp.simplify(sp.powsimp(a * _R / qprime - _T * c_rel, force=True))
    curvature = (sp.simplify(sp.diff(q, _R, 2)), sp.simplify(qprime / _R))
    wv = sp.Matrix(sp.symbols("w0:3", real=True))
    tv = sp.Matrix(sp.symbols("u0:3", real=True))
    tnorm = sp.sqrt((tv.T * tv)[0])
    q1 = implicit_regularizer(1).subs(
        {_R: sp.sqrt((wv.T * wv)[0]), _T: tnorm, _P: (tv.T * wv)[0] / tnorm}
    )
    depth_one = sp.simplify(q1 - (((wv - tv).T * (wv - tv))[0] - (tv.T * tv)[0]))
    return RegularizerDerivation(Q, residual, curvature, depth_one, implicit_regularizer(2))


# ======================================================================================
# D6 — freezing layers
# ======================================================================================


@dataclass(frozen=True)
class FrozenLayersDerivation(LatexRendered):
    """D6. ``span_residual``: (I − θ̂θ̂ᵀ)w for w = (W_N ⋯ W_2 W_1)ᵀ with W_1 = s v θ̂ᵀ frozen and
    generic later layers (concrete sizes, θ̂ a rational unit vector): zero, so w ∈ span{θ_S}.
    ``optimum``: β* = θ_SᵀΣθ_T/θ_SᵀΣθ_S from d/dβ R(βθ_S) = 0; ``floor`` = R(β*θ_S) =
    θ_TᵀΣθ_T − (θ_SᵀΣθ_T)²/θ_SᵀΣθ_S (symbols ``a = θ_SᵀΣθ_S, b = θ_SᵀΣθ_T, t = θ_TᵀΣθ_T``).
    """

    span_residual: sp.Matrix
    optimum: sp.Expr
    floor: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_frozen_layers")


@cache
def derive_frozen_layers() -> FrozenLayersDerivation:
    """Derive D6 (see :class:`FrozenLayersDerivation`)."""
    widths = [2, 2, 2, 1]
    mats = _layer_symbols(widths)
    s, t0, t1 = (
        sp.Symbol("s", positive=True),
        sp.Symbol("t0", real=True),
        sp.Symbol("t1", real=True),
    )
    theta_hat, v = _rational_unit(t0), _rational_unit(t1)
    frozen = s * v * theta_hat.T
    w = _chain([frozen, *mats[1:]])
    span = ((sp.eye(2) - theta_hat * theta_hat.T) * w).applyfunc(
        lambda e: sp.cancel(sp.together(e))
    )
    beta = sp.Symbol("beta", real=True)
    a_, b_ = sp.Symbol("a", positive=True), sp.Symbol("b", real=True)
    t_ = sp.Symbol("t", positive=True)
    risk = beta**2 * a_ - 2 * beta * b_ + t_
    (opt,) = sp.solve(sp.diff(risk, beta), beta)
    return FrozenLayersDerivation(span, opt, sp.simplify(risk.subs(beta, opt)))


def frozen_layers_risk_floor(
    theta_s: ArrayLike, theta_t: ArrayLike, cov: ArrayLike | None = None
) -> float:
    """D6: min_β R(βθ_S) = θ_TᵀΣθ_T − (θ_SᵀΣθ_T)²/(θ_SᵀΣθ_S).

    With balanced pretrained weights W_1 ∝ v_1θ_Sᵀ is rank one; freezing W_1 (or any prefix
    W_1 … W_k) keeps the end-to-end vector in span{θ_S}, so no sample size gets the excess
    risk below this floor (complete failure when θ_T ⊥_Σ θ_S). Invariant under θ_S → λθ_S
    (evaluated on rescaled copies: no overflow); absolute error ≲ 4d·ε_mach·θ_TᵀΣθ_T (the
    subtraction cancels when θ_T ∥_Σ θ_S).
    """
    ts = checks.as_vector(theta_s, "theta_s")
    tt = checks.as_vector(theta_t, "theta_t", ts.shape[0])
    sig = np.eye(ts.shape[0]) if cov is None else checks.as_cov(cov, ts.shape[0])
    # Scale-invariant in θ_S and quadratic in θ_T and Σ: evaluate on power-of-two-rescaled
    # copies (exact) so that no quadratic form over- or underflows, then scale back.
    ts_s, _ = _pow2_scale(ts)
    tt_s, et = _pow2_scale(tt)
    sig_s, es = _pow2_scale(sig)
    a = float(ts_s @ sig_s @ ts_s)
    if a == 0.0:
        raise InputError("theta_s must have theta_s^T cov theta_s > 0 (a direction to scale)")
    if not np.any(tt_s):
        return 0.0
    b = float(ts_s @ sig_s @ tt_s)
    floor = max(0.0, float(tt_s @ sig_s @ tt_s) - b * b / a)
    return _ldexp_checked(floor, 2 * et + es, "theta_t: the risk floor")
