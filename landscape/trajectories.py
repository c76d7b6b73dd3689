"""Optimizer trajectories: many optimizers from many starts in one compiled scan.

A request is a list of optimizers ``[(name, hparams), ...]`` and an array of
starts ``(n_starts, dim)``.  Runs are the product optimizer × start, ordered
``run = i_opt * n_starts + i_start``.  Each chunk of ``c`` steps of *every*
run is one call of one jitted function: per optimizer a ``jax.vmap`` over
starts of a ``lax.scan`` over steps.  Hyperparameters enter as traced
scalars, so changing a learning rate reuses the compiled code; the compiled
functions are cached per (problem, optimizer-name tuple, chunk length).

Update rules (θ parameters, g = ∇L(θ_t), all from optax except damped Newton):

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
  step produces Inf/NaN and the run is flagged as diverged.  It is written
  here as an ``optax.GradientTransformation`` (:func:`scale_by_damped_newton`)
  because optax has no Newton step.

Divergence: a run whose loss or parameters become non-finite at step t is
flagged (``diverged``), ``stop_step = t``, its parameters and optimizer state
are frozen at step t − 1 and every recorded entry from step t on is NaN; the
other runs continue unaffected.

Streaming (``landscape.jobs`` convention): :func:`iter_trajectories` yields an
``Event(kind="chunk")`` per chunk whose ``partial`` is the Dataset of
:func:`run_trajectories` over all ``steps + 1`` steps, NaN after the steps
done, and whose ``data["step"]`` lists the steps this chunk computed (the
first chunk also step 0).  LEGACY_DATA: ``data`` still carries the chunk's
``theta``, ``loss``, ``grad_norm`` and the running ``diverged``/``stop_step``
until the views render ``partial``; new code reads ``partial``.  It
returns the Dataset described in :func:`run_trajectories` (kind
``"optimizer-trajectories"``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from . import limits
from .curvature import hessian
from .jobs import CancelToken, Event, Stream, drive, frozen, is_cancelled
from .problems.base import Problem
from .results import result_attrs

Array = jax.Array
HParams = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """A named optimizer: its hyperparameters with defaults and a description.

    ``build(loss, hparams)`` returns the ``optax.GradientTransformation``;
    ``hparams`` values may be traced JAX scalars.
    """

    name: str
    defaults: dict[str, float]
    description: str
    build: Callable[[Callable[[Array], Array], HParams], optax.GradientTransformation] = dataclasses.field(
        repr=False, compare=False, default=None
    )


def scale_by_damped_newton(loss: Callable[[Array], Array], damping) -> optax.GradientTransformation:
    """Precondition the gradient by ``(∇²L(θ) + γI)⁻¹`` (dense Hessian, dense solve).

    Hand-written (optax has no Newton step); the update needs ``params``.
    Frye thesis §2.6.1, Algorithm 11, with one fixed damping γ and no merit search.
    """

    def init(params):
        return optax.EmptyState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_damped_newton needs params")
        h = hessian(loss, params)
        eye = jnp.eye(params.shape[0], dtype=params.dtype)
        return jnp.linalg.solve(h + damping * eye, updates), state

    return optax.GradientTransformation(init, update)


def _damped_newton(loss, hp):
    return optax.chain(scale_by_damped_newton(loss, hp["damping"]), optax.scale_by_learning_rate(hp["lr"]))


OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec(
            "gd", {"lr": 0.01}, "Gradient descent: θ ← θ − lr·∇L.",
            lambda loss, hp: optax.sgd(hp["lr"]),
        ),
        OptimizerSpec(
            "heavy-ball", {"lr": 0.01, "momentum": 0.9},
            "Polyak heavy ball: v ← ∇L + μv, θ ← θ − lr·v.",
            lambda loss, hp: optax.sgd(hp["lr"], momentum=hp["momentum"]),
        ),
        OptimizerSpec(
            "nesterov", {"lr": 0.01, "momentum": 0.9},
            "Nesterov momentum: v ← ∇L + μv, θ ← θ − lr·(∇L + μv).",
            lambda loss, hp: optax.sgd(hp["lr"], momentum=hp["momentum"], nesterov=True),
        ),
        OptimizerSpec(
            "adam", {"lr": 0.01, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
            "Adam (Kingma & Ba 2015) with bias correction.",
            lambda loss, hp: optax.adam(hp["lr"], b1=hp["b1"], b2=hp["b2"], eps=hp["eps"]),
        ),
        OptimizerSpec(
            "rmsprop", {"lr": 0.01, "decay": 0.9, "eps": 1e-8},
            "RMSProp (Hinton 2012): s ← decay·s + (1−decay)∇L², θ ← θ − lr·∇L/√(s + eps).",
            lambda loss, hp: optax.rmsprop(hp["lr"], decay=hp["decay"], eps=hp["eps"]),
        ),
        OptimizerSpec(
            "adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1, "eps": 1e-7},
            "AdaGrad (Duchi et al. 2011): s ← s + ∇L², θ ← θ − lr·∇L/√(s + eps).",
            lambda loss, hp: optax.adagrad(
                hp["lr"], initial_accumulator_value=hp["initial_accumulator_value"], eps=hp["eps"]
            ),
        ),
        OptimizerSpec(
            "damped-newton", {"lr": 1.0, "damping": 0.1},
            "Damped Newton (Frye Alg. 11, fixed γ): θ ← θ − lr·(∇²L + γI)⁻¹∇L; "
            "dense Hessian, small problems only.",
            _damped_newton,
        ),
    )
}


def resolve(optimizers: Sequence[tuple[str, HParams | None]]) -> list[tuple[str, dict[str, float]]]:
    """Fill in defaults and reject unknown optimizer names or hyperparameters."""
    resolved = []
    for name, hparams in optimizers:
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
        spec = OPTIMIZERS[name]
        unknown = set(hparams or {}) - set(spec.defaults)
        if unknown:
            raise ValueError(
                f"{name} has no hyperparameter(s) {', '.join(sorted(unknown))}; it takes {', '.join(spec.defaults)}"
            )
        resolved.append((name, {k: float(v) for k, v in {**spec.defaults, **(hparams or {})}.items()}))
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


@functools.lru_cache(maxsize=64)
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
        state = OPTIMIZERS[name].build(problem.loss, hp).init(theta)
        record = (_masked(ok, theta), _masked(ok, loss), _masked(ok, jnp.linalg.norm(g)))
        return (theta, g, state, ok), record

    def advance_one(name, hp, carry):
        opt = OPTIMIZERS[name].build(problem.loss, hp)

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
) -> Stream[xr.Dataset]:
    """Run every optimizer from every start, yielding one Event per chunk of steps.

    Returns the Dataset of :func:`run_trajectories`; when ``cancel`` is set it
    stops between chunks and returns the steps done so far with
    ``attrs["status"] == "cancelled"``.
    """
    if steps < 0 or chunk < 1:
        raise ValueError(f"need steps >= 0 and chunk >= 1, got steps={steps}, chunk={chunk}")
    resolved = resolve(optimizers)
    if not resolved:
        raise ValueError("no optimizers given")
    starts = jnp.atleast_2d(jnp.asarray(starts))
    if not jnp.issubdtype(starts.dtype, jnp.floating):
        starts = starts.astype(jnp.zeros(()).dtype)
    if starts.shape[1] != problem.dim:
        raise ValueError(f"starts must have shape (n, {problem.dim}), got {starts.shape}")
    names = tuple(name for name, _ in resolved)
    hps = tuple({k: jnp.asarray(v, starts.dtype) for k, v in hp.items()} for _, hp in resolved)
    n_starts, n_runs = starts.shape[0], len(resolved) * starts.shape[0]
    limits.check("steps", steps)
    limits.check("runs", n_runs)

    init, _ = _kernels(problem, names, chunk)
    carries, record = init(starts, hps)
    buffers = {  # the whole run, NaN until computed; step 0 = the starts
        "theta": np.full((n_runs, steps + 1, problem.dim), np.nan),
        "loss": np.full((n_runs, steps + 1), np.nan),
        "grad_norm": np.full((n_runs, steps + 1), np.nan),
    }
    for key, value in zip(buffers, record):
        buffers[key][:, 0] = np.asarray(value)
    stop_step = _first_nonfinite(buffers["loss"][:, :1], 0, np.full(n_runs, steps + 1))
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
                "loss": (("run", "step"), frozen(buffers["loss"][:, :length])),
                "grad_norm": (("run", "step"), frozen(buffers["grad_norm"][:, :length])),
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
        for key, value in zip(buffers, chunk_records):
            buffers[key][:, done + 1: done + c + 1] = value
        first = 0 if done == 0 else done + 1  # the first chunk also carries step 0
        done += c
        legacy = {key: buffers[key][:, first: done + 1].copy() for key in buffers}  # see LEGACY_DATA
        yield Event("chunk", done, steps, dataset(steps + 1, "running"),
                    {"step": np.arange(first, done + 1), **legacy,
                     "diverged": stop_step <= steps, "stop_step": stop_step.copy()})
    return dataset(done + 1, status).copy(deep=True)  # writable, detached from the buffers


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
    ``result_attrs("optimizer-trajectories", config)`` plus ``status``.
    """
    return drive(iter_trajectories(problem, starts, optimizers, steps, chunk, cancel))
