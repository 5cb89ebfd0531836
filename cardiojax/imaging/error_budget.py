"""Swap one imaging step for its ground truth, to see how much of the FFR error each step causes.

A synthetic case knows its true lumen, centrelines and radii. The image pipeline's tree can be rebuilt with
one of them taken from the truth:

* ``true segmentation`` — the true lumen occupancy as the segmentation (`true_segmentation`), then the usual
  centrelines and radii;
* ``true centrelines`` — the true tree's topology, centrelines and lengths, with radii measured in the image
  (`measured_on_true_centrelines`: area-equivalent radii of the image's lumen fraction cut along the true paths,
  fitted to taper + lesion as the pipeline does);
* ``true radii`` — the pipeline's topology and centrelines, with the true radius at each of their points
  (`true_radii_on_extracted`), fitted the same way.

Each rebuilt tree goes through the same FFR solve. Host-side numpy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cardiojax.imaging import cross_section as xs
from cardiojax.imaging.centreline_tree import Extracted
from cardiojax.imaging.segment import Segmentation
from cardiojax.imaging.tree_compare import TreeMatch
from cardiojax.tree.ops import make_tree, pad
from cardiojax.tree.profile import fit_profile


def true_segmentation(occupancy, seed, image=None) -> Segmentation:
    """A `Segmentation` whose mask is ``occupancy ≥ 0.5`` and whose fraction is the occupancy itself."""
    occ = np.asarray(occupancy, np.float32)
    img = np.asarray(image, np.float32) if image is not None else occ
    mask = occ >= 0.5
    lumen = float(np.median(img[mask])) if mask.any() else 1.0
    return Segmentation(mask, occ, None, lumen, 0.0, float("inf"), 0.5, 0.0, tuple(int(v) for v in seed))


def _refit(tree, radii: list[np.ndarray], arcs: list[np.ndarray], weights: list[np.ndarray], min_severity: float):
    n = len(radii)
    fits = [fit_profile(a, np.where(r > 0, r, np.max(r) if np.any(r > 0) else 1e-3), float(a[-1]), w, min_severity)
            for a, r, w in zip(arcs, radii, weights)]  # per segment, host-side
    t = tree
    return pad(make_tree(np.asarray(t.parent)[:n], np.asarray(t.length)[:n], [f.r_in for f in fits],
                         [f.r_out for f in fits], stenosis_severity=[f.severity for f in fits],
                         stenosis_length=[f.lesion_length for f in fits],
                         stenosis_position=[f.position for f in fits], start=np.asarray(t.start)[:n],
                         end=np.asarray(t.end)[:n]), t.capacity)


def _samples(paths_row, step):
    pts, arc = xs.resample_polyline(paths_row, step)
    return pts, arc


def measured_on_true_centrelines(true_tree, true_paths, fraction, affine, *, min_severity: float = 0.2,
                                 junction: float = 1.5):
    """The true tree with radii and lesions measured in ``fraction`` (lumen fraction, voxel grid of ``affine``)
    along its true centrelines (area-equivalent radii; junction zones left out)."""
    affine = np.asarray(affine, np.float64)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    rot = affine[:3, :3] / spacing
    n = int(np.sum(np.asarray(true_tree.valid)))
    parent = np.asarray(true_tree.parent)[:n]
    kids = np.isin(np.arange(n), parent)
    radii, arcs, weights = [], [], []
    r_ref = np.asarray(true_tree.r_in)[:n]
    for i in range(n):  # per segment, host-side measurement
        world, arc = _samples(np.asarray(true_paths)[i], 0.5 * float(spacing.min()))
        local = (world - affine[:3, 3]) @ rot  # index frame × spacing
        window = 2.0 * r_ref[i] + 3.0 * float(spacing.max())
        r = xs.area_radius(fraction, spacing, local, xs.tangents(local), np.full(len(arc), window))
        w = (r > 0).astype(np.float64)
        if parent[i] >= 0:
            w[arc < junction * r_ref[parent[i]]] = 0.0
        if kids[i]:
            w[arc > arc[-1] - junction * r_ref[i]] = 0.0
        if np.count_nonzero(w) < 2:
            w = (r > 0).astype(np.float64)
        radii.append(r)
        arcs.append(arc)
        weights.append(w)
    return _refit(true_tree, radii, arcs, weights, min_severity)


def true_radii_on_extracted(extracted: Extracted, true_tree, true_paths, *, min_severity: float = 0.2):
    """The extracted tree with the true lumen radius read at each of its measured points (nearest point of the
    true centrelines), refitted as the pipeline fits its own measurements (same junction weights)."""
    match = TreeMatch(true_tree, true_paths, np.zeros(true_tree.capacity), np.zeros(true_tree.capacity))
    radii = [match.radius(p["points"]) for p in extracted.profiles]
    ex = _refit(extracted.tree, radii, [p["arc"] for p in extracted.profiles],
                [p["weight"] for p in extracted.profiles], min_severity)
    return dataclasses.replace(extracted, tree=ex)
