"""Vessel trees: the `VesselTree` data model, validation, batching, traversal."""

from cardiojax.tree.geometry import lumen_radius, reference_radius
from cardiojax.tree.layout import default_turns, planar_layout, sibling_rank
from cardiojax.tree.ops import (
    compact,
    make_tree,
    olufsen_stiffness,
    pad,
    stack,
    take,
    to_numpy,
    trim,
    unstack,
)
from cardiojax.tree.traversal import (
    children_sum,
    depth,
    is_outlet,
    is_root,
    num_children,
    path_sum,
    subtree_sum,
    sweep_down,
    sweep_up,
)
from cardiojax.tree.validate import validate
from cardiojax.tree.vessel_tree import FIELD_UNITS, FLOAT_FIELDS, PAD_VALUES, VesselTree

__all__ = [
    "VesselTree",
    "FIELD_UNITS",
    "FLOAT_FIELDS",
    "PAD_VALUES",
    "make_tree",
    "validate",
    "pad",
    "stack",
    "take",
    "unstack",
    "compact",
    "to_numpy",
    "trim",
    "olufsen_stiffness",
    "children_sum",
    "num_children",
    "is_outlet",
    "is_root",
    "depth",
    "path_sum",
    "subtree_sum",
    "sweep_up",
    "sweep_down",
    "reference_radius",
    "lumen_radius",
    "planar_layout",
    "default_turns",
    "sibling_rank",
]
