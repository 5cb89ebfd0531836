"""Lattice-Boltzmann core: plane Poiseuille flow (analytic), mass conservation, unit checks, bad input."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.threed import (
    OPP,
    C,
    LatticeUnits,
    Params,
    Scheme,
    W,
    at_rest,
    check_params,
    macroscopic,
    run,
    run_inlet,
)

run_jit = jax.jit(run, static_argnums=(2, 3))
NY = 16


def _channel(tau, g=1e-6, dtype=jnp.float32):
    """A periodic channel of NY fluid voxels between two solid walls, driven along x by an acceleration g."""
    shape = (1, NY + 2, 1)
    solid = np.zeros(shape, bool)
    solid[:, 0, :] = solid[:, -1, :] = True
    return Params(jnp.asarray(tau, dtype), jnp.asarray([g, 0.0, 0.0], dtype), jnp.asarray(solid)), shape


def _poiseuille_error(tau, scheme, dtype=jnp.float32, g=1e-6):
    params, shape = _channel(tau, g, dtype)
    nu = (tau - 0.5) / 3.0
    f = run_jit(params, at_rest(shape, dtype), int(8 * NY * NY / nu), scheme)  # 8 viscous times: steady
    _, u = macroscopic(f, params.force)
    s = np.arange(1, NY + 1) - 0.5  # distance of the voxel centres from the half-way wall
    exact = g / (2.0 * nu) * s * (NY - s)
    return float(np.max(np.abs(np.asarray(u[0, 0, 1:-1, 0]) - exact)) / exact.max())


def test_lattice_is_d3q19():
    assert C.shape == (19, 3) and abs(W.sum() - 1.0) < 1e-15
    assert np.allclose((W[:, None] * C).sum(0), 0.0)
    assert np.allclose(np.einsum("q,qa,qb->ab", W, C, C), np.eye(3) / 3.0)  # isotropy, c_s² = 1/3
    assert (C[OPP] == -C).all()


@pytest.mark.parametrize("tau", [0.8, 1.5])
def test_trt_plane_poiseuille_is_exact_with_halfway_walls(tau):
    """TRT with Λ = 3/16 puts the half-way wall exactly: measured max error 8e-6 (float32 storage of the
    populations' deviations from rest) at any τ; 1e-14 in float64."""
    assert _poiseuille_error(tau, Scheme("trt")) < 2e-5
    assert _poiseuille_error(tau, Scheme("trt"), jnp.float64) < 1e-10


def test_bgk_poiseuille_wall_error_depends_on_tau():
    """BGK is TRT with Λ = (τ − ½)²: exact only at τ = ½ + √(3/16); 1.7 % at τ = 1.5 (measured)."""
    tau_exact = 0.5 + math.sqrt(3.0 / 16.0)
    assert _poiseuille_error(tau_exact, Scheme("bgk"), jnp.float64) < 1e-10
    assert 5e-3 < _poiseuille_error(1.5, Scheme("bgk"), jnp.float64) < 5e-2


def _pipe_error(diameter, interpolated):
    """Relative L2 error of the steady velocity in a periodic circular pipe driven by a body force."""
    from cardiojax.threed.geometry import cylinder, lattice_points, link_fractions, solid_mask

    radius, n = diameter / 2.0, diameter + 4
    shape = (1, n, n)
    centre = (0.0, (n - 1) / 2.0, (n - 1) / 2.0)
    phi = cylinder(centre, radius)
    solid = solid_mask(phi, shape)
    q = jnp.asarray(link_fractions(phi, shape), jnp.float32) if interpolated else None
    tau, g = 0.8, 1e-6 * (20.0 / diameter) ** 2
    nu = (tau - 0.5) / 3.0
    params = Params(jnp.float32(tau), jnp.asarray([g, 0.0, 0.0], jnp.float32), jnp.asarray(solid), q)
    f = run_jit(params, at_rest(shape), int(3 * radius * radius / nu), Scheme("trt"))  # slowest mode e^-17
    _, u = macroscopic(f, params.force)
    pts = lattice_points(shape)
    exact = g / (4.0 * nu) * (radius**2 - (pts[1] - centre[1]) ** 2 - (pts[2] - centre[2]) ** 2)
    fluid = ~solid
    ux = np.asarray(u[0])
    return float(np.sqrt(np.sum((ux[fluid] - exact[fluid]) ** 2) / np.sum(exact[fluid] ** 2)))


def test_pipe_poiseuille_second_order_with_interpolated_bounce_back():
    """Measured rel. L2 errors with the interpolated (Bouzidi) bounce-back: 6.2e-3, 1.5e-3, 2.7e-4 at 10, 20,
    40 cells per diameter (order 2.0 then 2.5); the staircase half-way wall: 2.4e-2 at 20 cells."""
    errors = [_pipe_error(d, True) for d in (10, 20, 40)]
    assert errors[1] < 0.01
    order = np.polyfit(np.log([10.0, 20.0, 40.0]), np.log(errors), 1)[0]
    assert order < -1.8, (errors, order)
    assert _pipe_error(20, False) > 5.0 * errors[1]


def test_womersley_flow_at_alpha_4():
    """Oscillating pressure gradient (body force g0·cos ωt) in a pipe of 20 cells per diameter, α = R√(ω/ν) = 4:
    centreline amplitude over the steady Poiseuille centreline velocity and phase against the gradient,
    analytic 0.30802 and −80.95° (Womersley). Measured 0.30754 and −80.83° (0.16 %, 0.15 %)."""
    from cardiojax.threed import cylinder, link_fractions, run_forced, solid_mask

    diameter = 20
    radius, n = diameter / 2.0, diameter + 5  # odd: a voxel on the axis
    shape = (1, n, n)
    centre = (0.0, (n - 1) / 2.0, (n - 1) / 2.0)
    phi = cylinder(centre, radius)
    solid = solid_mask(phi, shape)
    tau, alpha, g0 = 0.8, 4.0, 1e-6
    nu = (tau - 0.5) / 3.0
    omega = alpha**2 * nu / radius**2
    period = 2.0 * np.pi / omega
    steps = int(round(9 * period))  # the transient decays as exp(−5.78·ν·t/R²): e^-18 after 8 periods
    forces = np.zeros((steps, 3), np.float32)
    forces[:, 0] = g0 * np.cos(omega * np.arange(steps))
    params = Params(jnp.float32(tau), jnp.zeros(3, jnp.float32), jnp.asarray(solid),
                    jnp.asarray(link_fractions(phi, shape), jnp.float32))
    probe = (0, int(centre[1]), int(centre[2]))
    _, u = jax.jit(run_forced, static_argnums=(3, 4))(params, at_rest(shape), jnp.asarray(forces), probe,
                                                       Scheme("trt"))
    k = np.arange(steps - 2 * int(round(period)), steps)  # the last two periods; u after step k is at k + 1
    basis = np.stack([np.cos(omega * (k + 1.0)), np.sin(omega * (k + 1.0))], axis=1)
    (a, b), *_ = np.linalg.lstsq(basis, np.asarray(u[k, 0]), rcond=None)
    ratio = np.hypot(a, b) / (g0 * radius**2 / (4.0 * nu))
    phase = np.degrees(np.arctan2(-b, a))
    assert abs(ratio / 0.30802 - 1.0) < 0.03, ratio
    assert abs(phase / -80.95 - 1.0) < 0.03, phase


def test_total_mass_is_conserved():
    """A random non-equilibrium start in a box with walls and an obstacle, 500 TRT steps with a force."""
    shape = (8, 10, 6)
    solid = np.zeros(shape, bool)
    solid[:, 0, :] = solid[:, -1, :] = True
    solid[3:5, 4:6, 2:4] = True
    key = jax.random.key(0)
    f0 = 1e-3 * jax.random.normal(key, (19,) + shape, jnp.float64)
    f0 = jnp.where(jnp.asarray(solid), 0.0, f0)
    params = Params(jnp.float64(0.7), jnp.asarray([1e-5, 2e-6, 0.0]), jnp.asarray(solid))
    f = run_jit(params, f0, 500, Scheme("trt"))
    fluid = ~solid
    mass = lambda g: float(jnp.sum(jnp.where(fluid, 1.0 + jnp.sum(g, axis=0), 0.0)))  # noqa: E731
    assert abs(mass(f) - mass(f0)) < 1e-12 * mass(f0)
    assert float(jnp.max(jnp.abs(f))) > 0  # something moved


def test_units_and_bad_input():
    units = LatticeUnits.from_physical(dx=1e-4, nu=3.5e-3 / 1060.0, tau=0.8)
    assert math.isclose(units.dt, 0.3 / 3.0 * 1e-8 / (3.5e-3 / 1060.0))
    assert math.isclose(units.velocity_si(units.velocity(0.5)), 0.5)
    units.check(0.01)  # Ma 0.05
    with pytest.raises(ValueError, match=r"Mach number .* exceeds 0.1"):
        units.check(0.5)
    with pytest.raises(ValueError, match=r"tau=0.5: expected tau >= 0.505"):
        LatticeUnits.from_physical(dx=1e-4, nu=3.3e-6, tau=0.5)
    with pytest.raises(ValueError, match=r"dx=-1.0: expected a positive number"):
        LatticeUnits.from_physical(dx=-1.0, nu=3.3e-6, tau=0.8)
    with pytest.raises(ValueError, match="collision='mrt'"):
        Scheme("mrt")
    with pytest.raises(ValueError, match="every voxel is solid"):
        check_params(0.8, np.ones((2, 2, 2), bool))
    with pytest.raises(ValueError, match="3-D bool voxel mask"):
        check_params(0.8, np.zeros((2, 2), bool))


def _stenosed_channel_drop(theta, steps=800):
    """Pressure drop (lattice units) across a channel with a velocity inlet (parabolic, peak 0.02·a), a
    pressure outlet and a smooth stenosis of severity s made of Brinkman drag, after ``steps`` steps."""
    a, s = theta
    nx, ny = 40, 14
    lumen = ny - 2  # fluid rows 1 … 12 between half-way walls at 0.5 and 12.5
    solid = np.zeros((nx, ny, 1), bool)
    solid[:, 0] = solid[:, -1] = True
    x = np.arange(nx, dtype=np.float32)[:, None, None]
    y = np.arange(ny, dtype=np.float32)[None, :, None]
    bump = jnp.where(jnp.abs(x - 20.0) < 8.0, 0.5 * (1.0 + jnp.cos(jnp.pi * (x - 20.0) / 8.0)), 0.0)
    depth = jnp.abs(y - 0.5 * (ny - 1)) - 0.5 * lumen * (1.0 - s * bump)  # > 0 inside the narrowed wall
    drag = jax.nn.sigmoid(depth / 0.7)
    ys = np.arange(ny) - 0.5
    profile = jnp.asarray(np.clip(4.0 * ys * (lumen - ys) / lumen**2, 0.0, None), jnp.float32)
    inlet = jnp.zeros((3, ny, 1), jnp.float32).at[0, :, 0].set(0.02 * a * profile)
    params = Params(jnp.float32(0.8), jnp.zeros(3, jnp.float32), jnp.asarray(solid), None, drag, inlet,
                    jnp.float32(0.0))
    drho, _ = macroscopic(run(params, at_rest((nx, ny, 1)), steps, Scheme("trt")))
    return (jnp.mean(drho[1, 1:-1, 0]) - jnp.mean(drho[-2, 1:-1, 0])) / 3.0


def test_grad_wrt_inlet_velocity_and_stenosis_severity_vs_finite_differences():
    """float32 throughout; measured rel. errors 2e-5 (inlet velocity) and 3.6e-4 (severity)."""
    theta = jnp.array([1.0, 0.5], jnp.float32)
    value, grad = jax.jit(jax.value_and_grad(_stenosed_channel_drop))(theta)
    assert float(value) > 0.0 and float(grad[1]) > 0.0  # a narrower lumen costs pressure
    f = jax.jit(_stenosed_channel_drop)
    for i in range(2):
        e = jnp.zeros(2, jnp.float32).at[i].set(1e-2)
        fd = (float(f(theta + e)) - float(f(theta - e))) / 2e-2
        assert abs(float(grad[i]) - fd) < 1e-3 * abs(fd), (i, float(grad[i]), fd)


def _corner_flow(outlet_on_side: bool, steps=1500):
    """A 2-D box (periodic along z) fed through x = 0 (rows 1–9, wall at y = 0): the flow leaves through
    the face y = ny − 1 (a wall at x = nx − 1) or, as a control, through x = nx − 1 (a wall at y = ny − 1)."""
    n = 20
    solid = np.zeros((n, n, 1), bool)
    solid[:, 0] = True
    solid[0, 10:] = True
    mask = np.zeros((n, n, 1), bool)
    if outlet_on_side:
        solid[-1, :] = True
        mask[1:-1, -1] = True
    else:
        solid[:, -1] = True
        mask[-1, 1:-1] = True
    inlet = np.zeros((3, n, 1), np.float32)
    inlet[0, 1:10] = 0.02
    params = Params(jnp.float32(0.8), jnp.zeros(3, jnp.float32), jnp.asarray(solid), None, None,
                    jnp.asarray(inlet), jnp.float32(0.0), jnp.asarray(mask))
    fn = jax.jit(lambda p, g: run_inlet(p, g, steps, lambda t: p.inlet_velocity))
    return params, fn(params, at_rest((n, n, 1)))


def test_outlets_on_any_face_conserve_mass_and_run_inlet_matches_run():
    params, f = _corner_flow(True)
    drho, u = macroscopic(f)
    inflow = float(jnp.sum(u[0, 1] * (1 + drho[1])))
    outflow = float(jnp.sum(u[1, :, -2] * (1 + drho[:, -2])))
    assert inflow > 0.1 and abs(outflow - inflow) < 2e-3 * inflow, (inflow, outflow)
    # an outlet mask on the face x = nx − 1 is the default outlet; a constant inlet_fn is `run`
    params, f_mask = _corner_flow(False, steps=200)
    plain = dataclasses.replace(params, outlet_mask=None)
    f_plain = jax.jit(run, static_argnums=(2, 3))(plain, at_rest(f_mask.shape[1:]), 200, Scheme())
    np.testing.assert_allclose(np.asarray(f_mask), np.asarray(f_plain), atol=1e-7)
