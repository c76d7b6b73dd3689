"""Games façade: ``get(name, **options)`` and ``names()`` over the registry's games.

The games themselves live in :mod:`landscape.problems.games` (registered with
kind ``"game"``); this module only narrows the registry to them.
"""

from __future__ import annotations

from .problems import Game
from .problems import get as _get
from .problems import names as _names
from .problems.games import game_hessian, joint_gradient, player_loss_values, subspace_game

__all__ = ["Game", "game_hessian", "get", "joint_gradient", "names", "player_loss_values", "subspace_game"]


def names() -> list[str]:
    """Registered game names."""
    return _names("game")


def get(name: str, **options) -> Game:
    """Build the game ``name`` (cached per option set)."""
    if name not in names():
        raise KeyError(f"{name!r} is not a game; games: {', '.join(names())}")
    return _get(name, **options)
