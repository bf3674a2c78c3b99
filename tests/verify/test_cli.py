"""The command line: listing, selection, profiles, exit codes (0 agree, 1 disagree, 2 usage or
invalid input, 130 interrupted), setting validation, progress and determinism."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from finetune_theory.errors import InputError
from verify import cli, registry
from verify.claim import Claim, Outcome, Rule, rules, setting_to_json
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


# --------------------------------------------------------------------------------------
# Honest exit codes: 0 agree, 1 disagree, 2 usage or invalid input, 130 interrupted
# --------------------------------------------------------------------------------------

#: A valid L1-gd-trajectory setting (passes: a symbolic identity, ~0.1 s).
VALID = {
    "problem": {
        "d": 4,
        "n": 2,
        "seed": 1,
        "spectrum": "isotropic",
        "condition": 1.0,
        "alpha": 1.0,
        "epsilon": 0.5,
        "noise_std": 0.1,
        "row_fraction": -1.0,
    },
    "step_fraction": 0.5,
    "k": 3,
}


def _with(changes: dict[str, Any], nested: dict[str, Any] | None = None) -> str:
    data = json.loads(json.dumps(VALID))
    data["problem"].update(nested or {})
    data.update(changes)
    return json.dumps(data)


def _patch_claim(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> Claim:
    """Replace L1-gd-trajectory in the registry by a copy with ``changes``."""
    base = registry.get("L1-gd-trajectory")
    fake = dataclasses.replace(base, **changes)
    claims = tuple(fake if c.name == base.name else c for c in registry.all_claims())
    monkeypatch.setattr(registry, "all_claims", lambda: claims)
    return fake


def _recording(ran: list[Any]) -> Any:
    """A check that records its settings and passes."""

    def check(setting: Any) -> Outcome:
        ran.append(setting)
        return Outcome(0.0, 1.0)

    return check


def test_reproduce_exit_0_on_agreement(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reproduce", "L1-gd-trajectory", "--setting", _with({})]) == 0
    assert capsys.readouterr().out.startswith("PASS  L1-gd-trajectory")


def test_reproduce_exit_1_on_a_disagreement(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _patch_claim(monkeypatch, check=lambda s: Outcome(2.0, 1.0, 1.0, 3.0, note="off by 2"))
    assert cli.main(["reproduce", "L1-gd-trajectory", "--setting", _with({})]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL  L1-gd-trajectory") and "off by 2" in out


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (_with({}, {"d": True}), "field 'problem.d' must be an integer"),
        (_with({"k": 3.0}), "field 'k' must be an integer"),
        (_with({}, {"alpha": "1.0"}), "field 'problem.alpha' must be a number"),
        (_with({}, {"alpha": float("nan")}), "field 'problem.alpha' must be finite"),
        (_with({"step_fraction": float("inf")}), "field 'step_fraction' must be finite"),
        (_with({"extra": 1}), "unknown ['extra']"),
        (_with({}, {"spectrum": 3}), "field 'problem.spectrum' must be a string"),
        (_with({"problem": [1, 2]}), "field 'problem' must be a JSON object"),
        ("[1, 2]", "the setting must be a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_reproduce_exit_2_on_an_invalid_setting(
    setting: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran: list[Any] = []
    _patch_claim(monkeypatch, check=_recording(ran))
    assert cli.main(["reproduce", "L1-gd-trajectory", "--setting", setting]) == 2
    err = capsys.readouterr().err
    assert message in err and "L1-gd-trajectory" in err and len(err.strip().splitlines()) == 1
    assert ran == []  # nothing was checked


def test_reproduce_exit_2_on_a_setting_outside_the_hypotheses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[Any] = []
    _patch_claim(
        monkeypatch,
        check=_recording(ran),
        validate=rules(
            Rule("problem", lambda s: s.problem.d >= 1, "d >= 1"),
            Rule("k", lambda s: s.k < 10, "k < 10 (the claim's step budget)"),
        ),
    )
    assert cli.main(["reproduce", "L1-gd-trajectory", "--setting", _with({"k": 12})]) == 2
    err = capsys.readouterr().err
    assert "outside the claim's hypotheses: k must satisfy k < 10" in err and "k=12" in err
    assert ran == []
    assert cli.main(["reproduce", "L1-gd-trajectory", "--setting", _with({"k": 3})]) == 0
    assert len(ran) == 1


def test_setting_types_own_validate_runs_before_the_check() -> None:
    @dataclasses.dataclass(frozen=True)
    class Sizes:
        d: int
        n: int

        def validate(self) -> None:
            if not self.n < self.d:
                raise InputError(f"n must be < d (interpolation), got n={self.n}, d={self.d}")

    claim = dataclasses.replace(registry.get("L1-gd-trajectory"), setting_type=Sizes)
    assert claim.setting_from_json('{"d": 20, "n": 3}') == Sizes(20, 3)
    with pytest.raises(InputError, match=r"hypotheses: n must be < d .*n=19, d=19"):
        claim.setting_from_json('{"d": 19, "n": 19}')
    with pytest.raises(InputError, match="must be an integer"):
        claim.setting_from_json('{"d": 20.0, "n": 3}')


def _report_with_failing(folder: Path, setting: dict[str, Any], complete: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    claim = {"name": "L1-gd-trajectory", "passed": False, "failing": {"setting": setting}}
    doc = {"schema_version": 1, "complete": complete, "claims": [claim], "explore": []}
    (folder / "report.json").write_text(json.dumps(doc))
    return folder


def test_reproduce_accepts_the_report_folder_or_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _report_with_failing(tmp_path / "out", VALID, complete=False)
    for target in (folder, folder / "report.json"):
        assert cli.main(["reproduce", "--report", str(target)]) == 0
        out = capsys.readouterr().out
        assert "PASS  L1-gd-trajectory" in out and "partial report" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no report.json in this folder"),
        (lambda p: p / "missing.json", "no such file"),
        (lambda p: (p / "explore.json").write_text('{"explore": []}') and p, "not a campaign"),
        (lambda p: (p / "report.json").write_text("{half") and p, "cannot read it as JSON"),
    ],
)
def test_reproduce_report_usage_errors_exit_2(
    make: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = make(tmp_path)
    if message == "not a campaign":
        target = tmp_path / "explore.json"
    assert cli.main(["reproduce", "--report", str(target)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_reproduce_report_with_an_invalid_setting_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = json.loads(_with({"k": 2.5}))
    folder = _report_with_failing(tmp_path, broken)
    assert cli.main(["reproduce", "--report", str(folder)]) == 2
    assert "field 'k' must be an integer" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["", "reproduce", "explore", "figures", "power"])
def test_every_help_documents_the_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*([command] if command else []), "--help"]) == 0
    out = capsys.readouterr().out
    assert "exit status:" in out
    for code in ("0 ", "2 ", "130"):
        assert f"\n  {code}" in out, (command, code)
    doc = (cli.__doc__ or "").lower()
    assert "exit status" in doc and all(f"* {code} —" in doc for code in (0, 1, 2, 130))


def test_ctrl_c_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(argv: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.SUBCOMMANDS, "reproduce", interrupted)
    assert cli.main(["reproduce", "L1-gd-trajectory"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_interrupted_explore_writes_what_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import verify.explore as ve

    def stop(size: str, seed: int) -> dict[str, Any]:
        raise KeyboardInterrupt

    monkeypatch.setitem(ve.EXPLORATIONS, "imbalance", ("stops", stop))
    argv = ["explore", "width", "imbalance", "--size", "tiny", "--report", str(tmp_path)]
    assert cli.main(argv) == 130
    captured = capsys.readouterr()
    assert "interrupted: 1/2 explorations finished" in captured.err
    doc = json.loads((tmp_path / "explore.json").read_text())
    assert doc["complete"] is False and [e["name"] for e in doc["explore"]] == ["width"]
    assert "partial report: interrupted" in (tmp_path / "explore.md").read_text()


def test_explore_progress_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explore", "width", "--size", "tiny"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and re.fullmatch(r"\[1/1 explorations\] width done in \d+\.\ds", err[0])
    assert cli.main(["explore", "width", "--size", "tiny", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_progress_updates_one_line_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        progress = cli._ItemProgress(2, "figures", stream=stream)
        progress.start("depth", "rescale")
        progress.finish("depth", 12.34)
        progress.redraw()
        progress.clear()
    assert tty.getvalue() == (
        "\r\033[K[0/2 figures] running depth, rescale"
        "\r\033[K[1/2 figures] depth done in 12.3s\n"
        "\r\033[K[1/2 figures] running rescale"
        "\r\033[K"
    )
    assert log.getvalue() == "[1/2 figures] depth done in 12.3s\n"
