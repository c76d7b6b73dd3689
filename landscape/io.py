"""Saving and loading results and whole explorations as netCDF4 (HDF5 through h5netcdf).

Two file kinds, both refused with :class:`FormatError` when they are not ours:

- a **result**: one engine ``xarray.Dataset`` (:func:`save` / :func:`load`);
  its ``kind`` attribute (``landscape.results.result_attrs``) must be a kind
  registered in :mod:`landscape.kinds`.
- an **exploration**: a problem, and per dashboard view a JSON-able
  ``settings`` dict and named result Datasets (:class:`Exploration`,
  :func:`save_exploration` / :func:`load_exploration`).  One file: the root
  group has ``kind = "exploration"``, ``schema_version``, the problem and the
  order of the views; group ``/<view>`` holds the view's settings (JSON) and
  group ``/<view>/<result>`` each result Dataset.

Both carry ``schema_version`` in the file's root attributes (a result its own,
from ``result_attrs``; one without gets :data:`SCHEMA_VERSION`); a file of a
newer version, or of a kind this version does not know, is refused rather than
misread.

netCDF has no boolean type, so boolean variables are stored as int8 with the
attribute ``_landscape_bool = 1``, and boolean attributes (of the Dataset or of
a variable) as int8 listed in the attribute ``_landscape_bool_attrs``; both are
restored on load, and a marker on anything but int8 zeros and ones is refused.
Numeric arrays carry HDF5 Fletcher-32 checksums, so damaged data is refused
rather than read back wrong.  With that, any result Dataset round-trips identically (values, dtypes, coords
and attrs).

Saves are atomic and durable: the file is written to a new temporary file in
the same directory (created exclusively, never through a symbolic link:
``O_CREAT | O_EXCL | O_NOFOLLOW``), flushed and ``fsync``-ed, moved over the
target with ``os.replace`` and the directory is ``fsync``-ed.  A save that
fails, or is interrupted by an exception, ``SIGINT`` or (in the main thread)
``SIGTERM``, removes its temporary file and leaves the previous file
byte-identical.  A process killed outright (``SIGKILL``, power loss) cannot
clean up: its temporary file ``.<name>.<pid>.<random>.tmp`` stays beside the
target, the target itself is intact, and the next save to the same path
deletes such leftovers whose process is no longer running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np
import xarray as xr

from . import kinds

#: Version of the result schemas (:mod:`landscape.kinds`) and of this file layout; newer files are refused.
SCHEMA_VERSION = kinds.SCHEMA_VERSION
EXPLORATION_KIND = "exploration"

_SCHEMA_ATTR = "schema_version"
_BOOL_FLAG = "_landscape_bool"
_BOOL_ATTRS = "_landscape_bool_attrs"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


class FormatError(ValueError):
    """A file that :func:`load` or :func:`load_exploration` refuses, with the reason.

    Raised for a file that is not ours (not netCDF4/HDF5, or without our
    ``kind``), truncated, corrupted, of another kind than expected, or written
    by a newer schema version.  ``path`` is the file concerned.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        super().__init__(f"cannot open {self.path!r}: {reason}")


# --------------------------------------------------------------------------- results


def _encode_bool_attrs(attrs: dict) -> dict:
    names = [k for k, v in attrs.items() if isinstance(v, (bool, np.bool_))]
    if not names:
        return dict(attrs)
    encoded = {k: (np.int8(v) if k in names else v) for k, v in attrs.items()}
    encoded[_BOOL_ATTRS] = ",".join(names)
    return encoded


def _decode_bool_attrs(attrs: dict, where: str) -> dict:
    if _BOOL_ATTRS not in attrs:
        return dict(attrs)
    names = str(attrs[_BOOL_ATTRS]).split(",")
    for name in names:
        value = attrs.get(name)
        if not (isinstance(value, (np.integer, int)) and not isinstance(value, bool) and value in (0, 1)):
            raise ValueError(f"{where}: attribute {name!r} is marked boolean but holds {value!r}, not 0 or 1")
    return {k: (bool(v) if k in names else v) for k, v in attrs.items() if k != _BOOL_ATTRS}


def _kind_of(dataset: xr.Dataset) -> str:
    """The result's registered kind (``ValueError`` naming the known kinds otherwise)."""
    kind = dataset.attrs.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ValueError(
            "a result needs a 'kind' attribute (a kind of landscape.kinds, as set by "
            f"landscape.results.result_attrs), got {kind!r}"
        )
    return kinds.get(kind).name


def _encode(dataset: xr.Dataset) -> xr.Dataset:
    """A copy of ``dataset`` that netCDF4 can hold (booleans as marked int8)."""
    _kind_of(dataset)
    encoded = dataset.copy()
    encoded.attrs = _encode_bool_attrs(dataset.attrs)
    for name, var in list(encoded.variables.items()):
        attrs = _encode_bool_attrs(var.attrs)
        if var.dtype == bool:
            encoded[name] = var.astype(np.int8)
            attrs[_BOOL_FLAG] = 1
        encoded[name].attrs = attrs
    for var in encoded.variables.values():
        # HDF5's Fletcher-32 checksum makes a flipped byte in the data an error on read, not a wrong
        # value; HDF5 cannot filter scalars and variable-length strings, which stay unchecked.
        var.encoding = {"fletcher32": True} if var.ndim and var.dtype.kind not in "OUS" else {}
    return encoded


def _decode(dataset: xr.Dataset, where: str) -> xr.Dataset:
    """Check the kind and version, undo :func:`_encode`; ``ValueError`` for what we cannot read."""
    if "kind" not in dataset.attrs:
        raise ValueError(f"{where} has no 'kind' attribute: not a result written by landscape.io")
    _check_version(dataset.attrs.get(_SCHEMA_ATTR), where)
    try:
        _kind_of(dataset)
    except ValueError as err:
        raise ValueError(f"{where}: {err} (written by a newer version, or not by landscape.io)") from None
    dataset.attrs = _decode_bool_attrs(dataset.attrs, where)
    for name, var in list(dataset.variables.items()):
        attrs = _decode_bool_attrs({k: v for k, v in var.attrs.items() if k != _BOOL_FLAG}, where)
        if _BOOL_FLAG in var.attrs:
            if var.dtype != np.int8 or not np.isin(var.values, (0, 1)).all():
                raise ValueError(
                    f"{where}: variable {name!r} is marked boolean but holds {var.dtype} data "
                    "other than 0 and 1"
                )
            dataset[name] = var.astype(bool)
        dataset[name].attrs = attrs
    return dataset


def save(dataset: xr.Dataset, path: str | os.PathLike) -> None:
    """Write the result ``dataset`` to ``path`` (netCDF4/HDF5), atomically and durably.

    ``dataset.attrs["kind"]`` must be set (``landscape.results.result_attrs``).
    A dataset without ``schema_version`` is written with the current one;
    ``dataset`` itself is not modified.
    """
    encoded = _encode(dataset)
    encoded.attrs.setdefault(_SCHEMA_ATTR, SCHEMA_VERSION)
    _atomic_write(path, lambda file: encoded.to_netcdf(file, engine="h5netcdf"))


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a result written by :func:`save` fully into memory.

    Raises ``FileNotFoundError`` for a missing file and :class:`FormatError`
    for a file that is not a result of ours, is truncated or corrupted, or has
    a newer schema version.
    """
    with _reading(path):
        with xr.open_dataset(os.fspath(path), engine="h5netcdf") as opened:
            dataset = opened.load()
    if dataset.attrs.get("kind") == EXPLORATION_KIND:
        raise FormatError(path, "it is an exploration; open it with landscape.io.load_exploration")
    if "kind" not in dataset.attrs:
        raise FormatError(path, "not a landscape file (netCDF without a 'kind' attribute)")
    try:
        return _decode(dataset, "the file")
    except ValueError as err:
        raise FormatError(path, str(err)) from None


# --------------------------------------------------------------------------- explorations


@dataclasses.dataclass(eq=False)
class ViewState:
    """What one dashboard view saves: its settings (JSON-able) and named result Datasets."""

    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    results: dict[str, xr.Dataset] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(eq=False)
class Exploration:
    """A session's exploration: the problem and, per view, settings and results.

    ``problem`` is a registry name (``landscape.problems.names()``) with its
    keyword ``options``, or ``"expression"`` for a custom surface with
    ``options = {"expression": text, "bounds": [[xmin, xmax], [ymin, ymax]]}``
    (what ``Problem.config()`` reports for both).  View and result names are
    identifiers (letters, digits, ``_ . -``; at most 64 characters); settings
    and options must survive a JSON round trip unchanged (lists, not tuples;
    no NaN).
    """

    problem: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    views: dict[str, ViewState] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, problem, views: dict[str, ViewState] | None = None) -> Exploration:
        """The exploration of a ``landscape.problems.Problem`` (name and options taken from it)."""
        return cls(problem.name, dict(problem.options), dict(views or {}))

    def build_problem(self):
        """Rebuild the problem: ``problems.get(name, **options)`` or ``from_expression``."""
        from . import problems  # deferred: io stays importable without building the registry

        if self.problem == "expression":
            return problems.from_expression(self.options["expression"], self.options.get("bounds"))
        return problems.get(self.problem, **self.options)


def _json(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be JSON-able (no NaN/inf): {err}") from None
    if json.loads(text) != value:
        raise ValueError(f"{what} must survive a JSON round trip unchanged (use lists, not tuples; str keys)")
    return text


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"{what} name {name!r} is not allowed: use up to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or '_'"
        )
    return name


def save_exploration(path: str | os.PathLike, exploration: Exploration) -> None:
    """Write ``exploration`` to one netCDF4 file at ``path``, atomically and durably."""
    if not isinstance(exploration.problem, str) or not exploration.problem:
        raise ValueError(f"the exploration's problem must be a name, got {exploration.problem!r}")
    tree = {
        "/": xr.Dataset(
            attrs={
                "kind": EXPLORATION_KIND,
                _SCHEMA_ATTR: SCHEMA_VERSION,
                "problem": exploration.problem,
                "options": _json(exploration.options, "the problem options"),
                "views": json.dumps([_check_name(v, "view") for v in exploration.views]),
            }
        )
    }
    for view, state in exploration.views.items():
        results = [_check_name(r, f"view {view!r}: result") for r in state.results]
        tree[f"/{view}"] = xr.Dataset(
            attrs={"settings": _json(state.settings, f"view {view!r}: settings"), "results": json.dumps(results)}
        )
        for name, dataset in state.results.items():
            try:
                tree[f"/{view}/{name}"] = _encode(dataset)
            except ValueError as err:
                raise ValueError(f"view {view!r}: result {name!r}: {err}") from None
    datatree = xr.DataTree.from_dict(tree)
    _atomic_write(path, lambda file: datatree.to_netcdf(file, engine="h5netcdf"))


def load_exploration(path: str | os.PathLike) -> Exploration:
    """Read an exploration written by :func:`save_exploration`.

    Raises ``FileNotFoundError`` for a missing file and :class:`FormatError`
    for a file that is not an exploration of ours, is truncated or corrupted,
    or has a newer schema version.
    """
    with _reading(path):
        tree = xr.load_datatree(os.fspath(path), engine="h5netcdf")
    root = tree.attrs
    if root.get("kind") != EXPLORATION_KIND:
        what = f"a {root['kind']!r} result; open it with landscape.io.load" if "kind" in root else "not ours"
        raise FormatError(path, f"not an exploration ({what})")
    try:
        _check_version(root.get(_SCHEMA_ATTR), "the exploration")
        exploration = Exploration(str(root["problem"]), json.loads(root["options"]))
        for view in json.loads(root["views"]):
            node = tree[view]
            state = ViewState(json.loads(node.attrs["settings"]))
            for name in json.loads(node.attrs["results"]):
                dataset = tree[f"{view}/{name}"].to_dataset(inherit=False)
                state.results[name] = _decode(dataset, f"view {view!r}: result {name!r}")
            exploration.views[view] = state
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise FormatError(path, f"corrupted exploration ({type(err).__name__}: {err})") from None
    except ValueError as err:  # a newer schema, an unknown kind, a bad boolean marker
        raise FormatError(path, str(err)) from None
    return exploration


# --------------------------------------------------------------------------- checks on read


def _check_version(version, where: str) -> None:
    """``ValueError`` for a schema version that is not a positive integer or is newer than ours."""
    if version is None:
        return  # written before schema versions existed: version 1
    if not isinstance(version, (int, np.integer)) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{where}: schema_version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"{where} was written by a newer version (schema {int(version)}; this version reads up to "
            f"{SCHEMA_VERSION}): update landscape-explorer to open it"
        )


@contextlib.contextmanager
def _reading(path):
    """Turn HDF5's and xarray's errors on a damaged or foreign file into :class:`FormatError`."""
    path = os.fspath(path)
    with open(path, "rb") as file:  # FileNotFoundError / PermissionError pass through as they are
        signature = file.read(len(_HDF5_SIGNATURE))
    if signature != _HDF5_SIGNATURE:
        raise FormatError(path, "not a netCDF4/HDF5 file (no HDF5 signature)")
    try:
        yield
    except FormatError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError) as err:
        if isinstance(err, (FileNotFoundError, PermissionError)):
            raise
        message = str(err)
        reason = "truncated" if "truncated" in message or "eof" in message.lower() else "corrupted"
        raise FormatError(path, f"{reason} file ({type(err).__name__}: {message})") from None


# --------------------------------------------------------------------------- atomic writes

_TEMP_SUFFIX = ".tmp"


class _Terminated(BaseException):
    """Raised by the temporary ``SIGTERM`` handler so a save can clean up before dying."""


@contextlib.contextmanager
def _cleanup_on_sigterm():
    """While saving in the main thread: turn ``SIGTERM`` into an exception, then die by it.

    Only when ``SIGTERM`` has its default disposition (terminate); a program
    with its own handler keeps it.  After the save's clean-up ran, the handler
    is reset and the signal re-sent, so the process still ends by ``SIGTERM``.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def handler(signum, frame):
        raise _Terminated

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _remove_stale_temporaries(directory: str, base: str) -> None:
    """Delete ``.<base>.<pid>.*.tmp`` left by saving processes that no longer run."""
    pattern = re.compile(rf"\.{re.escape(base)}\.(\d+)\.[A-Za-z0-9_]+{re.escape(_TEMP_SUFFIX)}")
    for entry in os.scandir(directory):
        match = pattern.fullmatch(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        except (PermissionError, OverflowError):
            pass  # alive (another user's process), or not a pid: leave it


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Replace ``path`` by what ``write(file)`` writes, all or nothing.

    ``tempfile.mkstemp`` creates the temporary file with
    ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a name that already exists, symbolic
    link or not, is never opened; another random name is tried), and the data
    go through that descriptor, never through a second open by name.
    """
    path = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(path)
    _remove_stale_temporaries(directory, base)
    with _cleanup_on_sigterm():
        fd, temporary = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=_TEMP_SUFFIX, dir=directory)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(fd, os.stat(path).st_mode & 0o7777)  # keep an existing file's permissions
            with os.fdopen(fd, "w+b") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    _fsync_directory(directory)
