"""Run a claim over Hypothesis-drawn settings; the one runner behind pytest and the CLI.

For each drawn setting the claim's ``check`` compares both sides. Hypothesis is asked to
maximise error/threshold (``hypothesis.target``), so the search climbs toward the worst
case; on a failure it shrinks to a minimal setting, which the result carries together with
the command that reruns exactly that setting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings

from verify.claim import Claim, Outcome, setting_to_json
from verify.coverage import CoverageMap
from verify.profiles import Profile, isolate_hypothesis

isolate_hypothesis()  # the same seed draws the same settings wherever the runner runs


class _DisagreementError(AssertionError):
    """Raised inside the Hypothesis test body when one setting fails."""


@dataclass(frozen=True)
class ClaimResult:
    """Everything a report needs about one claim's run."""

    claim: Claim
    passed: bool
    examples: int
    seed: int
    seconds: float
    worst_setting: Any
    worst_outcome: Outcome | None
    failing_setting: Any = None
    failing_outcome: Outcome | None = None
    ratios: tuple[float, ...] = ()
    profile: str = ""
    #: :meth:`verify.coverage.CoverageMap.summary` of every setting checked.
    coverage: dict[str, Any] = field(default_factory=dict)

    @property
    def worst_ratio(self) -> float:
        return self.worst_outcome.ratio if self.worst_outcome is not None else math.nan

    def reproduce_command(self) -> str | None:
        """The ``python -m verify reproduce`` command line that reruns the failing setting."""
        if self.failing_setting is None:
            return None
        return (
            f"python -m verify reproduce {self.claim.name} "
            f"--setting '{setting_to_json(self.failing_setting)}'"
        )


#: At most this many per-example error/threshold ratios are kept for reports.
MAX_RATIOS = 5000


@dataclass
class _Tracker:
    examples: int = 0
    ratios: list[float] = field(default_factory=list)
    worst_setting: Any = None
    worst_outcome: Outcome | None = None
    failing_setting: Any = None
    failing_outcome: Outcome | None = None
    coverage: CoverageMap = field(default_factory=CoverageMap)

    def record(self, setting: Any, outcome: Outcome, values: dict[str, Any]) -> None:
        self.examples += 1
        self.coverage.add(values)
        if len(self.ratios) < MAX_RATIOS:
            self.ratios.append(outcome.ratio)
        if self.worst_outcome is None or not outcome.ratio <= self.worst_outcome.ratio:
            self.worst_setting, self.worst_outcome = setting, outcome
        if not outcome.passed:
            # Hypothesis replays the shrunk example last, so the last failure is minimal.
            self.failing_setting, self.failing_outcome = setting, outcome


#: Ratios below this share one target score: errors far under their threshold are at the
#: rounding level, where the last bits vary with memory alignment and BLAS kernels from
#: process to process; letting them steer Hypothesis' targeted search would make the
#: explored settings depend on where the claim runs. And an error 10× inside its threshold
#: is no lead toward a failure: with the wide strategies, climbing such scores spent most of
#: a quick budget mutating one expensive setting (D5 at d = 187, n = 186: 5 s per example).
TARGET_FLOOR = 1e-1


def target_score(ratio: float) -> float:
    """The score Hypothesis climbs: error/threshold, floored and rounded to 3 digits."""
    return float(f"{max(ratio, TARGET_FLOOR):.3g}")


def evaluate(claim: Claim, setting: Any) -> Outcome:
    """``claim.check(setting)``, turning an exception into a failed :class:`Outcome`."""
    try:
        return claim.check(setting)
    except Exception as exc:  # a crash on a valid setting is a finding, not a runner error
        return Outcome.crashed(exc)


def run_claim(
    claim: Claim,
    profile: Profile,
    *,
    seed: int | None = None,
    max_examples: int | None = None,
    on_example: Callable[[int, Outcome], None] | None = None,
    shrink: bool = True,
) -> ClaimResult:
    """Check ``claim`` on up to ``max_examples`` settings (default: the profile's budget).

    ``shrink=False`` stops at the first failing setting without minimising it (the mutation
    runs of ``python -m verify power`` only need to know *whether* a claim fails).
    """
    examples = max_examples if max_examples is not None else profile.examples_for(claim.examples)
    run_seed = profile.seed(seed)
    tracker = _Tracker()

    def body(setting: Any) -> None:
        outcome = evaluate(claim, setting)
        tracker.record(setting, outcome, claim.coverage_values(setting))
        if on_example is not None:
            on_example(tracker.examples, outcome)
        if math.isfinite(outcome.ratio):
            hypothesis.target(target_score(outcome.ratio), label="error/threshold")
        if not outcome.passed:
            raise _DisagreementError(
                outcome.note or f"error {outcome.error:.3g} > {outcome.threshold:.3g}"
            )

    test = given(claim.strategy_for(profile.large_sizes))(body)
    # Built on Hypothesis' default profile, not the currently loaded one, so that a claim
    # searches identically in pytest (which loads $FINETUNE_PROFILE), the CLI and workers.
    test = settings(
        settings.get_profile("default"),
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.target, *([Phase.shrink] * shrink)],
    )(test)
    test = hypothesis.seed(run_seed)(test)
    start = time.perf_counter()
    try:
        test()
        passed = tracker.failing_setting is None
    except _DisagreementError:
        passed = False
    except hypothesis.errors.Unsatisfiable as exc:  # strategy could not build settings
        passed = False
        tracker.failing_outcome = Outcome.crashed(exc)
    seconds = time.perf_counter() - start
    return ClaimResult(
        claim=claim,
        passed=passed,
        examples=tracker.examples,
        seed=run_seed,
        seconds=seconds,
        worst_setting=tracker.worst_setting,
        worst_outcome=tracker.worst_outcome,
        failing_setting=tracker.failing_setting,
        failing_outcome=tracker.failing_outcome,
        ratios=tuple(tracker.ratios),
        profile=profile.name,
        coverage=tracker.coverage.summary(),
    )


def format_result(result: ClaimResult) -> str:
    """One line per claim (see :func:`verify.report.format_record`)."""
    from verify.report import format_record, record_from_result

    return format_record(record_from_result(result))


def format_failure(result: ClaimResult) -> str:
    """The shrunk counterexample and its rerun command (see :mod:`verify.report`)."""
    from verify.report import format_record_failure, record_from_result

    return format_record_failure(record_from_result(result))
