"""Tree JSON and VTK/VTU centrelines: exact round trips, foreign centrelines, bad files."""

import json

import jax
import meshio
import numpy as np
import pytest

from cardiojax.io import load_tree, load_tree_json, load_tree_vtu, save_tree_json, save_tree_vtu
from cardiojax.io.dataset import load_dataset, save_dataset
from cardiojax.tree import FIELD_UNITS, compact, lumen_radius, take, trim
from tests.helpers import synthetic_batch, y_tree


def _assert_same(a, b):
    assert a.max_depth == b.max_depth
    for k in FIELD_UNITS:
        np.testing.assert_array_equal(np.asarray(getattr(a, k)), np.asarray(getattr(b, k)), err_msg=k)


@pytest.mark.parametrize("suffix", ["json", "vtu", "vtk"])
def test_round_trip_is_exact(tmp_path, suffix):
    tree = take(synthetic_batch(), 0)  # has lesions and padding
    path = tmp_path / f"tree.{suffix}"
    (save_tree_json if suffix == "json" else save_tree_vtu)(tree, path)
    _assert_same(load_tree(path), tree)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left


def test_non_compact_tree_reads_back_compacted(tmp_path):
    tree = y_tree()
    order = np.array([0, 5, 1, 2, 6, 3, 4, 7])
    inverse = np.argsort(order)
    mixed = tree.replace(**{k: np.asarray(getattr(tree, k))[order] for k in FIELD_UNITS})
    p = np.asarray(mixed.parent)
    mixed = mixed.replace(parent=np.where(p >= 0, inverse[np.maximum(p, 0)], -1).astype(np.int32))
    save_tree_json(mixed, tmp_path / "t.json")
    _assert_same(load_tree_json(tmp_path / "t.json"), jax.tree_util.tree_map(np.asarray, compact(mixed)))


def test_vtu_has_lumen_radius_for_paraview(tmp_path):
    tree = take(synthetic_batch(), 1)
    save_tree_vtu(tree, tmp_path / "t.vtu", point_data={"ffr": np.ones((tree.capacity, 2))})
    mesh = meshio.read(tmp_path / "t.vtu")
    assert mesh.cells[0].type == "line"
    radius = mesh.point_data["radius"]
    assert np.all(radius > 0) and "ffr" in mesh.point_data
    t = trim(tree)
    lesion = int(np.flatnonzero(t.stenosis_severity > 0)[0])
    seg = mesh.point_data["segment_id"] == lesion
    narrowest = radius[seg].min()
    expected = float(lumen_radius(t, t.stenosis_position)[lesion])
    assert narrowest == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx((1 - t.stenosis_severity[lesion])
                                     * (t.r_in[lesion] + (t.r_out[lesion] - t.r_in[lesion])
                                        * t.stenosis_position[lesion]), rel=1e-12)


def test_foreign_centreline_is_split_at_branch_points(tmp_path):
    # a Y made of shared points: root (0)->(1)->(2) branches to (3)->(4) and (5)
    pts = np.array([[0, 0, 0], [0, -5, 0], [0, -10, 0], [3, -14, 0], [6, -18, 0], [-3, -14, 0]], float) * 1e-3
    lines = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [2, 5]])
    radius = np.array([2.0, 1.9, 1.8, 1.3, 1.2, 1.1]) * 1e-3
    meshio.write(tmp_path / "c.vtu", meshio.Mesh(pts, [("line", lines)], point_data={"Radius": radius}))
    t = trim(load_tree_vtu(tmp_path / "c.vtu"))
    assert t.parent.tolist() == [-1, 0, 0]
    np.testing.assert_allclose(t.length, [0.010, 0.010, 0.005], rtol=1e-12)
    # radii are read one point inside a branch point where the branch has one
    np.testing.assert_allclose(t.r_in, [2.0e-3, 1.3e-3, 1.8e-3])
    np.testing.assert_allclose(t.r_out, [1.9e-3, 1.2e-3, 1.1e-3])


def test_foreign_centreline_recovers_lesions(tmp_path):
    tree = y_tree(stenosis_severity=[0, 0, 0.6, 0, 0], stenosis_length=[0, 0, 0.012, 0, 0],
                  stenosis_position=[0.5, 0.5, 0.4, 0.5, 0.5])
    save_tree_vtu(tree, tmp_path / "ours.vtu", samples=64)
    mesh = meshio.read(tmp_path / "ours.vtu")  # keep geometry and radius only: a foreign file
    meshio.write(tmp_path / "c.vtu", meshio.Mesh(mesh.points, mesh.cells,
                                                  point_data={"radius": mesh.point_data["radius"]}))
    back = trim(load_tree_vtu(tmp_path / "c.vtu"))
    t = trim(tree)
    assert back.parent.tolist() == t.parent.tolist()
    np.testing.assert_allclose(back.length, t.length, rtol=1e-12)
    np.testing.assert_allclose(back.stenosis_severity, t.stenosis_severity, atol=1e-3)
    np.testing.assert_allclose(back.stenosis_length, t.stenosis_length, rtol=0.05, atol=1e-12)
    np.testing.assert_allclose(back.stenosis_position, t.stenosis_position, atol=0.01)


def test_foreign_centreline_errors(tmp_path):
    pts = np.array([[0, 0, 0], [0, 1, 0], [5, 0, 0], [5, 1, 0]], float) * 1e-2
    two = meshio.Mesh(pts, [("line", np.array([[0, 1], [2, 3]]))], point_data={"radius": np.full(4, 1e-3)})
    meshio.write(tmp_path / "two.vtu", two)
    with pytest.raises(ValueError, match="points not connected to the root's tree; expected one connected tree"):
        load_tree_vtu(tmp_path / "two.vtu")
    mm = meshio.Mesh(pts[:2] * 1e3, [("line", np.array([[0, 1]]))], point_data={"radius": np.full(2, 1.5)})
    meshio.write(tmp_path / "mm.vtu", mm)
    with pytest.raises(ValueError, match="expected metres .* a file in mm needs scaling by 1e-3"):
        load_tree_vtu(tmp_path / "mm.vtu")


def test_bad_files_raise_clear_errors(tmp_path):
    p = tmp_path / "t.json"
    save_tree_json(y_tree(), p)
    data = json.loads(p.read_text())
    data["segments"][2]["r_in"] = -0.001
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"t.json: segment 2: field 'r_in' = -0.001 m; expected a radius > 0 m"):
        load_tree(p)
    del data["segments"][1]["length"]
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"segment 1: missing field 'length'"):
        load_tree(p)
    p.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="the file holds a JSON list; expected an object"):
        load_tree(p)
    data["segments"][1]["length"] = "abc"
    data["segments"][2]["r_in"] = 0.001
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="segment 1: field 'length' = 'abc'; expected a number"):
        load_tree(p)
    data["segments"][1]["length"] = 0.01
    data["segments"][0]["start"] = [0.0, 1.0]
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"segment 0: field 'start' = \[0.0, 1.0\]; expected a list of 3"):
        load_tree(p)
    data["segments"][0]["start"] = [0.0, 0.0, 0.0]
    data["segments"][1]["parent"] = 0.5
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="segment 1: field 'parent' = 0.5; expected a whole number"):
        load_tree(p)
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_tree(p)
    with pytest.raises(ValueError, match=r"unknown tree file type '.stl'"):
        load_tree(tmp_path / "t.stl")
    pts = np.zeros((2, 3))
    meshio.write(tmp_path / "n.vtu", meshio.Mesh(pts, [("line", np.array([[0, 1]]))]))
    with pytest.raises(ValueError, match="no point data named one of"):
        load_tree(tmp_path / "n.vtu")


def test_dataset_round_trip(tmp_path):
    trees = synthetic_batch()
    labels = {"ffr_out": np.asarray(trees.r_in) * 2}
    save_dataset(tmp_path / "d.npz", trees, labels, {"seed": 0})
    back, lab, meta = load_dataset(tmp_path / "d.npz")
    _assert_same(back, trees)
    np.testing.assert_array_equal(lab["ffr_out"], labels["ffr_out"])
    assert meta == {"seed": 0}
