"""Problems from the user's own model: any JAX loss, a Flax NNX module, an Equinox module.

:func:`from_function` takes ``loss(params)`` (or ``loss(params, batch)`` with
``data``) over any parameter pytree and flattens it with
:func:`jax.flatten_util.ravel_pytree`, exactly as the built-in networks do, so
every engine function (curvature, slices, trajectories, critical points,
Ridge Rider) sees one flat vector.  The given parameters become
``problem.theta0``.  Leaves are cast to the default float dtype (float64 under
``jax_enable_x64``) so the flat vector round-trips without loss.

With ``data`` the loss must be a mean over the samples of ``batch`` (plus any
data-free term); it is evaluated over the whole data in chunks of ``chunk``
samples, or on one fixed seeded batch (``data_mode="minibatch"``); see
:mod:`landscape.problems.data`.

:func:`from_flax` splits an ``nnx.Module`` into its graph definition, its
``nnx.Param`` state (the parameters) and the rest (kept fixed);
:func:`from_equinox` partitions a module with ``eqx.is_inexact_array`` (the
static part stays static) and maps it over the samples (Equinox modules act
on one sample).  Both take ``data = (x, y)`` and a loss by name
(:data:`LOSSES`) or a callable ``loss(outputs, y) -> scalar`` (a mean over the
batch).  Flax and Equinox are optional extras, imported only here.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .base import Bounds, Problem, default_dtype
from .data import DATA_MODES, chunked_mean, num_samples, select_minibatch


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of integer ``labels`` (the built-in networks' loss)."""
    log_p = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None].astype(jnp.int32), axis=1))


def mse(outputs, targets):
    """Mean over all entries of ``(outputs − targets)²``."""
    return jnp.mean((outputs - targets.reshape(outputs.shape)) ** 2)


LOSSES: dict[str, Callable] = {"cross_entropy": cross_entropy, "mse": mse}


def _check_params(params, name: str):
    leaves = jax.tree_util.tree_leaves_with_path(params)
    if not leaves:
        raise ValueError(f"problem {name!r}: the parameters contain no arrays")
    for path, leaf in leaves:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise ValueError(
                f"problem {name!r}: parameter {jax.tree_util.keystr(path) or 'params'} has dtype {dtype}; "
                "parameters must be floating point (keep integer state out of the parameter pytree)"
            )
        if jnp.issubdtype(dtype, jnp.complexfloating):
            raise ValueError(f"problem {name!r}: parameter {jax.tree_util.keystr(path)} is complex; "
                             "losses here are over real parameters")


def from_function(
    loss: Callable,
    params: Any,
    *,
    name: str,
    data: Any = None,
    bounds: Bounds | None = None,
    sampler: Callable | None = None,
    chunk: int | None = None,
    data_mode: str = "full",
    batch_size: int | None = None,
    seed: int = 0,
    description: str = "",
    extras: dict | None = None,
) -> Problem:
    """A :class:`Problem` from ``loss(params)`` or ``loss(params, batch)`` (with ``data``).

    ``sampler(key)`` (optional) returns parameters shaped like ``params`` (or
    a flat ``(dim,)`` vector); by default starts are ``theta0`` plus Gaussian
    noise of standard deviation ``0.1 · rms(theta0)``.  ``bounds`` is for 2-D
    parameters only.  Refused with a ValueError naming the problem: integer or
    complex parameters, data arrays of different lengths, a loss that fails on
    the given shapes or returns a non-scalar, a non-finite initial loss.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("from_function needs a non-empty name=")
    if not callable(loss):
        raise ValueError(f"problem {name!r}: loss must be callable, got {type(loss).__name__}")
    _check_params(params, name)
    dtype = default_dtype()
    params = jax.tree.map(lambda leaf: jnp.asarray(leaf, dtype), params)
    theta0, unravel = ravel_pytree(params)
    dim = int(theta0.shape[0])
    options: dict[str, Any] = {"source": "user", "dim": dim}

    if data is None:
        if data_mode != "full" or chunk is not None:
            raise ValueError(f"problem {name!r}: chunk and data_mode need data=")
        def params_loss(p):
            return loss(p)
    else:
        if data_mode not in DATA_MODES:
            raise ValueError(f"problem {name!r}: data_mode must be one of {DATA_MODES}, got {data_mode!r}")
        n = num_samples(data, name)
        options.update(num_samples=n, data_mode=data_mode, chunk=chunk)
        if data_mode == "minibatch":
            batch_size = min(n, 256) if batch_size is None else int(batch_size)
            data = select_minibatch(data, batch_size, seed, name)
            options.update(batch_size=batch_size, batch_seed=seed)
        params_loss = chunked_mean(loss, data, chunk, name)

    def flat_loss(theta):
        return params_loss(unravel(theta))

    try:
        out = jax.eval_shape(flat_loss, theta0)
    except Exception as error:  # the user's loss failed on these shapes: say which problem and why
        raise ValueError(f"problem {name!r}: the loss fails on the given parameters/data: "
                         f"{type(error).__name__}: {error}") from None
    if getattr(out, "shape", None) != ():
        raise ValueError(f"problem {name!r}: the loss must return a scalar, got shape {getattr(out, 'shape', out)}")
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"problem {name!r}: the loss must return a real float, got {out.dtype}")
    value = float(jax.jit(flat_loss)(theta0))
    if not np.isfinite(value):
        raise ValueError(f"problem {name!r}: the loss at the given parameters is {value}, not finite")
    if bounds is not None and dim != 2:
        raise ValueError(f"problem {name!r}: bounds are for 2-D problems; this one has {dim} parameters")

    flat_sampler = _flat_sampler(sampler, theta0, unravel, name)
    extras = dict(extras or {})
    if data is not None:  # the evaluated data (the fixed batch in minibatch mode) and a per-batch loss
        extras.update(data=data, batch_loss=lambda theta, batch: loss(unravel(theta), batch))
    return Problem(
        name=name, dim=dim, loss=flat_loss, sampler=flat_sampler, bounds=bounds,
        description=description or f"Your own loss{_data_summary(options)}.",
        options=options, unravel=unravel, default_point=theta0, extras=extras,
    )


def _data_summary(options: dict) -> str:
    """What the loss is a mean over, for a problem's default description (its name and size are shown apart)."""
    if "num_samples" not in options:
        return ""
    n = options["num_samples"]
    if options["data_mode"] == "minibatch":
        return f", on one fixed batch of {options['batch_size']} of its {n} samples (seed {options['batch_seed']})"
    chunk = options["chunk"]
    return f", the mean over all {n} samples" + ("" if chunk is None or chunk >= n else f" in chunks of {chunk}")


def _model_problem(batch_loss, params, model, framework: str, loss, data, name: str, extras: dict,
                   kwargs: dict) -> Problem:
    """:func:`from_function` for a module's parameters, described by its framework, class and loss."""
    problem = from_function(batch_loss, params, name=name, data=data, extras=extras, **kwargs)
    if kwargs.get("description"):
        return problem
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "<lambda>")
    loss_name = "custom" if loss_name == "<lambda>" else loss_name
    text = f"Your own {framework} {type(model).__name__}, {loss_name} loss{_data_summary(problem.options)}."
    return dataclasses.replace(problem, description=text)


def _flat_sampler(sampler, theta0, unravel, name):
    dim = theta0.shape[0]
    if sampler is None:
        scale = 0.1 * jnp.sqrt(jnp.mean(theta0**2))
        return lambda key: theta0 + scale * jax.random.normal(key, theta0.shape, theta0.dtype)

    def flat(key):
        drawn = sampler(key)
        if isinstance(drawn, jax.Array | np.ndarray) and np.shape(drawn) == (dim,):
            return jnp.asarray(drawn, theta0.dtype)
        return ravel_pytree(jax.tree.map(lambda leaf: jnp.asarray(leaf, theta0.dtype), drawn))[0]

    shape = jax.eval_shape(flat, jax.random.PRNGKey(0)).shape
    if shape != (dim,):
        raise ValueError(f"problem {name!r}: the sampler must return parameters like params ({dim} values), got {shape}")
    return flat


def _optional(module: str, extra: str, caller: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"{caller} needs the optional extra {extra!r}: pip install 'landscape-explorer[{extra}]'"
        ) from None


def _output_loss(loss, name: str) -> Callable:
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"problem {name!r}: unknown loss {loss!r}; choose {', '.join(LOSSES)} or pass a callable")
    return LOSSES[loss]


def _xy(data, name: str):
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise ValueError(f"problem {name!r}: data must be a pair (x, y) of arrays with one row per sample")
    return tuple(np.asarray(a) for a in data)


def from_flax(model, data, loss="cross_entropy", *, name: str = "flax-model", **kwargs) -> Problem:
    """A :class:`Problem` over the ``nnx.Param`` leaves of a Flax NNX module (other state fixed).

    ``loss(theta) = loss_fn(model(x), y)`` with the module rebuilt by
    ``nnx.merge(graphdef, params, rest)``; keyword arguments go to :func:`from_function`.
    """
    nnx = _optional("flax.nnx", "flax", "from_flax")
    if not isinstance(model, nnx.Module):
        raise ValueError(f"problem {name!r}: from_flax needs an nnx.Module, got {type(model).__name__}")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    output_loss = _output_loss(loss, name)

    def apply(p, x):
        return nnx.merge(graphdef, p, rest)(x)

    def batch_loss(p, batch):
        x, y = batch
        return output_loss(apply(p, x), y)

    problem = _model_problem(batch_loss, params, model, "Flax NNX", loss, _xy(data, name), name,
                             {"output_axis": -1, "framework": "flax"}, kwargs)
    return _with_apply(problem, apply)


def from_equinox(model, data, loss="cross_entropy", *, name: str = "equinox-model", **kwargs) -> Problem:
    """A :class:`Problem` over the inexact-array leaves of an Equinox module (the rest static).

    ``loss(theta) = loss_fn(vmap(model)(x), y)`` with the module rebuilt by
    ``eqx.combine(params, static)``; keyword arguments go to :func:`from_function`.
    """
    eqx = _optional("equinox", "equinox", "from_equinox")
    if not isinstance(model, eqx.Module):
        raise ValueError(f"problem {name!r}: from_equinox needs an eqx.Module, got {type(model).__name__}")
    params, static = eqx.partition(model, eqx.is_inexact_array)
    output_loss = _output_loss(loss, name)

    def apply(p, x):
        return jax.vmap(eqx.combine(p, static))(x)

    def batch_loss(p, batch):
        x, y = batch
        return output_loss(apply(p, x), y)

    problem = _model_problem(batch_loss, params, model, "Equinox", loss, _xy(data, name), name,
                             {"framework": "equinox"}, kwargs)
    return _with_apply(problem, apply)


def _with_apply(problem: Problem, apply) -> Problem:
    """Add ``extras["apply"]``: ``(theta, x) -> outputs`` for a flat ``theta`` (like the built-in MLPs)."""
    unravel = problem.unravel
    problem.extras["apply"] = lambda theta, x: apply(unravel(theta), x)
    return problem
