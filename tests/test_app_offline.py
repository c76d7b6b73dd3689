"""Panel's stylesheets keep this server's address in a session's document (an offline page loads them all)."""

from __future__ import annotations

import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet
from panel.io.resources import CDN_DIST, LOCAL_DIST
from panel.io.state import set_curdoc

from app import main, offline
from app.state import AppState
from app.views import ViewSpec


def stylesheet_urls(*models) -> set[str]:
    return {sheet.url for model in models for sheet in model.select({"type": ImportedStyleSheet})}


@pytest.mark.parametrize("pinned", [False, True])
def test_models_built_before_the_page_renders_take_the_local_address(pinned):
    """Models built for a session's document before its page renders (as the template and the
    pool-built tabs are) take Panel's CDN address unless the document has its local one."""
    doc = Document()
    with set_curdoc(doc):
        if pinned:
            offline.serve_locally(doc)
        pn.Column(main.sidebar(AppState()), main.placeholder(main.discover()[0])).server_doc(doc)
    loading = {url for url in stylesheet_urls(*doc.roots) if "/css/loading.css" in url}
    assert loading
    if pinned:
        assert all(url.startswith(f"./{LOCAL_DIST}") for url in loading), sorted(loading)
    else:  # Panel's own fallback: what the served app had before its page rendered
        assert all(url.startswith(CDN_DIST) for url in loading), sorted(loading)


def test_a_view_updated_while_its_tab_is_hidden_keeps_every_stylesheet_local():
    """A problem change reaches the views of hidden tabs, whose models are detached from the document:
    Panel updates them with no document and addresses their stylesheets, and the document's shared
    ``loading.css``, to its CDN.  Shown again, every stylesheet of the page is local."""
    def probe(state=None):  # a view that follows the problem
        pane = pn.pane.HTML(state.problem.name)
        state.param.watch(lambda event: setattr(pane, "object", event.new.name), "problem")
        return pane

    doc = Document()
    with set_curdoc(doc):
        offline.serve_locally(doc)
        state = AppState(problem_name="himmelblau")
        specs = [ViewSpec(key="first", title="First", factory=probe), ViewSpec(key="second", title="Second", factory=probe)]
        tabs = main.view_tabs(state, specs, sync=True)
        tabs.server_doc(doc)
        (first_model, _), = tabs[0]._models.values()
        tabs.active = 1
        state.problem_name = "booth"
        assert first_model.document is None  # detached while its tab is hidden, yet updated
        tabs.active = 0
        assert first_model.document is doc and "booth" in first_model.text  # shown again, the same model
        urls = stylesheet_urls(*doc.roots)
    assert any("/css/loading.css" in url for url in urls)
    assert sorted(url for url in urls if url.startswith("http")) == []
