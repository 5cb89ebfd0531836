"""Winograd F(4×4, 3×3): the same map and the same gradients as the direct convolution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from cardiojax.imaging import networks
from cardiojax.imaging.winograd import conv3x3, winograd_pays


def _direct(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _inputs(shape, cout, dtype):
    kx, kw, kg = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, shape, dtype)
    w = 0.2 * jax.random.normal(kw, (3, 3, shape[-1], cout), dtype)
    g = jax.random.normal(kg, (shape[0], shape[1] - 2, shape[2] - 2, cout), dtype)
    return x, w, g


# (10, 10): output 8 × 8, whole tiles; (9, 13): output 7 × 11, zero-extended to 8 × 12 and cropped; batch 2
@pytest.mark.parametrize("shape", [(1, 10, 10, 3), (2, 9, 13, 4)])
def test_equals_direct_convolution_and_its_gradients_in_float64(shape):
    x, w, g = _inputs(shape, 5, jnp.float64)  # tests run in float64 (conftest)
    y, vjp = jax.vjp(conv3x3, x, w)
    y_ref, vjp_ref = jax.vjp(_direct, x, w)
    assert y.shape == y_ref.shape
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-13 * float(jnp.max(jnp.abs(y_ref))))
    for got, ref in zip(vjp(g), vjp_ref(g)):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13 * float(jnp.max(jnp.abs(ref))))


def test_gradient_against_finite_differences():
    x, w, g = _inputs((1, 6, 7, 2), 3, jnp.float64)
    dx = jax.random.normal(jax.random.key(1), x.shape, jnp.float64)
    dw = jax.random.normal(jax.random.key(2), w.shape, jnp.float64)

    def f(x, w):
        return jnp.sum(g * jnp.tanh(conv3x3(x, w)))

    gx, gw = jax.grad(f, argnums=(0, 1))(x, w)
    eps = 1e-6
    fd = (f(x + eps * dx, w + eps * dw) - f(x - eps * dx, w - eps * dw)) / (2 * eps)
    np.testing.assert_allclose(jnp.sum(gx * dx) + jnp.sum(gw * dw), fd, rtol=1e-8)


def test_float32_round_off_stays_small():
    # the transforms' constants (up to 8 and 1/24) cost some digits: bound the relative error in float32
    x, w, g = _inputs((1, 18, 18, 32), 32, jnp.float32)
    y, vjp = jax.vjp(conv3x3, x, w)
    y_ref, vjp_ref = jax.vjp(_direct, x, w)
    for got, ref in zip((y, *vjp(g)), (y_ref, *vjp_ref(g))):
        assert float(jnp.max(jnp.abs(got - ref)) / jnp.max(jnp.abs(ref))) < 5e-5  # measured 2e-6 … 8e-6


def test_mixed_dtypes_promote_like_the_direct_convolution():
    x, w, g = _inputs((1, 6, 6, 2), 3, jnp.float32)
    w64 = w.astype(jnp.float64)
    y, vjp = jax.vjp(conv3x3, x, w64)
    assert y.dtype == jnp.float64
    gx, gw = vjp(g.astype(jnp.float64))
    assert (gx.dtype, gw.dtype) == (jnp.float32, jnp.float64)
    np.testing.assert_allclose(y, _direct(x.astype(jnp.float64), w64), rtol=0, atol=1e-12)


def test_bad_shapes_are_rejected():
    x = jnp.zeros((1, 8, 8, 3))
    with pytest.raises(ValueError, match="expected \\(B, H, W, C\\) and \\(3, 3, C, C_out\\)"):
        conv3x3(x, jnp.zeros((3, 3, 4, 2)))
    with pytest.raises(ValueError, match="H, W ≥ 3"):
        conv3x3(jnp.zeros((1, 2, 8, 3)), jnp.zeros((3, 3, 3, 2)))


def test_used_only_where_it_pays():
    assert winograd_pays((1, 66, 66, 256), 256)       # the 256² reference CycleGAN's ResNet blocks (ngf 64)
    assert not winograd_pays((2, 18, 18, 64), 64)     # the study's 64² crops (ngf 16) ...
    assert not winograd_pays((72, 18, 18, 64), 64)    # ... also when restoring many windows at once
    assert not winograd_pays((1, 34, 34, 256), 256)   # too few tiles


def test_resnet_block_with_winograd_equals_the_direct_block(monkeypatch):
    block = networks.ResnetBlock(4, nnx.Rngs(0))
    block.conv1.bias[...] = jnp.arange(4.0, dtype=jnp.float32)
    x = jax.random.normal(jax.random.key(0), (2, 10, 11, 4), jnp.float64)
    direct = block(x)  # small: direct convolutions
    monkeypatch.setattr(networks, "winograd_pays", lambda *args: True)
    np.testing.assert_allclose(block(x), direct, rtol=0, atol=1e-12)
