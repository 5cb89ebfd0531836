"""Pulsatile 0D: closed-form RC/RCR responses, second-order convergence, gradients vs finite differences."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.lumped.network import NetworkBuilder, vessel_results
from cardiojax.lumped.pulsatile import Simulation, State, simulate

Q0 = 1e-6  # m³/s (1 mL/s)
run = jax.jit(simulate, static_argnums=(0, 2))


def _state(net, y: dict, ydot: dict) -> State:
    """A consistent initial state from ``{variable name: value}`` (others zero)."""
    index = {v: i for i, v in enumerate(net.var_names)}
    yy, dd = np.zeros(net.num_vars), np.zeros(net.num_vars)
    for k, v in y.items():
        yy[index[k]] = v
    for k, v in ydot.items():
        dd[index[k]] = v
    return State(jnp.asarray(yy), jnp.asarray(dd))


def _rcr_line(q, r=1e7, rp=1e8, c=1e-9, rd=1e9):
    """FLOW q → vessel R → RCR (Rp, C, Rd, Pd = 0); SI units, τ = Rd·C = 1 s."""
    b = NetworkBuilder()
    n0, n1 = b.node(), b.node()
    b.block("flow", "IN", [], [n0], {"Q": q})
    b.vessel("v", n0, n1, {"R": r, "C": 0.0, "L": 0.0, "S": 0.0})
    b.block("rcr", "OUT", [n1], [], {"Rp": rp, "C": c, "Rd": rd, "Pd": 0.0})
    return b.build()


def _sim(steps, period=2.0):
    return Simulation(period=period, cycles=1, pts_per_cycle=steps + 1, steady_initial=False,
                      output_all_cycles=True, linear=True)


def _rcr_charging_error(steps):
    """RCR step response: P_c = Rd·Q0·(1 − e^{−t/τ}) from an uncharged capacitor."""
    net, params = _rcr_line(Q0)
    r, rp, c, rd = 1e7, 1e8, 1e-9, 1e9
    pressures = ["pressure:IN:v", "pressure:v:OUT", "pressure_c:OUT"]
    init = _state(net, {"flow:IN:v": Q0, "flow:v:OUT": Q0, "pressure:IN:v": (r + rp) * Q0,
                        "pressure:v:OUT": rp * Q0}, {p: Q0 / c for p in pressures})
    sol = run(net, params, _sim(steps), init)
    t = np.asarray(sol.times)
    exact = (r + rp) * Q0 + rd * Q0 * (1.0 - np.exp(-t / (rd * c)))
    p_in = np.asarray(vessel_results(net, sol.y)["pressure_in"][:, 0])
    return np.max(np.abs(p_in - exact)) / (rd * Q0)


def test_rcr_step_response_is_second_order():
    errors = np.array([_rcr_charging_error(n) for n in (50, 100, 200, 400)])
    orders = np.log2(errors[:-1] / errors[1:])
    assert errors[-1] < 2e-6
    np.testing.assert_allclose(orders, 2.0, atol=0.1)


def test_rcr_decay_matches_exponential():
    """Inflow stopped, capacitor at P0: every pressure decays as P0·e^{−t/(Rd·C)}."""
    net, params = _rcr_line(0.0)
    p0, tau = 1e4, 1.0
    pressures = ["pressure:IN:v", "pressure:v:OUT", "pressure_c:OUT"]
    init = _state(net, {p: p0 for p in pressures}, {p: -p0 / tau for p in pressures})
    sol = run(net, params, _sim(400), init)
    exact = p0 * np.exp(-np.asarray(sol.times) / tau)
    res = vessel_results(net, sol.y)
    np.testing.assert_allclose(res["pressure_out"][:, 0], exact, rtol=0, atol=2e-5 * p0)
    np.testing.assert_allclose(res["flow_in"][:, 0], 0.0, atol=1e-20)


def test_vessel_capacitance_charges_like_rc_circuit():
    """FLOW → vessel (R1, C) → RESISTANCE R2: P_out = R2·Q0·(1 − e^{−t/(R2·C)})."""
    r1, r2, c = 1e7, 1e9, 5e-10
    b = NetworkBuilder()
    n0, n1 = b.node(), b.node()
    b.block("flow", "IN", [], [n0], {"Q": Q0})
    b.vessel("v", n0, n1, {"R": r1, "C": c, "L": 0.0, "S": 0.0})
    b.block("resistance", "OUT", [n1], [], {"R": r2, "Pd": 0.0})
    net, params = b.build()
    init = _state(net, {"flow:IN:v": Q0, "pressure:IN:v": r1 * Q0},
                  {"pressure:IN:v": Q0 / c, "pressure:v:OUT": Q0 / c, "flow:v:OUT": Q0 / (c * r2)})
    sol = run(net, params, _sim(400), init)
    exact = r2 * Q0 * (1.0 - np.exp(-np.asarray(sol.times) / (r2 * c)))
    res = vessel_results(net, sol.y)
    np.testing.assert_allclose(res["pressure_out"][:, 0], exact, rtol=0, atol=1e-4 * r2 * Q0)
    np.testing.assert_allclose(res["flow_in"][:, 0], Q0, rtol=1e-12)


def _pulsatile_line(stenosis=4e12):
    """Sinusoidal inflow → vessel (R, C, L, stenosis S) → RCR; SI units (linear if S = 0)."""
    t = np.linspace(0.0, 0.8, 41)
    q = Q0 * (3.0 + 2.0 * np.sin(2 * np.pi * t / 0.8))
    b = NetworkBuilder()
    n0, n1 = b.node(), b.node()
    b.block("flow", "IN", [], [n0], {"Q": (t, q)})
    b.vessel("v", n0, n1, {"R": 2e7, "C": 2e-11, "L": 1e5, "S": stenosis})
    b.block("rcr", "OUT", [n1], [], {"Rp": 1e8, "C": 1e-9, "Rd": 1e9, "Pd": 0.0})
    net, params = b.build()
    sim = Simulation(period=0.8, cycles=2, pts_per_cycle=41, newton_rtol=1e-14, linear=stenosis == 0)
    return net, params, sim


@pytest.mark.parametrize("name, stenosis", [("R", 4e12), ("C", 4e12), ("S", 4e12), ("rcr C", 4e12),
                                            ("C", 0.0), ("rcr C", 0.0)])
def test_gradient_matches_central_differences(name, stenosis):
    """Nonlinear (iterated Newton) and linear (one factorisation per run) paths."""
    net, params, sim = _pulsatile_line(stenosis)
    kinds = [g.kind for g in net.groups]
    group, key = (kinds.index("rcr"), "C") if name == "rcr C" else (kinds.index("vessel"), name)

    def mean_inlet_pressure(x):
        p = list(params)
        p[group] = dict(p[group], **{key: p[group][key].at[0].set(x)})
        sol = simulate(net, tuple(p), sim)
        return jnp.mean(vessel_results(net, sol.y)["pressure_in"][:, 0])

    f = jax.jit(mean_inlet_pressure)
    x0 = float(params[group][key][0])
    grad = float(jax.jit(jax.grad(mean_inlet_pressure))(x0))
    h = 1e-4 * x0
    fd = (float(f(x0 + h)) - float(f(x0 - h))) / (2 * h)
    assert grad != 0.0
    assert grad == pytest.approx(fd, rel=1e-6)


def test_time_table_is_periodic_and_linear():
    """Inflow at a generalized mid-point between samples, wrapped over cycles, as svZeroDSolver does."""
    from cardiojax.lumped.tables import Table

    table = Table.from_rows([([0.0, 0.5, 1.0], [1.0, 3.0, 1.0]), ([0.0], [7.0])])
    np.testing.assert_allclose(table(0.25), [2.0, 7.0])
    np.testing.assert_allclose(table(2.75), [2.0, 7.0])
    np.testing.assert_allclose(table.mean(), [5.0 / 3.0, 7.0])
    assert float(jax.grad(lambda v: Table(table.t, v, table.w)(0.25)[0])(table.v)[0, 1]) == 0.5


def test_output_options_select_reported_times():
    sim = Simulation(period=1.0, cycles=3, pts_per_cycle=11)
    assert sim.num_steps == 31 and sim.first_output == 20 and sim.num_outputs == 11
    np.testing.assert_allclose(sim.output_times(), np.linspace(0, 1, 11))
    every = dataclasses.replace(sim, output_all_cycles=True, output_interval=5)
    np.testing.assert_allclose(every.output_times(), np.arange(0, 3.01, 0.5))
    with pytest.raises(ValueError, match="'pts_per_cycle' = 1; expected an integer >= 2"):
        Simulation(period=1.0, cycles=1, pts_per_cycle=1)
