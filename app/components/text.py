"""The one place where text from users or problems becomes HTML.

DESIGN.md ("Every text shown to a user that came from a user or a problem is
escaped by one helper") and issue 14: a custom surface's expression, a
problem's name or description, a file name or an engine message may contain
``<script>``, ``<img onerror=…>`` or Markdown that mangles formulas
(``x**2`` would turn bold).  Views never put such text into a Markdown pane
or an f-string of HTML themselves; they call :func:`escape` (for a fragment
inside their own trusted markup) or :func:`text_pane` (for a whole pane).
"""

from __future__ import annotations

import html

import panel as pn


def escape(text: object) -> str:
    """``text`` as inert HTML: ``& < > " '`` become entities; nothing is interpreted."""
    return html.escape(str(text), quote=True)


def text_pane(text: object = "", **params) -> pn.pane.HTML:
    """An HTML pane showing ``text`` literally (escaped, whitespace kept as typed)."""
    params.setdefault("sizing_mode", "stretch_width")
    pane = pn.pane.HTML("", **params)
    set_text(pane, text)
    return pane


def set_text(pane: pn.pane.HTML, text: object, *, strong: object | None = None) -> None:
    """Show ``text`` (escaped) in ``pane``, after an optional bold ``strong`` prefix (escaped too)."""
    prefix = f"<b>{escape(strong)}</b> " if strong is not None else ""
    pane.object = f'<span style="white-space: pre-wrap">{prefix}{escape(text)}</span>'
