"""Benchmark: linear-regression fine-tuning to θ_FT, plain GD against conjugate gradients.

Settings: d = 200 isotropic Gaussian inputs with n/d ∈ {0.5, 0.9, 0.99}, and the digits of
scikit-learn (all 61 non-constant standardised pixels, n = 40 images; skipped if
scikit-learn is missing). Both methods start at θ_S and run to the default tolerance
(relative gradient 1e-14); the error is ‖θ − θ_FT‖/‖θ_FT‖ against the pseudo-inverse
solution θ_FT = θ_S + lstsq(X, y − Xθ_S), computed here only (numeric code never uses it).

Timings are interleaved (GD, CG, GD, CG, …) and the best of ``--repeats`` is reported, so
both methods see the same machine state; the speed ratio is GD time / CG time from the
same run. When GD exhausts ``--gd-max-steps`` it is reported as not converged, with the
relative gradient reached, and the ratio is a lower bound (marked ">=").

Run: python benchmarks/bench_linear.py [--repeats 3] [--gd-max-steps 200000]
BLAS threads are limited to 1 (set before NumPy is imported): these are matrix-vector
products of size ≤ 200, where threading costs more than it saves. Override with
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import numpy as np  # noqa: E402

import numeric.data as nd  # noqa: E402
import numeric.linear as nl  # noqa: E402

Problem = tuple[str, np.ndarray, np.ndarray, np.ndarray]


def _problems(d: int) -> Iterator[Problem]:
    rng = np.random.default_rng(0)
    for ratio in (0.5, 0.9, 0.99):
        n = round(ratio * d)
        X = nd.sample_inputs(n, d, rng)
        yield (
            f"isotropic d={d} n={n} (n/d={ratio})",
            X,
            rng.standard_normal(n),
            nd.random_unit_vector(d, rng),
        )
    try:
        from numeric.realdata import load_digit_tasks

        tasks = load_digit_tasks(components=None)
    except ImportError:
        print("digits: skipped (scikit-learn not installed)")
        return
    idx = rng.permutation(tasks.X.shape[0])[:40]
    yield (
        f"digits d={tasks.X.shape[1]} n=40 (3 -> 8)",
        tasks.X[idx],
        tasks.labels[8][idx],
        tasks.teachers[3],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--gd-max-steps", type=int, default=nl.DEFAULT_MAX_STEPS)
    args = parser.parse_args()
    print(
        f"numpy {np.__version__}, {platform.processor() or platform.machine()}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
        f"rtol={nl.DEFAULT_RTOL:g}, best of {args.repeats} interleaved runs"
    )
    for label, X, y, theta_s in _problems(args.d):
        correction, *_ = np.linalg.lstsq(X, y - X @ theta_s, rcond=None)
        want = theta_s + correction
        budgets = {"gd": args.gd_max_steps, "cg": nl.DEFAULT_MAX_STEPS}
        best = {m: float("inf") for m in nl.METHODS}
        runs: dict[str, nl.GDResult] = {}
        for _ in range(args.repeats):
            for method in nl.METHODS:
                start = time.perf_counter()
                run = nl.fine_tune(
                    X, y, theta_s, method=method, max_steps=budgets[method], strict=False
                )
                best[method] = min(best[method], time.perf_counter() - start)
                runs[method] = run
        kappa = float(runs["cg"].condition)
        print(f"{label}: kappa(XX^T) = {kappa:.3g}")
        g0 = float(np.linalg.norm(nl.loss_gradient(X, y, theta_s)[1]))
        for method in nl.METHODS:
            run = runs[method]
            err = float(np.linalg.norm(run.theta - want) / np.linalg.norm(want))
            status = (
                "converged"
                if run.all_converged
                else f"NOT converged (relative gradient {float(run.grad_norm) / g0:.2e}; "
                f"needs ~{nl.estimated_steps(kappa, nl.DEFAULT_RTOL, 'gd'):.2g} steps)"
            )
            print(
                f"  {method}: {int(run.steps):>7d} steps  {best[method]:8.4f}s  "
                f"rel. error vs lstsq {err:.2e}  {status}"
            )
        bound = "" if runs["gd"].all_converged else ">="
        print(f"  speed ratio gd/cg: {bound}{best['gd'] / best['cg']:.1f}x")


if __name__ == "__main__":
    main()
