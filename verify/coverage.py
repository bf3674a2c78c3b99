"""Coverage maps: which part of a claim's hypothesis space a run actually checked.

Every setting a claim checks is flattened into named fields (nested settings become
``problem.d``; a claim may add derived quantities such as n/d or κ(Σ) through
``Claim.describe``). :class:`CoverageMap` accumulates, per field, the range sampled and a
coarse histogram: numbers are binned on a fixed grid (logarithmic when the values are
positive and span more than two decades), strings are counted per value. The map is plain
data, so it travels from worker processes into ``report.json`` and ``report.md`` draws it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Bins of a numeric field's histogram.
BINS = 10
#: Sparkline characters, lowest to highest count.
_SPARK = "▁▂▃▄▅▆▇█"

Value = float | str


def flatten_setting(setting: Any, prefix: str = "") -> dict[str, Value]:
    """A setting dataclass as ``{"field": value}``, nested dataclasses as ``outer.inner``.

    Numbers become floats (bools 0/1), strings stay strings; other values and the ``seed``
    fields (a random draw, not a dimension of the hypothesis space) are skipped.
    """
    out: dict[str, Value] = {}
    if not dataclasses.is_dataclass(setting) or isinstance(setting, type):
        return out
    for f in dataclasses.fields(setting):
        if f.name == "seed":  # which random draw, not a dimension of the hypothesis space
            continue
        value = getattr(setting, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update(flatten_setting(value, key + "."))
        elif isinstance(value, (bool, int, float)):
            out[key] = float(value)
        elif isinstance(value, str):
            out[key] = value
    return out


@dataclass
class _Field:
    numbers: list[float] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)


@dataclass
class CoverageMap:
    """Accumulates the sampled values of every field of a claim's settings."""

    fields: dict[str, _Field] = field(default_factory=dict)
    examples: int = 0

    def add(self, values: Mapping[str, Value]) -> None:
        self.examples += 1
        for key, value in values.items():
            slot = self.fields.setdefault(key, _Field())
            if isinstance(value, str):
                slot.labels[value] = slot.labels.get(value, 0) + 1
            elif math.isfinite(value) or math.isinf(value):
                slot.numbers.append(float(value))

    def summary(self) -> dict[str, Any]:
        """Plain data: ``{"examples": k, "fields": {name: {...}}}`` (see :func:`summarise`)."""
        return {
            "examples": self.examples,
            "fields": {k: summarise(v.numbers, v.labels) for k, v in sorted(self.fields.items())},
        }


def summarise(numbers: Iterable[float], labels: Mapping[str, int] | None = None) -> dict[str, Any]:
    """min, max, count and a :data:`BINS`-bin histogram of numbers (``scale`` 'log' when
    they are positive and span more than 100×; infinities are counted apart), or the count
    per label for a categorical field."""
    if labels:
        return {"kind": "categorical", "counts": dict(sorted(labels.items()))}
    values = [v for v in numbers if math.isfinite(v)]
    infinite = sum(1 for v in numbers if math.isinf(v))
    if not values:
        return {"kind": "numeric", "count": 0, "infinite": infinite}
    lo, hi = min(values), max(values)
    log = lo > 0 and hi / lo > 100.0
    a, b = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
    edges = [a + (b - a) * i / BINS for i in range(BINS + 1)]
    counts = [0] * BINS
    for v in values:
        t = math.log10(v) if log else v
        i = BINS - 1 if b == a else min(BINS - 1, int((t - a) / (b - a) * BINS))
        counts[i] += 1
    return {
        "kind": "numeric",
        "count": len(values),
        "infinite": infinite,
        "min": lo,
        "max": hi,
        "scale": "log" if log else "linear",
        "edges": [10**e for e in edges] if log else edges,
        "counts": counts,
    }


def sparkline(counts: list[int]) -> str:
    """A histogram as a row of block characters (empty bins are spaces)."""
    top = max(counts) if counts else 0
    if top == 0:
        return ""
    return "".join(
        " " if c == 0 else _SPARK[min(len(_SPARK) - 1, (c * len(_SPARK) - 1) // top)]
        for c in counts
    )


def describe_field(info: Mapping[str, Any]) -> tuple[str, str]:
    """(range text, histogram text) for one summarised field, as report.md shows it."""
    if info.get("kind") == "categorical":
        counts = info["counts"]
        return f"{len(counts)} values", ", ".join(f"{k}: {v}" for k, v in counts.items())
    if not info.get("count"):
        extra = f"inf ×{info['infinite']}" if info.get("infinite") else "—"
        return extra, ""
    rng = f"{info['min']:.4g} … {info['max']:.4g}"
    if info.get("infinite"):
        rng += f" (+ inf ×{info['infinite']})"
    return rng, f"`{sparkline(info['counts'])}` ({info['scale']})"
