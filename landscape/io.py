"""Saving and loading results as netCDF (HDF5 through h5netcdf).

netCDF has no boolean type, so boolean variables are stored as int8 with the
attribute ``_landscape_bool = 1`` and restored on load; with that, any result
Dataset round-trips identically (values, dtypes, coords and attrs).
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

_BOOL_FLAG = "_landscape_bool"


def save(dataset: xr.Dataset, path: str | os.PathLike) -> None:
    """Write ``dataset`` to ``path`` (netCDF4/HDF5 via h5netcdf), atomically."""
    encoded = dataset.copy()
    for name, var in list(encoded.variables.items()):
        if var.dtype == bool:
            encoded[name] = var.astype(np.int8)
            encoded[name].attrs[_BOOL_FLAG] = 1
    path = os.fspath(path)
    tmp = f"{path}.partial"
    encoded.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)  # an interrupted save never clobbers an existing file


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a result written by :func:`save` fully into memory."""
    with xr.open_dataset(os.fspath(path), engine="h5netcdf") as opened:
        dataset = opened.load()
    for name, var in list(dataset.variables.items()):
        if var.attrs.get(_BOOL_FLAG) == 1:
            attrs = {k: v for k, v in var.attrs.items() if k != _BOOL_FLAG}
            dataset[name] = var.astype(bool)
            dataset[name].attrs = attrs
    return dataset
