"""The steady tree solver agrees with svZeroDSolver itself on synthetic coronary trees.

Needs the ``peers`` extra (``svzerod``); skipped without it.
"""

import numpy as np
import pytest

from cardiojax.clinical import HyperemiaParams, hyperemic_ffr, with_hyperemic_outlets
from cardiojax.io import tree_to_svzerod
from cardiojax.tree import take
from cardiojax.units import CGS_FLOW, CGS_PRESSURE
from tests.helpers import synthetic_batch

svzerod = pytest.importorskip("svzerod", reason="svZeroDSolver (peers extra) not installed")


@pytest.mark.parametrize("index", [0, 3])
def test_synthetic_tree_agrees_with_svzerodsolver(index):
    params = HyperemiaParams()
    tree = with_hyperemic_outlets(take(synthetic_batch(), index), params)
    ours = hyperemic_ffr(tree, params, apply_recipe=False)
    table = svzerod.simulate(tree_to_svzerod(tree, params.aortic_pressure))
    last = table.groupby("name").last()
    for i in np.flatnonzero(np.asarray(tree.valid)):
        row = last.loc[f"seg{i}"]
        assert row.pressure_out * CGS_PRESSURE == pytest.approx(float(ours.flow.p_out[i]), rel=1e-8)
        assert row.flow_in * CGS_FLOW == pytest.approx(float(ours.flow.flow[i]), rel=1e-8)
