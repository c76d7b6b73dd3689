"""Optimizer trajectories: many optimizers from many starts in one compiled scan.

A request is a list of optimizers ``[(name, hparams), ...]`` and an array of
starts ``(n_starts, dim)``.  Runs are the product optimizer × start, ordered
``run = i_opt * n_starts + i_start``.  Each chunk of ``c`` steps of *every*
run is one call of one jitted function: per optimizer a ``jax.vmap`` over
starts of a ``lax.scan`` over steps.  Hyperparameters enter as traced
scalars, so changing a learning rate reuses the compiled code; the compiled
functions are cached per (problem, optimizer-name tuple, chunk length, precision)
in :data:`landscape.kernel_cache.KERNELS`.

Update rules (θ parameters, g = ∇L(θ_t), all from optax except damped Newton;
declared with their hyperparameter specs in :mod:`landscape.optim`):

* ``gd``: θ ← θ − lr·g  (``optax.sgd``).
* ``heavy-ball``: v ← g + μ·v, θ ← θ − lr·v  (Polyak momentum as
  ``optax.sgd(lr, momentum=μ)``).
* ``nesterov``: v ← g + μ·v, θ ← θ − lr·(g + μ·v)  (Sutskever et al. 2013 form,
  ``optax.sgd(lr, momentum=μ, nesterov=True)``).
* ``adam``: m ← b1·m + (1−b1)g, s ← b2·s + (1−b2)g², θ ← θ − lr·m̂/(√ŝ + eps)
  with m̂ = m/(1−b1ᵗ), ŝ = s/(1−b2ᵗ)  (``optax.adam``).
* ``rmsprop``: s ← decay·s + (1−decay)g², θ ← θ − lr·g/√(s + eps), s₀ = 0
  (``optax.rmsprop``; eps inside the root, optax's default).
* ``adagrad``: s ← s + g², θ ← θ − lr·g/√(s + eps), s₀ = initial_accumulator_value
  (``optax.adagrad``).
* ``damped-newton``: θ ← θ − lr·(∇²L(θ) + γI)⁻¹ g with a *dense* Hessian and a
  dense solve, O(dim³) per step, so meant for small problems (2-D surfaces,
  small networks).  This is the fixed-damping, line-search-free core of Frye's
  damped Newton (thesis §2.6.1, Algorithm 11), which takes the unit step
  (lr = 1) and picks γ from a set Γ per step; here γ = ``damping`` is fixed.
  As Frye warns, H + γI is singular where an eigenvalue of H equals −γ; such a
  step produces Inf/NaN and the run is flagged as diverged.  It is an
  ``optax.GradientTransformation`` (:func:`landscape.optim.scale_by_damped_newton`)
  because optax has no Newton step.

Divergence: a run whose loss or parameters become non-finite at step t is
flagged (``diverged``), ``stop_step = t``, its parameters and optimizer state
are frozen at step t − 1 and every recorded entry from step t on is NaN; the
other runs continue unaffected.

Classifiers (a problem whose ``extras`` have ``apply`` ``(theta, X) -> logits``
and ``data`` with ``x_train, y_train, x_test, y_test``, e.g. the MLPs of
:mod:`landscape.problems.networks`): every recorded step also gets
``train_accuracy`` and ``test_accuracy``, the fraction of points whose
``argmax`` logit is the label (NaN where the run has diverged).

:func:`run_summary` reduces a result to one row per run: final loss and
gradient norm, the first step with ``‖∇L‖ ≤ tolerance``, divergence.

Streaming (``landscape.jobs`` convention): :func:`iter_trajectories` yields an
``Event(kind="chunk")`` per chunk whose ``partial`` is the Dataset of
:func:`run_trajectories` over all ``steps + 1`` steps, NaN after the steps
done.  It returns the Dataset described in :func:`run_trajectories` (kind
``"optimizer-trajectories"``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from . import limits, optim
from .jobs import CancelToken, Event, Stream, drive, frozen, is_cancelled
from .kernel_cache import KERNELS
from .problems.base import Problem
from .results import result_attrs

HParams = dict[str, Any]


#: The single-loss optimizers of the catalogue (:mod:`landscape.optim`), by name.
OPTIMIZERS: dict[str, optim.Algorithm] = {name: optim.get(name) for name in optim.names("optimizer")}


def resolve(optimizers: Sequence[tuple[str, HParams | None]]) -> list[tuple[str, dict[str, float]]]:
    """Validate each ``(name, hparams)`` by the catalogue (:func:`landscape.optim.validate`),
    filling in defaults; game update rules are refused."""
    resolved = []
    for name, hparams in optimizers:
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
        resolved.append((name, optim.validate(name, hparams)))
    return resolved


def label(name: str, hparams: dict[str, float]) -> str:
    """A short human-readable run label, e.g. ``"adam lr=0.01"`` (non-default values shown)."""
    spec = OPTIMIZERS[name]
    shown = [f"{k}={v:g}" for k, v in hparams.items() if k == "lr" or v != spec.defaults[k]]
    return " ".join([name, *shown])


def _finite(loss, theta):
    return jnp.isfinite(loss) & jnp.all(jnp.isfinite(theta))


def _masked(ok, value):
    return jnp.where(ok, value, jnp.nan)


@KERNELS("trajectories._kernels")
def _kernels(problem: Problem, names: tuple[str, ...], chunk: int):
    """Jitted ``(init, advance)`` for one problem, optimizer-name tuple and chunk length.

    ``init(starts, hps) -> (carries, (theta0, loss0, grad_norm0))`` and
    ``advance(carries, hps) -> (carries, (theta, loss, grad_norm))``, outputs
    stacked over runs as ``(runs, ...)`` and ``(runs, chunk, ...)``.
    """
    value_and_grad = jax.value_and_grad(problem.loss)

    def init_one(name, hp, theta):
        loss, g = value_and_grad(theta)
        ok = _finite(loss, theta)
        state = OPTIMIZERS[name].transform(hp, problem.loss).init(theta)
        record = (_masked(ok, theta), _masked(ok, loss), _masked(ok, jnp.linalg.norm(g)))
        return (theta, g, state, ok), record

    def advance_one(name, hp, carry):
        opt = OPTIMIZERS[name].transform(hp, problem.loss)

        def step(carry, _):
            theta, g, state, alive = carry
            updates, new_state = opt.update(g, state, theta)
            new_theta = optax.apply_updates(theta, updates)
            new_loss, new_g = value_and_grad(new_theta)
            ok = alive & _finite(new_loss, new_theta)
            keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731  (freeze a diverged run)
            carry = (keep(new_theta, theta), keep(new_g, g), jax.tree.map(keep, new_state, state), ok)
            record = (_masked(ok, new_theta), _masked(ok, new_loss), _masked(ok, jnp.linalg.norm(new_g)))
            return carry, record

        return jax.lax.scan(step, carry, None, length=chunk)

    def over_optimizers(fn, per_opt_args, hps):
        carries, records = [], []
        for name, arg, hp in zip(names, per_opt_args, hps):
            carry, record = jax.vmap(functools.partial(fn, name, hp))(arg)
            carries.append(carry)
            records.append(record)
        stacked = tuple(jnp.concatenate(parts) for parts in zip(*records))
        return tuple(carries), stacked

    @jax.jit
    def init(starts, hps):
        return over_optimizers(init_one, [starts] * len(names), hps)

    @jax.jit
    def advance(carries, hps):
        return over_optimizers(advance_one, carries, hps)

    return init, advance


def is_classifier(problem: Problem) -> bool:
    """Whether ``problem`` provides logits and labelled train/test data (so runs record accuracy)."""
    data = problem.extras.get("data")
    return callable(problem.extras.get("apply")) and isinstance(data, dict) and all(
        key in data for key in ("x_train", "y_train", "x_test", "y_test"))


@KERNELS("trajectories._accuracy")
def _accuracy(problem: Problem):
    """Jitted ``thetas (n, dim) -> (train, test)`` accuracies ``(n,)``: mean of ``argmax logits == label``."""
    apply, data = problem.extras["apply"], problem.extras["data"]
    dtype = jnp.zeros(()).dtype
    sets = [(jnp.asarray(data[f"x_{part}"], dtype), jnp.asarray(data[f"y_{part}"])) for part in ("train", "test")]

    @jax.jit
    def accuracy(thetas):
        def one(theta):
            return tuple(jnp.mean(jnp.argmax(apply(theta, x), axis=-1) == y) for x, y in sets)

        return jax.vmap(one)(thetas)

    return accuracy


def _accuracies(problem: Problem, theta: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train and test accuracy at every ``theta (runs, steps, dim)``, NaN where ``loss`` is not finite."""
    flat = np.nan_to_num(theta.reshape(-1, theta.shape[-1]))
    train, test = (np.asarray(a, dtype=float).reshape(loss.shape) for a in _accuracy(problem)(jnp.asarray(flat)))
    ok = np.isfinite(loss)
    return np.where(ok, train, np.nan), np.where(ok, test, np.nan)


def _first_nonfinite(loss: np.ndarray, offset: int, stop_step: np.ndarray) -> np.ndarray:
    """Update ``stop_step`` (sentinel: > any step) with the first NaN step of this chunk."""
    bad = ~np.isfinite(loss)
    first = np.where(bad.any(axis=1), offset + bad.argmax(axis=1), stop_step)
    return np.minimum(stop_step, first)


def iter_trajectories(
    problem: Problem,
    starts,
    optimizers: Sequence[tuple[str, HParams | None]],
    steps: int = 500,
    chunk: int = 50,
    cancel: CancelToken | None = None,
    *,
    executor=None,
    starts_per_task: int | None = None,
    store=None,
) -> Stream[xr.Dataset]:
    """Run every optimizer from every start, yielding one Event per chunk of steps.

    Returns the Dataset of :func:`run_trajectories`; when ``cancel`` is set it
    stops between chunks and returns the steps done so far with
    ``attrs["status"] == "cancelled"``.

    With an ``executor`` (:mod:`landscape.executor`) the starts are cut into batches of
    ``starts_per_task`` (default: one batch per Dask worker), each a pure task
    (:func:`trajectories_task`: every optimizer from its starts); events come per finished
    batch and the result numbers its runs as the whole batch would (optimizer-major), the same
    numbers in-process and on a cluster for the same batches.  With ``store`` (a zarr path) the
    starts always go in batches (in-process by default), each finished batch written to the store
    as it completes (:class:`landscape.stores.BatchStore`); a rerun with the same store and
    settings computes only the missing batches (``landscape.stores.resume`` from the store alone).
    """
    steps, chunk = optim.validate_settings("trajectories", steps=steps, chunk=chunk).values()
    resolved = resolve(optimizers)
    if not resolved:
        raise ValueError("no optimizers given")
    starts = jnp.atleast_2d(jnp.asarray(starts))
    if not jnp.issubdtype(starts.dtype, jnp.floating):
        starts = starts.astype(jnp.zeros(()).dtype)
    if starts.shape[1] != problem.dim:
        raise ValueError(f"starts must have shape (n, {problem.dim}), got {starts.shape}")
    if executor is not None or store is not None or starts_per_task is not None:
        return (yield from _batched_runs(problem, np.asarray(starts), resolved, steps, chunk, cancel, executor,
                                         starts_per_task, store))
    names = tuple(name for name, _ in resolved)
    hps = tuple({k: jnp.asarray(v, starts.dtype) for k, v in hp.items()} for _, hp in resolved)
    n_starts, n_runs = starts.shape[0], len(resolved) * starts.shape[0]
    limits.check("steps", steps)
    limits.check("runs", n_runs)

    init, _ = _kernels(problem, names, chunk)
    carries, record = init(starts, hps)
    buffers = {}  # the whole run in the inputs' dtype, NaN until computed; step 0 = the starts
    for key, value in zip(("theta", "loss", "grad_norm"), record):
        value = np.asarray(value)
        buffers[key] = np.full((n_runs, steps + 1, *value.shape[1:]), np.nan, dtype=value.dtype)
        buffers[key][:, 0] = value
    stop_step = _first_nonfinite(buffers["loss"][:, :1], 0, np.full(n_runs, steps + 1))
    classifier = is_classifier(problem)
    if classifier:
        for key in ("train_accuracy", "test_accuracy"):
            buffers[key] = np.full((n_runs, steps + 1), np.nan)
        buffers["train_accuracy"][:, :1], buffers["test_accuracy"][:, :1] = _accuracies(
            problem, buffers["theta"][:, :1], buffers["loss"][:, :1])
    config = {
        **problem.config(),
        "optimizers": [[name, hp] for name, hp in resolved],
        "n_starts": n_starts,
        "steps": steps,
        "chunk": chunk,
    }

    def dataset(length: int, status: str) -> xr.Dataset:
        return xr.Dataset(
            {
                "theta": (("run", "step", "param"), frozen(buffers["theta"][:, :length])),
                **{key: (("run", "step"), frozen(buffers[key][:, :length])) for key in buffers if key != "theta"},
                "diverged": (("run",), stop_step <= steps),
                "stop_step": (("run",), stop_step.astype(np.int64)),
            },
            coords={
                "optimizer": (("run",), np.repeat(np.array(names), n_starts)),
                "label": (("run",), np.repeat(np.array([label(n, hp) for n, hp in resolved]), n_starts)),
                "start": (("run",), np.tile(np.arange(n_starts), len(resolved))),
                "step": np.arange(length),
                "param": np.arange(problem.dim),
            },
            attrs=result_attrs("optimizer-trajectories", config, status=status, steps_done=done),
        )

    done, status = 0, "complete"
    while done < steps:
        if is_cancelled(cancel):
            status = "cancelled"
            break
        c = min(chunk, steps - done)
        carries, record = _kernels(problem, names, c)[1](carries, hps)
        chunk_records = [np.asarray(r) for r in record]
        stop_step = _first_nonfinite(chunk_records[1], done + 1, stop_step)
        for key, value in zip(("theta", "loss", "grad_norm"), chunk_records):
            buffers[key][:, done + 1: done + c + 1] = value
        if classifier:
            buffers["train_accuracy"][:, done + 1: done + c + 1], buffers["test_accuracy"][:, done + 1: done + c + 1] = (
                _accuracies(problem, chunk_records[0], chunk_records[1]))
        done += c
        yield Event("chunk", done, steps, dataset(steps + 1, "running"))
    return dataset(done + 1, status).copy(deep=True)  # writable, detached from the buffers


def trajectories_task(problem, starts: np.ndarray, optimizers, steps: int, chunk: int) -> xr.Dataset:
    """One batch of starts as a pure task (DESIGN.md "Scale-out"): :func:`run_trajectories` of every
    optimizer from ``starts``; ``problem`` a :class:`landscape.executor.ProblemRef`."""
    return run_trajectories(problem.resolve(), starts, optimizers, steps, chunk)


def _batched_runs(problem, starts, resolved, steps, chunk, cancel, executor, size, store):
    """:func:`iter_trajectories` on ``executor``: batches of starts, recombined optimizer-major."""
    from .executor import ProblemRef, batches, iter_batches
    from .stores import BatchStore

    ranges = batches(len(starts), size, executor)
    if store is not None:
        request = {**problem.config(), "optimizers": [[name, hp] for name, hp in resolved], "n_starts": len(starts),
                   "steps": steps, "chunk": chunk}
        inputs = xr.Dataset({"starts": (("start", "param"), starts)})
        store = BatchStore.open(store, result_attrs("optimizer-trajectories", request), inputs, ranges)
    ref = ProblemRef(problem)
    calls = [(i, (ref, starts[a:b], resolved, steps, chunk)) for i, (a, b) in enumerate(ranges)]
    return (yield from iter_batches(trajectories_task, calls, lambda done, status: combine_starts(done, ranges, status),
                                    executor=executor, cancel=cancel, store=store))


def combine_starts(done: dict[int, xr.Dataset], ranges, status: str) -> xr.Dataset:
    """The finished batches of starts (``{batch: Dataset}``, batch ``i`` over starts ``ranges[i]``) as
    one trajectories Dataset, runs numbered optimizer-major as one call over all starts would."""
    n_starts = ranges[-1][1]
    parts = []
    for i in sorted(done):
        part, offset = done[i], ranges[i][0]
        start = part.start.values + offset
        optimizer_index = part.run.values // (ranges[i][1] - offset)
        parts.append(part.assign_coords(run=optimizer_index * n_starts + start, start=("run", start)))
    ds = xr.concat(parts, dim="run", join="outer", data_vars="minimal", coords="minimal", compat="override",
                   combine_attrs="override").sortby("run").drop_vars("run")
    config = json.loads(ds.attrs["config"])
    ds.attrs.update(config=json.dumps({**config, "n_starts": n_starts}, sort_keys=True), status=status)
    return ds


def run_trajectories(
    problem: Problem,
    starts,
    optimizers: Sequence[tuple[str, HParams | None]],
    steps: int = 500,
    chunk: int = 50,
    cancel: CancelToken | None = None,
) -> xr.Dataset:
    """All optimizer × start trajectories as a Dataset over (run, step, param).

    Variables: ``theta (run, step, param)`` (step 0 = the start), ``loss (run,
    step)``, ``grad_norm (run, step)`` (‖∇L(θ_t)‖₂), ``diverged (run)`` and
    ``stop_step (run)`` (first non-finite step, or ``steps + 1``); coords
    ``optimizer``/``label``/``start`` per run, ``step``, ``param``; attrs from
    ``result_attrs("optimizer-trajectories", config)`` plus ``status``.  For a
    classifier (:func:`is_classifier`) also ``train_accuracy``/``test_accuracy (run, step)``.
    """
    return drive(iter_trajectories(problem, starts, optimizers, steps, chunk, cancel))


def run_summary(result: xr.Dataset, tolerance: float) -> xr.Dataset:
    """One row per run of an ``optimizer-trajectories`` result (kind ``"run-summary"``).

    ``final_loss``/``final_grad_norm``: at the last computed, finite step
    (``final_step``); ``steps_to_tolerance``: the first step ``t`` with
    ``‖∇L(θ_t)‖ ≤ tolerance`` (−1 if none); ``diverged``, and ``hyperparameters``,
    the run's optimizer settings as text (from ``attrs["config"]``).
    """
    if not tolerance > 0:
        raise ValueError(f"the gradient-norm tolerance must be a positive number, got {tolerance!r}")
    loss, grad = result.loss.values, result.grad_norm.values
    finite = np.isfinite(loss)
    has = finite.any(axis=1)
    last = np.where(has, loss.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1), 0)
    rows = np.arange(loss.shape[0])
    below = np.nan_to_num(grad, nan=np.inf) <= tolerance
    reached = np.where(below.any(axis=1), np.argmax(below, axis=1), -1)
    config = json.loads(result.attrs.get("config", "{}"))
    settings = [", ".join(f"{k}={v:g}" for k, v in hp.items()) for _, hp in config.get("optimizers", [])]
    per_optimizer = max(1, int(config.get("n_starts", 1)))
    return xr.Dataset(
        {
            "final_step": (("run",), result.step.values[last]),
            "final_loss": (("run",), np.where(has, loss[rows, last], np.nan)),
            "final_grad_norm": (("run",), np.where(has, grad[rows, last], np.nan)),
            "steps_to_tolerance": (("run",), np.where(reached >= 0, result.step.values[np.maximum(reached, 0)], -1)),
            "diverged": (("run",), result.diverged.values),
            "hyperparameters": (("run",), np.array([settings[r // per_optimizer] if r // per_optimizer < len(settings)
                                                    else "" for r in rows], dtype=object)),
        },
        coords={name: result[name] for name in ("optimizer", "label", "start") if name in result.coords},
        attrs=result_attrs("run-summary", {**config, "tolerance": float(tolerance)}, tolerance=float(tolerance)),
    )


def history_summary(results: Sequence[xr.Dataset], tolerance: float) -> xr.Dataset:
    """:func:`run_summary` of several launches concatenated over ``run``, with a ``launch`` number (1, 2, …) per row."""
    if not results:
        raise ValueError("no runs to summarise")
    parts = [run_summary(result, tolerance).assign_coords(launch=("run", np.full(result.sizes["run"], k + 1)))
             for k, result in enumerate(results)]
    return xr.concat(parts, dim="run", combine_attrs="override").assign_coords(run=np.arange(sum(
        part.sizes["run"] for part in parts)))
