"""A `VesselTree` as a VTK XML PolyData centreline (``.vtp``), for ParaView and for VMTK's centrelines.

`save_tree_vtp` writes what `save_tree_vtu` writes (see `cardiojax.io.vtk`: point data ``radius``,
``reference_radius``, ``segment_id``; every tree field as cell data, SI units) with one polyline per segment
instead of one line cell per sample step. `load_tree_vtp` splits the polylines into line cells and builds the
tree exactly as `load_tree_vtu` does: exactly for our own files, and for a foreign centreline (e.g. VMTK's,
radius in ``MaximumInscribedSphereRadius``) by splitting it at branch points.
"""

from __future__ import annotations

import os
from pathlib import Path

import meshio
import numpy as np

from cardiojax.io.vtk import tree_from_mesh, tree_to_mesh
from cardiojax.io.vtp import CellArray, PolyData, read_vtp, write_vtp
from cardiojax.tree.vessel_tree import VesselTree

#: Point data scaled with the points by ``load_tree_vtp(..., scale=)`` (lengths of a foreign centreline).
LENGTH_POINT_DATA = ("radius", "Radius", "MaximumInscribedSphereRadius", "reference_radius")


def tree_to_polydata(tree: VesselTree, **kwargs) -> PolyData:
    """The centreline of a single tree as `PolyData` (m): one polyline per valid segment.

    Keyword arguments go to `tree_to_mesh` (extra point/cell data, samples); cell data holds each
    segment's fields once.
    """
    mesh = tree_to_mesh(tree, **kwargs)
    point_seg = np.asarray(mesh.point_data["segment_id"])
    cell_seg = np.asarray(mesh.cell_data["segment_id"][0])
    segments = np.arange(int(point_seg.max()) + 1 if len(point_seg) else 0)
    starts = np.searchsorted(point_seg, segments)  # a segment's points are consecutive
    first_cell = np.searchsorted(cell_seg, segments)
    lines = CellArray(np.arange(len(point_seg), dtype=np.int64),
                      np.concatenate([starts, [len(point_seg)]]).astype(np.int64))
    cell_data = {k: np.asarray(v[0])[first_cell] for k, v in mesh.cell_data.items()}
    return PolyData(mesh.points, lines=lines, point_data=dict(mesh.point_data), cell_data=cell_data)


def save_tree_vtp(tree: VesselTree, path: str | os.PathLike, format: str = "binary", **kwargs) -> Path:
    """Write a single tree as a ``.vtp`` centreline (m), atomically; ``format`` "binary" (zlib) or "ascii".

    Keyword arguments go to `tree_to_mesh` (extra point/cell data, samples).
    """
    return write_vtp(path, tree_to_polydata(tree, **kwargs), format=format)


def polylines_to_mesh(polydata: PolyData) -> meshio.Mesh:
    """A meshio mesh of two-point line cells from the polylines of ``polydata`` (other cells dropped); each
    polyline's cell data is repeated on its line cells."""
    lines = polydata.lines
    conn = lines.connectivity
    starts_ok = np.ones(len(conn), bool)
    starts_ok[lines.offsets[1:] - 1] = False  # a polyline's last point starts no line cell
    starts = np.flatnonzero(starts_ok)
    pairs = np.stack([conn[starts], conn[starts + 1]], axis=1) if len(starts) else np.zeros((0, 2), np.int64)
    of_polyline = np.repeat(np.arange(len(lines)), np.maximum(lines.sizes - 1, 0))
    first = len(polydata.verts)  # cell ids: verts, then lines
    cell_data = {k: [np.asarray(v)[first:first + len(lines)][of_polyline]] for k, v in polydata.cell_data.items()}
    return meshio.Mesh(polydata.points, [("line", pairs)], point_data=dict(polydata.point_data),
                       cell_data=cell_data)


def load_tree_vtp(path: str | os.PathLike, capacity: int | None = None, min_severity: float = 0.2,
                  scale: float = 1.0) -> VesselTree:
    """Read a tree from a ``.vtp`` centreline (polylines; exact for files from `save_tree_vtp`).

    Args:
      path: the file.
      capacity: segment capacity of the tree (default: just enough).
      min_severity: smallest diameter narrowing read as a lesion in a foreign centreline.
      scale: multiplies the points and the radius point data (`LENGTH_POINT_DATA`) of a foreign centreline,
        e.g. 1e-3 for VMTK's mm → m; files from `save_tree_vtp` are in m and need 1.
    """
    polydata = read_vtp(path, scale)
    own = "segment_id" in polydata.cell_data
    if scale != 1.0 and own:
        raise ValueError(f"{path}: scale = {scale!r} but this is a cardiojax tree file (cell data segment_id), "
                         "already in metres; expected scale = 1")
    point_data = {k: np.asarray(v) * scale if k in LENGTH_POINT_DATA and scale != 1.0 else v
                  for k, v in polydata.point_data.items()}
    polydata = PolyData(polydata.points, polydata.verts, polydata.lines, polydata.polys, polydata.strips,
                        point_data, polydata.cell_data)
    return tree_from_mesh(polylines_to_mesh(polydata), capacity, min_severity, source=path)
