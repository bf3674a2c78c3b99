"""The command line: listing, selection, profiles, exit codes and determinism."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from verify import cli, registry
from verify.claim import setting_to_json
from verify.profiles import ENV_VAR, get_profile


def test_list_shows_every_claim(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    for claim in registry.all_claims():
        assert claim.name in out
        assert claim.source in out


def test_help_exits_zero_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "python -m verify reproduce" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no-such-claim"], "valid names: L1-gd-limit"),
        (["--profile", "bogus"], "invalid choice"),
        (["--max-examples", "0"], "must be an integer >= 1"),
        (["reproduce", "L1-gd-limit", "--setting", "{not json"], "error"),
        (["reproduce", "L1-gd-limit", "--setting", '{"d": 3}'], "must have exactly the fields"),
        (["reproduce", "nope", "--setting", "{}"], "unknown claim"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err + captured.out


def test_profile_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "thorough")
    assert get_profile().name == "thorough"
    assert get_profile("standard").name == "standard"
    monkeypatch.setenv(ENV_VAR, "nonsense")
    with pytest.raises(ValueError, match=ENV_VAR):
        get_profile()


def _without_timings(text: str) -> str:
    return re.sub(r"\d+\.\d+s", "<t>", text)


def test_same_seed_gives_the_same_report(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["L1-gd-trajectory", "L2-noise", "--seed", "11", "--max-examples", "4", "--jobs", "1"]
    assert cli.main(argv) == 0
    first = _without_timings(capsys.readouterr().out)
    assert cli.main(argv) == 0
    assert _without_timings(capsys.readouterr().out) == first


def test_reproduce_passes_on_a_valid_setting(capsys: pytest.CaptureFixture[str]) -> None:
    claim = registry.get("L1-gd-trajectory")
    from hypothesis import find

    setting = find(claim.strategy, lambda s: s.k > 5)
    assert cli.main(["reproduce", claim.name, "--setting", setting_to_json(setting)]) == 0
    assert capsys.readouterr().out.startswith("PASS  L1-gd-trajectory")


def test_module_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "verify", "--list"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "L1-gd-limit" in proc.stdout
