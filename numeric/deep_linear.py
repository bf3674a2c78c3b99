"""Deep linear networks f(x) = W_N ⋯ W_1 x trained on their layer matrices (THEORY.md §2).

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
* ``"flow"``: classical fixed-step RK4 on all layer matrices (error O(h⁴)), with the step
  h = ``flow_cfl`` / λ̂ re-evaluated every step from an upper estimate λ̂ of the loss
  curvature in the layer parameters (see :func:`_local_stiffness`; at balanced weights it is
  N‖w‖^{2−2/N}λ_max(XᵀX/n)). RK4 is stable for hλ < 2.78.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import ConvergenceError, InputError
from numeric.data import RngLike, as_generator, random_unit_vector, sample_inputs

__all__ = [
    "DeepResult",
    "Solver",
    "balanced_weights",
    "end_to_end",
    "fine_tune",
    "imbalance",
    "layer_gradients",
    "pretrain",
    "random_weights",
    "require_balanced",
    "uniform_widths",
    "validate_weights",
]

Solver = Literal["gd", "flow"]
Weights = tuple[FloatArray, ...]

#: Default relative gradient tolerance: stop when ‖∇L(w)‖ ≤ rtol·‖∇L(w_0)‖. The remaining
#: error in w is ≲ κ(XXᵀ)·rtol relative, far below the RK4 error (~1e-9) at the default step.
DEFAULT_RTOL = 1e-10
DEFAULT_MAX_STEPS = 1_000_000
#: RK4 step as a fraction of 1/λ̂; 0.5 keeps hλ well inside RK4's stability interval and
#: makes the O(h⁴) error of the limit ~1e-10 relative on the project's benchmark problems.
DEFAULT_FLOW_CFL = 0.5
#: Default GD step as a fraction of 2/λ̂ (the local stability limit of GD).
DEFAULT_GD_FRACTION = 0.25
#: Relative imbalance max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F / ‖W_j‖_F² accepted as
#: "balanced" where a theorem needs it: float rounding of a balanced factorisation is ~1e-15.
BALANCE_RTOL = 1e-9


@dataclass(frozen=True)
class DeepResult:
    """Outcome of fine-tuning a deep linear network.

    ``weights``: final layer matrices; ``end_to_end``: w = (W_N ⋯ W_1)ᵀ (d,); ``steps``;
    ``converged``; ``loss_history`` (L at every step, length steps + 1); ``solver``;
    ``step``: η for GD or the last h for the flow; ``time``: elapsed training time
    t = Σ steps (η·steps for GD), in the units of the gradient flow.
    """

    weights: Weights
    end_to_end: FloatArray
    steps: int
    converged: bool
    loss_history: FloatArray
    solver: str
    step: float
    time: float


def validate_weights(weights: Sequence[ArrayLike], d: int | None = None) -> Weights:
    """Check a chain W_1 … W_N: 2-D finite arrays, d_N = 1, consecutive shapes compatible."""
    if len(weights) < 1:
        raise InputError("weights must hold at least one matrix (depth >= 1)")
    out = tuple(checks.as_matrix(W, f"weights[{j}]") for j, W in enumerate(weights))
    if out[-1].shape[0] != 1:
        raise InputError(
            f"the last layer must have one output row (d_N = 1), got shape {out[-1].shape}"
        )
    for j in range(1, len(out)):
        if out[j].shape[1] != out[j - 1].shape[0]:
            raise InputError(
                f"weights[{j}] has {out[j].shape[1]} columns but weights[{j - 1}] has "
                f"{out[j - 1].shape[0]} rows; W_(j+1) must have shape (d_(j+1), d_j)"
            )
    if d is not None and out[0].shape[1] != d:
        raise InputError(f"weights[0] must have d = {d} columns to match X, got {out[0].shape[1]}")
    return out


def _check_widths(widths: Sequence[int], d: int) -> list[int]:
    ws = [checks.positive_int(w, f"widths[{i}]") for i, w in enumerate(widths)]
    if len(ws) < 2:
        raise InputError("widths must list d_0 = d, the hidden widths, and d_N = 1 (depth >= 1)")
    if ws[0] != d:
        raise InputError(f"widths must start at d = {d} (the input dimension), got {ws[0]}")
    if ws[-1] != 1:
        raise InputError(f"widths must end at 1 (scalar output), got {ws[-1]}")
    return ws


def uniform_widths(d: int, width: int, depth: int) -> list[int]:
    """[d, width, …, width, 1]: the widths of a depth-N chain with equal hidden widths."""
    d = checks.positive_int(d, "d")
    width = checks.positive_int(width, "width")
    depth = checks.positive_int(depth, "depth")
    return [d] + [width] * (depth - 1) + [1]


def balanced_weights(theta_s: ArrayLike, widths: Sequence[int], rng: RngLike) -> Weights:
    """The balanced rank-one factorisation of θ_S (THEORY.md D2).

    W_1 = s v_1 θ̂_Sᵀ, W_j = s v_j v_{j−1}ᵀ (1 < j < N), W_N = s v_{N−1}ᵀ with
    s = ‖θ_S‖^{1/N} and random unit vectors v_j ∈ R^{d_j} from ``rng``; for N = 1,
    W_1 = θ_Sᵀ. Then W_{j+1}ᵀW_{j+1} = W_jW_jᵀ = s²v_jv_jᵀ and (W_N ⋯ W_1)ᵀ = θ_S.
    """
    ts = checks.as_vector(theta_s, "theta_s")
    norm = float(np.linalg.norm(ts))
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
    ws = [checks.positive_int(w, f"widths[{i}]") for i, w in enumerate(widths)]
    if len(ws) < 2 or ws[-1] != 1:
        raise InputError("widths must list d_0, the hidden widths, and end at d_N = 1")
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


def end_to_end(weights: Sequence[ArrayLike]) -> FloatArray:
    """w = (W_N ⋯ W_1)ᵀ, computed right to left with vector-matrix products."""
    return _backward_rows(validate_weights(weights))[0]


def imbalance(weights: Sequence[ArrayLike]) -> float:
    """max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F / ‖W_j‖_F² (0 for balanced weights; 0 for N = 1)."""
    ws = validate_weights(weights)
    worst = 0.0
    for j in range(len(ws) - 1):
        gap = ws[j + 1].T @ ws[j + 1] - ws[j] @ ws[j].T
        scale = max(float(np.sum(ws[j] ** 2)), 1e-300)
        worst = max(worst, float(np.linalg.norm(gap)) / scale)
    return worst


def require_balanced(weights: Sequence[ArrayLike], rtol: float = BALANCE_RTOL) -> None:
    """Raise InputError unless the weights are balanced to ``rtol`` (see :func:`imbalance`)."""
    gap = imbalance(weights)
    if gap > rtol:
        raise InputError(
            f"weights are not balanced: relative imbalance {gap:.3g} > {rtol:.3g} "
            "(W_(j+1)^T W_(j+1) must equal W_j W_j^T); the closed form of THEORY.md D3 "
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


def layer_gradients(
    weights: Sequence[ArrayLike], X: ArrayLike, y: ArrayLike
) -> tuple[list[FloatArray], FloatArray]:
    """(∂L/∂W_j for every layer as dense matrices, w): each is the rank-one a_jᵀh_{j−1}ᵀ."""
    Xa, ya = checks.design_and_labels(X, y)
    ws = validate_weights(weights, Xa.shape[1])
    factors, w, _, _ = _factored_pass(ws, Xa, ya, [True] * len(ws))
    return [np.outer(*f) for f in factors if f is not None], w


def _trainable_norm(factors: Sequence[Factor | None]) -> float:
    """‖∂L/∂(trainable layers)‖_F from the rank-one factors: √Σ_j ‖u_j‖²‖v_j‖²."""
    return math.sqrt(sum(float(f[0] @ f[0]) * float(f[1] @ f[1]) for f in factors if f is not None))


def _curvature(X: FloatArray) -> float:
    return float(np.linalg.norm(X, 2) ** 2 / X.shape[0])


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
            np.linalg.norm(W, 2) if W.size <= 4096 and min(W.shape) > 1 else np.linalg.norm(W)
            for W in ws
        ]
    )
    depth = len(ws)
    if np.all(norms > 0.0):
        # Π_{i≠j} = Π/n_j and Π_{i≠j,k} = Π/(n_j n_k): O(N) sums instead of O(N²) products.
        inv = 1.0 / norms
        full = float(np.prod(norms))
        total = mu_max * full**2 * float(np.sum(inv**2))
        total += gnorm * full * 0.5 * float(np.sum(inv) ** 2 - np.sum(inv**2))
    else:  # a zero layer: only the products that skip it survive
        total = 0.0
        for j in range(depth):
            total += mu_max * math.prod(float(v) ** 2 for i, v in enumerate(norms) if i != j)
            for k in range(j + 1, depth):
                total += gnorm * math.prod(float(v) for i, v in enumerate(norms) if i not in (j, k))
    return max(total, 1e-300)


def fine_tune(
    weights: Sequence[ArrayLike],
    X: ArrayLike,
    y: ArrayLike,
    *,
    solver: Solver = "flow",
    step: float | None = None,
    trainable: Sequence[bool] | None = None,
    require_balance: bool = False,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    flow_cfl: float = DEFAULT_FLOW_CFL,
    max_time: float | None = None,
    fixed_step: bool = False,
    strict: bool = True,
) -> DeepResult:
    """Fine-tune every trainable layer on L = (1/2n)‖X(W_N ⋯ W_1)ᵀ − y‖².

    Parameters: ``weights`` (W_1, …, W_N) pretrained matrices; X (n, d); y (n,);
    ``solver`` "flow" (RK4 gradient flow, default) or "gd"; ``step`` the GD step η (default
    ¼ of the local stability limit 2/λ̂ at the start; a larger step than 2/λ̂ is rejected);
    ``trainable`` one bool per layer (False freezes it; default all trainable);
    ``require_balance`` raise if the weights are not balanced (D3's hypothesis);
    ``rtol``: stop when ‖∇L(w)‖ ≤ rtol·‖∇L(w_0)‖ (with frozen layers, when the gradient
    of the trainable layers has shrunk by rtol: ∇L(w) need not vanish then);
    ``max_steps``; ``flow_cfl`` the RK4 step as a fraction of 1/λ̂; ``max_time``: stop at
    this gradient-flow time t (the last step is shortened to land on it; a requested stop,
    not a failure); ``fixed_step``: keep the flow's first step h = flow_cfl/λ̂(start) (made
    to divide ``max_time`` evenly) for the whole run — clean convergence-order studies;
    stability is then the caller's responsibility; ``strict``: raise
    ConvergenceError when the step budget runs out before the tolerance is met.
    Divergence (a non-finite loss or one 1e6 times its start) raises ConvergenceError.
    """
    Xa, ya = checks.design_and_labels(X, y)
    ws = validate_weights(weights, Xa.shape[1])
    depth = len(ws)
    mask = [True] * depth if trainable is None else [bool(t) for t in trainable]
    if len(mask) != depth:
        raise InputError(f"trainable must have one entry per layer ({depth}), got {len(mask)}")
    if not any(mask):
        raise InputError("trainable must leave at least one layer trainable")
    if require_balance:
        require_balanced(ws)
    tol = checks.positive(rtol, "rtol")
    budget = checks.positive_int(max_steps, "max_steps", minimum=0)
    cfl = checks.positive(flow_cfl, "flow_cfl")
    horizon = math.inf if max_time is None else checks.positive(max_time, "max_time")
    if solver == "flow" and cfl > 2.5:
        raise InputError(
            f"flow_cfl must be < 2.5 (RK4 is unstable beyond h*lambda ~ 2.78), got {cfl}"
        )
    mu_max = _curvature(Xa)
    if mu_max == 0.0:
        raise InputError("X must not be all zeros (the loss is flat)")

    ws = tuple(np.array(W, dtype=np.float64, order="C", copy=True) for W in ws)  # updated in place
    grads, w, loss, g = _factored_pass(ws, Xa, ya, mask)
    if float(np.linalg.norm(w)) == 0.0 and depth > 1:
        raise InputError(
            "the end-to-end vector of weights is 0: a saddle point, training cannot start"
        )
    g0 = float(np.linalg.norm(g))
    lam0 = _local_stiffness(ws, g0, mu_max)
    if solver == "gd":
        eta = DEFAULT_GD_FRACTION * 2.0 / lam0 if step is None else checks.positive(step, "step")
        if eta >= 2.0 / lam0:
            raise InputError(
                f"step must be below the local stability limit 2/lambda_hat = {2.0 / lam0:.6g} "
                f"(lambda_hat estimates the loss curvature at the start), got {eta!r}"
            )
    elif solver != "flow":
        raise InputError(f"solver must be 'gd' or 'flow', got {solver!r}")
    elif step is not None:
        raise InputError("step applies to solver='gd'; the flow chooses h from flow_cfl")

    floor = (
        64.0
        * np.finfo(np.float64).eps
        * (mu_max * float(np.linalg.norm(w)) + float(np.linalg.norm(Xa.T @ ya)) / Xa.shape[0])
    )
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
    start_loss = max(loss, 1e-300)
    while stop > max(tol * stop0, floor) and steps < budget and elapsed < horizon:
        if solver == "gd":
            h = min(eta, horizon - elapsed)
            for W, f in zip(ws, grads, strict=True):
                if f is not None:
                    W -= h * np.outer(f[0], f[1])
        else:
            base = fixed_h if fixed_step else cfl / _local_stiffness(ws, gnorm, mu_max)
            h = min(base, horizon - elapsed)
            _rk4_step(ws, grads, Xa, ya, mask, h)
        elapsed += h
        steps += 1
        grads, w, loss, g = _factored_pass(ws, Xa, ya, mask)
        gnorm = float(np.linalg.norm(g))
        stop = gnorm if all_trainable else _trainable_norm(grads)
        history.append(loss)
        if not np.isfinite(loss) or loss > 1e6 * start_loss:
            raise ConvergenceError(
                f"training diverged at step {steps} (loss {loss:.3g}); lower the step size"
            )
    converged = stop <= max(tol * stop0, floor)
    if strict and not converged and elapsed < horizon:
        raise ConvergenceError(
            f"{solver} did not converge in max_steps={budget}: relative gradient norm "
            f"{stop / max(stop0, 1e-300):.3g} > rtol={tol:.3g}; "
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
    runs the RK4 gradient flow from i.i.d. N(0, init_scale²/d_{j−1}) weights. Gradient flow
    conserves W_{j+1}ᵀW_{j+1} − W_jW_jᵀ, so the result is balanced up to the initial
    imbalance, O(init_scale²): the realistic, approximately balanced pretrained weights.
    """
    ts = checks.as_vector(theta_s, "theta_s")
    d = ts.shape[0]
    ws = _check_widths(widths, d)
    gen = as_generator(rng)
    m = 2 * d if n_source is None else checks.positive_int(n_source, "n_source")
    Xs = sample_inputs(m, d, gen)
    init = random_weights(ws, init_scale, gen)
    # From a tiny start the end-to-end vector is ~0; escape the saddle needs many steps.
    result = fine_tune(init, Xs, Xs @ ts, solver="flow", rtol=rtol, max_steps=max_steps)
    return result.weights
