"""symbolic.linear: each derivation equals its textbook form; evaluations match the derivation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import symbolic.linear as sl
from finetune_theory import InputError
from symbolic import _symbols as syms

# Oracle: symbolic identity. Random-point checks use float64 evaluation of expressions
# whose condition number is small, so agreement to FLOAT_RTOL is expected.
FLOAT_RTOL = 1e-10


def _zero_matrix_expr(expr: sp.Basic) -> bool:
    return expr == 0 or isinstance(expr, sp.ZeroMatrix) or sp.simplify(expr) == 0


# --------------------------------------------------------------------------------------
# L1
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_rows", "d_cols"), [(1, 2), (1, 3), (2, 3)])
def test_kkt_solution_equals_textbook(n_rows: int, d_cols: int) -> None:
    der = sl.derive_min_distance_interpolant(n_rows, d_cols)
    assert sp.simplify(der.solution - der.textbook) == sp.zeros(d_cols, 1)
    # The derived point interpolates and the Lagrangian's θ-gradient vanishes there.
    assert sp.simplify(der.X * der.solution - der.y) == sp.zeros(n_rows, 1)


def test_kkt_needs_fewer_rows_than_columns() -> None:
    with pytest.raises(InputError, match="n < d"):
        sl.derive_min_distance_interpolant(3, 3)


def test_matrix_kkt_elimination_checks_every_step() -> None:
    der = sl.derive_min_distance_interpolant_matrix()
    for residual in (
        der.constraint_residual,
        der.stationarity_residual,
        der.null_direction_image,
        der.cross_term,
    ):
        assert _zero_matrix_expr(residual), residual
    assert _zero_matrix_expr((der.solution - der.textbook).expand().doit())


def test_gd_recurrence_solution() -> None:
    g = sl.derive_gradient_descent()
    e = sp.Function("e")
    b, e0 = sp.Symbol("b", real=True), sp.Symbol("e0", real=True)
    k, eta, mu = syms.k, syms.eta, syms.mu
    # rsolve's answer satisfies the recurrence and the initial condition ...
    step = g.row_recurrence.subs({e(k + 1): g.row_solution.subs(k, k + 1), e(k): g.row_solution})
    assert sp.simplify(step) == 0
    assert sp.simplify(g.row_solution.subs(k, 0) - e0) == 0
    # ... and is the textbook form b/μ + (e₀ − b/μ)(1 − ημ)^k.
    textbook = b / mu + (e0 - b / mu) * (1 - eta * mu) ** k
    assert sp.simplify(g.row_solution - textbook) == 0
    assert g.null_solution == e0  # the θ_S component outside the row space is untouched
    assert sp.simplify(g.row_limit - b / mu) == 0
    assert g.transient_decay == 0
    assert sp.simplify(g.row_limit + g.transient - g.row_solution) == 0
    assert g.stability == (eta < 2 / mu)


@given(
    n=st.integers(1, 6), d=st.integers(1, 8), seed=st.integers(0, 2**32 - 1), k=st.integers(0, 50)
)
def test_gd_iterate_matches_direct_recursion(n: int, d: int, seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    X, y, ts = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)
    eta = 0.9 * sl.gd_stability_limit(X)
    theta = ts.copy()
    for _ in range(k):
        theta = theta - eta * X.T @ (X @ theta - y) / n
    got = sl.gd_iterate(X, y, ts, eta, k)
    assert np.allclose(got, theta, rtol=1e-9, atol=1e-9 * (1 + np.abs(theta).max()))


@given(n=st.integers(1, 6), extra=st.integers(0, 6), seed=st.integers(0, 2**32 - 1))
def test_finetuned_weights_is_the_closest_interpolant(n: int, extra: int, seed: int) -> None:
    d = n + extra
    rng = np.random.default_rng(seed)
    X, y, ts = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)
    th = sl.finetuned_weights(X, y, ts)
    scale = 1 + np.linalg.norm(y) + np.linalg.norm(ts)
    assert np.linalg.norm(X @ th - y) <= 1e-9 * scale
    # Textbook form with the pseudo-inverse.
    pinv = np.linalg.pinv(X)
    assert np.allclose(th, ts + pinv @ (y - X @ ts), rtol=FLOAT_RTOL, atol=1e-9 * scale)
    # Moving along the null space of X only increases the distance to θ_S.
    u = rng.standard_normal(d)
    u -= pinv @ (X @ u)
    assert np.linalg.norm(th + u - ts) >= np.linalg.norm(th - ts) - 1e-12 * scale


def test_finetuned_weights_forgets_theta_s_when_overdetermined() -> None:
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((20, 5)), rng.standard_normal(20)
    a = sl.finetuned_weights(X, y, rng.standard_normal(5))
    b = sl.finetuned_weights(X, y, np.zeros(5))
    assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# L2
# --------------------------------------------------------------------------------------


def test_risk_decomposition_matches_textbook_terms() -> None:
    r = sl.derive_risk_decomposition()
    assert _zero_matrix_expr(r.error_residual)
    assert _zero_matrix_expr((r.bias - r.bias_textbook.expand()).expand().doit())
    assert _zero_matrix_expr((r.variance - r.variance_textbook.expand()).expand().doit())
    assert _zero_matrix_expr(r.cross_residual)


def test_noise_average_of_quadratic_form_is_trace() -> None:
    # E_ξ[ξᵀAξ] = σ² tr A, derived with sympy.stats on independent normals (n = 3).
    from sympy.stats import E, Normal

    sigma = sp.Symbol("sigma", positive=True)
    xi = sp.Matrix([Normal(f"xi{i}", 0, sigma) for i in range(3)])
    A = sp.Matrix(3, 3, lambda i, j: sp.Symbol(f"a{i}{j}"))
    assert sp.simplify(E((xi.T * A * xi)[0]) - sigma**2 * A.trace()) == 0
    assert E(xi[0] * sp.Symbol("c")) == 0  # the cross term averages out


@given(
    n=st.integers(1, 6),
    extra=st.integers(0, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_risk_decomposition_adds_up_to_the_risk(n: int, extra: int, seed: int) -> None:
    d = n + extra
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    noise, ts, tt = rng.standard_normal(n), rng.standard_normal(d), rng.standard_normal(d)
    a = rng.standard_normal((d, d))
    cov = a @ a.T
    y = X @ tt + noise
    terms = sl.risk_decomposition(X, y, ts, tt, cov)
    theta = sl.finetuned_weights(X, y, ts)
    risk = sl.excess_risk(theta, tt, cov)
    assert math.isclose(terms.total, risk, rel_tol=1e-8, abs_tol=1e-10 * (1 + risk))
    assert terms.bias >= -1e-12 and terms.variance >= -1e-12


# --------------------------------------------------------------------------------------
# L3
# --------------------------------------------------------------------------------------


def test_expected_risk_derivation_equals_textbook() -> None:
    der = sl.derive_expected_risk_isotropic()
    n, d = syms.n, syms.d
    tb_under, tb_over = der.textbook.args[0][0], der.textbook.args[1][0]
    assert sp.simplify(der.under - tb_under) == 0
    assert sp.simplify(der.over - tb_over) == 0
    # The inverse chi-square mean and its convergence condition k > 2 came from integrate.
    value, cond = der.inverse_chi2_mean.args[0]
    assert sp.gammasimp(value - 1 / (sl._CHI2_DOF - 2)) == 0
    assert cond == (sl._CHI2_DOF > 2)
    # The regimes follow from k = d − n + 1 > 2 and k = n − d + 1 > 2.
    (c_under, c_over) = (der.piecewise.args[0][1], der.piecewise.args[1][1])
    for nv, dv in [(3, 5), (1, 3), (4, 5), (5, 5), (6, 5), (7, 5), (9, 5)]:
        assert bool(c_under.subs({n: nv, d: dv})) == (nv <= dv - 2)
        assert bool(c_over.subs({n: nv, d: dv})) == (nv >= dv + 2)


def test_expected_risk_limits() -> None:
    der = sl.derive_expected_risk_isotropic()
    assert der.near_interpolation_threshold == sp.oo
    assert der.noiseless_at_threshold == 0
    g, psi = syms.gamma, syms.psi
    want = (1 - 1 / g) * syms.delta_sq + syms.sigma2 / (g - 1)
    assert sp.simplify(der.proportional_under - want) == 0
    assert sp.simplify(der.proportional_over - syms.sigma2 / (psi - 1)) == 0


def test_proportional_limit_matches_l4_isotropic() -> None:
    l3 = sl.derive_expected_risk_isotropic().proportional_under
    l4 = sl.derive_asymptotic_isotropic()
    assert sp.simplify(l3 - (l4.bias + l4.variance).subs(syms.lam, 1)) == 0


def test_expected_risk_isotropic_values() -> None:
    assert sl.expected_risk_isotropic(2.0, n=10, d=20) == pytest.approx(1.0, rel=1e-15)
    assert sl.expected_risk_isotropic(2.0, n=10, d=20, noise_var=0.5) == pytest.approx(
        1.0 + 0.5 * 10 / 9, rel=1e-14
    )
    assert sl.expected_risk_isotropic(2.0, n=30, d=20, noise_var=0.5) == pytest.approx(
        0.5 * 20 / 9, rel=1e-14
    )
    assert sl.expected_risk_isotropic(2.0, n=20, d=20) == 0.0  # noiseless, n = d: θ_T recovered
    assert sl.expected_risk_isotropic(2.0, n=19, d=20) == pytest.approx(0.1, rel=1e-14)


@pytest.mark.parametrize("n", [19, 20, 21])
def test_expected_risk_is_infinite_near_threshold_with_noise(n: int) -> None:
    with pytest.raises(InputError, match="infinite"):
        sl.expected_risk_isotropic(1.0, n=n, d=20, noise_var=0.1)


def test_sample_complexity_derivation() -> None:
    sc = sl.derive_sample_complexity()
    d, D, T, eps = syms.d, syms.delta_sq, syms.theta_t_sq, syms.epsilon
    assert sp.simplify(sc.n_finetune - d * (1 - eps / D)) == 0
    assert sp.simplify(sc.n_scratch - d * (1 - eps / T)) == 0
    assert sp.simplify(sc.ratio - (1 - eps / D) / (1 - eps / T)) == 0


@given(
    d=st.integers(1, 200),
    delta_sq=st.floats(0.01, 10.0),
    frac=st.floats(0.001, 0.999),
)
def test_sample_complexity_is_the_smallest_sufficient_n(
    d: int, delta_sq: float, frac: float
) -> None:
    eps = frac * delta_sq
    n = sl.sample_complexity(delta_sq, d=d, epsilon=eps)
    assert 0 <= n <= d
    assert sl.expected_risk_isotropic(delta_sq, n=n, d=d) <= eps * (1 + 1e-9)
    if n > 0:
        assert sl.expected_risk_isotropic(delta_sq, n=n - 1, d=d) > eps * (1 - 1e-9)


def test_sample_complexity_ratio_prefers_a_close_source() -> None:
    # ‖Δ‖² = 0.5 vs ‖θ_T‖² = 2: fine-tuning needs fewer samples for every reachable ε.
    assert sl.sample_complexity_ratio(0.5, 2.0, d=100, epsilon=0.25) == pytest.approx(50 / 88)
    assert sl.sample_complexity(0.5, d=100, epsilon=1.0) == 0


# --------------------------------------------------------------------------------------
# L4
# --------------------------------------------------------------------------------------


def test_asymptotic_isotropic_closed_form() -> None:
    a = sl.derive_asymptotic_isotropic()
    g, lam = syms.gamma, syms.lam
    assert sp.simplify(a.c0 - 1 / (g * (g - 1) * lam)) == 0
    assert sp.simplify(a.bias - lam * syms.delta_sq * (1 - 1 / g)) == 0
    assert sp.simplify(a.variance - syms.sigma2 / (g - 1)) == 0
    assert sp.simplify(a.fixed_point.lhs - a.fixed_point.rhs.subs(syms.c0, a.c0)) == 0


@given(
    gamma=st.floats(1.05, 20.0),
    p=st.floats(0.05, 0.95),
    l1=st.floats(0.1, 10.0),
    l2=st.floats(0.1, 10.0),
    d=st.integers(1, 10).map(lambda k: 20 * k),
)
def test_two_level_root_matches_brent(gamma: float, p: float, l1: float, l2: float, d: int) -> None:
    _, root = sl.derive_two_level_fixed_point()
    l1s, l2s, ps = sp.symbols("lambda1 lambda2 p", positive=True)
    p = round(p * d) / d
    if p in (0.0, 1.0):
        p = 0.5
    closed = float(root.subs({syms.gamma: gamma, ps: p, l1s: l1, l2s: l2}))
    k = round(p * d)
    lam = np.array([l1] * k + [l2] * (d - k))
    assert sl.hmrt_c0(lam, gamma) == pytest.approx(closed, rel=1e-12)


def test_asymptotic_risk_isotropic_values() -> None:
    bias, var = sl.asymptotic_risk(np.full(100, 2.0), np.full(100, 0.1), 4.0, 0.3)
    assert bias == pytest.approx(2.0 * 1.0 * 0.75, rel=1e-13)
    assert var == pytest.approx(0.3 / 3.0, rel=1e-13)


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: sl.finetuned_weights(np.ones((2, 3)), np.ones(3), np.ones(3)),
            "one label per row",
        ),
        (
            lambda: sl.finetuned_weights(np.ones((2, 3)), np.ones(2), np.ones(2)),
            "theta_s must have length 3",
        ),
        (
            lambda: sl.finetuned_weights(np.ones(3), np.ones(2), np.ones(3)),
            "X must be 2-dimensional",
        ),
        (lambda: sl.finetuned_weights([[1, np.nan]], [1], [0, 0]), "X must contain only finite"),
        (lambda: sl.excess_risk([1, 2], [0, 0], [[1, 2], [0, 1]]), "cov must be symmetric"),
        (lambda: sl.excess_risk([1, 2], [0, 0], [[1, 0], [0, -1]]), "positive semi-definite"),
        (lambda: sl.excess_risk([1, 2], [0, 0], np.eye(3)), r"cov must have shape \(2, 2\)"),
        (lambda: sl.expected_risk_isotropic(1.0, n=-1, d=5), "n must be an integer >= 0"),
        (
            lambda: sl.expected_risk_isotropic(1.0, n=2, d=5, noise_var=-1.0),
            "noise_var must be >= 0",
        ),
        (lambda: sl.expected_risk_isotropic(1.0, n=2.5, d=5), "n must be an integer"),
        (lambda: sl.asymptotic_risk([1.0, 2.0], [1.0, 0.0], 0.5), "gamma = d/n must be > 1"),
        (
            lambda: sl.asymptotic_risk([1.0, -2.0], [1.0, 0.0], 2.0),
            "eigenvalues must be strictly positive",
        ),
        (lambda: sl.asymptotic_risk([1.0, 2.0], [1.0], 2.0), "delta_coords must have length 2"),
        (lambda: sl.gd_stability_limit(np.zeros((2, 3))), "X must not be all zeros"),
        (
            lambda: sl.gd_iterate(np.ones((2, 3)), np.ones(2), np.ones(3), -0.1, 3),
            "step must be > 0",
        ),
        (lambda: sl.sample_complexity(1.0, d=10, epsilon=0.0), "epsilon must be > 0"),
        (
            lambda: sl.risk_decomposition(np.ones((2, 3)), np.ones(3), np.ones(3), np.ones(3)),
            "y must have one label per row of X",
        ),
    ],
)
def test_bad_input_raises_named_error(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]
