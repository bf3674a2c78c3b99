"""Project exceptions.

``InputError`` subclasses :class:`ValueError`, so ``except ValueError`` keeps working; its
message always names the offending parameter and the rule it broke.
``ConvergenceError`` is raised when training stops before its tolerance is met.
"""

from __future__ import annotations


class InputError(ValueError):
    """An argument broke a documented rule (shape, range, regime of a theorem)."""


class ConvergenceError(RuntimeError):
    """Training used its whole step budget without meeting its stopping tolerance."""
