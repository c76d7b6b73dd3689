"""The solution-tree plot shared by Ridge Rider and generalized Ridge Rider.

Draws any tree Dataset in the :mod:`landscape.tree` format (only the ``node``
variables ``parent``, ``depth``, ``fingerprint``, ``loss`` and, if present,
``status`` and ``eigenvalue`` are read): nodes at :func:`landscape.tree.layout`
positions, edges from each node to its parent, nodes coloured by loss and
labelled by their fingerprint Ψ, open (not yet ridden) nodes hollow.
:func:`tree_element` is the static figure (for exports, both backends);
:class:`TreePlot` is the live, streamed version with tap-to-select: tapping a
node sets its ``selected`` parameter to the node id.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape.tree import layout

from .styles import styled

#: Plot frame (pixels) of the live tree; fixed so clicks map to nodes predictably.
FRAME = (640, 300)
#: Minimum border (pixels) around the frame of the live tree.
BORDER = 8
#: Data-space margin around the nodes (in layout units).
MARGIN = 0.6


def tree_frame(tree: xr.Dataset | None) -> dict[str, np.ndarray]:
    """Columns of the node and edge glyphs: positions, ids, labels, loss, status."""
    if tree is None or tree.sizes.get("node", 0) == 0:
        empty = np.zeros(0)
        return {"x": empty, "y": empty, "node": empty.astype(int), "fingerprint": empty.astype(str),
                "loss": empty, "status": empty.astype(str), "eigenvalue": empty, "edges": np.zeros((0, 4))}
    x, y = layout(tree)
    parent = tree.parent.values
    has_parent = parent >= 0
    edges = np.column_stack([x[has_parent], y[has_parent], x[parent[has_parent]], y[parent[has_parent]]])
    n = tree.sizes["node"]
    fingerprint = np.asarray([fp if fp else "root" for fp in tree.fingerprint.values.astype(str)])
    status = tree.status.values.astype(str) if "status" in tree else np.full(n, "")
    eigenvalue = tree.eigenvalue.values.astype(float) if "eigenvalue" in tree else np.full(n, np.nan)
    return {"x": x, "y": y, "node": tree.node.values.astype(int), "fingerprint": fingerprint,
            "loss": tree.loss.values.astype(float), "status": status, "eigenvalue": eigenvalue, "edges": edges}


def _limits(frame) -> tuple[tuple[float, float], tuple[float, float]]:
    if len(frame["x"]) == 0:
        return (-1.0, 1.0), (-1.0, 1.0)
    return ((frame["x"].min() - MARGIN, frame["x"].max() + MARGIN),
            (frame["y"].min() - MARGIN, frame["y"].max() + MARGIN))


def _points(frame, which: str) -> hv.Points:
    """``which="done"``: ridden nodes, coloured by loss (the tap target); ``"open"``: queued ones."""
    keep = (frame["status"] != "open") if which == "done" else (frame["status"] == "open")
    table = {k: frame[k][keep] for k in ("x", "y", "node", "fingerprint", "loss", "status", "eigenvalue")}
    points = hv.Points(table, kdims=["x", "y"], vdims=["node", "fingerprint", "loss", "status", "eigenvalue"])
    if which == "open":
        return styled(points, color="white", bokeh={"size": 10, "line_color": "gray", "tools": ["hover"]},
                      matplotlib={"s": 40, "edgecolors": "gray"})
    return styled(
        points, color="loss", cmap="viridis", colorbar=True,
        bokeh={"size": 16, "line_color": "black", "tools": ["hover", "tap"], "nonselection_alpha": 1.0,
               "selection_alpha": 1.0},
        matplotlib={"s": 120, "edgecolors": "black"},
    )


def _ring(frame, selected: int) -> hv.Points:
    chosen = np.flatnonzero(frame["node"] == selected)
    return styled(
        hv.Points((frame["x"][chosen], frame["y"][chosen]), kdims=["x", "y"]),
        color="red",
        bokeh={"size": 28, "line_color": "red", "line_width": 3, "fill_alpha": 0},
        matplotlib={"s": 300, "edgecolors": "red", "facecolors": "none", "linewidth": 2},
    )


def _labels(frame) -> hv.Labels:
    return styled(
        hv.Labels((frame["x"], frame["y"] + 0.22, frame["fingerprint"]), kdims=["x", "y"], vdims=["fingerprint"]),
        bokeh={"text_font_size": "9pt", "text_color": "#333333"},
        matplotlib={"size": 7, "color": "#333333"},
    )


def _edges(frame) -> hv.Segments:
    return styled(hv.Segments(frame["edges"], kdims=["x0", "y0", "x1", "y1"]), color="gray", alpha=0.7)


def tree_element(tree: xr.Dataset | None, selected: int = -1, title: str = "Solution tree") -> hv.Overlay:
    """The whole tree as one overlay (edges, nodes coloured by loss, fingerprint labels)."""
    frame = tree_frame(tree)
    xlim, ylim = _limits(frame)
    return styled(
        _edges(frame) * _points(frame, "open") * _points(frame, "done") * _ring(frame, selected) * _labels(frame),
        title=title, xlim=xlim, ylim=ylim, xaxis=None, yaxis=None,
        bokeh={"frame_width": FRAME[0], "frame_height": FRAME[1], "toolbar": None, "border": 8},
        matplotlib={"fig_inches": (8, 4)},
    )


class TreePlot(pn.viewable.Viewer):
    """A live solution-tree plot: :meth:`show` a tree Dataset (any number of times while
    it grows); tapping a ridden node sets ``selected`` to its node id."""

    selected = param.Integer(default=-1, doc="Node id picked by tapping (-1: none).")
    title = param.String(default="Solution tree: tap a node")

    def __init__(self, **params):
        super().__init__(**params)
        self._frame = tree_frame(None)
        self._pipe = hv.streams.Pipe(data=(self._frame, -1))

        def layer(draw):
            return hv.DynamicMap(lambda data: draw(*data), streams=[self._pipe])

        def done(frame, _selected):
            xlim, ylim = _limits(frame)
            return _points(frame, "done").opts(xlim=xlim, ylim=ylim, framewise=True, backend="bokeh")

        done_map = layer(done)
        self._tap = hv.streams.Selection1D(source=done_map)
        self._tap.add_subscriber(self._on_tap)
        plot = (
            layer(lambda frame, _: _edges(frame)) * layer(lambda frame, _: _points(frame, "open")) * done_map
            * layer(_ring) * layer(lambda frame, _: _labels(frame))
        ).opts(
            xaxis=None, yaxis=None, toolbar=None, border=BORDER,
            frame_width=FRAME[0], frame_height=FRAME[1], backend="bokeh",
        )
        # No Bokeh title: the frame then starts BORDER pixels from the canvas' top-left corner.
        self._pane = pn.pane.HoloViews(plot, css_classes=["solution-tree"], margin=0)
        self._header = pn.pane.Markdown(f"**{self.title}**", margin=(0, 10))

    def show(self, tree: xr.Dataset | None) -> None:
        """Draw ``tree`` (``None`` clears); keeps the selection if the node still exists."""
        self._frame = tree_frame(tree)
        if self.selected not in set(self._frame["node"].tolist()):
            self.selected = -1
        self._send()

    def limits(self):
        """``(xlim, ylim)`` of the current picture (the frame spans exactly these)."""
        return _limits(self._frame)

    @param.depends("selected", watch=True)
    def _send(self) -> None:
        self._pipe.send((self._frame, self.selected))

    def _on_tap(self, index=None) -> None:
        if not index:
            return
        finished = self._frame["node"][self._frame["status"] != "open"]
        if 0 <= index[0] < len(finished):
            self.selected = int(finished[index[0]])

    def __panel__(self):
        return pn.Column(self._header, self._pane)
