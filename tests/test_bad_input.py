"""Hostile settings in every view are answered in the view, never by a traceback (issue 14 item 5).

Hypothesis drives each view's public settings (``settings_params``) with
values a careless user or a forged client sends: NaN, ±inf, 1e308, 0,
negative counts, huge integers, strings where numbers go, wrong containers.
A value is applied the way a widget applies it (``view.param.update``), then
Run is pressed through the runner's own Run button.  Each trial must end one
of three ways, with no exception escaping and nothing logged as an error:

* **refused**: ``param`` rejects the value (a widget would not send it; a
  forged one is turned into a message by :mod:`app.guard`);
* **message**: the run is refused with ``"Error: ..."`` in the view's status
  line naming the setting and what is allowed (the engine's validation in
  :mod:`landscape.optim` / :mod:`landscape.limits`, or the view's ``check``);
* **ran**: the value was valid (finite) and the run finished.

Then the view's valid settings are restored and the next run must finish.
Small operator limits keep every accepted run short.  Run with ``-s`` to see
the figures (trials, refusals, messages, runs per view).
"""

from __future__ import annotations

import collections
import logging
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.state import AppState
from app.views.coordination import CoordinationView
from app.views.critical_points import CriticalPointsView
from app.views.games import GamesView
from app.views.landscape import LandscapeView
from app.views.ridge_rider import RidgeRiderView
from app.views.teleport import TeleportView
from landscape.problems import get

TIGHT_LIMITS = {"LANDSCAPE_MAX_STEPS": "400", "LANDSCAPE_MAX_RUNS": "16", "LANDSCAPE_MAX_GRID_CELLS": "400",
                "LANDSCAPE_MAX_HEATMAP_RESOLUTION": "20", "LANDSCAPE_MAX_TREE_NODES": "8"}

NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 0, 0.0, -1, -7, 10**30, 10**400, 5e-324, -0.0, 3]
WRONG_TYPES = ["abc", "1e3", "", None, [1, 2], {"a": 1}, (), True, object()]
PER_KIND = {  # hostile values shaped like the setting they target
    "hparams": [{"gd": {"lr": math.nan}}, {"gd": {"lr": 1e308}}, {"gd": {"lr": -1}}, {"gd": {"nope": 1}},
                {"nope": {}}, {"gd": "fast"}, {"adam": {"b1": math.inf}}],
    "optimizers": [[], ["nope"], "gd", ["gd", "gd"]],
    "end_rules": [[], ["nope"], "none"],
}


def _views():
    """One small, valid, fast instance of each view: name -> (view, Run)."""
    landscape = LandscapeView(problem=AppState(problem_name="himmelblau").problem, optimizers=["gd"], steps=30, chunk=10)
    landscape.add_start(0.0, 0.0)
    games = GamesView(state=AppState(problem_name="matching-pennies"), rule="simgd", steps=20, resolution=6,
                      chunk=12, k=3, grr_steps=20)
    return {
        "landscape": landscape,
        "critical_points": CriticalPointsView(problem=AppState(problem_name="frye-quartic").problem, num_runs=2, steps=20),
        "ridge_rider": RidgeRiderView(state=AppState(problem_name="rr-demo"), n_ridges=1, max_depth=1, max_nodes=2,
                                      max_steps=40),
        "games": games,
        "teleport": TeleportView(state=AppState(problem_name="booth"), epochs=5),
        # three levers of distinct payoff: no relabelling, so the runs share one compilation
        "coordination": CoordinationView(problem=get("lever-game", payoffs=[1.0, 0.8, 0.6]), n_runs=2, n_ridges=1),
    }


@pytest.fixture(scope="module")
def views():
    saved = {name: os.environ.get(name) for name in TIGHT_LIMITS}
    os.environ.update(TIGHT_LIMITS)
    built = _views()
    figures: dict[str, collections.Counter] = {name: collections.Counter() for name in built}
    yield built, figures
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    print("\nbad-input figures (trials: refused by the setting / message in the view / ran; exceptions escaped):")
    for name, counts in figures.items():
        print(f"  {name:<16} {sum(counts[k] for k in ('refused', 'message', 'ran')):>3} trials: "
              f"{counts['refused']} refused, {counts['message']} messages, {counts['ran']} ran; "
              f"{counts['escaped']} exceptions escaped")
        for message in sorted(set(counts.elements()) - {"refused", "message", "ran", "escaped"}):
            print(f"    {message}")


def press_run(view) -> str:
    """Press the view's Run button (the runner's controls, as in the page) and return the status line."""
    controls = view.runner.controls(on_run=view.run)
    controls[0].clicks += 1
    return view.runner.message


class ErrorLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _non_finite(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def hostile(name: str):
    return st.sampled_from(NUMBERS + WRONG_TYPES + PER_KIND.get(name, []))


def _trial(view, figures, name, value):
    valid = view.settings()
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        try:
            view.param.update(**{name: value})
        except (ValueError, TypeError):
            figures["refused"] += 1
            return
        status = press_run(view)
        assert not view.runner.running
        if status.startswith("Error:"):
            figures["message"] += 1
            figures[f"{name}={value!r:.24}: {status}"] += 1
            assert errors.records == [], f"{name}={value!r}: logged as an error (a traceback in the server log)"
            words = {name, name.replace("_", " "), name.rstrip("s"), *name.split("_")}
            assert any(w in status for w in words) or "limit" in status, f"{name}={value!r}: unclear: {status}"
        else:
            assert status == "Done", f"{name}={value!r}: {status}"
            if _non_finite(value):  # only a setting this run does not use may hold it: it never reached the engine
                config = view.result.attrs.get("config", "")
                assert "NaN" not in config and "Infinity" not in config, f"{name}={value!r} ran: not refused"
            figures["ran"] += 1
    except Exception:
        figures["escaped"] += 1
        raise
    finally:
        logging.getLogger().removeHandler(errors)
        view.restore(valid)
    assert press_run(view) == "Done", f"the next valid run after {name}={value!r} failed: {view.runner.message}"


@pytest.mark.parametrize("key", ["landscape", "critical_points", "ridge_rider", "games", "teleport", "coordination"])
@settings(max_examples=int(os.environ.get("BAD_INPUT_EXAMPLES", "8")), deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hostile_settings_are_answered_in_the_view(views, key, data):
    built, figures = views
    view = built[key]
    name = data.draw(st.sampled_from(view.settings_params), label="setting")
    value = data.draw(hostile(name), label="value")
    _trial(view, figures[key], name, value)
