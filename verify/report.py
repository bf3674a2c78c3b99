"""Plain-data records of a verification run, and the report files written from them.

A :class:`ClaimRecord` holds everything about one claim's run in JSON-able form, so it can
travel back from a worker process or a Dask worker. ``report.json`` (machine-readable, schema
checked by :func:`validate_report`) and ``report.md`` (human-readable, with ``report-*.png``
figures when matplotlib is installed) are written by :func:`write_report`; an exploration run
writes its own ``explore.json``/``explore.md``/``explore-*.png`` (:func:`write_explore`), so
both can share a folder (the table in :mod:`verify.outputs`). Every file is written
atomically; every Markdown table cell goes through :func:`md_cell` (``|`` escaped).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from verify.claim import Outcome
from verify.outputs import atomic_path, atomic_write_text
from verify.runner import ClaimResult

SCHEMA_VERSION = 1


def _finite_or_text(x: float) -> float | str:
    """JSON has no inf/nan: non-finite floats are written as the strings 'inf', '-inf', 'nan'."""
    return x if math.isfinite(x) else str(x)


def _as_float(x: float | str | None) -> float:
    return math.nan if x is None else float(x)


@dataclass(frozen=True)
class OutcomeRecord:
    """One setting's comparison: error vs threshold, both sides, the setting itself."""

    error: float | str
    threshold: float | str
    ratio: float | str
    symbolic: float | str
    numeric: float | str
    note: str
    setting: dict[str, Any]
    curve: dict[str, Any] | None = None

    @classmethod
    def build(cls, outcome: Outcome, setting: Any) -> OutcomeRecord:
        """The JSON-able record of one checked setting and its outcome."""
        curve = None
        if outcome.curve is not None:
            curve = dataclasses.asdict(outcome.curve)
            curve["x"] = [_finite_or_text(float(v)) for v in outcome.curve.x]
            curve["y"] = [_finite_or_text(float(v)) for v in outcome.curve.y]
        return cls(
            error=_finite_or_text(outcome.error),
            threshold=_finite_or_text(outcome.threshold),
            ratio=_finite_or_text(outcome.ratio),
            symbolic=_finite_or_text(outcome.symbolic),
            numeric=_finite_or_text(outcome.numeric),
            note=outcome.note,
            setting=(
                dataclasses.asdict(setting)
                if dataclasses.is_dataclass(setting) and not isinstance(setting, type)
                else {}
            ),
            curve=curve,
        )


@dataclass(frozen=True)
class ClaimRecord:
    """Everything about one claim's run, as plain data (see :func:`record_from_result`)."""

    name: str
    statement: str
    source: str
    oracle_tier: int
    oracle: str
    tolerance: dict[str, Any]
    passed: bool
    examples: int
    seed: int
    profile: str
    seconds: float
    worst: OutcomeRecord | None
    failing: OutcomeRecord | None
    reproduce: str | None
    ratios: list[float | str] = field(default_factory=list)
    #: The searched domain in words, and the coverage map of the settings checked
    #: (:mod:`verify.coverage`).
    domain: str = ""
    #: The smallest relative bias a Monte Carlo claim detects with probability 0.99 (words)
    power: str = ""
    coverage: dict[str, Any] = field(default_factory=dict)

    @property
    def worst_ratio(self) -> float:
        return _as_float(self.worst.ratio) if self.worst is not None else math.nan

    def comparable(self) -> dict[str, Any]:
        """What equal seeds reproduce whatever the executor: pass/fail, examples, failing and
        worst settings, and the worst ratio to 2 digits — except that ratios below 1% of the
        threshold (rounding-level errors, whose last bits vary between processes) compare
        as "<0.01" and their settings are not compared."""
        worst = self.worst_ratio
        significant = math.isfinite(worst) and worst >= 0.01
        return {
            "name": self.name,
            "passed": self.passed,
            "examples": self.examples,
            "seed": self.seed,
            "profile": self.profile,
            "failing": self.failing.setting if self.failing is not None else None,
            "worst_ratio": f"{worst:.2g}" if significant else "<0.01",
            "worst_setting": self.worst.setting if significant and self.worst is not None else None,
        }


def record_from_result(result: ClaimResult) -> ClaimRecord:
    """The report record of one claim's run (worst outcome, counts, coverage, timing)."""
    claim = result.claim
    worst = (
        OutcomeRecord.build(result.worst_outcome, result.worst_setting)
        if result.worst_outcome is not None
        else None
    )
    failing = (
        OutcomeRecord.build(result.failing_outcome, result.failing_setting)
        if result.failing_outcome is not None
        else None
    )
    return ClaimRecord(
        name=claim.name,
        statement=claim.statement,
        source=claim.source,
        oracle_tier=int(claim.oracle),
        oracle=claim.oracle.label,
        tolerance={
            "name": claim.tolerance.name,
            "bound": claim.tolerance.bound,
            "reason": claim.tolerance.reason,
        },
        passed=result.passed,
        examples=result.examples,
        seed=result.seed,
        profile=result.profile,
        seconds=result.seconds,
        worst=worst,
        failing=failing,
        reproduce=result.reproduce_command(),
        ratios=[_finite_or_text(r) for r in result.ratios],
        domain=claim.domain,
        power=claim.power,
        coverage=_json_safe(result.coverage),
    )


def _json_safe(value: Any) -> Any:
    """Nested data with non-finite floats written as text (JSON has no inf/nan)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float):
        return _finite_or_text(value)
    return value


def record_from_dict(data: dict[str, Any]) -> ClaimRecord:
    """Inverse of ``dataclasses.asdict`` for a :class:`ClaimRecord` (e.g. read from JSON)."""
    values = dict(data)
    for key in ("worst", "failing"):
        if values.get(key) is not None:
            values[key] = OutcomeRecord(**values[key])
    return ClaimRecord(**values)


# --------------------------------------------------------------------------------------
# Terminal formatting
# --------------------------------------------------------------------------------------


def format_record(rec: ClaimRecord) -> str:
    """One line per claim: status, name, oracle tier, examples, worst error vs threshold,
    tolerance, time."""
    status = "PASS" if rec.passed else "FAIL"
    if rec.worst is None:
        detail = "no examples ran"
    else:
        err, thr = _as_float(rec.worst.error), _as_float(rec.worst.threshold)
        detail = f"worst error {err:.2e} vs threshold {thr:.2e} (ratio {rec.worst_ratio:.2f})"
    return (
        f"{status}  {rec.name:<28} [{rec.oracle_tier} {rec.oracle}]  {rec.examples:>4} examples  "
        f"{detail}  tol: {rec.tolerance['name']}  {rec.seconds:.1f}s"
    )


def format_record_failure(rec: ClaimRecord) -> str:
    """The shrunk counterexample in plain numbers, both sides, and the rerun command."""
    if rec.passed:
        return ""
    lines = [f"  {rec.name} disagrees ({rec.statement})"]
    out = rec.failing
    if out is not None:
        lines.append(f"  setting: {json.dumps(out.setting, sort_keys=True)}")
        lines.append(
            f"  symbolic = {_as_float(out.symbolic):.12g}, "
            f"numeric = {_as_float(out.numeric):.12g}, error = {_as_float(out.error):.3g} > "
            f"threshold = {_as_float(out.threshold):.3g}"
        )
        if out.note:
            lines.append(f"  note: {out.note}")
    tol = rec.tolerance
    lines.append(f"  tolerance: {tol['name']} ({tol['bound']:.3g}): {tol['reason']}")
    if rec.reproduce:
        lines.append(f"  reproduce: {rec.reproduce}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Run metadata (what makes a run reproducible)
# --------------------------------------------------------------------------------------

PACKAGES = (
    "finetune-theory",
    "numpy",
    "scipy",
    "sympy",
    "mpmath",
    "hypothesis",
    "matplotlib",
    "distributed",
)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parents[1]
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def run_metadata(
    profile: str, seed: int, jobs: int, scheduler: str | None, argv: list[str]
) -> dict[str, Any]:
    """Versions, platform, profile, seed and the command: enough to rerun the campaign."""
    return {
        "command": "python -m verify " + " ".join(argv),
        "profile": profile,
        "seed": seed,
        "jobs": jobs,
        "scheduler": scheduler,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": {name: _version(name) for name in PACKAGES},
        "git_commit": _git_commit(),
    }


# --------------------------------------------------------------------------------------
# report.json and its schema
# --------------------------------------------------------------------------------------

#: Required keys and types of report.json (checked by :func:`validate_report`).
SCHEMA: dict[str, Any] = {
    "schema_version": int,
    "run": {
        "command": str,
        "profile": str,
        "seed": int,
        "jobs": int,
        "python": str,
        "versions": dict,
    },
    "totals": {"claims": int, "passed": int, "failed": int, "examples": int, "seconds": float},
    "claims": [
        {
            "name": str,
            "statement": str,
            "source": str,
            "oracle_tier": int,
            "oracle": str,
            "tolerance": {"name": str, "bound": float, "reason": str},
            "passed": bool,
            "examples": int,
            "seed": int,
            "seconds": float,
            "ratios": list,
            "domain": str,
            "power": str,
            "coverage": {"examples": int, "fields": dict},
        }
    ],
    "explore": list,
    #: False when the run was interrupted: the claims listed are the ones that finished.
    "complete": bool,
}

#: One exploration's curve (:mod:`verify.explore`), in report.json and explore.json.
EXPLORATION_SCHEMA: dict[str, Any] = {
    "name": str,
    "title": str,
    "relaxed": str,
    "xlabel": str,
    "ylabel": str,
    "x": list,
    "y": list,
    "summary": str,
}

#: Required keys and types of explore.json (checked by :func:`validate_explore`).
EXPLORE_SCHEMA: dict[str, Any] = {
    "schema_version": int,
    "kind": str,
    "run": {"command": str, "seed": int, "size": str, "python": str, "versions": dict},
    "complete": bool,
    "explore": [EXPLORATION_SCHEMA],
}


def _check(value: Any, spec: Any, path: str, doc: str = "report.json") -> None:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{doc}: {path} must be an object")
        for key, sub in spec.items():
            if key not in value:
                raise ValueError(f"{doc}: {path}.{key} is missing")
            _check(value[key], sub, f"{path}.{key}", doc)
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise ValueError(f"{doc}: {path} must be a list")
        for i, item in enumerate(value):
            _check(item, spec[0], f"{path}[{i}]", doc)
    elif spec is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{doc}: {path} must be a number, got {value!r}")
    elif spec is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{doc}: {path} must be an integer, got {value!r}")
    elif not isinstance(value, spec):
        raise ValueError(f"{doc}: {path} must be {spec.__name__}, got {type(value).__name__}")


def validate_report(doc: dict[str, Any]) -> None:
    """Raise ValueError naming the first path of ``doc`` that breaks :data:`SCHEMA`."""
    _check(doc, SCHEMA, "$")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"report.json: schema_version must be {SCHEMA_VERSION}")
    for i, claim in enumerate(doc["claims"]):
        if not claim["passed"] and not claim.get("reproduce"):
            raise ValueError(f"report.json: $.claims[{i}] failed but carries no reproduce command")
    for i, item in enumerate(doc["explore"]):
        _check(item, EXPLORATION_SCHEMA, f"$.explore[{i}]")


def report_document(
    meta: dict[str, Any],
    records: list[ClaimRecord],
    explore: list[dict[str, Any]] | None = None,
    complete: bool = True,
) -> dict[str, Any]:
    """The report.json document of a campaign. ``complete=False`` marks an interrupted run
    (``records`` are the claims that finished); report.md then says so at the top."""
    passed = sum(r.passed for r in records)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": meta,
        "complete": bool(complete),
        "totals": {
            "claims": len(records),
            "passed": passed,
            "failed": len(records) - passed,
            "examples": sum(r.examples for r in records),
            "seconds": float(sum(r.seconds for r in records)),
        },
        "claims": [dataclasses.asdict(r) for r in records],
        "explore": _json_safe(list(explore or [])),
    }


def explore_document(
    meta: dict[str, Any], explore: list[dict[str, Any]], complete: bool = True
) -> dict[str, Any]:
    """The explore.json document of ``python -m verify explore --report DIR``: the run's
    metadata (``meta["size"]``: tiny/quick/full) and every exploration's curve (non-finite
    values written as the strings 'nan', 'inf'). ``complete=False``: interrupted."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "explore",
        "run": meta,
        "complete": bool(complete),
        "explore": _json_safe(list(explore)),
    }


def validate_explore(doc: dict[str, Any]) -> None:
    """Raise ValueError naming the first path of ``doc`` that breaks :data:`EXPLORE_SCHEMA`."""
    _check(doc, EXPLORE_SCHEMA, "$", "explore.json")
    if doc["schema_version"] != SCHEMA_VERSION or doc["kind"] != "explore":
        raise ValueError(
            f"explore.json: schema_version must be {SCHEMA_VERSION} and kind 'explore'"
        )


# --------------------------------------------------------------------------------------
# report.md, explore.md and their figures
# --------------------------------------------------------------------------------------

#: File-name prefixes of the PNGs: a campaign's (its claims, coverage maps and explorations
#: run with ``--explore``) and an exploration run's, so both can share a folder.
CAMPAIGN_PREFIX = "report-"
EXPLORE_PREFIX = "explore-"


def md_cell(value: object) -> str:
    r"""Text for one Markdown table cell: ``|`` escaped as ``\|`` (GitHub tables split on it,
    even inside code spans, where ``\|`` still renders as ``|``) and line breaks as spaces.
    Every table of the reports uses it (through :func:`md_row`)."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_row(*cells: object) -> str:
    """One Markdown table row of :func:`md_cell` cells."""
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def _matplotlib() -> Any:
    try:
        from verify.figures import require_matplotlib

        return require_matplotlib()
    except Exception:
        return None


def _savefig(plt: Any, fig: Any, out: Path, name: str) -> str:
    """Save ``fig`` as ``out/name`` atomically and close it; returns ``name``."""
    try:
        with atomic_path(out / name) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return name


def _plots(doc: dict[str, Any], out: Path) -> dict[str, str]:
    """The campaign's PNGs: per claim (distribution of log10 error/threshold; the worst curve
    of rate claims; its coverage map) and per explore curve, all named ``report-*.png``.
    Returns key -> file name; empty without matplotlib."""
    plt = _matplotlib()
    if plt is None:
        return {}
    import numpy as np

    files: dict[str, str] = {}
    for claim in doc["claims"]:
        ratios = np.array([_as_float(r) for r in claim["ratios"]])
        ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
        curve = (claim.get("worst") or {}).get("curve")
        ncols = 2 if curve else 1
        fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols, 3.2), squeeze=False)
        ax = axes[0][0]
        if ratios.size:
            ax.hist(np.log10(ratios), bins=30, color="#4477aa")
        ax.axvline(0.0, color="#cc3311", ls="--", label="threshold")
        ax.set_xlabel("log10(error / threshold)")
        ax.set_ylabel("examples")
        ax.set_title(f"{claim['name']}: {claim['examples']} examples", fontsize=9)
        ax.legend(fontsize=7)
        if curve:
            cx = axes[0][1]
            x = np.array([_as_float(v) for v in curve["x"]])
            y = np.array([_as_float(v) for v in curve["y"]])
            keep = (x > 0) & (y > 0)
            cx.loglog(x[keep], y[keep], "o-", label="measured (worst example)")
            if curve.get("expected_slope") is not None and keep.sum() >= 1:
                ref = y[keep][0] * (x[keep] / x[keep][0]) ** curve["expected_slope"]
                cx.loglog(x[keep], ref, "--", label=f"slope {curve['expected_slope']:g} (theory)")
            from matplotlib.ticker import NullFormatter

            cx.xaxis.set_minor_formatter(NullFormatter())
            cx.set_xlabel(curve["xlabel"])
            cx.set_ylabel(curve["ylabel"])
            cx.legend(fontsize=7)
            cx.set_title("rate", fontsize=9)
        fig.tight_layout()
        files[claim["name"]] = _savefig(
            plt, fig, out, f"{CAMPAIGN_PREFIX}claim-{claim['name']}.png"
        )
        cov = _coverage_plot(plt, claim, out)
        if cov is not None:
            files[f"coverage:{claim['name']}"] = cov
    files.update(_explore_plots(plt, doc["explore"], out, f"{CAMPAIGN_PREFIX}explore-"))
    return files


def _explore_plots(plt: Any, items: list[dict[str, Any]], out: Path, prefix: str) -> dict[str, str]:
    """One PNG per exploration curve, ``<prefix><name>.png``; key ``explore:<name>``."""
    import numpy as np

    files: dict[str, str] = {}
    for item in items:
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        x = np.array([_as_float(v) for v in item["x"]])
        y = np.array([_as_float(v) for v in item["y"]])
        keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
        ax.plot(x[keep], y[keep], "o-", label="measured disagreement (training)")
        if item.get("reference_y"):
            ref = np.array([_as_float(v) for v in item["reference_y"]])
            ax.plot(x, ref, "--", label=item["reference_label"])
        ax.set_xscale(item.get("xscale", "log"))
        ax.set_yscale(item.get("yscale", "log"))
        ax.set_xlabel(item["xlabel"])
        ax.set_ylabel(item["ylabel"])
        ax.set_title(item["title"], fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        files[f"explore:{item['name']}"] = _savefig(plt, fig, out, f"{prefix}{item['name']}.png")
    return files


def _coverage_lines(claim: dict[str, Any]) -> list[str]:
    """The claim's searched domain and a table of the sampled range of each setting field."""
    from verify.coverage import describe_field

    lines: list[str] = []
    if claim.get("domain"):
        lines += [f"Searched domain: {claim['domain']}", ""]
    if claim.get("power"):
        lines += [f"Power: {claim['power']}", ""]
    fields = (claim.get("coverage") or {}).get("fields") or {}
    if fields:
        lines += [
            f"Coverage of the {claim['coverage']['examples']} settings checked "
            "(histogram: 10 bins from min to max):",
            "",
            md_row("field", "sampled range", "histogram"),
            "|---|---|---|",
        ]
        for name, info in fields.items():
            rng, hist = describe_field(info)
            lines.append(md_row(f"`{name}`", rng, hist))
        lines.append("")
    return lines


def _coverage_plot(plt: Any, claim: dict[str, Any], out: Path) -> str | None:
    """Small histograms of every numeric setting field (the coverage map), 4 per row."""
    fields = {
        k: v
        for k, v in ((claim.get("coverage") or {}).get("fields") or {}).items()
        if v.get("kind") == "numeric" and v.get("count")
    }
    if not fields:
        return None
    cols = min(4, len(fields))
    rows = math.ceil(len(fields) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.7 * rows), squeeze=False)
    for ax in axes.flat[len(fields) :]:
        ax.axis("off")
    for ax, (key, info) in zip(axes.flat, fields.items(), strict=False):
        edges = [float(e) for e in info["edges"]]
        lefts, widths = edges[:-1], [b - a for a, b in itertools.pairwise(edges)]
        ax.bar(lefts, info["counts"], width=widths, align="edge", color="#4477aa")
        if info["scale"] == "log":
            ax.set_xscale("log")
        ax.set_title(key, fontsize=7)
        ax.tick_params(labelsize=6)
    count = claim["coverage"]["examples"]
    fig.suptitle(f"{claim['name']}: coverage of {count} settings", fontsize=8)
    fig.tight_layout()
    return _savefig(plt, fig, out, f"{CAMPAIGN_PREFIX}coverage-{claim['name']}.png")


def _explore_lines(items: list[dict[str, Any]], figures: dict[str, str]) -> list[str]:
    """Per exploration: title, summary, its PNG and a table of its curve."""
    lines: list[str] = []
    for item in items:
        lines += [f"### {item['title']}", "", item["summary"], ""]
        key = f"explore:{item['name']}"
        if key in figures:
            lines += [f"![{item['name']}]({figures[key]})", ""]
        lines += [md_row(item["xlabel"], item["ylabel"]), "|---|---|"]
        lines += [
            md_row(f"{_as_float(x):.4g}", f"{_as_float(y):.4g}")
            for x, y in zip(item["x"], item["y"], strict=True)
        ]
        lines.append("")
    return lines


def _reproducibility_lines(run: dict[str, Any]) -> list[str]:
    return [
        "## Reproducibility",
        "",
        f"Python {run['python']} on {run.get('platform')}; git commit {run.get('git_commit')}.",
        "",
        md_row("package", "version"),
        "|---|---|",
        *[md_row(k, val) for k, val in run["versions"].items()],
        "",
    ]


#: The line report.md / explore.md carry at the top when ``complete`` is false.
PARTIAL_NOTICE = "**partial report: interrupted**"


def _markdown(doc: dict[str, Any], figures: dict[str, str]) -> str:
    run, totals = doc["run"], doc["totals"]
    lines = ["# finetune-theory verification report", ""]
    if not doc.get("complete", True):
        lines += [
            f"{PARTIAL_NOTICE}: the run was stopped before every claim finished; the "
            "claims below are the ones that did.",
            "",
        ]
    lines += [
        f"`{run['command']}` — profile **{run['profile']}**, seed {run['seed']}, "
        f"{run['jobs']} job(s), scheduler {run.get('scheduler') or 'local'}, "
        f"started {run.get('started')}.",
        "",
        f"**{totals['passed']}/{totals['claims']} claims agree**, {totals['examples']} examples, "
        f"{totals['seconds']:.1f} s of claim time.",
        "",
        md_row(
            "status", "claim", "oracle", "examples", "worst error / threshold", "tolerance", "time"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for c in doc["claims"]:
        worst = c.get("worst") or {}
        ratio = _as_float(worst.get("ratio"))
        lines.append(
            md_row(
                "PASS" if c["passed"] else "**FAIL**",
                f"`{c['name']}`",
                f"{c['oracle_tier']} {c['oracle']}",
                c["examples"],
                f"{_as_float(worst.get('error')):.2e} / {_as_float(worst.get('threshold')):.2e} "
                f"(ratio {ratio:.2f})",
                c["tolerance"]["name"],
                f"{c['seconds']:.1f} s",
            )
        )
    failed = [c for c in doc["claims"] if not c["passed"]]
    if failed:
        lines += ["", "## Disagreements", ""]
        for c in failed:
            f = c.get("failing") or {}
            lines += [
                f"### `{c['name']}`",
                "",
                f"{c['statement']}",
                "",
                f"- shrunk setting: `{json.dumps(f.get('setting', {}), sort_keys=True)}`",
                f"- symbolic {f.get('symbolic')}, numeric {f.get('numeric')}, "
                f"error {f.get('error')} > threshold {f.get('threshold')}",
                f"- note: {f.get('note', '')}",
                f"- reproduce: `{c['reproduce']}`",
                "",
            ]
    lines += ["", "## Claims", ""]
    for c in doc["claims"]:
        lines += [
            f"### `{c['name']}` ({c['source']})",
            "",
            c["statement"],
            "",
            f"Tolerance **{c['tolerance']['name']}** ({c['tolerance']['bound']:g}): "
            f"{c['tolerance']['reason']}",
            "",
        ]
        worst = c.get("worst")
        if worst:
            lines += [f"Worst setting: `{json.dumps(worst['setting'], sort_keys=True)}`", ""]
        if c["name"] in figures:
            lines += [f"![{c['name']}]({figures[c['name']]})", ""]
        lines += _coverage_lines(c)
        if f"coverage:{c['name']}" in figures:
            lines += [f"![coverage of {c['name']}]({figures['coverage:' + c['name']]})", ""]
    if doc["explore"]:
        lines += ["## Where the theorems stop holding", ""]
        lines += _explore_lines(doc["explore"], figures)
    lines += _reproducibility_lines(run)
    return "\n".join(lines)


def _explore_markdown(doc: dict[str, Any], figures: dict[str, str]) -> str:
    run = doc["run"]
    lines = ["# finetune-theory explorations: where the theorems stop holding", ""]
    if not doc.get("complete", True):
        lines += [
            f"{PARTIAL_NOTICE}: the run was stopped before every exploration finished; the "
            "explorations below are the ones that did.",
            "",
        ]
    lines += [
        f"`{run['command']}` — size **{run['size']}**, seed {run['seed']}, "
        f"started {run.get('started')}. Nothing fails here: each exploration relaxes one "
        "hypothesis of a theorem and the curve is the measured disagreement.",
        "",
    ]
    lines += _explore_lines(doc["explore"], figures)
    lines += _reproducibility_lines(run)
    return "\n".join(lines)


def _write_json(path: Path, doc: dict[str, Any]) -> Path:
    return atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


def write_report(doc: dict[str, Any], out: Path) -> list[Path]:
    """Write report.json, report.md and (with matplotlib) the ``report-*.png`` they refer to.

    ``doc`` is validated first (nothing is written for an invalid one); every file is
    written atomically, the PNGs first, so report.md never refers to a missing figure.
    Returns [report.json, report.md, *PNGs].
    """
    validate_report(doc)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = _plots(doc, out)
    js = _write_json(out / "report.json", doc)
    md = atomic_write_text(out / "report.md", _markdown(doc, figures))
    return [js, md, *(out / f for f in figures.values())]


def write_explore(doc: dict[str, Any], out: Path) -> list[Path]:
    """Write explore.json, explore.md and (with matplotlib) the ``explore-*.png`` they refer
    to, validated and atomically like :func:`write_report`; never touches report.*."""
    validate_explore(doc)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plt = _matplotlib()
    figures = _explore_plots(plt, doc["explore"], out, EXPLORE_PREFIX) if plt is not None else {}
    js = _write_json(out / "explore.json", doc)
    md = atomic_write_text(out / "explore.md", _explore_markdown(doc, figures))
    return [js, md, *(out / f for f in figures.values())]
