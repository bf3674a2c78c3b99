"""Benchmark: wall time of ``python -m verify figures`` at the quick and full sizes.

Targets (2-core machine): every figure at ``--size full`` (the paper's d = 1000, n = 100
for Figure 2a/2b, 10 designs per point) in <= 15 minutes; ``--size quick`` in <= 1 minute.

1. End to end: ``python -m verify figures --size SIZE --jobs 2 --out TMP`` in a subprocess
   (BLAS pinned to one thread per process), the wall time a user waits, PNGs included.
2. Per figure: each figure built and drawn in this process, one after another (so the
   times add up to the sequential cost; the ``--jobs 2`` run above overlaps them).
3. The lever of the full-size Figure 2: one of its training runs (d = 1000, n = 100,
   N = 7, hidden width 50) with the previous figure trainer (fixed-step RK4, flow_cfl 0.5,
   gradient rtol 1e-8) against the current one (fine_tune's default adaptive flow on the
   balanced chain's invariant set, tol 1e-10), interleaved, best of ``--repeats``; both
   compared with the D3 closed form (accuracy is measured, not assumed).

Run: python benchmarks/bench_figures.py [--sizes quick,full] [--repeats 3] [--skip-lever]
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

TARGET_SECONDS = {"quick": 60.0, "full": 15 * 60.0}


def end_to_end(size: str, jobs: int) -> float:
    """Wall seconds of the figures command at ``size`` with ``jobs`` processes."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "verify", "figures", "--size", size, "--jobs", str(jobs)]
        start = time.perf_counter()
        subprocess.run([*cmd, "--no-progress", "--out", out], check=True, capture_output=True)
        return time.perf_counter() - start


def per_figure(size: str) -> dict[str, tuple[float, dict[str, Any]]]:
    """Figure name -> (seconds to build and draw it, its summary numbers)."""
    from verify.figures import all_figures, build_figure, plot, write_numbers

    times: dict[str, tuple[float, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as out:
        for name in all_figures():
            start = time.perf_counter()
            data = build_figure(name, size)  # type: ignore[arg-type]
            write_numbers(data, Path(out))
            plot(data, Path(out))
            times[name] = (time.perf_counter() - start, data.summary)
    return times


def lever(repeats: int) -> None:
    """One full-size Figure 2 training run: previous RK4 trainer vs the adaptive flow."""
    import numeric.data as nd
    import numeric.deep_linear as ndl
    import symbolic.deep_linear as sdl

    d, n, depth, width = 1000, 100, 7, 50
    rng = np.random.default_rng(0)
    theta_s = nd.random_unit_vector(d, rng)
    theta_t = nd.synthetic_teacher(theta_s, 2.0, 0.3, rng)
    X = nd.sample_inputs(n, d, rng)
    y = X @ theta_t
    want = sdl.finetuned_end_to_end(X, y, theta_s, depth)
    weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(d, width, depth), 0)
    methods = {
        "old: RK4, flow_cfl 0.5, rtol 1e-8": {"flow_cfl": 0.5, "rtol": 1e-8},
        "new: adaptive flow, tol 1e-10": {"tol": 1e-10},
    }
    best = dict.fromkeys(methods, float("inf"))
    errors: dict[str, float] = {}
    for _ in range(repeats):
        for label, options in methods.items():
            start = time.perf_counter()
            run = ndl.fine_tune(X, y, [w.copy() for w in weights], **options)  # type: ignore[arg-type]
            best[label] = min(best[label], time.perf_counter() - start)
            errors[label] = float(np.linalg.norm(run.end_to_end - want) / np.linalg.norm(want))
    setting = f"d = {d}, n = {n}, N = {depth}, width {width}"
    print(f"\none Figure 2 training run ({setting}), best of {repeats}:")
    for label in methods:
        print(f"  {label:36s} {best[label]:8.3f} s   rel. error vs D3 {errors[label]:.1e}")
    old, new = best.values()
    print(f"  speed-up old/new: {old / new:.0f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="quick,full", help="comma list of figure sizes")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the end-to-end run")
    parser.add_argument("--repeats", type=int, default=3, help="best-of count for the lever")
    parser.add_argument("--skip-lever", action="store_true", help="skip part 3")
    args = parser.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, BLAS 1 thread")
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        wall = end_to_end(size, args.jobs)
        verdict = "meets" if wall <= TARGET_SECONDS[size] else "MISSES"
        print(
            f"\n--size {size}: all figures, --jobs {args.jobs}: {wall:.1f} s wall "
            f"({verdict} the {TARGET_SECONDS[size]:.0f} s target)"
        )
        for name, (seconds, summary) in per_figure(size).items():
            gaps = {k: v for k, v in summary.items() if "gap" in k or "z_" in k}
            shown = ", ".join(f"{k}={v:.3g}" for k, v in gaps.items() if isinstance(v, float))
            print(f"  {name:26s} {seconds:7.1f} s  {shown}")
    if not args.skip_lever:
        lever(args.repeats)


if __name__ == "__main__":
    main()
