"""Residuals of the 1D blood-flow equations for any field ``(A, u, p) = f(x, t)`` (a network or a formula).

For a vessel with reference area A0(x) (m²), wall stiffness K(x) (Pa) and reference pressure p_ref (Pa), the
area A (m²), mean velocity u (m/s) and pressure p (Pa) obey, in the velocity form of the equations the 1D
solver integrates in conservative form (`cardiojax.oned.scheme`):

* mass:      ``r_A = ∂A/∂t + ∂(A·u)/∂x``                       (m²/s)
* momentum:  ``r_u = ∂u/∂t + u·∂u/∂x + (1/ρ)·∂p/∂x + f·u/A``      (m/s²)
* tube law:  ``r_p = p − P_law(A; A0, K, p_ref)``                   (Pa)

with f = 2(γ+2)πμ/ρ the friction coefficient (m²/s, `cardiojax.oned.friction_coefficient`) and ``P_law`` the
solver's own tube law (`cardiojax.oned.tube_laws`: ``"beta"``, P = p_ref + (4/3)K(√(A/A0) − 1), or
``"olufsen"``). Kissas et al. (2020) write the β-law as p = β(√A − √A0); the same law has K = ¾·β·√A0
(`k_from_beta`). Carrying p as its own field (rather than p = P_law(A)) is what lets a PINN be fitted to
velocity and area alone and still return a pressure whose derivative enters the momentum balance.

With ``linear=True`` the residuals are those of the equations linearised about rest (A = A0, u = 0):
``∂A/∂t + A0·∂u/∂x``, ``∂u/∂t + (1/ρ)·∂p/∂x + f·u/A0`` and ``p − p_ref − (2/3)·K·(A/A0 − 1)``, whose travelling
waves ``A = A0 + a·g(x ∓ c0·t)`` (c0 = √(2K/(3ρ))) are exact solutions when f = 0.

Derivatives come from `jax.jvp` (forward mode, one pass per input direction, the primal shared), so the
residuals hold under `jit`, `vmap` and `grad` of anything ``field`` closes over. ``field`` must be
*pointwise*: its value at point i may depend on ``x[i]`` and ``t[i]`` only (true of any network applied row by
row); then a tangent of ones gives every point's partial derivative at once.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.oned.tube_laws import tube_law

Field = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array, jax.Array]]


class FieldJet(NamedTuple):
    """A field's values and first derivatives at points: each entry a tuple ``(A, u, p)`` of arrays.

    ``value`` in (m², m/s, Pa), ``dx`` per metre, ``dt`` per second.
    """

    value: tuple
    dx: tuple
    dt: tuple


class OneDResidual(NamedTuple):
    """The three residuals at each point: ``mass`` (m²/s), ``momentum`` (m/s²), ``tube_law`` (Pa)."""

    mass: jax.Array
    momentum: jax.Array
    tube_law: jax.Array


def check_points(x, t) -> tuple[jax.Array, jax.Array]:
    """``x`` (m) and ``t`` (s) as arrays of one common shape; ``ValueError`` naming both shapes otherwise."""
    x, t = jnp.asarray(x), jnp.asarray(t)
    if x.shape != t.shape:
        raise ValueError(f"x has shape {x.shape} and t has shape {t.shape}; expected one point per (x, t) pair, "
                         "so equal shapes")
    if x.ndim != 1 or x.shape[0] == 0:
        raise ValueError(f"x and t have shape {x.shape}; expected a non-empty 1D array of points")
    return x, t


def field_jet(field: Field, x, t) -> FieldJet:
    """Values and ∂/∂x, ∂/∂t of a pointwise ``field`` at the points ``(x, t)`` (forward mode, primal shared)."""
    x, t = check_points(x, t)
    one, zero = jnp.ones_like(x), jnp.zeros_like(x)

    def along(tx, tt):
        return jax.jvp(field, (x, t), (tx, tt))

    value, tangents = jax.vmap(along, out_axes=(None, 0))(jnp.stack([one, zero]), jnp.stack([zero, one]))
    dx = tuple(d[0] for d in tangents)
    dt = tuple(d[1] for d in tangents)
    return FieldJet(tuple(value), dx, dt)


def _at(param, x):
    """A wall parameter given as a number, an array over the points or a function of x (m)."""
    return param(x) if callable(param) else jnp.asarray(param)


def k_from_beta(beta, a0):
    """The stiffness K (Pa) of the β-law written as p = β(√A − √A0) (β in Pa/m, A0 in m²): K = ¾·β·√A0."""
    return 0.75 * beta * jnp.sqrt(a0)


def residuals_from_jet(jet: FieldJet, x, *, a0, k, rho, p_ref=0.0, friction=0.0, law: str = "beta",
                       linear: bool = False) -> OneDResidual:
    """The residuals of `oned_residuals` from an already computed `field_jet` (see there)."""
    (a, u, p), (a_x, u_x, p_x), (a_t, u_t, _) = jet
    a0, k, p_ref = _at(a0, x), _at(k, x), _at(p_ref, x)
    if linear:
        mass = a_t + a0 * u_x
        momentum = u_t + p_x / rho + friction * u / a0
        law_res = p - p_ref - (2.0 / 3.0) * k * (a / a0 - 1.0)
    else:
        mass = a_t + a * u_x + u * a_x
        momentum = u_t + u * u_x + p_x / rho + friction * u / a
        law_res = p - tube_law(law).pressure(a, a0, k, p_ref)
    return OneDResidual(mass, momentum, law_res)


def oned_residuals(field: Field, x, t, *, a0, k, rho, p_ref=0.0, friction=0.0, law: str = "beta",
                   linear: bool = False) -> OneDResidual:
    """Mass, momentum and tube-law residuals of ``field`` at the points ``(x[i], t[i])``.

    Args:
      field: pointwise ``(x, t) ↦ (A, u, p)`` on arrays of points (m, s ↦ m², m/s, Pa).
      x, t: 1D arrays of equal length, m and s.
      a0, k: reference area (m²) and stiffness K = Eh/r0 (Pa): numbers, arrays over the points or functions of
        x (a tapered vessel).
      rho: blood density, kg/m³.
      p_ref: pressure at which A = A0, Pa (number, array or function of x).
      friction: f = 2(γ+2)πμ/ρ, m²/s (0: inviscid, as Kissas et al.).
      law: ``"beta"`` or ``"olufsen"``, the solver's tube laws.
      linear: residuals of the equations linearised about rest (see the module docstring).

    Returns:
      `OneDResidual` of arrays shaped like ``x``.
    """
    if isinstance(rho, (int, float)) and not rho > 0:
        raise ValueError(f"rho = {rho!r}; expected a positive density in kg/m³")
    for name, value in (("a0", a0), ("k", k)):
        if not callable(value) and not isinstance(value, jax.core.Tracer) and not np.all(np.asarray(value) > 0):
            raise ValueError(f"{name} has a non-positive or NaN value ({np.min(np.asarray(value))!r}); expected "
                             f"{'areas in m²' if name == 'a0' else 'stiffnesses in Pa'} > 0")
    return residuals_from_jet(field_jet(field, x, t), x, a0=a0, k=k, rho=rho, p_ref=p_ref, friction=friction,
                              law=law, linear=linear)
