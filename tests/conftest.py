"""Test-wide set-up: float64 everywhere (DESIGN.md, "Precision")."""

import jax

jax.config.update("jax_enable_x64", True)
