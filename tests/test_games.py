"""Games: payoffs, joint gradients and game Hessians against analytic values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import games
from landscape.games.definitions import IPD_PAYOFF_A, IPD_PAYOFF_B, ipd_losses, subspace_basis, subspace_game


def test_registry_lists_the_issue_games():
    expected = {"dirac-gan", "bilinear", "matching-pennies", "small-ipd", "mixed", "ipd", "interpolated",
                "mog-gan", "subspace"}
    assert expected <= set(games.names())
    with pytest.raises(KeyError):
        games.get("rosenbrock")


@pytest.mark.parametrize("name, eig", [("matching-pennies", 0.25), ("dirac-gan", 0.5)])
def test_game_hessian_is_purely_imaginary_at_the_equilibrium(name, eig):
    game = games.get(name)
    w = jnp.asarray(game.ground_truth["equilibrium"][0])
    assert float(jnp.linalg.norm(games.joint_gradient(game, w))) < 1e-14
    ev = np.sort_complex(np.linalg.eigvals(np.asarray(games.game_hessian(game, w))))
    np.testing.assert_allclose(ev, [-1j * eig, 1j * eig], atol=1e-14)


def test_joint_gradient_takes_each_players_own_block():
    game = games.get("matching-pennies")
    w = jnp.array([0.3, -0.7])
    s = jax.nn.sigmoid(w)
    ds = s * (1 - s)
    expected = [2 * ds[0] * (2 * s[1] - 1), -2 * ds[1] * (2 * s[0] - 1)]
    np.testing.assert_allclose(games.joint_gradient(game, w), expected, rtol=1e-13)


def _ipd_reference(pa, pb, gamma, terms=3000):
    """Independent check: discounted sum Σ_t γ^t p0 P^t r by explicit powers (numpy)."""
    p0 = np.array([pa[0] * pb[0], pa[0] * (1 - pb[0]), (1 - pa[0]) * pb[0], (1 - pa[0]) * (1 - pb[0])])
    a, b = np.asarray(pa[1:]), np.asarray(pb[1:])
    P = np.stack([a * b, a * (1 - b), (1 - a) * b, (1 - a) * (1 - b)], axis=1)
    dist, total = p0.copy(), np.zeros(4)
    for t in range(terms):
        total += gamma**t * dist
        dist = dist @ P
    return -(1 - gamma) * total @ IPD_PAYOFF_A, -(1 - gamma) * total @ IPD_PAYOFF_B


def test_ipd_losses_match_cooperation_and_defection_modes():
    ones, zeros = jnp.ones(5), jnp.zeros(5)
    tft_a, tft_b = jnp.array([1.0, 1, 0, 1, 0]), jnp.array([1.0, 1, 1, 0, 0])
    np.testing.assert_allclose(ipd_losses(ones, ones, 0.96), (1.0, 1.0), atol=1e-12)
    np.testing.assert_allclose(ipd_losses(zeros, zeros, 0.96), (2.0, 2.0), atol=1e-12)
    np.testing.assert_allclose(ipd_losses(tft_a, tft_b, 0.96), (1.0, 1.0), atol=1e-12)
    # all-C exploited by all-D: A always gets −3, B always 0
    np.testing.assert_allclose(ipd_losses(ones, zeros, 0.96), (3.0, 0.0), atol=1e-12)
    game = games.get("ipd", normalised=True)
    np.testing.assert_allclose(games.player_loss_values(game, jnp.full(10, 40.0)), (1.0, 1.0), atol=1e-12)
    np.testing.assert_allclose(games.player_loss_values(game, jnp.full(10, -40.0)), (2.0, 2.0), atol=1e-12)
    reference = games.get("ipd")  # the reference code's scale: 1/(1 − γ) = 25 times larger
    np.testing.assert_allclose(games.player_loss_values(reference, jnp.full(10, 40.0)), (25.0, 25.0), rtol=1e-12)
    np.testing.assert_allclose(games.player_loss_values(reference, jnp.full(10, -40.0)), (50.0, 50.0), rtol=1e-12)


def test_ipd_losses_match_an_explicit_discounted_sum():
    rng = np.random.default_rng(0)
    pa, pb = rng.uniform(0.05, 0.95, 5), rng.uniform(0.05, 0.95, 5)
    np.testing.assert_allclose(ipd_losses(jnp.asarray(pa), jnp.asarray(pb), 0.9),
                               _ipd_reference(pa, pb, 0.9), rtol=1e-10)
    assert IPD_PAYOFF_B.tolist() == [-1.0, 0.0, -3.0, -2.0]


def test_interpolated_game_eigenvalues_follow_adversarialness():
    for gamma in (0.0, 0.5, 1.0):
        game = games.get("interpolated", gamma_max=gamma)
        ev = np.linalg.eigvals(np.asarray(games.game_hessian(game, jnp.zeros(2))))
        np.testing.assert_allclose(np.sort(np.abs(np.angle(ev))), [gamma * np.pi / 2] * 2, atol=1e-12)


def test_random_subspace_evaluates_the_base_game_on_the_plane():
    base = games.get("bilinear", n=3)
    v_a, v_b, offset = subspace_basis(base, jax.random.PRNGKey(1))
    assert float(jnp.linalg.norm(v_a)) == pytest.approx(1.0) and float(jnp.min(v_a[:3])) >= 0
    assert np.all(np.asarray(v_a[3:]) == 0) and np.all(np.asarray(v_b[:3]) == 0)
    plane = subspace_game(base, v_a, v_b, offset)
    x, y = 0.7, -1.3
    full = offset + x * v_a + y * v_b
    np.testing.assert_allclose(games.player_loss_values(plane, jnp.array([x, y])),
                               games.player_loss_values(base, full), rtol=1e-13)


def test_mog_gan_has_the_thesis_parameter_split():
    game = games.get("mog-gan")
    assert game.dim == 723 and [len(b) for b in game.blocks] == [337, 386]
