"""Lumped-parameter (0D) hemodynamics: element laws, block networks, steady and pulsatile solvers."""

from cardiojax.lumped.elements import (
    KT,
    poiseuille_resistance,
    segment_coefficients,
    vessel_pressure_drop,
    young_tsai,
)
from cardiojax.lumped.network import (
    Network,
    NetworkBuilder,
    residual,
    solve_steady_network,
    vessel_results,
)
from cardiojax.lumped.pulsatile import Simulation, Solution, State, simulate, steady_initial_state, step
from cardiojax.lumped.tables import Table
from cardiojax.lumped.tree_network import tree_network
from cardiojax.lumped.tree_steady import NEWTON_ITERATIONS, SteadyFlow, solve_steady

__all__ = [
    "KT",
    "poiseuille_resistance",
    "segment_coefficients",
    "vessel_pressure_drop",
    "young_tsai",
    "NEWTON_ITERATIONS",
    "SteadyFlow",
    "solve_steady",
    "Network",
    "NetworkBuilder",
    "residual",
    "solve_steady_network",
    "vessel_results",
    "Table",
    "Simulation",
    "Solution",
    "State",
    "simulate",
    "step",
    "steady_initial_state",
    "tree_network",
]
