"""Derived or checked: where each ``derive_*`` result of :mod:`symbolic` comes from.

Every ``derive_*`` function is recorded here with a :class:`Provenance`:

* ``"derived"`` — SymPy produces every returned closed form itself (``solve``, ``dsolve``,
  ``rsolve``, ``integrate``, ``limit``, ``series``, ``summation``, ``diff``, expansion)
  from the model's definitions and from other ``derive_*`` results. Typed "textbook" forms
  appear only as comparison targets, and standard facts used as premises are named in the
  summary.
* ``"checked"`` — at least one returned formula is *stated*: typed in from the cited
  ``source``. SymPy then verifies it (a residual simplifies to zero) or only specialises it.
  The summary says which attributes are stated and which are still derived.

For results that mix the two, ``"<function>.<attribute>"`` keys record each attribute on
its own (:func:`provenance_parts`). A part marked ``"derived"`` was produced by SymPy from
the other parts, so it rests on whatever they rest on.

The result dataclasses expose their entry as ``.provenance``. The one derivation that returns
a plain tuple (``derive_two_level_fixed_point``) is looked up with :func:`provenance_of`.
``docs/theory.md`` shows the same classification as a table, and
``tests/symbolic/test_provenance.py`` keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from finetune_theory.errors import InputError

__all__ = ["PROVENANCE", "Kind", "Provenance", "provenance_of", "provenance_parts"]

Kind = Literal["derived", "checked"]
_KINDS: tuple[str, ...] = get_args(Kind)


@dataclass(frozen=True)
class Provenance:
    """Whether SymPy derived a result or checked a stated answer, and the answer's source.

    ``kind``: ``"derived"`` (SymPy produced it) or ``"checked"`` (the answer is stated, i.e.
    typed in, and SymPy verifies or specialises it). ``summary``: what SymPy does, attribute
    by attribute. ``source``: where a stated answer comes from (paper and result number).
    Every ``"checked"`` entry must name its source.
    """

    kind: Kind
    summary: str
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InputError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if not self.summary.strip():
            raise InputError("summary must say what SymPy does (got an empty string)")
        if self.kind == "checked" and not self.source.strip():
            raise InputError("a 'checked' provenance must cite the source of the stated answer")


# Sources, cited once ------------------------------------------------------------------
_PAPER = (
    "Shachaf, Brutzkus & Globerson (NeurIPS 2021), "
    "'A Theoretical Analysis of Fine-tuning with Linear Teachers'"
)
_HMRT = (
    "Hastie, Montanari, Rosset & Tibshirani (2019; Ann. Statist. 2022), 'Surprises in "
    "high-dimensional ridgeless least squares interpolation', Theorem 2 (general covariance), "
    "with β → θ_T − θ_S: result L4"
)
_ACH = (
    "Arora, Cohen & Hazan (ICML 2018), 'On the optimization of deep networks: implicit "
    "acceleration by overparameterization', Theorem 1 (end-to-end dynamics under balanced "
    "initialisation), in its single-output form: result D1"
)
_ADHLW = (
    "Arora, Du, Hu, Li & Wang (ICML 2019), 'Fine-grained analysis of optimization and "
    "generalization for overparameterized two-layer neural networks', Theorem 5.1 (the "
    "data-dependent term √(2yᵀ(H^∞)⁻¹y/n) of the generalisation bound), with y → y − u_S: "
    "result K3"
)
_L1 = (
    f"{_PAPER}, result L1: the interpolant closest to θ_S, θ_S + Xᵀ(XXᵀ)⁻¹(y − Xθ_S) — the "
    "classical Lagrange-multiplier solution of min ‖θ − θ_S‖ s.t. Xθ = y (X of full row rank)"
)
_D3 = f"{_PAPER}, result D3 (implicit bias of fine-tuning a deep linear network)"


def _p(kind: Kind, summary: str, source: str = "") -> Provenance:
    return Provenance(kind, " ".join(summary.split()), source)


_ENTRIES: dict[str, Provenance] = {
    # ---------------------------------------------------------------- symbolic.linear ----
    "derive_min_distance_interpolant": _p(
        "derived",
        """L1 at concrete sizes (default 2×3, at most 3×8) with symbolic entries.
        ``solution`` is SymPy's exact Gaussian elimination (``LUsolve``) of the KKT system of
        min ½‖θ − θ_S‖² s.t. Xθ = y (∂L/∂θ = 0 and Xθ = y for the Lagrangian L).
        ``textbook`` θ_S + Xᵀ(XXᵀ)⁻¹(y − Xθ_S) is typed only as the comparison form; the
        tests simplify the difference to zero. Concrete sizes only: the general-(n, d)
        statement is derive_min_distance_interpolant_matrix (checked).""",
    ),
    "derive_min_distance_interpolant_matrix": _p(
        "checked",
        """L1 for general (n, d) with matrix symbols. Stated: ``multiplier``
        λ* = (XXᵀ)⁻¹(Xθ_S − y) is typed in (not solved), and ``solution``
        θ* = θ_S − Xᵀλ* is built from it by hand. SymPy verifies it: ``constraint_residual``
        Xθ* − y, ``stationarity_residual`` θ* − θ_S + Xᵀλ*, ``null_direction_image`` Xu and
        ``cross_term`` (θ* − θ_S)ᵀu for u = (I − Xᵀ(XXᵀ)⁻¹X)z all simplify to zero
        matrices. So θ* satisfies the KKT conditions and every other interpolant θ* + u is
        farther from θ_S. ``textbook`` is the comparison form.""",
        _L1,
    ),
    "derive_gradient_descent": _p(
        "derived",
        """L1 for gradient descent. ``row_solution`` and ``null_solution`` are ``rsolve``
        solutions of the recurrences e_{k+1} = (1 − ημ)e_k + ηb and e_{k+1} = e_k (one GD
        step written along an eigenvector of XᵀX/n). ``row_limit`` and ``transient`` split
        that solution by its dependence on k. ``transient_decay`` is a ``limit`` (k → ∞),
        and ``stability`` is the η-range |1 − ημ| < 1 from
        ``solve_univariate_inequality``. Only the recurrences are typed.""",
    ),
    "derive_risk_decomposition": _p(
        "derived",
        """L2. SymPy substitutes θ_FT = θ_S + X⁺(y − Xθ_S) (L1) and y = Xθ_T + ξ, with X⁺ a
        matrix symbol and X⁺X = P. It expands ``error`` and the quadratic form eᵀΣe, then
        sorts the terms by their number of ξ factors into ``bias``, ``cross`` and
        ``variance``. ``bias_textbook``, ``cross_textbook`` and ``variance_textbook`` are
        typed comparison forms: ``error_residual`` and ``cross_residual`` expand to zero
        (the second after Σ = Σᵀ and transposing 1×1 terms). The noise average (E ξ = 0,
        E ξξᵀ = σ²I) is described in the docstring; SymPy does not compute it.""",
    ),
    "derive_expected_risk_isotropic": _p(
        "derived",
        """L3. ``inverse_chi2_mean`` E[1/χ²_k] = 1/(k − 2) is ``integrate``d from the χ²_k
        density, and the convergence condition k > 2 comes with it. ``under``, ``over`` and
        their regime conditions follow by substitution and ``simplify``.
        ``near_interpolation_threshold``, ``noiseless_at_threshold``,
        ``proportional_under`` and ``proportional_over`` are ``limit``s, and ``piecewise``
        joins the two regimes. Two premises are stated, not derived: the Bartlett-
        decomposition fact 1/(W⁻¹)_ii ~ χ²_{d−n+1} for W = XXᵀ (so
        E tr W⁻¹ = n·E[1/χ²_{d−n+1}]), and E P = (n/d)I by rotational invariance.
        ``textbook`` is the comparison form.""",
    ),
    "derive_sample_complexity": _p(
        "derived",
        """L3 sample complexity. ``n_finetune`` is SymPy's ``solve`` of (1 − n/d)‖Δ‖² = ε
        for n. This noiseless L3 risk is restated in the code, not imported from
        derive_expected_risk_isotropic. ``n_scratch`` substitutes ‖Δ‖² → ‖θ_T‖², and
        ``ratio`` is the simplified quotient of the two.""",
    ),
    "derive_asymptotic_isotropic": _p(
        "checked",
        """L4 for a one-level spectrum (every eigenvalue λ). Stated: ``fixed_point`` (HMRT's
        equation for c₀, typed in), and ``bias`` and ``variance`` (HMRT's bias and variance
        formulas, typed in as ``_hmrt_terms`` and evaluated at the solved c₀; SymPy only
        specialises them). Derived: ``c0`` (SymPy's ``solve`` of the stated equation).
        Check: at λ = 1, bias + variance equals the independently derived proportional
        limit of L3 (derive_expected_risk_isotropic().proportional_under).""",
        _HMRT,
    ),
    "derive_two_level_fixed_point": _p(
        "checked",
        """L4 for a two-level spectrum (a fraction p at λ₁, 1 − p at λ₂). Returns the tuple
        (equation, c₀). The equation is HMRT's fixed point, typed in. SymPy ``solve``s the
        quadratic it gives for c₀ and picks the positive root by evaluating both roots at
        one valid point. The tests compare that root numerically with hmrt_c0 (Brent's
        method). A tuple has no ``.provenance``: use provenance_of.""",
        _HMRT,
    ),
    # ----------------------------------------------------------- symbolic.deep_linear ----
    "derive_end_to_end_dynamics": _p(
        "checked",
        """D1 at concrete sizes (d = 2, hidden widths 2, depth ≤ 4). Stated and verified:
        ``gram_residual``. SymPy builds w = (W_N⋯W_1)ᵀ from symbolic layer matrices, takes
        the Jacobian J, and checks that JJᵀ − ‖w‖^{2−2/N}(I + (N − 1)ŵŵᵀ) cancels to the
        zero matrix at a balanced rank-one point; that preconditioner is the typed
        end-to-end formula. Derived: ``balance_drift``, the time derivative of
        W_{j+1}ᵀW_{j+1} − W_jW_jᵀ under the flow for generic weights and gradient (it
        expands to zero); ``general_sum``, the ``summation`` giving (N − 1)s^{2N−2} for
        symbolic N; and ``prefactor``, s^{2N−2} at s = ‖w‖^{1/N}.""",
        _ACH,
    ),
    "derive_implicit_bias": _p(
        "checked",
        """D3 from D1. Stated: the D1 velocity ẇ (typed in) and the target of
        ``null_velocity_residual``. SymPy verifies that target: (I − P)ẇ +
        ‖w‖^{2−2/N}(N − 1)(wᵀg/‖w‖²)z simplifies to the zero matrix. The two norm ODEs
        ρ' = −2N·h·ρ and ζ' = −2(N − 1)·h·ζ are typed with coefficients worked out by hand
        from D1; SymPy does not compute those coefficients. Derived from there:
        ``norm_odes`` (``dsolve``); ``invariant`` (``solve`` for the common integral, then
        elimination); ``scalar_equation`` (``solve``, with the stated convergence relation
        ‖w_∞‖² = ‖X⁺y‖² + c²‖(I − P)θ_S‖²); ``polynomial`` and ``monotone_form``
        (s = c^{2/(N−1)}); ``monotone_slope`` (``diff``); ``depth_one`` (N = 1);
        ``limit_equation`` (``limit`` N → ∞); ``c_infinity`` (``solve``); and
        ``first_order`` (implicit differentiation in ε = 1/(N − 1)).""",
        f"{_ACH}; the null-space projection argument of {_D3}",
    ),
    "derive_infinite_depth": _p(
        "checked",
        """D4–D5 for an aligned teacher θ_T = αθ_S. Derived by substitution into
        derive_implicit_bias: ``c_infinity_aligned`` (C = α²(A − B) in c_∞; ``simplify``
        gives |α|) and ``depth_neutral`` (the polynomial at α = 1, s = 1, which is zero).
        Stated: ``risk_aligned`` = (c − α)²Q is typed from the hand step
        w_∞ − θ_T = (c − α)(I − P)θ_S. SymPy only factors it, and the tests check its N = 1
        value numerically. ``alignment_gap`` is SymPy's factoring of a hand-expanded
        ‖(‖θ_T‖/‖θ_S‖)θ_S − θ_T‖². The large-d risk ≈ (1 − n/d)·alignment_gap is stated
        in prose and not computed.""",
        f"{_PAPER}, results D4–D5 (infinite depth; depth and an aligned teacher)",
    ),
    "derive_regularizer": _p(
        "checked",
        """The implicit regulariser Q_N of D3. Stated: ``regularizer`` Q_N, typed in by
        implicit_regularizer. SymPy verifies two residuals. ``stationarity_residual``,
        a·r/q'(r) − ‖θ_S‖c with c = (r/‖θ_S‖)^{(N−1)/N}, is zero: Q_N's stationarity
        condition on {Xw = y} is D3's relation. ``depth_one_residual``,
        Q_1 − (‖w − θ_S‖² − ‖θ_S‖²) for concrete 3-vectors, is also zero. Derived:
        ``curvature`` (``diff``: q'' and q'/r) and ``depth_two`` (N = 2
        substituted).""",
        f"{_D3}, its implicit regulariser Q_N; N = 2 as in Azulay et al. (ICML 2021) at "
        "zero initialisation-shape parameter",
    ),
    "derive_frozen_layers": _p(
        "checked",
        """D6. Stated and verified: ``span_residual``. SymPy builds w with W_1 = s v θ̂ᵀ
        frozen and generic later layers (widths 2, 2, 2, 1) and checks the claim
        w ∈ span{θ_S}: (I − θ̂θ̂ᵀ)w cancels to zero, at these concrete sizes only.
        Derived: ``optimum`` β* (``solve`` of d/dβ R(βθ_S) = 0, with
        R = β²a − 2βb + t) and ``floor`` = R(β*θ_S) (``simplify``).""",
        f"{_PAPER}, result D6 (freezing the first layer keeps w in span{{θ_S}})",
    ),
    # -------------------------------------------------------------- symbolic.relu_ntk ----
    "derive_relu_kernels": _p(
        "derived",
        """K1. ``total_mass``, ``orthant_probability`` and ``relu_expectation`` are
        ``integrate``d from the 2-D Gaussian density in polar coordinates. ``half_plane``
        comes from ``solveset`` (the roots of cos φ = 0), and ``wedge`` is that arc
        intersected with its rotation by θ (Max/Min, valid for 0 < θ < π). ``gram_entry``
        and ``ntk_entry`` substitute θ = arccos u. ``at_zero_angle`` and ``at_antipodes``
        are ``limit``s. Premise: w ~ N(0, I) enters only through its projection onto
        span{x, x'}. ``orthant_textbook``, ``relu_expectation_textbook``, ``textbook`` and
        ``arcsin_form`` are typed comparison forms.""",
    ),
    "derive_linear_teacher_norm": _p(
        "derived",
        """K2. ``kernel`` is K1's derived gram_entry rewritten into arcsin. Derived from it:
        ``series`` (``series``); ``linear_coefficient`` (1/4); ``odd_part``
        (``simplify``); ``even_coefficient`` (``fps`` of arcsin) and
        ``even_coefficient_positive``. ``variational_value`` evaluates 2αᵀy − αᵀKα at the
        maximiser α* = K⁻¹y. ``dual_stationary`` is a ``solve``, ``dual_curvature`` a
        ``diff``, and ``dual_value`` and ``bound`` follow by substitution, with c₁ = 1/4.
        Premise stated in the docstring, not derived: for a dot-product kernel
        c₁u + (PSD part), αᵀKα ≥ c₁‖Xᵀα‖², hence yᵀK⁻¹y ≤ max_v 2vᵀβ − c₁‖v‖².
        ``textbook`` 4‖β‖² is the comparison form.""",
    ),
    "derive_finetuned_predictor": _p(
        "checked",
        """K3. Stated: ``generalization_term`` √(2Q/n), typed in from Arora et al.; SymPy
        neither derives nor verifies it. From L1: ``update`` is the (checked) solution of
        derive_min_distance_interpolant_matrix with X → Φ, θ_S → 0 and y → r, and
        ``predictor`` and ``distance_sq`` follow by matrix algebra. Derived:
        ``flow_training`` (``dsolve``), ``flow_factor`` (``integrate``), ``flow_limit``
        (``limit``), ``gd_training`` (``rsolve``), ``gd_factor`` (``summation``), and
        ``linear_teacher_bound`` (K2's derived bound 4‖β‖² substituted into the stated
        term, with β → θ_T − θ_S). ``flow_distance_factor`` is κ·flow_factor², from the
        hand step ‖Φᵀv‖² = κ. ``bound_textbook`` is the comparison form.""",
        f"{_ADHLW}; L1's stated multiplier (derive_min_distance_interpolant_matrix) for ``update``",
    ),
}

_D: Kind = "derived"
_C: Kind = "checked"

# Attribute-level entries for the derivations that mix derived and stated parts.
_PARTS: dict[str, dict[str, tuple[Kind, str, str]]] = {
    "derive_end_to_end_dynamics": {
        "gram_residual": (_C, "JJᵀ minus the typed D1 preconditioner: zero matrix.", _ACH),
        "balance_drift": (_D, "Chain-rule time derivative of the imbalance: expands to 0.", ""),
        "general_sum": (_D, "``summation`` over the layers for symbolic N.", ""),
        "prefactor": (_D, "s^{2N−2} rewritten in ‖w‖ by substitution.", ""),
    },
    "derive_implicit_bias": {
        "null_velocity_residual": (_C, "(I − P)ẇ minus the typed target: zero matrix.", _ACH),
        "norm_odes": (
            _C,
            "``dsolve`` of ODEs whose coefficients −2N·h and −2(N − 1)·h are typed from D1.",
            _ACH,
        ),
        "invariant": (_D, "``solve`` for the common integral; elimination.", ""),
        "scalar_equation": (_D, "``solve`` for ρ_∞ from the invariant.", ""),
        "polynomial": (_D, "Substitution s = c^{2/(N−1)}.", ""),
        "monotone_form": (_D, "The polynomial divided by s^{N−1}.", ""),
        "monotone_slope": (_D, "``diff`` of the monotone form.", ""),
        "depth_one": (_D, "Substitution N = 1.", ""),
        "limit_equation": (_D, "``limit`` N → ∞ of the scalar equation.", ""),
        "c_infinity": (_D, "``solve`` of the limit equation.", ""),
        "first_order": (_D, "Implicit differentiation in ε = 1/(N − 1).", ""),
    },
    "derive_infinite_depth": {
        "c_infinity_aligned": (_D, "Substitution into the derived c_∞; ``simplify``.", ""),
        "depth_neutral": (_D, "Substitution into the derived polynomial.", ""),
        "risk_aligned": (
            _C,
            "(c − α)²Q typed from a hand step; SymPy only factors it.",
            f"{_PAPER}, result D4",
        ),
        "alignment_gap": (
            _C,
            "A hand-expanded squared norm, factored by SymPy.",
            f"{_PAPER}, result D4",
        ),
    },
    "derive_regularizer": {
        "regularizer": (_C, "Q_N typed in.", _D3),
        "stationarity_residual": (_C, "Stationarity of the typed Q_N minus D3: zero.", _D3),
        "depth_one_residual": (_C, "Q_1 minus ‖w − θ_S‖² − ‖θ_S‖²: zero.", _D3),
        "curvature": (_D, "``diff`` of q(r) = r^{(N+1)/N}.", ""),
        "depth_two": (_D, "Substitution N = 2.", ""),
    },
    "derive_frozen_layers": {
        "span_residual": (
            _C,
            "(I − θ̂θ̂ᵀ)w at concrete sizes: zero.",
            f"{_PAPER}, result D6",
        ),
        "optimum": (_D, "``solve`` of d/dβ R(βθ_S) = 0.", ""),
        "floor": (_D, "R at the solved optimum; ``simplify``.", ""),
    },
    "derive_asymptotic_isotropic": {
        "fixed_point": (_C, "HMRT's fixed-point equation, typed in.", _HMRT),
        "c0": (_D, "``solve`` of the stated fixed-point equation.", ""),
        "bias": (_C, "HMRT's bias formula, typed in and specialised.", _HMRT),
        "variance": (_C, "HMRT's variance formula, typed in and specialised.", _HMRT),
    },
    "derive_finetuned_predictor": {
        "update": (_C, "L1's stated solution with X → Φ, θ_S → 0, y → r.", _L1),
        "predictor": (_D, "Matrix algebra on ``update``.", ""),
        "distance_sq": (_D, "Matrix algebra on ``update``.", ""),
        "flow_training": (_D, "``dsolve`` of the per-eigenpair flow.", ""),
        "flow_factor": (_D, "``integrate`` of the increment.", ""),
        "flow_limit": (_D, "``limit`` t → ∞.", ""),
        "gd_training": (_D, "``rsolve`` of the per-eigenpair recurrence.", ""),
        "gd_factor": (_D, "``summation`` of the increments.", ""),
        "flow_distance_factor": (
            _C,
            "κ·flow_factor², typed from the hand step ‖Φᵀv‖² = κ.",
            f"{_PAPER}, result K3 (distance travelled)",
        ),
        "generalization_term": (_C, "√(2Q/n) typed in; not derived or verified.", _ADHLW),
        "linear_teacher_bound": (_D, "K2's derived bound substituted into the term.", ""),
    },
}


def _build() -> Mapping[str, Provenance]:
    table = dict(_ENTRIES)
    for name, parts in _PARTS.items():
        if name not in _ENTRIES:  # pragma: no cover - guards the table above
            raise RuntimeError(f"parts recorded for unknown derivation {name!r}")
        for attribute, (kind, summary, source) in parts.items():
            table[f"{name}.{attribute}"] = Provenance(kind, summary, source)
    return MappingProxyType(table)


#: Every ``derive_*`` function (bare name) and every recorded part (``"name.attribute"``).
PROVENANCE: Mapping[str, Provenance] = _build()


def _key(name_or_function: str | Callable[..., object]) -> str:
    if isinstance(name_or_function, str):
        parts = name_or_function.split(".")
        if len(parts) >= 3 and parts[0] == "symbolic":  # "symbolic.linear.derive_x[.attr]"
            parts = parts[2:]
        return ".".join(parts)
    name = getattr(name_or_function, "__name__", None)
    if not isinstance(name, str):
        raise InputError(
            f"name_or_function must be a derive_* function or its name, got {name_or_function!r}"
        )
    return name


def provenance_of(name_or_function: str | Callable[..., object]) -> Provenance:
    """The :class:`Provenance` of a ``derive_*`` function, or of one part of its result.

    Accepts the function itself (``symbolic.linear.derive_gradient_descent``), its name
    (``"derive_gradient_descent"``, optionally module-qualified as
    ``"symbolic.linear.derive_gradient_descent"``), or ``"derive_name.attribute"`` for a
    recorded part (see :func:`provenance_parts`). An unknown name raises
    :class:`~finetune_theory.errors.InputError`.
    """
    key = _key(name_or_function)
    try:
        return PROVENANCE[key]
    except KeyError:
        known = ", ".join(k for k in PROVENANCE if "." not in k)
        raise InputError(
            f"no provenance recorded for {key!r}: name_or_function must be one of {known} "
            "(or 'derive_name.attribute' for a recorded part)"
        ) from None


def provenance_parts(name_or_function: str | Callable[..., object]) -> dict[str, Provenance]:
    """Attribute → :class:`Provenance` for a derivation that mixes derived and stated parts.

    Empty when every attribute shares the function's own kind (then ``provenance_of`` says it
    all). Raises :class:`~finetune_theory.errors.InputError` for an unknown derivation.
    """
    key = _key(name_or_function)
    provenance_of(key)
    prefix = f"{key}."
    return {k[len(prefix) :]: v for k, v in PROVENANCE.items() if k.startswith(prefix)}
