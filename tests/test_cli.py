"""The ``cardiojax ffr`` command end to end (small runs)."""

import json

import numpy as np
import pytest

from cardiojax.cli import main
from cardiojax.io import load_tree, save_tree_json
from cardiojax.io.dataset import load_dataset
from tests.helpers import y_tree


def test_ffr_on_synthetic_trees(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["ffr", "-n", "10", "--batch-size", "4", "--save-trees", "2", "-o", str(out), "--no-progress"])
    assert code == 0
    for name in ("dataset.npz", "summary.json", "ffr_histogram.png", "tree_ffr.png",
                 "trees/tree_0000.json", "trees/tree_0001.vtu"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trees"] == 10 and summary["not_converged"] == 0
    trees, labels, meta = load_dataset(out / "dataset.npz")
    assert trees.parent.shape == (10, 64) and labels["ffr_out"].shape == (10, 64)
    assert meta["command"].startswith("cardiojax ffr -n 10")
    printed = capsys.readouterr().out
    assert "FFR < 0.80" in printed and "µs/tree" in printed
    # tree i does not depend on the batch size
    out2 = tmp_path / "run2"
    assert main(["ffr", "-n", "6", "--batch-size", "6", "--save-trees", "0", "-o", str(out2), "--no-progress"]) == 0
    trees2, labels2, _ = load_dataset(out2 / "dataset.npz")
    np.testing.assert_array_equal(trees2.length, trees.length[:6])
    np.testing.assert_allclose(labels2["ffr_out"], labels["ffr_out"][:6], rtol=1e-12)
    # a saved tree reads back with its hyperemic outlets and solves to the same FFR
    again = tmp_path / "again"
    assert main(["ffr", str(out / "trees" / "tree_0000.json"), "--file-outlets", "-o", str(again),
                 "--no-progress", "--save-trees", "0"]) == 0
    _, labels3, _ = load_dataset(again / "dataset.npz")
    n = int(load_tree(out / "trees" / "tree_0000.json").num_segments)
    np.testing.assert_allclose(labels3["ffr_out"][0, :n], labels["ffr_out"][0, :n], rtol=1e-10)


def test_ffr_bad_input_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    save_tree_json(y_tree(), bad)
    data = json.loads(bad.read_text())
    data["segments"][1]["length"] = 0.0
    bad.write_text(json.dumps(data))
    assert main(["ffr", str(bad), "--mass-g", "100", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "segment 1: field 'length' = 0.0 m; expected a length > 0 m" in err
    assert not (tmp_path / "o" / "dataset.npz").exists()
    good = tmp_path / "good.json"
    save_tree_json(y_tree(outlet_resistance=[0, 0, 4e9, 0.0, 8e9]), good)
    assert main(["ffr", str(good), "-o", str(tmp_path / "o")]) == 2
    assert "--mass-g (perfused myocardial mass, g) is required for tree files" in capsys.readouterr().err
    assert main(["ffr", str(good), "--file-outlets", "-o", str(tmp_path / "o")]) == 2
    assert ("segment 3: field 'outlet_resistance' = 0.0 Pa·s/m³; expected > 0 at every outlet"
            in capsys.readouterr().err)
    assert main(["ffr", str(tmp_path / "missing.json"), "--mass-g", "100", "-o", str(tmp_path / "o")]) == 2
    assert "No such file or directory" in capsys.readouterr().err
    assert main(["ffr", "-n", "2", "--mass-g", "-5", "-o", str(tmp_path / "o")]) == 2
    assert "--mass-g = -5.0; expected a value > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ffr", "-n", "0", "-o", str(tmp_path / "o")])


def test_0d_runs_a_svzerodsolver_file(tmp_path, capsys, shared_data):
    """``cardiojax 0d CASE.json -o result.csv`` writes svZeroDSolver's table, matching its results."""
    from cardiojax.io.svzerod_results import read_results_csv

    root = shared_data / "hemo_reference" / "svZeroDSolver"
    case = root / "cases" / "pulsatileFlow_CStenosis_steadyPressure.json"
    out = tmp_path / "result.csv"
    png = tmp_path / "waves.png"
    assert main(["0d", str(case), "-o", str(out), "--plot", str(png), "--no-progress"]) == 0
    assert png.is_file() and png.stat().st_size > 0
    table = read_results_csv(out)
    ref = json.loads((root / "results" / "result_pulsatileFlow_CStenosis_steadyPressure.json").read_text())
    for key in ("time", "flow_in", "pressure_in", "pressure_out"):
        np.testing.assert_allclose(table[key], list(ref[key].values()), rtol=1e-6, atol=1e-10)
    printed = capsys.readouterr().out
    assert "1 vessels" in printed and "nonlinear" in printed and "compile" in printed


def test_0d_bad_file_is_one_clear_error(tmp_path, capsys, shared_data):
    cfg = json.loads((shared_data / "hemo_reference" / "svZeroDSolver" / "cases" /
                      "steadyFlow_R_RCR.json").read_text())
    cfg["boundary_conditions"][1]["bc_type"] = "WINDKESSEL"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cfg))
    out = tmp_path / "result.csv"
    assert main(["0d", str(path), "-o", str(out)]) == 2
    assert "boundary condition 'OUT': unknown bc_type 'WINDKESSEL'" in capsys.readouterr().err
    assert not out.exists()
