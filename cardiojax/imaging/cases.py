"""Synthetic CT-FFR cases: a coronary tree drawn in 3D, its CT angiogram, and its true FFR.

One home for the cases that the tests, the benchmark (`benchmarks/bench_image_ffr.py`), the study
(`experiments/image_ffr/`) and the segmentation network's training data use:

1. a tree from `cardiojax.synth.generate` with `IMAGE_PRIOR`, wrapped on the heart
   (`cardiojax.synth.course.wrap_on_heart`); trees whose vessels come closer than ``clearance`` to each other
   (they would merge in an image) are redrawn with the next key;
2. its angiogram (`cardiojax.imaging.angio.angiogram_volume`) at the chosen voxel size;
3. its true hyperemic FFR (`cardiojax.imaging.image_ffr.solve_tree_ffr`, the same recipe the image pipeline uses).

Case ``i`` of seed ``s`` uses the keys ``fold_in(key(s), i)`` (tree), then its splits — the same case whatever
else is drawn.

`IMAGE_PRIOR` is the generator's prior narrowed to what a CT angiogram at 0.5 mm resolves and to lesions as
found in patients referred for FFR: branches ending below 0.75 mm radius (3 voxels across at 0.5 mm) are not
drawn; 0–2 lesions per main vessel and 0–1 per side branch; diameter stenosis 30–70 % (clinical cohorts:
44 ± 12 %, Itu et al. 2016; ≥ 70 % is usually stented without FFR); lesion length 5–15 mm (13 ± 7 mm).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.imaging.angio import Angiogram, AngioParams, angiogram_volume
from cardiojax.imaging.image_ffr import ImageFFR, PipelineParams, seed_index, solve_tree_ffr
from cardiojax.imaging.seg_metrics import cldice, dice, hd95
from cardiojax.imaging.tree_compare import compare_trees
from cardiojax.io.volume import Volume
from cardiojax.synth.course import min_clearance, wrap_on_heart
from cardiojax.synth.generate import generate
from cardiojax.synth.priors import CoronaryPrior
from cardiojax.tree.paths import point_at
from cardiojax.tree.vessel_tree import VesselTree

IMAGE_PRIOR = CoronaryPrior(min_radius=0.75e-3, stenoses_main=(0, 2), stenoses_side=(0, 1),
                            stenosis_severity=(0.3, 0.7), lesion_length=(5e-3, 15e-3), second_generation=(0, 1))
#: Smallest gap (m) between the lumens of unrelated vessels of a drawn tree.
CLEARANCE = 1.0e-3


@dataclasses.dataclass(frozen=True)
class Case:
    """One synthetic case (host arrays).

    Attributes:
      index: the case number; tries: trees drawn until one had the clearance.
      tree: the true tree (float64; lengths are its 3D centrelines' arc lengths); paths: ``(cap, K, 3)`` m.
      volume: the CT angiogram (HU, float32); angiogram: the renderer's truth (lumen occupancy, calcium, ...).
      seed: voxel index of the ostium (the root's start).
      truth: `solve_tree_ffr` of the true tree (``ffr_in``, ``ffr_out``, ``flow``, ``main``, ``tip``, ...).
    """

    index: int
    tries: int
    tree: VesselTree
    paths: np.ndarray
    volume: Volume
    angiogram: Angiogram
    seed: tuple[int, int, int]
    truth: dict


def _float32(tree: VesselTree) -> VesselTree:
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating)
                                  else x, tree)


def draw_tree(key, prior: CoronaryPrior = IMAGE_PRIOR, *, capacity: int = 64, clearance: float = CLEARANCE,
              max_tries: int = 50) -> tuple[VesselTree, np.ndarray, int]:
    """A wrapped tree whose unrelated vessels stay ``clearance`` m apart: ``(tree, paths, tries)``."""
    for t in range(max_tries):  # rejection sampling: about a third of drawn trees pass
        k = jax.random.fold_in(key, t)
        tree, paths = wrap_on_heart(generate(k, prior, capacity), jax.random.fold_in(k, 1))
        if float(min_clearance(tree, paths)) >= clearance:
            return jax.tree_util.tree_map(np.asarray, tree), np.asarray(paths), t + 1
    raise ValueError(f"clearance = {clearance} m: no tree out of {max_tries} drawn kept its vessels that far apart; "
                     "expected a smaller clearance or a prior with fewer branches")


def make_case(index: int, *, seed: int = 0, prior: CoronaryPrior = IMAGE_PRIOR, angio: AngioParams = AngioParams(),
              voxel_size: float = 0.5e-3, clearance: float = CLEARANCE, capacity: int = 64,
              pipeline: PipelineParams = PipelineParams()) -> Case:
    """Case ``index`` of ``seed`` (see the module docstring); the truth uses ``pipeline.hyperemia``."""
    key = jax.random.fold_in(jax.random.key(seed), index)
    k_tree, k_image = jax.random.split(key)
    tree, paths, tries = draw_tree(k_tree, prior, capacity=capacity, clearance=clearance)
    volume, ang = angiogram_volume(k_image, _float32(tree), jnp.asarray(paths, jnp.float32), angio,
                                   voxel_size=voxel_size)
    ang = jax.tree_util.tree_map(np.asarray, ang)
    truth = solve_tree_ffr(tree, pipeline)
    return Case(index, tries, tree, paths, volume, ang, seed_index(volume, paths[0, 0]), truth)


def evaluate(case: Case, result: ImageFFR, *, hausdorff: bool = True) -> dict:
    """Scores of an image-derived result against its case's truth.

    Returns:
      dict: ``dice``, ``cldice`` (the extracted skeleton against the true centrelines), ``hd95`` (m; NaN when
      ``hausdorff`` is False), and the arrays of `cardiojax.imaging.tree_compare.compare_trees` (per-vessel
      and per-lesion FFR pairs, radii along the true centrelines).
    """
    true_mask = np.asarray(case.angiogram.lumen) >= 0.5
    pred = np.asarray(result.segmentation.mask)
    valid = np.asarray(case.tree.valid)
    f = np.linspace(0.0, 1.0, 64)
    true_pts = np.asarray(point_at(case.paths[valid], np.tile(f, (int(valid.sum()), 1)))).reshape(-1, 3)
    skel_pts = case.volume.index_to_world(result.extracted.skeleton.ijk)
    cl, _, _ = cldice(pred, true_mask, case.volume.affine, skel_pts, true_pts)
    out = dict(dice=dice(pred, true_mask), cldice=cl,
               hd95=hd95(pred, true_mask, case.volume.spacing) if hausdorff and pred.any() else float("nan"))
    out.update(compare_trees(case.tree, case.paths, case.truth["ffr_out"], result.extracted.tree,
                             result.extracted.paths, result.ffr_in, result.ffr_out))
    return out
