"""The dashboard inline in a LIVE Jupyter kernel, driven in headless Chromium: ``python3 -m benchmarks.inline_jupyter``.

Needs the ``jupyter`` extra (``pip install -e '.[jupyter]'``: JupyterLab; Panel's Jupyter side,
``jupyter_bokeh`` and ``pyviz_comms``, is a core dependency) and Chromium (``LANDSCAPE_CHROMIUM``,
default ``/usr/bin/chromium``).

It starts JupyterLab on a free loopback port with a token, in a temporary directory, writes a
notebook that builds a small Flax NNX MLP and a small Equinox MLP on generated data
(``landscape.problems.from_flax`` / ``from_equinox``) and ends with ``app.show(...)``, runs all
its cells in the browser, then uses the inline dashboard as a user would:

1. the Landscape tab's first slice (of the Equinox model) is drawn (status ``Done``);
2. a new slice (other directions, fewer points) is computed and drawn;
3. a trajectory run finishes and fills the Trajectory picker;
4. the Problem picker switches to the Flax model and its slice is drawn;
5. a second tab (Critical Points) opens.

Each step is checked in the page (status line, plot pixels, widget options) and, through a
second client of the same kernel, in the kernel (which problem the view shows, the slice's
grid); the kernel is also asked for ``kernel_info`` while a job runs, which answers only if the
job does not hold the kernel's main thread.  Screenshots go to ``/tmp/inline/`` (``--out``).
Prints one line per step (took effect yes/no, seconds) and exits 1 if any did not take effect.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

from benchmarks._served import field, set_value
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port
from tests.serving import ROOT

LOAD_TIMEOUT_S = 600.0
STEP_TIMEOUT_S = 300.0

SETUP = """\
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import equinox as eqx
import panel as pn
from flax import nnx

import app
from app.state import AppState
from landscape.problems import from_equinox, from_flax

pn.extension()"""

DATA = """\
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8))
y = np.argmax(x @ rng.normal(size=(8, 3)), axis=1)  # three classes, linearly separable


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(8, 16, param_dtype=jnp.float64, rngs=rngs)
        self.out = nnx.Linear(16, 3, param_dtype=jnp.float64, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.tanh(self.hidden(x)))


flax_problem = from_flax(MLP(nnx.Rngs(0)), (x, y), loss="cross_entropy", name="notebook-flax-mlp")
model = eqx.nn.MLP(8, 3, width_size=12, depth=1, activation=jax.nn.tanh, key=jax.random.PRNGKey(1))
model = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, model)
equinox_problem = from_equinox(model, (x, y), loss="cross_entropy", name="notebook-equinox-mlp")
print(flax_problem.name, flax_problem.dim, equinox_problem.name, equinox_problem.dim)"""

SHOW = """\
state = AppState()
state.add_problem(flax_problem, select=False)  # in the picker; the Equinox model is shown
dashboard = app.show(equinox_problem, state)
dashboard"""

#: Defined in the kernel by a second client; ``_landscape_probe()`` says what the dashboard's Landscape views
#: hold now.  They are found by following references from the notebook's ``dashboard`` and ``state``, never with
#: ``gc.get_objects()``: that also hands out tuples another thread is still building (a job in the pool), which
#: CPython then refuses to finish ("SystemError: bad argument to internal function" in the job).
PROBE = """\
def _landscape_probe():
    import gc, json, types
    from app.views.landscape.view import LandscapeView
    from landscape.results import config_of
    views, visited, stack = [], set(), [dashboard, state]
    while stack:
        obj = stack.pop()
        if id(obj) in visited or isinstance(obj, (types.ModuleType, type)):
            continue
        visited.add(id(obj))
        if isinstance(obj, LandscapeView):
            views.append(obj)
        else:
            stack.extend(gc.get_referents(obj))
    return json.dumps([{"problem": v.problem.name, "running": bool(v.runner.running), "message": v.runner.message,
                        "sync": bool(v.runner.sync),
                        "slice": None if v.slice_result is None else [int(v.slice_result.sizes["alpha"]),
                                                                     config_of(v.slice_result)["direction_kind"]],
                        "runs": None if v.result is None else int(v.result.sizes["run"])} for v in views])"""

SETTINGS = {  # JupyterLab: no news/update toasts over the page, every cell rendered (no windowing)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                       "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

#: A job's status line (app.runner): what the watcher in the page records.
STATUS = r"^(Done|Cancelled at \d+%|Error: .*|Compiling.*|Estimated.*|\d+ / \d+.*|Queued.*|Cancelling.*)$"
WATCH_JS = """(pattern) => {  // every change of the visible status lines (<pre>, shadow roots included), with its time
  const rx = new RegExp(pattern), t0 = performance.now(), seen = window.__statuses = [];
  const walk = (root, out) => { for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'PRE' && el.checkVisibility()) {
        const text = (el.shadowRoot || el).textContent.trim(); if (rx.test(text)) out.push(text); }
      if (el.shadowRoot) walk(el.shadowRoot, out); } return out; };
  let last = null;
  window.__watch = setInterval(() => { const now = walk(document, []).join(' | ');
      if (now !== last) { seen.push([((performance.now() - t0) / 1000).toFixed(1), now]); last = now; } }, 50);
}"""


def notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (SETUP, DATA, SHOW)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@contextlib.contextmanager
def jupyter_lab(workdir: Path):
    """JupyterLab on a free loopback port serving ``workdir``; yields ``(base_url, token, log_path)``."""
    port, token = _free_port(), secrets.token_hex(16)
    settings = workdir / ".settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(workdir / ".workspaces"),
           "JUPYTER_RUNTIME_DIR": str(workdir / ".runtime"), "JUPYTER_CONFIG_DIR": str(workdir / ".config")}
    log_path = workdir / "jupyter.log"
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={workdir}",
            "--LabApp.expose_app_in_browser=True"] + (["--allow-root"] if os.geteuid() == 0 else [])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; log {log_path}:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield base, token, log_path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def kernel_client(base: str, token: str, workdir: Path):
    """A second client of the notebook's kernel (its connection file from the server's session list)."""
    from jupyter_client import BlockingKernelClient

    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as answer:
        sessions = json.load(answer)
    kernel_id = sessions[0]["kernel"]["id"]
    client = BlockingKernelClient(connection_file=str(workdir / ".runtime" / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    return client


def probe(client, timeout: float = STEP_TIMEOUT_S) -> list[dict]:
    """The Landscape views of the kernel (see :data:`PROBE`), asked through the second client."""
    reply = client.execute_interactive(PROBE, timeout=timeout, silent=True,
                                       user_expressions={"views": "_landscape_probe()"})
    content = reply["content"]
    value = content.get("user_expressions", {}).get("views", {})
    if content["status"] != "ok" or value.get("status") != "ok":
        raise RuntimeError(f"probe failed: {content}")
    return json.loads(ast.literal_eval(value["data"]["text/plain"]))  # the repr of a JSON string, parsed


def kernel_answers(client, timeout: float) -> float | None:
    """Seconds until the kernel answers ``kernel_info`` (``None``: not within ``timeout``)."""
    start = time.monotonic()
    msg_id = client.kernel_info()
    with contextlib.suppress(Exception):
        while True:
            reply = client.get_shell_msg(timeout=max(0.01, timeout - (time.monotonic() - start)))
            if reply["parent_header"].get("msg_id") == msg_id:
                return time.monotonic() - start
    return None


class Steps:
    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, float, str]] = []

    def record(self, name: str, ok: bool, seconds: float, detail: str = "") -> None:
        self.rows.append((name, ok, seconds, detail))
        print(f"  {name:<52} took effect: {'yes' if ok else 'NO '}  {seconds:6.1f} s  {detail}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/inline", help="folder for the PNG screenshots")
    options = parser.parse_args()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import expect, sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="landscape-inline-"))
    notebook(workdir / "inline.ipynb")
    steps, errors = Steps(), []
    print(f"# inline dashboard in a live Jupyter kernel (JupyterLab), screenshots in {out}", flush=True)
    with jupyter_lab(workdir) as (base, token, log_path), sync_playwright() as playwright:
        print(f"  JupyterLab at {base} (log {log_path})", flush=True)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1600, "height": 1300}).new_page()
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url[:200]}"))
        page.goto(f"{base}/lab/tree/inline.ipynb?token={token}", timeout=LOAD_TIMEOUT_S * 1000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus "
                               "=== 'idle'", timeout=120_000)
        page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")  # more room
        client = kernel_client(base, token, workdir)
        try:
            run_steps(page, client, steps, out, expect)
        except Exception as error:  # a step that broke the driver: recorded, screenshot kept
            steps.record("driver", False, 0.0, f"{type(error).__name__}: {str(error)[:300]}")
            page.screenshot(path=str(out / "failure.png"), full_page=True)
        finally:
            client.stop_channels()
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        stderr = [text for text in outputs if "Traceback" in text]
        (out / "outputs.txt").write_text("\n\n".join(outputs))
        browser.close()
        server_log = log_path.read_text(errors="replace")
    print(f"  browser console errors: {len(errors)}", *[f"    {e[:300]}" for e in errors], sep="\n")
    print(f"  kernel error outputs: {len(stderr)}", *[f"    {e[:500]}" for e in stderr], sep="\n")
    tracebacks = server_log.count("Traceback")
    print(f"  tracebacks in the Jupyter server log: {tracebacks}")
    shutil.rmtree(workdir, ignore_errors=True)
    failed = [name for name, ok, _, _ in steps.rows if not ok]
    print(f"{len(steps.rows) - len(failed)} / {len(steps.rows)} steps took effect" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed or stderr else 0


def output_area(page):
    """The dashboard's output (the last cell's)."""
    return page.locator(".jp-Cell").nth(2).locator(".jp-OutputArea")


def plot_png(page) -> bytes:
    """The Landscape plot's pixels (its first canvas; a plot being replaced is waited for)."""
    for _ in range(20):
        with contextlib.suppress(Exception):
            return page.locator(".jp-Cell").nth(2).locator("canvas").first.screenshot(timeout=15_000)
        time.sleep(0.5)
    return b""


def answer(seconds: float | None) -> str:
    return "kernel_info during the job: " + ("no answer" if seconds is None else f"answered in {seconds:.2f} s")


def watch(page) -> None:
    """Start recording the status lines the page shows (:data:`WATCH_JS`)."""
    page.evaluate("() => { if (window.__watch) clearInterval(window.__watch); }")
    page.evaluate(WATCH_JS, STATUS)


def seen(page) -> list:
    """``[seconds, "status | status"]`` for each change of the status lines since :func:`watch`."""
    return page.evaluate("window.__statuses || []")


def settled(page, client, wanted, timeout: float = STEP_TIMEOUT_S) -> tuple[bool, list[dict]]:
    """Wait until the kernel's views satisfy ``wanted(views)`` with no job running and the page shows ``Done``;
    returns whether they did within ``timeout`` and the views last seen."""
    deadline, views = time.monotonic() + timeout, []
    done = output_area(page).locator("pre:visible", has_text=re.compile(r"^Done$"))
    while time.monotonic() < deadline:
        views = probe(client, timeout=max(1.0, deadline - time.monotonic()))
        if wanted(views) and not any(v["running"] for v in views) and done.count() > 0:
            return True, views
        time.sleep(0.5)
    return False, views


def run_steps(page, client, steps: Steps, out: Path, expect) -> None:
    start = time.monotonic()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    dashboard = output_area(page)
    picker = dashboard.locator("select").first
    expect(picker).to_have_value("notebook-equinox-mlp", timeout=LOAD_TIMEOUT_S * 1000)
    watch(page)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus "
                           "=== 'idle'", timeout=LOAD_TIMEOUT_S * 1000)
    ok, views = settled(page, client, lambda views: any(
        v["problem"] == "notebook-equinox-mlp" and v["slice"] for v in views), LOAD_TIMEOUT_S)
    steps.record("run all cells: Equinox model's slice drawn", ok, time.monotonic() - start,
                 f"statuses {seen(page)}; kernel {views}")
    dashboard.screenshot(path=str(out / "1_equinox_slice.png"))

    # 2. a new slice: random directions on a 15×15 grid
    before = plot_png(page)
    field(dashboard, "Directions", "select").select_option("random")
    set_value(dashboard, "Points", "15")
    watch(page)
    start = time.monotonic()
    dashboard.get_by_role("button", name="Slice", exact=True).click()
    answered = kernel_answers(client, 30.0)  # while the slice job runs
    ok, views = settled(page, client, lambda views: any(v["slice"] == [15, "random"] for v in views))
    time.sleep(1.0)  # the last redraw
    changed = plot_png(page) != before
    steps.record("Slice: random directions, 15 points", ok and changed, time.monotonic() - start,
                 f"statuses {seen(page)}; plot changed {changed}; kernel {views}; {answer(answered)}")
    dashboard.screenshot(path=str(out / "2_random_slice.png"))

    # 3. a trajectory run (3 optimizers, 100 steps) from the slice's centre fills the Trajectory picker
    set_value(dashboard, "Steps", "100")
    watch(page)
    start = time.monotonic()
    dashboard.get_by_role("button", name="Run", exact=True).click()
    answered = kernel_answers(client, 30.0)
    ok, views = settled(page, client, lambda views: any(v["runs"] for v in views))
    options = field(dashboard, "Trajectory", "select").locator("option").all_inner_texts()
    filled = bool(options) and "(run first)" not in options
    steps.record("Run: trajectories drawn, picker filled", ok and filled, time.monotonic() - start,
                 f"statuses {seen(page)}; picker {options[:3]}; kernel {views}; {answer(answered)}")
    dashboard.screenshot(path=str(out / "3_trajectories.png"))

    # 4. switch to the Flax model: its slice replaces the Equinox one
    before = plot_png(page)
    watch(page)
    start = time.monotonic()
    picker.select_option("notebook-flax-mlp")
    ok, views = settled(page, client, lambda views: any(
        v["problem"] == "notebook-flax-mlp" and v["slice"] for v in views))
    shown = dashboard.get_by_text(re.compile(r"Showing notebook-flax-mlp \(")).count() > 0
    time.sleep(1.0)
    changed = plot_png(page) != before
    steps.record("Problem -> notebook-flax-mlp, its slice drawn", ok and shown and changed,
                 time.monotonic() - start, f"statuses {seen(page)}; sidebar says so {shown}; plot changed "
                 f"{changed}; kernel {views}")
    dashboard.screenshot(path=str(out / "4_flax_slice.png"))

    # 5. a second tab
    start = time.monotonic()
    dashboard.locator(".bk-tab", has_text="Critical Points").first.click()
    run = dashboard.get_by_role("button", name="Run", exact=True)
    try:
        expect(run).to_be_visible(timeout=STEP_TIMEOUT_S * 1000)
        ok = True
    except AssertionError:
        ok = False
    steps.record("tab Critical Points opens (its Run button)", ok, time.monotonic() - start)
    dashboard.screenshot(path=str(out / "5_critical_points.png"))
    page.screenshot(path=str(out / "6_page.png"), full_page=True)


if __name__ == "__main__":
    sys.exit(main())
