"""Closed forms of the paper, derived by SymPy (THEORY.md).

``symbolic.linear``: linear regression fine-tuned from θ_S (L1–L4).

Each module offers ``derive_*`` functions (SymPy objects, with the textbook form beside the
derived one) and evaluation functions that take NumPy arrays. The most used names are
re-exported here; see ``docs/notation.md`` for symbol ↔ code name.
"""

from symbolic import linear
from symbolic.linear import (
    asymptotic_risk,
    excess_risk,
    expected_risk_isotropic,
    finetuned_weights,
    risk_terms,
    sample_complexity,
)

__all__ = [
    "asymptotic_risk",
    "excess_risk",
    "expected_risk_isotropic",
    "finetuned_weights",
    "linear",
    "risk_terms",
    "sample_complexity",
]
