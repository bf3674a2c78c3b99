"""Deep linear networks f(x) = W_N ⋯ W_1 x trained on their layer matrices (docs/theory.md §2).

Nothing here evaluates the closed forms of D3–D6: :func:`fine_tune` runs gradient descent
or integrates gradient flow on **every** (trainable) layer matrix and reports the
end-to-end vector w = (W_N ⋯ W_1)ᵀ it lands on.

Shapes: ``weights`` is a tuple (W_1, …, W_N) with W_j of shape (d_j, d_{j−1}), d_0 = d and
d_N = 1; ``widths`` is the list (d_0, d_1, …, d_N). Loss L = (1/2n)‖Xw − y‖².

Gradients. For a scalar-output chain, ∂L/∂W_j = a_jᵀ h_{j−1}ᵀ is rank one, with the row
a_j = W_N ⋯ W_{j+1} (back-propagated from the output) and the column
h_{j−1} = W_{j−1} ⋯ W_1 g (forward-propagated from g = ∇L(w) = (1/n)Xᵀ(Xw − y)).
One gradient evaluation therefore costs O(n·d + Σ_j d_j d_{j−1}) with matrix-vector
products only; no d × d product is ever formed.

Solvers.
* ``"gd"``: W_j ← W_j − η ∂L/∂W_j. Lands O(η) away from the gradient-flow limit.
* ``"flow"`` (default integrator "auto"): adaptive gradient flow. Rank-one chains (the
  balanced weights of :func:`balanced_weights`) lie on an invariant set of the flow — it is
  the embedded flow of a width-one chain (:func:`reduce_rank_one`, :func:`embed`) — which
  is integrated in the row-space coordinates of X (state size rank(X) + N − 1) by
  DOP853 (explicit, 8th order, embedded error control) or, when N·κ(XXᵀ) > STIFF_KAPPA (or
  DOP853 stalls), by Radau IIA (implicit, order 5, analytic Jacobian −∇²L). Other weights:
  DOP853 on all layer matrices. Stopping rule: the Newton-step distance
  ‖X⁺(Xw − y)‖/‖w‖ ≤ TOL_STOP·tol.
  Reported ``error_estimate`` ≈ ‖w − w_flow(∞)‖/‖w‖ from a second run at a looser
  integrator tolerance. Default ``tol`` 1e-10 relative.
* ``integrator="rk4"`` (or passing ``flow_cfl``/``fixed_step``): classical RK4 on all layer
  matrices (error O(h⁴)), with h = ``flow_cfl``/λ̂ re-evaluated every step from an upper
  estimate λ̂ of the curvature in the layer parameters (legacy :func:`_local_stiffness`, at
  balanced weights N‖w‖^{2−2/N}λ_max(XᵀX/n), or the tighter :func:`_curvature_bound`).
  RK4 is stable for hλ < 2.78.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import ConvergenceError, InputError
from finetune_theory.scaling import ldexp_checked, pow2_scale, safe_norm
from numeric import _deep_flow as _flow
from numeric._records import (
    float_array,
    float_arrays,
    old_weights_first,
    set_field,
    warn_old_layout,
)
from numeric.data import RngLike, as_generator, random_unit_vector, sample_inputs

__all__ = [
    "ChainEmbedding",
    "Curvature",
    "DeepResult",
    "Integrator",
    "Solver",
    "balanced_weights",
    "embed",
    "end_to_end",
    "fine_tune",
    "imbalance",
    "layer_gradients",
    "pretrain",
    "random_weights",
    "rank_one_residual",
    "reduce_rank_one",
    "require_balanced",
    "uniform_widths",
    "validate_weights",
]

Solver = Literal["gd", "flow"]
Integrator = Literal["auto", "dop853", "radau", "rk4"]
Curvature = Literal["legacy", "bound"]
Weights = tuple[FloatArray, ...]

#: Default relative gradient tolerance: stop when ‖∇L(w)‖ ≤ rtol·‖∇L(w_0)‖. The remaining
#: error in w is ≲ κ(XXᵀ)·rtol relative, far below the RK4 error (~1e-9) at the default step.
DEFAULT_RTOL = 1e-10
#: Default target accuracy ‖w − w_flow(∞)‖/‖w‖ of the adaptive flow.
DEFAULT_TOL = 1e-10
#: Integrator local tolerance as a fraction of ``tol``. The flow contracts towards its limit,
#: so accepted local errors do not pile up; but an explicit method at its stability limit
#: holds the state ~7·rtol (relative, measured) off equilibrium, so rtol must sit well under
#: the stopping distance TOL_STOP·tol: 0.003·tol gives that floor at 0.02·tol.
TOL_INTEGRATOR = 0.003
#: Stop when the Newton distance ‖X⁺(Xw − y)‖/‖w‖ ≤ TOL_STOP·tol: the remaining motion of w
#: is of the order of that distance (row-space part exactly, null-space part through the
#: balance law), and the flow converges exponentially, so 0.1 costs only log(10)/rate.
TOL_STOP = 0.1
#: The stopping distance is never below NOISE_FLOOR × the integrator rtol: an explicit
#: method at its stability limit holds the state ~7·rtol off equilibrium (measured), so a
#: smaller target would stall (this binds for tol < 1e-12, and for the coarse second run).
NOISE_FLOOR = 30.0
#: The error estimate's second run uses an integrator tolerance ERROR_RATIO× looser: its
#: difference from the first run ≈ the coarse run's error ≥ the fine run's error.
ERROR_RATIO = 10.0
#: κ(XXᵀ) above which "auto" uses the implicit Radau method on the reduced chain: explicit
#: methods need ≳ κ steps (stability), Radau a number nearly independent of κ.
STIFF_KAPPA = 1e3
#: Relative residual below which weights count as a rank-one chain (rounding of a balanced
#: factorisation is ~1e-16; the reduced flow then differs from the full one by ~that much).
RANK_ONE_RTOL = 1e-12
DEFAULT_MAX_STEPS = 1_000_000
#: RK4 step as a fraction of 1/λ̂; 0.5 keeps hλ well inside RK4's stability interval and
#: makes the O(h⁴) error of the limit ~1e-10 relative on the project's benchmark problems.
DEFAULT_FLOW_CFL = 0.5
#: Default GD step as a fraction of 2/λ̂ (the local stability limit of GD).
DEFAULT_GD_FRACTION = 0.25
#: Relative imbalance max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F / ‖W_j‖_F² accepted as
#: "balanced" where a theorem needs it: float rounding of a balanced factorisation is ~1e-15.
BALANCE_RTOL = 1e-9
#: Most entries Σ_j d_j·d_{j−1} a chain (or one generated design) may hold: 2^24 float64 =
#: 128 MiB per copy, and the adaptive flow keeps ~15 copies of its state (DOP853's stages).
#: Larger sizes are refused before allocating (NumPy would raise MemoryError or swap).
MAX_PARAMETERS = 2**24
#: |‖v‖ − 1| accepted for the unit vectors of a :class:`ChainEmbedding`: v = r/‖r‖ in
#: float64 has ‖v‖ = 1 ± a few ε, so 1e-10 refuses only vectors that are not unit.
UNIT_RTOL = 1e-10
#: Consecutive GD/RK4 steps that leave the end-to-end vector bit-for-bit unchanged after
#: which a run counts as stuck: w unchanged means every layer moved by < ε/2 relative, so the
#: run would need > 1e15 steps to change anything (a step or flow_cfl far too small).
STUCK_STEPS = 10
#: Smallest positive normal float64: the guard against division by zero in scale-free
#: ratios (1e-300 would be wrong by orders of magnitude for inputs of scale < 1e-150).
TINY = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class DeepResult:
    """Outcome of fine-tuning a deep linear network.

    ``weights``: final layer matrices; ``end_to_end``: w = (W_N ⋯ W_1)ᵀ (d,); ``steps``;
    ``converged``; ``loss_history`` (L at every step, length steps + 1); ``solver``;
    ``step``: η for GD or the last h for the flow; ``time``: elapsed training time
    t = Σ steps (η·steps for GD), in the units of the gradient flow;
    ``error_estimate``: estimated ‖w − w_flow(∞)‖/‖w‖ of the adaptive flow, or None when
    not estimated (GD, RK4, ``estimate_error=False``, or an adaptive run that neither
    converged nor reached ``max_time``); without the distance term when stopped by
    max_time; ``method``: the path that ran ("reduced/dop853", "reduced/radau",
    "full/dop853", "full/rk4 (legacy curvature)", "gd", …); ``evaluations``: gradient
    evaluations.

    Types: ``weights`` is a tuple of float64 matrices, ``end_to_end`` and ``loss_history``
    float64 ndarrays; ``steps`` and ``evaluations`` Python ints, ``converged`` a bool,
    ``step``, ``time`` and ``error_estimate`` (unless None) Python floats.
    """

    weights: Weights
    end_to_end: FloatArray
    steps: int
    converged: bool
    loss_history: FloatArray
    solver: str
    step: float
    time: float
    error_estimate: float | None = None
    method: str = ""
    evaluations: int = 0

    def __post_init__(self) -> None:
        set_field(self, "weights", float_arrays(self.weights))
        set_field(self, "end_to_end", float_array(self.end_to_end))
        set_field(self, "steps", int(self.steps))
        set_field(self, "converged", bool(self.converged))
        set_field(self, "loss_history", float_array(self.loss_history))
        set_field(self, "step", float(self.step))
        set_field(self, "time", float(self.time))
        if self.error_estimate is not None:
            set_field(self, "error_estimate", float(self.error_estimate))
        set_field(self, "evaluations", int(self.evaluations))


def _sequence(value: object, name: str, what: str) -> list[object]:
    """A list/tuple (or 1-D array) as a list; anything else is an InputError naming ``name``."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return list(value)
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{name} must be a list or tuple of {what}, got {type(value).__name__}")
    return list(value)


def _exponent(a: FloatArray) -> int:
    """The exponent e of :func:`~finetune_theory.scaling.pow2_scale` (max|a|·2^(−e) in
    [0.5, 1), 0 for a zero array) without the scaled copy."""
    top = float(np.max(np.abs(a))) if a.size else 0.0
    return math.frexp(top)[1] if top > 0.0 else 0


_norm = safe_norm  # ‖a‖ without spurious overflow/underflow


def _validate(weights: Sequence[ArrayLike], d: int | None, name: str) -> Weights:
    if isinstance(weights, np.ndarray):
        raise InputError(f"{name} must be a list or tuple of 2-D arrays, got one array")
    items = _sequence(weights, name, "2-D arrays (W_1, ..., W_N)")
    if len(items) < 1:
        raise InputError(f"{name} must hold at least one matrix (depth >= 1)")
    out = tuple(checks.as_matrix(W, f"{name}[{j}]") for j, W in enumerate(items))  # type: ignore[arg-type]
    if out[-1].shape[0] != 1:
        raise InputError(
            f"the last layer of {name} must have one output row (d_N = 1), got shape "
            f"{out[-1].shape}"
        )
    for j in range(1, len(out)):
        if out[j].shape[1] != out[j - 1].shape[0]:
            raise InputError(
                f"{name}[{j}] has {out[j].shape[1]} columns but {name}[{j - 1}] has "
                f"{out[j - 1].shape[0]} rows; W_(j+1) must have shape (d_(j+1), d_j)"
            )
    if d is not None and out[0].shape[1] != d:
        raise InputError(f"{name}[0] must have d = {d} columns to match X, got {out[0].shape[1]}")
    return out


def validate_weights(weights: Sequence[ArrayLike], d: int | None = None) -> Weights:
    """Check a chain W_1 … W_N: a list/tuple of 2-D finite real arrays (the shared coercion
    rule of :mod:`finetune_theory.checks`), d_N = 1, consecutive shapes compatible, and W_1
    with ``d`` columns when ``d`` (an int >= 1) is given. Returns float64 copies."""
    dim = None if d is None else checks.positive_int(d, "d")
    return _validate(weights, dim, "weights")


def _parameter_count(ws: Sequence[int], name: str) -> None:
    total = sum(ws[j] * ws[j + 1] for j in range(len(ws) - 1))
    if total > MAX_PARAMETERS:
        raise InputError(
            f"{name} ask for {total} layer entries, more than MAX_PARAMETERS = {MAX_PARAMETERS}"
        )


def _widths(widths: Sequence[int]) -> list[int]:
    items = _sequence(widths, "widths", "positive ints [d_0, ..., d_N]")
    ws = [checks.positive_int(w, f"widths[{i}]") for i, w in enumerate(items)]
    if len(ws) < 2 or ws[-1] != 1:
        raise InputError(
            "widths must list d_0 = d, the hidden widths, and end at d_N = 1 (depth >= 1), "
            f"got {ws}"
        )
    _parameter_count(ws, "widths")
    return ws


def _check_widths(widths: Sequence[int], d: int) -> list[int]:
    items = _sequence(widths, "widths", "positive ints [d_0, ..., d_N]")
    ws = [checks.positive_int(w, f"widths[{i}]") for i, w in enumerate(items)]
    if len(ws) < 2:
        raise InputError("widths must list d_0 = d, the hidden widths, and d_N = 1 (depth >= 1)")
    if ws[0] != d:
        raise InputError(f"widths must start at d = {d} (the input dimension), got {ws[0]}")
    if ws[-1] != 1:
        raise InputError(f"widths must end at 1 (scalar output), got {ws[-1]}")
    _parameter_count(ws, "widths")
    return ws


def uniform_widths(d: int, width: int, depth: int) -> list[int]:
    """[d, width, …, width, 1]: the widths of a depth-N chain with equal hidden widths.

    Refused (InputError) when the chain would have more than MAX_PARAMETERS entries.
    """
    d = checks.positive_int(d, "d")
    width = checks.positive_int(width, "width")
    depth = checks.positive_int(depth, "depth")
    total = d if depth == 1 else d * width + (depth - 2) * width * width + width
    if total > MAX_PARAMETERS:
        raise InputError(
            f"d={d}, width={width}, depth={depth} ask for {total} layer entries, more than "
            f"MAX_PARAMETERS = {MAX_PARAMETERS}"
        )
    return [d] + [width] * (depth - 1) + [1]


def balanced_weights(theta_s: ArrayLike, widths: Sequence[int], rng: RngLike) -> Weights:
    """The balanced rank-one factorisation of θ_S (docs/theory.md D2).

    W_1 = s v_1 θ̂_Sᵀ, W_j = s v_j v_{j−1}ᵀ (1 < j < N), W_N = s v_{N−1}ᵀ with
    s = ‖θ_S‖^{1/N} and random unit vectors v_j ∈ R^{d_j} from ``rng``; for N = 1,
    W_1 = θ_Sᵀ. Then W_{j+1}ᵀW_{j+1} = W_jW_jᵀ = s²v_jv_jᵀ and (W_N ⋯ W_1)ᵀ = θ_S.
    ‖θ_S‖ is computed without overflow/underflow, so any finite non-zero θ_S works and
    balanced_weights(cθ_S) = c^{1/N}·balanced_weights(θ_S) (same rng).
    """
    ts = checks.as_vector(theta_s, "theta_s")
    norm = _norm(ts)
    if norm == 0.0:
        raise InputError("theta_s must be non-zero: the balanced factorisation needs its direction")
    ws = _check_widths(widths, ts.shape[0])
    depth = len(ws) - 1
    gen = as_generator(rng)
    s = norm ** (1.0 / depth)
    vs = [ts / norm] + [random_unit_vector(w, gen) for w in ws[1:-1]] + [np.ones(1)]
    return tuple(np.asarray(s * np.outer(vs[j + 1], vs[j]), dtype=np.float64) for j in range(depth))


def random_weights(widths: Sequence[int], scale: float, rng: RngLike) -> Weights:
    """i.i.d. N(0, scale²/d_{j−1}) entries: a small random initialisation when scale ≪ 1."""
    ws = _widths(widths)
    sc = checks.positive(scale, "scale")
    gen = as_generator(rng)
    return tuple(
        np.asarray(sc * gen.standard_normal((ws[j + 1], ws[j])) / np.sqrt(ws[j]), dtype=np.float64)
        for j in range(len(ws) - 1)
    )


def _backward_rows(weights: Weights) -> list[FloatArray]:
    """rows[j] = W_N ⋯ W_{j+1} as a 1-D array of length d_j (rows[N] = [1])."""
    depth = len(weights)
    rows: list[FloatArray] = [np.ones(1)] * (depth + 1)
    for j in range(depth - 1, -1, -1):
        rows[j] = rows[j + 1] @ weights[j]
    return rows


def _end_to_end(ws: Weights, name: str = "weights") -> FloatArray:
    """w = (W_N ⋯ W_1)ᵀ without intermediate overflow/underflow.

    Each layer is scaled by a power of two 2^(−e_j) to max-entry ~1 (exact), the product is
    taken, and the result scaled back by 2^(Σe_j) (exact unless it leaves the float64
    range): bit-for-bit the plain product whenever that is representable. An end-to-end
    vector beyond float64's range is an InputError naming ``name``.
    """
    scaled = [pow2_scale(W) for W in ws]
    exps = [e for _, e in scaled]
    w_hat = _backward_rows(tuple(u for u, _ in scaled))[0]
    with np.errstate(over="ignore", under="ignore"):
        w = np.ldexp(w_hat, sum(exps))
    if not np.all(np.isfinite(w)):
        raise InputError(
            f"{name}: the end-to-end vector (W_N ... W_1)^T overflows float64 (its largest "
            f"entry is ~2^{sum(exps) + _exponent(w_hat)}); rescale the weights"
        )
    return np.asarray(w, dtype=np.float64)


def end_to_end(weights: Sequence[ArrayLike]) -> FloatArray:
    """w = (W_N ⋯ W_1)ᵀ, computed right to left with vector-matrix products.

    Exact power-of-two rescaling avoids intermediate overflow/underflow (see _end_to_end);
    an end-to-end vector outside float64's range is an InputError.
    """
    return _end_to_end(validate_weights(weights))


def imbalance(weights: Sequence[ArrayLike]) -> float:
    """max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F / ‖W_j‖_F² (0 for balanced weights; 0 for N = 1).

    Scale invariant and evaluated on each pair scaled by a common power of two (exact), so
    any finite weights work. A zero W_j next to a non-zero W_{j+1} makes the ratio infinite:
    InputError (a pair of zero layers contributes 0).
    """
    ws = validate_weights(weights)
    worst = 0.0
    for j in range(len(ws) - 1):
        e = max(_exponent(ws[j]), _exponent(ws[j + 1]))
        low, high = np.ldexp(ws[j], -e), np.ldexp(ws[j + 1], -e)
        gap = high.T @ high - low @ low.T
        scale = float(np.sum(low**2))
        if scale == 0.0:
            if np.any(high):
                raise InputError(
                    f"weights[{j}] is zero while weights[{j + 1}] is not: their relative "
                    "imbalance is infinite"
                )
            continue
        worst = max(worst, float(np.linalg.norm(gap)) / scale)
    return worst


def require_balanced(weights: Sequence[ArrayLike], rtol: float = BALANCE_RTOL) -> None:
    """Raise InputError unless the weights are balanced to ``rtol`` >= 0 (see :func:`imbalance`)."""
    tol = checks.nonnegative(rtol, "rtol")
    gap = imbalance(weights)
    if gap > tol:
        raise InputError(
            f"weights are not balanced: relative imbalance {gap:.3g} > rtol={tol:.3g} "
            "(W_(j+1)^T W_(j+1) must equal W_j W_j^T); the closed form of docs/theory.md D3 "
            "assumes balanced pretrained weights"
        )


Factor = tuple[FloatArray, FloatArray]  # ∂L/∂W_j = outer(u, v)


def _factored_pass(
    ws: Weights,
    X: FloatArray,
    y: FloatArray,
    mask: Sequence[bool],
    shift: float = 0.0,
    factors: Sequence[Factor | None] | None = None,
) -> tuple[list[Factor | None], FloatArray, float, FloatArray]:
    """Gradients of L at the weights W_j − shift·outer(u_j, v_j), without forming them.

    Returns (factors (u_j, v_j) with ∂L/∂W_j = u_j v_jᵀ, or None for frozen layers; w; L(w);
    g = ∇L(w)). Each layer costs two matrix-vector products and O(d_j + d_{j−1}) extra.
    """
    depth = len(ws)
    shifted = factors is not None and shift != 0.0
    rows: list[FloatArray] = [np.ones(1)] * (depth + 1)
    for j in range(depth - 1, -1, -1):
        r = rows[j + 1] @ ws[j]
        f = factors[j] if shifted and factors is not None else None
        if f is not None:
            r = r - (shift * float(rows[j + 1] @ f[0])) * f[1]
        rows[j] = r
    w = rows[0]
    n = X.shape[0]
    resid = X @ w - y
    g = X.T @ resid / n
    loss = 0.5 * float(resid @ resid) / n
    out: list[Factor | None] = []
    h = g
    for j, W in enumerate(ws):
        out.append((rows[j + 1], h) if mask[j] else None)
        nxt = W @ h
        f = factors[j] if shifted and factors is not None else None
        if f is not None:
            nxt = nxt - (shift * float(f[1] @ h)) * f[0]
        h = nxt
    return out, w, loss, g


def _data_first(
    X: ArrayLike, y: ArrayLike, weights: Sequence[ArrayLike], func: str
) -> tuple[ArrayLike, ArrayLike, Sequence[ArrayLike]]:
    """(X, y, weights) of a call. The old layout ``func(weights, X, y)`` — a list/tuple of
    2-D matrices first, a 1-D label vector third — is unambiguous by type: it emits a
    DeprecationWarning and is swapped (until finetune-theory 0.2.0). Any other layout is
    the new order, validated as usual."""
    if old_weights_first(X, weights):
        warn_old_layout(f"numeric.deep_linear.{func}", "weights, X, y", "X, y, weights")
        return y, cast(ArrayLike, weights), cast(Sequence[ArrayLike], X)
    return X, y, weights


def layer_gradients(
    X: ArrayLike, y: ArrayLike, weights: Sequence[ArrayLike]
) -> tuple[list[FloatArray], FloatArray]:
    """(∂L/∂W_j for every layer as dense matrices, w): each is the rank-one a_jᵀh_{j−1}ᵀ.

    Data first: X (n, d), y (n,), then ``weights`` (W_1, …, W_N). The old order
    ``layer_gradients(weights, X, y)`` still works until finetune-theory 0.2.0 with a
    DeprecationWarning.
    """
    X, y, weights = _data_first(X, y, weights, "layer_gradients")
    Xa, ya = checks.design_and_labels(X, y)
    ws = validate_weights(weights, Xa.shape[1])
    _end_to_end(ws)  # an end-to-end vector beyond float64's range is refused here
    with np.errstate(over="ignore", invalid="ignore"):
        factors, w, _, _ = _factored_pass(ws, Xa, ya, [True] * len(ws))
    _require_finite_gradients(factors, w)
    return [np.outer(*f) for f in factors if f is not None], w


def _require_finite_gradients(factors: Sequence[Factor | None], w: FloatArray) -> None:
    """InputError unless w and every ∂L/∂W_j = u_j v_jᵀ are finite (max|u|·max|v| < inf)."""
    if not np.all(np.isfinite(w)):
        raise InputError("weights: the end-to-end vector overflows float64; rescale the weights")
    for j, f in enumerate(factors):
        if f is None:
            continue
        big = float(np.max(np.abs(f[0]))) * float(np.max(np.abs(f[1])))
        if not math.isfinite(big):
            raise InputError(
                f"the gradient dL/dW_{j + 1} overflows float64: X, y or the weights are too "
                "large (the residual Xw - y and the layer products must stay representable)"
            )


def _trainable_norm(factors: Sequence[Factor | None]) -> float:
    """‖∂L/∂(trainable layers)‖_F from the rank-one factors: √Σ_j ‖u_j‖²‖v_j‖²."""
    return _norm(np.array([_norm(f[0]) * _norm(f[1]) for f in factors if f is not None]))


def _curvature(X: FloatArray) -> float:
    s = float(np.linalg.norm(X, 2))
    return float(s * s / X.shape[0])


def _local_stiffness(ws: Weights, gnorm: float, mu_max: float) -> float:
    """An upper estimate λ̂ of the loss curvature in the layer parameters.

    λ̂ = λ_max(XᵀX/n)·Σ_j Π_{i≠j}‖W_i‖² + ‖∇L(w)‖·Σ_{j<k} Π_{i≠j,k}‖W_i‖: the Gauss–Newton
    part JJᵀ and the part from the chain's second derivatives. ‖W_i‖ is the spectral norm
    for small layers (≤ 4096 entries) and the Frobenius norm (a cheaper upper bound, equal
    for rank-one layers and for vectors) otherwise. At balanced rank-one weights the first term is
    N‖w‖^{2−2/N}λ_max(XᵀX/n).
    """
    norms = np.array(
        [
            float(np.linalg.norm(W, 2)) if W.size <= 4096 and min(W.shape) > 1 else _norm(W)
            for W in ws
        ]
    )
    depth = len(ws)
    with np.errstate(over="ignore", invalid="ignore"):  # inf here is refused by the callers
        if np.all(norms > 0.0):
            # Π_{i≠j} = Π/n_j and Π_{i≠j,k} = Π/(n_j n_k): O(N) sums instead of O(N²) products.
            inv = 1.0 / norms
            full = float(np.prod(norms))
            total = mu_max * (full * full) * float(np.sum(inv**2))
            total += gnorm * full * 0.5 * float(np.sum(inv) ** 2 - np.sum(inv**2))
        else:  # a zero layer: only the products that skip it survive
            total = 0.0
            for j in range(depth):
                total += mu_max * math.prod(
                    float(v) * float(v) for i, v in enumerate(norms) if i != j
                )
                for k in range(j + 1, depth):
                    total += gnorm * math.prod(
                        float(v) for i, v in enumerate(norms) if i not in (j, k)
                    )
    return max(total, TINY)


def _curvature_bound(
    ws: Weights,
    X: FloatArray,
    y: FloatArray,
    mu_max: float,
    xw1_0: float,
    w1_0: FloatArray,
) -> float:
    """A rigorous, tighter upper bound λ̄ ≥ λ_max(∇²L) in the layer parameters, without SVDs.

    ∇²L[Δ, Δ] = ‖Σ̂^{1/2}J Δ‖² + gᵀ∇²w[Δ, Δ] with Σ̂ = XᵀX/n, g = ∇L(w). With the exact row
    norms ‖a_j‖ = ‖W_N⋯W_{j+1}‖ and column norms ‖h_{j−1}‖ = ‖W_{j−1}⋯W_1 g‖ of one pass:
    Gauss–Newton part ≤ Σ_j ‖a_j‖²c_j² with c_1² = λ_max(Σ̂) and
    c_j² = ‖XW_1ᵀ‖²/n·Π_{1<i<j}‖W_i‖_F² (j > 1), where ‖XW_1ᵀ‖_F ≤ ‖XW_1(0)ᵀ‖_F +
    ‖X‖₂‖W_1 − W_1(0)‖_F (triangle inequality from the one-off value at the start);
    second-order part ≤ max_j Σ_{k≠j} C_jk, C_jk = ‖a_k‖‖h_{j−1}‖Π_{j<i<k}‖W_i‖_F (j < k),
    the row-sum bound of the quadratic form in (‖Δ_j‖_F). Both are equalities in direction
    for rank-one layers except for the sums: at balanced rank-one weights the first part is
    ‖w‖^{2−2/N}(λ_max(Σ̂) + (N−1)θ̂ᵀΣ̂θ̂) instead of the legacy N‖w‖^{2−2/N}λ_max(Σ̂).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # inf here is refused by the callers
        return _curvature_bound_terms(ws, X, y, mu_max, xw1_0, w1_0)


def _curvature_bound_terms(
    ws: Weights,
    X: FloatArray,
    y: FloatArray,
    mu_max: float,
    xw1_0: float,
    w1_0: FloatArray,
) -> float:
    depth = len(ws)
    rows = _backward_rows(ws)
    n = X.shape[0]
    g = X.T @ (X @ rows[0] - y) / n
    hs = [g]
    for W in ws[:-1]:
        hs.append(W @ hs[-1])
    a = np.array([_norm(rows[j + 1]) for j in range(depth)])
    h = np.array([_norm(v) for v in hs])
    fro = np.array([_norm(W) for W in ws])
    xw1 = xw1_0 + math.sqrt(n * mu_max) * _norm(ws[0] - w1_0)
    c_sq = np.empty(depth)
    c_sq[0] = mu_max
    run = xw1 * xw1 / n
    for j in range(1, depth):
        c_sq[j] = run
        run *= fro[j] ** 2
    total = float(np.sum(a * a * c_sq))
    if depth > 1:
        C = np.zeros((depth, depth))
        for j in range(depth):
            mid = 1.0
            for k in range(j + 1, depth):
                C[j, k] = C[k, j] = a[k] * h[j] * mid
                mid *= fro[k]
        total += float(np.max(np.sum(C, axis=1)))
    return max(total, TINY)


def _rank_one_residual_and_chain(
    ws: Weights,
) -> tuple[float, FloatArray, FloatArray, tuple[FloatArray, ...]]:
    """(max_j ‖W_j − v_jv_jᵀW_j‖_F/‖W_j‖_F, u, σ_2..σ_N, (v_1, …, v_{N−1})) — see reduce_rank_one.

    Walks down from W_N: v_{N−1} = W_Nᵀ/‖W_N‖, σ_N = ‖W_N‖; then r = v_jᵀW_j, σ_j = ‖r‖,
    v_{j−1} = r/σ_j; finally u = v_1ᵀW_1. A zero layer gives residual inf. The walk runs on
    the layers scaled by powers of two 2^(−e_j) (exact; the residual and the v_j are
    invariant), and σ_j, u are scaled back, so any finite weights work.
    """
    depth = len(ws)
    if depth == 1:
        return 0.0, ws[0][0].copy(), np.zeros(0), ()
    scaled = [pow2_scale(W) for W in ws]
    exps = [e for _, e in scaled]
    unit = [u for u, _ in scaled]
    top = unit[-1][0]
    s = float(np.linalg.norm(top))
    if s == 0.0:
        return math.inf, top, np.zeros(0), ()
    what = "weights: a factor sigma_j of the width-one chain"
    sigmas = [ldexp_checked(s, exps[-1], what)]
    vecs = [top / s]
    worst = 0.0
    u = top
    for j in range(depth - 2, -1, -1):
        W = unit[j]
        left = vecs[-1]
        r = left @ W
        scale = float(np.linalg.norm(W))
        if scale == 0.0:
            return math.inf, top, np.zeros(0), ()
        worst = max(worst, float(np.linalg.norm(W - np.outer(left, r))) / scale)
        if j == 0:
            with np.errstate(over="ignore"):  # an overflowing u is refused by the callers
                u = np.ldexp(r, exps[0])
        else:
            s = float(np.linalg.norm(r))
            if s == 0.0:
                return math.inf, top, np.zeros(0), ()
            sigmas.append(ldexp_checked(s, exps[j], what))
            vecs.append(r / s)
    return worst, np.asarray(u, dtype=np.float64), np.array(sigmas[::-1]), tuple(vecs[::-1])


def rank_one_residual(weights: Sequence[ArrayLike]) -> float:
    """How far the chain is from the invariant rank-one set of :func:`reduce_rank_one`.

    max_j ‖W_j − v_jv_jᵀW_j‖_F/‖W_j‖_F with the singular vectors v_j propagated down from
    W_N (see :func:`reduce_rank_one`); 0 for depth 1. Scale invariant (per layer). A layer
    that maps its incoming direction to 0 (e.g. a zero layer) leaves the residual undefined:
    InputError. Balanced weights of :func:`balanced_weights` give ~1e-16.
    """
    res = _rank_one_residual_and_chain(validate_weights(weights))[0]
    if not math.isfinite(res):
        raise InputError(
            "weights: a layer maps the propagated singular direction to 0 (e.g. a zero layer); "
            "the rank-one residual is undefined"
        )
    return res


@dataclass(frozen=True)
class ChainEmbedding:
    """The fixed unit vectors (v_1, …, v_{N−1}), v_j ∈ R^{d_j}, of a rank-one chain (v_N = [1]).

    ``vectors``: a list/tuple of 1-D real arrays (the shared coercion rule), each of norm
    1 ± UNIT_RTOL; stored as a tuple of float64 copies. Empty for depth 1.
    """

    vectors: tuple[FloatArray, ...]

    def __post_init__(self) -> None:
        if isinstance(self.vectors, np.ndarray):
            raise InputError("vectors must be a list or tuple of 1-D arrays, got one array")
        items = _sequence(self.vectors, "vectors", "unit vectors (v_1, ..., v_(N-1))")
        out = []
        for j, v in enumerate(items):
            vec = checks.as_vector(v, f"vectors[{j}]")  # type: ignore[arg-type]
            length = _norm(vec)
            if not abs(length - 1.0) <= UNIT_RTOL:
                raise InputError(f"vectors[{j}] must be a unit vector, its norm is {length:.6g}")
            out.append(vec)
        object.__setattr__(self, "vectors", tuple(out))


def reduce_rank_one(
    weights: Sequence[ArrayLike], rtol: float = RANK_ONE_RTOL
) -> tuple[Weights, ChainEmbedding]:
    """Write rank-one weights as the embedding of a width-one chain (the flow's invariant set).

    Weights W_1 = v_1uᵀ, W_j = σ_jv_jv_{j−1}ᵀ (1 < j ≤ N, v_N = [1], unit v_j) are returned as
    the width-one chain (uᵀ (1, d), [[σ_2]], …, [[σ_N]]) and the embedding (v_1, …, v_{N−1}).
    Gradient flow (and GD) on all layers stays on this set — every layer gradient is
    tangent to it and the embedding is an isometry — so it *is* the flow of the width-one
    chain, embedded; :func:`embed` maps back. Convention: σ_j ≥ 0 at reduction, signs and
    the direction live in u. Raises InputError when some layer is not rank one with the
    propagated singular vector to relative ``rtol`` >= 0 (see :func:`rank_one_residual`).
    """
    ws = validate_weights(weights)
    tol = checks.nonnegative(rtol, "rtol")
    res, u, sigmas, vecs = _rank_one_residual_and_chain(ws)
    if not res <= tol:
        raise InputError(
            f"weights are not a rank-one chain: relative residual {res:.3g} > rtol={tol:.3g} "
            "(need W_1 = v_1 u^T and W_j = sigma_j v_j v_(j-1)^T with consistent unit v_j)"
        )
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(sigmas))):
        raise InputError("weights are too large: a factor of the width-one chain overflows")
    reduced = (
        np.asarray(u[None, :], dtype=np.float64),
        *(np.array([[float(s)]]) for s in sigmas),
    )
    return reduced, ChainEmbedding(vecs)


def embed(reduced: Sequence[ArrayLike], embedding: ChainEmbedding) -> Weights:
    """Full weights W_1 = v_1uᵀ, W_j = σ_jv_jv_{j−1}ᵀ, W_N = σ_Nv_{N−1}ᵀ of a width-one chain.

    ``reduced``: (uᵀ (1, d), [[σ_2]], …, [[σ_N]]); ``embedding``: a :class:`ChainEmbedding`
    with N − 1 vectors. The map is linear in each reduced layer.
    """
    rs = _validate(reduced, None, "reduced")
    if not isinstance(embedding, ChainEmbedding):
        raise InputError(
            f"embedding must be a ChainEmbedding (see reduce_rank_one), got "
            f"{type(embedding).__name__}"
        )
    vecs = embedding.vectors
    if len(vecs) != len(rs) - 1 or any(W.shape[0] != 1 for W in rs):
        raise InputError(
            f"reduced must be a width-one chain of depth {len(vecs) + 1} matching the embedding"
        )
    u = rs[0][0]
    if len(rs) == 1:
        return (np.array(rs[0], dtype=np.float64, copy=True),)
    out = [np.outer(vecs[0], u)]
    for j in range(1, len(rs)):
        left = vecs[j] if j < len(vecs) else np.ones(1)
        out.append(float(rs[j][0, 0]) * np.outer(left, vecs[j - 1]))
    return tuple(np.asarray(W, dtype=np.float64) for W in out)


def _flag(value: object, name: str) -> bool:
    """A bool flag: True/False (or NumPy bools); ints, strings, None and arrays are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r:.60}")
    return bool(value)


def _option(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise InputError(f"{name} must be one of {names}, got {value!r:.60}")
    return value


def _mask(trainable: Sequence[bool] | None, depth: int) -> list[bool]:
    """One bool per layer (True = trained); default all trainable."""
    if trainable is None:
        return [True] * depth
    if isinstance(trainable, np.ndarray) and trainable.dtype != np.bool_:
        raise InputError(f"trainable must hold bools, got an array of dtype {trainable.dtype}")
    items = _sequence(trainable, "trainable", "bools, one per layer")
    mask = [_flag(t, f"trainable[{j}]") for j, t in enumerate(items)]
    if len(mask) != depth:
        raise InputError(f"trainable must have one entry per layer ({depth}), got {len(mask)}")
    if not any(mask):
        raise InputError("trainable must leave at least one layer trainable")
    return mask


def _check_scales(ws: Weights, Xa: FloatArray, ya: FloatArray) -> None:
    """InputError unless the problem is representable in float64 at its start.

    λ_max(XᵀX/n) must be a positive normal float (it sets the flow's time scale 1/λ_max and
    every step size); the end-to-end vector must neither overflow nor, for depth >= 2,
    underflow to 0 from non-zero layers (a saddle that exists only in rounding); the loss
    and its gradient at the start must be finite.
    """
    depth = len(ws)
    if not np.any(Xa):
        raise InputError("X must not be all zeros (the loss is flat)")
    top = _norm(Xa)  # ‖X‖_F ≥ ‖X‖₂ ≥ ‖X‖_F/√rank
    if not math.isfinite(top * top) or top * top / Xa.shape[0] < TINY * min(Xa.shape):
        size = "large" if top >= 1.0 else "small"
        raise InputError(
            f"X is too {size}: lambda_max(X^T X / n) ~ |X|^2/n = {top:.3g}^2/{Xa.shape[0]} is "
            "outside float64's normal range (it sets the time scale and the step sizes); "
            "rescale X (and y)"
        )
    w0 = _end_to_end(ws)
    if depth > 1 and not np.any(w0):
        if all(np.any(W) for W in ws):
            raise InputError(
                "weights are too small: their end-to-end vector W_N ... W_1 underflows float64 "
                "to 0 (a saddle point only in rounding); rescale the weights"
            )
        raise InputError(
            "the end-to-end vector of weights is 0: a saddle point, training cannot start"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        resid = Xa @ w0 - ya
        loss = 0.5 * float(resid @ resid) / Xa.shape[0]
        g = Xa.T @ resid / Xa.shape[0]
    if not (math.isfinite(loss) and np.all(np.isfinite(g))):
        raise InputError(
            "the loss |Xw - y|^2/2n at the start (or its gradient) overflows float64: X, y or "
            "the weights are too large; rescale them"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        factors, _, _, _ = _factored_pass(ws, Xa, ya, [True] * depth)
    _require_finite_gradients(factors, w0)


def fine_tune(
    X: ArrayLike,
    y: ArrayLike,
    weights: Sequence[ArrayLike],
    *,
    solver: Solver = "flow",
    step: float | None = None,
    trainable: Sequence[bool] | None = None,
    require_balance: bool = False,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    flow_cfl: float | None = None,
    max_time: float | None = None,
    fixed_step: bool = False,
    strict: bool = True,
    integrator: Integrator = "auto",
    tol: float = DEFAULT_TOL,
    reduce: bool | None = None,
    estimate_error: bool = True,
    max_evals: int | None = None,
    max_seconds: float | None = None,
    curvature: Curvature | None = None,
) -> DeepResult:
    """Fine-tune every trainable layer on L = (1/2n)‖X(W_N ⋯ W_1)ᵀ − y‖².

    Parameters (data first): X (n, d); y (n,); ``weights`` (W_1, …, W_N) pretrained
    matrices (the old order ``fine_tune(weights, X, y)`` still works until finetune-theory
    0.2.0 with a DeprecationWarning);
    ``solver`` "flow" (gradient flow, default) or "gd"; ``step`` the GD step η (default
    ¼ of the local stability limit 2/λ̂ at the start; a larger step than 2/λ̂ is rejected);
    ``trainable`` one bool per layer (False freezes it; default all trainable);
    ``require_balance`` raise if the weights are not balanced (D3's hypothesis);
    ``rtol``: GD/RK4 stop when ‖∇L(w)‖ ≤ rtol·‖∇L(w_0)‖ (with frozen layers, when the
    gradient of the trainable layers has shrunk by rtol: ∇L(w) need not vanish then — the
    adaptive flow uses this rule too with frozen layers; otherwise it uses ``tol``);
    ``max_steps`` (GD/RK4 steps or adaptive integrator steps); ``max_time``: stop at this
    gradient-flow time t (a requested stop, not a failure); ``strict``: raise
    ConvergenceError when a budget runs out before the tolerance is met (else return with
    ``converged=False``). Divergence raises ConvergenceError; so does a GD/RK4 run whose
    steps no longer change w (STUCK_STEPS steps below float64's resolution: ``step`` or
    ``flow_cfl`` far too small), instead of spending the whole budget.

    Input rules (InputError naming the parameter): numbers and arrays follow the shared
    coercion rule of :mod:`finetune_theory.checks`; ``trainable`` holds bools; the flags
    ``require_balance``, ``fixed_step``, ``strict``, ``estimate_error`` (and ``reduce``
    unless None) are bools; ``rtol`` and ``tol`` lie in (0, 1) (rtol = 1 would "converge"
    at the untrained start); ``flow_cfl``/``fixed_step`` only with the RK4 flow. The start
    must be representable: λ_max(XᵀX/n) a normal float64 (it sets the time scale and every
    step), the end-to-end vector neither overflowing nor (depth >= 2) underflowing to 0 from
    non-zero layers, the loss, its gradient and the curvature estimate finite.

    Flow integrators (``integrator``):
    * "auto" (default): adaptive. Rank-one chains (balanced weights, ``reduce`` None/True)
      are integrated as the width-one chain (:func:`reduce_rank_one`) in the row-space
      coordinates of X; "radau" (implicit, analytic Jacobian = −∇²L) when κ(XXᵀ) >
      STIFF_KAPPA/N (the chain's Gauss-Newton condition number is up to N·κ), else "dop853"
      (explicit 8th order, embedded error control; rerun with "radau" if it stalls or runs
      out of budget). Otherwise
      (``reduce=False`` or weights not rank one) "dop853" on all full layer matrices.
    * "dop853" / "radau": that adaptive method (radau only on the reduced chain).
    * "rk4": the classical fixed-step RK4 with h = ``flow_cfl``/λ̂ (default flow_cfl
      DEFAULT_FLOW_CFL). Passing ``flow_cfl`` or ``fixed_step=True`` selects "rk4".
      ``fixed_step`` keeps the first step (made to divide ``max_time`` evenly).

    Adaptive accuracy: ``tol`` is the target ‖w − w_flow(∞)‖/‖w‖. Local error control
    rtol = TOL_INTEGRATOR·tol; stop when the Newton-step distance ‖X⁺(Xw − y)‖/‖w‖ (one thin
    SVD of X up front) ≤ TOL_STOP·tol and the gradient rule holds (with frozen layers the
    rule is the trainable gradient ≤ rtol·start, so the local error control is
    TOL_INTEGRATOR·min(tol, rtol): a looser integrator cannot reach it). ``estimate_error``:
    re-run at ERROR_RATIO× looser integrator tolerance and report
    ``error_estimate`` = ‖w − w_coarse‖/‖w‖ + distance (None when not estimated, and for
    GD/RK4). Budgets: ``max_steps``, ``max_evals`` (gradient evaluations),
    ``max_seconds`` (wall clock) — exhausting one raises ConvergenceError with the
    distance reached and the estimated remaining time/steps.

    ``curvature``: λ̂ for the GD/RK4 step: "legacy" (:func:`_local_stiffness`, the default
    for GD and whenever ``flow_cfl``/``fixed_step`` is passed, so existing step sizes keep
    their meaning) or "bound" (:func:`_curvature_bound`, rigorous and ~5× tighter; default
    for ``integrator="rk4"`` without ``flow_cfl``).
    """
    X, y, weights = _data_first(X, y, weights, "fine_tune")
    Xa, ya = checks.design_and_labels(X, y)
    ws = validate_weights(weights, Xa.shape[1])
    depth = len(ws)
    mask = _mask(trainable, depth)
    require_balance = _flag(require_balance, "require_balance")
    fixed_step = _flag(fixed_step, "fixed_step")
    strict = _flag(strict, "strict")
    estimate_error = _flag(estimate_error, "estimate_error")
    reduce = None if reduce is None else _flag(reduce, "reduce")
    solver = _option(solver, "solver", ("gd", "flow"))  # type: ignore[assignment]
    integrator = _option(integrator, "integrator", ("auto", "dop853", "radau", "rk4"))  # type: ignore[assignment]
    if curvature is not None:
        curvature = _option(curvature, "curvature", ("legacy", "bound"))  # type: ignore[assignment]
    if require_balance:
        require_balanced(ws)
    rt, budget = checks.rtol_and_budget(rtol, max_steps)
    accuracy = checks.positive(tol, "tol")
    if accuracy >= 1.0:
        raise InputError(f"tol must be in (0, 1) (a relative accuracy of w), got {accuracy!r}")
    horizon = math.inf if max_time is None else checks.positive(max_time, "max_time")
    if max_evals is not None:
        max_evals = checks.positive_int(max_evals, "max_evals")
    if max_seconds is not None:
        max_seconds = checks.positive(max_seconds, "max_seconds")
    explicit_rk4 = flow_cfl is not None or fixed_step
    if explicit_rk4 and (solver == "gd" or integrator in ("dop853", "radau")):
        where = "solver='gd'" if solver == "gd" else f"integrator={integrator!r}"
        raise InputError(f"flow_cfl and fixed_step apply to integrator='rk4', not {where}")
    if solver == "flow" and step is not None:
        raise InputError("step applies to solver='gd'; the flow chooses h from flow_cfl")
    _check_scales(ws, Xa, ya)
    if solver == "flow" and (explicit_rk4 or integrator == "rk4"):
        cfl = checks.positive(DEFAULT_FLOW_CFL if flow_cfl is None else flow_cfl, "flow_cfl")
        if cfl > 2.5:
            raise InputError(
                f"flow_cfl must be < 2.5 (RK4 is unstable beyond h*lambda ~ 2.78), got {cfl}"
            )
        rule: Curvature = curvature or ("legacy" if explicit_rk4 else "bound")
        return _stepped(
            ws, Xa, ya, mask, "flow", None, rt, budget, cfl, horizon, fixed_step, strict, rule
        )
    if solver == "gd":
        return _stepped(
            ws,
            Xa,
            ya,
            mask,
            "gd",
            step,
            rt,
            budget,
            DEFAULT_FLOW_CFL,
            horizon,
            False,
            strict,
            curvature or "legacy",
        )
    return _adaptive(
        ws,
        Xa,
        ya,
        mask,
        integrator,
        accuracy,
        rt,
        budget,
        horizon,
        strict,
        reduce,
        estimate_error,
        max_evals,
        max_seconds,
    )


def _grad_floor(Xa: FloatArray, ya: FloatArray, w: FloatArray, mu_max: float) -> float:
    """Rounding floor of ‖∇L(w)‖: 64ε(λ_max(Σ̂)‖w‖ + ‖Xᵀy‖/n)."""
    return float(
        64.0 * np.finfo(np.float64).eps * (mu_max * _norm(w) + _norm(Xa.T @ ya) / Xa.shape[0])
    )


def _adaptive(
    ws: Weights,
    Xa: FloatArray,
    ya: FloatArray,
    mask: list[bool],
    integrator: str,
    tol: float,
    rt: float,
    budget: int,
    horizon: float,
    strict: bool,
    reduce: bool | None,
    estimate_error: bool,
    max_evals: int | None,
    max_seconds: float | None,
) -> DeepResult:
    """The adaptive flow path of :func:`fine_tune` (reduced chain or full matrices)."""
    depth = len(ws)
    w0 = _end_to_end(ws)  # representable, and non-zero for depth >= 2 (_check_scales)
    design = _flow.Design.of(Xa, ya)
    n = Xa.shape[0]
    mu_max = float(design.S[0] ** 2 / n)
    chain: tuple[FloatArray, FloatArray, tuple[FloatArray, ...]] | None = None
    if reduce is not False:
        res, u, sigmas, vecs = _rank_one_residual_and_chain(ws)
        if res <= RANK_ONE_RTOL and np.all(np.isfinite(u)):
            chain = (u, sigmas, vecs)
        elif reduce:
            raise InputError(
                f"reduce=True needs a rank-one chain: relative residual {res:.3g} > "
                f"{RANK_ONE_RTOL:.3g} (see reduce_rank_one); pass reduce=None or False"
            )
    kappa = design.kappa
    if integrator == "auto":
        # At balanced weights the end-to-end Gauss-Newton matrix is ‖w‖^{2−2/N}(I + (N − 1)ŵŵᵀ)
        # composed with XᵀX/n: its condition number is up to N·κ(XXᵀ) (found: κ = 842 at
        # N = 50 stalls DOP853 at its stability limit).
        stiff = chain is not None and kappa * depth > STIFF_KAPPA
        method = "radau" if stiff else "dop853"
    else:
        method = integrator
    if method == "radau" and chain is None:
        raise InputError(
            "integrator='radau' needs the reduced rank-one chain (its Jacobian is small); "
            "the weights are not rank one or reduce=False"
        )
    eps = float(np.finfo(np.float64).eps)
    if all(mask):
        grad_floor = _grad_floor(Xa, ya, w0, mu_max)
    else:  # in the units of the trainable layers' gradient, as for GD/RK4
        grad_floor = 64.0 * eps * _trainable_norm(_factored_pass(ws, Xa, ya, mask)[0])

    def make() -> _flow.System:
        if chain is not None:
            return _flow.ReducedSystem(chain[0], chain[1], design, mask)
        return _flow.FullSystem(ws, Xa, ya, mask, design, _factored_pass)

    def floor(system: _flow.System) -> Callable[[FloatArray], float]:
        if isinstance(system, _flow.ReducedSystem):
            red = system

            ystar = _norm(red.ystar)

            def reduced_floor(z: FloatArray) -> float:
                # Rounding of ‖Pw − X⁺y‖ is ~64ε(‖w‖ + ‖X⁺y‖); relative to ‖w‖ that is at most
                # 128ε at the limit (‖w_∞‖ ≥ ‖X⁺y‖). Far from it (‖w‖ ≪ ‖X⁺y‖) the ratio is no
                # floor at all: dividing by max(‖w‖, ‖X⁺y‖) keeps it ≤ 128ε (dividing by ‖w‖
                # declared a start 1e186 away from X⁺y converged).
                wn, _, _, _ = red.monitor(z)
                return 64.0 * eps * (wn + ystar) / max(wn, ystar, TINY)

            return reduced_floor
        s_ratio = float(design.S[0] / design.S[-1])

        def full_floor(z: FloatArray) -> float:
            return 64.0 * eps * s_ratio * depth

        return full_floor

    # Layer entries scale like ‖w‖^{1/N} at balance; ‖w_∞‖ ≥ ‖X⁺y‖ (X⁺y ⟂ (I − P)θ_S), so
    # the parameters shrink by at most (‖X⁺y‖/‖w_0‖)^{1/N} (no shrink bound when X⁺y = 0).
    pinv_y = _norm(design.yt / design.S)
    w0_norm = _norm(w0)
    shrink = 1.0  # no shrink bound when X⁺y = 0 or w_0 = 0 (depth 1 from the origin)
    if pinv_y > 0.0 and w0_norm > 0.0:
        shrink = min(1.0, math.exp(math.log(pinv_y / w0_norm) / depth))
    # With frozen layers the stopping rule is the relative trainable gradient <= rtol: the
    # integrator, which holds the state ~7x its local rtol off equilibrium, must resolve it.
    accuracy = tol if all(mask) else min(tol, rt)

    def run(int_rtol: float) -> tuple[_flow.System, _flow.Run]:
        system = make()
        effective = max(int_rtol, 100.0 * eps)  # scipy's floor on rtol
        with np.errstate(over="ignore", invalid="ignore"):
            curvature = (
                system.curvature()
                if isinstance(system, _flow.ReducedSystem)
                else _local_stiffness(ws, _norm(Xa.T @ (Xa @ w0 - ya)) / n, mu_max)
            )
        if not math.isfinite(curvature):
            raise InputError(
                "the curvature of the loss in the layer parameters overflows float64: X, y or "
                "the weights are too large; rescale them"
            )
        return system, _flow.integrate(
            system,
            method,
            int_rtol=effective,
            stop_distance=max(TOL_STOP * tol, NOISE_FLOOR * effective),
            grad_rtol=rt,
            grad_floor=grad_floor,
            max_steps=budget,
            max_evals=max_evals,
            max_seconds=max_seconds,
            horizon=horizon,
            distance_floor=floor(system),
            stall_accept=TOL_STOP,
            shrink=shrink,
            curvature=curvature,
        )

    system, fine = run(TOL_INTEGRATOR * accuracy)
    explicit = integrator == "auto" and method == "dop853" and chain is not None
    if explicit and not fine.converged and not fine.finished:
        # The explicit method stalled or ran out (stiffer than the estimate said): the same
        # flow with the implicit method, within the same budgets.
        method = "radau"
        system, fine = run(TOL_INTEGRATOR * accuracy)
    path = "reduced" if chain is not None else "full"
    label = f"{path}/{method}"
    if not fine.converged and not fine.finished:
        message = _failure_message(label, fine, tol, kappa, chain is not None)
        if strict:
            raise ConvergenceError(message)
    final = _final_weights(system, fine.z, chain)
    # Frozen layers are returned exactly as given (the reduced chain re-embeds every layer,
    # which would change a frozen one by rounding).
    final = tuple(W if m else W0.copy() for W, W0, m in zip(final, ws, mask, strict=True))
    w = _end_to_end(final)
    error: float | None = None
    if estimate_error and (fine.converged or fine.finished):
        _, coarse = run(TOL_INTEGRATOR * accuracy * ERROR_RATIO)
        coarse_w = _final_end_to_end(make(), coarse.z, chain)
        wn = max(_norm(w), TINY)
        error = _norm(w - coarse_w) / wn
        if all(mask) and not fine.finished:
            error += fine.distance
    return DeepResult(
        weights=final,
        end_to_end=w,
        steps=fine.steps,
        converged=bool(fine.converged),
        loss_history=np.asarray(fine.losses, dtype=np.float64),
        solver="flow",
        step=fine.last_h,
        time=fine.t,
        error_estimate=error,
        method=label,
        evaluations=fine.evals,
    )


def _final_weights(
    system: _flow.System,
    z: FloatArray,
    chain: tuple[FloatArray, FloatArray, tuple[FloatArray, ...]] | None,
) -> Weights:
    if isinstance(system, _flow.ReducedSystem) and chain is not None:
        u, sg = system.chain(z)
        reduced = (u[None, :], *(np.array([[float(s)]]) for s in sg))
        return embed(reduced, ChainEmbedding(chain[2]))
    assert isinstance(system, _flow.FullSystem)
    return tuple(np.array(W, dtype=np.float64, copy=True) for W in system.weights(z))


def _final_end_to_end(
    system: _flow.System,
    z: FloatArray,
    chain: tuple[FloatArray, FloatArray, tuple[FloatArray, ...]] | None,
) -> FloatArray:
    if isinstance(system, _flow.ReducedSystem):
        return system.end_to_end(z)
    return end_to_end(_final_weights(system, z, chain))


def _failure_message(label: str, run: _flow.Run, tol: float, kappa: float, reduced: bool) -> str:
    """What the budget bought, and what converging would need."""
    msg = (
        f"flow ({label}) did not converge {run.reason}; reached flow time t = {run.t:.3g} in "
        f"{run.steps} steps / {run.evals} gradient evaluations / {run.seconds:.3g} s with "
        f"relative gradient {run.rel_grad:.3g} and estimated remaining distance "
        f"|X^+(Xw - y)|/|w| = {run.distance:.3g} (target {TOL_STOP * tol:.3g})"
    )
    if math.isfinite(run.rate) and run.rate > 0 and run.distance > 0 and run.t > 0:
        more_t = math.log(max(run.distance / (TOL_STOP * tol), 1.0)) / run.rate
        per_t = run.steps / run.t
        more_steps = more_t * max(per_t, 1.0 / max(run.last_h, 1e-300))
        more_s = more_steps * run.seconds / max(run.steps, 1)
        msg += (
            f"; at the observed decay rate {run.rate:.3g}/unit time it needs flow time "
            f"~{more_t:.3g} more, ~{more_steps:.3g} more steps (~{more_s:.3g} s)"
        )
    if "dop853" in label and kappa > 100.0:
        msg += f"; the problem is stiff (kappa(XX^T) = {kappa:.3g}): " + (
            "pass integrator='radau'"
            if reduced
            else "rank-one (balanced) weights would allow the reduced stiff integrator"
        )
    return msg + "; raise the budget or pass strict=False"


def _stepped(
    ws: Weights,
    Xa: FloatArray,
    ya: FloatArray,
    mask: list[bool],
    solver: Solver,
    step: float | None,
    tol: float,
    budget: int,
    cfl: float,
    horizon: float,
    fixed_step: bool,
    strict: bool,
    rule: Curvature,
) -> DeepResult:
    """GD or fixed-rule RK4 (the original solvers of :func:`fine_tune`)."""
    depth = len(ws)
    mu_max = _curvature(Xa)
    if mu_max == 0.0:
        raise InputError("X must not be all zeros (the loss is flat)")

    ws = tuple(np.array(W, dtype=np.float64, order="C", copy=True) for W in ws)  # updated in place
    grads, w, loss, g = _factored_pass(ws, Xa, ya, mask)
    if not np.any(w) and depth > 1:
        raise InputError(
            "the end-to-end vector of weights is 0: a saddle point, training cannot start"
        )
    w1_0 = ws[0].copy()
    xw1_0 = _norm(Xa @ ws[0].T) if rule == "bound" else 0.0

    def lam(weights: Weights, gn: float) -> float:
        if rule == "bound":
            return _curvature_bound(weights, Xa, ya, mu_max, xw1_0, w1_0)
        return _local_stiffness(weights, gn, mu_max)

    g0 = _norm(g)
    lam0 = lam(ws, g0)
    if not math.isfinite(lam0):
        raise InputError(
            "the curvature estimate of the loss in the layer parameters overflows float64: X, "
            "y or the weights are too large; rescale them"
        )
    eta = 0.0
    if solver == "gd":
        eta = DEFAULT_GD_FRACTION * 2.0 / lam0 if step is None else checks.positive(step, "step")
        if eta >= 2.0 / lam0:
            raise InputError(
                f"step must be below the local stability limit 2/lambda_hat = {2.0 / lam0:.6g} "
                f"(lambda_hat estimates the loss curvature at the start), got {eta!r}"
            )

    floor = _grad_floor(Xa, ya, w, mu_max)
    # Fixed steps: h = flow_cfl/λ̂(start), shortened so that max_time is a whole number of steps.
    fixed_h = cfl / lam0
    if fixed_step and math.isfinite(horizon):
        fixed_h = horizon / math.ceil(horizon / fixed_h)
    all_trainable = all(mask)
    if not all_trainable:  # ∇L(w) need not vanish: stop on the trainable layers' gradient
        floor = 64.0 * np.finfo(np.float64).eps * _trainable_norm(grads)
    history = [loss]
    steps = 0
    elapsed = 0.0
    h = 0.0
    gnorm = g0
    stop0 = stop = g0 if all_trainable else _trainable_norm(grads)
    start_loss = max(loss, TINY)
    stuck = 0
    while stop > max(tol * stop0, floor) and steps < budget and elapsed < horizon:
        w_before = w
        if solver == "gd":
            h = min(eta, horizon - elapsed)
            for W, f in zip(ws, grads, strict=True):
                if f is not None:
                    W -= h * np.outer(f[0], f[1])
        else:
            base = fixed_h if fixed_step else cfl / lam(ws, gnorm)
            h = min(base, horizon - elapsed)
            _rk4_step(ws, grads, Xa, ya, mask, h)
        elapsed += h
        steps += 1
        grads, w, loss, g = _factored_pass(ws, Xa, ya, mask)
        gnorm = _norm(g)
        stop = gnorm if all_trainable else _trainable_norm(grads)
        history.append(loss)
        if not np.isfinite(loss) or loss > 1e6 * start_loss:
            raise ConvergenceError(
                f"training diverged at step {steps} (loss {loss:.3g}); lower the step size"
            )
        stuck = stuck + 1 if np.array_equal(w, w_before) else 0
        if stuck >= STUCK_STEPS:
            break
    converged = stop <= max(tol * stop0, floor)
    if stuck >= STUCK_STEPS and not converged:
        message = (
            f"{solver} is stuck: {STUCK_STEPS} steps of h = {h:.3g} left the end-to-end "
            f"vector unchanged (each update is below float64's resolution; relative gradient "
            f"norm {stop / max(stop0, TINY):.3g} > rtol={tol:.3g}); raise step (GD) or "
            "flow_cfl (RK4)"
        )
        if strict:
            raise ConvergenceError(message)
    elif strict and not converged and elapsed < horizon:
        raise ConvergenceError(
            f"{solver} did not converge in max_steps={budget}: relative gradient norm "
            f"{stop / max(stop0, TINY):.3g} > rtol={tol:.3g}; "
            "raise max_steps or pass strict=False"
        )
    return DeepResult(
        weights=ws,
        end_to_end=w,
        steps=steps,
        converged=bool(converged),
        loss_history=np.asarray(history, dtype=np.float64),
        solver=solver,
        step=float(eta if solver == "gd" else h),
        time=elapsed,
        error_estimate=None,
        method="gd" if solver == "gd" else f"full/rk4 ({rule} curvature)",
        evaluations=steps * (1 if solver == "gd" else 4) + 1,
    )


def _rk4_step(
    ws: Weights,
    k1: list[Factor | None],
    X: FloatArray,
    y: FloatArray,
    mask: Sequence[bool],
    h: float,
) -> None:
    """One classical RK4 step of Ẇ_j = −∂L/∂W_j, in place; k1 = gradient factors at ws.

    Every stage gradient is rank one, so the stages are evaluated on W_j − a·u_jv_jᵀ through
    :func:`_factored_pass` and the update W_j −= (h/6)(k1 + 2k2 + 2k3 + k4) is one rank-4
    product per layer.
    """
    k2 = _factored_pass(ws, X, y, mask, h / 2, k1)[0]
    k3 = _factored_pass(ws, X, y, mask, h / 2, k2)[0]
    k4 = _factored_pass(ws, X, y, mask, h, k3)[0]
    for W, a, b, c, e in zip(ws, k1, k2, k3, k4, strict=True):
        if a is None or b is None or c is None or e is None:
            continue
        left = np.stack([a[0], 2.0 * b[0], 2.0 * c[0], e[0]], axis=1) * (h / 6.0)
        right = np.stack([a[1], b[1], c[1], e[1]], axis=0)
        W -= left @ right


def pretrain(
    theta_s: ArrayLike,
    widths: Sequence[int],
    rng: RngLike,
    *,
    init_scale: float = 1e-3,
    n_source: int | None = None,
    rtol: float = 1e-10,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> Weights:
    """Weights obtained by training on a source task from a small random initialisation.

    Draws n_source (default 2d) source inputs x ~ N(0, I) with noiseless labels θ_Sᵀx and
    runs the adaptive (DOP853, full-matrix) gradient flow from i.i.d. N(0, init_scale²/d_{j−1})
    weights. Gradient flow conserves W_{j+1}ᵀW_{j+1} − W_jW_jᵀ, so the result is balanced up
    to the initial imbalance, O(init_scale²): the realistic, approximately balanced
    pretrained weights.

    ``theta_s`` non-zero; ``init_scale`` > 0; ``n_source`` >= 1 (n_source·d at most
    MAX_PARAMETERS); ``rtol`` in (0, 1) and ``max_steps`` are passed to :func:`fine_tune`, whose
    adaptive flow with every layer trainable stops on ``tol`` (DEFAULT_TOL), not on ``rtol``.
    """
    ts = checks.as_vector(theta_s, "theta_s")
    if not np.any(ts):
        raise InputError(
            "theta_s must be non-zero: the relative stopping rule |w - theta_s|/|w| cannot be "
            "met at theta_s = 0 (the origin is a saddle of a deep chain)"
        )
    d = ts.shape[0]
    ws = _check_widths(widths, d)
    sc = checks.positive(init_scale, "init_scale")
    m = 2 * d if n_source is None else checks.positive_int(n_source, "n_source")
    if m * d > MAX_PARAMETERS:
        raise InputError(
            f"n_source={m} source inputs of dimension d={d} ask for {m * d} numbers, more than "
            f"MAX_PARAMETERS = {MAX_PARAMETERS}"
        )
    rt, budget = checks.rtol_and_budget(rtol, max_steps)
    gen = as_generator(rng)
    Xs = sample_inputs(m, d, gen)
    with np.errstate(over="ignore"):
        labels = Xs @ ts
        source_loss = 0.5 * float(labels @ labels) / m
    if not math.isfinite(source_loss):
        raise InputError(
            "theta_s is too large: the source loss |X theta_s|^2/2n overflows float64; rescale it"
        )
    init = random_weights(ws, sc, gen)
    try:
        w_init = _end_to_end(init)
    except InputError:
        raise InputError(
            f"init_scale={sc!r} is too large: the initial end-to-end vector (~init_scale^N) "
            "overflows float64"
        ) from None
    if not np.any(w_init):
        raise InputError(
            f"init_scale={sc!r} is too small: the initial end-to-end vector (~init_scale^N) "
            "underflows float64 to 0 (a saddle point)"
        )
    # From a tiny start the end-to-end vector is ~0; the adaptive full-matrix flow takes long
    # steps near the saddle and short ones once w moves (no error estimate: not reported).
    result = fine_tune(
        Xs, labels, init, solver="flow", rtol=rt, max_steps=budget, estimate_error=False
    )
    return result.weights
