"""Reader for svOneDSolver ``.in`` decks (CGS units) into a `cardiojax.oned.NetworkSpec` (SI).

Cards read: ``MODEL``, ``NODE``, ``JOINT`` / ``JOINTINLET`` / ``JOINTOUTLET``,
``SEGMENT``, ``DATATABLE … LIST … ENDDATATABLE``, ``SOLVEROPTIONS``,
``MATERIAL`` (``OLUFSEN``) and ``OUTPUT``. The model follows svOneDSolver:

* the Olufsen tube law with ``K = k1·exp(k2·r0) + k3`` and the material's
  reference pressure, and the friction of its velocity-profile exponent
  (``−2(n+2)πν``: Poiseuille for n = 2);
* joints keep the static pressure continuous;
* a segment with loss type ``STENOSIS`` becomes a lumped Young–Tsai element
  (Kt = 1.52, lesion length = segment length, reference = the upstream
  segment's outlet area) joining the segments on either side, as in the
  analytical solution shipped with ``tube_stenosis_r.in``;
* outlet conditions ``RESISTANCE`` (R to 0 Pa), ``RCR`` (table rows Rp, C,
  Rd), ``PRESSURE`` (a table of P(t)) and ``CORONARY`` are mapped onto the
  shared 0D blocks; the inlet table of ``SOLVEROPTIONS`` is a ``FLOW`` inlet.

* a segment of n finite elements becomes n + 1 points of a ``"node"`` grid
  (`NetworkSpec.grid`), so that the solution at its ends sits on its nodes.

Unsupported cards or options raise an error naming the card and the value.
`SvOneDDeck.segment_vessel` maps the deck's segment ids to vessel indices
(a stenosis segment maps to ``None``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from cardiojax.oned.model import InletSpec, JunctionSpec, NetworkSpec, OutletSpec, VesselSpec, stenosis_loss
from cardiojax.units import CGS_CAPACITANCE, CGS_FLOW, CGS_PRESSURE, CGS_RESISTANCE, CM, Blood

_P, _Q, _R, _C = CGS_PRESSURE, CGS_FLOW, CGS_RESISTANCE, CGS_CAPACITANCE


@dataclasses.dataclass
class SvOneDDeck:
    """A read deck: the ``spec``, the deck's time step ``dt`` (s), saved-step settings, the
    inlet table name, and ``segment_vessel`` (segment id → vessel index or None)."""

    spec: NetworkSpec
    dt: float
    save_every: int
    max_steps: int
    segment_vessel: dict[int, int | None]
    segment_names: dict[int, str]


def _tokens(path: Path):
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line.split())
    return lines


def _f(tok: str, card: str, field: str) -> float:
    try:
        val = float(tok)
    except ValueError:
        raise ValueError(f"{card}: {field}={tok!r}, expected a number") from None
    if not math.isfinite(val):
        raise ValueError(f"{card}: {field}={tok!r}, expected a finite number")
    return val


def read_svonedsolver(path, *, cells_per_segment: int | None = None) -> SvOneDDeck:
    """Read an svOneDSolver deck; ``cells_per_segment`` overrides the deck's element counts."""
    path = Path(path)
    lines = _tokens(path)
    tables: dict[str, np.ndarray] = {}
    segments, joints, j_in, j_out, materials = [], {}, {}, {}, {}
    options = None
    i = 0
    while i < len(lines):
        tok = lines[i]
        card = tok[0].upper()
        if card == "DATATABLE":
            name, kind = tok[1], tok[2].upper()
            if kind != "LIST":
                raise ValueError(f"DATATABLE {name}: type {kind!r} is not supported; expected LIST")
            rows = []
            i += 1
            while i < len(lines) and lines[i][0].upper() != "ENDDATATABLE":
                rows.append([_f(t, f"DATATABLE {name}", "value") for t in lines[i]])
                i += 1
            tables[name] = np.array(rows, dtype=float)
        elif card == "SEGMENT":
            if len(tok) < 17:
                raise ValueError(f"SEGMENT {tok[1] if len(tok) > 1 else ''}: expected 16 fields, got {len(tok) - 1}")
            segments.append(tok[1:17])
        elif card == "JOINT":
            joints[tok[1]] = (tok[3], tok[4])
        elif card == "JOINTINLET":
            j_in[tok[1]] = [int(t) for t in tok[3:3 + int(tok[2])]]
        elif card == "JOINTOUTLET":
            j_out[tok[1]] = [int(t) for t in tok[3:3 + int(tok[2])]]
        elif card == "MATERIAL":
            name, kind = tok[1], tok[2].upper()
            if kind != "OLUFSEN":
                raise ValueError(f"MATERIAL {name}: type {kind!r} is not supported; expected OLUFSEN")
            materials[name] = [_f(t, f"MATERIAL {name}", "parameter") for t in tok[3:10]]
        elif card == "SOLVEROPTIONS":
            options = tok[1:]
        elif card in ("MODEL", "NODE", "OUTPUT"):
            pass
        else:
            raise ValueError(f"{path.name}: unknown card {tok[0]!r}")
        i += 1
    if options is None:
        raise ValueError(f"{path.name}: missing SOLVEROPTIONS card")
    if not segments:
        raise ValueError(f"{path.name}: no SEGMENT card")
    dt = _f(options[0], "SOLVEROPTIONS", "time step")
    save_every, max_steps = int(options[1]), int(options[2])
    inlet_table, inlet_type = options[4], options[5].upper()
    if inlet_type != "FLOW":
        raise ValueError(f"SOLVEROPTIONS: inlet type {inlet_type!r} is not supported; expected FLOW")
    blood = None
    profile = None
    vessels, seg_vessel, seg_names, seg_info = [], {}, {}, {}
    for s in segments:
        name, sid = s[0], int(s[1])
        card = f"SEGMENT {name}"
        length = _f(s[2], card, "length") * CM
        n_el = int(s[3])
        a_in, a_out = _f(s[6], card, "inlet area"), _f(s[7], card, "outlet area")
        for field, val in (("length", length), ("inlet area", a_in), ("outlet area", a_out)):
            if val <= 0:
                raise ValueError(f"{card}: {field}={val!r}, expected a positive number")
        mat = s[9]
        if mat not in materials:
            raise ValueError(f"{card}: material {mat!r} is not defined")
        rho, mu, p0, expo, k1, k2, k3 = materials[mat]
        b = Blood(rho * 1e3, mu * 0.1)
        if blood is not None and (b != blood or expo != profile):
            raise ValueError(f"{card}: material {mat!r} differs from the others (one fluid per network)")
        blood, profile = b, expo
        loss = s[10].upper()
        seg_info[sid] = dict(name=name, length=length, a_in=a_in * CM**2, a_out=a_out * CM**2, loss=loss,
                             upstream=int(s[12]), bc=s[14].upper(), table=s[15])
        seg_names[sid] = name
        if loss == "STENOSIS":
            seg_vessel[sid] = None
            continue
        if loss != "NONE":
            raise ValueError(f"{card}: loss type {loss!r} is not supported; expected NONE or STENOSIS")
        wall = {"k1": k1 * _P, "k2": k2 / CM, "k3": k3 * _P}
        seg_vessel[sid] = len(vessels)
        vessels.append(VesselSpec(name, length, math.sqrt(a_in * CM**2 / math.pi), math.sqrt(a_out * CM**2 / math.pi),
                                  wall, cells_per_segment or max(n_el + 1, 3), p_ref=p0 * _P))
    # joints -> junctions; a stenosis segment between two joints becomes one junction with a loss
    joint_list = [(j_in[a], j_out[b]) for a, b in joints.values()]
    junctions = []
    through = {}
    for ins, outs in joint_list:
        sten_out = [o for o in outs if seg_vessel.get(o, -1) is None]
        if sten_out:
            if len(ins) != 1 or len(outs) != 1:
                raise ValueError("a STENOSIS segment must sit between two single-segment joints")
            through[sten_out[0]] = ins[0]
    for ins, outs in joint_list:
        if any(seg_vessel.get(o, -1) is None for o in outs):
            continue
        if any(seg_vessel.get(x, -1) is None for x in ins):
            sten = ins[0]
            up = through[sten]
            info = seg_info[sten]
            r_up = math.sqrt(seg_info[up]["a_out"] / math.pi)
            severity = 1.0 - math.sqrt(info["a_in"] / seg_info[up]["a_out"])
            loss = stenosis_loss(r_up, severity, info["length"], blood)
            junctions.append(JunctionSpec([(seg_vessel[up], "out"), (seg_vessel[outs[0]], "in")], pressure="static",
                                          losses=[(0.0, 0.0), loss]))
            continue
        for x in ins + outs:
            if x not in seg_vessel:
                raise ValueError(f"JOINT: segment id {x} is not defined")
        junctions.append(JunctionSpec([(seg_vessel[x], "out") for x in ins] + [(seg_vessel[x], "in") for x in outs],
                                      pressure="static"))
    # inlet: the segment whose inlet is not fed by a joint
    fed = {o for _, outs in joint_list for o in outs}
    roots = [sid for sid, v in seg_vessel.items() if v is not None and sid not in fed]
    if len(roots) != 1:
        raise ValueError(f"{path.name}: expected one inlet segment, found {roots}")
    if inlet_table not in tables:
        raise ValueError(f"SOLVEROPTIONS: inlet table {inlet_table!r} is not defined")
    tab = tables[inlet_table]
    inlets = [InletSpec(seg_vessel[roots[0]], "flow", tab[:, 0], tab[:, 1] * _Q)]
    period = float(tab[-1, 0] - tab[0, 0]) if tab.shape[0] > 1 else 1.0
    outlets = []
    for sid, info in seg_info.items():
        bc, v = info["bc"], seg_vessel[sid]
        if bc == "NOBOUND":
            continue
        if v is None:
            raise ValueError(f"SEGMENT {info['name']}: a STENOSIS segment cannot carry the outlet condition")
        card = f"SEGMENT {info['name']}"
        if info["table"] not in tables:
            raise ValueError(f"{card}: table {info['table']!r} is not defined")
        t = tables[info["table"]]
        if bc == "RESISTANCE":
            outlets.append(OutletSpec(v, "resistance", {"R": t[0, 1] * _R, "Pd": 0.0}))
        elif bc == "RCR":
            if t.shape[0] < 3:
                raise ValueError(f"{card}: RCR table needs 3 rows (Rp, C, Rd)")
            outlets.append(OutletSpec(v, "rcr", {"Rp": t[0, 1] * _R, "C": t[1, 1] * _C, "Rd": t[2, 1] * _R, "Pd": 0.0}))
        elif bc == "PRESSURE":
            vals = t[:, 1] * _P
            outlets.append(OutletSpec(v, "pressure", {"P": (t[:, 0], vals) if t.shape[0] > 1 else float(vals[0])}))
        else:
            raise ValueError(f"{card}: boundary condition {bc!r} is not supported; "
                             "expected RESISTANCE, RCR, PRESSURE or NOBOUND")
    spec = NetworkSpec(vessels, junctions, inlets, outlets, period, blood, "olufsen", profile, name=path.stem,
                       grid="node")
    return SvOneDDeck(spec, dt, save_every, max_steps, seg_vessel, seg_names)
