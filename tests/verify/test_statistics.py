"""Detectable bias and control variates (verify.statistics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verify import statistics as vs


def test_detectable_bias_is_the_99_percent_power_point() -> None:
    # A bias b*|mean| = (z + z99) se: the observed deviation exceeds z se w.p. 0.99.
    b = vs.detectable_bias(0.01, 2.0)
    assert b == pytest.approx((vs.MC_Z + vs.Z_DETECT) * 0.01 / 2.0)
    rng = np.random.default_rng(0)
    draws = b * 2.0 + 0.01 * rng.standard_normal(200_000)
    assert np.mean(draws > vs.MC_Z * 0.01) == pytest.approx(0.99, abs=0.002)
    assert vs.detectable_bias(1.0, 0.0) == math.inf


def test_samples_for_reaches_the_target() -> None:
    m = vs.samples_for(0.5, 0.02)
    assert (vs.MC_Z + vs.Z_DETECT) * 0.5 / math.sqrt(m) <= 0.02
    assert (vs.MC_Z + vs.Z_DETECT) * 0.5 / math.sqrt(m - 1) > 0.02
    with pytest.raises(ValueError, match="relative_sd"):
        vs.samples_for(math.nan)


def test_control_variate_is_unbiased_and_reduces_variance() -> None:
    rng = np.random.default_rng(1)
    means = []
    for _ in range(200):
        c = rng.standard_normal(400)  # known mean 0
        v = 3.0 + 2.0 * c + 0.1 * rng.standard_normal(400)
        est = vs.control_variate_mean(v, c[:, None])
        means.append(est.mean)
        assert est.reduction > 100
    assert np.mean(means) == pytest.approx(3.0, abs=3 * 0.1 / math.sqrt(400 * 200) * 5)
    assert np.std(means) == pytest.approx(0.1 / math.sqrt(400), rel=0.2)


# Exact power-law data: the fit is exact up to float64 rounding of log10 (~1e-15 per point,
# amplified by the lever arm 1/range(log10 x) ≲ 10 here).
FIT_ROUNDING = 1e-12


def test_loglog_fit_recovers_an_exact_power_law() -> None:
    x = np.array([10.0, 30.0, 100.0, 300.0, 1000.0])
    y = 3.0 * x**-0.5
    fit = vs.loglog_fit(x, y * (1 + 1e-3 * np.array([1, -1, 1, -1, 1])))
    exact = vs.loglog_fit(np.r_[x, x], np.r_[y, y])
    assert abs(exact.slope + 0.5) <= FIT_ROUNDING and exact.slope_se <= FIT_ROUNDING
    np.testing.assert_allclose(exact.line(x), y, rtol=FIT_ROUNDING)
    np.testing.assert_allclose(exact.reference(x, -0.5), y, rtol=FIT_ROUNDING)
    lo, hi = fit.band(x)
    assert np.all(lo < fit.line(x)) and np.all(fit.line(x) < hi)


def test_loglog_band_half_width_at_the_centroid_is_t_s_over_root_k() -> None:
    from scipy.stats import t as student

    rng = np.random.default_rng(0)
    x = np.repeat([100.0, 400.0, 1600.0, 6400.0], 3)
    y = x**-0.5 * np.exp(0.1 * rng.standard_normal(x.size))
    fit = vs.loglog_fit(x, y)
    lo, hi = fit.band(np.array([10.0**fit.mean_x]))
    half = (np.log10(hi) - np.log10(lo))[0] / 2
    want = student.ppf(0.975, x.size - 2) * fit.s / np.sqrt(x.size)
    assert fit.dof == x.size - 2
    assert abs(half - want) <= FIT_ROUNDING * want
    assert abs(fit.slope + 0.5) <= 5 * fit.slope_se  # the noise is unbiased in log space


@pytest.mark.parametrize(
    ("x", "y"),
    [([1.0, 2.0], [1.0, 2.0]), ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]), ([1, 2, 3], [1, 0, -1])],
)
def test_loglog_fit_refuses_too_few_points(x: list[float], y: list[float]) -> None:
    with pytest.raises(ValueError, match="log-log fit needs"):
        vs.loglog_fit(np.array(x, dtype=float), np.array(y, dtype=float))
