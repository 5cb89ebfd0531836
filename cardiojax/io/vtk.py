"""A `VesselTree` as a VTK/VTU centreline (meshio line cells) for ParaView.

Written files hold, per valid segment, a polyline of straight line cells from
``start`` to ``end`` sampled densely enough to show the lesion profile, with

* point data ``radius`` (lumen radius with the lesion, m) and
  ``reference_radius`` (healthy radius, m) — in ParaView, *Tube* with
  "Vary Radius: By Absolute Scalar" on ``radius`` shows the lumen;
* cell data ``segment_id`` and every tree field of the segment (``parent``,
  ``length``, ``r_in``, … in SI units), so reading back is exact;
* optional extra point and cell data (pressure, FFR, …) for display.

Reading our own files restores the tree exactly. A foreign centreline (line
cells and a point radius named ``radius``, ``Radius`` or
``MaximumInscribedSphereRadius``, no ``segment_id``; coordinates and radii in
metres) is split into segments at branch points and end points; the root is
the end point with the largest radius; lengths are polyline lengths; the
reference radius tapers linearly between a segment's end radii, and the
deepest narrowing of the radius profile below it (at least
``min_severity``, default 20 % of the diameter) becomes the segment's lesion,
with the lesion length that a cosine profile of the same half-depth width
would have.
"""

from __future__ import annotations

import os
from collections import defaultdict

import meshio
import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.tree.geometry import lumen_radius, reference_radius
from cardiojax.tree.ops import make_tree, trim
from cardiojax.tree.profile import fit_lesion
from cardiojax.tree.vessel_tree import FIELD_UNITS, VesselTree

_RADIUS_NAMES = ("radius", "Radius", "MaximumInscribedSphereRadius")
_SEGMENT_FIELDS = [k for k in FIELD_UNITS if k != "valid"]


def sample_fractions(tree: VesselTree, samples: int = 16, lesion_samples: int = 12) -> list[np.ndarray]:
    """Sorted sample positions (fractions of length) per segment of a trimmed tree.

    A uniform grid plus a finer grid across each lesion, one array per segment.
    """
    out = []
    grid = np.linspace(0.0, 1.0, samples + 1)
    for i in range(tree.parent.shape[0]):  # per-segment sampling for file output
        pts = [grid]
        if tree.stenosis_severity[i] > 0:
            half = 0.5 * tree.stenosis_length[i] / tree.length[i]
            c = tree.stenosis_position[i]
            pts.append(np.clip(np.linspace(c - half, c + half, lesion_samples + 1), 0.0, 1.0))
        out.append(np.unique(np.concatenate(pts)))
    return out


def tree_to_mesh(
    tree: VesselTree,
    point_data: dict[str, np.ndarray] | None = None,
    cell_data: dict[str, np.ndarray] | None = None,
    samples: int = 16,
) -> meshio.Mesh:
    """The meshio line mesh of a single tree.

    Args:
      tree: single tree (padding dropped).
      point_data: extra fields given per segment end as ``(cap, 2)`` arrays
        (value at inlet, value at outlet), interpolated linearly along each
        segment, e.g. ``{"ffr": stack([ffr_in, ffr_out], -1)}``.
      cell_data: extra per-segment fields ``(cap,)``, repeated on the segment's cells.
      samples: uniform samples per segment (plus extra points across lesions).
    """
    valid = np.asarray(tree.valid)
    t = trim(tree)
    n = t.parent.shape[0]
    fractions = sample_fractions(t, samples)
    counts = np.array([len(f) for f in fractions])
    seg_of_point = np.repeat(np.arange(n), counts)
    frac = np.concatenate(fractions)
    start, end = t.start[seg_of_point], t.end[seg_of_point]
    points = start + frac[:, None] * (end - start)
    seg_of_cell = np.repeat(np.arange(n), counts - 1)
    first_point = np.arange(len(seg_of_cell)) + seg_of_cell  # cells of segment s start after s earlier ends
    lines = np.stack([first_point, first_point + 1], axis=1)

    per_point_tree = t.replace(**{k: getattr(t, k)[seg_of_point] for k in _SEGMENT_FIELDS + ["valid"]})
    pdata = {
        "radius": np.asarray(lumen_radius(per_point_tree, frac)),
        "reference_radius": np.asarray(reference_radius(per_point_tree, frac)),
        "segment_id": seg_of_point.astype(np.int32),
    }
    for name, ends in (point_data or {}).items():
        ends = np.asarray(ends)[valid]
        pdata[name] = ends[seg_of_point, 0] + frac * (ends[seg_of_point, 1] - ends[seg_of_point, 0])
    cdata = {"segment_id": [seg_of_cell.astype(np.int32)]}
    for k in _SEGMENT_FIELDS:
        cdata[k] = [np.asarray(getattr(t, k))[seg_of_cell]]
    for name, values in (cell_data or {}).items():
        cdata[name] = [np.asarray(values)[valid][seg_of_cell]]
    # VTU has no field data in meshio: whole-tree values ride along as constant cell data
    cdata["tree_capacity"] = [np.full(len(seg_of_cell), tree.capacity, np.int32)]
    cdata["tree_max_depth"] = [np.full(len(seg_of_cell), tree.max_depth, np.int32)]
    return meshio.Mesh(points, [("line", lines)], point_data=pdata, cell_data=cdata)


def save_tree_vtu(tree: VesselTree, path: str | os.PathLike, **kwargs) -> None:
    """Write a single tree as ``.vtu`` (or ``.vtk``) centreline, atomically.

    Keyword arguments go to `tree_to_mesh` (extra point/cell data, samples).
    """
    fmt = str(path).lower().rsplit(".", 1)[-1]
    if fmt not in ("vtu", "vtk"):
        raise ValueError(f"{path}: unknown centreline file type '.{fmt}'; expected .vtu or .vtk")
    mesh = tree_to_mesh(tree, **kwargs)
    with atomic_path(path) as tmp:
        meshio.write(tmp, mesh, file_format=fmt)


def _tree_scalar(mesh: meshio.Mesh, name: str, block: int, default):
    value = mesh.cell_data.get(name)
    return int(np.asarray(value[block]).ravel()[0]) if value is not None else default


def load_tree_vtu(path: str | os.PathLike, capacity: int | None = None,
                  min_severity: float = 0.2) -> VesselTree:
    """Read a tree from a VTK/VTU centreline (exact for files from `save_tree_vtu`).

    ``min_severity`` is the smallest diameter narrowing that a foreign
    centreline's radius profile must show to be read as a lesion.
    """
    try:
        mesh = meshio.read(path)
    except meshio.ReadError as err:
        raise ValueError(f"{path}: cannot read as a VTK/VTU mesh ({err})") from None
    return tree_from_mesh(mesh, capacity, min_severity, source=path)


def tree_from_mesh(mesh: meshio.Mesh, capacity: int | None = None, min_severity: float = 0.2,
                   source="mesh") -> VesselTree:
    """A tree from a meshio centreline of line cells, as `load_tree_vtu` reads it (``source`` names the
    mesh in error messages)."""
    path = source
    lines = [c.data for c in mesh.cells if c.type == "line"]
    if not lines:
        raise ValueError(f"{path}: no line cells; expected a centreline made of line cells")
    names = [c.type for c in mesh.cells]
    if "segment_id" in mesh.cell_data and all(k in mesh.cell_data for k in _SEGMENT_FIELDS):
        line_block = names.index("line")
        seg = np.asarray(mesh.cell_data["segment_id"][line_block])
        _, first = np.unique(seg, return_index=True)
        fields = {k: np.asarray(mesh.cell_data[k][line_block])[first] for k in _SEGMENT_FIELDS}
        cap = capacity or _tree_scalar(mesh, "tree_capacity", line_block, None)
        tree = make_tree(fields.pop("parent").astype(np.int32), fields.pop("length"),
                         fields.pop("r_in"), capacity=cap, **fields)
        depth = _tree_scalar(mesh, "tree_max_depth", line_block, tree.max_depth)
        return tree.replace(max_depth=max(depth, tree.max_depth))
    return _tree_from_centreline(mesh, np.concatenate(lines), path, capacity, min_severity)


def _tree_from_centreline(mesh, lines, path, capacity, min_severity) -> VesselTree:
    """Split a foreign line graph into segments between branch and end points."""
    radius = next((np.asarray(mesh.point_data[k]) for k in _RADIUS_NAMES if k in mesh.point_data), None)
    if radius is None:
        raise ValueError(f"{path}: no point data named one of {list(_RADIUS_NAMES)}; "
                         "expected the lumen radius (m) at each centreline point")
    radius = radius.reshape(len(mesh.points), -1)[:, 0]
    pts = np.asarray(mesh.points, np.float64)
    if radius.max() > 0.02 or np.ptp(pts, axis=0).max() > 2.0:
        raise ValueError(f"{path}: radius up to {radius.max():g} and extent {np.ptp(pts, axis=0).max():g}; "
                         "expected metres (radius < 2 cm, extent < 2 m) — a file in mm needs scaling by 1e-3")
    if pts.shape[1] == 2:
        pts = np.concatenate([pts, np.zeros((len(pts), 1))], axis=1)
    # merge coincident points (branches often repeat the branch point)
    scale = max(float(np.ptp(pts, axis=0).max()), 1e-12)
    _, first, merged = np.unique(np.round(pts / (scale * 1e-9)), axis=0, return_index=True,
                                 return_inverse=True)
    merged = merged.ravel()
    pts, radius = pts[first], radius[first]
    lines = merged[lines]
    lines = lines[lines[:, 0] != lines[:, 1]]
    # drop repeated edges (VMTK's centrelines repeat the shared trunk in every inlet-to-outlet line)
    lines = lines[np.sort(np.unique(np.sort(lines, axis=1), axis=0, return_index=True)[1])]
    adjacency: dict[int, list[int]] = defaultdict(list)
    for a, b in lines:  # graph construction at the I/O edge
        adjacency[int(a)].append(int(b))
        adjacency[int(b)].append(int(a))
    ends = [p for p, nb in adjacency.items() if len(nb) == 1]
    if not ends:
        raise ValueError(f"{path}: the centreline has no end point; expected a tree of lines")
    root = max(ends, key=lambda p: radius[p])
    parent, length, r_in, r_out, start, end, lesions = [], [], [], [], [], [], []
    queue, seen = [(root, None, -1)], {root}
    while queue:  # breadth first: parents are listed before children
        node, came_from, parent_seg = queue.pop(0)
        for nxt in adjacency[node]:
            if nxt == came_from or (nxt in seen and came_from is not None):
                continue
            path_pts = [node, nxt]
            while len(adjacency[path_pts[-1]]) == 2:
                a, b = adjacency[path_pts[-1]]
                step = b if a == path_pts[-2] else a
                if step in seen:
                    raise ValueError(f"{path}: the centreline has a loop at point {step}; expected a tree")
                path_pts.append(step)
            seen.update(path_pts)
            xyz = pts[path_pts]
            seg = len(parent)
            parent.append(parent_seg)
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xyz, axis=0), axis=1))])
            length.append(float(arc[-1]))
            # a branch point's radius belongs to no single branch: read radii one point inside
            first = 1 if len(adjacency[path_pts[0]]) > 2 and len(path_pts) > 2 else 0
            last = len(path_pts) - (2 if len(adjacency[path_pts[-1]]) > 2 and len(path_pts) > 2 else 1)
            own = radius[path_pts[first:last + 1]]
            r_in.append(float(own[0]))
            r_out.append(float(own[-1]))
            sev, ls, pos = fit_lesion(arc[first:last + 1] - arc[first], own, min_severity)
            pos = (arc[first] + pos * (arc[last] - arc[first])) / arc[-1]  # to the whole segment
            lesions.append((sev, ls, pos))
            start.append(xyz[0])
            end.append(xyz[-1])
            queue.append((path_pts[-1], path_pts[-2], seg))
    connected = set().union(*adjacency.values()) | set(adjacency)
    if seen != connected:
        raise ValueError(f"{path}: the centreline has {len(connected - seen)} points not connected to "
                         f"the root's tree; expected one connected tree (split the file per tree)")
    severity, lesion_length, position = (np.array(v) for v in zip(*lesions))
    return make_tree(np.array(parent, np.int32), length, r_in, r_out, start=np.array(start),
                     end=np.array(end), stenosis_severity=severity, stenosis_length=lesion_length,
                     stenosis_position=position, capacity=capacity)
