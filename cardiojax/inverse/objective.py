"""Objectives: a solver (a `Model`), a `ParamSpace` and observations → whitened residuals and a loss.

For unconstrained parameters z, physical values θ = g(z) (`cardiojax.inverse.transforms`), model outputs
y = M(θ) and the observation operator H (`cardiojax.inverse.observe`):

    r(z) = [ (H(M(g(z))) − d) / σ ;  prior residuals (z − z₀)/σ_z ],      loss(z) = ½‖r(z)‖²,

the negative log posterior under Gaussian noise (up to a constant). `fit` runs one of the optimisers of
`cardiojax.inverse.optimize` on it, from one start or from several in one `vmap`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.inverse.observe import Observation, ObservationOperator, OutputSpec, compile_observations
from cardiojax.inverse.optimize import STATUS, FitResult, adam, lbfgs, levenberg_marquardt, multistart
from cardiojax.inverse.transforms import ParamSpace

METHODS = ("lm", "adam", "lbfgs")


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
    """A solver seen from an inverse problem.

    Attributes:
      run: ``theta -> {signal: array}``; ``theta`` is a dict of physical parameter values (SI), each
        signal ``(n_locations,)`` for a steady model or ``(n_times, n_locations)``. Must be traceable
        (`jit`, `jax.jvp`, `jax.grad`).
      spec: the signals, locations and times ``run`` reports.
    """

    run: Callable[[dict], dict]
    spec: OutputSpec


@dataclasses.dataclass(frozen=True, eq=False)
class Objective:
    """Whitened least-squares objective (see the module docstring)."""

    model: Model
    space: ParamSpace
    operator: ObservationOperator

    def outputs(self, z: jax.Array) -> dict:
        """Model outputs at unconstrained parameters z."""
        return self.model.run(self.space.to_physical(z))

    def predict(self, z: jax.Array) -> jax.Array:
        """Predicted observations ``(n_data,)`` at z."""
        return self.operator.predict(self.outputs(z))

    def residuals(self, z: jax.Array) -> jax.Array:
        """Whitened data residuals followed by prior residuals."""
        data = self.operator.whitened(self.outputs(z))
        return jnp.concatenate([data, self.space.prior_residuals(z)])

    def loss(self, z: jax.Array) -> jax.Array:
        """½‖r(z)‖²."""
        r = self.residuals(z)
        return 0.5 * r @ r

    def with_data(self, values) -> Objective:
        """The same objective with other observed values (``(n_data,)``, the operator's order)."""
        values = np.asarray(values, np.float64)
        if values.shape != self.operator.data.shape:
            raise ValueError(f"data has shape {values.shape}; expected {self.operator.data.shape}")
        op = dataclasses.replace(self.operator, data=values)
        return dataclasses.replace(self, operator=op)

    def synthetic(self, theta: dict, key: jax.Array | None = None) -> Objective:
        """The same objective with data simulated at physical values ``theta``, plus Gaussian noise of the
        observations' σ when ``key`` is given (noise-free otherwise)."""
        clean = np.asarray(jax.jit(self.predict)(jnp.asarray(self.space.to_unconstrained(theta))))
        if key is None:
            return self.with_data(clean)
        noise = np.asarray(jax.random.normal(key, clean.shape, jnp.float64 if clean.dtype == np.float64
                                             else jnp.float32))
        return self.with_data(clean + self.operator.sigma * noise)


def objective(model: Model, space: ParamSpace, observations: list[Observation]) -> Objective:
    """Build an `Objective`; observations are checked against ``model.spec`` (clear errors)."""
    return Objective(model, space, compile_observations(observations, model.spec))


@dataclasses.dataclass(frozen=True)
class Fit:
    """Outcome of `fit`.

    Attributes:
      theta: fitted physical values (dict, SI).
      z: fitted unconstrained vector.
      result: the best run's `FitResult`.
      runs: all runs (leading axis over starts) when several starts were given, else None.
      method: the optimiser used.
    """

    theta: dict
    z: np.ndarray
    result: FitResult
    runs: FitResult | None
    method: str

    @property
    def message(self) -> str:
        return STATUS[int(self.result.status)]


def _optimiser(obj: Objective, method: str, options: dict) -> Callable:
    if method == "lm":
        return lambda z: levenberg_marquardt(obj.residuals, z, **options)
    if method == "adam":
        return lambda z: adam(obj.loss, z, **options)
    if method == "lbfgs":
        return lambda z: lbfgs(obj.loss, z, **options)
    raise ValueError(f"method = {method!r}; expected one of {METHODS}")


def fit(obj: Objective, start: dict | None = None, *, starts: list[dict] | None = None, method: str = "lm",
        **options) -> Fit:
    """Fit the parameters of ``obj`` from one start (physical values) or several (run in one `vmap`).

    ``options`` go to the optimiser (`levenberg_marquardt`, `adam` or `lbfgs`). Compiled with `jax.jit`.
    """
    if (start is None) == (starts is None):
        raise ValueError("give exactly one of start (a dict of physical values) or starts (a list of them)")
    run = _optimiser(obj, method, options)
    if start is not None:
        z0 = jnp.asarray(obj.space.to_unconstrained(start))
        best = jax.jit(run)(z0)
        runs = None
    else:
        if not starts:
            raise ValueError("starts is empty; expected at least one dict of physical values")
        z0s = jnp.asarray(np.stack([obj.space.to_unconstrained(s) for s in starts]))
        best, runs = jax.jit(lambda zs: multistart(run, zs))(z0s)
    theta = {k: np.asarray(v) for k, v in obj.space.to_physical(best.z).items()}
    return Fit(theta, np.asarray(best.z), best, runs, method)
