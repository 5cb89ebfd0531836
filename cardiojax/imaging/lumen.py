"""Lumen occupancy of a vessel tree on a voxel grid, by splatting (3D, float32, jit/vmap-able).

`render_lumen(tree, paths, shape, affine)` draws the anti-aliased occupancy ∈ [0, 1] of the union of a tree's
lumen tubes; `cardiojax.imaging.angio` builds CT angiograms on it. Coordinates: world points are m (LPS, as in
`cardiojax.io.volume`); ``affine`` maps a voxel index (i, j, k) to the world point of that voxel's centre; arrays
are indexed ``[i, j, k]``; ``paths`` are ``(cap, K, 3)`` m centrelines (`cardiojax.tree.paths`).

Model. Each segment is cut into pieces of at most ``piece_length`` (default half a voxel) by arc length
(`cardiojax.tree.point_at`); a piece is a tube between two points whose radius varies linearly between the
lumen radii at its ends (`cardiojax.tree.lumen_radius`, lesions included). The signed distance of a voxel
centre to the tree is the minimum over pieces of (distance to the piece − radius), and the occupancy is
``clip(0.5 − sdf / w, 0, 1)`` with w the (largest) voxel size. That linear ramp adds ``π w²/12`` to the area of a
disc, so each piece uses the radius ``r² / √(r² + w²/12)`` (= √(r² − w²/12) to O(w⁴/r²)): the lumen volume of a
straight tube is then right to a few 0.1 % at r ≥ 3 voxels.

Algorithm (static shapes; compile time independent of the tree). (1) Without gradients, every piece writes a
packed int32 key (quantised sdf << id bits | piece id) into a fixed cube of voxels around it with a scatter-min;
pieces go in chunks through a loop whose trip count is the number of pieces the tree needs. (2) Every voxel
re-evaluates its winning piece exactly and differentiably, x-slice by x-slice under `jax.checkpoint`. The result
is differentiable in the radii (``r_in``, ``r_out``, ``stenosis_*``, ``length``) and the paths, with memory of
the order of the volume.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.io.volume import check_direction
from cardiojax.tree.geometry import lumen_radius
from cardiojax.tree.paths import path_length, point_at
from cardiojax.tree.vessel_tree import VesselTree

VOXEL_RANGE = (0.1e-3, 2.0e-3)  #: m, accepted voxel sizes
MAX_VOXELS = 400**3  #: largest grid accepted (voxels)
DEFAULT_MAX_RADIUS = 3.5e-3  #: m, radius bound used when the tree is traced (generator's largest root radius)
DEFAULT_MAX_LENGTH = 0.06  #: m, segment-length bound used when the tree is traced
_INT_MAX = np.iinfo(np.int32).max
_F32 = jnp.float32


class RenderGrid(NamedTuple):
    """Static (hashable) description of a render: the grid and the splat's fixed sizes (`make_render_grid`)."""

    shape: tuple[int, int, int]  # (nx, ny, nz) voxels
    affine: tuple[tuple[float, ...], ...]  # (4, 4) voxel index → world (m), as nested tuples
    ramp: float  # m, w: width of the occupancy ramp (largest voxel size)
    piece: float  # m, target piece length
    pieces: int  # P, most pieces per segment
    reach: float  # m, splat radius around a piece's midpoint
    chunk: int  # pieces per scatter

    @property
    def matrix(self) -> np.ndarray:
        """``(3, 3)`` float64: the affine's linear part (columns = axis directions × spacing, m)."""
        return np.asarray(self.affine)[:3, :3]

    @property
    def origin(self) -> np.ndarray:
        """``(3,)`` m, world point of voxel (0, 0, 0)."""
        return np.asarray(self.affine)[:3, 3]

    @property
    def spacing(self) -> np.ndarray:
        """``(3,)`` m, voxel size along i, j, k."""
        return np.linalg.norm(self.matrix, axis=0)


def _is_traced(*xs) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(xs))


def _check_grid(shape, affine) -> tuple[tuple[int, int, int], np.ndarray]:
    if (not isinstance(shape, (tuple, list)) or len(shape) != 3
            or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in shape)):
        raise ValueError(f"shape = {shape!r}; expected three positive ints (nx, ny, nz)")
    shape = tuple(int(n) for n in shape)
    if math.prod(shape) > MAX_VOXELS:
        raise ValueError(f"shape = {shape} ({math.prod(shape)} voxels); expected at most {MAX_VOXELS} voxels")
    if _is_traced(affine):
        raise ValueError("affine: traced; expected a concrete (4, 4) array (the grid is static)")
    a = np.asarray(affine, np.float64)
    if a.shape != (4, 4) or not np.all(np.isfinite(a)):
        raise ValueError(f"affine: shape {a.shape}; expected a finite (4, 4) voxel-index → world (m) matrix")
    spacing = np.linalg.norm(a[:3, :3], axis=0)
    if np.any(spacing < VOXEL_RANGE[0]) or np.any(spacing > VOXEL_RANGE[1]):
        raise ValueError(f"affine: voxel size {spacing.tolist()} m; expected each in "
                         f"[{VOXEL_RANGE[0]}, {VOXEL_RANGE[1]}] m (0.1–2 mm)")
    check_direction(a[:3, :3] / spacing)
    return shape, a


def check_paths(tree: VesselTree, paths) -> jax.Array:
    """``paths`` as an array after checking it is ``(capacity, K >= 2, 3)`` for a single ``tree``."""
    paths = jnp.asarray(paths)
    cap = tree.capacity
    if tree.parent.ndim != 1:
        raise ValueError(f"tree: batch shape {tree.batch_shape}; expected a single tree (vmap for batches)")
    if paths.ndim != 3 or paths.shape[0] != cap or paths.shape[1] < 2 or paths.shape[2] != 3:
        raise ValueError(f"paths: shape {paths.shape}; expected (capacity={cap}, K >= 2, 3) m")
    return paths


def make_render_grid(tree: VesselTree, paths, shape, affine, max_radius=None, max_length=None,
                     piece_length=None) -> RenderGrid:  # fmt: skip
    """The static `RenderGrid` of a render (arguments as in `render_lumen`).

    Checks the grid (ValueError naming the field) and takes the radius and length bounds from the tree when
    it is concrete (rounded up, so that similar trees share a compile) or the defaults when it is traced.
    """
    shape, a = _check_grid(shape, affine)
    spacing = np.linalg.norm(a[:3, :3], axis=0)
    traced = _is_traced(tree, paths)
    valid = None if traced else np.asarray(tree.valid)
    if max_radius is None:
        rmax = DEFAULT_MAX_RADIUS if traced or not valid.any() else float(
            np.max(np.maximum(np.asarray(tree.r_in), np.asarray(tree.r_out))[valid]))
        max_radius = math.ceil(rmax / 2.5e-4 + 1e-6) * 2.5e-4  # round up to 0.25 mm: fewer recompiles
    if max_length is None:
        lmax = DEFAULT_MAX_LENGTH if traced or not valid.any() else float(np.max(np.asarray(path_length(paths))[valid]))
        max_length = math.ceil(lmax / 5e-3 + 1e-6) * 5e-3  # round up to 5 mm
    for name, value, lo, hi in (("max_radius", max_radius, 1e-5, 0.02), ("max_length", max_length, 1e-4, 1.0)):
        if not (isinstance(value, (int, float)) and lo <= value <= hi):
            raise ValueError(f"{name} = {value!r} m; expected a number in [{lo}, {hi}] m")
    ramp = float(np.max(spacing))
    piece = 0.5 * float(np.min(spacing)) if piece_length is None else float(piece_length)
    if not 0.01 * ramp <= piece <= 4 * ramp:
        raise ValueError(f"piece_length = {piece_length!r} m; expected 0.01–4 voxel sizes ({ramp:g} m)")
    pieces = max(1, math.ceil(max_length / piece - 1e-9))
    reach = float(max_radius) + 0.5 * piece + 0.5 * ramp + 1e-3 * ramp
    cube = math.prod(int(2 * reach / s) + 2 for s in spacing)
    chunk = max(1, min(pieces * tree.capacity, (1 << 20) // cube))
    return RenderGrid(shape, tuple(map(tuple, a.tolist())), ramp, piece, pieces, reach, chunk)


# ---------------------------------------------------------------- lumen


def _pieces(tree: VesselTree, paths, g: RenderGrid):
    """Pieces (≤ g.piece long) of the valid segments, packed first: ``(p0, p1, r0, r1, count)``, m."""
    cap, n = tree.capacity, tree.capacity * g.pieces
    length = lax.stop_gradient(path_length(paths))
    counts = jnp.where(tree.valid, jnp.clip(jnp.ceil(length / g.piece), 1, g.pieces), 0).astype(jnp.int32)
    ends = jnp.cumsum(counts)
    j = jnp.arange(n)
    seg = jnp.clip(jnp.searchsorted(ends, j, side="right"), 0, cap - 1)
    k = (j - (ends - counts)[seg]).astype(_F32)
    per = jnp.maximum(counts[seg], 1).astype(_F32)
    frac = jnp.clip(jnp.stack([k / per, (k + 1) / per], axis=-1), 0.0, 1.0)  # (n, 2)
    pts = point_at(paths[seg], frac.astype(paths.dtype)).astype(_F32)  # (n, 2, 3)
    rad = lumen_radius(jax.tree.map(lambda x: x[seg], tree), frac.astype(tree.r_in.dtype)).astype(_F32)
    return pts[:, 0], pts[:, 1], rad[:, 0], rad[:, 1], ends[-1]


def _piece_sdf(x, p0, p1, r0, r1, ramp: float):
    """Signed distance (m) of points ``x`` to tapered pieces, with the ramp's volume-preserving radius."""
    d = p1 - p0
    v = x - p0
    t = jnp.clip(jnp.sum(v * d, -1) / jnp.maximum(jnp.sum(d * d, -1), 1e-20), 0.0, 1.0)
    off = v - t[..., None] * d
    dist = jnp.sqrt(jnp.maximum(jnp.sum(off * off, -1), 1e-20))
    r = r0 + t * (r1 - r0)
    return dist - r * r / jnp.sqrt(r * r + ramp * ramp / 12.0)


def _bits(n: int) -> tuple[int, int]:
    """(id bits, level bits) of the packed int32 keys for n pieces."""
    id_bits = max(1, math.ceil(math.log2(n + 1)))
    if 31 - id_bits < 10:
        raise ValueError(f"{n} pieces; expected at most 2**21 (raise piece_length or lower max_length)")
    return id_bits, 31 - id_bits


def _cube(g: RenderGrid, reach: float):
    """Static cube of index offsets around a point: ``(offsets (S³, 3) int32, half-sizes (3,) voxels)``."""
    a = g.matrix
    spacing = np.linalg.norm(a, axis=0)
    half = reach / spacing
    sizes = [int(2 * h) + 2 for h in half]
    offs = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, 3)
    return jnp.asarray(offs, jnp.int32), jnp.asarray(half, _F32)


def splat(g: RenderGrid, reach: float, centres, count, value_fn, init, combine: str):
    """Scatter (no gradient) ``value_fn(ids, x)`` over a cube of voxels around each centre; loops over ``count`` items.

    ``centres`` ``(n, 3)`` m; ``value_fn(ids (C,), x (C, S³, 3) m) -> (C, S³)``; items ≥ count are skipped.
    Returns the flat volume after ``combine`` ('min' or 'max') of every value into ``init``.
    """
    a, o = g.matrix, g.origin
    size, n, chunk = math.prod(g.shape), centres.shape[0], min(g.chunk, centres.shape[0])
    offs, half = _cube(g, reach)
    offs_world = offs.astype(_F32) @ jnp.asarray(a.T, _F32)
    inv = jnp.asarray(np.linalg.inv(a).T, _F32)
    dims = jnp.asarray(g.shape, jnp.int32)
    pad = (-n) % chunk
    centres = jnp.concatenate([centres, jnp.zeros((pad, 3), _F32)]) if pad else centres

    def body(c, vol):
        mid = lax.dynamic_slice_in_dim(centres, c * chunk, chunk)
        ids = c * chunk + jnp.arange(chunk)
        base = jnp.floor((mid - jnp.asarray(o, _F32)) @ inv - half).astype(jnp.int32)
        x = (base.astype(_F32) @ jnp.asarray(a.T, _F32) + jnp.asarray(o, _F32))[:, None] + offs_world[None]
        idx = base[:, None] + offs[None]
        inside = jnp.all((idx >= 0) & (idx < dims), -1) & (ids < count)[:, None]
        flat = jnp.where(inside, (idx[..., 0] * g.shape[1] + idx[..., 1]) * g.shape[2] + idx[..., 2], size)
        update = vol.at[flat.reshape(-1)]
        value = value_fn(jnp.minimum(ids, n - 1), x).reshape(-1)
        return update.min(value, mode="drop") if combine == "min" else update.max(value, mode="drop")

    return lax.fori_loop(0, (count + chunk - 1) // chunk, body, init)


def _lumen_keys(p0, p1, r0, r1, count, g: RenderGrid):
    """Pass 1 (no gradient): flat int32 keys ``(level << id_bits) | piece`` of each voxel's closest piece."""
    p0, p1, r0, r1 = (lax.stop_gradient(v) for v in (p0, p1, r0, r1))
    id_bits, level_bits = _bits(p0.shape[0])
    top = (1 << level_bits) - 2  # the largest key stays below the empty marker _INT_MAX

    def keys(ids, x):
        sdf = _piece_sdf(x, p0[ids][:, None], p1[ids][:, None], r0[ids][:, None], r1[ids][:, None], g.ramp)
        level = jnp.clip(jnp.round((sdf / g.ramp + 2.0) * (top / 4.0)), 0, top).astype(jnp.int32)
        return jnp.left_shift(level, id_bits) | ids[:, None].astype(jnp.int32)

    init = jnp.full(math.prod(g.shape), _INT_MAX, jnp.int32)
    return splat(g, g.reach, 0.5 * (p0 + p1), count, keys, init, "min").reshape(g.shape), id_bits


def _lumen_occupancy(keys, id_bits: int, p0, p1, r0, r1, g: RenderGrid):
    """Pass 2 (differentiable): each voxel's occupancy from its winning piece, x-slice by x-slice."""
    a, o = g.matrix, g.origin
    a, o = jnp.asarray(a, _F32), jnp.asarray(o, _F32)
    _, ny, nz = g.shape
    jj, kk = jnp.meshgrid(jnp.arange(ny, dtype=_F32), jnp.arange(nz, dtype=_F32), indexing="ij")
    mask = (1 << id_bits) - 1

    @jax.checkpoint
    def one(i):
        key = keys[i]
        has = key != _INT_MAX
        ids = jnp.where(has, key & mask, 0)
        x = o + a[:, 0] * i.astype(_F32) + a[:, 1] * jj[..., None] + a[:, 2] * kk[..., None]
        sdf = _piece_sdf(x, p0[ids], p1[ids], r0[ids], r1[ids], g.ramp)
        return jnp.where(has, jnp.clip(0.5 - sdf / g.ramp, 0.0, 1.0), 0.0)

    return lax.map(one, jnp.arange(g.shape[0]), batch_size=min(8, g.shape[0]))


@functools.partial(jax.jit, static_argnames=("g",))
def lumen_on_grid(tree: VesselTree, paths, g: RenderGrid) -> jax.Array:
    """`render_lumen` on a prepared `RenderGrid` (jit-compiled; one compile per grid and capacity)."""
    p0, p1, r0, r1, count = _pieces(tree, paths, g)
    keys, id_bits = _lumen_keys(p0, p1, r0, r1, count, g)
    return _lumen_occupancy(keys, id_bits, p0, p1, r0, r1, g)


def render_lumen(tree: VesselTree, paths, shape, affine, *, max_radius=None, max_length=None,
                 piece_length=None) -> jax.Array:  # fmt: skip
    """Anti-aliased lumen occupancy ∈ [0, 1] of every voxel (see the module docstring).

    Args:
      tree: a single tree (radii in m; `vmap` for batches of the same capacity).
      paths: ``(cap, K, 3)`` m, the segments' centrelines (`cardiojax.tree.straight_paths` for straight ones).
      shape: ``(nx, ny, nz)`` voxels (static).
      affine: ``(4, 4)`` voxel index → world (m), concrete; voxel sizes 0.1–2 mm, orthonormal directions.
      max_radius: static bound (m) on the lumen radius — the splat's reach. Default: the tree's largest
        ``r_in``/``r_out`` rounded up to 0.25 mm, or `DEFAULT_MAX_RADIUS` under `jit`/`vmap`. A wider lumen
        is cut off at the splat's reach; give a margin when fitting radii by gradient descent.
      max_length: static bound (m) on a segment's path length; default as for max_radius (5 mm steps,
        `DEFAULT_MAX_LENGTH` when traced). Longer segments get longer pieces and may show gaps.
      piece_length: m, target piece length (default half the smallest voxel size).

    Returns:
      ``(nx, ny, nz)`` float32; differentiable in the tree's radii, lesions and lengths, and in ``paths``.
    """
    paths = check_paths(tree, paths)
    return lumen_on_grid(tree, paths, make_render_grid(tree, paths, shape, affine, max_radius, max_length, piece_length))


