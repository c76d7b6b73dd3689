"""The Ridge Rider view without a server, through its public API: a run fills the tree,
selecting a node fills the linked results, resume continues, export works, a node's
point is handed to the Critical Points view."""

import holoviews as hv
import numpy as np
import pytest

from app.components.tree import tree_element, tree_frame
from app.figures import ridge_rider as fig
from app.state import AppState
from app.views.ridge_rider import VIEW, RidgeRiderView
from landscape import ridge_rider as rr
from landscape.problems import get
from landscape.tree import layout


def small_tree():
    problem = get("rr-demo")
    return rr.search(problem, problem.ground_truth["maximum"][0], n_ridges=2, max_depth=2, max_nodes=5,
                     alpha=0.1, max_steps=150)


def test_tree_frame_uses_the_shared_layout_and_the_figure_functions_read_the_tree():
    tree = small_tree()
    frame = tree_frame(tree)
    x, y = layout(tree)
    np.testing.assert_array_equal(frame["x"], x)
    np.testing.assert_array_equal(frame["y"], y)
    assert frame["fingerprint"][0] == "root" and list(frame["fingerprint"][1:3]) == ["0+", "0-"]
    assert len(frame["edges"]) == tree.sizes["node"] - 1
    for x0, y0, x1, y1 in frame["edges"]:  # every edge joins a node one level below its parent
        assert y1 - y0 == pytest.approx(1.0)
    hv.render(tree_element(tree, 1), backend="bokeh")
    rides = fig.tree_rides(tree)
    assert 0 not in rides and set(rides) == set(np.unique(tree.point_node.values))
    np.testing.assert_allclose(fig.selected_ride(tree, 1)[0], tree.theta.values[0])  # rides start at the root
    assert fig.node_summary(tree, 1).startswith("Node 1, Ψ = 0+: loss ")
    hv.render(fig.ridge_rider_figure(tree), backend="matplotlib")


def test_view_runs_selects_resumes_and_exports(monkeypatch):
    state = AppState(problem_name="rr-demo")
    view = VIEW.factory(state=state)
    assert isinstance(view, RidgeRiderView) and view.grid is not None
    view.param.update(n_ridges=2, max_depth=2, max_nodes=3, alpha=0.1, max_steps=150)
    shown, show = [], view.show
    monkeypatch.setattr(view, "show", lambda result: (shown.append((result, view.runner.message)), show(result))[1])
    view.run()  # synchronous outside a server
    assert shown[0] == (None, "Compiling…")  # the old tree is cleared once the status says so, not before
    assert view.result is not None and view.result.attrs["status"] == "budget"
    assert (view.result.order.values > 0).sum() == 3
    view.select(1)
    assert view.selected == 1 and view.tree_plot.selected == 1
    view.analyse_selected()
    np.testing.assert_array_equal(state.focus["theta"], view.result.theta.values[1])
    assert state.focus["source"] == "Ridge Rider node Ψ = 0+" and state.tab == "critical_points"
    view.resume()
    assert (view.result.order.values > 0).sum() == 3  # same budget: nothing more to do
    view.max_nodes = 5
    view.resume()
    assert (view.result.order.values > 0).sum() == 5
    hv.render(view.draw(view.result), backend="bokeh")  # the export figure builds from the stored tree
    assert view.spectra.along is not None  # the selected node's followed eigenvalue: gone with the problem
    state.problem_name = "booth"
    assert view.spectra.point is None and view.spectra.along is None
    assert view.spectra.along_hint == "Tap a node: followed eigenvalue along its ride"  # its own tab's words


def test_a_larger_problem_shows_the_selected_ride_on_its_plane():
    view = RidgeRiderView(problem=get("dlae"), n_ridges=1, max_depth=1, max_nodes=1, max_steps=30)
    assert view.grid is None
    view.run()
    view.select(1)
    cut = view.cut
    assert cut is not None and cut.loss.shape == (41, 41)
    path = fig.tree_rides(view.result)[1]
    length = np.linalg.norm(path[-1] - path[0])  # the plane's first axis is the ride's chord:
    np.testing.assert_allclose([cut.path_alpha[0], cut.path_beta[0]], [0, 0], atol=1e-9)  # branch point at 0
    np.testing.assert_allclose([cut.path_alpha[-1], cut.path_beta[-1], cut.path_residual[-1]], [length, 0, 0],
                               atol=1e-9)  # the end on the α axis, in the plane
    size = view.plot.object.opts.get(backend="bokeh").kwargs  # the plane's axes are orthonormal: one pixel scale
    spans = [float(np.ptp(cut.alpha.values)), float(np.ptp(cut.beta.values))]
    assert size["frame_width"] / spans[0] == pytest.approx(size["frame_height"] / spans[1], rel=0.02)
