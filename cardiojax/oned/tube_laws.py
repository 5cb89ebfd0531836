"""Tube laws: the wall's pressure–area relation and everything the 1D scheme derives from it.

Both laws are written with the same three per-cell parameters, all SI:
``A0`` (m², reference lumen area), ``K`` (Pa, wall stiffness E·h/r0) and
``p_ref`` (Pa, the pressure at which A = A0):

* `BETA` — the elastic law of openBF / jaxFlowSim (Formaggia; Sherwin et al.),
  ``P = p_ref + (4/3)·K·(√(A/A0) − 1)``; openBF's β is ``(4/3)·K`` and its
  ``K`` from Young's modulus E and thickness h0 is ``E·h0/r0``.
* `OLUFSEN` — the law of Olufsen et al. (2000) used by svOneDSolver,
  ``P = p_ref + (4/3)·K·(1 − √(A0/A))`` with
  ``K = Eh/r0 = k1·exp(k2·r0) + k3``.

Both linearise to ``P − p_ref ≈ (2/3)·K·(A/A0 − 1)``, so the same K gives
the same small-amplitude wave speed ``c0 = √(2K/(3ρ))``. Each law gives, in
closed form:

* ``pressure(A)`` and its inverse ``area(P)``;
* ``flux(A) = (1/ρ)∫ A dP`` (m⁴/s²), the pressure part of the momentum flux
  ``Q²/A + flux(A)``;
* ``wave_speed(A) = √(A/ρ · dP/dA)`` (m/s);
* ``riemann(A) = ∫_{A0}^{A} c/a da`` (m/s), so the characteristic variables
  are ``W± = u ± riemann(A)``, and its inverse ``area_from_riemann``.

The laws are stateless objects; the scheme calls them on whole arrays.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class TubeLaw:
    """A tube law (static; its functions act elementwise on arrays).

    Attributes:
      name: ``"beta"`` or ``"olufsen"``.
    """

    name: str

    def pressure(self, area, a0, k, p_ref):
        """P(A), Pa."""
        s = jnp.sqrt(area / a0)
        if self.name == "beta":
            return p_ref + (4.0 / 3.0) * k * (s - 1.0)
        return p_ref + (4.0 / 3.0) * k * (1.0 - 1.0 / s)

    def area(self, pressure, a0, k, p_ref):
        """A(P), m² (inverse of `pressure`)."""
        x = 0.75 * (pressure - p_ref) / k
        if self.name == "beta":
            return a0 * (1.0 + x) ** 2
        return a0 / (1.0 - x) ** 2

    def flux(self, area, a0, k, rho):
        """(1/ρ)∫A dP, m⁴/s² (up to a constant in A)."""
        if self.name == "beta":
            return (4.0 / 9.0) * k * area * jnp.sqrt(area / a0) / rho
        return (4.0 / 3.0) * k * jnp.sqrt(a0 * area) / rho

    def wave_speed(self, area, a0, k, rho):
        """c(A) = √(A/ρ · dP/dA), m/s."""
        s = jnp.sqrt(area / a0)
        if self.name == "beta":
            return jnp.sqrt((2.0 / 3.0) * k * s / rho)
        return jnp.sqrt((2.0 / 3.0) * k / (s * rho))

    def riemann(self, area, a0, k, rho):
        """∫_{A0}^{A} c/a da, m/s: 4(c − c0) for the β-law, −4(c − c0) for Olufsen."""
        c = self.wave_speed(area, a0, k, rho)
        c0 = jnp.sqrt((2.0 / 3.0) * k / rho)
        return 4.0 * (c - c0) if self.name == "beta" else -4.0 * (c - c0)

    def area_from_riemann(self, value, a0, k, rho):
        """The area whose `riemann` is ``value``, m²."""
        c0 = jnp.sqrt((2.0 / 3.0) * k / rho)
        if self.name == "beta":
            return a0 * ((c0 + 0.25 * value) / c0) ** 4
        return a0 * (c0 / (c0 - 0.25 * value)) ** 4


BETA = TubeLaw("beta")
OLUFSEN = TubeLaw("olufsen")
TUBE_LAWS = {"beta": BETA, "olufsen": OLUFSEN}


def tube_law(name: str) -> TubeLaw:
    """The tube law called ``name`` (``"beta"`` or ``"olufsen"``)."""
    if name not in TUBE_LAWS:
        raise ValueError(f"tube_law={name!r} is not known; expected one of {sorted(TUBE_LAWS)}")
    return TUBE_LAWS[name]


def olufsen_k(r0, k1, k2, k3):
    """Olufsen stiffness K = Eh/r0 = k1·exp(k2·r0) + k3 (K, k1, k3 in Pa; r0 in m; k2 in 1/m)."""
    return k1 * jnp.exp(k2 * r0) + k3
