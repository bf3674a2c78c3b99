"""Every closed form is shipped as plain arithmetic; each equals its SymPy derivation.

Evaluation functions never derive at call time: the ``_form_*`` functions are the derived
expressions written out, and calling them with SymPy symbols rebuilds the expression, which
is compared here with the ``derive_*`` result (``simplify(shipped − derived) == 0``, or a
high-precision random-point check where SymPy cannot decide). A monkeypatch test shows
that no evaluation function calls a ``derive_*`` function, and a subprocess shows that
``import symbolic`` does no derivation.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp

import symbolic.deep_linear as sd
import symbolic.linear as sl
import symbolic.relu_ntk as sr
from symbolic import _symbols as syms

N = syms.depth
A, B, C = sd.A_, sd.B_, sd.C_
c, s = sd.c_, sd.s_

#: Random-point checks run at 50 digits; a residual below 1e-40 (relative to the terms)
#: means the two expressions agree far beyond float64 (rounding of 50-digit arithmetic on
#: O(1) terms is ~1e-49; 1e-40 leaves room for the cancellation in the residuals).
MP_DPS = 50
MP_RESIDUAL = mpmath.mpf("1e-40")


def _zero(expr: sp.Expr) -> bool:
    return bool(sp.simplify(sp.powsimp(sp.expand(expr), force=True)) == 0)


# --------------------------------------------------------------------------------------
# deep_linear
# --------------------------------------------------------------------------------------


def test_polynomial_is_derived() -> None:
    ib = sd.derive_implicit_bias()
    assert _zero(sd._form_polynomial(s, A, B, C, N) - ib.polynomial)


def test_ratio_equation_is_the_scalar_equation_over_a() -> None:
    ib = sd.derive_implicit_bias()
    eps = 1 / (N - 1)
    shipped = A * sd._form_ratio_equation(c, B / A, C / A, eps)
    assert _zero(shipped - ib.scalar_equation)


def test_branch_roots_solve_the_derived_equation() -> None:
    ib = sd.derive_implicit_bias()
    no_null = ib.scalar_equation.subs(B, 0).subs(c, sd._form_c_without_null(C / A, N))
    assert _zero(no_null)
    no_labels = ib.scalar_equation.subs(C, 0).subs(c, sd._form_c_without_labels(B / A, N))
    ratio = sp.Symbol("b", positive=True)  # B = bA: lets SymPy combine the powers of B/A
    assert _zero(sp.powdenest(no_labels.subs(B, ratio * A), force=True))
    # A wrong exponent is caught: k^{(N−1)/N} does not solve the B = 0 equation.
    wrong = ib.scalar_equation.subs(B, 0).subs(c, (C / A) ** ((N - 1) / N))
    assert not _zero(wrong.subs(N, 3))


def test_c_infinity_and_limit_coefficient_are_derived() -> None:
    ib = sd.derive_implicit_bias()
    gap = sp.Symbol("D", positive=True)
    assert _zero((sd._form_c_infinity(A, B, C) - ib.c_infinity).subs(A, B + gap))
    shipped_k = sd._form_limit_coefficient(A, B, ib.c_infinity, log=sp.log)
    assert sp.simplify(sp.expand_log(shipped_k - ib.first_order, force=True)) == 0


@pytest.mark.parametrize("depth", [2, 3, 7, 40])
def test_log_form_root_solves_the_derived_equation(depth: int) -> None:
    """The float solver (log form) returns a root of the shipped/derived equation."""
    mpmath.mp.dps = MP_DPS
    rng = np.random.default_rng(depth)
    for _ in range(10):
        a = float(rng.uniform(0.1, 5.0))
        b = float(rng.uniform(0.0, 0.999)) * a
        cc = float(rng.uniform(1e-3, 10.0))
        root = sd._scale_from_norms(a, b, cc, depth)
        am, bm, cm = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(cc)
        resid = sd._form_ratio_equation(
            mpmath.mpf(root), bm / am, cm / am, mpmath.mpf(1) / (depth - 1)
        )
        # float c carries relative error δ ≤ 8 ulp; the residual is then ≲ 2(1+ε)δ·c^{2+2ε}.
        scale = (2 + 2 / (depth - 1)) * mpmath.mpf(root) ** (2 + mpmath.mpf(2) / (depth - 1))
        assert abs(resid) <= 16 * np.finfo(float).eps * (scale + cm / am)


# --------------------------------------------------------------------------------------
# linear
# --------------------------------------------------------------------------------------


def test_gd_row_solution_is_derived() -> None:
    g = sl.derive_gradient_descent()
    shipped = sl._form_row_solution(syms.k, syms.eta, syms.mu, sl._B, sl._E0)
    assert sp.simplify(shipped - g.row_solution) == 0


def test_expected_risk_forms_are_derived() -> None:
    der = sl.derive_expected_risk_isotropic()
    args = (syms.n, syms.d, syms.delta_sq, syms.sigma2)
    assert sp.simplify(sl._form_risk_under(*args) - der.under) == 0
    assert sp.simplify(sl._form_risk_over(*args) - der.over) == 0


def test_sample_complexity_form_is_derived() -> None:
    der = sl.derive_sample_complexity()
    shipped = sl._form_n_finetune(syms.d, syms.delta_sq, syms.epsilon)
    assert sp.simplify(shipped - der.n_finetune) == 0


# --------------------------------------------------------------------------------------
# relu_ntk
# --------------------------------------------------------------------------------------


def test_angle_forms_are_derived() -> None:
    der = sr.derive_relu_kernels()
    psi = sr._PSI
    to_psi = {syms.angle: sp.pi - psi}
    assert sp.simplify(sr._form_orthant(psi) - der.orthant_probability.subs(to_psi)) == 0
    assert sp.simplify(sr._form_relu_expectation(psi) - der.relu_expectation.subs(to_psi)) == 0


def test_relu_series_matches_the_shipped_form() -> None:
    """The small-ψ series equals the closed form to ~1 ulp (mpmath at 50 digits)."""
    mpmath.mp.dps = MP_DPS
    psis = np.concatenate([np.geomspace(1e-15, 0.999, 200), [0.5, 0.9, 0.99]])
    got = sr._relu_expectation_psi(psis)
    for p, value in zip(psis, got, strict=True):
        pm = mpmath.mpf(float(p))
        want = (mpmath.sin(pm) - pm * mpmath.cos(pm)) / (2 * mpmath.pi)
        # series truncation < 1e-17 relative (see _SERIES_TERMS) + Horner rounding ~3 ulp
        assert abs(value - want) <= 4 * np.finfo(float).eps * abs(want)


def test_kernel_bounds_are_derived() -> None:
    assert (
        sp.simplify(sr._form_norm_bound(syms.beta_sq) - sr.derive_linear_teacher_norm().bound) == 0
    )
    der = sr.derive_finetuned_predictor()
    assert (
        sp.simplify(sr._form_teacher_bound(sr._DELTA_NORM, syms.n) - der.linear_teacher_bound) == 0
    )
    assert sp.simplify(sr._form_generalization_term(sr._Q, syms.n) - der.generalization_term) == 0


# --------------------------------------------------------------------------------------
# No derivation at call time
# --------------------------------------------------------------------------------------

_RNG = np.random.default_rng(7)
_X = _RNG.standard_normal((3, 6))
_Y = _RNG.standard_normal(3)
_TS = _RNG.standard_normal(6)
_TT = _RNG.standard_normal(6)
_U = _X / np.linalg.norm(_X, axis=1, keepdims=True)
_K = sr.first_layer_ntk(_U)

EVALUATIONS: dict[str, Callable[[], Any]] = {
    # deep_linear
    "end_to_end_velocity": lambda: sd.end_to_end_velocity(_TS, _TT, 3),
    "scale_factor": lambda: sd.scale_factor(_X, _Y, _TS, 3),
    "scale_factor_limit_coefficient": lambda: sd.scale_factor_limit_coefficient(_X, _Y, _TS),
    "scale_inputs": lambda: sd.scale_inputs(_X, _Y, _TS),
    "finetuned_end_to_end": lambda: sd.finetuned_end_to_end(_X, _Y, _TS, math.inf),
    "finetuned_risk": lambda: sd.finetuned_risk(_X, _Y, _TS, _TT, 5),
    "frozen_layers_risk_floor": lambda: sd.frozen_layers_risk_floor(_TS, _TT),
    "implicit_regularizer": lambda: sd.implicit_regularizer(3),
    "implicit_regularizer_value": lambda: sd.implicit_regularizer_value(_TT, _TS, 3),
    "closed_form_roots": lambda: sd.closed_form_roots(2),
    "scale_factor_rootof": lambda: sd.scale_factor_rootof(2.0, 1.0, 1.0, 5),
    # linear
    "asymptotic_risk": lambda: sl.asymptotic_risk(np.ones(4), np.ones(4), 2.0, 0.1),
    "excess_risk": lambda: sl.excess_risk(_TS, _TT),
    "expected_risk_given_design": lambda: sl.expected_risk_given_design(_X, _TS, _TT),
    "expected_risk_isotropic": lambda: (
        sl.expected_risk_isotropic(1.0, n=3, d=10, noise_var=0.5),
        sl.expected_risk_isotropic(1.0, n=12, d=5, noise_var=0.5),
    ),
    "finetuned_weights": lambda: sl.finetuned_weights(_X, _Y, _TS),
    "gd_iterate": lambda: sl.gd_iterate(_X, _Y, _TS, 0.1, 5),
    "gd_stability_limit": lambda: sl.gd_stability_limit(_X),
    "hmrt_c0": lambda: sl.hmrt_c0(np.ones(4), 2.0),
    "risk_decomposition": lambda: sl.risk_decomposition(_X, _Y, _TS, _TT),
    "sample_complexity": lambda: sl.sample_complexity(1.0, d=10, epsilon=0.1),
    "sample_complexity_ratio": lambda: sl.sample_complexity_ratio(1.0, 2.0, d=10, epsilon=0.1),
    # relu_ntk
    "angles": lambda: sr.angles(_U),
    "orthant_probability": lambda: sr.orthant_probability(_U),
    "first_layer_ntk": lambda: sr.first_layer_ntk(_U),
    "nngp_gram": lambda: sr.nngp_gram(_U),
    "full_ntk": lambda: sr.full_ntk(_U),
    "ntk": lambda: sr.ntk(_U, layers="both"),
    "finetuned_predictor": lambda: sr.finetuned_predictor(
        _U, _Y, np.zeros(3), _U, np.zeros(3), layers="both"
    ),
    "predictor_from_gram": lambda: sr.predictor_from_gram(_K, _K, _Y, np.zeros(3), time=1.0),
    "kernel_norm_sq": lambda: sr.kernel_norm_sq(_U, _Y),
    "distance_travelled": lambda: sr.distance_travelled(_U, _Y, np.zeros(3)),
    "generalization_term": lambda: sr.generalization_term(_U, _Y, np.zeros(3)),
    "linear_teacher_bound": lambda: sr.linear_teacher_bound(_TS, _TT, 4),
    "linear_teacher_norm_sq": lambda: sr.linear_teacher_norm_sq(_TS),
}

MODULES = (sd, sl, sr)


def _evaluation_names() -> set[str]:
    names = set()
    for mod in MODULES:
        for name in mod.__all__:
            obj = getattr(mod, name)
            if name.startswith("derive_") or isinstance(obj, type) or not callable(obj):
                continue
            if hasattr(obj, "__deprecated__"):  # an old name, exercised under its new one
                continue
            names.add(name)
    return names


def test_every_evaluation_function_is_exercised() -> None:
    assert _evaluation_names() == set(EVALUATIONS)


def test_evaluation_functions_never_derive(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a derive_* function was called at evaluation time")

    for mod in MODULES:
        for name in dir(mod):
            if name.startswith("derive_"):
                monkeypatch.setattr(mod, name, refuse)
    for name, call in EVALUATIONS.items():
        try:
            call()
        except AssertionError as exc:  # pragma: no cover - failure path
            raise AssertionError(f"{name} derived at call time") from exc


def test_import_does_no_derivation() -> None:
    code = (
        "import sys\n"
        "calls = []\n"
        "def prof(frame, event, arg):\n"
        "    if event == 'call' and frame.f_code.co_name.startswith('derive_'):\n"
        "        calls.append(frame.f_code.co_name)\n"
        "sys.setprofile(prof)\n"
        "import symbolic\n"
        "sys.setprofile(None)\n"
        "assert not calls, calls\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
