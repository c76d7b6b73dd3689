"""Saving and loading results as netCDF (HDF5 through h5netcdf).

netCDF has no boolean type, so boolean variables are stored as int8 with the
attribute ``_landscape_bool = 1``, and boolean attributes (of the Dataset or of
a variable) as int8 listed in the attribute ``_landscape_bool_attrs``; both are
restored on load.  With that, any result Dataset round-trips identically
(values, dtypes, coords and attrs).
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

_BOOL_FLAG = "_landscape_bool"
_BOOL_ATTRS = "_landscape_bool_attrs"


def _encode_bool_attrs(attrs: dict) -> dict:
    names = [k for k, v in attrs.items() if isinstance(v, (bool, np.bool_))]
    if not names:
        return dict(attrs)
    encoded = {k: (np.int8(v) if k in names else v) for k, v in attrs.items()}
    encoded[_BOOL_ATTRS] = ",".join(names)
    return encoded


def _decode_bool_attrs(attrs: dict) -> dict:
    if _BOOL_ATTRS not in attrs:
        return dict(attrs)
    names = str(attrs[_BOOL_ATTRS]).split(",")
    return {k: (bool(v) if k in names else v) for k, v in attrs.items() if k != _BOOL_ATTRS}


def save(dataset: xr.Dataset, path: str | os.PathLike) -> None:
    """Write ``dataset`` to ``path`` (netCDF4/HDF5 via h5netcdf), atomically."""
    encoded = dataset.copy()
    encoded.attrs = _encode_bool_attrs(dataset.attrs)
    for name, var in list(encoded.variables.items()):
        attrs = _encode_bool_attrs(var.attrs)
        if var.dtype == bool:
            encoded[name] = var.astype(np.int8)
            attrs[_BOOL_FLAG] = 1
        encoded[name].attrs = attrs
    path = os.fspath(path)
    tmp = f"{path}.partial"
    encoded.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)  # an interrupted save never clobbers an existing file


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a result written by :func:`save` fully into memory."""
    with xr.open_dataset(os.fspath(path), engine="h5netcdf") as opened:
        dataset = opened.load()
    dataset.attrs = _decode_bool_attrs(dataset.attrs)
    for name, var in list(dataset.variables.items()):
        attrs = _decode_bool_attrs({k: v for k, v in var.attrs.items() if k != _BOOL_FLAG})
        if var.attrs.get(_BOOL_FLAG) == 1:
            dataset[name] = var.astype(bool)
        dataset[name].attrs = attrs
    return dataset
