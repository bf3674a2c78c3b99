"""The worked examples in examples/ run to the end, open as notebooks and are all listed.

Each example is a jupytext percent-format script whose last cell asserts what it shows, so
running it as a script is a check of its statements. It runs in a fresh interpreter in an
empty temporary folder (nothing may depend on, or be written to, the working directory)
with warnings as errors, as the rest of the suite (``filterwarnings = error``): an example
calling a deprecated name fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("[0-9][0-9]_*.py"))
#: The issue's limit for one example; they take 4-7 s on the 2-core reference machine.
TIMEOUT_S = 60
#: The four topics every release must keep an example for (issue 12, item 3).
REQUIRED = {
    "01_": "fine-tuned linear regression and the similarity measure",
    "02_": "depth and the implicit bias",
    "03_": "the ReLU NTK kernel and the K3 predictor",
    "04_": "your own claim with the verifier's machinery",
}


def test_the_four_examples_exist() -> None:
    names = [p.name for p in SCRIPTS]
    missing = [
        topic for prefix, topic in REQUIRED.items() if not any(n.startswith(prefix) for n in names)
    ]
    assert not missing, f"no example for {missing} in {names}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_runs_as_a_script(script: Path, tmp_path: Path) -> None:
    # One BLAS thread: the suite runs on every core already (pytest -n auto), and the
    # examples' small matrix products run faster single-threaded (relu_ntk: 3 s, not 6 s).
    threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env = {**os.environ, **threads, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    try:
        proc = subprocess.run(
            [sys.executable, "-W", "error", str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        pytest.fail(f"{script.name} did not finish within {TIMEOUT_S} s; output so far:\n{out}")
    assert proc.returncode == 0, (
        f"{script.name} exited {proc.returncode}\n--- stdout ---\n{proc.stdout}"
        f"\n--- stderr ---\n{proc.stderr}"
    )
    assert proc.stdout.rstrip().endswith("all checks passed"), proc.stdout
    assert list(tmp_path.iterdir()) == [], "an example wrote into its working directory"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_opens_as_a_notebook(script: Path) -> None:
    import jupytext  # type: ignore[import-untyped]  # a test requirement (the examples must open as notebooks)
    import nbformat

    notebook = jupytext.read(script)
    nbformat.validate(notebook)
    cells = notebook.cells
    assert cells[0].cell_type == "markdown", "the first cell must say what the example shows"
    assert re.search(r"docs/theory\.md", cells[0].source), "the first cell must cite the theory"
    assert sum(c.cell_type == "code" for c in cells) >= 2
    assert "assert" in cells[-1].source, "the last cell must assert what the example shows"


def test_every_example_is_listed_in_the_readme() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    unlisted = [p.name for p in SCRIPTS if f"`{p.name}`" not in readme]
    assert not unlisted, f"examples/README.md does not list {unlisted}"
    listed = set(re.findall(r"`(\d\d_\w+\.py)`", readme))
    assert listed <= {p.name for p in SCRIPTS}, listed - {p.name for p in SCRIPTS}
