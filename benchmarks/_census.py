"""``panel serve --setup`` script of :mod:`benchmarks.bench_load`: a census of live session objects.

On ``SIGUSR1`` the server prints one line to its log::

    CENSUS live {'Document': 3, 'AppState': 2, 'BaseView': 9} after-collect {'Document': 1, 'AppState': 0, ...}

counting the Bokeh Documents, :class:`app.state.AppState` objects and dashboard views alive, first as they
are (what the server's own garbage collection has left) and then after a full ``gc.collect()``.  A destroyed
session that is still counted after the collection is held by something (issue 14 item 8); one counted only
before it is garbage not yet collected.  The handler runs on the server's main thread between bytecodes.
"""

from __future__ import annotations

import gc
import signal


def _count() -> dict[str, int]:
    from bokeh.document import Document

    from app.state import AppState
    from app.views.base import BaseView

    kinds = {"Document": Document, "AppState": AppState, "BaseView": BaseView}
    counts = dict.fromkeys(kinds, 0)
    for thing in gc.get_objects():
        for name, kind in kinds.items():
            if isinstance(thing, kind):
                counts[name] += 1
    return counts


def census(_signal=None, _frame=None) -> None:
    live = _count()
    gc.collect()
    print(f"CENSUS live {live} after-collect {_count()}", flush=True)


signal.signal(signal.SIGUSR1, census)
