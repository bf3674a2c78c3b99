"""Where runs write: output folders validated before any work starts, files written atomically.

Every run kind writes under its own names, so campaign, explore, figures and power outputs can
share one folder without touching each other's files:

| run kind | files |
|---|---|
| campaign (``verify --report DIR``) | ``report.json``, ``report.md``, ``report-*.png`` |
| explore (``verify explore --report DIR``) | ``explore.json``, ``explore.md``, ``explore-*.png`` |
| figures | ``NAME.png``, ``NAME.json``, ``NAME.csv``, ``NAME.pdf``, ``NAME.svg`` |
| power (``verify power --report DIR``) | ``power.json``, ``power.md`` |
| derivations (``verify derivations --out DIR``) | ``NAME.md``, ``index.md`` |

(``verify --explore --report DIR`` puts the explorations inside the campaign's report, their
PNGs as ``report-explore-*.png``; an exploration run's ``explore-*.png`` are never touched.)

A file is written to a temporary name in the same folder and renamed over its target
(:func:`atomic_write_text`), so a reader (or an interrupted run) sees the old file or the new
one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


class UsageError(Exception):
    """A command-line argument is unusable (exit status 2); the message is one line."""


def prepare_output_dir(path: Path, option: str = "--report") -> Path:
    """Check that ``path`` is (or can become) a writable folder, create it, and return it.

    Raises :class:`UsageError` naming ``option`` when ``path`` is an existing file, lies below
    a file (``/dev/null/x``), or is in a folder this process cannot write to. Called before a
    run starts, so a bad path costs nothing.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: exists and is not a folder (give a folder)")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{option} {path}: {ancestor} is a file, so no folder can be made there")
    existed = path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if not existed:  # leave no empty folder behind a refused path
            with suppress(OSError):
                path.rmdir()
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"{option} {path}: cannot write there ({reason})") from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    For writers that want a file name (``matplotlib.savefig``). On an exception (or an
    interruption) the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> Path:
    """Write ``text`` to ``target`` atomically (temporary file, flush, fsync, rename)."""
    target = Path(target)
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return target
