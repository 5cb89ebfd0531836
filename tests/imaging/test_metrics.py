"""Image metrics against exact formulas and an independent SciPy SSIM."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, uniform_filter

from cardiojax.imaging import metrics as me


def _ssim_reference(x, y, L):
    """Wang et al. 2004 with SciPy: Gaussian σ = 1.5 truncated at 3.5 σ (11 taps), cropped to the valid part."""
    filt = lambda a: gaussian_filter(a, 1.5, truncate=3.5, mode="reflect")  # noqa: E731
    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    s = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s[5:-5, 5:-5].mean()


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:48, :48]
    ref = np.where((yy - 24) ** 2 + (xx - 20) ** 2 < 100, 300.0, 40.0) + np.where(xx > 36, -100.0, 0.0)
    return ref, ref + rng.normal(0, 20, ref.shape), ref + rng.normal(0, 60, ref.shape)


def test_psnr_exact_and_identical():
    rng = np.random.default_rng(1)
    ref = rng.uniform(-100, 200, (3, 16, 16))
    err = rng.normal(0, 1, ref.shape)
    err *= 10.0 / np.sqrt(np.mean(err**2, axis=(1, 2), keepdims=True))  # MSE exactly 100 HU² per image
    out = me.psnr(ref + err, ref, data_range=400.0)
    np.testing.assert_allclose(out, 10 * np.log10(400.0**2 / 100.0), rtol=1e-12)
    assert out.shape == (3,)
    assert float(me.psnr(ref[0], ref[0], 400.0)) == np.inf
    # window convention: both images clipped to (low, high), range = high − low
    a = np.full((4, 4), 500.0)
    b = np.full((4, 4), 200.0)
    np.testing.assert_allclose(me.psnr(a, b, (-160.0, 240.0)), 10 * np.log10(400.0**2 / 40.0**2), rtol=1e-12)


def test_ssim_matches_scipy_reference(images):
    ref, noisy, _ = images
    got = float(me.ssim(noisy, ref, data_range=400.0))
    want = _ssim_reference(noisy, ref, 400.0)
    assert abs(got - want) < 1e-6
    got7 = float(me.ssim(noisy, ref, data_range=400.0, window=7))
    f = lambda a: uniform_filter(a, 7, mode="reflect")  # noqa: E731
    mx, my = f(noisy), f(ref)
    sxx, syy, sxy = f(noisy**2) - mx**2, f(ref**2) - my**2, f(noisy * ref) - mx * my
    c1, c2 = 4.0**2, 12.0**2
    smap = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    assert abs(got7 - smap[3:-3, 3:-3].mean()) < 1e-6


def test_ssim_identity_noise_order_batch_and_grad(images):
    ref, noisy, noisier = images
    np.testing.assert_allclose(me.ssim(ref, ref, 400.0), 1.0, atol=1e-12)
    s = np.asarray(me.ssim(np.stack([ref, noisy, noisier]), ref, 400.0))
    assert s.shape == (3,) and s[0] > s[1] > s[2] and s[2] < 0.9
    # float32 keeps its dtype; jit and grad (against central differences in float64)
    assert me.ssim(noisy.astype(np.float32), ref.astype(np.float32), 400.0).dtype == jnp.float32
    d = np.random.default_rng(2).normal(size=ref.shape)
    g = lambda t: me.ssim(jnp.asarray(noisy) + t * d, ref, 400.0)  # noqa: E731
    fd = (g(1e-4) - g(-1e-4)) / 2e-4
    np.testing.assert_allclose(jax.grad(g)(0.0), fd, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(me.ssim, static_argnums=2)(noisy, ref, 400.0), s[1], rtol=1e-12)


def test_roi_metrics_on_two_regions():
    """Two flat regions with known ±a checkerboard noise: exact means and SDs."""
    img = np.zeros((8, 8))
    roi = np.zeros((8, 8), bool)
    roi[:, :4] = True
    checker = np.where((np.arange(8)[:, None] + np.arange(8)) % 2 == 0, 1.0, -1.0)
    img[roi] = 300.0 + 6.0 * checker[roi]  # μ = 300, σ = 6 (population)
    img[~roi] = 50.0 + 10.0 * checker[~roi]  # μ = 50, σ = 10
    np.testing.assert_allclose(me.cnr(img, roi, ~roi), (300.0 - 50.0) / 10.0, rtol=1e-12)
    np.testing.assert_allclose(me.snr(img, roi), 300.0 / 6.0, rtol=1e-12)
    ref = np.where(roi, 280.0, 50.0)
    np.testing.assert_allclose(me.mean_hu_error(img, ref, roi), 20.0, rtol=1e-12)
    np.testing.assert_allclose(me.mean_hu_error(ref, img, roi), -20.0, rtol=1e-12)
    batch = np.stack([img, img + 5.0])
    np.testing.assert_allclose(me.mean_hu_error(batch, np.stack([ref, ref]), roi), [20.0, 25.0], rtol=1e-12)
    np.testing.assert_allclose(me.snr(batch, roi), [300.0 / 6.0, 305.0 / 6.0], rtol=1e-12)


def test_bad_inputs():
    a = np.zeros((8, 8))
    with pytest.raises(ValueError, match="data_range"):
        me.psnr(a, a, data_range=0.0)
    with pytest.raises(ValueError, match="data_range"):
        me.ssim(a + 1, a, data_range=(240.0, -160.0))
    with pytest.raises(ValueError, match="ref"):
        me.psnr(a, np.zeros((8, 9)), 400.0)
    with pytest.raises(ValueError, match="x"):
        me.psnr(np.zeros((8, 8), np.int32), a, 400.0)
    with pytest.raises(ValueError, match="window"):
        me.ssim(a, a, 400.0)  # 8 px < 11-px window
    with pytest.raises(ValueError, match="roi"):
        me.snr(a, np.ones((4, 4), bool))
