"""Readers and writers: tree JSON, VTK/VTU/VTP centrelines, VTK XML PolyData, image volumes (MetaImage, NIfTI,
DICOM series, NPZ), svZeroDSolver JSON, openBF YAML, svOneDSolver decks."""

from cardiojax.io.dicom_series import read_dicom_series, write_dicom_series
from cardiojax.io.metaimage import read_metaimage, write_metaimage
from cardiojax.io.nifti import read_nifti, write_nifti
from cardiojax.io.openbf import read_openbf
from cardiojax.io.svonedsolver import read_svonedsolver
from cardiojax.io.svzerod import SvZeroDModel, read_svzerod, tree_to_svzerod
from cardiojax.io.svzerod_results import read_results_csv, results_table, write_results_csv
from cardiojax.io.svzerod_tree import svzerod_to_tree
from cardiojax.io.tree_json import load_tree_json, save_tree_json, tree_from_dict, tree_to_dict
from cardiojax.io.volume import (
    Volume,
    affine_from,
    check_affine,
    check_direction,
    read_npz,
    read_volume,
    write_npz,
    write_volume,
)
from cardiojax.io.vtk import load_tree_vtu, save_tree_vtu, tree_from_mesh, tree_to_mesh
from cardiojax.io.vtp import CellArray, PolyData, read_vtp, write_vtp
from cardiojax.io.vtp_tree import load_tree_vtp, save_tree_vtp, tree_to_polydata


def load_tree(path, capacity=None, scale=1.0):
    """Read a tree from ``.json``, ``.vtu``, ``.vtk`` or ``.vtp`` (by suffix); validated.

    ``scale`` multiplies the coordinates and radii of a foreign ``.vtp`` centreline (e.g. 1e-3 for VMTK's
    mm → m); the other formats are read in m and need ``scale = 1``.
    """
    suffix = str(path).lower().rsplit(".", 1)[-1]
    if suffix == "vtp":
        return load_tree_vtp(path, capacity, scale=scale)
    if scale != 1.0:
        raise ValueError(f"{path}: scale = {scale!r} applies to .vtp centrelines only; expected 1 for .{suffix}")
    if suffix == "json":
        return load_tree_json(path, capacity)
    if suffix in ("vtu", "vtk"):
        return load_tree_vtu(path, capacity)
    raise ValueError(f"{path}: unknown tree file type '.{suffix}'; expected .json, .vtu, .vtk or .vtp")


__all__ = [
    "CellArray",
    "PolyData",
    "SvZeroDModel",
    "Volume",
    "affine_from",
    "check_affine",
    "check_direction",
    "load_tree",
    "load_tree_json",
    "load_tree_vtp",
    "load_tree_vtu",
    "read_dicom_series",
    "read_metaimage",
    "read_nifti",
    "read_npz",
    "read_openbf",
    "read_results_csv",
    "read_svonedsolver",
    "read_svzerod",
    "read_volume",
    "read_vtp",
    "results_table",
    "save_tree_json",
    "save_tree_vtp",
    "save_tree_vtu",
    "svzerod_to_tree",
    "tree_from_dict",
    "tree_from_mesh",
    "tree_to_dict",
    "tree_to_mesh",
    "tree_to_polydata",
    "tree_to_svzerod",
    "write_dicom_series",
    "write_metaimage",
    "write_nifti",
    "write_npz",
    "write_results_csv",
    "write_volume",
    "write_vtp",
]
