"""A problem's parameters on disk: netCDF of the flat vector plus a description of the pytree.

``save_params(path, problem_or_params)`` writes the flat vector
``theta (param)`` (``ravel_pytree`` order, as every engine function sees it)
and, in ``attrs``, the treedef as text and one record per leaf (key path,
shape, dtype), so a user can train elsewhere, save, and look here:
``load_params(path, like)`` returns the flat vector, checked against a
problem's size or rebuilt into a parameter pytree ``like`` after checking that
every leaf's path and shape agree.  Files go through :func:`landscape.io.save`
(atomic, h5netcdf).
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.flatten_util import ravel_pytree

from . import io
from .problems.base import Problem
from .results import result_attrs

KIND = "model-parameters"


def _leaves(tree) -> list[dict]:
    return [{"path": jax.tree_util.keystr(path), "shape": list(np.shape(leaf)), "dtype": str(jnp.result_type(leaf))}
            for path, leaf in jax.tree_util.tree_leaves_with_path(tree)]


def save_params(path: str | os.PathLike, problem_or_params, *, theta=None) -> None:
    """Save a problem's parameters (``theta``, default ``problem.theta0``) or a parameter pytree."""
    if isinstance(problem_or_params, Problem):
        problem = problem_or_params
        flat = jnp.asarray(problem.theta0 if theta is None else theta)
        if flat.shape != (problem.dim,):
            raise ValueError(f"problem {problem.name!r} has {problem.dim} parameters, got theta of shape {flat.shape}")
        tree = problem.unravel(flat) if problem.unravel is not None else flat
        config = {"problem": problem.name, "options": dict(problem.options)}
    else:
        if theta is not None:
            raise ValueError("theta= is for a Problem; pass the parameter pytree itself")
        flat, _ = ravel_pytree(problem_or_params)
        tree, config = problem_or_params, {}
    attrs = result_attrs(KIND, config, treedef=str(jax.tree.structure(tree)), leaves=json.dumps(_leaves(tree)))
    io.save(xr.Dataset({"theta": (("param",), np.asarray(flat))}, attrs=attrs), path)


def load_params(path: str | os.PathLike, like=None):
    """The saved flat vector; checked against a Problem ``like`` or rebuilt into a pytree ``like``.

    Without ``like``: a numpy ``(dim,)`` array.  With a Problem: a JAX vector in
    the dtype of ``like.theta0``.  With a parameter pytree: that structure
    holding the saved values.  ValueError when the sizes or leaves disagree.
    """
    try:
        ds = io.load(path)
    except io.FormatError as error:
        raise ValueError(f"{os.fspath(path)} is not a parameter file written by save_params ({error})") from None
    if ds.attrs.get("kind") != KIND or "theta" not in ds:
        raise ValueError(f"{os.fspath(path)} is not a parameter file written by save_params")
    flat = ds["theta"].values
    if like is None:
        return flat
    saved = json.loads(ds.attrs["leaves"])
    if isinstance(like, Problem):
        if flat.shape != (like.dim,):
            raise ValueError(f"{os.fspath(path)} holds {flat.size} parameters; problem {like.name!r} has {like.dim}")
        if like.unravel is not None:
            _check_leaves(saved, _leaves(like.unravel(like.theta0)), path)
        return jnp.asarray(flat, like.theta0.dtype)
    _check_leaves(saved, _leaves(like), path)
    template, unravel = ravel_pytree(like)
    return unravel(jnp.asarray(flat, template.dtype))


def _check_leaves(saved: list[dict], expected: list[dict], path) -> None:
    got = [(leaf["path"], tuple(leaf["shape"])) for leaf in saved]
    want = [(leaf["path"], tuple(leaf["shape"])) for leaf in expected]
    if got != want:
        diff = next(((g, w) for g, w in zip(got, want) if g != w), (got[len(want):] or None, want[len(got):] or None))
        raise ValueError(f"{os.fspath(path)} was saved from different parameters: saved {diff[0]}, expected {diff[1]}")
