"""The Landscape view's two modes, sharing the trajectory layer of :mod:`.layers`.

* :class:`SurfaceMode` (2-D problems): the loss over the problem's view box
  (``surface_grid``, evaluated in the runner's pool), runs drawn in ``(x, y)``.
* :class:`SliceMode` (networks): a 2-D slice ``L(c + α d₁ + β d₂)``
  (``landscape.slices.iter_slice``, streamed through the runner, cancellable)
  with centre ``c`` = ``problem.init(PRNGKey(0))`` or the end of the selected
  run, directions filter-normalised random (Li et al. 2018 §4), random, top
  Hessian eigenvectors or trajectory PCA.  Runs are drawn *projected* onto the
  plane by least squares; the caption reports the projection residual
  ``‖θ_t − c − α_t d₁ − β_t d₂‖``, which the picture cannot show.

A mode maps parameters to plot coordinates (:meth:`xy`) and back
(:meth:`point`), builds the live plot and the exported figure.
"""

from __future__ import annotations

import holoviews as hv
import jax
import numpy as np
import xarray as xr

from landscape import limits, slices
from landscape.problems import Problem

from ...components import cost
from ...components.surface import critical_points_element, frame_size, surface_element, surface_grid
from .layers import landscape_figure, slice_grid

#: Slice grid: SLICE_RESOLUTION² points (kept modest for a 2-core server), streamed in chunks.
SLICE_RESOLUTION = 31
SLICE_CHUNK = 64


class SurfaceMode:
    """A 2-D problem: its surface over the view box; runs in parameter space."""

    def __init__(self, view) -> None:
        self.view, self.problem = view, view.problem
        self.grid: xr.Dataset | None = None

    def load(self) -> None:
        problem = self.problem
        self.view.background.submit(lambda: surface_grid(problem), self._loaded, label="Evaluating the surface…")

    def _loaded(self, grid: xr.Dataset) -> None:
        if self.view.mode is self:
            self.grid = grid
            self.view.show_plot()

    def xy(self, theta: np.ndarray) -> np.ndarray:
        return theta[..., :2]

    def point(self, x: float, y: float) -> np.ndarray:
        return np.array([float(x), float(y)])

    def plot(self, on_tap) -> tuple[hv.Element | None, dict]:
        if self.grid is None:
            return None, {}
        base = surface_element(self.grid, self.view.levels, self.view.color_scale) * critical_points_element(self.problem)
        self.tap = hv.streams.SingleTap(source=base.Image.I, transient=True)
        self.tap.add_subscriber(on_tap)
        (x0, x1), (y0, y1) = self.problem.bounds
        title = f"{self.problem.name}: click to add starts (spectrum below)"
        return base, {"title": title, "xlim": (x0, x1), "ylim": (y0, y1), **frame_size(self.problem.bounds)}

    def figure(self, result: xr.Dataset | None) -> hv.Overlay:
        if self.grid is None:
            raise ValueError("the surface is still being evaluated")
        return landscape_figure(self.grid, self.problem, result, levels=self.view.levels, scale=self.view.color_scale)

    def projected(self, result: xr.Dataset) -> None:
        return None

    def grid_data(self) -> xr.Dataset | None:
        """The surface on its grid (``loss (y, x)``), once evaluated."""
        return self.grid

    def random_points(self, n: int, rng: np.random.Generator, add) -> None:
        """``add(points)`` with ``n`` points uniform over the view box."""
        box = np.asarray(self.problem.bounds, dtype=float)
        add(rng.uniform(box[:, 0], box[:, 1], size=(n, 2)))

    def start_names(self, starts: np.ndarray) -> list[str]:
        return [f"({x:.2f}, {y:.2f})" for x, y in starts]

    def caption(self, result: xr.Dataset, run: int) -> str:
        return ""


class SliceMode:
    """A network: a streamed 2-D slice through a centre; runs projected onto its plane."""

    def __init__(self, view) -> None:
        self.view, self.problem = view, view.problem
        self.plane: tuple[np.ndarray, np.ndarray] | None = None  # (centre, directions (2, dim))
        self.pipe = hv.streams.Pipe(data=slice_grid(np.full((2, 2), np.nan), np.r_[-1.0, 1.0], np.r_[-1.0, 1.0]))

    def load(self) -> None:
        if not self.view.runner.running:  # else the view slices once the old job has wound down
            self.compute()

    def compute(self) -> None:
        """(Re)compute the slice with the view's directions and span around the current centre.

        Centre: the end of the selected (else first) run of the view's result,
        else ``problem.init(PRNGKey(0))``; the starts are reset to it.
        """
        view, problem = self.view, self.problem
        trajectory = self._trajectory()
        kind, span, resolution = view.direction, view.span, view.resolution
        limits.check_grid(resolution, resolution)
        if kind == "pca" and trajectory is None:
            raise ValueError("PCA directions need a run first (they are the principal directions of its path)")
        grid = np.linspace(-span, span, resolution)

        def blank() -> None:  # the new span and title over an empty grid: after "Compiling…" is shown
            if view.mode is self:
                self.plane = None
                self.pipe.send(slice_grid(np.full((resolution, resolution), np.nan), grid, grid))
                view.show_plot()

        def stream(cancel):
            centre = trajectory[-1] if trajectory is not None else np.asarray(problem.init(jax.random.PRNGKey(0)))
            directions = slices.make_directions(problem, kind, centre, 2, trajectory=trajectory)
            return slices.iter_slice(
                problem, centre, directions, grid, chunk=SLICE_CHUNK, direction_kind=kind, cancel=cancel,
                executor=view.executor,
            )

        def streamed(event) -> None:
            if view.mode is self:
                self.pipe.send(slice_grid(event.partial.loss.values, grid, grid))

        view.runner.start(stream, streamed, lambda ds: self._done(ds) if view.mode is self else None,
                          estimate=lambda: cost.estimate(problem, resolution**2), prepare=blank)

    def _trajectory(self) -> np.ndarray | None:
        result, run = self.view.result, self.view.selected
        if result is None:
            return None
        theta = result.theta.values[run if 0 <= run < result.sizes["run"] else 0]
        theta = theta[np.isfinite(theta).all(axis=1)]
        return theta if len(theta) >= 2 else None

    def _done(self, ds: xr.Dataset) -> None:
        self.view.set_slice(ds)
        if ds.attrs.get("status") == "cancelled":
            return
        self.adopt(ds)
        self.view.starts = self.plane[0][None]
        self.view.show(self.view.result)

    def adopt(self, ds: xr.Dataset) -> None:
        """Show the finished slice ``ds`` (computed here, or reopened from a saved exploration)."""
        self.view.set_slice(ds)
        self.plane = (ds.centre.values, ds.directions.values)
        self.pipe.send(slice_grid(ds.loss.values, ds.alpha.values, ds.beta.values))

    def grid_data(self) -> xr.Dataset | None:
        """The finished slice as a ``loss (y, x)`` grid over ``(α, β)``."""
        ds = self.view.slice_result
        return None if ds is None or self.plane is None else slice_grid(ds.loss.values, ds.alpha.values, ds.beta.values)

    def random_points(self, n: int, rng: np.random.Generator, add) -> None:
        """``add(points)`` with ``n`` draws of the problem's initialiser (sampled in the pool)."""
        problem, keys = self.problem, rng.integers(1, 2**31 - 1, size=n)

        def sample():
            return np.stack([np.asarray(problem.init(jax.random.PRNGKey(int(k)))) for k in keys])

        self.view.background.submit(sample, add, label="Sampling starts…")

    def start_names(self, starts: np.ndarray) -> list[str]:
        return [f"start {i} (α {a:.2f}, β {b:.2f})" for i, (a, b) in enumerate(self.xy(starts))]

    def xy(self, theta: np.ndarray) -> np.ndarray:
        if self.plane is None:
            return np.zeros(theta.shape[:-1] + (2,))
        return slices.project(theta, *self.plane)[0]

    def point(self, alpha: float, beta: float) -> np.ndarray:
        """``c + α d₁ + β d₂``: the parameters at a point of the slice."""
        if self.plane is None:
            raise ValueError("the slice is not computed yet")
        centre, directions = self.plane
        return centre + np.array([alpha, beta]) @ directions

    def plot(self, on_tap) -> tuple[hv.Element, dict]:
        # the tap is a DynamicMap's own stream (a DynamicMap as a stream's `source` never gets taps): that of an
        # empty layer, so a click redraws it, not the slice's image and contours (sent to the browser before
        # the click's "Timing…", they held that feedback back for seconds)
        self.tap = hv.streams.SingleTap(transient=True)
        self.tap.add_subscriber(on_tap)
        levels, scale = self.view.levels, self.view.color_scale
        taps = hv.DynamicMap(lambda x, y: hv.Points(np.zeros((0, 2)), ["x", "y"]), streams=[self.tap])
        base = hv.DynamicMap(lambda data: surface_element(data, levels, scale), streams=[self.pipe]) * taps
        span = self.view.span
        title = f"Slice L(c + α d₁ + β d₂), {self.view.direction} directions"  # paths: projections (caption)
        return base, {"title": title, "xlim": (-span, span), "ylim": (-span, span), "xlabel": "α", "ylabel": "β",
                      "framewise": False, **frame_size(((-span, span), (-span, span)))}  # fmt: skip

    def figure(self, result: xr.Dataset | None) -> hv.Overlay:
        ds = self.view.slice_result
        if ds is None:
            raise ValueError(f"{self.problem.name} has no 2-D picture to export yet")
        grid = slice_grid(ds.loss.values, ds.alpha.values, ds.beta.values)
        projection = self.projected(result) if result is not None else None
        plane = None if projection is None else np.stack([projection.alpha.values, projection.beta.values], -1)
        return landscape_figure(grid, self.problem, result, plane, levels=self.view.levels, scale=self.view.color_scale)

    def projected(self, result: xr.Dataset) -> xr.Dataset | None:
        """Plane coordinates and projection residuals of every run: ``alpha, beta, residual (run, step)``."""
        if self.plane is None:
            return None
        theta = result.theta.values
        coef, residual = slices.project(theta, *self.plane)
        distance = np.linalg.norm(theta - self.plane[0], axis=-1)
        return xr.Dataset(
            {
                "alpha": (("run", "step"), coef[..., 0]),
                "beta": (("run", "step"), coef[..., 1]),
                "residual": (("run", "step"), residual,
                             {"description": "‖θ_t − c − α d₁ − β d₂‖: distance to the plane, not visible"}),
                "relative_residual": (("run", "step"), residual / np.where(distance > 0, distance, 1.0)),
            },
            coords={"step": result.step.values},
        )  # fmt: skip

    def caption(self, result: xr.Dataset, run: int) -> str:
        """What the drawn (projected) path of ``run`` hides: its distance to the plane (evaluates the loss)."""
        projection = self.projected(result)
        theta = result.theta.values[run]
        finite = np.flatnonzero(np.isfinite(theta).all(axis=1))
        if projection is None or not len(finite):
            return ""
        residual = projection.residual.values[run, finite]
        relative = projection.relative_residual.values[run, finite]
        centre, directions = self.plane
        coef = np.array([projection.alpha.values[run, finite[-1]], projection.beta.values[run, finite[-1]]])
        under = float(slices.evaluate_chunk(self.problem.loss, centre, directions, coef[None])[0])
        at = float(result.loss.values[run, finite[-1]])
        return (
            "<b>The highlighted (magenta) path is a projection, not a walk on this surface.</b> "
            f"Distance from θ<sub>t</sub> to the slice plane (projection residual): up to {residual.max():.3g} "
            f"({relative.max():.0%} of ‖θ<sub>t</sub> − c‖), {residual[-1]:.3g} at the end. "
            f"Loss at the end: L(θ<sub>T</sub>) = {at:.4g}; the surface under the drawn end point: {under:.4g}. "
            f"‖θ<sub>T</sub> − c‖ = {np.linalg.norm(theta[finite[-1]] - centre):.3g}."
        )


def mode_for(problem: Problem):
    """The mode that shows ``problem``: its surface if it is 2-D, else a slice."""
    return SurfaceMode if problem.is_2d else SliceMode
