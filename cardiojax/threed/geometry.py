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

import numpy as np

from cardiojax.threed.lattice import OPP, C, Q


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
