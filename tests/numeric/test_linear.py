"""numeric.linear and numeric.data: the optimiser, its stopping rule, errors and seeding.

These tests use only NumPy facts (normal equations, projections), never symbolic.*; the
pairing with closed forms lives in verify/ and tests/verify/.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numeric.data as nd
import numeric.linear as nl
from finetune_theory import ConvergenceError, InputError

# GD at rtol 1e-14 with κ ≤ ~100 for these designs: relative error ≤ κ·1e-14 ≪ 1e-10.
GD_RTOL = 1e-10


def _problem(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = nd.sample_inputs(n, d, rng)
    return X, rng.standard_normal(n), rng.standard_normal(d)


@given(seed=st.integers(0, 2**32 - 1), d=st.integers(2, 30), data=st.data())
def test_gd_interpolates_and_keeps_the_null_space_part(
    seed: int, d: int, data: st.DataObject
) -> None:
    n = data.draw(st.integers(1, max(1, d // 2)))
    X, y, ts = _problem(seed, n, d)
    run = nl.fine_tune(X, y, ts)
    assert run.all_converged
    scale = 1 + np.linalg.norm(y)
    assert np.linalg.norm(X @ run.theta - y) <= GD_RTOL * scale
    # Every gradient lies in the row space, so the null-space component of θ_S survives.
    q, _ = np.linalg.qr(X.T)  # orthonormal basis of the row space
    null_part = lambda v: v - q @ (q.T @ v)  # noqa: E731
    assert np.allclose(
        null_part(run.theta), null_part(ts), rtol=0, atol=GD_RTOL * (1 + np.linalg.norm(ts))
    )


def test_gd_solves_normal_equations_when_overdetermined() -> None:
    X, y, ts = _problem(5, 60, 10)
    run = nl.fine_tune(X, y, ts)
    lstsq = np.linalg.solve(X.T @ X, X.T @ y)
    assert np.linalg.norm(run.theta - lstsq) <= GD_RTOL * np.linalg.norm(lstsq)


def test_loss_history_decreases_and_result_is_frozen() -> None:
    X, y, ts = _problem(1, 8, 20)
    run = nl.fine_tune(X, y, ts)
    hist = run.loss_history
    assert hist.shape == (int(run.steps) + 1,)
    assert np.all(np.diff(hist) <= 1e-15 * hist[0])
    with pytest.raises(AttributeError):
        run.steps = 0  # type: ignore[misc]


def test_inputs_are_not_mutated() -> None:
    X, y, ts = _problem(2, 5, 9)
    copies = X.copy(), y.copy(), ts.copy()
    nl.fine_tune(X, y, ts)
    for a, b in zip((X, y, ts), copies, strict=True):
        assert np.array_equal(a, b)


def test_batched_run_equals_single_runs() -> None:
    rng = np.random.default_rng(4)
    Xs = nd.sample_inputs(6, 15, rng, batch=5)
    ys = rng.standard_normal((5, 6))
    ts = rng.standard_normal(15)
    many = nl.fine_tune_many(Xs, ys, ts)
    for i in range(5):
        one = nl.fine_tune(Xs[i], ys[i], ts)
        assert one.steps == many.steps[i]
        assert np.allclose(one.theta, many.theta[i], rtol=1e-13, atol=1e-13)


def _reference_limit(X: np.ndarray) -> float:
    """2/λ_max(XᵀX/n) from a symmetric eigensolver: not the trainer's SVD of the rescaled X."""
    return 2.0 / float(np.linalg.eigvalsh(X.T @ X / X.shape[0])[-1])


#: Relative distance from the reference limit at which a step must be accepted (below) or
#: rejected (above). eigvalsh of XᵀX/n and the trainer's SVD agree to ~10·eps (a symmetric
#: matrix's top eigenvalue is perfectly conditioned), so 1e-9 cannot misfire, yet a threshold
#: at any other multiple of 1/λ_max (or a wrong rescaling of the user step) is caught.
THRESHOLD_MARGIN = 1e-9
#: "Just above / just below" the limit for the divergence test: the top mode of the error
#: is multiplied by 1 − η·λ_max = −(1 ± 2·STEP_OFFSET) per step, so STEP_OFFSET_STEPS steps
#: change it by ≈ exp(±40) — far beyond the 1e10 / 1e-6 thresholds asserted (the other
#: modes contract faster, by |1 − ηλ_i| ≤ max(0.98, 1 − 1.98/κ) per step, κ ≈ 22 here).
STEP_OFFSET = 1e-2
STEP_OFFSET_STEPS = 2_000


@pytest.mark.parametrize("scale", [1.0, 3.0e100, 3.0e-100])
def test_step_above_stability_limit_is_rejected(scale: float) -> None:
    # Scales that are not powers of two check the trainer's conversion of the user step
    # between the caller's units and its rescaled problem.
    X, y, ts = _problem(3, 5, 10)
    X, y = X * scale, y * scale
    limit = _reference_limit(X)
    run = nl.fine_tune(X, y, ts, step=0.99 * limit)  # stable: converges
    assert run.all_converged and float(run.step) == pytest.approx(0.99 * limit, rel=1e-14)
    below, above = (1 - THRESHOLD_MARGIN) * limit, (1 + THRESHOLD_MARGIN) * limit
    nl.fine_tune(X, y, ts, step=below, max_steps=1, strict=False)
    with pytest.raises(InputError, match="stability limit"):
        nl.fine_tune(X, y, ts, step=above, max_steps=1, strict=False)


def test_gd_just_above_the_limit_diverges_and_just_below_converges() -> None:
    # The limit is a property of the iteration θ ← θ − η∇L, checked here by running it with
    # the package's gradient at η = (1 ± STEP_OFFSET)·2/λ_max(XᵀX/n).
    X, y, ts = _problem(3, 5, 10)
    limit = _reference_limit(X)
    r0 = float(np.linalg.norm(X @ ts - y))
    final = {}
    for sign in (-1.0, 1.0):
        eta = (1.0 + sign * STEP_OFFSET) * limit
        theta = ts.copy()
        for _ in range(STEP_OFFSET_STEPS):
            theta = theta - eta * nl.loss_gradient(X, y, theta)[1]
        final[sign] = float(np.linalg.norm(X @ theta - y))
    assert final[-1.0] <= 1e-6 * r0
    assert final[1.0] >= 1e10 * r0


def test_budget_exhaustion_raises_or_reports() -> None:
    X, y, ts = _problem(3, 5, 10)
    with pytest.raises(ConvergenceError, match="did not converge in max_steps=3"):
        nl.fine_tune(X, y, ts, max_steps=3)
    run = nl.fine_tune(X, y, ts, max_steps=3, strict=False)
    assert not run.all_converged
    assert run.steps == 3


def test_already_interpolating_start_takes_no_step() -> None:
    X, _, ts = _problem(6, 4, 9)
    run = nl.fine_tune(X, X @ ts, ts)
    assert run.steps == 0
    assert np.array_equal(run.theta, ts)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: nl.fine_tune(np.ones((2, 3)), np.ones(3), np.ones(3)), "one label per row"),
        (
            lambda: nl.fine_tune(np.ones((2, 3)), np.ones(2), np.ones(4)),
            "theta_s must have length 3",
        ),
        (lambda: nl.fine_tune(np.zeros((2, 3)), np.ones(2), np.ones(3)), "X must not be all zeros"),
        (
            lambda: nl.fine_tune(np.ones((2, 3)), [1, np.inf], np.ones(3)),
            "y must contain only finite",
        ),
        (
            lambda: nl.fine_tune(np.ones((2, 3)), np.ones(2), np.ones(3), rtol=2.0),
            "rtol must be in",
        ),
        (
            lambda: nl.fine_tune(np.ones((2, 3)), np.ones(2), np.ones(3), step=0.0),
            "step must be > 0",
        ),
        (
            lambda: nl.fine_tune_many(np.ones((2, 3)), np.ones(2), np.ones(3)),
            "X must be 3-dimensional",
        ),
        (lambda: nd.sample_inputs(3, 2, 0, cov=[[1, 2], [2, 1]]), "positive semi-definite"),
        (lambda: nd.sample_inputs(3, 2, 0, cov=np.eye(3)), r"cov must have shape \(2, 2\)"),
        (lambda: nd.spectrum("flat", 4), "kind must be one of"),
        (lambda: nd.spectrum("power-law", 4, 0.5), "condition must be >= 1"),
        (lambda: nd.labels(np.ones((2, 3)), np.ones(3), -1.0, 0), "noise_std must be >= 0"),
        (lambda: nd.as_generator("seed"), "rng must be an int seed"),
        (
            lambda: nl.expected_risk_mc(np.ones(3), np.ones(3), 2, 0, designs=1),
            "designs must be an integer >= 2",
        ),
    ],
)
def test_bad_input_raises_named_error(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]


def test_same_seed_same_numbers() -> None:
    a = nl.expected_risk_mc(np.ones(12) / 4, np.zeros(12), 4, 123, noise_std=0.3, designs=20)
    b = nl.expected_risk_mc(np.ones(12) / 4, np.zeros(12), 4, 123, noise_std=0.3, designs=20)
    c = nl.expected_risk_mc(np.ones(12) / 4, np.zeros(12), 4, 124, noise_std=0.3, designs=20)
    assert a == b
    assert a != c


def test_population_risk_mc_estimates_the_quadratic_form() -> None:
    # Monte Carlo oracle: |mean − θᵀΣθ| ≤ 5 standard errors (false alarm 6e-7).
    rng = np.random.default_rng(0)
    cov = nd.cov_from_spectrum(nd.spectrum("power-law", 6, 10.0), rng)
    theta, tt = rng.standard_normal(6), rng.standard_normal(6)
    est = nl.population_risk_mc(theta, tt, 7, cov=cov, n_test=50_000)
    exact = float(nl.quadratic_risk(theta, tt, cov))
    assert abs(est.mean - exact) <= 5 * est.stderr


def test_monte_carlo_error_shrinks_like_inverse_sqrt_samples() -> None:
    # Rate test: the standard error of the population-risk estimate scales as M^(-1/2).
    theta, tt = np.ones(4), np.zeros(4)
    sizes = np.array([1_000, 4_000, 16_000, 64_000])
    ses = [nl.population_risk_mc(theta, tt, 11, n_test=int(m)).stderr for m in sizes]
    slope = np.polyfit(np.log(sizes), np.log(ses), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.05)


@pytest.mark.parametrize("kind", ["isotropic", "power-law", "spiked", "two-level"])
def test_spectra_have_mean_one_and_requested_condition(kind: str) -> None:
    lam = nd.spectrum(kind, 50, 8.0)  # type: ignore[arg-type]
    assert lam.mean() == pytest.approx(1.0, rel=1e-14)
    assert np.all(np.diff(lam) <= 0)
    want = 1.0 if kind == "isotropic" else 8.0
    assert lam[0] / lam[-1] == pytest.approx(want, rel=1e-12)


def test_sample_inputs_have_the_requested_covariance() -> None:
    # Monte Carlo: an entry of the sample covariance of M rows has standard deviation
    # sqrt((S_ii S_jj + S_ij^2)/M) <= sqrt(2) lambda_max / sqrt(M); allow 5 of them.
    lam = nd.spectrum("spiked", 5, 4.0)
    cov = nd.cov_from_spectrum(lam, 3)
    m = 200_000
    X = nd.sample_inputs(m, 5, 9, cov=cov)
    assert np.allclose(X.T @ X / m, cov, rtol=0, atol=5 * np.sqrt(2) * lam.max() / np.sqrt(m))


def test_synthetic_teacher_family() -> None:
    ts = nd.random_unit_vector(40, 0)
    assert np.allclose(nd.synthetic_teacher(ts, 1.5, 0.0, 1), 1.5 * ts)
    tt = nd.synthetic_teacher(ts, 0.0, 1.0, 1)
    assert 0.3 < np.linalg.norm(tt) < 2.0


# --------------------------------------------------------------------------------------
# Accelerated training (method="cg"), scale robustness and input validation
# --------------------------------------------------------------------------------------

EPS = np.finfo(np.float64).eps
#: The trainer's gradient rounding floor (numeric.linear): 64·eps·(λ_max‖θ‖ + ‖Xᵀy‖/n).
FLOOR_FACTOR = 64.0


def _l1_error_bound(X: np.ndarray, y: np.ndarray, theta_ft: np.ndarray, e0: float) -> float:
    """Error model of a run stopped by the rule ‖∇L‖ ≤ max(rtol·‖∇L(θ_S)‖, floor).

    Row-space error ≤ ‖∇L‖/λ_min ≤ κ·(rtol·‖e₀‖ + 64·eps·(‖θ‖ + ‖Xᵀy‖/(n·λ_max))), κ from
    the singular values computed here (not the trainer's); plus the reference's own rounding,
    lstsq ≈ κ(X)·eps·‖θ_FT‖·min(n, d) (backward-stable solve, dimension factor).
    """
    n = X.shape[0]
    sv = np.linalg.svd(X, compute_uv=False)
    kappa = float((sv[0] / sv[-1]) ** 2)
    lam_max = float(sv[0] ** 2 / n)
    floor = FLOOR_FACTOR * EPS * (np.linalg.norm(theta_ft) + np.linalg.norm(X.T @ y) / n / lam_max)
    lstsq = float(np.sqrt(kappa)) * EPS * min(X.shape) * float(np.linalg.norm(theta_ft))
    return float(kappa * (nl.DEFAULT_RTOL * e0 + floor) + lstsq)


def _near_square(seed: int, d: int, n: int, cond: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    cov = nd.cov_from_spectrum(nd.spectrum("power-law", d, cond), rng)
    X = nd.sample_inputs(n, d, rng, cov=cov)
    return X, rng.standard_normal(n), rng.standard_normal(d)


def _lstsq_limit(X: np.ndarray, y: np.ndarray, ts: np.ndarray) -> np.ndarray:
    correction, *_ = np.linalg.lstsq(X, y - X @ ts, rcond=None)
    return np.asarray(ts + correction)


def test_cg_reaches_the_interpolant_at_n_over_d_099_and_condition_100() -> None:
    X, y, ts = _near_square(0, 100, 99, 100.0)
    want = _lstsq_limit(X, y, ts)
    e0 = float(np.linalg.norm(want - ts))
    run = nl.fine_tune(X, y, ts, method="cg")
    assert run.all_converged and run.method == "cg"
    # The point of the method: plain GD at this κ would need far more than its budget.
    kappa = float(run.condition)
    assert nl.estimated_steps(kappa, nl.DEFAULT_RTOL, "gd") > nl.DEFAULT_MAX_STEPS
    assert int(run.steps) <= nl.estimated_steps(kappa, nl.DEFAULT_RTOL, "cg")
    assert np.linalg.norm(run.theta - want) <= _l1_error_bound(X, y, want, e0)


@pytest.mark.parametrize("method", nl.METHODS)
def test_overdetermined_limit_is_least_squares(method: nl.Method) -> None:
    X, y, ts = _problem(5, 60, 10)
    want = _lstsq_limit(X, y, ts)
    run = nl.fine_tune(X, y, ts, method=method)
    assert np.linalg.norm(run.theta - want) <= GD_RTOL * np.linalg.norm(want)


#: Null-space drift allowance per step and unit of ‖θ_S‖ + ‖θ − θ_S‖: every update is a
#: combination of computed gradients rᵀX/n, whose rounding leaves the row space by
#: ≤ n·eps relative (a length-n dot product), accumulated linearly over the steps, plus the
#: projection's own ≈ d·eps.
def _null_space_atol(steps: int, n: int, d: int, scale: float) -> float:
    return (steps * n + d) * EPS * scale


@given(seed=st.integers(0, 2**32 - 1), d=st.integers(2, 40), data=st.data())
def test_cg_iterates_stay_in_theta_s_plus_row_space(seed: int, d: int, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, d))
    X, y, ts = _problem(seed, n, d)
    run = nl.fine_tune(X, y, ts, method="cg", max_steps=10 * d, strict=False)
    q, _ = np.linalg.qr(X.T)  # orthonormal basis of the row space
    drift = np.linalg.norm((run.theta - ts) - q @ (q.T @ (run.theta - ts)))
    scale = float(np.linalg.norm(ts) + np.linalg.norm(run.theta - ts))
    assert drift <= _null_space_atol(int(run.steps), n, d, scale)


def test_cg_batched_run_equals_single_runs_and_freezes_each_problem() -> None:
    rng = np.random.default_rng(3)
    Xs = nd.sample_inputs(30, 31, rng, batch=5)  # n/d ≈ 0.97: κ(XXᵀ) ~ 1e3–1e4
    ys = rng.standard_normal((5, 30))
    ts = rng.standard_normal(31)
    ys[2] = Xs[2] @ ts  # already interpolating: frozen at step 0 while the others run
    many = nl.fine_tune_many(Xs, ys, ts, method="cg")
    assert many.steps[2] == 0 and np.array_equal(many.theta[2], ts)
    assert many.loss_history.shape == (int(many.steps.max()) + 1, 5)
    for i in range(5):
        one = nl.fine_tune(Xs[i], ys[i], ts, method="cg")
        # Same arithmetic per problem (each its own scale, steps and directions).
        assert one.steps == many.steps[i]
        assert np.allclose(one.theta, many.theta[i], rtol=1e-13, atol=1e-13)
        assert float(one.condition) == pytest.approx(float(many.condition[i]), rel=1e-12)


def test_gd_budget_message_says_how_far_it_got_and_what_is_needed() -> None:
    X, y, ts = _near_square(1, 60, 59, 10.0)
    with pytest.raises(ConvergenceError) as info:
        nl.fine_tune(X, y, ts, max_steps=500)
    msg = str(info.value)
    assert "gd did not converge in max_steps=500" in msg
    assert "relative gradient norm reached" in msg
    assert "kappa" in msg and "plain GD needs" in msg
    assert "pass method='cg'" in msg
    unconverged = nl.fine_tune(X, y, ts, max_steps=500, strict=False)
    reached = float(unconverged.grad_norm / np.linalg.norm(nl.loss_gradient(X, y, ts)[1]))
    assert f"reached {reached:.3g}" in msg
    assert not unconverged.all_converged


def test_cg_budget_message_reports_its_own_estimate() -> None:
    rng = np.random.default_rng(2)
    Xs = nd.sample_inputs(40, 41, rng, batch=3)
    ys = rng.standard_normal((3, 40))
    with pytest.raises(ConvergenceError, match=r"cg did not converge in max_steps=5 \(3 of 3") as e:
        nl.fine_tune_many(Xs, ys, np.zeros(41), method="cg", max_steps=5)
    assert "method='cg' ~sqrt(kappa)" in str(e.value)
    assert "pass method='cg'" not in str(e.value)


@pytest.mark.parametrize("method", nl.METHODS)
@pytest.mark.parametrize("scale", [1e200, 1e154, 1e-200, 2.0**-1000])
def test_huge_and_tiny_input_scales_give_the_honest_limit(method: nl.Method, scale: float) -> None:
    # θ_FT is invariant under (X, y) → (cX, cy); before the power-of-two rescaling these
    # runs stopped after 0 steps "converged" at θ_S (huge) or hit λ_max = 0 (tiny).
    X, y, ts = _problem(8, 6, 14)
    want = _lstsq_limit(X, y, ts)
    run = nl.fine_tune(X * scale, y * scale, ts, method=method)
    assert run.all_converged and int(run.steps) > 0
    e0 = float(np.linalg.norm(want - ts))
    # Scaling by a non-power-of-two c rounds X and y once: relative perturbation eps,
    # amplified by κ(X) in the interpolant; allow it on top of the stopping-rule model.
    perturb = 4.0 * EPS * float(np.linalg.cond(X)) * float(np.linalg.norm(want))
    assert np.linalg.norm(run.theta - want) <= _l1_error_bound(X, y, want, e0) + perturb


def test_scale_that_cannot_be_represented_is_an_input_error() -> None:
    X, y, ts = _problem(8, 6, 14)
    with pytest.raises(InputError, match="y is too large relative to X"):
        nl.fine_tune(X * 1e-300, y * 1e10, ts)
    with pytest.raises(InputError, match="overflows float64"):
        nl.fine_tune(X, y, ts * 1e300)
    with pytest.raises(InputError, match=r"overflows float64 \(max\|X\| = "):
        nl.loss_gradient(X * 1e200, y, ts)
    value, grad = nl.loss_gradient(X * 1e-200, y, ts)  # tiny but representable: no NaN
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    with pytest.raises(InputError, match="overflows float64"):
        nl.quadratic_risk(ts * 1e200, np.zeros(14))


@pytest.mark.parametrize("name", ["X", "y", "theta"])
def test_loss_gradient_names_the_non_finite_input(name: str) -> None:
    X, y, ts = _problem(9, 4, 7)
    args = {"X": X.copy(), "y": y.copy(), "theta": ts.copy()}
    args[name].flat[1] = np.nan
    with pytest.raises(InputError, match=f"^{name} must contain only finite"):
        nl.loss_gradient(args["X"], args["y"], args["theta"])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: nl.loss_gradient(np.ones((2, 3)), np.ones(3), np.ones(3)), "y must have shape"),
        (lambda: nl.loss_gradient(np.ones((2, 3)), np.ones(2), np.ones(2)), "theta must have"),
        (lambda: nl.quadratic_risk([1.0, np.nan], [0.0, 0.0]), "theta must contain only finite"),
        (lambda: nl.quadratic_risk(np.ones(2), np.ones(3)), "theta_t must have length 2"),
        (lambda: nl.quadratic_risk(np.ones(2), np.ones(2), -np.eye(2)), "positive semi-definite"),
        (
            lambda: nl.fine_tune(np.ones((2, 3)), np.ones(2), np.ones(3), method="adam"),  # type: ignore[arg-type]
            "method must be one of",
        ),
        (
            lambda: nl.fine_tune(np.ones((2, 3)), np.ones(2), np.ones(3), method="cg", step=0.1),
            "step applies to method='gd' only",
        ),
    ],
)
def test_validation_names_the_parameter(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]


def test_gd_default_path_is_unchanged_plain_gradient_descent() -> None:
    # method="gd" is the theorem's algorithm: k steps of θ − η∇L with η = 1/λ_max.
    X, y, ts = _problem(10, 5, 12)
    run = nl.fine_tune(X, y, ts, rtol=np.finfo(float).tiny, max_steps=7, strict=False)
    eta = X.shape[0] / np.linalg.norm(X, 2) ** 2
    theta = ts.copy()
    for _ in range(7):
        theta = theta - eta * X.T @ (X @ theta - y) / X.shape[0]
    assert run.method == "gd" and int(run.steps) == 7
    assert float(run.step) == pytest.approx(eta, rel=1e-14)
    assert np.allclose(run.theta, theta, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("method", ["gd", "cg"])
def test_error_estimate_bounds_the_actual_error(method: str) -> None:
    """The a-posteriori bound 2‖∇L‖/(λ_min⁺‖θ‖) holds against the lstsq limit (and is not
    vacuous: within 1e3 of it or at rounding level), for n < d and n > d, 20 seeds."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n, d = (12, 20) if seed % 2 else (30, 10)
        X = rng.standard_normal((n, d)) * np.exp(rng.uniform(-1, 1, d))
        y = rng.standard_normal(n)
        ts = rng.standard_normal(d)
        run = nl.fine_tune(X, y, ts, method=method, rtol=1e-9)  # type: ignore[arg-type]
        want = ts + np.linalg.lstsq(X, y - X @ ts, rcond=None)[0]
        err = float(np.linalg.norm(run.theta - want) / np.linalg.norm(run.theta))
        bound = float(run.error_estimate)
        assert err <= bound + 1e-13, (seed, err, bound)
        assert bound <= max(1e3 * err, 1e-9), (seed, err, bound)
