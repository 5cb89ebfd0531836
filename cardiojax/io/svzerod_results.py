"""Pulsatile results in svZeroDSolver's layout (CGS units), as arrays and CSV.

Vessel-based (default): one row per vessel and reported time with columns
``name, time, flow_in, flow_out, pressure_in, pressure_out`` (plus
``d_flow_in, d_flow_out, d_pressure_in, d_pressure_out`` with
``output_derivative``). Variable-based (``output_variable_based``): rows
``name, time, y`` (plus ``ydot``) for every variable, named as svZeroDSolver
names them (``pressure:<up>:<down>``, ``flow:<up>:<down>``,
``pressure_c:<block>``, ``volume_im:<block>``). With ``output_mean_only``
each name has one row holding its time mean and an empty time.

Values are in CGS (dyn/cm², cm³/s, cm³) like svZeroDSolver's output; the
arrays inside cardiojax stay SI.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.lumped.network import Network
from cardiojax.lumped.pulsatile import Simulation, Solution
from cardiojax.units import CGS_FLOW, CGS_PRESSURE, CGS_VOLUME

VESSEL_COLUMNS = ("flow_in", "flow_out", "pressure_in", "pressure_out")
_VESSEL_SLOTS = (1, 3, 0, 2)  # (P_in, Q_in, P_out, Q_out) order of Network.vessel_vars


def variable_scale(name: str) -> float:
    """SI → CGS factor for a variable from its svZeroDSolver name."""
    kind = name.split(":", 1)[0]
    if kind.startswith("pressure"):
        return 1.0 / CGS_PRESSURE
    if kind.startswith("flow"):
        return 1.0 / CGS_FLOW
    if kind.startswith("volume"):
        return 1.0 / CGS_VOLUME
    raise ValueError(f"variable '{name}': unknown kind '{kind}'; expected pressure, flow or volume")


def results_table(net: Network, solution: Solution, sim: Simulation,
                  order: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """svZeroDSolver's result table (CGS) as columns ``{name: array}``, honouring ``sim``'s output flags.

    ``order``: the variables' order for variable-based output (default the
    network's; `SvZeroDModel.variable_order` gives svZeroDSolver's).
    """
    if sim.output_derivative and solution.ydot is None:
        raise ValueError("results_table: output_derivative is set but the solution has no ydot; "
                         "run simulate with the same Simulation (output_derivative=True)")
    y = np.asarray(solution.y)
    ydot = np.zeros_like(y) if solution.ydot is None else np.asarray(solution.ydot)
    times = np.asarray(solution.times)
    scale = np.array([variable_scale(v) for v in net.var_names])
    y, ydot = y * scale, ydot * scale
    if sim.output_variable_based:
        names = list(net.var_names if order is None else order)
        position = {v: i for i, v in enumerate(net.var_names)}
        if sorted(names) != sorted(position):
            raise ValueError("results_table: 'order' must list every variable of the network once")
        index = np.array([position[v] for v in names])
        columns = {"y": [slice(None)]}
    else:
        names = list(net.vessels)
        index = np.array(net.vessel_vars, np.int64).reshape(-1, 4)[:, _VESSEL_SLOTS]
        columns = {c: [k] for k, c in enumerate(VESSEL_COLUMNS)}
    out: dict[str, list] = {"name": [], "time": []}
    keys = list(columns) + ([("d_" + c if not sim.output_variable_based else "ydot")
                             for c in columns] if sim.output_derivative else [])
    for key in keys:
        out[key] = []
    for n, name in enumerate(names):
        idx = index[n]
        vals = np.atleast_2d(y[:, idx].T)  # (n_columns, n_times)
        dvals = np.atleast_2d(ydot[:, idx].T)
        if sim.output_mean_only:
            vals, dvals, t = vals.mean(axis=1, keepdims=True), dvals.mean(axis=1, keepdims=True), [np.nan]
        else:
            t = times
        out["name"] += [name] * len(t)
        out["time"].append(np.asarray(t, np.float64))
        for k, key in enumerate(columns):
            out[key].append(vals[k])
            if sim.output_derivative:
                out["ydot" if sim.output_variable_based else "d_" + key].append(dvals[k])
    return {k: np.array(v, dtype=object) if k == "name" else np.concatenate(v) for k, v in out.items()}


def write_results_csv(path: str | os.PathLike, table: dict[str, np.ndarray]) -> None:
    """Write a result table as CSV in svZeroDSolver's format (``%.16e``; empty time for means).

    Written to a temporary name and renamed, so no half-written file remains.
    """
    keys = list(table)
    n = len(table["name"])
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(",".join(keys) + "\n")
        for i in range(n):
            cells = [str(table["name"][i])]
            for key in keys[1:]:
                v = float(table[key][i])
                cells.append("" if np.isnan(v) and key == "time" else f"{v:.16e}")
            fh.write(",".join(cells) + "\n")


def read_results_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a CSV written by `write_results_csv` or by svZeroDSolver into columns."""
    with open(path) as fh:
        keys = fh.readline().strip().split(",")
        rows = [line.rstrip("\n").split(",") for line in fh if line.strip()]
    out = {"name": np.array([r[0] for r in rows], dtype=object)}
    for k, key in enumerate(keys[1:], start=1):
        out[key] = np.array([float(r[k]) if r[k] else np.nan for r in rows])
    return out
