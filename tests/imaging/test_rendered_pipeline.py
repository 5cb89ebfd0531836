"""The image → tree stages on volumes drawn by the library's own renderer (noise-free): a straight tube and a
bifurcation come back within 2 % (0.3 mm voxels), and a curved 3D tree comes back with its topology."""

from __future__ import annotations

import numpy as np
import pytest

from cardiojax.imaging.centreline_tree import tree_from_mask
from cardiojax.imaging.lumen import render_lumen
from cardiojax.io.volume import affine_from
from cardiojax.tree import make_tree
from cardiojax.tree.paths import path_length, straight_paths

DX = 0.3e-3


def _canonical(parent) -> str:
    """A string that two rooted trees share exactly when they have the same shape (children unordered)."""
    parent = np.asarray(parent)
    kids = {i: [c for c in range(len(parent)) if parent[c] == i] for i in range(len(parent))}

    def canon(i):
        return "(" + "".join(sorted(canon(c) for c in kids[i])) + ")"

    return canon(int(np.flatnonzero(parent < 0)[0]))


def _render(tree, paths, shape, dx=DX, origin=(0.0, 0.0, 0.0)):
    affine = affine_from(np.full(3, dx), origin)
    return np.asarray(render_lumen(tree, paths, shape, affine)), affine


def test_rendered_straight_tube_centreline_and_radius():
    r = 1.5e-3
    tree = make_tree([-1], [36e-3], [r], start=[[-2e-3, 4.5e-3, 4.5e-3]], end=[[34e-3, 4.5e-3, 4.5e-3]])
    occ, affine = _render(tree, straight_paths(tree, 2), (130, 30, 30))
    ex = tree_from_mask(occ, affine, (0, 15, 15))
    t = ex.tree
    assert int(np.sum(np.asarray(t.valid))) == 1
    assert float(t.r_in[0]) == pytest.approx(r, rel=0.02) and float(t.r_out[0]) == pytest.approx(r, rel=0.02)
    assert float(t.length[0]) == pytest.approx(34e-3, rel=0.02)  # from the seed at x = 0 to the tube's end
    pts = ex.profiles[0]["points"]
    assert np.max(np.abs(pts[:, 1:] - 4.5e-3)) < 0.1 * DX  # the centreline is the axis


def test_rendered_bifurcation_centrelines_and_radii():
    j = [20e-3, 15e-3, 9e-3]
    tree = make_tree([-1, 0, 0], [21e-3, 22.36e-3, 21.84e-3], [1.8e-3, 1.4e-3, 1.1e-3], [1.6e-3, 1.2e-3, 1.0e-3],
                     start=[[-1e-3, 15e-3, 9e-3], j, j], end=[j, [40e-3, 5e-3, 9e-3], [38e-3, 27e-3, 12e-3]])
    paths = straight_paths(tree, 2)
    tree = tree.replace(length=path_length(paths))
    occ, affine = _render(tree, paths, (145, 105, 65))
    ex = tree_from_mask(occ, affine, (0, 50, 30))
    t = ex.tree
    assert np.asarray(t.parent).tolist() == [-1, 0, 0]
    order = [0, *(np.argsort(-np.asarray(t.r_in)[1:]) + 1)]
    truth_in = [1.8e-3 - 0.2e-3 / 21, 1.4e-3, 1.1e-3]  # the root measured from the seed plane x = 0
    np.testing.assert_allclose(np.asarray(t.r_in)[order], truth_in, rtol=0.02)
    np.testing.assert_allclose(np.asarray(t.r_out)[order], [1.6e-3, 1.2e-3, 1.0e-3], rtol=0.02)
    np.testing.assert_allclose(np.asarray(t.length)[order], [20e-3, 22.36e-3, 21.84e-3], rtol=0.03)
    assert np.all(np.asarray(t.stenosis_severity) == 0.0)


def _arc(a, b, bulge, k=24):
    """Points of a curved centreline from a to b, bowed by ``bulge`` (m) out of the plane."""
    a, b = np.asarray(a), np.asarray(b)
    t = np.linspace(0.0, 1.0, k)[:, None]
    normal = np.cross(b - a, [0.3, 0.2, 1.0])
    normal /= np.linalg.norm(normal)
    return a + t * (b - a) + bulge * np.sin(np.pi * t) * normal


def test_rendered_curved_tree_keeps_its_topology():
    # root → (A, B); A → (A1, A2); B → (B1, B2): seven curved, non-planar segments
    p = {"r": ([0, 0, 0], [12e-3, 2e-3, 2e-3]), "A": ([12e-3, 2e-3, 2e-3], [24e-3, 12e-3, 6e-3]),
         "B": ([12e-3, 2e-3, 2e-3], [22e-3, -10e-3, 0.5e-3]), "A1": ([24e-3, 12e-3, 6e-3], [36e-3, 16e-3, 12e-3]),
         "A2": ([24e-3, 12e-3, 6e-3], [27e-3, 26e-3, 4e-3]), "B1": ([22e-3, -10e-3, 0.5e-3], [36e-3, -12e-3, 5e-3]),
         "B2": ([22e-3, -10e-3, 0.5e-3], [25e-3, -24e-3, 3e-3])}
    names = ["r", "A", "B", "A1", "A2", "B1", "B2"]
    paths = np.stack([_arc(*p[n], bulge=1.5e-3 * (-1) ** i) for i, n in enumerate(names)])
    radius = [1.6e-3, 1.3e-3, 1.2e-3, 1.0e-3, 0.9e-3, 0.95e-3, 0.9e-3]
    tree = make_tree([-1, 0, 0, 1, 1, 2, 2], np.asarray(path_length(paths)), radius, start=paths[:, 0],
                     end=paths[:, -1])
    origin = (-3e-3, -28e-3, -5e-3)
    occ, affine = _render(tree, paths, (140, 196, 72), dx=0.3e-3, origin=origin)
    seed = np.rint((np.zeros(3) - np.asarray(origin)) / 0.3e-3).astype(int)
    ex = tree_from_mask(occ, affine, tuple(seed))
    n = int(np.sum(np.asarray(ex.tree.valid)))
    assert n == 7
    assert _canonical(np.asarray(ex.tree.parent)[:n]) == _canonical(np.asarray(tree.parent))
    # each extracted segment's end lies within 1 mm of a true segment end
    true_ends = paths[:, -1]
    got_ends = ex.paths[:n, -1]
    d = np.linalg.norm(got_ends[:, None] - true_ends[None], axis=-1).min(axis=1)
    assert np.all(d < 1.5e-3), d
