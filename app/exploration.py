"""A session's exploration: saved to / reopened from one file, and mirrored in the URL.

* **Save / Open** (sidebar): the problem (name and options, or the typed
  expression) and, for every view built on :class:`app.views.base.BaseView`,
  its ``settings()`` and ``saved_results()``, written by
  :func:`landscape.io.save_exploration` and read back by
  :func:`landscape.io.load_exploration`.  A refused file
  (:class:`landscape.io.FormatError`: foreign, truncated, newer schema) or a
  problem that cannot be rebuilt leaves the session exactly as it was; the
  reason goes to ``AppState.message``.  Views whose tab was never opened get
  their saved state when they are built.
* **URL** (``pn.state.location``, served sessions only): the problem, the
  typed expression, the active tab and each view's settings
  (``?problem=booth&tab=0&landscape.steps=50``), so a reload or a copied link
  reopens the same view with the same settings.
* **A sweep store** (``landscape open run.zarr``): :meth:`Session.open_store`
  shows its problem and opens the view of its kind with the stored result, a
  line above it with Resume while unfinished (:mod:`app.components.saved`).
"""

from __future__ import annotations

import os
import tempfile

import panel as pn

from landscape import io as landscape_io

from .components.saved import SavedSweep
from .runner import describe, served
from .state import CUSTOM, AppState
from .views.base import BaseView


class Session:
    """The views of one dashboard session, by key, and what they restore when built."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.views: dict[str, BaseView] = {}
        self.pending: dict[str, landscape_io.ViewState] = {}
        self.opened: SavedSweep | None = None

    # -- views -------------------------------------------------------------
    def attach(self, key: str, view) -> None:
        """A view was built: sync its settings to the URL and give it any saved state waiting for it."""
        if not isinstance(view, BaseView):
            return
        self.views[key] = view
        if key in self.pending:
            saved = self.pending.pop(key)
            view.restore(saved.settings, saved.results)
        if self.opened is not None and self.opened.view_key == key:
            self.opened.show_in(view)
        if served() and pn.state.location is not None:
            pn.state.location.sync(view, {name: f"{key}.{name}" for name in view.settings_params})

    def frame(self, key: str, view):
        """What the tab of ``key`` shows: the view, below the opened store's line if it shows that store."""
        if self.opened is None or self.opened.view_key != key or self.opened.view is not view:
            return view
        return pn.Column(self.opened.panel(), view, sizing_mode="stretch_width")

    # -- files ------------------------------------------------------------
    def open_store(self, path: str | os.PathLike) -> bool:
        """Show the sweep store at ``path`` (:class:`app.components.saved.SavedSweep`) in the view of
        its kind, with its problem; on refusal keep the session and set ``state.message``."""
        try:
            opened = SavedSweep(path)
        except (ValueError, OSError) as error:  # StoreError is a ValueError
            self.state.message = describe(error)
            return False
        self.opened = opened
        self.state.show(opened.problem, opened.problem.name)
        if opened.view_key in self.views:
            opened.show_in(self.views[opened.view_key])
        self.state.tab = opened.view_key
        self.state.param.trigger("tab")
        return True

    def exploration(self) -> landscape_io.Exploration:
        """The session as an :class:`landscape.io.Exploration` (views not yet opened keep their saved state)."""
        views = dict(self.pending)
        for key, view in self.views.items():
            views[key] = landscape_io.ViewState(view.settings(), view.saved_results())
        return landscape_io.Exploration.of(self.state.problem, views)

    def save(self, path: str | os.PathLike) -> None:
        landscape_io.save_exploration(path, self.exploration())

    def open(self, path: str | os.PathLike) -> bool:
        """Reopen the exploration at ``path``; on any refusal keep the session and set ``state.message``."""
        try:
            exploration = landscape_io.load_exploration(path)
            problem = exploration.build_problem()
        except (ValueError, OSError) as error:  # FormatError is a ValueError
            self.state.message = describe(error)
            return False
        name = CUSTOM if exploration.problem == "expression" else exploration.problem
        self.state.show(problem, name)
        self.pending = dict(exploration.views)
        for key in list(self.pending):
            if key in self.views:
                saved = self.pending.pop(key)
                self.views[key].restore(saved.settings, saved.results)
        self.state.message = ""
        return True

    def save_bytes(self):
        """The exploration file's bytes (the sidebar's Save download)."""
        import io

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "exploration.nc")
            self.save(path)
            with open(path, "rb") as handle:
                return io.BytesIO(handle.read())

    def open_bytes(self, data: bytes) -> bool:
        """Reopen an uploaded exploration file (the sidebar's Open)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "exploration.nc")
            with open(path, "wb") as handle:
                handle.write(data)
            return self.open(path)

    def sync_problem_with_url(self) -> None:
        """Mirror the problem and the typed expression in the URL (served sessions).

        Called before any view is built: the request's URL is known at once
        (``Location.from_request``), so a link's problem starts building first
        and the views are built once, on it, not on the default problem and then again.
        """
        if served() and pn.state.location is not None:
            pn.state.location.sync(self.state, {"expression": "expression", "problem_name": "problem"})

    def sync_tab_with_url(self, tabs: pn.Tabs) -> None:
        """Mirror the active tab in the URL (served sessions): a link opens on its tab."""
        if served() and pn.state.location is not None:
            pn.state.location.sync(tabs, {"active": "tab"})
