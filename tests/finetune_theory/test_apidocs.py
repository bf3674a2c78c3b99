"""The API reference builds from the docstrings with no warning and no undocumented name."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from finetune_theory import apidocs


def test_reference_builds_strictly(tmp_path: Path) -> None:
    """The documented command, in strict mode: a page per module and nothing to complain of."""
    assert apidocs.main(["--out", str(tmp_path), "--strict"]) == 0
    assert (tmp_path / "index.html").is_file()
    for name in apidocs.MODULES:
        page = tmp_path / (name.replace(".", "/") + ".html")
        assert page.is_file(), f"no page for {name}"
    linear = (tmp_path / "symbolic" / "linear.html").read_text()
    assert "finetuned_weights" in linear and "θ_S + X⁺(y − Xθ_S)" in linear


def test_strict_mode_catches_an_undocumented_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check can fail: a public function without a docstring is reported by name."""
    (tmp_path / "undocumented_demo.py").write_text(
        textwrap.dedent(
            '''
            """A module."""

            def documented() -> int:
                """Has one."""
                return 1

            def bare() -> int:
                return 2
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert apidocs.undocumented(["undocumented_demo"]) == ["undocumented_demo.bare"]
    finally:
        sys.modules.pop("undocumented_demo", None)
