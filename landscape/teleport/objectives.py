"""Teleportation objectives (Zhao et al., Secs. 3, 4.1, 4.2 and App. E.2-E.4, G.1).

All objectives are functions of the weights ``ws`` of a bias-free MLP on one
teleport batch ``(x, y)`` with mean cross-entropy ``L``:

* ``grad_norm``: ``‖∇L‖²`` (eq. 3);
* ``grad_norm_A``: AdaGrad's Mahalanobis norm ``∇Lᵀ A ∇L`` with the diagonal
  ``A = (ε I + diag(G))^{-1/2}`` given as ``metric`` (a tuple shaped like
  ``ws``; eq. 99, App. G.1);
* ``sharpness``: ``φ(w, T, D) = 1/(|T||D|) Σ_{t∈T} Σ_{d∈D} L(w + t d)`` with
  ``D`` random unit vectors of the flat parameter space (eq. 13);
* ``curvature``: ``ψ(w, k) = 1/k Σ_i κ(γ_{M_i}(0, w), 0)`` (eq. 14) for the
  curves ``γ_M(t) = exp(tM)·w`` of the group action, one random ``M`` per
  hidden layer per curve, with ``κ`` from eq. (80).

The random directions and Lie-algebra elements are drawn once per teleport
(``make_probes``) and held fixed while the group element is optimised, so each
objective is a deterministic function of the weights.  Deviations from the
authors' code, deliberate: directions ``d`` are uniform on the unit sphere, as
the paper's text says (the code normalises non-negative ``rand`` vectors), and
``M`` is standard normal with unit Frobenius norm (the code uses
``rand/‖rand‖_F``; ``make_probes(..., generators="uniform")`` draws those).
:func:`curvature_per_pair` is the authors' correlation code's ψ: each layer
pair's action applied alone to the unchanged weights and the per-pair curve
derivatives summed, instead of the exact composition.

:func:`curve_curvature` is eq. (80) for any curve ``R -> R^n`` (or pytree),
with ``γ'`` and ``γ''`` by nested forward-mode differentiation (hand-written:
no library provides the curvature of a parametrised curve).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .groups import Weights, act, cross_entropy, hidden_widths

OBJECTIVES = ("grad_norm", "grad_norm_A", "sharpness", "curvature")

#: Displacements of eq. (13): the paper's MNIST list T = 0.001, 0.011, ..., 0.191 (App. F.3).
PAPER_DISPLACEMENTS = tuple(0.001 + 0.01 * i for i in range(20))


def curve_curvature(curve: Callable, t: float | jax.Array = 0.0) -> jax.Array:
    """Curvature ``κ = (‖γ'‖²‖γ''‖² − (γ'·γ'')²)^{1/2} / ‖γ'‖³`` of ``curve`` at ``t`` (eq. 80).

    ``curve`` maps a scalar to an array or a pytree (flattened).  At ``t`` the
    curve's first two derivatives come from nested ``jax.jvp``.
    """
    t = jnp.asarray(t, dtype=jnp.result_type(float))

    def flat(s):
        return ravel_pytree(curve(s))[0]

    def velocity(s):
        return jax.jvp(flat, (s,), (jnp.ones_like(s),))[1]

    d1, d2 = jax.jvp(velocity, (t,), (jnp.ones_like(t),))
    n1, n2, dot = d1 @ d1, d2 @ d2, d1 @ d2
    return jnp.sqrt(jnp.maximum(n1 * n2 - dot**2, 0.0)) / n1**1.5


class Probes(NamedTuple):
    """Random quantities held fixed during one teleport.

    ``directions``: (|D|, n) unit vectors (eq. 13); ``displacements``: (|T|,);
    ``generators``: per hidden layer an array (k, d, d) of Lie-algebra elements
    with unit Frobenius norm (eq. 14).
    """

    directions: jax.Array
    displacements: jax.Array
    generators: tuple[jax.Array, ...]


GENERATORS = ("normal", "uniform")


def make_probes(key, ws: Weights, n_directions: int = 200, displacements=PAPER_DISPLACEMENTS, n_curves: int = 10,
                generators: str = "normal") -> Probes:
    """Draw the sharpness directions and curvature generators for ``ws``; generator
    entries are standard normal (``"normal"``) or U[0, 1) (``"uniform"``, the authors'
    code), scaled to unit Frobenius norm."""
    if generators not in GENERATORS:
        raise ValueError(f"generators must be one of {GENERATORS}, got {generators!r}")
    dtype = ws[0].dtype
    dim = sum(int(w.size) for w in ws)
    k_dir, k_gen = jax.random.split(key)
    d = jax.random.normal(k_dir, (n_directions, dim), dtype)
    d = d / jnp.linalg.norm(d, axis=1, keepdims=True)
    gens = []
    for k, h in zip(jax.random.split(k_gen, len(ws) - 1), hidden_widths(ws)):
        if generators == "normal":
            m = jax.random.normal(k, (n_curves, h, h), dtype)
        else:
            m = jax.random.uniform(k, (n_curves, h, h), dtype)
        gens.append(m / jnp.linalg.norm(m, axis=(1, 2), keepdims=True))
    return Probes(d, jnp.asarray(displacements, dtype), tuple(gens))


def grad_norm_sq(ws: Weights, x, y, activation: str) -> jax.Array:
    """``‖∇_W L‖²`` on the batch."""
    g = jax.grad(cross_entropy)(ws, x, y, activation)
    return sum(jnp.sum(gi**2) for gi in g)


def grad_norm_A(ws: Weights, x, y, activation: str, metric: Weights) -> jax.Array:
    """AdaGrad's ``‖∇L‖_A = ∇Lᵀ A ∇L`` with diagonal ``A`` = ``metric`` (eq. 99)."""
    g = jax.grad(cross_entropy)(ws, x, y, activation)
    return sum(jnp.sum(a * gi**2) for a, gi in zip(metric, g))


def sharpness(ws: Weights, x, y, activation: str, probes: Probes, chunk: int = 64) -> jax.Array:
    """``φ(w, T, D)``, the mean loss at ``w + t d`` (eq. 13), in chunks of ``chunk`` perturbations."""
    flat, unravel = ravel_pytree(ws)
    n_t, n_d = probes.displacements.shape[0], probes.directions.shape[0]
    ts = jnp.repeat(probes.displacements, n_d)
    ds = jnp.tile(probes.directions, (n_t, 1))

    def loss_at(td):
        t, d = td
        return cross_entropy(unravel(flat + t * d), x, y, activation)

    return jnp.mean(jax.lax.map(loss_at, (ts, ds), batch_size=chunk))


def _second_order_exp(tm):
    """``I + tM + (tM)²/2``: agrees with ``exp(tM)`` to second order, all that κ at t = 0 needs."""
    eye = jnp.eye(tm.shape[-1], dtype=tm.dtype)
    return eye + tm + 0.5 * tm @ tm


def curvature(ws: Weights, x, y, activation: str, probes: Probes, action: int = 2) -> jax.Array:
    """``ψ(w, k)``: mean curvature at ``t = 0`` of the curves ``exp(tM_i)·w`` (eqs. 14, 80).

    ``γ`` is the data-dependent group action on the batch ``x``; since only
    ``γ'(0)`` and ``γ''(0)`` enter κ, ``exp(tM)`` is replaced by its
    second-order Taylor polynomial, which has the same derivatives there.
    """

    def kappa(ms):
        return curve_curvature(lambda t: act(ws, [_second_order_exp(t * m) for m in ms], x, activation, action))

    return jnp.mean(jax.vmap(kappa)(probes.generators))


def curvature_per_pair(ws: Weights, x, y, activation: str, probes: Probes, action: int = 1) -> jax.Array:
    """ψ as the authors' correlation code computes it: for each curve, every hidden
    layer's ``exp(tM_i)`` acts alone on the unchanged weights and the curve is
    ``w + Σ_i (γ_i(t) − w)``, so ``γ'`` and ``γ''`` are the sums of the per-pair
    derivatives (exact composition would let later pairs see the earlier ones' change).
    ``x`` is one batch ``(n, d)`` or one batch per curve ``(k, n, d)``."""
    x = jnp.broadcast_to(x, (probes.generators[0].shape[0], *x.shape[-2:]))

    def kappa(ms, xb):
        def curve(t):
            parts = []
            for i, m in enumerate(ms):
                gs = [jnp.eye(g.shape[-1], dtype=g.dtype) for g in ms]
                gs[i] = _second_order_exp(t * m)
                parts.append(ravel_pytree(act(ws, gs, xb, activation, action))[0])
            base = ravel_pytree(ws)[0]
            return base + sum(part - base for part in parts)

        return curve_curvature(curve)

    return jnp.mean(jax.vmap(kappa)(probes.generators, x))


def objective_fn(objective: str, activation: str, action: int = 2) -> Callable:
    """``(ws, x, y, probes, metric) -> scalar`` for the named objective."""
    if objective == "grad_norm":
        return lambda ws, x, y, probes, metric: grad_norm_sq(ws, x, y, activation)
    if objective == "grad_norm_A":
        return lambda ws, x, y, probes, metric: grad_norm_A(ws, x, y, activation, metric)
    if objective == "sharpness":
        return lambda ws, x, y, probes, metric: sharpness(ws, x, y, activation, probes)
    if objective == "curvature":
        return lambda ws, x, y, probes, metric: curvature(ws, x, y, activation, probes, action)
    raise ValueError(f"unknown objective {objective!r}; choose from {OBJECTIVES}")
