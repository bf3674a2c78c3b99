"""Benchmark: fine-tuning a deep linear network to its gradient-flow limit.

Every run trains the layer parameters (numeric.deep_linear.fine_tune, default settings:
adaptive flow on the reduced width-one chain) and is compared with the D3 closed form
(symbolic.deep_linear.finetuned_end_to_end) — accuracy is measured, never assumed.

Targets (relative error vs the closed form, wall time on a 2-core machine):
1. d = 200, n = 20, N = 8, width 200: <= 1e-8 in <= 0.3 s; "old" = the previous default,
   RK4 with flow_cfl 0.5 and the legacy curvature estimate (integrator="rk4",
   flow_cfl=0.5), timed interleaved in the same run; the ratio new/old is printed, and
   the full-matrix adaptive path (reduce=False) is timed too.
2. d = 1000, n = 100, N = 8, width 1000: <= 1e-8 in <= 10 s.
3. d = 200, n = 180 (n/d = 0.9), Σ with power-law spectrum, κ(Σ) = 100: <= 1e-8 in
   <= 30 s (max_seconds=30), or a ConvergenceError saying how far it got.
4. depth 50 at d = 100 (n = 20, width 100): <= 1e-8.

Timings are the best of ``--repeats`` runs, methods interleaved. BLAS threads are pinned to
1 before NumPy is imported (matrix-vector work of size <= 1000, where threads cost more than
they save). Run: python benchmarks/bench_deep_linear.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import numeric.data as nd  # noqa: E402
import numeric.deep_linear as ndl  # noqa: E402
import symbolic.deep_linear as sdl  # noqa: E402
from finetune_theory import ConvergenceError  # noqa: E402

Problem = tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray]


def problem(
    d: int, n: int, depth: int, width: int, seed: int = 0, condition: float | None = None
) -> Problem:
    """Balanced weights of θ_S, a design X (isotropic or power-law Σ), labels, closed form."""
    rng = np.random.default_rng(seed)
    theta_s = nd.random_unit_vector(d, rng)
    theta_t = nd.synthetic_teacher(theta_s, 1.5, 0.5, rng)
    cov = None
    if condition is not None:
        cov = nd.cov_from_spectrum(nd.spectrum("power-law", d, condition), rng)
    X = nd.sample_inputs(n, d, rng, cov=cov)
    y = X @ theta_t
    weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(d, width, depth), rng)
    return weights, X, y, sdl.finetuned_end_to_end(X, y, theta_s, depth)


def timed(
    runs: dict[str, Callable[[], Any]], want: np.ndarray, repeats: int
) -> dict[str, tuple[float, str]]:
    """Best wall time of each run (interleaved) and a description of its last result."""
    best = dict.fromkeys(runs, np.inf)
    info: dict[str, str] = {}
    for _ in range(repeats):
        for name, call in runs.items():
            start = time.perf_counter()
            try:
                res = call()
            except ConvergenceError as exc:
                best[name] = min(best[name], time.perf_counter() - start)
                info[name] = f"ConvergenceError: {exc}"
                continue
            best[name] = min(best[name], time.perf_counter() - start)
            err = float(np.linalg.norm(res.end_to_end - want) / np.linalg.norm(want))
            est = "none" if res.error_estimate is None else f"{res.error_estimate:.2e}"
            info[name] = (
                f"error vs closed form {err:.2e} (estimate {est}), "
                f"{res.steps} steps, {res.evaluations} gradient evaluations, [{res.method}]"
            )
    return {k: (best[k], info[k]) for k in runs}


def report(title: str, results: dict[str, tuple[float, str]]) -> None:
    print(title)
    for name, (sec, text) in results.items():
        print(f"  {name:<30} {sec:8.3f} s  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reps = args.repeats
    print(
        f"numpy {np.__version__}, {platform.processor() or platform.machine()}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, best of {reps}"
    )

    w, X, y, want = problem(200, 20, 8, 200)
    res = timed(
        {
            "new default": lambda: ndl.fine_tune(X, y, w),
            "old (rk4, flow_cfl 0.5)": lambda: ndl.fine_tune(
                X, y, w, integrator="rk4", flow_cfl=0.5
            ),
            "full-matrix dop853": lambda: ndl.fine_tune(X, y, w, reduce=False, max_seconds=60),
            "rk4, curvature bound": lambda: ndl.fine_tune(X, y, w, integrator="rk4"),
        },
        want,
        reps,
    )
    report("1. d=200 n=20 N=8 width=200 (target <= 1e-8 in <= 0.3 s)", res)
    print(f"  ratio new/old = {res['new default'][0] / res['old (rk4, flow_cfl 0.5)'][0]:.4f}")

    w, X, y, want = problem(1000, 100, 8, 1000)
    report(
        "2. d=1000 n=100 N=8 width=1000 (target <= 1e-8 in <= 10 s)",
        timed({"new default": lambda: ndl.fine_tune(X, y, w)}, want, reps),
    )

    w, X, y, want = problem(200, 180, 8, 200, condition=100.0)
    kappa = float(np.linalg.cond(X @ X.T))
    report(
        f"3. d=200 n=180 power-law kappa(Sigma)=100, kappa(XX^T)={kappa:.3g} "
        "(target <= 1e-8 in <= 30 s)",
        timed(
            {"new default (max 30 s)": lambda: ndl.fine_tune(X, y, w, max_seconds=30.0)},
            want,
            reps,
        ),
    )

    w, X, y, want = problem(100, 20, 50, 100)
    report(
        "4. d=100 n=20 N=50 width=100 (target <= 1e-8)",
        timed({"new default": lambda: ndl.fine_tune(X, y, w)}, want, reps),
    )


if __name__ == "__main__":
    main()
