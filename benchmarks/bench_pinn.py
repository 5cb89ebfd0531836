"""1D PINN training step: time per Adam iteration on the Kissas et al. (2020) configurations.

Configurations (both with the authors' tanh networks of 100 units per layer, one per vessel, and a residual
batch of 1024 points per vessel, all measurements and the junctions in every step, float32; inputs with the
study's 16 time harmonics, which only widen the first layer):

* ``invivo``: the in-vivo aorta (4 networks: aorta1, carotid, aorta3, aorta4; 2 junctions; 800-sample
  measurements), 6 hidden layers as the authors' in-vivo script (``layers = [2, 100 × 6, 3]``) — the
  configuration of their 0.10 s per iteration and of the issue's "4 networks ..., batch 1024";
* ``ybif``: the Y-bifurcation (3 networks, 1 junction, 413-sample measurements), 7 hidden layers as the
  authors' Y-bifurcation script (``layers = [2, 100 × 7, 3]``).

``--depth`` sets both to the same depth.

One compiled call runs ``--chunk`` Adam steps (`jax.lax.scan`, fresh residual points each step); it is compiled
first (``compile_s``), then timed ``--repeats`` times after ``block_until_ready``; the median per step is
reported, with the FLOPs of the hidden-layer products (forward, and twice that for the backward pass) and the
GFLOP/s they reach, next to the rate of that product alone on this CPU (the floor of the step time). The
reference is the authors' TensorFlow 1 code on this CPU, in-vivo case: 0.10 s per iteration (figure
given in the issue; TensorFlow 1 does not install on Python 3.11).

    python benchmarks/bench_pinn.py
    python benchmarks/bench_pinn.py --tf-python /path/to/tf-venv/bin/python   # + the TensorFlow peer

With ``--tf-python`` the same run also times `_tf_pinn.py`, the authors' in-vivo training step rebuilt in
TensorFlow 2 (graph mode, their reverse-mode derivatives and losses, the same sizes), and reports
``tf_s_per_iter`` and ``speedup_vs_tf``.

Last line: ``{"s_per_iter": ..., "speedup_vs_reference": ..., "s_per_iter_ybif": ..., ...}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
from flax import nnx

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REFERENCE_S_PER_ITER = 0.10
AUTHORS_DEPTH = {"invivo": 6, "ybif": 7}  # hidden layers of the authors' networks in each case


def time_case(case, depth: int, width: int, batch: int, chunk: int, repeats: int, harmonics: int) -> dict:
    from cardiojax.physics import PINNConfig
    from cardiojax.physics.network_pinn import compile_problem
    from cardiojax.physics.training import adam_schedule, build_model, make_adam_chunk

    config = PINNConfig(depth=depth, width=width, batch=batch, adam_steps=chunk * (repeats + 1), chunk=chunk,
                        time_harmonics=harmonics)
    arrays, scales = compile_problem(case.problem, batch)
    model = build_model(case.problem, config)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(adam_schedule(config))
    opt_state = tx.init(params)
    run, _ = make_adam_chunk(graphdef, arrays, scales, case.problem, config, tx)
    key = jax.random.key(0)
    t0 = time.perf_counter()
    step0 = jnp.float32(0.0)
    compiled = run.lower(params, rest, opt_state, key, step0).compile()
    compile_s = time.perf_counter() - t0
    params, opt_state, key, _ = jax.block_until_ready(compiled(params, rest, opt_state, key, step0))  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        params, opt_state, key, parts = jax.block_until_ready(compiled(params, rest, opt_state, key, step0))
        times.append((time.perf_counter() - t0) / chunk)
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
    rows = int(arrays.r_x.size + 3 * arrays.r_x.shape[0] * batch)  # fixed rows + residual rows with 2 tangents
    flop = 3 * 2 * rows * (depth - 1) * width * width  # hidden products: forward + two for the backward pass
    s_iter = statistics.median(times)
    return {"s_per_iter": s_iter, "compile_s": compile_s, "networks": len(case.problem.vessels),
            "params": int(n_params), "rows_per_step": rows, "gflop_per_step": flop / 1e9,
            "gflops": flop / s_iter / 1e9}


def matmul_peak(width: int, rows: int = 8192, nets: int = 4, repeats: int = 20) -> float:
    """GFLOP/s of the networks' hidden-layer product alone, (nets, rows, width) × (nets, width, width), float32."""
    x = jnp.ones((nets, rows, width), jnp.float32)
    w = jnp.ones((nets, width, width), jnp.float32)
    f = jax.jit(lambda x, w: jnp.einsum("vni,vio->vno", x, w))
    jax.block_until_ready(f(x, w))
    t0 = time.perf_counter()
    for _ in range(repeats):
        y = f(x, w)
    jax.block_until_ready(y)
    return 2 * nets * rows * width * width / ((time.perf_counter() - t0) / repeats) / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--depth", type=int, default=None,
                    help="hidden layers of both configurations (default: the authors' 6 in-vivo, 7 Y-bifurcation)")
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--chunk", type=int, default=50, help="Adam steps per compiled call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--harmonics", type=int, default=16, help="time harmonics in the input (the study's default)")
    ap.add_argument("--tf-python", default="",
                    help="python with TensorFlow 2 to run the peer `_tf_pinn.py` side by side (e.g. a venv with "
                         "`pip install tensorflow-cpu`); empty: skip the peer")
    args = ap.parse_args(argv)
    jax.config.update("jax_compilation_cache_dir", str(ROOT / ".jax_cache"))
    from cardiojax.physics import kissas

    results = {}
    depths = {name: d if args.depth is None else args.depth for name, d in AUTHORS_DEPTH.items()}
    for name, loader in (("invivo", kissas.invivo_aorta), ("ybif", kissas.y_bifurcation)):
        r = time_case(loader(SHARED), depths[name], args.width, args.batch, args.chunk, args.repeats, args.harmonics)
        results[name] = r
        print(f"{name:7s} {r['networks']} networks × {depths[name]}×{args.width}, batch {args.batch}: "
              f"{r['s_per_iter'] * 1e3:.1f} ms/iter (compile {r['compile_s']:.1f} s, {r['rows_per_step']} network "
              f"rows per step, {r['gflop_per_step']:.2f} GFLOP in the hidden products → {r['gflops']:.0f} GFLOP/s)")
    peak = matmul_peak(args.width)
    floor = results["invivo"]["gflop_per_step"] / peak
    print(f"the hidden-layer product alone runs at {peak:.0f} GFLOP/s here: the in-vivo step cannot take less than "
          f"{floor * 1e3:.0f} ms at that rate")
    tf_s = None
    if args.tf_python:
        cmd = [args.tf_python, str(Path(__file__).with_name("_tf_pinn.py")), "--depth", str(depths["invivo"]),
               "--width", str(args.width), "--batch", str(args.batch), "--threads", "2"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"the TensorFlow peer failed:\n{done.stderr[-2000:]}")
        peer = json.loads(done.stdout.strip().splitlines()[-1])
        tf_s = peer["tf_s_per_iter"]
        print(f"TensorFlow {peer['tf_version']} peer (the authors' in-vivo step rebuilt, reverse-mode derivatives): "
              f"{tf_s * 1e3:.1f} ms/iter")
    s = results["invivo"]["s_per_iter"]
    print(f"authors' TensorFlow, in-vivo: {REFERENCE_S_PER_ITER * 1e3:.0f} ms/iter (from the issue) → "
          f"speed-up {REFERENCE_S_PER_ITER / s:.2f}× (target ≥ 5×)")
    print(json.dumps({"s_per_iter": round(s, 5), "speedup_vs_reference": round(REFERENCE_S_PER_ITER / s, 3),
                      "s_per_iter_ybif": round(results["ybif"]["s_per_iter"], 5),
                      "compile_s": round(results["invivo"]["compile_s"], 2),
                      "reference_s_per_iter": REFERENCE_S_PER_ITER, "networks": results["invivo"]["networks"],
                      "gflops": round(results["invivo"]["gflops"], 1), "matmul_peak_gflops": round(peak, 1),
                      "floor_s_per_iter": round(floor, 5), "harmonics": args.harmonics,
                      "tf_s_per_iter": None if tf_s is None else round(tf_s, 5),
                      "speedup_vs_tf": None if tf_s is None else round(tf_s / s, 3),
                      "depth": depths["invivo"], "depth_ybif": depths["ybif"], "width": args.width, "batch": args.batch,
                      "jax_version": jax.__version__}))


if __name__ == "__main__":
    main()
