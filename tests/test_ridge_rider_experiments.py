"""Ridge Rider's §4 experiments in miniature: lever-game zero-shot coordination
(Algorithm 3) and solution diversity on tree MDPs."""

import jax
import jax.numpy as jnp
import numpy as np

from landscape import ridge_rider as rr
from landscape.problems import get
from landscape.ridge_rider.tree_mdp import OVERLAP_ONLY, RR_SETTINGS, gradient_descent, found_positive
from landscape.ridge_rider.zsc import zero_shot_coordination


def test_lever_game_fixed_ev_selects_the_06_lever_and_rides_1_2_pick_08_levers():
    # Fixed-EV mode (the paper's lever-game setting): at the MIS ridges 1 and 2 are
    # 5e-4 apart, so exact eigenvector following would mix them into mixed policies.
    game = get("lever-game")
    result = zero_shot_coordination(
        game, 2, n_ridges=3, entropy_weight=0.0, mis_steps=600, mis_learning_rate=0.05, mode="fixed",
        alpha=0.5, alpha_min=1e-3, max_steps=300, end_rules=("overlap", "no-improvement"), delta_break=0.5,
    )
    payoffs = game.extras["payoffs"]
    assert result.attrs["selected"] == 0
    assert np.all(result.greedy.values[:, 0] == 9)  # both players of every run pull the 0.6 lever
    assert abs(result.attrs["best_score"] - 0.6) < 0.01
    np.testing.assert_allclose(payoffs[result.greedy.values[:, 1:3]], 0.8)  # every run, both players
    assert np.all(result.cross_play.values[1:] < 0.5)


def test_rr_finds_more_positive_leaves_than_gd_from_the_saddle_on_depth4_trees():
    found_rr = found_gd = 0
    for seed in (5, 6):
        problem = get("tree-mdp", depth=4, seed=seed)
        mis = rr.find_mis(problem, jnp.zeros(problem.dim), entropy_weight=10.0)
        tree = rr.search(problem, mis, **{**RR_SETTINGS, **OVERLAP_ONLY, "total_steps": 600})
        found_rr += len(found_positive(problem, tree.theta.values))
        runs = max(1, int(tree.attrs["steps"]) // 200)
        starts = mis[None] + 1e-3 * jax.random.normal(jax.random.PRNGKey(seed), (runs, problem.dim))
        found_gd += len(found_positive(problem, gradient_descent(problem.loss, 200, starts, 0.1)))
    assert found_rr > found_gd
