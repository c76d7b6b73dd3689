"""Sharpness φ and curvature ψ of trained networks (Zhao et al., Sec. 4.3, App. F.3, Table 1).

``sharpness_curvature(problem, thetas)`` evaluates, for each flat weight vector
of a bias-free MLP problem, the sharpness φ (eq. 13) on the whole training set
and the curvature ψ (eq. 14) of the group-action curves on one training batch,
next to the training and test (validation) loss, so that their correlation
with the validation loss can be measured as in Table 1.  One compiled kernel,
mapped over the models.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..problems.base import Problem
from ..results import result_attrs
from .groups import cross_entropy, weights_of
from .objectives import PAPER_DISPLACEMENTS, curvature, make_probes, sharpness


@functools.lru_cache(maxsize=16)
def _kernel(activation: str, action: int):
    def one(ws, probes, x, y, xb, yb, x_test, y_test):
        return {
            "sharpness": sharpness(ws, x, y, activation, probes),
            "curvature": curvature(ws, xb, yb, activation, probes, action),
            "train_loss": cross_entropy(ws, x, y, activation),
            "test_loss": cross_entropy(ws, x_test, y_test, activation),
        }

    def all_models(ws, *rest):
        return jax.lax.map(lambda w: one(w, *rest), ws)  # sequential over models: bounded memory

    return jax.jit(all_models)


def sharpness_curvature(
    problem: Problem,
    thetas,
    *,
    key=None,
    n_directions: int = 200,
    displacements=PAPER_DISPLACEMENTS,
    n_curves: int = 20,
    batch_size: int = 200,
    action: int = 2,
) -> xr.Dataset:
    """φ, ψ, training and test loss of each row of ``thetas`` (models × weights).

    The same random directions, displacements, Lie-algebra generators and
    curvature batch are used for every model, so differences between models
    come from the weights alone.  Returns a Dataset over ``model``.
    """
    thetas = jnp.atleast_2d(jnp.asarray(thetas))
    data = problem.extras["data"]
    dtype = thetas.dtype
    x, y = jnp.asarray(data["x_train"], dtype), jnp.asarray(data["y_train"])
    key = jax.random.PRNGKey(0) if key is None else key
    k_probe, k_batch = jax.random.split(key)
    ws = jax.vmap(lambda t: weights_of(problem.unravel(t)))(thetas)
    probes = make_probes(k_probe, tuple(w[0] for w in ws), n_directions, displacements, n_curves)
    idx = jax.random.permutation(k_batch, x.shape[0])[:batch_size]
    out = _kernel(problem.extras["activation"], action)(
        ws, probes, x, y, x[idx], y[idx], jnp.asarray(data["x_test"], dtype), jnp.asarray(data["y_test"]))
    config = {**problem.config(), "n_directions": n_directions, "displacements": list(displacements),
              "n_curves": n_curves, "batch_size": batch_size, "action": action}
    return xr.Dataset({k: ("model", np.asarray(v)) for k, v in out.items()},
                      coords={"model": np.arange(thetas.shape[0])},
                      attrs=result_attrs("sharpness-curvature", config))
