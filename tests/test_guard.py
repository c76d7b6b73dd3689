"""app.guard: a widget value forged by the client is refused with a message, without a traceback."""

import logging

import panel as pn
import param
import pytest
from bokeh.document import Document
from panel.io.state import set_curdoc

from app import guard
from app.state import AppState
from landscape import limits


class Settings(param.Parameterized):
    steps = param.Integer(300, bounds=(1, 1000))
    method = param.Selector(default="gd", objects=["gd", "adam"])
    checked = param.Integer(5)

    @param.depends("checked", watch=True)
    def _engine_check(self):
        limits.check("steps", self.checked)  # project code raising: a bug to report, not a refusal


@pytest.fixture
def session(monkeypatch):
    monkeypatch.setattr(pn.config, "exception_handler", None)
    settings, state, doc = Settings(), AppState(), Document()
    widgets = {
        "steps": pn.widgets.IntInput.from_param(settings.param.steps),
        "method": pn.widgets.Select.from_param(settings.param.method),
        "checked": pn.widgets.IntInput.from_param(settings.param.checked),
    }
    models = {name: widget.get_root(doc) for name, widget in widgets.items()}
    guard.install(state, doc)
    assert pn.config.exception_handler is guard.handle
    return settings, state, doc, models


def _send(doc, model, value):
    """What a client's PATCH-DOC does: set the model property, Panel applies it to the widget."""
    with set_curdoc(doc):
        model.value = value


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("steps", 999_999_999, "A value sent for 'steps' was refused and not applied: it must be at most 1000."),
        ("steps", -5, "A value sent for 'steps' was refused and not applied: it must be at least 1."),
        ("method", "../../etc/passwd", "A value sent for a setting was refused and not applied: it is not one of "
                                       "the offered choices."),
        ("method", "<img src=x onerror=alert(1)>", "it is not one of the offered choices."),
    ],
)  # fmt: skip
def test_a_forged_value_is_refused_with_a_message_and_no_traceback(session, caplog, name, value, message):
    settings, state, doc, models = session
    before = settings.param.values()
    with caplog.at_level(logging.DEBUG):
        _send(doc, models[name], value)  # nothing escapes
    assert settings.param.values() == before
    assert state.message.endswith(message) and str(value) not in state.message
    assert [r for r in caplog.records if r.exc_info] == []
    assert any("refused a client value" in r.getMessage() for r in caplog.records)
    _send(doc, models["steps"], 42)  # the next valid value is applied
    assert settings.steps == 42


def test_an_error_in_project_code_keeps_its_traceback(session, caplog, monkeypatch):
    settings, state, doc, models = session
    monkeypatch.setenv("LANDSCAPE_MAX_STEPS", "10")
    with caplog.at_level(logging.DEBUG):
        _send(doc, models["checked"], 11)
    assert state.message == ""
    errors = [r for r in caplog.records if r.exc_info]
    assert errors and any("over this server's limit" in str(r.exc_info[1]) for r in errors)


def test_install_outside_a_session_changes_nothing(monkeypatch):
    monkeypatch.setattr(pn.config, "exception_handler", None)
    guard.install(AppState())
    assert pn.config.exception_handler is None
