"""Project exceptions.

``InputError`` subclasses :class:`ValueError`, so ``except ValueError`` keeps working; its
message always names the offending parameter and the rule it broke.
``ConvergenceError`` is raised when training stops before its tolerance is met.
``IllConditionedWarning`` is emitted when a result is computed but an input is so badly
conditioned that more than about half of float64's digits may be lost (the function's
docstring states the error bound).
"""

from __future__ import annotations


class InputError(ValueError):
    """An argument broke a documented rule (shape, range, regime of a theorem)."""


class ConvergenceError(RuntimeError):
    """Training used its whole step budget without meeting its stopping tolerance."""


class IllConditionedWarning(UserWarning):
    """A result was computed from ill-conditioned input; its docstring gives the error bound."""
