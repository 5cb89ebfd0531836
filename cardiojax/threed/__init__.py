"""3D lattice Boltzmann (D3Q19) on voxelised vessels: lattice, unit conversion, collision and streaming.

Work in progress (issue 6): the lattice core with BGK/TRT collision, Guo body force, half-way and
interpolated (Bouzidi) bounce-back walls from a signed distance function, tested on plane and pipe
Poiseuille flow (second order), Womersley flow and mass conservation.
"""

from cardiojax.threed.geometry import cylinder, lattice_points, link_fractions, solid_mask
from cardiojax.threed.lattice import CS2, OPP, C, Q, W
from cardiojax.threed.lbm import (
    COLLISIONS,
    OUTLET_FACES,
    Params,
    Scheme,
    at_rest,
    check_params,
    collide,
    equilibrium,
    macroscopic,
    run,
    run_forced,
    run_inlet,
    step,
    stream,
)
from cardiojax.threed.units import MAX_MACH, LatticeUnits

__all__ = [
    "C", "CS2", "OPP", "Q", "W", "COLLISIONS", "Params", "Scheme", "at_rest", "check_params", "collide",
    "equilibrium", "macroscopic", "run", "run_forced", "run_inlet",
    "OUTLET_FACES", "step", "stream", "MAX_MACH", "LatticeUnits", "cylinder",
    "lattice_points", "link_fractions", "solid_mask",
]
