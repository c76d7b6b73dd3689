"""Options applied to both plotting backends.

Live plots render with Bokeh; figure exports render the *same* HoloViews
objects with matplotlib (no browser).  ``.opts(...)`` without a backend only
styles the current one, so shared components style through :func:`styled`.
"""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh renderer)
import holoviews.plotting.mpl  # noqa: F401  (registers the matplotlib renderer for exports)

#: Stable colours for categorical series (optimizers, kinds), from Bokeh's Category10.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def color_map(keys) -> dict[str, str]:
    """Assign palette colours to ``keys`` in order (cycling)."""
    return {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(keys)}


def styled(element, bokeh: dict | None = None, matplotlib: dict | None = None, **common):
    """Apply options to ``element`` for both backends and return it.

    ``common`` holds options both backends accept (``cmap``, ``color``,
    ``alpha``, ``colorbar``, ...); ``bokeh``/``matplotlib`` hold the rest.
    """
    if "framewise" in common and not isinstance(element, hv.Element):
        # a norm option HoloViews reads on each element, not on the overlay holding them: set on the
        # overlay alone, a streamed overlay keeps the ranges of its first (empty) frame
        element = element.map(lambda leaf: styled(leaf, framewise=common["framewise"]), hv.Element)
    element = element.opts(backend="bokeh", **common, **(bokeh or {}))
    return element.opts(backend="matplotlib", **common, **(matplotlib or {}))
