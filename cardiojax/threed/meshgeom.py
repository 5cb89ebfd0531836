"""Mesh geometry kernels for `cardiojax.threed.voxelise.voxelise_mesh` (vectorised, chunked numpy; lattice units).

Everything works on triangles (T, 3, 3) or tetrahedra (T, 4, 3) already in lattice coordinates of a box of
``shape`` voxels (voxel centres at the integer points): inside tests by ray parity along an axis or by
barycentric coordinates, unsigned distance to triangles within a band, exact link–triangle intersections,
and surface topology (boundary faces and edges, closing the holes of an open surface). Candidate pairs
(triangle, voxel) come from each triangle's bounding box, so the work scales with the surface, not with
the box.
"""

from __future__ import annotations

import numpy as np

#: Items (pairs) per vectorised batch.
CHUNK = 1 << 20

def box_pairs(lo, hi):
    """All integer points of the boxes [lo, hi] (T, d) (inclusive; empty if hi < lo): (owner (P,), points (P, d))."""
    size = np.maximum(hi - lo + 1, 0)
    count = np.prod(size, axis=1)
    owner = np.repeat(np.arange(lo.shape[0]), count)
    local = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    pts = np.empty((owner.size, lo.shape[1]), np.int64)
    for k in range(lo.shape[1] - 1, -1, -1):
        pts[:, k] = lo[owner, k] + local % size[owner, k]
        local = local // size[owner, k]
    return owner, pts


def _chunks(n_items, sizes):
    """Slices of items whose summed ``sizes`` stay near `CHUNK` (at least one item each)."""
    bounds = np.searchsorted(np.cumsum(sizes), np.arange(1, 1 + int(np.sum(sizes)) // CHUNK) * CHUNK)
    edges = np.unique(np.concatenate([[0], bounds + 1, [n_items]]).clip(0, n_items))
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _ranges(tri, shape, pad, axes=(0, 1, 2)):
    """Integer bounding boxes (T, len(axes)) of triangles/tets (T, k, 3) grown by ``pad``, clipped to the box."""
    hi_box = np.array(shape)[list(axes)] - 1
    lo = np.maximum(np.ceil(tri[:, :, axes].min(1) - pad), 0).astype(np.int64)
    hi = np.minimum(np.floor(tri[:, :, axes].max(1) + pad), hi_box).astype(np.int64)
    return lo, hi


def parity_inside(tri, shape, ray: int) -> np.ndarray:
    """Inside (odd number of crossings below) along rays parallel to axis ``ray`` through the voxel centres
    (shifted by ~1e-6 voxel to avoid edges and vertices), for a closed surface ``tri`` (T, 3, 3)."""
    u, v = [k for k in range(3) if k != ray]
    jit = np.array([1.31e-6, 0.77e-6]) * (ray + 1)
    count = np.zeros(tuple(n + (k == ray) for k, n in enumerate(shape)), np.uint8)
    lo, hi = _ranges(tri, shape, 1e-5, (u, v))
    sizes = np.prod(np.maximum(hi - lo + 1, 0), axis=1)
    for sl in _chunks(len(tri), sizes):
        owner, cols = box_pairs(lo[sl], hi[sl])
        t = tri[sl][owner]
        c = cols + jit
        p0 = t[:, 0, [u, v]]
        e0, e1, e2 = t[:, 2, [u, v]] - p0, t[:, 1, [u, v]] - p0, c - p0
        den = e0[:, 0] * e1[:, 1] - e0[:, 1] * e1[:, 0]
        ok = np.abs(den) > 1e-14
        den = np.where(ok, den, 1.0)
        a = (e2[:, 0] * e1[:, 1] - e1[:, 0] * e2[:, 1]) / den
        b = (e0[:, 0] * e2[:, 1] - e0[:, 1] * e2[:, 0]) / den
        hit = ok & (a >= 0) & (b >= 0) & (a + b <= 1)
        r = t[:, 0, ray] + a * (t[:, 2, ray] - t[:, 0, ray]) + b * (t[:, 1, ray] - t[:, 0, ray])
        k = np.clip(np.ceil(r[hit]), 0, shape[ray]).astype(np.int64)
        index = [None, None, None]
        index[u], index[v], index[ray] = cols[hit, 0], cols[hit, 1], k
        np.add.at(count, tuple(index), 1)
    below = np.cumsum(count, axis=ray, dtype=np.uint8)
    return (np.take(below, np.arange(shape[ray]), axis=ray) & 1).astype(bool)


def tets_inside(tets, shape) -> np.ndarray:
    """Voxel centres inside any tetrahedron (T, 4, 3) (barycentric coordinates ≥ −1e-12)."""
    inside = np.zeros(shape, bool)
    m = np.stack([tets[:, 1] - tets[:, 0], tets[:, 2] - tets[:, 0], tets[:, 3] - tets[:, 0]], axis=2)
    det = np.linalg.det(m)
    keep = np.abs(det) > 1e-14 * np.abs(m).max() ** 3
    tets, m = tets[keep], m[keep]
    inv = np.linalg.inv(m)
    lo, hi = _ranges(tets, shape, 0.0)
    sizes = np.prod(np.maximum(hi - lo + 1, 0), axis=1)
    for sl in _chunks(len(tets), sizes):
        owner, pts = box_pairs(lo[sl], hi[sl])
        lam = np.einsum("pij,pj->pi", inv[sl][owner], pts - tets[sl][owner, 0])
        ok = (lam >= -1e-12).all(1) & (lam.sum(1) <= 1 + 1e-12)
        inside[tuple(pts[ok].T)] = True
    return inside


def _dot(a, b):
    return np.einsum("ij,ij->i", a, b)


def _seg_dist(p, a, ab, ab2):
    """Distance from points p to segments a + t·ab (t ∈ [0, 1]), ``ab2`` = |ab|²."""
    ap = p - a
    t = np.clip(_dot(ap, ab) / np.maximum(ab2, 1e-300), 0.0, 1.0)
    d = ap - t[:, None] * ab
    return np.sqrt(_dot(d, d))


def _tri_dist(p, owner, tri, band):
    """Distance from points p (m, 3) to the triangles ``tri[owner]`` (tri (T, 3, 3)); ``band`` beyond band."""
    a, ab, ac, bc = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], tri[:, 2] - tri[:, 1]
    n = np.cross(ab, ac)
    n /= np.linalg.norm(n, axis=1)[:, None]
    d00, d01, d11 = _dot(ab, ab), _dot(ab, ac), _dot(ac, ac)
    den = d00 * d11 - d01 * d01
    ap = p - a[owner]
    plane = np.abs(_dot(ap, n[owner]))
    out = np.full(len(p), band)
    near = np.flatnonzero(plane < band)  # the distance is at least the distance to the plane
    o, ap, p = owner[near], ap[near], p[near]
    d20, d21 = _dot(ap, ab[o]), _dot(ap, ac[o])
    v, w = (d11[o] * d20 - d01[o] * d21) / den[o], (d00[o] * d21 - d01[o] * d20) / den[o]
    dist = plane[near]
    e = ~((v >= 0) & (w >= 0) & (v + w <= 1))
    oe, pe = o[e], p[e]
    dist[e] = np.minimum(np.minimum(_seg_dist(pe, a[oe], ab[oe], d00[oe]), _seg_dist(pe, a[oe], ac[oe], d11[oe])),
                         _seg_dist(pe, tri[oe, 1], bc[oe], _dot(bc[oe], bc[oe])))
    out[near] = np.minimum(dist, band)
    return out


def wall_distance(walls, shape, band) -> np.ndarray:
    """Unsigned distance (voxels) to the wall triangles, exact up to ``band``, ``band`` beyond."""
    dist = np.full(int(np.prod(shape)), band)
    lo, hi = _ranges(walls, shape, band)
    sizes = np.prod(np.maximum(hi - lo + 1, 0), axis=1)
    for sl in _chunks(len(walls), sizes):
        owner, pts = box_pairs(lo[sl], hi[sl])
        d = _tri_dist(pts.astype(float), owner, walls[sl], band)
        keep = d < band
        np.minimum.at(dist, np.ravel_multi_index(tuple(pts[keep].T), shape), d[keep])
    return dist.reshape(shape)


def _ray_tri(o, d, t):
    """Parameter s ∈ [0, 1] where the links o + s·d (m, 3) first cross triangles t (m, 3, 3), inf if not."""
    e1, e2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    p = np.cross(d, e2)
    det = np.sum(e1 * p, 1)
    ok = np.abs(det) > 1e-14
    inv = 1.0 / np.where(ok, det, 1.0)
    s = o - t[:, 0]
    u = np.sum(s * p, 1) * inv
    q = np.cross(s, e1)
    v = np.sum(d * q, 1) * inv
    r = np.sum(e2 * q, 1) * inv
    eps = 1e-10
    hit = ok & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps) & (r >= 0) & (r <= 1 + eps)
    return np.where(hit, r, np.inf)


def link_crossing(walls, shape, near):
    """``crossing(x0, ci)`` for the link fractions of `cardiojax.threed.voxelise`: candidate walls per voxel
    (triangle boxes grown by one voxel, restricted to the voxels of ``near``), then the exact link–triangle
    intersection (½ if none)."""
    lo, hi = _ranges(walls, shape, 1.0)
    sizes = np.prod(np.maximum(hi - lo + 1, 0), axis=1)
    owners, cells = [], []
    for sl in _chunks(len(walls), sizes):
        owner, pts = box_pairs(lo[sl], hi[sl])
        flat = np.ravel_multi_index(tuple(pts.T), shape)
        keep = near.ravel()[flat]
        owners.append(owner[keep] + sl.start)
        cells.append(flat[keep])
    owner, cell = np.concatenate(owners), np.concatenate(cells)
    order = np.argsort(cell, kind="stable")
    owner, cell = owner[order], cell[order]

    def crossing(x0, ci):
        flat = np.ravel_multi_index(tuple(x0.astype(np.int64)), shape)
        first, last = np.searchsorted(cell, flat, "left"), np.searchsorted(cell, flat, "right")
        n = last - first
        link = np.repeat(np.arange(flat.size), n)
        pair = np.arange(link.size) - np.repeat(np.cumsum(n) - n, n) + np.repeat(first, n)
        r = _ray_tri(x0.T[link], np.broadcast_to(ci, (link.size, 3)), walls[owner[pair]])
        out = np.full(flat.size, np.inf)
        np.minimum.at(out, link, r)
        return np.where(np.isfinite(out), out, 0.5)

    return crossing


def boundary_faces(faces):
    """Faces (or edges) used exactly once: rows of ``faces`` (m, k) whose sorted vertex set is unique."""
    key = np.sort(faces, axis=1)
    _, inv, count = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return faces[count[inv.ravel()] == 1]


def close_holes(pts, tris):
    """Close every boundary loop of a triangle surface by a fan from the loop's centroid."""
    edges = boundary_faces(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]))
    if len(edges) == 0:
        return pts, tris
    nxt = {int(a): int(b) for a, b in edges}
    new_pts, new_tris, seen = [pts], [tris], set()
    count = len(pts)
    for a0 in list(nxt):  # a few loops (open tube ends), host side
        if a0 in seen:
            continue
        loop, a = [], a0
        while a not in seen and a in nxt:
            seen.add(a)
            loop.append(a)
            a = nxt[a]
        centre = pts[loop].mean(0)
        new_pts.append(centre[None])
        new_tris.append(np.stack([np.array(loop), np.roll(loop, -1), np.full(len(loop), count)], axis=1))
        count += 1
    return np.concatenate(new_pts), np.concatenate(new_tris)
