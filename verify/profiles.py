"""Verification profiles, shared by ``pytest`` and ``python -m verify``.

The profile is chosen by ``--profile`` on the command line, else by the environment
variable ``FINETUNE_PROFILE``, else ``quick``. Every profile except ``dev`` is deterministic:
Hypothesis runs from a fixed seed (0 unless ``--seed`` is given) with no example database,
so the same command prints the same report. CI uses ``quick``.

| profile   | examples per claim | randomness                          |
|-----------|--------------------|-------------------------------------|
| quick     | the claim's budget | fixed seed (derandomised)           |
| dev       | the claim's budget | a fresh seed per run, printed       |
| standard  | 4 × budget         | fixed seed                          |
| thorough  | 20 × budget        | fixed seed; larger sizes where a    |
|           |                    | claim defines them                  |
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from hypothesis import HealthCheck, settings

ENV_VAR = "FINETUNE_PROFILE"
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Profile:
    """How hard to search: an example-budget multiplier and whether the seed is fresh."""

    name: str
    example_scale: float
    randomize: bool
    description: str
    large_sizes: bool = False

    def examples_for(self, budget: int) -> int:
        return max(1, round(budget * self.example_scale))

    def seed(self, requested: int | None) -> int:
        if requested is not None:
            return requested
        return secrets.randbits(32) if self.randomize else DEFAULT_SEED


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("quick", 1.0, False, "every claim at its base budget, fixed seed (CI default)"),
        Profile("dev", 1.0, True, "base budget, fresh random seed each run (printed)"),
        Profile("standard", 4.0, False, "4x the examples, fixed seed (minutes)"),
        Profile(
            "thorough", 20.0, False, "20x the examples and larger sizes, fixed seed (long)", True
        ),
    )
}


def get_profile(name: str | None = None) -> Profile:
    """The named profile, else ``$FINETUNE_PROFILE``, else ``quick``."""
    chosen = name or os.environ.get(ENV_VAR) or "quick"
    try:
        return PROFILES[chosen]
    except KeyError:
        raise ValueError(
            f"profile must be one of {sorted(PROFILES)}, got {chosen!r} "
            f"(from {'--profile' if name else ENV_VAR})"
        ) from None


def register_hypothesis_profiles() -> None:
    """Register the same names as Hypothesis profiles, for plain property tests."""
    base = settings(
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.register_profile("quick", base, max_examples=25, derandomize=True)
    settings.register_profile("dev", base, max_examples=25, derandomize=False)
    settings.register_profile("standard", base, max_examples=100, derandomize=True)
    settings.register_profile("thorough", base, max_examples=500, derandomize=True)


def load_hypothesis_profile(name: str | None = None) -> Profile:
    """Register and load the Hypothesis profile matching :func:`get_profile`."""
    profile = get_profile(name)
    register_hypothesis_profiles()
    settings.load_profile(profile.name)
    return profile
