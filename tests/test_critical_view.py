"""The Critical Points view without a server: a run on frye-quartic, its plots and export figure."""

import holoviews as hv
import numpy as np
import pytest

from app.views.critical_points import CriticalPointsView, critical_figure, current_classes
from landscape.problems import registry


def test_current_classes_follow_the_latest_finite_values():
    gsq = np.array([[1.0, 1e-12, np.nan], [5.0, 4.0, 3.0], [2.0, 2.0, np.nan]])
    r = np.array([[0.1, 0.0, np.nan], [0.2, 0.5, 0.95], [0.99, 0.1, np.nan]])
    assert list(current_classes(gsq, r, 1e-10)) == ["critical", "gradient-flat", "neither"]


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
    np.testing.assert_allclose(result.theta.values[1, 0], np.sqrt(2), atol=1e-3)
    assert "critical: **1**" in view._summary.object


def test_export_figure_is_built_from_the_stored_result(view):
    figure = view.figure()
    assert isinstance(figure, hv.Layout) and len(figure) == 4  # map, two trace panels, loss-index
    hv.renderer("matplotlib").get_plot(critical_figure(view.problem, view.result, None, view._grid, None))


def test_trajectory_sampling_without_clicked_starts():
    view = CriticalPointsView(problem=registry.get("frye-quartic"), num_runs=2, steps=30, sampling="trajectory")
    view.run()
    assert view.result.sizes["run"] == 2 and view._surface.visible
    assert set(view.result["class"].values) <= {"critical", "gradient-flat", "neither"}


def test_network_problem_hides_the_surface():
    view = CriticalPointsView(problem=registry.get("mlp-moons"))
    assert not view._surface.visible and view._scatter.object is not None
