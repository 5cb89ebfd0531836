"""Synthetic coronary trees: priors, templates, batched generation from keys, a 3D course on the heart."""

from cardiojax.synth.course import HeartShape, min_clearance, wrap_on_heart
from cardiojax.synth.generate import (
    generate,
    generate_batch,
    generate_trees,
    min_capacity,
    template_for,
    tree_keys,
)
from cardiojax.synth.priors import CoronaryPrior

__all__ = [
    "HeartShape",
    "wrap_on_heart",
    "min_clearance",
    "CoronaryPrior",
    "generate",
    "generate_batch",
    "generate_trees",
    "min_capacity",
    "template_for",
    "tree_keys",
]
