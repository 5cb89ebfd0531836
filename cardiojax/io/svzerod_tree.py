"""A svZeroDSolver model of a branching vessel network as a `VesselTree`.

Vessel ``k`` becomes one segment: length ``vessel_length`` (cm → m), a
uniform radius from its Poiseuille resistance, ``r = (8·μ·ℓ / (π·R))^¼``
(μ from ``simulation_parameters.viscosity``, default 0.04 P), parent = the
inlet vessel of the junction that feeds it. Outlets get the total
resistance of their boundary condition (``RESISTANCE`` R, ``RCR`` Rp + Rd,
``CORONARY`` Ra1 + Ra2 + Rv1) and its distal pressure. The file's lumped
values (C, L, stenosis coefficients) are not geometry and are dropped: the
tree carries no lesions. Files that are not a tree fed by one inlet (loops,
several inlets) are refused.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from cardiojax.io.svzerod import _load
from cardiojax.tree.ops import make_tree
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import CGS_PRESSURE, CGS_RESISTANCE

_VISCOSITY_CGS = 0.04  # P = g/(cm·s), svZeroDSolver's default blood viscosity
_OUTLET_R = {"RESISTANCE": ("R",), "RCR": ("Rp", "Rd"), "CORONARY": ("Ra1", "Ra2", "Rv1")}
_OUTLET_P = {"RESISTANCE": "Pd", "RCR": "Pd", "CORONARY": "P_v"}


def svzerod_to_tree(source, capacity: int | None = None) -> VesselTree:
    """The vessel tree of a svZeroDSolver file (path or parsed dict), SI units, validated."""
    cfg = _load(source)
    mu = float((cfg.get("simulation_parameters") or {}).get("viscosity", _VISCOSITY_CGS))
    vessels = {v["vessel_id"]: v for v in cfg.get("vessels", [])}
    bcs = {b["bc_name"]: b for b in cfg.get("boundary_conditions", [])}
    parent_of: dict[int, int] = {}
    for j in cfg.get("junctions", []):
        if len(j["inlet_vessels"]) != 1:
            raise ValueError(f"junction '{j['junction_name']}': {len(j['inlet_vessels'])} inlet vessels; "
                             "expected 1 (a tree)")
        for out in j["outlet_vessels"]:
            if out in parent_of:
                raise ValueError(f"vessel id {out} is fed by two junctions; expected a tree")
            parent_of[out] = j["inlet_vessels"][0]
    roots = [k for k in vessels if k not in parent_of]
    if len(roots) != 1:
        raise ValueError(f"vessels {sorted(roots)} have no parent; expected exactly one inlet vessel")
    children: dict[int, list[int]] = {k: [] for k in vessels}
    for child, par in parent_of.items():
        children[par].append(child)
    order, queue = [], deque(roots)
    while queue:  # host-side breadth-first order, parents before children
        k = queue.popleft()
        order.append(k)
        queue.extend(sorted(children[k]))
    if len(order) != len(vessels):
        lost = sorted(set(vessels) - set(order))
        raise ValueError(f"vessel ids {lost} are not reachable from the inlet vessel {roots[0]} "
                         "(a loop or a detached part); expected a tree")
    slot = {k: i for i, k in enumerate(order)}
    n = len(order)
    length, radius = np.zeros(n), np.zeros(n)
    r_out_bc, p_out_bc = np.zeros(n), np.zeros(n)
    for k in order:
        v, i = vessels[k], slot[k]
        if "vessel_length" not in v:
            raise ValueError(f"vessel '{v['vessel_name']}': missing field 'vessel_length' (cm)")
        ell = float(v["vessel_length"])
        r = float(v["zero_d_element_values"]["R_poiseuille"])
        if not (ell > 0 and r > 0):
            raise ValueError(f"vessel '{v['vessel_name']}': vessel_length = {ell}, R_poiseuille = {r}; "
                             "expected positive values to derive a radius")
        length[i] = ell / 100.0
        radius[i] = (8.0 * mu * ell / (np.pi * r)) ** 0.25 / 100.0
        out = v.get("boundary_conditions", {}).get("outlet")
        if out is not None:
            if out not in bcs:
                raise ValueError(f"vessel '{v['vessel_name']}': outlet boundary condition {out!r} is not "
                                 "defined in boundary_conditions")
            bc = bcs[out]
            kind = bc["bc_type"]
            if kind not in _OUTLET_R:
                raise ValueError(f"boundary condition '{out}': bc_type {kind!r} at an outlet; expected one "
                                 f"of {sorted(_OUTLET_R)}")
            values = bc["bc_values"]
            r_out_bc[i] = sum(float(np.mean(values[key])) for key in _OUTLET_R[kind]) * CGS_RESISTANCE
            p_out_bc[i] = float(np.mean(values.get(_OUTLET_P[kind], 0.0))) * CGS_PRESSURE
    parent = np.array([-1 if k in roots else slot[parent_of[k]] for k in order])
    return make_tree(parent, length, radius, radius, outlet_resistance=r_out_bc, outlet_pressure=p_out_bc,
                     capacity=capacity)
