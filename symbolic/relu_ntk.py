"""Shallow ReLU networks in the NTK regime, fine-tuned from pretrained weights (docs/theory.md §3).

Network f(x; W) = (1/√m) Σ_r a_r relu(w_rᵀx), a_r ∈ {±1} fixed, only W trained, inputs on
the unit sphere, w_r ~ N(0, I) at initialisation (Arora, Du, Hu, Li, Wang 2019).

As in :mod:`symbolic.linear`, two kinds of public names live here:

* ``derive_*`` functions return frozen dataclasses of SymPy objects produced by SymPy doing
  the algebra, each beside its textbook form:
  :func:`derive_relu_kernels` (K1: the orthant probability and the companion E[relu relu]
  term, integrated in polar coordinates), :func:`derive_linear_teacher_norm` (K2: the series
  of the kernel and the resulting bound yᵀ(H^∞)⁻¹y ≤ 4‖β‖²) and
  :func:`derive_finetuned_predictor` (K3: fine-tuning the linearised network is L1 on the
  NTK features; its gradient-flow and gradient-descent solutions, the distance travelled and
  the generalisation term). Each result's ``.provenance`` says whether SymPy derived it or
  checked a stated answer (docs/theory.md).
* Evaluation functions take NumPy arrays and return floats/arrays: :func:`first_layer_ntk`
  (H^∞, only W trained), :func:`full_ntk` (both layers: H^∞ + :func:`nngp_gram`),
  :func:`ntk` (either, by ``layers="first"|"both"``), :func:`finetuned_predictor`,
  :func:`predictor_from_gram`, :func:`distance_travelled`, :func:`kernel_norm_sq`,
  :func:`generalization_term`, :func:`linear_teacher_bound`. The kernels evaluate the
  derived expressions, shipped as plain ``_form_*`` functions (no SymPy work at call time;
  tests/symbolic/test_shipped_forms.py checks each against its derivation), at a
  numerically stable angle; E[relu relu] switches to its Taylor series near u = −1.

Conventions (docs/notation.md): X is (n, d) with unit-norm rows; the loss is
(1/2n)‖f(X) − y‖²; K is the n×n NTK Gram matrix (not divided by n), so gradient flow on the
linearised model relaxes each eigen-direction of K at rate κ/n and a GD step η is stable iff
η < 2n/λ_max(K).

Numerical stability: the textbook H^∞(u) = u(π − arccos u)/(2π) evaluated at the rounded
u = x̂ᵀx̂' loses half the digits near u = ±1 (arccos′ is infinite there: at u = 1 − 2⁻⁵³ the
angle is 1.5e-8 instead of 0). Here the angle comes from Kahan's formula
θ = 2·atan2(‖x̂ − x̂'‖, ‖x̂ + x̂'‖), with an absolute error of a few ulp for every θ ∈ [0, π]; on the
diagonal it is exactly 0 and H^∞_ii = ‖x_i‖²/2 to the last bit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar, cast

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.deprecation import deprecated_alias, warn_deprecated
from finetune_theory.errors import InputError
from finetune_theory.scaling import ldexp_checked as _ldexp_checked
from finetune_theory.scaling import pow2_scale as _pow2_scale
from symbolic import _symbols as syms
from symbolic import linear as sl
from symbolic._provenance import Provenance, provenance_of
from symbolic._render import LatexRendered

__all__ = [
    "GRAM_RCOND",
    "UNIT_NORM_ATOL",
    "FinetunedPredictorDerivation",
    "KernelNormDerivation",
    "ReluKernelDerivation",
    "angles",
    "derive_finetuned_predictor",
    "derive_linear_teacher_norm",
    "derive_relu_kernels",
    "distance_travelled",
    "finetuned_predictor",
    "first_layer_ntk",
    "full_ntk",
    "generalization_term",
    "gram",
    "kernel_norm_sq",
    "linear_teacher_bound",
    "linear_teacher_norm_sq",
    "nngp_gram",
    "ntk",
    "ntk_gram",
    "orthant_probability",
    "predictor_from_gram",
]

#: Rows of X must satisfy |‖x_i‖ − 1| ≤ UNIT_NORM_ATOL (unless ``normalize=True``). 1e-10 is
#: far above the rounding of a normalised float64 row (~d·1e-16) and far below any
#: deliberate departure from the sphere.
UNIT_NORM_ATOL = 1e-10

#: A Gram matrix whose eigenvalue ratio λ_min/λ_max is at or below GRAM_RCOND is treated as
#: singular: solving with it would lose more than 12 of float64's 16 digits (duplicate rows
#: give ratios ~1e-17). Pass ``ridge > 0`` to solve with K + ridge·I instead.
GRAM_RCOND = 1e-12

#: Which layers of f(x) = (1/√m) Σ a_r relu(w_rᵀx) are trained, hence which NTK: "first"
#: (only W: H^∞, docs/theory.md §3) or "both" (W and a: H^∞ + E[relu relu]). The same
#: spelling and default as ``numeric.relu_ntk.empirical_ntk`` and ``monte_carlo_gram``.
Layers = Literal["first", "both"]

#: The pre-0.1 spelling of :data:`Layers` (``kernel="h_inf"|"ntk"``), deprecated.
Kernel = Literal["h_inf", "ntk"]
_KERNEL_LAYERS: dict[str, Layers] = {"h_inf": "first", "ntk": "both"}
#: How messages name the Gram matrix of each choice of layers.
_GRAM_NAME: dict[str, str] = {"first": "H^inf", "both": "full NTK"}


def _layers(value: Any) -> Layers:
    """``layers`` validated: "first" or "both" (InputError naming layers otherwise)."""
    if not isinstance(value, str) or value not in _GRAM_NAME:
        raise InputError(
            f"layers must be 'first' (only W trained: H^inf) or 'both' (W and a: the full "
            f"NTK), got {value!r:.80}"
        )
    return cast(Layers, value)


_F = TypeVar("_F", bound=Callable[..., Any])


def _accepts_kernel_keyword(func: _F) -> _F:
    """Transition for one release: the pre-0.1 keyword ``kernel="h_inf"|"ntk"`` of ``func``.

    ``func`` keeps its signature (``layers=`` only). A call with ``kernel=`` warns
    (DeprecationWarning) and runs with ``layers="first"`` for "h_inf" and ``layers="both"``
    for "ntk"; another kernel value is an InputError naming kernel, and passing both
    ``kernel=`` and ``layers=`` is a TypeError.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "kernel" not in kwargs:
            return func(*args, **kwargs)
        kernel = kwargs.pop("kernel")
        if "layers" in kwargs:
            raise TypeError(
                f"{func.__name__}() got both layers= and the deprecated kernel=; pass layers= only"
            )
        if not isinstance(kernel, str) or kernel not in _KERNEL_LAYERS:
            raise InputError(
                f"kernel must be 'h_inf' (only W trained) or 'ntk' (W and a), got "
                f"{kernel!r:.80}; kernel= is deprecated: pass layers='first' or 'both'"
            )
        warn_deprecated(
            f"the kernel= argument of symbolic.relu_ntk.{func.__name__}",
            'layers="first" (was kernel="h_inf") or layers="both" (was kernel="ntk")',
        )
        return func(*args, layers=_KERNEL_LAYERS[kernel], **kwargs)

    return cast(_F, wrapper)


# ======================================================================================
# K1 — the infinite-width Gram matrix, from the 2-D Gaussian in polar coordinates
# ======================================================================================


@dataclass(frozen=True)
class ReluKernelDerivation(LatexRendered):
    """K1 derived by integrating the standard 2-D Gaussian in polar coordinates.

    For unit x, x' at angle θ, (wᵀx, wᵀx') depends on w ~ N(0, I_d) only through its
    projection onto span{x, x'}: a standard 2-D Gaussian w = r(cos φ, sin φ) with density
    e^{−r²/2} r/(2π) (``density``, Jacobian r included; ``total_mass`` = 1). Take x = (1, 0)
    and x' = (cos θ, sin θ): wᵀx = r cos φ ≥ 0 on the arc ``half_plane`` = [−π/2, π/2]
    (between the roots of cos φ = 0, by ``solveset``), wᵀx' = r cos(φ − θ) ≥ 0 on that arc
    shifted by θ, and for 0 < θ < π both hold on the ``wedge`` [θ − π/2, π/2] of width π − θ.

    ``orthant_probability`` = ∫_wedge ∫_0^∞ density = (π − θ)/(2π) (Sheppard's formula);
    ``relu_expectation`` = E[relu(wᵀx) relu(wᵀx')] = ∫_wedge ∫_0^∞ r² cos φ cos(φ − θ)
    density = (sin θ + (π − θ) cos θ)/(2π) (the NNGP-type term, arc-cosine kernel of
    order 1). With u = cos θ: ``gram_entry`` H^∞(u) = u·P(arccos u), equal to ``textbook``
    u(π − arccos u)/(2π) and to ``arcsin_form`` u/4 + u·arcsin(u)/(2π) — the latter only
    after ``rewrite(asin)`` (acos u + asin u = π/2 is not applied by ``simplify`` alone).
    ``ntk_entry`` = H^∞(u) + E[relu relu](arccos u): the NTK of the two-layer network when
    both W and a are trained. ``at_zero_angle`` = (P, E[relu relu]) at θ → 0⁺ (1/2, 1/2),
    ``at_antipodes`` the same at θ → π⁻ (0, 0).
    """

    density: sp.Expr
    total_mass: sp.Expr
    half_plane: sp.Set
    wedge: tuple[sp.Expr, sp.Expr]
    orthant_probability: sp.Expr
    orthant_textbook: sp.Expr
    relu_expectation: sp.Expr
    relu_expectation_textbook: sp.Expr
    gram_entry: sp.Expr
    textbook: sp.Expr
    arcsin_form: sp.Expr
    ntk_entry: sp.Expr
    at_zero_angle: tuple[sp.Expr, sp.Expr]
    at_antipodes: tuple[sp.Expr, sp.Expr]

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_relu_kernels")


@cache
def derive_relu_kernels() -> ReluKernelDerivation:
    """Derive K1 (see :class:`ReluKernelDerivation`); about a second of SymPy work."""
    r, phi, th, u = syms.radius, syms.polar_angle, syms.angle, syms.cos_sim
    density = sp.exp(-(r**2) / 2) * r / (2 * sp.pi)
    total = sp.integrate(density, (r, 0, sp.oo), (phi, -sp.pi, sp.pi))
    # The arc where wᵀx = r cos φ ≥ 0: bounded by the roots of cos φ = 0 in [−π, π], with
    # cos > 0 between them. (SymPy 1.14's solveset(cos φ >= 0, φ, [−π, π]) returns only
    # [0, π/2]: it solves on one period [0, 2π) and intersects without shifting.)
    roots = sp.solveset(sp.Eq(sp.cos(phi), 0), phi, sp.Interval(-sp.pi, sp.pi))
    if not isinstance(roots, sp.FiniteSet) or len(roots) != 2:  # pragma: no cover
        raise RuntimeError(f"expected two roots of cos(phi) = 0 in [-pi, pi], got {roots}")
    start, end = sorted(roots, key=float)
    if not sp.cos((start + end) / 2) > 0:  # pragma: no cover - SymPy behaviour guard
        raise RuntimeError("cos(phi) is not positive between its roots")
    half = sp.Interval(start, end)
    # The second half-plane is the first one rotated by θ; intersect the two arcs.
    lo = sp.Max(start, start + th)
    hi = sp.Min(end, end + th)
    radial = sp.integrate(density, (r, 0, sp.oo))
    prob = sp.simplify(sp.integrate(radial, (phi, lo, hi)))
    radial2 = sp.integrate(density * r**2, (r, 0, sp.oo))
    relu = sp.simplify(sp.integrate(radial2 * sp.cos(phi) * sp.cos(phi - th), (phi, lo, hi)))
    gram_entry = u * prob.subs(th, sp.acos(u))
    relu_u = relu.subs(th, sp.acos(u))
    return ReluKernelDerivation(
        density=density,
        total_mass=total,
        half_plane=half,
        wedge=(lo, hi),
        orthant_probability=prob,
        orthant_textbook=(sp.pi - th) / (2 * sp.pi),
        relu_expectation=relu,
        relu_expectation_textbook=(sp.sin(th) + (sp.pi - th) * sp.cos(th)) / (2 * sp.pi),
        gram_entry=gram_entry,
        textbook=u * (sp.pi - sp.acos(u)) / (2 * sp.pi),
        arcsin_form=u / 4 + u * sp.asin(u) / (2 * sp.pi),
        ntk_entry=gram_entry + relu_u,
        at_zero_angle=(sp.limit(prob, th, 0, "+"), sp.limit(relu, th, 0, "+")),
        at_antipodes=(sp.limit(prob, th, sp.pi, "-"), sp.limit(relu, th, sp.pi, "-")),
    )


_PSI = sp.Symbol("psi", positive=True)  # the supplementary angle ψ = π − θ


def _is_sym(x: Any) -> bool:
    return isinstance(x, sp.Basic)


def _pi(x: Any) -> Any:
    return sp.pi if _is_sym(x) else math.pi


def _sqrt(x: Any) -> Any:
    return sp.sqrt(x) if _is_sym(x) else np.sqrt(x)


def _form_orthant(psi: Any) -> Any:
    """Shipped ``orthant_probability`` at θ = π − ψ: ψ/(2π)."""
    return psi / (2 * _pi(psi))


def _form_relu_expectation(psi: Any) -> Any:
    """Shipped ``relu_expectation`` at θ = π − ψ: (sin ψ − ψ cos ψ)/(2π).

    The textbook form; as written it cancels for small ψ (u → −1), so the evaluator
    :func:`_relu_expectation_psi` switches to its Taylor series there.
    """
    if _is_sym(psi):
        return (sp.sin(psi) - psi * sp.cos(psi)) / (2 * sp.pi)
    return (np.sin(psi) - psi * np.cos(psi)) / (2 * np.pi)


#: Below ψ = _SERIES_PSI the series Σ_{j≥1} (−1)^{j+1} 2j ψ^{2j+1}/(2j+1)! of sin ψ − ψ cos ψ
#: is used (its terms alternate and shrink, so stopping after _SERIES_TERMS terms leaves an
#: error below the first omitted term, < 1e-17 of the sum at ψ = 1). Above it the direct
#: form cancels at most a factor sin ψ/(sin ψ − ψ cos ψ) ≤ 2.8 (at ψ = 1), ~1.5 bits.
_SERIES_PSI = 1.0
_SERIES_TERMS = 11


def _relu_expectation_psi(psi: FloatArray) -> FloatArray:
    """E[relu relu] at supplementary angle ψ, relatively accurate on all of [0, π].

    sin ψ − ψ cos ψ = ψ³/3 − ψ⁵/30 + … (cancellation-free series, Horner in ψ²) for ψ < 1;
    the direct form :func:`_form_relu_expectation` otherwise. Relative error ≲ 4ε_mach
    (relative to the value at the given ψ).
    """
    psi = np.asarray(psi, dtype=np.float64)
    small = psi < _SERIES_PSI
    x2 = np.where(small, psi, 0.0) ** 2
    # coefficients a_j = (−1)^{j+1}·2j/(2j+1)!, j = 1 … _SERIES_TERMS
    acc = np.zeros_like(psi)
    for j in range(_SERIES_TERMS, 0, -1):
        coeff = (-1) ** (j + 1) * 2 * j / math.factorial(2 * j + 1)
        acc = acc * x2 + coeff
    series = acc * np.where(small, psi, 0.0) ** 3 / (2 * np.pi)
    direct = _form_relu_expectation(np.where(small, _SERIES_PSI, psi))
    return np.asarray(np.where(small, series, direct), dtype=np.float64)


def _orthant_psi(psi: FloatArray) -> FloatArray:
    return np.asarray(_form_orthant(np.asarray(psi, dtype=np.float64)), dtype=np.float64)


def _unit_rows(X: ArrayLike, name: str, normalize: bool) -> tuple[FloatArray, FloatArray]:
    """(rows as given, their norms), after checking or enforcing unit norm.

    The norms are taken of each row rescaled by a power of two (exact), so rows of any
    magnitude (1e-300 to 1e300) are normalised without over- or underflow.
    """
    Xa = checks.as_matrix(X, name)
    if not isinstance(normalize, bool | np.bool_):
        raise InputError(f"normalize must be True or False, got {normalize!r}")
    exps = np.frexp(np.max(np.abs(Xa), axis=1))[1]
    scaled = np.ldexp(Xa, -exps[:, None])  # each row's largest |entry| in [0.5, 1)
    scaled_norms = np.linalg.norm(scaled, axis=1)
    with np.errstate(over="ignore"):
        norms = np.ldexp(scaled_norms, exps)  # inf only for rows far off the unit sphere
    if normalize:
        if np.any(scaled_norms == 0.0):
            raise InputError(f"{name} must not contain a zero row when normalize=True")
        Xa = scaled / scaled_norms[:, None]
        return Xa, np.ones_like(norms)
    worst = float(np.max(np.abs(norms - 1.0)))
    if worst > UNIT_NORM_ATOL:
        raise InputError(
            f"{name} must have unit-norm rows (|norm - 1| <= {UNIT_NORM_ATOL:g}; the NTK "
            f"formulas of docs/theory.md §3 are stated on the unit sphere), largest deviation "
            f"{worst:.3g}; pass normalize=True to project the rows onto the sphere"
        )
    return Xa, norms


def _pair(
    X: ArrayLike, Z: ArrayLike | None, normalize: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    Xa, xn = _unit_rows(X, "X", normalize)
    if Z is None:
        return Xa, xn, Xa, xn
    Za, zn = _unit_rows(Z, "Z", normalize)
    if Za.shape[1] != Xa.shape[1]:
        raise InputError(f"Z must have {Xa.shape[1]} columns to match X, got shape {Za.shape}")
    return Xa, xn, Za, zn


def _stable_angles(
    Xa: FloatArray, xn: FloatArray, Za: FloatArray, zn: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """θ_ij = 2·atan2(‖x̂_i − ẑ_j‖, ‖x̂_i + ẑ_j‖) and ψ_ij = π − θ_ij computed as
    2·atan2(‖x̂_i + ẑ_j‖, ‖x̂_i − ẑ_j‖) (row chunks of ≤ 2²¹ numbers).

    x̂ ± ẑ is formed without rounding the normalised rows first: with a = 1/‖x‖, b = 1/‖z‖,
    x̂ ± ẑ = ½[(x ± z)(a + b) + (x ∓ z)(a − b)], a − b = −δ·ab, δ = ‖x‖ − ‖z‖ =
    (x − z)·(x + z)/(‖x‖ + ‖z‖). x ± z is exact where it cancels (Sterbenz) and a − b carries
    no cancellation, so θ and ψ each have a *relative* error of a few ulp, even ψ = 1e-15 at
    u → −1 (x/‖x‖ + z/‖z‖ has an absolute error of ~1e-16 there). The formula is exactly
    symmetric in (x, z), so first_layer_ntk(X) is exactly symmetric.
    """
    theta = np.empty((Xa.shape[0], Za.shape[0]), dtype=np.float64)
    psi = np.empty_like(theta)
    rows = max(1, (1 << 21) // max(1, Za.shape[0] * Za.shape[1]))
    inv_z = 1.0 / zn
    for start in range(0, Xa.shape[0], rows):
        block = Xa[start : start + rows, None, :]
        nx = xn[start : start + rows, None]
        diff = block - Za[None, :, :]
        summ = block + Za[None, :, :]
        gap = np.einsum("ijk,ijk->ij", diff, summ) / (nx + zn[None, :])  # ‖x‖ − ‖z‖
        a_plus_b = (1.0 / nx + inv_z[None, :])[:, :, None]
        a_minus_b = (-gap / (nx * zn[None, :]))[:, :, None]
        minus = 0.5 * np.linalg.norm(diff * a_plus_b + summ * a_minus_b, axis=-1)
        plus = 0.5 * np.linalg.norm(summ * a_plus_b + diff * a_minus_b, axis=-1)
        theta[start : start + rows] = 2.0 * np.arctan2(minus, plus)
        psi[start : start + rows] = 2.0 * np.arctan2(plus, minus)
    return theta, psi


def angles(X: ArrayLike, Z: ArrayLike | None = None, *, normalize: bool = False) -> FloatArray:
    """Angles θ_ij between rows x_i of X and z_j of Z (default Z = X), shape (n, n_z).

    Kahan's formula θ = 2·atan2(‖x̂ − ẑ‖, ‖x̂ + ẑ‖) has an absolute error of a few ulp on all of
    [0, π], unlike arccos(x̂ᵀẑ) near 0 and π. Rows must be unit-norm (see
    :data:`UNIT_NORM_ATOL`) unless ``normalize=True``.
    """
    return _stable_angles(*_pair(X, Z, normalize))[0]


def orthant_probability(
    X: ArrayLike, Z: ArrayLike | None = None, *, normalize: bool = False
) -> FloatArray:
    """P_ij = P_w(wᵀx_i ≥ 0, wᵀz_j ≥ 0) = (π − θ_ij)/(2π) for w ~ N(0, I) (Sheppard).

    The derived ``orthant_probability`` of :func:`derive_relu_kernels`, evaluated at the
    supplementary angle ψ = π − θ of :func:`angles` (absolute error of a few ulp).
    Each term x_iᵀz_j 1{·}1{·} of the empirical NTK is x_iᵀz_j times a Bernoulli(P_ij)
    variable, so its variance is (x_iᵀz_j)² P_ij (1 − P_ij).
    """
    _, psi = _stable_angles(*_pair(X, Z, normalize))
    return _orthant_psi(psi)


def first_layer_ntk(
    X: ArrayLike, Z: ArrayLike | None = None, *, normalize: bool = False
) -> FloatArray:
    """K1: the infinite-width NTK of the FIRST layer (only W trained), H^∞ of docs/theory.md §3.

    H^∞_ij = E_w[x_iᵀz_j 1{wᵀx_i ≥ 0, wᵀz_j ≥ 0}] = x_iᵀz_j (π − θ_ij)/(2π), w ~ N(0, I):
    the kernel of the paper's setting (output weights a_r = ±1 fixed). Its finite-width pair
    is ``numeric.relu_ntk.empirical_ntk(net, X, Z, layers="first")`` (the default there), and
    ``numeric.relu_ntk.monte_carlo_gram(..., layers="first")``; for both layers trained use
    :func:`full_ntk` (comparing that with the first-layer empirical NTK is an error of order
    E[relu relu] that no width removes). ``ntk(X, Z, layers="first")`` is the same matrix.

    X is (n, d), Z (n_z, d) defaults to X (then the result is the symmetric PSD Gram matrix;
    with Z, the cross-kernel k(Z, X)ᵀ). Rows must be unit-norm
    (|‖x‖ − 1| ≤ :data:`UNIT_NORM_ATOL`): pass ``normalize=True`` to divide them by their
    norms first. The orthant probability (π − θ)/(2π) is the shipped expression of
    :func:`derive_relu_kernels`, evaluated at the stable angle of :func:`angles`, so the
    diagonal is ‖x_i‖²/2 to rounding and entries near u = ±1 keep full precision.
    """
    Xa, xn, Za, zn = _pair(X, Z, normalize)
    _, psi = _stable_angles(Xa, xn, Za, zn)
    return np.asarray((Xa @ Za.T) * _orthant_psi(psi), dtype=np.float64)


def nngp_gram(X: ArrayLike, Z: ArrayLike | None = None, *, normalize: bool = False) -> FloatArray:
    """E_w[relu(wᵀx_i) relu(wᵀz_j)] = ‖x_i‖‖z_j‖ (sin θ + (π − θ) cos θ)/(2π), w ~ N(0, I).

    The second-layer part of the two-layer NTK (arc-cosine kernel of order 1, the derived
    ``relu_expectation`` of :func:`derive_relu_kernels`): :func:`full_ntk` minus
    :func:`first_layer_ntk`. Unit-norm rows as in :func:`first_layer_ntk`.
    """
    Xa, xn, Za, zn = _pair(X, Z, normalize)
    _, psi = _stable_angles(Xa, xn, Za, zn)
    return np.asarray(np.outer(xn, zn) * _relu_expectation_psi(psi), dtype=np.float64)


def full_ntk(X: ArrayLike, Z: ArrayLike | None = None, *, normalize: bool = False) -> FloatArray:
    """K1: the infinite-width NTK of BOTH layers (W and a trained): H^∞ + E[relu relu].

    K_ij = x_iᵀz_j (π − θ_ij)/(2π) + ‖x_i‖‖z_j‖ (sin θ_ij + (π − θ_ij) cos θ_ij)/(2π), i.e.
    :func:`first_layer_ntk` + :func:`nngp_gram`: for f(x) = (1/√m) Σ a_r relu(w_rᵀx),
    ∇_{w_r} f = a_r 1{w_rᵀx ≥ 0} x/√m contributes H^∞ and ∇_{a_r} f = relu(w_rᵀx)/√m
    contributes E[relu relu], as m → ∞. Its finite-width pair is
    ``numeric.relu_ntk.empirical_ntk(net, X, Z, layers="both")`` (not the default there) and
    ``monte_carlo_gram(..., layers="both")``. ``ntk(X, Z, layers="both")`` is the same
    matrix. Unit-norm rows as in :func:`first_layer_ntk`.
    """
    Xa, xn, Za, zn = _pair(X, Z, normalize)
    _, psi = _stable_angles(Xa, xn, Za, zn)
    return np.asarray(
        (Xa @ Za.T) * _orthant_psi(psi) + np.outer(xn, zn) * _relu_expectation_psi(psi),
        dtype=np.float64,
    )


def ntk(
    X: ArrayLike,
    Z: ArrayLike | None = None,
    *,
    layers: Layers = "first",
    normalize: bool = False,
) -> FloatArray:
    """K1: the infinite-width NTK of the layers trained, chosen as the empirical NTK is.

    ``layers="first"`` (default, only W trained, the paper's setting): H^∞ =
    :func:`first_layer_ntk`, x_iᵀz_j (π − θ_ij)/(2π). ``layers="both"`` (W and a trained):
    :func:`full_ntk`, H^∞ + E[relu relu]. The spelling and the default are those of
    ``numeric.relu_ntk.empirical_ntk(net, X, Z, layers="first")`` and
    ``monte_carlo_gram(..., layers=...)``, so ``ntk(X, layers=L)`` is the m → ∞ limit of
    ``empirical_ntk(net, X, layers=L)`` for every L. Another ``layers`` value is an
    InputError naming layers. Unit-norm rows (or ``normalize=True``) as in
    :func:`first_layer_ntk`.
    """
    kernel = first_layer_ntk if _layers(layers) == "first" else full_ntk
    return kernel(X, Z, normalize=normalize)


#: Deprecated names (removed in finetune-theory 0.2.0): ``gram`` is the FIRST-layer kernel
#: H^∞ and ``ntk_gram`` the full two-layer NTK; the new names say which.
gram = deprecated_alias(first_layer_ntk, "symbolic.relu_ntk.gram")
ntk_gram = deprecated_alias(full_ntk, "symbolic.relu_ntk.ntk_gram")


# ======================================================================================
# K2 — linear teachers have a known kernel norm
# ======================================================================================


@dataclass(frozen=True)
class KernelNormDerivation(LatexRendered):
    """K2: the series of H^∞(u) and the kernel norm of linear functions.

    ``series`` is the Taylor series of u/4 + u·arcsin(u)/(2π) to O(u¹⁰) (SymPy ``series``);
    ``linear_coefficient`` its u-coefficient 1/4; ``odd_part`` (k(u) − k(−u))/2 = u/4 exactly,
    so k(u) − u/4 = u·arcsin(u)/(2π) is even; ``even_coefficient`` is the general Taylor
    coefficient of u·arcsin(u)/(2π) at u^{2j+2} from the formal power series of arcsin
    (SymPy ``fps``), positive for every j ≥ 0 (``even_coefficient_positive``), so
    k = (1/4)·u + (a PSD dot-product kernel) on the sphere.

    RKHS step: for a dot-product kernel k = c₁u + h with h PSD, yᵀK⁻¹y = max_α 2αᵀy − αᵀKα
    (``variational_value`` is that objective at its stationary point α* = K⁻¹y, equal to
    yᵀK⁻¹y); with y = Xβ and αᵀKα ≥ c₁‖Xᵀα‖², the objective is at most
    max_v 2vᵀβ − c₁‖v‖². ``dual_stationary`` solves its stationarity condition per
    coordinate (v = β/c₁; concave, ``dual_curvature`` = −2c₁ < 0) and ``dual_value`` is the
    maximum ‖β‖²/c₁. ``bound`` substitutes c₁ = 1/4: yᵀ(H^∞)⁻¹y ≤ 4‖β‖² (``textbook``).
    The bound is attained in the limit n → ∞ because the even part of the kernel is
    orthogonal on the sphere to the linear functions (odd degree 1).
    """

    kernel: sp.Expr
    series: sp.Expr
    linear_coefficient: sp.Expr
    odd_part: sp.Expr
    even_coefficient: sp.Expr
    even_coefficient_positive: bool | None
    variational_value: sp.MatrixExpr
    dual_stationary: sp.Expr
    dual_curvature: sp.Expr
    dual_value: sp.Expr
    bound: sp.Expr
    textbook: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_linear_teacher_norm")


_J = sp.Symbol("j", integer=True, nonnegative=True)


@cache
def derive_linear_teacher_norm() -> KernelNormDerivation:
    """Derive K2 (see :class:`KernelNormDerivation`)."""
    u = syms.cos_sim
    # The derived H^∞(u), rewritten into the arcsin basis: u/4 + u·arcsin(u)/(2π).
    kernel = sp.expand(derive_relu_kernels().gram_entry.rewrite(sp.asin))
    series = sp.series(kernel, u, 0, 10)
    c1 = series.removeO().coeff(u, 1)
    odd = sp.simplify((kernel - kernel.subs(u, -u)) / 2)
    # u·asin(u)/(2π) = Σ_j a_{2j+1} u^{2j+2}/(2π) with a_k the arcsin coefficients.
    fps = sp.fps(sp.asin(u), u)
    (k_sym,) = fps.ak.variables
    coeff = sp.simplify(fps.ak.formula.subs(k_sym, 2 * _J + 1) / (2 * sp.pi))
    K, y = syms.ntk, syms.residual
    alpha = K.I * y
    variational = (2 * alpha.T * y - alpha.T * K * alpha).expand().doit().subs(K.T, K).doit()
    # Dual bound, one coordinate at a time (the objective is separable in v).
    v, b, c = sp.Symbol("v", real=True), sp.Symbol("b", real=True), syms.lin_coeff
    objective = 2 * v * b - c * v**2
    (v_star,) = sp.solve(sp.diff(objective, v), v)
    curvature = sp.diff(objective, v, 2)
    per_coordinate = sp.simplify(objective.subs(v, v_star))  # b²/c
    dual_value = per_coordinate.subs(b**2, syms.beta_sq)
    return KernelNormDerivation(
        kernel=kernel,
        series=series,
        linear_coefficient=c1,
        odd_part=odd,
        even_coefficient=coeff,
        even_coefficient_positive=coeff.is_positive,
        variational_value=variational,
        dual_stationary=v_star,
        dual_curvature=curvature,
        dual_value=dual_value,
        bound=dual_value.subs(c, c1),
        textbook=4 * syms.beta_sq,
    )


def _form_norm_bound(beta_sq: Any) -> Any:
    """Shipped ``derive_linear_teacher_norm().bound``: 4‖β‖²."""
    return 4 * beta_sq


def linear_teacher_norm_sq(beta: ArrayLike) -> float:
    """K2: the H^∞-kernel norm² of x ↦ βᵀx on the unit sphere, 4‖β‖² (derived ``bound``).

    An upper bound on yᵀ(H^∞)⁻¹y for y = Xβ and any unit-norm sample X, approached as n grows.
    """
    b = checks.as_vector(beta, "beta")
    scale = float(np.max(np.abs(b)))
    if scale == 0.0:
        return 0.0
    value = float(_form_norm_bound(float(np.sum((b / scale) ** 2)))) * scale * scale
    if not math.isfinite(value):
        raise InputError("beta: 4|beta|^2 overflows float64")
    return value


# ======================================================================================
# K3 — fine-tuning in the NTK regime: kernel regression on the residual
# ======================================================================================


@dataclass(frozen=True)
class FinetunedPredictorDerivation(LatexRendered):
    """K3: the linearised network f(x) ≈ f_S(x) + φ(x)ᵀδ, δ = W − W_S, fine-tuned on
    (1/2n)‖f(X) − y‖² is linear regression on the features Φ (rows φ(x_i)ᵀ) started at
    δ = 0 with labels r = y − f_S(X) — so L1 applies.

    ``update`` is L1's θ_S + Xᵀ(XXᵀ)⁻¹(y − Xθ_S) (from
    :func:`symbolic.linear.derive_min_distance_interpolant_matrix`) with X → Φ, θ_S → 0,
    y → r: δ_∞ = Φᵀ(ΦΦᵀ)⁻¹r. ``predictor`` is the increment φ(x)ᵀδ_∞ written with
    K = ΦΦᵀ and k(x, X) = φ(x)ᵀΦᵀ: k(x, X)K⁻¹r; ``distance_sq`` = ‖δ_∞‖² = rᵀK⁻¹r.

    Finite time, per eigenpair (κ, v) of K with ρ = vᵀr: ``flow_training`` is the
    ``dsolve`` solution of ż = −(κ/n)(z − ρ) (training-set prediction along v, z(0) = 0);
    the test-point increment is (1/n)∫₀ᵗ k(x, X)v (ρ − z(s)) ds, so k(x, X)v·ρ times
    ``flow_factor`` = (1 − e^{−κt/n})/κ (``integrate``); ``flow_limit`` = 1/κ (t → ∞).
    For gradient descent with step η, ``gd_training`` solves the recurrence
    z_{k+1} = z_k − (ηκ/n)(z_k − ρ) (``rsolve``) and ``gd_factor`` = (1 − (1 − ηκ/n)^k)/κ
    (the summed increments). ``flow_distance_factor`` = (1 − e^{−κt/n})²/κ is the
    coefficient of ρ² in ‖δ(t)‖², tending to 1/κ.

    ``generalization_term`` = sqrt(2Q/n) for Q = (y − u_S)ᵀ(H^∞)⁻¹(y − u_S); with
    y − u_S = X(θ_T − θ_S) and K2, Q ≤ 4‖θ_T − θ_S‖² (``beta_sq`` → ‖θ_T − θ_S‖²), giving
    ``linear_teacher_bound`` 2√2‖θ_T − θ_S‖/√n (``bound_textbook``).
    """

    update: sp.MatrixExpr
    predictor: sp.MatrixExpr
    distance_sq: sp.MatrixExpr
    flow_training: sp.Expr
    flow_factor: sp.Expr
    flow_limit: sp.Expr
    gd_training: sp.Expr
    gd_factor: sp.Expr
    flow_distance_factor: sp.Expr
    generalization_term: sp.Expr
    linear_teacher_bound: sp.Expr
    bound_textbook: sp.Expr

    @property
    def provenance(self) -> Provenance:
        """Derived or checked, and the source of stated parts (see symbolic.provenance_of)."""
        return provenance_of("derive_finetuned_predictor")


_Q = sp.Symbol("Q", nonnegative=True)
_DELTA_NORM = sp.Symbol("Delta", positive=True)  # ‖θ_T − θ_S‖


@cache
def derive_finetuned_predictor() -> FinetunedPredictorDerivation:
    """Derive K3 (see :class:`FinetunedPredictorDerivation`)."""
    Phi, r, phx = syms.features, syms.residual, syms.features_x
    K, kx = syms.ntk, syms.ntk_x
    l1 = sl.derive_min_distance_interpolant_matrix().solution
    update = (
        l1.xreplace({syms.X: Phi, syms.theta_s: sp.ZeroMatrix(syms.n_params, 1), syms.y: r})
        .expand()
        .doit()
    )
    increment = (phx.T * update).expand().doit()
    predictor = increment.subs(Phi * Phi.T, K).subs(phx.T * Phi.T, kx)
    distance_sq = (update.T * update).expand().doit().subs(Phi * Phi.T, K)

    n, kap, t = syms.n, syms.kernel_eig, syms.flow_time
    rho = sp.Symbol("rho", real=True)
    z = sp.Function("z")
    flow = sp.dsolve(sp.Eq(z(t).diff(t), -(kap / n) * (z(t) - rho)), z(t), ics={z(0): 0}).rhs
    s = sp.Symbol("s", positive=True)
    flow_factor = sp.simplify(sp.integrate((rho - flow.subs(t, s)) / n, (s, 0, t)) / rho)
    flow_limit = sp.limit(flow_factor, t, sp.oo)
    k, eta = syms.k, syms.eta
    i = sp.Symbol("i", integer=True, nonnegative=True)
    gd = sp.rsolve(z(k + 1) - z(k) + (eta * kap / n) * (z(k) - rho), z(k), {z(0): 0})
    gd_factor = sp.simplify(sp.summation(eta * (rho - gd.subs(k, i)) / n, (i, 0, k - 1)) / rho)
    # δ(t) = Φᵀ Σ_v v (1 − e^{−κt/n})/κ ρ_v; ‖Φᵀv‖² = κ.
    flow_dist = sp.simplify(kap * flow_factor**2)
    term = sp.sqrt(2 * _Q / n)
    bound = sp.simplify(
        term.subs(_Q, derive_linear_teacher_norm().bound).subs(syms.beta_sq, _DELTA_NORM**2)
    )
    return FinetunedPredictorDerivation(
        update=update,
        predictor=predictor,
        distance_sq=distance_sq,
        flow_training=flow,
        flow_factor=flow_factor,
        flow_limit=flow_limit,
        gd_training=gd,
        gd_factor=gd_factor,
        flow_distance_factor=flow_dist,
        generalization_term=term,
        linear_teacher_bound=bound,
        bound_textbook=2 * sp.sqrt(2) * _DELTA_NORM / sp.sqrt(n),
    )


def _form_teacher_bound(delta_norm: Any, n: Any) -> Any:
    """Shipped ``derive_finetuned_predictor().linear_teacher_bound``: 2√2‖θ_T − θ_S‖/√n."""
    return 2 * _sqrt(2 * _one(n)) * delta_norm / _sqrt(n)


def _one(x: Any) -> Any:
    return sp.S.One if _is_sym(x) else 1.0


def _form_generalization_term(q: Any, n: Any) -> Any:
    """Shipped ``derive_finetuned_predictor().generalization_term``: √(2Q/n)."""
    return _sqrt(2 * q / n)


def linear_teacher_bound(theta_s: ArrayLike, theta_t: ArrayLike, n: int) -> float:
    """K3: 2√2‖θ_T − θ_S‖/√n, the bound on sqrt(2(y − u_S)ᵀ(H^∞)⁻¹(y − u_S)/n) when the
    source network fits θ_S (u_S = Xθ_S) and y = Xθ_T (noiseless).

    The sample complexity therefore scales with ‖θ_T − θ_S‖²/ε² rather than ‖θ_T‖²/ε².
    Evaluates the derived ``linear_teacher_bound`` of :func:`derive_finetuned_predictor`.
    """
    ts = checks.as_vector(theta_s, "theta_s")
    tt = checks.as_vector(theta_t, "theta_t", ts.shape[0])
    n = checks.positive_int(n, "n")
    with np.errstate(over="ignore"):
        diff = tt - ts
    if not np.all(np.isfinite(diff)):
        raise InputError("theta_t - theta_s overflows float64")
    ds, e = _pow2_scale(diff)  # the norm of the rescaled difference: no over/underflow
    dist = float(np.linalg.norm(ds))
    if dist == 0.0:
        return 0.0
    return _ldexp_checked(float(_form_teacher_bound(dist, n)), e, "theta_t - theta_s: the bound")


def _eigh_gram(
    K: ArrayLike, n: int | None = None, name: str = "K"
) -> tuple[FloatArray, FloatArray]:
    """Eigenpairs of a symmetric PSD Gram matrix (n, n); rounding-level negatives clipped."""
    Ka = checks.as_matrix(K, name)
    Ka = checks.as_cov(Ka, Ka.shape[0] if n is None else n, name)
    lam, vec = np.linalg.eigh(Ka)
    return np.clip(lam, 0.0, None), vec


def _check_nonsingular(lam: FloatArray, name: str, ridge_advice: bool = True) -> None:
    top = float(lam[-1])
    if top == 0.0 or float(lam[0]) <= GRAM_RCOND * top:
        advice = f"; pass ridge > 0 to use ({name} + ridge*I)^-1" if ridge_advice else ""
        raise InputError(
            f"{name} is singular to working precision: smallest/largest eigenvalue "
            f"{float(lam[0]) / top if top else 0.0:.3g} <= {GRAM_RCOND:g} (duplicate rows "
            f"make the NTK Gram matrix singular){advice}"
        )


#: ln of the largest float64: a spectral factor e^{L} with L above this overflows.
_LOG_MAX = math.log(float(np.finfo(np.float64).max))


def _spectral_factor(
    lam: FloatArray,
    n: int,
    time: float | None,
    step: float | None,
    steps: int | None,
    ridge: float,
    name: str,
    ridge_advice: bool = True,
) -> FloatArray:
    """φ(κ) per eigenvalue: 1/(κ + ridge), or the finite-time factors of K3.

    Gradient descent with ηκ/n > 2 diverges: (1 − ηκ/n)^k grows; where it overflows it is
    evaluated in log form (1/κ − (1 − x)^k/κ with |(1 − x)^k/κ| = e^{k ln|1 − x| − ln κ}),
    InputError naming step and steps if that overflows float64 too. InputError naming
    ridge if 1/(κ + ridge) overflows (a subnormal ridge on a singular K).
    """
    if (step is None) != (steps is None):
        raise InputError("step and steps must be given together (gradient descent after k steps)")
    if time is not None and step is not None:
        raise InputError("give either time (gradient flow) or step and steps (descent), not both")
    finite = time is not None or step is not None
    if finite and ridge != 0.0:
        raise InputError("ridge applies to the t -> infinity limit only; do not pass it with time")
    if time is not None:
        t = checks.positive(time, "time")
        x = lam * t / n
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(lam > 0.0, -np.expm1(-x) / lam, t / n)  # (1 − e^{−κt/n})/κ
        return np.asarray(out, dtype=np.float64)
    if step is not None and steps is not None:
        eta = checks.positive(step, "step")
        k = checks.positive_int(steps, "steps", minimum=0)
        x = eta * lam / n
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            small = -np.expm1(k * np.log1p(-np.minimum(x, 0.5)))  # 1 − (1 − x)^k, accurate
            big = 1.0 - (1.0 - x) ** k
            out = np.where(lam > 0.0, np.where(x < 0.5, small, big) / lam, k * eta / n)
            # |1 − x| > 1: the iteration diverges; where (1 − x)^k/κ overflowed, log form.
            grows = (x > 2.0) & (lam > 0.0) & ~np.isfinite(out)
            if np.any(grows):
                log_mag = k * np.log(x[grows] - 1.0) - np.log(lam[grows])
                if float(np.max(log_mag)) > _LOG_MAX:
                    limit = 2.0 * n / float(lam[-1])
                    raise InputError(
                        f"step and steps: gradient descent diverges (step {eta:.3g} > "
                        f"2n/lambda_max({name}) = {limit:.3g}) and (1 - step*kappa/n)^steps "
                        f"overflows float64 after {k} steps"
                    )
                sign = -1.0 if k % 2 else 1.0  # (1 − x)^k = (−1)^k |1 − x|^k
                out[grows] = 1.0 / lam[grows] - sign * np.exp(log_mag)
        return np.asarray(out, dtype=np.float64)
    if ridge == 0.0:
        _check_nonsingular(lam, name, ridge_advice)
    with np.errstate(divide="ignore", over="ignore"):
        out = 1.0 / (lam + ridge)
    if not np.all(np.isfinite(out)):
        raise InputError(f"ridge: ({name} + ridge*I)^-1 overflows float64 (ridge = {ridge:.3g})")
    return np.asarray(out, dtype=np.float64)


def predictor_from_gram(
    K: ArrayLike,
    K_test: ArrayLike,
    residual: ArrayLike,
    f_source_test: ArrayLike,
    *,
    time: float | None = None,
    step: float | None = None,
    steps: int | None = None,
    ridge: float = 0.0,
) -> FloatArray:
    """K3 with a given kernel: f_S(x) + k(x, X) φ(K) r, the fine-tuned predictor at test points.

    K (n, n) symmetric PSD NTK Gram matrix on the training inputs (H^∞ at infinite width,
    or an empirical NTK at the pretrained weights); K_test (n_test, n) = k(X_test, X);
    residual r = y − f_S(X) (n,); f_source_test = f_S(X_test) (n_test,).
    φ(K) = K⁻¹ (the t → ∞ limit; (K + ridge·I)⁻¹ if ``ridge`` > 0, needed when K is
    singular), or the finite-time forms of :func:`derive_finetuned_predictor` under the loss
    (1/2n)‖f(X) − y‖²: gradient flow for ``time`` t, φ = (I − e^{−Kt/n})K⁻¹; gradient
    descent after ``steps`` k with step η = ``step``, φ = (I − (I − ηK/n)^k)K⁻¹ (entire
    functions of K: no inverse is formed, singular K is fine).
    """
    res = checks.as_vector(residual, "residual")
    n = res.shape[0]
    Kt = checks.as_matrix(K_test, "K_test")
    if Kt.shape[1] != n:
        raise InputError(f"K_test must have {n} columns (one per training point), got {Kt.shape}")
    return _predict(K, Kt, res, f_source_test, time, step, steps, ridge, "K")


def _predict(
    K: ArrayLike,
    Kt: FloatArray,
    res: FloatArray,
    f_source_test: ArrayLike,
    time: float | None,
    step: float | None,
    steps: int | None,
    ridge: float,
    name: str,
) -> FloatArray:
    """f_S(x) + k(x, X) φ(K) r with validated K_test and residual (``name`` names K in
    messages); InputError if the result overflows float64."""
    n = res.shape[0]
    fst = checks.as_vector(f_source_test, "f_source_test", Kt.shape[0])
    rho = checks.nonnegative(ridge, "ridge")
    lam, vec = _eigh_gram(K, n, name)
    factor = _spectral_factor(lam, n, time, step, steps, rho, name)
    with np.errstate(over="ignore", invalid="ignore"):
        coef = vec @ (factor * (vec.T @ res))
        out = fst + Kt @ coef
    if not np.all(np.isfinite(out)):
        raise InputError(
            f"the predictor overflows float64 (|value| > 1.8e308): the test kernel, the "
            f"residual or the factor of {name} (a diverging step and steps, a tiny ridge) "
            "too large"
        )
    return np.asarray(out, dtype=np.float64)


def _training_problem(
    X: ArrayLike, y: ArrayLike, f_source_train: ArrayLike, normalize: bool
) -> tuple[FloatArray, FloatArray]:
    Xa, _ = _unit_rows(X, "X", normalize)
    ya = checks.as_vector(y, "y")
    if ya.shape[0] != Xa.shape[0]:
        raise InputError(
            f"y must have one label per row of X: X has {Xa.shape[0]} rows, y has {ya.shape[0]}"
        )
    fs = checks.as_vector(f_source_train, "f_source_train", Xa.shape[0])
    with np.errstate(over="ignore"):
        res = ya - fs
    if not np.all(np.isfinite(res)):
        raise InputError("y - f_source_train overflows float64")
    return Xa, res


def _kernel(layers: Layers) -> Callable[..., FloatArray]:
    return first_layer_ntk if _layers(layers) == "first" else full_ntk


@_accepts_kernel_keyword
def finetuned_predictor(
    X: ArrayLike,
    y: ArrayLike,
    f_source_train: ArrayLike,
    X_test: ArrayLike,
    f_source_test: ArrayLike,
    *,
    layers: Layers = "first",
    time: float | None = None,
    step: float | None = None,
    steps: int | None = None,
    ridge: float = 0.0,
    normalize: bool = False,
) -> FloatArray:
    """K3 at infinite width: f_∞(x) = f_S(x) + k(x, X)K⁻¹(y − f_S(X)) at the rows of X_test.

    X (n, d) target training inputs and X_test (n_test, d), unit-norm rows (or
    ``normalize=True``); y (n,) target labels; f_source_train = f_S(X) and
    f_source_test = f_S(X_test), the pretrained network's outputs. ``layers``: "first"
    (K = H^∞ = :func:`first_layer_ntk`, only W trained, the setting of docs/theory.md §3) or
    "both" (K = :func:`full_ntk`, both layers trained), as in ``numeric.relu_ntk``; the
    deprecated ``kernel="h_inf"|"ntk"`` still works until 0.2.0 (DeprecationWarning).
    ``time`` / ``step`` + ``steps`` / ``ridge``: see :func:`predictor_from_gram`. A singular
    K (duplicate rows, say) raises :class:`InputError` unless ``ridge`` > 0.
    """
    Xa, res = _training_problem(X, y, f_source_train, normalize)
    fn = _kernel(layers)
    Xt, _ = _unit_rows(X_test, "X_test", normalize)
    if Xt.shape[1] != Xa.shape[1]:
        raise InputError(f"X_test must have {Xa.shape[1]} columns to match X, got {Xt.shape}")
    name = f"the {_GRAM_NAME[layers]} Gram matrix of X"
    return _predict(fn(Xa), fn(Xt, Xa), res, f_source_test, time, step, steps, ridge, name)


def _quadratic_form(
    K: FloatArray, r: FloatArray, ridge: float, name: str, ridge_advice: bool = True
) -> tuple[float, int]:
    """(q, e) with rᵀ(K + ridge·I)⁻¹r = q·2^{2e}: r is rescaled by a power of two (exact) so
    that the squares neither over- nor underflow."""
    lam, vec = _eigh_gram(K, None, name)
    factor = _spectral_factor(lam, K.shape[0], None, None, None, ridge, name, ridge_advice)
    rs, e = _pow2_scale(r)
    proj = vec.T @ rs
    return float(np.sum(factor * proj * proj)), e


def _kernel_norm_parts(
    Xa: FloatArray, r: FloatArray, *, layers: Layers, ridge: float
) -> tuple[float, int]:
    rho = checks.nonnegative(ridge, "ridge")
    fn = _kernel(layers)
    return _quadratic_form(fn(Xa), r, rho, f"the {_GRAM_NAME[layers]} Gram matrix of X")


@_accepts_kernel_keyword
def kernel_norm_sq(
    X: ArrayLike,
    y: ArrayLike,
    *,
    layers: Layers = "first",
    ridge: float = 0.0,
    normalize: bool = False,
) -> float:
    """yᵀK⁻¹y with K = H^∞(X) (``layers="first"``) or the full NTK (``layers="both"``): the
    squared kernel norm of the minimum-norm interpolant of (X, y). K2: at most 4‖β‖² when
    y = Xβ (H^∞, unit-norm rows). The deprecated ``kernel="h_inf"|"ntk"`` still works until
    0.2.0 (DeprecationWarning).

    Evaluated with y rescaled by a power of two; InputError naming y if the value overflows
    float64 (values below its normal range round to subnormals or 0)."""
    ya = checks.as_vector(y, "y")
    Xa, labels = _training_problem(X, ya, np.zeros(ya.shape[0]), normalize)
    q, e = _kernel_norm_parts(Xa, labels, layers=layers, ridge=ridge)
    return _ldexp_checked(q, 2 * e, "y: the kernel norm y^T K^-1 y")


@_accepts_kernel_keyword
def distance_travelled(
    X: ArrayLike,
    y: ArrayLike,
    f_source_train: ArrayLike,
    *,
    layers: Layers = "first",
    ridge: float = 0.0,
    normalize: bool = False,
) -> float:
    """K3: ‖W_∞ − W_S‖_F ≈ sqrt((y − f_S(X))ᵀK⁻¹(y − f_S(X))), the Frobenius distance the
    weights travel when fine-tuned to interpolation (gradient flow or descent, NTK regime),
    with K = H^∞ (``layers="first"``: only W moves) or the full NTK (``layers="both"``).
    Computed as sqrt(q)·2^e from the rescaled quadratic form: finite whenever the distance
    is (InputError naming y and f_source_train otherwise). The deprecated
    ``kernel="h_inf"|"ntk"`` still works until 0.2.0 (DeprecationWarning)."""
    Xa, res = _training_problem(X, y, f_source_train, normalize)
    q, e = _kernel_norm_parts(Xa, res, layers=layers, ridge=ridge)
    return _ldexp_checked(math.sqrt(max(q, 0.0)), e, "y - f_source_train: the distance")


def generalization_term(
    X: ArrayLike, y: ArrayLike, f_source_train: ArrayLike, *, normalize: bool = False
) -> float:
    """K3: sqrt(2(y − u_S)ᵀ(H^∞)⁻¹(y − u_S)/n) with u_S = f_S(X), the data-dependent term of
    the Arora et al. (2019) generalisation bound for fine-tuning from the source network.
    At most :func:`linear_teacher_bound` when u_S = Xθ_S and y = Xθ_T. Computed from the
    rescaled quadratic form (sqrt(2q/n)·2^e): finite whenever the term is."""
    Xa, res = _training_problem(X, y, f_source_train, normalize)
    q, e = _quadratic_form(
        first_layer_ntk(Xa), res, 0.0, "the H^inf Gram matrix of X", ridge_advice=False
    )
    term = float(_form_generalization_term(max(q, 0.0), Xa.shape[0]))
    return _ldexp_checked(term, e, "y - f_source_train: the generalization term")
