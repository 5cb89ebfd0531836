"""An image-derived tree against the true tree it was rendered from: FFR per vessel and per lesion, radii.

The two trees have different segments (the image's junctions sit a little elsewhere, small branches may be
missing), so they are matched through space: a point of the true tree is looked up on the extracted tree's
centrelines (nearest point), and quantities are read there.

* **per vessel** — the distal end of each main vessel of the true tree (`cardiojax.clinical.vessels`): true
  ``ffr_out`` at its tip against the extracted FFR at the nearest extracted centreline point;
* **per lesion** — the end of each true segment with a lesion (distal to it): same comparison;
* **radius** — along every true centreline (away from junction zones), the true lumen radius against the
  extracted tree's model radius (`cardiojax.tree.lumen_radius`: what its solver sees) at the nearest point.

FFR along an extracted segment is interpolated linearly between its end values. Host-side numpy.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from cardiojax.clinical.vessels import MAIN_VESSEL_RADIUS, vessels
from cardiojax.tree.geometry import lumen_radius
from cardiojax.tree.paths import point_at


def _dense(tree, paths, samples: int):
    """Points ``(n·samples, 3)`` along the valid segments, with their segment and fraction."""
    valid = np.flatnonzero(np.asarray(tree.valid))
    f = np.linspace(0.0, 1.0, samples)
    pts = np.asarray(point_at(np.asarray(paths)[valid], np.tile(f, (len(valid), 1))))
    seg = np.repeat(valid, samples)
    return pts.reshape(-1, 3), seg, np.tile(f, len(valid))


class TreeMatch:
    """Nearest-point lookup on an extracted tree's centrelines (``samples`` points per segment)."""

    def __init__(self, tree, paths, ffr_in, ffr_out, samples: int = 64):
        self.tree = tree
        self.points, self.segment, self.fraction = _dense(tree, paths, samples)
        self.kd = cKDTree(self.points)
        self.ffr_in = np.asarray(ffr_in)
        self.ffr_out = np.asarray(ffr_out)

    def lookup(self, points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(distance m, segment, fraction)`` of the nearest extracted centreline point to each point."""
        d, k = self.kd.query(np.asarray(points, np.float64))
        return d, self.segment[k], self.fraction[k]

    def ffr(self, points) -> np.ndarray:
        """Extracted FFR at the nearest centreline point to each point."""
        _, s, f = self.lookup(points)
        return self.ffr_in[s] + f * (self.ffr_out[s] - self.ffr_in[s])

    def radius(self, points) -> np.ndarray:
        """Extracted model lumen radius (m) at the nearest centreline point to each point."""
        _, s, f = self.lookup(points)
        r = np.asarray(lumen_radius(self.tree, np.broadcast_to(f[None, :], (self.tree.capacity, len(f)))))
        return r[s, np.arange(len(f))]


def compare_trees(true_tree, true_paths, true_ffr_out, ex_tree, ex_paths, ex_ffr_in, ex_ffr_out, *,
                  min_radius: float = MAIN_VESSEL_RADIUS, junction: float = 1.5, samples: int = 32) -> dict:
    """Per-vessel and per-lesion FFR pairs and the radius error of an extracted tree against the truth.

    Args:
      true_tree, true_paths, true_ffr_out: the rendered tree, its ``(cap, K, 3)`` m centrelines and FFR at its
        segment ends; ex_*: the image-derived tree, centrelines and FFR at both segment ends.
      min_radius: m, main-vessel threshold; junction: radius multiples left out around junctions for radii.

    Returns:
      dict of numpy arrays: ``vessel_true``, ``vessel_pred``, ``vessel_distance`` (m, tip to the nearest
      extracted point), ``lesion_true``, ``lesion_pred``, ``lesion_severity`` (true), ``radius_true``,
      ``radius_pred`` (m, along the true centrelines).
    """
    match = TreeMatch(ex_tree, ex_paths, ex_ffr_in, ex_ffr_out)
    true_ffr_out = np.asarray(true_ffr_out)
    paths = np.asarray(true_paths)
    v = vessels(true_tree, min_radius)
    tips = np.flatnonzero(np.asarray(v.tip) & np.asarray(v.main))
    tip_pts = paths[tips, -1]
    dist, _, _ = match.lookup(tip_pts)
    sev = np.asarray(true_tree.stenosis_severity)
    lesions = np.flatnonzero(np.asarray(true_tree.valid) & (sev > 0))
    pts, seg, frac = _dense(true_tree, paths, samples)
    length = np.asarray(true_tree.length)[seg]
    r_ref = np.asarray(lumen_radius(true_tree, np.broadcast_to(frac[None, :], (true_tree.capacity, len(frac)))))
    r_true = r_ref[seg, np.arange(len(frac))]
    parent = np.asarray(true_tree.parent)[seg]
    has_kids = np.isin(seg, np.asarray(true_tree.parent)[np.asarray(true_tree.valid)])
    away = ((parent < 0) | (frac * length > junction * r_true)) & (~has_kids | ((1 - frac) * length > junction * r_true))
    return dict(
        vessel_true=true_ffr_out[tips], vessel_pred=match.ffr(tip_pts), vessel_distance=dist,
        lesion_true=true_ffr_out[lesions], lesion_pred=match.ffr(paths[lesions, -1]), lesion_severity=sev[lesions],
        radius_true=r_true[away], radius_pred=match.radius(pts[away]),
    )


def ffr_scores(true, pred, cutoff: float = 0.80) -> dict:
    """MAE, bias (pred − true), accuracy, sensitivity and specificity at ``cutoff`` of FFR pairs."""
    true, pred = np.asarray(true, np.float64), np.asarray(pred, np.float64)
    if len(true) == 0:
        return dict(n=0, mae=np.nan, bias=np.nan, accuracy=np.nan, sensitivity=np.nan, specificity=np.nan)
    pos, called = true < cutoff, pred < cutoff
    return dict(n=int(len(true)), mae=float(np.mean(np.abs(pred - true))), bias=float(np.mean(pred - true)),
                accuracy=float(np.mean(pos == called)),
                sensitivity=float(np.mean(called[pos])) if pos.any() else np.nan,
                specificity=float(np.mean(~called[~pos])) if (~pos).any() else np.nan)
