"""The data arrays of VTK's XML file formats (``.vtp``, ``.vtu``, …): decoding and encoding.

A ``<DataArray type=... NumberOfComponents=... format=...>`` holds its values as

* ``format="ascii"``: whitespace-separated numbers;
* ``format="binary"``: base64 inline text of ``header + data``; without a compressor the header is one word
  (the data size in bytes) and header and data are ONE base64 string (VTK's reader needs that); with
  ``compressor="vtkZLibDataCompressor"`` (or ``vtkLZMADataCompressor``) the header is
  ``[nblocks, blocksize, lastblocksize, compsize_1 … compsize_n]``, followed by the compressed blocks, and VTK
  encodes header and blocks as separate base64 strings (so padding ``=`` may sit in the middle);
* ``format="appended"``: the same bytes at byte ``offset`` of ``<AppendedData encoding="raw">`` (after its
  ``_`` marker), or of its base64 text (``encoding="base64"``).

Header words are ``header_type`` (UInt32 or UInt64), and every word and value is in the file's
``byte_order``. A ``lastblocksize`` of 0 means a full last block.
"""

from __future__ import annotations

import base64
import binascii
import lzma
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

TYPES = {
    "Int8": "i1", "UInt8": "u1", "Int16": "i2", "UInt16": "u2", "Int32": "i4", "UInt32": "u4",
    "Int64": "i8", "UInt64": "u8", "Float32": "f4", "Float64": "f8",
}  # fmt: skip
_NAMES = {np.dtype(code).str[1:]: name for name, code in TYPES.items()}
_COMPRESSORS = {"vtkZLibDataCompressor": zlib.decompress, "vtkLZMADataCompressor": lzma.decompress}
_BLOCK = 32768  # bytes per compressed block, as VTK writes
_PADDED = re.compile(r"[^=]*=+|[^=]+$")  # one base64 string: up to and including its padding


@dataclass(frozen=True)
class Encoding:
    """How a file stores its binary arrays: byte order, header word type, compressor, appended data."""

    path: Path
    byte_order: str  # "<" or ">"
    header: np.dtype
    decompress: object  # callable or None
    appended: bytes | None = None
    appended_base64: bool = False
    offsets: tuple[int, ...] = ()  # every appended offset, sorted (ends of base64 arrays)


def read_document(path: Path) -> tuple[ElementTree.Element, Encoding]:
    """Parse a VTK XML file; raw appended data is cut out before the XML parser sees it."""
    raw = path.read_bytes()
    appended, is_base64 = None, False
    start = raw.find(b"<AppendedData")
    if start >= 0:
        tag_end = raw.find(b">", start)
        marker = raw.find(b"_", tag_end)
        end = raw.rfind(b"</AppendedData>")
        if tag_end < 0 or marker < 0 or end < marker:
            raise ValueError(f"{path}: AppendedData without its '_' marker or closing tag; expected VTK XML")
        appended = raw[marker + 1:end]
        is_base64 = b'"base64"' in raw[start:tag_end]
        raw = raw[:marker] + raw[end:]
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as err:
        raise ValueError(f"{path}: not well-formed XML ({err}); expected a VTK XML file") from None
    if root.tag != "VTKFile":
        raise ValueError(f"{path}: root element <{root.tag}>; expected <VTKFile>")
    order = root.get("byte_order", "LittleEndian")
    if order not in ("LittleEndian", "BigEndian"):
        raise ValueError(f"{path}: byte_order = {order!r}; expected LittleEndian or BigEndian")
    header = root.get("header_type", "UInt32")
    if header not in ("UInt32", "UInt64"):
        raise ValueError(f"{path}: header_type = {header!r}; expected UInt32 or UInt64")
    compressor = root.get("compressor")
    if compressor is not None and compressor not in _COMPRESSORS:
        raise ValueError(f"{path}: compressor = {compressor!r}; expected one of {sorted(_COMPRESSORS)}")
    byte_order = "<" if order == "LittleEndian" else ">"
    if appended is not None and is_base64:
        appended = re.sub(rb"\s+", b"", appended)
    offsets = tuple(sorted({int(e.get("offset")) for e in root.iter("DataArray") if e.get("offset")}))
    return root, Encoding(path, byte_order, np.dtype(TYPES[header]).newbyteorder(byte_order),
                          _COMPRESSORS.get(compressor), appended, is_base64, offsets)


def _b64(path: Path, name: str, text: str | bytes) -> bytes:
    """Decode base64 that may be several strings one after the other (each with its own padding)."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    text = re.sub(r"\s+", "", text)
    try:
        return b"".join(base64.b64decode(chunk) for chunk in _PADDED.findall(text))
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"{path}: DataArray {name!r}: bad base64 ({err})") from None


def _payload(enc: Encoding, name: str, buf: bytes) -> bytes:
    """The data bytes of ``header + data`` (uncompressed) or ``header + blocks`` (compressed)."""
    word = enc.header.itemsize
    if enc.decompress is None:
        if len(buf) < word:
            raise ValueError(f"{enc.path}: DataArray {name!r}: no size header; expected {word} bytes")
        size = int(np.frombuffer(buf[:word], enc.header)[0])
        if len(buf) < word + size:
            raise ValueError(f"{enc.path}: DataArray {name!r}: {len(buf) - word} data bytes; header says {size} "
                             "(truncated data)")
        return buf[word:word + size]
    head = np.frombuffer(buf[:3 * word], enc.header).astype(np.int64) if len(buf) >= 3 * word else []
    if len(head) != 3:
        raise ValueError(f"{enc.path}: DataArray {name!r}: no compression header; expected 3 words")
    nblocks, blocksize, last = (int(v) for v in head)
    if nblocks == 0:
        return b""
    sizes = np.frombuffer(buf[3 * word:(3 + nblocks) * word], enc.header).astype(np.int64)
    pos = (3 + nblocks) * word
    if len(sizes) != nblocks or len(buf) < pos + int(sizes.sum()):
        raise ValueError(f"{enc.path}: DataArray {name!r}: {nblocks} compressed blocks of {sizes.sum()} bytes "
                         f"announced, {len(buf) - pos} present (truncated data)")
    blocks = []
    for size in sizes:
        try:
            blocks.append(enc.decompress(buf[pos:pos + int(size)]))
        except (zlib.error, lzma.LZMAError) as err:
            raise ValueError(f"{enc.path}: DataArray {name!r}: a block does not decompress ({err})") from None
        pos += int(size)
    data = b"".join(blocks)
    expected = (nblocks - 1) * blocksize + (last or blocksize)
    if len(data) != expected:
        raise ValueError(f"{enc.path}: DataArray {name!r}: {len(data)} bytes decompressed; header says "
                         f"{expected}")
    return data


def read_array(element: ElementTree.Element, enc: Encoding) -> np.ndarray:
    """The values of a ``<DataArray>``: ``(n,)`` or ``(n, NumberOfComponents)``, native byte order."""
    name = element.get("Name", "")
    vtk_type = element.get("type")
    if vtk_type not in TYPES:
        raise ValueError(f"{enc.path}: DataArray {name!r} type = {vtk_type!r}; expected one of {sorted(TYPES)}")
    dtype = np.dtype(TYPES[vtk_type]).newbyteorder(enc.byte_order)
    components = int(element.get("NumberOfComponents", "1"))
    fmt = element.get("format", "ascii")
    if fmt == "ascii":
        try:
            values = np.array((element.text or "").split(), dtype=dtype.newbyteorder("="))
        except ValueError as err:
            raise ValueError(f"{enc.path}: DataArray {name!r}: bad ascii value ({err})") from None
    else:
        if fmt == "binary":
            buf = _b64(enc.path, name, element.text or "")
        elif fmt == "appended":
            if enc.appended is None or element.get("offset") is None:
                raise ValueError(f"{enc.path}: DataArray {name!r} is appended but there is no AppendedData or "
                                 "offset")
            offset = int(element.get("offset"))
            if enc.appended_base64:
                end = next((o for o in enc.offsets if o > offset), len(enc.appended))
                buf = _b64(enc.path, name, enc.appended[offset:end])
            else:
                buf = enc.appended[offset:]
        else:
            raise ValueError(f"{enc.path}: DataArray {name!r} format = {fmt!r}; expected ascii, binary or appended")
        data = _payload(enc, name, buf)
        if len(data) % dtype.itemsize:
            raise ValueError(f"{enc.path}: DataArray {name!r}: {len(data)} bytes is not a whole number of "
                             f"{vtk_type} values")
        values = np.frombuffer(data, dtype).astype(dtype.newbyteorder("="))
    if components > 1:
        if values.size % components:
            raise ValueError(f"{enc.path}: DataArray {name!r}: {values.size} values; expected a multiple of "
                             f"NumberOfComponents = {components}")
        values = values.reshape(-1, components)
    return values


def _set_range(element: ElementTree.Element, values: np.ndarray) -> None:
    """RangeMin/RangeMax as VTK writes them: of the values, or of the tuple magnitudes for k > 1 components."""
    if values.ndim > 1:
        values = np.linalg.norm(values.astype(np.float64), axis=1)
    if values.dtype.kind == "f":
        values = values[np.isfinite(values)]
    if values.size:
        fmt = repr if values.dtype.kind == "f" else str
        element.set("RangeMin", fmt(values.min().item()))
        element.set("RangeMax", fmt(values.max().item()))


def array_element(name: str, values, fmt: str = "binary", compress: bool = True) -> ElementTree.Element:
    """A ``<DataArray>`` holding ``values`` (``(n,)`` or ``(n, k)``), little-endian, UInt64 size headers.

    ``fmt`` "binary" (base64, zlib blocks of 32 KiB when ``compress``) or "ascii" (17 significant digits for
    Float64, 9 for Float32: exact round trips).
    """
    values = np.asarray(values)
    if values.dtype == bool:
        values = values.astype(np.uint8)
    code = values.dtype.str[1:]
    if code not in _NAMES:
        raise ValueError(f"{name}: dtype {values.dtype}; expected one of {sorted(TYPES)} (as numpy dtypes)")
    element = ElementTree.Element("DataArray", type=_NAMES[code], Name=name, format=fmt)
    if values.ndim > 1:
        element.set("NumberOfComponents", str(int(np.prod(values.shape[1:]))))
    flat = values.reshape(-1)
    _set_range(element, values.reshape(len(values), -1) if values.ndim > 1 else values)
    if fmt == "ascii":
        spec = {"f8": "%.17g", "f4": "%.9g"}.get(code, "%d")
        element.text = "\n" + " ".join(spec % v for v in flat.tolist()) + "\n"
        return element
    if fmt != "binary":
        raise ValueError(f"format = {fmt!r}; expected 'binary' or 'ascii'")
    data = flat.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()
    if compress:
        blocks = [zlib.compress(data[i:i + _BLOCK], 6) for i in range(0, len(data), _BLOCK)]
        last = len(data) - (len(blocks) - 1) * _BLOCK if blocks else 0
        header = np.array([len(blocks), _BLOCK, last, *(len(b) for b in blocks)], "<u8")
        text = base64.b64encode(header.tobytes()) + base64.b64encode(b"".join(blocks))
    else:
        text = base64.b64encode(np.array([len(data)], "<u8").tobytes() + data)  # one string, as VTK reads it
    element.text = "\n" + text.decode("ascii") + "\n"
    return element
