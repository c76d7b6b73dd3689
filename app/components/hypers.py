"""Inputs generated from the optimizer catalogue's hyperparameter specs (:class:`landscape.optim.Hyper`).

A view never re-declares a hyperparameter's default, bounds or doc: it asks
for them here, and they come from :mod:`landscape.optim`, which declares each
once.  Two shapes:

* :func:`hyper_rows`: per algorithm, a row of inputs (label, value, start, end
  and tooltip from its specs) that writes ``view.hparams`` (``{algorithm:
  {hyperparameter: value}}``, overrides of the defaults, validated by the
  engine at Run) and follows it (a restored exploration or URL sets it);
* :func:`hyper_param` and :func:`spec_bounds`: a ``param.Number`` setting
  declared from one spec, and its bounds and doc re-set from another (a view
  with a single hyperparameter input that follows the chosen optimizer, e.g.
  Teleport's ``lr``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import panel as pn
import param

from landscape.optim import Algorithm, Hyper


def hyper_input(spec: Hyper, value: float | None = None, **kwargs) -> pn.widgets.Widget:
    """A number input for ``spec``: its name, default (or ``value``), bounds and doc."""
    widget = pn.widgets.IntInput if spec.integer else pn.widgets.FloatInput
    return widget(label=spec.name, value=spec.default if value is None else value, start=spec.low, end=spec.high,
                  description=spec.doc, **kwargs)


def entry(view, name: str) -> dict:
    """``view.hparams[name]`` when it is a dict, else ``{}`` (a malformed one is the engine's to refuse)."""
    value = view.hparams.get(name, {})
    return value if isinstance(value, dict) else {}


def set_hparam(view, name: str, hp: str, value: float | None) -> None:
    """Write one input's value into ``view.hparams`` (a new dict, so watchers and the URL follow)."""
    if value is None:
        return
    current, value = entry(view, name).get(hp), float(value)
    if current == value or (value != value and isinstance(current, float) and current != current):  # NaN == NaN here
        return
    view.hparams = {**view.hparams, name: {**entry(view, name), hp: value}}


def hyper_rows(view, algorithms: Mapping[str, Algorithm], shown: Callable[[str], bool], watch: list[str],
               header: Callable[[str], pn.viewable.Viewable] | None = None, width: int = 80,
               defaults: Callable[[str], dict] | None = None) -> dict[str, pn.Column]:
    """One row of inputs per algorithm, from its specs; a row is visible when ``shown(name)``
    (re-checked when a parameter in ``watch`` changes).  An input not set in ``hparams`` shows
    ``defaults(name)`` (the view's engine suggestion) where given, else the spec's default.  The
    inputs write ``view.hparams`` and follow it; an input shows its default for a malformed value,
    which stays in ``hparams`` for the engine to refuse."""
    rows, boxes, following = {}, {}, []  # boxes: algorithm -> [(spec, input)]

    def typed(name: str, hp: str, value) -> None:
        if not following:  # a value the user typed, not one shown from hparams
            set_hparam(view, name, hp, value)

    for name, algorithm in algorithms.items():
        boxes[name] = [(spec, hyper_input(spec, width=width)) for spec in algorithm.hypers]
        for spec, box in boxes[name]:
            box.param.watch(lambda event, name=name, hp=spec.name: typed(name, hp, event.new), "value")
        heading = [header(name)] if header is not None else []
        rows[name] = pn.Column(*heading, pn.FlexBox(*(box for _, box in boxes[name]), margin=0), margin=0)

    def follow(*_events) -> None:
        following.append(True)
        try:
            for name, inputs in boxes.items():
                suggested, chosen = defaults(name) if defaults is not None else {}, entry(view, name)
                for spec, box in inputs:
                    default = suggested.get(spec.name, spec.default)
                    value = chosen.get(spec.name, default)
                    box.value = value if isinstance(value, (int, float)) and not isinstance(value, bool) else default
        finally:
            following.pop()
        for name, row in rows.items():
            row.visible = shown(name)

    view.param.watch(follow, ["hparams", *watch])
    follow()
    return rows


def hyper_param(spec: Hyper) -> param.Number:
    """A ``param.Number`` setting with ``spec``'s default, bounds and doc."""
    return param.Number(default=spec.default, bounds=(spec.low, spec.high), doc=spec.doc)


def spec_bounds(parameter: param.Number, spec: Hyper) -> None:
    """Set a ``param.Number`` setting's bounds and doc from ``spec`` (an instance's parameter: its widget follows)."""
    parameter.bounds, parameter.doc = (spec.low, spec.high), spec.doc
