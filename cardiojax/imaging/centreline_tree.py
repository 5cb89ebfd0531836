"""A lumen segmentation → its centrelines with area-equivalent radii → a validated `VesselTree`.

1. the TEASAR skeleton of the lumen rooted at the inlet (`cardiojax.imaging.skeleton`), its short terminal
   spurs pruned, cut into branches at its bifurcations; each branch is one tree segment, its parent the branch
   it leaves;
2. each branch's voxel chain is smoothed (Gaussian, ``smooth`` voxels), a terminal branch loses the
   rounded end of its lumen (its last wall-distance radius: the chain runs into the end cap), and it is
   resampled every half voxel;
3. the lumen is cut perpendicular to the centreline at every sample and the area-equivalent radius
   ``√(A/π)`` measured (`cardiojax.imaging.cross_section`);
4. **junction zones** — within ``junction`` × the wall distance of a bifurcation point, where a cut holds
   parts of both branches and no cross-section is well defined — get no weight: the segment's healthy
   (reference) radius is a robust linear fit to its other samples, extrapolated through them
   (`cardiojax.tree.profile.fit_profile`), and its deepest narrowing below that line (≥ ``min_severity``)
   becomes the segment's cosine lesion; a branch with several separate narrowings is cut between them into a
   chain of segments (a segment carries one lesion).

The tree is in world coordinates (LPS m, via the volume's affine), in topological order, with the curved
centrelines as `paths` (``(cap, K, 3)`` m; see `cardiojax.tree.paths`) and each segment's length the arc
length of its centreline.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cardiojax.imaging import cross_section as xs
from cardiojax.imaging.skeleton import Skeleton, TeasarParams, branches, downstream, prune_spurs, teasar
from cardiojax.tree.ops import make_tree, pad
from cardiojax.tree.profile import fit_profile, lesion_centres
from cardiojax.tree.vessel_tree import VesselTree


@dataclasses.dataclass(frozen=True)
class ExtractParams:
    """Centreline-to-tree settings.

    Attributes:
      teasar: skeleton settings.
      smooth: Gaussian smoothing of the voxel chains, in chain points (≈ voxels).
      step: resampling step along the centreline, in units of the smallest voxel size.
      junction: a junction zone reaches ``junction × wall distance`` of the bifurcation point along each branch.
      min_severity: narrowings below this diameter fraction are not lesions.
      path_points: K, points per segment in the returned paths.
      min_branch, stubby: terminal branches shorter than ``min_branch`` (m) or than ``stubby`` × the wall
        distance at their junction are spurs of a noisy wall and are pruned (`skeleton.prune_spurs`).
    """

    teasar: TeasarParams = TeasarParams()
    smooth: float = 2.0
    step: float = 0.5
    junction: float = 1.5
    min_severity: float = 0.2
    path_points: int = 32
    min_branch: float = 3.0e-3
    stubby: float = 2.5


@dataclasses.dataclass(frozen=True)
class Extracted:
    """An extracted tree and how it was measured.

    Attributes:
      tree: the `VesselTree` (world coordinates, SI).
      paths: ``(cap, K, 3)`` m, each segment's centreline (padding slots repeat the origin).
      profiles: per valid segment, a dict of ``arc`` (m), ``radius`` (m, area-equivalent), ``weight``
        (0 in junction zones), ``points`` (m, world).
      skeleton: the TEASAR skeleton (voxel indices).
    """

    tree: VesselTree
    paths: np.ndarray
    profiles: list[dict]
    skeleton: Skeleton


def _branch_geometry(skel: Skeleton, chain, spacing, tip: bool, p: ExtractParams):
    """Smoothed, tip-trimmed, resampled centreline of one branch (index frame × spacing, m)."""
    pts = xs.smooth_polyline(skel.ijk[chain] * spacing, p.smooth)
    dbf = skel.dbf[chain]
    s_chain = xs.arclength(pts)
    if tip and len(pts) > 2:  # the lumen's rounded end: drop the last wall-distance radius of the chain
        from_tip = s_chain[-1] - s_chain
        near = (from_tip > np.median(dbf)) & (from_tip < 3.0 * np.median(dbf))
        cut = min(float(np.median(dbf[near])) if near.any() else float(np.median(dbf)), 0.5 * s_chain[-1])
        end = np.array([np.interp(s_chain[-1] - cut, s_chain, pts[:, d]) for d in range(3)])
        pts = np.concatenate([pts[from_tip > cut], end[None]])
    step = p.step * float(np.min(spacing))
    samples, arc = xs.resample_polyline(pts, step)
    dbf_s = np.interp(arc, s_chain, dbf)
    return samples, arc, dbf_s


def tree_from_mask(fraction, affine, root_ijk, *, params: ExtractParams = ExtractParams(),
                   capacity: int | None = None, image=None, levels: tuple[float, float, float] | None = None
                   ) -> Extracted:
    """Extract the vessel tree rooted at ``root_ijk`` from a lumen segmentation.

    Args:
      fraction: ``(nx, ny, nz)`` lumen fraction in [0, 1] (a probability / partial-volume map) or a bool mask;
        the lumen is ``fraction ≥ 0.5``, and the area-equivalent radii integrate the fraction itself.
      affine: ``(4, 4)`` voxel index → world (m), as `cardiojax.io.volume.Volume.affine`.
      root_ijk: voxel index of the inlet (snapped to the nearest lumen voxel within 5 mm).
      params: `ExtractParams`.
      capacity: segment slots of the returned tree (default: the number of segments).
      image, levels: the intensity image (same grid) and its ``(lumen, background, upper)`` levels: when
        given, radii come from the lumen edges along rays in each cut (`cross_section.ray_radius`, local
        half-way levels) instead of the sum of ``fraction`` over the cut (`cross_section.area_radius`).
    """
    frac = np.asarray(fraction)
    if frac.ndim != 3:
        raise ValueError(f"fraction: shape {frac.shape}; expected a 3D lumen fraction or mask")
    frac = frac.astype(np.float32)
    if image is not None and (np.shape(image) != frac.shape or levels is None or len(levels) != 3):
        raise ValueError(f"image: shape {np.shape(image)} with levels {levels}; expected the fraction's shape "
                         f"{frac.shape} and (lumen, background, upper) levels")
    affine = np.asarray(affine, np.float64)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    rotation = affine[:3, :3] / spacing[None, :]
    skel = downstream(teasar(frac >= 0.5, spacing, root_ijk, params.teasar))
    skel = prune_spurs(skel, spacing, params.min_branch, params.stubby)
    chains, parent = branches(skel)
    if not chains:
        raise ValueError(f"segmentation: the lumen at the seed {tuple(root_ijk)} is a single voxel; "
                         "expected a vessel (check the seed and the segmentation)")
    has_children = np.bincount(parent[parent >= 0], minlength=len(chains)) > 0
    lengths, profs, fits, paths, seg_parent, last_piece = [], [], [], [], [], {}
    for b, chain in enumerate(chains):  # per branch (segment), host-side measurement
        samples, arc, dbf = _branch_geometry(skel, chain, spacing, not has_children[b], params)
        window = 2.0 * dbf + 3.0 * float(np.max(spacing))
        if image is None:
            radius = xs.area_radius(frac, spacing, samples, xs.tangents(samples), window)
        else:
            radius = xs.ray_radius(image, spacing, samples, xs.tangents(samples), window, *levels)
        weight = np.ones_like(arc)
        if parent[b] >= 0:
            weight[arc < params.junction * skel.dbf[chain[0]]] = 0.0
        else:  # the inlet: the seed may sit in the vessel's open or rounded end
            weight[arc < float(np.median(dbf))] = 0.0
        if has_children[b]:
            weight[arc > arc[-1] - params.junction * skel.dbf[chain[-1]]] = 0.0
        weight[radius <= 0] = 0.0
        if np.count_nonzero(weight) < 2:  # a short segment inside junction zones: use what there is
            weight = (radius > 0).astype(np.float64)
        safe = np.where(radius > 0, radius, np.max(radius) if np.any(radius > 0) else float(np.median(dbf)))
        world = samples @ rotation.T + affine[:3, 3]
        centres = lesion_centres(arc, safe, weight, params.min_severity)
        cuts = [0.0, *(0.5 * (centres[1:] + centres[:-1])), float(arc[-1])]  # one lesion per piece
        for piece, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:])):  # over a branch's lesions (a few)
            sel = (arc >= lo - 1e-12) & (arc <= hi + 1e-12)
            a = arc[sel] - arc[sel][0]
            w = weight[sel]
            if np.count_nonzero(w) < 2:
                w = np.ones_like(a)
            fits.append(fit_profile(a, safe[sel], float(a[-1]), w, params.min_severity))
            lengths.append(float(a[-1]))
            profs.append(dict(arc=a, radius=radius[sel], weight=w, points=world[sel]))
            q = np.linspace(0.0, a[-1], params.path_points)
            paths.append(np.stack([np.interp(q, a, world[sel][:, d]) for d in range(3)], axis=1))
            seg_parent.append(len(fits) - 2 if piece > 0 else (last_piece[parent[b]] if parent[b] >= 0 else -1))
        last_piece[b] = len(fits) - 1
    parent = np.asarray(seg_parent, np.int64)
    n = len(fits)
    cap = n if capacity is None else int(capacity)
    if cap < n:
        raise ValueError(f"capacity = {cap}; the segmentation has {n} segments")
    paths_arr = np.zeros((cap, params.path_points, 3))
    paths_arr[:n] = np.stack(paths)
    tree = make_tree(
        parent, np.array(lengths), np.array([f.r_in for f in fits]), np.array([f.r_out for f in fits]),
        stenosis_severity=np.array([f.severity for f in fits]),
        stenosis_length=np.array([f.lesion_length for f in fits]),
        stenosis_position=np.array([f.position for f in fits]),
        start=paths_arr[:n, 0], end=paths_arr[:n, -1], capacity=cap,
    )
    return Extracted(tree, paths_arr, profs, skel)


def with_capacity(ex: Extracted, capacity: int) -> Extracted:
    """The same extraction with the tree and paths padded to ``capacity`` slots."""
    n = ex.paths.shape[0]
    if capacity < n:
        raise ValueError(f"capacity = {capacity}; expected at least the {n} slots the tree has")
    paths = np.concatenate([ex.paths, np.zeros((capacity - n, *ex.paths.shape[1:]))])
    return dataclasses.replace(ex, tree=pad(ex.tree, capacity), paths=paths)
