"""Synthetic trees wrapped onto the heart: paths on the surface, consistent lengths, clearance between vessels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial import cKDTree

from cardiojax.synth import CoronaryPrior, generate, min_capacity
from cardiojax.synth.course import (
    HeartShape,
    min_clearance,
    segment_distance,
    surface_residual,
    wrap_on_heart,
)
from cardiojax.tree import lumen_radius, make_tree
from cardiojax.tree.paths import path_arclength, path_length, straight_paths

MM = 1e-3
PRIOR = CoronaryPrior(side="right")
CAP = min_capacity(PRIOR)


@pytest.fixture(scope="module")
def wrapped():
    tree = jax.jit(generate, static_argnums=(1, 2))(jax.random.key(7), PRIOR, CAP)
    return tree, *jax.jit(wrap_on_heart)(tree, jax.random.key(8))


def test_paths_lie_on_the_heart_and_lengths_match(wrapped):
    planar, tree, paths = wrapped
    v = np.asarray(tree.valid)
    assert paths.shape == (CAP, 32, 3)
    assert float(jnp.max(jnp.abs(surface_residual(paths)[v]))) < 1e-9
    np.testing.assert_allclose(np.asarray(tree.length)[v], np.asarray(path_length(paths))[v], rtol=1e-12)
    np.testing.assert_allclose(tree.start[v], paths[v, 0], atol=1e-15)
    np.testing.assert_allclose(tree.end[v], paths[v, -1], atol=1e-15)
    np.testing.assert_allclose(tree.start[0], 0.0, atol=1e-12)  # the ostium is the world origin
    parent = np.asarray(tree.parent)
    kids = v & (parent >= 0)
    np.testing.assert_allclose(paths[kids, 0], paths[parent[kids], -1], atol=1e-12)  # joints stay joined
    np.testing.assert_array_equal(np.asarray(tree.r_in), np.asarray(planar.r_in))  # only geometry changes
    # curved and non-planar: the points of a long segment leave the plane of their first three
    seg = int(np.argmax(np.where(v, np.asarray(tree.length), 0.0)))
    pts = np.asarray(paths[seg]) - np.asarray(paths[seg]).mean(0)
    assert np.linalg.svd(pts, compute_uv=False)[2] > 1e-5
    ratio = np.asarray(tree.length)[v] / np.asarray(planar.length)[v]
    assert np.all((ratio > 0.2) & (ratio < 1.5))


def test_without_key_no_tortuosity_and_vmap_matches(wrapped):
    planar, _, _ = wrapped
    _, paths = wrap_on_heart(planar)
    batch = jax.tree.map(lambda a: jnp.stack([a, a]), planar)
    keys = jax.random.split(jax.random.key(3), 2)
    bt, bp = jax.vmap(lambda t, k: wrap_on_heart(t, k))(batch, keys)
    t1, p1 = wrap_on_heart(planar, keys[1])
    np.testing.assert_allclose(bp[1], p1, atol=1e-12)
    np.testing.assert_allclose(bt.length[1], t1.length, rtol=1e-12)
    assert not np.allclose(bp[0], paths)  # the key adds tortuosity
    # without tortuosity a segment is the image of its planar chord: the map of its midpoint
    mid = wrap_on_heart(planar.replace(end=0.5 * (planar.start + planar.end)), points=2)[1][:, -1]
    np.testing.assert_allclose(paths[planar.valid, 15:17].mean(1), mid[planar.valid], atol=2e-4)


def test_heart_shape_checks():
    with pytest.raises(ValueError, match="semi_axes"):
        HeartShape(semi_axes=(0.05, 0.5, 0.06))
    with pytest.raises(ValueError, match="max_angle"):
        HeartShape(max_angle=4.0)
    with pytest.raises(ValueError, match="points"):
        wrap_on_heart(_hand_tree([20, 10, 0]), points=1)


def _hand_tree(c_end, **kwargs):
    """Root (0→10 mm on x), children A (→ 20 mm) and B (↑ 10 mm at x = 10 mm), C child of A ending at c_end."""
    start = np.array([[0, 0, 0], [10, 0, 0], [10, 0, 0], [20, 0, 0]], float) * MM
    end = np.array([[10, 0, 0], [20, 0, 0], [10, 10, 0], c_end], float) * MM
    length = np.linalg.norm(end - start, axis=1)
    return make_tree([-1, 0, 0, 1], length, [1.0 * MM] * 4, start=start, end=end, capacity=6, **kwargs)


def test_min_clearance_known_geometry():
    apart = _hand_tree([20, 10, 0])  # C parallel to its uncle B, 10 mm away
    assert float(min_clearance(apart, straight_paths(apart, 5))) == pytest.approx(8.0 * MM, rel=1e-9)
    crossing = _hand_tree([5, 5, 0])  # C crosses B at x = 10 mm
    assert float(min_clearance(crossing, straight_paths(crossing, 5))) == pytest.approx(-2.0 * MM, abs=1e-9)
    # a lesion on C narrowing it to 0.5 mm where it crosses B (2/3 of its length, a path vertex with K = 7)
    c_len = float(crossing.length[3])
    lesion = _hand_tree([5, 5, 0], stenosis_severity=[0, 0, 0, 0.5], stenosis_length=[0, 0, 0, 6 * MM],
                        stenosis_position=[0.5, 0.5, 0.5, 2 / 3])  # fmt: skip
    assert c_len > 12 * MM
    assert float(min_clearance(lesion, straight_paths(lesion, 7))) == pytest.approx(-1.5 * MM, abs=1e-9)


def test_min_clearance_matches_dense_sampling(wrapped):
    _, tree, paths = wrapped
    got = float(min_clearance(tree, paths))
    # brute force on points every ~0.3 mm along each path
    v = np.flatnonzero(np.asarray(tree.valid))
    arc = np.asarray(path_arclength(paths))
    m = int(arc[:, -1].max() / 0.3e-3) + 2
    frac = np.linspace(0.0, 1.0, m)
    radius = np.asarray(lumen_radius(tree, jnp.asarray(np.broadcast_to(frac, (CAP, m)))))
    pts = np.concatenate([np.stack([np.interp(frac * arc[i, -1], arc[i], np.asarray(paths[i, :, d])) for d in range(3)], -1)
                          for i in v])  # fmt: skip
    rad, seg = radius[v].reshape(-1), np.repeat(v, m)
    parent = np.asarray(tree.parent)
    pairs = cKDTree(pts).query_pairs(max(got, 0.0) + 2 * rad.max() + 1e-3, output_type="ndarray")
    sa, sb = seg[pairs[:, 0]], seg[pairs[:, 1]]
    adjacent = (sa == sb) | (parent[sa] == sb) | (parent[sb] == sa) | ((parent[sa] == parent[sb]) & (parent[sa] >= 0))
    gap = np.linalg.norm(pts[pairs[:, 0]] - pts[pairs[:, 1]], axis=-1) - rad[pairs[:, 0]] - rad[pairs[:, 1]]
    best = float(np.min(np.where(adjacent, np.inf, gap)))
    assert got <= best + 1e-6  # radii are interpolated linearly between the K path points
    assert got >= best - 0.2e-3  # sampling every 0.3 mm overestimates a gap by at most ~0.15 mm


def test_segment_distance_cases():
    p0, p1 = jnp.array([0.0, 0, 0]), jnp.array([1.0, 0, 0])
    for q0, q1, want in [([0.5, 1, 0], [0.5, 2, 0], 1.0), ([2, 0, 0], [3, 0, 0], 1.0), ([0, 1, 1], [1, 1, 1], 2**0.5),
                         ([0.5, -1, 1], [0.5, 1, 1], 1.0), ([0.3, 0, 0], [0.3, 0, 0], 0.0)]:  # fmt: skip
        d, _, _ = segment_distance(p0, p1, jnp.array(q0, float), jnp.array(q1, float))
        assert float(d) == pytest.approx(want, abs=1e-12)
