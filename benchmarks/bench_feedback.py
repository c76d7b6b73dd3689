"""Time to feedback in the served dashboard (issue 10 items 2 and 3), measured in headless Chromium.

(a) **Games first-open**: a session on the game ``mixed`` clicks the Games tab; seconds until the view's
widgets are visible (its "Lyapunov map" button) and until its set-up is drawn (the fixed-point line);
on a server with an empty JAX compilation cache (cold), then on a second server start with the cache the
first one filled (``landscape.compilation``: ``LANDSCAPE_JAX_CACHE``).  The second start also runs each job
kind of (b) once (its first call there) and prints how many cache entries it added: the compilations the
cache did not serve.  ``--old DIR``: also an older
checkout of the project (``git archive <commit> | tar -x -C DIR``), served the same way; its Games tab
opens its default game, ``mixed``.

(b) **Per job kind** (``--jobs``: the groups of :data:`JOBS`): seconds from clicking Run (or the plot) to
the first visible feedback (a status line or notice: "Compiling…", "Estimated…", "Queued…", "Timing…",
progress) and to the first partial result (progress
"done / total", or the end): a Landscape optimizer run on himmelblau, a network slice and a spectrum
click on mlp-moons, Ridge Rider, Critical Points and Teleport runs on rr-demo, a Games trajectory (a
click on the portrait), a Lyapunov map and a GRR search on matching-pennies, and a Coordination run on
lever-game.  The first run of each
kind compiles (cold cache); the median is over the ``--repeats`` runs after it.  A long job is
cancelled once its partial result showed.  The load average is printed with every figure: on a shared
machine the absolute times move with it::

    python3 -m benchmarks.bench_feedback                  # 3 repeats after the first of each kind
    python3 -m benchmarks.bench_feedback --repeats 2 --old /tmp/old-checkout
    python3 -m benchmarks.bench_feedback --jobs landscape,ridge-rider --skip-first-open [--root /tmp/old-checkout]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._served import (
    LOAD_TIMEOUT_MS, chromium, field, idle, load_average, open_page, open_tab, run_enabled, served, set_value, timed
)  # fmt: skip
from landscape.compilation import cache_path


def games_first_open(url: str, old: bool = False) -> str:
    """One fresh session: seconds from the Games tab click to its widgets, and to its set-up drawn."""
    from playwright.sync_api import expect

    with chromium() as browser:
        start = time.monotonic()
        page = open_page(browser, url, None if old else "mixed")
        if old:  # its first tab (Landscape) is built with the page
            page.wait_for_selector("canvas", timeout=LOAD_TIMEOUT_MS)
        loaded = time.monotonic() - start
        widgets = open_tab(page, "Games", page.get_by_role("button", name="Lyapunov map"))
        drawn = widgets
        if not old:
            expect(page.locator(".games-info")).to_contain_text("fixed point", timeout=LOAD_TIMEOUT_MS)
            drawn = time.monotonic() - start - loaded
    return f"page load {loaded:6.1f} s   Games widgets {widgets:6.1f} s   set-up drawn {drawn:6.1f} s"


def report(kind: str, runs: list[list[float | None]]) -> None:
    def show(values):
        return " ".join("  -  " if v is None else f"{v:5.2f}" for v in values)

    first, rest = runs[0], runs[1:]
    columns = list(zip(*rest)) if rest else []
    medians = [statistics.median([v for v in c if v is not None]) if any(v is not None for v in c) else None
               for c in columns]  # fmt: skip
    print(f"  {kind:<28} first: {show(first)}   median of {len(rest)}: {show(medians)}   ({load_average()})",
          flush=True)
    print(f"  {'':<28} each after the first: {' | '.join(show(run) for run in rest)}  (-: not shown within the wait)",
          flush=True)


def repeat(page, kind: str, repeats: int, action, prepare=None, titles: str = "", cancel: bool = True) -> None:
    """``1 + repeats`` runs of one job kind; each waits for the tab to be idle first (one job per session);
    ``cancel``: a job still running once its partial result showed is cancelled."""
    from playwright.sync_api import Error

    runs = []
    for i in range(1 + repeats):
        try:
            idle(page)
            if prepare:
                prepare(i)
            figures = timed(page, lambda: action(i), titles=titles)
            button = page.get_by_role("button", name="Cancel")
            if cancel and button.is_visible():
                with contextlib.suppress(Error):  # the job may end meanwhile: its button is Run again
                    button.click(timeout=2000)
            idle(page)
        except Error as error:  # a page state not reached: recorded, the benchmark goes on
            print(f"  {kind} run {i}: {str(error).splitlines()[0]}", flush=True)
            figures = [None, None] + ([None] if titles else [])
        runs.append(figures)
    report(kind, runs)


def landscape_jobs(browser, url: str, repeats: int) -> None:
    page = open_page(browser, url, "himmelblau")
    run = page.get_by_role("button", name="Run")
    run_enabled(page)

    def prepare(i):
        set_value(page, "Steps", "20000")  # streams for seconds; cancelled once it showed progress
        page.get_by_role("button", name="Clear starts").click()
        page.get_by_role("button", name="Random starts").click()
        idle(page)

    repeat(page, "Landscape run (himmelblau)", repeats, lambda i: run.click(), prepare)
    page.context.close()

    page = open_page(browser, url, "mlp-moons")
    run_enabled(page)
    idle(page)
    set_value(page, "Points", "31")
    # not cancelled: a cancelled slice has no plane, and a click on it computes no spectrum
    repeat(page, "Landscape slice (mlp-moons)", repeats, lambda i: page.get_by_role("button", name="Slice").click(),
           cancel=False)
    surface = page.locator("canvas").first

    def click(i):
        box = surface.bounding_box()
        page.mouse.click(box["x"] + (0.35 + 0.1 * i) * box["width"], box["y"] + (0.4 + 0.05 * i) * box["height"])

    # the slice's plot is re-rendered once its job ended: waited for before the clock starts (until
    # 2026-12-02 the wait was inside the timed click, adding 3 s to every spectrum-click figure)
    repeat(page, "Spectrum click (mlp-moons)", repeats, click, prepare=lambda i: page.wait_for_timeout(3000),
           titles="(α, β)")
    page.context.close()


def ridge_rider_jobs(browser, url: str, repeats: int) -> None:
    page = open_page(browser, url, "rr-demo")
    open_tab(page, "Ridge Rider", page.get_by_role("button", name="Find MIS"))
    set_value(page, "Depth", "2")
    repeat(page, "Ridge Rider run (rr-demo)", repeats, lambda i: page.get_by_role("button", name="Run").click())
    page.context.close()


def surface_views(browser, url: str, repeats: int) -> None:
    page = open_page(browser, url, "rr-demo")
    run = page.get_by_role("button", name="Run")
    open_tab(page, "Critical Points", field(page, "Runs"))
    set_value(page, "Runs", "8")
    set_value(page, "Iterations", "200")
    repeat(page, "Critical Points run (rr-demo)", repeats, lambda i: run.click())
    open_tab(page, "Teleport", page.get_by_role("button", name="MLP (4×4 digits)"))
    repeat(page, "Teleport run (rr-demo)", repeats, lambda i: run.click())
    page.context.close()


def game_jobs(browser, url: str, repeats: int) -> None:
    page = open_page(browser, url, "matching-pennies")
    open_tab(page, "Games", page.get_by_role("button", name="Lyapunov map"))
    portrait = page.locator(".games-portrait canvas").first
    page.locator(".games-info").filter(has_text="fixed point").wait_for(timeout=LOAD_TIMEOUT_MS)

    def click(i):
        box = portrait.bounding_box()
        page.mouse.click(box["x"] + (0.55 + 0.05 * i) * box["width"], box["y"] + (0.35 + 0.05 * i) * box["height"])

    repeat(page, "Games trajectory (click)", repeats, click)
    set_value(page, "Resolution", "64")
    set_value(page, "Chunk", "256")
    repeat(page, "Games Lyapunov map", repeats, lambda i: page.get_by_role("button", name="Lyapunov map").click())
    repeat(page, "Games GRR", repeats, lambda i: page.get_by_role("button", name="GRR").click())
    page.context.close()


def coordination_jobs(browser, url: str, repeats: int) -> None:
    page = open_page(browser, url, "lever-game")
    open_tab(page, "Coordination", field(page, "Runs"))
    set_value(page, "Runs", "2")
    set_value(page, "First ridges", "2")
    repeat(page, "Coordination run (lever-game)", repeats, lambda i: page.get_by_role("button", name="Run").click())
    page.context.close()


#: Job groups of (b): Landscape run, slice and spectrum click; Ridge Rider; Critical Points and Teleport; Games;
#: Coordination: every view's main job.
JOBS = {"landscape": landscape_jobs, "ridge-rider": ridge_rider_jobs, "surfaces": surface_views, "games": game_jobs,
        "coordination": coordination_jobs}


def cache_entries(cache: str) -> int:
    """Files in the JAX compilation cache: with :func:`landscape.compilation.enable_persistent_cache`'s settings
    every compilation writes one, so entries added by a run are the compilations the cache did not serve."""
    return sum(1 for path in Path(cache).rglob("*") if path.is_file())


def jobs(url: str, args) -> None:
    print("\n(b) Click -> first feedback, -> first partial result (s): first run (compiles), median after")
    with chromium() as browser:
        for name in args.jobs.split(","):
            JOBS[name](browser, url, args.repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each job kind after the first")
    parser.add_argument("--old", type=Path, help="an older checkout: its Games first-open time too")
    parser.add_argument("--skip-jobs", action="store_true", help="only the Games first-open times")
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"job groups of (b), comma-separated: {', '.join(JOBS)}")
    parser.add_argument("--skip-first-open", action="store_true", help="only the job timings (b), on a warm cache")
    parser.add_argument("--root", type=Path, help="serve this checkout (an older commit, say) for the job timings")
    args = parser.parse_args()
    unknown = set(args.jobs.split(",")) - set(JOBS)
    if unknown:
        parser.error(f"--jobs: unknown {', '.join(sorted(unknown))}; choose from {', '.join(JOBS)}")
    print("# Time to feedback in the served dashboard (headless Chromium)")
    print("command: python3 -m benchmarks.bench_feedback", *(f"{k}={v}" for k, v in vars(args).items()))
    print(f"start: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {load_average()}")
    if args.skip_first_open:  # the user's cache, compiled by earlier runs: first feedback without compiling
        with served(str(cache_path()), **({"root": args.root.resolve()} if args.root else {})) as url:
            jobs(url, args)
        print(f"end: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {load_average()}")
        return
    cache = tempfile.mkdtemp(prefix="landscape-jax-cache-")
    print(f"\n(a) Games tab first-open, game mixed (JAX cache {cache})")
    if args.old:
        with served(None, root=args.old.resolve()) as url:
            print(f"  older checkout {args.old}  {games_first_open(url, old=True)}  ({load_average()})", flush=True)
    with served(cache) as url:
        print(f"  cold server, empty cache     {games_first_open(url)}  ({load_average()})", flush=True)
        if not args.skip_jobs:
            jobs(url, args)
    filled = cache_entries(cache)
    print(f"\n  JAX cache after the cold server: {filled} entries")
    with served(cache) as url:
        print(f"  second start, cache filled   {games_first_open(url)}  ({load_average()})", flush=True)
        if not args.skip_jobs:  # each job kind once more, on a fresh process: its first run should load, not compile
            jobs(url, argparse.Namespace(**{**vars(args), "repeats": 0}))
    print(f"  JAX cache after the second start: {cache_entries(cache)} entries "
          f"({cache_entries(cache) - filled} compilations it did not serve)")
    print(f"end: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {load_average()}")


if __name__ == "__main__":
    main()
