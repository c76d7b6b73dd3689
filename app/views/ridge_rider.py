"""The Ridge Rider view: find the MIS, grow the solution tree live, inspect its rides.

Engine calls: ``landscape.ridge_rider.find_mis``/``describe_point`` (Find MIS),
``iter_search`` (Run and Resume; a cancelled or budget-limited tree continues
with the current settings) and, for a tapped node of a problem with more than
two parameters, ``landscape.ridge_rider.plane.ride_slice``.  Figures:
:mod:`app.figures.ridge_rider` and the shared tree plot.  "Analyse this point"
hands the selected node's end point to the Critical Points view.

From Python: ``view.find_mis()``, ``view.run()``, ``view.resume()``,
``view.select(node)``, ``view.result``, ``view.figure()``.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import analysis
from landscape import ridge_rider as rr
from landscape.problems import Problem
from landscape.ridge_rider.plane import ride_slice
from landscape.tree import ride

from ..components.spectrum import SpectrumPanel
from ..components.surface import frame_size, surface_grid
from ..components.actions import action_button
from ..components.text import set_text, text_pane
from ..components.tree import TreePlot
from ..figures import ridge_rider as fig
from ..runner import LatestCall
from . import ViewSpec
from .base import BaseView


class RidgeRiderView(BaseView):
    """Ridge Rider: MIS, live solution tree, rides on the landscape, spectra."""

    title = "Ridge Rider"
    glossary_terms = ("mis", "fingerprint", "index", "delta_break", "lr_e")
    settings_params = ("mode", "order", "n_ridges", "max_depth", "max_nodes", "alpha", "alpha_min", "delta_break",
                       "max_steps", "end_rules", "lr_e", "entropy_weight")
    mode = param.Selector(default="exact", objects=["exact", "approximate"], doc="Exact (Alg. 1) or HVP-only (Alg. 2).")
    order = param.Selector(default="bfs", objects=list(rr.ORDERS), doc="ChooseFromArchive: bfs, dfs or best loss.")
    n_ridges = param.Integer(default=2, bounds=(1, 50), doc="Ridges per branch point (N most negative).")
    max_depth = param.Integer(default=2, bounds=(1, 20), doc="Depth of the tree.")
    max_nodes = param.Integer(default=20, bounds=(1, 100_000), doc="Rides in total.")
    alpha = param.Number(default=0.05, bounds=(0, None), doc="Step size α.")
    alpha_min = param.Number(default=1e-3, bounds=(0, None), doc="Backtracking floor (exact mode).")
    delta_break = param.Number(default=0.95, bounds=(0, 1), doc="Overlap threshold δ_break.")
    max_steps = param.Integer(default=400, bounds=(1, 100_000), doc="Steps per ride.")
    end_rules = param.ListSelector(default=list(rr.END_RULES), objects=list(rr.END_RULES), doc="EndRide rules.")
    lr_e = param.Number(default=0.003, bounds=(0, None), doc="UpdateRidge learning rate LR_e = LR_λ (approximate).")
    entropy_weight = param.Number(default=0.0, bounds=(0, None), doc="Entropy term of the MIS (policies).")
    selected = param.Integer(default=None, allow_None=True, doc="Selected node (None: none).")
    mis = param.Array(default=None, allow_None=True, doc="The start point (MIS) of the next run.")
    cut = param.ClassSelector(class_=xr.Dataset, constant=True, doc="Slice through the selected ride (dim > 2).")

    def setup(self) -> None:
        self._setup, self._resume = LatestCall(sync=self.runner.sync), False
        self._setup.param.watch(self._show_background_message, "message")
        self.grid: xr.Dataset | None = None
        self.tree_plot = TreePlot()
        self.tree_plot.param.watch(lambda event: self.select(event.new), "selected")
        self.spectra = SpectrumPanel(point_hint="Find the MIS or tap a node: spectrum there",
                                     along_hint="Tap a node: followed eigenvalue along its ride")
        self._tree_pipe = hv.streams.Pipe(data=None)
        self._selected_stream = hv.streams.Params(parameterized=self, parameters=["selected"])
        self.plot.linked_axes = False
        self._info = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self._mis_info = text_pane(margin=(0, 10))
        self._node_info = text_pane("Tap a node of the tree.", margin=(0, 10), css_classes=["rr-node-info"])

    # -- public API ----------------------------------------------------------
    def engine_settings(self) -> dict:
        """The engine settings of the next run (``landscape.ridge_rider.Settings`` fields)."""
        return dict(mode=self.mode, order=self.order, n_ridges=self.n_ridges, max_depth=self.max_depth,
                    max_nodes=self.max_nodes, alpha=self.alpha, alpha_min=min(self.alpha_min, self.alpha),
                    delta_break=self.delta_break, max_steps=self.max_steps, end_rules=tuple(self.end_rules),
                    lr_e=self.lr_e, lr_lambda=self.lr_e)

    def find_mis(self) -> None:
        """Compute the MIS off the event loop and show its gradient norm and spectrum."""
        problem, weight = self.problem, self.entropy_weight

        def compute():
            theta = np.asarray(rr.find_mis(problem, entropy_weight=weight))
            return theta, rr.describe_point(problem, theta)

        set_text(self._mis_info, "Finding the MIS (compiling…)")
        self.background.submit(compute, self._show_mis)

    def run(self, resume: bool = False) -> None:
        """Grow a new tree (or, with ``resume``, continue the stored one)."""
        if resume and (self.result is None or self.result.attrs.get("status") == "complete"):
            raise ValueError("Nothing to resume: run first (a finished tree has no open ridges left)")
        self._resume = resume

        def clear() -> None:  # the old tree and plots, once the status says "Compiling…" (JobRunner.start)
            self.select(-1)
            self.show(None)

        super().run(prepare=None if resume else clear)

    def stream(self, cancel):
        """``ridge_rider.iter_search`` from the MIS (found first if needed), or resuming the stored tree."""
        problem, settings = self.problem, self.engine_settings()
        if self._resume:
            return rr.iter_search(problem, None, tree=self.result, cancel=cancel, **settings)
        start = self.mis if self.mis is not None else rr.find_mis(problem, entropy_weight=self.entropy_weight)
        return rr.iter_search(problem, start, cancel=cancel, **settings)

    def resume(self) -> None:
        self.run(resume=True)

    def select(self, node: int | None) -> None:
        """Select a node (what tapping it does): its ride, its spectra, its slice."""
        self.selected = None if node is None or node < 0 else int(node)

    def analyse_selected(self) -> None:
        """Hand the selected node's end point to the Critical Points view."""
        tree = self.result
        if tree is None or self.selected is None or not self.selected < tree.sizes["node"]:
            raise ValueError("Select a node of a finished tree first")
        if self.state is None:
            raise ValueError("Analysing a point needs the dashboard's session state (AppState)")
        self.state.hand_over(tree.theta.values[self.selected], f"Ridge Rider node Ψ = {fig.fingerprint(tree, self.selected)}")

    def draw(self, result: xr.Dataset) -> hv.Layout:
        """The exported figure, rebuilt from the stored tree."""
        return fig.ridge_rider_figure(result, problem=self.problem, grid=self.grid,
                                      selected=-1 if self.selected is None else self.selected, cut=self.cut)

    # -- rendering -----------------------------------------------------------
    def render(self, result: xr.Dataset | None) -> None:
        self._show_tree(result)
        if result is not None and result.attrs.get("status") != "running":
            set_text(self._node_info, fig.tree_summary(result))

    def _show_tree(self, tree: xr.Dataset | None) -> None:
        self.tree_plot.show(tree)
        self._tree_pipe.send(tree)

    # -- reactions -------------------------------------------------------------
    def on_problem(self) -> None:
        with param.edit_constant(self):
            self.cut = None
        self.mis, self.grid, self.plot.object = None, None, None
        set_text(self._mis_info, "")
        self.spectra.clear()
        problem = self.problem
        if "entropy" in problem.extras and self.entropy_weight == 0.0:
            self.entropy_weight = 1.0
        if problem.is_2d:
            set_text(self._info, "Computing the surface (compiling…)")
            self._setup.submit(lambda: surface_grid(problem), lambda grid: self._show_surface(problem, grid),
                               "Computing the surface…")
        else:
            set_text(self._info, f"{problem.name} has {problem.dim} parameters: tap a node to see its ride on "
                                 "a 2-D slice through its branch point (spanned by the ride's chord and the next "
                                 "ridge).")
        self._info.visible = True

    def _show_surface(self, problem: Problem, grid: xr.Dataset) -> None:
        if problem is not self.problem:
            return
        self.grid = grid
        self._info.visible = False
        base = fig.surface_panel(problem, grid, None)
        layers = hv.DynamicMap(lambda data, selected: fig.rides_layer(data) * fig.highlight(
            fig.selected_ride(data, -1 if selected is None else selected)),
            streams=[self._tree_pipe, self._selected_stream])
        self.plot.object = (base * layers).opts(**frame_size(problem.bounds), backend="bokeh")

    @param.depends("selected", watch=True)
    def _show_selected(self) -> None:
        tree, node, problem = self.result, self.selected, self.problem
        if self.tree_plot.selected != (-1 if node is None else node):
            self.tree_plot.selected = -1 if node is None else node  # keep the plot's ring in step with the view
        if tree is None or node is None or not node < tree.sizes["node"]:
            return
        parent = int(tree.parent.values[node])
        branch = tree.theta.values[parent if parent >= 0 else node]
        path = ride(tree, node).point_theta.values
        label = fig.fingerprint(tree, node)
        set_text(self._node_info, fig.node_summary(tree, node))
        if len(path):
            eig = ride(tree, node).point_eigenvalue.values
            self.spectra.show_along(np.arange(len(eig)), eig[:, None], f"Followed eigenvalue along Ψ = {label}")

        def compute():
            cut = None if problem.is_2d or len(path) < 2 else ride_slice(problem, branch, path)
            return analysis.spectrum_at(problem, branch), cut

        def show(value):
            evals, cut = value
            self.spectra.show_point(branch, evals, None if problem.is_2d else f"Branch point of Ψ = {label}")
            if cut is not None:
                with param.edit_constant(self):
                    self.cut = cut
                box = [(float(v.min()), float(v.max())) for v in (cut.alpha, cut.beta)]  # orthonormal axes
                self.plot.object = fig.slice_panel(cut, label).opts(**frame_size(box), backend="bokeh")

        self.background.submit(compute, show)

    def _show_mis(self, value) -> None:
        theta, report = value
        self.mis = theta
        set_text(self._mis_info, f"MIS: loss {report.attrs['loss']:.5g}, ‖∇L‖ = {report.attrs['grad_norm']:.3g}, "
                                 f"{report.attrs['num_negative']} negative eigenvalues.")
        self.spectra.show_point(theta, report.eigenvalue.values, None if self.problem.is_2d else "At the MIS")


    def body(self):
        p = self.param

        def inputs(*pairs, kind=pn.widgets.FloatInput):
            return pn.Row(*(kind.from_param(p[name], label=label, width=90) for name, label in pairs))

        settings = pn.Column(
            pn.Row(action_button("Find MIS", self.find_mis, self.runner, 150),
                   action_button("Resume", self.resume, self.runner, 150)),
            self._mis_info, pn.widgets.RadioButtonGroup.from_param(p.mode, width=290),
            pn.widgets.Select.from_param(p.order, label="Search order", width=290),
            inputs(("n_ridges", "Ridges"), ("max_depth", "Depth"), ("max_nodes", "Rides"), kind=pn.widgets.IntInput),
            inputs(("alpha", "α"), ("alpha_min", "α min"), ("delta_break", "δ_break")),
            pn.Row(pn.widgets.IntInput.from_param(p.max_steps, label="Steps per ride", width=90),
                   *inputs(("lr_e", "LR_e"), ("entropy_weight", "Entropy"))),
            pn.widgets.CheckBoxGroup.from_param(p.end_rules, inline=True),
            action_button("Analyse this point", self.analyse_selected, self.runner, 150), width=320)
        return pn.Column(self._info, self.runner.controls(on_run=self.run),
                         pn.Row(settings, self.plot, sizing_mode="stretch_width"), self._node_info,
                         self.tree_plot, self.spectra, self.export, sizing_mode="stretch_width")


VIEW = ViewSpec(key="ridge_rider", title="Ridge Rider", factory=RidgeRiderView, order=20)
