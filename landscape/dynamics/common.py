"""Shared plumbing of the dynamics modules: resolving a game and a rule."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..problems import Game, get
from ..update_rules import FixedPointMap, as_arrays, fixed_point_map, hyperparameters

Array = jax.Array


def resolve(game: Game | str, rule: str, hyper: dict) -> tuple[Game, FixedPointMap, dict, dict]:
    """(game, F, hyperparameters as JAX scalars, hyperparameters as floats)."""
    if isinstance(game, str):
        game = get(game)
    h = hyperparameters(rule, **hyper)
    return game, fixed_point_map(game, rule), as_arrays(h), h


def as_points(points, dim: int) -> Array:
    """An ``(m, dim)`` float array of parameter points."""
    return jnp.asarray(np.asarray(points, dtype=float).reshape(-1, dim), dtype=jnp.result_type(float))


def run_map(fmap: FixedPointMap, z0: Array, h: dict, steps: int) -> Array:
    """States z_0 … z_steps of F from ``z0`` (``lax.scan``)."""

    def body(z, _):
        nxt = fmap.step(z, h)
        return nxt, nxt

    _, zs = jax.lax.scan(body, z0, None, length=steps)
    return jnp.concatenate([z0[None], zs])


def game_config(game: Game, rule: str, h: dict, **extra) -> dict:
    return {**game.config(), "rule": rule, "hyperparameters": h, **extra}
