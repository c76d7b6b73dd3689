"""The Ridge Rider view without a server: a run fills the tree, selecting a node fills
the linked plots, resume continues, export works."""

import holoviews as hv
import numpy as np
import pytest

from app.components.tree import tree_element, tree_frame
from app.views.ridge_rider import VIEW, RidgeRiderView
from landscape import ridge_rider as rr
from landscape.problems import get
from landscape.tree import layout


def small_tree():
    problem = get("rr-demo")
    return rr.search(problem, problem.ground_truth["maximum"][0], n_ridges=2, max_depth=2, max_nodes=5,
                     alpha=0.1, max_steps=150)


def test_tree_frame_uses_the_shared_layout():
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


def test_view_runs_selects_resumes_and_exports():
    view = VIEW.factory()
    assert isinstance(view, RidgeRiderView)
    view.param.update(problem=get("rr-demo"), n_ridges=2, max_depth=2, max_nodes=3, alpha=0.1, max_steps=150)
    view.run()  # synchronous outside a server
    assert view.result is not None and view.result.attrs["status"] == "budget"
    assert (view.result.order.values > 0).sum() == 3
    view.select(1)
    assert view.selected == 1 and view.tree_plot.selected == 1
    assert "0+" in view._node_info.object
    view.resume()
    assert (view.result.order.values > 0).sum() == 3  # same budget: nothing more to do
    view.max_nodes = 5
    view.resume()
    assert (view.result.order.values > 0).sum() == 5
    hv.render(view.figure(), backend="bokeh")  # the export figure builds from the stored tree
