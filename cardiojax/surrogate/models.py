"""Surrogate models for per-segment pressure drop and FFR (flax nnx).

* `GraphNetwork` — encode–process–decode (Battaglia et al. 2018) on
  `tree_to_graph` graphs: MLP encoders for node and edge features, ``steps``
  rounds of message passing (edge update from sender, receiver and edge;
  node update from the sum of incoming messages; both residual with layer
  norm), and an MLP decoder per node.
* `TreeLSTM` — a child-sum tree-LSTM (Tai et al. 2015) swept leaves→root,
  then an LSTM swept root→leaves on top of it; each sweep is a `lax.scan`
  over ``max_depth + 1`` level passes over every node of the batch at once
  (the batch is one forest), no loop over nodes.

Both decode, per segment, the fraction of the inlet pressure that survives
it, ``k = exp(−softplus(z)) ∈ (0, 1]``; FFR at a segment's end is the product
of ``k`` along its path from the root, and the segment's pressure drop (a
fraction of the aortic pressure) is FFR at its inlet minus FFR at its end
(``model.drops(trees, P_a)``). So FFR stays in (0, 1], never rises
downstream, and ``1 − Σ drops`` along a path (`ffr_from_drops`) is that FFR.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax import nnx
from jax import lax

from cardiojax.surrogate.graph import EDGE_TYPES, NODE_FEATURES, node_features, tree_to_graph
from cardiojax.tree.traversal import path_sum
from cardiojax.tree.vessel_tree import VesselTree


class MLP(nnx.Module):
    """Linear layers with GELU between them (none after the last)."""

    def __init__(self, sizes: list[int], *, rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])

    def __call__(self, x):
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k < len(self.layers) - 1:
                x = jax.nn.gelu(x)
        return x


class EdgeUpdate(nnx.Module):
    """``MLP([h_sender, h_receiver, e])`` with the first layer split by input block.

    The same function as a two-layer MLP on the concatenation, but the
    sender and receiver parts of the first layer run once per node and are
    gathered per edge (there are ~4× more edges than nodes).
    """

    def __init__(self, hidden: int, *, rngs: nnx.Rngs):
        self.sender = nnx.Linear(hidden, hidden, rngs=rngs)
        self.receiver = nnx.Linear(hidden, hidden, use_bias=False, rngs=rngs)
        self.edge = nnx.Linear(hidden, hidden, use_bias=False, rngs=rngs)
        self.out = nnx.Linear(hidden, hidden, rngs=rngs)

    def __call__(self, h, e, senders, receivers):
        return self.out(jax.nn.gelu(self.sender(h)[senders] + self.receiver(h)[receivers] + self.edge(e)))


class GraphNetwork(nnx.Module):
    """Encode–process–decode graph network on `tree_to_graph` graphs.

    Args:
      hidden: width of node and edge latents.
      steps: message-passing rounds (the shortcut edges let a few rounds
        span a deep tree).
      rngs: parameter initialisation.
    """

    def __init__(self, hidden: int = 64, steps: int = 4, *, rngs: nnx.Rngs):
        self.node_encoder = MLP([len(NODE_FEATURES), hidden, hidden], rngs=rngs)
        self.edge_encoder = MLP([len(EDGE_TYPES), hidden, hidden], rngs=rngs)
        self.edge_updates = nnx.List([EdgeUpdate(hidden, rngs=rngs) for _ in range(steps)])
        self.node_updates = nnx.List([MLP([2 * hidden, hidden, hidden], rngs=rngs) for _ in range(steps)])
        self.edge_norms = nnx.List([nnx.LayerNorm(hidden, rngs=rngs) for _ in range(steps)])
        self.node_norms = nnx.List([nnx.LayerNorm(hidden, rngs=rngs) for _ in range(steps)])
        self.decoder = MLP([hidden, hidden, 1], rngs=rngs)

    def __call__(self, graph: jraph.GraphsTuple) -> jax.Array:
        """log of the pressure fraction kept over each node's segment (≤ 0), ``(n_nodes,)``."""
        h = self.node_encoder(graph.nodes["x"])
        e = self.edge_encoder(graph.edges["type"])
        mask = graph.edges["mask"][:, None]
        n = h.shape[0]
        for edge_mlp, node_mlp, e_norm, n_norm in zip(self.edge_updates, self.node_updates,
                                                      self.edge_norms, self.node_norms):
            e = e_norm(e + edge_mlp(h, e, graph.senders, graph.receivers))
            incoming = jax.ops.segment_sum(e * mask, graph.receivers, num_segments=n)
            h = n_norm(h + node_mlp(jnp.concatenate([h, incoming], -1)))
        log_keep = -jax.nn.softplus(self.decoder(h)[:, 0])
        return jnp.where(graph.nodes["mask"], log_keep, 0.0)

    def drops(self, trees: VesselTree, aortic_pressure, blood) -> jax.Array:
        """Drop fractions ``(B, cap)`` of a batch of trees."""
        graph = tree_to_graph(trees, aortic_pressure, blood)
        graph = graph._replace(nodes=dict(graph.nodes, x=graph.nodes["x"].astype(jnp.float32)),
                               edges={k: v.astype(jnp.float32) for k, v in graph.edges.items()})
        return _drops(trees, self(graph).reshape(trees.parent.shape))


class TreeLSTM(nnx.Module):
    """Child-sum tree-LSTM up the tree, then an LSTM down it (see module docstring).

    Args:
      hidden: width of the node encoding and of both LSTM states.
      rngs: parameter initialisation.
    """

    def __init__(self, hidden: int = 64, *, rngs: nnx.Rngs):
        h = hidden
        init = nnx.initializers.lecun_normal()
        self.encoder = MLP([len(NODE_FEATURES), h, h], rngs=rngs)
        self.w_up = nnx.Param(init(rngs.params(), (h, 4 * h), jnp.float32))  # gates i, o, u, f from x
        self.u_iou = nnx.Param(init(rngs.params(), (h, 3 * h), jnp.float32))  # from Σ children h
        self.u_f = nnx.Param(init(rngs.params(), (h, h), jnp.float32))  # per-child forget gate
        self.b_up = nnx.Param(jnp.zeros(4 * h, jnp.float32).at[3 * h:].set(1.0))
        self.w_down = nnx.Param(init(rngs.params(), (2 * h, 4 * h), jnp.float32))  # gates i, f, o, u
        self.u_down = nnx.Param(init(rngs.params(), (h, 4 * h), jnp.float32))
        self.b_down = nnx.Param(jnp.zeros(4 * h, jnp.float32).at[h:2 * h].set(1.0))
        self.decoder = MLP([2 * h, h, 1], rngs=rngs)
        self.hidden = h

    def drops(self, trees: VesselTree, aortic_pressure, blood) -> jax.Array:
        """Drop fractions ``(B, cap)`` of a batch of trees (or ``(cap,)`` of one)."""
        shape = trees.parent.shape
        b = 1 if len(shape) == 1 else shape[0]
        cap, n, h = shape[-1], b * shape[-1], self.hidden
        x = self.encoder(node_features(trees, aortic_pressure, blood).astype(jnp.float32).reshape(n, -1))
        valid = trees.valid.reshape(n)
        parent = trees.parent.reshape(b, cap)
        has_parent = valid & (parent.reshape(n) >= 0)
        slot = jnp.where(has_parent, (parent + (jnp.arange(b) * cap)[:, None]).reshape(n), n)
        xw_up = x @ self.w_up[...] + self.b_up[...]
        xw_f_parent = jnp.concatenate([xw_up[:, 3 * h:], jnp.zeros((1, h), x.dtype)])[slot]
        u_iou, u_f = self.u_iou[...], self.u_f[...]

        def up(state, _):  # children → parent: Σ h, Σ f ⊙ c with the child's forget gate
            hh, cc = state
            f = jax.nn.sigmoid(xw_f_parent + hh @ u_f)
            live = has_parent[:, None]
            sum_h = jax.ops.segment_sum(jnp.where(live, hh, 0.0), slot, num_segments=n + 1)[:n]
            sum_fc = jax.ops.segment_sum(jnp.where(live, f * cc, 0.0), slot, num_segments=n + 1)[:n]
            i, o, u = jnp.split(xw_up[:, :3 * h] + sum_h @ u_iou, 3, axis=-1)
            cc = jax.nn.sigmoid(i) * jnp.tanh(u) + sum_fc
            return (jax.nn.sigmoid(o) * jnp.tanh(cc), cc), None

        zeros = jnp.zeros((n, h), x.dtype)
        (h_up, _), _ = lax.scan(up, (zeros, zeros), None, length=trees.max_depth + 1)
        xw_down = jnp.concatenate([x, h_up], -1) @ self.w_down[...] + self.b_down[...]
        u_down = self.u_down[...]

        def down(state, _):  # parent → children
            hh, cc = state
            hp = jnp.concatenate([hh, jnp.zeros((1, h), x.dtype)])[slot]
            cp = jnp.concatenate([cc, jnp.zeros((1, h), x.dtype)])[slot]
            i, f, o, u = jnp.split(xw_down + hp @ u_down, 4, axis=-1)
            cc = jax.nn.sigmoid(f) * cp + jax.nn.sigmoid(i) * jnp.tanh(u)
            return (jax.nn.sigmoid(o) * jnp.tanh(cc), cc), None

        (h_down, _), _ = lax.scan(down, (zeros, zeros), None, length=trees.max_depth + 1)
        log_keep = -jax.nn.softplus(self.decoder(jnp.concatenate([h_up, h_down], -1))[:, 0])
        return _drops(trees, jnp.where(valid, log_keep, 0.0).reshape(shape))


def _drops(tree: VesselTree, log_keep: jax.Array) -> jax.Array:
    """Drop fractions from per-segment log kept fractions: FFR at inlet − FFR at end."""
    ffr_out = jnp.exp(path_sum(tree, log_keep))
    return jnp.where(tree.valid, ffr_out * (jnp.exp(-log_keep) - 1.0), 0.0)


def ffr_from_drops(tree: VesselTree, drops: jax.Array) -> jax.Array:
    """FFR at every segment end from per-segment drop fractions: ``1 − Σ`` along the root path.

    ``drops``: ``(..., cap)`` (or flat ``(B·cap,)`` for a batch); returns the
    tree's shape ``(..., cap)``.
    """
    drops = drops.reshape(tree.parent.shape)
    return jnp.where(tree.valid, 1.0 - path_sum(tree, drops), 0.0)
