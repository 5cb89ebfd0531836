"""Iodine dose model (exactness, inverse, gradient) and quantum noise (reproducible, σ ∝ 1/√I0, unbiased)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.imaging import ct, dose


def _image_and_pool(n: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    hu = rng.uniform(-1000.0, 1200.0, (n, n))
    c = np.arange(n) - (n - 1) / 2
    pool = c[:, None] ** 2 + (c[None, :] - 4) ** 2 <= 8**2
    hu[pool] = rng.uniform(250.0, 450.0, pool.sum())  # iodinated blood
    return jnp.asarray(hu), jnp.asarray(pool)


def test_low_dose_formula_and_untouched_background():
    hu, pool = _image_and_pool()
    f = 0.3
    low = dose.low_dose_hu(hu, pool, f)
    # outside the blood pool: bit-for-bit unchanged
    assert np.array_equal(np.asarray(low)[~np.asarray(pool)], np.asarray(hu)[~np.asarray(pool)])
    # inside: HU_unenh + f (HU_full − HU_unenh)
    u = dose.HU_BLOOD_UNENHANCED
    expected = u + f * (np.asarray(hu) - u)
    np.testing.assert_allclose(np.asarray(low)[np.asarray(pool)], expected[np.asarray(pool)], rtol=1e-14)
    # the enhancement above unenhanced blood scales by f
    enh_full = np.asarray(hu)[np.asarray(pool)] - u
    enh_low = np.asarray(low)[np.asarray(pool)] - u
    np.testing.assert_allclose(enh_low / enh_full, f, rtol=1e-12)
    assert low.dtype == hu.dtype
    assert dose.low_dose_hu(hu.astype(jnp.float32), pool, f).dtype == jnp.float32


def test_full_dose_is_identity_and_inverse():
    hu, pool = _image_and_pool(seed=1)
    np.testing.assert_array_equal(dose.low_dose_hu(hu, pool, 1.0), hu)
    for f in (0.1, 0.25, 0.5, 0.9):
        low = dose.low_dose_hu(hu, pool, f)
        back = dose.restore_full_hu(low, pool, f)
        np.testing.assert_allclose(back, hu, rtol=1e-13, atol=1e-11)
        np.testing.assert_array_equal(np.asarray(back)[~np.asarray(pool)], np.asarray(hu)[~np.asarray(pool)])


def test_partial_volume_and_image_unenhanced():
    """A float weight blends linearly; an unenhanced image is used voxel by voxel; the inverse still holds."""
    hu, pool = _image_and_pool(seed=2)
    weight = jnp.asarray(np.random.default_rng(3).uniform(0, 1, hu.shape)) * pool  # 0 outside, (0, 1) inside
    unenh = jnp.full(hu.shape, 35.0).at[10:20].set(45.0)
    f = 0.4
    low = dose.low_dose_hu(hu, weight, f, unenh)
    fully = unenh + f * (hu - unenh)
    np.testing.assert_allclose(low, (1 - weight) * hu + weight * fully, rtol=1e-13, atol=1e-11)
    np.testing.assert_allclose(dose.restore_full_hu(low, weight, f, unenh), hu, rtol=1e-13, atol=1e-11)
    # weight 1 everywhere equals the boolean mask of everything
    ones = jnp.ones(hu.shape)
    np.testing.assert_allclose(dose.low_dose_hu(hu, ones, f), dose.low_dose_hu(hu, ones > 0, f), rtol=1e-15)


def test_grad_fraction_and_image_fd():
    hu, pool = _image_and_pool(seed=4)
    weight = jnp.where(pool, 0.7, 0.0)
    target = jnp.asarray(np.random.default_rng(5).normal(100.0, 50.0, hu.shape))

    def loss(f, im):
        return jnp.sum((dose.low_dose_hu(im, weight, f) - target) ** 2 * 1e-4) + jnp.sum(
            jnp.sin(dose.restore_full_hu(im, weight, f) / 100.0)
        )

    f, eps = 0.35, 1e-6
    g_f, g_im = jax.grad(loss, argnums=(0, 1))(f, hu)
    fd_f = (loss(f + eps, hu) - loss(f - eps, hu)) / (2 * eps)
    np.testing.assert_allclose(g_f, fd_f, rtol=1e-7)
    v = jnp.asarray(np.random.default_rng(6).normal(size=hu.shape))
    eps = 1e-3  # HU
    fd_im = (loss(f, hu + eps * v) - loss(f, hu - eps * v)) / (2 * eps)
    np.testing.assert_allclose(jnp.vdot(g_im, v), fd_im, rtol=1e-6)
    # one fraction per image of a batch, as an array (B, 1, 1)
    batch = jnp.stack([hu, hu + 10.0])
    fs = jnp.array([0.5, 0.25]).reshape(2, 1, 1)
    out = dose.low_dose_hu(batch, jnp.stack([pool, pool]), fs)
    np.testing.assert_allclose(out[1], dose.low_dose_hu(hu + 10.0, pool, 0.25), rtol=1e-15)
    np.testing.assert_allclose(dose.restore_full_hu(out, jnp.stack([pool, pool]), fs), batch, rtol=1e-13)
    with pytest.raises(ValueError, match="fraction"):
        dose.low_dose_hu(batch, jnp.stack([pool, pool]), jnp.array([0.5, 0.0]).reshape(2, 1, 1))
    # vmap over a batch of fractions
    lows = jax.vmap(lambda a: dose.low_dose_hu(hu, pool, a))(jnp.array([0.2, 1.0]))
    np.testing.assert_array_equal(lows[1], hu)


@pytest.mark.parametrize("fraction", [0.0, 1.5, float("nan"), -0.2])
def test_bad_fraction(fraction):
    hu, pool = _image_and_pool()
    with pytest.raises(ValueError, match="fraction"):
        dose.low_dose_hu(hu, pool, fraction)
    with pytest.raises(ValueError, match="fraction"):
        dose.restore_full_hu(hu, pool, fraction)


def test_bad_dose_inputs():
    hu, pool = _image_and_pool()
    with pytest.raises(ValueError, match="blood_pool.*\\[0, 1\\]"):
        dose.low_dose_hu(hu, pool * 2.0, 0.5)
    with pytest.raises(ValueError, match="blood_pool.*dtype"):
        dose.low_dose_hu(hu, pool.astype(jnp.int32), 0.5)
    with pytest.raises(ValueError, match="blood_pool.*shape"):
        dose.low_dose_hu(hu, pool[:10], 0.5)
    with pytest.raises(ValueError, match="hu_full.*dtype"):
        dose.low_dose_hu(hu.astype(jnp.int32), pool, 0.5)
    with pytest.raises(ValueError, match="hu_full.*NaN"):
        dose.low_dose_hu(hu.at[0, 0].set(jnp.nan), pool, 0.5)
    with pytest.raises(ValueError, match="hu_unenhanced.*shape"):
        dose.low_dose_hu(hu, pool, 0.5, jnp.zeros((3, 3)))


# ----------------------------------------------------------------------------------------------- quantum noise

N, PIXEL = 48, 0.5e-3  # 24 mm field of view


def _water_disc():
    c = (np.arange(N) - (N - 1) / 2) * PIXEL
    r2 = c[:, None] ** 2 + c[None, :] ** 2
    hu = np.where(r2 <= (10e-3) ** 2, 0.0, -1000.0)  # water disc of radius 10 mm in air
    roi = r2 <= (6e-3) ** 2
    return jnp.asarray(hu), roi


def test_scan_reproducible_and_noise_free_reference():
    g = ct.parallel_beam(N, PIXEL)
    hu, roi = _water_disc()
    a = dose.simulate_scan(jax.random.key(0), hu, g, 1e5)
    b = dose.simulate_scan(jax.random.key(0), hu, g, 1e5)
    c = dose.simulate_scan(jax.random.key(1), hu, g, 1e5)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    ref = dose.noise_free_scan(hu, g)
    np.testing.assert_allclose(ref, ct.mu_to_hu(ct.fbp(ct.project(ct.hu_to_mu(hu), g), g)), rtol=1e-12, atol=1e-9)
    assert abs(float(ref[roi].mean())) <= 1.0  # the noise-free scanner is unbiased in water (measured −0.7 HU)
    assert dose.simulate_scan(jax.random.key(0), hu.astype(jnp.float32), g, 1e5).dtype == jnp.float32


def test_noise_scales_as_inverse_sqrt_photons_and_is_unbiased():
    """σ(I0) / σ(4·I0) ≈ 2 (σ ∝ 1/√I0) and the mean HU of water stays ≈ 0 at a realistic I0."""
    g = ct.parallel_beam(N, PIXEL)
    hu, roi = _water_disc()
    ref = np.asarray(dose.noise_free_scan(hu, g))
    keys = jax.random.split(jax.random.key(7), 3)

    def noise_std(i0):
        scans = jax.vmap(lambda k: dose.simulate_scan(k, hu, g, i0))(keys)
        return float(np.std((np.asarray(scans) - ref)[:, roi])), np.asarray(scans)[:, roi].mean()

    sd_lo, mean_lo = noise_std(2.5e4)
    sd_hi, mean_hi = noise_std(1e5)
    assert 1.7 <= sd_lo / sd_hi <= 2.3  # within 15 % of 2
    assert 10.0 < sd_hi < 60.0  # measured 26.3 HU at I0 = 1e5, 0.5 mm pixels (55.6 HU at 2.5e4: ratio 2.11)
    assert abs(mean_hi) <= 3.0  # unbiased within a few HU (measured −0.5 HU)
    assert abs(mean_lo) <= 5.0


def test_scan_bad_inputs():
    g = ct.parallel_beam(16, 1e-3)
    hu = jnp.zeros((16, 16))
    with pytest.raises(ValueError, match="photons_per_ray"):
        dose.simulate_scan(jax.random.key(0), hu, g, 0.0)
    with pytest.raises(ValueError, match="photons_per_ray"):
        dose.simulate_scan(jax.random.key(0), hu, g, float("nan"))
    with pytest.raises(ValueError, match="filter"):
        dose.noise_free_scan(hu, g, filter="cosine")
    with pytest.raises(ValueError, match="hu.*\\(16, 16\\)"):
        dose.noise_free_scan(jnp.zeros((8, 8)), g)
