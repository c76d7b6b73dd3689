"""dlae: Frye §3.2's deep linear autoencoder and its 2517 analytic critical points."""

from math import comb

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import curvature, problems

BATCH = 512


@pytest.fixture(scope="module")
def dlae():
    problem = problems.get("dlae")
    return problem, problem.analytic_critical_points()


def _block_eigenvalues(h):
    """Eigenvalues of a symmetric matrix that is a direct sum of 1×1 and 2×2 blocks.

    Each row's partner is its largest off-diagonal entry; returns the
    eigenvalues (one per row, unsorted), the largest entry outside the blocks
    and whether the pairing is symmetric, so the caller can verify the structure.
    """
    n = h.shape[0]
    rows = jnp.arange(n)
    off = jnp.abs(h) * (1 - jnp.eye(n, dtype=h.dtype))
    partner = jnp.argmax(off, axis=1)
    coupling = h[rows, partner]
    residual = off.at[rows, partner].set(0.0).max()
    paired = jnp.abs(coupling) > 1e-9
    symmetric = jnp.all(jnp.where(paired, partner[partner] == rows, True))
    a = jnp.diag(h)
    d = a[partner]
    mean, radius = (a + d) / 2, jnp.sqrt(((a - d) / 2) ** 2 + coupling**2)
    evals = jnp.where(paired, jnp.where(rows < partner, mean - radius, mean + radius), a)
    return evals, residual, symmetric


def _batched(fn, thetas):
    """``fn`` vmapped over rows in fixed-size batches (the last one padded: one compilation)."""
    fn = jax.jit(jax.vmap(fn))
    outs = []
    for start in range(0, len(thetas), BATCH):
        chunk = thetas[start : start + BATCH]
        padded = np.concatenate([chunk, np.repeat(chunk[:1], BATCH - len(chunk), axis=0)])
        outs.append([np.asarray(o)[: len(chunk)] for o in fn(jnp.asarray(padded))])
    return [np.concatenate(parts) for parts in zip(*outs)]


def test_data_and_loss_follow_the_thesis(dlae):
    problem, points = dlae
    x = problem.extras["data"]
    assert x.shape == (16, 10_000) and problem.dim == 128
    np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=1e-12)  # rows centred exactly
    np.testing.assert_allclose(np.diag(x @ x.T) / x.shape[1], np.arange(1, 17), rtol=0.05)
    # The covariance form of the loss equals the per-entry mean squared error on the data.
    for key in jax.random.split(jax.random.PRNGKey(1), 3):
        theta = problem.init(key)
        layers = problem.unravel(theta)
        w = np.asarray(layers[1]["w"] @ layers[0]["w"])
        np.testing.assert_allclose(problem.loss(theta), np.mean((x - w @ x) ** 2), rtol=1e-12)
    # θ = 0 has loss tr(C)/k ≈ 8.5 and index 1/2 (thesis §3.2.3.1).
    assert abs(float(problem.loss(jnp.zeros(128))) - 8.5) < 0.2
    zero = int(np.flatnonzero(points["num_components"].values == 0)[0])
    assert float(points["index"][zero]) == 0.5
    np.testing.assert_allclose(points["theta"][zero], 0.0)


def test_all_classes_are_critical_with_the_recorded_loss(dlae):
    problem, points = dlae
    assert points.sizes["point"] == 2517 == sum(comb(16, m) for m in range(5))
    assert len(set(points["label"].values.tolist())) == 2517
    thetas = jnp.asarray(points["theta"].values)
    grads = jax.jit(jax.vmap(jax.grad(problem.loss)))(thetas)
    assert float(jnp.max(jnp.sum(grads**2, axis=1))) < 1e-20
    losses = jax.jit(jax.vmap(problem.loss))(thetas)
    np.testing.assert_allclose(losses, points["loss"], rtol=0, atol=1e-12)
    # The PCA class (top-4 components) is the unique index-0 point and the global minimum.
    best = int(np.argmin(points["loss"].values))
    assert points["label"].values[best] == "{0,1,2,3}"
    assert np.flatnonzero(points["index"].values == 0).tolist() == [best]
    np.testing.assert_allclose(problem.critical_points[0], points["theta"][best])


def test_dense_hessian_index_matches_at_every_point(dlae):
    """Index from the dense Hessian at all 2517 points.

    To keep this fast the Hessian is taken in the eigenbasis ``U`` of the data
    covariance (``W₁ → W₁U``, ``W₂ → UᵀW₂``: an orthogonal change of variables,
    so the spectrum is unchanged).  There it is verified numerically to be a
    direct sum of 1×1 and 2×2 blocks, whose eigenvalues are then exact.
    """
    problem, points = dlae
    k, p = 16, 4
    x = problem.extras["data"]
    _, u = np.linalg.eigh(x @ x.T / x.shape[1])
    u_j = jnp.asarray(u)

    def rotated_loss(phi):
        w1, w2 = phi[: p * k].reshape(p, k), phi[p * k :].reshape(k, p)
        return problem.loss(jnp.concatenate([(w1 @ u_j.T).ravel(), (u_j @ w2).ravel()]))

    theta = points["theta"].values
    w1 = theta[:, : p * k].reshape(-1, p, k) @ u
    w2 = np.swapaxes(u, 0, 1)[None] @ theta[:, p * k :].reshape(-1, k, p)
    phi = np.concatenate([w1.reshape(len(theta), -1), w2.reshape(len(theta), -1)], axis=1)
    hessian = jax.hessian(rotated_loss)
    evals, residual, symmetric = _batched(lambda t: _block_eigenvalues(hessian(t)), phi)
    assert residual.max() < 1e-9  # at most one off-diagonal partner per row ...
    assert symmetric.all()  # ... and partners pair up: 1×1 and 2×2 blocks only
    counts = (evals < -1e-5).sum(axis=1)
    np.testing.assert_array_equal(counts, points["num_negative"].values)
    np.testing.assert_array_equal(counts / (2 * k * p), points["index"].values)
    # Cross-check the block eigenvalues against a full eigh of the original Hessian at a sample.
    sample = np.random.default_rng(0).choice(len(theta), 24, replace=False)
    full = curvature.eigenvalues_along(problem.loss, jnp.asarray(theta[sample]))
    np.testing.assert_allclose(np.sort(evals[sample], axis=1), full, atol=1e-10)


def test_small_options_index_from_full_eigh():
    problem = problems.get("dlae", k=6, p=2, n=500, seed=3)
    points = problem.analytic_critical_points()
    assert points.sizes["point"] == 1 + 6 + 15 and problem.dim == 24
    assert problem.extras["data"].shape == (6, 500)
    thetas = jnp.asarray(points["theta"].values)
    evals = curvature.eigenvalues_along(problem.loss, thetas)
    index = np.asarray(jax.vmap(curvature.index)(evals))
    np.testing.assert_array_equal(np.rint(index * problem.dim), points["num_negative"].values)
    np.testing.assert_allclose(index, points["index"].values, rtol=0, atol=1e-15)
    grads = jax.jit(jax.vmap(jax.grad(problem.loss)))(thetas)
    assert float(jnp.max(jnp.sum(grads**2, axis=1))) < 1e-20
