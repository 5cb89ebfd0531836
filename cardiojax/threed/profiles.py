"""Inlet velocity profiles on the x = 0 face (lattice units): plug, parabolic (Poiseuille) and Womersley.

Every profile is a velocity field (3, ny, nz) along +x on the fluid voxels of an inlet mask (ny, nz)
(e.g. `cardiojax.threed.voxelise.Voxels.inlet_mask`), zero elsewhere, for
``Params.inlet_velocity`` or, time-varying, for ``lbm.run_inlet(params, f, steps, inlet_fn)``.

Flow rates are **discrete**: the lattice flow of a profile is ``Σ u_x`` over the fluid voxels of the
mask times one voxel² (voxel³ per step), and every profile is scaled so that this sum is exactly the
requested flow — ``u_mean`` is the flow divided by the number of fluid voxels of the mask, so a
voxelised lumen of staircase area carries the flow asked for, not ``u_mean·πR²``. `lattice_flow` and
`lattice_mean_velocity` convert a physical flow Q (m³/s) with `cardiojax.threed.units.LatticeUnits`.

The Womersley profile is the exact flow-driven solution in a rigid circular pipe of radius R,
``u(r, t) = Re Σ_k Q̂_k·W_k(r)·e^{ikωt}`` with ``W_k(r) = (J0(Λ) − J0(Λr/R)) / (πR²(J0(Λ) − 2J1(Λ)/Λ))``,
``Λ = i^{3/2}·α_k`` and the Womersley number ``α_k = R·√(kω/ν)`` (W_0 is Poiseuille, ``2(1 − r²/R²)/(πR²)``).
The complex per-voxel profiles are precomputed on the host with `scipy.special.jv` and each is
normalised so that its voxel sum is 1, so the discrete flow is exactly ``Q(t) = Re Σ_k Q̂_k e^{ikωt}``;
the time evaluation is plain `jax.numpy` (usable under `jit`, inside `lax.fori_loop`).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from scipy.special import jv

from cardiojax.threed.lattice import CS2
from cardiojax.threed.units import MAX_MACH, LatticeUnits

#: Below this Womersley number the Poiseuille shape is used (the Bessel form loses digits to cancellation;
#: the shapes differ by O(α²) ≤ 1e-7 there).
SMALL_ALPHA = 3e-4


def _mask(inlet_mask) -> np.ndarray:
    m = np.asarray(inlet_mask)
    if m.ndim != 2 or m.dtype != bool:
        raise ValueError(f"inlet_mask: shape {m.shape} dtype {m.dtype}; expected a 2-D bool mask (ny, nz) of the "
                         "fluid voxels of the inlet face")
    if not m.any():
        raise ValueError("inlet_mask: no fluid voxel; expected at least one True voxel on the inlet face")
    return m


def _positive(name: str, value) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}={value!r}: expected a positive finite number (lattice units)")
    return v


def _radial(mask: np.ndarray, radius, centre):
    """Distances (ny, nz) of the voxel centres from ``centre`` (iy, iz) and the radius R (lattice units).
    Defaults: the centroid of the fluid voxels and the radius of the circle of the same area (√(n/π))."""
    iy, iz = np.nonzero(mask)
    if centre is None:
        centre = (iy.mean(), iz.mean())
    c = np.asarray(centre, float)
    if c.shape != (2,) or not np.isfinite(c).all():
        raise ValueError(f"centre={centre!r}: expected two finite voxel coordinates (iy, iz) on the inlet face")
    r_eq = math.sqrt(mask.sum() / math.pi)
    big = _positive("radius", r_eq if radius is None else radius)
    yy, zz = np.meshgrid(np.arange(mask.shape[0]), np.arange(mask.shape[1]), indexing="ij")
    r = np.hypot(yy - c[0], zz - c[1])
    if not (mask & (r < big)).any():
        raise ValueError(f"radius={big} around centre={c.tolist()}: no fluid voxel of inlet_mask lies inside; "
                         "expected the circle to cover the inlet")
    return r, big


def _check_mach(u_max: float, what: str) -> None:
    mach = abs(u_max) / math.sqrt(CS2)
    if not mach <= MAX_MACH:
        raise ValueError(f"{what}: largest inlet velocity {u_max:.4g} (lattice) is Mach {mach:.3g} > {MAX_MACH}; "
                         "lower the flow, or refine dx / lower tau (smaller time step)")


def _field(ux, dtype):
    ux = jnp.asarray(ux, dtype)
    zero = jnp.zeros_like(ux)
    return jnp.stack([ux, zero, zero])


def plug(inlet_mask, u_mean, dtype=jnp.float32):
    """Uniform velocity ``u_mean`` (lattice) along +x on the fluid voxels of ``inlet_mask`` (ny, nz):
    (3, ny, nz); discrete flow ``u_mean × (number of fluid voxels)`` (voxel³/step)."""
    m = _mask(inlet_mask)
    u = float(u_mean)
    if not math.isfinite(u):
        raise ValueError(f"u_mean={u_mean!r}: expected a finite lattice velocity")
    _check_mach(u, "plug")
    return _field(np.where(m, u, 0.0), dtype)


def parabolic(inlet_mask, u_mean, radius=None, centre=None, dtype=jnp.float32):
    """Poiseuille profile ∝ ``1 − r²/R²`` (zero beyond ``radius`` R) on the fluid voxels of ``inlet_mask``,
    scaled so that ``Σ u_x`` over the fluid voxels is exactly ``u_mean × (number of fluid voxels)``.

    ``radius`` (voxels) and ``centre`` (iy, iz) (voxel coordinates on the face) default to the equal-area
    radius and the centroid of the mask. Returns (3, ny, nz) (lattice velocity)."""
    m = _mask(inlet_mask)
    u = float(u_mean)
    if not math.isfinite(u):
        raise ValueError(f"u_mean={u_mean!r}: expected a finite lattice velocity")
    r, big = _radial(m, radius, centre)
    shape = np.where(m, np.clip(1.0 - (r / big) ** 2, 0.0, None), 0.0)
    ux = shape * (u * m.sum() / shape.sum())
    _check_mach(float(np.abs(ux).max()), "parabolic")
    return _field(ux, dtype)


def womersley_number(radius, omega, nu) -> float:
    """α = R·√(ω/ν) for a radius R, angular frequency ω and kinematic viscosity ν (any consistent units,
    e.g. m, rad/s, m²/s or voxels, rad/step, lattice ν = (τ − ½)/3)."""
    return _positive("radius", radius) * math.sqrt(_positive("omega", omega) / _positive("nu", nu))


def womersley_shape(rho, alpha):
    """Womersley velocity per unit flow amplitude, times πR²: complex ``(J0(Λ) − J0(Λρ)) / (J0(Λ) − 2J1(Λ)/Λ)``,
    Λ = i^{3/2}α, at ``rho`` = r/R ∈ [0, 1] (numpy array); 2(1 − ρ²) (Poiseuille) for α → 0.
    Its mean over the disc is 1, so ``u(r) = Q̂·womersley_shape(r/R, α)/(πR²)``."""
    rho = np.asarray(rho, float)
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha={alpha!r}: expected a Womersley number >= 0")
    if alpha < SMALL_ALPHA:
        return (2.0 * (1.0 - rho**2)).astype(complex)
    lam = alpha * np.exp(0.75j * np.pi)
    j0 = jv(0, lam)
    return (j0 - jv(0, lam * rho)) / (j0 - 2.0 * jv(1, lam) / lam)


def womersley_profiles(inlet_mask, omega, nu, n_harmonics, radius=None, centre=None) -> np.ndarray:
    """Per-voxel complex profiles (n_harmonics + 1, ny, nz) of harmonics k = 0 … n (frequency kω), each
    zero off the mask and beyond ``radius`` and normalised so that its sum over the voxels is 1 (host
    numpy). ``omega`` rad/step, ``nu`` lattice kinematic viscosity, ``radius`` voxels (see `parabolic`)."""
    m = _mask(inlet_mask)
    omega, nu = _positive("omega", omega), _positive("nu", nu)
    n = int(n_harmonics)
    if n < 0:
        raise ValueError(f"n_harmonics={n_harmonics!r}: expected >= 0")
    r, big = _radial(m, radius, centre)
    inside = m & (r < big)
    out = np.zeros((n + 1,) + m.shape, complex)
    for k in range(n + 1):  # a handful of harmonics, host side
        alpha = big * math.sqrt(k * omega / nu)
        w = np.where(inside, womersley_shape(np.clip(r / big, 0.0, 1.0), alpha), 0.0)
        out[k] = w / w.sum()
    return out


def womersley(inlet_mask, harmonics, omega, nu, radius=None, centre=None, dtype=jnp.float32):
    """Time-varying Womersley inlet: ``inlet_fn(t) -> (3, ny, nz)`` for `cardiojax.threed.lbm.run_inlet`.

    ``harmonics`` (n + 1,) complex lattice flow amplitudes Q̂_k (voxel³/step; see `flow_harmonics`) of the
    waveform ``Q(t) = Re Σ_k Q̂_k e^{ikωt}`` (Q̂_0 the mean flow), ``omega`` the fundamental angular frequency
    (rad/step, 2π/period in steps), ``nu`` the lattice kinematic viscosity (τ − ½)/3, ``radius`` (voxels)
    and ``centre`` (iy, iz) as in `parabolic`. At step t (an int or a traced int) the discrete flow
    ``Σ u_x`` is exactly Q(t). The phase k·ω·t is evaluated in ``dtype`` (float32: about 1e-4 rad after
    1000 periods)."""
    h = np.atleast_1d(np.asarray(harmonics, complex))
    if h.ndim != 1 or h.size == 0 or not np.isfinite(h).all():
        raise ValueError(f"harmonics: {np.asarray(harmonics).tolist()!r}; expected a 1-D array of finite (complex) "
                         "flow amplitudes, the mean flow first")
    prof = womersley_profiles(inlet_mask, omega, nu, h.size - 1, radius, centre) * h[:, None, None]
    k = np.arange(h.size)
    t = np.linspace(0.0, 2.0 * np.pi / float(omega), 257)
    samples = np.einsum("kyz,kt->tyz", prof, np.exp(1j * np.outer(k, omega * t))).real
    _check_mach(float(np.abs(samples).max()), "womersley")
    re, im = jnp.asarray(prof.real, dtype), jnp.asarray(prof.imag, dtype)
    kw = jnp.asarray(k * float(omega), dtype)

    def inlet_fn(step):
        phase = kw * jnp.asarray(step, dtype)
        ux = jnp.einsum("k,kyz->yz", jnp.cos(phase), re) - jnp.einsum("k,kyz->yz", jnp.sin(phase), im)
        return _field(ux, dtype)

    return inlet_fn


def flow_harmonics(samples, n_harmonics: int) -> np.ndarray:
    """Complex amplitudes (n_harmonics + 1,) of a periodic flow waveform sampled at ``N`` equally spaced
    times over one period (the last sample is not a repeat of the first): ``Q(t) ≈ Re Σ_k Q̂_k e^{ikωt}``,
    Q̂_0 the mean, truncated after ``n_harmonics`` (< N/2). Units are those of ``samples`` (m³/s or lattice)."""
    q = np.asarray(samples, float)
    n = int(n_harmonics)
    if q.ndim != 1 or not np.isfinite(q).all():
        raise ValueError(f"samples: shape {q.shape}; expected a 1-D array of finite flow values over one period")
    if not 0 <= n < q.size / 2:
        raise ValueError(f"n_harmonics={n_harmonics!r}: expected 0 <= n_harmonics < N/2 = {q.size / 2} "
                         f"for {q.size} samples")
    c = np.fft.rfft(q) / q.size
    out = 2.0 * c[: n + 1]
    out[0] = c[0].real
    return out


def flow_waveform(harmonics, omega, t):
    """``Q(t) = Re Σ_k Q̂_k e^{ikωt}`` at times ``t`` (numpy; same time unit as 1/``omega``)."""
    h = np.asarray(harmonics, complex)
    t = np.asarray(t, float)
    return np.real(np.exp(1j * omega * np.multiply.outer(t, np.arange(h.size))) @ h)


def lattice_flow(q_si, units: LatticeUnits):
    """A flow rate Q (m³/s) in lattice units (voxel³/step): ``Q·Δt/Δx³``."""
    return np.asarray(q_si) * units.dt / units.dx**3


def lattice_mean_velocity(q_si, units: LatticeUnits, inlet_mask):
    """The ``u_mean`` (lattice velocity) that makes the discrete flow through the fluid voxels of
    ``inlet_mask`` equal to Q (m³/s): ``Q·Δt/Δx³ / (number of fluid voxels)``."""
    return lattice_flow(q_si, units) / float(_mask(inlet_mask).sum())


def womersley_si(inlet_mask, q_samples, period, units: LatticeUnits, n_harmonics: int = 8, radius=None,
                 centre=None, dtype=jnp.float32):
    """`womersley` from a physical flow waveform: ``q_samples`` (N,) m³/s equally spaced over one ``period``
    (s), voxel size, time step and viscosity from ``units``; ``radius`` in voxels (default: from the mask)."""
    omega = 2.0 * math.pi * units.dt / _positive("period", period)
    h = flow_harmonics(lattice_flow(q_samples, units), n_harmonics)
    return womersley(inlet_mask, h, omega, units.nu_lattice, radius, centre, dtype)
