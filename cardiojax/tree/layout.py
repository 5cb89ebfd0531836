"""Planar centreline layout of a tree from its topology and lengths.

Used for drawing and for export when a tree has no coordinates of its own
(e.g. read from a file that gives only lengths). Works under `jit`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.tree.traversal import _parent_slot, path_sum
from cardiojax.tree.vessel_tree import VesselTree


def sibling_rank(tree: VesselTree) -> jax.Array:
    """``(cap,)`` int32: how many valid siblings come before each segment."""
    cap = tree.capacity
    slot = _parent_slot(tree.parent, tree.valid)
    idx = jnp.arange(cap)
    same = (slot[:, None] == slot[None, :]) & tree.valid[None, :] & (idx[None, :] < idx[:, None])
    return jnp.sum(same, axis=1).astype(jnp.int32)


def default_turns(tree: VesselTree, spread: float = 0.7) -> jax.Array:
    """Turn angle (rad) of each segment relative to its parent's heading.

    The first child continues straight; later siblings alternate left and
    right by multiples of ``spread`` rad.
    """
    rank = sibling_rank(tree)
    side = jnp.where(rank % 2 == 1, 1.0, -1.0)
    return jnp.where(tree.parent >= 0, side * spread * ((rank + 1) // 2), 0.0)


def planar_layout(
    tree: VesselTree, turns: jax.Array | None = None, heading: float = -jnp.pi / 2
) -> tuple[jax.Array, jax.Array]:
    """Start and end points (m) of straight segments in the z = 0 plane.

    Args:
      tree: a single tree.
      turns: ``(cap,)`` rad, turn of each segment relative to its parent
        (default `default_turns`).
      heading: rad, direction of the root segment (default: downwards).

    Returns:
      ``(start, end)``, each ``(cap, 3)`` m; the root starts at the origin.
    """
    turns = default_turns(tree) if turns is None else turns
    theta = heading + path_sum(tree, jnp.where(tree.valid, turns, 0.0))
    step = tree.length[:, None] * jnp.stack(
        [jnp.cos(theta), jnp.sin(theta), jnp.zeros_like(theta)], axis=-1
    )
    step = jnp.where(tree.valid[:, None], step, 0.0)
    end = path_sum(tree, step)
    return end - step, end
