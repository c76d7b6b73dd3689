"""Sharpness φ and curvature ψ of trained networks (Zhao et al., Sec. 4.3, App. F.3, Table 1).

``sharpness_curvature(problem, thetas)`` evaluates, for each flat weight vector
of a bias-free MLP problem, the sharpness φ (eq. 13) on the whole training set
and the curvature ψ (eq. 14) of the group-action curves on one training batch,
next to the training and test (validation) loss, so that their correlation
with the validation loss can be measured as in Table 1.  One compiled kernel,
mapped over the models; the models are cut into tasks of the executor seam
(:mod:`landscape.executor`), so a survey of many trained models can run on a Dask
cluster with the same numbers.

Two recipes for ψ (``recipe``):

``"ours"`` (default)
    group action 2 (App. E.1's default), ``n_curves`` generators with standard
    normal entries (unit Frobenius norm), all on one batch of ``batch_size``
    training samples, the curve being the exact composition of the per-layer
    actions;
``"authors"``
    the authors' ``correlation.py``: group action 1, generators ``rand/‖rand‖_F``
    (U[0, 1) entries), 200 curves each on a fresh batch of 200 training samples,
    and the sum of the per-pair derivatives (:func:`.objectives.curvature_per_pair`).

Either action preserves the loss exactly only when the batch has at least as many
samples as the layer it acts through is wide (action 2 needs ``pinv`` of the next
layer's activations to be a right inverse, action 1 that of the layer's input);
the curvature of the curve, not the loss along it, is what ψ measures.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..executor import Executor, ProblemRef, Sweep, batches, run_chunks
from ..jobs import CancelToken, Event, Stream, drive
from ..kernel_cache import KERNELS
from ..problems.base import Problem
from ..results import result_attrs
from .groups import cross_entropy, weights_of
from .objectives import PAPER_DISPLACEMENTS, curvature, curvature_per_pair, make_probes, sharpness

RECIPES = ("ours", "authors")


@KERNELS("teleport.metrics._kernel")
def _kernel(activation: str, action: int, recipe: str):
    psi = curvature if recipe == "ours" else curvature_per_pair
    def one(ws, probes, x, y, xb, yb, x_test, y_test):
        return {
            "sharpness": sharpness(ws, x, y, activation, probes),
            "curvature": psi(ws, xb, yb, activation, probes, action),
            "train_loss": cross_entropy(ws, x, y, activation),
            "test_loss": cross_entropy(ws, x_test, y_test, activation),
        }

    def all_models(ws, *rest):
        return jax.lax.map(lambda w: one(w, *rest), ws)  # sequential over models: bounded memory

    return jax.jit(all_models)


METRICS = ("sharpness", "curvature", "train_loss", "test_loss")


def _recipe(recipe: str, action: int | None, n_curves: int | None) -> tuple[int, str, int]:
    """``(action, generators, n_curves)`` of a ψ recipe (module docstring), or a ``ValueError``."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    if recipe == "authors":
        if action not in (None, 1):
            raise ValueError("the authors' recipe uses group action 1")
        return 1, "uniform", n_curves or 200
    return (2 if action is None else action), "normal", n_curves or 20


def survey_task(problem_ref: ProblemRef, thetas: np.ndarray, count: int, key: np.ndarray, n_directions: int,
                displacements: tuple, n_curves: int, batch_size: int, action: int, recipe: str) -> dict[str, np.ndarray]:
    """φ, ψ and the losses of the first ``count`` rows of ``thetas`` as a pure task (the executor seam):
    the directions, generators and batches depend only on ``key`` and the layer shapes, so every
    batch of models is measured with the same probes."""
    problem = problem_ref.resolve()
    _, generators, _ = _recipe(recipe, action, n_curves)
    thetas = jnp.asarray(thetas)
    data = problem.extras["data"]
    dtype = thetas.dtype
    x, y = jnp.asarray(data["x_train"], dtype), jnp.asarray(data["y_train"])
    k_probe, k_batch = jax.random.split(jnp.asarray(key))
    ws = jax.vmap(lambda t: weights_of(problem.unravel(t)))(thetas)
    probes = make_probes(k_probe, tuple(w[0] for w in ws), n_directions, displacements, n_curves, generators)
    if recipe == "ours":
        idx = jax.random.permutation(k_batch, x.shape[0])[:batch_size]
    else:  # a fresh batch per curve
        idx = jax.vmap(lambda k: jax.random.permutation(k, x.shape[0])[:batch_size])(
            jax.random.split(k_batch, n_curves))
    out = _kernel(problem.extras["activation"], action, recipe)(
        ws, probes, x, y, x[idx], y[idx], jnp.asarray(data["x_test"], dtype), jnp.asarray(data["y_test"]))
    return {name: np.asarray(out[name])[:count] for name in METRICS}


def iter_sharpness_curvature(
    problem: Problem,
    thetas,
    *,
    key=None,
    n_directions: int = 200,
    displacements=PAPER_DISPLACEMENTS,
    n_curves: int | None = None,
    batch_size: int = 200,
    action: int | None = None,
    recipe: str = "ours",
    models_per_task: int | None = None,
    executor: Executor | None = None,
    cancel: CancelToken | None = None,
) -> Stream[xr.Dataset]:
    """φ, ψ, training and test loss of each row of ``thetas`` (models × weights), streamed by batch of models.

    ``recipe`` chooses how ψ is measured (module docstring); ``"authors"`` fixes
    ``action = 1`` and U[0, 1) generators, and draws one fresh batch of ``batch_size``
    samples per curve.  ``n_curves`` defaults to 20 (``"ours"``) or 200 (``"authors"``),
    ``action`` to 2 for ``"ours"``.
    The same random directions, displacements, Lie-algebra generators and
    curvature batches are used for every model, so differences between models
    come from the weights alone.  The models are cut into tasks of ``models_per_task``
    (default: one per worker of a Dask ``executor``, all at once in-process), each one
    compiled kernel mapped over its models.  Yields an ``Event`` per finished task (NaN for
    models not yet measured); returns a Dataset over ``model``.
    """
    action, _, n_curves = _recipe(recipe, action, n_curves)
    thetas = np.atleast_2d(np.asarray(thetas))
    key = np.asarray(jax.random.PRNGKey(0) if key is None else key)
    config = {**problem.config(), "n_directions": n_directions, "displacements": list(displacements),
              "n_curves": n_curves, "batch_size": batch_size, "action": action, "recipe": recipe}
    result = xr.Dataset({name: ("model", np.full(len(thetas), np.nan)) for name in METRICS},
                        coords={"model": np.arange(len(thetas))},
                        attrs=result_attrs("sharpness-curvature", config, status="running", points_done=0))
    ranges = batches(len(thetas), models_per_task, executor)
    sweep = Sweep({name: result[name].values for name in METRICS}, ranges)
    size, ref = ranges[0][1] - ranges[0][0], ProblemRef(problem)
    calls = [(i, (ref, np.resize(thetas[start:stop], (size, thetas.shape[1])), stop - start, key, n_directions,
                  tuple(displacements), n_curves, batch_size, action, recipe))  # one shape per task: one compile
             for i, (start, stop) in enumerate(ranges)]
    for outcome in run_chunks(survey_task, calls, executor=executor, cancel=cancel):
        sweep.apply(outcome)
        yield Event("models", sweep.done, sweep.total, sweep.partial(result))
    result.attrs.update(sweep.finish())
    return result


def sharpness_curvature(problem: Problem, thetas, **kwargs) -> xr.Dataset:
    """:func:`iter_sharpness_curvature` run to the end (in-process unless ``executor`` is given)."""
    return drive(iter_sharpness_curvature(problem, thetas, **kwargs))
