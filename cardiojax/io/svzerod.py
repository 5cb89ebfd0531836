"""svZeroDSolver JSON (CGS units) ↔ cardiojax block networks (SI units).

`read_svzerod` turns a svZeroDSolver input file into a `Network` and its
parameters in SI units. Supported: vessels ``BloodVessel`` (R_poiseuille, C,
L, stenosis_coefficient); junctions ``NORMAL_JUNCTION`` (alias
``internal_junction``) and ``BloodVesselJunction``; boundary conditions
``FLOW``, ``PRESSURE``, ``RESISTANCE``, ``RCR`` and ``CORONARY``. Anything
else, or a missing field, is a `ValueError` naming the block and the field —
nothing is silently ignored.

Time-dependent values (lists with a ``t`` list: one cardiac cycle) become
periodic `cardiojax.lumped.tables.Table` s, interpolated as svZeroDSolver
does; their steady value is the table mean (``Parameter::to_steady``).
``simulation_parameters`` become a `cardiojax.lumped.pulsatile.Simulation`.

`tree_to_svzerod` writes a `VesselTree` with a pressure inlet as such a
file, so svZeroDSolver can solve the same network (used by the side-by-side
benchmark).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from cardiojax.lumped.blocks import BLOCKS
from cardiojax.lumped.elements import segment_coefficients
from cardiojax.lumped.network import Network, NetworkBuilder, Params
from cardiojax.lumped.pulsatile import Simulation
from cardiojax.tree.traversal import is_outlet
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import (
    CGS_CAPACITANCE,
    CGS_FLOW,
    CGS_INDUCTANCE,
    CGS_PRESSURE,
    CGS_RESISTANCE,
    CGS_STENOSIS_COEFFICIENT,
    Blood,
)

# (svZeroDSolver name, cardiojax parameter, CGS→SI factor, default or None if required)
_BC_FIELDS: dict[str, tuple[str, list[tuple[str, str, float, float | None]]]] = {
    "FLOW": ("flow", [("Q", "Q", CGS_FLOW, None)]),
    "PRESSURE": ("pressure", [("P", "P", CGS_PRESSURE, None)]),
    "RESISTANCE": ("resistance", [("R", "R", CGS_RESISTANCE, None), ("Pd", "Pd", CGS_PRESSURE, None)]),
    "RCR": ("rcr", [("Rp", "Rp", CGS_RESISTANCE, None), ("C", "C", CGS_CAPACITANCE, None),
                    ("Rd", "Rd", CGS_RESISTANCE, None), ("Pd", "Pd", CGS_PRESSURE, 0.0)]),
    "CORONARY": ("coronary", [("Ra1", "Ra", CGS_RESISTANCE, None), ("Ra2", "Ram", CGS_RESISTANCE, None),
                              ("Rv1", "Rv", CGS_RESISTANCE, None), ("Ca", "Ca", CGS_CAPACITANCE, None),
                              ("Cc", "Cim", CGS_CAPACITANCE, None), ("Pim", "Pim", CGS_PRESSURE, None),
                              ("P_v", "Pv", CGS_PRESSURE, None)]),
}
_VESSEL_FIELDS = [("R_poiseuille", "R", CGS_RESISTANCE, None), ("C", "C", CGS_CAPACITANCE, 0.0),
                  ("L", "L", CGS_INDUCTANCE, 0.0),
                  ("stenosis_coefficient", "S", CGS_STENOSIS_COEFFICIENT, 0.0)]
_JUNCTION_FIELDS = [("R_poiseuille", "R", CGS_RESISTANCE, None), ("L", "L", CGS_INDUCTANCE, 0.0),
                    ("stenosis_coefficient", "S", CGS_STENOSIS_COEFFICIENT, 0.0)]
_UNSUPPORTED_KEYS = ("closed_loop_blocks", "valves", "chambers", "external_solver_coupling_blocks",
                     "initial_condition", "initial_condition_d")
# Top-level keys read here, or by svZeroDSolver's calibrator (the network stays valid).
_TOP_KEYS = ("simulation_parameters", "vessels", "junctions", "boundary_conditions", "description",
             "y", "dy", "calibration_parameters")
#: Parameters that must not be negative: resistances, capacitances, inductances. (Stenosis
#: coefficients may be: fitted models such as the VMR anatomy 0104_0001 carry small negative ones.)
NONNEGATIVE = ("R", "C", "L", "Rp", "Rd", "Ra", "Ram", "Rv", "Ca", "Cim")


_SIM_KEYS = {
    # svZeroDSolver key: (Simulation field, type, default or None if required)
    "number_of_cardiac_cycles": ("cycles", int, None),
    "number_of_time_pts_per_cardiac_cycle": ("pts_per_cycle", int, None),
    "rho_infty": ("rho_infty", float, 0.5),
    "steady_initial": ("steady_initial", bool, True),
    "output_all_cycles": ("output_all_cycles", bool, False),
    "output_interval": ("output_interval", int, 1),
    "output_mean_only": ("output_mean_only", bool, False),
    "output_variable_based": ("output_variable_based", bool, False),
    "output_derivative": ("output_derivative", bool, False),
    "maximum_nonlinear_iterations": ("max_iterations", int, 30),
}
# Keys read elsewhere (cardiac_period, the cycle-to-cycle rule) or that do not
# change cardiojax's answer (svZeroDSolver's own Newton tolerance; model
# metadata used by other SimVascular tools).
_SIM_OTHER = ("absolute_tolerance", "cardiac_period", "density", "viscosity", "model_name",
              "use_cycle_to_cycle_error", "sim_cycle_to_cycle_percent_error")


@dataclasses.dataclass(frozen=True)
class SvZeroDModel:
    """A svZeroDSolver input as a cardiojax network.

    Attributes:
      network: the static block network.
      params: parameters (SI); time-dependent values are periodic `Table` s
        (their mean is the steady value).
      simulation: the pulsatile time settings from ``simulation_parameters``,
        or None if the file has none (steady use only).
      config: the parsed input file.
    """

    network: Network
    params: Params
    simulation: Simulation | None
    config: dict[str, Any] = dataclasses.field(repr=False, compare=False)

    @property
    def variable_order(self) -> tuple[str, ...]:
        """Variable names in svZeroDSolver's order: per node flow then pressure, the nodes of
        vessel boundary conditions (in vessel order) then of junctions, then the boundary
        conditions' internal variables (in file order)."""
        cfg, nodes = self.config, []
        for v in cfg["vessels"]:
            bc = v.get("boundary_conditions", {})
            if "inlet" in bc:
                nodes.append(f"{bc['inlet']}:{v['vessel_name']}")
            if "outlet" in bc:
                nodes.append(f"{v['vessel_name']}:{bc['outlet']}")
        vessel = {v["vessel_id"]: v["vessel_name"] for v in cfg["vessels"]}
        for j in cfg.get("junctions", []):
            nodes += [f"{vessel[i]}:{j['junction_name']}" for i in j["inlet_vessels"]]
            nodes += [f"{j['junction_name']}:{vessel[o]}" for o in j["outlet_vessels"]]
        bc_rank = {bc["bc_name"]: k for k, bc in enumerate(cfg["boundary_conditions"])}
        internal = sorted((v for v in self.network.var_names if v.count(":") == 1),
                          key=lambda v: bc_rank[v.split(":", 1)[1]])
        return tuple(f"{kind}:{n}" for n in nodes for kind in ("flow", "pressure")) + tuple(internal)


def _load(source) -> dict:
    if isinstance(source, dict):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"svZeroDSolver input: got a {type(source).__name__}; expected a file path "
                         "or a parsed JSON object (dict)")
    with open(source) as fh:
        try:
            cfg = json.load(fh)
        except json.JSONDecodeError as err:
            raise ValueError(f"{source}: not valid JSON ({err})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{source}: the top level is a {type(cfg).__name__}; expected a JSON object")
    return cfg


def _require(obj: dict, key: str, where: str):
    if key not in obj:
        raise ValueError(f"{where}: missing field '{key}'")
    return obj[key]


def _numbers(raw) -> np.ndarray:
    """A JSON number or list of numbers as float64 (NaN where it is not one: booleans, strings)."""
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        return np.array([np.nan])
    return np.asarray(raw, np.float64)


def _values(values: dict, fields, where: str, kind: str) -> dict[str, Any]:
    """Convert one block's values from CGS to SI.

    A list with a matching ``t`` list is a periodic table, returned as a
    ``(times, values)`` pair; a one-element list is a constant.
    """
    known = {src for src, *_ in fields} | {"t"}
    for key in values:
        if not key.startswith("_") and key not in known:
            raise ValueError(f"{where}: unknown field '{key}' in its values; expected {sorted(known)}")
    timed = BLOCKS[kind].time_dependent
    out = {}
    for src, dst, factor, default in fields:
        if src not in values:
            if default is None:
                raise ValueError(f"{where}: missing field '{src}' in its values")
            out[dst] = default
            continue
        raw = values[src]
        arr = _numbers(raw) * factor
        if arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError(f"{where}: field '{src}' = {raw!r}; expected a finite number or list")
        if dst in NONNEGATIVE and np.any(arr < 0):
            raise ValueError(f"{where}: field '{src}' = {raw!r}; expected a value >= 0")
        if arr.ndim == 0 or arr.size == 1:
            out[dst] = float(arr.reshape(-1)[0])
            continue
        if dst not in timed:
            raise ValueError(f"{where}: field '{src}' is a list of {arr.size} values; expected a "
                             "single number (it cannot vary in time)")
        t = _numbers(_require(values, "t", f"{where} (time-dependent '{src}')"))
        if t.shape != arr.shape or not np.all(np.isfinite(t)) or not np.all(np.diff(t) > 0):
            raise ValueError(f"{where}: field 't' = {values['t']!r}; expected {arr.size} increasing "
                             f"times (s) matching '{src}'")
        out[dst] = (t, arr)
    return out


def _period(params: dict[str, dict[str, Any]], sim_cfg: dict) -> float:
    """The cardiac period: shared by every time table, else ``cardiac_period``, else 1 s."""
    periods = {(name, key): float(v[0][-1] - v[0][0])
               for name, p in params.items() for key, v in p.items() if isinstance(v, tuple)}
    given = sim_cfg.get("cardiac_period")
    if given is not None and (isinstance(given, bool) or not isinstance(given, (int, float))):
        raise ValueError(f"simulation_parameters: cardiac_period = {given!r}; expected a number (s)")
    given = float(given) if given is not None and given > 0 else None  # <= 0: unset (svZeroDSolver)
    if periods:
        (first, period), *rest = periods.items()
        for where, other in rest:  # svZeroDSolver requires the same period exactly
            if other != period:
                raise ValueError(f"block '{where[0]}': parameter '{where[1]}' has period {other} s but "
                                 f"block '{first[0]}' has {period} s; expected one cardiac period")
        if given is not None and given != period:
            raise ValueError(f"simulation_parameters: cardiac_period = {given!r}; expected {period} "
                             "(the period of the time tables)")
        return period
    return given if given is not None else 1.0


def _cycles_to_converge(sim_cfg: dict, period: float, bcs: dict) -> int | None:
    """svZeroDSolver's ``use_cycle_to_cycle_error``: cycles from the slowest RCR (Pfaller 2021, eq. 21)."""
    if not sim_cfg.get("use_cycle_to_cycle_error", False):
        return None
    tau = [p["Rd"] * p["C"] for kind, p in bcs.values() if kind == "rcr"]
    if not tau:
        raise ValueError("simulation_parameters: use_cycle_to_cycle_error = true without an RCR outlet "
                         "is not supported (svZeroDSolver then runs until the caps converge, a "
                         "data-dependent number of cycles); set number_of_cardiac_cycles instead")
    error = sim_cfg.get("sim_cycle_to_cycle_percent_error", 1.0)
    if isinstance(error, bool) or not isinstance(error, (int, float)) or not 0 < error < 100:
        raise ValueError(f"simulation_parameters: sim_cycle_to_cycle_percent_error = {error!r}; "
                         "expected a percentage in (0, 100)")
    return int(np.ceil(-max(tau) / period * np.log(error / 100.0)))


def _simulation(cfg: dict, period: float, linear: bool, bcs: dict) -> Simulation | None:
    sim_cfg = cfg.get("simulation_parameters")
    if sim_cfg is None:
        return None
    if sim_cfg.get("coupled_simulation"):
        raise ValueError("simulation_parameters: coupled_simulation = true is not supported; "
                         "expected a stand-alone 0D run")
    tol = sim_cfg.get("absolute_tolerance", 1e-8)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
        raise ValueError(f"simulation_parameters: absolute_tolerance = {tol!r}; expected a number > 0")
    known = set(_SIM_KEYS) | set(_SIM_OTHER)
    for key in sim_cfg:
        if not key.startswith("_") and key not in known:
            raise ValueError(f"simulation_parameters: unknown field '{key}'; expected one of {sorted(known)}")
    kwargs = {}
    for key, (field, typ, default) in _SIM_KEYS.items():
        value = sim_cfg.get(key, default)
        if value is None:
            raise ValueError(f"simulation_parameters: missing field '{key}'")
        if typ is bool and not isinstance(value, bool):
            raise ValueError(f"simulation_parameters: '{key}' = {value!r}; expected true or false")
        if typ is int and (isinstance(value, bool) or not float(value).is_integer()):
            raise ValueError(f"simulation_parameters: '{key}' = {value!r}; expected an integer")
        kwargs[field] = typ(value)
    cycles = _cycles_to_converge(sim_cfg, period, bcs)
    if cycles is not None:
        kwargs["cycles"] = cycles
    try:
        return Simulation(period=period, linear=linear, **kwargs)
    except ValueError as err:
        raise ValueError(f"simulation_parameters: {err}") from None


def read_svzerod(source) -> SvZeroDModel:
    """Read a svZeroDSolver JSON file (path or parsed dict) into a network (SI units)."""
    cfg = _load(source)
    for key in cfg:
        if key in _UNSUPPORTED_KEYS:
            if cfg[key]:
                raise ValueError(f"svZeroDSolver input: '{key}' blocks are not supported by cardiojax yet")
        elif not key.startswith("_") and key not in _TOP_KEYS:
            raise ValueError(f"svZeroDSolver input: unknown field '{key}'; expected one of {list(_TOP_KEYS)}")
    b = NetworkBuilder()
    names: set[str] = set()
    all_params: dict[str, dict[str, Any]] = {}
    bcs = {}
    for i, bc in enumerate(_require(cfg, "boundary_conditions", "svZeroDSolver input")):
        name = _unique(_require(bc, "bc_name", f"boundary_conditions[{i}]"), names, "bc_name")
        kind = _require(bc, "bc_type", f"boundary condition '{name}'")
        if kind not in _BC_FIELDS:
            raise ValueError(f"boundary condition '{name}': unknown bc_type {kind!r}; "
                             f"expected one of {sorted(_BC_FIELDS)}")
        values = _require(bc, "bc_values", f"boundary condition '{name}'")
        block_kind, fields = _BC_FIELDS[kind]
        bcs[name] = (block_kind, _values(values, fields, f"boundary condition '{name}' ({kind})",
                                         block_kind))
        all_params[name] = bcs[name][1]
    used_bcs = set()
    ends: dict[int, tuple[int, int]] = {}
    nonlinear = False
    for i, v in enumerate(_require(cfg, "vessels", "svZeroDSolver input")):
        name = _unique(_require(v, "vessel_name", f"vessels[{i}]"), names, "vessel_name")
        vid = _require(v, "vessel_id", f"vessel '{name}'")
        if vid in ends:
            raise ValueError(f"vessel '{name}': vessel_id {vid!r} is already used by another vessel; "
                             "expected unique ids")
        kind = _require(v, "zero_d_element_type", f"vessel '{name}'")
        if kind != "BloodVessel":
            raise ValueError(f"vessel '{name}': unknown zero_d_element_type {kind!r}; expected 'BloodVessel'")
        values = _require(v, "zero_d_element_values", f"vessel '{name}'")
        params = _values(values, _VESSEL_FIELDS, f"vessel '{name}'", "vessel")
        nonlinear |= params["S"] != 0.0
        inlet, outlet = b.node(), b.node()
        b.vessel(name, inlet, outlet, params)
        ends[vid] = (inlet, outlet)
        for side, bc_name in v.get("boundary_conditions", {}).items():
            if side not in ("inlet", "outlet"):
                raise ValueError(f"vessel '{name}': boundary_conditions key {side!r}; "
                                 "expected 'inlet' or 'outlet'")
            if bc_name not in bcs:
                raise ValueError(f"vessel '{name}': boundary condition {bc_name!r} is not defined "
                                 "in boundary_conditions")
            block_kind, bc_params = bcs[bc_name]
            if bc_name in used_bcs:
                raise ValueError(f"vessel '{name}': boundary condition '{bc_name}' is already attached "
                                 "to another vessel end; expected one boundary condition per end")
            used_bcs.add(bc_name)
            if side == "inlet":
                b.block(block_kind, bc_name, [], [inlet], bc_params)
            else:
                b.block(block_kind, bc_name, [outlet], [], bc_params)
    unused = sorted(set(bcs) - used_bcs)
    if unused:
        raise ValueError(f"boundary conditions {unused} are defined but not attached to any vessel")
    for i, j in enumerate(cfg.get("junctions", [])):
        nonlinear |= _junction(b, j, i, ends, names)
    net, params = b.build()
    period = _period(all_params, cfg.get("simulation_parameters") or {})
    return SvZeroDModel(net, params, _simulation(cfg, period, not nonlinear, bcs), cfg)


def _unique(name, names: set, field: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{field} = {name!r}; expected a non-empty string")
    if name in names:
        raise ValueError(f"{field} '{name}' is used twice; expected unique block names")
    names.add(name)
    return name


def _junction(b: NetworkBuilder, j: dict, i: int, ends: dict, names: set) -> bool:
    """Add one junction; returns whether it has a (nonlinear) stenosis term."""
    name = _unique(_require(j, "junction_name", f"junctions[{i}]"), names, "junction_name")
    kind = _require(j, "junction_type", f"junction '{name}'")
    ins = _require(j, "inlet_vessels", f"junction '{name}'")
    outs = _require(j, "outlet_vessels", f"junction '{name}'")
    if not isinstance(ins, list) or not isinstance(outs, list) or not ins or not outs:
        raise ValueError(f"junction '{name}': inlet_vessels = {ins!r}, outlet_vessels = {outs!r}; "
                         "expected non-empty lists of vessel ids")
    for vid in list(ins) + list(outs):
        if vid not in ends:
            raise ValueError(f"junction '{name}': vessel id {vid} does not exist")
    in_nodes = [ends[v][1] for v in ins]
    out_nodes = [ends[v][0] for v in outs]
    if kind in ("NORMAL_JUNCTION", "internal_junction"):
        if j.get("junction_values"):
            raise ValueError(f"junction '{name}' ({kind}): junction_values are not used by this "
                             "junction type; expected none (use BloodVesselJunction for R, L, S)")
        b.block("junction", name, in_nodes, out_nodes)
        return False
    if kind != "BloodVesselJunction":
        raise ValueError(f"junction '{name}': unknown junction_type {kind!r}; expected "
                         "'NORMAL_JUNCTION', 'internal_junction' or 'BloodVesselJunction'")
    if len(ins) != 1:
        raise ValueError(f"junction '{name}' (BloodVesselJunction): {len(ins)} inlet vessels; "
                         "expected exactly 1")
    values = _require(j, "junction_values", f"junction '{name}'")
    known = {src for src, *_ in _JUNCTION_FIELDS}
    for key in values:
        if not key.startswith("_") and key not in known:
            raise ValueError(f"junction '{name}': unknown field '{key}' in junction_values; "
                             f"expected {sorted(known)}")
    params = {}
    for src, dst, factor, default in _JUNCTION_FIELDS:
        raw = values.get(src, [default] * len(outs) if default is not None else None)
        if raw is None:
            raise ValueError(f"junction '{name}' (BloodVesselJunction): missing field '{src}'")
        arr = _numbers(raw) * factor
        if arr.shape != (len(outs),) or not np.all(np.isfinite(arr)) or (
                dst in NONNEGATIVE and np.any(arr < 0)):
            raise ValueError(f"junction '{name}': field '{src}' = {raw!r}; expected a list of "
                             f"{len(outs)} finite values{' >= 0' if dst in NONNEGATIVE else ''} "
                             "(one per outlet vessel)")
        params[dst] = arr
    b.block("vessel_junction", name, in_nodes, out_nodes, params)
    return bool(np.any(params["S"] != 0.0))


def tree_to_svzerod(
    tree: VesselTree,
    inlet_pressure: float,
    blood: Blood = Blood(),
    simulation_parameters: dict | None = None,
) -> dict:
    """svZeroDSolver input (CGS) for a single tree with a pressure inlet.

    Vessel ``seg{i}`` carries the segment's R and stenosis coefficient from
    `segment_coefficients` (no C, no L: steady); each branching segment end is
    a ``NORMAL_JUNCTION``; each outlet a ``RESISTANCE`` to its outlet pressure.
    """
    t = {k: np.asarray(v) for k, v in tree.arrays().items()}
    r, s = (np.asarray(x) for x in segment_coefficients(tree, blood))
    outlet = np.asarray(is_outlet(tree))
    valid = np.flatnonzero(t["valid"])
    pos = {int(i): n for n, i in enumerate(valid)}
    p_cgs = float(inlet_pressure) / CGS_PRESSURE
    bcs = [{"bc_name": "INFLOW", "bc_type": "PRESSURE", "bc_values": {"P": [p_cgs, p_cgs], "t": [0.0, 1.0]}}]
    vessels, junctions = [], []
    children: dict[int, list[int]] = {int(i): [] for i in valid}
    for i in valid:
        if t["parent"][i] >= 0:
            children[int(t["parent"][i])].append(pos[int(i)])
    for i in valid:
        i = int(i)
        v = {
            "vessel_id": pos[i],
            "vessel_name": f"seg{i}",
            "vessel_length": float(t["length"][i]) * 100.0,
            "zero_d_element_type": "BloodVessel",
            "zero_d_element_values": {
                "R_poiseuille": float(r[i]) / CGS_RESISTANCE,
                "stenosis_coefficient": float(s[i]) / CGS_STENOSIS_COEFFICIENT,
            },
        }
        bc = {}
        if t["parent"][i] < 0:
            bc["inlet"] = "INFLOW"
        if outlet[i]:
            bc["outlet"] = f"OUT{i}"
            bcs.append({"bc_name": f"OUT{i}", "bc_type": "RESISTANCE", "bc_values": {
                "R": float(t["outlet_resistance"][i]) / CGS_RESISTANCE,
                "Pd": float(t["outlet_pressure"][i]) / CGS_PRESSURE}})
        else:
            junctions.append({"junction_name": f"J{i}", "junction_type": "NORMAL_JUNCTION",
                              "inlet_vessels": [pos[i]], "outlet_vessels": children[i]})
        if bc:
            v["boundary_conditions"] = bc
        vessels.append(v)
    sim = {"number_of_cardiac_cycles": 1, "number_of_time_pts_per_cardiac_cycle": 2,
           "output_all_cycles": False}
    sim.update(simulation_parameters or {})
    return {"simulation_parameters": sim, "boundary_conditions": bcs, "vessels": vessels,
            "junctions": junctions}

