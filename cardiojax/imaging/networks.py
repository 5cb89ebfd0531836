"""CycleGAN networks in flax (nnx): the ResNet generator and the 70×70 PatchGAN discriminator.

The architecture follows the reference implementation (Zhu et al. 2017; junyanz/pytorch-CycleGAN-and-pix2pix,
``models/networks.py``) with 1-channel images in NHWC layout:

* `ResnetGenerator`: reflect-pad 3, conv 7×7 (ngf), two stride-2 conv 3×3 downsamplings (2·ngf, 4·ngf),
  ``n_blocks`` residual blocks (reflect-pad, conv 3×3, instance norm, ReLU, reflect-pad, conv 3×3, instance
  norm), two stride-2 transposed conv 3×3 upsamplings (output padding 1), reflect-pad 3, conv 7×7, tanh.
  Instance norm without affine parameters (as ``norm='instance'``), convolutions with biases, weights
  N(0, 0.02), biases 0. ``residual=True`` (not in the reference) adds the input to the output instead of
  the tanh, so the network only learns a correction. ``dose_gain`` = g (not in the reference) gives the
  physics-informed head: two output channels (m, r) and ``x + sigmoid(m)·g·(x − x_u) + r`` (with
  ``correction_max`` = c the correction is bounded, ``r = c·tanh(r'/c)``) — the dose model
  HU_full = HU_u + (HU_low − HU_u)/f is exact with mask 1 and g = 1/f − 1 (g = f − 1 degrades), so the
  network only has to find the blood pool (m) and a small correction (r, e.g. denoising). The head sees the
  trunk's features, the input x and soft HU-window indicators ``sigmoid((x − t_k)/w)`` at ``window_levels``
  t_k (network units). The study uses it to train in minutes on a CPU.
* `PatchDiscriminator`: conv 4×4 stride 2 (ndf) + LeakyReLU 0.2, then ``n_layers − 1`` more stride-2 convs
  doubling the width (max 8·ndf) with instance norm, a stride-1 conv (8·ndf), and a stride-1 conv to one
  channel: each output pixel sees a 70×70 patch of the input when ``n_layers = 3``.

The residual blocks' large 3×3 convolutions run as Winograd F(4×4, 3×3) (`cardiojax.imaging.winograd`), the strided and
transposed convolutions in space-to-depth and sub-pixel form (`DownConv`, `UpConv`): the same maps as the reference
layers, arranged for XLA's CPU kernels.

Images are normalised HU: see `HUNormalizer`. Shapes are ``(batch, height, width, 1)``; height and width
must be multiples of 4 for the generator.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from cardiojax.imaging.winograd import conv3x3, winograd_pays

_INIT = nnx.initializers.normal(0.02)
_EPS = 1e-5  # instance-norm epsilon of torch.nn.InstanceNorm2d


@dataclasses.dataclass(frozen=True)
class HUNormalizer:
    """Linear map between HU and the networks' range: ``x = (HU − low) / (high − low) · 2 − 1``.

    ``low`` ↦ −1 and ``high`` ↦ +1 (HU); `to_hu` is the exact inverse of `to_net` for every value (no
    clipping), so restored images are read back in HU without loss. The default window −1024…1536 HU covers
    air, lungs, soft tissue, iodinated blood and most bone.
    """

    low: float = -1024.0
    high: float = 1536.0

    def __post_init__(self):
        if not self.high > self.low:
            raise ValueError(f"HUNormalizer: high = {self.high} HU must exceed low = {self.low} HU")

    @property
    def scale(self) -> float:
        """HU per network unit."""
        return 0.5 * (self.high - self.low)

    def to_net(self, hu):
        """HU → network units (−1 at ``low``, +1 at ``high``)."""
        return (hu - self.low) / self.scale - 1.0

    def to_hu(self, x):
        """Network units → HU (exact inverse of `to_net`)."""
        return (x + 1.0) * self.scale + self.low


def reflect_pad(x: jax.Array, p: int) -> jax.Array:
    """Reflection padding of ``p`` pixels on both spatial axes of an NHWC array (torch ReflectionPad2d)."""
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")


def spatial_mean(x: jax.Array) -> jax.Array:
    """Mean over the spatial axes of NHWC, ``(B, H, W, C) → (B, 1, 1, C)``, computed as a batched dot with a
    constant row (XLA CPU runs large reductions as slow tree reductions; a dot goes to the GEMM kernels)."""
    b, h, w, c = x.shape
    row = jnp.full((b, 1, h * w), 1.0 / (h * w), x.dtype)
    return jax.lax.dot_general(row, x.reshape(b, h * w, c), (((2,), (1,)), ((0,), (0,))))[:, :, None, :]


@jax.custom_vjp
def instance_norm(x: jax.Array) -> jax.Array:
    """Instance normalisation without affine parameters over the spatial axes of NHWC (eps 1e-5).

    ``y = (x − μ)/√(σ² + ε)`` per sample and channel. The backward pass is written out,
    ``dx = (g − ⟨g⟩ − y·⟨g·y⟩)/√(σ² + ε)``, so that every spatial mean (forward and backward) is a
    `spatial_mean` dot: the CycleGAN training step is about 1.2× faster on XLA CPU than with autodiff of
    ``jnp.mean``.
    """
    return _instance_norm_fwd(x)[0]


def _instance_norm_fwd(x):
    d = x - spatial_mean(x)
    r = jax.lax.rsqrt(spatial_mean(jnp.square(d)) + _EPS)
    y = d * r
    return y, (y, r)


def _instance_norm_bwd(res, g):
    y, r = res
    return (r * (g - spatial_mean(g) - y * spatial_mean(g * y)),)


instance_norm.defvjp(_instance_norm_fwd, _instance_norm_bwd)


def _conv(cin: int, cout: int, k: int, stride: int, padding, rngs: nnx.Rngs) -> nnx.Conv:
    return nnx.Conv(cin, cout, kernel_size=(k, k), strides=(stride, stride), padding=padding,
                    kernel_init=_INIT, bias_init=nnx.initializers.zeros_init(), rngs=rngs)


class DownConv(nnx.Module):
    """Conv k×k, stride 2, zero padding ``padding`` (torch Conv2d(k, stride=2, padding)): H → ⌊(H + 2p − k)/2⌋ + 1.

    Computed in space-to-depth form: the padded input is folded into 2×2 blocks (4·cin channels) and convolved
    with stride 1 by a ⌈k/2⌉×⌈k/2⌉ kernel over blocks (the k×k kernel zero-padded to even size and folded the
    same way). Same result as the strided convolution, but its input gradient is a plain convolution instead
    of XLA's input-dilated one (75 % multiplications by zero): about 2× faster forward + backward on XLA CPU for
    the 4×4 PatchGAN layers. ``kernel`` (k, k, cin, cout) and ``bias`` are the parameters of the strided form;
    `strided` evaluates that form directly (used by the tests).
    """

    def __init__(self, cin: int, cout: int, k: int, padding: int, rngs: nnx.Rngs):
        self.kernel = nnx.Param(_INIT(rngs.params(), (k, k, cin, cout)))
        self.bias = nnx.Param(jnp.zeros((cout,)))
        self.padding = padding

    def __call__(self, x):
        k = self.kernel[...].astype(x.dtype)
        kh, cin, cout = k.shape[0], k.shape[2], k.shape[3]
        b, h, w, _ = x.shape
        p = self.padding
        oh, ow = (h + 2 * p - kh) // 2 + 1, (w + 2 * p - kh) // 2 + 1
        eh, ew = (h + 2 * p) % 2, (w + 2 * p) % 2
        x = jnp.pad(x, ((0, 0), (p, p + eh), (p, p + ew), (0, 0)))
        hb, wb = x.shape[1] // 2, x.shape[2] // 2
        x = x.reshape(b, hb, 2, wb, 2, cin).transpose(0, 1, 3, 2, 4, 5).reshape(b, hb, wb, 4 * cin)
        kb = (kh + 1) // 2
        k = jnp.pad(k, ((0, 2 * kb - kh), (0, 2 * kb - kh), (0, 0), (0, 0)))
        k = k.reshape(kb, 2, kb, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5).reshape(kb, kb, 4 * cin, cout)
        y = jax.lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y[:, :oh, :ow] + self.bias[...].astype(x.dtype)

    def strided(self, x):
        """The same map as the stride-2 convolution (reference for tests)."""
        p = self.padding
        y = jax.lax.conv_general_dilated(x, self.kernel[...].astype(x.dtype), (2, 2), ((p, p), (p, p)),
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + self.bias[...].astype(x.dtype)


class UpConv(nnx.Module):
    """Transposed conv 3×3, stride 2, padding 1, output padding 1 (torch ConvTranspose2d): H, W → 2H, 2W.

    Computed by output parity (sub-pixel form): output pixel (2i + a, 2j + b) depends only on input pixels
    (i, j), (i, j + 1), (i + 1, j), (i + 1, j + 1), so one 2×2 convolution with 4·cout channels followed by a
    depth-to-space shuffle gives the same result as the input-dilated convolution (``lhs_dilation`` 2,
    padding (1, 2)) without its 75 % multiplications by zero — 10–18× faster on XLA CPU. ``kernel`` (3, 3, cin,
    cout) is the dilated-form kernel (the torch kernel flipped in space, which changes nothing for learned
    weights); `dilated` evaluates that form directly (used by the tests).
    """

    # kernel row used for output parity a and input offset d (None: no contribution)
    _TAP = ((1, None), (0, 2))

    def __init__(self, cin: int, cout: int, rngs: nnx.Rngs):
        self.kernel = nnx.Param(_INIT(rngs.params(), (3, 3, cin, cout)))
        self.bias = nnx.Param(jnp.zeros((cout,)))

    def _subpixel_kernel(self, k):
        zero = jnp.zeros_like(k[0, 0])
        rows = []
        for di in range(2):
            cols = []
            for dj in range(2):
                taps = [zero if self._TAP[a][di] is None or self._TAP[b][dj] is None
                        else k[self._TAP[a][di], self._TAP[b][dj]] for a in range(2) for b in range(2)]
                cols.append(jnp.concatenate(taps, axis=-1))
            rows.append(jnp.stack(cols))
        return jnp.stack(rows)  # (2, 2, cin, 4·cout), output channels ordered (a, b, cout)

    def __call__(self, x):
        k = self.kernel[...].astype(x.dtype)
        b, h, w, _ = x.shape
        cout = k.shape[-1]
        y = jax.lax.conv_general_dilated(x, self._subpixel_kernel(k), window_strides=(1, 1),
                                         padding=((0, 1), (0, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
        y = y.reshape(b, h, w, 2, 2, cout).transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, cout)
        return y + self.bias[...].astype(x.dtype)

    def dilated(self, x):
        """The same map as the input-dilated convolution (slow on CPU; reference for tests)."""
        y = jax.lax.conv_general_dilated(
            x, self.kernel[...].astype(x.dtype), window_strides=(1, 1), padding=((1, 2), (1, 2)),
            lhs_dilation=(2, 2), dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + self.bias[...].astype(x.dtype)


class ResnetBlock(nnx.Module):
    """x + IN(conv3(pad(ReLU(IN(conv3(pad(x))))))).

    Large 3×3 convolutions (``conv1``, ``conv2``: their kernel and bias) are computed by Winograd F(4×4, 3×3)
    (`cardiojax.imaging.winograd.conv3x3`: the same map, about 2× faster forward + backward on CPU where
    `winograd_pays`, e.g. at 256² px with ngf 64), small ones directly.
    """

    def __init__(self, dim: int, rngs: nnx.Rngs):
        self.conv1 = _conv(dim, dim, 3, 1, "VALID", rngs)
        self.conv2 = _conv(dim, dim, 3, 1, "VALID", rngs)

    @staticmethod
    def _apply(conv: nnx.Conv, x):
        if not winograd_pays(x.shape, conv.out_features):
            return conv(x)
        return conv3x3(x, conv.kernel[...].astype(x.dtype)) + conv.bias[...].astype(x.dtype)

    def __call__(self, x):
        h = jax.nn.relu(instance_norm(self._apply(self.conv1, reflect_pad(x, 1))))
        return x + instance_norm(self._apply(self.conv2, reflect_pad(h, 1)))


class ResnetGenerator(nnx.Module):
    """The reference CycleGAN generator (see module docstring); ``(B, H, W, 1) → (B, H, W, 1)``."""

    def __init__(self, ngf: int = 64, n_blocks: int = 9, *, residual: bool = False, channels: int = 1,
                 dose_gain: float | None = None, dose_origin: float = 0.0, correction_max: float | None = None,
                 window_levels: tuple[float, ...] = (), window_width: float = 0.01, rngs: nnx.Rngs):
        if ngf < 1 or n_blocks < 0:
            raise ValueError(f"ResnetGenerator: ngf = {ngf}, n_blocks = {n_blocks}; expected ngf ≥ 1, n_blocks ≥ 0")
        if dose_gain is not None and channels != 1:
            raise ValueError(f"ResnetGenerator: dose_gain needs channels = 1, got {channels}")
        self.residual = residual
        self.dose_gain = None if dose_gain is None else float(dose_gain)
        self.dose_origin = float(dose_origin)
        if correction_max is not None and not correction_max > 0:
            raise ValueError(f"ResnetGenerator: correction_max = {correction_max}; expected > 0 (network units)")
        self.correction_max = None if correction_max is None else float(correction_max)
        self.stem = _conv(channels, ngf, 7, 1, "VALID", rngs)
        self.down1 = DownConv(ngf, 2 * ngf, 3, 1, rngs)
        self.down2 = DownConv(2 * ngf, 4 * ngf, 3, 1, rngs)
        self.blocks = nnx.List([ResnetBlock(4 * ngf, rngs) for _ in range(n_blocks)])
        self.up1 = UpConv(4 * ngf, 2 * ngf, rngs)
        self.up2 = UpConv(2 * ngf, ngf, rngs)
        # the dose head also sees the input image at full resolution (a skip connection), so its blood-pool
        # mask can follow vessel edges that the 4×-downsampled trunk cannot resolve
        # ... and soft HU-window indicators of it (`window_levels`, network units): full-resolution intensity
        # features, so a 7×7 head can pick the band of diluted blood out of soft tissue and bone
        self.window_levels = tuple(float(t) for t in window_levels) if dose_gain is not None else ()
        self.window_width = float(window_width)
        head_in = ngf + channels + len(self.window_levels) if dose_gain is not None else ngf
        self.head = _conv(head_in, 2 if dose_gain is not None else channels, 7, 1, "VALID", rngs)
        if dose_gain is not None:  # start near the identity: mask sigmoid(−4) ≈ 0.02, small correction
            self.head.kernel[...] = 0.1 * self.head.kernel[...]
            self.head.bias[...] = jnp.array([-4.0, 0.0], self.head.bias.dtype)

    def __call__(self, x):
        return self.dose_parts(x)[0]

    def dose_parts(self, x) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
        """``(output, m, r)``: the output and, with the dose head, its blood-pool mask logits m and additive
        correction r, each ``(B, H, W, 1)`` (None without the dose head)."""
        if x.ndim != 4 or x.shape[1] % 4 or x.shape[2] % 4:
            raise ValueError(f"ResnetGenerator: input shape {x.shape}; expected (B, H, W, C) with H, W multiples of 4")
        h = jax.nn.relu(instance_norm(self.stem(reflect_pad(x, 3))))
        h = jax.nn.relu(instance_norm(self.down1(h)))
        h = jax.nn.relu(instance_norm(self.down2(h)))
        for block in self.blocks:
            h = block(h)
        h = jax.nn.relu(instance_norm(self.up1(h)))
        h = jax.nn.relu(instance_norm(self.up2(h)))
        if self.dose_gain is not None:
            windows = [jax.nn.sigmoid((x - t) / self.window_width) for t in self.window_levels]
            h = jnp.concatenate([h, x, *windows], axis=-1)
        h = self.head(reflect_pad(h, 3))
        if self.dose_gain is not None:
            mask, correction = h[..., :1], h[..., 1:]
            if self.correction_max is not None:  # bounded: the enhancement has to go through the mask
                correction = self.correction_max * jnp.tanh(correction / self.correction_max)
            return x + jax.nn.sigmoid(mask) * self.dose_gain * (x - self.dose_origin) + correction, mask, correction
        return (x + h if self.residual else jnp.tanh(h)), None, None


class PatchDiscriminator(nnx.Module):
    """The reference N-layer PatchGAN (70×70 receptive field for ``n_layers = 3``); ``(B, H, W, 1) → (B, h, w, 1)``."""

    def __init__(self, ndf: int = 64, n_layers: int = 3, *, channels: int = 1, rngs: nnx.Rngs):
        if ndf < 1 or n_layers < 1:
            raise ValueError(f"PatchDiscriminator: ndf = {ndf}, n_layers = {n_layers}; expected ≥ 1")
        pad = ((1, 1), (1, 1))
        self.first = DownConv(channels, ndf, 4, 1, rngs)
        widths = [ndf * min(2**i, 8) for i in range(n_layers + 1)]
        self.mid = nnx.List([DownConv(widths[i - 1], widths[i], 4, 1, rngs) for i in range(1, n_layers)])
        self.last_norm = _conv(widths[n_layers - 1], widths[n_layers], 4, 1, pad, rngs)
        self.out = _conv(widths[n_layers], 1, 4, 1, pad, rngs)

    def __call__(self, x):
        h = jax.nn.leaky_relu(self.first(x), 0.2)
        for conv in self.mid:
            h = jax.nn.leaky_relu(instance_norm(conv(h)), 0.2)
        h = jax.nn.leaky_relu(instance_norm(self.last_norm(h)), 0.2)
        return self.out(h)


def count_params(model: nnx.Module) -> int:
    """Number of trainable scalars (``nnx.Param``) in ``model``."""
    return int(sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param))))
