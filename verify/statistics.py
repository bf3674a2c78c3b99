"""Power of the Monte Carlo claims: the smallest bias a check detects, and variance reduction.

A Monte Carlo check passes when |mean − formula| ≤ z·SE + floor with z = :data:`MC_Z`
(false-alarm probability 6e-7 per example for a normal mean). If the formula were off by a
relative bias b, i.e. the truth were formula·(1 + b), the check would fail with probability
≥ 0.99 once b·|mean| ≥ (z + z₀.₉₉)·SE + floor. :func:`detectable_bias` is that smallest b,
computed from the run's own standard error (never from the formula under test), and every
Monte Carlo claim prints it. The headline claims size their samples from a pilot variance
so that it stays ≤ :data:`POWER_TARGET`.

Variance reduction: :func:`control_variate_mean` removes the part of the samples' spread
explained by statistics with exactly known means (regression control variates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from finetune_theory.checks import FloatArray

#: Standard errors a Monte Carlo check allows (false-alarm probability 6e-7 per example).
MC_Z = 5.0
#: One-sided normal quantile for detection with probability 0.99.
Z_DETECT = 2.3263478740408408
#: The largest relative bias the headline Monte Carlo claims must be able to detect.
POWER_TARGET = 0.02


def detectable_bias(stderr: float, mean: float, floor: float = 0.0, z: float = MC_Z) -> float:
    """Smallest relative bias b with P(detect) ≥ 0.99: ((z + z₀.₉₉)·SE + floor)/|mean|."""
    if mean == 0.0 or not math.isfinite(mean):
        return math.inf
    return ((z + Z_DETECT) * stderr + floor) / abs(mean)


def samples_for(relative_sd: float, target: float = POWER_TARGET, z: float = MC_Z) -> int:
    """Samples M with (z + z₀.₉₉)·relative_sd/√M ≤ target (relative_sd per sample)."""
    if not math.isfinite(relative_sd):
        raise ValueError(f"relative_sd must be finite, got {relative_sd}")
    return max(2, math.ceil(((z + Z_DETECT) * relative_sd / target) ** 2))


@dataclass(frozen=True)
class Estimate:
    """A (possibly control-variate adjusted) Monte Carlo mean, its standard error, the
    number of samples and the variance reduction factor (plain variance / adjusted)."""

    mean: float
    stderr: float
    samples: int
    reduction: float = 1.0


def plain_mean(values: FloatArray) -> Estimate:
    """Mean and s/√M."""
    v = np.asarray(values, dtype=np.float64)
    return Estimate(float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)), int(v.size))


def control_variate_mean(values: FloatArray, controls: FloatArray) -> Estimate:
    """Regression control variates: ``controls`` (M, c) are statistics with known mean 0.

    The adjusted samples v − Cβ (β the least-squares coefficient of v on C) have the same
    expectation as v up to O(1/M) (β is estimated from the same samples) and a variance
    smaller by 1 − R²; the standard error uses M − c − 1 degrees of freedom.
    """
    v = np.asarray(values, dtype=np.float64)
    c = np.asarray(controls, dtype=np.float64).reshape(v.size, -1)
    m, k = c.shape
    if m <= k + 2:
        return plain_mean(v)
    design = np.column_stack([np.ones(m), c])
    coef, *_ = np.linalg.lstsq(design, v, rcond=None)
    residual = v - design @ coef
    adjusted_var = float(residual @ residual) / (m - k - 1)
    plain_var = float(v.var(ddof=1))
    mean = float(coef[0])  # = mean(v) − β·mean(C): the controls' sample means pulled to 0
    return Estimate(
        mean,
        math.sqrt(adjusted_var / m),
        m,
        plain_var / adjusted_var if adjusted_var > 0 else math.inf,
    )
