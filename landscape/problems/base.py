"""The problem abstraction: "a thing with a loss" over a flat parameter vector.

A :class:`Problem` bundles a scalar loss ``L: R^dim -> R`` over a *flat* JAX
vector, an initial-point sampler, an optional 2-D view box and whatever ground
truth is known.  Networks keep their pytree structure behind ``unravel``
(built with :func:`jax.flatten_util.ravel_pytree`), so every engine function
(curvature, optimizers, Ridge Rider, critical-point finders) sees one vector.

A :class:`Game` is a problem with one loss per player and a partition of the
parameters into the players' blocks (Lorraine thesis, §5.2: the joint
gradient stacks each player's gradient of its own loss with respect to its own
block).  Its ``loss`` is the sum of the player losses, which is what
single-objective tools show; game dynamics use ``player_losses``.

Ground truth is a mapping from a kind (``"minimum"``, ``"saddle"``,
``"maximum"``, ``"gradient-flat"``, ...) to an ``(n, dim)`` array of points.
``critical_points`` stacks the points with zero gradient (every kind except
``"gradient-flat"``), in the order of ``critical_kinds``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
Bounds = tuple[tuple[float, float], tuple[float, float]]

#: Ground-truth kinds that are *not* critical points (nonzero gradient).
NON_CRITICAL_KINDS = ("gradient-flat",)


def default_dtype():
    """float64 when ``jax_enable_x64`` is on, else float32."""
    return jnp.zeros(()).dtype if not jax.config.jax_enable_x64 else jnp.float64


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A named scalar loss over a flat parameter vector.

    Attributes:
      name: registry name.
      dim: number of parameters.
      loss: ``theta (dim,) -> scalar``; pure and jit-able.
      sampler: ``key -> theta (dim,)``, the default initial-point distribution.
      bounds: ``((xmin, xmax), (ymin, ymax))`` for 2-D problems, else ``None``.
      ground_truth: kind -> ``(n, dim)`` numpy array of known points.
      description: one paragraph for the UI and docs, with its source.
      options: the keyword options the problem was built with (JSON-able).
      unravel: flat vector -> structured parameters (networks), or ``None``.
      extras: problem-specific objects (data sets, analytic helpers).
      default_point: the given or trained parameters as a flat vector (networks,
        user models), or ``None``; read it through :attr:`theta0`.
    """

    name: str
    dim: int
    loss: Callable[[Array], Array]
    sampler: Callable[[Array], Array]
    bounds: Bounds | None = None
    ground_truth: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    description: str = ""
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    unravel: Callable[[Array], Any] | None = None
    extras: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    default_point: Any = None

    def init(self, key: Array) -> Array:
        """A starting point drawn from the problem's sampler."""
        return self.sampler(key)

    @property
    def theta0(self) -> Array:
        """The default centre and start: ``default_point`` when the problem has one
        (a network's seeded initialisation, a user model's own weights), else the
        sampler's draw for key 0."""
        if self.default_point is not None:
            return jnp.asarray(self.default_point)
        return self.init(jax.random.PRNGKey(0))

    @property
    def is_2d(self) -> bool:
        return self.dim == 2 and self.bounds is not None

    @property
    def critical_kinds(self) -> tuple[str, ...]:
        """Kind of each row of :attr:`critical_points`."""
        return tuple(
            kind
            for kind, points in self.ground_truth.items()
            if kind not in NON_CRITICAL_KINDS
            for _ in range(len(points))
        )

    @property
    def critical_points(self) -> np.ndarray | None:
        """Known critical points as an ``(n, dim)`` array, or ``None``."""
        blocks = [
            np.asarray(points, dtype=float).reshape(-1, self.dim)
            for kind, points in self.ground_truth.items()
            if kind not in NON_CRITICAL_KINDS
        ]
        return np.concatenate(blocks) if blocks else None

    def config(self) -> dict[str, Any]:
        """JSON-able description used in result ``attrs``."""
        return {"problem": self.name, "options": dict(self.options), "dim": self.dim}


@dataclasses.dataclass(frozen=True, eq=False)
class Game(Problem):
    """A differentiable game: one loss per player over a split of the parameters.

    ``player_losses[i](theta)`` is player i's loss over the *joint* vector;
    ``blocks[i]`` is the index array of player i's own parameters.  The joint
    gradient (Lorraine eq. 5.5) is ``ĝ = [∇_{θ_i} L_i]_i``.
    """

    player_losses: tuple[Callable[[Array], Array], ...] = ()
    blocks: tuple[np.ndarray, ...] = ()

    @property
    def num_players(self) -> int:
        return len(self.player_losses)
