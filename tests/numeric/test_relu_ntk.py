"""numeric.relu_ntk: the network, its gradient, its empirical NTK, training and seeding.

These tests use only NumPy facts (finite differences, explicit per-neuron sums, Bernoulli
variances), never symbolic.*; the pairing with closed forms lives in verify/.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numeric.data as nd
import numeric.relu_ntk as nr
from finetune_theory import ConvergenceError, InputError

# Vectorised sums versus explicit loops over ≤ 64 neurons: rounding ≲ 1e-14.
LOOP_RTOL = 1e-12


def _explicit_forward(net: nr.TwoLayerNet, X: np.ndarray) -> np.ndarray:
    return np.array(
        [sum(a * max(w @ x, 0.0) for w, a in zip(net.W, net.a, strict=True)) for x in X]
    ) / math.sqrt(net.width)


def _jacobian(net: nr.TwoLayerNet, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample gradients of f: w.r.t. W (n, m·d) and w.r.t. a (n, m)."""
    m = net.width
    JW = np.stack(
        [
            np.concatenate([a * float(w @ x >= 0) * x for w, a in zip(net.W, net.a, strict=True)])
            for x in X
        ]
    ) / math.sqrt(m)
    Ja = np.maximum(X @ net.W.T, 0.0) / math.sqrt(m)
    return JW, Ja


#: Finite-difference step for the loss Hessian in W. ∇L is exactly linear in W inside an
#: activation region (ReLU is piecewise linear), so central differences have no truncation
#: error as long as no pre-activation w_rᵀx_i changes sign (asserted: |w_rᵀx_i| > h·max|x|).
HESSIAN_FD_STEP = 1e-3
#: Rounding of the differenced gradients, ~eps·‖∇L‖/h ≈ 1e-13 relative to the entries of the
#: Hessian (O(1/n)); measured ≲ 2e-13 on the top eigenvalue. 1e-10 leaves a wide margin while a
#: wrong factor (1 vs 2, n vs 1, second-layer kernel, next eigenvalue) is off by ≥ 1e-2.
HESSIAN_FD_RTOL = 1e-10
#: Brute-force Jacobian Gram (explicit per-neuron loops) versus the vectorised NTK inside the
#: package: the same sums in a different order, rounding ≲ m·eps ≈ 1e-13 for m ≤ 512.
JACOBIAN_RTOL = 1e-12
#: Relative distance from the reference limit at which a step must be accepted (below) or
#: rejected (above): well outside the two routes' ~1e-13 disagreement, and tight enough that
#: a threshold at a different multiple of 2n/λ_max (1.01×, say) would be caught.
THRESHOLD_MARGIN = 1e-9


def _hessian_by_finite_differences(net: nr.TwoLayerNet, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂²L/∂W² (m·d, m·d) by central differences of :func:`loss_gradient`, column by column."""
    h = HESSIAN_FD_STEP
    assert np.min(np.abs(X @ net.W.T)) > h * np.max(np.abs(X))  # no kink within ±h
    size = net.W.size
    H = np.zeros((size, size))
    for k in range(size):
        up, down = net.W.copy(), net.W.copy()
        up.flat[k] += h
        down.flat[k] -= h
        g_up = nr.loss_gradient(X, y, nr.TwoLayerNet(up, net.a))[1]
        g_down = nr.loss_gradient(X, y, nr.TwoLayerNet(down, net.a))[1]
        H[:, k] = (g_up - g_down).ravel() / (2 * h)
    return H


def _reference_limit(net: nr.TwoLayerNet, X: np.ndarray) -> float:
    """2n/λ_max(J Jᵀ) with J the brute-force per-neuron Jacobian of f in W: independent of
    the package's empirical_ntk and stability_limit (checked against the FD Hessian below)."""
    JW, _ = _jacobian(net, X)
    return 2.0 * X.shape[0] / float(np.linalg.eigvalsh(JW @ JW.T)[-1])


def test_symmetric_initialisation_outputs_zero() -> None:
    net = nr.init_network(64, 5, 0)
    X = nd.sample_sphere(7, 5, 1)
    assert np.max(np.abs(nr.predict(net, X))) <= 1e-15  # pairs cancel up to rounding
    assert np.array_equal(net.W[:32], net.W[32:]) and np.array_equal(net.a[:32], -net.a[32:])
    free = nr.init_network(65, 5, 0, symmetric=False)
    assert free.width == 65 and free.dim == 5
    assert np.all(np.abs(free.a) == 1.0)


def test_forward_matches_the_definition() -> None:
    net = nr.init_network(24, 4, 3, symmetric=False)
    X = nd.sample_inputs(6, 4, 4)
    assert np.allclose(net(X), _explicit_forward(net, X), rtol=LOOP_RTOL, atol=1e-14)


def test_gradient_matches_finite_differences() -> None:
    net = nr.init_network(16, 3, 5, symmetric=False)
    X, y = nd.sample_sphere(5, 3, 6), np.random.default_rng(7).standard_normal(5)
    value, grad = nr.loss_gradient(X, y, net)
    res = _explicit_forward(net, X) - y
    assert value == pytest.approx(0.5 * res @ res / 5, rel=LOOP_RTOL)
    h = 1e-6
    for r, j in [(0, 0), (3, 2), (9, 1), (15, 0)]:
        up, down = net.W.copy(), net.W.copy()
        up[r, j] += h
        down[r, j] -= h
        fd = (
            nr.loss_gradient(X, y, nr.TwoLayerNet(up, net.a))[0]
            - nr.loss_gradient(X, y, nr.TwoLayerNet(down, net.a))[0]
        ) / (2 * h)
        # Central differences: O(h²) error, unless a kink is crossed (probability ~h).
        assert grad[r, j] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_empirical_ntk_is_the_jacobian_gram() -> None:
    net = nr.init_network(20, 4, 8, symmetric=False)
    X, Z = nd.sample_sphere(6, 4, 9), nd.sample_sphere(3, 4, 10)
    JW, Ja = _jacobian(net, X)
    JWz, Jaz = _jacobian(net, Z)
    assert np.allclose(nr.empirical_ntk(net, X), JW @ JW.T, rtol=LOOP_RTOL, atol=1e-14)
    both = nr.empirical_ntk(net, X, Z, layers="both")
    assert np.allclose(both, JW @ JWz.T + Ja @ Jaz.T, rtol=LOOP_RTOL, atol=1e-14)
    K = nr.empirical_ntk(net, X)
    assert np.array_equal(K, K.T) and np.linalg.eigvalsh(K)[0] >= -1e-14


def test_monte_carlo_mean_and_stderr_match_explicit_sums() -> None:
    X = nd.sample_sphere(4, 3, 11)
    est = nr.monte_carlo_gram(X, 50, 12, layers="both", batch=7)
    w = np.random.default_rng(12)
    draws = np.hstack([w.standard_normal((3, k)) for k in (7,) * 7 + (1,)])  # same stream
    pre = X @ draws
    terms = (X @ X.T)[:, :, None] * ((pre >= 0)[:, None, :] & (pre >= 0)[None, :, :]) + (
        np.maximum(pre, 0)[:, None, :] * np.maximum(pre, 0)[None, :, :]
    )
    assert est.samples == 50
    assert np.allclose(est.mean, terms.mean(-1), rtol=LOOP_RTOL, atol=1e-14)
    assert np.allclose(est.stderr, terms.std(-1, ddof=1) / math.sqrt(50), rtol=1e-9, atol=1e-14)


def test_monte_carlo_first_layer_is_a_bernoulli_average() -> None:
    # u·Bernoulli(p): mean u·p, and the diagonal is exactly 1/2·‖x‖² in expectation.
    X = nd.sample_sphere(3, 5, 13)
    est = nr.monte_carlo_gram(X, 40_000, 14)
    assert np.all(np.abs(np.diag(est.mean) - 0.5) <= 5 * np.diag(est.stderr))
    assert np.allclose(np.diag(est.stderr), np.sqrt(0.25 / 40_000), rtol=0.05)


def test_training_interpolates_and_records_its_run() -> None:
    X = nd.sample_sphere(8, 6, 15)
    y = X @ nd.random_unit_vector(6, 16)
    run = nr.fine_tune(X, y, nr.init_network(512, 6, 17), rtol=1e-9)
    assert run.converged
    assert np.linalg.norm(run.network(X) - y) <= 1e-9 * np.linalg.norm(y) + 1e-14
    assert run.loss_history.shape == (run.steps + 1,)
    assert np.all(np.diff(run.loss_history) <= 1e-15)  # stable step: the loss never rises
    assert run.distance == pytest.approx(float(np.linalg.norm(run.network.W - run.initial.W)))
    # Default step: half the stability limit, computed here from the brute-force Jacobian.
    assert run.step == pytest.approx(0.5 * _reference_limit(run.initial, X), rel=JACOBIAN_RTOL)
    assert np.array_equal(run.network.a, run.initial.a)  # a stays fixed
    with pytest.raises(AttributeError):
        run.steps = 0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        run.network.W[0, 0] = 1.0


def test_exactly_k_steps_and_budget_exhaustion() -> None:
    X = nd.sample_sphere(6, 5, 18)
    y = X @ nd.random_unit_vector(5, 19)
    net = nr.init_network(128, 5, 20)
    run = nr.fine_tune(X, y, net, rtol=np.finfo(float).tiny, max_steps=7, strict=False)
    assert run.steps == 7 and not run.converged
    with pytest.raises(ConvergenceError, match="did not converge in max_steps=3"):
        nr.fine_tune(X, y, net, max_steps=3)
    zero = nr.fine_tune(X, np.zeros(6), net)  # f ≡ 0 already fits y = 0
    assert zero.steps == 0 and zero.converged


@pytest.mark.parametrize("symmetric", [False, True])
def test_stability_limit_is_two_over_the_top_hessian_eigenvalue(symmetric: bool) -> None:
    # Docstring: 2n/λ_max(K), i.e. 2/λ_max(∇²_W L) with ∇²_W L = JᵀJ/n almost everywhere.
    # Oracle: the Hessian by finite differences of the (separately FD-tested) loss gradient.
    net = nr.init_network(10, 4, 31, symmetric=symmetric)
    X = nd.sample_sphere(7, 4, 32)
    y = np.random.default_rng(33).standard_normal(7)
    H = _hessian_by_finite_differences(net, X, y)
    assert np.allclose(H, H.T, rtol=0, atol=HESSIAN_FD_RTOL * np.max(np.abs(H)))
    top = float(np.linalg.eigvalsh(0.5 * (H + H.T))[-1])
    limit = nr.stability_limit(net, X)
    assert limit == pytest.approx(2.0 / top, rel=HESSIAN_FD_RTOL)
    # The brute-force Jacobian route used by the other tests gives the same number.
    assert _reference_limit(net, X) == pytest.approx(2.0 / top, rel=HESSIAN_FD_RTOL)


def test_step_above_stability_limit_is_rejected() -> None:
    X = nd.sample_sphere(6, 5, 21)
    net = nr.init_network(128, 5, 22)
    limit = _reference_limit(net, X)
    nr.fine_tune(X, np.ones(6), net, step=0.9 * limit, rtol=1e-3)
    # The threshold sits at the independently computed limit (to the Jacobian's rounding).
    below, above = (1 - THRESHOLD_MARGIN) * limit, (1 + THRESHOLD_MARGIN) * limit
    nr.fine_tune(X, np.ones(6), net, step=below, max_steps=1, strict=False)
    with pytest.raises(InputError, match="stability limit"):
        nr.fine_tune(X, np.ones(6), net, step=above)


def test_transfer_is_reproducible_and_fits_both_tasks() -> None:
    rng = np.random.default_rng(23)
    Xs, X = nd.sample_sphere(24, 6, rng), nd.sample_sphere(8, 6, rng)
    ts, tt = nd.random_unit_vector(6, rng), nd.random_unit_vector(6, rng)
    a = nr.transfer(Xs, ts, X, tt, 256, 24, rtol=1e-8)
    b = nr.transfer(Xs, ts, X, tt, 256, 24, rtol=1e-8)
    assert np.array_equal(a.finetuned_network.W, b.finetuned_network.W)
    assert np.linalg.norm(a.source_network(Xs) - Xs @ ts) <= 1e-6 * np.linalg.norm(Xs @ ts)
    start = np.linalg.norm(a.source_network(X) - X @ tt)  # rtol is relative to this
    assert np.linalg.norm(a.finetuned_network(X) - X @ tt) <= 1e-8 * start
    assert a.target.initial is a.source.network
    noisy = nr.transfer(Xs, ts, X, tt, 256, 24, noise_std=0.1, rtol=1e-8)
    assert not np.array_equal(noisy.y, X @ tt)


def test_population_risk_of_the_zero_network() -> None:
    # E_x (θᵀx)² = ‖θ‖²/d for x uniform on the sphere.
    tt = np.array([3.0, 0.0, 4.0, 0.0])
    est = nr.population_risk_mc(nr.init_network(8, 4, 25), tt, 26, n_test=20_000)
    assert abs(est.mean - 25.0 / 4) <= 5 * est.stderr


@given(n=st.integers(1, 30), d=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_sample_sphere_rows_have_unit_norm(n: int, d: int, seed: int) -> None:
    X = nd.sample_sphere(n, d, seed)
    assert X.shape == (n, d)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, rtol=0, atol=4e-16 * d)
    assert np.array_equal(X, nd.sample_sphere(n, d, seed))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: nr.init_network(0, 3, 0), "width must be an integer >= 1"),
        (lambda: nr.init_network(5, 3, 0), "width must be even when symmetric=True"),
        (lambda: nr.init_network(4, 0, 0), "d must be an integer >= 1"),
        (lambda: nr.TwoLayerNet(np.ones((3, 2)), np.array([1.0, -1.0, 0.5])), "a must have"),
        (lambda: nr.TwoLayerNet(np.ones((3, 2)), np.ones(2)), "a must have length 3"),
        (lambda: nr.TwoLayerNet(np.full((2, 2), np.nan), np.ones(2)), "W must contain only finite"),
        (lambda: nr.predict(nr.init_network(4, 3, 0), np.ones((2, 2))), "X must have 3 columns"),
        (
            lambda: nr.empirical_ntk(nr.init_network(4, 3, 0), np.eye(3), layers="all"),  # type: ignore[arg-type]
            "layers must be 'first'",
        ),
        (lambda: nr.monte_carlo_gram(np.eye(3), 1, 0), "samples must be an integer >= 2"),
        (lambda: nr.monte_carlo_gram(np.eye(3), 10, 0, Z=np.eye(2)), "Z must have 3 columns"),
        (lambda: nr.monte_carlo_gram([[np.inf, 0.0]], 10, 0), "X must contain only finite"),
        (
            lambda: nr.fine_tune(np.eye(3), np.ones(2), nr.init_network(4, 3, 0)),
            "one label per row",
        ),
        (
            lambda: nr.fine_tune(np.eye(3), np.ones(3), nr.init_network(4, 3, 0), rtol=1.5),
            "rtol must be in",
        ),
        (
            lambda: nr.fine_tune(np.eye(3), np.ones(3), nr.init_network(4, 3, 0), step=-1.0),
            "step must be > 0",
        ),
        (
            lambda: nr.fine_tune(
                np.eye(3), np.ones(3), nr.TwoLayerNet(-np.ones((2, 3)), np.array([1.0, -1.0]))
            ),
            "no neuron is active",
        ),
        (lambda: nr.pretrain(np.eye(3), np.ones(2), 4, 0), "theta_s must have length 3"),
        (
            lambda: nr.transfer(np.eye(3), np.ones(3), np.eye(2), np.ones(3), 4, 0),
            "X must have 3 columns",
        ),
        (
            lambda: nr.population_risk_mc(nr.init_network(4, 3, 0), np.ones(3), 0, n_test=1),
            "n_test must be an integer >= 2",
        ),
        (lambda: nd.sample_sphere(0, 3, 0), "n must be an integer >= 1"),
    ],
)
def test_bad_input_raises_named_error(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]


def test_same_seed_same_numbers() -> None:
    X = nd.sample_sphere(5, 4, 27)
    assert np.array_equal(
        nr.monte_carlo_gram(X, 100, 28).mean, nr.monte_carlo_gram(X, 100, 28).mean
    )
    assert np.array_equal(nr.init_network(8, 4, 29).W, nr.init_network(8, 4, 29).W)
