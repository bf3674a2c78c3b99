"""Figure infrastructure and the deep-linear figures at tiny size: files, numbers, agreement;
the figures command's partial success (every buildable figure written as soon as it is built,
a missing extra named with its install command), progress lines and atomic PNGs."""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

import verify.figures as figures_module
from verify import cli
from verify.figures import (
    FigureData,
    FigureSpec,
    MissingExtraError,
    Panel,
    Series,
    all_figures,
    install_command,
    missing_extra,
    plot,
    write_numbers,
)

# Trained points come from the adaptive flow at tol 1e-10 (relative error in w ≲ 1e-10, its
# own estimate), so their risks ‖w − θ_T‖² agree with the closed form to ~1e-9 relative
# times ‖w‖/‖w − θ_T‖ (≤ ~30 here); 1e-6 leaves room (risk floor 1e-6 avoids dividing by ~0).
FLOW_RISK_RTOL = 1e-6


@pytest.mark.parametrize("name", ["depth", "rescale"])
def test_deep_linear_figure_numbers_and_files(name: str, tmp_path: Path) -> None:
    data = all_figures()[name].build("tiny")
    assert data.summary["max_rel_gap_training_vs_theory"] <= FLOW_RISK_RTOL
    paths = [*write_numbers(data, tmp_path), plot(data, tmp_path)]
    assert [p.name for p in paths] == [f"{name}.json", f"{name}.csv", f"{name}.png"]
    doc = json.loads(paths[0].read_text())
    kinds = {s["kind"] for panel in doc["panels"] for s in panel["series"]}
    assert kinds == {"theory", "training"}
    with paths[1].open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and set(rows[0]) == {"panel", "series", "kind", "x", "y", "yerr", "lower", "upper"}
    assert paths[2].stat().st_size > 10_000


def test_depth_figure_shows_depth_helping_a_scaled_target() -> None:
    data = all_figures()["depth"].build("tiny")
    series = {s.label: s for p in data.panels for s in p.series if s.kind == "theory"}
    scaled = series[r"$\alpha$ = 2, $\varepsilon$ = 0"].y
    assert all(b < a for a, b in itertools.pairwise(scaled))  # D5: depth helps
    neutral = series[r"$\alpha$ = 1, $\varepsilon$ = 0.3"].y
    assert max(neutral) - min(neutral) <= 0.1 * max(neutral)  # flat-ish, not neutral (θ_T ≠ θ_S)


def test_figures_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["figures", "--list"]) == 0
    assert "depth:" in capsys.readouterr().out
    assert cli.main(["figures", "nope", "--out", str(tmp_path)]) == 2
    assert "valid names" in capsys.readouterr().err
    assert (
        cli.main(["figures", "rescale", "--size", "tiny", "--numbers-only", "--out", str(tmp_path)])
        == 0
    )
    assert (tmp_path / "rescale.json").exists() and not (tmp_path / "rescale.png").exists()


# --------------------------------------------------------------------------------------
# Partial success: every figure that can be built is written, as soon as it is built
# --------------------------------------------------------------------------------------


def _tiny_figure(name: str) -> FigureData:
    series = Series("s", "theory", [1.0, 2.0], [3.0, 4.0])
    return FigureData(name, f"{name} title", [Panel("p", "x", "y", [series])], {"d": 1})


def _register(monkeypatch: pytest.MonkeyPatch, name: str, build: Any) -> None:
    monkeypatch.setitem(figures_module._REGISTRY, name, FigureSpec(name, "test figure", build))


def test_a_missing_extra_names_its_install_command_and_the_others_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_sklearn(size: str) -> FigureData:
        raise MissingExtraError("the realistic-data experiment needs scikit-learn", "data")

    _register(monkeypatch, "realistic", no_sklearn)
    _register(monkeypatch, "fake-a", lambda size: _tiny_figure("fake-a"))
    argv = ["figures", "fake-a", "realistic", "--size", "tiny", "--jobs", "1", "--out"]
    assert cli.main([*argv, str(tmp_path), "--no-progress"]) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and "figure realistic not built" in errors[0]
    assert 'pip install ".[data]"' in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-a.csv", "fake-a.json", "fake-a.png"]
    assert "1/2 figure(s) written" in captured.out


def test_the_real_missing_scikit_learn_is_a_missing_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    real_import = builtins.__import__

    def fake(mod: str, *args: object, **kwargs: object) -> object:
        if mod.startswith("sklearn"):
            raise ModuleNotFoundError("No module named 'sklearn'", name="sklearn")
        return real_import(mod, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake)
    argv = ["figures", "realistic", "--size", "tiny", "--numbers-only", "--jobs", "1"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "figure realistic not built: needs the 'data' extra" in err
    assert 'pip install ".[data]"' in err


def test_each_figure_is_written_as_soon_as_it_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def second(size: str) -> FigureData:
        # The first figure's files are already on disk when the second is being built.
        assert (tmp_path / "fake-a.json").exists() and (tmp_path / "fake-a.csv").exists()
        raise RuntimeError("boom\nsecond line")

    _register(monkeypatch, "fake-a", lambda size: _tiny_figure("fake-a"))
    _register(monkeypatch, "fake-b", second)
    _register(monkeypatch, "fake-c", lambda size: _tiny_figure("fake-c"))
    argv = ["figures", "fake-a", "fake-b", "fake-c", "--numbers-only", "--jobs", "1"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 1  # an error, not a missing extra
    err = capsys.readouterr().err.splitlines()
    assert "error: figure fake-b not built: RuntimeError: boom" in err
    assert [line for line in err if line.startswith("[")] == [
        line
        for line in err
        if re.fullmatch(r"\[[123]/3 figures\] fake-[abc] (done|not built) in \d+\.\ds", line)
    ]
    assert len([line for line in err if line.startswith("[")]) == 3
    assert (tmp_path / "fake-c.json").exists()


def test_figures_progress_can_be_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _register(monkeypatch, "fake-a", lambda size: _tiny_figure("fake-a"))
    argv = ["figures", "fake-a", "--numbers-only", "--jobs", "1", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert re.fullmatch(r"\[1/1 figures\] fake-a done in \d+\.\ds\n", capsys.readouterr().err)
    assert cli.main([*argv, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_plot_keeps_the_previous_png_when_saving_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    (tmp_path / "fake-a.png").write_bytes(b"previous")

    def half_written(self: Any, fname: Any, **kwargs: Any) -> None:
        Path(fname).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError, match="No space"):
        plot(_tiny_figure("fake-a"), tmp_path)
    assert (tmp_path / "fake-a.png").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-a.png"]


def test_install_commands_are_spelled_as_the_readme_installs_extras() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert install_command("plot") == 'pip install ".[plot]"' and install_command("plot") in readme
    assert str(MissingExtraError("needs scikit-learn", "data")) == (
        'needs scikit-learn: pip install ".[data]"'
    )
    wrapped = ImportError("needs scikit-learn: pip install 'finetune-theory[data]'")
    found = missing_extra(wrapped)
    assert found is not None and found.extra == "data"
    assert str(found) == 'needs scikit-learn: pip install ".[data]"'
    dask = missing_extra(ModuleNotFoundError("x", name="distributed"))
    assert dask is not None and dask.extra == "dask"
    assert missing_extra(ModuleNotFoundError("x", name="distributed.sub")) is None
    assert missing_extra(ImportError("something else")) is None


# --------------------------------------------------------------------------------------
# The shared style (issue 13, item 3): sizes, formats, one compact legend, mathtext
# --------------------------------------------------------------------------------------

#: savefig(bbox_inches="tight") crops to the drawn content plus savefig.pad_inches (0.1 in,
#: matplotlib's default) on each side: a PNG is at most (width + 2 * 0.1 in) * dpi wide.
TIGHT_PAD_IN = 0.1


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def assert_valid_files(paths: list[Path]) -> None:
    """PNG signature, PDF header and SVG that parses as XML with an <svg> root."""
    import xml.etree.ElementTree as ET

    for path in paths:
        data = path.read_bytes()
        if path.suffix == ".png":
            _png_size(path)
        elif path.suffix == ".pdf":
            assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
        else:
            assert path.suffix == ".svg"
            assert ET.fromstring(data).tag.endswith("svg")


def max_png_width(panels: int) -> float:
    from verify.figures import style

    return (style.figure_size(panels)[0] + 2 * TIGHT_PAD_IN) * style.PNG_DPI


def _panels_per_row(fig: Any) -> int:
    rows: dict[float, int] = {}
    for ax in fig.axes:
        if ax.get_visible() and ax.axison:
            y0 = round(ax.get_position().y0, 6)
            rows[y0] = rows.get(y0, 0) + 1
    return max(rows.values())


def _fake(panels: int, dashed: bool = False) -> FigureData:
    series = [
        Series("a", "theory", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
        Series("a", "training", [1.0, 2.0, 3.0], [1.1, 1.9, 3.0], [0.1, 0.1, 0.1]),
        Series("b", "training", [1.0, 2.0, 3.0], [2.0, 2.5, 2.9], None),
    ]
    if dashed:
        series.append(Series("b [limit]", "theory", [1.0, 3.0], [3.0, 3.0], style="dashed"))
    title = "a long title " * 12 + r"with $\|\theta_S-\theta_T\|^2$"
    return FigureData(
        "fake", title, [Panel(f"p{i}", "$N$", r"$\alpha$", series) for i in range(panels)], {}
    )


@pytest.mark.parametrize("name", ["depth", "freezing"])
def test_every_requested_format_is_written_and_valid(name: str, tmp_path: Path) -> None:
    from verify.figures import plot_files

    data = all_figures()[name].build("tiny")
    paths = plot_files(data, tmp_path, ("pdf", "svg", "png"))
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.pdf", f"{name}.svg"]
    assert_valid_files(paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    # One column wide for one panel, two columns for two.
    assert _png_size(paths[0])[0] <= max_png_width(len(data.panels))
    assert plot(data, tmp_path) == tmp_path / f"{name}.png"  # default: the PNG only


@pytest.mark.parametrize("panels", [1, 2, 3, 4, 5])
def test_sizes_and_panels_per_row(panels: int, tmp_path: Path) -> None:
    from verify.figures import draw, legends, plot_files, style

    width, _ = style.figure_size(panels)
    assert width == (style.SINGLE_COLUMN if panels == 1 else style.DOUBLE_COLUMN)
    assert style.grid_shape(panels)[1] == min(panels, 2)
    data = _fake(panels)
    with style.style():
        fig = draw(data)
        try:
            assert _panels_per_row(fig) <= 2
            assert len(legends(fig)) == 1
        finally:
            import matplotlib.pyplot as plt

            plt.close(fig)
    png = plot_files(data, tmp_path)[0]
    w, _ = _png_size(png)
    assert w <= max_png_width(panels)
    assert w >= 0.8 * width * style.PNG_DPI  # drawn at the style's size and dpi


@pytest.mark.parametrize("dashed", [False, True])
def test_one_compact_legend_colours_plus_style_key(dashed: bool) -> None:
    import matplotlib.pyplot as plt

    from verify.figures import draw, legends, style

    data = _fake(2, dashed)
    with style.style():
        fig = draw(data)
    try:
        (legend,) = legends(fig)
        texts = [t.get_text() for t in legend.get_texts()]
    finally:
        plt.close(fig)
    # Colours: one per base label ("a", "b"), not one per (series, kind) and panel;
    # style key: theory + training, plus the dashed series' tag.
    assert texts == ["a", "b", "theory", "training", *(["limit"] if dashed else [])]


def test_titles_are_wrapped_to_fit_and_keep_mathtext_whole() -> None:
    from verify.figures import style

    text = "a long title " * 12 + r"with $\|\theta_S-\theta_T\|^2$ and $N$"
    lines = style.wrap(text, style.DOUBLE_COLUMN, style.TITLE_PT).splitlines()
    limit = style.chars_per_line(style.DOUBLE_COLUMN, style.TITLE_PT)
    assert len(lines) >= 2 and all(style.visible_length(line) <= limit for line in lines)
    assert all(line.count("$") % 2 == 0 for line in lines)
    assert " ".join(lines) == " ".join(text.split())


def test_experiment_labels_are_mathtext_not_ascii() -> None:
    for name in ("depth", "rescale", "freezing"):
        data = all_figures()[name].build("tiny")
        text = " ".join(
            [data.title]
            + [t for p in data.panels for t in (p.title, p.xlabel, p.ylabel)]
            + [s.label for p in data.panels for s in p.series]
        )
        assert "$" in text
        ascii_math = r"(?<!\\)theta_|\|theta|(?<!\\)\bkappa\b|alpha=|\beps\b|(?<!\\)\binf\b"
        assert not re.search(ascii_math, text), name


def test_a_failed_vector_format_keeps_its_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    from verify.figures import plot_files

    (tmp_path / "fake-a.pdf").write_bytes(b"previous")
    real = Figure.savefig

    def no_pdf(self: Any, fname: Any, **kwargs: Any) -> None:
        if kwargs.get("format") == "pdf":
            Path(fname).write_bytes(b"%PDF half")
            raise OSError(28, "No space left on device")
        real(self, fname, **kwargs)

    monkeypatch.setattr(Figure, "savefig", no_pdf)
    with pytest.raises(OSError, match="No space"):
        plot_files(_tiny_figure("fake-a"), tmp_path, ("png", "pdf"))
    assert (tmp_path / "fake-a.pdf").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-a.pdf", "fake-a.png"]


def test_figures_cli_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["figures", "rescale", "--size", "tiny", "--jobs", "1", "--no-progress"]
    assert cli.main([*argv, "--format", "bogus", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--format" in err[0] and "png, pdf, svg" in err[0]
    assert list(tmp_path.iterdir()) == []  # nothing built
    assert cli.main([*argv, "--format", "svg,pdf", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"rescale.{ext}" for ext in ("csv", "json", "pdf", "png", "svg")]
    assert_valid_files([tmp_path / n for n in names if n.endswith(("png", "pdf", "svg"))])


@pytest.mark.parametrize(
    ("lo", "hi"), [(0.38, 3.3), (0.62, 1.2), (0.9, 1.1), (1.5, 9.0), (3e-3, 2e-2)]
)
def test_short_log_axes_get_ticks_that_stay_apart(lo: float, hi: float) -> None:
    from verify.figures import LOG_TICK_MIN_GAP, log_ticks

    ticks = log_ticks(lo, hi)
    assert len(ticks) >= 2 and all(lo <= t <= hi for t in ticks)
    span = math.log10(hi / lo)
    gaps = [math.log10(b / a) for a, b in itertools.pairwise(ticks)]
    assert min(gaps) >= LOG_TICK_MIN_GAP * span
