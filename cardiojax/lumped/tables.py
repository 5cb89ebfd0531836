"""Periodic time tables for block parameters (svZeroDSolver semantics).

A parameter that varies over the cardiac cycle (an inflow waveform, an
intramyocardial pressure) is a `Table` in the block's parameter dict instead
of a plain array. A table holds, per block, the sample times (s) and values
(SI) of one period; rows of different lengths are padded by repeating the
last sample and carry a weight per sample so that the steady (mean) value
ignores the padding.

Evaluation follows svZeroDSolver's ``Parameter::get`` exactly: the time is
wrapped with ``fmod(t, period)`` where ``period = t_last − t_first``, then
linearly interpolated (or extrapolated from the first two samples before
``t_first``). The steady value is the arithmetic mean of the samples, as in
svZeroDSolver's ``Parameter::to_steady``. Both are differentiable in the
values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Table:
    """Per-block periodic table of one parameter.

    Attributes:
      t: ``(n_blocks, n_samples)`` sample times, s, increasing along each row.
      v: ``(n_blocks, n_samples)`` values in the parameter's SI unit.
      w: ``(n_blocks, n_samples)`` averaging weights (1/n on real samples, 0
        on padding), so ``sum(w·v)`` is the steady value.
    """

    t: jax.Array
    v: jax.Array
    w: jax.Array

    @staticmethod
    def from_rows(rows: Sequence[tuple[Sequence[float], Sequence[float]]], dtype=None) -> Table:
        """A table from ``[(times, values), ...]``, one row per block (host side).

        A row with one sample is a constant; it is stored as two equal samples
        one period apart so that every row interpolates.
        """
        n = max(max(len(v), 2) for _, v in rows)
        t = np.zeros((len(rows), n))
        v = np.zeros((len(rows), n))
        w = np.zeros((len(rows), n))
        for i, (ti, vi) in enumerate(rows):
            ti, vi = np.asarray(ti, np.float64), np.asarray(vi, np.float64)
            if vi.size == 1:
                ti, vi, weights = np.array([0.0, 1.0]), np.repeat(vi, 2), np.array([1.0, 0.0])
            else:
                weights = np.full(vi.size, 1.0 / vi.size)
            k = vi.size if vi.size > 1 else 2
            t[i, :k], v[i, :k], w[i, :k] = ti, vi, weights
            t[i, k:], v[i, k:] = ti[-1], vi[-1]
        dtype = dtype or jnp.result_type(float)
        return Table(jnp.asarray(t, dtype), jnp.asarray(v, dtype), jnp.asarray(w, dtype))

    def mean(self) -> jax.Array:
        """Steady value of every row (arithmetic mean of its samples), ``(n_blocks,)``."""
        return jnp.sum(self.w * self.v, axis=-1)

    def __call__(self, time) -> jax.Array:
        """Values at ``time`` (s, scalar), ``(n_blocks,)``; periodic, linear."""
        return jax.vmap(_interp_row, in_axes=(0, 0, 0, None))(self.t, self.v, self.w, time)


def _interp_row(t, v, w, time):
    """svZeroDSolver's periodic linear interpolation for one padded row."""
    n_real = jnp.sum(w > 0)
    n_real = jnp.where(n_real == 1, 2, n_real)  # constant rows store 2 samples, 1 weighted
    period = t[n_real - 1] - t[0]
    rtime = jnp.fmod(time, period)
    k = jnp.clip(jnp.searchsorted(t, rtime, side="left", method="compare_all"), 1, n_real - 1)
    m = k - 1
    return v[m] + (v[k] - v[m]) / (t[k] - t[m]) * (rtime - t[m])


def is_table(x) -> bool:
    return isinstance(x, Table)


def at_time(params, time):
    """``params`` with every `Table` replaced by its values at ``time`` (s)."""
    return jax.tree_util.tree_map(lambda x: x(time) if is_table(x) else x, params, is_leaf=is_table)


def steady(params):
    """``params`` with every `Table` replaced by its mean (svZeroDSolver's steady values)."""
    return jax.tree_util.tree_map(lambda x: x.mean() if is_table(x) else x, params, is_leaf=is_table)
