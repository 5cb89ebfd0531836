"""Pulsatile 0D simulation: generalized-α time integration of a block network.

The scheme is svZeroDSolver's (Jansen, Whiting & Hulbert 2000, first-order
form), so converged results agree with it to the tolerance of its Newton
iteration (its absolute residual tolerance, ours a relative update of
1e-12). For the residual
``F(y, ẏ, t) = 0`` of `cardiojax.lumped.network.residual` and a spectral
radius ρ∞ (default 0.5):

    α_m = (3 − ρ∞) / (2 (1 + ρ∞)),  α_f = 1 / (1 + ρ∞),  γ = 1/2 + α_m − α_f,
    y_{n+1} = y_n + Δt ẏ_n + γ Δt (ẏ_{n+1} − ẏ_n),
    F(y_n + α_f (y_{n+1} − y_n), ẏ_n + α_m (ẏ_{n+1} − ẏ_n), t_n + α_f Δt) = 0,

solved for ẏ_{n+1} from the predictor y = y_n, ẏ = (1 − 1/γ) ẏ_n with the
Jacobian from `jax.jacfwd`. Linear networks factor it once per run and take
one exact step per time step. Nonlinear ones (stenosis terms) iterate with
the last factored Jacobian, carried from step to step, and refresh it (a
full Newton step) whenever the updates shrink by less than 4× (the first
update, made with the earlier Jacobian, must also not increase the
equilibrated residual): most steps factor nothing, hard ones are full
Newton. The largest final update of the run is reported
(`Solution.newton_update`, `check_converged`). The scheme is second order in
Δt. Each step's solve is a `lax.custom_root`, so `jax.grad` differentiates
through the converged steps by the implicit function theorem (not through
the Newton iterations), and the steps run in `lax.scan`. For linear networks the tangent solve reuses the run's
factored Jacobian, so a derivative costs a matrix–vector product per step.

Steady initialisation as in svZeroDSolver (``steady_initial``): the
steady-mode equations (tables at their mean, RCR with C = 0, coronary
volume held at 0) are integrated for 31 steps of a tenth of the period from
zero, and that state starts the pulsatile run; blocks then fix parameters
that depend on the starting state (the coronary outlet's pressure offsets).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.lumped.network import (
    Network,
    Params,
    _equilibrated_solve,
    residual,
    with_initial_state,
)
from cardiojax.lumped.tables import at_time
from cardiojax.lumped.tables import steady as steady_values

#: Steady initialisation: svZeroDSolver's 31 steps of period/10.
STEADY_INIT_STEPS = 31


@dataclasses.dataclass(frozen=True)
class Simulation:
    """Time settings of a pulsatile run (static; svZeroDSolver's ``simulation_parameters``).

    Attributes:
      period: cardiac cycle period, s.
      cycles: number of cardiac cycles (``number_of_cardiac_cycles``).
      pts_per_cycle: time points per cycle including both ends
        (``number_of_time_pts_per_cardiac_cycle``); Δt = period / (pts − 1).
      rho_infty: spectral radius of the generalized-α scheme at infinite Δt.
      steady_initial: start from the steady state (else from zero).
      output_all_cycles: report every cycle (else the last one, time from 0).
      output_interval: report every this many time steps.
      output_mean_only: report the time mean only (used by the writers).
      output_variable_based: report every variable (used by the writers).
      output_derivative: also report time derivatives (used by the writers).
      newton_rtol: Newton stops when every update of y is below this times
        the largest value of its kind (pressures, flows, internal variables).
      accept_rtol: a run whose largest last Newton update exceeds this is
        reported as not converged (`check_converged`).
      max_iterations: Newton iteration cap per step (svZeroDSolver: 30).
      linear: the residual is affine in (y, ẏ) with coefficients constant in
        time (no stenosis term; time tables only in prescribed flows and
        pressures): the Jacobian is factored once and one Newton step per
        time step is exact.
    """

    period: float
    cycles: int
    pts_per_cycle: int
    rho_infty: float = 0.5
    steady_initial: bool = True
    output_all_cycles: bool = False
    output_interval: int = 1
    output_mean_only: bool = False
    output_variable_based: bool = False
    output_derivative: bool = False
    newton_rtol: float = 1e-12
    accept_rtol: float = 1e-9
    max_iterations: int = 30
    linear: bool = False

    def __post_init__(self):
        checks = [
            ("period", self.period, self.period > 0 and np.isfinite(self.period), "a positive time in s"),
            ("cycles", self.cycles, int(self.cycles) == self.cycles and self.cycles >= 1,
             "an integer >= 1"),
            ("pts_per_cycle", self.pts_per_cycle,
             int(self.pts_per_cycle) == self.pts_per_cycle and self.pts_per_cycle >= 2, "an integer >= 2"),
            ("rho_infty", self.rho_infty, 0.0 <= self.rho_infty <= 1.0, "a number in [0, 1]"),
            ("output_interval", self.output_interval,
             int(self.output_interval) == self.output_interval and self.output_interval >= 1,
             "an integer >= 1"),
            ("max_iterations", self.max_iterations, self.max_iterations >= 1, "an integer >= 1"),
        ]
        for name, value, ok, expected in checks:
            if not ok:
                raise ValueError(f"simulation parameter '{name}' = {value!r}; expected {expected}")

    @property
    def dt(self) -> float:
        """Time step, s."""
        return self.period / (self.pts_per_cycle - 1)

    @property
    def num_steps(self) -> int:
        """Number of time points of the whole run (svZeroDSolver's ``sim_num_time_steps``)."""
        return (self.pts_per_cycle - 1) * self.cycles + 1

    @property
    def first_output(self) -> int:
        """Index of the first reported time point."""
        return 0 if self.output_all_cycles else max(self.num_steps - self.pts_per_cycle, 0)

    @property
    def num_outputs(self) -> int:
        """Number of reported time points."""
        return (self.num_steps - 1 - self.first_output) // self.output_interval + 1

    def output_times(self) -> np.ndarray:
        """Reported times, s (the last cycle starts at 0 unless all cycles are reported)."""
        index = self.first_output + self.output_interval * np.arange(self.num_outputs)
        times = self.dt * index
        return times if self.output_all_cycles else times - times[0]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class State:
    """Solution at one time point: ``y`` (SI) and its time derivative ``ydot`` (SI/s)."""

    y: jax.Array
    ydot: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Solution:
    """Reported time points of a run.

    Attributes:
      y: ``(n_outputs, num_vars)`` variables (SI), ordered as
        ``Network.var_names``.
      ydot: ``(n_outputs, num_vars)`` time derivatives (SI/s), kept only when
        ``Simulation.output_derivative`` is set (else None, saving memory in
        large batches).
      times: ``(n_outputs,)`` reported times, s.
      newton_update: the largest last Newton update (relative to the
        solution) over every step of the run; above ``sim.accept_rtol`` or
        NaN means some step did not converge (see `check_converged`).
    """

    y: jax.Array
    ydot: jax.Array | None
    times: jax.Array
    newton_update: jax.Array

    def converged(self, sim: Simulation) -> jax.Array:
        """True where every step's Newton iteration converged (``newton_update <= sim.accept_rtol``)."""
        return self.newton_update <= sim.accept_rtol


def alpha_coefficients(rho_infty: float) -> tuple[float, float, float]:
    """``(α_m, α_f, γ)`` of the generalized-α scheme for spectral radius ρ∞."""
    alpha_m = 0.5 * (3.0 - rho_infty) / (1.0 + rho_infty)
    alpha_f = 1.0 / (1.0 + rho_infty)
    return alpha_m, alpha_f, 0.5 + alpha_m - alpha_f


def _equations(net, params, state, time, dt, sim, steady):
    """The step's residual in ẏ_{n+1}, the update of y, and the predictor."""
    alpha_m, alpha_f, gamma = alpha_coefficients(sim.rho_infty)
    p = at_time(params, time + alpha_f * dt)
    y_n, ydot_n = state.y, state.ydot

    def y_new(ydot):
        return y_n + dt * ydot_n + gamma * dt * (ydot - ydot_n)

    def f(ydot):
        y_af = y_n + alpha_f * (y_new(ydot) - y_n)
        ydot_am = ydot_n + alpha_m * (ydot - ydot_n)
        return residual(net, p, y_af, ydot_am, time + alpha_f * dt, steady)

    return f, y_new, (1.0 - 1.0 / gamma) * ydot_n


def step(net: Network, params: Params, state: State, time, dt: float, sim: Simulation,
         steady: bool = False, factors=None):
    """One generalized-α step from ``time`` (s) to ``time + dt``.

    ``params`` may hold `Table` entries; they are evaluated at ``time + α_f·dt``.
    ``factors`` (from `_factorize`): a Jacobian factored earlier. Linear
    networks use it for the one exact step (it is the same at every step);
    nonlinear ones start the iteration with it and refresh it where it no
    longer serves. None: factor the Jacobian at the predictor.

    Returns ``(new state, last Newton update relative to the solution (0 for
    linear networks, NaN/inf if the step failed), factors for the next step)``.
    """
    f, y_new, predictor = _equations(net, params, state, time, dt, sim, steady)
    kind = jnp.asarray(net.var_kind())
    gamma = alpha_coefficients(sim.rho_infty)[2]
    if factors is None:
        factors = _factorize(jax.jacfwd(f)(predictor))

    def measure(x, dx):
        y_scale = jax.ops.segment_max(jnp.abs(y_new(x + dx)), kind, num_segments=3)[kind]
        return jnp.max(jnp.abs(gamma * dt * dx) / (y_scale + 1e-300))

    def newton(func, guess):
        if sim.linear:
            x = guess + _solve(factors, -func(guess))
            return x, (jnp.where(jnp.all(jnp.isfinite(x)), 0.0, jnp.inf), factors)

        def size(lu, r):  # residual in units of the variables (row equilibration)
            return jnp.max(jnp.abs(lu[1] * r))

        def refreshed(x, r):  # a full Newton step from x
            lu = _factorize(jax.jacfwd(func)(x))
            dx = _solve(lu, -r)
            return x + dx, func(x + dx), lu, measure(x, dx)

        def body(carry):
            x, r, lu, prev, it = carry
            dx = _solve(lu, -r)  # with the Jacobian at hand (possibly from an earlier step)
            x1, r1, change = x + dx, func(x + dx), measure(x, dx)
            # accept if converged, or contracting (updates shrink 4x; the first update, made
            # with a Jacobian from an earlier step, must not increase the residual)
            good = (change <= sim.newton_rtol) | (
                (change <= 0.25 * prev) & ((it > 0) | (size(lu, r1) <= size(lu, r))))
            x1, r1, lu, change = lax.cond(good, lambda: (x1, r1, lu, change),
                                          lambda: refreshed(x, r))
            return x1, r1, lu, change, it + 1

        def go_on(carry):
            *_, change, it = carry
            return (change > sim.newton_rtol) & (it < sim.max_iterations)

        x, _, lu, change, _ = lax.while_loop(go_on, body, (guess, func(guess), factors, jnp.inf, 0))
        return x, (change, lu)

    def tangent_solve(g, b):
        if sim.linear:  # the step Jacobian is constant: the factored one serves (no gradient through it)
            return _solve(jax.tree_util.tree_map(lax.stop_gradient, factors), b)
        return _equilibrated_solve(jax.jacfwd(g)(b), b)

    ydot, (change, out) = lax.custom_root(f, predictor, newton, tangent_solve, has_aux=True)
    return State(y_new(ydot), ydot), lax.stop_gradient(change), jax.tree_util.tree_map(
        lax.stop_gradient, out)


def _factorize(jac: jax.Array):
    """The inverse of the row/column-equilibrated ``jac``, with its scalings (for `_solve`).

    Formed rarely (once per linear run; on a refresh for nonlinear ones, see
    `step`) and applied often, so an explicit inverse — one matrix–vector
    product per solve, which vectorises over batches — beats LU triangular
    solves here; the equilibration keeps it accurate across the mixed units
    (Pa, m³/s, m³).
    """
    row = 1.0 / jnp.maximum(jnp.max(jnp.abs(jac), axis=1), 1e-300)
    scaled = jac * row[:, None]
    col = 1.0 / jnp.maximum(jnp.max(jnp.abs(scaled), axis=0), 1e-300)
    return jnp.linalg.inv(scaled * col[None, :]), row, col


def _solve(factors, rhs):
    """Solve ``jac x = rhs`` with `_factorize` output."""
    inverse, row, col = factors
    return col * (inverse @ (rhs * row))


def check_converged(solution: Solution, sim: Simulation, where: str = "simulate") -> None:
    """Raise a `ValueError` if some time step's Newton iteration did not converge (host side)."""
    worst = np.asarray(solution.newton_update)
    if not np.all(worst <= sim.accept_rtol):
        bad = worst[~(worst <= sim.accept_rtol)]
        raise ValueError(
            f"{where}: Newton's method did not converge at some time step (last relative update "
            f"{np.max(np.nan_to_num(bad, nan=np.inf)):.3g}, expected <= {sim.accept_rtol:g}); the "
            "parameters may be non-physical (negative or zero R/C), or the stenosis term dominates "
            "with reversing flow: try more time points per cycle or a larger maximum_nonlinear_iterations")


def _first_factors(net, params, state, dt, sim, steady=False):
    """The Jacobian of the first step, factored (kept for the whole run if the network is linear)."""
    f, _, predictor = _equations(net, params, state, 0.0, dt, sim, steady)
    return _factorize(jax.jacfwd(f)(predictor))


def _scan_steps(net, params, carry, index, dt, sim, steady=False, progress=None, keep=False):
    """Steps from each time point in ``index`` (static length).

    ``carry`` is ``(state, worst Newton update so far, Jacobian factors)``;
    returns the final carry and, if ``keep``, the state (or y) after every step.
    """

    def body(c, i):
        if progress is not None:
            lax.cond((i + 1) % (sim.pts_per_cycle - 1) == 0,
                     lambda: jax.debug.callback(progress, (i + 1) // (sim.pts_per_cycle - 1)),
                     lambda: None)
        s, change, factors = step(net, params, c[0], dt * i, dt, sim, steady, c[2])
        worst = jnp.where(jnp.isnan(change) | (change > c[1]), change, c[1])
        return (s, worst, factors), ((s if sim.output_derivative else s.y) if keep else None)

    return lax.scan(body, carry, index)


def steady_initial_state(net: Network, params: Params, sim: Simulation) -> State:
    """svZeroDSolver's steady initial condition: 31 steady-mode steps of period/10 from zero."""
    return _steady_initial(net, params, sim)[0]


def _steady_initial(net, params, sim):
    zeros = jnp.zeros(net.num_vars, jnp.result_type(float))
    state, params, dt = State(zeros, zeros), steady_values(params), sim.period / 10.0
    factors = _first_factors(net, params, state, dt, sim, steady=True)
    carry = (state, jnp.zeros((), zeros.dtype), factors)
    return _scan_steps(net, params, carry, jnp.arange(STEADY_INIT_STEPS), dt, sim, True)[0][:2]


def simulate(net: Network, params: Params, sim: Simulation, initial: State | None = None,
             progress: Callable[[int], None] | None = None) -> Solution:
    """Integrate a block network over ``sim.cycles`` cardiac cycles.

    Args:
      net: the static network.
      params: its parameters (SI; `Table` entries for time-dependent values).
      sim: static time settings.
      initial: starting state; default the steady initial condition (or
        zero when ``sim.steady_initial`` is False).
      progress: optional host callback ``progress(cycles_done)`` called at
        the end of every cycle (static; not for use under `vmap`).

    Returns:
      The `Solution` at the reported time points (``sim.output_times()``).
      `jit`, `vmap` (over ``params``) and `jax.grad` compatible.
    """
    dtype = jnp.result_type(float)
    if initial is not None:
        carry = (initial, jnp.zeros((), dtype))
    elif sim.steady_initial:
        carry = _steady_initial(net, params, sim)
    else:
        zeros = jnp.zeros(net.num_vars, dtype)
        carry = (State(zeros, zeros), jnp.zeros((), dtype))
    initial = carry[0]
    start_values = steady_values(params) if sim.steady_initial else at_time(params, 0.0)
    params = with_initial_state(net, params, initial.y, initial.ydot, start_values)
    dt, k, first = sim.dt, sim.output_interval, sim.first_output
    run = functools.partial(_scan_steps, net, params, dt=dt, sim=sim, progress=progress)
    carry = (*carry, _first_factors(net, params, initial, dt, sim))
    carry, _ = run(carry, jnp.arange(first))
    state = carry[0]
    n_later = sim.num_outputs - 1
    if k == 1:
        carry, later = run(carry, first + jnp.arange(n_later), keep=True)
    else:
        def report(c, j):
            c, _ = run(c, first + j * k + jnp.arange(k))
            return c, (c[0] if sim.output_derivative else c[0].y)

        carry, later = lax.scan(report, carry, jnp.arange(n_later))
    times = jnp.asarray(sim.output_times(), state.y.dtype)
    worst = carry[1]
    if not sim.output_derivative:
        return Solution(jnp.concatenate([state.y[None], later]), None, times, worst)
    y = jnp.concatenate([state.y[None], later.y])
    ydot = jnp.concatenate([state.ydot[None], later.ydot])
    return Solution(y, ydot, times, worst)
