"""Synthetic coronary CT angiograms of known vessel trees (3D, float32, jit/vmap-able).

`render_angiogram(key, tree, paths, params, shape, affine)` draws a tree whose centrelines are ``paths``
(``(cap, K, 3)`` m, from `cardiojax.synth.course.wrap_on_heart`) into a CT image of the heart: the lumen
(`cardiojax.imaging.lumen.render_lumen`, re-exported here), calcified plaque, the myocardial shell, the blood
pool, epicardial fat and lung, then the iodine dose, the scanner's blur and correlated noise.
`angiogram_volume` picks a grid around the tree and returns a `cardiojax.io.volume.Volume`.

Coordinates: world points are m (LPS); ``affine`` maps a voxel index (i, j, k) to the world point of that
voxel's centre; arrays are indexed ``[i, j, k]``. The ostium (the root's start) is the world origin.

Intensities (HU; `AngioParams` holds the ranges each case is drawn from). Layers, each drawn over the earlier
ones with its partial-volume weight (a linear ramp one voxel wide): lung/outside; epicardial fat (the heart
ellipsoid grown by ``fat_thickness``); myocardium (the ellipsoid shrunk by ``myocardium_gap``, so the vessels
lie in the fat on the muscle); the ventricular blood pool (shrunk by a further ``wall_thickness``, so the lumen
stays ≥ gap + wall − radius from it); calcified plaque (outside the lumen, beside lesions); the lumen.
Enhancement: unenhanced blood is 40 HU (`HU_BLOOD_UNENHANCED`), the lumen is ``lumen_hu``, the blood pool
``40 + cavity_factor·(lumen_hu − 40)``, and the myocardium takes iodine through its blood (from
``myocardium_unenhanced_hu`` to ``myocardium_hu``; its iodine fraction φ is its blood-pool weight). The dose
fraction f is applied exactly with `cardiojax.imaging.dose.low_dose_hu` (mask: iodinated voxels, reference:
the unenhanced image — so partial-volume voxels are not counted twice): ``HU = HU_u + f·(HU_full − HU_u)``.
Then the scanner's PSF (Gaussian, ``psf_fwhm``) blurs the image — blooming calcium into the lumen — and
stationary noise (white noise blurred by a Gaussian of ``noise_fwhm``, rescaled to exactly ``noise_sigma``)
is added.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.imaging.dose import HU_BLOOD_UNENHANCED, low_dose_hu
from cardiojax.imaging.lumen import (
    MAX_VOXELS,
    VOXEL_RANGE,
    RenderGrid,
    check_paths,
    lumen_on_grid,
    make_render_grid,
    render_lumen,
    splat,
)
from cardiojax.io.volume import Volume, affine_from
from cardiojax.synth.course import HeartShape
from cardiojax.tree.geometry import reference_radius
from cardiojax.tree.paths import point_at, tangent_at
from cardiojax.tree.vessel_tree import VesselTree

__all__ = ["AngioParams", "Angiogram", "angiogram_volume", "render_angiogram", "render_lumen"]

Range = tuple[float, float]

_CALCIUM_AXES = ((0.5e-3, 3.0e-3), (0.25e-3, 1.5e-3), (0.5e-3, 2.0e-3))  # m: along, radial, round (min, max)
_F32 = jnp.float32


def _is_traced(*xs) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(xs))


@dataclasses.dataclass(frozen=True)
class AngioParams:
    """Ranges (low, high) that each case's values are drawn from, uniformly (HU, m, 1). Set low = high to fix one.

    Defaults (typical coronary CTA values): lumen 250–550 HU (250 HU is a common lower bound for diagnostic
    coronary opacification); myocardium 100–150 HU enhanced, from 40–50 HU unenhanced; epicardial fat
    −120…−80 HU; lung −850…−750 HU; blood pool 0.9–1.05 × the lumen's enhancement; scanner PSF an isotropic
    Gaussian of FWHM 0.5–0.8 mm; noise σ 20–40 HU with a correlation FWHM 0.6–1.0 mm; calcium 600–1200 HU,
    present beside a lesion with probability ``calcium_probability``; left-ventricular wall 8–12 mm; the
    myocardium 1.5–3 mm below the vessels' centreline surface and the fat 5–8 mm above it; full dose.
    """

    lumen_hu: Range = (250.0, 550.0)
    cavity_factor: Range = (0.9, 1.05)
    myocardium_hu: Range = (100.0, 150.0)
    myocardium_unenhanced_hu: Range = (40.0, 50.0)
    fat_hu: Range = (-120.0, -80.0)
    outside_hu: Range = (-850.0, -750.0)
    psf_fwhm: Range = (0.5e-3, 0.8e-3)
    noise_sigma: Range = (20.0, 40.0)
    noise_fwhm: Range = (0.6e-3, 1.0e-3)
    calcium_hu: Range = (600.0, 1200.0)
    calcium_probability: float = 0.3
    dose_fraction: Range = (1.0, 1.0)
    wall_thickness: Range = (8e-3, 12e-3)
    myocardium_gap: Range = (1.5e-3, 3e-3)
    fat_thickness: Range = (5e-3, 8e-3)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name == "calcium_probability":
                continue
            value = tuple(float(v) for v in getattr(self, f.name))
            object.__setattr__(self, f.name, value)
            if len(value) != 2 or not all(math.isfinite(v) for v in value) or value[0] > value[1]:
                raise ValueError(f"AngioParams.{f.name} = {value}; expected a finite (low, high) with low <= high")
        checks = {"psf_fwhm": (0.0, 5e-3), "noise_fwhm": (0.0, 5e-3), "noise_sigma": (0.0, 500.0),
                  "dose_fraction": (1e-3, 1.0), "cavity_factor": (0.0, 2.0), "wall_thickness": (1e-3, 0.03),
                  "myocardium_gap": (0.0, 0.02), "fat_thickness": (0.0, 0.03)}  # fmt: skip
        for name, (lo, hi) in checks.items():
            low, high = getattr(self, name)
            if low < lo or high > hi:
                raise ValueError(f"AngioParams.{name} = {(low, high)}; expected values in [{lo}, {hi}]")
        if not 0.0 <= self.calcium_probability <= 1.0:
            raise ValueError(f"AngioParams.calcium_probability = {self.calcium_probability}; expected a value in [0, 1]")

    def sample(self, key) -> dict[str, jax.Array]:
        """One case: a float32 scalar per range field, drawn uniformly (vmap over keys for a batch)."""
        names = [f.name for f in dataclasses.fields(self) if f.name != "calcium_probability"]
        u = jax.random.uniform(key, (len(names),), _F32)
        return {n: _F32(getattr(self, n)[0]) + u[i] * _F32(getattr(self, n)[1] - getattr(self, n)[0])
                for i, n in enumerate(names)}  # fmt: skip


class Angiogram(NamedTuple):
    """A rendered angiogram; every image ``(nx, ny, nz)`` float32 on the grid it was rendered on.

    Attributes:
      hu: the CT image, HU (dose, blur and noise applied).
      hu_clean: the same without noise, HU.
      lumen: true lumen occupancy ∈ [0, 1] (before blur).
      calcium: calcified-plaque weight ∈ [0, 1] (outside the lumen).
      cavity: ventricular blood-pool weight ∈ [0, 1].
      myocardium: myocardium weight ∈ [0, 1] (after the layers drawn over it).
      blood_pool: iodine weight ∈ [0, 1] (lumen + blood pool + the myocardium's blood fraction).
      case: the drawn values (`AngioParams.sample`), HU / m / 1.
    """

    hu: jax.Array
    hu_clean: jax.Array
    lumen: jax.Array
    calcium: jax.Array
    cavity: jax.Array
    myocardium: jax.Array
    blood_pool: jax.Array
    case: dict


# ---------------------------------------------------------------- calcium, heart, scanner


def _calcium_spots(key, tree: VesselTree, paths, probability: float):
    """Ellipsoidal calcified plaque beside each lesion (with ``probability``): centres, frames, semi-axes, m."""
    k_on, k_angle = jax.random.split(key)
    s, pos = tree.stenosis_severity.astype(_F32), tree.stenosis_position.astype(_F32)
    on = tree.valid & (s > 0) & jax.random.bernoulli(k_on, probability, s.shape)
    centre = point_at(paths, pos[:, None].astype(paths.dtype))[:, 0].astype(_F32)
    t = tangent_at(paths, pos[:, None].astype(paths.dtype))[:, 0].astype(_F32)
    helper = jnp.where(jnp.abs(t[:, :1]) > 0.9, jnp.asarray([0.0, 1.0, 0.0], _F32), jnp.asarray([1.0, 0.0, 0.0], _F32))
    n1 = helper - jnp.sum(helper * t, -1, keepdims=True) * t
    n1 = n1 / jnp.linalg.norm(n1, axis=-1, keepdims=True)
    n2 = jnp.cross(t, n1)
    angle = jax.random.uniform(k_angle, s.shape, _F32, 0.0, 2.0 * jnp.pi)
    normal = jnp.cos(angle)[:, None] * n1 + jnp.sin(angle)[:, None] * n2
    r_ref = reference_radius(tree, tree.stenosis_position).astype(_F32)
    (lo_t, hi_t), (lo_n, hi_n), (lo_b, hi_b) = _CALCIUM_AXES
    axes = jnp.stack([jnp.clip(0.25 * tree.stenosis_length.astype(_F32), lo_t, hi_t),
                      jnp.clip(0.5 * s * r_ref, lo_n, hi_n), jnp.clip(0.7 * r_ref, lo_b, hi_b)], -1)  # fmt: skip
    centre = centre + normal * ((1.0 - s) * r_ref + axes[:, 1])[:, None]  # touching the narrowest lumen
    frame = jnp.stack([t, normal, jnp.cross(t, normal)], axis=1)  # (cap, 3 axes, 3)
    return on, centre, frame, axes


def _ellipsoid_sdf(local, axes):
    """Approximate signed distance (m) of ``local`` points (frame coordinates, m) to an ellipsoid."""
    k0 = jnp.sqrt(jnp.sum((local / axes) ** 2, -1) + 1e-30)
    k1 = jnp.sqrt(jnp.sum((local / (axes * axes)) ** 2, -1) + 1e-30)
    return k0 * (k0 - 1.0) / k1


def _calcium(key, tree: VesselTree, paths, probability: float, g: RenderGrid):
    """Calcium weight ∈ [0, 1] per voxel (no gradient), before the lumen is drawn over it."""
    tree, paths = lax.stop_gradient((tree, paths))
    on, centre, frame, axes = _calcium_spots(key, tree, paths, probability)

    def weight(ids, x):
        local = jnp.einsum("cvj,caj->cva", x - centre[ids][:, None], frame[ids])
        w = jnp.clip(0.5 - _ellipsoid_sdf(local, axes[ids][:, None]) / g.ramp, 0.0, 1.0)
        return jnp.where(on[ids][:, None], w, 0.0)

    reach = max(hi for _, hi in _CALCIUM_AXES) + g.ramp
    order = jnp.argsort(~on)  # calcified spots first: the loop stops after the last one
    init = jnp.zeros(math.prod(g.shape), _F32)
    centre, frame, axes, on = centre[order], frame[order], axes[order], on[order]
    return splat(g, reach, centre, jnp.sum(on), weight, init, "max").reshape(g.shape)


def _frame_coords(g: RenderGrid, centre, rot):
    """Voxel centres in a frame: ``((x − centre) @ rot)`` as 3 arrays ``(nx, ny, nz)`` m (broadcast, fused)."""
    m = g.matrix.T @ rot  # (3 index axes, 3 frame axes)
    b = (g.origin - centre) @ rot
    idx = [jnp.arange(n, dtype=_F32).reshape([-1 if a == d else 1 for d in range(3)]) for a, n in enumerate(g.shape)]
    return [_F32(b[c]) + sum(idx[a] * _F32(m[a, c]) for a in range(3)) for c in range(3)]


def _heart_layers(g: RenderGrid, heart: HeartShape, case):
    """Weights ∈ [0, 1] of the fat, myocardium and blood-pool ellipsoids (nested; each drawn over the last)."""
    centre, rot = heart.frame()
    x, y, z = _frame_coords(g, centre, rot)
    a, b, c = (_F32(v) for v in heart.semi_axes)

    def weight(grow):  # approximate ellipsoid sdf k0 (k0 − 1) / k1, as in _ellipsoid_sdf
        ga, gb, gc = a + grow, b + grow, c + grow
        k0 = jnp.sqrt((x / ga) ** 2 + (y / gb) ** 2 + (z / gc) ** 2 + 1e-30)
        k1 = jnp.sqrt((x / ga**2) ** 2 + (y / gb**2) ** 2 + (z / gc**2) ** 2 + 1e-30)
        return jnp.clip(0.5 - k0 * (k0 - 1.0) / k1 / g.ramp, 0.0, 1.0)

    gap = case["myocardium_gap"]
    return weight(case["fat_thickness"]), weight(-gap), weight(-gap - case["wall_thickness"])


def _gauss_taps(fwhm, spacing: float, half: int):
    """Normalised Gaussian taps ``(2 half + 1,)`` of a FWHM (m) at a voxel size (m)."""
    sigma = jnp.maximum(fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0))) / spacing, 1e-3)
    x = jnp.arange(-half, half + 1, dtype=_F32)
    w = jnp.exp(-0.5 * (x / sigma) ** 2)
    return w / jnp.sum(w)


def _halves(g: RenderGrid, fwhm_max: float) -> list[int]:
    """Static kernel half-widths (voxels) per axis: 3 σ of the largest FWHM (m)."""
    return [max(1, math.ceil(3.0 * fwhm_max / 2.3548 / s)) for s in g.spacing]


def _blur(image, fwhm, g: RenderGrid, fwhm_max: float, valid: bool = False):
    """Separable Gaussian blur (FWHM m). ``valid``: the input carries ``half`` extra voxels per side to eat up;
    otherwise the edges are extended (no darkening at the border)."""
    for axis, (half, s) in enumerate(zip(_halves(g, fwhm_max), g.spacing)):
        taps = _gauss_taps(fwhm, float(s), half)
        if not valid:
            pad = [(0, 0)] * 3
            pad[axis] = (half, half)
            image = jnp.pad(image, pad, mode="edge")
        n = image.shape[axis] - 2 * half
        image = sum(taps[m] * lax.slice_in_dim(image, m, m + n, axis=axis) for m in range(2 * half + 1))
    return image


def _noise(key, g: RenderGrid, sigma, fwhm, fwhm_max: float):
    """Stationary Gaussian noise: white noise blurred by a Gaussian (FWHM m), rescaled to std ``sigma`` HU."""
    halves = _halves(g, fwhm_max)
    white = jax.random.normal(key, tuple(n + 2 * h for n, h in zip(g.shape, halves)), _F32)
    # blurred white noise has variance Σ taps² (per axis, multiplied): divide its square root out
    gain = math.prod(jnp.sqrt(jnp.sum(_gauss_taps(fwhm, float(s), h) ** 2)) for s, h in zip(g.spacing, halves))
    return sigma * _blur(white, fwhm, g, fwhm_max, valid=True) / gain


def _compose(layers, outside):
    """Draw ``(weight, value)`` layers over ``outside`` in order: ``v ← v + w·(value − v)``."""
    v = outside
    for w, value in layers:
        v = v + w * (value - v)
    return v


@functools.partial(jax.jit, static_argnames=("params", "heart", "g"))
def _render_angiogram(key, tree: VesselTree, paths, params: AngioParams, heart: HeartShape, g: RenderGrid) -> Angiogram:
    k_case, k_calcium, k_noise = jax.random.split(key, 3)
    case = params.sample(k_case)
    lumen = lumen_on_grid(tree, paths, g)
    calcium = _calcium(k_calcium, tree, paths, params.calcium_probability, g) * (1.0 - lumen)
    fat, myo, cav = _heart_layers(g, heart, case)
    blood_u = _F32(HU_BLOOD_UNENHANCED)
    enh = case["lumen_hu"] - blood_u
    phi = (case["myocardium_hu"] - case["myocardium_unenhanced_hu"]) / jnp.maximum(enh, 1.0)
    weights = (fat, myo, cav, calcium, lumen)
    zero = jnp.zeros_like(lumen)
    unenhanced = (case["fat_hu"], case["myocardium_unenhanced_hu"], blood_u, case["calcium_hu"], blood_u)
    hu_u = _compose(zip(weights, unenhanced), zero + case["outside_hu"])
    relative = _compose(zip(weights, (0.0, phi, case["cavity_factor"], 0.0, 1.0)), zero)  # of the lumen's E
    blood = _compose(zip(weights, (0.0, phi, 1.0, 0.0, 1.0)), zero)  # iodinated blood fraction
    hu_dose = low_dose_hu(hu_u + enh * relative, relative > 0, case["dose_fraction"], hu_u)
    hu_clean = _blur(hu_dose, case["psf_fwhm"], g, params.psf_fwhm[1])
    noise = _noise(k_noise, g, case["noise_sigma"], case["noise_fwhm"], params.noise_fwhm[1])
    cavity = cav * (1.0 - calcium) * (1.0 - lumen)
    myocardium = (myo - cav) * (1.0 - calcium) * (1.0 - lumen)
    return Angiogram(hu_clean + noise, hu_clean, lumen, calcium, cavity, myocardium, jnp.clip(blood, 0.0, 1.0), case)


def render_angiogram(key, tree: VesselTree, paths, params: AngioParams = AngioParams(), shape=None, affine=None, *, heart: HeartShape | None = None, max_radius=None, max_length=None,
                     piece_length=None) -> Angiogram:  # fmt: skip
    """A synthetic coronary CT angiogram of ``tree`` on the grid ``(shape, affine)``.

    Args:
      key: PRNG key (case values, calcified lesions, noise); the same key gives the same image.
      tree: a single tree (m); `vmap` over keys and trees (same capacity) for batches.
      paths: ``(cap, K, 3)`` m, its centrelines — on ``heart``'s surface (`wrap_on_heart`) for the anatomy to
        make sense.
      params: the ranges each case is drawn from (static).
      shape: ``(nx, ny, nz)`` voxels (static, required).
      affine: ``(4, 4)`` voxel index → world (m), concrete (required).
      heart: the epicardial ellipsoid the paths were wrapped on (static; default `HeartShape()`).
      max_radius, max_length, piece_length: the lumen splat's static bounds (see `render_lumen`).

    Returns:
      An `Angiogram` (float32 images, HU, and the drawn ``case``); differentiable in the tree's radii
      through the lumen (calcium is not differentiated).
    """
    if shape is None or affine is None:
        raise ValueError(f"shape = {shape!r}, affine = {'None' if affine is None else 'given'}; expected both: the grid "
                         "(nx, ny, nz) and its (4, 4) voxel index → world (m) matrix (or use angiogram_volume)")
    paths = check_paths(tree, paths)
    g = make_render_grid(tree, paths, shape, affine, max_radius, max_length, piece_length)
    return _render_angiogram(key, tree, paths, params, HeartShape() if heart is None else heart, g)


def angiogram_volume(key, tree: VesselTree, paths, params: AngioParams = AngioParams(), *, voxel_size: float = 0.5e-3,
                     margin: float = 5e-3, heart: HeartShape | None = None, include_heart: bool = False,
                     multiple: int = 16) -> tuple[Volume, Angiogram]:  # fmt: skip
    """Render ``tree`` on an axis-aligned grid around it and return ``(Volume of hu, Angiogram)``.

    The box holds every valid path point grown by the largest radius and ``margin`` (m) — or the whole heart
    (fat layer included) when ``include_heart`` — and is grown evenly to a ``multiple`` of voxels per axis, so
    that trees of similar size share a compiled renderer; ``voxel_size`` is 0.3–0.7 mm for CT (0.1–2 mm
    accepted). The root starts at the ostium, the world origin: ``volume.world_to_index(tree.start[root])``
    is the seed voxel of the root. Needs a concrete tree (not under `jit`); use `render_angiogram` for batches.
    """
    if not (isinstance(voxel_size, (int, float)) and VOXEL_RANGE[0] <= voxel_size <= VOXEL_RANGE[1]):
        raise ValueError(f"voxel_size = {voxel_size!r} m; expected a number in [{VOXEL_RANGE[0]}, {VOXEL_RANGE[1]}] m")
    if not (isinstance(margin, (int, float)) and 0.0 <= margin <= 0.05):
        raise ValueError(f"margin = {margin!r} m; expected a number in [0, 0.05] m")
    if _is_traced(tree, paths):
        raise ValueError("tree: traced; angiogram_volume needs a concrete tree (use render_angiogram under jit)")
    paths = check_paths(tree, paths)
    valid = np.asarray(tree.valid)
    if not valid.any():
        raise ValueError("tree: no valid segment; expected at least one")
    pts = np.asarray(paths, np.float64)[valid].reshape(-1, 3)
    grow = float(np.max(np.maximum(np.asarray(tree.r_in), np.asarray(tree.r_out))[valid])) + margin
    lo, hi = pts.min(0) - grow, pts.max(0) + grow
    if include_heart:
        centre, rot = (HeartShape() if heart is None else heart).frame()
        ext = np.sqrt(((rot * (np.asarray(heart.semi_axes) + params.fat_thickness[1])) ** 2).sum(1)) + margin
        lo, hi = np.minimum(lo, centre - ext), np.maximum(hi, centre + ext)
    if not (isinstance(multiple, int) and 1 <= multiple <= 128):
        raise ValueError(f"multiple = {multiple!r}; expected an int in [1, 128] (voxels)")
    need = np.ceil((hi - lo) / voxel_size).astype(int) + 1
    shape = tuple(int(n) for n in -(-need // multiple) * multiple)
    lo = lo - 0.5 * (np.asarray(shape) - need) * voxel_size  # centre the grown box
    if math.prod(shape) > MAX_VOXELS:
        raise ValueError(f"grid {shape} at voxel_size = {voxel_size} m has {math.prod(shape)} voxels; expected at "
                         f"most {MAX_VOXELS} (use a larger voxel size or a smaller margin)")
    affine = affine_from([voxel_size] * 3, lo)
    angio = render_angiogram(key, tree, paths, params, shape, affine, heart=heart)
    return Volume(angio.hu, affine), angio
