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
"""

from cardiojax.imaging import anatomy, baseline, ct, cyclegan, dicom, dose, metrics, networks, pairs, phantom
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
]
