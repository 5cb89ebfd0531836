"""VTK XML PolyData (``.vtp``): points, vertices, polylines, polygons and strips with their data.

`read_vtp` reads every layout VTK writes (ascii, inline base64 binary, appended raw or base64; UInt32 or UInt64
headers; zlib or LZMA compression; either byte order; several pieces are merged); `write_vtp` writes inline
binary (zlib-compressed by default) or ascii that VTK and ParaView read. Units are what the file holds, except
that ``read_vtp(path, scale=s)`` multiplies the points by ``s`` (e.g. 1e-3 for a file in mm → m); point and cell
data are never scaled.

Cells follow VTK: each cell block is ragged (`CellArray`: ``connectivity`` and end ``offsets``), and cell data
runs over the cells in the order verts, lines, polys, strips (vtkPolyData's cell ids; the file lists the
blocks as Verts, Lines, Strips, Polys).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.io.vtk_xml import array_element, read_array, read_document

_BLOCKS = ("verts", "lines", "polys", "strips")  # cell-id order
_FILE_BLOCKS = ("Verts", "Lines", "Strips", "Polys")  # element order in a file


@dataclasses.dataclass(frozen=True, eq=False)
class CellArray:
    """Ragged cells: cell ``c`` is ``connectivity[offsets[c]:offsets[c + 1]]`` (point indices).

    Attributes:
      connectivity: ``(m,)`` int64 point indices of all cells, one after the other.
      offsets: ``(n + 1,)`` int64, starting at 0 (cell boundaries in ``connectivity``).
    """

    connectivity: np.ndarray
    offsets: np.ndarray

    @staticmethod
    def from_cells(cells) -> CellArray:
        """From a `CellArray`, a ``(n, k)`` integer array (n cells of k points) or a sequence of index lists."""
        if isinstance(cells, CellArray):
            return cells
        if cells is None:
            return CellArray(np.zeros(0, np.int64), np.zeros(1, np.int64))
        if isinstance(cells, np.ndarray) and cells.ndim == 2:
            n, k = cells.shape
            return CellArray(cells.astype(np.int64).reshape(-1), np.arange(n + 1, dtype=np.int64) * k)
        cells = [np.asarray(c, np.int64).reshape(-1) for c in cells]
        sizes = np.array([len(c) for c in cells], np.int64)
        connectivity = np.concatenate(cells) if cells else np.zeros(0, np.int64)
        return CellArray(connectivity, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, c: int) -> np.ndarray:
        if not -len(self) <= c < len(self):
            raise IndexError(f"cell {c} out of range for {len(self)} cells")
        c %= len(self)
        return self.connectivity[self.offsets[c]:self.offsets[c + 1]]

    def __iter__(self):
        return (self[c] for c in range(len(self)))

    @property
    def sizes(self) -> np.ndarray:
        """``(n,)`` number of points of each cell."""
        return np.diff(self.offsets)

    def to_array(self) -> np.ndarray:
        """``(n, k)`` indices when every cell has k points (e.g. triangles); a ValueError otherwise."""
        sizes = self.sizes
        if len(sizes) and np.any(sizes != sizes[0]):
            raise ValueError(f"cells of {sorted(set(sizes.tolist()))} points; expected one size for an array")
        return self.connectivity.reshape(len(self), int(sizes[0]) if len(sizes) else 0)


def _check_cells(name: str, cells: CellArray, n_points: int) -> None:
    off = cells.offsets
    if off.ndim != 1 or len(off) < 1 or off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] != len(cells.connectivity):
        raise ValueError(f"{name}: offsets {off[:5].tolist()}… do not index the {len(cells.connectivity)} "
                         "connectivity entries; expected increasing offsets from 0 to its length")
    conn = cells.connectivity
    if conn.size and (conn.min() < 0 or conn.max() >= n_points):
        raise ValueError(f"{name}: point index {int(conn.max() if conn.max() >= n_points else conn.min())} out "
                         f"of range; expected 0 … {n_points - 1}")


@dataclasses.dataclass(frozen=True, eq=False)
class PolyData:
    """Points and cells of a VTK PolyData with point and cell data (units: whatever the source holds).

    Attributes:
      points: ``(n, 3)`` float64 coordinates.
      verts, lines, polys, strips: `CellArray` (any of ``(c, k)`` int array or list of index lists on input).
      point_data: name → ``(n,)`` or ``(n, k)`` array.
      cell_data: name → ``(n_cells,)`` or ``(n_cells, k)`` array over verts, lines, polys, strips in turn.
    """

    points: np.ndarray
    verts: CellArray = None
    lines: CellArray = None
    polys: CellArray = None
    strips: CellArray = None
    point_data: dict = dataclasses.field(default_factory=dict)
    cell_data: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        points = np.asarray(self.points, np.float64)
        if points.ndim == 2 and points.shape[1] == 2:
            points = np.concatenate([points, np.zeros((len(points), 1))], axis=1)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"points: shape {points.shape}; expected (n, 3)")
        object.__setattr__(self, "points", points)
        for name in _BLOCKS:
            cells = CellArray.from_cells(getattr(self, name))
            _check_cells(name, cells, len(points))
            object.__setattr__(self, name, cells)
        for kind, data, n in (("point_data", self.point_data, len(points)), ("cell_data", self.cell_data,
                                                                             self.n_cells)):
            data = {str(k): np.asarray(v) for k, v in data.items()}
            for k, v in data.items():
                if v.ndim == 0 or v.shape[0] != n:
                    raise ValueError(f"{kind}[{k!r}]: shape {v.shape}; expected ({n}, …)")
            object.__setattr__(self, kind, data)

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_cells(self) -> int:
        """Cells of all four blocks together (the length of every cell data array)."""
        return sum(len(getattr(self, name)) for name in _BLOCKS)


def _piece(piece: ElementTree.Element, enc) -> dict:
    """The arrays of one ``<Piece>``."""
    n_points = int(piece.get("NumberOfPoints", "0"))
    points = piece.find("Points/DataArray")
    out = {"points": np.zeros((0, 3)) if points is None else read_array(points, enc).reshape(-1, 3)}
    if len(out["points"]) != n_points:
        raise ValueError(f"{enc.path}: {len(out['points'])} points; NumberOfPoints = {n_points}")
    for block, name in zip(_FILE_BLOCKS, ("verts", "lines", "strips", "polys")):
        count = int(piece.get(f"NumberOf{block}", "0"))
        arrays = {e.get("Name"): e for e in piece.findall(f"{block}/DataArray")}
        if count == 0:
            out[name] = CellArray.from_cells(None)
            continue
        if "connectivity" not in arrays or "offsets" not in arrays:
            raise ValueError(f"{enc.path}: NumberOf{block} = {count} but no {block} connectivity/offsets arrays")
        conn = read_array(arrays["connectivity"], enc).astype(np.int64)
        ends = read_array(arrays["offsets"], enc).astype(np.int64)
        offsets = ends if len(ends) == count + 1 and ends[0] == 0 else np.concatenate([[0], ends])
        if len(offsets) != count + 1:
            raise ValueError(f"{enc.path}: {block} offsets has {len(ends)} entries; NumberOf{block} = {count}")
        out[name] = CellArray(conn, offsets)
    for kind, tag in (("point_data", "PointData"), ("cell_data", "CellData")):
        out[kind] = {e.get("Name"): read_array(e, enc) for e in piece.findall(f"{tag}/DataArray")}
    return out


def _merge(pieces: list[dict]) -> dict:
    if len(pieces) == 1:
        return pieces[0]
    shift = np.cumsum([0] + [len(p["points"]) for p in pieces[:-1]])
    out = {"points": np.concatenate([p["points"] for p in pieces])}
    for name in _BLOCKS:
        cells = [CellArray.from_cells(list(p[name])) for p in pieces]
        out[name] = CellArray.from_cells([c + s for cells_p, s in zip(cells, shift) for c in cells_p])
    out["point_data"] = {k: np.concatenate([p["point_data"][k] for p in pieces]) for k in pieces[0]["point_data"]}
    cell_data = {}
    for k in pieces[0]["cell_data"]:  # reorder to verts…strips of all pieces: block by block
        chunks = []
        for b, name in enumerate(_BLOCKS):
            for p in pieces:
                start = sum(len(p[m]) for m in _BLOCKS[:b])
                chunks.append(p["cell_data"][k][start:start + len(p[name])])
        cell_data[k] = np.concatenate(chunks)
    out["cell_data"] = cell_data
    return out


def read_vtp(path: str | os.PathLike, scale: float = 1.0) -> PolyData:
    """Read a VTK XML PolyData file; ``scale`` multiplies the points (only), e.g. 1e-3 for mm → m.

    Raises ValueError naming the file and the field for anything it cannot read (not PolyData, unknown
    type or compressor, truncated or corrupt data, inconsistent counts).
    """
    path = Path(path)
    try:
        root, enc = read_document(path)
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    if root.get("type") != "PolyData" or root.find("PolyData") is None:
        raise ValueError(f"{path}: VTKFile type = {root.get('type')!r}; expected PolyData")
    pieces = [_piece(p, enc) for p in root.find("PolyData").findall("Piece")]
    if not pieces:
        raise ValueError(f"{path}: no <Piece>; expected one or more pieces of PolyData")
    data = _merge(pieces)
    data["points"] = data["points"].astype(np.float64) * scale
    return PolyData(**data)


def write_vtp(path: str | os.PathLike, polydata: PolyData, format: str = "binary", compress: bool = True) -> Path:
    """Write ``polydata`` as VTK XML PolyData, atomically (points as Float64, cells as Int64).

    Args:
      path: output ``.vtp`` file.
      polydata: the data.
      format: "binary" (inline base64, UInt64 headers, zlib-compressed when ``compress``) or "ascii".
      compress: zlib-compress binary arrays.
    """
    if format not in ("binary", "ascii"):
        raise ValueError(f"format = {format!r}; expected 'binary' or 'ascii'")
    compress = compress and format == "binary"
    attrs = {"type": "PolyData", "version": "1.0", "byte_order": "LittleEndian", "header_type": "UInt64"}
    if compress:
        attrs["compressor"] = "vtkZLibDataCompressor"
    root = ElementTree.Element("VTKFile", attrs)
    piece = ElementTree.SubElement(ElementTree.SubElement(root, "PolyData"), "Piece",
                                   NumberOfPoints=str(polydata.n_points),
                                   **{f"NumberOf{b}": str(len(getattr(polydata, b.lower()))) for b in _FILE_BLOCKS})

    def add(parent, name, values):
        parent.append(array_element(name, values, format, compress))

    for tag, data in (("PointData", polydata.point_data), ("CellData", polydata.cell_data)):
        element = ElementTree.SubElement(piece, tag)
        for name, values in data.items():
            add(element, name, values)
    add(ElementTree.SubElement(piece, "Points"), "Points", polydata.points)
    for block in _FILE_BLOCKS:
        cells = getattr(polydata, block.lower())
        if len(cells):
            element = ElementTree.SubElement(piece, block)
            add(element, "connectivity", cells.connectivity)
            add(element, "offsets", cells.offsets[1:])
    ElementTree.indent(root)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(b'<?xml version="1.0"?>\n')
        ElementTree.ElementTree(root).write(fh, encoding="utf-8", xml_declaration=False)
        fh.write(b"\n")
    return path
