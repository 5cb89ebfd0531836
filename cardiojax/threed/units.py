"""Physical ↔ lattice units for the lattice-Boltzmann solver, with checks that refuse unsafe settings.

Lattice units take Δx = Δt = 1 and ρ0 = 1. Given the voxel size Δx (m), the
kinematic viscosity ν (m²/s) and the relaxation time τ, the time step is
``Δt = (τ − ½)·c_s²·Δx²/ν`` (c_s² = 1/3); a velocity u (m/s) is
``u·Δt/Δx`` in lattice units and a pressure difference Δp (Pa) is
``Δp/ρ·(Δt/Δx)²`` (the lattice pressure is c_s²·ρ).

Checks (`LatticeUnits.check`): τ must exceed ½ (positive viscosity; below
about 0.51 BGK is unstable, TRT tolerates less), and the largest lattice
velocity must keep the Mach number ``u/c_s`` below 0.1 (compressibility error
∝ Ma²) — each refusal says what to change.
"""

from __future__ import annotations

import dataclasses
import math

from cardiojax.threed.lattice import CS2

#: Largest Mach number accepted.
MAX_MACH = 0.1
#: Smallest relaxation time accepted.
MIN_TAU = 0.505


@dataclasses.dataclass(frozen=True)
class LatticeUnits:
    """Conversion factors: ``dx`` (m), ``dt`` (s), ``rho`` (kg/m³, physical density of lattice ρ = 1),
    ``nu`` (m²/s), ``tau`` (lattice relaxation time of the viscosity)."""

    dx: float
    dt: float
    rho: float
    nu: float
    tau: float

    @staticmethod
    def from_physical(dx: float, nu: float, tau: float, rho: float = 1060.0) -> "LatticeUnits":
        """Units for voxel size ``dx`` (m), kinematic viscosity ``nu`` (m²/s), relaxation time ``tau``."""
        for name, val in (("dx", dx), ("nu", nu), ("rho", rho)):
            if not (math.isfinite(val) and val > 0):
                raise ValueError(f"{name}={val!r}: expected a positive number (SI units)")
        if not tau >= MIN_TAU:
            raise ValueError(f"tau={tau!r}: expected tau >= {MIN_TAU} (tau = 1/2 is zero viscosity and "
                             "unstable); raise tau, which lengthens the time step")
        dt = (tau - 0.5) * CS2 * dx * dx / nu
        return LatticeUnits(dx, dt, rho, nu, tau)

    @property
    def nu_lattice(self) -> float:
        """Kinematic viscosity in lattice units, (τ − ½)/3."""
        return (self.tau - 0.5) * CS2

    def velocity(self, u: float) -> float:
        """A velocity (m/s) in lattice units."""
        return u * self.dt / self.dx

    def velocity_si(self, u_lattice):
        """A lattice velocity in m/s."""
        return u_lattice * self.dx / self.dt

    def pressure_si(self, dp_lattice):
        """A lattice pressure difference (c_s²·Δρ) in Pa."""
        return dp_lattice * self.rho * (self.dx / self.dt) ** 2

    def acceleration(self, g: float) -> float:
        """A body acceleration (m/s²) in lattice units."""
        return g * self.dt * self.dt / self.dx

    def check(self, u_max: float) -> None:
        """Refuse a largest velocity ``u_max`` (m/s) whose Mach number exceeds `MAX_MACH`."""
        mach = self.velocity(u_max) / math.sqrt(CS2)
        if not mach <= MAX_MACH:
            raise ValueError(
                f"Mach number {mach:.3g} at u_max={u_max!r} m/s exceeds {MAX_MACH} (dx={self.dx:.3g} m, "
                f"dt={self.dt:.3g} s, tau={self.tau}); lower tau or refine dx (dt scales as (tau − 1/2)·dx²)")
