"""Update rules for games as fixed-point maps z ↦ F(z) on a flat real state.

Every rule is "a gradient *field* fed to an optax transformation under a
*scheme*":

field
    ``gradient``: the joint gradient ĝ (Lorraine eq. 5.4);
    ``lola``: LOLA (Foerster et al. 2018), player i follows
    ∇_i L_i − η ∇_i Σ_{j≠i} (∇_j L_i · ∇_j L_j) with look-ahead η
    (the exact first-order LOLA of the SOS reference code; η = 0 gives ĝ);
    ``lola-shaping``: LOLA as Foerster et al. (2018) wrote it, keeping only the
    shaping term: ∇_i L_i − η (∇_i∇_j L_j)ᵀ ∇_j L_i (the term
    (∇_j∇_i L_i)ᵀ∇_j L_j of the exact gradient dropped);
    ``extragradient``: ĝ evaluated at the extrapolated point ω − α′ĝ(ω)
    (App. B.3.3, EG: ω^{j+½} = ω^j − α′ĝ^j, ω^{j+1} = ω^j − αĝ^{j+½}).
transformation (optax; each rule and its hyperparameter specs are declared
once in :mod:`landscape.optim`)
    ``optax.sgd`` (plain or heavy-ball: θ ← θ − αg + β(θ − θ_prev), eq. 4.2),
    ``optax.optimistic_gradient_descent`` (OG, App. B.3.3:
    ω^{j+1} = ω^j − 2αĝ^j + α′ĝ^{j−1}, i.e. optax's (alpha, beta) =
    (2α − α′, α′) with unit learning rate; optax takes ĝ^{−1} = ĝ^0, so the
    first step is ω − (2α − α′)ĝ^0), :func:`landscape.optim.complex_momentum`
    (SimCM/AltCM, Algorithms 7 and 11) and :func:`landscape.optim.complex_adam`
    (Algorithm 8 with its typos fixed).  The last two are hand-written
    ``optax.GradientTransformation``s because optax has no complex momentum.
scheme
    ``simultaneous`` (Jacobi: every player uses ĝ(ω^j)) or ``alternating``
    (Gauss-Seidel: player B sees A's new parameters, Algorithm 11).  Each
    player has its own optax state.

The state z stacks the parameters ω and the flattened optimizer states
(complex buffers as their real and imaginary parts, Algorithm 12), so that
the Jacobian ∇_z F of *any* rule (eq. 5.7; eq. 4.12 for SimCM) is one
``jax.jacfwd``.  Hyperparameters enter as a dict of (traceable) scalars, so
a compiled map can be reused, or ``vmap``-ed, across step sizes and β.

:func:`resolve`, :func:`run_map`, :func:`as_points` and :func:`game_config`
are the plumbing every game computation (portraits, Lyapunov exponents,
generalized Ridge Rider, rate maps) shares.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import optim
from ..kernel_cache import KERNELS
from ..problems import Game, get
from .jacobian import joint_gradient

Array = jax.Array


# --------------------------------------------------------------------------
# Rule catalogue (declared in landscape.optim)

#: The game update rules of the catalogue (:mod:`landscape.optim`), by name.
RULES: dict[str, optim.Algorithm] = {name: optim.get(name) for name in optim.names("rule")}


def rule_names() -> list[str]:
    return list(RULES)


def hyperparameters(rule: str, **overrides: float) -> dict[str, float]:
    """The rule's default hyperparameters updated by ``overrides``, validated by
    :func:`landscape.optim.validate` (unknown keys, NaN/inf and out-of-range values refused)."""
    if rule not in RULES:
        raise ValueError(f"unknown update rule {rule!r}; choose from {', '.join(RULES)}")
    return optim.validate(rule, overrides)


# --------------------------------------------------------------------------
# Fields


def lola_field(game: Game, w: Array, lookahead, shaping_only: bool = False) -> Array:
    """LOLA's joint update direction: ∇_i L_i − η ∇_i Σ_{j≠i} ∇_j L_i · ∇_j L_j.

    ``shaping_only`` holds ∇_j L_i fixed inside the derivative, which leaves
    ∇_i L_i − η Σ_{j≠i} (∇_i∇_j L_j)ᵀ ∇_j L_i: Foerster et al.'s (2018) original update."""
    grads = [jax.grad(loss)(w) for loss in game.player_losses]
    out = jnp.zeros_like(w)
    for i, block in enumerate(game.blocks):
        def shaping(v, i=i):
            full = [jax.grad(loss)(v) for loss in game.player_losses]
            own = jax.lax.stop_gradient(full[i]) if shaping_only else full[i]
            return sum(own[b] @ full[j][b] for j, b in enumerate(game.blocks) if j != i)

        out = out.at[block].set(grads[i][block] - lookahead * jax.grad(shaping)(w)[block])
    return out


def field_fn(game: Game, field: str) -> Callable[[Array, dict], Array]:
    if field == "gradient":
        return lambda w, h: joint_gradient(game, w)
    if field == "lola":
        return lambda w, h: lola_field(game, w, h["lookahead"])
    if field == "lola-shaping":
        return lambda w, h: lola_field(game, w, h["lookahead"], shaping_only=True)
    if field == "extragradient":
        return lambda w, h: joint_gradient(game, w - h["extrapolation"] * joint_gradient(game, w))
    raise ValueError(f"unknown field {field!r}")


# --------------------------------------------------------------------------
# Flat real state packing (complex leaves as re/im, integer leaves frozen)


class _Packer:
    """Flattens a pytree of real/complex/integer/bool arrays into one real vector and back;
    integer and bool leaves (step counters, flags) are read through ``stop_gradient``."""

    def __init__(self, template, dtype) -> None:
        leaves, self.treedef = jax.tree.flatten(template)
        self.specs = [(jnp.shape(x), jnp.result_type(x)) for x in leaves]
        self.dtype = dtype
        self.size = sum(int(np.prod(s)) * (2 if jnp.issubdtype(d, jnp.complexfloating) else 1) for s, d in self.specs)

    def pack(self, tree) -> Array:
        parts = []
        for x in jax.tree.leaves(tree):
            x = jnp.ravel(x)
            if jnp.iscomplexobj(x):
                parts += [jnp.real(x), jnp.imag(x)]
            else:
                parts.append(x.astype(self.dtype))
        return jnp.concatenate(parts) if parts else jnp.zeros(0, self.dtype)

    def unpack(self, flat: Array):
        leaves, pos = [], 0
        for shape, dtype in self.specs:
            n = int(np.prod(shape))
            if jnp.issubdtype(dtype, jnp.complexfloating):
                re, im = flat[pos:pos + n], flat[pos + n:pos + 2 * n]
                leaves.append((re + 1j * im).reshape(shape).astype(dtype))
                pos += 2 * n
            elif not jnp.issubdtype(dtype, jnp.floating):  # counters and flags: not differentiated
                leaves.append(jnp.round(jax.lax.stop_gradient(flat[pos:pos + n])).astype(dtype).reshape(shape))
                pos += n
            else:
                leaves.append(flat[pos:pos + n].reshape(shape).astype(dtype))
                pos += n
        return jax.tree.unflatten(self.treedef, leaves)


@dataclasses.dataclass(frozen=True, eq=False)
class FixedPointMap:
    """A rule on a game as a map of the flat state z = [ω, optimizer states].

    ``init(w, h)`` builds z from parameters (zero buffers), ``step(z, h)`` is
    F, ``params(z)`` reads ω back; ``h`` is the hyperparameter dict.
    """

    game: Game
    rule: str
    state_dim: int
    init: Callable[[Array, dict], Array]
    step: Callable[[Array, dict], Array]

    @property
    def dim(self) -> int:
        return self.game.dim

    def params(self, z: Array) -> Array:
        return z[..., : self.game.dim]


@KERNELS("games.rules.fixed_point_map")
def fixed_point_map(game: Game, rule: str) -> FixedPointMap:
    """F for ``rule`` on ``game`` (cached per game object, rule name and precision in
    :data:`landscape.kernel_cache.KERNELS`)."""
    spec = RULES[rule]
    if spec.field is None:
        raise ValueError(f"{rule!r} is not a game update rule")
    field = field_fn(game, spec.field)
    dtype = jnp.zeros(()).dtype if not jax.config.jax_enable_x64 else jnp.float64
    probe = hyperparameters(rule)
    packers = [_Packer(spec.transform(probe).init(jnp.zeros(len(b), dtype)), dtype) for b in game.blocks]
    # index arrays in the kernel's precision (int32 without x64): a numpy int64 block would mix
    # integer widths when this cached kernel runs with x64 off
    blocks = tuple(jnp.asarray(b, dtype=jnp.result_type(int)) for b in game.blocks)
    dim = game.dim

    def init(w, h):
        tx = spec.transform(h)
        states = [p.pack(tx.init(w[b])) for p, b in zip(packers, blocks)]
        return jnp.concatenate([w, *states])

    def step(z, h):
        tx = spec.transform(h)
        w, pos = z[:dim], dim
        alternating = spec.scheme == "alternating"
        g = None if alternating else field(w, h)
        new_w, new_states = w, []
        for packer, block in zip(packers, blocks):
            state = packer.unpack(z[pos:pos + packer.size])
            pos += packer.size
            if alternating:
                g = field(new_w, h)
            update, state = tx.update(g[block], state, new_w[block])
            new_w = new_w.at[block].add(update)
            new_states.append(packer.pack(state))
        return jnp.concatenate([new_w, *new_states])

    return FixedPointMap(game, rule, dim + sum(p.size for p in packers), init, step)


def as_arrays(h: dict[str, float]) -> dict[str, Array]:
    """Hyperparameters as JAX scalars (so jitted kernels do not recompile per value)."""
    return {k: jnp.asarray(v, dtype=jnp.result_type(float)) for k, v in h.items()}


# --------------------------------------------------------------------------
# Running a rule


def resolve(game: Game | str, rule: str, hyper: dict) -> tuple[Game, FixedPointMap, dict, dict]:
    """(game, F, hyperparameters as JAX scalars, hyperparameters as floats)."""
    if isinstance(game, str):
        game = get(game)
    h = hyperparameters(rule, **hyper)
    return game, fixed_point_map(game, rule), as_arrays(h), h


def as_points(points, dim: int) -> Array:
    """An ``(m, dim)`` float array of parameter points."""
    return jnp.asarray(np.asarray(points, dtype=float).reshape(-1, dim), dtype=jnp.result_type(float))


#: The most points one call of a compiled, looping game kernel receives.  On the two-core
#: machine, jaxlib 0.10.2's CPU runtime deadlocks (every thread idle, the result never
#: ready) on one ``vmap``-ed ``lax.scan`` of LOLA steps through the IPD family's exact
#: solve over more than about 3100 points: 3073 run, 3200 hang, and the same call
#: pinned to one core runs.  Batches of this size stay well below that.
MAX_POINTS_PER_CALL = 2048


def in_point_batches(fn: Callable[..., Any], *batched: Any, size: int = MAX_POINTS_PER_CALL) -> Any:
    """``fn(*batched)`` over the leading axis of every leaf of ``batched`` (pytrees of
    arrays), at most ``size`` rows per call, concatenated.  Past one batch the last
    one is padded to ``size`` rows (by repeating rows) so ``fn`` compiles once."""
    total = jax.tree.leaves(batched)[0].shape[0]
    if total <= size:
        return fn(*batched)
    parts = []
    for start in range(0, total, size):
        rows = np.resize(np.arange(start, min(start + size, total)), size)
        parts.append(fn(*jax.tree.map(lambda leaf: leaf[rows], batched)))
    return jax.tree.map(lambda *leaves: jnp.concatenate(leaves)[:total], *parts)


def run_map(fmap: FixedPointMap, z0: Array, h: dict, steps: int) -> Array:
    """States z_0 … z_steps of F from ``z0`` (``lax.scan``)."""

    def body(z, _):
        nxt = fmap.step(z, h)
        return nxt, nxt

    _, zs = jax.lax.scan(body, z0, None, length=steps)
    return jnp.concatenate([z0[None], zs])


def game_config(game: Game, rule: str, h: dict, **extra) -> dict:
    """The result config of a game computation: the game's, the rule and its hyperparameters."""
    return {**game.config(), "rule": rule, "hyperparameters": h, **extra}
