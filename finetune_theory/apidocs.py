"""Build the API reference (HTML) from the docstrings with pdoc.

One command, documented in the README::

    pip install -e ".[docs]"
    python -m finetune_theory.apidocs --out build/api

writes ``build/api/index.html`` with a page per module. ``--strict`` (used by the test suite)
turns every pdoc warning into an error and also fails on a public function, class or method
without a docstring, so the reference cannot silently rot.

The modules documented are :data:`MODULES`: the three user-facing packages with their
submodules, the shared ``finetune_theory`` helpers, and the parts of ``verify`` a user needs to
write and run their own claim.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Every module that gets a page, in the order of the index.
MODULES: tuple[str, ...] = (
    "symbolic",
    "symbolic.linear",
    "symbolic.deep_linear",
    "symbolic.relu_ntk",
    "numeric",
    "numeric.data",
    "numeric.linear",
    "numeric.deep_linear",
    "numeric.relu_ntk",
    "numeric.realdata",
    "verify",
    "verify.claim",
    "verify.strategies",
    "verify.statistics",
    "verify.runner",
    "verify.profiles",
    "verify.registry",
    "verify.report",
    "verify.outputs",
    "verify.campaign",
    "finetune_theory",
    "finetune_theory.errors",
    "finetune_theory.checks",
    "finetune_theory.scaling",
    "finetune_theory.deprecation",
)

#: What pdoc is asked for: a package brings the submodules its ``__all__`` lists, so those are
#: not named again (pdoc warns about a repeated module).
SPECS: tuple[str, ...] = tuple(
    name
    for name in MODULES
    if not name.startswith(("symbolic.", "numeric.")) or name == "numeric.realdata"
)


class ApiDocsError(RuntimeError):
    """The reference could not be built cleanly (a pdoc warning or a missing docstring)."""


def undocumented(modules: Sequence[str] = MODULES) -> list[str]:
    """Public functions, classes and methods of ``modules`` whose docstring is empty."""
    import pdoc.doc

    missing: list[str] = []

    def walk(namespace: pdoc.doc.Namespace[Any], module: str) -> None:
        for member in namespace.members.values():
            if member.name.startswith("_") or member.modulename != module:
                continue
            documentable = isinstance(member, pdoc.doc.Function | pdoc.doc.Class)
            if documentable and not member.docstring.strip():
                missing.append(member.fullname)
            if isinstance(member, pdoc.doc.Class):
                walk(member, module)

    for name in modules:
        walk(pdoc.doc.Module.from_name(name), name)
    return sorted(set(missing))


def build(out: Path, *, strict: bool = False) -> Path:
    """Write the HTML reference of :data:`MODULES` into the folder ``out``; return index.html.

    ``strict``: raise :class:`ApiDocsError` on any pdoc warning or undocumented public name.
    """
    try:
        import pdoc
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ApiDocsError('the API reference needs pdoc: pip install -e ".[docs]"') from exc
    out = Path(out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.render.configure(docformat="markdown", footer_text="finetune-theory")
        pdoc.pdoc(*SPECS, output_directory=out)
    problems = [f"pdoc: {w.message}" for w in caught]
    if strict:
        problems += [f"no docstring: {name}" for name in undocumented(MODULES)]
        if problems:
            raise ApiDocsError("API reference not clean:\n  " + "\n  ".join(problems))
    else:
        for line in problems:
            print(line, file=sys.stderr)
    return out / "index.html"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m finetune_theory.apidocs --out DIR [--strict]``."""
    parser = argparse.ArgumentParser(
        prog="python -m finetune_theory.apidocs",
        description="Build the HTML API reference from the docstrings (needs the docs extra: "
        'pip install -e ".[docs]"). Example: python -m finetune_theory.apidocs --out build/api',
    )
    parser.add_argument("--out", type=Path, default=Path("build/api"), help="output folder")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on any pdoc warning or public name without a docstring",
    )
    args = parser.parse_args(argv)
    try:
        index = build(args.out, strict=args.strict)
    except ApiDocsError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"API reference: {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
