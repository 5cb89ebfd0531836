"""CT physics and low-contrast-dose restoration: projection, FBP, iodine dose, noise, CycleGAN, metrics.

* `ct` — parallel-beam projection (linear, exact adjoint `backproject`) and filtered back projection
  (ramp / Shepp–Logan), HU ↔ μ; differentiable.
* `dose` — the iodine-dose model (blood pool: HU_low = HU_u + f·(HU_full − HU_u)) and its inverse; noisy
  (Poisson counts on the projections, then FBP) and noise-free scans.
* `phantom` — random aortic CTA slices (body, lungs, spine, aorta, heart chambers; enhancement 250–450 HU),
  vmapped over keys; `anatomy` — the real DICOM slices in ``../shared/data/images/`` as anatomy (aortic
  lumen by region growing) with augmentation; `dicom` — DICOM in and out with the HU rescale (pydicom).
* `pairs` — simulated low/full-dose scan pairs and their noise-free reference.
* `networks` — the reference CycleGAN networks in flax nnx (ResNet generator, 70×70 PatchGAN), HU
  normalisation; `cyclegan` — losses (LSGAN, cycle, identity, paired L1, physics consistency), image pool
  and the compiled training step; `train` — sampling, the training loop, checkpoints.
* `metrics` — PSNR, SSIM, mean HU error, CNR, SNR; `baseline` — the classical baseline (rescale the
  enhanced region, then non-local means); `evaluate` — scoring against a reference and comparison figures.

Image → FFR (CT-FFR from a 3D angiogram):

* `lumen` — differentiable, splatted lumen occupancy of a tree on a voxel grid; `angio` — synthetic coronary
  CT angiograms of known trees (heart, fat, lung, calcium, dose, PSF, correlated noise); `cases` — synthetic
  CT-FFR cases (a tree wrapped on the heart, its angiogram, its true FFR) and their scoring.
* `vesselness` — Frangi's multiscale Hessian vesselness; `segment` — the classical lumen segmentation
  (levels, threshold above tissue, vesselness gate, region growing from the ostium).
* `skeleton` — TEASAR centrelines rooted at the inlet; `cross_section` — area-equivalent radii of cuts
  normal to the centreline (and ray-cast edges); `centreline_tree` — segmentation → `VesselTree` with
  junction zones and lesions from the radius profiles.
* `image_ffr` — the pipeline image → segmentation → tree → hyperemic FFR per segment and main vessel.
* `seg_metrics` — Dice, clDice, HD95, centreline distance; `tree_compare` — an image tree against the true
  tree (per vessel, per lesion, radii); `error_budget` — one step swapped for its ground truth.
"""

from cardiojax.imaging import anatomy, baseline, ct, cyclegan, dicom, dose, metrics, networks, pairs, phantom
from cardiojax.imaging.angio import Angiogram, AngioParams, angiogram_volume, render_angiogram
from cardiojax.imaging.centreline_tree import ExtractParams, Extracted, tree_from_mask
from cardiojax.imaging.image_ffr import ImageFFR, PipelineParams, image_ffr, seed_index, solve_tree_ffr
from cardiojax.imaging.lumen import render_lumen
from cardiojax.imaging.seg_metrics import centreline_distance, cldice, dice, hd95
from cardiojax.imaging.segment import SegmentParams, Segmentation, segment_lumen
from cardiojax.imaging.vesselness import frangi
from cardiojax.imaging.baseline import classical_baseline, nlm_denoise
from cardiojax.imaging.ct import ParallelBeam, backproject, fbp, hu_to_mu, mu_to_hu, parallel_beam, project
from cardiojax.imaging.cyclegan import CycleGAN, CycleGANConfig
from cardiojax.imaging.dicom import read_dicom, write_dicom
from cardiojax.imaging.dose import low_dose_hu, noise_free_scan, restore_full_hu, simulate_scan
from cardiojax.imaging.metrics import cnr, mean_hu_error, psnr, snr, ssim
from cardiojax.imaging.networks import HUNormalizer, PatchDiscriminator, ResnetGenerator
from cardiojax.imaging.pairs import ScanPairs, simulate_pairs
from cardiojax.imaging.phantom import Slice, generate, generate_batch, low_dose_image
from cardiojax.imaging.train import load_generator, save_generator, train

__all__ = [
    "anatomy", "baseline", "ct", "cyclegan", "dicom", "dose", "metrics", "networks", "pairs", "phantom",
    "ParallelBeam", "parallel_beam", "project", "backproject", "fbp", "hu_to_mu", "mu_to_hu",
    "low_dose_hu", "restore_full_hu", "simulate_scan", "noise_free_scan",
    "Slice", "generate", "generate_batch", "low_dose_image", "read_dicom", "write_dicom",
    "ScanPairs", "simulate_pairs", "HUNormalizer", "ResnetGenerator", "PatchDiscriminator",
    "CycleGAN", "CycleGANConfig", "train", "save_generator", "load_generator",
    "psnr", "ssim", "mean_hu_error", "cnr", "snr", "classical_baseline", "nlm_denoise",
    "AngioParams", "Angiogram", "render_angiogram", "angiogram_volume", "render_lumen",
    "frangi", "SegmentParams", "Segmentation", "segment_lumen", "ExtractParams", "Extracted", "tree_from_mask",
    "PipelineParams", "ImageFFR", "image_ffr", "seed_index", "solve_tree_ffr",
    "dice", "cldice", "hd95", "centreline_distance",
]
