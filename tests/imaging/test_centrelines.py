"""Centrelines, area-equivalent radii and the tree from a segmentation; vesselness; segmentation metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cardiojax.imaging.centreline_tree import tree_from_mask
from cardiojax.imaging.cross_section import area_radius, smooth_polyline
from cardiojax.imaging.seg_metrics import cldice, dice, hd95
from cardiojax.imaging.segment import segment_lumen
from cardiojax.imaging.skeleton import branches, teasar
from cardiojax.imaging.vesselness import frangi, symmetric_eigenvalues
from cardiojax.io.volume import Volume, affine_from
from cardiojax.tree import lumen_radius, make_tree
from cardiojax.tree.profile import fit_profile

DX = 0.3e-3


def _grid(shape, dx=DX):
    return np.stack(np.meshgrid(*[np.arange(n) * dx for n in shape], indexing="ij"), -1)


def _capsule(g, a, b, ra, rb):
    """Signed distance (m) to a tube from a to b whose radius goes linearly from ra to rb."""
    a, b = np.asarray(a), np.asarray(b)
    d = b - a
    t = np.clip(((g - a) @ d) / (d @ d), 0, 1)
    return np.linalg.norm(g - (a + t[..., None] * d), axis=-1) - (ra + t * (rb - ra))


def _occupancy(sdf, dx=DX):
    return np.clip(0.5 - sdf / dx, 0.0, 1.0)


def _bifurcation():
    g = _grid((140, 100, 60))
    j = np.array([20e-3, 15e-3, 9e-3])
    sdf = np.minimum.reduce([_capsule(g, [-1e-3, 15e-3, 9e-3], j, 1.8e-3, 1.6e-3),
                             _capsule(g, j, [40e-3, 5e-3, 9e-3], 1.4e-3, 1.2e-3),
                             _capsule(g, j, [38e-3, 27e-3, 12e-3], 1.1e-3, 1.0e-3)])
    return g, sdf


def test_straight_tube_radius_and_length():
    g = _grid((150, 30, 30))
    r = 1.5e-3
    sdf = _capsule(g, [-5e-3, 4.5e-3, 4.35e-3], [40e-3, 4.5e-3, 4.35e-3], r, r)
    ex = tree_from_mask(_occupancy(sdf), affine_from(np.full(3, DX)), (0, 15, 14))
    t = ex.tree
    assert int(t.valid.sum()) == 1
    assert np.asarray(t.r_in)[0] == pytest.approx(r, rel=0.02)
    assert np.asarray(t.r_out)[0] == pytest.approx(r, rel=0.02)
    assert np.asarray(t.stenosis_severity)[0] == 0.0
    # from the seed (x = 0) to the tube's end (x = 40 mm), the rounded end cap left out
    assert np.asarray(t.length)[0] == pytest.approx(40e-3, rel=0.02)
    prof = ex.profiles[0]
    assert np.median(prof["radius"][prof["weight"] > 0]) == pytest.approx(r, rel=0.01)


def test_bifurcation_topology_and_radii():
    _, sdf = _bifurcation()
    ex = tree_from_mask(_occupancy(sdf), affine_from(np.full(3, DX)), (0, 50, 30))
    t = ex.tree
    assert np.asarray(t.parent).tolist() == [-1, 0, 0]
    # truth at the seed plane x = 0 (the root tube starts at x = −1 mm) and at each segment's ends
    r_in = np.asarray(t.r_in)
    r_out = np.asarray(t.r_out)
    order = np.argsort(-r_in[1:]) + 1  # the larger child first
    np.testing.assert_allclose(r_in[[0, *order]], [1.8e-3 - 0.2e-3 / 21, 1.4e-3, 1.1e-3], rtol=0.02)
    np.testing.assert_allclose(r_out[[0, *order]], [1.6e-3, 1.2e-3, 1.0e-3], rtol=0.02)
    lengths = np.asarray(t.length)[[0, *order]]
    np.testing.assert_allclose(lengths, [20e-3, np.hypot(20e-3, 10e-3), np.linalg.norm([18e-3, 12e-3, 3e-3])],
                               rtol=0.03)
    assert np.all(np.asarray(t.stenosis_severity) == 0.0)
    assert ex.paths.shape == (3, 32, 3)
    np.testing.assert_allclose(ex.paths[order[0], 0], ex.paths[0, -1], atol=1e-9)  # children start at the junction


def test_skeleton_branches_are_topological():
    _, sdf = _bifurcation()
    sk = teasar(sdf < 0, np.full(3, DX), (0, 50, 30))
    assert np.all(sk.parent[1:] < np.arange(1, len(sk.parent)))
    chains, parent = branches(sk)
    assert parent.tolist() == [-1, 0, 0]
    assert chains[1][0] == chains[0][-1] == chains[2][0]
    # the skeleton keeps to the middle: its wall distance is ≥ 85 % of the largest in the segment
    for chain in chains:
        inner = chain[8:-8]
        assert np.all(sk.dbf[inner] >= 0.85 * sk.dbf[inner].max() - DX)


def test_area_radius_of_a_tilted_tube_beats_the_inscribed_radius():
    g = _grid((60, 60, 60))
    a, b = np.array([1e-3, 2e-3, 3e-3]), np.array([16e-3, 15e-3, 14e-3])
    r = 1.2e-3
    occ = _occupancy(_capsule(g, a, b, r, r))
    t = (b - a) / np.linalg.norm(b - a)
    centres = a + np.linspace(0.3, 0.7, 9)[:, None] * (b - a)
    got = area_radius(occ, np.full(3, DX), centres, np.tile(t, (9, 1)), np.full(9, 3 * r))
    np.testing.assert_allclose(got, r, rtol=0.01)


def test_smoothing_keeps_a_straight_line():
    p = np.linspace(0, 1, 20)[:, None] * np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(smooth_polyline(p, 2.0), p, atol=1e-12)


def test_fit_profile_recovers_a_cosine_lesion():
    tree = make_tree([-1], [30e-3], [1.6e-3], [1.4e-3], stenosis_severity=[0.5], stenosis_length=[8e-3],
                     stenosis_position=[0.4])
    f = np.linspace(0, 1, 301)
    r = np.asarray(lumen_radius(tree, f[None, :]))[0]
    fit = fit_profile(f * 30e-3, r, 30e-3)
    # the lesion's shallow shoulders (narrowing < 6 %) stay in the robust reference fit: a 0.3 % bias
    assert fit.r_in == pytest.approx(1.6e-3, rel=5e-3)
    assert fit.r_out == pytest.approx(1.4e-3, rel=5e-3)
    assert fit.severity == pytest.approx(0.5, abs=0.01)
    assert fit.lesion_length == pytest.approx(8e-3, rel=0.03)
    assert fit.position == pytest.approx(0.4, abs=0.01)


def test_symmetric_eigenvalues_match_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 3, 3))
    a = a + a.transpose(0, 2, 1)
    want = np.linalg.eigvalsh(a)
    want = np.take_along_axis(want, np.argsort(np.abs(want), axis=1), axis=1)
    got = symmetric_eigenvalues(a[:, 0, 0], a[:, 1, 1], a[:, 2, 2], a[:, 0, 1], a[:, 0, 2], a[:, 1, 2])
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5 * np.abs(a).max())


def test_frangi_prefers_tubes_to_blobs_and_plates():
    g = _grid((48, 48, 48), 0.5e-3)
    tube = _capsule(g, [2e-3, 6e-3, 6e-3], [22e-3, 6e-3, 6e-3], 1.2e-3, 1.2e-3) < 0
    blob = np.linalg.norm(g - np.array([12e-3, 17e-3, 17e-3]), axis=-1) < 4e-3
    plate = np.abs(g[..., 2] - 19e-3) < 0.6e-3
    img = np.where(tube | blob | plate, 400.0, 0.0).astype(np.float32)
    v = np.asarray(frangi(img, np.full(3, 0.5e-3), scales=(0.75e-3, 1.0e-3)))
    assert v[12, 12, 12] > 0.3
    assert v[24, 34, 34] < 0.05 * v[12, 12, 12]  # blob centre
    assert v[12, 40, 38] < 0.05 * v[12, 12, 12]  # plate


def test_segment_lumen_on_a_blurred_noisy_bifurcation():
    g, sdf = _bifurcation()
    occ = _occupancy(sdf)
    background = np.where(g[..., 2] < 4e-3, 120.0, -100.0)  # myocardium below, fat above
    img = ndimage.gaussian_filter(background * (1 - occ) + 400.0 * occ, 0.6e-3 / 2.355 / DX)
    noise = ndimage.gaussian_filter(np.random.default_rng(1).standard_normal(img.shape), 1.0)
    img = (img + 25.0 * noise / noise.std()).astype(np.float32)
    vol = Volume.from_grid(img, np.full(3, DX))
    seg = segment_lumen(vol, (1, 50, 30))
    assert dice(seg.mask, sdf < 0) > 0.93
    assert seg.lumen == pytest.approx(400.0, abs=25.0)
    ex = tree_from_mask(seg.fraction, vol.affine, seg.seed)
    assert np.asarray(ex.tree.parent).tolist() == [-1, 0, 0]
    r_in = np.sort(np.asarray(ex.tree.r_in))[::-1]
    np.testing.assert_allclose(r_in, [1.8e-3, 1.4e-3, 1.1e-3], rtol=0.05)


def test_segment_lumen_refuses_a_seed_in_the_background():
    img = np.zeros((10, 10, 10), np.float32)
    img[4:6, 4:6, :] = 300.0
    with pytest.raises(ValueError, match="not above the background"):
        segment_lumen(Volume.from_grid(img, np.full(3, 1e-3)), (0, 0, 0))
    with pytest.raises(ValueError, match="expected an index inside"):
        segment_lumen(Volume.from_grid(img, np.full(3, 1e-3)), (0, 0, 10))


def test_metrics_on_known_masks():
    a = np.zeros((20, 20, 20), bool)
    a[5:15, 5:15, 5:15] = True
    b = np.zeros_like(a)
    b[5:15, 5:15, 7:15] = True
    assert dice(a, b) == pytest.approx(2 * 800 / (1000 + 800))
    assert hd95(a, a, np.full(3, 1e-3)) == 0.0
    assert hd95(a, b, np.full(3, 1e-3)) == pytest.approx(2e-3)
    line = np.stack([np.full(10, 10.0), np.full(10, 10.0), np.arange(5, 15.0)], 1) * 1e-3
    cl, tprec, tsens = cldice(b, a, affine_from(np.full(3, 1e-3)), line[2:], line)
    assert tprec == 1.0 and tsens == pytest.approx(0.8) and cl == pytest.approx(2 * 0.8 / 1.8)
