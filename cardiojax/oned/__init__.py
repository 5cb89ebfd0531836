"""1D blood flow on vessel networks: area–flow equations, tube laws, junctions, outlets, time stepping.

Build a `NetworkSpec` (by hand, from an openBF/jaxFlowSim YAML file with
`cardiojax.io.read_openbf`, from an svOneDSolver deck with
`cardiojax.io.read_svonedsolver`, or from a `VesselTree` with `tree_spec`),
compile it with `build_model`, and run it with `simulate` (cycles until
periodic) or the pure functions `run_cycle` / `run_cycles` (for `jit`,
`vmap` over a batch of models and `grad`). SI units throughout.
"""

from cardiojax.oned.from_tree import tree_model, tree_spec
from cardiojax.oned.junctions import junction_conditions
from cardiojax.oned.model import (
    BLOCK_OUTLETS,
    OUTLET_KINDS,
    InletSpec,
    JunctionSpec,
    NetworkSpec,
    OneDModel,
    OutletSpec,
    VesselSpec,
    build_model,
    friction_coefficient,
    stenosis_loss,
)
from cardiojax.oned.scheme import LIMITERS, interior_update
from cardiojax.oned.simulate import (
    CFL,
    Cycle,
    Result,
    State,
    Stepping,
    check_cfl,
    choose_substeps,
    cycle_change,
    initial_state,
    run_cycle,
    run_cycles,
    simulate,
    step,
)
from cardiojax.oned.steady import (
    discrete_steady_state,
    lumped_network,
    steady_initial_state,
    steady_state,
)
from cardiojax.oned.tube_laws import BETA, OLUFSEN, TubeLaw, tube_law

__all__ = [
    "discrete_steady_state",
    "BLOCK_OUTLETS", "OUTLET_KINDS", "InletSpec", "JunctionSpec", "NetworkSpec", "OneDModel", "OutletSpec",
    "VesselSpec", "build_model", "friction_coefficient", "junction_conditions",
    "stenosis_loss", "LIMITERS", "interior_update", "CFL", "Cycle", "Result",
    "State", "Stepping", "check_cfl", "choose_substeps", "cycle_change", "initial_state", "run_cycle",
    "run_cycles", "simulate", "step", "lumped_network", "steady_initial_state", "steady_state", "BETA",
    "OLUFSEN", "TubeLaw", "tube_law", "tree_model", "tree_spec",
]
