"""The finite-volume update of all vessel interiors: MUSCL reconstruction, Lax–Friedrichs fluxes, Heun (RK2).

Equations, per vessel, for the area A (m²) and flow Q (m³/s):

    ∂A/∂t + ∂Q/∂x = 0,
    ∂Q/∂t + ∂(Q²/A + Φ(A))/∂x = −f·Q/A − [A/ρ·∂P/∂θ − ∂Φ/∂θ]·∂θ/∂x,

with Φ = (1/ρ)∫A dP the tube law's flux (`cardiojax.oned.tube_laws`),
f = 2(γ+2)πμ/ρ the friction coefficient of a velocity profile of exponent γ
and θ = (A0, K) the wall parameters, whose variation along a tapered or
narrowed vessel gives the last (geometric) source term.

The scheme is openBF's (and jaxFlowSim's): cell values with one ghost cell
at each vessel end (a copy of the boundary cell, which the boundary
conditions and junctions overwrite), slopes from a limiter on the one-sided
differences, the local Lax–Friedrichs flux with the numerical speed Δx/Δt,
``F = ½(F(U_R) + F(U_L) − Δx/Δt·(U_R − U_L))``, and Heun's two-stage
Runge–Kutta in time with the sources inside each stage (openBF applies the
friction after the update instead; the difference is O(Δt)). The scheme is
second order in space and time on smooth solutions with a non-clipping
limiter (``"none"``, tested); ``"openbf"`` reproduces openBF's superbee,
which also zeroes negative slopes.

Varying geometry (``m.varying``: a tapered or narrowed vessel) uses a well
balanced variant, so that a vessel at rest stays exactly at rest (tested)
instead of pumping spurious flow through the O(Δx²) mismatch between flux
differences and a cell-centred source: the pressure P and Q are
reconstructed instead of A and Q, the face areas follow from the face
pressures with the geometry θ_{i+1/2} of the face itself (so both sides of a
face at rest have the same area and the dissipation vanishes), the fluxes
use θ_{i+1/2}, and the geometric source of cell i is the difference
``[Φ(A(P_i, θ_{i+1/2}), θ_{i+1/2}) − Φ(A(P_i, θ_{i−1/2}), θ_{i−1/2})]/Δx``,
which tends to the term above and cancels the flux differences exactly at
uniform pressure. Ghost cells then carry the pressure of their boundary
cell and the extrapolated geometry.

Gradients: a limiter switches branches as the solution changes, so the
discrete solution is only piecewise smooth in the parameters; `jax.grad`
then returns the derivative of the active branch, which can differ from
finite differences of the (kinked) map. Use ``limiter="none"`` (smooth,
second order, no TVD guarantee) for gradient-based work on smooth waves;
it agrees with finite differences to 1e-9 (tested).
"""

from __future__ import annotations

import jax.numpy as jnp

from cardiojax.oned.model import OneDModel

LIMITERS = ("superbee", "minmod", "mc", "openbf", "none")


def limited_slope(dl, dr, limiter: str):
    """Limited cell difference from the backward (dl) and forward (dr) differences."""
    if limiter == "none":
        return 0.5 * (dl + dr)
    if limiter == "openbf":  # openBF's minmod returns 0 unless both arguments are positive
        def mm(a, b):
            return jnp.where((a <= 0.0) | (b <= 0.0), 0.0, jnp.minimum(a, b))
        return jnp.maximum(mm(dl, 2.0 * dr), mm(2.0 * dl, dr))
    same = dl * dr > 0.0
    s = jnp.sign(dl)
    a, b = jnp.abs(dl), jnp.abs(dr)
    if limiter == "minmod":
        mag = jnp.minimum(a, b)
    elif limiter == "superbee":
        mag = jnp.maximum(jnp.minimum(2.0 * a, b), jnp.minimum(a, 2.0 * b))
    elif limiter == "mc":
        mag = jnp.minimum(jnp.minimum(2.0 * a, 2.0 * b), 0.5 * (a + b))
    else:
        raise ValueError(f"limiter={limiter!r} is not known; expected one of {LIMITERS}")
    return jnp.where(same, s * mag, 0.0)


def physical_flux(m: OneDModel, area, flow, a0=None, k=None):
    """(Q, Q²/A + Φ(A)) per cell (or per face, with the face's ``a0``, ``k``)."""
    a0 = m.a0 if a0 is None else a0
    k = m.k if k is None else k
    return jnp.stack([flow, flow * flow / area + m.tube.flux(area, a0, k, m.blood.density)])


def friction(m: OneDModel, area, flow):
    """Friction source of the momentum equation, m³/s²: −f·Q/A."""
    return -m.friction * flow / area


def _shift(u, by: int):
    """``u`` shifted along the cell axis so that entry i holds u[i + by] (edges padded, no gather)."""
    if by > 0:
        return jnp.concatenate([u[..., by:]] + [u[..., -1:]] * by, axis=-1)
    return jnp.concatenate([u[..., :1]] * -by + [u[..., :by]], axis=-1)


def fill_ghosts(m: OneDModel, u):
    """Fill the ghost cells of ``u`` = (2, N) from their vessel.

    ``"cell"`` grid (openBF): the ghost takes the boundary cell's values;
    ``"node"`` grid: the linear extrapolation of the two cells next to it.
    In a vessel whose geometry varies (``m.varying``) the pressure, not the
    area, is copied or extrapolated, and the ghost's area follows from its own
    (extrapolated) A0 and K, so that a tapered vessel at rest stays at rest
    at its ends as well as inside.
    """
    if m.varying:
        w = jnp.stack([m.tube.pressure(u[0], m.a0, m.k, m.p_ref), u[1]])
    else:
        w = u
    left, right = _shift(w, 1), _shift(w, -1)
    if m.grid == "node":
        left = 2.0 * left - _shift(w, 2)
        right = 2.0 * right - _shift(w, -2)
    g = jnp.where(m.left_ghost, left, jnp.where(m.right_ghost, right, w))
    if m.varying:
        g = jnp.stack([m.tube.area(g[0], m.a0, m.k, m.p_ref), g[1]])
        return jnp.where(m.left_ghost | m.right_ghost, g, u)
    return g


def _slopes(m: OneDModel, w, limiter: str):
    """Limited slopes of the cell values ``w`` (2, N); ghosts of a node grid or a varying geometry get
    the one-sided difference towards their vessel (no jump at the end faces)."""
    d = jnp.diff(w, axis=1)
    zero = jnp.zeros((2, 1), w.dtype)
    dl = jnp.concatenate([zero, d], axis=1)
    dr = jnp.concatenate([d, zero], axis=1)
    slope = jnp.where(m.real, limited_slope(dl, dr, limiter), 0.0)
    if m.grid == "node" or m.varying:
        slope = jnp.where(m.left_ghost, dr, jnp.where(m.right_ghost, dl, slope))
    return slope


def _rate(m: OneDModel, u, dt, limiter: str):
    """dU/dt of every cell (ghosts get 0) for the state ``u`` = (2, N) of (A, Q)."""
    if not m.varying and m.grid == "cell":
        return _rate_copy_ghosts(m, u, dt, limiter)
    u = fill_ghosts(m, u)
    if not m.varying:
        return _rate_uniform(m, u, dt, limiter)
    return _rate_balanced(m, u, dt, limiter)


def _divergence(m: OneDModel, u, flux, geo=0.0):
    """Rate of every real cell from the face fluxes (2, N − 1), plus friction and the geometric source."""
    zero = jnp.zeros((2, 1), u.dtype)
    div = jnp.concatenate([zero, flux[:, :-1] - flux[:, 1:], zero], axis=1) / m.dx
    rate = div.at[1].add(friction(m, u[0], u[1]) + geo)
    return jnp.where(m.real, rate, 0.0)


def _rate_balanced(m: OneDModel, u, dt, limiter: str):
    """`_rate` for varying geometry, well balanced: (P, Q) reconstructed, face areas from the face geometry;
    ``u`` has its ghosts filled."""
    law, rho = m.tube, m.blood.density
    p = law.pressure(u[0], m.a0, m.k, m.p_ref)
    w = jnp.stack([p, u[1]])
    slope = _slopes(m, w, limiter)
    wl, wr = w + 0.5 * slope, w - 0.5 * slope
    fa0, fk, fpr = m.a0_face[:-1], m.k_face[:-1], m.p_ref[:-1]
    al = law.area(wl[0, :-1], fa0, fk, fpr)  # left state at face i+1/2 (from cell i)
    ar = law.area(wr[0, 1:], fa0, fk, fpr)  # right state at face i+1/2 (from cell i+1)
    fl = physical_flux(m, al, wl[1, :-1], fa0, fk)
    fr = physical_flux(m, ar, wr[1, 1:], fa0, fk)
    jump = jnp.stack([ar - al, wr[1, 1:] - wl[1, :-1]])
    flux = 0.5 * (fl + fr - m.dx[:-1] / dt * jump)

    def rest_flux(a0, k):  # Φ at the cell's own pressure in the geometry (a0, k)
        return law.flux(law.area(p, a0, k, m.p_ref), a0, k, rho)

    a0_left = jnp.concatenate([m.a0_face[:1], m.a0_face[:-1]])
    k_left = jnp.concatenate([m.k_face[:1], m.k_face[:-1]])
    geo = (rest_flux(m.a0_face, m.k_face) - rest_flux(a0_left, k_left)) / m.dx
    return _divergence(m, u, flux, geo)


def _flux_divergence(m: OneDModel, u, ul, ur, dt):
    """Rate of every cell from the face states ``ul``, ``ur`` (2, N − 1) of faces i+1/2 (uniform geometry):
    local Lax–Friedrichs fluxes, then `_divergence`."""
    rho = m.blood.density
    a_l, q_l, a_r, q_r = ul[0], ul[1], ur[0], ur[1]
    mom_l = q_l * q_l / a_l + m.tube.flux(a_l, m.a0[:-1], m.k[:-1], rho)
    mom_r = q_r * q_r / a_r + m.tube.flux(a_r, m.a0[1:], m.k[1:], rho)
    c = m.dx[:-1] / dt
    flux = jnp.stack([0.5 * (q_l + q_r - c * (a_r - a_l)), 0.5 * (mom_l + mom_r - c * (q_r - q_l))])
    return _divergence(m, u, flux)


def _rate_uniform(m: OneDModel, u, dt, limiter: str):
    """`_rate` for uniform geometry; ``u`` has its ghosts filled (node grid)."""
    slope = _slopes(m, u, limiter)
    ul, ur = u + 0.5 * slope, u - 0.5 * slope  # values at the right and left face of each cell
    return _flux_divergence(m, u, ul[:, :-1], ur[:, 1:], dt)


def _rate_copy_ghosts(m: OneDModel, u, dt, limiter: str):
    """`_rate` for uniform geometry on the cell grid, whose ghosts copy their boundary cell (openBF).

    The ghosts are never filled: a boundary cell's one-sided difference towards its ghost is 0, and a
    face next to a ghost takes the boundary cell's value on the ghost side — the same numbers as filling
    them, with fewer XLA kernels per step (measured 20 % faster per cycle on the CPU).
    """
    d = u[:, 1:] - u[:, :-1]  # d[j] = u[j + 1] − u[j]
    dl = jnp.where(m.left_ghost[:-2], 0.0, d[:, :-1])  # of cells 1 … N − 2
    dr = jnp.where(m.right_ghost[2:], 0.0, d[:, 1:])
    z = jnp.zeros((2, 1), u.dtype)
    s = jnp.concatenate([z, jnp.where(m.real[1:-1], limited_slope(dl, dr, limiter), 0.0), z], axis=1)
    lo, hi = u[:, :-1], u[:, 1:]  # the cells left and right of face j + 1/2
    ul = jnp.where(m.left_ghost[:-1], hi, lo + 0.5 * s[:, :-1])
    ur = jnp.where(m.right_ghost[1:], lo, hi - 0.5 * s[:, 1:])
    return _flux_divergence(m, u, ul, ur, dt)


def interior_update(m: OneDModel, u, dt, limiter: str = "superbee"):
    """One Heun step of every real cell; boundary cells are then overwritten by BCs and junctions."""
    u1 = u + dt * _rate(m, u, dt, limiter)
    return 0.5 * (u + u1 + dt * _rate(m, u1, dt, limiter))
