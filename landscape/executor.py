"""The executor seam: sweeps as pure chunk tasks, run in-process or on a Dask cluster.

A sweep (a slice grid, a Lyapunov map, a residual map) is cut into chunks of
cells; each chunk is one call ``task(*args)`` of a module-level function that
returns ``{variable: values}`` (numpy) for its cells and touches no state.  An
executor runs the calls:

* :class:`InProcess` (the default, today's behaviour): one after another in
  this process, in order;
* :class:`DaskExecutor`: on a ``dask.distributed.Client`` (a ``LocalCluster``
  of worker processes, or any scheduler by address; :func:`make_executor`),
  results arriving in completion order.  A worker that dies is handled by the
  Dask scheduler, which reruns the tasks it held on another worker
  (``distributed.scheduler.allowed-failures``), so only in-flight chunks cost
  time.

Tasks carry the problem as a :class:`ProblemRef` (its registry name and
options, or a cloudpickled user problem), never a live jitted closure: the
worker rebuilds the problem once per process and the engine's compiled
kernels are cached there as they are here, so a chunk computes bit-for-bit
the same numbers on a worker as in-process (same dtype, same chunk shape).

:func:`run_chunks` is the loop every ``iter_*`` sweep shares: it skips chunks
a resumable store (``landscape.stores``) already holds, submits the rest,
writes each finished chunk to the store as it arrives, turns a task that
raises into a recorded failure (NaN cells plus a reason) and honours cancel.
:func:`iter_batches` is its form for many-run experiments (critical-point
experiments, trajectory batches): each task computes a batch of runs as a
whole result Dataset (stored whole, ``landscape.stores.BatchStore``), and the
batches are combined into one as they arrive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jax
import numpy as np

from .jobs import CancelToken, Event, frozen, is_cancelled

Values = dict[str, np.ndarray]


# --------------------------------------------------------------------------
# Shipping a problem to a worker
# --------------------------------------------------------------------------
class ProblemRef:
    """A picklable handle on a problem (or any callable, e.g. a custom loss).

    In the calling process :meth:`resolve` returns the live object itself.
    Only when the ref is shipped to a worker (pickled) is it encoded: by
    registry name and options when ``landscape.problems.get`` rebuilds a
    problem with the same config, else as a cloudpickled object; with the
    caller's ``jax_enable_x64`` so the worker computes in the same precision.
    """

    def __init__(self, obj) -> None:
        self._live = obj
        self._state: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        if self._state is None:
            self._state = _encode(self._live)
        return self._state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._live, self._state = None, state

    def resolve(self):
        """The object itself: live here, rebuilt (once per process) on a worker."""
        if self._live is not None:
            return self._live
        state = self._state
        if bool(jax.config.jax_enable_x64) != state["x64"]:
            jax.config.update("jax_enable_x64", state["x64"])
        if state["payload"] is not None:
            return _unpickled(hashlib.sha256(state["payload"]).hexdigest(), state["payload"])
        from .problems import registry

        return registry.get(state["name"], **json.loads(state["options"]))


def _encode(obj) -> dict[str, Any]:
    """Registry name and options when they rebuild ``obj``'s config, else cloudpickle bytes."""
    import cloudpickle

    from .problems import registry

    state = {"x64": bool(jax.config.jax_enable_x64), "name": None, "options": "{}", "payload": None}
    name = getattr(obj, "name", None)
    if name in registry.names() and callable(getattr(obj, "config", None)):
        try:
            options = json.dumps(dict(obj.options), sort_keys=True)
            rebuilt = registry.get(name, **json.loads(options))
        except (TypeError, ValueError):
            rebuilt = None
        if rebuilt is not None and rebuilt.config() == obj.config():
            return {**state, "name": name, "options": options}
    return {**state, "payload": cloudpickle.dumps(obj)}


_UNPICKLED: dict[str, Any] = {}


def _unpickled(digest: str, payload: bytes):
    """Unpickle once per process, so compiled-kernel caches keyed on the object keep hitting."""
    if digest not in _UNPICKLED:
        import cloudpickle

        _UNPICKLED[digest] = cloudpickle.loads(payload)
    return _UNPICKLED[digest]


# --------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------
@dataclasses.dataclass
class Outcome:
    """What became of chunk ``index``: its ``values``, or ``error`` (the reason) when the task raised."""

    index: int
    values: Values | None = None
    error: str | None = None
    cached: bool = False  # read back from a store, not computed


def failure_attrs(failures: dict[int, str]) -> dict[str, str]:
    """``{"failed_chunks": JSON {chunk: reason}}`` for a result whose tasks ``failures`` raised, else ``{}``."""
    if not failures:
        return {}
    return {"failed_chunks": json.dumps({str(i): reason for i, reason in sorted(failures.items())})}


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class InProcess:
    """Run chunk tasks one after another in this process (the default)."""

    description = "in-process"

    def run(self, task: Callable[..., Values], calls: Sequence[tuple[int, tuple]],
            cancel: CancelToken | None = None) -> Iterator[Outcome]:
        for index, args in calls:
            if is_cancelled(cancel):
                return
            try:
                yield Outcome(index, values=task(*args))
            except Exception as exc:  # a failing chunk is recorded, the sweep goes on
                yield Outcome(index, error=_reason(exc))


class DaskExecutor:
    """Run chunk tasks on a ``dask.distributed.Client``; outcomes arrive in completion order.

    Cancel (checked after each arrival) cancels every pending future; a chunk
    that finished is still yielded (and stored) rather than thrown away.
    """

    def __init__(self, client) -> None:
        self.client = client

    @property
    def description(self) -> str:
        workers = len(self.client.scheduler_info().get("workers", {}))
        return f"dask {self.client.scheduler.address} ({workers} workers)"

    def run(self, task: Callable[..., Values], calls: Sequence[tuple[int, tuple]],
            cancel: CancelToken | None = None) -> Iterator[Outcome]:
        from distributed import as_completed

        if not calls or is_cancelled(cancel):
            return
        futures = {self.client.submit(task, *args, pure=False): index for index, args in calls}
        pending = set(futures)
        try:
            for future in as_completed(list(futures)):
                pending.discard(future)
                try:
                    yield Outcome(futures[future], values=future.result())
                except Exception as exc:
                    yield Outcome(futures[future], error=_reason(exc))
                if is_cancelled(cancel):
                    return
        finally:
            if pending:
                self.client.cancel(list(pending))


Executor = InProcess | DaskExecutor


@contextlib.contextmanager
def make_executor(workers: int | None = None, scheduler: str | None = None,
                  dashboard: bool = False) -> Iterator[Executor]:
    """The executor for ``--workers N`` (a ``LocalCluster`` of N single-threaded processes),
    ``--scheduler ADDRESS`` (an existing cluster) or neither (in-process); closed on exit."""
    if workers is not None and scheduler is not None:
        raise ValueError("give either workers (a local cluster) or a scheduler address, not both")
    if scheduler is None and workers is None:
        yield InProcess()
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield DaskExecutor(client)
        return
    if workers < 1:
        raise ValueError(f"workers must be ≥ 1, got {workers}")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0" if dashboard else None) as cluster, Client(cluster) as client:
        yield DaskExecutor(client)


# --------------------------------------------------------------------------
# The sweep loop shared by every iter_* generator
# --------------------------------------------------------------------------
def chunk_ranges(n: int, chunk: int) -> list[tuple[int, int]]:
    """Flat ``[start, stop)`` cell ranges of ``chunk`` cells covering ``n`` cells."""
    chunk = max(1, int(chunk))
    return [(start, min(start + chunk, n)) for start in range(0, n, chunk)]


def run_chunks(task: Callable[..., Values], calls: Iterable[tuple[int, tuple]], *,
               executor: Executor | None = None, store=None,
               cancel: CancelToken | None = None) -> Iterator[Outcome]:
    """Run ``task(*args)`` for each ``(chunk index, args)``; yield each :class:`Outcome` as it finishes.

    With a ``store`` (a :class:`landscape.stores.SweepStore`), chunks it already
    holds are read back first (``cached=True``) and not computed; each new
    outcome is written to it before it is yielded.  The caller sets the
    store's final status.
    """
    executor = InProcess() if executor is None else executor
    calls = list(calls)
    todo = calls
    if store is not None:
        held = store.finished()
        for index, _ in calls:
            if index in held:
                yield store.read(index)
        todo = [(index, args) for index, args in calls if index not in held]
    for outcome in executor.run(task, todo, cancel):
        if store is not None:
            store.write(outcome)
        yield outcome



class Sweep:
    """Flat result arrays of a sweep, filled from chunk outcomes in whatever order they arrive.

    ``arrays`` maps each swept variable to its flat (C-order) cell array, NaN
    where not computed; ``ranges`` are the chunks' cell ranges.  A failed
    chunk leaves NaN cells and its reason in :attr:`failures`.
    """

    def __init__(self, arrays: dict[str, np.ndarray], ranges: Sequence[tuple[int, int]]) -> None:
        self.arrays = arrays
        self.ranges = list(ranges)
        self.total = self.ranges[-1][1] if self.ranges else 0
        self.done = 0
        self.failures: dict[int, str] = {}

    def apply(self, outcome: Outcome) -> None:
        """Put one outcome's values in place (NaN and its reason in :attr:`failures` if it failed)."""
        start, stop = self.ranges[outcome.index]
        if outcome.error is not None:
            self.failures[outcome.index] = outcome.error
        for name, array in self.arrays.items():
            array[start:stop] = np.nan if outcome.error is not None else np.asarray(outcome.values[name], dtype=float)
        self.done += stop - start

    @property
    def status(self) -> str:
        """``complete`` when every chunk has an outcome (failures included), else ``cancelled``."""
        return "complete" if self.done >= self.total else "cancelled"

    def attrs(self) -> dict[str, Any]:
        """The status attrs of the result: status, cells done and the failed chunks' reasons."""
        return {"status": self.status, "points_done": self.done, **failure_attrs(self.failures)}

    def partial(self, result):
        """``result`` (the Dataset these arrays fill in place) as the read-only partial of an
        ``Event``: the swept variables are read-only views (:func:`landscape.jobs.frozen`), the
        attrs say ``status="running"`` and the cells done so far."""
        view = result.copy(deep=False)
        for name in self.arrays:
            view[name] = result[name].copy(data=frozen(result[name].values))
        view.attrs = {**result.attrs, **self.attrs(), "status": "running"}
        return view

    def finish(self, store=None) -> dict[str, Any]:
        """Mark the store (if any) with the final status; returns :meth:`attrs`."""
        if store is not None:
            store.finish(self.status)
        return self.attrs()


# --------------------------------------------------------------------------
# Many-run experiments: batches of runs as tasks
# --------------------------------------------------------------------------
def batches(n: int, size: int | None, executor) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of ``size`` runs covering ``n`` runs; by default one batch per
    worker of a Dask executor (at least 2 runs a batch), one batch in-process."""
    if size is None:
        workers = len(executor.client.scheduler_info().get("workers", {})) if isinstance(executor, DaskExecutor) else 1
        size = max(2, -(-n // max(1, workers)))
    return chunk_ranges(n, size)


def iter_batches(task: Callable[..., Any], calls: Sequence[tuple[int, tuple]],
                 combine: Callable[[dict[int, Any], str], Any], *, executor: Executor | None = None,
                 cancel: CancelToken | None = None, store=None):
    """Run batch tasks (``task(*args)`` returns one batch's result Dataset) and stream their combination.

    Yields ``Event("batch", batches done, batches, partial)`` as batches finish (in completion
    order on Dask), ``partial = combine(finished, "running")`` with ``finished`` ``{index:
    Dataset}``; returns ``combine(finished, status)``, status ``complete`` or ``cancelled``, with the
    reasons of batches whose task raised in ``attrs["failed_chunks"]`` (their runs are absent).
    With a ``store`` (a :class:`landscape.stores.BatchStore`) the batches it holds are read back,
    not computed, each new one is written as it finishes, and the store gets the final status
    (and, complete, the combined result).
    """
    finished: dict[int, Any] = {}
    failures: dict[int, str] = {}
    for outcome in run_chunks(task, calls, executor=executor, store=store, cancel=cancel):
        if outcome.error is not None:
            failures[outcome.index] = outcome.error
        else:
            finished[outcome.index] = outcome.values
        if finished:
            yield Event("batch", len(finished) + len(failures), len(calls), combine(finished, "running"))
    if not finished:
        raise ValueError("every batch failed: " + "; ".join(sorted(set(failures.values()))))
    status = "complete" if len(finished) + len(failures) == len(calls) else "cancelled"
    result = combine(finished, status)
    result.attrs.update(failure_attrs(failures))
    if store is not None:
        store.finish(status, result)
    return result
