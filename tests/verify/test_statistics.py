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
