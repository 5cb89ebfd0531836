"""Synthetic coronary CT angiograms: lumen volume, gradients, calcium, noise, dose, batches, no leak into the cavity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from cardiojax.imaging.angio import (
    AngioParams,
    angiogram_volume,
    render_angiogram,
    render_lumen,
)
from cardiojax.imaging.dose import low_dose_hu
from cardiojax.io.volume import affine_from
from cardiojax.synth import CoronaryPrior, generate, min_capacity
from cardiojax.synth.course import wrap_on_heart
from cardiojax.tree import make_tree
from cardiojax.tree.paths import point_at, straight_paths

MM = 1e-3
LUMEN_HU = 400.0
# one set of ranges (one compile) for the calcium, noise, dose and batch tests
PARAMS = AngioParams(lumen_hu=(LUMEN_HU, LUMEN_HU), noise_sigma=(30.0, 30.0), noise_fwhm=(0.8 * MM, 0.8 * MM),
                     psf_fwhm=(0.6 * MM, 0.6 * MM), dose_fraction=(0.3, 1.0), calcium_probability=1.0,
                     calcium_hu=(1000.0, 1000.0))  # fmt: skip
BOUNDS = {"max_radius": 2 * MM, "max_length": 20 * MM}  # static splat bounds shared by every render below
N, DX = 32, 0.4 * MM


def _tube(radius, direction, n, dx, length):
    """A straight single-segment tree through the centre of an n³ box of voxel size dx (origin at voxel 0)."""
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    c = np.full(3, (n - 1) / 2 * dx) + np.array([0.0, 0.13, 0.07]) * dx  # off the voxel grid's symmetry
    return make_tree([-1], [length], [radius], start=[c - d * length / 2], end=[c + d * length / 2])


@pytest.mark.parametrize("radius", [1.0 * MM, 1.5 * MM])
def test_straight_tube_volume_within_one_percent(radius):
    n, dx = 32, 0.3 * MM
    for direction in [(1, 0, 0), (1, 0.3, 0.2)]:
        tree = _tube(radius, direction, n, dx, 3 * n * dx)  # crosses the whole box: no end caps inside
        occ = render_lumen(tree, straight_paths(tree), (n, n, n), affine_from([dx] * 3), max_radius=2 * MM,
                           max_length=50 * MM)  # fmt: skip
        assert occ.dtype == jnp.float32 and float(occ.min()) >= 0.0 and float(occ.max()) == 1.0
        volume = float(jnp.sum(occ.astype(jnp.float64))) * dx**3
        d = np.asarray(direction, float) / np.linalg.norm(direction)
        exact = np.pi * radius**2 * n * dx / d[0]  # the tube between the box's x faces
        assert volume == pytest.approx(exact, rel=0.01)


def test_lumen_volume_gradient_matches_finite_differences():
    n, dx = 24, 0.3 * MM
    tree = _tube(1.0 * MM, (1, 0.2, 0.1), n, dx, 12 * MM)
    paths = straight_paths(tree)

    def volume(r_in, r_out, severity):
        t = tree.replace(r_in=jnp.stack([r_in]), r_out=jnp.stack([r_out]), stenosis_severity=jnp.stack([severity]),
                         stenosis_length=jnp.array([4 * MM]), stenosis_position=jnp.array([0.5]))  # fmt: skip
        occ = render_lumen(t, paths, (n, n, n), affine_from([dx] * 3), max_radius=1.5 * MM, max_length=15 * MM)
        return jnp.sum(occ.astype(jnp.float64)) * dx**3

    x = (1.0 * MM, 0.8 * MM, 0.4)
    grad = jax.grad(volume, argnums=(0, 1, 2))(*x)
    for i, h in enumerate([1e-6, 1e-6, 5e-4]):
        up, down = list(x), list(x)
        up[i] += h
        down[i] -= h
        fd = (volume(*up) - volume(*down)) / (2 * h)
        assert float(grad[i]) == pytest.approx(float(fd), rel=0.01)
    assert float(grad[0]) > 0 and float(grad[2]) < 0


@pytest.fixture(scope="module")
def scene():
    """A 12 mm root on the heart (from the ostium), with and without a lesion, and a 32³ grid around it."""

    def tree(severity):
        planar = make_tree([-1], [12 * MM], [1.9 * MM], stenosis_severity=[severity], stenosis_length=[6 * MM],
                           stenosis_position=[0.5], start=[[0.0, 0.0, 0.0]], end=[[0.0, -12 * MM, 0.0]])  # fmt: skip
        return wrap_on_heart(planar)

    lesion, plain = tree(0.5), tree(0.0)
    centre = np.asarray(lesion[1][0]).mean(0)
    affine = affine_from([DX] * 3, centre - DX * (N - 1) / 2)
    return lesion, plain, affine


def _render(key, tree_paths, affine):
    return render_angiogram(key, *tree_paths, PARAMS, (N, N, N), affine, **BOUNDS)


def _core(weight, voxels):
    """Voxels of weight 1 whose whole cube of ± ``voxels`` is weight 1 (beyond the blur's reach)."""
    return ndimage.binary_erosion(np.asarray(weight) >= 1.0, structure=np.ones((3, 3, 3)), iterations=voxels)


def _distance_to(point, affine):
    idx = np.stack(np.meshgrid(*[np.arange(N)] * 3, indexing="ij"), -1)
    return np.linalg.norm(idx @ affine[:3, :3].T + affine[:3, 3] - point, axis=-1)


def test_calcified_lesion_is_bright(scene):
    lesion, plain, affine = scene
    a = _render(jax.random.key(0), lesion, affine)
    b = _render(jax.random.key(0), plain, affine)
    calcium, lumen = np.asarray(a.calcium), np.asarray(a.lumen)
    assert calcium.max() > 0.9 and np.asarray(b.calcium).max() == 0.0
    assert np.all(calcium + lumen <= 1.0 + 1e-6)  # plaque outside the lumen
    centre = np.asarray(point_at(lesion[1], jnp.array([[0.5]])))[0, 0]
    near = _distance_to(centre, affine) < 1.9 * MM + 3 * MM
    assert calcium[~near].max() == 0.0  # only beside the lesion
    assert np.asarray(a.hu_clean)[near].max() > LUMEN_HU + 150  # blooming: brighter than any lumen voxel
    assert np.asarray(b.hu_clean).max() < LUMEN_HU + 1.0
    # the lesion narrows the lumen: less lumen volume than the plain vessel
    assert lumen.sum() < np.asarray(b.lumen).sum()


def test_noise_sigma_in_a_uniform_region(scene):
    _, plain, affine = scene
    a = _render(jax.random.key(1), plain, affine)
    noise = np.asarray(a.hu - a.hu_clean)
    assert noise.std() == pytest.approx(30.0, rel=0.05)
    uniform = _core(a.myocardium, 3)  # beyond the PSF's reach
    assert uniform.sum() > 2000
    hu_clean = np.asarray(a.hu_clean)[uniform]
    assert np.ptp(hu_clean) < 0.5  # truly uniform
    assert np.asarray(a.hu)[uniform].std() == pytest.approx(30.0, rel=0.1)


def test_dose_fraction_scales_the_enhancement(scene):
    _, plain, affine = scene
    fractions = []
    for seed in (2, 3):
        a = _render(jax.random.key(seed), plain, affine)
        case = {k: float(v) for k, v in a.case.items()}
        f = case["dose_fraction"]
        fractions.append(f)
        hu = np.asarray(a.hu_clean)
        lumen_core = _core(a.lumen, 2)  # beyond the PSF's reach
        assert lumen_core.sum() >= 4
        want = float(low_dose_hu(jnp.full((2, 2), LUMEN_HU, jnp.float32), jnp.ones((2, 2), bool), f)[0, 0])
        assert want == pytest.approx(40.0 + f * (LUMEN_HU - 40.0), abs=1e-3)
        np.testing.assert_allclose(hu[lumen_core], want, atol=0.5)
        myo_core = _core(a.myocardium, 3)
        u = case["myocardium_unenhanced_hu"]
        np.testing.assert_allclose(hu[myo_core], u + f * (case["myocardium_hu"] - u), atol=0.5)
        assert np.sum(np.abs(hu - case["fat_hu"]) < 0.5) > 500  # fat has no iodine: unchanged
    assert abs(fractions[0] - fractions[1]) > 0.05 and min(fractions) < 0.9


def test_vmap_over_keys_and_trees(scene):
    lesion, plain, affine = scene
    trees = jax.tree.map(lambda x, y: jnp.stack([x, y]), lesion, plain)
    keys = jax.random.split(jax.random.key(4), 2)
    batch = jax.vmap(lambda k, t, p: render_angiogram(k, t, p, PARAMS, (N, N, N), affine, **BOUNDS))(keys, *trees)
    assert batch.hu.shape == (2, N, N, N)
    for i, tp in enumerate((lesion, plain)):
        single = _render(keys[i], tp, affine)
        np.testing.assert_allclose(batch.hu[i], single.hu, atol=0.02)  # float32 sums in another order
        np.testing.assert_allclose(batch.lumen[i], single.lumen, atol=1e-5)


def test_region_growing_from_the_ostium_stays_in_the_vessels():
    prior = CoronaryPrior(side="right", min_radius=0.7 * MM, stenoses_main=(0, 0), stenoses_side=(0, 0))
    draw = jax.jit(lambda k1, k2: wrap_on_heart(generate(k1, prior, min_capacity(prior)), k2))
    tree, paths = draw(jax.random.key(5), jax.random.key(6))
    params = AngioParams(noise_sigma=(0.0, 0.0), lumen_hu=(350.0, 450.0))
    volume, a = angiogram_volume(jax.random.key(7), tree, paths, params, voxel_size=0.7 * MM)
    assert all(n % 16 == 0 for n in volume.shape) and volume.array.dtype == np.float32
    assert float(a.cavity.max()) == 1.0  # the blood pool is in the box
    threshold = 0.5 * float(a.case["lumen_hu"] + a.case["myocardium_hu"])
    labels, _ = ndimage.label(np.asarray(volume.array) > threshold)
    seed = tuple(np.round(volume.world_to_index(np.asarray(tree.start[0]))).astype(int))
    region = labels == labels[seed]
    assert labels[seed] > 0
    assert not np.any(region & (np.asarray(a.cavity) > 0.5))  # no leak into the ventricle
    deep = np.asarray(a.lumen) >= 1.0
    assert (region & deep).sum() >= 0.95 * deep.sum()  # and the vessels are connected


def test_bad_input_is_refused(scene):
    lesion, _, affine = scene
    with pytest.raises(ValueError, match="voxel size"):
        render_lumen(*lesion, (8, 8, 8), affine_from([3 * MM] * 3))
    with pytest.raises(ValueError, match="voxels"):
        render_lumen(*lesion, (500, 500, 500), affine)
    with pytest.raises(ValueError, match="affine"):
        render_angiogram(jax.random.key(0), *lesion, PARAMS, (8, 8, 8))
    with pytest.raises(ValueError, match="lumen_hu"):
        AngioParams(lumen_hu=(500.0, 300.0))
    with pytest.raises(ValueError, match="paths"):
        render_lumen(lesion[0], lesion[1][:, :, :2], (8, 8, 8), affine)
    with pytest.raises(ValueError, match="voxel_size"):
        angiogram_volume(jax.random.key(0), *lesion, voxel_size=5 * MM)
