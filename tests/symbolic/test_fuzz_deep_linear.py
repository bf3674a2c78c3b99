"""Fuzzed robustness of :mod:`symbolic.deep_linear` (issue 11, point 6).

Every public function that takes numbers or arrays gets a :class:`tests.fuzzing.Target`: a
valid call at tiny sizes (n ≤ 3, d ≤ 6, depth ≤ 12 or ∞) and, where the value can be checked
independently, a ``verify`` against an mpmath reference computed from the float inputs
themselves at :data:`PREC` bits (projection, X⁺y, the scalar equation by bisection, the
quadratic forms), so huge and tiny magnitudes are checked as well as ordinary ones. A
mismatch beyond the stated error model is a wrong finite value.

Run with ``FINETUNE_FUZZ_SURVEY=1 FINETUNE_FUZZ_LOG=/tmp/x.jsonl`` to list every defect and
the number of examples run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import symbolic.deep_linear as sd
from finetune_theory.errors import InputError
from tests.fuzzing import Target, as_array, fuzz_test, mp_matrix, mp_vector

#: Hypothesis draws per target after the every-(argument, kind)-once pass (which alone is
#: 1 + 16 kinds × array arguments + 8 or 11 per number). 60 runs the file in ~10 s.
MAX_EXAMPLES = 60

EPS = float(np.finfo(np.float64).eps)
#: Working precision of the mpmath references: 160 bits (48 digits). The tiny problems lose
#: at most cond(X)² ≲ 1e8 of it to cancellation, leaving > 35 digits: exact for float64.
PREC = 160
#: Safety factor on every first-order error bound below (the bounds drop constants of
#: order 1–4 from the SVD and the dot products; observed errors are below 1/4 of them).
SAFETY = 16.0
#: Values below float64's normal range are rounded to subnormals or 0 (relative precision
#: is lost there by design): allow this absolute error on top of every relative bound.
UNDERFLOW_ATOL = 4.0 * float(np.finfo(np.float64).tiny)
FLOAT_MAX = float(np.finfo(np.float64).max)

DEPTHS: tuple[int, ...] = (1, 2, 3, 5, 12)


# --------------------------------------------------------------------------------------
# Valid calls
# --------------------------------------------------------------------------------------


def _sizes(rng: np.random.Generator) -> tuple[int, int]:
    n = int(rng.integers(1, 4))
    return n, int(rng.integers(n + 1, 7))


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    M = rng.standard_normal((d, d))
    return np.asarray(M @ M.T / d + 0.1 * np.eye(d))


def _problem(rng: np.random.Generator) -> dict[str, Any]:
    """(X, y, θ_S); one draw in four puts θ_S in the row space of X (the B = 0 branch)."""
    n, d = _sizes(rng)
    X = rng.standard_normal((n, d))
    ts = X.T @ rng.standard_normal(n) if rng.random() < 0.25 else rng.standard_normal(d)
    return {"X": X, "y": rng.standard_normal(n), "theta_s": np.asarray(ts)}


def _depth(rng: np.random.Generator) -> int:
    return int(rng.choice(DEPTHS))


def _with_depth(rng: np.random.Generator) -> dict[str, Any]:
    return {**_problem(rng), "depth": _depth(rng)}


def _with_inf_depth(rng: np.random.Generator) -> dict[str, Any]:
    return {**_problem(rng), "depth": math.inf}


def _risk_call(rng: np.random.Generator, depth: float | None = None) -> dict[str, Any]:
    kw = _problem(rng)
    d = kw["theta_s"].shape[0]
    kw["theta_t"] = rng.standard_normal(d)
    kw["depth"] = _depth(rng) if depth is None else depth
    kw["cov"] = _spd(rng, d)
    return kw


# --------------------------------------------------------------------------------------
# mpmath references
# --------------------------------------------------------------------------------------


def _norm2(v: Any) -> Any:
    return mp.fsum(x**2 for x in v)


def _cond(X: np.ndarray) -> float:
    top = float(np.max(np.abs(X)))
    sv = np.linalg.svd(np.ldexp(X, -math.frexp(top)[1]), compute_uv=False)
    return float(sv[0] / sv[-1]) if sv[-1] > 0 else math.inf


class _D3:
    """The D3 quantities of (X, y, θ_S) in mpmath, and the scalar root t = ln c."""

    def __init__(self, kw: dict[str, Any]) -> None:
        X, y, ts = as_array(kw["X"]), as_array(kw["y"]), as_array(kw["theta_s"])
        self.n, self.d = X.shape
        self.cond = _cond(X)
        Xm, ym, tm = mp_matrix(X), mp_vector(y), mp_vector(ts)
        G = Xm * Xm.T
        self.pinv_y = Xm.T * mp.lu_solve(G, ym)
        self.null = tm - Xm.T * mp.lu_solve(G, Xm * tm)
        self.theta = tm
        self.A, self.B, self.C = _norm2(tm), _norm2(self.null), _norm2(self.pinv_y)
        self.b, self.k = self.B / self.A, self.C / self.A

    def eps(self, depth: float) -> Any:
        return mp.mpf(0) if depth == math.inf else mp.mpf(1) / (depth - 1)

    def log_c(self, depth: float) -> Any:
        """t = ln c: c²(c^{2ε} − b) = k, bisection in t."""
        b, k = self.b, self.k
        if depth == 1:
            return mp.mpf(0)
        if depth == math.inf:
            return (mp.log(k) - mp.log(1 - b)) / 2 if k > 0 else mp.ninf
        eps = self.eps(depth)
        if k == 0:
            return mp.log(b) / (2 * eps)
        if b == 0:
            return mp.log(k) / (2 * (1 + eps))

        def h(t: Any) -> Any:
            w = mp.exp(2 * eps * t) - b
            return mp.ninf if w <= 0 else 2 * t + mp.log(w) - mp.log(k)

        lo = mp.log(b) / (2 * eps)
        hi = mp.mpf(1)
        while h(hi) <= 0:
            hi = 2 * hi + 1
        if lo >= hi:  # pragma: no cover - h(lo) = −inf < 0 < h(hi)
            raise AssertionError("bad bracket")
        for _ in range(4000):
            mid = (lo + hi) / 2
            if h(mid) < 0:
                lo = mid
            else:
                hi = mid
            if hi - lo <= mp.mpf(2) ** (20 - PREC) * max(1, abs(hi)):
                break
        return (lo + hi) / 2

    def log_c_error(self, depth: float, t: Any) -> float:
        """First-order bound on |δ ln c| of the float code: the solve (4ε·max(1, |t|)) plus
        the propagated input errors δq ≲ √d·ε·cond(X) (row-space tilt, Wedin) and
        δ ln k ≲ 2n·ε·cond(X), through ∂t/∂b and ∂t/∂ln k of h(t) = 2t + ln(e^{2εt} − b)
        − ln k."""
        if depth == 1:
            return 0.0
        dq = math.sqrt(self.d) * EPS * self.cond
        dlnk = 2 * self.n * EPS * self.cond
        q = float(mp.sqrt(self.b))
        solve = 4 * EPS * max(1.0, abs(float(t))) if mp.isfinite(t) else 0.0
        eps = self.eps(depth)
        if self.k == 0:
            return solve + (dq / (float(eps) * q) if eps > 0 else 0.0)
        e = mp.exp(2 * eps * t)
        gap = e - self.b
        dh_dt = 2 + 2 * eps * e / gap
        dt_db = 1 / (gap * dh_dt)
        return solve + float(dt_db) * (2 * q * dq + dq * dq) + float(dlnk / dh_dt)


def _close(got: float, want: Any, atol: float) -> str | None:
    """None if |got − want| ≤ atol (+ UNDERFLOW_ATOL), else a description."""
    if abs(want) > FLOAT_MAX * (1 + 1e-15):
        return f"returned {got!r} where the true value {mp.nstr(want, 8)} overflows float64"
    err = abs(mp.mpf(got) - want)
    if err <= atol + UNDERFLOW_ATOL:
        return None
    return f"returned {got!r}, reference {mp.nstr(want, 17)} (error {mp.nstr(err, 3)} > {atol:.3g})"


def _close_vec(got: np.ndarray, want: Any, atol: float) -> str | None:
    if got.shape != (len(want),):
        return f"returned shape {got.shape}, reference has {len(want)} entries"
    big = max(abs(v) for v in want)
    if big > FLOAT_MAX:
        return f"returned a vector where the true one overflows float64 ({mp.nstr(big, 5)})"
    err = mp.sqrt(mp.fsum((mp.mpf(float(g)) - w) ** 2 for g, w in zip(got, want, strict=True)))
    if err <= atol + UNDERFLOW_ATOL * math.sqrt(len(want)):
        return None
    ref_norm = mp.nstr(mp.sqrt(_norm2(want)), 5)
    return f"vector off by {mp.nstr(err, 3)} > {atol:.3g} (reference norm {ref_norm})"


def _with_prec(check: Callable[[dict[str, Any], Any], str | None]) -> Any:
    def wrapped(kw: dict[str, Any], value: Any) -> str | None:
        with mp.workprec(PREC):
            return check(kw, value)

    return wrapped


# ------------------------------------------------------------------ D3 evaluations


def _c_parts(kw: dict[str, Any]) -> tuple[_D3, Any, Any, float]:
    ref = _D3(kw)
    t = ref.log_c(kw["depth"])
    return ref, t, mp.exp(t), ref.log_c_error(kw["depth"], t)


@_with_prec
def _verify_scale_factor(kw: dict[str, Any], value: Any) -> str | None:
    _, _, c, dt = _c_parts(kw)
    return _close(value, c, SAFETY * dt * float(c))


def _w_ref(kw: dict[str, Any]) -> tuple[Any, float]:
    """(w_∞ in mpmath, the bound on ‖δw‖): X⁺y and (I − P)θ_S carry ≲ √d·ε·cond(X) times
    their scale (‖X⁺y‖, ‖θ_S‖), c its own δ ln c."""
    ref, _, c, dt = _c_parts(kw)
    w = ref.pinv_y + c * ref.null
    scale = float(mp.sqrt(ref.C) + c * mp.sqrt(ref.A))
    err = math.sqrt(ref.d) * EPS * ref.cond * scale + float(c * mp.sqrt(ref.B)) * dt
    return w, SAFETY * err


@_with_prec
def _verify_end_to_end(kw: dict[str, Any], value: Any) -> str | None:
    w, tol = _w_ref(kw)
    return _close_vec(value, w, tol)


def _quad_ref(v: Any, S: Any) -> Any:
    return (v.T * S * v)[0]


@_with_prec
def _verify_risk(kw: dict[str, Any], value: Any) -> str | None:
    w, tol_w = _w_ref(kw)
    tt = mp_vector(as_array(kw["theta_t"]))
    d = len(tt)
    cov = np.eye(d) if kw.get("cov") is None else as_array(kw["cov"])
    S = mp_matrix(cov)
    diff = w - tt
    risk = _quad_ref(diff, S)
    # δ(diff) ≲ δw + ε(|w| + |θ_T|) per entry; δR ≲ 2‖Σ‖‖diff‖δdiff + δdiff²‖Σ‖ plus the
    # quadratic form's own rounding 2dε·|diff|ᵀ|Σ||diff|.
    s_norm = float(np.linalg.norm(np.ldexp(cov, -math.frexp(float(np.max(np.abs(cov))))[1]), 2))
    s_norm = math.ldexp(s_norm, math.frexp(float(np.max(np.abs(cov))))[1])
    dd = tol_w + math.sqrt(d) * EPS * float(mp.sqrt(_norm2(w)) + mp.sqrt(_norm2(tt)))
    absdiff = mp.matrix([abs(x) for x in diff])
    absS = mp.matrix([[abs(S[i, j]) for j in range(d)] for i in range(d)])
    tol = SAFETY * (
        2 * s_norm * float(mp.sqrt(_norm2(diff))) * dd
        + s_norm * dd * dd
        + 2 * d * EPS * float(_quad_ref(absdiff, absS))
    )
    return _close(value, risk, tol)


@_with_prec
def _verify_limit_coefficient(kw: dict[str, Any], value: Any) -> str | None:
    ref = _D3({**kw})
    t = ref.log_c(math.inf)
    dt = ref.log_c_error(math.inf, t)
    c = mp.exp(t)
    p2 = 1 - ref.b
    K = -c * t / p2
    q = float(mp.sqrt(ref.b))
    dp2 = 2 * q * math.sqrt(ref.d) * EPS * ref.cond  # δ(p²) = δ(1 − q²)
    tol = SAFETY * (
        float(c * abs(1 + t) / p2) * dt + float(abs(K) / p2) * dp2 + 4 * EPS * float(abs(K))
    )
    return _close(value, K, tol)


@_with_prec
def _verify_scale_inputs(kw: dict[str, Any], value: Any) -> str | None:
    ref = _D3(kw)
    A, B, C = value
    dq = math.sqrt(ref.d) * EPS * ref.cond
    q = float(mp.sqrt(ref.b))
    checks = (
        ("A", A, ref.A, 4 * ref.d * EPS * float(ref.A)),
        ("B", B, ref.B, float(ref.A) * (2 * q * dq + 64 * ref.d * dq * dq)),
        ("C", C, ref.C, 4 * ref.n * EPS * ref.cond * float(ref.C) + 8 * EPS * float(ref.C)),
    )
    for name, got, want, tol in checks:
        problem = _close(got, want, SAFETY * tol)
        if problem:
            return f"{name}: {problem}"
    return None


# ------------------------------------------------------------------ D1, D6, Q_N


@_with_prec
def _verify_velocity(kw: dict[str, Any], value: Any) -> str | None:
    w, g = mp_vector(as_array(kw["w"])), mp_vector(as_array(kw["grad"]))
    N = kw["depth"]
    r = mp.sqrt(_norm2(w))
    if r == 0:
        want = -g
        pref = mp.mpf(1)
    else:
        what = w / r
        pref = r ** (2 - mp.mpf(2) / N)
        want = -pref * (g + (N - 1) * what * (what.T * g)[0])
    d = len(w)
    tol = SAFETY * 4 * d * EPS * N * float(pref * mp.sqrt(_norm2(g)))
    return _close_vec(value, want, tol)


@_with_prec
def _verify_floor(kw: dict[str, Any], value: Any) -> str | None:
    ts, tt = as_array(kw["theta_s"]), as_array(kw["theta_t"])
    d = ts.shape[0]
    cov = np.eye(d) if kw.get("cov") is None else as_array(kw["cov"])
    S, s, t = mp_matrix(cov), mp_vector(ts), mp_vector(tt)
    a, b, c = _quad_ref(s, S), (s.T * S * t)[0], _quad_ref(t, S)
    floor = c - b * b / a
    absS = mp.matrix([[abs(S[i, j]) for j in range(d)] for i in range(d)])
    abs_s, abs_t = mp.matrix([abs(x) for x in s]), mp.matrix([abs(x) for x in t])
    # Each quadratic form has relative-to-|·| error ≲ 2dε (rounded rescaling is exact).
    a_abs, b_abs, c_abs = (
        _quad_ref(abs_s, absS),
        (abs_s.T * absS * abs_t)[0],
        _quad_ref(abs_t, absS),
    )
    tol = SAFETY * 2 * d * EPS * float(c_abs + 2 * abs(b) * b_abs / a + b * b * a_abs / (a * a))
    return _close(value, floor, tol)


@_with_prec
def _verify_regularizer_value(kw: dict[str, Any], value: Any) -> str | None:
    w, ts = mp_vector(as_array(kw["w"])), mp_vector(as_array(kw["theta_s"]))
    N = mp.mpf(kw["depth"])
    r, T = mp.sqrt(_norm2(w)), mp.sqrt(_norm2(ts))
    first = r ** ((N + 1) / N)
    second = (N + 1) / N * T ** (1 / N) * (ts.T * w)[0] / T
    d = len(w)
    scale = first + (N + 1) / N * T ** (1 / N) * r
    tol = SAFETY * 4 * d * EPS * float(scale)
    return _close(value, first - second, tol)


# ------------------------------------------------------------------ SymPy-valued results


_ROOTS_CHECKED: dict[int, str | None] = {}


def _verify_roots(kw: dict[str, Any], value: Any) -> str | None:
    """At A, B, C = 3, 1, 2 every returned root solves A s^N − B s^{N−1} − C = 0, there
    are N of them, and exactly one is real and positive."""
    depth = int(kw["depth"])
    if depth in _ROOTS_CHECKED:
        return _ROOTS_CHECKED[depth]
    vals = {sd.A_: 3, sd.B_: 1, sd.C_: 2}
    nums = [complex(sp.N(r.subs(vals), 30)) for r in value]
    problem = None
    if len(nums) != depth:
        problem = f"{len(nums)} roots for depth {depth}"
    elif any(abs(3 * s**depth - s ** (depth - 1) - 2) > 1e-12 for s in nums):
        problem = "a returned root does not solve the polynomial"
    elif sum(1 for s in nums if abs(s.imag) < 1e-12 and s.real > 0) != 1:
        problem = "not exactly one positive real root"
    _ROOTS_CHECKED[depth] = problem
    return problem


def _verify_rootof(kw: dict[str, Any], value: Any) -> str | None:
    """c = s^{(N−1)/2} with s the positive root of A s^N − B s^{N−1} − C, by mpmath
    bisection at PREC bits on the float inputs (exact rationals)."""
    A, B, C = (mp.mpf(float(kw[k])) for k in ("A", "B", "C"))
    N = int(kw["depth"])
    with mp.workprec(PREC):
        # ln s solves N u + ln(A − B e^{−u}) = ln C; bracket from A s^N ≥ C and growth.
        def f(u: Any) -> Any:
            inner = A - B * mp.exp(-u)
            return mp.ninf if inner <= 0 else N * u + mp.log(inner) - mp.log(C)

        lo = mp.log(B / A) if B > 0 else (mp.log(C / A) / N)
        lo = lo - 1
        hi = max(mp.log(B / A) + 1, mp.log(C / A) / N + 1, mp.mpf(1))
        while f(hi) <= 0:
            hi = 2 * hi
        while f(lo) > 0:
            lo = lo - abs(lo) - 1
        for _ in range(4000):
            mid = (lo + hi) / 2
            if f(mid) < 0:
                lo = mid
            else:
                hi = mid
            if hi - lo <= mp.mpf(2) ** (20 - PREC) * max(1, abs(hi)):
                break
        want = mp.exp((lo + hi) / 2 * mp.mpf(N - 1) / 2)
        got = sp.N(value, 40)
        if not got.is_real:
            return f"returned a non-real value {got}"
        err = abs(mp.mpf(str(got)) - want)
        if err > mp.mpf(10) ** -30 * max(1, abs(want)):
            return f"returned {got}, reference {mp.nstr(want, 20)}"
    return None


def _verify_e2e(kw: dict[str, Any], value: Any) -> str | None:
    depth = kw["depth"]
    if value.depth != depth or type(value.depth) is not int:
        return f"derivation for depth {value.depth!r}, asked for {depth!r}"
    if value.gram_residual != sp.zeros(2, 2):
        return "non-zero gram residual"
    return None


_R, _T, _P = sp.symbols("r T p", positive=True)


def _verify_regularizer(kw: dict[str, Any], value: Any) -> str | None:
    depth = kw["depth"]
    if depth is None or isinstance(depth, sp.Basic):
        return None
    at = {_R: sp.Rational(3, 2), _T: sp.Rational(5, 4), _P: sp.Rational(-1, 3)}
    N = sp.Integer(int(depth))
    want = at[_R] ** ((N + 1) / N) - (N + 1) / N * at[_T] ** (1 / N) * at[_P]
    if value.free_symbols - {_R, _T, _P}:
        return f"free symbols {value.free_symbols}"
    if abs(complex(sp.N(value.subs(at) - want, 30))) > 1e-25:
        return f"Q_N at a point differs from the formula: {value}"
    return None


# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------


def _velocity_call(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    return {"w": rng.standard_normal(d), "grad": rng.standard_normal(d), "depth": _depth(rng)}


def _floor_call(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    return {
        "theta_s": rng.standard_normal(d),
        "theta_t": rng.standard_normal(d),
        "cov": _spd(rng, d),
    }


def _regularizer_value_call(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    return {"w": rng.standard_normal(d), "theta_s": rng.standard_normal(d), "depth": _depth(rng)}


def _rootof_call(rng: np.random.Generator) -> dict[str, Any]:
    A, B, C = (float(v) for v in rng.uniform(0.1, 3.0, 3))
    return {"A": A, "B": B, "C": C, "depth": int(rng.integers(2, 5))}


TARGETS: list[Target] = [
    Target(sd.scale_factor, _with_depth, verify=_verify_scale_factor),
    # depth = math.inf is a float: a separate target so that depth's int kinds apply above.
    Target(
        sd.scale_factor, _with_inf_depth, fuzzed=("X", "y", "theta_s"), verify=_verify_scale_factor
    ),
    Target(sd.finetuned_end_to_end, _with_depth, verify=_verify_end_to_end),
    Target(
        sd.finetuned_end_to_end,
        _with_inf_depth,
        fuzzed=("X", "y", "theta_s"),
        verify=_verify_end_to_end,
    ),
    Target(sd.finetuned_risk, _risk_call, verify=_verify_risk),
    Target(sd.scale_factor_limit_coefficient, _problem, verify=_verify_limit_coefficient),
    Target(sd.scale_inputs, _problem, verify=_verify_scale_inputs),
    Target(sd.end_to_end_velocity, _velocity_call, verify=_verify_velocity),
    Target(sd.frozen_layers_risk_floor, _floor_call, verify=_verify_floor),
    Target(
        sd.implicit_regularizer_value, _regularizer_value_call, verify=_verify_regularizer_value
    ),
    Target(sd.implicit_regularizer, lambda rng: {"depth": _depth(rng)}, verify=_verify_regularizer),
    Target(sd.scale_factor_rootof, _rootof_call, verify=_verify_rootof),
    Target(
        sd.closed_form_roots, lambda rng: {"depth": int(rng.integers(2, 5))}, verify=_verify_roots
    ),
    Target(
        sd.derive_end_to_end_dynamics,
        lambda rng: {"depth": int(rng.integers(1, 4))},
        verify=_verify_e2e,
    ),
]

_NO_ARGS = "takes no arguments (a cached SymPy derivation)"
_RESULT = "a frozen result dataclass of SymPy objects (no validation to fuzz)"
EXEMPT: dict[str, str] = {
    **{
        f"symbolic.deep_linear.{name}": _NO_ARGS
        for name in (
            "derive_implicit_bias",
            "derive_infinite_depth",
            "derive_regularizer",
            "derive_frozen_layers",
        )
    },
    **{
        f"symbolic.deep_linear.{name}": _RESULT
        for name in (
            "EndToEndDerivation",
            "ImplicitBiasDerivation",
            "InfiniteDepthDerivation",
            "RegularizerDerivation",
        )
    },
}


def _target_id(target: Target) -> str:
    probe = target.valid(np.random.default_rng(0))
    suffix = "[depth=inf]" if probe.get("depth") == math.inf else ""
    return target.func.__name__ + suffix


def test_every_public_name_is_fuzzed_or_exempt() -> None:
    fuzzed = {t.name for t in TARGETS}
    for name in sd.__all__:
        qual = f"symbolic.deep_linear.{name}"
        assert qual in fuzzed or qual in EXEMPT, f"{qual} is neither fuzzed nor exempt"


@pytest.mark.parametrize("target", TARGETS, ids=_target_id)
def test_fuzz(target: Target) -> None:
    fuzz_test(target, MAX_EXAMPLES)()


# --------------------------------------------------------------------------------------
# Defects the one-argument-at-a-time fuzz cannot reach (two arguments extreme at once)
# --------------------------------------------------------------------------------------

#: Seconds the exact root may take at depth ≤ 5 for the most extreme float inputs (it was
#: 43 s at depth 5 for A = 1e-300, B = 1e300, C = 5e-324 before the root was isolated near 1;
#: now ~0.2 s). Generous for a loaded machine.
ROOTOF_SECONDS = 5.0


@pytest.mark.parametrize("depth", [2, 5])
@pytest.mark.parametrize(
    "abc", [(1e-300, 1e300, 5e-324), (1.7e308, 2.2e-308, 1.3e-300), (1e-300, 1e-300, 1e300)]
)
def test_rootof_extreme_coefficients_is_fast_and_exact(
    abc: tuple[float, float, float], depth: int
) -> None:
    kw: dict[str, Any] = {"A": abc[0], "B": abc[1], "C": abc[2], "depth": depth}
    start = time.perf_counter()
    value = sd.scale_factor_rootof(**kw)
    assert _verify_rootof(kw, value) is None
    assert time.perf_counter() - start < ROOTOF_SECONDS


def test_rootof_refuses_depths_it_cannot_isolate() -> None:
    with pytest.raises(InputError, match="depth must be <= 32"):
        sd.scale_factor_rootof(1.0, 0.5, 0.5, 10**15)


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e100])
def test_velocity_and_regularizer_at_extreme_common_scale(scale: float) -> None:
    """w and grad (w and θ_S) scaled together: no false 'w must be non-zero' (the norm of
    w·1e-200 underflowed to 0) and no precision loss in subnormal squares (1e-160)."""
    rng = np.random.default_rng(3)
    w, g, ts = (scale * rng.standard_normal(4) for _ in range(3))
    for depth in (1, 2, 3):
        kw: dict[str, Any] = {"w": w, "grad": g, "depth": depth}
        assert _verify_velocity(kw, sd.end_to_end_velocity(**kw)) is None
        kw = {"w": w, "theta_s": ts, "depth": depth}
        assert _verify_regularizer_value(kw, sd.implicit_regularizer_value(**kw)) is None
