"""The mutant catalogue and ``python -m verify power`` (a CI subset; the whole catalogue is
the slow ``power`` run)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from verify import cli, power
from verify.mutants import MUTABLE_PACKAGES, Mutant, catalogue

ROOT = Path(__file__).resolve().parents[2]
#: The modules holding the formulas and trainers: each must have mutants in the catalogue.
FORMULA_MODULES = (
    "symbolic.linear",
    "symbolic.deep_linear",
    "symbolic.relu_ntk",
    "numeric.linear",
    "numeric.deep_linear",
    "numeric._deep_flow",
    "numeric.relu_ntk",
    "numeric.data",
)


def test_catalogue_is_large_unique_and_covers_every_formula_module() -> None:
    mutants = catalogue()
    assert len(mutants) >= 40
    assert len({m.name for m in mutants}) == len(mutants)
    modules = {m.module for m in mutants}
    assert set(FORMULA_MODULES) <= modules
    assert all(m.path.split("/")[0] in MUTABLE_PACKAGES for m in mutants)


@pytest.mark.parametrize("mutant", catalogue(), ids=lambda m: m.name)
def test_every_mutant_applies_once_and_compiles(mutant: Mutant) -> None:
    source = (ROOT / mutant.path).read_text(encoding="utf-8")
    mutated = mutant.apply(source)
    assert mutated != source
    compile(mutated, mutant.path, "exec")
    assert mutant.description


def test_apply_refuses_missing_or_repeated_text() -> None:
    m = Mutant("x", "symbolic/linear.py", "qq", "b", "d")
    with pytest.raises(ValueError, match="exactly once"):
        m.apply("nothing to see")
    with pytest.raises(ValueError, match="exactly once"):
        m.apply("qq qq")


def _digest() -> str:
    h = hashlib.sha256()
    for package in MUTABLE_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            h.update(path.read_bytes())
    return h.hexdigest()


def test_a_mutant_is_killed_in_a_copy_and_the_installed_files_are_untouched() -> None:
    before = _digest()
    mutant = power.select_mutants(["K1-psi-arccos"])[0]
    result = power.run_mutant(mutant, ["K1-kernel-quadrature"], first_kill=True, timeout=300)
    assert result.status == "killed", result
    assert [k.claim for k in result.kills] == ["K1-kernel-quadrature"]
    baseline = power.run_mutant(None, ["K1-kernel-quadrature"], timeout=300)
    assert baseline.status == "survived", baseline  # the unmutated code passes
    assert _digest() == before


def test_power_cli_lists_and_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["power", "--list"]) == 0
    assert f"{len(catalogue())} mutants" in capsys.readouterr().out
    assert cli.main(["power", "no-such-mutant"]) == 2
    assert "no mutant matches" in capsys.readouterr().err


def test_kill_rates_and_document() -> None:
    a = Mutant("a", "symbolic/linear.py", "x", "y", "bug a")
    b = Mutant("b", "numeric/linear.py", "x", "y", "bug b", equivalent="never runs")
    results = [
        power.MutantResult(a, "killed", (power.Kill("L1-gd-limit", "note", 3),)),
        power.MutantResult(b, "survived"),
    ]
    doc = power.power_document(results, {"profile": "quick", "first_kill": True})
    assert doc["killed"] == 1 and doc["total"] == 2 and doc["kill_rate"] == 0.5
    assert doc["modules"]["numeric.linear"]["survivors"] == ["b"]
    text = power.format_markdown(doc)
    assert "equivalent: never runs" in text and "L1-gd-limit" in text
