"""Architecture rules: symbolic and numeric never import each other; the core is light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imported_top_levels(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"), [("symbolic", "numeric"), ("numeric", "symbolic")]
)
def test_sides_do_not_import_each_other(package: str, forbidden: str) -> None:
    imported = _imported_top_levels(package)
    assert forbidden not in imported
    assert "verify" not in imported


FORBIDDEN_AT_IMPORT = {
    "symbolic": {"matplotlib", "torch", "jax", "hypothesis", "numeric"},
    "numeric": {"matplotlib", "torch", "jax", "hypothesis", "symbolic", "sympy"},
    "finetune_theory": {"matplotlib", "torch", "jax", "hypothesis", "symbolic", "numeric", "sympy"},
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN_AT_IMPORT))
def test_core_imports_without_heavy_extras(package: str) -> None:
    code = (
        f"import sys, {package}\n"
        f"heavy = {sorted(FORBIDDEN_AT_IMPORT[package])!r}\n"
        "loaded = set(heavy) & {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_subpackage_is_installed() -> None:
    """A regular (non-editable) install must ship every package, subpackages included."""
    import tomllib

    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = set(find_packages(where=str(ROOT), include=include))
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("finetune_theory", "symbolic", "numeric", "verify")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= shipped, on_disk - shipped
    assert "verify.figures" in shipped
    assert not any(name.startswith("tests") for name in shipped)
