"""Vessels of a tree for per-vessel reporting: chains of segments that follow the largest child.

Clinical FFR is reported per vessel (LAD, LCx, RCA and their large branches), at the vessel's distal end
where the pressure wire sits. On a tree without anatomical labels, a **vessel** starts at the root or at a
side branch and continues at every junction into its largest child (by inlet radius; ties to the lower
index) until it ends at an outlet. A **main vessel** is one whose first segment has a reference inlet
radius of at least ``min_radius`` (default 1 mm: 2 mm diameter, the smallest vessel clinical FFR studies
report). `jit`/`vmap`-compatible (level sweeps; no Python loops over segments).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from cardiojax.tree.traversal import is_outlet, sweep_down
from cardiojax.tree.vessel_tree import VesselTree

#: Smallest inlet radius (m) of a main vessel.
MAIN_VESSEL_RADIUS = 1.0e-3


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Vessels:
    """Vessel membership of each segment (arrays ``(cap,)``).

    Attributes:
      first: index of the first segment of the segment's vessel (−1 for padding).
      tip: True at the distal (outlet) segment of a vessel.
      main: True at the segments of main vessels.
    """

    first: jax.Array
    tip: jax.Array
    main: jax.Array


def _continues(tree: VesselTree) -> jax.Array:
    """``(cap,)`` bool: the segment is its parent's largest child (the parent's vessel goes on into it)."""
    cap = tree.capacity
    slot = jnp.where(tree.valid & (tree.parent >= 0), tree.parent, cap)  # roots and padding: no parent
    idx = jnp.arange(cap)
    same = (slot[:, None] == slot[None, :]) & tree.valid[None, :] & tree.valid[:, None]
    bigger = (tree.r_in[None, :] > tree.r_in[:, None]) | ((tree.r_in[None, :] == tree.r_in[:, None])
                                                          & (idx[None, :] < idx[:, None]))
    return tree.valid & (tree.parent >= 0) & ~jnp.any(same & bigger, axis=1)


def vessels(tree: VesselTree, min_radius=MAIN_VESSEL_RADIUS) -> Vessels:
    """The vessels of one tree (see the module docstring)."""
    cont = _continues(tree)
    idx = jnp.arange(tree.capacity)
    first = sweep_down(tree, lambda received: jnp.where(cont, received, idx), lambda x: x,
                       jnp.asarray(-1), idx)
    first = jnp.where(tree.valid, first, -1)
    main = tree.valid & (tree.r_in[jnp.clip(first, 0)] >= min_radius)
    return Vessels(first, is_outlet(tree), main)


def vessel_ffr(tree: VesselTree, ffr_out, min_radius=MAIN_VESSEL_RADIUS):
    """Distal FFR of every main vessel: ``(cap,)`` with the value at each main vessel's tip segment, NaN elsewhere."""
    v = vessels(tree, min_radius)
    return jnp.where(v.tip & v.main, ffr_out, jnp.nan)
