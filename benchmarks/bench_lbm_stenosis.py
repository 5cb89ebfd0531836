"""Coronary stenosis: 3D lattice-Boltzmann ΔP against cardiojax's 0D Young–Tsai lesion (and the 1D lumped lesion).

    python benchmarks/bench_lbm_stenosis.py [--cells 14 20] [--severities 0.5 0.7] [--flows 0.45 0.16]

A straight coronary segment (R = 1.5 mm, 8 diameters long) with a cosine lesion 2 diameters long centred
2.5 diameters from the inlet (`cardiojax.threed.case.StenosisCase`, the lesion shape of
`cardiojax.tree.lumen_radius`), blood ρ = 1060 kg/m³, μ = 3.5 mPa·s, steady inflow with a parabolic profile,
run to a steady ΔP (float32, TRT, Bouzidi walls) at two resolutions. ΔP is taken between the section-mean
pressures at 0.75 D (halfway to the lesion) and 7 D (one diameter before the outlet, 3.5 D past the lesion,
after the pressure recovery of the jet).

Compared with, between the same two planes:
* cardiojax's 0D model of the segment (`cardiojax.lumped.segment_coefficients`): Poiseuille of the healthy
  tube plus the Young–Tsai lesion ``R_v·Q + S·Q²`` (`cardiojax.lumped.young_tsai`, Kv = 32(0.83 Ls +
  1.64 D1)/D0·(A0/A1)², Kt = 1.52); the 1D solver's lumped lesion (`cardiojax.oned.stenosis_loss`) is the
  same law, and the run checks that the two agree;
* an explanatory smooth-lesion estimate: the lubrication integral 8μQ/π ∫(r⁻⁴ − R⁻⁴) dx over the cosine
  profile plus the Borda–Carnot expansion loss ½ρU0²(A0/A1 − 1)².

Flows. The lattice needs u_max·Δx/ν ≲ 35 (Mach ≤ 0.1 at τ ≥ 0.505), so physiological hyperemic flows
(1–3 mL/s: Re 130–390, throat Re up to 1300) need 30–130 voxels per diameter: far beyond a 10-minute run on
2 CPU cores. The defaults are the largest flows the coarse grid (14 voxels per diameter) accepts: 0.45 mL/s
at 50 % (Re 58, throat Re 116) and 0.16 mL/s at 70 % (Re 21, throat Re 69); pass ``--flows`` and
``--cells`` for a GPU-sized run at hyperemic flow. Compile time is reported apart from run time; MLUPS
count all cell updates (and fluid ones) per second of LBM time. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

R = 1.5e-3
D = 2.0 * R
MU, RHO = 3.5e-3, 1060.0


def _smooth_lesion(case) -> float:
    """Lubrication viscous excess over the cosine lesion plus the Borda–Carnot expansion loss, Pa."""
    from cardiojax.threed.geometry import stenosed_radius

    start, end = case.lesion_span
    x = np.linspace(start, end, 4001)
    r = R * np.asarray(stenosed_radius(1.0, None, case.severity, case.lesion, case.position,
                                       case.total_length)(x / case.total_length))
    viscous = 8.0 * MU * case.flow / math.pi * np.trapezoid(r**-4.0 - R**-4.0, x)
    u0 = case.flow / (math.pi * R**2)
    return float(viscous + 0.5 * RHO * u0**2 * ((1.0 - case.severity) ** -2 - 1.0) ** 2)


def _zero_d(case):
    """(Poiseuille between the probes, Young–Tsai viscous term, Young–Tsai expansion term), Pa; checks the 1D
    solver's lumped lesion gives the same law."""
    from cardiojax.lumped import young_tsai
    from cardiojax.oned import stenosis_loss
    from cardiojax.units import Blood

    blood = Blood(RHO, MU)
    r_v, s = (float(v) for v in young_tsai(D, case.severity, case.lesion, blood))
    r_1d, s_1d = stenosis_loss(R, case.severity, case.lesion, blood)
    assert math.isclose(r_1d, r_v, rel_tol=1e-12) and math.isclose(s_1d, s, rel_tol=1e-12)
    up, down = case.probes
    pois = 8.0 * MU * case.flow * (down - up) / (math.pi * R**4)
    return pois, r_v * case.flow, s * case.flow**2


def run_case(severity, flow, cells, args) -> dict:
    from cardiojax.threed.case import StenosisCase

    case = StenosisCase(radius=R, length=args.length_d * D, severity=severity, lesion_length=2.0 * D,
                        position=2.5 / args.length_d, flow=flow, viscosity=MU, density=RHO, cells_across=cells)
    res = case.run(tol=args.tol, max_steps=args.max_steps, progress=not args.no_progress)
    pois, yt_v, yt_t = _zero_d(case)
    return {
        "severity": severity, "flow_ml_s": flow * 1e6, "cells_across": cells, "reynolds": case.reynolds,
        "tau": res.units.tau, "steps": res.steps, "converged": res.converged, "dp_lbm_pa": res.dp_pa,
        "dp_lbm_lesion_pa": res.dp_pa - pois, "dp_poiseuille_pa": pois, "dp_yt_viscous_pa": yt_v,
        "dp_yt_expansion_pa": yt_t, "dp_young_tsai_pa": pois + yt_v + yt_t, "dp_young_tsai_lesion_pa": yt_v + yt_t,
        "dp_smooth_lesion_pa": _smooth_lesion(case), "mass_defect": res.info["mass_defect"],
        "mach_max": res.mach_max, "mlups": res.mlups, "mlups_fluid": res.mlups_fluid, "compile_s": res.compile_s,
        "run_s": res.run_s, "cells": int(np.prod(res.solid.shape))}


def _print_table(rows) -> None:
    print(f"{'sev':>4} {'Q mL/s':>7} {'Re':>5} {'N':>3} {'tau':>7} {'steps':>6} {'ΔP LBM':>8} {'ΔP 0D':>8} {'rel':>7} "
          f"{'lesion LBM':>10} {'YT visc+exp':>13} {'rel':>7} {'smooth':>7} {'mass':>6} {'MLUPS':>6} {'run s':>6}")
    for r in rows:
        rel = r["dp_lbm_pa"] / r["dp_young_tsai_pa"] - 1.0
        rel_l = r["dp_lbm_lesion_pa"] / r["dp_young_tsai_lesion_pa"] - 1.0
        print(f"{r['severity']:>4.2f} {r['flow_ml_s']:>7.3f} {r['reynolds']:>5.0f} {r['cells_across']:>3d} "
              f"{r['tau']:>7.4f} {r['steps']:>6d} {r['dp_lbm_pa']:>8.2f} {r['dp_young_tsai_pa']:>8.2f} {rel:>+7.1%} "
              f"{r['dp_lbm_lesion_pa']:>10.2f} {r['dp_yt_viscous_pa']:>6.1f}+{r['dp_yt_expansion_pa']:<6.1f} "
              f"{rel_l:>+7.1%} {r['dp_smooth_lesion_pa']:>7.2f} {-r['mass_defect']:>+6.1%} {r['mlups']:>6.2f} "
              f"{r['run_s']:>6.1f}" + ("" if r["converged"] else "  (not converged)"))
    print("ΔP in Pa between the probes; 0D = Poiseuille + Young–Tsai (= the 1D lumped lesion); lesion = ΔP minus "
          "the healthy Poiseuille drop; smooth = lubrication + Borda–Carnot; mass = outflow/inflow − 1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[14, 20], help="voxels per diameter (default 14 20)")
    ap.add_argument("--severities", type=float, nargs="+", default=[0.5, 0.7], help="diameter stenoses (0.5 0.7)")
    ap.add_argument("--flows", type=float, nargs="+", default=[0.45, 0.16],
                    help="steady flow per severity, mL/s (default 0.45 0.16)")
    ap.add_argument("--length-d", type=float, default=8.0, help="vessel length in diameters (default 8)")
    ap.add_argument("--tol", type=float, default=1e-3, help="relative ΔP change between chunks to stop")
    ap.add_argument("--max-steps", type=int, default=40_000, help="step cap per run")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    if len(args.flows) != len(args.severities):
        raise SystemExit(f"--flows: {len(args.flows)} values for {len(args.severities)} severities; expected one each")
    t0 = time.perf_counter()
    rows = []
    for cells in args.cells:  # one compilation per resolution, shared by the severities
        for sev, q in zip(args.severities, args.flows):
            rows.append(run_case(sev, q * 1e-6, cells, args))
            print(f"  done: severity {sev}, {cells} voxels/D, ΔP {rows[-1]['dp_lbm_pa']:.2f} Pa", flush=True)
    _print_table(rows)
    col = lambda key: np.array([r[key] for r in rows])  # noqa: E731
    lbm, yt, smooth = col("dp_lbm_pa"), col("dp_young_tsai_pa"), col("dp_smooth_lesion_pa")
    lbm_l, yt_l = col("dp_lbm_lesion_pa"), col("dp_young_tsai_lesion_pa")
    summary = {
        "severity": [r["severity"] for r in rows], "flow_ml_s": [r["flow_ml_s"] for r in rows],
        "cells_across": [r["cells_across"] for r in rows], "reynolds": [round(r["reynolds"], 1) for r in rows],
        "dp_lbm_pa": lbm.round(3).tolist(), "dp_young_tsai_pa": yt.round(3).tolist(),
        "rel_diff": (lbm / yt - 1.0).round(4).tolist(),
        "dp_lbm_lesion_pa": lbm_l.round(3).tolist(), "dp_young_tsai_lesion_pa": yt_l.round(3).tolist(),
        "rel_diff_lesion": (lbm_l / yt_l - 1.0).round(4).tolist(), "dp_smooth_lesion_pa": smooth.round(3).tolist(),
        "rel_diff_lesion_vs_smooth": (lbm_l / smooth - 1.0).round(4).tolist(),
        "mass_defect": [round(r["mass_defect"], 4) for r in rows], "steps": [r["steps"] for r in rows],
        "converged": [r["converged"] for r in rows], "mlups": [round(r["mlups"], 2) for r in rows],
        "mlups_fluid": [round(r["mlups_fluid"], 2) for r in rows],
        "compile_s": [round(r["compile_s"], 2) for r in rows], "run_s": [round(r["run_s"], 1) for r in rows],
        "total_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
