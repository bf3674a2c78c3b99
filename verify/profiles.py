"""Verification profiles, shared by ``pytest`` and ``python -m verify``.

The profile is chosen by ``--profile`` on the command line, else by the environment
variable ``FINETUNE_PROFILE``, else ``quick``. Every profile except ``dev`` is deterministic:
Hypothesis runs from a fixed seed (0 unless ``--seed`` is given) with no example database,
so the same command prints the same report. CI uses ``quick``.

Hidden state is switched off for every profile (:func:`isolate_hypothesis`): no example
database is read or written (not even by ``dev``, whose fresh seed is printed so its run can
be repeated), and Hypothesis' mining of constants from the source of every "local" module that
happens to be imported (which depends on the working directory, on which modules the CLI or a
worker process loaded, and writes a ``.hypothesis/`` cache into the working directory) is
disabled. So the settings drawn depend only on the claim, the profile and the seed: the same
report under ``--jobs 1``, ``--jobs N``, ``--scheduler``, pytest, any working directory, and on
a second run.

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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        """Hypothesis examples for a claim whose quick budget is ``budget`` (at least 1)."""
        return max(1, round(budget * self.example_scale))

    def seed(self, requested: int | None) -> int:
        """The seed to run with: ``requested`` if given, else fresh (``dev``) or fixed."""
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


_ISOLATED: list[bool] = []


def isolate_hypothesis() -> None:
    """Switch off Hypothesis state that would make draws depend on where they run.

    * Local-constant mining (Hypothesis >= 6.131): with probability ~5% per draw Hypothesis
      substitutes a constant harvested from the source files of imported non-site-packages
      modules. Which modules are imported differs between the CLI, a pool worker and pytest,
      and "local" depends on the working directory, so the same seed drew different settings.
      The harvest is replaced by an empty set (Hypothesis' built-in global constants stay:
      they are fixed by its version).
    * Storage: Hypothesis' home directory is moved to a private temporary folder, so nothing
      is written to ``.hypothesis/`` in the user's tree (the runner uses no database anyway).

    Idempotent; called when :mod:`verify.runner` is imported and by
    :func:`load_hypothesis_profile` (pytest). Hypothesis' internals are patched by name: if
    a future version moves them, ``tests/verify/test_determinism.py`` fails.
    """
    if _ISOLATED:
        return
    from hypothesis import configuration
    from hypothesis.internal.conjecture import providers

    empty: Any = providers.Constants()  # type: ignore[attr-defined]
    if hasattr(providers, "_get_local_constants"):
        providers._get_local_constants = lambda: empty
        providers.CONSTANTS_CACHE.cache.clear()
    # A fixed private path, created only if something writes (nothing does: no database).
    configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "finetune-hypothesis")
    _ISOLATED.append(True)


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
    isolate_hypothesis()
    register_hypothesis_profiles()
    settings.load_profile(profile.name)
    return profile
