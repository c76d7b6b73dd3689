"""Figures of a critical-point experiment (``landscape.critical.iter_experiment``).

Frye's colours: blue candidate critical points (‖∇L‖² below the cutoff), gold
gradient-flat points (r > 0.9 above it), black the rest.  A run's class is
that of its latest finite ‖∇L‖² and r, so a partial result (NaN where not
yet computed) is coloured as it stands.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from landscape import critical
from landscape.problems import Problem

from ..components.spectrum import point_title, spectrum_element
from ..components.styles import styled
from ..components.surface import critical_points_element, surface_element

CLASS_COLORS = {"critical": "#1f77b4", "gradient-flat": "#d4a017", "neither": "#222222"}
#: Floor for ‖∇L‖² on the log axis (exact zeros happen at exact critical points).
GSQ_FLOOR = 1e-32
#: Arrows of the Newton direction field: one every ``ARROW_STRIDE`` cells.
ARROW_STRIDE = 8


def _latest(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    idx = np.where(finite.any(axis=1), values.shape[1] - 1 - finite[:, ::-1].argmax(axis=1), 0)
    return values[np.arange(len(values)), idx]


def current_classes(gsq: np.ndarray, r: np.ndarray, cutoff: float) -> np.ndarray:
    """Class of each run from its latest finite ‖∇L‖² and r (arrays ``(run, step)``)."""
    return critical.classify(_latest(gsq), np.nan_to_num(_latest(r)), cutoff)


def run_classes(result: xr.Dataset) -> np.ndarray:
    """The class of every run of a (partial) result."""
    cutoff = result.attrs.get("cutoff", critical.CRITICAL_CUTOFF)
    return current_classes(result.grad_norm_sq.values, result.r.values, cutoff)


def traces(result: xr.Dataset | None, variable: str, threshold: float) -> hv.Overlay:
    """``variable`` (``"grad_norm_sq"``, log axis, or ``"r"``) of every run against step, by class."""
    logy = variable == "grad_norm_sq"
    label = {"grad_norm_sq": "‖∇L‖²", "r": "r"}[variable]
    rows = {cls: [] for cls in CLASS_COLORS}
    if result is not None:
        steps = result.step.values
        for trace, cls in zip(result[variable].values, run_classes(result)):
            keep = np.isfinite(trace)
            y = np.maximum(trace[keep], GSQ_FLOOR) if logy else trace[keep]
            rows[str(cls)].append(np.column_stack([steps[keep], y]))
    layers = [
        styled(hv.Path(rows[cls], kdims=["step", hv.Dimension(variable, label=label)], label=cls),
               color=color, alpha=0.6, bokeh={"line_width": 1.5}, matplotlib={"linewidth": 1})
        for cls, color in CLASS_COLORS.items()
    ]
    line = styled(hv.HLine(threshold), color="red", alpha=0.6, bokeh={"line_dash": "dashed"},
                  matplotlib={"linestyle": "--"})
    title = {"grad_norm_sq": "Squared gradient norm ‖∇L‖²", "r": "Gradient-flatness r"}[variable]
    return styled(hv.Overlay(layers) * line, logy=logy, show_legend=False, title=title, framewise=True)


def loss_index(result: xr.Dataset | None, analytic: xr.Dataset | None = None) -> hv.Overlay:
    """Final (index, loss) of each run by class over the analytic critical points in grey."""
    layers = []
    if analytic is not None:
        layers.append(styled(
            hv.Points((analytic.index.values, analytic.loss.values), kdims=["index", "loss"], label="analytic"),
            color="#bbbbbb", bokeh={"size": 4}, matplotlib={"s": 6}))
    for cls, color in CLASS_COLORS.items():
        xy = np.zeros((0, 2))
        if result is not None:
            mine = run_classes(result) == cls
            xy = np.column_stack([result.final_index.values[mine], result.final_loss.values[mine]])
            xy = xy[np.isfinite(xy).all(axis=1)]
        layers.append(styled(hv.Points(xy, kdims=["index", "loss"], label=cls), color=color,
                             bokeh={"size": 8, "line_color": "white", "tools": ["hover"]},
                             matplotlib={"s": 30, "edgecolors": "white"}))
    # the legend beside the frame: points can lie anywhere, and one inside covered the top-right ones
    return styled(hv.Overlay(layers), title="Final points: loss against index", show_legend=True,
                  framewise=True, bokeh={"legend_position": "right"})


def run_paths(result: xr.Dataset | None, selected: int = -1) -> hv.Overlay:
    """Run paths on a 2-D surface, one layer per class, and the selected run in red."""
    rows = []
    if result is not None and "path" in result:
        for path, cls in zip(result.path.values, run_classes(result)):
            rows.append((path[np.isfinite(path).all(axis=1)], str(cls)))
    layers = []
    for cls, color in CLASS_COLORS.items():
        mine = [xy for xy, c in rows if c == cls and len(xy)]
        layers.append(styled(hv.Path(mine, kdims=["x", "y"]), color=color,
                             bokeh={"line_width": 2, "apply_ranges": False}, matplotlib={"linewidth": 1.5}))
        layers.append(styled(hv.Points([xy[-1] for xy in mine], kdims=["x", "y"]), color=color,
                             bokeh={"size": 7, "line_color": "white", "apply_ranges": False},
                             matplotlib={"s": 25, "edgecolors": "white"}))
    chosen = rows[selected][0] if 0 <= selected < len(rows) else np.zeros((0, 2))
    layers.append(styled(hv.Path([chosen], kdims=["x", "y"]), color="red",
                         bokeh={"line_width": 5, "alpha": 0.6, "apply_ranges": False},
                         matplotlib={"linewidth": 3, "alpha": 0.6}))
    return hv.Overlay(layers)


def starts_layer(starts: np.ndarray) -> hv.Points:
    """Clicked start points (white)."""
    return styled(hv.Points(np.asarray(starts, float).reshape(-1, 2), kdims=["x", "y"]), color="white",
                  bokeh={"size": 9, "line_color": "black", "apply_ranges": False},
                  matplotlib={"s": 40, "edgecolors": "black"})


def residual_layer(field: xr.Dataset | None) -> hv.Overlay:
    """r of the minimum-norm Newton step (light, translucent) and unit Newton directions (sparse)."""
    if field is None:
        nan = np.full((2, 2), np.nan)
        return hv.Overlay([hv.QuadMesh((np.arange(2.0), np.arange(2.0), nan), kdims=["x", "y"], vdims=["r"]),
                           hv.VectorField(([], [], [], []), kdims=["x", "y"], vdims=["angle", "magnitude"])])
    image = styled(  # QuadMesh: the axes include the exact gradient-flat coordinates (uneven)
        hv.QuadMesh((field.x.values, field.y.values, field.r.values), kdims=["x", "y"],
                    vdims=[hv.Dimension("r", range=(0, 1))]),
        cmap="YlOrBr", alpha=0.4, bokeh={"tools": ["hover"], "colorbar": True})
    s = ARROW_STRIDE
    px, py = field.newton_x.values[::s, ::s], field.newton_y.values[::s, ::s]
    gx, gy = np.meshgrid(field.x.values[::s], field.y.values[::s])
    vectors = styled(
        hv.VectorField((gx.ravel(), gy.ravel(), np.arctan2(py, px).ravel(), np.ones(px.size)),
                       kdims=["x", "y"], vdims=["angle", "magnitude"]),
        color="#d62728", alpha=0.5, pivot="tail", bokeh={"magnitude": "magnitude", "scale": 0.6, "line_width": 1})
    return image * vectors


def surface_base(problem: Problem, grid: xr.Dataset) -> hv.Overlay:
    """The loss surface with the problem's known critical points."""
    return surface_element(grid) * critical_points_element(problem)


def point_spectrum(analysis: xr.Dataset | None) -> hv.Overlay:
    """The Hessian spectrum of a point analysis (``landscape.analysis.analyse_point``)."""
    if analysis is None:  # framewise from the first (empty) frame too: a streamed plot keeps its first frame's
        return styled(spectrum_element(np.array([])), framewise=True).opts(  # norm options (λ stuck at 0..1)
            title="Hessian spectrum at the analysed point (none yet)")
    a = analysis.attrs
    # one line (a Bokeh title's second line is drawn over the plot above) short enough for half a 1280-px
    # page: r and r_H go under the axis (with them the title ran off the panel), ‖∇L‖² is in the run picker
    title = f"{point_title(analysis.theta.values)}: L = {a['loss']:.4g}"
    return styled(spectrum_element(analysis.eigenvalue.values, title), framewise=True,
                  xlabel=f"λ   (r = {a['r']:.2f}, r_H = {a['r_h']:.2f})")


def summary(result: xr.Dataset) -> dict[str, int]:
    """Runs per class and how many met r > 0.9 at some step."""
    classes = run_classes(result)
    counts = {cls: int((classes == cls).sum()) for cls in CLASS_COLORS}
    counts["met r > 0.9"] = int((np.nan_to_num(result.r.values, nan=-1.0) > critical.FLAT_R).any(axis=1).sum())
    return counts


def critical_figure(result: xr.Dataset, *, problem: Problem | None = None, grid: xr.Dataset | None = None,
                    field: xr.Dataset | None = None, analytic: xr.Dataset | None = None,
                    selected: int = -1) -> hv.Layout:
    """The exported figure: (2-D) the map with runs, both traces and the loss-index plot."""
    cutoff = result.attrs.get("cutoff", critical.CRITICAL_CUTOFF)
    panels = [traces(result, "grad_norm_sq", cutoff), traces(result, "r", critical.FLAT_R),
              loss_index(result, analytic)]
    if grid is not None and problem is not None:
        surface = surface_base(problem, grid) * residual_layer(field) * run_paths(result, selected)
        panels.insert(0, styled(surface, title=f"{problem.name}: runs over r of the Newton step"))
    return styled(hv.Layout(panels).cols(2), bokeh={"shared_axes": False}, matplotlib={"fig_inches": 5})
