"""Every claim, through the same runner as ``python -m verify``, at the $FINETUNE_PROFILE budget."""

from __future__ import annotations

import pytest

from verify import registry
from verify.claim import Claim
from verify.profiles import get_profile
from verify.runner import format_failure, run_claim


@pytest.mark.parametrize("claim", registry.all_claims(), ids=lambda c: c.name)
def test_claim_agrees(claim: Claim) -> None:
    result = run_claim(claim, get_profile())
    assert result.examples >= 1
    assert result.passed, format_failure(result)
