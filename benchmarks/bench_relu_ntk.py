"""Timings of the ReLU-NTK slice (docs/theory.md §3); speed targets are measured here, not asserted.

Run: ``python benchmarks/bench_relu_ntk.py [--repeats R]``. The headline number is the
empirical NTK Gram matrix of a width m = 10⁴ network on n = 200 inputs in d = 50 dimensions
(target: well under a second). Prints the median and the best of R repeats, after one warm-up
call (the first BLAS call starts its thread pool). On a machine whose other core is busy,
multi-threaded OpenBLAS can stall for whole scheduler slices; compare with
``OPENBLAS_NUM_THREADS=1``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import numeric.data as nd
import numeric.relu_ntk as nr
import symbolic.relu_ntk as sr


def _time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    m, n, d = 10_000, 200, 50
    X = nd.sample_sphere(n, d, 0)
    net = nr.init_network(m, d, 1)
    y = X @ nd.random_unit_vector(d, 2)
    cases: list[tuple[str, Callable[[], object]]] = [
        (f"empirical NTK, first layer (m={m}, n={n}, d={d})", lambda: nr.empirical_ntk(net, X)),
        (
            f"empirical NTK, both layers (m={m}, n={n}, d={d})",
            lambda: nr.empirical_ntk(net, X, layers="both"),
        ),
        (f"H^inf closed form, stable angle (n={n}, d={d})", lambda: sr.first_layer_ntk(X)),
        (f"full NTK closed form (n={n}, d={d})", lambda: sr.full_ntk(X)),
        (f"Monte Carlo H^inf, M=10^4 draws (n={n}, d={d})", lambda: nr.monte_carlo_gram(X, m, 3)),
        (
            f"one loss + gradient evaluation (m={m}, n={n}, d={d})",
            lambda: nr.loss_gradient(X, y, net),
        ),
        (
            f"10 GD steps incl. step-size rule (m={m}, n={n}, d={d})",
            lambda: nr.fine_tune(X, y, net, rtol=1e-300, max_steps=10, strict=False),
        ),
    ]
    print(f"bench_relu_ntk: median / best of {args.repeats} repeats")
    for label, fn in cases:
        median, best = _time(fn, args.repeats)
        print(f"  {label:<58} {median * 1e3:9.1f} ms  (best {best * 1e3:.1f} ms)")
    K = nr.empirical_ntk(net, X)
    rms = float(np.sqrt(np.mean((K - sr.first_layer_ntk(X)) ** 2)))
    print(f"  RMS |K_m - H^inf| at m={m}: {rms:.2e} (O(1/sqrt(m)))")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
