"""Seeded data for the numeric side: inputs x ~ N(0, Σ), spectra, teachers and labels.

Every random function takes ``rng``: an ``int`` seed, a :class:`numpy.random.Generator`,
or ``None`` (fresh OS entropy, not reproducible). The same seed gives the same arrays.
Matrices are generated whole from the generator, never element by element.

Inputs follow the shared coercion rule of :mod:`finetune_theory.checks` (real numbers only;
bool, complex, strings, None and objects refused; finite). Sizes are bounded: one generated
array holds at most :data:`MAX_ENTRIES` numbers, so an absurd size is an
:class:`~finetune_theory.errors.InputError` naming it instead of a MemoryError or a hang.
Seeds are non-negative integers (NumPy's SeedSequence rule).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import InputError

__all__ = [
    "MAX_ENTRIES",
    "SpectrumKind",
    "as_generator",
    "cov_from_spectrum",
    "labels",
    "random_orthogonal",
    "random_unit_vector",
    "sample_inputs",
    "sample_sphere",
    "spectrum",
    "synthetic_teacher",
]

RngLike = int | np.random.Generator | None
SpectrumKind = Literal["isotropic", "power-law", "spiked", "two-level"]

#: Most numbers one generated array may hold: 2^28 float64 = 2 GiB, a quarter of a small
#: machine's memory. Larger requests are refused before allocating (NumPy would raise
#: MemoryError, or swap for minutes); draw several smaller batches instead.
MAX_ENTRIES = 2**28


def _bounded(*sizes: tuple[str, int]) -> None:
    """Raise unless the product of the named sizes is at most :data:`MAX_ENTRIES`."""
    total = 1
    for _, value in sizes:
        total *= value
    if total > MAX_ENTRIES:
        shape = " x ".join(f"{k}={v}" for k, v in sizes)
        raise InputError(
            f"{shape} asks for {total} numbers, more than MAX_ENTRIES = {MAX_ENTRIES} in one "
            "array; use smaller sizes or several batches"
        )


def as_generator(rng: RngLike) -> np.random.Generator:
    """An ``int`` seed (>= 0) or ``None`` becomes ``default_rng(rng)``; a Generator is returned
    as is. Anything else (bool, float, negative int, ...) raises :class:`InputError`."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise InputError(f"rng must be a non-negative int seed, got {rng!r}")
        return np.random.default_rng(int(rng))
    raise InputError(f"rng must be an int seed, a numpy Generator or None, got {rng!r:.80}")


def spectrum(kind: SpectrumKind, d: int, condition: float = 10.0) -> FloatArray:
    """Eigenvalues of Σ in decreasing order, scaled to mean 1 (so tr Σ = d).

    ``isotropic``: all 1 (``condition`` ignored). ``power-law``: λ_i ∝ i^(−a) with a chosen
    so that λ_1/λ_d = condition. ``spiked``: the top ⌈d/10⌉ eigenvalues are ``condition``
    times the rest. ``two-level``: the first half ``condition`` times the second half.
    """
    d = checks.positive_int(d, "d")
    _bounded(("d", d))
    cond = checks.real_number(condition, "condition")
    if cond < 1.0:
        raise InputError(f"condition must be >= 1 (ratio of largest to smallest), got {cond!r}")
    idx = np.arange(1, d + 1, dtype=np.float64)
    if kind == "isotropic":
        lam = np.ones(d)
    elif kind == "power-law":
        a = 0.0 if d == 1 else np.log(cond) / np.log(d)
        lam = idx ** (-a)
    elif kind == "spiked":
        lam = np.ones(d)
        lam[: max(1, int(np.ceil(d / 10)))] = cond
    elif kind == "two-level":
        lam = np.ones(d)
        lam[: max(1, d // 2)] = cond
    else:
        raise InputError(
            f"kind must be one of 'isotropic', 'power-law', 'spiked', 'two-level', got {kind!r}"
        )
    lam = lam / lam.max()  # in (0, 1]: the mean cannot overflow for any finite condition
    return np.asarray(lam / lam.mean(), dtype=np.float64)


def random_orthogonal(d: int, rng: RngLike) -> FloatArray:
    """A Haar-random orthogonal (d, d) matrix (QR of a Gaussian matrix, signs fixed)."""
    d = checks.positive_int(d, "d")
    _bounded(("d", d), ("d", d))
    g = as_generator(rng).standard_normal((d, d))
    q, r = np.linalg.qr(g)
    return np.asarray(q * np.sign(np.diag(r)), dtype=np.float64)


def cov_from_spectrum(eigenvalues: ArrayLike, rng: RngLike = None) -> FloatArray:
    """Σ = V diag(λ) Vᵀ with a Haar-random V from ``rng`` (or V = I when rng is None)."""
    lam = checks.as_vector(eigenvalues, "eigenvalues")
    if np.any(lam < 0.0):
        raise InputError("eigenvalues must be >= 0 for a covariance matrix")
    if rng is None:
        return np.diag(lam)
    v = random_orthogonal(lam.shape[0], rng)
    # Assembled for λ/max λ and scaled back: every entry of V diag(λ) Vᵀ is at most max λ in
    # size, but its d-term sums could overflow for max λ near float64's largest number.
    top = float(np.max(lam))
    lam = lam / top if top > 0.0 else lam
    cov = (v * lam) @ v.T
    return np.asarray(0.5 * (cov + cov.T) * top, dtype=np.float64)


def sample_inputs(
    n: int, d: int, rng: RngLike, cov: ArrayLike | None = None, batch: int | None = None
) -> FloatArray:
    """Rows x_i ~ N(0, Σ): shape (n, d), or (batch, n, d) when ``batch`` is given.

    Generated as Z Σ^{1/2} with Z standard normal and Σ^{1/2} the PSD square root from an
    eigendecomposition (so singular Σ is allowed). ``cov`` defaults to the identity.
    """
    n = checks.positive_int(n, "n")
    d = checks.positive_int(d, "d")
    shape = (n, d) if batch is None else (checks.positive_int(batch, "batch"), n, d)
    _bounded(*zip(("n", "d") if batch is None else ("batch", "n", "d"), shape, strict=True))
    sig = None if cov is None else checks.as_cov(cov, d)
    z = as_generator(rng).standard_normal(shape)
    if sig is None:
        return z
    w, v = np.linalg.eigh(sig)
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    return np.asarray(z @ root, dtype=np.float64)


def random_unit_vector(d: int, rng: RngLike) -> FloatArray:
    """A uniformly random direction on the unit sphere of R^d."""
    d = checks.positive_int(d, "d")
    _bounded(("d", d))
    g = as_generator(rng).standard_normal(d)
    return np.asarray(g / np.linalg.norm(g), dtype=np.float64)


def synthetic_teacher(theta_s: ArrayLike, alpha: float, epsilon: float, rng: RngLike) -> FloatArray:
    """The paper's target family θ_T = αθ_S + εζ with ζ ~ N(0, I_d/d) (so E‖ζ‖² = 1).

    A teacher beyond float64 (e.g. α·θ_S overflowing) raises :class:`InputError`.
    """
    ts = checks.as_vector(theta_s, "theta_s")
    a = checks.real_number(alpha, "alpha")
    e = checks.nonnegative(epsilon, "epsilon")
    zeta = as_generator(rng).standard_normal(ts.shape[0]) / np.sqrt(ts.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        teacher = np.asarray(a * ts + e * zeta, dtype=np.float64)
    if not np.all(np.isfinite(teacher)):
        raise InputError(
            "alpha * theta_s + epsilon * zeta overflows float64; rescale theta_s, alpha or epsilon"
        )
    return teacher


def labels(X: ArrayLike, theta_t: ArrayLike, noise_std: float, rng: RngLike) -> FloatArray:
    """y = Xθ_T + ξ with ξ ~ N(0, σ²) i.i.d.; X may be (n, d) or a stack (batch, n, d).

    The noise is drawn only when σ > 0. Labels beyond float64 raise :class:`InputError`.
    """
    if X is None:
        raise InputError("X must be an array of real numbers (float or int), got None")
    try:
        ndim = np.ndim(X)
    except ValueError as exc:
        raise InputError(f"X must be a rectangular array of real numbers ({exc})") from None
    if ndim not in (2, 3):
        raise InputError(f"X must be (n, d) or (batch, n, d), got {ndim} dimensions")
    Xa = checks.as_float_array(X, "X", ndim)
    tt = checks.as_vector(theta_t, "theta_t", Xa.shape[-1])
    sd = checks.nonnegative(noise_std, "noise_std")
    with np.errstate(over="ignore", invalid="ignore"):
        clean = Xa @ tt
        y = clean if sd == 0.0 else clean + sd * as_generator(rng).standard_normal(clean.shape)
    if not np.all(np.isfinite(y)):
        raise InputError("X theta_t + noise overflows float64; rescale X, theta_t or noise_std")
    return np.asarray(y, dtype=np.float64)


def sample_sphere(n: int, d: int, rng: RngLike) -> FloatArray:
    """n points drawn uniformly from the unit sphere of R^d: shape (n, d), rows of norm 1.

    Normalised standard Gaussian rows (rotation invariance); the inputs of the ReLU NTK
    results (docs/theory.md §3), whose norms equal 1 to rounding (≲ d·1e-16).
    """
    n = checks.positive_int(n, "n")
    d = checks.positive_int(d, "d")
    _bounded(("n", n), ("d", d))
    g = as_generator(rng).standard_normal((n, d))
    return np.asarray(g / np.linalg.norm(g, axis=1, keepdims=True), dtype=np.float64)
