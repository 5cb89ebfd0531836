"""A 1D PINN on a network of vessels: one tanh network per vessel, data + residual + interface losses.

Set-up (Kissas et al. 2020, CMAME 358:112623): every vessel v has a network ``(x, t) ↦ (A, u, p)`` on its own
segment ``[x_lo, x_hi]`` of a common axial coordinate (m); the loss is a weighted sum of

* data:      ``Σ_v mean_i ((A − A_m)/σ_A,v)²`` and ``Σ_v mean_i ((u − u_m)/σ_u,v)²`` over the measurements;
* residual:  the mass, momentum and tube-law residuals of `cardiojax.physics.oned` at random points;
* interface: the junction residuals of `cardiojax.physics.junctions` at the junction ends;
* outlet (optional): ``p − p_venous − R·A·u`` at resistance outlets (`OutletResistance`), divided by P.

**Non-dimensionalisation.** Inputs are ``ξ = (x − x_mid,v)/S`` (x_mid,v the vessel's midpoint, S half the longest
vessel: one length unit for all vessels, the longest spans [−1, 1]) and ``τ = 2(t − t_lo)/(t_hi − t_lo) − 1``. The
three outputs o give ``A = A0(x)·exp(s_v·o₀)`` (A0(x) the vessel's reference area, tapered; s_v = σ_A,v/A0_v the
relative spread of its measured areas, so that o₀ = O(1) spans the measured range; A stays positive), ``u = U·o₁``
and ``p = p_offset + P·o₂``. The scales come from the data unless given: U = the largest measured |u| (m/s), P = the
largest tube-law pressure change of a measured area (Pa), p_offset = the mean external pressure. Data errors are
divided by the spread of each vessel's measurements (σ_A,v: the mean standard deviation of its measured area
waveforms — measurements at one position over time — σ_u,v of its velocity waveforms; a vessel without waveforms,
measured only at rest, uses the largest relative area spread and the largest velocity spread of the others), so the
data terms weigh the measured waveforms, whatever their units. The mass and momentum residuals of vessel v are
divided by σ_A,v·ω and σ_u,v·ω, the size of ∂A/∂t and ∂u/∂t of its measured signals, with ω the measured signals'
characteristic rate (`signal_rate`); the tube-law residual by P, the junction mass by A0·U and the pressure jump by
P.
With ``hard_tube_law`` the pressure is the tube law of the predicted area, p = p_ext + β(√A − √A0) (the third
output is unused and the tube-law residual vanishes).

Inverse use: the wall stiffness of each vessel and the resistance of each resistance outlet can be trainable
variables (``fit_stiffness``: β = β_prior·e^θ_v; ``fit_resistance``: R = R_prior·e^φ_o), trained with the networks.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from cardiojax.physics.junctions import junction_residuals
from cardiojax.physics.oned import FieldJet, k_from_beta, residuals_from_jet

# ----------------------------------------------------------------------------------------------
# the stacked networks
# ----------------------------------------------------------------------------------------------


class StackedMLP(nnx.Module):
    """``n_nets`` tanh MLPs of one shape, evaluated together: input (V, N, n_in) → output (V, N, n_out).

    Weights are Xavier-normal (σ = √(2/(n_in + n_out))), biases zero, as the reference implementation.
    """

    def __init__(self, n_nets: int, sizes: tuple[int, ...], *, rngs: nnx.Rngs, dtype=jnp.float32):
        if n_nets < 1 or len(sizes) < 3 or min(sizes) < 1:
            raise ValueError(f"n_nets = {n_nets}, sizes = {sizes}; expected ≥ 1 network and positive sizes "
                             "(input, ≥ 1 hidden layer, output)")
        self.sizes = tuple(int(s) for s in sizes)
        weights, biases = [], []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            std = np.sqrt(2.0 / (n_in + n_out))
            w = std * jax.random.truncated_normal(rngs.params(), -2.0, 2.0, (n_nets, n_in, n_out), dtype)
            weights.append(nnx.Param(w))
            biases.append(nnx.Param(jnp.zeros((n_nets, 1, n_out), dtype)))
        self.weights = nnx.List(weights)
        self.biases = nnx.List(biases)

    def __call__(self, z):
        h = z
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = jnp.einsum("vni,vio->vno", h, w[...]) + b[...]
            if i < last:
                h = jnp.tanh(h)
        return h

    def jet(self, z, tangents=None):
        """Output and its directional derivatives: ``(y, [dy·t_j for each tangent])``, each (V, N, n_out).

        ``tangents``: input tangents, each (V, N, n_in) (default: the unit vector of every input dimension, i.e.
        the partial derivatives). Forward mode written out: the tangents ride along the primal rows of one matrix
        product per layer (faster here than `jax.jvp`, whose batched tangents XLA compiles to separate
        products); equal to `jax.jvp` to round-off (tested).
        """
        n = z.shape[1]
        w0, b0 = self.weights[0][...], self.biases[0][...]
        h = jnp.tanh(jnp.einsum("vni,vio->vno", z, w0) + b0)
        slope = 1.0 - h * h
        if tangents is None:
            first = [w0[:, j][:, None, :] for j in range(z.shape[2])]
        else:
            first = [jnp.einsum("vni,vio->vno", dz, w0) for dz in tangents]
        k = len(first)
        rows = jnp.concatenate([h] + [slope * d for d in first], axis=1)
        for w, b in zip(self.weights[1:-1], self.biases[1:-1]):
            zz = jnp.einsum("vni,vio->vno", rows, w[...])
            h = jnp.tanh(zz[:, :n] + b[...])
            slope = 1.0 - h * h
            rows = jnp.concatenate([h] + [slope * zz[:, n * (j + 1):n * (j + 2)] for j in range(k)], axis=1)
        zz = jnp.einsum("vni,vio->vno", rows, self.weights[-1][...])
        return zz[:, :n] + self.biases[-1][...], [zz[:, n * (j + 1):n * (j + 2)] for j in range(k)]


# ----------------------------------------------------------------------------------------------
# the problem: vessels, junctions, measurements
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class PINNVessel:
    """One vessel of a PINN problem (SI units).

    Attributes:
      name: label.
      x_lo, x_hi: the vessel's segment of the axial coordinate, m.
      a0: reference area at x_lo and x_hi (m², linear in between); a number for a uniform vessel.
      beta: stiffness of the law p = p_ext + β(√A − √A0) at x_lo and x_hi (Pa/m, linear in between).
      p_ext: the pressure at A = A0, Pa.
    """

    name: str
    x_lo: float
    x_hi: float
    a0: float | tuple[float, float]
    beta: float | tuple[float, float]
    p_ext: float = 0.0


@dataclasses.dataclass
class Measurement:
    """Measured area and velocity of one vessel at points ``(x[i], t[i])`` (m, s, m², m/s)."""

    vessel: int
    x: np.ndarray
    t: np.ndarray
    area: np.ndarray
    velocity: np.ndarray


@dataclasses.dataclass
class OutletResistance:
    """A resistance outlet at the end (x_hi) of ``vessel``: ``p − p_venous = R·Q`` with Q = A·u (Pa, Pa·s/m³).

    ``resistance`` is the value used, or the prior of a fitted one (``PINNConfig(fit_resistance=True)``).
    """

    vessel: int
    resistance: float
    p_venous: float = 0.0


@dataclasses.dataclass
class PINNProblem:
    """A vessel network, its junctions and its measurements.

    Attributes:
      vessels: the `PINNVessel` list.
      junctions: each a list of ``(vessel, "out" | "in")`` ends; the first end is the parent's outlet.
      measurements: `Measurement` list (several per vessel allowed).
      t_lo, t_hi: the time window, s.
      outlets: optional `OutletResistance` conditions (none in the published cases).
      rho: blood density, kg/m³.
      friction: f = 2(γ+2)πμ/ρ, m²/s (0 as Kissas et al.).
      velocity_scale: U, m/s (None: the largest measured |u|).
      pressure_scale: P, Pa (None: the largest tube-law pressure change of a measured area).
    """

    vessels: list[PINNVessel]
    junctions: list[list[tuple[int, str]]]
    measurements: list[Measurement]
    t_lo: float
    t_hi: float
    rho: float = 1060.0
    friction: float = 0.0
    velocity_scale: float | None = None
    pressure_scale: float | None = None
    outlets: list[OutletResistance] = dataclasses.field(default_factory=list)

    def validate(self) -> None:
        """``ValueError`` naming the offending field for inconsistent input."""
        nv = len(self.vessels)
        if nv == 0:
            raise ValueError("vessels is empty; expected at least one PINNVessel")
        if not self.t_hi > self.t_lo:
            raise ValueError(f"t_lo = {self.t_lo}, t_hi = {self.t_hi}; expected t_hi > t_lo (s)")
        for name in ("velocity_scale", "pressure_scale"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} = {value}; expected a positive scale (SI) or None (from the data)")
        if not self.rho > 0 or not self.friction >= 0 or not np.isfinite(self.friction):
            raise ValueError(f"rho = {self.rho}, friction = {self.friction}; expected a positive density (kg/m³) "
                             "and a non-negative friction coefficient (m²/s)")
        for v in self.vessels:
            if not v.x_hi > v.x_lo:
                raise ValueError(f"vessel {v.name!r}: x_lo = {v.x_lo}, x_hi = {v.x_hi}; expected x_hi > x_lo (m)")
            if not np.isfinite(v.p_ext):
                raise ValueError(f"vessel {v.name!r}: p_ext = {v.p_ext!r}; expected a finite pressure in Pa")
            for field in ("a0", "beta"):
                vals = np.atleast_1d(np.asarray(getattr(v, field), float))
                if vals.size not in (1, 2) or not np.all(np.isfinite(vals)) or np.any(vals <= 0):
                    raise ValueError(f"vessel {v.name!r}: {field} = {getattr(v, field)!r}; expected one or two "
                                     "(inlet, outlet) positive finite values")
        for j, ends in enumerate(self.junctions):
            if len(ends) < 2 or any(not (0 <= i < nv) or side not in ("in", "out") for i, side in ends):
                raise ValueError(f"junctions[{j}] = {ends!r}; expected ≥ 2 (vessel index < {nv}, 'in'|'out') ends")
        for i, o in enumerate(self.outlets):
            if not (0 <= o.vessel < nv) or not o.resistance > 0 or not np.isfinite(o.p_venous):
                raise ValueError(f"outlets[{i}] = {o!r}; expected a vessel index < {nv}, a positive resistance "
                                 "(Pa·s/m³) and a finite venous pressure (Pa)")
        if not self.measurements:
            raise ValueError("measurements is empty; a PINN needs at least one measured signal")
        for i, m in enumerate(self.measurements):
            arrays = {k: np.asarray(getattr(m, k), float) for k in ("x", "t", "area", "velocity")}
            shapes = {k: a.shape for k, a in arrays.items()}
            if len(set(shapes.values())) != 1 or arrays["t"].ndim != 1 or arrays["t"].size == 0:
                raise ValueError(f"measurements[{i}] (vessel {m.vessel}): x, t, area, velocity have shapes "
                                 f"{shapes}; expected equal non-empty 1D arrays (one time grid for all signals)")
            if not (0 <= m.vessel < nv):
                raise ValueError(f"measurements[{i}].vessel = {m.vessel}; expected an index < {nv}")
            for k, a in arrays.items():
                if not np.all(np.isfinite(a)):
                    raise ValueError(f"measurements[{i}].{k} contains NaN or infinite values")
            if np.any(arrays["area"] <= 0):
                bad = float(arrays["area"].min())
                raise ValueError(f"measurements[{i}].area has a non-positive value ({bad:g} m²); expected areas > 0")
            v = self.vessels[m.vessel]
            x = arrays["x"]
            tol = 1e-9 * (v.x_hi - v.x_lo)
            if x.min() < v.x_lo - tol or x.max() > v.x_hi + tol:
                raise ValueError(f"measurements[{i}].x spans [{x.min():g}, {x.max():g}] m, outside vessel "
                                 f"{v.name!r} [{v.x_lo:g}, {v.x_hi:g}] m")
            t = arrays["t"]
            if t.min() < self.t_lo - 1e-9 or t.max() > self.t_hi + 1e-9:
                raise ValueError(f"measurements[{i}].t spans [{t.min():g}, {t.max():g}] s, outside the time window "
                                 f"[{self.t_lo:g}, {self.t_hi:g}] s")


def _ends(v, field):
    vals = np.atleast_1d(np.asarray(getattr(v, field), float))
    return (vals[0], vals[-1])


class Arrays(NamedTuple):
    """The compiled problem (SI units). V vessels; every step evaluates R "fixed" rows per vessel: its
    measurements, then its junction ends at the step's N interface times, then padding."""

    x_lo: jax.Array       # (V,)
    x_hi: jax.Array       # (V,)
    a0_ends: jax.Array    # (V, 2)
    beta_ends: jax.Array  # (V, 2)
    p_ext: jax.Array      # (V,)
    r_x: jax.Array        # (V, R): the row's position (m)
    r_t: jax.Array        # (V, R): the row's time (s) for measurement rows
    r_time: jax.Array     # (V, R) int: index of the interface time for junction rows, −1 otherwise
    m_area: jax.Array     # (V, R)
    m_velocity: jax.Array  # (V, R)
    m_weight: jax.Array   # (V, R): 1/(measurements of the vessel) on measurement rows, 0 elsewhere
    a_ref: jax.Array      # (V,): the vessel's mean reference area (m²), the area output's scale
    sigma_a: jax.Array    # (V,): spread of the vessel's measured areas (m²)
    sigma_u: jax.Array    # (V,): spread of the vessel's measured velocities (m/s)
    rate: jax.Array       # (): the measured signals' characteristic rate ω (1/s), see `signal_rate`
    j_rows: jax.Array     # (J, D, N) int: flat row index (v·R + r) of every junction end and time
    j_sign: jax.Array     # (J, D): +1 a vessel outlet, −1 an inlet, 0 padding
    o_rows: jax.Array     # (O, N) int: flat row index of every resistance outlet and time
    o_resistance: jax.Array  # (O,): the outlets' resistance (prior), Pa·s/m³
    o_venous: jax.Array   # (O,): the outlets' venous pressure, Pa
    t_lo: jax.Array
    t_hi: jax.Array


class Scales(NamedTuple):
    """Scales of the non-dimensionalisation: U (m/s), ρ (kg/m³), p_offset and P (Pa), the mean A0 (m²)."""

    velocity: float
    rho: float
    p_offset: float
    pressure: float
    area: float


def _is_time_series(m: Measurement) -> bool:
    """A measurement at one position over time (a waveform), as opposed to a snapshot along the vessel."""
    x, t = np.asarray(m.x, float), np.asarray(m.t, float)
    return t.size >= 3 and np.ptp(x) == 0 and np.ptp(t) > 0


def signal_rate(problem: PINNProblem) -> float:
    """The measured signals' characteristic rate ω (1/s): the largest ``rms(dq/dt)/std(q)`` over the measured time
    series (measurements at one position; q = area and velocity), or 2/(t_hi − t_lo) if there are none.

    The residuals are divided by σ·ω, the size of ∂A/∂t and ∂u/∂t of a signal with the measured spread σ that
    changes at this rate (for a sinusoid of angular frequency ω exactly that).
    """
    rates = []
    for m in problem.measurements:
        if not _is_time_series(m):
            continue
        t = np.asarray(m.t, float)
        order = np.argsort(t)
        dt = np.diff(t[order])
        keep = dt > 0
        for q in (np.asarray(m.area, float)[order], np.asarray(m.velocity, float)[order]):
            sd = np.std(q)
            if sd > 0:
                rates.append(np.sqrt(np.mean((np.diff(q)[keep] / dt[keep]) ** 2)) / sd)
    return float(max(rates)) if rates else 2.0 / (problem.t_hi - problem.t_lo)


def compile_problem(problem: PINNProblem, n_interface: int = 1024, dtype=jnp.float32) -> tuple[Arrays, Scales]:
    """Validate ``problem`` and lay it out as `Arrays` (junctions checked at ``n_interface`` times per step)
    plus its `Scales`."""
    problem.validate()
    if n_interface < 1:
        raise ValueError(f"n_interface = {n_interface}; expected ≥ 1 interface times per step")
    nv, n = len(problem.vessels), int(n_interface)
    per = [[m for m in problem.measurements if m.vessel == v] for v in range(nv)]
    ends = [[(j, d, side) for j, e in enumerate(problem.junctions) for d, (vv, side) in enumerate(e) if vv == v]
            + [(-1 - o, 0, "out") for o, out in enumerate(problem.outlets) if out.vessel == v] for v in range(nv)]
    o_rows = np.zeros((len(problem.outlets), n), int)
    counts = [sum(len(np.asarray(m.t)) for m in ms) for ms in per]
    n_rows = max(c + len(e) * n for c, e in zip(counts, ends))
    r_x, r_t = np.zeros((nv, n_rows)), np.zeros((nv, n_rows))
    r_time = np.full((nv, n_rows), -1)
    m_area, m_vel, m_w = np.ones((nv, n_rows)), np.zeros((nv, n_rows)), np.zeros((nv, n_rows))
    n_d = max([len(e) for e in problem.junctions], default=2)
    n_j = max(len(problem.junctions), 1)
    j_rows = np.zeros((n_j, n_d, n), int)
    j_sign = np.zeros((n_j, n_d))
    for v, (ms, vessel) in enumerate(zip(per, problem.vessels)):
        m_area[v] = np.mean(_ends(vessel, "a0"))  # padding rows: harmless values
        r_x[v] = 0.5 * (vessel.x_lo + vessel.x_hi)
        c = counts[v]
        if c:
            for key, arr in (("x", r_x), ("t", r_t), ("area", m_area), ("velocity", m_vel)):
                arr[v, :c] = np.concatenate([np.asarray(getattr(m, key), float) for m in ms])
            m_w[v, :c] = 1.0 / c
        for e, (j, d, side) in enumerate(ends[v]):
            lo = c + e * n
            r_x[v, lo:lo + n] = vessel.x_hi if side == "out" else vessel.x_lo
            r_time[v, lo:lo + n] = np.arange(n)
            if j < 0:  # a resistance outlet
                o_rows[-1 - j] = v * n_rows + lo + np.arange(n)
                continue
            j_rows[j, d] = v * n_rows + lo + np.arange(n)
            j_sign[j, d] = 1.0 if side == "out" else -1.0
    for j, e in enumerate(problem.junctions):  # padded ends repeat the first end (sign 0: no residual)
        j_rows[j, len(e):] = j_rows[j, 0]
    a0 = np.array([_ends(v, "a0") for v in problem.vessels])
    a_ref = a0.mean(axis=1)
    sigma_a, sigma_u = np.zeros(nv), np.zeros(nv)
    law_dp = 0.0
    for v, vessel in enumerate(problem.vessels):
        series = [m for m in per[v] if _is_time_series(m)]
        if series:  # the spread of the measured waveforms (snapshots such as rest rows follow the taper instead)
            sigma_a[v] = np.mean([np.std(np.asarray(m.area, float)) for m in series])
            sigma_u[v] = np.mean([np.std(np.asarray(m.velocity, float)) for m in series])
        real = m_w[v] > 0
        if real.any():
            s = (r_x[v, real] - vessel.x_lo) / (vessel.x_hi - vessel.x_lo)
            beta = np.interp(s, [0, 1], _ends(vessel, "beta"))
            a0x = np.interp(s, [0, 1], _ends(vessel, "a0"))
            law_dp = max(law_dp, float(np.max(np.abs(beta * (np.sqrt(m_area[v, real]) - np.sqrt(a0x))))))
    rel_a = sigma_a / a_ref
    fallback_a = np.max(rel_a) if np.max(rel_a) > 0 else 1e-2
    sigma_a = np.where(rel_a > 1e-3 * fallback_a, sigma_a, fallback_a * a_ref)
    fallback_u = np.max(sigma_u) if np.max(sigma_u) > 0 else 1.0
    sigma_u = np.where(sigma_u > 1e-3 * fallback_u, sigma_u, fallback_u)
    f = lambda a: jnp.asarray(a, dtype)  # noqa: E731
    arrays = Arrays(
        x_lo=f([v.x_lo for v in problem.vessels]), x_hi=f([v.x_hi for v in problem.vessels]), a0_ends=f(a0),
        beta_ends=f([_ends(v, "beta") for v in problem.vessels]), p_ext=f([v.p_ext for v in problem.vessels]),
        r_x=f(r_x), r_t=f(r_t), r_time=jnp.asarray(r_time), m_area=f(m_area), m_velocity=f(m_vel),
        m_weight=f(m_w), a_ref=f(a_ref), sigma_a=f(sigma_a), sigma_u=f(sigma_u), rate=f(signal_rate(problem)),
        j_rows=jnp.asarray(j_rows), j_sign=f(j_sign), o_rows=jnp.asarray(o_rows),
        o_resistance=f([o.resistance for o in problem.outlets]), o_venous=f([o.p_venous for o in problem.outlets]),
        t_lo=f(problem.t_lo),
        t_hi=f(problem.t_hi))
    u_max = max(float(np.max(np.abs(m_vel[m_w > 0]))), 1e-6)
    u = float(problem.velocity_scale) if problem.velocity_scale is not None else u_max
    pressure = float(problem.pressure_scale) if problem.pressure_scale is not None else max(law_dp, 1.0)
    scales = Scales(velocity=u, rho=float(problem.rho), p_offset=float(np.mean([v.p_ext for v in problem.vessels])),
                    pressure=pressure, area=float(np.mean(a0)))
    return arrays, scales


# ----------------------------------------------------------------------------------------------
# the model: networks + optional physical parameters
# ----------------------------------------------------------------------------------------------


class NetworkPINN(nnx.Module):
    """The networks of all vessels and, with ``fit_stiffness``, one trainable log-stiffness factor per vessel.

    Args:
      n_vessels: V.
      depth, width: hidden layers and units per layer (Kissas et al.: 7 × 100 on the Y-bifurcation).
      fit_stiffness: make θ_v in K = K_prior·e^θ_v trainable (starts at 0).
      n_outlets, fit_resistance: the number of resistance outlets, and whether R = R_prior·e^φ_o is trained.
    """

    def __init__(self, n_vessels: int, *, depth: int = 7, width: int = 100, fit_stiffness: bool = False,
                 hard_tube_law: bool = False, time_harmonics: int = 0, n_outlets: int = 0,
                 fit_resistance: bool = False, seed: int = 0):
        if int(time_harmonics) < 0:
            raise ValueError(f"time_harmonics = {time_harmonics}; expected ≥ 0")
        self.time_harmonics = int(time_harmonics)
        n_in = 2 + 2 * self.time_harmonics
        self.net = StackedMLP(n_vessels, (n_in,) + (width,) * depth + (3,), rngs=nnx.Rngs(seed))
        self.hard_tube_law = hard_tube_law
        self.fit_stiffness = fit_stiffness
        log_k = jnp.zeros((n_vessels,), jnp.float32)
        self.log_stiffness = nnx.Param(log_k) if fit_stiffness else nnx.Variable(log_k)
        log_r = jnp.zeros((max(n_outlets, 1),), jnp.float32)  # one unused slot without outlets (orbax: no 0-size)
        self.log_resistance = nnx.Param(log_r) if fit_resistance else nnx.Variable(log_r)

    @staticmethod
    def inputs(arrays: Arrays, x, t):
        """Network inputs ``ξ, τ`` of points ``x, t`` (V, N) and the constants dξ/dx (1/m), dτ/dt (1/s).

        ``ξ = (x − x_mid,v)/S`` with one length S for all vessels (half the longest vessel), so a short vessel
        spans a short stretch of ξ and the networks see lengths in one unit; ``τ`` maps the time window to [−1, 1].
        """
        half = 0.5 * jnp.max(arrays.x_hi - arrays.x_lo)
        mid = 0.5 * (arrays.x_lo + arrays.x_hi)[:, None]
        dtau_dt = 2.0 / (arrays.t_hi - arrays.t_lo)
        return (x - mid) / half, (t - arrays.t_lo) * dtau_dt - 1.0, 1.0 / half, dtau_dt

    def features(self, xi, tau):
        """Network input ``[ξ, τ, sin(kπτ), cos(kπτ) for k = 1..K]`` (V, N, 2 + 2K) and its τ-derivative.

        The K time harmonics (``time_harmonics``; period = the time window) let the networks represent several
        heartbeats without the spectral bias of a tanh network in τ alone.
        """
        k = jnp.arange(1, self.time_harmonics + 1, dtype=tau.dtype) * jnp.pi
        arg = tau[..., None] * k
        z = jnp.concatenate([xi[..., None], tau[..., None], jnp.sin(arg), jnp.cos(arg)], axis=-1)
        dz = jnp.concatenate([jnp.zeros_like(xi)[..., None], jnp.ones_like(tau)[..., None], k * jnp.cos(arg),
                              -k * jnp.sin(arg)], axis=-1)
        return z, dz

    def fields(self, arrays: Arrays, scales: Scales, x, t):
        """``(A, u, p)`` (m², m/s, Pa) of every vessel at points ``x, t`` of shape (V, N) (m, s)."""
        xi, tau, _, _ = self.inputs(arrays, x, t)
        out = self.net(self.features(xi, tau)[0])
        area = self.reference_area(arrays, x)[0] * jnp.exp(self.area_gain(arrays) * out[..., 0])
        if self.hard_tube_law:
            return area, scales.velocity * out[..., 1], self.law_pressure(arrays, area, x)
        return area, scales.velocity * out[..., 1], scales.p_offset + scales.pressure * out[..., 2]

    @staticmethod
    def reference_area(arrays: Arrays, x):
        """A0(x) (m², the linear taper) and dA0/dx (m) of every vessel at ``x`` (V, N) (m)."""
        slope = (arrays.a0_ends[:, 1:] - arrays.a0_ends[:, :1]) / (arrays.x_hi - arrays.x_lo)[:, None]
        return arrays.a0_ends[:, :1] + slope * (x - arrays.x_lo[:, None]), slope

    @staticmethod
    def area_gain(arrays: Arrays):
        """(V, 1): the relative spread σ_A,v/A0_v of each vessel's measured areas, the gain of the log-area output."""
        return (arrays.sigma_a / arrays.a_ref)[:, None]

    def law_pressure(self, arrays: Arrays, area, x):
        """The tube law's pressure (Pa) of ``area`` (m²) at ``x`` (m), shape (V, N)."""
        a0, _, beta = self.wall(arrays, x)
        return arrays.p_ext[:, None] + beta * (jnp.sqrt(area) - jnp.sqrt(a0))

    def fields_jet(self, arrays: Arrays, scales: Scales, x, t) -> FieldJet:
        """`FieldJet` (values, ∂/∂x, ∂/∂t of A, u, p; SI) of every vessel at ``x, t`` (V, N) (m, s)."""
        xi, tau, dxi_dx, dtau_dt = self.inputs(arrays, x, t)
        z, dz_dtau = self.features(xi, tau)
        dz_dxi = jnp.zeros_like(z).at[..., 0].set(1.0)
        out, (d_xi, d_tau) = self.net.jet(z, [dz_dxi, dz_dtau])
        a0x, da0_dx = self.reference_area(arrays, x)
        stretch = jnp.exp(self.area_gain(arrays) * out[..., 0])
        area = a0x * stretch
        value = (area, scales.velocity * out[..., 1], scales.p_offset + scales.pressure * out[..., 2])
        out_scale = (area * self.area_gain(arrays), scales.velocity, scales.pressure)

        def chain(d, in_scale):
            return tuple(out_scale[i] * d[..., i] * in_scale for i in range(3))

        dx, dt = chain(d_xi, dxi_dx), chain(d_tau, dtau_dt)
        dx = (dx[0] + da0_dx * stretch,) + dx[1:]  # the taper's own slope
        if self.hard_tube_law:  # p = P_law(A(x, t), x): chain rule through the law (taper included)
            law = lambda a, xx: self.law_pressure(arrays, a, xx)  # noqa: E731
            p, p_x = jax.jvp(law, (area, x), (dx[0], jnp.ones_like(x)))
            p_t = jax.jvp(law, (area, x), (dt[0], jnp.zeros_like(x)))[1]
            value, dx, dt = value[:2] + (p,), dx[:2] + (p_x,), dt[:2] + (p_t,)
        return FieldJet(value, dx, dt)

    def wall(self, arrays: Arrays, x):
        """Reference area A0 (m²), stiffness K (Pa) and β (Pa/m) of every vessel at ``x`` (V, N) (m)."""
        s = (x - arrays.x_lo[:, None]) / (arrays.x_hi - arrays.x_lo)[:, None]
        a0 = arrays.a0_ends[:, :1] + s * (arrays.a0_ends[:, 1:] - arrays.a0_ends[:, :1])
        beta = arrays.beta_ends[:, :1] + s * (arrays.beta_ends[:, 1:] - arrays.beta_ends[:, :1])
        beta = beta * jnp.exp(self.log_stiffness[...])[:, None]
        return a0, k_from_beta(beta, a0), beta


class LossParts(NamedTuple):
    """The loss terms (dimensionless): measured area and velocity, the three residuals, the junctions."""

    area: jax.Array
    velocity: jax.Array
    mass: jax.Array
    momentum: jax.Array
    tube_law: jax.Array
    interface: jax.Array
    outlet: jax.Array


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms: measured data, the mass and momentum residuals, the tube-law residual and the
    junction (interface) residuals, in the dimensionless units of the module docstring."""

    data: float = 1.0
    residual: float = 1.0
    interface: float = 1.0
    tube_law: float = 1.0
    outlet: float = 1.0


def loss_parts(model: NetworkPINN, arrays: Arrays, scales: Scales, x_f, t_f, rho, friction) -> LossParts:
    """Every loss term for residual points ``x_f, t_f`` (V, N) (m, s); the junctions are checked at the times
    ``t_f[0]`` (N must be the ``n_interface`` of `compile_problem`)."""
    v, n = x_f.shape
    if arrays.j_rows.shape[-1] != n:
        raise ValueError(f"{n} residual points per vessel, but the problem was compiled for "
                         f"n_interface = {arrays.j_rows.shape[-1]}; expected equal numbers")
    a0, k, _ = model.wall(arrays, x_f)
    jet = model.fields_jet(arrays, scales, x_f, t_f)
    res = residuals_from_jet(jet, x_f, a0=a0, k=k, rho=rho, p_ref=arrays.p_ext[:, None], friction=friction,
                             law="beta")
    mass = jnp.mean(jnp.square(res.mass / (arrays.sigma_a[:, None] * arrays.rate)))
    momentum = jnp.mean(jnp.square(res.momentum / (arrays.sigma_u[:, None] * arrays.rate)))
    law = jnp.mean(jnp.square(res.tube_law / scales.pressure))

    # measurements and junction ends in one forward pass
    t_rows = jnp.where(arrays.r_time >= 0, t_f[0][jnp.maximum(arrays.r_time, 0)], arrays.r_t)
    a_all, u_all, p_all = model.fields(arrays, scales, arrays.r_x, t_rows)
    w = arrays.m_weight
    area = jnp.sum(w * jnp.square((a_all - arrays.m_area) / arrays.sigma_a[:, None]))
    velocity = jnp.sum(w * jnp.square((u_all - arrays.m_velocity) / arrays.sigma_u[:, None]))

    def ends(q):  # (V, R) → (J, N, D)
        return jnp.swapaxes(q.reshape(-1)[arrays.j_rows], 1, 2)

    jr = jax.vmap(lambda a, u, p, s: junction_residuals(a, u, p, s, rho=rho))(
        ends(a_all), ends(u_all), ends(p_all), arrays.j_sign)
    interface = (jnp.sum(jnp.mean(jnp.square(jr.mass / (scales.area * scales.velocity)), axis=1))
                 + jnp.sum(jnp.mean(jnp.square(jr.pressure / scales.pressure), axis=1)))
    # resistance outlets: p − p_venous − R·A·u
    n_out = arrays.o_resistance.shape[0]
    resistance = arrays.o_resistance * jnp.exp(model.log_resistance[...][:n_out])
    a_o, u_o, p_o = (q.reshape(-1)[arrays.o_rows] for q in (a_all, u_all, p_all))
    r_out = p_o - arrays.o_venous[:, None] - resistance[:, None] * a_o * u_o
    outlet = jnp.sum(jnp.mean(jnp.square(r_out / scales.pressure), axis=1))
    return LossParts(area, velocity, mass, momentum, law, interface, outlet)


def total_loss(parts: LossParts, weights: LossWeights):
    """``w_data·(area + velocity) + w_res·(mass + momentum) + w_law·tube_law + w_int·interface
    + w_out·outlet``."""
    return (weights.data * (parts.area + parts.velocity) + weights.residual * (parts.mass + parts.momentum)
            + weights.tube_law * parts.tube_law + weights.interface * parts.interface
            + weights.outlet * parts.outlet)


def sample_residual_points(key, arrays: Arrays, n: int):
    """``n`` uniform random points per vessel in its segment × the time window: ``x, t`` of shape (V, n)."""
    kx, kt = jax.random.split(key)
    v = arrays.x_lo.shape[0]
    s = jax.random.uniform(kx, (v, n), arrays.x_lo.dtype)
    x = arrays.x_lo[:, None] + s * (arrays.x_hi - arrays.x_lo)[:, None]
    t = arrays.t_lo + jax.random.uniform(kt, (1, n), arrays.x_lo.dtype) * (arrays.t_hi - arrays.t_lo)
    return x, jnp.broadcast_to(t, (v, n))
