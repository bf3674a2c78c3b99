"""The coverage map: ranges and histograms of the settings a run checked, in the report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from verify import cli, registry
from verify.coverage import CoverageMap, flatten_setting, sparkline, summarise


@dataclass(frozen=True)
class _Inner:
    d: int
    kind: str


@dataclass(frozen=True)
class _Outer:
    inner: _Inner
    scale: float
    flag: bool
    seed: int


def test_flatten_nests_names_and_skips_seeds() -> None:
    flat = flatten_setting(_Outer(_Inner(4, "spiked"), 0.5, True, 7))
    assert flat == {"inner.d": 4.0, "inner.kind": "spiked", "scale": 0.5, "flag": 1.0}


def test_summary_bins_numbers_linearly_or_logarithmically() -> None:
    lin = summarise([1.0, 2.0, 3.0, 10.0])
    assert (lin["min"], lin["max"], lin["scale"], sum(lin["counts"])) == (1.0, 10.0, "linear", 4)
    assert lin["counts"][0] == 1 and lin["counts"][-1] == 1
    log = summarise([1e-3, 1e-2, 1.0, 1e3, math.inf])
    assert log["scale"] == "log" and log["infinite"] == 1 and sum(log["counts"]) == 4
    assert log["edges"][0] == pytest.approx(1e-3) and log["edges"][-1] == pytest.approx(1e3)
    assert summarise([], {"a": 2, "b": 1}) == {"kind": "categorical", "counts": {"a": 2, "b": 1}}
    assert sparkline([0, 1, 4]) == " ▂█"


def test_map_accumulates_every_field() -> None:
    cov = CoverageMap()
    for d in (2, 5, 9):
        cov.add(flatten_setting(_Outer(_Inner(d, "iso"), 1.0, False, 0)))
    out = cov.summary()
    assert out["examples"] == 3
    assert out["fields"]["inner.d"]["min"] == 2.0 and out["fields"]["inner.d"]["max"] == 9.0
    assert out["fields"]["inner.kind"]["counts"] == {"iso": 3}


def test_report_records_and_draws_the_coverage_map(tmp_path: Path) -> None:
    assert (
        cli.main(
            [
                "L1-gd-trajectory",
                "--max-examples",
                "6",
                "--jobs",
                "1",
                "--report",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    doc = json.loads((tmp_path / "report.json").read_text())
    (claim,) = doc["claims"]
    fields = claim["coverage"]["fields"]
    assert claim["coverage"]["examples"] == 6
    assert fields["problem.d"]["count"] == 6 and fields["problem.d"]["min"] >= 1
    assert claim["domain"] == registry.get("L1-gd-trajectory").domain
    md = (tmp_path / "report.md").read_text()
    assert "| `problem.d` |" in md and "Searched domain:" in md
    assert (tmp_path / "report-coverage-L1-gd-trajectory.png").stat().st_size > 2_000


def test_every_claim_states_its_domain(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    for claim in registry.all_claims():
        assert claim.domain, claim.name
    assert out.count("searched domain:") == len(registry.all_claims())
