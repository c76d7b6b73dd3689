"""The Landscape view's run-history redraw: what a finished run costs the server's event loop.

Every finished launch redraws the loss and ‖∇L‖ panels over all the session's kept launches, and
Panel renders the HoloViews figure to Bokeh models on the event loop (issue 10: 23 s of the main
thread's 87 s over one benchmark session).  This times, in the same run, Bokeh renders of

* the baseline: one ``hv.Curve`` per kept run (how the history was drawn until 2026-12-02), and
* ``app.figures.landscape.curves_element``: one NaN-broken Curve per optimizer and launch age,

over synthetic launches of 12, 24, … runs of 301 steps (three optimizers), and prints medians and
their ratio::

    python3 -m benchmarks.bench_history [--launches 1 3 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os

import holoviews as hv
import numpy as np
import xarray as xr

from app.figures import landscape as fig
from app.views.landscape.history import CURVE_POINTS
from benchmarks._common import median_time

STEPS = 301
OPTIMIZERS = ("gd", "adam", "nesterov")


def launch(runs: int, rng: np.random.Generator) -> xr.Dataset:
    """An ``optimizer-trajectories``-shaped result with ``runs`` runs of decaying losses."""
    decay = np.exp(-np.arange(STEPS) / rng.uniform(20, 200, (runs, 1)))
    return xr.Dataset(
        {"loss": (("run", "step"), decay + 0.01 * rng.random((runs, STEPS))),
         "grad_norm": (("run", "step"), decay * rng.uniform(0.5, 2, (runs, 1)))},
        coords={"step": np.arange(STEPS), "optimizer": ("run", [OPTIMIZERS[i % 3] for i in range(runs)]),
                "label": ("run", [OPTIMIZERS[i % 3] for i in range(runs)]), "start": ("run", np.arange(runs))},
    )  # fmt: skip


def per_run_curves(history: list[xr.Dataset], variable: str) -> hv.Overlay:
    """The baseline: one styled ``hv.Curve`` per run, as the history was drawn before."""
    newest, curves = len(history) - 1, []
    for index, result in enumerate(history):
        for run in range(result.sizes["run"]):
            steps = result.step.values[fig.thinned(STEPS, CURVE_POINTS)]
            optimizer = str(result.optimizer.values[run])
            curves.append(hv.Curve({"step": steps, "value": result[variable].values[run, steps],
                                    "run": [f"#{index + 1} {optimizer}"] * len(steps)}, "step", ["value", "run"],
                                   label=optimizer).opts(
                color=fig.OPTIMIZER_COLORS[optimizer], alpha=0.45 if index != newest else 0.9,
                line_dash="dashed" if index != newest else "solid", line_width=2, tools=["hover"]))
    return hv.Overlay(curves).opts(show_legend=False, responsive=True, height=280)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("# Run-history redraw (Bokeh render of the loss and ‖∇L‖ panels), medians in s")
    print("command: python3 -m benchmarks.bench_history", *(f"{k}={v}" for k, v in vars(args).items()))
    print(f"load average {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(0)
    history = [launch(12 * (i + 1), rng) for i in range(max(args.launches))]
    for n in args.launches:
        kept = history[:n]

        def render(build):
            return lambda: [hv.render(build(name), backend="bokeh") for name in ("loss", "grad_norm")]

        baseline = median_time(render(lambda name: per_run_curves(kept, name)), args.repeats)
        ours = median_time(render(lambda name: fig.curves_element(kept, name, False, CURVE_POINTS).opts(
            responsive=True, height=280, backend="bokeh")), args.repeats)
        runs = sum(result.sizes["run"] for result in kept)
        print(f"  {n} launches ({runs:3d} runs): per-run curves {baseline:7.3f}   curves_element {ours:6.3f}"
              f"   ratio {baseline / ours:5.1f}x", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
