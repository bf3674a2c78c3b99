"""The README's Python example runs, and .ci/run runs the README's test command verbatim."""

from __future__ import annotations

import itertools
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


def _series(doc: dict[str, object], label: str) -> list[float]:
    """The y values of the first series of a figure's JSON whose label is exactly ``label``."""
    for panel in doc["panels"]:  # type: ignore[attr-defined]
        for series in panel["series"]:
            if series["label"] == label:
                return [float(v) for v in series["y"]]
    raise AssertionError(f"no series {label!r}")


def test_readme_sentences_about_the_depth_figure_match_its_numbers() -> None:
    """The numbers the README quotes for Figure 2a are the committed figure's, to the digits
    quoted (rounding to 3 decimals), and its claims about the curves hold in the data."""
    import json

    doc = json.loads((ROOT / "docs" / "figures" / "depth.json").read_text())
    text = " ".join(README.split())
    m = re.search(
        r"from (0\.\d+) at N = 1 to (0\.\d+) at N = (\d+), "
        r"toward its infinite-depth value (0\.\d+)",
        text,
    )
    assert m, "the README's sentence on the α = 1, ε = 0.3 curve is gone"
    curve = _series(doc, r"$\alpha$ = 1, $\varepsilon$ = 0.3")
    limit = _series(
        doc, r"$\alpha$ = 1, $\varepsilon$ = 0.3 [$N \to \infty$ limit of the theory line]"
    )
    depths = doc["setting"]["depths"]
    assert int(m.group(3)) == depths[-1]
    assert f"{curve[0]:.3f}" == m.group(1) and f"{curve[-1]:.3f}" == m.group(2)
    assert f"{limit[0]:.3f}" == m.group(4)
    assert all(b >= a for a, b in itertools.pairwise(curve)), "it 'rises slowly'"
    for alpha in ("2", "0.5"):  # "falls steadily with depth towards ... here 0"
        falling = _series(doc, rf"$\alpha$ = {alpha}, $\varepsilon$ = 0")
        assert all(b < a for a, b in itertools.pairwise(falling)), alpha
        assert doc["summary"]["infinite_depth_risk"][f"alpha={alpha}, eps=0"] < 1e-12
