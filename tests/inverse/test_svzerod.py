"""svZeroDSolver-style calibration: VMR 0104_0001 against svZeroDSolver's optimum, the steady case, CLI, errors."""

from __future__ import annotations

import copy
import json

import pytest

from cardiojax.cli import main
from cardiojax.inverse.svzerod import calibrate, parameter_errors

VMR = "hemo_reference/svZeroDSolver/vmr/0104_0001_calibrate_from_0d.json"
VMR_OPT = "hemo_reference/svZeroDSolver/vmr/0104_0001_optimal_from_0d.json"
STEADY = "hemo_reference/svZeroDSolver/cases/steadyFlow_calibration.json"


@pytest.fixture(scope="module")
def vmr(shared_data):
    return json.loads((shared_data / VMR).read_text())


def test_vmr0104_recovers_svzerodsolver_optimum(vmr, shared_data):
    cal = calibrate(vmr)
    ref = json.loads((shared_data / VMR_OPT).read_text())
    err = parameter_errors(cal.config, ref)
    assert err["compared"] == 18 * 4 + 3 * 3 + 2 * (2 * 3)  # vessels + the three multi-outlet junctions
    assert err["max_rel"] < 1e-6, err
    assert err["max_abs_zero"] == 0.0  # junction values: exactly 0 as in svZeroDSolver's output
    assert cal.message in ("step tolerance", "cost tolerance") and int(cal.result.iterations) < 20
    assert "y" not in cal.config and "calibration_parameters" not in cal.config
    types = {j["junction_name"]: j["junction_type"] for j in cal.config["junctions"]}
    assert types["J0"] == "BloodVesselJunction" and types["J3"] == "NORMAL_JUNCTION"


def test_steady_case_recovers_resistance(shared_data):
    """Constant flow and pressure: R is determined (100), C and L are not and keep their file values."""
    cal = calibrate(shared_data / STEADY)
    v = cal.config["vessels"][0]["zero_d_element_values"]
    assert v["R_poiseuille"] == pytest.approx(100.0, rel=1e-9)
    assert v["C"] == pytest.approx(1e-4, rel=1e-9) and v["L"] == pytest.approx(1.0, rel=1e-9)
    assert abs(v["stenosis_coefficient"]) < 1e-8


def test_options_fix_parameters(vmr):
    cfg = copy.deepcopy(vmr)
    cfg["calibration_parameters"]["calibrate_stenosis_coefficient"] = False
    cfg["calibration_parameters"]["set_capacitance_to_zero"] = True
    cfg["vessels"][0]["calibrate"] = ["R_poiseuille"]
    cfg["vessels"][0]["zero_d_element_values"]["L"] = 1.5
    cal = calibrate(cfg)
    assert all(v["zero_d_element_values"]["stenosis_coefficient"] == 0.0 for v in cal.config["vessels"])
    assert all(v["zero_d_element_values"]["C"] == 0.0 for v in cal.config["vessels"])
    assert cal.config["vessels"][0]["zero_d_element_values"]["L"] == 1.5
    assert "branch0_seg0.L" not in cal.labels and "branch0_seg0.R" in cal.labels
    assert len(cal.labels) == 17 * 3 + 1 + 3 * 2 + 2 * 2 * 2


def test_bad_input_is_named(vmr):
    cfg = copy.deepcopy(vmr)
    del cfg["y"]["pressure:J0:branch1_seg0"]
    with pytest.raises(ValueError, match="no y series for 'pressure:J0:branch1_seg0'"):
        calibrate(cfg)
    cfg = copy.deepcopy(vmr)
    cfg["dy"]["flow:J0:branch1_seg0"] = cfg["dy"]["flow:J0:branch1_seg0"][:-1]
    with pytest.raises(ValueError, match="has 99 time points; expected 100"):
        calibrate(cfg)
    cfg = copy.deepcopy(vmr)
    cfg["calibration_parameters"]["tolerance"] = 1.0
    with pytest.raises(ValueError, match="unknown field"):
        calibrate(cfg)
    cfg = copy.deepcopy(vmr)
    cfg["y"]["flow:J0:branch1_seg0"][3] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        calibrate(cfg)


def test_cli_calibrate(shared_data, tmp_path, capsys):
    out = tmp_path / "calibrated.json"
    rc = main(["calibrate", str(shared_data / VMR), "-o", str(out), "--reference", str(shared_data / VMR_OPT)])
    text = capsys.readouterr().out
    assert rc == 0 and out.is_file()
    assert "largest relative difference" in text and "branch7_seg2" in text
    err = parameter_errors(json.loads(out.read_text()), json.loads((shared_data / VMR_OPT).read_text()))
    assert err["max_rel"] < 1e-6
    assert main(["calibrate", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_stenosis_off_fits_without_the_files_coefficients(vmr):
    """calibrate_stenosis_coefficient = false: S is 0 in the fit, as in the output (svZeroDSolver)."""
    a = copy.deepcopy(vmr)
    a["calibration_parameters"]["calibrate_stenosis_coefficient"] = False
    b = copy.deepcopy(a)
    for v in b["vessels"]:
        v["zero_d_element_values"]["stenosis_coefficient"] = 0.5
    ra, rb = calibrate(a).config, calibrate(b).config
    assert parameter_errors(rb, ra)["max_rel"] < 1e-9
