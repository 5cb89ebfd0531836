"""Hyperemic FFR from a pulsatile run against the steady path (same recipe, same clinical functions)."""

import dataclasses

import numpy as np
import pytest

from cardiojax.clinical import HyperemiaParams, aortic_waveform, hyperemic_ffr, pulsatile_ffr
from cardiojax.tree import take
from tests.helpers import synthetic_batch


@pytest.fixture(scope="module")
def tree():
    return take(synthetic_batch(), 0)  # a left tree with several lesions


def _valid(tree, x):
    return np.asarray(x)[np.asarray(tree.valid)]


def test_constant_aortic_pressure_gives_the_steady_ffr(tree):
    p = float(HyperemiaParams().aortic_pressure)
    pulsatile = pulsatile_ffr(tree, waveform=(np.array([0.0, 0.8]), np.array([p, p])), cycles=2)
    steady = hyperemic_ffr(tree)
    np.testing.assert_allclose(_valid(tree, pulsatile.ffr_out), _valid(tree, steady.ffr_out), atol=1e-10)
    np.testing.assert_allclose(_valid(tree, pulsatile.flow), _valid(tree, steady.flow.flow), rtol=1e-9)


def test_lesion_free_tree_cycle_mean_equals_steady(tree):
    """Linear network: the periodic solution's mean is the steady solution of the mean pressure."""
    free = dataclasses.replace(tree, stenosis_severity=tree.stenosis_severity * 0.0)
    pulsatile = pulsatile_ffr(free)
    steady = hyperemic_ffr(free)
    assert pulsatile.simulation.linear
    assert pulsatile.aortic_pressure == pytest.approx(float(HyperemiaParams().aortic_pressure), rel=1e-12)
    np.testing.assert_allclose(_valid(tree, pulsatile.ffr_out), _valid(tree, steady.ffr_out), atol=1e-9)


def test_pulsatile_flow_costs_more_across_lesions(tree):
    """mean(S·|Q|·Q) ≥ S·mean(Q)²: lesions take more mean pressure, so less total flow and lower FFR."""
    pulsatile = pulsatile_ffr(tree)
    steady = hyperemic_ffr(tree)
    root = int(np.flatnonzero(np.asarray(tree.parent) == -1)[0])
    assert pulsatile.flow[root] < float(steady.flow.flow[root])
    diff = _valid(tree, pulsatile.ffr_out) - _valid(tree, steady.ffr_out)
    assert diff.min() < -1e-4  # the effect is there, and small
    assert np.all(np.abs(diff) < 0.02)


def test_waveform_and_bad_input(tree):
    t, p = aortic_waveform(93.0 * 133.322, pulse=40 * 133.322, period=0.8)
    assert np.trapezoid(p, t) / 0.8 == pytest.approx(93.0 * 133.322, rel=1e-12)
    assert p.max() - p.min() == pytest.approx(40 * 133.322, rel=1e-12)
    with pytest.raises(ValueError, match="waveform: expected increasing times"):
        pulsatile_ffr(tree, waveform=(t[::-1], p))
