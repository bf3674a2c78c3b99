"""Shared, dependency-light pieces of the finetune-theory toolkit.

The three user-facing packages are :mod:`symbolic` (closed forms derived by SymPy),
:mod:`numeric` (the same quantities obtained by training) and :mod:`verify` (the claims
that pair them). ``symbolic`` and ``numeric`` never import each other; both import this
package for the project's exception types and input validation, so that a user catches one
:class:`InputError` whichever side raised it.
"""

from finetune_theory.errors import ConvergenceError, IllConditionedWarning, InputError

__version__ = "0.1.0"

__all__ = ["ConvergenceError", "IllConditionedWarning", "InputError", "__version__"]
