"""Fuzzed robustness of numeric.linear, numeric.data and numeric.realdata (issue 11, point 6).

One :class:`tests.fuzzing.Target` per public function (``__all__``; the deprecated top-level
aliases ``numeric.fine_tune``/``fine_tune_many`` serve the same objects). Valid calls are tiny
(d <= 6, n <= 4) and seeded from the harness's generator; every returned value is checked
against an independent reference (plain NumPy/LAPACK on a rescaled, representable input, or
a documented identity) by the target's ``verify``, so wrong finite values fail as well as
wrong exception types, accepted bad inputs, NaN/inf, hangs and unmoved "convergence".

Run ``FINETUNE_FUZZ_SURVEY=1 FINETUNE_FUZZ_LOG=/tmp/x.jsonl python -m pytest -n0 -q
tests/numeric/test_fuzz_linear.py`` to list every defect and count the examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import numeric
import numeric.data as nd
import numeric.linear as nl
import numeric.realdata as nrd
from tests.fuzzing import Target, fuzz_test

#: Hypothesis draws per target on top of the one-per-(argument, kind) sweep: ~2 200 examples
#: in all, ~15 s for the file on the shared 2-core machine at load 4 (every call takes
#: milliseconds), leaving room under the 30 s budget.
MAX_EXAMPLES = 60

EPS = float(np.finfo(np.float64).eps)

#: Rounding of a float64 dot product / matrix product of length <= 8, relative to the sum
#: of the absolute values of its terms: <= length·eps; 64·eps leaves a factor 8 of margin.
PRODUCT_RTOL = 64.0 * EPS

#: Factor on the trainers' documented error model: at stop ‖∇L‖ <= max(rtol·‖∇L(θ_S)‖,
#: 64·eps·(λ_max‖θ‖ + ‖Xᵀy‖/n)) and ‖θ − θ_FT‖ <= ‖∇L‖/λ_min⁺, i.e. <= κ·rtol·‖θ_FT − θ_S‖
#: plus κ·64·eps·(‖θ_S‖ + ‖θ_FT‖); the reference lstsq adds ~κ^(1/2)·eps. 10 covers both
#: and the difference between ‖∇L(θ_S)‖ and λ_max‖θ_FT − θ_S‖.
TRAIN_FACTOR = 10.0

#: Monte Carlo: (x·Δ)² = R·χ²₁ for x ~ N(0, Σ), R = ΔᵀΣΔ, so the mean of m draws has
#: standard deviation R·√(2/m). 8 of them: P(fail) < 3e-9 per example at m >= 64 (upper
#: tail of χ²_m by Wilson–Hilferty; the skew makes it the heavy one). The estimated
#: standard error must be within a factor STDERR_FACTOR of R·√(2/m) (its relative spread is
#: ~√(14/(4m)) <= 0.25 at m >= 64, since χ²₁ has kurtosis 15), which still catches s for
#: s/√m (a factor √m >= 8).
MC_SIGMAS = 8.0
STDERR_FACTOR = 4.0

#: Orthogonality / unit norms / eigenvalues of assembled matrices: rounding of d-term sums.
ASSEMBLY_RTOL = 64.0 * 6 * EPS

#: lstsq on the 1797 x 61 digits design: normal-equation residual relative to
#: ‖X‖²‖θ‖ + ‖X‖‖labels‖ is ~κ(X)·eps with κ(X) ≈ 12 (cond(cov) ≈ 150); 1e-10 is generous.
DIGITS_RTOL = 1e-10


def _problem_str(what: str, got: Any, want: Any, err: float, tol: float) -> str:
    return f"{what}: got {got!r:.60}, reference {want!r:.60} (error {err:.3g} > {tol:.3g})"


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31))


def _design(rng: np.random.Generator, n: int, d: int, lo: float = 0.5, hi: float = 2.0) -> Any:
    """An (n, d) matrix with singular values in [lo, hi] (κ(XᵀX) <= (hi/lo)² = 16)."""
    r = min(n, d)
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    sv = rng.uniform(lo, hi, r)
    return (u[:, :r] * sv) @ v[:, :r].T


def _cov(rng: np.random.Generator, d: int) -> Any:
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = rng.uniform(0.5, 2.0, d)
    c = (v * lam) @ v.T
    return 0.5 * (c + c.T)


def _finite(*arrays: Any) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays)


# --------------------------------------------------------------------------------------
# Independent references (plain NumPy/LAPACK, never the code under test's own path)
# --------------------------------------------------------------------------------------


def _ref_limit(X: Any, y: Any, ts: Any) -> tuple[Any, float]:
    """(θ_S + X⁺(y − Xθ_S), κ = λ_max/λ_min⁺ of XᵀX) by lstsq on X/max|X| (no overflow)."""
    Xa, ya, ta = (np.asarray(a, dtype=np.float64) for a in (X, y, ts))
    s = float(np.max(np.abs(Xa)))
    with np.errstate(over="ignore", invalid="ignore"):
        Xn = Xa / s
        r = ya / s - Xn @ ta
        if not _finite(r):
            return np.full_like(ta, np.inf), math.inf
        delta = np.linalg.lstsq(Xn, r, rcond=None)[0]
        sv = np.linalg.svd(Xn, compute_uv=False)
    nonzero = sv[sv > sv[0] * max(Xn.shape) * EPS]
    return ta + delta, float((nonzero[0] / nonzero[-1]) ** 2)


def _check_trained(X: Any, y: Any, ts: Any, theta: Any, rtol: float) -> str | None:
    want, kappa = _ref_limit(X, y, ts)
    if not _finite(want):
        return "returned weights where theta_FT is not representable in float64"
    ta = np.asarray(ts, dtype=np.float64)
    scale = float(np.linalg.norm(ta) + np.linalg.norm(want))
    tol = TRAIN_FACTOR * kappa * (rtol * float(np.linalg.norm(want - ta)) + 64.0 * EPS * scale)
    err = float(np.linalg.norm(np.asarray(theta) - want))
    if not err <= tol:
        return _problem_str(
            "theta differs from theta_S + X^+(y - X theta_S)", theta, want, err, tol
        )
    return None


def _ref_loss_grad(X: Any, y: Any, th: Any) -> tuple[float, Any, float, Any]:
    """(L, ∇L, rounding bound of L, rounding bound of ∇L) for one unbatched problem."""
    Xa, ya, ta = (np.asarray(a, dtype=np.float64) for a in (X, y, th))
    n = Xa.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        resid = Xa @ ta - ya
        size = np.abs(Xa) @ np.abs(ta) + np.abs(ya)  # |terms| of each residual
        m = float(np.max(np.abs(resid)))
        value = (m * math.sqrt(float(np.sum((resid / m) ** 2)) / (2 * n))) ** 2 if m else 0.0
        grad = Xa.T @ resid / n
        value_tol = PRODUCT_RTOL * float(np.sum(size * (np.abs(resid) + size))) / n
        grad_tol = PRODUCT_RTOL * (np.abs(Xa.T) @ (size + np.abs(resid))) / n
    return value, grad, value_tol, grad_tol


def _ref_quadratic(theta: Any, theta_t: Any, cov: Any) -> tuple[Any, Any]:
    """((θ−θ_T)ᵀΣ(θ−θ_T), rounding bound) with Δ scaled to max|Δ| = 1 first."""
    th, tt = np.asarray(theta, dtype=np.float64), np.asarray(theta_t, dtype=np.float64)
    sig = np.eye(tt.shape[0]) if cov is None else np.asarray(cov, dtype=np.float64)
    diff = np.atleast_2d(th - tt)
    c = np.max(np.abs(diff), axis=1)
    u = diff / np.where(c > 0, c, 1.0)[:, None]
    with np.errstate(over="ignore"):
        risk = c**2 * np.einsum("bi,ij,bj->b", u, sig, u)
        bound = PRODUCT_RTOL * c**2 * np.einsum("bi,ij,bj->b", np.abs(u), np.abs(sig), np.abs(u))
    if th.ndim == 1:
        return risk[0], bound[0]
    return risk, bound


# --------------------------------------------------------------------------------------
# numeric.linear
# --------------------------------------------------------------------------------------


def _unmoved_start_solves(kwargs: dict[str, Any]) -> bool:
    """θ_S already solves (gradient at θ_S is zero to rounding): 0 steps is honest then."""
    X = np.asarray(kwargs["X"], dtype=np.float64)
    y = np.asarray(kwargs["y"], dtype=np.float64)
    ts = np.asarray(kwargs["theta_s"], dtype=np.float64)
    X = X.reshape((-1, *X.shape[-2:]))
    y = y.reshape((-1, X.shape[-2]))
    ts = np.broadcast_to(ts, (X.shape[0], X.shape[-1]))
    for Xb, yb, tb in zip(X, y, ts, strict=True):
        s = float(np.max(np.abs(Xb)))
        if s == 0.0:
            continue
        with np.errstate(all="ignore"):
            Xn, yn = Xb / s, yb / s
            g = Xn.T @ (Xn @ tb - yn)
            size = np.abs(Xn.T) @ (np.abs(Xn) @ np.abs(tb) + np.abs(yn))
            if not float(np.linalg.norm(g)) <= 64.0 * EPS * float(np.linalg.norm(size)):
                return False
    return True


def _fine_tune_valid(
    method: str, with_step: bool
) -> Callable[[np.random.Generator], dict[str, Any]]:
    def valid(rng: np.random.Generator) -> dict[str, Any]:
        n = int(rng.integers(1, 5))
        d = int(rng.integers(2, 7))
        X = _design(rng, n, d)
        kwargs: dict[str, Any] = {
            "X": X,
            "y": rng.standard_normal(n),
            "theta_s": rng.standard_normal(d),
            "method": method,
            "rtol": 1e-10,
            "max_steps": 3000,
        }
        if with_step:
            lam_max = float(np.linalg.norm(X, 2) ** 2) / n
            kwargs["step"] = float(rng.uniform(0.3, 0.95)) * 2.0 / lam_max
        return kwargs

    return valid


def _verify_fine_tune(kwargs: dict[str, Any], run: nl.GDResult) -> str | None:
    if not (run.all_converged and np.ndim(run.steps) == 0):
        return f"strict run returned converged={run.converged}, steps={run.steps}"
    return _check_trained(kwargs["X"], kwargs["y"], kwargs["theta_s"], run.theta, kwargs["rtol"])


def _fine_tune_many_valid(
    method: str, shared: bool
) -> Callable[[np.random.Generator], dict[str, Any]]:
    def valid(rng: np.random.Generator) -> dict[str, Any]:
        b = int(rng.integers(1, 4))
        n = int(rng.integers(1, 5))
        d = int(rng.integers(2, 7))
        X = np.stack([_design(rng, n, d) for _ in range(b)])
        return {
            "X": X,
            "y": rng.standard_normal((b, n)),
            "theta_s": rng.standard_normal(d if shared else (b, d)),
            "method": method,
            "rtol": 1e-10,
            "max_steps": 3000,
        }

    return valid


def _verify_fine_tune_many(kwargs: dict[str, Any], run: nl.GDResult) -> str | None:
    X = np.asarray(kwargs["X"], dtype=np.float64)
    y = np.asarray(kwargs["y"], dtype=np.float64)
    ts = np.broadcast_to(np.asarray(kwargs["theta_s"], dtype=np.float64), X.shape[::2])
    if run.theta.shape != X.shape[::2] or not run.all_converged:
        return f"strict run returned theta {run.theta.shape}, converged={run.converged}"
    for b in range(X.shape[0]):
        problem = _check_trained(X[b], y[b], ts[b], run.theta[b], kwargs["rtol"])
        if problem:
            return f"problem {b}: {problem}"
    return None


def _loss_valid(rng: np.random.Generator) -> dict[str, Any]:
    n = int(rng.integers(1, 5))
    d = int(rng.integers(1, 7))
    return {
        "X": rng.standard_normal((n, d)),
        "y": rng.standard_normal(n),
        "theta": rng.standard_normal(d),
    }


def _verify_loss(kwargs: dict[str, Any], value: float) -> str | None:
    want, _, tol, _ = _ref_loss_grad(kwargs["X"], kwargs["y"], kwargs["theta"])
    if not math.isfinite(want):
        return "returned a finite loss where L overflows float64"
    err = abs(float(value) - want)
    return None if err <= tol else _problem_str("loss", value, want, err, tol)


def _verify_loss_gradient(kwargs: dict[str, Any], out: Any) -> str | None:
    value, grad = out
    want, gwant, tol, gtol = _ref_loss_grad(kwargs["X"], kwargs["y"], kwargs["theta"])
    if not (math.isfinite(want) and _finite(gwant)):
        return "returned a finite loss/gradient where they overflow float64"
    err = abs(float(value) - want)
    if not err <= tol:
        return _problem_str("loss value", value, want, err, tol)
    gerr = np.abs(np.asarray(grad) - gwant)
    if np.shape(grad) != np.shape(gwant) or not np.all(gerr <= gtol):
        return _problem_str("gradient", grad, gwant, float(np.max(gerr)), float(np.min(gtol)))
    return None


def _estimated_steps_valid(method: str) -> Callable[[np.random.Generator], dict[str, Any]]:
    def valid(rng: np.random.Generator) -> dict[str, Any]:
        return {
            "condition": float(10 ** rng.uniform(0, 6)),
            "rtol": float(10 ** -rng.uniform(1, 15)),
            "method": method,
        }

    return valid


def _verify_estimated_steps(kwargs: dict[str, Any], value: float) -> str | None:
    kappa, rtol = float(kwargs["condition"]), float(kwargs["rtol"])
    if kappa < 1.0:
        return f"accepted condition {kappa!r} < 1 (lambda_max/lambda_min+ is >= 1)"
    if kwargs["method"] == "gd":
        want = kappa * math.log(1.0 / rtol)
    else:
        want = 0.5 * math.sqrt(kappa) * (math.log(2.0) + 0.5 * math.log(kappa) - math.log(rtol))
    err = abs(float(value) - want)
    tol = 1e-12 * abs(want)
    return None if err <= tol else _problem_str("estimated steps", value, want, err, tol)


def _quadratic_valid(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    b = int(rng.integers(1, 4))
    return {
        "theta": rng.standard_normal((b, d)),
        "theta_t": rng.standard_normal(d),
        "cov": _cov(rng, d),
    }


def _verify_quadratic(kwargs: dict[str, Any], risk: Any) -> str | None:
    want, tol = _ref_quadratic(kwargs["theta"], kwargs["theta_t"], kwargs.get("cov"))
    if not _finite(want):
        return "returned a finite risk where the quadratic form overflows float64"
    err = np.abs(np.asarray(risk) - want)
    if np.shape(risk) != np.shape(want) or not np.all(err <= tol):
        return _problem_str("risk", risk, want, float(np.max(err)), float(np.min(tol)))
    return None


def _quadratic_scaled(kwargs: dict[str, Any], arg: str, factor: float, base: Any) -> Any:
    """The risk is linear in Σ."""
    return np.asarray(base) * factor if arg == "cov" else None


def _population_valid(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    return {
        "theta": rng.standard_normal(d),
        "theta_t": rng.standard_normal(d),
        "rng": _seed(rng),
        "cov": _cov(rng, d),
        "n_test": int(rng.integers(64, 257)),
    }


def _verify_population(kwargs: dict[str, Any], est: nl.MonteCarloEstimate) -> str | None:
    exact, _ = _ref_quadratic(kwargs["theta"], kwargs["theta_t"], kwargs.get("cov"))
    m = int(kwargs["n_test"])
    if est.samples != m:
        return f"samples = {est.samples}, asked for n_test = {m}"
    if not math.isfinite(float(exact)):
        return "returned a finite estimate where the risk overflows float64"
    if exact == 0.0:
        ok = est.mean == 0.0 and est.stderr == 0.0
        return None if ok else f"risk is 0 but the estimate is {est}"
    sd = float(exact) * math.sqrt(2.0 / m)
    if abs(est.mean - exact) > MC_SIGMAS * sd:
        return f"mean {est.mean:.6g} is more than {MC_SIGMAS} sd ({sd:.3g}) from {exact:.6g}"
    if not sd / STDERR_FACTOR <= est.stderr <= sd * STDERR_FACTOR:
        return f"stderr {est.stderr:.3g} is not within x{STDERR_FACTOR} of R*sqrt(2/m) = {sd:.3g}"
    return None


def _expected_valid(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(4, 7))
    return {
        "theta_s": rng.standard_normal(d),
        "theta_t": rng.standard_normal(d),
        "n": int(rng.integers(1, 3)),
        "rng": _seed(rng),
        "cov": _cov(rng, d),
        "noise_std": float(rng.uniform(0.0, 0.5)),
        "designs": int(rng.integers(2, 5)),
        "rtol": 1e-10,
        "max_steps": 20_000,
    }


def _verify_expected(kwargs: dict[str, Any], est: nl.MonteCarloEstimate) -> str | None:
    """Replay the documented draws (X ~ N(0, Σ) by sample_inputs, then labels) and fine-tune
    each design by lstsq instead of the trainer."""
    if kwargs["rng"] is None:
        return None
    gen = np.random.default_rng(kwargs["rng"])
    ts = np.asarray(kwargs["theta_s"], dtype=np.float64)
    tt = np.asarray(kwargs["theta_t"], dtype=np.float64)
    cov = kwargs.get("cov")
    m = int(kwargs["designs"])
    X = nd.sample_inputs(kwargs["n"], ts.shape[0], gen, cov=cov, batch=m)
    y = nd.labels(X, tt, kwargs["noise_std"], gen)
    risks, bounds = [], []
    sig_norm = 1.0 if cov is None else float(np.linalg.norm(np.asarray(cov, float), 2))
    for b in range(m):
        want, kappa = _ref_limit(X[b], y[b], ts)
        delta = (
            TRAIN_FACTOR
            * kappa
            * (
                kwargs["rtol"] * float(np.linalg.norm(want - ts))
                + 64.0 * EPS * float(np.linalg.norm(ts) + np.linalg.norm(want))
            )
        )
        risk, tol = _ref_quadratic(want, tt, cov)
        risks.append(float(risk))
        bounds.append(
            float(tol) + sig_norm * delta * (2 * float(np.linalg.norm(want - tt)) + delta)
        )
    want_mean, tol = float(np.mean(risks)), float(np.mean(bounds))
    if est.samples != m:
        return f"samples = {est.samples}, asked for designs = {m}"
    err = abs(est.mean - want_mean)
    if not err <= tol:
        return _problem_str("expected risk", est.mean, want_mean, err, tol)
    top = max(abs(r) for r in risks) or 1.0
    want_se = float(np.std(np.asarray(risks) / top, ddof=1) / math.sqrt(m)) * top
    # |sd(a) − sd(b)| <= ‖a − b‖/√(m − 1) <= max|a_i − b_i|·√(m/(m − 1)), divided by √m.
    se_tol = max(bounds) / math.sqrt(m - 1) + PRODUCT_RTOL * want_se
    if abs(est.stderr - want_se) > se_tol:
        return f"stderr {est.stderr!r} differs from s/sqrt(designs) = {want_se!r}"
    return None


# --------------------------------------------------------------------------------------
# numeric.data
# --------------------------------------------------------------------------------------


def _as_generator_valid(rng: np.random.Generator) -> dict[str, Any]:
    return {"rng": _seed(rng)}


def _verify_as_generator(kwargs: dict[str, Any], gen: Any) -> str | None:
    if not isinstance(gen, np.random.Generator):
        return f"returned {type(gen).__name__}, not a Generator"
    if kwargs["rng"] is None:
        return None
    want = np.random.default_rng(kwargs["rng"]).random(3)
    return None if np.array_equal(gen.random(3), want) else "not the stream of default_rng(seed)"


def _spectrum_valid(rng: np.random.Generator) -> dict[str, Any]:
    kinds = ("isotropic", "power-law", "spiked", "two-level")
    return {
        "kind": kinds[int(rng.integers(len(kinds)))],
        "d": int(rng.integers(1, 7)),
        "condition": float(10 ** rng.uniform(0, 3)),
    }


def _verify_spectrum(kwargs: dict[str, Any], lam: Any) -> str | None:
    d, cond, kind = int(kwargs["d"]), float(kwargs["condition"]), kwargs["kind"]
    lam = np.asarray(lam)
    if lam.shape != (d,) or not np.all(lam > 0) or np.any(np.diff(lam) > 0):
        return f"not a positive decreasing spectrum of length {d}: {lam!r:.80}"
    if abs(float(np.mean(lam)) - 1.0) > ASSEMBLY_RTOL:
        return f"mean {float(np.mean(lam))!r} != 1"
    want_ratio = 1.0 if (kind == "isotropic" or d == 1) else cond
    ratio = float(lam[0] / lam[-1])
    # power-law: λ_i = i^(−a), a = ln(cond)/ln d, so λ_1/λ_d = d^a rounds with a·ln(d)·eps.
    tol = ASSEMBLY_RTOL * (1.0 + abs(math.log(cond)))
    if abs(ratio / want_ratio - 1.0) > tol:
        return f"lambda_1/lambda_d = {ratio!r}, want {want_ratio!r}"
    return None


def _orthogonal_valid(rng: np.random.Generator) -> dict[str, Any]:
    return {"d": int(rng.integers(1, 7)), "rng": _seed(rng)}


def _verify_orthogonal(kwargs: dict[str, Any], q: Any) -> str | None:
    d = int(kwargs["d"])
    q = np.asarray(q)
    if q.shape != (d, d):
        return f"shape {q.shape} != ({d}, {d})"
    err = float(np.max(np.abs(q.T @ q - np.eye(d))))
    return None if err <= ASSEMBLY_RTOL else f"Q^T Q differs from I by {err:.3g}"


def _cov_from_spectrum_valid(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    return {"eigenvalues": rng.uniform(0.0, 3.0, d), "rng": _seed(rng)}


def _verify_cov_from_spectrum(kwargs: dict[str, Any], cov: Any) -> str | None:
    lam = np.asarray(kwargs["eigenvalues"], dtype=np.float64)
    cov = np.asarray(cov)
    d = lam.shape[0]
    if cov.shape != (d, d) or not np.array_equal(cov, cov.T):
        return f"not a symmetric ({d}, {d}) matrix"
    top = float(np.max(np.abs(lam)))
    if kwargs.get("rng") is None:
        return None if np.array_equal(cov, np.diag(lam)) else "rng=None is not diag(eigenvalues)"
    err = float(np.max(np.abs(np.linalg.eigvalsh(cov) - np.sort(lam))))
    return None if err <= ASSEMBLY_RTOL * top else f"eigenvalues off by {err:.3g}"


def _sample_inputs_valid(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    return {
        "n": int(rng.integers(2, 5)),
        "d": d,
        "rng": _seed(rng),
        "cov": _cov(rng, d),
        "batch": 3,
    }


def _verify_sample_inputs(kwargs: dict[str, Any], X: Any) -> str | None:
    """Documented: X = Z Σ^{1/2}, Z standard normal from the generator. Recover R from
    (Z, X) by least squares (batch·n >= d rows) and check R = Rᵀ, R² = Σ."""
    n, d, batch = int(kwargs["n"]), int(kwargs["d"]), kwargs.get("batch")
    shape = (n, d) if batch is None else (int(batch), n, d)
    X = np.asarray(X)
    if X.shape != shape:
        return f"shape {X.shape} != {shape}"
    if kwargs["rng"] is None:
        return None
    Z = np.random.default_rng(kwargs["rng"]).standard_normal(shape)
    cov = kwargs.get("cov")
    if cov is None:
        return None if np.array_equal(X, Z) else "cov=None is not the standard normal draw"
    sig = np.asarray(cov, dtype=np.float64)
    Zf, Xf = Z.reshape(-1, d), X.reshape(-1, d)
    if Zf.shape[0] < d:
        return None
    root = np.linalg.lstsq(Zf, Xf, rcond=None)[0]
    top = float(np.linalg.norm(sig, 2))
    # lstsq perturbs R by ~cond(Z)·eps·‖R‖; R² then by twice that times ‖R‖ = √‖Σ‖.
    tol = 4.0 * ASSEMBLY_RTOL * float(np.linalg.cond(Zf)) * top
    err = float(np.max(np.abs(root @ root - sig)))
    asym = float(np.max(np.abs(root - root.T)))
    if err > tol or asym > tol / max(math.sqrt(top), 1e-300):
        return f"X is not Z Sigma^(1/2): |R R - Sigma| = {err:.3g}, |R - R^T| = {asym:.3g}"
    return None


def _unit_vector_valid(rng: np.random.Generator) -> dict[str, Any]:
    return {"d": int(rng.integers(1, 7)), "rng": _seed(rng)}


def _verify_unit_vector(kwargs: dict[str, Any], v: Any) -> str | None:
    v = np.asarray(v)
    if v.shape != (int(kwargs["d"]),):
        return f"shape {v.shape}"
    err = abs(float(np.linalg.norm(v)) - 1.0)
    return None if err <= ASSEMBLY_RTOL else f"norm differs from 1 by {err:.3g}"


def _sphere_valid(rng: np.random.Generator) -> dict[str, Any]:
    return {"n": int(rng.integers(1, 5)), "d": int(rng.integers(1, 7)), "rng": _seed(rng)}


def _verify_sphere(kwargs: dict[str, Any], X: Any) -> str | None:
    X = np.asarray(X)
    if X.shape != (int(kwargs["n"]), int(kwargs["d"])):
        return f"shape {X.shape}"
    err = float(np.max(np.abs(np.linalg.norm(X, axis=1) - 1.0)))
    return None if err <= ASSEMBLY_RTOL else f"row norms differ from 1 by {err:.3g}"


def _teacher_valid(rng: np.random.Generator) -> dict[str, Any]:
    d = int(rng.integers(1, 7))
    return {
        "theta_s": rng.standard_normal(d),
        "alpha": float(rng.uniform(-2, 2)),
        "epsilon": float(rng.uniform(0, 1)),
        "rng": _seed(rng),
    }


def _verify_teacher(kwargs: dict[str, Any], tt: Any) -> str | None:
    """θ_T = αθ_S + εζ: linear in (θ_S, α, ε) for a fixed ζ (the same seed)."""
    ts = np.asarray(kwargs["theta_s"], dtype=np.float64)
    a, e = float(kwargs["alpha"]), float(kwargs["epsilon"])
    if kwargs["rng"] is None:
        zeta = np.zeros_like(ts)
        if e != 0.0:
            return None
    else:
        zeta = nd.synthetic_teacher(np.zeros_like(ts), 0.0, 1.0, kwargs["rng"])
    with np.errstate(over="ignore"):
        want = a * ts + e * zeta
        tol = PRODUCT_RTOL * (abs(a) * np.abs(ts) + e * np.abs(zeta))
    if not _finite(want):
        return "returned a finite teacher where alpha*theta_s + epsilon*zeta overflows"
    err = np.abs(np.asarray(tt) - want)
    if np.shape(tt) != ts.shape or not np.all(err <= tol):
        return _problem_str("teacher", tt, want, float(np.max(err)), float(np.min(tol)))
    return None


def _labels_valid(rng: np.random.Generator) -> dict[str, Any]:
    n, d = int(rng.integers(1, 5)), int(rng.integers(1, 7))
    return {
        "X": rng.standard_normal((n, d)),
        "theta_t": rng.standard_normal(d),
        "noise_std": float(rng.uniform(0, 1)),
        "rng": _seed(rng),
    }


def _verify_labels(kwargs: dict[str, Any], y: Any) -> str | None:
    """y = Xθ_T + σξ: the clean part by NumPy, ξ from the same seed at θ_T = 0, σ = 1."""
    X = np.asarray(kwargs["X"], dtype=np.float64)
    tt = np.asarray(kwargs["theta_t"], dtype=np.float64)
    sd = float(kwargs["noise_std"])
    if kwargs["rng"] is None and sd != 0.0:
        return None
    xi = (
        np.zeros(X.shape[:-1]) if sd == 0.0 else nd.labels(X, np.zeros_like(tt), 1.0, kwargs["rng"])
    )
    with np.errstate(over="ignore", invalid="ignore"):
        want = X @ tt + sd * xi
        tol = PRODUCT_RTOL * (np.abs(X) @ np.abs(tt) + sd * np.abs(xi))
    if not _finite(want):
        return "returned finite labels where X theta_t + noise overflows float64"
    err = np.abs(np.asarray(y) - want)
    if np.shape(y) != want.shape or not np.all(err <= tol):
        return _problem_str("labels", y, want, float(np.max(err)), float(np.min(tol)))
    return None


# --------------------------------------------------------------------------------------
# numeric.realdata
# --------------------------------------------------------------------------------------


def _digits_valid(rng: np.random.Generator) -> dict[str, Any]:
    return {"components": int(rng.integers(1, nrd.NON_CONSTANT_PIXELS + 1))}


def _verify_digits(kwargs: dict[str, Any], tasks: nrd.DigitsTasks) -> str | None:
    comp = kwargs["components"]
    d = nrd.NON_CONSTANT_PIXELS if comp is None else int(comp)
    X = tasks.X
    if X.shape != (1797, d) or tasks.teachers.shape != (10, d) or tasks.labels.shape != (10, 1797):
        return f"shapes X {X.shape}, teachers {tasks.teachers.shape}, labels {tasks.labels.shape}"
    resid = tasks.labels - tasks.teachers @ X.T
    normal = X.T @ resid.T  # XᵀX θ_c − Xᵀ labels_c = 0 at the least-squares fit
    size = float(np.linalg.norm(X) ** 2 * np.max(np.abs(tasks.teachers))) + float(
        np.linalg.norm(X) * np.max(np.abs(tasks.labels))
    )
    if float(np.max(np.abs(normal))) > DIGITS_RTOL * size:
        return "teachers are not the least-squares fits (normal equations fail)"
    if not np.allclose(tasks.cov, X.T @ X / X.shape[0], rtol=1e-12, atol=1e-14):
        return "cov is not X^T X / N"
    if not np.allclose(tasks.noise_var, np.mean(resid**2, axis=1), rtol=1e-12, atol=1e-15):
        return "noise_var is not the mean squared residual"
    return None


# --------------------------------------------------------------------------------------
# The targets
# --------------------------------------------------------------------------------------


def _checked(
    verify: Callable[[dict[str, Any], Any], str | None],
) -> Callable[[dict[str, Any], Any], str | None]:
    """``verify`` with NumPy's floating-point warnings off (the references may overflow on
    purpose, to tell a representable true value from one that is not). An exception it
    raises is reported by the harness as a defect of the call it was checking."""

    def run(kwargs: dict[str, Any], value: Any) -> str | None:
        with np.errstate(all="ignore"):
            return verify(kwargs, value)

    return run


_RNG_NONE = frozenset({("rng", "none")})  # documented: None means fresh OS entropy

TARGETS: list[Target] = [
    # numeric.linear ------------------------------------------------------------------
    Target(
        nl.fine_tune,
        _fine_tune_valid("gd", with_step=True),
        solved=_unmoved_start_solves,
        verify=_checked(_verify_fine_tune),
    ),
    Target(
        nl.fine_tune,
        _fine_tune_valid("cg", with_step=False),
        solved=_unmoved_start_solves,
        verify=_checked(_verify_fine_tune),
    ),
    Target(
        nl.fine_tune_many,
        _fine_tune_many_valid("gd", shared=True),
        solved=_unmoved_start_solves,
        verify=_checked(_verify_fine_tune_many),
    ),
    Target(
        nl.fine_tune_many,
        _fine_tune_many_valid("cg", shared=False),
        solved=_unmoved_start_solves,
        verify=_checked(_verify_fine_tune_many),
    ),
    Target(nl.loss, _loss_valid, verify=_checked(_verify_loss)),
    Target(nl.loss_gradient, _loss_valid, verify=_checked(_verify_loss_gradient)),
    Target(
        nl.estimated_steps, _estimated_steps_valid("gd"), verify=_checked(_verify_estimated_steps)
    ),
    Target(
        nl.estimated_steps, _estimated_steps_valid("cg"), verify=_checked(_verify_estimated_steps)
    ),
    Target(
        nl.quadratic_risk,
        _quadratic_valid,
        scaled=_quadratic_scaled,
        verify=_checked(_verify_quadratic),
    ),
    Target(
        nl.population_risk_mc,
        _population_valid,
        accepts=_RNG_NONE,
        verify=_checked(_verify_population),
    ),
    Target(
        nl.expected_risk_mc, _expected_valid, accepts=_RNG_NONE, verify=_checked(_verify_expected)
    ),
    # numeric.data ----------------------------------------------------------------------
    Target(
        nd.as_generator,
        _as_generator_valid,
        accepts=_RNG_NONE,
        verify=_checked(_verify_as_generator),
    ),
    Target(nd.spectrum, _spectrum_valid, verify=_checked(_verify_spectrum)),
    Target(
        nd.random_orthogonal,
        _orthogonal_valid,
        accepts=_RNG_NONE,
        verify=_checked(_verify_orthogonal),
    ),
    Target(
        nd.cov_from_spectrum, _cov_from_spectrum_valid, verify=_checked(_verify_cov_from_spectrum)
    ),
    Target(
        nd.sample_inputs,
        _sample_inputs_valid,
        accepts=_RNG_NONE,
        verify=_checked(_verify_sample_inputs),
    ),
    Target(
        nd.random_unit_vector,
        _unit_vector_valid,
        accepts=_RNG_NONE,
        verify=_checked(_verify_unit_vector),
    ),
    Target(nd.sample_sphere, _sphere_valid, accepts=_RNG_NONE, verify=_checked(_verify_sphere)),
    Target(
        nd.synthetic_teacher, _teacher_valid, accepts=_RNG_NONE, verify=_checked(_verify_teacher)
    ),
    Target(nd.labels, _labels_valid, accepts=_RNG_NONE, verify=_checked(_verify_labels)),
    # numeric.realdata ------------------------------------------------------------------
    Target(
        nrd.load_digit_tasks,
        _digits_valid,
        # Documented: None keeps all 61 standardised pixels unrotated.
        accepts=frozenset({("components", "none")}),
        verify=_checked(_verify_digits),
    ),
]

EXEMPT: dict[str, str] = {
    "numeric.linear.DEFAULT_RTOL": "a constant",
    "numeric.linear.METHODS": "a constant (the method names)",
    "numeric.linear.Method": "a typing alias",
    "numeric.linear.GDResult": "a plain result record the trainers build; it validates nothing",
    "numeric.linear.MonteCarloEstimate": "a plain result record; it validates nothing",
    "numeric.data.SpectrumKind": "a typing alias",
    "numeric.data.MAX_ENTRIES": "a constant (the size cap of one generated array)",
    "numeric.realdata.NON_CONSTANT_PIXELS": "a constant",
    "numeric.realdata.DigitsTasks": "a plain result record; it validates nothing",
}


def _ids(targets: list[Target]) -> list[str]:
    """The function's name, plus the method where one function has a target per method."""
    out = []
    for t in targets:
        method = t.valid(np.random.default_rng(0)).get("method")
        out.append(f"{t.name}[{method}]" if method else t.name)
    return out


@pytest.mark.parametrize("target", TARGETS, ids=_ids(TARGETS))
def test_fuzzed_calls_are_correct_or_refused(target: Target) -> None:
    fuzz_test(target, MAX_EXAMPLES)()


def test_every_public_name_is_fuzzed_or_exempt() -> None:
    fuzzed = {t.name for t in TARGETS}
    for module in (nl, nd, nrd):
        for name in module.__all__:
            qualified = f"{module.__name__}.{name}"
            assert (qualified in fuzzed) != (qualified in EXEMPT), qualified
    # The package's deprecated aliases serve the fuzzed objects themselves.
    with pytest.deprecated_call():
        assert numeric.fine_tune is nl.fine_tune
    with pytest.deprecated_call():
        assert numeric.fine_tune_many is nl.fine_tune_many
    assert set(EXEMPT) <= {f"{m.__name__}.{n}" for m in (nl, nd, nrd) for n in m.__all__}
