"""Readers and writers: tree JSON, VTK/VTU centrelines, svZeroDSolver JSON, openBF YAML, svOneDSolver decks."""

from cardiojax.io.openbf import read_openbf
from cardiojax.io.svonedsolver import read_svonedsolver
from cardiojax.io.svzerod import SvZeroDModel, read_svzerod, tree_to_svzerod
from cardiojax.io.svzerod_results import read_results_csv, results_table, write_results_csv
from cardiojax.io.svzerod_tree import svzerod_to_tree
from cardiojax.io.tree_json import load_tree_json, save_tree_json, tree_from_dict, tree_to_dict
from cardiojax.io.vtk import load_tree_vtu, save_tree_vtu, tree_to_mesh


def load_tree(path, capacity=None):
    """Read a tree from ``.json``, ``.vtu`` or ``.vtk`` (by suffix); validated."""
    suffix = str(path).lower().rsplit(".", 1)[-1]
    if suffix == "json":
        return load_tree_json(path, capacity)
    if suffix in ("vtu", "vtk"):
        return load_tree_vtu(path, capacity)
    raise ValueError(f"{path}: unknown tree file type '.{suffix}'; expected .json, .vtu or .vtk")


__all__ = [
    "read_openbf",
    "read_svonedsolver",
    "load_tree",
    "load_tree_json",
    "save_tree_json",
    "tree_to_dict",
    "tree_from_dict",
    "load_tree_vtu",
    "save_tree_vtu",
    "tree_to_mesh",
    "read_svzerod",
    "tree_to_svzerod",
    "SvZeroDModel",
    "svzerod_to_tree",
    "results_table",
    "write_results_csv",
    "read_results_csv",
]
