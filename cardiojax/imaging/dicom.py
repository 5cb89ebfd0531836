"""DICOM in and out for single CT slices (needs pydicom: ``pip install 'cardiojax[imaging]'``).

`read_dicom` returns the image in HU (stored value × RescaleSlope + RescaleIntercept) as float32 with the pixel
spacing in m and a few useful header fields; `write_dicom` writes a valid CT Image Storage file (uint16 stored
values, RescaleSlope 1, an integer RescaleIntercept chosen so the HU range fits, PixelSpacing in mm, new
series and SOP instance UIDs), atomically.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np

from cardiojax.imaging._checks import check_image
from cardiojax.io.files import atomic_path

_GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")
# Patient / study / frame-of-reference attributes copied from a template (the new image joins its study).
_TEMPLATE_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName",
    "StudyDescription", "FrameOfReferenceUID", "PositionReferenceIndicator", "ImagePositionPatient",
    "ImageOrientationPatient", "SliceLocation", "SliceThickness", "KVP", "Manufacturer", "PatientPosition",
    "ContrastBolusAgent", "BodyPartExamined",
)  # fmt: skip


def _pydicom():
    try:
        import pydicom
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("DICOM I/O needs pydicom: pip install 'cardiojax[imaging]'") from err
    return pydicom


def _mm_to_m(value) -> float | None:
    try:
        return float(value) * 1e-3
    except (TypeError, ValueError):
        return None


def read_dicom(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """Read a single-frame grayscale DICOM slice (CT-like) in HU.

    Args:
        path: the ``.dcm`` file.

    Returns:
        ``(hu, meta)``: ``hu`` is a float32 ``(rows, cols)`` array, stored values × RescaleSlope +
        RescaleIntercept (HU for CT; slope 1 and intercept 0 when absent). ``meta`` holds ``modality``,
        ``pixel_spacing`` (row, column) in m, ``pixel_size`` (m; the row spacing), ``slice_thickness`` (m or
        None), ``contrast_agent`` (ContrastBolusAgent or None), ``kvp`` (kV or None), ``rescale_slope``,
        ``rescale_intercept``, ``units`` (RescaleType, "HU" for CT when absent), ``rows``, ``cols``,
        ``image_position`` (m, or None) and the ``study_uid`` / ``series_uid`` / ``sop_uid``.

    Raises:
        ValueError: the file has no pixel data, is multi-frame, or is not grayscale (e.g. an RGB echo cine);
            the message names the file and what was found.
    """
    pydicom = _pydicom()
    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError as err:
        raise ValueError(f"{path}: not a DICOM file ({err})") from None
    if "PixelData" not in ds:
        raise ValueError(f"{path}: no pixel data (Modality {ds.get('Modality', '?')}); expected a CT image slice")
    samples = int(ds.get("SamplesPerPixel", 1))
    photometric = str(ds.get("PhotometricInterpretation", ""))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if samples != 1 or photometric not in _GRAYSCALE:
        raise ValueError(
            f"{path}: {samples} sample(s) per pixel, PhotometricInterpretation {photometric!r} (Modality "
            f"{ds.get('Modality', '?')}); expected a single-channel grayscale (MONOCHROME1/2) CT-like image"
        )
    if frames != 1:
        raise ValueError(f"{path}: {frames} frames; expected a single-frame slice")
    stored = ds.pixel_array
    if stored.ndim != 2:
        raise ValueError(f"{path}: pixel array of shape {stored.shape}; expected (rows, cols)")
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    hu = (stored.astype(np.float64) * slope + intercept).astype(np.float32)
    modality = str(ds.get("Modality", ""))
    spacing = ds.get("PixelSpacing")
    pixel_spacing = tuple(float(v) * 1e-3 for v in spacing) if spacing is not None and len(spacing) == 2 else None
    position = ds.get("ImagePositionPatient")
    meta = {
        "modality": modality,
        "pixel_spacing": pixel_spacing,
        "pixel_size": pixel_spacing[0] if pixel_spacing else None,
        "slice_thickness": _mm_to_m(ds.get("SliceThickness")),
        "contrast_agent": str(ds.ContrastBolusAgent) if ds.get("ContrastBolusAgent") else None,
        "kvp": float(ds.KVP) if ds.get("KVP") not in (None, "") else None,
        "rescale_slope": slope,
        "rescale_intercept": intercept,
        "units": str(ds.get("RescaleType") or ("HU" if modality == "CT" else "")) or None,
        "rows": int(hu.shape[0]),
        "cols": int(hu.shape[1]),
        "image_position": tuple(float(v) * 1e-3 for v in position) if position is not None else None,
        "study_uid": str(ds.get("StudyInstanceUID", "")) or None,
        "series_uid": str(ds.get("SeriesInstanceUID", "")) or None,
        "sop_uid": str(ds.get("SOPInstanceUID", "")) or None,
    }
    return hu, meta


def _pixel_spacing_mm(pixel_size) -> tuple[float, float]:
    try:
        values = np.atleast_1d(np.asarray(pixel_size, dtype=float)) if np.ndim(pixel_size) <= 1 else None
    except (TypeError, ValueError):
        values = None
    if values is None or values.size not in (1, 2) or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"pixel_size = {pixel_size!r}; expected a positive length in m (or a (row, col) pair)")
    if np.any(values > 0.05):
        raise ValueError(f"pixel_size = {pixel_size!r}; expected metres (a pixel over 5 cm is not plausible)")
    row, col = (values[0], values[0]) if values.size == 1 else (values[0], values[1])
    return float(row) * 1e3, float(col) * 1e3


def write_dicom(
    path: str | os.PathLike,
    hu,
    pixel_size,
    template=None,
    *,
    slice_thickness: float | None = None,
    series_description: str = "cardiojax",
    series_number: int = 999,
) -> Path:
    """Write an HU image as a CT Image Storage DICOM file (atomically).

    Args:
        path: output ``.dcm`` path (parent folders are created).
        hu: ``(rows, cols)`` floating image, HU; rounded to the nearest integer HU.
        pixel_size: m, a scalar or a (row, col) pair; written as PixelSpacing in mm.
        template: optional pydicom ``Dataset`` or path of a DICOM file whose patient, study, frame-of-reference
            and position attributes are copied (the new series joins that study). New series and SOP
            instance UIDs are always generated.
        slice_thickness: m (overrides the template's); written in mm.
        series_description: SeriesDescription text.
        series_number: SeriesNumber.

    Returns:
        The written path. Stored values are uint16 with RescaleSlope 1 and RescaleIntercept −1024, or lower
        (the rounded minimum) if the image goes below −1024 HU.

    Raises:
        ValueError: bad ``hu`` (non-floating, NaN, not 2-D), bad ``pixel_size``, or an HU range wider than 65535.
    """
    pydicom = _pydicom()
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

    image = np.asarray(check_image("hu", hu, square=False), dtype=np.float64)
    row_mm, col_mm = _pixel_spacing_mm(pixel_size)
    rounded = np.rint(image)
    intercept = min(-1024.0, float(rounded.min()))
    stored = rounded - intercept
    if stored.max() > np.iinfo(np.uint16).max:
        raise ValueError(
            f"hu: range [{image.min():.1f}, {image.max():.1f}] HU is wider than 65535 HU; expected a CT image"
        )
    if template is not None and not isinstance(template, pydicom.Dataset):
        template = pydicom.dcmread(template, stop_before_pixels=True)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)

    now = datetime.datetime.now()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "CT"
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.PatientName = "Anonymous"
    ds.PatientID = "cardiojax"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "cardiojax"
    ds.PositionReferenceIndicator = ""
    ds.ImagePositionPatient = [0.0, 0.0, 0.0]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.KVP = ""
    ds.AcquisitionNumber = 1
    if template is not None:
        for keyword in _TEMPLATE_KEYWORDS:
            if keyword in template:
                setattr(ds, keyword, template.data_element(keyword).value)
    ds.SeriesDescription = series_description
    ds.SeriesNumber = int(series_number)
    ds.InstanceNumber = 1
    if slice_thickness is not None:
        thickness = float(slice_thickness)
        if not (np.isfinite(thickness) and 0 < thickness <= 1.0):
            raise ValueError(f"slice_thickness = {slice_thickness!r}; expected a positive length in m")
        ds.SliceThickness = f"{thickness * 1e3:.6g}"

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = image.shape
    ds.PixelSpacing = [f"{row_mm:.6g}", f"{col_mm:.6g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleSlope = 1
    ds.RescaleIntercept = f"{intercept:.0f}"
    ds.RescaleType = "HU"
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.PixelData = stored.astype("<u2").tobytes()

    path = Path(path)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path
