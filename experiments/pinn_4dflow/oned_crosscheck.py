"""Cross-check: cardiojax's own 1D solver on the Kissas et al. (2020) Y-bifurcation.

The synthetic Y-bifurcation of Kissas et al. (CMAME 358:112623, 2020; data in
``../shared/data/pinn_1d_bloodflow/PredictiveIntelligenceLab_1DBloodFlowPINNs/``, see its PROVENANCE.md) was
produced by a 1D nonlinear DG solver: a 3.3 s transient from rest (A = A0, u = 0 at t = 0) in three vessels with
the tube law p = β(√A − √A0) (p relative, 0 at rest), ρ = 1000 kg/m³. The PINN sees the inlet (``input_1``) and
the two outlets (``output_2``, ``output_3``) and is judged at one interior point of each vessel (``test_1..3``).

Here the same network is run through `cardiojax.oned`: the measured inlet flow drives vessel 1, the measured
outlet pressures close vessels 2 and 3 (``outlet="pressure"``; ``"reflection"`` uses non-reflecting Rt = 0
outlets instead, for comparison), and one transient of 3.3 s from rest is run with `run_cycle` (period 3.3 s, no
iteration to periodicity). Pressure and velocity at the three test points (linear interpolation between cell
centres) are compared with ``test_1..3`` by relative L2 error ‖pred − ref‖₂/‖ref‖₂.

cardiojax's "beta" law is P = p_ref + (4/3)K(√(A/A0) − 1), the same law with K = 0.75·β·√A0 and p_ref = 0.
The reference's viscosity is unknown (the PINN ignores friction), so it is a parameter (μ = 0 is allowed).

    python experiments/pinn_4dflow/oned_crosscheck.py                    # default variants, table + JSON line
    python experiments/pinn_4dflow/oned_crosscheck.py --viscosity 0 --junction static --cells-per-cm 20
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

import jax
import numpy as np

from cardiojax.oned import (
    InletSpec,
    JunctionSpec,
    NetworkSpec,
    OutletSpec,
    Stepping,
    VesselSpec,
    build_model,
    check_cfl,
    choose_substeps,
    initial_state,
    run_cycle,
)
from cardiojax.oned.simulate import CFL
from cardiojax.physics.kissas import Y_TEST_X, Y_VESSELS, rel_l2
from cardiojax.physics.oned import k_from_beta
from cardiojax.units import Blood

#: Data folder relative to the repository root.
DATA_DIR = Path("../shared/data/pinn_1d_bloodflow/PredictiveIntelligenceLab_1DBloodFlowPINNs/y_bifurcation_synthetic")
SERIES = ("input_1", "output_2", "output_3", "test_1", "test_2", "test_3")
COLUMNS = ("Time", "Pressure", "Velocity", "Area", "Flow")

#: The authors' geometry (their script): (name, x_start, x_end (m), A0 (m²), β (Pa/m)), as the PINN study uses.
VESSELS = Y_VESSELS
#: Test points (global x, m) of test_1, test_2, test_3.
TEST_X = Y_TEST_X
DENSITY = 1000.0
PERIOD = 3.3

#: The Kissas et al. PINN's own relative L2 errors, recomputed from their saved predictions.
PINN_FILE = "kissas2020_PINN_predictions_vs_reference.csv"


def load_series(data_dir) -> dict[str, np.ndarray]:
    """The six series as ``{name: (413, 5) array}`` with columns `COLUMNS` (SI)."""
    data_dir = Path(data_dir)
    out = {}
    for name in SERIES:
        path = data_dir / f"{name}.csv"
        header = path.open().readline().strip().split(",")
        if tuple(header) != COLUMNS:
            raise ValueError(f"{path}: columns {header}, expected {list(COLUMNS)}")
        out[name] = np.loadtxt(path, delimiter=",", skiprows=1)
    t = out["input_1"][:, 0]
    for name, arr in out.items():
        if not np.allclose(arr[:, 0], t):
            raise ValueError(f"{name}: its time column differs from input_1's")
    return out


def inflow_period(data: dict[str, np.ndarray], rtol: float = 1e-4) -> float:
    """The period (s) of the measured inflow after its start-up transient (0.8 s here).

    The smallest lag, in samples of the uniform part of the record, over which ``input_1``'s flow repeats to
    ``rtol`` (relative to its peak) in the second half of the record.
    """
    t, q = data["input_1"][:, 0], data["input_1"][:, 4]
    dt = t[1] - t[0]
    n = int(np.sum(np.isclose(np.diff(t), dt))) + 1  # the uniformly sampled prefix
    tail = slice(n // 2, n)
    for lag in range(2, n // 2):
        if np.max(np.abs(q[tail] - q[n // 2 - lag:n - lag])) < rtol * np.max(np.abs(q)):
            return float(lag * dt)
    raise ValueError("the inflow does not repeat over the record")


def _table(times, values, rest=0.0):
    """A boundary table starting from ``rest`` at t = 0 and held one extra second after the data.

    `cardiojax.lumped.Table` is periodic with period t_last − t_first; the extra sample makes that period longer
    than the 3.3 s run, so that the outlet pressure of the last step (evaluated at t = 3.3 s up to round-off) does
    not wrap round to the t = 0 value.
    """
    t = np.concatenate([[0.0], times, [times[-1] + 1.0]])
    v = np.concatenate([[rest], values, [values[-1]]])
    return t, v


def y_bifurcation_spec(data: dict[str, np.ndarray], *, viscosity: float = 4.5e-3, cells_per_cm: float = 20.0,
                       outlet: str = "pressure", junction: str = "total", min_cells: int = 5,
                       profile: float = 9.0, inlet_start: str = "rest") -> NetworkSpec:
    """The `NetworkSpec` of the Y-bifurcation driven by the measured inlet flow (and outlet pressures).

    ``inlet_start``: the inflow at t = 0, before the first sample (t = 8 ms): ``"rest"`` (Q = 0, ramped linearly
    to the first sample) or ``"periodic"`` (the inflow one `inflow_period` later, i.e. the periodic waveform
    switched on impulsively in a vessel at rest).
    """
    if inlet_start not in ("rest", "periodic"):
        raise ValueError(f"inlet_start={inlet_start!r}, expected 'rest' or 'periodic'")
    if outlet not in ("pressure", "reflection"):
        raise ValueError(f"outlet={outlet!r}, expected 'pressure' (measured outlet pressures) or 'reflection'")
    vessels = []
    for name, x0, x1, a0, beta in VESSELS:
        length = x1 - x0
        n = max(min_cells, int(round(length * 100.0 * cells_per_cm)))
        r0 = float(np.sqrt(a0 / np.pi))
        vessels.append(VesselSpec(name, length, r0, r0, {"K": float(k_from_beta(beta, a0))}, n_cells=n, p_ref=0.0))
    t = data["input_1"][:, 0]
    q_start = 0.0
    if inlet_start == "periodic":
        q_start = float(np.interp(inflow_period(data), t, data["input_1"][:, 4]))
    qt, qv = _table(t, data["input_1"][:, 4], q_start)
    inlets = [InletSpec(0, "flow", qt, qv)]
    if outlet == "pressure":
        outlets = [OutletSpec(i, "pressure", {"P": _table(t, data[f"output_{i + 1}"][:, 1])}) for i in (1, 2)]
    else:
        outlets = [OutletSpec(i, "reflection", {"Rt": 0.0}) for i in (1, 2)]
    return NetworkSpec(
        vessels=vessels,
        junctions=[JunctionSpec([(0, "out"), (1, "in"), (2, "in")], pressure=junction)],
        inlets=inlets, outlets=outlets, period=PERIOD,
        blood=Blood(DENSITY, viscosity), tube_law="beta", profile=profile, name="kissas2020_y_bifurcation",
    )


def _probe(spec: NetworkSpec, vessel: int, x_local: float):
    """Cell offsets (i0, i0 + 1) within the vessel and weight w of a linear interpolation at ``x_local`` (m)."""
    v = spec.vessels[vessel]
    dx = v.length / v.n_cells
    f = x_local / dx - 0.5  # cell centres at (i + ½)·dx
    i0 = int(np.clip(np.floor(f), 0, v.n_cells - 2))
    return i0, float(np.clip(f - i0, 0.0, 1.0))


_run_cycle_jit = jax.jit(run_cycle, static_argnums=2)


def y_bifurcation_1d(data_dir=DATA_DIR, *, viscosity: float = 4.5e-3, cells_per_cm: float = 20.0,
                     outlet: str = "pressure", junction: str = "total", profile: float = 9.0,
                     inlet_start: str = "rest", samples: int | None = None, cfl: float = CFL,
                     limiter: str = "superbee") -> dict:
    """Run the Y-bifurcation transient (3.3 s from rest) and compare with the held-out test series.

    Args:
      data_dir: folder of ``input_1.csv`` … ``test_3.csv``.
      viscosity: μ, Pa·s (0 allowed: no friction).
      cells_per_cm: cells per cm of vessel (at least 5 cells per vessel).
      outlet: ``"pressure"`` (measured output_2/3 pressure tables) or ``"reflection"`` (Rt = 0).
      junction: ``"total"`` (continuity of P + ρu²/2) or ``"static"`` (of P).
      profile: velocity-profile exponent γ of the friction −2(γ+2)πμ/ρ·Q/A (9 as openBF, 2 Poiseuille).
      inlet_start: inflow at t = 0, ``"rest"`` or ``"periodic"`` (see `y_bifurcation_spec`).
      samples: output samples over the 3.3 s (default: one per 4 ms, so every data time is a sample).
      cfl: target Courant number for `choose_substeps`.
      limiter: MUSCL slope limiter.

    Returns a dict with the settings, ``time`` (413,), ``pressure`` and ``velocity`` ``{test_i: (413,)}``
    predictions, ``rel_l2`` ``{test_i: {"pressure", "velocity"}}``, boundary checks ``bc_rel_l2`` (predicted inlet
    pressure vs input_1, outlet velocity vs output_2/3), ``n_cells``, ``substeps``, ``dt``, ``courant`` and wall
    times ``compile_s``, ``run_s``, ``wall_s``.
    """
    t_start = time.perf_counter()
    data = load_series(data_dir)
    t_data = data["test_1"][:, 0]
    if samples is None:
        step = np.min(np.diff(np.concatenate([[0.0], t_data])))
        samples = int(round(PERIOD / step))
    spec = y_bifurcation_spec(data, viscosity=viscosity, cells_per_cm=cells_per_cm, outlet=outlet, junction=junction,
                              profile=profile, inlet_start=inlet_start)
    m = build_model(spec)
    # sample the two cells around each test point, and the inlet / outlet cells, in place of openBF's 5 nodes
    first = np.asarray(m.first)
    last = np.asarray(m.last)
    probes = []
    nodes = np.zeros((len(spec.vessels), 5), np.int32)
    for vi, x in enumerate(TEST_X):
        i0, w = _probe(spec, vi, x - VESSELS[vi][1])
        probes.append(w)
        lo = first[vi] + i0
        nodes[vi] = [lo, lo + 1, first[vi], last[vi], lo]
    m = dataclasses.replace(m, nodes=jax.numpy.asarray(nodes))
    substeps = choose_substeps(m, samples, cfl)
    s0 = initial_state(m)
    for _ in range(4):  # rerun with a smaller step if the Courant number exceeded 1
        stepping = Stepping(samples=samples, substeps=substeps, limiter=limiter)
        t0 = time.perf_counter()
        compiled = _run_cycle_jit.lower(m, s0, stepping).compile()
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, cyc = compiled(m, s0)
        jax.block_until_ready(cyc)
        run_s = time.perf_counter() - t0
        courant = float(np.max(np.asarray(cyc.cfl)))
        if np.isfinite(courant) and courant <= 1.0:
            break
        substeps = int(np.ceil(substeps * max(courant / cfl if np.isfinite(courant) else 2.0, 1.1)))
    check_cfl(cyc)
    t_sim = np.concatenate([[0.0], np.asarray(cyc.time)])
    p_nodes = np.concatenate([np.zeros((1,) + cyc.pressure.shape[1:]), np.asarray(cyc.pressure)])
    u_nodes = np.concatenate([np.zeros((1,) + cyc.velocity.shape[1:]), np.asarray(cyc.velocity)])
    if not (np.all(np.isfinite(p_nodes)) and np.all(np.isfinite(u_nodes))):
        raise FloatingPointError("the 1D solution became non-finite")

    def at_data(series):  # linear in time (exact when the data times are sample times)
        return np.interp(t_data, t_sim, series)

    pressure, velocity, errors = {}, {}, {}
    for vi, w in enumerate(probes):
        key = f"test_{vi + 1}"
        p = at_data((1.0 - w) * p_nodes[:, vi, 0] + w * p_nodes[:, vi, 1])
        u = at_data((1.0 - w) * u_nodes[:, vi, 0] + w * u_nodes[:, vi, 1])
        pressure[key], velocity[key] = p, u
        errors[key] = {"pressure": rel_l2(p, data[key][:, 1]), "velocity": rel_l2(u, data[key][:, 2])}
    bc = {
        "input_1_pressure": rel_l2(at_data(p_nodes[:, 0, 2]), data["input_1"][:, 1]),
        "output_2_velocity": rel_l2(at_data(u_nodes[:, 1, 3]), data["output_2"][:, 2]),
        "output_3_velocity": rel_l2(at_data(u_nodes[:, 2, 3]), data["output_3"][:, 2]),
    }
    if outlet == "reflection":
        bc["output_2_pressure"] = rel_l2(at_data(p_nodes[:, 1, 3]), data["output_2"][:, 1])
        bc["output_3_pressure"] = rel_l2(at_data(p_nodes[:, 2, 3]), data["output_3"][:, 1])
    return {
        "viscosity": viscosity, "profile": profile, "cells_per_cm": cells_per_cm, "outlet": outlet,
        "junction": junction, "inlet_start": inlet_start, "limiter": limiter,
        "n_cells": [v.n_cells for v in spec.vessels], "samples": samples,
        "substeps": substeps, "dt": PERIOD / (samples * substeps), "courant": courant,
        "time": t_data, "pressure": pressure, "velocity": velocity, "rel_l2": errors, "bc_rel_l2": bc,
        "compile_s": compile_s, "run_s": run_s, "wall_s": time.perf_counter() - t_start,
    }


def pinn_rel_l2(data_dir=DATA_DIR) -> dict | None:
    """The Kissas et al. PINN's relative L2 errors from their saved predictions (None if the file is absent)."""
    path = Path(data_dir) / PINN_FILE
    if not path.exists():
        return None
    d = np.genfromtxt(path, delimiter=",", names=True)
    return {f"test_{i}": {"pressure": rel_l2(d[f"PredPressl_{i}"], d[f"TestPress_{i}"]),
                          "velocity": rel_l2(d[f"PredVel_{i}"], d[f"TestVel_{i}"])} for i in (1, 2, 3)}


def _row(label, errs):
    cells = "  ".join(f"{100 * errs[k]['pressure']:6.2f} {100 * errs[k]['velocity']:6.2f}" for k in sorted(errs))
    return f"{label:<44s}{cells}"


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--viscosity", type=float, nargs="+", default=[0.0, 1e-6, 3.5e-3, 4.5e-3], help="Pa·s")
    parser.add_argument("--junction", nargs="+", default=["total", "static"], choices=["total", "static"])
    parser.add_argument("--outlet", nargs="+", default=["pressure"], choices=["pressure", "reflection"])
    parser.add_argument("--inlet-start", nargs="+", default=["rest", "periodic"], choices=["rest", "periodic"])
    parser.add_argument("--cells-per-cm", type=float, nargs="+", default=[20.0])
    parser.add_argument("--profile", type=float, nargs="+", default=[9.0], help="friction profile exponent γ")
    parser.add_argument("--limiter", default="superbee")
    args = parser.parse_args(argv)
    print(f"{'variant (rel. L2 %: P u)':<44s}" + "  ".join(f"{'v' + str(i) + ' P':>6s} {'u':>6s}" for i in (1, 2, 3)))
    pinn = pinn_rel_l2(args.data_dir)
    if pinn is not None:
        print(_row("Kissas et al. PINN (their predictions)", pinn))
    results = []
    for outlet, cpc, start, junction, gamma, mu in itertools.product(
            args.outlet, args.cells_per_cm, args.inlet_start, args.junction, args.profile, args.viscosity):
        r = y_bifurcation_1d(args.data_dir, viscosity=mu, cells_per_cm=cpc, outlet=outlet, junction=junction,
                             profile=gamma, inlet_start=start, limiter=args.limiter)
        bc = r["bc_rel_l2"]
        label = f"{outlet[:4]} {start[:4]} {junction[:5]} mu={mu:g} g={gamma:g} c/cm={cpc:g}"
        print(_row(label, r["rel_l2"]) + f"   run {r['run_s']:.1f}s (+{r['compile_s']:.1f}s jit) "
              f"cells {r['n_cells']} dt {r['dt']:.2e} CFL {r['courant']:.2f} | BC P_in "
              f"{100 * bc['input_1_pressure']:.1f}% u_out2 {100 * bc['output_2_velocity']:.1f}% "
              f"u_out3 {100 * bc['output_3_velocity']:.1f}%", flush=True)
        results.append({k: v for k, v in r.items() if k not in ("time", "pressure", "velocity")})
    best = min(results, key=lambda r: sum(e["pressure"] + e["velocity"] for e in r["rel_l2"].values()))
    print(json.dumps({"case": "kissas2020_y_bifurcation", "best": best, "pinn_rel_l2": pinn, "variants": results}))
    return results


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    main()
