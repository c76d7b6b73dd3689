"""Figures of a teleport comparison (``landscape.teleport.report.iter_report``).

Both arms (without and with teleports) share colours across panels: loss
curves (networks: train solid, test dashed; means over seeds), ‖∇L‖² with the
jump at each teleport in red, and on 2-D surfaces the level set through the
start (dotted), the teleport path along it (red) and both trajectories.  A
loss axis is logarithmic only when every value is positive (surfaces such as
six-hump camel go negative), and every axis follows the data.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from landscape.teleport.report import teleport_rows

from ..components.styles import styled
from ..components.surface import surface_element

ARM_COLORS = {"plain": "#1f77b4", "teleport": "#ff7f0e"}
ARM_LABELS = {"plain": "without teleport", "teleport": "with teleport"}
TITLES = {"train_loss": "Loss", "grad_norm_sq": "‖∇L‖² (training set); red: jump at each teleport"}
#: Axis labels of the plotted variables (loss and ‖∇L‖² are in the problem's own units).
AXIS_LABELS = {"train_loss": "loss", "test_loss": "loss", "grad_norm_sq": "‖∇L‖²"}


def _arm_series(result: xr.Dataset | None, variable: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {arm: (np.zeros(0), np.zeros(0)) for arm in ARM_LABELS}
    if result is None or variable not in result:
        return out
    for i, arm in enumerate(result.arm.values):
        y = np.nanmean(result[variable].values[i], axis=0) if np.isfinite(result[variable].values[i]).any() \
            else np.full(result.sizes["epoch"], np.nan)
        keep = np.isfinite(y)
        out[str(arm)] = (result.epoch.values[keep], y[keep])
    return out


def log_axis(result: xr.Dataset | None, *variables: str | None) -> bool:
    """Whether ``variables`` of ``result`` are plotted on a log axis: some finite values, all positive."""
    values = [result[v].values.ravel() for v in variables if result is not None and v in result]
    finite = np.concatenate(values)[np.isfinite(np.concatenate(values))] if values else np.zeros(0)
    return bool(finite.size) and bool(np.all(finite > 0))


def curves(result: xr.Dataset | None, variable: str, dashed: str | None = None) -> hv.Overlay:
    """``variable`` (solid) and ``dashed`` against epoch for both arms; log axis if all positive."""
    layers = []
    for var, dash in ((variable, "solid"), (dashed, "dashed")):
        if var is None:
            continue
        for arm, (x, y) in _arm_series(result, var).items():
            label = ARM_LABELS[arm] + (" (test)" if dash == "dashed" else "")
            value = hv.Dimension("value", label=AXIS_LABELS.get(variable, variable))
            layers.append(styled(hv.Curve((x, y), "epoch", value, label=label),
                                 color=ARM_COLORS[arm], bokeh={"line_dash": dash, "line_width": 2},
                                 matplotlib={"linestyle": "--" if dash == "dashed" else "-", "linewidth": 2}))
    title = TITLES.get(variable, variable) + (" (solid: train, dashed: test)" if dashed else "")
    return styled(hv.Overlay(layers), title=title, logy=log_axis(result, variable, dashed), show_legend=True,
                  framewise=True)


def jumps(result: xr.Dataset | None) -> hv.Path:
    """‖∇L‖² before → after each teleport as a vertical red segment."""
    rows = teleport_rows(result) if result is not None and "teleport_epoch" in result else []
    segments = [np.array([[r["epoch"], r["grad_norm_sq"][0]], [r["epoch"], r["grad_norm_sq"][1]]]) for r in rows]
    return styled(hv.Path(segments or [np.zeros((0, 2))], ["epoch", "value"]), color="red",
                  bokeh={"line_width": 3}, matplotlib={"linewidth": 3})


def gradient_panel(result: xr.Dataset | None) -> hv.Overlay:
    return styled(curves(result, "grad_norm_sq") * jumps(result), title=TITLES["grad_norm_sq"], framewise=True)


def level_set(grid: xr.Dataset, level: float | None) -> hv.Contours:
    """The contour ``L = level`` of the grid (dotted white)."""
    image = hv.Image((grid.x.values, grid.y.values, grid.loss.values), ["x", "y"], "loss")
    levels = [level] if level is not None and np.isfinite(level) else [float(np.nanmax(grid.loss.values)) + 1.0]
    return styled(hv.operation.contours(image, levels=levels, filled=False), color="white",
                  bokeh={"line_width": 3, "line_dash": "dotted"}, matplotlib={"linewidth": 2, "linestyle": ":"})


def surface_layers(result: xr.Dataset | None, start) -> hv.Overlay:
    """Teleport path, both trajectories and the start point (over a surface)."""
    path = np.zeros((0, 2))
    if result is not None and "teleport_path" in result and result.sizes.get("teleport", 0):
        path = result.teleport_path.values[0]
    layers = [styled(hv.Path([path], ["x", "y"], label="teleport path"), color="red",
                     bokeh={"line_width": 4, "apply_ranges": False}, matplotlib={"linewidth": 3})]
    for i, arm in enumerate(ARM_LABELS):
        theta = np.zeros((0, 2))
        if result is not None and "theta" in result and i < result.sizes["arm"]:
            theta = result.theta.values[i, 0]
            theta = theta[np.isfinite(theta).all(axis=1)]
        layers.append(styled(hv.Path([theta], ["x", "y"], label=ARM_LABELS[arm]), color=ARM_COLORS[arm],
                             bokeh={"line_width": 2.5, "apply_ranges": False}, matplotlib={"linewidth": 2}))
    layers.append(styled(hv.Points([tuple(np.asarray(start, float))], ["x", "y"]), color="white",
                         bokeh={"size": 11, "line_color": "black", "apply_ranges": False},
                         matplotlib={"s": 60, "edgecolors": "black"}))
    return hv.Overlay(layers)


def start_level(result: xr.Dataset) -> float:
    """The loss at the start (epoch 0 of the run without teleports): the level teleported along."""
    return float(result.train_loss.values[0, 0, 0])


def surface_panel(grid: xr.Dataset, result: xr.Dataset | None, start, level: float | None,
                  name: str = "") -> hv.Overlay:
    (x0, x1), (y0, y1) = (float(grid.x.min()), float(grid.x.max())), (float(grid.y.min()), float(grid.y.max()))
    return styled(surface_element(grid) * level_set(grid, level) * surface_layers(result, start),
                  xlim=(x0, x1), ylim=(y0, y1), show_legend=False, data_aspect=1,
                  title=f"{name}: level set (dotted), teleport path (red), both runs".lstrip(": "))


def teleport_figure(result: xr.Dataset, grid: xr.Dataset | None = None, name: str = "") -> hv.Layout:
    """The exported figure: surface and loss curves (2-D), or loss and ‖∇L‖² curves (networks)."""
    if "theta" in result and grid is not None:
        start = result.theta.values[0, 0, 0]
        return (surface_panel(grid, result, start, start_level(result), name) + curves(result, "train_loss")).cols(2)
    return (curves(result, "train_loss", "test_loss") + gradient_panel(result)).cols(2)


def report_lines(result: xr.Dataset) -> list[str]:
    """Plain-text lines: one per teleport, then the final-point metrics when present."""
    lines = [f"teleport at epoch {r['epoch']}: ‖∇L‖² {r['grad_norm_sq'][0]:.4g} → {r['grad_norm_sq'][1]:.4g}, "
             f"objective {r['objective'][0]:.4g} → {r['objective'][1]:.4g}, invariance error on the teleport "
             f"batches {r['invariance_error']:.2e}" for r in teleport_rows(result)]
    if "sharpness" in result and np.isfinite(result.sharpness.values).all():  # NaN until the run completes
        lines += [f"final point {ARM_LABELS[str(arm)]}: sharpness φ {float(result.sharpness.values[i]):.4g}, "
                  f"curvature ψ {float(result.curvature.values[i]):.4g} (mean over seeds)"
                  for i, arm in enumerate(result.arm.values)]
    return lines
