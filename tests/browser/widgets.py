"""Finding and setting the dashboard's labelled Bokeh inputs in a Playwright page (browser tests and benchmarks)."""

from __future__ import annotations


def field(page, label: str, tag: str = "input", visible: bool = False):
    """The ``tag`` element (``input``, ``select``, ``textarea``) of the input group labelled ``label``
    (only a visible one with ``visible``: a page that keeps other tabs' inputs hidden)."""
    return page.locator(f".bk-input-group:has(label:text-is('{label}')) {tag}" + (":visible" if visible else ""))


def set_value(page, label: str, value: str, visible: bool = False) -> None:
    """Type ``value`` into the input labelled ``label`` and wait until the page holds it."""
    from playwright.sync_api import expect

    box = field(page, label, visible=visible)
    box.fill(value)
    box.press("Tab")  # Bokeh commits the typed value on change
    expect(box).to_have_value(value)


def choose(page, label: str, value: str) -> None:
    """Select ``value`` in the drop-down labelled ``label``."""
    field(page, label, "select").select_option(value)
