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


#: Two-sided confidence of the bands drawn around fitted rates.
BAND_CONFIDENCE = 0.95


@dataclass(frozen=True)
class LogLogFit:
    """Least-squares line log10 y = intercept + slope·log10 x through k points.

    ``slope_se`` is the slope's standard error s/√Sxx (s² the residual variance with
    k − 2 degrees of freedom, Sxx = Σ(log10 x − mean)²); ``mean_x``, ``mean_y`` the
    centroid in log10 space (where a reference slope is anchored); ``s`` the residual
    standard deviation; ``sxx``; ``dof`` = k − 2.
    """

    slope: float
    intercept: float
    slope_se: float
    mean_x: float
    mean_y: float
    s: float
    sxx: float
    dof: int
    count: int

    def line(self, x: FloatArray) -> FloatArray:
        """The fitted y at ``x`` (original units)."""
        lx = np.log10(np.asarray(x, dtype=np.float64))
        return np.asarray(10.0 ** (self.intercept + self.slope * lx))

    def band(
        self, x: FloatArray, confidence: float = BAND_CONFIDENCE
    ) -> tuple[FloatArray, FloatArray]:
        """Pointwise ``confidence`` band of the fitted mean line at ``x``: in log10 space
        ŷ ± t_{dof}·s·√(1/k + (log10 x − mean_x)²/Sxx) (t the two-sided Student quantile)."""
        from scipy.stats import t as student

        lx = np.log10(np.asarray(x, dtype=np.float64))
        half = float(student.ppf(0.5 + confidence / 2, self.dof)) * self.s
        half_width = half * np.sqrt(1.0 / self.count + (lx - self.mean_x) ** 2 / self.sxx)
        centre = self.intercept + self.slope * lx
        return np.asarray(10.0 ** (centre - half_width)), np.asarray(10.0 ** (centre + half_width))

    def reference(self, x: FloatArray, slope: float) -> FloatArray:
        """A line of the given (theoretical) ``slope`` through the fit's centroid."""
        lx = np.log10(np.asarray(x, dtype=np.float64))
        return np.asarray(10.0 ** (self.mean_y + slope * (lx - self.mean_x)))


def loglog_fit(x: FloatArray, y: FloatArray) -> LogLogFit:
    """Fit log10 y = a + b·log10 x by least squares over the points with x, y > 0 and finite
    (replicates at the same x all count). Raises ValueError with fewer than 3 such points or
    fewer than 2 distinct x (no slope or no residual degrees of freedom)."""
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    keep = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    lx, ly = np.log10(xa[keep]), np.log10(ya[keep])
    if lx.size < 3 or np.unique(lx).size < 2:
        raise ValueError(
            f"a log-log fit needs >= 3 positive points at >= 2 distinct x, got {lx.size} "
            f"points at {np.unique(lx).size} x"
        )
    mx, my = float(lx.mean()), float(ly.mean())
    sxx = float(np.sum((lx - mx) ** 2))
    slope = float(np.sum((lx - mx) * (ly - my)) / sxx)
    intercept = my - slope * mx
    dof = int(lx.size - 2)
    s = float(math.sqrt(np.sum((ly - intercept - slope * lx) ** 2) / dof))
    return LogLogFit(slope, intercept, s / math.sqrt(sxx), mx, my, s, sxx, dof, int(lx.size))
