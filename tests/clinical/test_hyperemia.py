"""Hyperemic boundary-condition recipe and FFR."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cardiojax.clinical import (
    HyperemiaParams,
    hyperemic_ffr,
    hyperemic_ffr_batch,
    min_ffr,
    outlet_flow_shares,
    resting_flow,
    resting_outlet_resistance,
    with_hyperemic_outlets,
)
from cardiojax.tree import is_outlet, make_tree, take
from cardiojax.units import GRAM, ML_PER_MIN, MMHG
from tests.helpers import synthetic_batch, y_tree


def test_recipe_splits_resting_flow_by_diameter_power():
    t = y_tree()
    params = HyperemiaParams(myocardial_mass=80 * GRAM)
    assert float(resting_flow(params)) == pytest.approx(80 * ML_PER_MIN, rel=1e-14)
    share = np.asarray(outlet_flow_shares(t, params.flow_split_exponent))
    d = 2 * np.asarray(t.r_out)[2:5]
    np.testing.assert_allclose(share[2:5], d**2.55 / np.sum(d**2.55), rtol=1e-14)
    assert share[:2].sum() == 0 and share[5:].sum() == 0
    r_rest = np.asarray(resting_outlet_resistance(t, params))
    np.testing.assert_allclose(r_rest[2:5], params.aortic_pressure / (resting_flow(params) * share[2:5]))
    hyper = with_hyperemic_outlets(t, params)
    np.testing.assert_allclose(np.asarray(hyper.outlet_resistance)[2:5], 0.24 * r_rest[2:5], rtol=1e-14)


def test_wide_vessels_carry_the_hyperemic_flow_at_ffr_one():
    """Epicardial resistance → 0: flow = 1/0.24 × resting flow and FFR → 1."""
    t = make_tree([-1, 0, 0], [0.01] * 3, [0.02, 0.015, 0.015])  # 2-3 cm radius: negligible R
    params = HyperemiaParams()
    res = hyperemic_ffr(t, params)
    assert float(res.flow.flow[0]) == pytest.approx(resting_flow(params) / 0.24, rel=1e-6)
    assert float(jnp.min(res.ffr_out[:3])) == pytest.approx(1.0, abs=1e-6)


def test_ffr_falls_with_lesion_severity():
    base = take(synthetic_batch(), 0)
    lesion = int(np.flatnonzero(np.asarray(base.stenosis_severity) > 0)[0])

    def ffr_at(s):
        t = base.replace(stenosis_severity=base.stenosis_severity.at[lesion].set(s))
        return hyperemic_ffr(t).ffr_out[lesion]

    values = jax.jit(jax.vmap(ffr_at))(jnp.array([0.3, 0.5, 0.7, 0.9]))
    assert np.all(np.diff(np.asarray(values)) < 0)


def test_right_trees_through_the_pipeline():
    trees = synthetic_batch(16, seed=2, side="right", capacity=32)
    res = hyperemic_ffr_batch(trees, HyperemiaParams(myocardial_mass=50 * GRAM))
    valid = np.asarray(trees.valid)
    assert float(res.flow.residual.max()) < 1e-13
    assert np.all((np.asarray(res.ffr_out)[valid] > 0) & (np.asarray(res.ffr_out)[valid] <= 1))


def test_batch_pipeline_and_min_ffr():
    trees = synthetic_batch()
    res = hyperemic_ffr_batch(trees, HyperemiaParams())
    assert res.ffr_out.shape == trees.parent.shape
    valid = np.asarray(trees.valid)
    ffr = np.asarray(res.ffr_out)
    assert np.all(np.isfinite(ffr[valid])) and np.all((ffr[valid] > 0) & (ffr[valid] <= 1))
    np.testing.assert_array_equal(np.asarray(res.outlet), np.asarray(is_outlet(res.tree)))
    m = np.asarray(min_ffr(res.tree, res.ffr_out))
    np.testing.assert_allclose(m, np.where(valid, ffr, np.inf).min(axis=1))
    np.testing.assert_allclose(np.asarray(res.ffr_in[:, 0]), 1.0, rtol=1e-14)
    assert float(res.flow.p_in[0, 0]) == pytest.approx(93 * MMHG)
