"""The standalone HTML export opens offline: every resource inlined, no request leaves the machine."""

from __future__ import annotations

import re

import holoviews as hv
import numpy as np

from app.components.export import figure_bytes


def test_html_export_renders_with_the_network_blocked(tmp_path, page, assert_no_console_errors):
    x = np.linspace(0, 1, 20)
    figure = hv.Curve((x, x**2), "step", "loss", label="run") * hv.Curve((x, x), "step", "loss", label="test")
    html = figure_bytes(figure.opts(title="Loss against step"), "html").getvalue().decode()
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)  # nothing fetched from elsewhere
    path = tmp_path / "export.html"
    path.write_text(html)
    page.goto(path.as_uri())
    page.wait_for_selector("canvas", timeout=60_000)  # BokehJS ran from the inlined script
    assert_no_console_errors(page)
