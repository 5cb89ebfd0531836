"""The image → tree pipeline on a real MR angiogram (VMTK's abdominal aorta), against VMTK's own results.

VMTK's level set covers the aorta from its inlet seed down to the iliac arteries (image rows j = 84…178), so
the comparison works in that box. VMTK's centreline radius is the maximum inscribed sphere's, ~6 % below the
area-equivalent radius on this lumen (PROVENANCE.md: median ratio 0.94), so it is compared after ÷ 0.94.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from cardiojax.cli import main
from cardiojax.imaging.image_ffr import PipelineParams, image_ffr, seed_index
from cardiojax.imaging.seg_metrics import centreline_distance, dice
from cardiojax.imaging.segment import SegmentParams
from cardiojax.io import read_volume, read_vtp

LO, HI = (0, 84, 0), (157, 179, 34)
RAS_TO_LPS = np.array([-1.0, -1.0, 1.0])  # VMTK writes its .vtp in RAS mm
AORTA = SegmentParams(scales=(2e-3, 4e-3), gate_dilation=1, vesselness_min=0.05)


@pytest.fixture(scope="module")
def vmtk(shared_data):
    folder = shared_data / "images" / "vmtk_aorta"
    volume = read_volume(folder / "aorta.mha").crop(LO, HI)
    level = np.asarray(read_volume(folder / "aorta-final-levelset.mha").crop(LO, HI).array) < 0
    cl = read_vtp(folder / "aorta-centerline.vtp", scale=1e-3)
    points = cl.points * RAS_TO_LPS
    radius = cl.point_data["MaximumInscribedSphereRadius"] * 1e-3
    return volume, level, points, radius, points[cl.lines[0][0]], folder / "aorta.mha"


def test_real_image_segmentation_centreline_and_radius(vmtk):
    volume, level, points, radius, inlet, _ = vmtk
    res = image_ffr(volume, seed_index(volume, inlet), PipelineParams(segment=AORTA))
    assert dice(res.segmentation.mask, level) >= 0.85
    tree = res.extracted.tree
    n = int(np.sum(np.asarray(tree.valid)))
    assert n >= 3 and int(np.sum(np.asarray(tree.parent)[:n] == 0)) == 2  # aorta → two iliac arteries
    pts = np.concatenate([p["points"] for p in res.extracted.profiles])
    rad = np.concatenate([p["radius"] for p in res.extracted.profiles])
    w = np.concatenate([p["weight"] for p in res.extracted.profiles]) > 0
    near = centreline_distance(pts, points)
    assert np.median(near) < 0.88e-3  # within one voxel of VMTK's centreline
    on = w & (near < 2e-3)
    ratio = rad[on] / (radius[cKDTree(points).query(pts[on])[1]] / 0.94)
    assert abs(np.median(ratio) - 1.0) <= 0.10
    assert np.all(np.isfinite(res.ffr_out[:n])) and np.all(res.ffr_out[:n] <= 1.0)


def test_image_ffr_command_on_the_real_image(vmtk, tmp_path, capsys):
    volume, _, _, _, inlet, path = vmtk
    mm = inlet * 1e3
    code = main(["image-ffr", str(path), "--seed", *map(str, mm), "--crop", "0", "157", "84", "179",
                 "0", "34", "--scales-mm", "2", "4", "--gate-dilation", "1", "--vesselness-min", "0.05",
                 "--flow-ml-s", "20", "--no-progress", "-o", str(tmp_path)])
    assert code == 0
    for f in ("segmentation.mha", "tree.json", "tree.vtu", "tree.vtp", "ffr_segments.csv", "ffr_vessels.csv",
              "summary.json", "mip.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["segments"] >= 3 and set(summary["seconds"]) >= {"segment", "centrelines", "ffr"}
    seg = read_volume(tmp_path / "segmentation.mha")
    np.testing.assert_allclose(seg.affine, volume.affine, atol=1e-12)
    assert "main vessel" in capsys.readouterr().out


def test_image_ffr_command_refuses_a_seed_outside(tmp_path, shared_data, capsys):
    path = shared_data / "images" / "vmtk_aorta" / "aorta.mha"
    code = main(["image-ffr", str(path), "--seed-voxel", "500", "0", "0", "--no-progress", "-o", str(tmp_path)])
    assert code == 2
    assert "expected an index inside" in capsys.readouterr().err
