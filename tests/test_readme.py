"""The README's Python example runs, and .ci/run runs the README's test command verbatim."""

from __future__ import annotations

import itertools
import math
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
    (python -m verify figures depth rescale --size full --out docs/figures, and similarity at
    the default quick size) at the current settings."""
    import json

    from verify.figures.deep_linear import SCALES
    from verify.figures.linear import SIM_PLANS

    for name in re.findall(r"\]\(docs/figures/([\w-]+)\.png\)", README):
        assert (ROOT / "docs" / "figures" / f"{name}.png").stat().st_size > 10_000
        doc = json.loads((ROOT / "docs" / "figures" / f"{name}.json").read_text())
        assert doc["name"] == name
        if name in ("depth", "rescale"):  # the paper's size: d = 1000, n = d/10
            full = SCALES["full"]
            assert (
                (doc["setting"]["d"], doc["setting"]["n"]) == (full.d, full.d // 10) == (1000, 100)
            )
            assert doc["setting"]["seeds"] == full.seeds >= 10
            assert doc["setting"]["hidden_width"] == full.width
            assert doc["summary"]["max_rel_gap_training_vs_theory"] <= FIGURE_RISK_RTOL
        if name == "depth":
            assert doc["setting"]["depths"] == [1, 2, 3, 5, 7, 10, 20]
        if name == "similarity":
            assert doc["setting"]["d"] == SIM_PLANS["quick"].d
            assert doc["summary"]["pearson_l4"] > doc["summary"]["pearson_plain"]


# The README says every trained point of Figure 2 is within 1e-9 of the closed form: the
# adaptive flow's w is within ~1e-10 of its limit (its error estimate, in the JSON), so the
# risk ‖w − θ_T‖² is within ~1e-10·‖w‖/‖w − θ_T‖ ≲ 1e-9 relative.
FIGURE_RISK_RTOL = 1e-9


def test_readme_states_the_figure_2_accuracy_it_has() -> None:
    import json

    text = " ".join(README.split())
    assert "sits on the closed-form curve of D3 to within 1e-9 relative" in text
    for name in ("depth", "rescale"):
        doc = json.loads((ROOT / "docs" / "figures" / f"{name}.json").read_text())
        assert doc["summary"]["max_rel_gap_training_vs_theory"] <= FIGURE_RISK_RTOL
        assert doc["summary"]["max_training_error_estimate"] <= FIGURE_RISK_RTOL


def test_readme_sentences_about_the_rescale_figure_match_its_numbers() -> None:
    """Figure 2b: the risk is smallest near κ = 1 (above its κ = 1 value for κ ≤ 1/2 and
    κ ≥ 2) and grows with κ beyond 1; away from κ = 1 (κ ≤ 1/2, κ ≥ 2) the 7-layer network
    is below linear regression; the κ = 8 numbers are the figure's."""
    import json

    doc = json.loads((ROOT / "docs" / "figures" / "rescale.json").read_text())
    text = " ".join(README.split())
    m = re.search(
        r"at κ = 8, (\d+) against (\d+) when θ_S is rescaled and (\d+) against (\d+) when θ_T is",
        text,
    )
    assert m, "the README's sentence on Figure 2b is gone"
    (panel,) = doc["panels"]
    quoted = iter(int(g) for g in m.groups())
    for which in (r"$\theta_S$", r"$\theta_T$"):
        label = f"rescale {which}"
        (deep,) = [s for s in panel["series"] if s["label"] == label and s["kind"] == "theory"]
        (flat,) = [s for s in panel["series"] if s["label"].startswith(f"{label} [$N = 1$")]
        assert deep["x"][-1] == 8.0
        assert (round(deep["y"][-1]), round(flat["y"][-1])) == (next(quoted), next(quoted))
        one = min(range(len(deep["x"])), key=lambda i: abs(math.log(deep["x"][i])))
        assert all(b > a for a, b in itertools.pairwise(deep["y"][one:])), "grows for κ > 1"
        far = [i for i, k in enumerate(deep["x"]) if k <= 0.5 or k >= 2.0]
        assert far and all(deep["y"][i] > deep["y"][one] for i in far), "smallest near 1"
        assert all(deep["y"][i] < flat["y"][i] for i in far), "deep below N = 1"


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
