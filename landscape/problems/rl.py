"""Reinforcement-learning toys of Ridge Rider (Parker-Holder et al. 2020, §4, App. B).

``tree-mdp``
    A binary-tree MDP with exact expected return (§4 "Diversity in RL", App. B).
    The agent starts at the root and chooses left/right at every decision node
    until it reaches a terminal node paying −1 or 10.  The policy is tabular with
    one parameter per decision node, ``π(left|s) = σ(θ_s)`` (the paper says "the
    policies have six dimensions" for six decision nodes but does not print the
    parameterisation), and the loss is the negative exact return
    ``L(θ) = −J(θ) = −Σ_ℓ r_ℓ Π_{(s,a)∈path(ℓ)} π_θ(a|s)``.
    The paper gives no tree generator; ours (seeded) grows the tree from the root,
    making every non-root node above the bottom level terminal with probability
    ``p_terminal`` and every node at depth ``depth`` terminal, each terminal paying 10
    with probability ``p_positive`` (else −1); trees whose deepest terminal is not at
    ``depth`` or without both reward kinds are redrawn.

``lever-game``
    The zero-shot-coordination lever game (§4, Fig. 6, from Other-Play): two players
    each pull one of 10 levers; matching on lever a pays ``r_a`` (7 levers pay 1,
    2 pay 0.8, 1 pays 0.6), mismatching pays 0.  Each player has a softmax policy
    over the levers (the paper does not print one), so
    ``J(θ) = Σ_a π₁(a) π₂(a) r_a`` and the loss is ``−J``.

The lever game also has ``extras["random_relabelling"](seed)``, a random element of
its symmetry group (levers of equal payoff shuffled), which models independent
agents that share no lever labels.

Both expose ``extras["entropy"](theta)`` (total policy entropy, the MIS term of
§3 / Theorems 6–7) and ``extras["greedy"](theta)`` (the outcome the greedy policy
reaches).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Game, Problem, default_dtype
from .registry import register


def _binary_entropy(logits):
    p = jax.nn.sigmoid(logits)
    return -(p * jax.nn.log_sigmoid(logits) + (1 - p) * jax.nn.log_sigmoid(-logits))


def random_tree(depth: int, seed: int, p_terminal: float = 0.3, p_positive: float = 0.3):
    """Draw a tree: ``(children (m, 2) int, rewards (n_leaves,), leaf_paths (n_leaves, m))``.

    Decision nodes are numbered 0..m−1 breadth-first (root 0).  ``children[s, a]`` is
    the index of the child reached by action ``a`` (0 = left, 1 = right): ``k ≥ 0`` a
    decision node, ``−1 − j`` the terminal ``j``.  ``leaf_paths[j, s]`` is +1 if the path
    to terminal ``j`` goes left at ``s``, −1 if right, 0 if it does not visit ``s``.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    rng = np.random.default_rng(seed)
    while True:
        children, paths, rewards = [], [], []
        frontier = [(0, {})]  # (depth of the decision node, its path)
        n_decisions = 1
        deepest = 0
        while frontier:
            next_frontier = []
            for level, path in frontier:
                row = []
                for action, sign in ((0, 1), (1, -1)):
                    child_path = {**path, len(children): sign}
                    if level + 1 == depth or rng.random() < p_terminal:
                        row.append(-1 - len(rewards))
                        positive = rng.random() < p_positive and not (action == 1 and row[0] < 0 and rewards[-1] > 0)
                        rewards.append(10.0 if positive else -1.0)
                        paths.append(child_path)
                        deepest = max(deepest, level + 1)
                    else:
                        row.append(n_decisions)
                        n_decisions += 1
                        next_frontier.append((level + 1, child_path))
                children.append(row)
            frontier = next_frontier
        rewards = np.asarray(rewards)
        if deepest == depth and (rewards > 0).any() and (rewards < 0).any():
            break
    leaf_paths = np.zeros((len(rewards), len(children)))
    for j, path in enumerate(paths):
        for s, sign in path.items():
            leaf_paths[j, s] = sign
    return np.asarray(children), rewards, leaf_paths


def tree_greedy_leaf(children: np.ndarray, theta) -> int:
    """The terminal reached by always taking the more likely action (θ_s ≥ 0 → left)."""
    theta = np.asarray(theta)
    s = 0
    while s >= 0:
        nxt = children[s, 0 if theta[s] >= 0 else 1]
        if nxt < 0:
            return -1 - int(nxt)
        s = int(nxt)
    raise AssertionError("unreachable")


@register("tree-mdp", "rl", "Binary-tree MDP, tabular sigmoid policy, exact return (Ridge Rider §4)")
def tree_mdp(depth: int = 4, seed: int = 0, p_terminal: float = 0.3, p_positive: float = 0.3) -> Problem:
    children, rewards, leaf_paths = random_tree(depth, seed, p_terminal, p_positive)
    dtype = default_dtype()
    lefts = jnp.asarray(leaf_paths > 0, dtype)
    rights = jnp.asarray(leaf_paths < 0, dtype)
    r = jnp.asarray(rewards, dtype)
    m = children.shape[0]

    def leaf_probabilities(theta):
        # log p_ℓ = Σ_s [ℓ goes left at s] log σ(θ_s) + [ℓ goes right at s] log σ(−θ_s): two
        # matrix-vector products over 2m log-sigmoids (not one per leaf and node).
        return jnp.exp(lefts @ jax.nn.log_sigmoid(theta) + rights @ jax.nn.log_sigmoid(-theta))

    def loss(theta):
        return -jnp.dot(r, leaf_probabilities(theta))

    def entropy(theta):
        return jnp.sum(_binary_entropy(theta))

    def sampler(key):
        return jax.random.normal(key, (m,), dtype)

    positive = np.flatnonzero(rewards > 0)
    return Problem(
        name="tree-mdp",
        dim=m,
        loss=loss,
        sampler=sampler,
        description=(
            f"Binary-tree MDP of depth {depth} (seed {seed}): {m} decision nodes, {len(rewards)} "
            f"terminals of which {len(positive)} pay 10 and the rest −1; tabular policy "
            "π(left|s)=σ(θ_s), loss = −exact expected return (Ridge Rider §4, App. B)."
        ),
        options={"depth": depth, "seed": seed, "p_terminal": p_terminal, "p_positive": p_positive},
        extras={
            "children": children,
            "rewards": rewards,
            "leaf_paths": leaf_paths,
            "positive_leaves": positive,
            "leaf_probabilities": leaf_probabilities,
            "entropy": entropy,
            "greedy": lambda theta: tree_greedy_leaf(children, theta),
        },
    )


LEVER_PAYOFFS = (1.0,) * 7 + (0.8,) * 2 + (0.6,)


@register("lever-game", "rl", "Two-player lever coordination game (Ridge Rider §4, Fig. 6)")
def lever_game(payoffs: tuple[float, ...] | list[float] = LEVER_PAYOFFS, init_scale: float = 0.01) -> Game:
    payoffs = np.asarray(payoffs, dtype=float)
    k = len(payoffs)
    dtype = default_dtype()
    r = jnp.asarray(payoffs, dtype)

    def policies(theta):
        return jax.nn.softmax(theta[:k]), jax.nn.softmax(theta[k:])

    def cross_play(theta_a, theta_b):
        """J(π₁ of ``theta_a``, π₂ of ``theta_b``), App. C.2's cross-play score."""
        return jnp.sum(jax.nn.softmax(theta_a[:k]) * jax.nn.softmax(theta_b[k:]) * r)

    def loss(theta):
        return -cross_play(theta, theta)

    def entropy(theta):
        p1, p2 = policies(theta)
        return -jnp.sum(p1 * jnp.log(p1)) - jnp.sum(p2 * jnp.log(p2))

    def sampler(key):
        return init_scale * jax.random.normal(key, (2 * k,), dtype)

    def greedy(theta):
        theta = np.asarray(theta)
        return int(np.argmax(theta[:k])), int(np.argmax(theta[k:]))

    def random_relabelling(seed: int):
        """A random symmetry of the game: a permutation ``p`` of the parameters that
        shuffles levers of equal payoff (the same way for both players), so
        ``loss(θ[p]) == loss(θ)``."""
        rng = np.random.default_rng(seed)
        lever = np.arange(k)
        for value in np.unique(payoffs):
            same = np.flatnonzero(payoffs == value)
            lever[same] = rng.permutation(same)
        return np.concatenate([lever, lever + k])

    return Game(
        name="lever-game",
        dim=2 * k,
        loss=loss,
        sampler=sampler,
        description=(
            f"Lever game: two players each pull one of {k} levers; matching on lever a pays r_a "
            f"(payoffs {payoffs.tolist()}), else 0. Softmax policies, loss = −Σ_a π₁(a)π₂(a)r_a "
            "(Ridge Rider §4, Fig. 6; Other-Play)."
        ),
        options={"payoffs": payoffs.tolist(), "init_scale": init_scale},
        extras={
            "payoffs": payoffs,
            "policies": policies,
            "cross_play": cross_play,
            "entropy": entropy,
            "greedy": greedy,
            "random_relabelling": random_relabelling,
        },
        player_losses=(loss, loss),
        blocks=(np.arange(k), np.arange(k, 2 * k)),
    )
