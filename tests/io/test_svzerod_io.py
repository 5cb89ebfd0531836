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
