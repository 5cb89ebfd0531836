"""SI constants and unit conversions.

cardiojax computes in SI units everywhere (m, m², m³/s, Pa, Pa·s/m³, kg).
Conversions to clinical units (mmHg, mL/s, mL/min) and to the CGS units of
svZeroDSolver files happen only at input/output edges, with the factors here.

Multiply a value in the named unit by the factor to get SI; divide an SI value
by the factor to get the named unit, e.g. ``p_pa = 93 * MMHG``.
"""

from __future__ import annotations

import dataclasses

import jax

# --- length, volume, mass, time -------------------------------------------------
MM = 1e-3  # m per mm
CM = 1e-2  # m per cm
ML = 1e-6  # m³ per mL (= cm³)
GRAM = 1e-3  # kg per g
MINUTE = 60.0  # s per min

# --- pressure ---------------------------------------------------------------
MMHG = 133.322387415  # Pa per mmHg
DYN_PER_CM2 = 0.1  # Pa per dyn/cm² (Barye)

# --- flow -------------------------------------------------------------------
ML_PER_S = ML  # m³/s per mL/s
ML_PER_MIN = ML / MINUTE  # m³/s per mL/min

# --- CGS lumped-parameter units (svZeroDSolver) -----------------------------
CGS_PRESSURE = DYN_PER_CM2  # dyn/cm² -> Pa
CGS_FLOW = ML  # cm³/s -> m³/s
CGS_RESISTANCE = DYN_PER_CM2 / ML  # dyn·s/cm⁵ -> Pa·s/m³ (1e5)
CGS_STENOSIS_COEFFICIENT = DYN_PER_CM2 / ML**2  # dyn·s²/cm⁸ -> Pa·s²/m⁶ (1e11)
CGS_CAPACITANCE = ML / DYN_PER_CM2  # cm⁵/dyn -> m³/Pa (1e-5)
CGS_INDUCTANCE = DYN_PER_CM2 / ML  # dyn·s²/cm⁵ -> Pa·s²/m³ (1e5)
CGS_VOLUME = ML  # cm³ -> m³

# --- blood ------------------------------------------------------------------
BLOOD_DENSITY = 1060.0  # kg/m³
BLOOD_VISCOSITY = 3.5e-3  # Pa·s (3.5 mPa·s; 3.5–4.0 is common)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Blood:
    """Newtonian blood properties (pytree: both fields are differentiable leaves).

    Attributes:
      density: ρ, kg/m³.
      viscosity: dynamic viscosity μ, Pa·s.
    """

    density: float = BLOOD_DENSITY
    viscosity: float = BLOOD_VISCOSITY
