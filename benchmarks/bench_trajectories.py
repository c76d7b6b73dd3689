"""Click-to-trajectories on a 2-D surface: 8 optimizer configs × 500 steps from one start.

Times :func:`landscape.trajectories.run_trajectories` after compilation (the
dashboard's path: every optimizer in one jitted, vmapped ``lax.scan`` per
chunk) against the 0.2 s interactivity target and against a baseline that
runs each optimizer as a Python loop of a jitted optax step (recording θ, loss
and ‖∇L‖ each step, as the engine does).  Medians of repeats, same run.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks._common import header, median_time

TARGET_S = 0.2
CONFIGS = [
    ("gd", {"lr": 0.01}),
    ("gd", {"lr": 0.002}),
    ("heavy-ball", {"lr": 0.005, "momentum": 0.9}),
    ("nesterov", {"lr": 0.005, "momentum": 0.9}),
    ("adam", {"lr": 0.1}),
    ("rmsprop", {"lr": 0.02}),
    ("adagrad", {"lr": 0.5}),
    ("damped-newton", {"lr": 0.5, "damping": 1.0}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problem", default="himmelblau")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=50, help="steps per streamed chunk (the engine default)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    header("Click-to-trajectories: 8 optimizer configs x 500 steps on a 2-D surface")

    from landscape import problems
    from landscape.trajectories import OPTIMIZERS, resolve, run_trajectories

    problem = problems.get(args.problem)
    click = jnp.array([[-0.5, 0.8]])

    def engine(chunk):
        return lambda: run_trajectories(problem, click, CONFIGS, steps=args.steps, chunk=chunk).theta.values

    value_and_grad = jax.value_and_grad(problem.loss)

    def make_step(name, hp):
        opt = OPTIMIZERS[name].build(problem.loss, hp)

        @jax.jit
        def step(theta, state, g):
            updates, state = opt.update(g, state, theta)
            theta = optax.apply_updates(theta, updates)
            loss, g = value_and_grad(theta)
            return theta, state, g, loss, jnp.linalg.norm(g)

        return opt, step

    baselines = [make_step(name, hp) for name, hp in resolve(CONFIGS)]

    def python_loop():
        paths = []
        for opt, step in baselines:
            theta, state = click[0], opt.init(click[0])
            g = value_and_grad(theta)[1]
            path = [theta]
            for _ in range(args.steps):
                theta, state, g, loss, norm = step(theta, state, g)
                path.append(theta)
            paths.append(jnp.stack(path))
        return np.asarray(jnp.stack(paths))

    streamed, single, loop = engine(args.chunk)(), engine(args.steps)(), python_loop()  # compile all
    np.testing.assert_allclose(streamed, loop, rtol=1e-9, atol=1e-9, equal_nan=True)
    t_stream = median_time(engine(args.chunk), args.repeats)
    t_single = median_time(engine(args.steps), args.repeats)
    t_loop = median_time(python_loop, max(1, args.repeats // 2))
    print(f"problem: {args.problem}, {len(CONFIGS)} optimizer configs x {args.steps} steps from one click")
    print(f"engine, streamed in chunks of {args.chunk}: {t_stream * 1e3:8.2f} ms -> {t_stream / TARGET_S:.2f} of the 0.2 s target")
    print(f"engine, one chunk of {args.steps}:        {t_single * 1e3:8.2f} ms -> {t_single / TARGET_S:.2f} of the 0.2 s target")
    print(f"baseline, Python loop of jitted steps: {t_loop * 1e3:8.2f} ms")
    print(f"speed-up over the baseline: {t_loop / t_stream:.1f}x (streamed), {t_loop / t_single:.1f}x (one chunk)")


if __name__ == "__main__":
    main()
