"""Fuzzed robustness of the public API of :mod:`numeric.deep_linear` (issue 11, point 6).

One :class:`~tests.fuzzing.Target` per public function (and the validating constructor of
:class:`~numeric.deep_linear.ChainEmbedding`), built at tiny sizes (d <= 5, n <= 3, width
<= 3, depth <= 3) so that every call takes milliseconds. Every outcome must be a correct
value or an ``InputError``/``ConvergenceError`` naming the parameter (see
:mod:`tests.fuzzing`). Returned values are checked against plain NumPy references that do
not go through the code under test: dense matrix products for the end-to-end vector and the
layer gradients, a pseudo-inverse for the flow's stopping distance, the scaling laws of the
factorisations.

The harness only mutates numbers, arrays and lists of arrays; the list-of-int and list-of-bool
arguments (``widths``, ``trainable``), the bool flags and the string options are fuzzed by the
hand-written :func:`test_structured_arguments` below with the same classification.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import numeric.deep_linear as ndl
from finetune_theory.errors import ConvergenceError, InputError
from tests.fuzzing import Target, fuzz_test, same_value

EPS = float(np.finfo(np.float64).eps)

#: Agreement of two float64 evaluations of the same product/formula along different
#: association orders at these sizes (<= 5 x 5 matrices, depth <= 3): each is within
#: ~depth·d·ε of the exact value relative to the norm, so 1e-12 leaves a margin of ~100.
PRODUCT_RTOL = 1e-12
#: A dense layer gradient against the factored one: both are products of <= 5 factors of
#: <= 5 x 5 matrices and a residual Xw − y; with the residual's cancellation at most a
#: factor ~10 (tiny, well-conditioned random designs) the gap is ≲ 1e3·ε relative.
GRADIENT_RTOL = 1e-10
#: Rounding level of an already solved start: a trainable-layer gradient below this fraction
#: of its natural scale ‖X‖(‖X‖‖w‖ + ‖y‖)/n·Π_{i≠j}‖W_i‖ is rounding noise (≈ a few ε).
SOLVED_RTOL = 1e-13
#: Slack of the independent re-check of a stopping rule: our gradient/distance differs from
#: the trainer's by rounding at the floor level, and the floors are 64ε·scale; a factor 2 on
#: the threshold plus one floor absorbs both.
STOP_SLACK = 2.0
#: The adaptive flow's rounding floor on the relative Newton distance: 64ε·κ(X)·N with
#: κ(X) ≲ 1e3 for these tiny random designs and N <= 3 (~4e-11); 1e-9 leaves a margin.
DISTANCE_FLOOR = 1e-9
#: Values below this are rounding noise (imbalance/rank-one residual of an exactly
#: balanced chain is ~1e-16): a scaling law cannot be checked on them to a relative 1e-6.
NOISE_LEVEL = 1e-10
#: A balanced chain of :func:`_balanced` is balanced to rounding (~1e-16 relative).
BALANCED_RTOL = 1e-12
#: Examples per target after the exhaustive (argument, kind) sweep: the cheap functions take
#: ~1 ms per call, the trainers ~5-30 ms, so these keep the file within ~30 s.
CHEAP_EXAMPLES = 120
TRAINER_EXAMPLES = 50


# ------------------------------------------------------------------ references (plain NumPy)


def _norm(a: Any) -> float:
    """‖a‖ (Frobenius) without overflow/underflow: scaled by max|a| first."""
    arr = np.asarray(a, dtype=np.float64)
    top = float(np.max(np.abs(arr))) if arr.size else 0.0
    if top == 0.0 or not math.isfinite(top):
        return top
    return top * float(np.linalg.norm(arr / top))


def _rel(a: Any, b: Any) -> float:
    """‖a − b‖/‖b‖ (0 when both vanish), overflow-safe."""
    scale = max(_norm(a), _norm(b))
    if scale == 0.0:
        return 0.0
    aa, bb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return _norm(aa / scale - bb / scale) / (_norm(bb) / scale if _norm(bb) else 1.0)


def _floats(weights: Any) -> list[np.ndarray]:
    return [np.asarray(W, dtype=np.float64) for W in weights]


def _dense_end_to_end(weights: Sequence[np.ndarray]) -> np.ndarray:
    """(W_N ⋯ W_1)ᵀ by dense matrix products, left to right (the opposite order)."""
    prod = np.eye(weights[0].shape[1])
    for W in weights:
        prod = W @ prod
    return np.asarray(prod[0], dtype=np.float64)


def _dense_gradients(
    weights: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray
) -> list[np.ndarray]:
    """∂L/∂W_j = A_jᵀ (Xᵀr)ᵀ B_jᵀ with A_j = W_N ⋯ W_{j+1}, B_j = W_{j−1} ⋯ W_1, r = (Xw − y)/n."""
    depth = len(weights)
    w = _dense_end_to_end(weights)
    g = X.T @ (X @ w - y) / X.shape[0]
    out = []
    for j in range(depth):
        A = np.eye(weights[j].shape[0])
        for W in weights[j + 1 :]:
            A = W @ A
        B = np.eye(X.shape[1])
        for W in weights[:j]:
            B = W @ B
        out.append(A.T @ (g @ B.T)[None, :])
    return out


def _finite(*values: Any) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(v, dtype=np.float64)))) for v in values)


def _loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    r = X @ w - y
    return float(0.5 * float(r @ r) / X.shape[0])


# ------------------------------------------------------------------ valid inputs


def _unit(rng: np.random.Generator, d: int) -> np.ndarray:
    g = rng.standard_normal(d)
    return np.asarray(g / np.linalg.norm(g), dtype=np.float64)


def _widths(rng: np.random.Generator, d: int, max_depth: int = 3) -> list[int]:
    depth = int(rng.integers(1, max_depth + 1))
    return [d] + [int(rng.integers(1, 4)) for _ in range(depth - 1)] + [1]


def _balanced(rng: np.random.Generator, theta: np.ndarray, widths: list[int]) -> list[np.ndarray]:
    """W_1 = s v_1 θ̂ᵀ, W_j = s v_j v_{j−1}ᵀ, W_N = s v_{N−1}ᵀ, s = ‖θ‖^{1/N} (built here)."""
    depth = len(widths) - 1
    norm = float(np.linalg.norm(theta))
    s = norm ** (1.0 / depth)
    vs = [theta / norm] + [_unit(rng, w) for w in widths[1:-1]] + [np.ones(1)]
    return [s * np.outer(vs[j + 1], vs[j]) for j in range(depth)]


def _random(rng: np.random.Generator, widths: list[int], scale: float = 0.8) -> list[np.ndarray]:
    return [
        scale * rng.standard_normal((widths[j + 1], widths[j])) / math.sqrt(widths[j])
        for j in range(len(widths) - 1)
    ]


def _task(rng: np.random.Generator, n: int = 2, d: int = 4) -> tuple[np.ndarray, np.ndarray]:
    X = rng.standard_normal((n, d))
    theta_t = 1.3 * _unit(rng, d) + 0.5 * rng.standard_normal(d) / math.sqrt(d)
    return X, X @ theta_t


def _chain_weights(rng: np.random.Generator) -> list[np.ndarray]:
    """A rank-one chain (balanced) or a generic one, depth 1-3, d = 4."""
    widths = _widths(rng, 4)
    if rng.random() < 0.5:
        return _balanced(rng, _unit(rng, 4) * float(rng.uniform(0.5, 2.0)), widths)
    return _random(rng, widths)


def _quiet(check: Callable[..., Any]) -> Callable[..., Any]:
    """A reference check run with NumPy's floating-point warnings off (the suite turns
    warnings into errors; a reference that over/underflows says so by its value)."""

    @functools.wraps(check)
    def run(*args: Any) -> Any:
        with np.errstate(all="ignore"):
            return check(*args)

    return run


# ------------------------------------------------------------------ the cheap functions


def _v_validate(rng: np.random.Generator) -> dict[str, Any]:
    weights = _chain_weights(rng)
    return {"weights": weights, "d": 4}


def _check_validate(kw: dict[str, Any], value: Any) -> str | None:
    want = _floats(kw["weights"])
    if len(value) != len(want) or any(
        a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(value, want, strict=True)
    ):
        return "returned weights differ from the input converted to float64"
    return None


def _v_uniform(rng: np.random.Generator) -> dict[str, Any]:
    return {"d": int(rng.integers(1, 6)), "width": int(rng.integers(1, 4)), "depth": 3}


def _check_uniform(kw: dict[str, Any], value: Any) -> str | None:
    want = [kw["d"]] + [kw["width"]] * (kw["depth"] - 1) + [1]
    return None if list(value) == want else f"returned {value}, want {want}"


def _v_balanced(rng: np.random.Generator) -> dict[str, Any]:
    theta = _unit(rng, 4) * float(rng.uniform(0.5, 2.0))
    return {"theta_s": theta, "widths": _widths(rng, 4), "rng": int(rng.integers(0, 100))}


def _scaled_balanced(kw: dict[str, Any], arg: str, factor: float, base: Any) -> Any:
    if arg != "theta_s":
        return None
    depth = len(base)
    return tuple(W * factor ** (1.0 / depth) for W in base)


def _check_balanced(kw: dict[str, Any], value: Any) -> str | None:
    theta = np.asarray(kw["theta_s"], dtype=np.float64)
    if _rel(_dense_end_to_end(value), theta) > PRODUCT_RTOL:
        return "the product of the factors is not theta_s"
    for j in range(len(value) - 1):
        top = max(_norm(value[j]), _norm(value[j + 1]))
        a, b = value[j + 1] / top, value[j] / top
        if _norm(a.T @ a - b @ b.T) > BALANCED_RTOL * _norm(b) ** 2:
            return f"layers {j}, {j + 1} are not balanced"
    shapes = [(b, a) for a, b in zip(kw["widths"][:-1], kw["widths"][1:], strict=True)]
    if [W.shape for W in value] != shapes:
        return "wrong layer shapes"
    return None


def _v_random(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "widths": _widths(rng, 4),
        "scale": float(rng.uniform(0.1, 2.0)),
        "rng": int(rng.integers(0, 100)),
    }


def _scaled_random(kw: dict[str, Any], arg: str, factor: float, base: Any) -> Any:
    return tuple(W * factor for W in base) if arg == "scale" else None


def _v_weights(rng: np.random.Generator) -> dict[str, Any]:
    return {"weights": _chain_weights(rng)}


def _scaled_end_to_end(kw: dict[str, Any], arg: str, factor: float, base: Any) -> Any:
    power = factor ** len(kw["weights"])
    if not math.isfinite(power) or 0.0 < abs(power) < np.finfo(np.float64).tiny:
        return None  # factor^N is not representable: the function must refuse (or be exact)
    return base * power


def _check_end_to_end(kw: dict[str, Any], value: Any) -> str | None:
    ref = _dense_end_to_end(_floats(kw["weights"]))
    if not _finite(ref) or _norm(ref) < np.finfo(np.float64).tiny:
        return None  # the plain product over/underflows: nothing to compare with
    return "differs from the dense product" if _rel(value, ref) > PRODUCT_RTOL else None


def _v_imbalance(rng: np.random.Generator) -> dict[str, Any]:
    widths = _widths(rng, 4)
    return {"weights": _random(rng, widths)}


def _invariant(kw: dict[str, Any], arg: str, factor: float, base: Any) -> Any:
    """A quantity invariant under scaling every layer (skipped at rounding level)."""
    return base if abs(float(base)) > NOISE_LEVEL else None


def _ref_imbalance(weights: Any) -> float | None:
    """max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F / ‖W_j‖_F² on pair-normalised copies (None when
    some ‖W_j‖ = 0 with a non-zero gap: undefined)."""
    ws = _floats(weights)
    worst = 0.0
    for j in range(len(ws) - 1):
        top = max(_norm(ws[j]), _norm(ws[j + 1]))
        if top == 0.0:
            continue
        a, b = ws[j + 1] / top, ws[j] / top
        gap, denom = _norm(a.T @ a - b @ b.T), _norm(b) ** 2
        if denom == 0.0:
            return None
        worst = max(worst, gap / denom)
    return worst


def _check_imbalance(kw: dict[str, Any], value: Any) -> str | None:
    worst = _ref_imbalance(kw["weights"])
    if worst is None:
        return "returned a value where the imbalance is undefined (a zero layer)"
    if abs(value - worst) > 1e-10 * max(worst, 1.0):
        return f"imbalance {value!r}, reference {worst!r}"
    return None


def _v_require(rng: np.random.Generator) -> dict[str, Any]:
    theta = _unit(rng, 4) * float(rng.uniform(0.5, 2.0))
    return {"weights": _balanced(rng, theta, _widths(rng, 4)), "rtol": 1e-9}


def _check_require(kw: dict[str, Any], value: Any) -> str | None:
    gap = _ref_imbalance(kw["weights"])
    if gap is None:
        return "passed although a layer is zero and its neighbour is not"
    # rounding of the two evaluations: 1e-12 relative to the (O(1)) scale
    return None if gap <= kw["rtol"] + 1e-12 else f"passed although the imbalance {gap:.3g} > rtol"


def _v_gradients(rng: np.random.Generator) -> dict[str, Any]:
    X, y = _task(rng)
    return {"weights": _chain_weights(rng), "X": X, "y": y}


def _check_gradients(kw: dict[str, Any], value: Any) -> str | None:
    ws = _floats(kw["weights"])
    X, y = np.asarray(kw["X"], dtype=np.float64), np.asarray(kw["y"], dtype=np.float64)
    with np.errstate(all="ignore"):
        ref = _dense_gradients(ws, X, y)
        w = _dense_end_to_end(ws)
    grads, wv = value
    if not _finite(w, *ref) or _norm(w) < np.finfo(np.float64).tiny:
        return None
    if _rel(wv, w) > PRODUCT_RTOL:
        return "returned w differs from the dense product"
    scale = max(_norm(G) for G in ref)
    for j, (G, R) in enumerate(zip(grads, ref, strict=True)):
        if _norm(G - R) > GRADIENT_RTOL * max(scale, _norm(R)):
            return f"gradient of layer {j} differs from the dense reference"
    return None


def _v_residual(rng: np.random.Generator) -> dict[str, Any]:
    return {"weights": _chain_weights(rng)}


def _rank_one(rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """W_1 = v_1uᵀ, W_j = σ_j v_j v_{j−1}ᵀ with σ_j > 0 (depth 2-3), plus (u, σ)."""
    widths = _widths(rng, 4)
    while len(widths) < 3:
        widths = _widths(rng, 4)
    depth = len(widths) - 1
    u = rng.standard_normal(4)
    sigmas = rng.uniform(0.5, 2.0, depth - 1)
    vs = [_unit(rng, w) for w in widths[1:-1]] + [np.ones(1)]
    ws = [np.outer(vs[0], u)] + [
        sigmas[j - 1] * np.outer(vs[j], vs[j - 1]) for j in range(1, depth)
    ]
    return ws, u, sigmas


def _v_reduce(rng: np.random.Generator) -> dict[str, Any]:
    return {"weights": _rank_one(rng)[0], "rtol": 1e-12}


def _scaled_reduce(kw: dict[str, Any], arg: str, factor: float, base: Any) -> Any:
    if arg != "weights":
        return None
    reduced, emb = base
    return tuple(W * factor for W in reduced), emb


def _check_reduce(kw: dict[str, Any], value: Any) -> str | None:
    reduced, emb = value
    ws = _floats(kw["weights"])
    for v in emb.vectors:
        if abs(_norm(v) - 1.0) > 1e-12:
            return "an embedding vector is not a unit vector"
    want = _dense_end_to_end(ws)
    got = np.asarray(reduced[0][0], dtype=np.float64)
    for s in reduced[1:]:
        got = got * float(s[0, 0])
    if _finite(want) and _norm(want) > 0.0 and _rel(got, want) > PRODUCT_RTOL:
        return "the width-one chain's end-to-end vector differs from the weights'"
    return None


def _v_embed(rng: np.random.Generator) -> dict[str, Any]:
    depth = int(rng.integers(2, 4))
    widths = [4] + [int(rng.integers(1, 4)) for _ in range(depth - 1)] + [1]
    reduced = [rng.standard_normal((1, 4))] + [
        np.array([[float(rng.uniform(0.5, 2.0))]]) for _ in range(depth - 1)
    ]
    return {
        "reduced": reduced,
        "embedding": ndl.ChainEmbedding(tuple(_unit(rng, w) for w in widths[1:-1])),
    }


def _scaled_layers(kw: dict[str, Any], arg: str, factor: float, base: Any) -> Any:
    """Every layer scales by the factor (embed is linear in each reduced layer)."""
    return tuple(W * factor for W in base)


def _check_embed(kw: dict[str, Any], value: Any) -> str | None:
    rs = _floats(kw["reduced"])
    want = rs[0][0].copy()
    for s in rs[1:]:
        want = want * float(s[0, 0])
    got = _dense_end_to_end(value)
    if _finite(want, got) and _norm(want) > 0.0 and _rel(got, want) > PRODUCT_RTOL:
        return "the embedded chain's end-to-end vector is not prod(sigma) * u"
    return None


def _v_chain_embedding(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "vectors": [_unit(rng, int(rng.integers(1, 4))) for _ in range(int(rng.integers(1, 3)))]
    }


def _check_chain_embedding(kw: dict[str, Any], value: Any) -> str | None:
    if any(np.asarray(v).size == 0 for v in kw["vectors"]):
        return "accepted an empty vector"
    want = _floats(kw["vectors"])
    got = value.vectors
    if len(got) != len(want) or any(
        not np.array_equal(a, b) for a, b in zip(got, want, strict=True)
    ):
        return "stored vectors differ from the input"
    return None


# ------------------------------------------------------------------ the trainers


def _estimate_problem(kw: dict[str, Any], run: Any) -> str | None:
    """DeepResult documents ``error_estimate`` None exactly when it is not estimated (GD,
    RK4, ``estimate_error=False``, adaptive runs that neither converged nor reached
    ``max_time``) and a float >= 0 otherwise: an estimate missing where one was due, or
    present where none is made, is a defect."""
    est = run.error_estimate
    adaptive = run.method.startswith(("reduced/", "full/dop853", "full/radau"))
    due = False
    if adaptive and kw.get("estimate_error", True):
        max_time = kw.get("max_time")
        finished = max_time is not None and run.time >= max_time * (1.0 - 1e-9)
        due = bool(run.converged or finished)
    if due and est is None:
        return "error_estimate is None although the adaptive run estimated it"
    if not due and est is not None:
        return f"error_estimate = {est!r} where none is estimated ({run.method})"
    if est is not None and not (type(est) is float and est >= 0.0):
        return f"error_estimate = {est!r} is not a float >= 0"
    return None


def _mask(kw: dict[str, Any], depth: int) -> list[bool]:
    trainable = kw.get("trainable")
    return [True] * depth if trainable is None else [bool(t) for t in trainable]


def _start_gradients(kw: dict[str, Any]) -> tuple[list[np.ndarray], float, list[float]] | None:
    """Dense trainable-layer gradients at the start, their norm, and each one's natural scale."""
    ws = _floats(kw["weights"])
    X, y = np.asarray(kw["X"], dtype=np.float64), np.asarray(kw["y"], dtype=np.float64)
    with np.errstate(all="ignore"):
        grads = _dense_gradients(ws, X, y)
        w = _dense_end_to_end(ws)
        norms = [_norm(W) for W in ws]
        scales = [
            _norm(X)
            * (_norm(X) * _norm(w) + _norm(y))
            / X.shape[0]
            * math.prod(v for i, v in enumerate(norms) if i != j)
            for j in range(len(ws))
        ]
    mask = _mask(kw, len(ws))
    if not _finite(*grads, scales):
        return None
    total = math.sqrt(sum(_norm(G) ** 2 for G, m in zip(grads, mask, strict=True) if m))
    return grads, total, scales


def _solved(kw: dict[str, Any]) -> bool:
    """The start is already a stationary point of the trainable layers (to rounding)."""
    try:
        start = _start_gradients(kw)
    except (ValueError, IndexError, TypeError):
        return False
    if start is None:
        return False
    grads, _, scales = start
    mask = _mask(kw, len(grads))
    return all(
        _norm(G) <= SOLVED_RTOL * s for G, s, m in zip(grads, scales, mask, strict=True) if m
    )


def _check_run(kw: dict[str, Any], run: Any) -> str | None:
    """Independent checks of a DeepResult: consistency, frozen layers, the stopping rule."""
    ws0 = _floats(kw["weights"])
    X, y = np.asarray(kw["X"], dtype=np.float64), np.asarray(kw["y"], dtype=np.float64)
    depth = len(ws0)
    mask = _mask(kw, depth)
    if len(run.weights) != depth or any(
        a.shape != b.shape for a, b in zip(run.weights, ws0, strict=True)
    ):
        return "returned weights have the wrong shapes"
    for j, (W, W0) in enumerate(zip(run.weights, ws0, strict=True)):
        if not mask[j] and not np.array_equal(W, W0):
            return f"frozen layer {j} moved"
    w = _dense_end_to_end(list(run.weights))
    if _rel(run.end_to_end, w) > PRODUCT_RTOL:
        return "end_to_end differs from the dense product of the returned weights"
    if run.loss_history.shape != (run.steps + 1,):
        return "loss_history does not have steps + 1 entries"
    with np.errstate(all="ignore"):
        loss0 = _loss(_dense_end_to_end(ws0), X, y)
    if math.isfinite(loss0) and abs(run.loss_history[0] - loss0) > 1e-10 * max(loss0, 1e-300):
        return f"loss_history[0] = {run.loss_history[0]!r}, the start's loss is {loss0!r}"
    if run.steps < 0 or run.time < 0.0:
        return "negative steps or time"
    estimate = _estimate_problem(kw, run)
    if estimate is not None:
        return estimate
    if not run.converged:
        return None
    start = _start_gradients(kw)
    if start is None:
        return None
    _, g0, scales = start
    with np.errstate(all="ignore"):
        end = _dense_gradients(list(run.weights), X, y)
    if not _finite(*end):
        return None
    floor = 64.0 * EPS * max(s for s, m in zip(scales, mask, strict=True) if m)
    if run.solver == "flow" and not run.method.startswith("full/rk4") and all(mask):
        # the adaptive stopping rule: Newton distance |X^+(Xw - y)| / |w| <= 0.1 tol (or a
        # stall accepted at <= tol, or the integrator's rounding floor)
        dist = _norm(np.linalg.pinv(X) @ (X @ w - y)) / max(_norm(w), 1e-300)
        limit = max(float(kw.get("tol", ndl.DEFAULT_TOL)), DISTANCE_FLOOR)
        if dist > STOP_SLACK * limit:
            return f"converged=True but the Newton distance is {dist:.3g} > tol"
        return None
    gnorm = math.sqrt(sum(_norm(G) ** 2 for G, m in zip(end, mask, strict=True) if m))
    rtol = float(kw.get("rtol", ndl.DEFAULT_RTOL))
    if gnorm > STOP_SLACK * max(rtol * g0, floor) + floor:
        return (
            f"converged=True but the trainable gradient fell only to {gnorm / g0:.3g} of its start"
        )
    return None


def _v_flow(rng: np.random.Generator) -> dict[str, Any]:
    """Adaptive flow: integrator, reduction and frozen layers drawn from the seed."""
    X, y = _task(rng)
    depth = int(rng.integers(1, 4))
    widths = [4] + [int(rng.integers(1, 4)) for _ in range(depth - 1)] + [1]
    theta = _unit(rng, 4)
    balanced = rng.random() < 0.7
    weights = _balanced(rng, theta, widths) if balanced else _random(rng, widths)
    integrator = str(rng.choice(["auto", "dop853", "radau"])) if balanced else "auto"
    kw: dict[str, Any] = {
        "weights": weights,
        "X": X,
        "y": y,
        "solver": "flow",
        "integrator": integrator,
        "tol": 1e-4,
        "rtol": 1e-4,
        "max_steps": 20_000,
        "max_evals": 200_000,
        "max_seconds": 10.0,
        "estimate_error": bool(rng.random() < 0.5),
        # reduce=False sends a rank-one chain to the full-matrix flow (not with radau)
        "reduce": False if balanced and integrator == "dop853" and rng.random() < 0.5 else None,
    }
    if depth > 1 and rng.random() < 0.3:
        frozen = int(rng.integers(depth))
        kw["trainable"] = [j != frozen for j in range(depth)]
    return kw


def _v_gd(rng: np.random.Generator) -> dict[str, Any]:
    X, y = _task(rng)
    widths = _widths(rng, 4)
    weights = _balanced(rng, _unit(rng, 4), widths) if rng.random() < 0.5 else _random(rng, widths)
    limit = ndl.fine_tune(X, y, weights, solver="gd", max_steps=0, strict=False).step * 4.0
    kw: dict[str, Any] = {
        "weights": weights,
        "X": X,
        "y": y,
        "solver": "gd",
        "step": 0.25 * limit,
        "rtol": 1e-4,
        "max_steps": 20_000,
        "max_time": 1e6,
    }
    if len(weights) > 1 and rng.random() < 0.3:
        kw["trainable"] = [j != 0 for j in range(len(weights))]
    return kw


def _v_rk4(rng: np.random.Generator) -> dict[str, Any]:
    X, y = _task(rng)
    widths = _widths(rng, 4)
    weights = _balanced(rng, _unit(rng, 4), widths) if rng.random() < 0.5 else _random(rng, widths)
    return {
        "weights": weights,
        "X": X,
        "y": y,
        "solver": "flow",
        "integrator": "rk4",
        "flow_cfl": float(rng.uniform(0.3, 1.0)),
        "rtol": 1e-4,
        "max_steps": 20_000,
        "max_time": 1e6,
        "fixed_step": bool(rng.random() < 0.3),
        "curvature": str(rng.choice(["legacy", "bound"])),
    }


def _v_pretrain(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "theta_s": _unit(rng, 3) * float(rng.uniform(0.5, 2.0)),
        "widths": [3, int(rng.integers(1, 3)), 1],
        "rng": int(rng.integers(0, 100)),
        "init_scale": 0.1,
        "n_source": 6,
        "rtol": 1e-4,
        # a θ_S far below init_scale^N needs flow time ~1/|θ_S|^(2-2/N) (measured: 20000
        # steps, 25 s, to a ConvergenceError at θ_S·1e-50): a small budget reaches it in ~2 s
        "max_steps": 1_000,
    }


#: The fit of pretrain: noiseless labels on n_source >= d Gaussian inputs determine θ_S, and
#: the adaptive flow stops at the Newton distance 0.1·tol = 1e-11 (default tol) relative; the
#: design's condition (≲ 1e3 for 6 Gaussian rows in d = 3) amplifies it to ≲ 1e-8.
PRETRAIN_RTOL = 1e-7


def _check_pretrain(kw: dict[str, Any], value: Any) -> str | None:
    theta = np.asarray(kw["theta_s"], dtype=np.float64)
    got = _dense_end_to_end(list(value))
    n_source = kw.get("n_source")
    if n_source is not None and n_source < theta.shape[0]:
        return None  # fewer samples than dimensions: θ_S is not determined
    if _rel(got, theta) > PRETRAIN_RTOL:
        return f"the pretrained end-to-end vector is {_rel(got, theta):.3g} (relative) from theta_s"
    return None


_FLOW_ARGS = ("weights", "X", "y", "tol", "rtol", "max_steps", "max_evals", "max_seconds")

#: rng=None is the documented convention of every random function of numeric (it is
#: numeric.data.as_generator's rule: fresh OS entropy, i.e. NumPy's default_rng(None)).
_RNG_NONE = frozenset({("rng", "none")})

TARGETS: list[Target] = [
    Target(ndl.validate_weights, _v_validate, verify=_quiet(_check_validate)),
    Target(ndl.uniform_widths, _v_uniform, verify=_quiet(_check_uniform)),
    Target(
        ndl.balanced_weights,
        _v_balanced,
        fuzzed=("theta_s", "rng"),
        accepts=_RNG_NONE,
        scaled=_quiet(_scaled_balanced),
        verify=_quiet(_check_balanced),
    ),
    Target(
        ndl.random_weights,
        _v_random,
        fuzzed=("scale", "rng"),
        accepts=_RNG_NONE,
        scaled=_quiet(_scaled_random),
    ),
    Target(
        ndl.end_to_end,
        _v_weights,
        scaled=_quiet(_scaled_end_to_end),
        verify=_quiet(_check_end_to_end),
    ),
    Target(ndl.imbalance, _v_imbalance, scaled=_quiet(_invariant), verify=_quiet(_check_imbalance)),
    Target(ndl.require_balanced, _v_require, verify=_quiet(_check_require)),
    Target(ndl.layer_gradients, _v_gradients, verify=_quiet(_check_gradients)),
    Target(ndl.rank_one_residual, _v_residual, scaled=_quiet(_invariant)),
    Target(
        ndl.reduce_rank_one, _v_reduce, scaled=_quiet(_scaled_reduce), verify=_quiet(_check_reduce)
    ),
    Target(
        ndl.embed,
        _v_embed,
        fuzzed=("reduced",),
        scaled=_quiet(_scaled_layers),
        verify=_quiet(_check_embed),
    ),
    Target(
        ndl.ChainEmbedding,
        _v_chain_embedding,
        # "empty" sometimes passes vectors=[]: the embedding of a depth-1 chain (no hidden
        # layer), a valid input; an emptied vector inside is caught by the verify
        accepts=frozenset({("vectors", "empty")}),
        verify=_quiet(_check_chain_embedding),
    ),
    Target(
        ndl.fine_tune,
        _v_flow,
        fuzzed=_FLOW_ARGS,
        solved=_quiet(_solved),
        verify=_quiet(_check_run),
    ),
    Target(
        ndl.fine_tune,
        _v_gd,
        fuzzed=("weights", "X", "y", "step", "rtol", "max_steps", "max_time"),
        solved=_quiet(_solved),
        verify=_quiet(_check_run),
    ),
    Target(
        ndl.fine_tune,
        _v_rk4,
        fuzzed=("weights", "X", "y", "flow_cfl", "rtol", "max_steps", "max_time"),
        solved=_quiet(_solved),
        verify=_quiet(_check_run),
    ),
    Target(ndl.pretrain, _v_pretrain, accepts=_RNG_NONE, verify=_quiet(_check_pretrain)),
]
#: A label per target (fine_tune has three: its adaptive, GD and RK4 paths).
LABELS: list[str] = [t.name.removeprefix("numeric.deep_linear.") for t in TARGETS[:12]] + [
    "fine_tune[flow]",
    "fine_tune[gd]",
    "fine_tune[rk4]",
    "pretrain",
]

EXEMPT: dict[str, str] = {
    "numeric.deep_linear.DeepResult": "a plain result record: its constructor takes no user "
    "input and validates nothing (the trainers build it)",
    "numeric.deep_linear.Solver": "a typing alias (Literal), not callable",
    "numeric.deep_linear.Integrator": "a typing alias (Literal), not callable",
    "numeric.deep_linear.Curvature": "a typing alias (Literal), not callable",
}


def test_every_public_name_is_fuzzed_or_exempt() -> None:
    fuzzed = {t.name for t in TARGETS}
    public = {f"numeric.deep_linear.{name}" for name in ndl.__all__}
    assert public == fuzzed | set(EXEMPT), public ^ (fuzzed | set(EXEMPT))


@pytest.mark.parametrize(
    "target", [pytest.param(t, id=label) for t, label in zip(TARGETS, LABELS, strict=True)]
)
def test_fuzz(target: Target, request: pytest.FixtureRequest) -> None:
    label = request.node.callspec.id
    trainer = label.startswith(("fine_tune", "pretrain"))
    fuzz_test(target, TRAINER_EXAMPLES if trainer else CHEAP_EXAMPLES)()


# ------------------------------------------------------------------ structured arguments


def _small_task() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X, y = _task(rng)
    return _balanced(rng, _unit(rng, 4), [4, 2, 1]), X, y


Expectation = str | Callable[[], Any]


def _structured_cases() -> list[tuple[str, Callable[[], Any], Expectation]]:
    """(label, call, expectation): "refuse", or the plain call the result must equal."""
    ws, X, y = _small_task()
    theta = np.array([0.5, -0.2, 0.1, 0.7])
    fast: dict[str, Any] = {"tol": 1e-4, "estimate_error": False}
    cases: list[tuple[str, Callable[[], Any], Expectation]] = []
    bad_widths: list[tuple[str, Any]] = [
        ("bool entry", [4, True, 1]),
        ("float entry", [4, 2.0, 1]),
        ("string entry", [4, "2", 1]),
        ("None entry", [4, None, 1]),
        ("complex entry", [4, 2 + 0j, 1]),
        ("zero width", [4, 0, 1]),
        ("negative width", [4, -2, 1]),
        ("huge width", [4, 10**15, 1]),
        ("empty list", []),
        ("a string", "421"),
        ("None", None),
        ("an int", 4),
        ("float array", np.array([4.0, 2.0, 1.0])),
    ]
    good_widths: list[tuple[str, Any]] = [
        ("tuple", (4, 2, 1)),
        ("int array", np.array([4, 2, 1])),
        ("numpy ints", [np.int64(4), np.int32(2), np.int8(1)]),
    ]
    for label, widths in bad_widths:
        cases.append(
            (
                f"balanced_weights(widths={label})",
                _bind(ndl.balanced_weights, theta, widths, 0),
                "refuse",
            )
        )
        cases.append(
            (f"random_weights(widths={label})", _bind(ndl.random_weights, widths, 1.0, 0), "refuse")
        )
        cases.append(
            (
                f"pretrain(widths={label})",
                _bind(ndl.pretrain, theta, widths, 0, init_scale=0.1),
                "refuse",
            )
        )
    for label, widths in good_widths:
        cases.append(
            (
                f"balanced_weights(widths={label})",
                _bind(ndl.balanced_weights, theta, widths, 0),
                _bind(ndl.balanced_weights, theta, [4, 2, 1], 0),
            )
        )
        cases.append(
            (
                f"random_weights(widths={label})",
                _bind(ndl.random_weights, widths, 1.0, 0),
                _bind(ndl.random_weights, [4, 2, 1], 1.0, 0),
            )
        )
    cases.append(("uniform_widths(depth=10**9)", _bind(ndl.uniform_widths, 4, 3, 10**9), "refuse"))
    cases.append(
        ("uniform_widths(width=10**15)", _bind(ndl.uniform_widths, 4, 10**15, 3), "refuse")
    )
    bad_masks: list[tuple[str, Any]] = [
        ("int entries", [1, 0]),
        ("string entries", ["yes", "no"]),
        ("None entry", [True, None]),
        ("float entries", [1.0, 0.0]),
        ("a string", "TF"),
        ("a bool", True),
        ("int array", np.array([1, 0])),
    ]
    for label, mask in bad_masks:
        cases.append(
            (
                f"fine_tune(trainable={label})",
                _bind(ndl.fine_tune, X, y, ws, trainable=mask, **fast),
                "refuse",
            )
        )
    for label, mask in [
        ("bool array", np.array([True, False])),
        ("numpy bools", [np.True_, np.False_]),
        ("tuple", (True, False)),
    ]:
        cases.append(
            (
                f"fine_tune(trainable={label})",
                _bind(ndl.fine_tune, X, y, ws, trainable=mask, **fast),
                _bind(ndl.fine_tune, X, y, ws, trainable=[True, False], **fast),
            )
        )
    for flag in ("require_balance", "fixed_step", "strict", "estimate_error"):
        for label, value in [
            ("int", 1),
            ("string", "no"),
            ("None", None),
            ("array", np.array([True])),
        ]:
            if flag == "estimate_error" and value is None:
                continue
            extra = {"integrator": "rk4"} if flag == "fixed_step" else {}
            call = _bind(ndl.fine_tune, X, y, ws, **{**fast, **extra, flag: value})
            cases.append((f"fine_tune({flag}={label})", call, "refuse"))
    for label, value in [("int", 1), ("string", "yes"), ("array", np.array([True]))]:
        cases.append(
            (
                f"fine_tune(reduce={label})",
                _bind(ndl.fine_tune, X, y, ws, reduce=value, **fast),
                "refuse",
            )
        )
    for option in ("solver", "integrator", "curvature"):
        for label, value in [
            ("unknown", "adam"),
            ("int", 1),
            ("list", ["gd"]),
            ("array", np.array(["gd", "flow"])),
        ]:
            cases.append(
                (
                    f"fine_tune({option}={label})",
                    _bind(ndl.fine_tune, X, y, ws, **{**fast, option: value}),
                    "refuse",
                )
            )
    cases.append(("embed(embedding=tuple)", _bind(ndl.embed, [ws[0][:1]], (np.ones(1),)), "refuse"))
    cases.append(("embed(embedding=None)", _bind(ndl.embed, [ws[0][:1]], None), "refuse"))
    cases.append(
        ("fine_tune(weights=one array)", _bind(ndl.fine_tune, X, y, ws[0], **fast), "refuse")
    )
    cases.append(("end_to_end(weights=None)", _bind(ndl.end_to_end, None), "refuse"))
    cases.append(("end_to_end(weights=a float)", _bind(ndl.end_to_end, 1.5), "refuse"))
    cases.append(
        ("end_to_end(weights=one 2-D array)", _bind(ndl.end_to_end, np.ones((1, 3))), "refuse")
    )
    return cases


def _bind(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return functools.partial(func, *args, **kwargs)


STRUCTURED = _structured_cases()


@pytest.mark.parametrize(("label", "call", "expect"), STRUCTURED, ids=[c[0] for c in STRUCTURED])
def test_structured_arguments(label: str, call: Callable[[], Any], expect: Expectation) -> None:
    """List-of-int/bool arguments, flags and options: refused with an InputError naming the
    parameter, or accepted (equivalent spellings) with the same value as the plain call."""
    name = label.split("(")[1].split("=")[0]
    if expect == "refuse":
        with pytest.raises(InputError) as info:
            call()
        assert name in str(info.value), str(info.value)
        return
    assert callable(expect)
    try:
        result = call()
    except (InputError, ConvergenceError) as exc:
        pytest.fail(f"{label} refused an equivalent spelling: {exc}")
    want = expect()
    assert same_value(result, want), f"{label} differs from the plain call"


#: Scales around the float64 edges that the harness's 1e±200 does not hit: 1e154 is where
#: squares (the loss, λ_max) start to overflow, 1e-154 where they underflow.
EXTREME_SCALES = (1e154, 1e-154, 1e300, 1e-300)


_FINE_TUNE_PARAMETERS = tuple(inspect.signature(ndl.fine_tune).parameters)


@pytest.mark.parametrize("factor", EXTREME_SCALES)
@pytest.mark.parametrize("arg", ["weights", "X", "y"])
@pytest.mark.parametrize("solver", ["flow", "gd", "rk4"])
def test_fine_tune_at_extreme_scales(solver: str, arg: str, factor: float) -> None:
    """A refusal naming the parameters, or a result that passes the independent checks."""
    make = {"flow": _v_flow, "gd": _v_gd, "rk4": _v_rk4}[solver]
    for seed in range(4):  # depths 1-3, balanced and generic weights
        kw = make(np.random.default_rng(seed))
        kw[arg] = [W * factor for W in kw[arg]] if arg == "weights" else kw[arg] * factor
        if "max_seconds" in kw:  # X·1e-154 with a frozen layer: a slow ConvergenceError
            kw["max_seconds"] = 1.0
        try:
            with np.errstate(all="ignore"):
                run = ndl.fine_tune(**kw)
        except (InputError, ConvergenceError) as exc:
            assert any(name in str(exc) for name in _FINE_TUNE_PARAMETERS), str(exc)
            continue
        assert not (run.converged and run.steps == 0 and not _solved(kw)), "unmoved convergence"
        fields = [run.end_to_end, run.loss_history, run.time, run.step, *run.weights]
        assert _finite(*fields), "returned NaN/inf"
        with np.errstate(all="ignore"):
            problem = _check_run(kw, run)
        assert problem is None, problem
