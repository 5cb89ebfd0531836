"""Tree traversal under `jit`: depths, ancestor path sums, level sweeps.

Every function here works on one tree with arrays of shape ``(cap, ...)`` and
is `jit`/`vmap`/`grad`-compatible; `vmap` it for batches. Nothing loops over
segments in Python:

* ancestor quantities use pointer jumping (``ceil(log2 cap)`` gathers);
* leaves→root and root→leaves recursions use ``max_depth + 1`` level passes
  in a `lax.scan`, each pass updating every segment at once — after pass k
  every segment within k levels of the leaves (upward) or of the root
  (downward) holds its exact value.

Functions marked `batchable` also accept a batch of trees (leading axes).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from cardiojax.tree.vessel_tree import VesselTree


def batchable(fn):
    """Let ``fn(tree, *arrays)`` accept batched trees (and arrays) by `vmap`."""

    @functools.wraps(fn)
    def wrapped(tree: VesselTree, *arrays):
        if tree.parent.ndim > 1:
            return jax.vmap(wrapped)(tree, *arrays)
        return fn(tree, *arrays)

    return wrapped


def _parent_slot(parent: jax.Array, valid: jax.Array) -> jax.Array:
    """Parent index, with roots and padding mapped to the dummy slot ``cap``."""
    cap = parent.shape[-1]
    return jnp.where(valid & (parent >= 0), parent, cap)


def _gather_parent(values: jax.Array, slot: jax.Array, root_value) -> jax.Array:
    """``values[parent]`` per segment; ``root_value`` where there is no parent."""
    fill = jnp.broadcast_to(jnp.asarray(root_value, values.dtype), values.shape[1:])
    extended = jnp.concatenate([values, fill[None]], axis=0)
    return extended[slot]


@batchable
def children_sum(tree: VesselTree, values: jax.Array) -> jax.Array:
    """Sum of ``values`` over each segment's valid children, shape of ``values``.

    Args:
      tree: a single (unbatched) tree.
      values: ``(cap, ...)`` per-segment values.
    """
    slot = _parent_slot(tree.parent, tree.valid)
    mask = tree.valid.reshape(tree.valid.shape + (1,) * (values.ndim - 1))
    out = jax.ops.segment_sum(
        jnp.where(mask, values, 0), slot, num_segments=tree.capacity + 1
    )
    return out[:-1]


@batchable
def num_children(tree: VesselTree) -> jax.Array:
    """``(cap,)`` int32, number of valid children of each segment."""
    return children_sum(tree, jnp.ones(tree.capacity, jnp.int32))


@batchable
def is_outlet(tree: VesselTree) -> jax.Array:
    """``(cap,)`` bool, True for valid segments without children (terminal)."""
    return tree.valid & (num_children(tree) == 0)


@batchable
def is_root(tree: VesselTree) -> jax.Array:
    """``(cap,)`` bool, True for the valid segment without a parent."""
    return tree.valid & (tree.parent < 0)


@batchable
def path_sum(tree: VesselTree, values: jax.Array) -> jax.Array:
    """Sum of ``values`` over each segment and all of its ancestors.

    Pointer jumping: ``ceil(log2(cap))`` rounds of ``s += s[anc]; anc = anc[anc]``.

    Args:
      tree: a single tree.
      values: ``(cap, ...)`` per-segment values.

    Returns:
      ``(cap, ...)``; ``out[i] = Σ values[a]`` over a ∈ {i} ∪ ancestors(i).
    """
    cap = tree.capacity
    slot = _parent_slot(tree.parent, tree.valid)
    zero = jnp.zeros(values.shape[1:], values.dtype)
    total = values
    anc = slot
    for _ in range(max(1, math.ceil(math.log2(max(cap, 2))))):  # static, log2(cap) rounds
        total = total + _gather_parent(total, anc, zero)
        anc = _gather_parent(anc, anc, cap)
    return total


@batchable
def depth(tree: VesselTree) -> jax.Array:
    """``(cap,)`` int32 depth of each segment (root 0; padding 0)."""
    ones = jnp.where(tree.valid, 1, 0).astype(jnp.int32)
    return jnp.maximum(path_sum(tree, ones) - 1, 0)


@batchable
def level_order(tree: VesselTree) -> jax.Array:
    """``(cap,)`` int32 permutation listing valid segments by depth (root first),
    ties in index order, padding last (breadth-first order)."""
    key = jnp.where(tree.valid, depth(tree), tree.capacity + 1)
    return jnp.argsort(key, stable=True).astype(jnp.int32)


def sweep_up(
    tree: VesselTree,
    node: Callable[[Any], Any],
    to_parent: Callable[[Any], Any],
    init: Any,
) -> Any:
    """Leaves→root recursion ``x_i = node(Σ_{children c} to_parent(x_c))``.

    Args:
      tree: a single tree; ``tree.max_depth + 1`` passes are run.
      node: maps the children aggregate (a pytree of ``(cap, ...)`` arrays) to
        the new per-segment state; it sees every segment at once and must
        handle segments without children (their aggregate is zero).
      to_parent: maps the per-segment state to the pytree summed into parents.
      init: initial per-segment state (any finite values).

    Returns:
      The per-segment state after the recursion has converged.
    """

    def one_pass(x, _):
        agg = jax.tree_util.tree_map(lambda v: children_sum(tree, v), to_parent(x))
        return node(agg), None

    x, _ = lax.scan(one_pass, init, None, length=tree.max_depth + 1)
    return x


def sweep_down(
    tree: VesselTree,
    node: Callable[[Any], Any],
    from_parent: Callable[[Any], Any],
    root_input: Any,
    init: Any,
) -> Any:
    """Root→leaves recursion ``x_i = node(from_parent(x_{parent(i)}))``.

    Args:
      tree: a single tree; ``tree.max_depth + 1`` passes are run.
      node: maps the per-segment input from the parent (pytree of
        ``(cap, ...)``) to the new per-segment state.
      from_parent: maps the per-segment state to what its children receive.
      root_input: what the root (and padding) receives instead (pytree of
        scalars or ``(...)`` arrays matching ``from_parent``'s leaves).
      init: initial per-segment state.
    """
    slot = _parent_slot(tree.parent, tree.valid)

    def one_pass(x, _):
        sent = from_parent(x)
        received = jax.tree_util.tree_map(
            lambda v, r: _gather_parent(v, slot, r), sent, root_input
        )
        return node(received), None

    x, _ = lax.scan(one_pass, init, None, length=tree.max_depth + 1)
    return x


@batchable
def subtree_sum(tree: VesselTree, values: jax.Array) -> jax.Array:
    """Sum of ``values`` over each segment and all of its descendants."""
    values = jnp.where(tree.valid.reshape(tree.valid.shape + (1,) * (values.ndim - 1)), values, 0)
    return sweep_up(tree, lambda agg: values + agg, lambda x: x, values)
