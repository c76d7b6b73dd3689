"""Figures of a 2-D game's dynamics (``landscape.games``).

* :func:`portrait`: the log-speed of the one-step displacement F(ω) − ω, its
  direction as arrows and the fixed points, on the game's own box;
* :func:`paths`: launched trajectories (orange) or GRR rides (magenta);
* :func:`heatmap`: the k-step Lyapunov exponent (NaN cells grey);
* :func:`spectra`: eigenvalues of Ĥ and J along a trajectory in log-polar form
  (Lorraine thesis Figs 4.7, 5.5), axes following the data;
* :func:`rates`: the complex-momentum convergence rate ρ over (arg β, |β|).
"""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import xarray as xr

from ..components.styles import styled

PANEL = {"width": 460, "height": 420}
#: The spectra and the rate map: as wide, less tall.
SMALL_PANEL = {"width": 460, "height": 320}


def _box(bounds) -> dict:
    (x0, x1), (y0, y1) = bounds
    return {"xlim": (x0, x1), "ylim": (y0, y1)}


def _field_arrays(field: xr.Dataset | None, bounds):
    (x0, x1), (y0, y1) = bounds
    if field is None:
        xs, ys = np.linspace(x0, x1, 3), np.linspace(y0, y1, 3)
        return xs, ys, np.zeros((3, 3)), np.zeros((3, 3)), np.full((3, 3), np.nan), np.zeros((0, 2))
    return (field.x.values, field.y.values, field.u.values, field.v.values, field.speed.values,
            field.fixed_point.values)


def speed_image(field: xr.Dataset | None, bounds) -> hv.Image:
    """Log-speed of the one-step displacement F(ω) − ω on the game's box (the click target)."""
    xs, ys, _, _, speed, _ = _field_arrays(field, bounds)
    return styled(hv.Image((xs, ys, np.log10(np.maximum(speed, 1e-12))), kdims=["x", "y"],
                           vdims=["log10 |F(ω) − ω|"]), cmap="Blues", title="Phase portrait", **_box(bounds),
                  bokeh=PANEL)


def field_marks(field: xr.Dataset | None, bounds) -> hv.Overlay:
    """Unit-scaled arrows of F(ω) − ω and the fixed points (red ×)."""
    xs, ys, u, v, speed, fixed = _field_arrays(field, bounds)
    gx, gy = np.meshgrid(xs, ys)
    top = np.nanmax(speed) if np.isfinite(speed).any() else 1.0
    magnitude = np.sqrt(np.nan_to_num(speed) / max(top, 1e-300))
    arrows = styled(hv.VectorField((gx, gy, np.arctan2(v, u), magnitude), kdims=["x", "y"],
                                   vdims=["angle", "magnitude"]),
                    color="black", bokeh={"magnitude": "magnitude", "pivot": "tail"},
                    matplotlib={"magnitude": "magnitude"})
    points = styled(hv.Points(fixed, kdims=["x", "y"]), color="red",
                    bokeh={"size": 12, "marker": "x", "line_width": 3}, matplotlib={"s": 80, "marker": "x"})
    return arrows * points


def portrait(field: xr.Dataset | None, bounds) -> hv.Overlay:
    """The phase portrait: :func:`speed_image` with :func:`field_marks` over ``bounds``."""
    return styled(speed_image(field, bounds) * field_marks(field, bounds), title="Phase portrait", **_box(bounds))


def paths(rows, color: str) -> hv.Path:
    """Polylines (each ``(T, 2)``) with at least two points."""
    return styled(hv.Path([np.asarray(p)[:, :2] for p in rows if len(p) > 1], kdims=["x", "y"]), color=color,
                  bokeh={"line_width": 2, "apply_ranges": False}, matplotlib={"linewidth": 1.5})


def trajectory_rows(trajectories: xr.Dataset | None) -> list[np.ndarray]:
    """The finite part of each launched trajectory of an ``iter_trajectories`` result."""
    if trajectories is None:
        return []
    return [p[np.isfinite(p).all(axis=1)] for p in trajectories.path.values]


def ride_rows(tree: xr.Dataset | None) -> list[np.ndarray]:
    """The rides of a GRR tree."""
    if tree is None or "point_node" not in tree:
        return []
    nodes = tree.point_node.values
    return [tree.point_theta.values[nodes == n] for n in np.unique(nodes)]


def heatmap(result: xr.Dataset | None, bounds) -> hv.Image:
    """The k-step exponent over the grid (NaN, not yet computed, in grey)."""
    if result is None:
        (x0, x1), (y0, y1) = bounds
        image = hv.Image(np.full((2, 2), np.nan), bounds=(x0, y0, x1, y1), kdims=["x", "y"], vdims=["exponent"])
    else:
        image = hv.Image((result.x.values, result.y.values, result.exponent.values), kdims=["x", "y"],
                         vdims=["exponent"])
    return styled(image, cmap="magma", colorbar=True, title="Max k-step Lyapunov exponent", **_box(bounds),
                  bokeh={**PANEL, "clipping_colors": {"NaN": "#eeeeee"}, "tools": ["hover"]})


def spectra(along: xr.Dataset | None) -> hv.Overlay:
    """Eigenvalues of J (blue) and Ĥ (green) along a trajectory: log|λ| against arg λ."""
    def frame(prefix):
        if along is None:
            return {"arg λ": np.zeros(0), "log |λ|": np.zeros(0), "time": np.zeros(0)}
        arg = along[f"{prefix}_arg"]
        return {"arg λ": arg.values.ravel(), "log |λ|": along[f"{prefix}_logabs"].values.ravel(),
                "time": np.repeat(arg[arg.dims[0]].values, arg.shape[1])}

    opts = {"size": 5, "alpha": 0.6, "tools": ["hover"]}
    jac = styled(hv.Scatter(frame("jacobian"), "arg λ", ["log |λ|", "time"], label="J"), color="blue", bokeh=opts)
    hess = styled(hv.Scatter(frame("hessian"), "arg λ", ["log |λ|", "time"], label="Ĥ"), color="green", bokeh=opts)
    # padded ranges: an eigenvalue at arg λ = ±π (a real negative one) sat half outside the frame; the legend
    # beside the frame, where it covers no eigenvalue
    return styled(jac * hess, title="Spectra along the trajectory (log-polar)", framewise=True, show_legend=True,
                  padding=0.08, bokeh={**SMALL_PANEL, "legend_position": "right"})


def rates(rate_map: xr.DataArray | None) -> hv.Image:
    """ρ of simultaneous complex momentum over (arg β, |β|), capped at 1.1 (diverging)."""
    if rate_map is None:
        image = hv.Image(np.full((2, 2), np.nan), bounds=(0, 0, math.pi, 1), kdims=["arg β", "|β|"], vdims=["ρ"])
    else:
        image = hv.Image((rate_map.arg_beta.values, rate_map.abs_beta.values, np.minimum(rate_map.values, 1.1)),
                         kdims=["arg β", "|β|"], vdims=["ρ"])
    return styled(image, cmap="viridis_r", colorbar=True, title="Complex momentum: convergence rate ρ over β",
                  bokeh={**SMALL_PANEL, "tools": ["hover", "tap"]})


def fixed_point_lines(field: xr.Dataset) -> list[str]:
    """One line per fixed point: its position, Ĥ's eigenvalues, the map's spectral radius (rounded)."""
    lines = []
    for i in range(field.sizes["fixed"]):
        h = field.hessian_eig_re.values[i] + 1j * field.hessian_eig_im.values[i]
        j = field.jacobian_eig_re.values[i] + 1j * field.jacobian_eig_im.values[i]
        p = field.fixed_point.values[i]
        lines.append(f"fixed point ({p[0]:.3f}, {p[1]:.3f}): eig Ĥ = {', '.join(f'{e:.3g}' for e in h)}; "
                     f"max |eig J| = {np.max(np.abs(j)):.4f}")
    return lines or ["No finite fixed point in view."]


def beta_text(abs_beta: float, arg_beta: float) -> str:
    """A complex momentum coefficient as a researcher writes it: ``0.9·e^{i·0.125π}``."""
    return f"{abs_beta:.3g}·e^{{i·{arg_beta / math.pi:.3g}π}}"


def games_figure(field: xr.Dataset | None, bounds, *, trajectories: xr.Dataset | None = None,
                 tree: xr.Dataset | None = None, heat: xr.Dataset | None = None,
                 along: xr.Dataset | None = None) -> hv.Layout:
    """The exported figure: portrait with trajectories and rides, heatmap, and spectra if any."""
    picture = portrait(field, bounds) * paths(trajectory_rows(trajectories), "orange") * paths(ride_rows(tree),
                                                                                             "magenta")
    panels = [picture, heatmap(heat, bounds)]
    if along is not None:
        panels.append(spectra(along))
    return styled(hv.Layout(panels).cols(2), bokeh={"shared_axes": False})
