"""Parameter spaces: named physical parameters ↔ one unconstrained vector ``z``.

Optimisers and the Laplace approximation work on a flat, unconstrained vector ``z``; solvers see the
physical values θ = g(z), which respect positivity and bounds by construction, whatever step an optimiser
takes. Each parameter has a transform:

* ``"identity"``: θ = z (any real value);
* ``"log"``: θ = exp(z) (θ > 0; multiplicative uncertainty — resistances, compliances);
* ``"softplus"``: θ = log(1 + eˢ) (θ > 0, linear for large values);
* ``"sigmoid"``: θ = lo + (hi − lo)·σ(z) (lo < θ < hi; severities, fractions).

A `ParamSpace` is static (hashable): names, transforms, bounds, sizes and optional Gaussian priors in z.
Physical units are whatever the solver takes (SI in cardiojax).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

TRANSFORMS = ("identity", "log", "softplus", "sigmoid")


@dataclasses.dataclass(frozen=True)
class Param:
    """One named parameter (static).

    Attributes:
      name: key in the dict the model receives.
      transform: one of `TRANSFORMS`.
      lower, upper: bounds for ``"sigmoid"`` (required there, unused otherwise). Values never leave
        [lower, upper]; far out in z the sigmoid rounds to a bound itself in floating point, and such a
        value cannot be passed back as a start (`check_value` wants one strictly inside).
      size: number of values (1: a scalar, passed to the model as a 0-d array).
      prior_mean, prior_sd: optional Gaussian prior on the *physical* value, applied in z through the
        transform's inverse at the mean and its slope there (a log-normal prior for ``"log"``); None: flat.
    """

    name: str
    transform: str = "identity"
    lower: float | None = None
    upper: float | None = None
    size: int = 1
    prior_mean: float | None = None
    prior_sd: float | None = None

    def __post_init__(self):
        if self.transform not in TRANSFORMS:
            raise ValueError(f"parameter '{self.name}': transform = {self.transform!r}; "
                             f"expected one of {TRANSFORMS}")
        if self.transform == "sigmoid":
            lo, hi = self.lower, self.upper
            if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"parameter '{self.name}': sigmoid bounds lower = {lo!r}, upper = {hi!r}; "
                                 "expected finite lower < upper")
        if int(self.size) != self.size or self.size < 1:
            raise ValueError(f"parameter '{self.name}': size = {self.size!r}; expected an integer >= 1")
        if (self.prior_mean is None) != (self.prior_sd is None):
            raise ValueError(f"parameter '{self.name}': give both prior_mean and prior_sd, or neither")
        if self.prior_sd is not None and not (self.prior_sd > 0 and math.isfinite(self.prior_sd)):
            raise ValueError(f"parameter '{self.name}': prior_sd = {self.prior_sd!r}; expected a positive number")
        if self.prior_mean is not None:
            self.check_value(np.asarray(self.prior_mean), "prior_mean")

    def check_value(self, value: np.ndarray, what: str = "value") -> None:
        """Raise if a physical value lies outside this parameter's domain."""
        v = np.asarray(value, np.float64)
        ok = np.all(np.isfinite(v))
        if self.transform in ("log", "softplus"):
            ok = ok and np.all(v > 0)
            expected = "finite values > 0"
        elif self.transform == "sigmoid":
            ok = ok and np.all((v > self.lower) & (v < self.upper))
            expected = f"finite values strictly between {self.lower} and {self.upper}"
        else:
            expected = "finite values"
        if not ok:
            raise ValueError(f"parameter '{self.name}': {what} = {v.tolist()!r}; expected {expected}")


def forward(p: Param, z: jax.Array) -> jax.Array:
    """Physical value θ = g(z) of one parameter."""
    if p.transform == "log":
        return jnp.exp(z)
    if p.transform == "softplus":
        return jax.nn.softplus(z)
    if p.transform == "sigmoid":
        return p.lower + (p.upper - p.lower) * jax.nn.sigmoid(z)
    return z


def inverse(p: Param, theta) -> np.ndarray:
    """Unconstrained z = g⁻¹(θ) of one parameter (host side, float64)."""
    t = np.asarray(theta, np.float64)
    p.check_value(t)
    if p.transform == "log":
        return np.log(t)
    if p.transform == "softplus":
        return t + np.log(-np.expm1(-t))
    if p.transform == "sigmoid":
        u = (t - p.lower) / (p.upper - p.lower)
        return np.log(u) - np.log1p(-u)
    return t


@dataclasses.dataclass(frozen=True)
class ParamSpace:
    """An ordered set of `Param` s flattened into one vector z (static, hashable)."""

    params: tuple[Param, ...]

    def __post_init__(self):
        names = [p.name for p in self.params]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"parameter names {names!r}; expected a non-empty list of unique names")

    @classmethod
    def of(cls, *params: Param | Sequence) -> ParamSpace:
        """Build from `Param` s or ``(name, transform[, lower, upper])`` tuples."""
        return cls(tuple(p if isinstance(p, Param) else Param(*p) for p in params))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def size(self) -> int:
        """Length of z."""
        return sum(p.size for p in self.params)

    @property
    def labels(self) -> tuple[str, ...]:
        """One label per entry of z: the name, with ``[i]`` for vector parameters."""
        return tuple(p.name if p.size == 1 else f"{p.name}[{i}]" for p in self.params for i in range(p.size))

    def _slices(self):
        start = 0
        for p in self.params:
            yield p, slice(start, start + p.size)
            start += p.size

    def to_physical(self, z: jax.Array) -> dict[str, jax.Array]:
        """θ = g(z) as a dict of physical values (scalars as 0-d arrays)."""
        z = jnp.asarray(z)
        if z.shape[-1:] != (self.size,):
            raise ValueError(f"z has shape {z.shape}; expected (..., {self.size}) for parameters {self.names}")
        out = {}
        for p, s in self._slices():
            v = forward(p, z[..., s])
            out[p.name] = v[..., 0] if p.size == 1 else v
        return out

    def physical_vector(self, z: jax.Array) -> jax.Array:
        """θ = g(z) as a flat vector in z's order."""
        return jnp.concatenate([forward(p, z[..., s]) for p, s in self._slices()], axis=-1)

    def to_unconstrained(self, theta: Mapping[str, object]) -> np.ndarray:
        """z = g⁻¹(θ) for physical values (a dict); raises if a value is outside its parameter's domain."""
        missing = [n for n in self.names if n not in theta]
        if missing:
            raise ValueError(f"missing parameter values {missing}; expected every one of {self.names}")
        parts = []
        for p in self.params:
            v = np.asarray(theta[p.name], np.float64)
            expected = ((), (1,)) if p.size == 1 else ((p.size,),)
            if v.shape not in expected:
                raise ValueError(f"parameter '{p.name}': value of shape {v.shape}; expected "
                                 f"{'a scalar' if p.size == 1 else f'shape ({p.size},)'}")
            parts.append(inverse(p, v).reshape(p.size))
        return np.concatenate(parts)

    def jacobian_diag(self, z: jax.Array) -> jax.Array:
        """dθ/dz per entry (the transforms act element-wise, so the Jacobian is diagonal)."""
        return jax.jvp(self.physical_vector, (z,), (jnp.ones_like(z),))[1]

    def prior_residuals(self, z: jax.Array) -> jax.Array:
        """Whitened prior residuals (z − z_prior)/sd_z for parameters with a prior (empty otherwise).

        sd_z is the physical sd divided by the transform's slope at the prior mean, so a Gaussian prior on
        θ becomes a Gaussian in z (log-normal in θ for ``"log"``).
        """
        parts = []
        for p, s in self._slices():
            if p.prior_mean is None:
                continue
            z0 = jnp.asarray(inverse(p, np.broadcast_to(p.prior_mean, (p.size,))))
            slope = jax.vmap(jax.grad(lambda zz: forward(p, zz)))(z0)
            parts.append((z[s] - z0) * jnp.abs(slope) / p.prior_sd)
        return jnp.concatenate(parts) if parts else jnp.zeros((0,), z.dtype)
