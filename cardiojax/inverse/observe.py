"""Observation operators: which signals, at which locations and times, with which noise.

A model (`cardiojax.inverse.models`) reports signals (e.g. ``"pressure"`` in Pa, ``"flow"`` in m³/s) at named
locations, either steady — one value per location, arrays ``(n_locations,)`` — or over a time grid —
arrays ``(n_times, n_locations)``. An `Observation` picks one signal at one location:

* at given times (s), linearly interpolated on the model's time grid (``reduce="none"``);
* or reduced over the model's whole time grid (``reduce="mean" | "max" | "min"``: a mean flow, a systolic or
  diastolic pressure); one value;
* or, for a steady model, the single value (``times=None``).

Each observed value has a noise standard deviation σ (same units), and the objective sees whitened residuals
(prediction − value)/σ. `compile_observations` checks every observation against what the model has and
refuses, naming the observation, a location or a time the model does not report.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

REDUCTIONS = ("none", "mean", "max", "min")


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """What a model reports (static).

    Attributes:
      signals: signal names (keys of the dict the model returns).
      locations: location names (the last axis of every signal array).
      times: output times, s, increasing (None: a steady model).
    """

    signals: tuple[str, ...]
    locations: tuple[str, ...]
    times: tuple[float, ...] | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class Observation:
    """Measurements of one signal at one location.

    Attributes:
      signal: e.g. ``"pressure"`` (Pa) or ``"flow"`` (m³/s).
      location: a name in the model's `OutputSpec.locations`.
      values: ``(n,)`` measured values (SI).
      sigma: noise standard deviation, a scalar or ``(n,)`` (SI, > 0).
      times: ``(n,)`` measurement times, s, for ``reduce="none"`` on a time-resolved model; None otherwise.
      reduce: ``"none"``, or ``"mean"`` / ``"max"`` / ``"min"`` over the model's time grid (one value).
    """

    signal: str
    location: str
    values: np.ndarray
    sigma: float | np.ndarray
    times: np.ndarray | None = None
    reduce: str = "none"

    def __post_init__(self):
        v = np.atleast_1d(np.asarray(self.values, np.float64))
        where = f"observation of '{self.signal}' at '{self.location}'"
        if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
            raise ValueError(f"{where}: values = {np.asarray(self.values).tolist()!r}; "
                             "expected a non-empty 1-d array of finite numbers")
        s = np.broadcast_to(np.asarray(self.sigma, np.float64), v.shape) if np.ndim(self.sigma) == 0 \
            else np.asarray(self.sigma, np.float64)
        if s.shape != v.shape or not np.all(np.isfinite(s) & (s > 0)):
            raise ValueError(f"{where}: sigma = {np.asarray(self.sigma).tolist()!r}; expected positive finite "
                             f"noise levels, a scalar or one per value ({v.size})")
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"{where}: reduce = {self.reduce!r}; expected one of {REDUCTIONS}")
        if self.reduce != "none" and v.size != 1:
            raise ValueError(f"{where}: reduce = {self.reduce!r} gives one value; got {v.size} values")
        t = None
        if self.times is not None:
            t = np.atleast_1d(np.asarray(self.times, np.float64))
            if t.shape != v.shape or not np.all(np.isfinite(t)):
                raise ValueError(f"{where}: times = {np.asarray(self.times).tolist()!r}; expected finite times, "
                                 f"one per value ({v.size})")
            if self.reduce != "none":
                raise ValueError(f"{where}: times given with reduce = {self.reduce!r}; expected no times")
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "sigma", np.array(s))
        object.__setattr__(self, "times", t)


@dataclasses.dataclass(frozen=True, eq=False)
class ObservationOperator:
    """Observations compiled against a model's `OutputSpec` (host-side index tables).

    ``predict(outputs)`` maps the model's signal dict to the ``(n_data,)`` predicted values, in the order of
    ``data`` and ``sigma``; ``labels`` names each entry (``"pressure@inlet t=0.100 s"``).
    """

    observations: tuple[Observation, ...]
    spec: OutputSpec
    data: np.ndarray
    sigma: np.ndarray
    labels: tuple[str, ...]
    _plan: tuple

    def predict(self, outputs: dict[str, jax.Array]) -> jax.Array:
        """Predicted observations ``(n_data,)`` from the model's outputs (SI)."""
        parts = []
        for signal, loc, kind, lo, hi, w in self._plan:
            if signal not in outputs:
                raise ValueError(f"the model returned signals {sorted(outputs)}; observation needs '{signal}'")
            series = outputs[signal][..., loc]
            if kind == "steady":
                parts.append(series[None])
            elif kind == "interp":
                parts.append(series[lo] * (1.0 - w) + series[hi] * w)
            else:
                parts.append(getattr(jnp, kind)(series)[None])
        return jnp.concatenate(parts)

    def whitened(self, outputs: dict[str, jax.Array]) -> jax.Array:
        """(prediction − data)/σ, ``(n_data,)``."""
        return (self.predict(outputs) - self.data) / self.sigma


def compile_observations(observations, spec: OutputSpec) -> ObservationOperator:
    """Check observations against what a model reports and build the operator.

    Raises ValueError naming the observation for an unknown signal or location, a time outside the model's
    time grid, times on a steady model, or a time-resolved observation without times.
    """
    observations = tuple(observations)
    if not observations:
        raise ValueError("no observations; expected at least one Observation")
    plan, labels = [], []
    grid = None if spec.times is None else np.asarray(spec.times, np.float64)
    if grid is not None and (grid.ndim != 1 or grid.size == 0 or not np.all(np.diff(grid) > 0)):
        raise ValueError(f"the model's output times {grid.tolist()!r}; expected increasing times, s")
    for o in observations:
        where = f"observation of '{o.signal}' at '{o.location}'"
        if o.signal not in spec.signals:
            raise ValueError(f"{where}: the model has no signal '{o.signal}'; expected one of {list(spec.signals)}")
        if o.location not in spec.locations:
            near = [n for n in spec.locations if o.location.lower() in n.lower()][:5]
            raise ValueError(f"{where}: the model has no location '{o.location}'; expected one of "
                             f"{near or list(spec.locations)[:10]}{' …' if len(spec.locations) > 10 else ''}")
        loc = spec.locations.index(o.location)
        if grid is None:
            if o.times is not None or o.reduce != "none" or o.values.size != 1:
                raise ValueError(f"{where}: the model is steady (no time grid); expected one value, no times, "
                                 "reduce='none'")
            plan.append((o.signal, loc, "steady", None, None, None))
            labels.append(f"{o.signal}@{o.location}")
        elif o.reduce != "none":
            plan.append((o.signal, loc, o.reduce, None, None, None))
            labels.append(f"{o.reduce} {o.signal}@{o.location}")
        else:
            if o.times is None:
                raise ValueError(f"{where}: the model reports times {grid[0]:g}–{grid[-1]:g} s; expected "
                                 "measurement times, or reduce='mean'/'max'/'min'")
            tol = 1e-9 * max(1.0, abs(grid[-1]))
            bad = o.times[(o.times < grid[0] - tol) | (o.times > grid[-1] + tol)]
            if bad.size:
                raise ValueError(f"{where}: time {bad[0]:g} s is outside the model's output times "
                                 f"[{grid[0]:g}, {grid[-1]:g}] s")
            t = np.clip(o.times, grid[0], grid[-1])
            if grid.size == 1:
                lo = hi = np.zeros(t.size, int)
                w = np.zeros(t.size)
            else:
                hi = np.clip(np.searchsorted(grid, t, side="right"), 1, grid.size - 1)
                lo = hi - 1
                w = (t - grid[lo]) / (grid[hi] - grid[lo])
            plan.append((o.signal, loc, "interp", jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(w)))
            labels += [f"{o.signal}@{o.location} t={ti:.4g} s" for ti in o.times]
    data = np.concatenate([o.values for o in observations])
    sigma = np.concatenate([o.sigma for o in observations])
    return ObservationOperator(observations, spec, data, sigma, tuple(labels), tuple(plan))
