"""The finite-volume update of all vessel interiors: MUSCL reconstruction, Lax–Friedrichs fluxes, Heun (RK2).

Equations, per vessel, for the area A (m²) and flow Q (m³/s):

    ∂A/∂t + ∂Q/∂x = 0,
    ∂Q/∂t + ∂(Q²/A + Φ(A))/∂x = −f·Q/A − [A/ρ·∂P/∂θ − ∂Φ/∂θ]·∂θ/∂x,

with Φ = (1/ρ)∫A dP the tube law's flux (`cardiojax.oned.tube_laws`),
f = 2(γ+2)πμ/ρ the friction coefficient of a velocity profile of exponent γ
and θ = (A0, K) the wall parameters, whose variation along a tapered or
narrowed vessel gives the last (geometric) source term; it is evaluated
with one `jax.jvp` of the tube law, so any tube law gets it for free.

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

Gradients: a limiter switches branches as the solution changes, so the
discrete solution is only piecewise smooth in the parameters; `jax.grad`
then returns the derivative of the active branch, which can differ from
finite differences of the (kinked) map. Use ``limiter="none"`` (smooth,
second order, no TVD guarantee) for gradient-based work on smooth waves;
it agrees with finite differences to 1e-9 (tested).
"""

from __future__ import annotations

import jax
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


def physical_flux(m: OneDModel, area, flow):
    """(Q, Q²/A + Φ(A)) per cell."""
    return jnp.stack([flow, flow * flow / area + m.tube.flux(area, m.a0, m.k, m.blood.density)])


def source(m: OneDModel, area, flow):
    """Momentum source per cell, m³/s²: friction and the geometric term of varying A0 and K."""
    rho = m.blood.density

    def g(a0, k):
        return area / rho * m.tube.pressure(area, a0, k, m.p_ref) - m.tube.flux(area, a0, k, rho)

    fric = -m.friction * flow / area
    if not m.varying:
        return fric
    _, geo = jax.jvp(g, (m.a0, m.k), (m.da0dx, m.dkdx))
    return fric - geo


def fill_ghosts(m: OneDModel, u):
    """Ghost cells take the values of their vessel's boundary cell (``"cell"`` grid, openBF) or the
    linear extrapolation of the two cells next to them (``"node"`` grid); shifted copies, no gather."""
    left = jnp.concatenate([u[:, 1:], u[:, -1:]], axis=1)
    right = jnp.concatenate([u[:, :1], u[:, :-1]], axis=1)
    if m.grid == "node":
        left = 2.0 * left - jnp.concatenate([u[:, 2:], u[:, -2:]], axis=1)
        right = 2.0 * right - jnp.concatenate([u[:, :2], u[:, :-2]], axis=1)
    return jnp.where(m.left_ghost, left, jnp.where(m.right_ghost, right, u))


def _rate(m: OneDModel, u, dt, limiter: str):
    """dU/dt of every cell (ghosts get 0) for the state ``u`` = (2, N) of (A, Q)."""
    u = fill_ghosts(m, u)
    d = jnp.diff(u, axis=1)
    zero = jnp.zeros((2, 1), u.dtype)
    dl = jnp.concatenate([zero, d], axis=1)
    dr = jnp.concatenate([d, zero], axis=1)
    slope = jnp.where(m.real, limited_slope(dl, dr, limiter), 0.0)
    if m.grid == "node":  # extrapolated ghosts carry the slope towards their vessel: no jump at the end faces
        slope = jnp.where(m.left_ghost, dr, jnp.where(m.right_ghost, dl, slope))
    ul, ur = u + 0.5 * slope, u - 0.5 * slope  # values at the right and left face of each cell
    fl, fr = physical_flux(m, ul[0], ul[1]), physical_flux(m, ur[0], ur[1])
    speed = m.dx[:-1] / dt
    flux = 0.5 * (fr[:, 1:] + fl[:, :-1] - speed * (ur[:, 1:] - ul[:, :-1]))  # at interfaces i+1/2
    div = jnp.concatenate([zero, flux[:, :-1] - flux[:, 1:], zero], axis=1) / m.dx
    rate = div.at[1].add(source(m, u[0], u[1]))
    return jnp.where(m.real, rate, 0.0)


def interior_update(m: OneDModel, u, dt, limiter: str = "superbee"):
    """One Heun step of every real cell; boundary cells are then overwritten by BCs and junctions."""
    u1 = u + dt * _rate(m, u, dt, limiter)
    return 0.5 * (u + u1 + dt * _rate(m, u1, dt, limiter))
