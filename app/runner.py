"""Run the engine's streaming generators from a dashboard session.

DESIGN.md's concurrency recipe, in one place so every view follows it:

* Every ``next()`` of a ``landscape`` ``iter_*`` generator runs in one small
  *global* thread pool (:data:`MAX_CONCURRENT_STEPS` workers, overridable with
  the environment variable ``LANDSCAPE_MAX_JOBS``), never on the event loop.
  However many sessions press Run, a 2-core server computes at most that many
  chunks at once; the other jobs wait for a worker between chunks.
* Each finished chunk's :class:`landscape.jobs.Event` is handed to the view's
  ``on_event`` *on the session's event loop* (the coroutine is scheduled with
  ``pn.state.execute``, which also keeps the session's document current), so a
  view pushes into ``hv.streams.Pipe``/``Buffer`` there.
* One run per :class:`JobRunner` at a time; :meth:`JobRunner.cancel` sets the
  generator's :class:`~landscape.jobs.CancelToken` (the engine stops between
  chunks and returns its partial result); closing the browser tab cancels too.
* An exception raised by the engine ends the run with a readable ``message``
  (``"Error: ..."``); it never reaches the browser as a traceback.

Outside a server (tests, plain scripts) the same :meth:`JobRunner.start`
runs the job to the end before returning, and in a notebook it runs as a task
on the kernel's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import panel as pn
import param

from landscape.jobs import CancelToken, Event, Stream

log = logging.getLogger(__name__)

#: Most engine chunks computed at once by the whole server (all sessions).
MAX_CONCURRENT_STEPS = max(1, int(os.environ.get("LANDSCAPE_MAX_JOBS", "2")))

_EXECUTOR = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_STEPS, thread_name_prefix="landscape-job")

_DONE = object()


def _advance(stream: Stream) -> tuple[Any, Any]:
    """One ``next()`` of ``stream``: ``(event, None)`` or ``(_DONE, result)``."""
    try:
        return next(stream), None
    except StopIteration as stop:
        return _DONE, stop.value


class Throttle:
    """``ready()`` is true at most once per ``interval`` seconds (the first call included).

    Engine chunks of a small problem finish thousands of times a second; the
    browser only needs a few redraws a second, so views push to their plots
    (and the runner to its progress bar) only when ``ready()``, and once more
    at the end.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self._last = -float("inf")

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.interval:
            return False
        self._last = now
        return True


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return f"Error: {text}"


class JobRunner(param.Parameterized):
    """Drives one streaming engine job at a time for one view of one session.

    ``start(make_stream, on_event, on_done)``: ``make_stream(cancel)`` builds
    the generator (``lambda cancel: iter_trajectories(..., cancel=cancel)``),
    ``on_event(event)`` receives every :class:`~landscape.jobs.Event` and
    ``on_done(result)`` the generator's return value (partial, with
    ``attrs["status"] == "cancelled"``, after a cancel).  Both callbacks run on
    the session's event loop.
    """

    running = param.Boolean(default=False, constant=True, doc="A job is in progress.")
    progress = param.Number(default=0.0, bounds=(0, 1), constant=True, doc="Fraction done.")
    message = param.String(default="", doc="Status line: progress, result, cancel or error.")

    def __init__(self, **params):
        super().__init__(**params)
        self._token: CancelToken | None = None
        self._task_done: asyncio.Event | None = None
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.on_session_destroyed(lambda _context: self.cancel())

    # -- control ---------------------------------------------------------
    def start(
        self,
        make_stream: Callable[[CancelToken], Stream],
        on_event: Callable[[Event], None],
        on_done: Callable[[Any], None] | None = None,
    ) -> None:
        """Start a job; raises ``RuntimeError`` if one is already running."""
        if self.running:
            raise RuntimeError("a job is already running; cancel it first")
        token = CancelToken()
        self._token = token
        self._set(running=True, progress=0.0, message="Starting…")

        async def job() -> None:
            await self._run(token, make_stream, on_event, on_done)

        pn.state.execute(job)

    def cancel(self) -> None:
        """Ask the running job to stop after its current chunk."""
        if self._token is not None and self.running:
            self._token.cancel()
            self.message = "Cancelling…"

    # -- internals -------------------------------------------------------
    def _set(self, **values) -> None:
        with param.edit_constant(self):
            self.param.update(**values)

    async def _run(self, token, make_stream, on_event, on_done) -> None:
        loop = asyncio.get_running_loop()
        throttle = Throttle(0.2)
        fraction = 0.0
        try:
            stream = await loop.run_in_executor(_EXECUTOR, make_stream, token)
            while True:
                event, result = await loop.run_in_executor(_EXECUTOR, _advance, stream)
                if event is _DONE:
                    break
                fraction = min(1.0, max(0.0, event.fraction))
                if throttle.ready():
                    self._set(progress=fraction)
                    self.message = f"{event.done} / {event.total}"
                on_event(event)
        except Exception as error:  # engine or callback failure: report, never raise
            log.exception("job failed")
            self._set(running=False)
            self.message = _describe(error)
            return
        cancelled = token.cancelled
        try:
            if on_done is not None:
                on_done(result)
        except Exception as error:
            log.exception("on_done failed")
            self._set(running=False)
            self.message = _describe(error)
            return
        self._set(running=False, progress=fraction if cancelled else 1.0)
        self.message = f"Cancelled at {self.progress:.0%}" if cancelled else "Done"

    # -- widgets ---------------------------------------------------------
    def controls(self, on_run: Callable[[], None], label: str = "Run") -> pn.Row:
        """A Run/Cancel button, a progress bar and the status message.

        The button calls ``on_run()`` (which should call :meth:`start`) when
        idle and :meth:`cancel` while a job runs; its label follows.
        """
        button = pn.widgets.Button(label=label, color="primary", width=100)
        bar = pn.indicators.Progress(value=0, max=100, width=160, bar_color="primary", margin=(14, 10))
        status = pn.pane.Str("", margin=(12, 5))

        def click(_event) -> None:
            if self.running:
                self.cancel()
                return
            try:
                on_run()
            except (ValueError, RuntimeError) as error:
                self.message = _describe(error)

        def sync(*_events) -> None:
            button.label = "Cancel" if self.running else label
            button.color = "warning" if self.running else "primary"
            bar.value = int(round(100 * self.progress))
            status.object = self.message

        button.on_click(click)
        self.param.watch(sync, ["running", "progress", "message"])
        sync()
        return pn.Row(button, bar, status, sizing_mode="stretch_width")


class LatestCall(param.Parameterized):
    """Run short computations off the event loop, keeping only the latest.

    For quick follow-up work (a spectrum at a clicked point): ``submit(fn,
    on_result)`` runs ``fn()`` in the global pool and calls
    ``on_result(value)`` on the session's loop.  A submission made while one
    is in flight replaces any pending one, so rapid clicks never queue up.
    """

    busy = param.Boolean(default=False, constant=True)
    message = param.String(default="")

    def __init__(self, **params):
        super().__init__(**params)
        self._pending: tuple[Callable[[], Any], Callable[[Any], None]] | None = None

    def submit(self, fn: Callable[[], Any], on_result: Callable[[Any], None]) -> None:
        self._pending = (fn, on_result)
        if self.busy:
            return
        with param.edit_constant(self):
            self.busy = True
        pn.state.execute(self._drain)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending is not None:
                fn, on_result = self._pending
                self._pending = None
                try:
                    value = await loop.run_in_executor(_EXECUTOR, fn)
                    on_result(value)
                    self.message = ""
                except Exception as error:
                    log.exception("background call failed")
                    self.message = _describe(error)
        finally:
            with param.edit_constant(self):
                self.busy = False
