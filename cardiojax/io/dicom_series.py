"""A DICOM series (a folder of single-slice files) in and out as a `Volume` (needs pydicom).

Geometry (DICOM's patient frame is LPS, mm): ``ImageOrientationPatient`` gives the direction of increasing
column index (along a row) and of increasing row index; ``PixelSpacing`` is (row spacing, column spacing);
``ImagePositionPatient`` is the centre of the first pixel of each slice. The volume is indexed ``[i, j, k]`` =
``[column, row, slice]`` (as ITK does), slices sorted by their position along the slice normal
``row_dir × col_dir``; the slice step is the mean difference of consecutive positions and must be uniform
(to 1 %). Values are ``stored × RescaleSlope + RescaleIntercept`` (HU for CT), float32.
"""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import numpy as np

from cardiojax.io.volume import Volume, check_affine, check_direction

MM = 1e-3  # m per mm
_UNIFORM_TOL = 0.01  # relative spread allowed in the slice step
_ORIENTATION_TOL = 1e-4
_SOP_CLASSES = {"CT": "CTImageStorage", "MR": "MRImageStorage", "OT": "SecondaryCaptureImageStorage"}


def _pydicom():
    try:
        import pydicom
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("DICOM I/O needs pydicom: pip install pydicom (or pip install 'cardiojax[imaging]')"
                          ) from err
    return pydicom


def _read_slices(pydicom, folder: Path) -> list:
    slices = []
    for file in sorted(folder.iterdir()):
        if not file.is_file() or file.name.startswith(".") or file.name.upper() == "DICOMDIR":
            continue
        try:
            slices.append((file, pydicom.dcmread(file)))
        except pydicom.errors.InvalidDicomError:
            continue  # not DICOM (a README, a thumbnail): not part of the series
    if not slices:
        raise ValueError(f"{folder}: no DICOM files; expected a folder of single-slice DICOM files")
    return slices


def _vector(file: Path, ds, keyword: str, count: int) -> np.ndarray:
    value = ds.get(keyword)
    if value is None:
        raise ValueError(f"{file}: no {keyword}; expected {count} numbers (mm) to place the slice")
    try:
        out = np.array([float(v) for v in value], np.float64)
    except (TypeError, ValueError):
        out = np.array([])
    if out.shape != (count,) or not np.all(np.isfinite(out)):
        raise ValueError(f"{file}: {keyword} = {value!r}; expected {count} numbers")
    return out


def _check_same(slices, keyword: str) -> None:
    first_file, first = slices[0]
    expected = first.get(keyword)
    for file, ds in slices[1:]:
        if ds.get(keyword) != expected:
            raise ValueError(f"{file.parent}: {keyword} {expected!r} in {first_file.name} but "
                             f"{ds.get(keyword)!r} in {file.name}; expected one value across the series")


def read_dicom_series(folder: str | os.PathLike) -> Volume:
    """Read a folder of single-slice DICOM files (one series) as a `Volume` (LPS, m; float32 values).

    Raises ValueError naming the folder/file, field and value for: no DICOM files, several SeriesInstanceUIDs
    (both named), differing ImageOrientationPatient, Rows/Columns or PixelSpacing, a missing
    ImagePositionPatient, duplicate or non-uniform slice positions (> 1 % spread), multi-frame or colour
    slices, or a gantry tilt (slice step not orthogonal to the slice plane).
    """
    pydicom = _pydicom()
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder; expected a folder of single-slice DICOM files")
    slices = _read_slices(pydicom, folder)
    uids = sorted({str(ds.get("SeriesInstanceUID", "")) for _, ds in slices})
    if len(uids) > 1:
        raise ValueError(f"{folder}: mixed series, SeriesInstanceUID {uids[0]} and {uids[1]}"
                         + (f" (and {len(uids) - 2} more)" if len(uids) > 2 else "")
                         + "; expected the files of one series")
    for keyword in ("Rows", "Columns"):
        _check_same(slices, keyword)
    orientation = [_vector(f, ds, "ImageOrientationPatient", 6) for f, ds in slices]
    for (file, _), o in zip(slices, orientation):
        if np.max(np.abs(o - orientation[0])) > _ORIENTATION_TOL:
            raise ValueError(f"{folder}: ImageOrientationPatient {orientation[0].tolist()} in {slices[0][0].name} "
                             f"but {o.tolist()} in {file.name}; expected one orientation across the series")
    spacing = [_vector(f, ds, "PixelSpacing", 2) for f, ds in slices]
    for (file, _), s in zip(slices, spacing):
        if np.any(s <= 0) or np.max(np.abs(s - spacing[0])) > _UNIFORM_TOL * spacing[0].min():
            raise ValueError(f"{folder}: PixelSpacing {s.tolist()} in {file.name}; expected the same spacing "
                             f"> 0 in every slice ({spacing[0].tolist()} in {slices[0][0].name})")
    row_dir, col_dir = (v / np.linalg.norm(v) for v in (orientation[0][:3], orientation[0][3:]))
    normal = np.cross(row_dir, col_dir)
    positions = np.array([_vector(f, ds, "ImagePositionPatient", 3) for f, ds in slices])
    order = np.argsort(positions @ normal, kind="stable")
    slices, positions = [slices[i] for i in order], positions[order]
    step = _slice_step(folder, slices, positions, normal, spacing[0])
    direction = np.stack([row_dir, col_dir, step / np.linalg.norm(step)], axis=1)
    try:
        check_direction(direction)
    except ValueError as err:
        raise ValueError(f"{folder}: slice step {step.tolist()} mm with ImageOrientationPatient "
                         f"{orientation[0].tolist()}: {err} (gantry tilt?)") from None
    affine = np.eye(4)
    affine[:3, 0] = row_dir * spacing[0][1]
    affine[:3, 1] = col_dir * spacing[0][0]
    affine[:3, 2] = step
    affine[:3, 3] = positions[0]
    affine[:3, :] *= MM
    array = np.stack([_values(file, ds) for file, ds in slices], axis=-1)  # (columns, rows, slices)
    return Volume(array, check_affine(affine, str(folder)))


def _slice_step(folder, slices, positions, normal, pixel_spacing) -> np.ndarray:
    """The mean step (mm) between consecutive slice positions, checked for uniformity."""
    if len(slices) == 1:
        thickness = float(slices[0][1].get("SpacingBetweenSlices") or slices[0][1].get("SliceThickness") or 0)
        if thickness <= 0:
            raise ValueError(f"{slices[0][0]}: a single slice with no SliceThickness; expected a slice thickness "
                             "(mm) > 0 or several slices")
        return normal * thickness
    distances = np.diff(positions @ normal)
    for (file, _), d in zip(slices[1:], distances):
        if d <= 1e-6 * pixel_spacing.min():
            raise ValueError(f"{folder}: ImagePositionPatient {positions[0].tolist()} repeated in {file.name}; "
                             "expected one slice per position")
    mean = float(np.mean(distances))
    worst = int(np.argmax(np.abs(distances - mean)))
    if abs(distances[worst] - mean) > _UNIFORM_TOL * mean:
        raise ValueError(f"{folder}: slice spacing {distances[worst]:.6g} mm before {slices[worst + 1][0].name} "
                         f"but {mean:.6g} mm on average; expected uniform spacing (to 1 %; missing slice?)")
    return (positions[-1] - positions[0]) / (len(slices) - 1)


def _values(file: Path, ds) -> np.ndarray:
    """One slice as float32 ``(columns, rows)``: stored × RescaleSlope + RescaleIntercept."""
    if int(ds.get("SamplesPerPixel", 1)) != 1 or int(ds.get("NumberOfFrames", 1) or 1) != 1:
        raise ValueError(f"{file}: SamplesPerPixel {ds.get('SamplesPerPixel')}, NumberOfFrames "
                         f"{ds.get('NumberOfFrames')}; expected single-frame grayscale slices")
    if "PixelData" not in ds:
        raise ValueError(f"{file}: no PixelData; expected an image slice")
    stored = ds.pixel_array
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    return (stored.astype(np.float64) * slope + intercept).astype(np.float32).T


def _storage(array: np.ndarray, ds_number) -> tuple[np.ndarray, str, str, int]:
    """Stored values, RescaleSlope and RescaleIntercept text, PixelRepresentation (0 uint16, 1 int16)."""
    values = np.asarray(array, np.float64)
    low, high = float(values.min()), float(values.max())
    if np.all(values == np.rint(values)) and low >= -32768 and high <= 32767:
        return values.astype(np.int16), "1", "0", 1
    if np.all(values == np.rint(values)) and high - low <= 65535:
        intercept = ds_number(low)
        return (values - float(intercept)).astype(np.uint16), "1", intercept, 0
    slope = ds_number((high - low) / 65535.0 if high > low else 1.0)
    intercept = ds_number(low)
    stored = np.clip(np.rint((values - float(intercept)) / float(slope)), 0, 65535)
    return stored.astype(np.uint16), slope, intercept, 0


def write_dicom_series(volume: Volume, folder: str | os.PathLike, *, modality: str = "CT",
                       series_description: str = "cardiojax", overwrite: bool = False) -> Path:
    """Write ``volume`` as a DICOM series, one file per k-slice (``0001.dcm`` …), atomically.

    Slices are written as ``[j, i]`` pixel arrays (Rows = ny, Columns = nx) with ImageOrientationPatient from
    the i and j directions, ImagePositionPatient of each slice, PixelSpacing, SliceThickness and
    SpacingBetweenSlices (mm), new Study/Series/FrameOfReference/SOP instance UIDs. Stored values: int16 with
    slope 1 when the values are integers in range, else uint16 with RescaleSlope/RescaleIntercept (error
    ≤ slope / 2). The k axis must point along ``i × j`` (a right-handed grid) for a reader to restore the
    same index order; a left-handed grid reads back with k reversed (the same world image).

    Args:
      volume: the image (HU for CT), affine in m.
      folder: output folder (created; written to a temporary folder and renamed).
      modality: "CT", "MR" or "OT" (secondary capture).
      series_description: SeriesDescription text.
      overwrite: replace an existing folder (otherwise a FileExistsError).
    """
    pydicom = _pydicom()
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid
    from pydicom.valuerep import format_number_as_ds

    if modality not in _SOP_CLASSES:
        raise ValueError(f"modality = {modality!r}; expected one of {sorted(_SOP_CLASSES)}")
    sop_class = getattr(pydicom.uid, _SOP_CLASSES[modality])
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder}: exists; pass overwrite=True to replace it")
    array = np.asarray(volume.array)
    if array.ndim != 3 or not np.all(np.isfinite(array)):
        raise ValueError(f"volume.array: shape {array.shape}; expected a finite 3D volume (nx, ny, nz)")
    affine = check_affine(volume.affine, "volume.affine") / np.array([MM, MM, MM, 1.0])[:, None]  # mm
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    direction = affine[:3, :3] / spacing

    def ds_text(value) -> str:
        return format_number_as_ds(float(value))

    stored, slope, intercept, signed = _storage(array, ds_text)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    now = datetime.datetime.now()
    normal = np.cross(direction[:, 0], direction[:, 1])
    width = max(4, len(str(array.shape[2])))
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for k in range(array.shape[2]):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = sop_class
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
            ds = FileDataset(f"{k + 1:0{width}d}.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
            ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
            ds.Modality, ds.ImageType = modality, ["DERIVED", "SECONDARY", "AXIAL"]
            ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Anonymous", "cardiojax", "", ""
            ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
            ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
            ds.StudyID = ds.AccessionNumber = ds.ReferringPhysicianName = ds.PositionReferenceIndicator = ""
            ds.Manufacturer, ds.SeriesDescription, ds.SeriesNumber = "cardiojax", series_description, 1
            ds.InstanceNumber = k + 1
            position = affine[:3, 3] + k * affine[:3, 2]
            ds.ImagePositionPatient = [ds_text(v) for v in position]
            ds.ImageOrientationPatient = [ds_text(v) for v in direction[:, :2].T.ravel()]
            ds.SliceLocation = ds_text(position @ normal)
            ds.PixelSpacing = [ds_text(spacing[1]), ds_text(spacing[0])]
            ds.SliceThickness = ds.SpacingBetweenSlices = ds_text(spacing[2])
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.Rows, ds.Columns = array.shape[1], array.shape[0]
            ds.BitsAllocated = ds.BitsStored = 16
            ds.HighBit, ds.PixelRepresentation = 15, signed
            ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
            if modality == "CT":
                ds.RescaleType = "HU"
            ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).astype(stored.dtype.newbyteorder("<")).tobytes()
            ds.save_as(tmp / ds.filename, enforce_file_format=True)
        old = folder.with_name(f".{folder.name}.old{os.getpid()}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
