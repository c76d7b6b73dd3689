"""Streamed figures follow their data (issue 10 item 4): the Bokeh ranges after a new result contain it."""

from __future__ import annotations

import holoviews as hv
import numpy as np

from app.components.styles import styled


def _ranges_after_update(figure):
    pipe = hv.streams.Pipe(data=None)
    plot = hv.renderer("bokeh").get_plot(hv.DynamicMap(figure, streams=[pipe]))
    pipe.send(1)
    return plot.handles["x_range"], plot.handles["y_range"]


def test_a_streamed_overlay_styled_framewise_takes_the_ranges_of_each_new_result():
    steps, loss = np.arange(10.0), -np.linspace(0.42, 3.5, 10)

    def figure(data):
        curves = [hv.Curve([])] if data is None else [hv.Curve((steps, loss)), hv.Curve((steps, loss / 2))]
        return styled(hv.Overlay(curves), framewise=True)

    x_range, y_range = _ranges_after_update(figure)
    assert x_range.start <= steps.min() and x_range.end >= steps.max()
    assert y_range.start <= loss.min() and y_range.end >= loss.max() / 2
