"""FDA benchmark nozzle (Round Robin #1): reader of the five labs' PIV data and the nozzle's radius profile.

Data: ``../shared/data/fda_nozzle/OSEL-DAM_CFD-and-Blood-Damage-Benchmarks/<case>/PIV_*_<lab>.txt``
relative to the project root (see its PROVENANCE.md; Hariharan et al., J Biomech Eng 133:041002, 2011).
All quantities in SI units: positions in m, velocities in m/s, pressures in Pa. ``z`` is the nozzle axis
(flow towards +z), with the sudden expansion at z = 0 in the ``SE_*`` cases; ``r`` the distance from it.

Geometry (Stewart et al., Cardiovasc Eng Technol 3:139, 2012; the data files state only the flow direction
and ``geometry-sudden-z 0.0``): inlet and outlet diameter 12 mm, throat diameter 4 mm and length 40 mm
(z = −0.04 m … 0), upstream of it a conical converger of half-angle 10° (12 → 4 mm over
4 mm / tan 10° = 22.7 mm). The data fix these: the pressure taps lie at |r| = 6 mm upstream of
z = −0.0627 m, the centreline velocity at z = −0.088 m is 2·Q/(π·6 mm²) (Poiseuille) and the throat
profiles end at |r| = 2 mm.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data" / "fda_nozzle" / "OSEL-DAM_CFD-and-Blood-Damage-Benchmarks"

#: Nozzle dimensions (m) in the sudden-expansion orientation.
R_OUTER = 0.006
R_THROAT = 0.002
Z_THROAT_START = -0.04
Z_EXPANSION = 0.0
CONE_HALF_ANGLE_DEG = 10.0
Z_CONE_START = Z_THROAT_START - (R_OUTER - R_THROAT) / math.tan(math.radians(CONE_HALF_ANGLE_DEG))
#: Wall pressure taps (m) of the pressure difference compared in the round robin.
Z_TAP_UPSTREAM, Z_TAP_DOWNSTREAM = -0.09032, 0.032


def nozzle_radius(z):
    """Lumen radius (m) at axial position ``z`` (m, array or scalar) of the sudden-expansion nozzle:
    6 mm upstream, linear cone to 2 mm at z = −0.04 m, 2 mm throat, 6 mm from the expansion at z = 0 on."""
    z = np.asarray(z, float)
    cone = R_OUTER + (R_THROAT - R_OUTER) * (z - Z_CONE_START) / (Z_THROAT_START - Z_CONE_START)
    r = np.where(z < Z_CONE_START, R_OUTER, np.where(z < Z_THROAT_START, cone, R_THROAT))
    return np.where(z < Z_EXPANSION, r, R_OUTER)


@dataclasses.dataclass(frozen=True)
class LabFile:
    """One lab's file: ``header`` (key → text value) and ``blocks`` (block name, optional z in m) → (N, 2)
    rows ``(position, value)``; blocks the file marks ``deleted-`` are kept apart in ``deleted``."""

    lab: str
    header: dict
    blocks: dict
    deleted: dict

    def block(self, name: str, z: float | None = None):
        """Rows of block ``name`` (at axial station ``z`` in m for profile blocks), or None if absent."""
        for (n, bz), rows in self.blocks.items():
            if n == name and (z is None and bz is None or z is not None and bz is not None and abs(bz - z) < 1e-7):
                return rows
        return None


def read_lab_file(path) -> LabFile:
    """Parse one round-robin text file (format in the data's PROVENANCE.md)."""
    path = Path(path)
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    header, blocks, deleted = {}, {}, {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        key, _, rest = line.partition(" ")
        if key.startswith(("plot-", "deleted-plot-")):
            tokens = rest.split()
            z = float(tokens[0]) if tokens and key.startswith(("plot-profile", "deleted-plot-profile")) else None
            try:
                n = int(lines[i + 1])
                rows = np.array([[float(v) for v in lines[i + 2 + k].split()[:2]] for k in range(n)]).reshape(n, 2)
            except (IndexError, ValueError) as err:
                raise ValueError(f"{path}: block {line!r} at line {i + 1}: expected a row count and that many "
                                 f"'position value' rows ({err})") from None
            name = key.removeprefix("deleted-")
            (deleted if key.startswith("deleted-") else blocks)[(name, z)] = rows
            i += 2 + n
        else:
            header[key] = rest.strip().strip('"')
            i += 1
    lab = header.get("dataset-code", path.stem.rsplit("_", 1)[-1])
    return LabFile(lab, header, blocks, deleted)


@dataclasses.dataclass(frozen=True)
class Case:
    """A round-robin case (e.g. ``SE_exp_0500``): the labs' files and the fluid (SI units)."""

    name: str
    labs: dict
    density: float
    viscosity: float
    flow_rate: float

    @property
    def kinematic_viscosity(self) -> float:
        """ν = μ/ρ (m²/s)."""
        return self.viscosity / self.density

    @property
    def throat_velocity(self) -> float:
        """Mean throat velocity Q/(π R_t²) (m/s)."""
        return self.flow_rate / (math.pi * R_THROAT**2)

    @property
    def reynolds(self) -> float:
        """Throat Reynolds number ρ·U_t·D_t/μ."""
        return self.density * self.throat_velocity * 2 * R_THROAT / self.viscosity


def load_case(name: str = "SE_exp_0500", data_dir=None) -> Case:
    """Read every lab file of case ``name``; the labs must agree on density, viscosity and flow rate."""
    folder = Path(data_dir or DATA_DIR) / name
    files = sorted(folder.glob("PIV_*.txt"))
    if not files:
        raise ValueError(f"case={name!r}: no PIV_*.txt files in {folder}; expected one of the round-robin "
                         "folders (e.g. SE_exp_0500)")
    labs = {lf.lab: lf for lf in map(read_lab_file, files)}
    fluid = {}
    for key in ("fluid-density", "fluid-viscosity", "fluid-volumetric-flow-rate"):
        vals = {float(lf.header[key]) for lf in labs.values()}
        if len(vals) != 1:
            raise ValueError(f"case={name!r}: the labs disagree on {key}: {sorted(vals)}")
        fluid[key] = vals.pop()
    return Case(name, labs, fluid["fluid-density"], fluid["fluid-viscosity"], fluid["fluid-volumetric-flow-rate"])


def centreline(case: Case) -> dict:
    """Each lab's centreline axial velocity: lab → (z (m), u_z (m/s)) arrays."""
    out = {}
    for lab, lf in case.labs.items():
        rows = lf.block("plot-z-distribution-axial-velocity")
        if rows is not None:
            out[lab] = (rows[:, 0], rows[:, 1])
    return out


def centreline_stats(case: Case):
    """Lab statistics of the centreline velocity at every measured station: ``(z, mean, min, max, count)``
    arrays (m, m/s), over the labs that report that station."""
    per_lab = centreline(case)
    zs = np.unique(np.round(np.concatenate([z for z, _ in per_lab.values()]), 7))
    stats = []
    for z in zs:
        vals = [u[np.abs(zl - z) < 1e-7][0] for zl, u in per_lab.values() if np.any(np.abs(zl - z) < 1e-7)]
        stats.append((np.mean(vals), np.min(vals), np.max(vals), len(vals)))
    mean, lo, hi, count = (np.array(c) for c in zip(*stats))
    return zs, mean, lo, hi, count.astype(int)


def radial_profile(case: Case, z: float, r, quantity: str = "axial-velocity"):
    """Lab-mean radial profile at station ``z`` (m) on radii ``r`` (m, ≥ 0): each lab's profile is folded
    about the axis (both halves averaged) and interpolated onto ``r``, zero beyond its last measured radius
    with data; returns ``(mean, per_lab)``, ``per_lab`` a dict lab → values (labs without the station
    are left out)."""
    r = np.asarray(r, float)
    if np.any(r < 0):
        raise ValueError(f"r: min {r.min()!r}; expected radii >= 0 (m)")
    per_lab = {}
    for lab, lf in case.labs.items():
        rows = lf.block(f"plot-profile-{quantity}-at-z", z)
        if rows is None:
            continue
        halves = []
        for sign in (1.0, -1.0):
            pos, val = sign * rows[:, 0], rows[:, 1]
            keep = pos >= -1e-4  # this half, plus the axis
            order = np.argsort(pos[keep])
            halves.append(np.interp(r, pos[keep][order], val[keep][order], right=0.0))
        per_lab[lab] = 0.5 * (halves[0] + halves[1])
    if not per_lab:
        raise ValueError(f"z={z!r}: no lab reports plot-profile-{quantity}-at-z there (case {case.name})")
    return np.mean(list(per_lab.values()), axis=0), per_lab


def wall_pressure(case: Case) -> dict:
    """Each lab's wall pressure (gauge, Pa): lab → (z (m), p (Pa)); blocks the file marks deleted are left
    out (lab 297 at Re 500)."""
    out = {}
    for lab, lf in case.labs.items():
        rows = lf.block("plot-wall-distribution-pressure")
        if rows is not None:
            out[lab] = (rows[:, 0], rows[:, 1])
    return out


def wall_pressure_difference(case: Case, z_up: float = Z_TAP_UPSTREAM, z_down: float = Z_TAP_DOWNSTREAM) -> dict:
    """Each lab's p(z_up) − p(z_down) (Pa) at its pressure taps within 0.1 mm of ``z_up``, ``z_down`` (m)."""
    out = {}
    for lab, (z, p) in wall_pressure(case).items():
        up, down = np.abs(z - z_up) < 1e-4, np.abs(z - z_down) < 1e-4
        if up.any() and down.any():
            out[lab] = float(p[up][0] - p[down][0])
    return out
