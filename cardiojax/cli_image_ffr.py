"""``cardiojax image-ffr VOLUME [--seed X Y Z | --seed-voxel I J K] -o OUT``: CT-FFR from an image volume.

Reads the volume (MetaImage, NIfTI, NPZ or a DICOM series folder), segments the lumen connected to the seed,
extracts centrelines with area-equivalent radii into a vessel tree, imposes the hyperemic recipe (or a nominal
inlet flow) and solves FFR. Writes to OUT: the segmentation (same format as the input), ``tree.json``,
``tree.vtu``, ``tree.vtp`` (FFR and pressure as point data), ``ffr_segments.csv``, ``ffr_vessels.csv``,
``summary.json`` and ``mip.png``; shows a progress bar over the stages and the time of each.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from cardiojax.clinical.hyperemia import HyperemiaParams
from cardiojax.imaging.image_ffr import STAGES, PipelineParams, image_ffr, seed_index
from cardiojax.imaging.segment import SegmentParams
from cardiojax.io import read_volume, save_tree_json, save_tree_vtp, save_tree_vtu, write_volume
from cardiojax.io.files import atomic_path
from cardiojax.io.volume import Volume
from cardiojax.plot import save_mip_figure
from cardiojax.units import GRAM, ML_PER_MIN, ML_PER_S, MMHG


def add_parser(sub) -> None:
    p = sub.add_parser(
        "image-ffr",
        help="CT-FFR from an image volume: segment, centrelines, vessel tree, FFR",
        description="Segment the contrast-filled lumen connected to a seed at the vessel's inlet (Frangi "
        "vesselness + region growing), extract centrelines with area-equivalent radii into a vessel tree, "
        "and solve hyperemic FFR (or the pressure ratio at a nominal inlet flow).",
    )
    p.add_argument("volume", help="image: .mha/.mhd, .nii/.nii.gz, .npz, or a DICOM series folder")
    seed = p.add_mutually_exclusive_group(required=True)
    seed.add_argument("--seed", type=float, nargs=3, metavar=("X", "Y", "Z"),
                      help="inlet point in world coordinates, mm (LPS, as the image header places voxels)")
    seed.add_argument("--seed-voxel", type=int, nargs=3, metavar=("I", "J", "K"), help="inlet voxel index")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--crop", type=int, nargs=6, metavar=("I0", "I1", "J0", "J1", "K0", "K1"),
                   help="work in the voxel box I0 ≤ i < I1, J0 ≤ j < J1, K0 ≤ k < K1 only")
    p.add_argument("--scales-mm", type=float, nargs="+", default=[0.6, 1.2],
                   help="Frangi vesselness scales σ, mm (default 0.6 1.2: coronary sizes; ~r/√2 of the vessels)")
    p.add_argument("--gate-dilation", type=int, default=4,
                   help="voxels around a tubular response that may be lumen (default 4)")
    p.add_argument("--vesselness-min", type=float, default=0.01, help="smallest tubular response (default 0.01)")
    p.add_argument("--no-vesselness", action="store_true", help="region growing without the vesselness gate")
    p.add_argument("--mass-g", type=float, default=100.0, help="perfused myocardial mass, g (default 100)")
    p.add_argument("--flow-ml-s", type=float,
                   help="impose this nominal inlet flow, mL/s, instead of the hyperemic recipe (e.g. an aorta)")
    p.add_argument("--aortic-pressure-mmhg", type=float, default=93.0, help="inlet pressure, mmHg (default 93)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _params(args) -> PipelineParams:
    for name, v in (("--mass-g", args.mass_g), ("--aortic-pressure-mmhg", args.aortic_pressure_mmhg),
                    ("--flow-ml-s", args.flow_ml_s if args.flow_ml_s is not None else 1.0)):
        if not v > 0:
            raise ValueError(f"{name} = {v}; expected a value > 0")
    if any(s <= 0 for s in args.scales_mm):
        raise ValueError(f"--scales-mm = {args.scales_mm}; expected scales > 0 mm")
    q_per_mass = 1.0 * ML_PER_MIN / GRAM
    if args.flow_ml_s is not None:  # resting resistances sized for Q, not lowered: the inlet carries ≈ Q
        hyp = HyperemiaParams(myocardial_mass=args.flow_ml_s * ML_PER_S / q_per_mass,
                              aortic_pressure=args.aortic_pressure_mmhg * MMHG, hyperemic_resistance_ratio=1.0)
    else:
        hyp = HyperemiaParams(myocardial_mass=args.mass_g * GRAM, aortic_pressure=args.aortic_pressure_mmhg * MMHG)
    seg = SegmentParams(scales=() if args.no_vesselness else tuple(s * 1e-3 for s in args.scales_mm),
                        gate_dilation=args.gate_dilation, vesselness_min=args.vesselness_min)
    return PipelineParams(segment=seg, hyperemia=hyp)


def _segmentation_path(source: Path, out: Path) -> Path:
    name = source.name.lower()
    for suffix in (".nii.gz", ".nii", ".mha", ".mhd", ".npz"):
        if name.endswith(suffix):
            return out / f"segmentation{suffix}"
    return out / "segmentation"  # a DICOM series folder


def _csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["segment"])
    w.writeheader()
    w.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def _tables(res) -> tuple[list[dict], list[dict]]:
    t = res.extracted.tree
    n = int(np.sum(np.asarray(t.valid)))
    seg_rows = [dict(segment=i, parent=int(t.parent[i]), vessel=int(res.vessel_first[i]), main=bool(res.main[i]),
                     length_mm=round(float(t.length[i]) * 1e3, 3), r_in_mm=round(float(t.r_in[i]) * 1e3, 4),
                     r_out_mm=round(float(t.r_out[i]) * 1e3, 4),
                     stenosis_percent=round(100 * float(t.stenosis_severity[i]), 1),
                     flow_ml_s=round(float(res.flow[i]) / ML_PER_S, 5),
                     p_out_mmhg=round(float(res.p_out[i]) / MMHG, 3),
                     ffr_in=round(float(res.ffr_in[i]), 5), ffr_out=round(float(res.ffr_out[i]), 5))
                for i in range(n)]
    ves_rows = []
    for i in np.flatnonzero(res.tip & res.main):  # one row per main vessel, at its distal segment
        first = int(res.vessel_first[i])
        members = np.flatnonzero(res.vessel_first == first)
        ves_rows.append(dict(vessel=first, segments=" ".join(map(str, members)),
                             length_mm=round(float(np.sum(np.asarray(t.length)[members])) * 1e3, 2),
                             r_in_mm=round(float(t.r_in[first]) * 1e3, 3),
                             max_stenosis_percent=round(100 * float(np.max(np.asarray(t.stenosis_severity)[members])), 1),
                             distal_ffr=round(float(res.ffr_out[i]), 5),
                             significant_080=bool(res.ffr_out[i] < 0.80)))
    return seg_rows, ves_rows


def run(args: argparse.Namespace) -> int:
    """The ``cardiojax image-ffr`` command (see ``cardiojax image-ffr --help``)."""
    jax.config.update("jax_enable_x64", True)  # entry point: the 0D solve runs in float64
    params = _params(args)
    out = Path(args.output)
    t_start = time.perf_counter()
    volume = read_volume(args.volume)
    if args.crop:
        lo, hi = np.array(args.crop[0::2]), np.array(args.crop[1::2])
        volume = volume.crop(lo, hi)
    seed = (seed_index(volume, np.asarray(args.seed) * 1e-3) if args.seed is not None
            else tuple(int(v) - (int(args.crop[2 * a]) if args.crop else 0) for a, v in enumerate(args.seed_voxel)))
    read_s = time.perf_counter() - t_start
    bar = tqdm(total=len(STAGES) + 1, desc="image-ffr", unit="stage", disable=args.no_progress, file=sys.stderr)

    def progress(stage):
        bar.set_postfix_str(stage)
        bar.update(1)

    res = image_ffr(volume, seed, params, progress=progress)
    t0 = time.perf_counter()
    bar.set_postfix_str("write")
    out.mkdir(parents=True, exist_ok=True)
    mask = Volume(res.segmentation.mask.astype(np.uint8), volume.affine)
    write_volume(mask, _segmentation_path(Path(args.volume), out))
    tree = res.extracted.tree
    ffr_ends = np.stack([res.ffr_in, res.ffr_out], -1)
    fields = dict(point_data={"ffr": np.nan_to_num(ffr_ends, nan=1.0)},
                  cell_data={"flow_mL_s": np.nan_to_num(res.flow) / ML_PER_S})
    save_tree_json(tree, out / "tree.json")
    save_tree_vtu(tree, out / "tree.vtu", **fields)
    save_tree_vtp(tree, out / "tree.vtp", **fields)
    seg_rows, ves_rows = _tables(res)
    _csv(out / "ffr_segments.csv", seg_rows)
    _csv(out / "ffr_vessels.csv", ves_rows)
    save_mip_figure(out / "mip.png", np.asarray(volume.array), volume.affine, res.extracted.paths,
                    np.asarray(tree.valid), res.ffr_in, res.ffr_out,
                    title=f"{Path(args.volume).name}: {len(seg_rows)} segments, FFR at segment ends",
                    region=ndimage.binary_dilation(res.segmentation.mask, iterations=4))
    bar.update(1)
    bar.close()
    seconds = {"read": read_s, **res.seconds, "write": time.perf_counter() - t0}
    summary = dict(volume=str(args.volume), shape=list(volume.shape), spacing_mm=(volume.spacing * 1e3).round(4).tolist(),
                   seed_voxel=list(res.segmentation.seed), segments=len(seg_rows), main_vessels=len(ves_rows),
                   lumen_level=res.segmentation.lumen, background_level=res.segmentation.background,
                   threshold=res.segmentation.threshold, lumen_voxels=int(res.segmentation.mask.sum()),
                   min_ffr=float(np.nanmin(res.ffr_out)), vessels=ves_rows,
                   recipe=("nominal flow %.3g mL/s" % args.flow_ml_s) if args.flow_ml_s else "hyperemic",
                   seconds={k: round(v, 3) for k, v in seconds.items()},
                   total_s=round(time.perf_counter() - t_start, 3))
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    _print(summary, seg_rows, out)
    return 0


def _print(s: dict, seg_rows: list[dict], out: Path) -> None:
    print(f"cardiojax image-ffr: {s['volume']} {tuple(s['shape'])} at {s['spacing_mm']} mm; seed voxel "
          f"{tuple(s['seed_voxel'])}; lumen {s['lumen_level']:.0f}, background {s['background_level']:.0f}, "
          f"{s['lumen_voxels']} lumen voxels")
    print("  time: " + ", ".join(f"{k} {v:.2f} s" for k, v in s["seconds"].items()) + f"; total {s['total_s']:.2f} s")
    print(f"  {'segment':>7} {'parent':>6} {'length mm':>9} {'r_in mm':>8} {'r_out mm':>8} {'sten %':>6} "
          f"{'Q mL/s':>8} {'FFR out':>7}")
    for r in seg_rows[:30]:
        print(f"  {r['segment']:>7} {r['parent']:>6} {r['length_mm']:>9.2f} {r['r_in_mm']:>8.3f} {r['r_out_mm']:>8.3f} "
              f"{r['stenosis_percent']:>6.0f} {r['flow_ml_s']:>8.3f} {r['ffr_out']:>7.3f}")
    if len(seg_rows) > 30:
        print(f"  ... {len(seg_rows) - 30} more segments in ffr_segments.csv")
    for v in s["vessels"]:
        print(f"  main vessel from segment {v['vessel']}: distal FFR {v['distal_ffr']:.3f}"
              + ("  (< 0.80)" if v["significant_080"] else ""))
    print(f"  wrote {out}/: segmentation, tree.json/.vtu/.vtp, ffr_segments.csv, ffr_vessels.csv, summary.json, mip.png")
