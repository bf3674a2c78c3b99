"""Field coercion of the result records, and the one-release argument-order transition.

Every public result dataclass of ``numeric`` holds Python scalars (``int``, ``float``,
``bool``; never NumPy scalars or 0-d arrays) and float64 ndarrays of at least one dimension.
Per-problem integer and boolean fields of a batched run (``GDResult.steps``,
``GDResult.converged``, ``GDResult.units_log2`` of ``fine_tune_many``) are int64 and bool
ndarrays: they count and flag, and a float64 step count would invite rounding. The records
call these helpers in ``__post_init__``, so a record is normalised however it was built
(also by :func:`dataclasses.replace`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from finetune_theory.checks import FloatArray
from finetune_theory.deprecation import warn_deprecated

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def set_field(record: object, name: str, value: object) -> None:
    """Assign a field of a frozen dataclass from its ``__post_init__``."""
    object.__setattr__(record, name, value)


def float_array(value: object) -> FloatArray:
    """``value`` as a float64 ndarray of at least one dimension (no copy when it is one)."""
    return np.asarray(np.atleast_1d(np.asarray(value, dtype=np.float64)), dtype=np.float64)


def float_arrays(values: Sequence[object]) -> tuple[FloatArray, ...]:
    """A tuple of float64 ndarrays (layer matrices, unit vectors)."""
    return tuple(float_array(v) for v in values)


def float_or_array(value: object) -> float | FloatArray:
    """A Python float for a scalar (Python, NumPy or 0-d), else a float64 ndarray."""
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def int_or_array(value: object) -> int | IntArray:
    """A Python int for a scalar (Python, NumPy or 0-d), else an int64 ndarray."""
    arr = np.asarray(value, dtype=np.int64)
    return int(arr) if arr.ndim == 0 else arr


def bool_or_array(value: object) -> bool | BoolArray:
    """A Python bool for a scalar (Python, NumPy or 0-d), else a bool ndarray."""
    arr = np.asarray(value, dtype=np.bool_)
    return bool(arr) if arr.ndim == 0 else arr


def _ndim(value: Any) -> int | None:
    """np.ndim of ``value``, or None for what NumPy cannot read as an array (ragged lists)."""
    try:
        return int(np.ndim(value))
    except (ValueError, TypeError):
        return None


def old_weights_first(first: object, third: object) -> bool:
    """Whether ``(first, _, third)`` is the old ``(weights, X, y)`` layout of deep_linear.

    Old layout: a list/tuple of 2-D matrices first and a 1-D label vector third. In the new
    ``(X, y, weights)`` layout neither can happen for a valid call (X is one matrix, the
    weights are never 1-D), so the test is unambiguous.
    """
    return (
        isinstance(first, (list, tuple))
        and len(first) > 0
        and all(_ndim(W) == 2 for W in first)
        and _ndim(third) == 1
    )


def warn_old_layout(func: str, old: str, new: str) -> None:
    """The DeprecationWarning of an old model-first call, pointing at the caller's line."""
    # warn_deprecated -> this -> the module's reorder helper -> the public function -> caller
    warn_deprecated(f"{func}({old})", f"{func}({new})", stacklevel=5)
