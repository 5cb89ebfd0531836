"""CT-FFR from images: the error budget of each imaging step, and sweeps over voxel size, noise, calcium, dose.

    python experiments/image_ffr/run.py --quick   # ≈ 10 min on 2 CPU cores
    python experiments/image_ffr/run.py           # the default study (≈ 45 min)

Writes to ``--output`` (default runs/image_ffr): results.json, budget.csv-like tables on stdout (Markdown),
mip.png (an angiogram's maximum-intensity projection with the image-derived tree coloured by FFR),
radius_profile.png (radius along a lesioned branch: true, measured, fitted), bland_altman.png (image FFR
against true FFR per vessel) and ends with one JSON line.
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
from matplotlib.figure import Figure
from scipy import ndimage
from tqdm import tqdm

from cardiojax.imaging.angio import AngioParams
from cardiojax.imaging.cases import evaluate, make_case
from cardiojax.imaging.error_budget import (measured_on_true_centrelines, true_radii_on_extracted,
                                            true_segmentation)
from cardiojax.imaging.image_ffr import image_ffr, solve_tree_ffr
from cardiojax.imaging.tree_compare import compare_trees, ffr_scores
from cardiojax.io.files import atomic_path
from cardiojax.plot import save_figure, save_mip_figure
from cardiojax.tree import lumen_radius
from cardiojax.tree.paths import point_at

KEYS = ("vessel_true", "vessel_pred", "lesion_true", "lesion_pred", "radius_true", "radius_pred")


def _summary(rows: list[dict]) -> dict:
    cat = {k: np.concatenate([r[k] for r in rows]) for k in KEYS}
    v = ffr_scores(cat["vessel_true"], cat["vessel_pred"])
    les = ffr_scores(cat["lesion_true"], cat["lesion_pred"])
    rel = cat["radius_pred"] / cat["radius_true"] - 1.0
    out = dict(vessels=v["n"], ffr_mae=v["mae"], ffr_bias=v["bias"], ffr_acc_080=v["accuracy"],
               lesions=les["n"], lesion_mae=les["mae"], lesion_acc_080=les["accuracy"],
               radius_bias=float(np.median(rel)), radius_mae=float(np.mean(np.abs(rel))))
    if "dice" in rows[0]:
        out["dice"] = float(np.mean([r["dice"] for r in rows]))
    return {k: (round(x, 4) if isinstance(x, float) else x) for k, x in out.items()}


def _budget_rows(case, res) -> dict[str, dict]:
    """The pipeline and the three swapped variants on one case."""
    truth_ffr = case.truth["ffr_out"]
    rows = {"image (all steps)": evaluate(case, res, hausdorff=False)}
    seg = true_segmentation(case.angiogram.lumen, case.seed)
    r2 = image_ffr(case.volume, case.seed, segmentation=seg)
    rows["true segmentation"] = evaluate(case, r2, hausdorff=False)
    tree3 = measured_on_true_centrelines(case.tree, case.paths, res.segmentation.fraction, case.volume.affine)
    s3 = solve_tree_ffr(tree3)
    rows["true centrelines"] = compare_trees(case.tree, case.paths, truth_ffr, tree3, case.paths, s3["ffr_in"],
                                             s3["ffr_out"])
    ex4 = true_radii_on_extracted(res.extracted, case.tree, case.paths)
    s4 = solve_tree_ffr(ex4.tree)
    rows["true radii"] = compare_trees(case.tree, case.paths, truth_ffr, ex4.tree, ex4.paths, s4["ffr_in"],
                                       s4["ffr_out"])
    return rows


def _table(title: str, rows: dict[str, dict]) -> str:
    cols = ["vessels", "ffr_mae", "ffr_bias", "ffr_acc_080", "lesions", "lesion_mae", "lesion_acc_080",
            "radius_bias", "radius_mae", "dice"]
    lines = [f"### {title}", "", "| variant | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, s in rows.items():
        lines.append(f"| {name} | " + " | ".join(str(s.get(c, "")) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _sweep(name, values, make, indices, progress) -> dict[str, dict]:
    out = {}
    for v in values:
        rows = []
        for i in indices:
            case = make(i, v)
            rows.append(evaluate(case, image_ffr(case.volume, case.seed), hausdorff=False))
            progress.update(1)
        out[f"{name} = {v}"] = _summary(rows)
    return out


def _profile_figure(path, case, res) -> None:
    """Radius along the true segment with the deepest lesion: truth, measured (nearest points), fitted model."""
    from cardiojax.imaging.tree_compare import TreeMatch

    sev = np.where(np.asarray(case.tree.valid), np.asarray(case.tree.stenosis_severity), 0.0)
    k = int(np.argmax(sev))
    f = np.linspace(0.0, 1.0, 200)
    pts = np.asarray(point_at(case.paths[k][None], f[None]))[0]
    true_r = np.asarray(lumen_radius(case.tree, np.broadcast_to(f, (case.tree.capacity, 200))))[k]
    match = TreeMatch(res.extracted.tree, res.extracted.paths, res.ffr_in, res.ffr_out)
    allp = np.concatenate([p["points"] for p in res.extracted.profiles])
    allr = np.concatenate([p["radius"] for p in res.extracted.profiles])
    from scipy.spatial import cKDTree

    measured = allr[cKDTree(allp).query(pts)[1]]
    x = f * float(case.tree.length[k]) * 1e3
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(x, true_r * 1e3, "k-", lw=2, label="true lumen radius")
    ax.plot(x, measured * 1e3, ".", ms=3, color="tab:blue", label="measured (area-equivalent)")
    ax.plot(x, match.radius(pts) * 1e3, "-", color="tab:red", label="fitted tree (solver's radius)")
    ax.set_xlabel("distance along the segment (mm)")
    ax.set_ylabel("radius (mm)")
    ax.set_title(f"case {case.index}, segment {k}: {100 * sev[k]:.0f} % lesion", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _bland_altman(path, true, pred) -> None:
    true, pred = np.asarray(true), np.asarray(pred)
    mean, diff = 0.5 * (true + pred), pred - true
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    ax.scatter(mean, diff, s=12)
    bias, sd = float(np.mean(diff)), float(np.std(diff))
    for y, ls in ((bias, "-"), (bias + 1.96 * sd, "--"), (bias - 1.96 * sd, "--")):
        ax.axhline(y, color="k", ls=ls, lw=0.8)
    ax.axvline(0.80, color="tab:red", lw=0.6)
    ax.set_xlabel("mean of image and true FFR (per vessel)")
    ax.set_ylabel("image FFR − true FFR")
    ax.set_title(f"bias {bias:+.3f}, limits ±{1.96 * sd:.3f}", fontsize=9)
    save_figure(fig, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases, no 0.3 mm sweep (≈ 10 min)")
    ap.add_argument("--cases", type=int, help="cases in the error budget (default 3 quick, 16 full)")
    ap.add_argument("--sweep-cases", type=int, help="cases per sweep value (default 2 quick, 6 full)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default="runs/image_ffr")
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    n_budget = args.cases or (3 if args.quick else 16)
    n_sweep = args.sweep_cases or (2 if args.quick else 6)
    voxels = (0.5, 0.7) if args.quick else (0.3, 0.5, 0.7)
    t_start = time.perf_counter()

    budget: dict[str, list] = {}
    first = None
    for i in tqdm(range(n_budget), desc="error budget", unit="case", file=sys.stderr):
        case = make_case(i, seed=args.seed)
        res = image_ffr(case.volume, case.seed)
        if first is None:
            first = (case, res)
        for name, row in _budget_rows(case, res).items():
            budget.setdefault(name, []).append(row)
    budget_summary = {name: _summary(rows) for name, rows in budget.items()}

    idx = range(n_sweep)
    sweeps = {}
    n_runs = n_sweep * (len(voxels) + 3 + 2 + 3)
    with tqdm(total=n_runs, desc="sweeps", unit="run", file=sys.stderr) as bar:
        sweeps["voxel size (mm)"] = _sweep("voxel", voxels, lambda i, v: make_case(
            i, seed=args.seed, voxel_size=v * 1e-3), idx, bar)
        sweeps["noise σ (HU)"] = _sweep("noise", (10.0, 30.0, 50.0), lambda i, v: make_case(
            i, seed=args.seed, angio=AngioParams(noise_sigma=(v, v))), idx, bar)
        sweeps["calcium at lesions"] = _sweep("calcium probability", (0.0, 1.0), lambda i, v: make_case(
            i, seed=args.seed, angio=AngioParams(calcium_probability=v)), idx, bar)
        sweeps["contrast dose (no restoration)"] = _sweep("dose fraction", (1.0, 0.5, 0.25), lambda i, v: make_case(
            i, seed=args.seed, angio=AngioParams(dose_fraction=(v, v))), idx, bar)

    case, res = first
    tree = res.extracted.tree
    save_mip_figure(out / "mip.png", np.asarray(case.volume.array), case.volume.affine, res.extracted.paths,
                    np.asarray(tree.valid), res.ffr_in, res.ffr_out,
                    title=f"case {case.index}: image-derived tree, FFR at segment ends (vessel MIP)",
                    region=ndimage.binary_dilation(res.segmentation.mask, iterations=6))
    _profile_figure(out / "radius_profile.png", case, res)
    cat_t = np.concatenate([r["vessel_true"] for r in budget["image (all steps)"]])
    cat_p = np.concatenate([r["vessel_pred"] for r in budget["image (all steps)"]])
    _bland_altman(out / "bland_altman.png", cat_t, cat_p)

    text = _table(f"Error budget ({n_budget} cases, 0.5 mm)", budget_summary)
    for title, rows in sweeps.items():
        text += "\n" + _table(f"{title} ({n_sweep} cases each)", rows)
    print(text)
    results = dict(budget=budget_summary, sweeps=sweeps, cases=n_budget, sweep_cases=n_sweep, seed=args.seed,
                   quick=args.quick, total_s=round(time.perf_counter() - t_start, 1))
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    with atomic_path(out / "tables.md") as tmp:
        tmp.write_text(text)
    line = dict(budget_summary["image (all steps)"], **{f"true_segmentation_{k}": v for k, v in
                budget_summary["true segmentation"].items() if k in ("ffr_mae", "ffr_acc_080")},
                total_s=results["total_s"])
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
