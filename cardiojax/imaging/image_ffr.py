"""CT-FFR from an image volume: segment → centrelines and area-equivalent radii → `VesselTree` → hyperemic FFR.

`image_ffr(volume, seed)` runs the stages in order and times each:

1. ``segment`` — `cardiojax.imaging.segment.segment_lumen` (or a given segmentation, e.g. a network's);
2. ``centrelines`` — `cardiojax.imaging.centreline_tree.tree_from_mask` (TEASAR skeleton rooted at the seed,
   area-equivalent radii, lesions from the radius profiles);
3. ``ffr`` — the clinical recipe (`cardiojax.clinical.hyperemic_ffr_batch`: hyperemic outlet resistances from
   the myocardial mass, steady solve) and the distal FFR of each main vessel (`cardiojax.clinical.vessels`).

The tree's capacity is rounded up to a multiple of ``capacity_step`` so one compiled solve serves many
images. Precision follows JAX's global setting (entry points choose float64 for the 0D solve).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import numpy as np

from cardiojax.clinical.pipeline import hyperemic_ffr_batch
from cardiojax.clinical.hyperemia import HyperemiaParams
from cardiojax.clinical.vessels import MAIN_VESSEL_RADIUS, vessels
from cardiojax.imaging.centreline_tree import ExtractParams, Extracted, tree_from_mask, with_capacity
from cardiojax.imaging.segment import SegmentParams, Segmentation, segment_lumen
from cardiojax.io.volume import Volume
from cardiojax.tree.ops import stack

#: The stages of `image_ffr`, in order.
STAGES = ("segment", "centrelines", "ffr")


#: How radii are measured: "rays" (lumen edges with local half-way levels in the image) or "fraction" (the
#: segmentation's lumen fraction summed over each cut).
RADII = ("rays", "fraction")


@dataclasses.dataclass(frozen=True)
class PipelineParams:
    """Settings of every stage (see each stage's own parameters); ``radii`` one of `RADII`."""

    segment: SegmentParams = SegmentParams()
    extract: ExtractParams = ExtractParams()
    hyperemia: HyperemiaParams = HyperemiaParams()
    main_radius: float = MAIN_VESSEL_RADIUS
    capacity_step: int = 16
    radii: str = "fraction"

    def __post_init__(self):
        if self.radii not in RADII:
            raise ValueError(f"PipelineParams.radii = {self.radii!r}; expected one of {RADII}")


@dataclasses.dataclass(frozen=True)
class ImageFFR:
    """The pipeline's result.

    Attributes:
      segmentation: the lumen segmentation.
      extracted: the tree, its centreline paths and measured radius profiles.
      ffr_in, ffr_out: ``(cap,)`` hyperemic FFR at each segment's inlet and outlet (NaN in padding).
      vessel_first: ``(cap,)`` the first segment of each segment's vessel; ``main``: ``(cap,)`` bool, segment of a
        main vessel; ``tip``: ``(cap,)`` bool, the vessel's distal segment.
      flow: ``(cap,)`` m³/s hyperemic flow; ``p_out``: ``(cap,)`` Pa outlet pressure.
      seconds: wall time of each stage (s).
    """

    segmentation: Segmentation
    extracted: Extracted
    ffr_in: np.ndarray
    ffr_out: np.ndarray
    vessel_first: np.ndarray
    main: np.ndarray
    tip: np.ndarray
    flow: np.ndarray
    p_out: np.ndarray
    seconds: dict


def seed_index(volume: Volume, point) -> tuple[int, int, int]:
    """The voxel index nearest to a world point (m), checked to lie inside the volume."""
    ijk = np.rint(volume.world_to_index(np.asarray(point, np.float64))).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= volume.shape):
        raise ValueError(f"seed at {np.asarray(point).tolist()} m is voxel {ijk.tolist()}; expected a point inside "
                         f"the volume of shape {volume.shape}")
    return tuple(int(v) for v in ijk)


def solve_tree_ffr(tree, params: PipelineParams = PipelineParams()) -> dict[str, np.ndarray]:
    """Hyperemic FFR and vessels of one tree: numpy arrays ``ffr_in``, ``ffr_out``, ``flow``, ``p_out``,
    ``vessel_first``, ``main``, ``tip`` (each ``(cap,)``; NaN/False in padding)."""
    res = hyperemic_ffr_batch(stack([tree]), params.hyperemia)
    v = jax.vmap(lambda t: vessels(t, params.main_radius))(stack([tree]))
    valid = np.asarray(tree.valid)
    out = dict(ffr_in=res.ffr_in[0], ffr_out=res.ffr_out[0], flow=res.flow.flow[0], p_out=res.flow.p_out[0])
    out = {k: np.where(valid, np.asarray(a), np.nan) for k, a in out.items()}
    out.update(vessel_first=np.asarray(v.first[0]), main=np.asarray(v.main[0]), tip=np.asarray(v.tip[0]) & valid)
    return out


def image_ffr(volume: Volume, seed_ijk, params: PipelineParams = PipelineParams(), *,
              segmentation: Segmentation | None = None,
              progress: Callable[[str], None] | None = None) -> ImageFFR:
    """Image → FFR.

    Args:
      volume: the angiogram (`cardiojax.io.volume.Volume`; HU for CT).
      seed_ijk: voxel index inside the vessel at its inlet (the ostium); see `seed_index` for a world point.
      params: `PipelineParams`.
      segmentation: use this segmentation instead of the classical one (e.g. a network's, or the truth).
      progress: called with each stage's name as it starts.
    """
    seconds = {}
    t0 = time.perf_counter()
    if progress:
        progress("segment")
    seg = segment_lumen(volume, seed_ijk, params.segment) if segmentation is None else segmentation
    seconds["segment"] = time.perf_counter() - t0
    if progress:
        progress("centrelines")
    t0 = time.perf_counter()
    levels = (seg.lumen, seg.background, seg.upper)
    image = np.asarray(volume.array, np.float32) if params.radii == "rays" else None
    ex = tree_from_mask(seg.fraction, volume.affine, seg.seed, params=params.extract, image=image, levels=levels)
    ex = with_capacity(ex, -(-ex.tree.capacity // params.capacity_step) * params.capacity_step)
    seconds["centrelines"] = time.perf_counter() - t0
    if progress:
        progress("ffr")
    t0 = time.perf_counter()
    out = solve_tree_ffr(ex.tree, params)
    seconds["ffr"] = time.perf_counter() - t0
    return ImageFFR(seg, ex, seconds=seconds, **out)
