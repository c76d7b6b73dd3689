"""Teleport seed studies as tasks of the executor seam (DESIGN.md "Scale-out").

Zhao et al. compare an optimizer with and without teleports over several
seeds (Sec. 5.1, Fig. 4) and train many models for the sharpness/curvature
correlations (Table 1).  In-process, :func:`.training.iter_train` vmaps all
seeds in one run; on a Dask executor (or with ``seeds_per_task``) each
batch of seeds of each arm is one pure task (:func:`train_task`: the problem
as a :class:`landscape.executor.ProblemRef`, the optimizer by name, the
schedule as its dataclass), all arms submitted at once, and the finished
batches are combined into the result of the whole study as they arrive
(:func:`combine_seeds`), the runs in seed order.  The same batches give the
same numbers in-process and on a cluster.  ``wall_time`` is the slowest
task's clock (tasks run side by side).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from ..executor import Executor, InProcess, ProblemRef, batches, iter_batches
from ..jobs import CancelToken, Stream
from ..problems.base import Problem
from .training import OPTIMIZERS, Schedule, train


def on_executor(executor: Executor | None, seeds_per_task: int | None) -> bool:
    """Whether a seed study goes in tasks: on a Dask executor, or when ``seeds_per_task`` is given
    (in-process without it, the seeds are vmapped in one run that streams per epoch)."""
    return seeds_per_task is not None or not (executor is None or isinstance(executor, InProcess))


def train_task(problem: ProblemRef, optimizer: str, schedule: Schedule, lr: float | None, seeds: tuple[int, ...],
               theta0: np.ndarray | None) -> xr.Dataset:
    """One batch of seeds of one arm as a pure task: :func:`.training.train` over ``seeds``."""
    return train(problem.resolve(), optimizer, schedule, lr=lr, seeds=seeds, theta0=theta0)


def combine_seeds(done: dict[int, xr.Dataset], ranges: Sequence[tuple[int, int]], seeds: Sequence[int],
                  status: str) -> xr.Dataset:
    """The finished batches (``{batch: Dataset}``, batch ``i`` over ``seeds[slice(*ranges[i])]``) as one
    training result, indexed by ``run`` (position in ``seeds``) so arms with different batches done
    align; ``wall_time`` is the slowest batch's."""
    parts = [done[i].assign_coords(run=np.arange(*ranges[i])) for i in sorted(done)]
    ds = xr.concat(parts, dim="run", data_vars="minimal", coords="minimal", compat="override", join="outer",
                   combine_attrs="override")
    ds["wall_time"] = ("epoch", np.max([part.wall_time.values for part in parts], axis=0))
    config = json.loads(ds.attrs["config"])
    ds.attrs.update(config=json.dumps({**config, "seeds": [int(s) for s in seeds]}, sort_keys=True), status=status)
    return ds


def iter_arms(problem: Problem, optimizer: str, schedules: dict[str, Schedule],
              finish: Callable[[dict[str, xr.Dataset], str], xr.Dataset], *, lr: float | None = None,
              seeds: Sequence[int] = (0,), theta0=None, executor: Executor | None = None,
              seeds_per_task: int | None = None, cancel: CancelToken | None = None) -> Stream[xr.Dataset]:
    """Train each arm (``{arm: schedule}``) over ``seeds`` in tasks of ``seeds_per_task`` seeds (default:
    one batch per Dask worker), every arm's tasks submitted at once.

    Yields an ``Event("batch", ...)`` per finished task whose ``partial`` is ``finish({arm: combined
    runs so far}, "running")``; returns ``finish(results, status)`` without the ``run`` index.
    """
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"a seed study on an executor takes the optimizer by name, one of {', '.join(OPTIMIZERS)}; "
                         f"got {optimizer!r}")
    seeds = [int(s) for s in seeds]
    ranges = batches(len(seeds), seeds_per_task, executor)
    ref = ProblemRef(problem)
    theta0 = None if theta0 is None else np.asarray(theta0)
    owners = [(arm, j) for arm in schedules for j in range(len(ranges))]
    calls = [(k, (ref, optimizer, schedules[arm], lr, tuple(seeds[slice(*ranges[j])]), theta0))
             for k, (arm, j) in enumerate(owners)]

    def combine(done: dict[int, xr.Dataset], status: str) -> xr.Dataset:
        results = {}
        for arm in schedules:
            mine = {j: done[k] for k, (owner, j) in enumerate(owners) if owner == arm and k in done}
            if mine:
                results[arm] = combine_seeds(mine, ranges, seeds, status)
        return finish(results, status).drop_vars("run")

    return (yield from iter_batches(train_task, calls, combine, executor=executor, cancel=cancel))
