"""The Landscape tab: surface mode (2-D problems) and network-slice mode, sharing one trajectory layer.

``view`` (the :class:`LandscapeView` on the base view), ``modes`` (surface and
slice), ``layers`` (the pure figure pieces and :func:`landscape_figure`),
``spectra`` (Hessian spectra at a point and along a run), ``widgets``.
"""

from .. import ViewSpec
from .layers import OPTIMIZER_COLORS, landscape_figure, path_data, selected_element, slice_grid, thinned
from .modes import SLICE_RESOLUTION
from .view import LandscapeView

__all__ = [
    "OPTIMIZER_COLORS", "SLICE_RESOLUTION", "LandscapeView", "landscape_figure", "path_data", "selected_element",
    "slice_grid", "thinned",
]  # fmt: skip

VIEW = ViewSpec(key="landscape", title="Landscape", factory=LandscapeView, order=0)
