"""Figure infrastructure and the deep-linear figures at tiny size: files, numbers, agreement."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest

from verify import cli
from verify.figures import all_figures, plot, write_numbers

# Trained points come from RK4 flows (relative error in w ~1e-8), so the risks they give
# agree with the closed form to ~1e-6 relative (risk floor 1e-6 avoids dividing by ~0).
FLOW_RISK_RTOL = 1e-5


@pytest.mark.parametrize("name", ["depth", "rescale"])
def test_deep_linear_figure_numbers_and_files(name: str, tmp_path: Path) -> None:
    data = all_figures()[name].build("tiny")
    assert data.summary["max_rel_gap_training_vs_theory"] <= FLOW_RISK_RTOL
    paths = [*write_numbers(data, tmp_path), plot(data, tmp_path)]
    assert [p.name for p in paths] == [f"{name}.json", f"{name}.csv", f"{name}.png"]
    doc = json.loads(paths[0].read_text())
    kinds = {s["kind"] for panel in doc["panels"] for s in panel["series"]}
    assert kinds == {"theory", "training"}
    with paths[1].open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and set(rows[0]) == {"panel", "series", "kind", "x", "y", "yerr"}
    assert paths[2].stat().st_size > 10_000


def test_depth_figure_shows_depth_helping_a_scaled_target() -> None:
    data = all_figures()["depth"].build("tiny")
    series = {s.label: s for s in data.panels[0].series if s.kind == "theory"}
    scaled = series["alpha=2, eps=0"].y
    assert all(b < a for a, b in itertools.pairwise(scaled))  # D5: depth helps
    neutral = series["alpha=1, eps=0.3"].y
    assert max(neutral) - min(neutral) <= 0.1 * max(neutral)  # nearly depth-neutral


def test_figures_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["figures", "--list"]) == 0
    assert "depth:" in capsys.readouterr().out
    assert cli.main(["figures", "nope", "--out", str(tmp_path)]) == 2
    assert "valid names" in capsys.readouterr().err
    assert (
        cli.main(["figures", "rescale", "--size", "tiny", "--numbers-only", "--out", str(tmp_path)])
        == 0
    )
    assert (tmp_path / "rescale.json").exists() and not (tmp_path / "rescale.png").exists()
