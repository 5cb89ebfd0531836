"""Training the contrast-restoring CycleGAN on simulated scan pairs: sampling, the loop, checkpoints, restore.

Mixed training (as in the clinical study, which had paired and unpaired scans): every sample takes a low-dose
crop (domain A) and a full-dose crop (domain B); with probability ``paired_fraction`` the B crop is the same
slice and position at full dose (the paired L1 term applies), otherwise it comes from another random slice
and position (only the cycle and adversarial terms see it). Crops are ``crop × crop`` pixels taken at random
positions of the ``(N, N)`` scans; the generator is fully convolutional and restores whole slices.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm import tqdm

from cardiojax.imaging._checks import check_fraction
from cardiojax.imaging.cyclegan import CycleGAN, CycleGANConfig, TrainState
from cardiojax.imaging.networks import HUNormalizer
from cardiojax.imaging.pairs import ScanPairs
from cardiojax.io.checkpoint import load_checkpoint_state, read_checkpoint_meta, save_checkpoint_dir


def _pool_offset(key: jax.Array, pool: jax.Array, crop: int) -> jax.Array:
    """Top-left corner of a crop centred (± crop/4) on a random blood-pool pixel of ``pool`` (N, N), clipped
    to the image; a slice without blood pool gives a uniformly random centre."""
    n = pool.shape[0]
    k_c, k_j = jax.random.split(key)
    flat = jax.random.categorical(k_c, jnp.log(jnp.clip(pool.reshape(-1), 0.0, 1.0) + 1e-12))
    jitter = jax.random.randint(k_j, (2,), -(crop // 4), crop // 4 + 1)
    return jnp.clip(jnp.stack([flat // n, flat % n]) - crop // 2 + jitter, 0, n - crop)


@functools.partial(jax.jit, static_argnames=("crop", "batch_size", "norm"))
def sample_batch(key: jax.Array, pairs: ScanPairs, crop: int, batch_size: int, paired_fraction,
                 norm: HUNormalizer, pool_crop_fraction=0.0) -> dict:
    """A training batch of random crops (network units); see the module docstring for the pairing rule.

    With probability ``pool_crop_fraction`` a sample's A crop is centred (± crop/4) on a random blood-pool
    pixel instead of a uniformly random position, so that small vessels are seen more often.

    Returns the dict `CycleGAN.step` expects: ``a``, ``b``, ``blood_pool`` ``(batch, crop, crop, 1)``,
    ``paired``, ``fraction`` ``(batch,)``.
    """
    n_slices, n = pairs.low.shape[0], pairs.low.shape[1]
    k_i, k_j, k_p, k_oa, k_ob, k_flip, k_c, k_pool = jax.random.split(key, 8)
    i = jax.random.randint(k_i, (batch_size,), 0, n_slices)
    paired = jax.random.uniform(k_p, (batch_size,)) < paired_fraction
    j = jnp.where(paired, i, jax.random.randint(k_j, (batch_size,), 0, n_slices))
    off_a = jax.random.randint(k_oa, (batch_size, 2), 0, n - crop + 1)
    centred = jax.random.uniform(k_c, (batch_size,)) < pool_crop_fraction
    off_pool = jax.vmap(_pool_offset, in_axes=(0, 0, None))(jax.random.split(k_pool, batch_size),
                                                              pairs.blood_pool[i], crop)
    off_a = jnp.where(centred[:, None], off_pool, off_a)
    off_b = jnp.where(paired[:, None], off_a, jax.random.randint(k_ob, (batch_size, 2), 0, n - crop + 1))
    flip = jax.random.bernoulli(k_flip, 0.5, (batch_size,))

    def cut(images, idx, off, flip):
        patch = jax.lax.dynamic_slice(images[idx], (off[0], off[1]), (crop, crop))
        return jnp.where(flip, patch[:, ::-1], patch)[..., None]

    cut_all = jax.vmap(cut, in_axes=(None, 0, 0, 0))
    return {
        "a": norm.to_net(cut_all(pairs.low, i, off_a, flip)),
        "b": norm.to_net(cut_all(pairs.full, j, off_b, flip)),
        "blood_pool": cut_all(pairs.blood_pool, i, off_a, flip),
        "paired": paired.astype(pairs.low.dtype),
        "fraction": pairs.fraction[i],
    }


def train(gan: CycleGAN, pairs: ScanPairs, steps: int, *, batch_size: int = 1, paired_fraction: float = 0.5,
          pool_crop_fraction: float = 0.0, key: jax.Array | None = None, state: TrainState | None = None,
          progress: bool = True, desc: str = "CycleGAN") -> tuple[TrainState, list[dict]]:
    """Run ``steps`` training steps on random crops of ``pairs`` (crop size = ``gan.image_shape``; a share
    ``pool_crop_fraction`` of the crops centred on the blood pool, see `sample_batch`).

    Returns the final state and the loss history (one dict of floats per step: every loss part, the
    generator and discriminator totals). A tqdm bar shows the running generator loss.
    """
    if steps < 0:
        raise ValueError(f"steps = {steps}; expected ≥ 0")
    paired_fraction = check_fraction("paired_fraction", paired_fraction, open_low=False)
    pool_crop_fraction = check_fraction("pool_crop_fraction", pool_crop_fraction, open_low=False)
    crop = gan.image_shape[0]
    if gan.image_shape[0] != gan.image_shape[1] or crop > pairs.low.shape[1]:
        raise ValueError(f"gan.image_shape = {gan.image_shape}; expected square crops no larger than the "
                         f"{pairs.low.shape[1]}-pixel scans")
    pairs = ScanPairs(*(jnp.asarray(x, jnp.float32) if x.dtype != jnp.bool_ else x for x in pairs))
    state = gan.init() if state is None else state
    key = jax.random.key(gan.config.seed + 7) if key is None else key
    norm = gan.config.normalizer
    history = []
    bar = tqdm(range(steps), desc=desc, disable=not progress, mininterval=2.0)
    for _ in bar:
        key, k = jax.random.split(key)
        batch = sample_batch(k, pairs, crop, batch_size, paired_fraction, norm, pool_crop_fraction)
        state, losses = gan.step(state, batch)
        history.append(losses)
        if len(history) % 25 == 0:
            bar.set_postfix(G=f"{float(losses['generator']):.3f}", D=f"{float(losses['discriminator']):.3f}")
    history = [{k: float(v) for k, v in h.items()} for h in jax.device_get(history)]
    if any(not math.isfinite(h["generator"]) for h in history):
        raise FloatingPointError("CycleGAN training diverged: a generator loss is NaN or infinite")
    return state, history


def _tile_starts(n: int, tile: int) -> list[int]:
    starts = list(range(0, n - tile + 1, tile // 2))
    return starts if starts[-1] == n - tile else starts + [n - tile]


def restore_tiled(gan: CycleGAN, params, hu_low, tile: int | None = None) -> jax.Array:
    """G_A on ``(B, N, M)`` low-dose scans (HU) in overlapping ``tile × tile`` windows (stride tile/2).

    The generator's instance normalisation makes its output depend on the statistics of the whole input, so
    images are restored window by window at the training crop size (default ``gan.image_shape[0]``) and the
    windows blended with a separable triangular weight: the network sees inputs like those it was trained on.
    """
    tile = tile or gan.image_shape[0]
    hu = jnp.asarray(hu_low, jnp.float32)
    b, n, m = hu.shape
    if tile >= min(n, m):
        return gan.restore(params, hu)
    ramp = jnp.minimum(jnp.arange(tile) + 0.5, tile - jnp.arange(tile) - 0.5)
    weight = ramp[:, None] * ramp[None, :]
    rows, cols = _tile_starts(n, tile), _tile_starts(m, tile)
    windows = jnp.stack([hu[:, r:r + tile, c:c + tile] for r in rows for c in cols], axis=1)
    restored = gan.restore(params, windows.reshape(-1, tile, tile)).reshape(windows.shape)
    out = jnp.zeros_like(hu)
    norm = jnp.zeros((n, m), hu.dtype)
    k = 0
    for r in rows:
        for c in cols:
            out = out.at[:, r:r + tile, c:c + tile].add(weight * restored[:, k])
            norm = norm.at[r:r + tile, c:c + tile].add(weight)
            k += 1
    return out / norm


def restore_batch(gan: CycleGAN, state, hu_low, chunk: int = 8, tile: int | None = None) -> np.ndarray:
    """Restored full-dose images of ``(B, N, N)`` low-dose scans (HU), ``chunk`` slices at a time, tiled at
    the training crop size (`restore_tiled`); ``state`` is a `TrainState` or G_A's parameters."""
    hu_low = np.asarray(hu_low)
    params = state.g_a if isinstance(state, TrainState) else state
    return np.concatenate([np.asarray(restore_tiled(gan, params, hu_low[i:i + chunk], tile))
                           for i in range(0, hu_low.shape[0], chunk)])


# ----------------------------------------------------------------------------------------- checkpoints


def save_generator(path: str | os.PathLike, gan: CycleGAN, state: TrainState, extra: dict | None = None) -> None:
    """Save the restoring generator G_A (weights + `CycleGANConfig` + crop size + ``extra``) to a directory."""
    meta = {"config": dataclasses.asdict(gan.config), "image_shape": list(gan.image_shape), "extra": extra or {}}
    save_checkpoint_dir(path, nnx.to_pure_dict(state.g_a), meta)


def load_generator(path: str | os.PathLike) -> tuple[CycleGAN, nnx.State, dict]:
    """Read `save_generator`'s directory: ``(gan, g_a_params, extra)``; restore with ``gan.restore(params, hu)``."""
    meta = read_checkpoint_meta(path, "CycleGAN")
    try:
        gan = CycleGAN(CycleGANConfig(**meta["config"]), tuple(meta["image_shape"]))
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a cardiojax CycleGAN checkpoint ({err})") from None
    params = gan.init().g_a
    nnx.replace_by_pure_dict(params, load_checkpoint_state(path, nnx.to_pure_dict(params)))
    return gan, params, meta.get("extra", {})
