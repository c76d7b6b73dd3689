"""Figures of a Ridge Rider solution tree (``landscape.ridge_rider.iter_search``).

On a 2-D problem the rides are drawn on the surface (white), the selected one
in red and a ride still in progress in orange; on larger problems the selected
ride is drawn on the slice through its branch point spanned by its chord and
the next ridge (:func:`landscape.ridge_rider.plane.ride_slice`).  The tree
itself is :func:`app.components.tree.tree_element`.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from landscape.problems import Problem
from landscape.tree import ride

from ..components.styles import styled
from ..components.surface import critical_points_element, surface_element
from ..components.tree import tree_element


def tree_rides(tree: xr.Dataset | None) -> dict[int, np.ndarray]:
    """``{node: ride points (T, dim)}`` of a tree Dataset."""
    if tree is None or "point_node" not in tree:
        return {}
    return {int(n): ride(tree, int(n)).point_theta.values for n in np.unique(tree.point_node.values)}


def rides_layer(tree: xr.Dataset | None) -> hv.Path:
    """Every ride of a 2-D problem as one white path layer."""
    return styled(hv.Path([xy[:, :2] for xy in tree_rides(tree).values() if len(xy) > 1], kdims=["x", "y"]),
                  color="white", bokeh={"line_width": 2, "alpha": 0.9, "apply_ranges": False},
                  matplotlib={"linewidth": 1.5})


def highlight(xy, color: str = "red") -> hv.Overlay:
    """A path with a dot at its end (the selected ride, or the one in progress)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    path = styled(hv.Path([xy], kdims=["x", "y"]), color=color,
                  bokeh={"line_width": 5, "alpha": 0.8, "apply_ranges": False}, matplotlib={"linewidth": 3})
    end = styled(hv.Points(xy[-1:], kdims=["x", "y"]), color=color,
                 bokeh={"size": 12, "line_color": "white", "apply_ranges": False},
                 matplotlib={"s": 60, "edgecolors": "white"})
    return path * end


def selected_ride(tree: xr.Dataset | None, node: int) -> np.ndarray:
    """The first two coordinates of the ride into ``node`` (empty if none)."""
    rides = tree_rides(tree)
    return rides[node][:, :2] if node in rides else np.zeros((0, 2))


def surface_panel(problem: Problem, grid: xr.Dataset, tree: xr.Dataset | None, selected: int = -1) -> hv.Overlay:
    """Rides on a 2-D surface with the known critical points and the selected ride."""
    (x0, x1), (y0, y1) = problem.bounds
    picture = (surface_element(grid) * critical_points_element(problem) * rides_layer(tree)
               * highlight(selected_ride(tree, selected)))
    return styled(picture, title=f"{problem.name}: rides (white), selected ride (red)", xlim=(x0, x1),
                  ylim=(y0, y1), show_legend=False)


def slice_panel(cut: xr.Dataset, label: str) -> hv.Overlay:
    """The loss on a ride's plane (``ride_slice``) with the ride projected onto it."""
    grid = xr.Dataset({"loss": (("y", "x"), cut.loss.values)},
                      coords={"x": cut.alpha.values, "y": cut.beta.values})
    xy = np.column_stack([cut.path_alpha.values, cut.path_beta.values])
    residual = float(np.max(cut.path_residual.values)) if cut.sizes.get("point", 0) else 0.0
    return styled(surface_element(grid) * highlight(xy), xlabel="along the ride's chord", ylabel="next ridge",
                  title=f"Slice at the branch of Ψ = {label} (residual {residual:.2g})")  # fits 510 px


def node_summary(tree: xr.Dataset, node: int) -> str:
    """One line about a node: fingerprint, loss, ridge eigenvalue, status, steps (rounded)."""
    steps = max(len(tree_rides(tree).get(node, ())) - 1, 0)
    return (f"Node {node}, Ψ = {fingerprint(tree, node)}: loss {float(tree.loss.values[node]):.4g}, "
            f"ridge eigenvalue {float(tree.eigenvalue.values[node]):.3g}, status {tree.status.values[node]}, "
            f"{steps} steps.")


def fingerprint(tree: xr.Dataset, node: int) -> str:
    return str(tree.fingerprint.values[node]) or "root"


def tree_summary(tree: xr.Dataset) -> str:
    rides = int((tree.order.values > 0).sum())
    open_nodes = int((tree.status.values == "open").sum())
    return (f"Tree: {tree.sizes['node']} nodes, {rides} rides, {open_nodes} open ridges, "
            f"{tree.attrs.get('steps', 0)} steps ({tree.attrs.get('status', 'running')}). Tap a node.")


def ridge_rider_figure(tree: xr.Dataset, *, problem: Problem | None = None, grid: xr.Dataset | None = None,
                       selected: int = -1, cut: xr.Dataset | None = None) -> hv.Layout:
    """The exported figure: the rides (on the surface, or the selected ride's slice) and the tree."""
    name = problem.name if problem is not None else tree.attrs.get("problem", "")
    panels = [tree_element(tree, selected, title=f"{name}: Ridge Rider tree")]
    if grid is not None and problem is not None:
        picture = surface_panel(problem, grid, tree, selected)
        panels.insert(0, styled(picture, bokeh={"width": 600, "height": 450}, matplotlib={"fig_inches": 6}))
    elif cut is not None and selected > 0:
        panels.insert(0, styled(slice_panel(cut, fingerprint(tree, selected)), bokeh={"width": 600, "height": 450},
                                matplotlib={"fig_inches": 6}))
    return hv.Layout(panels).cols(2)
