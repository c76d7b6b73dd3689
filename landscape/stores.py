"""Resumable sweep stores: a sweep's result written to zarr chunk by chunk as it finishes.

A store is a plain zarr group that ``xarray.open_zarr`` reads: the sweep's
result Dataset in its final schema (NaN where not yet computed) with the
result attrs (``kind``, ``config``, ``versions``) plus

* ``status``: ``partial`` while running or after a crash, ``complete`` or
  ``cancelled`` when the sweep ended;
* ``chunks``: JSON list of the chunks' flat ``[start, stop)`` cell ranges;
* ``chunks_done``: JSON list of the chunks whose cells are written;
* ``failed_chunks``: JSON ``{chunk: reason}`` of the tasks that raised (NaN cells);
* ``store_format``: :data:`STORE_FORMAT`, the mark of a landscape store.

Only the sweep's driver process writes.  Each finished chunk's cells are
written before the chunk is added to ``chunks_done``, and zarr's local store
replaces every file atomically (write, then rename), so a sweep killed at any
moment (even by SIGKILL) loses no chunk it reported finished; rerunning it
with the same store computes only the chunks not in ``chunks_done``.  A
store made with a different configuration, chunking or fixed data
(directions, centre, axes) is refused with a message naming the difference,
and a partial store is never loaded as complete (:func:`load`).

A many-run experiment (critical-point experiments, optimizer trajectories)
is cut into batches of runs instead of cells; its :class:`BatchStore` keeps
the same attrs (``chunks`` are the batches' run ranges, ``unit`` is
``runs``), the runs' inputs (their starts) in the group ``inputs``, each
finished batch's result Dataset in its own group ``batches/<i>``, and, once
every batch is done, the combined result at the root.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .executor import Outcome, failure_attrs

STORE_FORMAT = "landscape-sweep/1"
STATUSES = ("partial", "complete", "cancelled")
_BOOKKEEPING = ("status", "chunks", "chunks_done", "failed_chunks", "store_format", "points_done", "unit")


class StoreError(ValueError):
    """A store that cannot be used: foreign, corrupt, or made with another configuration."""


def _open_group(path, mode: str):
    import zarr

    try:
        return zarr.open_group(str(path), mode=mode)
    except Exception as exc:  # zarr raises several types for a foreign or damaged directory
        raise StoreError(f"{path} is not a readable zarr store ({type(exc).__name__}: {exc})") from None


def _differences(stored: Any, wanted: Any, where: str = "") -> list[str]:
    """Human-readable paths where two decoded JSON configs differ."""
    if isinstance(stored, dict) and isinstance(wanted, dict):
        out = []
        for key in sorted(set(stored) | set(wanted)):
            sub = f"{where}.{key}" if where else str(key)
            if key not in stored:
                out.append(f"{sub}: not in the store, requested {wanted[key]!r}")
            elif key not in wanted:
                out.append(f"{sub}: stored {stored[key]!r}, not in the request")
            else:
                out.extend(_differences(stored[key], wanted[key], sub))
        return out
    return [] if stored == wanted else [f"{where or 'value'}: stored {stored!r}, requested {wanted!r}"]


def _attr_differences(path: Path, wanted: dict[str, Any], ranges) -> list[str]:
    """Differences between a store's attrs (kind, config, dtype, chunks) and a request's; a store
    that is not a landscape store, or holds another kind of result, is refused outright."""
    attrs = dict(_open_group(path, "r").attrs)
    if attrs.get("store_format") != STORE_FORMAT:
        raise StoreError(f"{path} exists but is not a landscape sweep store (no store_format "
                         f"{STORE_FORMAT!r} attribute); choose another --out path")
    if attrs.get("kind") != wanted["kind"]:
        raise StoreError(f"{path} holds a {attrs.get('kind')!r} sweep, not {wanted['kind']!r}")
    diffs = _differences(json.loads(attrs["config"]), json.loads(wanted["config"]))
    if attrs.get("dtype") != wanted.get("dtype"):
        diffs.append(f"dtype: stored {attrs.get('dtype')!r}, requested {wanted.get('dtype')!r}")
    if json.loads(attrs["chunks"]) != [list(r) for r in ranges]:
        diffs.append("chunks: the stored sweep was cut into different chunks")
    return diffs


def _refuse(path: Path, diffs: list[str]) -> None:
    if diffs:
        raise StoreError(f"{path} was made by a different sweep; refusing to resume it. Differences: "
                         + "; ".join(diffs))


@contextlib.contextmanager
def _quiet_zarr():
    """Silence zarr v3's notes on consolidated metadata and string dtypes ("not yet in the spec")."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification")
        yield


def _open_dataset(path, group: str | None = None, consolidated: bool | None = None, load: bool = False) -> xr.Dataset:
    try:
        with _quiet_zarr():
            ds = xr.open_zarr(str(path), group=group, consolidated=consolidated)
            return ds.load() if load else ds
    except Exception as exc:
        raise StoreError(f"{path} is corrupt ({type(exc).__name__}: {exc})") from None


class _Progress:
    """The bookkeeping every store shares: ``chunks_done``, ``failed_chunks`` and ``status``."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.group = _open_group(self.path, "r+")
        self._done = set(json.loads(self.group.attrs["chunks_done"]))
        self._failures = {int(k): v for k, v in json.loads(self.group.attrs.get("failed_chunks", "{}")).items()}

    def finished(self) -> set[int]:
        """Indices of the chunks whose outcome is in the store."""
        return set(self._done)

    def _record(self, outcome: Outcome) -> None:
        """Mark ``outcome``'s chunk done (after its data is written)."""
        self._done.add(outcome.index)
        update = {"chunks_done": json.dumps(sorted(self._done))}
        if outcome.error is not None:
            self._failures[outcome.index] = outcome.error
            update.update(failure_attrs(self._failures))
        self.group.attrs.update(update)

    def finish(self, status: str) -> None:
        """Set the final ``status`` (``complete`` or ``cancelled``)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; choose from {', '.join(STATUSES)}")
        self.group.attrs.update({"status": status})


class SweepStore(_Progress):
    """The zarr store of one sweep; see the module docstring for the layout."""

    def __init__(self, path, variables: Sequence[str], ranges: Sequence[tuple[int, int]], shape) -> None:
        super().__init__(path)
        self.variables = tuple(variables)
        self.ranges = [tuple(r) for r in ranges]
        self.shape = tuple(shape)

    @classmethod
    def open(cls, path, template: xr.Dataset, variables: Sequence[str],
             ranges: Sequence[tuple[int, int]]) -> SweepStore:
        """Create the store from ``template`` (the result in its final schema), or check that an
        existing one belongs to this exact sweep and reopen it for resuming."""
        path = Path(path)
        shape = template[variables[0]].shape
        if not path.exists():
            cls._create(path, template, variables, ranges)
        else:
            cls._check(path, template, variables, ranges)
        return cls(path, variables, ranges, shape)

    @staticmethod
    def _create(path: Path, template: xr.Dataset, variables, ranges) -> None:
        ds = template.copy()
        ds.attrs = {k: v for k, v in template.attrs.items() if k not in _BOOKKEEPING}
        ds.attrs.update(status="partial", store_format=STORE_FORMAT, chunks=json.dumps([list(r) for r in ranges]),
                        chunks_done="[]")
        size = max(stop - start for start, stop in ranges)
        encoding = {}
        for name in variables:
            var_shape = ds[name].shape
            row = int(np.prod(var_shape[1:])) if len(var_shape) > 1 else 1
            encoding[name] = {"chunks": (max(1, size // row),) + var_shape[1:]}
        with _quiet_zarr():
            ds.to_zarr(str(path), mode="w-", encoding=encoding)

    @staticmethod
    def _check(path: Path, template: xr.Dataset, variables, ranges) -> None:
        diffs = _attr_differences(path, template.attrs, ranges)
        stored = _open_dataset(path)
        for name in set(template.variables) | set(stored.variables):
            if name not in stored.variables or name not in template.variables:
                diffs.append(f"variable {name!r}: in only one of the store and the request")
            elif name in variables:
                if stored[name].shape != template[name].shape:
                    diffs.append(f"{name}: stored shape {stored[name].shape}, requested {template[name].shape}")
            elif not np.array_equal(np.asarray(stored[name].values), np.asarray(template[name].values),
                                    equal_nan=True):
                diffs.append(f"{name}: the stored values differ from the requested ones")
        _refuse(path, diffs)

    def _region(self, index: int):
        start, stop = self.ranges[index]
        row = int(np.prod(self.shape[1:])) if len(self.shape) > 1 else 1
        r0, r1 = start // row, -(-stop // row)
        return r0, r1, start - r0 * row, stop - r0 * row

    def read(self, index: int) -> Outcome:
        """A stored chunk as an :class:`Outcome` (``cached=True``)."""
        r0, r1, a, b = self._region(index)
        values = {name: np.asarray(self.group[name][r0:r1]).reshape(-1)[a:b] for name in self.variables}
        error = self._failures.get(index)
        return Outcome(index, values=None if error else values, error=error, cached=True)

    def write(self, outcome: Outcome) -> None:
        """Write a chunk's cells (NaN for a failure), then record it as done (in that order)."""
        r0, r1, a, b = self._region(outcome.index)
        for name in self.variables:
            array = self.group[name]
            block = np.asarray(array[r0:r1])
            flat = block.reshape(-1)
            flat[a:b] = np.nan if outcome.error is not None else outcome.values[name]
            array[r0:r1] = block
        self._record(outcome)


#: How each kind of batch store combines its finished batches ``{index: Dataset}`` into one result:
#: ``combine(done, ranges, status)``, a module-level function of the engine (``module:name``).
COMBINE = {"critical-points": "landscape.critical:combine_runs",
           "optimizer-trajectories": "landscape.trajectories:combine_starts"}


def _combiner(kind: str):
    module, name = COMBINE[kind].split(":")
    return getattr(importlib.import_module(module), name)


class BatchStore(_Progress):
    """The zarr store of a many-run experiment, one group per finished batch of runs (module docstring).

    :meth:`write` stores a batch's whole result Dataset in ``batches/<i>`` and only then records
    it in ``chunks_done``, so a SIGKILL loses no batch that was reported finished; :meth:`finish`
    writes the combined result at the root before the status becomes ``complete``.  The groups
    are written without consolidated metadata (the root would not list groups added later);
    :meth:`finish` consolidates the complete store for a plain ``xarray.open_zarr``.
    """

    def __init__(self, path, ranges: Sequence[tuple[int, int]]) -> None:
        super().__init__(path)
        self.ranges = [tuple(r) for r in ranges]

    @classmethod
    def open(cls, path, attrs: dict[str, Any], inputs: xr.Dataset, ranges: Sequence[tuple[int, int]]) -> BatchStore:
        """Create the store for the experiment described by ``attrs`` (its ``kind`` and JSON ``config``,
        :func:`landscape.results.result_attrs`) with the runs' ``inputs`` (e.g. their starts), or check
        that an existing one was made by this exact experiment (same config, batches and inputs)."""
        path = Path(path)
        if attrs["kind"] not in COMBINE:
            raise ValueError(f"no batch store for {attrs['kind']!r} results; kinds: {', '.join(COMBINE)}")
        if not path.exists():
            root = xr.Dataset(attrs={k: v for k, v in attrs.items() if k not in _BOOKKEEPING})
            root.attrs.update(status="partial", store_format=STORE_FORMAT, unit="runs", chunks_done="[]",
                              chunks=json.dumps([list(r) for r in ranges]))
            with _quiet_zarr():
                root.to_zarr(str(path), mode="w-", consolidated=False)
                inputs.to_zarr(str(path), group="inputs", mode="w-", consolidated=False)
        else:
            diffs = _attr_differences(path, attrs, ranges)
            stored = _open_dataset(path, "inputs", False)
            for name in sorted(set(stored.data_vars) | set(inputs.data_vars)):
                if name not in stored or name not in inputs:
                    diffs.append(f"input {name!r}: in only one of the store and the request")
                elif stored[name].shape != inputs[name].shape or not np.array_equal(
                        stored[name].values, inputs[name].values, equal_nan=True):
                    diffs.append(f"{name}: the stored values differ from the requested ones")
            _refuse(path, diffs)
        return cls(path, ranges)

    def read(self, index: int) -> Outcome:
        """A stored batch as an :class:`Outcome` (``cached=True``; its Dataset in ``values``)."""
        if index in self._failures:
            return Outcome(index, error=self._failures[index], cached=True)
        return Outcome(index, values=_open_dataset(self.path, f"batches/{index}", False, load=True), cached=True)

    def write(self, outcome: Outcome) -> None:
        """Write a batch's result (nothing for a failure), then record it as done (in that order)."""
        if outcome.error is None:
            with _quiet_zarr():
                outcome.values.to_zarr(str(self.path), group=f"batches/{outcome.index}", mode="w", consolidated=False)
        self._record(outcome)

    def finish(self, status: str, result: xr.Dataset | None = None) -> None:
        """Set the final ``status``; a ``complete`` experiment's combined ``result`` is written at the root
        first (what ``xarray.open_zarr`` and :func:`load` read)."""
        import zarr

        with _quiet_zarr():
            if status == "complete" and result is not None:
                root = result.copy()
                root.attrs = {**dict(self.group.attrs),
                              **{k: v for k, v in result.attrs.items() if k not in _BOOKKEEPING}}
                root.to_zarr(str(self.path), mode="a", consolidated=False)
            super().finish(status)
            if status == "complete":
                zarr.consolidate_metadata(str(self.path))  # so a plain xarray.open_zarr reads it without a warning

    def combined(self, status: str) -> xr.Dataset:
        """The finished batches combined (the runs of missing or failed batches absent)."""
        done = {i: self.read(i).values for i in sorted(self._done) if i not in self._failures}
        if not done:
            raise StoreError(f"{self.path} holds no finished batch yet")
        result = _combiner(self.group.attrs["kind"])(done, self.ranges, status)
        result.attrs.update(failure_attrs(self._failures))
        return result


def _chunks_progress(attrs) -> tuple[int, int, int, int]:
    ranges = json.loads(attrs["chunks"])
    done = set(json.loads(attrs["chunks_done"]))
    cells = sum(stop - start for i, (start, stop) in enumerate(ranges) if i in done)
    total_cells = ranges[-1][1] if ranges else 0
    return len(done), len(ranges), cells, total_cells


def info(path) -> dict[str, Any]:
    """Kind, status, configuration and progress of a store (what ``landscape info`` prints)."""
    if not os.path.exists(path):
        raise StoreError(f"no store at {path}")
    attrs = dict(_open_group(path, "r").attrs)
    if attrs.get("store_format") != STORE_FORMAT:
        raise StoreError(f"{path} is not a landscape sweep store (no store_format {STORE_FORMAT!r} attribute)")
    chunks_done, chunks, cells, total = _chunks_progress(attrs)
    return {
        "kind": attrs.get("kind"),
        "status": attrs.get("status"),
        "config": json.loads(attrs.get("config", "{}")),
        "chunks_done": chunks_done,
        "chunks": chunks,
        "cells_done": cells,
        "cells": total,
        "unit": attrs.get("unit", "cells"),  # runs for a many-run experiment (BatchStore)
        "failed_chunks": json.loads(attrs.get("failed_chunks", "{}")),
    }


def load(path, allow_partial: bool = False) -> xr.Dataset:
    """The result in a store, loaded into memory.  A store whose status is not ``complete`` is
    refused unless ``allow_partial`` (its missing cells are NaN)."""
    summary = info(path)
    if summary["status"] != "complete" and not allow_partial:
        raise StoreError(f"{path} is {summary['status']} ({summary['chunks_done']}/{summary['chunks']} chunks); "
                         "rerun the same sweep to resume it, or pass allow_partial=True")
    if summary["unit"] == "runs" and summary["status"] != "complete":  # no combined result at the root yet
        ranges = json.loads(_open_group(path, "r").attrs["chunks"])
        return BatchStore(path, ranges).combined(summary["status"])
    return _open_dataset(path, consolidated=False if summary["unit"] == "runs" else None, load=True)


# --------------------------------------------------------------------------
# Resuming a store from its own record (``landscape resume``, the dashboard's Resume)
# --------------------------------------------------------------------------
RESUMABLE = ("slice-1d", "slice-2d", "lyapunov-map", "residual-map", *COMBINE)
#: The dashboard view (its key in ``app.views``) that shows each kind of store (``landscape open``).
VIEWS = {"slice-2d": "landscape", "lyapunov-map": "games", "residual-map": "critical_points",
         "critical-points": "critical_points"}


def problem_of(config: dict[str, Any]):
    """The problem a store's ``config`` names (registry name and options, or a typed expression)."""
    from .io import Exploration

    try:
        return Exploration(config["problem"], dict(config.get("options") or {})).build_problem()
    except KeyError as exc:
        raise StoreError(f"the store's config names no problem it can rebuild ({exc})") from None


def resume(path, *, executor=None, cancel=None):
    """The sweep stored at ``path`` rebuilt from the store alone, as its ``iter_*`` stream.

    Everything the sweep was started with is in the store: the problem (by registry name and
    options), the grid (the stored coordinates), the fixed data (a slice's centre and directions),
    the chunking (``chunks``) and the kernel settings (``config``, ``dtype``).  The stream is the
    same ``iter_*`` call with ``store=path``, so the store's own check (:meth:`SweepStore.open`)
    confirms the rebuilt sweep is the stored one, the chunks in ``chunks_done`` are read back and
    only the missing ones are computed (by ``executor``).  A complete store streams its chunks back
    without computing.  Kinds: :data:`RESUMABLE`; a slice with a drawn optimizer path is refused
    (its trajectory is not in the store).
    """
    summary = info(path)
    kind, config = summary["kind"], summary["config"]
    if kind not in RESUMABLE:
        raise StoreError(f"{path} holds a {kind!r} result; only {', '.join(RESUMABLE)} sweeps can be resumed")
    attrs = dict(_open_group(path, "r").attrs)
    ranges = json.loads(attrs["chunks"])
    chunk = ranges[0][1] - ranges[0][0] if ranges else 1
    problem = problem_of(config)
    common = {"executor": executor, "store": path, "cancel": cancel}
    if kind in COMBINE:
        return _resume_runs(path, kind, config, problem, chunk, common)
    stored = xr.open_zarr(str(path))
    if kind in ("slice-1d", "slice-2d"):
        from .slices import iter_slice

        if "path_alpha" in stored.variables:
            raise StoreError(f"{path} is a slice with an optimizer's path drawn on it; the path is not stored, "
                             "so the sweep cannot be rebuilt: run it again from the dashboard")
        beta = stored.beta.values if kind == "slice-2d" else None
        return iter_slice(problem, stored.centre.values, stored.directions.values, stored.alpha.values, beta,
                          chunk=config["chunk"], direction_kind=config["direction_kind"], dtype=attrs.get("dtype"),
                          **common)
    if kind == "lyapunov-map":
        from .games import iter_lyapunov_map

        return iter_lyapunov_map(problem, config["rule"], stored.x.values, stored.y.values, k=config["k"],
                                 n=config["n"], objective=config["objective"], directions=config["directions"],
                                 chunk=chunk, seed=config.get("seed", 0), **common, **config["hyperparameters"])
    from .critical import Solver, iter_residual_map

    return iter_residual_map(problem, (stored.x.values, stored.y.values), Solver(**config["solver"]), chunk=chunk,
                             **common)


def _resume_runs(path, kind: str, config: dict[str, Any], problem, per_task: int, common: dict[str, Any]):
    """The many-run experiment of a :class:`BatchStore` rebuilt from its config and stored starts."""
    starts = _open_dataset(path, "inputs", False).starts.values
    if kind == "critical-points":
        from .critical import Method, iter_experiment

        return iter_experiment(problem, Method.from_config(config["method"]), starts=starts,
                               num_steps=config["num_steps"], seed=config["seed"], runs_per_task=per_task,
                               **config["options"], **common)
    from .trajectories import iter_trajectories

    return iter_trajectories(problem, starts, [tuple(pair) for pair in config["optimizers"]], config["steps"],
                             config["chunk"], starts_per_task=per_task, **common)
