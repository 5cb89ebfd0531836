"""VTK XML PolyData: every layout VTK writes, real VMTK files, round trips, trees as .vtp centrelines."""

from pathlib import Path

import numpy as np
import pytest

from cardiojax.io import (
    CellArray,
    PolyData,
    load_tree,
    load_tree_vtp,
    read_vtp,
    save_tree_vtp,
    tree_to_polydata,
    write_vtp,
)
from cardiojax.tree import FIELD_UNITS, take, trim
from tests.helpers import synthetic_batch

FIXTURES = Path(__file__).parent / "data" / "vtk_xml"
LAYOUTS = sorted(p.name for p in FIXTURES.glob("*.vtp"))


def _assert_same(a: PolyData, b: PolyData):
    np.testing.assert_array_equal(a.points, b.points)
    for block in ("verts", "lines", "polys", "strips"):
        np.testing.assert_array_equal(getattr(a, block).connectivity, getattr(b, block).connectivity)
        np.testing.assert_array_equal(getattr(a, block).offsets, getattr(b, block).offsets)
    for kind in ("point_data", "cell_data"):
        da, db = getattr(a, kind), getattr(b, kind)
        assert set(da) == set(db)
        for k in da:
            assert da[k].dtype == db[k].dtype, k
            np.testing.assert_array_equal(da[k], db[k], err_msg=k)


def test_fixtures_cover_the_layouts():
    assert len(LAYOUTS) == 10  # see data/vtk_xml/README.md


@pytest.mark.parametrize("name", LAYOUTS)
def test_every_vtk_layout_reads_the_same(name):
    ref = read_vtp(FIXTURES / "ascii.vtp")
    assert [list(c) for c in ref.lines] == [[0, 4, 2], [1, 3]]
    assert [list(c) for c in ref.polys] == [[0, 1, 4], [0, 1, 2, 3]]
    assert list(ref.verts[0]) == [5] and list(ref.strips[0]) == [0, 1, 3, 2]
    np.testing.assert_array_equal(ref.cell_data["cell_id"], np.arange(6))  # verts, lines, polys, strips
    assert ref.point_data["vec_i64"].shape == (6, 3) and ref.point_data["u8"].dtype == np.uint8
    _assert_same(read_vtp(FIXTURES / name), ref)


def test_real_vmtk_centreline(shared_data):
    c = read_vtp(shared_data / "images" / "vmtk_aorta" / "aorta-centerline.vtp")
    assert c.n_points == 409 and len(c.lines) == 2 and c.lines.sizes.sum() == 409
    r = c.point_data["MaximumInscribedSphereRadius"]
    assert r.dtype == np.float64 and r.shape == (409,)
    assert r.min() == pytest.approx(2.7758680852, abs=1e-10) and r.max() == pytest.approx(7.5780218521, abs=1e-10)
    mm = read_vtp(shared_data / "images" / "vmtk_aorta" / "aorta-centerline.vtp", scale=1e-3)
    np.testing.assert_allclose(mm.points, c.points * 1e-3)
    np.testing.assert_array_equal(mm.point_data["MaximumInscribedSphereRadius"], r)  # data are never scaled


def test_real_vmtk_surface(shared_data):
    s = read_vtp(shared_data / "images" / "vmtk_aorta" / "aorta-surface.vtp")
    assert s.n_points == 6468 and len(s.polys) == 12932
    triangles = s.polys.to_array()
    assert triangles.shape == (12932, 3) and triangles.max() == 6467
    np.testing.assert_allclose(np.linalg.norm(s.point_data["Normals_"], axis=1), 1.0, atol=1e-6)
    assert 200 < s.points[:, 0].min() and s.points[:, 0].max() < 240  # mm, as VMTK writes


@pytest.mark.parametrize("fmt, compress", [("ascii", False), ("binary", True), ("binary", False)])
@pytest.mark.parametrize("name", ["aorta-centerline.vtp", "aorta-surface.vtp"])
def test_round_trip_of_real_files(tmp_path, shared_data, name, fmt, compress):
    original = read_vtp(shared_data / "images" / "vmtk_aorta" / name)
    write_vtp(tmp_path / name, original, format=fmt, compress=compress)
    _assert_same(read_vtp(tmp_path / name), original)
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("fmt", ["ascii", "binary"])
def test_round_trip_of_every_type_and_cell_kind(tmp_path, fmt):
    rng = np.random.default_rng(1)
    n = 7
    point_data = {f"{t}": (rng.normal(size=n) * 100).astype(t) for t in
                  ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32")}
    point_data["vector"] = rng.normal(size=(n, 3))
    point_data["tiny"] = np.array([1e-300, -2.5e-17, np.pi, 0, 1e300, -0.0, 7.0])
    polydata = PolyData(rng.normal(size=(n, 3)), verts=[[6]], lines=[[0, 1, 2, 3], [4, 5]],
                        polys=np.array([[0, 1, 2], [2, 3, 4]]), strips=[[0, 1, 2, 3, 4]],
                        point_data=point_data, cell_data={"id": np.arange(6, dtype=np.int32)})
    write_vtp(tmp_path / "p.vtp", polydata, format=fmt)
    _assert_same(read_vtp(tmp_path / "p.vtp"), polydata)


def test_cell_array():
    cells = CellArray.from_cells([[0, 1, 2], [3], [4, 5]])
    assert len(cells) == 3 and list(cells[-1]) == [4, 5] and cells.sizes.tolist() == [3, 1, 2]
    with pytest.raises(ValueError, match="cells of \\[1, 2, 3\\] points"):
        cells.to_array()
    with pytest.raises(ValueError, match="point index 9 out of range"):
        PolyData(np.zeros((3, 3)), lines=[[0, 9]])
    with pytest.raises(ValueError, match=r"cell_data\['x'\]: shape \(2,\); expected \(1, …\)"):
        PolyData(np.zeros((3, 3)), lines=[[0, 1, 2]], cell_data={"x": [1, 2]})


def test_bad_files_are_refused_clearly(tmp_path):
    text = (FIXTURES / "binary_zlib_u64.vtp").read_text()
    cut = tmp_path / "cut.vtp"
    body = text.index(">", text.index('format="binary"'))
    start = text.index("=", body)  # the padding after the first array's header: cut its data
    cut.write_text(text[:start + 9] + text[text.index("</DataArray>", start):])
    with pytest.raises(ValueError, match=r"cut.vtp: DataArray 'radius'"):
        read_vtp(cut)
    raw = (FIXTURES / "appended_raw.vtp").read_bytes()
    (tmp_path / "short.vtp").write_bytes(raw[:-200] + b"\n</AppendedData></VTKFile>")
    with pytest.raises(ValueError, match=r"short.vtp: DataArray 'connectivity': 39 data bytes; header says 40"):
        read_vtp(tmp_path / "short.vtp")
    other = tmp_path / "grid.vtp"
    other.write_text('<?xml version="1.0"?><VTKFile type="UnstructuredGrid"><UnstructuredGrid/></VTKFile>')
    with pytest.raises(ValueError, match="type = 'UnstructuredGrid'; expected PolyData"):
        read_vtp(other)
    lz4 = tmp_path / "lz4.vtp"
    lz4.write_text(text.replace("vtkZLibDataCompressor", "vtkLZ4DataCompressor"))
    with pytest.raises(ValueError, match="compressor = 'vtkLZ4DataCompressor'; expected one of"):
        read_vtp(lz4)


# ---------------------------------------------------------------------------------------------------------------
# trees


@pytest.mark.parametrize("fmt", ["binary", "ascii"])
def test_tree_round_trip_is_exact(tmp_path, fmt):
    tree = take(synthetic_batch(), 0)  # lesions and padding
    save_tree_vtp(tree, tmp_path / "t.vtp", format=fmt, cell_data={"ffr": np.linspace(1, 0.7, tree.capacity)})
    back = load_tree(tmp_path / "t.vtp")
    assert back.max_depth == tree.max_depth
    for k in FIELD_UNITS:
        np.testing.assert_array_equal(np.asarray(getattr(back, k)), np.asarray(getattr(tree, k)), err_msg=k)
    polydata = read_vtp(tmp_path / "t.vtp")
    n = trim(tree).parent.shape[0]
    assert len(polydata.lines) == n  # one polyline per segment
    np.testing.assert_array_equal(polydata.cell_data["segment_id"], np.arange(n))
    assert "ffr" in polydata.cell_data and np.all(polydata.point_data["radius"] > 0)
    with pytest.raises(ValueError, match="already in metres; expected scale = 1"):
        load_tree(tmp_path / "t.vtp", scale=1e-3)


def test_tree_polydata_matches_the_vtu_mesh():
    tree = take(synthetic_batch(), 1)
    polydata = tree_to_polydata(tree)
    assert polydata.lines.sizes.sum() == polydata.n_points  # polylines cover every sample point once


def test_real_vmtk_centreline_as_tree(shared_data):
    path = shared_data / "images" / "vmtk_aorta" / "aorta-centerline.vtp"
    with pytest.raises(ValueError, match="a file in mm needs scaling by 1e-3"):
        load_tree(path)
    tree = load_tree_vtp(path, scale=1e-3)  # the aorta and its two common iliac arteries
    np.testing.assert_array_equal(np.asarray(tree.parent), [-1, 0, 0])
    assert 0.02 < float(tree.length[0]) < 0.04 and np.all(np.asarray(tree.length[1:]) > 0.04)  # m
    assert 2.7e-3 < float(np.min(tree.r_out)) and float(np.max(tree.r_in)) < 7.6e-3
