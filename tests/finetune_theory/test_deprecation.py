"""Deprecated names warn one way, do what their replacement does, and are all in the CHANGELOG."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from finetune_theory import deprecation

ROOT = Path(__file__).resolve().parents[2]
MODULES = (
    "symbolic.linear",
    "symbolic.deep_linear",
    "symbolic.relu_ntk",
    "numeric.data",
    "numeric.linear",
    "numeric.deep_linear",
    "numeric.relu_ntk",
)


def _double(x: float) -> float:
    """Twice x."""
    return 2 * x


def test_alias_warns_names_the_replacement_and_delegates() -> None:
    old = deprecation.deprecated_alias(_double, "demo.twice", "demo.double")
    with pytest.warns(
        DeprecationWarning, match=r"demo\.twice is deprecated .* 0\.2\.0; use demo\.double"
    ):
        assert old(3.0) == 6.0
    assert old.__name__ == "twice"
    assert "Deprecated alias of ``demo.double``" in (old.__doc__ or "")


def test_module_getattr_serves_old_names_only() -> None:
    getattr_ = deprecation.module_getattr("demo", {"old": (lambda: 42, "demo.new")})
    with pytest.warns(DeprecationWarning, match="demo.old"):
        assert getattr_("old") == 42
    with pytest.raises(AttributeError, match="missing"):
        getattr_("missing")


def _deprecated_functions() -> list[str]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if inspect.isfunction(obj) and getattr(obj, "__deprecated__", None):
                found.append(f"{name}.{attr}")
    return found


def test_every_deprecated_function_is_in_the_changelog() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    deprecated_part = changelog.split("### Deprecated", 1)[1].split("\n## ", 1)[0]
    assert f"removed in {deprecation.REMOVED_IN}" in deprecated_part
    found = _deprecated_functions()
    assert found, "expected the deprecated aliases of this release"
    missing = [name for name in found if f"`{name}" not in deprecated_part]
    assert not missing, f"deprecated but not listed under ### Deprecated: {missing}"
