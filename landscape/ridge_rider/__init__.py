"""Ridge Rider (Parker-Holder et al., NeurIPS 2020): diverse solutions by following
Hessian eigenvectors ("ridges") from a maximally invariant saddle.

* :func:`find_mis`: the maximally invariant saddle (§3, App. D.7).
* :func:`search` / :func:`iter_search`: Algorithm 1 (exact), Algorithm 2 (approximate,
  HVPs only), selectable EndRide rules, BFS/DFS/best-first archives; returns a solution
  tree in the :mod:`landscape.tree` format; the generator form streams and resumes.
* :func:`get_ridges`, :mod:`.ridges`: GetRidges and UpdateRidge.
* :mod:`.finish`: a local optimizer from every leaf (``search(..., finish="gd")``).
* :func:`zero_shot_coordination`: Algorithm 3 (cross-play selection of fingerprints).
* :mod:`.tree_mdp`: the tree-MDP diversity experiment of §4 with its baselines.
"""

from . import finish
from .mis import describe_point, find_mis
from .ride import END_RULES
from .ridges import Ridge, get_ridges
from .search import ORDERS, Settings, iter_search, search

__all__ = [
    "END_RULES", "ORDERS", "Ridge", "Settings", "describe_point", "find_mis", "finish", "get_ridges",
    "iter_search", "search",
]
