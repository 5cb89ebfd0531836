"""Building, padding, batching and compacting `VesselTree`s."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.tree.validate import host_depth, validate
from cardiojax.tree.vessel_tree import FIELD_UNITS, PAD_VALUES, VesselTree


def olufsen_stiffness(radius):
    """Wall stiffness E·h (Pa·m) from the empirical law of Olufsen et al. (2000).

    ``E·h / r0 = k1·exp(k2·r0) + k3`` with k1 = 2.0e6 Pa, k2 = −2253 m⁻¹,
    k3 = 8.65e4 Pa (the CGS constants 2e7 g/(s²·cm), −22.53 cm⁻¹, 8.65e5
    g/(s²·cm) in SI). ``radius`` in m (array-like, NumPy or JAX).
    """
    xp = jnp if isinstance(radius, jax.Array) else np
    return radius * (2.0e6 * xp.exp(-2253.0 * radius) + 8.65e4)


def make_tree(
    parent,
    length,
    r_in,
    r_out=None,
    *,
    stenosis_severity=None,
    stenosis_length=None,
    stenosis_position=None,
    stiffness=None,
    outlet_resistance=None,
    outlet_pressure=None,
    start=None,
    end=None,
    capacity: int | None = None,
    check: bool = True,
) -> VesselTree:
    """Build a single tree from per-segment array-likes (host side, float64).

    All segments given are valid; ``capacity`` (default: their number) adds
    padding slots at the end. Omitted fields default to: ``r_out = r_in``, no
    stenosis, Olufsen stiffness of the mean radius, outlet resistance 0 Pa·s/m³
    and outlet pressure 0 Pa, and a straight planar layout along x for
    ``start``/``end`` (see `cardiojax.tree.layout`).

    Args:
      parent: ``(n,)`` parent index per segment, −1 for the root.
      length: ``(n,)`` m.  r_in, r_out: ``(n,)`` m.
      capacity: number of slots, ``>= n``.
      check: run `validate` (raises `ValueError` on bad input).
    """
    parent = np.asarray(parent)
    if parent.ndim != 1:
        raise ValueError(f"field 'parent' has shape {parent.shape}; expected one index per segment")
    if parent.size and not np.issubdtype(parent.dtype, np.integer):
        as_float = parent.astype(np.float64)
        bad = ~np.isfinite(as_float) | (as_float != np.round(as_float))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"segment {i}: field 'parent' = {parent[i].item()!r}; expected a whole number "
                             "(-1 for the root, else a segment index)")
    n = parent.shape[0]
    cap = n if capacity is None else int(capacity)
    if cap < n:
        raise ValueError(f"capacity = {cap}; expected at least the number of segments ({n})")
    r_in = np.asarray(r_in, np.float64)
    given = dict(
        parent=parent,
        length=length,
        r_in=r_in,
        r_out=r_in if r_out is None else r_out,
        stenosis_severity=stenosis_severity,
        stenosis_length=stenosis_length,
        stenosis_position=stenosis_position,
        stiffness=stiffness,
        outlet_resistance=outlet_resistance,
        outlet_pressure=outlet_pressure,
        start=start,
        end=end,
    )
    defaults = dict(
        stenosis_severity=0.0,
        stenosis_length=0.0,
        stenosis_position=0.5,
        outlet_resistance=0.0,
        outlet_pressure=0.0,
    )
    arrays = {}
    for k in FIELD_UNITS:
        if k == "valid":
            continue
        v = given[k]
        if v is None and k in defaults:
            v = np.full(n, defaults[k])
        elif v is None and k == "stiffness":
            v = olufsen_stiffness(0.5 * (np.asarray(given["r_in"], np.float64)
                                         + np.asarray(given["r_out"], np.float64)))
        elif v is None:  # start / end, filled in below
            v = np.zeros((n, 3))
        v = np.asarray(v, np.int32 if k == "parent" else np.float64)
        want = (n, 3) if k in ("start", "end") else (n,)
        if v.shape != want:
            raise ValueError(f"field '{k}' has shape {v.shape}; expected {want} (one per segment)")
        arrays[k] = v
    arrays["valid"] = np.ones(n, bool)
    tree = VesselTree(**arrays, max_depth=0)
    if check:
        validate(tree.replace(max_depth=cap))  # structure first, depth bound after
    depth = host_depth(arrays["parent"].astype(np.int64), arrays["valid"])
    tree = tree.replace(max_depth=int(depth.max()) if n else 0)
    if start is None and end is None:
        from cardiojax.tree.layout import planar_layout  # local: layout needs a valid tree

        s, e = planar_layout(tree)
        tree = tree.replace(start=np.asarray(s), end=np.asarray(e))
    return pad(tree, cap)


def pad(tree: VesselTree, capacity: int) -> VesselTree:
    """Append padding slots so that the tree has ``capacity`` slots.

    Works on single trees and batches (pads the last segment axis).
    """
    cap = tree.capacity
    if capacity < cap:
        raise ValueError(f"capacity = {capacity}; expected at least the current capacity {cap}")
    if capacity == cap:
        return tree
    extra = capacity - cap
    out = {}
    for k, v in tree.arrays().items():
        xp = jnp if isinstance(v, jax.Array) else np
        seg_axis = v.ndim - 2 if k in ("start", "end") else v.ndim - 1
        shape = list(v.shape)
        shape[seg_axis] = extra
        fill = xp.full(shape, PAD_VALUES[k], dtype=v.dtype)
        out[k] = xp.concatenate([v, fill], axis=seg_axis)
    return tree.replace(**out)


def stack(trees: Sequence[VesselTree], capacity: int | None = None) -> VesselTree:
    """Stack single trees into a batch (leading axis), padding to a common capacity."""
    if len(trees) == 0:
        raise ValueError("stack needs at least one tree; got an empty sequence")
    cap = max(t.capacity for t in trees) if capacity is None else capacity
    depth = max(t.max_depth for t in trees)
    padded = [pad(t, cap).replace(max_depth=depth) for t in trees]
    return jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *padded)


def take(batch: VesselTree, index) -> VesselTree:
    """Tree (or sub-batch) ``index`` of a batch."""
    return jax.tree_util.tree_map(lambda v: v[index], batch)


def unstack(batch: VesselTree) -> list[VesselTree]:
    """Split a batch with one leading axis into single trees."""
    return [take(batch, i) for i in range(batch.batch_shape[0])]


def compact(tree: VesselTree) -> VesselTree:
    """Move valid segments to the front (keeping their order), padding after.

    Parent indices are remapped, so topological order is preserved. Works under
    `jit` on a single tree; `vmap` it for batches.
    """
    require_single(tree, "compact")
    cap = tree.capacity
    order = jnp.argsort(~tree.valid, stable=True)  # valid first, original order kept
    new_index = jnp.zeros(cap, jnp.int32).at[order].set(jnp.arange(cap, dtype=jnp.int32))
    n = jnp.sum(tree.valid)
    keep = jnp.arange(cap) < n
    out = {}
    for k, v in tree.arrays().items():
        v = jnp.asarray(v)[order]
        mask = keep[:, None] if v.ndim == 2 else keep
        out[k] = jnp.where(mask, v, jnp.asarray(PAD_VALUES[k], v.dtype))
    p = out["parent"]
    out["parent"] = jnp.where(keep & (p >= 0), new_index[jnp.clip(p, 0, cap - 1)], -1).astype(
        tree.parent.dtype
    )
    return tree.replace(**out)


def fill_padding(tree: VesselTree) -> VesselTree:
    """The tree with every padding slot reset to the harmless filler values.

    Solvers call this first, so padding that holds zeros (from another tool or
    a hand-built tree) never makes NaN values or NaN gradients. `jit`-able;
    single trees and batches.
    """
    out = {}
    for k, v in tree.arrays().items():
        v = jnp.asarray(v)
        mask = tree.valid[..., None] if k in ("start", "end") else tree.valid
        out[k] = jnp.where(mask, v, jnp.asarray(PAD_VALUES[k], v.dtype))
    return tree.replace(**out)


def require_single(tree: VesselTree, what: str) -> None:
    """Raise a `ValueError` unless ``tree`` is a single tree (arrays ``(cap,)``)."""
    if tree.parent.ndim != 1:
        raise ValueError(f"{what} expects a single tree with arrays of shape (capacity,); got batch "
                         f"shape {tree.parent.shape[:-1]} — use jax.vmap or the *_batch function")


def require_batch(tree: VesselTree, what: str) -> None:
    """Raise a `ValueError` unless ``tree`` is a batch with one leading axis (arrays ``(B, cap)``)."""
    if tree.parent.ndim != 2:
        raise ValueError(f"{what} expects a batch of trees with arrays of shape (batch, capacity); "
                         f"got shape {tree.parent.shape} — use cardiojax.tree.stack for single trees")


def to_numpy(tree: VesselTree) -> VesselTree:
    """A copy with every array field as a NumPy array (host side)."""
    return tree.replace(**{k: np.asarray(v) for k, v in tree.arrays().items()})


def trim(tree: VesselTree) -> VesselTree:
    """A compact single tree cut to exactly its valid segments (host side)."""
    require_single(tree, "trim")
    t = to_numpy(compact(tree))
    n = int(np.sum(t.valid))
    return t.replace(**{k: v[:n] for k, v in t.arrays().items()})

