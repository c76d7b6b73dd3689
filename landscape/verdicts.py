"""Verdicts for reproduction tables: our number beside a seed paper's.

Every reproduction cell of notebooks 02-05 ends with :func:`table` of rows
``(quantity, seed's value, ours, setting, verdict)``; :func:`verdict` states
whether a measured number reproduces the paper's:

``"reproduced"``       |ours − seed| ≤ ``tol`` (agreement up to the stated tolerance);
``"within error"``     |ours − seed| ≤ 2 ``se`` (two combined standard errors);
``"not reproduced"``   otherwise, followed by the caller's ``reason``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

COLUMNS = ("quantity", "seed", "ours", "setting", "verdict")


def verdict(ours: float, seed: float, *, tol: float = 0.0, se: float = 0.0, reason: str = "") -> str:
    """The verdict for one number (module docstring); NaN is never reproduced."""
    diff = abs(float(ours) - float(seed))
    if math.isnan(diff):
        return "not reproduced" + (f": {reason}" if reason else "")
    if diff <= tol:
        return "reproduced"
    if se > 0 and diff <= 2 * se:
        return "within error"
    return "not reproduced" + (f": {reason}" if reason else "")


def binomial_se(fraction: float, n: int) -> float:
    """Standard error √(p(1 − p)/n) of a success fraction (the thesis's "±")."""
    return math.sqrt(max(fraction * (1 - fraction), 0.0) / max(n, 1))


def table(rows: Iterable[Sequence]) -> pd.DataFrame:
    """The rows ``(quantity, seed, ours, setting, verdict)`` as a DataFrame."""
    rows = [tuple(r) for r in rows]
    for r in rows:
        if len(r) != len(COLUMNS):
            raise ValueError(f"each row needs {len(COLUMNS)} fields {COLUMNS}, got {r!r}")
    return pd.DataFrame(rows, columns=list(COLUMNS))
