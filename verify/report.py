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
from typing import TYPE_CHECKING, Any

from verify.claim import Outcome
from verify.outputs import atomic_path, atomic_write_text
from verify.runner import ClaimResult

if TYPE_CHECKING:
    from verify.statistics import LogLogFit

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


#: A claim with fewer finite, positive error/threshold ratios than this gets a strip plot
#: (one marker per example) instead of a histogram, whose bins would be mostly empty (two
#: examples drew one bar).
STRIP_PLOT_BELOW = 20
#: Half-height of the strip plot's vertical jitter (the strip spans -1..1), which keeps
#: examples with equal ratios apart; drawn from ``np.random.default_rng(STRIP_JITTER_SEED)``
#: so one report always draws the same PNG.
STRIP_JITTER = 0.35
STRIP_JITTER_SEED = 0
#: Most labelled major ticks on an axis of a one- or two-panel report figure ...
MAX_TICKS = 5
#: ... and on a coverage-map panel (a quarter of the text width).
COVERAGE_MAX_TICKS = 3
COVERAGE_PANELS_PER_ROW = 4
COVERAGE_PANEL_HEIGHT = 1.5  # inches per row of coverage panels
COVERAGE_TITLE_HEIGHT = 0.45  # inches above them for the (wrapped) title
#: Points of the fitted line and its band between the smallest and the largest x.
FIT_GRID_POINTS = 50
#: Padding of the tight bounding box the PNGs are saved with (inches): a figure's PNG is at
#: most (width + 2·pad)·PNG_DPI pixels wide.
SAVE_PAD_INCHES = 0.04
#: Rotation (degrees) of x tick labels that would overlap horizontally.
TICK_ROTATION = 30.0
#: Gids of the fitted line and its band (the legend shows them as one entry).
FIT_LINE_GID = "loglog-fit"
FIT_BAND_GID = "loglog-fit-band"
#: Colours: measured points and the fit (blue), theory and threshold (red).
MEASURED_COLOUR = "#1f77b4"
THEORY_COLOUR = "#d62728"


def _savefig(plt: Any, fig: Any, out: Path, name: str) -> str:
    """Save ``fig`` as ``out/name`` atomically (PNG at :data:`verify.figures.style.PNG_DPI`,
    tight bounding box padded by :data:`SAVE_PAD_INCHES`, inside the shared style) and close
    it; returns ``name``."""
    from verify.figures import style as st

    try:
        with st.style(), atomic_path(out / name) as tmp:
            fig.savefig(
                tmp,
                dpi=st.PNG_DPI,
                format="png",
                bbox_inches="tight",
                pad_inches=SAVE_PAD_INCHES,
            )
    finally:
        plt.close(fig)
    return name


def _loglog_fit(x: Any, y: Any) -> LogLogFit | None:
    """The least-squares fit of log10 y on log10 x (:func:`verify.statistics.loglog_fit`:
    slope, intercept, slope standard error s/√Sxx, dof = n − 2 and the 95% band of the fitted
    mean line ŷ ± t_{n−2}·s·√(1/n + (log10 x − x̄)²/Sxx)) over the finite positive points, or
    None with fewer than 3 of them or fewer than 2 distinct x (no slope, or no residual
    degrees of freedom)."""
    import numpy as np

    from verify.statistics import loglog_fit

    try:
        return loglog_fit(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    except ValueError:
        return None


def _axes_width(fig_width: float, cols: int) -> float:
    """Width (inches) of one panel's axes: its share of the figure less its y axis."""
    from verify.figures import style as st

    return fig_width / cols - st.YAXIS_WIDTH


def _label_axes(
    ax: Any, title: str, xlabel: str, ylabel: str, width_in: float, height_in: float
) -> None:
    """Title, x and y labels wrapped (:func:`verify.figures.style.wrap`) to the axes' width
    and height, so none runs past the figure's edge."""
    from verify.figures import style as st

    ax.set_title(st.wrap(title, width_in, st.PANEL_TITLE_PT))
    ax.set_xlabel(st.wrap(xlabel, width_in, st.LABEL_PT))
    ax.set_ylabel(st.wrap(ylabel, height_in * 0.8, st.LABEL_PT))


#: A log axis of a report figure whose data span at most this many decades gets
#: plain-number ticks (:func:`verify.figures.log_ticks`); a wider one, decades.
MANTISSA_DECADES = 2.5


def _tick_text(t: float, plain: bool) -> str:
    """A log-axis tick label: a plain number (``plain``: every tick of the axis lies in
    [1e-3, 1e5)), else m×10^e in mathtext, so one axis never mixes the two."""
    if plain or t == 0:
        return f"{t:g}"
    e = math.floor(math.log10(abs(t)))
    m = round(t / 10.0**e, 6)
    return f"$10^{{{e}}}$" if m == 1 else f"${m:g}\\times10^{{{e}}}$"


def _readable_axis(axis: Any, scale: str, values: Any, nbins: int) -> None:
    """At most ``nbins`` + 1 labelled major ticks on ``axis``: MaxNLocator on a linear axis;
    on a log axis, for data spanning at most :data:`MANTISSA_DECADES` decades plain-number
    ticks at 1-2-5-like mantissas (:func:`verify.figures.log_ticks`), else decades, with
    unlabelled minor ticks."""
    import numpy as np
    from matplotlib.ticker import (
        FixedLocator,
        FuncFormatter,
        LogLocator,
        MaxNLocator,
        NullFormatter,
    )

    if scale != "log":
        axis.set_major_locator(MaxNLocator(nbins=nbins))
        return
    from verify.figures import log_ticks

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    ticks: list[float] = []
    if v.size and v.max() <= 10**MANTISSA_DECADES * v.min():
        lo, hi = float(v.min()), float(v.max())
        ticks = log_ticks(lo, hi, nbins + 1) if hi > lo else [lo]
    if ticks:
        axis.set_major_locator(FixedLocator(ticks))
        plain = all(1e-3 <= t < 1e5 for t in ticks)
        axis.set_major_formatter(FuncFormatter(lambda t, _: _tick_text(t, plain)))
    else:
        axis.set_major_locator(LogLocator(base=10.0, numticks=nbins + 1))
    axis.set_minor_locator(LogLocator(base=10.0, subs="auto", numticks=12))
    axis.set_minor_formatter(NullFormatter())


def _overlapping(boxes: list[Any]) -> bool:
    """Whether any two of the (display-space) bounding boxes overlap."""
    return any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))


def _tick_label_boxes(axis: Any, renderer: Any) -> list[Any]:
    """Bounding boxes of the visible, non-empty major tick labels of ``axis``."""
    return [
        t.get_window_extent(renderer)
        for t in axis.get_ticklabels()
        if t.get_visible() and t.get_text()
    ]


def _untangle_ticks(fig: Any) -> None:
    """Make sure no two x (or y) tick labels of an axes of ``fig`` overlap: rotate
    overlapping x labels by :data:`TICK_ROTATION`, then hide every other label (x or y) while
    some still overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        if _overlapping(_tick_label_boxes(ax.xaxis, renderer)):
            for t in ax.get_xticklabels():
                t.set_rotation(TICK_ROTATION)
                t.set_horizontalalignment("right")
                t.set_rotation_mode("anchor")
        for axis in (ax.xaxis, ax.yaxis):
            for _ in range(3):
                labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
                if not _overlapping([t.get_window_extent(renderer) for t in labels]):
                    break
                for t in labels[1::2]:
                    t.set_visible(False)
                fig.canvas.draw()


def _legend_below(ax: Any, width_in: float) -> None:
    """The axes' legend (if it has labelled artists) just below its x axis (tick labels and
    label), in as many columns as fit ``width_in``; the tight bounding box the PNG is saved
    with makes room for it. Call after the layout (``tight_layout``)."""
    from verify.figures import style as st

    handles, labels = ax.get_legend_handles_labels()
    if not labels:
        return
    bands = [c for c in ax.collections if c.get_gid() == FIT_BAND_GID]
    handles = [(bands[0], h) if bands and h.get_gid() == FIT_LINE_GID else h for h in handles]
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    bottom = ax.xaxis.get_tightbbox(renderer).y0
    y = ax.transAxes.inverted().transform((0.0, bottom))[1]
    entries = [st.LegendEntry(text, "line") for text in labels]
    ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, y - 0.02),
        ncol=st.legend_columns(entries, width_in),
        frameon=False,
        handlelength=1.8,
        columnspacing=1.2,
        borderaxespad=0.0,
    )


def _finish(fig: Any, legend_axes: list[tuple[Any, float]]) -> None:
    """Lay ``fig`` out (tight_layout), untangle tick labels, put each listed axes' legend
    below it."""
    fig.tight_layout(h_pad=0.8, w_pad=1.2)
    _untangle_ticks(fig)
    for ax, width_in in legend_axes:
        _legend_below(ax, width_in)


def _draw_ratios(ax: Any, log_ratios: Any) -> str:
    """The distribution of log10(error/threshold) with the threshold (0) as a dashed line: a
    histogram, or a strip plot (one marker per example, seeded vertical jitter) below
    :data:`STRIP_PLOT_BELOW` examples. Returns the y label."""
    import numpy as np

    from verify.figures import style as st

    n = int(log_ratios.size)
    if 0 < n < STRIP_PLOT_BELOW:
        jitter = np.random.default_rng(STRIP_JITTER_SEED).uniform(-STRIP_JITTER, STRIP_JITTER, n)
        ax.plot(
            log_ratios,
            jitter,
            marker="o",
            linestyle="None",
            color=MEASURED_COLOUR,
            alpha=0.8,
            label="one example",
        )
        ax.set_ylim(-1.0, 1.0)
        ax.set_yticks([])
        ylabel = "examples (jittered)"
    else:
        if n:
            ax.hist(log_ratios, bins=min(30, max(8, round(2 * math.sqrt(n)))), color=st.PALETTE[0])
        ax.yaxis.get_major_locator().set_params(integer=True)
        ylabel = "examples"
    ax.axvline(0.0, color=THEORY_COLOUR, ls="--", label="threshold (error = threshold)")
    lo, hi = ax.get_xlim()
    ax.set_xlim(min(lo, -0.05 * (hi - lo)), max(hi, 0.05 * (hi - lo)))
    return ylabel


def _draw_rate(
    ax: Any,
    x: Any,
    y: Any,
    expected_slope: float | None,
    measured_label: str,
    fit_wanted: bool = True,
) -> LogLogFit | None:
    """A rate on log-log axes: the measured points as markers only (replicates are not
    joined), the least-squares fit of log10 y on log10 x with its 95% band of the fitted
    mean line (:func:`_loglog_fit`; from 3 usable points), and the theory slope as a dashed
    line through the fit's centroid (x̄, ȳ) in log space (the points' centroid without a
    fit). Returns the fit, or None."""
    import numpy as np

    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[keep], y[keep]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.plot(
        x,
        y,
        marker="o",
        linestyle="None",
        color=MEASURED_COLOUR,
        alpha=0.75,
        zorder=3,
        label=measured_label,
    )
    if x.size == 0:
        return None
    grid = np.geomspace(x.min(), x.max(), FIT_GRID_POINTS) if x.max() > x.min() else x[:1]
    fit = _loglog_fit(x, y) if fit_wanted else None
    if fit is not None:
        lo, hi = fit.band(grid)
        band = ax.fill_between(grid, lo, hi, color=MEASURED_COLOUR, alpha=0.2, lw=0, zorder=1)
        band.set_gid(FIT_BAND_GID)
        ax.plot(
            grid,
            fit.line(grid),
            "-",
            color=MEASURED_COLOUR,
            lw=0.9,
            zorder=2,
            label=f"fit, 95% band: slope {fit.slope:.2f} ± {fit.slope_se:.2f}",
            gid=FIT_LINE_GID,
        )
    if expected_slope is not None:
        if fit is not None:
            ref = fit.reference(grid, expected_slope)
        else:  # no fit: through the points' centroid in log space
            mx, my = np.log10(x).mean(), np.log10(y).mean()
            ref = 10.0 ** (my + expected_slope * (np.log10(grid) - mx))
        ax.plot(
            grid, ref, "--", color=THEORY_COLOUR, zorder=2, label=f"theory slope {expected_slope:g}"
        )
    return fit


def _claim_figure(plt: Any, claim: dict[str, Any]) -> Any:
    """One claim's figure: the error/threshold distribution, and next to it the rate of the
    worst example when the claim measured one (``worst.curve``)."""
    import numpy as np

    from verify.figures import style as st

    ratios = np.array([_as_float(r) for r in claim["ratios"]])
    exact = int(np.sum(ratios == 0))
    ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    curve = (claim.get("worst") or {}).get("curve")
    panels = 2 if curve else 1
    width, height = st.figure_size(panels)
    fig, axes = plt.subplots(1, panels, figsize=(width, height), squeeze=False)
    axes_width = _axes_width(width, panels)
    ax = axes[0][0]
    ylabel = _draw_ratios(ax, np.log10(ratios))
    note = f", {exact} with error 0 not shown" if exact else ""
    _label_axes(
        ax,
        f"{claim['name']}: {claim['examples']} examples{note}",
        "log10(error / threshold)",
        ylabel,
        axes_width,
        height,
    )
    _readable_axis(ax.xaxis, "linear", [], MAX_TICKS)
    legend_axes = [(ax, axes_width)]
    if curve:
        cx = axes[0][1]
        x = np.array([_as_float(v) for v in curve["x"]])
        y = np.array([_as_float(v) for v in curve["y"]])
        slope = curve.get("expected_slope")
        fit = _draw_rate(cx, x, y, slope, "measured (worst example)")
        title = "rate of the worst example" + (
            f": fitted slope {fit.slope:.2f}±{fit.slope_se:.2f}" if fit is not None else ""
        )
        if slope is not None:
            title += f" (theory {slope:g})"
        _label_axes(cx, title, curve["xlabel"], curve["ylabel"], axes_width, height)
        _readable_axis(cx.xaxis, "log", x, MAX_TICKS)
        _readable_axis(cx.yaxis, "log", y, MAX_TICKS)
        legend_axes.append((cx, axes_width))
    _finish(fig, legend_axes)
    return fig


def _plots(doc: dict[str, Any], out: Path) -> dict[str, str]:
    """The campaign's PNGs in the shared figure style (:mod:`verify.figures.style`): per
    claim the distribution of log10 error/threshold (strip plot below
    :data:`STRIP_PLOT_BELOW` examples, else a histogram) and the worst example's rate with
    its fitted slope, 95% band and theory slope (rate claims), then its coverage map; per
    explore curve its figure. All named ``report-*.png``. Returns key -> file name; empty
    without matplotlib."""
    plt = _matplotlib()
    if plt is None:
        return {}
    from verify.figures import style as st

    files: dict[str, str] = {}
    for claim in doc["claims"]:
        with st.style():
            fig = _claim_figure(plt, claim)
        files[claim["name"]] = _savefig(
            plt, fig, out, f"{CAMPAIGN_PREFIX}claim-{claim['name']}.png"
        )
        cov = _coverage_plot(plt, claim, out)
        if cov is not None:
            files[f"coverage:{claim['name']}"] = cov
    files.update(_explore_plots(plt, doc["explore"], out, f"{CAMPAIGN_PREFIX}explore-"))
    return files


def _explore_figure(plt: Any, item: dict[str, Any]) -> Any:
    """One exploration's one-panel figure: the measured disagreement as markers, the
    item's reference curve when it has one (``reference_y``), else on log-log axes with
    >= 3 points the fitted slope with its 95% band (and the theory slope, if the item
    carries an ``expected_slope``)."""
    import numpy as np

    from verify.figures import style as st

    width, height = st.figure_size(1)
    fig, ax = plt.subplots(figsize=(width, height))
    axes_width = _axes_width(width, 1)
    x = np.array([_as_float(v) for v in item["x"]])
    y = np.array([_as_float(v) for v in item["y"]])
    xscale, yscale = item.get("xscale", "log"), item.get("yscale", "log")
    reference = item.get("reference_y")
    title = item["title"]
    label = "measured disagreement (training)"
    if xscale == "log" and yscale == "log" and not reference:
        fit = _draw_rate(ax, x, y, item.get("expected_slope"), label)
        if fit is not None:
            title += f"; fitted slope {fit.slope:.2f}±{fit.slope_se:.2f}"
    else:
        keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
        ax.plot(x[keep], y[keep], marker="o", linestyle="None", color=MEASURED_COLOUR, label=label)
        if reference:
            ref = np.array([_as_float(v) for v in reference])
            ok = np.isfinite(x) & np.isfinite(ref) & (ref > 0)
            ax.plot(x[ok], ref[ok], "--", color=THEORY_COLOUR, label=item["reference_label"])
        ax.set_xscale(xscale)
        ax.set_yscale(yscale)
    lost = int(np.sum(~np.isfinite(y)))
    if lost:
        title += f" ({lost} point(s) diverged, not shown)"
    _label_axes(ax, title, item["xlabel"], item["ylabel"], axes_width, height)
    ys = list(y) + [_as_float(v) for v in reference or []]
    _readable_axis(ax.xaxis, xscale, x, MAX_TICKS)
    _readable_axis(ax.yaxis, yscale, ys, MAX_TICKS)
    _finish(fig, [(ax, axes_width)])
    return fig


def _explore_plots(plt: Any, items: list[dict[str, Any]], out: Path, prefix: str) -> dict[str, str]:
    """One PNG per exploration curve (:func:`_explore_figure`, shared style, one column
    wide), ``<prefix><name>.png``; key ``explore:<name>``."""
    from verify.figures import style as st

    files: dict[str, str] = {}
    for item in items:
        with st.style():
            fig = _explore_figure(plt, item)
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


def _coverage_panel(ax: Any, key: str, info: dict[str, Any], axes_width: float) -> None:
    """One field of a coverage map: its histogram (numeric; one bar for a constant field)
    or the count of each value (categorical)."""
    from verify.figures import style as st

    if info.get("kind") == "categorical":
        names = [str(k) for k in info["counts"]]
        ax.bar(range(len(names)), list(info["counts"].values()), color=st.PALETTE[0])
        ax.set_xticks(range(len(names)), names)
        scale = "linear"
    else:
        edges = [float(e) for e in info["edges"]]
        lo, hi = edges[0], edges[-1]
        scale = info.get("scale", "linear")
        if hi > lo:
            lefts, widths = edges[:-1], [b - a for a, b in itertools.pairwise(edges)]
            ax.bar(lefts, info["counts"], width=widths, align="edge", color=st.PALETTE[0])
            if scale == "log":
                ax.set_xscale("log")
            _readable_axis(ax.xaxis, scale, edges, COVERAGE_MAX_TICKS)
        else:  # every setting had this value: one bar, one tick
            ax.bar([0.0], [int(info["count"])], width=0.6, color=st.PALETTE[0])
            ax.set_xlim(-1.0, 1.0)
            ax.set_xticks([0.0], [f"{lo:.4g}"])
    _readable_axis(ax.yaxis, "linear", [], COVERAGE_MAX_TICKS)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(st.wrap(key, axes_width, st.TICK_PT), fontsize=st.TICK_PT)


def _coverage_plot(plt: Any, claim: dict[str, Any], out: Path) -> str | None:
    """The coverage map in the shared style: one small histogram per varying setting field
    (numeric: the sampled range in 10 bins; categorical: the count of each value),
    :data:`COVERAGE_PANELS_PER_ROW` per row across the text width; fields that kept one
    value are listed under the title instead (drawn as panels only when no field varied)."""
    from verify.figures import style as st

    fields = (claim.get("coverage") or {}).get("fields") or {}
    drawable = {
        k: v
        for k, v in fields.items()
        if (v.get("kind") == "numeric" and v.get("count"))
        or (v.get("kind") == "categorical" and v.get("counts"))
    }

    def constant(info: dict[str, Any]) -> bool:
        if info.get("kind") == "categorical":
            return len(info["counts"]) == 1
        return bool(info["max"] == info["min"])

    varying = {k: v for k, v in drawable.items() if not constant(v)}
    fixed = {k: v for k, v in drawable.items() if constant(v)}
    panels = varying or fixed
    if not panels:
        return None
    cols = min(COVERAGE_PANELS_PER_ROW, len(panels))
    rows = math.ceil(len(panels) / cols)
    width = st.DOUBLE_COLUMN
    axes_width = width / cols - 0.35  # less the (narrow) count tick labels
    count = claim["coverage"]["examples"]
    title = f"{claim['name']}: coverage of {count} settings"
    if varying and fixed:
        values = ", ".join(
            f"{k} = {next(iter(v['counts']))}"
            if v.get("kind") == "categorical"
            else f"{k} = {v['min']:.4g}"
            for k, v in fixed.items()
        )
        title += f" (constant: {values})"
    with st.style():
        fig, axes = plt.subplots(
            rows,
            cols,
            figsize=(width, COVERAGE_PANEL_HEIGHT * rows + COVERAGE_TITLE_HEIGHT),
            squeeze=False,
        )
        for ax in axes.flat[len(panels) :]:
            ax.axis("off")
        for ax, (key, info) in zip(axes.flat, panels.items(), strict=False):
            _coverage_panel(ax, key, info, axes_width)
        fig.suptitle(st.wrap(title, width * 0.95, st.TITLE_PT))
        _finish(fig, [])
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
