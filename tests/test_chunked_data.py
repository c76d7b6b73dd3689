"""Chunked full-batch losses are the exact full-batch loss; minibatch mode says so."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import curvature, slices
from landscape.problems import from_function
from landscape.results import config_of

jax.config.update("jax_enable_x64", True)

N = 120


def _model():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(N, 5)), rng.normal(size=(N, 2))
    params = {"w": jnp.asarray(rng.normal(size=(5, 2))), "b": jnp.zeros(2)}

    def loss(p, batch):  # a per-sample mean plus a data-free term, as the chunking requires
        xb, yb = batch
        return jnp.mean(jnp.sum((jnp.tanh(xb @ p["w"] + p["b"]) - yb) ** 2, axis=1)) + 1e-2 * jnp.sum(p["w"] ** 2)

    return loss, params, (x, y)


@pytest.mark.parametrize("chunk", [7, 30, 119])  # 7 and 119 leave a remainder chunk, 30 divides 120
def test_chunked_loss_gradient_and_hvp_equal_the_unchunked_ones(chunk):
    loss, params, data = _model()
    whole = from_function(loss, params, name="whole", data=data)
    chunked = from_function(loss, params, name="chunked", data=data, chunk=chunk)
    rng = np.random.default_rng(1)
    theta = whole.theta0 + jnp.asarray(rng.normal(size=whole.dim))
    v = jnp.asarray(rng.normal(size=whole.dim))
    # the unchunked loss is the user's own function on all the data at once
    np.testing.assert_allclose(whole.loss(theta), loss(whole.unravel(theta), data), rtol=1e-14)
    np.testing.assert_allclose(chunked.loss(theta), whole.loss(theta), rtol=1e-12, atol=0)
    np.testing.assert_allclose(jax.grad(chunked.loss)(theta), jax.grad(whole.loss)(theta), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(curvature.hvp(chunked.loss, theta, v), curvature.hvp(whole.loss, theta, v),
                               rtol=1e-12, atol=1e-14)


def test_minibatch_mode_uses_one_seeded_batch_and_says_so_in_results():
    loss, params, (x, y) = _model()
    mini = from_function(loss, params, name="mini", data=(x, y), data_mode="minibatch", batch_size=32, seed=3)
    again = from_function(loss, params, name="mini", data=(x, y), data_mode="minibatch", batch_size=32, seed=3)
    xb, yb = mini.extras["data"]
    assert xb.shape == (32, 5)
    rows = [int(np.flatnonzero((x == row).all(axis=1))[0]) for row in xb]
    assert len(set(rows)) == 32 and np.array_equal(yb, y[rows])
    np.testing.assert_allclose(mini.loss(mini.theta0), loss(params, (x[rows], y[rows])), rtol=1e-14)
    assert float(again.loss(again.theta0)) == float(mini.loss(mini.theta0))
    ds = slices.slice_loss(mini, mini.theta0, np.eye(mini.dim)[:1], np.linspace(-1, 1, 3))
    options = config_of(ds)["options"]
    assert options["data_mode"] == "minibatch" and options["batch_size"] == 32 and options["batch_seed"] == 3
    with pytest.raises(ValueError, match="batch_size must be in 1..120"):
        from_function(loss, params, name="mini", data=(x, y), data_mode="minibatch", batch_size=500)
    with pytest.raises(ValueError, match="data_mode must be one of"):
        from_function(loss, params, name="mini", data=(x, y), data_mode="stochastic")


def test_a_slice_of_a_chunked_problem_has_the_values_of_a_loop_over_its_points():
    loss, params, data = _model()
    whole = from_function(loss, params, name="whole", data=data)
    chunked = from_function(loss, params, name="chunked", data=data, chunk=30)
    directions = np.random.default_rng(2).normal(size=(2, whole.dim))
    grid = np.linspace(-1.0, 1.0, 5)
    looped = [[float(whole.loss(whole.theta0 + a * directions[0] + b * directions[1])) for a in grid] for b in grid]
    for problem in (whole, chunked):  # 25 points in chunks of 8 (the last one padded)
        ds = slices.slice_loss(problem, problem.theta0, directions, grid, chunk=8)
        np.testing.assert_allclose(ds.loss.values, looped, rtol=1e-12)
