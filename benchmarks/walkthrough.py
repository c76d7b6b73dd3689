"""Six researchers at once walk through every tab (issue 10 item 1's flows, exports included) and count lost
actions: an action that within ``--timeout`` seconds neither takes effect nor shows a message saying why not.

Every session (its own browser context) runs, step by step in lock-step with the others (each step is
first done in every session, then checked in every session, so the server sees them at once):

1. Landscape on rr-demo: random starts, 200 steps, Run -> "Done"; netCDF export -> a file whose
   ``config`` has the session's step count;
2. Ridge Rider: Find MIS -> "MIS: loss"; depth 1, rides 1 + i mod 4 (its own per session), Run -> "Done";
   netCDF export -> a tree whose config has that depth and node budget;
3. Critical Points: method damped Newton, runs 2 + i, 15 iterations, Run -> "Done" and the summary
   names both; netCDF export -> ``config`` method damped-newton and 2 + i runs; the Run picker lists them;
4. Teleport: the MLP toggle shows its Objective input, the 2-D toggle hides it; Run -> "Done" and the
   teleport report;
5. Games: the sidebar picks matching-pennies; resolution 24 + i, Lyapunov map -> "Done"; netCDF export
   -> a map of that resolution;
6. Coordination: the sidebar picks lever-game; runs 2 + i mod 2, 2 first ridges, Run -> "Done"; netCDF
   export -> ``config`` with those counts; "Analyse the selected solution" -> Critical Points shows its
   Newton-MR run from that point.

A step whose page shows an ``Error: …`` status instead is a refused action (counted, not lost).  A lost
action leaves, in the printed folder, the session's screenshot, its browser console and the page's visible
status lines at the moment the script gave up (the server's log path is printed at the start)::

    python3 -m benchmarks.walkthrough                 # 6 sessions
    python3 -m benchmarks.walkthrough --sessions 2 --timeout 300
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import xarray as xr

from benchmarks._served import LOAD_TIMEOUT_MS, chromium, field, load_average, open_page, served, set_value
from landscape.compilation import cache_path
from landscape.results import config_of

DONE = re.compile(r"^(Done|Cancelled at \d+%|Error: .*)$")


def status_done(page):
    return page.locator("pre:visible", has_text=DONE).first


def click(page, name: str) -> None:
    page.get_by_role("button", name=name).click()


def download(page, name: str, folder: Path, timeout_ms: float) -> xr.Dataset:
    """Click the visible export button ``name``; the downloaded netCDF, opened."""
    with page.expect_download(timeout=timeout_ms) as event:
        page.locator("button:visible", has_text=re.compile(rf"^\s*{name}\s*$")).first.click()
    path = folder / f"{time.monotonic_ns()}_{event.value.suggested_filename}"
    event.value.save_as(path)
    return xr.load_dataset(path)


def rides(i: int) -> int:
    """Session ``i``'s ride budget: 1 to 4 (rr-demo's two ridges at depth 1 give four rides at most)."""
    return 1 + i % 4


def steps(folder: Path, budget):
    """The walkthrough: ``(name, act(page, i), check(page, i))``; a check raises if the action was lost.
    ``budget()``: milliseconds left for the step (all sessions acted at once, so they share one deadline)."""
    from playwright.sync_api import expect

    def finished(page) -> None:
        expect(status_done(page)).to_be_visible(timeout=budget())
        text = status_done(page).inner_text()
        if text.startswith("Error"):
            raise Refused(text)

    def landscape_run(page, i):
        click(page, "Random starts")
        set_value(page, "Steps", str(200 + i))
        expect(page.get_by_role("button", name="Run")).to_be_enabled(timeout=budget())
        click(page, "Run")

    def landscape_export(page, i):
        data = download(page, "netCDF", folder, budget())
        assert config_of(data)["steps"] == 200 + i, config_of(data)

    def rr_mis(page, i):
        page.locator(".bk-tab", has_text="Ridge Rider").first.click()
        expect(page.get_by_role("button", name="Find MIS")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        click(page, "Find MIS")

    def rr_run(page, i):
        set_value(page, "Depth", "1")
        set_value(page, "Rides", str(rides(i)))
        click(page, "Run")

    def rr_tree(page, i):  # "Done" may still be Find MIS's: the tree's own line says the run ended
        expect(page.get_by_text(re.compile(rf"^Tree: \d+ nodes, {rides(i)} rides, ")).first).to_be_visible(
            timeout=budget())
        finished(page)

    def rr_export(page, i):
        tree = download(page, "netCDF", folder, budget())
        config = config_of(tree)["ridge_rider"]
        assert (config["max_depth"], config["max_nodes"]) == (1, rides(i)), config

    def cp_run(page, i):
        page.locator(".bk-tab", has_text="Critical Points").first.click()
        expect(field(page, "Runs")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        field(page, "Method", "select").select_option(label="damped Newton (Alg. 11)")
        set_value(page, "Runs", str(2 + i))
        set_value(page, "Iterations", "15")
        click(page, "Run")

    def cp_check(page, i):
        finished(page)
        expect(page.get_by_text(re.compile(rf"^{2 + i} runs of damped Newton \(Alg\. 11\):"))).to_be_visible(
            timeout=budget())
        data = download(page, "netCDF", folder, budget())
        assert config_of(data)["method"]["name"] == "damped-newton" and data.sizes["run"] == 2 + i, config_of(data)
        options = field(page, "Run", "select").locator("option").all_inner_texts()
        assert len(options) == 3 + i, options

    def teleport_toggle(page, i):
        page.locator(".bk-tab", has_text="Teleport").first.click()
        expect(page.get_by_role("button", name="MLP (4×4 digits)")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        click(page, "MLP (4×4 digits)")

    def teleport_back(page, i):
        expect(page.get_by_text("Objective", exact=True)).to_be_visible(timeout=budget())
        click(page, "2-D surface")
        expect(page.get_by_text("Objective", exact=True)).to_be_hidden(timeout=budget())
        click(page, "Run")

    def teleport_check(page, i):
        finished(page)
        expect(page.get_by_text(re.compile(r"^teleport at epoch 0: "))).to_be_visible(timeout=budget())

    def games_map(page, i):
        field(page, "Problem", "select").select_option("matching-pennies")
        page.locator(".bk-tab", has_text="Games").first.click()
        expect(page.get_by_role("button", name="Lyapunov map")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        set_value(page, "Resolution", str(24 + i))
        click(page, "Lyapunov map")

    def games_export(page, i):
        finished(page)
        data = download(page, "netCDF", folder, budget())
        assert 24 + i in data.sizes.values(), dict(data.sizes)  # the session's own resolution reached the map

    def coordination_run(page, i):
        field(page, "Problem", "select").select_option("lever-game")
        page.locator(".bk-tab", has_text="Coordination").first.click()
        expect(field(page, "Runs")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        set_value(page, "Runs", str(2 + i % 2))
        set_value(page, "First ridges", "2")
        click(page, "Run")

    def coordination_check(page, i):
        finished(page)
        data = download(page, "netCDF", folder, budget())
        config = config_of(data)
        assert (config["problem"], config["n_runs"], config["n_ridges"]) == ("lever-game", 2 + i % 2, 2), config
        click(page, "Analyse the selected solution")  # Critical Points runs Newton-MR from that solution
        expect(page.get_by_text(re.compile(r"^1 runs of Newton-MR")).first).to_be_visible(timeout=budget())

    def mis_shown(page, i):
        expect(page.get_by_text(re.compile(r"^MIS: loss ")).first).to_be_visible(timeout=budget())

    return [
        ("Landscape Run", landscape_run, lambda page, i: finished(page)),
        ("Landscape netCDF export", lambda page, i: None, landscape_export),
        ("Ridge Rider Find MIS", rr_mis, mis_shown),
        ("Ridge Rider Run", rr_run, rr_tree),
        ("Ridge Rider netCDF export", lambda page, i: None, rr_export),
        ("Critical Points settings + Run + export", cp_run, cp_check),
        ("Teleport MLP toggle", teleport_toggle, lambda page, i: None),
        ("Teleport 2-D toggle + Run", teleport_back, teleport_check),
        ("Games (matching-pennies) resolution + Lyapunov map + export", games_map, games_export),
        ("Coordination (lever-game) runs + Run + export + Analyse", coordination_run, coordination_check),
    ]


def keep_evidence(page, folder: Path, name: str, console: list[str]) -> Path:
    """What session page showed when its action was given up: a screenshot, its console, its status lines."""
    stem = folder / re.sub(r"\W+", "-", name).strip("-")
    page.screenshot(path=f"{stem}.png", full_page=True)
    shown = page.evaluate("""() => { const out = [];
      const walk = root => { for (const el of root.querySelectorAll('*')) {
        if ((el.tagName === 'PRE' || el.classList.contains('alert') || el.tagName === 'BUTTON')
            && el.checkVisibility && el.checkVisibility()) out.push(el.tagName + ': ' + (el.shadowRoot || el).textContent.trim());
        if (el.shadowRoot) walk(el.shadowRoot); } };
      walk(document); return out; }""")
    Path(f"{stem}.json").write_text(json.dumps({"console": console, "shown": shown}, indent=1, ensure_ascii=False))
    return stem


class Refused(Exception):
    """The page said why the action did not happen (an ``Error: …`` status): not a lost action."""


def main() -> None:
    from playwright.sync_api import Error as PlaywrightError

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=300, help="seconds an action may take to show its effect")
    args = parser.parse_args()
    print("# Six-session walkthrough: lost actions")
    print("command: python3 -m benchmarks.walkthrough", *(f"{k}={v}" for k, v in vars(args).items()))
    print(f"start: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {load_average()}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="landscape-walkthrough-"))
    lost, refused, done = [], [], 0
    with served(str(cache_path())) as url, chromium() as browser:  # the user's cache: compiled by earlier runs
        pages = [open_page(browser, url, "rr-demo") for _ in range(args.sessions)]
        consoles: list[list[str]] = [[] for _ in pages]
        for page, console in zip(pages, consoles):
            page.on("console", lambda message, console=console: console.append(
                f"{time.strftime('%H:%M:%S')} {message.type}: {message.text[:500]}"))
        print(f"  evidence of lost actions: {folder}", flush=True)
        alive = list(range(args.sessions))
        deadline = [0.0]
        for name, act, check in steps(folder, lambda: max(5_000, (deadline[0] - time.monotonic()) * 1000)):
            start = time.monotonic()
            deadline[0] = start + args.timeout
            for phase in (act, check):
                for i in list(alive):
                    try:
                        phase(pages[i], i)
                        done += phase is check
                    except Refused as why:
                        refused.append(f"session {i}: {name}: {why}")
                    except (PlaywrightError, AssertionError) as error:
                        lines = str(error).splitlines()  # the first line, and the locator Playwright waited for
                        waited = next((line.strip() for line in lines if "waiting for" in line), "")
                        lost.append(f"session {i}: {name}: {lines[0][:200]} {waited[:200]}")
                        lost[-1] += f" (evidence {keep_evidence(pages[i], folder, f'session {i} {name}', consoles[i])}.*)"
                        alive.remove(i)  # its later steps depend on this one
                    if phase is check and any(text.startswith(f"session {i}: {name}") for text in lost + refused):
                        print(f"  {lost[-1] if lost and lost[-1].startswith(f'session {i}') else refused[-1]}")
            print(f"  {name:<42} {time.monotonic() - start:6.1f} s in {len(alive)} sessions  ({load_average()})",
                  flush=True)
    total = args.sessions * len(steps(folder, lambda: 0))
    print(f"actions checked: {done} of {total}; refused with a message: {len(refused)}; LOST: {len(lost)}")
    for text in lost + refused:
        print("  ", text)
    print(f"end: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {load_average()}")


if __name__ == "__main__":
    main()
