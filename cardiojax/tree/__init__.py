"""Vessel trees: the `VesselTree` data model, validation, batching, traversal."""

from cardiojax.tree.geometry import lumen_radius, reference_radius
from cardiojax.tree.layout import default_turns, planar_layout, sibling_rank
from cardiojax.tree.ops import (
    compact,
    fill_padding,
    make_tree,
    olufsen_stiffness,
    pad,
    require_batch,
    require_single,
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
    level_order,
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
    "fill_padding",
    "require_single",
    "require_batch",
    "to_numpy",
    "trim",
    "olufsen_stiffness",
    "children_sum",
    "num_children",
    "is_outlet",
    "is_root",
    "depth",
    "level_order",
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
