"""What a claim is: a statement, a symbolic side, a numeric side and a named tolerance.

A :class:`Claim` pairs a closed form from :mod:`symbolic` with a trained quantity from
:mod:`numeric` on settings drawn by a Hypothesis strategy. Its ``check`` evaluates both
sides on one setting and returns an :class:`Outcome`: the discrepancy, the threshold it must
stay under (computed from the claim's :class:`Tolerance`, e.g. z standard errors of a
Monte Carlo mean) and both values, so a report can show them.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st


class Oracle(enum.IntEnum):
    """Oracle tiers, strongest first (STYLE.md habit 7)."""

    EXACT_SPECIAL_CASE = 1
    SYMBOLIC_IDENTITY = 2
    HIGH_PRECISION = 3
    TRAINING = 4
    MONTE_CARLO = 5

    @property
    def label(self) -> str:
        return {
            1: "exact special case",
            2: "symbolic identity",
            3: "high precision",
            4: "training to convergence",
            5: "monte carlo",
        }[int(self)]


@dataclass(frozen=True)
class Tolerance:
    """A named tolerance: its nominal size and the error model that justifies it."""

    name: str
    bound: float
    reason: str

    def describe(self) -> str:
        return f"{self.name} ({self.bound:.3g}): {self.reason}"


@dataclass(frozen=True)
class Curve:
    """A measured curve behind a rate claim (e.g. error against step size), for reports.

    ``expected_slope`` is the log-log slope the theory predicts (None if not a power law).
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    xlabel: str
    ylabel: str
    expected_slope: float | None = None


@dataclass(frozen=True)
class Outcome:
    """Result of checking one setting: ``passed`` iff ``error <= threshold``.

    ``symbolic`` and ``numeric`` are the two compared values (scalars, for reports);
    ``note`` carries anything else worth printing (an exception message, say).
    """

    error: float
    threshold: float
    symbolic: float = math.nan
    numeric: float = math.nan
    note: str = ""
    curve: Curve | None = None

    @property
    def passed(self) -> bool:
        return math.isfinite(self.error) and self.error <= self.threshold

    @property
    def ratio(self) -> float:
        """error / threshold: below 1 passes; the quantity Hypothesis is asked to maximise."""
        if not math.isfinite(self.error):
            return math.inf
        return self.error / self.threshold if self.threshold > 0 else math.inf

    @classmethod
    def crashed(cls, exc: BaseException) -> Outcome:
        return cls(math.inf, 0.0, note=f"{type(exc).__name__}: {exc}")

    @classmethod
    def combine(
        cls,
        parts: Mapping[str, tuple[float, float]],
        symbolic: float = math.nan,
        numeric: float = math.nan,
        note: str = "",
        curve: Curve | None = None,
    ) -> Outcome:
        """Several sub-checks ``name -> (error, threshold)`` as one outcome.

        The error is the largest error/threshold ratio and the threshold is 1, so the
        outcome passes iff every part does; the note lists each part.
        """
        ratios = {k: (e / t if t > 0 else math.inf) for k, (e, t) in parts.items()}
        detail = ", ".join(f"{k} {e:.2g}/{t:.2g}" for k, (e, t) in parts.items())
        worst = max(ratios.values()) if ratios else 0.0
        text = f"{detail}; {note}" if note else detail
        return cls(worst, 1.0, symbolic, numeric, note=text, curve=curve)


def relative_error(got: Any, want: Any, floor: float = 1e-12) -> float:
    """‖got − want‖ / max(‖want‖, floor) for scalars or arrays (2-norm)."""
    import numpy as np

    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    return float(np.linalg.norm(g - w) / max(float(np.linalg.norm(w)), floor))


@dataclass(frozen=True)
class Claim:
    """A verifiable statement of THEORY.md.

    ``setting_type`` is a frozen dataclass of plain numbers (JSON round-trip for
    reproduction); ``strategy`` draws valid settings of that type; ``check`` evaluates
    both sides on one setting. ``examples`` is the example budget of the ``quick`` profile.
    """

    name: str
    statement: str
    source: str
    oracle: Oracle
    tolerance: Tolerance
    setting_type: type
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], Outcome]
    examples: int = 20
    tags: tuple[str, ...] = field(default=())
    #: Larger settings for profiles with ``large_sizes`` (``thorough``); None = ``strategy``.
    thorough_strategy: st.SearchStrategy[Any] | None = None
    #: The hypothesis space the strategies search, in words (``--list``, reports): the
    #: ranges of sizes, spectra, depths, angles... of ``strategy`` (and ``thorough_strategy``).
    domain: str = ""
    #: Derived quantities of a setting recorded in the coverage map besides its own fields
    #: (e.g. n/d, κ(Σ)); must be cheap (no training).
    describe: Callable[[Any], Mapping[str, float | str]] | None = None
    #: Monte Carlo / finite-width claims: the smallest relative bias of the formula each
    #: example detects with probability >= 0.99 (from its own variance), in words; every
    #: example's value is in its note.
    power: str = ""

    def coverage_values(self, setting: Any) -> dict[str, float | str]:
        """The setting's fields (flattened) plus :attr:`describe`'s derived quantities."""
        from verify.coverage import flatten_setting

        values = flatten_setting(setting)
        if self.describe is not None:
            try:
                values.update(self.describe(setting))
            except Exception as exc:  # the map must not end a run; the failure is recorded
                values["describe_error"] = type(exc).__name__
        return values

    def strategy_for(self, large_sizes: bool) -> st.SearchStrategy[Any]:
        """The strategy a profile should search: the larger one when asked and available."""
        if large_sizes and self.thorough_strategy is not None:
            return self.thorough_strategy
        return self.strategy

    def setting_from_json(self, text: str | Mapping[str, Any]) -> Any:
        data = json.loads(text) if isinstance(text, str) else dict(text)
        names = {f.name for f in dataclasses.fields(self.setting_type)}
        unknown = set(data) - names
        missing = names - set(data)
        if unknown or missing:
            raise ValueError(
                f"setting for {self.name} must have exactly the fields {sorted(names)}; "
                f"unknown {sorted(unknown)}, missing {sorted(missing)}"
            )
        return self.setting_type(**data)


def setting_to_json(setting: Any) -> str:
    """Compact JSON of a setting dataclass (the text a reproduce command takes)."""
    return json.dumps(dataclasses.asdict(setting), sort_keys=True, separators=(",", ":"))
