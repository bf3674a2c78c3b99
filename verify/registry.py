"""All claims, and selecting them by name or shell-style pattern."""

from __future__ import annotations

import fnmatch
import importlib

from verify.claim import Claim

#: Modules that define a ``CLAIMS`` tuple, in docs/theory.md order.
CLAIM_MODULES: tuple[str, ...] = ("verify.linear", "verify.deep_linear", "verify.relu_ntk")


def all_claims() -> tuple[Claim, ...]:
    """Every registered claim, in docs/theory.md order."""
    claims: list[Claim] = []
    for name in CLAIM_MODULES:
        claims.extend(importlib.import_module(name).CLAIMS)
    return tuple(claims)


def select(patterns: list[str]) -> tuple[Claim, ...]:
    """Claims whose name equals, starts with, or matches (fnmatch) any pattern.

    Raises ValueError naming the unmatched pattern and the valid names.
    """
    claims = all_claims()
    if not patterns:
        return claims
    chosen: list[Claim] = []
    for pattern in patterns:
        hits = [
            c
            for c in claims
            if c.name == pattern or c.name.startswith(pattern) or fnmatch.fnmatch(c.name, pattern)
        ]
        if not hits:
            names = ", ".join(c.name for c in claims)
            raise ValueError(f"no claim matches {pattern!r}; valid names: {names}")
        chosen.extend(c for c in hits if c not in chosen)
    return tuple(chosen)


def get(name: str) -> Claim:
    """The claim with exactly this name."""
    for claim in all_claims():
        if claim.name == name:
            return claim
    names = ", ".join(c.name for c in all_claims())
    raise ValueError(f"unknown claim {name!r}; valid names: {names}")
