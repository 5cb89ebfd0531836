"""Lumped-parameter (0D) hemodynamics: element laws, block networks, steady solvers."""

from cardiojax.lumped.elements import (
    KT,
    poiseuille_resistance,
    segment_coefficients,
    vessel_pressure_drop,
    young_tsai,
)
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
]
