"""Image volumes: MetaImage, NIfTI, DICOM series and NPZ round trips, real files, and refusal of bad files."""

import zlib

import numpy as np
import pytest

from cardiojax.io import (
    Volume,
    read_dicom_series,
    read_metaimage,
    read_nifti,
    read_volume,
    write_dicom_series,
    write_nifti,
    write_volume,
)

pydicom = pytest.importorskip("pydicom")


def _rotation(a, b, c) -> np.ndarray:
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    rz = np.array([[ca, -sa, 0], [sa, ca, 0], [0, 0, 1]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rx = np.array([[1, 0, 0], [0, cc, -sc], [0, sc, cc]])
    return rz @ ry @ rx


SPACING = (0.45e-3, 0.7e-3, 1.3e-3)  # m, non-uniform
ORIGIN = (0.0123456789, -0.0345678912, 0.0567891234)  # m
DIRECTION = _rotation(0.3, -0.5, 1.1)  # right-handed, no axis aligned


def _volume(dtype=np.float32, shape=(5, 6, 7), direction=DIRECTION) -> Volume:
    rng = np.random.default_rng(0)
    values = rng.normal(size=shape) * 300 if np.dtype(dtype).kind == "f" else rng.integers(-1000, 3000, shape)
    if np.dtype(dtype).kind == "u":
        values = np.abs(values)
    return Volume.from_grid(values.astype(dtype), SPACING, ORIGIN, direction)


def _assert_same(a: Volume, b: Volume, atol=1e-9, values_atol=0.0):
    assert a.shape == b.shape
    np.testing.assert_allclose(np.asarray(a.affine), np.asarray(b.affine), rtol=0, atol=atol)
    np.testing.assert_allclose(np.asarray(a.array, np.float64), np.asarray(b.array, np.float64), rtol=0,
                               atol=values_atol)


@pytest.mark.parametrize("name", ["v.mha", "v.mhd", "v.nii", "v.nii.gz", "v.npz"])
def test_round_trip_keeps_values_and_geometry(tmp_path, name):
    volume = _volume()
    write_volume(volume, tmp_path / name)
    back = read_volume(tmp_path / name)
    # NIfTI-1 stores the affine as float32: ~1e-7 relative, a few nm here
    _assert_same(back, volume, atol=1e-8 if ".nii" in name else 1e-9)
    assert back.array.dtype == np.float32
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_nifti2_keeps_the_affine_to_float64(tmp_path):
    volume = _volume()
    write_nifti(volume, tmp_path / "v.nii.gz", version=2)
    _assert_same(read_nifti(tmp_path / "v.nii.gz"), volume, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_metaimage_element_types(tmp_path, dtype, compress):
    volume = _volume(dtype=dtype).replace(array=_volume(dtype=dtype).array % 100 if dtype in (np.int8, np.uint8)
                                          else _volume(dtype=dtype).array)
    write_volume(volume, tmp_path / "v.mha", compress=compress)
    back = read_metaimage(tmp_path / "v.mha")
    assert back.array.dtype == dtype
    _assert_same(back, volume)


def test_left_handed_grid_round_trips(tmp_path):
    volume = _volume(direction=DIRECTION @ np.diag([1.0, -1.0, 1.0]))
    for name in ("v.mha", "v.nii", "v.npz"):
        write_volume(volume, tmp_path / name)
        _assert_same(read_volume(tmp_path / name), volume, atol=1e-8)


def _mha(tmp_path, header: dict, data: bytes = b"\0" * 24, name="bad.mha"):
    base = {"ObjectType": "Image", "NDims": "3", "DimSize": "2 3 4", "ElementSpacing": "1 1 1",
            "ElementType": "MET_UCHAR"}
    base.update(header)
    base["ElementDataFile"] = base.pop("ElementDataFile", "LOCAL")  # always the last header line
    text = "".join(f"{k} = {v}\n" for k, v in base.items() if v is not None)
    path = tmp_path / name
    path.write_bytes(text.encode() + data)
    return path


def test_metaimage_transform_matrix_lists_axis_directions(tmp_path):
    # ITK's MetaImageIO: direction of axis a = TransformMatrix[3a : 3a + 3] (read and write alike)
    path = _mha(tmp_path, {"TransformMatrix": "0 1 0 -1 0 0 0 0 1", "Offset": "10 20 30",
                           "ElementSpacing": "0.5 2 3"}, data=bytes(range(24)))
    v = read_metaimage(path)
    np.testing.assert_allclose(v.direction, [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(v.index_to_world([1, 1, 1]), np.array([10 - 2, 20 + 0.5, 33]) * 1e-3)
    assert v.array[1, 0, 0] == 1 and v.array[0, 1, 0] == 2 and v.array[0, 0, 1] == 6  # x fastest in the file


def test_metaimage_big_endian_mhd_with_header_size(tmp_path):
    values = (np.arange(24) - 12).astype(">i2")
    (tmp_path / "v.raw").write_bytes(b"JUNK" + values.tobytes())
    path = _mha(tmp_path, {"ElementType": "MET_SHORT", "BinaryDataByteOrderMSB": "True", "HeaderSize": "4",
                           "ElementDataFile": "v.raw"}, data=b"", name="v.mhd")
    v = read_volume(path)
    np.testing.assert_array_equal(v.array.ravel(order="F"), np.arange(24) - 12)
    assert v.array.dtype == np.int16


def test_metaimage_ascii_data(tmp_path):
    path = _mha(tmp_path, {"BinaryData": "False", "ElementType": "MET_FLOAT"},
                data=" ".join(str(v / 4) for v in range(24)).encode())
    np.testing.assert_array_equal(read_metaimage(path).array.ravel(order="F"), np.arange(24) / 4)


@pytest.mark.parametrize("header, data, match", [
    ({"ElementSpacing": None}, b"\0" * 24, "no ElementSpacing"),
    ({"ElementSpacing": "1 0 1"}, b"\0" * 24, r"ElementSpacing = '1 0 1'.*> 0"),
    ({"ElementSpacing": "1 -1 1"}, b"\0" * 24, "ElementSpacing"),
    ({"TransformMatrix": "1 0 0 0.5 1 0 0 0 1"}, b"\0" * 24, r"TransformMatrix = .*not orthonormal"),
    ({}, b"\0" * 23, "23 data bytes; expected 24"),
    ({"CompressedData": "True"}, zlib.compress(b"\0" * 20), "20 bytes after decompression; expected 24"),
    ({"CompressedData": "True"}, zlib.compress(b"\0" * 24)[:-6], "truncated"),
    ({"NDims": "2", "DimSize": "4 6"}, b"\0" * 24, "NDims = 2; expected 3"),
    ({"NDims": "4", "DimSize": "1 2 3 4"}, b"\0" * 24, "NDims = 4; expected 3"),
    ({"ElementNumberOfChannels": "3"}, b"\0" * 72, "ElementNumberOfChannels = 3; expected 1"),
    ({"ElementType": "MET_FLOAT_MATRIX"}, b"\0" * 24, "ElementType = MET_FLOAT_MATRIX"),
    ({"ElementDataFile": "missing.raw"}, b"", "missing.raw"),
])  # fmt: skip
def test_bad_metaimage_is_refused_clearly(tmp_path, header, data, match):
    path = _mha(tmp_path, header, data)
    with pytest.raises(ValueError, match=match) as err:
        read_volume(path)
    assert str(path) in str(err.value)


def test_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown volume file type '.png'; expected .mha"):
        read_volume(tmp_path / "v.png")
    with pytest.raises(ValueError, match="unknown volume file type"):
        write_volume(_volume(), tmp_path / "v.tif")


def test_npz_without_affine_is_refused(tmp_path):
    np.savez(tmp_path / "v.npz", array=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"missing \['affine'\]"):
        read_volume(tmp_path / "v.npz")


def test_nifti_ras_is_converted_to_lps_metres(tmp_path):
    nib = pytest.importorskip("nibabel")
    ras = np.array([[-2.0, 0, 0, 90], [0, 0, 3, -126], [0, 4, 0, -72], [0, 0, 0, 1]])  # mm, a sagittal-ish grid
    img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), None)
    img.set_qform(ras, code=1)  # qform only: the sform code stays 0
    img.set_sform(np.eye(4), code=0)
    nib.save(img, tmp_path / "q.nii")
    v = read_nifti(tmp_path / "q.nii")
    np.testing.assert_allclose(v.affine, np.diag([-1, -1, 1, 1]) @ ras * np.array([1e-3] * 3 + [1])[:, None],
                               atol=1e-9)
    assert v.array.dtype == np.int16 and v.array[1, 2, 3] == 23
    img.set_sform(ras @ np.diag([1, 1, 2, 1]), code=2)  # an sform, when set, wins
    nib.save(img, tmp_path / "s.nii")
    np.testing.assert_allclose(read_nifti(tmp_path / "s.nii").spacing, [2e-3, 4e-3, 6e-3])  # qform: 2, 4, 3 mm


def test_real_mha_geometry_and_values(shared_data):
    folder = shared_data / "images" / "vmtk_aorta"
    image = read_volume(folder / "aorta.mha")
    assert image.shape == (157, 393, 34) and image.array.dtype == np.float32
    np.testing.assert_allclose(image.spacing, [0.878906e-3, 0.878906e-3, 1.50009e-3], rtol=1e-9)
    np.testing.assert_allclose(image.direction, np.diag([-1.0, -1.0, 1.0]))
    np.testing.assert_allclose(image.origin, [-156.445e-3, -24.6094e-3, 0.0], atol=1e-12)
    assert 0.0 <= image.array.min() and 2560 < image.array.max() < 2580  # MR intensities 0–2570
    level_set = read_volume(folder / "aorta-final-levelset.mha")
    np.testing.assert_array_equal(level_set.affine, image.affine)
    assert int(np.sum(level_set.array < 0)) == 11590


# ---------------------------------------------------------------------------------------------------------------
# DICOM series


def test_dicom_series_round_trip_integer_hu(tmp_path):
    volume = _volume(dtype=np.int16)
    write_volume(volume, tmp_path / "series")
    assert len(list((tmp_path / "series").iterdir())) == 7
    back = read_volume(tmp_path / "series")
    _assert_same(back, volume)
    ds = pydicom.dcmread(tmp_path / "series" / "0003.dcm")
    assert ds.Rows == 6 and ds.Columns == 5 and float(ds.SliceThickness) == pytest.approx(1.3)
    np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient],
                               (np.asarray(ORIGIN) + 2 * DIRECTION[:, 2] * SPACING[2]) * 1e3, atol=1e-9)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_dicom_series_float_values_are_rescaled(tmp_path):
    volume = _volume(dtype=np.float64)
    write_dicom_series(volume, tmp_path / "s")
    ds = pydicom.dcmread(tmp_path / "s" / "0001.dcm")
    slope = float(ds.RescaleSlope)
    assert ds.PixelRepresentation == 0 and 0 < slope < 1
    _assert_same(read_dicom_series(tmp_path / "s"), volume, values_atol=0.51 * slope)
    with pytest.raises(FileExistsError):
        write_dicom_series(volume, tmp_path / "s")
    write_dicom_series(volume, tmp_path / "s", overwrite=True)


def _series(tmp_path, n=4):
    write_dicom_series(_volume(dtype=np.int16, shape=(3, 4, n)), tmp_path / "s")
    return sorted((tmp_path / "s").iterdir())


def test_mixed_dicom_series_is_refused(tmp_path):
    files = _series(tmp_path)
    ds = pydicom.dcmread(files[1])
    ds.SeriesInstanceUID = "1.2.3.4"
    ds.save_as(files[1])
    with pytest.raises(ValueError, match=r"mixed series, SeriesInstanceUID (1\.2\.3\.4 and .+|.+ and 1\.2\.3\.4)"):
        read_volume(tmp_path / "s")


def test_dicom_slice_without_position_is_refused(tmp_path):
    files = _series(tmp_path)
    ds = pydicom.dcmread(files[2])
    del ds.ImagePositionPatient
    ds.save_as(files[2])
    with pytest.raises(ValueError, match=f"{files[2].name}: no ImagePositionPatient"):
        read_volume(tmp_path / "s")


def test_dicom_series_with_a_missing_slice_is_refused(tmp_path):
    files = _series(tmp_path, n=5)
    files[2].unlink()
    with pytest.raises(ValueError, match=r"slice spacing .* expected uniform spacing \(to 1 %; missing slice\?\)"):
        read_volume(tmp_path / "s")


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_real_mr_short_axis_stack(tmp_path, shared_data):
    # Sunnybrook SCD0000101: one cardiac phase (TriggerTime 281–296 ms) at nine short-axis slice positions
    folder = shared_data / "images" / "sunnybrook-scd" / "SCD0000101"
    stack = tmp_path / "stack"
    stack.mkdir()
    for n in (48, 68, 88, 108, 128, 148, 168, 188, 208):
        (stack / f"{n}.dcm").symlink_to(folder / f"{n}.dcm")
    v = read_volume(stack)
    assert v.shape == (256, 256, 9)
    np.testing.assert_allclose(v.spacing, [1.367188e-3, 1.367188e-3, 10.0e-3], rtol=1e-5)
    np.testing.assert_allclose(v.origin, [229.866e-3, -31.0275e-3, 112.158e-3])  # position of 208.dcm
    hu = pydicom.dcmread(folder / "128.dcm").pixel_array.T
    np.testing.assert_array_equal(v.array[:, :, 4], hu)  # 128.dcm is the middle slice (208.dcm first)
    # twenty phases of one slice are not a volume
    repeated = tmp_path / "repeated"
    repeated.mkdir()
    for n in (81, 82, 83):
        (repeated / f"{n}.dcm").symlink_to(folder / f"{n}.dcm")
    with pytest.raises(ValueError, match="repeated in .*; expected one slice per position"):
        read_volume(repeated)
