"""``cardiojax calibrate CONFIG``: svZeroDSolver-style calibration of a 0D model.

Reads a svZeroDSolver calibration input (a model plus ``y``/``dy``: every pressure and flow and its time
derivative, and ``calibration_parameters``), fits the vessel (R, C, L, stenosis coefficient) and junction
parameters by Levenberg–Marquardt with the Jacobian from `jax.jacfwd` (`cardiojax.inverse.svzerod`), prints a
per-vessel table and writes the calibrated model in svZeroDSolver's layout (CGS) — by default to
``<CONFIG stem>_calibrated.json`` in the current folder. ``--reference REF.json`` compares the result with
known parameters (e.g. svZeroDSolver's own output) and prints the largest relative difference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax

from cardiojax.inverse.svzerod import calibrate, parameter_errors


def add_parser(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit 0D vessel parameters to a svZeroDSolver calibration input",
        description="svZeroDSolver-style calibration: fit R, C, L and stenosis coefficients of every vessel "
        "(and R, L, S of every junction with several outlets) to the pressures and flows in the file's "
        "'y'/'dy' fields, and write the calibrated model (svZeroDSolver JSON, CGS).",
    )
    p.add_argument("config", help="svZeroDSolver calibration input (.json with y, dy, calibration_parameters)")
    p.add_argument("-o", "--output", help="calibrated model (.json); default <config stem>_calibrated.json")
    p.add_argument("--reference", help="svZeroDSolver JSON with known parameters to compare against")
    p.add_argument("--max-iterations", type=int, help="Levenberg–Marquardt iteration cap (default: the "
                   "file's maximum_iterations, at least 50)")


def run(args: argparse.Namespace) -> int:
    """The ``cardiojax calibrate`` command (see ``cardiojax calibrate --help``)."""
    jax.config.update("jax_enable_x64", True)  # entry point: 0D work runs in float64
    if args.max_iterations is not None and args.max_iterations < 1:
        raise ValueError(f"--max-iterations = {args.max_iterations}; expected an integer >= 1")
    reference = None
    if args.reference:
        path = Path(args.reference)
        if not path.is_file():
            raise ValueError(f"--reference {str(path)!r} does not exist; expected a svZeroDSolver JSON file")
        reference = json.loads(path.read_text())
    cal = calibrate(args.config, max_iterations=args.max_iterations)
    out = Path(args.output) if args.output else Path(Path(args.config).stem + "_calibrated.json")
    from cardiojax.io.files import atomic_path

    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(cal.config, indent=4))
    r = cal.result
    print(f"cardiojax calibrate: {len(cal.labels)} parameters from {cal.observations} time points; "
          f"{int(r.iterations)} Levenberg–Marquardt iterations ({cal.message}), "
          f"½‖r‖² = {float(r.cost):.6g}")
    print(f"  fit {cal.seconds - cal.compile_seconds:.3f} s (compile {cal.compile_seconds:.2f} s)")
    print(f"  {'vessel':<20}{'R_poiseuille':>15}{'C':>15}{'L':>15}{'stenosis':>15}")
    for v in cal.config["vessels"]:
        x = v["zero_d_element_values"]
        print(f"  {v['vessel_name']:<20}{x['R_poiseuille']:>15.6g}{x['C']:>15.6g}{x['L']:>15.6g}"
              f"{x['stenosis_coefficient']:>15.6g}")
    if reference is not None:
        e = parameter_errors(cal.config, reference)
        print(f"  vs {args.reference}: largest relative difference {e['max_rel']:.3g} ({e['worst']}) over "
              f"{e['compared']} parameters; zero-valued reference entries within {e['max_abs_zero']:.2g} of 0")
    print(f"  wrote {out}")
    return 0
