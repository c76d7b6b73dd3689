"""Ridge Rider costs: one approximate ridge step on mlp-digits, exact RR steps/s on rr-demo
and on a depth-8 tree MDP (before/after the warm step).

Approximate RR (Algorithm 2, ``landscape.ridge_rider.ridges.approximate_step``): one
ridge step is ``2 + 2S`` Hessian-vector products (``H(θ_t)d`` and ``H(θ_{t−1})d`` for the
first-order eigenvalue warm start, then ``Hẽ`` and ``H(Hẽ)`` per inner step), counted
from the code path; its time is printed as a ratio to one gradient evaluation and to
one HVP, all jitted and timed in the same run (medians after compilation).

Exact RR (Algorithm 1 with backtracking, ``landscape.ridge_rider.ride.ride_chunk``): a
long ride on ``rr-demo`` (EndRide = budget only) advanced in compiled chunks; prints
steps per second, and the speed-up over a Python loop calling one jitted exact step
per iteration (same run).

Exact RR on a depth-8 tree MDP (issue 13 item 6, ``tree-mdp(depth=8, seed=6)``, 78
parameters): a whole search with the tree experiment's settings
(``landscape.ridge_rider.tree_mdp.RR_SETTINGS``) for ``--tree-steps`` ride steps, in steps
per second end to end (rides, GetRidges, tree bookkeeping), three ways in the same run:

* before: the tree's loss in its former per-(leaf, node) form (a log-sigmoid per leaf and
  node, rebuilt here as the reference) with ``step="dense"`` (``eigh`` at every
  backtracking trial, the printed algorithm);
* ``step="dense"`` on the current loss (two matrix-vector products);
* after: ``step="warm"`` (Rayleigh-quotient iteration certified against the whole
  spectrum, ``eigh`` only where it cannot certify).

All three take the same decisions up to rounding; the number of tree nodes is printed
for each as a check (rides that reach saturated policies, where the Hessian is rounding
noise, may differ).
"""

import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._common import header, median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inner-steps", type=int, default=5, help="S, UpdateRidge inner steps")
    parser.add_argument("--steps", type=int, default=200, help="exact ride steps timed on rr-demo")
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tree-steps", type=int, default=1000, help="ride steps of the depth-8 tree search")
    args = parser.parse_args()
    header("Ridge Rider: approximate step on mlp-digits, exact steps/s on rr-demo and a depth-8 tree MDP")

    from landscape import problems
    from landscape import ridge_rider as rr
    from landscape.curvature import hvp
    from landscape.ridge_rider.ride import ride_chunk, start_ride
    from landscape.ridge_rider.ridges import approximate_step, exact_step

    # --- approximate RR on mlp-digits -------------------------------------------------
    net = problems.get("mlp-digits", hidden=[32])
    theta = 1e-2 * net.init(jax.random.PRNGKey(0))
    ridge = rr.get_ridges(net.loss, theta, 1, mode="approximate", signs="descent")[0]
    d, lam = jnp.asarray(ridge.direction), ridge.eigenvalue
    S = args.inner_steps
    step = jax.jit(lambda t, d, lam: approximate_step(net.loss, t, d, lam, 0.05, 0.05, 0.05, S))
    grad = jax.jit(jax.grad(net.loss))
    one_hvp = jax.jit(lambda t, v: hvp(net.loss, t, v))
    jax.block_until_ready((step(theta, d, lam), grad(theta), one_hvp(theta, d)))
    t_step = median_time(lambda: step(theta, d, lam), args.repeats)
    t_grad = median_time(lambda: grad(theta), args.repeats)
    t_hvp = median_time(lambda: one_hvp(theta, d), args.repeats)
    print(f"mlp-digits (16-32-10, swish): dim={net.dim}, train samples={len(net.extras['data']['y_train'])}, S={S}")
    print(f"one approximate ridge step: {2 + 2 * S} HVPs (2 warm start + 2 per inner step), no Hessian")
    print(f"  step {t_step * 1e3:8.3f} ms | gradient {t_grad * 1e3:8.3f} ms | HVP {t_hvp * 1e3:8.3f} ms")
    print(f"  step / gradient = {t_step / t_grad:.1f}x, HVP / gradient = {t_hvp / t_grad:.2f}x, "
          f"step / HVP = {t_step / t_hvp:.1f}x (counted: {2 + 2 * S})")

    # --- exact RR on rr-demo ------------------------------------------------------------
    demo = problems.get("rr-demo")
    start = jnp.asarray(demo.ground_truth["maximum"][0])
    ridge = rr.get_ridges(demo.loss, start, 2)[2]  # the shallow ridge: a long ride
    settings = rr.Settings(alpha=0.01, alpha_min=1e-4, end_rules=())
    hyper = settings.hyper(start.dtype, args.steps)
    chunks = -(-args.steps // args.chunk)

    def chunked():
        state = start_ride(demo.loss, start, ridge.direction, ridge.eigenvalue)
        for _ in range(chunks):
            state, _trace = ride_chunk(demo.loss, "exact", (), args.chunk, state, hyper)
        return state.theta

    one_step = jax.jit(lambda t, d: exact_step(demo.loss, t, d, 0.01, 1e-4, 0.95))

    def python_loop():
        t, d = start, jnp.asarray(ridge.direction)
        for _ in range(args.steps):
            result = one_step(t, d)
            t, d = result.theta, result.direction
        return t

    a, b = chunked(), python_loop()  # compile both
    assert np.allclose(a, b), "the two drivers should follow the same ride"
    t_chunked = median_time(chunked, args.repeats)
    t_loop = median_time(python_loop, args.repeats)
    print(f"rr-demo exact ride, {args.steps} steps (dense eigh + backtracking per step), chunks of {args.chunk}:")
    print(f"  compiled chunks: {args.steps / t_chunked:10.0f} steps/s | Python loop of a jitted step: "
          f"{args.steps / t_loop:10.0f} steps/s | speed-up {t_loop / t_chunked:.1f}x")

    # --- exact RR on a depth-8 tree MDP: before / dense / warm -------------------------
    from landscape.ridge_rider.tree_mdp import RR_SETTINGS

    tree_mdp = problems.get("tree-mdp", depth=8, seed=6)
    signs = jnp.asarray(tree_mdp.extras["leaf_paths"])
    rewards = jnp.asarray(tree_mdp.extras["rewards"])

    def former_loss(theta):  # the loss as it was: one log-sigmoid per (leaf, node)
        logp = jnp.sum(jnp.abs(signs) * jax.nn.log_sigmoid(signs * theta[None, :]), axis=1)
        return -jnp.dot(rewards, jnp.exp(logp))

    former = dataclasses.replace(tree_mdp, loss=former_loss)
    mis = rr.find_mis(tree_mdp, jnp.zeros(tree_mdp.dim), entropy_weight=10.0)
    np.testing.assert_allclose(former_loss(mis), tree_mdp.loss(mis), rtol=1e-12)
    settings = {**RR_SETTINGS, "total_steps": args.tree_steps}
    rates = {}
    for name, problem, step in (("before: former loss, dense", former, "dense"),
                                ("current loss, dense", tree_mdp, "dense"),
                                ("after: current loss, warm", tree_mdp, "warm")):
        rr.search(problem, mis, step=step, **{**settings, "total_steps": 50})  # compile
        start_time = time.perf_counter()
        tree = rr.search(problem, mis, step=step, **settings)
        seconds = time.perf_counter() - start_time
        rates[name] = int(tree.attrs["steps"]) / seconds
        print(f"  {name:28s} {rates[name]:8.0f} steps/s ({int(tree.attrs['steps'])} steps, "
              f"{tree.sizes['node']} nodes, {seconds:.1f} s)")
    before, after = rates["before: former loss, dense"], rates["after: current loss, warm"]
    print(f"tree-mdp depth 8 (dim {tree_mdp.dim}): after / before = {after / before:.1f}x, "
          f"warm / dense on the current loss = {after / rates['current loss, dense']:.1f}x")


if __name__ == "__main__":
    main()
