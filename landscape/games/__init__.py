"""Differentiable games and their dynamics (Lorraine thesis ch. 4-5), in one package.

Modules, each importing only those above it:

``jacobian``     the joint gradient ĝ (eq. 5.4), the game Hessian Ĥ = ∇ĝ (eq. 5.6),
                 the vector of player losses;
``definitions``  the games (Dirac-GAN, bilinear, matching pennies, IPDs, the mixed
                 and interpolated games, the mixture-of-Gaussians GAN, random 2-D
                 subspaces), registered as problems of kind ``"game"``;
``rules``        update rules (SimGD, LOLA, extragradient, optimistic GD, complex
                 momentum, ...) as fixed-point maps z ↦ F(z) on a flat state, and
                 running them;
``lyapunov``     k-step Lyapunov exponents, their heatmaps and exponent ascent (§5.3);
``grr``          generalized Ridge Rider (§5.4, Algorithm 13);
``portraits``    phase portraits, trajectories, fixed points, spectra along training;
``momentum``     convergence-rate maps of complex momentum (§4.3, App. B);
``explore``      the choices the Games view makes about a game (step size, heatmap
                 axes and peak, whether a game is planar).

``get(name, **options)`` and ``names()`` narrow the problem registry to the
games; the functions below are the package's public interface.
"""

from __future__ import annotations

from ..problems import Game
from ..problems import get as _get
from ..problems import names as _names
from .definitions import subspace_basis, subspace_game
from .grr import grr_search, iter_grr_search
from .jacobian import game_hessian, joint_gradient, player_loss_values
from .lyapunov import (
    DIRECTIONS,
    OBJECTIVES,
    benettin_exponents,
    exponent_ascent,
    exponents_from_jacobians,
    iter_exponent_ascent,
    iter_lyapunov_map,
    lyapunov,
    lyapunov_map,
    lyapunov_subspace_maps,
    objective_value,
    trajectory_jacobians,
)
from .momentum import augmented_jacobian, bilinear_rate, eigen_block, momentum_rate_map
from .portraits import (
    fixed_points,
    iter_trajectories,
    log_polar,
    phase_portrait,
    spectra_at,
    spectrum_along,
    trajectories,
)
from .rules import RULES, fixed_point_map, hyperparameters, rule_names

__all__ = [
    "DIRECTIONS", "OBJECTIVES", "RULES", "Game", "augmented_jacobian", "benettin_exponents", "bilinear_rate",
    "eigen_block", "exponent_ascent", "exponents_from_jacobians", "fixed_point_map", "fixed_points",
    "game_hessian", "get", "grr_search", "hyperparameters", "iter_exponent_ascent", "iter_grr_search",
    "iter_lyapunov_map", "iter_trajectories", "joint_gradient", "log_polar", "lyapunov", "lyapunov_map",
    "lyapunov_subspace_maps", "momentum_rate_map", "names", "objective_value", "phase_portrait",
    "player_loss_values", "rule_names", "spectra_at", "spectrum_along", "subspace_basis", "subspace_game",
    "trajectories", "trajectory_jacobians",
]


def names() -> list[str]:
    """Registered game names."""
    return _names("game")


def get(name: str, **options) -> Game:
    """Build the game ``name`` (cached per option set)."""
    if name not in names():
        raise KeyError(f"{name!r} is not a game; games: {', '.join(names())}")
    return _get(name, **options)
