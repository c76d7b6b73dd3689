"""JobRunner: streaming, cancel, errors, one job per runner, a global bound on workers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app import runner as runner_module
from app.runner import JobRunner, LatestCall, Throttle
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
        job = JobRunner()
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
        jobs = [JobRunner() for _ in range(bound + 3)]
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
        call = LatestCall()
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


def test_throttle_lets_one_call_through_per_interval():
    throttle = Throttle(interval=60.0)
    assert [throttle.ready() for _ in range(3)] == [True, False, False]
    assert Throttle(interval=0.0).ready() and Throttle(interval=0.0).ready()
