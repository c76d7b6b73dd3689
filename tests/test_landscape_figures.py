"""The Landscape view's pure figures (app.figures.landscape, app.components.surface) against their data."""

from __future__ import annotations

import holoviews as hv
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from app.components import export
from app.components.spectrum import density_element
from app.components.surface import SHADE, shade, surface_element
from app.figures import landscape as fig
from app.views.landscape.spectra import density_at
from landscape import grids, problems, slices, trajectories
from landscape.problems import Problem

from .drawn import curve_data, curves_of, split_runs

bokeh = hv.renderer("bokeh")


@pytest.fixture(scope="module")
def history():
    """Two launches on six-hump camel (its minimum is negative): GD, then GD and Adam."""
    problem = problems.get("six-hump-camel")
    starts = np.array([[0.5, 0.5], [-1.0, 0.8]])
    first = trajectories.run_trajectories(problem, starts, [("gd", {"lr": 0.02})], steps=40, chunk=20)
    second = trajectories.run_trajectories(problem, starts, [("gd", {"lr": 0.05}), ("adam", None)], steps=60, chunk=30)
    return [first, second]


def plot_ranges(element):
    state = bokeh.get_plot(element).state
    return (state.x_range.start, state.x_range.end), (state.y_range.start, state.y_range.end)


@pytest.mark.parametrize("variable", ["loss", "grad_norm"])
def test_curves_are_the_results_values_and_in_view(history, variable):
    overlay = fig.curves_element(history, variable)
    expected = [(r.step.values, r[variable].values[run]) for r in history for run in range(r.sizes["run"])]
    drawn = curve_data(overlay)
    assert len(drawn) == 2 + 4
    for (steps, values), (want_steps, want) in zip(drawn, expected):
        np.testing.assert_array_equal(steps, want_steps)
        np.testing.assert_array_equal(values, want)
    (x0, x1), (y0, y1) = plot_ranges(overlay)
    every = np.concatenate([values for _, values in drawn])
    assert x0 <= 0 and x1 >= 60 and y0 <= every.min() and y1 >= every.max()
    # one curve per optimizer and launch age: the newest launch solid, earlier ones dashed; colour =
    # optimizer; the hover names each run
    styles = [hv.Store.lookup_options("bokeh", curve, "style").kwargs for curve in curves_of(overlay)]
    assert [s["line_dash"] for s in styles] == ["dashed", "solid", "solid"]
    assert styles[-1]["color"] == fig.OPTIMIZER_COLORS["adam"]
    labels = [label for curve in curves_of(overlay) for *_, label in split_runs(curve)]
    assert labels[0] == "#1 gd lr=0.02 (start 0)" and labels[-1] == "#2 adam lr=0.01 (start 1)"


def test_exported_history_has_a_legend_inside_each_panel(history):
    page = export.paper_page(fig.history_figure(history), export.PaperSize())
    for axis in page.axes:
        assert [text.get_text() for text in axis.get_legend().get_texts()] == ["gd, earlier", "gd", "adam"]


def test_log_loss_axis_shows_the_gap_to_the_minimum_when_losses_go_negative(history):
    loss = np.concatenate([r.loss.values.ravel() for r in history])
    assert loss.min() < 0
    overlay = fig.curves_element(history, "loss", log=True)
    first_steps, first_values = curve_data(overlay)[0]
    gap = history[0].loss.values[0] - loss.min()
    np.testing.assert_allclose(first_values, gap[gap > 0])
    assert curves_of(overlay)[0].get_dimension("value").label == "L − min L"
    (_, _), (y0, y1) = plot_ranges(overlay)
    every = np.concatenate([values for _, values in curve_data(overlay)])
    assert every.min() > 0 and y0 <= every.min() and y1 >= every.max()


def test_accuracy_panel_for_classifier_runs():
    steps = np.arange(5)
    result = xr.Dataset(
        {"train_accuracy": (("run", "step"), [[0.5, 0.6, 0.7, 0.8, 0.9]]),
         "test_accuracy": (("run", "step"), [[0.4, 0.5, 0.5, 0.6, 0.7]]),
         "loss": (("run", "step"), np.ones((1, 5))), "grad_norm": (("run", "step"), np.ones((1, 5)))},
        coords={"step": steps, "optimizer": ("run", ["gd"]), "label": ("run", ["gd"]), "start": ("run", [0])},
    )  # fmt: skip
    assert fig.curve_variables([result]) == ["loss", "grad_norm", "accuracy"]
    (_, train), (_, test) = curve_data(fig.curves_element([result], "accuracy"))
    np.testing.assert_array_equal(train, result.train_accuracy.values[0])
    np.testing.assert_array_equal(test, result.test_accuracy.values[0])
    assert len(fig.history_figure([result])) == 3


def test_run_table_rows_follow_the_summaries(history):
    table = fig.run_table(history, 1e-2)
    assert len(table) == 6 and list(table["#"]) == [1, 1, 2, 2, 2, 2]
    assert list(table["optimizer"]) == ["gd", "gd", "gd", "gd", "adam", "adam"]
    summary = trajectories.run_summary(history[1], 1e-2)
    np.testing.assert_array_equal(table["final loss"].values[2:], summary.final_loss.values)
    np.testing.assert_array_equal(table["steps to ‖∇L‖ ≤ 0.01"].values[2:], summary.steps_to_tolerance.values)
    assert table["hyperparameters"].values[0] == "lr=0.02"
    assert fig.run_table([], 1e-2).empty


def test_interpolation_is_the_loss_on_the_segment():
    problem = problems.get("himmelblau")
    start, end = np.array([0.0, 0.0]), np.array([3.0, 2.0])
    alpha = np.linspace(-0.5, 1.5, 21)
    line = slices.slice_loss(problem, start, (end - start)[None], alpha)
    curve = fig.interpolation_element(line).Curve.I
    expected = [float(problem.loss(jnp.asarray(start + a * (end - start)))) for a in alpha]
    np.testing.assert_allclose(curve.dimension_values("loss"), expected, rtol=1e-6)
    ends = fig.interpolation_element(line).Points.I.dimension_values("loss")
    np.testing.assert_allclose(ends, [expected[5], 0.0], atol=1e-6)  # θ₁ = (3, 2) is a minimum
    (x0, x1), (y0, y1) = plot_ranges(fig.interpolation_element(line))
    assert x0 <= -0.5 and x1 >= 1.5 and y0 <= min(expected) and y1 >= max(expected)


def test_surface_colour_scale_and_contour_levels():
    grid = grids.surface(problems.get("himmelblau"), 21)
    loss = grid.loss.values
    log = surface_element(grid)
    np.testing.assert_allclose(np.sort(log.Image.I.dimension_values("shade")), np.sort(shade(loss).ravel()))
    assert log.Image.I.get_dimension("shade").label == SHADE
    linear = surface_element(grid, levels=5, scale="linear")
    np.testing.assert_allclose(np.sort(linear.Image.I.dimension_values("shade")), np.sort(loss.ravel()))
    assert len(linear.Contours.I.data) >= 1
    assert len(surface_element(grid, levels=0).Contours.I.data) == 0
    with pytest.raises(ValueError, match="unknown colour scale 'cubic'; choose from log, linear"):
        surface_element(grid, scale="cubic")


def test_density_and_trace_of_a_diagonal_hessian():
    """L = ½ Σ dᵢ θᵢ²: Hutchinson's zᵀ diag(d) z = Σ dᵢ exactly for signs z; SLQ's density is a
    probability density with its mass at the dᵢ."""
    d = np.array([-2.0, -0.5, 0.5, 1.0, 3.0, 4.0])
    problem = Problem("diagonal", 6, lambda t: 0.5 * jnp.sum(jnp.asarray(d, t.dtype) * t**2), lambda k: jnp.zeros(6))
    density, trace = density_at(problem.loss, np.ones(6))
    assert trace == pytest.approx(d.sum(), rel=1e-6)
    lam, phi = density.lam.values, density.density.values
    assert np.trapezoid(phi, lam) == pytest.approx(1.0, abs=1e-3)
    assert lam[0] < d.min() and lam[-1] > d.max()
    element = density_element(density, trace, "Density (SLQ)")
    np.testing.assert_array_equal(element.Area.I.dimension_values("density"), phi)
    assert element.opts.get("plot").kwargs["title"] == f"Density (SLQ), tr ≈ {d.sum():.3g}"
    (x0, x1), (y0, y1) = plot_ranges(element)
    assert x0 <= lam[0] and x1 >= lam[-1] and y0 <= 0 and y1 >= phi.max()


def test_3d_surface_is_the_coloured_value_and_renders_with_matplotlib():
    from app.components.export import figure_bytes

    grid = grids.surface(problems.get("himmelblau"), 15)
    for scale, expected in (("log", shade(grid.loss.values)), ("linear", grid.loss.values)):
        surface = fig.surface_3d(grid, scale)
        np.testing.assert_allclose(np.sort(surface.dimension_values("z")), np.sort(expected.ravel()))
    assert figure_bytes(surface, "png").getvalue().startswith(b"\x89PNG\r\n\x1a\n")
