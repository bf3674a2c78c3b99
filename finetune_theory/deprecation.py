"""Deprecated names: one mechanism, so every old name warns the same way for one release.

A renamed public function keeps its old name for one release. Calling the old name emits a
:class:`DeprecationWarning` that names the replacement and the release that removes it, then
does exactly what the replacement does. Every deprecated name is listed in ``CHANGELOG.md``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

#: The release in which the deprecated names of this release disappear.
REMOVED_IN = "0.2.0"

F = TypeVar("F", bound=Callable[..., Any])


def warn_deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Emit the one DeprecationWarning text: ``old`` is deprecated, use ``new``."""
    warnings.warn(
        f"{old} is deprecated and will be removed in finetune-theory {REMOVED_IN}; use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def deprecated_alias(func: F, old: str, new: str | None = None) -> F:
    """A wrapper of ``func`` under its old name ``old`` that warns, then calls ``func``.

    ``new`` is the replacement as the user should write it (default: ``func``'s qualified
    module path). The wrapper keeps ``func``'s signature and docstring, with a deprecation
    line prepended.
    """
    replacement = new or f"{func.__module__}.{func.__name__}"

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warn_deprecated(old, replacement)
        return func(*args, **kwargs)

    wrapper.__name__ = old.rsplit(".", 1)[-1]
    wrapper.__qualname__ = wrapper.__name__
    wrapper.__doc__ = f"Deprecated alias of ``{replacement}`` (removed in {REMOVED_IN}).\n\n" + (
        func.__doc__ or ""
    )
    wrapper.__deprecated__ = replacement  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def module_getattr(module: str, moved: Mapping[str, tuple[Callable[[], object], str]]) -> Any:
    """A module ``__getattr__`` serving deprecated module attributes.

    ``moved`` maps an old attribute name to ``(load, new)``: ``load()`` returns the object
    and ``new`` is how the user should now spell it. Accessing ``module.old`` warns once per
    access and returns ``load()``; any other missing name raises AttributeError as usual.
    """

    def getattr_(name: str) -> object:
        if name in moved:
            load, new = moved[name]
            warn_deprecated(f"{module}.{name}", new)
            return load()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return getattr_
