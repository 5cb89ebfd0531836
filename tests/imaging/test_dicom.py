"""DICOM reading (real CT slices from ../shared/data/images) and an HU round trip through write_dicom."""

from __future__ import annotations

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")

from cardiojax.imaging.dicom import read_dicom, write_dicom  # noqa: E402


def test_read_ct_small(shared_data):
    hu, meta = read_dicom(shared_data / "images" / "pydicom" / "CT_small.dcm")
    assert hu.shape == (128, 128) and hu.dtype == np.float32
    assert meta["modality"] == "CT"
    assert meta["pixel_size"] == pytest.approx(0.661468e-3, rel=1e-6)
    assert meta["pixel_spacing"] == pytest.approx((0.661468e-3, 0.661468e-3), rel=1e-6)
    assert meta["slice_thickness"] == pytest.approx(5e-3)
    assert meta["contrast_agent"] == "ISOVUE300/100"
    assert meta["rescale_intercept"] == -1024.0 and meta["units"] == "HU"
    # stored values × slope + intercept
    raw = pydicom.dcmread(shared_data / "images" / "pydicom" / "CT_small.dcm").pixel_array
    np.testing.assert_array_equal(hu, raw.astype(np.float32) - 1024.0)
    # plausible CT: air/lung well below −500, soft tissue around 0–100 HU, bone above 300
    assert hu.min() < -500
    assert np.mean((hu > -100) & (hu < 100)) > 0.05
    assert hu.max() > 300
    # the descending aorta (iodinated, ≈ 161 HU) sits at the top right: the 40×40 corner patch contains it
    corner = hu[:40, -40:]
    assert np.any((corner > 120) & (corner < 220))


def test_read_jpeg2000_abdominal_ct(shared_data):
    hu, meta = read_dicom(shared_data / "images" / "pydicom-data" / "explicit_VR-UN.dcm")
    assert hu.shape == (512, 512)
    assert meta["modality"] == "CT"
    assert meta["pixel_size"] == pytest.approx(0.859375e-3, rel=1e-6)
    assert hu.min() <= -900  # air outside the body
    assert np.mean((hu > -100) & (hu < 150)) > 0.1  # soft tissue
    assert hu.max() > 500  # bone / contrast


def test_roundtrip_hu(tmp_path):
    rng = np.random.default_rng(0)
    hu = rng.uniform(-1024.0, 3000.0, (40, 48))
    hu[0, 0], hu[0, 1] = -1024.0, 3000.0
    path = write_dicom(tmp_path / "sub" / "slice.dcm", hu, 0.7e-3, slice_thickness=1.25e-3)
    back, meta = read_dicom(path)
    assert back.shape == hu.shape
    assert np.abs(back - hu).max() <= 0.5 + 1e-6  # rounding to integer HU
    np.testing.assert_array_equal(back, np.rint(hu))
    assert meta["pixel_spacing"] == pytest.approx((0.7e-3, 0.7e-3), rel=1e-9)
    assert meta["slice_thickness"] == pytest.approx(1.25e-3)
    assert meta["modality"] == "CT" and meta["units"] == "HU"
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == pydicom.uid.CTImageStorage
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.RescaleSlope == 1 and ds.PixelRepresentation == 0 and ds.BitsStored == 16
    assert not list(tmp_path.glob("sub/.*tmp*"))  # the temporary file was renamed away


def test_roundtrip_below_minus_1024_and_template(shared_data, tmp_path):
    """Values below −1024 HU lower the intercept; a template passes on its study, new series/SOP UIDs."""
    template = shared_data / "images" / "pydicom" / "CT_small.dcm"
    hu = np.linspace(-2000.0, 500.0, 16 * 16).reshape(16, 16)
    path = write_dicom(tmp_path / "t.dcm", hu, (0.5e-3, 0.6e-3), template=template)
    back, meta = read_dicom(path)
    np.testing.assert_array_equal(back, np.rint(hu))
    assert meta["rescale_intercept"] == -2000.0
    assert meta["pixel_spacing"] == pytest.approx((0.5e-3, 0.6e-3))
    src = pydicom.dcmread(template, stop_before_pixels=True)
    assert meta["study_uid"] == src.StudyInstanceUID
    assert meta["series_uid"] != src.SeriesInstanceUID and meta["sop_uid"] != src.SOPInstanceUID
    assert meta["contrast_agent"] == "ISOVUE300/100"
    other = write_dicom(tmp_path / "u.dcm", hu, 0.5e-3, template=template)
    assert read_dicom(other)[1]["sop_uid"] != meta["sop_uid"]


def test_rejects_colour_echo_and_non_images(shared_data):
    echo = shared_data / "images" / "pydicom" / "examples_ybr_color.dcm"
    with pytest.raises(ValueError, match=r"examples_ybr_color\.dcm.*3 sample.*YBR_FULL_422.*grayscale"):
        read_dicom(echo)
    with pytest.raises(ValueError, match=r"waveform_ecg\.dcm.*no pixel data"):
        read_dicom(shared_data / "images" / "pydicom" / "waveform_ecg.dcm")


def test_write_bad_inputs(tmp_path):
    good = np.zeros((8, 8))
    with pytest.raises(ValueError, match="hu.*dtype"):
        write_dicom(tmp_path / "a.dcm", good.astype(np.int16), 1e-3)
    with pytest.raises(ValueError, match="hu.*NaN"):
        write_dicom(tmp_path / "a.dcm", np.full((8, 8), np.nan), 1e-3)
    with pytest.raises(ValueError, match="pixel_size"):
        write_dicom(tmp_path / "a.dcm", good, -1e-3)
    with pytest.raises(ValueError, match="pixel_size.*metres"):
        write_dicom(tmp_path / "a.dcm", good, 0.7)  # mm given by mistake
    with pytest.raises(ValueError, match="65535"):
        write_dicom(tmp_path / "a.dcm", np.array([[-1024.0, 70000.0]]), 1e-3)
    assert not list(tmp_path.iterdir())  # nothing half-written
