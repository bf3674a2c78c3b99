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
    grads, _ = ndl.layer_gradients(X, y, weights)

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
        run = ndl.fine_tune(X, y, weights, solver=solver)  # type: ignore[arg-type]
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
        X, y, weights, solver="gd", trainable=[False, True, True], max_steps=50, strict=False
    )
    assert np.array_equal(run.weights[0], weights[0])
    assert not np.array_equal(run.weights[1], weights[1])


def test_flow_is_fourth_order() -> None:
    # Solver contract: RK4's end point at a fixed time converges at order 4 in the step.
    X, y, ts = _task(5, 3, 8)
    weights = ndl.balanced_weights(ts, [8, 4, 4, 4, 1], 5)
    cfls = [0.8, 0.4, 0.2]
    ref = ndl.fine_tune(X, y, weights, flow_cfl=0.025, max_time=2.0, strict=False).end_to_end
    errs = [
        np.linalg.norm(
            ndl.fine_tune(X, y, weights, flow_cfl=c, max_time=2.0, strict=False).end_to_end - ref
        )
        for c in cfls
    ]
    slope = np.polyfit(np.log(cfls), np.log(errs), 1)[0]
    assert slope == pytest.approx(4.0, abs=0.5)


def test_gd_breaks_balance_at_second_order_while_flow_keeps_it() -> None:
    X, y, ts = _task(6, 3, 8)
    weights = ndl.balanced_weights(ts, [8, 4, 4, 1], 6)
    base = ndl.fine_tune(X, y, weights, solver="gd", max_steps=0, strict=False).step
    gaps = [
        ndl.imbalance(
            ndl.fine_tune(
                X, y, weights, solver="gd", step=base * f, max_steps=1, strict=False
            ).weights
        )
        for f in (1.0, 0.5, 0.25)
    ]
    slope = np.polyfit(np.log([1.0, 0.5, 0.25]), np.log(gaps), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.2)
    # Over a whole run GD accumulates O(η) imbalance, RK4 only its O(h⁴) drift.
    gd_run = ndl.fine_tune(X, y, weights, solver="gd")
    flow = ndl.fine_tune(X, y, weights, solver="flow")
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
        ndl.fine_tune(X, y, weights, max_steps=2)
    timed = ndl.fine_tune(X, y, weights, max_time=0.01)  # a requested stop: no error
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
                np.ones((2, 3)),
                np.ones(2),
                ndl.random_weights([3, 2, 1], 1.0, 0),
                require_balance=True,
            ),
            "not balanced",
        ),
        (lambda: ndl.fine_tune(np.ones((2, 3)), np.ones(2), [np.ones((1, 4))]), "d = 3 columns"),
        (
            lambda: ndl.fine_tune(
                np.ones((2, 3)), np.ones(2), [np.ones((1, 3))], trainable=[True, False]
            ),
            "one entry per layer",
        ),
        (
            lambda: ndl.fine_tune(
                np.ones((2, 3)), np.ones(2), [np.ones((1, 3))], trainable=[False]
            ),
            "at least one layer",
        ),
        (
            lambda: ndl.fine_tune(np.ones((2, 3)), np.ones(2), [np.ones((1, 3))], solver="adam"),
            "solver must be",
        ),  # type: ignore[arg-type]
        (
            lambda: ndl.fine_tune(
                np.ones((2, 3)), np.ones(2), [np.ones((1, 3))], solver="gd", step=10.0
            ),
            "stability limit",
        ),
        (
            lambda: ndl.fine_tune(np.ones((2, 3)), np.ones(2), [np.ones((1, 3))], step=0.1),
            "step applies to solver='gd'",
        ),
        (
            lambda: ndl.fine_tune(np.ones((2, 3)), np.ones(2), [np.ones((1, 3))], flow_cfl=3.0),
            "flow_cfl must be < 2.5",
        ),
        (
            lambda: ndl.fine_tune(np.ones((2, 3)), np.ones(2), [np.zeros((2, 3)), np.ones((1, 2))]),
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
    limit = 4 * ndl.fine_tune(X, y, weights, solver="gd", max_steps=0, strict=False).step
    with pytest.raises(ConvergenceError, match="diverged"):
        ndl.fine_tune(X, y, weights, solver="gd", step=0.99 * limit)


# --------------------------------------------------------------------------------------
# The invariant rank-one set, the adaptive flow, its error estimate and its failures
# --------------------------------------------------------------------------------------

#: Reduced vs full-matrix flow: both integrate the same ODE (the full flow restricted to
#: the rank-one set) with error control at tol; each lands within its error_estimate of the
#: exact flow, so they agree to the sum of the estimates. Factor 3: the estimate is the
#: difference to a 10× coarser run, which can undershoot the fine run's error by a small
#: factor when the two errors partly cancel; 1e-13 absorbs rounding of the SVD coordinates.
AGREE_FACTOR = 3.0
AGREE_FLOOR = 1e-13
#: At a fixed flow time both runs are pure integrator error (no stopping rule): DOP853 at
#: rtol 3e-13 over t <= 2 with contraction gives ≲ 1e-11 relative; 1e-9 leaves room for the
#: larger full-matrix state's atol (scaled by its largest entry).
FIXED_TIME_RTOL = 1e-9
#: Rank-one-ness the full flow keeps: the exact flow keeps it exactly; DOP853's stages are
#: combinations of rank-one gradients with the same singular vectors, so the drift is
#: rounding accumulated over ~1e3 steps (measured ~1e-15).
RANK_ONE_DRIFT = 1e-12
#: error_estimate is an upper-ish bound: actual ≤ HONEST_FACTOR × estimate + HONEST_FLOOR
#: (the reference run at tol 1e-12 stops at ≤ 30 × DOP853's rtol floor 2.2e-14 ≈ 7e-13, so it
#: is itself ≲ 1e-12 off).
HONEST_FACTOR = 3.0
HONEST_FLOOR = 2e-12


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize(
    ("depth", "width", "mask"),
    [
        (1, 1, None),
        (2, 4, None),
        (4, 3, None),
        (3, 5, [False, True, True]),
        (3, 5, [True, False, True]),
    ],
)
def test_reduced_flow_matches_the_full_matrix_flow(
    depth: int, width: int, mask: list[bool] | None
) -> None:
    X, y, ts = _task(21 + depth, 3, 6)
    weights = ndl.balanced_weights(1.7 * ts, ndl.uniform_widths(6, width, depth), 4)
    red = ndl.fine_tune(X, y, weights, trainable=mask, tol=1e-11)
    full = ndl.fine_tune(X, y, weights, trainable=mask, tol=1e-11, reduce=False)
    assert red.method.startswith("reduced/") and full.method == "full/dop853"
    assert red.converged and full.converged
    bound = AGREE_FACTOR * (red.error_estimate + full.error_estimate) + AGREE_FLOOR
    assert _relative(red.end_to_end, full.end_to_end) <= bound
    for a, b in zip(red.weights, full.weights, strict=True):
        assert np.linalg.norm(a - b) <= bound * 10 * np.linalg.norm(b)
    # Along the way, not only at the limit: same state at a fixed flow time.
    red_t = ndl.fine_tune(X, y, weights, trainable=mask, tol=1e-10, max_time=1.5)
    full_t = ndl.fine_tune(X, y, weights, trainable=mask, tol=1e-10, max_time=1.5, reduce=False)
    assert red_t.time == pytest.approx(1.5) and full_t.time == pytest.approx(1.5)
    assert _relative(red_t.end_to_end, full_t.end_to_end) <= FIXED_TIME_RTOL


def test_reduce_and_embed_are_inverse_and_the_full_flow_stays_rank_one() -> None:
    X, y, ts = _task(31, 4, 7)
    weights = ndl.balanced_weights(2.0 * ts, [7, 5, 4, 3, 1], 9)
    assert ndl.rank_one_residual(weights) <= 1e-15
    reduced, emb = ndl.reduce_rank_one(weights)
    assert [W.shape for W in reduced] == [(1, 7), (1, 1), (1, 1), (1, 1)]
    assert np.allclose(ndl.end_to_end(reduced), ndl.end_to_end(weights), rtol=1e-14)
    for a, b in zip(ndl.embed(reduced, emb), weights, strict=True):
        assert np.allclose(a, b, rtol=1e-14, atol=1e-15)
    # The plain full-matrix flow: its limit is still on the rank-one set.
    full = ndl.fine_tune(X, y, weights, reduce=False)
    assert ndl.rank_one_residual(full.weights) <= RANK_ONE_DRIFT
    # ... and training the width-one chain itself, then embedding, is the same flow.
    chain = ndl.fine_tune(X, y, reduced, reduce=False)
    embedded = ndl.embed(chain.weights, emb)
    assert _relative(ndl.end_to_end(embedded), full.end_to_end) <= AGREE_FACTOR * (
        chain.error_estimate + full.error_estimate
    )
    random = ndl.random_weights([7, 5, 1], 1.0, 0)
    assert ndl.rank_one_residual(random) > 0.1
    with pytest.raises(InputError, match="not a rank-one chain"):
        ndl.reduce_rank_one(random)
    with pytest.raises(InputError, match="reduce=True needs a rank-one chain"):
        ndl.fine_tune(X, y, random, reduce=True)


@pytest.mark.parametrize(
    ("seed", "depth", "scale", "teacher"),
    [
        (0, 2, 1.0, "random"),
        (1, 3, 1e-3, "random"),
        (2, 5, 1e3, "random"),
        (3, 4, 1.0, "opposite"),
        (4, 1, 1.0, "random"),
        (5, 8, 1.0, "random"),
    ],
)
def test_error_estimate_is_an_honest_bound(
    seed: int, depth: int, scale: float, teacher: str
) -> None:
    rng = np.random.default_rng(seed)
    d, n = 12, 5
    ts = scale * nd.random_unit_vector(d, rng)
    X = nd.sample_inputs(n, d, rng)
    tt = -ts if teacher == "opposite" else nd.synthetic_teacher(ts, 1.3, 0.5, rng)
    weights = ndl.balanced_weights(ts, ndl.uniform_widths(d, 4, depth), rng)
    run = ndl.fine_tune(X, X @ tt, weights)
    ref = ndl.fine_tune(X, X @ tt, weights, tol=1e-12, estimate_error=False)
    assert run.converged and 0 < run.error_estimate <= 1e-9  # the documented default accuracy
    assert _relative(run.end_to_end, ref.end_to_end) <= HONEST_FACTOR * run.error_estimate + (
        HONEST_FLOOR
    )


def test_stiff_setting_converges_with_radau() -> None:
    # n = d − 1 with an anisotropic Σ: κ(XXᵀ) ~ 1e4-1e5, far beyond explicit methods' reach.
    rng = np.random.default_rng(12)
    d = 30
    cov = nd.cov_from_spectrum(nd.spectrum("power-law", d, 30.0), rng)
    X = nd.sample_inputs(d - 1, d, rng, cov=cov)
    ts = nd.random_unit_vector(d, rng)
    y = X @ nd.synthetic_teacher(ts, 1.0, 0.5, rng)
    weights = ndl.balanced_weights(ts, ndl.uniform_widths(d, 3, 3), rng)
    run = ndl.fine_tune(X, y, weights)
    assert run.method == "reduced/radau" and run.converged
    assert run.error_estimate <= 1e-9
    assert np.linalg.norm(X @ run.end_to_end - y) <= 1e-8 * np.linalg.norm(y)
    with pytest.raises(ConvergenceError, match="integrator='radau'"):
        ndl.fine_tune(X, y, weights, integrator="dop853", max_steps=200)


def test_convergence_error_says_how_far_it_got() -> None:
    X, y, ts = _task(41, 4, 10)
    weights = ndl.balanced_weights(ts, [10, 4, 4, 1], 41)
    with pytest.raises(ConvergenceError) as info:
        ndl.fine_tune(X, y, weights, max_evals=100)
    text = str(info.value)
    assert "did not converge in max_evals=100" in text
    assert "remaining distance" in text and "relative gradient" in text
    assert "more steps" in text  # the estimate of what converging would need
    partial = ndl.fine_tune(X, y, weights, max_evals=100, strict=False)
    assert not partial.converged and partial.error_estimate is None
    with pytest.raises(ConvergenceError, match="max_seconds"):
        ndl.fine_tune(X, y, weights, max_seconds=1e-9)
    with pytest.raises(InputError, match="flow_cfl and fixed_step apply"):
        ndl.fine_tune(X, y, weights, integrator="dop853", flow_cfl=0.5)
    with pytest.raises(InputError, match="integrator must be"):
        ndl.fine_tune(X, y, weights, integrator="euler")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="radau' needs the reduced"):
        ndl.fine_tune(X, y, weights, integrator="radau", reduce=False)


def test_curvature_bound_is_an_upper_bound_and_tighter_than_legacy() -> None:
    X, y, ts = _task(51, 4, 6)
    for weights in (
        ndl.balanced_weights(1.5 * ts, [6, 4, 4, 1], 3),
        ndl.random_weights([6, 3, 4, 1], 0.9, 3),
    ):
        params = np.concatenate([W.ravel() for W in weights])
        shapes = [W.shape for W in weights]

        def grad(theta: np.ndarray, shapes: list[tuple[int, ...]] = shapes) -> np.ndarray:
            ws, at = [], 0
            for s in shapes:
                size = int(np.prod(s))
                ws.append(theta[at : at + size].reshape(s))
                at += size
            return np.concatenate([g.ravel() for g in ndl.layer_gradients(X, y, ws)[0]])

        h = 1e-6  # central differences of the exact gradient: Hessian error ~1e-10
        H = np.array(
            [(grad(params + h * e) - grad(params - h * e)) / (2 * h) for e in np.eye(params.size)]
        )
        top = float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (H + H.T)))))
        mu = float(np.linalg.norm(X, 2) ** 2 / X.shape[0])
        ws = tuple(weights)
        bound = ndl._curvature_bound(ws, X, y, mu, float(np.linalg.norm(X @ ws[0].T)), ws[0])
        g = float(np.linalg.norm(X.T @ (X @ ndl.end_to_end(ws) - y))) / X.shape[0]
        legacy = ndl._local_stiffness(ws, g, mu)
        assert top * (1 - 1e-6) <= bound <= legacy
    run = ndl.fine_tune(X, y, ndl.balanced_weights(ts, [6, 4, 4, 1], 3), integrator="rk4")
    assert run.converged and run.method == "full/rk4 (bound curvature)"


def test_pretrain_uses_the_adaptive_full_matrix_flow() -> None:
    ts = nd.random_unit_vector(5, 3)
    weights = ndl.pretrain(ts, [5, 4, 4, 1], 2, init_scale=0.1)
    assert np.allclose(ndl.end_to_end(weights), ts, atol=1e-8)
    assert ndl.rank_one_residual(weights) > 1e-6  # not rank one: the reduction does not apply
