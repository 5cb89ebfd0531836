"""NIfTI (``.nii`` / ``.nii.gz``) volumes in and out through nibabel (``pip install nibabel``).

NIfTI places voxels in RAS mm (+x towards the patient's right, +y anterior, +z superior); `Volume` uses LPS m
(+x left, +y posterior, +z superior). The conversion flips the signs of the first two rows of the affine and
scales lengths: ``A_lps = diag(−1, −1, 1, 1) · A_ras`` with mm → m.

Reading uses the sform when its code is set (> 0), else the qform when its code is set, else nibabel's
fall-back (pixdim voxel sizes, image centred); spatial units from ``xyzt_units`` (mm when unknown).
Writing sets both sform and qform (code 1, scanner) and units mm. NIfTI-1 stores the affine in float32
(about 1e-7 relative, so ~1e-9 m at 10 cm); ``version=2`` writes NIfTI-2, whose affine is float64.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.io.volume import Volume, check_affine

_RAS_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # its own inverse
_UNIT_M = {"meter": 1.0, "mm": 1e-3, "micron": 1e-6, "unknown": 1e-3}


def _nibabel():
    try:
        import nibabel
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("NIfTI I/O needs nibabel: pip install nibabel (or pip install 'cardiojax[imaging]')"
                          ) from err
    return nibabel


def _best_affine(header) -> np.ndarray:
    sform, code = header.get_sform(coded=True)
    if code and code > 0:
        return np.asarray(sform, np.float64)
    qform, code = header.get_qform(coded=True)
    if code and code > 0:
        return np.asarray(qform, np.float64)
    return np.asarray(header.get_base_affine(), np.float64)


def read_nifti(path: str | os.PathLike) -> Volume:
    """Read a 3D NIfTI-1 or NIfTI-2 image as a `Volume` (LPS, m).

    Values are the stored values scaled by ``scl_slope``/``scl_inter`` when those are set (otherwise the
    stored dtype is kept). Trailing axes of length 1 are dropped; other 4D images, a sheared affine, or a
    file nibabel cannot read raise ValueError naming the file.
    """
    nib = _nibabel()
    path = Path(path)
    try:
        img = nib.load(path)
    except (nib.filebasedimages.ImageFileError, OSError, EOFError, ValueError, zlib.error) as err:
        raise ValueError(f"{path}: cannot read as NIfTI ({type(err).__name__}: {err})") from None
    header = img.header
    shape = tuple(int(n) for n in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise ValueError(f"{path}: dim = {list(img.shape)}; expected a 3D volume (nx, ny, nz)")
    unit = header.get_xyzt_units()[0]
    if unit not in _UNIT_M:
        raise ValueError(f"{path}: xyzt_units spatial unit {unit!r}; expected one of {sorted(_UNIT_M)}")
    affine = _RAS_LPS @ _best_affine(header)
    affine[:3, :] *= _UNIT_M[unit]
    affine = check_affine(affine, f"{path}: sform/qform")
    array = np.asanyarray(img.dataobj).reshape(shape)
    return Volume(np.asarray(array), affine)


def write_nifti(volume: Volume, path: str | os.PathLike, version: int = 1) -> Path:
    """Write ``volume`` as NIfTI (``.nii``, or gzip-compressed ``.nii.gz``), atomically.

    The affine is written in RAS mm as both sform and qform (code 1); ``version`` 1 (NIfTI-1, float32 affine)
    or 2 (NIfTI-2, float64 affine). Bool arrays are written as uint8.
    """
    nib = _nibabel()
    path = Path(path)
    name = path.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        raise ValueError(f"{path}: suffix {path.suffix!r}; expected .nii or .nii.gz")
    if version not in (1, 2):
        raise ValueError(f"version = {version!r}; expected 1 (NIfTI-1) or 2 (NIfTI-2)")
    array = np.asarray(volume.array)
    if array.ndim != 3:
        raise ValueError(f"volume.array: shape {array.shape}; expected a 3D volume (nx, ny, nz)")
    if array.dtype == bool:
        array = array.astype(np.uint8)
    affine = check_affine(volume.affine, "volume.affine").copy()
    affine[:3, :] *= 1e3  # m → mm
    affine = _RAS_LPS @ affine
    cls = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    img = cls(array, affine)
    img.header.set_sform(affine, code=1)
    img.header.set_qform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    data = img.to_bytes()
    if name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
