"""Our slices and top-k Hessian against the field's PyTorch tools, on identical models and data.

* Slices: ``loss_landscapes.random_plane`` (filter-normalised) against
  :func:`landscape.slices.slice_loss` (fast plane kernel, float32) on the same torch/JAX MLP
  (same weights, data, directions and grid points: the directions are regenerated from the
  peer's own random draws under the same torch seed).  Workloads: 41² and 81² of
  ``mlp-moons`` and 41² of the 64-128-128-10 tanh MLP on the 8×8 digits.
* Top-k: PyHessian's power iteration with deflation (``hessian(...).eigenvalues(top_n=k)``)
  against :func:`landscape.curvature.lanczos_eigenpairs` at its defaults, k = 1, 5, 10 on the
  digits MLP at two points (init + noise, and after 300 Adam steps), both float32; errors against
  a float64 ARPACK reference; PyHessian's HVPs counted by wrapping its ``hessian_vector_product``.
  PyHessian runs at its defaults (maxIter 100, tol 1e-3), which miss 1e-3 relative accuracy,
  and at equal accuracy: the loosest of its tolerances 1e-4, 1e-5, 1e-6 whose top-k all lie
  within 1e-3 relative of the reference (tuned for it, with the answer known).

Needs ``torch`` (a CPU wheel), ``loss-landscapes`` and ``pyhessian``; each part is skipped
with a message when its package is missing.  Not part of CI.  Medians of repeats, same run; ours and the peer's default run alternate
round by round (:func:`benchmarks._common.alternating_medians`).
"""

import argparse
import copy
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from benchmarks._common import alternating_medians, float32_twin, header, median_time

MOONS = ("mlp-moons", {})
DIGITS = ("mlp-digits", {"resolution": 8, "hidden": [128, 128], "activation": "tanh", "l2": 0.0})


def torch_twin(problem, theta):
    """A ``torch.nn.Sequential`` with the weights of the JAX MLP at ``theta`` (float32)."""
    import torch

    sizes, layers = problem.extras["layer_sizes"], problem.unravel(theta)
    modules = []
    for i, layer in enumerate(layers):
        linear = torch.nn.Linear(sizes[i], sizes[i + 1])
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(np.asarray(layer["w"], np.float32)))
            linear.bias.copy_(torch.tensor(np.asarray(layer["b"], np.float32)))
        modules += [linear, torch.nn.Tanh()] if i < len(layers) - 1 else [linear]
    return torch.nn.Sequential(*modules)


def torch_data(problem):
    import torch

    data = problem.extras["data"]
    return torch.tensor(data["x_train"], dtype=torch.float32), torch.tensor(data["y_train"])


def peer_plane(model, steps: int, seed: int):
    """The scaled directions and start offset ``random_plane`` draws under ``seed``, replayed from
    its own code (loss_landscapes.main.random_plane, 'filter', distance 1) as flat JAX-order vectors."""
    import torch
    from loss_landscapes.model_interface.model_parameters import orthogonal_to, rand_u_like
    from loss_landscapes.model_interface.model_wrapper import wrap_model

    torch.manual_seed(seed)
    start = wrap_model(copy.deepcopy(model)).get_module_parameters()
    one = rand_u_like(start)
    two = orthogonal_to(one)
    one.filter_normalize_(start)
    two.filter_normalize_(start)
    one.mul_((start.model_norm() / steps) / one.model_norm())
    two.mul_((start.model_norm() / steps) / two.model_norm())

    def flat(parameters):  # torch order (w0, b0, w1, ...) -> our ravel order of [{"w", "b"}, ...]
        tensors = [p.detach().numpy().astype(np.float64) for p in parameters.parameters]
        return np.asarray(ravel_pytree([{"w": w, "b": b} for w, b in zip(tensors[::2], tensors[1::2])])[0])

    return np.stack([flat(one), flat(two)])


def centre(problem):
    """The init plus a little noise: loss-landscapes divides by the bias norms (zero at init)."""
    theta = problem.init(jax.random.PRNGKey(0))
    return theta + 0.1 * jax.random.normal(jax.random.PRNGKey(1), theta.shape, theta.dtype)


def compare_slices(problem, steps: int, repeats: int) -> None:
    import torch
    from loss_landscapes import random_plane
    from loss_landscapes.metrics import Loss

    from landscape.slices import slice_loss

    theta = centre(problem)
    model = torch_twin(problem, theta)
    inputs, targets = torch_data(problem)
    metric = Loss(torch.nn.CrossEntropyLoss(), inputs, targets)
    directions = peer_plane(model, steps, seed=1)
    half = steps / 2
    alpha, beta = np.arange(steps) - half, np.arange(steps + 1) - half  # random_plane's points, both parities

    def peer():
        torch.manual_seed(1)
        return random_plane(model, metric, distance=1, steps=steps, normalization="filter", deepcopy_model=True)

    def ours():
        return slice_loss(problem, theta, directions, alpha, beta).loss.values

    theirs, mine = peer(), ours()
    # column i of random_plane: even i at β index j+1, odd i at β index j (its in-place walk)
    matched = np.array([[mine[j + 1 - i % 2, i] for j in range(steps)] for i in range(steps)])
    t_ours, t_peer = alternating_medians([ours, peer], repeats)
    print(f"  {problem.name} dim={problem.dim} {steps}x{steps}: ours {t_ours * 1e3:8.1f} ms  "
          f"loss-landscapes {t_peer * 1e3:8.1f} ms  ratio {t_peer / t_ours:5.1f}x  "
          f"max relative difference {np.max(np.abs(matched - theirs) / np.abs(theirs)):.1e}")


def trained(problem, steps: int = 300):
    """The MLP after ``steps`` full-batch Adam steps (lr 1e-3) from its init: where top-k is usually
    asked (PyHessian's use case), the top eigenvalues separated from the bulk."""
    import optax

    theta = problem.init(jax.random.PRNGKey(0))
    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(theta, state):
        updates, state = optimizer.update(jax.grad(problem.loss)(theta), state, theta)
        return optax.apply_updates(theta, updates), state

    state = optimizer.init(theta)
    for _ in range(steps):
        theta, state = step(theta, state)
    return theta


#: PyHessian's tolerances tried, loosest first, for its run at equal accuracy (relative error ≤
#: ACCURACY on every one of the top-k); its per-eigenvalue iteration cap raised to PEER_MAX_ITER.
PEER_TOLS, PEER_MAX_ITER, ACCURACY = (1e-4, 1e-5, 1e-6), 2000, 1e-3


def compare_top_k(problem, ks, repeats: int) -> None:
    import importlib

    import torch

    from benchmarks.bench_lanczos import reference_top
    from landscape.curvature import lanczos_eigenpairs

    pyhessian_module = importlib.import_module("pyhessian.hessian")  # the module, not its class
    count = [0]
    plain_hvp = pyhessian_module.hessian_vector_product

    def counted(*args):
        count[0] += 1
        return plain_hvp(*args)

    pyhessian_module.hessian_vector_product = counted
    inputs, targets = torch_data(problem)
    single = float32_twin(problem)
    for label, theta in (("init + noise (clustered top eigenvalues)", centre(problem)),
                         ("trained, 300 Adam steps", trained(problem))):
        reference = reference_top(problem.loss, theta, max(ks), dense=False)
        print(f"  at {label}: loss {float(problem.loss(theta)):.4f}, top eigenvalues "
              f"{np.array2string(reference[:max(ks)], precision=3)}")
        model = torch_twin(problem, theta)
        theta32 = theta.astype(jnp.float32)

        def error(values, k):
            values = np.sort(np.asarray(values, float))[::-1]
            return np.max(np.abs(values - reference[:k]) / np.abs(reference[:k]))

        for k in ks:
            def peer(tol=1e-3, max_iter=100, k=k):
                torch.manual_seed(0)
                computer = pyhessian_module.hessian(model, torch.nn.CrossEntropyLoss(), data=(inputs, targets),
                                                    cuda=False)
                return computer.eigenvalues(maxIter=max_iter, tol=tol, top_n=k)[0]

            def counted_run(**settings):
                count[0] = 0
                values = peer(**settings)
                return count[0], error(values, k)

            ours = jax.jit(lambda t, k=k: lanczos_eigenpairs(single.loss, t, k))
            result = jax.block_until_ready(ours(theta32))
            hvps, err = counted_run()
            t_ours, t_peer = alternating_medians([lambda: ours(theta32), peer], max(3, repeats))
            print(f"    top-{k:2d} ours (defaults): {int(result.num_matvecs):4d} HVPs {t_ours * 1e3:8.1f} ms "
                  f"err {error(result.values, k):.1e}")
            print(f"           PyHessian defaults (tol 1e-3, maxIter 100): {hvps:4d} HVPs {t_peer * 1e3:8.1f} ms "
                  f"err {err:.1e} | ratio {t_peer / t_ours:5.1f}x")
            for tol in PEER_TOLS:
                hvps, err = counted_run(tol=tol, max_iter=PEER_MAX_ITER)
                if err <= ACCURACY:
                    t_peer = median_time(lambda: peer(tol, PEER_MAX_ITER), repeats)
                    print(f"           PyHessian at equal accuracy (tol {tol:.0e}, maxIter {PEER_MAX_ITER}): "
                          f"{hvps:4d} HVPs {t_peer * 1e3:8.1f} ms err {err:.1e} | ratio {t_peer / t_ours:5.1f}x")
                    break
            else:
                print(f"           PyHessian did not reach {ACCURACY:.0e} at tol {PEER_TOLS[-1]:.0e} "
                      f"({hvps} HVPs, err {err:.1e})")
    pyhessian_module.hessian_vector_product = plain_hvp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-topk-repeats", type=int, default=1,
                        help="repeats of PyHessian at equal accuracy (seconds each); at its defaults: 3 or more")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--parts", nargs="+", choices=("slices", "topk"), default=["slices", "topk"])
    args = parser.parse_args()
    header("Slices and top-k Hessian vs loss-landscapes and PyHessian on identical torch/JAX MLPs")
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    try:
        import torch
    except ImportError:
        print("SKIPPED: torch is not installed (pip install torch, a CPU wheel)")
        return
    print(f"torch={torch.__version__} threads={torch.get_num_threads()}")

    from landscape import problems

    try:
        import loss_landscapes  # noqa: F401
    except ImportError:
        print("SKIPPED slices: loss-landscapes is not installed (pip install loss-landscapes)")
    else:
        if "slices" in args.parts:
            print("\nslices (float32 both sides):")
            for (name, options), steps in ((MOONS, 41), (MOONS, 81), (DIGITS, 41)):
                compare_slices(problems.get(name, **options), steps, args.repeats)
    try:
        import pyhessian  # noqa: F401
    except ImportError:
        print("SKIPPED top-k: pyhessian is not installed (pip install pyhessian)")
    else:
        if "topk" in args.parts:
            print("\ntop-k Hessian eigenvalues of the digits MLP (float32 both sides, errors vs float64 ARPACK):")
            compare_top_k(problems.get(*DIGITS[:1], **DIGITS[1]), args.ks, args.peer_topk_repeats)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
