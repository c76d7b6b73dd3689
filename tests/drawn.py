"""What the run-history figures draw, read back run by run (``app.figures.landscape.curves_element``)."""

from __future__ import annotations

import holoviews as hv
import numpy as np


def curves_of(overlay):
    return [element for element in overlay if isinstance(element, hv.Curve)]


def split_runs(curve):
    """``(steps, values, label)`` of each run drawn by ``curve``: its runs are joined by NaN rows."""
    steps, values, labels = (curve.dimension_values(name) for name in ("step", "value", "run"))
    starts = np.r_[0, np.flatnonzero(np.isnan(steps)) + 1]
    ends = np.r_[starts[1:] - 1, len(steps)]
    return [(steps[a:b].astype(int), values[a:b], labels[a]) for a, b in zip(starts, ends)]


def curve_data(overlay):
    """``(steps, values)`` of every drawn run, curve by curve."""
    return [(steps, values) for curve in curves_of(overlay) for steps, values, _ in split_runs(curve)]
