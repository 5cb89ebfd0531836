"""Physics-informed CycleGAN for low-contrast-dose CT: losses, image pool and the compiled training step.

Domain A holds low-iodine-dose slices, domain B full-dose slices (both in normalised HU, see
`HUNormalizer`). ``G_A``: A → B restores contrast, ``G_B``: B → A degrades it; ``D_A`` tells real B from
``G_A``'s output, ``D_B`` real A from ``G_B``'s (the reference naming). Defaults follow the reference
implementation (Zhu et al. 2017): least-squares GAN loss, cycle weight λ_cyc = 10, identity weight 0.5 (times
λ_cyc), image pool of 50, Adam 2e-4 with β1 = 0.5, constant rate then linear decay to 0.

Additions for this problem (weights default to 0 except ``lambda_paired``):

* **paired L1** ``λ_paired · (1 + pool_weight·w)·|G_A(a) − b|`` (w: blood-pool weight of ``a``; the small
  vessels that matter clinically cover few pixels) for the samples whose B image is the same slice at full dose
  (``batch["paired"] = 1``); the unpaired rest trains through the cycle and GAN terms only (mixed training);
* **physics consistency** with the blood-pool weight ``w`` of the A image and its dose fraction f:
  ``outside``  = mean(relu(|blur((1 − w)·(G_A(a) − a))| − margin)) — enhancement only inside the blood pool
  (the blur keeps the term blind to denoising, the margin to small changes);
  ``resim``    = mean |blur(dose_f(G_A(a))) − blur(a)| — re-simulating the low dose from the output
  (HU_low = HU_u + f·(HU − HU_u) in the blood pool, `low_dose_hu`) gives back the input;
* **bounded correction** (with ``dose_head``, ``correction_hu`` > 0): the dose head's additive correction is
  limited to ±``correction_hu`` HU (smoothly, tanh), enough for denoising and edges but not for the 250–450 HU
  of contrast, which must then come from the dose model through the mask (0: unbounded);
* **correction mean** (with ``dose_head``) ``λ_corr · mean |blur(r)|``: the dose head's correction r may denoise
  and sharpen (zero local mean) but should not change the local mean HU, which is the dose model's job;
* **mask supervision** (with ``dose_head``) ``λ_mask · (1 + pool_weight·w)·BCE(m, w)``: the dose head's
  blood-pool logits m of G_A(a) against the blood-pool weight w of ``a`` (known for every simulated scan, as for
  the physics terms).
  The paired L1 reaches m only through ``sigmoid'(m)·g·(x − x_u)``, which vanishes where the mask starts
  (sigmoid(−4)) and where the low-dose blood is barely enhanced; the cross-entropy gradient σ(m) − w does not.

Everything is one pure function `train_step(model, state, batch)`; `CycleGAN` holds the static parts and
jit-compiles it. Shapes: images ``(B, H, W, 1)`` with H, W multiples of 4.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from cardiojax.imaging.dose import HU_BLOOD_UNENHANCED, low_dose_hu
from cardiojax.imaging.networks import HUNormalizer, PatchDiscriminator, ResnetGenerator


@dataclasses.dataclass(frozen=True)
class CycleGANConfig:
    """Architecture, loss weights and optimiser (reference defaults; widths configurable for CPU)."""

    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9
    n_layers: int = 3
    residual: bool = False
    dose_head: bool = False
    fraction: float = 0.5
    lambda_gan: float = 1.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    lambda_paired: float = 10.0
    pool_weight: float = 0.0
    lambda_outside: float = 0.0
    lambda_resim: float = 0.0
    lambda_mask: float = 0.0
    correction_hu: float = 0.0
    lambda_correction: float = 0.0
    window_levels_hu: tuple[float, ...] = ()
    margin_hu: float = 20.0
    blur_sigma_px: float = 1.5
    pool_size: int = 50
    learning_rate: float = 2e-4
    beta1: float = 0.5
    steps_constant: int = 100
    steps_decay: int = 100
    hu_low: float = -1024.0
    hu_high: float = 1536.0
    hu_unenhanced: float = HU_BLOOD_UNENHANCED
    seed: int = 0

    def __post_init__(self):
        for name in ("ngf", "ndf", "n_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"CycleGANConfig.{name} = {getattr(self, name)}; expected an integer ≥ 1")
        for name in ("n_blocks", "pool_size", "steps_constant", "steps_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"CycleGANConfig.{name} = {getattr(self, name)}; expected an integer ≥ 0")
        for name in ("lambda_gan", "lambda_cycle", "lambda_identity", "lambda_paired", "lambda_outside", "lambda_resim",
                     "lambda_mask", "correction_hu", "lambda_correction", "pool_weight", "margin_hu", "blur_sigma_px"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"CycleGANConfig.{name} = {getattr(self, name)}; expected a number ≥ 0")
        for name in ("lambda_mask", "lambda_correction", "correction_hu"):
            if getattr(self, name) > 0 and not self.dose_head:
                raise ValueError(f"CycleGANConfig.{name} = {getattr(self, name)} needs dose_head = True (it acts "
                                 "on the dose head's mask or correction)")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"CycleGANConfig.fraction = {self.fraction}; expected a dose fraction in (0, 1]")
        if not self.learning_rate > 0 or not 0 <= self.beta1 < 1:
            raise ValueError(f"CycleGANConfig: learning_rate = {self.learning_rate}, beta1 = {self.beta1}; "
                             "expected learning_rate > 0 and 0 ≤ beta1 < 1")

    @property
    def normalizer(self) -> HUNormalizer:
        return HUNormalizer(self.hu_low, self.hu_high)

    def schedule(self) -> optax.Schedule:
        """Learning rate: constant for ``steps_constant`` steps, then linear to 0 over ``steps_decay``."""
        return optax.join_schedules(
            [optax.constant_schedule(self.learning_rate),
             optax.linear_schedule(self.learning_rate, 0.0, max(self.steps_decay, 1))],
            [self.steps_constant])


# ---------------------------------------------------------------------------------------------- losses


def lsgan_loss(prediction: jax.Array, target: float) -> jax.Array:
    """Least-squares GAN loss: mean (D(x) − target)² (target 1 for real, 0 for fake)."""
    return jnp.mean(jnp.square(prediction - target))


def l1(x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean absolute difference."""
    return jnp.mean(jnp.abs(x - y))


def gaussian_blur(x: jax.Array, sigma_px: float) -> jax.Array:
    """Separable Gaussian blur (σ in pixels, kernel ±3σ, reflect edges) of ``(B, H, W, C)`` images."""
    if sigma_px <= 0:
        return x
    r = max(1, int(3 * sigma_px + 0.5))
    t = jnp.arange(-r, r + 1, dtype=x.dtype)
    k = jnp.exp(-0.5 * (t / sigma_px) ** 2)
    k = k / jnp.sum(k)
    xp = jnp.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode="reflect")
    n = x.shape[1]
    rows = sum(k[i] * xp[:, i:i + n, :, :] for i in range(2 * r + 1))
    m = x.shape[2]
    return sum(k[i] * rows[:, :, i:i + m, :] for i in range(2 * r + 1))


def outside_enhancement_loss(restored, low, blood_pool, margin, sigma_px):
    """mean(relu(|blur((1 − w)·(restored − low))| − margin)): no enhancement outside the blood pool.

    The change is masked *before* the blur, so enhancement inside a small vessel does not leak into the
    penalised area; the blur makes the term blind to pixel noise removed by denoising.
    """
    change = jnp.abs(gaussian_blur((1.0 - blood_pool) * (restored - low), sigma_px))
    return jnp.mean(jax.nn.relu(change - margin))


def resimulation_loss(restored, low, blood_pool, fraction, norm: HUNormalizer, hu_unenhanced, sigma_px):
    """mean |blur(dose_f(restored)) − blur(low)| in network units: the output re-dosed gives the input.

    ``fraction`` is the dose fraction f of each sample, shape ``(B,)``.
    """
    hu = norm.to_hu(restored)[..., 0]
    f = jnp.reshape(fraction, (-1, 1, 1))
    redosed = norm.to_net(low_dose_hu(hu, blood_pool[..., 0], f, hu_unenhanced))[..., None]
    return l1(gaussian_blur(redosed, sigma_px), gaussian_blur(low, sigma_px))


# ------------------------------------------------------------------------------------------- the pool


class ImagePool(NamedTuple):
    """The reference's history of generated images (``pool_size`` slots) as arrays.

    ``images`` (P, H, W, C); ``count`` how many slots are filled.
    """

    images: jax.Array
    count: jax.Array

    @staticmethod
    def empty(size: int, shape: tuple[int, ...], dtype=jnp.float32) -> ImagePool:
        return ImagePool(jnp.zeros((max(size, 1),) + tuple(shape), dtype), jnp.zeros((), jnp.int32))


def pool_query(pool: ImagePool, images: jax.Array, key: jax.Array, size: int) -> tuple[ImagePool, jax.Array]:
    """Return images for the discriminator and the updated pool (reference ``ImagePool.query``).

    Image by image: while the pool is not full the image is stored and returned; afterwards with
    probability ½ a random stored image is returned and replaced by the new one, else the new one is
    returned. ``size`` 0 returns ``images`` unchanged.
    """
    if size == 0:
        return pool, images

    def one(carry, inputs):
        stored, count = carry
        image, k = inputs
        k_swap, k_idx = jax.random.split(k)
        filling = count < size
        swap = jnp.logical_and(~filling, jax.random.uniform(k_swap) > 0.5)
        idx = jnp.where(filling, count, jax.random.randint(k_idx, (), 0, size))
        out = jnp.where(swap, stored[idx], image)
        stored = jnp.where(filling | swap, stored.at[idx].set(image), stored)
        return (stored, count + filling.astype(count.dtype)), out

    (stored, count), out = jax.lax.scan(one, (pool.images, pool.count),
                                        (images, jax.random.split(key, images.shape[0])))
    return ImagePool(stored, count), out


# ---------------------------------------------------------------------------------- models and state


def patch_output_size(size: int, n_layers: int) -> int:
    """Side of the PatchGAN's output map for a ``size``-pixel input (stride-2 4×4 convs, then two stride-1)."""
    for _ in range(n_layers):
        size = (size + 2 - 4) // 2 + 1
    return size - 2


class TrainState(NamedTuple):
    """Everything that changes during training (a pytree)."""

    g_a: nnx.State
    g_b: nnx.State
    d_a: nnx.State
    d_b: nnx.State
    opt_g: optax.OptState
    opt_d: optax.OptState
    pool_a: ImagePool
    pool_b: ImagePool
    key: jax.Array
    step: jax.Array


class CycleGAN:
    """The two generators and discriminators of a `CycleGANConfig`, their optimisers and a jitted step.

    >>> gan = CycleGAN(CycleGANConfig(ngf=8, n_blocks=2), image_shape=(64, 64))
    >>> state = gan.init()
    >>> state, losses = gan.step(state, batch)          # batch: see `train_step`
    >>> hu = gan.restore(state, hu_low)                 # (N, N) or (B, N, N) HU → HU
    """

    def __init__(self, config: CycleGANConfig, image_shape: tuple[int, int]):
        if len(image_shape) != 2 or image_shape[0] % 4 or image_shape[1] % 4 or min(image_shape) < 16:
            raise ValueError(f"CycleGAN: image_shape = {image_shape}; expected (H, W), multiples of 4, ≥ 16")
        if patch_output_size(min(image_shape), config.n_layers) < 1:
            raise ValueError(f"CycleGAN: image_shape = {image_shape} is too small for a {config.n_layers}-layer "
                             "PatchGAN (its output would be empty); use larger crops or fewer layers")
        self.config = config
        self.image_shape = tuple(image_shape)
        rngs = nnx.Rngs(config.seed)
        self.g_def, _ = nnx.split(self._generator("a", rngs))
        self.g_def_b, _ = nnx.split(self._generator("b", rngs))
        self.d_def, _ = nnx.split(PatchDiscriminator(config.ndf, config.n_layers, rngs=rngs))
        self.tx = optax.adam(config.schedule(), b1=config.beta1, b2=0.999)
        self._step = jax.jit(self._train_step, donate_argnums=0)
        self._restore = jax.jit(self._restore_net)

    def _generator(self, which: str, rngs: nnx.Rngs) -> ResnetGenerator:
        """G_A (restores, ``which`` = "a") or G_B (degrades): with ``dose_head`` the gains 1/f − 1 and f − 1."""
        c = self.config
        gain = None
        if c.dose_head:
            gain = 1.0 / c.fraction - 1.0 if which == "a" else c.fraction - 1.0
        return ResnetGenerator(c.ngf, c.n_blocks, residual=c.residual, dose_gain=gain,
                               dose_origin=float(c.normalizer.to_net(c.hu_unenhanced)),
                               window_levels=tuple(float(c.normalizer.to_net(t)) for t in c.window_levels_hu),
                               window_width=10.0 / c.normalizer.scale,
                               correction_max=c.correction_hu / c.normalizer.scale if c.correction_hu > 0 else None,
                               rngs=rngs)

    def init(self) -> TrainState:
        """Fresh weights (N(0, 0.02), seeded by ``config.seed``), optimiser states and empty pools."""
        c = self.config
        rngs = nnx.Rngs(c.seed)
        nets = [nnx.state(self._generator(which, rngs)) for which in "ab"]
        nets += [nnx.state(PatchDiscriminator(c.ndf, c.n_layers, rngs=rngs)) for _ in range(2)]
        g_a, g_b, d_a, d_b = nets
        pool_a, pool_b = (ImagePool.empty(c.pool_size, self.image_shape + (1,)) for _ in range(2))
        return TrainState(g_a, g_b, d_a, d_b, self.tx.init((g_a, g_b)), self.tx.init((d_a, d_b)), pool_a, pool_b,
                          jax.random.key(c.seed + 1), jnp.zeros((), jnp.int32))

    # -- the pure step ------------------------------------------------------------------------------

    def loss_terms(self, g_params, d_params, batch: dict) -> tuple[jax.Array, tuple[dict, jax.Array, jax.Array]]:
        """Generator objective and its parts; also returns (fake A, fake B) for the discriminators.

        ``batch``: ``a``, ``b`` (B, H, W, 1) network units; ``paired`` (B,) 1 where ``b`` is ``a``'s slice
        at full dose; ``blood_pool`` (B, H, W, 1) weight in [0, 1] of ``a``'s blood pool; ``fraction`` (B,)
        dose fraction f of ``a``.
        """
        c = self.config
        g_a, g_b = nnx.merge(self.g_def, g_params[0]), nnx.merge(self.g_def_b, g_params[1])
        d_a, d_b = (nnx.merge(self.d_def, p) for p in d_params)
        a, b = batch["a"], batch["b"]
        n = a.shape[0]
        if c.lambda_identity > 0:  # G_A(a) with G_A(b) and G_B(b) with G_B(a) as one batch each (same result)
            (out_a, mask_a, corr_a), out_b = g_a.dose_parts(jnp.concatenate([a, b])), g_b(jnp.concatenate([b, a]))
            fake_b, idt_a, fake_a, idt_b = out_a[:n], out_a[n:], out_b[:n], out_b[n:]
        else:
            (fake_b, mask_a, corr_a), fake_a = g_a.dose_parts(a), g_b(b)
        rec_a, rec_b = g_b(fake_b), g_a(fake_a)
        parts = {
            "gan": c.lambda_gan * (lsgan_loss(d_a(fake_b), 1.0) + lsgan_loss(d_b(fake_a), 1.0)),
            "cycle": c.lambda_cycle * (l1(rec_a, a) + l1(rec_b, b)),
        }
        if c.lambda_identity > 0:
            parts["identity"] = c.lambda_cycle * c.lambda_identity * (l1(idt_a, b) + l1(idt_b, a))
        paired = batch["paired"].astype(a.dtype)
        emphasis = 1.0 + c.pool_weight * batch["blood_pool"]  # the blood pool counts (1 + pool_weight)×
        per_sample = jnp.mean(emphasis * jnp.abs(fake_b - b), axis=(1, 2, 3))
        parts["paired"] = c.lambda_paired * jnp.sum(paired * per_sample) / jnp.maximum(jnp.sum(paired), 1.0)
        norm = c.normalizer
        if c.lambda_outside > 0:
            parts["outside"] = c.lambda_outside * outside_enhancement_loss(
                fake_b, a, batch["blood_pool"], c.margin_hu / norm.scale, c.blur_sigma_px)
        if c.lambda_resim > 0:
            parts["resim"] = c.lambda_resim * resimulation_loss(
                fake_b, a, batch["blood_pool"], batch["fraction"], norm, c.hu_unenhanced, c.blur_sigma_px)
        if c.lambda_correction > 0:
            parts["correction"] = c.lambda_correction * jnp.mean(jnp.abs(gaussian_blur(corr_a[:n], c.blur_sigma_px)))
        if c.lambda_mask > 0:
            parts["mask"] = c.lambda_mask * jnp.mean(  # blood-pool pixels weighted like the paired L1's
                emphasis * optax.sigmoid_binary_cross_entropy(mask_a[:n], batch["blood_pool"]))
        return sum(parts.values()), (parts, fake_a, fake_b)

    def discriminator_loss(self, d_params, batch: dict, fake_a, fake_b) -> jax.Array:
        """½ (LSGAN(D(real), 1) + LSGAN(D(fake), 0)) for each discriminator, summed."""
        d_a, d_b = (nnx.merge(self.d_def, p) for p in d_params)
        loss_a = 0.5 * (lsgan_loss(d_a(batch["b"]), 1.0) + lsgan_loss(d_a(fake_b), 0.0))
        loss_b = 0.5 * (lsgan_loss(d_b(batch["a"]), 1.0) + lsgan_loss(d_b(fake_a), 0.0))
        return loss_a + loss_b

    def _train_step(self, state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        """One reference ``optimize_parameters``: generators (discriminators fixed), then discriminators."""
        g_params, d_params = (state.g_a, state.g_b), (state.d_a, state.d_b)
        (g_loss, (parts, fake_a, fake_b)), g_grads = jax.value_and_grad(self.loss_terms, has_aux=True)(
            g_params, d_params, batch)
        updates, opt_g = self.tx.update(g_grads, state.opt_g, g_params)
        g_params = optax.apply_updates(g_params, updates)
        key, k_a, k_b = jax.random.split(state.key, 3)
        pool_a, fake_a = pool_query(state.pool_a, jax.lax.stop_gradient(fake_a), k_a, self.config.pool_size)
        pool_b, fake_b = pool_query(state.pool_b, jax.lax.stop_gradient(fake_b), k_b, self.config.pool_size)
        d_loss, d_grads = jax.value_and_grad(self.discriminator_loss)(d_params, batch, fake_a, fake_b)
        updates, opt_d = self.tx.update(d_grads, state.opt_d, d_params)
        d_params = optax.apply_updates(d_params, updates)
        losses = dict(parts, generator=g_loss, discriminator=d_loss)
        new = TrainState(*g_params, *d_params, opt_g, opt_d, pool_a, pool_b, key, state.step + 1)
        return new, losses

    def step(self, state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        """The compiled `train_step` (donates ``state``: use the returned one)."""
        return self._step(state, batch)

    # -- inference ----------------------------------------------------------------------------------

    def _restore_net(self, g_params, x):
        return nnx.merge(self.g_def, g_params)(x)

    def restore(self, state_or_params, hu_low) -> jax.Array:
        """G_A on low-dose slices in HU: ``(N, M)`` or ``(B, N, M)`` → the same shape, HU.

        Any size: images are reflect-padded to multiples of 4 and cropped back.
        """
        from cardiojax.imaging._checks import check_image

        params = state_or_params.g_a if isinstance(state_or_params, TrainState) else state_or_params
        hu = check_image("hu_low", hu_low, ndim=(2, 3), square=False)
        single = hu.ndim == 2
        x = hu[None] if single else hu
        n, m = x.shape[1:]
        pn, pm = (-n) % 4, (-m) % 4
        norm = self.config.normalizer
        z = jnp.pad(norm.to_net(x.astype(jnp.float32)), ((0, 0), (0, pn), (0, pm)), mode="reflect")[..., None]
        y = norm.to_hu(self._restore(params, z)[..., 0])[:, :n, :m]
        return y[0] if single else y
