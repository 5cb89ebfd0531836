"""Lumen geometry along segments: tapered reference radius and cosine lesions."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.tree.vessel_tree import VesselTree


def _per_segment(tree: VesselTree, name: str, fraction) -> jax.Array:
    """Field ``name`` broadcast against ``fraction`` (``(cap,)`` or ``(cap, k)``)."""
    value = getattr(tree, name)
    fraction = jnp.asarray(fraction)
    return value[..., None] if fraction.ndim == value.ndim + 1 else value


def reference_radius(tree: VesselTree, fraction) -> jax.Array:
    """Healthy lumen radius (m) at ``fraction`` ∈ [0, 1] of each segment's length.

    ``fraction`` is ``(..., cap)`` (one point per segment) or ``(..., cap, k)``
    (k points per segment); the radius varies linearly from ``r_in`` to ``r_out``.
    """
    r_in, r_out = _per_segment(tree, "r_in", fraction), _per_segment(tree, "r_out", fraction)
    return r_in + (r_out - r_in) * fraction


def lumen_radius(tree: VesselTree, fraction) -> jax.Array:
    """Lumen radius (m) including the lesion's cosine profile.

    ``r = r_ref·(1 − s·(1 + cos(2π(x − x_c)/Ls))/2)`` for ``|x − x_c| < Ls/2``,
    ``r_ref`` elsewhere, with x the distance along the segment, x_c the lesion
    centre (``stenosis_position·length``), s the diameter stenosis and Ls the
    lesion length; the narrowest radius is ``(1 − s)·r_ref(x_c)``.
    """
    fraction = jnp.asarray(fraction)
    length = _per_segment(tree, "length", fraction)
    s = _per_segment(tree, "stenosis_severity", fraction)
    ls = _per_segment(tree, "stenosis_length", fraction)
    centre = _per_segment(tree, "stenosis_position", fraction) * length
    offset = fraction * length - centre
    inside = (s > 0) & (jnp.abs(offset) < 0.5 * ls)
    phase = 2.0 * jnp.pi * offset / jnp.where(ls > 0, ls, 1.0)
    narrowing = jnp.where(inside, s * 0.5 * (1.0 + jnp.cos(phase)), 0.0)
    return reference_radius(tree, fraction) * (1.0 - narrowing)
