"""Optimisers on the unconstrained vector z, each a pure function that runs inside one `lax.while_loop`.

* `levenberg_marquardt`: for least squares ½‖r(z)‖². The Jacobian comes from `jax.jacfwd` (one forward
  pass per parameter, batched — cheap for the handful of parameters an inverse problem has, and memory-free
  through long time-stepping scans). Steps solve the damped, column-scaled problem
  ``[J D⁻¹; √λ I] (D δ) ≈ [−r; 0]`` by QR (Marquardt's scaling D = column norms of J, so the result does not
  depend on parameter units); λ follows Nielsen's rule (×max(⅒, 1 − (2ρ − 1)³) on success — Nielsen's
  floor is ⅓, which makes λ recover slowly after early rejections — and ×ν, ν ← 2ν on failure, ρ the ratio of
  actual to predicted decrease). With λ → 0 it is Gauss–Newton.
* `adam`: optax Adam on a scalar loss with `jax.value_and_grad`.
* `lbfgs`: optax L-BFGS with its zoom line search (`optax.value_and_grad_from_state`).

Stopping rules (each optimiser reports which one fired in ``status``, see `STATUS`):
gradient ‖∇½‖r‖²‖∞ ≤ gtol; step ‖δ‖ ≤ xtol·(xtol + ‖z‖); relative decrease of the cost ≤ ftol; the iteration
cap. Every optimiser returns a `FitResult` (a pytree), so ``jax.vmap`` over starting points runs several
starts in one compiled loop (`multistart`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

#: ``FitResult.status`` codes.
STATUS = {0: "running", 1: "gradient tolerance", 2: "step tolerance", 3: "cost tolerance",
          4: "iteration limit", 5: "non-finite value", 6: "damping limit (no step lowers the cost)"}


class FitResult(NamedTuple):
    """Result of one optimiser run (a pytree; batched along a leading axis under `vmap`).

    Attributes:
      z: the final unconstrained parameters.
      cost: the final objective (½‖r‖² for least squares, the loss otherwise).
      grad_norm: ‖∇cost‖∞ at ``z``.
      iterations: iterations taken.
      evaluations: objective evaluations (solver runs), a Jacobian of n parameters counted as n (LM
        evaluates the residual at every trial point and the Jacobian only where a step is taken).
      status: a `STATUS` code.
    """

    z: jax.Array
    cost: jax.Array
    grad_norm: jax.Array
    iterations: jax.Array
    evaluations: jax.Array
    status: jax.Array


def _linearised(residual_fn: Callable) -> Callable:
    """``z -> (r, J)`` from one `jax.jacfwd` pass (the residual is its auxiliary output)."""
    def both(z):
        r = residual_fn(z)
        return r, r

    jac = jax.jacfwd(both, has_aux=True)

    def value_and_jacobian(z):
        j, r = jac(z)
        return r, j

    return value_and_jacobian


def _damped_step(r, jac, lam):
    """δ minimising ‖r + Jδ‖² + λ‖Dδ‖², D = column norms of J (QR of the augmented system)."""
    n = jac.shape[1]
    d = jnp.linalg.norm(jac, axis=0)
    d = jnp.where(d > 0, d, 1.0)
    a = jnp.concatenate([jac / d, jnp.sqrt(lam) * jnp.eye(n, dtype=jac.dtype)])
    b = jnp.concatenate([-r, jnp.zeros(n, r.dtype)])
    q, rr = jnp.linalg.qr(a)
    return jax.scipy.linalg.solve_triangular(rr, q.T @ b) / d


def levenberg_marquardt(residual_fn: Callable, z0: jax.Array, *, max_iterations: int = 100,
                        gtol: float = 1e-10, xtol: float = 1e-10, ftol: float = 1e-12,
                        initial_damping: float = 1e-3) -> FitResult:
    """Minimise ½‖r(z)‖² by Levenberg–Marquardt (see the module docstring).

    Args:
      residual_fn: ``z -> (m,)`` residuals (whitened: divided by the noise σ).
      z0: ``(n,)`` start.
      max_iterations, gtol, xtol, ftol: stopping rules (module docstring).
      initial_damping: λ₀ relative to the scaled problem (1e-3: nearly Gauss–Newton).
    """
    lin = _linearised(residual_fn)
    z0 = jnp.asarray(z0)
    r0, j0 = lin(z0)
    n = z0.shape[0]
    dtype = r0.dtype
    zero = jnp.zeros((), jnp.int32)
    init = (z0, r0, j0, jnp.asarray(initial_damping, dtype), jnp.asarray(2.0, dtype), zero,
            jnp.asarray(n + 1, jnp.int32), zero)

    def cond(s):
        return s[7] == 0

    def body(s):
        z, r, jac, lam, nu, it, nfev, _ = s
        cost = 0.5 * r @ r
        delta = _damped_step(r, jac, lam)
        z_new = z + delta
        r_new = residual_fn(z_new)  # the Jacobian only if the step is taken
        cost_new = 0.5 * r_new @ r_new
        jd = jac @ delta
        predicted = -(r @ jd + 0.5 * jd @ jd)
        rho = (cost - cost_new) / jnp.maximum(predicted, jnp.finfo(dtype).tiny)
        ok = jnp.isfinite(cost_new) & (cost_new <= cost)
        j2 = lax.cond(ok, lambda: lin(z_new)[1], lambda: jac)
        z2, r2 = jnp.where(ok, z_new, z), jnp.where(ok, r_new, r)
        lam2 = jnp.where(ok, lam * jnp.maximum(0.1, 1.0 - (2.0 * rho - 1.0) ** 3), lam * nu)
        nu2 = jnp.where(ok, 2.0, 2.0 * nu)
        grad = jnp.max(jnp.abs(j2.T @ r2))
        small_step = ok & (jnp.linalg.norm(delta) <= xtol * (xtol + jnp.linalg.norm(z)))
        small_gain = ok & (cost - cost_new <= ftol * cost)
        it2 = it + 1
        status = jnp.select(
            [~jnp.isfinite(cost), lam2 > 1e30, grad <= gtol, small_step, small_gain, it2 >= max_iterations],
            [5, 6, 1, 2, 3, 4], 0)
        return z2, r2, j2, lam2, nu2, it2, nfev + 1 + n * ok.astype(jnp.int32), status.astype(jnp.int32)

    first_status = jnp.where(jnp.max(jnp.abs(j0.T @ r0)) <= gtol, 1, 0).astype(jnp.int32)
    z, r, jac, _, _, it, nfev, status = lax.while_loop(cond, body, init[:7] + (first_status,))
    return FitResult(z, 0.5 * r @ r, jnp.max(jnp.abs(jac.T @ r)), it, nfev, status)


def adam(loss_fn: Callable, z0: jax.Array, *, learning_rate: float = 0.05, max_iterations: int = 2000,
         gtol: float = 1e-8, ftol: float = 0.0) -> FitResult:
    """Minimise a scalar ``loss_fn(z)`` with optax Adam (gradients by `jax.value_and_grad`).

    Stops on ‖∇‖∞ ≤ gtol, on a relative change of the loss ≤ ftol between iterations (0: never), or at
    ``max_iterations``.
    """
    opt = optax.adam(learning_rate)
    vg = jax.value_and_grad(loss_fn)
    z0 = jnp.asarray(z0)
    v0, g0 = vg(z0)

    def cond(s):
        return s[-1] == 0

    def body(s):
        z, state, v, g, it, _ = s
        upd, state = opt.update(g, state, z)
        z2 = optax.apply_updates(z, upd)
        v2, g2 = vg(z2)
        it = it + 1
        bad = ~jnp.isfinite(v2)  # keep the last finite point
        status = jnp.select([bad, jnp.max(jnp.abs(g2)) <= gtol,
                             jnp.abs(v - v2) <= ftol * jnp.abs(v), it >= max_iterations], [5, 1, 3, 4], 0)
        z2, v2, g2 = jnp.where(bad, z, z2), jnp.where(bad, v, v2), jnp.where(bad, g, g2)
        return z2, state, v2, g2, it, status.astype(jnp.int32)

    s = (z0, opt.init(z0), v0, g0, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
    z, _, v, g, it, status = lax.while_loop(cond, body, s)
    return FitResult(z, v, jnp.max(jnp.abs(g)), it, it + 1, status)


def lbfgs(loss_fn: Callable, z0: jax.Array, *, max_iterations: int = 200, gtol: float = 1e-8,
          ftol: float = 0.0, memory_size: int = 10) -> FitResult:
    """Minimise a scalar ``loss_fn(z)`` with optax L-BFGS and its zoom line search.

    ``evaluations`` counts the line-search evaluations as well as one per iteration.
    """
    opt = optax.lbfgs(memory_size=memory_size)
    vg = optax.value_and_grad_from_state(loss_fn)
    z0 = jnp.asarray(z0)

    def cond(s):
        return s[-1] == 0

    def body(s):
        z, state, _, it, nfev, _ = s
        v, g = vg(z, state=state)
        upd, state = opt.update(g, state, z, value=v, grad=g, value_fn=loss_fn)
        z2 = optax.apply_updates(z, upd)
        it = it + 1
        ls = optax.tree_utils.tree_get(state, "num_linesearch_steps")
        v_new = optax.tree_utils.tree_get(state, "value")
        g_new = optax.tree_utils.tree_get(state, "grad")
        bad = ~jnp.isfinite(v_new)  # keep the last finite point
        status = jnp.select([bad, jnp.max(jnp.abs(g_new)) <= gtol,
                             jnp.abs(v - v_new) <= ftol * jnp.abs(v), it >= max_iterations], [5, 1, 3, 4], 0)
        z2, v_new = jnp.where(bad, z, z2), jnp.where(bad, v, v_new)
        return z2, state, v_new, it, (nfev + 1 + ls).astype(jnp.int32), status.astype(jnp.int32)

    state = opt.init(z0)
    zero = jnp.zeros((), jnp.int32)
    s = (z0, state, jnp.asarray(jnp.inf, z0.dtype), zero, zero, zero)
    z, state, v, it, nfev, status = lax.while_loop(cond, body, s)
    v, g = jax.value_and_grad(loss_fn)(z)
    return FitResult(z, v, jnp.max(jnp.abs(g)), it, nfev + 1, status)


def multistart(optimiser: Callable, z0s: jax.Array) -> tuple[FitResult, FitResult]:
    """Run ``optimiser(z0)`` from every row of ``z0s`` in one `jax.vmap`; returns (best, all).

    The best run is the finite one with the lowest cost. Under `vmap` the Levenberg–Marquardt Jacobian is
    formed at rejected trial points too (a `lax.cond` becomes a select), which ``evaluations`` does not count.
    """
    runs = jax.vmap(optimiser)(jnp.asarray(z0s))
    cost = jnp.where(jnp.isfinite(runs.cost), runs.cost, jnp.inf)
    best = jnp.argmin(cost)
    return jax.tree_util.tree_map(lambda a: a[best], runs), runs
