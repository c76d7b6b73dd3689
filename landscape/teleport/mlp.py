"""Teleporting MLP weights by gradient ascent over the Lie algebra (Zhao et al., Sec. 3, App. E).

One teleport step on a batch ``(x, y)`` (the authors' parametrisation, notes §1.3):

1. ``T = 0 ∈ gl(d)`` for every hidden layer; ``∇_T J((I + T)·w)`` at ``T = 0`` by
   double back-propagation through the group action (``J`` an objective of
   :mod:`.objectives`, itself built from ``∇_w L`` for the gradient norms);
2. ``T ← direction · lr · ∇_T`` and ``w ← (I + T)·w`` (eq. 79 or 78).

``steps`` such steps make one teleport per batch; several batches are used one
after the other (as the authors' code does).  The loop freezes once
``‖∇L‖² > cap`` on the current batch (the code's ``dL_dt_cap``).  Tangent
vectors (e.g. a momentum buffer, App. G.1 "teleport the momentum") can be
carried along by the differential of every applied action.

The step kernel is pure and jit-compiled once per static configuration; it is
also ``vmap``-ed over seeds by :mod:`.training`.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .groups import Weights, act, cross_entropy, identity_elements, invariance_error, layers_of, weights_of
from .objectives import OBJECTIVES, PAPER_DISPLACEMENTS, Probes, grad_norm_sq, make_probes, objective_fn


class Config(NamedTuple):
    """Static part of a teleport (hashable: one compilation per value)."""

    objective: str = "grad_norm"
    activation: str = "leaky_relu"
    action: int = 2
    steps: int = 10


def _tree_where(cond, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(cond, a, b), new, old)


def teleport_weights(ws: Weights, tangents, xs, ys, probes: Probes, metric, lr, direction, cap, config: Config):
    """Teleport ``ws`` on the stacked batches ``xs`` (b, k, d), ``ys`` (b, k).

    Returns ``(ws, tangents, stats)``; ``stats`` holds per batch the objective
    history ``(b, steps + 1)`` and before/after values of the batch loss and
    ``‖∇L‖²`` plus the invariance error.  Pure; not jitted (see :func:`_teleport`).
    """
    objective = objective_fn(config.objective, config.activation, config.action)

    def one_batch(carry, batch):
        ws0, tangents0 = carry
        x, y = batch

        def step(state, _):
            w, tans, active = state
            gn = grad_norm_sq(w, x, y, config.activation)
            value = objective(w, x, y, probes, metric)
            active = active & (gn <= cap)
            eye = identity_elements(w)

            def lifted(ts):
                moved = act(w, [e + t for e, t in zip(eye, ts)], x, config.activation, config.action)
                return objective(moved, x, y, probes, metric)

            grad_t = jax.grad(lifted)(tuple(jnp.zeros_like(e) for e in eye))
            gs = [e + direction * lr * g for e, g in zip(eye, grad_t)]

            def apply(v):
                return act(v, gs, x, config.activation, config.action)

            if tans:
                new_w, lin = jax.linearize(apply, w)
                new_tans = tuple(lin(t) for t in tans)
            else:
                new_w, new_tans = apply(w), tans
            new_state = (_tree_where(active, new_w, w), _tree_where(active, new_tans, tans), active)
            return new_state, (value, gn)

        (ws1, tangents1, _), (values, gns) = jax.lax.scan(step, (ws0, tangents0, jnp.array(True)), None, config.steps)
        final_value = objective(ws1, x, y, probes, metric)
        stats = {
            "objective": jnp.concatenate([values, final_value[None]]),
            "grad_norm_sq_before": gns[0],
            "grad_norm_sq_after": grad_norm_sq(ws1, x, y, config.activation),
            "loss_before": cross_entropy(ws0, x, y, config.activation),
            "loss_after": cross_entropy(ws1, x, y, config.activation),
            "invariance_error": invariance_error(ws0, ws1, x, y, config.activation),
        }
        return (ws1, tangents1), stats

    (ws, tangents), stats = jax.lax.scan(one_batch, (ws, tangents), (xs, ys))
    return ws, tangents, stats


_teleport = jax.jit(teleport_weights, static_argnames=("config",))


@dataclasses.dataclass(frozen=True)
class TeleportReport:
    """What a teleport did, per teleport batch (numpy arrays of length ``batches``).

    ``objective`` is the history ``(batches, steps + 1)`` of the objective on
    each batch; the ``*_before``/``*_after`` values are taken on the batch
    before and after its teleport; ``invariance_error`` is
    ``|L_after − L_before| / |L_before|`` on that batch.
    """

    objective_name: str
    direction: int
    objective: np.ndarray
    loss_before: np.ndarray
    loss_after: np.ndarray
    grad_norm_sq_before: np.ndarray
    grad_norm_sq_after: np.ndarray
    invariance_error: np.ndarray

    @property
    def objective_before(self) -> float:
        return float(self.objective[0, 0])

    @property
    def objective_after(self) -> float:
        return float(self.objective[-1, -1])

    def summary(self) -> dict[str, float]:
        """Plain floats for display: first batch before, last batch after, worst invariance error."""
        return {
            "objective_before": self.objective_before,
            "objective_after": self.objective_after,
            "grad_norm_sq_before": float(self.grad_norm_sq_before[0]),
            "grad_norm_sq_after": float(self.grad_norm_sq_after[-1]),
            "invariance_error": float(np.max(self.invariance_error)),
        }


def report_from_stats(stats, objective: str, direction: int) -> TeleportReport:
    return TeleportReport(objective, int(direction), **{k: np.asarray(v) for k, v in stats.items()})


def mlp_teleport(
    params,
    batch,
    objective: str = "grad_norm",
    direction: int = 1,
    *,
    activation: str = "leaky_relu",
    action: int = 2,
    steps: int = 10,
    lr: float = 5e-2,
    cap: float = 100.0,
    key=None,
    metric=None,
    n_directions: int = 200,
    displacements=PAPER_DISPLACEMENTS,
    n_curves: int = 10,
):
    """Teleport the weights of a bias-free MLP within the level set of the batch loss.

    Args:
      params: ``[{"w": W_1}, ...]`` (a network problem's ``unravel(theta)`` with
        ``bias=False``).
      batch: ``(x, y)`` with ``x`` (k, d_0) for one teleport batch, or stacked
        (b, k, d_0) / (b, k) for ``b`` batches used one after the other.
      objective: ``"grad_norm"`` (‖∇L‖², eq. 3), ``"grad_norm_A"`` (needs
        ``metric``, the AdaGrad diagonal A shaped like the weights),
        ``"sharpness"`` (φ, eq. 13) or ``"curvature"`` (ψ, eq. 14).
      direction: ``+1`` to raise the objective, ``-1`` to lower it.
      action: 2 (eq. 79, default) or 1 (eq. 78, invertible σ only).
      steps, lr, cap: ascent steps per batch, Lie-algebra step size, and the
        ``‖∇L‖²`` level above which stepping stops.
      key: PRNG key for the sharpness directions / curvature generators.

    Returns:
      ``(new_params, TeleportReport)``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose from {OBJECTIVES}")
    if direction not in (1, -1):
        raise ValueError("direction must be +1 or -1")
    if objective == "grad_norm_A" and metric is None:
        raise ValueError("objective 'grad_norm_A' needs metric (AdaGrad's diagonal A, shaped like the weights)")
    ws = weights_of(params)
    x, y = (jnp.asarray(b) for b in batch)
    if x.ndim == 2:
        x, y = x[None], y[None]
    x = x.astype(ws[0].dtype)
    key = jax.random.PRNGKey(0) if key is None else key
    probes = make_probes(key, ws, n_directions, displacements, n_curves)
    metric = tuple(jnp.ones_like(w) for w in ws) if metric is None else tuple(metric)
    config = Config(objective, activation, action, steps)
    new_ws, _, stats = _teleport(ws, (), x, y, probes, metric, lr, direction, cap, config=config)
    return layers_of(new_ws), report_from_stats(stats, objective, direction)


__all__ = ["Config", "TeleportReport", "mlp_teleport", "teleport_weights"]
