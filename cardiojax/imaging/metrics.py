"""Image-quality metrics for CT slices in HU: PSNR, SSIM, ROI mean-HU error, CNR and SNR.

Every metric takes images of shape ``(..., H, W)`` (any leading batch axes) and returns one value per image
(shape ``(...)``); all are pure `jnp` functions, so they work under `jit`, `vmap` and `grad`.

Data range convention (PSNR, SSIM): ``data_range`` is either a number (HU) — the peak-to-peak range the metric
is normalised by, used as is on unclipped images — or a display window ``(low, high)`` in HU: both images are
then clipped to the window and the range is ``high − low``. The CTA default used in this package's studies is
the window (−160, 240) HU (width 400 HU, level 40 HU), which covers fat, soft tissue and low-dose to
full-dose iodinated blood; clipping makes the metric ignore bone and lung detail.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.imaging._checks import check_image

CTA_WINDOW = (-160.0, 240.0)  # HU (low, high): the default display window for CTA metrics


def _pair(x, ref):
    x = check_image("x", x, ndim=(2, 3, 4), square=False)
    ref = check_image("ref", ref, ndim=(2, 3, 4), square=False)
    if x.shape[-2:] != ref.shape[-2:]:
        raise ValueError(f"ref: shape {tuple(ref.shape)} does not match x's image shape {tuple(x.shape[-2:])}")
    return x, ref


def _range(x, ref, data_range):
    """Apply the data-range convention: clip to a (low, high) window, or use a positive number as is."""
    if isinstance(data_range, (tuple, list)):
        if len(data_range) != 2 or not float(data_range[1]) > float(data_range[0]):
            raise ValueError(f"data_range = {data_range!r}; expected a window (low, high) HU with high > low")
        low, high = float(data_range[0]), float(data_range[1])
        return jnp.clip(x, low, high), jnp.clip(ref, low, high), high - low
    if not float(data_range) > 0:
        raise ValueError(f"data_range = {data_range!r}; expected a positive number (HU) or a window (low, high)")
    return x, ref, float(data_range)


def psnr(x, ref, data_range=CTA_WINDOW) -> jax.Array:
    """Peak signal-to-noise ratio in dB: ``10 log10(L² / MSE)`` over the last two axes.

    ``x``, ``ref``: ``(..., H, W)`` HU; ``data_range``: L in HU, or a window (low, high) HU (see module doc).
    Identical images give ``+inf``.
    """
    x, ref = _pair(x, ref)
    x, ref, L = _range(x, ref, data_range)
    mse = jnp.mean((x - ref) ** 2, axis=(-2, -1))
    return 10.0 * jnp.log10(L**2 / mse)


def _gaussian_taps(sigma: float, truncate: float, dtype) -> jax.Array:
    radius = int(truncate * sigma + 0.5)
    t = jnp.arange(-radius, radius + 1, dtype=dtype)
    g = jnp.exp(-0.5 * (t / sigma) ** 2)
    return g / jnp.sum(g)


def _filter_valid(img: jax.Array, taps: jax.Array) -> jax.Array:
    """Separable 'valid' correlation of ``(..., H, W)`` with ``taps`` along both image axes."""
    lead = img.shape[:-2]
    x = img.reshape((-1, 1) + img.shape[-2:])
    k = taps.astype(img.dtype)
    dn = jax.lax.conv_dimension_numbers(x.shape, (1, 1, k.size, 1), ("NCHW", "OIHW", "NCHW"))
    hp = jax.lax.Precision.HIGHEST
    x = jax.lax.conv_general_dilated(x, k.reshape(1, 1, -1, 1), (1, 1), "VALID", dimension_numbers=dn, precision=hp)
    x = jax.lax.conv_general_dilated(x, k.reshape(1, 1, 1, -1), (1, 1), "VALID", dimension_numbers=dn, precision=hp)
    return x.reshape(lead + x.shape[-2:])


def ssim(x, ref, data_range=CTA_WINDOW, sigma: float = 1.5, window: int | None = None, k1=0.01, k2=0.03):
    """Mean structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) over the last two axes.

    Local statistics use an 11×11 Gaussian window (``sigma`` = 1.5 px, truncated at 3.5 σ) or, with
    ``window`` = w, a uniform w×w window; they are computed only where the window fits inside the image
    ('valid', no padding) with population (biased) variances, and the SSIM map
    ``(2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))``, ``C1 = (k1 L)²``, ``C2 = (k2 L)²``,
    is averaged. ``data_range``: L in HU or a window (low, high) HU (see module doc). Returns ``(...)``.
    """
    x, ref = _pair(x, ref)
    x, ref, L = _range(x, ref, data_range)
    if window is None:
        taps = _gaussian_taps(sigma, 3.5, x.dtype)
    else:
        if not isinstance(window, int) or window < 2:
            raise ValueError(f"window = {window!r}; expected None (Gaussian) or an int ≥ 2 (uniform window, px)")
        taps = jnp.full((window,), 1.0 / window, x.dtype)
    if min(x.shape[-2:]) < taps.size:
        raise ValueError(f"x: image shape {tuple(x.shape[-2:])} is smaller than the {taps.size}-pixel SSIM window")
    x, ref = jnp.broadcast_arrays(x, ref)
    mx, my = _filter_valid(x, taps), _filter_valid(ref, taps)
    sxx = _filter_valid(x * x, taps) - mx * mx
    syy = _filter_valid(ref * ref, taps) - my * my
    sxy = _filter_valid(x * ref, taps) - mx * my
    c1, c2 = (k1 * L) ** 2, (k2 * L) ** 2
    smap = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return jnp.mean(smap, axis=(-2, -1))


def _roi_stats(x, roi):
    """Weighted mean and (population) standard deviation of ``x`` over ``roi`` (bool or weights)."""
    w = jnp.asarray(roi).astype(x.dtype)
    if w.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"roi: shape {tuple(w.shape)} does not match the image shape {tuple(x.shape[-2:])}")
    n = jnp.sum(w, axis=(-2, -1))
    mean = jnp.sum(w * x, axis=(-2, -1)) / n
    var = jnp.sum(w * (x - mean[..., None, None]) ** 2, axis=(-2, -1)) / n
    return mean, jnp.sqrt(var)


def mean_hu_error(x, ref, roi) -> jax.Array:
    """Signed error of the ROI mean: ``mean_roi(x) − mean_roi(ref)`` in HU (``roi``: bool or weights)."""
    x, ref = _pair(x, ref)
    return _roi_stats(x, roi)[0] - _roi_stats(ref, roi)[0]


def cnr(x, roi, background) -> jax.Array:
    """Contrast-to-noise ratio ``(μ_roi − μ_bg) / σ_bg`` (signed; σ the population SD of the background)."""
    x = check_image("x", x, ndim=(2, 3, 4), square=False)
    mu_roi, _ = _roi_stats(x, roi)
    mu_bg, sd_bg = _roi_stats(x, background)
    return (mu_roi - mu_bg) / sd_bg


def snr(x, roi) -> jax.Array:
    """Signal-to-noise ratio ``μ_roi / σ_roi`` (σ the population SD over the ROI)."""
    x = check_image("x", x, ndim=(2, 3, 4), square=False)
    mu, sd = _roi_stats(x, roi)
    return mu / sd
