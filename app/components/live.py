"""Streaming polylines drawn straight into Bokeh data sources.

Re-rendering a HoloViews overlay costs tens of milliseconds per element on a
busy 2-core server, and a run streams many chunks a second; pushing each
chunk through ``hv.streams.Pipe`` kept the event loop busy for most of a run
(measured: ~0.4-1 s per update of 12 paths).  :class:`LivePaths` instead adds
one Bokeh ``MultiLine`` (paths) and one ``Scatter`` (their latest points) to a
HoloViews plot through a plot hook and updates only their
``ColumnDataSource``\\ s: an update is one small document patch.

Use: ``live = LivePaths()``; ``element.opts(hooks=[live.hook])`` on the plot
(a Bokeh figure with fixed ``xlim``/``ylim``: these glyphs never change the
ranges, so the user's zoom survives streaming); ``live.show(rows)`` with rows
``{"x": array, "y": array, "color": str}``.  On a server, updates are
scheduled as next-tick callbacks of the figure's document, which Bokeh runs
under the document lock.  Exported
figures do not use this: they are rebuilt from stored data.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource

_TAG = "landscape-live-paths"


def _columns(rows: list[dict]) -> tuple[dict, dict]:
    paths = {
        "xs": [np.asarray(row["x"]) for row in rows],
        "ys": [np.asarray(row["y"]) for row in rows],
        "color": [row["color"] for row in rows],
    }
    ends = [row for row in rows if len(row["x"])]
    heads = {
        "x": np.array([row["x"][-1] for row in ends], dtype=float),
        "y": np.array([row["y"][-1] for row in ends], dtype=float),
        "color": [row["color"] for row in ends],
    }
    return paths, heads


class LivePaths:
    """Polylines and their end points, streamed into every figure they were hooked into."""

    def __init__(self, line_width: float = 2.5, head_size: float = 8) -> None:
        self.line_width = line_width
        self.head_size = head_size
        self.rows: list[dict] = []
        self._sources: list[tuple[ColumnDataSource, ColumnDataSource]] = []

    def hook(self, plot, element) -> None:
        """HoloViews plot hook: add the glyphs once per Bokeh figure."""
        figure = plot.state
        if any(True for _ in figure.select({"tags": _TAG})):
            return
        paths, heads = (ColumnDataSource(data) for data in _columns(self.rows))
        figure.multi_line(
            xs="xs", ys="ys", line_color="color", line_width=self.line_width, source=paths, tags=[_TAG]
        )
        figure.scatter(
            x="x", y="y", fill_color="color", line_color="white", size=self.head_size, source=heads
        )
        self._sources.append((paths, heads))

    def forget_figures(self) -> None:
        """Drop the figures hooked so far (call before replacing the plot)."""
        self._sources = []

    def show(self, rows: list[dict]) -> None:
        """Replace the drawn paths by ``rows``."""
        self.rows = rows
        paths_data, heads_data = _columns(rows)
        for paths, heads in self._sources:

            def assign(paths=paths, heads=heads) -> None:
                paths.data = paths_data
                heads.data = heads_data

            doc = paths.document
            if doc is not None and doc.session_context is not None:
                doc.add_next_tick_callback(assign)  # served: change the document under its lock
            else:
                assign()
