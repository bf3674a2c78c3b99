"""A catalogue of semantic mutants of the formulas: realistic one-line bugs.

Each :class:`Mutant` replaces one exact piece of source text in one module of ``symbolic``
or ``numeric`` (a wrong exponent, a dropped term, 1/n for 1/d, ...). ``python -m verify
power`` applies each to a temporary copy of the packages, never to the installed files, and
runs the claims against it: a claim that fails *kills* the mutant. A verifier with power
kills nearly all of them; a survivor is either a hole in the claims or an *equivalent*
mutant (one that cannot change any result), and then ``equivalent`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The packages a mutant may touch, and the ones copied beside them so that the mutated
#: copy imports as a whole.
MUTABLE_PACKAGES: tuple[str, ...] = ("symbolic", "numeric")
COPIED_PACKAGES: tuple[str, ...] = ("symbolic", "numeric", "verify", "finetune_theory")


@dataclass(frozen=True)
class Mutant:
    """One planted bug: ``original`` (exactly one occurrence in ``path``) → ``replacement``.

    ``path`` is relative to the project root, e.g. ``"symbolic/linear.py"``. ``catch`` lists
    the claims expected to catch it (run first by ``--first-kill``; the report says which
    claims actually did). ``planted`` marks the bugs of the original power audit.
    ``equivalent`` is empty for a mutant that must be killed, else the reason no claim can
    (e.g. the mutated line only runs for inputs the theorem excludes); ``known_gap`` states
    why a real bug still survives (a documented hole, not an excuse).
    """

    name: str
    path: str
    original: str
    replacement: str
    description: str
    catch: tuple[str, ...] = ()
    planted: bool = False
    equivalent: str = ""
    #: A known hole: why this (non-equivalent) mutant gets through the claims, and what
    #: check would catch it (shown with the survivor in the report).
    known_gap: str = ""

    @property
    def module(self) -> str:
        """Dotted module name, e.g. ``symbolic.linear``."""
        return self.path.removesuffix(".py").replace("/", ".")

    def apply(self, source: str) -> str:
        """``source`` with the replacement made; ValueError unless ``original`` occurs once."""
        count = source.count(self.original)
        if count != 1:
            raise ValueError(
                f"mutant {self.name}: original text must occur exactly once in {self.path}, "
                f"found {count} times: {self.original!r}"
            )
        return source.replace(self.original, self.replacement)

    def apply_to(self, root: Path) -> None:
        """Rewrite ``root / path`` in place (``root`` is a temporary copy of the packages)."""
        target = root / self.path
        target.write_text(self.apply(target.read_text(encoding="utf-8")), encoding="utf-8")


def catalogue() -> tuple[Mutant, ...]:
    """Every mutant, grouped by the module it mutates."""
    from verify.mutants import deep_linear, linear, relu_ntk

    mutants = (*linear.MUTANTS, *deep_linear.MUTANTS, *relu_ntk.MUTANTS)
    names = [m.name for m in mutants]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"mutant names must be unique; repeated: {duplicated}")
    return mutants
