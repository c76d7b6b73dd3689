"""landscape: the JAX engine of the loss-landscape explorer.

Sub-modules: ``problems`` (what has a loss), ``curvature`` (Hessian spectra),
``trajectories`` (optimizer runs), ``slices`` (network landscape slices),
``jobs`` (streaming long computations), ``results``/``io`` (xarray results and
netCDF), ``games`` (differentiable games and their dynamics), ``tree`` (the
solution-tree format shared by Ridge Rider and generalized Ridge Rider),
``executor``/``stores``/``cli`` (sweeps as chunk tasks run in-process or on
Dask, resumable zarr stores, the ``landscape`` command).  The engine never imports the UI stack.
"""

__version__ = "0.1.0"
