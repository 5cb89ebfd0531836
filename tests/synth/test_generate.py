"""Synthetic coronary trees: priors respected, Murray's law, determinism, batching."""

import dataclasses

import jax
import numpy as np
import pytest

from cardiojax.synth import CoronaryPrior, generate, generate_batch, generate_trees, min_capacity, tree_keys
from cardiojax.tree import FIELD_UNITS, take, validate
from tests.helpers import np_tree, synthetic_batch

MM = 1e-3


def _children(parent, valid):
    kids = {int(i): [] for i in np.flatnonzero(valid)}
    for i in np.flatnonzero(valid):
        if parent[i] >= 0:
            kids[int(parent[i])].append(int(i))
    return kids


def _chain(start, kids):
    """Segments of the branch starting at ``start`` (continuation = first child)."""
    chain = [start]
    while kids[chain[-1]]:
        chain.append(kids[chain[-1]][0])
    return chain


def _murray_exponent(parent_radius, child_radii):
    """k with Σ (r_c / r_p)^k = 1, by bisection (the sum falls as k grows)."""
    ratios = np.asarray(child_radii) / parent_radius
    lo, hi = 0.5, 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.sum(ratios**mid) > 1 else (lo, mid)
    return 0.5 * (lo + hi)


def _branches(t, side):
    """Main chains and, per main chain, its side chains and their second-generation branches."""
    kids = _children(t["parent"], t["valid"])
    root = int(np.flatnonzero(t["valid"] & (t["parent"] < 0))[0])
    heads = kids[root] if side == "left" else [root]
    mains = []
    for head in heads:
        chain = _chain(head, kids)
        sides = []
        for seg in chain:
            for s in kids[seg][1:]:
                side_chain = _chain(s, kids)
                seconds = [c for seg2 in side_chain for c in kids[seg2][1:]]
                sides.append((side_chain, seconds))
        mains.append((chain, sides))
    return root, kids, mains


@pytest.mark.parametrize("side", ["left", "right"])
def test_trees_respect_the_prior(side):
    prior = CoronaryPrior(side=side)
    batch = synthetic_batch(48, seed=1, side=side)
    ks = []
    for i in range(48):
        tree = take(batch, i)
        validate(tree)
        t = np_tree(tree)
        v = t["valid"]
        root, kids, mains = _branches(t, side)
        assert 1.5 * MM <= t["r_in"][root] <= 3.5 * MM
        assert np.all((t["length"][v] >= 15 * MM) & (t["length"][v] <= 40 * MM))
        # Murray's law at every junction with one exponent per tree; continuity elsewhere
        tree_k = []
        for p, c in kids.items():
            if len(c) >= 2:
                tree_k.append(_murray_exponent(t["r_out"][p], t["r_in"][c]))
            elif len(c) == 1:
                assert t["r_in"][c[0]] == pytest.approx(t["r_out"][p], rel=1e-12)
        assert np.ptp(tree_k) < 1e-8
        assert 2.1 - 1e-9 <= tree_k[0] <= 2.7 + 1e-9
        ks.append(tree_k[0])
        # topology counts
        assert len(mains) == prior.num_main
        for chain, sides in mains:
            assert 2 <= len(sides) <= 5 and len(chain) == len(sides) + 1
            for side_chain, seconds in sides:
                assert 0 <= len(seconds) <= 2 and len(side_chain) == max(2, len(seconds) + 1)
        # taper per anatomical branch, beyond branch-point losses, within -20 % .. +5 %
        branches = [c for c, s in mains] + [sc for _, s in mains for sc, _ in s]
        branches += [[g] for _, s in mains for _, sec in s for g in sec]
        if side == "left":
            branches.append([root])
        for b in branches:
            taper = np.prod(t["r_out"][b] / t["r_in"][b])
            assert 0.8 - 1e-12 <= taper <= 1.05 + 1e-12
        # lesions
        sev = t["stenosis_severity"]
        lesion = v & (sev > 0)
        assert np.all((sev[lesion] >= 0.3) & (sev[lesion] <= 0.9))
        ls = t["stenosis_length"][lesion]
        assert np.all((ls >= 5 * MM - 1e-15) & (ls <= np.minimum(25 * MM, t["length"][lesion]) + 1e-15))
        for chain, sides in mains:
            assert 0 <= lesion[chain].sum() <= 3
            for side_chain, seconds in sides:
                assert 0 <= lesion[side_chain].sum() <= 2
                assert not lesion[seconds].any()
        if side == "left":
            assert not lesion[root]
    assert np.ptp(ks) > 0.2  # the exponent is drawn, not fixed


def test_murray_exponent_configurable_to_three():
    prior = CoronaryPrior(murray_exponent=(3.0, 3.0))
    t = np_tree(generate(jax.random.key(4), prior))
    kids = _children(t["parent"], t["valid"])
    for p, c in kids.items():
        if len(c) >= 2:
            np.testing.assert_allclose(np.sum(t["r_in"][c] ** 3), t["r_out"][p] ** 3, rtol=1e-12)


def test_min_radius_drops_small_branches_and_keeps_murray():
    prior = CoronaryPrior(min_radius=0.5 * MM)
    batch = generate_trees(jax.random.key(3), 16, prior)
    full = generate_trees(jax.random.key(3), 16, CoronaryPrior())
    assert float(batch.num_segments.mean()) < float(full.num_segments.mean())
    for i in range(16):
        t = np_tree(take(batch, i))
        validate(take(batch, i))
        v = t["valid"]
        assert np.all(t["r_out"][v] >= 0.5 * MM)
        kids = _children(t["parent"], v)
        ks = [_murray_exponent(t["r_out"][p], t["r_in"][c]) for p, c in kids.items() if len(c) >= 2]
        assert np.ptp(ks) < 1e-8 and 2.1 - 1e-9 <= ks[0] <= 2.7 + 1e-9


def test_tree_keys_do_not_depend_on_the_batch():
    key = jax.random.key(11)
    whole = generate_trees(key, 6)
    part = generate_batch(tree_keys(key, 4, 2))
    np.testing.assert_array_equal(np.asarray(part.length), np.asarray(whole.length)[4:])


def test_same_key_same_tree_and_batch_equals_loop():
    keys = jax.random.split(jax.random.key(7), 6)
    batch = generate_batch(keys)
    for i in range(6):
        single = generate(keys[i])
        again = generate(keys[i])
        for k in FIELD_UNITS:
            a, b, c = (np.asarray(getattr(x, k)) for x in (take(batch, i), single, again))
            np.testing.assert_array_equal(b, c)
            if a.dtype.kind in "biu":
                np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-18)
    assert not np.array_equal(np.asarray(batch.length[0]), np.asarray(batch.length[1]))


def test_capacity_and_prior_errors():
    assert min_capacity(CoronaryPrior()) == 63
    assert min_capacity(CoronaryPrior(side="right")) == 31
    with pytest.raises(ValueError, match="capacity = 32; expected at least 63"):
        generate(jax.random.key(0), CoronaryPrior(), capacity=32)
    with pytest.raises(ValueError, match=r"CoronaryPrior.side = 'middle'; expected 'left' or 'right'"):
        CoronaryPrior(side="middle")
    with pytest.raises(ValueError, match=r"CoronaryPrior.segment_length = \(0.04, 0.01\); expected low <= high"):
        CoronaryPrior(segment_length=(0.04, 0.01))
    with pytest.raises(ValueError, match=r"CoronaryPrior.stenosis_severity = \(0.3, 1.0\); expected within \[0, 1\)"):
        dataclasses.replace(CoronaryPrior(), stenosis_severity=(0.3, 1.0))
