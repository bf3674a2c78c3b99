"""Explore where the theorems stop holding: relax one hypothesis, measure the disagreement.

Each exploration sweeps one knob that a theorem assumes away and records the gap between
the closed form (symbolic side) and training (numeric side), instead of failing:

* ``imbalance`` — D3 assumes balanced pretrained weights; pretrain from larger random
  initialisations and measure the gap against the relative imbalance.
* ``step-size`` — D3 is a gradient-flow statement; run plain GD with steps up to the
  stability limit and measure the gap against η.
* ``width`` — K3 holds at infinite width; fine-tune two-layer ReLU networks of growing width
  and measure the gap to the kernel predictor against m.
* ``n-near-d`` — L4 is an n, d → ∞ statement; at finite d, train on n samples as n → d and
  measure the gap to the asymptotic risk against d − n.

Every exploration returns a plain dict (x, y, labels, fitted log-log slope, summary) that
``python -m verify explore`` prints and, with ``--report DIR``, writes to ``DIR/explore.json``,
``DIR/explore.md`` and ``DIR/explore-NAME.png`` (:func:`verify.report.write_explore`; a
campaign report in the same folder is left alone). ``python -m verify --explore --report DIR``
puts them inside the campaign's report.json/report.md instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

import numeric.data as nd
import numeric.deep_linear as ndl
import numeric.linear as nl
import numeric.relu_ntk as nr
import symbolic.deep_linear as sdl
import symbolic.linear as sl
import symbolic.relu_ntk as sr
from finetune_theory.checks import FloatArray
from finetune_theory.errors import ConvergenceError
from verify.claim import relative_error
from verify.statistics import loglog_fit

Size = Literal["tiny", "quick", "full"]
Exploration = Callable[[Size, int], dict[str, Any]]

EXPLORATIONS: dict[str, tuple[str, Exploration]] = {}


def exploration(name: str, description: str) -> Callable[[Exploration], Exploration]:
    def register(fn: Exploration) -> Exploration:
        EXPLORATIONS[name] = (description, fn)
        return fn

    return register


def _slope(x: list[float], y: list[float]) -> float | None:
    """Least-squares log-log slope over the finite positive points
    (:func:`verify.statistics.loglog_fit`, the fit the explore figures draw), or None with
    fewer than 3 such points."""
    try:
        return loglog_fit(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)).slope
    except ValueError:
        return None


def _result(
    name: str,
    title: str,
    relaxed: str,
    xlabel: str,
    ylabel: str,
    x: list[float],
    y: list[float],
    setting: dict[str, Any],
    summary: str,
    xscale: str = "log",
    yscale: str = "log",
    reference: tuple[list[float], str] | None = None,
    expected_slope: float | None = None,
) -> dict[str, Any]:
    """One exploration's curve; ``expected_slope``: the log-log slope its error model
    predicts (drawn by the figure as a reference line through the fit), None if none."""
    clean = [v if math.isfinite(v) else None for v in y]
    slope = _slope(x, y)
    return {
        "name": name,
        "title": title,
        "relaxed": relaxed,
        "xlabel": xlabel,
        "ylabel": ylabel,
        "x": [float(v) for v in x],
        "y": [float(v) if v is not None else float("nan") for v in clean],
        "xscale": xscale,
        "yscale": yscale,
        "slope": slope,
        "setting": setting,
        "summary": summary + (f" Fitted log-log slope {slope:.2f}." if slope is not None else ""),
        "reference_y": [float(v) for v in reference[0]] if reference else None,
        "reference_label": reference[1] if reference else None,
        "expected_slope": expected_slope,
    }


def _deep_task(
    d: int, n: int, seed: int
) -> tuple[FloatArray, FloatArray, FloatArray, np.random.Generator]:
    """(θ_S, X, y, rng) for the deep-linear explorations: θ_T = 1.5θ_S + 0.5ζ, no noise."""
    rng = np.random.default_rng(seed)
    theta_s = nd.random_unit_vector(d, rng)
    X = nd.sample_inputs(n, d, rng)
    return theta_s, X, X @ nd.synthetic_teacher(theta_s, 1.5, 0.5, rng), rng


@exploration("imbalance", "D3 without balance: gap vs pretrained imbalance (deep linear)")
def explore_imbalance(size: Size, seed: int) -> dict[str, Any]:
    d, n, depth, width = (8, 3, 2, 4) if size == "tiny" else (12, 4, 3, 6)
    scales = list(np.geomspace(0.02, 1.0, 3 if size == "tiny" else 7 if size == "quick" else 12))
    theta_s, X, y, _ = _deep_task(d, n, seed)
    widths = ndl.uniform_widths(d, width, depth)
    xs, ys = [], []
    for scale in scales:
        weights = ndl.pretrain(theta_s, widths, seed, init_scale=float(scale))
        want = sdl.finetuned_end_to_end(X, y, ndl.end_to_end(weights), depth)
        # A fine RK4 step (h·λ̂ = 0.125): the flow's own error stays ~1e-7, below the gaps.
        got = ndl.fine_tune(X, y, weights, solver="flow", flow_cfl=0.125, rtol=1e-12).end_to_end
        xs.append(ndl.imbalance(weights))
        ys.append(relative_error(got, want))
    return _result(
        "imbalance",
        f"Deep linear (N = {depth}): closed form D3 vs gradient flow from pretrained weights",
        "balanced initialisation (D2/D3)",
        "relative imbalance of the pretrained weights",
        "relative gap |w_flow − w_D3| / |w_D3|",
        xs,
        ys,
        {
            "d": d,
            "n": n,
            "depth": depth,
            "width": width,
            "seed": seed,
            "init_scales": [float(s) for s in scales],
        },
        f"The gap grows from {min(ys):.1e} to {max(ys):.1e} as the imbalance grows from "
        f"{min(xs):.1e} to {max(xs):.1e}: linear for small imbalance, faster beyond ~0.1.",
        expected_slope=1.0,  # first order in the perturbation of the balanced start
    )


@exploration("step-size", "D3 with finite steps: GD gap vs step size (deep linear)")
def explore_step_size(size: Size, seed: int) -> dict[str, Any]:
    d, n, depth, width = (8, 3, 3, 4) if size == "tiny" else (12, 4, 4, 6)
    fractions = list(np.geomspace(0.01, 0.9, 3 if size == "tiny" else 8 if size == "quick" else 14))
    theta_s, X, y, rng = _deep_task(d, n, seed)
    weights = ndl.balanced_weights(theta_s, ndl.uniform_widths(d, width, depth), rng)
    want = sdl.finetuned_end_to_end(X, y, theta_s, depth)
    # The default GD step is a quarter of the local stability limit 2/λ̂ at the start.
    limit = ndl.fine_tune(X, y, weights, solver="gd", max_steps=0, strict=False).step * 4
    xs, ys = [], []
    for f in fractions:
        try:
            got = ndl.fine_tune(X, y, weights, solver="gd", step=float(f) * limit).end_to_end
            ys.append(relative_error(got, want))
        except ConvergenceError:
            ys.append(float("inf"))
        xs.append(float(f))
    finite = [v for v in ys if math.isfinite(v)]
    return _result(
        "step-size",
        f"Deep linear (N = {depth}): closed form D3 (gradient flow) vs plain GD",
        "infinitesimal step (gradient flow)",
        "step η as a fraction of the stability limit 2/λ̂",
        "relative gap |w_GD − w_D3| / |w_D3|",
        xs,
        ys,
        {"d": d, "n": n, "depth": depth, "width": width, "seed": seed},
        f"The gap is O(η): from {min(finite):.1e} at η = {xs[0]:.2g}·limit to {max(finite):.1e} "
        f"at {xs[len(finite) - 1]:.2g}·limit"
        + ("; beyond that GD diverged." if len(finite) < len(ys) else "."),
        expected_slope=1.0,  # GD is O(η) from the flow it discretises
    )


@exploration("width", "K3 at finite width: network vs kernel predictor gap vs width (ReLU NTK)")
def explore_width(size: Size, seed: int) -> dict[str, Any]:
    d, n = 6, 8
    widths = [64, 256, 1024] if size == "tiny" else [64, 128, 256, 512, 1024, 2048, 4096, 8192]
    rng = np.random.default_rng(seed)
    theta_s = nd.random_unit_vector(d, rng)
    theta_t = nd.synthetic_teacher(theta_s, 1.0, 0.5, rng)
    X_source = nd.sample_sphere(3 * d, d, rng)
    X = nd.sample_sphere(n, d, rng)
    X_test = nd.sample_sphere(64, d, rng)
    y = X @ theta_t
    xs, ys = [], []
    for k, m in enumerate(widths):
        source = nr.pretrain(X_source, theta_s, m, np.random.default_rng([seed, k]), rtol=1e-3)
        f_s, f_s_test = source.network(X), source.network(X_test)
        got = nr.fine_tune(X, y, source.network, rtol=1e-8).network(X_test)
        want = sr.finetuned_predictor(X, y, f_s, X_test, f_s_test)
        xs.append(float(m))
        ys.append(float(np.sqrt(np.mean((got - want) ** 2) / np.mean((want - f_s_test) ** 2))))
    return _result(
        "width",
        "ReLU network fine-tuned by GD vs the NTK (H^∞) kernel predictor",
        "infinite width (NTK regime)",
        "width m",
        "relative RMS gap on held-out points",
        xs,
        ys,
        {"d": d, "n": n, "widths": widths, "seed": seed},
        f"The gap falls from {ys[0]:.2e} at m = {widths[0]} to {ys[-1]:.2e} at m = {widths[-1]} "
        "(theory: m^(-1/2)).",
        expected_slope=-0.5,
    )


@exploration("n-near-d", "L4 at finite size: trained risk vs asymptotic risk as n -> d")
def explore_n_near_d(size: Size, seed: int) -> dict[str, Any]:
    d = {"tiny": 30, "quick": 40, "full": 80}[size]
    gaps_dn = {"tiny": [15, 8], "quick": [24, 12, 8, 6, 5], "full": [48, 32, 24, 16, 12, 8, 6, 5]}[
        size
    ]
    designs = {"tiny": 40, "quick": 200, "full": 1000}[size]
    sigma = 1.0
    rng = np.random.default_rng(seed)
    theta_t = nd.random_unit_vector(d, rng)
    theta_s = theta_t + 0.5 * nd.random_unit_vector(d, rng)
    lam = np.ones(d)
    xs, ys, ses, exact, zs = [], [], [], [], []
    delta_sq = float(np.sum((theta_s - theta_t) ** 2))
    for k in gaps_dn:
        n = d - k
        bias, var = sl.asymptotic_risk(lam, theta_s - theta_t, d / n, sigma**2)
        est = nl.expected_risk_mc(
            theta_s, theta_t, n, rng, noise_std=sigma, designs=designs, rtol=1e-6
        )
        finite = sl.expected_risk_isotropic(delta_sq, n=n, d=d, noise_var=sigma**2)
        xs.append(float(k))
        ys.append(abs(est.mean - (bias + var)) / (bias + var))
        ses.append(est.stderr / (bias + var))
        exact.append(abs(finite - (bias + var)) / (bias + var))
        zs.append((est.mean - finite) / est.stderr)
    return _result(
        "n-near-d",
        f"Linear regression (d = {d}, σ = {sigma:g}): GD risk over {designs} designs "
        "vs the L4 asymptotic risk",
        "proportional limit n, d → ∞",
        "d − n",
        "relative gap |risk_MC − risk_L4| / risk_L4",
        xs,
        ys,
        {
            "d": d,
            "sigma": sigma,
            "designs": designs,
            "seed": seed,
            "relative_stderr": ses,
            "z_vs_exact": zs,
        },
        "The asymptotic formula misses the exact finite-n variance σ²n/(d − n − 1) by a factor "
        "(d − n)/(d − n − 1): the gap grows like 1/(d − n) as n → d (the reference curve is "
        f"the exact L3 formula's gap); the trained points differ from the exact L3 value by at "
        f"most {max(abs(z) for z in zs):.1f} Monte Carlo standard errors (heavy-tailed as n → d).",
        reference=(exact, "exact finite-n risk (L3) vs L4"),
    )


def run_explorations(
    names: list[str],
    size: Size = "quick",
    seed: int = 0,
    on_start: Callable[[int, str], None] | None = None,
    on_result: Callable[[int, dict[str, Any], float], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the named explorations (all when empty), in registry order.

    Unknown names raise ValueError before anything runs. ``on_start(i, name)`` is called
    before exploration ``i`` (0-based) and ``on_result(i, result, seconds)`` as soon as it
    finishes (progress, and the finished ones when a run is interrupted).
    """
    unknown = [n for n in names if n not in EXPLORATIONS]
    if unknown:
        raise ValueError(
            f"unknown exploration(s) {unknown}; valid names: {', '.join(EXPLORATIONS)}"
        )
    chosen = names or list(EXPLORATIONS)
    results: list[dict[str, Any]] = []
    for i, name in enumerate(chosen):
        if on_start is not None:
            on_start(i, name)
        start = time.perf_counter()
        result = EXPLORATIONS[name][1](size, seed)
        results.append(result)
        if on_result is not None:
            on_result(i, result, time.perf_counter() - start)
    return results
