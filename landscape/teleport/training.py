"""Optimizers with teleports on a schedule (Zhao et al., Sec. 3.1, Sec. 5.1, App. G).

``iter_train(problem, optimizer, schedule)`` trains with any optax optimizer and
teleports at the epochs ``schedule.teleport_at`` (before that epoch's updates,
eq. 5); ``train`` is ``drive(iter_train(...))``.

* **Networks** (bias-free MLP problems such as ``mlp-digits`` with
  ``bias=False``): mini-batch training, shuffled per epoch, ``vmap``-ed over
  ``seeds`` (one initialisation and batch order per seed); each teleport uses
  ``teleport_batches`` fresh batches of ``teleport_batch_size`` training
  samples, one after the other (:mod:`.mlp`).  With ``objective="grad_norm_A"``
  the metric is AdaGrad's ``A = (ε + G)^{-1/2}`` read from the optimizer state
  (eq. 99).
* **2-D problems**: full-batch steps (one "epoch" = one step) and
  :func:`.surfaces.level_set` teleports.

Optimizer state at a teleport (App. G.1): ``"keep"`` leaves it as is,
``"reset"`` re-initialises it (what the authors' code does), ``"teleport"``
pushes the first-moment buffers (optax's momentum ``trace`` and Adam's ``mu``)
forward by the differential of the group action, as tangent vectors; second
moments are kept (networks only: a level-set move on a surface has no group
differential).
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr
from jax.flatten_util import ravel_pytree

from .. import limits, optim
from ..jobs import CancelToken, Event, Stream, drive, is_cancelled
from ..kernel_cache import KERNELS
from ..problems.base import Problem
from ..results import result_attrs
from .groups import cross_entropy, logits, weights_of
from .mlp import Config, teleport_weights
from .objectives import OBJECTIVES, PAPER_DISPLACEMENTS, make_probes
from .surfaces import level_set

STATE_MODES = ("keep", "teleport", "reset")

#: Optimizers by name: the catalogue's first-order optimizers (:mod:`landscape.optim`);
#: ``heavy-ball`` has the paper code's momentum 0.9 as its default.
OPTIMIZERS = optim.names("optimizer", needs_loss=False)

_FIRST_MOMENTS = ("trace", "mu")


@KERNELS("teleport.training.make_optimizer")
def make_optimizer(name: str, lr: float | None = None) -> optax.GradientTransformation:
    """A catalogue optimizer with learning rate ``lr`` (``None``: the catalogue's default) and its
    other defaults, validated by :func:`landscape.optim.build` (cached, so equal requests share
    compiled kernels)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    return optim.build(name, None if lr is None else {"lr": lr})


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When and how to teleport during training.

    ``steps``/``lr`` default to the paper's 10 steps at 5e-2 for networks and to
    :func:`.surfaces.level_set`'s defaults (200 steps) on 2-D problems.
    ``n_directions``/``n_curves`` size the sharpness and curvature probes.
    """

    epochs: int = 20
    teleport_at: tuple[int, ...] = (0,)
    batch_size: int = 20
    teleport_batches: int = 8
    teleport_batch_size: int = 200
    objective: str = "grad_norm"
    direction: int = 1
    steps: int | None = None
    lr: float | None = None
    cap: float = 100.0
    action: int = 2
    state: str = "keep"
    n_directions: int = 50
    n_curves: int = 5

    def __post_init__(self):
        if self.state not in STATE_MODES:
            raise ValueError(f"state must be one of {STATE_MODES}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}")
        object.__setattr__(self, "teleport_at", tuple(int(e) for e in self.teleport_at))


def _map_first_moments(state, fn):
    """Apply ``fn`` to every ``trace``/``mu`` field of an optax state (recursively)."""
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        fields = {f: (fn(getattr(state, f)) if f in _FIRST_MOMENTS else _map_first_moments(getattr(state, f), fn))
                  for f in state._fields}
        return type(state)(**fields)
    if isinstance(state, (tuple, list)):
        return type(state)(_map_first_moments(s, fn) for s in state)
    return state


def _first_moments(state) -> list:
    found = []
    _map_first_moments(state, lambda v: found.append(v) or v)
    return found


def _adagrad_metric(state, eps: float = 1e-7):
    """AdaGrad's ``A = (ε + G)^{-1/2}`` from the ``sum_of_squares`` in an optax state."""
    for leaf in jax.tree_util.tree_leaves(state, is_leaf=lambda s: hasattr(s, "sum_of_squares")):
        if hasattr(leaf, "sum_of_squares"):
            return jax.tree_util.tree_map(lambda g: jax.lax.rsqrt(g + eps), leaf.sum_of_squares)
    raise ValueError("objective 'grad_norm_A' needs an optimizer with AdaGrad's sum_of_squares (optax.adagrad)")


# --------------------------------------------------------------------------- networks


@KERNELS("teleport.training._network_kernels")
def _network_kernels(optimizer, activation: str, batch_size: int):
    """Compiled, seed-vmapped epoch and evaluation kernels for one optimizer."""

    def epoch(ws, opt_state, x, y, perm):
        batches = perm[: (perm.shape[0] // batch_size) * batch_size].reshape(-1, batch_size)

        def step(carry, idx):
            w, s = carry
            grads = jax.grad(cross_entropy)(w, x[idx], y[idx], activation)
            updates, s = optimizer.update(grads, s, w)
            return (optax.apply_updates(w, updates), s), None

        return jax.lax.scan(step, (ws, opt_state), batches)[0]

    def evaluate(ws, x, y, x_test, y_test):
        loss, grads = jax.value_and_grad(cross_entropy)(ws, x, y, activation)
        return {
            "train_loss": loss,
            "test_loss": cross_entropy(ws, x_test, y_test, activation),
            "grad_norm_sq": sum(jnp.sum(g**2) for g in grads),
            "train_accuracy": jnp.mean(jnp.argmax(logits(ws, x, activation), -1) == y),
            "test_accuracy": jnp.mean(jnp.argmax(logits(ws, x_test, activation), -1) == y_test),
        }

    return (
        jax.jit(jax.vmap(epoch, in_axes=(0, 0, None, None, 0))),
        jax.jit(jax.vmap(evaluate, in_axes=(0, None, None, None, None))),
        jax.jit(jax.vmap(optimizer.init)),
    )


@KERNELS("teleport.training._teleport_kernel")
def _teleport_kernel(config: Config):
    fn = functools.partial(teleport_weights, config=config)
    return jax.jit(jax.vmap(fn, in_axes=(0, 0, 0, 0, 0, 0, None, None, None)))


def _teleport_batches(key, n: int, batches: int, size: int):
    keys = jax.random.split(key, batches)
    return jax.vmap(lambda k: jax.random.permutation(k, n)[: min(size, n)])(keys)


def _iter_network(problem, optimizer, schedule, seeds, theta0, cancel, make):
    activation = problem.extras["activation"]
    data = problem.extras["data"]
    template = problem.unravel(jnp.zeros(problem.dim, jnp.result_type(float)))
    weights_of(template)  # refuses biases early
    dtype = jnp.result_type(float)
    x, y = jnp.asarray(data["x_train"], dtype), jnp.asarray(data["y_train"])
    x_test, y_test = jnp.asarray(data["x_test"], dtype), jnp.asarray(data["y_test"])
    seed_keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
    if theta0 is None:
        thetas = jax.vmap(problem.init)(seed_keys)
    else:
        thetas = jnp.broadcast_to(jnp.asarray(theta0, dtype), (len(seeds), problem.dim))
    ws = jax.vmap(lambda t: weights_of(problem.unravel(t)))(thetas)
    epoch_fn, eval_fn, init_fn = _network_kernels(optimizer, activation, schedule.batch_size)
    config = Config(schedule.objective, activation, schedule.action, schedule.steps or 10)
    tele_lr = 5e-2 if schedule.lr is None else schedule.lr
    opt_state = init_fn(ws)
    n = x.shape[0]

    records = {k: [] for k in ("train_loss", "test_loss", "grad_norm_sq", "train_accuracy", "test_accuracy")}
    wall, teleports = [], []
    start = time.perf_counter()

    def so_far(status):
        data_vars = {k: (("run", "epoch"), np.stack(v, axis=1)) for k, v in records.items()}
        data_vars["wall_time"] = ("epoch", np.asarray(wall))
        data_vars["final_theta"] = (("run", "param"), np.asarray(jax.vmap(lambda w: ravel_pytree(w)[0])(ws)))
        data_vars.update(_teleport_vars(teleports, len(seeds)))
        return make(data_vars, {"seed": ("run", list(seeds)), "epoch": np.arange(len(wall))}, status)

    def record(epoch):
        values = eval_fn(ws, x, y, x_test, y_test)
        for k, v in values.items():
            records[k].append(np.asarray(v))
        wall.append(time.perf_counter() - start)
        return Event("epoch", epoch, schedule.epochs, so_far("running"))

    yield record(0)
    status = "complete"
    for epoch in range(schedule.epochs):
        if is_cancelled(cancel):
            status = "cancelled"
            break
        if epoch in schedule.teleport_at:
            keys = jax.vmap(lambda k: jax.random.fold_in(k, 1_000_003 + epoch))(seed_keys)
            idx = jax.vmap(lambda k: _teleport_batches(k, n, schedule.teleport_batches, schedule.teleport_batch_size))(keys)
            probes = jax.vmap(lambda k: make_probes(k, tuple(w[0] for w in ws), schedule.n_directions,
                                                    PAPER_DISPLACEMENTS, schedule.n_curves))(keys)
            metric = _adagrad_metric(opt_state) if schedule.objective == "grad_norm_A" else tuple(jnp.ones_like(w) for w in ws)
            tangents = tuple(_first_moments(opt_state)) if schedule.state == "teleport" else ()
            before = eval_fn(ws, x, y, x_test, y_test)
            ws, tangents, stats = _teleport_kernel(config)(
                ws, tangents, x[idx], y[idx], probes, metric, tele_lr, schedule.direction, schedule.cap)
            if schedule.state == "reset":
                opt_state = init_fn(ws)
            elif schedule.state == "teleport":
                moved = iter(tangents)
                opt_state = _map_first_moments(opt_state, lambda _: next(moved))
            after = eval_fn(ws, x, y, x_test, y_test)
            event = {
                "epoch": epoch,
                "loss_before": np.asarray(before["train_loss"]),
                "loss_after": np.asarray(after["train_loss"]),
                "grad_norm_sq_before": np.asarray(before["grad_norm_sq"]),
                "grad_norm_sq_after": np.asarray(after["grad_norm_sq"]),
                "invariance_error": np.asarray(jnp.max(stats["invariance_error"], axis=1)),
                "objective_before": np.asarray(stats["objective"][:, 0, 0]),
                "objective_after": np.asarray(stats["objective"][:, -1, -1]),
            }
            teleports.append(event)
            yield Event("teleport", epoch, schedule.epochs, so_far("running"))
        perms = jax.vmap(lambda k: jax.random.permutation(jax.random.fold_in(k, epoch), n))(seed_keys)
        ws, opt_state = epoch_fn(ws, opt_state, x, y, perms)
        yield record(epoch + 1)

    return so_far(status)


def _teleport_vars(teleports, n_runs):
    names = ("loss_before", "loss_after", "grad_norm_sq_before", "grad_norm_sq_after", "invariance_error",
             "objective_before", "objective_after")
    out = {"teleport_epoch": ("teleport", np.asarray([t["epoch"] for t in teleports], dtype=int))}
    for name in names:
        stacked = np.stack([t[name] for t in teleports], axis=1) if teleports else np.zeros((n_runs, 0))
        out[name] = (("run", "teleport"), stacked)
    return out


# --------------------------------------------------------------------------- 2-D surfaces


@KERNELS("teleport.training._surface_kernel")
def _surface_kernel(problem, optimizer):
    def run(theta, opt_state, n):
        def step(carry, _):
            w, s = carry
            updates, s = optimizer.update(jax.grad(problem.loss)(w), s, w)
            w = optax.apply_updates(w, updates)
            return (w, s), w

        return jax.lax.scan(step, (theta, opt_state), None, n)

    return jax.jit(run, static_argnums=2)


def _iter_surface(problem, optimizer, schedule, seeds, theta0, cancel, make, chunk: int = 50):
    if schedule.state == "teleport":
        raise ValueError("state='teleport' needs a group differential; on 2-D problems use 'keep' or 'reset'")
    dtype = jnp.result_type(float)
    theta = problem.init(jax.random.PRNGKey(int(seeds[0]))) if theta0 is None else jnp.asarray(theta0, dtype)
    run = _surface_kernel(problem, optimizer)
    grad_sq = jax.jit(lambda w: jnp.sum(jax.grad(problem.loss)(w) ** 2))
    opt_state = optimizer.init(theta)
    path, teleports, tele_paths = [np.asarray(theta)], [], []
    start = time.perf_counter()
    wall = [0.0]
    losses, grad_sqs = [float(problem.loss(theta))], [float(grad_sq(theta))]

    def so_far(status):
        data_vars = {
            "theta": (("run", "epoch", "param"), np.asarray(path)[None]),
            "train_loss": (("run", "epoch"), np.asarray(losses)[None]),
            "grad_norm_sq": (("run", "epoch"), np.asarray(grad_sqs)[None]),
            "wall_time": ("epoch", np.asarray(wall)),
        }
        data_vars.update(_teleport_vars(teleports, 1))
        if tele_paths:
            data_vars["teleport_path"] = (("teleport", "step", "param"), np.stack(tele_paths))
        return make(data_vars, {"seed": ("run", [int(seeds[0])]), "epoch": np.arange(len(path)),
                                "param": ["x", "y"]}, status)

    done, status = 0, "complete"
    while done < schedule.epochs:
        if is_cancelled(cancel):
            status = "cancelled"
            break
        if done in schedule.teleport_at:
            kwargs = {k: v for k, v in (("steps", schedule.steps), ("lr", schedule.lr)) if v is not None}
            moved = level_set(problem, theta, direction=schedule.direction, **kwargs)
            new = jnp.asarray(moved.theta.values, dtype)
            l0, l1 = float(problem.loss(theta)), float(problem.loss(new))
            event = {
                "epoch": done,
                "loss_before": np.asarray([l0]),
                "loss_after": np.asarray([l1]),
                "grad_norm_sq_before": np.asarray([float(grad_sq(theta))]),
                "grad_norm_sq_after": np.asarray([float(grad_sq(new))]),
                "invariance_error": np.asarray([abs(l1 - l0) / abs(l0)]),
                "objective_before": np.asarray([float(grad_sq(theta))]),
                "objective_after": np.asarray([float(grad_sq(new))]),
                "path": moved.path.values,
            }
            theta = new
            if schedule.state == "reset":
                opt_state = optimizer.init(theta)
            teleports.append(event)
            tele_paths.append(moved.path.values)
            yield Event("teleport", done, schedule.epochs, so_far("running"))
        upcoming = [e for e in schedule.teleport_at if e > done]
        n = min(chunk, schedule.epochs - done, (min(upcoming) - done) if upcoming else chunk)
        (theta, opt_state), steps = run(theta, opt_state, n)
        path.extend(np.asarray(steps))
        done += n
        wall.extend([time.perf_counter() - start] * n)
        steps = np.asarray(steps)
        train_loss = np.asarray(jax.vmap(problem.loss)(steps))
        losses.extend(train_loss.tolist())
        grad_sqs.extend(np.asarray(jax.vmap(grad_sq)(steps)).tolist())
        yield Event("epoch", done, schedule.epochs, so_far("running"))

    return so_far(status)


# --------------------------------------------------------------------------- public


def iter_train(
    problem: Problem,
    optimizer: optax.GradientTransformation | str = "gd",
    schedule: Schedule = Schedule(),
    *,
    lr: float | None = None,
    seeds=(0,),
    theta0=None,
    cancel: CancelToken | None = None,
    executor=None,
    seeds_per_task: int | None = None,
) -> Stream[xr.Dataset]:
    """Train ``problem`` with ``optimizer`` and teleports per ``schedule``, streaming per epoch.

    ``optimizer`` is an optax transformation or a name of :data:`OPTIMIZERS`
    (with ``lr``; ``None``: the catalogue's default for that optimizer).  Yields
    ``Event("epoch", ...)`` after every epoch (2-D: every chunk of steps) and
    ``Event("teleport", ...)`` after every teleport, each with ``partial`` the Dataset so far (epochs and teleports done); returns a
    Dataset (kind ``"teleport-training"``, on 2-D problems
    ``"teleport-training-surface"``) with dims ``run`` (one per seed, coord
    ``seed``), ``epoch`` (0 = before training; on 2-D problems one epoch is
    one step) and ``teleport``: ``train_loss``,
    ``grad_norm_sq`` (full training set), ``wall_time`` (seconds since start,
    teleports included); networks add ``test_loss``, accuracies and
    ``final_theta (run, param)`` (flat, the problem's layout), 2-D
    problems ``theta`` and ``teleport_path``; per teleport ``teleport_epoch``,
    ``loss_before/after``, ``grad_norm_sq_before/after``,
    ``objective_before/after`` and ``invariance_error``.

    On networks with a Dask ``executor`` (or ``seeds_per_task``) the seeds go in tasks of
    ``seeds_per_task`` (:mod:`.seeds`), events come per finished task and ``optimizer`` must be a
    name; a 2-D problem has one run and stays in-process.
    """
    from .seeds import iter_arms, on_executor

    if problem.dim != 2 and on_executor(executor, seeds_per_task):
        return (yield from iter_arms(problem, optimizer, {"run": schedule}, lambda results, _: results["run"], lr=lr,
                                     seeds=seeds, theta0=theta0, executor=executor, seeds_per_task=seeds_per_task,
                                     cancel=cancel))
    limits.check("steps", schedule.epochs)
    limits.check("runs", len(seeds))
    opt_name = optimizer if isinstance(optimizer, str) else None
    if opt_name is not None:
        optimizer = make_optimizer(opt_name, lr)
        lr = optim.get(opt_name).defaults["lr"] if lr is None else float(lr)
    config = {**problem.config(), "optimizer": opt_name or "custom", "lr": lr if opt_name else None,
              "schedule": dataclasses.asdict(schedule), "seeds": [int(s) for s in seeds]}
    surface = problem.dim == 2
    kind = "teleport-training-surface" if surface else "teleport-training"

    def make(data_vars, coords, status):
        return xr.Dataset(data_vars, coords=coords, attrs=result_attrs(kind, config, status=status))

    if surface:
        gen = _iter_surface(problem, optimizer, schedule, seeds, theta0, cancel, make)
    elif "activation" in problem.extras and problem.unravel is not None:
        gen = _iter_network(problem, optimizer, schedule, seeds, theta0, cancel, make)
    else:
        raise ValueError(f"train needs a 2-D problem or a bias-free MLP problem, not {problem.name}")
    return (yield from gen)


def train(problem: Problem, optimizer="gd", schedule: Schedule = Schedule(), **kwargs) -> xr.Dataset:
    """``drive(iter_train(...))``: the whole run as one Dataset."""
    return drive(iter_train(problem, optimizer, schedule, **kwargs))


def epochs_to_reach(ds: xr.Dataset, target: float, variable: str = "train_loss") -> np.ndarray:
    """Per run (seed), the first epoch at which ``variable ≤ target`` (``nan`` if never)."""
    below = ds[variable].values <= target
    first = np.argmax(below, axis=1).astype(float)
    first[~below.any(axis=1)] = np.nan
    return first


_TELEPORT_DIM_VARS = ("teleport_epoch", "loss_before", "loss_after", "grad_norm_sq_before", "grad_norm_sq_after",
                      "invariance_error", "objective_before", "objective_after", "teleport_path")


def iter_compare(
    problem: Problem,
    optimizer: optax.GradientTransformation | str = "gd",
    schedule: Schedule = Schedule(),
    **kwargs,
) -> Stream[xr.Dataset]:
    """The same run without and with teleports (same seeds, starts and batch order), streamed.

    Events are those of :func:`iter_train` with progress counted over both
    runs and ``partial`` the comparison so far (arm ``"plain"``, then both).  The Dataset (kind
    ``"teleport-comparison"``, or ``"teleport-comparison-surface"`` on 2-D
    problems) stacks the per-epoch variables along ``arm`` and keeps the
    teleport records of the teleported run.  On networks with a Dask ``executor`` (or
    ``seeds_per_task``) both arms' batches of seeds are tasks submitted at once (:mod:`.seeds`),
    one event per finished task.
    """
    from .seeds import iter_arms, on_executor

    plain = dataclasses.replace(schedule, teleport_at=())
    executor, seeds_per_task = kwargs.pop("executor", None), kwargs.pop("seeds_per_task", None)
    if problem.dim != 2 and on_executor(executor, seeds_per_task):
        return (yield from iter_arms(problem, optimizer, {"plain": plain, "teleport": schedule}, _arms,
                                     executor=executor, seeds_per_task=seeds_per_task, **kwargs))
    results = {}
    for offset, (arm, sched) in enumerate((("plain", plain), ("teleport", schedule))):
        stream = iter_train(problem, optimizer, sched, **kwargs)
        while True:
            try:
                event = next(stream)
            except StopIteration as stop:
                results[arm] = stop.value
                break
            yield Event(event.kind, event.done + offset * schedule.epochs, 2 * schedule.epochs,
                        _arms({**results, arm: event.partial}, "running"))
        if results[arm].attrs["status"] == "cancelled":
            break
    cancelled = len(results) < 2 or results["teleport"].attrs["status"] == "cancelled"
    return _arms(results, "cancelled" if cancelled else "complete")


def _arms(results: dict[str, xr.Dataset], status: str) -> xr.Dataset:
    """Per-epoch variables of each arm's run stacked along ``arm``, plus the teleported run's records."""
    arms = list(results)
    per_epoch = [results[a].drop_vars([v for v in _TELEPORT_DIM_VARS if v in results[a]]) for a in arms]
    out = xr.concat(per_epoch, dim="arm", join="outer").assign_coords(arm=arms)
    if "teleport" in results:
        out = out.assign({v: results["teleport"][v] for v in _TELEPORT_DIM_VARS if v in results["teleport"]})
    out.attrs = dict(results[arms[-1]].attrs)
    out.attrs["kind"] = out.attrs["kind"].replace("teleport-training", "teleport-comparison")
    out.attrs["status"] = status
    return out


def compare(problem: Problem, optimizer="gd", schedule: Schedule = Schedule(), **kwargs) -> xr.Dataset:
    """``drive(iter_compare(...))``."""
    return drive(iter_compare(problem, optimizer, schedule, **kwargs))
