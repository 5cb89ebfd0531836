"""``cardiojax 1d NETWORK -o DIR``: run a 1D network until periodic and write its last cycle.

NETWORK is an openBF/jaxFlowSim YAML file (``.yml``/``.yaml``, SI units) or
an svOneDSolver deck (``.in``, CGS units). The run starts from the 0D steady
state of the network (or from rest with ``--from-rest``, as openBF), runs
cardiac cycles until the mid-vessel pressures of two cycles differ by less
than ``--rtol`` (relative), and writes, per vessel, openBF-style ``.last``
tables ``<vessel>_{P,Q,A,u}.last`` (time in s, then the value at the inlet,
¼, ½, ¾ and outlet cell; SI units: Pa, m³/s, m², m/s), a ``summary.json``
and ``waveforms.png``. Files are written atomically.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from cardiojax.io.files import atomic_path
from cardiojax.units import ML_PER_S, MMHG


def add_parser(sub) -> None:
    p = sub.add_parser("1d", help="run a 1D network (openBF YAML or svOneDSolver .in) until periodic",
                       description=__doc__.splitlines()[0])
    p.add_argument("network", help="openBF/jaxFlowSim .yml/.yaml or svOneDSolver .in file")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--rtol", type=float, default=1e-3, help="periodicity tolerance (default 1e-3)")
    p.add_argument("--max-cycles", type=int, default=30, help="cycle cap (default 30)")
    p.add_argument("--samples", type=int, default=100, help="samples per cycle in the output (default 100)")
    p.add_argument("--limiter", default="superbee", help="slope limiter (superbee, minmod, mc, openbf, none)")
    p.add_argument("--from-rest", action="store_true", help="start at rest instead of the 0D steady state")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def read_network(path: str):
    """The `NetworkSpec` of a network file, by suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in (".yml", ".yaml"):
        from cardiojax.io.openbf import read_openbf
        return read_openbf(path)
    if suffix == ".in":
        from cardiojax.io.svonedsolver import read_svonedsolver
        return read_svonedsolver(path).spec
    raise ValueError(f"{path}: unknown network file type {suffix!r}; expected .yml, .yaml or .in")


def write_last(path: Path, time_s: np.ndarray, values: np.ndarray) -> None:
    """An openBF ``.last`` table: time, then the 5 node values (atomic write)."""
    with atomic_path(path) as tmp:
        np.savetxt(tmp, np.column_stack([time_s, values]), fmt="%.12e")


def run(args: argparse.Namespace) -> int:
    """The ``cardiojax 1d`` command (see ``cardiojax 1d --help``)."""
    jax.config.update("jax_enable_x64", True)  # entry point: 1D work runs in float64
    from cardiojax.oned import build_model, simulate, steady_initial_state
    from cardiojax.plot import save_oned_waveforms

    if args.rtol <= 0 or args.max_cycles < 1 or args.samples < 2:
        raise ValueError(f"--rtol={args.rtol}, --max-cycles={args.max_cycles}, --samples={args.samples}: "
                         "expected rtol > 0, max-cycles >= 1, samples >= 2")
    spec = read_network(args.network)
    model = build_model(spec)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    state = None if args.from_rest else steady_initial_state(model, spec)
    t0 = time.perf_counter()
    res = simulate(model, state=state, samples=args.samples, limiter=args.limiter, rtol=args.rtol,
                   max_cycles=args.max_cycles, progress=not args.no_progress)
    wall = time.perf_counter() - t0
    cyc = res.cycle
    t = np.asarray(cyc.time)
    fields = {"P": cyc.pressure, "Q": cyc.flow, "A": cyc.area, "u": cyc.velocity}
    for i, v in enumerate(spec.vessels):
        for key, arr in fields.items():
            write_last(out / f"{v.name}_{key}.last", t, np.asarray(arr)[:, i, :])
    save_oned_waveforms(out / "waveforms.png", [v.name for v in spec.vessels], cyc)
    p_mid = np.asarray(cyc.pressure)[:, :, 2] / MMHG
    q_mid = np.asarray(cyc.flow)[:, :, 2] / ML_PER_S
    summary = {
        "network": spec.name, "vessels": len(spec.vessels), "cells": int(np.asarray(model.real).sum()),
        "cycles": res.cycles, "periodic_change": res.change, "converged": res.change < args.rtol,
        "substeps_per_sample": res.stepping.substeps, "samples_per_cycle": res.stepping.samples,
        "dt_s": float(spec.period / (res.stepping.samples * res.stepping.substeps)),
        "max_courant": float(cyc.cfl), "wall_s": wall,
    }
    with atomic_path(out / "summary.json") as tmp, open(tmp, "w") as fh:
        json.dump(summary, fh, indent=2)
    print(f"{spec.name}: {len(spec.vessels)} vessels, {summary['cells']} cells, {res.cycles} cycles "
          f"(last change {res.change:.2e}), dt = {summary['dt_s']:.3g} s, max Courant {summary['max_courant']:.2f}, "
          f"{wall:.2f} s incl. compilation")
    print(f"{'vessel':<16}{'P mean':>9}{'P min':>9}{'P max':>9}  mmHg{'Q mean':>10}  mL/s")
    for i, v in enumerate(spec.vessels[:40]):
        print(f"{v.name:<16}{p_mid[:, i].mean():9.1f}{p_mid[:, i].min():9.1f}{p_mid[:, i].max():9.1f}      "
              f"{q_mid[:, i].mean():10.3f}")
    if not summary["converged"]:
        print(f"warning: not periodic after {res.cycles} cycles (change {res.change:.2e} >= {args.rtol})")
    print(f"wrote {out}/<vessel>_{{P,Q,A,u}}.last, summary.json, waveforms.png")
    return 0
