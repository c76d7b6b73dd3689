"""The fast MLP slice kernel against the generic vmapped path; float32 sweeps; one compile per grid size."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import problems
from landscape.jobs import drive
from landscape.problems import Problem
from landscape.slices import evaluate_chunk, iter_slice, make_directions, slice_kernel, slice_loss

from .compile_count import count_lowerings

NETWORKS = {
    "mlp-moons": {},
    "mlp-digits": {},
    "mlp-digits-64-128-128-10": {"resolution": 8, "hidden": [128, 128], "activation": "tanh"},
}


@pytest.fixture(scope="module", params=list(NETWORKS))
def network(request):
    problem = problems.get(request.param.split("-64")[0], **NETWORKS[request.param])
    theta = problem.init(jax.random.PRNGKey(3))
    theta = theta + 0.3 * jax.random.normal(jax.random.PRNGKey(4), theta.shape)  # nonzero biases
    directions = make_directions(problem, "filter", theta, key=jax.random.PRNGKey(5), include_bias=True)
    return problem, theta, directions


def test_the_digits_network_option_has_the_benchmark_shape():
    problem = problems.get("mlp-digits", **NETWORKS["mlp-digits-64-128-128-10"])
    assert problem.extras["layer_sizes"] == (64, 128, 128, 10) and problem.dim == 26122
    assert problem.extras["plane"].strategy == "map"
    assert problems.get("mlp-moons").extras["plane"].strategy == "batched"
    with pytest.raises(ValueError, match="resolution must be 4 or 8"):
        problems.get("mlp-digits", resolution=5)


def test_fast_path_matches_the_generic_path_in_float64(network):
    problem, theta, directions = network
    alpha, beta = np.linspace(-1.0, 1.5, 5), np.linspace(-0.7, 0.4, 3)
    ds = slice_loss(problem, theta, directions, alpha, beta, dtype=jnp.float64)
    assert ds.attrs["dtype"] == "float64"
    bb, aa = np.meshgrid(beta, alpha, indexing="ij")
    generic = evaluate_chunk(problem.loss, theta, directions, np.c_[aa.ravel(), bb.ravel()]).reshape(bb.shape)
    np.testing.assert_allclose(ds.loss.values, generic, rtol=1e-12, atol=0)
    line = slice_loss(problem, theta, directions[:1], alpha, dtype=jnp.float64)
    np.testing.assert_allclose(line.loss.values, evaluate_chunk(problem.loss, theta, directions[:1], alpha[:, None]),
                               rtol=1e-12, atol=0)


def test_network_sweeps_default_to_float32_within_1e5_of_float64(network):
    problem, theta, directions = network
    grid = np.linspace(-1.0, 1.0, 4)
    single = slice_loss(problem, theta, directions, grid)
    double = slice_loss(problem, theta, directions, grid, dtype=jnp.float64)
    assert single.attrs["dtype"] == "float32" and double.attrs["dtype"] == "float64"
    np.testing.assert_allclose(single.loss.values, double.loss.values, rtol=1e-5, atol=0)
    assert not np.array_equal(single.loss.values, double.loss.values)  # really computed in float32


def test_custom_losses_and_other_problems_take_the_generic_path_in_their_dtype(network):
    problem, _, _ = network
    assert slice_kernel(problem)[1] == jnp.float32
    assert slice_kernel(problem, loss=lambda t: problem.loss(t) + 1.0)[1] is None  # centre's dtype
    quadratic = Problem("q", 2, lambda t: t @ t, lambda k: jnp.zeros(2))
    ds = slice_loss(quadratic, jnp.zeros(2), jnp.eye(2), np.linspace(-1, 1, 3))
    assert ds.attrs["dtype"] == "float64"
    np.testing.assert_allclose(ds.loss.values, np.add.outer(np.linspace(-1, 1, 3) ** 2, np.linspace(-1, 1, 3) ** 2))


@pytest.mark.parametrize("name", ["quadratic", "mlp-moons"])
def test_grids_of_similar_size_share_one_compilation(name):
    if name == "quadratic":
        problem = Problem("quadratic-3", 3, lambda t: t @ t + t[0], lambda k: jnp.zeros(3))
        centre, directions = jnp.ones(3), jnp.eye(3)[:2]
    else:
        problem = problems.get("mlp-moons")
        centre = problem.init(jax.random.PRNGKey(0))
        directions = make_directions(problem, "random", centre)
    slice_loss(problem, centre, directions, np.linspace(-1, 1, 5), np.linspace(-1, 1, 6))  # 30 points
    with count_lowerings() as lowered:
        slice_loss(problem, centre, directions, np.linspace(-2, 2, 5), np.linspace(-1, 1, 5))  # 25 points
        slice_loss(problem, centre, directions, np.linspace(-1, 1, 4), np.linspace(-1, 1, 7))  # 28 points
        drive(iter_slice(problem, centre, directions, np.linspace(-1, 1, 5), np.linspace(-1, 1, 6)))
    assert lowered == []
    with count_lowerings() as lowered:  # the counter sees compilations: a 1-D slice is a new shape
        slice_loss(problem, centre, directions[:1], np.linspace(-1, 1, 3))
    assert len(lowered) >= 1
