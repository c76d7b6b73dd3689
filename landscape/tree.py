"""The solution-tree format shared by Ridge Rider and generalized Ridge Rider.

Ridge Rider (Parker-Holder et al. 2020, Algorithm 1) and its generalisation to
games (Lorraine thesis, Algorithm 13) both grow a tree: the root is the start
point (the MIS, or the Lyapunov-exponent maximum), each child is reached by
*riding* from its parent along one signed eigen-direction, and a node's
fingerprint Ψ is the list of signed eigen-indices chosen from the root.

A tree is an ``xarray.Dataset`` with two dimensions:

``node`` (one row per node, root first)
    ``parent`` (int, −1 for the root), ``depth``, ``fingerprint`` (str, e.g.
    ``"0+.2-"``; ``""`` for the root), ``eigen_index`` and ``sign`` of the
    ridge followed *into* the node (−1 and 0 for the root), ``eigenvalue``
    (of that ridge where the ride ended), ``loss``, ``grad_norm``,
    ``status`` (str: ``"root"``, ``"open"`` while queued, ``"branched"``,
    or the reason its ride ended: ``"convex"``, ``"overlap"``,
    ``"no-improvement"``, ``"budget"``, ...), ``order`` (when it was
    expanded, −1 if never) and ``theta (node, param)``.
``point`` (the rides, concatenated)
    ``point_node`` (the node whose ride the point belongs to), ``point_theta
    (point, param)``, ``point_loss``, ``point_eigenvalue`` (the followed
    ridge's eigenvalue there) and ``point_overlap`` (|⟨e_t, e_{t−1}⟩|).

:class:`TreeBuilder` accumulates nodes and rides in the engine's generators;
:func:`ride`, :func:`children` and :func:`layout` read a finished tree.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import xarray as xr

from .jobs import frozen
from .results import result_attrs


def fingerprint(parent: str, eigen_index: int, sign: int) -> str:
    """Ψ of a child: the parent's fingerprint extended by ``index`` and sign."""
    step = f"{eigen_index}{'+' if sign > 0 else '-'}"
    return f"{parent}.{step}" if parent else step


@dataclasses.dataclass
class _Node:
    parent: int
    depth: int
    fingerprint: str
    eigen_index: int
    sign: int
    eigenvalue: float
    loss: float
    grad_norm: float
    status: str
    order: int
    theta: np.ndarray


class TreeBuilder:
    """Grows a solution tree node by node; :meth:`to_dataset` freezes it."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._nodes: list[_Node] = []
        # Ride points in buffers grown by doubling: appending is amortised O(1) and
        # :meth:`to_dataset` hands out read-only views, so a search that freezes the tree
        # after every ride (its streamed ``partial``) is not quadratic in the points.
        self._n_points = 0
        self._point_node = np.zeros(0, int)
        self._point_theta = np.zeros((0, dim))
        self._point_values = np.zeros((0, 3))  # loss, eigenvalue, overlap
        self._expanded = 0

    def __len__(self) -> int:
        return len(self._nodes)

    def add_root(self, theta, loss: float, grad_norm: float) -> int:
        if self._nodes:
            raise ValueError("the tree already has a root")
        return self._append(_Node(-1, 0, "", -1, 0, np.nan, loss, grad_norm, "root", -1, theta))

    def add_child(
        self, parent: int, eigen_index: int, sign: int, eigenvalue: float, theta, loss: float,
        grad_norm: float = np.nan, status: str = "open",
    ) -> int:
        """Queue a child of ``parent`` reached by riding ridge ``eigen_index`` with ``sign``."""
        p = self._nodes[parent]
        fp = fingerprint(p.fingerprint, eigen_index, sign)
        return self._append(
            _Node(parent, p.depth + 1, fp, eigen_index, sign, eigenvalue, loss, grad_norm, status, -1, theta)
        )

    def _append(self, node: _Node) -> int:
        node.theta = np.asarray(node.theta, dtype=float).reshape(self.dim)
        self._nodes.append(node)
        return len(self._nodes) - 1

    def update(self, node: int, **fields: Any) -> None:
        """Set fields of a node (e.g. its end point, loss and status after its ride)."""
        target = self._nodes[node]
        for name, value in fields.items():
            if not hasattr(target, name):
                raise AttributeError(f"tree nodes have no field {name!r}")
            setattr(target, name, np.asarray(value, float).reshape(self.dim) if name == "theta" else value)

    def mark_expanded(self, node: int) -> None:
        """Record that ``node`` was taken from the archive now (search order)."""
        self._nodes[node].order = self._expanded
        self._expanded += 1

    def add_ride(self, node: int, thetas, losses, eigenvalues, overlaps) -> None:
        """Append the points of the ride that led to ``node``."""
        thetas = np.asarray(thetas, dtype=float).reshape(-1, self.dim)
        values = np.stack([np.ravel(v).astype(float) for v in (losses, eigenvalues, overlaps)], axis=1)
        start, stop = self._n_points, self._n_points + len(thetas)
        if stop > len(self._point_node):
            capacity = max(stop, 2 * len(self._point_node), 64)
            self._point_node = _grown(self._point_node, capacity, start)
            self._point_theta = _grown(self._point_theta, capacity, start)
            self._point_values = _grown(self._point_values, capacity, start)
        self._point_node[start:stop] = node
        self._point_theta[start:stop] = thetas
        self._point_values[start:stop] = values
        self._n_points = stop

    def node_record(self, node: int) -> dict[str, Any]:
        """One node as plain Python/numpy values (for streaming events)."""
        return {"node": node, **dataclasses.asdict(self._nodes[node])}

    def to_dataset(self, kind: str, config: dict[str, Any], **attrs: Any) -> xr.Dataset:
        nodes = self._nodes
        columns = {f.name: [getattr(n, f.name) for n in nodes] for f in dataclasses.fields(_Node)}
        theta = np.stack(columns.pop("theta")) if nodes else np.zeros((0, self.dim))
        data = {name: ("node", np.asarray(values)) for name, values in columns.items()}
        for name in ("fingerprint", "status"):
            data[name] = ("node", np.asarray(columns[name], dtype=str) if nodes else np.zeros(0, str))
        data["theta"] = (("node", "param"), theta)
        n = self._n_points
        data["point_node"] = ("point", frozen(self._point_node[:n]))
        data["point_theta"] = (("point", "param"), frozen(self._point_theta[:n]))
        for i, name in enumerate(("point_loss", "point_eigenvalue", "point_overlap")):
            data[name] = ("point", frozen(self._point_values[:n, i]))
        return xr.Dataset(
            data,
            coords={"node": np.arange(len(nodes)), "point": np.arange(n), "param": np.arange(self.dim)},
            attrs=result_attrs(kind, config, **attrs),
        )


def _grown(buffer: np.ndarray, capacity: int, used: int) -> np.ndarray:
    """A copy of ``buffer[:used]`` in a new buffer of ``capacity`` rows."""
    new = np.zeros((capacity, *buffer.shape[1:]), buffer.dtype)
    new[:used] = buffer[:used]
    return new


def ride(tree: xr.Dataset, node: int) -> xr.Dataset:
    """The points of the ride into ``node`` (empty for the root)."""
    return tree.isel(point=np.flatnonzero(tree.point_node.values == node))


def children(tree: xr.Dataset, node: int) -> np.ndarray:
    return np.flatnonzero(tree.parent.values == node)


def layout(tree: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Layered (x, y) positions for drawing: y = −depth, leaves evenly spaced in x,
    each internal node centred over its children (a tidy tree)."""
    n = tree.sizes["node"]
    parent = tree.parent.values
    x = np.zeros(n)
    kids = {i: np.flatnonzero(parent == i) for i in range(n)}
    next_leaf = 0.0

    def place(i: int) -> float:
        nonlocal next_leaf
        if len(kids[i]) == 0:
            x[i] = next_leaf
            next_leaf += 1.0
        else:
            x[i] = np.mean([place(c) for c in kids[i]])
        return x[i]

    for root in np.flatnonzero(parent < 0):
        place(root)
    return x, -tree.depth.values.astype(float)
