"""Lattice-Boltzmann core: plane Poiseuille flow (analytic), mass conservation, unit checks, bad input."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.threed import OPP, C, LatticeUnits, Params, Scheme, W, at_rest, check_params, macroscopic, run

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
