"""A deliberate bug on either side makes the verifier fail, with a working reproduce command.

The bugs are injected by monkeypatching the real modules, so the claims exercise the same
call paths a genuine regression would.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import numeric.linear as nl
import symbolic.linear as sl
from verify import cli, registry
from verify.profiles import PROFILES
from verify.runner import run_claim

QUICK = PROFILES["quick"]


def _drop_pinv_term(X: object, y: object, theta_s: object) -> np.ndarray:
    """Bug: θ_S − X⁺Xθ_S, i.e. θ_FT without its X⁺y term."""
    Xa, ts = np.asarray(X, float), np.asarray(theta_s, float)
    return np.asarray(ts - np.linalg.pinv(Xa) @ (Xa @ ts))


def _gradient_of_1_over_n_loss(X: np.ndarray, y: np.ndarray, theta: np.ndarray):  # type: ignore[no-untyped-def]
    """Bug: the gradient of (1/n)‖Xθ − y‖² used where the loss is (1/2n)‖Xθ − y‖²."""
    value, grad = ORIGINAL_GRADIENT(X, y, theta)
    return 2.0 * value, 2.0 * grad


ORIGINAL_GRADIENT = nl.loss_gradient


def _setting_json(command: str) -> str:
    match = re.search(r"--setting '(.*)'$", command)
    assert match is not None, command
    return match.group(1)


def test_symbolic_bug_is_caught_and_reproducible(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sl, "finetuned_weights", _drop_pinv_term)
    result = run_claim(registry.get("L1-gd-limit"), QUICK, max_examples=20)
    assert not result.passed
    command = result.reproduce_command()
    assert command is not None and command.startswith("python -m verify reproduce L1-gd-limit")
    setting = _setting_json(command)
    json.loads(setting)
    # The printed command reruns exactly the failing setting: it fails with the bug ...
    assert cli.main(["reproduce", "L1-gd-limit", "--setting", setting]) == 1
    assert "FAIL" in capsys.readouterr().out
    # ... and passes once the bug is gone.
    monkeypatch.undo()
    assert cli.main(["reproduce", "L1-gd-limit", "--setting", setting]) == 0


def test_numeric_loss_normalisation_bug_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nl, "loss_gradient", _gradient_of_1_over_n_loss)
    result = run_claim(registry.get("L1-gd-trajectory"), QUICK, max_examples=20)
    assert not result.passed
    assert result.failing_outcome is not None
    assert result.failing_outcome.error > 1e-6


def test_cli_exit_status_is_1_on_disagreement(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sl, "finetuned_weights", _drop_pinv_term)
    assert cli.main(["L1-gd-limit", "--max-examples", "5", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  L1-gd-limit" in out
    assert "reproduce: python -m verify reproduce L1-gd-limit --setting" in out
