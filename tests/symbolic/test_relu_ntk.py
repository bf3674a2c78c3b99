"""symbolic.relu_ntk: derivations equal their textbook forms; evaluations are accurate.

Oracles: symbolic identity (SymPy), high precision (mpmath: 40 digits for the absolute and
80 for the relative accuracy of the kernels near u = ±1) and exact special cases (the
predictor interpolates its training data).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import scipy.linalg
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import symbolic.relu_ntk as sr
from finetune_theory import InputError
from symbolic import _symbols as syms

# Float64 evaluation of well-conditioned expressions: agreement to a few hundred ulp.
FLOAT_RTOL = 1e-13
# The linear algebra of n ≤ 30 well-separated unit vectors (κ(H) ≲ 1e3): rounding ≲ 1e-12.
LINALG_RTOL = 1e-10

u, th = syms.cos_sim, syms.angle


def _sphere(n: int, d: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed).standard_normal((n, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def _pair(theta: float, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, 2)))
    return q[:, 0], math.cos(theta) * q[:, 0] + math.sin(theta) * q[:, 1]


def _mp_reference(x: np.ndarray, z: np.ndarray) -> tuple[mp.mpf, mp.mpf]:
    """(H, E[relu relu]) at 40 digits from the exact float entries, via atan2 (no cancellation)."""
    with mp.workdps(40):
        xm, zm = [mp.mpf(v) for v in x], [mp.mpf(v) for v in z]
        dot = mp.fsum(a * b for a, b in zip(xm, zm, strict=True))
        nx, nz = mp.sqrt(mp.fsum(a * a for a in xm)), mp.sqrt(mp.fsum(b * b for b in zm))
        diff = mp.sqrt(mp.fsum((a / nx - b / nz) ** 2 for a, b in zip(xm, zm, strict=True)))
        summ = mp.sqrt(mp.fsum((a / nx + b / nz) ** 2 for a, b in zip(xm, zm, strict=True)))
        angle = 2 * mp.atan2(diff, summ)
        h = dot * (mp.pi - angle) / (2 * mp.pi)
        j = nx * nz * (mp.sin(angle) + (mp.pi - angle) * mp.cos(angle)) / (2 * mp.pi)
        return h, j


# --------------------------------------------------------------------------------------
# K1 derivation
# --------------------------------------------------------------------------------------


def test_orthant_probability_from_polar_integration() -> None:
    der = sr.derive_relu_kernels()
    assert der.total_mass == 1
    assert der.half_plane == sp.Interval(-sp.pi / 2, sp.pi / 2)
    assert der.wedge == (th - sp.pi / 2, sp.pi / 2)  # width π − θ for 0 < θ < π
    assert sp.simplify(der.orthant_probability - der.orthant_textbook) == 0
    assert sp.simplify(der.relu_expectation - der.relu_expectation_textbook) == 0
    assert der.at_zero_angle == (sp.Rational(1, 2), sp.Rational(1, 2))
    assert der.at_antipodes == (0, 0)


def test_gram_entry_arccos_and_arcsin_forms() -> None:
    der = sr.derive_relu_kernels()
    assert sp.simplify(der.gram_entry - der.textbook) == 0
    # STYLE.md habit 4: simplify alone leaves acos + asin − π/2 uncancelled ...
    assert sp.simplify(der.gram_entry - der.arcsin_form) != 0
    # ... the identity appears after rewriting into the arcsin basis.
    assert sp.simplify((der.gram_entry - der.arcsin_form).rewrite(sp.asin)) == 0


def test_ntk_entry_is_the_sum_of_both_layers() -> None:
    der = sr.derive_relu_kernels()
    want = (u * (sp.pi - sp.acos(u)) + sp.sqrt(1 - u**2) + (sp.pi - sp.acos(u)) * u) / (2 * sp.pi)
    assert sp.simplify(der.ntk_entry - want) == 0


def test_lambdified_forms_agree_with_the_stable_gram() -> None:
    der = sr.derive_relu_kernels()
    arccos = sp.lambdify(u, der.textbook, "numpy")
    arcsin = sp.lambdify(u, der.arcsin_form, "numpy")
    ntk = sp.lambdify(u, der.ntk_entry, "numpy")
    for theta in np.linspace(0.45, math.pi - 0.45, 25):  # |u| ≤ 0.9: arccos well conditioned
        x, z = _pair(float(theta))
        c = float(x @ z)
        h = sr.first_layer_ntk(x[None], z[None])[0, 0]
        assert h == pytest.approx(arccos(c), rel=FLOAT_RTOL, abs=1e-15)
        assert h == pytest.approx(arcsin(c), rel=FLOAT_RTOL, abs=1e-15)
        assert sr.full_ntk(x[None], z[None])[0, 0] == pytest.approx(ntk(c), rel=FLOAT_RTOL)


# --------------------------------------------------------------------------------------
# K1 numerics: stability near u = ±1
# --------------------------------------------------------------------------------------


def test_diagonal_is_exact() -> None:
    X = _sphere(200, 50, 1)
    assert np.max(np.abs(np.diag(sr.first_layer_ntk(X)) - 0.5)) <= 1e-15
    assert np.array_equal(sr.angles(X).diagonal(), np.zeros(200))


EPS = float(np.finfo(np.float64).eps)
#: Digits of the mpmath reference. The textbook forms are evaluated as written, from
#: θ = acos(x·z/(‖x‖‖z‖)): near u = ±1 acos amplifies the rounding of u by 1/sin θ ≤ 1e15 and
#: sin θ + (π − θ)cos θ ≈ (π − θ)³/3 cancels ~2·log10(1/(π − θ)) ≤ 30 digits, so 80 digits
#: leave > 30 correct ones, far beyond float64.
REFERENCE_DPS = 80
#: The reference takes the exact float inputs, so input rounding is not an error here; what
#: remains is the package's own arithmetic. Its angle (Kahan's atan2 formula, ψ = π − θ
#: computed directly) claims a relative error of a few ulp on [0, π] (measured ≤ 1.4 ulp).
ANGLE_RTOL = 8 * EPS
#: Kernel values: the angle's relative error times the kernel's condition number in it —
#: 1 for H^∞ ∝ ψ and ≤ 3 for the NNGP term ∝ ψ³ near u = −1, ≈ θ/π ≪ 1 near u = 1 — plus
#: ≲ 4 ulp from the dot product x·z, the series of sin ψ − ψ cos ψ and the final products
#: (measured ≤ 5.5 ulp). A naive π − arccos(u) is off by ≥ 1e-13 relative at these angles.
KERNEL_RTOL = 3 * ANGLE_RTOL + 8 * EPS

#: Inputs at angle θ with u = cos θ within ~1e-8 of ±1 or closer, where arccos′ blows up.
NEAR_POLES = [
    1e-15,
    1e-12,
    1e-8,
    1e-4,
    *(math.pi - 10.0**-k for k in (4, 8, 12, 15)),
]


def _mp_textbook(x: np.ndarray, z: np.ndarray) -> tuple[mp.mpf, ...]:
    """(θ, H^∞, E[relu relu], full NTK) of the exact float vectors x, z: the textbook
    H^∞ = xᵀz(π − θ)/(2π) and ‖x‖‖z‖(sin θ + (π − θ)cos θ)/(2π) at REFERENCE_DPS digits."""
    with mp.workdps(REFERENCE_DPS):
        xm, zm = [mp.mpf(float(v)) for v in x], [mp.mpf(float(v)) for v in z]
        dot = mp.fsum(a * b for a, b in zip(xm, zm, strict=True))
        nx, nz = mp.sqrt(mp.fsum(a * a for a in xm)), mp.sqrt(mp.fsum(b * b for b in zm))
        theta = mp.acos(dot / (nx * nz))
        h = dot * (mp.pi - theta) / (2 * mp.pi)
        j = nx * nz * (mp.sin(theta) + (mp.pi - theta) * mp.cos(theta)) / (2 * mp.pi)
        return theta, h, j, h + j


def _relative_errors(theta: float, d: int, seed: int) -> dict[str, float]:
    """Relative errors of angles, first_layer_ntk, nngp_gram, full_ntk vs :func:`_mp_textbook`."""
    x, z = _pair(theta, d=d, seed=seed)
    refs = _mp_textbook(x, z)
    nominal_psi = min(theta, math.pi - theta)  # the small one of θ, π − θ
    exact_psi = float(min(refs[0], mp.pi - refs[0]))
    # Rounding z moves the small angle by ≲ 1e-16 absolute: the intended regime is reached.
    assert abs(exact_psi - nominal_psi) <= 0.2 * nominal_psi
    got = [
        fn(x[None], z[None])[0, 0]
        for fn in (sr.angles, sr.first_layer_ntk, sr.nngp_gram, sr.full_ntk)
    ]
    with mp.workdps(REFERENCE_DPS):
        errs = [float(abs((mp.mpf(float(g)) - r) / r)) for g, r in zip(got, refs, strict=True)]
    return dict(zip(("angle", "gram", "nngp", "ntk"), errs, strict=True))


#: Around the switch of E[relu relu] from its series (ψ < 1) to the direct form, where the
#: series is longest and the direct form cancels most; arccos is well conditioned here.
SERIES_SWITCH = [math.pi - 0.5, math.pi - (1 - 1e-9), math.pi - (1 + 1e-9)]


@pytest.mark.parametrize("d", [3, 50])
@pytest.mark.parametrize("theta", NEAR_POLES + SERIES_SWITCH)
def test_kernels_near_u_plus_minus_one_are_relatively_accurate(theta: float, d: int) -> None:
    for seed in range(3):
        err = _relative_errors(theta, d, seed)
        assert err["angle"] <= ANGLE_RTOL, err
        assert max(err["gram"], err["nngp"], err["ntk"]) <= KERNEL_RTOL, err


def _naive_angles(
    Xa: np.ndarray, xn: np.ndarray, Za: np.ndarray, zn: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """θ = arccos(x̂ᵀẑ) and ψ = π − arccos(x̂ᵀẑ): the unstable textbook angle."""
    c = np.clip((Xa / xn[:, None]) @ (Za / zn[:, None]).T, -1.0, 1.0)
    return np.arccos(c), np.pi - np.arccos(c)


def test_the_relative_check_rejects_a_naive_arccos_angle(monkeypatch: pytest.MonkeyPatch) -> None:
    # Power of the test above: with the naive angle swapped in, every near-pole angle
    # fails it (angle or kernel), by orders of magnitude.
    monkeypatch.setattr(sr, "_stable_angles", _naive_angles)
    for theta in NEAR_POLES:
        err = _relative_errors(theta, 3, 0)
        assert max(err["angle"] / ANGLE_RTOL, err["gram"] / KERNEL_RTOL) > 10.0, (theta, err)


@pytest.mark.parametrize(
    "theta",
    [
        0.0,
        1e-15,
        1e-12,
        1e-8,
        1e-4,
        0.3,
        1.0,
        math.pi / 2,
        2.5,
        *(math.pi - 10.0**-k for k in (4, 8, 12)),
        math.pi,
    ],
)
def test_kernels_match_40_digit_reference(theta: float) -> None:
    x, z = _pair(theta, d=5, seed=2)
    h_ref, j_ref = _mp_reference(x, z)
    h = sr.first_layer_ntk(x[None], z[None])[0, 0]
    j = sr.nngp_gram(x[None], z[None])[0, 0]
    # Absolute accuracy of a few ulp everywhere: the angle's error is bounded by the
    # rounding of x̂ = x/‖x‖ (not by arccos′, which is infinite at u = ±1) ...
    assert abs(h - float(h_ref)) <= 1e-15
    # ... and likewise for the NNGP term.
    assert abs(j - float(j_ref)) <= 1e-15


@given(n=st.integers(1, 12), d=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_gram_matrices_are_symmetric_psd_with_known_diagonal(n: int, d: int, seed: int) -> None:
    X = _sphere(n, d, seed)
    for fn, diag in ((sr.first_layer_ntk, 0.5), (sr.nngp_gram, 0.5), (sr.full_ntk, 1.0)):
        K = fn(X)
        assert np.array_equal(K, K.T)
        assert np.allclose(np.diag(K), diag, rtol=0, atol=1e-15)
        assert np.linalg.eigvalsh(K)[0] >= -1e-13
    assert np.allclose(sr.full_ntk(X), sr.first_layer_ntk(X) + sr.nngp_gram(X), rtol=0, atol=1e-15)
    assert np.all((sr.orthant_probability(X) >= 0) & (sr.orthant_probability(X) <= 0.5))


def test_cross_kernel_is_a_block_of_the_joint_gram() -> None:
    X, Z = _sphere(5, 4, 3), _sphere(3, 4, 4)
    joint = sr.first_layer_ntk(np.vstack([X, Z]))
    assert np.allclose(sr.first_layer_ntk(X, Z), joint[:5, 5:], rtol=0, atol=1e-16)
    assert np.allclose(sr.first_layer_ntk(Z, X), joint[5:, :5], rtol=0, atol=1e-16)


def test_normalize_projects_rows_onto_the_sphere() -> None:
    X = _sphere(6, 3, 5)
    scaled = X * np.arange(1.0, 7.0)[:, None]
    assert np.allclose(
        sr.first_layer_ntk(scaled, normalize=True), sr.first_layer_ntk(X), rtol=0, atol=1e-15
    )
    assert np.allclose(sr.full_ntk(scaled, normalize=True), sr.full_ntk(X), rtol=0, atol=1e-15)


# --------------------------------------------------------------------------------------
# K2
# --------------------------------------------------------------------------------------


def test_kernel_series_and_parity() -> None:
    k2 = sr.derive_linear_teacher_norm()
    assert sp.simplify(k2.kernel - sr.derive_relu_kernels().arcsin_form) == 0
    want = u / 4 + u**2 / (2 * sp.pi) + u**4 / (12 * sp.pi) + 3 * u**6 / (80 * sp.pi)
    assert sp.expand(k2.series.removeO() - want - 5 * u**8 / (224 * sp.pi)) == 0
    assert k2.linear_coefficient == sp.Rational(1, 4)
    assert k2.odd_part == u / 4  # so k(u) − u/4 is even
    assert k2.even_coefficient_positive is True
    # The fps general coefficient reproduces the series coefficients of u·asin(u)/(2π).
    poly = sp.Poly(k2.series.removeO() - u / 4, u)
    j = sp.Symbol("j", integer=True, nonnegative=True)
    coeff = k2.even_coefficient.subs(k2.even_coefficient.free_symbols.pop(), j)
    for jj in range(4):
        assert sp.simplify(coeff.subs(j, jj) - poly.coeff_monomial(u ** (2 * jj + 2))) == 0


def test_linear_teacher_norm_derivation() -> None:
    k2 = sr.derive_linear_teacher_norm()
    assert k2.variational_value == syms.residual.T * syms.ntk.I * syms.residual
    assert k2.dual_stationary == sp.Symbol("b", real=True) / syms.lin_coeff
    assert k2.dual_curvature == -2 * syms.lin_coeff
    assert k2.dual_value == syms.beta_sq / syms.lin_coeff
    assert sp.simplify(k2.bound - k2.textbook) == 0


@given(
    n=st.integers(1, 30),
    d=st.integers(2, 10),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.01, 100.0),
)
def test_quadratic_form_of_a_linear_teacher_is_below_four_beta_squared(
    n: int, d: int, seed: int, scale: float
) -> None:
    X = _sphere(n, d, seed)
    beta = scale * np.random.default_rng(seed + 1).standard_normal(d)
    q = sr.kernel_norm_sq(X, X @ beta, ridge=1e-12)  # ridge: coincident points allowed
    assert q <= sr.linear_teacher_norm_sq(beta) * (1 + LINALG_RTOL)
    assert sr.linear_teacher_norm_sq(beta) == pytest.approx(4 * beta @ beta, rel=1e-15)


def test_quadratic_form_approaches_the_bound_as_n_grows() -> None:
    X = _sphere(400, 5, 7)
    beta = np.random.default_rng(8).standard_normal(5)
    q = [sr.kernel_norm_sq(X[:k], X[:k] @ beta) / (4 * beta @ beta) for k in (5, 25, 100, 400)]
    assert q == sorted(q) and q[-1] > 0.99 and q[-1] <= 1.0


# --------------------------------------------------------------------------------------
# K3 derivation
# --------------------------------------------------------------------------------------


def test_finetuned_predictor_is_l1_on_the_ntk_features() -> None:
    k3 = sr.derive_finetuned_predictor()
    Phi, r, K, kx = syms.features, syms.residual, syms.ntk, syms.ntk_x
    assert k3.update == Phi.T * (Phi * Phi.T).I * r
    assert k3.predictor == kx * K.I * r
    assert k3.distance_sq == r.T * K.I * r


def test_finite_time_solutions() -> None:
    k3 = sr.derive_finetuned_predictor()
    n, kap, t, k, eta = syms.n, syms.kernel_eig, syms.flow_time, syms.k, syms.eta
    rho = sp.Symbol("rho", real=True)
    z = k3.flow_training
    assert sp.simplify(sp.diff(z, t) + (kap / n) * (z - rho)) == 0
    assert z.subs(t, 0) == 0
    assert sp.simplify(k3.flow_factor - (1 - sp.exp(-kap * t / n)) / kap) == 0
    assert k3.flow_limit == 1 / kap
    g = k3.gd_training
    assert sp.simplify(g.subs(k, k + 1) - g + (eta * kap / n) * (g - rho)) == 0
    assert sp.simplify(k3.gd_factor - (1 - (1 - eta * kap / n) ** k) / kap) == 0
    assert sp.simplify(k3.flow_distance_factor - (1 - sp.exp(-kap * t / n)) ** 2 / kap) == 0
    assert sp.limit(k3.flow_distance_factor, t, sp.oo) == 1 / kap
    assert sp.simplify(k3.linear_teacher_bound - k3.bound_textbook) == 0


# --------------------------------------------------------------------------------------
# K3 evaluation
# --------------------------------------------------------------------------------------


def _problem(n: int = 8, d: int = 6, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X, X_test = _sphere(n, d, seed), _sphere(5, d, seed + 1)
    y = X @ rng.standard_normal(d)
    f_s, f_s_test = 0.1 * rng.standard_normal(n), 0.1 * rng.standard_normal(5)
    return X, y, f_s, X_test, f_s_test


def test_predictor_interpolates_and_matches_the_normal_equations() -> None:
    X, y, f_s, X_test, f_s_test = _problem()
    at_train = sr.finetuned_predictor(X, y, f_s, X, f_s)
    assert np.allclose(at_train, y, rtol=0, atol=LINALG_RTOL)
    H, Ht = sr.first_layer_ntk(X), sr.first_layer_ntk(X_test, X)
    want = f_s_test + Ht @ np.linalg.solve(H, y - f_s)
    got = sr.finetuned_predictor(X, y, f_s, X_test, f_s_test)
    assert np.allclose(got, want, rtol=LINALG_RTOL, atol=LINALG_RTOL)
    full = sr.finetuned_predictor(X, y, f_s, X_test, f_s_test, layers="both")
    K, Kt = sr.full_ntk(X), sr.full_ntk(X_test, X)
    assert np.allclose(full, f_s_test + Kt @ np.linalg.solve(K, y - f_s), atol=LINALG_RTOL)


def test_finite_time_forms_match_matrix_functions_and_iteration() -> None:
    X, y, f_s, X_test, f_s_test = _problem()
    n = X.shape[0]
    H, Ht = sr.first_layer_ntk(X), sr.first_layer_ntk(X_test, X)
    r = y - f_s
    t = 7.3
    flow = sr.finetuned_predictor(X, y, f_s, X_test, f_s_test, time=t)
    phi = np.linalg.solve(H, np.eye(n) - scipy.linalg.expm(-H * t / n))
    assert np.allclose(flow, f_s_test + Ht @ phi @ r, rtol=0, atol=LINALG_RTOL)
    # Gradient descent on the linearised model: the test increment accumulates (η/n)k(x,X)(y − z).
    eta, steps = 0.9 * n / np.linalg.eigvalsh(H)[-1], 13
    z, test = f_s.copy(), f_s_test.copy()
    for _ in range(steps):
        test += (eta / n) * Ht @ (y - z)
        z += (eta / n) * H @ (y - z)
    gd = sr.finetuned_predictor(X, y, f_s, X_test, f_s_test, step=eta, steps=steps)
    assert np.allclose(gd, test, rtol=0, atol=LINALG_RTOL)
    assert np.array_equal(
        sr.finetuned_predictor(X, y, f_s, X_test, f_s_test, step=eta, steps=0), f_s_test
    )
    late = sr.finetuned_predictor(X, y, f_s, X_test, f_s_test, time=1e6)
    assert np.allclose(late, sr.finetuned_predictor(X, y, f_s, X_test, f_s_test), atol=1e-9)


def test_distance_term_and_bound() -> None:
    X, y, f_s, _, _ = _problem()
    r = y - f_s
    q = float(r @ np.linalg.solve(sr.first_layer_ntk(X), r))
    assert sr.distance_travelled(X, y, f_s) == pytest.approx(math.sqrt(q), rel=LINALG_RTOL)
    assert sr.kernel_norm_sq(X, r) == pytest.approx(q, rel=LINALG_RTOL)
    assert sr.generalization_term(X, y, f_s) == pytest.approx(
        math.sqrt(2 * q / X.shape[0]), rel=LINALG_RTOL
    )
    ts, tt = np.ones(4), np.array([1.0, 2.0, 3.0, 4.0])
    assert sr.linear_teacher_bound(ts, tt, 9) == pytest.approx(
        2 * math.sqrt(2) * math.sqrt(14) / 3, rel=1e-15
    )
    assert sr.linear_teacher_bound(ts, ts, 9) == 0.0
    # With u_S = Xθ_S and y = Xθ_T the term is below the bound (K2).
    d = X.shape[1]
    ts, tt = np.random.default_rng(1).standard_normal((2, d))
    term = sr.generalization_term(X, X @ tt, X @ ts)
    assert term <= sr.linear_teacher_bound(ts, tt, X.shape[0]) * (1 + LINALG_RTOL)


def test_singular_gram_is_reported_and_ridge_offered() -> None:
    X, y, f_s, X_test, f_s_test = _problem()
    Xd = np.vstack([X, X[:1]])  # a duplicated row: H^∞ is singular
    yd, fd = np.append(y, y[0]), np.append(f_s, f_s[0])
    with pytest.raises(InputError, match=r"singular.*ridge"):
        sr.finetuned_predictor(Xd, yd, fd, X_test, f_s_test)
    with pytest.raises(InputError, match="singular"):
        sr.distance_travelled(Xd, yd, fd)
    ridged = sr.finetuned_predictor(Xd, yd, fd, X_test, f_s_test, ridge=1e-10)
    plain = sr.finetuned_predictor(X, y, f_s, X_test, f_s_test)
    assert np.allclose(ridged, plain, atol=1e-7)
    # Finite-time forms need no inverse.
    sr.finetuned_predictor(Xd, yd, fd, X_test, f_s_test, time=3.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sr.first_layer_ntk(2 * np.eye(3)), r"X must have unit-norm rows.*normalize=True"),
        (lambda: sr.first_layer_ntk(np.eye(3), np.ones((2, 3))), "Z must have unit-norm rows"),
        (lambda: sr.first_layer_ntk(np.eye(3), np.eye(2)), "Z must have 3 columns"),
        (
            lambda: sr.first_layer_ntk(np.zeros((2, 3)), normalize=True),
            "X must not contain a zero row",
        ),
        (lambda: sr.full_ntk([[1.0, np.nan]]), "X must contain only finite"),
        (lambda: sr.first_layer_ntk(np.ones(3)), "X must be 2-dimensional"),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(2), np.ones(3), np.eye(3), np.ones(3)
            ),
            "one label per row",
        ),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(3), np.ones(2), np.eye(3), np.ones(3)
            ),
            "f_source_train must have length 3",
        ),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(3), np.ones(3), np.eye(2), np.ones(2)
            ),
            "X_test must have 3 columns",
        ),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(3), np.ones(3), np.eye(3), np.ones(3), layers="rbf"
            ),
            "layers must be 'first'",
        ),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(3), np.ones(3), np.eye(3), np.ones(3), step=0.1
            ),
            "step and steps must be given together",
        ),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(3), np.ones(3), np.eye(3), np.ones(3), time=1.0, step=1, steps=2
            ),
            "either time",
        ),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(3), np.ones(3), np.eye(3), np.ones(3), time=1.0, ridge=0.1
            ),
            "ridge applies to the t -> infinity limit",
        ),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(3), np.ones(3), np.eye(3), np.ones(3), time=-1.0
            ),
            "time must be > 0",
        ),
        (
            lambda: sr.finetuned_predictor(
                np.eye(3), np.ones(3), np.ones(3), np.eye(3), np.ones(3), ridge=-1.0
            ),
            "ridge must be >= 0",
        ),
        (
            lambda: sr.predictor_from_gram(-np.eye(2), np.ones((1, 2)), np.ones(2), np.ones(1)),
            "K must be positive semi-definite",
        ),
        (
            lambda: sr.predictor_from_gram(np.eye(2), np.ones((1, 3)), np.ones(2), np.ones(1)),
            "K_test must have 2 columns",
        ),
        (lambda: sr.linear_teacher_bound(np.ones(2), np.ones(3), 4), "theta_t must have length 2"),
        (lambda: sr.linear_teacher_bound(np.ones(2), np.ones(2), 0), "n must be an integer >= 1"),
        (lambda: sr.linear_teacher_norm_sq([np.inf]), "beta must contain only finite"),
    ],
)
def test_bad_input_raises_named_error(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]


def test_inputs_are_not_mutated() -> None:
    X, y, f_s, X_test, f_s_test = _problem()
    copies = [a.copy() for a in (X, y, f_s, X_test, f_s_test)]
    sr.finetuned_predictor(X * 3.0, y, f_s, X_test, f_s_test, normalize=True)
    for a, b in zip((X, y, f_s, X_test, f_s_test), copies, strict=True):
        assert np.array_equal(a, b)
