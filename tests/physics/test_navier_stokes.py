"""3D steady incompressible Navier–Stokes residuals: exact solutions, analytic residuals, gradients, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from cardiojax.physics.navier_stokes import NSResidual, ns_residuals

RHO, MU = 1060.0, 3.5e-3          # blood, kg/m³ and Pa·s
R = 2e-3                          # pipe radius, m
G = 800.0                         # pressure gradient −dp/dz, Pa/m
P0 = 1.2e4                        # Pa
N = 64


def _pipe_points(n=N, seed=0):
    """n points inside a pipe of radius R along z, 0 <= z <= 0.05 m."""
    rng = np.random.default_rng(seed)
    r = R * np.sqrt(rng.uniform(0, 1, n))
    th = rng.uniform(0, 2 * np.pi, n)
    return jnp.asarray(np.stack([r * np.cos(th), r * np.sin(th), rng.uniform(0, 0.05, n)], axis=1))


XYZ = _pipe_points()


def poiseuille(x, g=G, g_p=None):
    """u_z = g/(4μ)(R² − x² − y²); p = p0 − g_p z (g_p = g: exact solution)."""
    g_p = g if g_p is None else g_p
    w = g / (4 * MU) * (R**2 - x[0] ** 2 - x[1] ** 2)
    return jnp.array([0.0, 0.0, 1.0]) * w, P0 - g_p * x[2]


def test_poiseuille_residuals_vanish():
    res = ns_residuals(poiseuille, XYZ, rho=RHO, mu=MU)
    assert isinstance(res, NSResidual)
    assert res.continuity.shape == (N,) and res.momentum.shape == (N, 3)
    assert float(jnp.max(jnp.abs(res.momentum))) < 1e-9 * G
    u_max = G * R**2 / (4 * MU)
    assert float(jnp.max(jnp.abs(res.continuity))) < 1e-12 * u_max / R


def test_poiseuille_with_wrong_pressure_gradient_has_analytic_residual():
    """Velocity driven by G but p = p0 − 0.6 G z: momentum residual (0, 0, G − 0.6 G) = (0, 0, 0.4 G)."""
    res = ns_residuals(lambda x: poiseuille(x, g_p=0.6 * G), XYZ, rho=RHO, mu=MU)
    expected = np.broadcast_to([0.0, 0.0, 0.4 * G], (N, 3))
    np.testing.assert_allclose(np.asarray(res.momentum), expected, rtol=0, atol=1e-9 * G)
    np.testing.assert_allclose(np.asarray(res.continuity), 0.0, atol=1e-9)


def test_body_force_drives_poiseuille_at_uniform_pressure():
    """u as Poiseuille, p constant, f = (0, 0, G) N/m³: callable, (3,) and (N, 3) forms all give zero."""
    field = lambda x: (poiseuille(x)[0], jnp.asarray(P0))  # noqa: E731
    f = jnp.array([0.0, 0.0, G])
    for body_force in (lambda x: f, f, jnp.broadcast_to(f, (N, 3))):
        res = ns_residuals(field, XYZ, rho=RHO, mu=MU, body_force=body_force)
        assert float(jnp.max(jnp.abs(res.momentum))) < 1e-9 * G
    # without the force the viscous term −μ∇²u = (0, 0, G) is left unbalanced
    res = ns_residuals(field, XYZ, rho=RHO, mu=MU)
    np.testing.assert_allclose(np.asarray(res.momentum), np.broadcast_to(f, (N, 3)), atol=1e-9 * G)


# Kovasznay flow (exact steady NS solution) in dimensional form: length L, speed U, Re = ρUL/μ.
L_K, RE = 0.01, 40.0
U_K = RE * MU / (RHO * L_K)
LAM = RE / 2 - np.sqrt(RE**2 / 4 + 4 * np.pi**2)


def kovasznay(x):
    """u = U(1 − e^{λx/L} cos 2πy/L), v = U λ/(2π) e^{λx/L} sin 2πy/L, w = 0; p = −½ρU² e^{2λx/L}."""
    xs, ys = x[0] / L_K, x[1] / L_K
    e = jnp.exp(LAM * xs)
    u = U_K * (1 - e * jnp.cos(2 * np.pi * ys))
    v = U_K * LAM / (2 * np.pi) * e * jnp.sin(2 * np.pi * ys)
    return jnp.stack([u, v, jnp.zeros_like(u)]), -0.5 * RHO * U_K**2 * jnp.exp(2 * LAM * xs)


KOV_XYZ = jnp.asarray(np.random.default_rng(1).uniform([-0.5 * L_K, -0.5 * L_K, 0.0], [L_K, 1.5 * L_K, L_K],
                                                          (N, 3)))


def test_kovasznay_flow_residuals_vanish():
    res = ns_residuals(kovasznay, KOV_XYZ, rho=RHO, mu=MU)
    scale = RHO * U_K**2 / L_K                 # size of each momentum term, Pa/m
    assert float(jnp.max(jnp.abs(res.momentum))) < 1e-10 * scale * np.exp(2 * abs(LAM) * 0.5)
    assert float(jnp.max(jnp.abs(res.continuity))) < 1e-12 * U_K / L_K * np.exp(abs(LAM) * 0.5)
    # each term on its own is far from zero, so the cancellation is real
    half_viscous = ns_residuals(kovasznay, KOV_XYZ, rho=RHO, mu=MU / 2)
    assert float(jnp.max(jnp.abs(half_viscous.momentum))) > 0.1 * scale


def test_convective_term_and_divergence_analytic():
    """u = (a x, −a y, 0) with p = 0: ρ(u·∇)u = ρa²(x, y, 0); u = a·x: ∇·u = 3a, ρ(u·∇)u = ρa²x."""
    a = 3.0
    res = ns_residuals(lambda x: (jnp.array([a * x[0], -a * x[1], 0.0]), 0.0), XYZ, rho=RHO, mu=MU)
    xyz = np.asarray(XYZ)
    expected = RHO * a**2 * np.stack([xyz[:, 0], xyz[:, 1], 0 * xyz[:, 2]], axis=1)
    np.testing.assert_allclose(np.asarray(res.momentum), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(res.continuity), 0.0, atol=1e-14)
    res = ns_residuals(lambda x: (a * x, jnp.zeros(1)), XYZ, rho=RHO, mu=MU)
    np.testing.assert_allclose(np.asarray(res.continuity), 3 * a, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(res.momentum), RHO * a**2 * xyz, rtol=1e-12)


def _mlp_init(key, sizes=(3, 8, 8, 4)):
    keys = jax.random.split(key, len(sizes) - 1)
    return [(jax.random.normal(k, (m, n)) / np.sqrt(m), 0.1 * jax.random.normal(k, (n,)))
            for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


def _mlp_field(params, x):
    """A small tanh network on coordinates scaled to the pipe: (u, p) at one point."""
    h = x / jnp.array([R, R, 0.05])
    for w, b in params[:-1]:
        h = jnp.tanh(h @ w + b)
    w, b = params[-1]
    out = h @ w + b
    return 0.1 * out[:3], 100.0 * out[3]


def _mlp_loss(params, xyz):
    res = ns_residuals(lambda x: _mlp_field(params, x), xyz, rho=RHO, mu=MU)
    return jnp.mean(res.momentum**2) + jnp.mean(res.continuity**2)


def test_grad_of_mean_squared_residual_matches_finite_differences_mlp():
    params = _mlp_init(jax.random.PRNGKey(0))
    flat, unravel = ravel_pytree(params)
    xyz = XYZ[:16]
    # xyz passed as an argument, so it is traced under jit (shape checks only)
    loss_fn = jax.jit(lambda f, pts: _mlp_loss(unravel(f), pts))
    loss = lambda f: loss_fn(f, xyz)  # noqa: E731
    grad = jax.jit(jax.grad(lambda f, pts: _mlp_loss(unravel(f), pts)))(flat, xyz)
    assert bool(jnp.all(jnp.isfinite(grad)))
    direction = jax.random.normal(jax.random.PRNGKey(1), flat.shape)
    direction = direction / jnp.linalg.norm(direction)
    eps = 1e-5
    fd = (loss(flat + eps * direction) - loss(flat - eps * direction)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.vdot(grad, direction)), float(fd), rtol=1e-6)
    # one weight on its own (central difference of the first hidden layer's first weight)
    e0 = jnp.zeros_like(flat).at[0].set(1.0)
    fd0 = (loss(flat + eps * e0) - loss(flat - eps * e0)) / (2 * eps)
    np.testing.assert_allclose(float(grad[0]), float(fd0), rtol=1e-6)


def test_grad_wrt_pressure_gradient_matches_analytic_and_finite_differences():
    """Velocity driven by G, p = p0 − g z: loss = (G − g)², d loss/dg = −2(G − g)."""

    def loss(g):
        res = ns_residuals(lambda x: poiseuille(x, g_p=g), XYZ, rho=RHO, mu=MU)
        return jnp.mean(jnp.sum(res.momentum**2, axis=1))

    g = 0.7 * G
    dg = float(jax.grad(loss)(g))
    fd = (float(loss(g + 1e-3)) - float(loss(g - 1e-3))) / 2e-3
    np.testing.assert_allclose(dg, -2 * (G - g), rtol=1e-9)
    np.testing.assert_allclose(dg, fd, rtol=1e-6)


def test_jit_and_grad_wrt_traced_viscosity():
    """rho and mu may be traced (under jit/grad only their shapes are checked)."""
    f = jax.jit(lambda mu: ns_residuals(poiseuille, XYZ, rho=RHO, mu=mu).momentum[:, 2].mean())
    # velocity fixed by MU; viscous term −μ∇²u_z = μ G/MU, so d/dμ of the z residual is G/MU
    np.testing.assert_allclose(float(jax.grad(f)(2 * MU)), G / MU, rtol=1e-10)
    np.testing.assert_allclose(float(f(2 * MU)), G, rtol=1e-10)


@pytest.mark.parametrize(
    "xyz, match",
    [
        (np.zeros((N, 2)), r"xyz has shape \(64, 2\); expected \(N, 3\)"),
        (np.zeros(3), r"xyz has shape \(3,\); expected \(N, 3\)"),
        (np.zeros((0, 3)), r"xyz has shape \(0, 3\); expected \(N, 3\) with N >= 1"),
        (np.array([[0.0, 0.0, 0.0], [0.0, np.nan, 1.0]]), r"xyz has 1 row\(s\) with NaN or infinite.*row 1"),
        (np.array([[np.inf, 0.0, 0.0]]), r"xyz has 1 row\(s\) with NaN or infinite"),
    ],
)
def test_bad_points_raise(xyz, match):
    with pytest.raises(ValueError, match=match):
        ns_residuals(poiseuille, xyz, rho=RHO, mu=MU)


@pytest.mark.parametrize(
    "rho, mu, match",
    [
        (0.0, MU, r"rho = 0\.0; expected a finite value > 0 in kg/m³"),
        (-1060.0, MU, r"rho = -1060\.0; expected a finite value > 0"),
        (RHO, -1e-3, r"mu = -0\.001; expected a finite value > 0 in Pa·s"),
        (RHO, np.nan, r"mu = nan; expected a finite value > 0"),
        (RHO, np.array([MU, MU]), r"mu has shape \(2,\); expected a scalar in Pa·s"),
    ],
)
def test_bad_material_constants_raise(rho, mu, match):
    with pytest.raises(ValueError, match=match):
        ns_residuals(poiseuille, XYZ, rho=rho, mu=mu)


@pytest.mark.parametrize(
    "field, match",
    [
        (lambda x: (x[:2], x[0]), r"field returned u of shape \(2,\); expected \(3,\)"),
        (lambda x: (x, x), r"field returned p of shape \(3,\); expected a scalar"),
        (lambda x: jnp.concatenate([x, x[:1]]), r"field returned a .* of shape \(4,\); expected a pair \(u, p\)"),
        (lambda x: (x, x[0], x[1]), r"field returned a tuple; expected a pair \(u, p\)"),
    ],
)
def test_bad_field_raises(field, match):
    with pytest.raises(ValueError, match=match):
        ns_residuals(field, XYZ, rho=RHO, mu=MU)


def test_bad_body_force_raises():
    with pytest.raises(ValueError, match=r"body_force has shape \(2,\); expected \(3,\) \(uniform\) or \(64, 3\)"):
        ns_residuals(poiseuille, XYZ, rho=RHO, mu=MU, body_force=jnp.zeros(2))
    with pytest.raises(ValueError, match=r"body_force returned shape \(\) per point; expected \(3,\)"):
        ns_residuals(poiseuille, XYZ, rho=RHO, mu=MU, body_force=lambda x: x[0])
