"""Multiscale Hessian vesselness (Frangi et al. 1998) of a 3D image, in JAX.

At each scale σ (m) the image is differentiated twice with Gaussian derivative filters (separable 1D
convolutions, anisotropic voxels allowed), the Hessian is normalised by σ² (so responses compare across
scales), and its eigenvalues ``|λ1| ≤ |λ2| ≤ |λ3|`` (closed form for symmetric 3 × 3 matrices) give, for
bright tubes on a dark background (λ2, λ3 < 0),

    V = (1 − exp(−Ra²/2α²)) · exp(−Rb²/2β²) · (1 − exp(−S²/2c²)),
    Ra = |λ2|/|λ3| (plate vs line), Rb = |λ1|/√|λ2λ3| (blob vs line), S = √(λ1² + λ2² + λ3²) (structure),

and 0 elsewhere. The vesselness is the maximum over scales. ``c`` is in image units (HU); by default half
the largest S of the volume, as Frangi proposed. float32, `jit`-compiled per shape.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def _kernels(sigma_vox: float):
    """Gaussian, first and second derivative taps (voxel units) for one axis (numpy float64)."""
    half = max(int(np.ceil(4.0 * sigma_vox)), 1)
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma_vox) ** 2)
    g /= g.sum()
    d1 = -x / sigma_vox**2 * g
    d2 = (x**2 / sigma_vox**4 - 1.0 / sigma_vox**2) * g
    d2 -= d2.mean()  # exact zero response to a constant
    return g, d1, d2


def _filter_matrix(n: int, taps: np.ndarray) -> np.ndarray:
    """``(n, n)`` matrix of the convolution with ``taps`` on n samples, edges replicated."""
    half = (len(taps) - 1) // 2
    m = np.zeros((n, n))
    rows = np.arange(n)
    for k, t in enumerate(taps):  # over filter taps (static, a few dozen)
        np.add.at(m, (rows, np.clip(rows + half - k, 0, n - 1)), t)
    return m


def _apply(x, taps: np.ndarray, axis: int):
    """Filter a 3D array along ``axis`` with ``taps`` (edges replicated), as one matrix product: a banded
    matrix, but a dense product is what CPUs and GPUs run fastest, and it compiles in constant time."""
    m = jnp.asarray(_filter_matrix(x.shape[axis], taps), x.dtype)
    return jnp.moveaxis(jnp.tensordot(m, x, axes=([1], [axis])), 0, axis)


def hessian(image, sigma_vox) -> tuple[jax.Array, ...]:
    """``(Hxx, Hyy, Hzz, Hxy, Hxz, Hyz)`` of the Gaussian-smoothed image, per voxel² (voxel units).

    ``sigma_vox``: the Gaussian σ along each axis, in voxels (3 floats, static). Separable: 15 one-axis passes,
    the x and y passes shared between components.
    """
    taps = [_kernels(float(s)) for s in sigma_vox]
    x = [_apply(image, taps[0][o], 0) for o in range(3)]
    xy = {(i, j): _apply(x[i], taps[1][j], 1) for i, j in ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0))}
    orders = ((2, 0, 0), (0, 2, 0), (0, 0, 2), (1, 1, 0), (1, 0, 1), (0, 1, 1))
    return tuple(_apply(xy[(i, j)], taps[2][k], 2) for i, j, k in orders)


def symmetric_eigenvalues(xx, yy, zz, xy, xz, yz):
    """Eigenvalues of symmetric 3 × 3 matrices given by their six entries, sorted by absolute value."""
    q = (xx + yy + zz) / 3.0
    p1 = xy**2 + xz**2 + yz**2
    p2 = (xx - q) ** 2 + (yy - q) ** 2 + (zz - q) ** 2 + 2.0 * p1
    p = jnp.sqrt(jnp.maximum(p2 / 6.0, 0.0))
    safe = jnp.where(p > 0, p, 1.0)
    bxx, byy, bzz = (xx - q) / safe, (yy - q) / safe, (zz - q) / safe
    bxy, bxz, byz = xy / safe, xz / safe, yz / safe
    det = bxx * (byy * bzz - byz**2) - bxy * (bxy * bzz - byz * bxz) + bxz * (bxy * byz - byy * bxz)
    phi = jnp.arccos(jnp.clip(det / 2.0, -1.0, 1.0)) / 3.0
    e1 = q + 2.0 * p * jnp.cos(phi)
    e3 = q + 2.0 * p * jnp.cos(phi + 2.0 * jnp.pi / 3.0)
    e2 = 3.0 * q - e1 - e3
    e1, e2, e3 = (jnp.where(p > 0, e, q) for e in (e1, e2, e3))

    def swap(a, b):  # order a pair by absolute value
        keep = jnp.abs(a) <= jnp.abs(b)
        return jnp.where(keep, a, b), jnp.where(keep, b, a)

    e1, e2 = swap(e1, e2)  # a three-element sorting network
    e2, e3 = swap(e2, e3)
    e1, e2 = swap(e1, e2)
    return jnp.stack([e1, e2, e3], axis=-1)


def _frangi_one(image, sigma_vox, alpha, beta, c):
    sx, sy, sz = sigma_vox  # σ²-normalised physical Hessian: H_ab · (σ/Δa)(σ/Δb)
    h = [f * x for f, x in zip((sx * sx, sy * sy, sz * sz, sx * sy, sx * sz, sy * sz), hessian(image, sigma_vox))]
    lam = symmetric_eigenvalues(*h)
    l1, l2, l3 = lam[..., 0], lam[..., 1], lam[..., 2]
    a2, a3 = jnp.abs(l2), jnp.abs(l3)
    ra = a2 / jnp.maximum(a3, 1e-12)
    rb = jnp.abs(l1) / jnp.sqrt(jnp.maximum(a2 * a3, 1e-12))
    s2 = jnp.sum(lam**2, axis=-1)
    v = (1 - jnp.exp(-(ra**2) / (2 * alpha**2))) * jnp.exp(-(rb**2) / (2 * beta**2)) * (1 - jnp.exp(-s2 / (2 * c**2)))
    return jnp.where((l2 < 0) & (l3 < 0), v, 0.0), jnp.sqrt(s2)


@functools.partial(jax.jit, static_argnames=("sigmas_vox",))
def _frangi(image, sigmas_vox, alpha, beta, c):
    best = jnp.zeros_like(image)
    for sv in sigmas_vox:  # a handful of scales, unrolled at trace time
        v, _ = _frangi_one(image, sv, alpha, beta, c)
        best = jnp.maximum(best, v)
    return best


@functools.partial(jax.jit, static_argnames=("sigmas_vox",))
def _structure_max(image, sigmas_vox):
    out = jnp.zeros((), image.dtype)
    for sv in sigmas_vox:
        out = jnp.maximum(out, jnp.max(_frangi_one(image, sv, 0.5, 0.5, 1.0)[1]))
    return out


def frangi(image, spacing, scales=(0.5e-3, 1.0e-3, 1.5e-3), alpha: float = 0.5, beta: float = 0.5,
           c: float | None = None) -> jax.Array:
    """Frangi vesselness of bright vessels, the maximum over ``scales``.

    Args:
      image: ``(nx, ny, nz)`` intensities (HU for CT).
      spacing: ``(3,)`` m voxel size.
      scales: Gaussian σ values (m); a tube of radius r responds most near σ ≈ r/√2.
      alpha, beta: sensitivities to Ra (plates) and Rb (blobs).
      c: structure sensitivity in image units; default half the largest Hessian norm over the volume (measured
        on every second voxel, an eighth of the work).

    Returns:
      ``(nx, ny, nz)`` float32 vesselness in [0, 1).
    """
    image = jnp.asarray(image, jnp.float32)
    if image.ndim != 3:
        raise ValueError(f"image: shape {tuple(image.shape)}; expected a 3D volume")
    spacing = np.asarray(spacing, np.float64)
    if spacing.shape != (3,) or np.any(spacing <= 0):
        raise ValueError(f"spacing: {spacing.tolist()}; expected three voxel sizes > 0 (m)")
    if not scales or any(s <= 0 for s in scales):
        raise ValueError(f"scales: {scales}; expected Gaussian σ values > 0 (m)")
    sig = tuple(tuple(float(s / d) for d in spacing) for s in scales)
    if c is None:  # Frangi's choice, half the largest Hessian norm, estimated on a 2×-subsampled volume
        coarse = tuple(tuple(max(v / 2.0, 0.5) for v in sv) for sv in sig)
        c = 0.5 * float(_structure_max(image[::2, ::2, ::2], coarse))
    return _frangi(image, sig, alpha, beta, max(c, 1e-6))
