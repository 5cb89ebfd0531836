"""Reader for openBF / jaxFlowSim YAML networks (SI units) into a `cardiojax.oned.NetworkSpec`.

Follows openBF's conventions: vessels join at the nodes named by ``sn``
(source) and ``tn`` (target); each vessel is cut into
``M = max(5, ceil(L/1 mm), M_given)`` cells; the wall stiffness is
``K = E·h0/r0`` (openBF's ``β = (4/3)·K``) with h0 from openBF's empirical
thickness law when absent; the friction uses the velocity-profile exponent
``gamma_profile`` (default 9); ``inlet: 1`` (or ``Q``) is a flow waveform and
``2`` (or ``P``) a pressure waveform read from ``inlet file`` (two columns,
time and value, one period); ``outlet: 1`` is a reflection coefficient
``Rt``, ``2`` a two-element Windkessel (``R1`` total resistance, ``Cc``;
openBF splits off the characteristic impedance ρc0/A0 as the proximal
resistance) and ``3`` an RCR (``R1``, ``R2``, ``Cc``). Bifurcations keep the
static pressure continuous (as openBF), one-to-one conjunctions the total
pressure.

Inlet files are looked up as given, then relative to the YAML file, then by
name next to the YAML file (the shipped YAML files name repository paths).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cardiojax.oned.model import InletSpec, JunctionSpec, NetworkSpec, OutletSpec, VesselSpec
from cardiojax.units import Blood

_VESSEL_KEYS = {"label", "sn", "tn", "L", "R0", "Rp", "Rd", "E", "h0", "Pext", "M", "inlet", "inlet file",
                "inlet number", "outlet", "Rt", "R1", "R2", "Cc", "gamma_profile", "phi", "Cca"}


def openbf_thickness(r0: float) -> float:
    """openBF's default wall thickness for a lumen radius r0 (m), m."""
    return r0 * (0.2802 * math.exp(-5.053e2 * r0) + 0.1324 * math.exp(-0.1114e2 * r0))


def _find(path_text: str, base: Path) -> Path:
    p = Path(path_text)
    for cand in (p, base / p, base / p.name):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"inlet file {path_text!r} not found (also looked in {base})")


def _num(vessel: dict, key: str, label: str) -> float:
    val = vessel[key]
    try:  # PyYAML reads "400.0e3" (no exponent sign) as a string; openBF's parser as a number
        out = float(val) if not isinstance(val, bool) else float("nan")
    except (TypeError, ValueError):
        out = float("nan")
    if not math.isfinite(out):
        raise ValueError(f"vessel {label!r}: {key}={val!r}, expected a number")
    return out


def read_openbf(path, *, cells_per_metre: float = 1e3) -> NetworkSpec:
    """Read an openBF/jaxFlowSim YAML network file into a `NetworkSpec`."""
    import yaml

    path = Path(path)
    with open(path) as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping with 'blood', 'solver' and 'network'")
    for section in ("blood", "network"):
        if section not in data:
            raise ValueError(f"{path}: missing section {section!r}")
    blood_d = data["blood"]
    for key in ("rho", "mu"):
        if key not in blood_d:
            raise ValueError(f"{path}: blood section is missing {key!r}")
    blood = Blood(float(blood_d["rho"]), float(blood_d["mu"]))
    network = data["network"]
    if not isinstance(network, list) or not network:
        raise ValueError(f"{path}: 'network' must be a non-empty list of vessels")
    vessels, inlets, outlets = [], [], []
    profile = None
    period = None
    for i, v in enumerate(network):
        label = str(v.get("label", f"#{i}"))
        unknown = set(v) - _VESSEL_KEYS
        if unknown:
            raise ValueError(f"vessel {label!r}: unknown field(s) {sorted(unknown)}")
        for key in ("sn", "tn", "L", "E"):
            if key not in v:
                raise ValueError(f"vessel {label!r}: missing field {key!r}")
        length = _num(v, "L", label)
        if "R0" in v:
            rp = rd = _num(v, "R0", label)
        elif "Rp" in v and "Rd" in v:
            rp, rd = _num(v, "Rp", label), _num(v, "Rd", label)
        else:
            raise ValueError(f"vessel {label!r}: missing lumen radius ('R0' or 'Rp' and 'Rd')")
        for key, val in (("L", length), ("R0/Rp", rp), ("Rd", rd), ("E", _num(v, "E", label))):
            if val <= 0:
                raise ValueError(f"vessel {label!r}: {key}={val!r}, expected a positive number (SI units)")
        h0 = (_num(v, "h0", label) if "h0" in v else 0.0) or openbf_thickness(0.5 * (rp + rd))
        m_cells = max(5, math.ceil(length * cells_per_metre), int(v.get("M", 0)))
        vessels.append(VesselSpec(label, length, rp, rd, {"Eh": _num(v, "E", label) * h0}, m_cells,
                                  p_ref=_num(v, "Pext", label) if "Pext" in v else 0.0))
        gp = float(v.get("gamma_profile", 9.0))
        if profile is not None and gp != profile:
            raise ValueError(f"vessel {label!r}: gamma_profile={gp} differs from other vessels ({profile})")
        profile = gp
        if "inlet" in v:
            kind = {1: "flow", "Q": "flow", 2: "pressure", "P": "pressure"}.get(v["inlet"])
            if kind is None:
                raise ValueError(f"vessel {label!r}: inlet={v['inlet']!r}, expected 1/'Q' (flow) or 2/'P' (pressure)")
            if "inlet file" not in v:
                raise ValueError(f"vessel {label!r}: missing 'inlet file'")
            table = np.loadtxt(_find(str(v["inlet file"]), path.parent))
            if table.ndim != 2 or table.shape[1] != 2 or np.any(np.diff(table[:, 0]) <= 0):
                raise ValueError(f"vessel {label!r}: inlet file must have two columns with increasing times")
            inlets.append(InletSpec(i, kind, table[:, 0], table[:, 1]))
            period = float(table[-1, 0] - table[0, 0])
        if "outlet" in v:
            kind = v["outlet"]
            if kind in (1, "reflection"):
                outlets.append(OutletSpec(i, "reflection", {"Rt": _num(v, "Rt", label)}))
            elif kind in (3, "wk3"):
                outlets.append(OutletSpec(i, "rcr", {"Rp": _num(v, "R1", label), "Rd": _num(v, "R2", label),
                                                     "C": _num(v, "Cc", label), "Pd": 0.0}))
            elif kind in (2, "wk2"):
                r0 = rd
                k = _num(v, "E", label) * h0 / r0
                c0 = math.sqrt(2.0 * k / (3.0 * blood.density))
                rc = blood.density * c0 / (math.pi * r0**2)
                outlets.append(OutletSpec(i, "rcr", {"Rp": rc, "Rd": _num(v, "R1", label) - rc,
                                                     "C": _num(v, "Cc", label), "Pd": 0.0}))
            else:
                raise ValueError(f"vessel {label!r}: unknown outlet type {kind!r}; expected 1 (reflection), "
                                 f"2 (wk2) or 3 (wk3)")
    if not inlets:
        raise ValueError(f"{path}: no vessel has an inlet")
    # junctions from the node numbers
    nodes: dict = {}
    for i, v in enumerate(network):
        nodes.setdefault(v["tn"], {"out": [], "in": []})["out"].append(i)
        nodes.setdefault(v["sn"], {"out": [], "in": []})["in"].append(i)
    junctions = []
    for node, ends in nodes.items():
        if ends["out"] and ends["in"]:
            kind = "total" if len(ends["out"]) == 1 and len(ends["in"]) == 1 else "static"
            junctions.append(JunctionSpec([(i, "out") for i in ends["out"]] + [(i, "in") for i in ends["in"]],
                                          pressure=kind))
        elif len(ends["out"]) + len(ends["in"]) > 1:
            raise ValueError(f"{path}: node {node} joins vessels {ends} that do not continue one another")
    return NetworkSpec(vessels, junctions, inlets, outlets, period, blood, "beta", profile or 9.0,
                       name=str(data.get("proj_name", data.get("project name", path.stem))))


def read_last(path) -> np.ndarray:
    """An openBF ``.last`` table: (rows, 6) with time and the value at 5 nodes."""
    return np.loadtxt(path)
