"""User models: from_function / from_flax / from_equinox against the hand-written MLP, and refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import curvature, problems, slices
from landscape.problems import from_equinox, from_flax, from_function
from landscape.problems import networks
from landscape.problems.networks import forward

jax.config.update("jax_enable_x64", True)

HIDDEN = (8, 8)  # equal widths: eqx.nn.MLP has one width_size


@pytest.fixture(scope="module")
def reference():
    """The built-in mlp-digits network on 300 samples (no l2, so the user losses are plain cross-entropy)."""
    data = {key: value[:300] for key, value in networks.digits_4x4().items()}
    return networks.mlp_problem("mlp-ref", data, HIDDEN, "swish", True, 0.0, 1.0, 0, "", {})


def _check_same(reference, problem, perm):
    """Loss, gradient and HVP of ``problem`` at ``theta[perm]`` equal the reference's at ``theta``."""
    rng = np.random.default_rng(1)
    theta = jnp.asarray(reference.theta0) + 0.1 * rng.normal(size=reference.dim)
    v = jnp.asarray(rng.normal(size=reference.dim))
    mine = theta[perm]
    assert problem.dim == reference.dim
    np.testing.assert_allclose(problem.loss(mine), reference.loss(theta), rtol=1e-10, atol=0)
    np.testing.assert_allclose(jax.grad(problem.loss)(mine), jax.grad(reference.loss)(theta)[perm],
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(curvature.hvp(problem.loss, mine, v[perm]),
                               curvature.hvp(reference.loss, theta, v)[perm], rtol=1e-10, atol=1e-13)


def _data(reference):
    data = reference.extras["data"]
    return data["x_train"], data["y_train"]


def test_from_function_matches_the_builtin_mlp_and_keeps_theta0(reference):
    layers = reference.unravel(reference.theta0)

    def loss(params, batch):
        x, y = batch
        logits = forward(params, x, "swish")
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    problem = from_function(loss, layers, name="mine", data=_data(reference))
    np.testing.assert_array_equal(problem.theta0, reference.theta0)
    _check_same(reference, problem, np.arange(reference.dim))
    # the engine works unchanged: a filter-normalised slice centred at theta0
    directions = slices.make_directions(problem, "filter", problem.theta0, key=jax.random.PRNGKey(0))
    ds = slices.slice_loss(problem, problem.theta0, directions, np.linspace(-1, 1, 3))
    assert ds.loss.shape == (3, 3) and np.isclose(float(ds.loss[1, 1]), float(problem.loss(problem.theta0)))


def test_builtin_networks_expose_theta0_as_their_seeded_init(reference):
    np.testing.assert_array_equal(reference.theta0, reference.init(jax.random.PRNGKey(0)))
    surface = problems.get("himmelblau")
    np.testing.assert_array_equal(surface.theta0, surface.init(jax.random.PRNGKey(0)))


def test_from_flax_matches_the_builtin_mlp(reference):
    nnx = pytest.importorskip("flax.nnx")

    class MLP(nnx.Module):
        def __init__(self, sizes, rngs):
            self.layers = nnx.List([nnx.Linear(a, b, param_dtype=jnp.float64, rngs=rngs) for a, b in zip(sizes, sizes[1:])])

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = jax.nn.swish(layer(x))
            return self.layers[-1](x)

    sizes = reference.extras["layer_sizes"]

    def model_with(layers):
        model = MLP(sizes, nnx.Rngs(0))
        for linear, layer in zip(model.layers, layers):
            linear.kernel[...] = jnp.asarray(layer["w"]).T  # Flax kernels are (in, out)
            linear.bias[...] = jnp.asarray(layer["b"])
        return model

    # the flat index of each built-in parameter, carried through the Flax layout: theta_flax = theta[perm]
    index_problem = from_flax(model_with(reference.unravel(jnp.arange(reference.dim, dtype=float))),
                              _data(reference), name="index")
    perm = np.asarray(index_problem.theta0).astype(int)
    np.testing.assert_array_equal(np.sort(perm), np.arange(reference.dim))
    problem = from_flax(model_with(reference.unravel(reference.theta0)), _data(reference), loss="cross_entropy",
                        name="flax-mlp", chunk=128)
    np.testing.assert_array_equal(problem.theta0, reference.theta0[perm])
    _check_same(reference, problem, perm)
    # the default description says what the model is (its name and size are shown beside it, not repeated)
    assert problem.description == "Your own Flax NNX MLP, cross_entropy loss, the mean over all 300 samples in chunks of 128."


def test_from_equinox_matches_the_builtin_mlp(reference):
    eqx = pytest.importorskip("equinox")
    sizes = reference.extras["layer_sizes"]

    def model_with(layers):
        model = eqx.nn.MLP(sizes[0], sizes[-1], width_size=sizes[1], depth=len(sizes) - 2,
                           activation=jax.nn.swish, key=jax.random.PRNGKey(0))
        assert [lin.weight.shape for lin in model.layers] == [tuple(l["w"].shape) for l in layers]
        return eqx.tree_at(lambda m: [x for lin in m.layers for x in (lin.weight, lin.bias)], model,
                           [jnp.asarray(l[key]) for l in layers for key in ("w", "b")])

    problem_index = from_equinox(model_with(reference.unravel(jnp.arange(reference.dim, dtype=float))),
                                 _data(reference), name="index")
    perm = np.asarray(problem_index.theta0).astype(int)
    problem = from_equinox(model_with(reference.unravel(reference.theta0)), _data(reference),
                           loss=lambda out, y: problems.custom.cross_entropy(out, y), name="eqx-mlp")
    _check_same(reference, problem, perm)
    assert problem.description == "Your own Equinox MLP, custom loss, the mean over all 300 samples."
    mine = from_equinox(model_with(reference.unravel(reference.theta0)), _data(reference), name="eqx-mlp",
                        data_mode="minibatch", batch_size=50, seed=3, description="My MLP.")
    assert mine.description == "My MLP."
    assert from_function(lambda p, b: jnp.mean((b[0] @ p - b[1]) ** 2), jnp.ones(3), name="lsq",
                         data=(np.ones((40, 3)), np.ones(40)), data_mode="minibatch", batch_size=10).description == (
        "Your own loss, on one fixed batch of 10 of its 40 samples (seed 0).")


def test_losses_by_name():
    logits = jnp.array([[2.0, 0.0], [0.0, 1.0]])
    labels = jnp.array([0, 0])
    p = jax.nn.softmax(logits)
    np.testing.assert_allclose(problems.custom.cross_entropy(logits, labels), -np.mean(np.log(p[:, 0])))
    np.testing.assert_allclose(problems.custom.mse(logits, jnp.zeros((2, 2))), 5.0 / 4)


@pytest.mark.parametrize(
    ("loss", "params", "data", "message"),
    [
        (lambda p: jnp.sum(p["w"] ** 2), {"w": jnp.arange(3)}, None, r"\['w'\] has dtype int"),
        (lambda p: p["w"] ** 2, {"w": jnp.ones(3)}, None, "must return a scalar, got shape \\(3,\\)"),
        (lambda p: jnp.log(p["w"][0] - 1.0), {"w": jnp.ones(3)}, None, "is -inf, not finite"),
        (lambda p: p["w"] @ jnp.ones(4), {"w": jnp.ones(3)}, None, "fails on the given parameters"),
        (lambda p, b: jnp.mean(b[0] @ p), jnp.ones(3), (np.ones((5, 3)), np.ones(4)), "same leading"),
    ],
)
def test_bad_models_are_refused_naming_the_problem(loss, params, data, message):
    with pytest.raises(ValueError, match=f"problem 'bad'.*{message}"):
        from_function(loss, params, name="bad", data=data)


def test_bad_framework_inputs_are_refused():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        from_equinox(pytest.importorskip("equinox").nn.Linear(2, 2, key=jax.random.PRNGKey(0)),
                     (np.ones((3, 2)), np.zeros(3, int)), loss="hinge")
    with pytest.raises(ValueError, match="needs an nnx.Module"):
        from_flax(object(), (np.ones((3, 2)), np.zeros(3, int)))
