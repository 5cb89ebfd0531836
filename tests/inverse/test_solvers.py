"""Inverse problems through the 1D solver, the steady FFR network and the 3D lattice-Boltzmann stenosis:
noise-free synthetic data recovered by Levenberg–Marquardt from a wrong start, Jacobians (`jax.jacfwd`) against
central finite differences, and clear errors for bad targets."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.inverse import (
    Observation,
    ParamSpace,
    fit,
    lesion_drag,
    objective,
    oned_model,
    steady_ffr_model,
    stenosis_lbm_model,
)
from cardiojax.oned import InletSpec, JunctionSpec, NetworkSpec, OutletSpec, VesselSpec, build_model
from cardiojax.threed import StenosisCase
from cardiojax.threed.lattice import CS2
from cardiojax.units import Blood
from tests.helpers import y_tree

ONED_TRUTH = {"R1": 2e9, "Rd2": 2e9, "C2": 2e-10, "K": 1e6}
FFR_TRUTH = {"sev": 0.6, "ratio": 0.24}


def _oned_network():
    """A parent artery splitting into a resistance-closed and an RCR-closed branch, fed a pulsatile flow
    (5 mL/s mean, period 0.5 s); 5 nodes per vessel, walls K = 1e6 Pa."""
    period = 0.5
    t = np.linspace(0.0, period, 21)
    q_in = 5e-6 * (1.0 + 0.8 * np.sin(2.0 * np.pi * t / period))
    k = {"K": ONED_TRUTH["K"]}
    vessels = [VesselSpec("P", 0.1, 4e-3, 4e-3, k, 5), VesselSpec("d1", 0.08, 3e-3, 3e-3, k, 5),
               VesselSpec("d2", 0.06, 2.5e-3, 2.5e-3, k, 5)]
    outlets = [OutletSpec(1, "resistance", {"R": ONED_TRUTH["R1"], "Pd": 0.0}),
               OutletSpec(2, "rcr", {"Rp": 5e8, "C": ONED_TRUTH["C2"], "Rd": ONED_TRUTH["Rd2"], "Pd": 0.0})]
    spec = NetworkSpec(vessels, [JunctionSpec([(0, "out"), (1, "in"), (2, "in")])], [InletSpec(0, "flow", t, q_in)],
                       outlets, period, Blood(1060.0, 4e-3), "beta", 2.0, grid="node")
    return build_model(spec), spec


def _oned_objective():
    m, spec = _oned_network()
    model = oned_model(m, {"R1": "d1.R", "Rd2": "d2.Rd", "C2": "d2.C", "K": "P.K"}, spec=spec, cycles=3,
                       samples=25, initial_pressure=1.2e4)
    times = np.asarray(model.spec.times)
    space = ParamSpace.of(("R1", "log"), ("Rd2", "log"), ("C2", "log"), ("K", "log"))
    obs = [Observation("pressure", "P.in", np.zeros(times.size), 100.0, times=times),
           Observation("flow", "d1.out", np.zeros(times.size), 1e-7, times=times)]
    return objective(model, space, obs).synthetic(ONED_TRUTH)


def _ffr_objective():
    tree = y_tree(stenosis_severity=[0.0, 0.5, 0.0, 0.0, 0.0], stenosis_length=[0.0, 6e-3, 0.0, 0.0, 0.0],
                  stenosis_position=[0.5] * 5)
    model = steady_ffr_model(tree, {"sev": "seg1.severity", "ratio": "hyperemia.hyperemic_resistance_ratio"})
    space = ParamSpace.of(("sev", "sigmoid", 0.0, 0.95), ("ratio", "log"))
    obs = [Observation("ffr", "seg3.out", [1.0], 0.01), Observation("ffr", "seg2.out", [1.0], 0.01),
           Observation("flow", "seg0.in", [1e-6], 1e-7)]
    return objective(model, space, obs).synthetic(FFR_TRUTH)


def _assert_recovered(result, truth, rtol):
    for name, value in truth.items():
        assert abs(float(result.theta[name]) / value - 1.0) <= rtol, (name, float(result.theta[name]), value)


def _assert_jacobian_matches_fd(obj, z, h=1e-4, rtol=1e-6):
    """jacfwd of the whitened residuals against central differences in z, column by column. For the 1D model
    h = 1e-4 is the sweet spot (measured worst column 4.8e-8; 5e-7 at h = 1e-5 and 5e-6 at 1e-6, where the
    solver's round-off dominates the difference quotient)."""
    z = jnp.asarray(z)
    jac = np.asarray(jax.jit(jax.jacfwd(obj.residuals))(z))
    res = jax.jit(obj.residuals)
    for i in range(z.size):
        e = jnp.zeros_like(z).at[i].set(h)
        fd = (np.asarray(res(z + e)) - np.asarray(res(z - e))) / (2.0 * h)
        scale = np.max(np.abs(fd))
        assert scale > 0, i
        assert np.max(np.abs(jac[:, i] - fd)) <= rtol * scale, (i, np.max(np.abs(jac[:, i] - fd)) / scale)


def test_oned_fit_recovers_outlet_windkessel_and_wall_stiffness():
    """Pressure at the inlet and flow at one outlet over the last of 3 cycles (26 samples each) determine a
    resistance outlet, an RCR's Rd and C and the parent's K; measured: 14–16 LM iterations (1.3 s without
    compilation), relative errors ≤ 8e-13."""
    obj = _oned_objective()
    assert obj.model.spec.locations[:2] == ("P.in", "P.x0.25") and len(obj.model.spec.times) == 26
    result = fit(obj, {"R1": 3e9, "Rd2": 1.5e9, "C2": 3e-10, "K": 1.3e6})
    _assert_recovered(result, ONED_TRUTH, 1e-6)
    assert int(result.result.status) in (1, 2, 3)


def test_oned_jacobian_matches_finite_differences():
    obj = _oned_objective()
    z = obj.space.to_unconstrained({"R1": 2.5e9, "Rd2": 1.7e9, "C2": 2.5e-10, "K": 1.2e6})
    _assert_jacobian_matches_fd(obj, z)


def test_oned_run_past_the_cfl_limit_returns_nan():
    """A wall 10× stiffer, in the vessel whose cells set the time step (d2), than the step was chosen for
    (``max_stiffening=2``) breaks the CFL condition: the model returns NaN (an optimiser rejects the step)
    instead of a silently wrong answer."""
    m, spec = _oned_network()
    model = oned_model(m, {"k": "d2.K_scale"}, spec=spec, cycles=1, samples=10, initial_pressure=1.2e4)
    run = jax.jit(model.run)
    ok, bad = run({"k": jnp.asarray(1.5)}), run({"k": jnp.asarray(10.0)})
    assert np.all(np.isfinite(np.asarray(ok["pressure"])))
    assert all(np.all(np.isnan(np.asarray(v))) for v in bad.values())


def test_steady_ffr_fit_recovers_severity_and_hyperemic_resistance():
    obj = _ffr_objective()
    assert obj.model.spec.locations[:3] == ("seg0.in", "seg0.out", "seg1.in") and obj.model.spec.times is None
    result = fit(obj, {"sev": 0.3, "ratio": 0.5})
    _assert_recovered(result, FFR_TRUTH, 1e-6)
    out = obj.model.run({k: jnp.asarray(v) for k, v in FFR_TRUTH.items()})
    # FFR is P / P_aortic; the root inlet is at aortic pressure and the lesion lowers FFR downstream of it
    np.testing.assert_allclose(out["ffr"][0], 1.0, rtol=1e-12)
    assert float(out["ffr"][3]) < 0.8 < float(out["ffr"][5])


def test_steady_ffr_jacobian_matches_finite_differences():
    obj = _ffr_objective()
    _assert_jacobian_matches_fd(obj, obj.space.to_unconstrained({"sev": 0.45, "ratio": 0.3}))


def test_bad_targets_give_clear_errors():
    m, spec = _oned_network()
    with pytest.raises(ValueError, match="no vessel 'x'"):
        oned_model(m, {"a": "x.R"}, spec=spec)
    with pytest.raises(ValueError, match="vessel 'd1' has no parameter 'Rd'"):
        oned_model(m, {"a": "d1.Rd"}, spec=spec)
    with pytest.raises(ValueError, match="expected '<part>.<parameter>'"):
        oned_model(m, {"a": "R"}, spec=spec)
    with pytest.raises(ValueError, match="cycles = 0"):
        oned_model(m, {"a": "d1.R"}, spec=spec, cycles=0)
    tree = y_tree()
    with pytest.raises(ValueError, match="'seg7' is not a valid segment"):
        steady_ffr_model(tree, {"a": "seg7.severity"})
    with pytest.raises(ValueError, match="set by the hyperemic recipe"):
        steady_ffr_model(tree, {"a": "seg2.outlet_resistance"})
    with pytest.raises(ValueError, match="HyperemiaParams has no field 'ratio'"):
        steady_ffr_model(tree, {"a": "hyperemia.ratio"})
    case = StenosisCase(radius=1.5e-3, length=18e-3, severity=0.5, position=0.35, flow=1e-9, cells_across=6, tau=0.6)
    with pytest.raises(ValueError, match="expected 'severity'"):
        stenosis_lbm_model(case, {"a": "flow"})


def test_lesion_drag_is_smooth_in_severity_and_vanishes_outside_the_lesion():
    case = StenosisCase(radius=1.5e-3, length=18e-3, severity=0.5, position=0.35, flow=1e-9, cells_across=6, tau=0.6)
    shape = (37, 8, 8)
    d0 = np.asarray(lesion_drag(case, shape, jnp.asarray(0.0)))
    assert np.max(np.abs(d0)) < 1e-12  # no lesion, no drag
    d = np.asarray(lesion_drag(case, shape, jnp.asarray(0.5)))
    start, end = case.lesion_span
    x = np.arange(shape[0]) * case.dx
    outside = (x < start - case.dx) | (x > end + case.dx)
    assert np.all(d >= -1e-12) and np.max(np.abs(d[outside])) < 1e-12 and d.max() > 0.3
    g = np.asarray(jax.jacfwd(lambda s: lesion_drag(case, shape, s))(jnp.asarray(0.5)))
    fd = (np.asarray(lesion_drag(case, shape, jnp.asarray(0.5 + 1e-6)))
          - np.asarray(lesion_drag(case, shape, jnp.asarray(0.5 - 1e-6)))) / 2e-6
    np.testing.assert_allclose(g, fd, atol=1e-7 * np.max(np.abs(fd)))


def _lbm_case(cells: int = 6) -> StenosisCase:
    """A 3 mm vessel, 6 diameters long, 6 voxels across (37 × 8 × 8), τ = 0.6, with the flow that puts the
    throat of an 80 % lesion at Mach 0.08 (Re 0.2: creeping flow, the regime a grid this coarse allows)."""
    base = StenosisCase(radius=1.5e-3, length=18e-3, severity=0.5, position=0.35, flow=1e-9, cells_across=cells,
                        tau=0.6)
    units = dataclasses.replace(base, severity=0.8).lattice_units()
    u_max = 0.08 * math.sqrt(CS2) * units.dx / units.dt
    return dataclasses.replace(base, flow=0.5 * u_max * math.pi * (0.2 * base.radius) ** 2)


@pytest.mark.slow
def test_lbm_stenosis_fit_recovers_severity_from_the_pressure_drop():
    """Noise-free ΔP of a 60 % lesion from 1200 steps on a 37 × 8 × 8 lattice (float64), LM from 30 %.

    Measured: 10 iterations, severity error 2e-16, Jacobian vs central differences 8e-10; 55 s (19 s with the
    persistent compilation cache: most of it is XLA compiling the LBM step under jacfwd). The data come from
    the same deterministic model, so only round-off (ΔP to ~1e-13 relative after 1200 float64 steps, i.e.
    ~1e-13 in severity) and the LM stopping rule separate the fit from the truth; 1e-8 leaves a wide margin
    (float32 populations would allow ~1e-4)."""
    model = stenosis_lbm_model(_lbm_case(), {"s": "severity"}, max_severity=0.8, steps=1200)
    space = ParamSpace.of(("s", "sigmoid", 0.0, 0.8))
    obj = objective(model, space, [Observation("pressure_drop", "lesion", [0.1], 1e-3)]).synthetic({"s": 0.6})
    dp = jax.jit(model.run)
    assert float(dp({"s": jnp.asarray(0.3)})["pressure_drop"][0]) < float(obj.operator.data[0])  # milder: less ΔP
    result = fit(obj, {"s": 0.3})
    assert abs(float(result.theta["s"]) - 0.6) < 1e-8, result
    _assert_jacobian_matches_fd(obj, obj.space.to_unconstrained({"s": 0.45}))
