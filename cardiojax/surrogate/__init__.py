"""FFR surrogate: trees as graphs, graph network and tree-LSTM, training, checkpoints, metrics.

    from cardiojax.surrogate import make_dataset, TrainConfig, train, predict_ffr, load_checkpoint
    train_set = make_dataset(0, "train", 6000, CoronaryPrior(min_radius=0.5e-3))   # float64 labels
    model, history = train(train_set, None, TrainConfig(epochs=24))
    ffr = predict_ffr(model, tree)                       # FFR at every segment end of one tree
"""

from cardiojax.surrogate.data import SPLITS, Dataset, label_trees, make_dataset
from cardiojax.surrogate.graph import EDGE_TYPES, NODE_FEATURES, node_features, tree_fields_from_graph, tree_to_graph
from cardiojax.surrogate.metrics import classification_metrics, ffr_report, regression_metrics, roc_auc
from cardiojax.surrogate.models import GraphNetwork, TreeLSTM, ffr_from_drops
from cardiojax.surrogate.train import (
    MODELS,
    TrainConfig,
    load_checkpoint,
    make_model,
    physics_residual,
    predict_batch,
    predict_ffr,
    save_checkpoint,
    train,
)

__all__ = [
    "SPLITS", "Dataset", "make_dataset", "label_trees",
    "EDGE_TYPES", "NODE_FEATURES", "node_features", "tree_to_graph", "tree_fields_from_graph",
    "GraphNetwork", "TreeLSTM", "ffr_from_drops",
    "MODELS", "TrainConfig", "make_model", "train", "physics_residual", "predict_batch", "predict_ffr",
    "save_checkpoint", "load_checkpoint",
    "regression_metrics", "classification_metrics", "roc_auc", "ffr_report",
]
