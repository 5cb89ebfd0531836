"""FFR surrogate: graph conversion, padding invariance, training, checkpoints, metrics."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.clinical import HyperemiaParams, hyperemic_ffr_batch
from cardiojax.surrogate.data import Dataset, make_dataset
from cardiojax.surrogate.graph import tree_fields_from_graph, tree_to_graph
from cardiojax.surrogate.metrics import classification_metrics, ffr_report, regression_metrics, roc_auc
from cardiojax.surrogate.train import (
    TrainConfig,
    load_checkpoint,
    make_model,
    physics_residual,
    predict_batch,
    predict_ffr,
    save_checkpoint,
    train,
)
from cardiojax.tree import is_outlet, pad, take
from tests.helpers import synthetic_batch

SMALL = TrainConfig(hidden=16, steps=2, batch_size=8, epochs=3, learning_rate=3e-3)


@pytest.fixture(scope="module")
def labelled():
    res = hyperemic_ffr_batch(synthetic_batch(), HyperemiaParams())
    res = jax.tree_util.tree_map(np.asarray, res)
    aortic = float(HyperemiaParams().aortic_pressure)
    labels = {"ffr_out": res.ffr_out, "drop": (res.flow.p_in - res.flow.p_out) / aortic,
              "p_out": res.flow.p_out, "flow": res.flow.flow}
    return Dataset(res.tree, {k: np.where(res.tree.valid, v, 0.0) for k, v in labels.items()})


def test_graph_round_trip(labelled):
    trees = labelled.trees
    graph = tree_to_graph(trees, HyperemiaParams().aortic_pressure)
    b, cap = trees.parent.shape
    assert graph.nodes["x"].shape[0] == b * cap and graph.senders.shape == (4 * b * cap,)
    back = tree_fields_from_graph(graph, cap)
    valid = np.asarray(trees.valid)
    np.testing.assert_array_equal(np.asarray(back["valid"]), valid)
    np.testing.assert_array_equal(np.where(valid, back["parent"], -1), np.where(valid, trees.parent, -1))
    for key in ("r_in", "r_out", "length", "stenosis_severity", "stenosis_length", "stenosis_position"):
        np.testing.assert_allclose(np.where(valid, back[key], 0), np.where(valid, getattr(trees, key), 0),
                                   rtol=1e-12, atol=1e-15, err_msg=key)
    # every real edge joins two valid slots of the same tree; shortcut edges touch the root
    mask = np.asarray(graph.edges["mask"]) > 0
    s, r = np.asarray(graph.senders)[mask], np.asarray(graph.receivers)[mask]
    assert np.all(s // cap == r // cap) and np.all(valid.ravel()[s]) and np.all(valid.ravel()[r])
    outlets = np.asarray(is_outlet(trees) & (trees.parent >= 0)).sum(-1)
    n_edges_per_tree = 2 * (np.asarray(trees.num_segments) - 1) + 2 * outlets  # up + down + shortcuts
    np.testing.assert_array_equal(mask.reshape(b, -1).sum(-1), n_edges_per_tree)


@pytest.mark.parametrize("kind", ["gnn", "tree_lstm"])
def test_padding_does_not_change_predictions(labelled, kind):
    model = make_model(dataclasses.replace(SMALL, model=kind))
    tree = take(labelled.trees, 0)
    a = predict_ffr(model, tree)
    valid = np.asarray(tree.valid)
    # more padding slots, or a different (looser) depth bound, change nothing
    np.testing.assert_allclose(predict_ffr(model, pad(tree, 96))[:64][valid], a[valid], rtol=1e-5, atol=1e-6)
    deeper_bound = dataclasses.replace(tree, max_depth=tree.max_depth + 5)
    np.testing.assert_allclose(predict_ffr(model, deeper_bound)[valid], a[valid], rtol=1e-5, atol=1e-6)
    # and neither do the other trees of a batch
    batch = predict_batch(model, labelled.trees, batch_size=16)
    np.testing.assert_allclose(batch[0][valid], a[valid], rtol=1e-5, atol=1e-6)
    others = jax.tree_util.tree_map(lambda x: np.concatenate([x[:1], x[:0:-1]]), labelled.trees)
    np.testing.assert_allclose(predict_batch(model, others, batch_size=16)[0][valid], a[valid],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["gnn", "tree_lstm"])
def test_training_lowers_the_loss_and_checkpoint_round_trips(labelled, tmp_path, kind):
    config = dataclasses.replace(SMALL, model=kind, epochs=4)
    model, history = train(labelled, None, config)
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]
    path = tmp_path / "model.ckpt"
    save_checkpoint(path, model, config, {"note": "test"})
    restored, restored_config, extra = load_checkpoint(path)
    assert restored_config == config and extra == {"note": "test"}
    np.testing.assert_array_equal(predict_batch(restored, labelled.trees), predict_batch(model, labelled.trees))
    save_checkpoint(path, model, config, {"note": "replaced"})  # overwrite in place
    assert load_checkpoint(path)[2] == {"note": "replaced"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]
    with pytest.raises(ValueError, match="not a cardiojax surrogate checkpoint"):
        load_checkpoint(tmp_path / "missing")


def test_physics_residual_vanishes_on_the_solver_solution(labelled):
    """The residual of the segment laws is zero for the solver's own drops (float64)."""
    res = physics_residual(labelled.trees, jnp.asarray(labelled.labels["drop"]),
                           HyperemiaParams().aortic_pressure)
    assert np.max(np.abs(np.asarray(res))) < 1e-10
    wrong = physics_residual(labelled.trees, jnp.asarray(labelled.labels["drop"]) * 1.1,
                             HyperemiaParams().aortic_pressure)
    assert np.max(np.abs(np.asarray(wrong))) > 1e-3


def test_make_dataset_splits_are_disjoint_and_labelled(tmp_path):
    train_set = make_dataset(3, "train", 6, capacity=64, batch_size=6)
    train_set.save(tmp_path / "train.npz", {"seed": 3})
    back, meta = Dataset.load(tmp_path / "train.npz")
    assert meta["seed"] == 3 and meta["label_units"]["p_out"] == "Pa"
    np.testing.assert_array_equal(back.labels["ffr_out"], train_set.labels["ffr_out"])
    np.testing.assert_array_equal(np.asarray(back.trees.parent), np.asarray(train_set.trees.parent))
    test_set = make_dataset(3, "test", 6, capacity=64, batch_size=6)
    assert len(train_set) == 6
    assert not np.array_equal(np.asarray(train_set.trees.length), np.asarray(test_set.trees.length))
    valid = np.asarray(train_set.trees.valid)
    assert np.all((train_set.labels["ffr_out"][valid] > 0) & (train_set.labels["ffr_out"][valid] <= 1))
    with pytest.raises(ValueError, match="split = 'dev'"):
        make_dataset(3, "dev", 6)


def test_metrics_against_hand_computed_examples():
    assert roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]) == pytest.approx(0.75)
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([1, 1, 0], [3, 2, 1]) == pytest.approx(1.0)
    assert np.isnan(roc_auc([1, 1], [0.1, 0.2]))
    ref = np.array([0.70, 0.78, 0.85, 0.90, 0.60, 0.82])
    pred = np.array([0.72, 0.81, 0.83, 0.91, 0.65, 0.79])
    # truth (< 0.80): T T F F T F ; called: T F F F T T -> tp 2, tn 2, fn 1, fp 1
    m = classification_metrics(pred, ref, 0.80)
    assert (m["accuracy"], m["sensitivity"], m["specificity"]) == pytest.approx((4 / 6, 2 / 3, 2 / 3))
    # AUC of the score −pred for "ref < 0.80": positives predicted 0.72, 0.81, 0.65 against negatives
    # 0.83, 0.91, 0.79 → the positive is predicted lower in 8 of the 9 pairs (not 0.81 vs 0.79)
    assert m["auc"] == pytest.approx(8 / 9)
    assert classification_metrics(ref, ref, 0.80)["auc"] == 1.0
    assert np.isnan(roc_auc([1, 0], [0.5, np.nan]))
    r = regression_metrics(2 * ref + 0.1, ref)
    assert r["pearson_r"] == pytest.approx(1.0)
    assert r["mae"] == pytest.approx(np.mean(ref + 0.1))
    assert r["bias"] == pytest.approx(np.mean(ref + 0.1)) and r["sd"] == pytest.approx(np.std(ref, ddof=1))
    report = ffr_report(pred, ref)
    assert {"mae", "acc_080", "auc_080", "auc_075", "sensitivity_075"} <= set(report)


def test_unlabelled_trees_train_through_the_physics_term(labelled):
    """With 8 of 64 trees labelled, batches mix both halves and the physics residual falls."""
    mask = np.arange(len(labelled)) < 8
    config = dataclasses.replace(SMALL, epochs=4, physics_weight=1.0)
    _, history = train(labelled, None, config, labelled=mask)
    assert all(np.isfinite(h["loss"]) for h in history)
    assert history[-1]["physics"] < history[0]["physics"]
    with pytest.raises(ValueError, match="with 0 labelled trees"):
        train(labelled, None, config, labelled=np.zeros(len(labelled), bool))
