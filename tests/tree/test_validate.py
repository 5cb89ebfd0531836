"""Bad trees from outside raise ValueError naming segment, field, value and expectation."""

import numpy as np
import pytest

from cardiojax.tree import make_tree, validate
from tests.helpers import y_tree

GOOD = dict(parent=[-1, 0, 0], length=[0.02, 0.01, 0.01], r_in=[2e-3, 1e-3, 1e-3])


def _make(**changes):
    kw = {k: list(v) for k, v in GOOD.items()}
    kw.update(changes)
    return make_tree(**kw)


@pytest.mark.parametrize(
    "changes, pattern",
    [
        (dict(r_in=[2e-3, -1e-3, 1e-3]), r"segment 1: field 'r_in' = -0\.001 m; expected a radius > 0 m"),
        (dict(r_out=[2e-3, 1e-3, 0.0]), r"segment 2: field 'r_out' = 0\.0 m; expected a radius > 0 m"),
        (dict(length=[0.02, 0.0, 0.01]), r"segment 1: field 'length' = 0\.0 m; expected a length > 0 m"),
        (dict(length=[np.nan, 0.01, 0.01]), r"segment 0: field 'length' = nan m; expected a finite value"),
        (dict(r_in=[2e-3, np.inf, 1e-3]), r"segment 1: field 'r_in' = inf m; expected a finite value"),
        (dict(parent=[-1, 2, 0]), r"segment 1: field 'parent' = 2; expected an index < 1"),
        (dict(parent=[-1, 0, 7]), r"segment 2: field 'parent' = 7; expected -1 \(root\) or a segment index in \[0, 3\)"),
        (dict(parent=[-1, 0, -4]), r"segment 2: field 'parent' = -4; expected -1 \(root\)"),
        (dict(parent=[-1, 2, 1]), r"segments 1 -> 2 -> 1 form a cycle in field 'parent'; expected a tree"),
        (dict(parent=[-1, 1, 0]), r"segments 1 -> 1 form a cycle"),
        (dict(parent=[-1, -1, 0]), r"segments \[0, 1\] all have 'parent' = -1; expected exactly one root"),
        (dict(stenosis_severity=[0, 1.2, 0], stenosis_length=[0, 0.005, 0]),
         r"segment 1: field 'stenosis_severity' = 1\.2; expected a diameter stenosis fraction in \[0, 1\)"),
        (dict(stenosis_severity=[0, 0.5, 0], stenosis_length=[0, 0.02, 0]),
         r"segment 1: field 'stenosis_length' = 0\.02 m; expected a lesion length <= the segment length"),
        (dict(stenosis_severity=[0, 0.5, 0], stenosis_length=[0, 0.006, 0], stenosis_position=[0.5, 0.9, 0.5]),
         r"segment 1: field 'stenosis_position' = 0\.9; expected a lesion centre that keeps the whole lesion"),
        (dict(outlet_resistance=[0, 0, -5.0]), r"segment 2: field 'outlet_resistance' = -5\.0 Pa·s/m³"),
    ],
)
def test_bad_input_names_segment_field_value(changes, pattern):
    with pytest.raises(ValueError, match=pattern):
        _make(**changes)


def test_empty_tree():
    with pytest.raises(ValueError, match="the tree is empty: no valid segments; expected at least one segment"):
        make_tree([], [], [])


def test_parent_pointing_to_padding():
    t = y_tree()
    bad = t.replace(parent=np.asarray(t.parent).copy())
    bad.parent[4] = 6
    with pytest.raises(ValueError, match=r"segment 4: field 'parent' = 6; expected the index of a valid segment"):
        validate(bad)


def test_max_depth_must_bound_depth():
    with pytest.raises(ValueError, match="max_depth = 1 but segment 3 has depth 2; expected max_depth >= 2"):
        validate(y_tree().replace(max_depth=1))


def test_batch_is_rejected_with_advice():
    from cardiojax.tree import stack

    with pytest.raises(ValueError, match="validate each tree of a batch separately"):
        validate(stack([y_tree(), y_tree()]))


def test_wrong_shape():
    with pytest.raises(ValueError, match=r"field 'r_in' has shape \(2,\); expected \(3,\)"):
        make_tree([-1, 0, 0], [0.01] * 3, [1e-3] * 2)
