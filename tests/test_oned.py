"""1D solver: agreement with openBF and svOneDSolver, wave physics, accuracy, junctions, gradients, errors."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.io import read_openbf, read_svonedsolver
from cardiojax.io.openbf import read_last
from cardiojax.oned import (
    InletSpec,
    JunctionSpec,
    NetworkSpec,
    OutletSpec,
    Stepping,
    VesselSpec,
    build_model,
    check_cfl,
    choose_substeps,
    initial_state,
    run_cycle,
    run_cycles,
    simulate,
    steady_initial_state,
    steady_state,
    step,
)
from cardiojax.units import Blood

REFS = "hemo_reference/jaxFlowSim_openBF_refs"
run_cycle_jit = jax.jit(run_cycle, static_argnums=2)


def openbf_rel_l2(shared_data, case):
    """Run an openBF case from rest to the cycle of its reference and return the mid-vessel rel. L2 per vessel."""
    base = shared_data / REFS / case
    spec = read_openbf(base / f"{case}.yml")
    m = build_model(spec)
    stepping = Stepping(samples=100, substeps=choose_substeps(m, 100))
    refs = {v.name: read_last(base / f"{case}_results" / f"{v.name}_P.last") for v in spec.vessels}
    cycles = int(round(refs[spec.vessels[0].name][0, 0] / spec.period)) + 1
    s = initial_state(m)
    for _ in range(cycles):
        s, cyc = run_cycle_jit(m, s, stepping)
    check_cfl(cyc)
    t = np.asarray(cyc.time) % spec.period
    order = np.argsort(t)
    out = {}
    for i, v in enumerate(spec.vessels):
        ref = refs[v.name]
        tt, p = t[order], np.asarray(cyc.pressure)[order, i, 2]
        per = spec.period
        mine = np.interp(ref[:, 0] % per, np.concatenate([tt - per, tt, tt + per]), np.concatenate([p, p, p]))
        out[v.name] = float(np.linalg.norm(mine - ref[:, 3]) / np.linalg.norm(ref[:, 3]))
    return out, cyc, spec


def test_openbf_single_artery(shared_data):
    err, _, _ = openbf_rel_l2(shared_data, "single-artery")
    assert err["A1"] <= 2e-3, err


def test_openbf_bifurcation_and_junction_mass(shared_data):
    err, cyc, spec = openbf_rel_l2(shared_data, "bifurcation")
    assert max(err.values()) <= 2e-3, err
    q = np.asarray(cyc.flow)
    names = [v.name for v in spec.vessels]
    p, d1, d2 = names.index("P"), names.index("d1"), names.index("d2")
    imbalance = q[:, p, 4] - q[:, d1, 0] - q[:, d2, 0]
    assert np.max(np.abs(imbalance)) <= 1e-10 * np.max(np.abs(q[:, p, 4]))
    # static pressure is continuous across openBF's bifurcation
    pr = np.asarray(cyc.pressure)
    assert np.max(np.abs(pr[:, p, 4] - pr[:, d1, 0])) <= 1e-8 * np.max(pr)


def _tube(length=1.0, radius=5e-3, c0=5.0, n_cells=400, outlet=("resistance", None), period=0.6, pulse=0.02,
          mu=0.0, amplitude=1e-7, law="beta"):
    blood = Blood(1060.0, mu)
    k = 1.5 * blood.density * c0**2
    a0 = np.pi * radius**2
    t = np.linspace(0.0, period, 601)
    q = np.where(t < pulse, amplitude * np.sin(np.pi * t / pulse) ** 2, 0.0)
    kind, params = outlet
    z0 = blood.density * c0 / a0
    if kind == "resistance" and params is None:
        params = {"R": 3.0 * z0, "Pd": 0.0}
    spec = NetworkSpec([VesselSpec("tube", length, radius, radius, {"K": k}, n_cells)], [],
                       [InletSpec(0, "flow", t, q)], [OutletSpec(0, kind, params)], period, blood, law, 9.0)
    return spec, z0


def test_linear_wave_speed_and_reflection_coefficient():
    spec, z0 = _tube()
    m = build_model(spec)
    stepping = Stepping(samples=600, substeps=choose_substeps(m, 600))
    _, cyc = run_cycle_jit(m, initial_state(m), stepping)
    t, p = np.asarray(cyc.time), np.asarray(cyc.pressure)[:, 0, :]
    x = (np.asarray(m.nodes[0]) - int(m.first[0]) + 0.5) * spec.vessels[0].length / spec.vessels[0].n_cells

    def peak_time(sig, lo, hi):
        sel = (t >= lo) & (t < hi)
        i = np.argmax(sig[sel])
        tt, ss = t[sel], sig[sel]
        a, b, c = ss[i - 1], ss[i], ss[i + 1]  # parabolic refinement
        return tt[i] + 0.5 * (a - c) / (a - 2 * b + c) * (tt[1] - tt[0]), b

    c0 = 5.0
    t1, _ = peak_time(p[:, 1], 0.0, 0.2)
    t3, a3 = peak_time(p[:, 3], 0.0, 0.2)
    speed = (x[3] - x[1]) / (t3 - t1)
    assert abs(speed / c0 - 1.0) < 0.01, speed
    # the reflected wave comes back to the 3/4 node after travelling to the end and back
    tr, ar = peak_time(p[:, 3], t3 + 0.05, t3 + 0.2)
    assert abs((tr - t3) - 2 * (spec.vessels[0].length - x[3]) / c0) < 0.01 * (tr - t3)

    def reflected(outlet):
        sp, _ = _tube(outlet=outlet)
        mm = build_model(sp)
        _, c = run_cycle_jit(mm, initial_state(mm), stepping)
        sig = np.asarray(c.pressure)[:, 0, 3]
        late = (t > t3 + 0.05) & (t < t3 + 0.2)
        return sig[late][np.argmax(np.abs(sig[late]))]

    # same path, same numerical dissipation: the ratio to a closed end (Rt = 1) is the reflection coefficient
    closed = reflected(("reflection", {"Rt": 1.0}))
    assert abs(ar / closed - 0.5) < 0.02, ar / closed  # R = 3 Z0: (R − Z0)/(R + Z0) = 1/2
    assert abs(reflected(("resistance", {"R": z0, "Pd": 0.0})) / closed) < 0.03  # matched: no reflection
    assert abs(reflected(("reflection", {"Rt": 0.0})) / closed) < 0.01  # non-reflecting outlet
    assert abs(reflected(("reflection", {"Rt": -0.5})) / closed + 0.5) < 0.03  # prescribed coefficient


def test_order_of_accuracy_on_smooth_problem():
    """A smooth nonlinear pressure bump splits into two waves; cell averages converge at order ~2."""
    def solve(n, limiter):
        spec, _ = _tube(n_cells=n, outlet=("reflection", {"Rt": 0.0}), amplitude=0.0)
        m = build_model(spec)
        xc = (np.arange(n) + 0.5) / n
        bump = 2000.0 * np.exp(-((xc - 0.5) / 0.08) ** 2)
        p = np.zeros(m.num_cells)
        p[int(m.first[0]):int(m.last[0]) + 1] = bump
        s = initial_state(m, pressure=jnp.asarray(p))
        t_end = 0.05
        steps = 4 * n // 100 * 10
        dt = t_end / steps
        s = jax.jit(lambda s: jax.lax.fori_loop(0, steps, lambda _, x: step(m, x, dt, Stepping(limiter=limiter)),
                                                s))(s)
        return np.asarray(s.u[0, int(m.first[0]):int(m.last[0]) + 1])

    ref = solve(1600, "none")
    errs = []
    for n in (100, 200, 400):
        coarse = ref.reshape(n, -1).mean(axis=1)
        errs.append(np.abs(solve(n, "none") - coarse).mean())
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 1.8), (errs, orders)


def test_grad_of_mean_outlet_pressure_vs_finite_differences(shared_data):
    spec = read_openbf(shared_data / REFS / "single-artery" / "single-artery.yml", cells_per_metre=100)
    m0 = build_model(spec)
    # a limiter switches branches as the data change, which makes the discrete solution only piecewise
    # smooth (finite differences then depend on the step); the unlimited scheme is smooth
    stepping = Stepping(samples=20, substeps=choose_substeps(m0, 20), limiter="none")

    def mean_outlet_pressure(theta):
        k_scale, rd = theta
        rcr = m0.blocks["rcr"]
        m = dataclasses.replace(m0, k=m0.k * k_scale,
                                blocks={"rcr": dataclasses.replace(rcr, params=dict(rcr.params, Rd=rd[None]))})
        _, cyc = run_cycles(m, initial_state(m), 2, stepping)
        return jnp.mean(cyc.outlets["rcr"][:, 0, 0])

    theta = jnp.array([1.0, float(m0.blocks["rcr"].params["Rd"][0])])
    f = jax.jit(mean_outlet_pressure)
    g = np.asarray(jax.jit(jax.grad(mean_outlet_pressure))(theta))
    for i in range(2):
        h = 1e-5 * float(theta[i])
        e = jnp.zeros(2).at[i].set(h)
        fd = (float(f(theta + e)) - float(f(theta - e))) / (2 * h)
        assert abs(g[i] - fd) <= 1e-5 * abs(fd), (i, g[i], fd)
    assert g[1] > 0  # a larger distal resistance raises the outlet pressure


def _steady_bifurcation(k=2e7):
    blood = Blood(1060.0, 4e-3)
    vessels = [VesselSpec("P", 0.05, 3e-3, 3e-3, {"K": k}, 20), VesselSpec("d1", 0.04, 2e-3, 2e-3, {"K": k}, 16),
               VesselSpec("d2", 0.03, 2.2e-3, 2.2e-3, {"K": k}, 12)]
    junctions = [JunctionSpec([(0, "out"), (1, "in"), (2, "in")], pressure="static")]
    inlets = [InletSpec(0, "flow", [0.0, 0.1], [2e-6, 2e-6])]
    outlets = [OutletSpec(1, "resistance", {"R": 4e9, "Pd": 1000.0}),
               OutletSpec(2, "rcr", {"Rp": 1e9, "C": 1e-11, "Rd": 3e9, "Pd": 1000.0})]
    return NetworkSpec(vessels, junctions, inlets, outlets, 0.1, blood, "beta", 2.0)


def test_steady_limit_agrees_with_0d_steady_solver():
    """Constant inflow into a bifurcation with a resistance and an RCR outlet, run to a steady state.

    On the node grid (boundary cells on the vessel ends) the measured errors against the 0D steady solver
    are: flows 1.2e-6, pressures 4.8e-6, pressure drop along each vessel 7.5e-4, the same with and without
    the cycle-to-cycle Δt adaptation. (On openBF's cell grid the boundary cells hold the end values half a
    cell inside, an O(Δx) offset of the drop: 4–8 % here, depending on Δt.)
    """
    spec = dataclasses.replace(_steady_bifurcation(), grid="node")
    m = build_model(spec)
    res = simulate(m, samples=5, rtol=1e-10, max_cycles=200)
    ref = steady_state(spec)
    p = np.asarray(res.cycle.pressure)[-1]
    q = np.asarray(res.cycle.flow)[-1]
    for i in range(3):
        assert abs(q[i, 2] - ref["flow"][i]) <= 1e-5 * ref["flow"][i]
        assert abs(p[i, 4] - ref["pressure_out"][i]) <= 2e-5 * ref["pressure_out"][i]
        assert abs(p[i, 0] - ref["pressure_in"][i]) <= 2e-5 * ref["pressure_in"][i]
        drop_1d = p[i, 0] - p[i, 4]
        drop_0d = ref["pressure_in"][i] - ref["pressure_out"][i]
        assert abs(drop_1d - drop_0d) <= 2e-3 * drop_0d, (i, drop_1d, drop_0d)


def _compliant_tube_inlet_pressure(deck, q_cgs, p_out_cgs):
    """Inlet pressure (dyn/cm²) of the deck's single Olufsen tube under steady flow, by integrating the
    steady 1D equations dP/dx = −f·Q/A / (A/ρ − Q²·A'(P)/A²) with the wall's compliance (scipy, rtol 1e-13)."""
    from scipy.integrate import solve_ivp

    v, blood = deck.spec.vessels[0], deck.spec.blood
    rho, mu = float(blood.density) * 1e-3, float(blood.viscosity) * 10.0  # CGS
    r0, a0 = v.r_in * 100.0, np.pi * (v.r_in * 100.0) ** 2
    k = v.wall["k1"] * 10.0 * np.exp(v.wall["k2"] / 100.0 * r0) + v.wall["k3"] * 10.0
    p0 = deck.spec.vessels[0].p_ref * 10.0

    def area(p):  # Olufsen: P − p0 = 4/3·K·(1 − sqrt(A0/A))
        return a0 / (1.0 - 3.0 * (p - p0) / (4.0 * k)) ** 2

    def darea(p):
        return 2.0 * a0 * 3.0 / (4.0 * k) / (1.0 - 3.0 * (p - p0) / (4.0 * k)) ** 3

    f = 2.0 * (deck.spec.profile + 2.0) * np.pi * mu / rho

    def rhs(_, p):
        a = area(p[0])
        return [-f * q_cgs / a / (a / rho - q_cgs**2 * darea(p[0]) / a**2)]

    sol = solve_ivp(rhs, [v.length * 100.0, 0.0], [p_out_cgs], rtol=1e-13, atol=1e-10)
    return float(sol.y[0, -1])


@pytest.mark.parametrize("case", ["tube_r", "tube_rcr", "tube_stenosis_r", "bifurcation_P", "bifurcation_R"])
def test_svonedsolver_steady_decks_match_their_analytic_values(shared_data, case):
    """svOneDSolver's steady test decks: Newton on the 1D scheme's one-step map from a perturbed guess,
    checked against every value of ``expected_values.json`` at its own tolerance.

    Exceptions, measured: the decks' flows are checked to 1e-10 (their rtol 1e-16 is exact equality), and the
    inlet pressure of tube_r / tube_rcr (rtol 1e-7, rigid-tube analytic value Q·(R1 + R2)) differs by 1.04e-7:
    the deck's walls are compliant (area +1.1e-6 at 1e4 dyn/cm², which lowers the friction), and the exact
    steady solution of the compliant tube, integrated here, agrees with the 1D solution to 1.1e-9.
    """
    from cardiojax.oned import discrete_steady_state

    deck = read_svonedsolver(shared_data / f"hemo_reference/svOneDSolver/cases/{case}.in")
    m = build_model(deck.spec)
    guess = steady_initial_state(m, deck.spec)
    guess = dataclasses.replace(guess, u=guess.u.at[1].multiply(0.9))  # 10 % off in every flow
    s, info = discrete_steady_state(m, guess)
    assert info["iterations"] >= 2 and info["residual"] < 1e-10
    nodes = np.asarray(m.nodes)
    area = np.asarray(s.u[0])[nodes]
    values = {
        "pressure": np.asarray(m.tube.pressure(area, m.a0[nodes], m.k[nodes], m.p_ref[nodes])) / 0.1,
        "flow": np.asarray(s.u[1])[nodes] / 1e-6,
        "area": area / 1e-4,
    }
    expected = json.loads((shared_data / "hemo_reference/svOneDSolver/expected_values.json").read_text())[case]
    for e in expected:
        mine = values[e["field"]][deck.segment_vessel[e["seg"]], 0 if e["node"] == 0 else 4]
        rtol = max(e["rtol"], 1e-10)
        if case.startswith("tube_r") and (e["field"], e["node"]) == ("pressure", 0):
            exact = _compliant_tube_inlet_pressure(deck, 100.0, 10000.0)
            assert abs(mine / exact - 1.0) < 1e-8, (e, mine, exact)
            rtol = 1.1e-7
        assert abs(mine / e["value"] - 1.0) <= rtol, (e, mine)


def test_tapered_vessel_at_rest_stays_at_rest():
    """Well balanced: a strongly tapered, compliant vessel (r 2.5 → 1.5 mm) held at 93 mmHg by a pressure
    inlet and a closed outlet must not move (the geometric source cancels the flux differences exactly)."""
    pa = 93.0 * 133.322
    spec = NetworkSpec([VesselSpec("taper", 0.03, 2.5e-3, 1.5e-3, {"Eh": 231.0}, 8)], [],
                       [InletSpec(0, "pressure", [0.0, 0.05], [pa, pa])],
                       [OutletSpec(0, "resistance", {"R": 1e20, "Pd": 0.0})], 0.05, profile=2.0)
    m = build_model(spec)
    assert m.varying
    s, cyc = run_cycle_jit(m, initial_state(m, pressure=pa), Stepping(samples=5, substeps=choose_substeps(m, 5)))
    assert np.max(np.abs(np.asarray(cyc.flow))) < 1e-15  # m³/s (a 1 mL/s flow is 1e-6)
    assert np.max(np.abs(np.asarray(cyc.pressure) / pa - 1.0)) < 1e-12


def test_synthetic_tree_with_lumped_lesions_steady_limit_matches_0d_ffr():
    """A synthetic coronary tree (31 segments, 11 lesions as lumped Young–Tsai elements) under hyperemic
    outlets and a constant 93 mmHg: the 1D steady state (walls stiffened ×1000 so that distension does not
    lower the resistance) gives the FFR of the 0D tree solver (`hyperemic_ffr`) at every segment end.

    Measured max |ΔFFR|: 0.0043 at 8 and at 16 points per segment (node grid; 0.035 and 0.016 on the cell
    grid). What remains does not change with the grid: it is the convective acceleration ρ/2·Δ(u²) along
    tapering vessels (about 0.5 mmHg at 0.35 m/s) that the 1D momentum equation keeps and the 0D law omits.
    """
    from cardiojax.clinical import hyperemic_ffr, with_hyperemic_outlets
    from cardiojax.oned import discrete_steady_state, tree_spec
    from cardiojax.synth import generate_trees
    from cardiojax.tree import take

    tree = take(with_hyperemic_outlets(generate_trees(jax.random.key(0), 8)), 2)
    pa = 93.0 * 133.322
    ffr0 = np.asarray(hyperemic_ffr(tree, apply_recipe=False).ffr_out)
    errors = []
    for n_cells in (8, 16):
        spec = tree_spec(tree, [0.0, 1.0], [pa, pa], junction_pressure="static", n_cells=n_cells)
        assert sum(v.name.endswith("_distal") for v in spec.vessels) == 11
        spec = dataclasses.replace(spec, vessels=[dataclasses.replace(v, wall={"Eh": 1e3 * v.wall["Eh"]})
                                                  for v in spec.vessels])
        m = build_model(spec)
        s, info = discrete_steady_state(m, steady_initial_state(m, spec))
        assert info["residual"] < 1e-10
        nodes = np.asarray(m.nodes)
        area = np.asarray(s.u[0])[nodes]
        p = np.asarray(m.tube.pressure(area, m.a0[nodes], m.k[nodes], m.p_ref[nodes]))
        ffr1 = {int(v.name[3:].split("_")[0]): p[i, 4] / pa for i, v in enumerate(spec.vessels)}  # distal piece last
        errors.append(max(abs(ffr1[seg] - ffr0[seg]) for seg in ffr1))
    assert ffr0[list(ffr1)].min() < 0.8  # the tree has functionally significant lesions
    assert errors[0] < 0.01 and abs(errors[1] - errors[0]) < 1e-3, errors


def test_coronary_outlet_matches_the_0d_pulsatile_solver():
    """A short artery under an aortic pressure waveform, closed by the coronary outlet block with a
    time-varying intramyocardial pressure Pim(t): the 1D run (to periodic) against the 0D pulsatile solver on
    the lumped counterpart (`lumped_network`: the vessel's R, L, C and the very same coronary block).
    Measured: outlet flow rel. L2 2e-4, outlet pressure 2.5e-4, mean flow 3e-5 (walls K = 2e7 Pa)."""
    from cardiojax.clinical.pulsatile import aortic_waveform
    from cardiojax.lumped import Simulation, vessel_results
    from cardiojax.lumped import simulate as simulate_0d
    from cardiojax.oned import lumped_network

    mmhg = 133.322
    t, pa = aortic_waveform(93 * mmhg)
    _, pim = aortic_waveform(40 * mmhg, pulse=80 * mmhg)
    rt = 93 * mmhg / 1e-6  # 1 mL/s at 93 mmHg
    cor = {"Ra": 0.32 * rt, "Ram": 0.52 * rt, "Rv": 0.16 * rt, "Ca": 0.05 / (0.32 * rt), "Cim": 0.3 / (0.52 * rt),
           "Pim": (t, pim), "Pv": 0.0}
    spec = NetworkSpec([VesselSpec("lad", 0.03, 1.5e-3, 1.5e-3, {"K": 2e7}, 7)], [],
                       [InletSpec(0, "pressure", t, pa)], [OutletSpec(0, "coronary", cor)], 0.8, profile=2.0,
                       grid="node")
    m = build_model(spec)
    res = simulate(m, state=steady_initial_state(m, spec), rtol=1e-7, max_cycles=40)
    assert res.change < 1e-7
    t1 = np.asarray(res.cycle.time) % spec.period
    q1, p1 = np.asarray(res.cycle.flow)[:, 0, 4], np.asarray(res.cycle.pressure)[:, 0, 4]
    net, params = lumped_network(spec)
    sol = simulate_0d(net, params, Simulation(period=0.8, cycles=res.cycles, pts_per_cycle=801))
    r = vessel_results(net, sol.y)
    t0 = np.asarray(sol.times) % spec.period
    order = np.argsort(t0)
    q0 = np.interp(t1, t0[order], np.asarray(r["flow_out"])[order, 0])
    p0 = np.interp(t1, t0[order], np.asarray(r["pressure_out"])[order, 0])
    assert np.ptp(q0) > 0.15 * q0.mean()  # a pulsatile coronary flow
    assert np.linalg.norm(q1 - q0) / np.linalg.norm(q0) < 1e-3
    assert np.linalg.norm(p1 - p0) / np.linalg.norm(p0) < 1e-3
    assert abs(q1.mean() / q0.mean() - 1.0) < 2e-4
    assert set(res.cycle.outlets) == {"coronary"} and res.cycle.outlets["coronary"].shape[-1] == 3  # [P, Q, V_im]


def test_svonedsolver_bifurcation_rcr_regression_cycle(shared_data):
    """svOneDSolver's saved steps 100–199 are its 2nd cycle from rest at the material's reference pressure.

    Its regression values (rtol 1e-7) belong to its own finite elements (10 linear elements per segment,
    implicit Δt = T/1000); a different discretisation cannot meet 1e-7. Ours, on the deck's 11 nodes per
    segment, agrees to 1.0–1.3 % in pressure and 0.6 % in mean outlet flow, and is converged in space
    (measured: changes below 0.1 % from 11 to 81 nodes per segment). The run is a start-up transient (RC
    time 1.1 s ≈ one period), so the values are sensitive to the start: a capacitor starting 5 % lower
    shifts the mean pressure by 2 %.
    """
    deck = read_svonedsolver(shared_data / "hemo_reference/svOneDSolver/cases/bifurcation_RCR.in")
    m = build_model(deck.spec)
    stepping = Stepping(samples=100, substeps=choose_substeps(m, 100))
    s = initial_state(m)
    for _ in range(2):
        s, cyc = run_cycle_jit(m, s, stepping)
    expected = json.loads((shared_data / "hemo_reference/svOneDSolver/expected_values.json").read_text())
    p = np.asarray(cyc.pressure) / 0.1
    q = np.asarray(cyc.flow) / 1e-6
    series = {("pressure", 0, 0): p[:, deck.segment_vessel[0], 0], ("pressure", 1, -1): p[:, deck.segment_vessel[1], 4],
              ("pressure", 2, -1): p[:, deck.segment_vessel[2], 4], ("flow", 0, 0): q[:, deck.segment_vessel[0], 0],
              ("flow", 1, -1): q[:, deck.segment_vessel[1], 4]}
    for e in expected["bifurcation_RCR"]:
        sig = series[(e["field"], e["seg"], e["node"])]
        mine = {"mean": sig.mean(), "max": sig.max(), "min": sig.min()}[e["fn"]]
        if e["field"] == "pressure":
            assert abs(mine / e["value"] - 1.0) < 0.02, (e, mine)
        elif e["fn"] == "mean":
            assert abs(mine / e["value"] - 1.0) < 0.01, (e, mine)
        else:  # flow extremes: within 2 % of the flow range
            assert abs(mine - e["value"]) < 0.02 * (sig.max() - sig.min()), (e, mine)


def test_bad_inputs_give_clear_errors(tmp_path):
    spec, _ = _tube(n_cells=50)
    bad = dataclasses.replace(spec, vessels=[dataclasses.replace(spec.vessels[0], r_in=-1e-3)])
    with pytest.raises(ValueError, match="r_in"):
        build_model(bad)
    bad = dataclasses.replace(spec, outlets=[OutletSpec(0, "windkessel5", {})])
    with pytest.raises(ValueError, match="unknown outlet type 'windkessel5'"):
        build_model(bad)
    m = build_model(spec)
    _, cyc = run_cycle_jit(m, initial_state(m), Stepping(samples=10, substeps=1))
    with pytest.raises(FloatingPointError, match="CFL"):
        check_cfl(cyc)
    with pytest.raises(FloatingPointError, match="CFL"):
        simulate(m, stepping=Stepping(samples=10, substeps=1), max_cycles=1, adapt=False)
    # with the cycle-to-cycle adaptation the same too-large step is rejected and the cycle run again
    res = simulate(m, stepping=Stepping(samples=10, substeps=1), max_cycles=1)
    assert res.substeps_per_cycle[0] > 1 and float(res.cycle.cfl) <= 1.0
    yml = tmp_path / "bad.yml"
    yml.write_text("blood: {rho: 1060, mu: 0.004}\nnetwork:\n  - {label: A, sn: 1, tn: 2, L: 0.1, R0: -0.01, "
                   "E: 4e5, inlet: 1, inlet file: x.dat, inlet number: 1, outlet: 3, R1: 1, R2: 1, Cc: 1}\n")
    with pytest.raises(ValueError, match="R0/Rp=-0.01"):
        read_openbf(yml)
    yml.write_text("blood: {rho: 1060, mu: 0.004}\nnetwork:\n  - {label: A, sn: 1, tn: 2, L: 0.1, R0: 0.01, "
                   "E: 4e5, outlet: 7}\n")
    with pytest.raises(ValueError, match="unknown outlet type 7"):
        read_openbf(yml)
    from cardiojax.oned import tree_model, tree_spec
    from cardiojax.synth import generate_trees
    from cardiojax.tree import take

    tree = take(generate_trees(jax.random.key(0), 1), 0)  # outlet resistances not set yet
    with pytest.raises(ValueError, match=r"field 'outlet_resistance' = 0.0 .*with_hyperemic_outlets"):
        tree_spec(tree, [0.0, 1.0], [1e4, 1e4])
    with pytest.raises(ValueError, match="lesions='maybe'"):
        tree_spec(tree, [0.0, 1.0], [1e4, 1e4], lesions="maybe")
    from cardiojax.clinical import with_hyperemic_outlets

    with pytest.raises(ValueError, match="lumped lesions, more than lesion_slots=0"):
        tree_model(with_hyperemic_outlets(tree), [0.0, 1.0], [1e4, 1e4], lesion_slots=0)


def test_cli_1d_writes_last_tables_and_plot(shared_data, tmp_path):
    from cardiojax.cli import main

    src = shared_data / REFS / "single-artery"
    out = tmp_path / "run"
    assert main(["1d", str(src / "single-artery.yml"), "-o", str(out), "--no-progress", "--rtol", "1e-2"]) == 0
    for key in "PQAu":
        table = np.loadtxt(out / f"A1_{key}.last")
        assert table.shape == (100, 6) and np.all(np.isfinite(table))
    assert (out / "waveforms.png").stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["converged"] and summary["max_courant"] <= 1.0
    assert main(["1d", str(tmp_path / "x.txt"), "-o", str(out)]) == 2
