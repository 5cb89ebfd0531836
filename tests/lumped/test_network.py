"""Block network: svZeroDSolver's steady reference cases, reader errors, gradients."""

import json

import jax
import numpy as np
import pytest

from cardiojax.io import read_svzerod
from cardiojax.lumped.network import solve_steady_network, vessel_results
from cardiojax.units import CGS_FLOW, CGS_PRESSURE

STEADY_CASES = [
    "steadyFlow_stenosis_R",
    "steadyFlow_bifurcationR_R1",
    "steadyFlow_blood_vessel_junction",
    "steadyFlow_R_RCR",
    "steadyFlow_R_coronary",
    "steadyFlow_RLC_R",
]
solve = jax.jit(solve_steady_network, static_argnums=0)


@pytest.mark.parametrize("case", STEADY_CASES)
def test_steady_case_agrees_with_svzerodsolver(case, shared_data):
    root = shared_data / "hemo_reference" / "svZeroDSolver"
    model = read_svzerod(root / "cases" / f"{case}.json")
    y, res_norm = solve(model.network, model.params)
    ours = vessel_results(model.network, y)
    ref = json.loads((root / "results" / f"result_{case}.json").read_text())
    names = np.array(list(ref["name"].values()))
    checked = 0
    for key, factor in (("flow_in", CGS_FLOW), ("flow_out", CGS_FLOW),
                        ("pressure_in", CGS_PRESSURE), ("pressure_out", CGS_PRESSURE)):
        values = np.array(list(ref[key].values()))
        for i, vessel in enumerate(model.network.vessels):
            expected = values[names == vessel]
            assert expected.size > 0
            np.testing.assert_allclose(float(ours[key][i]) / factor, expected, rtol=1e-8)
            checked += expected.size
    assert checked == 4 * names.size


def _case(shared_data, name):
    return json.loads((shared_data / "hemo_reference" / "svZeroDSolver" / "cases" / f"{name}.json").read_text())


def test_reader_errors_name_block_and_field(shared_data):
    cfg = _case(shared_data, "steadyFlow_bifurcationR_R1")
    cfg["vessels"][1]["zero_d_element_type"] = "BloodVesselCRL"
    with pytest.raises(ValueError, match="vessel 'branch1_seg0': unknown zero_d_element_type 'BloodVesselCRL'"):
        read_svzerod(cfg)
    cfg = _case(shared_data, "steadyFlow_bifurcationR_R1")
    del cfg["boundary_conditions"][1]["bc_values"]["Pd"]
    with pytest.raises(ValueError, match=r"boundary condition 'OUT1' \(RESISTANCE\): missing field 'Pd'"):
        read_svzerod(cfg)
    cfg = _case(shared_data, "steadyFlow_bifurcationR_R1")
    cfg["boundary_conditions"][0]["bc_type"] = "IMPEDANCE"
    with pytest.raises(ValueError, match="boundary condition 'INFLOW': unknown bc_type 'IMPEDANCE'"):
        read_svzerod(cfg)
    cfg = _case(shared_data, "steadyFlow_bifurcationR_R1")
    cfg["junctions"] = []
    with pytest.raises(ValueError, match=r"node at the outlet of 'branch0_seg0' joins 1 block ports; expected exactly 2"):
        read_svzerod(cfg)
    cfg = _case(shared_data, "steadyFlow_bifurcationR_R1")
    del cfg["vessels"][0]["zero_d_element_values"]["R_poiseuille"]
    with pytest.raises(ValueError, match="vessel 'branch0_seg0': missing field 'R_poiseuille'"):
        read_svzerod(cfg)


def test_gradient_through_steady_network_matches_finite_differences(shared_data):
    """d(inlet pressure)/d(stenosis coefficient) by implicit differentiation vs central FD."""
    model = read_svzerod(_case(shared_data, "steadyFlow_stenosis_R"))

    def inlet_pressure(s):
        params = list(model.params)
        group = [g.kind for g in model.network.groups].index("vessel")
        params[group] = dict(params[group], S=params[group]["S"].at[0].set(s))
        y, _ = solve_steady_network(model.network, tuple(params))
        return vessel_results(model.network, y)["pressure_in"][0]

    s0 = float(model.params[[g.kind for g in model.network.groups].index("vessel")]["S"][0])
    grad = float(jax.grad(inlet_pressure)(s0))
    h = 1e-4 * s0
    fd = (float(inlet_pressure(s0 + h)) - float(inlet_pressure(s0 - h))) / (2 * h)
    q = 5.0 * CGS_FLOW
    assert grad == pytest.approx(q * q, rel=1e-9)  # ΔP = (R + S|Q|)Q with Q fixed by the inflow
    assert grad == pytest.approx(fd, rel=1e-6)
