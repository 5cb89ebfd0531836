"""cardiojax.inverse on 0D networks: recovery, gradients, bounds, Laplace coverage, identifiability, errors."""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.inverse import (
    IdentifiabilityWarning,
    Model,
    Observation,
    OutputSpec,
    Param,
    ParamSpace,
    fit,
    laplace,
    levenberg_marquardt,
    lumped_model,
    objective,
)
from cardiojax.lumped import NetworkBuilder, Simulation
from cardiojax.units import MMHG

Q_IN = 5e-6  # m³/s
TRUTH = {"R1": 2.0e9, "R2": 5.0e9}  # Pa·s/m³


@functools.lru_cache(maxsize=None)
def _split_network():
    """Steady: inflow → vessel → junction → two vessels → resistance outlets."""
    b = NetworkBuilder()
    n = [b.node() for _ in range(6)]
    b.block("flow", "INFLOW", [], [n[0]], {"Q": Q_IN})
    b.vessel("trunk", n[0], n[1], {"R": 1e8, "C": 0.0, "L": 0.0, "S": 0.0})
    b.block("junction", "J0", [n[1]], [n[2], n[4]])
    b.vessel("left", n[2], n[3], {"R": 2e8, "C": 0.0, "L": 0.0, "S": 0.0})
    b.vessel("right", n[4], n[5], {"R": 3e8, "C": 0.0, "L": 0.0, "S": 0.0})
    b.block("resistance", "OUT1", [n[3]], [], {"R": 1e9, "Pd": 1000.0})
    b.block("resistance", "OUT2", [n[5]], [], {"R": 1e9, "Pd": 1000.0})
    return b.build()


def _split_objective(observe_split=True, sigma_p=1.0 * MMHG, sigma_q=0.02 * Q_IN):
    net, params = _split_network()
    model = lumped_model(net, params, {"R1": "OUT1.R", "R2": "OUT2.R"})
    space = ParamSpace.of(("R1", "log"), ("R2", "log"))
    obs = [Observation("pressure", "INFLOW:trunk", [0.0], sigma_p)]
    if observe_split:
        obs.append(Observation("flow", "left:OUT1", [0.0], sigma_q))
    return objective(model, space, obs)


@functools.lru_cache(maxsize=None)
def _rcr_model():
    """Pulsatile: sinusoidal inflow → aorta → RCR outlet (2 cycles, 81 points each)."""
    b = NetworkBuilder()
    n0, n1 = b.node(), b.node()
    t = np.linspace(0.0, 1.0, 41)
    b.block("flow", "INFLOW", [], [n0], {"Q": (t, 1e-4 * (1.0 + np.sin(2 * np.pi * t)))})
    b.vessel("aorta", n0, n1, {"R": 1e6, "C": 0.0, "L": 0.0, "S": 0.0})
    b.block("rcr", "RCR_0", [n1], [], {"Rp": 1e7, "C": 1e-8, "Rd": 1e8, "Pd": 0.0})
    net, params = b.build()
    sim = Simulation(period=1.0, cycles=2, pts_per_cycle=81, linear=True)
    return lumped_model(net, params, {"Rp": "RCR_0.Rp", "C": "RCR_0.C", "Rd": "RCR_0.Rd"}, sim)


RCR_TRUTH = {"Rp": 1e7, "C": 1e-8, "Rd": 1e8}


def _rcr_objective():
    space = ParamSpace.of(("Rp", "log"), ("C", "log"), ("Rd", "log"))
    obs = [Observation("pressure", "INFLOW:aorta", np.zeros(25), 2.0 * MMHG, times=np.linspace(0, 1, 25)),
           Observation("flow", "aorta:RCR_0", [0.0], 2e-6, reduce="mean")]
    return objective(_rcr_model(), space, obs)


def test_pulsatile_windkessel_recovered_noise_free():
    obj = _rcr_objective().synthetic(RCR_TRUTH)
    f = fit(obj, {"Rp": 3e6, "C": 4e-8, "Rd": 3e8})
    for k, v in RCR_TRUTH.items():
        assert abs(f.theta[k] - v) / v < 1e-6, (k, f.theta[k], v)
    assert f.message in ("gradient tolerance", "step tolerance", "cost tolerance")


def test_steady_recovered_noise_free_multistart():
    obj = _split_objective().synthetic(TRUTH)
    f = fit(obj, starts=[{"R1": 1e9, "R2": 1e9}, {"R1": 8e9, "R2": 5e8}, {"R1": 3e9, "R2": 2e10}])
    assert f.runs.z.shape == (3, 2)
    for k, v in TRUTH.items():
        assert abs(f.theta[k] - v) / v < 1e-6
    assert np.all(np.asarray(f.runs.cost) < 1e-12)  # every start converges on this convex-ish problem


def test_residual_jacobian_and_loss_gradient_match_finite_differences():
    obj = _rcr_objective().synthetic(RCR_TRUTH, jax.random.key(3))
    z = jnp.asarray(obj.space.to_unconstrained({"Rp": 2e7, "C": 7e-9, "Rd": 1.3e8}))
    jac = jax.jit(jax.jacfwd(obj.residuals))(z)
    grad = jax.jit(jax.grad(obj.loss))(z)
    residuals, loss = jax.jit(obj.residuals), jax.jit(obj.loss)
    h = 1e-5
    for i in range(3):
        e = jnp.zeros(3).at[i].set(h)
        fd_r = (residuals(z + e) - residuals(z - e)) / (2 * h)
        np.testing.assert_allclose(jac[:, i], fd_r, rtol=1e-6, atol=1e-6 * float(jnp.max(jnp.abs(fd_r))))
        fd_l = (loss(z + e) - loss(z - e)) / (2 * h)
        np.testing.assert_allclose(grad[i], fd_l, rtol=1e-6)
    np.testing.assert_allclose(grad, jac.T @ residuals(z), rtol=1e-10)


def test_adam_and_lbfgs_reach_the_least_squares_optimum():
    obj = _split_objective().synthetic(TRUTH, jax.random.key(1))
    start = {"R1": 1e9, "R2": 1e10}
    lm = fit(obj, start)
    lb = fit(obj, start, method="lbfgs", max_iterations=200, gtol=1e-9)
    ad = fit(obj, start, method="adam", max_iterations=4000, learning_rate=0.02, gtol=1e-7)
    for other in (lb, ad):
        np.testing.assert_allclose(other.z, lm.z, atol=1e-4)
        assert float(other.result.cost) <= float(lm.result.cost) * (1 + 1e-6) + 1e-12


def test_bounds_never_violated():
    """Data that point outside the bounds: every model evaluation and the fit stay inside them."""
    seen = []
    net, params = _split_network()
    base = lumped_model(net, params, {"R1": "OUT1.R", "R2": "OUT2.R"})

    def run(theta):
        jax.debug.callback(lambda a, b: seen.append((float(a), float(b))), theta["R1"], theta["R2"])
        return base.run(theta)

    model = Model(run, base.spec)
    space = ParamSpace((Param("R1", "sigmoid", 1e9, 3e9), Param("R2", "sigmoid", 4e9, 6e9)))
    obs = [Observation("pressure", "INFLOW:trunk", [0.0], MMHG),
           Observation("flow", "left:OUT1", [0.0], 0.02 * Q_IN)]
    obj = objective(model, space, obs)
    truth_outside = objective(base, ParamSpace.of(("R1", "log"), ("R2", "log")), obs).synthetic(
        {"R1": 8e8, "R2": 5e9})
    obj = obj.with_data(truth_outside.operator.data)
    f = fit(obj, {"R1": 2e9, "R2": 5e9}, max_iterations=40)
    jax.effects_barrier()
    assert seen, "the model was never evaluated"
    r1, r2 = np.array(seen).T
    # closed bounds: far out in z the sigmoid rounds to the bound itself in float64, never beyond it
    assert np.all((r1 >= 1e9) & (r1 <= 3e9)) and np.all((r2 >= 4e9) & (r2 <= 6e9))
    assert r1.min() < 1.01e9  # the data did push R1 to its bound
    assert 1e9 <= f.theta["R1"] < 1.01e9


def test_laplace_interval_coverage():
    """With 2 % flow and 1 mmHg pressure noise, the 95 % Laplace interval holds the truth ≈ 95 % of the time."""
    obj = _split_objective().synthetic(TRUTH)
    clean = obj.operator.data
    sigma = obj.operator.sigma
    z_true = jnp.asarray(obj.space.to_unconstrained(TRUTH))
    n_seeds = 200
    noise = np.asarray(jax.random.normal(jax.random.key(7), (n_seeds, clean.size)))
    data = clean + sigma * noise

    def residuals(z, d):
        return (obj.predict(z) - d) / sigma

    def one(d):
        r = levenberg_marquardt(lambda z: residuals(z, d), z_true)
        jac = jax.jacfwd(residuals)(r.z, d)
        return r.z, jnp.sqrt(jnp.diag(jnp.linalg.inv(jac.T @ jac)))

    z, sd = jax.jit(jax.vmap(one))(jnp.asarray(data))
    inside = np.abs(np.asarray(z) - np.asarray(z_true)) <= 1.96 * np.asarray(sd)
    rate = inside.mean(axis=0)
    assert np.all((rate > 0.90) & (rate < 0.99)), rate  # binomial sd at n = 200: 1.5 %
    # the library's Laplace interval for one seed agrees with the vmapped formula
    la = laplace(obj.with_data(data[0]), np.asarray(z[0]))
    np.testing.assert_allclose(la.sd_z, np.asarray(sd[0]), rtol=1e-8)
    lo, hi = la.interval(0.95)
    np.testing.assert_allclose(np.log(lo), np.asarray(z[0]) - 1.96 * np.asarray(sd[0]), rtol=1e-3)
    assert np.all(lo < hi)


def test_identifiability_warning_names_the_combination():
    """Inlet pressure alone fixes only the parallel outlet resistance: R1 and R2 are not separable."""
    obj = _split_objective(observe_split=False).synthetic(TRUTH)
    f = fit(obj, {"R1": 1e9, "R2": 1e10})
    with pytest.warns(IdentifiabilityWarning, match=r"z\[R1\].*z\[R2\]|z\[R2\].*z\[R1\]"):
        la = laplace(obj, f.z)
    assert len(la.weak) == 1 and {n for n, _ in la.weak[0]} == {"R1", "R2"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert laplace(_split_objective().synthetic(TRUTH), f.z).weak == ()


def test_observation_errors_name_the_problem():
    net, params = _split_network()
    model = lumped_model(net, params, {"R1": "OUT1.R"})
    space = ParamSpace.of(("R1", "log"))
    with pytest.raises(ValueError, match="no location 'aorta:OUT9'"):
        objective(model, space, [Observation("pressure", "aorta:OUT9", [1.0], 1.0)])
    with pytest.raises(ValueError, match="no signal 'velocity'"):
        objective(model, space, [Observation("velocity", "left:OUT1", [1.0], 1.0)])
    with pytest.raises(ValueError, match="steady"):
        objective(model, space, [Observation("pressure", "left:OUT1", [1.0], 1.0, times=[0.1])])
    rcr = _rcr_model()
    rspace = ParamSpace.of(("Rp", "log"))
    with pytest.raises(ValueError, match=r"time 1.5 s is outside the model's output times \[0, 1\] s"):
        objective(rcr, rspace, [Observation("pressure", "INFLOW:aorta", [1.0, 2.0], 1.0, times=[0.5, 1.5])])
    with pytest.raises(ValueError, match="expected measurement times"):
        objective(rcr, rspace, [Observation("pressure", "INFLOW:aorta", [1.0], 1.0)])
    with pytest.raises(ValueError, match="sigma"):
        Observation("pressure", "x", [1.0], 0.0)
    with pytest.raises(ValueError, match="values"):
        Observation("pressure", "x", [np.nan], 1.0)
    with pytest.raises(ValueError, match="no block 'OUT7'"):
        lumped_model(net, params, {"R": "OUT7.R"})
    with pytest.raises(ValueError, match="has no parameter 'Q'"):
        lumped_model(net, params, {"R": "OUT1.Q"})
    with pytest.raises(ValueError, match="varies in time"):
        lumped_model(*_rcr_net_with_table(), {"Q": "INFLOW.Q"})


def _rcr_net_with_table():
    b = NetworkBuilder()
    n0 = b.node()
    b.block("flow", "INFLOW", [], [n0], {"Q": ([0.0, 0.5, 1.0], [1.0, 2.0, 1.0])})
    b.block("resistance", "OUT", [n0], [], {"R": 1.0, "Pd": 0.0})
    return b.build()


def test_param_space_transforms_and_errors():
    space = ParamSpace((Param("a", "log"), Param("b", "sigmoid", -1.0, 2.0), Param("c", "softplus", size=2),
                        Param("d")))
    theta = {"a": 3.0, "b": 0.5, "c": np.array([0.1, 4.0]), "d": -7.0}
    z = space.to_unconstrained(theta)
    back = space.to_physical(jnp.asarray(z))
    for k, v in theta.items():
        np.testing.assert_allclose(back[k], v, rtol=1e-12)
    assert space.labels == ("a", "b", "c[0]", "c[1]", "d")
    fd = [(space.physical_vector(jnp.asarray(z) + 1e-6 * e) - space.physical_vector(jnp.asarray(z) - 1e-6 * e))
          / 2e-6 @ e for e in np.eye(5)]
    np.testing.assert_allclose(space.jacobian_diag(jnp.asarray(z)), fd, rtol=1e-6)
    with pytest.raises(ValueError, match="parameter 'a'.*expected finite values > 0"):
        space.to_unconstrained(dict(theta, a=-1.0))
    with pytest.raises(ValueError, match="strictly between -1.0 and 2.0"):
        space.to_unconstrained(dict(theta, b=2.0))
    with pytest.raises(ValueError, match="missing parameter values"):
        space.to_unconstrained({"a": 1.0})
    with pytest.raises(ValueError, match="transform = 'exp'"):
        Param("x", "exp")
    with pytest.raises(ValueError, match="sigmoid bounds"):
        Param("x", "sigmoid", 1.0, 1.0)
    with pytest.raises(ValueError, match="unique"):
        ParamSpace.of(("x", "log"), ("x", "log"))


def test_prior_pulls_unidentified_parameter():
    """A log-normal prior on R2 resolves the inlet-pressure-only problem; R1 then follows the data."""
    net, params = _split_network()
    model = lumped_model(net, params, {"R1": "OUT1.R", "R2": "OUT2.R"})
    space = ParamSpace((Param("R1", "log"), Param("R2", "log", prior_mean=5e9, prior_sd=0.5e9)))
    obj = objective(model, space, [Observation("pressure", "INFLOW:trunk", [0.0], 0.1 * MMHG)]).synthetic(TRUTH)
    f = fit(obj, {"R1": 1e9, "R2": 1e10})
    assert abs(f.theta["R2"] - 5e9) / 5e9 < 1e-3 and abs(f.theta["R1"] - 2e9) / 2e9 < 1e-3
    # the data still do not separate R1 from R2 (the prior does): the warning says so, the posterior is finite
    with pytest.warns(IdentifiabilityWarning, match=r"R1.*R2"):
        la = laplace(obj, f.z)
    assert la.sd_theta[1] == pytest.approx(0.5e9, rel=0.05)  # the posterior of R2 is its prior


def test_model_spec_steady_locations():
    net, params = _split_network()
    spec = lumped_model(net, params, {"R1": "OUT1.R"}).spec
    assert spec.times is None and "INFLOW:trunk" in spec.locations and "right:OUT2" in spec.locations
    assert isinstance(spec, OutputSpec)


def test_edge_cases_named_or_unbounded():
    """A parameter with no effect gets an infinite standard error; shapes and time grids are checked."""
    def run(theta):
        t = jnp.linspace(0.0, 1.0, 11)
        return {"y": (theta["a"] * jnp.exp(-theta["k"] * t) + 0.0 * theta["c"])[:, None]}

    model = Model(run, OutputSpec(("y",), ("x",), tuple(np.linspace(0.0, 1.0, 11))))
    space = ParamSpace.of(("a", "log"), ("k", "log"), ("c", "log"))
    obj = objective(model, space, [Observation("y", "x", np.zeros(6), 0.01, times=np.linspace(0, 1, 6))])
    obj = obj.synthetic({"a": 2.0, "k": 1.5, "c": 1.0})
    f = fit(obj, {"a": 1.0, "k": 1.0, "c": 1.0})
    with pytest.warns(IdentifiabilityWarning, match=r"z\[c\]"):
        la = laplace(obj, f.z)
    assert np.isinf(la.sd_z[2]) and np.all(np.isfinite(la.sd_z[:2]))
    assert np.isnan(la.corr[2, 0]) and la.corr[0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="parameter 'a': value of shape \\(2,\\); expected a scalar"):
        space.to_unconstrained({"a": [1.0, 2.0], "k": 1.0, "c": 1.0})
    vec = ParamSpace((Param("v", "log", size=3),))
    with pytest.raises(ValueError, match="parameter 'v'.*expected shape \\(3,\\)"):
        vec.to_unconstrained({"v": 2.0})
    one = Model(run, OutputSpec(("y",), ("x",), (0.5,)))
    op = objective(one, space, [Observation("y", "x", [0.0], 1.0, times=[0.5])]).operator
    assert float(op.predict({"y": jnp.array([[3.0]])})[0]) == 3.0
    with pytest.raises(ValueError, match="expected increasing times"):
        objective(Model(run, OutputSpec(("y",), ("x",), (0.0, 1.0, 1.0))), space,
                  [Observation("y", "x", [0.0], 1.0, times=[0.5])])
