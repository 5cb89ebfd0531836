"""Voxelise a `VesselTree` or a meshio mesh for the lattice: solid mask, wall link fractions, level set, open ends.

Both routes return a `Voxels`: host numpy arrays on a box of voxels whose centres are the integer lattice
points (lattice units, Δx = 1), with the flow entering through the face x = 0 and leaving through open
ends on the other five faces (`outlet_mask`, for ``lbm.Params.outlet_mask``).

* `voxelise_tree` — each valid segment is a tapered tube with its cosine lesion (the radius profile of
  `cardiojax.tree.lumen_radius`, via `cardiojax.threed.geometry.stenosed_radius`) around the straight line
  from its ``start`` to its ``end`` point, closed by spherical caps (so joints are closed and smooth); the
  lumen is their union (the minimum of the level sets). The tree is rotated and translated so that the
  root runs along +x and starts on the face x = 0; the root is continued straight upstream to that face,
  and every outlet by a tube of its end radius, from its end to the box face its direction meets first,
  along that face's normal, so every outlet is open on a box face and leaves it perpendicularly.
* `voxelise_mesh` — a closed or open-ended triangle surface, or a tetrahedral volume mesh, in metres. The
  inside test is ray parity along the three lattice axes with a majority vote (surfaces; open ends are
  closed by flat caps first) or point-in-tetrahedron by barycentric coordinates (volumes). Flat ends that
  lie on the mesh's bounding box (perpendicular to an axis) are the open ends: the box is cut just inside
  them, so they become the inlet (low end of the flow ``axis``) and outlets.

Wall link fractions q ∈ (0, 1] (the ``wall_q`` of `cardiojax.threed.lbm.stream`) are exact: bisection on
the analytic level set for trees, segment–triangle intersection for meshes. The level set ``phi`` is
negative in the lumen and exact within ``band`` voxels of the wall (everywhere in the lumen of a tree);
further away it is the distance to the nearest voxel across the wall less ½ (within about ½ voxel).
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import numpy as np

from cardiojax.threed import meshgeom
from cardiojax.threed.geometry import stenosed_radius
from cardiojax.threed.lattice import OPP, C, Q

#: Fewest voxels accepted across the narrowest lumen (diameter / dx).
MIN_VOXELS_ACROSS = 4.0
#: Voxel centres closer than this to a mesh wall (voxels) are wall voxels.
ON_WALL = 1e-3
#: Largest box accepted (voxels).
MAX_VOXELS = 200_000_000
_CHUNK = meshgeom.CHUNK  # points per vectorised numpy batch
#: Box faces that may hold outlets: (axis, side), side 0 the low face, 1 the high face.
_OUTLET_FACES = ((0, 1), (1, 0), (1, 1), (2, 0), (2, 1))


@dataclasses.dataclass(frozen=True, eq=False)
class Voxels:
    """A voxelised lumen (host numpy arrays; lattice units unless stated).

    ``solid`` (nx, ny, nz) bool: wall voxels. ``wall_q`` (19, nx, ny, nz) float32: Bouzidi link fractions
    (`cardiojax.threed.geometry.link_fractions` convention; ½ on links that do not cross the wall).
    ``phi`` (nx, ny, nz) float32: level set in voxels, negative in the lumen (``solid == phi >= 0``).
    ``origin`` (3,) m: physical position of the centre of voxel (0, 0, 0); ``dx`` m: voxel size;
    ``rotation`` (3, 3): row k is the physical direction of lattice axis k, so voxel i is at
    ``origin + dx·(i @ rotation)``. ``inlet_mask`` (ny, nz) bool: fluid voxels of the face x = 0;
    ``outlet_mask`` (nx, ny, nz) bool: fluid voxels on the other five faces (open ends)."""

    solid: np.ndarray
    wall_q: np.ndarray
    phi: np.ndarray
    origin: np.ndarray
    dx: float
    inlet_mask: np.ndarray
    outlet_mask: np.ndarray
    rotation: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.solid.shape)

    @property
    def n_fluid(self) -> int:
        """Number of fluid voxels."""
        return int(np.count_nonzero(~self.solid))

    @property
    def porosity(self) -> float:
        """Fluid fraction of the box."""
        return self.n_fluid / self.solid.size

    @property
    def fluid_volume(self) -> float:
        """Fluid volume (m³): fluid voxels × dx³."""
        return self.n_fluid * self.dx**3

    def to_physical(self, ix, iy, iz) -> np.ndarray:
        """Physical positions (…, 3) m of voxel indices (or fractional lattice coordinates)."""
        i = np.stack(np.broadcast_arrays(*(np.asarray(v, float) for v in (ix, iy, iz))), axis=-1)
        return self.origin + self.dx * (i @ self.rotation)

    def to_lattice(self, points) -> np.ndarray:
        """Lattice coordinates (…, 3) (voxel units, fractional) of physical points (…, 3) m."""
        return ((np.asarray(points, float) - self.origin) @ self.rotation.T) / self.dx

    def params(self, tau, force=None, outlet_drho=0.0, dtype=None):
        """`cardiojax.threed.lbm.Params` for this geometry: walls with link fractions, a velocity inlet at
        x = 0 (zero until set, e.g. by ``lbm.run_inlet``) and pressure outlets ``outlet_drho`` on
        `outlet_mask`; ``force`` (3,) lattice acceleration (default 0); ``dtype`` default float32."""
        import jax.numpy as jnp

        from cardiojax.threed.lbm import Params

        dtype = jnp.float32 if dtype is None else dtype
        force = jnp.zeros(3, dtype) if force is None else jnp.asarray(force, dtype)
        return Params(jnp.asarray(tau, dtype), force, jnp.asarray(self.solid), jnp.asarray(self.wall_q, dtype),
                      inlet_velocity=jnp.zeros((3,) + self.inlet_mask.shape, dtype),
                      outlet_drho=jnp.asarray(outlet_drho, dtype), outlet_mask=jnp.asarray(self.outlet_mask))


# ----------------------------------------------------------------------------------------------- shared


def _check_dx(dx) -> float:
    v = float(dx)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"dx={dx!r}: expected a positive voxel size in metres")
    return v


def _check_box(shape, max_voxels, dx) -> None:
    n = int(np.prod(shape))
    if n > max_voxels:
        raise ValueError(f"box {tuple(int(s) for s in shape)} = {n:.3g} voxels at dx={dx:.4g} m exceeds "
                         f"max_voxels={max_voxels:.3g}; use a coarser dx (or a smaller geometry)")


def _link_fractions(solid: np.ndarray, crossing) -> np.ndarray:
    """(19, nx, ny, nz) float32 link fractions: for each fluid voxel x with a solid neighbour x − c_j inside
    the box, ``crossing(x0 (3, m), ci (3,))`` gives the fraction of the link x → x + c_i (i = opp(j)) at which
    the wall lies. Links that would wrap around the box are left at ½ (open faces are overwritten anyway)."""
    q = np.full((Q,) + solid.shape, 0.5, np.float32)
    for j in range(1, Q):  # 18 static directions
        c = C[j]
        from_solid = np.roll(solid, tuple(int(s) for s in c), axis=(0, 1, 2)) & ~solid
        for d in range(3):
            if c[d] != 0:
                from_solid[(slice(None),) * d + (0 if c[d] > 0 else -1,)] = False
        pts = np.nonzero(from_solid)
        if pts[0].size:
            x0 = np.stack(pts).astype(float)
            ci = C[OPP[j]].astype(float)
            out = np.concatenate([crossing(x0[:, k:k + _CHUNK], ci) for k in range(0, x0.shape[1], _CHUNK)])
            q[j][pts] = np.clip(out, 1e-6, 1.0)
    return q


def _far_field(phi, solid, band, lumen: bool = True) -> np.ndarray:
    """Level set values at or beyond ±``band`` (only in the wall unless ``lumen``) replaced by
    ±max(band, EDT − ½), EDT the distance to the nearest voxel across the wall (`scipy.ndimage`)."""
    from scipy import ndimage

    for side, sign in ((solid, 1.0), (~solid, -1.0))[: 2 if lumen else 1]:
        far = side & (np.abs(phi) >= band)
        if far.any():
            edt = ndimage.distance_transform_edt(side)
            phi = np.where(far, sign * np.maximum(band, edt - 0.5), phi).astype(np.float32)
    return phi


def _open_masks(solid: np.ndarray):
    """Inlet (fluid voxels of x = 0) and outlet (fluid voxels of the other faces, not x = 0) masks."""
    fluid = ~solid
    outlet = np.zeros_like(solid)
    for axis, side in _OUTLET_FACES:
        index = (slice(None),) * axis + (-1 if side else 0,)
        outlet[index] = fluid[index]
    outlet[0] = False
    return fluid[0].copy(), outlet


# ----------------------------------------------------------------------------------------------- trees


@dataclasses.dataclass(frozen=True)
class _Segment:
    """A capped (or open-ended) tube in lattice coordinates of the box; ``lo``/``hi`` bound where phi < band."""

    a: np.ndarray
    e: np.ndarray
    length: float
    radius: object
    open_start: bool
    open_end: bool
    lo: np.ndarray
    hi: np.ndarray

    def phi(self, x):
        rel = x - self.a[:, None]
        along = self.e @ rel
        t = np.clip(along, -np.inf if self.open_start else 0.0, np.inf if self.open_end else self.length)
        d = np.sqrt(np.sum((rel - t * self.e[:, None]) ** 2, axis=0))
        return d - self.radius(np.clip(along / self.length, 0.0, 1.0))


def _union_phi(segments, x, band: float) -> np.ndarray:
    """min over segments of their level sets at points ``x`` (3, m), clipped at ``band``."""
    out = np.full(x.shape[1], band)
    for s in segments:  # a few segments, host side
        sel = np.all((x >= s.lo[:, None]) & (x <= s.hi[:, None]), axis=0)
        if sel.any():
            out[sel] = np.minimum(out[sel], s.phi(x[:, sel]))
    return out


def _rotation_to_x(v) -> np.ndarray:
    """Rotation matrix R (3, 3) with R·v/|v| = +x (the smallest rotation)."""
    a = np.asarray(v, float) / np.linalg.norm(v)
    b = np.array([1.0, 0.0, 0.0])
    c = float(a @ b)
    if c < -1.0 + 1e-12:
        return np.diag([-1.0, -1.0, 1.0])
    w = np.cross(a, b)
    k = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def _exit(p, d, shape):
    """First box face (axis, side) hit by the ray ``p + t·d`` (t ≥ 0) and that t (box of voxel centres)."""
    best, face = np.inf, None
    for k in range(3):
        if abs(d[k]) < 1e-12:
            continue
        side = int(d[k] > 0)
        t = ((shape[k] - 1) * side - p[k]) / d[k]
        if t < best:
            best, face = t, (k, side)
    return face, max(best, 0.0)


def _tree_segments(tree, dx):
    """Per valid segment: lattice start/end (tree frame, m / dx), radius profile, root, outlets."""
    from cardiojax.tree import planar_layout, require_single, validate

    require_single(tree, "voxelise_tree")
    validate(tree)
    a = {k: np.asarray(v) for k, v in tree.arrays().items()}
    idx = np.flatnonzero(a["valid"])
    start, end = a["start"].astype(float), a["end"].astype(float)
    if not (np.any(start[idx]) or np.any(end[idx])):
        start, end = (np.asarray(p, float) for p in planar_layout(tree))
    parent = a["parent"][idx]
    children = np.bincount(np.searchsorted(idx, parent[parent >= 0]), minlength=idx.size)
    out = []
    for n, k in enumerate(idx):  # segments of one tree, host side
        chord = float(np.linalg.norm(end[k] - start[k]))
        if not chord > 0:
            raise ValueError(f"segment {k}: start = end = {start[k].tolist()} m; expected distinct centreline "
                             "end points (or all start/end zero for a planar layout)")
        r_in, r_out, sev = float(a["r_in"][k]), float(a["r_out"][k]), float(a["stenosis_severity"][k])
        pos, ls = float(a["stenosis_position"][k]), float(a["stenosis_length"][k]) / float(a["length"][k])
        throat = (1.0 - sev) * (r_in + (r_out - r_in) * pos) if sev > 0 else min(r_in, r_out)
        across = 2.0 * min(throat, r_in, r_out) / dx
        out.append(dict(seg=int(k), start=start[k] / dx, end=end[k] / dx, across=across, root=parent[n] < 0,
                        outlet=children[n] == 0, r_max=max(r_in, r_out) / dx,
                        radius=stenosed_radius(r_in / dx, r_out / dx, sev, ls * chord / dx, pos, chord / dx)))
    return out


def voxelise_tree(tree, dx: float, margin: float = 2.0, *, band: float = 2.0, max_voxels: int = MAX_VOXELS,
                  min_voxels_across: float = MIN_VOXELS_ACROSS, iterations: int = 40) -> Voxels:
    """Voxelise a single `cardiojax.tree.VesselTree` (SI units) at voxel size ``dx`` (m).

    Segments run straight from ``start`` to ``end`` (a planar layout, `cardiojax.tree.planar_layout`, if
    these are all zero); the lesion length scales with the chord if it differs from ``length``. The box
    leaves ``margin`` voxels of wall around the lumen; the root enters through x = 0, outlets leave
    through the other faces (an outlet whose straight continuation would hit x = 0 is refused). Refuses a
    batch, non-finite or invalid trees (`cardiojax.tree.validate`), a ``dx`` with fewer than
    ``min_voxels_across`` voxels across the narrowest lumen (the stenosis throat included), and a box of
    more than ``max_voxels``. ``band`` (voxels, ≥ 2): where ``phi`` is exact (see the module notes);
    ``iterations``: bisection steps for the link fractions (40: q to 1e-12).
    """
    dx = _check_dx(dx)
    if not (math.isfinite(margin) and margin >= 1.0):
        raise ValueError(f"margin={margin!r}: expected at least 1 voxel of wall around the lumen")
    if not band >= 2.0:
        raise ValueError(f"band={band!r}: expected >= 2 voxels (longer than a lattice link)")
    segs = _tree_segments(tree, dx)
    worst = min(segs, key=lambda s: s["across"])
    if worst["across"] < min_voxels_across:
        raise ValueError(f"dx={dx:.4g} m gives {worst['across']:.3g} voxels across the narrowest lumen (segment "
                         f"{worst['seg']}, the stenosis throat included); expected >= {min_voxels_across}: use "
                         f"dx <= {dx * worst['across'] / min_voxels_across:.4g} m")
    root = next(s for s in segs if s["root"])
    rot = _rotation_to_x(root["end"] - root["start"])
    for s in segs:
        s["a"], s["b"] = rot @ (s["start"] - root["start"]), rot @ (s["end"] - root["start"])
    centres = np.concatenate([[s["a"], s["b"]] for s in segs])
    radii = np.repeat([s["r_max"] for s in segs], 2)
    lo, hi = (centres - radii[:, None]).min(0) - margin, (centres + radii[:, None]).max(0) + margin
    upstream = 2 * segs.index(root)  # the root's start sphere: the root is open there, on x = 0
    lo[0] = min([0.0] + [c[0] - r - margin for i, (c, r) in enumerate(zip(centres, radii)) if i != upstream])
    lo = np.floor(lo)  # the root axis on voxel centres
    shape = tuple(int(np.ceil(h - low)) + 1 for h, low in zip(hi, lo))
    _check_box(shape, max_voxels, dx)
    segments = []
    for s in segs:
        a, b = s["a"] - lo, s["b"] - lo
        e = (b - a) / np.linalg.norm(b - a)
        ends = [a, b]
        if s["root"]:
            ends.append(a + _exit(a, -e, shape)[1] * -e)
        pad = s["r_max"] + band
        segments.append(_Segment(a, e, float(np.linalg.norm(b - a)), s["radius"], bool(s["root"]), False,
                                 np.min(ends, 0) - pad, np.max(ends, 0) + pad))
        if s["outlet"]:
            segments.append(_outlet_extension(s, b, e, shape, band))
    phi = _tree_grid(segments, shape, band)
    solid = phi >= 0
    phi = _far_field(phi, solid, band, lumen=False)  # the lumen values are exact

    def crossing(x0, ci):
        lo_t, hi_t = np.zeros(x0.shape[1]), np.ones(x0.shape[1])
        for _ in range(iterations):  # phi < 0 at lo_t, >= 0 at hi_t
            mid = 0.5 * (lo_t + hi_t)
            inside = _union_phi(segments, x0 + mid * ci[:, None], band) < 0.0
            lo_t, hi_t = np.where(inside, mid, lo_t), np.where(inside, hi_t, mid)
        return 0.5 * (lo_t + hi_t)

    inlet, outlet = _open_masks(solid)
    origin = root["start"] * dx + dx * (lo @ rot)
    return Voxels(solid, _link_fractions(solid, crossing), phi, origin, dx, inlet, outlet, rot)


def _outlet_extension(s, b, e, shape, band) -> _Segment:
    """An open tube of the outlet's end radius from its end ``b`` straight to the box face its direction ``e``
    meets first, along that face's normal: the outlet leaves the box perpendicular to the face, so the
    pressure outlet extrapolates along the flow (an oblique cut left rim voxels without a fluid neighbour
    inwards and did not conserve the outflow). The joint is closed by the segment's spherical cap."""
    (axis, side), _ = _exit(b, e, shape)
    if (axis, side) == (0, 0):
        raise ValueError(f"segment {s['seg']} is an outlet whose straight continuation leaves the box through the "
                         "inlet face x = 0 (the root runs along +x); expected outlets that point away from the inlet")
    n = np.zeros(3)
    n[axis] = 1.0 if side else -1.0
    length = max(abs((shape[axis] - 1) * side - b[axis]), 1e-9)
    r_end = float(s["radius"](1.0))
    end = b + length * n
    pad = r_end + band
    return _Segment(b, n, length, lambda _s: r_end, False, True, np.minimum(b, end) - pad, np.maximum(b, end) + pad)


def _tree_grid(segments, shape, band) -> np.ndarray:
    """Level set (float32) on the box, each segment evaluated on the sub-box where it can be below band."""
    phi = np.full(shape, band, np.float32)
    for s in segments:  # a few segments, host side
        i0 = np.maximum(np.ceil(s.lo), 0).astype(int)
        i1 = np.minimum(np.floor(s.hi), np.array(shape) - 1).astype(int)
        if np.any(i1 < i0):
            continue
        plane = (i1[1] - i0[1] + 1) * (i1[2] - i0[2] + 1)
        step = max(1, _CHUNK // plane)
        for x0 in range(i0[0], i1[0] + 1, step):  # slabs along x
            x1 = min(x0 + step, i1[0] + 1)
            g = np.meshgrid(np.arange(x0, x1), np.arange(i0[1], i1[1] + 1), np.arange(i0[2], i1[2] + 1),
                            indexing="ij")
            vals = s.phi(np.stack([v.ravel() for v in g]).astype(float)).reshape(g[0].shape)
            block = phi[x0:x1, i0[1]:i1[1] + 1, i0[2]:i1[2] + 1]
            np.minimum(block, vals.astype(np.float32), out=block)
    return phi


# ----------------------------------------------------------------------------------------------- meshes


def _read_mesh(mesh_or_path):
    """Points (n, 3) m, triangles (T, 3) and tetrahedra (K, 4) of a meshio mesh or a file meshio reads."""
    import meshio

    if isinstance(mesh_or_path, (str, os.PathLike)):
        path = os.fspath(mesh_or_path)
        if path.lower().endswith(".vtp"):
            raise ValueError(f"mesh {path!r}: .vtp (VTK PolyData XML) is not read by meshio; convert it to .vtu, "
                             ".vtk, .stl or .obj (e.g. with ParaView or pyvista)")
        mesh = meshio.read(path)
    elif isinstance(mesh_or_path, meshio.Mesh):
        mesh = mesh_or_path
    else:
        raise ValueError(f"mesh_or_path: got {type(mesh_or_path).__name__}; expected a meshio.Mesh or a file path")
    pts = np.asarray(mesh.points, float)
    if pts.ndim != 2 or pts.shape[1] != 3 or not np.isfinite(pts).all():
        raise ValueError(f"mesh points: shape {pts.shape}, finite={bool(np.isfinite(pts).all())}; expected "
                         "finite (n, 3) coordinates in metres")
    blocks = {}
    for block in mesh.cells:
        blocks.setdefault(block.type, []).append(np.asarray(block.data, np.int64))
    tris = np.concatenate(blocks.get("triangle", [np.zeros((0, 3), np.int64)]))
    tets = np.concatenate(blocks.get("tetra", [np.zeros((0, 4), np.int64)]))
    if len(tris) + len(tets) == 0:
        raise ValueError(f"mesh cells: types {sorted(blocks)}; expected 'triangle' (a surface) or 'tetra' (a volume)")
    return pts, tris, tets


def _mesh_rotation(axis: int, reverse: bool) -> np.ndarray:
    if axis not in (0, 1, 2):
        raise ValueError(f"axis={axis!r}: expected 0, 1 or 2 (the physical axis of the flow, which becomes x)")
    rot = np.roll(np.eye(3), axis, axis=1)  # rows: lattice axes in physical coordinates (cyclic)
    return np.diag([-1.0, -1.0, 1.0]) @ rot if reverse else rot


def _mesh_box(pts, tri, dx, margin):
    """Open sides {(axis, side)} (flat triangles of ``tri`` on the bounding box of ``pts``, lattice frame, m),
    the cap mask of ``tri``, the box's low corner (m) and its shape: cut 1e-3·dx inside the open sides,
    ``margin`` voxels beyond the others."""
    mn, mx = pts.min(0), pts.max(0)
    tol = 1e-3 * dx
    open_sides, is_cap = set(), np.zeros(len(tri), bool)
    for k in range(3):
        for side, plane in ((0, mn[k]), (1, mx[k])):
            on = np.all(np.abs(tri[:, :, k] - plane) <= tol, axis=1)
            if on.any():
                open_sides.add((k, side))
                is_cap |= on
    lo = np.array([mn[k] + tol if (k, 0) in open_sides else mn[k] - margin * dx for k in range(3)])
    hi = np.array([mx[k] - tol if (k, 1) in open_sides else mx[k] + margin * dx for k in range(3)])
    span = (hi - lo) / dx
    shape = tuple(int(np.floor(span[k]) if (k, 1) in open_sides else np.ceil(span[k])) + 1 for k in range(3))
    return open_sides, is_cap, lo, shape


def _check_open_ends(inside, open_sides, dx, min_voxels_across) -> None:
    """Refuse an empty lumen or an open end narrower than ``min_voxels_across`` (equal-area diameter)."""
    from scipy import ndimage

    if not inside.any():
        raise ValueError(f"mesh: no voxel centre inside the mesh at dx={dx:.4g} m (box {inside.shape}); expected "
                         "a closed surface or tube, or a finer dx")
    for k, side in sorted(open_sides):
        labels, n = ndimage.label(np.take(inside, inside.shape[k] - 1 if side else 0, axis=k))
        for i in range(1, n + 1):
            across = 2.0 * math.sqrt(np.count_nonzero(labels == i) / math.pi)
            if across < min_voxels_across:
                raise ValueError(f"dx={dx:.4g} m gives {across:.3g} voxels across an open end on the "
                                 f"{'high' if side else 'low'} face of lattice axis {k}; expected >= "
                                 f"{min_voxels_across}: use dx <= {dx * across / min_voxels_across:.4g} m")


def voxelise_mesh(mesh_or_path, dx: float, axis: int = 0, *, reverse: bool = False, margin: float = 2.0,
                  band: float = 2.0, max_voxels: int = MAX_VOXELS,
                  min_voxels_across: float = MIN_VOXELS_ACROSS) -> Voxels:
    """Voxelise a meshio triangle surface (closed, or a tube with open ends) or tetrahedral mesh in metres.

    ``mesh_or_path``: a `meshio.Mesh` or a file meshio reads (.vtu, .vtk, .stl, .obj; not .vtp). The
    physical ``axis`` (0, 1, 2) of the flow becomes lattice x (``reverse``: the flow runs towards −axis).
    Flat mesh ends on the bounding box, perpendicular to an axis (the cut ends of a vessel, closed or open),
    are open: the box is cut 1e-3 voxel inside them, so the end at the low side of ``axis`` is the inlet and
    the others are outlets; other sides get ``margin`` voxels of wall. Refuses a box above ``max_voxels``
    and an open end narrower than ``min_voxels_across`` voxels (equal-area diameter) at this ``dx`` (m).
    """
    from scipy import ndimage

    dx = _check_dx(dx)
    if not (math.isfinite(margin) and margin >= 1.0):
        raise ValueError(f"margin={margin!r}: expected at least 1 voxel of wall around the lumen")
    pts, tris, tets = _read_mesh(mesh_or_path)
    rot = _mesh_rotation(axis, reverse)
    pts = pts @ rot.T
    faces = np.sort(tets[:, [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]].reshape(-1, 3), axis=1)
    closed_pts, closed = (pts, meshgeom.boundary_faces(faces)) if len(tets) else meshgeom.close_holes(pts, tris)
    tri_c = closed_pts[closed]
    open_sides, is_cap, lo, shape = _mesh_box(pts, tri_c, dx, margin)
    _check_box(shape, max_voxels, dx)
    lat = lambda p: (p - lo) / dx  # noqa: E731
    if len(tets):
        inside = meshgeom.tets_inside(lat(pts[tets]), shape)
    else:
        votes = sum(meshgeom.parity_inside(lat(tri_c), shape, ray).astype(np.uint8) for ray in range(3))
        inside = votes >= 2
    _check_open_ends(inside, open_sides, dx, min_voxels_across)
    if (0, 0) not in open_sides:
        warnings.warn(f"mesh: no open end at the low side of axis {axis}: the inlet face x = 0 is closed",
                      stacklevel=2)
    walls = lat(tri_c[~is_cap])
    dist = meshgeom.wall_distance(walls, shape, band)
    # a voxel centre on the wall (within ON_WALL) is wall, as in `geometry.solid_mask` (phi >= 0): left
    # fluid, its links would get q ≈ 0, where the interpolated bounce-back loses mass (measured: 38 % of
    # the flow over 60 voxels of a 96-gon tube whose vertices sit on lattice points)
    inside = inside & (dist >= ON_WALL)
    solid = ~inside
    phi = _far_field(np.where(inside, -np.maximum(dist, 1e-6), dist).astype(np.float32), solid, band)
    near = ndimage.binary_dilation(solid, np.ones((3, 3, 3), bool)) & inside
    wall_q = _link_fractions(solid, meshgeom.link_crossing(walls, shape, near))
    inlet, outlet = _open_masks(solid)
    return Voxels(solid, wall_q, phi, lo @ rot, dx, inlet, outlet, rot)
