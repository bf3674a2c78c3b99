"""Where runs write: folders checked before any work, atomic files, one name set per run kind.

A bad output path (an existing file, a path below a file, a folder this process cannot
write) must cost nothing: every command exits 2 with one line on stderr before its work
function is called. Files are replaced atomically, so a failure while writing leaves the
previous file intact. Campaign, explore, figures and power outputs share a folder without
touching each other's files (the table in verify/outputs.py, checked here against what the
writers produce).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

import verify.outputs as outputs
from verify import cli
from verify.outputs import UsageError, atomic_path, atomic_write_text, prepare_output_dir
from verify.report import (
    PARTIAL_NOTICE,
    _explore_markdown,
    _markdown,
    explore_document,
    md_cell,
    md_row,
    report_document,
    run_metadata,
    validate_explore,
    validate_report,
    write_report,
)

# A cheap campaign (2 examples of a symbolic-identity claim, well under a second) and a
# cheap exploration (width at tiny size: three small ReLU networks, ~0.1 s).
CAMPAIGN = ["L1-gd-trajectory", "--max-examples", "2", "--jobs", "1", "--no-progress"]
EXPLORE = ["explore", "width", "--size", "tiny", "--no-progress"]


def _unwritable_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder this process cannot write: chmod 0o500, or, where that does not stop this
    process (root ignores the mode bits), the same refusal from the OS simulated at the
    probe file prepare_output_dir creates (a PermissionError, as a read-only folder gives)."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    if os.access(folder, os.W_OK):  # running as root: the mode does not bind

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    return folder


@pytest.fixture
def bad_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    return {
        "existing file": afile,
        "below a file": afile / "sub",
        "/dev/null/x": Path("/dev/null/x"),
        "unwritable": _unwritable_dir(tmp_path, monkeypatch) / "out",
    }


@pytest.mark.parametrize("kind", ["existing file", "below a file", "/dev/null/x", "unwritable"])
def test_prepare_output_dir_refuses_in_one_line(kind: str, bad_paths: dict[str, Path]) -> None:
    with pytest.raises(UsageError) as info:
        prepare_output_dir(bad_paths[kind], "--out")
    message = str(info.value)
    assert message.startswith(f"--out {bad_paths[kind]}") and "\n" not in message
    if kind == "unwritable":
        assert "cannot write there (Permission denied)" in message
        assert not bad_paths[kind].exists()  # no empty folder left behind


def test_prepare_output_dir_creates_nested_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert prepare_output_dir(target) == target and target.is_dir()
    assert list(target.iterdir()) == []  # the write probe is gone


def _forbid(name: str) -> Any:
    def called(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{name} ran although the output path is unusable")

    return called


@pytest.mark.parametrize("kind", ["existing file", "below a file", "/dev/null/x", "unwritable"])
@pytest.mark.parametrize("command", ["campaign", "explore", "figures", "power"])
def test_bad_output_path_exits_2_before_any_work(
    command: str,
    kind: str,
    bad_paths: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import verify.campaign
    import verify.explore
    import verify.figures
    import verify.power

    monkeypatch.setattr(verify.campaign, "run_campaign", _forbid("the campaign"))
    monkeypatch.setattr(verify.explore, "run_explorations", _forbid("the explorations"))
    monkeypatch.setattr(verify.power, "run_catalogue", _forbid("the mutant catalogue"))
    for spec in verify.figures.all_figures().values():
        monkeypatch.setitem(
            verify.figures._REGISTRY, spec.name, spec.__class__(spec.name, "", _forbid(spec.name))
        )
    path = str(bad_paths[kind])
    argv = {
        "campaign": [*CAMPAIGN, "--report", path],
        "explore": [*EXPLORE, "--report", path],
        "figures": ["figures", "depth", "--size", "tiny", "--numbers-only", "--out", path],
        "power": ["power", "L-", "--claims", "L1-gd-trajectory", "--report", path],
    }[command]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --") and path in err[0], err


def test_atomic_write_keeps_the_previous_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = atomic_write_text(tmp_path / "report.json", "old\n")
    assert target.read_text() == "old\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # not mkstemp's 0600

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_text(target, "new, and never complete\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temp left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_path_keeps_the_previous_png_when_saving_fails(tmp_path: Path) -> None:
    target = tmp_path / "depth.png"
    target.write_bytes(b"previous figure")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a fig")
        raise RuntimeError("savefig died")
    assert target.read_bytes() == b"previous figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["depth.png"]


def _doc(complete: bool = True, explore: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta = run_metadata("quick", 0, 1, None, ["L1"])
    return report_document(meta, [], explore, complete=complete)


def test_write_report_failure_leaves_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(_doc(), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    import verify.report

    def broken(*args: Any) -> str:
        raise RuntimeError("interrupted while rendering")

    monkeypatch.setattr(verify.report, "_markdown", broken)
    with pytest.raises(RuntimeError):
        write_report(_doc(complete=False), tmp_path)
    assert (tmp_path / "report.md").read_bytes() == before["report.md"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_complete_flag_in_schema_and_markdown() -> None:
    doc = _doc(complete=False)
    validate_report(doc)
    assert doc["complete"] is False and _doc()["complete"] is True
    assert PARTIAL_NOTICE in _markdown(doc, {}) and "partial report: interrupted" in PARTIAL_NOTICE
    assert PARTIAL_NOTICE not in _markdown(_doc(), {})
    del doc["complete"]
    with pytest.raises(ValueError, match=r"\$\.complete is missing"):
        validate_report(doc)
    with pytest.raises(ValueError, match="complete must be bool"):
        validate_report({**_doc(), "complete": "yes"})


def _table_rows(markdown: str) -> list[list[str]]:
    """Cells of every table row, split as GitHub does: on pipes not escaped by a backslash."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    return [re.split(r"(?<!\\)\|", row.strip())[1:-1] for row in rows]


def _curve(name: str = "imbalance") -> dict[str, Any]:
    return {
        "name": name,
        "title": "D3 without balance",
        "relaxed": "balanced initialisation",
        "xlabel": "relative imbalance",
        "ylabel": "relative gap |w_flow − w_D3| / |w_D3|",  # the real exploration's label
        "x": [0.01, 0.1],
        "y": [1e-4, float("nan")],
        "summary": "grows",
        "reference_y": None,
        "reference_label": None,
    }


def test_markdown_tables_escape_pipes() -> None:
    assert md_cell("|a| b") == r"\|a\| b" and md_cell("x\ny") == "x y"
    assert md_row("a|b", 1) == r"| a\|b | 1 |"
    campaign = _markdown(_doc(explore=[_curve()]), {})
    meta = {**run_metadata("explore", 0, 1, None, ["explore"]), "size": "tiny"}
    explore = _explore_markdown(explore_document(meta, [_curve()]), {})
    for text in (campaign, explore):
        header = "| relative imbalance | relative gap \\|w_flow − w_D3\\| / \\|w_D3\\| |"
        assert header in text
        # Every row of the curve's table has the header's 2 cells (the NaN point included).
        curve_rows = [c for c in _table_rows(text) if c and c[0].strip() in ("0.01", "0.1")]
        assert [len(c) for c in curve_rows] == [2, 2], curve_rows
        assert "| 0.1 | nan |" in text


def _referenced_files(md: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md.read_text())


def _snapshot(folder: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in names}


def _table_of_kinds() -> dict[str, list[str]]:
    """run kind -> file patterns, parsed from the table in verify/outputs.py's docstring."""
    kinds: dict[str, list[str]] = {}
    for line in (outputs.__doc__ or "").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and "``" in cells[1]:
            kinds[cells[0].split()[0]] = re.findall(r"``([^`]+)``", cells[1])
    return kinds


def _assert_in_its_row(kind: str, files: set[str]) -> None:
    """Each file matches a pattern of ``kind``'s row of the table and none of another
    row's (figures' ``NAME.*`` excepted: a figure may have any name but these)."""
    kinds = _table_of_kinds()
    assert set(kinds) == {"campaign", "explore", "figures", "power", "derivations"}

    def matches(name: str, k: str) -> bool:
        return any(fnmatch.fnmatch(name, p.replace("NAME", "*")) for p in kinds[k])

    for name in files:
        # figures' NAME.* and derivations' NAME.md (derive_*.md) stand for any name.
        others = [
            k for k in kinds if k not in (kind, "figures", "derivations") and matches(name, k)
        ]
        assert matches(name, kind) and not others, (kind, name, others)


def _run_into(folder: Path, kind: str, argv: list[str]) -> set[str]:
    """Run ``argv`` (exit 0); the files it wrote or replaced, checked against the table."""
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.exists() else {}
    assert cli.main(argv) == 0
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    written = {n for n, t in after.items() if before.get(n) != t}
    _assert_in_its_row(kind, written)
    return written


def test_campaign_and_explore_share_a_folder_in_either_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """campaign -> explore (the README's sequence): report.* and their PNGs untouched;
    then campaign again: explore.* and explore-*.png untouched (the reverse order)."""
    _run_into(tmp_path, "campaign", [*CAMPAIGN, "--report", str(tmp_path)])
    report = ("report.json", "report.md")
    before = _snapshot(tmp_path, report)
    pngs = _referenced_files(tmp_path / "report.md")
    assert pngs and all(p.startswith("report-") for p in pngs)
    stamps = _snapshot(tmp_path, tuple(pngs))
    written = _run_into(tmp_path, "explore", [*EXPLORE, "--report", str(tmp_path)])
    assert written == {"explore.json", "explore.md", "explore-width.png"}
    assert _snapshot(tmp_path, report) == before and _snapshot(tmp_path, tuple(pngs)) == stamps
    doc = json.loads((tmp_path / "explore.json").read_text())
    validate_explore(doc)
    assert [e["name"] for e in doc["explore"]] == ["width"] and doc["complete"] is True
    assert _referenced_files(tmp_path / "explore.md") == ["explore-width.png"]
    assert (tmp_path / "explore-width.png").stat().st_size > 5_000
    # The reverse: a campaign into a folder holding an exploration's files.
    explored = _snapshot(tmp_path, tuple(sorted(written)))
    again = _run_into(tmp_path, "campaign", [*CAMPAIGN, "--report", str(tmp_path)])
    assert set(report) < again and not again & written
    assert _snapshot(tmp_path, tuple(sorted(written))) == explored
    validate_report(json.loads((tmp_path / "report.json").read_text()))
    for md in ("report.md", "explore.md"):
        for png in _referenced_files(tmp_path / md):
            assert (tmp_path / png).stat().st_size > 2_000, png


def test_campaign_with_explore_keeps_the_curves_in_its_own_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m verify --explore --report DIR``: the curves inside report.json/report.md,
    their PNGs under the campaign's prefix (an explore run's explore-*.png are not touched)."""
    from verify.explore import explore_width

    calls: list[tuple[Any, ...]] = []

    def tiny(names: list[str], size: str, seed: int, *rest: Any) -> list[dict[str, Any]]:
        calls.append((names, size, seed))
        return [explore_width("tiny", seed)]

    monkeypatch.setattr(cli, "_explorations", tiny)
    (tmp_path / "explore-width.png").write_bytes(b"an explore run's figure")
    assert cli.main([*CAMPAIGN, "--explore", "--report", str(tmp_path)]) == 0
    assert calls == [([], "quick", 0)]
    doc = json.loads((tmp_path / "report.json").read_text())
    validate_report(doc)
    assert [e["name"] for e in doc["explore"]] == ["width"]
    md = (tmp_path / "report.md").read_text()
    assert "Where the theorems stop holding" in md
    assert "report-explore-width.png" in _referenced_files(tmp_path / "report.md")
    assert (tmp_path / "explore-width.png").read_bytes() == b"an explore run's figure"
    assert not (tmp_path / "explore.json").exists()


def test_figures_and_power_write_only_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rest of the table (campaign and explore are checked above): a figure's three
    files, and power's two (its catalogue run replaced by an empty one: a real mutant run
    is out of this test's budget; the files are written by the CLI either way)."""
    import verify.power

    figures = ["figures", "relu-ntk-width", "--size", "tiny", "--jobs", "1", "--no-progress"]
    written = _run_into(tmp_path, "figures", [*figures, "--out", str(tmp_path)])
    assert written == {"relu-ntk-width.json", "relu-ntk-width.csv", "relu-ntk-width.png"}
    monkeypatch.setattr(verify.power, "run_catalogue", lambda *a, **k: [])
    power = ["power", "L-", "--claims", "L1-gd-trajectory", "--report", str(tmp_path)]
    assert _run_into(tmp_path, "power", power) == {"power.json", "power.md"}
