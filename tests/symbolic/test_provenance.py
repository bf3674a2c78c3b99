"""Every derive_* records whether SymPy derived it or checked a stated answer, and says so.

The classification lives in ``symbolic/_provenance.py``; ``docs/theory.md`` shows it as a
table, and these tests keep the code, the results' ``.provenance`` and the page in step.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import symbolic
from finetune_theory import InputError
from symbolic import _provenance, deep_linear, linear, relu_ntk
from symbolic._provenance import PROVENANCE, Provenance, provenance_of, provenance_parts

MODULES: tuple[ModuleType, ...] = (linear, deep_linear, relu_ntk)
THEORY = Path(__file__).resolve().parents[2] / "docs" / "theory.md"


def _derivations() -> dict[str, Callable[..., object]]:
    """Public derive_* callables of the three modules (the cached wrappers are not plain
    functions, so discover them as callables defined in the module and listed in __all__)."""
    found: dict[str, Callable[..., object]] = {}
    for mod in MODULES:
        for name, obj in inspect.getmembers(mod, callable):
            if (
                name.startswith("derive_")
                and name in mod.__all__
                and getattr(obj, "__module__", None) == mod.__name__
            ):
                assert name not in found, f"{name} is defined in two modules"
                found[name] = obj
    return found


DERIVATIONS = _derivations()
NAMES = sorted(DERIVATIONS)


def test_discovery_finds_the_derivations() -> None:
    assert len(NAMES) >= 16
    for mod in MODULES:
        assert any(DERIVATIONS[n].__module__ == mod.__name__ for n in NAMES), mod.__name__


@pytest.mark.parametrize("name", NAMES)
def test_every_derivation_has_a_provenance(name: str) -> None:
    prov = provenance_of(name)
    assert isinstance(prov, Provenance)
    assert prov.kind in ("derived", "checked")
    assert prov.summary.strip()
    if prov.kind == "checked":
        assert prov.source.strip(), f"{name} is 'checked' but cites no source"
    assert provenance_of(DERIVATIONS[name]) is prov
    assert provenance_of(f"{DERIVATIONS[name].__module__}.{name}") is prov


def test_no_stale_entries() -> None:
    functions = {key.split(".")[0] for key in PROVENANCE}
    assert functions == set(NAMES)


def test_every_part_is_well_formed() -> None:
    for key, prov in PROVENANCE.items():
        assert prov.kind in ("derived", "checked"), key
        if prov.kind == "checked":
            assert prov.source.strip(), f"{key} is 'checked' but cites no source"


def test_a_mixed_derivation_is_checked_and_has_a_checked_part() -> None:
    """Function-level kind is the weakest link: 'checked' as soon as any part is stated."""
    for name in NAMES:
        parts = provenance_parts(name)
        if any(p.kind == "checked" for p in parts.values()):
            assert provenance_of(name).kind == "checked", name
        if parts:
            assert {p.kind for p in parts.values()} == {"derived", "checked"}, name


# Audit findings the classification must keep: these answers are typed in, not derived.
STATED = {
    "derive_min_distance_interpolant_matrix": "Shachaf",  # λ*, θ* of L1
    "derive_asymptotic_isotropic": "Hastie, Montanari, Rosset & Tibshirani",  # L4
    "derive_two_level_fixed_point": "Hastie, Montanari, Rosset & Tibshirani",  # L4
    "derive_finetuned_predictor": "Arora, Du, Hu, Li & Wang",  # √(2Q/n) of K3
    "derive_implicit_bias": "Arora, Cohen & Hazan",  # D3's ODE coefficients, from D1
    "derive_end_to_end_dynamics": "Arora, Cohen & Hazan",  # D1's preconditioner
}


@pytest.mark.parametrize("name", sorted(STATED))
def test_audited_results_are_checked_with_their_source(name: str) -> None:
    prov = provenance_of(name)
    assert prov.kind == "checked"
    assert STATED[name] in prov.source


def test_audited_parts() -> None:
    assert provenance_of("derive_finetuned_predictor.generalization_term").kind == "checked"
    assert "Theorem 5.1" in provenance_of("derive_finetuned_predictor.generalization_term").source
    assert provenance_of("derive_implicit_bias.norm_odes").kind == "checked"
    assert provenance_of("derive_asymptotic_isotropic.bias").kind == "checked"
    assert provenance_of("derive_asymptotic_isotropic.c0").kind == "derived"


# All derivations are cached and each takes under about a second on first call (measured:
# derive_implicit_bias ≈ 0.9 s is the slowest), so calling every one of them is cheap.
@pytest.mark.parametrize("name", NAMES)
def test_result_exposes_its_provenance(name: str) -> None:
    result: Any = DERIVATIONS[name]()
    if isinstance(result, tuple):  # derive_two_level_fixed_point: use provenance_of
        assert not hasattr(result, "provenance")
        assert provenance_of(name).kind == "checked"
        return
    assert result.provenance is provenance_of(name)
    assert dataclasses.is_dataclass(result)
    fields = {f.name for f in dataclasses.fields(result)}
    parts = provenance_parts(name)
    assert set(parts) <= fields, set(parts) - fields


def test_provenance_validates_itself() -> None:
    with pytest.raises(InputError, match="source"):
        Provenance("checked", "a typed answer, verified")
    with pytest.raises(InputError, match="kind"):
        Provenance("guessed", "no such kind")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="summary"):
        Provenance("derived", "  ")
    prov = Provenance("derived", "solve")
    with pytest.raises(dataclasses.FrozenInstanceError):
        prov.kind = "checked"  # type: ignore[misc]


def test_unknown_names_raise_a_named_error() -> None:
    with pytest.raises(InputError, match="derive_gradient_descent"):
        provenance_of("derive_nothing")
    with pytest.raises(InputError, match="name_or_function"):
        provenance_of(42)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        provenance_parts("derive_nothing")
    with pytest.raises(TypeError):
        PROVENANCE["derive_x"] = Provenance("derived", "x")  # type: ignore[index]


def test_public_api() -> None:
    assert symbolic.provenance_of is provenance_of
    assert symbolic.provenance_parts is provenance_parts
    assert symbolic.Provenance is Provenance
    assert {"Provenance", "provenance_of", "provenance_parts"} <= set(symbolic.__all__)
    assert set(_provenance.__all__) >= {"Provenance", "provenance_of", "provenance_parts"}


# ------------------------------------------------------------------------ docs/theory.md


def _table_rows(text: str, pattern: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for match in re.finditer(pattern, text, flags=re.MULTILINE):
        key, kind = match.group(1), match.group(2)
        assert key not in rows, f"{key} listed twice in docs/theory.md"
        rows[key] = kind
    return rows


def test_theory_page_lists_every_derivation_with_its_kind() -> None:
    text = THEORY.read_text(encoding="utf-8")
    rows = _table_rows(text, r"^\| `(derive_\w+)` \| [^|]+ \| \*?\*?(derived|checked)\*?\*? \|")
    assert rows == {name: provenance_of(name).kind for name in NAMES}


def test_theory_page_lists_every_part_with_its_kind() -> None:
    text = THEORY.read_text(encoding="utf-8")
    rows = _table_rows(text, r"^\| `(derive_\w+\.\w+)` \| \*?\*?(derived|checked)\*?\*? \|")
    want = {key: prov.kind for key, prov in PROVENANCE.items() if "." in key}
    assert rows == want


def test_theory_page_references_nothing_outside_the_repository() -> None:
    text = THEORY.read_text(encoding="utf-8")
    assert "/work" not in text and "THEORY.md" not in text and "../" not in text
