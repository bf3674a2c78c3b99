"""Campaigns, reports, reproduction from a report, explorations and the Dask path."""

from __future__ import annotations

import io
import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symbolic.linear as sl
from verify import cli
from verify.campaign import Display, Progress, run_campaign
from verify.profiles import PROFILES, get_profile
from verify.report import record_from_dict, validate_explore, validate_report

# Fast claims (well under a second each at 3 examples) for executor comparisons.
FAST = ["L1-gd-trajectory", "L-exact-cases", "D6-frozen-first-layer", "K1-empirical-ntk-width"]


def _comparable(records: list[Any]) -> list[dict[str, Any]]:
    return [r.comparable() for r in records]


@pytest.fixture(scope="module")
def sequential() -> list[Any]:
    return run_campaign(FAST, "quick", 5, max_examples=3, jobs=1, display=False)


def _children() -> set[int | None]:
    return {p.pid for p in multiprocessing.active_children()}


def test_parallel_processes_match_sequential(sequential: list[Any]) -> None:
    before = _children()
    parallel = run_campaign(FAST, "quick", 5, max_examples=3, jobs=2, display=False)
    assert [r.name for r in parallel] == FAST
    assert _comparable(parallel) == _comparable(sequential)
    assert all(r.passed and r.examples == 3 for r in parallel)
    assert _children() <= before  # the pool's workers are gone after a normal finish


def test_dask_local_cluster_matches_sequential(sequential: list[Any], tmp_path: Path) -> None:
    import distributed  # part of the test extra: the Dask path is always tested

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        records = run_campaign(
            FAST,
            "quick",
            5,
            max_examples=3,
            jobs=2,
            scheduler=cluster.scheduler_address,
            display=False,
        )
        assert _comparable(records) == _comparable(sequential)
        # A figure sweep handed to the same scheduler.
        argv = ["figures", "rescale", "--size", "tiny", "--numbers-only", "--out", str(tmp_path)]
        assert cli.main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    assert json.loads((tmp_path / "rescale.json").read_text())["name"] == "rescale"


def test_scheduler_local_starts_its_own_cluster(sequential: list[Any]) -> None:
    before = _children()
    records = run_campaign(
        FAST[:2], "quick", 5, max_examples=3, jobs=1, scheduler="local", display=False
    )
    assert _comparable(records) == _comparable(sequential[:2])
    assert _children() <= before  # the cluster's worker processes are gone


def test_report_files_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        *FAST[:2],
        "D1-one-step",
        "--max-examples",
        "3",
        "--jobs",
        "1",
        "--report",
        str(tmp_path),
    ]
    assert cli.main(argv) == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    validate_report(doc)
    assert doc["totals"] == {
        "claims": 3,
        "passed": 3,
        "failed": 0,
        "examples": 9,
        "seconds": pytest.approx(doc["totals"]["seconds"]),
    }
    assert doc["run"]["profile"] == "quick" and doc["run"]["seed"] == 0
    assert doc["run"]["versions"]["numpy"] == np.__version__
    one_step = next(c for c in doc["claims"] if c["name"] == "D1-one-step")
    assert one_step["worst"]["curve"]["expected_slope"] == 2.0  # a rate claim carries its curve
    md = (tmp_path / "report.md").read_text()
    assert "| PASS | `L1-gd-trajectory` |" in md
    assert "![D1-one-step](report-claim-D1-one-step.png)" in md
    assert (tmp_path / "report-claim-D1-one-step.png").stat().st_size > 5_000
    # Records survive the JSON round trip.
    assert record_from_dict(doc["claims"][0]).name == FAST[0]


def test_schema_rejects_a_broken_document(tmp_path: Path) -> None:
    assert cli.main([FAST[0], "--max-examples", "2", "--jobs", "1", "--report", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    del doc["claims"][0]["tolerance"]["reason"]
    with pytest.raises(ValueError, match=r"claims\[0\]\.tolerance\.reason is missing"):
        validate_report(doc)
    doc = json.loads((tmp_path / "report.json").read_text())
    doc["claims"][0]["passed"] = False
    with pytest.raises(ValueError, match="no reproduce command"):
        validate_report(doc)


def _broken_finetuned_weights(X: Any, y: Any, theta_s: Any) -> np.ndarray:
    Xa, ts = np.asarray(X, float), np.asarray(theta_s, float)
    return np.asarray(ts - np.linalg.pinv(Xa) @ (Xa @ ts))  # bug: X⁺y term dropped


def test_broken_claim_is_reported_and_reproduced_from_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sl, "finetuned_weights", _broken_finetuned_weights)
    argv = [
        "L1-gd-limit",
        "L-exact",
        "--max-examples",
        "10",
        "--jobs",
        "1",
        "--report",
        str(tmp_path),
    ]
    assert cli.main(argv) == 1
    out = capsys.readouterr().out
    assert "FAIL  L1-gd-limit" in out and "reproduce: python -m verify reproduce L1-gd-limit" in out
    doc = json.loads((tmp_path / "report.json").read_text())
    validate_report(doc)
    failed = [c for c in doc["claims"] if not c["passed"]]
    assert {c["name"] for c in failed} >= {"L1-gd-limit"}
    assert "## Disagreements" in (tmp_path / "report.md").read_text()
    # The report's settings rerun: still failing with the bug ...
    assert cli.main(["reproduce", "--report", str(tmp_path / "report.json"), "L1-gd-limit"]) == 1
    # ... and passing once it is fixed.
    monkeypatch.undo()
    assert cli.main(["reproduce", "--report", str(tmp_path / "report.json"), "L1-gd-limit"]) == 0


def test_profiles_scale_budgets_and_sizes() -> None:
    quick, standard, thorough = (PROFILES[k] for k in ("quick", "standard", "thorough"))
    assert (quick.examples_for(10), standard.examples_for(10), thorough.examples_for(10)) == (
        10,
        40,
        200,
    )
    assert thorough.large_sizes and not quick.large_sizes
    assert quick.seed(None) == 0 and quick.seed(9) == 9
    dev = get_profile("dev")
    assert dev.randomize
    from verify import registry

    claim = registry.get("L1-gd-limit")
    assert claim.strategy_for(True) is claim.thorough_strategy
    assert claim.strategy_for(False) is claim.strategy


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--jobs", "0"], "must be an integer >= 1"),
        (["explore", "nope"], "valid names: imbalance"),
        (["reproduce"], "give CLAIM --setting JSON, or --report"),
        (["reproduce", "--report", "/nonexistent/report.json"], "error"),
    ],
)
def test_more_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err + captured.out


def test_explore_writes_curves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["explore", "step-size", "width", "--size", "tiny", "--report", str(tmp_path)])
        == 0
    )
    doc = json.loads((tmp_path / "explore.json").read_text())
    validate_explore(doc)
    assert not (tmp_path / "report.json").exists()  # explore writes its own files only
    by_name = {e["name"]: e for e in doc["explore"]}
    # The relaxed hypotheses break as the theory says: O(η) for GD, O(m^-1/2) for width.
    assert by_name["step-size"]["slope"] == pytest.approx(1.0, abs=0.25)
    assert by_name["width"]["slope"] < -0.25
    assert (tmp_path / "explore-width.png").exists()
    assert "where the theorems stop holding" in (tmp_path / "explore.md").read_text()


def test_progress_display_on_a_terminal_and_in_a_log() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    progress = Progress(total=2)
    progress.example("A", 5, 0.3)
    tty, log = Tty(), io.StringIO()
    Display(progress, tty).tick()
    assert tty.getvalue().startswith("\r\033[K[0/2 claims] 5 examples")
    Display(progress, log).tick()
    assert log.getvalue() == ""  # no redraws when the output is not a terminal
