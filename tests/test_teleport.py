"""Teleportation engine (Zhao et al.): group actions, objectives, level sets, training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.linalg
from jax.flatten_util import ravel_pytree

from landscape import teleport as tp
from landscape.problems import registry
from landscape.teleport.training import _first_moments, _map_first_moments

ACT = "leaky_relu"


@pytest.fixture(scope="module")
def net():
    """The paper's 3-layer bias-free LeakyReLU(0.1) MLP on 4×4 digits, hidden widths 16 and 10."""
    problem = registry.get("mlp-digits", hidden=[16, 10], activation=ACT, bias=False, l2=0.0)
    theta = problem.init(jax.random.PRNGKey(1))
    data = problem.extras["data"]
    return problem, theta, jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])


def random_elements(key, widths, scale=0.3):
    return [jnp.eye(d) + scale * jax.random.normal(k, (d, d)) for k, d in zip(jax.random.split(key, len(widths)), widths)]


@pytest.mark.parametrize("action", [1, 2])
def test_actions_keep_the_batch_output_when_batch_is_at_most_the_width(net, action):
    problem, theta, x, y = net
    ws = tp.weights_of(problem.unravel(theta))
    xb, yb = x[:8], y[:8]  # 8 ≤ 10 (hidden) and ≤ 16 (input): the pseudo-inverses are exact
    new = tp.act(ws, random_elements(jax.random.PRNGKey(3), [16, 10]), xb, ACT, action)
    assert min(float(jnp.abs(a - b).max()) for a, b in zip(ws, new)) > 1e-2  # the weights really moved
    before = problem.extras["batch_loss"](theta, xb, yb)
    after = problem.extras["batch_loss"](ravel_pytree(tp.layers_of(new))[0], xb, yb)
    assert abs(float(after - before)) <= 1e-10 * abs(float(before))
    np.testing.assert_allclose(problem.extras["apply"](ravel_pytree(tp.layers_of(new))[0], xb),
                               problem.extras["apply"](theta, xb), rtol=0, atol=1e-10)
    assert float(tp.invariance_error(ws, new, xb, yb, ACT)) <= 1e-10


def test_action_formulas_on_one_pair(net):
    """Eqs. (78)/(79) on (W_2, W_1) against direct numpy evaluation."""
    problem, theta, x, _ = net
    ws = tp.weights_of(problem.unravel(theta))
    g = np.asarray(random_elements(jax.random.PRNGKey(5), [16])[0])
    eye = jnp.eye(10)
    xb = np.asarray(x[:8])
    w1, w2 = np.asarray(ws[0]), np.asarray(ws[1])
    sigma = lambda z: np.where(z >= 0, z, 0.1 * z)  # noqa: E731
    sigma_inv = lambda z: np.where(z >= 0, z, 10.0 * z)  # noqa: E731
    new2 = tp.act(ws, [jnp.asarray(g), eye], jnp.asarray(xb), ACT, 2)
    np.testing.assert_allclose(new2[0], g @ w1, atol=1e-12)
    np.testing.assert_allclose(new2[1], w2 @ sigma(w1 @ xb.T) @ np.linalg.pinv(sigma(g @ w1 @ xb.T)), atol=1e-9)
    new1 = tp.act(ws, [jnp.asarray(g), eye], jnp.asarray(xb), ACT, 1)
    w1_new = sigma_inv(g @ sigma(w1 @ xb.T)) @ np.linalg.pinv(xb.T)
    np.testing.assert_allclose(new1[0], w1_new, atol=1e-9)
    # the identity on the second pair still projects W_2 onto the span of the 8 hidden columns h_1
    h1 = sigma(w1_new @ xb.T)
    np.testing.assert_allclose(new1[1], w2 @ np.linalg.inv(g) @ h1 @ np.linalg.pinv(h1), atol=1e-9)


def test_invariance_is_only_approximate_for_large_batches(net):
    problem, theta, x, y = net
    ws = tp.weights_of(problem.unravel(theta))
    new = tp.act(ws, random_elements(jax.random.PRNGKey(3), [16, 10], 0.05), x[:200], ACT, 2)
    assert float(tp.invariance_error(ws, new, x[:200], y[:200], ACT)) > 1e-6


def test_action_1_refuses_non_invertible_activation(net):
    problem, theta, x, _ = net
    ws = tp.weights_of(problem.unravel(theta))
    with pytest.raises(ValueError, match="invertible"):
        tp.act(ws, random_elements(jax.random.PRNGKey(0), [16, 10]), x[:4], "relu", 1)


def test_grad_norm_teleport_moves_the_gradient_norm_and_keeps_the_loss(net):
    problem, theta, x, y = net
    layers = problem.unravel(theta)
    batch = (x[:10], y[:10])
    ws = tp.weights_of(layers)
    before = float(tp.grad_norm_sq(ws, *batch, ACT))
    for direction in (1, -1):
        new, report = tp.mlp_teleport(layers, batch, "grad_norm", direction, steps=5, lr=0.05)
        after = float(tp.grad_norm_sq(tp.weights_of(new), *batch, ACT))
        assert report.objective_before == pytest.approx(before, rel=1e-12)
        assert report.objective_after == pytest.approx(after, rel=1e-12)
        assert direction * (after - before) > 0.01 * before
        assert float(np.max(report.invariance_error)) <= 1e-10
        loss = problem.extras["batch_loss"]
        assert float(loss(ravel_pytree(new)[0], *batch)) == pytest.approx(float(loss(theta, *batch)), rel=1e-10)


def test_cap_stops_the_ascent(net):
    problem, theta, x, y = net
    _, report = tp.mlp_teleport(problem.unravel(theta), (x[:10], y[:10]), steps=5, lr=0.05, cap=0.0)
    np.testing.assert_array_equal(report.objective[0], report.objective[0, 0])  # ‖∇L‖² > 0 = cap: no step taken


def test_grad_norm_A_is_the_metric_weighted_norm(net):
    problem, theta, x, y = net
    ws = tp.weights_of(problem.unravel(theta))
    metric = tuple(jnp.full_like(w, 2.5) for w in ws)
    assert float(tp.grad_norm_A(ws, x[:30], y[:30], ACT, metric)) == pytest.approx(
        2.5 * float(tp.grad_norm_sq(ws, x[:30], y[:30], ACT)), rel=1e-12)


def test_sharpness_matches_a_direct_average(net):
    problem, theta, x, y = net
    ws = tp.weights_of(problem.unravel(theta))
    probes = tp.make_probes(jax.random.PRNGKey(2), ws, n_directions=3, displacements=(0.1, 0.5), n_curves=1)
    np.testing.assert_allclose(np.linalg.norm(probes.directions, axis=1), 1.0, rtol=1e-12)
    loss = jax.jit(problem.extras["batch_loss"])
    direct = np.mean([float(loss(theta + t * d, x[:50], y[:50]))
                      for t in (0.1, 0.5) for d in probes.directions])
    sharpness = jax.jit(tp.sharpness, static_argnums=3)
    assert float(sharpness(ws, x[:50], y[:50], ACT, probes)) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("k", [0.5, 3.0])
def test_curvature_of_parabola_and_circle(k):
    """App. F.2.1: κ of (t, kt²) at 0 is 2k; of a circle of radius k it is 1/k (eq. 80)."""
    assert float(tp.curve_curvature(lambda t: jnp.stack([t, k * t**2]))) == pytest.approx(2 * k, rel=1e-12)
    circle = lambda t: jnp.stack([k * jnp.cos(t), k * jnp.sin(t)])  # noqa: E731
    for t in (0.0, 1.3):
        assert float(tp.curve_curvature(circle, t)) == pytest.approx(1 / k, rel=1e-12)
    # A 3-D helix (r cos t, r sin t, c t): κ = r / (r² + c²).
    helix = lambda t: jnp.stack([k * jnp.cos(t), k * jnp.sin(t), 0.7 * t])  # noqa: E731
    assert float(tp.curve_curvature(helix, 0.4)) == pytest.approx(k / (k**2 + 0.49), rel=1e-12)


def test_network_curvature_matches_finite_differences_of_the_exponential_curve(net):
    """ψ's κ against central differences of exp(tM)·w (scipy expm); tanh keeps the curve smooth
    (with LeakyReLU a finite difference may straddle a kink)."""
    problem, theta, x, y = net
    ws = tp.weights_of(problem.unravel(theta))
    xb = x[:10]
    probes = tp.make_probes(jax.random.PRNGKey(4), ws, n_directions=1, n_curves=1)
    ms = [np.asarray(g[0]) for g in probes.generators]

    def gamma(t):
        gs = [jnp.asarray(scipy.linalg.expm(t * m)) for m in ms]
        return np.asarray(ravel_pytree(tp.act(ws, gs, xb, "tanh", 2))[0])

    h = 1e-3
    d1 = (gamma(h) - gamma(-h)) / (2 * h)
    d2 = (gamma(h) - 2 * gamma(0.0) + gamma(-h)) / h**2
    kappa = np.sqrt(d1 @ d1 * (d2 @ d2) - (d1 @ d2) ** 2) / (d1 @ d1) ** 1.5
    assert float(tp.curvature(ws, xb, y[:10], "tanh", probes)) == pytest.approx(kappa, rel=1e-4)


def test_sharpness_teleport_follows_its_direction(net):
    problem, theta, x, y = net
    layers = problem.unravel(theta)
    kw = dict(steps=3, lr=0.05, n_directions=8, displacements=(0.2, 0.5), key=jax.random.PRNGKey(1))
    _, up = tp.mlp_teleport(layers, (x[:10], y[:10]), "sharpness", 1, **kw)
    _, down = tp.mlp_teleport(layers, (x[:10], y[:10]), "sharpness", -1, **kw)
    assert up.objective_after > up.objective_before > down.objective_after


# ----------------------------------------------------------------------------- 2-D level sets


@pytest.mark.parametrize("name, theta", [("ellipse", [2.0, 0.5]), ("booth", [5.0, -2.0])])
def test_group_teleport_on_quadratics_reaches_the_analytic_extremes(name, theta):
    """On ½(w−c)ᵀA(w−c) the level set ℓ has max ‖∇L‖² = 2λ_max ℓ and min 2λ_min ℓ."""
    problem = registry.get(name)
    sym = tp.quadratic_symmetry(problem, jnp.asarray(theta))
    evals = np.linalg.eigvalsh(sym.hessian)
    level = float(problem.loss(jnp.asarray(theta))) - float(problem.loss(jnp.asarray(sym.center)))
    up = tp.level_set(problem, theta, direction=1)
    down = tp.level_set(problem, theta, direction=-1)
    assert up.attrs["method"] == "group"
    assert float(up.grad_norm_sq[-1]) == pytest.approx(2 * evals[-1] * level, rel=1e-10)
    assert float(down.grad_norm_sq[-1]) == pytest.approx(2 * evals[0] * level, rel=1e-10)
    np.testing.assert_allclose(up.loss, up.loss[0], rtol=1e-12)


def test_non_quadratics_have_no_rotation_symmetry():
    assert tp.quadratic_symmetry(registry.get("rosenbrock"), jnp.array([-1.0, 1.5])) is None


@pytest.mark.parametrize("name, theta", [("rosenbrock", [-1.0, 1.5]), ("himmelblau", [0.5, 0.5])])
def test_tangent_teleport_stays_on_the_level_set(name, theta):
    problem = registry.get(name)
    up = tp.level_set(problem, theta, direction=1)
    assert up.attrs["method"] == "tangent"
    np.testing.assert_allclose(up.loss, up.loss[0], rtol=1e-10)
    assert float(up.grad_norm_sq[-1]) > 1.3 * float(up.grad_norm_sq[0])
    # a local maximiser on the level set: the gradient of ‖∇L‖² is normal to it
    w = jnp.asarray(up.theta.values)
    g = jax.grad(problem.loss)(w)
    gf = jax.grad(lambda v: jnp.sum(jax.grad(problem.loss)(v) ** 2))(w)
    tangent = jnp.stack([-g[1], g[0]]) / jnp.linalg.norm(g)
    assert abs(float(gf @ tangent)) < 1e-2 * float(jnp.linalg.norm(gf))


def test_surface_training_matches_gd_in_closed_form():
    """Ellipse ½(x² + 10y²), GD with lr η: coordinates shrink by (1 − η a_i) per step; after a
    teleport to the largest-gradient point (the y axis) only the y factor remains."""
    problem = registry.get("ellipse")
    lr, steps = 0.05, 12
    base = tp.train(problem, "gd", tp.Schedule(epochs=steps, teleport_at=()), lr=lr, theta0=[2.0, 0.5])
    k = np.arange(steps + 1)
    np.testing.assert_allclose(base.theta[0, :, 0], 2.0 * (1 - lr) ** k, rtol=1e-12)
    np.testing.assert_allclose(base.theta[0, :, 1], 0.5 * (1 - 10 * lr) ** k, rtol=1e-12)
    tele = tp.train(problem, "gd", tp.Schedule(epochs=steps, teleport_at=(0,)), lr=lr, theta0=[2.0, 0.5])
    x0, y0 = (float(v) for v in tele.teleport_path[0, -1])
    assert abs(y0) == pytest.approx(np.sqrt(2 * 3.25 / 10), rel=1e-10) and abs(x0) < 1e-10
    expected = 0.5 * (x0**2 * (1 - lr) ** (2 * k) + 10 * y0**2 * (1 - 10 * lr) ** (2 * k))
    np.testing.assert_allclose(tele.train_loss[0], expected, rtol=1e-10)
    assert float(tele.grad_norm_sq_after[0, 0]) > float(tele.grad_norm_sq_before[0, 0])


# ----------------------------------------------------------------------------- training


def test_first_moment_mapping_touches_momenta_only():
    params = (jnp.ones(3),)
    adam = optax.adam(1e-2).init(params)
    moved = _map_first_moments(adam, lambda t: jax.tree_util.tree_map(lambda a: a + 1.0, t))
    assert float(moved[0].mu[0][0]) == 1.0 and float(moved[0].nu[0][0]) == 0.0
    assert len(_first_moments(optax.sgd(1e-2, momentum=0.9).init(params))) == 1
    assert _first_moments(optax.sgd(1e-2).init(params)) == []


@pytest.mark.parametrize("state", ["keep", "teleport", "reset"])
def test_network_training_with_a_teleport(net, state):
    problem = net[0]
    schedule = tp.Schedule(epochs=2, teleport_at=(1,), teleport_batches=2, teleport_batch_size=10, steps=3,
                           cap=2.0, state=state)
    ds = tp.train(problem, "heavy-ball", schedule, lr=1e-2, seeds=(0, 1))
    assert ds.sizes == {"run": 2, "epoch": 3, "teleport": 1, "param": problem.dim}
    assert np.all(np.isfinite(ds.train_loss)) and np.all(np.isfinite(ds.test_loss))
    assert np.all(ds.grad_norm_sq_after > ds.grad_norm_sq_before)
    assert float(ds.invariance_error.max()) <= 1e-10  # batches of 10 ≤ width 10
    assert ds.attrs["status"] == "complete"


def test_compare_runs_the_same_start_with_and_without_teleports():
    problem = registry.get("booth")
    ds = tp.compare(problem, "gd", tp.Schedule(epochs=15, teleport_at=(0,)), lr=0.02, theta0=[5.0, -2.0])
    alone = tp.train(problem, "gd", tp.Schedule(epochs=15, teleport_at=()), lr=0.02, theta0=[5.0, -2.0])
    assert list(ds.arm.values) == ["plain", "teleport"] and ds.sizes["teleport"] == 1
    np.testing.assert_array_equal(ds.theta.sel(arm="plain"), alone.theta)
    # Booth's Hessian has eigenvalues 18 and 2: after the teleport only the fast direction is left
    assert float(ds.grad_norm_sq_after[0, 0]) == pytest.approx(2 * 18 * 45.0, rel=1e-10)
    np.testing.assert_allclose(ds.train_loss.sel(arm="teleport")[0, 1:6], 45.0 * (1 - 0.02 * 18) ** (2 * np.arange(1, 6)),
                               rtol=1e-8)


def test_sharpness_curvature_of_several_models(net):
    problem, theta, x, y = net
    thetas = jnp.stack([theta, 1.5 * theta])
    ds = tp.sharpness_curvature(problem, thetas, n_directions=4, displacements=(0.1,), n_curves=2, batch_size=10)
    loss = problem.extras["batch_loss"]
    assert float(ds.train_loss[1]) == pytest.approx(float(loss(1.5 * theta, x, y)), rel=1e-12)
    probes_key = jax.random.split(jax.random.PRNGKey(0))[0]
    probes = tp.make_probes(probes_key, tp.weights_of(problem.unravel(theta)), 4, (0.1,), 2)
    expected = float(jax.jit(tp.sharpness, static_argnums=3)(tp.weights_of(problem.unravel(theta)), x, y, ACT, probes))
    assert float(ds.sharpness[0]) == pytest.approx(expected, rel=1e-12)
    assert np.all(ds.curvature.values > 0)


def test_teleported_momentum_is_the_pushforward_of_the_action(net):
    """With batch ≤ width, out(g·w') = out(w') for all w' near w, so for the pushed tangent
    v' = D(g·)(w) v the batch output's directional derivative is unchanged: J(g·w) v' = J(w) v."""
    from landscape.teleport.mlp import Config, _teleport

    problem, theta, x, y = net
    ws = tp.weights_of(problem.unravel(theta))
    v = tuple(jax.random.normal(k, w.shape) for k, w in zip(jax.random.split(jax.random.PRNGKey(7), 3), ws))
    probes = tp.make_probes(jax.random.PRNGKey(0), ws, 1, (0.1,), 1)
    metric = tuple(jnp.ones_like(w) for w in ws)
    new_ws, (pushed,), _ = _teleport(ws, (v,), x[None, :10], y[None, :10], probes, metric, 0.05, 1, 100.0,
                                     config=Config("grad_norm", ACT, 2, 5))
    assert max(float(jnp.abs(a - b).max()) for a, b in zip(new_ws, ws)) > 1e-3
    before = jax.jvp(lambda w: tp.groups.logits(w, x[:10], ACT), (ws,), (v,))[1]
    after = jax.jvp(lambda w: tp.groups.logits(w, x[:10], ACT), (new_ws,), (pushed,))[1]
    scale = float(jnp.abs(before).max())
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-6 * scale)  # pinv derivatives: ~1e-7 round-off
    unpushed = jax.jvp(lambda w: tp.groups.logits(w, x[:10], ACT), (new_ws,), (v,))[1]
    assert float(jnp.abs(unpushed - before).max()) > 1e-3 * scale
