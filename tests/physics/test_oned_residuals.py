"""The 1D residuals: exact solutions, derivatives against finite differences, junctions against the solver."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from cardiojax.oned import BETA, OLUFSEN, friction_coefficient, junction_conditions
from cardiojax.physics import (
    StackedMLP,
    field_jet,
    junction_residuals,
    k_from_beta,
    oned_residuals,
    residuals_from_jet,
)

RHO, A0, K = 1060.0, 1.2e-5, 2.0e5
C0 = np.sqrt(2.0 * K / (3.0 * RHO))


def wave_field(amplitude=1e-7, direction=1.0):
    """A travelling wave of the linearised equations: A = A0 + a·g(x ∓ c0·t), u = ±c0·a·g/A0, p = (2/3)K·a·g/A0."""

    def g(s):
        return jnp.sin(40.0 * s) + 0.3 * jnp.cos(95.0 * s)

    def field(x, t):
        s = g(x - direction * C0 * t)
        return A0 + amplitude * s, direction * C0 * amplitude * s / A0, (2.0 / 3.0) * K * amplitude * s / A0

    return field


POINTS = (jnp.linspace(0.0, 0.2, 64), jnp.linspace(0.0, 0.05, 64)[::-1])


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_linearised_residuals_vanish_on_travelling_waves(direction):
    x, t = POINTS
    res = oned_residuals(wave_field(direction=direction), x, t, a0=A0, k=K, rho=RHO, linear=True)
    # the terms are of size c0·a·40 ≈ 5e-5 m²/s (mass) and c0²·a/A0·40 ≈ 40 m/s² (momentum)
    assert float(jnp.max(jnp.abs(res.mass))) < 1e-17
    assert float(jnp.max(jnp.abs(res.momentum))) < 1e-10
    assert float(jnp.max(jnp.abs(res.tube_law))) < 1e-10


def test_nonlinear_residual_of_a_small_wave_is_second_order_in_its_amplitude():
    """The full equations differ from the linearised ones by O(a²): halving a quarters the residual."""
    x, t = POINTS
    r1 = oned_residuals(wave_field(1e-7), x, t, a0=A0, k=K, rho=RHO)
    r2 = oned_residuals(wave_field(5e-8), x, t, a0=A0, k=K, rho=RHO)
    for a, b in zip(r1, r2):
        ratio = float(jnp.linalg.norm(a) / jnp.linalg.norm(b))
        assert 3.8 < ratio < 4.2, ratio


def field_mlp(seed=0):
    """A smooth pointwise (x, t) ↦ (A, u, p) field from a small float64 tanh network."""
    net = StackedMLP(1, (2, 8, 8, 3), rngs=nnx.Rngs(seed), dtype=jnp.float64)
    params = nnx.state(net, nnx.Param)
    graphdef = nnx.graphdef(net)

    def field(x, t, params=params):
        model = nnx.merge(graphdef, params)
        o = model(jnp.stack([x / 0.1 - 1.0, t / 0.4 - 1.0], -1)[None])[0]
        return A0 * jnp.exp(0.2 * o[:, 0]), 0.5 * o[:, 1], 1e4 * (1.0 + o[:, 2])

    return field, params


def test_residuals_match_finite_differences_of_the_field():
    field, _ = field_mlp()
    x, t = jnp.linspace(0.01, 0.19, 16), jnp.linspace(0.05, 0.75, 16)
    f, mu = friction_coefficient(3.5e-3, RHO, 9.0), 0.0
    res = oned_residuals(field, x, t, a0=A0, k=K, rho=RHO, friction=f, law="olufsen")
    h = 1e-6
    (a, u, p) = field(x, t)
    ax, ux, px = [(pp - mm) / (2 * h) for pp, mm in zip(field(x + h, t), field(x - h, t))]
    at, ut, _ = [(pp - mm) / (2 * h) for pp, mm in zip(field(x, t + h), field(x, t - h))]
    np.testing.assert_allclose(res.mass, at + a * ux + u * ax, rtol=1e-6, atol=1e-9 * float(jnp.max(jnp.abs(a))))
    np.testing.assert_allclose(res.momentum, ut + u * ux + px / RHO + f * u / a, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.tube_law, p - OLUFSEN.pressure(a, A0, K, 0.0), rtol=1e-12)
    assert mu == 0.0


def test_residual_gradient_against_finite_differences():
    """d/dθ of the mean squared residual w.r.t. the field's parameters (float64, central differences)."""
    field, params = field_mlp(1)
    x, t = jnp.linspace(0.01, 0.19, 16), jnp.linspace(0.05, 0.75, 16)
    scale = (A0 * 10.0, 10.0, 1e4)

    def loss(ps):
        res = oned_residuals(lambda xx, tt: field(xx, tt, ps), x, t, a0=A0, k=K, rho=RHO, friction=1e-4)
        return sum(jnp.mean(jnp.square(r / s)) for r, s in zip(res, scale))

    grads = jax.jit(jax.grad(loss))(params)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    gleaves = jax.tree_util.tree_leaves(grads)
    rng = np.random.default_rng(0)
    direction = [jnp.asarray(rng.standard_normal(leaf.shape)) for leaf in leaves]
    h = 1e-6
    plus = jax.tree_util.tree_unflatten(treedef, [a + h * d for a, d in zip(leaves, direction)])
    minus = jax.tree_util.tree_unflatten(treedef, [a - h * d for a, d in zip(leaves, direction)])
    fd = (float(loss(plus)) - float(loss(minus))) / (2 * h)
    ad = sum(float(jnp.vdot(g, d)) for g, d in zip(gleaves, direction))
    assert abs(ad - fd) <= 1e-6 * abs(fd), (ad, fd)


def test_stacked_mlp_jet_equals_jvp():
    net = StackedMLP(3, (2, 16, 16, 16, 3), rngs=nnx.Rngs(2), dtype=jnp.float64)
    z = jax.random.uniform(jax.random.key(0), (3, 20, 2), jnp.float64, -1.0, 1.0)
    y, (d0, d1) = net.jet(z)
    y_ref, d0_ref = jax.jvp(net, (z,), (jnp.zeros_like(z).at[..., 0].set(1.0),))
    _, d1_ref = jax.jvp(net, (z,), (jnp.zeros_like(z).at[..., 1].set(1.0),))
    np.testing.assert_allclose(y, y_ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(d0, d0_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(d1, d1_ref, rtol=1e-12, atol=1e-13)


def test_beta_law_conversion():
    beta, a0 = 6.97e7, 1.357e-5
    area = jnp.linspace(1.3e-5, 2.6e-5, 5)
    np.testing.assert_allclose(BETA.pressure(area, a0, k_from_beta(beta, a0), 0.0),
                               beta * (jnp.sqrt(area) - jnp.sqrt(a0)), rtol=1e-12)


def test_bad_points_give_clear_errors():
    field = wave_field()
    with pytest.raises(ValueError, match=r"x has shape \(4,\) and t has shape \(5,\)"):
        oned_residuals(field, jnp.zeros(4), jnp.zeros(5), a0=A0, k=K, rho=RHO)
    with pytest.raises(ValueError, match="non-empty 1D"):
        oned_residuals(field, jnp.zeros((2, 2)), jnp.zeros((2, 2)), a0=A0, k=K, rho=RHO)
    with pytest.raises(ValueError, match="rho = -1"):
        oned_residuals(field, jnp.zeros(3), jnp.zeros(3), a0=A0, k=K, rho=-1.0)
    with pytest.raises(ValueError, match="a0 has a non-positive"):
        oned_residuals(field, jnp.zeros(3), jnp.zeros(3), a0=-A0, k=K, rho=RHO)
    with pytest.raises(ValueError, match="law='steel'|tube_law='steel'"):
        oned_residuals(field, jnp.zeros(3), jnp.zeros(3), a0=A0, k=K, rho=RHO, law="steel")


# ----------------------------------------------------------------------------------------------
# junctions
# ----------------------------------------------------------------------------------------------
def test_junction_residuals_measure_mass_imbalance_and_head_jump():
    a = jnp.array([[2.0e-5, 1.0e-5, 1.2e-5]])
    u = jnp.array([[0.5, 0.4, 0.5]])
    q_in = 2.0e-5 * 0.5
    p0 = 1.2e4
    head0 = p0 + 0.5 * RHO * 0.25
    p = jnp.array([[p0, head0 - 0.5 * RHO * 0.16, head0 - 0.5 * RHO * 0.25]])
    r = junction_residuals(a, u, p, jnp.array([1.0, -1.0, -1.0]), rho=RHO)
    assert abs(float(r.mass[0]) - (q_in - 1.0e-5 * 0.4 - 1.2e-5 * 0.5)) < 1e-20
    np.testing.assert_allclose(r.pressure, 0.0, atol=1e-9)
    # mass conserved (daughter 2 carries the rest): zero mass residual
    u2 = (q_in - 1.0e-5 * 0.4) / 1.2e-5
    r = junction_residuals(a, u.at[0, 2].set(u2), p, jnp.array([1.0, -1.0, -1.0]), rho=RHO)
    assert abs(float(r.mass[0])) < 1e-20
    static = junction_residuals(a, u, p, jnp.array([1.0, -1.0, -1.0]), rho=RHO, total=False)
    np.testing.assert_allclose(static.pressure[0], [p0 - p[0, 1], p0 - p[0, 2]], rtol=1e-12)


def test_junction_residuals_vanish_on_the_solvers_junction_solution():
    """The solver's Newton solve of a bifurcation (`solve_junctions`) satisfies the PINN's interface residuals."""
    from cardiojax.oned import build_model
    from cardiojax.oned.junctions import solve_junctions
    from tests.test_oned import _steady_bifurcation

    spec = _steady_bifurcation()
    spec.junctions[0].pressure = "total"
    m = build_model(spec)
    n = m.a0.shape[0]
    rng = np.random.default_rng(3)
    state = jnp.stack([m.a0 * (1.0 + 0.05 * jnp.asarray(rng.random(n))), jnp.asarray(2e-6 * rng.random(n))])
    new = solve_junctions(m, state, iterations=8)
    cell = m.j_cell[0]
    a, q = new[0, cell], new[1, cell]
    u = q / a
    p = m.tube.pressure(a, m.a0[cell], m.k[cell], m.p_ref[cell])
    r = junction_residuals(a, u, p, m.j_sign[0], rho=float(m.blood.density))
    assert abs(float(r.mass)) < 1e-12 * float(jnp.max(jnp.abs(q)))
    assert float(jnp.max(jnp.abs(r.pressure))) < 1e-6 * float(jnp.max(p))
    # the same conditions, through the solver's own function
    mass, jump = junction_conditions(a, u, p, m.j_sign[0], float(m.blood.density))
    assert abs(float(mass - r.mass)) == 0.0 and float(jnp.max(jnp.abs(jump - r.pressure))) == 0.0


def test_junction_bad_input():
    a = jnp.ones((4, 3))
    with pytest.raises(ValueError, match="one shape"):
        junction_residuals(a, jnp.ones((4, 2)), a, jnp.ones(3), rho=RHO)
    with pytest.raises(ValueError, match="one sign per end"):
        junction_residuals(a, a, a, jnp.ones(2), rho=RHO)


def test_residuals_from_jet_broadcasts_wall_parameters():
    field = wave_field()
    x, t = POINTS
    jet = field_jet(field, x, t)
    r1 = residuals_from_jet(jet, x, a0=lambda xx: A0 + 0.0 * xx, k=jnp.full(x.shape, K), rho=RHO)
    r2 = oned_residuals(field, x, t, a0=A0, k=K, rho=RHO)
    for a, b in zip(r1, r2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * float(jnp.max(jnp.abs(b))))
