"""Long computations as generators that stream progress and honour cancel.

Convention (DESIGN.md, "Long work is a generator"): every long computation has
an ``iter_*`` form, a generator that

* yields :class:`Event` records of finished work, one per chunk of roughly
  0.1-1 s of compute, each carrying the result so far (``Event.partial``, a
  Dataset of the final kind, numpy-backed, never jax arrays);
* checks ``cancel`` (a :class:`CancelToken` or ``None``) between chunks and,
  when it is set, stops early;
* *returns* its final result (an ``xarray.Dataset``; a cancelled run returns
  the partial result with ``attrs["status"] == "cancelled"``).

:func:`drive` runs such a generator to the end and hands back that return
value; the plain functions of the engine are ``drive(iter_x(...))``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import numpy as np

R = TypeVar("R")


class CancelToken:
    """A thread-safe flag a UI sets to stop a running generator between chunks."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def is_cancelled(cancel: CancelToken | None) -> bool:
    return cancel is not None and cancel.cancelled


@dataclasses.dataclass
class Event:
    """A record of finished work, with the result so far.

    kind: what just finished, in the generator's words (``"chunk"``, ``"root"``,
      ``"node"``, ``"epoch"``, ``"teleport"``, ...).
    done, total: progress in the generator's own units (steps, grid points,
      rides, epochs); ``total`` may grow (tree searches).
    partial: the result so far as an ``xarray.Dataset`` in its FINAL schema
      (the same ``attrs["kind"]``, variables and dims as the returned Dataset,
      checked by :func:`landscape.kinds.check`; ``attrs["status"] ==
      "running"``).  Not-yet-computed entries are NaN, or the streamed
      dimension holds only what is done so far (``step`` of a critical-point
      run, ``node`` of a tree, ``epoch`` of teleport training).  Its arrays
      may be read-only views of the generator's buffers that later events
      fill in: copy (``partial.copy(deep=True)``) to keep a snapshot.  A
      view renders the latest ``partial``; there is nothing else to
      accumulate (what a chunk added is in the partial: the newest tree
      node, the cells no longer NaN, a failed chunk's reason in
      ``attrs["failed_chunks"]``).
    """

    kind: str
    done: int
    total: int
    partial: Any = None  # xarray.Dataset | None (xarray is not imported here)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def frozen(array) -> np.ndarray:
    """A read-only numpy view of ``array`` (for partial results that share a live buffer)."""
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view


Stream = Generator[Event, None, R]


def drive(stream: Stream[R], on_event: Callable[[Event], None] | None = None) -> R:
    """Run a streaming computation to the end and return its result."""
    while True:
        try:
            event = next(stream)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)
