"""Segmentation and centreline agreement in 3D: Dice, centreline Dice (clDice), HD95, centreline distance.

* `dice` — ``2|A ∩ B| / (|A| + |B|)`` of two masks.
* `cldice` — centreline Dice (Shit et al., CVPR 2021): topology precision ``Tprec`` = share of the predicted
  centreline inside the true lumen, sensitivity ``Tsens`` = share of the true centreline inside the
  predicted lumen, ``clDice = 2·Tprec·Tsens / (Tprec + Tsens)``. Centrelines are given as points (m, world),
  e.g. the extracted skeleton and the true segment paths, and looked up in the masks at their voxels.
* `hd95` — 95th percentile of the symmetric distances (m) between the two masks' boundary voxels.
* `centreline_distance` — distances (m) from each point of one centreline to the nearest point of another.
Host-side numpy/scipy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


def _masks(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"masks: shapes {a.shape} and {b.shape}; expected two 3D masks of one shape")
    return a, b


def dice(pred, true) -> float:
    """Dice overlap of two boolean masks (1 for two empty masks)."""
    a, b = _masks(pred, true)
    total = a.sum() + b.sum()
    return float(2.0 * np.logical_and(a, b).sum() / total) if total else 1.0


def _inside(mask, affine, points) -> np.ndarray:
    ijk = np.rint((np.asarray(points, np.float64) - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T).astype(int)
    ok = np.all((ijk >= 0) & (ijk < mask.shape), axis=1)
    out = np.zeros(len(ijk), bool)
    out[ok] = mask[tuple(ijk[ok].T)]
    return out


def cldice(pred, true, affine, pred_centreline, true_centreline) -> tuple[float, float, float]:
    """``(clDice, Tprec, Tsens)`` from the masks and centreline points ``(n, 3)`` (m, world; ``affine`` maps
    voxel index → world m)."""
    a, b = _masks(pred, true)
    affine = np.asarray(affine, np.float64)
    tprec = float(np.mean(_inside(b, affine, pred_centreline))) if len(pred_centreline) else 0.0
    tsens = float(np.mean(_inside(a, affine, true_centreline))) if len(true_centreline) else 0.0
    return (2 * tprec * tsens / (tprec + tsens) if tprec + tsens > 0 else 0.0), tprec, tsens


def _boundary(mask):
    return mask & ~ndimage.binary_erosion(mask, ndimage.generate_binary_structure(3, 1))


def hd95(pred, true, spacing) -> float:
    """95th-percentile symmetric boundary distance (m) of two non-empty masks on a grid of ``spacing`` (m)."""
    a, b = _masks(pred, true)
    if not a.any() or not b.any():
        raise ValueError("hd95: an empty mask; expected two non-empty segmentations")
    ba, bb = _boundary(a), _boundary(b)
    da = ndimage.distance_transform_edt(~bb, sampling=spacing)[ba]
    db = ndimage.distance_transform_edt(~ba, sampling=spacing)[bb]
    return float(np.percentile(np.concatenate([da, db]), 95))


def centreline_distance(points, reference) -> np.ndarray:
    """``(n,)`` m: distance from each point ``(n, 3)`` to the nearest of ``reference`` ``(m, 3)`` (m)."""
    return cKDTree(np.asarray(reference, np.float64)).query(np.asarray(points, np.float64))[0]
