"""svZeroDSolver JSON reader errors and result tables/CSV in svZeroDSolver's layout."""

import copy
import dataclasses
import json

import jax
import numpy as np
import pytest

from cardiojax.io import read_svzerod
from cardiojax.io.svzerod_results import read_results_csv, results_table, write_results_csv
from cardiojax.lumped.network import vessel_results
from cardiojax.lumped.pulsatile import simulate
from cardiojax.lumped.tables import Table
from cardiojax.units import CGS_FLOW, CGS_PRESSURE

run = jax.jit(simulate, static_argnums=(0, 2))


@pytest.fixture(scope="module")
def coronary_cfg(shared_data):
    path = shared_data / "hemo_reference" / "svZeroDSolver" / "cases" / "pulsatileFlow_R_coronary.json"
    cfg = json.loads(path.read_text())
    cfg["simulation_parameters"]["number_of_cardiac_cycles"] = 2
    return cfg


def test_tables_and_simulation_parameters_are_read(coronary_cfg):
    model = read_svzerod(coronary_cfg)
    sim = model.simulation
    assert (sim.cycles, sim.pts_per_cycle, sim.period, sim.output_all_cycles) == (2, 201, 1.0, True)
    flow = model.params[[g.kind for g in model.network.groups].index("flow")]["Q"]
    assert isinstance(flow, Table)
    q = coronary_cfg["boundary_conditions"][0]["bc_values"]["Q"]
    assert float(flow.mean()[0]) == pytest.approx(np.mean(q) * CGS_FLOW, rel=1e-14)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["boundary_conditions"][1]["bc_values"].update(Rv2=1.0),
     r"boundary condition 'OUT' \(CORONARY\): unknown field 'Rv2'"),
    (lambda c: c["boundary_conditions"][1]["bc_values"].pop("Cc"),
     r"boundary condition 'OUT' \(CORONARY\): missing field 'Cc'"),
    (lambda c: c["boundary_conditions"][0]["bc_values"].update(t=[0.0, 1.0]),
     r"boundary condition 'INFLOW' \(FLOW\): field 't' = \[0.0, 1.0\]; expected 101 increasing times"),
    (lambda c: c["boundary_conditions"][1]["bc_values"].update(t=[0.0, 2.0]),
     r"block 'OUT': parameter 'Pim' has period 2.0 s but block 'INFLOW' has 1.0 s"),
    (lambda c: c["vessels"][0]["zero_d_element_values"].update(R_poiseuille=[1.0, 2.0]),
     r"vessel 'branch0_seg0': field 'R_poiseuille' is a list of 2 values; expected a single number"),
    (lambda c: c["vessels"][0]["zero_d_element_values"].update(C="big"),
     r"vessel 'branch0_seg0': field 'C' = 'big'; expected a finite number or list"),
    (lambda c: c["simulation_parameters"].pop("number_of_time_pts_per_cardiac_cycle"),
     r"simulation_parameters: missing field 'number_of_time_pts_per_cardiac_cycle'"),
    (lambda c: c["simulation_parameters"].update(number_of_cardiac_cycles=0),
     r"simulation_parameters: simulation parameter 'cycles' = 0; expected an integer >= 1"),
    (lambda c: c["simulation_parameters"].update(output_all_cycle=True),
     r"simulation_parameters: unknown field 'output_all_cycle'"),
    (lambda c: c["simulation_parameters"].update(steady_initial="yes"),
     r"simulation_parameters: 'steady_initial' = 'yes'; expected true or false"),
])
def test_bad_input_names_block_field_and_value(coronary_cfg, edit, message):
    cfg = copy.deepcopy(coronary_cfg)
    edit(cfg)
    with pytest.raises(ValueError, match=message):
        read_svzerod(cfg)


def _with(cfg, **changes):
    cfg = copy.deepcopy(cfg)
    for path, value in changes.items():
        *keys, last = path.split("__")
        node = cfg
        for k in keys:
            node = node[int(k)] if k.isdigit() else node[k]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return cfg


_DELETE = object()


@pytest.mark.parametrize("changes, message", [
    ({"initial_condition": {"pressure:INFLOW:branch0_seg0": 5000.0}},
     r"'initial_condition' blocks are not supported by cardiojax yet"),
    ({"vessel": []}, r"svZeroDSolver input: unknown field 'vessel'"),
    ({"boundary_conditions__1__bc_name": "INFLOW"}, r"bc_name 'INFLOW' is used twice"),
    ({"vessels__0__vessel_name": "OUT"}, r"vessel_name 'OUT' is used twice"),
    ({"vessels__0__zero_d_element_values__R_poiseuille": True},
     r"field 'R_poiseuille' = True; expected a finite number or list"),
    ({"vessels__0__zero_d_element_values__C": -1e-4}, r"field 'C' = -0.0001; expected a value >= 0"),
    ({"boundary_conditions__0__bc_values__t": [float("nan")] * 101},
     r"field 't' = \[nan, .*expected 101 increasing times"),
    ({"boundary_conditions__1__bc_values__Ra1": [100.0, 200.0]},
     r"field 'Ra1' is a list of 2 values; expected a single number"),
    ({"simulation_parameters__absolute_tolerance": "tight"}, r"absolute_tolerance = 'tight'"),
    ({"simulation_parameters__cardiac_period": 0.9}, r"cardiac_period = 0.9; expected 1.0"),
    ({"simulation_parameters__use_cycle_to_cycle_error": True},
     r"use_cycle_to_cycle_error = true without an RCR outlet is not supported"),
])
def test_inputs_svzerodsolver_would_treat_differently_are_refused(coronary_cfg, changes, message):
    with pytest.raises(ValueError, match=message):
        read_svzerod(_with(coronary_cfg, **changes))


def test_junction_and_attachment_errors(shared_data):
    path = shared_data / "hemo_reference" / "svZeroDSolver" / "cases" / "steadyFlow_bifurcationR_R1.json"
    cfg = json.loads(path.read_text())
    with pytest.raises(ValueError, match=r"junction 'J0' \(NORMAL_JUNCTION\): junction_values are not used"):
        read_svzerod(_with(cfg, junctions__0__junction_values={"R_poiseuille": [1.0, 1.0]}))
    with pytest.raises(ValueError, match=r"junction 'J0': inlet_vessels = \[\], outlet_vessels"):
        read_svzerod(_with(cfg, junctions__0__inlet_vessels=[]))
    with pytest.raises(ValueError, match=r"vessel_id 0 is already used"):
        read_svzerod(_with(cfg, vessels__1__vessel_id=0))
    with pytest.raises(ValueError, match=r"boundary condition 'OUT1' is already attached"):
        read_svzerod(_with(cfg, vessels__2__boundary_conditions={"outlet": "OUT1"}))


def test_unconverged_run_is_reported(coronary_cfg):
    """A nonlinear run capped at one Newton iteration per step is flagged, not returned silently."""
    from cardiojax.lumped.pulsatile import check_converged

    cfg = _with(coronary_cfg, vessels__0__zero_d_element_values__stenosis_coefficient=50.0,
                simulation_parameters__maximum_nonlinear_iterations=1)
    model = read_svzerod(cfg)
    assert not model.simulation.linear
    sol = run(model.network, model.params, model.simulation)
    assert not bool(sol.converged(model.simulation))
    with pytest.raises(ValueError, match="Newton's method did not converge"):
        check_converged(sol, model.simulation)
    good = run(model.network, model.params, dataclasses.replace(model.simulation, max_iterations=30))
    check_converged(good, model.simulation)


def test_vessel_table_and_csv_round_trip(coronary_cfg, tmp_path):
    model = read_svzerod(coronary_cfg)
    sol = run(model.network, model.params, model.simulation)
    table = results_table(model.network, sol, model.simulation)
    assert list(table) == ["name", "time", "flow_in", "flow_out", "pressure_in", "pressure_out"]
    assert len(table["name"]) == 401  # 2 cycles × 200 steps + 1, all cycles reported
    res = vessel_results(model.network, sol.y)
    np.testing.assert_allclose(table["pressure_out"], np.asarray(res["pressure_out"][:, 0]) / CGS_PRESSURE)
    np.testing.assert_allclose(table["flow_in"], np.asarray(res["flow_in"][:, 0]) / CGS_FLOW)
    path = tmp_path / "result.csv"
    write_results_csv(path, table)
    back = read_results_csv(path)
    assert list(back["name"]) == list(table["name"])
    for key in table:
        if key != "name":
            np.testing.assert_allclose(back[key], table[key], rtol=1e-15)
    assert not list(tmp_path.glob(".*tmp*"))


def test_mean_only_and_derivative_layouts(coronary_cfg):
    model = read_svzerod(coronary_cfg)
    sol = run(model.network, model.params, model.simulation)
    assert sol.ydot is None  # derivatives are kept only on request
    with pytest.raises(ValueError, match="output_derivative is set but the solution has no ydot"):
        results_table(model.network, sol,
                      dataclasses.replace(model.simulation, output_derivative=True))
    mean_sim = dataclasses.replace(model.simulation, output_mean_only=True, output_derivative=True)
    sol_d = run(model.network, model.params, mean_sim)
    np.testing.assert_array_equal(sol_d.y, sol.y)
    table = results_table(model.network, sol_d, mean_sim)
    assert list(table)[-4:] == ["d_flow_in", "d_flow_out", "d_pressure_in", "d_pressure_out"]
    assert len(table["name"]) == 1 and np.isnan(table["time"][0])
    p_in = np.asarray(vessel_results(model.network, sol.y)["pressure_in"][:, 0]) / CGS_PRESSURE
    assert table["pressure_in"][0] == pytest.approx(p_in.mean(), rel=1e-14)
    var_sim = dataclasses.replace(model.simulation, output_variable_based=True, output_mean_only=True)
    table = results_table(model.network, sol, var_sim)
    assert list(table) == ["name", "time", "y"]
    assert set(table["name"]) == set(model.network.var_names) and "volume_im:OUT" in table["name"]


def test_svzerod_file_as_a_vessel_tree(shared_data):
    """The VMR anatomy becomes an 18-segment tree whose Poiseuille resistances are the file's."""
    from cardiojax.io import svzerod_to_tree
    from cardiojax.lumped.elements import poiseuille_resistance
    from cardiojax.units import CGS_RESISTANCE

    path = shared_data / "hemo_reference" / "svZeroDSolver" / "vmr" / "0104_0001_optimal_from_0d.json"
    cfg = json.loads(path.read_text())
    tree = svzerod_to_tree(cfg, capacity=64)
    assert int(tree.num_segments) == 18 and tree.capacity == 64
    names = [v["vessel_name"] for v in cfg["vessels"]]
    assert np.asarray(tree.parent)[0] == -1 and np.all(np.asarray(tree.parent)[1:18] >= 0)
    r = np.asarray(poiseuille_resistance(tree.length, tree.r_in, tree.r_out, 0.004))[:18]
    expected = sorted(v["zero_d_element_values"]["R_poiseuille"] * CGS_RESISTANCE for v in cfg["vessels"])
    np.testing.assert_allclose(np.sort(r), expected, rtol=1e-12)
    assert len(names) == 18
    bad = copy.deepcopy(cfg)
    bad["junctions"][0]["inlet_vessels"] = [0, 1]
    with pytest.raises(ValueError, match="junction 'J0': 2 inlet vessels; expected 1"):
        svzerod_to_tree(bad)
    loop = copy.deepcopy(cfg)  # two extra vessels feeding each other, detached from the inlet
    for k in (100, 101):
        loop["vessels"].append(dict(copy.deepcopy(cfg["vessels"][1]), vessel_id=k, vessel_name=f"x{k}"))
    loop["junctions"] += [{"junction_name": "JX", "junction_type": "NORMAL_JUNCTION",
                           "inlet_vessels": [100], "outlet_vessels": [101]},
                          {"junction_name": "JY", "junction_type": "NORMAL_JUNCTION",
                           "inlet_vessels": [101], "outlet_vessels": [100]}]
    with pytest.raises(ValueError, match=r"vessel ids \[100, 101\] are not reachable from the inlet"):
        svzerod_to_tree(loop)
