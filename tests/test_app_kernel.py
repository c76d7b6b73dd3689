"""The dashboard in a live Jupyter kernel (``app.show`` in a notebook): its jobs run off the kernel's
thread, while a view made in a cell stays synchronous (``view.run()`` returns when done).

A kernel is simulated here (an ``IPython`` module whose shell has a ``kernel``, an asyncio loop as the
kernel's); ``python3 -m benchmarks.inline_jupyter`` drives a real one in JupyterLab and Chromium.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import types

import pytest

import app
from app import main, runner
from app.runner import JobRunner, LatestCall
from app.views.coordination import CoordinationView
from landscape.jobs import Event
from landscape.problems import get

from . import own_models


@pytest.fixture
def kernel(monkeypatch):
    """This process looks like an IPython kernel (``get_ipython().kernel`` is set)."""
    ipython = pytest.importorskip("IPython")
    monkeypatch.setattr(ipython, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))


def test_a_live_kernel_is_detected_and_a_plain_python_is_not(monkeypatch):
    ipython = pytest.importorskip("IPython")
    monkeypatch.setattr(ipython, "get_ipython", lambda: None)  # IPython imported, no shell: a script
    assert not runner.in_kernel()
    monkeypatch.setattr(ipython, "get_ipython", lambda: types.SimpleNamespace())  # a terminal: no kernel
    assert not runner.in_kernel()
    monkeypatch.delitem(sys.modules, "IPython")  # never imported
    assert not runner.in_kernel()


def test_in_a_kernel_a_view_made_in_a_cell_runs_synchronously(kernel):
    assert runner.in_kernel() and JobRunner().sync and LatestCall().sync

    async def cell():  # the kernel's loop is running, as in a notebook cell
        view = CoordinationView(problem=get("lever-game", payoffs=[1.0, 0.8, 0.6]), n_runs=2, n_ridges=1)
        view.run()
        return view.result  # view.run() returned when the job was done

    result = asyncio.run(cell())
    assert result is not None and result.attrs["status"] == "complete"


def test_a_background_job_in_a_kernel_runs_in_the_pool_and_its_callbacks_on_the_kernels_loop(kernel):
    threads = {"steps": set(), "events": set(), "done": set()}

    def stream(cancel):
        for done in (1, 2, 3):
            threads["steps"].add(threading.current_thread().name)
            yield Event("chunk", done, 3)
        return "complete"

    async def scenario():
        job = JobRunner(sync=False)  # the inline dashboard's mode (app.show)
        results = []
        job.start(stream, lambda e: threads["events"].add(threading.current_thread().name),
                  lambda r: (threads["done"].add(threading.current_thread().name), results.append(r)))
        assert job.running and results == []  # start returned at once: the cell (or comm message) is free
        while job.running:
            await asyncio.sleep(0.01)
        return job, results

    job, results = asyncio.run(scenario())
    assert results == ["complete"] and job.message == "Done"
    main_thread = threading.main_thread().name
    assert threads["events"] == threads["done"] == {main_thread}  # the loop's thread: models are pushed from it
    assert threads["steps"] and all(name.startswith("landscape-job") for name in threads["steps"])


def test_show_in_a_kernel_slices_the_network_in_the_background(kernel, monkeypatch):
    views = []
    build = main.build_view
    monkeypatch.setattr(main, "build_view", lambda spec, state: views.append(build(spec, state)) or views[-1])
    problem = own_models.make_flax()

    async def scenario():
        app.show(problem)
        landscape = views[0]
        assert landscape.runner.running and landscape.slice_result is None  # show returned before the slice
        while landscape.runner.running:
            await asyncio.sleep(0.02)
        return landscape

    landscape = asyncio.run(scenario())
    assert landscape.runner.message == "Done"
    ds = landscape.slice_result
    assert ds is not None and ds.attrs["status"] == "complete" and ds.centre.size == problem.dim


def test_importing_app_puts_panels_notebook_resources_inline():
    import panel as pn

    assert pn.config.inline  # Panel's JS and CSS go into a notebook's output, never fetched from its CDN


def test_show_says_how_to_fix_resources_loaded_from_the_cdn_before_import_app(kernel, monkeypatch):
    monkeypatch.setattr(app, "_LOADED_FROM_CDN", True)
    monkeypatch.setattr(main, "show", lambda problem, state=None: "shown")
    with pytest.warns(UserWarning, match=r"pn.extension\(inline=True\)"):
        assert app.show(object()) == "shown"


def test_a_blank_slice_draws_without_warnings_and_its_colours_follow_the_first_data():
    """Before a slice's first chunk its grid is all NaN: HoloViews took a colour range from it with NumPy's
    "All-NaN slice" RuntimeWarning, which a notebook shows under the dashboard as a stderr box."""
    import warnings

    import holoviews as hv
    import numpy as np
    from bokeh.models import LinearColorMapper

    from app.components.surface import surface_element
    from app.views.landscape.layers import slice_grid

    hv.extension("bokeh")
    grid = np.linspace(-1.0, 1.0, 5)
    pipe = hv.streams.Pipe(data=slice_grid(np.full((5, 5), np.nan), grid, grid))
    surface = hv.DynamicMap(lambda data: surface_element(data, 18, "linear"), streams=[pipe]).opts(framewise=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot = hv.renderer("bokeh").get_plot(surface)
    pipe.send(slice_grid(3.0 + 0.1 * np.arange(25.0).reshape(5, 5), grid, grid))
    (mapper,) = plot.state.select({"type": LinearColorMapper})
    assert (mapper.low, mapper.high) == pytest.approx((3.0, 5.4))  # the data's range, not the blank's
