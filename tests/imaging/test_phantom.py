"""Synthetic aortic CTA slices: shapes, randomness, the contrast identity, anatomy and geometry."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.imaging import anatomy as an
from cardiojax.imaging import phantom as ph

N = 128
PX = ph.DEFAULT_FOV / N
BLOOD_LABELS = [ph.LABEL_NAMES.index(n) for n in ("left_atrium", "left_ventricle", "right_ventricle")]
BLOOD_LABELS += [ph.LABEL_NAMES.index(n) for n in ("ascending_aorta", "descending_aorta")]
MYO = ph.LABEL_NAMES.index("myocardium")
RV = ph.LABEL_NAMES.index("right_ventricle")


@pytest.fixture(scope="module")
def batch():
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    slices = ph.generate_batch(keys, N)

    @jax.jit
    def params_and_labels(keys):
        params = jax.vmap(ph.sample_params)(keys)
        return params, jax.vmap(lambda p: ph.render(p, N)[2])(params)

    params, labels = params_and_labels(keys)
    return keys, params, slices, np.asarray(labels)


def _uniform_nbhd(labels: np.ndarray, r: int = 2) -> np.ndarray:
    """True where every pixel within the (2r+1)² neighbourhood has the same label (far from any edge)."""
    p = np.pad(labels, r, mode="edge")
    n = labels.shape[-1]
    same = np.ones(labels.shape, bool)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            same &= p[dy : dy + n, dx : dx + n] == labels
    return same


def test_shapes_dtypes_and_batch_equals_single(batch):
    keys, _, s, _ = batch
    assert s.hu_full.shape == s.hu_unenhanced.shape == s.blood_pool.shape == s.aorta.shape == (4, N, N)
    assert s.enhancement_hu.shape == (4,)
    assert s.hu_full.dtype == jnp.float64 and s.aorta.dtype == jnp.bool_
    one = jax.jit(ph.generate, static_argnums=1)(keys[2], N)
    np.testing.assert_allclose(one.hu_full, s.hu_full[2], atol=1e-9)
    np.testing.assert_array_equal(one.aorta, s.aorta[2])
    s32 = jax.tree_util.tree_map(lambda x: x[0], ph.generate_batch(keys[:1], 32, dtype=jnp.float32))
    assert s32.hu_full.dtype == s32.blood_pool.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(s32.hu_full)))


def test_keys_give_different_anatomy(batch):
    _, params, s, _ = batch
    for i in range(4):
        for j in range(i + 1, 4):
            assert float(jnp.mean(jnp.abs(s.hu_full[i] - s.hu_full[j]))) > 10.0
            assert float(jnp.linalg.norm(params.desc_center[i] - params.desc_center[j])) > 1e-4
    assert len(set(np.round(np.asarray(s.enhancement_hu), 6))) == 4


def test_enhancement_range_and_blood_pool_values(batch):
    _, params, s, labels = batch
    enh = np.asarray(s.enhancement_hu)
    assert np.all((enh >= 250.0) & (enh <= 450.0))
    bp = np.asarray(s.blood_pool)
    assert bp.min() >= 0.0 and bp.max() <= 1.0
    for i in range(4):
        far = _uniform_nbhd(labels[i])
        blood = np.isin(labels[i], BLOOD_LABELS)
        heart_or_aorta = np.isin(labels[i], BLOOD_LABELS + [MYO])
        # exactly 0 away from the heart and aortas, exactly 1 inside chambers and aortas
        assert np.all(bp[i][far & ~heart_or_aorta] == 0.0)
        assert (far & blood).sum() > 20 and np.all(bp[i][far & blood] == 1.0)
        # the myocardium carries its iodine fraction φ
        np.testing.assert_allclose(bp[i][far & (labels[i] == MYO)], float(params.myocardium_fraction[i]), rtol=1e-12)
        assert 0.1 <= float(params.myocardium_fraction[i]) <= 0.36


def test_contrast_identity(batch):
    _, params, s, labels = batch
    diff = np.asarray(s.hu_full - s.hu_unenhanced)
    bp = np.asarray(s.blood_pool)
    enh = np.asarray(s.enhancement_hu)[:, None, None]
    assert np.all(diff[bp == 0.0] == 0.0)  # bit-for-bit outside the blood pool
    assert (bp > 0).sum() > 100
    # = E·blood_pool wherever the (less enhanced) right ventricle does not reach
    no_rv = np.stack([~_dilated(labels[i] == RV, 3) for i in range(4)])
    np.testing.assert_allclose(diff[no_rv], (enh * bp)[no_rv] * np.ones_like(diff)[no_rv], atol=1e-9)
    # right ventricle: r·E with r in [0.8, 1]
    r = np.asarray(params.right_heart_factor)[:, None, None] * np.ones_like(diff)
    far_rv = np.stack([_uniform_nbhd(labels[i]) & (labels[i] == RV) for i in range(4)])
    np.testing.assert_allclose(diff[far_rv], (r * enh)[far_rv], rtol=1e-12)
    assert np.all(diff >= 0.8 * enh * bp - 1e-9) and np.all(diff <= enh * bp + 1e-9)
    # the unenhanced blood is 40 HU, the full-dose aortic lumen 40 + E
    aorta = np.asarray(s.aorta)
    np.testing.assert_allclose(np.asarray(s.hu_unenhanced)[aorta], ph.HU_BLOOD_UNENHANCED, atol=1e-9)
    np.testing.assert_allclose(np.asarray(s.hu_full)[aorta], (40.0 + enh * np.ones_like(diff))[aorta], atol=1e-9)


def test_low_dose_image_is_the_linear_iodine_model(batch):
    _, _, s, _ = batch
    f = 0.3
    low = np.asarray(ph.low_dose_image(s, f))
    full, unenh, bp = np.asarray(s.hu_full), np.asarray(s.hu_unenhanced), np.asarray(s.blood_pool)
    np.testing.assert_allclose(low, unenh + f * (full - unenh), atol=1e-9)
    assert np.all(low[bp == 0] == full[bp == 0])
    aorta = np.asarray(s.aorta)
    enh = np.asarray(s.enhancement_hu)[:, None, None] * np.ones_like(low)
    np.testing.assert_allclose(low[aorta], 40.0 + f * enh[aorta], atol=1e-9)
    np.testing.assert_allclose(ph.low_dose_image(s, 1.0), full, atol=1e-9)


def _dilated(mask, r):
    p = np.pad(mask, r)
    n = mask.shape[-1]
    return np.any([p[dy : dy + n, dx : dx + n] for dy in range(2 * r + 1) for dx in range(2 * r + 1)], axis=0)


def test_aorta_mask_inside_blood_pool_with_expected_area(batch):
    _, params, s, _ = batch
    for i in range(4):
        aorta = np.asarray(s.aorta[i])
        assert np.all(np.asarray(s.blood_pool[i])[aorta] >= 0.999)
        # interior of two discs: between π(r − 1.5 px)² and π r² each (the edge band is ±1 px)
        r = np.array([float(params.desc_radius[i]), float(params.asc_radius[i])])
        area = aorta.sum() * PX**2
        assert np.sum(np.pi * (r - 1.5 * PX) ** 2) <= area <= np.sum(np.pi * r**2)


def test_hu_ranges_are_plausible(batch):
    _, _, s, labels = batch
    name = ph.LABEL_NAMES.index
    for i in range(4):
        hu = np.asarray(s.hu_full[i])
        lab = labels[i]
        assert hu[lab == name("lung")].mean() < -600.0
        assert hu[lab == name("fat")].mean() < -50.0
        assert 0.0 < hu[lab == name("soft_tissue")].mean() < 100.0
        assert hu.max() > 300.0 and hu[lab == name("cortical_bone")].max() > 300.0
        assert hu.min() >= -1000.0 - 1e-9 and hu[0, 0] == -1000.0
        myo = _uniform_nbhd(lab) & (lab == name("myocardium"))
        assert myo.sum() > 10
        full, unenh = np.asarray(s.hu_full[i])[myo], np.asarray(s.hu_unenhanced[i])[myo]
        assert 100.0 - 1e-9 <= full.min() and full.max() <= 130.0 + 1e-9  # enhanced myocardium
        assert 40.0 - 1e-9 <= unenh.min() and unenh.max() <= 50.0 + 1e-9


def test_edge_weight_gives_partial_volume_areas():
    """Σ weights · px² of a disc and an ellipse equal π r² and π a b; d(area)/dr = 2π r (grad vs analytic)."""
    px = 1e-3
    grid = ph.pixel_grid(96, px)
    c = jnp.array([0.003, -0.002])

    def disc_area(r):
        return jnp.sum(ph.edge_weight(ph.sdf_disc(grid, c, r), px)) * px**2

    r = 0.02
    np.testing.assert_allclose(disc_area(r), np.pi * r**2, rtol=3e-3)
    grad = jax.grad(disc_area)(r)
    fd = (disc_area(r + 1e-6) - disc_area(r - 1e-6)) / 2e-6
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
    np.testing.assert_allclose(grad, 2 * np.pi * r, rtol=3e-2)  # quadrature of a 2-px wide kernel: 1.7 %
    axes = jnp.array([0.03, 0.015])
    w = ph.edge_weight(ph.sdf_ellipse(grid, c, axes, jnp.array(0.4)), px)
    np.testing.assert_allclose(jnp.sum(w) * px**2, np.pi * 0.03 * 0.015, rtol=5e-3)
    assert float(w.min()) == 0.0 and float(w.max()) == 1.0


def test_render_matches_slice_and_jit():
    key = jax.random.PRNGKey(11)
    p = ph.sample_params(key)
    hu, bp, labels = jax.jit(ph.render, static_argnums=(1, 2))(p, 32, 0.01)
    s = ph.slice_from_params(p, 32, 0.01)
    np.testing.assert_allclose(hu, s.hu_full, atol=1e-9)
    np.testing.assert_allclose(bp, s.blood_pool, atol=1e-12)
    assert labels.dtype == jnp.int32 and int(labels.max()) < len(ph.LABEL_NAMES)


@pytest.mark.parametrize("n_pixels, pixel_size", [(0, None), (4, None), (32.0, None), (32, -1e-3), (32, 1.0)])
def test_bad_grid_raises(n_pixels, pixel_size):
    with pytest.raises(ValueError, match="n_pixels|pixel_size"):
        ph.generate(jax.random.PRNGKey(0), n_pixels, pixel_size)


# ---------------------------------------------------------------- real slices (cardiojax.imaging.anatomy)


@pytest.mark.parametrize(
    "spec, mean_hu, centre",
    [(an.CT_SMALL, 161.0, (6, 92)), (an.PANCREAS_CT, 218.0, (237, 267))],
    ids=["CT_small", "explicit_VR-UN"],
)
def test_grown_lumen_is_a_plausible_aorta(shared_data, spec, mean_hu, centre):
    """Lumen of the real contrast slices: diameter 15–30 mm (adult thoracic/abdominal aorta) and the mean HU.

    CT_small's aorta is cut by the top edge of the image, so its diameter is read as the widest row of the
    lumen (the centre row is inside the image) and its area is bounded by a half disc of 15 mm and a disc of
    30 mm (88–707 mm²). The abdominal aorta of explicit_VR-UN is whole: its equivalent diameter √(4A/π) must be
    within 15–30 mm.
    """
    hu, spacing, _ = an._read(an._images_dir(shared_data) / spec.path)
    lumen = np.asarray(an.blood_pool_from_seed(jnp.asarray(hu), spec.seed, *spec.window))
    px_area_mm2 = spacing[0] * spacing[1] * 1e6
    area = lumen.sum() * px_area_mm2
    width = lumen.sum(axis=1).max() * spacing[1] * 1e3
    assert 15.0 <= width <= 30.0
    assert abs(hu[lumen].mean() - mean_hu) <= 30.0
    if spec is an.CT_SMALL:
        assert np.pi / 8 * 15.0**2 <= area <= np.pi / 4 * 30.0**2
    else:
        assert 15.0 <= np.sqrt(4 * area / np.pi) <= 30.0
        rows, cols = np.nonzero(lumen)
        assert abs(rows.mean() - centre[0]) < 3 and abs(cols.mean() - centre[1]) < 3
    assert lumen.sum() < 0.05 * lumen.size  # did not leak into the body


def test_region_growing_on_known_shapes():
    """Two equal discs and a bridge-free gap: the fill from one seed takes exactly its own disc."""
    yy, xx = np.mgrid[:40, :40]
    a = (yy - 12) ** 2 + (xx - 12) ** 2 <= 36
    b = (yy - 28) ** 2 + (xx - 28) ** 2 <= 49
    hu = np.where(a | b, 200.0, 0.0) + np.where((yy == 20) & (xx < 20), 500.0, 0.0)  # bright line: out of window
    mask = jax.jit(an.blood_pool_from_seed, static_argnums=(2, 3))(jnp.asarray(hu), jnp.array([12, 12]), 150.0, 300.0)
    np.testing.assert_array_equal(mask, a)
    np.testing.assert_array_equal(an.blood_pool_from_seed(jnp.asarray(hu), (28, 30), 150.0, 300.0), b)
    assert not an.blood_pool_from_seed(jnp.asarray(hu), (0, 0), 150.0, 300.0).any()  # seed outside the window
    # max_iter limits the growth to a diamond of that radius (4-connectivity)
    limited = an.blood_pool_from_seed(jnp.asarray(hu), (12, 12), 150.0, 300.0, max_iter=2)
    assert int(limited.sum()) == 13
    with pytest.raises(ValueError, match="seed"):
        an.blood_pool_from_seed(jnp.asarray(hu), (40, 3), 150.0, 300.0)
    with pytest.raises(ValueError, match="hu"):
        an.blood_pool_from_seed(jnp.asarray(hu, jnp.int32), (1, 1), 150.0, 300.0)


@pytest.fixture(scope="module")
def real(request):
    shared = request.getfixturevalue("shared_data")
    out = []
    for spec in an.REAL_SLICES:
        if spec is an.PLAIN_CT:
            try:
                import libjpeg  # noqa: F401
                import pylibjpeg  # noqa: F401
            except ImportError:
                continue
        out.append((spec, *an.load_real_slice(shared, spec, 64)))
    return out


def test_real_slices_contrast_identity_and_orientation(real):
    assert len(real) >= 2
    for spec, s, px in real:
        assert s.hu_full.shape == s.hu_unenhanced.shape == s.blood_pool.shape == s.aorta.shape == (64, 64)
        diff = np.asarray(s.hu_full - s.hu_unenhanced)
        bp = np.asarray(s.blood_pool)
        e = float(s.enhancement_hu)
        assert np.all(diff[bp == 0.0] == 0.0), spec.name
        np.testing.assert_allclose(diff, e * bp, atol=1e-9)
        aorta = np.asarray(s.aorta)
        assert aorta.sum() >= 3 and np.all(bp[aorta] >= 0.999)
        # the aortic ROI is at 40 HU + E on average in the full image and ≈ 40 HU (+ tissue) unenhanced
        assert abs(np.asarray(s.hu_full)[aorta].mean() - 40.0 - e) < 40.0, spec.name
        assert abs(np.asarray(s.hu_unenhanced)[aorta].mean() - 40.0) < 40.0, spec.name
        # standard orientation: the vertebral body (bone) lies below (posterior to) the aorta
        rows = np.arange(64)[:, None] * np.ones((1, 64))
        bone = np.asarray(s.hu_unenhanced) > 400.0
        assert rows[bone].mean() > rows[aorta].mean() + 3, spec.name
        assert 0.5e-3 < px < 6e-3  # the body's bounding box in 64 px
    names = [spec.name for spec, *_ in real]
    enh = {spec.name: float(s.enhancement_hu) for spec, s, _ in real}
    assert abs(enh["CT_small"] - 119.0) < 5 and abs(enh["explicit_VR-UN"] - 184.0) < 5
    if "bad_sequence" in names:
        assert enh["bad_sequence"] == 300.0


def test_real_slices_fixed_pixel_size(shared_data):
    s, px = an.load_real_slice(shared_data, an.CT_SMALL, 32, pixel_size=2e-3)
    assert px == 2e-3 and s.hu_full.shape == (32, 32)
    assert float(s.hu_full.min()) > -1000.0  # a 64 mm field fits in the 85 mm image: no air fill
    wide, _ = an.load_real_slice(shared_data, an.CT_SMALL, 32, pixel_size=4e-3)
    assert abs(float(wide.hu_full[0, 0]) + 1000.0) < 1e-9  # a 128 mm field does not: air outside the image
    with pytest.raises(ValueError, match="pixel_size"):
        an.load_real_slice(shared_data, an.CT_SMALL, 32, pixel_size=0.5)


def test_augmentations_keep_the_contrast_identity(real):
    stacked = an.stack_slices([s for _, s, _ in real])
    keys = jax.random.split(jax.random.PRNGKey(5), 6)
    aug = jax.jit(lambda k: an.augment_batch(k, stacked, max_shift=6, enhancement_range=(250.0, 450.0)))(keys)
    assert aug.hu_full.shape == (6, 64, 64) and aug.aorta.dtype == jnp.bool_
    diff, bp = np.asarray(aug.hu_full - aug.hu_unenhanced), np.asarray(aug.blood_pool)
    e = np.asarray(aug.enhancement_hu)
    assert np.all((e >= 250.0) & (e <= 450.0))
    assert np.all(diff[bp == 0.0] == 0.0)
    np.testing.assert_allclose(diff, e[:, None, None] * bp, atol=1e-9)
    assert len({float(jnp.sum(a)) for a in aug.hu_full}) == 6  # all different
    # without shifts an augmentation is a permutation of the pixels: histograms are kept
    one = an.augment(jax.random.PRNGKey(1), real[0][1], max_shift=0)
    np.testing.assert_allclose(np.sort(np.ravel(one.hu_full)), np.sort(np.ravel(real[0][1].hu_full)))
    assert int(one.aorta.sum()) == int(real[0][1].aorta.sum())


def test_enhanced_tissue_distractors_leave_the_iodine_of_the_blood_pool_unchanged(batch):
    _, _, slices, labels = batch
    keys = jax.random.split(jax.random.PRNGKey(8), 4)
    out = jax.jit(jax.vmap(lambda k, s: an.add_enhanced_tissue(k, s, PX, probability=1.0)))(keys, slices)
    added = np.asarray(out.hu_full - slices.hu_full)
    np.testing.assert_array_equal(added, np.asarray(out.hu_unenhanced - slices.hu_unenhanced))
    np.testing.assert_array_equal(np.asarray(out.blood_pool), np.asarray(slices.blood_pool))
    np.testing.assert_array_equal(np.asarray(out.aorta), np.asarray(slices.aorta))
    assert np.all(added[np.asarray(slices.blood_pool) > 0] == 0.0)  # never in the blood pool
    soft = ph.LABEL_NAMES.index("soft_tissue")
    uniform = np.stack([_uniform_nbhd(lab, 1) for lab in labels])
    far_from_soft = uniform & ~np.isin(labels, [soft, ph.LABEL_NAMES.index("spinal_canal")])
    assert np.all(added[far_from_soft] == 0.0)  # not in air, fat, lung, bone (away from partial-volume edges)
    assert np.all((added >= 0.0) & (added <= 180.0)) and np.all(added.reshape(4, -1).max(1) > 60.0)
    none = an.add_enhanced_tissue(keys[0], jax.tree_util.tree_map(lambda x: x[0], slices), PX, probability=0.0)
    np.testing.assert_array_equal(np.asarray(none.hu_full), np.asarray(slices.hu_full[0]))
    with pytest.raises(ValueError, match="probability"):
        an.add_enhanced_tissue(keys[0], jax.tree_util.tree_map(lambda x: x[0], slices), PX, probability=1.5)


def test_inserted_vessels_are_blood_pool_enhanced_like_the_slice(batch):
    _, _, slices, _ = batch
    keys = jax.random.split(jax.random.PRNGKey(9), 4)
    out = jax.jit(jax.vmap(lambda k, s: an.insert_vessels(k, s, PX, probability=1.0)))(keys, slices)
    added_pool = np.asarray(out.blood_pool - slices.blood_pool)
    e = np.asarray(slices.enhancement_hu)[:, None, None]
    np.testing.assert_allclose(np.asarray(out.hu_full - slices.hu_full), e * added_pool, atol=1e-9)
    np.testing.assert_array_equal(np.asarray(out.hu_unenhanced), np.asarray(slices.hu_unenhanced))
    np.testing.assert_array_equal(np.asarray(out.aorta), np.asarray(slices.aorta))
    assert np.all(added_pool[np.asarray(slices.blood_pool) > 0] == 0.0)  # only where there was no blood pool
    assert np.all((added_pool >= 0.0) & (np.asarray(out.blood_pool) <= 1.0))
    # each slice gains vessels of the requested size: 2 discs of radius 4–14 mm cover 0.5–12 cm² (clipped)
    area = added_pool.reshape(4, -1).sum(1) * PX**2
    assert np.all(area > 0.2e-4) and np.all(area < 2 * np.pi * 0.014**2 * 1.1)
