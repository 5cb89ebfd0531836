"""Steady flow through a stenosed vessel (or a voxelised mesh) with the lattice-Boltzmann solver: ΔP and FFR.

`StenosisCase` describes, in SI units, a straight vessel of radius R (m) with
a cosine lesion of diameter ``severity`` and length ``lesion_length`` (m),
fed with a steady flow Q (m³/s) of a Newtonian fluid (μ in Pa·s, ρ in
kg/m³). It is voxelised along x with `cardiojax.threed.geometry.stenosed_tube`
(inlet plane x = 0, outlet plane x = nx − 1, the box around the tube solid;
curved walls by Bouzidi's interpolated bounce-back with
`geometry.link_fractions`), given a parabolic inlet profile whose discrete
flux Σ u·Δx² is exactly Q and a pressure outlet at the reference pressure,
and run to a steady state.

Choice of the time step. Δx = 2R/``cells_across``. With Δx fixed, the
relaxation time τ sets Δt = (τ − ½)·Δx²/(3ν), and the lattice speed of the
fastest fluid is u_max·Δt/Δx = (τ − ½)/3 · u_max·Δx/ν: the cell Reynolds
number u_max·Δx/ν fixes the product of Mach number and (τ − ½). The case
estimates u_max as the parabolic peak in the throat, 2Q/(π R_min²) (the real
peak is lower, about 1.4× the throat mean at throat Re ~ 130: the throat
profile is flatter), and picks the largest Δt that keeps this estimate at
Mach ``mach`` (default 0.1, the limit of `LatticeUnits.check`) and the
lattice density variation of a generous ΔP estimate below 1 % (the lattice
fluid is weakly compressible: at 16 % the flow rose 16 % along a tube) —
the fewest steps to a steady state that are safe. τ is capped at 1 (slow
flows); when the τ needed falls below `MIN_TAU` the grid is too coarse for
the flow and the error says how many cells across are needed
(`StenosisCase.min_cells_across` finds it). An explicit ``tau`` is used as
given (and the Mach check may refuse it). Hyperemic coronary flows therefore
need fine grids: u_max·Δx/ν ≲ 35, e.g. ≥ 30 voxels per diameter for 1 mL/s
through a 50 % lesion of a 3 mm vessel.

Steady state. The run starts from a developed guess (quasi-1D Poiseuille
profile and pressure for the local radius) or from rest, and advances in
chunks of a jit-compiled `lbm.run` (a `lax.scan` of sub-blocks, the ΔP probes
sampled after each); a chunk lasts about one acoustic quarter-wave period of
the tube, 4·nx/c_s steps, so its mean ΔP filters the pressure waves that
bounce between the inlet and the outlet. It stops when the chunk means of
ΔP change by less than ``tol`` (relative) or after ``max_steps``. ΔP is
taken between cross-section mean pressures halfway between the inlet and the
lesion, and one diameter before the outlet; FFR = (p_aortic − ΔP)/p_aortic.

`run_voxels` runs a `cardiojax.threed.voxelise.Voxels` (a mesh or a tree) the
same way, from rest. Both report the outflow against the inflow and warn
when they differ by more than 5 %: the interpolated bounce-back does not
conserve mass exactly (measured 6 % and 13 % of the flow lost in 50 % and
70 % lesions at 16 voxels per diameter and throat Re 140 and 80; 0.4 % in
Stokes flow at 20), and fluid voxels centred on the wall (q ≈ 0) leak badly.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.threed import geometry, lbm, profiles, sparse
from cardiojax.threed.lattice import CS2
from cardiojax.threed.outputs import fields, section_pressure
from cardiojax.threed.units import MAX_MACH, MIN_TAU, LatticeUnits
from cardiojax.units import MMHG

#: Largest relaxation time chosen automatically (slow flows use a smaller Δt rather than a larger τ).
TAU_MAX = 1.0
#: Largest lattice density variation 3·Δp_lattice accepted when choosing Δt (weak compressibility error).
DRHO_MAX = 0.01
#: Relative mismatch between outflow and inflow above which a run warns (wall mass defects).
MASS_DEFECT_WARN = 0.05
#: Wall link fractions below this flag fluid voxels centred on the wall (measured: a tube voxelised with
#: q ≈ 1e-6 on 20 % of its wall links lost 38 % of its flow over 60 voxels).
TINY_Q = 0.01


@dataclasses.dataclass(frozen=True)
class SteadyResult:
    """A converged (or capped) steady run. SI units: ``dp_pa`` (Pa) between the probes at ``probes_m`` (m,
    along x from the inlet), ``ffr`` = (p_aortic − ΔP)/p_aortic, ``x_m`` (nx,) slice positions and
    ``p_section_pa`` (nx,) section-mean pressures (Pa, relative to the outlet), ``velocity`` (3, nx, ny, nz)
    m/s and ``pressure`` (nx, ny, nz) Pa (NaN in solid voxels); ``q_section_m3_s`` (nx,) the flow Σu_x·Δx² through
    each slice (m³/s; equal to the inflow up to the lattice's mass defects); ``origin`` (3,) m and
    ``rotation`` (3, 3) place voxel i at ``origin + dx·(i @ rotation)``; ``dp_history_pa`` the chunk means; timing in s:
    ``compile_s`` (XLA compile, excluded from MLUPS), ``run_s`` (LBM only), ``wall_s`` (everything);
    ``mlups``/``mlups_fluid``: million (all/fluid) cell updates per second of ``run_s``."""

    dp_pa: float
    ffr: float
    p_aortic_pa: float
    x_m: np.ndarray
    p_section_pa: np.ndarray
    q_section_m3_s: np.ndarray
    velocity: np.ndarray
    pressure: np.ndarray
    solid: np.ndarray
    origin: np.ndarray
    rotation: np.ndarray
    units: LatticeUnits
    probes_m: tuple
    steps: int
    converged: bool
    dp_history_pa: np.ndarray
    compile_s: float
    run_s: float
    wall_s: float
    mlups: float
    mlups_fluid: float
    mach_max: float
    info: dict = dataclasses.field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready figures (SI units, plus ΔP in mmHg)."""
        hist = self.dp_history_pa
        change = float(abs(hist[-1] - hist[-2]) / abs(hist[-1])) if len(hist) > 1 and hist[-1] != 0 else None
        return {"dp_pa": self.dp_pa, "dp_mmhg": self.dp_pa / MMHG, "ffr": self.ffr, "p_aortic_pa": self.p_aortic_pa,
                "steps": self.steps, "converged": self.converged, "dp_rel_change": change,
                "dx_m": self.units.dx, "dt_s": self.units.dt, "tau": self.units.tau,
                "simulated_time_s": self.steps * self.units.dt, "shape": list(self.solid.shape),
                "fluid_cells": int((~self.solid).sum()), "probes_m": list(self.probes_m),
                "mach_max": self.mach_max, "mlups": self.mlups, "mlups_fluid": self.mlups_fluid,
                "compile_s": self.compile_s, "run_s": self.run_s, "wall_s": self.wall_s, **self.info}


def choose_units(dx, nu, rho, u_max, dp=0.0, tau=None, mach=MAX_MACH, drho_max=DRHO_MAX, tau_min=MIN_TAU,
                 tau_max=TAU_MAX, cells=None) -> LatticeUnits:
    """`LatticeUnits` for voxel size ``dx`` (m), ``nu`` (m²/s), ``rho`` (kg/m³), a largest expected velocity
    ``u_max`` (m/s) and an expected pressure drop ``dp`` (Pa) across the domain.

    Without ``tau``: the largest Δt that keeps ``u_max`` at or below Mach ``mach`` and the lattice density
    variation 3·Δp_lattice = (dp/ρ)(Δt/Δx)²/c_s² at or below ``drho_max`` (the lattice fluid is weakly
    compressible: a density change of ε changes the velocity by ε along the vessel), i.e.
    τ = ½ + 3νΔt/Δx², capped at ``tau_max``. Refuses (ValueError, saying how much to refine) a τ below
    ``tau_min``, and a given ``tau`` whose Mach number exceeds `MAX_MACH`; ``cells`` (voxels across the
    vessel, if known) lets the refusal say how many are needed.
    """
    if not (math.isfinite(u_max) and u_max > 0):
        raise ValueError(f"u_max={u_max!r}: expected a positive velocity estimate in m/s")
    if not 0 < mach <= MAX_MACH:
        raise ValueError(f"mach={mach!r}: expected a target Mach number in (0, {MAX_MACH}]")
    if not (math.isfinite(dp) and dp >= 0):
        raise ValueError(f"dp={dp!r}: expected a pressure drop estimate >= 0 in Pa")
    if tau is None:
        dt = (1.0 - 1e-9) * mach * math.sqrt(CS2) * dx / u_max
        if dp > 0:
            dt = min(dt, dx * math.sqrt(drho_max * CS2 * rho / dp))
        tau = min(0.5 + 3.0 * nu * dt / dx**2, tau_max)
        if tau < tau_min:
            factor = (tau_min - 0.5) / (tau - 0.5)
            need = f" (cells_across >= {math.ceil(cells * factor)})" if cells else ""
            raise ValueError(
                f"dx={dx:.4g} m is too coarse for the flow: cell Reynolds number u_max·dx/ν = {u_max * dx / nu:.3g} "
                f"(u_max ≈ {u_max:.3g} m/s) needs tau = {tau:.4f} < {tau_min} to keep Mach <= {mach}; refine dx "
                f"by a factor {factor:.2f} or more{need}, or lower the flow")
    units = LatticeUnits.from_physical(dx, nu, float(tau), rho)
    units.check(u_max)
    return units


def probe_weights(fluid: np.ndarray, x_index: float) -> np.ndarray:
    """(nx, ny, nz) weights whose sum with a field is its fluid section mean at the fractional slice
    ``x_index`` (linear between the two neighbouring slices)."""
    i0 = min(int(math.floor(x_index)), fluid.shape[0] - 2)
    t = x_index - i0
    w = np.zeros(fluid.shape)
    for i, wt in ((i0, 1.0 - t), (i0 + 1, t)):
        count = fluid[i].sum()
        if count == 0:
            raise ValueError(f"probe at slice {x_index:.2f}: slice {i} has no fluid voxel")
        w[i] = wt * fluid[i] / count
    return w


def _advance(params, f, w_up, w_down, start, ramp, sub, n_sub, scheme):
    """``n_sub`` blocks of ``sub`` steps of `lbm.run` (or `sparse.run` for a `sparse.SparseLattice`); after
    each, ΔP (lattice) between the weighted probes. With ``ramp`` > 0 steps, the inlet velocity grows
    linearly from 0 over the first ``ramp`` steps."""
    base = params.inlet_velocity
    run = sparse.run if isinstance(params, sparse.SparseLattice) else lbm.run

    def body(g, k):
        done = (start + (k + 1) * sub).astype(base.dtype)
        scale = jnp.where(ramp > 0, jnp.minimum(1.0, done / jnp.maximum(ramp, 1).astype(base.dtype)), 1.0)
        g = run(dataclasses.replace(params, inlet_velocity=base * scale.astype(base.dtype)), g, sub, scheme)
        drho = jnp.sum(g, axis=0)
        return g, CS2 * (jnp.sum(drho * w_up) - jnp.sum(drho * w_down))

    return lax.scan(body, f, jnp.arange(n_sub))


_advance_jit = jax.jit(_advance, static_argnames=("sub", "n_sub", "scheme"))


def solve_steady(params, f, w_up, w_down, units, *, tol=1e-3, max_steps=50_000, chunk=None, samples=10,
                 ramp=0, scheme=lbm.Scheme(), progress=True, desc="lbm", layout="auto"):
    """Run ``params`` from ``f`` until the chunk mean of ΔP = Σ w_up·p − Σ w_down·p changes by less than
    ``tol`` (relative) between chunks, or ``max_steps``. ``chunk`` steps (default ~4·nx/c_s, an acoustic
    quarter-wave period) in ``samples`` blocks. ``layout``: "sparse" (fluid voxels only, `sparse.run`, the
    same arithmetic; measured 3–4× faster on vessels), "dense" (`lbm.run`) or "auto" (sparse unless the
    geometry has an open-boundary voxel without a fluid neighbour inwards, which only dense handles).
    Returns ``(f, dp_history_pa, steps, converged, compile_s, run_s)`` with ``f`` dense; ΔP in Pa via
    ``units``."""
    if layout not in ("sparse", "dense", "auto"):
        raise ValueError(f"layout={layout!r}: expected 'sparse', 'dense' or 'auto'")
    nx = f.shape[1]
    lat = None
    if layout != "dense":
        try:
            lat = sparse.build(params)
        except ValueError:
            if layout == "sparse":
                raise
    if lat is not None:
        f = sparse.from_dense(lat, f)
        w_up, w_down = (np.asarray(w).reshape(-1)[np.asarray(lat.cells)] for w in (w_up, w_down))
        params = lat
    if not tol > 0 or max_steps < 1 or samples < 1:
        raise ValueError(f"tol={tol!r}, max_steps={max_steps!r}, samples={samples!r}: expected tol > 0, "
                         "max_steps >= 1, samples >= 1")
    chunk = int(chunk) if chunk else max(200, int(4.0 * nx / math.sqrt(CS2)))
    sub = max(1, -(-min(chunk, max_steps) // samples))
    chunk = sub * samples
    n_chunks = max(1, max_steps // chunk)
    dtype = f.dtype
    w_up, w_down = jnp.asarray(w_up, dtype), jnp.asarray(w_down, dtype)
    t0 = time.perf_counter()
    step_fn = _advance_jit.lower(params, f, w_up, w_down, jnp.int32(0), jnp.int32(ramp), sub=sub, n_sub=samples,
                                 scheme=scheme).compile()
    compile_s = time.perf_counter() - t0
    from tqdm import tqdm

    history, steps, run_s, converged = [], 0, 0.0, False
    bar = tqdm(total=n_chunks * chunk, unit="step", desc=desc, disable=not progress, file=sys.stderr,
               unit_scale=True)
    for _ in range(n_chunks):
        t0 = time.perf_counter()
        f, dp = jax.block_until_ready(step_fn(params, f, w_up, w_down, jnp.int32(steps), jnp.int32(ramp)))
        run_s += time.perf_counter() - t0
        steps += chunk
        mean = float(units.pressure_si(float(jnp.mean(dp))))
        if not math.isfinite(mean):
            bar.close()
            raise ValueError(f"the run became unstable (non-finite pressure) after {steps} steps at tau = "
                             f"{units.tau:.4f}; refine the grid (τ grows with the cells across at a given flow, e.g. "
                             "ask for tau >= 0.51) or lower the flow")
        history.append(mean)
        change = abs(history[-1] - history[-2]) / max(abs(history[-1]), 1e-300) if len(history) > 1 else math.inf
        bar.update(chunk)
        bar.set_postfix(dp_pa=f"{mean:.4g}", change=f"{change:.1e}")
        if steps > ramp and change < tol:
            converged = True
            break
    bar.close()
    if lat is not None:
        f = sparse.to_dense(lat, f)
    return f, np.asarray(history), steps, converged, compile_s, run_s


def outflow(velocity, outlet_mask, dx) -> float:
    """Volume flow (m³/s) out through the outlet voxels ``outlet_mask`` (nx, ny, nz) on the box faces: the sum of
    the outward normal velocity (m/s) times Δx² (``dx`` m) over the outlet voxels of each face."""
    out = 0.0
    for axis, side in lbm.OUTLET_FACES:  # 5 static faces
        k = 0 if side == 0 else velocity.shape[axis + 1] - 1
        mask = np.take(outlet_mask, k, axis=axis)
        normal = np.take(velocity[axis], k, axis=axis)
        out += (1.0 if side else -1.0) * float(normal[mask].sum()) * dx * dx
    return out


def _finish(f, solid, units, dp_hist, steps, converged, compile_s, run_s, wall0, p_aortic, probes, info,
            outlet_mask, origin=(0.0, 0.0, 0.0), rotation=None) -> SteadyResult:
    """Physical fields, section profile, FFR, mass balance and throughput of a finished run; warns when the
    outflow misses the inflow ``info["flow_m3_s"]`` by more than `MASS_DEFECT_WARN`."""
    velocity, pressure = fields(np.asarray(f), units, solid)
    nx = solid.shape[0]
    speed = np.sqrt((velocity**2).sum(axis=0)).max()
    dp = float(dp_hist[-1])
    cells, fluid = float(np.prod(solid.shape)), float((~solid).sum())
    x = units.dx * np.arange(nx)
    q_section = velocity[0].sum(axis=(1, 2)) * units.dx**2
    q_out = outflow(velocity, np.asarray(outlet_mask, bool), units.dx)
    defect = 1.0 - q_out / info["flow_m3_s"]
    info = {**info, "flow_at_probes_m3_s": [float(np.interp(p, x, q_section)) for p in probes],
            "outflow_m3_s": q_out, "mass_defect": defect}
    if abs(defect) > MASS_DEFECT_WARN:
        warnings.warn(f"the outflow is {100 * (1 - defect):.1f} % of the inflow: the walls' interpolated bounce-back "
                      "lost mass (coarse throat, or fluid voxels whose centre lies on the wall, q ≈ 0); ΔP is "
                      "unreliable — refine the grid or check the wall link fractions", stacklevel=3)
    return SteadyResult(
        dp_pa=dp, ffr=(p_aortic - dp) / p_aortic, p_aortic_pa=p_aortic,
        x_m=x, p_section_pa=section_pressure(pressure, solid), q_section_m3_s=q_section,
        velocity=velocity, pressure=pressure, solid=solid, origin=np.asarray(origin, float),
        rotation=np.eye(3) if rotation is None else np.asarray(rotation, float), units=units,
        probes_m=probes, steps=steps, converged=converged, dp_history_pa=dp_hist, compile_s=compile_s,
        run_s=run_s, wall_s=time.perf_counter() - wall0,
        mlups=steps * cells / max(run_s, 1e-12) / 1e6, mlups_fluid=steps * fluid / max(run_s, 1e-12) / 1e6,
        mach_max=float(units.velocity(speed) / math.sqrt(CS2)), info=info)


def _check_positive(**values):
    for name, v in values.items():
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name}={v!r}: expected a positive number (SI units)")


@dataclasses.dataclass(frozen=True)
class StenosisCase:
    """A straight vessel with a cosine stenosis, SI units (see the module docstring for the numerics).

    ``radius`` R (m); ``length`` (m, default 12 diameters); ``severity`` diameter stenosis in [0, 1);
    ``lesion_length`` (m, default 2 diameters) centred at the axial fraction ``position``; ``flow`` Q (m³/s);
    ``viscosity`` μ (Pa·s); ``density`` ρ (kg/m³); ``p_aortic`` (Pa) for FFR; ``cells_across`` voxels per
    diameter; ``tau`` relaxation time or None (chosen from ``mach``, see `choose_units`, at least ``tau_min``).
    """

    radius: float = 1.5e-3
    length: float | None = None
    severity: float = 0.5
    lesion_length: float | None = None
    position: float = 0.3
    flow: float = 1e-6
    viscosity: float = 3.5e-3
    density: float = 1060.0
    p_aortic: float = 93.0 * MMHG
    cells_across: int = 16
    tau: float | None = None
    mach: float = MAX_MACH
    tau_min: float = MIN_TAU

    def __post_init__(self):
        _check_positive(radius=self.radius, flow=self.flow, viscosity=self.viscosity, density=self.density,
                        p_aortic=self.p_aortic)
        if not 0.0 <= self.severity < 1.0:
            raise ValueError(f"severity={self.severity!r}: expected a diameter stenosis fraction in [0, 1)")
        if not (isinstance(self.cells_across, (int, np.integer)) and self.cells_across >= 4):
            raise ValueError(f"cells_across={self.cells_across!r}: expected a whole number of voxels >= 4")
        if not MIN_TAU <= self.tau_min < TAU_MAX:
            raise ValueError(f"tau_min={self.tau_min!r}: expected the automatic τ floor in [{MIN_TAU}, {TAU_MAX})")
        if not 0.0 < self.position < 1.0:
            raise ValueError(f"position={self.position!r}: expected the lesion centre as a fraction in (0, 1)")
        _check_positive(length=self.total_length, lesion_length=self.lesion)
        start, end = self.lesion_span
        if start <= 0 or end >= self.total_length - self.diameter:
            raise ValueError(f"lesion_length={self.lesion!r} m at position={self.position}: the lesion "
                             f"[{start:.4g}, {end:.4g}] m must lie inside the vessel (length "
                             f"{self.total_length:.4g} m) and end more than one diameter before the outlet")

    diameter = property(lambda self: 2.0 * self.radius)
    total_length = property(lambda self: 12.0 * self.diameter if self.length is None else self.length)
    lesion = property(lambda self: 2.0 * self.diameter if self.lesion_length is None else self.lesion_length)
    dx = property(lambda self: self.diameter / self.cells_across)
    reynolds = property(lambda self: 2.0 * self.density * self.flow / (math.pi * self.radius * self.viscosity))

    @property
    def lesion_span(self) -> tuple[float, float]:
        """(start, end) of the lesion along x, m from the inlet."""
        c = self.position * self.total_length
        return c - 0.5 * self.lesion, c + 0.5 * self.lesion

    @property
    def probes(self) -> tuple[float, float]:
        """ΔP probe positions (m from the inlet): halfway between the inlet and the lesion, and one diameter
        before the outlet (downstream of the pressure recovery as far as the vessel allows)."""
        return 0.5 * self.lesion_span[0], self.total_length - self.diameter

    def u_max_estimate(self) -> float:
        """Parabolic peak velocity in the throat, 2Q/(π R²(1 − severity)²), m/s."""
        return 2.0 * self.flow / (math.pi * (self.radius * (1.0 - self.severity)) ** 2)

    def dp_estimate(self) -> float:
        """A generous pressure drop estimate (Pa) for choosing Δt: Poiseuille along the whole vessel, lesion
        included (8μQ/π ∫ r⁻⁴ dx), plus ρU_t²(1 − A_t/A_0)², twice the Borda–Carnot expansion loss."""
        s = np.linspace(0.0, 1.0, 2001)
        r = self.radius * np.asarray(geometry.stenosed_radius(1.0, None, self.severity, self.lesion, self.position,
                                                              self.total_length)(s))
        viscous = 8.0 * self.viscosity * self.flow / math.pi * np.trapezoid(r**-4.0, s * self.total_length)
        area0, area_t = math.pi * self.radius**2, math.pi * (self.radius * (1.0 - self.severity)) ** 2
        return float(viscous + self.density * (self.flow / area_t) ** 2 * (1.0 - area_t / area0) ** 2)

    def lattice_units(self) -> LatticeUnits:
        """`LatticeUnits` of the case (see `choose_units`)."""
        return choose_units(self.dx, self.viscosity / self.density, self.density, self.u_max_estimate(),
                            self.dp_estimate(), self.tau, self.mach, tau_min=self.tau_min, cells=self.cells_across)

    def min_cells_across(self, floor: int = 16, limit: int = 4096) -> int:
        """The fewest voxels per diameter, at least ``floor``, at which `lattice_units` accepts this flow."""
        def ok(n):
            try:
                dataclasses.replace(self, cells_across=n).lattice_units()
                return True
            except ValueError:
                return False

        lo, hi = floor - 1, floor
        while not ok(hi):  # doubling, then bisection on [lo + 1, hi]
            if hi >= limit:
                raise ValueError(f"flow={self.flow!r} m³/s: needs more than {limit} voxels per diameter")
            lo, hi = hi, 2 * hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if ok(mid) else (mid, hi)
        return hi

    def build(self, dtype=jnp.float32):
        """``(params, solid, radius_fn, units, shape)``: the lattice problem (lattice units inside
        ``params``; ``radius_fn(s)`` the lumen radius in voxels at the axial fraction s)."""
        units = self.lattice_units()
        n = self.cells_across
        nx = int(round(self.total_length / self.dx)) + 1
        shape = (nx, n + 2, n + 2)
        c = 0.5 * (n + 1)
        radius_fn = geometry.stenosed_radius(0.5 * n, None, self.severity, self.lesion / self.dx, self.position,
                                             float(nx - 1))
        phi = geometry.tube(radius_fn, (0.0, c, c), (nx - 1.0, c, c))
        solid = geometry.solid_mask(phi, shape)
        wall_q = geometry.link_fractions(phi, shape)
        inlet_mask = ~solid[0]
        u_mean = self.flow * units.dt / self.dx**3 / inlet_mask.sum()  # discrete flux Σu = Q (lattice)
        inlet = profiles.parabolic(inlet_mask, u_mean, radius=0.5 * n, centre=(c, c), dtype=dtype)
        outlet = np.zeros(shape, bool)
        outlet[-1] = ~solid[-1]  # the face x = nx − 1 (as a mask: the same lattice problem as a `Voxels`)
        params = lbm.Params(jnp.asarray(units.tau, dtype), jnp.zeros(3, dtype), jnp.asarray(solid),
                            jnp.asarray(wall_q, dtype), inlet_velocity=inlet, outlet_drho=jnp.asarray(0.0, dtype),
                            outlet_mask=jnp.asarray(outlet))
        return params, solid, radius_fn, units, shape

    def developed_state(self, solid, radius_fn, units, dtype=jnp.float32):
        """Populations of the quasi-1D guess: in each slice a parabolic profile for the local radius carrying Q
        (discrete flux), and the Poiseuille pressure 8μQ/(πr⁴) integrated from the outlet (lattice units)."""
        nx, ny, _ = solid.shape
        c = 0.5 * (ny - 1)
        r = np.asarray(radius_fn(np.arange(nx) / (nx - 1.0)), float)
        y = np.arange(ny) - c
        rho2 = y[:, None] ** 2 + y[None, :] ** 2
        prof = np.clip(1.0 - rho2[None] / r[:, None, None] ** 2, 0.0, None) * ~solid
        q_lat = self.flow * units.dt / self.dx**3
        u = np.zeros((3,) + solid.shape)
        u[0] = q_lat * prof / np.maximum(prof.sum(axis=(1, 2), keepdims=True), 1e-30)
        grad = 8.0 * units.nu_lattice * q_lat / (math.pi * r**4)
        p = np.concatenate([np.cumsum((0.5 * (grad[1:] + grad[:-1]))[::-1])[::-1], [0.0]])
        drho = np.broadcast_to(p[:, None, None] / CS2, solid.shape)
        f = lbm.equilibrium(jnp.asarray(drho, dtype), jnp.asarray(u, dtype))
        return jnp.where(jnp.asarray(solid), 0.0, f).astype(dtype)

    def run(self, *, tol=1e-3, max_steps=50_000, chunk=None, init="developed", dtype=jnp.float32,
            scheme=lbm.Scheme(), progress=True) -> SteadyResult:
        """Run to a steady state (see the module docstring); ``init`` "developed" or "rest" (then the inlet is
        ramped up over the first chunk). float32 populations by default."""
        if init not in ("developed", "rest"):
            raise ValueError(f"init={init!r}: expected 'developed' or 'rest'")
        wall0 = time.perf_counter()
        params, solid, radius_fn, units, shape = self.build(dtype)
        lbm.check_params(units.tau, solid)
        fluid = ~solid
        up, down = self.probes
        w_up, w_down = probe_weights(fluid, up / self.dx), probe_weights(fluid, down / self.dx)
        if init == "developed":
            f0, ramp = self.developed_state(solid, radius_fn, units, dtype), 0
        else:
            f0, ramp = lbm.at_rest(shape, dtype), _rest_ramp(shape[0], chunk)
        f, hist, steps, conv, compile_s, run_s = solve_steady(
            params, f0, w_up, w_down, units, tol=tol, max_steps=max_steps, chunk=chunk, ramp=ramp,
            scheme=scheme, progress=progress, desc=f"3d stenosis {100 * self.severity:.0f}%")
        dp_pois = 8.0 * self.viscosity * self.flow * (down - up) / (math.pi * self.radius**4)
        info = {"case": "stenosis", "severity": self.severity, "radius_m": self.radius, "length_m": self.total_length,
                "lesion_length_m": self.lesion, "flow_m3_s": self.flow, "viscosity_pa_s": self.viscosity,
                "density_kg_m3": self.density, "cells_across": self.cells_across, "reynolds": self.reynolds,
                "reynolds_throat": self.reynolds / (1.0 - self.severity), "dp_poiseuille_pa": dp_pois,
                "init": init}
        return _finish(f, solid, units, hist, steps, conv, compile_s, run_s, wall0, self.p_aortic, (up, down), info,
                       np.asarray(params.outlet_mask))


def _rest_ramp(nx: int, chunk) -> int:
    """Steps over which a run from rest ramps its inlet up: one chunk."""
    return int(chunk) if chunk else max(200, int(4.0 * nx / math.sqrt(CS2)))


def run_voxels(voxels, flow, *, viscosity=3.5e-3, density=1060.0, p_aortic=93.0 * MMHG, tau=None, mach=MAX_MACH,
               u_max=None, tol=1e-3, max_steps=50_000, chunk=None, dtype=jnp.float32, scheme=lbm.Scheme(),
               progress=True) -> SteadyResult:
    """Steady flow through a voxelised lumen (a `cardiojax.threed.voxelise.Voxels`, e.g. from `voxelise_mesh`).

    ``flow`` Q (m³/s) enters through ``voxels.inlet_mask`` at x = 0 with a parabolic profile of the mask's
    equal-area radius (`profiles.parabolic`; discrete flux exactly Q); the open ends of
    ``voxels.outlet_mask`` are pressure outlets at the reference pressure. Starts from rest, ramping the inlet
    up over the first chunk. ΔP (Pa) is the mean pressure over the inlet voxels of the slice x = 1 minus the
    mean over the outlet voxels; FFR = (p_aortic − ΔP)/p_aortic. ``u_max`` (m/s): the largest velocity
    expected, for τ (`choose_units`); default twice the mean velocity through the narrowest x-slice of the
    lumen (right for a single vessel along x; pass it for branching lumens, whose slices cut several
    branches). ``viscosity`` Pa·s, ``density`` kg/m³, ``p_aortic`` Pa.
    """
    wall0 = time.perf_counter()
    _check_positive(flow=flow, viscosity=viscosity, density=density, p_aortic=p_aortic)
    solid = np.asarray(voxels.solid)
    lbm.check_params(MIN_TAU, solid)
    inlet_mask = np.asarray(voxels.inlet_mask, bool) & ~solid[0]
    outlet = np.asarray(voxels.outlet_mask, bool) & ~solid
    if inlet_mask.shape != solid.shape[1:] or not inlet_mask.any():
        raise ValueError(f"voxels.inlet_mask: shape {inlet_mask.shape}, {int(inlet_mask.sum())} fluid voxels; "
                         f"expected a ({solid.shape[1]}, {solid.shape[2]}) mask with fluid voxels on the face x = 0")
    if outlet.shape != solid.shape or not outlet.any():
        raise ValueError(f"voxels.outlet_mask: shape {outlet.shape}, {int(outlet.sum())} fluid voxels; expected a "
                         f"{solid.shape} mask with at least one open fluid voxel")
    tiny = int(np.count_nonzero(np.asarray(voxels.wall_q) < TINY_Q))
    if tiny:
        warnings.warn(f"voxels.wall_q: {tiny} wall links with q < {TINY_Q} (fluid voxels whose centre lies on the "
                      "wall); the interpolated bounce-back loses mass through them", stacklevel=2)
    dx = float(voxels.dx)
    area = (~solid).sum(axis=(1, 2)) * dx * dx
    a_min, a_in = float(area[area > 0].min()), float(inlet_mask.sum() * dx * dx)
    u_est = 2.0 * flow / a_min if u_max is None else float(u_max)
    r_in = math.sqrt(a_in / math.pi)
    dp_est = 8.0 * viscosity * flow * solid.shape[0] * dx / (math.pi * r_in**4) + density * (flow / a_min) ** 2
    units = choose_units(dx, viscosity / density, density, u_est, dp_est, tau, mach, cells=2.0 * r_in / dx)
    params = voxels.params(units.tau, dtype=dtype)
    inlet = profiles.parabolic(inlet_mask, flow * units.dt / dx**3 / inlet_mask.sum(), dtype=dtype)
    params = dataclasses.replace(params, inlet_velocity=inlet)
    w_up = np.zeros(solid.shape)
    near = inlet_mask & ~solid[1]
    w_up[1] = near / max(near.sum(), 1)
    w_down = outlet / outlet.sum()
    f, hist, steps, conv, compile_s, run_s = solve_steady(
        params, lbm.at_rest(solid.shape, dtype), w_up, w_down, units, tol=tol, max_steps=max_steps, chunk=chunk,
        ramp=_rest_ramp(solid.shape[0], chunk), scheme=scheme, progress=progress, desc="3d mesh")
    info = {"case": "voxels", "flow_m3_s": flow, "viscosity_pa_s": viscosity, "density_kg_m3": density,
            "inlet_area_m2": a_in, "min_section_area_m2": a_min, "u_max_estimate_m_s": u_est,
            "reynolds": 2.0 * density * flow / (math.pi * r_in * viscosity), "init": "rest"}
    return _finish(f, solid, units, hist, steps, conv, compile_s, run_s, wall0, p_aortic,
                   (dx, dx * (solid.shape[0] - 1)), info, outlet, voxels.origin, getattr(voxels, "rotation", None))
