"""The network PINN: a small wave problem with a known answer, losses, checkpoints and bad input."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.physics import (
    LossWeights,
    Measurement,
    PINNConfig,
    PINNProblem,
    PINNVessel,
    compile_problem,
    field_jet,
    fitted_stiffness,
    load_pinn,
    loss_parts,
    predict,
    sample_residual_points,
    train_pinn,
)
from cardiojax.physics.network_pinn import NetworkPINN

RHO, A0, BETA = 1060.0, 1.0e-5, 6.0e7
K = 0.75 * BETA * np.sqrt(A0)
C0 = np.sqrt(2.0 * K / (3.0 * RHO))  # ≈ 7.8 m/s
AMP, FREQ, LENGTH, T_END = 0.01, 8.0, 0.4, 0.12


def wave(x, t):
    """A small right-running wave of the linearised equations (amplitude 1 % of A0): the known answer.

    Area and velocity are "measured" at both ends and at t = 0, as in the 4D-flow set-up (both characteristics
    are then fixed at each end); the pressure is never given.
    """
    s = np.sin(2 * np.pi * FREQ * (t - x / C0))
    area = A0 * (1.0 + AMP * s)
    return area, C0 * AMP * s, BETA * (np.sqrt(area) - np.sqrt(A0))


def wave_problem(n=200):
    t = np.linspace(0.0, T_END, n)
    x = np.linspace(0.0, LENGTH, n)
    a_in, u_in, _ = wave(0.0 * t, t)
    a_out, u_out, _ = wave(LENGTH + 0.0 * t, t)
    a_0, u_0, _ = wave(x, 0.0 * x)
    return PINNProblem([PINNVessel("tube", 0.0, LENGTH, A0, BETA)], [],
                       [Measurement(0, np.zeros(n), t, a_in, u_in), Measurement(0, np.full(n, LENGTH), t, a_out, u_out),
                        Measurement(0, x, np.zeros(n), a_0, u_0)],
                       0.0, T_END, rho=RHO)


CONFIG = PINNConfig(depth=3, width=32, batch=256, adam_steps=2000, chunk=500, learning_rate=3e-3, decay=0.2,
                    seed=0)


@pytest.fixture(scope="module")
def fitted_wave():
    return train_pinn(wave_problem(), CONFIG, progress=False)


def test_small_pinn_fits_a_travelling_wave_and_infers_its_pressure(fitted_wave):
    """Only end and initial area/velocity are given; the pressure inside the tube follows from the physics."""
    t = np.linspace(0.0, T_END, 97)
    x = 0.5 * LENGTH
    pr = predict(fitted_wave, 0, x, t)
    _, u_ref, p_ref = wave(x + 0 * t, t)
    p_err = np.linalg.norm(pr["pressure"] - p_ref) / np.linalg.norm(p_ref)
    u_err = np.linalg.norm(pr["velocity"] - u_ref) / np.linalg.norm(u_ref)
    assert p_err < 0.05 and u_err < 0.05, (p_err, u_err)
    hist = fitted_wave.history
    assert hist[-1]["loss"] < 0.05 * hist[0]["loss"]  # training lowered the loss


def test_residual_loss_is_small_on_the_trained_field(fitted_wave):
    parts = loss_parts(fitted_wave.model, fitted_wave.arrays, fitted_wave.scales,
                       *sample_residual_points(jax.random.key(5), fitted_wave.arrays, 256), RHO, 0.0)
    assert float(parts.momentum) < 1e-2 and float(parts.mass) < 1e-2


def test_network_jet_equals_jvp_of_the_scaled_field(fitted_wave):
    """The hand-written forward mode with the input/output scaling equals `jax.jvp` of the SI field."""
    model, arrays, scales = fitted_wave.model, fitted_wave.arrays, fitted_wave.scales
    x = jnp.linspace(0.01, 0.39, 8, dtype=jnp.float32)[None]
    t = jnp.linspace(0.01, 0.11, 8, dtype=jnp.float32)[None]
    jet = model.fields_jet(arrays, scales, x, t)

    def field(xx, tt):
        return tuple(q[0] for q in model.fields(arrays, scales, xx[None], tt[None]))

    ref = field_jet(field, x[0], t[0])
    for mine, theirs in zip(jax.tree_util.tree_leaves(jet), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(np.asarray(mine)[0], theirs, rtol=2e-4, atol=1e-6 * float(jnp.max(jnp.abs(theirs))))


def test_checkpoint_round_trip(tmp_path, fitted_wave):
    from cardiojax.physics import save_pinn

    save_pinn(tmp_path / "ck", fitted_wave.model, wave_problem(), CONFIG)
    model, config = load_pinn(tmp_path / "ck")
    assert config == CONFIG
    again = fitted_wave._replace(model=model)
    a = predict(fitted_wave, 0, 0.2, np.linspace(0, 0.1, 5))
    b = predict(again, 0, 0.2, np.linspace(0, 0.1, 5))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(ValueError, match="not a cardiojax"):
        load_pinn(tmp_path)


def test_hard_tube_law_gives_the_law_pressure_and_zero_law_residual():
    problem = wave_problem(20)
    arrays, scales = compile_problem(problem, 16)
    model = NetworkPINN(1, depth=2, width=8, hard_tube_law=True)
    x, t = sample_residual_points(jax.random.key(1), arrays, 16)
    a, _, p = model.fields(arrays, scales, x, t)
    np.testing.assert_allclose(p, BETA * (jnp.sqrt(a) - jnp.sqrt(A0)), rtol=1e-4, atol=1e-2)  # float32
    parts = loss_parts(model, arrays, scales, x, t, RHO, 0.0)
    assert float(parts.tube_law) < 1e-10


def test_stiffness_is_a_trainable_parameter():
    """With ``fit_stiffness`` β gets a gradient and moves; its prior is reported unchanged without it."""
    problem = wave_problem(50)
    cfg = dataclasses.replace(CONFIG, adam_steps=20, chunk=20, batch=64, fit_stiffness=True)
    fitted = train_pinn(dataclasses.replace(problem, vessels=[PINNVessel("tube", 0.0, LENGTH, A0, 1.5 * BETA)]),
                        cfg, progress=False)
    beta = fitted_stiffness(fitted)
    assert beta.shape == (1, 2) and abs(beta[0, 0] / (1.5 * BETA) - 1.0) > 1e-4
    fixed = train_pinn(problem, dataclasses.replace(cfg, fit_stiffness=False), progress=False)
    np.testing.assert_allclose(fitted_stiffness(fixed), BETA, rtol=1e-6)


def test_interface_loss_vanishes_for_identical_vessels_in_series():
    """Two copies of one network joined end to end at equal area: flow and pressure are continuous."""
    v = PINNVessel("a", 0.0, 0.1, A0, BETA)
    w = PINNVessel("b", 0.1, 0.2, A0, BETA)
    meas = [Measurement(0, np.zeros(3), np.linspace(0, 0.1, 3), np.full(3, A0), np.zeros(3))]
    problem = PINNProblem([v, w], [[(0, "out"), (1, "in")]], meas, 0.0, 0.1, rho=RHO)
    arrays, scales = compile_problem(problem, 8)
    model = NetworkPINN(2, depth=2, width=8)
    # copy vessel 0's weights into vessel 1 and shift its x input: both see ξ = +1 / −1 at the joint, so make the
    # network independent of ξ by zeroing the x column of the first layer
    w0 = model.net.weights[0][...]
    w0 = w0.at[:, 0, :].set(0.0).at[1].set(w0[0].at[0, :].set(0.0))
    model.net.weights[0][...] = w0
    for layer in list(model.net.weights)[1:] + list(model.net.biases):
        layer[...] = layer[...].at[1].set(layer[...][0])
    x, t = sample_residual_points(jax.random.key(0), arrays, 8)
    parts = loss_parts(model, arrays, scales, x, t, RHO, 0.0)
    assert float(parts.interface) < 1e-12


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_mismatched_time_grids_and_negative_area_are_rejected():
    problem = wave_problem(20)
    m = problem.measurements[0]
    bad = dataclasses.replace(problem, measurements=[dataclasses.replace(m, area=m.area[:-1])])
    with pytest.raises(ValueError, match=r"measurements\[0\].*one time grid"):
        bad.validate()
    bad = dataclasses.replace(problem, measurements=[dataclasses.replace(m, area=-m.area)])
    with pytest.raises(ValueError, match=r"measurements\[0\]\.area has a non-positive value"):
        compile_problem(bad)
    bad = dataclasses.replace(problem, measurements=[dataclasses.replace(m, t=m.t + 1.0)])
    with pytest.raises(ValueError, match="outside the time window"):
        bad.validate()
    bad = dataclasses.replace(problem, vessels=[PINNVessel("tube", 0.0, LENGTH, -A0, BETA)])
    with pytest.raises(ValueError, match="vessel 'tube': a0"):
        bad.validate()
    bad = dataclasses.replace(problem, junctions=[[(0, "out"), (3, "in")]])
    with pytest.raises(ValueError, match=r"junctions\[0\]"):
        bad.validate()
    with pytest.raises(ValueError, match="adam_steps"):
        train_pinn(problem, dataclasses.replace(CONFIG, adam_steps=-1), progress=False)
    bad = dataclasses.replace(problem, vessels=[PINNVessel("tube", 0.0, LENGTH, A0, BETA, p_ext=float("nan"))])
    with pytest.raises(ValueError, match="p_ext = nan"):
        bad.validate()
    with pytest.raises(ValueError, match="friction"):
        dataclasses.replace(problem, friction=float("nan")).validate()
    assert LossWeights().data == 1.0


def test_predict_outside_the_vessel_is_an_error(fitted_wave):
    with pytest.raises(ValueError, match="outside vessel 0"):
        predict(fitted_wave, 0, LENGTH * 1.5, 0.05)
    with pytest.raises(ValueError, match="vessel = 3"):
        predict(fitted_wave, 3, 0.1, 0.05)


def test_kissas_loader_rejects_mismatched_time_grids(tmp_path, shared_data):
    import shutil

    from cardiojax.physics import kissas

    src = kissas.data_dir(shared_data) / "y_bifurcation_synthetic"
    dst = tmp_path / kissas.DATA / "y_bifurcation_synthetic"
    shutil.copytree(src, dst)
    lines = (dst / "output_2.csv").read_text().splitlines()
    (dst / "output_2.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match="output_2.csv: its time grid differs"):
        kissas.y_bifurcation(tmp_path)
    case = kissas.y_bifurcation(shared_data)
    assert len(case.problem.vessels) == 3 and set(case.tests) == {"vessel 1", "vessel 2", "vessel 3"}


def test_lbfgs_stage_lowers_the_loss():
    problem = wave_problem(50)
    cfg = dataclasses.replace(CONFIG, adam_steps=100, chunk=100, batch=64, lbfgs_steps=40, lbfgs_points=64,
                              time_harmonics=2)
    fitted = train_pinn(problem, cfg, progress=False)
    adam = [h for h in fitted.history if "mass" in h]
    lbfgs = [h for h in fitted.history if h.get("stage") == "lbfgs"]
    assert len(adam) == 100 and len(lbfgs) == 40
    assert lbfgs[-1]["loss"] < lbfgs[0]["loss"]
    assert all(np.isfinite(h["loss"]) for h in lbfgs)


def test_outlet_resistance_is_recovered_from_a_non_reflected_wave():
    """A right-running wave leaves the tube through its characteristic impedance, p = Z·Q with Z = ρc0/A0:
    started at 2·Z, the fitted outlet resistance converges to Z."""
    from cardiojax.physics import OutletResistance, fitted_resistance

    z = RHO * C0 / A0
    problem = dataclasses.replace(wave_problem(), outlets=[OutletResistance(0, 2.0 * z)])
    fitted = train_pinn(problem, dataclasses.replace(CONFIG, fit_resistance=True), progress=False)
    r = fitted_resistance(fitted)
    assert r.shape == (1,) and abs(r[0] / z - 1.0) < 0.05, r[0] / z
