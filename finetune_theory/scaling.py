"""Exact power-of-two rescaling, shared by :mod:`symbolic` and :mod:`numeric`.

Multiplying a float64 by 2^e changes only its exponent, so a problem can be brought to unit
scale, solved there, and scaled back without rounding: how the toolkit computes correct
values for inputs from 1e-300 to 1e300 (``tests/*/test_fuzz_*.py`` check it) and refuses,
naming the input, only a true value that float64 cannot hold.
"""

from __future__ import annotations

import math

import numpy as np

from finetune_theory.checks import FloatArray
from finetune_theory.errors import InputError


def pow2_scale(a: FloatArray) -> tuple[FloatArray, int]:
    """(u, e) with a = u·2^e exactly and max|u| in [0.5, 1); e = 0 for an all-zero array.

    ``u`` is a new array (``a`` is never modified)."""
    top = float(np.max(np.abs(a)))
    if top == 0.0:
        return np.array(a, dtype=np.float64, copy=True), 0
    e = math.frexp(top)[1]
    return np.ldexp(a, -e), e


def ldexp_checked(x: float, e: int, what: str) -> float:
    """x·2^e, or :class:`InputError` naming ``what`` when it overflows float64 (underflow
    rounds to a subnormal or 0, the correctly rounded value)."""
    try:
        value = math.ldexp(x, e)
    except OverflowError:
        raise InputError(f"{what} overflows float64 (|value| > 1.8e308)") from None
    if not math.isfinite(value):
        raise InputError(f"{what} overflows float64 (|value| > 1.8e308)")
    return value


#: np.linalg.norm sums squares: a result in (SAFE_LOW, SAFE_HIGH) had no overflow and no
#: significant underflow on the way (squares within (1e-300, 1e300)); otherwise
#: :func:`safe_norm` recomputes it on a copy scaled by a power of two.
SAFE_LOW, SAFE_HIGH = 1e-150, 1e150


def safe_norm(a: FloatArray) -> float:
    """‖a‖ (2-norm of a vector, Frobenius of a matrix) without spurious overflow/underflow:
    the plain norm when it is safely in range, else the norm of a·2^(−e) (exact scaling)
    times 2^e — inf only when the norm itself exceeds float64's range."""
    with np.errstate(over="ignore", under="ignore"):
        plain = float(np.linalg.norm(a))
    if SAFE_LOW < plain < SAFE_HIGH:
        return plain
    top = float(np.max(np.abs(a))) if a.size else 0.0
    if top == 0.0 or not math.isfinite(top):
        return top
    e = int(np.frexp(top)[1])
    try:
        return math.ldexp(float(np.linalg.norm(np.ldexp(a, -e))), e)
    except OverflowError:
        return math.inf
