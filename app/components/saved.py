"""A sweep store opened in the dashboard: ``landscape open run.zarr`` (``panel serve app/main.py --args --open``).

The store (:mod:`landscape.stores`, written by the ``landscape`` command or an
earlier sweep) names its kind, problem and configuration.  :class:`SavedSweep`
reads it (a foreign or corrupt store is refused with
:class:`landscape.stores.StoreError`), the session shows its problem and opens
the view of its kind (:data:`landscape.stores.VIEWS`), and that view gets the
result, missing cells NaN where the sweep is unfinished:

* ``slice-2d``: the Landscape view's network slice (the plane its runs are drawn on), with
  the view's directions kind, span and points set to the stored slice's;
* ``lyapunov-map``: the Games view's heatmap, the view's settings set to the stored sweep's
  (rule, its hyperparameters, k, n, objective, directions, and the resolution of a square map
  over the game's box), so its inputs say what is shown and "Lyapunov map" recomputes it;
* ``residual-map``: the Critical Points view's residual map (r of the Newton step under the
  runs), drawn instead of the view's own;
* ``critical-points``: the Critical Points view's runs (the finished batches of an unfinished
  experiment), its method, runs and iterations set to the stored experiment's.

Above the view a line says what was opened; an unfinished store offers
**Resume**: :func:`landscape.stores.resume` rebuilds the sweep from the store
and computes only the missing chunks, on the session's "Compute" setting
(:mod:`app.components.compute`), through the view's runner (progress, Cancel),
the view filling in as chunks arrive.
"""

from __future__ import annotations

import os

import numpy as np
import panel as pn
import xarray as xr

from landscape import stores

from .actions import action_button
from .text import set_text, text_pane


class SavedSweep:
    """The store at ``path``: its kind, the view that shows it, its problem and (partial) result."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        summary = stores.info(self.path)  # StoreError for a missing, foreign or corrupt store
        self.kind = summary["kind"]
        if self.kind not in stores.VIEWS:
            raise stores.StoreError(f"{self.path} holds a {self.kind!r} result; the dashboard opens "
                                    f"{', '.join(stores.VIEWS)} stores")
        self.view_key = stores.VIEWS[self.kind]
        self.problem = stores.problem_of(summary["config"])
        self.result: xr.Dataset = stores.load(self.path, allow_partial=True)
        self.summary = summary
        self.view = self._resume = None
        self._line = text_pane(margin=(0, 10))

    @property
    def finished(self) -> bool:
        return self.summary["status"] == "complete"

    def describe(self) -> str:
        """One line: the store, its kind and problem, its status and progress."""
        s = self.summary
        line = (f"Opened {os.path.basename(self.path.rstrip(os.sep))}: a {self.kind} of {self.problem.name}, "
                f"{s['status']} ({s['chunks_done']}/{s['chunks']} chunks, {s['cells_done']}/{s['cells']} {s['unit']}).")
        if not self.finished:
            line += " Resume computes only the missing chunks, where the Compute setting says."
        return line

    # -- the view ---------------------------------------------------------------------------------
    def settings(self) -> dict:
        """The settings of the view of this kind that describe the stored sweep: a slice's directions
        kind, and its span and points on a square grid over [-span, span]; see the module docstring."""
        config = self.summary["config"]
        if self.kind == "residual-map":  # the view has no residual-map settings: its grid is the stored one
            return {}
        if self.kind == "critical-points":
            return {"method": config["method"]["name"], "num_runs": self.summary["cells"],
                    "steps": config["num_steps"]}
        if self.kind == "slice-2d":
            from landscape.slices import DIRECTION_KINDS

            alpha, beta = self.result.alpha.values, self.result.beta.values
            settings = {"direction": config["direction_kind"]} if config["direction_kind"] in DIRECTION_KINDS else {}
            span = float(alpha[-1])
            if np.array_equal(alpha, beta) and np.array_equal(alpha, np.linspace(-span, span, len(alpha))):
                settings.update(span=span, resolution=len(alpha))
            return settings
        settings = {name: config[name] for name in ("rule", "k", "n", "objective", "directions")}
        settings["hparams"] = {config["rule"]: config["hyperparameters"]}
        xs, ys = self.result.x.values, self.result.y.values
        from landscape.games.explore import heatmap_axes

        if len(xs) == len(ys) and all(np.array_equal(a, b) for a, b in zip(heatmap_axes(self.problem, len(xs)),
                                                                            (xs, ys))):
            settings["resolution"] = len(xs)
        return settings

    def show_in(self, view) -> None:
        """Give the view of this kind the stored result and settings (once, when that view is built);
        settings the view refuses (e.g. out of its bounds) leave its own, with the reason shown."""
        self.view = view
        self._resume = action_button("Resume", self.resume, view.runner, 120)
        try:
            view.restore(self.settings())
        except ValueError as error:
            view.runner.message = f"Error: the stored settings do not fit the view ({error})"
        self._show(self.result, final=True)
        self._refresh()

    def resume(self) -> None:
        """Continue the stored sweep in the view's runner (progress and Cancel there)."""
        view = self.view
        if self.finished:
            raise ValueError(f"{self.path} is complete: nothing to resume")
        executor = view.executor
        view.runner.start(lambda cancel: stores.resume(self.path, executor=executor, cancel=cancel),
                          lambda event: self._show(event.partial, final=False), self._resumed)

    def panel(self) -> pn.Row:
        """The line above the view (after :meth:`show_in`): what was opened, and Resume while it is unfinished."""
        return pn.Row(self._line, self._resume, sizing_mode="stretch_width")

    # -- internals --------------------------------------------------------------------------------
    def _show(self, result: xr.Dataset, final: bool) -> None:
        view = self.view
        if view.problem.config() != self.problem.config():  # the user picked another problem meanwhile
            return
        if self.kind in ("lyapunov-map", "critical-points"):
            view.show(result)
            return
        if self.kind == "residual-map":
            view.show_field(result)
            return
        from ..views.landscape.modes import SliceMode, slice_grid

        if not isinstance(view.mode, SliceMode):
            return
        if final and view.runner.running:  # the end of Resume: restore would cancel the finishing job
            view.mode.adopt(result)
        elif final:
            view.restore({}, {"slice": result})  # cancels the view's own first slice; adopts the plane
        else:
            view.mode.pipe.send(slice_grid(result.loss.values, result.alpha.values, result.beta.values))

    def _resumed(self, result: xr.Dataset) -> None:
        self.summary = stores.info(self.path)
        self.result = result
        self._show(result, final=True)
        self._refresh()

    def _refresh(self) -> None:
        set_text(self._line, self.describe())
        if self._resume is not None:
            self._resume.visible = not self.finished
