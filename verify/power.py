"""The verifier's power: run the claims against each mutant of the catalogue.

``python -m verify power`` copies the packages into a temporary folder per mutant, applies
the mutant there (the installed files are never touched), and runs the claims of the chosen
profile in a fresh interpreter whose ``sys.path`` starts at the copy. A claim that fails on
the mutated code *kills* the mutant. The result is, per mutant, the claims that caught it
(with the first failing check's note), and per module the kill rate.

Runs do not shrink a failure (only *whether* a claim fails matters here), and with
``--first-kill`` a mutant stops at the first claim that catches it (its ``catch`` claims are
tried first). Every mutant gets a wall-clock budget; a run that exceeds it is reported as
``timeout`` (a hang is caught by nothing in the claims, so it does not count as a kill).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.mutants import COPIED_PACKAGES, Mutant, catalogue
from verify.report import md_row

#: The project root the packages are copied from (the folder holding ``verify/``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Wall-clock budget of one mutant's run (all claims of the quick profile take ~90 s of
#: CPU time on this machine; a mutant that makes training crawl is cut off here).
DEFAULT_TIMEOUT = 900.0

#: The kill rate the catalogue must reach with ``python -m verify`` (quick profile) alone.
TARGET_KILL_RATE = 0.95


@dataclass(frozen=True)
class Kill:
    """One claim that failed on a mutant: its first failing check's note."""

    claim: str
    note: str
    examples: int


@dataclass(frozen=True)
class MutantResult:
    """The outcome of one mutant: ``killed``, ``survived``, ``timeout`` or ``error``."""

    mutant: Mutant
    status: str
    kills: tuple[Kill, ...] = ()
    claims_run: tuple[str, ...] = ()
    seconds: float = 0.0
    detail: str = ""

    @property
    def killed(self) -> bool:
        return self.status == "killed"

    def to_json(self) -> dict[str, Any]:
        m = self.mutant
        return {
            "name": m.name,
            "module": m.module,
            "description": m.description,
            "planted": m.planted,
            "equivalent": m.equivalent,
            "known_gap": m.known_gap,
            "status": self.status,
            "killed_by": [k.claim for k in self.kills],
            "kills": [
                {"claim": k.claim, "note": k.note, "examples": k.examples} for k in self.kills
            ],
            "claims_run": list(self.claims_run),
            "seconds": round(self.seconds, 2),
            "detail": self.detail,
        }


def _matches(mutant: Mutant, pattern: str) -> bool:
    return mutant.name == pattern or mutant.name.startswith(pattern) or mutant.module == pattern


def select_mutants(patterns: Sequence[str]) -> tuple[Mutant, ...]:
    """Mutants whose name or module equals, or name starts with, a pattern (all if none)."""
    mutants = catalogue()
    if not patterns:
        return mutants
    unmatched = [p for p in patterns if not any(_matches(m, p) for m in mutants)]
    if unmatched:
        raise ValueError(
            f"no mutant matches {unmatched}; valid names: {', '.join(m.name for m in mutants)}"
        )
    return tuple(m for m in mutants if any(_matches(m, p) for p in patterns))


def mutated_copy(mutant: Mutant | None, root: Path, source: Path = PROJECT_ROOT) -> Path:
    """Copy the packages from ``source`` into ``root`` and apply ``mutant`` there."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in COPIED_PACKAGES:
        shutil.copytree(source / package, root / package, ignore=ignore)
    if mutant is not None:
        mutant.apply_to(root)
    return root


def _worker_command(
    mutant: Mutant | None, claims: Sequence[str], profile: str, first_kill: bool, out: Path
) -> list[str]:
    command = [sys.executable, "-m", "verify.power", "--worker", "--out", str(out)]
    command += ["--profile", profile]
    if first_kill:
        command.append("--first-kill")
    if mutant is not None:
        command += ["--expect-mutant", mutant.name]
    return [*command, "--", *claims]


def run_mutant(
    mutant: Mutant | None,
    claims: Sequence[str],
    *,
    profile: str = "quick",
    first_kill: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> MutantResult:
    """Run ``claims`` against ``mutant`` (None: the unmutated copy) in a fresh interpreter."""
    start = time.perf_counter()
    placeholder = mutant or Mutant("baseline", "none", "", "", "the unmutated packages")
    ordered = list(claims)
    if mutant is not None and mutant.catch:
        ordered = [c for c in mutant.catch if c in claims] + [
            c for c in claims if c not in mutant.catch
        ]
    with tempfile.TemporaryDirectory(prefix="finetune-mutant-") as tmp:
        root = mutated_copy(mutant, Path(tmp))
        out = root / "power-result.json"
        env = dict(os.environ)
        env["PYTHONPATH"] = str(root)
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env.setdefault("MKL_NUM_THREADS", "1")
        try:
            proc = subprocess.run(
                _worker_command(mutant, ordered, profile, first_kill, out),
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            partial = _read_partial(out)
            status = "killed" if partial["kills"] else "timeout"
            return MutantResult(
                placeholder,
                status,
                tuple(partial["kills"]),
                tuple(partial["claims_run"]),
                time.perf_counter() - start,
                f"stopped after {timeout:.0f}s",
            )
        seconds = time.perf_counter() - start
        if not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return MutantResult(
                placeholder, "error", (), (), seconds, " | ".join(tail) or f"exit {proc.returncode}"
            )
        data = _read_partial(out)
    kills = tuple(data["kills"])
    return MutantResult(
        placeholder,
        "killed" if kills else "survived",
        kills,
        tuple(data["claims_run"]),
        seconds,
        data.get("detail", ""),
    )


def _read_partial(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"kills": [], "claims_run": []}
    data["kills"] = [Kill(**k) for k in data.get("kills", [])]
    return data


def run_catalogue(
    mutants: Sequence[Mutant],
    claims: Sequence[str],
    *,
    profile: str = "quick",
    first_kill: bool = False,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[int, MutantResult], None] | None = None,
) -> list[MutantResult]:
    """Every mutant against ``claims``, ``jobs`` mutants at a time, in catalogue order."""
    results: dict[int, MutantResult] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(
                run_mutant, m, claims, profile=profile, first_kill=first_kill, timeout=timeout
            ): i
            for i, m in enumerate(mutants)
        }
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            if on_result is not None:
                on_result(len(results), results[i])
    return [results[i] for i in range(len(mutants))]


@dataclass
class ModuleRate:
    """Kill counts of one mutated module."""

    module: str
    killed: int = 0
    total: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.killed / self.total if self.total else float("nan")


def kill_rates(results: Sequence[MutantResult]) -> dict[str, ModuleRate]:
    """Per-module kill counts, modules in catalogue order."""
    rates: dict[str, ModuleRate] = {}
    for r in results:
        rate = rates.setdefault(r.mutant.module, ModuleRate(r.mutant.module))
        rate.total += 1
        if r.killed:
            rate.killed += 1
        else:
            rate.survivors.append(r.mutant.name)
    return rates


def power_document(results: Sequence[MutantResult], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON report of a power run."""
    rates = kill_rates(results)
    killed = sum(r.killed for r in results)
    return {
        "kind": "power",
        "meta": meta,
        "killed": killed,
        "total": len(results),
        "kill_rate": killed / len(results) if results else float("nan"),
        "target": TARGET_KILL_RATE,
        "modules": {
            m: {"killed": r.killed, "total": r.total, "rate": r.rate, "survivors": r.survivors}
            for m, r in rates.items()
        },
        "mutants": [r.to_json() for r in results],
    }


def format_result(result: MutantResult) -> str:
    """One line per mutant."""
    m = result.mutant
    if result.killed:
        who = ", ".join(k.claim for k in result.kills)
        tail = f"killed by {who}"
    elif result.status == "survived":
        tail = "SURVIVED" + (f" (equivalent: {m.equivalent})" if m.equivalent else "")
        tail += f" (known gap: {m.known_gap})" if m.known_gap else ""
    else:
        tail = f"{result.status.upper()}: {result.detail}"
    return f"{m.name:<34} {m.module:<22} {result.seconds:6.1f}s  {tail}"


def format_markdown(doc: dict[str, Any]) -> str:
    """A readable power report: the kill rate per module, then every mutant."""
    lines = [
        "# Power of the verifier: the mutant catalogue",
        "",
        f"{doc['killed']}/{doc['total']} mutants killed ({doc['kill_rate']:.1%}; "
        f"target {doc['target']:.0%}), profile {doc['meta'].get('profile')}, "
        f"{'first kill' if doc['meta'].get('first_kill') else 'every claim'}.",
        "",
        "| module | killed | total | rate | survivors |",
        "|---|---|---|---|---|",
    ]
    for module, r in doc["modules"].items():
        lines.append(
            md_row(
                f"`{module}`",
                r["killed"],
                r["total"],
                f"{r['rate']:.0%}",
                ", ".join(r["survivors"]) or "-",
            )
        )
    lines += ["", "| mutant | module | bug | status | caught by |", "|---|---|---|---|---|"]
    for m in doc["mutants"]:
        status = m["status"] + (f" (equivalent: {m['equivalent']})" if m["equivalent"] else "")
        status += f" (known gap: {m['known_gap']})" if m.get("known_gap") else ""
        lines.append(
            md_row(
                m["name"] + (" (planted)" if m["planted"] else ""),
                f"`{m['module']}`",
                m["description"],
                status,
                ", ".join(m["killed_by"]) or "-",
            )
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# worker: runs inside the mutated copy
# --------------------------------------------------------------------------------------


def _worker(argv: Sequence[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m verify.power --worker")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--first-kill", action="store_true")
    parser.add_argument("--expect-mutant", default=None)
    parser.add_argument("claims", nargs="*")
    args = parser.parse_args(argv)

    import symbolic

    here = Path.cwd().resolve()
    if Path(symbolic.__file__).resolve().parent.parent != here:
        print(f"error: symbolic imported from {symbolic.__file__}, not {here}", file=sys.stderr)
        return 2
    if args.expect_mutant is not None:  # the copy must carry the mutant it is run for
        mutant = next((m for m in catalogue() if m.name == args.expect_mutant), None)
        if mutant is None or mutant.replacement not in (here / mutant.path).read_text():
            print(f"error: {here} does not carry mutant {args.expect_mutant}", file=sys.stderr)
            return 2

    from verify import registry
    from verify.profiles import get_profile
    from verify.runner import run_claim

    profile = get_profile(args.profile)
    kills: list[dict[str, Any]] = []
    claims_run: list[str] = []

    def save(detail: str = "") -> None:
        tmp = args.out.with_suffix(".part")
        tmp.write_text(json.dumps({"kills": kills, "claims_run": claims_run, "detail": detail}))
        tmp.replace(args.out)

    for name in args.claims:
        claim = registry.get(name)
        result = run_claim(claim, profile, shrink=False)
        claims_run.append(name)
        if not result.passed:
            outcome = result.failing_outcome
            note = outcome.note if outcome is not None else "failed"
            kills.append({"claim": name, "note": note[:300], "examples": result.examples})
        save()
        if kills and args.first_kill:
            break
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
