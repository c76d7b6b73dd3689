"""The Ridge Rider view: find the MIS, grow the solution tree live, inspect its rides.

What it shows (issue 3, "What a user gets"):

* **Find MIS** minimises the gradient norm from a symmetric start near zero (plus the
  policy entropy for RL problems, weight ``entropy_weight``) and shows ‖∇L‖ and the
  Hessian spectrum there (``landscape.ridge_rider.find_mis``/``describe_point``);
* **Run** launches Ridge Rider (``landscape.ridge_rider.iter_search``) from that point
  (computing it first if needed) through a :class:`app.runner.JobRunner`: every finished
  ride adds its node to the tree plot (:class:`app.components.tree.TreePlot`; fingerprint
  labels, colour = loss) and, on 2-D problems, its path to the surface; the ride in
  progress is drawn as it goes.  Cancel stops between chunks; **Resume** continues a
  cancelled (or budget-limited) tree with the current settings (e.g. more nodes);
* tapping a node highlights its ride on the surface (2-D problems) or on a 2-D slice
  through its branch point spanned by the ride's chord and the next ridge (other
  problems; ``landscape.slices``), shows the Hessian spectrum at its branch point and
  the eigenvalue of the followed ridge along the ride;
* export: the figure (surface or slice with rides, and the tree) and the tree Dataset.

From Python without a server: ``view.find_mis()``, ``view.run()`` (synchronous outside
a server), ``view.result`` and ``view.select(node)``.
"""

from __future__ import annotations

import html

import holoviews as hv
import jax
import jax.numpy as jnp
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import curvature, problems, slices
from landscape import ridge_rider as rr
from landscape.problems import Problem, default_dtype
from landscape.ridge_rider.search import NodeTable
from landscape.tree import ride

from ..components.export import ExportBar
from ..components.spectrum import SpectrumPanel
from ..components.styles import styled
from ..components.surface import critical_points_element, surface_element, surface_grid
from ..components.tree import TreePlot, tree_element
from ..runner import JobRunner, LatestCall
from ..state import AppState, default_problem_name
from . import ViewSpec

#: Resolution of the slice through a branch point (non-2-D problems).
SLICE_POINTS = 41


def rides_element(rides: dict[int, np.ndarray]) -> hv.Path:
    """All rides of a 2-D problem as one grey-white path layer."""
    return styled(
        hv.Path([xy[:, :2] for xy in rides.values() if len(xy) > 1], kdims=["x", "y"]),
        color="white",
        bokeh={"line_width": 2, "alpha": 0.9, "apply_ranges": False},
        matplotlib={"linewidth": 1.5},
    )


def highlight_element(xy: np.ndarray, color: str = "red") -> hv.Overlay:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    path = styled(hv.Path([xy], kdims=["x", "y"]), color=color,
                  bokeh={"line_width": 5, "alpha": 0.8, "apply_ranges": False},
                  matplotlib={"linewidth": 3})
    end = styled(hv.Points(xy[-1:], kdims=["x", "y"]), color=color,
                 bokeh={"size": 12, "line_color": "white", "apply_ranges": False},
                 matplotlib={"s": 60, "edgecolors": "white"})
    return path * end


def tree_rides(tree: xr.Dataset) -> dict[int, np.ndarray]:
    """``{node: ride points (T, dim)}`` of a tree Dataset."""
    return {int(n): ride(tree, int(n)).point_theta.values for n in np.unique(tree.point_node.values)}


class RidgeRiderView(pn.viewable.Viewer):
    """Ridge Rider: MIS, live solution tree, rides on the landscape, spectra."""

    problem = param.ClassSelector(class_=Problem, doc="The problem (follows the sidebar).")
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
    selected = param.Integer(default=-1, doc="Selected node (-1: none).")
    mis = param.Array(default=None, allow_None=True, doc="The start point (MIS) of the next run.")
    result = param.ClassSelector(class_=xr.Dataset, constant=True, doc="The last solution tree.")

    def __init__(self, state: AppState | None = None, **params):
        if "problem" not in params:
            params["problem"] = state.problem if state is not None else problems.get(default_problem_name())
        super().__init__(**params)
        self.runner = JobRunner()
        self._background = LatestCall()
        self._table = NodeTable()
        self._rides: dict[int, np.ndarray] = {}
        self._ride_eigenvalues: dict[int, np.ndarray] = {}
        self._grid: xr.Dataset | None = None

        self.tree_plot = TreePlot()
        self.tree_plot.param.watch(lambda event: setattr(self, "selected", event.new), "selected")
        self.spectra = SpectrumPanel()
        self.export = ExportBar(figure=self.figure, dataset=lambda: self.result)
        self._rides_pipe = hv.streams.Pipe(data={})
        self._live_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._chosen_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=420)
        self._notice = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self._description = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self._mis_info = pn.pane.Markdown("", margin=(0, 10))
        self._node_info = pn.pane.Markdown("Tap a node of the tree.", margin=(0, 10), css_classes=["rr-node-info"])
        self._controls = self.runner.controls(on_run=self.run)
        self._background.param.watch(self._show_error, "message")
        if state is not None:
            state.param.watch(lambda event: setattr(self, "problem", event.new), "problem")
        self._load_problem()

    # -- public API ----------------------------------------------------------
    def settings(self) -> dict:
        """The engine settings of the next run (``landscape.ridge_rider.Settings`` fields)."""
        return dict(
            mode=self.mode, order=self.order, n_ridges=self.n_ridges, max_depth=self.max_depth,
            max_nodes=self.max_nodes, alpha=self.alpha, alpha_min=min(self.alpha_min, self.alpha),
            delta_break=self.delta_break, max_steps=self.max_steps, end_rules=tuple(self.end_rules),
            lr_e=self.lr_e, lr_lambda=self.lr_e,
        )

    def find_mis(self) -> None:
        """Compute the MIS off the event loop and show its gradient norm and spectrum."""
        problem, weight = self.problem, self.entropy_weight

        def compute():
            theta = np.asarray(rr.find_mis(problem, entropy_weight=weight))
            return theta, rr.describe_point(problem, theta)

        self._mis_info.object = "Finding the MIS…"
        self._background.submit(compute, self._show_mis)

    def run(self, resume: bool = False) -> None:
        """Grow a new tree (or, with ``resume``, continue the stored one) on the event stream."""
        problem, settings = self.problem, self.settings()
        previous = self.result if resume else None
        if resume and (previous is None or previous.attrs.get("status") == "complete"):
            raise ValueError("Nothing to resume: run first (a finished tree has no open ridges left)")
        start, weight = self.mis, self.entropy_weight
        if resume:
            self._table = NodeTable.from_tree(previous)
        else:
            self._table = NodeTable()
            self._rides, self._ride_eigenvalues = {}, {}
            self.selected = -1
            self.tree_plot.show(None)
            self._rides_pipe.send({})
            self._chosen_pipe.send(np.zeros((0, 2)))

        def make_stream(cancel):
            theta0 = None if resume else (start if start is not None else rr.find_mis(problem, entropy_weight=weight))
            return rr.iter_search(problem, theta0, tree=previous, cancel=cancel, **settings)

        self.runner.start(make_stream, self._on_event, self._on_result)

    def resume(self) -> None:
        self.run(resume=True)

    def select(self, node: int) -> None:
        """Select a node (what tapping it does)."""
        self.tree_plot.selected = int(node)

    def figure(self) -> hv.Layout:
        """The exported figure, rebuilt from the stored tree."""
        if self.result is None:
            raise ValueError("run Ridge Rider first")
        tree = tree_element(self.result, self.selected, title=f"{self.problem.name}: Ridge Rider tree")
        if self._grid is None:
            return hv.Layout([tree]).cols(1)
        picture = (surface_element(self._grid) * critical_points_element(self.problem)
                   * rides_element(tree_rides(self.result)))
        if self.selected > 0:
            picture = picture * highlight_element(ride(self.result, self.selected).point_theta.values)
        (x0, x1), (y0, y1) = self.problem.bounds
        picture = styled(picture, title=f"{self.problem.name}: rides", xlim=(x0, x1), ylim=(y0, y1),
                         bokeh={"width": 600, "height": 450}, matplotlib={"fig_inches": 6})
        return (picture + tree).cols(2)

    # -- streaming -----------------------------------------------------------
    def _on_event(self, event) -> None:
        data = event.data
        if event.kind == "chunk":
            if self.problem.is_2d and len(data["theta"]):
                node = int(data["node"])
                self._rides[node] = np.concatenate([self._rides.get(node, np.zeros((0, 2))), data["theta"]])
                self._live_pipe.send(self._rides[node])
            return
        self._table.update(data["rows"])
        if event.kind == "node":
            self._rides[int(data["node"])] = data["ride"]["theta"]
            self._ride_eigenvalues[int(data["node"])] = data["ride"]["eigenvalue"]
            if self.problem.is_2d:
                self._rides_pipe.send(dict(self._rides))
                self._live_pipe.send(np.zeros((0, 2)))
        self.tree_plot.show(self._table.to_dataset())

    def _on_result(self, result: xr.Dataset) -> None:
        with param.edit_constant(self):
            self.result = result
        self._rides = tree_rides(result)
        self._ride_eigenvalues = {n: ride(result, n).point_eigenvalue.values for n in self._rides}
        self._table = NodeTable()
        self.tree_plot.show(result)
        if self.problem.is_2d:
            self._rides_pipe.send(dict(self._rides))
            self._live_pipe.send(np.zeros((0, 2)))
        rides = int((result.order.values > 0).sum())
        open_nodes = int((result.status.values == "open").sum())
        self._node_info.object = (
            f"Tree: {result.sizes['node']} nodes, {rides} rides, {open_nodes} open ridges, "
            f"{result.attrs['steps']} steps ({result.attrs['status']}). Tap a node."
        )
        self.export.refresh(f"{self.problem.name}-ridge-rider")

    # -- reactions -------------------------------------------------------------
    @param.depends("problem", watch=True)
    def _load_problem(self) -> None:
        self.runner.cancel()
        with param.edit_constant(self):
            self.result = None
        self.mis = None
        self.selected = -1
        self._rides, self._ride_eigenvalues, self._table = {}, {}, NodeTable()
        self.tree_plot.show(None)
        self.export.available = False
        self._mis_info.object = ""
        problem = self.problem
        if "entropy" in problem.extras and self.entropy_weight == 0.0:
            self.entropy_weight = 1.0
        self._description.object = f"**{html.escape(problem.name)}** ({problem.dim} parameters). {problem.description}"
        if problem.is_2d:
            self._grid = surface_grid(problem)
            self._plot.object = self._live_surface(problem, self._grid)
            self._notice.visible = False
        else:
            self._grid = None
            self._plot.object = None
            self._notice.object = (
                f"**{problem.name}** has {problem.dim} parameters: tap a node to see its ride on a 2-D "
                "slice through its branch point (spanned by the ride's chord and the next ridge)."
            )
            self._notice.alert_type = "info"
            self._notice.visible = True

    def _live_surface(self, problem: Problem, grid: xr.Dataset) -> hv.Overlay:
        base = surface_element(grid) * critical_points_element(problem)
        rides = hv.DynamicMap(lambda data: rides_element(data), streams=[self._rides_pipe])
        live = hv.DynamicMap(lambda data: highlight_element(data, "orange") if len(data) else
                             highlight_element(np.zeros((0, 2))), streams=[self._live_pipe])
        chosen = hv.DynamicMap(lambda data: highlight_element(data), streams=[self._chosen_pipe])
        (x0, x1), (y0, y1) = problem.bounds
        return (base * rides * live * chosen).opts(
            xlim=(x0, x1), ylim=(y0, y1), responsive=True, min_height=420, show_legend=False,
            title="Rides (white), the ride in progress (orange), the selected ride (red)", backend="bokeh",
        )

    def _tree(self) -> xr.Dataset | None:
        return self.result if self.result is not None else (self._table.to_dataset() if len(self._table) else None)

    @param.depends("selected", watch=True)
    def _show_selected(self) -> None:
        tree, node = self._tree(), self.selected
        if self.tree_plot.selected != node:
            self.tree_plot.selected = node  # keep the plot's ring in step with the view
        if tree is None or not 0 <= node < tree.sizes["node"]:
            return
        parent = int(tree.parent.values[node])
        branch = tree.theta.values[parent if parent >= 0 else node]
        path = self._rides.get(node, np.zeros((0, self.problem.dim)))
        fingerprint = str(tree.fingerprint.values[node]) or "root"
        self._node_info.object = (
            f"**Node {node}**, Ψ = `{fingerprint}`: loss {float(tree.loss.values[node]):.5g}, "
            f"ridge eigenvalue {float(tree.eigenvalue.values[node]):.4g}, status {tree.status.values[node]}, "
            f"{max(len(path) - 1, 0)} steps."
        )
        if node in self._ride_eigenvalues:
            eig = self._ride_eigenvalues[node]
            self.spectra.show_along(np.arange(len(eig)), eig[:, None], f"Followed eigenvalue along Ψ = {fingerprint}")
        if self.problem.is_2d:
            self._chosen_pipe.send(path[:, :2] if len(path) else np.zeros((0, 2)))
        problem = self.problem

        def spectrum_and_slice():
            evals = self._spectrum(problem, branch)
            picture = None if problem.is_2d or len(path) < 2 else self._slice(problem, branch, path, fingerprint)
            return evals, picture

        def show(value):
            evals, picture = value
            self.spectra.show_point(branch, evals)
            if picture is not None:
                self._plot.object = picture

        self._background.submit(spectrum_and_slice, show)

    @staticmethod
    def _spectrum(problem: Problem, theta: np.ndarray) -> np.ndarray:
        theta = jnp.asarray(theta, dtype=default_dtype())
        return curvature.spectrum_summary(problem.loss, theta, k=20, which="smallest").eigenvalues

    @staticmethod
    def _slice(problem: Problem, branch: np.ndarray, path: np.ndarray, fingerprint: str) -> hv.Overlay:
        """The loss on the plane through ``branch`` spanned by the ride's chord and the
        branch point's most negative ridge orthogonal to it (a random direction if none)."""
        chord = path[-1] - branch
        length = float(np.linalg.norm(chord))
        u = chord / length
        ridges = rr.get_ridges(problem.loss, branch, 3, mode="exact" if problem.dim <= curvature.DENSE_LIMIT else "approximate")
        candidates = [r.direction for r in ridges] + [np.asarray(jax.random.normal(jax.random.PRNGKey(0), (problem.dim,)))]
        v = next(c - (c @ u) * u for c in candidates if np.linalg.norm(c - (c @ u) * u) > 1e-3)
        v = v / np.linalg.norm(v)
        extent = np.linspace(-0.5 * length, 1.5 * length, SLICE_POINTS)
        result = slices.slice_loss(problem, branch, np.stack([u, v]), extent, extent - 0.5 * length,
                                   trajectory=path, direction_kind="ridge")
        grid = xr.Dataset({"loss": (("y", "x"), result.loss.values)},
                          coords={"x": result.alpha.values, "y": result.beta.values})
        xy = np.column_stack([result.path_alpha.values, result.path_beta.values])
        return (surface_element(grid) * highlight_element(xy)).opts(
            responsive=True, min_height=420, xlabel="along the ride's chord", ylabel="next ridge",
            title=f"Slice through the branch point of Ψ = {fingerprint} (residual "
                  f"{float(result.path_residual.values.max()):.2g})", backend="bokeh",
        )

    def _show_mis(self, value) -> None:
        theta, report = value
        self.mis = theta
        self._mis_info.object = (
            f"MIS: loss {report.attrs['loss']:.5g}, ‖∇L‖ = {report.attrs['grad_norm']:.3g}, "
            f"{report.attrs['num_negative']} negative eigenvalues."
        )
        self.spectra.show_point(theta, report.eigenvalue.values)

    def _show_error(self, event) -> None:
        self._notice.object = event.new
        self._notice.alert_type = "danger" if event.new else "info"
        self._notice.visible = bool(event.new) or not self.problem.is_2d

    def __panel__(self):
        mis_button = pn.widgets.Button(label="Find MIS", width=110)
        mis_button.on_click(lambda _event: self.find_mis())
        resume_button = pn.widgets.Button(label="Resume", width=110)

        def resume(_event):
            try:
                self.resume()
            except (ValueError, RuntimeError) as error:
                self.runner.message = f"Error: {error}"

        resume_button.on_click(resume)
        p = self.param
        settings = pn.Column(
            pn.Row(mis_button, resume_button),
            self._mis_info,
            pn.widgets.RadioButtonGroup.from_param(p.mode, width=290),
            pn.widgets.Select.from_param(p.order, name="Search order", width=290),
            pn.Row(pn.widgets.IntInput.from_param(p.n_ridges, name="Ridges", width=90),
                   pn.widgets.IntInput.from_param(p.max_depth, name="Depth", width=90),
                   pn.widgets.IntInput.from_param(p.max_nodes, name="Rides", width=90)),
            pn.Row(pn.widgets.FloatInput.from_param(p.alpha, name="α", width=90),
                   pn.widgets.FloatInput.from_param(p.alpha_min, name="α min", width=90),
                   pn.widgets.FloatInput.from_param(p.delta_break, name="δ_break", width=90)),
            pn.Row(pn.widgets.IntInput.from_param(p.max_steps, name="Steps per ride", width=90),
                   pn.widgets.FloatInput.from_param(p.lr_e, name="LR_e", width=90),
                   pn.widgets.FloatInput.from_param(p.entropy_weight, name="Entropy", width=90)),
            pn.widgets.CheckBoxGroup.from_param(p.end_rules, name="EndRide", inline=True),
            width=320,
        )
        return pn.Column(
            self._description,
            self._notice,
            self._controls,
            pn.Row(settings, self._plot, sizing_mode="stretch_width"),
            self._node_info,
            self.tree_plot,
            self.spectra,
            self.export,
            sizing_mode="stretch_width",
        )


VIEW = ViewSpec(key="ridge_rider", title="Ridge Rider", factory=RidgeRiderView, order=20)
