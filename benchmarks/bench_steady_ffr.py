"""Steady hyperemic FFR throughput on synthetic trees, side by side with svZeroDSolver.

    python benchmarks/bench_steady_ffr.py [--batch 4000] [--peer-trees 20]

cardiojax: recipe + Newton tree solve + FFR, jit + vmap over a batch of
capacity-64 trees, float64 (target on a 2-core CPU: >= 1,000 trees/s).
Compile time is reported apart; timing starts after a warm-up call and stops
after block_until_ready. Tree generation is not timed.

Peer (if the ``peers`` extra is installed): svZeroDSolver (`svzerod`) solves
the same trees, exported with `cardiojax.io.tree_to_svzerod`, one
`svzerod.simulate` call per tree (its steady initialisation plus two time
points); the run reports its trees/s, the speed-up and the largest FFR
difference between the two solvers. Last line: one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _peer(res, params, n):
    try:
        import svzerod
    except ImportError:
        return {"peer": None}
    from cardiojax.io import tree_to_svzerod
    from cardiojax.tree import take
    from cardiojax.units import CGS_PRESSURE

    configs, ours = [], []
    for i in range(n):
        tree = take(res.tree, i)
        configs.append(tree_to_svzerod(tree, float(params.aortic_pressure)))
        ours.append(np.asarray(res.ffr_out[i])[np.asarray(tree.valid)])
    svzerod.simulate(configs[0])  # warm-up (library load)
    t0 = time.perf_counter()
    tables = [svzerod.simulate(c) for c in configs]
    peer_s = time.perf_counter() - t0
    diff = 0.0
    for table, mine in zip(tables, ours):
        last = table.groupby("name", sort=False).last()
        theirs = last["pressure_out"].to_numpy() * CGS_PRESSURE / float(params.aortic_pressure)
        diff = max(diff, float(np.max(np.abs(theirs - mine))))
    version = getattr(svzerod, "__version__", "?")
    return {"peer": f"svzerod {version}", "peer_trees": n, "peer_trees_per_s": round(n / peer_s, 2),
            "max_abs_ffr_diff_vs_peer": diff}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4000)
    ap.add_argument("--capacity", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--peer-trees", type=int, default=20)
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)

    from _timing import compile_and_time, tree_throughput

    from cardiojax.clinical import HyperemiaParams, hyperemic_ffr_batch
    from cardiojax.lumped import NEWTON_ITERATIONS
    from cardiojax.synth import generate_trees

    trees = jax.block_until_ready(generate_trees(jax.random.key(0), args.batch, capacity=args.capacity))
    params = HyperemiaParams()
    _, compile_s, run_s, res = compile_and_time(hyperemic_ffr_batch, trees, params, repeats=args.repeats)
    figures = {
        **tree_throughput(args.batch, args.capacity, compile_s, run_s, trees),
        "newton_iterations": NEWTON_ITERATIONS,
        "max_residual": float(res.flow.residual.max()),
        "dtype": "float64",
    }
    figures.update(_peer(res, params, min(args.peer_trees, args.batch)))
    if figures.get("peer_trees_per_s"):
        figures["speedup_vs_peer"] = round(figures["trees_per_s"] / figures["peer_trees_per_s"], 1)
    print(f"solved {args.batch} trees in {run_s * 1e3:.1f} ms ({1e6 * run_s / args.batch:.1f} µs/tree) "
          f"after a {compile_s:.2f} s compile; max residual {figures['max_residual']:.1e}")
    if figures.get("peer"):
        print(f"{figures['peer']}: {figures['peer_trees_per_s']} trees/s on {figures['peer_trees']} of "
              f"the same trees, max |ΔFFR| {figures['max_abs_ffr_diff_vs_peer']:.1e}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
