"""Every pointer to the theory goes to docs/theory.md, and every section it names exists.

Code, CLI output (claims' ``source``), figures and docs cite results as
``docs/theory.md §2`` (a numbered part) or ``docs/theory.md L3`` / ``D2-D3`` (a result or a
range of results); this test fails on a reference to a section that is not a heading of
docs/theory.md, and on any pointer to a theory file outside the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from verify import registry

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"

#: ``docs/theory.md`` followed by a section: §N, a result label, or a range of labels.
REFERENCE = re.compile(r"docs/theory\.md,?\s+(§\d+|[LDK]\d(?:\s*[-–]\s*[LDK]?\d)?)")


def _sections() -> set[str]:
    """ "§N" for each numbered part (## N. ...) and each result label (### L1 — ...)."""
    found: set[str] = set()
    for line in THEORY.read_text().splitlines():
        if m := re.match(r"## (\d+)\. ", line):
            found.add(f"§{m.group(1)}")
        if m := re.match(r"### ([LDK]\d) ", line):
            found.add(m.group(1))
    return found


def _expand(ref: str) -> list[str]:
    """ "L1-L3" -> [L1, L2, L3]; "D2-D3" -> [D2, D3]; anything else itself."""
    m = re.fullmatch(r"([LDK])(\d)\s*[-–]\s*[LDK]?(\d)", ref)
    if not m:
        return [ref]
    return [f"{m.group(1)}{i}" for i in range(int(m.group(2)), int(m.group(3)) + 1)]


def _project_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.cff"], cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode == 0 and out.stdout.strip():
        return [ROOT / p for p in out.stdout.split()]
    return [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts]


def test_theory_page_has_the_sections_the_project_cites() -> None:
    sections = _sections()
    assert {"§1", "§2", "§3", "L1", "D3", "K3"} <= sections
    dangling = []
    for path in _project_files():
        for ref in REFERENCE.findall(path.read_text(encoding="utf-8")):
            dangling += [
                f"{path.relative_to(ROOT)}: {s}" for s in _expand(ref) if s not in sections
            ]
    assert not dangling, f"references to missing sections of docs/theory.md: {dangling}"


def test_every_claim_source_points_at_a_section() -> None:
    sections = _sections()
    for claim in registry.all_claims():
        refs = REFERENCE.findall(claim.source)
        assert refs, f"{claim.name}: source {claim.source!r} cites no section of docs/theory.md"
        assert all(s in sections for r in refs for s in _expand(r)), claim.source


#: Tests that spell the old name only to assert its absence.
ABSENCE_CHECKS = {"tests/test_theory_references.py", "tests/symbolic/test_provenance.py"}


def test_no_pointer_to_a_theory_file_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _project_files()
        if str(path.relative_to(ROOT)) not in ABSENCE_CHECKS
        and re.search(r"(?<![/\w])THEORY\.md|\.\./shared", path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders


def _result_sections() -> dict[str, str]:
    """Result label (L1, ..., K3) -> the text of its ### section on the theory page."""
    text = THEORY.read_text()
    parts = re.split(r"^(?=#{2,3} )", text, flags=re.MULTILINE)
    found: dict[str, str] = {}
    for part in parts:
        if m := re.match(r"### ([LDK]\d) ", part):
            found[m.group(1)] = part
    return found


def test_every_claim_is_listed_under_the_results_it_checks() -> None:
    """Each claim's ``source`` labels name sections whose "Checked by" line lists the claim,
    and every name in a "Checked by" line is a real claim (no stale names)."""
    sections = _result_sections()
    names = {claim.name for claim in registry.all_claims()}
    missing = []
    for claim in registry.all_claims():
        labels = [s for ref in REFERENCE.findall(claim.source) for s in _expand(ref)]
        assert labels, f"{claim.name}: source {claim.source!r} names no result"
        for label in labels:
            checked = re.search(r"\*\*Checked by\.\*\* (.*)", sections[label])
            if checked is None or f"`{claim.name}`" not in checked.group(1):
                missing.append(f"{claim.name} under {label}")
    assert not missing, f"docs/theory.md 'Checked by' lines miss: {missing}"
    for label, part in sections.items():
        checked = re.search(r"\*\*Checked by\.\*\* (.*)", part)
        assert checked, f"docs/theory.md {label} has no 'Checked by' line"
        listed = set(re.findall(r"`([A-Z]\d?-[a-z0-9-]+)`", checked.group(1)))
        assert listed <= names, f"{label} lists unknown claims {sorted(listed - names)}"


def test_tolerance_table_matches_the_claims() -> None:
    """The tolerance table on the theory page has one row per claim with its tolerance name."""
    text = THEORY.read_text()
    table = text.split("## The tolerance model", 1)[1].split("\n## ", 1)[0]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([^`]+)` \| [^|]+ \| `([^`]+)` \|", table, re.MULTILINE)
    }
    expected = {claim.name: claim.tolerance.name for claim in registry.all_claims()}
    assert rows == expected
