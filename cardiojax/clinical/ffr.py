"""Fractional flow reserve and pressure drops from a solved tree.

FFR = P_distal / P_aortic (clinical definition, venous pressure neglected);
a value below 0.80 marks a lesion that needs treatment (0.75 is the older,
stricter cut-off). These functions take solver output, whichever solver
produced it (steady 0D now; pulsatile 0D, 1D and 3D pass cycle-averaged
pressures), and are `jit`/`vmap`-compatible.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.tree.vessel_tree import VesselTree

#: Clinical cut-offs: FFR below these marks a haemodynamically significant lesion.
FFR_CUTOFFS = (0.80, 0.75)


def ffr(pressure, aortic_pressure):
    """FFR = P / P_aortic (dimensionless), pressures in Pa (any shape, broadcasting)."""
    return pressure / aortic_pressure


def segment_ffr(p_in, p_out, aortic_pressure) -> tuple[jax.Array, jax.Array]:
    """FFR at the inlet and at the outlet (end) of every segment."""
    return ffr(p_in, aortic_pressure), ffr(p_out, aortic_pressure)


def pressure_drop(p_in, p_out):
    """Pressure drop along each segment, Pa."""
    return p_in - p_out


def min_ffr(tree: VesselTree, ffr_out) -> jax.Array:
    """Lowest FFR over each tree's valid segment ends, shape ``batch_shape``."""
    return jnp.min(jnp.where(tree.valid, ffr_out, jnp.inf), axis=-1)
