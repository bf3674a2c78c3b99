"""Finite-width two-layer ReLU networks, actually trained by gradient descent (docs/theory.md §3).

Network f(x; W) = (1/√m) Σ_{r=1}^m a_r relu(w_rᵀx): W (m, d) is trained, a_r ∈ {±1} stay
fixed, w_r ~ N(0, I_d) at initialisation. Nothing here evaluates a closed form of the theory:

* :func:`empirical_ntk` — the NTK Gram matrix of a given network, vectorised as
  (XZᵀ) ⊙ (A_X A_Zᵀ)/m with A the (n, m) activation pattern 1{w_rᵀx ≥ 0} (plus
  relu(XWᵀ)relu(ZWᵀ)ᵀ/m for the second layer);
* :func:`monte_carlo_gram` — E_w[xᵀz 1{wᵀx ≥ 0, wᵀz ≥ 0}] averaged over M random w, with its
  standard error;
* :func:`pretrain`, :func:`fine_tune`, :func:`transfer` — full-batch gradient descent on
  L(W) = (1/2n)‖f(X) − y‖², first on a linear source teacher θ_S from random
  initialisation, then on a target teacher θ_T from the pretrained weights;
* :func:`population_risk_mc` — E_x[(f(x) − θ_Tᵀx)²] over fresh points of the unit sphere.

Initialisation (``symmetric=True``, the default): neurons come in pairs (w_r, a_r),
(w_r, −a_r), so f ≡ 0 at initialisation up to rounding (the "doubling trick"); each pair
contributes twice to the empirical NTK, which is then an average over m/2 independent w_r. With
``symmetric=False`` all m neurons are independent and f at initialisation is a random
function of size O(1).

Step size: the Hessian of L in W is (1/n)JᵀJ almost everywhere (ReLU is piecewise linear),
whose top eigenvalue is λ_max(K)/n with K the empirical NTK Gram matrix. The default step is
η = n/λ_max(K(W₀)), half the stability limit 2n/λ_max(K(W₀)); a user step at or above the
limit is rejected. Stopping rule: ‖f(X) − y‖ ≤ max(rtol·‖f₀(X) − y‖, floor), where the
floor 64·eps·‖Σ_r relu(w_rᵀx_i)/√m + |y_i|‖ is the rounding error of the outputs.

Inputs follow the shared coercion rule of :mod:`finetune_theory.checks` (real numbers only,
finite; flags must be bools, ``layers`` one of its two strings). Scale: every quantity here
is positively homogeneous in X (and Z) and in W, so each function rescales its inputs by
exact powers of two to a unit scale, computes there, and scales the result back — the
value is the same bit for bit at ordinary magnitudes and correct at extreme ones (inputs
×1e±200). A result whose magnitude is beyond float64 (overflow, or a result that would
underflow to subnormals/zero as a whole) raises :class:`InputError` naming the inputs, never
inf, NaN or a silent 0. Sizes are bounded: one array of weights, draws or test points holds
at most 2^28 numbers (the bound numeric.data puts on one generated array).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import ConvergenceError, InputError
from finetune_theory.scaling import pow2_scale as _unit
from numeric._records import float_array, set_field, warn_old_layout
from numeric.data import RngLike, as_generator, labels, sample_sphere
from numeric.linear import MonteCarloEstimate

__all__ = [
    "DEFAULT_MAX_STEPS",
    "DEFAULT_RTOL",
    "Layers",
    "MonteCarloGram",
    "TrainResult",
    "TransferRun",
    "TwoLayerNet",
    "empirical_ntk",
    "fine_tune",
    "init_network",
    "loss_gradient",
    "monte_carlo_gram",
    "population_risk_mc",
    "predict",
    "pretrain",
    "stability_limit",
    "transfer",
]

#: Default relative residual tolerance: stop when ‖f(X) − y‖ ≤ 1e-10·‖f₀(X) − y‖.
DEFAULT_RTOL = 1e-10
#: Default step budget; a run that needs more raises ConvergenceError (strict mode).
DEFAULT_MAX_STEPS = 20_000
_ROUNDING_FLOOR = 64.0 * np.finfo(np.float64).eps

Layers = Literal["first", "both"]

#: Most numbers one array of weights, Monte Carlo draws or test points may hold: 2^28
#: float64 = 2 GiB, the same bound as numeric.data's on one generated array. Larger requests
#: are refused before allocating (NumPy would raise MemoryError, or loop for hours).
_MAX_ENTRIES = 2**28
_TINY = float(np.finfo(np.float64).tiny)


def _flag(value: Any, name: str) -> bool:
    """A bool flag; 1, 0, "yes", None and other truthy/falsy objects are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r:.80}")
    return bool(value)


def _layers(value: Any) -> Layers:
    if not isinstance(value, str) or value not in ("first", "both"):
        raise InputError(
            f"layers must be 'first' (W trained) or 'both' (W and a), got {value!r:.80}"
        )
    return cast(Layers, value)


def _bounded(count: int, what: str) -> None:
    """Raise unless ``count`` numbers fit the size bound :data:`_MAX_ENTRIES`."""
    if count > _MAX_ENTRIES:
        raise InputError(
            f"{what} asks for {count} numbers, more than 2^28 = {_MAX_ENTRIES} in one array; "
            "use smaller sizes"
        )


def _log2_size(u: FloatArray, e: int) -> float:
    """log2 of max|u·2^e| (-inf for zero), without forming u·2^e."""
    top = float(np.max(np.abs(u)))
    return -math.inf if top == 0.0 else math.log2(top) + e


def _scaled_back(
    terms: Sequence[tuple[FloatArray, int]], what: str, *, underflow: bool = True
) -> FloatArray:
    """Σ u·2^e over the unit-scale ``terms`` (u, e): the result in the caller's units.

    Raises :class:`InputError` naming ``what`` when the result overflows float64, or (with
    ``underflow``) when it is nonzero but lies entirely below float64's normal range, where
    it would be returned as subnormals or 0 with its relative accuracy lost."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        out = sum((np.ldexp(u, e) for u, e in terms), np.zeros_like(terms[0][0]))
    size = max(_log2_size(u, e) for u, e in terms)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{what} overflows float64 (magnitude ~2^{size:.0f}); rescale the inputs")
    if underflow and size > -math.inf and float(np.max(np.abs(out))) < _TINY:
        raise InputError(f"{what} underflows float64 (magnitude ~2^{size:.0f}); rescale the inputs")
    return np.asarray(out, dtype=np.float64)


def _scalar_back(value: float, e: int, what: str, *, underflow: bool = True) -> float:
    return float(
        _scaled_back([(np.asarray(value, dtype=np.float64), e)], what, underflow=underflow)
    )


@dataclass(frozen=True)
class TwoLayerNet:
    """f(x) = (1/√m) Σ_r a_r relu(w_rᵀx) with W (m, d) and a (m,) ∈ {±1}^m.

    Validates itself on construction (finite W, matching shapes, a_r = ±1) and stores
    read-only copies, so a network is an immutable value.
    """

    W: FloatArray
    a: FloatArray

    def __post_init__(self) -> None:
        W = np.ascontiguousarray(checks.as_matrix(self.W, "W"))
        a = checks.as_vector(self.a, "a", W.shape[0])
        if not np.all(np.abs(a) == 1.0):
            raise InputError("a must have entries +1 or -1 (the fixed output layer)")
        W.flags.writeable = False
        a.flags.writeable = False
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "a", a)

    @property
    def width(self) -> int:
        """m, the number of hidden neurons."""
        return int(self.W.shape[0])

    @property
    def dim(self) -> int:
        """d, the input dimension."""
        return int(self.W.shape[1])

    def __call__(self, X: ArrayLike) -> FloatArray:
        return predict(self, X)


def init_network(width: int, d: int, rng: RngLike, *, symmetric: bool = True) -> TwoLayerNet:
    """A network of width m = ``width`` on R^d with w_r ~ N(0, I_d) and a_r uniform on {±1}.

    ``symmetric=True`` draws m/2 pairs (w_r, a_r), (w_r, −a_r) so that f ≡ 0 (up to rounding)
    at initialisation (``width`` must then be even); otherwise all m neurons are independent.
    """
    m = checks.positive_int(width, "width")
    d = checks.positive_int(d, "d")
    symmetric = _flag(symmetric, "symmetric")
    _bounded(m * d, f"width={m} x d={d}")
    gen = as_generator(rng)
    if symmetric:
        if m % 2:
            raise InputError(f"width must be even when symmetric=True (neuron pairs), got {m}")
        W = gen.standard_normal((m // 2, d))
        a = gen.choice(np.array([-1.0, 1.0]), size=m // 2)
        return TwoLayerNet(np.vstack([W, W]), np.concatenate([a, -a]))
    return TwoLayerNet(gen.standard_normal((m, d)), gen.choice(np.array([-1.0, 1.0]), size=m))


def _inputs(net: TwoLayerNet, X: ArrayLike, name: str = "X") -> FloatArray:
    Xa = checks.as_matrix(X, name)
    if Xa.shape[1] != net.dim:
        raise InputError(f"{name} must have {net.dim} columns to match the network, got {Xa.shape}")
    return Xa


def _forward(Wt: FloatArray, a: FloatArray, X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(outputs f(X), pre-activations XWᵀ) from the C-contiguous transpose Wt = Wᵀ (d, m).

    The contiguous (d, m) layout keeps OpenBLAS on its fast path for thin products; with a
    transposed view it may start threads for tiny problems, which stalls on a busy machine.
    """
    pre = X @ Wt
    return np.maximum(pre, 0.0) @ a / np.sqrt(Wt.shape[1]), pre


def _transpose(W: FloatArray) -> FloatArray:
    return np.ascontiguousarray(W.T)


def predict(net: TwoLayerNet, X: ArrayLike) -> FloatArray:
    """f(x_i) for the rows of X (n, d): shape (n,).

    f(cX; bW) = cb·f(X; W) for c, b > 0: computed at unit-scale X and W and scaled back, so
    X or W of any finite magnitude works; outputs beyond float64 raise InputError."""
    Xu, ex = _unit(_inputs(net, X))
    Wu, ew = _unit(net.W)
    out = _forward(_transpose(Wu), net.a, Xu)[0]
    return _scaled_back([(out, ex + ew)], "the network's outputs f(X) (of X and W)")


def _loss_grad(
    Wt: FloatArray, a: FloatArray, X: FloatArray, Xt: FloatArray, y: FloatArray
) -> tuple[float, FloatArray, FloatArray, FloatArray]:
    """(L, ∇_{Wᵀ} L (d, m), residual f(X) − y, pre-activations) for L = (1/2n)‖f(X) − y‖²;
    Xt is Xᵀ (d, n), C-contiguous."""
    n, m = X.shape[0], Wt.shape[1]
    out, pre = _forward(Wt, a, X)
    res = out - y
    # ∂L/∂w_r = (1/n) Σ_i res_i (a_r/√m) 1{w_rᵀx_i ≥ 0} x_i
    masked = (pre >= 0.0) * res[:, None]
    grad = (Xt @ masked) * (a / (n * np.sqrt(m)))
    return 0.5 * float(res @ res) / n, grad, res, pre


def _data_first(
    X: ArrayLike, y: ArrayLike, net: TwoLayerNet, func: str, name: str
) -> tuple[ArrayLike, ArrayLike, TwoLayerNet]:
    """(X, y, network) of a call. The old layout ``func(network, X, y)`` (a
    :class:`TwoLayerNet` first) is unambiguous by type: it emits a DeprecationWarning and is
    swapped (until finetune-theory 0.2.0). Otherwise the network argument ``name`` must be a
    TwoLayerNet."""
    first: object = X
    if isinstance(first, TwoLayerNet):
        warn_old_layout(f"numeric.relu_ntk.{func}", f"{name}, X, y", f"X, y, {name}")
        return y, cast(ArrayLike, net), first
    if not isinstance(net, TwoLayerNet):
        raise InputError(
            f"{name} must be a TwoLayerNet (the order is {func}(X, y, {name})), "
            f"got {type(net).__name__}"
        )
    return X, y, net


def loss_gradient(X: ArrayLike, y: ArrayLike, net: TwoLayerNet) -> tuple[float, FloatArray]:
    """(L(W), ∇_W L(W)) for L(W) = (1/2n)‖f(X) − y‖²; the gradient has the shape of W (m, d).

    Data first: X (n, d), y (n,), then the network ``net`` (the old order
    ``loss_gradient(net, X, y)`` still works until finetune-theory 0.2.0 with a
    DeprecationWarning). ReLU's derivative at 0 is taken as 1 (the indicator 1{wᵀx ≥ 0} of
    the NTK). Computed on (X, y)·2^-e with X·2^-e of unit scale (f is 1-homogeneous in X,
    so L and ∇L scale by 4^-e exactly) and scaled back; a loss or gradient beyond float64
    raises InputError.
    """
    X, y, net = _data_first(X, y, net, "loss_gradient", "net")
    Xa, ya = checks.design_and_labels(_inputs(net, X), y)
    Xu, e = _unit(Xa)
    yu = _scaled_back([(ya, -e)], "y relative to the scale of X", underflow=False)
    with np.errstate(over="ignore", invalid="ignore"):
        value, grad, _, _ = _loss_grad(_transpose(net.W), net.a, Xu, _transpose(Xu), yu)
    if not (math.isfinite(value) and np.all(np.isfinite(grad))):
        raise InputError(
            "the loss (1/2n)|f(X) - y|^2 overflows float64: the network's outputs or y are "
            "too large"
        )
    what = "the loss (1/2n)|f(X) - y|^2 of X, y and the network"
    return _scalar_back(value, 2 * e, what), _scaled_back(
        [(_transpose(grad), 2 * e)], "its gradient in W", underflow=False
    )


def empirical_ntk(
    net: TwoLayerNet, X: ArrayLike, Z: ArrayLike | None = None, *, layers: Layers = "first"
) -> FloatArray:
    """The NTK Gram matrix of ``net``: ⟨∇f(x_i), ∇f(z_j)⟩, shape (n, n_z) (Z defaults to X).

    ``layers="first"`` (only W trained): (1/m) Σ_r a_r² x_iᵀz_j 1{w_rᵀx_i ≥ 0}1{w_rᵀz_j ≥ 0}
    = (XZᵀ) ⊙ (A_X A_Zᵀ)/m, with A the 0/1 activation pattern (a_r² = 1).
    ``layers="both"`` adds the output-layer part (1/m) Σ_r relu(w_rᵀx_i) relu(w_rᵀz_j).
    Vectorised: two (n, m)·(m, n_z) products; m = 10⁴, n = 200, d = 50 takes ~0.1 s
    (benchmarks/bench_relu_ntk.py).
    """
    Xa, ex = _unit(_inputs(net, X))  # exact power-of-two rescaling (see the module notes)
    Za, ez = (Xa, ex) if Z is None else _unit(_inputs(net, Z, "Z"))
    kind = _layers(layers)
    m = net.width
    Wu, ew = _unit(net.W)
    Wt = _transpose(Wu)
    px = Xa @ Wt
    pz = px if Z is None else Za @ Wt
    ax = (px >= 0.0).astype(np.float64)
    az = ax if Z is None else (pz >= 0.0).astype(np.float64)
    gram = (Xa @ Za.T) * (ax @ az.T) / m
    terms = [(gram, ex + ez)]  # the first layer: degree 1 in X and in Z, 0 in W
    if kind == "both":
        terms.append((np.maximum(px, 0.0) @ np.maximum(pz, 0.0).T / m, ex + ez + 2 * ew))
    return _scaled_back(terms, "the NTK Gram matrix of X" + ("" if Z is None else " and Z"))


def stability_limit(net: TwoLayerNet, X: ArrayLike) -> float:
    """2n/λ_max(K(W)): GD on (1/2n)‖f(X) − y‖² is locally stable for steps below it.

    K is :func:`empirical_ntk` (first layer) at the network's current weights; K is
    homogeneous of degree 2 in X (and independent of W's scale), so the limit is computed at
    unit-scale X and scaled by 4^-e; a limit beyond float64 raises InputError naming X.
    """
    Xu, e = _unit(_inputs(net, X))
    return _scalar_back(
        _unit_stability_limit(net, Xu), -2 * e, "the stability limit 2n/lambda_max(K) of X"
    )


def _unit_stability_limit(net: TwoLayerNet, Xa: FloatArray) -> float:
    """2n/λ_max(K) for a validated X (of unit scale, so that K is O(1))."""
    top = float(np.linalg.eigvalsh(empirical_ntk(net, Xa))[-1])
    if top <= 0.0:
        raise InputError(
            "the empirical NTK Gram matrix is zero (no neuron is active on X): the loss is "
            "flat in W and no step size is defined"
        )
    return 2.0 * float(Xa.shape[0]) / top


@dataclass(frozen=True)
class MonteCarloGram:
    """A Monte Carlo estimate of a Gram matrix: entrywise ``mean`` and standard error
    ``stderr`` = s/√M (float64 ndarrays) over ``samples`` = M (a Python int) independent
    draws of w ~ N(0, I_d)."""

    mean: FloatArray
    stderr: FloatArray
    samples: int

    def __post_init__(self) -> None:
        set_field(self, "mean", float_array(self.mean))
        set_field(self, "stderr", float_array(self.stderr))
        set_field(self, "samples", int(self.samples))


def monte_carlo_gram(
    X: ArrayLike,
    samples: int,
    rng: RngLike,
    *,
    Z: ArrayLike | None = None,
    layers: Layers = "first",
    batch: int = 4096,
) -> MonteCarloGram:
    """Estimate H^∞_ij = E_w[x_iᵀz_j 1{wᵀx_i ≥ 0, wᵀz_j ≥ 0}] from M = ``samples`` draws.

    ``layers="both"`` estimates the full two-layer NTK, adding relu(wᵀx_i) relu(wᵀz_j).
    Accumulates the sums of the per-draw terms and of their squares in batches of
    ``batch`` draws (memory O(batch·(n + n_z))); the standard error uses the unbiased
    sample variance. X (n, d), Z (n_z, d) default X; any non-zero rows (unit norm is not
    needed for the expectation itself). Every term is homogeneous of degree 1 in X and in Z:
    computed at unit-scale X, Z (exact power-of-two rescaling) and scaled back, so the
    squares cannot over- or underflow; a Gram matrix beyond float64 raises InputError.
    At most 2^28 normal numbers are drawn (samples·d).
    """
    Xa = checks.as_matrix(X, "X")
    Za = Xa if Z is None else checks.as_matrix(Z, "Z")
    if Za.shape[1] != Xa.shape[1]:
        raise InputError(f"Z must have {Xa.shape[1]} columns to match X, got shape {Za.shape}")
    M = checks.positive_int(samples, "samples", minimum=2)
    b = checks.positive_int(batch, "batch")
    layers = _layers(layers)
    _bounded(M * Xa.shape[1], f"samples={M} x d={Xa.shape[1]} Monte Carlo draws")
    Xa, ex = _unit(Xa)
    Za, ez = (Xa, ex) if Z is None else _unit(Za)
    gen = as_generator(rng)
    u = Xa @ Za.T
    count = np.zeros_like(u)  # Σ_s 1{·}1{·}
    cross = np.zeros_like(u)  # Σ_s relu·relu
    fourth = np.zeros_like(u)  # Σ_s relu²·relu²
    done = 0
    while done < M:
        size = min(b, M - done)
        wt = gen.standard_normal((Xa.shape[1], size))  # columns are the draws w_s
        px, pz = Xa @ wt, Za @ wt
        ax, az = (px >= 0.0).astype(np.float64), (pz >= 0.0).astype(np.float64)
        count += ax @ az.T
        if layers == "both":
            rx, rz = np.maximum(px, 0.0), np.maximum(pz, 0.0)
            cross += rx @ rz.T
            fourth += (rx * rx) @ (rz * rz).T
        done += size
    # Per-draw term t = u·1·1 (+ relu·relu); Σt² = u²Σ1·1 (+ 2uΣrelu·relu + Σrelu²relu²),
    # since 1{z ≥ 0}·relu(z) = relu(z).
    total = u * count + cross
    squares = u * u * count + (2.0 * u * cross + fourth if layers == "both" else 0.0)
    mean = total / M
    var = np.maximum(squares / M - mean * mean, 0.0) * M / (M - 1)
    stderr = np.asarray(np.sqrt(var / M), dtype=np.float64)
    what = "the Gram matrix of X" + ("" if Z is None else " and Z")
    return MonteCarloGram(
        _scaled_back([(np.asarray(mean, dtype=np.float64), ex + ez)], what),
        _scaled_back([(stderr, ex + ez)], f"the standard error of {what}", underflow=False),
        M,
    )


@dataclass(frozen=True)
class TrainResult:
    """Outcome of full-batch gradient descent on (1/2n)‖f(X) − y‖².

    ``network``: final weights; ``initial``: the starting network; ``steps``: iterations
    taken; ``converged``: the residual tolerance was met; ``loss_history``: L at steps
    0 … steps (shape (steps+1,)); ``step``: η used; ``residual_norm``: final ‖f(X) − y‖.
    ``steps`` is a Python int, ``converged`` a bool, ``step`` and ``residual_norm`` floats,
    ``loss_history`` a float64 ndarray.
    """

    network: TwoLayerNet
    initial: TwoLayerNet
    steps: int
    converged: bool
    loss_history: FloatArray
    step: float
    residual_norm: float

    def __post_init__(self) -> None:
        set_field(self, "steps", int(self.steps))
        set_field(self, "converged", bool(self.converged))
        set_field(self, "loss_history", float_array(self.loss_history))
        set_field(self, "step", float(self.step))
        set_field(self, "residual_norm", float(self.residual_norm))

    @property
    def distance(self) -> float:
        """‖W − W₀‖_F, the distance the weights travelled."""
        return float(np.linalg.norm(self.network.W - self.initial.W))


def _gradient_descent(
    net: TwoLayerNet,
    X: ArrayLike,
    y: ArrayLike,
    step: float | None,
    rtol: float,
    max_steps: int,
    strict: bool,
    *,
    x_name: str = "X",
    y_name: str = "y",
) -> TrainResult:
    """GD on (1/2n)‖f(X) − y‖²; ``x_name``/``y_name`` are what the caller calls X and y.

    Runs on the exactly rescaled problem (X, y)·2^-e with X·2^-e of unit scale: f is
    1-homogeneous in X, so residuals scale by 2^-e, loss and gradient by 4^-e and the
    stability limit by 4^e; with the step η·4^e the same weights W_k are visited (bit for bit
    at ordinary scales). Loss, step and residual are reported in the caller's units; one
    beyond float64 raises InputError naming the inputs.
    """
    Xa, ya = checks.design_and_labels(_inputs(net, X, x_name), y)
    r, k_max = checks.rtol_and_budget(rtol, max_steps)
    strict = _flag(strict, "strict")
    Xa, e = _unit(Xa)
    ya = _scaled_back([(ya, -e)], f"{y_name} relative to the scale of {x_name}", underflow=False)
    limit = _unit_stability_limit(net, Xa)
    with np.errstate(over="ignore", under="ignore"):
        user_limit = float(np.ldexp(limit, -2 * e))  # for the message only
    if step is None:
        eta = 0.5 * limit
        user_step = _scalar_back(eta, -2 * e, f"the default step n/lambda_max(K) of {x_name}")
    else:
        user_step = checks.positive(step, "step")
        with np.errstate(over="ignore", under="ignore"):
            eta = float(np.ldexp(user_step, 2 * e))
        if eta >= limit:
            raise InputError(
                f"step must be below the stability limit 2n/lambda_max(K) = {user_limit:.6g} "
                f"(K the empirical NTK at the starting weights), got {step!r}"
            )
    Wt, a, Xt = np.array(net.W.T, order="C", copy=True), net.a, _transpose(Xa)
    sqrt_m = np.sqrt(Wt.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        value, grad, res, pre = _loss_grad(Wt, a, Xa, Xt, ya)
    start = f"the loss (1/2n)|f({x_name}) - {y_name}|^2 at the start (network outputs and labels)"
    if not np.isfinite(value):
        raise InputError(f"{start} overflows float64; rescale the inputs")
    _scalar_back(value, 2 * e, start, underflow=False)
    r0 = float(np.linalg.norm(res))
    history = [value]
    steps = 0
    while True:
        scale = np.maximum(pre, 0.0).sum(axis=1) / sqrt_m + np.abs(ya)
        floor = _ROUNDING_FLOOR * float(np.linalg.norm(scale))
        rnorm = float(np.linalg.norm(res))
        converged = rnorm <= max(r * r0, floor)
        if converged or steps >= k_max:
            break
        Wt -= eta * grad
        steps += 1
        with np.errstate(over="ignore", invalid="ignore"):
            value, grad, res, pre = _loss_grad(Wt, a, Xa, Xt, ya)
        if not (np.isfinite(value) and np.all(np.isfinite(Wt))):
            raise ConvergenceError(
                f"gradient descent diverged at step {steps} (the loss became non-finite); "
                "use a smaller step"
            )
        history.append(value)
    try:
        losses = _scaled_back([(np.asarray(history, dtype=np.float64), 2 * e)], "the loss")
    except InputError as exc:
        raise ConvergenceError(
            f"the loss grew beyond float64 during gradient descent ({exc}); use a smaller step"
        ) from None
    result = TrainResult(
        network=TwoLayerNet(Wt.T, a),
        initial=net,
        steps=steps,
        converged=converged,
        loss_history=losses,
        step=user_step,
        residual_norm=_scalar_back(rnorm, e, "the residual norm", underflow=False),
    )
    if strict and not converged:
        raise ConvergenceError(
            f"gradient descent did not converge in max_steps={k_max}: relative residual "
            f"{rnorm / max(r0, 1e-300):.3g} > rtol={r:.3g}; raise max_steps or pass strict=False"
        )
    return result


def fine_tune(
    X: ArrayLike,
    y: ArrayLike,
    network: TwoLayerNet,
    *,
    step: float | None = None,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    strict: bool = True,
) -> TrainResult:
    """Full-batch gradient descent on L(W) = (1/2n)‖f(X) − y‖² started at ``network``.

    W_{k+1} = W_k − η∇L(W_k); a stays fixed. Data first: X (n, d), y (n,), then the
    starting ``network`` (the old order ``fine_tune(network, X, y)`` still works until
    finetune-theory 0.2.0 with a DeprecationWarning). ``step`` η defaults to
    n/λ_max(K(W₀)) and must be below 2n/λ_max(K(W₀)); stop when
    ‖f(X) − y‖ ≤ rtol·‖f₀(X) − y‖ (or the rounding floor); ``max_steps`` budget;
    ``strict``: raise :class:`ConvergenceError` when the budget runs out (otherwise return
    with ``converged`` False — pass a tiny rtol and strict=False to run exactly max_steps).
    """
    X, y, network = _data_first(X, y, network, "fine_tune", "network")
    return _gradient_descent(network, X, y, step, rtol, max_steps, strict)


def pretrain(
    X_source: ArrayLike,
    theta_s: ArrayLike,
    width: int,
    rng: RngLike,
    *,
    symmetric: bool = True,
    step: float | None = None,
    rtol: float = 1e-6,
    max_steps: int = DEFAULT_MAX_STEPS,
    strict: bool = True,
) -> TrainResult:
    """Source pretraining: train a fresh network (:func:`init_network`, seeded by ``rng``)
    by gradient descent on the linear source teacher, labels X_source θ_S.

    The default ``rtol`` 1e-6 fits the source data closely while the weights stay in the
    NTK neighbourhood of initialisation (they move by ≈ sqrt(yᵀK⁻¹y) ≤ 2‖θ_S‖ in Frobenius
    norm, O(1/√m) per neuron).
    """
    Xs = checks.as_matrix(X_source, "X_source")
    ts = checks.as_vector(theta_s, "theta_s", Xs.shape[1])
    checks.rtol_and_budget(rtol, max_steps)  # refuse bad settings before drawing weights
    _flag(strict, "strict")
    net = init_network(width, Xs.shape[1], rng, symmetric=symmetric)
    with np.errstate(over="ignore", invalid="ignore"):
        ys = Xs @ ts
    if not np.all(np.isfinite(ys)):
        raise InputError(
            "the labels X_source theta_s overflow float64; rescale X_source or theta_s"
        )
    return _gradient_descent(
        net, Xs, ys, step, rtol, max_steps, strict, x_name="X_source", y_name="X_source theta_s"
    )


@dataclass(frozen=True)
class TransferRun:
    """Source pretraining followed by fine-tuning on the target task.

    ``source``: the pretraining run (its ``network`` is the source network f_S);
    ``target``: fine-tuning from f_S on (X, y); the data and teachers that produced them.
    """

    source: TrainResult
    target: TrainResult
    X_source: FloatArray
    X: FloatArray
    y: FloatArray
    theta_s: FloatArray
    theta_t: FloatArray

    def __post_init__(self) -> None:
        for name in ("X_source", "X", "y", "theta_s", "theta_t"):
            set_field(self, name, float_array(getattr(self, name)))

    @property
    def source_network(self) -> TwoLayerNet:
        return self.source.network

    @property
    def finetuned_network(self) -> TwoLayerNet:
        return self.target.network


def transfer(
    X_source: ArrayLike,
    theta_s: ArrayLike,
    X: ArrayLike,
    theta_t: ArrayLike,
    width: int,
    rng: RngLike,
    *,
    noise_std: float = 0.0,
    symmetric: bool = True,
    source_rtol: float = 1e-6,
    source_max_steps: int = DEFAULT_MAX_STEPS,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    strict: bool = True,
) -> TransferRun:
    """Pretrain on (X_source, X_source θ_S), then fine-tune on the target (X, Xθ_T + ξ).

    ``rng`` seeds the initialisation and then the label noise ξ ~ N(0, noise_std²); the
    same seed gives the same networks. Both stages are full-batch gradient descent with the
    default step (see :func:`fine_tune`); the frozen :class:`TransferRun` keeps both runs.
    """
    Xs = checks.as_matrix(X_source, "X_source")
    Xt = checks.as_matrix(X, "X")
    ts = checks.as_vector(theta_s, "theta_s", Xs.shape[1])
    tt = checks.as_vector(theta_t, "theta_t", Xs.shape[1])
    if Xt.shape[1] != Xs.shape[1]:
        raise InputError(f"X must have {Xs.shape[1]} columns to match X_source, got {Xt.shape}")
    checks.nonnegative(noise_std, "noise_std")  # refuse bad settings before any training
    checks.rtol_and_budget(rtol, max_steps)
    _flag(strict, "strict")
    gen = as_generator(rng)
    source = pretrain(
        Xs,
        ts,
        width,
        gen,
        symmetric=symmetric,
        rtol=source_rtol,
        max_steps=source_max_steps,
        strict=strict,
    )
    y = labels(Xt, tt, noise_std, gen)
    target = _gradient_descent(
        source.network, Xt, y, None, rtol, max_steps, strict, y_name="X theta_t + noise"
    )
    return TransferRun(source, target, Xs, Xt, y, ts, tt)


def population_risk_mc(
    network: TwoLayerNet, theta_t: ArrayLike, rng: RngLike, n_test: int = 20_000
) -> MonteCarloEstimate:
    """E_x[(f(x) − θ_Tᵀx)²] for x uniform on the unit sphere, over ``n_test`` fresh points.

    The excess risk of the network against the linear target teacher (label noise not
    included); the standard error is s/√n_test. The squares are taken of the errors rescaled
    by a power of two (exact), so a risk anywhere in float64's range is computed; one beyond
    it raises InputError.
    """
    tt = checks.as_vector(theta_t, "theta_t", network.dim)
    m = checks.positive_int(n_test, "n_test", minimum=2)
    _bounded(m * network.dim, f"n_test={m} x d={network.dim} test points")
    x = sample_sphere(m, network.dim, rng)
    with np.errstate(over="ignore", invalid="ignore"):
        err = predict(network, x) - x @ tt
    if not np.all(np.isfinite(err)):
        raise InputError(
            "the errors f(x) - theta_t.x overflow float64; rescale theta_t or the network"
        )
    err, e = _unit(err)
    sq = err * err
    what = "the risk E(f(x) - theta_t.x)^2 of the network and theta_t"
    risk = _scalar_back(float(sq.mean()), 2 * e, what)
    stderr = _scalar_back(float(sq.std(ddof=1) / np.sqrt(m)), 2 * e, what, underflow=False)
    return MonteCarloEstimate(risk, stderr, m)
