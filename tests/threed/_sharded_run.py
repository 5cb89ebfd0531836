"""Run by tests/threed/test_sharding.py in a subprocess with two emulated CPU devices (the device count must
be set before JAX starts): slab-sharded runs against the single-device `lbm.run`; prints one JSON line."""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"

import dataclasses  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_compilation_cache_dir", str(Path(__file__).resolve().parents[2] / ".jax_cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

from cardiojax.threed import lbm, sharding  # noqa: E402
from cardiojax.threed.geometry import cylinder, link_fractions, solid_mask  # noqa: E402

STEPS = 20
SHAPE = (8, 11, 11)


def _pipe(open_ends: bool):
    """A pipe along x: periodic with a body force and Bouzidi walls, or half-way walls with a parabolic
    velocity inlet at x = 0 and a pressure outlet at x = nx − 1."""
    phi = cylinder((0.0, 5.0, 5.0), 4.3)
    solid = solid_mask(phi, SHAPE)
    if not open_ends:
        return lbm.Params(jnp.asarray(0.8), jnp.asarray([1e-4, 2e-5, 0.0]), jnp.asarray(solid),
                          jnp.asarray(link_fractions(phi, SHAPE)))
    r2 = (np.arange(11)[:, None] - 5.0) ** 2 + (np.arange(11)[None] - 5.0) ** 2
    inlet = np.zeros((3, 11, 11))
    inlet[0] = 0.03 * np.clip(1.0 - r2 / 4.3**2, 0.0, None)
    return lbm.Params(jnp.asarray(0.7), jnp.zeros(3), jnp.asarray(solid), None, None, jnp.asarray(inlet),
                      jnp.asarray(1e-3))


def _pulse(t):
    """A pulsating parabolic inlet (3, ny, nz) at step t (lattice units)."""
    r2 = (jnp.arange(11)[:, None] - 5.0) ** 2 + (jnp.arange(11)[None] - 5.0) ** 2
    peak = 0.03 * (1.0 + 0.5 * jnp.sin(0.2 * t))
    return jnp.zeros((3, 11, 11)).at[0].set(peak * jnp.clip(1.0 - r2 / 4.3**2, 0.0, None))


def _reference(params, f, inlet_fn):
    step = jax.jit(lbm.step)
    for t in range(STEPS):
        f = step(params if inlet_fn is None else dataclasses.replace(params, inlet_velocity=inlet_fn(t)), f)
    return f


def main() -> dict:
    mesh = sharding.x_mesh()
    out = {"devices": len(jax.devices())}
    for name in ("periodic", "open"):
        params = _pipe(name == "open")
        solid = np.asarray(params.solid)
        f0 = jnp.where(jnp.asarray(solid), 0.0, 1e-3 * jax.random.normal(jax.random.key(0), (19,) + SHAPE))
        inlet_fn = _pulse if name == "open" else None  # open: a time-varying inlet (`lbm.run_inlet`)
        ref = _reference(params, f0, inlet_fn)
        res = {"scale": float(jnp.max(jnp.abs(ref)))}
        # periodic: the explicit halo exchange; open ends: XLA's partitioning of `lbm.run_inlet`
        kinds = (("halo", sharding.halo_run),) if inlet_fn is None else (("jit", sharding.sharded_run),)
        for kind, run in kinds:
            f = run(params, f0, STEPS, lbm.Scheme(), mesh, *(() if inlet_fn is None else (inlet_fn,)))
            program = sharding.sharded_program(mesh, STEPS, lbm.Scheme(), kind == "halo", inlet_fn)
            args = (sharding.shard_params(params, mesh), sharding.shard_populations(f0, mesh), 0)
            text = program.lower(*args).compile().as_text()
            res[kind] = {
                "max_diff": float(jnp.max(jnp.abs(f - ref))),
                "spec": str(f.sharding.spec),
                "devices": len(f.sharding.device_set),
                "shard_shapes": sorted({tuple(s.data.shape) for s in f.addressable_shards}),
                "collectives": sharding.collectives(text),
            }
        out[name] = res
    errors = {}
    params = lbm.Params(jnp.asarray(0.8), jnp.zeros(3), jnp.zeros((8, 4, 4), bool))
    cases = {"indivisible": (sharding.sharded_run, dataclasses.replace(params, solid=jnp.zeros((9, 4, 4), bool))),
             "thin_slabs": (sharding.halo_run, dataclasses.replace(params, solid=jnp.zeros((2, 4, 4), bool))),
             "halo_open": (sharding.halo_run, dataclasses.replace(params, inlet_velocity=jnp.zeros((3, 4, 4))))}
    for label, (run, p) in cases.items():
        try:
            run(p, lbm.at_rest(p.solid.shape, jnp.float64), 1, lbm.Scheme(), mesh)
            errors[label] = None
        except ValueError as e:
            errors[label] = str(e)
    out["errors"] = errors
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
    sys.stdout.flush()
