"""Iodine contrast-dose model and CT quantum noise.

Iodine dose. The enhancement of blood above its unenhanced value is proportional to the iodine
concentration, so giving a fraction ``f`` of the contrast dose scales it by ``f`` (linear-dose model):
``HU_low = HU_unenhanced + f·(HU_full − HU_unenhanced)`` in blood; tissue without iodine is unchanged.
With a partial-volume weight ``w ∈ [0, 1]`` (the blood fraction of the voxel) the two are blended linearly:
``HU_low = HU_full + w·(f − 1)·(HU_full − HU_unenhanced)``. `restore_full_hu` inverts it exactly.

Quantum noise (`simulate_scan`). HU → μ (`hu_to_mu`) → line integrals ``p`` (`project`) → expected counts
``I0·exp(−p)`` per detector bin → Poisson counts (clamped to ≥ 1 so the log is finite) → ``p̂ = −log(counts/I0)``
→ `fbp` → HU. The dose knob is ``photons_per_ray`` = I0, the unattenuated photons per detector bin per view:
the variance of ``p̂`` is ≈ ``exp(p)/I0``, so the image noise σ ∝ 1/√I0 (and the tube current–time product is
∝ I0). `noise_free_scan` is the same pipeline without the Poisson step (the scanner's blur, no noise).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.imaging._checks import check_fraction, check_image
from cardiojax.imaging.ct import ParallelBeam, _check_filter, _check_image_for, _fbp, _project, hu_to_mu, mu_to_hu

HU_BLOOD_UNENHANCED = 40.0
"""Unenhanced (no iodine) blood, HU: about 35–45 HU at a normal haematocrit; 40 HU is used by default."""

PHOTONS_PER_RAY = 1.0e5
"""Default I0, unattenuated photons per detector bin per view (a routine-dose order of magnitude)."""


_MAX_PHOTONS = 1.0e9  # Poisson counts are drawn as int32


def _check_dose_inputs(hu, blood_pool, fraction, hu_unenhanced, name: str):
    hu = check_image(name, hu, ndim=(2, 3), square=False)
    if not hasattr(blood_pool, "shape") or not hasattr(blood_pool, "dtype"):
        raise ValueError(f"blood_pool: got {type(blood_pool).__name__}; expected a boolean mask or a float array")
    dtype = np.dtype(blood_pool.dtype)
    if dtype == np.bool_:
        weight = jnp.asarray(blood_pool)
    elif np.issubdtype(dtype, np.floating):
        weight = jnp.asarray(blood_pool)
        if not isinstance(weight, jax.core.Tracer):
            lo, hi = (float(jnp.min(weight)), float(jnp.max(weight))) if weight.size else (0.0, 0.0)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0.0 and hi <= 1.0):
                raise ValueError(f"blood_pool: values in [{lo}, {hi}]; expected a weight in [0, 1] (or a boolean mask)")
    else:
        raise ValueError(f"blood_pool: dtype {dtype}; expected a boolean mask or a float weight in [0, 1]")
    try:
        jnp.broadcast_shapes(weight.shape, hu.shape)
        if jnp.broadcast_shapes(weight.shape, hu.shape) != hu.shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"blood_pool: shape {tuple(weight.shape)}; expected the shape of {name} {tuple(hu.shape)}"
        ) from None
    if np.ndim(fraction) == 0:
        if not isinstance(fraction, jax.core.Tracer):
            check_fraction("fraction", fraction)
    else:  # one fraction per sample, e.g. shape (B, 1, 1) against (B, H, W)
        try:
            ok = jnp.broadcast_shapes(np.shape(fraction), hu.shape) == hu.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"fraction: shape {np.shape(fraction)}; expected a scalar or broadcastable to {name}")
        if not isinstance(fraction, jax.core.Tracer):
            values = np.asarray(fraction, dtype=float)
            if not (np.all(np.isfinite(values)) and np.all(values > 0) and np.all(values <= 1)):
                raise ValueError(f"fraction: values {values.ravel()[:8]}; expected numbers in (0, 1]")
    unenh = jnp.asarray(hu_unenhanced)
    if not np.issubdtype(np.dtype(unenh.dtype), np.floating) and not np.issubdtype(np.dtype(unenh.dtype), np.integer):
        raise ValueError(f"hu_unenhanced: dtype {unenh.dtype}; expected a real scalar or image in HU")
    if unenh.ndim:
        try:
            ok = jnp.broadcast_shapes(unenh.shape, hu.shape) == hu.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"hu_unenhanced: shape {tuple(unenh.shape)}; expected a scalar or the shape of {name}")
    if not isinstance(unenh, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(unenh))):
        raise ValueError("hu_unenhanced: NaN or infinite value(s); expected finite HU")
    return hu, weight, unenh.astype(hu.dtype)


def low_dose_hu(hu_full, blood_pool, fraction, hu_unenhanced=HU_BLOOD_UNENHANCED) -> jax.Array:
    """Image at a fraction ``f`` of the iodine dose, from the full-dose image.

    Args:
        hu_full: ``(N, N)`` (or ``(B, H, W)``) full-dose image, HU, floating.
        blood_pool: boolean mask of the iodinated blood pool, or a float partial-volume weight in [0, 1];
            same shape as ``hu_full`` (or broadcastable to it).
        fraction: ``f`` in (0, 1], the iodine dose relative to the full dose (dimensionless); a scalar or an
            array broadcastable to ``hu_full`` (e.g. ``(B, 1, 1)``: one fraction per image).
        hu_unenhanced: HU of blood without iodine, scalar or an image of ``hu_full``'s shape
            (default `HU_BLOOD_UNENHANCED`).

    Returns:
        Same shape and dtype as ``hu_full``, HU: ``HU_full + w·(f − 1)·(HU_full − HU_unenhanced)`` where
        ``w > 0`` and exactly ``hu_full`` elsewhere. Differentiable in ``hu_full`` and ``fraction``.
    """
    hu, weight, unenh = _check_dose_inputs(hu_full, blood_pool, fraction, hu_unenhanced, "hu_full")
    w = weight.astype(hu.dtype)
    f = jnp.asarray(fraction, hu.dtype)
    return jnp.where(weight > 0, hu + w * (f - 1) * (hu - unenh), hu)


def restore_full_hu(hu_low, blood_pool, fraction, hu_unenhanced=HU_BLOOD_UNENHANCED) -> jax.Array:
    """The exact inverse of `low_dose_hu`: the full-dose image from the low-dose one.

    Args:
        hu_low: low-dose image, HU, same layout as in `low_dose_hu`.
        blood_pool, fraction, hu_unenhanced: as in `low_dose_hu`.

    Returns:
        ``(HU_low + w(f − 1)·HU_unenhanced) / (1 − w(1 − f))`` where ``w > 0``, exactly ``hu_low`` elsewhere, HU.
        For ``w = 1`` this is ``HU_unenhanced + (HU_low − HU_unenhanced)/f``.
    """
    hu, weight, unenh = _check_dose_inputs(hu_low, blood_pool, fraction, hu_unenhanced, "hu_low")
    w = weight.astype(hu.dtype)
    f = jnp.asarray(fraction, hu.dtype)
    return jnp.where(weight > 0, (hu + w * (f - 1) * unenh) / (1 - w * (1 - f)), hu)


def _check_photons(photons_per_ray) -> None:
    if isinstance(photons_per_ray, jax.core.Tracer):
        return
    value = np.asarray(photons_per_ray, dtype=float)
    if value.ndim != 0 or not (np.isfinite(value) and 1.0 <= value <= _MAX_PHOTONS):
        raise ValueError(
            f"photons_per_ray = {photons_per_ray!r}; expected a scalar in [1, {_MAX_PHOTONS:.0e}] (photons per bin)"
        )


def noise_free_scan(hu, geom: ParallelBeam, filter: str = "ramp") -> jax.Array:
    """The scanner without quantum noise: ``mu_to_hu(fbp(project(hu_to_mu(hu))))``.

    Args:
        hu: ``(N, N)`` image, HU (N = ``geom.n_pixels``; ``geom.pixel_size`` in m sets the path lengths).
        geom: the `ParallelBeam` geometry.
        filter: FBP filter, "ramp" or "shepp-logan".

    Returns:
        ``(N, N)`` reconstructed image, HU, same dtype; carries the projection/FBP blur but no noise.
        Differentiable in ``hu``. (``−log(I0·exp(−p)/I0) = p``, so the log/exp pair is skipped.)
    """
    _check_filter(filter)
    hu = _check_image_for("hu", hu, geom)
    return mu_to_hu(_fbp(_project(hu_to_mu(hu), geom), geom, filter))


def simulate_scan(key, hu, geom: ParallelBeam, photons_per_ray=PHOTONS_PER_RAY, filter: str = "ramp") -> jax.Array:
    """A noisy CT scan of an HU image: projection, Poisson photon counts, log, FBP.

    Args:
        key: a JAX PRNG key (the same key gives the same scan).
        hu: ``(N, N)`` image, HU.
        geom: the `ParallelBeam` geometry (``pixel_size`` in m; μ of water is `MU_WATER` 1/m).
        photons_per_ray: I0, unattenuated photons per detector bin per view (the dose knob; σ ∝ 1/√I0).
        filter: FBP filter, "ramp" or "shepp-logan".

    Returns:
        ``(N, N)`` noisy reconstruction, HU, same dtype as ``hu``. Not differentiable through the Poisson draw
        (use `noise_free_scan` inside losses).
    """
    _check_filter(filter)
    _check_photons(photons_per_ray)
    hu = _check_image_for("hu", hu, geom)
    dtype = hu.dtype
    p = _project(hu_to_mu(hu), geom)
    i0 = jnp.asarray(photons_per_ray, dtype)
    expected = i0 * jnp.exp(-p)
    counts = jax.random.poisson(key, expected, dtype=jnp.int32).astype(dtype)
    p_hat = -jnp.log(jnp.maximum(counts, 1) / i0)
    return mu_to_hu(_fbp(p_hat, geom, filter))
