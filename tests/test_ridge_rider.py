"""Ridge Rider engine: ridges, continuation, exact vs approximate rides, search orders,
streaming/resume, MIS (Parker-Holder et al. 2020)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import io
from landscape import ridge_rider as rr
from landscape.jobs import CancelToken, drive
from landscape.problems import Problem, get
from landscape.ridge_rider.ridges import continue_ridge, rayleigh_quotient_iteration, ridge_loss_and_grads
from landscape.ridge_rider.search import choose_from_archive
from landscape.ridge_rider.tree_mdp import RR_SETTINGS
from landscape.trajectories import run_trajectories
from landscape.tree import ride

Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
EIGS = np.array([-3.0, -1.0, 2.0])
A = Q @ np.diag(EIGS) @ Q.T


def quadratic_saddle():
    a = jnp.asarray(A)
    return Problem("quadratic-saddle", 3, lambda t: 0.5 * t @ a @ t, lambda k: jnp.zeros(3))


def cubic_saddle():
    """A saddle at 0 whose Hessian eigenvectors turn along the rides."""
    a = jnp.asarray(Q @ np.diag([-2.0, -0.5, 1.0]) @ Q.T)
    return Problem(
        "cubic-saddle", 3, lambda t: 0.5 * t @ a @ t + 0.25 * jnp.sum(t**4) + 0.3 * t[0] * t[1] * t[2],
        lambda k: jnp.zeros(3),
    )


def test_get_ridges_are_the_negative_eigenpairs_in_both_signs():
    ridges = rr.get_ridges(quadratic_saddle().loss, jnp.zeros(3), 3)
    assert [(r.index, r.sign) for r in ridges] == [(0, 1), (0, -1), (1, 1), (1, -1)]
    for r in ridges:
        np.testing.assert_allclose(r.eigenvalue, EIGS[r.index], atol=1e-12)
        np.testing.assert_allclose(A @ r.direction, EIGS[r.index] * r.direction, atol=1e-12)
        assert np.abs(r.direction).argmax() == np.argmax(r.sign * r.direction)  # canonical sign
    descent = rr.get_ridges(cubic_saddle().loss, jnp.array([0.1, -0.2, 0.05]), 2, signs="descent")
    grad = np.asarray(jax.grad(cubic_saddle().loss)(jnp.array([0.1, -0.2, 0.05])))
    assert len(descent) == 2 and all(grad @ r.direction <= 0 for r in descent)


def test_first_rides_on_a_quadratic_saddle_follow_the_eigenvectors_exactly():
    alpha, steps = 0.1, 12
    tree = rr.search(quadratic_saddle(), jnp.zeros(3), max_depth=1, n_ridges=2, alpha=alpha, max_steps=steps)
    assert list(tree.fingerprint.values) == ["", "0+", "0-", "1+", "1-"]
    for node in range(1, 5):
        i, s = int(tree.eigen_index.values[node]), int(tree.sign.values[node])
        q = Q[:, i] * np.sign(Q[np.abs(Q[:, i]).argmax(), i]) * s
        path = ride(tree, node)
        expected = alpha * np.arange(steps + 1)[:, None] * q[None]
        np.testing.assert_allclose(path.point_theta.values, expected, atol=1e-12)
        np.testing.assert_allclose(path.point_eigenvalue.values, EIGS[i], atol=1e-12)
        np.testing.assert_allclose(path.point_loss.values, 0.5 * EIGS[i] * (alpha * np.arange(steps + 1)) ** 2,
                                   atol=1e-12)
        assert tree.status.values[node] == "budget"  # a quadratic never stops descending


def test_continuation_never_flips_sign_on_a_rotating_hessian():
    rng = np.random.default_rng(1)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    base, _ = np.linalg.qr(rng.normal(size=(3, 3)))

    def rotation(t):  # Rodrigues
        return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k

    d = base[:, 0]
    for t in np.linspace(0, 4 * np.pi, 400)[1:]:
        frame = rotation(t) @ base
        evals, evecs = np.linalg.eigh(frame @ np.diag([-2.0, 1.0, 3.0]) @ frame.T)
        evecs = evecs * rng.choice([-1.0, 1.0], size=3)  # eigensolvers pick signs arbitrarily
        d_new, lam, overlap = continue_ridge(jnp.asarray(evals), jnp.asarray(evecs), jnp.asarray(d))
        assert float(d_new @ d) > 0.99 and float(overlap) > 0.99
        np.testing.assert_allclose(lam, -2.0, atol=1e-12)
        d = np.asarray(d_new)
    np.testing.assert_allclose(d, base[:, 0], atol=1e-10)  # two full turns: back where it started


def test_rides_never_reverse_on_a_curved_problem():
    tree = rr.search(cubic_saddle(), jnp.zeros(3), max_depth=2, n_ridges=2, max_nodes=8, alpha=0.05, max_steps=60)
    for node in range(1, tree.sizes["node"]):
        path = ride(tree, node).point_theta.values
        if len(path) > 2:
            steps = np.diff(path, axis=0)
            cos = np.sum(steps[1:] * steps[:-1], 1) / np.linalg.norm(steps[1:], axis=1) / np.linalg.norm(steps[:-1], axis=1)
            assert cos.min() > 0.9
        assert np.all(ride(tree, node).point_overlap.values >= 0.95)


def test_ridge_loss_gradients_match_autodiff():
    h = jnp.asarray(A + 0.3 * np.eye(3))
    e, lam = jnp.array([0.3, -1.2, 0.5]), -1.7

    def ridge_loss(e, lam):
        et = e / jnp.linalg.norm(e)
        return jnp.sum((h @ et / lam - et) ** 2)

    value, grad_e, grad_lam = ridge_loss_and_grads(lambda v: h @ v, e, lam)
    np.testing.assert_allclose(value, ridge_loss(e, lam), rtol=1e-12)
    np.testing.assert_allclose(grad_e, jax.grad(ridge_loss, 0)(e, lam), rtol=1e-10)
    np.testing.assert_allclose(grad_lam, jax.grad(ridge_loss, 1)(e, lam), rtol=1e-10)


def test_exact_and_approximate_rr_follow_the_same_ridge():
    common = dict(max_depth=1, n_ridges=1, alpha=0.02, alpha_min=0.02, max_steps=40, end_rules=("budget",))
    exact = rr.search(cubic_saddle(), jnp.zeros(3), mode="exact", **common)
    approx = rr.search(cubic_saddle(), jnp.zeros(3), mode="approximate", lr_e=0.3, lr_lambda=0.1,
                       inner_steps=20, **common)
    assert list(exact.fingerprint.values) == list(approx.fingerprint.values)
    for node in range(1, exact.sizes["node"]):
        a, b = ride(exact, node), ride(approx, node)
        assert np.linalg.norm(a.point_theta.values[-1]) > 0.7  # the rides went somewhere
        np.testing.assert_allclose(b.point_theta.values, a.point_theta.values, atol=1e-2)
        np.testing.assert_allclose(b.point_eigenvalue.values, a.point_eigenvalue.values, atol=2e-2)


def test_rayleigh_quotient_iteration_finds_the_eigenvector_numpy_finds():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    evals = np.linspace(-2.0, 3.0, 12)
    h = q @ np.diag(evals) @ q.T
    d = 0.96 * q[:, 4] + 0.28 * q[:, 5] / np.linalg.norm(q[:, 5])  # overlap 0.96 with v_4
    d /= np.linalg.norm(d)
    x, mu, converged = rayleigh_quotient_iteration(jnp.asarray(h), jnp.asarray(d))
    w, v = np.linalg.eigh(h)
    assert bool(converged)
    np.testing.assert_allclose(float(mu), w[4], atol=1e-12)
    np.testing.assert_allclose(abs(float(np.asarray(x) @ v[:, 4])), 1.0, atol=1e-12)


def test_warm_and_dense_exact_steps_grow_the_same_tree():
    # The warm step (Rayleigh-quotient iteration, eigh only when it cannot certify) takes the
    # decisions of the reference (eigh at every backtracking trial).  A start off the symmetric
    # MIS avoids repeated eigenvalues (whose eigenvectors no solver fixes), and rides of at
    # most 30 steps stay out of the saturated policies where the Hessian is rounding noise.
    problem = get("tree-mdp", depth=4, seed=4)
    mis = rr.find_mis(problem, jnp.zeros(problem.dim), entropy_weight=10.0)
    start = mis + 0.05 * jax.random.normal(jax.random.PRNGKey(0), mis.shape)
    settings = {**RR_SETTINGS, "total_steps": 100, "max_steps": 30}
    dense = rr.search(problem, start, step="dense", **settings)
    warm = rr.search(problem, start, step="warm", **settings)
    assert dense.sizes["node"] > 3
    assert list(warm.fingerprint.values) == list(dense.fingerprint.values)
    assert list(warm.status.values) == list(dense.status.values)
    assert warm.attrs["steps"] == dense.attrs["steps"]
    np.testing.assert_allclose(warm.theta.values, dense.theta.values, atol=1e-7)
    np.testing.assert_allclose(warm.eigenvalue.values, dense.eigenvalue.values, atol=1e-9)


def test_exact_step_method_is_validated():
    with pytest.raises(ValueError, match="step must be one of"):
        rr.Settings(step="lanczos")


def test_end_rules_are_selectable():
    saddle = cubic_saddle()
    base = dict(max_depth=1, n_ridges=1, alpha=0.05, max_steps=200)
    convex = rr.search(saddle, jnp.zeros(3), end_rules=("convex",), **base)
    assert set(convex.status.values[1:]) == {"convex"}
    assert np.all(convex.eigenvalue.values[1:] >= 0)
    assert np.all(ride(convex, 1).point_eigenvalue.values[:-1] < 0)
    flat = rr.search(saddle, jnp.zeros(3), end_rules=("no-improvement",), **base)
    assert set(flat.status.values[1:]) == {"no-improvement"}
    for node in (1, 2):  # ends at the lowest point along the ride
        losses = ride(flat, node).point_loss.values
        assert np.all(np.diff(losses) < 0)
    budget = rr.search(saddle, jnp.zeros(3), end_rules=(), **{**base, "max_steps": 7})
    assert set(budget.status.values[1:]) == {"budget"}
    assert all(len(ride(budget, n).point_theta) == 8 for n in (1, 2))


def test_choose_from_archive_orders():
    archive = {3: (1, -0.5), 4: (2, -0.1), 5: (2, -2.0), 7: (1, -3.0)}
    assert choose_from_archive("bfs", archive) == 3
    assert choose_from_archive("dfs", archive) == 4
    assert choose_from_archive("best", archive) == 7


@pytest.mark.parametrize("order", ["bfs", "dfs", "best"])
def test_search_orders_and_fingerprints(order):
    tree = rr.search(cubic_saddle(), jnp.zeros(3), order=order, n_ridges=2, max_depth=3, max_nodes=9,
                     alpha=0.05, max_steps=60, end_rules=("overlap", "no-improvement"))
    expanded = np.argsort(np.where(tree.order.values < 0, 10**9, tree.order.values))[: (tree.order.values >= 0).sum()]
    parent = tree.parent.values
    for node in expanded[1:]:  # every parent was expanded before its child
        assert tree.order.values[parent[node]] < tree.order.values[node]
        fp = tree.fingerprint.values[node]
        step = f"{tree.eigen_index.values[node]}{'+' if tree.sign.values[node] > 0 else '-'}"
        assert fp == (tree.fingerprint.values[parent[node]] + "." + step).lstrip(".")
    for k in range(1, len(expanded)):  # replay the archive: each pick follows the order's rule
        done = set(expanded[:k].tolist())
        archive = {int(n): (int(tree.depth.values[n]), float(tree.loss.values[parent[n]]))
                   for n in np.flatnonzero(np.isin(parent, list(done))) if n not in done}
        assert expanded[k] == choose_from_archive(order, archive)
    depths = tree.depth.values[expanded]
    if order == "bfs":
        assert np.all(np.diff(depths) >= 0)
    if order == "dfs":  # preorder: after a node with children comes one of its children
        for a, b in zip(expanded[1:-1], expanded[2:]):
            if (parent == a).any():
                assert parent[b] == a
    assert tree.depth.values.max() >= 2


def test_streaming_cancel_resume_and_save(tmp_path):
    saddle = cubic_saddle()
    settings = dict(n_ridges=2, max_depth=2, max_nodes=6, alpha=0.05, max_steps=60, chunk=10)
    full = rr.search(saddle, jnp.zeros(3), **settings)
    token = CancelToken()
    latest = {}

    def on_event(event):
        latest["tree"] = event.partial  # the tree so far: nothing to accumulate
        if event.kind == "node" and event.done == 2:
            token.cancel()

    partial = drive(rr.iter_search(saddle, jnp.zeros(3), cancel=token, **settings), on_event)
    assert partial.attrs["status"] == "cancelled" and (partial.order.values > 0).sum() == 2
    np.testing.assert_array_equal(latest["tree"].fingerprint.values, partial.fingerprint.values)
    io.save(partial, tmp_path / "partial.nc")
    resumed = rr.search(saddle, tree=io.load(tmp_path / "partial.nc"))
    assert resumed.attrs["status"] == full.attrs["status"]
    for name in ("fingerprint", "parent", "order", "status"):
        np.testing.assert_array_equal(resumed[name].values, full[name].values)
    for name in ("theta", "loss", "point_theta"):
        np.testing.assert_allclose(resumed[name].values, full[name].values, atol=1e-12)
    more = rr.search(saddle, tree=full, max_nodes=8)  # a finished budget can be extended
    assert (more.order.values > 0).sum() == 8


def test_mis_of_the_lever_game_is_the_symmetric_critical_point():
    game = get("lever-game")
    theta = rr.find_mis(game, game.init(jax.random.PRNGKey(3)), steps=600, learning_rate=0.05)
    report = rr.describe_point(game, theta)
    assert report.attrs["grad_norm"] < 1e-8
    r = game.extras["payoffs"]
    for p in game.extras["policies"](theta):  # ∇J = 0 with full support: p_a r_a equal for all a
        np.testing.assert_allclose(p, (1 / r) / np.sum(1 / r), atol=1e-6)
    assert report.attrs["num_negative"] >= 3
    high_entropy = rr.find_mis(game, game.init(jax.random.PRNGKey(3)), entropy_weight=1.0, steps=600,
                               learning_rate=0.05)
    assert float(game.extras["entropy"](high_entropy)) > float(game.extras["entropy"](theta))


def test_rr_demo_leaves_finished_by_gd_reach_the_global_minimum_gd_from_the_mis_does_not():
    demo = get("rr-demo")
    mis = rr.find_mis(demo)
    tree = rr.search(demo, mis, n_ridges=2, max_depth=2, max_nodes=8, alpha=0.05, max_steps=400,
                     finish="gd", finish_steps=300)
    leaves = rr.finish.leaves(tree)
    inner = np.setdiff1d(tree.node.values, leaves)
    assert np.all(np.isnan(tree.solution_loss.values[inner]))
    assert np.all(np.isfinite(tree.solution_loss.values[leaves]))
    minima = demo.ground_truth["minimum"]
    global_loss = float(demo.loss(jnp.asarray(minima[0])))  # −3.5508, shared by minima 0-2
    assert global_loss == pytest.approx(-3.5508, abs=1e-4)
    best = leaves[np.argmin(tree.solution_loss.values[leaves])]
    assert float(tree.solution_loss.values[best]) == pytest.approx(global_loss, abs=1e-8)
    assert str(tree.solution_point.values[best]) in {"minimum 0", "minimum 1", "minimum 2"}
    np.testing.assert_allclose(tree.finish_path.values[best, 0], tree.theta.values[best])
    # GD from near the MIS: only the two steep local minima (f ≈ −2.354)
    starts = np.asarray(mis) + 0.3 * np.random.default_rng(0).normal(size=(8, 2))
    gd = run_trajectories(demo, starts, [("gd", {"lr": 0.05})], steps=300)
    np.testing.assert_allclose(gd.loss.values[:, -1], -2.3543, atol=1e-3)
    with pytest.raises(ValueError, match="finish"):
        rr.search(demo, mis, finish="newton")
