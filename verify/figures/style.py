"""One shared look for every experiment figure (issue 13, item 3).

* Sizes: a one-panel figure is one column wide (:data:`SINGLE_COLUMN` = 3.4 in), a figure
  with two or more panels is two columns wide (:data:`DOUBLE_COLUMN` = 7 in) with at most
  :data:`MAX_PANELS_PER_ROW` = 2 panels per row, rows added below (:func:`grid_shape`,
  :func:`figure_size`).
* Text: 7.5-9 pt, mathtext labels (``$\\|\\theta_S-\\theta_T\\|^2$``), PNG at :data:`PNG_DPI`
  (:func:`rc`). Titles are wrapped to the width they have (:func:`wrap`), never across a
  ``$...$`` span.
* Theory is drawn as lines, training as markers with error bars. One figure legend below the
  panels (:func:`legend_entries`): a colour key with one entry per series *base label* (the
  part of a label before `` [``) and a line-style key: ``theory`` (line), ``training``
  (marker with error bar), ``fit to training (95% band)`` (a shaded patch, when a rate is
  fitted), plus one entry per dashed/dotted theory series, named by the bracketed part of
  its label (``alpha=2 [N = inf]`` adds ``N = inf``, dashed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SINGLE_COLUMN = 3.4  # inches: one column of a two-column paper
DOUBLE_COLUMN = 7.0  # inches: the full text width
MAX_PANELS_PER_ROW = 2
PANEL_HEIGHT = 2.4  # inches per row of panels (axes, tick labels, axis labels, title)
#: Width of a panel taken by its y tick labels and y label (inches): titles and x labels are
#: wrapped to the rest, the width of the axes.
YAXIS_WIDTH = 0.6
PNG_DPI = 200
#: Vector formats :func:`verify.figures.plot` can add to the PNG; ``png`` is always written.
FORMATS: tuple[str, ...] = ("png", "pdf", "svg")
#: Colours of the base labels, in order of first appearance (matplotlib's tab10).
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
LINESTYLES: dict[str, str] = {"solid": "-", "dashed": "--", "dotted": ":"}
TITLE_PT = 9.0
PANEL_TITLE_PT = 8.0
LABEL_PT = 8.0
TICK_PT = 7.5
LEGEND_PT = 7.5


def grid_shape(panels: int) -> tuple[int, int]:
    """(rows, columns) for ``panels`` panels: at most two per row."""
    if panels < 1:
        raise ValueError(f"panels must be >= 1, got {panels}")
    cols = min(panels, MAX_PANELS_PER_ROW)
    return math.ceil(panels / cols), cols


def figure_size(panels: int) -> tuple[float, float]:
    """(width, height) in inches: one column for one panel, two columns for two or more
    panels (two per row); height :data:`PANEL_HEIGHT` per row (the legend and the title are
    added below and above by the tight bounding box)."""
    rows, _ = grid_shape(panels)
    width = SINGLE_COLUMN if panels == 1 else DOUBLE_COLUMN
    return width, PANEL_HEIGHT * rows


def rc() -> dict[str, Any]:
    """The matplotlib rc settings of every figure (use with ``matplotlib.rc_context``)."""
    return {
        "font.size": LABEL_PT,
        "axes.titlesize": PANEL_TITLE_PT,
        "axes.labelsize": LABEL_PT,
        "xtick.labelsize": TICK_PT,
        "ytick.labelsize": TICK_PT,
        "legend.fontsize": LEGEND_PT,
        "figure.titlesize": TITLE_PT,
        "mathtext.fontset": "dejavusans",
        "axes.formatter.use_mathtext": True,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "grid.linewidth": 0.5,
        "axes.linewidth": 0.6,
        "lines.linewidth": 1.2,
        "lines.markersize": 3.5,
        "errorbar.capsize": 1.5,
        "savefig.dpi": PNG_DPI,
        "pdf.fonttype": 42,  # TrueType in PDFs (editable text, no Type 3 fonts)
        "svg.fonttype": "path",
    }


@contextmanager
def style() -> Iterator[None]:
    """Context in which the figures are drawn and saved."""
    import matplotlib

    settings: Any = rc()  # matplotlib types the keys as a Literal of every rc name
    with matplotlib.rc_context(settings):
        yield


def chars_per_line(width_in: float, points: float) -> int:
    """How many characters of ``points``-pt text fit in ``width_in`` inches (an average
    glyph of DejaVu Sans, capitals and digits included, is ~0.6 em wide)."""
    return max(10, int(width_in * 72.0 / (0.6 * points)))


def visible_length(text: str) -> int:
    """Roughly how many glyphs ``text`` shows: ``$``, braces and ``\\,`` dropped, a
    mathtext command (``\\theta``) one glyph."""
    text = re.sub(r"\\[,;!]", "", text)
    return len(re.sub(r"\\[a-zA-Z]+", "x", re.sub(r"[${}]", "", text)))


def wrap(text: str, width_in: float, points: float) -> str:
    """``text`` broken at spaces into lines that fit ``width_in`` inches at ``points`` pt.
    Mathtext spans ``$...$`` are kept whole and count as their :func:`visible_length`."""
    limit = chars_per_line(width_in, points)
    words = re.findall(r"(?:\$[^$]*\$|[^\s$])+", text)
    lines: list[str] = []
    cur = ""
    for word in words:
        if cur and visible_length(cur) + 1 + visible_length(word) > limit:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    if cur:
        lines.append(cur)
    return "\n".join(lines)


def base_label(label: str) -> str:
    """The part of a series label before `` [``: series sharing it share a colour."""
    return label.split(" [")[0]


def tag(label: str) -> str:
    """The bracketed part of a label (``"a [N = inf]"`` -> ``"N = inf"``), or ``""``."""
    m = re.search(r" \[(.*)\]\s*$", label)
    return m.group(1) if m else ""


@dataclass(frozen=True)
class SeriesKey:
    """What the legend needs of one series."""

    label: str
    kind: str
    style: str = "solid"


def colours(series: Sequence[SeriesKey]) -> dict[str, str]:
    """Base label -> colour, in order of first appearance over the whole figure (so one
    colour means one thing in every panel)."""
    out: dict[str, str] = {}
    for s in series:
        b = base_label(s.label)
        if b not in out:
            out[b] = PALETTE[len(out) % len(PALETTE)]
    return out


@dataclass(frozen=True)
class LegendEntry:
    """One legend row: a colour patch (``kind == "colour"``), a line of ``linestyle``
    (``"line"``), a marker with an error bar (``"marker"``) or a shaded band (``"band"``)."""

    text: str
    kind: str
    colour: str = "black"
    linestyle: str = "-"


def legend_entries(series: Sequence[SeriesKey]) -> list[LegendEntry]:
    """The compact legend of a figure: colour key (one entry per base label), then the
    line-style key: ``theory`` (solid line) if any theory series is solid, ``training``
    (marker) if any training series, and one entry per (style, tag) of a dashed or dotted
    theory series."""
    entries = [LegendEntry(b, "colour", c) for b, c in colours(series).items()]
    if any(s.kind == "theory" and s.style == "solid" for s in series):
        entries.append(LegendEntry("theory", "line"))
    if any(s.kind == "training" for s in series):
        entries.append(LegendEntry("training", "marker"))
    if any(s.kind == "fit" for s in series):
        entries.append(LegendEntry("fit to training (95% band)", "band"))
    seen: set[tuple[str, str]] = set()
    for s in series:
        if s.kind == "theory" and s.style != "solid":
            key = (s.style, tag(s.label) or f"theory ({s.style})")
            if key not in seen:
                seen.add(key)
                entries.append(LegendEntry(key[1], "line", linestyle=LINESTYLES[s.style]))
    return entries


def legend_handles(entries: Sequence[LegendEntry]) -> list[Any]:
    """Matplotlib proxy artists for ``entries`` (colour patches, lines, an error-bar
    marker)."""
    from matplotlib.collections import LineCollection
    from matplotlib.container import ErrorbarContainer
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    for e in entries:
        if e.kind == "colour":
            handles.append(Patch(facecolor=e.colour, edgecolor="none", label=e.text))
        elif e.kind == "band":
            handles.append(Patch(facecolor="0.6", alpha=0.4, edgecolor="0.3", label=e.text))
        elif e.kind == "line":
            dash: Any = e.linestyle  # one of LINESTYLES' values
            handles.append(Line2D([], [], color=e.colour, linestyle=dash, label=e.text))
        else:
            marker = Line2D([], [], color=e.colour, marker="o", linestyle="none")
            bars = LineCollection([], colors=e.colour)
            handles.append(ErrorbarContainer((marker, (), (bars,)), has_yerr=True, label=e.text))
    return handles


def legend_columns(entries: Sequence[LegendEntry], width_in: float) -> int:
    """Columns of the legend: as many as fit in ``width_in``, at most 4. A column is as wide
    as its longest text (~0.5 em a glyph of mostly lower-case DejaVu Sans) plus ~3.5 em of
    handle (1.8 em), padding and column spacing (1.2 em)."""
    longest = max((visible_length(e.text) for e in entries), default=1)
    column_in = (0.5 * longest + 3.5) * LEGEND_PT / 72.0
    return max(1, min(4, len(entries), int(width_in / column_in)))
