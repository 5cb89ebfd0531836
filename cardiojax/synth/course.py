"""A 3D course for synthetic trees: the planar layout wrapped onto an ellipsoidal epicardial surface.

`generate` draws trees in the z = 0 plane (`cardiojax.tree.planar_layout`: the root starts at the origin and
heads −y). `wrap_on_heart` maps that plane onto the surface of a `HeartShape` ellipsoid, point by point, so
every segment becomes a curved, non-planar centreline of K points **on** the surface, and returns the tree with
``start``/``end``/``length`` taken from those paths (solvers then see the geometry an image shows).
`min_clearance` measures the smallest gap between the lumens of segments that do not meet (not parent, child
or sibling), so a study can reject trees whose vessels touch or cross (they would merge in an image).

The map (all angles in rad, lengths in m). Let ``u`` be a point of the unit sphere and
``x = centre + R·diag(semi_axes)·u`` the world point (``R`` = `HeartShape.frame`'s rotation, columns
e1, e2, e3 with e3 = base → apex). A planar point q is taken relative to the map centre ``m = (0, −map_offset)``
(down the root's heading): ``ρ = |q − m|`` and its direction ψ. On the sphere the map centre ``u_m`` lies
``g(map_offset)`` from the ostium towards the apex, and q goes to the point at angle ``θ = g(ρ)`` from ``u_m`` in
direction ψ (planar −y ↦ towards the apex, +x ↦ round the heart towards the patient's left), with
``g(ρ) = θ_max·tanh(ρ / (R_h·θ_max))``, ``R_h`` the geometric-mean semi-axis. The map is one-to-one (it never
makes vessels cross that did not cross in the plane) and conformal at the map centre; it shortens distances
far from the map centre (g saturates below π), so distal segments come out shorter than drawn — the
returned ``length`` is always the true arc length of the path. The ostium (the root's start) is the world
origin, as in the planar layout.

Everything is vectorised over segments and points; `vmap` over trees and keys.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.tree.geometry import lumen_radius
from cardiojax.tree.paths import path_arclength, path_length
from cardiojax.tree.vessel_tree import VesselTree

#: Sine modes of the random tortuosity (each vanishes at both ends of a segment).
_TORTUOSITY_MODES = (1, 2, 3)


@dataclasses.dataclass(frozen=True)
class HeartShape:
    """The epicardial surface the vessels run on: an ellipsoid in LPS world coordinates (m, rad).

    Defaults: semi-axes 50 × 45 × 60 mm, a rounded adult ventricular mass (the whole heart is about 12 cm
    long, 8–9 cm broad and 6 cm thick, Gray's Anatomy); the long axis points from the base forwards, to the
    left and down, roughly 45° from each body axis; the ostium sits near the base, anterior (34° from the
    base pole, 17° towards the left).

    Attributes:
      semi_axes: (a, b, c) m — across (e1, towards the patient's left), front–back (e2), base → apex (e3).
      apex_direction: (3,) LPS direction of the long axis from base to apex (normalised on use).
      ostium_polar: rad, angle of the ostium (the root's start) from the base pole, on the unit sphere.
      ostium_azimuth: rad, angle of the ostium round the long axis from e2 (anterior) towards e1 (left).
      map_offset: m, distance down the root's heading, in the plane, of the map centre (see the module).
      max_angle: rad, θ_max < π: the largest angle from the map centre that the map reaches.
    """

    semi_axes: tuple[float, float, float] = (0.050, 0.045, 0.060)
    apex_direction: tuple[float, float, float] = (0.55, -0.55, -0.63)
    ostium_polar: float = 0.6
    ostium_azimuth: float = 0.3
    map_offset: float = 0.06
    max_angle: float = 0.9 * math.pi

    def __post_init__(self):
        for name in ("semi_axes", "apex_direction"):
            value = tuple(float(v) for v in getattr(self, name))
            object.__setattr__(self, name, value)
            if len(value) != 3 or not all(math.isfinite(v) for v in value):
                raise ValueError(f"HeartShape.{name} = {value}; expected three finite numbers")
        if not all(0.01 <= v <= 0.2 for v in self.semi_axes):
            raise ValueError(f"HeartShape.semi_axes = {self.semi_axes} m; expected each in [0.01, 0.2] m")
        if math.hypot(*self.apex_direction) < 1e-6:
            raise ValueError(f"HeartShape.apex_direction = {self.apex_direction}; expected a nonzero vector")
        if not 0.0 < self.ostium_polar < math.pi:
            raise ValueError(f"HeartShape.ostium_polar = {self.ostium_polar} rad; expected a value in (0, π)")
        if not 0.0 <= self.map_offset <= 0.2:
            raise ValueError(f"HeartShape.map_offset = {self.map_offset} m; expected a value in [0, 0.2] m")
        if not 0.1 <= self.max_angle < math.pi:
            raise ValueError(f"HeartShape.max_angle = {self.max_angle} rad; expected a value in [0.1, π)")

    @property
    def mean_radius(self) -> float:
        """m, geometric mean of the semi-axes (the map's length scale ``R_h``)."""
        a, b, c = self.semi_axes
        return (a * b * c) ** (1.0 / 3.0)

    def ostium_unit(self) -> np.ndarray:
        """``(3,)`` the ostium on the unit sphere (heart frame)."""
        t, p = self.ostium_polar, self.ostium_azimuth
        return np.array([math.sin(t) * math.sin(p), math.sin(t) * math.cos(p), -math.cos(t)])

    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        """``(centre (3,) m, rotation (3, 3))`` with ``x = centre + rotation @ (semi_axes * u)``.

        The rotation's columns are e1 (across, towards the patient's left), e2 (front–back) and e3 (base →
        apex); the centre is placed so that the ostium is the world origin.
        """
        e3 = np.asarray(self.apex_direction) / np.linalg.norm(self.apex_direction)
        left = np.array([1.0, 0.0, 0.0])
        e1 = left - (left @ e3) * e3
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(e3, e1)
        rot = np.stack([e1, e2, e3], axis=1)
        centre = -rot @ (np.asarray(self.semi_axes) * self.ostium_unit())
        return centre, rot

    def to_world(self, u) -> jax.Array:
        """World points (m) ``(..., 3)`` of unit-sphere points ``u`` ``(..., 3)``."""
        centre, rot = self.frame()
        u = jnp.asarray(u)
        scaled = u * jnp.asarray(self.semi_axes, u.dtype)
        return scaled @ jnp.asarray(rot.T, u.dtype) + jnp.asarray(centre, u.dtype)

    def to_unit(self, x) -> jax.Array:
        """Heart-frame coordinates ``(..., 3)`` scaled by the semi-axes: ``|u| = 1`` on the surface."""
        centre, rot = self.frame()
        x = jnp.asarray(x)
        return ((x - jnp.asarray(centre, x.dtype)) @ jnp.asarray(rot, x.dtype)) / jnp.asarray(self.semi_axes, x.dtype)


def _map_angle(rho, heart: HeartShape):
    """θ = g(ρ) rad on the unit sphere for a planar distance ρ (m) from the map centre."""
    tmax = heart.max_angle
    return tmax * jnp.tanh(rho / (heart.mean_radius * tmax))


def _plane_to_unit(q, heart: HeartShape):
    """Unit-sphere points ``(..., 3)`` of planar points ``q`` ``(..., 2)`` m (see the module docstring)."""
    dtype = q.dtype
    u_o = jnp.asarray(heart.ostium_unit(), dtype)
    apex = jnp.asarray([0.0, 0.0, 1.0], dtype)
    down = apex - (apex @ u_o) * u_o
    down = down / jnp.linalg.norm(down)
    side = jnp.asarray([math.cos(heart.ostium_azimuth), -math.sin(heart.ostium_azimuth), 0.0], dtype)
    g0 = _map_angle(jnp.asarray(heart.map_offset, dtype), heart)
    u_m = jnp.cos(g0) * u_o + jnp.sin(g0) * down
    down_m = -jnp.sin(g0) * u_o + jnp.cos(g0) * down
    vx, vy = q[..., 0], q[..., 1] + heart.map_offset
    rho = jnp.sqrt(vx * vx + vy * vy)
    safe = jnp.maximum(rho, 1e-12)
    theta = _map_angle(rho, heart)
    # sin(θ)/ρ → 1/R_h as ρ → 0, so the map is smooth at its centre
    scale = jnp.where(rho > 1e-9, jnp.sin(theta) / safe, 1.0 / heart.mean_radius)
    tangent = scale[..., None] * (vx[..., None] * side - vy[..., None] * down_m)
    return jnp.cos(theta)[..., None] * u_m + tangent


def _planar_points(tree: VesselTree, key, points: int, tortuosity: float):
    """``(cap, points, 2)`` m: each segment's planar chord, with an optional random sine wiggle."""
    dtype = jnp.result_type(tree.start.dtype, jnp.float32)
    start, end = tree.start[:, :2].astype(dtype), tree.end[:, :2].astype(dtype)
    t = jnp.linspace(0.0, 1.0, points, dtype=dtype)
    chord = start[:, None, :] + t[None, :, None] * (end - start)[:, None, :]
    if key is None or tortuosity == 0.0:
        return chord
    modes = jnp.asarray(_TORTUOSITY_MODES, dtype)
    amp = jax.random.uniform(key, (tree.capacity, modes.size), dtype, -tortuosity, tortuosity) / modes
    delta = end - start
    normal = jnp.stack([-delta[:, 1], delta[:, 0]], axis=-1)  # length L, perpendicular in the plane
    wiggle = jnp.sum(amp[:, None, :] * jnp.sin(jnp.pi * modes * t[:, None]), axis=-1)  # (cap, points)
    return chord + wiggle[..., None] * normal[:, None, :]


@functools.partial(jax.jit, static_argnames=("heart", "points", "tortuosity"))
def wrap_on_heart(
    tree: VesselTree, key=None, heart: HeartShape = HeartShape(), points: int = 32, tortuosity: float = 0.04
) -> tuple[VesselTree, jax.Array]:
    """Wrap a planar tree onto the epicardial ellipsoid of ``heart``.

    Args:
      tree: a single tree whose ``start``/``end`` lie in the z = 0 plane (m; z is ignored), root starting at
        the origin and heading −y — as `cardiojax.synth.generate` / `cardiojax.tree.planar_layout` draw it.
      key: optional PRNG key for a small random tortuosity (None: the planar chords, mapped).
      heart: the surface (static).
      points: K ≥ 2, centreline points per segment (static).
      tortuosity: amplitude of the random wiggle as a fraction of the segment's length (sine modes 1–3,
        amplitudes uniform in ±tortuosity/mode), drawn in the plane before mapping, so the path stays on
        the surface and joints stay continuous.

    Returns:
      ``(tree, paths)``: ``paths`` ``(cap, K, 3)`` m on the surface (ostium = world origin); the tree with
      ``start``/``end`` = the paths' end points and ``length`` = `path_length` (padding slots keep theirs).
    """
    if not isinstance(points, int) or points < 2:
        raise ValueError(f"points = {points!r}; expected an int >= 2 (centreline points per segment)")
    if not (isinstance(tortuosity, (int, float)) and 0.0 <= tortuosity <= 0.5):
        raise ValueError(f"tortuosity = {tortuosity!r}; expected a fraction of the segment length in [0, 0.5]")
    if tree.parent.ndim != 1:
        raise ValueError(f"tree: batch shape {tree.batch_shape}; expected a single tree (vmap for batches)")
    planar = _planar_points(tree, key, points, float(tortuosity))
    paths = heart.to_world(_plane_to_unit(planar, heart)).astype(tree.start.dtype)
    valid = tree.valid
    length = jnp.where(valid, path_length(paths), tree.length)
    start = jnp.where(valid[:, None], paths[:, 0], tree.start)
    end = jnp.where(valid[:, None], paths[:, -1], tree.end)
    return tree.replace(length=length.astype(tree.length.dtype), start=start, end=end), paths


def surface_residual(paths, heart: HeartShape = HeartShape()) -> jax.Array:
    """``(..., K)``: ``|u| − 1`` of each path point in the heart's scaled frame (0 on the surface)."""
    return jnp.linalg.norm(heart.to_unit(jnp.asarray(paths)), axis=-1) - 1.0


def segment_distance(p0, p1, q0, q1):
    """Closest distance (m) between line segments p0–p1 and q0–q1 (``(..., 3)`` m each).

    Returns ``(distance, s, t)``: the distance and the parameters ∈ [0, 1] of the closest points on each
    segment (Ericson, Real-Time Collision Detection, §5.1.9), degenerate (point) segments included.
    """
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a, e = jnp.sum(d1 * d1, -1), jnp.sum(d2 * d2, -1)
    b, c, f = jnp.sum(d1 * d2, -1), jnp.sum(d1 * r, -1), jnp.sum(d2 * r, -1)
    tiny = 1e-24  # m²: a segment shorter than 1e-12 m is a point
    denom = a * e - b * b
    s = jnp.where(denom > 1e-12 * a * e + tiny, jnp.clip((b * f - c * e) / jnp.maximum(denom, tiny), 0.0, 1.0), 0.0)
    t = (b * s + f) / jnp.maximum(e, tiny)
    s = jnp.where(t < 0.0, jnp.clip(-c / jnp.maximum(a, tiny), 0.0, 1.0),
                  jnp.where(t > 1.0, jnp.clip((b - c) / jnp.maximum(a, tiny), 0.0, 1.0), s))
    t = jnp.clip(t, 0.0, 1.0)
    q_point, p_point = e <= tiny, a <= tiny
    s = jnp.where(q_point, jnp.clip(-c / jnp.maximum(a, tiny), 0.0, 1.0), s)
    t = jnp.where(q_point, 0.0, t)
    s = jnp.where(p_point, 0.0, s)
    t = jnp.where(p_point, jnp.clip(f / jnp.maximum(e, tiny), 0.0, 1.0), t)
    gap = p0 + d1 * s[..., None] - (q0 + d2 * t[..., None])
    return jnp.sqrt(jnp.sum(gap * gap, -1)), s, t


def _adjacent(tree: VesselTree) -> jax.Array:
    """``(cap, cap)`` bool: the same segment, parent/child or siblings."""
    p = tree.parent
    idx = jnp.arange(tree.capacity)
    same = idx[:, None] == idx[None, :]
    parent_child = (p[:, None] == idx[None, :]) | (p[None, :] == idx[:, None])
    siblings = (p[:, None] == p[None, :]) & (p[:, None] >= 0)
    return same | parent_child | siblings


@jax.jit
def min_clearance(tree: VesselTree, paths) -> jax.Array:
    """Smallest gap (m) between the lumen surfaces of valid segments that do not meet.

    Pairs that are the same segment, parent/child or siblings are skipped (they join at a junction).
    The distance between two paths is exact for their polylines (piece to piece); the lumen radius
    (`lumen_radius`, lesions included) is interpolated to the closest points. Negative: the lumens
    overlap; +inf when no pair is eligible.

    Args:
      tree: a single tree (vmap for batches).
      paths: ``(cap, K, 3)`` m, its centrelines (e.g. from `wrap_on_heart`).

    Returns:
      A scalar, m.
    """
    paths = jnp.asarray(paths)
    if paths.ndim != 3 or paths.shape[0] != tree.capacity or paths.shape[-1] != 3 or paths.shape[1] < 2:
        raise ValueError(f"paths: shape {paths.shape}; expected (capacity={tree.capacity}, K >= 2, 3)")
    arc = path_arclength(paths)
    frac = arc / jnp.maximum(arc[:, -1:], 1e-30)
    radius = lumen_radius(tree, frac)  # (cap, K)
    p0, p1, r0, r1 = paths[:, :-1], paths[:, 1:], radius[:, :-1], radius[:, 1:]
    eligible = tree.valid[:, None] & tree.valid[None, :] & ~_adjacent(tree)

    def row(i):  # segment i against every segment: (K-1, cap, K-1) piece pairs
        d, s, t = segment_distance(p0[i][:, None, None], p1[i][:, None, None], p0[None], p1[None])
        ri = r0[i][:, None, None] + s * (r1[i] - r0[i])[:, None, None]
        rj = r0[None] + t * (r1 - r0)[None]
        gap = jnp.min(d - ri - rj, axis=(0, 2))
        return jnp.min(jnp.where(eligible[i], gap, jnp.inf))

    return jnp.min(lax.map(row, jnp.arange(tree.capacity)))
