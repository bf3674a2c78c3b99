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


def test_step_above_stability_limit_is_rejected() -> None:
    X, y, ts = _problem(3, 5, 10)
    limit = 2.0 * X.shape[0] / np.linalg.norm(X, 2) ** 2
    nl.fine_tune(X, y, ts, step=0.99 * limit)  # stable: converges
    with pytest.raises(InputError, match="stability limit"):
        nl.fine_tune(X, y, ts, step=1.01 * limit)


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
