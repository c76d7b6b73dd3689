"""Finite-time Lyapunov exponents of optimizers on games (Lorraine §5.3, App. C).

Along the k-step trajectory ω⁰ … ω^{k−1} of a fixed-point map F with
one-step Jacobians J^j = ∇F(ω^j) (eq. 5.7), the thesis defines

    λ̂_k(ω⁰, d) = (1/k) Σ_{j=1..k} γ_j,   γ_j = log(dᵀ (J^{j−1})ᵀ J^{j−1} d)     (5.8, 5.9)
    λ̂_k^max(ω⁰) = max_{‖d‖=1} λ̂_k(ω⁰, d)                                          (5.10)
    J† = (1/k) Σ_j (J^{j−1})ᵀ J^{j−1},   λ̂_k^max ≈ top eigenvalue of J†            (5.11, 5.12)

and the top-n objectives "sum" (5.14) and "min" (5.16) over orthonormal
directions.  J^j is the one-step Jacobian at iterate j (the thesis never
multiplies Jacobians; see the notes §1.2).  Units: every exponent here is in
the thesis's γ units, *log of squared stretch per step*; eq. 5.12 is read
with a log (log λ(J†)) so all strategies share those units.

Direction strategies (Fig. C.2), each returning n values and directions:

``eigh``     top-n eigenpairs of J† by ``jnp.linalg.eigh`` (differentiable; eq. 5.11-5.12);
``power``    the same from 10 steps of block power iteration on J† plus Rayleigh-Ritz;
``each``     re-estimate per step: (1/k) Σ_j log λ_i((J^j)ᵀJ^j) (upper bound of 5.10);
``first``    tune d once on (J⁰)ᵀJ⁰, then evaluate eq. 5.8 (lower bound of 5.10);
``random``   random orthonormal d, eq. 5.8.

By Jensen, max_d λ̂_k(d) ≤ log λ_max(J†), and max_d λ̂_k(d) lies between
``first`` and ``each``.  For a linear map all strategies give
2 log σ_i(A) (``random``: log dᵀAᵀAd).

The textbook finite-time exponents of the *product* J^{k−1}⋯J⁰ (Benettin's
QR re-orthonormalisation; not in the thesis) are the cross-check
:func:`benettin_exponents`, in the same units: (2/k) Σ_j log|R^j_ii|.
"""

from __future__ import annotations

from collections.abc import Generator

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from .. import limits
from ..executor import Executor, ProblemRef, Sweep, chunk_ranges, iter_batches, run_chunks
from ..grids import Grid
from ..jobs import CancelToken, Event, drive, frozen, is_cancelled
from ..kernel_cache import KERNELS
from ..problems import Game
from ..results import result_attrs
from ..stores import SweepStore
from . import rules
from .definitions import subspace_basis, subspace_game
from .rules import FixedPointMap, as_arrays, as_points, fixed_point_map, game_config, in_point_batches, resolve

Array = jax.Array
DIRECTIONS = ("eigh", "power", "each", "first", "random")
OBJECTIVES = ("max", "sum", "min")
_TINY = 1e-300


def trajectory_jacobians(fmap: FixedPointMap, z0: Array, h: dict, k: int) -> tuple[Array, Array]:
    """States z⁰ … z^{k−1} and one-step Jacobians J^j = ∇F(z^j), shape (k, D, D)."""

    def body(z, _):
        return fmap.step(z, h), (z, jax.jacfwd(fmap.step)(z, h))

    _, (zs, js) = jax.lax.scan(body, z0, None, length=k)
    return zs, js


def _log(x):
    return jnp.log(jnp.maximum(x, _TINY))


def _directional(grams: Array, d: Array) -> Array:
    """λ̂_k(d_l) of eq. 5.8 for the columns of d: mean_j log(d_lᵀ M_j d_l)."""
    quad = jnp.einsum("dl,kde,el->kl", d, grams, d)
    return jnp.mean(_log(quad), axis=0)


def _power_subspace(gram: Array, n: int, key: Array, iters: int = 10) -> tuple[Array, Array]:
    q = jnp.linalg.qr(jax.random.normal(key, (gram.shape[0], n), gram.dtype))[0]
    for _ in range(iters):
        q = jnp.linalg.qr(gram @ q)[0]
    small, u = jnp.linalg.eigh(q.T @ gram @ q)
    return small[::-1], (q @ u)[:, ::-1]


def exponents_from_jacobians(js: Array, n: int = 1, directions: str = "eigh",
                             key: Array | None = None) -> tuple[Array, Array]:
    """Top-n exponents (γ units) and their directions (D, n) from one-step Jacobians."""
    grams = jnp.einsum("kij,kil->kjl", js, js)  # (J^j)ᵀ J^j
    if key is None:
        key = jax.random.PRNGKey(0)
    if directions == "eigh":
        evals, evecs = jnp.linalg.eigh(jnp.mean(grams, axis=0))
        return _log(evals[::-1][:n]), evecs[:, ::-1][:, :n]
    if directions == "power":
        evals, evecs = _power_subspace(jnp.mean(grams, axis=0), n, key)
        return _log(evals), evecs
    if directions == "each":
        evals, evecs = jax.vmap(jnp.linalg.eigh)(grams)
        return jnp.mean(_log(evals[:, ::-1][:, :n]), axis=0), evecs[0][:, ::-1][:, :n]
    if directions == "first":
        d = jnp.linalg.eigh(grams[0])[1][:, ::-1][:, :n]
        return _directional(grams, d), d
    if directions == "random":
        d = jnp.linalg.qr(jax.random.normal(key, (js.shape[-1], n), js.dtype))[0]
        return _directional(grams, d), d
    raise ValueError(f"unknown direction strategy {directions!r}; choose from {DIRECTIONS}")


def objective_value(values: Array, objective: str) -> Array:
    """max (eq. 5.10/5.13), sum (5.14) or min (5.16) of the top-n exponents."""
    if objective == "max":
        return jnp.max(values)
    if objective == "sum":
        return jnp.sum(values)
    if objective == "min":
        return jnp.min(values)
    raise ValueError(f"unknown objective {objective!r}; choose from {OBJECTIVES}")


def benettin_exponents(js: Array, n: int | None = None, q0: Array | None = None) -> Array:
    """(2/k) Σ_j log|R^j_ii| from QR of J^j Q^{j}: the top-n finite-time exponents of the
    product J^{k−1}⋯J⁰ (Benettin et al. 1980), in γ units.  Hand-written (no library)."""
    dim = js.shape[-1]
    q = jnp.eye(dim, dtype=js.dtype)[:, : (n or dim)] if q0 is None else q0

    def body(q, j):
        q, r = jnp.linalg.qr(j @ q)
        return q, jnp.log(jnp.abs(jnp.diag(r)))

    _, logs = jax.lax.scan(body, q, js)
    return 2.0 * jnp.mean(logs, axis=0)


def exponent_fn(fmap: FixedPointMap, k: int, n: int, objective: str, directions: str):
    """``(w, h, key) -> objective`` for a single start: the kernel maps and ascent use."""

    def value(w, h, key):
        _, js = trajectory_jacobians(fmap, fmap.init(w, h), h, k)
        return objective_value(exponents_from_jacobians(js, n, directions, key)[0], objective)

    return value


@KERNELS("games.lyapunov._map_kernel")
def _map_kernel(game: Game, rule: str, k: int, n: int, objective: str, directions: str):
    value = exponent_fn(fixed_point_map(game, rule), k, n, objective, directions)
    return jax.jit(jax.vmap(value, in_axes=(0, None, 0)))


def lyapunov(game: Game | str, rule: str, theta0, k: int = 10, n: int = 1, objective: str = "max",
             directions: str = "eigh", seed: int = 0, **hyper) -> xr.Dataset:
    """The k-step exponents at one start: values, directions, objective, Benettin cross-check.

    Dataset: ``exponent (direction)``, ``direction_vector (state, direction)``,
    ``benettin (direction)``, ``objective`` (scalar), ``trajectory (step, state)``
    and ``jdagger_eigenvalue (direction)`` = exp(exponent) for eigh/power.
    """
    game, fmap, h, hf = resolve(game, rule, hyper)
    w0 = as_points(theta0, game.dim)[0]
    zs, js = jax.jit(trajectory_jacobians, static_argnums=(0, 3))(fmap, fmap.init(w0, h), h, k)
    values, dirs = exponents_from_jacobians(js, n, directions, jax.random.PRNGKey(seed))
    return xr.Dataset(
        {
            "exponent": ("direction", np.asarray(values)),
            "direction_vector": (("state", "direction"), np.asarray(dirs)),
            "benettin": ("direction", np.asarray(benettin_exponents(js, n))),
            "objective": ((), float(objective_value(values, objective))),
            "trajectory": (("step", "state"), np.asarray(zs)),
        },
        coords={"direction": np.arange(n), "step": np.arange(k), "state": np.arange(fmap.state_dim)},
        attrs=result_attrs("lyapunov", game_config(game, rule, hf, k=k, n=n, objective=objective,
                                                   directions=directions, seed=seed)),
    )


def iter_lyapunov_map(game: Game | str, rule: str, xs, ys=None, k: int = 10, n: int = 1, objective: str = "max",
                      directions: str = "eigh", chunk: int = 4096, seed: int = 0,
                      cancel: CancelToken | None = None, executor: Executor | None = None, store=None,
                      **hyper) -> Generator[Event, None, xr.Dataset]:
    """Stream the max (or sum/min top-n) k-step exponent over a grid of starts of a 2-D game.

    The grid is the axes ``xs, ys``, or ``xs`` alone a grid spec
    (:class:`landscape.grids.Grid`, or a resolution over the game's box).
    Each chunk of ``chunk`` cells is a pure task (:func:`lyapunov_map_task`: vmapped, jitted
    calls on at most ``rules.MAX_POINTS_PER_CALL`` cells) run by ``executor`` (:mod:`landscape.executor`:
    in-process by default, or Dask, events then in completion order); with
    ``store`` (a zarr path) finished chunks are written as they arrive and a
    rerun resumes (:mod:`landscape.stores`).  Each event's ``partial`` is a
    read-only view of the map, filled in place (NaN where not computed, also
    the cells of a chunk whose task raised; the reason lands in
    ``attrs["failed_chunks"]``).
    Returns a Dataset with ``exponent (y, x)`` (NaN where not computed).
    """
    game, _, h, hf = resolve(game, rule, hyper)
    if game.dim != 2:
        raise ValueError(f"{game.name} has {game.dim} parameters; wrap it with the 'subspace' game first")
    grid = Grid.of(xs if ys is None else (xs, ys), game.bounds)
    limits.check_grid(*reversed(grid.shape))
    limits.check("steps", k)
    points = grid.points()
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed), len(points)))
    ranges = chunk_ranges(len(points), chunk)
    config = game_config(game, rule, hf, k=k, n=n, objective=objective, directions=directions, seed=seed)
    result = xr.Dataset(
        {"exponent": (("y", "x"), np.full(grid.shape, np.nan))},
        coords=grid.coords(),
        attrs=result_attrs("lyapunov-map", config, status="running", points_done=0),
    )
    store = None if store is None else SweepStore.open(store, result, ["exponent"], ranges)
    out = result["exponent"].values.reshape(-1)  # a view: the sweep fills the result in place
    sweep = Sweep({"exponent": out}, ranges)
    ref, fixed = ProblemRef(game), (rule, k, n, objective, directions, hf)
    calls = []
    for i, (start, stop) in enumerate(ranges):
        idx = np.arange(start, stop)
        pad = np.resize(idx, chunk) if stop - start < chunk and start > 0 else idx  # fixed shape: no recompiles
        calls.append((i, (ref, *fixed, points[pad], keys[pad], stop - start)))
    for outcome in run_chunks(lyapunov_map_task, calls, executor=executor, store=store, cancel=cancel):
        sweep.apply(outcome)
        yield Event("chunk", sweep.done, len(points), sweep.partial(result))
    result.attrs.update(sweep.finish(store))
    return result


def lyapunov_map_task(game: ProblemRef, rule: str, k: int, n: int, objective: str, directions: str,
                      hyper: dict, points: np.ndarray, keys: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """One chunk of a Lyapunov map as a pure task (DESIGN.md "Scale-out"): the objective exponent at
    the first ``count`` of ``points (m, 2)``, ``keys (m, 2)`` the per-cell PRNG keys."""
    kernel = _map_kernel(game.resolve(), rule, k, n, objective, directions)
    h = as_arrays(hyper)
    values = in_point_batches(lambda p, key: kernel(p, h, key), as_points(points, 2), jnp.asarray(keys))
    return {"exponent": np.asarray(values)[:count]}


def lyapunov_map(game, rule, xs, ys=None, k: int = 10, **kwargs) -> xr.DataArray:
    """The heatmap of :func:`iter_lyapunov_map` as a DataArray (with the result attrs)."""
    ds = drive(iter_lyapunov_map(game, rule, xs, ys, k, **kwargs))
    return ds["exponent"].assign_attrs(ds.attrs)


def lyapunov_subspace_maps(game: Game | str, rule: str, seeds, xs, ys=None, k: int = 10, n: int = 1,
                           objective: str = "max", directions: str = "eigh", executor: Executor | None = None,
                           **hyper) -> xr.DataArray:
    """Max-exponent heatmaps on several random 2-D subspaces (§5.6, Fig 5.7), ``vmap``-ed over
    the subspaces and the grid (axes ``xs, ys`` or a grid spec ``xs``, as :func:`iter_lyapunov_map`).
    Returns ``exponent (subspace, y, x)``.  With an ``executor`` (:mod:`landscape.executor`) each
    subspace is one task (:func:`subspace_maps_task`), the same numbers in-process and on a cluster;
    ``attrs["status"]`` says ``complete``, a failed subspace's reason is in ``attrs["failed_chunks"]``."""
    if executor is not None:
        ref = ProblemRef(resolve(game, rule, hyper)[0])
        calls = [(i, (ref, rule, int(seed), xs, ys, k, n, objective, directions, hyper))
                 for i, seed in enumerate(seeds)]

        def combine(done, status):
            return xr.concat([done[i] for i in sorted(done)], dim="subspace").assign_attrs(status=status)

        return drive(iter_batches(subspace_maps_task, calls, combine, executor=executor))
    game, _, h, hf = resolve(game, rule, hyper)
    grid = Grid.of(xs if ys is None else (xs, ys))
    bases = [subspace_basis(game, jax.random.PRNGKey(int(s))) for s in seeds]
    stacked = [jnp.stack(parts) for parts in zip(*bases)]
    points = as_points(grid.points(), 2)
    kernel = _subspace_kernel(game, rule, k, n, objective, directions)
    per_call = max(1, rules.MAX_POINTS_PER_CALL // len(seeds))  # every call evaluates seeds × cells points
    vals = in_point_batches(lambda p: kernel(*stacked, p, h).T, points, size=per_call).T
    return xr.DataArray(
        np.asarray(vals).reshape(len(seeds), *grid.shape), dims=("subspace", "y", "x"),
        coords={"subspace": np.asarray(seeds), **grid.coords()},
        name="exponent",
        attrs=result_attrs("lyapunov-subspace-maps", game_config(game, rule, hf, k=k, n=n,
                                                                 objective=objective, directions=directions)),
    )


@KERNELS("games.lyapunov._subspace_kernel")
def _subspace_kernel(game: Game, rule: str, k: int, n: int, objective: str, directions: str):
    """Jitted ``(v_a, v_b, offset (subspaces, ...), points, h) -> exponent (subspace, cell)``, compiled
    once per game and settings (and input shapes), not on every call."""

    def one(v_a, v_b, offset, points, h):
        fmap = fixed_point_map.__wrapped__(subspace_game(game, v_a, v_b, offset), rule)
        value = exponent_fn(fmap, k, n, objective, directions)
        return jax.vmap(value, in_axes=(0, None, None))(points, h, jax.random.PRNGKey(0))

    return jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None, None)))


def subspace_maps_task(game: ProblemRef, rule: str, seed: int, xs, ys, k: int, n: int, objective: str,
                       directions: str, hyper: dict) -> xr.DataArray:
    """One subspace of :func:`lyapunov_subspace_maps` as a pure task (DESIGN.md "Scale-out")."""
    return lyapunov_subspace_maps(game.resolve(), rule, [seed], xs, ys, k=k, n=n, objective=objective,
                                  directions=directions, **hyper)


def iter_exponent_ascent(game: Game | str, rule: str, starts, k: int = 10, n: int = 1, objective: str = "max",
                         directions: str = "eigh", lr: float = 0.05, steps: int = 100, chunk: int = 10,
                         seed: int = 0, cancel: CancelToken | None = None,
                         **hyper) -> Generator[Event, None, xr.Dataset]:
    """Gradient ascent on the k-step exponent from many starts (eq. 5.13-5.16, Fig 5.6).

    The loss −objective(ω⁰) is differentiated through ``eigh`` (or the power
    iteration) and minimised with ``optax.adam(lr)``, ``vmap``-ed over the
    starts, ``chunk`` steps per ``lax.scan``.  Non-finite gradients (repeated
    eigenvalues) are zeroed.  Returns ``path (run, step, param)`` and
    ``objective (run, step)``; the last iterate is the found start.  Each
    event's ``partial`` holds every step, NaN until computed.
    """
    game, fmap, h, hf = resolve(game, rule, hyper)
    w = as_points(starts, game.dim)
    value = exponent_fn(fmap, k, n, objective, directions)
    key = jax.random.PRNGKey(seed)
    opt = optax.adam(lr)

    def one_step(carry, _):
        w, state = carry
        val, grad = jax.value_and_grad(lambda v: -value(v, h, key))(w)
        grad = jnp.where(jnp.isfinite(grad), grad, 0.0)
        upd, state = opt.update(grad, state, w)
        return (w + upd, state), (w, -val)

    run = jax.jit(jax.vmap(lambda w, s: jax.lax.scan(one_step, (w, s), None, length=chunk)))
    state = jax.vmap(opt.init)(w)
    n_runs, length = w.shape[0], -(-steps // chunk) * chunk + 1  # whole chunks, then the final point
    path = np.full((n_runs, length, game.dim), np.nan, dtype=np.asarray(w).dtype)
    obj = np.full((n_runs, length), np.nan, dtype=np.asarray(w).dtype)
    config = game_config(game, rule, hf, k=k, n=n, objective=objective, directions=directions, lr=lr, steps=steps)

    def dataset(size, status):
        return xr.Dataset(
            {"path": (("run", "step", "param"), frozen(path[:, :size])),
             "objective": (("run", "step"), frozen(obj[:, :size]))},
            coords={"run": np.arange(n_runs), "step": np.arange(size), "param": np.arange(game.dim)},
            attrs=result_attrs("exponent-ascent", config, status=status),
        )

    done, status = 0, "complete"
    while done < steps:
        if is_cancelled(cancel):
            status = "cancelled"
            break
        (w, state), (ws, vals) = in_point_batches(run, w, state)
        path[:, done: done + chunk], obj[:, done: done + chunk] = np.asarray(ws), np.asarray(vals)
        done += chunk
        yield Event("chunk", done, steps, dataset(length, "running"))
    path[:, done] = np.asarray(w)
    obj[:, done] = np.asarray(in_point_batches(jax.vmap(lambda v: value(v, h, key)), w))
    return dataset(done + 1, status).copy(deep=True)


def exponent_ascent(game, rule, starts, **kwargs) -> xr.Dataset:
    return drive(iter_exponent_ascent(game, rule, starts, **kwargs))
