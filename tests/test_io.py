"""landscape.io: identical round trips, refused files, atomic and durable saves."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    attrs = {"kind": "optimizer-trajectories", "schema_version": io.SCHEMA_VERSION, "done": True}
    dataset = xr.Dataset({"flag": ("x", np.array([True, False]))}, attrs=attrs)
    before = dataset.copy(deep=True)
    _roundtrip(dataset, tmp_path)
    assert dataset.identical(before) and dataset["flag"].dtype == bool
    replaced = xr.Dataset({"flag": ("x", np.array([False]))}, attrs={**attrs, "done": False})
    _assert_identical(_roundtrip(replaced, tmp_path), replaced)


def test_dlae_critical_points_round_trip(tmp_path):
    points = problems.get("dlae", k=5, p=2, n=200).analytic_critical_points()
    assert points["selected"].dtype == bool and points["label"].dtype.kind == "U"
    _assert_identical(_roundtrip(points, tmp_path), points)


def test_load_of_a_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.nc")


# --------------------------------------------------------------------------- refusing files


def _result(n=40):
    rng = np.random.default_rng(1)
    return xr.Dataset(
        {"loss": (("run", "step"), rng.standard_normal((3, n))), "diverged": ("run", np.array([False, True, False]))},
        coords={"run": np.arange(3)},
        attrs=result_attrs("optimizer-trajectories", {"lr": 0.1}, done=True),
    )


def _refused(path, match, reader=io.load):
    with pytest.raises(io.FormatError, match=match) as info:
        reader(path)
    assert isinstance(info.value, ValueError) and info.value.path == str(path)
    return str(info.value)


def test_save_requires_a_registered_kind(tmp_path):
    with pytest.raises(ValueError, match="'kind' attribute"):
        io.save(xr.Dataset({"a": ("x", [1.0])}), tmp_path / "r.nc")
    with pytest.raises(ValueError, match="unknown result kind 'weather'; registered kinds: "):
        io.save(xr.Dataset({"a": ("x", [1.0])}, attrs={"kind": "weather"}), tmp_path / "r.nc")
    assert list(tmp_path.iterdir()) == []


def test_a_result_without_schema_version_gets_the_current_one(tmp_path):
    io.save(xr.Dataset({"a": ("x", [1.0])}, attrs={"kind": "optimizer-trajectories"}), tmp_path / "r.nc")
    assert io.load(tmp_path / "r.nc").attrs["schema_version"] == io.SCHEMA_VERSION


def test_an_unknown_kind_is_refused(tmp_path):
    path = tmp_path / "r.nc"
    xr.Dataset({"a": ("x", [1.0])}, attrs={"kind": "weather", "schema_version": 1}).to_netcdf(path, engine="h5netcdf")
    _refused(path, "unknown result kind 'weather'.*newer version, or not by landscape.io")


def test_foreign_netcdf_and_non_netcdf_files_are_refused(tmp_path):
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"temperature": ("time", [280.0, 281.5])}, attrs={"title": "weather"}).to_netcdf(
        foreign, engine="h5netcdf"
    )
    _refused(foreign, "not a landscape file")
    _refused(foreign, "not an exploration", io.load_exploration)
    text = tmp_path / "notes.nc"
    text.write_text("x,y\n1,2\n")
    _refused(text, "not a netCDF4/HDF5 file")
    _refused(text, "not a netCDF4/HDF5 file", io.load_exploration)


def test_truncated_and_corrupted_files_are_refused(tmp_path):
    dataset = _result()
    path = tmp_path / "r.nc"
    io.save(dataset, path)
    data = path.read_bytes()
    (tmp_path / "truncated.nc").write_bytes(data[: len(data) // 2])
    _refused(tmp_path / "truncated.nc", "truncated")
    start = data.find(dataset["loss"].values.tobytes()[:64])
    assert start > 0  # the loss array is stored contiguously; damage one value in it
    damaged = bytearray(data)
    damaged[start + 8 : start + 16] = np.float64(7.0).tobytes()
    (tmp_path / "damaged.nc").write_bytes(bytes(damaged))
    _refused(tmp_path / "damaged.nc", "corrupted")  # caught by the checksum, not read back as 7.0
    header = bytearray(data)
    header[8:200] = bytes(192)  # the HDF5 superblock
    (tmp_path / "header.nc").write_bytes(bytes(header))
    _refused(tmp_path / "header.nc", "corrupted|truncated")
    xr.testing.assert_identical(io.load(path), dataset)


def test_newer_schema_and_missing_kind_are_refused(tmp_path):
    newer = tmp_path / "newer.nc"
    attrs = {"kind": "a-kind-of-the-future", "schema_version": io.SCHEMA_VERSION + 1}
    xr.Dataset({"a": ("x", [1.0])}, attrs=attrs).to_netcdf(
        newer, engine="h5netcdf"
    )
    assert f"schema {io.SCHEMA_VERSION + 1}" in _refused(newer, "newer version")
    no_kind = tmp_path / "no_kind.nc"
    xr.Dataset({"a": ("x", [1.0])}, attrs={"schema_version": 1}).to_netcdf(no_kind, engine="h5netcdf")
    _refused(no_kind, "not a landscape file .netCDF without a 'kind' attribute")


@pytest.mark.parametrize("values", [[0.5, 1.0], [2.0, 0.0], [np.nan, 1.0]])
def test_a_boolean_marker_on_float_data_is_refused(tmp_path, values):
    path = tmp_path / "marked.nc"
    dataset = xr.Dataset({"flag": ("x", np.array(values), {"_landscape_bool": 1})}, attrs={"kind": "optimizer-trajectories"})
    dataset.to_netcdf(path, engine="h5netcdf")
    _refused(path, "'flag' is marked boolean")


def test_a_boolean_marker_on_other_integers_or_attributes_is_refused(tmp_path):
    path = tmp_path / "marked.nc"
    xr.Dataset({"flag": ("x", np.array([0, 2], np.int8), {"_landscape_bool": 1})}, attrs={"kind": "optimizer-trajectories"}).to_netcdf(
        path, engine="h5netcdf"
    )
    _refused(path, "'flag' is marked boolean")
    attrs = {"kind": "optimizer-trajectories", "done": 0.5, "_landscape_bool_attrs": "done"}
    xr.Dataset({"a": ("x", [1.0])}, attrs=attrs).to_netcdf(path, engine="h5netcdf")
    _refused(path, "'done' is marked boolean")


# --------------------------------------------------------------------------- explorations


def _exploration():
    runs = _result()
    slice_ = xr.Dataset(
        {"loss": (("y", "x"), np.arange(12.0).reshape(3, 4))},
        coords={"x": np.linspace(0, 1, 4), "y": np.linspace(-1, 1, 3)},
        attrs=result_attrs("slice-2d", {"directions": "random"}, status="done"),
    )
    return io.Exploration(
        "expression",
        {"expression": "x**2 + y**2", "bounds": [[-3.0, 3.0], [-2.0, 2.0]]},
        {
            "landscape": io.ViewState({"optimizers": ["gd", "adam"], "lr": 0.01, "steps": 200}, {"runs": runs}),
            "critical": io.ViewState({"method": "newton-mr", "seed": None}, {"runs": runs.isel(run=[1]), "map": slice_}),
            "teleport": io.ViewState(),
        },
    )


def test_exploration_reopens_identically(tmp_path):
    exploration = _exploration()
    path = tmp_path / "session.nc"
    io.save_exploration(path, exploration)
    assert [p.name for p in tmp_path.iterdir()] == ["session.nc"]
    loaded = io.load_exploration(path)
    assert (loaded.problem, loaded.options) == (exploration.problem, exploration.options)
    assert list(loaded.views) == list(exploration.views)
    for name, view in exploration.views.items():
        assert loaded.views[name].settings == view.settings
        assert list(loaded.views[name].results) == list(view.results)
        for key, dataset in view.results.items():
            xr.testing.assert_identical(loaded.views[name].results[key], dataset)
            assert loaded.views[name].results[key]["loss"].dtype == dataset["loss"].dtype
    assert loaded.views["landscape"].results["runs"]["diverged"].dtype == bool
    problem = loaded.build_problem()
    assert problem.bounds == ((-3.0, 3.0), (-2.0, 2.0))
    assert float(problem.loss(np.array([1.0, 2.0]))) == 5.0


def test_exploration_of_a_registered_problem(tmp_path):
    problem = problems.get("himmelblau")
    io.save_exploration(tmp_path / "e.nc", io.Exploration.of(problem))
    loaded = io.load_exploration(tmp_path / "e.nc")
    assert (loaded.problem, loaded.options, loaded.views) == ("himmelblau", dict(problem.options), {})
    assert loaded.build_problem().name == "himmelblau"


def test_results_and_explorations_are_not_confused(tmp_path):
    io.save_exploration(tmp_path / "e.nc", _exploration())
    io.save(_result(), tmp_path / "r.nc")
    _refused(tmp_path / "e.nc", "load_exploration")
    _refused(tmp_path / "r.nc", "'optimizer-trajectories' result", io.load_exploration)


def test_damaged_or_newer_explorations_are_refused(tmp_path):
    path = tmp_path / "e.nc"
    io.save_exploration(path, _exploration())
    data = path.read_bytes()
    (tmp_path / "truncated.nc").write_bytes(data[: len(data) - 100])
    _refused(tmp_path / "truncated.nc", "truncated", io.load_exploration)
    newer = tmp_path / "newer.nc"
    xr.Dataset(attrs={"kind": "exploration", "schema_version": io.SCHEMA_VERSION + 1}).to_netcdf(newer, engine="h5netcdf")
    _refused(newer, "newer version", io.load_exploration)
    hollow = tmp_path / "hollow.nc"
    xr.Dataset(attrs={"kind": "exploration", "schema_version": 1, "problem": "x", "options": "{}", "views": '["v"]'}).to_netcdf(
        hollow, engine="h5netcdf"
    )
    _refused(hollow, "corrupted exploration", io.load_exploration)


@pytest.mark.parametrize(
    ("views", "match"),
    [
        ({"../etc": io.ViewState()}, "view name '../etc' is not allowed"),
        ({"v": io.ViewState(results={"a/b": _result()})}, "result name 'a/b' is not allowed"),
        ({"v": io.ViewState({"range": (0, 1)})}, "JSON round trip"),
        ({"v": io.ViewState({"lr": float("nan")})}, "JSON-able"),
        ({"v": io.ViewState({"f": print})}, "JSON-able"),
        ({"v": io.ViewState(results={"r": xr.Dataset()})}, "result 'r': a result needs a 'kind'"),
    ],
)
def test_bad_explorations_are_refused_before_writing(tmp_path, views, match):
    with pytest.raises(ValueError, match=match):
        io.save_exploration(tmp_path / "e.nc", io.Exploration("himmelblau", {}, views))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- atomic, durable saves

_SAVER = """
import sys, time, pathlib
import numpy as np, xarray as xr
from landscape import io

path, mode = sys.argv[1], sys.argv[2]
dataset = xr.Dataset({"loss": ("x", np.full(1000, float(sys.argv[3])))}, attrs={"kind": "optimizer-trajectories"})
if mode == "block":  # stall inside the save, after the data went into the temporary file
    write = xr.Dataset.to_netcdf
    def stalled(self, *args, **kwargs):
        write(self, *args, **kwargs)
        pathlib.Path(path + ".ready").touch()
        time.sleep(60)
    xr.Dataset.to_netcdf = stalled
    io.save(dataset, path)
else:  # save `mode` times, all savers starting together
    pathlib.Path(f"{path}.ready{sys.argv[3]}").touch()
    while not pathlib.Path(path + ".go").exists():
        time.sleep(0.01)
    for _ in range(int(mode)):
        io.save(dataset, path)
"""


def _saver(tmp_path, mode, value):
    script = tmp_path / "saver.py"
    script.write_text(_SAVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "r.nc"), mode, str(value)], env=env,
                            stderr=subprocess.PIPE)


def _temporaries(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".r.nc."))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_save_killed_midway_leaves_the_old_file_intact(tmp_path, signum):
    path = tmp_path / "r.nc"
    io.save(_result(), path)
    before = path.read_bytes()
    saver = _saver(tmp_path, "block", 2.0)
    ready = tmp_path / "r.nc.ready"
    while not ready.exists():
        assert saver.poll() is None, saver.stderr.read().decode()
        time.sleep(0.05)
    assert len(_temporaries(tmp_path)) == 1  # the new data is in the temporary file
    saver.send_signal(signum)
    saver.wait(timeout=60)
    assert path.read_bytes() == before
    if signum == signal.SIGKILL:
        assert len(_temporaries(tmp_path)) == 1  # a killed process cannot clean up...
        io.save(_result(), path)  # ...the next save to the path removes its leftover
    else:
        assert saver.returncode == -signum  # the save cleaned up, then the process died of the signal
    assert _temporaries(tmp_path) == []
    xr.testing.assert_identical(io.load(path), _result())


def test_a_failed_save_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "r.nc"
    io.save(_result(), path)
    before = path.read_bytes()
    unwritable = xr.Dataset({"a": ("x", np.array([{}, []], dtype=object))}, attrs={"kind": "optimizer-trajectories"})
    with pytest.raises(Exception):  # noqa: B017 (whatever netCDF raises for object data)
        io.save(unwritable, path)
    assert path.read_bytes() == before and _temporaries(tmp_path) == []


def test_symbolic_links_at_temporary_names_are_never_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "r.nc"
    (tmp_path / "r.nc.partial").symlink_to(victim)  # the fixed temporary name of earlier versions
    # and one at the exact name the next save would pick first (stdlib's random-name source, pinned)
    names = iter(["planted", "fresh"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: names)
    (tmp_path / f".r.nc.{os.getpid()}.planted.tmp").symlink_to(victim)
    io.save(_result(), path)
    assert victim.read_text() == "precious"
    assert not path.is_symlink()
    xr.testing.assert_identical(io.load(path), _result())
    assert (tmp_path / f".r.nc.{os.getpid()}.planted.tmp").is_symlink()  # left alone, not written through


def test_concurrent_savers_end_with_one_complete_file(tmp_path):
    values = (1.0, 2.0, 3.0)
    savers = [_saver(tmp_path, "10", value) for value in values]
    while not all((tmp_path / f"r.nc.ready{value}").exists() for value in values):
        assert all(saver.poll() is None for saver in savers)
        time.sleep(0.05)
    (tmp_path / "r.nc.go").touch()
    for saver in savers:
        assert saver.wait(timeout=120) == 0, saver.stderr.read().decode()
    loaded = io.load(tmp_path / "r.nc")
    assert len(set(loaded["loss"].values.tolist())) == 1 and loaded["loss"].values[0] in (1.0, 2.0, 3.0)
    assert _temporaries(tmp_path) == []
