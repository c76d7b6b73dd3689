"""The Critical Points view without a server, through its public API: runs on frye-quartic,
the pure figure functions, a point handed over by another view."""

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from app.figures import critical_points as fig
from app.state import AppState
from app.views.critical_points import CriticalPointsView
from landscape import critical
from landscape.problems import registry


def test_current_classes_follow_the_latest_finite_values():
    gsq = np.array([[1.0, 1e-12, np.nan], [5.0, 4.0, 3.0], [2.0, 2.0, np.nan]])
    r = np.array([[0.1, 0.0, np.nan], [0.2, 0.5, 0.95], [0.99, 0.1, np.nan]])
    assert list(fig.current_classes(gsq, r, 1e-10)) == ["critical", "gradient-flat", "neither"]


@pytest.fixture(scope="module")
def view():
    view = CriticalPointsView(problem=registry.get("frye-quartic"), num_runs=4, steps=30)
    view.add_start(-3.5, 1.0)
    view.add_start(1.0, 1.0)
    view.run()  # synchronous outside a server
    return view


def test_run_from_clicked_starts_classifies_the_quartic_basins(view):
    result = view.result
    assert result.sizes["run"] == 2 and result.attrs["status"] == "done"
    np.testing.assert_allclose(result.theta.values[0], [-3.0, 0.0], atol=1e-8)
    assert result["class"].values[0] == "critical"
    assert result["class"].values[1] != "critical"
    np.testing.assert_allclose(result.theta.values[1, 0], np.sqrt(2), atol=1e-3)  # stalled on x = √2
    assert fig.summary(result)["critical"] == 1
    assert list(fig.run_classes(result)) == list(result["class"].values)


def test_selecting_a_run_analyses_its_end(view):
    view.select(0)
    a = view.analysis
    np.testing.assert_allclose(a.theta.values, view.result.theta.values[0])
    assert a.attrs["grad_norm_sq"] < 1e-12 and a.attrs["index"] == 0.0  # (−3, 0) is a minimum


def test_export_figure_is_built_from_the_stored_result(view):
    figure = view.draw(view.result)
    assert isinstance(figure, hv.Layout) and len(figure) == 4  # map, two trace panels, loss-index
    hv.renderer("matplotlib").get_plot(fig.critical_figure(view.result))  # without the map: 3 panels


def test_traces_of_a_partial_result_leave_uncomputed_steps_out():
    full = critical.find(registry.get("frye-quartic"), np.array([[1.0, 1.0], [-3.5, 1.0]]), num_steps=6, chunk=2)
    partial = full.copy(deep=True)
    partial["grad_norm_sq"][:, 3:] = np.nan  # what a stream shows after three steps
    partial["r"][:, 3:] = np.nan
    drawn = fig.traces(partial, "grad_norm_sq", 1e-10)
    lengths = [len(path.dimension_values(0)) for layer in drawn if isinstance(layer, hv.Path) for path in layer.split()]
    assert sorted(lengths) == [3, 3]


def test_trajectory_sampling_without_chosen_starts():
    view = CriticalPointsView(problem=registry.get("frye-quartic"), num_runs=2, steps=30, sampling="trajectory")
    view.run()
    assert view.result.sizes["run"] == 2 and view.grid is not None
    assert set(view.result["class"].values) <= {"critical", "gradient-flat", "neither"}


def test_network_problem_has_no_surface():
    view = CriticalPointsView(problem=registry.get("mlp-moons"))
    assert view.grid is None and view.starts.shape == (0, view.problem.dim)


def test_a_selected_run_without_a_kept_path_says_why_no_eigenvalues_are_drawn_along_it():
    view = CriticalPointsView(problem=registry.get("lever-game"), num_runs=2, steps=3)  # 20 parameters
    view.run()
    assert "path" not in view.result and view.problem.dim > critical.PATH_MAX_DIM
    view.select(1)
    titles = [pane.object.opts.get("plot").kwargs.get("title") for pane in pn.panel(view).select(pn.pane.HoloViews)
              if isinstance(pane.object, hv.Overlay)]
    assert f"Eigenvalues along run 1: paths are kept for ≤ {critical.PATH_MAX_DIM} parameters only" in titles


def test_a_point_handed_over_is_analysed_and_newton_mr_runs_from_it():
    state = AppState(problem_name="frye-quartic")
    view = CriticalPointsView(state=state, steps=20)
    state.hand_over([-3.2, 0.1], source="test")
    assert view.analysis.attrs["source"] == "test"
    np.testing.assert_allclose(view.analysis.theta.values, [-3.2, 0.1])
    assert view.result.sizes["run"] == 1 and view.result.attrs["method"] == "newton-mr"
    np.testing.assert_allclose(view.result.start.values[0], [-3.2, 0.1])
    np.testing.assert_allclose(view.result.theta.values[0], [-3.0, 0.0], atol=1e-8)
    assert state.tab == "critical_points"
    state.problem_name = "booth"  # a new problem drops the focus and the result
    assert state.focus is None and view.result is None and view.analysis is None
