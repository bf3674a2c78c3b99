"""Fuzzed robustness of :mod:`symbolic.relu_ntk` (issue 11, point 6).

Every public function that takes numbers or arrays gets one or more
:class:`tests.fuzzing.Target` s (the kernels with unit-norm rows and with ``normalize=True``;
the predictors at t → ∞, with a ridge, after flow time t and after k descent steps), each a
valid call at tiny sizes (n ≤ 4, d ≤ 6) and a ``verify`` against an mpmath reference at
:data:`PREC` bits computed from the float inputs themselves: angles from arccos of the
exactly normalised rows, the kernels from their textbook forms, spectral functions of the
Gram matrix from mpmath's symmetric eigensolver. A mismatch beyond the stated error model
is a wrong finite value.

Run with ``FINETUNE_FUZZ_SURVEY=1 FINETUNE_FUZZ_LOG=/tmp/x.jsonl`` to list every defect and
the number of examples run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
import pytest

import symbolic.relu_ntk as sr
from tests.fuzzing import Target, as_array, fuzz_test

#: Hypothesis draws per target after the every-(argument, kind)-once pass.
MAX_EXAMPLES = 30

EPS = float(np.finfo(np.float64).eps)
#: Working precision of the mpmath references: 160 bits (48 digits), far beyond the
#: cancellation of these tiny, well-conditioned problems (cond(K) ≲ 1e6).
PREC = 160
#: Safety factor on every first-order error bound below (the bounds drop constants of
#: order 1–4 from the eigensolver and the dot products).
SAFETY = 16.0
#: Values below float64's normal range lose relative precision by design (subnormals, 0).
UNDERFLOW_ATOL = 4.0 * float(np.finfo(np.float64).tiny)
FLOAT_MAX = float(np.finfo(np.float64).max)


# --------------------------------------------------------------------------------------
# Valid calls
# --------------------------------------------------------------------------------------


def _rows(rng: np.random.Generator, n: int, d: int, unit: bool) -> np.ndarray:
    X = rng.standard_normal((n, d))
    scale = (
        1.0 / np.linalg.norm(X, axis=1, keepdims=True) if unit else rng.uniform(0.5, 3.0, (n, 1))
    )
    return np.asarray(X * scale)


def _kernel_call(unit: bool) -> Callable[[np.random.Generator], dict[str, Any]]:
    def valid(rng: np.random.Generator) -> dict[str, Any]:
        d = int(rng.integers(2, 7))
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        kw: dict[str, Any] = {"X": _rows(rng, n, d, unit), "Z": _rows(rng, m, d, unit)}
        if not unit:
            kw["normalize"] = True
        return kw

    return valid


def _np_gram(X: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """H^∞ by the textbook formula in NumPy (an input builder, not the code under test)."""
    u = np.clip(X @ Z.T, -1.0, 1.0)
    return np.asarray(u * (np.pi - np.arccos(u)) / (2 * np.pi))


def _training(rng: np.random.Generator, unit: bool) -> dict[str, Any]:
    d = int(rng.integers(3, 7))
    n = int(rng.integers(1, 5))
    kw: dict[str, Any] = {
        "X": _rows(rng, n, d, unit),
        "y": rng.standard_normal(n),
        "f_source_train": rng.standard_normal(n),
    }
    if not unit:
        kw["normalize"] = True
    return kw


def _predictor_call(
    unit: bool = True, **extra: Any
) -> Callable[[np.random.Generator], dict[str, Any]]:
    def valid(rng: np.random.Generator) -> dict[str, Any]:
        kw = _training(rng, unit)
        m = int(rng.integers(1, 4))
        kw["X_test"] = _rows(rng, m, kw["X"].shape[1], unit)
        kw["f_source_test"] = rng.standard_normal(m)
        return {**kw, **_schedule(rng, extra)}

    return valid


def _schedule(rng: np.random.Generator, extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(extra)
    if "time" in out:
        out["time"] = float(rng.uniform(0.5, 5.0))
    if "step" in out:
        out["step"], out["steps"] = float(rng.uniform(0.1, 2.0)), int(rng.integers(0, 12))
    if "ridge" in out:
        out["ridge"] = float(rng.uniform(0.01, 1.0))
    return out


def _gram_call(**extra: Any) -> Callable[[np.random.Generator], dict[str, Any]]:
    def valid(rng: np.random.Generator) -> dict[str, Any]:
        d = int(rng.integers(3, 7))
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        X, Xt = _rows(rng, n, d, True), _rows(rng, m, d, True)
        kw = {
            "K": _np_gram(X, X),
            "K_test": _np_gram(Xt, X),
            "residual": rng.standard_normal(n),
            "f_source_test": rng.standard_normal(m),
        }
        return {**kw, **_schedule(rng, extra)}

    return valid


def _norm_call(unit: bool, **extra: Any) -> Callable[[np.random.Generator], dict[str, Any]]:
    def valid(rng: np.random.Generator) -> dict[str, Any]:
        kw = _training(rng, unit)
        del kw["f_source_train"]
        return {**kw, **_schedule(rng, extra)}

    return valid


def _teacher_call(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    return {
        "theta_s": rng.standard_normal(d),
        "theta_t": rng.standard_normal(d),
        "n": int(rng.integers(1, 50)),
    }


# --------------------------------------------------------------------------------------
# mpmath references
# --------------------------------------------------------------------------------------


def _row_mp(a: np.ndarray) -> list[Any]:
    return [mp.mpf(float(v)) for v in a]


def _dot(a: list[Any], b: list[Any]) -> Any:
    return mp.fsum(x * y for x, y in zip(a, b, strict=True))


def _mp_rows(value: Any, normalize: bool) -> list[list[Any]]:
    rows = [_row_mp(r) for r in as_array(value)]
    if normalize:
        rows = [[x / mp.sqrt(_dot(r, r)) for x in r] for r in rows]
    return rows


def _kernels(kw: dict[str, Any], xkey: str = "X", zkey: str | None = "Z") -> dict[str, Any]:
    """θ, orthant, H^∞, E[relu relu] and NTK matrices (lists of lists of mpf)."""
    normalize = bool(kw.get("normalize", False))
    X = _mp_rows(kw[xkey], normalize)
    Z = X if zkey is None or kw.get(zkey) is None else _mp_rows(kw[zkey], normalize)
    out: dict[str, list[list[Any]]] = {k: [] for k in ("theta", "orthant", "gram", "nngp", "ntk")}
    for x in X:
        rows: dict[str, list[Any]] = {k: [] for k in out}
        nx = mp.sqrt(_dot(x, x))
        for z in Z:
            nz = mp.sqrt(_dot(z, z))
            u = _dot(x, z) / (nx * nz)
            theta = mp.acos(min(mp.mpf(1), max(mp.mpf(-1), u)))
            psi = mp.pi - theta
            rows["theta"].append(theta)
            rows["orthant"].append(psi / (2 * mp.pi))
            rows["gram"].append(_dot(x, z) * psi / (2 * mp.pi))
            relu = nx * nz * (mp.sin(psi) - psi * mp.cos(psi)) / (2 * mp.pi)
            rows["nngp"].append(relu)
            rows["ntk"].append(rows["gram"][-1] + relu)
        for k in out:
            out[k].append(rows[k])
    return out


def _close(got: float, want: Any, atol: Any) -> str | None:
    if abs(want) > FLOAT_MAX * (1 + 1e-15):
        return f"returned {got!r} where the true value {mp.nstr(want, 8)} overflows float64"
    err = abs(mp.mpf(float(got)) - want)
    if err <= atol + UNDERFLOW_ATOL:
        return None
    bound = mp.nstr(mp.mpf(atol), 3)
    return f"returned {got!r}, reference {mp.nstr(want, 17)} (error {mp.nstr(err, 3)} > {bound})"


def _close_array(got: Any, want: list[Any], atol: float) -> str | None:
    """Entrywise |got − want| ≤ atol (want a flat list of mpf, got any array)."""
    flat = np.asarray(got, dtype=np.float64).ravel()
    if flat.shape != (len(want),):
        return f"returned {np.shape(got)}, reference has {len(want)} entries"
    for g, w in zip(flat, want, strict=True):
        problem = _close(float(g), w, atol)
        if problem:
            return problem
    return None


def _with_prec(check: Callable[[dict[str, Any], Any], str | None]) -> Any:
    def wrapped(kw: dict[str, Any], value: Any) -> str | None:
        with mp.workprec(PREC):
            return check(kw, value)

    return wrapped


def _verify_kernel(name: str) -> Any:
    """Entrywise against the mpmath kernel. Error model: the angle has an absolute error of
    a few ulp (Kahan's formula, d-term norms: 4dε), the products x·z and ‖x‖‖z‖ a relative
    2dε; so |δ| ≤ SAFETY·4dε·(1 + ‖x‖‖z‖) per entry."""

    @_with_prec
    def check(kw: dict[str, Any], value: Any) -> str | None:
        ref = _kernels(kw)
        Xa = as_array(kw["X"])
        d = Xa.shape[1]
        norms = np.abs(Xa).sum(axis=1)
        Zn = norms if kw.get("Z") is None else np.abs(as_array(kw["Z"])).sum(axis=1)
        if kw.get("normalize"):
            norms, Zn = np.ones_like(norms), np.ones_like(Zn)
        scale = 1.0 + float(np.max(norms)) * float(np.max(Zn))
        want = [v for row in ref[name] for v in row]
        return _close_array(value, want, SAFETY * 4 * d * EPS * scale)

    return check


# ------------------------------------------------------------------ spectral functions


class _Spectral:
    """f(K) for a symmetric K in mpmath (eigsy), with f and a bound on |f'| and |f|."""

    def __init__(self, K: Any, n: int, kw: dict[str, Any]) -> None:
        self.n = n
        E, Q = mp.eigsy(K)
        self.lam = [E[i] for i in range(n)]
        self.Q = Q
        self.time, self.step = kw.get("time"), kw.get("step")
        self.steps = int(kw.get("steps") or 0)
        self.ridge = mp.mpf(float(kw.get("ridge", 0.0) or 0.0))

    def f(self, lam: Any) -> Any:
        n = self.n
        if self.time is not None:
            t = mp.mpf(float(self.time))
            return t / n if lam == 0 else -mp.expm1(-lam * t / n) / lam
        if self.step is not None:
            eta, k = mp.mpf(float(self.step)), self.steps
            if k < 64:  # the summed increments of K3, term by term
                return eta / n * mp.fsum((1 - eta * lam / n) ** i for i in range(k))
            return (1 - (1 - eta * lam / n) ** k) / lam if lam != 0 else k * eta / n
        return 1 / (lam + self.ridge)

    def bounds(self) -> tuple[float, float]:
        """(max |f|, max |f'|) over the spectrum's hull (Daleckiĭ–Kreĭn: ‖Df(K)[E]‖ ≤
        max|f'|·‖E‖ for symmetric perturbations E)."""
        lo, hi = min(self.lam), max(self.lam)
        n = self.n
        if self.time is not None:
            t = float(self.time) / n
            return t, t * t / 2
        if self.step is not None:
            # f = (η/n)Σ_{i<k} a_λ^i with a_λ = 1 − ηλ/n; |a_λ| ≤ a on the hull (convexity).
            eta, k = float(self.step) / n, self.steps
            a = float(max(abs(1 - eta * lo), abs(1 - eta * hi)))
            if a < 1.0:
                return eta * min(k, 1 / (1 - a)), eta * eta * min(k * k / 2, 1 / (1 - a) ** 2)
            grow = a**k if k * math.log(a) < 700 else math.inf
            return eta * k * grow, eta * eta * k * k / 2 * grow
        low = lo + self.ridge
        if low <= 0:
            return math.inf, math.inf
        return float(1 / low), float(1 / low**2)

    def apply(self, r: list[Any]) -> list[Any]:
        n = self.n
        proj = [mp.fsum(self.Q[i, j] * r[i] for i in range(n)) for j in range(n)]
        scaled = [self.f(self.lam[j]) * proj[j] for j in range(n)]
        return [mp.fsum(self.Q[i, j] * scaled[j] for j in range(n)) for i in range(n)]


def _mp_matrix(rows: list[list[Any]]) -> Any:
    return mp.matrix(rows)


def _norm(v: list[Any]) -> Any:
    return mp.sqrt(mp.fsum(x * x for x in v))


def _fro(rows: list[list[Any]]) -> float:
    return float(mp.sqrt(mp.fsum(x * x for row in rows for x in row)))


def _predict_ref(
    K: list[list[Any]],
    Kt: list[list[Any]],
    r: list[Any],
    fst: list[Any],
    kw: dict[str, Any],
    dK: float,
) -> tuple[list[Any], float]:
    """(prediction, error bound): δK (the kernel's own error, ≥ the eigensolver's backward
    error nε‖K‖) moves f(K) by ≤ max|f'|·δK; products add nε·(|fst| + ‖Kt‖‖coef‖)."""
    n = len(r)
    spec = _Spectral(_mp_matrix(K), n, kw)
    coef = spec.apply(r)
    pred = [fst[i] + mp.fsum(Kt[i][j] * coef[j] for j in range(n)) for i in range(len(fst))]
    fmax, fprime = spec.bounds()
    k_norm, kt_norm = _fro(K), _fro(Kt)
    r_norm = float(_norm(r))
    d_coef = (fprime * (dK + n * EPS * k_norm) + n * n * EPS * fmax) * r_norm
    tol = kt_norm * d_coef + n * EPS * (float(_norm(fst)) + kt_norm * float(_norm(coef)))
    tol += dK * float(_norm(coef))  # the test kernel's own error
    return pred, SAFETY * tol


@_with_prec
def _verify_predictor_from_gram(kw: dict[str, Any], value: Any) -> str | None:
    K = [_row_mp(row) for row in as_array(kw["K"])]
    Kt = [_row_mp(row) for row in as_array(kw["K_test"])]
    pred, tol = _predict_ref(
        K, Kt, _row_mp(as_array(kw["residual"])), _row_mp(as_array(kw["f_source_test"])), kw, 0.0
    )
    return _close_array(value, pred, tol)


def _kernel_error(kw: dict[str, Any], n: int) -> float:
    """Entrywise error of the computed H^∞/NTK (see _verify_kernel), as a Frobenius bound."""
    d = int(as_array(kw["X"]).shape[1])
    return float(n * 4 * d * EPS * 2.0)


def _kernel_name(kw: dict[str, Any]) -> str:
    return "ntk" if kw.get("layers") == "both" else "gram"


@_with_prec
def _verify_finetuned_predictor(kw: dict[str, Any], value: Any) -> str | None:
    name = _kernel_name(kw)
    K = _kernels(kw, "X", None)[name]
    Kt = _kernels(kw, "X_test", "X")[name]
    y, fs = _row_mp(as_array(kw["y"])), _row_mp(as_array(kw["f_source_train"]))
    r = [a - b for a, b in zip(y, fs, strict=True)]
    n = len(r)
    f_test = _row_mp(as_array(kw["f_source_test"]))
    pred, tol = _predict_ref(K, Kt, r, f_test, kw, _kernel_error(kw, n))
    return _close_array(value, pred, tol)


def _quadratic_ref(kw: dict[str, Any], residual: list[Any]) -> tuple[Any, Any]:
    """(rᵀf(K)r, error bound) with f(K) = (K + ridge·I)⁻¹, both in mpmath (the bound
    scales with ‖r‖², which underflows float64 for r ~ 1e-200 whose distance does not)."""
    K = _kernels(kw, "X", None)[_kernel_name(kw)]
    n = len(residual)
    spec = _Spectral(_mp_matrix(K), n, {"ridge": kw.get("ridge", 0.0)})
    q = _dot(residual, spec.apply(residual))
    fmax, fprime = spec.bounds()
    dK = _kernel_error(kw, n) + n * EPS * _fro(K)
    r2 = _dot(residual, residual)
    return q, SAFETY * (fprime * dK + n * n * EPS * fmax) * r2


def _sqrt_tol(q: Any, tol: Any, factor: float = 1.0) -> Any:
    """|√(aq') − √(aq)| for |q' − q| ≤ tol: min(a·tol/(2√(aq)), √(a·tol)) (mpmath)."""
    root = mp.sqrt(factor * q)
    lin = factor * tol / (2 * root) if root > 0 else mp.inf
    return min(lin, mp.sqrt(factor * tol))


def _residual(kw: dict[str, Any]) -> list[Any]:
    y = _row_mp(as_array(kw["y"]))
    if "f_source_train" not in kw:
        return y
    return [a - b for a, b in zip(y, _row_mp(as_array(kw["f_source_train"])), strict=True)]


@_with_prec
def _verify_kernel_norm(kw: dict[str, Any], value: Any) -> str | None:
    q, tol = _quadratic_ref(kw, _residual(kw))
    return _close(value, q, tol)


@_with_prec
def _verify_distance(kw: dict[str, Any], value: Any) -> str | None:
    q, tol = _quadratic_ref(kw, _residual(kw))
    return _close(value, mp.sqrt(q), _sqrt_tol(q, tol))


@_with_prec
def _verify_generalization(kw: dict[str, Any], value: Any) -> str | None:
    r = _residual(kw)
    q, tol = _quadratic_ref({**kw, "layers": "first", "ridge": 0.0}, r)
    factor = 2.0 / len(r)
    return _close(value, mp.sqrt(factor * q), _sqrt_tol(q, tol, factor))


@_with_prec
def _verify_teacher_bound(kw: dict[str, Any], value: Any) -> str | None:
    ts, tt = _row_mp(as_array(kw["theta_s"])), _row_mp(as_array(kw["theta_t"]))
    n = int(kw["n"])
    diff = _norm([a - b for a, b in zip(tt, ts, strict=True)])
    want = 2 * mp.sqrt(2) * diff / mp.sqrt(n)
    scale = 2 * math.sqrt(2) / math.sqrt(n) * float(_norm(ts) + _norm(tt))
    return _close(value, want, SAFETY * 2 * len(ts) * EPS * scale)


@_with_prec
def _verify_teacher_norm(kw: dict[str, Any], value: Any) -> str | None:
    b = _row_mp(as_array(kw["beta"]))
    want = 4 * _dot(b, b)
    return _close(value, want, SAFETY * 2 * len(b) * EPS * float(want))


# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------


def _beta_call(rng: np.random.Generator) -> dict[str, Any]:
    return {"beta": rng.standard_normal(int(rng.integers(1, 7)))}


_KERNELS: tuple[tuple[Callable[..., Any], str], ...] = (
    (sr.angles, "theta"),
    (sr.orthant_probability, "orthant"),
    (sr.first_layer_ntk, "gram"),
    (sr.nngp_gram, "nngp"),
    (sr.full_ntk, "ntk"),
)


def _ntk_call(unit: bool, layers: str) -> Callable[[np.random.Generator], dict[str, Any]]:
    def valid(rng: np.random.Generator) -> dict[str, Any]:
        return {**_kernel_call(unit)(rng), "layers": layers}

    return valid


_CASES: list[tuple[str, Target]] = [
    *(
        (f"{func.__name__}[{label}]", Target(func, _kernel_call(unit), verify=_verify_kernel(key)))
        for func, key in _KERNELS
        for unit, label in ((True, "unit"), (False, "normalize"))
    ),
    *(
        (
            f"ntk[{layers},{label}]",
            Target(sr.ntk, _ntk_call(unit, layers), verify=_verify_kernel(key)),
        )
        for layers, key in (("first", "gram"), ("both", "ntk"))
        for unit, label in ((True, "unit"), (False, "normalize"))
    ),
    (
        "linear_teacher_bound",
        Target(sr.linear_teacher_bound, _teacher_call, verify=_verify_teacher_bound),
    ),
    (
        "linear_teacher_norm_sq",
        Target(sr.linear_teacher_norm_sq, _beta_call, verify=_verify_teacher_norm),
    ),
    (
        "predictor_from_gram[inf]",
        Target(sr.predictor_from_gram, _gram_call(), verify=_verify_predictor_from_gram),
    ),
    (
        "predictor_from_gram[ridge]",
        Target(sr.predictor_from_gram, _gram_call(ridge=1.0), verify=_verify_predictor_from_gram),
    ),
    (
        "predictor_from_gram[time]",
        Target(sr.predictor_from_gram, _gram_call(time=1.0), verify=_verify_predictor_from_gram),
    ),
    (
        "predictor_from_gram[steps]",
        Target(sr.predictor_from_gram, _gram_call(step=1.0), verify=_verify_predictor_from_gram),
    ),
    (
        "finetuned_predictor[first]",
        Target(sr.finetuned_predictor, _predictor_call(), verify=_verify_finetuned_predictor),
    ),
    (
        "finetuned_predictor[both,ridge]",
        Target(
            sr.finetuned_predictor,
            _predictor_call(layers="both", ridge=1.0),
            verify=_verify_finetuned_predictor,
        ),
    ),
    (
        "finetuned_predictor[time,normalize]",
        Target(
            sr.finetuned_predictor,
            _predictor_call(unit=False, time=1.0),
            verify=_verify_finetuned_predictor,
        ),
    ),
    (
        "finetuned_predictor[steps]",
        Target(
            sr.finetuned_predictor, _predictor_call(step=1.0), verify=_verify_finetuned_predictor
        ),
    ),
    (
        "kernel_norm_sq[first]",
        Target(sr.kernel_norm_sq, _norm_call(True), verify=_verify_kernel_norm),
    ),
    (
        "kernel_norm_sq[both,ridge,normalize]",
        Target(
            sr.kernel_norm_sq,
            _norm_call(False, layers="both", ridge=1.0),
            verify=_verify_kernel_norm,
        ),
    ),
    (
        "distance_travelled[first]",
        Target(sr.distance_travelled, lambda rng: _training(rng, True), verify=_verify_distance),
    ),
    (
        "distance_travelled[both,normalize]",
        Target(
            sr.distance_travelled,
            lambda rng: {**_training(rng, False), "layers": "both"},
            verify=_verify_distance,
        ),
    ),
    (
        "generalization_term[unit]",
        Target(
            sr.generalization_term, lambda rng: _training(rng, True), verify=_verify_generalization
        ),
    ),
    (
        "generalization_term[normalize]",
        Target(
            sr.generalization_term, lambda rng: _training(rng, False), verify=_verify_generalization
        ),
    ),
]

TARGETS: list[Target] = [target for _, target in _CASES]
_IDS: list[str] = [label for label, _ in _CASES]

_NO_ARGS = "takes no arguments (a cached SymPy derivation)"
_RESULT = "a frozen result dataclass of SymPy objects (no validation to fuzz)"
_CONSTANT = "a float constant, not a function"
EXEMPT: dict[str, str] = {
    "symbolic.relu_ntk.gram": "deprecated alias of symbolic.relu_ntk.first_layer_ntk (removed "
    "in 0.2.0; fuzzed under that name)",
    "symbolic.relu_ntk.ntk_gram": "deprecated alias of symbolic.relu_ntk.full_ntk (removed in "
    "0.2.0; fuzzed under that name)",
    "symbolic.relu_ntk.derive_relu_kernels": _NO_ARGS,
    "symbolic.relu_ntk.derive_linear_teacher_norm": _NO_ARGS,
    "symbolic.relu_ntk.derive_finetuned_predictor": _NO_ARGS,
    "symbolic.relu_ntk.ReluKernelDerivation": _RESULT,
    "symbolic.relu_ntk.KernelNormDerivation": _RESULT,
    "symbolic.relu_ntk.FinetunedPredictorDerivation": _RESULT,
    "symbolic.relu_ntk.GRAM_RCOND": _CONSTANT,
    "symbolic.relu_ntk.UNIT_NORM_ATOL": _CONSTANT,
}


def test_every_public_name_is_fuzzed_or_exempt() -> None:
    fuzzed = {t.name for t in TARGETS}
    for name in sr.__all__:
        qual = f"symbolic.relu_ntk.{name}"
        assert qual in fuzzed or qual in EXEMPT, f"{qual} is neither fuzzed nor exempt"


@pytest.mark.parametrize("target", TARGETS, ids=_IDS)
def test_fuzz(target: Target) -> None:
    fuzz_test(target, MAX_EXAMPLES)()


# --------------------------------------------------------------------------------------
# Defects the one-argument-at-a-time fuzz cannot reach (two arguments extreme at once)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e200])
def test_normalize_rows_of_extreme_magnitude(scale: float) -> None:
    """normalize=True on rows ~1e-200 (their squared norms underflowed: 'zero row') and
    ~1e200 (overflowed: the rows became 0 and every angle π/2)."""
    kw = _kernel_call(False)(np.random.default_rng(5))
    kw = {**kw, "X": scale * kw["X"], "Z": scale * kw["Z"]}
    for func, key in _KERNELS:
        assert _verify_kernel(key)(kw, func(**kw)) is None


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e200])
def test_norms_of_extreme_common_scale(scale: float) -> None:
    """θ_S, θ_T (y, f_S) scaled together: the norms were taken of the unscaled vectors, so
    1e-200 gave 0.0 and 1e200 a false 'overflows' refusal (the values are representable)."""
    rng = np.random.default_rng(6)
    kw = _teacher_call(rng)
    kw = {**kw, "theta_s": scale * kw["theta_s"], "theta_t": scale * kw["theta_t"]}
    assert _verify_teacher_bound(kw, sr.linear_teacher_bound(**kw)) is None
    train = _training(rng, True)
    train = {**train, "y": scale * train["y"], "f_source_train": scale * train["f_source_train"]}
    assert _verify_distance(train, sr.distance_travelled(**train)) is None
    assert _verify_generalization(train, sr.generalization_term(**train)) is None
