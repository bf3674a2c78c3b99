"""Figures that draw theory (symbolic side) and training (numeric side) on the same axes.

A figure is a function ``build(size) -> FigureData`` registered with :func:`figure`. Its
numbers are plain data (panels of series, each series marked ``theory`` or ``training``),
written to JSON and CSV next to the PNG, so they can be checked without matplotlib.
``size`` is ``"tiny"`` (tests), ``"quick"`` (default: all figures in about a minute) or
``"full"`` (publication quality).

Command line: ``python -m verify figures [NAME ...] --out DIR [--size quick|full|tiny]``.
Files are written atomically (:mod:`verify.outputs`): a reader sees the previous file or the
new one, never half of one. A figure whose optional dependency is missing raises
:class:`MissingExtraError` naming the extra and its install command (:func:`install_command`,
spelled as the README installs extras: ``pip install ".[data]"``).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from verify.outputs import atomic_path, atomic_write_text
from verify.statistics import LogLogFit

Size = Literal["tiny", "quick", "full"]
SIZES: tuple[Size, ...] = ("tiny", "quick", "full")
Kind = Literal["theory", "training", "fit"]

#: Modules whose import registers figures, in docs/theory.md order.
FIGURE_MODULES: tuple[str, ...] = (
    "verify.figures.linear",
    "verify.figures.deep_linear",
    "verify.figures.relu_ntk",
)


@dataclass(frozen=True)
class Series:
    """One curve. ``theory`` series are drawn as lines (``style``), ``training`` as markers
    with error bars (``yerr``: one standard error, or None), ``fit`` (a line fitted to
    training points, e.g. a rate) as a thin line with its confidence band shaded between
    ``lower`` and ``upper``. Series whose labels share the part before `` [`` share a
    colour."""

    label: str
    kind: Kind
    x: list[float]
    y: list[float]
    yerr: list[float] | None = None
    style: Literal["solid", "dashed", "dotted"] = "solid"
    lower: list[float] | None = None
    upper: list[float] | None = None


def rate_series(
    label: str, x: Sequence[float], y: Sequence[float], theory_slope: float, slope_name: str
) -> tuple[list[Series], LogLogFit]:
    """The fitted rate of training points (x, y) (replicates included) on log-log axes: a
    ``fit`` series (the least-squares line with the 95% band of the fitted mean line,
    :func:`verify.statistics.loglog_fit`) and a dashed ``theory`` reference line of slope
    ``theory_slope`` through the fit's centroid (tagged ``theory slope <slope_name>``), both
    in ``label``'s colour; and the fit (put its slope ± standard error in the title)."""
    import numpy as np

    from verify.statistics import loglog_fit

    fit = loglog_fit(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    grid = np.geomspace(min(x), max(x), 25)
    lo, hi = fit.band(grid)
    gx = [float(v) for v in grid]
    series = [
        Series(
            f"{label} [fit]",
            "fit",
            gx,
            [float(v) for v in fit.line(grid)],
            lower=[float(v) for v in lo],
            upper=[float(v) for v in hi],
        ),
        Series(
            f"{label} [theory slope {slope_name}]",
            "theory",
            gx,
            [float(v) for v in fit.reference(grid, theory_slope)],
            style="dashed",
        ),
    ]
    return series, fit


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    xscale: str = "linear"
    yscale: str = "linear"


@dataclass(frozen=True)
class FigureData:
    """Everything a figure shows, plus the setting that produced it and summary numbers."""

    name: str
    title: str
    panels: list[Panel]
    setting: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)


Builder = Callable[[Size], FigureData]


@dataclass(frozen=True)
class FigureSpec:
    name: str
    description: str
    build: Builder


_REGISTRY: dict[str, FigureSpec] = {}


def figure(name: str, description: str) -> Callable[[Builder], Builder]:
    """Decorator registering a figure builder under ``name``."""

    def register(build: Builder) -> Builder:
        _REGISTRY[name] = FigureSpec(name, description, build)
        return build

    return register


def all_figures() -> dict[str, FigureSpec]:
    for module in FIGURE_MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


#: Top-level import name -> the extra of the distribution that installs it (pyproject.toml).
EXTRA_OF_MODULE: dict[str, str] = {
    "matplotlib": "plot",
    "sklearn": "data",
    "distributed": "dask",
    "dask": "dask",
}


def install_command(extra: str) -> str:
    """The command that installs ``extra`` from a clone, spelled as the README does."""
    return f'pip install ".[{extra}]"'


class MissingExtraError(RuntimeError):
    """An optional dependency (an extra of the distribution) is not installed.

    ``extra`` names the extra (``plot``, ``data``, ``dask``) when known; ``str()`` is the
    one-line message, ending with :func:`install_command` when the extra is known.
    Picklable (it crosses process and Dask boundaries): its ``args`` are (message, extra).
    """

    def __init__(self, message: str, extra: str | None = None) -> None:
        super().__init__(message, extra)
        self.message = message
        self.extra = extra

    def __str__(self) -> str:
        if self.extra is None or install_command(self.extra) in self.message:
            return self.message
        return f"{self.message}: {install_command(self.extra)}"


def missing_extra(exc: ImportError) -> MissingExtraError | None:
    """The :class:`MissingExtraError` behind an ImportError, or None for another import.

    The extra is found from the missing top-level module's name (``ImportError.name``
    along the ``__cause__`` chain) or from an install hint ``...[extra]`` in a message of the chain;
    the message is ``exc``'s own, without its install hint.
    """
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    extras = set(EXTRA_OF_MODULE.values())
    names = [n for e in chain if isinstance(n := getattr(e, "name", None), str)]
    found = [EXTRA_OF_MODULE[n] for n in names if n in EXTRA_OF_MODULE]
    found += [h for e in chain for h in re.findall(r"\[(\w+)\]", str(e)) if h in extras]
    if not found:
        return None
    message = re.split(r":?\s*pip install", str(exc))[0].strip() or f"{names[0]} is not installed"
    return MissingExtraError(message, found[0])


def require_matplotlib() -> Any:
    """Import matplotlib with the Agg backend, or raise with the install command."""
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingExtraError(
            f"matplotlib is needed to draw figures: {install_command('plot')} "
            "(or pass --numbers-only to write the JSON/CSV numbers without PNGs)",
            "plot",
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def build_figure(name: str, size: Size) -> FigureData:
    """Build one registered figure; a missing optional dependency becomes a
    :class:`MissingExtraError` naming the extra. Top-level, so worker processes and Dask
    can run it."""
    try:
        return all_figures()[name].build(size)
    except ImportError as exc:
        err = missing_extra(exc)
        if err is None:
            raise
        raise err from exc


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    """Mean and standard error s/√k of k values (standard error 0 for a single value)."""
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    se = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else 0.0
    return float(arr.mean()), se


def write_numbers(data: FigureData, out: Path) -> list[Path]:
    """Write ``<name>.json`` (everything) and ``<name>.csv`` (long format) into ``out``,
    each atomically."""
    out.mkdir(parents=True, exist_ok=True)
    js = atomic_write_text(
        out / f"{data.name}.json", json.dumps(asdict(data), indent=1, default=float) + "\n"
    )
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["panel", "series", "kind", "x", "y", "yerr", "lower", "upper"])
    for panel in data.panels:
        for s in panel.series:
            blank = [None] * len(s.x)
            cols = (s.yerr or blank, s.lower or blank, s.upper or blank)
            for x, y, e, lo, hi in zip(s.x, s.y, *cols, strict=True):
                extra = ["" if v is None else v for v in (e, lo, hi)]
                writer.writerow([panel.title, s.label, s.kind, x, y, *extra])
    cs = out / f"{data.name}.csv"
    with atomic_path(cs) as tmp:
        tmp.write_bytes(buf.getvalue().encode("utf-8"))
    return [js, cs]


def parse_formats(text: str) -> tuple[str, ...]:
    """``"pdf,svg"`` -> ``("png", "pdf", "svg")``: the file formats to write (PNG always
    first). Raises ValueError naming the unknown format and the valid ones."""
    from verify.figures.style import FORMATS

    asked = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in asked if f not in FORMATS]
    if bad or not asked:
        raise ValueError(
            f"--format {text!r}: give a comma list of {', '.join(FORMATS)} "
            f"(unknown: {', '.join(bad) or 'empty'})"
        )
    return tuple(dict.fromkeys(["png", *asked]))


#: A log x axis is labelled at the trained x values themselves when there are at most this
#: many (depths 1, 2, 3, 5, 7, 10, 20), else at matplotlib's decades.
MAX_LABELLED_TICKS = 8


#: Candidate mantissas of the labelled ticks of a short log axis (a few decades at most),
#: sparsest first (plain decades would label one tick, or none); :func:`log_ticks` chooses.
LOG_TICK_SUBS: tuple[tuple[float, ...], ...] = (
    (1.0,),
    (1.0, 3.0),
    (1.0, 2.0, 5.0),
    (1.0, 2.0, 3.0, 5.0),
    (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
    tuple(float(k) for k in range(1, 10)),
)
#: Consecutive labelled ticks are at least this fraction of the axis' log span apart.
LOG_TICK_MIN_GAP = 1 / 7


def log_ticks(lo: float, hi: float, max_ticks: int | None = None) -> list[float]:
    """Labelled ticks m·10^e in [lo, hi] (0 < lo < hi) for a log axis spanning a few decades
    at most: of the mantissa sets in :data:`LOG_TICK_SUBS` whose consecutive ticks are at
    least :data:`LOG_TICK_MIN_GAP` of the log span apart (and at most ``max_ticks``), the
    sparsest giving 3 or more ticks, else the densest giving 2, else the first non-empty."""
    import itertools
    import math

    span = math.log10(hi / lo)
    two: list[float] = []
    fallback: list[float] = []
    for subs in LOG_TICK_SUBS:
        ticks = [
            m * 10.0**e
            for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
            for m in subs
            if lo * (1 - 1e-9) <= m * 10.0**e <= hi * (1 + 1e-9)
        ]
        fallback = fallback or ticks
        gaps = [math.log10(b / a) for a, b in itertools.pairwise(ticks)]
        apart = all(g >= LOG_TICK_MIN_GAP * span for g in gaps)
        if not apart or (max_ticks is not None and len(ticks) > max_ticks):
            continue
        if len(ticks) >= 3:
            return ticks
        if len(ticks) == 2:
            two = ticks
    return two or fallback


def _short_log_axis(ax: Any, values: Sequence[float]) -> None:
    """A log y axis spanning less than a decade gets plain-number labels at
    :func:`log_ticks` (``0.5``, ``1``, ``2``) and unlabelled minor ticks, instead of
    matplotlib's crowded minor labels (``9×10⁻¹``, ``8×10⁻¹``, ...)."""
    import math

    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive or max(positive) >= 10 * min(positive):
        return
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_locator(FixedLocator(log_ticks(max(lo, min(positive) / 2), hi)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def draw(data: FigureData) -> Any:
    """The matplotlib Figure of ``data`` in the shared style (:mod:`verify.figures.style`):
    panels two per row, theory as lines, training as markers with error bars, one colour
    per base label across the figure, one compact legend below. Call inside
    :func:`verify.figures.style.style` to keep the style when saving."""
    plt = require_matplotlib()
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from verify.figures import style as st

    k = len(data.panels)
    rows, cols = st.grid_shape(k)
    width, height = st.figure_size(k)
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[k:]:
        ax.set_visible(False)
    keys = [st.SeriesKey(s.label, s.kind, s.style) for p in data.panels for s in p.series]
    colour = st.colours(keys)
    panel_width = width / cols
    for ax, panel in zip(flat, data.panels, strict=False):
        for s in panel.series:
            c = colour[st.base_label(s.label)]
            if s.kind == "theory":
                ax.plot(s.x, s.y, st.LINESTYLES[s.style], color=c, zorder=2)
            elif s.kind == "fit":
                ax.plot(s.x, s.y, "-", color=c, linewidth=0.8, zorder=2)
                if s.lower is not None and s.upper is not None:
                    ax.fill_between(s.x, s.lower, s.upper, color=c, alpha=0.2, lw=0, zorder=1)
            else:
                ax.errorbar(s.x, s.y, yerr=s.yerr, fmt="o", color=c, elinewidth=0.8, zorder=3)
        axes_width = panel_width - st.YAXIS_WIDTH
        ax.set_title(st.wrap(panel.title, axes_width, st.PANEL_TITLE_PT))
        ax.set_xlabel(st.wrap(panel.xlabel, axes_width, st.LABEL_PT))
        ax.set_ylabel(st.wrap(panel.ylabel, height / rows * 0.9, st.LABEL_PT))
        ax.set_xscale(panel.xscale)
        ax.set_yscale(panel.yscale)
        if panel.xscale == "log":
            ticks = sorted({x for s in panel.series if s.kind == "training" for x in s.x})
            if 0 < len(ticks) <= MAX_LABELLED_TICKS:
                ax.set_xticks(ticks)
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
        if panel.yscale == "log":
            _short_log_axis(ax, [v for s in panel.series for v in s.y])
    entries = st.legend_entries(keys)
    fig.suptitle(st.wrap(data.title, width * 0.95, st.TITLE_PT))
    fig.tight_layout(h_pad=0.6, w_pad=1.0)
    common = {"frameon": False, "handlelength": 1.8, "columnspacing": 1.2}
    if k < len(flat):  # an odd number of panels: the legend fills the empty slot
        slot = flat[k]
        slot.set_visible(True)
        slot.axis("off")
        slot.legend(
            handles=st.legend_handles(entries),
            loc="center",
            ncol=st.legend_columns(entries, panel_width),
            **common,
        )
    else:  # one figure legend below the panels
        fig.legend(
            handles=st.legend_handles(entries),
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=st.legend_columns(entries, width),
            **common,
        )
    return fig


def legends(fig: Any) -> list[Any]:
    """Every legend of a Figure drawn by :func:`draw` (figure legends and axes legends)."""
    found = list(fig.legends)
    found += [leg for ax in fig.axes if (leg := ax.get_legend()) is not None]
    return found


def plot_files(data: FigureData, out: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw ``data`` (:func:`draw`) and write ``NAME.png`` plus ``NAME.<f>`` for each vector
    format ``f`` in ``formats`` (``pdf``, ``svg``), each atomically; the paths, PNG first."""
    plt = require_matplotlib()
    from verify.figures import style as st

    wanted = parse_formats(",".join(formats))
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    with st.style():
        fig = draw(data)
        try:
            for fmt in wanted:
                path = out / f"{data.name}.{fmt}"
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, dpi=st.PNG_DPI, bbox_inches="tight", format=fmt)
                paths.append(path)
        finally:
            plt.close(fig)
    return paths


def plot(data: FigureData, out: Path, formats: Sequence[str] = ("png",)) -> Path:
    """Draw every panel in the shared style (theory as lines, training as markers with
    error bars) and write ``NAME.png`` plus each requested vector format
    (:func:`plot_files`); returns the PNG's path."""
    return plot_files(data, out, formats)[0]
