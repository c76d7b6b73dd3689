"""Choices the Games view makes about a game, as small engine functions.

* :func:`default_step`: a step size that shows each game's characteristic
  dynamics (LOLA at α = η = 4 on the mixed game shows its Hopf ring, Lorraine
  thesis App. C.1, Fig. C.1; the payoff games need α ≈ 1; the GAN toys 0.1).
* :func:`suggested_hypers`: per update rule, the hyperparameters that differ from the
  catalogue's defaults (:mod:`landscape.optim`) when a game is first shown: α and LOLA's η
  at :func:`default_step`.
* :func:`heatmap_axes`: the cell centres of a Lyapunov heatmap over the game's box.
* :func:`heatmap_peak`: the start of generalized Ridge Rider, the cell of the
  largest k-step exponent (thesis §5.4: branch where trajectories separate
  fastest).
* :func:`is_planar_game`: whether a problem is a two-parameter game (what
  portraits, heatmaps and rate maps need), with the reason when it is not.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..problems import Game, Problem
from .rules import RULES

#: Step sizes (and LOLA look-aheads) per game; others use :data:`DEFAULT_STEP`.
STEP_SIZES = {"mixed": 4.0, "small-ipd": 1.0, "matching-pennies": 1.0, "subspace": 0.5}
DEFAULT_STEP = 0.1


def default_step(game: Problem) -> float:
    """Step size α (and LOLA look-ahead η) the game is shown with first."""
    return STEP_SIZES.get(game.name, DEFAULT_STEP)


def suggested_hypers(game: Problem) -> dict[str, dict[str, float]]:
    """Per update rule of :data:`~landscape.games.rules.RULES`: ``alpha`` (and ``lookahead`` where the
    rule has one) at :func:`default_step`; the other hyperparameters keep the catalogue's defaults."""
    step = default_step(game)
    return {name: {h: step for h in ("alpha", "lookahead") if h in rule.defaults} for name, rule in RULES.items()}


def is_planar_game(problem: Problem) -> tuple[bool, str]:
    """``(True, "")`` for a 2-D game with a view box, else ``(False, why)``."""
    if not isinstance(problem, Game):
        return False, f"{problem.name} is not a game: it has one loss, not one per player"
    if problem.dim != 2 or problem.bounds is None:
        return False, (f"{problem.name} is a game with {problem.dim} parameters; portraits and heatmaps "
                       "need two (the 'subspace' game is a random 2-D slice of a larger one)")
    return True, ""


def heatmap_axes(game: Problem, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """``(xs, ys)``: ``resolution`` points per axis spanning the game's box."""
    if resolution < 2:
        raise ValueError(f"a heatmap needs at least 2 cells per axis, got {resolution}")
    (x0, x1), (y0, y1) = game.bounds
    return np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)


def heatmap_peak(heatmap: xr.Dataset | None) -> np.ndarray | None:
    """``[x, y]`` of the largest finite exponent of a heatmap, or ``None`` if none is finite."""
    if heatmap is None or not np.isfinite(heatmap.exponent.values).any():
        return None
    exponent = heatmap.exponent
    iy, ix = np.unravel_index(np.nanargmax(exponent.values), exponent.shape)
    return np.array([float(exponent.x.values[ix]), float(exponent.y.values[iy])])
