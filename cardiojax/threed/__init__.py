"""3D lattice Boltzmann (D3Q19) on voxelised vessels: lattice, unit conversion, collision and streaming.

Work in progress (issue 6): the lattice core with BGK/TRT collision, Guo body force and half-way
bounce-back walls, tested on plane Poiseuille flow and mass conservation.
"""

from cardiojax.threed.lattice import CS2, OPP, C, Q, W
from cardiojax.threed.lbm import (
    COLLISIONS,
    Params,
    Scheme,
    at_rest,
    check_params,
    collide,
    equilibrium,
    macroscopic,
    run,
    step,
    stream,
)
from cardiojax.threed.units import MAX_MACH, LatticeUnits

__all__ = [
    "C", "CS2", "OPP", "Q", "W", "COLLISIONS", "Params", "Scheme", "at_rest", "check_params", "collide",
    "equilibrium", "macroscopic", "run", "step", "stream", "MAX_MACH", "LatticeUnits",
]
