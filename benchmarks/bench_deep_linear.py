"""Benchmark: fine-tuning a deep linear network to its gradient-flow limit (issue 3 target).

Target: d = 200, n = 20, N = 8, hidden width 200 — the RK4 flow on all layer matrices
reaches relative agreement <= 1e-8 with the D3 closed form in under 2 s. Plain GD at its
default step is reported for comparison (its O(eta) bias dominates its error).

Run: python benchmarks/bench_deep_linear.py [--repeats 3]
BLAS threads are limited to 1 (set before NumPy is imported): these are matrix-vector
products of size 200, where threading costs more than it saves. Override with
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import numeric.data as nd  # noqa: E402
import numeric.deep_linear as ndl  # noqa: E402
import symbolic.deep_linear as sdl  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--width", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    theta_s = nd.random_unit_vector(args.d, rng)
    theta_t = nd.synthetic_teacher(theta_s, 1.5, 0.5, rng)
    X = nd.sample_inputs(args.n, args.d, rng)
    y = X @ theta_t
    weights = ndl.balanced_weights(theta_s, [args.d] + [args.width] * (args.depth - 1) + [1], rng)
    want = sdl.finetuned_end_to_end(X, y, theta_s, args.depth)
    print(
        f"d={args.d} n={args.n} N={args.depth} width={args.width}  "
        f"numpy {np.__version__}, {platform.processor() or platform.machine()}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )
    for solver in ("flow", "gd"):
        times, errs, steps = [], [], 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            run = ndl.fine_tune(weights, X, y, solver=solver)  # type: ignore[arg-type]
            times.append(time.perf_counter() - start)
            errs.append(float(np.linalg.norm(run.end_to_end - want) / np.linalg.norm(want)))
            steps = run.steps
        label = "RK4 flow (flow_cfl 0.5)" if solver == "flow" else f"plain GD (eta {run.step:.3g})"
        print(
            f"{label:<26} median {statistics.median(times):.3f}s (best {min(times):.3f}s) over "
            f"{args.repeats} runs, "
            f"{steps} steps, relative error vs closed form {max(errs):.2e}"
        )


if __name__ == "__main__":
    main()
