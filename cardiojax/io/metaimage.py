"""MetaImage (``.mha`` / ``.mhd``) volumes in and out, without ITK.

A MetaImage file is a text header of ``Key = Value`` lines ending with ``ElementDataFile``, then the voxel data:
in the same file after that line (``ElementDataFile = LOCAL``, the ``.mha`` layout) or in a separate raw file
named there (the ``.mhd`` layout). Lengths in the header are in mm; the returned `Volume` is in m.

Conventions (as ITK's ``MetaImageIO`` reads and writes them):

* ``DimSize = nx ny nz`` lists the fastest axis first; the returned array is indexed ``[i, j, k]``.
* ``Offset`` (or ``Origin``/``Position``) is the world position (LPS, mm) of the centre of voxel (0, 0, 0).
* ``TransformMatrix`` (or ``Rotation``/``Orientation``) lists the direction of index axis 0 (three numbers),
  then of axis 1, then of axis 2: ITK reads ``direction axis a = m[3a : 3a + 3]`` and writes the same, so
  ``direction = reshape(m, (3, 3)).T`` (columns are the axis directions).
* ``ElementSpacing`` (or, without it, ``ElementSize``) is the voxel size along i, j, k in mm.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.io.volume import Volume, affine_from, check_direction

MM = 1e-3  # m per mm

_TYPES = {
    "MET_UCHAR": "u1", "MET_CHAR": "i1", "MET_SHORT": "i2", "MET_USHORT": "u2", "MET_INT": "i4",
    "MET_UINT": "u4", "MET_LONG": "i4", "MET_ULONG": "u4", "MET_LONG_LONG": "i8", "MET_ULONG_LONG": "u8",
    "MET_FLOAT": "f4", "MET_DOUBLE": "f8",
}  # fmt: skip
_WRITE_TYPES = {"u1": "MET_UCHAR", "i1": "MET_CHAR", "i2": "MET_SHORT", "u2": "MET_USHORT", "i4": "MET_INT",
                "u4": "MET_UINT", "i8": "MET_LONG_LONG", "u8": "MET_ULONG_LONG", "f4": "MET_FLOAT",
                "f8": "MET_DOUBLE"}
_MAX_HEADER_LINES = 200


def _read_header(path: Path, raw: bytes) -> tuple[dict[str, str], int]:
    """The header fields (keys as written) and the byte offset of the data after the ElementDataFile line."""
    fields: dict[str, str] = {}
    pos = 0
    for _ in range(_MAX_HEADER_LINES):
        end = raw.find(b"\n", pos)
        line_end = len(raw) if end < 0 else end + 1
        line = raw[pos:line_end].decode("latin-1").strip()
        pos = line_end
        if line:
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"{path}: header line {line[:60]!r} is not 'Key = Value'; expected a MetaImage "
                                 "header (.mha/.mhd)")
            fields[key.strip()] = value.strip()
            if key.strip().lower() == "elementdatafile":
                return fields, pos
        if end < 0:
            break
    raise ValueError(f"{path}: no ElementDataFile line in the header; expected a MetaImage header ending with "
                     "'ElementDataFile = LOCAL' or the name of the data file")


def _get(fields: dict[str, str], *names: str) -> tuple[str, str] | tuple[None, None]:
    lower = {k.lower(): k for k in fields}
    for name in names:
        if name.lower() in lower:
            key = lower[name.lower()]
            return key, fields[key]
    return None, None


def _numbers(path: Path, key: str, value: str, count: int, kind=float) -> np.ndarray:
    try:
        out = np.array([kind(v) for v in value.split()])
    except ValueError:
        out = np.array([])
    if out.size != count or not np.all(np.isfinite(out)):
        raise ValueError(f"{path}: {key} = {value!r}; expected {count} numbers")
    return out


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1", "yes")


def _geometry(path: Path, fields: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """``(shape, affine)`` from the header (lengths converted mm → m)."""
    key, value = _get(fields, "NDims")
    if value is None or value.strip() != "3":
        raise ValueError(f"{path}: NDims = {value}; expected 3 (a 3D volume; 2D and 4D images are not supported)")
    key, value = _get(fields, "DimSize")
    if value is None:
        raise ValueError(f"{path}: no DimSize; expected the number of voxels along x y z")
    shape = _numbers(path, key, value, 3, int)
    if np.any(shape <= 0):
        raise ValueError(f"{path}: DimSize = {value!r}; expected three voxel counts > 0")
    key, value = _get(fields, "ElementSpacing", "ElementSize")
    if value is None:
        raise ValueError(f"{path}: no ElementSpacing (nor ElementSize); expected the voxel size along x y z in mm")
    spacing = _numbers(path, key, value, 3)
    if np.any(spacing <= 0):
        raise ValueError(f"{path}: {key} = {value!r}; expected three voxel sizes > 0 (mm)")
    key, value = _get(fields, "Offset", "Origin", "Position")
    origin = np.zeros(3) if value is None else _numbers(path, key, value, 3)
    key, value = _get(fields, "TransformMatrix", "Rotation", "Orientation")
    direction = np.eye(3) if value is None else _numbers(path, key, value, 9).reshape(3, 3).T
    try:
        check_direction(direction)
    except ValueError as err:
        raise ValueError(f"{path}: {key} = {value!r}: {err}") from None
    return shape, affine_from(spacing * MM, origin * MM, direction)


def _data_bytes(path: Path, raw: bytes, start: int, fields: dict[str, str]) -> tuple[bytes, Path]:
    """The (still compressed) data bytes and the file they came from."""
    _, name = _get(fields, "ElementDataFile")
    if name.upper() == "LOCAL":
        return raw[start:], path
    if name.upper().startswith("LIST") or "%" in name or len(name.split()) > 1:
        raise ValueError(f"{path}: ElementDataFile = {name!r}; expected LOCAL or one data file name (slice lists "
                         "and file patterns are not supported)")
    data_path = path.parent / name
    try:
        data = data_path.read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: ElementDataFile = {name!r} cannot be read ({err.strerror})") from None
    _, header_size = _get(fields, "HeaderSize")
    skip = int(header_size) if header_size else 0
    return (data[skip:] if skip >= 0 else data), data_path


def _decode(path: Path, data: bytes, fields: dict[str, str], dtype: np.dtype, count: int) -> np.ndarray:
    nbytes = count * dtype.itemsize
    if not _true(_get(fields, "BinaryData")[1] or "True"):
        values = np.array(data.decode("latin-1").split(), dtype=np.float64)
        if values.size != count:
            raise ValueError(f"{path}: {values.size} ASCII values; expected {count} (truncated data?)")
        return values.astype(dtype)
    if _true(_get(fields, "CompressedData")[1]):
        try:
            inflater = zlib.decompressobj(47)  # zlib or gzip stream, as MetaIO accepts
            data = inflater.decompress(data, nbytes + 1)
        except zlib.error as err:
            raise ValueError(f"{path}: CompressedData = True but the data does not inflate ({err}); expected "
                             "a zlib stream (truncated or corrupt data?)") from None
        if len(data) != nbytes:
            raise ValueError(f"{path}: {len(data)} bytes after decompression; expected {nbytes} "
                             f"(DimSize × {dtype.itemsize} bytes) — truncated or corrupt data")
    else:
        _, header_size = _get(fields, "HeaderSize")
        if header_size and int(header_size) == -1:  # the data are the last bytes of the file
            data = data[-nbytes:] if len(data) >= nbytes else data
        if len(data) != nbytes:
            raise ValueError(f"{path}: {len(data)} data bytes; expected {nbytes} (DimSize × {dtype.itemsize} "
                             "bytes) — truncated or padded data")
    return np.frombuffer(data, dtype, count)


def read_metaimage(path: str | os.PathLike) -> Volume:
    """Read a 3D MetaImage (``.mha``, or ``.mhd`` with its raw data file) as a `Volume` (LPS, m).

    Supports ElementType MET_UCHAR/CHAR/SHORT/USHORT/INT/UINT/LONG/ULONG/LONG_LONG/ULONG_LONG/FLOAT/DOUBLE,
    either byte order (``BinaryDataByteOrderMSB``/``ElementByteOrderMSB``), zlib ``CompressedData``, ASCII
    data (``BinaryData = False``), one channel. Raises ValueError naming the file, field and value for
    anything else: missing spacing, zero or negative spacing, a non-orthonormal TransformMatrix, NDims ≠ 3,
    truncated data, several channels, an unknown ElementType.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    fields, start = _read_header(path, raw)
    _, object_type = _get(fields, "ObjectType")
    if object_type is not None and object_type.lower() != "image":
        raise ValueError(f"{path}: ObjectType = {object_type!r}; expected Image")
    shape, affine = _geometry(path, fields)
    _, channels = _get(fields, "ElementNumberOfChannels")
    if channels is not None and channels.strip() != "1":
        raise ValueError(f"{path}: ElementNumberOfChannels = {channels}; expected 1 (scalar images only)")
    _, element_type = _get(fields, "ElementType")
    if element_type is None or element_type.upper() not in _TYPES:
        raise ValueError(f"{path}: ElementType = {element_type}; expected one of {sorted(_TYPES)}")
    msb = _true(_get(fields, "BinaryDataByteOrderMSB", "ElementByteOrderMSB")[1])
    dtype = np.dtype(_TYPES[element_type.upper()]).newbyteorder(">" if msb else "<")
    data, data_path = _data_bytes(path, raw, start, fields)
    values = _decode(data_path, data, fields, dtype, int(np.prod(shape)))
    array = values.astype(dtype.newbyteorder("="), copy=False).reshape(tuple(shape), order="F")
    return Volume(np.ascontiguousarray(array), affine)


def _format(values) -> str:
    return " ".join(repr(float(v)) if isinstance(v, float | np.floating) else str(v) for v in values)


def write_metaimage(volume: Volume, path: str | os.PathLike, compress: bool = True) -> Path:
    """Write ``volume`` as MetaImage, atomically: ``.mha`` holds the data, ``.mhd`` names a ``.raw`` (or, with
    compression, ``.zraw``) file beside it. Lengths are written in mm (17 significant digits, exact round trip),
    data little-endian, zlib-compressed when ``compress``; bool arrays are written as MET_UCHAR."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mha", ".mhd"):
        raise ValueError(f"{path}: suffix {path.suffix!r}; expected .mha or .mhd")
    array = np.asarray(volume.array)
    if array.ndim != 3:
        raise ValueError(f"volume.array: shape {array.shape}; expected a 3D volume (nx, ny, nz)")
    if array.dtype == bool:
        array = array.astype(np.uint8)
    code = array.dtype.str[1:]
    if code not in _WRITE_TYPES:
        raise ValueError(f"volume.array: dtype {array.dtype}; expected one of {sorted(_WRITE_TYPES)}")
    affine = np.asarray(volume.affine, np.float64)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    direction = check_direction(affine[:3, :3] / spacing[None, :])
    data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes(order="F")
    if compress:
        data = zlib.compress(data, 6)
    data_name = "LOCAL" if suffix == ".mha" else path.stem + (".zraw" if compress else ".raw")
    lines = [
        "ObjectType = Image", "NDims = 3", "BinaryData = True", "BinaryDataByteOrderMSB = False",
        f"CompressedData = {compress}",
        *([f"CompressedDataSize = {len(data)}"] if compress else []),
        f"TransformMatrix = {_format(direction.T.ravel())}",  # axis 0's direction first (ITK's order)
        f"Offset = {_format(affine[:3, 3] / MM)}",
        "CenterOfRotation = 0 0 0",
        f"ElementSpacing = {_format(spacing / MM)}",
        f"DimSize = {_format(array.shape)}",
        f"ElementType = {_WRITE_TYPES[code]}",
        f"ElementDataFile = {data_name}",
    ]  # fmt: skip
    header = ("\n".join(lines) + "\n").encode("ascii")
    if suffix == ".mhd":
        with atomic_path(path.parent / data_name) as tmp:
            tmp.write_bytes(data)
        with atomic_path(path) as tmp:
            tmp.write_bytes(header)
    else:
        with atomic_path(path) as tmp:
            tmp.write_bytes(header + data)
    return path
