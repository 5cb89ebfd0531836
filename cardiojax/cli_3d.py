"""``cardiojax 3d``: steady flow through a stenosed vessel or a mesh with the lattice-Boltzmann solver.

    cardiojax 3d -o DIR                                    # the default coronary stenosis (below)
    cardiojax 3d --radius 1.5e-3 --severity 0.7 --flow 1.5e-7 -o DIR
    cardiojax 3d MESH.vtu --dx 1e-4 --flow 1e-6 -o DIR     # a meshio surface/volume mesh in metres

Stenosed vessel (no MESH): a straight coronary segment with a cosine lesion, SI units. Defaults: radius
1.5 mm (a proximal LAD), length 12 diameters, lesion 2 diameters long centred at 30 % of the length,
50 % diameter stenosis, blood μ = 3.5 mPa·s and ρ = 1060 kg/m³, aortic pressure 93 mmHg, and a low
resting flow of 0.5 mL/s (Re 64, throat Re 128), chosen so that the default runs in a few minutes on a
2-core CPU (16 voxels per diameter). Any flow is accepted, but the lattice needs a cell Reynolds number
u_max·Δx/ν below about 35 (Mach ≤ 0.1 at τ ≥ 0.505): ``--cells-across`` defaults to the fewest voxels per
diameter the flow allows (at least 16) and a coarser request is refused with the number needed. 1 mL/s
needs 30 (and went unstable at τ = 0.5051 after 15,000 steps: ask for ``--tau-min 0.51``, 60 voxels);
hyperemic 2–4 mL/s need 60–120+ at 50 % — GPU-sized runs.

Mesh: flow enters at the low end of ``--axis`` (see `cardiojax.threed.voxelise.voxelise_mesh`), with a
parabolic profile carrying ``--flow``; open ends are pressure outlets. ΔP is inlet minus outlet pressure.

Prints a summary (resolution, steps, ΔP in Pa and mmHg, FFR, MLUPS, compile and wall time) and writes to
DIR: ``summary.json`` (SI units), ``fields.vtu`` (velocity m/s, pressure Pa, speed on the fluid voxels, for
ParaView), ``slices.png`` (mid-plane speed and pressure) and ``pressure_profile.png`` (section-mean pressure
along the vessel). The LBM runs in float32 (chosen here, at the entry point; JAX's global flags are left
alone). Exit status 0, or 3 if ΔP did not settle within ``--max-steps``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from cardiojax.io.files import atomic_path
from cardiojax.units import ML_PER_S, MMHG

#: Fewest voxels per diameter chosen automatically for the stenosed vessel.
MIN_AUTO_CELLS = 16


def add_parser(sub) -> None:
    p = sub.add_parser("3d", help="steady 3D lattice-Boltzmann flow through a stenosed vessel or a mesh: ΔP, FFR",
                       description=__doc__.splitlines()[0])
    p.add_argument("mesh", nargs="?", help="a meshio mesh (.vtu, .vtk, .stl, .obj) in metres; default: the "
                   "stenosed vessel")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--radius", type=float, default=1.5e-3, help="vessel radius, m (default 1.5e-3)")
    p.add_argument("--length", type=float, help="vessel length, m (default 12 diameters)")
    p.add_argument("--severity", type=float, default=0.5, help="diameter stenosis in [0, 1) (default 0.5)")
    p.add_argument("--lesion-length", type=float, help="lesion length, m (default 2 diameters)")
    p.add_argument("--position", type=float, default=0.3, help="lesion centre, fraction of the length (0.3)")
    p.add_argument("--flow", type=float, default=5e-7, help="steady inflow, m³/s (default 5e-7 = 0.5 mL/s)")
    p.add_argument("--viscosity", type=float, default=3.5e-3, help="blood viscosity, Pa·s (default 3.5e-3)")
    p.add_argument("--density", type=float, default=1060.0, help="blood density, kg/m³ (default 1060)")
    p.add_argument("--p-aortic-mmhg", type=float, default=93.0, help="aortic pressure for FFR, mmHg (93)")
    p.add_argument("--cells-across", type=int, help="voxels per diameter (default: the fewest the flow allows, "
                   f">= {MIN_AUTO_CELLS})")
    p.add_argument("--dx", type=float, help="voxel size for a mesh, m (required with MESH)")
    p.add_argument("--axis", type=int, default=0, choices=(0, 1, 2), help="mesh flow axis (default 0 = x)")
    p.add_argument("--reverse", action="store_true", help="mesh flow runs towards the low end of --axis")
    p.add_argument("--u-max", type=float, help="largest velocity expected in a mesh, m/s (default: twice the "
                   "mean velocity in its narrowest slice)")
    p.add_argument("--tau", type=float, help="relaxation time (default: the largest time step safe for Mach)")
    p.add_argument("--tau-min", type=float, default=0.505,
                   help="smallest automatic τ (default 0.505; 0.51 is safer for jets at throat Re > 200)")
    p.add_argument("--max-steps", type=int, default=100_000, help="step cap (default 100000)")
    p.add_argument("--tol", type=float, default=1e-3, help="relative ΔP change between chunks to stop (1e-3)")
    p.add_argument("--chunk", type=int, help="steps per convergence check (default ~4·nx/c_s)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def stenosis_case(args):
    """The `StenosisCase` of the command line, with the automatic resolution if none is given."""
    from cardiojax.threed.case import StenosisCase

    kw = dict(radius=args.radius, length=args.length, severity=args.severity, lesion_length=args.lesion_length,
              position=args.position, flow=args.flow, viscosity=args.viscosity, density=args.density,
              p_aortic=args.p_aortic_mmhg * MMHG, tau=args.tau, tau_min=args.tau_min)
    if args.cells_across is not None:
        return StenosisCase(cells_across=args.cells_across, **kw)
    return StenosisCase(cells_across=StenosisCase(cells_across=MIN_AUTO_CELLS, **kw).min_cells_across(), **kw)


def young_tsai_dp(case) -> float:
    """cardiojax's lumped model between the ΔP probes: Poiseuille of the healthy tube plus the Young–Tsai
    lesion (`cardiojax.lumped.young_tsai`), Pa."""
    from cardiojax.lumped import young_tsai
    from cardiojax.units import Blood

    up, down = case.probes
    r_v, s = young_tsai(case.diameter, case.severity, case.lesion, Blood(case.density, case.viscosity))
    lesion = float(r_v) * case.flow + float(s) * case.flow**2 if case.severity > 0 else 0.0
    return 8.0 * case.viscosity * case.flow * (down - up) / (math.pi * case.radius**4) + lesion


def run(args: argparse.Namespace) -> int:
    """The ``cardiojax 3d`` command (see ``cardiojax 3d --help``)."""
    import jax.numpy as jnp

    from cardiojax.threed.case import run_voxels

    if args.max_steps < 1 or not args.tol > 0:
        raise ValueError(f"--max-steps={args.max_steps}, --tol={args.tol}: expected max-steps >= 1, tol > 0")
    solve = dict(tol=args.tol, max_steps=args.max_steps, chunk=args.chunk, dtype=jnp.float32,
                 progress=not args.no_progress)  # entry point: the LBM runs in float32
    out = Path(args.output)
    if args.mesh:
        from cardiojax.threed.voxelise import voxelise_mesh

        if args.dx is None:
            raise ValueError("--dx (voxel size, m) is required with a mesh")
        voxels = voxelise_mesh(args.mesh, args.dx, args.axis, reverse=args.reverse)
        res = run_voxels(voxels, args.flow, viscosity=args.viscosity, density=args.density,
                         p_aortic=args.p_aortic_mmhg * MMHG, tau=args.tau, u_max=args.u_max, **solve)
        title, dp_0d = f"mesh {Path(args.mesh).name}, Q = {args.flow / ML_PER_S:.3g} mL/s", None
    else:
        case = stenosis_case(args)
        res = case.run(**solve)
        dp_0d = young_tsai_dp(case)
        title = (f"stenosed vessel R = {1e3 * case.radius:.2f} mm, {100 * case.severity:.0f} % diameter stenosis, "
                 f"Q = {case.flow / ML_PER_S:.3g} mL/s (Re {case.reynolds:.3g})")
    summary = {**res.summary(), "dp_0d_young_tsai_pa": dp_0d, "command": "cardiojax " + " ".join(args.argv)}
    _write(out, res, summary, title)
    _print_summary(summary, title, out)
    return 0 if res.converged else 3


def _write(out: Path, res, summary: dict, title: str) -> None:
    from cardiojax.threed.outputs import save_pressure_profile_png, save_slices_png, write_vtu

    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    write_vtu(out / "fields.vtu", res.solid, res.units, {"velocity": res.velocity, "pressure": res.pressure},
              origin=res.origin, rotation=res.rotation)
    save_slices_png(out / "slices.png", {"velocity": res.velocity, "pressure": res.pressure}, res.solid,
                    res.units, origin=(0.0, 0.0, 0.0), title=title)
    save_pressure_profile_png(out / "pressure_profile.png", res.x_m, res.p_section_pa, marks=res.probes_m,
                              title=f"{title}\nΔP = {res.dp_pa:.4g} Pa between the dotted probes, FFR = {res.ffr:.3f}")


def _print_summary(s: dict, title: str, out: Path) -> None:
    nx, ny, nz = s["shape"]
    change = s["dp_rel_change"]
    state = "converged" if s["converged"] else "NOT converged"
    print(f"cardiojax 3d: {title}")
    rows = [
        ("resolution", f"dx = {1e3 * s['dx_m']:.4g} mm, dt = {1e6 * s['dt_s']:.4g} µs, tau = {s['tau']:.4f}, "
                       f"grid {nx}×{ny}×{nz} ({s['fluid_cells']:,} fluid voxels)"),
        ("steps", f"{s['steps']:,} = {1e3 * s['simulated_time_s']:.4g} ms simulated; {state} "
                  f"(last ΔP change {change if change is None else f'{change:.1e}'})"),
        ("ΔP", f"{s['dp_pa']:.4g} Pa = {s['dp_mmhg']:.4g} mmHg"
               + ("" if s["dp_0d_young_tsai_pa"] is None else f"  (0D Young–Tsai: {s['dp_0d_young_tsai_pa']:.4g} Pa)")),
        ("FFR", f"{s['ffr']:.4f} (p_aortic {s['p_aortic_pa'] / MMHG:.4g} mmHg)"),
        ("Mach max", f"{s['mach_max']:.3f}"),
        ("speed", f"{s['mlups']:.2f} MLUPS ({s['mlups_fluid']:.2f} fluid)"),
        ("time", f"compile {s['compile_s']:.2f} s, run {s['run_s']:.2f} s, wall {s['wall_s']:.2f} s"),
    ]
    for name, value in rows:
        print(f"  {name:<11}{value}")
    if not s["converged"]:
        print("  WARNING: ΔP still changing at --max-steps; raise --max-steps or loosen --tol")
    print(f"  wrote {out}/summary.json, fields.vtu, slices.png, pressure_profile.png")
