"""FFR surrogate: trees as graphs, graph network, training and evaluation metrics."""

from cardiojax.surrogate.graph import EDGE_TYPES, NODE_FEATURES, tree_fields_from_graph, tree_to_graph

__all__ = ["EDGE_TYPES", "NODE_FEATURES", "tree_to_graph", "tree_fields_from_graph"]
