"""The sidebar's "Compute" setting: a view's sweep on a 2-worker LocalCluster equals the in-process one."""

from __future__ import annotations

import numpy as np
import pytest

from app import main
from app.components.compute import ComputeSetting
from app.state import AppState
from app.views.games import GamesView
from landscape.executor import DaskExecutor, InProcess

from . import own_models


@pytest.fixture(scope="module")
def cluster():
    """One 2-process LocalCluster for the module (starting one costs seconds on 2 cores)."""
    setting = ComputeSetting(sync=True, mode="local cluster", workers=2)
    setting.apply()
    assert isinstance(setting.executor, DaskExecutor), setting.status
    yield setting
    setting.close()


def test_the_setting_reports_the_cluster_and_its_dashboard_link(cluster):
    assert cluster.status.startswith("Sweeps run on dask ") and "(2 workers)" in cluster.status
    assert cluster.link.startswith("http://")
    pane = cluster.panel()[-1]
    assert "Dask dashboard" in pane.object and "(2 workers)" in pane.object


def test_a_bad_scheduler_address_is_refused_with_a_message():
    setting = ComputeSetting(sync=True, mode="scheduler", address="http://x:1/<script>")
    with pytest.raises(ValueError, match="looks like tcp://host:8786"):
        setting.apply()
    assert isinstance(setting.executor, InProcess)


def test_an_unreachable_scheduler_keeps_sweeps_in_process():
    setting = ComputeSetting(sync=True, mode="scheduler", address="tcp://127.0.0.1:9")
    setting.apply()
    assert isinstance(setting.executor, InProcess) and setting.status.startswith("Error")


def _slice(monkeypatch, compute=None):
    views = []
    build = main.build_view
    monkeypatch.setattr(main, "build_view", lambda spec, state: views.append(build(spec, state)) or views[-1])
    state = AppState()
    if compute is not None:
        state.compute = compute
    main.show(own_models.make_problem(), state)
    landscape = views[0]
    landscape.resolution = 11  # 121 cells: two chunks of the view's 64
    landscape.mode.compute()
    return landscape.slice_result


def test_a_landscape_slice_on_the_cluster_equals_the_in_process_one(cluster, monkeypatch):
    here, there = _slice(monkeypatch), _slice(monkeypatch, cluster)
    assert here.attrs["status"] == there.attrs["status"] == "complete"
    np.testing.assert_allclose(there.loss.values, here.loss.values, rtol=0, atol=1e-12)
    assert np.isfinite(here.loss.values).all()


def test_a_lyapunov_map_on_the_cluster_equals_the_in_process_one(cluster):
    def lyapunov(compute=None):
        state = AppState(problem_name="matching-pennies")
        if compute is not None:
            state.compute = compute
        view = GamesView(state=state)
        view.resolution, view.chunk = 6, 12  # 36 starts in 3 chunk tasks
        view.run()
        return view.heatmap

    here, there = lyapunov(), lyapunov(cluster)
    assert np.isfinite(here.exponent.values).all()
    np.testing.assert_allclose(there.exponent.values, here.exponent.values, rtol=0, atol=1e-12)
