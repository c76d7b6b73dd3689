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

from typing import Any

import numpy as np
import xarray as xr

from .jobs import frozen
from .results import result_attrs


def fingerprint(parent: str, eigen_index: int, sign: int) -> str:
    """Ψ of a child: the parent's fingerprint extended by ``index`` and sign."""
    step = f"{eigen_index}{'+' if sign > 0 else '-'}"
    return f"{parent}.{step}" if parent else step


#: Node columns: name -> dtype (``object`` for the strings).
_NODE_FIELDS = {
    "parent": int, "depth": int, "fingerprint": object, "eigen_index": int, "sign": int, "eigenvalue": float,
    "loss": float, "grad_norm": float, "status": object, "order": int,
}


class TreeBuilder:
    """Grows a solution tree node by node; :meth:`to_dataset` freezes it.

    Nodes and ride points live in column buffers grown by doubling, so adding is
    amortised O(1) and :meth:`to_dataset` hands out read-only views of the numeric
    columns (a search that freezes the tree after every ride, its streamed ``partial``,
    is not quadratic in the tree's size).  A node's columns change when it is
    :meth:`update`-d (an open node after its ride): copy a Dataset to keep a snapshot.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._n_nodes = 0
        self._node_columns = {name: np.zeros(0, dtype) for name, dtype in _NODE_FIELDS.items()}
        self._node_theta = np.zeros((0, dim))
        self._n_points = 0
        self._point_node = np.zeros(0, int)
        self._point_theta = np.zeros((0, dim))
        self._point_values = np.zeros((0, 3))  # loss, eigenvalue, overlap
        self._expanded = 0

    def __len__(self) -> int:
        return self._n_nodes

    def add_root(self, theta, loss: float, grad_norm: float) -> int:
        if self._n_nodes:
            raise ValueError("the tree already has a root")
        return self._append(theta, parent=-1, depth=0, fingerprint="", eigen_index=-1, sign=0, eigenvalue=np.nan,
                            loss=loss, grad_norm=grad_norm, status="root", order=-1)

    def add_child(
        self, parent: int, eigen_index: int, sign: int, eigenvalue: float, theta, loss: float,
        grad_norm: float = np.nan, status: str = "open",
    ) -> int:
        """Queue a child of ``parent`` reached by riding ridge ``eigen_index`` with ``sign``."""
        columns = self._node_columns
        fp = fingerprint(columns["fingerprint"][parent], eigen_index, sign)
        return self._append(theta, parent=parent, depth=int(columns["depth"][parent]) + 1, fingerprint=fp,
                            eigen_index=eigen_index, sign=sign, eigenvalue=eigenvalue, loss=loss,
                            grad_norm=grad_norm, status=status, order=-1)

    def _append(self, theta, **fields: Any) -> int:
        node = self._n_nodes
        if node == len(self._node_theta):
            capacity = max(64, 2 * node)
            self._node_theta = _grown(self._node_theta, capacity, node)
            self._node_columns = {k: _grown(v, capacity, node) for k, v in self._node_columns.items()}
        self._n_nodes += 1
        self.update(node, theta=theta, **fields)
        return node

    def update(self, node: int, **fields: Any) -> None:
        """Set fields of a node (e.g. its end point, loss and status after its ride)."""
        if not 0 <= node < self._n_nodes:
            raise IndexError(f"no node {node} in a tree of {self._n_nodes}")
        for name, value in fields.items():
            if name == "theta":
                self._node_theta[node] = np.asarray(value, float).reshape(self.dim)
            elif name in self._node_columns:
                self._node_columns[name][node] = value
            else:
                raise AttributeError(f"tree nodes have no field {name!r}")

    def mark_expanded(self, node: int) -> None:
        """Record that ``node`` was taken from the archive now (search order)."""
        self._node_columns["order"][node] = self._expanded
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
        record = {name: column[node] for name, column in self._node_columns.items()}
        for name, dtype in _NODE_FIELDS.items():
            record[name] = str(record[name]) if dtype is object else dtype(record[name])
        return {"node": node, **record, "theta": self._node_theta[node].copy()}

    def to_dataset(self, kind: str, config: dict[str, Any], **attrs: Any) -> xr.Dataset:
        n_nodes, n = self._n_nodes, self._n_points
        data = {}
        for name, dtype in _NODE_FIELDS.items():
            column = self._node_columns[name][:n_nodes]
            data[name] = ("node", column.astype(str) if dtype is object else frozen(column))
        data["theta"] = (("node", "param"), frozen(self._node_theta[:n_nodes]))
        data["point_node"] = ("point", frozen(self._point_node[:n]))
        data["point_theta"] = (("point", "param"), frozen(self._point_theta[:n]))
        for i, name in enumerate(("point_loss", "point_eigenvalue", "point_overlap")):
            data[name] = ("point", frozen(self._point_values[:n, i]))
        return xr.Dataset(
            data,
            coords={"node": np.arange(n_nodes), "point": np.arange(n), "param": np.arange(self.dim)},
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
