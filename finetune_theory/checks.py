"""Input validation shared by :mod:`symbolic` and :mod:`numeric`: one coercion rule.

Every function returns a float64 NumPy array (or a Python number) that is safe to use,
or raises :class:`~finetune_theory.errors.InputError` whose message names the parameter
and the rule. Inputs are never modified: arrays are copied when converted.

The coercion rule (the same for every public function):

* **Real numbers only.** Accepted: Python ``int``/``float``, NumPy integer and floating
  scalars and arrays (any width; converted to float64), and (nested) lists/tuples of those.
  Refused: ``bool`` and boolean arrays (``True`` is not the number 1 here), complex values
  (casting would drop the imaginary part), strings (``"1.5"`` is not parsed), ``None`` and
  any other object.
* **Finite.** NaN and inf are refused. Magnitudes are not limited here: each function
  either computes a correct value at extreme scales (most are scale invariant and rescale
  internally) or raises an ``InputError`` naming the input whose scale it cannot represent.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from finetune_theory.errors import InputError

FloatArray = NDArray[np.float64]

#: Relative tolerance used to decide symmetry and positive semi-definiteness of a
#: covariance: entries/eigenvalues below ``-PSD_RTOL * max|eigenvalue|`` are rejected.
#: 1e-10 leaves room for matrices assembled in float64 (rounding ~1e-16 per entry,
#: amplified by d) while rejecting any genuinely indefinite input.
PSD_RTOL = 1e-10


_REAL_KINDS = "fiu"  # NumPy dtype kinds: floating, signed and unsigned integers


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:80]


_NOTHING = object()


def _refused_element(value: Any) -> Any:
    """The first element of a (nested) list/tuple that is not a real number, else _NOTHING."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, np.ndarray):
            if item.dtype.kind not in _REAL_KINDS:
                return item
        elif isinstance(item, (bool, np.bool_)) or not isinstance(
            item, (int, float, np.integer, np.floating)
        ):
            return item
    return _NOTHING


def _finite(arr: FloatArray, name: str) -> FloatArray:
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must contain only finite numbers (found NaN or inf)")
    return arr


def as_float_array(value: ArrayLike, name: str, ndim: int) -> FloatArray:
    """Convert to a finite float64 array with exactly ``ndim`` dimensions (a copy).

    Applies the module's coercion rule: real numbers only (no bool, complex, str, None or
    other objects), all finite.
    """
    refused = False
    bad: Any = value
    if isinstance(value, np.ndarray):
        refused = value.dtype.kind not in _REAL_KINDS
    elif isinstance(value, (list, tuple)):
        bad = _refused_element(value)
        refused = bad is not _NOTHING
    else:
        refused = True  # scalars, None, strings, objects: not an array of real numbers
    if refused:
        raise InputError(
            f"{name} must be an array of real numbers (float or int), got {_describe(bad)}"
        )
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{name} must be a rectangular array of real numbers ({exc})") from exc
    if arr.ndim != ndim:
        raise InputError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} must not be empty, got shape {arr.shape}")
    return _finite(arr, name)


def as_matrix(value: ArrayLike, name: str = "X") -> FloatArray:
    """A finite float64 matrix of shape (rows, cols)."""
    return as_float_array(value, name, 2)


def as_vector(value: ArrayLike, name: str, dim: int | None = None) -> FloatArray:
    """A finite float64 vector; if ``dim`` is given its length must equal it."""
    arr = as_float_array(value, name, 1)
    if dim is not None and arr.shape[0] != dim:
        raise InputError(f"{name} must have length {dim} to match the data, got {arr.shape[0]}")
    return arr


def as_cov(value: ArrayLike, dim: int, name: str = "cov") -> FloatArray:
    """A symmetric positive semi-definite (dim, dim) covariance matrix.

    Symmetry and PSD are checked up to :data:`PSD_RTOL` relative to the largest
    eigenvalue; the returned matrix is exactly symmetrised.
    """
    arr = as_matrix(value, name)
    if arr.shape != (dim, dim):
        raise InputError(
            f"{name} must have shape ({dim}, {dim}) to match the data, got {arr.shape}"
        )
    scale = float(np.max(np.abs(arr)))
    if not np.allclose(arr, arr.T, rtol=0.0, atol=PSD_RTOL * max(scale, 1e-300)):
        raise InputError(f"{name} must be symmetric (cov == cov.T)")
    sym = 0.5 * (arr + arr.T)
    eig = np.linalg.eigvalsh(sym)
    if eig[0] < -PSD_RTOL * max(abs(eig[-1]), 1e-300):
        raise InputError(
            f"{name} must be positive semi-definite; its smallest eigenvalue is {eig[0]:.3g}"
        )
    return sym


def as_eigenvalues(value: ArrayLike, name: str = "eigenvalues") -> FloatArray:
    """A finite vector of strictly positive eigenvalues."""
    arr = as_vector(value, name)
    if np.any(arr <= 0.0):
        raise InputError(f"{name} must be strictly positive, smallest is {arr.min():.3g}")
    return arr


def nonnegative(value: float, name: str) -> float:
    """A finite real number >= 0."""
    x = real_number(value, name)
    if x < 0.0:
        raise InputError(f"{name} must be >= 0, got {x!r}")
    return x


def positive(value: float, name: str) -> float:
    """A finite real number > 0."""
    x = real_number(value, name)
    if x <= 0.0:
        raise InputError(f"{name} must be > 0, got {x!r}")
    return x


def real_number(value: Any, name: str) -> float:
    """A finite Python float (the module's coercion rule for a single number).

    Accepts ``int``, ``float``, NumPy integer/floating scalars and 0-d real arrays; refuses
    ``bool``, complex, strings, ``None`` and other objects, and NaN/inf.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in _REAL_KINDS:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise InputError(f"{name} must be a real number (float or int), got {_describe(value)}")
    try:
        x = float(value)
    except OverflowError:
        raise InputError(f"{name} must be finite in float64, got {value}") from None
    if not math.isfinite(x):
        raise InputError(f"{name} must be finite, got {x!r}")
    return x


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def rtol_and_budget(rtol: float, max_steps: int) -> tuple[float, int]:
    """A relative tolerance in (0, 1) and a step budget >= 0 for an iterative trainer."""
    r = positive(rtol, "rtol")
    if r >= 1.0:
        raise InputError(f"rtol must be in (0, 1), got {r!r}")
    return r, positive_int(max_steps, "max_steps", minimum=0)


def design_and_labels(X: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate a design matrix X (n, d) and labels y (n,)."""
    Xa = as_matrix(X, "X")
    ya = as_vector(y, "y")
    if ya.shape[0] != Xa.shape[0]:
        raise InputError(
            f"y must have one label per row of X: X has {Xa.shape[0]} rows, y has {ya.shape[0]}"
        )
    return Xa, ya


def underparameterised_rule(n: int, d: int, what: str) -> None:
    """Raise unless n < d (the interpolation regime a theorem needs)."""
    if n >= d:
        raise InputError(f"{what} needs n < d (more features than samples), got n={n}, d={d}")


def full_row_rank(X: FloatArray, name: str = "X") -> None:
    """Raise unless X (n, d) has rank n (needed for X⁺ = Xᵀ(XXᵀ)⁻¹ and P = X⁺X of rank n)."""
    n = X.shape[0]
    sv = np.linalg.svd(X, compute_uv=False)
    tol = sv[0] * max(X.shape) * np.finfo(np.float64).eps
    rank = int(np.sum(sv > tol))
    if rank < n:
        raise InputError(f"{name} must have full row rank {n}, its rank is {rank}")
