"""Clinical outputs of a lattice-Boltzmann run: physical fields, pressure along an axis, ΔP, FFR, VTU and PNG.

Host-side (numpy) post-processing of a converged state. Lattice units come in
(populations ``f`` as deviations from rest, lattice pressure c_s²·δρ = δρ/3,
voxel index coordinates) and SI units go out through
`cardiojax.threed.units.LatticeUnits`: velocity in m/s, pressure in Pa
relative to the lattice reference density ρ = 1 (the pressure outlet when
``outlet_drho = 0``), lengths in m (mm on plot axes).

Voxel ``(i, j, k)`` is the cube of side Δx centred at ``origin + (i, j, k)·Δx``.
Solid voxels carry zero velocity and NaN pressure in `fields`, so that every
sampler here can ignore them.
"""

from __future__ import annotations

import os

import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.threed.lattice import CS2, C

#: VTK hexahedron corner order, as offsets (in voxels) from the cell's lower corner.
_HEX_CORNERS = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                         [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]])
_AXES = {"x": 0, "y": 1, "z": 2}


def _solid_array(solid, shape=None) -> np.ndarray:
    s = np.asarray(getattr(solid, "solid", solid))
    if s.ndim != 3 or s.dtype != bool:
        raise ValueError(f"solid: shape {s.shape} dtype {s.dtype}; expected a 3-D bool voxel mask")
    if shape is not None and s.shape != tuple(shape):
        raise ValueError(f"solid: shape {s.shape}; expected the field's shape {tuple(shape)}")
    return s


def _dx_of(units) -> float:
    dx = float(getattr(units, "dx", units))
    if not (np.isfinite(dx) and dx > 0):
        raise ValueError(f"dx={dx!r}: expected a positive voxel size in m (or a LatticeUnits)")
    return dx


def fields(f, units, solid, force=None) -> tuple[np.ndarray, np.ndarray]:
    """Physical velocity (3, nx, ny, nz) in m/s and pressure (nx, ny, nz) in Pa of populations ``f``
    (19, nx, ny, nz; deviations from rest, lattice units) with `LatticeUnits` ``units``.

    The pressure is ``c_s²·δρ`` converted to Pa, relative to the lattice reference ρ = 1; a body acceleration
    ``force`` (3,) (lattice units) adds Guo's half-force shift to the velocity. Solid voxels get velocity 0 and
    pressure NaN.
    """
    f = np.asarray(f, np.float64)
    if f.ndim != 4 or f.shape[0] != C.shape[0]:
        raise ValueError(f"f: shape {f.shape}; expected (19, nx, ny, nz) D3Q19 populations")
    s = _solid_array(solid, f.shape[1:])
    drho = f.sum(axis=0)
    rho = 1.0 + drho
    mom = np.einsum("qd,q...->d...", C.astype(float), f)
    if force is not None:
        mom = mom + 0.5 * np.reshape(np.asarray(force, float), (3, 1, 1, 1)) * rho
    u = np.where(s, 0.0, mom / rho)
    return np.asarray(units.velocity_si(u)), np.where(s, np.nan, units.pressure_si(CS2 * drho))


def _to_index(points, dx, origin, rotation) -> np.ndarray:
    pts = np.atleast_2d(np.asarray(points, float))
    if pts.shape[-1] != 3:
        raise ValueError(f"points: shape {pts.shape}; expected (n, 3) coordinates")
    if dx is None:
        return pts
    rot = np.eye(3) if rotation is None else np.asarray(rotation, float)
    return ((pts - np.asarray(origin, float)) @ rot.T) / _dx_of(dx)


def centerline_pressure(p, points, solid=None, dx=None, origin=(0.0, 0.0, 0.0), rotation=None) -> np.ndarray:
    """Trilinear interpolation of ``p`` (nx, ny, nz) at ``points`` (n, 3), ignoring solid voxels.

    ``points`` are voxel index coordinates if ``dx`` is None, else physical coordinates (m) with voxel i centred
    at ``origin + dx·(i @ rotation)`` (``rotation`` (3, 3) orthonormal, default the identity; see
    `cardiojax.threed.voxelise.Voxels`). Solid corners (``solid`` True or ``p`` NaN) are dropped and the
    remaining weights renormalised; a point whose 8 corners are all solid gives NaN. Exact for a field
    linear in x, y, z when the corners are fluid. Returns (n,) in the unit of ``p``.
    """
    p = np.asarray(p, float)
    if p.ndim != 3:
        raise ValueError(f"p: shape {p.shape}; expected a 3-D (nx, ny, nz) field")
    fluid = np.isfinite(p) if solid is None else ~_solid_array(solid, p.shape) & np.isfinite(p)
    idx = _to_index(points, dx, origin, rotation)
    upper = np.array(p.shape) - 1
    if np.any(idx < -1e-9) or np.any(idx > upper + 1e-9):
        bad = idx[np.any((idx < -1e-9) | (idx > upper + 1e-9), axis=1)][0]
        raise ValueError(f"points: index {bad.tolist()} lies outside the voxel box [0, {upper.tolist()}]")
    idx = np.clip(idx, 0.0, upper)
    lo = np.minimum(np.floor(idx).astype(int), np.maximum(upper - 1, 0))
    t = idx - lo
    num = np.zeros(len(idx))
    den = np.zeros(len(idx))
    values = np.where(fluid, p, 0.0)
    for corner in _HEX_CORNERS:  # 8 static corners
        ijk = np.minimum(lo + corner, upper)
        w = np.prod(np.where(corner == 1, t, 1.0 - t), axis=1)
        w = w * fluid[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
        num += w * values[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
        den += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12, num / np.where(den > 0, den, 1.0), np.nan)


def section_pressure(p, solid, axis: int = 0) -> np.ndarray:
    """Mean of ``p`` (nx, ny, nz) over the fluid voxels of each slice normal to ``axis``; NaN for an all-solid
    slice. Returns (n_axis,) in the unit of ``p``."""
    p = np.asarray(p, float)
    if p.ndim != 3:
        raise ValueError(f"p: shape {p.shape}; expected a 3-D (nx, ny, nz) field")
    if axis not in (0, 1, 2):
        raise ValueError(f"axis={axis!r}: expected 0, 1 or 2")
    fluid = ~_solid_array(solid, p.shape) & np.isfinite(p)
    other = tuple(d for d in range(3) if d != axis)
    count = fluid.sum(axis=other)
    total = np.where(fluid, p, 0.0).sum(axis=other)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def pressure_drop(section, x_up, x_down, dx=1.0, origin=0.0) -> float:
    """``p(x_up) − p(x_down)`` from a section-mean profile ``section`` (n,) (e.g. `section_pressure`), with
    slice i at ``origin + i·dx`` (m, or voxel units with the defaults); linear interpolation between slices.
    Positive when the pressure falls from ``x_up`` to ``x_down``; same unit as ``section``."""
    section = np.asarray(section, float)
    if section.ndim != 1 or section.size < 2:
        raise ValueError(f"section: shape {section.shape}; expected a 1-D profile of at least 2 slices")
    x = float(origin) + _dx_of(dx) * np.arange(section.size)
    ok = np.isfinite(section)
    for name, v in (("x_up", x_up), ("x_down", x_down)):
        if not x[0] <= float(v) <= x[-1]:
            raise ValueError(f"{name}={v!r}: expected a position within the profile [{x[0]:.6g}, {x[-1]:.6g}]")
    if ok.sum() < 2:
        raise ValueError("section: fewer than 2 finite slices; no fluid along the axis?")
    return float(np.interp(x_up, x[ok], section[ok]) - np.interp(x_down, x[ok], section[ok]))


def ffr(p_aortic_pa, p_distal_pa):
    """Fractional flow reserve ``p_distal / p_aortic`` (both Pa, absolute or relative to venous pressure)."""
    pa = np.asarray(p_aortic_pa, float)
    if not np.all(pa > 0):
        raise ValueError(f"p_aortic_pa={p_aortic_pa!r}: expected a positive aortic pressure in Pa")
    return np.asarray(p_distal_pa, float) / pa


def _cell_arrays(fields_: dict, keep: np.ndarray) -> dict:
    data = {}
    for name, value in fields_.items():
        v = np.asarray(value, float)
        if v.shape == keep.shape:
            data[name] = [v[keep]]
        elif v.ndim == 4 and v.shape[1:] == keep.shape:
            data[name] = [np.moveaxis(v, 0, -1)[keep]]
            if name == "velocity" and v.shape[0] == 3 and "speed" not in fields_:
                data["speed"] = [np.linalg.norm(data[name][0], axis=1)]
        else:
            raise ValueError(f"fields[{name!r}]: shape {v.shape}; expected {keep.shape} or (k,) + {keep.shape}")
    return data


def write_vtu(path, solid, units, fields_: dict, origin=None, rotation=None, include_solid: bool = False) -> None:
    """Write voxels as VTK hexahedra (``.vtu`` XML or legacy ``.vtk``, by suffix; atomic) for ParaView.

    ``solid`` (nx, ny, nz) bool (or an object with ``solid``, ``dx`` and ``origin``, e.g. a
    `cardiojax.threed.voxelise.Voxels`); ``units`` a `LatticeUnits` or the voxel size Δx (m); ``fields_``
    maps names to cell arrays (nx, ny, nz) or (k, nx, ny, nz), e.g. ``{"velocity": u (m/s), "pressure": p
    (Pa)}``; a 3-vector ``velocity`` also writes its magnitude ``speed``. Coordinates in m: voxel i is centred at
    ``origin + dx·(i @ rotation)`` (``origin`` (3,) m and ``rotation`` (3, 3) default to those of a `Voxels`
    ``solid``, else 0 and the identity). Only fluid cells are written unless ``include_solid``; cell data
    ``solid`` flags the solid ones (1).
    """
    s = _solid_array(solid)
    origin = np.asarray(getattr(solid, "origin", (0.0, 0.0, 0.0)) if origin is None else origin, float)
    rotation = np.asarray(getattr(solid, "rotation", np.eye(3)) if rotation is None else rotation, float)
    if origin.shape != (3,) or rotation.shape != (3, 3):
        raise ValueError(f"origin, rotation: shapes {origin.shape}, {rotation.shape}; expected (3,) and (3, 3)")
    dx = _dx_of(units if units is not None else getattr(solid, "dx", None))
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    if suffix not in ("vtu", "vtk"):
        raise ValueError(f"path={os.fspath(path)!r}: expected a .vtu or .vtk file name")
    import meshio

    keep = np.ones_like(s) if include_solid else ~s
    if not keep.any():
        raise ValueError("solid: no fluid voxel to write (every voxel is solid)")
    cells_ijk = np.argwhere(keep)
    corners = (cells_ijk[:, None, :] + _HEX_CORNERS[None]).reshape(-1, 3)
    ny1, nz1 = s.shape[1] + 1, s.shape[2] + 1
    used, inverse = np.unique((corners[:, 0] * ny1 + corners[:, 1]) * nz1 + corners[:, 2], return_inverse=True)
    ijk = np.stack([used // (ny1 * nz1), (used // nz1) % ny1, used % nz1], axis=1)
    points = origin + dx * ((ijk - 0.5) @ rotation)
    data = _cell_arrays(fields_, keep)
    data["solid"] = [s[keep].astype(np.uint8)]
    mesh = meshio.Mesh(points, [("hexahedron", inverse.reshape(-1, 8))], cell_data=data)
    with atomic_path(path) as tmp:
        meshio.write(tmp, mesh, file_format="vtu" if suffix == "vtu" else "vtk")


def _magnitude(v) -> tuple[np.ndarray, bool]:
    v = np.asarray(v, float)
    return (np.linalg.norm(v, axis=0), True) if v.ndim == 4 else (v, False)


def save_slices_png(path, fields_: dict, solid, dx, origin=(0.0, 0.0, 0.0), planes=("z", "y"),
                    title: str | None = None, units_label: dict | None = None) -> None:
    """PNG of mid-plane slices: one row per field of ``fields_`` (name → (nx, ny, nz), or (3, nx, ny, nz)
    drawn as its magnitude), one column per plane normal to an axis in ``planes`` through the box middle;
    solid voxels blank, a colour bar per panel, axes in mm. ``dx`` (m) or a `LatticeUnits`; ``origin`` (m);
    ``units_label`` maps a field name to its unit for the colour bar (default m/s for vectors, Pa else)."""
    from matplotlib.figure import Figure

    s = _solid_array(solid)
    h = _dx_of(dx)
    if not fields_:
        raise ValueError("fields_: expected at least one field to draw")
    for axis in planes:
        if axis not in _AXES:
            raise ValueError(f"planes: {axis!r}; expected names among 'x', 'y', 'z'")
    fig = Figure(figsize=(5.2 * len(planes), 2.6 * len(fields_) + 0.6), layout="constrained")
    axes = fig.subplots(len(fields_), len(planes), squeeze=False)
    org = np.asarray(origin, float)
    for row, (name, value) in enumerate(fields_.items()):
        data, vector = _magnitude(value)
        if data.shape != s.shape:
            raise ValueError(f"fields_[{name!r}]: shape {np.shape(value)}; expected {s.shape} or (3,) + {s.shape}")
        data = np.where(s, np.nan, data)
        unit = (units_label or {}).get(name, "m/s" if vector else "Pa")
        label = f"|{name}| ({unit})" if vector else f"{name} ({unit})"
        for col, plane in enumerate(planes):
            normal = _AXES[plane]
            a, b = (d for d in range(3) if d != normal)
            cut = np.take(data, s.shape[normal] // 2, axis=normal)
            ext = [1e3 * (org[a] - 0.5 * h), 1e3 * (org[a] + (s.shape[a] - 0.5) * h),
                   1e3 * (org[b] - 0.5 * h), 1e3 * (org[b] + (s.shape[b] - 0.5) * h)]
            ax = axes[row, col]
            im = ax.imshow(cut.T, origin="lower", extent=ext, cmap="viridis" if vector else "coolwarm",
                           aspect="equal", interpolation="nearest")
            fig.colorbar(im, ax=ax, label=label, shrink=0.9)
            ax.set_xlabel(f"{'xyz'[a]} (mm)")
            ax.set_ylabel(f"{'xyz'[b]} (mm)")
            ax.set_title(f"{'xyz'[normal]} = {1e3 * (org[normal] + s.shape[normal] // 2 * h):.2f} mm", fontsize=9)
    if title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def save_pressure_profile_png(path, x_m, p_pa, marks=(), title: str | None = None, reference=None) -> None:
    """PNG of a pressure profile ``p_pa`` (n,) in Pa (and mmHg on a twin axis) against ``x_m`` (n,) in m
    (plotted in mm); ``marks`` are positions (m) drawn as vertical lines (e.g. ΔP probes); ``reference`` an
    optional ``(x_m, p_pa, label)`` curve (e.g. the 0D model) drawn dashed."""
    from matplotlib.figure import Figure

    from cardiojax.units import MMHG

    x, p = np.asarray(x_m, float), np.asarray(p_pa, float)
    if x.shape != p.shape or x.ndim != 1:
        raise ValueError(f"x_m, p_pa: shapes {x.shape}, {p.shape}; expected two 1-D arrays of equal length")
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(1e3 * x, p, "-", color="C0", label="section-mean pressure (LBM)")
    if reference is not None:
        rx, rp, rlabel = reference
        ax.plot(1e3 * np.asarray(rx), np.asarray(rp), "--", color="C1", label=rlabel)
    for m in marks:
        ax.axvline(1e3 * float(m), color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("pressure (Pa)")
    twin = ax.secondary_yaxis("right", functions=(lambda v: v / MMHG, lambda v: v * MMHG))
    twin.set_ylabel("pressure (mmHg)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
