"""Sparse (fluid-only) D3Q19 lattice: populations stored only for the fluid voxels (lattice units).

On a vessel geometry most voxels of the bounding box are wall. The dense
layout of `cardiojax.threed.lbm` stores 19 floats per *box* voxel (76 bytes
in float32, and 76 more for Bouzidi link fractions ``wall_q``); here ``f`` is
(19, n_fluid) and streaming is a pull through a precomputed index table:

* ``cells`` (n_fluid,) int32: the flat box index ``(ix·ny + iy)·nz + iz`` of
  every fluid voxel, in x-major order (so neighbours along y and z are close
  in memory);
* ``src`` (18, n_fluid) int32: for every moving direction j = 1 … 18 and fluid
  voxel x, the flat index into the post-collision populations (19, n_fluid)
  of the population that streams into ``f_j(x)``: ``f*_j(x − c_j)`` (with the
  same periodic wrap as the dense code), or ``f*_opp(j)(x)`` where x − c_j is
  solid (half-way bounce-back). Streaming plus half-way bounce-back is thus a
  single gather (a permutation of the populations);
* with ``wall_q`` (Bouzidi), one record per wall link (surface voxels only:
  4 int32 + 1 float + 1 bool), which overwrites the half-way value with the
  interpolated one of `cardiojax.threed.lbm.stream`; moving solid voxels
  (``wall_velocity``) add ``6·w_j·c_j·u_w`` to their half-way links.

Memory per fluid voxel: 19 floats (``f``) + 19 int32 (``src`` and ``cells``)
= 152 bytes in float32 (228 in float64), plus the wall links; the dense
layout costs 76 bytes per box voxel (+ 1 byte of ``solid``, + 76 of
``wall_q``). Sparse wins when the fluid fraction is below about ½ (half-way
walls) or about 1 (Bouzidi walls): a 40-voxel pipe in a 48² cross-section is
55 % fluid, a coronary tree in its bounding box 1–5 %. A `lax.fori_loop`
holds two copies of ``f`` in both layouts.

Collision (`lbm.collide`) and the moments (`lbm.macroscopic`) are the dense
functions on the (19, n_fluid) array. The results equal the dense `lbm.run`
to round-off (tested) when the solid voxels of the dense start are at rest
(zero, as `lbm.step` leaves them): where a Bouzidi link with q < ½ needs
``f*_i(x + c_j)`` and x + c_j is solid, the dense code reads the collided
at-rest populations of that solid voxel, and so does this one (ignoring a
Brinkman drag there).
Open boundaries (velocity inlet at x = 0, pressure outlets) are those of
`lbm.open_boundaries`, applied face by face in the same order; every inlet or
outlet voxel needs a fluid inner neighbour (checked).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.threed import lbm
from cardiojax.threed.lattice import OPP, C, Q, W


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SparseLattice:
    """A fluid-only lattice (build it with `build`). Physical parameters as in `lbm.Params` (lattice units):
    ``tau``, ``force`` (3,) body acceleration, ``drag`` (n_fluid,) Brinkman drag (1/step) or ``None``,
    ``inlet_velocity`` (3, ny, nz) at x = 0 or ``None``, ``outlet_drho`` (density deviation) or ``None``.
    Index tables (see the module docstring): ``cells`` (n_fluid,), ``src`` (18, n_fluid); wall links
    ``link_target``, ``link_i``, ``link_behind``, ``link_j`` (n_links,) flat indices into (19, n_fluid),
    ``link_q`` (n_links,) and ``link_solid`` (n_links,) (x + c_j solid); moving walls: ``wall_term``
    (n_moving,) added to the bounced populations at the flat indices ``wall_target``; open boundaries ``inlet`` =
    (cells, inner cells, face index iy·nz + iz) or ``None`` and ``outlets`` = ((cells, inner cells), …),
    applied in order. ``shape`` (nx, ny, nz) is static."""

    tau: jax.Array
    force: jax.Array
    cells: jax.Array
    src: jax.Array
    link_target: jax.Array
    link_i: jax.Array
    link_behind: jax.Array
    link_j: jax.Array
    link_q: jax.Array
    link_solid: jax.Array
    drag: jax.Array | None = None
    wall_target: jax.Array | None = None
    wall_term: jax.Array | None = None
    inlet_velocity: jax.Array | None = None
    outlet_drho: jax.Array | None = None
    inlet: tuple | None = None
    outlets: tuple = ()
    shape: tuple = dataclasses.field(default=(0, 0, 0), metadata=dict(static=True))

    @property
    def n_fluid(self) -> int:
        return int(self.cells.shape[0])

    @property
    def n_links(self) -> int:
        return int(self.link_target.shape[0])


def _coords(cells, shape):
    return np.stack(np.unravel_index(cells, shape))  # (3, n)


def _neighbour(pos, coords, offset, shape):
    """Fluid position (or −1 if solid) of the voxels ``coords + offset`` (periodic wrap)."""
    idx = [(coords[d] + int(offset[d])) % shape[d] for d in range(3)]
    return pos[np.ravel_multi_index(idx, shape)]


def _check_shape(name, value, shape):
    if value is not None and tuple(np.shape(value)) != tuple(shape):
        raise ValueError(f"{name}: shape {tuple(np.shape(value))}; expected {tuple(shape)}")


def _face_group(name, pos, coords, on_face, axis, side, shape):
    """(cells, inner cells) of the fluid voxels ``on_face`` (n_fluid,) bool of the face (axis, side)."""
    k = np.flatnonzero(on_face)
    step = np.zeros(3, int)
    step[axis] = 1 if side == 0 else -1
    inner = _neighbour(pos, coords[:, k], step, shape)
    if (inner < 0).any():
        bad = coords[:, k[np.argmax(inner < 0)]].tolist()
        raise ValueError(f"{name}: the {name} voxel {bad} has a solid inner neighbour along axis {axis}; expected "
                         "fluid one voxel inwards from every inlet/outlet voxel (extend the vessel through the face)")
    return k.astype(np.int32), inner.astype(np.int32)


def _open_groups(params, pos, coords, shape):
    """Inlet and outlet groups in the order of `lbm.open_boundaries`."""
    mask = params.outlet_mask
    inlet, outlets = None, []
    if params.inlet_velocity is None and mask is None:
        return inlet, ()
    if params.inlet_velocity is not None:
        _check_shape("inlet_velocity", params.inlet_velocity, (3,) + tuple(shape[1:]))
        k, inner = _face_group("inlet", pos, coords, coords[0] == 0, 0, 0, shape)
        face = (coords[1, k] * shape[2] + coords[2, k]).astype(np.int32)
        inlet = tuple(jnp.asarray(a) for a in (k, inner, face))
    if mask is None:
        outlets.append(_face_group("outlet", pos, coords, coords[0] == shape[0] - 1, 0, -1, shape))
    else:
        _check_shape("outlet_mask", mask, shape)
        m = np.asarray(mask, bool).ravel()
        flat = np.ravel_multi_index(tuple(coords), shape)
        for axis, side in lbm.OUTLET_FACES:
            if shape[axis] < 3:  # a thin (periodic) axis has no faces, as in `lbm.open_boundaries`
                continue
            k_face = 0 if side == 0 else shape[axis] - 1
            outlets.append(_face_group("outlet", pos, coords, (coords[axis] == k_face) & m[flat], axis, side,
                                       shape))
    return inlet, tuple(tuple(jnp.asarray(a) for a in g) for g in outlets if g[0].size)


def _wall_links(wall_q, pos, coords, shape):
    """Bouzidi link records (target, i, behind, j, q, behind-is-solid) for every fluid ← solid link."""
    n = coords.shape[1]
    wq = np.asarray(wall_q).reshape(Q, -1)
    flat = np.ravel_multi_index(tuple(coords), shape)
    rows = []
    for j in range(1, Q):  # 18 static directions
        i = int(OPP[j])
        k = np.flatnonzero(_neighbour(pos, coords, -C[j], shape) < 0)
        behind = _neighbour(pos, coords[:, k], C[j], shape)
        rows.append((j * n + k, i * n + k, i * n + np.maximum(behind, 0), j * n + k, wq[j, flat[k]], behind < 0))
    cols = [np.concatenate(c) for c in zip(*rows)]
    ints = [jnp.asarray(c.astype(np.int32)) for c in cols[:4]]
    return (*ints, jnp.asarray(cols[4].astype(np.asarray(wall_q).dtype)), jnp.asarray(cols[5]))


def _moving_walls(wall_velocity, pos, coords, shape):
    """(flat targets, terms) of the half-way links from moving solid voxels: the bounced population f_j(x)
    gains ``6·w_j·c_j·u_w(x − c_j)`` (as `lbm.stream`), or ``(None, None)``."""
    if wall_velocity is None:
        return None, None
    _check_shape("wall_velocity", wall_velocity, (3,) + tuple(shape))
    uw = np.asarray(wall_velocity).reshape(3, -1)
    n = coords.shape[1]
    targets, terms = [], []
    for j in range(1, Q):  # 18 static directions
        k = np.flatnonzero(_neighbour(pos, coords, -C[j], shape) < 0)
        wall = np.ravel_multi_index([(coords[d, k] - C[j, d]) % shape[d] for d in range(3)], shape)
        targets.append(j * n + k)
        terms.append(6.0 * W[j] * (C[j].astype(float) @ uw[:, wall]))
    return (jnp.asarray(np.concatenate(targets).astype(np.int32)),
            jnp.asarray(np.concatenate(terms).astype(np.asarray(wall_velocity).dtype)))


def build(params: lbm.Params) -> SparseLattice:
    """The sparse lattice of the dense `lbm.Params` (host side; the geometry fields must be concrete):
    ``solid``, ``wall_q``, ``drag`` and ``outlet_mask`` are read here and not kept in dense form."""
    lbm.check_params(params.tau, params.solid)
    solid = np.asarray(params.solid)
    shape = solid.shape
    if min(shape) < 1 or int(np.prod(shape)) >= 2**31 // Q:
        raise ValueError(f"solid: shape {shape}; expected fewer than {2**31 // Q} voxels (int32 indices)")
    _check_shape("wall_q", params.wall_q, (Q,) + shape)
    _check_shape("drag", params.drag, shape)
    _check_shape("force", params.force, (3,))
    cells = np.flatnonzero(~solid.ravel())
    n = cells.size
    pos = np.full(solid.size, -1, np.int64)
    pos[cells] = np.arange(n)
    coords = _coords(cells, shape)
    src = np.empty((Q - 1, n), np.int64)
    for j in range(1, Q):  # 18 static directions: pull from x − c_j, or bounce back
        s = _neighbour(pos, coords, -C[j], shape)
        src[j - 1] = np.where(s < 0, int(OPP[j]) * n + np.arange(n), j * n + s)
    if params.wall_q is None:
        empty = jnp.zeros(0, jnp.int32)
        links = (empty, empty, empty, empty, jnp.zeros(0, jnp.float32), jnp.zeros(0, bool))
    else:
        links = _wall_links(params.wall_q, pos, coords, shape)
    drag = None if params.drag is None else jnp.asarray(params.drag).reshape(-1)[jnp.asarray(cells)]
    moving = _moving_walls(params.wall_velocity, pos, coords, shape)
    inlet, outlets = _open_groups(params, pos, coords, shape)
    return SparseLattice(params.tau, params.force, jnp.asarray(cells, jnp.int32), jnp.asarray(src, jnp.int32),
                         *links, drag=drag, wall_target=moving[0], wall_term=moving[1],
                         inlet_velocity=params.inlet_velocity, outlet_drho=params.outlet_drho, inlet=inlet,
                         outlets=outlets, shape=tuple(shape))


def _check_f(lat: SparseLattice, f):
    if f.ndim != 2 or f.shape != (Q, lat.n_fluid):
        raise ValueError(f"f: shape {f.shape}; expected ({Q}, {lat.n_fluid}) sparse populations (19, n_fluid)")


def stream(lat: SparseLattice, post, scheme: lbm.Scheme = lbm.Scheme()):
    """Streaming with bounce-back of post-collision populations (19, n_fluid) (see `lbm.stream`)."""
    n = lat.n_fluid
    new = _bounce_links(lat, post, _gather(lat, post), scheme)
    if lat.wall_term is None:
        return new
    flat = new.reshape(-1).at[lat.wall_target].add(lat.wall_term.astype(post.dtype), mode="clip")
    return flat.reshape(Q, n)


def _gather(lat: SparseLattice, post):
    """Pull streaming with half-way bounce-back: one gather per moving direction."""
    flat = post.reshape(-1)
    # one gather per direction (faster on XLA CPU than one (18, n_fluid) gather: 5.9 vs 6.9 ms per step of a
    # 160k-voxel pipe); "clip" and unique_indices (streaming is a permutation) drop the bounds handling
    rows = [jnp.take(flat, lat.src[j], mode="clip", unique_indices=True) for j in range(Q - 1)]
    return jnp.stack([post[0]] + rows)


def _bounce_links(lat: SparseLattice, post, new, scheme):
    """Overwrite the half-way values of the wall links with Bouzidi's interpolated bounce-back."""
    if lat.n_links == 0:
        return new
    n, dt, flat = lat.n_fluid, post.dtype, post.reshape(-1)
    rest = lbm.collide(jnp.zeros((Q, 1), dt), lat.tau, lat.force, scheme)[:, 0]  # a solid voxel at rest
    q = lat.link_q.astype(dt)
    fi = jnp.take(flat, lat.link_i, mode="clip")
    fb = jnp.where(lat.link_solid, rest[lat.link_i // n], jnp.take(flat, lat.link_behind, mode="clip"))
    fj = jnp.take(flat, lat.link_j, mode="clip")
    near = 2.0 * q * fi + (1.0 - 2.0 * q) * fb
    far = (fi + (2.0 * q - 1.0) * fj) / (2.0 * jnp.maximum(q, 0.5))
    value = jnp.where(q < 0.5, near, far)
    return new.reshape(-1).at[lat.link_target].set(value, unique_indices=True, mode="clip").reshape(Q, n)


def _extrapolate(f, cells, inner, drho_b=None, u_b=None):
    """Non-equilibrium extrapolation (as `lbm.open_boundaries`) onto ``cells`` from their ``inner`` cells."""
    g = f[:, inner]
    drho_i, u_i = lbm.macroscopic(g)
    neq = g - lbm.equilibrium(drho_i, u_i)
    d = drho_i if drho_b is None else jnp.broadcast_to(drho_b, drho_i.shape).astype(f.dtype)
    u = u_i if u_b is None else u_b
    return f.at[:, cells].set(lbm.equilibrium(d, u) + neq)


def open_boundaries(lat: SparseLattice, f):
    """Velocity inlet at x = 0 and pressure outlets (see `lbm.open_boundaries`) on sparse populations."""
    if lat.inlet is not None:
        cells, inner, face = lat.inlet
        u_b = jnp.reshape(lat.inlet_velocity, (3, -1))[:, face].astype(f.dtype)
        f = _extrapolate(f, cells, inner, u_b=u_b)
    drho_out = 0.0 if lat.outlet_drho is None else lat.outlet_drho
    for cells, inner in lat.outlets:  # at most 5 static faces
        f = _extrapolate(f, cells, inner, drho_b=drho_out)
    return f


def step(lat: SparseLattice, f, scheme: lbm.Scheme = lbm.Scheme()):
    """One collide-and-stream step on sparse populations ``f`` (19, n_fluid) (then the open ends, if any)."""
    _check_f(lat, f)
    post = lbm.collide(f, lat.tau, lat.force, scheme, lat.drag)
    return open_boundaries(lat, stream(lat, post, scheme))


def run(lat: SparseLattice, f, steps: int, scheme: lbm.Scheme = lbm.Scheme()):
    """``steps`` steps (a `lax.fori_loop`); jit with ``steps`` and ``scheme`` static."""
    _check_f(lat, f)
    return lax.fori_loop(0, steps, lambda _, g: step(lat, g, scheme), f)


def run_inlet(lat: SparseLattice, f, steps: int, inlet_fn, scheme: lbm.Scheme = lbm.Scheme(), start=0):
    """``steps`` steps with the x = 0 inlet velocity ``inlet_fn(t)`` (3, ny, nz) at step t = ``start``, … (a
    traced int; lattice units), as `lbm.run_inlet`; the lattice must have been built with an inlet."""
    _check_f(lat, f)
    if lat.inlet is None:
        raise ValueError("inlet_velocity: the lattice has no inlet; build it from Params with an inlet_velocity")

    def body(t, g):
        return step(dataclasses.replace(lat, inlet_velocity=inlet_fn(start + t)), g, scheme)

    return lax.fori_loop(0, steps, body, f)


def at_rest(lat: SparseLattice, dtype=jnp.float32):
    """Sparse populations (19, n_fluid) of a fluid at rest at ρ = 1 (all deviations zero)."""
    return jnp.zeros((Q, lat.n_fluid), dtype)


def from_dense(lat: SparseLattice, f_dense):
    """Sparse populations (19, n_fluid) of the fluid voxels of dense ones (19, nx, ny, nz)."""
    if tuple(f_dense.shape) != (Q,) + lat.shape:
        raise ValueError(f"f_dense: shape {tuple(f_dense.shape)}; expected {(Q,) + lat.shape}")
    return jnp.reshape(f_dense, (Q, -1))[:, lat.cells]


def to_dense(lat: SparseLattice, f, background=None):
    """Dense populations (19, nx, ny, nz): ``f`` (19, n_fluid) in the fluid voxels, ``background`` (19, nx, ny,
    nz) (default: at rest, zero) in the solid ones."""
    _check_f(lat, f)
    size = int(np.prod(lat.shape))
    base = jnp.zeros((Q, size), f.dtype) if background is None else jnp.reshape(background, (Q, size))
    return base.at[:, lat.cells].set(f).reshape((Q,) + lat.shape)


def bytes_per_fluid_cell(lat: SparseLattice, dtype=jnp.float32) -> float:
    """Bytes per fluid voxel of one copy of the populations and the lattice's index tables and wall links."""
    arrays = [lat.cells, lat.src, lat.link_target, lat.link_i, lat.link_behind, lat.link_j, lat.link_q,
              lat.link_solid] + [a for a in (lat.drag, lat.wall_target, lat.wall_term) if a is not None]
    total = sum(a.size * a.dtype.itemsize for a in arrays) + Q * lat.n_fluid * np.dtype(dtype).itemsize
    return total / lat.n_fluid
