"""A Hypothesis fuzz harness for the public API of ``symbolic`` and ``numeric``.

Each public function is described by a :class:`Target`: how to build one *valid* call from a
seed (tiny sizes, so every call takes milliseconds), and which arguments are numbers or
arrays. The fuzz test draws a target's valid call, then replaces one argument by a
:data:`Kind` of bad or awkward value (wrong shape, empty, NaN/inf, list instead of array,
int/bool/complex/object/string dtypes, None, huge and tiny magnitudes, zero vectors,
rank-deficient designs, bad integers) and classifies what the function does:

* it must **refuse** (``InputError``/``ConvergenceError`` whose message names one of the
  function's parameters) every kind in :data:`MUST_REFUSE` — values the shared coercion
  rule of :mod:`finetune_theory.checks` does not accept;
* it must return **the same value** for an :data:`EQUIVALENT` spelling of the valid input
  (a list instead of an array, an int array holding the same numbers);
* for every other kind it may refuse or return, but a returned value must be finite
  everywhere (no NaN or inf), a training result that claims ``converged=True`` must have
  moved (``steps > 0``) unless its start already solved the problem, and where the target
  declares a scaling law (:attr:`Target.scaled`) the value must obey it;
* it must never raise another exception type and never hang (:data:`CALL_TIMEOUT`).

``FINETUNE_FUZZ_LOG=path`` appends one JSON line per fuzzed function (examples run, outcome
counts, defects) so a run's example count can be quoted; ``FINETUNE_FUZZ_SURVEY=1`` records
defects instead of failing on the first (to list every defect of a module at once).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import re
import signal
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import mpmath as mp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finetune_theory.errors import ConvergenceError, IllConditionedWarning, InputError

#: Seconds one call may take before it counts as a hang. The valid calls take milliseconds
#: (tiny sizes); a bad input that makes a solver loop forever is what this catches.
CALL_TIMEOUT = 20.0

#: Relative tolerance for "same value" (EQUIVALENT kinds): the converted input is bit-for-bit
#: the same float64 array, so only nondeterminism could differ; allow rounding of a rerun.
SAME_RTOL = 1e-12

Kind = str

#: Kinds the coercion rule refuses: returning a value for any of them is a defect.
MUST_REFUSE: frozenset[Kind] = frozenset(
    {
        "nan",
        "inf",
        "complex",
        "bool",
        "string",
        "object",
        "none",
        "extra_axis",
        "empty",
        "float_for_int",
        "negative_int",
    }
)
#: Kinds that spell the valid value differently: the result must equal the valid call's.
EQUIVALENT: frozenset[Kind] = frozenset({"list", "int_dtype"})
#: Kinds that may be accepted (then the value must be sound) or refused.
EITHER: frozenset[Kind] = frozenset(
    {"huge", "tiny", "zero", "negative", "drop_one", "rank_deficient", "zero_int", "big_int"}
)

ARRAY_KINDS: tuple[Kind, ...] = (
    "nan",
    "inf",
    "complex",
    "bool",
    "string",
    "object",
    "none",
    "extra_axis",
    "empty",
    "list",
    "int_dtype",
    "huge",
    "tiny",
    "zero",
    "drop_one",
    "rank_deficient",
)
FLOAT_KINDS: tuple[Kind, ...] = (
    "nan",
    "inf",
    "complex",
    "bool",
    "string",
    "object",
    "none",
    "huge",
    "tiny",
    "zero",
    "negative",
)
INT_KINDS: tuple[Kind, ...] = (
    "float_for_int",
    "negative_int",
    "zero_int",
    "big_int",
    "bool",
    "string",
    "complex",
    "none",
)
#: Magnitudes used by the "huge"/"tiny" kinds (a factor on arrays, the value for numbers).
HUGE, TINY = 1e200, 1e-200
BIG_INT = 10**15


class _Timeout(BaseException):
    """Raised by the alarm when one call exceeds CALL_TIMEOUT (a BaseException, so that a
    function's own ``except Exception`` cannot swallow it)."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def _alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Target:
    """One public function and how to call it validly.

    ``valid(rng)`` returns the keyword arguments of a valid call built from the generator.
    ``fuzzed`` names the arguments to mutate (default: every argument ``valid`` returns whose
    value is a number, an array or a list of arrays). ``accepts`` lists (argument, kind)
    pairs that are valid inputs for this function although the default classification says
    "refuse" (e.g. ``("cov", "none")`` where None means identity). ``scaled(kwargs, arg,
    factor, value)`` returns the value the function must return when ``arg`` is multiplied by
    ``factor`` (or None when no law applies), for the huge/tiny kinds. ``solved(kwargs)``
    says whether a call's start already solves the problem (so 0 steps may be converged).
    ``verify(kwargs, value)`` checks any returned value against an independent reference
    (e.g. the same quantity at a rescaled, representable input) and returns a description of
    what is wrong, or None. ``aliases`` are extra words an error message may use to name a
    parameter.
    """

    func: Callable[..., Any]
    valid: Callable[[np.random.Generator], dict[str, Any]]
    fuzzed: tuple[str, ...] | None = None
    accepts: frozenset[tuple[str, Kind]] = frozenset()
    scaled: Callable[[dict[str, Any], str, float, Any], Any] | None = None
    solved: Callable[[dict[str, Any]], bool] | None = None
    verify: Callable[[dict[str, Any], Any], str | None] | None = None
    aliases: tuple[str, ...] = ()
    int_kinds: tuple[Kind, ...] = INT_KINDS
    timeout: float = CALL_TIMEOUT

    @property
    def name(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"

    def parameter_names(self) -> tuple[str, ...]:
        return (*inspect.signature(self.func).parameters, *self.aliases)

    def default_is_none(self, arg: str) -> bool:
        param = inspect.signature(self.func).parameters.get(arg)
        return param is not None and param.default is None


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_float(value: Any) -> bool:
    return isinstance(value, (float, np.floating))


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _is_array_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(map(_is_array, value))


def kinds_for(value: Any, target: Target) -> tuple[Kind, ...]:
    """The kinds that apply to an argument with this valid value."""
    if _is_array(value) or _is_array_list(value):
        return ARRAY_KINDS
    if _is_int(value):
        return target.int_kinds
    if _is_float(value):
        return FLOAT_KINDS
    return ()


def fuzzable(kwargs: Mapping[str, Any], target: Target) -> tuple[str, ...]:
    names = target.fuzzed if target.fuzzed is not None else tuple(kwargs)
    return tuple(n for n in names if kinds_for(kwargs[n], target))


def _mutate_array(a: np.ndarray, kind: Kind, rng: np.random.Generator) -> Any:
    flat_index = tuple(int(rng.integers(s)) for s in a.shape)
    if kind in ("nan", "inf"):
        out = a.copy()
        out[flat_index] = math.nan if kind == "nan" else -math.inf
        return out
    if kind == "complex":
        return a + 1j * a
    if kind == "bool":
        return a > 0
    if kind == "string":
        return a.astype(str)
    if kind == "object":
        return a.astype(object)
    if kind == "none":
        return None
    if kind == "extra_axis":
        return np.stack([a, a], axis=-1)
    if kind == "empty":
        return a[:0]
    if kind == "list":
        return a.tolist()
    if kind == "int_dtype":
        return np.round(a * 3).astype(np.int64)
    if kind == "huge":
        return a * HUGE
    if kind == "tiny":
        return a * TINY
    if kind == "zero":
        return np.zeros_like(a)
    if kind == "drop_one":
        return a[:-1] if a.shape[0] > 1 else a[:0]
    if kind == "rank_deficient":
        if a.ndim >= 2 and a.shape[0] > 1:
            out = a.copy()
            out[-1] = out[0]
            return out
        return np.zeros_like(a)
    raise AssertionError(kind)


def mutate(value: Any, kind: Kind, rng: np.random.Generator) -> Any:
    """The valid ``value`` turned into ``kind``."""
    if _is_array_list(value):
        i = int(rng.integers(len(value)))
        if kind in ("none", "empty") and rng.random() < 0.5:
            return None if kind == "none" else []
        out = list(value)
        out[i] = _mutate_array(value[i], kind, rng)
        if kind in ("list", "int_dtype", "huge", "tiny", "zero"):
            out = [_mutate_array(v, kind, rng) for v in value]
        return out
    if _is_array(value):
        return _mutate_array(value, kind, rng)
    number = {
        "nan": math.nan,
        "inf": math.inf,
        "complex": complex(value, 1.0),
        "bool": True,
        "string": str(value),
        "object": object(),
        "none": None,
        "huge": HUGE,
        "tiny": TINY,
        "zero": 0 * value,
        "negative": -value if value else -1.0,
        "float_for_int": float(value),
        "negative_int": -abs(int(value)) - 1,
        "zero_int": 0,
        "big_int": BIG_INT,
    }
    return number[kind]


def _equivalent_of(value: Any, kind: Kind, mutated: Any) -> Any:
    """For EQUIVALENT kinds: the float64 value the mutated argument means."""
    if kind == "list":
        return value
    if isinstance(mutated, list):
        return [np.asarray(m, dtype=np.float64) for m in mutated]
    return np.asarray(mutated, dtype=np.float64)


def _leaves(value: Any, depth: int = 0) -> Iterator[Any]:
    """Every number/array inside a returned value (dataclasses, tuples, lists, dicts)."""
    if depth > 6:
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _leaves(getattr(value, f.name), depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v, depth + 1)
    elif isinstance(value, (float, np.floating, np.ndarray)):
        yield value


def nonfinite(value: Any) -> bool:
    for leaf in _leaves(value):
        arr = np.asarray(leaf)
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            return True
    return False


def same_value(a: Any, b: Any, rtol: float = SAME_RTOL) -> bool:
    la, lb = list(_leaves(a)), list(_leaves(b))
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb, strict=True):
        xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if xa.shape != ya.shape or not np.allclose(xa, ya, rtol=rtol, atol=0.0):
            return False
    if not la:  # SymPy objects and other non-numeric results: compare directly
        return bool(a == b)
    return True


def unmoved_convergence(result: Any) -> bool:
    """A training result that says converged=True after 0 steps."""
    for leaf in [result, *[getattr(result, n, None) for n in ("source", "target")]]:
        if leaf is None or not dataclasses.is_dataclass(leaf):
            continue
        converged = getattr(leaf, "converged", None)
        steps = getattr(leaf, "steps", None)
        if converged is None or steps is None:
            continue
        if bool(np.all(np.asarray(converged))) and int(np.min(np.asarray(steps))) == 0:
            return True
    return False


@dataclass
class Report:
    """Counts of outcomes and the defects found for one target."""

    target: str
    examples: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    defects: list[str] = field(default_factory=list)

    def log(self) -> None:
        path = os.environ.get("FINETUNE_FUZZ_LOG")
        if not path:
            return
        line = {
            "target": self.target,
            "examples": self.examples,
            "outcomes": dict(self.outcomes),
            "defects": sorted(set(self.defects)),
        }
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


def _call(target: Target, kwargs: dict[str, Any]) -> tuple[str, Any]:
    """("value", result) | ("refused", exc) | ("other", exc) | ("hang", None)."""
    try:
        with _time_limit(target.timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore", IllConditionedWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            return "value", target.func(**kwargs)
    except (InputError, ConvergenceError) as exc:
        return "refused", exc
    except _Timeout:
        return "hang", None
    except Exception as exc:
        return "other", exc


def _names(name: str, message: str) -> bool:
    """Whether ``message`` names the parameter ``name`` as a whole word ("y" is not named
    by "only", "X" not by "X_source")."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def _verified(target: Target, kwargs: dict[str, Any], value: Any) -> str | None:
    """The target's independent check of a returned value (a crash in it is a defect too)."""
    if target.verify is None:
        return None
    try:
        with _time_limit(target.timeout):
            return target.verify(kwargs, value)
    except _Timeout:
        return "its reference check did not finish"
    except Exception as exc:
        return f"its reference check raised {type(exc).__name__}: {str(exc)[:120]}"


def judge(target: Target, rng_seed: int, arg: str | None, kind: Kind | None) -> tuple[str, str]:
    """Run one fuzzed call; return (outcome, defect description or "")."""
    kwargs = target.valid(np.random.default_rng(rng_seed))
    where = f"{target.name}({arg}={kind}, seed={rng_seed})"
    if arg is None or kind is None:
        status, value = _call(target, kwargs)
        if status != "value":
            return status, f"{where}: the valid call failed: {status} {value!r}"
        if nonfinite(value):
            return "nonfinite", f"{where}: the valid call returned NaN/inf"
        problem = _verified(target, kwargs, value)
        return ("wrong", f"{where}: {problem}") if problem else ("value", "")
    mutated = mutate(kwargs[arg], kind, np.random.default_rng(rng_seed + 1))
    bad = {**kwargs, arg: mutated}
    status, value = _call(target, bad)
    if status == "hang":
        return status, f"{where}: no answer within {target.timeout:g}s"
    if status == "other":
        return status, f"{where}: raised {type(value).__name__}: {str(value)[:160]}"
    if status == "refused":
        message = str(value)
        if not any(_names(name, message) for name in target.parameter_names()):
            return "unnamed", f"{where}: message names no parameter: {message[:160]}"
        if kind == "list" and _call(target, kwargs)[0] == "value":
            return "refused", f"{where}: refused a list spelling of a valid array: {message}"
        return "refused", ""
    # A value was returned.
    accepted = (arg, kind) in target.accepts or (kind == "none" and target.default_is_none(arg))
    if kind in MUST_REFUSE and not accepted:
        return "accepted", f"{where}: accepted a bad input and returned {type(value).__name__}"
    if nonfinite(value):
        return "nonfinite", f"{where}: returned NaN/inf"
    if unmoved_convergence(value) and kind != "zero" and not (target.solved and target.solved(bad)):
        return "unmoved", f"{where}: converged=True after 0 steps"
    if kind in EQUIVALENT:
        equivalent = {**kwargs, arg: _equivalent_of(kwargs[arg], kind, mutated)}
        base_status, base = _call(target, equivalent)
        if base_status == "value" and not same_value(value, base):
            return "wrong", f"{where}: differs from the same call with float64 arrays"
    if kind in ("huge", "tiny") and target.scaled is not None:
        base_status, base = _call(target, kwargs)
        factor = HUGE if kind == "huge" else TINY
        if _is_float(kwargs[arg]):
            factor = factor / float(kwargs[arg]) if kwargs[arg] else factor
        want = target.scaled(kwargs, arg, factor, base) if base_status == "value" else None
        if want is not None and not same_value(value, want, rtol=1e-6):
            return "wrong", f"{where}: breaks its scaling law"
    problem = _verified(target, bad, value)
    if problem:
        return "wrong", f"{where}: {problem}"
    return "value", ""


def fuzz_test(target: Target, max_examples: int = 40) -> Callable[[], None]:
    """A test function that fuzzes ``target``: every (argument, kind) pair once with seed 0,
    then ``max_examples`` Hypothesis draws of (seed, argument, kind) (derandomised, no
    example database: the same examples on every run)."""
    survey = os.environ.get("FINETUNE_FUZZ_SURVEY") == "1"
    report = Report(target.name)
    probe = target.valid(np.random.default_rng(0))
    args = fuzzable(probe, target)

    pairs: list[tuple[str | None, Kind | None]] = [(None, None)]
    pairs += [(a, k) for a in args for k in kinds_for(probe[a], target)]

    def run(case: tuple[int, str | None, Kind | None]) -> None:
        outcome, defect = judge(target, *case)
        report.examples += 1
        report.outcomes[f"{case[2] or 'valid'}: {outcome}"] += 1
        if defect:
            report.defects.append(defect)
            if not survey:
                raise AssertionError(defect)

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.integers(0, 2**16), st.sampled_from(pairs))
    def body(seed: int, pair: tuple[str | None, Kind | None]) -> None:
        run((seed, *pair))

    def test() -> None:
        try:
            for pair in pairs:  # every (argument, kind) once, then Hypothesis' draws
                run((0, *pair))
            body()
        finally:
            report.log()

    return test


# --------------------------------------------------------------------------------------
# Helpers for independent references (mpmath at high precision, from the float inputs)
# --------------------------------------------------------------------------------------


def as_array(value: Any) -> np.ndarray:
    """A float64 array of what a target was called with (lists, int arrays)."""
    return np.asarray(value, dtype=np.float64)


def mp_vector(a: np.ndarray) -> Any:
    """The exact float64 entries of ``a`` (flattened) as an mpmath column."""
    return mp.matrix([mp.mpf(float(v)) for v in a.ravel()])


def mp_matrix(a: np.ndarray) -> Any:
    """The exact float64 entries of the 2-D ``a`` as an mpmath matrix."""
    return mp.matrix([[mp.mpf(float(v)) for v in row] for row in a])
