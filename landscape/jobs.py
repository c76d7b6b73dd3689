"""Long computations as generators that stream progress and honour cancel.

Convention (DESIGN.md, "Long work is a generator"): every long computation has
an ``iter_*`` form, a generator that

* yields :class:`Event` records of finished work holding numpy data (never jax
  arrays), one per chunk of roughly 0.1-1 s of compute;
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
    """A record of finished work.

    ``kind`` names what finished (``"chunk"``, ``"node"``, ``"ride"``, ...),
    ``done``/``total`` measure progress in the generator's own units, and
    ``data`` holds numpy arrays and plain Python values only.
    """

    kind: str
    done: int
    total: int
    data: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


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
