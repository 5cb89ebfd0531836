"""FDA nozzle benchmark pieces (fast): the round-robin reader, the nozzle geometry and voxelisation, the
quadrant-with-symmetry-planes lattice against the full box. The Re 500 validation itself is
``benchmarks/bench_fda_nozzle.py`` (long)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.threed import geometry, lbm

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_fda_nozzle as bench  # noqa: E402
import fda_nozzle_data as fda  # noqa: E402


@pytest.fixture(scope="module")
def case(shared_data):
    return fda.load_case("SE_exp_0500", shared_data / "fda_nozzle" / "OSEL-DAM_CFD-and-Blood-Damage-Benchmarks")


def test_reader_fluid_flow_rate_and_centreline(case):
    assert sorted(case.labs) == ["243", "297", "468", "763", "999"]
    assert case.density == 1056.0 and case.viscosity == 0.0035
    assert abs(case.reynolds - 500.0) < 0.5  # Re on the throat diameter and mean throat velocity
    z, mean, lo, hi, count = fda.centreline_stats(case)
    i = int(np.flatnonzero(z == 0.0)[0])
    assert count[i] == 5 and abs(lo[i] - 0.7093) < 1e-4 and abs(hi[i] - 0.7534) < 1e-4
    assert abs(mean[i] - 0.7280) < 1e-4
    # upstream pipe: fully developed Poiseuille, centreline = 2·Q/(π R²) within the labs' scatter
    j = int(np.flatnonzero(np.isclose(z, -0.088))[0])
    assert abs(mean[j] / (2 * case.flow_rate / (math.pi * fda.R_OUTER**2)) - 1) < 0.06


@pytest.mark.parametrize("z, radius, tol", [(-0.088, fda.R_OUTER, 0.1), (-0.02, fda.R_THROAT, 0.05),
                                            (-0.008, fda.R_THROAT, 0.05), (0.0, fda.R_THROAT, 0.06)])
def test_lab_mean_profiles_carry_the_flow_rate(case, z, radius, tol):
    """Mass conservation of the measured profiles (folded about the axis, lab-averaged): ∫2πr·u dr ≈ Q."""
    r = np.linspace(0.0, radius, 201)
    mean, per_lab = fda.radial_profile(case, z, r)
    assert len(per_lab) == 5
    flow = np.sum(0.5 * (2 * np.pi * r[1:] * mean[1:] + 2 * np.pi * r[:-1] * mean[:-1]) * np.diff(r))
    assert abs(flow / case.flow_rate - 1) < tol


def test_wall_pressure_difference_skips_deleted_blocks(case):
    dp = fda.wall_pressure_difference(case)
    assert sorted(dp) == ["243", "468", "763", "999"]  # lab 297 marked its pressure blocks deleted
    assert abs(min(dp.values()) - 229.8) < 0.1 and abs(max(dp.values()) - 413.0) < 0.1


def test_reader_errors_are_clear(tmp_path, case):
    with pytest.raises(ValueError, match="no PIV"):
        fda.load_case("SE_exp_0500", tmp_path)
    bad = tmp_path / "PIV_x_1.txt"
    bad.write_text("plot-z-distribution-axial-velocity\n3\n0.0 1.0\n")
    with pytest.raises(ValueError, match="row count"):
        fda.read_lab_file(bad)
    with pytest.raises(ValueError, match="no lab reports"):
        fda.radial_profile(case, 0.005, [0.0])


def test_nozzle_radius_profile():
    z = np.array([-0.1, fda.Z_CONE_START, 0.5 * (fda.Z_CONE_START + fda.Z_THROAT_START), -0.02, -1e-9, 0.0, 0.05])
    expect = np.array([6, 6, 4, 2, 2, 6, 6]) * 1e-3
    assert np.allclose(fda.nozzle_radius(z), expect)
    assert abs(fda.Z_CONE_START + 0.06268) < 1e-5  # 4 mm / tan 10° of cone upstream of the throat


def test_units_refuse_too_coarse_grids(case):
    with pytest.raises(ValueError, match="cells per throat diameter"):
        bench.choose_units(case, 20, 0.77)
    units = bench.choose_units(case, 28, 0.77)
    assert units.tau >= 0.505 and units.velocity(0.77) / math.sqrt(1 / 3) <= 0.1


def test_voxelised_nozzle_flow_rate_and_areas(case):
    """The quadrant lattice at 28 cells per throat diameter: inlet flow = Q, lumen areas ≈ π R², the
    expansion face half-way between node planes (Bouzidi q = ½)."""
    s = bench.build(case, 28, -0.008, 0.004, inlet="measured", quarter=True)
    dx, solid = s.units.dx, np.asarray(s.params.solid)
    quadrant = np.s_[1:, 1:]
    u_in = s.units.velocity_si(np.asarray(s.params.inlet_velocity[0]))
    assert abs(4 * u_in[quadrant].sum() * dx * dx / case.flow_rate - 1) < 1e-6
    assert abs(u_in.max() / 0.733 - 1) < 0.05  # lab-mean centreline at z = −8 mm, rescaled to Q
    k = int(np.searchsorted(s.z, 0.0))
    for i, radius in ((0, fda.R_THROAT), (k - 1, fda.R_THROAT), (k, fda.R_OUTER), (-1, fda.R_OUTER)):
        area = 4 * (~solid[i][quadrant]).sum() * dx * dx
        assert abs(area / (math.pi * radius**2) - 1) < 0.03
    q = np.asarray(s.params.wall_q)
    j = int(np.flatnonzero((lbm.C == [-1, 0, 0]).all(1))[0])  # arriving at x = k from the face at x = k + ½
    ring = (~solid[k]) & solid[k - 1]
    assert ring.any() and np.allclose(q[j, k][ring], 0.5, atol=1e-9)


def _expansion(n, centre, nx=20):
    """A small tube (radius 2.5 → 5 voxels at x = 9.5) with a parabolic inlet, as a Params (float64)."""
    phi = geometry.tube(lambda s: np.where(s * (nx - 1) < 9.5, 2.5, 5.0), (0.0, centre, centre),
                        (nx - 1.0, centre, centre))
    shape = (nx, n, n)
    solid = geometry.solid_mask(phi, shape)
    yy, zz = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    r2 = (yy - centre) ** 2 + (zz - centre) ** 2
    u_in = np.zeros((3, n, n))
    u_in[0] = np.where(solid[0], 0.0, 0.08 * np.maximum(1 - r2 / 2.5**2, 0.0))
    wall_q = jnp.asarray(geometry.link_fractions(phi, shape))
    return lbm.Params(jnp.asarray(0.55), jnp.zeros(3), jnp.asarray(solid), wall_q, inlet_velocity=jnp.asarray(u_in),
                      outlet_drho=jnp.asarray(0.0)), shape


def test_quadrant_with_symmetry_planes_equals_the_full_box():
    """The quadrant (ghost layers mirrored after each step) reproduces the full box's quadrant to round-off
    through a sudden expansion with Bouzidi walls, velocity inlet and pressure outlet (float64)."""
    pq, shape_q = _expansion(7, 0.5)
    pf, shape_f = _expansion(12, 5.5)
    scheme = lbm.Scheme("trt")
    fq, drho_q, ux_q = bench.advance_jit(pq, lbm.at_rest(shape_q, jnp.float64), 60, scheme, True)
    ff, drho_f, ux_f = bench.advance_jit(pf, lbm.at_rest(shape_f, jnp.float64), 60, scheme, False)
    _, uq = lbm.macroscopic(fq)
    _, uf = lbm.macroscopic(ff)
    uq, uf = np.asarray(uq)[:, :, 1:, 1:], np.asarray(uf)[:, :, 6:, 6:]
    assert np.abs(uf).max() > 0.05  # the jet is there
    assert np.abs(uq - uf).max() < 1e-12
    # and so are the step-averaged density and axial velocity the benchmark reads
    assert np.abs(np.asarray(ux_q)[:, 1:, 1:] - np.asarray(ux_f)[:, 6:, 6:]).max() < 1e-12
    assert np.abs(np.asarray(drho_q)[:, 1:, 1:] - np.asarray(drho_f)[:, 6:, 6:]).max() < 1e-12
    # the centreline estimate is exact for u = a − b·r² about a half-integer axis
    yy, zz = np.meshgrid(np.arange(12), np.arange(12), indexing="ij")
    field = (0.7 - 0.01 * ((yy - 5.5) ** 2 + (zz - 5.5) ** 2))[None]
    assert abs(bench.centreline_lattice(field, 5.5)[0] - 0.7) < 1e-12
