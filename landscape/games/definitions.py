"""Differentiable games (Lorraine thesis, ch. 4-5 and App. B-C).

A game is a :class:`~landscape.problems.base.Game`: one loss per player over
the *joint* parameter vector ω = [θ_A, θ_B] and the index block of each
player.  Each factory below registers with the problem registry (kind
``"game"``, so games appear wherever problems are listed);
:mod:`landscape.problems` imports this module to fill its registry.  The
joint gradient and game Hessian are in :mod:`landscape.games.jacobian`.

Registered games (kind ``"game"``) and the choices made where the thesis is
silent (``../shared/notes/lorraine_games_lyapunov.md`` §6 lists the gaps):

``dirac-gan``
    eq. 4.15, min_x max_y −log(1 + e^{−xy}) − log 2; L_x = f, L_y = −f.
    Ĥ(0) = [[0, ½], [−½, 0]], eigenvalues ±i/2.
``bilinear``
    L_A = xᵀAy, L_B = −xᵀAy with x, y ∈ R^n (options ``n``, ``scale``;
    A = scale·I for n = 1, else a seeded Gaussian matrix); eigenvalues ±i·σ(A).
``matching-pennies``
    p_i = σ(θ_i), L_A = x^T [[1, −1], [−1, 1]] y = (2p_A − 1)(2p_B − 1), L_B = −L_A
    (payoffs ±1, as in the SOS/LOLA reference code); Ĥ(0) eigenvalues ±i/4.
``ipd``
    The LOLA iterated prisoner's dilemma (Foerster et al. 2018): player-A
    payoffs (CC, CD, DC, DD) = (−1, −3, 0, −2), B gets the transpose,
    γ = 0.96, 5 logits per player (p(C|s₀), p(C|CC), p(C|CD), p(C|DC),
    p(C|DD); states are (A's action, B's action) for both players), exact
    discounted return L_i = −(1 − γ) p₀ᵀ (I − γP)⁻¹ r_i, so all-C vs all-C
    scores 1 and all-D vs all-D scores 2 (Table 5.1's loss modes).
``small-ipd``
    §5.6.1: each player has one logit q_i = σ(θ_i) = p(C | opponent
    cooperated or start); after the opponent defects a player cooperates
    with the small probability ``eps`` (default 0.01, the thesis's "high
    probability" of defecting is unspecified).  TT is top-right, DD
    bottom-left (both at infinite logits).
``mixed``
    eq. C.1, τ·small-IPD + (1 − τ)·matching pennies; ``tau`` defaults to 0.5,
    chosen here so that, at step size 1, SimGD from a 7×7 grid of starts in
    [−3, 3]² reaches only the cooperative solution (top-right) while LOLA
    (look-ahead 1) reaches it from 27 starts and the uniform-like equilibrium
    (a finite fixed point near 0 with Ĥ eigenvalues 0.00026 ± 0.125i, listed
    in ``ground_truth["equilibrium"]``) from the other 22.
``interpolated``
    eq. 4.16 with the quadratic terms halved,
    f = xᵀ(γA)y + ½xᵀ((I − γ)B)x − ½yᵀ((I − γ)B)y, A = B diagonal with
    entries linspace(¼, 4, n), so that eigenvalue pair j is
    (1 − γ_j)b_j ± iγ_j a_j and arg λ_j = ±atan(γ_j/(1 − γ_j)), which equals
    ±γ_jπ/2 exactly at γ_j ∈ {0, ½, 1} (the thesis's claims; the literal
    reading doubles the real part).  γ_j ~ U[0, γ_max] for n > 1, γ = γ_max
    for n = 1.
``mog-gan``
    2-D mixture of 8 Gaussians on the unit circle (std ``std``), D 2→16→16→1
    and G 4→16→16→2 (723 parameters: D's 337 first, then G's 386, as in
    Figs 4.7/B.4), tanh hidden units, non-saturating loss on a fixed seeded
    batch so the game is deterministic (the thesis gives neither loss, batch
    nor activation).
``subspace``
    §5.6: a random 2-D slice of any game: for each player a direction
    v ~ U[0, 1]^{d_i}, normalised, and an offset b from the game's sampler;
    player A controls x, B controls y, L_i(v_A x + b_A, v_B y + b_B).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..problems.base import Bounds, Game, default_dtype
from ..problems.networks import forward, init_layers
from ..problems.registry import get, register
from .jacobian import game_hessian, joint_gradient

Array = jax.Array

#: Player-A IPD payoffs over states (CC, CD, DC, DD); player B gets the transpose.
IPD_PAYOFF_A = np.array([-1.0, -3.0, 0.0, -2.0])
IPD_PAYOFF_B = np.array([-1.0, 0.0, -3.0, -2.0])


# --------------------------------------------------------------------------
# Builders


def _normal_sampler(dim: int, scale: float):
    def sample(key):
        return scale * jax.random.normal(key, (dim,), dtype=default_dtype())

    return sample


def two_player_game(
    name: str,
    loss_a: Callable[[Array], Array],
    loss_b: Callable[[Array], Array],
    dim_a: int,
    dim_b: int,
    description: str,
    options: dict,
    bounds: Bounds | None = None,
    equilibria: Sequence[Sequence[float]] = (),
    init_scale: float = 1.0,
    extras: dict | None = None,
    sampler: Callable[[Array], Array] | None = None,
) -> Game:
    """A two-player game; player A owns the first ``dim_a`` parameters."""
    dim = dim_a + dim_b
    ground_truth = {"equilibrium": np.asarray(equilibria, float).reshape(-1, dim)} if len(equilibria) else {}
    return Game(
        name=name,
        dim=dim,
        loss=lambda w: loss_a(w) + loss_b(w),
        sampler=sampler or _normal_sampler(dim, init_scale),
        bounds=bounds,
        ground_truth=ground_truth,
        description=description,
        options=options,
        extras=extras or {},
        player_losses=(loss_a, loss_b),
        blocks=(np.arange(dim_a), np.arange(dim_a, dim)),
    )


# --------------------------------------------------------------------------
# Payoff games on sigmoid-parameterised strategies


def matching_pennies_loss(p_a: Array, p_b: Array) -> Array:
    """Player A's loss (2p_A − 1)(2p_B − 1) = [p_A, 1−p_A] [[1,−1],[−1,1]] [p_B, 1−p_B]ᵀ."""
    return (2 * p_a - 1) * (2 * p_b - 1)


def ipd_losses(policy_a: Array, policy_b: Array, gamma: float, normalised: bool = True) -> tuple[Array, Array]:
    """Exact IPD losses of two memory-one policies (5 cooperation probabilities each).

    p₀ is the distribution of the first joint action; P[s, s'] the transition
    between joint actions; the discounted reward is p₀ᵀ(I − γP)⁻¹r and the
    loss is −(1 − γ) times it (``normalised``, mutual cooperation 1 and
    defection 2) or −1 times it (the LOLA/SOS reference code's scale, 25 and
    50 at γ = 0.96).
    """
    a0, b0 = policy_a[0], policy_b[0]
    p0 = jnp.stack([a0 * b0, a0 * (1 - b0), (1 - a0) * b0, (1 - a0) * (1 - b0)])
    pa, pb = policy_a[1:, None], policy_b[1:, None]
    transition = jnp.concatenate([pa * pb, pa * (1 - pb), (1 - pa) * pb, (1 - pa) * (1 - pb)], axis=1)
    visits = jnp.linalg.solve((jnp.eye(4) - gamma * transition).T, p0)  # (I − γP)⁻ᵀ p₀
    scale = -(1.0 - gamma) if normalised else -1.0
    return scale * visits @ jnp.asarray(IPD_PAYOFF_A), scale * visits @ jnp.asarray(IPD_PAYOFF_B)


def small_ipd_policies(q_a: Array, q_b: Array, eps: float) -> tuple[Array, Array]:
    """The 5-vectors of the small IPD: cooperate with q after the opponent cooperated
    (and at the start), with ``eps`` after it defected."""
    e = jnp.asarray(eps, q_a.dtype)
    return jnp.stack([q_a, q_a, e, q_a, e]), jnp.stack([q_b, q_b, q_b, e, e])


def small_ipd_loss_fn(gamma: float, eps: float, player: int) -> Callable[[Array], Array]:
    def loss(w):
        pa, pb = small_ipd_policies(jax.nn.sigmoid(w[0]), jax.nn.sigmoid(w[1]), eps)
        return ipd_losses(pa, pb, gamma)[player]

    return loss


_PAYOFF_BOX: Bounds = ((-4.0, 4.0), (-4.0, 4.0))


@register("matching-pennies", "game", "Matching pennies on sigmoid strategies; Ĥ(0) eigenvalues ±i/4")
def matching_pennies() -> Game:
    def loss_a(w):
        return matching_pennies_loss(jax.nn.sigmoid(w[0]), jax.nn.sigmoid(w[1]))

    return two_player_game(
        "matching-pennies", loss_a, lambda w: -loss_a(w), 1, 1,
        "Matching pennies with p_i = σ(θ_i) and ±1 payoffs (Lorraine §5.6.1, Fig 5.2): one "
        "equilibrium at θ = 0 where the game Hessian has eigenvalues ±i/4, so simultaneous "
        "gradient play spirals out. Axes are the players' logits.",
        {}, _PAYOFF_BOX, equilibria=[[0.0, 0.0]],
    )


@register("small-ipd", "game", "2-parameter IPD with tit-for-tat and defect-defect solutions")
def small_ipd(gamma: float = 0.96, eps: float = 0.01) -> Game:
    return two_player_game(
        "small-ipd", small_ipd_loss_fn(gamma, eps, 0), small_ipd_loss_fn(gamma, eps, 1), 1, 1,
        "Small IPD (Lorraine §5.6.1): each player's logit sets p(C) after the opponent "
        f"cooperated; after a defection it cooperates with p = {eps}. Solutions top-right "
        "(tit-for-tat, loss 1) and bottom-left (defect-defect, loss 2) separated by a saddle.",
        {"gamma": gamma, "eps": eps}, _PAYOFF_BOX,
    )


def _mixed_equilibrium(loss_a, loss_b) -> list[list[float]]:
    """The finite fixed point of the mixed game, by Newton's method on ĝ from the origin."""
    probe = two_player_game("probe", loss_a, loss_b, 1, 1, "", {})
    w = jnp.zeros(2, default_dtype())
    for _ in range(50):
        w = w - jnp.linalg.solve(game_hessian(probe, w), joint_gradient(probe, w))
    if not bool(jnp.linalg.norm(joint_gradient(probe, w)) < 1e-9):
        return []
    return [np.asarray(w).tolist()]


@register("mixed", "game", "τ·small-IPD + (1 − τ)·matching pennies (eq. C.1), a Hopf bifurcation")
def mixed(tau: float = 0.5, gamma: float = 0.96, eps: float = 0.01) -> Game:
    ipd_a, ipd_b = small_ipd_loss_fn(gamma, eps, 0), small_ipd_loss_fn(gamma, eps, 1)

    def mp_a(w):
        return matching_pennies_loss(jax.nn.sigmoid(w[0]), jax.nn.sigmoid(w[1]))

    def loss_a(w):
        return tau * ipd_a(w) + (1 - tau) * mp_a(w)

    def loss_b(w):
        return tau * ipd_b(w) - (1 - tau) * mp_a(w)

    return two_player_game(
        "mixed", loss_a, loss_b, 1, 1,
        "Mixture of the small IPD and matching pennies (Lorraine eq. C.1): a cooperative "
        "solution (top-right) and a uniform-like equilibrium with complex game-Hessian "
        "eigenvalues, stable only under a games method such as LOLA; a Hopf bifurcation "
        "separates them.",
        {"tau": tau, "gamma": gamma, "eps": eps}, _PAYOFF_BOX,
        equilibria=_mixed_equilibrium(loss_a, loss_b),
    )


@register("ipd", "game", "LOLA iterated prisoner's dilemma, 5 logits per player (Table 5.1)")
def ipd(gamma: float = 0.96, init_scale: float = 1.0, normalised: bool = False) -> Game:
    """The LOLA IPD.  By default at the reference code's scale (unnormalised discounted
    loss: mutual cooperation 25, defection 50 at γ = 0.96), where SimGD and LOLA with
    α = η = 1 behave as in Lorraine Table 5.1; ``normalised=True`` multiplies the losses
    by (1 − γ) (1 and 2, the table's units), which at α = 1 is the reference's α = 0.04
    (gradients and J − I 25× smaller).  Random inits are N(0, init_scale²) logits."""

    def losses(w):
        return ipd_losses(jax.nn.sigmoid(w[:5]), jax.nn.sigmoid(w[5:]), gamma, normalised)

    return two_player_game(
        "ipd", lambda w: losses(w)[0], lambda w: losses(w)[1], 5, 5,
        "Iterated prisoner's dilemma with exact discounted returns (LOLA's payoffs "
        f"(−1, −3, 0, −2), γ = {gamma}); each player has 5 logits: p(C) at the start and "
        "after CC, CD, DC, DD (A's action first). "
        + ("Loss normalised by (1 − γ): mutual cooperation 1, mutual defection 2." if normalised else
           "Unnormalised discounted loss (the reference code's scale): mutual cooperation "
           f"{1 / (1 - gamma):.4g}, mutual defection {2 / (1 - gamma):.4g}; ×(1 − γ) gives the thesis's 1 and 2."),
        {"gamma": gamma, "init_scale": init_scale, "normalised": normalised}, init_scale=init_scale,
    )


@register("dirac-gan", "game", "Dirac-GAN min_x max_y −log(1 + e^{−xy}) − log 2 (eq. 4.15)")
def dirac_gan() -> Game:
    def f(w):
        return -jax.nn.softplus(-w[0] * w[1]) - jnp.log(2.0)

    return two_player_game(
        "dirac-gan", f, lambda w: -f(w), 1, 1,
        "Dirac-GAN (Lorraine eq. 4.15): the generator x minimises and the discriminator y "
        "maximises −log(1 + exp(−xy)) − log 2; the game Hessian at the equilibrium 0 is "
        "[[0, ½], [−½, 0]] (eigenvalues ±i/2), purely adversarial.",
        {}, ((-2.0, 2.0), (-2.0, 2.0)), equilibria=[[0.0, 0.0]],
    )


@register("bilinear", "game", "Zero-sum bilinear game xᵀAy (Corollary 1)")
def bilinear(n: int = 1, scale: float = 1.0, seed: int = 0) -> Game:
    if n == 1:
        a = np.array([[scale]])
    else:
        a = scale * np.random.default_rng(seed).normal(size=(n, n)) / np.sqrt(n)
    a_j = jnp.asarray(a, default_dtype())

    def loss_a(w):
        return w[:n] @ a_j @ w[n:]

    return two_player_game(
        "bilinear", loss_a, lambda w: -loss_a(w), n, n,
        "Zero-sum bilinear game L_A = xᵀAy = −L_B (Lorraine §4.3, Corollary 1): the game "
        "Hessian is antisymmetric with eigenvalues ±i·σ_k(A), so simultaneous gradient play "
        "and real momentum do not converge.",
        {"n": n, "scale": scale, "seed": seed}, ((-2.0, 2.0), (-2.0, 2.0)) if n == 1 else None,
        equilibria=[[0.0] * (2 * n)], extras={"A": a},
    )


@register("interpolated", "game", "Cooperative-to-adversarial quadratic game (eq. 4.16)")
def interpolated(n: int = 1, gamma_max: float = 0.5, seed: int = 0) -> Game:
    diag = np.linspace(0.25, 4.0, n) if n > 1 else np.array([1.0])
    gammas = np.random.default_rng(seed).uniform(0, gamma_max, n) if n > 1 else np.array([gamma_max])
    a, g = jnp.asarray(diag, default_dtype()), jnp.asarray(gammas, default_dtype())

    def f(w):
        x, y = w[:n], w[n:]
        return jnp.sum(x * g * a * y) + 0.5 * jnp.sum((1 - g) * a * x**2) - 0.5 * jnp.sum((1 - g) * a * y**2)

    return two_player_game(
        "interpolated", f, lambda w: -f(w), n, n,
        "Interpolated game (Lorraine eq. 4.16, quadratic terms halved): the adversarialness "
        "γ_j moves eigenvalue pair j from the real axis (γ = 0, cooperative) to the imaginary "
        "axis (γ = 1, purely adversarial), arg λ_j = ±atan(γ_j/(1 − γ_j)).",
        {"n": n, "gamma_max": gamma_max, "seed": seed},
        ((-2.0, 2.0), (-2.0, 2.0)) if n == 1 else None, equilibria=[[0.0] * (2 * n)],
        extras={"A": diag, "gamma": gammas},
    )


def mixture_of_gaussians(n: int, modes: int, radius: float, std: float, seed: int) -> np.ndarray:
    """``n`` samples of ``modes`` Gaussians evenly spaced on a circle."""
    rng = np.random.default_rng(seed)
    angle = 2 * np.pi * rng.integers(0, modes, n) / modes
    return radius * np.c_[np.cos(angle), np.sin(angle)] + std * rng.normal(size=(n, 2))


@register("mog-gan", "game", "GAN on a 2-D mixture of 8 Gaussians, 723 parameters (Figs 4.7, B.4)")
def mog_gan(batch: int = 256, std: float = 0.05, modes: int = 8, hidden: int = 16, seed: int = 0) -> Game:
    dtype = default_dtype()
    key_d, key_g = jax.random.split(jax.random.PRNGKey(seed))
    d_sizes, g_sizes = (2, hidden, hidden, 1), (4, hidden, hidden, 2)
    flat_d, unravel_d = ravel_pytree(init_layers(key_d, d_sizes, True, dtype))
    flat_g, unravel_g = ravel_pytree(init_layers(key_g, g_sizes, True, dtype))
    n_d = flat_d.shape[0]
    data = jnp.asarray(mixture_of_gaussians(batch, modes, 1.0, std, seed), dtype)
    noise = jnp.asarray(np.random.default_rng(seed + 1).normal(size=(batch, 4)), dtype)

    def logits(w):
        disc, gen = unravel_d(w[:n_d]), unravel_g(w[n_d:])
        fake = forward(gen, noise, "tanh")
        return forward(disc, data, "tanh")[:, 0], forward(disc, fake, "tanh")[:, 0]

    def loss_d(w):
        real, fake = logits(w)
        return jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake))

    def loss_g(w):
        return jnp.mean(jax.nn.softplus(-logits(w)[1]))

    def sampler(key):
        kd, kg = jax.random.split(key)
        return jnp.concatenate([
            ravel_pytree(init_layers(kd, d_sizes, True, dtype))[0],
            ravel_pytree(init_layers(kg, g_sizes, True, dtype))[0],
        ])

    return two_player_game(
        "mog-gan", loss_d, loss_g, n_d, flat_g.shape[0],
        "GAN on 8 Gaussians on the unit circle (Lorraine Figs 4.7/B.4): discriminator "
        "2→16→16→1 (first 337 parameters), generator 4→16→16→2 (last 386), tanh, "
        "non-saturating loss on a fixed batch.",
        {"batch": batch, "std": std, "modes": modes, "hidden": hidden, "seed": seed},
        extras={"data": np.asarray(data), "noise": np.asarray(noise), "n_discriminator": int(n_d)},
        sampler=sampler,
    )


# --------------------------------------------------------------------------
# Random 2-D subspaces (§5.6)


def subspace_basis(game: Game, key: Array) -> tuple[Array, Array, Array]:
    """Directions v_A, v_B (U[0, 1] entries, normalised, embedded in the joint space)
    and the offset b ~ the game's sampler."""
    k_a, k_b, k_off = jax.random.split(key, 3)
    dtype = default_dtype()
    vs = []
    for k, block in zip((k_a, k_b), game.blocks):
        v = jax.random.uniform(k, (len(block),), dtype)
        vs.append(jnp.zeros(game.dim, dtype).at[block].set(v / jnp.linalg.norm(v)))
    return vs[0], vs[1], game.init(k_off)


def subspace_game(game: Game, v_a: Array, v_b: Array, offset: Array, name: str = "subspace",
                  options: dict | None = None) -> Game:
    """The 2-D game L_i(x v_A + y v_B + b): player A controls x, player B controls y.

    The basis may be traced arrays (so maps can be ``vmap``-ed over subspaces).
    """
    if game.num_players != 2:
        raise ValueError("random subspaces are defined for two-player games")

    def embed(w):
        return offset + w[0] * v_a + w[1] * v_b

    loss_a, loss_b = (lambda w, f=f: f(embed(w)) for f in game.player_losses)
    return two_player_game(
        name, loss_a, loss_b, 1, 1,
        f"Random 2-D subspace of {game.name} (Lorraine §5.6): each player moves along one "
        "random direction with entries U[0, 1] through a random offset.",
        options or {}, ((-5.0, 5.0), (-5.0, 5.0)),
    )


@register("subspace", "game", "A random 2-D subspace of any two-player game (§5.6)")
def subspace(game: str = "ipd", seed: int = 0, game_options: dict | None = None) -> Game:
    base = get(game, **(game_options or {}))
    v_a, v_b, offset = subspace_basis(base, jax.random.PRNGKey(seed))
    return subspace_game(base, v_a, v_b, offset, "subspace",
                         {"game": game, "seed": seed, "game_options": game_options or {}})
