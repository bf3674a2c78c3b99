"""``python -m verify derivations``: one page per requested derivation, exit codes 0/2, and the
committed docs/derivations/ pages equal what the command writes now (so they cannot rot)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from symbolic import _render
from verify import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "derivations"
REGENERATE = "python -m verify derivations --out docs/derivations"


def test_a_label_writes_each_of_its_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["derivations", "L3", "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["derive_expected_risk_isotropic.md", "derive_sample_complexity.md"]
    assert "2 page(s) written" in capsys.readouterr().out
    page = (tmp_path / "derive_expected_risk_isotropic.md").read_text(encoding="utf-8")
    assert page == _render.derivation_page("derive_expected_risk_isotropic")


@pytest.mark.parametrize("name", ["derive_frozen_layers", "frozen_layers"])
def test_a_function_name_writes_its_page(name: str, tmp_path: Path) -> None:
    assert cli.main(["derivations", name, "--out", str(tmp_path / "new" / "dir")]) == 0
    assert [p.name for p in (tmp_path / "new" / "dir").iterdir()] == ["derive_frozen_layers.md"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "no derivation named 'nope'"),
        (["L3", "D2"], "result D2 has no derive_* function"),
        (["L3"], "--out DIR is required"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = [] if "--out" in message else ["--out", str(tmp_path / "out")]
    assert cli.main(["derivations", *argv, *out]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()  # nothing is written


def test_out_that_is_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert cli.main(["derivations", "L1", "--out", str(target)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_help_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["derivations", "--help"]) == 0
    out = capsys.readouterr().out
    assert REGENERATE in out and "exit status" in out
    assert cli.main(["derivations", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in _render.SPECS)
    assert cli.main(["--help"]) == 0
    assert "derivations" in capsys.readouterr().out


def test_pages_link_existing_sections_of_the_theory_page() -> None:
    headings = {
        line[4:].strip()
        for line in (ROOT / "docs" / "theory.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("### ")
    }
    missing = set(_render.THEORY_HEADINGS.values()) - headings
    assert not missing, f"symbolic/_render.py THEORY_HEADINGS not in docs/theory.md: {missing}"
    assert (
        _render.anchor(_render.THEORY_HEADINGS["L3"])
        == "l3--expected-risk-for-isotropic-gaussian-inputs-exact-at-finite-n-and-d"
    )


def test_committed_pages_are_what_the_command_writes(tmp_path: Path) -> None:
    """Run the command as a user would (a fresh process, another hash seed: the output must
    not depend on set order) and compare every page with docs/derivations/."""
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run(
        [sys.executable, "-m", "verify", "derivations", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    fresh = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.md")}
    assert set(fresh) == {f"{name}.md" for name in _render.SPECS} | {"index.md"}
    committed = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}
    stale = sorted(
        name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name)
    )
    assert not stale, f"docs/derivations/ is stale ({', '.join(stale)}): run `{REGENERATE}`"
