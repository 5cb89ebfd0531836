"""Lumped-parameter blocks: local equations ``r(p, y, dy, t) = 0`` in SI units.

Each block type (after svZeroDSolver) owns its parameters and its local
residual equations in its local variables ``y`` (pressures P in Pa and flows Q
in m³/s at its ports, then internal variables) and their time derivatives
``dy``. A network (`cardiojax.lumped.network`) gathers the local variables
from a global vector by a static index map, stacks the residuals of all blocks
and gets every Jacobian from JAX. Steady problems set ``dy = 0``; the
pulsatile solver integrates the same residuals in time.

Port variables come in (P, Q) pairs, Q positive in the direction of flow from
inlet to outlet ports. A block with ``p`` ports and ``i`` internal variables
contributes ``p + i`` equations, so a network whose every node joins two ports
is square.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax.numpy as jnp

from cardiojax.lumped.elements import vessel_pressure_drop


@dataclasses.dataclass(frozen=True)
class BlockKind:
    """A block type.

    Attributes:
      name: registry key.
      params: parameter names, each a scalar (or ``(n_out,)`` for junction
        lists) per block.
      internal: names of internal variables (after the port variables).
      residual: ``(params, y, dy, t, n_in, n_out) -> (n_eq,)`` for one block.
      time_dependent: parameters that may be periodic tables of time (as in
        svZeroDSolver: prescribed flows and pressures, the intramyocardial
        pressure); they enter the equations additively, so a network without
        stenosis terms stays linear with a constant Jacobian.
      steady_residual: the equations svZeroDSolver uses in its steady mode
        (steady solve and steady initialisation), if they differ from
        ``residual``; same signature.
      initial_params: ``(params, y0, ydot0) -> dict`` of extra parameters
        fixed by the state the pulsatile run starts from.
    """

    name: str
    params: tuple[str, ...]
    internal: tuple[str, ...]
    residual: Callable
    time_dependent: tuple[str, ...] = ()
    steady_residual: Callable | None = None
    initial_params: Callable | None = None

    def equations(self, steady: bool) -> Callable:
        """The residual function for steady or pulsatile mode."""
        return self.steady_residual if steady and self.steady_residual else self.residual


def _vessel(p, y, dy, t, n_in, n_out):
    """svZeroDSolver ``BloodVessel``: R, C, L and stenosis coefficient S.

    y = [P_in, Q_in, P_out, Q_out];
    P_in − P_out − (R + S|Q_in|)Q_in − L·dQ_out/dt = 0,
    Q_in − Q_out − C·dP_in/dt + C(R + 2S|Q_in|)·dQ_in/dt = 0.
    """
    p_in, q_in, p_out, q_out = y
    dp_in, dq_in, _, dq_out = dy
    r, c, l, s = p["R"], p["C"], p["L"], p["S"]
    return jnp.stack([
        p_in - p_out - vessel_pressure_drop(r, s, q_in) - l * dq_out,
        q_in - q_out - c * dp_in + c * (r + 2.0 * s * jnp.abs(q_in)) * dq_in,
    ])


def _junction(p, y, dy, t, n_in, n_out):
    """Normal junction: mass conservation and one pressure at all ports."""
    pressure, flow = y[0::2], y[1::2]
    mass = jnp.sum(flow[:n_in]) - jnp.sum(flow[n_in:])
    return jnp.concatenate([mass[None], pressure[1:] - pressure[0]])


def _vessel_junction(p, y, dy, t, n_in, n_out):
    """svZeroDSolver ``BloodVesselJunction``: one inlet, a small vessel to each outlet.

    Q_in − Σ Q_out,i = 0;  P_in − P_out,i − (R_i + S_i|Q_out,i|)Q_out,i − L_i·dQ_out,i/dt = 0.
    """
    pressure, flow, dflow = y[0::2], y[1::2], dy[1::2]
    mass = flow[0] - jnp.sum(flow[1:])
    drop = pressure[0] - pressure[1:] - vessel_pressure_drop(p["R"], p["S"], flow[1:])
    return jnp.concatenate([mass[None], drop - p["L"] * dflow[1:]])


def _flow_bc(p, y, dy, t, n_in, n_out):
    """Prescribed flow Q(t) into the network: Q − Q(t) = 0."""
    return (y[1] - p["Q"])[None]


def _pressure_bc(p, y, dy, t, n_in, n_out):
    """Prescribed pressure P(t): P − P(t) = 0."""
    return (y[0] - p["P"])[None]


def _resistance_bc(p, y, dy, t, n_in, n_out):
    """Resistance R to a distal pressure Pd: P − Pd − R·Q = 0."""
    return (y[0] - p["Pd"] - p["R"] * y[1])[None]


def _rcr_bc(p, y, dy, t, n_in, n_out):
    """Windkessel RCR (Rp, C, Rd, Pd); y = [P, Q, P_c].

    Rd·Q − P_c + Pd − Rd·C·dP_c/dt = 0;  P − P_c − Rp·Q = 0.
    """
    pressure, flow, p_c = y
    return jnp.stack([
        p["Rd"] * flow - p_c + p["Pd"] - p["Rd"] * p["C"] * dy[2],
        pressure - p_c - p["Rp"] * flow,
    ])


def _rcr_bc_steady(p, y, dy, t, n_in, n_out):
    """RCR in steady mode: svZeroDSolver sets C = 0 (``Model::to_steady``)."""
    return _rcr_bc(dict(p, C=jnp.zeros_like(p["C"])), y, dy, t, n_in, n_out)


def _coronary_bc(p, y, dy, t, n_in, n_out):
    """Open-loop coronary outlet (Kim et al. 2010), svZeroDSolver's ``CORONARY``.

    Parameters Ra (Ra1), Ram (Ra2), Rv (Rv1), Ca, Cim (Cc), Pim(t), Pv, and
    the initial-state offsets Pcim0, Pim0 (`_coronary_initial`);
    y = [P, Q, V_im] with V_im the intramyocardial volume change since the
    start (m³). With P̃im = Pim + Pcim0 − Pim0 (the pressure behind Cim):
    Cim·Rv·Q − V_im − Cim·P̃im + Cim·Pv − Cim·Rv·dV_im/dt − Ca·Cim·Rv·dP/dt
        + Ra·Ca·Cim·Rv·dQ/dt = 0,
    Cim·Rv·P − Cim·Rv·Ra·Q − (Rv + Ram)·V_im − Cim·Rv·Ram·dV_im/dt
        − Cim·(Rv + Ram)·P̃im + Ram·Cim·Pv = 0.
    Steady state: P = (Ra + Ram + Rv)·Q + Pv.
    """
    pressure, flow, v_im = y
    dp, dq, dv = dy
    ra, ram, rv, ca, cim = p["Ra"], p["Ram"], p["Rv"], p["Ca"], p["Cim"]
    pim = p["Pim"] + p.get("Pcim0", 0.0) - p.get("Pim0", 0.0)
    pv = p["Pv"]
    return jnp.stack([
        cim * rv * flow - v_im - cim * pim + cim * pv - cim * rv * dv - ca * cim * rv * dp
        + ra * ca * cim * rv * dq,
        cim * rv * pressure - cim * rv * ra * flow - (rv + ram) * v_im
        - cim * rv * ram * dv - cim * (rv + ram) * pim + ram * cim * pv,
    ])


def _coronary_initial(p, y, dy):
    """Offsets fixed by the initial state (svZeroDSolver's ``setup_initial_state_dependent_params``).

    Pcim0 = P_Ca − Ram·(Q − Ca·dP_Ca/dt) with P_Ca = P − Ra·Q (pressure behind
    Ram at the start, Pa); Pim0 = Pim at the start, Pa.
    """
    pressure, flow = y[0], y[1]
    p_ca = pressure - p["Ra"] * flow
    p_ca_dot = dy[0] - p["Ra"] * dy[1]
    return {"Pcim0": p_ca - p["Ram"] * (flow - p["Ca"] * p_ca_dot), "Pim0": p["Pim"]}


def _coronary_bc_steady(p, y, dy, t, n_in, n_out):
    """Coronary outlet in svZeroDSolver's steady mode: V_im = 0;  −P + (Ra + Ram + Rv)·Q + Pv = 0."""
    pressure, flow, v_im = y
    return jnp.stack([v_im, -pressure + (p["Ra"] + p["Ram"] + p["Rv"]) * flow + p["Pv"]])


BLOCKS: dict[str, BlockKind] = {
    k.name: k
    for k in (
        BlockKind("vessel", ("R", "C", "L", "S"), (), _vessel),
        BlockKind("junction", (), (), _junction),
        BlockKind("vessel_junction", ("R", "L", "S"), (), _vessel_junction),
        BlockKind("flow", ("Q",), (), _flow_bc, ("Q",)),
        BlockKind("pressure", ("P",), (), _pressure_bc, ("P",)),
        BlockKind("resistance", ("R", "Pd"), (), _resistance_bc),
        BlockKind("rcr", ("Rp", "C", "Rd", "Pd"), ("pressure_c",), _rcr_bc, (), _rcr_bc_steady),
        BlockKind("coronary", ("Ra", "Ram", "Rv", "Ca", "Cim", "Pim", "Pv"), ("volume_im",),
                  _coronary_bc, ("Pim",),
                  _coronary_bc_steady, _coronary_initial),
    )
}
