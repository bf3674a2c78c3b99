"""Linear regression fine-tuned by actual gradient descent (THEORY.md §1).

Nothing here evaluates a closed form of the theory: :func:`fine_tune` runs full-batch
gradient descent on L(θ) = (1/2n)‖Xθ − y‖² from θ_S until the gradient is small, and the
Monte Carlo helpers average trained models over fresh designs and test points.

Step-size rule: the default step is η = 1/λ_max(XᵀX/n), half the stability limit
2/λ_max(XᵀX/n); a user step at or above that limit is rejected.
Stopping rule: stop when ‖∇L(θ_k)‖ ≤ max(rtol·‖∇L(θ_S)‖, floor), where the floor
64·eps·(λ_max‖θ_k‖ + ‖Xᵀy‖/n) is the size of the gradient's own rounding error.
Since ‖∇L‖ ≥ μ_min‖e‖ for the error e in the row space of X, the relative error at stop is
at most κ·rtol with κ the condition number of XXᵀ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import ConvergenceError, InputError
from numeric.data import RngLike, as_generator, labels, sample_inputs

__all__ = [
    "DEFAULT_RTOL",
    "GDResult",
    "MonteCarloEstimate",
    "expected_risk_mc",
    "fine_tune",
    "fine_tune_many",
    "loss",
    "loss_gradient",
    "population_risk_mc",
    "quadratic_risk",
]

#: Default relative gradient tolerance. With κ ≤ 1e3 the relative error at stop is
#: ≲ 1e-11·‖e₀‖, the accuracy the linear-regression claims require.
DEFAULT_RTOL = 1e-14
#: Default step budget; a run that needs more raises ConvergenceError (strict mode).
DEFAULT_MAX_STEPS = 200_000
_ROUNDING_FLOOR = 64.0 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class GDResult:
    """Outcome of a gradient-descent run.

    ``theta``: final weights (d,) or (batch, d); ``steps``: iterations taken (per batch
    element, the largest is the run length); ``converged``: gradient tolerance met (per
    element); ``loss_history``: L(θ_k) for k = 0 … steps, shape (steps+1,) or
    (steps+1, batch) (frozen elements repeat their last value); ``step``: η used;
    ``grad_norm``: final ‖∇L‖.
    """

    theta: FloatArray
    steps: np.ndarray
    converged: np.ndarray
    loss_history: FloatArray
    step: FloatArray
    grad_norm: FloatArray

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))


def loss_gradient(X: FloatArray, y: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(L(θ), ∇L(θ)) for L(θ) = (1/2n)‖Xθ − y‖²; batched over leading axes of X (…, n, d)."""
    n = X.shape[-2]
    resid = (X @ theta[..., None])[..., 0] - y
    grad = (resid[..., None, :] @ X)[..., 0, :] / n
    value = 0.5 * np.sum(resid * resid, axis=-1) / n
    return value, grad


def loss(X: ArrayLike, y: ArrayLike, theta: ArrayLike) -> float:
    """L(θ) = (1/2n)‖Xθ − y‖² (the normalisation used everywhere in the project)."""
    Xa, ya = checks.design_and_labels(X, y)
    th = checks.as_vector(theta, "theta", Xa.shape[1])
    return float(loss_gradient(Xa, ya, th)[0])


def _top_curvature(X: FloatArray) -> FloatArray:
    """λ_max(XᵀX/n) for each matrix of a stack (…, n, d)."""
    return np.asarray(np.linalg.svd(X, compute_uv=False)[..., 0] ** 2 / X.shape[-2])


def _gradient_descent(
    X: FloatArray,
    y: FloatArray,
    theta0: FloatArray,
    step: float | None,
    rtol: float,
    max_steps: int,
    strict: bool,
) -> GDResult:
    """Batched GD on (…, n, d) designs; frozen per element once its tolerance is met."""
    curv = _top_curvature(X)
    if np.any(curv == 0.0):
        raise InputError("X must not be all zeros (the loss is flat; no step size is defined)")
    limit = 2.0 / curv
    if step is None:
        eta = 1.0 / curv
    else:
        eta = np.full(curv.shape, checks.positive(step, "step"))
        if np.any(eta >= limit):
            raise InputError(
                f"step must be below the stability limit 2/lambda_max(X^T X/n) = "
                f"{float(np.min(limit)):.6g}, got {step!r}"
            )
    n = X.shape[-2]
    xty_norm = np.linalg.norm(np.einsum("...ij,...i->...j", X, y), axis=-1) / n
    theta = np.array(theta0, dtype=np.float64, copy=True)
    value, grad = loss_gradient(X, y, theta)
    g0 = np.linalg.norm(grad, axis=-1)
    history = [np.array(value, copy=True)]
    steps = np.zeros(curv.shape, dtype=np.int64)
    active = np.ones(curv.shape, dtype=bool)
    gnorm = g0
    for _ in range(max_steps + 1):
        floor = _ROUNDING_FLOOR * (curv * np.linalg.norm(theta, axis=-1) + xty_norm)
        active = active & (gnorm > np.maximum(rtol * g0, floor))
        if not np.any(active):
            break
        if int(np.max(steps)) >= max_steps:
            break
        theta = theta - np.where(active[..., None], eta[..., None] * grad, 0.0)
        steps = steps + active
        value, grad = loss_gradient(X, y, theta)
        gnorm = np.linalg.norm(grad, axis=-1)
        if not np.all(np.isfinite(value)):
            raise ConvergenceError("gradient descent diverged (loss became non-finite)")
        history.append(np.array(value, copy=True))
    converged = ~active
    result = GDResult(
        theta=theta,
        steps=steps,
        converged=converged,
        loss_history=np.asarray(history, dtype=np.float64),
        step=np.asarray(eta, dtype=np.float64),
        grad_norm=np.asarray(gnorm, dtype=np.float64),
    )
    if strict and not result.all_converged:
        worst = float(np.max(gnorm / np.maximum(g0, 1e-300)))
        raise ConvergenceError(
            f"gradient descent did not converge in max_steps={max_steps}: relative gradient "
            f"norm {worst:.3g} > rtol={rtol:.3g}; raise max_steps or pass strict=False"
        )
    return result


def fine_tune(
    X: ArrayLike,
    y: ArrayLike,
    theta_s: ArrayLike,
    *,
    step: float | None = None,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    strict: bool = True,
) -> GDResult:
    """Fine-tune linear regression by full-batch gradient descent started at θ_S.

    θ_{k+1} = θ_k − η (1/n) Xᵀ(Xθ_k − y), θ_0 = θ_S, for L(θ) = (1/2n)‖Xθ − y‖².

    Parameters: X (n, d); y (n,); theta_s (d,); ``step`` η (default 1/λ_max(XᵀX/n); must be
    below 2/λ_max(XᵀX/n)); ``rtol``: stop when ‖∇L‖ ≤ rtol·‖∇L(θ_S)‖ (or the rounding
    floor); ``max_steps``; ``strict``: raise :class:`ConvergenceError` if the budget runs
    out (otherwise return with ``converged`` False).
    Returns a :class:`GDResult` with ``theta`` of shape (d,).
    """
    Xa, ya = checks.design_and_labels(X, y)
    ts = checks.as_vector(theta_s, "theta_s", Xa.shape[1])
    r, m = checks.rtol_and_budget(rtol, max_steps)
    return _gradient_descent(Xa, ya, ts, step, r, m, strict)


def fine_tune_many(
    X: ArrayLike,
    y: ArrayLike,
    theta_s: ArrayLike,
    *,
    step: float | None = None,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    strict: bool = True,
) -> GDResult:
    """:func:`fine_tune` on a stack of independent problems, vectorised.

    X (batch, n, d), y (batch, n), theta_s (d,) shared or (batch, d). Each problem gets its
    own default step and is frozen as soon as it meets its own tolerance, so its result
    does not depend on the others.
    """
    Xa = checks.as_float_array(X, "X", 3)
    ya = checks.as_float_array(y, "y", 2)
    if ya.shape != Xa.shape[:2]:
        raise InputError(f"y must have shape {Xa.shape[:2]} to match X, got {ya.shape}")
    ts = np.asarray(theta_s, dtype=np.float64)
    if ts.ndim == 1:
        ts = np.broadcast_to(checks.as_vector(ts, "theta_s", Xa.shape[2]), Xa.shape[::2])
    elif ts.shape != Xa.shape[::2]:
        raise InputError(f"theta_s must have shape ({Xa.shape[2]},) or {Xa.shape[::2]}")
    if not np.all(np.isfinite(ts)):
        raise InputError("theta_s must contain only finite numbers")
    r, m = checks.rtol_and_budget(rtol, max_steps)
    return _gradient_descent(Xa, ya, ts, step, r, m, strict)


def quadratic_risk(
    theta: ArrayLike, theta_t: ArrayLike, cov: ArrayLike | None = None
) -> FloatArray:
    """(θ − θ_T)ᵀΣ(θ − θ_T) for θ of shape (d,) or (batch, d): the excess population risk."""
    th = np.asarray(theta, dtype=np.float64)
    tt = checks.as_vector(theta_t, "theta_t", th.shape[-1])
    diff = th - tt
    sig = np.eye(tt.shape[0]) if cov is None else checks.as_cov(cov, tt.shape[0])
    return np.asarray(np.einsum("...i,ij,...j->...", diff, sig, diff), dtype=np.float64)


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo mean with its standard error s/√M over M independent samples."""

    mean: float
    stderr: float
    samples: int


def _estimate(values: FloatArray) -> MonteCarloEstimate:
    m = values.shape[0]
    se = float(np.std(values, ddof=1) / np.sqrt(m)) if m > 1 else float("inf")
    return MonteCarloEstimate(float(np.mean(values)), se, int(m))


def population_risk_mc(
    theta: ArrayLike,
    theta_t: ArrayLike,
    rng: RngLike,
    cov: ArrayLike | None = None,
    n_test: int = 100_000,
) -> MonteCarloEstimate:
    """E_x[(θ·x − θ_T·x)²] estimated on ``n_test`` fresh points x ~ N(0, Σ)."""
    th = checks.as_vector(theta, "theta")
    tt = checks.as_vector(theta_t, "theta_t", th.shape[0])
    m = checks.positive_int(n_test, "n_test", minimum=2)
    x = sample_inputs(m, th.shape[0], as_generator(rng), cov=cov)
    return _estimate((x @ (th - tt)) ** 2)


def expected_risk_mc(
    theta_s: ArrayLike,
    theta_t: ArrayLike,
    n: int,
    rng: RngLike,
    *,
    cov: ArrayLike | None = None,
    noise_std: float = 0.0,
    designs: int = 200,
    rtol: float = 1e-10,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> MonteCarloEstimate:
    """E over designs and label noise of R(θ) for θ trained by :func:`fine_tune_many`.

    Draws ``designs`` independent X (n, d) ~ N(0, Σ) and y = Xθ_T + ξ, fine-tunes each from
    θ_S by gradient descent, and averages (θ − θ_T)ᵀΣ(θ − θ_T). The standard error is
    s/√designs. ``rtol`` defaults to 1e-10: the risk depends on θ quadratically, so the
    optimisation error it leaves (≲ κ·rtol relative) is far below Monte Carlo error.
    """
    ts = checks.as_vector(theta_s, "theta_s")
    tt = checks.as_vector(theta_t, "theta_t", ts.shape[0])
    m = checks.positive_int(designs, "designs", minimum=2)
    gen = as_generator(rng)
    X = sample_inputs(n, ts.shape[0], gen, cov=cov, batch=m)
    y = labels(X, tt, noise_std, gen)
    result = fine_tune_many(X, y, ts, rtol=rtol, max_steps=max_steps)
    return _estimate(quadratic_risk(result.theta, tt, cov))
