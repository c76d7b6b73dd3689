"""Users' own models for the dashboard tests: ``panel serve app/main.py --args --problem tests.own_models:NAME``.

Small on purpose (a few hundred digits, a few hundred parameters) so a served test builds them in seconds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from landscape.problems import from_equinox, from_flax, from_function
from landscape.problems.cnn import digits_8x8

SAMPLES = 200


def _digits():
    jax.config.update("jax_enable_x64", True)
    data = digits_8x8(seed=0)
    return data["x_train"][:SAMPLES], data["y_train"][:SAMPLES]


def make_problem():
    """A plain JAX loss: least squares of a linear model on 3 parameters (``from_function``)."""
    jax.config.update("jax_enable_x64", True)
    x = np.linspace(-1.0, 1.0, 50)
    y = 0.5 * x**2 - x + 0.25

    def loss(params, batch):
        xb, yb = batch
        prediction = params["a"] * xb**2 + params["b"] * xb + params["c"]
        return jnp.mean((prediction - yb) ** 2)

    return from_function(loss, {"a": 0.0, "b": 0.0, "c": 0.0}, name="my-quadratic-fit", data=(x, y))


def make_flax():
    """A Flax NNX MLP 64 → 8 → 10 on 200 digits."""
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(64, 8, param_dtype=jnp.float64, rngs=rngs)
            self.out = nnx.Linear(8, 10, param_dtype=jnp.float64, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.nn.swish(self.hidden(x)))

    x, y = _digits()
    return from_flax(MLP(nnx.Rngs(0)), (x.reshape(len(y), -1), y), loss="cross_entropy", name="my-flax-mlp")


def make_equinox():
    """An Equinox CNN (conv 3×3 1→2, 2×2 average pool, dense 32→10) on 200 digits."""
    import equinox as eqx

    class CNN(eqx.Module):
        conv: eqx.nn.Conv2d
        out: eqx.nn.Linear

        def __init__(self, key):
            k1, k2 = jax.random.split(key)
            self.conv = eqx.nn.Conv2d(1, 2, 3, padding=1, key=k1)
            self.out = eqx.nn.Linear(32, 10, key=k2)

        def __call__(self, x):
            h = jax.nn.swish(self.conv(x)).reshape(2, 4, 2, 4, 2).mean(axis=(2, 4))
            return self.out(h.reshape(-1))

    x, y = _digits()
    model = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, CNN(jax.random.PRNGKey(0)))
    return from_equinox(model, (x, y), loss="cross_entropy", name="my-equinox-cnn")


def not_a_problem():
    """Returns something that is not a Problem (the launcher refuses it)."""
    return 42
