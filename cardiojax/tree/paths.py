"""Curved segment centrelines: an optional geometry next to a `VesselTree` that solvers ignore.

A tree's segments are straight from ``start`` to ``end`` unless it comes with **paths**: a ``(..., cap, K, 3)``
array (m) of K centreline points per segment, from the segment's start (point 0) to its end (point K − 1).
The solvers read only ``length`` and the radius profile; paths are for rendering images, drawing and
centreline comparison, and a tree that has paths should carry ``length`` = the path's arc length
(`path_length`). Positions along a segment are arc-length fractions ∈ [0, 1], as in
`cardiojax.tree.lumen_radius`, so ``lumen_radius(tree, f)`` is the radius at ``point_at(paths, f)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cardiojax.tree.vessel_tree import VesselTree


def straight_paths(tree: VesselTree, points: int = 2) -> jax.Array:
    """``(..., cap, points, 3)`` m: the straight line from ``start`` to ``end`` of each segment."""
    if points < 2:
        raise ValueError(f"points = {points}; expected at least 2 points per segment")
    t = jnp.linspace(0.0, 1.0, points, dtype=tree.start.dtype)[:, None]
    return tree.start[..., None, :] + t * (tree.end - tree.start)[..., None, :]


def path_arclength(paths) -> jax.Array:
    """``(..., cap, K)`` m: arc length from each segment's first point to each of its points."""
    paths = jnp.asarray(paths)
    step = jnp.linalg.norm(jnp.diff(paths, axis=-2), axis=-1)
    return jnp.concatenate([jnp.zeros_like(step[..., :1]), jnp.cumsum(step, axis=-1)], axis=-1)


def path_length(paths) -> jax.Array:
    """``(..., cap)`` m: arc length of each segment's path."""
    return path_arclength(paths)[..., -1]


def point_at(paths, fraction) -> jax.Array:
    """Points (m) at arc-length ``fraction`` ∈ [0, 1] of each path.

    Args:
      paths: ``(..., cap, K, 3)`` m.
      fraction: ``(..., cap, n)`` fractions of each segment's arc length.

    Returns:
      ``(..., cap, n, 3)`` m, linear along the polyline.
    """
    paths = jnp.asarray(paths)
    arc = path_arclength(paths)
    s = jnp.asarray(fraction) * arc[..., -1:]

    def one(p, a, q):  # one segment: p (K, 3), a (K,), q (n,)
        return jnp.stack([jnp.interp(q, a, p[:, d]) for d in range(3)], axis=-1)

    flat = jax.vmap(one)(paths.reshape(-1, *paths.shape[-2:]), arc.reshape(-1, arc.shape[-1]),
                         s.reshape(-1, s.shape[-1]))
    return flat.reshape(*s.shape, 3)


def tangent_at(paths, fraction) -> jax.Array:
    """Unit tangents ``(..., cap, n, 3)`` at arc-length ``fraction`` (central differences of `point_at`)."""
    fraction = jnp.asarray(fraction)
    h = 1e-3
    d = point_at(paths, jnp.clip(fraction + h, 0.0, 1.0)) - point_at(paths, jnp.clip(fraction - h, 0.0, 1.0))
    return d / jnp.maximum(jnp.linalg.norm(d, axis=-1, keepdims=True), 1e-30)
