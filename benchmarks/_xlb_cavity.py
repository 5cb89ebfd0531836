"""XLB's own 64³ D3Q19 BGK lid-driven cavity on its JAX backend (run by `bench_lbm.py`, possibly in XLB's own
environment: ``pip install xlb==0.3.1 warp-lang==1.11.1``). Set-up as XLB's ``examples/performance/mlups_3d.py``:
an equilibrium lid at u = (0.02, 0, 0), full-way bounce-back on the other walls, fp32, ω = 1. Compiles with
one step, then times ``steps`` steps after ``block_until_ready`` (best of ``repeats``). Prints one JSON line."""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
import xlb
from xlb.compute_backend import ComputeBackend
from xlb.distribute import distribute
from xlb.grid import grid_factory
from xlb.operator.boundary_condition import EquilibriumBC, FullwayBounceBackBC
from xlb.operator.stepper import IncompressibleNavierStokesStepper
from xlb.precision_policy import PrecisionPolicy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    backend, precision = ComputeBackend.JAX, PrecisionPolicy.FP32FP32
    velocity_set = xlb.velocity_set.D3Q19(precision_policy=precision, compute_backend=backend)
    xlb.init(velocity_set=velocity_set, default_backend=backend, default_precision_policy=precision)
    grid = grid_factory((args.n,) * 3)
    box = grid.bounding_box_indices()
    box_no_edge = grid.bounding_box_indices(remove_edges=True)
    lid = box_no_edge["top"]
    walls = [box["bottom"][i] + box["left"][i] + box["right"][i] + box["front"][i] + box["back"][i] for i in range(3)]
    walls = np.unique(np.array(walls), axis=-1).tolist()
    bcs = [EquilibriumBC(rho=1.0, u=(0.02, 0.0, 0.0), indices=lid), FullwayBounceBackBC(indices=walls)]
    stepper = IncompressibleNavierStokesStepper(grid=grid, boundary_conditions=bcs, collision_type="BGK")
    stepper = distribute(stepper, grid, velocity_set)
    f0, f1, bc_mask, missing_mask = stepper.prepare_fields()
    t = time.perf_counter()
    f0, f1 = stepper(f0, f1, bc_mask, missing_mask, 1.0, 0)
    jax.block_until_ready((f0, f1))
    compile_s = time.perf_counter() - t
    best = float("inf")
    for _ in range(args.repeats):
        t = time.perf_counter()
        for i in range(args.steps):
            f0, f1 = stepper(f0, f1, bc_mask, missing_mask, 1.0, i)
            f0, f1 = f1, f0
        jax.block_until_ready((f0, f1))
        best = min(best, time.perf_counter() - t)
    rho = float(np.asarray(jax.numpy.sum(f0)) / args.n**3)
    print(json.dumps({"xlb_version": xlb.__version__ if hasattr(xlb, "__version__") else "0.3.1",
                      "jax_version": jax.__version__, "n": args.n, "steps": args.steps, "run_s": round(best, 4),
                      "compile_s": round(compile_s, 3), "xlb_mlups": round(args.n**3 * args.steps / best / 1e6, 3),
                      "mean_density": rho}))


if __name__ == "__main__":
    main()
