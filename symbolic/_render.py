"""Derivation results rendered as mathematics (LaTeX for Jupyter, Markdown pages).

Every ``derive_*`` dataclass inherits :class:`LatexRendered`, so a notebook shows it as
mathematics (``_repr_latex_``). The rendering itself lives here, in one place.
"""

from __future__ import annotations


class LatexRendered:
    """Mixin for ``derive_*`` result dataclasses: ``_repr_latex_`` renders the derivation."""

    def _repr_latex_(self) -> str:
        """The derivation as LaTeX (Jupyter calls this to display the object)."""
        return render_latex(self)


def render_latex(result: object) -> str:
    """LaTeX for one derivation result (filled in by the rendering module)."""
    raise NotImplementedError
