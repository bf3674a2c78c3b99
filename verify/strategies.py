"""Building blocks of the claims' Hypothesis strategies: the theorems' hypothesis spaces.

The strategies draw plain numbers (sizes, a condition number, an angle, a seed); matrices
are built from the seed. They cover each theorem's whole hypothesis space rather than a
friendly corner:

* :func:`dimensions` — d from 2 up to a maximum (400 by default, 1000 in ``thorough``),
  in tiers: most examples small (cheap, where shrinking lands), a fifth medium, one in
  twelve large, so a quick run still reaches the paper's scale;
* :func:`sample_sizes` — n from 1 to d − 1 (the interpolation regime, with the edges
  n = 1 and n = d − 1 drawn often) or, for least squares, n from d + 2 to 3d; a cap on n/d
  for large d keeps plain training affordable and is stated in each claim's domain;
* :func:`condition_numbers` — κ(Σ) log-uniform in [1, max] with both ends drawn often;
* :func:`row_fractions` — where θ_S sits relative to the row space of X: the fraction f of
  ‖θ_S‖² in it (exactly 0 or 1, within 1e-12 of them, any value, or −1 = drawn independently
  of X, which gives f ≈ n/d); :func:`place_source` builds such a θ_S.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from finetune_theory.checks import FloatArray

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
SPECTRA = ("isotropic", "power-law", "spiked", "two-level")

#: Default largest d of the quick strategies and of ``thorough``.
MAX_D = 400
MAX_D_THOROUGH = 1000
#: Row-space fraction meaning "θ_S drawn independently of X".
INDEPENDENT = -1.0


def _percent(draw: st.DrawFn) -> int:
    """A near-uniform integer in [0, 100): the low digits of a wide integer. (Hypothesis
    biases small ranges toward their ends and small values, which at a 25-example budget
    would put most examples in one tier; shrinking still moves toward 0.)"""
    return draw(st.integers(0, 2**24)) % 100


@st.composite
def dimensions(draw: st.DrawFn, max_d: int = MAX_D, min_d: int = 2, small: int = 40) -> int:
    """d in [min_d, max_d]: ~70% in [min_d, small], ~22% up to max_d/4, ~8% up to max_d."""
    tier = _percent(draw)
    small = max(min_d, min(small, max_d))
    medium = max(small, max_d // 4)
    if tier < 70 or medium == small:
        return draw(st.integers(min_d, small))
    if tier < 92 or max_d == medium:
        return draw(st.integers(small, medium))
    return draw(st.integers(medium, max_d))


@st.composite
def sample_sizes(draw: st.DrawFn, d: int, large_ratio: float = 1.0, large_d: int = 100) -> int:
    """n in [1, d − 1] with the edges 1, d/2 and d − 1 drawn often; for d > ``large_d`` n is
    capped at ``large_ratio``·d (training cost grows with κ(XXᵀ) ~ (1 − √(n/d))⁻²)."""
    top = d - 1 if d <= large_d else max(1, min(d - 1, int(large_ratio * d)))
    if top <= 1:
        return 1
    pick = _percent(draw) % 10
    if pick == 0:
        return 1
    if pick == 1:
        return top
    if pick == 2:
        return max(1, min(top, d // 2))
    return 1 + draw(st.integers(0, 2**24)) % top


def least_squares_sizes(d: int) -> st.SearchStrategy[int]:
    """n in [d + 2, 3d] (the over-determined side: X of full column rank)."""
    return st.integers(d + 2, max(d + 2, 3 * d))


def condition_numbers(max_condition: float = 100.0) -> st.SearchStrategy[float]:
    """κ(Σ) in [1, max]: exactly 1, exactly max, or log-uniform between."""
    top = math.log10(max_condition)
    return st.one_of(
        st.just(1.0),
        st.just(float(max_condition)),
        st.floats(0.0, top).map(lambda e: float(10.0**e)),
    )


def row_fractions() -> st.SearchStrategy[float]:
    """The fraction of ‖θ_S‖² in the row space of X: independent of X (−1), exactly 0 or 1,
    within 1e-12 of either, or anywhere in [0, 1]."""
    return st.one_of(
        st.just(INDEPENDENT),
        st.sampled_from([0.0, 1.0, 1.0 - 1e-12, 1e-12]),
        st.floats(0.0, 1.0),
    )


def place_source(
    theta: FloatArray, X: FloatArray, fraction: float, rng: np.random.Generator
) -> FloatArray:
    """θ_S with ‖θ_S‖ = ‖theta‖ and a fraction ``fraction`` of ‖θ_S‖² in the row space of X.

    ``fraction`` = :data:`INDEPENDENT` returns ``theta`` itself. Otherwise θ_S =
    ‖θ‖(√f·r + √(1 − f)·z) with r a random unit vector of the row space (Xᵀv) and z one of
    its orthogonal complement (when n < d). Built from an orthonormal basis of the row space.
    """
    if fraction == INDEPENDENT:
        return theta
    norm = float(np.linalg.norm(theta))
    n, d = X.shape
    q, _ = np.linalg.qr(X.T)  # (d, min(n, d)) orthonormal basis of the row space
    row = q @ rng.standard_normal(q.shape[1])
    row /= np.linalg.norm(row)
    if n >= d or fraction >= 1.0:
        return np.asarray(norm * row, dtype=np.float64)
    null = np.asarray(rng.standard_normal(d), dtype=np.float64)
    null = null - q @ (q.T @ null)
    null = null - q @ (q.T @ null)  # twice: orthogonal to rounding
    null = null / np.linalg.norm(null)
    out = norm * (math.sqrt(fraction) * row + math.sqrt(1.0 - fraction) * null)
    return np.asarray(out, dtype=np.float64)
