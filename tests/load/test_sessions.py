"""Several researchers at once (issue 14 item 8), reduced for CI: 4 browser sessions on different
problems, each running a job, cancelling and switching tabs, in 2 waves.

Every awaited page state (page built, job accepted, "Done"/"Cancelled at", the Critical Points tab
built) is reached within the driver's bounded timeouts, no cross-talk between sessions, one more
session's page loads while the jobs run, the server's memory returns to within 20% of its post-warm-up
baseline after each wave, no AppState or view of a destroyed session is left in the server after
a full collection (sessions release what they built; ``benchmarks._census``), no traceback in the
server log. The full form (10 sessions, 3 waves, timings) is ``python3 -m benchmarks.bench_load``.
Needs Chromium and Playwright (skipped without them, except under ``CI=true``).
"""

from __future__ import annotations

import math
import os
import shutil

import pytest

pytestmark = pytest.mark.load


def test_sessions_in_waves_do_not_interfere_and_release_their_memory(request):
    if "load" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("about 5.5 min on a 2-core machine: run with -m load")
    from benchmarks.bench_load import CHROMIUM, run_load

    if not shutil.which(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the load test must run under CI=true, but Chromium is not installed at {CHROMIUM}")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    pytest.importorskip("playwright")
    figures = run_load(sessions=4, waves=2)
    assert figures.failures == []
    assert figures.cross_talk == []
    assert all(math.isfinite(seconds) for seconds in figures.extra_load_s), "the extra session's page did not load"
    for wave, rss in enumerate(figures.after_wave_mb, 1):
        assert rss <= 1.2 * figures.baseline_mb, f"wave {wave}: {rss:.0f} MB vs baseline {figures.baseline_mb:.0f} MB"
    for wave, (_live, collected) in enumerate(figures.census):  # 0: the warm-up wave
        held = {kind: collected.get(kind) for kind in ("AppState", "BaseView")}
        assert held == {"AppState": 0, "BaseView": 0}, f"wave {wave}: destroyed sessions still held: {held}"
    assert figures.tracebacks == []
