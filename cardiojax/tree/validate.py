"""Host-side validation of trees that come from outside (files, user arrays).

`validate` raises a `ValueError` that names the segment, the field, the value
and what was expected, so that bad input never turns into a silent NaN inside
a solver. It runs on concrete arrays (NumPy), not under `jit`.
"""

from __future__ import annotations

import numpy as np

from cardiojax.tree.vessel_tree import FIELD_UNITS, FLOAT_FIELDS, VesselTree


def host_depth(parent: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Depth of each segment of an acyclic parent array (NumPy, pointer jumping)."""
    cap = parent.shape[0]
    anc = np.append(np.where(valid & (parent >= 0), parent, cap), cap)
    depth = np.append((anc[:-1] < cap).astype(np.int64), 0)
    for _ in range(max(1, int(np.ceil(np.log2(max(cap, 2)))))):  # log2(cap) rounds
        depth = depth + depth[anc]
        anc = anc[anc]
    return depth[:-1]


def _fail(seg: int, field: str, value, expected: str) -> None:
    unit = FIELD_UNITS[field]
    unit = "" if unit in ("index", "bool") or unit.startswith("1") else f" {unit}"
    raise ValueError(f"segment {seg}: field '{field}' = {value!r}{unit}; expected {expected}")


def _cycle_through(parent: np.ndarray, start: int) -> list[int]:
    """The cycle reached by following parents from ``start`` (error path only)."""
    seen: dict[int, int] = {}
    path: list[int] = []
    node = start
    while node >= 0 and node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = int(parent[node])
    return path[seen[node]:] + [node] if node >= 0 else []


def validate(tree: VesselTree) -> VesselTree:
    """Check a single tree and return it unchanged; raise `ValueError` if bad.

    Checks, for valid segments: at least one segment; finite values; parent
    indices in range, pointing to valid segments, acyclic and backward
    (topological order); exactly one root; positive length and radii;
    stenosis severity in [0, 1), lesion length in [0, length] and the lesion
    inside the segment; positive stiffness; non-negative outlet resistance;
    ``max_depth`` at least the deepest segment's depth.
    """
    if tree.parent.ndim != 1:
        raise ValueError(
            f"validate expects a single tree, got batch shape {tree.parent.shape[:-1]}; "
            "validate each tree of a batch separately"
        )
    a = {k: np.asarray(v) for k, v in tree.arrays().items()}
    cap = a["parent"].shape[0]
    for k, v in a.items():
        expected = (cap, 3) if k in ("start", "end") else (cap,)
        if v.shape != expected:
            raise ValueError(f"field '{k}' has shape {v.shape}; expected {expected} (capacity {cap})")
    if not np.issubdtype(a["parent"].dtype, np.integer):
        raise ValueError(f"field 'parent' has dtype {a['parent'].dtype}; expected an integer dtype")
    valid = a["valid"].astype(bool)
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        raise ValueError("the tree is empty: no valid segments; expected at least one segment")

    for k in FLOAT_FIELDS:
        v = a[k][idx].reshape(idx.size, -1)
        bad = ~np.isfinite(v).all(axis=1)
        if bad.any():
            i = int(idx[np.argmax(bad)])
            _fail(i, k, a[k][i].tolist(), "a finite value (no NaN or inf)")

    parent = a["parent"].astype(np.int64)
    p = parent[idx]
    out = (p < -1) | (p >= cap)
    if out.any():
        i = int(idx[np.argmax(out)])
        _fail(i, "parent", int(parent[i]), f"-1 (root) or a segment index in [0, {cap})")
    to_pad = (p >= 0) & ~valid[np.clip(p, 0, cap - 1)]
    if to_pad.any():
        i = int(idx[np.argmax(to_pad)])
        _fail(i, "parent", int(parent[i]), "the index of a valid segment (it points to a padding slot)")
    forward = p >= idx
    if forward.any():
        i = int(idx[np.argmax(forward)])
        cycle = _cycle_through(np.where(valid, parent, -1), i)
        if cycle:
            chain = " -> ".join(str(c) for c in cycle)
            raise ValueError(
                f"segments {chain} form a cycle in field 'parent'; expected a tree "
                "(every parent chain must end at the root, parent -1)"
            )
        _fail(i, "parent", int(parent[i]),
              (f"an index < {i}" if i > 0 else "-1 (the first segment must be the root)")
              + ": segments must be in topological order (parent before child)")
    roots = idx[p < 0]
    if roots.size != 1:
        raise ValueError(
            f"segments {roots.tolist()} all have 'parent' = -1; expected exactly one root"
        )

    def check(field: str, ok: np.ndarray, expected: str) -> None:
        bad = ~ok
        if bad.any():
            i = int(idx[np.argmax(bad)])
            _fail(i, field, float(a[field][i]), expected)

    length = a["length"][idx]
    check("length", length > 0, "a length > 0 m")
    check("r_in", a["r_in"][idx] > 0, "a radius > 0 m")
    check("r_out", a["r_out"][idx] > 0, "a radius > 0 m")
    sev = a["stenosis_severity"][idx]
    check("stenosis_severity", (sev >= 0) & (sev < 1), "a diameter stenosis fraction in [0, 1)")
    ls = a["stenosis_length"][idx]
    lesion = sev > 0
    check("stenosis_length", (ls >= 0) & (~lesion | (ls > 0)),
          "a lesion length > 0 m where stenosis_severity > 0 (>= 0 elsewhere)")
    check("stenosis_length", ls <= length * (1 + 1e-12), "a lesion length <= the segment length")
    pos = a["stenosis_position"][idx]
    check("stenosis_position", (pos >= 0) & (pos <= 1), "a fraction of the segment length in [0, 1]")
    half = 0.5 * ls / length
    tol = 1e-9
    check("stenosis_position", ~lesion | ((pos - half >= -tol) & (pos + half <= 1 + tol)),
          "a lesion centre that keeps the whole lesion inside the segment "
          "(position ± stenosis_length/2 within [0, length])")
    check("stiffness", a["stiffness"][idx] > 0, "a wall stiffness E·h > 0 Pa·m")
    check("outlet_resistance", a["outlet_resistance"][idx] >= 0, "an outlet resistance >= 0 Pa·s/m³")

    depth = host_depth(parent, valid)
    deepest = int(depth[idx].max())
    if tree.max_depth < deepest:
        raise ValueError(
            f"max_depth = {tree.max_depth} but segment {int(idx[np.argmax(depth[idx])])} has depth "
            f"{deepest}; expected max_depth >= {deepest} (tree sweeps would stop early)"
        )
    return tree
