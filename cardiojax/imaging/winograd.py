"""Winograd convolution F(4×4, 3×3): the 3×3 stride-1 convolution of the ResNet blocks with 4× fewer products.

Lavin & Gray 2016 ("Fast algorithms for convolutional neural networks"): the output is cut into 4×4 tiles; each
tile needs the 6×6 input tile d around it (input tiles overlap by 2, stride 4) and is

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A

per pair of input and output channels, with the 3×3 kernel g and the constant matrices Bᵀ (6×6), G (6×3) and
Aᵀ (4×6) of the interpolation points 0, ±1, ±2, ∞. The sum over input channels of the element-wise product is, for
each of the 36 tile frequencies, one matrix product (tiles × C_in) · (C_in × C_out): 36 products per 16 outputs
instead of 9 · 16 = 144. The transforms are sums of shifted slices (no products), so the forward pass and the
hand-written backward pass (the input gradient through the transposed transforms, the kernel gradient as the 36
products Vᵀ·∂M) run on the GEMM kernels: on this CPU a 3×3 convolution 256 → 256 channels on 64×64 pixels takes
about half the time of XLA's direct convolution, forward + backward (the transforms eat part of the 4×). Small
convolutions do not gain (`winograd_pays`), and the unrolled transforms make compiling slower (the reference
CycleGAN step: about 23 s instead of 10 s). The two-sided transforms act on stacked arrays (`_sandwich`) rather than
one slice per tile frequency: a third of the operations, faster to compile and to run.

The result is the same linear map as `jax.lax.conv_general_dilated` (``padding="VALID"``, NHWC, HWIO); the
transforms' constants (up to 8 and 1/24) make the round-off larger: about 1e-5 relative in float32, 1e-15 in
float64 (tested).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

TILE = 4  # output tile side m; input tiles are m + 2 = 6 wide
_BT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
       (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1))
_G = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
      (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
_AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))


def _transpose(matrix):
    return tuple(zip(*matrix))


def _combine(matrix, parts):
    """``[Σ_k matrix[i][k] · parts[k] for each row i]`` for a small constant matrix (zeros skipped, ±1 kept)."""
    out = []
    for row in matrix:
        acc = None
        for c, p in zip(row, parts):
            if c == 0:
                continue
            term = p if c == 1 else (-p if c == -1 else c * p)
            acc = term if acc is None else acc + term
        out.append(acc)
    return out


def _tiles(x, axis: int, n: int):
    """The 6 offsets of ``n`` overlapping 6-wide tiles with stride 4 along ``axis``: 6 arrays with ``n`` there."""
    return [jax.lax.slice_in_dim(x, k, k + TILE * (n - 1) + 1, TILE, axis) for k in range(TILE + 2)]


def _untile(parts, axis: int, size: int):
    """Adjoint of `_tiles`: add the 6 offset arrays back at their positions along ``axis`` (length ``size``).

    Position 4j + q receives offset q of tile j and, for q < 2, offset q + 4 of tile j − 1.
    """
    n = parts[0].shape[axis]

    def shift(p, lo, hi):
        cfg = [(0, 0, 0)] * p.ndim
        cfg[axis] = (lo, hi, 0)
        return jax.lax.pad(p, jnp.zeros((), p.dtype), cfg)

    phases = [shift(parts[0], 0, 1) + shift(parts[4], 1, 0), shift(parts[1], 0, 1) + shift(parts[5], 1, 0),
              shift(parts[2], 0, 1), shift(parts[3], 0, 1)]
    y = jnp.stack(phases, axis=axis + 1)
    shape = list(parts[0].shape)
    shape[axis] = TILE * (n + 1)
    return jax.lax.slice_in_dim(y.reshape(shape), 0, size, 1, axis)


def _sandwich(matrix, x):
    """``M x Mᵀ`` over the two leading axes of ``x``: (k, k, ...) → (m, m, ...) for the constant m × k ``matrix``."""
    k = len(matrix[0])
    rows = jnp.stack(_combine(matrix, [x[i] for i in range(k)]))
    return jnp.stack(_combine(matrix, [rows[:, i] for i in range(k)]), axis=1)


def _filter_transform(w):
    """(3, 3, C_in, C_out) kernel → (36, C_in, C_out): G g Gᵀ for every channel pair."""
    return _sandwich(_G, w).reshape(36, *w.shape[2:])


def _input_transform(x, t: int, s: int):
    """(B, 4t + 2, 4s + 2, C) → (36, B·t·s, C): Bᵀ d B for every input tile and channel."""
    b, c = x.shape[0], x.shape[-1]
    rows = jnp.stack(_combine(_BT, _tiles(x, 1, t)))                 # (6, B, t, W, C)
    v = jnp.stack(_combine(_BT, _tiles(rows, 3, s)), axis=1)          # (6, 6, B, t, s, C)
    return v.reshape(36, b * t * s, c)


@jax.custom_vjp
def _conv_tiled(x, w):
    return _conv_tiled_fwd(x, w)[0]


def _conv_tiled_fwd(x, w):
    b, hh, ww, c = x.shape
    co = w.shape[-1]
    t, s = (hh - 2) // TILE, (ww - 2) // TILE
    v = _input_transform(x, t, s)
    u = _filter_transform(w)
    m = jnp.einsum("pnc,pco->pno", v, u).reshape(6, 6, b, t, s, co)
    y = _sandwich(_AT, m)  # (4, 4, b, t, s, co)
    # residuals: the transformed kernel and input (recomputing the input transform in the backward pass instead
    # is slower here and does not shrink XLA's scratch)
    return y.transpose(2, 3, 0, 4, 1, 5).reshape(b, TILE * t, TILE * s, co), (x.shape, u, v)


def _conv_tiled_bwd(res, dy):
    (b, hh, ww, c), u, v = res
    co = u.shape[-1]
    t, s = (hh - 2) // TILE, (ww - 2) // TILE
    d = dy.reshape(b, t, TILE, s, TILE, co).transpose(2, 4, 0, 1, 3, 5)  # (4, 4, b, t, s, co)
    dm = _sandwich(_transpose(_AT), d).reshape(36, b * t * s, co)
    dv = jnp.einsum("pno,pco->pnc", dm, u).reshape(6, 6, b, t, s, c)
    du = jnp.einsum("pnc,pno->pco", v, dm).reshape(6, 6, c, co)
    dw = _sandwich(_transpose(_G), du)  # (3, 3, c, co)
    cols = _untile(_combine(_transpose(_BT), [dv[:, k] for k in range(6)]), 3, ww)  # (6, b, t, ww, c)
    dx = _untile(_combine(_transpose(_BT), [cols[a] for a in range(6)]), 1, hh)
    return dx, dw


_conv_tiled.defvjp(_conv_tiled_fwd, _conv_tiled_bwd)


MIN_TILES = 256     # matrix rows of the 36 products (B · tiles)
MIN_CHANNELS = 128  # their inner and outer sizes (C_in, C_out)


def winograd_pays(x_shape: tuple[int, ...], c_out: int) -> bool:
    """Whether `conv3x3` beats XLA's direct convolution for an input of ``x_shape`` (B, H, W, C_in) and ``c_out``
    output channels, on this CPU inside a training step: at least ``MIN_TILES`` tiles (rows of the 36 products)
    and ``MIN_CHANNELS`` input and output channels. The tile bound comes from single convolutions, the channel
    bound from whole training steps (below).

    Measured (forward + backward of one convolution, 2 cores): 64² px 256 → 256 channels 1.8× faster, 64² px
    128 → 128 1.6×, but 32² px 256 → 256 (64 tiles) 0.9× and 16² px 256 → 256 0.6×. With 64 channels a single
    convolution gains (16² px, batch 2: 1.9×) but a whole CycleGAN step at 64² px, ngf 16 loses (0.88×): the
    many small transform operations cost more than the products save. So the 256² reference CycleGAN (ngf 64:
    256 channels on 64² px in its ResNet blocks) uses Winograd, the study's 64² crops (ngf 16) do not.
    """
    b, h, w, c = x_shape
    tiles = b * -(-(h - 2) // TILE) * -(-(w - 2) // TILE)
    return tiles >= MIN_TILES and min(c, c_out) >= MIN_CHANNELS


def conv3x3(x: jax.Array, w: jax.Array) -> jax.Array:
    """3×3 convolution, stride 1, no padding (``VALID``): ``(B, H, W, C_in) × (3, 3, C_in, C_out) → (B, H − 2,
    W − 2, C_out)``, NHWC / HWIO as `jax.lax.conv_general_dilated`, by Winograd F(4×4, 3×3) (module docstring).

    Outputs whose sides are not multiples of 4 are computed on a zero-extended input and cropped. Differentiable
    (custom VJP: the backward pass is Winograd too).
    """
    if x.ndim != 4 or w.shape[:2] != (3, 3) or w.ndim != 4 or w.shape[2] != x.shape[-1]:
        raise ValueError(f"conv3x3: input {x.shape}, kernel {w.shape}; expected (B, H, W, C) and (3, 3, C, C_out)")
    h, wd = x.shape[1] - 2, x.shape[2] - 2
    if h < 1 or wd < 1:
        raise ValueError(f"conv3x3: input {x.shape}; expected H, W ≥ 3 pixels")
    dtype = jnp.result_type(x, w)  # as the direct convolution; gradients return in the inputs' own dtypes
    x, w = x.astype(dtype), w.astype(dtype)
    ph, pw = -h % TILE, -wd % TILE
    if ph or pw:
        y = _conv_tiled(jnp.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0))), w)
        return y[:, :h, :wd]
    return _conv_tiled(x, w)
