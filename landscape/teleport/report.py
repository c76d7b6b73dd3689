"""Teleport comparisons as the dashboard runs them: settings, schedule, final-point metrics.

Zhao et al. compare the same optimizer without and with teleports
(:func:`.training.iter_compare`) and report, beside the loss curves, the
sharpness φ (eq. 13) and curvature ψ (eqs. 14, 80) of the final points
(Table 1).  :func:`iter_report` is that comparison followed by those metrics:
the result of :func:`.training.iter_compare` plus ``sharpness (arm)`` and
``curvature (arm)`` (means over seeds; networks only).

:func:`paper_mlp` is the paper's network (3 layers, no biases, LeakyReLU 0.1,
4×4 digits) and :func:`schedule_for` turns the few choices a user makes
(epochs, teleport period, objective, direction, optimizer state) into a
:class:`.training.Schedule`; on 2-D surfaces the teleport always maximises
‖∇L‖² along the level set (the only objective a surface has).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from ..jobs import Event, Stream
from ..problems import Problem, get
from .metrics import sharpness_curvature
from .objectives import OBJECTIVES
from .training import OPTIMIZERS, Schedule, iter_compare

#: Probes of the final-point metrics (small: the view reports, the notebooks reproduce Table 1).
METRIC_DIRECTIONS, METRIC_CURVES = 50, 5


def paper_mlp() -> Problem:
    """The paper's 3-layer MLP (hidden 16 and 10, no biases, LeakyReLU 0.1, no l2) on 4×4 digits."""
    return get("mlp-digits", hidden=[16, 10], activation="leaky_relu", bias=False, l2=0.0)


def suggested_run(problem: Problem | None) -> dict:
    """Optimizer, learning rate and length that show a teleport's effect on a 2-D ``problem``
    (``None``: the paper's network)."""
    if problem is None:
        return {"optimizer": "heavy-ball", "lr": 1e-2, "epochs": 20}
    if problem.name == "rosenbrock":  # a narrow valley: SGD needs a small step and many of them
        return {"optimizer": "gd", "lr": 1e-3, "epochs": 2000}
    return {"optimizer": "gd", "lr": 0.02, "epochs": 60}


def default_start(problem: Problem) -> np.ndarray:
    """A start inside the view box, away from its centre (where minima usually sit)."""
    (x0, x1), (y0, y1) = problem.bounds
    return np.array([x0 + 0.8 * (x1 - x0), y0 + 0.3 * (y1 - y0)])


def schedule_for(surface: bool, epochs: int, every: int = 0, objective: str = "grad_norm", direction: int = 1,
                 state: str = "reset") -> Schedule:
    """Teleport at epoch 0 and then every ``every`` epochs (``every ≤ 0``: only at 0).

    On surfaces the objective is ‖∇L‖² and the optimizer state cannot be
    teleported (no group differential), so ``"teleport"`` falls back to
    ``"reset"``; the level-set step cap is wider there than for networks."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown teleport objective {objective!r}; choose from {', '.join(OBJECTIVES)}")
    if direction not in (1, -1):
        raise ValueError(f"direction must be 1 (raise) or -1 (lower), got {direction!r}")
    at = (0,) if every <= 0 else tuple(range(0, epochs, every))
    return Schedule(
        epochs=epochs, teleport_at=at, objective="grad_norm" if surface else objective, direction=direction,
        state="reset" if surface and state == "teleport" else state, cap=100.0 if surface else 2.0,
        n_directions=METRIC_DIRECTIONS, n_curves=METRIC_CURVES,
    )


def final_point_metrics(problem: Problem, result: xr.Dataset, executor=None) -> xr.Dataset:
    """Sharpness φ and curvature ψ of each arm's final points, averaged over seeds (measured by
    ``executor``, :func:`.metrics.iter_sharpness_curvature`)."""
    values = {"sharpness": [], "curvature": []}
    for i in range(result.sizes["arm"]):
        metrics = sharpness_curvature(problem, result.final_theta.values[i], n_directions=METRIC_DIRECTIONS,
                                      n_curves=METRIC_CURVES, executor=executor)
        for name in values:
            values[name].append(float(metrics[name].mean()))
    return xr.Dataset({name: ("arm", np.asarray(v)) for name, v in values.items()},
                      coords={"arm": result.arm.values})


def iter_report(problem: Problem, optimizer: str, schedule: Schedule, *, lr: float, **kwargs) -> Stream[xr.Dataset]:
    """:func:`.training.iter_compare`, then (networks, run complete) the final-point metrics.

    On 2-D problems this is the comparison itself (kind
    ``"teleport-comparison-surface"``).  On networks every partial and the
    result are kind ``"teleport-report"``: the comparison with ``sharpness
    (arm)`` and ``curvature (arm)``, NaN until computed (and in a cancelled
    run); one more ``Event("metrics")`` carries them once the run completed.  ``kwargs`` go to
    :func:`.training.iter_compare` (``seeds``, ``executor``, ``seeds_per_task``, ...); the metrics
    run on the same ``executor``."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    stream = iter_compare(problem, optimizer, schedule, lr=lr, **kwargs)
    if problem.dim == 2:
        return (yield from stream)
    while True:
        try:
            event = next(stream)
        except StopIteration as stop:
            comparison = stop.value
            break
        yield dataclasses.replace(event, partial=_with_metrics(event.partial))
    if comparison.attrs["status"] != "complete":
        return _with_metrics(comparison)
    result = _with_metrics(comparison, final_point_metrics(problem, comparison, kwargs.get("executor")))
    yield Event("metrics", 1, 1, result.assign_attrs(status="running"))
    return result


def _with_metrics(comparison: xr.Dataset, metrics: xr.Dataset | None = None) -> xr.Dataset:
    """The network comparison as kind ``"teleport-report"``: with ``metrics``, or NaN ones."""
    if metrics is None:
        nan = np.full(comparison.sizes["arm"], np.nan)
        metrics = xr.Dataset({"sharpness": ("arm", nan), "curvature": ("arm", nan.copy())},
                             coords={"arm": comparison.arm.values})
    out = comparison.assign(sharpness=metrics.sharpness, curvature=metrics.curvature)
    out.attrs = {**comparison.attrs, "kind": "teleport-report"}
    return out


def teleport_rows(result: xr.Dataset) -> list[dict]:
    """Per teleport (means over seeds): epoch, ‖∇L‖² and objective before → after, and
    the largest invariance error of the loss on the teleport batches."""
    return [
        {"epoch": int(result.teleport_epoch.values[t]),
         "grad_norm_sq": (float(result.grad_norm_sq_before.values[:, t].mean()),
                          float(result.grad_norm_sq_after.values[:, t].mean())),
         "objective": (float(result.objective_before.values[:, t].mean()),
                       float(result.objective_after.values[:, t].mean())),
         "invariance_error": float(result.invariance_error.values[:, t].max())}
        for t in range(result.sizes.get("teleport", 0))
    ]

