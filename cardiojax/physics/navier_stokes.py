"""Residuals of the 3D steady incompressible Navier–Stokes equations for any field ``(u, p) = f(x)``.

For a Newtonian fluid of density ρ (kg/m³) and dynamic viscosity μ (Pa·s), a steady velocity field u(x)
(m/s) and pressure p(x) (Pa) driven by a body force f(x) (N/m³) obey

* continuity:  ``r_c = ∇·u = ∂u/∂x + ∂v/∂y + ∂w/∂z``               (1/s)
* momentum:    ``r_m = ρ (u·∇) u + ∇p − μ ∇²u − f``                  (Pa/m = N/m³, 3 components)

where ``((u·∇)u)_i = Σ_j u_j ∂u_i/∂x_j`` and ``(∇²u)_i = Σ_j ∂²u_i/∂x_j²``. A field that solves the equations
gives zero residuals at every point; a PINN is trained by driving their mean square to zero.

Derivatives come from JAX, never by hand: the velocity–pressure Jacobian by `jax.jacfwd` and the velocity
Hessians (whose traces are the Laplacians) by forward-over-forward `jax.jacfwd`, the primal and the first
derivatives shared between the two passes; `jax.vmap` maps this over the points. ``field`` takes *one* point,
so any network applied to a single coordinate vector works, and the residuals hold under `jit`, `vmap` and
`grad` of anything ``field`` closes over (network weights, a pressure gradient, a viscosity).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

#: ``field(x) -> (u, p)``: one point x (3,) m to velocity u (3,) m/s and pressure p () Pa.
Field = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


class NSResidual(NamedTuple):
    """Steady incompressible Navier–Stokes residuals at N points.

    Attributes:
      continuity: (N,) 1/s, ∇·u.
      momentum: (N, 3) Pa/m (= N/m³), ρ(u·∇)u + ∇p − μ∇²u − f.
    """

    continuity: jax.Array
    momentum: jax.Array


def _check_points(xyz) -> jax.Array:
    """``xyz`` as a floating (N, 3) array of finite coordinates (m); ``ValueError`` otherwise."""
    xyz = jnp.asarray(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or xyz.shape[0] == 0:
        raise ValueError(f"xyz has shape {tuple(xyz.shape)}; expected (N, 3) with N >= 1: one row (x, y, z) "
                         "in m per point")
    if not jnp.issubdtype(xyz.dtype, jnp.floating):
        xyz = xyz.astype(jnp.result_type(float))
    if not isinstance(xyz, jax.core.Tracer):
        finite = np.isfinite(np.asarray(xyz)).all(axis=1)
        if not finite.all():
            rows = np.flatnonzero(~finite)
            raise ValueError(f"xyz has {rows.size} row(s) with NaN or infinite coordinates (first at row "
                             f"{int(rows[0])}: {np.asarray(xyz)[rows[0]].tolist()}); expected finite "
                             "coordinates in m")
    return xyz


def _check_positive(name: str, value, unit: str) -> jax.Array:
    """A positive scalar (checked when concrete; under `jit`/`grad` only the shape is checked)."""
    value = jnp.asarray(value)
    if value.ndim != 0:
        raise ValueError(f"{name} has shape {tuple(value.shape)}; expected a scalar in {unit}")
    if not isinstance(value, jax.core.Tracer):
        v = float(value)
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} = {v}; expected a finite value > 0 in {unit}")
    return value


def _split_field_output(out) -> tuple[jax.Array, jax.Array]:
    """``(u, p)`` from one call of ``field``, with u (3,) and p (); ``ValueError`` naming the shapes otherwise."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        what = f"a {type(out).__name__}" + (f" of shape {tuple(out.shape)}" if hasattr(out, "shape") else "")
        raise ValueError(f"field returned {what}; expected a pair (u, p) with u of shape (3,) in m/s and p a "
                         "scalar in Pa")
    u, p = jnp.asarray(out[0]), jnp.asarray(out[1])
    if u.shape != (3,):
        raise ValueError(f"field returned u of shape {tuple(u.shape)}; expected (3,) (velocity in m/s at one "
                         "point xyz of shape (3,))")
    if p.shape not in ((), (1,)):
        raise ValueError(f"field returned p of shape {tuple(p.shape)}; expected a scalar, shape () or (1,) "
                         "(pressure in Pa at one point)")
    return u, p.reshape(())


def _body_force(body_force, xyz: jax.Array) -> jax.Array:
    """The body force (N/m³) at the points as an (N, 3) array (a callable is mapped over the points)."""
    n = xyz.shape[0]
    if callable(body_force):
        f = jax.vmap(body_force)(xyz)
        f = jnp.asarray(f)
        if f.shape != (n, 3):
            raise ValueError(f"body_force returned shape {tuple(f.shape[1:])} per point; expected (3,) "
                             "(force density in N/m³ at one point xyz of shape (3,))")
        return f
    f = jnp.asarray(body_force)
    if f.shape not in ((3,), (n, 3)):
        raise ValueError(f"body_force has shape {tuple(f.shape)}; expected (3,) (uniform) or ({n}, 3) (one row "
                         "per point), in N/m³, or a callable of one point")
    return jnp.broadcast_to(f, (n, 3))


def _point_derivatives(field: Field, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """At one point: values (4,) = (u, p), Jacobian (4, 3) and velocity Hessians (3, 3, 3).

    ``J[i, j] = ∂q_i/∂x_j`` for q = (u, v, w, p); ``H[i, j, k] = ∂²u_i/∂x_j∂x_k``.
    """

    def values(y):
        u, p = _split_field_output(field(y))
        q = jnp.concatenate([u, p[None]])
        return q, q

    def first(y):
        jac, q = jax.jacfwd(values, has_aux=True)(y)
        return jac[:3], (jac, q)

    hess, (jac, q) = jax.jacfwd(first, has_aux=True)(x)
    return q, jac, hess


def ns_residuals(field: Field, xyz, *, rho, mu, body_force=None) -> NSResidual:
    """Steady incompressible Navier–Stokes residuals of ``field`` at the points ``xyz``.

    Continuity ``∇·u`` (1/s) and momentum ``ρ(u·∇)u + ∇p − μ∇²u − f`` (Pa/m), see the module docstring.

    Args:
      field: ``field(x) -> (u, p)`` for ONE point x of shape (3,) in m: velocity u (3,) in m/s and pressure p
        (scalar, shape () or (1,)) in Pa. Must be twice differentiable in x (e.g. tanh or softplus networks;
        ReLU networks have a zero Laplacian almost everywhere). Parameters it closes over can be
        differentiated through.
      xyz: (N, 3) points in m.
      rho: fluid density ρ, kg/m³ (blood ≈ 1060), a positive scalar.
      mu: dynamic viscosity μ, Pa·s (blood ≈ 3.5e-3), a positive scalar.
      body_force: optional force density f in N/m³ (e.g. gravity ρg): a callable of one point (3,) -> (3,),
        an array (3,) (uniform) or (N, 3) (one row per point). ``None`` means no body force.

    Returns:
      `NSResidual` with ``continuity`` (N,) 1/s and ``momentum`` (N, 3) Pa/m.

    Raises:
      ValueError: ``xyz`` not of shape (N, 3) or with non-finite entries; ``rho`` or ``mu`` not a positive
        scalar; ``field`` or ``body_force`` returning the wrong shapes. Value checks (finiteness,
        positivity) run on concrete inputs only; under `jit` or `grad` only shapes are checked.
    """
    xyz = _check_points(xyz)
    rho = _check_positive("rho", rho, "kg/m³")
    mu = _check_positive("mu", mu, "Pa·s")

    q, jac, hess = jax.vmap(lambda x: _point_derivatives(field, x))(xyz)
    u = q[:, :3]
    grad_u = jac[:, :3, :]                                   # (N, 3, 3), [n, i, j] = ∂u_i/∂x_j, 1/s
    grad_p = jac[:, 3, :]                                    # (N, 3), Pa/m
    laplacian = jnp.trace(hess, axis1=-2, axis2=-1)          # (N, 3), 1/(m·s)
    convection = jnp.einsum("nij,nj->ni", grad_u, u)         # (u·∇)u, m/s²

    continuity = jnp.trace(grad_u, axis1=-2, axis2=-1)
    momentum = rho * convection + grad_p - mu * laplacian
    if body_force is not None:
        momentum = momentum - _body_force(body_force, xyz)
    return NSResidual(continuity=continuity, momentum=momentum)
