"""A 2-D loss surface as a heatmap with contour lines and known critical points.

:func:`surface_grid` evaluates ``L(x, y)`` on a regular grid over the
problem's view box (:func:`landscape.grids.surface`); :func:`surface_element`
draws it.  Losses of the classic surfaces span many
orders of magnitude (Rosenbrock: 0 to 10⁴), so the colour and the contours
show ``log(1 + L − min L)`` by default, a monotone transform that keeps every
level set and keeps the valleys visible (``scale="linear"`` shows ``L`` itself,
contours then evenly spaced in ``L``); the hover and the stored grid keep ``L``.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from landscape import grids
from landscape.problems import Problem

from .styles import color_map, styled

SHADE = "log(1 + L − min L)"
#: Colour scales of :func:`surface_element`: name -> the value coloured.
SCALES = {"log": SHADE, "linear": "L"}
#: Plot-area height of a live 2-D surface and the widest plot area it may take (px): small enough
#: that the plot, its axes, colour bar and toolbar (~110 px) fit beside a view's settings column at
#: 1280 px (~560 px are left there; rr-demo's 16:10 box at 640 px ran off the page).
FRAME_HEIGHT, MAX_FRAME_WIDTH = 400, 440


def frame_size(bounds, height: int = FRAME_HEIGHT, max_width: int = MAX_FRAME_WIDTH) -> dict[str, int]:
    """Bokeh ``frame_width``/``frame_height`` of a plot over ``bounds = ((x0, x1), (y0, y1))`` with one
    unit of x as many pixels as one unit of y, the same at any window width (a responsive plot with
    fixed ``xlim``/``ylim`` stretches into a wide band on a wide screen); a box wider than
    ``max_width`` at ``height`` is shrunk as a whole."""
    (x0, x1), (y0, y1) = bounds
    dx, dy = float(x1) - float(x0), float(y1) - float(y0)
    if not (np.isfinite(dx) and np.isfinite(dy) and dx > 0 and dy > 0):
        raise ValueError(f"bounds must be ((xmin, xmax), (ymin, ymax)) with min < max, got {bounds!r}")
    ratio = dx / dy
    width = min(round(height * ratio), max_width)
    return {"frame_width": width, "frame_height": min(height, round(width / ratio))}


def surface_grid(problem: Problem, resolution: int = 121) -> xr.Dataset:
    """``loss`` on a ``resolution × resolution`` grid over ``problem.bounds``
    (:func:`landscape.grids.surface`): dims ``(y, x)``, non-finite losses NaN."""
    return grids.surface(problem, resolution)


def shade(loss: np.ndarray) -> np.ndarray:
    """The displayed value ``log(1 + L − min L)`` (NaN stays NaN)."""
    finite = loss[np.isfinite(loss)]
    low = finite.min() if finite.size else 0.0
    return np.log1p(np.clip(loss - low, 0.0, None))


def surface_element(grid: xr.Dataset, levels: int = 18, scale: str = "log") -> hv.Overlay:
    """Heatmap of :func:`shade` (``scale="log"``) or of ``L`` (``"linear"``) with ``levels`` contour
    lines of the coloured value over it (none for ``levels=0``)."""
    if scale not in SCALES:
        raise ValueError(f"unknown colour scale {scale!r}; choose from {', '.join(SCALES)}")
    loss = grid.loss.values
    # nothing computed yet (a slice before its first chunk): a fixed range, not one taken from all-NaN data
    blank = {} if np.isfinite(loss).any() else {"range": (0.0, 1.0)}
    image = styled(
        hv.Image(
            (grid.x.values, grid.y.values, shade(loss) if scale == "log" else loss, loss),
            kdims=["x", "y"],
            vdims=[hv.Dimension("shade", label=SCALES[scale], **blank), hv.Dimension("loss", label="L", **blank)],
        ),
        cmap="viridis",
        colorbar=True,
        bokeh={"tools": ["hover"], "clipping_colors": {"NaN": "#dddddd"}},
    )
    if levels == 0 or not np.isfinite(loss).any():
        return image * hv.Contours([])
    contours = styled(
        hv.operation.contours(image, levels=levels, filled=False),
        color="white",
        alpha=0.45,
        show_legend=False,
        bokeh={"line_width": 1},
    )
    return image * contours


def critical_points_element(problem: Problem) -> hv.Points:
    """Known critical points, coloured by kind (minimum, saddle, ...)."""
    rows = [
        (float(point[0]), float(point[1]), kind)
        for kind, points in problem.ground_truth.items()
        for point in np.asarray(points).reshape(-1, problem.dim)
        if problem.dim == 2
    ]
    kinds = sorted({kind for *_, kind in rows})
    return styled(
        hv.Points(rows, kdims=["x", "y"], vdims=["kind"]),
        color=hv.dim("kind").categorize(color_map(kinds)) if kinds else "white",
        bokeh={"marker": "x", "size": 12, "line_width": 3, "tools": ["hover"]},
        matplotlib={"marker": "X", "s": 80, "edgecolors": "white"},
    )
