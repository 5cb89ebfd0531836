"""Pulsatile 0D against svZeroDSolver: its reference results, its own solver, junction mass balance."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from cardiojax.io import read_svzerod
from cardiojax.lumped.network import vessel_results
from cardiojax.lumped.pulsatile import simulate
from cardiojax.units import CGS_FLOW, CGS_PRESSURE

#: Result files store values to 10 decimal places (CGS); below that the rounding, not the solver,
#: decides. svZeroDSolver's own regression test uses numpy.isclose (atol 1e-8) with rtol 1e-7.
ATOL_CGS = 1e-10
PULSATILE = ["pulsatileFlow_R_RCR", "pulsatileFlow_R_coronary", "pulsatileFlow_CStenosis_steadyPressure"]
STEADY = ["steadyFlow_stenosis_R", "steadyFlow_bifurcationR_R1", "steadyFlow_blood_vessel_junction",
          "steadyFlow_R_RCR", "steadyFlow_R_coronary", "steadyFlow_RLC_R"]
run = jax.jit(simulate, static_argnums=(0, 2))


def _root(shared_data):
    return shared_data / "hemo_reference" / "svZeroDSolver"


def _compare(net, solution, table, rtol):
    """Every vessel's four signals at every reported time against a svZeroDSolver table (CGS)."""
    ours = {k: np.asarray(v) for k, v in vessel_results(net, solution.y).items()}
    names = np.asarray(table["name"])
    checked = 0
    for i, vessel in enumerate(net.vessels):
        rows = names == vessel
        np.testing.assert_allclose(np.asarray(solution.times), np.asarray(table["time"])[rows], atol=1e-12)
        for key, factor in (("flow_in", CGS_FLOW), ("flow_out", CGS_FLOW),
                            ("pressure_in", CGS_PRESSURE), ("pressure_out", CGS_PRESSURE)):
            expected = np.asarray(table[key])[rows]
            np.testing.assert_allclose(ours[key][:, i] / factor, expected, rtol=rtol, atol=ATOL_CGS,
                                       err_msg=f"{vessel} {key}")
            checked += expected.size
    assert checked == 4 * names.size


@pytest.mark.parametrize("case", PULSATILE + STEADY)
def test_case_agrees_with_svzerodsolver_results(case, shared_data):
    model = read_svzerod(_root(shared_data) / "cases" / f"{case}.json")
    solution = run(model.network, model.params, model.simulation)
    ref = json.loads((_root(shared_data) / "results" / f"result_{case}.json").read_text())
    table = {k: list(v.values()) for k, v in ref.items()}
    _compare(model.network, solution, table, rtol=1e-6 if case in PULSATILE else 1e-8)


@pytest.mark.parametrize("case", ["closedLoopHeart_singleVessel", "closedLoopHeart_withCoronaries"])
def test_closed_loop_cases_are_refused_clearly(case, shared_data):
    with pytest.raises(ValueError, match="'closed_loop_blocks' blocks are not supported"):
        read_svzerod(_root(shared_data) / "cases" / f"{case}.json")


def test_junctions_conserve_mass_at_every_time(shared_data):
    """Σ inflow = Σ outflow at every junction of the VMR anatomy and of a BloodVesselJunction case."""
    for path in (_root(shared_data) / "vmr" / "0104_0001_optimal_from_0d.json",
                 _root(shared_data) / "cases" / "steadyFlow_blood_vessel_junction.json"):
        model = read_svzerod(path)
        sim = dataclasses.replace(model.simulation, cycles=1)
        y = np.asarray(run(model.network, model.params, sim).y)
        junctions = [g for g in model.network.groups if g.kind in ("junction", "vessel_junction")]
        assert junctions
        for g in junctions:
            idx = np.asarray(g.var_index)
            q = y[:, idx[:, 1::2]]  # (time, junction, port) flows, inlets first
            imbalance = q[..., : g.n_in].sum(-1) - q[..., g.n_in:].sum(-1)
            assert np.max(np.abs(imbalance)) <= 1e-12 * np.max(np.abs(q))


def test_vmap_over_outlet_parameters_matches_single_runs(shared_data):
    model = read_svzerod(_root(shared_data) / "cases" / "pulsatileFlow_R_RCR.json")
    sim = dataclasses.replace(model.simulation, cycles=2)
    group = [g.kind for g in model.network.groups].index("rcr")
    scale = np.array([0.5, 1.0, 2.0])

    def variant(s):
        params = list(model.params)
        params[group] = dict(params[group], Rd=params[group]["Rd"] * s, C=params[group]["C"] / s)
        return tuple(params)

    batch = jax.vmap(variant)(scale)
    together = jax.jit(jax.vmap(simulate, in_axes=(None, 0, None)), static_argnums=(0, 2))(
        model.network, batch, sim)
    for k, s in enumerate(scale):
        alone = run(model.network, variant(s), sim)
        np.testing.assert_allclose(together.y[k], alone.y, rtol=1e-12, atol=1e-20)
    assert not np.allclose(together.y[0], together.y[2])


svzerod = pytest.importorskip("svzerod", reason="svZeroDSolver (peers extra) not installed")


def test_vmr_anatomy_agrees_with_svzerodsolver_itself(shared_data):
    """The real 18-vessel anatomy 0104_0001 (RCR outlets, stenosis terms), run by both solvers."""
    cfg = json.loads((_root(shared_data) / "vmr" / "0104_0001_optimal_from_0d.json").read_text())
    model = read_svzerod(cfg)
    assert len(model.network.vessels) == 18 and not model.simulation.linear
    solution = run(model.network, model.params, model.simulation)
    table = svzerod.simulate(cfg)
    _compare(model.network, solution, {k: table[k].to_numpy() for k in table.columns}, rtol=1e-6)


@pytest.mark.parametrize("path, pulsatile", [("cases/pulsatileFlow_R_coronary.json", True),
                                             ("cases/steadyFlow_blood_vessel_junction.json", False)])
def test_variable_based_output_matches_svzerodsolver(shared_data, path, pulsatile):
    """Names, order, values and time derivatives of every variable, as svZeroDSolver writes them.

    In a steady case the derivatives are Newton-tolerance noise (~1e-5 of the values per second),
    so there only their smallness is checked.
    """
    from cardiojax.io.svzerod_results import results_table

    cfg = json.loads((_root(shared_data) / path).read_text())
    cfg["simulation_parameters"].update(output_variable_based=True, output_derivative=True,
                                        number_of_cardiac_cycles=2)
    model = read_svzerod(cfg)
    ours = results_table(model.network, run(model.network, model.params, model.simulation),
                         model.simulation, model.variable_order)
    theirs = svzerod.simulate(cfg)
    assert list(ours["name"]) == list(theirs["name"])
    for key in ("time", "y"):
        np.testing.assert_allclose(ours[key], theirs[key].to_numpy(), rtol=1e-6, atol=1e-10)
    if pulsatile:
        scale = np.abs(theirs["ydot"].to_numpy()).max()
        np.testing.assert_allclose(ours["ydot"], theirs["ydot"].to_numpy(), rtol=0, atol=1e-7 * scale)
    else:
        assert np.abs(ours["ydot"]).max() < 1e-6 * np.abs(ours["y"]).max()


def _pressure_driven_stenosis(steady_initial=True, c=1e-4):
    """PRESSURE inlet swinging 5000 ± 8000 dyn/cm² through a stenosis: reversing, stenosis-dominated flow."""
    t = np.linspace(0.0, 1.0, 21)
    return {
        "simulation_parameters": {"number_of_cardiac_cycles": 3, "number_of_time_pts_per_cardiac_cycle": 51,
                                  "steady_initial": steady_initial},
        "boundary_conditions": [
            {"bc_name": "INP", "bc_type": "PRESSURE",
             "bc_values": {"P": list(5000.0 + 8000.0 * np.sin(2 * np.pi * t)), "t": list(t)}},
            {"bc_name": "OUT", "bc_type": "RESISTANCE", "bc_values": {"R": 100.0, "Pd": 5000.0}}],
        "vessels": [{"vessel_id": 0, "vessel_name": "v0", "zero_d_element_type": "BloodVessel",
                     "zero_d_element_values": {"R_poiseuille": 100.0, "C": c, "L": 0.0,
                                               "stenosis_coefficient": 50.0},
                     "boundary_conditions": {"inlet": "INP", "outlet": "OUT"}}],
    }


@pytest.mark.parametrize("steady_initial, c", [(True, 1e-4), (True, 0.0), (False, 1e-4)])
def test_stenosis_dominated_reversing_flow_agrees_with_svzerodsolver(steady_initial, c):
    """The Newton iteration converges where a frozen Jacobian would not (flow reverses through S|Q|Q)."""
    cfg = _pressure_driven_stenosis(steady_initial, c)
    model = read_svzerod(cfg)
    solution = run(model.network, model.params, model.simulation)
    assert bool(solution.converged(model.simulation))
    q = np.asarray(vessel_results(model.network, solution.y)["flow_in"])
    assert q.min() < 0 < q.max()
    table = svzerod.simulate(cfg)
    _compare(model.network, solution, {k: table[k].to_numpy() for k in table.columns}, rtol=1e-6)


def test_cycle_to_cycle_rule_sets_the_cycles_like_svzerodsolver(shared_data):
    cfg = json.loads((_root(shared_data) / "cases" / "pulsatileFlow_R_RCR.json").read_text())
    cfg["simulation_parameters"].update(use_cycle_to_cycle_error=True, output_all_cycles=False)
    model = read_svzerod(cfg)
    assert model.simulation.cycles == 1  # ceil(-Rd·C / T · ln 0.01) with Rd·C = 0.1 s, T = 1 s
    table = svzerod.simulate(cfg)
    _compare(model.network, run(model.network, model.params, model.simulation),
             {k: table[k].to_numpy() for k in table.columns}, rtol=1e-6)
