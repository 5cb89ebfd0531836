"""`Volume`: a 3D image and the affine that places its voxels in the world, in metres.

Every image reader in `cardiojax.io` returns a `Volume` and every writer takes one; the imaging pipeline
(rendering, segmentation, centrelines) reads only this record. World coordinates are **LPS metres** (the
patient frame of DICOM, ITK and MetaImage: x towards the patient's left, y posterior, z superior); NIfTI's
RAS frame is converted at its reader and writer.

``affine`` maps a voxel index ``(i, j, k)`` (the centre of voxel ``array[i, j, k]``) to the world point
``affine[:3, :3] @ (i, j, k) + affine[:3, 3]``: its columns are the axis directions scaled by the spacing,
so ``spacing = |columns|``, ``direction = columns / spacing`` (orthonormal) and ``origin = affine[:3, 3]``
(the centre of the first voxel).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import jax
import numpy as np

from cardiojax.io.files import atomic_path

#: Tolerance on the orthonormality of a direction matrix (|DᵀD − I|, max).
ORTHOGONAL_TOL = 1e-4


def affine_from(spacing, origin=(0.0, 0.0, 0.0), direction=None) -> np.ndarray:
    """The ``(4, 4)`` affine of a grid: ``spacing`` (3,) m > 0, ``origin`` (3,) m, ``direction`` (3, 3)
    orthonormal with the axis directions as columns (identity by default)."""
    spacing = np.asarray(spacing, np.float64).reshape(-1)
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ValueError(f"spacing: got {spacing.tolist()}; expected three finite voxel sizes > 0 (m)")
    origin = np.asarray(origin, np.float64).reshape(-1)
    if origin.shape != (3,) or not np.all(np.isfinite(origin)):
        raise ValueError(f"origin: got {origin.tolist()}; expected three finite coordinates (m)")
    direction = np.eye(3) if direction is None else np.asarray(direction, np.float64)
    check_direction(direction)
    out = np.eye(4)
    out[:3, :3] = direction * spacing[None, :]
    out[:3, 3] = origin
    return out


def check_direction(direction) -> np.ndarray:
    """``direction`` as a ``(3, 3)`` array, or a ValueError if it is not orthonormal."""
    d = np.asarray(direction, np.float64)
    if d.shape != (3, 3) or not np.all(np.isfinite(d)):
        raise ValueError(f"direction: shape {d.shape}; expected a finite 3 × 3 matrix")
    err = float(np.max(np.abs(d.T @ d - np.eye(3))))
    if err > ORTHOGONAL_TOL:
        raise ValueError(f"direction: columns not orthonormal (|DᵀD − I| = {err:.2g}); expected an orthonormal "
                         f"matrix (to {ORTHOGONAL_TOL:g}); sheared or skewed grids are not supported")
    return d


def check_affine(affine, source: str = "affine") -> np.ndarray:
    """``affine`` as a ``(4, 4)`` float64 array, or a ValueError naming ``source``.

    Checks: finite, last row ``(0, 0, 0, 1)``, voxel sizes (column norms) > 0 m and an orthonormal direction.
    """
    a = np.asarray(affine, np.float64)
    if a.shape != (4, 4) or not np.all(np.isfinite(a)):
        raise ValueError(f"{source}: affine of shape {a.shape}; expected a finite 4 × 4 matrix")
    if not np.allclose(a[3], (0.0, 0.0, 0.0, 1.0)):
        raise ValueError(f"{source}: affine last row {a[3].tolist()}; expected [0, 0, 0, 1]")
    spacing = np.linalg.norm(a[:3, :3], axis=0)
    if np.any(spacing <= 0):
        raise ValueError(f"{source}: voxel sizes {spacing.tolist()} m; expected three sizes > 0")
    try:
        check_direction(a[:3, :3] / spacing[None, :])
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class Volume:
    """A 3D image on a grid placed in the world (a pytree: ``array`` and ``affine`` are leaves).

    Attributes:
      array: ``(nx, ny, nz)`` voxel values (HU for CT; numpy or JAX array; indexed ``[i, j, k]``).
      affine: ``(4, 4)`` float64, voxel index → LPS world point in m (see the module docstring).
    """

    array: np.ndarray
    affine: np.ndarray

    @staticmethod
    def from_grid(array, spacing, origin=(0.0, 0.0, 0.0), direction=None) -> Volume:
        """A volume from its spacing (m), origin (m, centre of voxel 0) and direction (columns)."""
        if np.ndim(array) != 3:
            raise ValueError(f"array: shape {np.shape(array)}; expected a 3D volume (nx, ny, nz)")
        return Volume(array, affine_from(spacing, origin, direction))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)

    @property
    def spacing(self) -> np.ndarray:
        """``(3,)`` m, voxel size along i, j, k."""
        return np.linalg.norm(np.asarray(self.affine)[:3, :3], axis=0)

    @property
    def origin(self) -> np.ndarray:
        """``(3,)`` m, world position of the centre of voxel (0, 0, 0)."""
        return np.asarray(self.affine)[:3, 3].copy()

    @property
    def direction(self) -> np.ndarray:
        """``(3, 3)`` orthonormal; column a is the world direction of index axis a."""
        return np.asarray(self.affine)[:3, :3] / self.spacing[None, :]

    def index_to_world(self, ijk) -> np.ndarray:
        """World points (m) ``(..., 3)`` of (fractional) voxel indices ``(..., 3)``."""
        a = np.asarray(self.affine)
        return np.asarray(ijk, np.float64) @ a[:3, :3].T + a[:3, 3]

    def world_to_index(self, xyz) -> np.ndarray:
        """Fractional voxel indices ``(..., 3)`` of world points (m) ``(..., 3)``."""
        a = np.asarray(self.affine)
        return (np.asarray(xyz, np.float64) - a[:3, 3]) @ np.linalg.inv(a[:3, :3]).T

    def crop(self, lo, hi) -> Volume:
        """The sub-volume of voxels ``lo ≤ (i, j, k) < hi`` (indices), placed where it was in the world."""
        lo = np.asarray(lo, int).reshape(-1)
        hi = np.asarray(hi, int).reshape(-1)
        shape = np.asarray(self.shape)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo < 0) or np.any(hi > shape) or np.any(hi <= lo):
            raise ValueError(f"crop: lo = {lo.tolist()}, hi = {hi.tolist()}; expected 0 ≤ lo < hi ≤ {shape.tolist()}")
        a = np.array(self.affine, np.float64)
        a[:3, 3] = self.index_to_world(lo)
        return Volume(self.array[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]], a)

    def replace(self, **changes) -> Volume:
        """A copy with ``array`` and/or ``affine`` replaced."""
        return dataclasses.replace(self, **changes)


jax.tree_util.register_dataclass(Volume, data_fields=["array", "affine"], meta_fields=[])


# ---------------------------------------------------------------------------------------------------------------
# files: NPZ here, and the dispatch by suffix to MetaImage, NIfTI and DICOM series

_SUFFIXES = ".mha, .mhd, .nii, .nii.gz, .npz, or a folder (DICOM series)"


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".mha", ".mhd")):
        return "metaimage"
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if name.endswith(".npz"):
        return "npz"
    return "dicom" if path.is_dir() or "." not in name else "unknown"


def read_npz(path: str | os.PathLike) -> Volume:
    """Read a volume from ``.npz`` with the keys ``array`` and ``affine`` (``(4, 4)``, voxel index → LPS m)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = {"array", "affine"} - set(f.files)
            if missing:
                raise ValueError(f"{path}: keys {sorted(f.files)}; expected 'array' and 'affine' (missing "
                                 f"{sorted(missing)})")
            array, affine = f["array"], f["affine"]
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: cannot read as .npz ({err})") from None
    if array.ndim != 3:
        raise ValueError(f"{path}: array of shape {array.shape}; expected a 3D volume (nx, ny, nz)")
    return Volume(array, check_affine(affine, f"{path}: affine"))


def write_npz(volume: Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` as ``.npz`` (keys ``array``, ``affine`` in m; uncompressed), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, array=np.asarray(volume.array), affine=np.asarray(volume.affine, np.float64))
    return path


def read_volume(path: str | os.PathLike) -> Volume:
    """Read a 3D image by suffix: ``.mha``/``.mhd`` (MetaImage), ``.nii``/``.nii.gz`` (NIfTI, needs nibabel),
    ``.npz``, or a folder of single-slice DICOM files (needs pydicom). World coordinates are LPS, in m."""
    path = Path(path)
    kind = _kind(path)
    if kind == "metaimage":
        from cardiojax.io.metaimage import read_metaimage
        return read_metaimage(path)
    if kind == "nifti":
        from cardiojax.io.nifti import read_nifti
        return read_nifti(path)
    if kind == "npz":
        return read_npz(path)
    if kind == "dicom":
        from cardiojax.io.dicom_series import read_dicom_series
        return read_dicom_series(path)
    raise ValueError(f"{path}: unknown volume file type '{path.suffix}'; expected {_SUFFIXES}")


def write_volume(volume: Volume, path: str | os.PathLike, **kwargs) -> Path:
    """Write a 3D image by suffix (see `read_volume`), atomically; a name without a suffix is a DICOM series
    folder. Keyword arguments go to the format's writer (`write_metaimage`, `write_nifti`,
    `write_dicom_series`)."""
    path = Path(path)
    kind = _kind(path)
    if kind == "metaimage":
        from cardiojax.io.metaimage import write_metaimage
        return write_metaimage(volume, path, **kwargs)
    if kind == "nifti":
        from cardiojax.io.nifti import write_nifti
        return write_nifti(volume, path, **kwargs)
    if kind == "npz":
        return write_npz(volume, path, **kwargs)
    if kind == "dicom":
        from cardiojax.io.dicom_series import write_dicom_series
        return write_dicom_series(volume, path, **kwargs)
    raise ValueError(f"{path}: unknown volume file type '{path.suffix}'; expected {_SUFFIXES}")
