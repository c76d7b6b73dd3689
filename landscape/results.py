"""Conventions shared by every result Dataset.

Every engine result is an ``xarray.Dataset`` whose ``attrs`` carry
``config`` (the JSON-encoded configuration that produced it), ``versions``
(JSON of the package versions), ``kind`` (what the result is: a schema of
:mod:`landscape.kinds`) and ``schema_version``.  This makes a
saved result self-describing and lets ``landscape.io`` round-trip it.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata
from typing import Any

import numpy as np

from . import kinds

_PACKAGES = ("landscape-explorer", "jax", "jaxlib", "optax", "numpy", "xarray", "matfree")


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return tuple(versions.items())


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on (read once per process)."""
    return dict(_installed_versions())


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "tolist"):  # jax arrays
        return np.asarray(value).tolist()
    raise TypeError(f"cannot JSON-encode {type(value).__name__}")


def result_attrs(kind: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The ``attrs`` of a result: its kind (registered in :mod:`landscape.kinds`),
    the schema version, JSON config and package versions."""
    kinds.get(kind)  # refuses an unregistered kind
    return {
        "kind": kind,
        "schema_version": kinds.SCHEMA_VERSION,
        "config": json.dumps(config, sort_keys=True, default=_jsonable),
        "versions": json.dumps(package_versions(), sort_keys=True),
        **extra,
    }


def config_of(dataset) -> dict[str, Any]:
    """Decode the configuration stored in a result's ``attrs``."""
    return json.loads(dataset.attrs["config"])
