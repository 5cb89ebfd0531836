"""FDA benchmark nozzle at Re 500 (sudden expansion): D3Q19 lattice Boltzmann against the five labs' PIV.

    python benchmarks/bench_fda_nozzle.py                 # (a) CPU: shortened domain, coarse grid (≲ 30 min)
    python benchmarks/bench_fda_nozzle.py --full          # (b) GPU: full-length nozzle, finer grid, wall Δp
    python benchmarks/bench_fda_nozzle.py --full --cells 32 --steps 200   # (b)'s code path on a CPU

(a) The domain starts inside the throat at ``--z-in`` (default −0.02 m, 5 throat diameters upstream of
the expansion) with the labs' mean radial profile measured there as the inlet velocity (scaled so that
the discrete flow equals the Re 500 flow rate) and ends at ``--z-out`` (0.05 m) with a pressure outlet;
it runs to ``--t-end`` (0.135 s of physical time, about two passages of the jet through the domain) or
``--budget-s`` (1650 s of run time), whichever comes first, and compares the centreline axial velocity,
averaged over the last ``--average-steps``, with the labs' at z = 0 and at the measured stations
downstream (target: within ±10 % of the lab mean).
(b) From ``z = −0.11 m`` (upstream pipe, Poiseuille inlet at 12 mm) through the 10° converger, the
throat and the expansion to ``z = 0.16 m``; it also reports the wall pressure difference between the
taps at z = −0.0903 m and z = 0.032 m (labs: 230–413 Pa).

Both use the nozzle's mirror symmetry by default: one quadrant of the cross-section with specular
(symmetry) planes through the axis (a ghost layer refilled after every step by `mirror_fill`), a quarter
of the full box's cost; ``--no-symmetry`` runs the full box. TRT collision (magic parameter `MAGIC`),
float32 populations, interpolated (Bouzidi) bounce-back on the level set of
`cardiojax.threed.geometry.tube` with the nozzle's radius profile; units from
`cardiojax.threed.units.LatticeUnits` (τ ≥ 0.505 and Mach ≤ 0.1 at the peak velocity fix the coarsest
grid: 28 cells per throat diameter at Re 500). The readings are averaged over every chunk of steps (the
sound waves are barely damped at τ ≈ ½). Compile time is timed apart from the run. Plot and profiles go
to ``runs/fda_nozzle/<config>/``. Last line: one JSON object of figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.io.files import atomic_path
from cardiojax.threed import geometry, lbm
from cardiojax.threed.lattice import C
from cardiojax.threed.units import MAX_MACH, MIN_TAU, LatticeUnits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fda_nozzle_data as fda  # noqa: E402

#: Populations mirrored by the symmetry planes y = ½ and z = ½ (c_y → −c_y, c_z → −c_z).
MIRROR_Y = np.array([int(np.flatnonzero((C == c * [1, -1, 1]).all(1))[0]) for c in C])
MIRROR_Z = np.array([int(np.flatnonzero((C == c * [1, 1, -1]).all(1))[0]) for c in C])
CS = math.sqrt(1.0 / 3.0)
#: Downstream stations (m) compared with the labs (those inside the domain and 2 mm from the outlet).
STATIONS = (0.0, 0.008, 0.016, 0.024, 0.032, 0.04, 0.048, 0.06, 0.08)
#: TRT magic parameter Λ (τ− = Λ/(τ − ½) + ½). At τ = 0.505, Mach 0.095: with Λ = 1/4, 3/16, 1/12 and 0.05
#: the run diverged within 300–400 steps at the voxels next to the inlet plane (Λ = 1/4 also with an
#: equilibrium inlet); with Λ = 0.02 and 0.01 the inlet is stable but a grid-scale (odd–even) mode grows
#: on the axis at the expansion, where the flow is fastest, and wrecked the jet after ~10,000 steps; with
#: Λ = 0.001 (τ− ≈ 0.70) that mode, restarted at 0.03 m/s in u_y, decayed within 250 steps.
MAGIC = 0.001
CONFIGS = {
    "cpu": dict(cells=28, z_in=-0.02, z_out=0.05, inlet="measured", t_end=0.135, budget_s=1650.0),
    "full": dict(cells=40, z_in=-0.11, z_out=0.16, inlet="poiseuille", t_end=0.6, budget_s=None),
}


def mirror_fill(f):
    """Refill the ghost layers y = 0 and z = 0 (lattice units; the symmetry planes lie at y = ½ and z = ½)
    with the mirror images of the layers y = 1 and z = 1: a population streaming out of the ghost is then
    the specular reflection of its mirror partner (free-slip symmetry plane), for ``f`` (19, nx, ny, nz)."""
    f = f.at[:, :, 0, :].set(f[MIRROR_Y, :, 1, :])
    return f.at[:, :, :, 0].set(f[MIRROR_Z, :, :, 1])


def advance(params: lbm.Params, f, steps: int, scheme: lbm.Scheme, quarter: bool):
    """``steps`` LBM steps (a `lax.fori_loop`; with ``quarter`` the ghost layers are mirrored after each).
    Returns ``(f, mean δρ, mean u_x)``: the density deviation and axial velocity (nx, ny, nz; lattice units)
    averaged over the steps, which filters the weakly damped sound waves of τ ≈ ½ out of the readings."""

    def body(_, carry):
        g, sum_drho, sum_ux = carry
        g = lbm.step(params, g, scheme)
        g = mirror_fill(g) if quarter else g
        drho, u = lbm.macroscopic(g)
        return g, sum_drho + drho, sum_ux + u[0]

    zero = jnp.zeros(f.shape[1:], f.dtype)
    f, sum_drho, sum_ux = lax.fori_loop(0, steps, body, (f, zero, zero))
    return f, sum_drho / steps, sum_ux / steps


advance_jit = jax.jit(advance, static_argnums=(2, 3, 4))


def choose_units(case: fda.Case, cells: int, u_max: float) -> LatticeUnits:
    """Units for ``cells`` voxels per throat diameter: the largest τ ≥ `MIN_TAU` with Mach ≤ 0.97·`MAX_MACH`
    at ``u_max`` (m/s), refused (ValueError with the numbers) if no τ ≥ `MIN_TAU` keeps the Mach limit."""
    dx = 2 * fda.R_THROAT / cells
    nu = case.kinematic_viscosity
    tau = 0.5 + 3.0 * nu * (0.97 * MAX_MACH * CS) / (u_max * dx)  # dt = Ma·c_s·dx/u_max
    units = LatticeUnits.from_physical(dx, nu, max(tau, MIN_TAU), rho=case.density)
    try:
        units.check(u_max)
    except ValueError as err:
        dx_max = 3.0 * nu * MAX_MACH * CS / (u_max * (MIN_TAU - 0.5))  # Mach limit at tau = MIN_TAU
        raise ValueError(f"cells={cells}: {err}. At Re {case.reynolds:.0f} with tau >= {MIN_TAU}, Mach <= "
                         f"{MAX_MACH} at {u_max:.3g} m/s needs dx <= {dx_max:.3g} m, i.e. >= "
                         f"{math.ceil(2 * fda.R_THROAT / dx_max)} cells per throat diameter") from None
    return units


@dataclasses.dataclass
class Setup:
    """A lattice set-up: units, node positions ``z`` (m, along lattice x), axis ``centre`` (lattice units, in
    y and z), ``quarter`` (symmetry planes), LBM ``params``, initial populations ``f0`` and inlet profile."""

    units: LatticeUnits
    cells: int
    z: np.ndarray
    centre: float
    quarter: bool
    params: lbm.Params
    f0: jax.Array
    radius_lat: np.ndarray
    inlet_ux: np.ndarray


def inlet_profile(case: fda.Case, kind: str, station: float, r, radius: float):
    """Axial velocity (m/s) at radii ``r`` (m) in a lumen of ``radius`` (m): ``measured`` (the labs' mean
    profile at the measured ``station``, m) or ``poiseuille`` (2·U·(1 − r²/R²) at the flow rate); zero at
    and beyond the wall."""
    inside = r < radius
    if kind == "poiseuille":
        u_mean = case.flow_rate / (math.pi * radius**2)
        return np.where(inside, 2 * u_mean * (1 - (r / radius) ** 2), 0.0)
    if kind == "measured":
        mean, _ = fda.radial_profile(case, station, np.minimum(r, radius))
        return np.where(inside, np.maximum(mean, 0.0), 0.0)
    raise ValueError(f"inlet={kind!r}: expected 'measured' or 'poiseuille'")


def build(case: fda.Case, cells: int, z_in: float, z_out: float, inlet: str = "measured", quarter: bool = True,
          u_max: float | None = None, dtype=jnp.float32) -> Setup:
    """Voxelise the nozzle between ``z_in`` and ``z_out`` (m) at ``cells`` voxels per throat diameter (the
    expansion lies half-way between two node planes, so the first node is within ½ voxel of ``z_in``), with
    the inlet velocity (``measured``: the labs' profile at the station ``z_in``) and an initial jet."""
    zs, mean, *_ = fda.centreline_stats(case)
    if u_max is None:  # the largest measured centreline velocity in the domain plus 5 %, or the start's
        inside = (zs >= z_in - 0.01) & (zs <= z_out)
        u_max = 1.05 * float(mean[inside].max() if inside.any() else mean.max())
        if inlet == "poiseuille":  # the initial jet is the throat's Poiseuille profile
            u_max = max(u_max, 2 * case.throat_velocity)
    units = choose_units(case, cells, u_max)
    dx = units.dx
    k = math.ceil(-z_in / dx - 0.5)
    nx = k + math.ceil(z_out / dx)
    z = (np.arange(nx) - k + 0.5) * dx  # the expansion z = 0 lies between nodes k − 1 and k
    r_out = fda.R_OUTER / dx
    if quarter:
        n, centre = int(math.floor(r_out + 0.5)) + 2, 0.5
    else:
        n = 2 * (int(math.floor(r_out + 0.5)) + 2) - 2
        centre = (n - 1) / 2.0
    shape = (nx, n, n)
    radius_lat = fda.nozzle_radius(z) / dx
    phi = geometry.tube(lambda s: fda.nozzle_radius(z[0] + s * (z[-1] - z[0])) / dx,
                        (0.0, centre, centre), (nx - 1.0, centre, centre))
    solid = geometry.solid_mask(phi, shape)
    if not (solid[:, -1, :].all() and solid[:, :, -1].all() and (quarter or solid[:, 0, :].all())):
        raise ValueError(f"box {shape} does not enclose the nozzle (outer radius {r_out:.2f} voxels)")
    wall_q = geometry.link_fractions(phi, shape)
    yy, zz = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    r_si = np.hypot(yy - centre, zz - centre) * dx
    ux = inlet_profile(case, inlet, z_in, r_si, float(fda.nozzle_radius(z[0]))) * ~solid[0]
    counted = (yy >= 1) & (zz >= 1) if quarter else np.ones_like(solid[0])
    flow = float(np.sum(ux * counted)) * dx * dx * (4 if quarter else 1)
    ux *= case.flow_rate / flow  # the discrete flow equals the measured flow rate
    u_in = np.zeros((3, n, n))
    u_in[0] = units.velocity(1.0) * ux
    u0 = np.zeros((3,) + shape)
    if inlet == "measured":  # start from a straight jet: the inlet profile continued along the axis
        u0[0] = np.where(solid, 0.0, u_in[0][None])
    else:  # Poiseuille flow in the local lumen, then a straight jet of the throat's width past the expansion
        r_eff = np.where(z < fda.Z_EXPANSION, fda.nozzle_radius(z), fda.R_THROAT)[:, None, None] / dx
        rel = np.hypot(yy - centre, zz - centre)[None] / r_eff
        u_mean = case.flow_rate / (math.pi * (r_eff * dx) ** 2)
        u0[0] = np.where(solid | (rel >= 1), 0.0, units.velocity(1.0) * 2 * u_mean * (1 - rel**2))
    params = lbm.Params(jnp.asarray(units.tau, dtype), jnp.zeros(3, dtype), jnp.asarray(solid),
                        jnp.asarray(wall_q, dtype), inlet_velocity=jnp.asarray(u_in, dtype),
                        outlet_drho=jnp.asarray(0.0, dtype))
    lbm.check_params(units.tau, solid)
    f0 = lbm.equilibrium(jnp.zeros(shape, dtype), jnp.asarray(u0, dtype))
    return Setup(units, cells, z, centre, quarter, params, f0, radius_lat, ux)


def centreline_lattice(ux, centre: float):
    """Centreline value along x of the axial velocity ``ux`` (nx, ny, nz) whose axis lies at (centre, centre),
    a half-integer: u = a + b·r² fitted to the 4 voxels at r² = ½ and 4 at r² = 5/2 (second order)."""
    k = int(math.floor(centre))
    ring1 = (ux[:, k, k] + ux[:, k + 1, k] + ux[:, k, k + 1] + ux[:, k + 1, k + 1]) / 4
    ring2 = (ux[:, k + 2, k] + ux[:, k + 2, k + 1] + ux[:, k, k + 2] + ux[:, k + 1, k + 2]) / 4
    return ring1 - (ring2 - ring1) / 4


def wall_pressure_lattice(drho, solid, radius_lat, centre: float):
    """Lattice pressure c_s²·δρ along x averaged over the fluid voxels within 1.5 voxels of the wall."""
    n = drho.shape[1]
    yy, zz = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    r = np.hypot(yy - centre, zz - centre)[None]
    ring = (~solid) & (r >= radius_lat[:, None, None] - 1.5)
    return np.sum(np.where(ring, drho, 0.0), axis=(1, 2)) / np.maximum(ring.sum(axis=(1, 2)), 1) / 3.0


def measure(setup: Setup, drho, ux):
    """Centreline axial velocity (m/s) and near-wall pressure (Pa) along z from the (time-averaged)
    lattice density deviation ``drho`` and axial velocity ``ux`` (nx, ny, nz)."""
    solid = np.asarray(setup.params.solid)
    ux_c = setup.units.velocity_si(centreline_lattice(np.asarray(ux, float), setup.centre))
    p = setup.units.pressure_si(wall_pressure_lattice(np.asarray(drho, float), solid, setup.radius_lat,
                                                      setup.centre))
    return ux_c, p


def largest_speed(setup: Setup, f) -> float:
    """The largest fluid speed (m/s) of populations ``f``."""
    _, u = lbm.macroscopic(f)
    speed = np.sqrt(np.sum(np.asarray(u, float) ** 2, axis=0))[~np.asarray(setup.params.solid)]
    return float(setup.units.velocity_si(speed.max()))


def stations_in(setup: Setup):
    """The comparison stations inside the domain, at least 2 mm upstream of the outlet."""
    return [s for s in STATIONS if setup.z[0] <= s <= setup.z[-1] - 0.002]


def simulate(setup: Setup, steps: int, chunk: int, scheme: lbm.Scheme, budget_s: float | None = None):
    """Run ``steps`` steps (a multiple of ``chunk``) in jit-compiled chunks with a tqdm bar, recording each
    chunk's mean centreline velocity (m/s) and near-wall pressure (Pa) along z. Returns ``((f, mean u_x of
    the last chunk), history, compile_s, run_s, steps_done)``, ``history`` a list of (step, centreline, wall
    pressure); stops early past ``budget_s`` s of run time or if the velocities stop being finite."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    compiled = advance_jit.lower(setup.params, setup.f0, chunk, scheme, setup.quarter).compile()
    compile_s = time.perf_counter() - t0
    f, done, history, run_s = setup.f0, 0, [], 0.0
    with tqdm(total=steps, unit="step", desc=f"FDA nozzle {setup.cells} cells/D") as bar:
        while done < steps:
            t0 = time.perf_counter()
            f, drho, ux = jax.block_until_ready(compiled(setup.params, f))
            run_s += time.perf_counter() - t0
            done += chunk
            ux_c, p_wall = measure(setup, drho, ux)
            history.append((done, ux_c, p_wall))
            bar.update(chunk)
            bar.set_postfix(u_z0=f"{np.interp(0.0, setup.z, ux_c):.4f} m/s")
            if not np.all(np.isfinite(ux_c)):
                bar.write(f"non-finite velocity after {done} steps: the run diverged")
                break
            if budget_s is not None and run_s > budget_s:
                bar.write(f"stopping at the run-time budget of {budget_s:.0f} s after {done} steps")
                break
    return (f, ux), history, compile_s, run_s, done


def window_average(history, steps: int, z, stations):
    """Mean centreline and wall pressure along ``z`` over the last ``steps`` steps of ``history`` (whole
    chunks), and the largest change of the centreline velocity at the ``stations`` (m) between that window
    and the one before it (m/s; NaN without an earlier window)."""
    n = max(1, min(len(history) // 2, round(steps / max(history[0][0], 1))))
    last, before = history[-n:], history[-2 * n:-n]
    ux_c = np.mean([h[1] for h in last], axis=0)
    p_wall = np.mean([h[2] for h in last], axis=0)
    if not before:
        return ux_c, p_wall, float("nan")
    change = np.interp(stations, z, ux_c) - np.interp(stations, z, np.mean([h[1] for h in before], axis=0))
    return ux_c, p_wall, float(np.max(np.abs(change)))


def compare(case: fda.Case, setup: Setup, ux_c) -> list:
    """Per station: z (m), LBM and lab-mean centreline velocity (m/s), labs' min/max, relative error."""
    zs, mean, lo, hi, count = fda.centreline_stats(case)
    rows = []
    for s in stations_in(setup):
        i = int(np.argmin(np.abs(zs - s)))
        u = float(np.interp(s, setup.z, ux_c))
        rows.append(dict(z_m=s, lbm_m_s=round(u, 4), lab_mean_m_s=round(float(mean[i]), 4), lab_min_m_s=float(lo[i]),
                         lab_max_m_s=float(hi[i]), labs=int(count[i]), rel_err=round(u / float(mean[i]) - 1, 4)))
    return rows


def plot(case: fda.Case, setup: Setup, ux_lattice, ux_c, out_dir: Path) -> Path:
    """Centreline velocity ``ux_c`` (m/s) vs z (LBM, each lab, lab mean ±10 %), radial profiles at three
    stations and a mid-plane slice of the axial velocity ``ux_lattice`` (nx, ny, nz; lattice units);
    written to ``out_dir/fda_nozzle.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ux = setup.units.velocity_si(np.asarray(ux_lattice, float))
    fig, axes = plt.subplots(3, 1, figsize=(10, 11), gridspec_kw=dict(height_ratios=[1.2, 1, 0.8]))
    ax = axes[0]
    zs, mean, *_ = fda.centreline_stats(case)
    for lab, (z, uz) in fda.centreline(case).items():
        ax.plot(z * 1e3, uz, "o", ms=3, alpha=0.6, label=f"lab {lab}")
    ax.fill_between(zs * 1e3, 0.9 * mean, 1.1 * mean, color="grey", alpha=0.25, label="lab mean ±10 %")
    ax.plot(zs * 1e3, mean, "k--", lw=1, label="lab mean")
    ax.plot(setup.z * 1e3, ux_c, "r-", lw=2, label=f"LBM ({setup.cells} cells/D$_t$)")
    ax.set(xlabel="z (mm)", ylabel="centreline $u_z$ (m/s)", title=f"FDA nozzle, {case.name}, Re {case.reynolds:.0f}")
    ax.legend(fontsize=7, ncol=2)
    ax = axes[1]
    yc = int(math.floor(setup.centre)) + 1  # the first voxel row off the axis plane
    r_vox = (np.arange(ux.shape[1]) - setup.centre) * setup.units.dx
    for s, colour in zip([s for s in (0.0, 0.016, 0.032) if setup.z[0] <= s <= setup.z[-1]], "rgb"):
        i = int(np.argmin(np.abs(setup.z - s)))
        keep = ~np.asarray(setup.params.solid)[i, :, yc] & (r_vox > 0)
        ax.plot(r_vox[keep] * 1e3, ux[i, keep, yc], "-", color=colour, label=f"LBM z = {s * 1e3:.0f} mm")
        r = np.linspace(0, fda.R_OUTER, 61)
        try:
            lab_mean, _ = fda.radial_profile(case, s, r)
            ax.plot(r * 1e3, lab_mean, "--", color=colour, label=f"lab mean z = {s * 1e3:.0f} mm")
        except ValueError:
            pass
    ax.set(xlabel="r (mm)", ylabel="$u_z$ (m/s)")
    ax.legend(fontsize=7)
    ax = axes[2]
    plane = ux[:, :, yc].T
    if setup.quarter:  # mirror the quadrant to show the full section
        plane = np.concatenate([plane[:0:-1], plane[1:]], axis=0)
        half = (plane.shape[0] / 2) * setup.units.dx
    else:
        half = (plane.shape[0] / 2) * setup.units.dx
    solid = np.asarray(setup.params.solid)[:, :, yc].T
    if setup.quarter:
        solid = np.concatenate([solid[:0:-1], solid[1:]], axis=0)
    im = ax.imshow(np.where(solid, np.nan, plane), origin="lower", aspect="auto", cmap="viridis",
                   extent=[setup.z[0] * 1e3, setup.z[-1] * 1e3, -half * 1e3, half * 1e3])
    fig.colorbar(im, ax=ax, label="$u_z$ (m/s)")
    ax.set(xlabel="z (mm)", ylabel="y (mm)", title="mid-plane axial velocity")
    fig.tight_layout()
    path = out_dir / "fda_nozzle.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="configuration (b): full-length nozzle (GPU-sized)")
    ap.add_argument("--cells", type=int, help="voxels per throat diameter (cpu 28, full 40)")
    ap.add_argument("--z-in", type=float, help="inlet plane z (m)")
    ap.add_argument("--z-out", type=float, help="outlet plane z (m)")
    ap.add_argument("--t-end", type=float, help="physical time to run (s)")
    ap.add_argument("--steps", type=int, help="number of steps (overrides --t-end)")
    ap.add_argument("--chunk", type=int, default=500, help="steps per compiled chunk")
    ap.add_argument("--average-steps", type=int, default=2000, help="report the mean over the last steps")
    ap.add_argument("--budget-s", type=float, help="stop after this much run time (s; cpu default 1650)")
    ap.add_argument("--magic", type=float, default=MAGIC, help="TRT magic parameter")
    ap.add_argument("--no-symmetry", action="store_true", help="full box instead of one quadrant")
    ap.add_argument("--out", default=str(fda.ROOT / "runs" / "fda_nozzle"), help="output folder")
    return ap.parse_args(argv)


def report(case: fda.Case, setup: Setup, rows, dp, labs_dp, png, speed, drift) -> None:
    """Print the comparison table, the pressure difference and the run's health."""
    print(f"{'z (mm)':>7} {'LBM':>8} {'lab mean':>9} {'labs':>17} {'rel err':>8}")
    for r in rows:
        print(f"{r['z_m'] * 1e3:7.1f} {r['lbm_m_s']:8.4f} {r['lab_mean_m_s']:9.4f} "
              f"{r['lab_min_m_s']:8.4f}-{r['lab_max_m_s']:.4f} {r['rel_err']:+8.2%}")
    if dp is not None:
        print(f"wall pressure difference p({fda.Z_TAP_UPSTREAM}) - p({fda.Z_TAP_DOWNSTREAM}) = {dp:.1f} Pa; labs "
              f"{min(labs_dp.values()):.0f}-{max(labs_dp.values()):.0f} Pa")
    print(f"plot: {png}; largest speed {speed:.3f} m/s = Mach {setup.units.velocity(speed) / CS:.3f}; change at the "
          f"stations between the last two averaging windows {drift:.4f} m/s")


def main(argv=None) -> dict:
    args = parse_args(argv)
    config = "full" if args.full else "cpu"
    cfg = dict(CONFIGS[config])
    keys = ("cells", "z_in", "z_out", "t_end", "budget_s")
    cfg.update({k: getattr(args, k) for k in keys if getattr(args, k) is not None})
    case = fda.load_case("SE_exp_0500")
    t0 = time.perf_counter()
    setup = build(case, cfg["cells"], cfg["z_in"], cfg["z_out"], cfg["inlet"], quarter=not args.no_symmetry)
    build_s = time.perf_counter() - t0
    units, shape = setup.units, setup.f0.shape[1:]
    chunk = max(1, min(args.chunk, args.steps or args.chunk))
    steps = chunk * math.ceil((args.steps or math.ceil(cfg["t_end"] / units.dt)) / chunk)
    fluid = int((~np.asarray(setup.params.solid)).sum())
    print(f"config {config}: {setup.cells} cells per throat diameter, dx = {units.dx * 1e3:.4f} mm, "
          f"dt = {units.dt * 1e6:.3f} us, tau = {units.tau:.5f}, box {shape} ({np.prod(shape) / 1e6:.2f} M voxels, "
          f"{fluid / 1e6:.2f} M fluid{', one quadrant' if setup.quarter else ''}), z = {setup.z[0]:.4f} .. "
          f"{setup.z[-1]:.4f} m, {steps} steps = {steps * units.dt:.4f} s, {np.prod(shape) * steps:.3g} voxel "
          f"updates (geometry built in {build_s:.1f} s)")
    (f, ux_last), history, compile_s, run_s, done = simulate(setup, steps, chunk, lbm.Scheme("trt", args.magic),
                                                             cfg["budget_s"])
    ux_c, p_wall, drift = window_average(history, args.average_steps, setup.z, stations_in(setup))
    rows = compare(case, setup, ux_c)
    dp = None
    if setup.z[0] <= fda.Z_TAP_UPSTREAM and fda.Z_TAP_DOWNSTREAM <= setup.z[-1]:
        dp = float(np.interp(fda.Z_TAP_UPSTREAM, setup.z, p_wall) - np.interp(fda.Z_TAP_DOWNSTREAM, setup.z, p_wall))
    labs_dp = fda.wall_pressure_difference(case)
    out_dir = Path(args.out) / config
    png = plot(case, setup, ux_last, ux_c, out_dir) if np.all(np.isfinite(ux_c)) else None
    stations = stations_in(setup)
    with atomic_path(out_dir / "profiles.npz") as tmp, open(tmp, "wb") as fh:  # z (m), u (m/s), p (Pa)
        np.savez(fh, z=setup.z, centreline_u=ux_c, wall_p=p_wall, stations=stations,
                 history_steps=[h[0] for h in history],
                 history_u=np.array([np.interp(stations, setup.z, h[1]) for h in history]))
    speed = largest_speed(setup, f)
    report(case, setup, rows, dp, labs_dp, png, speed, drift)
    at_z0 = rows[0] if rows and rows[0]["z_m"] == 0.0 else {}
    result = {
        "config": config, "cells_per_throat_diameter": setup.cells, "dx_m": units.dx, "dt_s": units.dt,
        "tau": round(units.tau, 6), "magic": args.magic, "symmetry": "quadrant" if setup.quarter else "none",
        "shape": list(shape), "z_in_m": round(float(setup.z[0]), 5), "z_out_m": round(float(setup.z[-1]), 5),
        "inlet": cfg["inlet"], "u_z0_m_s": at_z0.get("lbm_m_s"), "u_z0_lab_mean_m_s": at_z0.get("lab_mean_m_s"),
        "u_z0_rel_err": at_z0.get("rel_err"),
        "jet_max_rel_err": max((abs(r["rel_err"]) for r in rows if r["z_m"] > 0), default=None),
        "stations": [{k: r[k] for k in ("z_m", "lbm_m_s", "lab_mean_m_s", "rel_err")} for r in rows],
        "averaged_steps": min(args.average_steps, done),
        "window_drift_m_s": round(drift, 5) if math.isfinite(drift) else None,
        "mach_max": round(units.velocity(speed) / CS, 4), "steps": done,
        "physical_time_s": round(done * units.dt, 5), "run_s": round(run_s, 1), "compile_s": round(compile_s, 2),
        "mlups": round(float(np.prod(shape) * done / run_s / 1e6), 2), "dp_wall_pa": dp,
        "dp_labs_pa": [round(min(labs_dp.values()), 1), round(max(labs_dp.values()), 1)],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
