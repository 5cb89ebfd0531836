"""Simulated scan pairs for contrast-dose restoration: the same anatomy at a low and the full iodine dose.

For every slice (synthetic from `phantom` or real from `anatomy`) and a dose fraction f:

* ``low``: the slice at dose f (`low_dose_image`: HU_u + f·(HU_full − HU_u) in the blood pool) scanned with
  quantum noise (`simulate_scan`: projection, Poisson counts at ``photons_per_ray``, FBP) — the network input;
* ``full``: the full-dose slice scanned with independent noise — what a routine full-dose scan gives, the
  training target (paired or unpaired);
* ``reference``: the full-dose slice through the same scanner without noise (`noise_free_scan`: the same blur,
  no noise) — the ground truth the study evaluates against.

All images are ``(B, N, N)`` HU. `simulate_pairs` maps over slices in chunks under one `jit`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from cardiojax.imaging._checks import check_fraction
from cardiojax.imaging.ct import ParallelBeam
from cardiojax.imaging.dose import PHOTONS_PER_RAY, noise_free_scan, simulate_scan
from cardiojax.imaging.phantom import Slice, low_dose_image


class ScanPairs(NamedTuple):
    """Simulated scans of B slices at one dose fraction (HU images ``(B, N, N)``).

    Attributes:
      low: noisy scan at dose fraction ``fraction`` (network input, domain A).
      full: noisy scan at the full dose (training target, domain B).
      reference: noise-free scan at the full dose (evaluation reference).
      blood_pool: ``(B, N, N)`` iodinated fraction of each pixel in [0, 1].
      aorta: ``(B, N, N)`` bool, aortic lumen interior (ROI for mean HU, CNR, SNR).
      fraction: ``(B,)`` the dose fraction f of ``low``.
    """

    low: jax.Array
    full: jax.Array
    reference: jax.Array
    blood_pool: jax.Array
    aorta: jax.Array
    fraction: jax.Array


@functools.partial(jax.jit, static_argnames=("geom", "filter", "chunk"))
def _simulate(keys, slices: Slice, fraction, geom, photons, filter, chunk):
    def one(inputs):
        key, s = inputs
        k_low, k_full = jax.random.split(key)
        low = simulate_scan(k_low, low_dose_image(s, fraction), geom, photons, filter)
        full = simulate_scan(k_full, s.hu_full, geom, photons, filter)
        return low, full, noise_free_scan(s.hu_full, geom, filter)

    return jax.lax.map(one, (keys, slices), batch_size=chunk)


def simulate_pairs(key: jax.Array, slices: Slice, fraction: float, geom: ParallelBeam,
                   photons_per_ray: float = PHOTONS_PER_RAY, filter: str = "ramp", chunk: int = 8) -> ScanPairs:
    """Scan a batch of slices (``Slice`` with ``(B, N, N)`` fields) at dose ``fraction`` and at the full dose.

    Args:
        key: PRNG key for the quantum noise (independent draws for every slice and scan).
        slices: a batch of slices, N = ``geom.n_pixels``.
        fraction: iodine dose fraction f in (0, 1].
        geom: the parallel-beam geometry (``pixel_size`` m).
        photons_per_ray: I0 photons per detector bin (noise σ ∝ 1/√I0).
        filter: FBP filter, "ramp" or "shepp-logan".
        chunk: slices reconstructed at once (memory bound).
    """
    f = check_fraction("fraction", fraction)
    if slices.hu_full.ndim != 3 or slices.hu_full.shape[1:] != (geom.n_pixels, geom.n_pixels):
        raise ValueError(f"slices.hu_full: shape {tuple(slices.hu_full.shape)}; expected (B, {geom.n_pixels}, "
                         f"{geom.n_pixels}) for this geometry")
    n = slices.hu_full.shape[0]
    dtype = slices.hu_full.dtype
    keys = jax.random.split(key, n)
    low, full, ref = _simulate(keys, slices, jnp.asarray(f, dtype), geom, jnp.asarray(photons_per_ray, dtype),
                               filter, max(1, int(chunk)))
    return ScanPairs(low, full, ref, slices.blood_pool.astype(dtype), slices.aorta,
                     jnp.full((n,), f, dtype))


def concat_pairs(pairs: list[ScanPairs]) -> ScanPairs:
    """Concatenate several `ScanPairs` along the batch axis."""
    return ScanPairs(*(jnp.concatenate(fields) for fields in zip(*pairs)))
