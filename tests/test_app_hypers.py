"""Inputs generated from catalogue specs (app/components/hypers.py): a spec's default, bounds and doc are
the input's; typing writes ``hparams``; a restored ``hparams`` is shown; a malformed one is left for the
engine to refuse, never overwritten by the inputs."""

import panel as pn
import param

from app.components.hypers import hyper_input, hyper_param, hyper_rows, spec_bounds
from landscape import optim
from landscape.optim import Algorithm, Hyper

SPECS = (Hyper("lr", 0.3, 1e-3, 7.0, "a step", log=True), Hyper("depth", 2, 1, 9, "a count", integer=True))
ALGORITHMS = {"a": Algorithm("a", "optimizer", "a test rule", SPECS, build=None),
              "b": Algorithm("b", "optimizer", "another", SPECS[:1], build=None)}


class Owner(param.Parameterized):
    hparams = param.Dict(default={})
    chosen = param.String(default="a")


def test_an_input_is_its_spec():
    box = hyper_input(SPECS[0])
    assert (box.label, box.value, box.start, box.end, box.description) == ("lr", 0.3, 1e-3, 7.0, "a step")
    assert isinstance(hyper_input(SPECS[1]), pn.widgets.IntInput)
    number = hyper_param(SPECS[0])
    assert (number.default, number.bounds, number.doc) == (0.3, (1e-3, 7.0), "a step")
    owner = Owner()
    owner.param.add_parameter("lr", hyper_param(optim.get("gd").hyper("lr")))
    spec_bounds(owner.param.lr, SPECS[0])
    assert pn.widgets.FloatInput.from_param(owner.param.lr).end == 7.0


def test_rows_write_and_follow_hparams():
    owner = Owner()
    rows = hyper_rows(owner, ALGORITHMS, lambda name: name == owner.chosen, ["chosen"])
    boxes = {(name, box.label): box for name, row in rows.items() for box in row.select(pn.widgets.Widget)}
    assert rows["a"].visible and not rows["b"].visible
    owner.chosen = "b"
    assert rows["b"].visible and not rows["a"].visible
    boxes["b", "lr"].value = 0.5  # typed
    assert owner.hparams == {"b": {"lr": 0.5}}
    owner.hparams = {"a": {"lr": 2.0, "depth": 4}}  # restored
    assert (boxes["a", "lr"].value, boxes["a", "depth"].value, boxes["b", "lr"].value) == (2.0, 4, 0.3)
    owner.hparams = {"a": "fast", "b": {"lr": "x"}}  # malformed: shown as defaults, kept for the engine
    assert (boxes["a", "lr"].value, boxes["b", "lr"].value) == (0.3, 0.3)
    assert owner.hparams == {"a": "fast", "b": {"lr": "x"}}
