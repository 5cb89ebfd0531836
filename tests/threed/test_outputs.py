"""Clinical outputs of the 3D solver: physical fields, trilinear sampling, section means, ΔP, FFR, VTU and PNG."""

from __future__ import annotations

import numpy as np
import pytest

from cardiojax.threed.lattice import CS2
from cardiojax.threed.outputs import (
    centerline_pressure,
    ffr,
    fields,
    pressure_drop,
    save_pressure_profile_png,
    save_slices_png,
    section_pressure,
    write_vtu,
)
from cardiojax.threed.units import LatticeUnits

SHAPE = (9, 7, 6)


def _linear(shape=SHAPE, coef=(2.0, -0.5, 0.25), const=3.0):
    i, j, k = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    return const + coef[0] * i + coef[1] * j + coef[2] * k


def _ring(shape=SHAPE):
    """Solid voxels on the y and z faces: the fluid is the interior (1 … n−2) of every x-slice."""
    solid = np.zeros(shape, bool)
    solid[:, [0, -1], :] = True
    solid[:, :, [0, -1]] = True
    return solid


def test_trilinear_sampling_is_exact_on_a_linear_field_in_lattice_and_physical_coordinates():
    p = _linear()
    rng = np.random.default_rng(0)
    pts = rng.uniform([0, 1, 1], [8, 5, 4], size=(50, 3))  # all 8 corners in the fluid of _ring
    exact = 3.0 + pts @ np.array([2.0, -0.5, 0.25])
    solid = _ring()
    assert np.allclose(centerline_pressure(np.where(solid, np.nan, p), pts, solid), exact, atol=1e-12)
    dx, origin = 2e-4, np.array([1e-3, -2e-3, 5e-4])
    assert np.allclose(centerline_pressure(p, origin + dx * pts, dx=dx, origin=origin), exact, atol=1e-12)
    rotation = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # lattice x along physical z
    phys = origin + dx * (pts @ rotation)
    assert np.allclose(centerline_pressure(p, phys, dx=dx, origin=origin, rotation=rotation), exact, atol=1e-12)
    # solid corners are dropped: a point half-way between a fluid and a solid voxel takes the fluid value
    assert np.isclose(centerline_pressure(p, [[4.0, 0.5, 2.0]], solid)[0], p[4, 1, 2])
    # all corners solid: NaN
    assert np.isnan(centerline_pressure(p, [[4.0, 0.0, 0.0]], solid)[0])


def test_section_pressure_and_pressure_drop_on_a_known_field():
    """p = g(x) + h(y, z): the fluid mean of slice x is g(x) + mean of h over the fluid cross-section."""
    solid = _ring()
    i, j, k = np.meshgrid(*[np.arange(n, dtype=float) for n in SHAPE], indexing="ij")
    g = 100.0 - 7.0 * i
    p = g + (j - 3.0) ** 2 + k
    fluid_h = [((jj - 3.0) ** 2 + kk) for jj in range(1, 6) for kk in range(1, 5)]
    prof = section_pressure(np.where(solid, 1e9, p), solid)  # solid values must not leak in
    assert np.allclose(prof, 100.0 - 7.0 * np.arange(9) + np.mean(fluid_h))
    solid2 = solid.copy()
    solid2[3] = True
    assert np.isnan(section_pressure(p, solid2)[3])
    # along y: slices 0 and 6 are all solid
    prof_y = section_pressure(p, solid, axis=1)
    assert np.isnan(prof_y[0]) and np.isnan(prof_y[-1]) and np.isfinite(prof_y[1:-1]).all()
    # ΔP between two positions (m): linear interpolation between slices, exact for the linear g
    dx = 1e-4
    assert np.isclose(pressure_drop(prof, 1.5 * dx, 6.25 * dx, dx=dx), 7.0 * 4.75)
    assert np.isclose(pressure_drop(section_pressure(p, solid2), 1.0, 6.0), 7.0 * 5.0)  # skips the NaN slice


def test_ffr():
    assert ffr(12_000.0, 9_600.0) == pytest.approx(0.8)
    assert np.allclose(ffr(100.0, np.array([100.0, 75.0])), [1.0, 0.75])
    with pytest.raises(ValueError, match=r"p_aortic_pa=0.0: expected a positive aortic pressure"):
        ffr(0.0, 50.0)


def test_fields_convert_populations_to_si_and_blank_solids():
    import jax.numpy as jnp

    from cardiojax.threed.lbm import equilibrium

    units = LatticeUnits.from_physical(dx=1e-4, nu=3.5e-3 / 1060.0, tau=0.6)
    rng = np.random.default_rng(1)
    drho = 1e-3 * rng.standard_normal(SHAPE)
    u = 0.02 * rng.standard_normal((3,) + SHAPE)
    f = np.asarray(equilibrium(jnp.asarray(drho), jnp.asarray(u)))
    solid = _ring()
    vel, p = fields(f, units, solid)
    fluid = ~solid
    assert np.allclose(vel[:, fluid], (u * units.dx / units.dt)[:, fluid], rtol=1e-10, atol=1e-14)
    assert np.allclose(p[fluid], (CS2 * drho * units.rho * (units.dx / units.dt) ** 2)[fluid], rtol=1e-10)
    assert np.isnan(p[solid]).all() and (vel[:, solid] == 0).all()


def test_vtu_round_trips_through_meshio(tmp_path):
    import meshio

    solid = _ring()
    solid[4, 2, 2] = True  # an interior solid voxel
    p = _linear()
    vel = np.stack([_linear(coef=(1.0, 0.0, 0.0)), np.zeros(SHAPE), -np.ones(SHAPE)])
    dx, origin = 2e-4, np.array([0.01, 0.02, 0.03])
    rotation = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # lattice x along physical y
    fluid = ~solid
    n_fluid = int(fluid.sum())
    for name in ("fields.vtu", "fields.vtk"):
        path = tmp_path / name
        write_vtu(path, solid, dx, {"velocity": vel, "pressure": p}, origin=origin, rotation=rotation)
        mesh = meshio.read(path)
        hexes = mesh.cells_dict["hexahedron"]
        assert hexes.shape == (n_fluid, 8)
        # points: the distinct corners of the fluid voxels
        corners = {tuple(c) for ijk in np.argwhere(fluid) for c in ijk + np.array(
            [[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])}
        assert len(mesh.points) == len(corners)
        centres = mesh.points[hexes].mean(axis=1)
        ijk = np.argwhere(fluid)  # cell order: C order of the fluid voxels
        assert np.allclose(centres, origin + dx * (ijk @ rotation), atol=1e-12)
        data = {k: v[0] for k, v in mesh.cell_data.items()}
        assert np.allclose(data["pressure"], p[fluid])
        assert np.allclose(data["velocity"], np.moveaxis(vel, 0, -1)[fluid])
        assert np.allclose(data["speed"], np.linalg.norm(vel, axis=0)[fluid])
        assert (data["solid"] == 0).all()
    write_vtu(tmp_path / "all.vtu", solid, dx, {"pressure": p}, include_solid=True)
    mesh = meshio.read(tmp_path / "all.vtu")
    assert len(mesh.cells_dict["hexahedron"]) == solid.size
    assert int(mesh.cell_data["solid"][0].sum()) == int(solid.sum())
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write: no temporary file left


def test_pngs_are_written(tmp_path):
    solid = _ring()
    vel = np.stack([_linear(), np.zeros(SHAPE), np.zeros(SHAPE)])
    save_slices_png(tmp_path / "slices.png", {"velocity": vel, "pressure": _linear()}, solid, 1e-4,
                    title="test")
    x = 1e-4 * np.arange(9)
    save_pressure_profile_png(tmp_path / "profile.png", x, 100.0 - 1e5 * x, marks=(2e-4, 6e-4),
                              reference=(x, 90.0 - 1e5 * x, "0D"))
    for name in ("slices.png", "profile.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_bad_input(tmp_path):
    solid = _ring()
    p = _linear()
    with pytest.raises(ValueError, match=r"points: index \[9.5, 3.0, 3.0\] lies outside the voxel box"):
        centerline_pressure(p, [[9.5, 3.0, 3.0]], solid)
    with pytest.raises(ValueError, match=r"points: shape \(1, 2\); expected \(n, 3\)"):
        centerline_pressure(p, [[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"solid: shape \(9, 7\) dtype bool; expected a 3-D bool voxel mask"):
        section_pressure(p, solid[:, :, 0])
    with pytest.raises(ValueError, match=r"solid: shape \(9, 7, 5\); expected the field's shape \(9, 7, 6\)"):
        section_pressure(p, solid[:, :, :5])
    with pytest.raises(ValueError, match=r"axis=3: expected 0, 1 or 2"):
        section_pressure(p, solid, axis=3)
    with pytest.raises(ValueError, match=r"x_down=0.5: expected a position within the profile"):
        pressure_drop(np.arange(5.0), 0.0, 0.5, dx=0.1)
    with pytest.raises(ValueError, match=r"dx=-1.0: expected a positive voxel size"):
        write_vtu(tmp_path / "a.vtu", solid, -1.0, {"pressure": p})
    with pytest.raises(ValueError, match=r"path='.*a.vtp': expected a .vtu or .vtk file name"):
        write_vtu(tmp_path / "a.vtp", solid, 1e-4, {"pressure": p})
    with pytest.raises(ValueError, match=r"fields\['pressure'\]: shape \(9, 7\)"):
        write_vtu(tmp_path / "a.vtu", solid, 1e-4, {"pressure": p[:, :, 0]})
    with pytest.raises(ValueError, match="no fluid voxel to write"):
        write_vtu(tmp_path / "a.vtu", np.ones(SHAPE, bool), 1e-4, {"pressure": p})
    with pytest.raises(ValueError, match=r"f: shape \(18, 9, 7, 6\); expected \(19, nx, ny, nz\)"):
        fields(np.zeros((18,) + SHAPE), LatticeUnits.from_physical(1e-4, 3e-6, 0.6), solid)
    with pytest.raises(ValueError, match=r"planes: 'w'; expected names among"):
        save_slices_png(tmp_path / "s.png", {"pressure": p}, solid, 1e-4, planes=("w",))
    assert not list(tmp_path.iterdir())
