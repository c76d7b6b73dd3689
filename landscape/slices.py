"""1-D and 2-D slices of a loss along chosen directions, and trajectories on the plane.

A slice evaluates ``L(c + α d₁ + β d₂)`` on a grid of ``(α, β)`` around a
centre ``c`` (1-D: ``L(c + α d₁)``).  Directions (rows of a ``(k, dim)``
array, ``k`` = 1 or 2) come from :func:`make_directions`:

* ``"filter"``: Li et al. 2018 ("Visualizing the Loss Landscape of Neural
  Nets", §4) filter-normalised Gaussian directions.  For every weight matrix
  ``W`` (``(out, in)``) of the network, each row ``d_i`` of the direction
  (the incoming weights of neuron i, the "filter") is rescaled to the norm of
  the corresponding weight row: ``d_i ← d_i / ‖d_i‖ · ‖W_i‖``.  Biases (1-D
  leaves) get a *zero* direction by default, as in Li et al.; with
  ``include_bias=True`` the bias direction is the bias vector itself, which is
  what their reference code does for 1-D parameters (``ignore=""``).
* ``"random"``: Gaussian directions scaled to unit norm (for any problem).
* ``"hessian"``: the top-k Hessian eigenvectors at the centre, from
  :func:`landscape.curvature.lanczos` (unit norm, orthogonal).
* ``"pca"``: the top principal directions of ``θ_t − θ_final`` along a
  trajectory (Li et al. §7): right singular vectors of the ``(T, dim)``
  matrix of differences, orthonormal, with their explained variance.

Random directions are *not* orthogonal, so a trajectory is placed on the
plane by least squares: ``(α_t, β_t) = argmin ‖θ_t − c − α d₁ − β d₂‖``; the
remaining distance ``‖θ_t − c − α_t d₁ − β_t d₂‖`` is the *projection
residual*.  The projected path is drawn over a surface that the trajectory
itself may be far from: ``path_loss`` (the loss at θ_t, what the optimizer
saw) and ``path_loss_in_plane`` (the loss at the projected point, what the
picture shows) differ exactly when the residual is large.

Grid points are evaluated by one jitted kernel in chunks of fixed size (the
last chunk is padded, so a grid compiles once): the fast plane kernel of
:mod:`landscape.plane` for MLPs (float32 by default), else the generic kernel:
a ``vmap`` of the loss over the chunk's points when one evaluation is cheap,
and ``lax.map`` (one point at a time inside the compiled call) when it costs
at least :data:`landscape.plane.MAP_THRESHOLD` FLOPs by XLA's cost analysis,
where batching different weights turns every matmul and convolution into a
slow batched one (cnn-digits, 79 MFLOP a point: 3.2× faster than ``vmap``).
Its chunk holds about :data:`landscape.plane.FLOP_BUDGET` FLOPs, at most
:data:`GENERIC_CHUNK` points.  Each chunk is a pure task (:func:`slice_task`, DESIGN.md "Scale-out") that
:func:`iter_slice` hands to an executor (:mod:`landscape.executor`: in-process, or a
Dask cluster) and may write to a resumable store (:mod:`landscape.stores`); it
streams the chunks (``landscape.jobs`` convention) and :func:`slice_loss` runs it
to the end.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.flatten_util import ravel_pytree

from . import limits
from .curvature import lanczos
from .executor import Executor, ProblemRef, Sweep, chunk_ranges, run_chunks
from .grids import Grid
from .jobs import CancelToken, Event, Stream, drive
from .kernel_cache import KERNELS
from .plane import FLOP_BUDGET, MAP_THRESHOLD, MLPPlane, floor_pow2
from .problems.base import Problem
from .results import result_attrs
from .stores import SweepStore

Array = jax.Array

DIRECTION_KINDS = ("filter", "random", "hessian", "pca")
#: Most points per chunk of the generic kernel (cheap points: streaming granularity).
GENERIC_CHUNK = 256


def filter_normalize(direction, theta, unravel: Callable, include_bias: bool = False,
                     output_axis: int = 0) -> Array:
    """Li et al. (2018) §4 filter normalisation of a flat ``direction`` at ``theta``.

    Leaves with ≥ 2 dims (weight matrices ``(out, in)``, conv kernels
    ``(out, in, kh, kw)``): the slice of output unit / channel i (index i on
    ``output_axis``; -1 for Flax's ``(…, in, out)`` layout) scaled to the norm
    of the weights' slice i.  1-D leaves (biases): zero, or the bias itself
    when ``include_bias``.  A zero direction slice stays zero (no division by zero).
    """

    def normalize(d, w):
        if w.ndim <= 1:
            return w if include_bias else jnp.zeros_like(d)
        d_out, w_out = jnp.moveaxis(d, output_axis, 0), jnp.moveaxis(w, output_axis, 0)
        d_rows = d_out.reshape(d_out.shape[0], -1)
        w_rows = w_out.reshape(w_out.shape[0], -1)
        d_norm = jnp.linalg.norm(d_rows, axis=1, keepdims=True)
        safe_norm = jnp.where(d_norm > 0, d_norm, 1.0)
        scale = jnp.where(d_norm > 0, jnp.linalg.norm(w_rows, axis=1, keepdims=True) / safe_norm, 0.0)
        return jnp.moveaxis((d_rows * scale).reshape(d_out.shape), 0, output_axis)

    tree = jax.tree.map(normalize, unravel(direction), unravel(theta))
    return ravel_pytree(tree)[0]


def pca_directions(trajectory, k: int = 2, final=None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` principal directions of ``θ_t − θ_final`` (Li et al. 2018, §7).

    Returns ``(directions (k, dim) orthonormal rows, explained variance ratio (k,))``.
    Non-finite rows (diverged steps) are ignored.
    """
    trajectory = np.asarray(trajectory, dtype=float)
    trajectory = trajectory[np.isfinite(trajectory).all(axis=1)]
    final = trajectory[-1] if final is None else np.asarray(final, dtype=float)
    _, s, vt = np.linalg.svd(trajectory - final, full_matrices=False)
    if len(s) < k:
        raise ValueError(f"need at least {k} trajectory points for {k} PCA directions")
    return vt[:k], s[:k] ** 2 / np.sum(s**2)


def make_directions(
    problem: Problem,
    kind: str,
    centre,
    k: int = 2,
    *,
    key: Array | None = None,
    trajectory=None,
    include_bias: bool = False,
) -> np.ndarray:
    """``k`` slice directions of the given ``kind`` (see the module docstring) as ``(k, dim)``."""
    if kind not in DIRECTION_KINDS:
        raise ValueError(f"unknown direction kind {kind!r}; choose from {', '.join(DIRECTION_KINDS)}")
    if k not in (1, 2):
        raise ValueError(f"a slice has 1 or 2 directions, got k={k}")
    centre = jnp.asarray(centre)
    key = jax.random.PRNGKey(0) if key is None else key
    if kind == "hessian":
        return np.asarray(lanczos(problem.loss, centre, k, "largest")[1].T)
    if kind == "pca":
        if trajectory is None:
            raise ValueError("PCA directions need a trajectory (T, dim)")
        return pca_directions(trajectory, k)[0]
    raw = jax.random.normal(key, (k, problem.dim), centre.dtype)
    if kind == "random":
        return np.asarray(raw / jnp.linalg.norm(raw, axis=1, keepdims=True))
    if problem.unravel is None:
        raise ValueError(f"filter normalisation needs a layered network; {problem.name} has none (use 'random')")
    output_axis = problem.extras.get("output_axis", 0)  # where a weight leaf keeps its output units
    return np.stack([np.asarray(filter_normalize(d, centre, problem.unravel, include_bias, output_axis))
                     for d in raw])


def project(trajectory, centre, directions) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares plane coordinates of each trajectory point and the residual distance.

    ``trajectory`` is ``(..., dim)``; returns ``(coefficients (..., k),
    residual (...))`` with ``residual = ‖θ − c − Σ_j coef_j d_j‖₂``.  NaN rows
    (diverged steps) stay NaN.
    """
    trajectory = np.asarray(trajectory, dtype=float)
    directions = np.atleast_2d(np.asarray(directions, dtype=float))
    offset = trajectory - np.asarray(centre, dtype=float)
    coef = offset @ np.linalg.pinv(directions)  # rows: argmin_c ‖offset − c D‖
    residual = np.linalg.norm(offset - coef @ directions, axis=-1)
    return coef, residual


@KERNELS("slices.point_flops")
def point_flops(loss: Callable[[Array], Array], dim: int, dtype: str) -> float:
    """XLA's estimate of the FLOPs of one ``loss(θ)``, θ of shape ``(dim,)`` and ``dtype`` (0 if it has none)."""
    analysis = jax.jit(loss).lower(jax.ShapeDtypeStruct((dim,), jnp.dtype(dtype))).cost_analysis()
    if isinstance(analysis, (list, tuple)):  # one entry per device in some JAX versions
        analysis = analysis[0] if analysis else None
    return float((analysis or {}).get("flops", 0.0))


@KERNELS("slices._evaluator")
def _evaluator(loss: Callable[[Array], Array]):
    """Jitted ``(centre, directions (k, dim), coefficients (m, k)) -> losses (m,)``: ``vmap`` over the
    points, or ``lax.map`` when one point costs at least ``MAP_THRESHOLD`` FLOPs (module docstring)."""

    @jax.jit
    def evaluate(centre, directions, coefficients):
        def point(c):
            return loss(centre + c @ directions)

        if point_flops(loss, centre.shape[0], str(centre.dtype)) >= MAP_THRESHOLD:
            return jax.lax.map(point, coefficients)
        return jax.vmap(point)(coefficients)

    return evaluate


def generic_chunk(loss: Callable[[Array], Array], dim: int) -> int:
    """Points per chunk of the generic kernel: about ``FLOP_BUDGET`` FLOPs, a power of two ≤ ``GENERIC_CHUNK``."""
    flops = point_flops(loss, dim, str(jnp.result_type(float)))
    return GENERIC_CHUNK if flops <= 0 else min(GENERIC_CHUNK, floor_pow2(FLOP_BUDGET / flops))


@KERNELS("slices._plane_evaluator")
def _plane_evaluator(plane: MLPPlane):
    """Jitted fast kernel of an MLP problem (:mod:`landscape.plane`), same signature as :func:`_evaluator`."""
    return jax.jit(plane.losses)


def evaluate_chunk(loss: Callable[[Array], Array], centre, directions, coefficients) -> np.ndarray:
    """``L(c + Σ_j a_j d_j)`` for each row ``a`` of ``coefficients (m, k)``: one chunk of a grid.

    The unit of work of a slice (DESIGN.md "Scale-out"): pure, so chunks can
    also be mapped over workers (e.g. Dask) instead of :func:`iter_slice`'s loop.
    """
    centre = jnp.asarray(centre)
    return np.asarray(_evaluator(loss)(centre, jnp.asarray(directions, centre.dtype),
                                       jnp.asarray(coefficients, centre.dtype)))


def slice_kernel(problem: Problem, loss: Callable[[Array], Array] | None = None, dtype=None):
    """How a slice of ``problem`` is evaluated: ``(evaluate, dtype, chunk)``.

    The fast plane kernel (:class:`landscape.plane.MLPPlane`, in ``problem.extras["plane"]``)
    serves the problem's own loss and defaults to float32 (sweeps need no float64;
    critical-point work keeps it); any other problem or a custom ``loss`` gets the
    generic kernel in the centre's dtype (``dtype=None``).  ``chunk`` is the plane's
    cost-model chunk size, else :func:`generic_chunk`'s.
    """
    plane = problem.extras.get("plane") if loss is None or loss is problem.loss else None
    if plane is None:
        loss = problem.loss if loss is None else loss
        return _evaluator(loss), dtype, generic_chunk(loss, problem.dim)
    dtype = jnp.dtype(jnp.float32 if dtype is None else dtype)
    return _plane_evaluator(plane), dtype, plane.chunk_size(dtype.itemsize)


@KERNELS("slices._batched")
def _batched(loss: Callable[[Array], Array]):
    """Jitted ``thetas (m, dim) -> losses (m,)``."""
    return jax.jit(jax.vmap(loss))


def iter_slice(
    problem: Problem,
    centre,
    directions,
    alpha,
    beta=None,
    *,
    chunk: int | None = None,
    trajectory=None,
    loss: Callable[[Array], Array] | None = None,
    direction_kind: str = "custom",
    cancel: CancelToken | None = None,
    dtype=None,
    executor: Executor | None = None,
    store=None,
) -> Stream[xr.Dataset]:
    """Evaluate the loss on the slice grid, yielding one Event per chunk of points.

    ``directions`` is ``(k, dim)`` with k = 1 (grid ``alpha``) or 2 (grid
    ``beta × alpha``; ``beta`` defaults to ``alpha``; or ``alpha`` a
    :class:`landscape.grids.Grid` with xs = α and ys = β).  ``loss`` defaults to
    ``problem.loss``.  The kernel, its dtype and its default ``chunk`` come from
    :func:`slice_kernel` (float32 for networks with a fast kernel; ``dtype`` overrides);
    a chunk smaller than the grid is padded to the next power of two, so all grids
    of a similar size share one compilation.  Chunks are pure tasks (:func:`slice_task`)
    run by ``executor`` (:mod:`landscape.executor`; in-process by default, or a Dask
    cluster: events then arrive in completion order); with ``store`` (a zarr path) each
    finished chunk is written there and a rerun resumes (:mod:`landscape.stores`).
    Each ``Event("chunk")``'s ``partial`` is a read-only view of the slice Dataset,
    which the sweep fills in place: ``loss`` NaN where not yet evaluated, the path
    variables (with a ``trajectory``) already there; a chunk whose task raised leaves
    its cells NaN and its reason in ``attrs["failed_chunks"]``.  Returns the
    Dataset of :func:`slice_loss` (partial, ``status="cancelled"``, when cancelled); its
    ``attrs["dtype"]`` is the sweep's dtype.
    """
    _, sweep_dtype, default_chunk = slice_kernel(problem, loss, dtype)
    loss = problem.loss if loss is None else loss
    centre = jnp.asarray(centre)
    directions = jnp.atleast_2d(jnp.asarray(directions, centre.dtype))
    k = directions.shape[0]
    if k not in (1, 2) or directions.shape[1] != problem.dim or centre.shape != (problem.dim,):
        raise ValueError(f"need centre ({problem.dim},) and directions (1 or 2, {problem.dim}), got "
                         f"{centre.shape} and {directions.shape}")
    if isinstance(alpha, Grid):  # the one grid API: xs are the alpha, ys the beta coefficients
        alpha, beta = alpha.xs, alpha.ys
    alpha = np.asarray(alpha, dtype=float)
    beta = (alpha if beta is None else np.asarray(beta, dtype=float)) if k == 2 else None
    limits.check_grid(alpha.size, 1 if beta is None else beta.size)
    if k == 2:
        bb, aa = np.meshgrid(beta, alpha, indexing="ij")
        coefficients, shape, dims = np.c_[aa.ravel(), bb.ravel()], bb.shape, ("beta", "alpha")
    else:
        coefficients, shape, dims = alpha[:, None], alpha.shape, ("alpha",)
    n = len(coefficients)
    chunk = min(max(1, chunk or default_chunk), 1 << (n - 1).bit_length())
    sweep_dtype = str(jnp.dtype(centre.dtype if sweep_dtype is None else sweep_dtype))
    ranges = chunk_ranges(n, chunk)
    coords = {"alpha": alpha, "direction": np.arange(k), "param": np.arange(problem.dim)}
    if k == 2:
        coords["beta"] = beta
    data = {
        "loss": (dims, np.full(shape, np.nan)),
        "directions": (("direction", "param"), np.asarray(directions)),
        "centre": (("param",), np.asarray(centre)),
        "centre_loss": ((), float(_batched(loss)(centre[None])[0])),
    }
    if trajectory is not None:
        data.update(_path_variables(loss, trajectory, centre, directions))
    config = {
        **problem.config(),
        "direction_kind": direction_kind,
        "alpha": [float(alpha[0]), float(alpha[-1]), len(alpha)],
        "beta": None if beta is None else [float(beta[0]), float(beta[-1]), len(beta)],
        "chunk": chunk,
    }
    kind = "slice-2d" if k == 2 else "slice-1d"
    result = xr.Dataset(data, coords=coords, attrs=result_attrs(kind, config, status="running", points_done=0,
                                                                 dtype=sweep_dtype))
    store = None if store is None else SweepStore.open(store, result, ["loss"], ranges)
    grid = result["loss"].values.reshape(-1)  # a view: the sweep fills the result in place
    sweep = Sweep({"loss": grid}, ranges)
    ref = ProblemRef(problem if loss is problem.loss else loss)
    args = (np.asarray(centre), np.asarray(directions))
    calls = [(i, (ref, *args, _padded(coefficients, start, stop, chunk), stop - start, sweep_dtype))
             for i, (start, stop) in enumerate(ranges)]
    for outcome in run_chunks(slice_task, calls, executor=executor, store=store, cancel=cancel):
        sweep.apply(outcome)
        yield Event("chunk", sweep.done, n, sweep.partial(result))
    result.attrs.update(sweep.finish(store))
    return result


def _padded(coefficients: np.ndarray, start: int, stop: int, chunk: int) -> np.ndarray:
    """Rows ``start:stop`` zero-padded to ``chunk`` rows, so every chunk has one shape (one compile)."""
    padded = np.zeros((chunk, coefficients.shape[1]))
    padded[: stop - start] = coefficients[start:stop]
    return padded


def slice_task(loss: ProblemRef, centre: np.ndarray, directions: np.ndarray, coefficients: np.ndarray,
               count: int, dtype: str) -> dict[str, np.ndarray]:
    """One chunk of a slice as a pure task (DESIGN.md "Scale-out"): ``{"loss": L(c + a·D)}`` for the
    first ``count`` rows ``a`` of ``coefficients``, computed in ``dtype``.  ``loss`` refers to a
    problem (evaluated by its :func:`slice_kernel`, the fast plane kernel where it has one) or a
    loss callable (the generic kernel), so a worker computes what the in-process sweep computes."""
    target = loss.resolve()
    evaluate = slice_kernel(target)[0] if isinstance(target, Problem) else _evaluator(target)
    values = evaluate(*(jnp.asarray(v, dtype) for v in (centre, directions, coefficients)))
    return {"loss": np.asarray(values)[:count]}


def _path_variables(loss, trajectory, centre, directions) -> dict:
    """Projected path: plane coordinates, residual, and the loss on and off the plane."""
    trajectory = np.asarray(trajectory, dtype=float)
    if trajectory.ndim != 2 or trajectory.shape[1] != centre.shape[0]:
        raise ValueError(f"trajectory must be (T, {centre.shape[0]}), got {trajectory.shape}")
    finite = np.isfinite(trajectory).all(axis=1)
    coef, residual = project(trajectory, centre, directions)
    centre_np, directions_np = np.asarray(centre), np.asarray(directions)
    batched = _batched(loss)
    on_path = np.asarray(batched(jnp.asarray(np.where(finite[:, None], trajectory, centre_np), centre.dtype)))
    in_plane = centre_np + np.where(finite[:, None], coef, 0.0) @ directions_np
    on_plane = np.asarray(batched(jnp.asarray(in_plane, centre.dtype)))
    offset_norm = np.linalg.norm(trajectory - centre_np, axis=1)
    described = {
        "path_alpha": (coef[:, 0], "least-squares plane coordinate along direction 0"),
        "path_beta": (coef[:, -1], "least-squares plane coordinate along direction 1"),
        "path_residual": (residual, "distance from θ_t to the plane (NOT visible in the slice picture)"),
        "path_relative_residual": (residual / np.where(offset_norm > 0, offset_norm, 1.0),
                                   "path_residual / ‖θ_t − centre‖"),
        "path_loss": (np.where(finite, on_path, np.nan), "loss at θ_t: what the optimizer saw"),
        "path_loss_in_plane": (np.where(finite, on_plane, np.nan),
                               "loss at the projected point: the surface value under the drawn path"),
    }
    if coef.shape[1] == 1:
        del described["path_beta"]
    variables = {name: (("step",), values, {"description": text}) for name, (values, text) in described.items()}
    return variables


def slice_loss(
    problem: Problem,
    centre,
    directions,
    alpha,
    beta=None,
    *,
    chunk: int | None = None,
    trajectory=None,
    loss: Callable[[Array], Array] | None = None,
    direction_kind: str = "custom",
    cancel: CancelToken | None = None,
    dtype=None,
    executor: Executor | None = None,
    store=None,
) -> xr.Dataset:
    """The loss on a 1-D or 2-D slice as a Dataset.

    Variables: ``loss`` over ``(beta, alpha)`` (2-D; rows are β) or
    ``(alpha,)`` (1-D) (kinds ``"slice-2d"``/``"slice-1d"``), the ``directions
    (direction, param)``, the ``centre (param)`` and ``centre_loss``; with a
    ``trajectory (T, dim)`` also, per ``step`` of it: ``path_alpha``/``path_beta`` (least-squares plane coordinates),
    ``path_residual`` (distance from θ_t to the plane point; *not* shown by the
    2-D picture), ``path_relative_residual`` (residual / ‖θ_t − c‖),
    ``path_loss`` (L(θ_t)) and ``path_loss_in_plane`` (L at the projected
    point, i.e. the surface value under the drawn path).
    """
    return drive(iter_slice(problem, centre, directions, alpha, beta, chunk=chunk, trajectory=trajectory,
                            loss=loss, direction_kind=direction_kind, cancel=cancel, dtype=dtype,
                            executor=executor, store=store))
