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
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from finetune_theory.errors import InputError


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
        """``name (bound): reason``, as printed by ``--list`` and in reports."""
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
        """A failed outcome (infinite error) recording the exception that stopped a check."""
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
    """A verifiable statement of docs/theory.md.

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
    #: The theorem's hypotheses on one setting beyond its field types (d >= 1, n < d, ...):
    #: called with the setting, raises InputError naming the field and the rule (build one
    #: from :class:`Rule` s with :func:`rules`). Run by :meth:`setting_from_json` (so by
    #: ``python -m verify reproduce``) before any check; None = no rule beyond the types.
    validate: Callable[[Any], None] | None = None

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
        """The setting a JSON object (text or mapping) describes, validated.

        Exactly the dataclass's fields (nested settings as objects), each of its annotated
        type: an ``int`` field takes an integer (not ``true``, not ``3.0``), a ``float``
        field a finite number (an integer is converted; NaN and ±inf are refused), a
        ``str`` field a string. Then :meth:`validate_setting` checks the claim's
        hypotheses. Raises :class:`~finetune_theory.errors.InputError` naming the claim,
        the field and the rule; nothing is computed before the setting is accepted.
        """
        if isinstance(text, str):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"setting for {self.name}: not valid JSON ({exc})") from None
        else:
            data = text
        setting = _setting_from_data(self.setting_type, data, self.name, "")
        self.validate_setting(setting)
        return setting

    def validate_setting(self, setting: Any) -> None:
        """Check ``setting`` against the claim's hypotheses before any check runs.

        Runs the setting type's own ``validate()`` method if it has one, then the claim's
        :attr:`validate`; either raises :class:`~finetune_theory.errors.InputError` (a
        plain ValueError/TypeError is re-raised as one) whose message is prefixed with the
        claim's name.
        """
        hooks: list[Callable[[], object]] = []
        own = getattr(setting, "validate", None)
        if callable(own):
            hooks.append(own)
        if self.validate is not None:
            hooks.append(functools.partial(self.validate, setting))
        for hook in hooks:
            try:
                hook()
            except (ValueError, TypeError) as exc:
                raise InputError(
                    f"setting for {self.name} is outside the claim's hypotheses: {exc}"
                ) from None


@dataclass(frozen=True)
class Rule:
    """One hypothesis of a claim on its setting: ``holds(setting)`` must be true.

    ``field`` names the field (or fields) the rule is about and ``text`` states it, e.g.
    ``Rule("n", lambda s: s.n < s.d, "n < d (interpolation)")``.
    """

    field: str
    holds: Callable[[Any], bool]
    text: str


def rules(*items: Rule) -> Callable[[Any], None]:
    """A :attr:`Claim.validate` callable from rules: raises InputError naming the first
    broken rule's field, its statement and the setting's values of the fields named."""

    def validate(setting: Any) -> None:
        check_rules(setting, items)

    return validate


def check_rules(setting: Any, items: Sequence[Rule], prefix: str = "") -> None:
    """Raise :class:`InputError` at the first rule of ``items`` that ``setting`` breaks:
    "FIELD must satisfy RULE, got FIELD=VALUE" (the format of :func:`rules`).

    ``prefix`` ("problem.") names the fields of a nested setting by their path."""
    for rule in items:
        if not rule.holds(setting):
            names = [n.strip() for n in rule.field.replace(",", " ").split()]
            fields = ", ".join(prefix + n for n in names)
            got = ", ".join(
                f"{prefix}{n}={getattr(setting, n)!r}" for n in names if hasattr(setting, n)
            )
            raise InputError(f"{fields} must satisfy {rule.text}, got {got}")


def at_least(name: str, low: float, why: str = "") -> Rule:
    """``name >= low`` (False for NaN)."""
    text = f"{name} >= {low}" + (f" ({why})" if why else "")
    return Rule(name, lambda s: bool(getattr(s, name) >= low), text)


def above(name: str, low: float, why: str = "") -> Rule:
    """``name > low`` (False for NaN)."""
    text = f"{name} > {low}" + (f" ({why})" if why else "")
    return Rule(name, lambda s: bool(getattr(s, name) > low), text)


def at_most(name: str, high: float, why: str = "") -> Rule:
    """``name <= high`` (False for NaN)."""
    text = f"{name} <= {high}" + (f" ({why})" if why else "")
    return Rule(name, lambda s: bool(getattr(s, name) <= high), text)


def one_of(name: str, options: Sequence[str]) -> Rule:
    """``name`` is one of ``options``."""
    return Rule(name, lambda s: getattr(s, name) in options, f"{name} in {tuple(options)}")


def finite(name: str) -> Rule:
    """``name`` is a finite number (any value is a hypothesis of the theorem)."""
    return Rule(name, lambda s: math.isfinite(getattr(s, name)), f"{name} finite")


SEED_RULE = at_least("seed", 0, "a NumPy seed")


def _field_error(claim: str, path: str, rule: str, value: Any) -> InputError:
    return InputError(f"setting for {claim}: field {path!r} must be {rule}, got {value!r}")


def _coerce(hint: Any, value: Any, claim: str, path: str) -> Any:
    """``value`` checked (and, int -> float, converted) against the annotation ``hint``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors: list[InputError] = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, claim, path)
            except InputError as exc:
                errors.append(exc)
        raise errors[0] if errors else _field_error(claim, path, str(hint), value)
    if hint is bool:
        if not isinstance(value, bool):
            raise _field_error(claim, path, "true or false", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _field_error(claim, path, "an integer (not a bool, not a float)", value)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _field_error(claim, path, "a number", value)
        if not math.isfinite(value):
            raise _field_error(claim, path, "finite (no NaN or inf)", value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _field_error(claim, path, "a string", value)
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _setting_from_data(hint, value, claim, path + ".")
    return value  # an annotation this parser does not know: the dataclass decides


def _setting_from_data(cls: type, data: Any, claim: str, prefix: str) -> Any:
    """An instance of the setting dataclass ``cls`` from a JSON object, field by field
    (``prefix``: the dotted path of a nested setting, ``""`` at the top)."""
    where = f"field {prefix[:-1]!r}" if prefix else "the setting"
    if not isinstance(data, Mapping):
        raise InputError(
            f"setting for {claim}: {where} must be a JSON object, got {type(data).__name__}"
        )
    fields = dataclasses.fields(cls)
    names = {f.name for f in fields}
    unknown = set(data) - names
    missing = names - set(data)
    if unknown or missing:
        raise InputError(
            f"setting for {claim}: {where} must have exactly the fields {sorted(names)}; "
            f"unknown {sorted(unknown)}, missing {sorted(missing)}"
        )
    hints = typing.get_type_hints(cls)
    values = {
        f.name: _coerce(hints.get(f.name, Any), data[f.name], claim, prefix + f.name)
        for f in fields
    }
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise InputError(f"setting for {claim}: {exc}") from None


def setting_to_json(setting: Any) -> str:
    """Compact JSON of a setting dataclass (the text a reproduce command takes)."""
    return json.dumps(dataclasses.asdict(setting), sort_keys=True, separators=(",", ":"))
