"""Shared dashboard components: surface grid, spectrum, exports, view discovery."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

from app.components import export, spectrum, surface
from app.state import AppState
from app.views import ViewSpec, discover
from landscape import io as landscape_io
from landscape import problems


def himmelblau(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def test_surface_grid_matches_the_formula_on_the_view_box():
    problem = problems.get("himmelblau")
    grid = surface.surface_grid(problem, resolution=31)
    (x0, x1), (y0, y1) = problem.bounds
    assert grid.loss.dims == ("y", "x")
    assert grid.x.values[[0, -1]].tolist() == [x0, x1]
    assert grid.y.values[[0, -1]].tolist() == [y0, y1]
    gx, gy = np.meshgrid(grid.x.values, grid.y.values)
    np.testing.assert_allclose(grid.loss.values, himmelblau(gx, gy), rtol=1e-12)


def test_surface_grid_refuses_a_network():
    with pytest.raises(ValueError, match="not a 2-D surface"):
        surface.surface_grid(problems.get("mlp-moons"))


def test_shade_is_monotone_and_zero_at_the_minimum():
    loss = np.array([3.0, 1.0, 10.0, np.nan])
    shaded = surface.shade(loss)
    assert shaded[1] == 0.0
    np.testing.assert_allclose(shaded[:3], np.log1p([2.0, 0.0, 9.0]))
    assert np.isnan(shaded[3])


def test_spectrum_title_reports_the_index():
    element = spectrum.spectrum_element(np.array([-2.0, -1e-7, 1.0, 3.0]))
    assert element.opts.get().kwargs["title"].endswith("index = 0.25")


def _figure():
    problem = problems.get("himmelblau")
    grid = surface.surface_grid(problem, resolution=21)
    return surface.surface_element(grid) * surface.critical_points_element(problem)


@pytest.mark.parametrize(
    ("fmt", "magic"),
    [("png", b"\x89PNG\r\n\x1a\n"), ("svg", b"<svg"), ("pdf", b"%PDF-"), ("html", b"<!DOCTYPE html>")],
)
def test_figure_exports_write_valid_files(tmp_path, fmt, magic):
    path = tmp_path / f"figure.{fmt}"
    export.save_figure(_figure(), path)
    head = path.read_bytes()[:4096].lstrip()
    assert magic in head if fmt == "svg" else head.startswith(magic)
    if fmt == "html":  # standalone: the Bokeh library is inlined, no CDN needed
        text = path.read_text()
        assert "Bokeh" in text and "cdn.bokeh.org" not in text


def test_unknown_figure_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unsupported figure format"):
        export.save_figure(_figure(), tmp_path / "figure.bmp")


def test_dataset_bytes_round_trip_through_netcdf(tmp_path):
    ds = xr.Dataset({"loss": (("run", "step"), np.arange(6.0).reshape(2, 3))}, attrs={"kind": "optimizer-trajectories", "schema_version": 1})
    data = export.dataset_bytes(ds).getvalue()
    assert data.startswith(b"\x89HDF\r\n\x1a\n")
    path = tmp_path / "data.nc"
    path.write_bytes(data)
    xr.testing.assert_identical(landscape_io.load(path), ds)


def test_export_bar_is_disabled_until_a_result_exists():
    bar = export.ExportBar(figure=_figure, dataset=lambda: None)
    buttons = list(bar._buttons.values())
    assert all(button.disabled for button in buttons)
    bar.refresh("himmelblau_landscape")
    assert not any(button.disabled for button in buttons)
    assert bar._buttons["png"].filename == "himmelblau_landscape_figure.png"


def test_export_files_are_named_problem_view_kind_in_every_format():
    bar = export.ExportBar(figure=_figure, dataset=lambda: None)
    bar.refresh(export.export_stem("Custom: f(x, y)", "Critical Points"))
    names = {ext: button.filename for ext, button in bar._buttons.items()}
    assert names == {
        **{fmt: f"custom-f-x-y_critical-points_figure.{fmt}" for fmt in export.FIGURE_FORMATS},
        "nc": "custom-f-x-y_critical-points_data.nc",
    }


@pytest.mark.parametrize(("size", "panels"), [(export.PaperSize(), 1), (export.PaperSize(7.0, 2.0, 150), 2)])
def test_png_export_has_exactly_the_pixels_of_its_paper_size(size, panels):
    from PIL import Image

    figure = _figure() if panels == 1 else _figure() + _figure()
    png = Image.open(export.figure_bytes(figure, "png", size))
    assert png.size == (round(size.width_in * size.dpi), round(panels * size.panel_height_in * size.dpi))
    assert export.PaperSize().dpi >= 300 and export.PaperSize().width_in == 3.4  # a journal column, print dpi


def test_paper_size_out_of_range_is_refused():
    with pytest.raises(ValueError, match="dpi must be between 72 and 1200"):
        export.PaperSize(dpi=20)


def test_paper_legends_stay_inside_their_axes():
    import holoviews as hv

    x = np.linspace(0.0, 1.0, 30)
    curves = hv.Overlay([hv.Curve((x, x**k), "step", "loss", label=f"run {k}") for k in (1, 2, 3)])
    page = export.paper_page(curves + curves, export.PaperSize())
    page.canvas.draw()
    for axis in page.axes:
        legend = axis.get_legend()
        assert legend is not None
        outer, inner = axis.get_window_extent(), legend.get_window_extent()
        assert outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1


def test_figure_titles_describe_content_not_ui_actions():
    """Every title written in the figure modules names what is drawn, never what to click."""
    import ast
    from pathlib import Path

    instruction = re.compile(r"\b(click|tap|pick|press|launch|drag|hover)\w*\b", re.IGNORECASE)
    titles = []
    for path in sorted(Path(export.__file__).parents[1].glob("figures/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "title":
                titles.append(ast.unparse(node.value))
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "TITLES" for t in node.targets):
                titles.append(ast.unparse(node.value))
    assert len(titles) > 10
    assert [title for title in titles if instruction.search(title)] == []


def test_discover_finds_the_landscape_view_first():
    specs = discover()
    assert all(isinstance(spec, ViewSpec) for spec in specs)
    assert specs[0].key == "landscape"
    assert len({spec.key for spec in specs}) == len(specs)


def test_app_state_follows_the_picker():
    state = AppState(problem_name="booth")
    assert state.problem.name == "booth"
    state.problem_name = "himmelblau"
    assert state.problem.name == "himmelblau"


def test_glossary_defines_every_term_the_issue_names_with_its_source():
    from app.components import glossary
    from app.views.critical_points import CriticalPointsView
    from app.views.games import GamesView
    from app.views.ridge_rider import RidgeRiderView

    keys = ("index", "r", "r_H", "mis", "rho", "lyapunov", "fingerprint", "delta_break", "lr_e")
    card = glossary.glossary(keys)
    text = card[0].object
    for key in keys:
        term = glossary.TERMS[key]
        assert term.name in text and term.source in text and re.search(r"§|Def\.|eq\.|Algorithm|Ch\.", term.source)
    used = {key for view in (CriticalPointsView, GamesView, RidgeRiderView) for key in view.glossary_terms}
    assert used <= set(glossary.TERMS) and {"index", "r", "mis", "lyapunov", "rho"} <= used
    with pytest.raises(ValueError, match="no glossary term 'curvature'"):
        glossary.glossary(["curvature"])
