"""Classical lumen segmentation of an angiogram: intensity window + Frangi vesselness + region growing.

1. **Levels.** The lumen level ``L`` is the median intensity within ``seed_radius`` of the seed (the ostium);
   the background level ``B`` is the median of a shell 1–3 voxels outside the vessel (fat, myocardium),
   found by alternating threshold and shell twice. The threshold is the half-way level ``(L + B)/2`` —
   the full-width-at-half-maximum boundary of a blurred edge — raised, when the image holds a brighter
   tissue level ``T`` between B and L (enhanced myocardium: the strongest histogram mode there), to
   ``T + k·σ`` (k = ``tissue_margin``, σ the noise of the smoothed image), so a vessel lying on the myocardium does not grow into it.
2. **Candidates.** Voxels whose lightly smoothed intensity lies in ``[(L + B)/2, upper]``; ``upper`` leaves
   out calcium (and its blooming), brighter than any lumen.
3. **Vesselness gate.** Frangi vesselness (`cardiojax.imaging.vesselness`) on the candidates' bounding box
   (on a grid binned to ≥ ``gate_voxel`` when the voxels are finer); candidates must lie within
   ``gate_dilation`` voxels of a tubular response, which stops the growth at blob- and plate-like
   structures (cardiac chambers, bone) that touch a vessel.
   Faint but strongly tubular voxels (above ``B + bridge_level·(L − B)``, vesselness ≥ ``bridge_vesselness``)
   are candidates too, so the growth crosses narrow lesions and follows thin vessels.
4. **Region growing.** The connected component (26-neighbours) of the gated candidates that holds the seed;
   when the threshold was raised above a tissue level, the component then grows by up to ``grow`` voxels into
   voxels above the half-way level, so its boundary sits at the half-way level again.

Besides the mask, `Segmentation.fraction` is the lumen fraction ``clip((I − B')/(L − B'), 0, 1)`` of the raw
image near the mask (B' the local background: the tissue level T next to tissue-like voxels, B elsewhere): a partial-volume map whose sum over a cross-section is the lumen area, blur included
(used for area-equivalent radii). Host-side numpy/scipy around the JAX vesselness.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from cardiojax.imaging.vesselness import frangi
from cardiojax.io.volume import Volume

_BALL = ndimage.generate_binary_structure(3, 1)


@dataclasses.dataclass(frozen=True)
class SegmentParams:
    """Settings of `segment_lumen` (intensities in image units, HU for CT; lengths in m).

    Attributes:
      lumen: lumen level L (default: median within ``seed_radius`` of the seed).
      background: background level B (default: median of the shell around the vessel).
      upper: brightest lumen intensity (default ``L + max(150, 0.6·(L − B))``; calcium lies above).
      threshold: the mask threshold (default: half-way, raised above a brighter tissue; see the module docstring).
      tissue_margin: k, noise σ's above a brighter tissue level that the threshold is raised to.
      bridge_level, bridge_vesselness: voxels above ``B + bridge_level·(L − B)`` whose vesselness reaches
        ``bridge_vesselness`` join the candidates whatever the threshold: the faint, blurred lumen of a narrow
        lesion or a thin vessel still connects what lies beyond it, while plate-like tissue does not.
      grow: when the threshold was raised, the mask grows back by up to this many voxels into voxels above the
        half-way level (its boundary returns to the half-way level without following the tissue far).
      seed_radius: m, radius of the ball around the seed that measures L.
      smooth: σ (voxels) of the Gaussian applied before thresholding.
      scales: Frangi σ values (m); ``()`` switches the vesselness gate off.
      vesselness_min: smallest vesselness counted as tubular.
      gate_dilation: voxels; candidates this close to a tubular response pass the gate.
      gate_voxel: m; the vesselness runs on a grid binned to at least this voxel size.
    """

    lumen: float | None = None
    background: float | None = None
    upper: float | None = None
    threshold: float | None = None
    grow: int = 2
    tissue_margin: float = 2.0
    bridge_level: float = 0.25
    bridge_vesselness: float = 0.05
    seed_radius: float = 1.0e-3
    smooth: float = 0.5
    scales: tuple[float, ...] = (0.6e-3, 1.2e-3)
    vesselness_min: float = 0.01
    gate_dilation: int = 4
    gate_voxel: float = 0.5e-3


@dataclasses.dataclass(frozen=True)
class Segmentation:
    """A lumen segmentation.

    Attributes:
      mask: ``(nx, ny, nz)`` bool lumen (the seed's component).
      fraction: ``(nx, ny, nz)`` float32 lumen fraction in [0, 1] near the mask, 0 elsewhere.
      vesselness: ``(nx, ny, nz)`` float32 Frangi response (0 outside its bounding box), or None.
      lumen, background, upper, threshold: the intensity levels used.
      noise: standard deviation of the intensity in the background shell.
      seed: ``(3,)`` int voxel index of the seed.
    """

    mask: np.ndarray
    fraction: np.ndarray
    vesselness: np.ndarray | None
    lumen: float
    background: float
    upper: float
    threshold: float
    noise: float
    seed: tuple[int, int, int]


def _component(candidates: np.ndarray, seed) -> np.ndarray:
    labels, _ = ndimage.label(candidates, structure=np.ones((3, 3, 3)))
    lab = labels[seed]
    return labels == lab if lab > 0 else np.zeros_like(candidates)


def _shell(mask: np.ndarray) -> np.ndarray:
    return ndimage.binary_dilation(mask, _BALL, iterations=3) & ~ndimage.binary_dilation(mask, _BALL, iterations=1)


def _seed_ball(shape, seed, spacing, radius) -> np.ndarray:
    r = np.ceil(radius / spacing).astype(int)
    lo = np.maximum(np.asarray(seed) - r, 0)
    hi = np.minimum(np.asarray(seed) + r + 1, shape)
    ball = np.zeros(shape, bool)
    g = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
    d2 = sum(((gi - s) * sp) ** 2 for gi, s, sp in zip(g, seed, spacing))
    ball[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = d2 <= radius**2
    return ball


def _noise_sigma(smooth_img, region) -> float:
    """Robust noise σ of the (smoothed) image in ``region``: 1.4826 × MAD of its fine detail (image minus a
    wider blur, rescaled for the blur's share of the noise), insensitive to the tissue edges in the region."""
    if not region.any():
        return 0.0
    detail = (smooth_img - ndimage.gaussian_filter(smooth_img, 2.0))[region]
    return float(1.4826 * np.median(np.abs(detail - np.median(detail)))) * 1.15


def _tissue_level(smooth_img, background: float, lumen: float, sigma: float) -> float | None:
    """The strongest histogram mode of the image strictly between background and lumen (e.g. the enhanced
    myocardium), or None when there is none farther than 3σ from both."""
    lo, hi = background + 3.0 * sigma, lumen - 3.0 * sigma
    if hi <= lo:
        return None
    values = smooth_img[(smooth_img > background - 3 * sigma) & (smooth_img < lumen + 3 * sigma)]
    hist, edges = np.histogram(values, bins=128, range=(background - 3 * sigma, lumen + 3 * sigma))
    hist = ndimage.gaussian_filter1d(hist.astype(np.float64), 1.5)
    centres = 0.5 * (edges[1:] + edges[:-1])
    peaks = np.flatnonzero((hist[1:-1] > hist[:-2]) & (hist[1:-1] >= hist[2:])) + 1
    peaks = peaks[(centres[peaks] > lo) & (centres[peaks] < hi)]
    if len(peaks) == 0:
        return None
    return float(centres[peaks[np.argmax(hist[peaks])]])


def _gate(smooth_img, candidates, spacing, p: SegmentParams) -> tuple[np.ndarray, np.ndarray]:
    """Vesselness on the candidates' bounding box, binned to ≥ gate_voxel, and the dilated tubular gate."""
    idx = np.argwhere(candidates)
    pad = int(np.ceil(2 * max(p.scales) / spacing.min())) + p.gate_dilation
    lo = np.maximum(idx.min(0) - pad, 0)
    hi = np.minimum(idx.max(0) + pad + 1, candidates.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    sub = smooth_img[box]
    f = np.maximum(np.floor(p.gate_voxel / spacing + 1e-6).astype(int), 1)
    crop = tuple(slice(0, (n // k) * k) for n, k in zip(sub.shape, f))
    binned = sub[crop].reshape(sub.shape[0] // f[0], f[0], sub.shape[1] // f[1], f[1],
                               sub.shape[2] // f[2], f[2]).mean(axis=(1, 3, 5))
    v = np.asarray(frangi(binned, spacing * f, p.scales))
    v_full = np.zeros(sub.shape, np.float32)
    up = np.repeat(np.repeat(np.repeat(v, f[0], 0), f[1], 1), f[2], 2)
    v_full[crop] = up
    vessel = np.zeros(candidates.shape, np.float32)
    vessel[box] = v_full
    gate = ndimage.binary_dilation(vessel >= p.vesselness_min, _BALL, iterations=p.gate_dilation + int(f.max()))
    return vessel, gate


def segment_lumen(volume: Volume, seed_ijk, params: SegmentParams = SegmentParams()) -> Segmentation:
    """Segment the vessel lumen connected to ``seed_ijk`` (a voxel inside the vessel, e.g. at the ostium)."""
    img = np.asarray(volume.array, np.float32)
    if img.ndim != 3:
        raise ValueError(f"volume.array: shape {img.shape}; expected a 3D image")
    if not np.all(np.isfinite(img)):
        raise ValueError("volume.array: NaN or infinite voxels; expected finite intensities")
    seed = tuple(int(round(float(v))) for v in np.asarray(seed_ijk).reshape(-1))
    if len(seed) != 3 or not all(0 <= s < n for s, n in zip(seed, img.shape)):
        raise ValueError(f"seed: voxel {seed}; expected an index inside the volume of shape {img.shape}")
    p = params
    spacing = volume.spacing
    smooth = ndimage.gaussian_filter(img, p.smooth) if p.smooth > 0 else img
    ball = _seed_ball(img.shape, seed, spacing, p.seed_radius)
    lumen = float(np.median(img[ball])) if p.lumen is None else float(p.lumen)
    background = float(np.median(img)) if p.background is None else float(p.background)
    if lumen <= background:
        raise ValueError(f"seed {seed}: lumen level {lumen:.1f} is not above the background {background:.1f}; "
                         "expected a seed inside a bright (contrast-filled) vessel")
    for _ in range(2 if p.background is None else 1):  # background from the shell around the vessel
        upper = lumen + max(150.0, 0.6 * (lumen - background)) if p.upper is None else float(p.upper)
        threshold = 0.5 * (lumen + background)
        region = _component((smooth >= threshold) & (smooth <= upper) | ball, seed)
        shell = _shell(region)
        if p.background is None and shell.any():
            background = float(np.median(img[shell]))
    upper = lumen + max(150.0, 0.6 * (lumen - background)) if p.upper is None else float(p.upper)
    sigma = _noise_sigma(smooth, shell)
    threshold = 0.5 * (lumen + background)
    tissue = _tissue_level(smooth, background, lumen, sigma) if p.threshold is None else None
    if tissue is not None:
        threshold = min(max(threshold, tissue + p.tissue_margin * sigma), lumen - 2.0 * sigma)
    if p.threshold is not None:
        threshold = float(p.threshold)
    candidates = ((smooth >= threshold) & (smooth <= upper)) | ball
    vessel = None
    if p.scales:
        low = (smooth >= background + p.bridge_level * (lumen - background)) & (smooth <= upper)
        vessel, gate = _gate(smooth, _component(low | ball, seed), spacing, p)
        bridge = low & (vessel >= p.bridge_vesselness)  # faint but tubular: narrow lesions, thin vessels
        candidates = (candidates & gate) | bridge | ball
    mask = _component(candidates, seed)
    half = 0.5 * (lumen + background)
    if threshold > half and p.grow > 0:  # back out to the half-way boundary, a few voxels at most
        allowed = (smooth >= half) & (smooth <= upper)
        mask = ndimage.binary_dilation(mask, np.ones((3, 3, 3), bool), iterations=p.grow, mask=allowed) | mask
    near = ndimage.binary_dilation(mask, _BALL, iterations=2)
    floor = np.full(img.shape, background, np.float32)  # the local background each voxel is measured against
    if tissue is not None:  # next to the brighter tissue, the tissue is the background, not fat
        like = (smooth > tissue - 2.5 * sigma) & (smooth < tissue + 2.5 * sigma) & ~mask
        beside = ndimage.gaussian_filter(like.astype(np.float32), 1.5) > 0.25
        floor = np.where(beside, np.float32(tissue), floor)
    fraction = np.where(near & (smooth <= upper), np.clip((img - floor) / (lumen - floor), 0, 1), 0)
    shell = _shell(mask)
    noise = float(np.std(img[shell])) if shell.any() else 0.0
    return Segmentation(mask, fraction.astype(np.float32), vessel, lumen, background, upper, threshold, noise, seed)
