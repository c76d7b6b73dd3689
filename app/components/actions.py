"""A button for a view action that may refuse: the refusal becomes the runner's message."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn


def action_button(label: str, action: Callable[[], None], runner, width: int = 120) -> pn.widgets.Button:
    """A button calling ``action()``; a ``ValueError``/``RuntimeError`` it raises is shown as
    ``"Error: …"`` in ``runner.message`` (the status line), never as a traceback."""
    button = pn.widgets.Button(label=label, width=width)

    def click(_event) -> None:
        try:
            action()
        except (ValueError, RuntimeError) as error:
            runner.message = f"Error: {error}"

    button.on_click(click)
    return button
