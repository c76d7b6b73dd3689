"""Figures of the Landscape view's runs: curves against step, the run table, 1-D interpolation.

``history`` is the session's list of finished ``optimizer-trajectories``
results (one per Run press, oldest first; :mod:`landscape.trajectories`).

* :func:`curves_element`: loss, ‖∇L‖ or a classifier's accuracy against step
  for every run of every launch: colour = optimizer (the live plot's colours),
  the newest launch solid, earlier ones dashed and faint.  On a logarithmic
  axis a loss that is not all positive is drawn as ``L − min L`` (the minimum
  over what is drawn), and values ≤ 0 (the minimum itself, a zero gradient)
  are left out; the axis label says so.
* :func:`run_table`: one row per run (:func:`landscape.trajectories.run_summary`).
* :func:`history_figure`: the curves side by side (the exported figure), with a legend of the
  optimizers (the live panels leave it out: the live plot's legend names the colours).
* :func:`surface_3d`: the surface (or a network's slice) as a 3-D ``hv.Surface``,
  rendered with matplotlib (Bokeh has no 3-D plot and plotly is not a
  dependency), so the dashboard shows it as a static image.
* :func:`interpolation_element`: the loss along the straight line from a run's
  start θ₀ to its end θ₁, ``L((1 − α) θ₀ + α θ₁)`` (Li et al. 2018 §3, after
  Goodfellow et al. 2015), from a ``slice-1d`` result with centre θ₀ and
  direction θ₁ − θ₀.
"""

from __future__ import annotations

from collections.abc import Sequence

import holoviews as hv
import numpy as np
import pandas as pd
import xarray as xr

from landscape import trajectories

from ..components.styles import color_map, styled
from ..components.surface import SCALES, shade

#: One stable colour per optimizer, shared by the live plot, the legend, the curves and exports.
OPTIMIZER_COLORS = color_map(trajectories.OPTIMIZERS)
#: What each per-step variable is called on an axis.
LABELS = {"loss": "L", "grad_norm": "‖∇L‖", "train_accuracy": "train accuracy", "test_accuracy": "test accuracy"}


def thinned(n: int, max_points: int | None) -> np.ndarray:
    """Indices ``0, k, 2k, …`` and ``n − 1``: at most about ``max_points`` of ``n`` points."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    stride = -(-n // max_points)
    return np.unique(np.r_[np.arange(0, n - 1, stride), n - 1])


def curve_variables(history: Sequence[xr.Dataset]) -> list[str]:
    """The per-step variables the history has: loss, ‖∇L‖, and accuracies when every launch recorded them."""
    names = ["loss", "grad_norm"]
    if history and all("train_accuracy" in result for result in history):
        names.append("accuracy")
    return names


def _series(history: Sequence[xr.Dataset], variable: str, max_points: int | None):
    """``(launch, run, label, optimizer, steps, values)`` of every run, NaN steps dropped."""
    for launch, result in enumerate(history):
        values, steps = result[variable].values, result.step.values
        for run in range(result.sizes["run"]):
            keep = np.flatnonzero(np.isfinite(values[run]))
            keep = keep[thinned(len(keep), max_points)]
            label = f"#{launch + 1} {result.label.values[run]} (start {int(result.start.values[run])})"
            yield launch, label, str(result.optimizer.values[run]), steps[keep], values[run, keep]


def _padded(low: float, high: float, log: bool) -> tuple[float, float]:
    if log:
        low, high = np.log10(low), np.log10(high)
    pad = 0.05 * (high - low) if high > low else max(abs(high), 1.0) * 0.05
    low, high = low - pad, high + pad
    return (10**low, 10**high) if log else (low, high)


def _broken(runs: list[tuple[np.ndarray, np.ndarray, str]]) -> dict[str, np.ndarray]:
    """The columns of one line through all ``(steps, values, label)`` runs, a NaN row between runs."""
    steps, values, labels = [], [], []
    for index, (run_steps, run_values, label) in enumerate(runs):
        if index:  # a break: Bokeh and matplotlib lift the pen at NaN
            steps.append([np.nan]), values.append([np.nan]), labels.append([label])
        steps.append(run_steps), values.append(run_values), labels.append([label] * len(run_steps))
    return {"step": np.concatenate(steps), "value": np.concatenate(values),
            "run": np.concatenate([np.asarray(part, dtype=object) for part in labels])}


def curves_element(
    history: Sequence[xr.Dataset], variable: str = "loss", log: bool = False, max_points: int | None = None
) -> hv.Overlay:
    """``variable`` (``loss``, ``grad_norm`` or ``accuracy``: train solid, test dotted) against step.

    The runs are drawn as one ``hv.Curve`` per optimizer, launch age (newest or earlier) and part
    (train or test), its runs joined by NaN breaks and each point carrying its run's label for the
    hover: a few glyphs however many runs the session kept (a Curve, or a ``hv.Path`` sub-path, per
    run cost seconds per redraw at a few hundred runs).  Axis ranges are the data's (padded 5 %),
    so every drawn point is in view.
    """
    parts = [("train_accuracy", "solid"), ("test_accuracy", "dotted")] if variable == "accuracy" else [
        (variable, "solid")]
    log = log and variable != "accuracy"
    rows = [(name, dash, *row) for name, dash in parts for row in _series(history, name, max_points)]
    shift, label = 0.0, LABELS.get(variable, "accuracy (solid: train, dotted: test)")
    if log and variable == "loss" and rows and min(float(values.min(initial=np.inf)) for *_, values in rows) <= 0:
        shift = min(float(values.min(initial=np.inf)) for *_, values in rows)
        label = "L − min L"
    newest = len(history) - 1
    groups: dict[tuple[str, bool, str], list[dict]] = {}
    lows, highs, last = [], [], 0
    for _name, dash, launch, run_label, optimizer, steps, values in rows:
        values = values - shift
        if log:
            keep = values > 0
            steps, values = steps[keep], values[keep]
        if values.size:
            lows.append(values.min())
            highs.append(values.max())
            last = max(last, int(steps.max()))
        groups.setdefault((dash, launch != newest, optimizer), []).append((steps, values, run_label))
    value = hv.Dimension("value", label=label)
    paths = [styled(
        hv.Curve(_broken(runs), "step", [value, "run"],
                 label=optimizer + (" (test)" if dash == "dotted" else "") + (", earlier" if earlier else "")),
        color=OPTIMIZER_COLORS.get(optimizer, "black"), alpha=0.45 if earlier else 0.9,
        bokeh={"line_dash": "dashed" if earlier else dash, "line_width": 2, "tools": ["hover"]},
        matplotlib={"linestyle": "--" if earlier else (":" if dash == "dotted" else "-"), "linewidth": 1.5},
    ) for (dash, earlier, optimizer), runs in sorted(groups.items(), key=lambda item: (item[0][0] != "solid", not item[0][1]))]  # earlier launches below
    options = {"logy": log, "xlim": (0, max(last, 1))}
    if lows:
        options["ylim"] = _padded(min(lows), max(highs), log)
    title = {"loss": "Loss", "grad_norm": "‖∇L‖", "accuracy": "Accuracy"}.get(variable, variable)
    if len(history) > 1:
        title += " (dashed: earlier runs)"
    return styled(hv.Overlay(paths) if paths else hv.Overlay([hv.Curve([], "step", label)]),
                  title=title, show_legend=False, framewise=True, xlabel="step", ylabel=label, **options)


def history_figure(history: Sequence[xr.Dataset], log: bool = False) -> hv.Layout:
    """Every curve panel of :func:`curve_variables` side by side (the exported run-history figure)."""
    if not history:
        raise ValueError("no runs yet: press Run first")
    panels = [styled(curves_element(history, name, log), bokeh={"width": 420, "height": 300},
                     matplotlib={"fig_inches": 4}, show_legend=True) for name in curve_variables(history)]
    return hv.Layout(panels).cols(len(panels))


def run_table(history: Sequence[xr.Dataset], tolerance: float) -> pd.DataFrame:
    """One row per run of every launch: optimizer, hyperparameters, final loss and ‖∇L‖, steps to
    ``‖∇L‖ ≤ tolerance`` (−1: not reached), diverged (:func:`landscape.trajectories.history_summary`)."""
    reached = f"steps to ‖∇L‖ ≤ {tolerance:g}"
    columns = ["#", "optimizer", "hyperparameters", "start", "final loss", "final ‖∇L‖", reached, "diverged"]
    if not history:
        return pd.DataFrame(columns=columns)
    summary = trajectories.history_summary(history, tolerance)
    return pd.DataFrame({
        "#": summary.launch.values,
        "optimizer": summary.optimizer.values,
        "hyperparameters": summary.hyperparameters.values,
        "start": summary.start.values,
        "final loss": summary.final_loss.values,
        "final ‖∇L‖": summary.final_grad_norm.values,
        reached: summary.steps_to_tolerance.values,
        "diverged": np.where(summary.diverged.values, "yes", "no"),
    }, columns=columns)


def interpolation_element(line: xr.Dataset, run: str = "", title: str = "Start → end line") -> hv.Overlay:
    """``L((1 − α) θ₀ + α θ₁)`` against α from a ``slice-1d`` result (centre θ₀, direction θ₁ − θ₀);
    markers at α = 0 and α = 1; ``run`` names the run (or runs) on the α axis."""
    alpha, loss = line.alpha.values, line.loss.values
    ends = [(a, float(np.interp(a, alpha, loss))) for a in (0.0, 1.0) if alpha[0] <= a <= alpha[-1]]
    axis = hv.Dimension("alpha", label=f"α ({run})" if run else "α")
    curve = styled(hv.Curve((alpha, loss), axis, hv.Dimension("loss", label="L")),
                   color="#1f77b4", bokeh={"line_width": 2, "tools": ["hover"]}, matplotlib={"linewidth": 2})
    marks = styled(hv.Points(ends, kdims=[axis, "loss"]), color="black",
                   bokeh={"size": 8}, matplotlib={"s": 30})
    finite = loss[np.isfinite(loss)]
    options = {"xlim": (float(alpha[0]), float(alpha[-1]))}
    if finite.size:
        options["ylim"] = _padded(float(finite.min()), float(finite.max()), False)
    return styled(curve * marks, title=title, framewise=True, **options)


def surface_3d(grid: xr.Dataset, scale: str = "log", title: str = "") -> hv.Surface:
    """``grid.loss (y, x)`` as a 3-D surface of the coloured value of :func:`app.components.surface.surface_element`
    (``log(1 + L − min L)`` or ``L``), NaN cells left out; for the matplotlib backend."""
    if scale not in SCALES:
        raise ValueError(f"unknown colour scale {scale!r}; choose from {', '.join(SCALES)}")
    loss = grid.loss.values
    height = shade(loss) if scale == "log" else loss
    x, y = grid.x.values, grid.y.values
    surface = hv.Surface((x, y, height), kdims=["x", "y"], vdims=[hv.Dimension("z", label=SCALES[scale])])
    return surface.opts(backend="matplotlib", cmap="viridis", fig_inches=(7, 5.5), azimuth=-60, elevation=35,
                        title=title or "Loss surface (3-D)", colorbar=True)
