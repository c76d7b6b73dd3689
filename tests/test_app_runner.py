"""JobRunner: explicit sync/served modes, streaming, cancel, errors, one job per session, a global bound."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app import runner as runner_module
from app.runner import JobGroup, JobRunner, LatestCall, Progress, Throttle
from landscape.jobs import Event, is_cancelled


def counting(total, cancel=None, on_step=None):
    """A landscape-style stream: yields ``total`` events, returns how far it got."""
    for done in range(1, total + 1):
        if is_cancelled(cancel):
            return {"done": done - 1, "status": "cancelled"}
        if on_step is not None:
            on_step()
        yield Event("chunk", done, total, {"value": done})
    return {"done": total, "status": "complete"}


def test_start_outside_a_server_runs_to_the_end():
    job = JobRunner()
    assert job.sync  # the default outside `panel serve`, whether or not a loop runs
    seen, results = [], []
    job.start(lambda cancel: counting(4, cancel), lambda e: seen.append(e.done), results.append)
    assert seen == [1, 2, 3, 4]
    assert results == [{"done": 4, "status": "complete"}]
    assert not job.running and job.progress == 1.0 and job.message == "Done"


def test_cancel_stops_between_chunks_and_delivers_the_partial_result():
    job = JobRunner()
    results = []

    def on_event(event):
        if event.done == 2:
            job.cancel()

    job.start(lambda cancel: counting(10, cancel), on_event, results.append)
    assert results == [{"done": 2, "status": "cancelled"}]
    assert not job.running
    assert job.message == "Cancelled at 20%"


def test_engine_errors_become_a_message_not_an_exception():
    def failing(cancel):
        yield Event("chunk", 1, 3)
        raise FloatingPointError("loss became NaN at step 7")

    job = JobRunner()
    done = []
    job.start(failing, lambda e: None, done.append)
    assert done == []
    assert not job.running
    assert job.message == "Error: loss became NaN at step 7"


def test_one_job_at_a_time_and_controls_follow_the_state():
    async def scenario():
        job = JobRunner(sync=False)
        runs = []
        controls = job.controls(on_run=lambda: job.start(lambda c: slow(3, c), lambda e: None, runs.append))
        button = controls[0]
        button.clicks += 1  # Run
        assert job.running and button.label == "Cancel"
        with pytest.raises(RuntimeError):
            job.start(lambda c: slow(3, c), lambda e: None)
        button.clicks += 1  # Cancel
        while job.running:
            await asyncio.sleep(0.01)
        assert button.label == "Run"
        return runs

    def slow(total, cancel):
        for done in range(1, total + 1):
            time.sleep(0.05)
            if is_cancelled(cancel):
                return "cancelled"
            yield Event("chunk", done, total)
        return "complete"

    assert asyncio.run(scenario()) == ["cancelled"]


def test_global_bound_on_concurrent_chunks():
    bound = runner_module.MAX_CONCURRENT_STEPS
    lock = threading.Lock()
    active, peak = [0], [0]

    def busy_step():
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.03)
        with lock:
            active[0] -= 1

    async def scenario():
        jobs = [JobRunner(sync=False) for _ in range(bound + 3)]
        finished = []
        for job in jobs:
            job.start(lambda c: counting(4, c, busy_step), lambda e: None, finished.append)
        while any(job.running for job in jobs):
            await asyncio.sleep(0.01)
        return finished

    finished = asyncio.run(scenario())
    assert len(finished) == bound + 3
    assert all(result["status"] == "complete" for result in finished)
    assert peak[0] == bound  # jobs did overlap, but never beyond the bound


def test_latest_call_drops_superseded_submissions():
    async def scenario():
        call = LatestCall(sync=False)
        got = []
        started, gate = threading.Event(), threading.Event()

        def first():
            started.set()
            gate.wait(5)
            return "first"

        call.submit(first, got.append)
        while not started.is_set():  # let the loop hand `first` to a worker
            await asyncio.sleep(0.01)
        call.submit(lambda: "second", got.append)
        call.submit(lambda: "third", got.append)
        gate.set()
        while call.busy:
            await asyncio.sleep(0.01)
        return got

    assert asyncio.run(scenario()) == ["first", "third"]


def test_a_follow_up_submission_replaces_the_label_without_a_blank_between():
    """A click's spectrum: "Timing…", then (submitted from its result) "Computing…"; an empty message between
    hid the notice and showed it again, two page re-layouts before the click's feedback stayed up."""
    messages = []

    async def scenario():
        call = LatestCall(sync=False)
        call.param.watch(lambda event: messages.append(event.new), "message")
        call.submit(lambda: 2, lambda value: call.submit(lambda: value + 1, lambda _: None, "Computing…"), "Timing…")
        while call.busy:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert messages == ["Timing…", "Computing…", ""]


def test_throttle_lets_one_call_through_per_interval():
    throttle = Throttle(interval=60.0)
    assert [throttle.ready() for _ in range(3)] == [True, False, False]
    assert Throttle(interval=0.0).ready() and Throttle(interval=0.0).ready()


def test_sync_mode_is_explicit_and_does_not_depend_on_a_running_loop():
    async def inside_a_loop():
        job, call = JobRunner(sync=True), LatestCall(sync=True)
        seen, got = [], []
        job.start(lambda cancel: counting(3, cancel), lambda e: seen.append(e.done))
        call.submit(lambda: 42, got.append)
        return seen, got, job.message

    assert asyncio.run(inside_a_loop()) == ([1, 2, 3], [42], "Done")


def test_background_errors_are_shown_not_swallowed():
    call = LatestCall(sync=True)
    call.submit(lambda: 1 / 0, lambda value: None)
    assert call.message == "Error: division by zero"
    call.submit(lambda: 1, lambda value: None)
    assert call.message == ""


def test_callback_errors_end_the_job_with_a_message():
    job = JobRunner()
    job.start(lambda cancel: counting(3, cancel), lambda e: {}["missing"])
    assert not job.running and job.message == "Error: 'missing'"


def test_one_job_per_session_group():
    group = JobGroup()
    first, second = JobRunner(sync=False, group=group, name="Landscape"), JobRunner(sync=True, group=group)
    gate = threading.Event()

    def blocked(cancel):
        gate.wait(5)
        yield Event("chunk", 1, 1)

    async def scenario():
        first.start(blocked, lambda e: None)
        with pytest.raises(RuntimeError, match="the Landscape job of this session is running"):
            second.start(lambda cancel: counting(1, cancel), lambda e: None)
        gate.set()
        while first.running:
            await asyncio.sleep(0.01)
        second.start(lambda cancel: counting(1, cancel), lambda e: None)
        return second.message

    assert asyncio.run(scenario()) == "Done"


def test_a_job_waiting_for_the_global_bound_says_it_is_queued():
    bound = runner_module.MAX_CONCURRENT_STEPS
    gate = threading.Event()
    messages = []

    def hold(cancel):
        gate.wait(10)
        yield Event("chunk", 1, 1)

    async def scenario():
        holders = [JobRunner(sync=False) for _ in range(bound)]
        for job in holders:
            job.start(hold, lambda e: None)
        waiting = JobRunner(sync=False)
        waiting.param.watch(lambda event: messages.append(event.new), "message")
        waiting.start(lambda cancel: counting(2, cancel), lambda e: None)
        while not any(m.startswith("Queued") for m in messages):
            await asyncio.sleep(0.02)
        gate.set()
        while waiting.running or any(job.running for job in holders):
            await asyncio.sleep(0.02)

    asyncio.run(scenario())
    assert messages[0] == "Compiling…"
    assert f"Queued (0 ahead; this server runs jobs_per_server = {bound} at once)" in messages  # waits behind them
    assert messages[-1] == "Done"


def test_progress_reports_count_and_an_estimate_after_the_first_event():
    progress = Progress()
    assert progress.text == "Compiling…"
    progress.update(Event("chunk", 1, 10))
    assert progress.text == "1 / 10" and progress.fraction == 0.1
    time.sleep(0.01)
    progress.update(Event("chunk", 5, 10))
    assert progress.text.startswith("5 / 10 · ETA")


@pytest.mark.parametrize("sync", [True, False])
def test_prepare_runs_once_the_status_says_compiling_and_before_the_job(sync):
    """A view's page work for a new job (a plot reset) must not hold back its first feedback: served, it runs
    in a later tick than the click that started the job (whose "Compiling…" is sent when the click returns)."""
    order = []

    def stream(cancel):
        order.append("stream built")
        return counting(1, cancel)

    async def scenario():
        job = JobRunner(sync=sync)
        job.start(stream, lambda e: None, prepare=lambda: order.append(("prepare", job.message, job.running)))
        order.append("start returned")
        while job.running:
            await asyncio.sleep(0.02)

    asyncio.run(scenario())
    prepared = ("prepare", "Compiling…", True)
    assert order == ([prepared, "stream built", "start returned"] if sync else
                     ["start returned", prepared, "stream built"])
