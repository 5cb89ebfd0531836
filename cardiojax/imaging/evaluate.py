"""Scoring a contrast restoration against the full-dose reference, and the side-by-side figure.

`score` gives per-slice PSNR and SSIM (CTA window −160…240 HU, `metrics.CTA_WINDOW`), the absolute error of
the aortic mean HU (lumen interior ROI), and the aorta's CNR (against a ring of tissue 2–5 pixels outside the
blood pool around the aorta) and SNR. `summarise` averages them; `save_comparison_png` writes low dose,
restored, baseline, reference and difference images for a few slices.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.imaging.metrics import CTA_WINDOW, cnr, mean_hu_error, psnr, snr, ssim


def _dilate(mask: jax.Array, radius: int) -> jax.Array:
    """Binary dilation of ``(B, N, N)`` masks by a (2r+1)² square."""
    w = 2 * radius + 1
    return jax.lax.reduce_window(mask.astype(jnp.float32), 0.0, jax.lax.max, (1, w, w), (1, 1, 1), "SAME") > 0


def background_ring(aorta, blood_pool, inner: int = 2, outer: int = 5) -> jax.Array:
    """Pixels ``inner``–``outer`` pixels from the aorta ROI and outside every blood pool: ``(B, N, N)`` bool."""
    aorta = jnp.asarray(aorta)
    return _dilate(aorta, outer) & ~_dilate(aorta, inner) & ~_dilate(jnp.asarray(blood_pool) > 0, 1)


@jax.jit
def _score(x, ref, aorta, ring):
    return {
        "psnr": psnr(x, ref, CTA_WINDOW),
        "ssim": ssim(x, ref, CTA_WINDOW),
        "aorta_hu_err": jnp.abs(mean_hu_error(x, ref, aorta)),
        "cnr": cnr(x, aorta, ring),
        "snr": snr(x, aorta),
    }


def score(images, reference, aorta, blood_pool) -> dict[str, np.ndarray]:
    """Per-slice metrics of ``images`` ``(B, N, N)`` HU against ``reference`` (see the module docstring)."""
    images, reference = jnp.asarray(images, jnp.float32), jnp.asarray(reference, jnp.float32)
    if images.shape != reference.shape or images.ndim != 3:
        raise ValueError(f"images: shape {images.shape}; expected (B, N, N) like reference {reference.shape}")
    aorta = jnp.asarray(aorta)
    if not bool(jnp.all(jnp.any(aorta, axis=(1, 2)))):
        raise ValueError("aorta: a slice has an empty aorta ROI; expected at least one pixel per slice")
    ring = background_ring(aorta, blood_pool)
    return {k: np.asarray(v) for k, v in _score(images, reference, aorta, ring).items()}


def summarise(per_slice: dict[str, np.ndarray]) -> dict[str, float]:
    """Means over slices (finite values; PSNR of an exact match, +inf, is left out)."""
    out = {}
    for k, v in per_slice.items():
        v = np.asarray(v, float)
        v = v[np.isfinite(v)]
        out[k] = float(v.mean()) if v.size else float("nan")
    return out


def save_comparison_png(path: str | os.PathLike, rows: list[dict[str, np.ndarray]], title: str = "",
                        window=CTA_WINDOW, diff_range: float = 150.0) -> None:
    """A grid: one row per slice, columns = the dict's images (HU, shown in ``window``) + "restored −
    reference" difference (±``diff_range`` HU) when both keys exist. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cardiojax.io.files import atomic_path

    names = list(rows[0])
    with_diff = "restored" in names and "reference" in names
    ncol = len(names) + with_diff
    fig, axes = plt.subplots(len(rows), ncol, figsize=(2.4 * ncol, 2.4 * len(rows)), squeeze=False)
    for r, images in enumerate(rows):
        for c, name in enumerate(names):
            axes[r, c].imshow(images[name], cmap="gray", vmin=window[0], vmax=window[1])
            if r == 0:
                axes[r, c].set_title(name, fontsize=9)
        if with_diff:
            im = axes[r, -1].imshow(images["restored"] - images["reference"], cmap="coolwarm",
                                    vmin=-diff_range, vmax=diff_range)
            if r == 0:
                axes[r, -1].set_title("restored − reference", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if with_diff:
        fig.colorbar(im, ax=axes[:, -1].tolist(), shrink=0.6, label="HU")
    if title:
        fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
