"""Small trees shared by the tests (same shapes → compiled once)."""

from __future__ import annotations

import functools

import jax
import numpy as np

from cardiojax.synth import CoronaryPrior, generate_trees
from cardiojax.tree import make_tree


def y_tree(capacity: int = 8, **kwargs):
    """Root → two children; child 1 → two grandchildren (5 segments)."""
    base = dict(
        parent=[-1, 0, 0, 1, 1],
        length=[0.02, 0.03, 0.025, 0.02, 0.015],
        r_in=[2.0e-3, 1.5e-3, 1.2e-3, 1.0e-3, 0.9e-3],
        r_out=[1.8e-3, 1.4e-3, 1.1e-3, 0.9e-3, 0.8e-3],
        outlet_resistance=[0.0, 0.0, 4e9, 6e9, 8e9],
        outlet_pressure=[0.0, 0.0, 500.0, 0.0, 1000.0],
    )
    base.update(kwargs)
    return make_tree(capacity=capacity, **base)


@functools.lru_cache(maxsize=None)
def synthetic_batch(num: int = 64, seed: int = 0, side: str = "left", capacity: int = 64):
    """A fixed batch of synthetic trees (cached across tests)."""
    return generate_trees(jax.random.key(seed), num, CoronaryPrior(side=side), capacity)


def np_tree(tree):
    """A tree's fields as NumPy arrays (host-side checks)."""
    return {k: np.asarray(v) for k, v in tree.arrays().items()}
