"""Edges of the closed forms: every evaluation returns the right value or an InputError.

References are computed in mpmath at 50 digits from the float inputs themselves (the
projection, X⁺y and the scalar equation all in mpmath), so a mismatch is an error of the
float code, up to the stated conditioning of the problem.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest

import symbolic.deep_linear as sd
import symbolic.relu_ntk as sr
from finetune_theory import IllConditionedWarning, InputError

EPS = float(np.finfo(np.float64).eps)
DEPTHS: list[float] = [2, 3, 5, 10, 50, 10**4, math.inf]
mpmath.mp.dps = 50

#: Solver rounding: c = exp(t) with t found to 2ε_mach·max(1, |t|) and ln κ, ln p each
#: carrying a few ulp: 16ε_mach·max(1, |ln c|) relative.
SOLVE_RTOL = 16 * EPS
#: Error model of the float inputs of the scalar equation (see NULL_ZERO_FACTOR): the SVD
#: row space is tilted by ≲ ε_mach·cond(X), so |δq| ≤ Q_ERR·√d·ε_mach·cond(X) and
#: |δk|/k ≤ K_ERR·n·ε_mach·cond(X) (X⁺y through the SVD). 8 and 8 are safe constants for
#: the sizes used (observed: ≤ 2).
Q_ERR = 8.0
K_ERR = 8.0


def _reference(
    X: np.ndarray, y: np.ndarray, ts: np.ndarray, depth: float
) -> tuple[mpmath.mpf, ...]:
    """(c, b, k) in mpmath: b = B/A, k = C/A from the exact float inputs; c solves
    c²(c^{2ε} − b) = k by bisection in ln c at 50 digits."""
    Xm, ym, tm = (mpmath.matrix(a.tolist()) for a in (X, y, ts))
    G = Xm * Xm.T
    py = Xm.T * mpmath.lu_solve(G, ym)
    pt = Xm.T * mpmath.lu_solve(G, Xm * tm)
    A = mpmath.fsum(v**2 for v in tm)
    C = mpmath.fsum(v**2 for v in py)
    B = mpmath.fsum((tm[i] - pt[i]) ** 2 for i in range(len(tm)))
    b, k = B / A, C / A
    if depth == 1:
        return mpmath.mpf(1), b, k
    if depth == math.inf:
        return mpmath.sqrt(k / (1 - b)), b, k
    if k == 0:
        return b ** (mpmath.mpf(depth - 1) / 2), b, k
    eps = mpmath.mpf(1) / (depth - 1)

    def f(t: mpmath.mpf) -> mpmath.mpf:
        w = mpmath.exp(2 * eps * t) - b
        return -mpmath.inf if w <= 0 else 2 * t + mpmath.log(w) - mpmath.log(k)

    lo, hi = mpmath.mpf(-800), mpmath.mpf(800)
    for _ in range(400):
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return mpmath.exp((lo + hi) / 2), b, k


def _rtol(
    c: mpmath.mpf, b: mpmath.mpf, k: mpmath.mpf, depth: float, cond: float, n: int, d: int
) -> float:
    """SOLVE_RTOL plus the first-order propagation of the input errors δq, δk."""
    dq = Q_ERR * math.sqrt(d) * EPS * cond
    dk = K_ERR * n * EPS * cond
    q = mpmath.sqrt(b)
    db = 2 * q * dq + dq**2
    base = SOLVE_RTOL * max(1.0, abs(float(mpmath.log(c)))) if c > 0 else SOLVE_RTOL
    if depth == math.inf:
        return base + 0.5 * (dk + float(db / (1 - b)))
    if c == 0:
        return base
    eps = mpmath.mpf(1) / (depth - 1)
    slope = (2 + 2 * eps) * c ** (1 + 2 * eps) - 2 * b * c  # ∂F/∂c
    prop = (c**2 * db + k * dk) / (c * slope)
    return base + float(prop)


def _check(X: np.ndarray, y: np.ndarray, ts: np.ndarray, depth: float) -> float:
    """Relative error of scale_factor against the mpmath reference, asserted ≤ _rtol."""
    got = sd.scale_factor(X, y, ts, depth)
    c, b, k = _reference(X, y, ts, depth)
    sv = np.linalg.svd(X, compute_uv=False)
    tol = _rtol(c, b, k, depth, float(sv[0] / sv[-1]), *X.shape)
    if c < mpmath.mpf("2.3e-308"):  # below float64's normal range: 0 or subnormal is right
        assert got <= 2.3e-308
        return 0.0
    err = float(abs(got - c) / c)
    assert err <= tol, (depth, err, tol)
    return err


# --------------------------------------------------------------------------------------
# θ_S in (and near) the row space — the brentq sign failure
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("near", [False, True], ids=["exact", "near"])
def test_theta_in_row_space(near: bool) -> None:
    for seed in range(20):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((5, 10))
        y = rng.standard_normal(5)
        ts = X.T @ rng.standard_normal(5)
        if near:
            ts = ts + 1e-12 * np.linalg.svd(X)[2][-1]  # a unit null-space direction
        for depth in DEPTHS:
            _check(X, y, ts, depth)
            w = sd.finetuned_end_to_end(X, y, ts, depth)
            assert np.all(np.isfinite(w))


@pytest.mark.parametrize("near", [False, True], ids=["exact", "near"])
def test_theta_in_null_space(near: bool) -> None:
    """Pθ_S = 0 (A = B): c > 1 solves c²(c^{2ε} − 1) = k². Regression: the safeguarded
    Newton iteration stalled at the singular end of its bracket and returned c = 1 (found
    by the widened D3-flow-limit claim: d = 2, n = 1, θ_S ⊥ rowspace(X))."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n, d = (1, 2) if seed % 2 else (5, 10)
        X = rng.standard_normal((n, d))
        y = rng.standard_normal(n)
        null = np.linalg.svd(X)[2][n:]  # orthonormal basis of the null space
        ts = null.T @ rng.standard_normal(d - n)
        if near:
            ts = ts + 1e-12 * np.linalg.svd(X)[2][0]  # a unit row-space direction
        for depth in (2, 3, 5, 10, 50, 10**4):
            _check(X, y, ts, depth)
            assert sd.scale_factor(X, y, ts, depth) > 1.0


def test_b_zero_branch_value_and_exponent() -> None:
    """θ_S exactly in the row space (B = 0 in exact arithmetic): c = k^{(N−1)/(2N)}."""
    X = np.hstack([np.diag([1.0, 2.0, 4.0]), np.zeros((3, 3))])
    ts = np.array([1.0, -2.0, 0.5, 0.0, 0.0, 0.0])
    y = np.array([3.0, 1.0, -2.0])
    A = float(ts @ ts)
    C = float(np.sum((y / np.array([1.0, 2.0, 4.0])) ** 2))
    for depth in [2, 3, 4, 7, 100]:
        c = sd.scale_factor(X, y, ts, depth)
        cm = mpmath.mpf(c)
        # The equation A c^{2N/(N−1)} = C (B = 0) holds to rounding ...
        resid = A * cm ** (mpmath.mpf(2 * depth) / (depth - 1)) - C
        assert abs(resid) <= 16 * EPS * C * (2 * depth / (depth - 1))
        # ... and a wrong exponent fails it: k^{(N−1)/N} is off by a factor k^{(N−1)/(2N)}.
        wrong = (C / A) ** ((depth - 1) / depth)
        assert abs(A * mpmath.mpf(wrong) ** (mpmath.mpf(2 * depth) / (depth - 1)) - C) > 1e-3 * C
        assert c == pytest.approx((C / A) ** ((depth - 1) / (2 * depth)), rel=8 * EPS)
        assert sd._scale_from_norms(A, 0.0, C, depth) == pytest.approx(c, rel=8 * EPS)


def test_zero_labels_branch() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 9))
    ts = rng.standard_normal(9)
    for depth in DEPTHS:
        _check(X, np.zeros(4), ts, depth)
    with pytest.raises(InputError, match="X\\^\\+ y != 0"):
        sd.scale_factor_limit_coefficient(X, np.zeros(4), ts)


def test_square_minus_one_design() -> None:
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        X = rng.standard_normal((9, 10))
        for depth in DEPTHS:
            _check(X, rng.standard_normal(9), rng.standard_normal(10), depth)


def _conditioned(cond: float, seed: int, n: int = 5, d: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n, n)))[0]
    V = np.linalg.qr(rng.standard_normal((d, n)))[0]
    return np.asarray(U @ np.diag(np.geomspace(1.0, 1.0 / cond, n)) @ V.T)


def test_condition_number_1e8_warns_and_stays_within_its_bound() -> None:
    for seed in range(5):
        X = _conditioned(1e8, seed)
        rng = np.random.default_rng(seed)
        y, ts = rng.standard_normal(5), rng.standard_normal(10)
        for depth in DEPTHS:
            with pytest.warns(IllConditionedWarning, match="ill-conditioned"):
                _check(X, y, ts, depth)


def test_condition_number_1e6_is_silent_and_accurate() -> None:
    X = _conditioned(1e6, 3)
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for depth in DEPTHS:
            _check(X, rng.standard_normal(5), rng.standard_normal(10), depth)


@pytest.mark.parametrize("norm", [1e-8, 1.0, 1e8])
def test_theta_norms(norm: float) -> None:
    rng = np.random.default_rng(5)
    X, y, ts = rng.standard_normal((4, 8)), rng.standard_normal(4), rng.standard_normal(8)
    for depth in DEPTHS:
        _check(X, y, norm * ts, depth)


#: Scale invariance: c(λX, μy, νθ_S) = c(X, (μ/(λν))y, θ_S) exactly in real arithmetic; the
#: float results differ by the solver's rounding at |ln c| up to ~700.
SCALE_RTOL = 16 * EPS * 700


@pytest.mark.parametrize(
    ("lam", "mu", "nu"),
    [(1e150, 1.0, 1.0), (1e-150, 1e-150, 1e-150), (1.0, 1e150, 1e150), (1e160, 1e-160, 1e-160)],
)
def test_extreme_magnitudes_are_scale_invariant(lam: float, mu: float, nu: float) -> None:
    rng = np.random.default_rng(11)
    X, y, ts = rng.standard_normal((4, 8)), rng.standard_normal(4), rng.standard_normal(8)
    for depth in DEPTHS:
        got = sd.scale_factor(lam * X, mu * y, nu * ts, depth)
        want = sd.scale_factor(X, (mu / (lam * nu)) * y, ts, depth)
        assert got == pytest.approx(want, rel=SCALE_RTOL)
        w = sd.finetuned_end_to_end(lam * X, mu * y, nu * ts, depth)
        assert np.all(np.isfinite(w))


def test_tiny_theta_is_not_zero() -> None:
    rng = np.random.default_rng(2)
    X, y, ts = rng.standard_normal((3, 6)), rng.standard_normal(3), rng.standard_normal(6)
    c = sd.scale_factor(X, 1e-170 * y, 1e-170 * ts, 3)
    assert c == pytest.approx(sd.scale_factor(X, y, ts, 3), rel=SCALE_RTOL)
    with pytest.raises(InputError, match="overflows"):
        sd.scale_factor(X, 1e300 * y, 1e-300 * ts, math.inf)  # c ≈ 1e600


def test_negative_alignment() -> None:
    """θ_T = −θ_S, y = Xθ_T: C = A − B, so c = 1 at every depth and R = 4‖(I − P)θ_S‖²."""
    rng = np.random.default_rng(4)
    X, ts = rng.standard_normal((4, 9)), rng.standard_normal(9)
    tt = -ts
    null = ts - np.linalg.pinv(X) @ (X @ ts)
    for depth in [1, *DEPTHS]:
        assert sd.scale_factor(X, X @ tt, ts, depth) == pytest.approx(1.0, rel=64 * EPS)
        risk = sd.finetuned_risk(X, X @ tt, ts, tt, depth)
        assert risk == pytest.approx(4 * float(null @ null), rel=1e-12)


def test_depth_is_continuous_up_to_infinity() -> None:
    rng = np.random.default_rng(8)
    X, y, ts = rng.standard_normal((4, 9)), rng.standard_normal(4), rng.standard_normal(9)
    c_inf = sd.scale_factor(X, y, ts, math.inf)
    K = sd.scale_factor_limit_coefficient(X, y, ts)
    depths = [1, 2, 3, 4, 5, 7, 10, 20, 50, 100, 300, 1000, 3000, 10**4]
    cs = np.array([sd.scale_factor(X, y, ts, n) for n in depths])
    steps = np.diff(np.append(cs, c_inf))
    assert np.all(steps >= -1e-15) or np.all(steps <= 1e-15)  # monotone in N, ∞ included
    # |(c_N − c_∞)(N − 1) − K| = O(1/N): take the O(1/N) constant from N = 100 with room 4×.
    m2 = 4 * abs((cs[depths.index(100)] - c_inf) * 99 - K) * 99
    for n, cn in zip(depths, cs, strict=True):
        if n >= 100:
            # float rounding of c_N − c_∞ is ≲ 4ε_mach·c, times N − 1
            assert abs((cn - c_inf) * (n - 1) - K) <= m2 / (n - 1) + 4 * EPS * c_inf * (n - 1)
    _check(X, y, ts, 10**4)


@pytest.mark.parametrize("depth", [10**6, 10**15, 10**100, 10**400])
def test_huge_depths_approach_the_limit(depth: int) -> None:
    rng = np.random.default_rng(0)
    X, y, ts = rng.standard_normal((5, 10)), rng.standard_normal(5), rng.standard_normal(10)
    c_inf = sd.scale_factor(X, y, ts, math.inf)
    K = sd.scale_factor_limit_coefficient(X, y, ts)
    got = sd.scale_factor(X, y, ts, depth)
    assert abs(got - c_inf) <= abs(K) * (1 / (depth - 1)) * 1.01 + 8 * EPS * c_inf


# --------------------------------------------------------------------------------------
# ReLU kernels near u = ±1
# --------------------------------------------------------------------------------------

#: Kernel relative error: a few ulp from the angle (Kahan's formula on rows whose norms
#: round to 1.0, so no normalisation error) plus ~4 ulp from the series/closed form.
KERNEL_RTOL = 16 * EPS


def _pairs(deltas: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray]:
    """x = (0.6, 0.8, 0) rows and z = sign·cos δ·x + sin δ·(−0.8, 0.6, 0): angle δ from ±x."""
    base = np.array([0.6, 0.8, 0.0])
    perp = np.array([-0.8, 0.6, 0.0])
    X = np.tile(base, (len(deltas), 1))
    Z = sign * np.cos(deltas)[:, None] * X + np.sin(deltas)[:, None] * perp
    return X, Z


def _mp_kernels(x: np.ndarray, z: np.ndarray) -> tuple[mpmath.mpf, ...]:
    with mpmath.workdps(100):  # sin ψ − ψ cos ψ ~ ψ³ cancels 30 digits at ψ = 1e-15
        return tuple(+v for v in _mp_kernels_at_precision(x, z))


def _mp_kernels_at_precision(x: np.ndarray, z: np.ndarray) -> tuple[mpmath.mpf, ...]:
    xm, zm = (mpmath.matrix(v.tolist()) for v in (x, z))
    nx, nz = mpmath.norm(xm), mpmath.norm(zm)
    u = mpmath.fsum(xm[i] * zm[i] for i in range(3)) / (nx * nz)
    cross = mpmath.sqrt(mpmath.fsum(((xm / nx) - (zm / nz))[i] ** 2 for i in range(3)))
    plus = mpmath.sqrt(mpmath.fsum(((xm / nx) + (zm / nz))[i] ** 2 for i in range(3)))
    psi = 2 * mpmath.atan2(plus, cross)
    prob = psi / (2 * mpmath.pi)
    relu = nx * nz * (mpmath.sin(psi) - psi * mpmath.cos(psi)) / (2 * mpmath.pi)
    dot = mpmath.fsum(xm[i] * zm[i] for i in range(3))
    return prob, dot * prob, relu, dot * prob + relu, u


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["u=+1", "u=-1"])
def test_kernels_relatively_accurate_near_the_poles(sign: float) -> None:
    deltas = np.concatenate([np.geomspace(1e-15, 1e-1, 29), [0.5, 1.0]])
    X, Z = _pairs(deltas, sign)
    got = {
        "orthant": np.diag(sr.orthant_probability(X, Z)),
        "gram": np.diag(sr.first_layer_ntk(X, Z)),
        "nngp": np.diag(sr.nngp_gram(X, Z)),
        "ntk": np.diag(sr.full_ntk(X, Z)),
    }
    for i in range(len(deltas)):
        refs = dict(zip(("orthant", "gram", "nngp", "ntk"), _mp_kernels(X[i], Z[i]), strict=False))
        for name, values in got.items():
            want = refs[name]
            assert abs(values[i] - want) <= KERNEL_RTOL * abs(want), (name, deltas[i])


def test_kernels_relatively_accurate_in_the_bulk() -> None:
    rng = np.random.default_rng(9)
    X = rng.standard_normal((12, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    got = {
        "orthant": sr.orthant_probability(X),
        "gram": sr.first_layer_ntk(X),
        "nngp": sr.nngp_gram(X),
    }
    for i in range(12):
        for j in range(12):
            prob, gram, relu, _, _ = _mp_kernels(X[i], X[j])
            # bulk: the angle's absolute error (a few ulp, from the rounding of x̂) relative
            # to values of size ≥ 0.05 here; gram = u·P also carries the dot product's
            # absolute error (~d ulp) in u, which is not relative when u ≈ 0.
            for name, want, slack in (
                ("orthant", prob, 0),
                ("gram", gram, prob),
                ("nngp", relu, 0),
            ):
                tol = 64 * EPS * (abs(want) + slack)
                assert abs(got[name][i, j] - want) <= tol, (name, i, j)


# --------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------

_X = np.random.default_rng(0).standard_normal((3, 6))
_Y = np.ones(3)
_T = np.ones(6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sd.scale_factor(_X, _Y, _T, True), "depth must be an integer"),
        (lambda: sd.scale_factor(_X, _Y, _T, 2.0), "depth must be an integer"),
        (lambda: sd.scale_factor(_X, _Y, _T, 0), "depth must be an integer >= 1"),
        (lambda: sd.scale_factor(_X, _Y, _T, -math.inf), "depth must be an integer"),
        (lambda: sd.scale_factor(_X, _Y, _T, math.nan), "depth must be an integer"),
        (lambda: sd.finetuned_end_to_end(_X, _Y, _T, 3.0), "depth must be an integer"),
        (lambda: sd.scale_factor(_X, _Y[:2], _T, 3), "y must have one label per row"),
        (lambda: sd.scale_factor(_X, _Y, _T[:5], 3), "theta_s must have length 6"),
        (lambda: sd.scale_factor(_X[0], _Y, _T, 3), "X must be 2-dimensional"),
        (lambda: sd.scale_factor(_X, _Y * np.nan, _T, 3), "y must contain only finite"),
        (lambda: sd.scale_factor(_X, _Y, _T * np.inf, 3), "theta_s must contain only finite"),
        (lambda: sd.scale_factor(_X, _Y, _T * 1j, 3), "theta_s must be"),
        (lambda: sd.scale_factor(_X.T, np.ones(6), np.ones(3), 3), "needs n < d"),
        (lambda: sd.finetuned_risk(_X, _Y, _T, _T[:2], 3), "theta_t must have length 6"),
        (lambda: sd.closed_form_roots(2.0), "depth must be an integer"),  # type: ignore[arg-type]
        (lambda: sd.closed_form_roots(True), "depth must be an integer"),
        (lambda: sd.scale_factor_rootof(1.0, 0.5, 0.5, 3.0), "depth must be an integer"),  # type: ignore[arg-type]
        (lambda: sr.nngp_gram(np.ones((2, 3)) * np.nan), "X must contain only finite"),
        (lambda: sr.first_layer_ntk(np.eye(3), np.eye(2)), "Z must have 3 columns"),
    ],
)
def test_bad_input_raises_named_error(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]


def test_cached_valid_call_does_not_let_invalid_depth_through() -> None:
    sd.closed_form_roots(2)
    with pytest.raises(InputError, match="depth"):
        sd.closed_form_roots(2.0)  # type: ignore[arg-type]


def test_infinite_depth_needs_a_row_space_component() -> None:
    X = np.eye(2, 4)
    with pytest.raises(InputError, match="row space"):
        sd.scale_factor(X, np.ones(2), np.array([0.0, 0.0, 1.0, 1.0]), math.inf)
    # finite depths are fine there: c²(c^{2ε} − 1) = k has a root for every ε > 0
    c = sd.scale_factor(X, np.ones(2), np.array([0.0, 0.0, 1.0, 1.0]), 10**4)
    assert math.isfinite(c) and c > 1.0


def test_frozen_floor_is_scale_invariant_in_theta_s() -> None:
    rng = np.random.default_rng(0)
    ts, tt = rng.standard_normal(5), rng.standard_normal(5)
    want = sd.frozen_layers_risk_floor(ts, tt)
    for scale in (1e-200, 1e200):
        assert sd.frozen_layers_risk_floor(scale * ts, tt) == pytest.approx(want, rel=8 * EPS)
    assert sd.frozen_layers_risk_floor(ts, 1e-150 * tt) == pytest.approx(1e-300 * want, rel=1e-14)
