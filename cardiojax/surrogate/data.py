"""Labelled synthetic datasets for the FFR surrogate: trees generated and solved on the device.

Each tree is drawn from a `CoronaryPrior`, given the hyperemic outlet
resistances of `HyperemiaParams` and solved by the steady tree solver
(`hyperemic_ffr_batch`, float64). Labels per segment slot: ``ffr_out`` (FFR
at the segment end), ``drop`` (pressure drop over the segment / aortic
pressure), ``p_out`` (Pa) and ``flow`` (m³/s). Splits are independent key
streams: split ``s`` of seed ``k`` uses trees ``generate(fold_in(fold_in(key(k),
s), i))``, so train, validation and test never share a tree.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from cardiojax.clinical import HyperemiaParams, hyperemic_ffr_batch
from cardiojax.io.dataset import load_dataset, save_dataset
from cardiojax.synth import CoronaryPrior, generate_batch, tree_keys
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import Blood

SPLITS = {"train": 0, "val": 1, "test": 2, "shift": 3}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Trees (batched, host NumPy, the hyperemic outlets applied) and per-slot labels."""

    trees: VesselTree
    labels: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.trees.parent.shape[0])

    def save(self, path, meta: dict | None = None) -> None:
        """Write as a `cardiojax.io.dataset` ``.npz`` (``tree/<field>``, ``label/<name>``, ``meta``)."""
        units = {"ffr_out": "1", "drop": "1 (fraction of the aortic pressure)", "p_out": "Pa",
                 "flow": "m^3/s"}
        save_dataset(path, self.trees, self.labels, {"label_units": units, **(meta or {})})

    @staticmethod
    def load(path) -> tuple[Dataset, dict]:
        """Read a file written by `save`: ``(dataset, meta)``."""
        trees, labels, meta = load_dataset(path)
        missing = {"ffr_out", "drop"} - set(labels)
        if missing:
            raise ValueError(f"{path}: missing labels {sorted(missing)}; expected a surrogate dataset")
        return Dataset(trees, labels), meta

    def take(self, index) -> Dataset:
        index = np.asarray(index)
        return Dataset(jax.tree_util.tree_map(lambda a: a[index], self.trees),
                       {k: v[index] for k, v in self.labels.items()})


def make_dataset(seed: int, split: str, num: int, prior: CoronaryPrior = CoronaryPrior(),
                 params: HyperemiaParams = HyperemiaParams(), blood: Blood = Blood(),
                 capacity: int = 64, batch_size: int = 1000, progress: bool = False,
                 stream: int = 0) -> Dataset:
    """Generate and label ``num`` trees of one split (see module docstring).

    ``stream`` gives independent sub-streams of a split (e.g. one per shift set).

    Runs the solver in float64 whatever the caller's default precision is
    not (enable x64 first); raises if any tree's solve did not converge.
    """
    if split not in SPLITS:
        raise ValueError(f"split = {split!r}; expected one of {sorted(SPLITS)}")
    if not jax.config.jax_enable_x64:
        raise ValueError("make_dataset: labels need float64; call jax.config.update('jax_enable_x64', True)")
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), SPLITS[split]), stream)
    parts = []
    bar = tqdm(total=num, unit="tree", desc=f"label {split}", disable=not progress)
    for start in range(0, num, batch_size):
        n = min(batch_size, num - start)
        trees = generate_batch(tree_keys(key, start, n), prior, capacity)
        res = hyperemic_ffr_batch(trees, params, blood)
        parts.append(jax.tree_util.tree_map(np.asarray, res))
        bar.update(n)
    bar.close()
    return _as_dataset(jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts), params, split)


def label_trees(trees: VesselTree, params: HyperemiaParams = HyperemiaParams(),
                blood: Blood = Blood()) -> Dataset:
    """Label given trees (a batch, e.g. read with `cardiojax.io`) with the hyperemia recipe and solver."""
    if not jax.config.jax_enable_x64:
        raise ValueError("label_trees: labels need float64; call jax.config.update('jax_enable_x64', True)")
    res = jax.tree_util.tree_map(np.asarray, hyperemic_ffr_batch(trees, params, blood))
    return _as_dataset(res, params, "given")


def _as_dataset(res, params: HyperemiaParams, what: str) -> Dataset:
    if not np.all(np.where(res.tree.valid, res.flow.residual[:, None] < 1e-8, True)):
        raise ValueError(f"the steady solver did not converge on some {what} trees")
    aortic = float(params.aortic_pressure)
    labels = {"ffr_out": res.ffr_out, "drop": (res.flow.p_in - res.flow.p_out) / aortic,
              "p_out": res.flow.p_out, "flow": res.flow.flow}
    labels = {k: np.where(res.tree.valid, v, 0.0) for k, v in labels.items()}
    return Dataset(res.tree, labels)


def as_float32(tree: VesselTree) -> VesselTree:
    """The tree's float fields in float32 (networks run in float32)."""
    return jax.tree_util.tree_map(lambda a: a.astype(jnp.float32) if jnp.issubdtype(a.dtype, jnp.floating)
                                  else a, tree)
