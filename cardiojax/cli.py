"""The ``cardiojax`` command.

    cardiojax ffr -n 2000 -o runs/ffr            # synthetic left coronary trees
    cardiojax ffr tree.json other.vtu -o runs/x  # trees from files
    cardiojax 0d CASE.json -o result.csv         # a svZeroDSolver input file
    cardiojax 1d NETWORK -o DIR                  # an openBF YAML or svOneDSolver .in network
    cardiojax 3d [MESH] -o DIR                   # 3D lattice Boltzmann: a stenosed vessel or a mesh
    cardiojax calibrate CONFIG                   # svZeroDSolver-style calibration of a 0D model
    cardiojax image-ffr VOLUME --seed X Y Z -o DIR  # CT-FFR from an image volume

Runs in float64 (set here, at the entry point, never at import); the 3D lattice Boltzmann runs in float32.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
from tqdm import tqdm

from cardiojax import cli_0d, cli_1d, cli_3d, cli_calibrate, cli_image_ffr
from cardiojax.clinical import FFR_CUTOFFS, HyperemiaParams, hyperemic_ffr_batch, min_ffr
from cardiojax.io import load_tree, save_tree_json, save_tree_vtu
from cardiojax.io.dataset import save_dataset
from cardiojax.io.files import atomic_path
from cardiojax.plot import save_ffr_histogram, save_tree_figure
from cardiojax.synth import CoronaryPrior, generate_batch, tree_keys
from cardiojax.tree import is_outlet, stack, take
from cardiojax.units import GRAM, ML_PER_MIN, ML_PER_S, MMHG, Blood

#: Solutions with a relative residual at or above this are reported as not converged.
CONVERGED = 1e-9


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number > 0")
    return value


def _add_ffr_parser(sub) -> None:
    p = sub.add_parser(
        "ffr",
        help="steady hyperemic FFR on synthetic or given coronary trees",
        description="Generate N synthetic coronary trees (or read tree files), impose hyperemic "
        "boundary conditions, solve steady pressure and flow, and report FFR at every segment "
        "end. Writes dataset.npz, summary.json, ffr_histogram.png, tree_ffr.png and a few "
        "example trees (JSON + VTU for ParaView) to the output folder.",
    )
    p.add_argument("trees", nargs="*", help="tree files (.json, .vtu, .vtk); default: synthetic trees")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("-n", "--num-trees", type=_positive_int, default=1000,
                   help="synthetic trees to generate (default 1000)")
    p.add_argument("--side", choices=("left", "right"), default="left",
                   help="left (LM → LAD + LCx) or right (RCA) trees (default left)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed; tree i = generate(fold_in(key(seed), i))")
    p.add_argument("--capacity", type=_positive_int, default=64, help="segment slots per tree (default 64)")
    p.add_argument("--batch-size", type=_positive_int, default=1000, help="trees per compiled batch")
    p.add_argument("--murray", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="Murray exponent range (default 2.1 2.7)")
    p.add_argument("--min-radius-mm", type=float, default=0.0,
                   help="do not draw branches ending below this radius, mm (default 0: keep all)")
    p.add_argument("--aortic-pressure-mmhg", type=float, default=93.0,
                   help="mean aortic pressure at the inlet, mmHg (default 93)")
    p.add_argument("--mass-g", type=float,
                   help="perfused myocardial mass, g (default 100 for left, 50 for right synthetic "
                   "trees; required for tree files unless --file-outlets)")
    p.add_argument("--flow-per-g", type=float, default=1.0,
                   help="resting flow per gram of myocardium, mL/min/g (default 1.0)")
    p.add_argument("--split-exponent", type=float, default=2.55,
                   help="outlet flow ∝ diameter^k (default 2.55)")
    p.add_argument("--hyperemia-ratio", type=float, default=0.24,
                   help="hyperemic / resting microvascular resistance (default 0.24)")
    p.add_argument("--viscosity", type=float, default=3.5e-3, help="blood viscosity, Pa·s (default 3.5e-3)")
    p.add_argument("--density", type=float, default=1060.0, help="blood density, kg/m³ (default 1060)")
    p.add_argument("--file-outlets", action="store_true",
                   help="use the outlet resistances stored in the tree files instead of the recipe")
    p.add_argument("--save-trees", type=int, default=3,
                   help="write the first K trees as JSON + VTU with FFR (default 3)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cardiojax", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_ffr_parser(sub)
    cli_0d.add_parser(sub)
    cli_1d.add_parser(sub)
    cli_3d.add_parser(sub)
    cli_calibrate.add_parser(sub)
    cli_image_ffr.add_parser(sub)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        if args.command == "ffr":
            return run_ffr(args)
        if args.command == "0d":
            return cli_0d.run(args)
        if args.command == "1d":
            return cli_1d.run(args)
        if args.command == "3d":
            return cli_3d.run(args)
        if args.command == "calibrate":
            return cli_calibrate.run(args)
        if args.command == "image-ffr":
            return cli_image_ffr.run(args)
    except (ValueError, OSError) as err:  # bad input or missing file: one clear line
        print(f"cardiojax {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 1


def run_ffr(args: argparse.Namespace) -> int:
    """The ``cardiojax ffr`` command (see ``cardiojax ffr --help``)."""
    jax.config.update("jax_enable_x64", True)  # entry point: 0D work runs in float64
    params, blood = _ffr_params(args)
    get_batch, total, n_batches, source, prior = _tree_source(args)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    apply_recipe = not args.file_outlets

    first = get_batch(0)
    t0 = time.perf_counter()  # compile once, before timing
    solve = hyperemic_ffr_batch.lower(first, params, blood, apply_recipe=apply_recipe).compile()
    compile_s = time.perf_counter() - t0
    collected, solve_s = [], 0.0
    bar = tqdm(total=total, unit="tree", desc="ffr", disable=args.no_progress, file=sys.stderr)
    for b in range(n_batches):
        trees = first if b == 0 else get_batch(b)
        t0 = time.perf_counter()
        res = jax.block_until_ready(solve(trees, params, blood))
        solve_s += time.perf_counter() - t0
        collected.append(jax.tree_util.tree_map(np.asarray, res))
        bar.update(min(trees.batch_shape[0], total - bar.n))
    bar.close()
    res = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs)[:total], *collected)

    if not np.all(np.isfinite(np.where(res.tree.valid, res.ffr_out, 0.0))):
        raise ValueError("the solver produced non-finite pressures; check the tree files' radii and "
                         "outlet resistances (see cardiojax.tree.validate)")
    summary = _summary(total, source, res, solve_s, compile_s)
    meta = {"command": "cardiojax " + " ".join(args.argv), "source": source,
            "prior": prior and dataclasses.asdict(prior), "hyperemia": dataclasses.asdict(params),
            "blood": dataclasses.asdict(blood), "apply_recipe": apply_recipe,
            "units": {"p_in": "Pa", "p_out": "Pa", "flow": "m^3/s", "ffr_in": "1", "ffr_out": "1",
                      "residual": "1"}}
    _write_ffr_outputs(out, res, summary, meta, args.save_trees)
    _print_summary(summary, out)
    return 0 if summary["not_converged"] == 0 else 3


def _ffr_params(args) -> tuple[HyperemiaParams, Blood]:
    """Recipe and blood parameters from the command line (SI), checked."""
    if args.trees and args.mass_g is None and not args.file_outlets:
        raise ValueError("--mass-g (perfused myocardial mass, g) is required for tree files; or pass "
                         "--file-outlets to use the outlet resistances stored in the files")
    mass_g = args.mass_g if args.mass_g is not None else (100.0 if args.side == "left" else 50.0)
    for name, value in (("--mass-g", mass_g), ("--flow-per-g", args.flow_per_g),
                        ("--aortic-pressure-mmhg", args.aortic_pressure_mmhg),
                        ("--hyperemia-ratio", args.hyperemia_ratio), ("--viscosity", args.viscosity),
                        ("--density", args.density)):
        if not value > 0:
            raise ValueError(f"{name} = {value}; expected a value > 0")
    params = HyperemiaParams(
        myocardial_mass=mass_g * GRAM,
        resting_flow_per_mass=args.flow_per_g * ML_PER_MIN / GRAM,
        aortic_pressure=args.aortic_pressure_mmhg * MMHG,
        flow_split_exponent=args.split_exponent,
        hyperemic_resistance_ratio=args.hyperemia_ratio,
    )
    return params, Blood(density=args.density, viscosity=args.viscosity)


def _tree_source(args):
    """``(get_batch(b), total, n_batches, description, prior)`` for files or synthetic trees."""
    if args.trees:
        loaded = [load_tree(p) for p in args.trees]
        if args.file_outlets:
            for path, tree in zip(args.trees, loaded):
                r = np.asarray(tree.outlet_resistance)
                bad = np.flatnonzero(np.asarray(is_outlet(tree)) & ~(r > 0))
                if bad.size:
                    raise ValueError(
                        f"{path}: segment {bad[0]}: field 'outlet_resistance' = {float(r[bad[0]])!r} "
                        "Pa·s/m³; expected > 0 at every outlet with --file-outlets (or drop "
                        "--file-outlets to apply the hyperemic recipe)")
        trees = stack(loaded)
        return (lambda b: trees), len(loaded), 1, f"{len(loaded)} tree file(s)", None
    prior = CoronaryPrior(side=args.side, min_radius=args.min_radius_mm * 1e-3,
                          **({"murray_exponent": tuple(args.murray)} if args.murray else {}))
    base = jax.random.key(args.seed)
    size = min(args.batch_size, args.num_trees)

    def get_batch(b):  # tree i = generate(fold_in(key(seed), i)), whatever the batch size
        return generate_batch(tree_keys(base, b * size, size), prior, args.capacity)

    source = f"{args.num_trees} synthetic {args.side} trees (seed {args.seed})"
    return get_batch, args.num_trees, -(-args.num_trees // size), source, prior


def _write_ffr_outputs(out: Path, res, summary: dict, meta: dict, save_trees: int) -> None:
    """dataset.npz, summary.json, the two PNGs and the first trees as JSON + VTU."""
    labels = {"p_in": res.flow.p_in, "p_out": res.flow.p_out, "flow": res.flow.flow,
              "ffr_in": res.ffr_in, "ffr_out": res.ffr_out, "outlet": res.outlet,
              "residual": res.flow.residual}
    save_dataset(out / "dataset.npz", res.tree, labels, meta)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    tree_min = np.asarray(min_ffr(res.tree, res.ffr_out))
    save_ffr_histogram(out / "ffr_histogram.png", res.ffr_out[res.outlet], tree_min)
    n = summary["trees"]
    save_tree_figure(out / "tree_ffr.png", [
        (take(res.tree, i), res.ffr_in[i], res.ffr_out[i], f"tree {i}: min FFR {tree_min[i]:.2f}")
        for i in range(min(3, n))])
    for i in range(min(save_trees, n)):
        tree = take(res.tree, i)
        save_tree_json(tree, out / "trees" / f"tree_{i:04d}.json")
        save_tree_vtu(tree, out / "trees" / f"tree_{i:04d}.vtu",
                      point_data={"ffr": np.stack([res.ffr_in[i], res.ffr_out[i]], axis=-1),
                                  "pressure_mmHg": np.stack([res.flow.p_in[i], res.flow.p_out[i]], -1) / MMHG},
                      cell_data={"flow_mL_s": res.flow.flow[i] / ML_PER_S})


def _summary(n, source, res, solve_s, compile_s) -> dict:
    pct = [0, 5, 25, 50, 75, 95, 100]
    tree_min = np.asarray(min_ffr(res.tree, res.ffr_out))
    outlet_ffr = res.ffr_out[res.outlet]
    return {
        "source": source,
        "trees": int(n),
        "segments_mean": float(res.tree.valid.sum(axis=1).mean()),
        "outlets": int(res.outlet.sum()),
        "outlet_ffr_percentiles": dict(zip(map(str, pct), np.percentile(outlet_ffr, pct).round(4).tolist())),
        "tree_min_ffr_percentiles": dict(zip(map(str, pct), np.percentile(tree_min, pct).round(4).tolist())),
        **{f"fraction_trees_below_{c:.2f}": float(np.mean(tree_min < c)) for c in FFR_CUTOFFS},
        **{f"fraction_outlets_below_{c:.2f}": float(np.mean(outlet_ffr < c)) for c in FFR_CUTOFFS},
        "solve_s": solve_s,
        "compile_s": compile_s,
        "us_per_tree": 1e6 * solve_s / n,
        "max_residual": float(res.flow.residual.max()),
        "not_converged": int((res.flow.residual >= CONVERGED).sum()),
    }


def _print_summary(s: dict, out: Path) -> None:
    p = s["outlet_ffr_percentiles"]
    q = s["tree_min_ffr_percentiles"]
    print(f"cardiojax ffr: {s['source']}, {s['segments_mean']:.1f} segments/tree, {s['outlets']} outlets")
    print(f"  solve {s['solve_s']:.3f} s = {s['us_per_tree']:.1f} µs/tree "
          f"(compile {s['compile_s']:.2f} s); max residual {s['max_residual']:.1e}")
    print(f"  {'FFR':<22}{'min':>7}{'p5':>7}{'p25':>7}{'median':>8}{'p75':>7}{'p95':>7}{'max':>7}")
    for label, d in (("at outlets", p), ("tree minimum", q)):
        vals = [d[k] for k in ("0", "5", "25", "50", "75", "95", "100")]
        print(f"  {label:<22}" + "".join(f"{v:>7.3f}" if i != 3 else f"{v:>8.3f}" for i, v in enumerate(vals)))
    print(f"  {'fraction below':<22}{'trees':>10}{'outlets':>10}")
    for c in ("0.80", "0.75"):
        print(f"  {'FFR < ' + c:<22}{100 * s['fraction_trees_below_' + c]:>9.1f}%"
              f"{100 * s['fraction_outlets_below_' + c]:>9.1f}%")
    if s["not_converged"]:
        print(f"  WARNING: {s['not_converged']} trees did not converge (residual >= {CONVERGED:g}); "
              "their labels are flagged by label/residual in dataset.npz")
    print(f"  wrote {out}/dataset.npz, summary.json, ffr_histogram.png, tree_ffr.png, trees/")


if __name__ == "__main__":
    sys.exit(main())
