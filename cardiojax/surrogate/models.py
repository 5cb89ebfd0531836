"""Graph network for per-segment pressure drop and FFR (flax nnx).

Encode–process–decode (Battaglia et al. 2018): MLP encoders for node and edge
features, ``steps`` rounds of message passing (edge update from sender,
receiver and edge; node update from the sum of incoming messages, both
residual with layer norm), and an MLP decoder per node.

The decoder predicts each segment's pressure drop as a fraction of the
aortic pressure, made non-negative by a softplus; FFR at a segment's end is
then ``1 − Σ`` of the drops along its path from the root
(`ffr_from_drops`), so predictions are consistent along every path and FFR
never rises downstream, like the solver's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from cardiojax.surrogate.graph import EDGE_TYPES, NODE_FEATURES
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
        self.edge_updates = nnx.List([MLP([3 * hidden, hidden, hidden], rngs=rngs) for _ in range(steps)])
        self.node_updates = nnx.List([MLP([2 * hidden, hidden, hidden], rngs=rngs) for _ in range(steps)])
        self.edge_norms = nnx.List([nnx.LayerNorm(hidden, rngs=rngs) for _ in range(steps)])
        self.node_norms = nnx.List([nnx.LayerNorm(hidden, rngs=rngs) for _ in range(steps)])
        self.decoder = MLP([hidden, hidden, 1], rngs=rngs)

    def __call__(self, graph: jraph.GraphsTuple) -> jax.Array:
        """Pressure drop over each node's segment as a fraction of the aortic pressure, ``(n_nodes,)``."""
        h = self.node_encoder(graph.nodes["x"])
        e = self.edge_encoder(graph.edges["type"])
        mask = graph.edges["mask"][:, None]
        n = h.shape[0]
        for edge_mlp, node_mlp, e_norm, n_norm in zip(self.edge_updates, self.node_updates,
                                                      self.edge_norms, self.node_norms):
            e = e_norm(e + edge_mlp(jnp.concatenate([h[graph.senders], h[graph.receivers], e], -1)))
            incoming = jax.ops.segment_sum(e * mask, graph.receivers, num_segments=n)
            h = n_norm(h + node_mlp(jnp.concatenate([h, incoming], -1)))
        drop = jax.nn.softplus(self.decoder(h)[:, 0])
        return jnp.where(graph.nodes["mask"], drop, 0.0)


def ffr_from_drops(tree: VesselTree, drops: jax.Array) -> jax.Array:
    """FFR at every segment end from per-segment drop fractions: ``1 − Σ`` along the root path.

    ``drops``: ``(..., cap)`` (or flat ``(B·cap,)`` for a batch); returns the
    tree's shape ``(..., cap)``.
    """
    drops = drops.reshape(tree.parent.shape)
    return jnp.where(tree.valid, 1.0 - path_sum(tree, drops), 0.0)
