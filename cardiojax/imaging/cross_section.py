"""Area-equivalent lumen radius from cross-sections cut perpendicular to a centreline.

At each centreline point the lumen-fraction volume (1 inside, 0 outside, partial-volume values in between:
a soft segmentation or an anti-aliased mask) is resampled by trilinear interpolation on a square grid in the
plane normal to the centreline; the lumen area ``A`` is the sum of the fractions over the cut's own lumen
(the connected region around the centre — above half the fraction's peak near the centre, at most 0.5, so a
narrow, blurred lesion still has one — widened by the partial-volume rim, so a neighbouring vessel in the
same plane does not count), and the radius is ``√(A/π)`` — the radius of the circle of the same area,
which is what Poiseuille's resistance ∝ 1/A² needs. The maximum-inscribed-sphere radius (the wall distance
at the centre) runs small on any non-circular lumen and in partial-volume voxels.

Also: centreline smoothing and resampling by arc length. Host-side numpy/scipy, vectorised over all points.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Cut grid points per side.
GRID = 33


def smooth_polyline(points, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a polyline's points ``(n, 3)`` with ``sigma`` in points; the end points stay fixed.

    The ends are padded by point reflection, so a straight line is unchanged and the ends do not shrink.
    """
    p = np.asarray(points, np.float64)
    if len(p) < 3 or sigma <= 0:
        return p.copy()
    pad = min(len(p) - 1, int(np.ceil(4 * sigma)))
    head = 2 * p[0] - p[1:pad + 1][::-1]
    tail = 2 * p[-1] - p[-pad - 1:-1][::-1]
    ext = np.concatenate([head, p, tail])
    out = ndimage.gaussian_filter1d(ext, sigma, axis=0, mode="nearest", truncate=4.0)[pad:pad + len(p)]
    out[0], out[-1] = p[0], p[-1]
    return out


def arclength(points) -> np.ndarray:
    """``(n,)`` m: cumulative arc length of a polyline ``(n, 3)`` (m)."""
    p = np.asarray(points, np.float64)
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])


def resample_polyline(points, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points at (nearly) equal arc-length ``step`` (m) along a polyline, ends included: ``(points, arc)``."""
    p = np.asarray(points, np.float64)
    s = arclength(p)
    n = max(int(np.ceil(s[-1] / step)), 1) + 1
    q = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(q, s, p[:, d]) for d in range(3)], axis=1), q


def tangents(points) -> np.ndarray:
    """Unit tangents ``(n, 3)`` of a polyline (central differences inside, one-sided at the ends)."""
    p = np.asarray(points, np.float64)
    d = np.gradient(p, axis=0) if len(p) > 1 else np.array([[1.0, 0.0, 0.0]])
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-30)


def _plane_basis(t) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors ``(n, 3)`` spanning the plane normal to each tangent."""
    helper = np.where(np.abs(t[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    u = np.cross(t, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u, np.cross(t, u)


def area_radius(fraction, spacing, centres, tangent, window, grid: int = GRID) -> np.ndarray:
    """Area-equivalent radius (m) of the lumen cut perpendicular to the centreline at each point.

    Args:
      fraction: ``(nx, ny, nz)`` lumen fraction in [0, 1] (float; a bool mask is accepted).
      spacing: ``(3,)`` m voxel size; ``centres`` are in the volume's index frame scaled by it
        (``ijk · spacing``, m).
      centres: ``(n, 3)`` m centreline points; ``tangent``: ``(n, 3)`` unit tangents there.
      window: ``(n,)`` m half-width of each cut (a few voxels beyond the expected radius).
      grid: cut grid points per side.

    Returns:
      ``(n,)`` m; 0 where the centre is outside the lumen.
    """
    f = np.asarray(fraction, np.float32)
    spacing = np.asarray(spacing, np.float64)
    c = np.asarray(centres, np.float64)
    u, v = _plane_basis(np.asarray(tangent, np.float64))
    w = np.asarray(window, np.float64)
    g = np.linspace(-1.0, 1.0, grid)
    a, b = np.meshgrid(g, g, indexing="ij")
    pts = (c[:, None, None, :] + w[:, None, None, None]
           * (a[None, :, :, None] * u[:, None, None, :] + b[None, :, :, None] * v[:, None, None, :]))
    vals = ndimage.map_coordinates(f, (pts / spacing).reshape(-1, 3).T, order=1, mode="constant", cval=0.0)
    vals = vals.reshape(len(c), grid, grid)
    pixel = 2.0 * w / (grid - 1)  # (n,) m
    mid = grid // 2
    core = vals[:, mid - 2:mid + 3, mid - 2:mid + 3].reshape(len(c), -1)
    peak = core.max(axis=1)  # a narrow, blurred lumen may not reach 0.5: use half its own peak
    inside = vals >= np.clip(0.5 * peak, 0.1, 0.5)[:, None, None]
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    labels, _ = ndimage.label(inside, structure=in_plane)
    at = np.argmax(core, axis=1)
    centre_label = labels[np.arange(len(c)), mid - 2 + at // 5, mid - 2 + at % 5]
    own = (labels == centre_label[:, None, None]) & (centre_label > 0)[:, None, None]
    rim = int(np.ceil(np.max(0.75 * spacing.max() / pixel))) + 1
    own = ndimage.binary_dilation(own, structure=in_plane, iterations=rim)
    area = np.sum(vals * own, axis=(1, 2)) * pixel**2
    return np.sqrt(area / np.pi)


def ray_radius(image, spacing, centres, tangent, window, lumen: float, background: float, upper: float,
               rays: int = 24, samples: int = 64, outside=(1.0e-3, 2.0e-3)) -> np.ndarray:
    """Area-equivalent radius (m) from the lumen's edge found along rays in each cross-section.

    In the plane normal to the centreline, ``rays`` rays leave each centre; along each, the intensity is
    sampled (trilinear) out to ``window``. The ray's edge is the first point where the intensity falls below
    the half-way level ``(lumen + B_ray)/2`` — B_ray the ray's own outside level, the lower quartile of its
    intensities ``outside`` (m, from–to) beyond a first edge found with the global ``background`` (so a vessel
    lying on brighter myocardium is measured against the myocardium on that side and against fat on the
    other) — or rises above ``upper`` (calcium: not lumen). The edges form a polygon whose area A gives
    ``√(A/π)``. Rays that find no edge take the median edge of the others; a cut with fewer than half its
    rays valid, or a centre outside the lumen, gives 0.

    Args:
      image: ``(nx, ny, nz)`` intensities; ``spacing``: ``(3,)`` m; centres ``(n, 3)`` m in the index frame
        scaled by the spacing, with unit tangents ``(n, 3)``; window ``(n,)`` m; lumen, background, upper:
        intensity levels (HU for CT).
    """
    img = np.asarray(image, np.float32)
    c = np.asarray(centres, np.float64)
    u, v = _plane_basis(np.asarray(tangent, np.float64))
    w = np.asarray(window, np.float64)
    theta = 2.0 * np.pi * np.arange(rays) / rays
    d = np.cos(theta)[None, :, None] * u[:, None, :] + np.sin(theta)[None, :, None] * v[:, None, :]  # (n, R, 3)
    rho = w[:, None] * np.linspace(0.0, 1.0, samples)[None, :]  # (n, M)
    pts = c[:, None, None, :] + d[:, :, None, :] * rho[:, None, :, None]  # (n, R, M, 3)
    prof = ndimage.map_coordinates(img, (pts / np.asarray(spacing)).reshape(-1, 3).T, order=1, mode="nearest")
    prof = prof.reshape(len(c), rays, samples)
    rr = np.broadcast_to(rho[:, None, :], prof.shape)
    first = _first_edge(prof, rr, np.full(prof.shape[:2], 0.5 * (lumen + background)), upper)
    lo = first[..., None] + outside[0]
    hi = first[..., None] + outside[1]
    beyond = np.where((rr >= lo) & (rr <= hi), prof, np.nan)
    has = np.any(np.isfinite(beyond), axis=-1)
    b_ray = np.where(has, np.nanpercentile(np.where(has[..., None], beyond, 0.0), 25, axis=-1), background)
    edge = _first_edge(prof, rr, 0.5 * (lumen + np.minimum(b_ray, lumen)), upper)
    ok = np.isfinite(edge)
    med = np.where(ok.sum(1) > 0, np.nanmedian(np.where(ok, edge, np.nan), axis=1), 0.0)
    edge = np.where(ok, edge, med[:, None])
    area = 0.5 * np.sum(edge * np.roll(edge, -1, axis=1), axis=1) * np.sin(2.0 * np.pi / rays)
    radius = np.sqrt(np.maximum(area, 0.0) / np.pi)
    inside = (prof[:, 0, 0] >= 0.5 * (lumen + background)) & (ok.sum(1) >= rays / 2)
    return np.where(inside, radius, 0.0)


def _first_edge(prof, rr, half, upper) -> np.ndarray:
    """Distance (m) along each ray to the first sample below ``half`` (per ray) or above ``upper``,
    interpolated linearly between samples; NaN where there is none."""
    below = (prof < half[..., None]) | (prof > upper)
    below[..., 0] = False
    hit = np.argmax(below, axis=-1)
    found = below.any(axis=-1)
    k = np.maximum(hit, 1)
    p0 = np.take_along_axis(prof, (k - 1)[..., None], -1)[..., 0]
    p1 = np.take_along_axis(prof, k[..., None], -1)[..., 0]
    r0 = np.take_along_axis(rr, (k - 1)[..., None], -1)[..., 0]
    r1 = np.take_along_axis(rr, k[..., None], -1)[..., 0]
    level = np.where(p1 > upper, upper, half)
    t = np.clip((p0 - level) / np.where(p0 != p1, p0 - p1, 1.0), 0.0, 1.0)
    return np.where(found, r0 + t * (r1 - r0), np.nan)
