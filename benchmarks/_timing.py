"""Shared timing helper for the benchmarks: compile first, then time after block_until_ready."""

from __future__ import annotations

import statistics
import time

import jax


def compile_and_time(fn, *args, repeats: int = 5):
    """``(compiled, compile_s, run_s_median, output)`` for ``jax.jit``-ed ``fn`` on ``args``."""
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    out = jax.block_until_ready(compiled(*args))  # warm-up run (allocations, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    return compiled, compile_s, statistics.median(times), out


def tree_throughput(batch: int, capacity: int, compile_s: float, run_s: float, trees) -> dict:
    """The figures every tree benchmark reports (keys fixed by the issue: trees_per_s, segments, compile_s)."""
    return {
        "trees_per_s": round(batch / run_s, 1),
        "segments": capacity,
        "compile_s": round(compile_s, 3),
        "batch": batch,
        "run_s": round(run_s, 4),
        "mean_valid_segments": round(float(trees.num_segments.mean()), 2),
    }
