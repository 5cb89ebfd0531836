"""Inlet and outlet boundary conditions of the 1D model.

Inlets (before each interior update, at time t, as openBF):

* flow ``Q(t)``: the inlet cell takes the prescribed flow and keeps its area
  (openBF's inlet: its characteristic update leaves the area unchanged);
* pressure ``P(t)``: the inlet cell takes ``A = A(P)`` and the velocity that
  keeps the incoming-from-the-interior characteristic ``u − R(A)``.

Outlets (after the interior update, at time t + Δt):

* ``reflection``: the incoming characteristic is ``W− = −Rt·W+`` (openBF's
  outlet 1; Rt = 0 is non-reflecting, 1 a closed end, −1 an open end);
* a lumped block — ``resistance``, ``rcr`` or ``coronary`` — with the very
  equations of the 0D solver (`cardiojax.lumped.blocks`, not written twice),
  integrated by backward Euler and coupled to the vessel through its
  outgoing characteristic ``u + R(A) = W+``: the unknowns are the outlet
  cell's area and the block's internal variables, solved together by Newton
  with the Jacobian from `jax.jacfwd`. Block states ``y = [P, Q, internal…]``
  live in the solver state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.lumped.blocks import BLOCKS
from cardiojax.lumped.tables import at_time
from cardiojax.oned.linalg import small_solve
from cardiojax.oned.model import OneDModel


def apply_inlets(m: OneDModel, u_state, t):
    """Set the inlet cells of ``u_state`` (2, N) for time ``t`` (s)."""
    law, rho = m.tube, m.blood.density
    cell = m.in_cell
    value = m.in_table(t)
    area, flow = u_state[0, cell], u_state[1, cell]
    a0, k, p_ref = m.a0[cell], m.k[cell], m.p_ref[cell]
    # pressure inlet: area from the pressure, velocity from the characteristic coming from the interior
    w_minus = flow / area - law.riemann(area, a0, k, rho)
    a_p = law.area(value, a0, k, p_ref)
    q_p = (w_minus + law.riemann(a_p, a0, k, rho)) * a_p
    new_area = jnp.where(m.in_pressure, a_p, area)
    new_flow = jnp.where(m.in_pressure, q_p, value)
    return u_state.at[:, cell].set(jnp.stack([new_area, new_flow]))


def apply_reflection(m: OneDModel, u_state):
    """Reflection-coefficient outlets."""
    if m.refl_cell.shape[-1] == 0:
        return u_state
    law, rho = m.tube, m.blood.density
    cell = m.refl_cell
    area, flow = u_state[0, cell], u_state[1, cell]
    a0, k = m.a0[cell], m.k[cell]
    w_plus = flow / area + law.riemann(area, a0, k, rho)
    w_minus = -m.refl_rt * w_plus
    new_area = law.area_from_riemann(0.5 * (w_plus - w_minus), a0, k, rho)
    new_flow = 0.5 * (w_plus + w_minus) * new_area
    new = jnp.stack([jnp.where(m.refl_mask, new_area, area), jnp.where(m.refl_mask, new_flow, flow)])
    return u_state.at[:, cell].set(new)


def apply_blocks(m: OneDModel, u_state, block_y: dict, block_extra: dict, t, dt, iterations: int = 4):
    """Couple every lumped outlet block to its vessel for the step ending at ``t`` (s).

    Returns the new ``u_state`` and the new block states.
    """
    law, rho = m.tube, m.blood.density
    new_y = {}
    for kind, grp in m.blocks.items():
        block = BLOCKS[kind]
        cell = grp.cell
        area, flow = u_state[0, cell], u_state[1, cell]
        a0, k, p_ref = m.a0[cell], m.k[cell], m.p_ref[cell]
        w_plus = flow / area + law.riemann(area, a0, k, rho)
        params = dict(at_time(grp.params, t), **block_extra.get(kind, {}))

        def solve_one(p, y_prev, w, a0, k, p_ref, a_guess):
            def local(z):
                a = z[0] * a0
                q = (w - law.riemann(a, a0, k, rho)) * a
                y = jnp.concatenate([jnp.stack([law.pressure(a, a0, k, p_ref), q]), z[1:]])
                return y

            def res(z):
                y = local(z)
                return block.residual(p, y, (y - y_prev) / dt, t, 1, 0)

            def body(_, z):
                return z - small_solve(jax.jacfwd(res)(z), res(z))

            z0 = jnp.concatenate([(a_guess / a0)[None], y_prev[2:]])
            z = jax.lax.fori_loop(0, iterations, body, z0)
            return local(z)

        y = jax.vmap(solve_one)(params, block_y[kind], w_plus, a0, k, p_ref, area)
        y = jnp.where(grp.mask[:, None], y, block_y[kind])
        a_new = law.area(y[:, 0], a0, k, p_ref)
        new = jnp.stack([jnp.where(grp.mask, a_new, area), jnp.where(grp.mask, y[:, 1], flow)])
        u_state = u_state.at[:, cell].set(new)
        new_y[kind] = y
    return u_state, new_y
