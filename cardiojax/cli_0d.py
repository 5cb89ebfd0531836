"""``cardiojax 0d CASE.json -o result.csv``: run a svZeroDSolver input file.

Reads the file (CGS, svZeroDSolver's JSON), integrates it with the
generalized-α scheme, and writes svZeroDSolver's result table (CGS) as CSV,
honouring the file's output options. Shows a progress bar over cardiac
cycles, prints compile and run times and a per-vessel summary (mmHg, mL/s),
and optionally draws the reported waveforms (``--plot``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import jax
import numpy as np
from tqdm import tqdm

from cardiojax.io.svzerod import read_svzerod
from cardiojax.io.svzerod_results import results_table, write_results_csv
from cardiojax.lumped.network import vessel_results
from cardiojax.lumped.pulsatile import check_converged, simulate
from cardiojax.units import ML_PER_S, MMHG


def add_parser(sub) -> None:
    p = sub.add_parser(
        "0d",
        help="run a svZeroDSolver JSON file (pulsatile 0D)",
        description="Run a svZeroDSolver input file (vessels, junctions, FLOW/PRESSURE/RESISTANCE/"
        "RCR/CORONARY boundary conditions) with svZeroDSolver's generalized-alpha scheme and write "
        "its result table (CGS units) as CSV.",
    )
    p.add_argument("case", help="svZeroDSolver input file (.json)")
    p.add_argument("-o", "--output", required=True, help="result CSV file")
    p.add_argument("--cycles", type=int, help="override number_of_cardiac_cycles")
    p.add_argument("--plot", help="also write a PNG of the reported pressure and flow waveforms")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """The ``cardiojax 0d`` command (see ``cardiojax 0d --help``)."""
    jax.config.update("jax_enable_x64", True)  # entry point: 0D work runs in float64
    model = read_svzerod(args.case)
    sim = model.simulation
    if sim is None:
        raise ValueError(f"{args.case}: missing field 'simulation_parameters'; a pulsatile run needs "
                         "number_of_cardiac_cycles and number_of_time_pts_per_cardiac_cycle")
    if args.cycles is not None:
        if args.cycles < 1:
            raise ValueError(f"--cycles = {args.cycles}; expected an integer >= 1")
        sim = dataclasses.replace(sim, cycles=args.cycles)
    net = model.network

    bars = []  # the bar starts after compilation

    def progress(cycles_done):
        if bars:
            bars[0].update(int(cycles_done) - bars[0].n)

    run_sim = jax.jit(simulate, static_argnums=(0, 2), static_argnames="progress")
    t0 = time.perf_counter()
    compiled = run_sim.lower(net, model.params, sim, progress=progress).compile()
    compile_s = time.perf_counter() - t0
    bar = tqdm(total=sim.cycles, unit="cycle", desc="0d", disable=args.no_progress, file=sys.stderr)
    bars.append(bar)
    t0 = time.perf_counter()
    solution = jax.block_until_ready(compiled(model.params))
    run_s = time.perf_counter() - t0
    bar.close()
    check_converged(solution, sim, args.case)
    if not np.all(np.isfinite(np.asarray(solution.y))):
        raise ValueError(f"{args.case}: the solution is not finite; check the parameters "
                         "(positive resistances and capacitances, a time step small enough)")

    write_results_csv(args.output, results_table(net, solution, sim, model.variable_order))
    if args.plot:
        from cardiojax.plot import save_waveforms

        save_waveforms(args.plot, net, solution)
    _print_summary(args, net, sim, solution, compile_s, run_s)
    return 0


def _print_summary(args, net, sim, solution, compile_s, run_s) -> None:
    res = {k: np.asarray(v) for k, v in vessel_results(net, solution.y).items()}
    print(f"{args.case}: {len(net.vessels)} vessels, {net.num_vars} unknowns, "
          f"{sim.cycles} cycles x {sim.pts_per_cycle - 1} steps (dt = {sim.dt:.4g} s), "
          f"{'linear' if sim.linear else 'nonlinear'}; compile {compile_s:.2f} s, run {run_s:.2f} s")
    print(f"{'vessel':<28} {'P_in mmHg':>10} {'P_out mmHg':>10} {'Q_in mL/s':>10}  (mean over the "
          "reported times)")
    shown = min(len(net.vessels), 20)
    for i in range(shown):
        print(f"{net.vessels[i]:<28} {res['pressure_in'][:, i].mean() / MMHG:10.2f} "
              f"{res['pressure_out'][:, i].mean() / MMHG:10.2f} {res['flow_in'][:, i].mean() / ML_PER_S:10.3f}")
    if shown < len(net.vessels):
        print(f"... {len(net.vessels) - shown} more vessels in {args.output}")
    print(f"wrote {args.output}" + (f" and {args.plot}" if args.plot else ""))
