"""A `VesselTree` as a JSON file (SI units), round-tripping exactly.

Layout::

    {"format": "cardiojax.VesselTree", "version": 1, "units": {field: unit},
     "capacity": 64, "max_depth": 8,
     "segments": [{"id": 0, "parent": -1, "length": 0.031, "r_in": 0.0021, ...,
                   "start": [x, y, z], "end": [x, y, z]}, ...]}

Only valid segments are written, in order (compact); reading pads back to
``capacity``. Floats are written with Python's shortest round-trip repr, so a
compact tree reads back bit for bit. Optional per-segment fields may be
omitted by hand-written files (defaults as in `cardiojax.tree.make_tree`);
``start``/``end`` are then laid out in a plane.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.tree.ops import make_tree, trim
from cardiojax.tree.vessel_tree import FIELD_UNITS, VesselTree

FORMAT = "cardiojax.VesselTree"
_REQUIRED = ("parent", "length", "r_in")


def tree_to_dict(tree: VesselTree) -> dict[str, Any]:
    """The JSON-ready dict of a single tree (valid segments only)."""
    cap = tree.capacity
    t = trim(tree)
    fields = [k for k in FIELD_UNITS if k != "valid"]
    segments = []
    for i in range(t.parent.shape[0]):  # file serialisation: one record per segment
        seg = {"id": i}
        for k in fields:
            v = getattr(t, k)[i]
            seg[k] = int(v) if k == "parent" else v.tolist() if v.ndim else float(v)
        segments.append(seg)
    units = {k: FIELD_UNITS[k] for k in fields}
    return {"format": FORMAT, "version": 1, "units": units, "capacity": cap,
            "max_depth": int(tree.max_depth), "segments": segments}


def tree_from_dict(data: dict[str, Any], capacity: int | None = None) -> VesselTree:
    """Build (and validate) a tree from `tree_to_dict`'s layout."""
    if not isinstance(data, dict):
        raise ValueError(f"the file holds a JSON {type(data).__name__}; expected an object with "
                         f"'format': {FORMAT!r} and 'segments'")
    if data.get("format") != FORMAT:
        raise ValueError(f"field 'format' = {data.get('format')!r}; expected {FORMAT!r}")
    segs = data.get("segments")
    if not isinstance(segs, list):
        raise ValueError("field 'segments' is missing or not a list; expected a list of segment objects")
    for n, seg in enumerate(segs):
        if seg.get("id", n) != n:
            raise ValueError(f"segment {n}: field 'id' = {seg.get('id')!r}; expected {n} "
                             "(segments listed in order)")
        for k in _REQUIRED:
            if k not in seg:
                raise ValueError(f"segment {n}: missing field '{k}'")
        unknown = set(seg) - set(FIELD_UNITS) - {"id"}
        if unknown:
            raise ValueError(f"segment {n}: unknown fields {sorted(unknown)}; expected fields of "
                             f"{sorted(set(FIELD_UNITS) - {'valid'})}")
    kwargs: dict[str, np.ndarray] = {}
    for k in FIELD_UNITS:
        if k == "valid":
            continue
        present = [k in s for s in segs]
        if any(present) and not all(present):
            missing = present.index(False)
            raise ValueError(f"segment {missing}: missing field '{k}' (given for other segments)")
        if segs and all(present):
            kwargs[k] = _column(segs, k)
    if not segs:
        kwargs = {k: np.zeros(0) for k in _REQUIRED}
    cap = capacity if capacity is not None else data.get("capacity")
    cap = max(int(cap), len(segs)) if cap is not None else None
    tree = make_tree(
        kwargs.pop("parent"), kwargs.pop("length"), kwargs.pop("r_in"),
        capacity=cap, **kwargs,
    )
    if "max_depth" in data:
        tree = tree.replace(max_depth=max(int(data["max_depth"]), tree.max_depth))
    return tree


def _column(segs: list[dict], field: str) -> np.ndarray:
    """One field of every segment as an array; a clear error for a bad value."""
    shape = (3,) if field in ("start", "end") else ()
    out = []
    for n, seg in enumerate(segs):
        try:
            value = np.asarray(seg[field], dtype=np.float64)
        except (TypeError, ValueError):
            value = None
        if value is None or value.shape != shape:
            what = "a list of 3 numbers (x, y, z in m)" if shape else "a number"
            raise ValueError(f"segment {n}: field '{field}' = {seg[field]!r}; expected {what}")
        out.append(value)
    return np.array(out)


def save_tree_json(tree: VesselTree, path: str | os.PathLike) -> None:
    """Write a single tree as JSON (atomically)."""
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        json.dump(tree_to_dict(tree), fh, indent=1)


def load_tree_json(path: str | os.PathLike, capacity: int | None = None) -> VesselTree:
    """Read a tree written by `save_tree_json` (or by hand); validated."""
    with open(path) as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    try:
        return tree_from_dict(data, capacity)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
