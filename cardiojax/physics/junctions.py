"""Interface residuals of a PINN at a junction of vessels: mass conservation and (total) pressure continuity.

The conditions are the 1D solver's own (`cardiojax.oned.junction_conditions`, used by its Newton solve): at a
junction of d vessel ends with orientation s_k (+1 where a vessel's outlet meets the junction, −1 at an inlet),

* mass:     ``Σ_k s_k·A_k·u_k = 0``                                  (m³/s)
* pressure: ``p_0 + χρu_0²/2 − (p_k + χρu_k²/2) = 0`` for k ≥ 1       (Pa)

with χ = 1 for total-pressure continuity (Kissas et al., the solver's default) and 0 for static pressure. A vessel
joined end to end to another (a degree-2 junction) gets continuity of flow and pressure from the same formulas.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from cardiojax.oned.junctions import junction_conditions


class JunctionResidual(NamedTuple):
    """``mass`` (m³/s, shape (...,)) and ``pressure`` (Pa, shape (..., d − 1)) residuals."""

    mass: jax.Array
    pressure: jax.Array


def junction_residuals(area, velocity, pressure, sign, *, rho, total: bool = True) -> JunctionResidual:
    """Residuals of the junction conditions for the ends' states.

    Args:
      area, velocity, pressure: arrays (..., d) — m², m/s, Pa — of the d ends at any number of instants (the
        leading axes, e.g. time).
      sign: (d,) orientation of each end: +1 a vessel outlet (flow into the junction), −1 a vessel inlet; the
        first end is the one the others' pressures are compared with.
      rho: blood density, kg/m³.
      total: continuity of total pressure p + ρu²/2 (True) or of static pressure p.
    """
    area, velocity, pressure = (jnp.asarray(v) for v in (area, velocity, pressure))
    sign = jnp.asarray(sign, area.dtype)
    if area.shape != velocity.shape or area.shape != pressure.shape:
        raise ValueError(f"area {area.shape}, velocity {velocity.shape} and pressure {pressure.shape} must have "
                         "one shape (..., d)")
    if area.ndim == 0 or sign.shape != area.shape[-1:] or area.shape[-1] < 2:
        raise ValueError(f"sign has shape {sign.shape} and the states {area.shape}; expected d ≥ 2 ends on the "
                         "last axis and one sign per end")
    if isinstance(rho, (int, float)) and not rho > 0:
        raise ValueError(f"rho = {rho!r}; expected a positive density in kg/m³")
    mass, jump = junction_conditions(area, velocity, pressure, sign, rho, total)
    return JunctionResidual(mass, jump)
