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
  outgoing characteristic ``u + R(A) = W+`` (`apply_blocks`). Block states
  ``y = [P, Q, internal…]`` live in the solver state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.lumped.blocks import BLOCKS
from cardiojax.lumped.tables import at_time
from cardiojax.oned.linalg import small_solve
from cardiojax.oned.model import OneDModel


def apply_inlets(m: OneDModel, u_state, t, value=None):
    """Set the inlet cells of ``u_state`` (2, N) for time ``t`` (s); ``value`` (I,) is the inlet tables at
    ``t`` if already evaluated (`cardiojax.oned.simulate.run_cycle` evaluates them for a whole output
    interval at once)."""
    law, rho = m.tube, m.blood.density
    cell = m.in_cell
    value = m.in_table(t) if value is None else value
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

    The blocks' equations are linear in their variables (resistance, RCR,
    coronary, pressure), so under backward Euler they give the outlet
    pressure as an affine function of the outlet flow, ``P = a·Q + b``, and
    the internal variables likewise (one small elimination per outlet, with
    the coefficients from `jax.jacfwd` of the block's own residual). The
    outlet area then solves one scalar equation, ``P(A) = a·Q(A) + b`` with
    ``Q(A) = (W+ − R(A))·A`` from the outgoing characteristic, by Newton
    from the current area. Returns the new ``u_state`` and the new block states.
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
            def res(y):
                return block.residual(p, y, (y - y_prev) / dt, t, 1, 0)

            jac = jax.jacfwd(res)(y_prev)  # exact: the residual is affine in y
            const = res(y_prev) - sum(jac[:, i] * y_prev[i] for i in range(y_prev.shape[0]))  # no dot kernel
            rest = [0] + list(range(2, y_prev.shape[0]))  # P and the internal variables, given Q
            jv = jac[:, rest]
            coef = jax.vmap(lambda rhs: small_solve(jv, rhs), in_axes=1, out_axes=1)(
                jnp.stack([jac[:, 1], const], axis=1))  # rest = −coef[:, 0]·Q − coef[:, 1]

            def body(_, a):  # Newton on P(A) + c00·Q(A) + c01 = 0; dP/dA = ρc²/A, dQ/dA = W+ − R(A) − c
                u_out = w - law.riemann(a, a0, k, rho)
                c = law.wave_speed(a, a0, k, rho)
                g = law.pressure(a, a0, k, p_ref) + coef[0, 0] * u_out * a + coef[0, 1]
                return a - g / (rho * c * c / a + coef[0, 0] * (u_out - c))

            a = jax.lax.fori_loop(0, iterations, body, a_guess)
            q = (w - law.riemann(a, a0, k, rho)) * a
            others = -coef[:, 0] * q - coef[:, 1]
            return jnp.concatenate([jnp.stack([law.pressure(a, a0, k, p_ref), q]), others[1:]])

        y = jax.vmap(solve_one)(params, block_y[kind], w_plus, a0, k, p_ref, area)
        y = jnp.where(grp.mask[:, None], y, block_y[kind])
        a_new = law.area(y[:, 0], a0, k, p_ref)
        new = jnp.stack([jnp.where(grp.mask, a_new, area), jnp.where(grp.mask, y[:, 1], flow)])
        u_state = u_state.at[:, cell].set(new)
        new_y[kind] = y
    return u_state, new_y
