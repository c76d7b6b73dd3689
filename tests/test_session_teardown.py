"""A destroyed dashboard session releases what it built (issue 14 item 8: server memory grew per wave).

The session is made and destroyed by Bokeh's own server machinery (``ApplicationContext``: the
same ``create_session_if_needed`` / ``_discard_session`` a closed browser tab goes through, with
Panel's ``Application`` and the ``DocumentLifecycleHandler`` the Tornado server adds), without a
socket or a browser.  Every tab is opened; after the session is discarded and the garbage
collector has run, weak references to the Document, the template, the AppState and every view
must be dead after one full collection.

The holder this found: :mod:`app.guard` keeps each served session's AppState in a dictionary keyed
weakly by its Document.  The entry went only when the Document was collected, so the AppState and
every view became garbage one full collection after the Document (on a busy server, long after);
the session's end now removes it.
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from tests.serving import discard, served_session, until_built

pytest.importorskip("tornado")


async def _open_and_destroy(refs: dict) -> None:
    from app import main
    from app.runner import POOL
    from app.state import AppState
    from app.views.base import BaseView

    def make():
        template = main.create_app()
        refs["template"] = weakref.ref(template)
        return template

    gc.collect()  # earlier tests' garbage; what is still alive then is not this session's
    earlier = weakref.WeakSet(o for o in gc.get_objects() if isinstance(o, (AppState, BaseView)))
    context, session = await served_session(make, sid="teardown-session")
    doc = session.document
    refs["doc"] = weakref.ref(doc)
    tabs = refs["template"]().main[0]

    for index in range(len(tabs)):
        await session.with_document_locked(lambda i=index: setattr(tabs, "active", i))
        assert await until_built(session, tabs, index), f"tab {index} was not built"
    made = [o for o in gc.get_objects() if isinstance(o, (AppState, BaseView)) and o not in earlier]
    refs["views"] = [weakref.ref(o) for o in made if isinstance(o, BaseView)]
    refs["states"] = [weakref.ref(o) for o in made if isinstance(o, AppState)]
    del made
    assert len(refs["views"]) == len(tabs) and len(refs["states"]) == 1
    del tabs, doc
    await discard(context, session)
    del session
    await asyncio.sleep(0.5)
    for _ in range(1200):  # set-up work still in the pool holds its view until it returns (bounded: one chunk)
        if POOL.unfinished() == 0:
            break
        await asyncio.sleep(0.1)
    refs["unfinished"] = POOL.unfinished()


def test_a_destroyed_session_releases_its_document_state_and_views():
    refs: dict = {}
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_open_and_destroy(refs))
    finally:
        loop.close()
    gc.collect()
    alive = {name: ref() is not None for name, ref in (("document", refs["doc"]), ("template", refs["template"]))}
    alive["AppState"] = any(ref() is not None for ref in refs["states"])
    alive.update({type(ref()).__name__: True for ref in refs["views"] if ref() is not None})
    assert not any(alive.values()), (
        f"still alive after the session was destroyed: {alive} ({refs['unfinished']} pool jobs unfinished)")
