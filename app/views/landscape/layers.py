"""The Landscape view's pure figure pieces: the trajectory layer shared by both modes.

Surface mode draws runs in parameter space ``(x, y)``; network-slice mode
draws them projected onto the slice plane ``(α, β)``.  Either way a run is a
polyline from ``path_data`` and the exported figure is
:func:`landscape_figure`, built from stored Datasets only (no server needed).
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from landscape.problems import Problem

from ...components.styles import styled
from ...components.surface import critical_points_element, surface_element
from ...figures.landscape import OPTIMIZER_COLORS, thinned

#: The selected run's highlight (no optimizer uses it).
SELECTED_COLOR = "#ff00ff"
#: Most points per path sent to the browser while streaming (exports use all).
LIVE_POINTS = 500


def path_data(theta: np.ndarray, optimizer_of_run: list[str], max_points: int | None = None) -> list[dict]:
    """Rows of ``hv.Path`` data: one ``(x, y)`` polyline per run, NaN steps (not yet computed) dropped.

    ``theta`` is ``(run, step, 2)``: the parameters of a 2-D surface, or a
    network's plane coordinates from :func:`landscape.slices.project`.  With
    ``max_points``, longer paths keep every k-th point (and the last).
    """
    rows = []
    for run, name in enumerate(optimizer_of_run):
        xy = theta[run, :, :2]
        xy = xy[np.isfinite(xy).all(axis=1)]
        xy = xy[thinned(len(xy), max_points)]
        rows.append({"x": xy[:, 0], "y": xy[:, 1], "optimizer": name, "run": run, "color": OPTIMIZER_COLORS[name]})
    return rows


def optimizer_layer(rows: list[dict], name: str) -> hv.Overlay:
    """The paths of optimizer ``name`` and their end points, in its colour."""
    mine = [row for row in rows if row["optimizer"] == name]
    color = OPTIMIZER_COLORS[name]
    paths = styled(
        hv.Path([np.column_stack([row["x"], row["y"]]) for row in mine], kdims=["x", "y"], label=name),
        color=color,
        bokeh={"line_width": 2.5, "apply_ranges": False},
        matplotlib={"linewidth": 2},
    )
    heads = styled(
        hv.Points([(row["x"][-1], row["y"][-1]) for row in mine if len(row["x"])], kdims=["x", "y"]),
        color=color,
        bokeh={"size": 8, "line_color": "white", "apply_ranges": False},
        matplotlib={"s": 30, "edgecolors": "white"},
    )
    return paths * heads


def starts_element(starts: np.ndarray) -> hv.Points:
    return styled(
        hv.Points(np.asarray(starts).reshape(-1, 2), kdims=["x", "y"]),
        color="white",
        bokeh={"size": 10, "line_color": "black", "marker": "circle", "apply_ranges": False},
        matplotlib={"s": 50, "edgecolors": "black", "marker": "o"},
    )


def _on_top(plot, element) -> None:
    """Bokeh hook: draw this glyph above the streamed paths (which a later hook adds at glyph level)."""
    plot.handles["glyph_renderer"].level = "overlay"


def selected_element(xy: np.ndarray) -> hv.Path:
    return styled(
        hv.Path([xy], kdims=["x", "y"]),
        color=SELECTED_COLOR,
        bokeh={"line_width": 6, "alpha": 0.75, "apply_ranges": False, "hooks": [_on_top]},
        matplotlib={"linewidth": 4, "alpha": 0.6},
    )


def slice_grid(values: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> xr.Dataset:
    """A slice's ``loss (beta, alpha)`` as the ``(y, x)`` grid that :func:`surface_element` draws."""
    return xr.Dataset({"loss": (("y", "x"), np.asarray(values, dtype=float))}, coords={"x": alpha, "y": beta})


def landscape_figure(
    grid: xr.Dataset, problem: Problem, result: xr.Dataset | None, plane_theta: np.ndarray | None = None,
    levels: int = 18, scale: str = "log",
) -> hv.Overlay:
    """Surface (or slice), critical points, starts and trajectories, from stored data.

    ``plane_theta`` ``(run, step, 2)``: the runs' plane coordinates on a
    network slice (default: ``result.theta``, the parameters of a 2-D surface).
    ``levels`` contour lines and colour ``scale`` as in :func:`surface_element`.
    """
    overlay = surface_element(grid, levels, scale)
    if problem.is_2d:
        overlay = overlay * critical_points_element(problem)
    if result is not None:
        theta = result.theta.values if plane_theta is None else plane_theta
        overlay = overlay * starts_element(theta[:, 0, :])
        rows = path_data(theta, list(result.optimizer.values))
        for name in dict.fromkeys(result.optimizer.values):
            overlay = overlay * optimizer_layer(rows, name)
    x, y = grid.x.values, grid.y.values
    what = "optimizer trajectories" if problem.is_2d else "2-D slice, trajectories projected onto it"
    return styled(
        overlay,
        title=f"{problem.name}: {what}",
        xlim=(x[0], x[-1]),
        ylim=(y[0], y[-1]),
        bokeh={"width": 700, "height": 600},
        matplotlib={"fig_inches": 6, "aspect": 1.15},
    )
