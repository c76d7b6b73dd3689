"""Panel's stylesheets from this server, never from its CDN: a served page works offline.

Panel (1.9) gives every component ``ImportedStyleSheet`` addresses
(``loading.css``, the Bootstrap theme) and re-addresses them to its CDN
whenever it builds or updates a model with no document to take this server's
address from:

* a model built for a document before the server renders the session's page
  (the server sets the document's ``dist_url`` only then, after the app has
  built the template and the first tab);
* a model updated while detached from its document: its own fresh stylesheets
  get the CDN address, and one it shares with the whole document
  (``loading.css``, cached per document) is rewritten to it if that address
  starts with Panel's bare ``static/``.  The dashboard's tabs therefore keep
  every opened view attached (``pn.Tabs`` not ``dynamic``): a dynamic tab
  detaches a hidden view, which a problem change then updated.

An offline browser fails to load a CDN address (a console error per file) and
the page loses its spinners and theme.  :func:`serve_locally` covers the
rest at session creation.
"""

from __future__ import annotations

import panel as pn
from panel.io.resources import LOCAL_DIST


def serve_locally(doc) -> None:
    """Give a served session's document its local ``dist_url`` now, as ``./static/…``.

    ``./`` (the page's own folder, for an app at the server's root) instead of
    Panel's bare ``static/``: the same files, by an address Panel never
    rewrites to its CDN.
    """
    if not pn.state.rel_path:
        pn.state.rel_path = "."
    doc._template_variables.setdefault("dist_url", f"{pn.state.rel_path}/{LOCAL_DIST}")
