"""Steady tree solver: analytic solutions, conservation, gradients, agreement with the block network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.clinical import HyperemiaParams, hyperemic_ffr, with_hyperemic_outlets
from cardiojax.io import read_svzerod, tree_to_svzerod
from cardiojax.lumped import poiseuille_resistance, segment_coefficients, solve_steady
from cardiojax.lumped.network import solve_steady_network, vessel_results
from cardiojax.tree import children_sum, is_outlet, make_tree, take
from cardiojax.units import MMHG, Blood
from tests.helpers import synthetic_batch, y_tree

P_AORTA = 93 * MMHG
solve = jax.jit(solve_steady)


def test_single_vessel_poiseuille_pressure_drop_is_exact():
    mu, length, r, r_out_bc, p_d = 3.5e-3, 0.05, 1.2e-3, 3e9, 800.0
    t = make_tree([-1], [length], [r], outlet_resistance=[r_out_bc], outlet_pressure=[p_d], capacity=4)
    sol = solve(t, P_AORTA, blood=Blood(viscosity=mu))
    r_pois = 8 * mu * length / (np.pi * r**4)
    q = (P_AORTA - p_d) / (r_pois + r_out_bc)
    assert float(sol.flow[0]) == pytest.approx(q, rel=1e-13)
    assert float(sol.p_in[0] - sol.p_out[0]) == pytest.approx(r_pois * q, rel=1e-12)
    assert float(sol.p_out[0]) == pytest.approx(p_d + r_out_bc * q, rel=1e-13)


def test_linear_bifurcation_matches_hand_solution():
    t = y_tree()
    blood = Blood()
    r = np.asarray(poiseuille_resistance(t.length, t.r_in, t.r_out, blood.viscosity))
    ro, pd = np.asarray(t.outlet_resistance), np.asarray(t.outlet_pressure)
    # linear system: unknown P at node after seg 0 (a) and after seg 1 (b)
    # seg0: (P0 - a)/r0 = (a - pd2)/(r2+ro2) + (a - b)/r1 ; seg1: (a - b)/r1 = Σ_k (b - pdk)/(rk+rok)
    g2, g3, g4 = 1 / (r[2] + ro[2]), 1 / (r[3] + ro[3]), 1 / (r[4] + ro[4])
    A = np.array([[1 / r[0] + g2 + 1 / r[1], -1 / r[1]], [-1 / r[1], 1 / r[1] + g3 + g4]])
    rhs = np.array([P_AORTA / r[0] + g2 * pd[2], g3 * pd[3] + g4 * pd[4]])
    a, b = np.linalg.solve(A, rhs)
    sol = solve(t, P_AORTA, blood=blood)
    np.testing.assert_allclose(np.asarray(sol.p_out)[:2], [a, b], rtol=1e-13)
    np.testing.assert_allclose(float(sol.flow[3]), g3 * (b - pd[3]), rtol=1e-12)


def test_mass_is_conserved_at_every_junction():
    trees = with_hyperemic_outlets(synthetic_batch(), HyperemiaParams())
    sol = jax.vmap(lambda t: solve_steady(t, P_AORTA))(trees)
    inflow = jax.vmap(children_sum)(trees, sol.flow)
    junction = trees.valid & ~is_outlet(trees)
    q_root = sol.flow[:, :1]
    err = jnp.where(junction, jnp.abs(sol.flow - inflow), 0.0) / q_root
    assert float(jnp.max(err)) < 1e-10
    # pressure is continuous across every junction
    parent = jnp.maximum(trees.parent, 0)
    jump = jnp.where(trees.valid & (trees.parent >= 0),
                     jnp.abs(sol.p_in - jnp.take_along_axis(sol.p_out, parent, 1)), 0.0)
    assert float(jnp.max(jump)) == 0.0
    assert float(jnp.max(sol.residual)) < 1e-13


def test_newton_converges_when_turbulent_losses_dominate():
    """Short 50 % lesions in series in a wide vessel, no outlet resistance (hardest case found)."""
    n = 6
    t = make_tree(list(range(-1, n - 1)), [0.03] * n, [3e-3] * n,
                  stenosis_severity=[0.5] * n, stenosis_length=[0.003] * n)
    sol = solve(t, P_AORTA)
    assert float(sol.residual) < 1e-13
    r, s = segment_coefficients(t)
    q = float(sol.flow[0])
    assert n * float(s[0]) * q * q > 0.5 * P_AORTA  # the quadratic term carries most of the drop
    assert n * (float(r[0]) + float(s[0]) * q) * q == pytest.approx(P_AORTA, rel=1e-12)


def test_newton_converges_quadratically():
    """Observed order of convergence of the Newton iteration is 2."""
    n = 6
    t = make_tree(list(range(-1, n - 1)), [0.03] * n, [3e-3] * n,
                  stenosis_severity=[0.5] * n, stenosis_length=[0.003] * n)
    flows = [float(jax.jit(solve_steady, static_argnames="iterations")(t, P_AORTA, iterations=k).flow[0])
             for k in range(8)]
    exact = flows[-1]
    err = np.abs(np.array(flows[:-1]) - exact) / exact
    usable = np.flatnonzero((err > 1e-11) & (err < 0.5))
    orders = [np.log(err[k + 1] / err[k]) / np.log(err[k] / err[k - 1])
              for k in usable[1:-1] if k - 1 in usable and k + 1 in usable]
    assert len(orders) >= 1
    assert min(orders) > 1.8


def test_flow_inlet_and_pressure_inlet_agree():
    t = with_hyperemic_outlets(take(synthetic_batch(), 2), HyperemiaParams())
    by_p = solve(t, P_AORTA)
    by_q = jax.jit(lambda tree, q: solve_steady(tree, inlet_flow=q))(t, by_p.flow[0])
    valid = np.asarray(t.valid)
    np.testing.assert_allclose(np.asarray(by_q.p_out)[valid], np.asarray(by_p.p_out)[valid], rtol=1e-11)


def test_tree_solver_agrees_with_block_network():
    """Same tree through svZeroDSolver's JSON and the general Newton block network."""
    for i in (0, 1):
        t = with_hyperemic_outlets(take(synthetic_batch(), i), HyperemiaParams())
        sol = solve(t, P_AORTA)
        model = read_svzerod(tree_to_svzerod(t, P_AORTA))
        y, _ = jax.jit(solve_steady_network, static_argnums=0)(model.network, model.params)
        res = vessel_results(model.network, y)
        valid = np.flatnonzero(np.asarray(t.valid))
        assert model.network.vessels == tuple(f"seg{j}" for j in valid)
        np.testing.assert_allclose(np.asarray(res["pressure_out"]), np.asarray(sol.p_out)[valid], rtol=1e-10)
        np.testing.assert_allclose(np.asarray(res["flow_in"]), np.asarray(sol.flow)[valid], rtol=1e-9)


def test_too_small_max_depth_shows_in_the_residual():
    t = with_hyperemic_outlets(take(synthetic_batch(), 0), HyperemiaParams())
    good = solve(t, P_AORTA)
    assert float(good.residual) < 1e-13
    bad = solve(t.replace(max_depth=2), P_AORTA)
    assert float(bad.residual) > 1e-3


def test_padding_never_leaks_into_results_or_gradients():
    """Zero-filled or interleaved padding changes nothing and gives finite gradients."""
    from cardiojax.tree import FIELD_UNITS, compact

    t = with_hyperemic_outlets(take(synthetic_batch(), 1), HyperemiaParams())
    valid = np.asarray(t.valid)
    zeroed = t.replace(**{k: jnp.where(valid if getattr(t, k).ndim == 1 else valid[:, None],
                                       getattr(t, k), 0) for k in FIELD_UNITS if k not in ("valid", "parent")})
    ref = solve(t, P_AORTA)
    np.testing.assert_array_equal(np.asarray(solve(zeroed, P_AORTA).p_out)[valid], np.asarray(ref.p_out)[valid])

    def total_pressure_drop(r_in):
        return jnp.sum(solve_steady(zeroed.replace(r_in=r_in), P_AORTA).p_out * zeroed.valid)

    g = jax.jit(jax.grad(total_pressure_drop))(zeroed.r_in)
    assert np.all(np.isfinite(np.asarray(g))) and np.all(np.asarray(g)[~valid] == 0)
    # the same tree with padding slots interleaved between its segments
    n, cap = int(valid.sum()), t.capacity
    pads, order = list(range(n, cap)), []
    for i in range(n):  # segment, padding, segment, padding, ...
        order += [i] + ([pads.pop()] if pads else [])
    order = np.array(order + pads)
    assert sorted(order.tolist()) == list(range(cap)) and n < cap - 1
    inverse = np.argsort(order)
    mixed = t.replace(**{k: np.asarray(getattr(t, k))[order] for k in FIELD_UNITS})
    p = np.asarray(mixed.parent)
    mixed = mixed.replace(parent=np.where(p >= 0, inverse[np.maximum(p, 0)], -1).astype(np.int32))
    out = solve(mixed, P_AORTA)
    np.testing.assert_allclose(np.asarray(out.p_out)[inverse[:n]], np.asarray(ref.p_out)[:n], rtol=1e-13)
    np.testing.assert_array_equal(np.asarray(compact(mixed).parent), np.asarray(t.parent))


def test_single_and_batch_misuse_is_a_clear_error():
    from cardiojax.clinical import hyperemic_ffr_batch

    with pytest.raises(ValueError, match=r"solve_steady expects a single tree .* got batch shape \(64,\)"):
        solve_steady(synthetic_batch(), P_AORTA)
    with pytest.raises(ValueError, match="hyperemic_ffr_batch expects a batch of trees"):
        hyperemic_ffr_batch(take(synthetic_batch(), 0))
    with pytest.raises(ValueError, match="exactly one of inlet_pressure"):
        solve_steady(y_tree())


def test_batch_equals_singles():
    trees = with_hyperemic_outlets(synthetic_batch(), HyperemiaParams())
    batch = jax.jit(jax.vmap(lambda t: solve_steady(t, P_AORTA)))(trees)
    for i in (0, 5):
        one = solve(take(trees, i), P_AORTA)
        np.testing.assert_allclose(np.asarray(batch.p_out[i]), np.asarray(one.p_out), rtol=1e-13)


def _central_difference(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_gradients_wrt_geometry_and_recipe_match_finite_differences():
    tree = take(synthetic_batch(), 2)
    params = HyperemiaParams()
    outlet = int(np.flatnonzero(np.asarray(is_outlet(tree)))[0])
    seg = int(tree.parent[outlet])

    def ffr_of(field, value):
        t = tree.replace(**{field: getattr(tree, field).at[seg].set(value)})
        return hyperemic_ffr(t, params).ffr_out[outlet]

    for field in ("r_in", "r_out", "length"):
        x0 = getattr(tree, field)[seg]
        f = jax.jit(lambda v, _f=field: ffr_of(_f, v))
        grad = float(jax.grad(f)(x0))
        fd = float(_central_difference(f, x0, 1e-6 * x0))
        assert abs(grad) > 1e-3 and grad == pytest.approx(fd, rel=1e-6), field

    def ffr_of_mass(mass):
        import dataclasses

        return hyperemic_ffr(tree, dataclasses.replace(params, myocardial_mass=mass)).ffr_out[outlet]

    f = jax.jit(ffr_of_mass)
    m0 = jnp.asarray(params.myocardial_mass)
    assert float(jax.grad(f)(m0)) == pytest.approx(float(_central_difference(f, m0, 1e-6)), rel=1e-6)


def test_gradient_of_outlet_ffr_matches_finite_differences():
    tree = take(synthetic_batch(), 0)
    params = HyperemiaParams()
    base = with_hyperemic_outlets(tree, params)
    outlet = int(np.flatnonzero(np.asarray(is_outlet(base)))[-1])
    lesion = int(np.flatnonzero(np.asarray(tree.stenosis_severity) > 0)[0])

    def ffr_wrt_severity(s):
        t = base.replace(stenosis_severity=base.stenosis_severity.at[lesion].set(s))
        return hyperemic_ffr(t, params, apply_recipe=False).ffr_out[outlet]

    def ffr_wrt_resistance(log_r):
        t = base.replace(outlet_resistance=base.outlet_resistance.at[outlet].set(jnp.exp(log_r)))
        return hyperemic_ffr(t, params, apply_recipe=False).ffr_out[outlet]

    s0 = base.stenosis_severity[lesion]
    r0 = jnp.log(base.outlet_resistance[outlet])
    for f, x, h in ((ffr_wrt_severity, s0, 1e-5), (ffr_wrt_resistance, r0, 1e-5)):
        grad = float(jax.jit(jax.grad(f))(x))
        fd = float(_central_difference(jax.jit(f), x, h))
        assert abs(grad) > 1e-6
        assert grad == pytest.approx(fd, rel=1e-6)
