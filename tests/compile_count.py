"""Count jit cache misses in a block of code (no timing)."""

import contextlib

import jax

LOWERING = "/jax/core/compile/jaxpr_to_mlir_module_duration"


@contextlib.contextmanager
def count_lowerings():
    """Yield a list that gets one entry per jaxpr lowered to MLIR inside the block: one per
    jit cache miss, whether or not a persistent compilation cache then skips the backend."""
    events = []

    def listener(name, duration, **kwargs):
        if name == LOWERING:
            events.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
