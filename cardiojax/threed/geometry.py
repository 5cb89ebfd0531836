"""Voxel geometry for the lattice: solid masks and wall link fractions from a signed distance function.

A geometry is a signed distance function ``phi(points) -> (…)`` in lattice
units (negative in the fluid, positive in the wall) evaluated at voxel
centres, the integer lattice points. `link_fractions` finds, for every link
from a fluid voxel into a solid one, the fraction q ∈ (0, 1] of the link at
which ``phi`` changes sign (bisection on the exact function, so curved walls
are placed to round-off), which the interpolated bounce-back of
`cardiojax.threed.lbm.stream` uses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.threed.lattice import OPP, C, Q


def _xp(*values):
    """``jax.numpy`` if any value is a JAX array (so the level set stays differentiable), else numpy."""
    return jnp if any(isinstance(v, jax.Array) for v in values) else np


def lattice_points(shape) -> np.ndarray:
    """(3, nx, ny, nz) integer coordinates of the voxel centres (lattice units)."""
    return np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"))


def solid_mask(phi, shape) -> np.ndarray:
    """Voxels whose centre is in the wall (``phi >= 0``)."""
    return np.asarray(phi(lattice_points(shape))) >= 0.0


def link_fractions(phi, shape, iterations: int = 50) -> np.ndarray:
    """(19, nx, ny, nz) wall fractions q for `cardiojax.threed.lbm.stream`.

    Entry ``[j, x]`` belongs to the population j arriving at fluid voxel x from the solid voxel x − c_j:
    the wall lies at ``x + q·c_i`` with i = opp(j). Entries of other links are ½ (unused). Periodic
    wrap-around is not followed: the geometry must not cut links across the box faces.
    """
    pts = lattice_points(shape)
    solid = np.asarray(phi(pts)) >= 0.0
    q = np.full((Q,) + tuple(shape), 0.5)
    for j in range(Q):
        ci = C[OPP[j]].astype(float)  # direction from the fluid voxel towards the wall
        from_solid = np.roll(solid, tuple(int(s) for s in C[j]), axis=(0, 1, 2)) & ~solid
        if not from_solid.any():
            continue
        x0 = pts[:, from_solid]
        lo, hi = np.zeros(x0.shape[1]), np.ones(x0.shape[1])
        for _ in range(iterations):  # phi < 0 at lo, >= 0 at hi
            mid = 0.5 * (lo + hi)
            inside = np.asarray(phi(x0 + mid * ci[:, None])) < 0.0
            lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
        q[j][from_solid] = np.clip(0.5 * (lo + hi), 1e-6, 1.0)
    return q


def cylinder(center, radius, axis: int = 0):
    """Signed distance (lattice units) of a circular tube of ``radius`` around the line through
    ``center`` (3,) along ``axis``: negative inside."""
    center = np.asarray(center, float)
    others = [d for d in range(3) if d != axis]

    def phi(x):
        r2 = sum((x[d] - center[d]) ** 2 for d in others)
        return np.sqrt(r2) - radius

    return phi


def tube(radius, start, end):
    """Level set (lattice units, negative inside) of a tube around the axis from ``start`` (3,) to ``end``
    (3,) whose radius at the axial fraction s ∈ [0, 1] is ``radius(s)``; beyond the ends the tube continues
    with its end radius (an open tube: close it with the box or other solids).

    ``phi = |x⊥| − radius(s)`` with x⊥ the distance from the axis: its zero set is the exact wall, and it
    is the signed distance where the radius varies slowly (|dr/ds| ≪ length). ``radius`` may use
    ``jax.numpy`` (then ``phi`` is differentiable in its parameters).
    """
    start, end = np.asarray(start, float), np.asarray(end, float)
    axis = end - start
    length = float(np.linalg.norm(axis))
    if not length > 0:
        raise ValueError(f"tube: start={start.tolist()} equals end; expected a positive length")
    e = axis / length

    def phi(x):
        rel = [x[d] - start[d] for d in range(3)]
        along = sum(rel[d] * e[d] for d in range(3))
        perp2 = sum((rel[d] - along * e[d]) ** 2 for d in range(3))
        xp = _xp(x, along)
        s = xp.clip(along / length, 0.0, 1.0)
        return xp.sqrt(perp2) - radius(s)

    return phi


def stenosed_radius(radius_in, radius_out=None, severity=0.0, lesion_length=0.0, position=0.5, length=1.0):
    """Radius profile ``r(s)`` (s the axial fraction) of a tapered segment with a cosine lesion, the same
    shape as `cardiojax.tree.lumen_radius`: ``r_ref(s)·(1 − severity·(1 + cos(2π(s·L − x_c)/Ls))/2)`` within
    ``Ls/2`` of the centre ``x_c = position·L``; ``radius_in``/``radius_out``, ``lesion_length`` and ``length``
    in the same length unit. ``severity`` (diameter fraction in [0, 1)) may be a JAX scalar, for gradients."""
    r_out = radius_in if radius_out is None else radius_out
    if severity is not None and not isinstance(severity, jax.Array):
        if not 0.0 <= float(severity) < 1.0:
            raise ValueError(f"severity={severity!r}: expected a diameter stenosis fraction in [0, 1)")
        if float(severity) > 0 and not lesion_length > 0:
            raise ValueError(f"lesion_length={lesion_length!r}: expected > 0 for a lesion of severity {severity}")

    def radius(s):
        xp = _xp(s, severity)
        ref = radius_in + (r_out - radius_in) * s
        if not (isinstance(severity, jax.Array) or float(severity) > 0):
            return ref
        offset = s * length - position * length
        half = 0.5 * lesion_length
        bump = xp.where(xp.abs(offset) < half, 0.5 * (1.0 + xp.cos(np.pi * offset / max(half, 1e-30))), 0.0)
        return ref * (1.0 - severity * bump)

    return radius


def stenosed_tube(start, end, radius_in, radius_out=None, severity=0.0, lesion_length=0.0, position=0.5):
    """Level set (lattice units) of a tapered tube from ``start`` to ``end`` with a cosine lesion of
    ``severity`` (diameter fraction), ``lesion_length`` (lattice units) centred at the axial fraction
    ``position`` (see `stenosed_radius` and `tube`)."""
    length = float(np.linalg.norm(np.asarray(end, float) - np.asarray(start, float)))
    return tube(stenosed_radius(radius_in, radius_out, severity, lesion_length, position, length), start, end)


def brinkman_drag(phi_values, width=0.7, strength=1.0):
    """Smooth wall for `cardiojax.threed.lbm.collide`: drag ``strength·sigmoid(phi/width)`` (1/step) from level
    set values (lattice units) — ≈ 0 in the lumen, ≈ ``strength`` in the wall, differentiable in the
    geometry (a partially saturated / Brinkman wall; ``width`` in lattice units sets the smearing)."""
    return strength * jax.nn.sigmoid(jnp.asarray(phi_values) / width)
