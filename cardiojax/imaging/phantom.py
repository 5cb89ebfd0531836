"""Random axial CT-angiography slices at the level of the heart and descending aorta.

`sample_params(key)` draws the anatomy (`SliceParams`, SI units), `render(params, n_pixels, pixel_size)` draws
it on a square pixel grid, and `generate(key, ...)` returns a `Slice`: the contrast-enhanced image, the same
anatomy without contrast, the blood-pool weight and an aorta ROI. Everything is a vectorised function of the
pixel grid (signed distances of ellipses and discs), so `generate` is `jit`-able and `vmap`-able over keys
(`generate_batch`).

Geometry (image convention, radiological view): ``x`` runs along columns (to the image right = the patient's
left), ``y`` runs along rows (down = posterior); the origin is the centre of the field of view; lengths in m.
The slice has, back to front (later layers cover earlier ones):

====  ==================  ==================================================================
 0    air                 −1000 HU
 1    subcutaneous fat    body ellipse (semi-axes 0.14–0.165 m × 0.10–0.12 m), −120…−80 HU
 2    soft tissue         body minus a 6–20 mm fat ring, 40–60 HU + smooth texture (2–6 HU)
 3-4  lungs               two ellipses inside the chest wall, −870…−830 HU + texture (10–30 HU)
 5    myocardium          heart ellipse, 40–50 HU unenhanced, 100–130 HU enhanced
 6-8  LA, LV, RV          chamber ellipses inside the heart (≥ 8 mm wall): blood
 9    ascending aorta     disc, radius 12–17 mm, right-anterior of the heart: blood
 10   vertebral cortex    disc, 700–1000 HU; 11 cancellous core 200–300 HU; 12 neural arch (cortical)
 13   spinal canal        disc, 10–30 HU
 14   descending aorta    disc, radius 9–14 mm, left-anterior of the vertebral body: blood
====  ==================  ==================================================================

Contrast: unenhanced blood is `HU_BLOOD_UNENHANCED` = 40 HU; the full-dose blood pool is 40 + E HU with the
enhancement E ~ U(250, 450) HU (the right ventricle gets r·E, r ~ U(0.8, 1.0)). The myocardium enhances through
its blood and interstitial space: its iodine fraction φ = (HU_myo,enh − HU_myo,unenh) / E (≈ 0.1–0.35) is its
blood-pool weight, so that everywhere

    hu_full − hu_unenhanced = E · Σ_k r_k β_k W_k ,   blood_pool = Σ_k β_k W_k ,

with W_k the effective (partial-volume) weight of layer k, β_k = 1 for blood, φ for the myocardium, 0 otherwise.
Outside the blood pool the two images are bit-for-bit equal. Edges are anti-aliased: a layer's weight is a cubic
smoothstep of its signed distance over ±1 pixel (`edge_weight`), which is compactly supported, so weights are
exactly 0 and exactly 1 more than a pixel away from an edge.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.imaging.dose import HU_BLOOD_UNENHANCED, low_dose_hu

HU_AIR = -1000.0
DEFAULT_FOV = 0.36  # m: default field of view (0.36 m / 128 px = 2.8 mm pixels)
ENHANCEMENT_RANGE = (250.0, 450.0)  # HU added to the blood pool by a full contrast dose
N_TEXTURE = 16  # cosine modes per texture field

LABEL_NAMES = (
    "air", "fat", "soft_tissue", "lung", "myocardium", "left_atrium", "left_ventricle", "right_ventricle",
    "ascending_aorta", "cortical_bone", "cancellous_bone", "spinal_canal", "descending_aorta",
)  # fmt: skip
# drawing order of the layers (see the table above) and the label of each
_LAYERS = (
    ("air", "air"), ("fat", "fat"), ("soft", "soft_tissue"), ("lung_r", "lung"), ("lung_l", "lung"),
    ("myocardium", "myocardium"), ("la", "left_atrium"), ("lv", "left_ventricle"), ("rv", "right_ventricle"),
    ("asc", "ascending_aorta"), ("cortex", "cortical_bone"), ("cancellous", "cancellous_bone"),
    ("arch", "cortical_bone"), ("canal", "spinal_canal"), ("desc", "descending_aorta"),
)  # fmt: skip
_LAYER_NAMES = tuple(name for name, _ in _LAYERS)
_LAYER_LABEL = tuple(LABEL_NAMES.index(label) for _, label in _LAYERS)
_AORTA_LAYERS = (_LAYER_NAMES.index("asc"), _LAYER_NAMES.index("desc"))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SliceParams:
    """Anatomy of one slice; every leaf is an array (a leading batch axis under `vmap`).

    Positions are ``(x, y)`` in m from the centre of the field of view (x to the image right, y down =
    posterior); lengths in m, angles in rad (counter-clockwise on screen is negative, as y points down),
    intensities in HU, texture wave vectors in rad/m.
    """

    body_center: jax.Array  # (2,) m
    body_axes: jax.Array  # (2,) m, semi-axes of the outer (skin) ellipse
    body_angle: jax.Array  # () rad
    fat_thickness: jax.Array  # () m
    chest_wall: jax.Array  # () m, soft tissue between the lungs and the fat ring
    lung_center: jax.Array  # (2, 2) m, [right lung, left lung]
    lung_axes: jax.Array  # (2, 2) m
    lung_angle: jax.Array  # (2,) rad
    heart_center: jax.Array  # (2,) m
    heart_axes: jax.Array  # (2,) m
    heart_angle: jax.Array  # () rad
    wall_thickness: jax.Array  # () m, minimum myocardium between chambers and the heart edge
    chamber_center: jax.Array  # (3, 2) m, [LA, LV, RV]
    chamber_axes: jax.Array  # (3, 2) m
    asc_center: jax.Array  # (2,) m
    asc_radius: jax.Array  # () m
    spine_center: jax.Array  # (2,) m, centre of the vertebral body
    vertebra_radius: jax.Array  # () m
    cortex_thickness: jax.Array  # () m
    canal_center: jax.Array  # (2,) m
    canal_radius: jax.Array  # () m
    arch_thickness: jax.Array  # () m
    desc_center: jax.Array  # (2,) m
    desc_radius: jax.Array  # () m
    hu_fat: jax.Array  # () HU
    hu_soft: jax.Array  # () HU
    hu_lung: jax.Array  # () HU
    hu_myocardium: jax.Array  # () HU, unenhanced
    hu_cortical: jax.Array  # () HU
    hu_cancellous: jax.Array  # () HU
    hu_canal: jax.Array  # () HU
    enhancement_hu: jax.Array  # () HU added to fully enhanced blood
    right_heart_factor: jax.Array  # () relative enhancement of the right ventricle
    myocardium_fraction: jax.Array  # () iodine (blood-pool) fraction φ of the myocardium
    soft_texture_amp: jax.Array  # () HU, standard deviation of the soft-tissue texture
    soft_texture_k: jax.Array  # (N_TEXTURE, 2) rad/m
    soft_texture_phase: jax.Array  # (N_TEXTURE,) rad
    lung_texture_amp: jax.Array  # () HU
    lung_texture_k: jax.Array  # (N_TEXTURE, 2) rad/m
    lung_texture_phase: jax.Array  # (N_TEXTURE,) rad


class Slice(NamedTuple):
    """One CTA slice; a batch has a leading axis on every field.

    Attributes:
      hu_full: ``(N, N)`` HU, full contrast dose.
      hu_unenhanced: ``(N, N)`` HU, the same anatomy without contrast (blood ≈ 40 HU).
      blood_pool: ``(N, N)`` float in [0, 1], the iodinated (partial-volume) fraction of each pixel.
      aorta: ``(N, N)`` bool, the interior of the aortic lumen, pixels entirely inside it (more than a pixel
        from the wall): an ROI for mean-HU measurements.
      enhancement_hu: ``()`` HU added to fully enhanced aortic blood by the full dose.
    """

    hu_full: jax.Array
    hu_unenhanced: jax.Array
    blood_pool: jax.Array
    aorta: jax.Array
    enhancement_hu: jax.Array


# ---------------------------------------------------------------- shapes on the pixel grid


def pixel_grid(n_pixels: int, pixel_size: float, dtype=None) -> jax.Array:
    """Pixel-centre coordinates ``(N, N, 2)`` in m, ``[..., 0]`` = x (columns), ``[..., 1]`` = y (rows)."""
    dtype = dtype or jnp.zeros(()).dtype
    c = (jnp.arange(n_pixels, dtype=dtype) - 0.5 * (n_pixels - 1)) * pixel_size
    y, x = jnp.meshgrid(c, c, indexing="ij")
    return jnp.stack([x, y], axis=-1)


def edge_weight(sdf: jax.Array, width) -> jax.Array:
    """Anti-aliased inside-weight of a shape from its signed distance ``sdf`` (m, negative inside).

    A cubic smoothstep falling from 1 at ``sdf = −width`` to 0 at ``sdf = +width`` (0.5 on the edge); exactly 1
    and exactly 0 beyond. With ``width`` = one pixel size (m) its 10–90 % rise is 1.2 pixels, like the partial
    volume of a pixel cut by the edge.
    """
    t = jnp.clip(0.5 - 0.5 * sdf / width, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _rotate(p: jax.Array, angle: jax.Array) -> jax.Array:
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1]], axis=-1)


def sdf_disc(grid: jax.Array, center: jax.Array, radius: jax.Array) -> jax.Array:
    """Signed distance (m) of ``grid`` ``(..., 2)`` to a disc (``center`` (2,) m, ``radius`` m)."""
    d = grid - center
    return jnp.sqrt(jnp.sum(d * d, axis=-1) + 1e-30) - radius


def sdf_ellipse(grid: jax.Array, center: jax.Array, axes: jax.Array, angle: jax.Array) -> jax.Array:
    """Approximate signed distance (m) to a rotated ellipse (``axes`` (2,) semi-axes in m, ``angle`` rad).

    ``(k − 1) / |∇k|`` with ``k = |R(−angle)(p − c) / axes|``: exact on the boundary to first order (what the
    anti-aliasing needs), bounded between ``(k − 1)·min(axes)`` and ``(k − 1)·max(axes)`` everywhere and
    finite with finite gradients at the centre.
    """
    q = _rotate(grid - center, -angle)
    u, v = q[..., 0] / axes[0], q[..., 1] / axes[1]
    r2 = u * u + v * v
    k = jnp.sqrt(r2 + 1e-30)
    grad_over_k = jnp.sqrt((u * u / axes[0] ** 2 + v * v / axes[1] ** 2 + 1e-12 / (axes[0] * axes[1])) / (r2 + 1e-12))
    return (k - 1.0) / grad_over_k


def _texture(grid: jax.Array, k: jax.Array, phase: jax.Array, amp: jax.Array) -> jax.Array:
    """Smooth random field ``(N, N)`` HU: ``amp · sqrt(2/K) · Σ cos(k_i·x + φ_i)`` (standard deviation ``amp``)."""
    arg = jnp.einsum("...c,kc->...k", grid, k) + phase
    return amp * jnp.sqrt(2.0 / k.shape[0]) * jnp.sum(jnp.cos(arg), axis=-1)


# ---------------------------------------------------------------- sampling


_N_UNIFORM = 256  # uniform numbers drawn per slice (one PRNG call; `sample_params` uses fewer)


class _Uniforms:
    """Hands out slices of one vector of U(0, 1) draws, scaled to ``[lo, hi)`` (static bookkeeping)."""

    def __init__(self, key, dtype):
        self.values = jax.random.uniform(key, (_N_UNIFORM,), dtype)
        self.used = 0

    def __call__(self, lo, hi, shape=()):
        size = int(np.prod(shape))
        if self.used + size > _N_UNIFORM:
            raise RuntimeError("sample_params needs more uniform draws than _N_UNIFORM")
        x = self.values[self.used : self.used + size].reshape(shape)
        self.used += size
        return lo + (hi - lo) * x


def _wavevectors(u: _Uniforms, lam_min: float, lam_max: float) -> tuple[jax.Array, jax.Array]:
    lam = u(lam_min, lam_max, (N_TEXTURE,))
    theta = u(0.0, 2 * jnp.pi, (N_TEXTURE,))
    k = (2 * jnp.pi / lam)[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=-1)
    return k, u(0.0, 2 * jnp.pi, (N_TEXTURE,))


def sample_params(key: jax.Array, dtype=None) -> SliceParams:
    """Draw the anatomy of one slice from ``key`` (`vmap` over keys for a batch).

    Sizes scale with the drawn body so that organs stay inside it; organs are placed in the body's frame and
    then rotated with it. ``dtype`` defaults to JAX's default float (float64 under ``jax_enable_x64``).
    """
    dtype = dtype or jnp.zeros(()).dtype
    u = _Uniforms(key, dtype)

    body_center = u(-0.01, 0.01, (2,))
    body_axes = jnp.stack([u(0.14, 0.165), u(0.10, 0.12)])
    body_angle = u(-0.08, 0.08)
    fat = u(0.006, 0.02)
    inner = body_axes - fat  # semi-axes of the soft-tissue ellipse
    ax, ay = inner[0], inner[1]
    wall = u(0.012, 0.02)

    def to_body(p):  # body frame -> image frame
        return body_center + _rotate(p, body_angle)

    side = jnp.array([-1.0, 1.0], dtype)  # right lung (image left), left lung (image right)
    lung_axes = jnp.stack([ax * u(0.30, 0.38, (2,)), ay * u(0.65, 0.80, (2,))], axis=-1)
    lung_c = jnp.stack([side * (ax - lung_axes[:, 0] - wall), ay * u(0.0, 0.2, (2,))], axis=-1)
    lung_angle = body_angle + side * u(-0.25, 0.1, (2,))

    heart_axes = ay * jnp.stack([u(0.58, 0.68), u(0.42, 0.50)])
    heart_angle_local = u(-0.6, -0.3)
    heart_c = jnp.stack([ax * u(0.05, 0.2), -ay * u(0.32, 0.40)])
    # chambers in the heart frame: u along the long axis (towards the apex, left-anterior), v posterior
    a_h, b_h = heart_axes[0], heart_axes[1]
    base = jnp.array([[-0.55, 0.50], [0.20, 0.25], [-0.05, -0.50]], dtype)  # LA, LV, RV (fractions of a_h, b_h)
    jitter = u(-0.08, 0.08, (3, 2))
    ch_local = (base + jitter) * heart_axes
    chamber_axes = jnp.stack(
        [jnp.stack([0.35 * a_h, 0.35 * b_h]), jnp.stack([0.55 * a_h, 0.50 * b_h]), jnp.stack([0.55 * a_h, 0.42 * b_h])]
    ) * u(0.9, 1.1, (3, 1))
    heart_angle = body_angle + heart_angle_local
    chamber_c = to_body(heart_c + _rotate(ch_local, heart_angle_local))
    asc_c = heart_c + jnp.stack([-u(0.035, 0.05), -u(0.01, 0.025)])

    spine_c = jnp.stack([ax * u(-0.05, 0.05), ay * u(0.42, 0.50)])
    r_v = ay * u(0.15, 0.18)
    canal_r = u(0.006, 0.008)
    arch = u(0.004, 0.006)
    canal_c = spine_c + jnp.stack([jnp.zeros((), dtype), r_v + canal_r + 0.002])
    desc_r = u(0.009, 0.014)
    alpha = u(0.6, 1.1)  # direction from the vertebral centre: 0 = anterior, π/2 = patient's left
    desc_c = spine_c + (r_v + desc_r + u(0.002, 0.006)) * jnp.stack([jnp.sin(alpha), -jnp.cos(alpha)])

    enh = u(*ENHANCEMENT_RANGE)
    hu_myo = u(40.0, 50.0)
    soft_k, soft_ph = _wavevectors(u, 0.02, 0.08)
    lung_k, lung_ph = _wavevectors(u, 0.008, 0.025)
    return SliceParams(
        body_center=body_center,
        body_axes=body_axes,
        body_angle=body_angle,
        fat_thickness=fat,
        chest_wall=wall,
        lung_center=to_body(lung_c),
        lung_axes=lung_axes,
        lung_angle=lung_angle,
        heart_center=to_body(heart_c),
        heart_axes=heart_axes,
        heart_angle=heart_angle,
        wall_thickness=u(0.008, 0.012),
        chamber_center=chamber_c,
        chamber_axes=chamber_axes,
        asc_center=to_body(asc_c),
        asc_radius=u(0.012, 0.017),
        spine_center=to_body(spine_c),
        vertebra_radius=r_v,
        cortex_thickness=u(0.0015, 0.003),
        canal_center=to_body(canal_c),
        canal_radius=canal_r,
        arch_thickness=arch,
        desc_center=to_body(desc_c),
        desc_radius=desc_r,
        hu_fat=u(-120.0, -80.0),
        hu_soft=u(40.0, 60.0),
        hu_lung=u(-870.0, -830.0),
        hu_myocardium=hu_myo,
        hu_cortical=u(700.0, 1000.0),
        hu_cancellous=u(200.0, 300.0),
        hu_canal=u(10.0, 30.0),
        enhancement_hu=enh,
        right_heart_factor=u(0.8, 1.0),
        myocardium_fraction=(u(100.0, 130.0) - hu_myo) / enh,
        soft_texture_amp=u(2.0, 6.0),
        soft_texture_k=soft_k,
        soft_texture_phase=soft_ph,
        lung_texture_amp=u(10.0, 30.0),
        lung_texture_k=lung_k,
        lung_texture_phase=lung_ph,
    )


# ---------------------------------------------------------------- rendering


def _layers(p: SliceParams, grid: jax.Array, width: float):
    """Per-layer weights ``w`` (L, N, N), values ``v`` (L, N, N) HU, enhancement ``e`` (L,) HU, blood ``β`` (L,)."""
    ew = functools.partial(edge_weight, width=width)
    body = ew(sdf_ellipse(grid, p.body_center, p.body_axes, p.body_angle))
    inner_sdf = sdf_ellipse(grid, p.body_center, p.body_axes - p.fat_thickness, p.body_angle)
    inner = ew(inner_sdf)
    chest = ew(inner_sdf + p.chest_wall)  # inside the chest wall
    lungs = jax.vmap(lambda c, a, t: ew(sdf_ellipse(grid, c, a, t)))(p.lung_center, p.lung_axes, p.lung_angle)
    heart_sdf = sdf_ellipse(grid, p.heart_center, p.heart_axes, p.heart_angle)
    heart = ew(heart_sdf) * chest
    in_wall = ew(heart_sdf + p.wall_thickness)
    chambers = jax.vmap(lambda c, a: ew(sdf_ellipse(grid, c, a, p.heart_angle)))(p.chamber_center, p.chamber_axes)
    asc = ew(sdf_disc(grid, p.asc_center, p.asc_radius))
    cortex = ew(sdf_disc(grid, p.spine_center, p.vertebra_radius))
    cancellous = ew(sdf_disc(grid, p.spine_center, p.vertebra_radius - p.cortex_thickness))
    arch = ew(sdf_disc(grid, p.canal_center, p.canal_radius + p.arch_thickness))
    canal = ew(sdf_disc(grid, p.canal_center, p.canal_radius))
    desc = ew(sdf_disc(grid, p.desc_center, p.desc_radius))
    w = jnp.concatenate(
        [
            jnp.stack([jnp.ones_like(body), body, inner]),
            lungs * chest,
            heart[None],
            chambers * (in_wall * chest),
            jnp.stack([asc, cortex, cancellous, arch, canal, desc]) * inner,
        ]
    )
    soft = p.hu_soft + _texture(grid, p.soft_texture_k, p.soft_texture_phase, p.soft_texture_amp)
    lung = p.hu_lung + _texture(grid, p.lung_texture_k, p.lung_texture_phase, p.lung_texture_amp)
    const = jnp.ones_like(body)
    blood = HU_BLOOD_UNENHANCED * const
    v = jnp.stack(
        [HU_AIR * const, p.hu_fat * const, soft, lung, lung, p.hu_myocardium * const, blood, blood, blood, blood]
        + [p.hu_cortical * const, p.hu_cancellous * const, p.hu_cortical * const, p.hu_canal * const, blood]
    )
    zero, one = jnp.zeros_like(p.enhancement_hu), jnp.ones_like(p.enhancement_hu)
    phi, rh = p.myocardium_fraction, p.right_heart_factor
    beta = jnp.stack([zero] * 5 + [phi, one, one, one, one] + [zero] * 4 + [one])
    rel = jnp.stack([zero] * 5 + [one, one, one, rh, one] + [zero] * 4 + [one])
    return w, v, p.enhancement_hu * rel * beta, beta


def _effective_weights(w: jax.Array) -> jax.Array:
    """``W_k = w_k Π_{j>k} (1 − w_j)``: the share of each layer once later layers are drawn on top (sums to 1)."""
    keep = jnp.cumprod((1.0 - w)[::-1], axis=0)[::-1]  # Π_{j≥k}
    return w * jnp.concatenate([keep[1:], jnp.ones_like(keep[:1])], axis=0)


def _render_all(params: SliceParams, n_pixels: int, pixel_size: float):
    dtype = params.enhancement_hu.dtype
    grid = pixel_grid(n_pixels, pixel_size, dtype)
    w, v, e, beta = _layers(params, grid, pixel_size)
    weights = _effective_weights(w)
    hu_unenh = jnp.sum(weights * v, axis=0)
    enhancement = jnp.tensordot(e, weights, axes=1)  # exact zeros where every blood layer has W = 0
    blood_pool = jnp.clip(jnp.tensordot(beta, weights, axes=1), 0.0, 1.0)
    per_label = jnp.zeros((len(LABEL_NAMES),) + weights.shape[1:], dtype).at[jnp.array(_LAYER_LABEL)].add(weights)
    labels = jnp.argmax(per_label, axis=0).astype(jnp.int32)
    aorta = (weights[_AORTA_LAYERS[0]] + weights[_AORTA_LAYERS[1]]) >= 1.0  # exactly 1 a pixel inside the wall
    return hu_unenh + enhancement, hu_unenh, blood_pool, labels, aorta


def _check_grid(n_pixels, pixel_size):
    if not isinstance(n_pixels, int) or isinstance(n_pixels, bool) or n_pixels < 8:
        raise ValueError(f"n_pixels = {n_pixels!r}; expected an int ≥ 8")
    if pixel_size is None:
        return DEFAULT_FOV / n_pixels
    if not (isinstance(pixel_size, (int, float)) and 1e-5 <= pixel_size <= 0.05):
        raise ValueError(f"pixel_size = {pixel_size!r} m; expected a number in [1e-5, 0.05] m (e.g. 2.8e-3)")
    return float(pixel_size)


def render(params: SliceParams, n_pixels: int, pixel_size: float | None = None):
    """Draw ``params`` on an ``n_pixels`` square grid of ``pixel_size`` (m; default `DEFAULT_FOV` / n_pixels).

    Returns ``(hu_full, blood_pool, labels)``: ``(N, N)`` HU with full contrast, ``(N, N)`` blood-pool weight
    in [0, 1], and ``(N, N)`` int32 indices into `LABEL_NAMES` (the dominant tissue of each pixel).
    """
    pixel_size = _check_grid(n_pixels, pixel_size)
    hu_full, _, blood_pool, labels, _ = _render_all(params, n_pixels, pixel_size)
    return hu_full, blood_pool, labels


def slice_from_params(params: SliceParams, n_pixels: int, pixel_size: float | None = None) -> Slice:
    """The `Slice` (full and unenhanced images, blood pool, aorta ROI) of ``params``."""
    pixel_size = _check_grid(n_pixels, pixel_size)
    hu_full, hu_unenh, blood_pool, _, aorta = _render_all(params, n_pixels, pixel_size)
    return Slice(hu_full, hu_unenh, blood_pool, aorta, params.enhancement_hu)


def generate(key: jax.Array, n_pixels: int = 128, pixel_size: float | None = None, dtype=None) -> Slice:
    """A random slice from ``key``: `sample_params` then `slice_from_params` (``(N, N)`` fields, HU)."""
    pixel_size = _check_grid(n_pixels, pixel_size)
    return slice_from_params(sample_params(key, dtype), n_pixels, pixel_size)


@functools.partial(jax.jit, static_argnames=("n_pixels", "pixel_size", "dtype"))
def generate_batch(keys: jax.Array, n_pixels: int = 128, pixel_size: float | None = None, dtype=None) -> Slice:
    """`generate` under `vmap` over ``keys`` (B,) and `jit`: a `Slice` with ``(B, N, N)`` fields."""
    return jax.vmap(lambda k: generate(k, n_pixels, pixel_size, dtype))(keys)


def low_dose_image(s: Slice, fraction) -> jax.Array:
    """The slice at a fraction ``f`` of the iodine dose: ``hu_unenhanced + f · (hu_full − hu_unenhanced)``.

    Exact for the linear iodine model in every pixel, partial-volume edges and myocardium included: it calls
    `cardiojax.imaging.dose.low_dose_hu` with the boolean mask ``blood_pool > 0`` and the unenhanced *image*
    (the fractional weight is already inside ``hu_full − hu_unenhanced``; passing it again would count it
    twice). Works on single slices ``(N, N)`` and batches ``(B, N, N)``; ``fraction`` scalar or ``(B, 1, 1)``.
    """
    return low_dose_hu(s.hu_full, s.blood_pool > 0, fraction, s.hu_unenhanced)
