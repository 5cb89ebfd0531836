"""Small dense linear solves unrolled into plain array operations.

The junction and outlet Newton iterations solve systems of a handful of
unknowns at every time step; LAPACK calls carry a large fixed cost per call
on the CPU, so this Gaussian elimination with partial pivoting, unrolled
over the (static) size, is used instead. Differentiable and `vmap`-able.
"""

from __future__ import annotations

import jax.numpy as jnp


def small_solve(a, b):
    """Solve ``a x = b`` for one small system, ``a`` (n, n), ``b`` (n,); n is static."""
    n = b.shape[-1]
    if n == 1:
        return b / a[0, 0][None]
    if n == 2:
        det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
        return jnp.stack([a[1, 1] * b[0] - a[0, 1] * b[1], a[0, 0] * b[1] - a[1, 0] * b[0]]) / det
    m = jnp.concatenate([a, b[:, None]], axis=1)
    rows = jnp.arange(n)
    for k in range(n):
        piv = jnp.argmax(jnp.where(rows >= k, jnp.abs(m[:, k]), -1.0))
        rk, rp = m[k], m[piv]
        m = m.at[piv].set(rk).at[k].set(rp)
        factor = jnp.where(rows > k, m[:, k] / m[k, k], 0.0)
        m = m - factor[:, None] * m[k][None, :]
    x = jnp.zeros(n, b.dtype)
    for k in range(n - 1, -1, -1):
        x = x.at[k].set((m[k, n] - jnp.dot(m[k, :n], x)) / m[k, k])
    return x
