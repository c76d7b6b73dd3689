"""The Landscape view's run history: loss, ‖∇L‖ (and accuracy) curves and the run table.

Every finished (or cancelled) launch of the session on the current problem
is kept, oldest first, for overlay and comparison until "Clear history" (not
"Clear runs": a label containing "Run" would shadow the Run button by name) or a
problem change.  A launch enters when it finishes or is cancelled, not while
it streams: re-rendering a dozen curves per chunk runs on the server's event
loop and, with two sessions streaming on a busy 2-core machine, starved it
(a Cancel went unanswered for minutes); the live plot shows the paths
meanwhile.  The figures are the pure functions of
:mod:`app.figures.landscape`; the export saves the curves and, as netCDF, the
run table.  The 1-D interpolations of Li et al. 2018 §3 (after Goodfellow et al.
2015), evaluated in the pool: "Interpolate start → end" adds the loss on the
segment from the selected run's start to its end, "Interpolate end → end" the
loss on the segment from its end to another run's end (minimum to minimum).
"""

from __future__ import annotations

import numpy as np
import panel as pn
import xarray as xr

from landscape import slices, trajectories

from ...components.actions import action_button
from ...components.export import ExportBar
from ...figures import landscape as fig

#: Most points per curve drawn.
CURVE_POINTS = 400
#: The interpolation's α grid: θ₀ + α (θ₁ − θ₀) for α from −0.5 to 1.5.
INTERPOLATION_ALPHA = np.linspace(-0.5, 1.5, 41)


def _computed(result: xr.Dataset, run: int) -> np.ndarray:
    """``run``'s computed points ``(steps, param)``: its rows after a stop or divergence (NaN) left out."""
    theta = result.theta.values[run]
    return theta[np.isfinite(theta).all(axis=1)]


class RunHistory(pn.viewable.Viewer):
    """Curves and a table over the session's launches; the view calls :meth:`add` and :meth:`clear`."""

    def __init__(self, view) -> None:
        super().__init__()
        self.view = view
        self.runs: list[xr.Dataset] = []
        self.panes = {name: pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=280)
                      for name in ("loss", "grad_norm", "accuracy", "interpolation")}  # fmt: skip
        # shown and hidden as a whole: toggling a HoloViews pane's own `visible` fails in Panel 1.9
        self.boxes = {name: pn.Column(pane, visible=False, sizing_mode="stretch_width", margin=0)
                      for name, pane in self.panes.items()}  # fmt: skip
        #: The last interpolation (a ``slice-1d`` Dataset: centre θ₀, direction θ₁ − θ₀).
        self.line: xr.Dataset | None = None
        self.table = pn.pane.DataFrame(None, index=False, float_format="{:.4g}".format, sizing_mode="stretch_width",
                                       max_height=320, styles={"overflow-y": "auto"}, visible=False)  # fmt: skip
        self.export = ExportBar(figure=lambda: fig.history_figure(self.runs, view.log_scale), dataset=self.table_data)
        #: The other run of "Interpolate end → end" (runs of the latest finished launch).
        self.partner = pn.widgets.Select(label="Interpolate to the end of", options={"(run first)": -1}, width=290)
        for name in ("log_scale", "tolerance"):
            view.param.watch(lambda _event: self.redraw(), name)

    def table_data(self) -> xr.Dataset:
        """The run table's data (``landscape.trajectories.history_summary``): the netCDF export."""
        if not self.runs:
            raise ValueError("no runs yet: press Run first")
        return trajectories.history_summary(self.runs, self.view.tolerance)

    def add(self, result: xr.Dataset) -> None:
        """Keep a finished launch (once) and redraw."""
        if not any(result is kept for kept in self.runs):
            self.runs.append(result)
        self.redraw()

    def clear(self) -> None:
        self.runs, self.line = [], None
        self.redraw()

    def interpolate(self, result: xr.Dataset, run: int, label: str) -> None:
        """The loss on the line through ``run``'s start (α = 0) and its last computed point (α = 1)."""
        theta = _computed(result, run)
        if np.array_equal(theta[0], theta[-1]):
            raise ValueError("this run never left its start: there is no line to interpolate along")
        self._line(theta[0], theta[-1], label)

    def interpolate_ends(self, result: xr.Dataset | None, run: int | None) -> None:
        """The loss on the line from ``run``'s end (α = 0) to the end of the run picked in :attr:`partner` (α = 1)."""
        other = self.partner.value
        finished = result is not None and result.attrs.get("status") != "running"
        if not finished or run not in range(result.sizes["run"]) or other not in range(result.sizes["run"]):
            raise ValueError("Pick two runs of a finished launch: the line between their ends is interpolated")
        if run == other:
            raise ValueError("Pick a run other than the selected trajectory: the line goes from its end to the other's")
        start, end = _computed(result, run)[-1], _computed(result, other)[-1]
        if np.array_equal(start, end):
            raise ValueError("the two runs end at the same point: there is no line to interpolate along")
        names, starts = result.optimizer.values, result.start.values
        self._line(start, end, f"{names[run]}, start {starts[run]} → {names[other]}, start {starts[other]}",
                   "End → end line")

    def fill_partner(self, options: dict[str, int]) -> None:
        """The runs a finished launch offers as the other end (the trajectory picker's list), the last picked."""
        self.partner.options = options or {"(run first)": -1}
        self.partner.value = list(self.partner.options.values())[-1]

    def _line(self, start: np.ndarray, end: np.ndarray, label: str, title: str = "Start → end line") -> None:
        """``L((1 − α) start + α end)`` on :data:`INTERPOLATION_ALPHA`, computed in the pool, then drawn."""
        problem = self.view.problem

        def shown(line: xr.Dataset) -> None:
            if problem is self.view.problem:
                self.line = line.assign_attrs(run_label=label, title=title)
                self.redraw()

        self.view.background.submit(lambda: slices.slice_loss(problem, start, (end - start)[None], INTERPOLATION_ALPHA),
                                    shown, label="Interpolating…")  # fmt: skip

    def redraw(self) -> None:
        self._draw(self.runs)

    def _draw(self, runs: list[xr.Dataset]) -> None:
        shown = fig.curve_variables(runs) if runs else []
        for name, pane in self.panes.items():
            self.boxes[name].visible = name in shown
            pane.object = (fig.curves_element(runs, name, self.view.log_scale, CURVE_POINTS)
                           .opts(responsive=True, height=280, backend="bokeh") if name in shown else None)  # fmt: skip
        line, pane = self.line, self.panes["interpolation"]
        self.boxes["interpolation"].visible = line is not None
        pane.object = None if line is None else fig.interpolation_element(
            line, line.attrs["run_label"], line.attrs["title"]).opts(responsive=True, height=280, backend="bokeh")
        table = fig.run_table(runs, self.view.tolerance) if runs else None  # newest launch first:
        self.table.object = None if table is None else table.sort_values("#", ascending=False, kind="stable")
        self.table.visible = bool(runs)
        self.export.available = bool(self.runs)
        if self.runs:
            self.export.basename = f"{self.view.problem.name}-runs"

    def __panel__(self):
        clear = action_button("Clear history", self.clear, self.view.runner, 120)
        controls = pn.Row(
            pn.pane.HTML("<b>Runs</b> of this session, kept for comparison until cleared", margin=(12, 5, 0, 10)),
            pn.widgets.Checkbox.from_param(self.view.param.log_scale, name="log scale", margin=(14, 10)),
            pn.widgets.FloatInput.from_param(self.view.param.tolerance, name="‖∇L‖ tolerance", width=110),
            clear,
        )
        return pn.Column(controls, pn.Row(*self.boxes.values(), sizing_mode="stretch_width"), self.table,
                         self.export, sizing_mode="stretch_width")

