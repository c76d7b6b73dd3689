"""Shared benchmark helpers: a header with the command and machine, and median timings."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import jax


def header(title: str, x64: bool = True) -> None:
    """Print what ran, on what machine, with which JAX; float64 unless ``x64=False``."""
    jax.config.update("jax_enable_x64", x64)
    print(f"# {title}")
    print("command:", " ".join(sys.orig_argv))
    print(f"machine: {platform.node()} {platform.machine()} {platform.processor() or ''} "
          f"cpus={os.cpu_count()} python={platform.python_version()}")
    print(f"jax={jax.__version__} backend={jax.default_backend()} devices={jax.devices()} x64={'on' if x64 else 'off'}")


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls (results blocked on)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternating_medians(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median wall-clock seconds of each of ``fns`` over ``repeats`` rounds, one call of each per round
    (so a slower spell of a shared machine, or one library's worker threads still spinning after its
    call, falls on every side alike)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, own in zip(fns, times):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            own.append(time.perf_counter() - start)
    return [statistics.median(own) for own in times]


def float32_twin(problem):
    """``problem`` rebuilt with float32 data (the registry caches it per precision): a float32 θ on a
    problem built under x64 would promote every loss and HVP to float64."""
    from landscape import problems

    with jax.enable_x64(False):
        return problems.get(problem.name, **problem.options)
