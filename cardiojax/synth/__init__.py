"""Synthetic coronary trees: priors, templates, batched generation from keys."""

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
    "CoronaryPrior",
    "generate",
    "generate_batch",
    "generate_trees",
    "min_capacity",
    "template_for",
    "tree_keys",
]
