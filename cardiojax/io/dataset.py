"""Datasets of trees with per-segment labels, as one ``.npz`` file.

Layout (all arrays batched along axis 0, one row per tree, SI units):

* ``tree/<field>`` — every `VesselTree` field (``tree/parent``,
  ``tree/length``, …, ``tree/valid``), shape ``(N, cap)`` or ``(N, cap, 3)``;
* ``tree/max_depth`` — scalar, the batch's static depth bound;
* ``label/<name>`` — labels, e.g. ``label/p_out`` (Pa), ``label/ffr_out``
  (1), shape ``(N, cap)`` with junk in padding slots (mask with
  ``tree/valid``);
* ``meta`` — a JSON string: how the data were made (command, seed, prior,
  boundary-condition parameters, units of each label).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.tree.vessel_tree import FIELD_UNITS, VesselTree


def save_dataset(path: str | os.PathLike, trees: VesselTree, labels: dict[str, Any],
                 meta: dict[str, Any]) -> None:
    """Write a batch of trees, their labels and metadata to ``path`` (.npz, atomically)."""
    arrays = {f"tree/{k}": np.asarray(v) for k, v in trees.arrays().items()}
    arrays["tree/max_depth"] = np.asarray(trees.max_depth)
    arrays.update({f"label/{k}": np.asarray(v) for k, v in labels.items()})
    arrays["meta"] = np.asarray(json.dumps(meta, default=str))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a handle: numpy adds no suffix
        np.savez_compressed(fh, **arrays)


def load_dataset(path: str | os.PathLike) -> tuple[VesselTree, dict[str, np.ndarray], dict[str, Any]]:
    """Read `save_dataset`'s file: ``(batched trees, labels, meta)``."""
    with np.load(path) as data:
        missing = [k for k in FIELD_UNITS if f"tree/{k}" not in data]
        if missing:
            raise ValueError(f"{path}: missing arrays {['tree/' + k for k in missing]}; "
                             "expected a cardiojax dataset file")
        trees = VesselTree(**{k: data[f"tree/{k}"] for k in FIELD_UNITS},
                           max_depth=int(data["tree/max_depth"]))
        labels = {k[len("label/"):]: data[k] for k in data.files if k.startswith("label/")}
        meta = json.loads(str(data["meta"])) if "meta" in data else {}
    return trees, labels, meta
