"""The ready-made Windkessel problem (`cardiojax.inverse.problems`) and the optimiser comparison
(`cardiojax.inverse.compare`): a two-outlet svZeroDSolver network, a cheap analytic model, and bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.inverse import Model, Observation, OutputSpec, ParamSpace, fit, objective
from cardiojax.inverse.compare import compare, speedup, table, time_to_target
from cardiojax.inverse.problems import total_resistance, windkessel_problem
from cardiojax.units import CGS_CAPACITANCE, CGS_RESISTANCE

RCR = {"RCR_0": (100.0, 1e-4, 1000.0), "RCR_1": (200.0, 5e-5, 2000.0)}  # Rp, C, Rd in CGS


def _config(outlet_type="RCR"):
    """Prescribed inflow (mean 5 mL/s, period 1 s) → vessel → junction → two vessels → two RCR outlets (CGS)."""
    t = np.linspace(0.0, 1.0, 21)
    q = 5.0 + 4.0 * np.sin(2.0 * np.pi * t)

    def outlet(name, rp, c, rd):
        if outlet_type == "RCR":
            return {"bc_name": name, "bc_type": "RCR", "bc_values": {"Rp": rp, "C": c, "Rd": rd, "Pd": 0.0}}
        return {"bc_name": name, "bc_type": "RESISTANCE", "bc_values": {"R": rp + rd, "Pd": 0.0}}

    def vessel(i, bc=None):
        v = {"vessel_id": i, "vessel_name": f"v{i}", "zero_d_element_type": "BloodVessel",
             "zero_d_element_values": {"R_poiseuille": 5.0, "C": 1e-6, "L": 0.1}}
        if bc:
            v["boundary_conditions"] = bc
        return v

    return {"simulation_parameters": {"number_of_cardiac_cycles": 3, "number_of_time_pts_per_cardiac_cycle": 21},
            "boundary_conditions": [{"bc_name": "INFLOW", "bc_type": "FLOW", "bc_values": {"Q": q.tolist(),
                                                                                         "t": t.tolist()}}]
            + [outlet(n, *v) for n, v in RCR.items()],
            "vessels": [vessel(0, {"inlet": "INFLOW"}), vessel(1, {"outlet": "RCR_0"}), vessel(2, {"outlet": "RCR_1"})],
            "junctions": [{"junction_name": "J0", "junction_type": "NORMAL_JUNCTION", "inlet_vessels": [0],
                           "outlet_vessels": [1, 2]}]}


@pytest.fixture(scope="module")
def problem():
    return windkessel_problem(_config(), pts_per_cycle=20, cycles=3, n_pressure=12, seed=1)


def test_windkessel_problem_layout_truth_and_prior(problem):
    truth_si = {f"{b}.{k}": v * (CGS_CAPACITANCE if k == "C" else CGS_RESISTANCE)
                for b, vals in RCR.items() for k, v in zip(("Rp", "C", "Rd"), vals)}
    assert set(problem.truth) == set(truth_si)
    for k, v in truth_si.items():
        assert problem.truth[k] == pytest.approx(v, rel=1e-12)
    obj, lik = problem.objective, problem.likelihood
    assert obj.operator.data.shape == (12 + 2,)  # pressure samples + one mean flow per outlet
    r_post = np.asarray(obj.residuals(problem.z_truth()))
    r_lik = np.asarray(lik.residuals(problem.z_truth()))
    assert r_post.shape == (14 + 6,) and r_lik.shape == (14,)  # a prior residual per parameter
    np.testing.assert_allclose(r_post[:14], r_lik)
    # whitened data residuals at the truth are the drawn noise: N(0, 1), not zero
    assert 0.05 < np.sqrt(np.mean(r_lik ** 2)) < 3.0
    # prior centred on the start: zero prior residuals there, sd 1 in log → residual = log ratio
    z_start = problem.z_start()
    np.testing.assert_allclose(np.asarray(obj.residuals(z_start))[14:], 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(obj.residuals(problem.z_truth()))[14:],
                               problem.z_truth() - z_start, rtol=1e-9)
    tot = total_resistance(problem.truth)
    assert tot["RCR_0"] == pytest.approx(1100.0 * CGS_RESISTANCE)


def test_windkessel_fit_recovers_total_resistance(problem):
    f = fit(problem.objective, problem.start, max_iterations=60)
    assert f.result.status in (1, 2, 3)
    assert float(f.result.cost) < float(problem.objective.loss(problem.z_start()))
    got, want = total_resistance(f.theta), total_resistance(problem.truth)
    for b in want:  # 2 % noise on the mean flows and pressure: total resistance within a few per cent
        assert got[b] == pytest.approx(want[b], rel=0.08)


@pytest.mark.parametrize("kwargs, field", [(dict(noise=0.0), "noise"), (dict(n_pressure=0), "n_pressure"),
                                           (dict(cycles=0), "cycles"), (dict(prior_sd=-1.0), "prior_sd"),
                                           (dict(pts_per_cycle=5), "pts_per_cycle")])
def test_windkessel_problem_bad_options(kwargs, field):
    with pytest.raises(ValueError, match=field):
        windkessel_problem(_config(), **kwargs)


def test_windkessel_problem_needs_rcr_outlets():
    with pytest.raises(ValueError, match="no RCR outlet"):
        windkessel_problem(_config("RESISTANCE"), pts_per_cycle=20, cycles=1)


def _exponential_objective():
    """y(t) = A·exp(−t/τ) at 8 times (steady model, one location per time), data with 1 % noise."""
    t = np.linspace(0.0, 2.0, 8)
    locs = tuple(f"t{i}" for i in range(t.size))

    def run(theta):
        return {"y": theta["A"] * jnp.exp(-t / theta["tau"])}

    model = Model(run, OutputSpec(("y",), locs))
    space = ParamSpace.of(("A", "log"), ("tau", "log"))
    obs = [Observation("y", loc, [1.0], 0.01) for loc in locs]
    return objective(model, space, obs).synthetic({"A": 3.0, "tau": 0.7}, jax.random.PRNGKey(0))


def test_compare_methods_agree_and_traces_are_consistent():
    obj = _exponential_objective()
    z0 = obj.space.to_unconstrained({"A": 1.0, "tau": 2.0})
    runs = compare(obj, z0, ("lm", "nelder-mead", "fd-trf"), {"nelder-mead": dict(max_evaluations=3000)})
    best = runs["lm"]
    assert 0.1 < best.loss < 20.0  # ½χ² of 8 residuals of unit variance
    np.testing.assert_allclose(best.z, np.log([3.0, 0.7]), atol=0.05)
    for r in runs.values():  # every method finds the same optimum of the same loss
        assert r.loss == pytest.approx(best.loss, rel=1e-6)
        np.testing.assert_allclose(r.z, best.z, atol=1e-3)
        assert np.all(np.diff(r.trace_loss) <= 0) and np.all(np.diff(r.trace_s) >= 0)
        assert r.trace_evals[-1] <= r.evaluations and r.wall_s > 0
    assert runs["nelder-mead"].evaluations > runs["fd-trf"].evaluations
    target, times = time_to_target(runs)
    assert target == pytest.approx(best.loss * 1.001)
    assert all(t is not None and n >= 1 for t, n in times.values())
    assert times["lm"][1] < times["nelder-mead"][1]
    s, reached = speedup(runs, "nelder-mead")
    assert reached and s > 0
    assert "nelder-mead" in table(runs)


def test_compare_rejects_unknown_method():
    obj = _exponential_objective()
    with pytest.raises(ValueError, match="bfgs"):
        compare(obj, np.zeros(2), ("bfgs",))
