"""One grid API: rectangular grids over a 2-D plane, and the loss evaluated on them.

A :class:`Grid` is its two axes ``xs (nx,)`` and ``ys (ny,)``; values on it
are arrays of shape ``(ny, nx)`` (rows are y, as xarray's ``("y", "x")``), and
its cells in row-major order are the points ``[x, y]`` of :meth:`Grid.points`.
Every engine function that works on a 2-D grid takes a *grid spec*, resolved
by :meth:`Grid.of`:

* a :class:`Grid`;
* a pair of axes ``(xs, ys)``;
* a resolution ``n`` (or ``(nx, ny)``): evenly spaced points over a box
  ``((x0, x1), (y0, y1))``, usually the problem's view box.

Users: :func:`surface` (the loss over a 2-D problem's box),
:func:`landscape.slices.iter_slice` (coefficients ``alpha``/``beta`` along two
directions), :func:`landscape.critical.residual_map`,
:func:`landscape.games.iter_lyapunov_map` and
:func:`landscape.games.phase_portrait`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Union

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .kernel_cache import KERNELS
from .problems.base import Problem
from .results import result_attrs

Box = tuple[tuple[float, float], tuple[float, float]]


@dataclasses.dataclass(frozen=True, eq=False)
class Grid:
    """Axes ``xs`` and ``ys`` (1-D float arrays, read-only) of a rectangular grid."""

    xs: np.ndarray
    ys: np.ndarray

    def __post_init__(self):
        for name in ("xs", "ys"):
            axis = np.array(getattr(self, name), dtype=float)  # a private, read-only copy
            if axis.ndim != 1 or axis.size == 0 or not np.all(np.isfinite(axis)):
                raise ValueError(f"grid axis {name} must be a non-empty 1-D array of finite numbers, "
                                 f"got shape {axis.shape}")
            axis.flags.writeable = False
            object.__setattr__(self, name, axis)

    @classmethod
    def over(cls, box: Box, resolution: int | tuple[int, int]) -> Grid:
        """Evenly spaced ``resolution`` points per axis (or ``(nx, ny)``) over ``box``, ends included."""
        nx, ny = (resolution, resolution) if np.isscalar(resolution) else resolution
        if int(nx) != nx or int(ny) != ny or min(nx, ny) < 2:
            raise ValueError(f"a grid resolution must be whole numbers ≥ 2, got {resolution!r}")
        (x0, x1), (y0, y1) = box
        return cls(np.linspace(x0, x1, int(nx)), np.linspace(y0, y1, int(ny)))

    @classmethod
    def of(cls, spec: GridSpec, box: Box | None = None) -> Grid:
        """Resolve a grid spec (a Grid, ``(xs, ys)`` or a resolution over ``box``)."""
        if isinstance(spec, Grid):
            return spec
        if is_resolution(spec):
            if box is None:
                raise ValueError("a grid given as a resolution needs a box; give the axes (xs, ys) instead")
            return cls.over(box, spec)
        if not isinstance(spec, (tuple, list)) or len(spec) != 2:
            raise ValueError(f"a grid is a Grid, a resolution or the axes (xs, ys), got {spec!r}")
        return cls(*spec)

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``: the shape of values on the grid."""
        return len(self.ys), len(self.xs)

    @property
    def size(self) -> int:
        return len(self.xs) * len(self.ys)

    def points(self) -> np.ndarray:
        """The cells in row-major ``(y, x)`` order as ``(ny·nx, 2)`` points ``[x, y]``."""
        gx, gy = np.meshgrid(self.xs, self.ys)
        return np.c_[gx.ravel(), gy.ravel()]

    def coords(self) -> dict[str, np.ndarray]:
        """xarray coords ``{"x": xs, "y": ys}`` for values of dims ``("y", "x")``."""
        return {"x": self.xs, "y": self.ys}

    def including(self, points) -> Grid:
        """This grid with the coordinates of ``points (m, 2)`` that lie inside it added to the axes."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        inside = ((points[:, 0] >= self.xs.min()) & (points[:, 0] <= self.xs.max())
                  & (points[:, 1] >= self.ys.min()) & (points[:, 1] <= self.ys.max()))
        return Grid(np.union1d(self.xs, points[inside, 0]), np.union1d(self.ys, points[inside, 1]))


GridSpec = Union[Grid, int, tuple[Any, Any]]


def is_resolution(spec) -> bool:
    """Whether a grid spec is a resolution ``n`` or ``(nx, ny)`` (rather than a Grid or axes)."""
    def whole(value):
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    return whole(spec) or (isinstance(spec, (tuple, list)) and len(spec) == 2 and all(map(whole, spec)))


@KERNELS("grids.batched")
def _batched(loss):
    """Jitted ``points (m, 2) -> losses (m,)``."""
    return jax.jit(jax.vmap(loss))


def evaluate(loss, grid: Grid, dtype=None) -> np.ndarray:
    """``loss([x, y])`` at every cell, shape ``grid.shape``; non-finite values become NaN."""
    dtype = jnp.result_type(float) if dtype is None else dtype
    values = np.array(_batched(loss)(jnp.asarray(grid.points(), dtype=dtype)), dtype=float).reshape(grid.shape)
    values[~np.isfinite(values)] = np.nan
    return values


def surface(problem: Problem, grid: GridSpec = 121) -> xr.Dataset:
    """The loss of a 2-D problem on a grid (default: 121 × 121 over ``problem.bounds``).

    Returns kind ``"surface"``: ``loss (y, x)`` with coords ``x``, ``y``;
    non-finite losses are NaN.
    """
    if problem.dim != 2 or (problem.bounds is None and not isinstance(grid, (Grid, tuple, list))):
        raise ValueError(f"{problem.name} is not a 2-D surface (it has {problem.dim} parameters)")
    grid = Grid.of(grid, problem.bounds)
    config = {**problem.config(), "xs": [float(grid.xs[0]), float(grid.xs[-1]), len(grid.xs)],
              "ys": [float(grid.ys[0]), float(grid.ys[-1]), len(grid.ys)]}
    return xr.Dataset({"loss": (("y", "x"), evaluate(problem.loss, grid))}, coords=grid.coords(),
                      attrs=result_attrs("surface", config, problem=problem.name))
