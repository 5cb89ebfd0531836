"""Throughput of the synthetic coronary tree generator (jit + vmap over keys).

    python benchmarks/bench_synth.py [--batch 10000] [--capacity 64] [--side left]

Target on a 2-core CPU: >= 10,000 trees/s at capacity 64. Compile time is
reported apart; timing starts after compilation and a warm-up call and stops
after block_until_ready. Last line: one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--capacity", type=int, default=64)
    ap.add_argument("--side", choices=("left", "right"), default="left")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--float32", action="store_true", help="generate in float32 (default float64)")
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", not args.float32)

    from _timing import compile_and_time, tree_throughput

    from cardiojax.synth import CoronaryPrior, generate_batch

    prior = CoronaryPrior(side=args.side)
    keys = jax.random.split(jax.random.key(0), args.batch)
    fn = jax.jit(lambda k: generate_batch(k, prior, args.capacity))
    _, compile_s, run_s, trees = compile_and_time(fn, keys, repeats=args.repeats)
    figures = {
        **tree_throughput(args.batch, args.capacity, compile_s, run_s, trees),
        "side": args.side,
        "dtype": "float32" if args.float32 else "float64",
        "devices": str(jax.devices()[0].platform),
    }
    print(f"generated {args.batch} {args.side} trees (capacity {args.capacity}, "
          f"{figures['mean_valid_segments']} valid segments on average) in {run_s * 1e3:.1f} ms "
          f"after a {compile_s:.2f} s compile")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
