"""Pulsatile 0D: cardiojax and svZeroDSolver on the same files, side by side, in one run.

    python benchmarks/bench_lumped_vs_svzerod.py [--variants 1000] [--repeats 3]

Needs the ``peers`` extra (``svzerod``); installs nothing. Cases: every
svZeroDSolver reference case in ``../shared/data/hemo_reference/svZeroDSolver/
cases`` that cardiojax supports (the closed-loop heart cases are not), plus
the real 18-vessel anatomy ``vmr/0104_0001_optimal_from_0d.json``.

Per case: svzerod's time for one run (``Solver(cfg)`` + ``run()``, result
retrieval not counted, in its favour); cardiojax's compile time and its time
for one run of the compiled function (median of ``--repeats``, after a
warm-up, stopped after ``block_until_ready``); and the largest difference
of every vessel's four signals (flow_in, flow_out, pressure_in,
pressure_out) over the reported times, relative to that signal's largest
magnitude (so flows passing through zero do not divide by zero).

Batch: ``--variants`` parameter sets of the RCR outlet of
``pulsatileFlow_R_RCR`` (Rp and Rd scaled by one factor, C by another, each
uniform in [0.5, 2]); svzerod runs them one after another, cardiojax in one
vmapped call. A few variants are cross-checked between the two.

Last line: ``{"cases", "max_rel_err", "single_run_ratio", "batch_speedup",
"compile_s", ...}`` with ``single_run_ratio`` = cardiojax / svzerod time for
one run of the VMR anatomy, ``batch_speedup`` = svzerod time for all
variants / cardiojax time for the same in one call, ``compile_s`` = total
cardiojax compile time of the run.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import compile_and_time  # noqa: E402

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hemo_reference" / "svZeroDSolver"
CASES = ["pulsatileFlow_R_RCR", "pulsatileFlow_R_coronary", "pulsatileFlow_CStenosis_steadyPressure",
         "steadyFlow_stenosis_R", "steadyFlow_bifurcationR_R1", "steadyFlow_blood_vessel_junction",
         "steadyFlow_R_RCR", "steadyFlow_R_coronary", "steadyFlow_RLC_R"]
SIGNALS = ("flow_in", "flow_out", "pressure_in", "pressure_out")


def _svzerod_time(svzerod, cfg, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        svzerod.Solver(cfg).run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _rel_err(net, y, table) -> float:
    """Largest |ours − svzerod| / max|svzerod| over vessels and signals (CGS)."""
    from cardiojax.io.svzerod_results import variable_scale

    idx = np.asarray(net.vessel_vars).reshape(-1, 4)[:, (1, 3, 0, 2)]
    worst = 0.0
    for i, name in enumerate(net.vessels):
        rows = table[table["name"] == name]
        for k, key in enumerate(SIGNALS):
            var = idx[i, k]
            ours = np.asarray(y[:, var]) * variable_scale(net.var_names[var])
            theirs = rows[key].to_numpy()
            worst = max(worst, float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-300)))
    return worst


def run_cases(svzerod, repeats):
    from cardiojax.io import read_svzerod
    from cardiojax.lumped.pulsatile import simulate

    rows, compile_total = [], 0.0
    paths = [ROOT / "cases" / f"{c}.json" for c in CASES] + [ROOT / "vmr" / "0104_0001_optimal_from_0d.json"]
    for path in paths:
        cfg = json.loads(path.read_text())
        model = read_svzerod(cfg)
        fn = jax.jit(lambda p, _m=model: simulate(_m.network, p, _m.simulation).y)
        _, compile_s, run_s, y = compile_and_time(fn, model.params, repeats=repeats)
        compile_total += compile_s
        peer_s = _svzerod_time(svzerod, cfg, repeats)
        err = _rel_err(model.network, y, svzerod.simulate(cfg))
        rows.append({"case": path.stem, "vessels": len(model.network.vessels),
                     "steps": model.simulation.num_steps - 1, "compile_s": compile_s,
                     "cardiojax_s": run_s, "svzerod_s": peer_s, "rel_err": err})
    return rows, compile_total


def run_batch(svzerod, variants, seed=0):
    from cardiojax.io import read_svzerod
    from cardiojax.lumped.pulsatile import simulate

    cfg = json.loads((ROOT / "cases" / "pulsatileFlow_R_RCR.json").read_text())
    model = read_svzerod(cfg)
    group = [g.kind for g in model.network.groups].index("rcr")
    scale = np.random.default_rng(seed).uniform(0.5, 2.0, (variants, 2))

    def one(s):
        p = list(model.params)
        rcr = p[group]
        p[group] = dict(rcr, Rp=rcr["Rp"] * s[0], Rd=rcr["Rd"] * s[0], C=rcr["C"] * s[1])
        return simulate(model.network, tuple(p), model.simulation).y

    fn = jax.jit(jax.vmap(one))
    _, compile_s, ours_s, y = compile_and_time(fn, jnp.asarray(scale), repeats=3)

    configs = []
    for s in scale:
        c = copy.deepcopy(cfg)
        values = c["boundary_conditions"][1]["bc_values"]
        values.update(Rp=values["Rp"] * s[0], Rd=values["Rd"] * s[0], C=values["C"] * s[1])
        configs.append(c)
    t0 = time.perf_counter()
    for c in configs:
        svzerod.Solver(c).run()
    peer_s = time.perf_counter() - t0
    check = max(_rel_err(model.network, y[k], svzerod.simulate(configs[k]))
                for k in np.linspace(0, variants - 1, 5).astype(int))
    return {"variants": variants, "compile_s": compile_s, "cardiojax_s": ours_s,
            "svzerod_s": peer_s, "rel_err": check}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=1000, help="parameter sets in the batch (default 1000)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per case (median)")
    args = ap.parse_args()
    try:
        import svzerod
    except ImportError:
        print("svzerod is not installed: pip install -e '.[peers]' (this benchmark installs nothing)",
              file=sys.stderr)
        return 2
    if not ROOT.is_dir():
        print(f"reference data not found at {ROOT}", file=sys.stderr)
        return 2
    jax.config.update("jax_enable_x64", True)

    rows, compile_total = run_cases(svzerod, args.repeats)
    print(f"{'case':<42} {'vessels':>7} {'steps':>6} {'compile s':>9} {'cardiojax s':>11} "
          f"{'svzerod s':>9} {'ratio':>6} {'rel err':>9}")
    for r in rows:
        print(f"{r['case']:<42} {r['vessels']:>7} {r['steps']:>6} {r['compile_s']:9.2f} "
              f"{r['cardiojax_s']:11.4f} {r['svzerod_s']:9.4f} {r['cardiojax_s'] / r['svzerod_s']:6.2f} "
              f"{r['rel_err']:9.2e}")
    batch = run_batch(svzerod, args.variants)
    print(f"batch of {batch['variants']} RCR variants (pulsatileFlow_R_RCR): svzerod one after another "
          f"{batch['svzerod_s']:.2f} s, cardiojax one vmapped call {batch['cardiojax_s']:.3f} s "
          f"(compile {batch['compile_s']:.2f} s), cross-check rel err {batch['rel_err']:.1e}")
    vmr = rows[-1]
    ratios = [r["cardiojax_s"] / r["svzerod_s"] for r in rows]
    figures = {
        "cases": len(rows),
        "max_rel_err": float(f"{max([r['rel_err'] for r in rows] + [batch['rel_err']]):.3e}"),
        "single_run_ratio": round(vmr["cardiojax_s"] / vmr["svzerod_s"], 3),
        "batch_speedup": round(batch["svzerod_s"] / batch["cardiojax_s"], 1),
        "compile_s": round(compile_total + batch["compile_s"], 2),
        "single_run_ratio_geomean_all_cases": round(float(np.exp(np.mean(np.log(ratios)))), 3),
        "vmr_cardiojax_s": round(vmr["cardiojax_s"], 4),
        "vmr_svzerod_s": round(vmr["svzerod_s"], 4),
        "batch_variants": batch["variants"],
        "batch_cardiojax_s": round(batch["cardiojax_s"], 4),
        "batch_svzerod_s": round(batch["svzerod_s"], 3),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
