"""Junctions of any degree: Newton on mass conservation and pressure continuity along the characteristics.

At a junction of d vessel ends the outgoing characteristic of every end is
kept, ``u_k + s_k·R(A_k) = W_k`` (``s_k = +1`` at a vessel outlet, −1 at a
vessel inlet, R the tube law's Riemann integral), which gives each end's
velocity as a function of its area. The d unknowns ``A_k/A0_k`` then solve

* mass: ``Σ s_k·u_k·A_k = 0``;
* pressure, for k ≥ 1: ``P_0 + χρu_0²/2 = P_k + χρu_k²/2 + R_k·Q_k + S_k·Q_k|Q_k|``
  with χ = 1 for total-pressure continuity and 0 for static pressure, and
  (R_k, S_k) an optional lumped loss (a Young–Tsai stenosis element between
  two vessels is a junction of degree 2 with a loss).

Junctions are padded to a common degree; padded ends solve ``A = A0``. A
fixed number of Newton iterations (Jacobian from `jax.jacfwd`, unrolled
small solve) runs for all junctions at once (`jax.vmap`), so the solve
lives inside `jit`, `vmap` and `grad`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.oned.linalg import small_solve
from cardiojax.oned.model import OneDModel


def junction_state(x, w, sign, a0, k, p_ref, law, rho):
    """Areas, velocities and flows of the ends for area ratios ``x`` and characteristics ``w``."""
    a = x * a0
    u = w - sign * law.riemann(a, a0, k, rho)
    return a, u, u * a


def junction_conditions(area, velocity, pressure, sign, rho, total=True, mask=None, r=0.0, s=0.0):
    """The two junction conditions on the ends' states (arrays over the d ends, axis −1), SI units.

    Returns ``(mass, pressure_jump)``: ``mass = Σ s_k·A_k·u_k`` (m³/s; ``s_k`` = +1 at a vessel outlet,
    −1 at a vessel inlet; ends with ``mask`` False are left out) and, for k ≥ 1,
    ``P_0 + χρu_0²/2 − (P_k + χρu_k²/2) − R_k·Q_k − S_k·Q_k|Q_k|`` (Pa) with χ = 1 if ``total`` (total-pressure
    continuity) else 0. Both vanish at a junction that conserves mass and (total) pressure. Shared by the solver's
    Newton solve (`junction_residual`) and the PINN interface residuals (`cardiojax.physics.junction_residuals`).
    """
    q = area * velocity
    mask = jnp.ones_like(q, dtype=bool) if mask is None else mask
    mass = jnp.sum(jnp.where(mask, sign * q, 0.0), axis=-1)
    head = pressure + jnp.where(total, 0.5 * rho * velocity * velocity, 0.0)
    loss = r * q + s * q * jnp.abs(q)
    jump = head[..., :1] - head[..., 1:] - (loss * jnp.ones_like(q))[..., 1:]
    return mass, jump


def junction_residual(x, w, sign, mask, a0, k, p_ref, r, s, total, law, rho):
    """Mass and pressure residuals (dimensionless) of one junction; padded ends give ``x − 1``."""
    a, u, q = junction_state(x, w, sign, a0, k, p_ref, law, rho)
    mass, jump = junction_conditions(a, u, law.pressure(a, a0, k, p_ref), sign, rho, total, mask, r, s)
    res = jnp.concatenate([(mass / (a0[0] * jnp.sqrt(k[0] / rho)))[None], jump / (k[1:] + k[0])])
    return jnp.where(mask, res, x - 1.0)


def solve_junctions(m: OneDModel, u_state, iterations: int = 4):
    """Overwrite the boundary cells of every junction end in ``u_state`` (2, N) with the junction solution."""
    if m.j_cell.shape[-2] == 0:
        return u_state
    law, rho = m.tube, m.blood.density
    cell = m.j_cell
    area, flow = u_state[0, cell], u_state[1, cell]
    a0, k, p_ref = m.a0[cell], m.k[cell], m.p_ref[cell]
    w = flow / area + m.j_sign * law.riemann(area, a0, k, rho)

    def solve_one(x, w, sign, mask, a0, k, p_ref, r, s, total):
        def f(z):
            return junction_residual(z, w, sign, mask, a0, k, p_ref, r, s, total, law, rho)

        def body(_, z):
            return z - small_solve(jax.jacfwd(f)(z), f(z))

        x = jax.lax.fori_loop(0, iterations, body, x)
        a, _, q = junction_state(x, w, sign, a0, k, p_ref, law, rho)
        return a, q

    new_area, new_flow = jax.vmap(solve_one)(area / a0, w, m.j_sign, m.j_mask, a0, k, p_ref, m.j_r, m.j_s,
                                             m.j_total)
    new = jnp.stack([jnp.where(m.j_mask, new_area, area), jnp.where(m.j_mask, new_flow, flow)])
    return u_state.at[:, cell].set(new)
