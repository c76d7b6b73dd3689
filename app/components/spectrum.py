"""Hessian spectra: eigenvalues at one point and along a path.

:func:`spectrum_element` draws the eigenvalues ``λ₁ ≤ … ≤ λₙ`` of ``∇²L(θ)`` at
a point as spikes with the index (fraction of ``λ < −tol``, Frye Def. 1.6)
in the title; :func:`along_element` draws each ``λᵢ`` against the step of a
trajectory (from ``landscape.curvature.eigenvalues_along``);
:func:`density_element` draws a network's spectral density by stochastic
Lanczos quadrature (``landscape.curvature.slq_density``) with Hutchinson's
trace estimate ``tr ∇²L ≈ mean zᵀ∇²L z`` (``curvature.hutchinson_trace``).
:class:`SpectrumPanel` shows them side by side and is what views embed.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import curvature

from .styles import styled


def spectrum_element(eigenvalues: np.ndarray, title: str = "") -> hv.Overlay:
    """Spikes at the eigenvalues with a zero line; title states the index."""
    values = np.asarray(eigenvalues, dtype=float)
    index = float(curvature.index(values)) if values.size else float("nan")
    label = f"{title}  index = {index:.3g}" if title else f"index = {index:.3g}"
    spikes = styled(
        hv.Spikes(values, kdims=[hv.Dimension("eigenvalue", label="λ")]),
        color="#1f77b4",
        yaxis=None,
        bokeh={"line_width": 3, "tools": ["hover"]},
        matplotlib={"linewidth": 3},
    )
    zero = styled(hv.VLine(0.0), color="gray", alpha=0.6)
    return styled(spikes * zero, title=label)


def along_element(steps: np.ndarray, eigenvalues: np.ndarray, title: str = "") -> hv.Overlay:
    """One curve per eigenvalue ``λᵢ(step)`` (rows of ``eigenvalues`` are steps)."""
    values = np.asarray(eigenvalues, dtype=float)
    curves = [
        hv.Curve((np.asarray(steps), values[:, i]), "step", "λ", label=f"λ{i + 1}")
        for i in range(values.shape[1])
    ]
    zero = styled(hv.HLine(0.0), color="gray", alpha=0.6)
    return styled(hv.Overlay(curves) * zero, title=title, legend_position="right")


def density_element(density: xr.Dataset, trace: float | None = None, title: str = "") -> hv.Overlay:
    """The smoothed SLQ density ``φ(λ)`` on ``density.lam`` (a Gaussian of width ``attrs["sigma"]`` per
    quadrature node), Hutchinson's trace estimate ``trace`` in the title ("tr ≈ …"); axes follow the data."""
    lam, phi = density.lam.values, density.density.values
    curve = styled(hv.Area((lam, phi), hv.Dimension("lam", label="λ"), hv.Dimension("density", label="φ(λ)")),
                   color="#1f77b4", alpha=0.6, bokeh={"tools": ["hover"]})
    zero = styled(hv.VLine(0.0), color="gray", alpha=0.6)
    text = [title] if title else []
    if trace is not None:
        text.append(f"tr ≈ {trace:.3g}")
    label = ", ".join(text) or "Spectral density (SLQ)"
    return styled(curve * zero, title=label, xlim=(float(lam[0]), float(lam[-1])),
                  ylim=(0.0, 1.05 * float(np.nanmax(phi)) if phi.size else 1.0))


def point_title(theta: np.ndarray, where: str | None = None) -> str:
    """Title of the spectrum at ``theta``: "θ = (x, y)" for a 2-D point; for a network the caller's
    ``where`` (e.g. the clicked "(α, β) = (0.5, −1)") or else "‖θ‖ = … (n weights)", never a list
    of its first weights (they say nothing and overflow the panel)."""
    theta = np.asarray(theta, float).ravel()
    if where:
        return where
    if theta.size <= 2:
        return "θ = (" + ", ".join(f"{v:.3g}" for v in theta) + ")"
    return f"‖θ‖ = {np.linalg.norm(theta):.3g} ({theta.size} weights)"


class SpectrumPanel(pn.viewable.Viewer):
    """The spectrum at a point and along a selected path, for any view.

    Call :meth:`show_point` / :meth:`show_along` with precomputed eigenvalues;
    the panel only renders (compute off the event loop, e.g. with
    :class:`app.runner.LatestCall`).
    """

    height = param.Integer(default=260)
    point_hint = param.String(default="Click the surface: spectrum there", doc="The point panel's title before a point.")
    along_hint = param.String(default="Select a run: λ along it", doc="The path panel's title before a path.")

    def __init__(self, **params):
        super().__init__(**params)
        #: What is shown: ``(theta, eigenvalues)`` at the point, ``(steps, eigenvalues)`` along the path.
        self.point: tuple[np.ndarray, np.ndarray] | None = None
        self.along: tuple[np.ndarray, np.ndarray] | None = None
        self._point = pn.pane.HoloViews(self._empty(self.point_hint), sizing_mode="stretch_width")
        self._along = pn.pane.HoloViews(self._empty(self.along_hint), sizing_mode="stretch_width")
        #: ``(slq Dataset, trace)`` at the point, for networks (:meth:`show_density`).
        self.density: tuple[xr.Dataset, float] | None = None
        self._density = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        # shown and hidden as a whole: toggling a HoloViews pane's own `visible` fails in Panel 1.9
        self._density_box = pn.Column(self._density, visible=False, sizing_mode="stretch_width", margin=0)

    def clear(self) -> None:
        """Back to the hints (a new problem: the old problem's spectra must not stay in view)."""
        self.point = self.along = None
        self._point.object, self._along.object = self._empty(self.point_hint), self._empty(self.along_hint)
        self.show_density(None)

    def _empty(self, text: str) -> hv.Overlay:
        return spectrum_element(np.array([])).opts(title=text, height=self.height, responsive=True)

    def show_point(self, theta: np.ndarray, eigenvalues: np.ndarray, where: str | None = None) -> None:
        """Show ``eigenvalues`` at ``theta``, titled by :func:`point_title` (``where``: the point in words)."""
        self.point = (np.asarray(theta), np.asarray(eigenvalues))
        self._point.object = spectrum_element(eigenvalues, point_title(theta, where)).opts(
            height=self.height, responsive=True
        )

    def show_density(self, density: xr.Dataset | None, trace: float | None = None) -> None:
        """Show (or with ``None`` hide) the SLQ density and the Hutchinson trace at the point."""
        self.density = None if density is None else (density, trace)
        self._density_box.visible = density is not None
        self._density.object = None if density is None else density_element(
            density, trace, "Density (SLQ)").opts(height=self.height, responsive=True)

    def show_along(self, steps: np.ndarray, eigenvalues: np.ndarray, title: str) -> None:
        self.along = (np.asarray(steps), np.asarray(eigenvalues))
        self._along.object = along_element(steps, eigenvalues, title).opts(height=self.height, responsive=True)

    def __panel__(self):
        return pn.Row(self._point, self._density_box, self._along, sizing_mode="stretch_width")
