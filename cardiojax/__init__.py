"""cardiojax: differentiable, physics-informed cardiovascular simulation and learning in JAX.

The curated public API; submodules (`cardiojax.tree`, `cardiojax.synth`,
`cardiojax.lumped`, `cardiojax.clinical`, `cardiojax.io`, `cardiojax.units`)
hold the rest. Importing cardiojax never changes JAX's global configuration:
enable float64 yourself (``jax.config.update("jax_enable_x64", True)``).
"""

from cardiojax.clinical import (
    FFRResult,
    HyperemiaParams,
    hyperemic_ffr,
    hyperemic_ffr_batch,
    pulsatile_ffr,
)
from cardiojax.io import load_tree, read_svzerod, results_table, save_tree_json, save_tree_vtu
from cardiojax.lumped import Simulation, SteadyFlow, simulate, solve_steady
from cardiojax.synth import CoronaryPrior, generate, generate_batch, generate_trees
from cardiojax.tree import VesselTree, make_tree, stack, validate
from cardiojax.units import Blood

__version__ = "0.1.0"

__all__ = [
    "VesselTree",
    "make_tree",
    "validate",
    "stack",
    "CoronaryPrior",
    "generate",
    "generate_batch",
    "generate_trees",
    "Blood",
    "SteadyFlow",
    "solve_steady",
    "HyperemiaParams",
    "FFRResult",
    "hyperemic_ffr",
    "hyperemic_ffr_batch",
    "load_tree",
    "save_tree_json",
    "save_tree_vtu",
    "read_svzerod",
    "results_table",
    "Simulation",
    "simulate",
    "pulsatile_ffr",
]
