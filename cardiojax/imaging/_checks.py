"""Input checks shared by the imaging modules: clear errors instead of silent NaNs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def check_image(name: str, image, *, ndim: int | tuple[int, ...] = 2, square: bool = True) -> jax.Array:
    """Return ``image`` as a floating JAX array after checking it.

    Refuses (``ValueError`` naming ``name``, the value and what was expected): a non-floating dtype
    (integers, booleans, complex), an array of the wrong rank, an empty image, non-square spatial axes
    (the last two) when ``square``, and NaN or infinite pixels. The finiteness check runs only on
    concrete values, so the function can also be called inside ``jit`` (where it checks shapes only).
    """
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if not hasattr(image, "dtype") or not hasattr(image, "shape"):
        raise ValueError(f"{name}: expected an array, got {type(image).__name__}")
    dtype = np.dtype(image.dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"{name}: dtype {dtype}; expected a floating-point image in HU (float32 or float64)")
    if image.ndim not in ndims:
        raise ValueError(f"{name}: shape {tuple(image.shape)}; expected {' or '.join(map(str, ndims))} dimensions")
    if image.size == 0 or min(image.shape[-2:]) == 0:
        raise ValueError(f"{name}: empty image of shape {tuple(image.shape)}")
    if square and image.shape[-1] != image.shape[-2]:
        raise ValueError(f"{name}: shape {tuple(image.shape)} is not square; expected equal last two axes")
    image = jnp.asarray(image)
    if not isinstance(image, jax.core.Tracer):
        bad = int(jnp.size(image) - jnp.sum(jnp.isfinite(image)))
        if bad:
            raise ValueError(f"{name}: {bad} NaN or infinite pixel(s); expected finite values")
    return image


def check_fraction(name: str, value: float, *, low: float = 0.0, high: float = 1.0, open_low: bool = True) -> float:
    """A float in (low, high] (or [low, high] when not ``open_low``); ``ValueError`` otherwise."""
    value = float(value)
    ok = (value > low if open_low else value >= low) and value <= high and np.isfinite(value)
    if not ok:
        bracket = "(" if open_low else "["
        raise ValueError(f"{name} = {value}; expected a number in {bracket}{low}, {high}]")
    return value
