"""Phase portraits, trajectories, fixed points and spectra along training.

A phase portrait of a 2-D game under an update rule F (Lorraine Figs 5.2,
C.1, 4.4) shows the one-step displacement F(ω) − ω on a grid (buffers of
stateful rules start at zero), trajectories of F from chosen starts, and the
fixed points (zeros of ĝ) with the eigenvalues of the game Hessian Ĥ
(eq. 5.6) and of the map's Jacobian J = ∇F (eq. 5.7) there.  Spectra are
also reported in the thesis's log-polar form (log|λ|, arg λ).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import limits
from ..grids import Grid
from ..jobs import CancelToken, Event, drive, frozen, is_cancelled
from ..kernel_cache import KERNELS
from ..problems import Game
from ..results import result_attrs
from .jacobian import game_hessian, joint_gradient, player_loss_values
from .rules import as_points, fixed_point_map, game_config, in_point_batches, resolve, run_map

Array = jax.Array


class _Kernels(NamedTuple):
    displacement: Callable
    run: Callable
    init: Callable
    matrices: Callable
    losses: Callable
    along: Callable


@KERNELS("games.portraits._kernels")
def _kernels(game: Game, rule: str) -> _Kernels:
    """Jitted (once per game and rule) pieces of portraits and trajectories."""
    fmap = fixed_point_map(game, rule)

    def displacement(w, h):
        return fmap.params(fmap.step(fmap.init(w, h), h)) - w

    def matrices(w, h):
        return game_hessian(game, w), jax.jacfwd(fmap.step)(fmap.init(w, h), h)

    return _Kernels(
        jax.jit(jax.vmap(displacement, in_axes=(0, None))),
        jax.jit(jax.vmap(lambda z, h, steps: run_map(fmap, z, h, steps), in_axes=(0, None, None)),
                static_argnums=2),
        jax.jit(jax.vmap(fmap.init, in_axes=(0, None))),
        jax.jit(jax.vmap(matrices, in_axes=(0, None))),
        jax.jit(jax.vmap(jax.vmap(lambda w: player_loss_values(game, w)))),
        jax.jit(jax.vmap(lambda z, h: (game_hessian(game, fmap.params(z)), jax.jacfwd(fmap.step)(z, h)),
                         in_axes=(0, None))),
    )


@KERNELS("games.portraits.fixed_points")
def fixed_points(game: Game, bounds=None, resolution: int = 7, iters: int = 40, tol: float = 1e-9) -> np.ndarray:
    """Zeros of ĝ in the view box: Newton's method on ĝ (Ĥ δ = −ĝ) from a grid of starts,
    plus the game's listed equilibria; de-duplicated, shape (m, dim)."""
    found = [np.asarray(game.ground_truth.get("equilibrium", np.zeros((0, game.dim))), float)]
    if game.dim == 2 and (bounds or game.bounds) is not None:
        (x0, x1), (y0, y1) = bounds or game.bounds
        starts = as_points(Grid.over(bounds or game.bounds, resolution).points(), 2)

        def newton(w):
            def body(w, _):
                step = jnp.linalg.solve(game_hessian(game, w), joint_gradient(game, w))
                return w - jnp.where(jnp.all(jnp.isfinite(step)), step, 0.0), None

            w = jax.lax.scan(body, w, None, length=iters)[0]
            return w, jnp.linalg.norm(joint_gradient(game, w))

        ws, norms = jax.jit(jax.vmap(newton))(starts)
        ws, norms = np.asarray(ws), np.asarray(norms)
        inside = (ws[:, 0] >= x0) & (ws[:, 0] <= x1) & (ws[:, 1] >= y0) & (ws[:, 1] <= y1)
        found.append(ws[np.isfinite(norms) & (norms < tol) & inside])
    points = np.concatenate(found)
    unique: list[np.ndarray] = []
    for p in points:
        if all(np.linalg.norm(p - q) > 1e-5 for q in unique):
            unique.append(p)
    return np.asarray(unique).reshape(-1, game.dim)


def _sorted_eigs(m: np.ndarray) -> np.ndarray:
    ev = np.linalg.eigvals(m)
    return ev[np.lexsort((ev.imag, -np.abs(ev)))]


def spectra_at(game: Game, rule: str, points, h: dict) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (complex, by decreasing modulus) of Ĥ(ω) and of J = ∇F at (ω, zero buffers)
    for each of ``points`` (m, dim): arrays (m, dim) and (m, state_dim)."""
    hess, jac = _kernels(game, rule).matrices(as_points(points, game.dim), h)
    return (np.stack([_sorted_eigs(m) for m in np.asarray(hess)]),
            np.stack([_sorted_eigs(m) for m in np.asarray(jac)]))


def trajectories(game: Game | str, rule: str, starts, steps: int = 200, **hyper) -> xr.Dataset:
    """Trajectories of the rule from ``starts`` (m, dim): ``path (run, step, param)``."""
    return drive(iter_trajectories(game, rule, starts, steps, **hyper))


def iter_trajectories(game: Game | str, rule: str, starts, steps: int = 200, chunk: int = 50,
                      cancel: CancelToken | None = None, **hyper) -> Generator[Event, None, xr.Dataset]:
    """Stream trajectories ``chunk`` steps at a time; returns ``path (run, step, param)`` and
    ``player_loss (run, step, player)`` (kind ``"game-trajectories"``).

    Each event's ``partial`` holds all ``steps + 1`` steps, NaN until computed."""
    limits.check("steps", steps)
    game, fmap, h, hf = resolve(game, rule, hyper)
    kernels = _kernels(game, rule)
    z = kernels.init(as_points(starts, game.dim), h)
    n_runs = z.shape[0]
    dtype = np.asarray(z).dtype  # the inputs' precision
    path = np.full((n_runs, steps + 1, game.dim), np.nan, dtype=dtype)
    losses = np.full((n_runs, steps + 1, game.num_players), np.nan, dtype=dtype)
    path[:, 0] = np.asarray(fmap.params(z))
    losses[:, :1] = np.asarray(kernels.losses(jnp.asarray(path[:, :1])))
    config = game_config(game, rule, hf, steps=steps)

    def dataset(size, status):
        return xr.Dataset(
            {"path": (("run", "step", "param"), frozen(path[:, :size])),
             "player_loss": (("run", "step", "player"), frozen(losses[:, :size]))},
            coords={"run": np.arange(n_runs), "step": np.arange(size),
                    "param": np.arange(game.dim), "player": np.arange(game.num_players)},
            attrs=result_attrs("game-trajectories", config, status=status),
        )

    done, status = 0, "complete"
    while done < steps:
        if is_cancelled(cancel):
            status = "cancelled"
            break
        n = min(chunk, steps - done)
        zs = in_point_batches(lambda part: kernels.run(part, h, n), z)
        z = zs[:, -1]
        new = np.asarray(fmap.params(zs[:, 1:]))
        path[:, done + 1: done + n + 1] = new
        losses[:, done + 1: done + n + 1] = np.asarray(kernels.losses(jnp.asarray(new)))
        done += n
        yield Event("chunk", done, steps, dataset(steps + 1, "running"))
    return dataset(done + 1, status).copy(deep=True)


def phase_portrait(game: Game | str, rule: str, grid=24, starts=None, steps: int = 200, bounds=None,
                   **hyper) -> xr.Dataset:
    """Vector field, trajectories and fixed points of ``rule`` on a 2-D game.

    ``grid`` is a grid spec (:class:`landscape.grids.Grid`, the axes
    ``(xs, ys)``, or a resolution over ``bounds`` or the game's box).  Dataset: ``u, v (y, x)`` = F(ω) − ω, ``speed``;
    ``path (run, step, param)`` from ``starts``; ``fixed_point (fixed, param)``
    with ``hessian_eig_re/im`` and ``jacobian_eig_re/im (fixed, eig)``.
    """
    game, fmap, h, hf = resolve(game, rule, hyper)
    if game.dim != 2:
        raise ValueError("phase portraits need a 2-D game (use the 'subspace' game)")
    (x0, x1), (y0, y1) = bounds or game.bounds
    grid = Grid.of(grid, ((x0, x1), (y0, y1)))
    uv = np.asarray(_kernels(game, rule).displacement(as_points(grid.points(), 2), h)).reshape(*grid.shape, 2)
    ds = xr.Dataset(
        {"u": (("y", "x"), uv[..., 0]), "v": (("y", "x"), uv[..., 1]),
         "speed": (("y", "x"), np.hypot(uv[..., 0], uv[..., 1]))},
        coords=grid.coords(),
    )
    if starts is not None:
        ds = ds.merge(trajectories(game, rule, starts, steps, **hf)[["path", "player_loss"]])
    fixed = np.array(fixed_points(game, ((float(x0), float(x1)), (float(y0), float(y1)))))  # own copy
    if len(fixed):
        hess, jac = spectra_at(game, rule, fixed, h)
    else:
        hess, jac = np.zeros((0, game.dim), complex), np.zeros((0, fmap.state_dim), complex)
    ds = ds.assign(
        fixed_point=(("fixed", "param"), fixed),
        hessian_eig_re=(("fixed", "hessian_eig"), hess.real), hessian_eig_im=(("fixed", "hessian_eig"), hess.imag),
        jacobian_eig_re=(("fixed", "jacobian_eig"), jac.real), jacobian_eig_im=(("fixed", "jacobian_eig"), jac.imag),
    )
    ds.attrs = result_attrs("phase-portrait", game_config(game, rule, hf, steps=steps))
    return ds


def log_polar(eigenvalues: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log|λ|, arg λ), the thesis's log-polar coordinates for spectra (Figs 4.7, 5.5)."""
    ev = np.asarray(eigenvalues)
    return np.log(np.maximum(np.abs(ev), 1e-300)), np.angle(ev)


def spectrum_along(game: Game | str, rule: str, theta0, steps: int = 100, every: int = 10, **hyper) -> xr.Dataset:
    """Eigenvalues of Ĥ and of J along a training run, every ``every`` steps (Figs 4.7, B.4, 5.5).

    Variables ``hessian_eig_re/im (step, hessian_eig)``, ``jacobian_eig_re/im (step, jacobian_eig)``
    and their log-polar ``*_logabs``, ``*_arg``.
    """
    game, fmap, h, hf = resolve(game, rule, hyper)
    kernels = _kernels(game, rule)
    z0 = kernels.init(as_points(theta0, game.dim), h)
    zs = kernels.run(z0, h, steps)[0, ::every]
    hess, jac = kernels.along(zs, h)
    he = np.stack([_sorted_eigs(m) for m in np.asarray(hess)])
    je = np.stack([_sorted_eigs(m) for m in np.asarray(jac)])
    out = {}
    for name, ev, dim in (("hessian", he, "hessian_eig"), ("jacobian", je, "jacobian_eig")):
        logabs, arg = log_polar(ev)
        out.update({f"{name}_eig_re": (("step", dim), ev.real), f"{name}_eig_im": (("step", dim), ev.imag),
                    f"{name}_logabs": (("step", dim), logabs), f"{name}_arg": (("step", dim), arg)})
    return xr.Dataset(out, coords={"step": np.arange(0, steps + 1, every)[: len(zs)]},
                      attrs=result_attrs("spectrum-along", game_config(game, rule, hf, steps=steps, every=every)))
