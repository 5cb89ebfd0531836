"""CT-FFR from images: accuracy and time of image → segmentation → tree → FFR on synthetic angiograms.

    python benchmarks/bench_image_ffr.py [--cases 8] [--voxel-mm 0.5] [--seed 0] [--no-256]

A fixed set of synthetic coronary CT angiograms (`cardiojax.imaging.cases.make_case(i, seed=0)`, i < N: trees
of `IMAGE_PRIOR` wrapped on the heart, rendered at ``--voxel-mm`` with clinical noise σ 20–40 HU, PSF FWHM
0.5–0.8 mm, lumen 250–550 HU, calcium at 30 % of lesions) goes through `cardiojax.imaging.image_ffr`
(classical segmentation, centrelines, area-equivalent radii, hyperemic FFR). Scores against each tree's true
FFR (the same recipe on the true tree):

* ``ffr_mae``, ``ffr_bias``, ``ffr_acc_080`` (+ sensitivity, specificity) per vessel — the distal end of
  every main vessel (inlet radius ≥ 1 mm) — and ``lesion_*`` the same distal to every true lesion;
* ``radius_bias``: median relative error of the extracted model radius along the true centrelines (away
  from junctions); ``dice``, ``cldice``, ``hd95_mm``: segmentation against the true lumen (mean over cases);
* ``seconds_per_volume``: mean wall time image → FFR after a warm-up case (compilation reported apart as
  ``warmup_s``), and ``seconds_256``: the largest volume padded to 256³ voxels with its median intensity, image → FFR.

Targets (issue 24, this CPU): ffr_mae ≤ 0.03, ffr_acc_080 ≥ 0.90, |radius_bias| ≤ 0.02, seconds_256 ≤ 60.
Case rendering and the true-tree solve are not timed. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
from tqdm import tqdm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=8, help="synthetic volumes (default 8)")
    ap.add_argument("--voxel-mm", type=float, default=0.5, help="voxel size, mm (default 0.5)")
    ap.add_argument("--seed", type=int, default=0, help="case seed (default 0)")
    ap.add_argument("--no-256", action="store_true", help="skip the 256³ timing")
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)  # entry point: the 0D solves run in float64

    from cardiojax.imaging.cases import evaluate, make_case
    from cardiojax.imaging.image_ffr import image_ffr
    from cardiojax.imaging.tree_compare import ffr_scores
    from cardiojax.io.volume import Volume

    cases = [make_case(i, seed=args.seed, voxel_size=args.voxel_mm * 1e-3)
             for i in tqdm(range(args.cases), desc="render cases", unit="case")]
    t0 = time.perf_counter()
    image_ffr(cases[0].volume, cases[0].seed)  # warm-up: compiles the vesselness and the solve
    warmup_s = time.perf_counter() - t0
    rows, seconds, stages = [], [], []
    for case in tqdm(cases, desc="image → FFR", unit="volume"):
        t0 = time.perf_counter()
        res = image_ffr(case.volume, case.seed)
        seconds.append(time.perf_counter() - t0)
        stages.append(res.seconds)
        rows.append(evaluate(case, res))
    cat = {k: np.concatenate([r[k] for r in rows]) for k in ("vessel_true", "vessel_pred", "lesion_true",
                                                           "lesion_pred", "radius_true", "radius_pred")}
    vessel = ffr_scores(cat["vessel_true"], cat["vessel_pred"])
    lesion = ffr_scores(cat["lesion_true"], cat["lesion_pred"])
    rel = cat["radius_pred"] / cat["radius_true"] - 1.0
    print(f"{'case':>4} {'shape':>16} {'dice':>6} {'clDice':>6} {'HD95 mm':>7} {'vessels':>7} {'s':>6}")
    for case, r, s in zip(cases, rows, seconds):
        print(f"{case.index:>4} {str(case.volume.shape):>16} {r['dice']:6.3f} {r['cldice']:6.3f} "
              f"{1e3 * r['hd95']:7.2f} {len(r['vessel_true']):>7} {s:6.1f}")
    print("per vessel: true → image FFR " + ", ".join(f"{a:.2f}→{b:.2f}" for a, b in
                                                       zip(cat["vessel_true"], cat["vessel_pred"])))
    seconds_256 = None
    if not args.no_256:
        c = cases[int(np.argmax([np.prod(c.volume.shape) for c in cases]))]
        arr = np.asarray(c.volume.array)
        pad = [(0, max(256 - n, 0)) for n in arr.shape]
        fill = float(np.median(arr))  # background beyond the rendered box (edge copies would smear vessels)
        big = Volume(np.pad(arr, pad, constant_values=fill)[:256, :256, :256], c.volume.affine)
        image_ffr(big, c.seed)  # compile for this shape
        t0 = time.perf_counter()
        image_ffr(big, c.seed)
        seconds_256 = time.perf_counter() - t0
    mean_stage = {k: round(float(np.mean([s[k] for s in stages])), 3) for k in stages[0]}
    out = {
        "ffr_mae": round(vessel["mae"], 4), "ffr_bias": round(vessel["bias"], 4),
        "ffr_acc_080": round(vessel["accuracy"], 4), "ffr_sensitivity": vessel["sensitivity"],
        "ffr_specificity": vessel["specificity"], "vessels": vessel["n"],
        "lesion_mae": round(lesion["mae"], 4), "lesion_acc_080": round(lesion["accuracy"], 4), "lesions": lesion["n"],
        "radius_bias": round(float(np.median(rel)), 4), "radius_mae": round(float(np.mean(np.abs(rel))), 4),
        "dice": round(float(np.mean([r["dice"] for r in rows])), 4),
        "cldice": round(float(np.mean([r["cldice"] for r in rows])), 4),
        "hd95_mm": round(1e3 * float(np.mean([r["hd95"] for r in rows])), 3),
        "seconds_per_volume": round(float(np.mean(seconds)), 2), "stage_seconds": mean_stage,
        "seconds_256": None if seconds_256 is None else round(seconds_256, 2), "warmup_s": round(warmup_s, 2),
        "voxel_mm": args.voxel_mm, "cases": args.cases, "seed": args.seed,
        "mean_voxels": int(np.mean([np.prod(c.volume.shape) for c in cases])),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
