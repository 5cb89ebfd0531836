"""PNG figures: trees coloured by FFR, FFR histograms.

Uses matplotlib's object API (`Figure`) only: no screen needed, and the
pyplot backend of the caller (e.g. a notebook) is left alone.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from cardiojax.io.files import atomic_path
from cardiojax.tree.ops import trim
from cardiojax.tree.vessel_tree import VesselTree

FFR_CMAP = "RdYlGn"


def draw_tree(ax, tree: VesselTree, value_in, value_out, vmin=0.5, vmax=1.0, cmap=FFR_CMAP,
              samples: int = 12):
    """Draw one tree (x–y plane) with each segment coloured from ``value_in`` to ``value_out``.

    Line width follows the lumen diameter; lesions are marked with their
    diameter stenosis in %. Returns the `LineCollection` (for a colour bar).
    """
    valid = np.asarray(tree.valid)
    t = trim(tree)
    v_in, v_out = np.asarray(value_in)[valid], np.asarray(value_out)[valid]
    frac = np.linspace(0.0, 1.0, samples + 1)
    xy = t.start[:, None, :2] + frac[None, :, None] * (t.end - t.start)[:, None, :2]
    segments = np.stack([xy[:, :-1], xy[:, 1:]], axis=2).reshape(-1, 2, 2) * 1e3  # mm
    mid = 0.5 * (frac[:-1] + frac[1:])
    colour = (v_in[:, None] + mid[None, :] * (v_out - v_in)[:, None]).ravel()
    radius = (t.r_in[:, None] + mid[None, :] * (t.r_out - t.r_in)[:, None]).ravel()
    lines = LineCollection(segments, array=colour, cmap=cmap, norm=Normalize(vmin, vmax),
                           linewidths=1.0 + 2.2 * radius * 1e3, capstyle="round")
    ax.add_collection(lines)
    for i in np.flatnonzero(t.stenosis_severity > 0):
        p = (t.start[i] + t.stenosis_position[i] * (t.end[i] - t.start[i]))[:2] * 1e3
        ax.plot(*p, marker="o", ms=5, mfc="none", mec="k", mew=0.8)
        ax.annotate(f"{100 * t.stenosis_severity[i]:.0f}%", p, fontsize=6, xytext=(3, 3),
                    textcoords="offset points")
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    return lines


def save_tree_figure(path: str | os.PathLike, trees: list[tuple[VesselTree, np.ndarray, np.ndarray, str]],
                     label: str = "FFR", vmin: float = 0.5, vmax: float = 1.0) -> None:
    """PNG of up to a few trees side by side: ``[(tree, value_in, value_out, title), ...]``."""
    fig = Figure(figsize=(4.2 * len(trees) + 1.0, 4.4), layout="constrained")
    axes = fig.subplots(1, len(trees), squeeze=False)
    for ax, (tree, v_in, v_out, title) in zip(axes[0], trees):
        lines = draw_tree(ax, tree, v_in, v_out, vmin, vmax)
        ax.set_title(title, fontsize=9)
    fig.colorbar(lines, ax=axes[0].tolist(), label=label, shrink=0.8, extend="min")
    save_figure(fig, path)


def save_ffr_histogram(path: str | os.PathLike, outlet_ffr: np.ndarray, tree_min_ffr: np.ndarray,
                       cutoffs=(0.80, 0.75)) -> None:
    """PNG histogram of outlet FFR and per-tree minimum FFR with clinical cut-offs."""
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    bins = np.linspace(0.0, 1.0, 51)
    ax.hist(np.clip(outlet_ffr, 0, 1), bins, alpha=0.6, label=f"outlets (n={outlet_ffr.size})")
    ax.hist(np.clip(tree_min_ffr, 0, 1), bins, alpha=0.6, label=f"tree minimum (n={tree_min_ffr.size})")
    for c, style in zip(cutoffs, ("--", ":")):
        ax.axvline(c, color="k", ls=style, lw=1, label=f"FFR = {c:.2f}")
    ax.set_xlabel("FFR = P_distal / P_aortic")
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    ax.set_title("Steady hyperemic FFR")
    save_figure(fig, path)


def save_waveforms(path: str | os.PathLike, net, solution, max_vessels: int = 8) -> None:
    """PNG of inlet pressure (mmHg) and inlet flow (mL/s) over the reported times, per vessel.

    ``net`` is a `cardiojax.lumped.network.Network`, ``solution`` a
    `cardiojax.lumped.pulsatile.Solution`; the first ``max_vessels`` vessels
    are drawn.
    """
    from cardiojax.lumped.network import vessel_results
    from cardiojax.units import ML_PER_S, MMHG

    res = {k: np.asarray(v) for k, v in vessel_results(net, solution.y).items()}
    t = np.asarray(solution.times)
    fig = Figure(figsize=(7.0, 5.6), layout="constrained")
    ax_p, ax_q = fig.subplots(2, 1, sharex=True)
    for i, name in enumerate(net.vessels[:max_vessels]):
        ax_p.plot(t, res["pressure_in"][:, i] / MMHG, lw=1.2, label=name)
        ax_q.plot(t, res["flow_in"][:, i] / ML_PER_S, lw=1.2)
    ax_p.set_ylabel("inlet pressure (mmHg)")
    ax_q.set_ylabel("inlet flow (mL/s)")
    ax_q.set_xlabel("time (s)")
    ax_p.legend(fontsize=7, ncol=2)
    ax_p.set_title("Pulsatile 0D: reported waveforms")
    save_figure(fig, path)


def save_figure(fig: Figure, path: str | os.PathLike, tight: bool = False) -> None:
    """Write ``fig`` as a PNG (130 dpi) atomically: a temporary file renamed into place, never a half-written
    one. ``tight``: apply ``tight_layout`` first."""
    if tight:
        fig.tight_layout()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png", dpi=130)



def save_oned_waveforms(path: str | os.PathLike, names, cycle, max_vessels: int = 8) -> None:
    """PNG of the last 1D cycle: pressure (mmHg) and flow (mL/s) at the middle of each vessel.

    ``names`` are the vessel labels, ``cycle`` a `cardiojax.oned.Cycle`.
    """
    from cardiojax.units import ML_PER_S, MMHG

    t = np.asarray(cycle.time)
    t = t - t[0] + (t[1] - t[0]) if t.size > 1 else t
    p, q = np.asarray(cycle.pressure), np.asarray(cycle.flow)
    fig = Figure(figsize=(7.0, 5.6), layout="constrained")
    ax_p, ax_q = fig.subplots(2, 1, sharex=True)
    for i, name in enumerate(list(names)[:max_vessels]):
        ax_p.plot(t, p[:, i, 2] / MMHG, lw=1.2, label=name)
        ax_q.plot(t, q[:, i, 2] / ML_PER_S, lw=1.2)
    ax_p.set_ylabel("mid-vessel pressure (mmHg)")
    ax_q.set_ylabel("mid-vessel flow (mL/s)")
    ax_q.set_xlabel("time in the last cycle (s)")
    ax_p.legend(fontsize=7, ncol=2)
    ax_p.set_title("1D: last cardiac cycle")
    save_figure(fig, path)


def save_mip_figure(path: str | os.PathLike, image: np.ndarray, affine: np.ndarray, paths: np.ndarray,
                    valid: np.ndarray, ffr_in: np.ndarray, ffr_out: np.ndarray, title: str = "",
                    axis: int | None = None, vmin: float = 0.5, vmax: float = 1.0, region=None) -> None:
    """PNG: maximum-intensity projection of a volume with the tree's centrelines coloured by FFR.

    Args:
      image: ``(nx, ny, nz)`` intensities; ``affine``: voxel index → world (m).
      paths: ``(cap, K, 3)`` m world centreline points per segment; ``valid``: ``(cap,)`` bool.
      ffr_in, ffr_out: ``(cap,)`` FFR at each segment's ends (linear along the path in between).
      axis: index axis to project along (default: the one with the fewest voxels).
      region: optional ``(nx, ny, nz)`` bool; voxels outside it are set to the image's 1st percentile before
        projecting (a vessel MIP: bright chambers or bone elsewhere do not hide the vessels).
    """
    img = np.asarray(image, np.float32)
    if region is not None:
        img = np.where(np.asarray(region, bool), img, np.percentile(img, 1))
    axis = int(np.argmin(img.shape)) if axis is None else axis
    mip = img.max(axis=axis)
    keep = [a for a in range(3) if a != axis]
    valid = np.asarray(valid, bool)
    ijk = (np.asarray(paths)[valid] - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T  # (n, K, 3)
    uv = ijk[..., keep]
    k = uv.shape[1]
    frac = np.linspace(0.0, 1.0, k)
    value = np.asarray(ffr_in)[valid, None] + frac[None, :] * (np.asarray(ffr_out) - np.asarray(ffr_in))[valid, None]
    segs = np.stack([uv[:, :-1], uv[:, 1:]], axis=2).reshape(-1, 2, 2)[..., ::-1]  # (col, row) = (v, u)
    colour = 0.5 * (value[:, :-1] + value[:, 1:]).ravel()
    lo, hi = np.percentile(mip, [1, 99.8])
    fig = Figure(figsize=(6.0, 6.0 * mip.shape[0] / max(mip.shape[1], 1) * 0.9 + 0.6), layout="constrained")
    ax = fig.subplots()
    ax.imshow(mip, cmap="gray", vmin=lo, vmax=hi, origin="upper", interpolation="nearest")
    lines = LineCollection(segs, array=colour, cmap=FFR_CMAP, norm=Normalize(vmin, vmax), linewidths=2.0)
    ax.add_collection(lines)
    fig.colorbar(lines, ax=ax, label="FFR", shrink=0.8)
    ax.set_title(title or "maximum-intensity projection", fontsize=9)
    ax.set_xlabel(f"voxel index {keep[1]}")
    ax.set_ylabel(f"voxel index {keep[0]}")
    save_figure(fig, path)
