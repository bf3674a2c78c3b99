"""Linear regression fine-tuned by actual first-order training (docs/theory.md §1).

Nothing here evaluates a closed form of the theory: :func:`fine_tune` minimises
L(θ) = (1/2n)‖Xθ − y‖² from θ_S with gradients of L until the gradient is small, and the
Monte Carlo helpers average trained models over fresh designs and test points.

Methods (``method=``):

* ``"gd"`` (default) — plain full-batch gradient descent θ_{k+1} = θ_k − η∇L(θ_k), the
  algorithm the theorem is stated for. Default step η = 1/λ_max(XᵀX/n), half the stability
  limit 2/λ_max(XᵀX/n); a user step at or above that limit is rejected. Steps to reach
  relative gradient rtol: ≈ κ·ln(1/rtol), κ = λ_max/λ_min⁺ of XᵀX/n (λ_min⁺ the smallest
  nonzero eigenvalue; κ = κ(XXᵀ) when X has full row rank).
* ``"cg"`` — conjugate gradients on the loss started at θ_S: θ_{k+1} = θ_k + α_k p_k with
  the exact line-search step α_k = −∇L(θ_k)·p_k / (‖Xp_k‖²/n) and p_{k+1} = −∇L(θ_{k+1}) +
  β_k p_k (Polak–Ribière+, β_k ≥ 0; restart p = −∇L if p is not a descent direction).
  Gradients are recomputed from θ at every step (never updated recursively), so the
  stopping test sees the true gradient. Every search direction is a combination of
  gradients Xᵀ(·)/n, so every iterate stays in θ_S + rowspace(X) and the limit is the same
  interpolant θ_FT = θ_S + X⁺(y − Xθ_S) as for GD. Steps: ≲ (√κ/2)·ln(2√κ/rtol) (the
  Chebyshev bound; in exact arithmetic at most rank(X)), each costing one extra product
  with X. Choose it when κ is large (n close to d, or an ill-conditioned Σ): e.g. n/d =
  0.99 gives κ ~ 1e5 and GD would need millions of steps. Use ``"gd"`` when the GD
  trajectory itself is the object of study (finite-k iterates, step-size effects).

Stopping rule (both): stop when ‖∇L(θ_k)‖ ≤ max(rtol·‖∇L(θ_S)‖, floor), where the floor
64·eps·(λ_max‖θ_k‖ + ‖Xᵀy‖/n) is the size of the gradient's own rounding error.
Since ‖∇L‖ ≥ λ_min⁺‖e‖ for the error e in the row space of X, the relative error at stop is
at most κ·rtol. A run that exhausts ``max_steps`` raises :class:`ConvergenceError` stating
the relative gradient reached, κ and the steps each method would need (``strict=False``
returns the unconverged iterate with ``converged`` False instead).

Scale convention: training runs on the exactly rescaled problem (X/s, y/s) with s = 2^e a
power of two per problem, so that max|X/s| ∈ [1/2, 1). Power-of-two scaling is exact in
floating point and leaves every iterate unchanged (L scales by s², ∇L by s², the step by
1/s²), so the results are those of training on (X, y); it keeps λ_max, the loss and the
rounding floor representable for X of any magnitude (e.g. X·1e200 or X·1e-200). Reported
``loss_history``, ``grad_norm`` and ``step`` are in the caller's units (``units_log2`` = 0)
whenever those are representable; when one of them is not (the loss of X·1e200 is ~1e400,
the step of X·1e-200 is ~1e400), that problem's values are reported for the rescaled
problem instead and ``units_log2`` = 2e says so: the caller's loss and gradient norm are
``loss_history·2^units_log2`` and ``grad_norm·2^units_log2``, the caller's step is
``step·2^−units_log2``. Nothing returned is NaN or inf; ``theta`` is never out of range
silently: if y/s or the loss of the rescaled problem overflows, :class:`InputError` says so.

Stalls: a run whose update no longer changes θ (a user step so small that η∇L rounds away
against θ, or line-search steps that round to zero for two consecutive steps) can make no
further progress, so it stops at once: :class:`ConvergenceError` in strict mode, otherwise
``converged`` False. A budget of ``max_steps`` steps therefore never spins without moving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import ConvergenceError, InputError
from numeric._records import (
    BoolArray,
    IntArray,
    bool_or_array,
    float_array,
    float_or_array,
    int_or_array,
    set_field,
)
from numeric.data import MAX_ENTRIES, RngLike, as_generator, labels, sample_inputs

__all__ = [
    "DEFAULT_RTOL",
    "METHODS",
    "GDResult",
    "Method",
    "MonteCarloEstimate",
    "estimated_steps",
    "expected_risk_mc",
    "fine_tune",
    "fine_tune_many",
    "loss",
    "loss_gradient",
    "population_risk_mc",
    "quadratic_risk",
]

#: Training algorithm: plain gradient descent or conjugate gradients (module docstring).
Method = Literal["gd", "cg"]
METHODS: tuple[Method, ...] = get_args(Method)

#: Default relative gradient tolerance. With κ ≤ 1e3 the relative error at stop is
#: ≲ 1e-11·‖e₀‖, the accuracy the linear-regression claims require.
DEFAULT_RTOL = 1e-14
#: Default step budget; a run that needs more raises ConvergenceError (strict mode).
DEFAULT_MAX_STEPS = 200_000
_EPS = float(np.finfo(np.float64).eps)
_ROUNDING_FLOOR = 64.0 * _EPS
#: κ above which X is numerically rank-deficient at the 1e-8 level relative to σ_max:
#: singular values below ~σ_max·1e-6 carry only ~10 correct digits after rounding.
_NEAR_SINGULAR_KAPPA = 1e12


@dataclass(frozen=True)
class GDResult:
    """Outcome of a training run (gradient descent or conjugate gradients).

    ``theta``: final weights (d,) or (batch, d); ``steps``: iterations taken (per batch
    element, the largest is the run length); ``converged``: gradient tolerance met (per
    element); ``loss_history``: L(θ_k) for k = 0 … steps, shape (steps+1,) or
    (steps+1, batch) (frozen elements repeat their last value); ``step``: η used for
    ``"gd"``, the last line-search step α_k for ``"cg"``; ``grad_norm``: final ‖∇L‖;
    ``condition``: κ = λ_max/λ_min⁺ of XᵀX/n (per element, from the singular values the
    step size needs anyway); ``method``: the algorithm; ``error_estimate``: an a-posteriori
    bound on ‖θ − θ_FT‖/‖θ‖ (per element), 2‖∇L(θ)‖/(λ_min⁺‖θ‖): every iterate lies in
    θ_S + rowspace(X), where ‖∇L(θ)‖ ≥ λ_min⁺‖θ − θ_FT‖ (the factor 2 covers the rounding
    of the gradient); for n > d the same bound holds for the least-squares solution.
    ``units_log2`` (int per element): 0 when loss, gradient norm and step are in the caller's
    units; otherwise 2e for the power-of-two rescaling X/2^e the run used (module docstring:
    caller's loss = loss_history·2^units_log2, step = step·2^−units_log2).

    Types: ``theta`` and ``loss_history`` are float64 ndarrays. For one problem
    (:func:`fine_tune`) every per-element field is a Python scalar: ``steps`` and
    ``units_log2`` ``int``, ``converged`` ``bool``, ``step``, ``grad_norm``, ``condition``
    and ``error_estimate`` ``float``. For a stack (:func:`fine_tune_many`) they are ndarrays
    of shape (batch,): int64, bool and float64 respectively.
    """

    theta: FloatArray
    steps: int | IntArray
    converged: bool | BoolArray
    loss_history: FloatArray
    step: float | FloatArray
    grad_norm: float | FloatArray
    condition: float | FloatArray
    method: str = "gd"
    error_estimate: float | FloatArray = math.nan
    units_log2: int | IntArray = 0

    def __post_init__(self) -> None:
        set_field(self, "theta", float_array(self.theta))
        set_field(self, "steps", int_or_array(self.steps))
        set_field(self, "converged", bool_or_array(self.converged))
        set_field(self, "loss_history", float_array(self.loss_history))
        for name in ("step", "grad_norm", "condition", "error_estimate"):
            set_field(self, name, float_or_array(getattr(self, name)))
        set_field(self, "units_log2", int_or_array(self.units_log2))
        set_field(self, "method", str(self.method))

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))


def _real_array(value: ArrayLike, name: str) -> FloatArray:
    """``value`` under the shared coercion rule, any number of dimensions, not empty.

    Float64 arrays are used as they are (no copy: the training loops call
    :func:`loss_gradient` every step); their values are checked through the result.
    """
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        arr = value
    elif value is None:
        raise InputError(f"{name} must be an array of real numbers (float or int), got None")
    else:
        try:
            ndim = np.ndim(value)
        except ValueError as exc:
            raise InputError(
                f"{name} must be a rectangular array of real numbers ({exc})"
            ) from None
        arr = checks.as_float_array(value, name, max(ndim, 1))
    if arr.size == 0:
        raise InputError(f"{name} must not be empty, got shape {arr.shape}")
    return arr


def loss_gradient(X: ArrayLike, y: ArrayLike, theta: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(L(θ), ∇L(θ)) for L(θ) = (1/2n)‖Xθ − y‖², ∇L(θ) = Xᵀ(Xθ − y)/n.

    Batched over leading axes: X (…, n, d), y (…, n), theta (…, d). Every input goes through
    the shared coercion rule (real numbers only: bool, complex, str, None and objects are
    refused) and shapes are checked on every call; the values of float64 arrays are checked
    through the result (O(n + d), so the training loops can call this every step): a NaN or
    inf in any input propagates into L or ∇L, and then the inputs are validated with
    :mod:`finetune_theory.checks`, which names the bad one. Finite inputs whose loss or
    gradient overflows float64 raise :class:`InputError` about the scale (rescale X and y by a
    common power of two; θ_FT is invariant under (X, y) → (cX, cy)).
    """
    Xa = _real_array(X, "X")
    ya = _real_array(y, "y")
    th = _real_array(theta, "theta")
    if Xa.ndim < 2:
        raise InputError(f"X must be at least 2-dimensional (…, n, d), got shape {Xa.shape}")
    if ya.shape != Xa.shape[:-1]:
        raise InputError(f"y must have shape {Xa.shape[:-1]} to match X, got {ya.shape}")
    batch = Xa.shape[:-2]
    try:
        fits = th.shape[-1:] == Xa.shape[-1:] and np.broadcast_shapes(th.shape[:-1], batch) == batch
    except ValueError:  # batch shapes that do not broadcast
        fits = False
    if not fits:
        raise InputError(f"theta must have shape {Xa.shape[:-2] + Xa.shape[-1:]}, got {th.shape}")
    n = Xa.shape[-2]
    with np.errstate(over="ignore", invalid="ignore"):
        resid = (Xa @ th[..., None])[..., 0] - ya
        grad = (resid[..., None, :] @ Xa)[..., 0, :] / n
        value = 0.5 * np.sum(resid * resid, axis=-1) / n
    if not (np.all(np.isfinite(value)) and np.all(np.isfinite(grad))):
        for arr, name in ((Xa, "X"), (ya, "y"), (th, "theta")):
            checks.as_float_array(arr, name, arr.ndim)
        raise InputError(
            "X, y and theta are finite but L(theta) or its gradient overflows float64 "
            f"(max|X| = {float(np.max(np.abs(Xa))):.3g}, max|y| = {float(np.max(np.abs(ya))):.3g}, "
            f"max|theta| = {float(np.max(np.abs(th))):.3g}); rescale the problem"
        )
    return np.asarray(value, dtype=np.float64), np.asarray(grad, dtype=np.float64)


def loss(X: ArrayLike, y: ArrayLike, theta: ArrayLike) -> float:
    """L(θ) = (1/2n)‖Xθ − y‖² (the normalisation used everywhere in the project)."""
    Xa, ya = checks.design_and_labels(X, y)
    th = checks.as_vector(theta, "theta", Xa.shape[1])
    return float(loss_gradient(Xa, ya, th)[0])


def estimated_steps(condition: float, rtol: float, method: Method) -> float:
    """Steps a method needs to shrink the relative gradient norm to ``rtol`` at condition κ.

    ``"gd"`` (step 1/λ_max): the slowest mode's gradient decays as (1 − 1/κ)^k, so
    k ≈ κ·ln(1/rtol). ``"cg"``: the Chebyshev bound ‖e_k‖ ≤ 2((√κ − 1)/(√κ + 1))^k‖e_0‖ in
    the XᵀX-norm, with the gradient a further √κ looser: k ≈ (√κ/2)·ln(2√κ/rtol).
    Upper estimates from κ alone; clustered spectra converge sooner. ``condition`` is
    κ = λ_max/λ_min⁺ >= 1, ``rtol`` in (0, 1); an estimate beyond float64 raises
    :class:`InputError`.
    """
    kappa = checks.real_number(condition, "condition")
    if kappa < 1.0:
        raise InputError(
            f"condition must be >= 1 (kappa = lambda_max/lambda_min+ of X^T X/n), got {kappa!r}"
        )
    r = checks.positive(rtol, "rtol")
    if r >= 1.0:
        raise InputError(f"rtol must be in (0, 1), got {r!r}")
    if _method(method) == "gd":
        steps = kappa * -math.log(r)
    else:
        steps = 0.5 * math.sqrt(kappa) * (math.log(2.0) + 0.5 * math.log(kappa) - math.log(r))
    if not math.isfinite(steps):
        raise InputError(
            f"condition={kappa!r} with rtol={r!r} needs more steps than float64 can count"
        )
    return steps


def _spectrum(X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(λ_max, λ_min⁺) of XᵀX/n for each matrix of a stack (…, n, d).

    λ_min⁺ is the smallest eigenvalue above the rank threshold σ > σ_max·max(n, d)·eps
    (NumPy's matrix_rank rule): smaller singular values are rounding noise.
    """
    n, d = X.shape[-2:]
    sv = np.linalg.svd(X, compute_uv=False)
    top = sv[..., 0]
    nonzero = sv > (top * max(n, d) * _EPS)[..., None]
    smallest = np.min(np.where(nonzero, sv, np.inf), axis=-1)
    return np.asarray(top**2 / n), np.asarray(smallest**2 / n)


def _norm(a: FloatArray) -> FloatArray:
    """‖a‖ along the last axis, computed as m·‖a/m‖ with m = max|a| so that the squares
    neither overflow (‖a‖ up to float64's largest number) nor underflow."""
    m = np.max(np.abs(a), axis=-1)
    unit = a / np.where(m > 0.0, m, 1.0)[..., None]
    return np.asarray(m * np.sqrt(np.sum(unit * unit, axis=-1)), dtype=np.float64)


def _power_of_two_scale(X: FloatArray) -> np.ndarray:
    """Exponent e per problem with max|X|·2^(−e) ∈ [1/2, 1); InputError if X is all zeros."""
    peak = np.max(np.abs(X), axis=(-2, -1))
    if np.any(peak == 0.0):
        raise InputError("X must not be all zeros (the loss is flat; no step size is defined)")
    return np.asarray(np.frexp(peak)[1], dtype=np.int64)


def _train(
    X: FloatArray,
    y: FloatArray,
    theta0: FloatArray,
    method: Method,
    step: float | None,
    rtol: float,
    max_steps: int,
    strict: bool,
) -> GDResult:
    """Batched training on (…, n, d) designs; frozen per element once its tolerance is met.

    Runs on the power-of-two-rescaled problem (module docstring) and reports in the
    caller's units where those are representable (``units_log2``); stops a stalled element.
    """
    expo = _power_of_two_scale(X)
    X = np.ldexp(X, -expo[..., None, None])
    with np.errstate(over="ignore", under="ignore"):
        y = np.ldexp(y, -expo[..., None])
    if not np.all(np.isfinite(y)):
        raise InputError(
            "y is too large relative to X: y/max|X| overflows float64, so the interpolant "
            "theta_FT = theta_s + X^+(y - X theta_s) is not representable; rescale y"
        )
    curv, low = _spectrum(X)
    kappa = np.asarray(curv / low, dtype=np.float64)
    limit = 2.0 / curv
    if step is None:
        eta = 1.0 / curv
    else:
        user = checks.positive(step, "step")
        with np.errstate(over="ignore"):
            eta = np.ldexp(np.full(curv.shape, user), 2 * expo)
        if np.any(eta >= limit):
            with np.errstate(over="ignore", under="ignore"):
                lim_user = float(np.min(np.ldexp(limit, -2 * expo)))
            raise InputError(
                f"step must be below the stability limit 2/lambda_max(X^T X/n) = "
                f"{lim_user:.6g}, got {step!r}"
            )
    n = X.shape[-2]
    theta = np.array(theta0, dtype=np.float64, copy=True)
    try:
        value, grad = loss_gradient(X, y, theta)
    except InputError:
        raise InputError(
            "theta_s or y is too large relative to X: L(theta_s) of the rescaled problem "
            "(X/s, y/s), s = 2^e ~ max|X|, overflows float64 "
            f"(max|theta_s| = {float(np.max(np.abs(theta))):.3g}, "
            f"max|y/s| = {float(np.max(np.abs(y))):.3g}); rescale them"
        ) from None
    xty_norm = _norm(np.einsum("...ij,...i->...j", X, y)) / n
    g0 = _norm(grad)
    history = [np.array(value, copy=True)]
    steps = np.zeros(curv.shape, dtype=np.int64)
    active = np.ones(curv.shape, dtype=bool)
    gnorm = g0
    cg = method == "cg"
    direction = -grad
    grad_sq = g0 * g0
    alpha_last = np.zeros(curv.shape)
    # Consecutive steps that left theta unchanged, and how many make a stall: a GD step is
    # a function of theta alone (one unchanged step repeats forever); CG restarts along -grad
    # after one (beta ~ 0 when the gradient is unchanged), so two in a row.
    unchanged = np.zeros(curv.shape, dtype=np.int64)
    stall_after = 2 if cg else 1
    stalled = np.zeros(curv.shape, dtype=bool)
    for _ in range(max_steps + 1):
        floor = _ROUNDING_FLOOR * (curv * _norm(theta) + xty_norm)
        active = active & (gnorm > np.maximum(rtol * g0, floor)) & ~stalled
        if not np.any(active):
            break
        if int(np.max(steps)) >= max_steps:
            break
        previous = theta
        if cg:
            xp = np.einsum("...ij,...j->...i", X, direction)
            curvature_p = np.sum(xp * xp, axis=-1) / n
            slope = np.sum(grad * direction, axis=-1)
            usable = active & (curvature_p > 0.0) & (slope < 0.0)
            alpha = np.where(usable, -slope / np.where(usable, curvature_p, 1.0), 0.0)
            alpha_last = np.where(usable, alpha, alpha_last)
            theta = theta + alpha[..., None] * direction
        else:
            theta = theta - np.where(active[..., None], eta[..., None] * grad, 0.0)
        steps = steps + active
        unchanged = np.where(active & np.all(theta == previous, axis=-1), unchanged + 1, 0)
        stalled = stalled | (unchanged >= stall_after)
        old_grad = grad
        try:
            value, grad = loss_gradient(X, y, theta)
        except InputError as exc:
            raise ConvergenceError(f"{method} diverged (loss became non-finite)") from exc
        gnorm = _norm(grad)
        if cg:
            new_sq = gnorm * gnorm
            polak_ribiere = (new_sq - np.sum(grad * old_grad, axis=-1)) / np.where(
                grad_sq > 0.0, grad_sq, 1.0
            )
            beta = np.maximum(polak_ribiere, 0.0)
            fresh = -grad + beta[..., None] * direction
            descent = np.sum(grad * fresh, axis=-1) < 0.0
            fresh = np.where(descent[..., None], fresh, -grad)
            direction = np.where(active[..., None], fresh, direction)
            grad_sq = np.where(active, new_sq, grad_sq)
        history.append(np.array(value, copy=True))
    active = active & ~stalled
    converged = ~active & ~stalled
    loss_out, grad_out, step_out, units = _caller_units(
        np.asarray(history, dtype=np.float64),
        np.asarray(gnorm, dtype=np.float64),
        np.asarray(alpha_last if cg else eta, dtype=np.float64),
        2 * expo,
    )
    result = GDResult(
        theta=theta,
        steps=steps,
        converged=converged,
        loss_history=loss_out,
        step=step_out,
        grad_norm=grad_out,
        condition=kappa,
        method=method,
        error_estimate=_error_estimate(gnorm, low, theta),
        units_log2=units,
    )
    if strict and np.any(stalled):
        raise ConvergenceError(_stall_message(method, step, stalled, gnorm, g0, rtol))
    if strict and not result.all_converged:
        relative = gnorm / np.where(g0 > 0.0, g0, 1.0)
        raise ConvergenceError(_budget_message(method, max_steps, rtol, relative, kappa, active))
    return result


def _caller_units(
    history: FloatArray, gnorm: FloatArray, step: FloatArray, two_e: np.ndarray
) -> tuple[FloatArray, FloatArray, FloatArray, np.ndarray]:
    """Loss history, gradient norm and step of the rescaled problem (X/2^e, y/2^e) in the
    caller's units (loss and gradient times 4^e, step divided by it), per problem, unless
    one of them would leave float64 (overflow, or a nonzero step below the smallest normal
    number): then that problem keeps the rescaled values and ``units_log2`` = 2e."""
    with np.errstate(over="ignore", under="ignore"):
        loss_c = np.ldexp(history, two_e)
        grad_c = np.ldexp(gnorm, two_e)
        step_c = np.ldexp(step, -two_e)
    tiny = np.finfo(np.float64).tiny
    fits = (
        np.all(np.isfinite(loss_c), axis=0)
        & np.isfinite(grad_c)
        & np.isfinite(step_c)
        & ((step_c >= tiny) | (step == 0.0))
    )
    units = np.where(fits, 0, two_e).astype(np.int64)
    shift = two_e - units
    return np.ldexp(history, shift), np.ldexp(gnorm, shift), np.ldexp(step, -shift), units


def _error_estimate(gnorm: FloatArray, low: FloatArray, theta: FloatArray) -> FloatArray:
    """2‖∇L‖/(λ_min⁺‖θ‖), unit-free (invariant under the power-of-two rescaling); capped at
    float64's largest number where ‖θ‖ is ~0 and the bound says nothing."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        bound = 2.0 * gnorm / low / np.maximum(_norm(theta), 1e-300)
    return np.asarray(np.minimum(bound, np.finfo(np.float64).max), dtype=np.float64)


def _stall_message(
    method: Method,
    step: float | None,
    stalled: np.ndarray,
    gnorm: FloatArray,
    g0: FloatArray,
    rtol: float,
) -> str:
    """A run whose update stopped changing theta."""
    relative = float(np.max(np.where(stalled, gnorm / np.where(g0 > 0.0, g0, 1.0), 0.0)))
    count = int(np.sum(stalled))
    where = f" ({count} of {stalled.size} problems)" if stalled.ndim else ""
    cause = (
        f"step={step!r} is too small: eta*grad rounds away against theta"
        if step is not None
        else "the steps round to zero against theta"
    )
    return (
        f"{method} stalled{where}: the update no longer changes theta ({cause}) with the "
        f"relative gradient norm at {relative:.3g} > rtol={rtol:.3g}; more steps cannot help"
    )


def _budget_message(
    method: Method,
    max_steps: int,
    rtol: float,
    relative: FloatArray,
    kappa: FloatArray,
    failed: np.ndarray,
) -> str:
    """What a run that exhausted its budget reached, and what it would need."""
    worst = float(np.max(np.where(failed, relative, 0.0)))
    k = float(np.max(np.where(failed, kappa, 0.0)))
    count = int(np.sum(failed))
    where = f" ({count} of {failed.size} problems)" if failed.ndim else ""
    gd_need = estimated_steps(k, rtol, "gd")
    cg_need = estimated_steps(k, rtol, "cg")
    need = gd_need if method == "gd" else cg_need
    advice = "pass method='cg' (same limit, ~sqrt(kappa) steps), " if method == "gd" else ""
    near = (
        f"; kappa > {_NEAR_SINGULAR_KAPPA:.0e}: X is numerically near rank-deficient, so the "
        "interpolant itself is ill-determined"
        if k > _NEAR_SINGULAR_KAPPA
        else ""
    )
    return (
        f"{method} did not converge in max_steps={max_steps}{where}: relative gradient norm "
        f"reached {worst:.3g} > rtol={rtol:.3g}; kappa = lambda_max/lambda_min+ of X^T X/n = "
        f"{k:.3g}, at which plain GD needs ~kappa*ln(1/rtol) = {gd_need:.3g} steps and "
        f"method='cg' ~sqrt(kappa)/2*ln(2 sqrt(kappa)/rtol) = {cg_need:.3g}; {advice}"
        f"raise max_steps to >= {math.ceil(need):d}, loosen rtol, or pass strict=False{near}"
    )


def _method(method: str) -> Method:
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _step_for(method: Method, step: float | None) -> float | None:
    if step is not None and method != "gd":
        raise InputError(f"step applies to method='gd' only ({method!r} chooses its own steps)")
    return step


def fine_tune(
    X: ArrayLike,
    y: ArrayLike,
    theta_s: ArrayLike,
    *,
    method: Method = "gd",
    step: float | None = None,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    strict: bool = True,
) -> GDResult:
    """Fine-tune linear regression from θ_S by first-order training on L(θ) = (1/2n)‖Xθ − y‖².

    ``method="gd"``: θ_{k+1} = θ_k − η (1/n) Xᵀ(Xθ_k − y), θ_0 = θ_S (the theorem's
    algorithm). ``method="cg"``: conjugate gradients from θ_S, same limit θ_FT in ≈ √κ
    instead of ≈ κ steps (module docstring: when to choose which).

    Parameters: X (n, d); y (n,); theta_s (d,); ``step`` η for ``"gd"`` only (default
    1/λ_max(XᵀX/n); must be below 2/λ_max(XᵀX/n)); ``rtol``: stop when
    ‖∇L‖ ≤ rtol·‖∇L(θ_S)‖ (or the rounding floor); ``max_steps``; ``strict``: raise
    :class:`ConvergenceError` if the budget runs out (otherwise return with ``converged``
    False). Returns a :class:`GDResult` with ``theta`` of shape (d,).
    """
    meth = _method(method)
    Xa, ya = checks.design_and_labels(X, y)
    ts = checks.as_vector(theta_s, "theta_s", Xa.shape[1])
    r, m = checks.rtol_and_budget(rtol, max_steps)
    return _train(Xa, ya, ts, meth, _step_for(meth, step), r, m, strict)


def fine_tune_many(
    X: ArrayLike,
    y: ArrayLike,
    theta_s: ArrayLike,
    *,
    method: Method = "gd",
    step: float | None = None,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    strict: bool = True,
) -> GDResult:
    """:func:`fine_tune` on a stack of independent problems, vectorised.

    X (batch, n, d), y (batch, n), theta_s (d,) shared or (batch, d). Each problem gets its
    own scale, default step (``"gd"``) or line-search steps and conjugate directions
    (``"cg"``), and is frozen as soon as it meets its own tolerance, so its result does
    not depend on the others.
    """
    meth = _method(method)
    Xa = checks.as_float_array(X, "X", 3)
    ya = checks.as_float_array(y, "y", 2)
    if ya.shape != Xa.shape[:2]:
        raise InputError(f"y must have shape {Xa.shape[:2]} to match X, got {ya.shape}")
    ts = _real_array(theta_s, "theta_s")
    if ts.shape == Xa.shape[2:]:
        ts = np.broadcast_to(ts, Xa.shape[::2])
    elif ts.shape != Xa.shape[::2]:
        raise InputError(
            f"theta_s must have shape ({Xa.shape[2]},) or {Xa.shape[::2]}, got {ts.shape}"
        )
    checks.as_float_array(ts, "theta_s", 2)  # finite
    r, m = checks.rtol_and_budget(rtol, max_steps)
    return _train(Xa, ya, ts, meth, _step_for(meth, step), r, m, strict)


def quadratic_risk(
    theta: ArrayLike, theta_t: ArrayLike, cov: ArrayLike | None = None
) -> FloatArray:
    """(θ − θ_T)ᵀΣ(θ − θ_T) for θ of shape (d,) or (batch, d): the excess population risk.

    Σ defaults to the identity. Inputs are validated with :mod:`finetune_theory.checks`
    (real and finite; θ 1- or 2-dimensional; θ_T and Σ of matching size; Σ symmetric PSD).
    Evaluated as c·(c·uᵀΣu) with Δ = θ − θ_T = c·u, c = max|Δ|, so no intermediate
    overflows or underflows before the result does; a risk that overflows float64 for
    finite inputs raises :class:`InputError` about the scale.
    """
    th = _real_array(theta, "theta")
    if th.ndim not in (1, 2):
        raise InputError(f"theta must have shape (d,) or (batch, d), got {th.shape}")
    th = checks.as_float_array(th, "theta", th.ndim)  # finite
    tt = checks.as_vector(theta_t, "theta_t", th.shape[-1])
    sig = np.eye(tt.shape[0]) if cov is None else checks.as_cov(cov, tt.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        diff = th - tt
        c = np.max(np.abs(diff), axis=-1)
        unit = diff / np.where(c > 0.0, c, 1.0)[..., None]
        form = np.einsum("...i,ij,...j->...", unit, sig, unit)
        risk = np.asarray(c * (c * form), dtype=np.float64)
    if not np.all(np.isfinite(risk)):
        raise InputError(
            "theta, theta_t and cov are finite but (theta - theta_t)^T cov (theta - theta_t) "
            "overflows float64; rescale them"
        )
    return risk


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo mean with its standard error s/√M over M independent samples.

    ``mean`` and ``stderr`` are Python floats, ``samples`` = M a Python int.
    """

    mean: float
    stderr: float
    samples: int

    def __post_init__(self) -> None:
        set_field(self, "mean", float(self.mean))
        set_field(self, "stderr", float(self.stderr))
        set_field(self, "samples", int(self.samples))


def _estimate(values: FloatArray) -> MonteCarloEstimate:
    """Mean and s/√M of M >= 2 finite values, computed on values/max|values| so that the
    squares inside the standard deviation neither overflow nor underflow."""
    m = values.shape[0]
    top = float(np.max(np.abs(values)))
    unit = values / top if top > 0.0 else values
    se = float(np.std(unit, ddof=1) / np.sqrt(m)) * top
    return MonteCarloEstimate(float(np.mean(unit)) * top, se, int(m))


def _sample_budget(count: int, d: int, name: str) -> None:
    """Refuse a Monte Carlo size whose input sample would exceed :data:`MAX_ENTRIES`."""
    if count * d > MAX_ENTRIES:
        raise InputError(
            f"{name} = {count} with d = {d} needs {count * d} input entries, more than the "
            f"{MAX_ENTRIES} one array may hold here; average several smaller estimates"
        )


def population_risk_mc(
    theta: ArrayLike,
    theta_t: ArrayLike,
    rng: RngLike,
    cov: ArrayLike | None = None,
    n_test: int = 100_000,
) -> MonteCarloEstimate:
    """E_x[(θ·x − θ_T·x)²] estimated on ``n_test`` fresh points x ~ N(0, Σ).

    ``n_test`` >= 2 with n_test·d <= :data:`numeric.data.MAX_ENTRIES`. The squares are
    formed as c²·(x·u)² with θ − θ_T = c·u, c = max|θ − θ_T|; a risk beyond float64 raises
    :class:`InputError`.
    """
    th = checks.as_vector(theta, "theta")
    tt = checks.as_vector(theta_t, "theta_t", th.shape[0])
    m = checks.positive_int(n_test, "n_test", minimum=2)
    _sample_budget(m, th.shape[0], "n_test")
    x = sample_inputs(m, th.shape[0], as_generator(rng), cov=cov)
    diff = th - tt
    c = float(np.max(np.abs(diff)))
    if c == 0.0:
        return _estimate(np.zeros(m))
    est = _estimate((x @ (diff / c)) ** 2)
    with np.errstate(over="ignore"):
        mean, stderr = est.mean * c * c, est.stderr * c * c
    if not (math.isfinite(mean) and math.isfinite(stderr)):
        raise InputError(
            "theta, theta_t and cov are finite but the risk E[((theta - theta_t).x)^2] "
            f"overflows float64 (max|theta - theta_t| = {c:.3g}); rescale them"
        )
    return MonteCarloEstimate(mean, stderr, est.samples)


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
    ``designs`` >= 2 with designs·n·d <= :data:`numeric.data.MAX_ENTRIES`; Σ must not be
    zero (every design would be X = 0, on which no step is defined).
    """
    ts = checks.as_vector(theta_s, "theta_s")
    tt = checks.as_vector(theta_t, "theta_t", ts.shape[0])
    d = ts.shape[0]
    rows = checks.positive_int(n, "n")
    m = checks.positive_int(designs, "designs", minimum=2)
    _sample_budget(m * rows, d, "designs * n")
    if cov is not None and not np.any(checks.as_cov(cov, d)):
        raise InputError("cov must not be all zeros (every design X would be 0)")
    gen = as_generator(rng)
    X = sample_inputs(rows, d, gen, cov=cov, batch=m)
    y = labels(X, tt, noise_std, gen)
    result = fine_tune_many(X, y, ts, rtol=rtol, max_steps=max_steps)
    return _estimate(quadratic_risk(result.theta, tt, cov))
