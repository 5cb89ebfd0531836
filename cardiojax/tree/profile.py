"""A measured radius profile along one segment → the tree's segment parameters (taper and one lesion).

The inverse of `cardiojax.tree.lumen_radius`: given radii ``r(x)`` (m) sampled at arc lengths ``x`` (m), find the
reference (healthy) radius — linear from ``r_in`` to ``r_out`` — and the deepest narrowing below it as a
cosine lesion ``(severity, length, position)``. Host-side (numpy), for readers and image pipelines.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SegmentProfile:
    """Segment parameters fitted to a radius profile (SI units).

    Attributes:
      r_in, r_out: m, reference radius at the start and the end of the segment.
      severity: diameter stenosis fraction of the lesion (0: none).
      lesion_length: m.  position: lesion centre as a fraction of the segment length.
    """

    r_in: float
    r_out: float
    severity: float
    lesion_length: float
    position: float


def _narrowing_extent(arc, narrowing, k: int, half: float) -> tuple[float, float]:
    """Arc lengths where ``narrowing`` falls to ``half`` walking down and up from sample k."""

    def crossing(step):
        i = k
        while 0 < i < len(narrowing) - 1 and narrowing[i + step] >= half:
            i += step
        j = i + step
        if not 0 <= j < len(narrowing):
            return arc[i]
        w = (narrowing[i] - half) / (narrowing[i] - narrowing[j])
        return arc[i] + w * (arc[j] - arc[i])

    return crossing(-1), crossing(1)


def fit_lesion(arclength: np.ndarray, radius: np.ndarray, min_severity: float = 0.2, reference=None):
    """The deepest narrowing of a radius profile as ``(severity, length, position)``.

    The reference radius is ``reference`` (m, one per sample) or, by default, linear between the end radii;
    severity is the largest relative narrowing ``1 − r/r_ref``; the lesion length is twice the width over
    which the narrowing exceeds half of it (exact for a cosine profile); position is the centre as a fraction
    of the segment length ``arclength[-1]``. Returns ``(0, 0, 0.5)`` when the narrowing is below
    ``min_severity``.
    """
    arclength = np.asarray(arclength, np.float64)
    radius = np.asarray(radius, np.float64)
    total = arclength[-1]
    if reference is None:
        reference = radius[0] + (radius[-1] - radius[0]) * arclength / total
    narrowing = 1.0 - radius / reference
    k = int(np.argmax(narrowing))
    severity = float(narrowing[k])
    if severity < min_severity or total <= 0:
        return 0.0, 0.0, 0.5
    lo, hi = _narrowing_extent(arclength, narrowing, k, 0.5 * severity)
    length = min(2.0 * (hi - lo), total)
    centre = np.clip(arclength[k], 0.5 * length, total - 0.5 * length)
    return severity, float(length), float(centre / total)


def fit_reference(arclength, radius, weight=None, iterations: int = 4, drop: float = 0.06) -> np.ndarray:
    """Robust linear fit of the healthy radius: ``(a, b)`` with ``r_ref(x) = a + b·x`` (m, m/m).

    Least squares, then samples more than ``drop`` (relative) below the line — a lesion — are left out and
    the line refitted, ``iterations`` times. ``weight`` (0/1 or in [0, 1]) leaves out unreliable samples
    (e.g. in junction zones); at least two samples must keep a weight > 0.
    """
    x = np.asarray(arclength, np.float64)
    r = np.asarray(radius, np.float64)
    w = np.ones_like(r) if weight is None else np.asarray(weight, np.float64).copy()
    if np.count_nonzero(w > 0) < 2 or np.ptp(x[w > 0]) <= 0:
        m = float(np.average(r, weights=w)) if np.sum(w) > 0 else float(np.median(r))
        return np.array([m, 0.0])
    coef = np.array([np.median(r[w > 0]), 0.0])
    for _ in range(iterations):  # a few reweighting passes
        A = np.stack([np.ones_like(x), x], axis=1) * np.sqrt(w)[:, None]
        coef = np.linalg.lstsq(A, r * np.sqrt(w), rcond=None)[0]
        line = coef[0] + coef[1] * x
        keep = (r >= (1.0 - drop) * line) & (w > 0)
        if np.count_nonzero(keep) < max(2, 0.3 * np.count_nonzero(w > 0)):
            break
        w = np.where(keep, w, 0.0)
    return coef


def fit_profile(arclength, radius, length: float, weight=None, min_severity: float = 0.2) -> SegmentProfile:
    """Segment parameters from radii ``radius`` (m) at arc lengths ``arclength`` (m) along a segment of
    length ``length`` (m): a robust linear reference (`fit_reference`, extrapolated to both ends) and its
    deepest narrowing (`fit_lesion`), with ``weight`` marking the samples to trust (junction zones 0)."""
    x = np.asarray(arclength, np.float64)
    r = np.asarray(radius, np.float64)
    if x.ndim != 1 or x.shape != r.shape or len(x) < 2:
        raise ValueError(f"arclength, radius: shapes {x.shape}, {r.shape}; expected two equal 1D profiles of ≥ 2 samples")
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError(f"radius: values in [{r.min():g}, {r.max():g}] m; expected finite radii > 0")
    a, b = fit_reference(x, r, weight)
    r_in = max(a, 0.2 * float(np.max(r)))
    r_out = max(a + b * length, 0.2 * float(np.max(r)))
    w = np.ones_like(r) if weight is None else np.asarray(weight, np.float64)
    use = w > 0
    if np.count_nonzero(use) < 3:
        return SegmentProfile(r_in, r_out, 0.0, 0.0, 0.5)
    xs = x[use]
    ref = r_in + (r_out - r_in) * xs / length
    sev, ls, pos = fit_lesion(xs, r[use], min_severity, reference=ref)
    if sev > 0:  # fit_lesion's position is relative to xs[-1]; express it on the whole segment
        pos = float(np.clip(pos * xs[-1] / length, 0.5 * ls / length, 1.0 - 0.5 * ls / length))
    return SegmentProfile(float(r_in), float(r_out), float(sev), float(ls), float(pos))


def lesion_centres(arclength, radius, weight=None, min_severity: float = 0.2) -> np.ndarray:
    """Arc lengths (m) of every separate narrowing of at least ``min_severity`` below the robust reference.

    A narrowing is a run of samples more than ``min_severity / 2`` below the reference line
    (`fit_reference`); runs whose deepest point reaches ``min_severity`` count, at their deepest point.
    A segment carries one lesion, so a profile with several needs cutting between them (see
    `cardiojax.imaging.centreline_tree`).
    """
    x = np.asarray(arclength, np.float64)
    r = np.asarray(radius, np.float64)
    w = np.ones_like(r) if weight is None else np.asarray(weight, np.float64)
    a, b = fit_reference(x, r, w)
    narrowing = np.where(w > 0, 1.0 - r / np.maximum(a + b * x, 1e-12), 0.0)
    run = narrowing >= 0.5 * min_severity
    edges = np.flatnonzero(np.diff(np.concatenate([[0], run.astype(int), [0]])))
    centres = []
    for lo, hi in zip(edges[::2], edges[1::2]):  # over narrowings (a few)
        k = lo + int(np.argmax(narrowing[lo:hi]))
        if narrowing[k] >= min_severity:
            centres.append(x[k])
    return np.asarray(centres)
