"""Screenshots of every tab at 1280 and 1920 px, after runs on a 2-D surface, a network and a game, with
a check that every plotted line or scatter lies mostly inside its plot's ranges (issue 10 items 4 and 6).

Four sessions: rr-demo (a Landscape run, a Ridge Rider tree, a Critical Points run, a Teleport run),
mlp-moons (a Landscape run on the slice, a spectrum click, a Critical Points run), matching-pennies
(a Games trajectory and a Lyapunov map) and lever-game (a Coordination run).  After each tab's jobs
the page is shot at both widths (the viewport resized, so the layout reflows) into ``--out`` as
``<problem>_<tab>_<width>.png``, and the plotted data outside its plot's ranges is printed.  Look at the pictures: clipped panels, stretched
surfaces and empty axes are what this is for::

    python3 -m benchmarks.screenshots --out /tmp/shots
"""

from __future__ import annotations

import argparse
import contextlib
import re
import tempfile
import time
from pathlib import Path

from benchmarks._served import (
    LOAD_TIMEOUT_MS, chromium, field, idle, load_average, open_page, open_tab, run_enabled, served, set_value
)  # fmt: skip
from landscape.compilation import cache_path
from tests.browser.test_teleport import IN_VIEW_JS

WIDTHS = (1280, 1920)
HEIGHT = 2800  # tall enough for every tab: the template scrolls its main area inside the page


def finished(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator("pre:visible", has_text=re.compile(r"^(Done|Error: .*)$")).first).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    idle(page)


def shoot(page, out: Path, name: str) -> None:
    """The page at every width; the plotted data outside its ranges, printed."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.wait_for_timeout(2500)  # Bokeh re-lays out the plots
        page.screenshot(path=out / f"{name}_{width}.png")
        outside = [g for g in page.evaluate(IN_VIEW_JS) if g[2] < g[1] / 2]
        print(f"  {name}_{width}.png: {len(page.evaluate(IN_VIEW_JS))} plotted glyphs"
              + "".join(f"\n    OUT OF VIEW {t!r}: {inside} of {n} points inside {r}" for t, n, inside, r in outside),
              flush=True)  # fmt: skip


def surface(browser, url: str, out: Path) -> None:
    page = open_page(browser, url, "rr-demo", WIDTHS[0], HEIGHT)
    run = page.get_by_role("button", name="Run")
    run_enabled(page)
    page.get_by_role("button", name="Random starts").click()
    idle(page)
    run.click()
    finished(page)
    shoot(page, out, "rr-demo_landscape")
    open_tab(page, "Ridge Rider", page.get_by_role("button", name="Find MIS"))
    set_value(page, "Depth", "1")
    run.click()
    finished(page)
    page.locator(".solution-tree canvas").first.scroll_into_view_if_needed()
    shoot(page, out, "rr-demo_ridge-rider")
    open_tab(page, "Critical Points", field(page, "Runs"))
    set_value(page, "Runs", "6")
    set_value(page, "Iterations", "60")
    run.click()
    finished(page)
    shoot(page, out, "rr-demo_critical-points")
    open_tab(page, "Teleport", page.get_by_role("button", name="MLP (4×4 digits)"))
    run.click()
    finished(page)
    shoot(page, out, "rr-demo_teleport")
    open_tab(page, "Games", page.get_by_text("is not a game", exact=False).first)
    shoot(page, out, "rr-demo_games")
    page.context.close()


def network(browser, url: str, out: Path) -> None:
    page = open_page(browser, url, "mlp-moons", WIDTHS[0], HEIGHT)
    run_enabled(page)
    idle(page)
    page.get_by_role("button", name="Random starts").click()
    idle(page)
    set_value(page, "Steps", "150")
    page.get_by_role("button", name="Run").click()
    finished(page)
    plot = page.locator("canvas").first
    box = plot.bounding_box()
    page.mouse.click(box["x"] + 0.4 * box["width"], box["y"] + 0.45 * box["height"])
    page.wait_for_timeout(1000)
    idle(page)
    shoot(page, out, "mlp-moons_landscape")
    open_tab(page, "Critical Points", field(page, "Runs"))
    set_value(page, "Runs", "3")
    set_value(page, "Iterations", "20")
    page.get_by_role("button", name="Run").click()
    finished(page)
    shoot(page, out, "mlp-moons_critical-points")
    for tab, key in (("Ridge Rider", "ridge-rider"), ("Teleport", "teleport"), ("Games", "games")):
        page.locator(".bk-tab", has_text=tab).first.click()
        page.wait_for_timeout(8000)
        idle(page)
        shoot(page, out, f"mlp-moons_{key}")
    page.context.close()


def game(browser, url: str, out: Path) -> None:
    from playwright.sync_api import Error, expect

    page = open_page(browser, url, "matching-pennies", WIDTHS[0], HEIGHT)
    open_tab(page, "Games", page.get_by_role("button", name="Lyapunov map"))
    page.locator(".games-info").filter(has_text="fixed point").wait_for(timeout=LOAD_TIMEOUT_MS)
    portrait = page.locator(".games-portrait canvas").first
    box = portrait.bounding_box()
    page.mouse.click(box["x"] + 0.62 * box["width"], box["y"] + 0.38 * box["height"])
    finished(page)
    set_value(page, "Resolution", "48")
    page.get_by_role("button", name="Lyapunov map").click()
    with contextlib.suppress(Error):  # the trajectory's "Done" is still shown until the map's job starts
        expect(page.locator("pre:visible", has_text=re.compile(r"^(Compiling|Queued|\d+ / )")).first).to_be_visible(
            timeout=30_000)
    finished(page)
    shoot(page, out, "matching-pennies_games")
    page.locator(".bk-tab", has_text="Landscape").first.click()
    page.wait_for_timeout(5000)
    shoot(page, out, "matching-pennies_landscape")
    page.context.close()


def coordination(browser, url: str, out: Path) -> None:
    page = open_page(browser, url, "lever-game", WIDTHS[0], HEIGHT)
    open_tab(page, "Coordination", field(page, "Runs"))
    page.get_by_role("button", name="Run").click()
    finished(page)
    shoot(page, out, "lever-game_coordination")
    page.context.close()


PARTS = {"surface": surface, "network": network, "game": game, "coordination": coordination}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="landscape-shots-")))
    parser.add_argument("--only", choices=tuple(PARTS), nargs="*")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"# Screenshots into {args.out}; start {time.strftime('%H:%M:%S UTC', time.gmtime())}, {load_average()}")
    with served(str(cache_path())) as url, chromium() as browser:  # the user's cache: compiled by earlier runs
        for part in args.only or PARTS:
            PARTS[part](browser, url, args.out)
    print(f"end {time.strftime('%H:%M:%S UTC', time.gmtime())}, {load_average()}")


if __name__ == "__main__":
    main()
