"""The joint gradient and the game Hessian (Lorraine thesis §5.2, eqs. 5.4 and 5.6).

A game (:class:`~landscape.problems.base.Game`) has one loss per player over
the *joint* parameter vector ω = [θ_A, θ_B] and the index block of each
player.  Then

    ĝ(ω) = [∇_{θ_A} L_A(ω), ∇_{θ_B} L_B(ω)],        Ĥ(ω) = ∇_ω ĝ(ω),

both by autodiff.  Ĥ is not symmetric: its eigenvalues are complex in
adversarial games.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..problems.base import Game

Array = jax.Array


def joint_gradient(game: Game, w: Array) -> Array:
    """ĝ(ω): each player's gradient of its own loss w.r.t. its own block (eq. 5.4)."""
    g = jnp.zeros_like(w)
    for loss, block in zip(game.player_losses, game.blocks):
        g = g.at[block].set(jax.grad(loss)(w)[block])
    return g


def game_hessian(game: Game, w: Array) -> Array:
    """Ĥ(ω) = ∇_ω ĝ(ω) (eq. 5.6), dense (forward-mode Jacobian of ĝ)."""
    return jax.jacfwd(lambda v: joint_gradient(game, v))(w)


def player_loss_values(game: Game, w: Array) -> Array:
    """All player losses at ``w`` as a vector."""
    return jnp.stack([loss(w) for loss in game.player_losses])
