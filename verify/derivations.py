"""``python -m verify derivations``: every ``derive_*`` result as a Markdown page.

One ``NAME.md`` per ``derive_*`` function of :mod:`symbolic` (rendered by
:func:`symbolic._render.derivation_page`: hypotheses, each step in LaTeX that GitHub renders,
the final results beside their textbook forms, the provenance), plus ``index.md`` when every
page is written. The committed copies live in ``docs/derivations/``;
``tests/verify/test_derivations.py`` fails when they differ from what this command writes.
Pages are written atomically (:func:`verify.outputs.atomic_write_text`) and are the same bytes
on every run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from finetune_theory.errors import InputError
from symbolic import _render
from verify.outputs import UsageError, atomic_write_text, prepare_output_dir

__all__ = ["DERIVATIONS_EXIT", "main", "parser", "write_pages"]

DERIVATIONS_EXIT = """
exit status:
  0    every requested page was written
  2    usage error, nothing is written: an unknown NAME (or D2, which has no
       derive_* function), --out missing, a file, below a file or not writable
"""


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m verify derivations``."""
    p = argparse.ArgumentParser(
        prog="python -m verify derivations",
        description="Render the derive_* results of the symbolic package as Markdown pages "
        "with GitHub-rendered LaTeX: the hypotheses, every step SymPy takes and the "
        "expression it produces, the final results beside their textbook forms, and the "
        "provenance (derived or checked). Writes DIR/NAME.md per derivation, and "
        "DIR/index.md when no NAME is given (all pages).",
        epilog="examples:\n"
        "  python -m verify derivations --out docs/derivations   every page + index.md "
        "(the committed ones)\n"
        "  python -m verify derivations L3 --out out/            the two L3 pages\n"
        "  python -m verify derivations derive_implicit_bias --out out/\n"
        "  python -m verify derivations --list\n" + DERIVATIONS_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="derive_* function names (the derive_ prefix is optional) or result labels such "
        "as L3 or D4 (default: every derivation, and index.md)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (required unless --list; checked before anything is rendered). "
        "Example: --out docs/derivations",
    )
    p.add_argument("--list", action="store_true", help="list the derivations and exit")
    return p


def write_pages(names: Sequence[str], out: Path, index: bool) -> list[Path]:
    """Write ``out/NAME.md`` for each ``derive_*`` name (and ``out/index.md``); the paths."""
    paths = [atomic_write_text(out / f"{name}.md", _render.derivation_page(name)) for name in names]
    if index:
        paths.append(atomic_write_text(out / "index.md", _render.index_page()))
    return paths


def main(argv: Sequence[str]) -> int:
    """Run ``python -m verify derivations`` with ``argv``; the exit status (0 or 2)."""
    args = parser().parse_args(argv)
    if args.list:
        for spec in _render.SPECS.values():
            print(f"{spec.name}  ({', '.join(spec.labels)}): {spec.title}")
        return 0
    try:
        names = _render.select_derivations(args.names) if args.names else list(_render.SPECS)
        if args.out is None:
            raise UsageError("--out DIR is required (for example --out docs/derivations)")
        out = prepare_output_dir(args.out, "--out")
    except (InputError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    paths = write_pages(names, out, index=not args.names)
    for path in paths:
        print(path)
    print(f"{len(paths)} page(s) written to {out} in {time.perf_counter() - start:.1f}s")
    return 0
