"""The README's Python example runs, and .ci/run runs the README's test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_python_examples_run(capsys: object) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"^(python3 -m venv .*)$", README, flags=re.M)
    assert len(commands) == 2, commands
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_figures_are_committed_with_their_numbers() -> None:
    """The PNGs the README shows exist, with the numbers behind them from the same command
    (python -m verify figures depth similarity --out docs/figures) at the current settings."""
    import json

    from verify.figures.deep_linear import SCALES
    from verify.figures.linear import SIM_PLANS

    for name in re.findall(r"\]\(docs/figures/([\w-]+)\.png\)", README):
        assert (ROOT / "docs" / "figures" / f"{name}.png").stat().st_size > 10_000
        doc = json.loads((ROOT / "docs" / "figures" / f"{name}.json").read_text())
        assert doc["name"] == name
        if name == "depth":
            assert doc["setting"]["d"] == SCALES["quick"].d
            assert doc["summary"]["max_rel_gap_training_vs_theory"] <= 1e-5
        if name == "similarity":
            assert doc["setting"]["d"] == SIM_PLANS["quick"].d
            assert doc["summary"]["pearson_l4"] > doc["summary"]["pearson_plain"]
