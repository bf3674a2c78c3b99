"""Claims that pair a closed form (``symbolic``) with training (``numeric``), and their runner.

Run ``python -m verify --help``. From Python::

    from verify import all_claims, run_claim, get_profile
    result = run_claim(all_claims()[0], get_profile("quick"))
"""

from verify.claim import Claim, Oracle, Outcome, Tolerance
from verify.profiles import Profile, get_profile
from verify.registry import all_claims
from verify.runner import ClaimResult, run_claim

__all__ = [
    "Claim",
    "ClaimResult",
    "Oracle",
    "Outcome",
    "Profile",
    "Tolerance",
    "all_claims",
    "get_profile",
    "run_claim",
]
