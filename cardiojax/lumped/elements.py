"""Constitutive laws of lumped (0D) vessel elements, in SI units.

Every vessel element here has the steady pressure–flow law of svZeroDSolver's
``BloodVessel`` block, ``ΔP(Q) = (R + S·|Q|)·Q`` (R in Pa·s/m³, S in
Pa·s²/m⁶); these functions compute R and S from geometry and blood
properties. The block residuals (`cardiojax.lumped.blocks`) and the tree
solver (`cardiojax.lumped.tree_steady`) both use `vessel_pressure_drop`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.tree.geometry import reference_radius
from cardiojax.tree.ops import fill_padding
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import Blood

#: Young–Tsai / Seeley–Young turbulent loss coefficient.
KT = 1.52


def vessel_pressure_drop(resistance, stenosis_coefficient, flow):
    """ΔP = (R + S·|Q|)·Q, Pa.

    Args:
      resistance: R, Pa·s/m³.  stenosis_coefficient: S, Pa·s²/m⁶.
      flow: Q, m³/s (positive from inlet to outlet).
    """
    return (resistance + stenosis_coefficient * jnp.abs(flow)) * flow


def poiseuille_resistance(length, r_in, r_out, viscosity):
    """Poiseuille resistance of a linearly tapered tube, Pa·s/m³.

    ``R = 8μ/π ∫₀ᴸ r(x)⁻⁴ dx`` with ``r`` linear from ``r_in`` to ``r_out``,
    which integrates exactly to ``8μL(r_in² + r_in·r_out + r_out²) /
    (3π·r_in³·r_out³)`` (``8μL/(π r⁴)`` for a straight tube).

    Args:
      length: m.  r_in, r_out: m.  viscosity: μ, Pa·s.
    """
    return (8.0 * viscosity * length * (r_in**2 + r_in * r_out + r_out**2)
            / (3.0 * jnp.pi * r_in**3 * r_out**3))


def young_tsai(reference_diameter, diameter_stenosis, lesion_length, blood: Blood):
    """Young–Tsai (Seeley–Young) stenosis law as ``(R_v, S)``, SI units.

    ``ΔP = Kv·μ/D0·U + Kt·ρ/2·(A0/A1 − 1)²·U|U|`` with ``U = Q/A0``,
    ``Kt = 1.52`` and ``Kv = 32·(0.83·Ls + 1.64·D1)/D0·(A0/A1)²``, so that
    ``ΔP = R_v·Q + S·Q|Q|`` with ``R_v = Kv·μ/(D0·A0)`` and
    ``S = Kt·ρ/(2·A0²)·(A0/A1 − 1)²``.

    Args:
      reference_diameter: D0, m, lumen diameter of the healthy vessel.
      diameter_stenosis: s ∈ [0, 1); D1 = (1 − s)·D0 and A0/A1 = 1/(1 − s)².
      lesion_length: Ls, m.
      blood: density ρ (kg/m³) and viscosity μ (Pa·s).

    Returns:
      ``(R_v, S)`` in Pa·s/m³ and Pa·s²/m⁶.
    """
    d0 = reference_diameter
    d1 = (1.0 - diameter_stenosis) * d0
    area0 = 0.25 * jnp.pi * d0**2
    ratio = 1.0 / (1.0 - diameter_stenosis) ** 2  # A0 / A1
    kv = 32.0 * (0.83 * lesion_length + 1.64 * d1) / d0 * ratio**2
    r_v = kv * blood.viscosity / (d0 * area0)
    s = KT * blood.density / (2.0 * area0**2) * (ratio - 1.0) ** 2
    return r_v, s


def segment_coefficients(tree: VesselTree, blood: Blood = Blood()) -> tuple[jax.Array, jax.Array]:
    """Per-segment ``(R, S)`` of the steady law ``ΔP = (R + S|Q|)·Q``.

    R is the Poiseuille resistance of the healthy tapered segment plus, where
    ``stenosis_severity > 0``, the viscous Young–Tsai term of the lesion
    (D0 = healthy diameter at the lesion centre); S is the Young–Tsai
    turbulent coefficient (zero without a lesion). Padding slots get the
    finite values of their filler geometry (`cardiojax.tree.fill_padding`).

    Note: the Young–Tsai law does not vanish as the severity goes to 0 (its
    Kv term keeps an entrance loss), so a lesion exists exactly where
    ``stenosis_severity > 0``; the derivative with respect to a severity of
    exactly 0 is 0.

    Returns:
      ``(R, S)``, each ``(..., cap)``, in Pa·s/m³ and Pa·s²/m⁶.
    """
    tree = fill_padding(tree)
    r_pois = poiseuille_resistance(tree.length, tree.r_in, tree.r_out, blood.viscosity)
    lesion = tree.stenosis_severity > 0
    d0 = 2.0 * reference_radius(tree, tree.stenosis_position)
    severity = jnp.where(lesion, tree.stenosis_severity, 0.5)  # keep masked branch finite
    r_v, s = young_tsai(d0, severity, tree.stenosis_length, blood)
    return r_pois + jnp.where(lesion, r_v, 0.0), jnp.where(lesion, s, 0.0)
