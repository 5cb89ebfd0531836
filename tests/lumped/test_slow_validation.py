"""Long validations (deselected by default; run with ``pytest -m slow``)."""

import itertools

import jax
import numpy as np
import pytest

from cardiojax.clinical import HyperemiaParams, hyperemic_ffr_batch
from cardiojax.io import tree_to_svzerod
from cardiojax.lumped import NEWTON_ITERATIONS, solve_steady
from cardiojax.tree import make_tree, stack, take
from cardiojax.units import CGS_PRESSURE, GRAM, MMHG
from tests.helpers import synthetic_batch

pytestmark = pytest.mark.slow


def test_newton_converges_over_a_parameter_sweep():
    """Radius × severity × lesion length × lesions in series × outlet resistance (1,200 cases)."""
    grid = list(itertools.product([1e-3, 2e-3, 3e-3, 4e-3], [0.3, 0.5, 0.7, 0.8, 0.9], [3e-3, 5e-3, 2e-2],
                                  [1, 3, 6], [0.0, 1e6, 1e7, 1e8, 1e9]))
    trees = stack([
        make_tree(list(range(-1, n - 1)), [0.03] * n, [r] * n, stenosis_severity=[s] * n,
                  stenosis_length=[ls] * n, outlet_resistance=[0] * (n - 1) + [ro], capacity=8
                  ).replace(max_depth=7)
        for r, s, ls, n, ro in grid])

    def residuals(iterations):
        return np.asarray(jax.jit(jax.vmap(
            lambda t: solve_steady(t, 93 * MMHG, iterations=iterations).residual))(trees))

    assert residuals(NEWTON_ITERATIONS).max() < 1e-13
    assert residuals(12).max() < 1e-13  # margin: the default runs 16


@pytest.mark.parametrize("side", ["left", "right"])
def test_many_trees_agree_with_svzerodsolver(side):
    svzerod = pytest.importorskip("svzerod", reason="svZeroDSolver (peers extra) not installed")
    params = HyperemiaParams(myocardial_mass=(100 if side == "left" else 50) * GRAM)
    trees = synthetic_batch(64, seed=5, side=side, capacity=64)
    res = hyperemic_ffr_batch(trees, params)
    worst = 0.0
    for i in range(20):
        tree = take(res.tree, i)
        table = svzerod.simulate(tree_to_svzerod(tree, params.aortic_pressure)).groupby("name").last()
        valid = np.flatnonzero(np.asarray(tree.valid))
        theirs = table.loc[[f"seg{j}" for j in valid], "pressure_out"].to_numpy() * CGS_PRESSURE
        worst = max(worst, np.max(np.abs(theirs / np.asarray(res.flow.p_out[i])[valid] - 1)))
    assert worst < 1e-8
