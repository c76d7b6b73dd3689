"""The RL toys of Ridge Rider §4: tree MDP and lever game, against brute-force references."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape.problems import get, names
from landscape.problems.rl import random_tree


def test_registered():
    assert {"tree-mdp", "lever-game"} <= set(names("rl"))


def _enumerated_return(children, rewards, theta):
    """Expected return by walking the tree recursively (independent of the matrix form)."""
    def value(node):
        if node < 0:
            return rewards[-1 - node]
        p_left = 1 / (1 + np.exp(-theta[node]))
        return p_left * value(children[node, 0]) + (1 - p_left) * value(children[node, 1])

    return value(0)


@pytest.mark.parametrize("depth,seed", [(4, 0), (6, 3), (8, 1)])
def test_tree_mdp_return_matches_recursion(depth, seed):
    problem = get("tree-mdp", depth=depth, seed=seed)
    children, rewards = problem.extras["children"], problem.extras["rewards"]
    assert children.shape == (problem.dim, 2)
    assert len(rewards) == problem.dim + 1  # a full binary tree: one more leaf than decisions
    theta = np.random.default_rng(seed).normal(size=problem.dim)
    np.testing.assert_allclose(-problem.loss(jnp.asarray(theta)), _enumerated_return(children, rewards, theta),
                               rtol=1e-12)
    probs = np.asarray(problem.extras["leaf_probabilities"](jnp.asarray(theta)))
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-12)
    # the greedy leaf is the leaf of a saturated policy
    leaf = problem.extras["greedy"](theta)
    saturated = np.asarray(problem.extras["leaf_probabilities"](jnp.asarray(100 * np.sign(theta + 1e-300))))
    assert saturated[leaf] == pytest.approx(1.0)
    np.testing.assert_allclose(problem.extras["entropy"](jnp.zeros(problem.dim)), problem.dim * np.log(2))


def test_tree_generator_depth_rewards_and_seeding():
    for depth in (3, 5, 8):
        for seed in range(5):
            children, rewards, paths = random_tree(depth, seed)
            assert np.abs(paths).sum(1).max() == depth  # the deepest terminal is at the requested depth
            assert set(rewards) == {10.0, -1.0}
            for row in children:  # sibling terminals are never both positive
                if (row < 0).all():
                    assert not (rewards[-1 - row] > 0).all()
    a, b = random_tree(6, 2), random_tree(6, 2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = random_tree(6, 1)
    assert c[0].shape != a[0].shape or not np.array_equal(c[1], a[1])


def test_lever_game_payoff_symmetries_and_entropy():
    game = get("lever-game")
    r = np.array([1.0] * 7 + [0.8] * 2 + [0.6])
    np.testing.assert_array_equal(game.extras["payoffs"], r)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=20)
    p1, p2 = np.exp(theta[:10]) / np.exp(theta[:10]).sum(), np.exp(theta[10:]) / np.exp(theta[10:]).sum()
    np.testing.assert_allclose(-game.loss(jnp.asarray(theta)), np.sum(p1 * p2 * r), rtol=1e-12)
    other = rng.normal(size=20)
    q2 = np.exp(other[10:]) / np.exp(other[10:]).sum()
    np.testing.assert_allclose(game.extras["cross_play"](theta, other), np.sum(p1 * q2 * r), rtol=1e-12)
    np.testing.assert_allclose(game.extras["entropy"](jnp.zeros(20)), 2 * np.log(10), rtol=1e-12)
    for seed in range(4):
        perm = game.extras["random_relabelling"](seed)
        np.testing.assert_allclose(game.loss(jnp.asarray(theta[perm])), game.loss(jnp.asarray(theta)), rtol=1e-12)
        assert perm[9] == 9 and perm[19] == 19  # the unique 0.6 lever has no partner
    assert any(not np.array_equal(game.extras["random_relabelling"](s), np.arange(20)) for s in range(4))
    # deterministic coordination on lever a pays r_a
    for a, payoff in enumerate(r):
        pure = np.full(20, -50.0)
        pure[[a, 10 + a]] = 50.0
        np.testing.assert_allclose(-game.loss(jnp.asarray(pure)), payoff, rtol=1e-12)
    assert game.num_players == 2 and [list(b) for b in game.blocks] == [list(range(10)), list(range(10, 20))]
    assert game.init(jax.random.PRNGKey(0)).std() < 0.05


def test_tree_mdp_every_leaf_is_reachable():
    problem = get("tree-mdp", depth=4, seed=1)
    children = problem.extras["children"]
    reached = {problem.extras["greedy"](np.array(signs, float))
               for signs in itertools.product([1.0, -1.0], repeat=problem.dim)}
    assert reached == set(range(len(problem.extras["rewards"])))
    assert children.max() < problem.dim
