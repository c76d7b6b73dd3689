"""Export figures and data from stored results, not from live Bokeh models.

Figures are HoloViews objects built from a view's stored ``xarray`` result
(the view passes a ``figure()`` builder); they are rendered to PNG/SVG/PDF
with the matplotlib backend (no browser involved) and to a standalone HTML
page with Bokeh (resources inlined, so it opens offline).  Data goes through
``landscape.io.save`` (netCDF), which round-trips the Dataset exactly.

Paper figures: a :class:`PaperSize` (default one journal column, 3.4 in wide,
at 300 dpi) sets the page size exactly (a PNG is ``width × dpi`` pixels
wide); the panels of a multi-panel figure stack in that column, each
``panel_height_in`` tall, with fonts readable at that size and every legend
inside its axes.  Files are named ``<problem>_<view>_<figure|data>.<ext>``
(:func:`export_stem`).
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import tempfile
from collections.abc import Callable

import holoviews as hv
from holoviews.element.chart3d import Element3D
import matplotlib.figure
import panel as pn
import param
import xarray as xr
from bokeh.embed import file_html
from bokeh.resources import Resources

from landscape import io as landscape_io

from . import styles  # noqa: F401  (registers both renderers)

FIGURE_FORMATS = ("png", "svg", "pdf", "html")
#: One column of a two-column journal page (in), and print resolution (dots per inch).
COLUMN_WIDTH_IN, PRINT_DPI = 3.4, 300
#: Font sizes (pt) that stay readable when a figure is printed one column wide.
PAPER_FONTS = {"title": 7, "labels": 7, "xticks": 6, "yticks": 6, "legend": 6, "cticks": 6, "clabel": 7}


@dataclasses.dataclass(frozen=True)
class PaperSize:
    """The printed size of an exported figure: page width, height of each stacked panel, resolution."""

    width_in: float = COLUMN_WIDTH_IN
    panel_height_in: float = 2.4
    dpi: int = PRINT_DPI

    def __post_init__(self) -> None:
        for name, low, high in (("width_in", 1.0, 20.0), ("panel_height_in", 0.5, 20.0), ("dpi", 72, 1200)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"figure {name} must be between {low:g} and {high:g}, not {value!r}")

    def inches(self, panels: int) -> tuple[float, float]:
        """Page size (in) of a figure of ``panels`` stacked panels."""
        return self.width_in, self.panel_height_in * panels


def export_stem(problem: str, view: str) -> str:
    """``<problem>_<view>``: lower case, anything but letters, digits, ``.`` and ``-`` made ``-``."""
    clean = [re.sub(r"[^a-z0-9.-]+", "-", part.lower()).strip("-") or "custom" for part in (problem, view)]
    return "_".join(clean)


def paper_panels(figure: hv.core.Dimensioned) -> list[hv.core.Dimensioned]:
    """The panels of ``figure``, restyled for print: paper font sizes, every legend inside its axes."""
    panels = list(figure) if isinstance(figure, hv.Layout) else [figure]

    def restyle(panel):
        options = {"fontsize": PAPER_FONTS}
        if isinstance(panel, hv.Overlay):
            options["legend_position"] = "best"  # inside the axes, where it covers the least data
        return panel.opts(backend="matplotlib", clone=True, **options)

    return [restyle(panel) for panel in panels]


def _colorbar_label(panel) -> str | None:
    """The value label of the element of ``panel`` that asked for a colour bar, if one did."""
    for element in panel.traverse(lambda element: element, [hv.Element]):
        if element.opts.get("plot", backend="matplotlib").kwargs.get("colorbar") and element.vdims:
            return element.vdims[0].pprint_label
    return None


def paper_page(figure: hv.core.Dimensioned, size: PaperSize) -> matplotlib.figure.Figure:
    """A matplotlib page of exactly ``size``: the panels of ``figure`` stacked in one column, (A), (B), …

    Colour bars are drawn by the page (HoloViews places its own beside the axes
    before the layout runs, so they overlapped the next axes)."""
    panels = paper_panels(figure)
    page = matplotlib.figure.Figure(figsize=size.inches(len(panels)), layout="constrained")
    renderer = hv.renderer("matplotlib")
    for i, panel in enumerate(panels):
        # a 3-D element (the Landscape view's Surface) needs matplotlib's 3-D axes
        axis = page.add_subplot(len(panels), 1, i + 1, projection="3d" if isinstance(panel, Element3D) else None)
        label = _colorbar_label(panel)
        if label is not None:
            panel = panel.map(lambda element: element.opts(backend="matplotlib", colorbar=False, clone=True),
                              [hv.Element])
        renderer.get_plot(panel, fig=page, axis=axis)
        if label is not None and (axis.images or axis.collections):
            colorbar = page.colorbar((axis.images or axis.collections)[0], ax=axis, shrink=0.9)
            colorbar.set_label(label, fontsize=PAPER_FONTS["clabel"])
            colorbar.ax.tick_params(labelsize=PAPER_FONTS["cticks"])
        if len(panels) > 1:
            axis.set_title(f"({chr(ord('A') + i)}) {axis.get_title()}", fontsize=PAPER_FONTS["title"])
    return page


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


def save_figure(
    figure: hv.core.Dimensioned, path: str | os.PathLike, fmt: str | None = None, size: PaperSize = PaperSize()
) -> None:
    """Write ``figure`` to ``path``; format from ``fmt`` or the file suffix; PNG/SVG/PDF at ``size``."""
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
        paper_page(figure, size).savefig(path, format=fmt, dpi=size.dpi)  # not "tight": the page keeps its exact size


def save_data(dataset: xr.Dataset, path: str | os.PathLike) -> None:
    """Write a result Dataset to netCDF (``landscape.io.save``)."""
    landscape_io.save(dataset, path)


def _as_bytes(write: Callable[[str], None], suffix: str) -> io.BytesIO:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"export.{suffix}")
        write(path)
        with open(path, "rb") as handle:
            return io.BytesIO(handle.read())


def figure_bytes(figure: hv.core.Dimensioned, fmt: str, size: PaperSize = PaperSize()) -> io.BytesIO:
    """``figure`` rendered in ``fmt`` (at ``size``) as an in-memory file."""
    return _as_bytes(lambda path: save_figure(figure, path, fmt, size), fmt)


def dataset_bytes(dataset: xr.Dataset) -> io.BytesIO:
    """``dataset`` as an in-memory netCDF file."""
    return _as_bytes(lambda path: save_data(dataset, path), "nc")


class ExportBar(pn.viewable.Viewer):
    """Download buttons for a view's figure (PNG, SVG, PDF, HTML) and data (netCDF), and the paper size.

    ``figure()`` and ``dataset()`` build the export from the view's stored
    result on click.  The buttons stay disabled until :meth:`refresh` is
    called with the file name stem (:func:`export_stem`), i.e. once a result
    exists; files are ``<stem>_figure.<ext>`` and ``<stem>_data.nc``.
    """

    basename = param.String(default="landscape")
    available = param.Boolean(default=False)
    width_in = param.Number(default=COLUMN_WIDTH_IN, bounds=(1.0, 20.0), doc="figure width (in)")
    panel_height_in = param.Number(default=PaperSize.panel_height_in, bounds=(0.5, 20.0),
                                   doc="height of each panel (in)")
    dpi = param.Integer(default=PRINT_DPI, bounds=(72, 1200), doc="resolution of PNG exports (dots per inch)")

    def __init__(self, figure: Callable[[], hv.core.Dimensioned], dataset: Callable[[], xr.Dataset], **params):
        super().__init__(**params)
        self._figure = figure
        self._dataset = dataset
        self._buttons = {
            fmt: pn.widgets.FileDownload(
                callback=lambda fmt=fmt: figure_bytes(self._figure(), fmt, self.size),
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
        self._size_inputs = [
            pn.widgets.FloatInput.from_param(self.param.width_in, name="Width (in)", step=0.1, width=90),
            pn.widgets.FloatInput.from_param(self.param.panel_height_in, name="Panel height (in)", step=0.1, width=110),
            pn.widgets.IntInput.from_param(self.param.dpi, name="DPI", step=50, width=80),
        ]
        self._sync()

    @property
    def size(self) -> PaperSize:
        """The paper size the figure exports use."""
        return PaperSize(self.width_in, self.panel_height_in, self.dpi)

    def filename(self, ext: str) -> str:
        """``<stem>_figure.<ext>`` for a figure format, ``<stem>_data.nc`` for the data."""
        return f"{self.basename}_{'data' if ext == 'nc' else 'figure'}.{ext}"

    def content(self, ext: str) -> io.BytesIO:
        """What the ``ext`` button (``png``, ``svg``, ``pdf``, ``html`` or ``nc``) downloads."""
        if ext not in self._buttons:
            raise ValueError(f"no export {ext!r}; use one of {', '.join(self._buttons)}")
        return self._buttons[ext].callback()

    def refresh(self, basename: str) -> None:
        """Enable the buttons and name the files after ``basename``."""
        self.param.update(basename=basename, available=True)

    @param.depends("basename", "available", watch=True)
    def _sync(self) -> None:
        for ext, button in self._buttons.items():
            button.filename = self.filename(ext)
            button.disabled = not self.available

    def __panel__(self):
        return pn.Column(
            pn.Row(pn.pane.Str("Export:", margin=(12, 5)), *self._buttons.values(), sizing_mode="stretch_width"),
            pn.Row(pn.pane.Str("Figure size:", margin=(30, 5, 5, 5)), *self._size_inputs),
            sizing_mode="stretch_width",
        )
