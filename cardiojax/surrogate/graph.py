"""A `VesselTree` (or a batch) as a `jraph.GraphsTuple` of fixed size.

Nodes are the tree's segment slots (``cap`` per tree, padding included and
masked), so every batch of a given capacity has the same shapes and one
compiled step serves them all. Edges, ``4·cap`` per tree:

* ``up``: child → parent and ``down``: parent → child (one of each per
  segment with a parent);
* ``to_root`` and ``from_root``: outlet ↔ root shortcut edges (one of each
  per outlet), so information crosses a deep tree in one step.

Edges that do not exist (padding, the root's missing parent, non-outlets)
are self-loops with ``edge_mask = 0``; models multiply messages by it.

Node features (dimensionless, ``NODE_FEATURES``): geometry (log radii in
mm, length in cm, lesion severity, length and position), topology (depth,
outlet, root), boundary condition (log10 of the outlet resistance in
Pa·s/m³ and outlet pressure over the aortic pressure) and the steady law's
coefficients of the segment (log10 of R, and of S·Q_ref with a reference flow
so that it is a resistance), and first-order flow estimates that need no
solve: G = Σ 1/R_outlet over the outlets below a segment (its flow if every
outlet saw the full aortic pressure is P_a·G), the drop that flow would cause
as a fraction of P_a, ``(R + S·P_a·G)·G``, and its sum along the root path.
The geometric features invert exactly (`tree_fields_from_graph`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph

from cardiojax.lumped.elements import segment_coefficients
from cardiojax.tree.traversal import depth, is_outlet, is_root, path_sum, subtree_sum
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import ML_PER_S, Blood

NODE_FEATURES = ("log_r_in_mm", "log_r_out_mm", "length_cm", "stenosis_severity", "stenosis_length_cm",
                 "stenosis_position", "depth_over_10", "is_outlet", "is_root", "log10_outlet_resistance",
                 "outlet_pressure_frac", "log10_resistance", "log10_stenosis_resistance",
                 "log10_subtree_conductance", "drop_estimate", "path_drop_estimate")
EDGE_TYPES = ("up", "down", "to_root", "from_root")
#: Generations per unit of the depth feature (fixed, so a tree's features never depend on its batch).
DEPTH_SCALE = 10.0
#: Reference flow that turns the stenosis coefficient S (Pa·s²/m⁶) into a resistance S·Q_ref.
Q_REF = 1.0 * ML_PER_S


def node_features(tree: VesselTree, aortic_pressure, blood: Blood = Blood()) -> jax.Array:
    """``(..., cap, len(NODE_FEATURES))`` float features of every slot (see module docstring)."""
    r, s = segment_coefficients(tree, blood)
    valid = tree.valid
    depth_scaled = depth(tree) / DEPTH_SCALE  # a fixed scale: not the batch-dependent max_depth bound
    pa = jnp.asarray(aortic_pressure)[..., None]
    outlet = is_outlet(tree)
    g = subtree_sum(tree, jnp.where(outlet, 1.0 / jnp.where(outlet, tree.outlet_resistance, 1.0), 0.0))
    drop0 = jnp.where(valid, jnp.clip((r + s * pa * g) * g, 0.0, 5.0), 0.0)
    feats = [
        jnp.log(tree.r_in * 1e3), jnp.log(tree.r_out * 1e3), tree.length * 100.0,
        tree.stenosis_severity, tree.stenosis_length * 100.0, tree.stenosis_position, depth_scaled,
        is_outlet(tree).astype(r.dtype), is_root(tree).astype(r.dtype),
        jnp.where(is_outlet(tree), jnp.log10(jnp.maximum(tree.outlet_resistance, 1.0)), 0.0),
        tree.outlet_pressure / pa,
        jnp.log10(jnp.maximum(r, 1.0)), jnp.log10(1.0 + s * Q_REF),
        jnp.log10(jnp.maximum(g, 1e-14)) + 10.0, drop0, jnp.clip(path_sum(tree, drop0), 0.0, 5.0),
    ]
    x = jnp.stack(feats, axis=-1)
    return jnp.where(valid[..., None], x, 0.0)


def _edges(tree: VesselTree):
    """Per-tree ``(senders, receivers, types, mask)``, each ``(4·cap,)`` in local slot indices."""
    cap = tree.capacity
    slots = jnp.arange(cap)
    has_parent = tree.valid & (tree.parent >= 0)
    parent = jnp.where(has_parent, tree.parent, slots)
    root = jnp.argmax(is_root(tree))
    outlet = is_outlet(tree) & ~is_root(tree)
    to_root = jnp.where(outlet, root, slots)
    senders = jnp.concatenate([slots, parent, slots, to_root])
    receivers = jnp.concatenate([parent, slots, to_root, slots])
    types = jnp.repeat(jnp.arange(4), cap)
    mask = jnp.concatenate([has_parent, has_parent, outlet, outlet])
    return senders, receivers, types, mask


def tree_to_graph(tree: VesselTree, aortic_pressure, blood: Blood = Blood()) -> jraph.GraphsTuple:
    """One tree or a batch ``(B, cap)`` as one `jraph.GraphsTuple` with ``B·cap`` nodes.

    ``nodes``: ``{"x": features, "mask": valid}``; ``edges``: ``{"type":
    one-hot (4), "mask": 0/1}``; ``globals``: ``{"aortic_pressure"}`` (Pa).
    `jit`/`vmap`-compatible; the graph has the same shapes for every batch of
    the same size and capacity.
    """
    batched = tree.parent.ndim == 2
    if not batched:
        tree = jax.tree_util.tree_map(lambda a: a[None], tree)
    b, cap = tree.parent.shape
    aortic = jnp.broadcast_to(jnp.asarray(aortic_pressure, float), (b,))
    x = node_features(tree, aortic, blood)
    senders, receivers, types, mask = jax.vmap(_edges)(tree)
    offset = (jnp.arange(b) * cap)[:, None]
    return jraph.GraphsTuple(
        nodes={"x": x.reshape(b * cap, -1), "mask": tree.valid.reshape(-1)},
        edges={"type": jax.nn.one_hot(types.reshape(-1), len(EDGE_TYPES), dtype=x.dtype),
               "mask": mask.reshape(-1).astype(x.dtype)},
        senders=(senders + offset).reshape(-1), receivers=(receivers + offset).reshape(-1),
        n_node=jnp.full((b,), cap), n_edge=jnp.full((b,), 4 * cap),
        globals={"aortic_pressure": aortic},
    )


def tree_fields_from_graph(graph: jraph.GraphsTuple, capacity: int) -> dict[str, jax.Array]:
    """Recover ``parent``, ``valid`` and the geometric fields (SI) of every tree, ``(B, cap)``.

    The inverse of `tree_to_graph` on what the graph encodes exactly
    (topology from the ``up`` edges, geometry from the features).
    """
    b = graph.n_node.shape[0]
    x = graph.nodes["x"].reshape(b, capacity, -1)
    f = {name: x[..., k] for k, name in enumerate(NODE_FEATURES)}
    up = (graph.edges["type"][:, 0] > 0) & (graph.edges["mask"] > 0)
    slot = jnp.arange(b * capacity)
    child = jnp.where(up, graph.senders, b * capacity)  # drop non-edges into a dump slot
    parent_global = jnp.full(b * capacity + 1, -1).at[child].set(graph.receivers)[:-1]
    local = jnp.where(parent_global >= 0, parent_global - (slot // capacity) * capacity, -1)
    valid = graph.nodes["mask"].reshape(b, capacity)
    return {
        "parent": jnp.where(valid, local.reshape(b, capacity), -1),
        "valid": valid,
        "r_in": jnp.exp(f["log_r_in_mm"]) * 1e-3,
        "r_out": jnp.exp(f["log_r_out_mm"]) * 1e-3,
        "length": f["length_cm"] / 100.0,
        "stenosis_severity": f["stenosis_severity"],
        "stenosis_length": f["stenosis_length_cm"] / 100.0,
        "stenosis_position": f["stenosis_position"],
    }
