"""Inverse problems: wall time to the same final error, exact Jacobians against Nelder–Mead and finite differences.

    python benchmarks/bench_inverse.py [--pts-per-cycle 100] [--cycles 6] [--nm-evals 8000] [--all-cores]

Windkessel calibration of the VMR anatomy 0104_0001 (`cardiojax.inverse.problems.windkessel_problem`: the
svZeroDSolver file's 5 RCR outlets, 15 log parameters with a weak log-normal prior, from 40 inlet pressure
samples over the last cycle and the 5 outlet mean flows with 2 % noise; pulsatile 0D runs of ``--cycles``
cycles × ``--pts-per-cycle`` points). From the same start, on the same loss (`cardiojax.inverse.compare`):

* cardiojax Levenberg–Marquardt, Jacobian by `jax.jacfwd` (one compiled `lax.while_loop`);
* scipy Nelder–Mead (adaptive) on the jitted loss;
* scipy least_squares (trust-region reflective) with 2-point finite-difference Jacobians on the jitted residuals.

Target: the LM run's final loss × (1 + 10⁻³). Each method's wall time to first reach it (compilation excluded
and reported apart; JAX runs timed after ``block_until_ready``; scipy runs timestamped at every solver call),
and the speed-ups of LM over the two others. A method that never reaches the target within its budget gives a
lower bound (``*_reached_target`` false). All in one process, pinned to one CPU core unless ``--all-cores``
(XLA's CPU runtime stalls for seconds when the other core is busy).

``vmr_figures`` adds svZeroDSolver's own calibration problem for the same anatomy
(`cardiojax.inverse.svzerod.calibrate`), timed side by side with svZeroDSolver's calibrator (``svzerod``, the
``peers`` extra). Last line: one JSON object of figures.
"""

from __future__ import annotations

import os
import sys

if "--all-cores" not in sys.argv:
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VMR = ROOT.parent / "shared" / "data" / "hemo_reference" / "svZeroDSolver" / "vmr"


def _quiet_fd_call(fn, *args):
    """Call ``fn`` with the process's stdout (file descriptor 1) sent to /dev/null: svZeroDSolver's C++ code
    prints its iterations there, past Python's ``sys.stdout``, and must not land after the JSON line."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            return fn(*args)
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def vmr_figures() -> dict:
    """svZeroDSolver's calibration problem of VMR 0104_0001, cardiojax and svZeroDSolver side by side.

    cardiojax: `cardiojax.inverse.svzerod.calibrate` (read, assemble, compile, fit; the fit timed again warm
    three times, best kept: ``vmr0104_s``; the whole call cold: ``vmr0104_total_s``). svZeroDSolver:
    ``svzerod.calibrate`` on the same input (with ``calibrate`` lists naming R, C, L and the stenosis
    coefficient of every vessel, which its current version requires), best of three. Both results are compared
    with svZeroDSolver's ``0104_0001_optimal_from_0d.json`` (largest relative difference over the 93 values).
    """
    from cardiojax.inverse.svzerod import calibrate, parameter_errors

    cfg = json.loads((VMR / "0104_0001_calibrate_from_0d.json").read_text())
    reference = json.loads((VMR / "0104_0001_optimal_from_0d.json").read_text())
    t0 = time.perf_counter()
    cal = calibrate(cfg)
    total = time.perf_counter() - t0
    warm = []
    for _ in range(3):
        c = calibrate(cfg)
        warm.append(c.seconds - c.compile_seconds)
    err = parameter_errors(cal.config, reference)
    out = {"vmr0104_rel_err": err["max_rel"], "vmr0104_s": round(min(warm), 4),
           "vmr0104_total_s": round(total, 3), "vmr0104_compile_s": round(cal.compile_seconds, 2),
           "vmr0104_iterations": int(cal.result.iterations)}
    print(f"VMR 0104_0001 calibration: {len(cal.labels)} parameters, {int(cal.result.iterations)} LM iterations; "
          f"largest relative difference to svZeroDSolver's optimum {err['max_rel']:.3g} ({err['worst']}); "
          f"fit {min(warm):.3f} s, whole call {total:.2f} s (compile {cal.compile_seconds:.2f} s)")
    try:
        import svzerod
    except ImportError:
        print("svzerod is not installed (pip install svzerod): no side-by-side calibration figure")
        return out
    peer_cfg = json.loads((VMR / "0104_0001_calibrate_from_0d.json").read_text())
    for v in peer_cfg["vessels"]:
        v["calibrate"] = ["R_poiseuille", "C", "L", "stenosis_coefficient"]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        peer = _quiet_fd_call(svzerod.calibrate, peer_cfg)
        times.append(time.perf_counter() - t0)
    peer_err = parameter_errors(peer, reference)["max_rel"]
    print(f"svZeroDSolver {svzerod.__version__} calibrate: {min(times):.3f} s, largest relative difference "
          f"{peer_err:.3g}")
    out.update({"vmr0104_svzerod_s": round(min(times), 4), "vmr0104_svzerod_rel_err": peer_err})
    return out


def windkessel_figures(args) -> dict:
    from cardiojax.inverse.compare import compare, speedup, table, time_to_target
    from cardiojax.inverse.problems import total_resistance, windkessel_problem

    t0 = time.perf_counter()
    pb = windkessel_problem(VMR / "0104_0001_optimal_from_0d.json", pts_per_cycle=args.pts_per_cycle,
                            cycles=args.cycles, seed=args.seed)
    print(f"problem: {pb.notes} (built in {time.perf_counter() - t0:.1f} s)")
    runs = compare(pb.objective, pb.z_start(), ("lm", "nelder-mead", "fd-trf"),
                   {"nelder-mead": dict(max_evaluations=args.nm_evals), "fd-trf": dict(max_evaluations=args.fd_evals)})
    truth_r = total_resistance(pb.truth)

    def r_err(z):
        th = {k: float(v) for k, v in pb.objective.space.to_physical(z).items()}
        return max(abs(r / truth_r[b] - 1.0) for b, r in total_resistance(th).items())

    print(table(runs, error=lambda z: f"total R max rel err {r_err(z):.2%}"))
    target, times = time_to_target(runs)
    nm, nm_ok = speedup(runs, "nelder-mead")
    fd, fd_ok = speedup(runs, "fd-trf")
    lm = runs["lm"]
    return {
        "windkessel_speedup_vs_nelder_mead": round(nm, 2), "windkessel_speedup_vs_fd": round(fd, 2),
        "nelder_mead_reached_target": nm_ok, "fd_reached_target": fd_ok,
        "target_loss": round(target, 6),
        "lm_s_to_target": round(times["lm"][0], 4), "nelder_mead_s_to_target": _r(times["nelder-mead"][0]),
        "fd_s_to_target": _r(times["fd-trf"][0]),
        "lm_s": round(lm.wall_s, 4), "nelder_mead_s": round(runs["nelder-mead"].wall_s, 3),
        "fd_s": round(runs["fd-trf"].wall_s, 3),
        "lm_runs_to_target": times["lm"][1], "nelder_mead_runs_to_target": times["nelder-mead"][1],
        "fd_runs_to_target": times["fd-trf"][1],
        "lm_compile_s": round(lm.compile_s, 2), "loss_compile_s": round(runs["nelder-mead"].compile_s, 2),
        "residuals_compile_s": round(runs["fd-trf"].compile_s, 2),
        "lm_total_R_max_rel_err": round(r_err(lm.z), 5), "parameters": len(pb.truth),
        "pts_per_cycle": args.pts_per_cycle, "cycles": args.cycles,
    }


def _r(x, nd=3):
    return None if x is None else round(x, nd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pts-per-cycle", type=int, default=100, help="time points per cardiac cycle")
    ap.add_argument("--cycles", type=int, default=6, help="cardiac cycles per run (the last one is observed)")
    ap.add_argument("--nm-evals", type=int, default=8000, help="Nelder–Mead budget of solver runs")
    ap.add_argument("--fd-evals", type=int, default=3000, help="finite-difference fit budget of solver runs")
    ap.add_argument("--seed", type=int, default=0, help="noise and start seed")
    ap.add_argument("--skip-vmr", action="store_true", help="skip the svZeroDSolver calibration figures")
    ap.add_argument("--all-cores", action="store_true", help="do not pin the process to one CPU core")
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)  # no persistent compilation cache: compile times are real
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}, CPU cores used: {len(os.sched_getaffinity(0))}")
    figures = windkessel_figures(args)
    if not args.skip_vmr:
        figures.update(vmr_figures())
    figures["pinned_one_core"] = not args.all_cores
    lead = ("vmr0104_rel_err", "vmr0104_s", "windkessel_speedup_vs_nelder_mead", "windkessel_speedup_vs_fd")
    ordered = {k: figures[k] for k in lead if k in figures} | {k: v for k, v in figures.items() if k not in lead}
    print(json.dumps(ordered))


if __name__ == "__main__":
    main()
