"""symbolic.deep_linear: derivations equal textbook forms; evaluations match the derivations."""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize

import symbolic.deep_linear as sd
import symbolic.linear as sl
from finetune_theory import InputError
from symbolic import _symbols as syms

N = syms.depth
A, B, C = sd.A_, sd.B_, sd.C_
SEEDS = st.integers(0, 2**32 - 1)


def _problem(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)


# --------------------------------------------------------------------------------------
# D1
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_end_to_end_gram_at_balanced_points(depth: int) -> None:
    der = sd.derive_end_to_end_dynamics(depth)
    assert der.gram_residual == sp.zeros(2, 2)
    for drift in der.balance_drift:
        assert drift == sp.zeros(*drift.shape)


def test_end_to_end_general_depth() -> None:
    der = sd.derive_end_to_end_dynamics(2)
    s, r = sp.Symbol("s", positive=True), sp.Symbol("r", positive=True)
    assert sp.simplify(der.general_sum - (N - 1) * s ** (2 * N - 2)) == 0
    assert sp.simplify(der.prefactor - r ** (2 - 2 / N)) == 0


def test_end_to_end_velocity_depth_one_is_gradient_flow() -> None:
    w, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    assert np.array_equal(sd.end_to_end_velocity(w, g, 1), -g)


#: Gradient-flow time step of the layer-wise oracle, as a fraction δ of the time in which w
#: changes by its own norm (h = δ‖w‖/‖ẇ‖).
LAYER_STEP = 1e-5
#: Oracle error model. w(h) = Π_j (W_j − h∂L/∂W_j) is a polynomial of degree N in h; the
#: Richardson combination 2D(h/2) − D(h) of the forward differences D(h) = (w(h) − w)/h
#: cancels the O(h) term and leaves ≲ (Nδ)²·(a binomial factor ≤ 10) ≈ 2.5e-8 at N = 5
#: (measured ≲ 2e-10), plus rounding 3·eps·‖w‖/(h‖ẇ‖) = 3·eps/δ ≈ 7e-11. A wrong (N − 1)
#: factor, sign or power of ‖w‖ (‖w‖ = 0.3 and 2.5 here) is off by ≥ 5e-3 on these draws.
VELOCITY_RTOL = 1e-7


def _balanced_rank_one(
    w: np.ndarray, widths: list[int], rng: np.random.Generator
) -> list[np.ndarray]:
    """Balanced layers W_j = s·v_{j+1}v_jᵀ, s = ‖w‖^{1/N}, v_1 = ŵ, v_{N+1} = 1, the other
    v_j random unit vectors: W_N⋯W_1 = s^N ŵᵀ = wᵀ and W_{j+1}ᵀW_{j+1} = s²v_{j+1}v_{j+1}ᵀ =
    W_jW_jᵀ."""
    s = np.linalg.norm(w) ** (1.0 / len(widths))
    vs = [w / np.linalg.norm(w)]
    for width in widths[:-1]:
        v = rng.standard_normal(width)
        vs.append(v / np.linalg.norm(v))
    vs.append(np.ones(1))
    return [s * np.outer(vs[j + 1], vs[j]) for j in range(len(widths))]


def _end_to_end(layers: list[np.ndarray]) -> np.ndarray:
    out = layers[0]
    for W in layers[1:]:
        out = W @ out
    return np.asarray(out[0])


def _layer_gradients(layers: list[np.ndarray], g: np.ndarray) -> list[np.ndarray]:
    """∂L/∂W_j for the linear loss L = gᵀw = W_N⋯W_1 g: (W_N⋯W_{j+1})ᵀ(W_{j−1}⋯W_1 g)ᵀ."""
    grads = []
    for j in range(len(layers)):
        left = np.ones((1, 1))
        for W in reversed(layers[j + 1 :]):
            left = left @ W
        right = g[:, None]
        for W in layers[:j]:
            right = W @ right
        grads.append(left.T @ right.T)
    return grads


@pytest.mark.parametrize("norm", [0.3, 2.5])
@pytest.mark.parametrize("depth", [2, 3, 5])
def test_end_to_end_velocity_matches_layerwise_gradient_flow(depth: int, norm: float) -> None:
    # Independent oracle: balanced layers, their gradients under a loss with ∇_w L = g, one
    # small gradient-flow (Euler) step per layer, and the induced end-to-end velocity.
    d = 4
    rng = np.random.default_rng(depth)
    for _ in range(5):
        w = rng.standard_normal(d)
        w *= norm / np.linalg.norm(w)
        g = rng.standard_normal(d)
        widths = [int(k) for k in rng.integers(1, 5, size=depth - 1)] + [1]
        layers = _balanced_rank_one(w, widths, rng)
        assert np.allclose(_end_to_end(layers), w, rtol=1e-14, atol=0)
        for low, high in itertools.pairwise(layers):
            assert np.allclose(high.T @ high, low @ low.T, rtol=0, atol=1e-14 * norm)
        grads = _layer_gradients(layers, g)
        want = sd.end_to_end_velocity(w, g, depth)
        h = LAYER_STEP * norm / float(np.linalg.norm(want))

        def slope(
            t: float, layers: list[np.ndarray] = layers, grads: list[np.ndarray] = grads
        ) -> np.ndarray:
            moved = [W - t * G for W, G in zip(layers, grads, strict=True)]
            return (_end_to_end(moved) - _end_to_end(layers)) / t

        got = 2 * slope(h / 2) - slope(h)
        assert np.linalg.norm(got - want) <= VELOCITY_RTOL * np.linalg.norm(want)


# --------------------------------------------------------------------------------------
# D3
# --------------------------------------------------------------------------------------


def test_implicit_bias_derivation_steps() -> None:
    ib = sd.derive_implicit_bias()
    assert isinstance(ib.null_velocity_residual, sp.ZeroMatrix)
    rho_t, rho0 = sp.symbols("rho_t rho0", positive=True)
    assert sp.simplify(ib.invariant - (rho_t / rho0) ** ((N - 1) / N)) == 0
    c = sd.c_
    assert sp.simplify(ib.scalar_equation - (A * c ** (2 * N / (N - 1)) - B * c**2 - C)) == 0
    s = sd.s_
    assert sp.simplify(ib.polynomial - (A * s**N - B * s ** (N - 1) - C)) == 0
    assert ib.depth_one == 1
    assert sp.simplify(ib.limit_equation - ((A - B) * c**2 - C)) == 0
    gap = sp.Symbol("D", positive=True)  # A − B = ‖Pθ_S‖² > 0
    assert sp.simplify((ib.c_infinity - sp.sqrt(C / (A - B))).subs(A, B + gap)) == 0
    assert sp.simplify(ib.monotone_form - (A * s - B - C * s ** (1 - N))) == 0


def test_positive_root_is_unique_for_every_depth() -> None:
    ib = sd.derive_implicit_bias()
    M = sp.Symbol("M", integer=True, positive=True)
    # h(s) = A s − B − C s^{1−N} is strictly increasing for s > 0 and every N = M + 1 ≥ 2 ...
    assert sp.simplify(ib.monotone_slope.subs(N, M + 1)).is_positive
    # ... and runs from −∞ to +∞, so it has exactly one positive zero.
    h = A * sd.s_ - B - C * sd.s_ ** (-M)
    assert sp.limit(h, sd.s_, 0, "+") == -sp.oo
    assert sp.limit(h, sd.s_, sp.oo) == sp.oo
    # Descartes' rule of signs for concrete depths: exactly one sign change.
    for depth in range(2, 11):
        coeffs = sp.Poly(ib.polynomial.subs(N, depth), sd.s_).all_coeffs()
        signs = [sp.sign(x) for x in coeffs if x != 0]
        assert sum(1 for u, v in itertools.pairwise(signs) if u != v) == 1


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_radicals_give_the_positive_root(depth: int) -> None:
    roots = sd.closed_form_roots(depth)
    rng = np.random.default_rng(depth)
    for _ in range(8):
        a = float(rng.uniform(0.5, 3.0))
        b = float(rng.uniform(0.0, 0.99)) * a
        cc = float(rng.uniform(0.05, 4.0))
        exact = {A: sp.Rational(a), B: sp.Rational(b), C: sp.Rational(cc)}
        values = [complex(sp.N(r.subs(exact), 30)) for r in roots]
        positive = [v.real for v in values if abs(v.imag) < 1e-20 and v.real > 0]
        assert len(positive) == 1
        c_closed = positive[0] ** ((depth - 1) / 2)
        assert sd._scale_from_norms(a, b, cc, depth) == pytest.approx(c_closed, rel=1e-12)


@pytest.mark.parametrize("depth", [5, 7, 10])
def test_rootof_matches_brent_at_high_precision(depth: int) -> None:
    a, b, cc = 1.7, 0.9, 0.6
    exact = sd.scale_factor_rootof(a, b, cc, depth).evalf(40)
    # Oracle: mpmath at 40 digits on the same polynomial.
    mpmath.mp.dps = 40
    s_root = mpmath.findroot(lambda s: a * s**depth - b * s ** (depth - 1) - cc, 1.0)
    assert abs(exact - s_root ** mpmath.mpf((depth - 1) / 2)) < 1e-35
    assert sd._scale_from_norms(a, b, cc, depth) == pytest.approx(float(exact), rel=1e-14)


def test_limit_coefficient_matches_first_order_derivation() -> None:
    ib = sd.derive_implicit_bias()
    want = -A * ib.c_infinity * sp.log(ib.c_infinity) / (A - B)
    assert sp.simplify(sp.expand_log(ib.first_order - want, force=True)) == 0


@given(seed=SEEDS, n=st.integers(1, 5), extra=st.integers(2, 10))
def test_scale_factor_converges_like_one_over_depth(seed: int, n: int, extra: int) -> None:
    X, y, ts = _problem(seed, n, n + extra)
    c_inf = sd.scale_factor(X, y, ts, math.inf)
    K = sd.scale_factor_limit_coefficient(X, y, ts)
    cs = [sd.scale_factor(X, y, ts, depth) for depth in range(2, 400)]
    diffs = np.diff(cs)
    assert np.all(diffs >= -1e-13) or np.all(diffs <= 1e-13)  # monotone in N
    # f(M) = M(c_{M+1} − c_∞) = K + K₂/M + O(1/M²). One Richardson step 2f(2M) − f(M)
    # removes the K₂/M term; at M = 1e5 the remainder is far below the 1e-3 tolerance even
    # when K₂/K ~ 1e2 (θ_S nearly orthogonal to the row space), and float rounding of
    # c_N − c_∞ (~1e-15·c_∞ against K/M) contributes ~1e-10.
    m = 100_000
    f1 = m * (sd.scale_factor(X, y, ts, m + 1) - c_inf)
    f2 = 2 * m * (sd.scale_factor(X, y, ts, 2 * m + 1) - c_inf)
    assert 2 * f2 - f1 == pytest.approx(K, rel=1e-3, abs=1e-9 * (1 + c_inf))


@given(seed=SEEDS, n=st.integers(1, 5), extra=st.integers(1, 8), depth=st.integers(1, 10))
def test_end_to_end_interpolates_with_the_stated_norm_relation(
    seed: int, n: int, extra: int, depth: int
) -> None:
    X, y, ts = _problem(seed, n, n + extra)
    w = sd.finetuned_end_to_end(X, y, ts, depth)
    assert np.linalg.norm(X @ w - y) <= 1e-9 * (1 + np.linalg.norm(y))
    c = sd.scale_factor(X, y, ts, depth)
    if depth > 1:
        assert c == pytest.approx(
            (np.linalg.norm(w) / np.linalg.norm(ts)) ** ((depth - 1) / depth), rel=1e-10
        )
    else:
        assert np.allclose(w, sl.finetuned_weights(X, y, ts), rtol=1e-10, atol=1e-10)


@given(seed=SEEDS, n=st.integers(1, 4), extra=st.integers(1, 5), depth=st.integers(1, 6))
def test_closed_form_minimises_the_implicit_regularizer(
    seed: int, n: int, extra: int, depth: int
) -> None:
    # Independent numeric oracle: minimise Q_N over the affine set {Xw = y} with BFGS.
    d = n + extra
    X, y, ts = _problem(seed, n, d)
    pinv = np.linalg.pinv(X)
    basis = np.linalg.svd(X)[2][n:].T  # null space of X
    base = pinv @ y

    def q(z: np.ndarray) -> float:
        return sd.implicit_regularizer_value(base + basis @ z, ts, depth)

    start = basis.T @ ts
    res = optimize.minimize(q, start, method="BFGS", options={"gtol": 1e-11})
    w_opt = base + basis @ res.x
    w = sd.finetuned_end_to_end(X, y, ts, depth)
    assert np.linalg.norm(w_opt - w) <= 1e-5 * (1 + np.linalg.norm(w))
    assert q(basis.T @ w) <= q(res.x) + 1e-12 * (1 + abs(q(res.x)))


def test_regularizer_derivation() -> None:
    der = sd.derive_regularizer()
    assert der.stationarity_residual == 0
    r = sp.Symbol("r", positive=True)
    assert all(
        sp.simplify(x.subs(N, sp.Symbol("M", positive=True) + 1)).is_positive for x in der.curvature
    )
    assert der.depth_one_residual == 0
    T, p = sp.symbols("T p", positive=True)
    assert (
        sp.simplify(der.depth_two - (r ** sp.Rational(3, 2) - sp.Rational(3, 2) * sp.sqrt(T) * p))
        == 0
    )


def test_two_layer_width_one_network_has_the_depth_two_dynamics() -> None:
    # f(x) = v·uᵀx (one hidden unit, balanced v² = ‖u‖²): β = v u obeys
    # β̇ = −‖β‖(I + β̂β̂ᵀ)g, the D1 dynamics at N = 2 whose limit Q_2 describes.
    u = sp.Matrix(sp.symbols("u0:2", real=True))
    v = sp.Symbol("v", positive=True)
    beta = v * u
    J = beta.jacobian([*u, v])
    gram = (J * J.T).subs(v, sp.sqrt((u.T * u)[0]))
    norm = sp.sqrt((u.T * u)[0]) ** 2  # ‖β‖ = v‖u‖ = ‖u‖²
    want = norm * (sp.eye(2) + beta * beta.T / norm**2).subs(v, sp.sqrt((u.T * u)[0]))
    assert (gram - want).applyfunc(sp.simplify) == sp.zeros(2, 2)


# --------------------------------------------------------------------------------------
# D4–D6
# --------------------------------------------------------------------------------------


def test_infinite_depth_consequences() -> None:
    der = sd.derive_infinite_depth()
    alpha = sp.Symbol("alpha", real=True)
    assert der.c_infinity_aligned == sp.Abs(alpha)
    assert der.depth_neutral == 0
    tt, cos = sp.symbols("thetaT_norm cos", positive=True)
    assert sp.simplify(der.alignment_gap - 2 * tt**2 * (1 - cos)) == 0


@given(seed=SEEDS, alpha=st.floats(0.1, 3.0), n=st.integers(1, 5), extra=st.integers(1, 8))
def test_infinite_depth_recovers_aligned_teacher(
    seed: int, alpha: float, n: int, extra: int
) -> None:
    X, _, ts = _problem(seed, n, n + extra)
    tt = alpha * ts
    w = sd.finetuned_end_to_end(X, X @ tt, ts, math.inf)
    assert np.linalg.norm(w - tt) <= 1e-9 * np.linalg.norm(tt)
    # Depth-one risk is (α − 1)² θ_Sᵀ(I − P)(I − P)θ_S.
    null = ts - np.linalg.pinv(X) @ (X @ ts)
    r1 = sd.finetuned_risk(X, X @ tt, ts, tt, 1)
    assert r1 == pytest.approx((alpha - 1) ** 2 * float(null @ null), rel=1e-9, abs=1e-12)


def test_depth_is_neutral_when_target_equals_source() -> None:
    X, _, ts = _problem(3, 4, 12)
    for depth in [1, 2, 5, 9, math.inf]:
        assert sd.scale_factor(X, X @ ts, ts, depth) == pytest.approx(1.0, rel=1e-12)


def test_frozen_layers_derivation_and_floor() -> None:
    der = sd.derive_frozen_layers()
    assert der.span_residual == sp.zeros(2, 1)
    a, b, t = (
        sp.Symbol("a", positive=True),
        sp.Symbol("b", real=True),
        sp.Symbol("t", positive=True),
    )
    assert sp.simplify(der.floor - (t - b**2 / a)) == 0
    rng = np.random.default_rng(0)
    ts, tt = rng.standard_normal(5), rng.standard_normal(5)
    m = rng.standard_normal((5, 5))
    cov = m @ m.T
    floor = sd.frozen_layers_risk_floor(ts, tt, cov)
    betas = np.linspace(-5, 5, 20001)
    diffs = betas[:, None] * ts - tt
    risks = np.einsum("bi,ij,bj->b", diffs, cov, diffs)  # brute-force min over the span
    assert floor <= risks.min() + 1e-12
    assert floor == pytest.approx(risks.min(), rel=1e-5)
    perp = tt - (tt @ cov @ ts) / (ts @ cov @ ts) * ts  # Σ-orthogonal to θ_S
    assert sd.frozen_layers_risk_floor(ts, perp, cov) == pytest.approx(
        sl.excess_risk(0 * ts, perp, cov)
    )


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sd.scale_factor(np.ones((3, 3)), np.ones(3), np.ones(3), 2), "needs n < d"),
        (lambda: sd.scale_factor(np.ones((2, 4)), np.ones(2), np.ones(4), 2), "full row rank"),
        (
            lambda: sd.scale_factor(np.eye(2, 4), np.ones(2), np.zeros(4), 2),
            "theta_s must be non-zero",
        ),
        (
            lambda: sd.scale_factor(np.eye(2, 4), np.ones(2), np.ones(4), 0),
            "depth must be an integer >= 1",
        ),
        (
            lambda: sd.scale_factor(np.eye(2, 4), np.ones(2), np.ones(4), 2.5),
            "depth must be an integer",
        ),
        (
            lambda: sd.finetuned_end_to_end(
                np.eye(2, 4), np.ones(2), np.array([0, 0, 1.0, 1.0]), math.inf
            ),
            "row space",
        ),
        (lambda: sd.end_to_end_velocity(np.zeros(3), np.ones(3), 3), "w must be non-zero"),
        (lambda: sd.frozen_layers_risk_floor(np.zeros(3), np.ones(3)), "theta_s must have"),
        (
            lambda: sd.implicit_regularizer_value(np.ones(3), np.zeros(3), 2),
            "theta_s must be non-zero",
        ),
        (lambda: sd.closed_form_roots(5), "depth must be 2, 3 or 4"),
        (lambda: sd.derive_end_to_end_dynamics(5), "depth must be <= 4"),
    ],
)
def test_bad_input_raises_named_error(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]
