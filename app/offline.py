"""Panel's stylesheets from this server, never from its CDN: a served page works offline.

Panel (1.9) gives every component ``ImportedStyleSheet`` addresses
(``loading.css``, the Bootstrap theme) and re-addresses them to its CDN
whenever it builds or updates a model with no document to take this server's
address from:

* a model built for a document before the server renders the session's page
  (the server sets the document's ``dist_url`` only then, after the app has
  built the template and the first tab);
* a model updated while detached from its document, as a hidden view of a
  dynamic ``pn.Tabs`` is when a problem change reaches it: its own fresh
  stylesheets get the CDN address, and one it shares with the whole document
  (``loading.css``, cached per document) is rewritten to it if that address
  starts with Panel's bare ``static/``.

An offline browser fails to load a CDN address (a console error per file) and
the page loses its spinners and theme.  :func:`serve_locally` covers the
first case and the shared stylesheet at session creation; :class:`Tabs`
re-addresses a hidden view's models as its tab is shown again.
"""

from __future__ import annotations

import panel as pn
from panel.io.resources import LOCAL_DIST, patch_model_css


def serve_locally(doc) -> None:
    """Give a served session's document its local ``dist_url`` now, as ``./static/…``.

    ``./`` (the page's own folder, for an app at the server's root) instead of
    Panel's bare ``static/``: the same files, by an address Panel never
    rewrites to its CDN.
    """
    if not pn.state.rel_path:
        pn.state.rel_path = "."
    doc._template_variables.setdefault("dist_url", f"{pn.state.rel_path}/{LOCAL_DIST}")


class Tabs(pn.Tabs):
    """Dynamic tabs (only the active view is in the page) whose views come back with local stylesheets.

    Panel reuses a hidden view's models when its tab is shown again; those
    updated while hidden carry CDN addresses, which are pointed back at this
    server before the models are sent to the browser.
    """

    def __init__(self, *objects, **params):
        super().__init__(*objects, dynamic=True, **params)

    def _get_objects(self, model, old_objects, doc, root, comm=None):  # Panel 1.9's hook for the tab models
        new_models, old_models = super()._get_objects(model, old_objects, doc, root, comm)
        dist_url = doc._template_variables.get("dist_url") if doc is not None else None
        if dist_url is not None:
            for tab in new_models:
                if tab.child.document is None:  # reused from while its tab was hidden
                    patch_model_css(tab.child, dist_url)
        return new_models, old_models
