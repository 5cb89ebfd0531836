"""VesselTree: construction, padding/batching, traversal under jit and vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.tree import (
    FIELD_UNITS,
    children_sum,
    compact,
    depth,
    is_outlet,
    level_order,
    make_tree,
    pad,
    path_sum,
    stack,
    subtree_sum,
    sweep_down,
    take,
    trim,
    unstack,
    validate,
)
from tests.helpers import np_tree, synthetic_batch, y_tree


def _ancestors(parent, i):
    out = []
    while i >= 0:
        out.append(i)
        i = parent[i]
    return out


def test_make_tree_fills_defaults_and_pads():
    t = y_tree()
    assert t.capacity == 8 and int(t.num_segments) == 5 and t.max_depth == 2
    a = np_tree(t)
    assert a["valid"].tolist() == [True] * 5 + [False] * 3
    assert np.all(a["parent"][5:] == -1)
    assert np.all(a["stenosis_severity"] == 0) and np.all(a["stiffness"][:5] > 0)
    # default layout: children start where the parent ends
    np.testing.assert_allclose(a["start"][3], a["end"][1], atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(a["end"] - a["start"], axis=1)[:5], a["length"][:5])


def test_traversal_matches_brute_force():
    t = take(synthetic_batch(), 3)
    parent = np.asarray(t.parent)
    valid = np.asarray(t.valid)
    values = np.random.default_rng(0).normal(size=t.capacity)
    ps = np.asarray(jax.jit(path_sum)(t, jnp.asarray(values)))
    ss = np.asarray(jax.jit(subtree_sum)(t, jnp.asarray(values)))
    d = np.asarray(depth(t))
    n_children = np.asarray(children_sum(t, jnp.ones(t.capacity)))
    for i in np.flatnonzero(valid):
        anc = _ancestors(parent, i)
        assert ps[i] == pytest.approx(values[anc].sum(), rel=1e-12, abs=1e-12)
        assert d[i] == len(anc) - 1
        desc = [j for j in np.flatnonzero(valid) if i in _ancestors(parent, j)]
        assert ss[i] == pytest.approx(values[desc].sum(), rel=1e-12, abs=1e-12)
        assert n_children[i] == np.sum(valid & (parent == i))
    assert d[valid].max() <= t.max_depth
    assert np.array_equal(np.asarray(is_outlet(t)), valid & (n_children == 0))


def test_level_order_is_breadth_first():
    t = take(synthetic_batch(), 2)
    order = np.asarray(jax.jit(level_order)(t))
    d = np.asarray(depth(t))
    n = int(t.num_segments)
    assert sorted(order[:n].tolist()) == np.flatnonzero(np.asarray(t.valid)).tolist()
    assert np.all(np.diff(d[order[:n]]) >= 0)
    position = np.argsort(order)
    parent = np.asarray(t.parent)
    assert all(position[parent[i]] < position[i] for i in order[1:n])


def test_traversal_accepts_batches():
    b = synthetic_batch()
    d = np.asarray(depth(b))
    assert d.shape == b.parent.shape
    np.testing.assert_array_equal(d[5], np.asarray(depth(take(b, 5))))


def test_sweep_down_propagates_root_value():
    t = y_tree()
    # distance from the root inlet to each segment end
    dist = sweep_down(t, lambda start: start + t.length, lambda x: x, 0.0, jnp.zeros(t.capacity))
    np.testing.assert_allclose(np.asarray(dist)[:5], [0.02, 0.05, 0.045, 0.07, 0.065], rtol=1e-14)


def test_pad_stack_unstack_compact_roundtrip():
    t = y_tree(capacity=5)
    b = stack([t, pad(t, 7)])
    assert b.parent.shape == (2, 7) and b.start.shape == (2, 7, 3)
    back = unstack(b)
    for k in FIELD_UNITS:
        np.testing.assert_array_equal(np.asarray(getattr(back[1], k)), np.asarray(getattr(pad(t, 7), k)))
    # interleave padding, then compact: the same tree comes back
    order = np.array([0, 5, 1, 2, 6, 3, 4])
    new_of_old = np.argsort(order)
    mixed = pad(t, 7).replace(**{
        k: np.asarray(getattr(pad(t, 7), k))[order] for k in FIELD_UNITS if k != "parent"})
    p = np.asarray(pad(t, 7).parent)[order]
    mixed = mixed.replace(parent=np.where(p >= 0, new_of_old[np.maximum(p, 0)], -1).astype(np.int32))
    validate(mixed)
    c = jax.jit(compact)(mixed)
    for k in FIELD_UNITS:
        np.testing.assert_array_equal(np.asarray(getattr(c, k)), np.asarray(getattr(pad(t, 7), k)))
    assert trim(c).parent.shape == (5,)


def test_compact_under_vmap_keeps_topological_order():
    t = pad(y_tree(capacity=5), 7)
    layouts = [np.array([0, 5, 1, 2, 6, 3, 4]), np.array([0, 1, 5, 6, 2, 3, 4])]
    mixed = []
    for order in layouts:
        new_of_old = np.argsort(order)
        m = t.replace(**{k: np.asarray(getattr(t, k))[order] for k in FIELD_UNITS if k != "parent"})
        p = np.asarray(t.parent)[order]
        mixed.append(m.replace(parent=np.where(p >= 0, new_of_old[np.maximum(p, 0)], -1).astype(np.int32)))
    c = jax.vmap(compact)(stack(mixed))
    for i in range(2):
        validate(take(c, i))
        for k in FIELD_UNITS:
            np.testing.assert_array_equal(np.asarray(getattr(c, k))[i], np.asarray(getattr(t, k)))


def test_make_tree_rejects_small_capacity():
    with pytest.raises(ValueError, match="capacity = 2; expected at least the number of segments"):
        make_tree([-1, 0, 0], [0.01] * 3, [1e-3] * 3, capacity=2)
