"""Sparse (fluid-only) lattice: the same results as the dense `lbm.run`, pipe Poiseuille flow, mass, memory, input."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.threed import lbm, sparse
from cardiojax.threed.geometry import cylinder, lattice_points, link_fractions, solid_mask

dense_step = jax.jit(lbm.step, static_argnums=2)  # one step compiles in a third of the time of `run`
sparse_run = jax.jit(sparse.run, static_argnums=(2, 3))


def dense_run(params, f, steps, scheme=lbm.Scheme(), inlet_fn=None):
    """The dense reference: `lbm.step` repeated (as `lbm.run`, or `lbm.run_inlet` with ``inlet_fn``)."""
    for t in range(steps):
        p = params if inlet_fn is None else dataclasses.replace(params, inlet_velocity=inlet_fn(t))
        f = dense_step(p, f, scheme)
    return f


def _pipe(shape=(6, 13, 13), radius=5.2, interpolated=True, dtype=jnp.float64, fins=False, **kw):
    """A pipe along x (periodic unless ``kw`` sets open ends) in a box of ``shape``; with ``fins``, two
    one-voxel-thin slots leave it along ±z, where Bouzidi links find solid on both sides (q = 0.1)."""
    centre = (0.0, (shape[1] - 1) / 2.0, (shape[2] - 1) / 2.0)
    pipe = cylinder(centre, radius)
    phi = pipe
    if fins:
        phi = lambda x: np.minimum(pipe(x), np.maximum(np.abs(x[1] - centre[1]) - 0.4,  # noqa: E731
                                                       np.abs(x[2] - centre[2]) - radius - 1.5))
    solid = solid_mask(phi, shape)
    q = jnp.asarray(link_fractions(phi, shape), dtype) if interpolated else None
    force = kw.pop("force", jnp.asarray([1e-4, 2e-5, 0.0], dtype))
    return lbm.Params(jnp.asarray(0.8, dtype), force, jnp.asarray(solid), q, **kw), solid


def _random_start(solid, dtype=jnp.float64, seed=0):
    f = 1e-3 * jax.random.normal(jax.random.key(seed), (19,) + solid.shape, dtype)
    return jnp.where(jnp.asarray(solid), 0.0, f)


@pytest.mark.parametrize(("interpolated", "collision"), [(False, "trt"), (True, "bgk")])
def test_sparse_equals_dense_on_a_forced_periodic_pipe(interpolated, collision):
    """Half-way and Bouzidi walls (with thin fins: Bouzidi links whose far neighbour x + c_j is solid too),
    a body force with a cross component, a non-equilibrium start: 40 steps agree with the dense lattice to
    float64 round-off (measured 0 and 1e-20)."""
    params, solid = _pipe(shape=(6, 13, 15), radius=4.2, interpolated=interpolated, fins=interpolated)
    f0 = _random_start(solid)
    scheme = lbm.Scheme(collision)
    lat = sparse.build(params)
    assert lat.n_fluid == int((~solid).sum()) and (lat.n_links > 0) == interpolated
    assert bool(jnp.any(lat.link_solid)) == interpolated
    dense = dense_run(params, f0, 40, scheme)
    out = sparse.to_dense(lat, sparse_run(lat, sparse.from_dense(lat, f0), 40, scheme))
    assert float(jnp.max(jnp.abs(dense))) > 1e-4
    np.testing.assert_allclose(np.asarray(out), np.asarray(dense), rtol=0, atol=1e-16)


def _open_box(n=12):
    """A 2-D box (periodic along z) fed through x = 0 (rows 1–5), a wall at y = 0 and a cylinder (Bouzidi
    links), leaving through the faces x = nx − 1 and y = ny − 1 (``outlet_mask``; the corner voxel is on both)."""
    centre, radius = np.array([6.2, 4.3]), 2.1

    def phi(x):  # >= 0 in the walls
        disc = radius - np.hypot(x[0] - centre[0], x[1] - centre[1])
        return np.maximum.reduce([disc, 0.5 - x[1], np.minimum(0.5 - x[0], x[1] - 5.5)])

    shape = (n, n, 1)
    solid = solid_mask(phi, shape)
    mask = np.zeros(shape, bool)
    mask[-1, 1:] = mask[1:, -1] = True
    inlet = np.zeros((3, n, 1))
    inlet[0, 1:6] = 0.03
    return lbm.Params(jnp.asarray(0.7), jnp.zeros(3), jnp.asarray(solid), jnp.asarray(link_fractions(phi, shape)),
                      None, jnp.asarray(inlet), jnp.asarray(2e-3), jnp.asarray(mask))


def test_sparse_equals_dense_with_inlet_and_outlets():
    """A pulsating velocity inlet (`run_inlet`), pressure outlets on two faces (``outlet_mask``) and a curved
    obstacle with Bouzidi links: 80 steps match the dense lattice to round-off; without a mask, the outlet is
    the fluid of the face x = nx − 1."""
    params = _open_box()
    lat = sparse.build(params)
    assert lat.inlet[0].size == 5 and [g[0].size for g in lat.outlets] == [11, 11]  # faces x = 11, y = 11
    pulse = lambda t: params.inlet_velocity * (1.0 + 0.5 * jnp.sin(0.1 * t))  # noqa: E731
    f0 = lbm.at_rest(lat.shape, jnp.float64)
    dense = dense_run(params, f0, 80, inlet_fn=pulse)
    out = jax.jit(lambda s, g: sparse.run_inlet(s, g, 80, pulse))(lat, sparse.from_dense(lat, f0))
    assert float(jnp.max(jnp.abs(dense[:, -1]))) > 1e-3 and float(jnp.max(jnp.abs(dense[:, :, -1]))) > 1e-3
    np.testing.assert_allclose(np.asarray(sparse.to_dense(lat, out)), np.asarray(dense), rtol=0, atol=1e-16)

    default = sparse.build(dataclasses.replace(params, outlet_mask=None))
    (cells, inner), = default.outlets
    np.testing.assert_array_equal(np.asarray(cells), np.asarray(lat.outlets[0][0]))
    step_x = lat.shape[1] * lat.shape[2]  # the inner voxel is one x-plane inwards
    np.testing.assert_array_equal(np.asarray(default.cells[inner]) + step_x, np.asarray(default.cells[cells]))


def test_sparse_pipe_poiseuille_float32():
    """Steady pipe flow at 10 cells per diameter with Bouzidi walls in float32 on the sparse lattice: rel. L2
    error against Poiseuille's profile 6.2e-3 (the dense figure)."""
    diameter = 10
    radius, n = diameter / 2.0, diameter + 4
    shape = (1, n, n)
    centre = (0.0, (n - 1) / 2.0, (n - 1) / 2.0)
    g = 4e-6
    params, solid = _pipe(shape, radius, dtype=jnp.float32, force=jnp.asarray([g, 0.0, 0.0], jnp.float32))
    lat = sparse.build(params)
    nu = (0.8 - 0.5) / 3.0
    f = sparse_run(lat, sparse.at_rest(lat), int(3 * radius * radius / nu), lbm.Scheme())
    assert f.dtype == jnp.float32
    _, u = lbm.macroscopic(f, lat.force)
    pts = lattice_points(shape)[:, ~solid]
    exact = g / (4.0 * nu) * (radius**2 - (pts[1] - centre[1]) ** 2 - (pts[2] - centre[2]) ** 2)
    err = float(np.sqrt(np.sum((np.asarray(u[0]) - exact) ** 2) / np.sum(exact**2)))
    assert err < 1e-2, err


def test_sparse_mass_is_conserved_and_gradients_flow():
    """480 steps from a random start with half-way walls and a force: the total mass Σ(1 + δρ) over the fluid
    is conserved to round-off; `jax.grad` of the mean velocity after 20 steps w.r.t. the force matches
    central finite differences (the flow is nearly linear in the force)."""
    params, solid = _pipe(shape=(6, 13, 15), radius=4.2, interpolated=False)  # as in the first test: compiled
    lat = sparse.build(params)
    f0 = sparse.from_dense(lat, _random_start(solid, seed=1))
    f = f0
    for _ in range(12):
        f = sparse_run(lat, f, 40, lbm.Scheme("trt"))
    mass = lambda g: float(jnp.sum(1.0 + jnp.sum(g, axis=0)))  # noqa: E731
    assert abs(mass(f) - mass(f0)) < 1e-12 * mass(f0)
    assert float(jnp.max(jnp.abs(f - f0))) > 1e-5

    def mean_u(force):
        g = sparse.run(dataclasses.replace(lat, force=force), sparse.at_rest(lat, jnp.float64), 20)
        return jnp.mean(lbm.macroscopic(g, force)[1][0])

    force = jnp.asarray([1e-5, 0.0, 0.0])
    vg = jax.jit(jax.value_and_grad(mean_u))
    value, grad = vg(force)
    assert float(value) > 0 and float(grad[0]) > 0
    e = jnp.asarray([1e-6, 0.0, 0.0])
    fd = (float(vg(force + e)[0]) - float(vg(force - e)[0])) / 2e-6
    assert abs(float(grad[0]) - fd) < 1e-7 * abs(fd), (float(grad[0]), fd)


def test_memory_per_fluid_cell_and_round_trip():
    """Half-way walls: 19 float32 populations + 18 int32 sources + 1 int32 cell index = 152 bytes per fluid
    voxel; a thin vessel (9 % fluid) needs a fifth of the dense memory (76 bytes per box voxel)."""
    params, solid = _pipe((8, 16, 16), 2.6, interpolated=False, dtype=jnp.float32)
    lat = sparse.build(params)
    assert sparse.bytes_per_fluid_cell(lat, jnp.float32) == 19 * 4 + 19 * 4
    fraction = lat.n_fluid / solid.size
    assert fraction < 0.1
    assert sparse.bytes_per_fluid_cell(lat) * lat.n_fluid < 0.25 * 76 * solid.size
    assert sparse.bytes_per_fluid_cell(sparse.build(_pipe((8, 16, 16), 2.6, dtype=jnp.float32)[0])) > 152
    f = _random_start(solid, jnp.float32)
    back = sparse.to_dense(lat, sparse.from_dense(lat, f))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(f))
    assert sparse.from_dense(lat, f).shape == (19, lat.n_fluid)


def test_bad_input():
    params, solid = _pipe((4, 9, 9), 3.2, interpolated=False)
    lat = sparse.build(params)
    with pytest.raises(ValueError, match=r"f: shape \(19, 5\); expected \(19, \d+\)"):
        sparse.run(lat, jnp.zeros((19, 5)), 2)
    with pytest.raises(ValueError, match=r"f_dense: shape \(19, 3, 9, 9\); expected \(19, 4, 9, 9\)"):
        sparse.from_dense(lat, jnp.zeros((19, 3, 9, 9)))
    with pytest.raises(ValueError, match=r"wall_q: shape \(19, 4, 9\); expected \(19, 4, 9, 9\)"):
        sparse.build(dataclasses.replace(params, wall_q=jnp.zeros((19, 4, 9))))
    with pytest.raises(ValueError, match="every voxel is solid"):
        sparse.build(dataclasses.replace(params, solid=jnp.ones((4, 9, 9), bool)))
    with pytest.raises(ValueError, match="the lattice has no inlet"):
        sparse.run_inlet(lat, sparse.at_rest(lat), 2, lambda t: jnp.zeros((3, 9, 9)))
    blocked = np.asarray(solid).copy()
    blocked[1, 4, 4] = True  # the inlet voxel (0, 4, 4) now has a solid inner neighbour
    with pytest.raises(ValueError, match=r"inlet voxel \[0, 4, 4\] has a solid inner neighbour"):
        sparse.build(dataclasses.replace(params, solid=jnp.asarray(blocked), inlet_velocity=jnp.zeros((3, 9, 9))))
    with pytest.raises(ValueError, match=r"inlet_velocity: shape \(3, 9\); expected \(3, 9, 9\)"):
        sparse.build(dataclasses.replace(params, inlet_velocity=jnp.zeros((3, 9))))
