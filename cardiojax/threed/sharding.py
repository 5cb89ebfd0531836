"""Slab domain decomposition of the dense D3Q19 lattice along x over a 1-D device mesh (lattice units).

The populations (19, nx, ny, nz) are split into ``n`` slabs of ``nx / n``
x-planes, one per device of the mesh axis ``"x"``; the static fields
(``solid``, ``wall_q``, ``drag``, ``outlet_mask``, ``wall_velocity``) are split
the same way, the small ones (``tau``, ``force``, ``inlet_velocity``,
``outlet_drho``) are replicated. Two ways to run:

* `sharded_run`: `lbm.run` under `jax.jit` with these shardings. XLA's SPMD
  partitioner turns the x-rolls of the streaming into collective-permutes of
  one boundary plane per slab and direction (no all-gather of the lattice;
  `collectives` reads the compiled program), and the open boundaries into
  plane-sized all-reduces (the inner neighbour plane of the inlet/outlet lives
  on one device).
* `halo_run` (walls and body force, no open ends): an explicit `jax.shard_map`
  with one `lax.ppermute` per side and step, carrying the 5 populations that
  cross the slab face (those with c_x = ±1) of one x-plane; each slab streams
  (`lbm.stream` on the slab padded with these planes) and collides locally.

Both equal the single-device `lbm.run` to round-off (tested on two emulated
CPU devices, ``XLA_FLAGS=--xla_force_host_platform_device_count=2``). Meshes
must use `AxisType.Auto` (`x_mesh`): with explicit axis types JAX refuses the
one-plane slices of the rolls.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from cardiojax.threed import lbm
from cardiojax.threed.lattice import C

AXIS = "x"
#: directions crossing a slab face to the right (c_x = +1) and to the left (c_x = −1).
_RIGHT = np.flatnonzero(C[:, 0] == 1)
_LEFT = np.flatnonzero(C[:, 0] == -1)
#: Params fields split along x, with the position of the x axis in each.
_SLAB_FIELDS = {"solid": 0, "wall_q": 1, "drag": 0, "outlet_mask": 0, "wall_velocity": 1}


def x_mesh(devices=None) -> Mesh:
    """A 1-D mesh with axis ``"x"`` over ``devices`` (default: all), automatic (GSPMD) partitioning."""
    devices = jax.devices() if devices is None else list(devices)
    return jax.make_mesh((len(devices),), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)


def _spec(ndim_before_x: int):
    return P(*([None] * ndim_before_x), AXIS)


def _check_slabs(nx: int, mesh: Mesh, min_planes: int = 1) -> int:
    n = mesh.shape[AXIS]
    if nx % n or nx // n < min_planes:
        raise ValueError(f"f: nx={nx} x-planes over {n} devices of mesh axis {AXIS!r}; expected nx divisible by {n} "
                         f"with at least {min_planes} plane(s) per device (pad or crop the box along x)")
    return nx // n


def shard_populations(f, mesh: Mesh):
    """Populations (19, nx, ny, nz) placed as slabs along x (`NamedSharding` ``P(None, "x")``)."""
    _check_slabs(f.shape[1], mesh)
    return jax.device_put(f, NamedSharding(mesh, _spec(1)))


def params_shardings(params: lbm.Params, mesh: Mesh) -> lbm.Params:
    """The `NamedSharding` of every field of ``params`` (a Params-shaped pytree; ``None`` fields stay ``None``)."""
    rep = NamedSharding(mesh, P())
    fields = {}
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        if value is not None:
            axis = _SLAB_FIELDS.get(field.name)
            fields[field.name] = rep if axis is None else NamedSharding(mesh, _spec(axis))
        else:
            fields[field.name] = None
    return dataclasses.replace(params, **fields)


def shard_params(params: lbm.Params, mesh: Mesh) -> lbm.Params:
    """``params`` with the voxel fields split along x and the rest replicated (see `params_shardings`)."""
    _check_slabs(np.shape(params.solid)[0], mesh)
    return jax.device_put(params, params_shardings(params, mesh))


def sharded_program(mesh: Mesh, steps: int, scheme: lbm.Scheme = lbm.Scheme(), halo: bool = False, inlet_fn=None):
    """The jitted ``(params, f, start) -> f`` of `sharded_run` (``halo``: of `halo_run`), cached per arguments;
    ``collectives(sharded_program(mesh, 10).lower(shard_params(p, mesh), shard_populations(f, mesh), 0)
    .compile().as_text())`` lists the collectives of the compiled program."""
    if halo and inlet_fn is not None:
        raise ValueError("inlet_fn: halo_run has no open boundaries; use sharded_run")
    return (_jitted_halo if halo else _jitted_run)(mesh, int(steps), scheme, inlet_fn)


@functools.lru_cache(maxsize=32)
def _jitted_run(mesh: Mesh, steps: int, scheme: lbm.Scheme, inlet_fn):
    def run(params, f, start):
        if inlet_fn is None:
            return lbm.run(params, f, steps, scheme)
        return lbm.run_inlet(params, f, steps, inlet_fn, scheme, start)

    return jax.jit(run, out_shardings=NamedSharding(mesh, _spec(1)))


def sharded_run(params: lbm.Params, f, steps: int, scheme: lbm.Scheme = lbm.Scheme(), mesh: Mesh | None = None,
                inlet_fn=None, start=0):
    """`lbm.run` (``steps`` steps) on x-slabs over ``mesh`` (default `x_mesh`), or `lbm.run_inlet` with the x = 0
    inlet velocity ``inlet_fn(t)`` (3, ny, nz) (lattice units) at step t = ``start``, …: XLA inserts the halo
    exchange. Returns the populations (19, nx, ny, nz), sharded along x."""
    mesh = x_mesh() if mesh is None else mesh
    _check_slabs(f.shape[1], mesh)
    fn = sharded_program(mesh, steps, scheme, False, inlet_fn)
    return fn(shard_params(params, mesh), shard_populations(f, mesh), start)


def _halo_perms(n: int):
    return [(d, (d + 1) % n) for d in range(n)], [(d, (d - 1) % n) for d in range(n)]


def _pad_slab(n, axis, a):
    """Inside `shard_map`: a slab of a static field with its neighbours' boundary planes along ``axis`` (x)."""
    to_right, to_left = _halo_perms(n)
    last = lax.slice_in_dim(a, a.shape[axis] - 1, a.shape[axis], axis=axis)
    first = lax.slice_in_dim(a, 0, 1, axis=axis)
    return jnp.concatenate([lax.ppermute(last, AXIS, to_right), a, lax.ppermute(first, AXIS, to_left)], axis=axis)


def _local_stream(n, post, solid, wall_q, wall_velocity):
    """Inside `shard_map` over ``n`` slabs: one slab's post-collision populations (19, m, ny, nz) and its
    padded static fields (m + 2 planes) → streamed populations, solid voxels at rest. One `lax.ppermute` per
    side brings the populations that cross the slab faces (5 of 19, one x-plane); the slab padded with them
    streams with `lbm.stream`."""
    to_right, to_left = _halo_perms(n)
    from_left = lax.ppermute(post[_RIGHT, -1:], AXIS, to_right)  # the left neighbour's last plane
    from_right = lax.ppermute(post[_LEFT, :1], AXIS, to_left)  # the right neighbour's first plane
    zero = jnp.zeros((post.shape[0], 1) + post.shape[2:], post.dtype)
    padded = jnp.concatenate([zero.at[_RIGHT].set(from_left), post, zero.at[_LEFT].set(from_right)], axis=1)
    new = lbm.stream(padded, solid, wall_q, wall_velocity)[:, 1:-1]
    return jnp.where(solid[1:-1], jnp.zeros((), new.dtype), new)


def _local_step(n, scheme, post, solid, wall_q, wall_velocity, params):
    """`_local_stream` then `lbm.collide`: one stream-and-collide pass over the slab."""
    new = _local_stream(n, post, solid, wall_q, wall_velocity)
    return lbm.collide(new, params.tau, params.force, scheme, params.drag)


def halo_run(params: lbm.Params, f, steps: int, scheme: lbm.Scheme = lbm.Scheme(), mesh: Mesh | None = None):
    """As `sharded_run` (walls, body force, periodic along x; no open ends), with an explicit halo exchange:
    `jax.shard_map` with one `lax.ppermute` per side and step of the 5 populations crossing a slab face. Every
    slab needs at least 2 x-planes. Returns the populations (19, nx, ny, nz), sharded along x."""
    mesh = x_mesh() if mesh is None else mesh
    _check_slabs(f.shape[1], mesh, min_planes=2)
    if params.inlet_velocity is not None or params.outlet_mask is not None:
        raise ValueError("inlet_velocity/outlet_mask: halo_run has no open boundaries; use sharded_run")
    return sharded_program(mesh, steps, scheme, True)(shard_params(params, mesh), shard_populations(f, mesh), 0)


def _padded_statics(params: lbm.Params, mesh: Mesh):
    """``solid``, ``wall_q``, ``wall_velocity`` slabs with one neighbour plane each side (m + 2 planes)."""
    out = []
    for name, axis in (("solid", 0), ("wall_q", 1), ("wall_velocity", 1)):
        value = getattr(params, name, None)
        out.append(None if value is None else jax.shard_map(
            functools.partial(_pad_slab, mesh.shape[AXIS], axis), mesh=mesh, in_specs=_spec(axis),
            out_specs=_spec(axis))(value))
    return tuple(out)


@functools.lru_cache(maxsize=32)
def _jitted_halo(mesh: Mesh, steps: int, scheme: lbm.Scheme, inlet_fn=None):
    del inlet_fn  # no open ends
    n = mesh.shape[AXIS]

    def run(params, f, start):
        del start
        statics = _padded_statics(params, mesh)  # once per run
        specs = (_spec(1),) + tuple(None if a is None else _spec(a.ndim - 3) for a in statics)
        p_specs = jax.tree.map(lambda sh: sh.spec, params_shardings(params, mesh),
                               is_leaf=lambda x: isinstance(x, NamedSharding))
        local = jax.shard_map(functools.partial(_local_step, n, scheme), mesh=mesh, in_specs=specs + (p_specs,),
                              out_specs=_spec(1))
        last = jax.shard_map(functools.partial(_local_stream, n), mesh=mesh, in_specs=specs, out_specs=_spec(1))
        if steps <= 0:
            return f
        # the loop carries post-collision populations: one local stream-and-collide pass per slab and step
        post = lax.fori_loop(0, steps - 1, lambda _, g: local(g, *statics, params),
                             lbm.collide(f, params.tau, params.force, scheme, params.drag))
        return last(post, *statics)

    return jax.jit(run, out_shardings=NamedSharding(mesh, _spec(1)))


_COLLECTIVE = re.compile(r"=\s*(\w+)\[([\d,]*)\][^=]*?\s(all-gather|all-reduce|collective-permute|all-to-all|"
                         r"reduce-scatter)(?:-start)?\(")


def collectives(hlo_text: str) -> dict:
    """Collective operations of a compiled program (``jax.jit(...).lower(...).compile().as_text()``):
    ``{op: (count, largest result in elements)}``, e.g. to check that the halo exchange is a
    collective-permute of planes and that no all-gather of the lattice is left."""
    counts, largest = Counter(), Counter()
    for dtype, dims, op in _COLLECTIVE.findall(hlo_text):
        size = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
        counts[op] += 1
        largest[op] = max(largest[op], size)
    return {op: (counts[op], largest[op]) for op in counts}
