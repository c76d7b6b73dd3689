"""The cost of a run shown before it starts: count of evaluations and the measured time of one."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app import main
from app.components import cost
from app.runner import JobRunner
from landscape.jobs import Event

from . import own_models

ESTIMATE = re.compile(r"^Estimated (\d+) (loss evaluations|Hessian-vector products) × [\d.]+ (µs|ms|s) ≈ .+; compiling…$")


@pytest.fixture(scope="module")
def quadratic():
    return own_models.make_problem()


def test_estimate_names_the_count_and_the_time_of_one(quadratic):
    text = cost.estimate(quadratic, 2601)
    assert re.match(r"^2601 loss evaluations × [\d.]+ (µs|ms|s) ≈ ", text)
    assert cost.estimate(quadratic, 10, "hvp").startswith("10 Hessian-vector products × ")
    with pytest.raises(ValueError, match="cost kind must be one of loss, hvp"):
        cost.estimate(quadratic, 1, "flops")


def test_the_timed_hvp_is_a_hessian_vector_product(quadratic):
    fn, (theta, v) = cost._evaluation(quadratic, "hvp")
    x = np.linspace(-1.0, 1.0, 50)
    features = np.stack([x**2, x, np.ones_like(x)], axis=1)
    hessian = 2 * features.T @ features / len(x)  # of the mean squared error, exact
    np.testing.assert_allclose(fn(theta, v), hessian @ np.ones(3), rtol=1e-12)


def test_the_runner_shows_the_estimate_before_the_first_event():
    runner, messages = JobRunner(sync=True), []
    runner.param.watch(lambda event: messages.append(event.new), "message")

    def stream(cancel):
        yield Event(kind="probe", done=1, total=2)
        yield Event(kind="probe", done=2, total=2)
        return None

    runner.start(stream, lambda event: None, estimate=lambda: "4 loss evaluations × 1.0 ms ≈ 4.0 ms")
    assert messages[:2] == ["Compiling…", "Estimated 4 loss evaluations × 1.0 ms ≈ 4.0 ms; compiling…"]
    assert messages[-1] == "Done"


def test_a_network_slice_in_the_landscape_view_states_its_cost_first(quadratic, monkeypatch):
    views = []
    build = main.build_view
    monkeypatch.setattr(main, "build_view", lambda spec, state: views.append(build(spec, state)) or views[-1])
    messages = []
    main.show(quadratic)
    landscape = views[0]
    landscape.runner.param.watch(lambda event: messages.append(event.new), "message")
    landscape.mode.compute()
    estimates = [m for m in messages if m.startswith("Estimated")]
    assert len(estimates) == 1 and ESTIMATE.match(estimates[0])
    assert int(ESTIMATE.match(estimates[0]).group(1)) == landscape.resolution**2
    assert messages[-1] == "Done"
