"""The Landscape view's run history: loss, ‖∇L‖ (and accuracy) curves and the run table.

Every finished (or cancelled) launch of the session on the current problem
is kept, oldest first, for overlay and comparison until "Clear runs" or a
problem change.  While a launch streams, its partial result is drawn as the
newest entry every :data:`PREVIEW_INTERVAL` seconds (re-rendering curves is
costly on a busy server).  The figures are the pure functions of
:mod:`app.figures.landscape`; the export saves the curves and, as netCDF, the
run table.
"""

from __future__ import annotations

import panel as pn
import xarray as xr

from landscape import trajectories

from ...components.actions import action_button
from ...components.export import ExportBar
from ...figures import landscape as fig
from ...runner import Throttle

#: Seconds between redraws of the curves while a launch streams; most points per curve drawn.
PREVIEW_INTERVAL, CURVE_POINTS = 2.0, 400


class RunHistory(pn.viewable.Viewer):
    """Curves and a table over the session's launches; the view calls :meth:`add`, :meth:`preview`, :meth:`clear`."""

    def __init__(self, view) -> None:
        super().__init__()
        self.view = view
        self.runs: list[xr.Dataset] = []
        self._throttle = Throttle(PREVIEW_INTERVAL)
        self.panes = {name: pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=280, visible=False)
                      for name in ("loss", "grad_norm", "accuracy")}  # fmt: skip
        self.table = pn.pane.DataFrame(None, index=False, float_format="{:.4g}".format, sizing_mode="stretch_width",
                                       max_height=320, styles={"overflow-y": "auto"}, visible=False)  # fmt: skip
        self.export = ExportBar(figure=lambda: fig.history_figure(self.runs, view.log_scale), dataset=self.table_data)
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
        self._throttle = Throttle(PREVIEW_INTERVAL)
        self.redraw()

    def preview(self, partial: xr.Dataset) -> None:
        """Draw a streaming launch as the newest entry (throttled), its computed steps only."""
        if self._throttle.ready():
            done = int(partial.attrs.get("steps_done", partial.sizes["step"] - 1))
            self._draw([*self.runs, partial.isel(step=slice(0, done + 1))])

    def clear(self) -> None:
        self.runs = []
        self.redraw()

    def redraw(self) -> None:
        self._draw(self.runs)

    def _draw(self, runs: list[xr.Dataset]) -> None:
        shown = fig.curve_variables(runs) if runs else []
        for name, pane in self.panes.items():
            pane.visible = name in shown
            pane.object = (fig.curves_element(runs, name, self.view.log_scale, CURVE_POINTS)
                           .opts(responsive=True, height=280, backend="bokeh") if name in shown else None)  # fmt: skip
        self.table.object = fig.run_table(runs, self.view.tolerance) if runs else None
        self.table.visible = bool(runs)
        self.export.available = bool(self.runs)
        if self.runs:
            self.export.basename = f"{self.view.problem.name}-runs"

    def __panel__(self):
        clear = action_button("Clear runs", self.clear, self.view.runner, 110)
        controls = pn.Row(
            pn.pane.HTML("<b>Runs</b> of this session (kept until cleared)", margin=(12, 5, 0, 10)),
            pn.widgets.Checkbox.from_param(self.view.param.log_scale, name="log scale", margin=(14, 10)),
            pn.widgets.FloatInput.from_param(self.view.param.tolerance, name="‖∇L‖ tolerance", width=110),
            clear,
        )
        return pn.Column(controls, pn.Row(*self.panes.values(), sizing_mode="stretch_width"), self.table,
                         self.export, sizing_mode="stretch_width")

