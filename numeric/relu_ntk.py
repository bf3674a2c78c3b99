"""Finite-width two-layer ReLU networks, actually trained by gradient descent (THEORY.md §3).

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import ConvergenceError, InputError
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
    """f(x_i) for the rows of X (n, d): shape (n,)."""
    return np.asarray(_forward(_transpose(net.W), net.a, _inputs(net, X))[0], dtype=np.float64)


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


def loss_gradient(net: TwoLayerNet, X: ArrayLike, y: ArrayLike) -> tuple[float, FloatArray]:
    """(L(W), ∇_W L(W)) for L(W) = (1/2n)‖f(X) − y‖²; the gradient has the shape of W (m, d).

    ReLU's derivative at 0 is taken as 1 (the indicator 1{wᵀx ≥ 0} of the NTK).
    """
    Xa, ya = checks.design_and_labels(_inputs(net, X), y)
    value, grad, _, _ = _loss_grad(_transpose(net.W), net.a, Xa, _transpose(Xa), ya)
    return value, _transpose(grad)


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
    Xa = _inputs(net, X)
    Za = Xa if Z is None else _inputs(net, Z, "Z")
    if layers not in ("first", "both"):
        raise InputError(f"layers must be 'first' (W trained) or 'both' (W and a), got {layers!r}")
    m = net.width
    Wt = _transpose(net.W)
    px = Xa @ Wt
    pz = px if Z is None else Za @ Wt
    ax = (px >= 0.0).astype(np.float64)
    az = ax if Z is None else (pz >= 0.0).astype(np.float64)
    gram = (Xa @ Za.T) * (ax @ az.T) / m
    if layers == "both":
        gram += np.maximum(px, 0.0) @ np.maximum(pz, 0.0).T / m
    return np.asarray(gram, dtype=np.float64)


def stability_limit(net: TwoLayerNet, X: ArrayLike) -> float:
    """2n/λ_max(K(W)): GD on (1/2n)‖f(X) − y‖² is locally stable for steps below it.

    K is :func:`empirical_ntk` (first layer) at the network's current weights.
    """
    Xa = _inputs(net, X)
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
    ``stderr`` = s/√M over ``samples`` = M independent draws of w ~ N(0, I_d)."""

    mean: FloatArray
    stderr: FloatArray
    samples: int


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
    needed for the expectation itself).
    """
    Xa = checks.as_matrix(X, "X")
    Za = Xa if Z is None else checks.as_matrix(Z, "Z")
    if Za.shape[1] != Xa.shape[1]:
        raise InputError(f"Z must have {Xa.shape[1]} columns to match X, got shape {Za.shape}")
    M = checks.positive_int(samples, "samples", minimum=2)
    b = checks.positive_int(batch, "batch")
    if layers not in ("first", "both"):
        raise InputError(f"layers must be 'first' (W trained) or 'both' (W and a), got {layers!r}")
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
    return MonteCarloGram(
        np.asarray(mean, dtype=np.float64), np.asarray(np.sqrt(var / M), dtype=np.float64), M
    )


@dataclass(frozen=True)
class TrainResult:
    """Outcome of full-batch gradient descent on (1/2n)‖f(X) − y‖².

    ``network``: final weights; ``initial``: the starting network; ``steps``: iterations
    taken; ``converged``: the residual tolerance was met; ``loss_history``: L at steps
    0 … steps (shape (steps+1,)); ``step``: η used; ``residual_norm``: final ‖f(X) − y‖.
    """

    network: TwoLayerNet
    initial: TwoLayerNet
    steps: int
    converged: bool
    loss_history: FloatArray
    step: float
    residual_norm: float

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
) -> TrainResult:
    Xa, ya = checks.design_and_labels(_inputs(net, X), y)
    r, k_max = checks.rtol_and_budget(rtol, max_steps)
    limit = stability_limit(net, Xa)
    if step is None:
        eta = 0.5 * limit
    else:
        eta = checks.positive(step, "step")
        if eta >= limit:
            raise InputError(
                f"step must be below the stability limit 2n/lambda_max(K) = {limit:.6g} "
                f"(K the empirical NTK at the starting weights), got {step!r}"
            )
    Wt, a, Xt = np.array(net.W.T, order="C", copy=True), net.a, _transpose(Xa)
    sqrt_m = np.sqrt(Wt.shape[1])
    value, grad, res, pre = _loss_grad(Wt, a, Xa, Xt, ya)
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
        value, grad, res, pre = _loss_grad(Wt, a, Xa, Xt, ya)
        if not np.isfinite(value):
            raise ConvergenceError("gradient descent diverged (loss became non-finite)")
        history.append(value)
    result = TrainResult(
        network=TwoLayerNet(Wt.T, a),
        initial=net,
        steps=steps,
        converged=converged,
        loss_history=np.asarray(history, dtype=np.float64),
        step=float(eta),
        residual_norm=rnorm,
    )
    if strict and not converged:
        raise ConvergenceError(
            f"gradient descent did not converge in max_steps={k_max}: relative residual "
            f"{rnorm / max(r0, 1e-300):.3g} > rtol={r:.3g}; raise max_steps or pass strict=False"
        )
    return result


def fine_tune(
    network: TwoLayerNet,
    X: ArrayLike,
    y: ArrayLike,
    *,
    step: float | None = None,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    strict: bool = True,
) -> TrainResult:
    """Full-batch gradient descent on L(W) = (1/2n)‖f(X) − y‖² started at ``network``.

    W_{k+1} = W_k − η∇L(W_k); a stays fixed. X (n, d), y (n,). ``step`` η defaults to
    n/λ_max(K(W₀)) and must be below 2n/λ_max(K(W₀)); stop when
    ‖f(X) − y‖ ≤ rtol·‖f₀(X) − y‖ (or the rounding floor); ``max_steps`` budget;
    ``strict``: raise :class:`ConvergenceError` when the budget runs out (otherwise return
    with ``converged`` False — pass a tiny rtol and strict=False to run exactly max_steps).
    """
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
    net = init_network(width, Xs.shape[1], rng, symmetric=symmetric)
    return _gradient_descent(net, Xs, Xs @ ts, step, rtol, max_steps, strict)


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
    target = _gradient_descent(source.network, Xt, y, None, rtol, max_steps, strict)
    return TransferRun(source, target, Xs, Xt, y, ts, tt)


def population_risk_mc(
    network: TwoLayerNet, theta_t: ArrayLike, rng: RngLike, n_test: int = 20_000
) -> MonteCarloEstimate:
    """E_x[(f(x) − θ_Tᵀx)²] for x uniform on the unit sphere, over ``n_test`` fresh points.

    The excess risk of the network against the linear target teacher (label noise not
    included); the standard error is s/√n_test.
    """
    tt = checks.as_vector(theta_t, "theta_t", network.dim)
    m = checks.positive_int(n_test, "n_test", minimum=2)
    x = sample_sphere(m, network.dim, rng)
    err = predict(network, x) - x @ tt
    sq = err * err
    return MonteCarloEstimate(float(sq.mean()), float(sq.std(ddof=1) / np.sqrt(m)), m)
