"""Gradient-flow systems for deep linear chains and an adaptive integration driver.

Private helpers of :mod:`numeric.deep_linear`. Two ODE systems ż = −∇L(z) are offered, both
gradient flow on **layer parameters** (never a closed form):

* :class:`ReducedSystem` — the width-one chain. Gradient flow from rank-one weights
  W_1 = v_1uᵀ, W_j = σ_j v_j v_{j−1}ᵀ (fixed unit v_j, v_N = [1]) stays on that set: with
  p = σ_2⋯σ_N and g = ∇L(w) = (1/n)Xᵀ(Xw − y), w = p·u, the full gradients are
  ∂L/∂W_1 = v_1(p g)ᵀ and ∂L/∂W_j = (p/σ_j)(uᵀg)·v_jv_{j−1}ᵀ — tangent to the set, and the
  maps u ↦ v_1uᵀ, σ_j ↦ σ_jv_jv_{j−1}ᵀ are isometries (‖v_jv_{j−1}ᵀ‖_F = 1). So the full
  flow is the embedding of gradient flow on (u, σ_2, …, σ_N). Further, u̇ = −p g lies in the
  row space of X, so with the thin SVD X = U S Vᵀ (rank r) u = c + V b with c = (I − P)u
  constant, and L = (1/2n)‖p S b − Uᵀy‖² + (1/2n)‖(I − UUᵀ)y‖²: the state is z = (b, σ) of
  size r + N − 1, an orthonormal change of coordinates (the flow is unchanged by it). Its
  Hessian is small and analytic, so stiff (implicit) integrators are cheap.
* :class:`FullSystem` — every trainable layer matrix, flattened; gradients from the
  factored rank-one pass of :mod:`numeric.deep_linear`.

Both report the Newton-step distance ‖X⁺(Xw − y)‖ = ‖Pw − X⁺y‖: the distance of the row-space
part of w from its limit X⁺y (P = X⁺X), used by the stopping rule.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.integrate import DOP853, Radau

from finetune_theory.checks import FloatArray
from finetune_theory.scaling import safe_norm

EPS = float(np.finfo(np.float64).eps)
#: Smallest positive normal float64: the guard against division by zero in relative measures.
TINY = float(np.finfo(np.float64).tiny)
#: Steps without the distance halving after which a run counts as stalled (see integrate).
STALL_STEPS = 500
#: ... counted only once the relative distance is below this (near the limit, where noise
#: floors live; far from it a slow transient, e.g. a saddle escape, is progress).
STALL_BELOW = 1e-3

GradPass = Callable[
    [tuple[FloatArray, ...], FloatArray, FloatArray, Sequence[bool]],
    tuple[list[tuple[FloatArray, FloatArray] | None], FloatArray, float, FloatArray],
]


@dataclass(frozen=True)
class Design:
    """One-off thin SVD of X = U S Vᵀ restricted to its numerical rank r.

    ``S`` (r,), ``Vt`` (r, d), ``yt`` = Uᵀy (r,), ``y_perp_sq`` = ‖y‖² − ‖Uᵀy‖² (the loss
    floor ×2n), ``n``. Singular values below max(n, d)·ε·s_max count as zero.
    """

    U: FloatArray
    S: FloatArray
    Vt: FloatArray
    yt: FloatArray
    y_perp_sq: float
    n: int

    @staticmethod
    def of(X: FloatArray, y: FloatArray) -> Design:
        U, S, Vt = np.linalg.svd(X, full_matrices=False)
        keep = S[0] * max(X.shape) * EPS < S
        U, S, Vt = U[:, keep], S[keep], Vt[keep]
        yt = U.T @ y
        return Design(U, S, Vt, yt, max(float(y @ y - yt @ yt), 0.0), X.shape[0])

    @property
    def kappa(self) -> float:
        """κ(XXᵀ) on the row space: (s_max/s_min)²."""
        return float((self.S[0] / self.S[-1]) ** 2)

    def newton_distance(self, X: FloatArray, w: FloatArray, y: FloatArray) -> float:
        """‖X⁺(Xw − y)‖ = ‖S⁻¹Uᵀ(Xw − y)‖."""
        return safe_norm((self.U.T @ (X @ w - y)) / self.S)


def _products(sg: FloatArray) -> tuple[float, FloatArray]:
    """(p = Π σ_i, π_j = Π_{i≠j} σ_i) without division (prefix × suffix products)."""
    k = sg.shape[0]
    if k == 0:
        return 1.0, np.zeros(0)
    pre = np.ones(k)
    suf = np.ones(k)
    if k > 1:
        pre[1:] = np.cumprod(sg[:-1])
        suf[:-1] = np.cumprod(sg[::-1][:-1])[::-1]
    return float(pre[-1] * sg[-1]), pre * suf


class ReducedSystem:
    """Gradient flow of the width-one chain in row-space coordinates z = (b, σ_2, …, σ_N).

    w = p(c + Vb), e = pSb − Uᵀy, L = (‖e‖² + ‖y_⊥‖²)/2n;
    ∂L/∂b = (p/n)S e, ∂L/∂σ_j = (π_j/n) qᵀe with q = S b, π_j = Π_{i≠j}σ_i.
    ``mask`` = (trainable W_1, trainable W_2, …): frozen parameters have zero velocity.
    """

    def __init__(
        self, u: FloatArray, sigmas: FloatArray, design: Design, mask: Sequence[bool]
    ) -> None:
        self.design = design
        self.r = design.S.shape[0]
        b0 = design.Vt @ u
        # c = (I − P)u: exactly 0 when X has full column rank (P = I); computing it as
        # u − VVᵀu would leave a rounding-level null part ~ε‖u‖ that the relative stopping
        # rule would then measure against (a θ_S of norm 1e-201 "converged" at ‖w‖ ~ 1e-18).
        self.c = np.zeros_like(u) if self.r == u.shape[0] else u - design.Vt.T @ b0
        self.c_norm = safe_norm(self.c)
        self.z0 = np.concatenate([b0, np.asarray(sigmas, dtype=np.float64)])
        self.free = np.concatenate(
            [np.full(self.r, bool(mask[0])), np.asarray(mask[1:], dtype=bool)]
        ).astype(np.float64)
        self.all_free = bool(np.all(self.free))
        self.ystar = design.yt / design.S  # b-coordinates of X⁺y
        self.evals = 0

    def split(self, z: FloatArray) -> tuple[FloatArray, FloatArray]:
        return z[: self.r], z[self.r :]

    def rhs(self, t: float, z: FloatArray) -> FloatArray:
        """ż = −∇L(z) (frozen components 0)."""
        self.evals += 1
        b, sg = self.split(z)
        p, pi = _products(sg)
        S, n = self.design.S, self.design.n
        q = S * b
        e = p * q - self.design.yt
        out = np.empty_like(z)
        out[: self.r] = (-p / n) * (S * e)
        out[self.r :] = (-float(q @ e) / n) * pi
        return out if self.all_free else out * self.free

    def jac(self, t: float, z: FloatArray) -> FloatArray:
        """∂ż/∂z = −Hessian of L in (b, σ) (frozen rows 0).

        H_bb = (p²/n)S², H_bσ_j = (π_j/n) S(e + pq), H_σ_jσ_k = (π_jk qᵀe + π_jπ_k qᵀq)/n
        (π_jk = Π_{i≠j,k}σ_i, 0 on the diagonal).
        """
        b, sg = self.split(z)
        p, pi = _products(sg)
        S, n, r = self.design.S, self.design.n, self.r
        q = S * b
        e = p * q - self.design.yt
        k = sg.shape[0]
        H = np.zeros((r + k, r + k))
        H[np.arange(r), np.arange(r)] = p * p * S * S / n
        if k:
            cross = np.outer(S * (e + p * q), pi) / n
            H[:r, r:] = cross
            H[r:, :r] = cross.T
            pijk = np.zeros((k, k))
            for j in range(k):  # π_jk by explicit products: no division by a zero σ
                for m in range(j + 1, k):
                    pijk[j, m] = pijk[m, j] = math.prod(
                        float(sg[i]) for i in range(k) if i not in (j, m)
                    )
            H[r:, r:] = (pijk * float(q @ e) + np.outer(pi, pi) * float(q @ q)) / n
        J = -H
        return J if self.all_free else J * self.free[:, None]

    def curvature(self) -> float:
        """‖∇²L(z_0)‖_F ≥ λ_max(∇²L) at the start (the Hessian is (r + N − 1)²)."""
        return safe_norm(self.jac(0.0, self.z0))

    def monitor(self, z: FloatArray) -> tuple[float, float, float, float]:
        """(‖w‖, Newton distance ‖Pw − X⁺y‖, ‖∇L(w)‖, L(w))."""
        b, sg = self.split(z)
        p, _ = _products(sg)
        S, n = self.design.S, self.design.n
        e = p * (S * b) - self.design.yt
        wnorm = abs(p) * math.hypot(self.c_norm, safe_norm(b))
        loss = 0.5 * (float(e @ e) + self.design.y_perp_sq) / n
        return (
            wnorm,
            safe_norm(p * b - self.ystar),
            safe_norm(S * e) / n,
            loss,
        )

    def trainable_grad(self, z: FloatArray) -> float:
        """‖∂L/∂(trainable parameters)‖ (= that of the embedded full weights)."""
        return safe_norm(self.rhs(0.0, z))

    def chain(self, z: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(u, σ) of the width-one chain at state z."""
        b, sg = self.split(z)
        return self.c + self.design.Vt.T @ b, sg.copy()

    def end_to_end(self, z: FloatArray) -> FloatArray:
        u, sg = self.chain(z)
        return _products(sg)[0] * u


class FullSystem:
    """Gradient flow on the flattened trainable layer matrices (frozen ones held fixed)."""

    def __init__(
        self,
        weights: tuple[FloatArray, ...],
        X: FloatArray,
        y: FloatArray,
        mask: Sequence[bool],
        design: Design,
        grad_pass: GradPass,
    ) -> None:
        self.X, self.y, self.mask, self.design = X, y, list(mask), design
        self.base = tuple(np.array(W, dtype=np.float64, copy=True) for W in weights)
        self.shapes = [W.shape for W in weights]
        self.slices: list[slice | None] = []
        at = 0
        for W, m in zip(weights, self.mask, strict=True):
            if m:
                self.slices.append(slice(at, at + W.size))
                at += W.size
            else:
                self.slices.append(None)
        self.z0 = np.concatenate([W.ravel() for W, m in zip(weights, self.mask, strict=True) if m])
        self.all_free = all(self.mask)
        self.grad_pass = grad_pass
        self.evals = 0

    def weights(self, z: FloatArray) -> tuple[FloatArray, ...]:
        return tuple(
            W if sl is None else z[sl].reshape(shape)
            for W, sl, shape in zip(self.base, self.slices, self.shapes, strict=True)
        )

    def rhs(self, t: float, z: FloatArray) -> FloatArray:
        self.evals += 1
        factors = self.grad_pass(self.weights(z), self.X, self.y, self.mask)[0]
        out = np.empty_like(z)
        for f, sl, shape in zip(factors, self.slices, self.shapes, strict=True):
            if f is not None and sl is not None:
                np.multiply.outer(-f[0], f[1], out=out[sl].reshape(shape))
        return out

    def monitor(self, z: FloatArray) -> tuple[float, float, float, float]:
        _, w, loss, g = self.grad_pass(self.weights(z), self.X, self.y, [False] * len(self.mask))
        return (
            safe_norm(w),
            self.design.newton_distance(self.X, w, self.y),
            safe_norm(g),
            loss,
        )

    def trainable_grad(self, z: FloatArray) -> float:
        factors = self.grad_pass(self.weights(z), self.X, self.y, self.mask)[0]
        return safe_norm(
            np.array([safe_norm(f[0]) * safe_norm(f[1]) for f in factors if f is not None])
        )


System = ReducedSystem | FullSystem


@dataclass
class Run:
    """Outcome of :func:`integrate`: final state and the numbers the caller reports."""

    z: FloatArray
    t: float
    steps: int
    evals: int
    last_h: float
    converged: bool
    finished: bool  # reached the requested max_time
    losses: list[float]
    distance: float  # Newton distance / ‖w‖ at the end
    rel_grad: float
    reason: str  # why it stopped early ("" when converged or finished)
    seconds: float
    rate: float  # observed decay rate of the distance per unit time (nan if unknown)


def integrate(
    system: System,
    method: str,
    *,
    int_rtol: float,
    stop_distance: float,
    grad_rtol: float,
    grad_floor: float,
    max_steps: int,
    max_evals: int | None,
    max_seconds: float | None,
    horizon: float,
    distance_floor: Callable[[FloatArray], float],
    curvature: float,
    stall_accept: float = 0.1,
    shrink: float = 1.0,
) -> Run:
    """Integrate ż = −∇L adaptively (``method`` "dop853" or "radau") until the stopping rule.

    Stopping rule (all layers trainable): the relative Newton distance
    ‖X⁺(Xw − y)‖/‖w‖ ≤ ``stop_distance`` (or its rounding floor). With frozen layers the
    limit is not a zero of ∇L(w): the trainable-parameter gradient relative to its start must
    fall below ``grad_rtol`` (or ``grad_floor``). Error control: local error
    ≤ atol + int_rtol·|z| per component with atol = int_rtol·max|z_0|·``shrink``, where
    ``shrink`` ≤ 1 is the expected shrink factor of the parameters from start to limit (so the
    relative accuracy holds at the limit when w shrinks: ‖θ_S‖ = 100 fine-tuned to a target
    of norm 0.06 stalled at 8e-7 with atol scaled to the start only). An explicit method at
    its stability limit holds the solution ~7·int_rtol (relative) from equilibrium without
    converging further: if the distance (< STALL_BELOW) has not halved in STALL_STEPS steps,
    the run counts as converged when the distance ≤ stop_distance/``stall_accept`` (the target
    accuracy itself), else it stops
    with a "stalled" reason instead of spending the budget. With frozen layers the same rule
    watches the relative trainable gradient (accepted at ≤ grad_rtol/``stall_accept``): before,
    a frozen-layer run at an integrator tolerance above its gradient target spent its whole
    step budget (1e6 DOP853 steps, minutes) at the noise floor.
    """
    z0 = system.z0
    scale = max(float(np.max(np.abs(z0))) if z0.size else 1.0, TINY)
    atol = int_rtol * scale * min(max(shrink, 1e-12), 1.0)
    bound = horizon if math.isfinite(horizon) else np.inf
    start = time.perf_counter()
    # First step ≤ 1/λ̂ (λ̂ ≥ λ_max(∇²L) at z_0): scipy's own guess can overshoot by orders
    # of magnitude when the curvature is large (‖θ_S‖ ≫ 1), overflowing the first stages.
    cap = min(1.0 / max(curvature, TINY), horizon if math.isfinite(horizon) else np.inf)
    first = cap if math.isfinite(cap) else None
    if method == "radau":
        assert isinstance(system, ReducedSystem)
        solver: DOP853 | Radau = Radau(
            system.rhs,
            0.0,
            z0.copy(),
            bound,
            rtol=int_rtol,
            atol=atol,
            jac=system.jac,
            first_step=first,
        )
    else:
        solver = DOP853(
            system.rhs, 0.0, z0.copy(), bound, rtol=int_rtol, atol=atol, first_step=first
        )
    wnorm, dist, gnorm, loss = system.monitor(z0)
    all_free = system.all_free
    g0 = gnorm if all_free else system.trainable_grad(z0)
    g0 = max(g0, TINY)
    losses = [loss]
    steps = 0
    reason = ""
    history: list[tuple[float, float]] = [(0.0, dist / max(wnorm, TINY))]

    target = stop_distance if all_free else grad_rtol

    def progress(z: FloatArray, wn: float, dn: float) -> tuple[float, float]:
        """(the stopping rule's measure, its threshold): the relative Newton distance with
        every layer trainable, else the trainable gradient relative to its start."""
        if not all_free:
            return system.trainable_grad(z) / g0, max(grad_rtol, grad_floor / g0)
        return dn / max(wn, TINY), max(stop_distance, distance_floor(z))

    measure, limit = progress(z0, wnorm, dist)
    converged = measure <= limit
    best = (measure, 0)
    finished = False
    while not converged:
        if steps >= max_steps:
            reason = f"in max_steps={max_steps} (integrator steps)"
            break
        if max_evals is not None and system.evals >= max_evals:
            reason = f"in max_evals={max_evals} (gradient evaluations)"
            break
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            reason = f"in max_seconds={max_seconds:g} (wall clock)"
            break
        with np.errstate(over="ignore", invalid="ignore"):  # a rejected trial stage may overflow
            msg = solver.step()
        steps += 1
        if solver.status == "failed":
            reason = f": the {method} integrator failed ({msg})"
            break
        z = solver.y
        wnorm, dist, gnorm, loss = system.monitor(z)
        losses.append(loss)
        if not math.isfinite(loss) or loss > 1e6 * max(losses[0], TINY):
            reason = f": the flow diverged (loss {loss:.3g})"
            break
        rel = dist / max(wnorm, TINY)
        history.append((float(solver.t), rel))
        measure, limit = progress(z, wnorm, dist)
        converged = measure <= limit
        if measure <= 0.5 * best[0]:
            best = (measure, steps)
        elif measure < STALL_BELOW and steps - best[1] > STALL_STEPS and not converged:
            if measure <= target / stall_accept:  # at the noise floor but within tol
                converged = True
                break
            what = "distance" if all_free else "trainable gradient"
            reason = (
                f": stalled, the {what} has not halved in {STALL_STEPS} steps (integrator "
                f"noise floor ~7 x its rtol {int_rtol:.3g}, or an ill-conditioned problem)"
            )
            break
        if solver.status == "finished":
            finished = True
            break
    rel_grad = (gnorm if all_free else system.trainable_grad(solver.y)) / g0
    rate = float("nan")
    if len(history) >= 4:
        (t_a, d_a), (t_b, d_b) = history[len(history) // 2], history[-1]
        if t_b > t_a and d_a > 0 and d_b > 0:
            rate = math.log(d_a / d_b) / (t_b - t_a)
    return Run(
        z=np.array(solver.y, copy=True),
        t=float(solver.t),
        steps=steps,
        evals=system.evals,
        last_h=float(solver.step_size or 0.0),
        converged=bool(converged),
        finished=finished,
        losses=losses,
        distance=dist / max(wnorm, TINY),
        rel_grad=rel_grad,
        reason=reason,
        seconds=time.perf_counter() - start,
        rate=rate,
    )
