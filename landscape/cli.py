"""The ``landscape`` command: headless sweeps in-process, on a local cluster or on any Dask cluster.

::

    landscape slice mlp-digits --grid 101 --directions filter --out run.zarr --workers 4
    landscape lyapunov matching-pennies --rule simgd --grid 256 --k 10 --out map.zarr --scheduler tcp://host:8786
    landscape residuals frye-quartic --grid 101 --out residuals.zarr
    landscape critical frye-quartic --runs 20 --out critical.zarr
    landscape trajectories himmelblau --optimizer gd --optimizer adam --runs 8 --out runs.zarr
    landscape info run.zarr
    landscape resume run.zarr --workers 2
    landscape open run.zarr

Each sweep writes its result to a zarr store chunk by chunk (``landscape.stores``);
rerunning the same command (or ``landscape resume STORE``) resumes it, computing only the
missing chunks; ``critical`` and ``trajectories`` likewise write each finished batch of runs
(``--per-task`` runs a batch) and resume computing only the missing batches.  ``landscape open STORE`` serves the dashboard
with a slice, Lyapunov map or residual map loaded in its view (Resume there for an unfinished one).
Slices and Lyapunov maps are seeded (``--seed``, default 0), so two runs of one
command compute the same grid.  Computation is in float64 (DESIGN.md "Precision").  Bad
arguments exit with a usage message and code 2; a sweep where some chunk
tasks raised exits with code 1 after recording them in the store.
"""

from __future__ import annotations

import json
import sys
import time

import click

CHUNK_HELP = "cells per chunk task (one scheduler round trip each)"


def _key_values(ctx, param, items) -> dict:
    """``NAME=VALUE`` pairs; VALUE is parsed as JSON (numbers, lists, true/false) or kept as text."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", ctx=ctx, param=param)
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def _executor_options(fn):
    """--workers, --scheduler, --quiet: where a sweep runs (shared by the sweep commands and resume)."""
    fn = click.option("--quiet", is_flag=True, help="no progress bar")(fn)
    fn = click.option("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:8786)")(fn)
    return click.option("--workers", type=click.IntRange(min=1), help="run on a local cluster of N worker processes")(fn)


def _compute_options(fn):
    """--out and the executor options: shared by every sweep command."""
    fn = _executor_options(fn)
    fn = click.option("--out", type=click.Path(dir_okay=True, file_okay=False), required=True,
                      help="zarr store to write (resumed when it exists)")(fn)
    return fn


def _problem(ctx, name: str, options: dict):
    from .problems import registry

    if name not in registry.names():
        raise click.BadParameter(f"unknown problem {name!r}; known: {', '.join(sorted(registry.names()))}",
                                 ctx=ctx, param_hint="PROBLEM")
    try:
        return registry.get(name, **options)
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(f"cannot build {name} with options {options}: {exc}", ctx=ctx,
                                 param_hint="--option") from None


def _run(ctx, make_stream, store: str, workers, scheduler, quiet: bool) -> None:
    """Build the sweep on the chosen executor, stream it with a progress bar, report the ``store``."""
    from tqdm import tqdm

    from .executor import make_executor
    from .jobs import drive
    from .stores import StoreError, info

    if workers is not None and scheduler is not None:
        raise click.UsageError("give either --workers (a local cluster) or --scheduler, not both", ctx=ctx)
    with make_executor(workers, scheduler, dashboard=True) as executor:
        link = getattr(getattr(executor, "client", None), "dashboard_link", None)
        click.echo(f"running on {executor.description}" + (f"; Dask dashboard: {link}" if link else ""), err=True)
        try:
            stream = make_stream(executor)
            bar = tqdm(disable=quiet, file=sys.stderr, dynamic_ncols=True, delay=0.5)
            start = time.perf_counter()

            def progress(event):
                if bar.total != event.total:
                    bar.reset(total=event.total)
                bar.update(event.done - bar.n)

            result = drive(stream, progress)
            bar.close()
        except (StoreError, ValueError) as exc:
            raise click.UsageError(str(exc), ctx=ctx) from None
    failed = json.loads(result.attrs.get("failed_chunks", "{}"))
    summary = info(store)
    click.echo(f"{result.attrs['kind']}: {summary['status']} in {time.perf_counter() - start:.1f} s "
               f"({summary['cells_done']}/{summary['cells']} {summary['unit']})", err=True)
    if failed:
        for index, reason in failed.items():
            click.echo(f"chunk {index} failed: {reason}", err=True)
        ctx.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Loss-landscape sweeps that run in-process, on a local Dask cluster or on a scheduler address,
    written to resumable zarr stores."""
    import jax

    from .compilation import enable_persistent_cache

    jax.config.update("jax_enable_x64", True)
    enable_persistent_cache()  # a second command loads its kernels instead of compiling (LANDSCAPE_JAX_CACHE)


@main.command("slice")
@click.argument("problem")
@click.option("--grid", type=click.IntRange(min=2), default=51, show_default=True, help="points per axis")
@click.option("--span", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="α and β run over [-span, span]")
@click.option("--directions", type=click.Choice(["filter", "random", "hessian"]), default="filter",
              show_default=True, help="filter-normalised (networks), random unit or top Hessian eigenvectors")
@click.option("--chunk", type=click.IntRange(min=1), default=None,
              help=CHUNK_HELP + "; default: the slice kernel's own (landscape.slices.slice_kernel)")
@click.option("--option", "options", multiple=True, callback=_key_values, metavar="NAME=VALUE",
              help="problem option (repeatable), e.g. --option hidden=[12,8]")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the centre (the problem's sampler) and the directions")
@_compute_options
@click.pass_context
def slice_command(ctx, problem, grid, span, directions, chunk, options, out, workers, scheduler, seed, quiet):
    """A 2-D slice L(c + α d₁ + β d₂) of PROBLEM around its seeded initial point c."""
    import jax
    import numpy as np

    from .slices import iter_slice, make_directions

    built = _problem(ctx, problem, options)
    centre_key, direction_key = jax.random.split(jax.random.PRNGKey(seed))
    centre = built.init(centre_key)
    try:
        dirs = make_directions(built, directions, centre, key=direction_key)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param_hint="--directions") from None
    alpha = np.linspace(-span, span, grid)
    _run(ctx, lambda executor: iter_slice(built, centre, dirs, alpha, chunk=chunk, direction_kind=directions,
                                          executor=executor, store=out), out, workers, scheduler, quiet)


@main.command("lyapunov")
@click.argument("game")
@click.option("--rule", default="simgd", show_default=True, help="update rule (landscape.games.rules.RULES)")
@click.option("--grid", type=click.IntRange(min=2), default=64, show_default=True, help="starts per axis")
@click.option("--k", "steps", type=click.IntRange(min=1), default=10, show_default=True, help="trajectory steps")
@click.option("--n", "top", type=click.IntRange(min=1), default=1, show_default=True, help="top-n exponents")
@click.option("--objective", type=click.Choice(["max", "sum", "min"]), default="max", show_default=True)
@click.option("--strategy", type=click.Choice(["eigh", "power", "each", "first", "random"]), default="eigh",
              show_default=True, help="direction strategy (Lorraine Fig. C.2)")
@click.option("--chunk", type=click.IntRange(min=1), default=4096, show_default=True, help=CHUNK_HELP)
@click.option("--hyper", multiple=True, callback=_key_values, metavar="NAME=VALUE",
              help="rule hyperparameter (repeatable), e.g. --hyper alpha=0.5")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the per-start keys (random direction strategies)")
@_compute_options
@click.pass_context
def lyapunov_command(ctx, game, rule, grid, steps, top, objective, strategy, chunk, hyper, out, workers,
                     scheduler, seed, quiet):
    """A k-step Lyapunov-exponent map of GAME (a 2-parameter game) over its view box."""
    import numpy as np

    from .games import RULES, iter_lyapunov_map

    built = _problem(ctx, game, {})
    if rule not in RULES:
        raise click.BadParameter(f"unknown rule {rule!r}; choose from {', '.join(RULES)}", ctx=ctx,
                                 param_hint="--rule")
    (x0, x1), (y0, y1) = built.bounds or ((-1.0, 1.0), (-1.0, 1.0))
    xs, ys = np.linspace(x0, x1, grid), np.linspace(y0, y1, grid)
    _run(ctx, lambda executor: iter_lyapunov_map(built, rule, xs, ys, k=steps, n=top, objective=objective,
                                                 directions=strategy, chunk=chunk, seed=seed, executor=executor,
                                                 store=out, **hyper), out, workers, scheduler, quiet)


@main.command("residuals")
@click.argument("problem")
@click.option("--grid", type=click.IntRange(min=2), default=101, show_default=True, help="points per axis")
@click.option("--chunk", type=click.IntRange(min=1), default=1024, show_default=True, help=CHUNK_HELP)
@_compute_options
@click.pass_context
def residuals_command(ctx, problem, grid, chunk, out, workers, scheduler, quiet):
    """The gradient-flat residual map (r, r_H, Newton direction) of a 2-D PROBLEM over its view box."""
    from .critical import iter_residual_map

    built = _problem(ctx, problem, {})
    _run(ctx, lambda executor: iter_residual_map(built, grid, chunk=chunk, executor=executor, store=out),
         out, workers, scheduler, quiet)


def _per_task(runs: int, per_task: int | None) -> int:
    """Runs per batch task: ``--per-task``, else an eighth of the runs (at least one), whatever the
    executor, so the same command cuts the same batches in-process and on any cluster."""
    return per_task if per_task is not None else -(-runs // 8)


def _run_options(fn):
    """--option, --seed, --per-task, --out and the executor options: shared by the many-run commands."""
    fn = _compute_options(fn)
    fn = click.option("--per-task", type=click.IntRange(min=1), default=None,
                      help="runs per batch task, each batch written to the store as it finishes "
                           "[default: an eighth of the runs]")(fn)
    fn = click.option("--seed", type=int, default=0, show_default=True, help="seed of the starts")(fn)
    return click.option("--option", "options", multiple=True, callback=_key_values, metavar="NAME=VALUE",
                        help="problem option (repeatable)")(fn)


@main.command("critical")
@click.argument("problem")
@click.option("--method", type=click.Choice(["newton-mr", "damped-newton", "gnm", "pinv-newton"]),
              default="newton-mr", show_default=True, help="critical-point finder (Frye thesis ch. 3)")
@click.option("--runs", type=click.IntRange(min=1), default=10, show_default=True, help="number of starts")
@click.option("--steps", type=click.IntRange(min=1), default=100, show_default=True, help="finder iterations")
@click.option("--starts", type=click.Choice(["trajectory", "uniform"]), default="trajectory", show_default=True,
              help="points along gradient-descent runs (Frye §3.2.3.2) or the problem's sampler")
@_run_options
@click.pass_context
def critical_command(ctx, problem, method, runs, steps, starts, options, seed, per_task, out, workers, scheduler,
                     quiet):
    """A critical-point experiment on PROBLEM: RUNS seeded starts, a finder from each, in batches of
    runs (on the workers with --workers/--scheduler), each written to the store as it finishes."""
    from .critical import iter_experiment

    built = _problem(ctx, problem, options)
    _run(ctx, lambda executor: iter_experiment(built, method, num_runs=runs, seed=seed, starts=starts,
                                               num_steps=steps, executor=executor,
                                               runs_per_task=_per_task(runs, per_task), store=out),
         out, workers, scheduler, quiet)


@main.command("trajectories")
@click.argument("problem")
@click.option("--optimizer", "optimizer_names", multiple=True, default=("gd",), show_default=True,
              help="optimizer from the catalogue (repeatable)")
@click.option("--runs", type=click.IntRange(min=1), default=4, show_default=True, help="seeded starts")
@click.option("--steps", type=click.IntRange(min=1), default=500, show_default=True, help="steps per run")
@_run_options
@click.pass_context
def trajectories_command(ctx, problem, optimizer_names, runs, steps, options, seed, per_task, out, workers, scheduler,
                         quiet):
    """Runs of each OPTIMIZER from RUNS seeded starts of PROBLEM, with default hyperparameters, in batches
    of starts (on the workers with --workers/--scheduler), each written to the store as it finishes."""
    import jax

    from . import optim
    from .trajectories import iter_trajectories

    known = optim.names()
    unknown = [name for name in optimizer_names if name not in known]
    if unknown:
        raise click.BadParameter(f"unknown optimizer {', '.join(unknown)}; choose from {', '.join(known)}",
                                 ctx=ctx, param_hint="--optimizer")
    built = _problem(ctx, problem, options)
    starts = jax.vmap(built.init)(jax.random.split(jax.random.PRNGKey(seed), runs))
    _run(ctx, lambda executor: iter_trajectories(built, starts, [(name, None) for name in optimizer_names], steps,
                                                 executor=executor, starts_per_task=_per_task(runs, per_task),
                                                 store=out), out, workers, scheduler, quiet)


@main.command("resume")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@_executor_options
@click.pass_context
def resume_command(ctx, store, workers, scheduler, quiet):
    """Continue the sweep in STORE from the store alone (its problem, grid and chunking), computing only
    the chunks it lacks."""
    from .stores import resume

    _run(ctx, lambda executor: resume(store, executor=executor), store, workers, scheduler, quiet)


def serve_command(store: str, port: int = 5006, address: str = "127.0.0.1", show: bool = True) -> list[str]:
    """The ``panel serve`` invocation of the dashboard (``app/main.py`` beside this package) with
    ``--open STORE``: the result loaded in its view."""
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "app" / "main.py"
    return [sys.executable, "-m", "panel", "serve", str(script), "--port", str(port), "--address", address,
            "--allow-websocket-origin", f"{address}:{port}", *(["--show"] if show else []),
            "--args", "--open", str(Path(store).resolve())]


@main.command("open")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--port", type=click.IntRange(1, 65535), default=5006, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True, help="address the server listens on")
@click.option("--show/--no-show", default=True, show_default=True, help="open the dashboard in a browser")
@click.pass_context
def open_command(ctx, store, port, address, show):
    """Serve the dashboard with the sweep in STORE loaded in its view (an unfinished one offers Resume)."""
    import os
    import subprocess
    from pathlib import Path

    from .stores import VIEWS, StoreError, info

    try:
        summary = info(store)
    except StoreError as exc:
        raise click.UsageError(str(exc), ctx=ctx) from None
    if summary["kind"] not in VIEWS:
        raise click.UsageError(f"{store} holds a {summary['kind']!r} result; the dashboard opens "
                               f"{', '.join(VIEWS)} stores", ctx=ctx)
    click.echo(f"{summary['kind']} ({summary['status']}, {summary['chunks_done']}/{summary['chunks']} chunks): "
               f"serving the dashboard at http://{address}:{port}/main", err=True)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    ctx.exit(subprocess.call(serve_command(store, port, address, show), env=env))


@main.command("info")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.pass_context
def info_command(ctx, store):
    """Kind, status, progress and configuration of a sweep STORE."""
    from .stores import StoreError, info

    try:
        summary = info(store)
    except StoreError as exc:
        raise click.UsageError(str(exc), ctx=ctx) from None
    fraction = summary["cells_done"] / summary["cells"] if summary["cells"] else 1.0
    click.echo(f"kind: {summary['kind']}")
    click.echo(f"status: {summary['status']}")
    click.echo(f"progress: {summary['chunks_done']}/{summary['chunks']} chunks, "
               f"{summary['cells_done']}/{summary['cells']} {summary['unit']} ({fraction:.0%})")
    for index, reason in summary["failed_chunks"].items():
        click.echo(f"failed chunk {index}: {reason}")
    click.echo("config: " + json.dumps(summary["config"], indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
