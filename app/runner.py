"""Run engine work from a dashboard session: off the event loop, bounded, with feedback.

DESIGN.md's concurrency recipe, in one place so every view follows it:

* **Two explicit modes.**  A runner is *synchronous* (``sync=True``: the
  script and test mode; :meth:`JobRunner.start` and :meth:`LatestCall.submit`
  run the work on the calling thread and return when it is finished, callbacks
  included) or *served* (``sync=False``: every step runs in the global pool and
  the callbacks on the session's event loop).  The default, ``sync=None``,
  means "served inside a ``panel serve`` session, synchronous anywhere else"
  (a view made in a notebook cell: ``view.run()`` returns when done) and is
  decided once, when the runner is made, never from whether an event loop
  happens to be running.  The inline dashboard (``app.show`` in a live Jupyter
  kernel, :func:`in_kernel`) asks for ``sync=False``: the kernel's event loop
  runs the callbacks, and the kernel stays free for Cancel, progress and other
  cells while a job runs.
* **A global bound.**  Every ``next()`` of a ``landscape`` ``iter_*``
  generator, every generator construction and every set-up computation (a
  surface grid, a problem build, a spectrum, a caption's loss value) runs in
  one small pool of :data:`MAX_CONCURRENT_STEPS` workers (environment variable
  ``LANDSCAPE_MAX_JOBS``), never on the event loop.  However many sessions
  press Run, a 2-core server computes at most that many chunks at once.
* **Feedback from the first second.**  ``message`` says ``"Queued (n ahead)"``
  while the bound makes the work wait, ``"Compiling…"`` until the first event
  (the first chunk includes XLA compilation), then ``"done / total · ETA"``;
  ``"Done"``, ``"Cancelled at p%"`` or ``"Error: …"`` at the end.
* **One job per session.**  Runners made with the same :class:`JobGroup` (the
  session's :attr:`app.state.AppState.jobs`) refuse to start while
  ``jobs_per_session`` others of the group run (default 1, the operator limit
  ``LANDSCAPE_MAX_JOBS_PER_SESSION``), with a message naming the running job
  and the limit.  Work over the server's bound waits in the queue; its
  ``"Queued"`` message names ``jobs_per_server`` and its value.
* **Errors are messages.**  Any exception from the engine or a callback ends
  the work with ``message = "Error: …"`` (logged server-side); none reaches
  the browser as a traceback, none is swallowed.
* **Teardown.**  When the session's browser tab closes
  (``pn.state.on_session_destroyed``) every runner of it cancels its job,
  drops pending work and stops delivering callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import panel as pn
import param

from landscape import limits
from landscape.jobs import CancelToken, Event, Stream

log = logging.getLogger(__name__)

#: Most engine chunks / set-up computations run at once by the whole server (all sessions): the operator
#: limit ``jobs_per_server`` (``LANDSCAPE_MAX_JOBS``, :mod:`landscape.limits`), read when the server starts.
MAX_CONCURRENT_STEPS = limits.get("jobs_per_server")

#: Seconds between status refreshes while a served step is waiting or computing.
POLL = 0.25

_DONE = object()


class BoundedPool:
    """A thread pool of ``workers`` threads that can tell a submission how many wait before it."""

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="landscape-job")
        self._lock = threading.Lock()
        self._waiting: set[int] = set()
        self._unfinished = 0
        self._tickets = itertools.count()

    def submit(self, fn: Callable[..., Any], *args) -> tuple[Future, int]:
        """Queue ``fn(*args)``; returns its future and its ticket (for :meth:`ahead`)."""
        ticket = next(self._tickets)
        with self._lock:
            self._waiting.add(ticket)
            self._unfinished += 1

        def work():
            with self._lock:
                self._waiting.discard(ticket)
            try:
                return fn(*args)
            finally:
                with self._lock:
                    self._unfinished -= 1

        return self._executor.submit(work), ticket

    def waiting(self, ticket: int) -> bool:
        with self._lock:
            return ticket in self._waiting

    def unfinished(self) -> int:
        """Submissions queued or running.  A running one holds what its function refers to (a destroyed
        session's view, say) until it returns: a worker thread's frame is not seen by the garbage collector."""
        with self._lock:
            return self._unfinished

    def ahead(self, ticket: int) -> int:
        """Submissions queued before ``ticket`` that have not started yet."""
        with self._lock:
            return sum(1 for other in self._waiting if other < ticket)


POOL = BoundedPool(MAX_CONCURRENT_STEPS)


def served() -> bool:
    """Whether this code runs inside a ``panel serve`` session (not a notebook, script or test)."""
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def in_kernel() -> bool:
    """Whether this code runs in a live Jupyter kernel (a notebook; an IPython shell without a kernel is not one)."""
    ipython = sys.modules.get("IPython")  # never imported here: a script or test without it is not in a kernel
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


_BUILDING = threading.local()


@contextlib.contextmanager
def building_on(loop: asyncio.AbstractEventLoop):
    """Build a view in a worker thread for a session whose event loop is ``loop``.

    Runners and background calls made (or started) inside schedule their
    coroutines onto ``loop`` thread-safely instead of onto this thread.
    """
    _BUILDING.loop = loop
    try:
        yield
    finally:
        _BUILDING.loop = None


def building() -> bool:
    """Whether this thread builds a view for a session (inside :func:`building_on`)."""
    return getattr(_BUILDING, "loop", None) is not None


def schedule(coroutine_function: Callable[[], Any]) -> None:
    """Run ``coroutine_function()`` on the session's event loop (from the loop or a view-building worker)."""
    loop = getattr(_BUILDING, "loop", None)
    if loop is not None:  # the callback runs in a copy of this thread's context: pn.state.curdoc included
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(coroutine_function()))
    else:
        pn.state.execute(coroutine_function)


async def in_pool(fn: Callable[..., Any], *args, waiting: Callable[[int], None] | None = None) -> Any:
    """``fn(*args)`` in the global pool, awaited; ``waiting(n_ahead)`` is called while it is queued."""
    future, ticket = POOL.submit(fn, *args)
    wrapped = asyncio.wrap_future(future)
    while True:
        done, _ = await asyncio.wait({wrapped}, timeout=POLL)
        if done:
            return wrapped.result()
        if waiting is not None and POOL.waiting(ticket):
            waiting(POOL.ahead(ticket))


def queued_message(ahead: int) -> str:
    """What a job waiting for the server's bound shows: its place and the limit that holds it."""
    return f"Queued ({ahead} ahead; this server runs jobs_per_server = {MAX_CONCURRENT_STEPS} at once)"


def describe(error: BaseException) -> str:
    """The one-line message shown for a failure: ``"Error: <what went wrong>"``."""
    text = str(error).strip() or type(error).__name__
    return f"Error: {text}"


def report(what: str, error: BaseException) -> None:
    """Log a failure shown to the user: a refusal (``ValueError``: bad input, a limit) in one line,
    anything else (a bug) with its traceback."""
    if isinstance(error, ValueError):
        log.info("%s refused: %s", what, error)
    else:
        log.error("%s failed", what, exc_info=error)


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
    only when ``ready()``, and once more at the end.
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


class Progress:
    """``"done / total · ETA 12 s"`` from the events so far (rate measured from the first event)."""

    def __init__(self) -> None:
        self._first: tuple[float, float] | None = None
        self.text = "Compiling…"
        self.fraction = 0.0

    def update(self, event: Event) -> None:
        now, fraction = time.monotonic(), min(1.0, max(0.0, event.fraction))
        self.fraction = fraction
        if self._first is None:
            self._first = (now, fraction)
        start, at = self._first
        eta = ""
        if fraction > at and fraction < 1:
            left = (now - start) * (1 - fraction) / (fraction - at)
            eta = f" · ETA {left:.0f} s" if left >= 1 else " · ETA <1 s"
        self.text = f"{event.done} / {event.total}{eta}"


class _Session:
    """What a runner needs to stop cleanly when its browser session closes."""

    def __init__(self, sync: bool | None, on_close: Callable[[], None]) -> None:
        self.sync = (not served()) if sync is None else bool(sync)
        self.closed = False
        if served():

            def destroyed(_context) -> None:
                self.closed = True
                on_close()

            pn.state.on_session_destroyed(destroyed)


class JobGroup:
    """The runners of one session: at most ``jobs_per_session`` of them run a job at a time (DESIGN.md)."""

    def __init__(self) -> None:
        self.members: list[JobRunner] = []

    def refuse_another(self, runner: JobRunner) -> None:
        """``RuntimeError`` naming the running job and the limit if ``runner`` may not start now."""
        running = [other for other in self.members if other is not runner and other.running]
        bound = limits.get("jobs_per_session")
        if len(running) >= bound:
            raise RuntimeError(
                f"the {running[0].name} job of this session is running; cancel it first (jobs_per_session = "
                f"{bound}: jobs one session runs at once; the operator sets it with "
                f"{limits.LIMITS['jobs_per_session'].env})"
            )


class JobRunner(param.Parameterized):
    """Drives one streaming engine job at a time for one view of one session.

    ``start(make_stream, on_event, on_done)``: ``make_stream(cancel)`` builds
    the generator (``lambda cancel: iter_trajectories(..., cancel=cancel)``;
    it runs in the pool too, so it may compile), ``on_event(event)`` receives
    every :class:`~landscape.jobs.Event` and ``on_done(result)`` the
    generator's return value (partial, ``attrs["status"] == "cancelled"``,
    after a cancel).  Served, both callbacks run on the session's event loop;
    synchronous, on the caller's thread before :meth:`start` returns.
    """

    running = param.Boolean(default=False, constant=True, doc="A job is in progress.")
    progress = param.Number(default=0.0, bounds=(0, 1), constant=True, doc="Fraction done.")
    message = param.String(default="", doc="Status line: queued, compiling, progress, result, cancel or error.")
    name = param.String(default="job", doc="What the job is called in another runner's refusal.")

    def __init__(self, sync: bool | None = None, group: JobGroup | None = None, **params):
        super().__init__(**params)
        self._session = _Session(sync, self.cancel)
        self.group = group
        if group is not None:
            group.members.append(self)
        self._token: CancelToken | None = None
        self._estimate: Callable[[], str] | None = None

    @property
    def sync(self) -> bool:
        """Whether :meth:`start` runs the job to the end before returning."""
        return self._session.sync

    # -- control ---------------------------------------------------------
    def start(
        self,
        make_stream: Callable[[CancelToken], Stream],
        on_event: Callable[[Event], None],
        on_done: Callable[[Any], None] | None = None,
        estimate: Callable[[], str] | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        """Start a job; ``RuntimeError`` if this runner (or another of its group) is running one.

        ``estimate()`` (optional; runs in the pool, before the stream is built) says what the job
        will cost, e.g. ``"961 loss evaluations × 2.1 ms ≈ 2 s"``; shown until the first event.
        ``prepare()`` (optional) readies the page for the job's results (a plot reset): it runs after
        the status line says "Compiling…" and before the job's first work; served, on the session's
        loop in a later tick than this call, so that status reaches the browser first (a plot rebuilt
        in the click handler held it back for seconds on a loaded server)."""
        if self.running:
            raise RuntimeError("a job is already running; cancel it first")
        if self.group is not None:
            self.group.refuse_another(self)
        token = CancelToken()
        self._token = token
        self._set(running=True, progress=0.0)
        self.message = "Compiling…"
        self._estimate = estimate
        if self.sync:
            self._run_sync(token, make_stream, on_event, on_done, prepare)
        else:

            async def job() -> None:
                await self._run_served(token, make_stream, on_event, on_done, prepare)

            schedule(job)

    def cancel(self) -> None:
        """Ask the running job to stop after its current chunk."""
        if self._token is not None and self.running:
            self._token.cancel()
            self.message = "Cancelling…"

    # -- internals -------------------------------------------------------
    def _set(self, **values) -> None:
        with param.edit_constant(self):
            self.param.update(**values)

    def _finish(self, token: CancelToken, progress: Progress, error: BaseException | None) -> None:
        # the message first: a watcher of `running` may start the next job (and set its own message)
        if error is not None:
            report(f"{self.name} job", error)
            self.message = describe(error)
            self._set(running=False)
            return
        fraction = progress.fraction if token.cancelled else 1.0
        self.message = f"Cancelled at {fraction:.0%}" if token.cancelled else "Done"
        self._set(running=False, progress=fraction)

    def _show(self, progress: Progress, event: Event, throttle: Throttle) -> None:
        progress.update(event)
        if throttle.ready():
            self._set(progress=progress.fraction)
            self.message = progress.text

    def _run_sync(self, token, make_stream, on_event, on_done, prepare=None) -> None:
        progress, throttle = Progress(), Throttle(0.2)
        try:
            if prepare is not None:
                prepare()
            if self._estimate is not None:
                self.message = progress.text = f"Estimated {self._estimate()}; compiling…"
            stream = make_stream(token)
            while True:
                event, result = _advance(stream)
                if event is _DONE:
                    break
                self._show(progress, event, throttle)
                on_event(event)
            if on_done is not None:
                on_done(result)
        except Exception as error:
            self._finish(token, progress, error)
            return
        self._finish(token, progress, None)

    async def _run_served(self, token, make_stream, on_event, on_done, prepare=None) -> None:
        progress, throttle = Progress(), Throttle(0.2)

        def queued(ahead: int) -> None:
            self.message = queued_message(ahead)

        try:
            if prepare is not None:
                prepare()
            if self._estimate is not None:
                progress.text = f"Estimated {await in_pool(self._estimate, waiting=queued)}; compiling…"
            stream = await in_pool(make_stream, token, waiting=queued)
            self.message = progress.text
            while not self._session.closed:
                event, result = await in_pool(_advance, stream, waiting=queued)
                if event is _DONE or self._session.closed:
                    break
                self._show(progress, event, throttle)
                on_event(event)
            if on_done is not None and not self._session.closed:
                on_done(result)
        except Exception as error:  # engine or callback failure: report, never raise
            self._finish(token, progress, error)
            return
        self._finish(token, progress, None)

    # -- widgets ---------------------------------------------------------
    def controls(self, on_run: Callable[[], None], label: str = "Run") -> pn.Row:
        """A Run/Cancel button, a progress bar and the status message.

        The button calls ``on_run()`` (which should call :meth:`start`) when
        idle and :meth:`cancel` while a job runs; its label follows.  Any
        exception ``on_run`` raises becomes the status message.
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
            except Exception as error:
                log.info("run refused: %s", error)
                self.message = describe(error)

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
    """Short computations off the event loop, keeping only the latest.

    For set-up and follow-up work (a surface grid, a spectrum at a clicked
    point, a caption's loss value): ``submit(fn, on_result)`` runs ``fn()``
    in the global pool and calls ``on_result(value)`` on the session's loop
    (synchronous mode: both at once, on the caller's thread).  A submission
    made while one is in flight replaces any pending one, so rapid clicks
    never queue up.  ``message`` shows ``"Queued (n ahead)"`` /
    ``"Compiling…"`` while it waits or computes, and ``"Error: …"`` if it failed.
    """

    busy = param.Boolean(default=False, constant=True)
    message = param.String(default="")

    def __init__(self, sync: bool | None = None, **params):
        super().__init__(**params)
        self._session = _Session(sync, self._drop)
        self._pending: tuple[Callable[[], Any], Callable[[Any], None], str] | None = None

    @property
    def sync(self) -> bool:
        return self._session.sync

    def _drop(self) -> None:
        self._pending = None

    def submit(self, fn: Callable[[], Any], on_result: Callable[[Any], None], label: str = "Compiling…") -> None:
        """Run ``fn()`` off the loop and hand its value to ``on_result``; ``label`` is shown meanwhile."""
        if self.sync:
            try:
                on_result(fn())
                self.message = ""
            except Exception as error:
                report("background call", error)
                self.message = describe(error)
            return
        self._pending = (fn, on_result, label)
        if self.busy:
            return
        with param.edit_constant(self):
            self.busy = True
        schedule(self._drain)

    async def _drain(self) -> None:
        def queued(ahead: int) -> None:
            self.message = queued_message(ahead)

        try:
            while self._pending is not None and not self._session.closed:
                fn, on_result, label = self._pending
                self._pending = None
                self.message = label
                try:
                    value = await in_pool(fn, waiting=queued)
                    if not self._session.closed:
                        on_result(value)
                    if self._pending is None:  # a follow-up (on_result submitted one) shows its own label next:
                        self.message = ""  # no blank between (each hide/show of the notice re-lays out the page)
                except Exception as error:
                    report("background call", error)
                    self.message = describe(error)
        finally:
            with param.edit_constant(self):
                self.busy = False
