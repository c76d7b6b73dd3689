"""Export figures and data from stored results, not from live Bokeh models.

Figures are HoloViews objects built from a view's stored ``xarray`` result
(the view passes a ``figure()`` builder); they are rendered to PNG/SVG/PDF
with the matplotlib backend (no browser involved) and to a standalone HTML
page with Bokeh (resources inlined, so it opens offline).  Data goes through
``landscape.io.save`` (netCDF), which round-trips the Dataset exactly.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable

import holoviews as hv
import panel as pn
import param
import xarray as xr
from bokeh.embed import file_html
from bokeh.resources import Resources

from landscape import io as landscape_io

from . import styles  # noqa: F401  (registers both renderers)

FIGURE_FORMATS = ("png", "svg", "pdf", "html")


class StandaloneResources(Resources):
    """BokehJS inlined, and nothing else: no address to fetch, so the page opens offline.

    Bokeh adds the external ``__javascript__``/``__css__`` of *every* registered
    model class to a page, even an inline one (Panel's ES-module shim, by a
    relative ``static/`` address that does not exist beside a saved file); a
    HoloViews figure rendered with Bokeh uses none of those models.
    """

    def __init__(self, components: list[str] | None = None) -> None:
        super().__init__(mode="inline", components=components)

    def clone(self, *, components: list[str] | None = None) -> StandaloneResources:
        return StandaloneResources(list(self.components) if components is None else components)

    def _collect_external_resources(self, resource_attr) -> list[str]:
        return []


def save_figure(figure: hv.core.Dimensioned, path: str | os.PathLike, fmt: str | None = None) -> None:
    """Write ``figure`` to ``path``; format from ``fmt`` or the file suffix."""
    path = os.fspath(path)
    fmt = (fmt or os.path.splitext(path)[1].lstrip(".")).lower()
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unsupported figure format {fmt!r}; use one of {', '.join(FIGURE_FORMATS)}")
    if fmt == "html":
        # file_html with explicit resources: hv.save switches Bokeh's process-wide resource mode
        # while it writes, which reaches every session rendering meanwhile
        model = hv.render(figure, backend="bokeh")
        with open(path, "w", encoding="utf-8") as file:
            file.write(file_html(model, StandaloneResources(), title=figure.label or "landscape"))
    else:
        hv.save(figure, path, backend="matplotlib", fmt=fmt)


def save_data(dataset: xr.Dataset, path: str | os.PathLike) -> None:
    """Write a result Dataset to netCDF (``landscape.io.save``)."""
    landscape_io.save(dataset, path)


def _as_bytes(write: Callable[[str], None], suffix: str) -> io.BytesIO:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"export.{suffix}")
        write(path)
        with open(path, "rb") as handle:
            return io.BytesIO(handle.read())


def figure_bytes(figure: hv.core.Dimensioned, fmt: str) -> io.BytesIO:
    """``figure`` rendered in ``fmt`` as an in-memory file."""
    return _as_bytes(lambda path: save_figure(figure, path, fmt), fmt)


def dataset_bytes(dataset: xr.Dataset) -> io.BytesIO:
    """``dataset`` as an in-memory netCDF file."""
    return _as_bytes(lambda path: save_data(dataset, path), "nc")


class ExportBar(pn.viewable.Viewer):
    """Download buttons for a view's figure (PNG, SVG, PDF, HTML) and data (netCDF).

    ``figure()`` and ``dataset()`` build the export from the view's stored
    result on click.  The buttons stay disabled until :meth:`refresh` is
    called with the file name stem, i.e. once a result exists.
    """

    basename = param.String(default="landscape")
    available = param.Boolean(default=False)

    def __init__(self, figure: Callable[[], hv.core.Dimensioned], dataset: Callable[[], xr.Dataset], **params):
        super().__init__(**params)
        self._figure = figure
        self._dataset = dataset
        self._buttons = {
            fmt: pn.widgets.FileDownload(
                callback=lambda fmt=fmt: figure_bytes(self._figure(), fmt),
                label=fmt.upper(),
                embed=False,
                width=80,
                color="light",
            )
            for fmt in FIGURE_FORMATS
        }
        self._buttons["nc"] = pn.widgets.FileDownload(
            callback=lambda: dataset_bytes(self._dataset()), label="netCDF", embed=False, width=90, color="light"
        )
        self._sync()

    def content(self, ext: str) -> io.BytesIO:
        """What the ``ext`` button (``png``, ``svg``, ``pdf``, ``html`` or ``nc``) downloads."""
        if ext not in self._buttons:
            raise ValueError(f"no export {ext!r}; use one of {', '.join(self._buttons)}")
        return self._buttons[ext].callback()

    def refresh(self, basename: str) -> None:
        """Enable the buttons and name the files ``basename.<ext>``."""
        self.param.update(basename=basename, available=True)

    @param.depends("basename", "available", watch=True)
    def _sync(self) -> None:
        for ext, button in self._buttons.items():
            button.filename = f"{self.basename}.{ext}"
            button.disabled = not self.available

    def __panel__(self):
        return pn.Row(pn.pane.Str("Export:", margin=(12, 5)), *self._buttons.values(), sizing_mode="stretch_width")
