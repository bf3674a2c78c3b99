"""A citable release: one version string everywhere, LICENSE, CITATION.cff and CHANGELOG.md
in step with it."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

import finetune_theory
import numeric
import symbolic
import verify
from verify import cli

ROOT = Path(__file__).resolve().parents[1]
VERSION = finetune_theory.__version__


def test_one_version_string_for_every_package_and_the_distribution() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert symbolic.__version__ == numeric.__version__ == verify.__version__ == VERSION
    assert importlib.metadata.version("finetune-theory") == VERSION
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"]  # read from finetune_theory.__version__


def test_verify_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"finetune-theory {VERSION}"


def test_license_is_the_one_pyproject_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_citation_names_this_version_and_the_paper() -> None:
    text = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", text, re.M)
    assert re.search(rf"^version: {re.escape(VERSION)}$", text, re.M)
    assert "A Theoretical Analysis of Fine-tuning with Linear Teachers" in text
    assert "2107.01641" in text
    for author in ("Shachaf", "Brutzkus", "Globerson"):
        assert f"family-names: {author}" in text


def test_changelog_has_a_section_for_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(VERSION)} \(\d{{4}}-\d{{2}}-\d{{2}}\)$", text, re.M)
    assert "### Deprecated" in text
