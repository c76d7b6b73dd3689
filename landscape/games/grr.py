"""Generalized Ridge Rider (Lorraine §5.4, Algorithm 13) in the shared tree format.

Components of Algorithm 13 as instantiated here (the thesis leaves
ChooseBranch, EndRide and VerifySolution open; notes §1.4.2):

FindStartingPoint
    the given ``start`` (typically the end of exponent ascent,
    :func:`landscape.games.exponent_ascent`, eq. 5.13).
SplitBranch
    the top ``n_directions`` eigenvectors d_i of J† (eq. 5.11, k steps of
    the rule from the node; k = 1 gives JᵀJ, the local exponent) whose
    eigenvalues exceed ``threshold`` (= 1: trajectories locally separate),
    each in both signs: child start ω ± ``step_size``·d_i.  For stateful
    rules the parameter part of d_i is used.  With SimGD at a saddle this is
    RR's most negative Hessian eigenvector (J = I − αĤ).
Optimize
    ``optimize_steps`` steps of the chosen rule (buffers reset at the branch).
VerifySolution
    ‖ĝ‖ < ``solution_tol`` at the end: status ``"solution"``, else
    ``"not-converged"``.
ContinueBranching
    re-branch (status ``"branched"``) while depth < ``max_depth`` and the
    end point's J† still has eigenvalues above ``threshold``.
ChooseBranch
    breadth first.

The tree is :class:`landscape.tree.TreeBuilder`'s (the same format as Ridge
Rider): ``eigenvalue`` is the J† eigenvalue of the followed direction,
``loss`` is player A's loss, ``grad_norm`` is ‖ĝ‖; rides record every
``record_every``-th iterate with ``point_eigenvalue`` = top J† eigenvalue
(k = 1) there and ``point_overlap`` = |cos| between the displacement from
the branch point and d_i.  Extra variable: ``player_loss (node, player)``.
"""

from __future__ import annotations

import collections
from collections.abc import Generator

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import limits
from ..jobs import CancelToken, Event, drive, is_cancelled
from ..problems import Game
from ..tree import TreeBuilder
from .jacobian import joint_gradient, player_loss_values
from .lyapunov import trajectory_jacobians
from .rules import as_points, game_config, resolve, run_map


def iter_grr_search(game: Game | str, rule: str, start, k: int = 1, n_directions: int | None = None,
                    step_size: float = 0.5, optimize_steps: int = 500, max_depth: int = 1,
                    threshold: float = 1.0, solution_tol: float = 1e-3, record_every: int = 10,
                    cancel: CancelToken | None = None, **hyper) -> Generator[Event, None, xr.Dataset]:
    """Grow the GRR tree breadth first; yields one ``"node"`` event per finished ride,
    whose ``partial`` is the tree so far (the new child is its last node)."""
    limits.check("steps", max(optimize_steps, k))
    game, fmap, h, hf = resolve(game, rule, hyper)
    dim = game.dim
    n_dir = n_directions or dim

    @jax.jit
    def branch_directions(w):
        _, js = trajectory_jacobians(fmap, fmap.init(w, h), h, k)
        evals, evecs = jnp.linalg.eigh(jnp.mean(jnp.einsum("kij,kil->kjl", js, js), axis=0))
        d = evecs[:dim, ::-1][:, :n_dir]
        return evals[::-1][:n_dir], d / jnp.linalg.norm(d, axis=0)

    @jax.jit
    def top_eigenvalue(w):
        j = jax.jacfwd(fmap.step)(fmap.init(w, h), h)
        return jnp.linalg.eigvalsh(j.T @ j)[-1]

    @jax.jit
    def optimize(w):
        return fmap.params(run_map(fmap, fmap.init(w, h), h, optimize_steps))

    def summary(w):
        return (np.asarray(player_loss_values(game, w)), float(jnp.linalg.norm(joint_gradient(game, w))))

    tree = TreeBuilder(dim)
    tree_config = game_config(game, rule, hf, k=k, n_directions=n_dir, step_size=step_size,
                              optimize_steps=optimize_steps, max_depth=max_depth,
                              threshold=threshold, solution_tol=solution_tol)

    def tree_so_far(status: str) -> xr.Dataset:
        ds = tree.to_dataset("grr-tree", tree_config, status=status)
        losses = np.stack([player_losses[i] for i in range(len(tree))])
        return ds.assign(player_loss=(("node", "player"), losses)).assign_coords(player=np.arange(game.num_players))

    w0 = as_points(start, dim)[0]
    losses0, gn0 = summary(w0)
    root = tree.add_root(np.asarray(w0), float(losses0[0]), gn0)
    player_losses = {root: losses0}
    queue = collections.deque([root])
    status = "complete"
    done = 0
    while queue:
        if is_cancelled(cancel):
            status = "cancelled"
            break
        node = queue.popleft()
        tree.mark_expanded(node)
        record = tree.node_record(node)
        w = jnp.asarray(record["theta"])
        evals, dirs = branch_directions(w)
        evals, dirs = np.asarray(evals), np.asarray(dirs)
        eligible = [i for i in range(len(evals)) if evals[i] > threshold]
        if not eligible:
            continue
        if node != root:
            tree.update(node, status="branched")
        for i, sign in [(i, sign) for i in eligible for sign in (1, -1)]:
            if is_cancelled(cancel):  # between rides: one ride is the longest wait for a cancel
                status = "cancelled"
                break
            begin = w + sign * step_size * jnp.asarray(dirs[:, i])
            path = np.asarray(optimize(begin))
            end = path[-1]
            losses, gn = summary(jnp.asarray(end))
            verdict = "solution" if gn < solution_tol else "not-converged"
            child = tree.add_child(node, i, sign, float(evals[i]), end, float(losses[0]), gn, verdict)
            player_losses[child] = losses
            pts = path[::record_every]
            disp = pts - np.asarray(w)
            overlap = np.abs(disp @ dirs[:, i]) / np.maximum(np.linalg.norm(disp, axis=1), 1e-300)
            eig = np.asarray(jax.vmap(top_eigenvalue)(jnp.asarray(pts)))
            ride_losses = np.asarray(jax.vmap(game.player_losses[0])(jnp.asarray(pts)))
            tree.add_ride(child, pts, ride_losses, eig, overlap)
            if record["depth"] + 1 < max_depth:
                queue.append(child)
            done += 1
            yield Event("node", done, done + 2 * len(eligible) * len(queue), tree_so_far("running"))
    return tree_so_far(status)


def grr_search(game, rule, start, **kwargs) -> xr.Dataset:
    """Run :func:`iter_grr_search` to the end and return the tree Dataset."""
    return drive(iter_grr_search(game, rule, start, **kwargs))
