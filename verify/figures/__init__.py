"""Figures that draw theory (symbolic side) and training (numeric side) on the same axes.

A figure is a function ``build(size) -> FigureData`` registered with :func:`figure`. Its
numbers are plain data (panels of series, each series marked ``theory`` or ``training``),
written to JSON and CSV next to the PNG, so they can be checked without matplotlib.
``size`` is ``"tiny"`` (tests), ``"quick"`` (default: all figures in about a minute) or
``"full"`` (publication quality).

Command line: ``python -m verify figures [NAME ...] --out DIR [--size quick|full|tiny]``.
"""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Size = Literal["tiny", "quick", "full"]
SIZES: tuple[Size, ...] = ("tiny", "quick", "full")
Kind = Literal["theory", "training"]

#: Modules whose import registers figures, in THEORY.md order.
FIGURE_MODULES: tuple[str, ...] = (
    "verify.figures.linear",
    "verify.figures.deep_linear",
    "verify.figures.relu_ntk",
)


@dataclass(frozen=True)
class Series:
    """One curve. ``theory`` series are drawn as lines (``style``), ``training`` as markers
    with error bars (``yerr``: one standard error, or None). Series whose labels share the
    part before `` [`` share a colour."""

    label: str
    kind: Kind
    x: list[float]
    y: list[float]
    yerr: list[float] | None = None
    style: Literal["solid", "dashed", "dotted"] = "solid"


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


class MissingExtraError(RuntimeError):
    """An optional dependency (an extra of the distribution) is not installed."""


def require_matplotlib() -> Any:
    """Import matplotlib with the Agg backend, or raise with the install command."""
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingExtraError(
            "matplotlib is needed to draw figures: pip install 'finetune-theory[plot]' "
            "(or pass --numbers-only to write the JSON/CSV numbers without PNGs)"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    """Mean and standard error s/√k of k values (standard error 0 for a single value)."""
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    se = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else 0.0
    return float(arr.mean()), se


def write_numbers(data: FigureData, out: Path) -> list[Path]:
    """Write ``<name>.json`` (everything) and ``<name>.csv`` (long format) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    js = out / f"{data.name}.json"
    js.write_text(json.dumps(asdict(data), indent=1, default=float) + "\n")
    cs = out / f"{data.name}.csv"
    with cs.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["panel", "series", "kind", "x", "y", "yerr"])
        for panel in data.panels:
            for s in panel.series:
                errs = s.yerr if s.yerr is not None else [None] * len(s.x)
                for x, y, e in zip(s.x, s.y, errs, strict=True):
                    writer.writerow([panel.title, s.label, s.kind, x, y, "" if e is None else e])
    return [js, cs]


def plot(data: FigureData, out: Path) -> Path:
    """Draw every panel: theory as lines, training as markers with error bars."""
    plt = require_matplotlib()
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    k = len(data.panels)
    fig, axes = plt.subplots(1, k, figsize=(7.5 * k, 4.6), squeeze=False)
    dashes = {"solid": "-", "dashed": "--", "dotted": ":"}
    for ax, panel in zip(axes[0], data.panels, strict=True):
        cycle = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4)
        colors: dict[str, str] = {}
        for s in panel.series:
            base = s.label.split(" [")[0]
            color = colors.setdefault(base, next(cycle))
            if s.kind == "theory":
                ax.plot(s.x, s.y, dashes[s.style], color=color, label=f"{s.label} (theory)")
            else:
                ax.errorbar(
                    s.x,
                    s.y,
                    yerr=s.yerr,
                    fmt="o",
                    ms=4,
                    capsize=2,
                    color=color,
                    label=f"{s.label} (training)",
                )
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.set_xscale(panel.xscale)
        ax.set_yscale(panel.yscale)
        if panel.xscale == "log":
            ticks = sorted({x for s in panel.series if s.kind == "training" for x in s.x})
            if 0 < len(ticks) <= 12:
                ax.set_xticks(ticks)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.suptitle(data.title, fontsize=11)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{data.name}.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
