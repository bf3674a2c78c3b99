"""Derivation results rendered as mathematics (LaTeX for Jupyter, Markdown pages).

Every ``derive_*`` dataclass inherits :class:`LatexRendered`, so a notebook shows it as
mathematics (``_repr_latex_``: its final results in one ``aligned`` block), ``.to_latex()``
gives the same block without the ``$$`` delimiters and ``.to_markdown()`` the whole page:
title and result label, a link to its section of docs/theory.md, the hypotheses, every step
(what SymPy did and the expression it produced), the final results with the textbook form
beside the derived one, and the provenance. :func:`derivation_page` renders the page of a
``derive_*`` function by name (``derive_two_level_fixed_point`` returns a plain tuple, so its
page is only reachable that way); ``python -m verify derivations`` writes the pages, and the
committed copies live in ``docs/derivations/``.

All metadata (hypotheses, step sentences, which attributes are final results, the typed
textbook forms that are not attributes of the result) is in the table :data:`SPECS`, one
:class:`Spec` per ``derive_*`` function. One printer renders every expression, with the
display names of :func:`display_names` (σ² for ``sigma2``, ‖Δ‖² for ``Delta2``, ...), so the
output is the same bytes on every run. ``tests/symbolic/test_render.py`` parses the LaTeX of
every final result back into SymPy (``sympy.parsing.latex``, Lark backend) and checks that it
equals the derived expression.

Display maths on the pages uses GitHub's ```` ```math ```` blocks and inline maths its
``$`...`$`` form (its contents are not touched by Markdown).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import precedence_traditional

from finetune_theory.errors import InputError

__all__ = [
    "BREAK",
    "MUL",
    "SPECS",
    "LatexRendered",
    "Rendered",
    "Spec",
    "derivation_names",
    "derivation_page",
    "display_names",
    "index_page",
    "latex",
    "page_results",
    "render_latex",
    "select_derivations",
]


class LatexRendered:
    """Mixin for ``derive_*`` result dataclasses: renders the derivation as mathematics."""

    def _repr_latex_(self) -> str:
        """The final results as ``$$\\begin{aligned}...\\end{aligned}$$`` (Jupyter)."""
        return render_latex(self)

    def to_latex(self) -> str:
        """The final results as one LaTeX ``aligned`` block (no ``$$`` delimiters)."""
        return _results_block(_spec_of(self), self)

    def to_markdown(self) -> str:
        """The whole derivation as a Markdown page (the page docs/derivations/ holds for the
        default arguments; here for this object, e.g. other concrete sizes)."""
        return _page(_spec_of(self), self)


def render_latex(result: object, name: str | None = None) -> str:
    """``$$``-delimited LaTeX of one derivation result's final results (what Jupyter shows).

    ``name`` (a ``derive_*`` function name) is needed only for results that are not
    :class:`LatexRendered` dataclasses, i.e. the tuple of ``derive_two_level_fixed_point``.
    """
    spec = SPECS[_key(name)] if name is not None else _spec_of(result)
    return "$$" + _results_block(spec, result) + "$$"


# ======================================================================================
# The printer: one set of options and display names for every expression
# ======================================================================================

#: Display names that hold in every derivation (symbol name → LaTeX). A name whose LaTeX is
#: sympy's default (``theta_S`` → ``\theta_{S}``, ``c0`` → ``c_{0}``) is not listed.
_NAMES: dict[str, str] = {
    "sigma2": r"\sigma^{2}",
    "sigma2_pos": r"\sigma^{2}",
    "Delta2": r"\|\Delta\|^{2}",
    "thetaT2": r"\|\theta_{T}\|^{2}",
    "beta2": r"\|\beta\|^{2}",
    "X^+": r"X^{+}",
}

#: Marks a line break inside a long displayed expression (between top-level terms).
BREAK = r" \\ &\quad"

#: A displayed expression longer than this many LaTeX characters is broken between its
#: top-level terms (GitHub does not wrap display maths).
_LINE = 110


#: The multiplication sign: a thin space (products of matrices too, in their order).
#: Written explicitly, unlike sympy's plain space, so that a product is never read as a
#: function application: x_{1}\,(a + b) is a product, x_{1} (a + b) could be either.
MUL = r" \, "


class _Printer(LatexPrinter):  # type: ignore[misc]
    """sympy's LaTeX printer with I for the identity, 0 for a zero matrix and :data:`MUL`
    between the factors of a matrix product too."""

    def _print_MatMul(self, expr: Any) -> str:
        def factor(x: Any) -> str:
            if isinstance(x, sp.Mul) and not isinstance(x, sp.MatMul):
                return str(self._print(x))
            return str(self.parenthesize(x, precedence_traditional(expr), False))

        args = list(expr.args)
        sign = ""
        if expr.could_extract_minus_sign():
            sign = "- "
            if args[0] == -1:
                args = args[1:]
            else:
                args[0] = -args[0]
        return sign + MUL.join(map(factor, args))

    def _print_Identity(self, expr: Any) -> str:
        return "I"

    def _print_ZeroMatrix(self, expr: Any) -> str:
        return "0"


def display_names(expr: Any, overrides: Mapping[str, str] | None = None) -> dict[Any, str]:
    """``symbol_names`` for :func:`latex`: each Symbol/MatrixSymbol of ``expr`` whose name has
    a display name (``overrides`` first, then the table shared by every derivation)."""
    table = {**_NAMES, **(overrides or {})}
    atoms = expr.atoms(sp.Symbol, sp.MatrixSymbol) if isinstance(expr, sp.Basic) else set()
    return {a: table[a.name] for a in atoms if a.name in table}


def latex(expr: Any, overrides: Mapping[str, str] | None = None) -> str:
    """One-line LaTeX of a SymPy object, with the display names of :func:`display_names`,
    :data:`MUL` between factors and ``\\arcsin``/``\\arccos`` for the inverse trigonometric
    functions."""
    if isinstance(expr, bool):
        return r"\text{" + ("true" if expr else "false") + "}"
    if isinstance(expr, tuple):
        return r"\left(" + r",\ ".join(latex(e, overrides) for e in expr) + r"\right)"
    settings = {
        "symbol_names": display_names(expr, overrides),
        "inv_trig_style": "full",
        "mul_symbol": MUL,
    }
    return str(_Printer(settings).doprint(expr))


def _terms(tex: str) -> list[str]:
    """``tex`` cut before each top-level `` + `` / `` - `` (outside braces, \\left…\\right and
    \\begin…\\end),
    so that ``"".join(_terms(tex)) == tex``."""
    cuts: list[int] = []
    depth = 0
    i = 0
    while i < len(tex):
        if tex.startswith(r"\begin", i) or tex.startswith(r"\end", i):
            depth += 1 if tex.startswith(r"\begin", i) else -1
            i += 4
            continue
        if tex.startswith(r"\left", i) and not tex.startswith(r"\leftarrow", i):
            depth += 1
            i += 5
            continue
        if tex.startswith(r"\right", i) and not tex.startswith(r"\rightarrow", i):
            depth -= 1
            i += 6
            continue
        ch = tex[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif (
            depth == 0 and i > 0 and tex[i - 1] == " " and ch in "+-" and tex[i + 1 : i + 2] == " "
        ):
            cuts.append(i - 1)
        i += 1
    bounds = [0, *cuts, len(tex)]
    return [tex[a:b] for a, b in itertools.pairwise(bounds)]


def _broken(tex: str) -> str:
    """``tex`` with :data:`BREAK` inserted between top-level terms every ~_LINE characters."""
    if len(tex) <= _LINE:
        return tex
    lines: list[str] = []
    current = ""
    for term in _terms(tex):
        if current and len(current) + len(term) > _LINE:
            lines.append(current)
            current = term
        else:
            current += term
    lines.append(current)
    return BREAK.join(lines)


# ======================================================================================
# The table: what each page says
# ======================================================================================


@dataclass(frozen=True)
class Shown:
    """One displayed equation: ``lhs rel expr`` (``rel`` "=" or e.g. ``\\le`` for a bound;
    ``lhs`` empty: ``expr`` alone; ``zero``: ``expr = 0``, for an equation SymPy solves).
    ``attribute`` names where ``expr`` lives in the result, e.g. ``.under`` or ``[0]``."""

    lhs: str
    expr: Any
    attribute: str
    zero: bool = False
    rel: str = "="


@dataclass(frozen=True)
class Step:
    """One step of a derivation: a sentence saying what SymPy did, and what it produced."""

    text: str
    shown: tuple[Shown, ...] = ()


@dataclass(frozen=True)
class Result:
    """A final result: the derived expression and, where there is one, the textbook form.

    ``textbook_from`` says where the textbook form comes from (an attribute of the result,
    or typed in this module from docs/theory.md); ``checked_in`` is the test that simplifies
    derived − textbook to zero. ``textbook_latex`` replaces the rendered textbook expression
    on the page by a shorter typed formula (the expression is still what the test checks).
    """

    title: str
    derived: Shown
    textbook: Shown | None = None
    textbook_from: str = ""
    checked_in: str = ""
    textbook_latex: str = ""
    note: str = ""


@dataclass(frozen=True)
class Spec:
    """Everything a page says about one ``derive_*`` function besides its expressions."""

    name: str
    module: str
    labels: tuple[str, ...]
    title: str
    intro: str
    hypotheses: tuple[tuple[str, str], ...]
    build: Callable[[Any], tuple[list[Step], list[Result]]]
    symbols: Mapping[str, str] = field(default_factory=dict)
    result_type: str = ""  # the dataclass it returns ("" for a tuple)


#: docs/theory.md's heading for each result label (the page links to its GitHub anchor;
#: tests/verify/test_derivations.py checks that the headings exist).
THEORY_HEADINGS: dict[str, str] = {
    "L1": "L1 — implicit bias of fine-tuning",
    "L2": "L2 — exact risk of the fine-tuned model",
    "L3": "L3 — expected risk for isotropic Gaussian inputs, exact at finite n and d",
    "L4": "L4 — general covariance, proportional asymptotics",
    "D1": "D1 — end-to-end dynamics",
    "D2": "D2 — balanced pretrained weights",
    "D3": "D3 — implicit bias of fine-tuning a deep linear network",
    "D4": "D4 — infinite depth",
    "D5": "D5 — depth changes the risk",
    "D6": "D6 — freezing layers fails",
    "K1": "K1 — the infinite-width Gram matrix",
    "K2": "K2 — linear teachers have a known kernel norm",
    "K3": "K3 — fine-tuning in the NTK regime",
}


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces → -."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


_TEST_RENDER = "tests/symbolic/test_render.py::test_textbook_forms_equal_the_derived_ones"
_TYPED = "typed in `symbolic/_render.py` from docs/theory.md"


def _s(name: str, **assumptions: bool) -> Any:
    return sp.Symbol(name, **assumptions)


# -- symbolic.linear -------------------------------------------------------------------


def _build_kkt(r: Any) -> tuple[list[Step], list[Result]]:
    steps = [
        Step(
            "The design $`X`$, the labels $`y`$ and the source weights $`\\theta_S`$ are "
            "matrices of real symbols:",
            (
                Shown("X", r.X, ".X"),
                Shown("y", r.y, ".y"),
                Shown(r"\theta_{S}", r.theta_s, ".theta_s"),
            ),
        ),
        Step(
            "The Lagrangian $`L(\\theta, \\lambda) = \\tfrac12\\|\\theta - \\theta_S\\|^2 + "
            "\\lambda^{T}(X\\theta - y)`$, written out entry by entry (unknowns $`t_i`$, "
            "multipliers $`l_i`$):",
            (Shown(r"L", r.lagrangian, ".lagrangian"),),
        ),
        Step(
            "SymPy differentiates it (`diff`: $`\\partial L/\\partial t_i = 0`$), adds the "
            "constraints $`X\\theta = y`$, writes the result as a linear system in "
            "$`(\\theta, \\lambda)`$ (`linear_eq_to_matrix`) and solves it by exact Gaussian "
            "elimination (`LUsolve`, nothing simplified). The $`\\theta`$-part of the "
            "solution is the result below, entry by entry."
        ),
    ]
    results = [
        Result(
            f"entry {i} of the minimiser",
            Shown(rf"\theta^{{*}}_{{{i}}}", r.solution[i], f".solution[{i}]"),
            Shown(rf"\theta^{{*}}_{{{i}}}", r.textbook[i], f".textbook[{i}]"),
            "the `.textbook` attribute (entry by entry, with $`(XX^{T})^{-1}`$ as "
            "adjugate/determinant)",
            "tests/symbolic/test_linear.py::test_kkt_solution_equals_textbook",
            textbook_latex=r"\left[\theta_{S} + X^{T} \left(X X^{T}\right)^{-1} "
            rf"\left(y - X \theta_{{S}}\right)\right]_{{{i}}}",
        )
        for i in range(r.solution.rows)
    ]
    return steps, results


def _build_kkt_matrix(r: Any) -> tuple[list[Step], list[Result]]:
    steps = [
        Step(
            "Stationarity $`\\theta - \\theta_S + X^{T}\\lambda = 0`$ gives "
            "$`\\theta(\\lambda) = \\theta_S - X^{T}\\lambda`$, and $`X\\theta = y`$ then gives "
            "$`(XX^{T})\\lambda = X\\theta_S - y`$. The multiplier that solves it is *stated* "
            "(typed in), not solved:",
            (Shown(r"\lambda^{*}", r.multiplier, ".multiplier"),),
        ),
        Step(
            "The candidate $`\\theta^{*} = \\theta_S - X^{T}\\lambda^{*}`$ is built from it by "
            "hand (the result below). SymPy expands the constraint residual "
            "$`X\\theta^{*} - y`$ and the stationarity residual "
            "$`\\theta^{*} - \\theta_S + X^{T}\\lambda^{*}`$ (`expand`, `doit`):",
            (
                Shown(r"X \theta^{*} - y", r.constraint_residual, ".constraint_residual"),
                Shown(
                    r"\theta^{*} - \theta_{S} + X^{T} \lambda^{*}",
                    r.stationarity_residual,
                    ".stationarity_residual",
                ),
            ),
        ),
        Step(
            "For a generic null-space direction $`u = (I - X^{T}(XX^{T})^{-1}X)z`$, SymPy "
            "expands $`Xu`$ and the cross term $`(\\theta^{*} - \\theta_S)^{T}u`$; both vanish, "
            "so $`\\|\\theta^{*} + u - \\theta_S\\|^2 = \\|\\theta^{*} - \\theta_S\\|^2 + "
            "\\|u\\|^2`$ and $`\\theta^{*}`$ is the unique interpolant closest to "
            "$`\\theta_S`$:",
            (
                Shown("X u", r.null_direction_image, ".null_direction_image"),
                Shown(r"\left(\theta^{*} - \theta_{S}\right)^{T} u", r.cross_term, ".cross_term"),
            ),
        ),
    ]
    results = [
        Result(
            "the interpolant closest to θ_S",
            Shown(r"\theta^{*}", r.solution, ".solution"),
            Shown(r"\theta_{FT}", r.textbook, ".textbook"),
            "the `.textbook` attribute",
            "tests/symbolic/test_linear.py::test_matrix_kkt_elimination_checks_every_step",
        )
    ]
    return steps, results


def _build_gd(r: Any) -> tuple[list[Step], list[Result]]:
    b, e0, mu, eta, k = _s("b", real=True), _s("e0", real=True), _mu(), _eta(), _k()
    steps = [
        Step(
            "One gradient-descent step written along an eigenvector $`v`$ of $`X^{T}X/n`$, "
            "with $`e_k = v^{T}\\theta_k`$: for an eigenvalue $`\\mu > 0`$ (row space of "
            "$`X`$) and for $`\\mu = 0`$ (null space). These recurrences are the only typed "
            "input:",
            (
                Shown("", r.row_recurrence, ".row_recurrence", zero=True),
                Shown("", r.null_recurrence, ".null_recurrence", zero=True),
            ),
        ),
        Step(
            "`rsolve` solves both with $`e(0) = e_0`$; in the null space nothing moves, so "
            "the part of $`\\theta_S`$ outside the row space of $`X`$ is kept:",
            (
                Shown("e(k)", r.row_solution, ".row_solution"),
                Shown("e(k)", r.null_solution, ".null_solution"),
            ),
        ),
        Step(
            "Splitting the row-space solution by its dependence on $`k`$ (`as_independent`): "
            "the limit (the least-squares coordinate) and the transient:",
            (
                Shown(r"e_{\infty}", r.row_limit, ".row_limit"),
                Shown(r"e(k) - e_{\infty}", r.transient, ".transient"),
            ),
        ),
        Step(
            "The transient is a multiple of $`(1 - \\eta\\mu)^k`$. Writing "
            "$`|1 - \\eta\\mu| = 1/(1 + q)`$ with $`q > 0`$, `limit` gives its decay:",
            (
                Shown(
                    r"\lim_{k \to \infty} \left(\frac{1}{1 + q}\right)^{k}",
                    r.transient_decay,
                    ".transient_decay",
                ),
            ),
        ),
        Step(
            "`solve_univariate_inequality` of $`|1 - \\eta\\mu| < 1`$ for the step $`\\eta`$ "
            "(the stable range):",
            (Shown("", r.stability, ".stability"),),
        ),
    ]
    results = [
        Result(
            "the GD iterate along a row-space eigenvector",
            Shown("e(k)", r.row_solution, ".row_solution"),
            Shown(
                "e(k)", b / mu + (e0 - b / mu) * (1 - eta * mu) ** k, "b/μ + (e₀ − b/μ)(1 − ημ)^k"
            ),
            _TYPED + " L1",
            _TEST_RENDER,
        ),
        Result(
            "its limit: the least-squares coordinate",
            Shown(r"e_{\infty}", r.row_limit, ".row_limit"),
            Shown(r"e_{\infty}", b / mu, "b/μ"),
            _TYPED + " L1",
            _TEST_RENDER,
        ),
        Result(
            "the stable step sizes",
            Shown("", r.stability, ".stability"),
            Shown("", sp.Lt(eta, 2 / mu), "η < 2/μ"),
            _TYPED + " L1 (η < 2/λ_max(XᵀX/n))",
            _TEST_RENDER,
        ),
    ]
    return steps, results


def _build_risk(r: Any) -> tuple[list[Step], list[Result]]:
    steps = [
        Step(
            "SymPy substitutes $`\\theta_{FT} = \\theta_S + X^{+}(y - X\\theta_S)`$ (L1) and "
            "$`y = X\\theta_T + \\xi`$ and expands the error $`e = \\theta_{FT} - \\theta_T`$ "
            "(`expand`), with $`X^{+}`$ a matrix symbol and $`P = X^{+}X`$:",
            (Shown(r"\theta_{FT} - \theta_{T}", r.error, ".error"),),
        ),
        Step(
            "Its difference from the textbook error $`(I - P)\\Delta + X^{+}\\xi`$ expands to "
            "zero:",
            (
                Shown(
                    r"e - \left(\left(I - P\right) \Delta + X^{+} \xi\right)",
                    r.error_residual,
                    ".error_residual",
                ),
            ),
        ),
        Step(
            "SymPy expands the quadratic form $`e^{T}\\Sigma e`$ and sorts its terms by their "
            "number of $`\\xi`$ factors: none (bias), one (cross) and two (variance): the "
            "three results below."
        ),
        Step(
            "The cross term minus its textbook form, after using $`\\Sigma = \\Sigma^{T}`$ "
            "and that a $`1 \\times 1`$ matrix equals its transpose, expands to zero:",
            (
                Shown(
                    r"\text{cross} - 2 \Delta^{T} \left(I - P\right)^{T} \Sigma X^{+} \xi",
                    r.cross_residual,
                    ".cross_residual",
                ),
            ),
        ),
        Step(
            "Averaging over the noise ($`\\mathbb{E}\\,\\xi = 0`$, "
            "$`\\mathbb{E}\\,\\xi\\xi^{T} = \\sigma^2 I`$) removes the cross term and turns the "
            "variance into $`\\sigma^2 \\operatorname{tr}(X^{+T}\\Sigma X^{+})`$. That step is "
            "stated in the docstring; SymPy does not compute it."
        ),
    ]
    rt = "tests/symbolic/test_linear.py::test_risk_decomposition_matches_textbook_terms"
    results = [
        Result(
            "bias (no factor of ξ)",
            Shown(r"\text{bias}", r.bias, ".bias"),
            Shown(r"\text{bias}", r.bias_textbook, ".bias_textbook"),
            "the `.bias_textbook` attribute",
            rt,
        ),
        Result(
            "cross term (one factor of ξ)",
            Shown(r"\text{cross}", r.cross, ".cross"),
            Shown(r"\text{cross}", r.cross_textbook, ".cross_textbook"),
            "the `.cross_textbook` attribute (equal after Σ = Σᵀ and transposing 1×1 terms: "
            "`.cross_residual` above)",
            rt,
        ),
        Result(
            "variance (two factors of ξ)",
            Shown(r"\text{variance}", r.variance, ".variance"),
            Shown(r"\text{variance}", r.variance_textbook, ".variance_textbook"),
            "the `.variance_textbook` attribute",
            rt,
        ),
    ]
    return steps, results


def _build_expected_risk(r: Any) -> tuple[list[Step], list[Result]]:
    s2, D = _s("sigma2", nonnegative=True), _s("Delta2", positive=True)
    gam, psi = _s("gamma", positive=True), _s("psi", positive=True)
    steps = [
        Step(
            "`integrate` the $`\\chi^2_k`$ density against $`1/x`$ over $`(0, \\infty)`$; "
            "SymPy returns the mean together with its convergence condition; `simplify` and "
            "`gammasimp` reduce the convergent branch (as the derivation does):",
            (
                Shown(
                    r"\mathbb{E}\left[1/\chi^{2}_{k}\right]",
                    r.inverse_chi2_mean,
                    ".inverse_chi2_mean",
                ),
                Shown(
                    r"\mathbb{E}\left[1/\chi^{2}_{k}\right]\big|_{k > 2}",
                    sp.gammasimp(sp.simplify(r.inverse_chi2_mean.args[0][0])),
                    ".inverse_chi2_mean.args[0][0], simplified",
                ),
            ),
        ),
        Step(
            "Substituting $`k = d - n + 1`$ into $`n\\,\\mathbb{E}[1/\\chi^2_k]`$ "
            "(the variance, $`\\sigma^2\\,\\mathbb{E}\\operatorname{tr}(XX^{T})^{-1}`$), adding "
            "the bias $`(1 - n/d)\\|\\Delta\\|^2`$ (from $`\\mathbb{E}P = (n/d)I`$), and "
            "substituting $`k = n - d + 1`$ into $`d\\,\\mathbb{E}[1/\\chi^2_k]`$ for "
            "$`n > d`$; only the conditions ($`k > 2`$) are simplified. *Under* is the "
            "under-determined regime (fewer samples than dimensions: fine-tuning "
            "interpolates and keeps $`(I - P)\\theta_S`$), *over* the over-determined one "
            "(least squares: $`\\theta_S`$ is forgotten):",
            (Shown(r"\mathbb{E}\,R(\theta_{FT})", r.piecewise, ".piecewise"),),
        ),
        Step(
            "`limit`s at the interpolation threshold: with noise the risk blows up as "
            "$`n \\to d - 1`$ from below; without noise the bias tends to 0 as $`n \\to d`$:",
            (
                Shown(
                    r"\lim_{n \to (d-1)^{-}} \mathbb{E}\,R",
                    r.near_interpolation_threshold,
                    ".near_interpolation_threshold",
                ),
                Shown(
                    r"\lim_{n \to d^{-}} \left(1 - \frac{n}{d}\right) \|\Delta\|^{2}",
                    r.noiseless_at_threshold,
                    ".noiseless_at_threshold",
                ),
            ),
        ),
        Step(
            "`limit` $`d \\to \\infty`$ at a fixed ratio: $`\\gamma = d/n > 1`$ "
            "(under-determined) and $`\\psi = n/d > 1`$ (over-determined); the results "
            "below."
        ),
    ]
    rt = "tests/symbolic/test_linear.py::test_expected_risk_derivation_equals_textbook"
    results = [
        Result(
            "expected risk, under-determined regime n ≤ d − 2",
            Shown(r"\mathbb{E}\,R(\theta_{FT})", r.under, ".under"),
            Shown(r"\mathbb{E}\,R(\theta_{FT})", r.textbook.args[0][0], ".textbook (n ≤ d − 2)"),
            "the `.textbook` attribute (docs/theory.md L3)",
            rt,
        ),
        Result(
            "expected risk, over-determined regime n ≥ d + 2",
            Shown(r"\mathbb{E}\,R(\theta_{FT})", r.over, ".over"),
            Shown(r"\mathbb{E}\,R(\theta_{FT})", r.textbook.args[1][0], ".textbook (n ≥ d + 2)"),
            "the `.textbook` attribute (docs/theory.md L3)",
            rt,
        ),
        Result(
            "proportional limit, γ = d/n > 1",
            Shown(
                r"\lim_{d \to \infty} \mathbb{E}\,R", r.proportional_under, ".proportional_under"
            ),
            Shown(
                r"\lim_{d \to \infty} \mathbb{E}\,R",
                (1 - 1 / gam) * D + s2 / (gam - 1),
                "(1 − 1/γ)‖Δ‖² + σ²/(γ − 1)",
            ),
            _TYPED + " L3/L4 (the one-level L4 risk at λ = 1)",
            _TEST_RENDER,
        ),
        Result(
            "proportional limit, ψ = n/d > 1",
            Shown(r"\lim_{d \to \infty} \mathbb{E}\,R", r.proportional_over, ".proportional_over"),
            Shown(r"\lim_{d \to \infty} \mathbb{E}\,R", s2 / (psi - 1), "σ²/(ψ − 1)"),
            _TYPED + " L3",
            _TEST_RENDER,
        ),
    ]
    return steps, results


def _build_sample_complexity(r: Any) -> tuple[list[Step], list[Result]]:
    d, eps = _d(), _s("epsilon", positive=True)
    D, T = _s("Delta2", positive=True), _s("thetaT2", positive=True)
    steps = [
        Step(
            "`solve` the noiseless L3 risk $`(1 - n/d)\\|\\Delta\\|^2 = \\varepsilon`$ for "
            "$`n`$ (treated as a real number; `factor`ed):",
            (Shown(r"n_{FT}(\epsilon)", r.n_finetune, ".n_finetune"),),
        ),
        Step(
            "Training from scratch is fine-tuning from $`\\theta_S = 0`$: substitute "
            "$`\\|\\Delta\\|^2 \\to \\|\\theta_T\\|^2`$:",
            (Shown(r"n_{\text{scratch}}(\epsilon)", r.n_scratch, ".n_scratch"),),
        ),
        Step(
            "The quotient, `simplify`d and `factor`ed:",
            (Shown(r"n_{FT} / n_{\text{scratch}}", r.ratio, ".ratio"),),
        ),
    ]
    results = [
        Result(
            "samples needed by fine-tuning (before rounding up)",
            Shown(r"n_{FT}(\epsilon)", r.n_finetune, ".n_finetune"),
            Shown(r"n_{FT}(\epsilon)", d * (1 - eps / D), "d(1 − ε/‖Δ‖²)"),
            _TYPED + " L3",
            _TEST_RENDER,
        ),
        Result(
            "samples needed from scratch",
            Shown(r"n_{\text{scratch}}(\epsilon)", r.n_scratch, ".n_scratch"),
            Shown(r"n_{\text{scratch}}(\epsilon)", d * (1 - eps / T), "d(1 − ε/‖θ_T‖²)"),
            _TYPED + " L3",
            _TEST_RENDER,
        ),
        Result(
            "their ratio",
            Shown(r"n_{FT} / n_{\text{scratch}}", r.ratio, ".ratio"),
            Shown(
                r"n_{FT} / n_{\text{scratch}}",
                (1 - eps / D) / (1 - eps / T),
                "(1 − ε/‖Δ‖²)/(1 − ε/‖θ_T‖²)",
            ),
            _TYPED + " L3",
            _TEST_RENDER,
        ),
    ]
    return steps, results


def _build_asymptotic(r: Any) -> tuple[list[Step], list[Result]]:
    gam, lam = _s("gamma", positive=True), _s("lambda", positive=True)
    s2, D = _s("sigma2", nonnegative=True), _s("Delta2", positive=True)
    steps = [
        Step(
            "HMRT's fixed-point equation for $`c_0`$ at a one-level spectrum (every "
            "eigenvalue $`\\lambda`$); *stated*, typed in:",
            (Shown("", r.fixed_point, ".fixed_point"),),
        ),
        Step("`solve` it for $`c_0`$ (the first result below)."),
        Step(
            "HMRT's bias and variance formulas, *stated* (typed in), evaluated at the solved "
            "$`c_0`$ and `simplify`d: the last two results. At $`\\lambda = 1`$ their sum "
            "is L3's independently derived proportional limit "
            "(`tests/symbolic/test_linear.py::test_proportional_limit_matches_l4_isotropic`)."
        ),
    ]
    results = [
        Result(
            "the fixed point c₀",
            Shown("c_{0}", r.c0, ".c0"),
            Shown("c_{0}", 1 / (gam * (gam - 1) * lam), "1/(γ(γ − 1)λ)"),
            _TYPED + " L4 (the one-level case)",
            _TEST_RENDER,
        ),
        Result(
            "the bias",
            Shown("B", r.bias, ".bias"),
            Shown("B", lam * D * (1 - 1 / gam), "λ‖Δ‖²(1 − 1/γ)"),
            _TYPED + " L4 (the one-level case)",
            _TEST_RENDER,
        ),
        Result(
            "the variance",
            Shown("V", r.variance, ".variance"),
            Shown("V", s2 / (gam - 1), "σ²/(γ − 1)"),
            _TYPED + " L4 (the one-level case)",
            _TEST_RENDER,
        ),
    ]
    return steps, results


def _build_two_level(r: Any) -> tuple[list[Step], list[Result]]:
    equation, root = r
    steps = [
        Step(
            "HMRT's fixed-point equation for a two-level spectrum (a fraction $`p`$ of the "
            "eigenvalues at $`\\lambda_1`$, $`1 - p`$ at $`\\lambda_2`$); *stated*, typed in:",
            (Shown("", equation, "[0]"),),
        ),
        Step(
            "`solve` for $`c_0`$ gives the two roots of the quadratic the equation reduces "
            "to; the positive one is picked by evaluating both at "
            "$`\\gamma = 2, p = 1/2, \\lambda_1 = 1, \\lambda_2 = 3`$ (the result below)."
        ),
    ]
    results = [
        Result(
            "the positive root c₀",
            Shown("c_{0}", root, "[1]"),
            note="There is no typed textbook form: "
            "`tests/symbolic/test_linear.py::test_two_level_root_matches_brent` compares the "
            "root numerically with `hmrt_c0` (Brent's method on the fixed point).",
        )
    ]
    return steps, results


# -- symbolic.deep_linear --------------------------------------------------------------


def _build_end_to_end(r: Any) -> tuple[list[Step], list[Result]]:
    N, s, w = _N(), _s("s", positive=True), _s("r", positive=True)
    drift = tuple(
        Shown(
            rf"\tfrac{{d}}{{dt}}\left(W_{{{j + 2}}}^{{T}} W_{{{j + 2}}} - W_{{{j + 1}}} "
            rf"W_{{{j + 1}}}^{{T}}\right)",
            m,
            f".balance_drift[{j}]",
        )
        for j, m in enumerate(r.balance_drift)
    )
    steps = [
        Step(
            f"Depth $`N = {r.depth}`$, $`d = 2`$, hidden widths 2, layer entries symbols. "
            "SymPy builds $`w = (W_N \\cdots W_1)^{T}`$ and its Jacobian $`J`$ with respect to "
            "all entries (gradient flow moves $`w`$ by $`\\dot w = -JJ^{T}g`$). At the "
            "balanced rank-one point (D2, unit vectors parameterised rationally), "
            "$`JJ^{T}`$ minus the *stated* preconditioner "
            "$`\\|w\\|^{2-2/N}(I + (N - 1)\\hat w\\hat w^{T})`$ cancels (`cancel`):",
            (
                Shown(
                    r"J J^{T} - s^{2N-2} \left(I + (N - 1) \hat{\theta} \hat{\theta}^{T}\right)",
                    r.gram_residual,
                    ".gram_residual",
                ),
            ),
        ),
        Step(
            "For generic weights and a generic gradient $`g`$, the time derivative of each "
            "imbalance under the flow expands to zero (balancedness, and any imbalance, is "
            "conserved):",
            drift,
        ),
        Step(
            "The coefficient of $`\\hat w\\hat w^{T}`$ is a sum over the layers; `summation` "
            "for symbolic $`N`$:",
            (
                Shown(
                    r"\sum_{j=2}^{N} s^{2(N-j)} s^{2(j-1)}",
                    r.general_sum,
                    ".general_sum",
                ),
            ),
        ),
        Step(
            "With $`s = \\|w\\|^{1/N}`$ (balanced layers share the norm $`s`$):",
            (Shown(r"s^{2N-2}", r.prefactor, ".prefactor"),),
        ),
    ]
    results = [
        Result(
            "the layer sum",
            Shown(r"\sum_{j=2}^{N} s^{2(N-j)} s^{2(j-1)}", r.general_sum, ".general_sum"),
            Shown(r"\sum_{j=2}^{N} s^{2(N-j)} s^{2(j-1)}", (N - 1) * s ** (2 * N - 2), ""),
            _TYPED + " D1",
            _TEST_RENDER,
        ),
        Result(
            "the prefactor of the end-to-end dynamics",
            Shown(r"s^{2N-2}", r.prefactor, ".prefactor"),
            Shown(r"s^{2N-2}", w ** (2 - 2 / N), "‖w‖^{2−2/N}"),
            _TYPED + " D1",
            _TEST_RENDER,
        ),
    ]
    return steps, results


def _build_implicit_bias(r: Any) -> tuple[list[Step], list[Result]]:
    N = _N()
    A, B, C = (_s(x, positive=True) for x in "ABC")
    c, s = _s("c", positive=True), _s("s", positive=True)
    c_inf = sp.sqrt(C) / sp.sqrt(A - B)  # ‖X⁺y‖/‖Pθ_S‖
    steps = [
        Step(
            "Project D1's velocity (*stated*, typed in) onto the null space of $`X`$: with "
            "$`z = (I - P)w`$, $`P = X^{T}(XX^{T})^{-1}X`$ and $`g = X^{T}r/n`$, "
            "$`(I - P)\\dot w`$ minus the typed target "
            "$`-\\|w\\|^{2-2/N}(N - 1)(w^{T}g/\\|w\\|^2)\\,z`$ simplifies to zero "
            "($`(I - P)X^{T} = 0`$):",
            (
                Shown(
                    r"\left(I - P\right) \dot{w} - \text{target}",
                    r.null_velocity_residual,
                    ".null_velocity_residual",
                ),
            ),
        ),
        Step(
            "`dsolve` the norm equations $`\\rho' = -2N h \\rho`$ for $`\\rho = \\|w\\|^2`$ and "
            "$`\\zeta' = -2(N - 1) h \\zeta`$ for $`\\zeta = \\|z\\|^2`$, with "
            "$`h(t) = \\|w\\|^{-2/N} w^{T}g`$ arbitrary (the coefficients are *stated*, "
            "worked out by hand from D1):",
            (
                Shown("", r.norm_odes[0], ".norm_odes[0]"),
                Shown("", r.norm_odes[1], ".norm_odes[1]"),
            ),
        ),
        Step(
            "`solve` $`\\rho(t) = \\rho_t`$ for the common integral $`H = \\int h`$ and "
            "eliminate it from $`\\zeta`$: the invariant",
            (Shown(r"\zeta / \zeta_{0}", r.invariant, ".invariant"),),
        ),
        Step(
            "With $`c^2 = \\zeta/\\zeta_0`$, $`A = \\|\\theta_S\\|^2`$, "
            "$`B = \\|(I - P)\\theta_S\\|^2`$ and $`C = \\|X^{+}y\\|^2`$, `solve` "
            "$`c^2 = (\\rho_\\infty/A)^{(N-1)/N}`$ for $`\\rho_\\infty`$ and use "
            "$`\\rho_\\infty = C + Bc^2`$ (at convergence $`Pw_\\infty = X^{+}y`$): the scalar "
            "equation, zero at $`c`$ (result 1). Substituting $`s = c^{2/(N-1)}`$ gives the "
            "polynomial (result 2); dividing by $`s^{N-1}`$ and `diff`erentiating shows it "
            "has one positive root:",
            (
                Shown(
                    r"\left(A s^{N} - B s^{N-1} - C\right) / s^{N-1}",
                    r.monotone_form,
                    ".monotone_form",
                ),
                Shown(r"\frac{d}{ds}\left(\cdot\right)", r.monotone_slope, ".monotone_slope"),
            ),
        ),
        Step(
            "At $`N = 1`$ the invariant gives $`c`$ directly:",
            (Shown(r"c\big|_{N=1}", r.depth_one, ".depth_one"),),
        ),
        Step(
            "`limit` $`N \\to \\infty`$ of the scalar equation, then `solve` for its positive "
            "root (results 3 and 4). Implicit differentiation of "
            "$`Ac^{2+2\\varepsilon} - Bc^2 - C = 0`$ in $`\\varepsilon = 1/(N - 1)`$ at "
            "$`\\varepsilon = 0`$, evaluated at $`c_\\infty`$, gives the $`1/N`$ rate "
            "(result 5)."
        ),
    ]
    results = [
        Result(
            "the scalar equation for c (N ≥ 2)",
            Shown("", r.scalar_equation, ".scalar_equation", zero=True),
            Shown(
                "", A * c ** (2 * N / (N - 1)) - B * c**2 - C, "A c^{2N/(N−1)} − Bc² − C", zero=True
            ),
            _TYPED + " D3",
            _TEST_RENDER,
        ),
        Result(
            "the polynomial in s = c^{2/(N−1)}",
            Shown("", r.polynomial, ".polynomial", zero=True),
            Shown("", A * s**N - B * s ** (N - 1) - C, "A s^N − B s^{N−1} − C", zero=True),
            _TYPED + " D3",
            _TEST_RENDER,
        ),
        Result(
            "the infinite-depth equation",
            Shown("", r.limit_equation, ".limit_equation", zero=True),
            Shown("", (A - B) * c**2 - C, "(A − B)c² − C", zero=True),
            _TYPED + " D4",
            _TEST_RENDER,
        ),
        Result(
            "its positive root c_∞ = ‖X⁺y‖/‖Pθ_S‖",
            Shown(r"c_{\infty}", r.c_infinity, ".c_infinity"),
            Shown(r"c_{\infty}", c_inf, "√C/√(A − B)"),
            _TYPED + " D4",
            _TEST_RENDER,
        ),
        Result(
            "the 1/(N − 1) coefficient K of c_N = c_∞ + K/(N − 1) + O(1/N²)",
            Shown("K", r.first_order, ".first_order"),
            Shown("K", -A * c_inf * sp.log(c_inf) / (A - B), "−A c_∞ ln c_∞/(A − B)"),
            _TYPED + " D4",
            _TEST_RENDER,
            textbook_latex=r"-\frac{A\, c_{\infty} \ln c_{\infty}}{A - B}, \quad "
            r"c_{\infty} = \frac{\sqrt{C}}{\sqrt{A - B}}",
        ),
        Result(
            "depth one",
            Shown(r"c\big|_{N=1}", r.depth_one, ".depth_one"),
            Shown(r"c\big|_{N=1}", sp.Integer(1), "1"),
            _TYPED + " D3",
            _TEST_RENDER,
        ),
    ]
    return steps, results


def _build_infinite_depth(r: Any) -> tuple[list[Step], list[Result]]:
    alpha, c, Q = _s("alpha", real=True), _s("c", positive=True), _s("Q", nonnegative=True)
    tt, cos = _s("thetaT_norm", positive=True), _s("cos", positive=True)
    steps = [
        Step(
            "With $`\\theta_T = \\alpha\\theta_S`$ and no noise, $`X^{+}y = \\alpha P\\theta_S`$, "
            "so $`C = \\alpha^2(A - B)`$. Substituting into D3's derived $`c_\\infty`$ and "
            "`simplify`ing gives result 1; D3's polynomial at $`\\alpha = 1`$ "
            "($`C = A - B`$) and $`s = 1`$ gives result 2 (so $`c = 1`$ at every depth)."
        ),
        Step(
            "*Stated*: the hand step $`w_\\infty - \\theta_T = (c - \\alpha)(I - P)\\theta_S`$ "
            "gives the aligned risk, with $`Q = \\theta_S^{T}(I - P)\\Sigma(I - P)\\theta_S`$; "
            "SymPy only `factor`s it (result 3)."
        ),
        Step(
            "*Stated*: $`\\|(\\|\\theta_T\\|/\\|\\theta_S\\|)\\theta_S - \\theta_T\\|^2`$ expanded "
            "by hand with $`\\theta_S^{T}\\theta_T = \\|\\theta_S\\|\\|\\theta_T\\|\\cos`$; SymPy "
            "`factor`s it (result 4). The large-$`d`$ isotropic risk "
            "$`\\approx (1 - n/d)`$ times this gap is stated in prose, not computed."
        ),
    ]
    results = [
        Result(
            "c_∞ for an aligned teacher",
            Shown(r"c_{\infty}", r.c_infinity_aligned, ".c_infinity_aligned"),
            Shown(r"c_{\infty}", sp.Abs(alpha), "|α|"),
            _TYPED + " D4",
            _TEST_RENDER,
        ),
        Result(
            "depth is neutral when θ_T = θ_S",
            Shown(
                r"\left.A s^{N} - B s^{N-1} - C\right|_{C = A - B,\ s = 1}",
                r.depth_neutral,
                ".depth_neutral",
            ),
            Shown(r"\left.A s^{N} - B s^{N-1} - C\right|_{C = A - B,\ s = 1}", sp.Integer(0), "0"),
            _TYPED + " D5",
            _TEST_RENDER,
        ),
        Result(
            "the aligned risk",
            Shown(r"R(w_{\infty})", r.risk_aligned, ".risk_aligned"),
            Shown(r"R(w_{\infty})", (c - alpha) ** 2 * Q, "(c − α)²Q"),
            _TYPED + " D5",
            _TEST_RENDER,
        ),
        Result(
            "the alignment gap",
            Shown(
                r"\left\|\frac{\|\theta_{T}\|}{\|\theta_{S}\|} \theta_{S} - \theta_{T}\right\|^{2}",
                r.alignment_gap,
                ".alignment_gap",
            ),
            Shown(
                r"\left\|\frac{\|\theta_{T}\|}{\|\theta_{S}\|} \theta_{S} - \theta_{T}\right\|^{2}",
                2 * tt**2 * (1 - cos),
                "2‖θ_T‖²(1 − cos)",
            ),
            _TYPED + " D5",
            _TEST_RENDER,
        ),
    ]
    return steps, results


def _build_regularizer(r: Any) -> tuple[list[Step], list[Result]]:
    w, T, p = _s("r", positive=True), _s("T", positive=True), _s("p", positive=True)
    steps = [
        Step(
            "The regulariser $`Q_N`$, *stated* (typed in), in $`\\|w\\|`$, $`\\|\\theta_S\\|`$ "
            "and $`\\hat\\theta_S^{T}w`$ (result 1)."
        ),
        Step(
            "Stationarity on $`\\{Xw = y\\}`$ means $`(I - P)\\nabla Q_N = 0`$, i.e. "
            "$`(I - P)w = (a r/q'(r))(I - P)\\hat\\theta_S`$ with $`q(r) = r^{(N+1)/N}`$ and "
            "$`a = ((N+1)/N)\\|\\theta_S\\|^{1/N}`$ (`diff`). Minus D3's relation "
            "$`\\|\\theta_S\\| c`$, $`c = (r/\\|\\theta_S\\|)^{(N-1)/N}`$, it simplifies to zero, "
            "so the constrained minimiser is D3's $`w_\\infty`$:",
            (
                Shown(
                    r"\frac{a r}{q'(r)} - \|\theta_{S}\| c",
                    r.stationarity_residual,
                    ".stationarity_residual",
                ),
            ),
        ),
        Step(
            "`diff`: both are positive for $`r > 0`$, so $`Q_N`$ is strictly convex and the "
            "stationary point is the unique minimiser:",
            (
                Shown(r"q''(r)", r.curvature[0], ".curvature[0]"),
                Shown(r"q'(r) / r", r.curvature[1], ".curvature[1]"),
            ),
        ),
        Step(
            "At $`N = 1`$ with concrete 3-vectors $`w`$ and $`\\theta_S`$, "
            "$`Q_1 - (\\|w - \\theta_S\\|^2 - \\|\\theta_S\\|^2)`$ simplifies to:",
            (
                Shown(
                    r"Q_{1} - \left(\|w - \theta_{S}\|^{2} - \|\theta_{S}\|^{2}\right)",
                    r.depth_one_residual,
                    ".depth_one_residual",
                ),
            ),
        ),
        Step("Substituting $`N = 2`$ gives the two-layer regulariser (result 2)."),
    ]
    results = [
        Result(
            "the implicit regulariser (stated)",
            Shown(r"Q_{N}(w)", r.regularizer, ".regularizer"),
            note="Typed in (`implicit_regularizer`): this is the stated form itself; the "
            "residuals above are what SymPy checks.",
        ),
        Result(
            "depth two",
            Shown(r"Q_{2}(w)", r.depth_two, ".depth_two"),
            Shown(
                r"Q_{2}(w)",
                w ** sp.Rational(3, 2) - sp.Rational(3, 2) * sp.sqrt(T) * p,
                "‖w‖^{3/2} − (3/2)‖θ_S‖^{1/2}θ̂_Sᵀw",
            ),
            _TYPED + " D3",
            _TEST_RENDER,
        ),
    ]
    return steps, results


def _build_frozen(r: Any) -> tuple[list[Step], list[Result]]:
    a, b, t = _s("a", positive=True), _s("b", real=True), _s("t", positive=True)
    steps = [
        Step(
            "SymPy builds $`w = (W_3 W_2 W_1)^{T}`$ with $`W_1 = s\\,v\\hat\\theta^{T}`$ frozen "
            "(rank one, as balanced pretrained weights are) and generic later layers "
            "(widths 2, 2, 2, 1); $`(I - \\hat\\theta\\hat\\theta^{T})w`$ cancels, so "
            "$`w \\in \\operatorname{span}\\{\\theta_S\\}`$:",
            (
                Shown(
                    r"\left(I - \hat{\theta} \hat{\theta}^{T}\right) w",
                    r.span_residual,
                    ".span_residual",
                ),
            ),
        ),
        Step(
            "So $`w = \\beta\\theta_S`$ and $`R(\\beta\\theta_S) = \\beta^2 a - 2\\beta b + t`$. "
            "`solve` $`\\tfrac{d}{d\\beta}R(\\beta\\theta_S) = 0`$ for $`\\beta`$ (result 1); "
            "$`R`$ at the optimum, `simplify`d, is the floor (result 2)."
        ),
    ]
    results = [
        Result(
            "the best multiple of θ_S",
            Shown(r"\beta^{*}", r.optimum, ".optimum"),
            Shown(r"\beta^{*}", b / a, "θ_SᵀΣθ_T/θ_SᵀΣθ_S"),
            _TYPED + " D6",
            _TEST_RENDER,
        ),
        Result(
            "the risk floor for every sample size",
            Shown(r"\min_{\beta} R(\beta \theta_{S})", r.floor, ".floor"),
            Shown(
                r"\min_{\beta} R(\beta \theta_{S})", t - b**2 / a, "θ_TᵀΣθ_T − (θ_SᵀΣθ_T)²/θ_SᵀΣθ_S"
            ),
            _TYPED + " D6",
            _TEST_RENDER,
        ),
    ]
    return steps, results


# -- symbolic.relu_ntk -----------------------------------------------------------------


def _build_relu_kernels(r: Any) -> tuple[list[Step], list[Result]]:
    steps = [
        Step(
            "The projection of $`w \\sim \\mathcal{N}(0, I_d)`$ onto "
            "$`\\operatorname{span}\\{x, x'\\}`$ is a standard 2-D Gaussian; in polar "
            "coordinates $`w = r(\\cos\\varphi, \\sin\\varphi)`$ its density (Jacobian "
            "included) and its `integrate`d total mass are:",
            (
                Shown(r"p(r, \varphi)", r.density, ".density"),
                Shown(
                    r"\int_{-\pi}^{\pi} \int_{0}^{\infty} p \, dr \, d\varphi",
                    r.total_mass,
                    ".total_mass",
                ),
            ),
        ),
        Step(
            "Take $`x = (1, 0)`$ and $`x' = (\\cos\\theta, \\sin\\theta)`$. `solveset` of "
            "$`\\cos\\varphi = 0`$ in $`[-\\pi, \\pi]`$ bounds the arc where "
            "$`w^{T}x \\ge 0`$; intersected with its rotation by $`\\theta`$ (Max/Min, "
            "$`0 < \\theta < \\pi`$) it is the wedge where both are non-negative:",
            (
                Shown(r"\{\varphi : w^{T}x \ge 0\}", r.half_plane, ".half_plane"),
                Shown(r"\left(\varphi_{\min}, \varphi_{\max}\right)", r.wedge, ".wedge"),
            ),
        ),
        Step(
            "`integrate` the density over the wedge (result 1), and "
            "$`r^2 \\cos\\varphi \\cos(\\varphi - \\theta)`$ times the density (result 2). "
            "Substituting $`\\theta = \\arccos u`$ gives the Gram entry (results 3–4) and, "
            "adding result 2, the NTK of both layers:",
            (Shown(r"\Theta(u)", r.ntk_entry, ".ntk_entry"),),
        ),
        Step(
            "`limit`s of (orthant probability, $`\\mathbb{E}[\\mathrm{relu}\\,\\mathrm{relu}]`$) "
            "at $`\\theta \\to 0^+`$ and $`\\theta \\to \\pi^-`$:",
            (
                Shown(
                    r"\lim_{\theta \to 0^{+}} (P, \mathbb{E})", r.at_zero_angle, ".at_zero_angle"
                ),
                Shown(
                    r"\lim_{\theta \to \pi^{-}} (P, \mathbb{E})", r.at_antipodes, ".at_antipodes"
                ),
            ),
        ),
    ]
    po = "tests/symbolic/test_relu_ntk.py::test_orthant_probability_from_polar_integration"
    ga = "tests/symbolic/test_relu_ntk.py::test_gram_entry_arccos_and_arcsin_forms"
    results = [
        Result(
            "the orthant probability (Sheppard's formula)",
            Shown(
                r"P(w^{T}x \ge 0,\ w^{T}x' \ge 0)",
                r.orthant_probability,
                ".orthant_probability",
            ),
            Shown(
                r"P(w^{T}x \ge 0,\ w^{T}x' \ge 0)",
                r.orthant_textbook,
                ".orthant_textbook",
            ),
            "the `.orthant_textbook` attribute",
            po,
        ),
        Result(
            "E[relu(wᵀx) relu(wᵀx')]",
            Shown(
                r"\mathbb{E}\left[\mathrm{relu}(w^{T}x)\,\mathrm{relu}(w^{T}x')\right]",
                r.relu_expectation,
                ".relu_expectation",
            ),
            Shown(
                r"\mathbb{E}\left[\mathrm{relu}(w^{T}x)\,\mathrm{relu}(w^{T}x')\right]",
                r.relu_expectation_textbook,
                ".relu_expectation_textbook",
            ),
            "the `.relu_expectation_textbook` attribute",
            po,
        ),
        Result(
            "the first-layer NTK H^∞(u)",
            Shown(r"H^{\infty}(u)", r.gram_entry, ".gram_entry"),
            Shown(r"H^{\infty}(u)", r.textbook, ".textbook"),
            "the `.textbook` attribute",
            ga,
        ),
        Result(
            "H^∞ in the arcsin basis",
            Shown(r"H^{\infty}(u)", r.gram_entry, ".gram_entry"),
            Shown(r"H^{\infty}(u)", r.arcsin_form, ".arcsin_form"),
            "the `.arcsin_form` attribute (equal after `rewrite(asin)`: "
            "$`\\arccos u + \\arcsin u = \\pi/2`$)",
            ga,
        ),
    ]
    return steps, results


def _build_teacher_norm(r: Any) -> tuple[list[Step], list[Result]]:
    positive = "positive" if r.even_coefficient_positive else "not shown positive"
    steps = [
        Step(
            "K1's derived `gram_entry`, rewritten into the arcsin basis "
            "(`rewrite(asin)`, `expand`):",
            (Shown(r"k(u)", r.kernel, ".kernel"),),
        ),
        Step(
            "Its Taylor `series`, its $`u`$-coefficient (result 1) and its `simplify`d odd "
            "part, which is exactly $`u/4`$:",
            (
                Shown(r"k(u)", r.series, ".series"),
                Shown(r"\frac{k(u) - k(-u)}{2}", r.odd_part, ".odd_part"),
            ),
        ),
        Step(
            "The formal power series (`fps`) of $`\\arcsin`$ gives the coefficient of "
            f"$`u^{{2j+2}}`$ in $`u \\arcsin(u)/(2\\pi)`$; SymPy finds it {positive} for every "
            "$`j \\ge 0`$, so $`k = u/4 + `$ (a PSD dot-product kernel):",
            (Shown(r"a_{j}", r.even_coefficient, ".even_coefficient"),),
        ),
        Step(
            "$`y^{T}K^{-1}y = \\max_\\alpha 2\\alpha^{T}y - \\alpha^{T}K\\alpha`$: the objective "
            "at its stationary point $`\\alpha^{*} = K^{-1}y`$ (`expand`, `doit`):",
            (
                Shown(
                    r"2 \alpha^{*T} y - \alpha^{*T} K \alpha^{*}",
                    r.variational_value,
                    ".variational_value",
                ),
            ),
        ),
        Step(
            "*Premise*: for a dot-product kernel $`c_1 u + h`$ with $`h`$ PSD, "
            "$`\\alpha^{T}K\\alpha \\ge c_1\\|X^{T}\\alpha\\|^2`$, so with $`y = X\\beta`$ the "
            "objective is at most $`\\max_v 2v^{T}\\beta - c_1\\|v\\|^2`$. Per coordinate, "
            "`solve` its stationarity condition and `diff` twice (concave):",
            (
                Shown(r"v^{*}", r.dual_stationary, ".dual_stationary"),
                Shown(
                    r"\frac{\partial^{2}}{\partial v^{2}} \left(2 v b - c_{1} v^{2}\right)",
                    r.dual_curvature,
                    ".dual_curvature",
                ),
            ),
        ),
        Step(
            "The maximum, summed over coordinates; $`c_1 = 1/4`$ gives the bound (result 2):",
            (Shown(r"\max_{v}\, 2 v^{T} \beta - c_{1} \|v\|^{2}", r.dual_value, ".dual_value"),),
        ),
    ]
    results = [
        Result(
            "the linear coefficient c₁ of H^∞",
            Shown(r"c_{1}", r.linear_coefficient, ".linear_coefficient"),
            Shown(r"c_{1}", sp.Rational(1, 4), "1/4"),
            _TYPED + " K2",
            _TEST_RENDER,
        ),
        Result(
            "the kernel-norm bound of a linear teacher",
            Shown(r"y^{T} \left(H^{\infty}\right)^{-1} y", r.bound, ".bound", rel=r"\le"),
            Shown(r"y^{T} \left(H^{\infty}\right)^{-1} y", r.textbook, ".textbook", rel=r"\le"),
            "the `.textbook` attribute",
            "tests/symbolic/test_relu_ntk.py::test_linear_teacher_norm_derivation",
        ),
    ]
    return steps, results


def _build_predictor(r: Any) -> tuple[list[Step], list[Result]]:
    n, kap, t = _n(), _s("kappa", positive=True), _s("t", positive=True)
    eta, k = _eta(), _k()
    K = sp.MatrixSymbol("K", n, n)
    kx = sp.MatrixSymbol("k_x", 1, n)
    res = sp.MatrixSymbol("r", n, 1)
    steps = [
        Step(
            "Fine-tuning the linearised network $`f_S(x) + \\varphi(x)^{T}\\delta`$ on "
            "$`(1/2n)\\|f(X) - y\\|^2`$ from $`\\delta = 0`$ is L1 on the features "
            "$`\\Phi`$ with labels $`r = y - f_S(X)`$: L1's solution "
            "(`derive_min_distance_interpolant_matrix`, *stated* there) with "
            "$`X \\to \\Phi`$, $`\\theta_S \\to 0`$, $`y \\to r`$:",
            (Shown(r"\delta_{\infty}", r.update, ".update"),),
        ),
        Step(
            "Matrix algebra with $`K = \\Phi\\Phi^{T}`$ and $`k(x, X) = \\varphi(x)^{T}\\Phi^{T}`$ "
            "gives the increment of the predictor and the distance travelled (results 1–2)."
        ),
        Step(
            "Per eigenpair $`(\\kappa, v)`$ of $`K`$ with $`\\rho = v^{T}r`$: `dsolve` "
            "$`\\dot z = -(\\kappa/n)(z - \\rho)`$, $`z(0) = 0`$ (the training prediction along "
            "$`v`$), `integrate` the test-point increment $`(1/n)\\int_0^t(\\rho - z)`$ per unit "
            "$`\\rho`$ (result 3) and take the `limit` $`t \\to \\infty`$:",
            (
                Shown("z(t)", r.flow_training, ".flow_training"),
                Shown(r"\lim_{t \to \infty} \text{flow factor}", r.flow_limit, ".flow_limit"),
            ),
        ),
        Step(
            "Gradient descent with step $`\\eta`$: `rsolve` "
            "$`z_{k+1} = z_k - (\\eta\\kappa/n)(z_k - \\rho)`$ and sum the increments "
            "(`summation`, result 4):",
            (Shown("z_{k}", r.gd_training, ".gd_training"),),
        ),
        Step(
            "*Stated* hand step $`\\|\\Phi^{T}v\\|^2 = \\kappa`$: the coefficient of "
            "$`\\rho^2`$ in $`\\|\\delta(t)\\|^2`$ is $`\\kappa`$ times the squared flow factor:",
            (
                Shown(
                    r"\kappa\, \text{flow factor}^{2}",
                    r.flow_distance_factor,
                    ".flow_distance_factor",
                ),
            ),
        ),
        Step(
            "Arora et al.'s data-dependent term, *stated* (typed in, neither derived nor "
            "verified), with $`Q = (y - u_S)^{T}(H^\\infty)^{-1}(y - u_S)`$:",
            (Shown(r"\sqrt{2Q/n}", r.generalization_term, ".generalization_term"),),
        ),
        Step(
            "K2's derived bound $`Q \\le 4\\|\\beta\\|^2`$ with "
            "$`\\beta \\to \\theta_T - \\theta_S`$ (the source fits $`\\theta_S`$, "
            "$`y = X\\theta_T`$) substituted and `simplify`d (result 5)."
        ),
    ]
    ft = "tests/symbolic/test_relu_ntk.py::test_finite_time_solutions"
    results = [
        Result(
            "the fine-tuned predictor's increment",
            Shown(r"f_{\infty}(x) - f_{S}(x)", r.predictor, ".predictor"),
            Shown(r"f_{\infty}(x) - f_{S}(x)", kx * K.I * res, "k(x, X)K⁻¹r"),
            _TYPED + " K3",
            _TEST_RENDER,
        ),
        Result(
            "the squared distance travelled",
            Shown(r"\|\delta_{\infty}\|^{2}", r.distance_sq, ".distance_sq"),
            Shown(r"\|\delta_{\infty}\|^{2}", res.T * K.I * res, "rᵀK⁻¹r"),
            _TYPED + " K3",
            _TEST_RENDER,
        ),
        Result(
            "the gradient-flow factor (K⁻¹ → (I − e^{−Kt/n})K⁻¹)",
            Shown(r"\text{flow factor}", r.flow_factor, ".flow_factor"),
            Shown(r"\text{flow factor}", (1 - sp.exp(-kap * t / n)) / kap, "(1 − e^{−κt/n})/κ"),
            _TYPED + " K3",
            _TEST_RENDER,
        ),
        Result(
            "the gradient-descent factor (K⁻¹ → (I − (I − ηK/n)^k)K⁻¹)",
            Shown(r"\text{GD factor}", r.gd_factor, ".gd_factor"),
            Shown(
                r"\text{GD factor}", (1 - (1 - eta * kap / n) ** k) / kap, "(1 − (1 − ηκ/n)^k)/κ"
            ),
            _TYPED + " K3",
            _TEST_RENDER,
        ),
        Result(
            "the generalisation term for a linear teacher",
            Shown(r"\sqrt{2Q/n}", r.linear_teacher_bound, ".linear_teacher_bound", rel=r"\le"),
            Shown(r"\sqrt{2Q/n}", r.bound_textbook, ".bound_textbook", rel=r"\le"),
            "the `.bound_textbook` attribute",
            ft,
        ),
    ]
    return steps, results


def _n() -> Any:
    return sp.Symbol("n", integer=True, positive=True)


def _d() -> Any:
    return sp.Symbol("d", integer=True, positive=True)


def _N() -> Any:
    return sp.Symbol("N", integer=True, positive=True)


def _k() -> Any:
    return sp.Symbol("k", integer=True, nonnegative=True)


def _eta() -> Any:
    return sp.Symbol("eta", positive=True)


def _mu() -> Any:
    return sp.Symbol("mu", positive=True)


_W = r"\|w\|"

#: One entry per ``derive_*`` function, in the order of docs/theory.md.
SPECS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec(
            "derive_min_distance_interpolant",
            "symbolic.linear",
            ("L1",),
            "the KKT system of the closest interpolant, at concrete sizes",
            "Fine-tuning linear regression from $`\\theta_S`$ converges to the interpolant "
            "closest to $`\\theta_S`$. Here SymPy solves the Lagrangian (KKT) system of that "
            "problem exactly for a design of symbols.",
            (
                (
                    "a concrete design with fewer samples than dimensions, entries real "
                    "symbols (default 2 × 3, at most 3 × 8)",
                    r"X \in \mathbb{R}^{n \times d},\ n < d",
                ),
                (
                    "X of full row rank: the symbolic solution holds wherever its "
                    "denominators do not vanish",
                    r"\det\left(X X^{T}\right) \neq 0",
                ),
                (
                    "the problem",
                    r"\min_{\theta} \tfrac{1}{2}\|\theta - \theta_{S}\|^{2}"
                    r"\ \text{ s.t. }\ X\theta = y",
                ),
            ),
            _build_kkt,
            result_type="KKTDerivation",
        ),
        Spec(
            "derive_min_distance_interpolant_matrix",
            "symbolic.linear",
            ("L1",),
            "the closest interpolant for general sizes, with matrix symbols",
            "The same problem for general $`(n, d)`$: the multiplier is stated and SymPy "
            "verifies that the resulting $`\\theta^{*}`$ satisfies the KKT conditions and "
            "that every other interpolant is farther from $`\\theta_S`$.",
            (
                ("general sizes, n ≤ d", r"X \in \mathbb{R}^{n \times d},\ n \le d"),
                (
                    "X of full row rank, so XXᵀ is invertible",
                    r"\operatorname{rank} X = n",
                ),
                (
                    "the problem",
                    r"\min_{\theta} \tfrac{1}{2}\|\theta - \theta_{S}\|^{2}"
                    r"\ \text{ s.t. }\ X\theta = y",
                ),
            ),
            _build_kkt_matrix,
            result_type="MatrixKKTDerivation",
        ),
        Spec(
            "derive_gradient_descent",
            "symbolic.linear",
            ("L1",),
            "gradient descent from θ_S, solved per eigen-direction",
            "Gradient descent from $`\\theta_S`$ at a stable step converges to the same "
            "closest interpolant, exactly and not only in the gradient-flow limit: SymPy "
            "solves one step's recurrence along each eigenvector of $`X^{T}X/n`$.",
            (
                ("the loss", r"L(\theta) = \tfrac{1}{2n}\|X\theta - y\|^{2}"),
                (
                    "gradient descent with step η from θ_S",
                    r"\theta_{k+1} = \theta_{k} - \eta \nabla L(\theta_{k}),\ "
                    r"\theta_{0} = \theta_{S},\ \eta > 0",
                ),
                (
                    "an eigenpair (μ, v) of XᵀX/n, the label coordinate b and the iterate's "
                    "coordinate e_k",
                    r"\tfrac{1}{n}X^{T}X v = \mu v,\ b = v^{T}X^{T}y/n,\ e_{k} = v^{T}\theta_{k}",
                ),
            ),
            _build_gd,
            result_type="GradientDescentDerivation",
        ),
        Spec(
            "derive_risk_decomposition",
            "symbolic.linear",
            ("L2",),
            "the exact risk of the fine-tuned model: bias, cross and variance",
            "The excess risk of the fine-tuned weights for one design, expanded and sorted "
            "by powers of the label noise.",
            (
                (
                    "the fine-tuned weights (L1)",
                    r"\theta_{FT} = \theta_{S} + X^{+}(y - X\theta_{S})",
                ),
                ("labels from the target teacher plus noise", r"y = X\theta_{T} + \xi"),
                (
                    "X⁺ a matrix symbol with P = X⁺X the projector onto the row space of X; "
                    "Δ the source–target difference",
                    r"P = X^{+}X,\ \Delta = \theta_{S} - \theta_{T}",
                ),
                (
                    "the excess risk, Σ symmetric",
                    r"R(\theta) = (\theta - \theta_{T})^{T}\Sigma(\theta - \theta_{T}),\ "
                    r"\Sigma = \Sigma^{T}",
                ),
            ),
            _build_risk,
            result_type="RiskDecomposition",
        ),
        Spec(
            "derive_expected_risk_isotropic",
            "symbolic.linear",
            ("L3",),
            "the expected risk for isotropic Gaussian inputs, exact at finite n and d",
            "The risk of L2 averaged over the noise and over an isotropic Gaussian design. "
            "It has two regimes: *under*-determined ($`n \\le d - 2`$, fewer samples than "
            "dimensions: fine-tuning interpolates and keeps the part of $`\\theta_S`$ the "
            "data cannot see) and *over*-determined ($`n \\ge d + 2`$: least squares, "
            "$`\\theta_S`$ is forgotten). With noise the risk is infinite in between.",
            (
                (
                    "isotropic Gaussian inputs, independent rows",
                    r"x_{i} \sim \mathcal{N}(0, I_{d})",
                ),
                (
                    "centred noise of variance σ²",
                    r"\mathbb{E}\,\xi = 0,\ \mathbb{E}\,\xi\xi^{T} = \sigma^{2} I",
                ),
                (
                    "premise (Bartlett decomposition, stated): for W = XXᵀ and n ≤ d, the "
                    "inverse diagonal of W⁻¹ is χ² with d − n + 1 degrees of freedom (for "
                    "n > d the same with XᵀX and n − d + 1)",
                    r"1/(W^{-1})_{ii} \sim \chi^{2}_{d-n+1}",
                ),
                (
                    "premise (rotational invariance, stated)",
                    r"\mathbb{E}\,P = \tfrac{n}{d} I",
                ),
            ),
            _build_expected_risk,
            result_type="ExpectedRiskDerivation",
        ),
        Spec(
            "derive_sample_complexity",
            "symbolic.linear",
            ("L3",),
            "the sample complexity of fine-tuning and of training from scratch",
            "How many samples the noiseless L3 risk needs to reach $`\\varepsilon`$, from "
            "$`\\theta_S`$ and from zero.",
            (
                (
                    "the noiseless L3 risk, restated (not imported from the L3 derivation)",
                    r"\mathbb{E}\,R = \left(1 - \tfrac{n}{d}\right)\|\Delta\|^{2}",
                ),
                (
                    "n treated as a real number before rounding up; a target below the "
                    "starting risk",
                    r"0 < \varepsilon < \|\Delta\|^{2}",
                ),
                ("training from scratch starts at θ_S = 0", r"\Delta \to -\theta_{T}"),
            ),
            _build_sample_complexity,
            result_type="SampleComplexity",
        ),
        Spec(
            "derive_asymptotic_isotropic",
            "symbolic.linear",
            ("L4",),
            "proportional asymptotics for a one-level spectrum",
            "Hastie, Montanari, Rosset and Tibshirani's asymptotic risk (their β replaced by "
            "$`\\theta_T - \\theta_S`$), specialised by SymPy to a covariance with every "
            "eigenvalue equal.",
            (
                ("proportional limit", r"n, d \to \infty,\ \gamma = d/n > 1"),
                ("a one-level spectrum", r"\Sigma = \lambda I,\ \lambda > 0"),
                (
                    "stated: HMRT's fixed point and bias/variance formulas (Theorem 2)",
                    r"1 - \tfrac{1}{\gamma} = "
                    r"\tfrac{1}{d}\sum_{i} \frac{1}{1 + c_{0}\gamma\lambda_{i}}",
                ),
            ),
            _build_asymptotic,
            result_type="AsymptoticIsotropic",
        ),
        Spec(
            "derive_two_level_fixed_point",
            "symbolic.linear",
            ("L4",),
            "the HMRT fixed point for a two-level spectrum",
            "The fixed point $`c_0`$ of L4 for a covariance with two distinct eigenvalues. "
            "This function returns a plain tuple `(equation, c0)`.",
            (
                ("interpolation regime", r"\gamma = d/n > 1"),
                (
                    "a fraction p of the eigenvalues at λ₁ and 1 − p at λ₂",
                    r"0 < p < 1,\ \lambda_{1}, \lambda_{2} > 0",
                ),
                ("stated: HMRT's fixed-point equation (Theorem 2)", r"c_{0} > 0"),
            ),
            _build_two_level,
        ),
        Spec(
            "derive_end_to_end_dynamics",
            "symbolic.deep_linear",
            ("D1",),
            "the end-to-end dynamics of a deep linear network, at concrete sizes",
            "Under gradient flow from balanced weights, the end-to-end vector of a deep "
            "linear network moves as "
            "$`\\dot w = -\\|w\\|^{2-2/N}(g + (N - 1)\\hat w\\hat w^{T}g)`$ (Arora, Cohen and "
            "Hazan). SymPy checks the preconditioner by the chain rule at a balanced point.",
            (
                (
                    "a scalar-output network and its end-to-end vector",
                    r"f(x) = W_{N} \cdots W_{1} x,\ w = (W_{N} \cdots W_{1})^{T}",
                ),
                (
                    "gradient flow on all layers; the loss depends on them only through w",
                    r"\dot W_{j} = -\partial L/\partial W_{j},\ g = \nabla L(w)",
                ),
                (
                    "balanced weights (D2), here d = 2 with hidden widths 2",
                    r"W_{j+1}^{T} W_{j+1} = W_{j} W_{j}^{T}",
                ),
            ),
            _build_end_to_end,
            {"r": _W},
            "EndToEndDerivation",
        ),
        Spec(
            "derive_implicit_bias",
            "symbolic.deep_linear",
            ("D3", "D4"),
            "the implicit bias of fine-tuning a deep linear network, and its infinite depth",
            "From D1, the null-space part of $`w`$ only rescales, which gives "
            "$`w_\\infty = X^{+}y + c(I - P)\\theta_S`$ with $`c`$ the positive root of a "
            "scalar equation, its limit $`c_\\infty`$ as the depth grows, and the rate.",
            (
                (
                    "fewer samples than dimensions, X of full row rank",
                    r"n < d,\ \operatorname{rank} X = n",
                ),
                ("a non-zero source", r"\theta_{S} \neq 0"),
                (
                    "D1's dynamics from balanced weights (stated)",
                    r"\dot w = -\|w\|^{2-2/N}\left(g + (N - 1)\hat w \hat w^{T} g\right)",
                ),
                (
                    "the flow converges to an interpolant without passing through w = 0",
                    r"X w_{\infty} = y",
                ),
                (
                    "the norms entering the scalar equation",
                    r"A = \|\theta_{S}\|^{2},\ B = \|(I - P)\theta_{S}\|^{2},\ C = \|X^{+}y\|^{2}",
                ),
            ),
            _build_implicit_bias,
            result_type="ImplicitBiasDerivation",
        ),
        Spec(
            "derive_infinite_depth",
            "symbolic.deep_linear",
            ("D4", "D5"),
            "infinite depth and an aligned teacher",
            "Consequences of D3 for a teacher aligned with the source, "
            "$`\\theta_T = \\alpha\\theta_S`$: what infinite depth recovers, when depth is "
            "neutral, and how the risk depends on depth.",
            (
                (
                    "an aligned, noiseless teacher",
                    r"\theta_{T} = \alpha \theta_{S},\ y = X\theta_{T}",
                ),
                ("D3's derived c_∞ and polynomial", r"c_{\infty} = \sqrt{C/(A - B)}"),
                (
                    "the risk weight of the null-space part",
                    r"Q = \theta_{S}^{T}(I - P)\Sigma(I - P)\theta_{S}",
                ),
            ),
            _build_infinite_depth,
            {
                "thetaT_norm": r"\|\theta_{T}\|",
                "thetaS_norm": r"\|\theta_{S}\|",
                "cos": r"\cos\angle\left(\theta_{S}, \theta_{T}\right)",
            },
            "InfiniteDepthDerivation",
        ),
        Spec(
            "derive_regularizer",
            "symbolic.deep_linear",
            ("D3",),
            "the implicit regulariser Q_N",
            "D3's limit as the minimiser of an explicit regulariser over the interpolating "
            "set: SymPy checks that the stated $`Q_N`$'s stationarity condition is D3's "
            "relation and that it reduces to the distance from $`\\theta_S`$ at depth one.",
            (
                (
                    "stated: the regulariser",
                    r"Q_{N}(w) = \|w\|^{(N+1)/N} - \tfrac{N+1}{N}\|\theta_{S}\|^{1/N}"
                    r"\hat\theta_{S}^{T} w",
                ),
                ("minimised over the interpolating set", r"\{w : Xw = y\},\ \|w\| > 0"),
            ),
            _build_regularizer,
            {"r": _W, "T": r"\|\theta_{S}\|", "p": r"\hat{\theta}_{S}^{T} w"},
            "RegularizerDerivation",
        ),
        Spec(
            "derive_frozen_layers",
            "symbolic.deep_linear",
            ("D6",),
            "freezing the first layer keeps w in span{θ_S}",
            "With balanced pretrained weights the first layer is rank one; frozen, it traps "
            "the end-to-end vector in $`\\operatorname{span}\\{\\theta_S\\}`$, which puts a "
            "floor under the risk for every sample size.",
            (
                (
                    "the first layer is frozen at its balanced pretrained value",
                    r"W_{1} = s\, v \hat\theta_{S}^{T}",
                ),
                ("the later layers are trained (generic)", r"W_{2}, \ldots, W_{N}"),
                (
                    "the excess risk and its quadratic-form coefficients",
                    r"a = \theta_{S}^{T}\Sigma\theta_{S} > 0,\ "
                    r"b = \theta_{S}^{T}\Sigma\theta_{T},\ t = \theta_{T}^{T}\Sigma\theta_{T}",
                ),
            ),
            _build_frozen,
            {
                "a": r"\theta_{S}^{T} \Sigma \theta_{S}",
                "b": r"\theta_{S}^{T} \Sigma \theta_{T}",
                "t": r"\theta_{T}^{T} \Sigma \theta_{T}",
            },
            "FrozenLayersDerivation",
        ),
        Spec(
            "derive_relu_kernels",
            "symbolic.relu_ntk",
            ("K1",),
            "the infinite-width Gram matrix of a shallow ReLU network",
            "The orthant probability, the first-layer NTK $`H^\\infty`$ and the "
            "$`\\mathbb{E}[\\mathrm{relu}\\,\\mathrm{relu}]`$ term, integrated from the 2-D "
            "Gaussian in polar coordinates.",
            (
                ("Gaussian first-layer weights", r"w \sim \mathcal{N}(0, I_{d})"),
                (
                    "unit inputs at an angle θ strictly between 0 and π",
                    r"\|x\| = \|x'\| = 1,\ u = x^{T}x' = \cos\theta,\ 0 < \theta < \pi",
                ),
                (
                    "premise: w enters only through its projection onto span{x, x'}, a "
                    "standard 2-D Gaussian",
                    r"(w^{T}x, w^{T}x') \text{ depends on } P_{\operatorname{span}\{x, x'\}} w",
                ),
            ),
            _build_relu_kernels,
            result_type="ReluKernelDerivation",
        ),
        Spec(
            "derive_linear_teacher_norm",
            "symbolic.relu_ntk",
            ("K2",),
            "linear teachers have a known kernel norm",
            "The $`u`$-coefficient of $`H^\\infty`$ is $`1/4`$ and the rest is a PSD "
            "dot-product kernel, which bounds the kernel norm of a linear teacher by "
            "$`4\\|\\beta\\|^2`$.",
            (
                ("K1's derived kernel", r"H^{\infty}(u) = \frac{u (\pi - \arccos u)}{2\pi}"),
                ("a linear teacher on the unit sphere", r"y = X\beta,\ \|x_{i}\| = 1"),
                (
                    "premise (stated): a PSD remainder only adds to the quadratic form",
                    r"\alpha^{T}K\alpha \ge c_{1}\|X^{T}\alpha\|^{2}",
                ),
            ),
            _build_teacher_norm,
            result_type="KernelNormDerivation",
        ),
        Spec(
            "derive_finetuned_predictor",
            "symbolic.relu_ntk",
            ("K3",),
            "fine-tuning in the NTK regime",
            "Fine-tuning the linearised network is L1 on the NTK features: its limit and "
            "finite-time predictors, the distance travelled, and the generalisation term "
            "of Arora, Du, Hu, Li and Wang bounded for a linear teacher.",
            (
                (
                    "the network linearised around the pretrained weights (NTK regime)",
                    r"f(x) \approx f_{S}(x) + \varphi(x)^{T}\delta,\ \delta = W - W_{S}",
                ),
                (
                    "the loss and the residual task",
                    r"\tfrac{1}{2n}\|f(X) - y\|^{2},\ r = y - f_{S}(X)",
                ),
                ("an invertible NTK Gram matrix", r"K = \Phi\Phi^{T} \succ 0"),
                (
                    "stated: Arora et al.'s Theorem 5.1 term; a linear teacher fitted by the "
                    "source",
                    r"y = X\theta_{T},\ u_{S} = X\theta_{S}",
                ),
            ),
            _build_predictor,
            {"Delta": r"\|\theta_{T} - \theta_{S}\|"},
            "FinetunedPredictorDerivation",
        ),
    )
}


# ======================================================================================
# Selecting derivations by name or label
# ======================================================================================


def derivation_names() -> tuple[str, ...]:
    """Every ``derive_*`` function with a page, in the order of docs/theory.md."""
    return tuple(SPECS)


def _key(name: str) -> str:
    if not isinstance(name, str):
        raise InputError(f"name must be a derive_* function name or a result label, got {name!r}")
    key = name if name.startswith("derive_") else f"derive_{name}"
    if key not in SPECS:
        raise InputError(
            f"no derivation named {name!r}: give a derive_* function name or a result "
            f"label ({', '.join(_labels())})"
        )
    return key


def _labels() -> list[str]:
    return sorted({label for spec in SPECS.values() for label in spec.labels})


def select_derivations(names: Iterable[str]) -> list[str]:
    """``derive_*`` names for a mix of function names (``derive_`` optional) and result
    labels (``L3`` → every derivation of L3), in the table's order, without repeats.

    Raises :class:`~finetune_theory.errors.InputError` naming the first unknown entry (D2, a
    construction, has no derivation).
    """
    wanted: set[str] = set()
    for raw in names:
        label = _key(raw) if not isinstance(raw, str) else raw.upper()
        if label in THEORY_HEADINGS:
            found = {s.name for s in SPECS.values() if label in s.labels}
            if not found:
                raise InputError(
                    f"result {label} has no derive_* function (it is a construction: see "
                    f"docs/theory.md {label}); labels with derivations: {', '.join(_labels())}"
                )
            wanted |= found
        else:
            wanted.add(_key(raw))
    return [name for name in SPECS if name in wanted]


def _derive(name: str) -> Any:
    import importlib

    spec = SPECS[name]
    return getattr(importlib.import_module(spec.module), name)()


def _spec_of(result: object) -> Spec:
    kind = type(result).__name__
    for spec in SPECS.values():
        if spec.result_type and spec.result_type == kind:
            return spec
    raise InputError(
        f"result must be a derive_* result (or give name=), got a {kind}; for the tuple of "
        "derive_two_level_fixed_point use render_latex(result, name='derive_two_level_fixed_point')"
    )


# ======================================================================================
# Pages
# ======================================================================================


@dataclass(frozen=True)
class Rendered:
    """A final result as its page shows it: the expressions and their one-line LaTeX."""

    title: str
    attribute: str
    derived: Any
    derived_latex: str
    textbook: Any
    textbook_latex: str  # "" without a textbook form; the typed formula if one replaces it
    textbook_rendered: bool  # textbook_latex is the rendered expression (not a typed formula)
    checked_in: str


def _rendered(spec: Spec, result: Result) -> Rendered:
    tb = result.textbook
    if tb is None:
        tex, rendered = "", False
    elif result.textbook_latex:
        tex, rendered = result.textbook_latex, False
    else:
        tex, rendered = latex(tb.expr, spec.symbols), True
    return Rendered(
        result.title,
        result.derived.attribute,
        result.derived.expr,
        latex(result.derived.expr, spec.symbols),
        None if tb is None else tb.expr,
        tex,
        rendered,
        result.checked_in,
    )


def page_results(name: str, result: object | None = None) -> list[Rendered]:
    """The final results on the page of ``name`` (derived with default arguments unless
    ``result`` is given), with exactly the LaTeX the page shows (up to :data:`BREAK`)."""
    spec = SPECS[_key(name)]
    obj = _derive(spec.name) if result is None else result
    return [_rendered(spec, r) for r in spec.build(obj)[1]]


def _equation(shown: Shown, symbols: Mapping[str, str], aligned: bool) -> str:
    """``lhs = expr`` (``expr = 0`` or ``expr`` alone), long right-hand sides broken between
    terms; ``aligned`` (or a broken line) puts the alignment point ``&`` before the ``=``."""
    body = _broken(latex(shown.expr, symbols))
    amp = aligned or BREAK in body
    if shown.zero:
        return ("&" if amp else "") + body + " = 0"
    if not shown.lhs:
        return ("&" if amp else "") + body
    return shown.lhs + (f" &{shown.rel} " if amp else f" {shown.rel} ") + body


def _math(lines: Sequence[str], aligned: bool) -> str:
    """A GitHub ```` ```math ```` block; ``aligned`` lines go in an ``aligned`` environment."""
    if aligned:
        body = "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    else:
        (body,) = lines
    return "```math\n" + body + "\n```"


def _results_block(spec: Spec, result: object) -> str:
    lines = []
    for r in spec.build(result)[1]:
        title = r.title.replace("{", r"\{").replace("}", r"\}")
        lines.append(_equation(r.derived, spec.symbols, aligned=True) + rf"\qquad\text{{{title}}}")
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _provenance_section(name: str) -> list[str]:
    from symbolic._provenance import provenance_of, provenance_parts

    prov = provenance_of(name)
    out = ["## Provenance", "", f"**{prov.kind}** — {prov.summary}", ""]
    if prov.source:
        out += [f"Source: {prov.source}.", ""]
    parts = provenance_parts(name)
    if parts:
        out += ["| part | kind | what SymPy does |", "|---|---|---|"]
        for attribute, part in parts.items():
            out.append(f"| `{attribute}` | {part.kind} | {_md_cell(part.summary)} |")
        out.append("")
    out += [
        f"In code: `symbolic.provenance_of({name!r})`"
        + (f" and `symbolic.provenance_parts({name!r})`." if parts else "."),
        "",
    ]
    return out


GENERATED = (
    "<!-- Generated by `python -m verify derivations --out docs/derivations`; "
    "do not edit by hand. -->"
)


def _page(spec: Spec, result: object) -> str:
    from symbolic._provenance import provenance_of

    steps, results = spec.build(result)
    links = ", ".join(
        f"[{label}](../theory.md#{anchor(THEORY_HEADINGS[label])})" for label in spec.labels
    )
    out = [
        GENERATED,
        "",
        f"# {' / '.join(spec.labels)} — {spec.title}",
        "",
        f"`{spec.module}.{spec.name}()` · result {links} of docs/theory.md · "
        f"**{provenance_of(spec.name).kind}** · [all derivations](index.md)",
        "",
        spec.intro,
        "",
        "## Hypotheses",
        "",
    ]
    out += [f"- {words}: $`{tex}`$" for words, tex in spec.hypotheses]
    out += ["", "## Steps", ""]
    for i, step in enumerate(steps, 1):
        out += [f"**Step {i}.** {step.text}", ""]
        if step.shown:
            lines = [_equation(s, spec.symbols, len(step.shown) > 1) for s in step.shown]
            aligned = len(lines) > 1 or BREAK in lines[0]
            out += [_math(lines, aligned), ""]
    out += ["## Results", ""]
    for i, res in enumerate(results, 1):
        out += [f"### {i}. {res.title} (`{res.derived.attribute}`)", ""]
        derived = _equation(res.derived, spec.symbols, aligned=True)
        if res.textbook is None:
            out += [_math([r"\text{derived: }\quad " + derived], True), ""]
        else:
            if res.textbook_latex:
                tb = (res.textbook.lhs + " &= " if res.textbook.lhs else "&") + res.textbook_latex
            else:
                tb = _equation(res.textbook, spec.symbols, aligned=True)
            out += [
                _math([r"\text{derived: }\quad " + derived, r"\text{textbook: }\quad " + tb], True),
                "",
                f"Textbook form: {res.textbook_from}. `{res.checked_in}` simplifies derived − "
                "textbook to 0.",
                "",
            ]
        if res.note:
            out += [res.note, ""]
    out += _provenance_section(spec.name)
    return "\n".join(out)


def derivation_page(name: str) -> str:
    """The Markdown page of one ``derive_*`` function (default arguments), by name (with or
    without ``derive_``); an unknown name raises :class:`~finetune_theory.errors.InputError`."""
    spec = SPECS[_key(name)]
    return _page(spec, _derive(spec.name))


def index_page() -> str:
    """``docs/derivations/index.md``: one row per derivation, linking its page."""
    from symbolic._provenance import provenance_of

    out = [
        GENERATED,
        "",
        "# Derivations, rendered",
        "",
        "One page per `derive_*` function of `symbolic`: the hypotheses, every step SymPy "
        "takes with the expression it produces, and the final results beside their "
        "textbook forms. The theory is stated in [docs/theory.md](../theory.md). "
        "Regenerate the pages with `python -m verify derivations --out docs/derivations`; "
        "`tests/verify/test_derivations.py` fails when they are stale.",
        "",
        "| result | function | kind | what |",
        "|---|---|---|---|",
    ]
    for spec in SPECS.values():
        labels = ", ".join(
            f"[{label}](../theory.md#{anchor(THEORY_HEADINGS[label])})" for label in spec.labels
        )
        out.append(
            f"| {labels} | [`{spec.name}`]({spec.name}.md) | {provenance_of(spec.name).kind} | "
            f"{_md_cell(spec.title)} |"
        )
    out.append("")
    return "\n".join(out)
