"""Time stepping of the 1D model: fixed steps under `lax.scan`, cycles until periodic.

Time-stepping choice. The step Δt is fixed for a whole run and divides the
output interval exactly: a cycle of period T is ``samples`` output intervals
of ``substeps`` steps each, so Δt = T/(samples·substeps). `choose_substeps`
picks the smallest ``substeps`` whose Δt meets the CFL condition
``Δt ≤ C·min Δx/(|u| + c)`` with C = 0.9 (openBF's Ccfl) on a bound of the
characteristic speeds (wave speed at the reference area plus a margin of
``margin``·c0 for the flow and wall distension). A fixed Δt lets one cycle be
a `lax.scan` of static length, so it compiles once, runs under `jax.vmap`
for a batch of networks and differentiates in reverse mode; each output
interval is a `jax.checkpoint`, so memory for `jax.grad` grows with the
number of output samples, not with the number of steps. The largest Courant
number met during the run is recorded at every output sample (`Cycle.cfl`) and `check_cfl` raises
if it exceeded 1.

Cycles. `simulate` runs cycles (one compiled call each) until the sampled
pressures of two consecutive cycles differ by less than ``rtol`` relative to
the largest pressure, and returns the last cycle, sampled at ``samples``
instants per cycle at 5 nodes per vessel (inlet, ¼, ½, ¾, outlet cell, as
openBF's output).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.lumped.blocks import BLOCKS
from cardiojax.lumped.tables import at_time
from cardiojax.oned.boundaries import apply_blocks, apply_inlets, apply_reflection
from cardiojax.oned.junctions import solve_junctions
from cardiojax.oned.model import OneDModel
from cardiojax.oned.scheme import LIMITERS, interior_update

#: openBF's Courant number.
CFL = 0.9


@dataclasses.dataclass(frozen=True)
class Stepping:
    """Static time-stepping options.

    Attributes:
      samples: output samples per cycle.
      substeps: time steps per output sample (see `choose_substeps`).
      limiter: slope limiter (`cardiojax.oned.scheme.LIMITERS`).
      newton: Newton iterations of junctions and outlet blocks per step (each
        starts from the previous step's solution, so 2 reach round-off).
    """

    samples: int = 100
    substeps: int = 10
    limiter: str = "superbee"
    newton: int = 2

    def __post_init__(self):
        if self.limiter not in LIMITERS:
            raise ValueError(f"limiter={self.limiter!r} is not known; expected one of {LIMITERS}")
        if self.samples < 1 or self.substeps < 1:
            raise ValueError(f"samples={self.samples}, substeps={self.substeps}: expected positive integers")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class State:
    """Solver state: ``u`` (2, N) cell areas (m²) and flows (m³/s), outlet block states
    ``block_y`` (kind → (n, 2 + internal)), block parameters fixed at the start
    ``block_extra``, the time ``t`` (s) and the largest Courant number so far ``cfl``."""

    u: jax.Array
    block_y: dict
    block_extra: dict
    t: jax.Array
    cfl: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Cycle:
    """One sampled cycle: ``time`` (S,), s; ``area`` and ``flow`` (S, V, 5) at the 5 output
    nodes of every vessel (m², m³/s); ``pressure`` and ``velocity`` derived (Pa, m/s);
    ``outlets`` (kind → (S, n, 2 + internal)) block states; ``cfl`` the largest Courant number."""

    time: jax.Array
    area: jax.Array
    flow: jax.Array
    pressure: jax.Array
    velocity: jax.Array
    outlets: dict
    cfl: jax.Array


def wave_speed_bound(m: OneDModel, margin: float = 0.5) -> np.ndarray:
    """Per-cell bound of |u| + c used to choose Δt: (1 + margin)·c(A0), m/s (host side)."""
    rho = np.asarray(m.blood.density)[..., None]  # (batch…, 1): works on a single model or a batch
    c0 = np.asarray(m.tube.wave_speed(np.asarray(m.a0), np.asarray(m.a0), np.asarray(m.k), rho))
    return (1.0 + margin) * c0


def choose_substeps(m: OneDModel, samples: int = 100, cfl: float = CFL, margin: float = 0.5) -> int:
    """Smallest number of steps per output sample whose Δt satisfies the CFL condition (host side).

    Works on a single model or a batch (the bound is taken over the batch).
    """
    speed = wave_speed_bound(m, margin)
    real = np.asarray(m.real)
    dt_max = cfl * np.min(np.where(real, np.asarray(m.dx) / speed, np.inf))
    period = float(np.max(np.asarray(m.period)))
    return max(1, math.ceil(period / samples / dt_max))


def courant(m: OneDModel, u_state, dt):
    """Largest Courant number (|u| + c)·Δt/Δx over the real cells."""
    area, flow = u_state
    c = m.tube.wave_speed(area, m.a0, m.k, m.blood.density)
    return jnp.max(jnp.where(m.real, (jnp.abs(flow / area) + c) * dt / m.dx, 0.0))


def initial_state(m: OneDModel, pressure=None, flow=None, t0=0.0) -> State:
    """A state at pressure ``pressure`` (Pa; scalar or per cell; default each cell's p_ref) and
    flow ``flow`` (m³/s; default 0); outlet blocks start from their vessel's outlet cell
    with internal variables at their steady values (RCR P_c = P − Rp·Q, coronary V_im = 0)."""
    p = m.p_ref if pressure is None else jnp.broadcast_to(jnp.asarray(pressure, m.a0.dtype), m.a0.shape)
    q = jnp.zeros_like(m.a0) if flow is None else jnp.broadcast_to(jnp.asarray(flow, m.a0.dtype), m.a0.shape)
    area = m.tube.area(p, m.a0, m.k, m.p_ref)
    u = jnp.stack([area, q])
    block_y, extra = {}, {}
    for kind, grp in m.blocks.items():
        pc, qc = p[grp.cell], q[grp.cell]
        params = at_time(grp.params, t0)
        if kind == "rcr":
            internal = [pc - params["Rp"] * qc]
        else:
            internal = [jnp.zeros_like(pc) for _ in BLOCKS[kind].internal]
        y = jnp.stack([pc, qc] + internal, axis=-1)
        block_y[kind] = y
        init = BLOCKS[kind].initial_params
        if init is not None:
            extra[kind] = jax.vmap(lambda pp, yy: init(pp, yy, jnp.zeros_like(yy)))(params, y)
    return State(u, block_y, extra, jnp.asarray(t0, m.a0.dtype), jnp.zeros((), m.a0.dtype))


def step(m: OneDModel, s: State, dt, stepping: Stepping = Stepping(), inlet_value=None) -> State:
    """One time step of the whole network: inlets at t, interior update, junctions and outlets at t + Δt.

    ``inlet_value``: the inlet tables at ``s.t`` if already evaluated.
    """
    u = apply_inlets(m, s.u, s.t, inlet_value)
    u = interior_update(m, u, dt, stepping.limiter)
    u = solve_junctions(m, u, stepping.newton)
    u = apply_reflection(m, u)
    t_new = s.t + dt
    u, block_y = apply_blocks(m, u, s.block_y, s.block_extra, t_new, dt, stepping.newton)
    return State(u, block_y, s.block_extra, t_new, s.cfl)


def _sample(m: OneDModel, s: State):
    area = s.u[0, m.nodes]
    flow = s.u[1, m.nodes]
    return s.t, area, flow, s.block_y


def run_cycle(m: OneDModel, s: State, stepping: Stepping = Stepping()) -> tuple[State, Cycle]:
    """Advance one cardiac cycle from ``s``; returns the new state and the sampled cycle."""
    dt = m.period / (stepping.samples * stepping.substeps)

    @jax.checkpoint
    def interval(s):
        # the inlet tables for every step of the interval in one vectorised call (fewer kernels per step);
        # two steps per loop iteration save the loop overhead of one (measured 4 % per cycle)
        inlet = jax.vmap(m.in_table)(s.t + dt * jnp.arange(stepping.substeps, dtype=s.t.dtype))
        s = lax.fori_loop(0, stepping.substeps, lambda i, x: step(m, x, dt, stepping, inlet[i]), s, unroll=2)
        return dataclasses.replace(s, cfl=jnp.maximum(s.cfl, courant(m, s.u, dt)))

    def body(s, _):
        s = interval(s)
        return s, _sample(m, s)

    s, (time, area, flow, outlets) = lax.scan(body, s, None, length=stepping.samples)
    law = m.tube
    node_a0, node_k, node_pref = m.a0[m.nodes], m.k[m.nodes], m.p_ref[m.nodes]
    pressure = law.pressure(area, node_a0, node_k, node_pref)
    return s, Cycle(time, area, flow, pressure, flow / area, outlets, s.cfl)


def run_cycles(m: OneDModel, s: State, cycles: int, stepping: Stepping = Stepping()) -> tuple[State, Cycle]:
    """Advance ``cycles`` cycles (a `lax.scan`, differentiable); returns the state and the last cycle."""
    def body(s, _):
        s, c = run_cycle(m, s, stepping)
        return s, c

    s, cyc = lax.scan(body, s, None, length=cycles)
    return s, jax.tree_util.tree_map(lambda x: x[-1], cyc)


def cycle_change(prev: Cycle, cur: Cycle) -> jax.Array:
    """max |ΔP| between two sampled cycles relative to the largest |P − p| scale of the current one."""
    scale = jnp.max(jnp.abs(cur.pressure))
    return jnp.max(jnp.abs(cur.pressure - prev.pressure)) / scale


def check_cfl(cycle: Cycle) -> None:
    """Raise if a run exceeded the CFL limit (its Courant number went above 1)."""
    c = float(np.max(np.asarray(cycle.cfl)))
    if not np.isfinite(c) or c > 1.0:
        raise FloatingPointError(
            f"CFL condition violated: the Courant number (|u| + c)·dt/dx reached {c:.3g} > 1; "
            "use more substeps per sample (smaller dt) or fewer cells")


_run_cycle_jit = jax.jit(run_cycle, static_argnums=2)  # one compile cache shared by every `simulate` call


@dataclasses.dataclass
class Result:
    """Outcome of `simulate`: the converged ``cycle``, the final ``state``, the number of
    ``cycles`` run, the relative change ``change`` of the last one, the ``stepping`` of the last
    cycle, the ``changes`` of every cycle and the ``substeps_per_cycle`` used (rejected runs excluded)."""

    cycle: Cycle
    state: State
    cycles: int
    change: float
    stepping: Stepping
    changes: list
    substeps_per_cycle: list = dataclasses.field(default_factory=list)


def simulate(m: OneDModel, *, state: State | None = None, stepping: Stepping | None = None,
             samples: int = 100, limiter: str = "superbee", rtol: float = 1e-3, max_cycles: int = 30,
             min_cycles: int = 2, progress: bool = False, cfl: float = CFL, adapt: bool = True) -> Result:
    """Run cardiac cycles until periodic (host loop over cycles, one compiled call per cycle).

    Args:
      m: the model (one network; for a batch use `jax.vmap` of `run_cycles`).
      state: starting state (default: `initial_state` at rest at p_ref).
      stepping: time-stepping options (default: ``samples`` per cycle, the
        `choose_substeps` number of substeps for Courant number ``cfl``, ``limiter``).
      rtol: stop when `cycle_change` is below this.
      max_cycles, min_cycles: bounds on the number of cycles.
      progress: show a progress bar over cycles.
      cfl: the target Courant number.
      adapt: adapt Δt from cycle to cycle (openBF adapts it every step): after
        a cycle whose largest Courant number stayed below 0.97·``cfl``, the
        next cycle uses the fewest substeps that bring it to ``cfl``; a cycle
        whose Courant number exceeded 1 is rejected and run again from its
        start with a Δt scaled down to ``cfl``. Each distinct number of
        substeps compiles once.
    """
    if stepping is None:
        stepping = Stepping(samples=samples, substeps=choose_substeps(m, samples, cfl), limiter=limiter)
    s = initial_state(m) if state is None else state
    run = _run_cycle_jit
    prev, change, changes, used = None, float("inf"), [], []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=max_cycles, desc="1D cycles", unit="cycle")
    n = 0
    for n in range(1, max_cycles + 1):
        start = dataclasses.replace(s, cfl=jnp.zeros_like(s.cfl)) if adapt else s
        s, cyc = run(m, start, stepping)
        courant_max = float(np.max(np.asarray(cyc.cfl)))
        for _ in range(8):  # rejected cycles: run again with a smaller step
            if not adapt or (np.isfinite(courant_max) and courant_max <= 1.0):
                break
            grow = courant_max / cfl if np.isfinite(courant_max) else 2.0
            stepping = dataclasses.replace(stepping, substeps=math.ceil(stepping.substeps * max(grow, 1.1)))
            s, cyc = run(m, start, stepping)
            courant_max = float(np.max(np.asarray(cyc.cfl)))
        check_cfl(cyc)
        used.append(stepping.substeps)
        if prev is not None:
            change = float(cycle_change(prev, cyc))
            changes.append(change)
        if not np.all(np.isfinite(np.asarray(cyc.pressure))):
            raise FloatingPointError(f"the 1D solution became non-finite in cycle {n}")
        prev = cyc
        if bar is not None:
            bar.update(1)
            bar.set_postfix(change=f"{change:.2e}", substeps=stepping.substeps)
        if n >= min_cycles and change < rtol:
            break
        if adapt and courant_max < 0.97 * cfl:  # a little hysteresis: no recompiles for marginal gains
            stepping = dataclasses.replace(stepping, substeps=max(1, math.ceil(stepping.substeps * courant_max / cfl)))
    if bar is not None:
        bar.close()
    return Result(prev, s, n, change, stepping, changes, used)
