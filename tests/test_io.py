"""netCDF save/load round-trips results identically (landscape.io)."""

import json

import numpy as np
import pytest
import xarray as xr

from landscape import io, problems
from landscape.results import config_of, result_attrs


def _roundtrip(dataset, tmp_path):
    path = tmp_path / "result.nc"
    io.save(dataset, path)
    assert [p.name for p in tmp_path.iterdir()] == ["result.nc"]  # no partial file left behind
    return io.load(path)


def _assert_identical(loaded, original):
    assert loaded.identical(original)
    for name, var in original.variables.items():
        assert loaded[name].dtype == var.dtype, name
        assert loaded[name].attrs == var.attrs, name
    assert {k: type(v) for k, v in loaded.attrs.items() if isinstance(v, (bool, str))} == {
        k: type(v) for k, v in original.attrs.items() if isinstance(v, (bool, str))
    }


def test_every_variable_kind_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    dataset = xr.Dataset(
        {
            "loss": (("run", "step"), rng.standard_normal((3, 5))),
            "loss32": (("run", "step"), rng.standard_normal((3, 5)).astype(np.float32)),
            "diverged": (("run",), np.array([False, True, False]), {"meaning": "NaN/Inf seen", "checked": True}),
            "steps": (("run",), np.array([5, 2, 5], dtype=np.int32)),
            "label": (("run",), np.array(["{0,1}", "", "ü → ∞"])),
            "grid": (("run", "step"), np.array([["a", "bc", "", "d", "e"]] * 3)),
            "special": (("step",), np.array([np.nan, np.inf, -np.inf, 0.0, -0.0])),
            "empty": (("none",), np.zeros(0)),
        },
        coords={
            "run": np.arange(3),
            "step": ("step", np.linspace(0, 1, 5), {"units": "s"}),
            "optimizer": ("run", np.array(["gd", "adam", "newton"])),
            "kept": ("run", np.array([True, True, False])),
        },
        attrs=result_attrs("optimizer-trajectories", {"lr": [0.1, 0.01], "name": "hé"}, status="cancelled", done=False),
    )
    loaded = _roundtrip(dataset, tmp_path)
    _assert_identical(loaded, dataset)
    assert loaded.attrs["done"] is False
    assert loaded["diverged"].attrs["checked"] is True
    assert config_of(loaded) == {"lr": [0.1, 0.01], "name": "hé"}
    assert json.loads(loaded.attrs["versions"])["numpy"] == np.__version__


def test_save_leaves_the_input_untouched_and_overwrites_atomically(tmp_path):
    dataset = xr.Dataset({"flag": ("x", np.array([True, False]))}, attrs={"done": True})
    before = dataset.copy(deep=True)
    _roundtrip(dataset, tmp_path)
    assert dataset.identical(before) and dataset["flag"].dtype == bool
    replaced = xr.Dataset({"flag": ("x", np.array([False]))})
    _assert_identical(_roundtrip(replaced, tmp_path), replaced)


def test_dlae_critical_points_round_trip(tmp_path):
    points = problems.get("dlae", k=5, p=2, n=200).analytic_critical_points()
    assert points["selected"].dtype == bool and points["label"].dtype.kind == "U"
    _assert_identical(_roundtrip(points, tmp_path), points)


def test_load_of_a_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.nc")
