"""Training, evaluation, checkpoints and `predict_ffr` for the graph network.

Loss per batch (means over valid segment slots of the labelled trees):

    data    = mean (FFR_pred − FFR)² + mean (drop_pred − drop)²
    physics = mean (Q_law − Q_mass)² / Q_ref²                 (over all trees)
    loss    = data + physics_weight · physics

The physics term is the residual of the steady network equations on the
predicted pressures (`physics_residual`): outlet flows follow from the
predicted outlet pressures and the outlet resistances, every segment's flow
is the sum of the outlet flows below it (mass conservation at every
junction), and must equal the flow its pressure–flow law gives for the
predicted drop with the solver's own R and S (`segment_coefficients`). It
needs no labels, so trees without labels still train the model
(``labelled`` mask).

Networks run in float32; labels come from the float64 solver.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from cardiojax.clinical import HyperemiaParams, with_hyperemic_outlets
from cardiojax.io.checkpoint import load_checkpoint_state, read_checkpoint_meta, save_checkpoint_dir
from cardiojax.lumped.elements import segment_coefficients
from cardiojax.surrogate.data import Dataset, as_float32
from cardiojax.surrogate.models import GraphNetwork, TreeLSTM, ffr_from_drops
from cardiojax.tree.traversal import is_outlet, subtree_sum
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import Blood


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Model size and optimisation settings (saved with every checkpoint).

    Adam with gradient clipping (global norm 1) and a warm-up + cosine decay
    of the learning rate from ``learning_rate`` to 1 % of it over all steps.
    """

    model: str = "gnn"
    hidden: int = 64
    steps: int = 4
    learning_rate: float = 1e-3
    batch_size: int = 32
    epochs: int = 20
    physics_weight: float = 0.0
    seed: int = 0


MODELS = ("gnn", "tree_lstm")


def make_model(config: TrainConfig) -> GraphNetwork | TreeLSTM:
    """A fresh model: ``config.model`` is "gnn" (`GraphNetwork`) or "tree_lstm" (`TreeLSTM`)."""
    if config.model == "gnn":
        return GraphNetwork(config.hidden, config.steps, rngs=nnx.Rngs(config.seed))
    if config.model == "tree_lstm":
        return TreeLSTM(config.hidden, rngs=nnx.Rngs(config.seed))
    raise ValueError(f"TrainConfig.model = {config.model!r}; expected one of {MODELS}")


def physics_residual(tree: VesselTree, drops: jax.Array, aortic_pressure, blood: Blood = Blood()):
    """Per-slot residual of the steady network equations on predicted drops, ``(B, cap)``.

    Two flows through every segment must agree: the flow its pressure–flow
    law gives for the predicted drop, ``Q_law = 2ΔP / (R + √(R² + 4S|ΔP|))``
    (the law ``ΔP = (R + S|Q|)Q`` inverted), and the flow mass conservation
    gives, ``Q_mass`` = Σ over the outlets below of (p_out − P_d)/R_outlet with
    the predicted outlet pressures. The residual is their difference over
    the tree's reference flow P_a·Σ 1/R_outlet (dimensionless). In flow form
    it stays well scaled across near-occluding lesions, where the pressure
    form ``ΔP − (R + S|Q|)Q`` amplifies small pressure errors enormously.
    """
    drops = drops.reshape(tree.parent.shape)
    pa = jnp.asarray(aortic_pressure)[..., None]
    p_out = pa * ffr_from_drops(tree, drops)
    outlet = is_outlet(tree)
    conductance = jnp.where(outlet, 1.0 / jnp.where(outlet, tree.outlet_resistance, 1.0), 0.0)
    q_mass = subtree_sum(tree, conductance * (p_out - tree.outlet_pressure))
    r, s = segment_coefficients(tree, blood)
    dp = drops * pa
    q_law = 2.0 * dp / (r + jnp.sqrt(r * r + 4.0 * s * jnp.abs(dp)))
    q_ref = pa * jnp.sum(conductance, axis=-1, keepdims=True)
    return jnp.where(tree.valid, (q_law - q_mass) / q_ref, 0.0)


def _masked_mean(x, mask):
    return jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def loss_terms(model: GraphNetwork, trees: VesselTree, ffr: jax.Array, drop: jax.Array,
               labelled: jax.Array, aortic_pressure: float, physics_weight: float,
               blood: Blood = Blood()):
    """``(loss, {"data", "physics"})`` for a batch of trees (see module docstring)."""
    drops = model.drops(trees, aortic_pressure, blood)
    pred = ffr_from_drops(trees, drops)
    mask = trees.valid & labelled[:, None]
    data = _masked_mean((pred - ffr) ** 2, mask) + _masked_mean((drops - drop) ** 2, mask)
    physics = _masked_mean(physics_residual(trees, drops, aortic_pressure, blood) ** 2, trees.valid)
    return data + physics_weight * physics, {"data": data, "physics": physics}


def _batches(labelled: np.ndarray, size: int, rng: np.random.Generator):
    """One epoch of index batches (``len // size`` of them).

    All labelled: a shuffled pass. Some unlabelled: every batch holds half
    labelled and half unlabelled trees, each half drawn without replacement,
    so labelled trees come up as often per step whatever their share of the
    pool (half as many per batch as in an all-labelled run of equal size).
    """
    n = labelled.size
    if labelled.all():
        order = rng.permutation(n)
        for start in range(0, n - size + 1, size):
            yield order[start:start + size]
        return
    lab, unlab = np.flatnonzero(labelled), np.flatnonzero(~labelled)
    half = size // 2
    for _ in range(n // size):
        yield np.concatenate([rng.choice(lab, half, replace=lab.size < half),
                              rng.choice(unlab, size - half, replace=unlab.size < size - half)])


def train(train_set: Dataset, val_set: Dataset | None, config: TrainConfig,
          params: HyperemiaParams = HyperemiaParams(), blood: Blood = Blood(),
          labelled: np.ndarray | None = None, model: GraphNetwork | None = None,
          progress: Callable[[dict], None] | None = None) -> tuple[GraphNetwork, list[dict]]:
    """Train a graph network; returns the model and one history row per epoch.

    ``labelled``: boolean per training tree (default all) — unlabelled trees
    enter only the physics term, and batches then mix labelled and unlabelled
    trees half and half. ``progress(row)`` is called after every epoch.
    """
    if len(train_set) < config.batch_size:
        raise ValueError(f"train: {len(train_set)} training trees; expected at least batch_size = "
                         f"{config.batch_size}")
    model = model or make_model(config)
    total = config.epochs * (len(train_set) // config.batch_size)
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, min(100, total // 10 + 1),
                                                  max(total, 2), config.learning_rate * 0.01)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    trees = as_float32(train_set.trees)
    ffr = train_set.labels["ffr_out"].astype(np.float32)
    drop = train_set.labels["drop"].astype(np.float32)
    labelled = np.ones(len(train_set), bool) if labelled is None else np.asarray(labelled, bool)
    if labelled.shape != (len(train_set),) or not labelled.any():
        raise ValueError(f"train: labelled has shape {labelled.shape} with {int(labelled.sum())} labelled "
                         f"trees; expected ({len(train_set)},) with at least one")
    aortic = float(params.aortic_pressure)

    @nnx.jit
    def step(model, optimizer, t, f, d, lab):
        def loss(m):
            return loss_terms(m, t, f, d, lab, aortic, config.physics_weight, blood)

        (value, parts), grads = nnx.value_and_grad(loss, has_aux=True)(model)
        optimizer.update(model, grads)
        return value, parts

    rng = np.random.default_rng(config.seed)
    history = []
    for epoch in range(config.epochs):
        t0, losses = time.perf_counter(), []
        for idx in _batches(labelled, config.batch_size, rng):
            batch = jax.tree_util.tree_map(lambda a, _i=idx: a[_i], trees)
            value, parts = step(model, optimizer, batch, ffr[idx], drop[idx], labelled[idx])
            losses.append([float(value), float(parts["data"]), float(parts["physics"])])
        row = {"epoch": epoch + 1, "loss": float(np.mean([x[0] for x in losses])),
               "data": float(np.mean([x[1] for x in losses])),
               "physics": float(np.mean([x[2] for x in losses])), "seconds": time.perf_counter() - t0}
        if val_set is not None:
            pred = predict_batch(model, val_set.trees, params, blood)
            row["val_mae"] = float(np.mean(np.abs(pred - val_set.labels["ffr_out"])[val_set.trees.valid]))
        history.append(row)
        if progress is not None:
            progress(row)
    return model, history


@nnx.jit
def _predict(model, trees, aortic, blood):
    return ffr_from_drops(trees, model.drops(trees, aortic, blood))


def predict_batch(model: GraphNetwork, trees: VesselTree, params: HyperemiaParams = HyperemiaParams(),
                  blood: Blood = Blood(), batch_size: int = 1000) -> np.ndarray:
    """Predicted FFR at every segment end, ``(N, cap)``, for trees whose outlets are already set."""
    trees = as_float32(trees)
    n = trees.parent.shape[0]
    batch_size = min(batch_size, n)  # a small set is not padded up to a full batch
    out = []
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        idx = np.arange(start, start + batch_size) % n if stop - start < batch_size else np.arange(start, stop)
        part = jax.tree_util.tree_map(lambda a, _i=idx: a[_i], trees)  # fixed shape: one compile
        out.append(np.asarray(_predict(model, part, jnp.float32(params.aortic_pressure), blood))[:stop - start])
    return np.concatenate(out)


def predict_ffr(model: GraphNetwork, tree: VesselTree, params: HyperemiaParams = HyperemiaParams(),
                blood: Blood = Blood()) -> np.ndarray:
    """Surrogate FFR at every segment end of one tree, ``(cap,)``, with the hyperemia recipe applied."""
    if tree.parent.ndim != 1:
        raise ValueError(f"predict_ffr: expected a single tree, got batch shape {tree.parent.shape[:-1]}")
    tree = with_hyperemic_outlets(tree, params)
    batch = jax.tree_util.tree_map(lambda a: a[None], tree)
    return np.asarray(_predict(model, as_float32(batch), jnp.float32(params.aortic_pressure), blood))[0]


def save_checkpoint(path: str | os.PathLike, model: GraphNetwork | TreeLSTM, config: TrainConfig,
                    extra: dict | None = None) -> None:
    """Save a checkpoint directory: ``state/`` (orbax) and ``config.json`` (config + ``extra``).

    Written to a temporary directory next to ``path`` and renamed, so an
    interrupted save never leaves a half-written checkpoint; an existing
    checkpoint at ``path`` is replaced.
    """
    save_checkpoint_dir(path, nnx.to_pure_dict(nnx.state(model)),
                        {"config": dataclasses.asdict(config), "extra": extra or {}})


def load_checkpoint(path: str | os.PathLike) -> tuple[GraphNetwork | TreeLSTM, TrainConfig, dict]:
    """Read `save_checkpoint`'s directory: ``(model, config, extra)``."""
    meta = read_checkpoint_meta(path, "surrogate")
    try:
        config = TrainConfig(**meta["config"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{Path(path).absolute()}: not a cardiojax surrogate checkpoint ({err})") from None
    model = make_model(config)
    state = nnx.state(model)
    nnx.replace_by_pure_dict(state, load_checkpoint_state(path, nnx.to_pure_dict(state)))
    nnx.update(model, state)
    return model, config, meta.get("extra", {})
