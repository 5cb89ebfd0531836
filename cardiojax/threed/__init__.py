"""3D lattice Boltzmann (D3Q19) on voxelised vessels.

* `lattice`, `units` — the velocity set; physical ↔ lattice units with checks that refuse an unsafe Mach
  number or relaxation time.
* `lbm` — BGK/TRT collision with Guo forcing and Brinkman drag, streaming with half-way, interpolated
  (Bouzidi) and moving-wall bounce-back, velocity inlet and pressure outlets, fused stream-and-collide
  `run` / `run_inlet` (time-varying inlet).
* `geometry` — level sets (tubes, stenosed tapered tubes), solid masks, wall link fractions, Brinkman drag.
* `voxelise` (+ `meshgeom`) — a `VesselTree` or a meshio surface/volume mesh to `Voxels`.
* `profiles` — plug, parabolic and Womersley inlet profiles carrying an exact discrete flow.
* `outputs` — SI fields, centreline and cross-section pressure, ΔP, FFR, VTU (meshio) and PNG slices.
* `case` — a stenosed vessel (or any `Voxels`) in physical units run to a steady state: ΔP, FFR, MLUPS.
* `sparse` — fluid-only storage (19 populations + 19 neighbour indices per fluid voxel).
* `sharding` — slab decomposition along x over a device mesh (`jax.sharding`; `shard_map` halo variant).
"""

from cardiojax.threed import case, outputs, sharding, sparse
from cardiojax.threed.case import SteadyResult, StenosisCase, run_voxels
from cardiojax.threed.geometry import (
    brinkman_drag,
    cylinder,
    lattice_points,
    link_fractions,
    solid_mask,
    stenosed_radius,
    stenosed_tube,
    tube,
)
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
from cardiojax.threed.profiles import (
    flow_harmonics,
    flow_waveform,
    lattice_flow,
    lattice_mean_velocity,
    parabolic,
    plug,
    womersley,
    womersley_number,
    womersley_profiles,
    womersley_shape,
    womersley_si,
)
from cardiojax.threed.units import MAX_MACH, MIN_TAU, LatticeUnits
from cardiojax.threed.voxelise import MAX_VOXELS, MIN_VOXELS_ACROSS, Voxels, voxelise_mesh, voxelise_tree

__all__ = [
    "C", "CS2", "OPP", "Q", "W", "COLLISIONS", "OUTLET_FACES", "Params", "Scheme", "at_rest", "check_params",
    "collide", "equilibrium", "macroscopic", "run", "run_forced", "run_inlet", "step", "stream", "MAX_MACH",
    "MIN_TAU", "LatticeUnits", "brinkman_drag", "cylinder", "lattice_points", "link_fractions", "solid_mask",
    "stenosed_radius", "stenosed_tube", "tube", "flow_harmonics", "flow_waveform", "lattice_flow",
    "lattice_mean_velocity", "parabolic", "plug", "womersley", "womersley_number", "womersley_profiles",
    "womersley_shape", "womersley_si", "MAX_VOXELS", "MIN_VOXELS_ACROSS", "Voxels", "voxelise_mesh",
    "voxelise_tree", "case", "outputs", "sharding", "sparse", "StenosisCase", "SteadyResult", "run_voxels",
]
