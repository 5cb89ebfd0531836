"""3D lattice Boltzmann speed: cardiojax against XLB on the same 64³ D3Q19 BGK lid-driven cavity.

    python benchmarks/bench_lbm.py [--n 64] [--steps 100] [--repeats 3] [--xlb-python PATH]

cardiojax: a 64³ box whose outer voxel layer is solid (half-way bounce-back),
the top layer (z = n − 1) moving at u = (0.02, 0, 0) (bounce-back with Ladd's
moving-wall term), BGK with τ = 1 (XLB's ω = 1), float32, ``steps`` steps of
one compiled `cardiojax.threed.run` (fused stream-and-collide); TRT is timed
too. XLB 0.3.1: its own ``examples/performance/mlups_3d.py`` set-up (an
equilibrium lid at (0.02, 0, 0), full-way bounce-back walls, fp32, ω = 1) on
its JAX backend, stepped from Python as XLB does, run by
``benchmarks/_xlb_cavity.py`` with ``--xlb-python`` (XLB's own environment:
``pip install xlb==0.3.1 warp-lang==1.11.1``; default: the ``XLB_PYTHON``
environment variable, else this interpreter if it can import xlb). Both count
every lattice cell (n³) per step. Each side compiles first and is timed after
``block_until_ready``, best of ``--repeats``; cardiojax is timed before and after
XLB and the better figure kept, so a busy machine hurts both alike.

Both layouts of cardiojax are timed: dense (`cardiojax.threed.run`, rolls on the
box) and sparse (`cardiojax.threed.sparse`, fluid voxels only, streaming by an
index gather); ``mlups`` is the faster of the two on the cavity (both are
printed), counting n³ cells per step as XLB does.

``fluid_mlups_vessel``: fluid-cell updates per second on a vessel — a 50 %
stenosed tube of 36 voxels diameter in a 128×40×40 box with interpolated
(Bouzidi) walls, a velocity inlet and a pressure outlet, TRT — the faster
layout (both printed).

Last line: ``{"mlups", "xlb_mlups", "speedup_vs_xlb", "fluid_mlups_vessel", "compile_s", ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.threed import Params, Scheme, at_rest, geometry, macroscopic, run, sparse

HERE = Path(__file__).resolve().parent
LID_VELOCITY = 0.02


def cavity_params(n: int) -> Params:
    """A lid-driven cavity: solid outer layer, the top layer moving along x (lattice units)."""
    solid = np.ones((n, n, n), bool)
    solid[1:-1, 1:-1, 1:-1] = False
    wall_velocity = np.zeros((3, n, n, n), np.float32)
    wall_velocity[0, :, :, -1] = LID_VELOCITY
    return Params(jnp.float32(1.0), None, jnp.asarray(solid), wall_velocity=jnp.asarray(wall_velocity))


def vessel_params(shape=(128, 40, 40), radius=18.0, severity=0.5) -> Params:
    """A stenosed tube along x with Bouzidi walls, a parabolic inlet (peak 0.04) and a pressure outlet."""
    nx, ny, nz = shape
    centre = (0.5 * (ny - 1), 0.5 * (nz - 1))
    phi = geometry.stenosed_tube((0.0, *centre), (nx - 1.0, *centre), radius, severity=severity,
                                 lesion_length=2.0 * radius, position=0.5)
    solid = geometry.solid_mask(phi, shape)
    wall_q = geometry.link_fractions(phi, shape)
    y, z = np.meshgrid(np.arange(ny) - centre[0], np.arange(nz) - centre[1], indexing="ij")
    profile = np.clip(1.0 - (y * y + z * z) / radius**2, 0.0, None) * 0.04
    inlet = np.zeros((3, ny, nz), np.float32)
    inlet[0] = profile
    return Params(jnp.float32(0.6), None, jnp.asarray(solid), jnp.asarray(wall_q, jnp.float32), None,
                  jnp.asarray(inlet), jnp.float32(0.0))


def time_run(params: Params, shape, steps: int, scheme: Scheme, repeats: int):
    """``(compile_s, best_run_s, populations)`` of ``steps`` steps from rest."""
    fn = jax.jit(run, static_argnums=(2, 3))
    f0 = at_rest(shape)
    t = time.perf_counter()
    compiled = fn.lower(params, f0, steps, scheme).compile()
    compile_s = time.perf_counter() - t
    out = jax.block_until_ready(compiled(params, f0))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = jax.block_until_ready(compiled(params, f0))
        best = min(best, time.perf_counter() - t)
    return compile_s, best, out


def time_sparse(params: Params, steps: int, scheme: Scheme, repeats: int):
    """``(compile_s, best_run_s, n_fluid)`` of ``steps`` steps of the sparse (fluid-only) layout from rest."""
    lat = sparse.build(params)
    fn = jax.jit(sparse.run, static_argnums=(2, 3))
    f0 = sparse.at_rest(lat)
    t = time.perf_counter()
    compiled = fn.lower(lat, f0, steps, scheme).compile()
    compile_s = time.perf_counter() - t
    jax.block_until_ready(compiled(lat, f0))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(compiled(lat, f0))
        best = min(best, time.perf_counter() - t)
    return compile_s, best, int(lat.cells.shape[0])


def xlb_python(arg: str | None) -> str | None:
    """The interpreter to run XLB with, or None if none can import it."""
    candidate = arg or os.environ.get("XLB_PYTHON")
    if candidate:
        return candidate
    try:
        import xlb  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def run_xlb(python: str, n: int, steps: int, repeats: int) -> dict:
    cmd = [python, str(HERE / "_xlb_cavity.py"), "--n", str(n), "--steps", str(steps), "--repeats", str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"XLB run failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=64, help="cavity edge (cells, default 64)")
    ap.add_argument("--steps", type=int, default=100, help="steps per timed run (default 100)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per side, best kept (default 3)")
    ap.add_argument("--xlb-python", default=None, help="python of an environment with xlb==0.3.1 (default "
                    "$XLB_PYTHON, else this interpreter if it imports xlb)")
    args = ap.parse_args()
    n, steps = args.n, args.steps
    shape = (n, n, n)

    cavity = cavity_params(n)
    compile_s, best_bgk, f = time_run(cavity, shape, steps, Scheme("bgk"), args.repeats)
    drho, u = macroscopic(f)
    fluid = ~np.asarray(cavity.solid)
    mass_drift = float(jnp.sum(jnp.where(cavity.solid, 0.0, drho)))
    umax = float(jnp.max(jnp.abs(u[0])))
    _, best_trt, _ = time_run(cavity, shape, steps, Scheme("trt"), args.repeats)
    sp_compile, best_sparse, _ = time_sparse(cavity, steps, Scheme("bgk"), args.repeats)

    python = xlb_python(args.xlb_python)
    xlb = None
    if python is None:
        print("XLB not available: pass --xlb-python (an environment with `pip install xlb==0.3.1 "
              "warp-lang==1.11.1`) or set XLB_PYTHON", file=sys.stderr)
    else:
        xlb = run_xlb(python, n, steps, args.repeats)
        _, again, _ = time_run(cavity, shape, steps, Scheme("bgk"), args.repeats)
        best_bgk = min(best_bgk, again)

    vessel = vessel_params()
    vshape = vessel.solid.shape
    vsteps = max(steps // 2, 10)
    v_compile, v_best, fv = time_run(vessel, vshape, vsteps, Scheme("trt"), args.repeats)
    n_fluid = int((~np.asarray(vessel.solid)).sum())
    finite = bool(np.isfinite(np.asarray(fv)).all())
    vs_compile, vs_best, _ = time_sparse(vessel, vsteps, Scheme("trt"), args.repeats)

    dense_mlups = n**3 * steps / best_bgk / 1e6
    sparse_mlups = n**3 * steps / best_sparse / 1e6
    mlups = max(dense_mlups, sparse_mlups)
    vessel_dense = n_fluid * vsteps / v_best / 1e6
    vessel_sparse = n_fluid * vsteps / vs_best / 1e6
    rows = [
        ("cavity, dense", f"{n}³ BGK", f"{dense_mlups:.2f}", f"{compile_s:.2f}"),
        ("cavity, sparse", f"{n}³ BGK", f"{sparse_mlups:.2f}", f"{sp_compile:.2f}"),
        ("cavity, dense", f"{n}³ TRT", f"{n**3 * steps / best_trt / 1e6:.2f}", ""),
        ("vessel, dense (fluid)", f"{vshape} TRT, {n_fluid} fluid", f"{vessel_dense:.2f}", f"{v_compile:.2f}"),
        ("vessel, sparse (fluid)", f"{vshape} TRT, {n_fluid} fluid", f"{vessel_sparse:.2f}", f"{vs_compile:.2f}"),
    ]
    if xlb:
        rows.insert(2, ("cavity, XLB 0.3.1 JAX", f"{n}³ BGK", f"{xlb['xlb_mlups']:.2f}", f"{xlb['compile_s']:.2f}"))
    print(f"{'case':24s} {'set-up':34s} {'MLUPS':>8s} {'compile s':>10s}")
    for r in rows:
        print(f"{r[0]:24s} {r[1]:34s} {r[2]:>8s} {r[3]:>10s}")
    print(f"cavity after {steps} steps: largest |u_x| {umax:.4f} (lid {LID_VELOCITY}), mass drift {mass_drift:.2e} "
          f"over {int(fluid.sum())} fluid cells; vessel populations finite: {finite}")
    summary = {
        "mlups": round(mlups, 2),
        "xlb_mlups": None if xlb is None else xlb["xlb_mlups"],
        "speedup_vs_xlb": None if xlb is None else round(mlups / xlb["xlb_mlups"], 2),
        "fluid_mlups_vessel": round(max(vessel_dense, vessel_sparse), 2),
        "compile_s": round(compile_s if mlups == dense_mlups else sp_compile, 2),
        "dense_mlups": round(dense_mlups, 2),
        "sparse_mlups": round(sparse_mlups, 2),
        "fluid_mlups_vessel_dense": round(vessel_dense, 2),
        "fluid_mlups_vessel_sparse": round(vessel_sparse, 2),
        "trt_mlups": round(n**3 * steps / best_trt / 1e6, 2),
        "xlb_compile_s": None if xlb is None else xlb["compile_s"],
        "n": n,
        "steps": steps,
        "vessel_fluid_cells": n_fluid,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
