"""CycleGAN: architecture against the reference, losses on hand-made inputs, pool, training, checkpoints."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from cardiojax.imaging.cyclegan import (
    CycleGAN,
    CycleGANConfig,
    ImagePool,
    l1,
    lsgan_loss,
    outside_enhancement_loss,
    pool_query,
    resimulation_loss,
)
from cardiojax.imaging.networks import (
    DownConv,
    HUNormalizer,
    PatchDiscriminator,
    ResnetGenerator,
    UpConv,
    count_params,
    instance_norm,
)
from cardiojax.imaging.pairs import ScanPairs
from cardiojax.imaging.train import load_generator, sample_batch, save_generator, train

TINY = dict(ngf=4, ndf=4, n_blocks=1, pool_size=3, steps_constant=50, steps_decay=50)


def test_parameter_counts_match_the_reference_architecture():
    # pytorch-CycleGAN-and-pix2pix, input_nc = output_nc = 1, ngf = ndf = 64, 9 blocks, 3-layer PatchGAN
    # (counted with torch 2.13 by benchmarks/_torch_cyclegan.py: 11,365,633 and 2,762,689)
    assert count_params(ResnetGenerator(64, 9, rngs=nnx.Rngs(0))) == 11_365_633
    assert count_params(PatchDiscriminator(64, 3, rngs=nnx.Rngs(0))) == 2_762_689


def test_patchgan_receptive_field_is_70_pixels():
    d = PatchDiscriminator(2, 3, rngs=nnx.Rngs(0))
    x = jnp.ones((1, 128, 128, 1), jnp.float32)
    out_shape = d(x).shape
    assert out_shape == (1, 14, 14, 1)
    # the input pixels one output pixel depends on (instance norm couples everything, so linearise without it:
    # the support of the gradient through the convolutions alone is the receptive field)
    g = jax.grad(lambda x: _conv_only(d, x)[0, 7, 7, 0])(x)
    rows = np.nonzero(np.abs(np.asarray(g[0, :, :, 0])).sum(1))[0]
    assert rows.max() - rows.min() + 1 == 70


def _conv_only(d: PatchDiscriminator, x):
    h = d.first(x)
    for conv in d.mid:
        h = conv(h)
    return d.out(d.last_norm(h))


def test_subpixel_transposed_conv_equals_dilated_form():
    up = UpConv(3, 5, rngs=nnx.Rngs(1))
    up.bias[...] = jnp.arange(5.0)
    x = jax.random.normal(jax.random.key(0), (2, 6, 7, 3))
    y = up(x)
    assert y.shape == (2, 12, 14, 5)
    np.testing.assert_allclose(y, up.dilated(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k, size", [(3, 8), (4, 8), (3, 7), (4, 7)])
def test_space_to_depth_strided_conv_equals_strided_form(k, size):
    down = DownConv(3, 5, k, 1, rngs=nnx.Rngs(2))
    down.bias[...] = jnp.arange(5.0)
    x = jax.random.normal(jax.random.key(0), (2, size, size + 2, 3))
    y = down(x)
    assert y.shape == (2, (size + 2 - k) // 2 + 1, (size + 4 - k) // 2 + 1, 5)
    np.testing.assert_allclose(y, down.strided(x), rtol=1e-12, atol=1e-12)
    gy = jax.random.normal(jax.random.key(1), y.shape)
    g_fast = jax.grad(lambda x: jnp.sum(down(x) * gy))(x)
    np.testing.assert_allclose(g_fast, jax.grad(lambda x: jnp.sum(down.strided(x) * gy))(x), rtol=1e-12, atol=1e-12)


def test_instance_norm_moments_and_hand_written_gradient():
    x = 3.0 + 2.0 * jax.random.normal(jax.random.key(0), (2, 6, 5, 3))
    y = instance_norm(x)
    np.testing.assert_allclose(jnp.mean(y, axis=(1, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(jnp.mean(y**2, axis=(1, 2)), 1.0 / (1.0 + 1e-5 / jnp.var(x, axis=(1, 2))), rtol=1e-12)

    def autodiff_norm(x):  # the textbook form, differentiated by JAX
        mean = jnp.mean(x, axis=(1, 2), keepdims=True)
        return (x - mean) / jnp.sqrt(jnp.mean((x - mean) ** 2, axis=(1, 2), keepdims=True) + 1e-5)

    w = jax.random.normal(jax.random.key(1), x.shape)
    np.testing.assert_allclose(jax.grad(lambda x: jnp.sum(jnp.sin(instance_norm(x)) * w))(x),
                               jax.grad(lambda x: jnp.sum(jnp.sin(autodiff_norm(x)) * w))(x), rtol=1e-10, atol=1e-12)


def test_generator_shapes_residual_and_errors():
    g = ResnetGenerator(4, 1, residual=True, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (1, 16, 20, 1))
    assert g(x).shape == x.shape
    with pytest.raises(ValueError, match="multiples of 4"):
        g(jnp.zeros((1, 18, 20, 1)))
    with pytest.raises(ValueError, match="ngf"):
        ResnetGenerator(0, 1, rngs=nnx.Rngs(0))


def test_dose_head_is_the_dose_model_with_a_bounded_correction():
    g = ResnetGenerator(4, 1, dose_gain=4.0, dose_origin=-0.5, correction_max=0.05, rngs=nnx.Rngs(0))
    g.head.kernel[...] = jnp.zeros_like(g.head.kernel[...])
    g.head.bias[...] = jnp.array([30.0, 50.0], g.head.bias.dtype)  # mask → 1, correction far beyond its bound
    x = jax.random.uniform(jax.random.key(0), (1, 16, 16, 1), minval=-1.0, maxval=1.0)
    out, logits, _ = g.dose_parts(x)
    np.testing.assert_allclose(logits, 30.0)
    # mask 1: the exact inverse dose model x_u + (x − x_u)/f with 1/f − 1 = 4, plus the saturated correction
    np.testing.assert_allclose(out, -0.5 + 5.0 * (x + 0.5) + 0.05, rtol=1e-6, atol=1e-6)
    g.head.bias[...] = jnp.array([30.0, -50.0], g.head.bias.dtype)
    np.testing.assert_allclose(g(x), -0.5 + 5.0 * (x + 0.5) - 0.05, rtol=1e-6, atol=1e-6)
    # HU-window indicators: extra head inputs; a mask read off the 0.1 window alone is a soft threshold of x
    gw = ResnetGenerator(4, 1, dose_gain=4.0, window_levels=(-0.2, 0.1), window_width=0.01, rngs=nnx.Rngs(0))
    assert gw.head.kernel.shape == (7, 7, 4 + 1 + 2, 2)
    kernel = jnp.zeros_like(gw.head.kernel[...]).at[3, 3, 6, 0].set(40.0)
    gw.head.kernel[...] = kernel
    gw.head.bias[...] = jnp.array([-20.0, 0.0], gw.head.bias.dtype)
    _, logits, _ = gw.dose_parts(x)
    np.testing.assert_array_equal(np.asarray(logits) > 0, np.asarray(x) > 0.1)
    with pytest.raises(ValueError, match="correction_max"):
        ResnetGenerator(4, 1, dose_gain=4.0, correction_max=0.0, rngs=nnx.Rngs(0))


def test_hu_normalizer_is_an_exact_inverse():
    norm = HUNormalizer()
    hu = jnp.array([-3000.0, -1024.0, 0.0, 40.0, 1536.0, 4000.0])
    np.testing.assert_allclose(norm.to_hu(norm.to_net(hu)), hu, rtol=0, atol=1e-10)
    np.testing.assert_allclose(norm.to_net(jnp.array([-1024.0, 1536.0])), [-1.0, 1.0])
    with pytest.raises(ValueError, match="high"):
        HUNormalizer(10.0, 0.0)


def test_losses_on_hand_made_inputs():
    assert float(lsgan_loss(jnp.full((1, 4, 4, 1), 0.5), 1.0)) == pytest.approx(0.25)
    assert float(lsgan_loss(jnp.ones((1, 4, 4, 1)), 1.0)) == 0.0
    assert float(l1(jnp.zeros(4), jnp.array([1.0, -1.0, 2.0, 0.0]))) == pytest.approx(1.0)
    pool = jnp.zeros((1, 16, 16, 1)).at[:, 4:12, 4:12].set(1.0)
    low = jnp.zeros((1, 16, 16, 1))
    inside = low + 0.3 * pool  # enhancement confined to the blood pool
    # with no blur the term is the mean over outside pixels of relu(|change| − margin)
    assert float(outside_enhancement_loss(inside, low, pool, 0.0, 0.0)) == 0.0
    everywhere = low + 0.3
    expected = 0.3 * float(jnp.mean(1 - pool))
    assert float(outside_enhancement_loss(everywhere, low, pool, 0.0, 0.0)) == pytest.approx(expected, rel=1e-6)
    assert float(outside_enhancement_loss(everywhere, low, pool, 0.31, 0.0)) == 0.0  # within the margin
    # a strongly enhanced small vessel does not leak into the penalised area through the blur
    vessel = jnp.zeros((1, 16, 16, 1)).at[:, 7:9, 7:9].set(1.0)
    assert float(outside_enhancement_loss(low + 0.5 * vessel, low, vessel, 0.0, 1.5)) == 0.0


def test_resimulation_loss_vanishes_on_the_exact_full_dose_image():
    norm = HUNormalizer()
    f, u = 0.25, 40.0
    pool = jnp.zeros((2, 16, 16, 1)).at[:, 5:11, 5:11].set(1.0)
    full_hu = 50.0 + 300.0 * pool  # soft tissue 50 HU, blood 40 + 310 HU at full dose
    low_hu = jnp.where(pool > 0, u + f * (full_hu - u), full_hu)
    low, full = norm.to_net(low_hu), norm.to_net(full_hu)
    fraction = jnp.full((2,), f)
    assert float(resimulation_loss(full, low, pool, fraction, norm, u, 1.5)) < 1e-7
    # the un-restored input re-dosed is too dark in the blood pool: a positive loss
    expected = float(jnp.mean(jnp.abs(pool * (f - 1) * (low_hu - u)))) / norm.scale
    assert float(resimulation_loss(low, low, pool, fraction, norm, u, 0.0)) == pytest.approx(expected, rel=1e-5)


def test_image_pool_follows_the_reference_rule():
    size = 2
    pool = ImagePool.empty(size, (1, 1, 1))
    images = [jnp.full((1, 1, 1, 1), float(i + 1)) for i in range(12)]
    returned = []
    for i, img in enumerate(images):
        pool, out = pool_query(pool, img, jax.random.key(i), size)
        returned.append(float(out[0, 0, 0, 0]))
        assert int(pool.count) == min(i + 1, size)
    assert returned[:size] == [1.0, 2.0]  # filling: the new image comes back
    # afterwards each returned image is either the new one or one that was stored earlier
    stored_ever = set()
    for i, r in enumerate(returned[size:], start=size):
        assert r == i + 1 or r in set(range(1, i + 1))
        stored_ever.add(r)
    assert any(r != i + 1 for i, r in enumerate(returned[size:], start=size))  # some swaps happened
    assert sorted(float(v) for v in pool.images.ravel())[-1] <= 12.0
    same, out = pool_query(pool, images[0], jax.random.key(0), 0)
    assert out is images[0] and same is pool


def _toy_pairs(n=6, size=40, key=0):
    k1, k2, k3 = jax.random.split(jax.random.key(key), 3)
    pool = jnp.zeros((n, size, size)).at[:, 10:20, 12:22].set(1.0)
    base = 40.0 + 20.0 * jax.random.normal(k1, (n, size, size))
    full = base + 300.0 * pool
    low = jnp.where(pool > 0, 40.0 + 0.5 * (full - 40.0), full) + 5.0 * jax.random.normal(k2, (n, size, size))
    return ScanPairs(low, full + 5.0 * jax.random.normal(k3, (n, size, size)), full, pool, pool > 0,
                     jnp.full((n,), 0.5))


def test_sample_batch_pairs_the_same_slice_and_position():
    pairs = _toy_pairs()
    same = ScanPairs(pairs.low, pairs.low, pairs.reference, pairs.blood_pool, pairs.aorta, pairs.fraction)
    norm = HUNormalizer()
    batch = sample_batch(jax.random.key(3), same, 16, 32, 0.5, norm)
    paired = np.asarray(batch["paired"]) > 0
    assert 0 < paired.sum() < 32
    diff = np.abs(np.asarray(batch["a"] - batch["b"])).reshape(32, -1).max(1)
    assert np.all(diff[paired] == 0)
    assert np.all(diff[~paired] > 0)
    assert batch["a"].shape == (32, 16, 16, 1) and batch["fraction"].shape == (32,)


def test_pool_centred_crops_always_contain_blood_pool():
    pairs = _toy_pairs()  # blood pool rows 10–19, columns 12–21 of 40² slices
    norm = HUNormalizer()
    pool_sums = lambda fraction: np.asarray(  # noqa: E731
        sample_batch(jax.random.key(5), pairs, 12, 64, 0.5, norm, fraction)["blood_pool"]).sum(axis=(1, 2, 3))
    assert np.all(pool_sums(1.0) > 0)
    assert np.any(pool_sums(0.0) == 0)  # uniformly random crops often miss it


def test_mask_supervision_teaches_the_dose_head_the_blood_pool():
    config = CycleGANConfig(**TINY, dose_head=True, fraction=0.5, lambda_gan=0.0, lambda_cycle=0.0,
                            lambda_paired=0.0, lambda_mask=1.0, learning_rate=2e-3)
    gan = CycleGAN(config, (32, 32))
    state, history = train(gan, _toy_pairs(), 40, batch_size=2, paired_fraction=1.0, progress=False)
    assert history[0]["mask"] > 0.1  # the head starts with sigmoid(−4): the blood pool is missed
    assert np.mean([h["mask"] for h in history[-5:]]) < 0.3 * history[0]["mask"]
    with pytest.raises(ValueError, match="dose_head"):
        CycleGANConfig(lambda_mask=1.0)


def test_a_few_training_steps_lower_the_supervised_losses(tmp_path):
    config = CycleGANConfig(**TINY, residual=True, lambda_paired=100.0, lambda_outside=10.0, lambda_resim=10.0,
                            learning_rate=1e-3)
    gan = CycleGAN(config, (32, 32))
    pairs = _toy_pairs()
    state, history = train(gan, pairs, 60, batch_size=2, paired_fraction=1.0, progress=False)
    first = np.mean([h["paired"] + h["cycle"] for h in history[:10]])
    last = np.mean([h["paired"] + h["cycle"] for h in history[-10:]])
    assert last < 0.7 * first
    assert int(state.step) == 60
    # the checkpoint restores the same generator
    save_generator(tmp_path / "g", gan, state, {"fraction": 0.5})
    gan2, params, extra = load_generator(tmp_path / "g")
    assert extra == {"fraction": 0.5}
    hu = np.asarray(pairs.low[:2])
    np.testing.assert_allclose(gan2.restore(params, hu), gan.restore(state, hu), atol=1e-3)


def test_restore_accepts_any_size_and_rejects_bad_input():
    gan = CycleGAN(CycleGANConfig(**TINY), (32, 32))
    state = gan.init()
    out = gan.restore(state, np.zeros((18, 22), np.float32))
    assert out.shape == (18, 22)
    with pytest.raises(ValueError, match="dtype"):
        gan.restore(state, np.zeros((16, 16), np.int16))
    with pytest.raises(ValueError, match="NaN"):
        gan.restore(state, np.full((16, 16), np.nan, np.float32))
    with pytest.raises(ValueError, match="empty"):
        gan.restore(state, np.zeros((0, 16), np.float32))
    with pytest.raises(ValueError, match="image_shape"):
        CycleGAN(CycleGANConfig(**TINY), (18, 16))
    with pytest.raises(ValueError, match="too small"):
        CycleGAN(CycleGANConfig(**TINY), (16, 16))
    with pytest.raises(ValueError, match="lambda_cycle"):
        CycleGANConfig(lambda_cycle=-1.0)
    with pytest.raises(ValueError, match="paired_fraction"):
        train(gan, _toy_pairs(), 1, paired_fraction=1.5, progress=False)
