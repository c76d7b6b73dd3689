"""Following one ridge: the inner loop of Algorithm 1 (lines 5–11) with EndRide.

A ride repeats ``step`` (exact, approximate or fixed, see :mod:`.ridges`) until
an EndRide rule fires (§3: "whether the curvature is still negative, the loss is
decreasing and other factors"; App. B's tree-RL rules).  Each rule is selectable:

``"convex"``
    the followed eigenvalue is no longer negative (``λ ≥ −neg_tol``); the step is
    kept, the ride ends at the first point without negative curvature.
``"no-improvement"``
    the loss did not decrease by more than ``improve_tol``; the step is rejected.
``"overlap"``
    the continued ridge's overlap stayed below ``δ_break`` (after backtracking in
    exact mode); the step is rejected.  Without this rule the smallest-α step is
    taken anyway.
``"budget"``
    ``max_steps`` steps were taken.  Always on: every ride is bounded.

:func:`ride_chunk` runs ``chunk`` steps in one compiled ``lax.scan`` (steps after
the end are skipped with ``lax.cond``), so a Python driver can check for
cancellation between chunks.  In exact mode each step's backtracking starts from
``min(α, 2·α_prev)`` (the last accepted step doubled), so a ride that needed a small
step does not pay the whole halving sequence again at every step.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .ridges import approximate_step, exact_step, fixed_step

END_RULES = ("convex", "no-improvement", "overlap", "budget")
#: ``RideState.reason`` codes: 0 while riding, then 1 + index into END_RULES.
REASONS = ("riding",) + END_RULES
MODES = ("exact", "approximate", "fixed")


class RideState(NamedTuple):
    theta: jax.Array
    direction: jax.Array
    eigenvalue: jax.Array
    loss: jax.Array
    alpha: jax.Array  # the last accepted step size
    steps: jax.Array  # int
    reason: jax.Array  # int, 0 while riding


class RideHyper(NamedTuple):
    """Numeric settings (traced, so changing them does not recompile)."""

    alpha: jax.Array
    alpha_min: jax.Array
    delta_break: jax.Array
    neg_tol: jax.Array
    improve_tol: jax.Array
    max_steps: jax.Array
    lr_e: jax.Array
    lr_lambda: jax.Array
    inner_steps: jax.Array


class Trace(NamedTuple):
    theta: jax.Array
    loss: jax.Array
    eigenvalue: jax.Array
    overlap: jax.Array
    alpha: jax.Array
    kept: jax.Array  # bool: this step was taken


def start_ride(loss, theta, direction, eigenvalue, value=None) -> RideState:
    """A ride from ``theta`` along ``direction``; ``value`` is ``loss(theta)`` if known."""
    theta = np.asarray(theta)
    dtype = theta.dtype
    return RideState(  # numpy leaves (no eager JAX dispatch); the compiled chunk takes them as they are
        theta, np.asarray(direction, dtype), np.asarray(eigenvalue, dtype),
        np.asarray(loss(jnp.asarray(theta)) if value is None else value, dtype), np.asarray(np.inf, dtype),
        np.zeros((), np.int32), np.zeros((), np.int32),
    )


def _step(loss, mode, step, state: RideState, h: RideHyper):
    if mode == "exact":
        alpha = jnp.minimum(h.alpha, 2 * state.alpha)
        return exact_step(loss, state.theta, state.direction, alpha, h.alpha_min, h.delta_break, step)
    if mode == "approximate":
        return approximate_step(
            loss, state.theta, state.direction, state.eigenvalue, h.alpha, h.lr_e, h.lr_lambda, h.inner_steps
        )
    return fixed_step(loss, state.theta, state.direction, h.alpha)


@partial(jax.jit, static_argnames=("loss", "mode", "rules", "chunk", "step"))
def ride_chunk(
    loss, mode: str, rules: tuple[str, ...], chunk: int, state: RideState, hyper: RideHyper, step: str = "warm",
):
    """Advance a ride by up to ``chunk`` steps; returns the new state and the per-step trace.
    ``step`` is the exact mode's UpdateRidge (:data:`.ridges.EXACT_STEPS`)."""

    def advance(s: RideState):
        moved_to = _step(loss, mode, step, s, hyper)
        new_loss = loss(moved_to.theta)
        steps = s.steps + 1
        lost_ridge = ("overlap" in rules) & (moved_to.overlap < hyper.delta_break)
        worse = ("no-improvement" in rules) & ~(new_loss < s.loss - hyper.improve_tol)
        convex = ("convex" in rules) & (moved_to.eigenvalue >= -hyper.neg_tol)
        budget = steps >= hyper.max_steps
        reason = jnp.select(
            [lost_ridge, worse, convex, budget],
            [REASONS.index(r) for r in ("overlap", "no-improvement", "convex", "budget")],
            0,
        ).astype(jnp.int32)
        kept = ~(lost_ridge | worse)
        moved = RideState(moved_to.theta, moved_to.direction, moved_to.eigenvalue, new_loss, moved_to.alpha, steps, reason)
        new_state = jax.tree.map(lambda a, b: jnp.where(kept, a, b), moved, s)._replace(steps=steps, reason=reason)
        return new_state, Trace(moved_to.theta, new_loss, moved_to.eigenvalue, moved_to.overlap, moved_to.alpha, kept)

    def idle(s: RideState):
        z = jnp.zeros((), s.theta.dtype)
        return s, Trace(s.theta, s.loss, s.eigenvalue, z, z, jnp.zeros((), bool))

    def body(s, _):
        return jax.lax.cond(s.reason == 0, advance, idle, s)

    return jax.lax.scan(body, state, None, length=chunk)
