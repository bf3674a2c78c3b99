"""numeric.deep_linear: factorisations, gradients, both solvers, their orders, and errors.

Only NumPy facts are used here (finite differences, conservation laws, convergence orders);
the pairing with closed forms is in verify/deep_linear.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numeric.data as nd
import numeric.deep_linear as ndl
from finetune_theory import ConvergenceError, InputError


def _task(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = nd.random_unit_vector(d, rng)
    X = nd.sample_inputs(n, d, rng)
    return X, X @ nd.synthetic_teacher(ts, 1.3, 0.5, rng), ts


@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 10),
    hidden=st.lists(st.integers(1, 6), max_size=6),
    scale=st.floats(0.1, 10.0),
)
def test_balanced_factorisation(seed: int, d: int, hidden: list[int], scale: float) -> None:
    theta = scale * nd.random_unit_vector(d, seed)
    weights = ndl.balanced_weights(theta, [d, *hidden, 1], seed)
    assert [W.shape for W in weights] == [
        (b, a) for a, b in zip([d, *hidden], [*hidden, 1], strict=True)
    ]
    assert np.allclose(ndl.end_to_end(weights), theta, rtol=1e-12, atol=1e-12 * scale)
    assert ndl.imbalance(weights) <= 1e-13
    ndl.require_balanced(weights)


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 5))
def test_layer_gradients_match_finite_differences(seed: int, depth: int) -> None:
    X, y, _ts = _task(seed, 3, 5)
    weights = ndl.random_weights([5] + [3] * (depth - 1) + [1], 0.8, seed)
    grads, _ = ndl.layer_gradients(weights, X, y)

    def loss(ws: tuple[np.ndarray, ...]) -> float:
        r = X @ ndl.end_to_end(ws) - y
        return 0.5 * float(r @ r) / X.shape[0]

    h = 1e-6  # central differences: error O(h²) ~ 1e-12 relative, rounding ~1e-10
    for j, W in enumerate(weights):
        fd = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            bump = np.zeros_like(W)
            bump[idx] = h
            plus = tuple(V + bump if i == j else V for i, V in enumerate(weights))
            minus = tuple(V - bump if i == j else V for i, V in enumerate(weights))
            fd[idx] = (loss(plus) - loss(minus)) / (2 * h)
        assert np.allclose(grads[j], fd, rtol=1e-6, atol=1e-8)
        assert np.linalg.matrix_rank(grads[j], tol=1e-12) <= 1  # rank one


def test_gd_and_flow_interpolate_and_leave_inputs_alone() -> None:
    X, y, ts = _task(1, 4, 10)
    weights = ndl.balanced_weights(ts, [10, 5, 5, 1], 2)
    copies = [W.copy() for W in weights]
    for solver in ("gd", "flow"):
        run = ndl.fine_tune(weights, X, y, solver=solver)  # type: ignore[arg-type]
        assert run.converged and run.solver == solver
        assert np.linalg.norm(X @ run.end_to_end - y) <= 1e-8 * np.linalg.norm(y)
        assert np.allclose(ndl.end_to_end(run.weights), run.end_to_end, rtol=1e-13, atol=1e-15)
        assert run.loss_history.shape == (run.steps + 1,)
    for W, C in zip(weights, copies, strict=True):
        assert np.array_equal(W, C)


def test_frozen_layers_do_not_move() -> None:
    X, y, ts = _task(3, 4, 8)
    weights = ndl.balanced_weights(ts, [8, 4, 4, 1], 3)
    run = ndl.fine_tune(
        weights, X, y, solver="gd", trainable=[False, True, True], max_steps=50, strict=False
    )
    assert np.array_equal(run.weights[0], weights[0])
    assert not np.array_equal(run.weights[1], weights[1])


def test_flow_is_fourth_order() -> None:
    # Solver contract: RK4's end point at a fixed time converges at order 4 in the step.
    X, y, ts = _task(5, 3, 8)
    weights = ndl.balanced_weights(ts, [8, 4, 4, 4, 1], 5)
    cfls = [0.8, 0.4, 0.2]
    ref = ndl.fine_tune(weights, X, y, flow_cfl=0.025, max_time=2.0, strict=False).end_to_end
    errs = [
        np.linalg.norm(
            ndl.fine_tune(weights, X, y, flow_cfl=c, max_time=2.0, strict=False).end_to_end - ref
        )
        for c in cfls
    ]
    slope = np.polyfit(np.log(cfls), np.log(errs), 1)[0]
    assert slope == pytest.approx(4.0, abs=0.5)


def test_gd_breaks_balance_at_second_order_while_flow_keeps_it() -> None:
    X, y, ts = _task(6, 3, 8)
    weights = ndl.balanced_weights(ts, [8, 4, 4, 1], 6)
    base = ndl.fine_tune(weights, X, y, solver="gd", max_steps=0, strict=False).step
    gaps = [
        ndl.imbalance(
            ndl.fine_tune(
                weights, X, y, solver="gd", step=base * f, max_steps=1, strict=False
            ).weights
        )
        for f in (1.0, 0.5, 0.25)
    ]
    slope = np.polyfit(np.log([1.0, 0.5, 0.25]), np.log(gaps), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.2)
    # Over a whole run GD accumulates O(η) imbalance, RK4 only its O(h⁴) drift.
    gd_run = ndl.fine_tune(weights, X, y, solver="gd")
    flow = ndl.fine_tune(weights, X, y, solver="flow")
    assert ndl.imbalance(flow.weights) <= 1e-3 * ndl.imbalance(gd_run.weights)


def test_pretrain_reaches_the_source_and_is_nearly_balanced() -> None:
    ts = nd.random_unit_vector(6, 0)
    weights = ndl.pretrain(ts, [6, 4, 1], 1, init_scale=0.05)
    assert np.allclose(ndl.end_to_end(weights), ts, atol=1e-7)
    gap = ndl.imbalance(weights)
    assert 0 < gap < 0.05  # O(init_scale²) relative, conserved by the flow
    with pytest.raises(InputError, match="not balanced"):
        ndl.require_balanced(weights)


def test_budget_exhaustion_and_max_time() -> None:
    X, y, ts = _task(7, 3, 8)
    weights = ndl.balanced_weights(ts, [8, 3, 1], 7)
    with pytest.raises(ConvergenceError, match="did not converge in max_steps=2"):
        ndl.fine_tune(weights, X, y, max_steps=2)
    timed = ndl.fine_tune(weights, X, y, max_time=0.01)  # a requested stop: no error
    assert timed.time == pytest.approx(0.01, rel=1e-12)
    assert not timed.converged


def test_same_seed_same_weights() -> None:
    a = ndl.pretrain(np.ones(4) / 2, [4, 3, 1], 11, init_scale=0.1)
    b = ndl.pretrain(np.ones(4) / 2, [4, 3, 1], 11, init_scale=0.1)
    for u, v in zip(a, b, strict=True):
        assert np.array_equal(u, v)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ndl.balanced_weights(np.zeros(3), [3, 2, 1], 0), "theta_s must be non-zero"),
        (lambda: ndl.balanced_weights(np.ones(3), [4, 2, 1], 0), "widths must start at d = 3"),
        (lambda: ndl.balanced_weights(np.ones(3), [3, 2, 2], 0), "widths must end at 1"),
        (lambda: ndl.balanced_weights(np.ones(3), [3], 0), "depth >= 1"),
        (
            lambda: ndl.balanced_weights(np.ones(3), [3, 0, 1], 0),
            r"widths\[1\] must be an integer >= 1",
        ),
        (lambda: ndl.end_to_end([np.ones((2, 3)), np.ones((1, 3))]), "must have shape"),
        (lambda: ndl.end_to_end([np.ones((2, 3))]), "one output row"),
        (lambda: ndl.end_to_end([]), "depth >= 1"),
        (
            lambda: ndl.fine_tune(
                ndl.random_weights([3, 2, 1], 1.0, 0),
                np.ones((2, 3)),
                np.ones(2),
                require_balance=True,
            ),
            "not balanced",
        ),
        (lambda: ndl.fine_tune([np.ones((1, 4))], np.ones((2, 3)), np.ones(2)), "d = 3 columns"),
        (
            lambda: ndl.fine_tune(
                [np.ones((1, 3))], np.ones((2, 3)), np.ones(2), trainable=[True, False]
            ),
            "one entry per layer",
        ),
        (
            lambda: ndl.fine_tune(
                [np.ones((1, 3))], np.ones((2, 3)), np.ones(2), trainable=[False]
            ),
            "at least one layer",
        ),
        (
            lambda: ndl.fine_tune([np.ones((1, 3))], np.ones((2, 3)), np.ones(2), solver="adam"),
            "solver must be",
        ),  # type: ignore[arg-type]
        (
            lambda: ndl.fine_tune(
                [np.ones((1, 3))], np.ones((2, 3)), np.ones(2), solver="gd", step=10.0
            ),
            "stability limit",
        ),
        (
            lambda: ndl.fine_tune([np.ones((1, 3))], np.ones((2, 3)), np.ones(2), step=0.1),
            "step applies to solver='gd'",
        ),
        (
            lambda: ndl.fine_tune([np.ones((1, 3))], np.ones((2, 3)), np.ones(2), flow_cfl=3.0),
            "flow_cfl must be < 2.5",
        ),
        (
            lambda: ndl.fine_tune([np.zeros((2, 3)), np.ones((1, 2))], np.ones((2, 3)), np.ones(2)),
            "saddle point",
        ),
    ],
)
def test_bad_input_raises_named_error(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]


def test_divergence_is_reported() -> None:
    # A step just inside the stability limit at the start becomes unstable as ‖w‖ grows
    # toward a large target (the curvature grows like ‖w‖^{2−2/N}): GD blows up.
    rng = np.random.default_rng(8)
    ts = nd.random_unit_vector(6, rng)
    X = nd.sample_inputs(3, 6, rng)
    y = 1e3 * (X @ nd.synthetic_teacher(ts, 1.3, 0.5, rng))
    weights = ndl.balanced_weights(ts, [6, 4, 4, 1], 8)
    limit = 4 * ndl.fine_tune(weights, X, y, solver="gd", max_steps=0, strict=False).step
    with pytest.raises(ConvergenceError, match="diverged"):
        ndl.fine_tune(weights, X, y, solver="gd", step=0.99 * limit)
