"""GL(h) group actions on the weights of a bias-free MLP (Zhao et al., App. E.1).

The network is ``h_m = σ(W_m h_{m-1})`` on column batches ``h_0 = X ∈ R^{d_0×k}``
with ``W_m ∈ R^{d_m×d_{m-1}}`` and an affine last layer, i.e.
:func:`landscape.problems.networks.forward` with ``bias=False``.  Weights are
handled here as a tuple ``ws = (W_1, ..., W_L)``; :func:`weights_of` and
:func:`layers_of` convert from and to the ``[{"w": W}, ...]`` layout of the
network problems.

Each hidden layer m-1 (width ``d_{m-1}``) carries a group ``GL_{d_{m-1}}(R)``
acting on the consecutive pair ``(W_m, W_{m-1})`` on the batch ``h_{m-2}``:

* **action 2** (eq. 79, the paper's default, any σ; pseudo-inverses as in the
  paper's experiments)::

      W_m     ↦ W_m σ(W_{m-1} h) σ(g W_{m-1} h)⁺
      W_{m-1} ↦ g W_{m-1}

* **action 1** (eq. 78, needs an invertible σ, e.g. LeakyReLU)::

      W_m     ↦ W_m g⁻¹
      W_{m-1} ↦ σ⁻¹(g σ(W_{m-1} h)) h⁺

Both keep the network's output on the batch unchanged exactly when the
pseudo-inverted ``d × k`` matrix has full column rank, i.e. ``k ≤ d``: for
action 2 the hidden width ``d_{m-1}``, for action 1 the width ``d_{m-2}`` of
``h`` (the input dimension for the first pair).  With larger batches the loss
is only approximately invariant (notes §1.2); :func:`invariance_error`
measures it.

:func:`act` applies one group element per hidden layer, pair after pair from
the input side, each pair seeing the hidden activations of the already
transformed earlier layers; a composition of loss-preserving maps, so the
whole action preserves the batch loss.  ``pinv`` and ``inv`` come from
``jax.numpy.linalg``; the actions themselves are hand-written because no
library provides them.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax

from ..problems.networks import ACTIVATIONS, forward

Weights = tuple[jax.Array, ...]

_LEAKY_SLOPE = -float(ACTIVATIONS["leaky_relu"](-1.0))  # 0.1, read off the shared activation

#: σ⁻¹ for the invertible activations (action 1, eq. 78).
INVERSE_ACTIVATIONS = {
    "leaky_relu": lambda y: jnp.where(y >= 0, y, y / _LEAKY_SLOPE),
    "identity": lambda y: y,
    "tanh": jnp.arctanh,
}

ACTIONS = (1, 2)


def weights_of(layers: Sequence[dict]) -> Weights:
    """``[{"w": W_1}, ...] -> (W_1, ..., W_L)``; refuses layers with biases."""
    if any("b" in layer for layer in layers):
        raise ValueError("the GL(h) actions of App. E.1 are for bias-free MLPs (build the problem with bias=False)")
    return tuple(layer["w"] for layer in layers)


def layers_of(ws: Weights) -> list[dict]:
    """``(W_1, ..., W_L) -> [{"w": W_1}, ...]``."""
    return [{"w": w} for w in ws]


def hidden_widths(ws: Weights) -> tuple[int, ...]:
    """Sizes ``d_1..d_{L-1}`` of the hidden layers, i.e. of the group elements."""
    return tuple(int(w.shape[0]) for w in ws[:-1])


def logits(ws: Weights, x: jax.Array, activation: str) -> jax.Array:
    """Network output on a row batch ``x`` (k, d_0)."""
    return forward(layers_of(ws), x, activation)


def cross_entropy(ws: Weights, x: jax.Array, y: jax.Array, activation: str) -> jax.Array:
    """Mean softmax cross-entropy of the MLP on ``(x, y)``."""
    return optax.losses.softmax_cross_entropy_with_integer_labels(logits(ws, x, activation), y).mean()


def _act_pair(w_out, w_in, g, h, sigma, sigma_inv, action):
    """Transform ``(W_m, W_{m-1})`` by ``g`` on the column batch ``h = h_{m-2}``."""
    z = w_in @ h
    if action == 2:
        w_in_new = g @ w_in
        w_out_new = w_out @ sigma(z) @ jnp.linalg.pinv(sigma(w_in_new @ h))
    else:
        w_out_new = w_out @ jnp.linalg.inv(g)
        w_in_new = sigma_inv(g @ sigma(z)) @ jnp.linalg.pinv(h)
    return w_out_new, w_in_new


def act(ws: Weights, gs: Sequence[jax.Array], x: jax.Array, activation: str, action: int = 2) -> Weights:
    """Apply ``g_1..g_{L-1}`` (one per hidden layer) to ``ws`` on the row batch ``x``.

    Eq. (79) for ``action=2`` and eq. (78) for ``action=1`` (Zhao et al., App. E.1).
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be 1 or 2, got {action!r}")
    if action == 1 and activation not in INVERSE_ACTIVATIONS:
        raise ValueError(f"action 1 needs an invertible activation ({sorted(INVERSE_ACTIVATIONS)}), got {activation!r}")
    sigma = ACTIVATIONS[activation]
    sigma_inv = INVERSE_ACTIVATIONS.get(activation)
    ws = list(ws)
    h = x.T
    for i, g in enumerate(gs):
        ws[i + 1], ws[i] = _act_pair(ws[i + 1], ws[i], g, h, sigma, sigma_inv, action)
        h = sigma(ws[i] @ h)
    return tuple(ws)


def identity_elements(ws: Weights) -> tuple[jax.Array, ...]:
    """The identity of every hidden layer's GL(d)."""
    return tuple(jnp.eye(d, dtype=ws[0].dtype) for d in hidden_widths(ws))


def invariance_error(before: Weights, after: Weights, x, y, activation: str) -> jax.Array:
    """``|L(after) − L(before)| / |L(before)|`` on the batch ``(x, y)``."""
    l0 = cross_entropy(before, x, y, activation)
    l1 = cross_entropy(after, x, y, activation)
    return jnp.abs(l1 - l0) / jnp.abs(l0)
