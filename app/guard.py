"""Values a browser sends that its widgets would never send: refused with a message, no traceback.

A client can set any widget property directly over the websocket, bypassing
the widget's own bounds and options (issue 14: ``steps = 999999999``, a
``Select`` value ``../../etc/passwd``).  Panel then fails while applying the
change (param's bound check, or the widget's option lookup), logs the
traceback and re-raises it into ``pn.config.exception_handler``.

:func:`install` puts :func:`handle` there and a filter on Panel's
``panel.reactive`` logger.  An error raised entirely inside Panel, param or
Bokeh (no frame of this project's ``app/`` or ``landscape/`` code in its
traceback) while applying a client's change is such a refusal: the filter
drops its traceback, the value is not applied (the server keeps the previous
one), and the session's :attr:`AppState.message` says which setting refused
what kind of value.  The message is built from the parameter's name and the
bound only, never from the client's text.  Any other error, a bug in our
code, is logged with its traceback as before.
"""

from __future__ import annotations

import logging
import re
import weakref
from pathlib import Path

import panel as pn

import app
import landscape

log = logging.getLogger(__name__)

_PROJECT = tuple(str(Path(package.__file__).parent) for package in (app, landscape))
_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Bokeh Document -> AppState
_PANEL_FAILURE = "Callback failed for object named"


def is_refusal(exception: BaseException) -> bool:
    """Whether ``exception`` is a client value refused by Panel/param themselves (no project frame)."""
    if not isinstance(exception, (ValueError, TypeError)):
        return False
    tb = exception.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_PROJECT):
            return False
        tb = tb.tb_next
    return True


def refusal_message(exception: BaseException) -> str:
    """What to tell the user, from the parameter name and bound only (never the client's text)."""
    text = str(exception)
    name = re.search(r"parameter '([\w.]+)'", text)
    setting = f"'{name.group(1).split('.')[-1]}'" if name else "a setting"
    bound = re.search(r"must be (at most|at least|less than|greater than) (-?[\d.]+(?:e[+-]?\d+)?)", text)
    if bound:
        allowed = f"it must be {bound.group(1)} {bound.group(2)}"
    elif "not in list" in text or "does not accept" in text:
        allowed = "it is not one of the offered choices"
    else:
        allowed = "it is not a value that setting allows"
    return f"A value sent for {setting} was refused and not applied: {allowed}."


class _DropRefusedTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (str(record.msg).startswith(_PANEL_FAILURE) and exc is not None and is_refusal(exc))


_FILTER = _DropRefusedTracebacks()


def handle(exception: BaseException) -> None:
    """``pn.config.exception_handler``: refusals to the session's message, other errors to the log."""
    if not is_refusal(exception):
        log.error("error in a session callback", exc_info=exception)
        return
    message = refusal_message(exception)
    log.warning("refused a client value: %s", message)
    state = _SESSIONS.get(pn.state.curdoc)
    if state is not None:
        state.message = message


def install(state, doc=None) -> None:
    """Route refused client values of the session ``doc`` (default: the current one) to ``state.message``.

    Outside a session (a notebook, a unit test without ``doc``) nothing changes.
    """
    doc = pn.state.curdoc if doc is None else doc
    if doc is None:
        return
    _SESSIONS[doc] = state
    if doc.session_context is not None:
        # Forgotten when the session closes, not when its document is collected: until then this module
        # would hold the state and every view, and they would only become garbage after the document's
        # collection, so a full garbage collection later (issue 14 item 8).
        doc.on_session_destroyed(lambda session_context: _SESSIONS.pop(doc, None))
    pn.config.exception_handler = handle
    logging.getLogger("panel.reactive").addFilter(_FILTER)  # adding the same filter twice is a no-op
