"""The 0D (lumped) counterpart of a 1D network, its steady state, and 1D states started from it.

`lumped_network` maps a `NetworkSpec` onto the block network of the 0D
solver (`cardiojax.lumped`): each vessel becomes a ``vessel`` block with the
resistance of its friction term, ``R = 2(γ+2)πμ·∫dx/A0(x)²`` (the Poiseuille
resistance 8πμL/A0² for γ = 2), the inertance ``L = ρ∫dx/A0`` and the
compliance ``C = ∫(dA/dP)dx = ∫1.5·A0/K dx`` (linearised at A0), junctions become ``junction`` blocks (or a
``vessel``/``vessel_junction`` block carrying the lumped losses), inlets and
outlet blocks stay what they are. Its steady state is the limit the 1D model
must reach under constant inflow for stiff walls (tested), and
`steady_initial_state` starts a pulsatile 1D run from it (mean inflow, each
vessel's pressure linear between its 0D end pressures, outlet blocks at
their steady state), which removes most of the slow Windkessel transient.
`discrete_steady_state` finds the steady solution of the 1D scheme itself
(Newton on its one-step map), to round-off.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from cardiojax.lumped.network import NetworkBuilder, solve_steady_network, vessel_results
from cardiojax.oned.model import NetworkSpec, OneDModel, _vessel_cells
from cardiojax.oned.simulate import State, Stepping, choose_substeps, initial_state, step


def vessel_resistance(spec: NetworkSpec) -> np.ndarray:
    """Friction resistance of every vessel, Pa·s/m³: 2(γ+2)πμ·∫dx/A0² (midpoint rule on the cells of a
    ``"cell"`` grid, trapezoidal rule on the points of a ``"node"`` grid)."""
    mu = float(spec.blood.viscosity)
    out = []
    for v in spec.vessels:
        a0, _, dx, _, _ = _vessel_cells(v, spec.grid)
        w = dx.copy()
        if spec.grid == "node":
            w[[0, -1]] *= 0.5
        out.append(2.0 * (spec.profile + 2.0) * np.pi * mu * np.sum(w / a0**2))
    return np.array(out)


def lumped_network(spec: NetworkSpec):
    """The 0D block network of ``spec``; returns ``(network, params)`` for `cardiojax.lumped`."""
    b = NetworkBuilder()
    ends = {}
    for i, v in enumerate(spec.vessels):
        ends[(i, "in")], ends[(i, "out")] = b.node(), b.node()
    res = vessel_resistance(spec)
    rho = float(spec.blood.density)
    for i, v in enumerate(spec.vessels):
        a0, k, dx, _, _ = _vessel_cells(v, spec.grid)
        w = dx.copy()
        if spec.grid == "node":
            w[[0, -1]] *= 0.5
        inertance = rho * np.sum(w / a0)  # ρ∫dx/A0
        compliance = np.sum(w * 1.5 * a0 / k)  # ∫dA/dP dx, dA/dP = 1.5·A0/K at A0 for both tube laws
        b.vessel(v.name, ends[(i, "in")], ends[(i, "out")], {"R": res[i], "C": compliance, "L": inertance, "S": 0.0})
    for j, jn in enumerate(spec.junctions):
        ups = [ends[tuple(e)] for e in jn.ends if e[1] == "out"]
        downs = [ends[tuple(e)] for e in jn.ends if e[1] == "in"]
        losses = jn.losses
        if losses is None or not any(r or s for r, s in losses[1:]):
            b.block("junction", f"J{j}", ups, downs)
        elif len(ups) == 1 and len(downs) == 1:
            r, s = losses[1]
            b.block("vessel", f"J{j}", ups, downs, {"R": r, "C": 0.0, "L": 0.0, "S": s})
        elif len(ups) == 1:
            b.block("vessel_junction", f"J{j}", ups, downs,
                    {"R": [r for r, _ in losses[1:]], "L": [0.0] * len(downs), "S": [s for _, s in losses[1:]]})
        else:
            raise ValueError(f"junction #{j}: lumped losses need a single upstream vessel")
    for k, inl in enumerate(spec.inlets):
        kind = "flow" if inl.kind == "flow" else "pressure"
        key = "Q" if kind == "flow" else "P"
        b.block(kind, f"inlet{k}", [], [ends[(inl.vessel, "in")]],
                {key: (np.atleast_1d(inl.times), np.atleast_1d(inl.values))})
    for k, o in enumerate(spec.outlets):
        node = ends[(o.vessel, "out")]
        if o.kind == "reflection":
            v = spec.vessels[o.vessel]
            a0, kk, *_ = _vessel_cells(v, spec.grid)
            rho = float(spec.blood.density)
            z0 = rho * np.sqrt(2.0 * kk[-1] / (3.0 * rho)) / a0[-1]
            rt = float(o.params["Rt"])
            r = z0 * (1.0 + rt) / max(1.0 - rt, 1e-12)
            b.block("resistance", f"outlet{k}", [node], [], {"R": r, "Pd": v.p_ref})
        else:
            params = {p: (tuple(val) if isinstance(val, (tuple, list)) else val) for p, val in o.params.items()}
            b.block(o.kind, f"outlet{k}", [node], [], params)
    return b.build()


def steady_state(spec: NetworkSpec) -> dict[str, np.ndarray]:
    """Steady (mean-inflow) 0D solution per vessel: ``pressure_in``, ``pressure_out`` (Pa), ``flow`` (m³/s)."""
    net, params = lumped_network(spec)
    y, _ = solve_steady_network(net, params)
    r = vessel_results(net, y)
    return {"pressure_in": np.asarray(r["pressure_in"]), "pressure_out": np.asarray(r["pressure_out"]),
            "flow": np.asarray(r["flow_in"])}


def steady_initial_state(m: OneDModel, spec: NetworkSpec) -> State:
    """A 1D state at the 0D steady solution of ``spec`` (the model ``m`` must be built from it)."""
    st = steady_state(spec)
    n = m.num_cells
    p = np.asarray(m.p_ref, np.float64).copy()
    q = np.zeros(n)
    first, last = np.asarray(m.first), np.asarray(m.last)
    for i in range(len(spec.vessels)):
        cells = np.arange(first[i] - 1, last[i] + 2)
        n = last[i] - first[i] + 1
        pos = (cells - first[i]) / (n - 1) if spec.grid == "node" else (cells - first[i] + 0.5) / n
        frac = np.clip(pos, 0.0, 1.0)
        p[cells] = st["pressure_in"][i] + (st["pressure_out"][i] - st["pressure_in"][i]) * frac
        q[cells] = st["flow"][i]
    return initial_state(m, pressure=jnp.asarray(p, m.a0.dtype), flow=jnp.asarray(q, m.a0.dtype))


def discrete_steady_state(m: OneDModel, state: State, *, stepping: Stepping | None = None,
                          tol: float = 1e-10, max_iter: int = 20) -> tuple[State, dict]:
    """The steady state of the discrete 1D scheme itself, by Newton's method on its one-step map.

    A steady solution is a fixed point ``x = step(x)`` of one time step (cell
    areas and flows, outlet block states) with the boundary data frozen at
    the state's time ``t``; Newton on ``step(x) − x`` with the Jacobian from
    `jax.jacfwd` reaches it to round-off in a few iterations, where time
    stepping would need many wave-reflection and friction time constants
    (about 1 s of simulated time for a 1 cm² tube). It needs boundary data
    that do not change in time to be meaningful. Ghost and padding cells and
    masked outlets are held fixed.

    Args:
      m: the model (one network).
      state: starting guess; Newton needs one near the solution, such as
        `steady_initial_state` (from rest it diverges).
      stepping: gives Δt = period/(samples·substeps) — the steady state of
        the scheme depends on Δt through the Lax–Friedrichs dissipation only
        where the solution is not linear — and the limiter. Default: the Δt
        of `simulate` and ``limiter="none"``, which makes the one-step map
        smooth so that Newton converges quadratically; a TVD limiter has kinks
        where slopes change sign (as in uniform flow) and Newton can stall.
      tol: stop when the largest one-step change, relative to each field's
        scale (largest area, flow, block state), is below this (round-off
        leaves about 1e-12).
      max_iter: iteration limit; raises ``RuntimeError`` if not converged.

    Returns:
      ``(state, info)`` with ``info = {"iterations", "residual"}`` (the largest
      scaled one-step change at the solution).
    """
    if stepping is None:
        stepping = Stepping(samples=100, substeps=choose_substeps(m, 100), limiter="none")
    s0 = state
    dt = m.period / (stepping.samples * stepping.substeps)
    x0, unravel = ravel_pytree((s0.u, s0.block_y))
    u_active = jnp.broadcast_to(m.real, s0.u.shape)
    y_active = {k: jnp.broadcast_to(m.blocks[k].mask[:, None], y.shape) for k, y in s0.block_y.items()}
    active, _ = ravel_pytree((u_active, y_active))
    u_scale = jnp.stack([jnp.full_like(s0.u[0], jnp.max(jnp.abs(s0.u[0]))),
                         jnp.full_like(s0.u[1], jnp.max(jnp.abs(s0.u[1])) + jnp.max(jnp.abs(s0.u[0])) * 1e-3)])
    y_scale = {k: jnp.broadcast_to(jnp.max(jnp.abs(y), axis=0) + 1e-12, y.shape) for k, y in s0.block_y.items()}
    scale, _ = ravel_pytree((u_scale, y_scale))

    def residual(z):
        u, block_y = unravel(z * scale)
        s = dataclasses.replace(s0, u=u, block_y=block_y)
        s1 = step(m, s, dt, stepping)
        z1, _ = ravel_pytree((s1.u, s1.block_y))
        return jnp.where(active, z1 / scale - z, z - x0 / scale)

    newton = jax.jit(lambda z: z - jnp.linalg.solve(jax.jacfwd(residual)(z), residual(z)))
    res_max = jax.jit(lambda z: jnp.max(jnp.abs(residual(z))))
    z = x0 / scale
    r = float(res_max(z))
    it = 0
    while r > tol:
        if it == max_iter:
            raise RuntimeError(f"discrete_steady_state: no convergence in {max_iter} Newton iterations "
                               f"(scaled residual {r:.2e} > tol={tol:.1e})")
        z = newton(z)
        it += 1
        r = float(res_max(z))
        if not np.isfinite(r):
            raise FloatingPointError(f"discrete_steady_state: Newton diverged at iteration {it}")
    u, block_y = unravel(z * scale)
    info = {"iterations": it, "residual": r}
    return dataclasses.replace(s0, u=u, block_y=block_y), info
