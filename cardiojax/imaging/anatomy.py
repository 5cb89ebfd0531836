"""Real CT slices as anatomy: contrast slices with their grown aortic lumen, a plain slice with an inserted aorta.

Three real axial CT images from ``shared/data/images/`` (see its PROVENANCE.md) become `Slice` records with the
same fields as the synthetic `cardiojax.imaging.phantom.Slice`:

* **contrast slices** (`CT_SMALL`, `PANCREAS_CT`): ``hu_full`` is the real image; the aortic lumen is grown from a
  documented seed pixel within an HU window (`blood_pool_from_seed`); the enhancement is
  ``E = mean lumen HU − 40`` and ``hu_unenhanced = hu_full − E · blood_pool`` (the lumen set to 40 HU on average,
  keeping the real noise texture);
* **the non-contrast slice** (`PLAIN_CT`): the real image is the unenhanced anatomy; a synthetic aorta disc (radius
  12 mm, anti-aliased edge) is inserted in soft tissue anterior-left of the vertebral body, and
  ``hu_full = hu_unenhanced + E · disc`` (default E = 300 HU).

Each image is first put in the standard radiological orientation (anterior up, patient's left on the image
right) from its ImageOrientationPatient, then resampled with bilinear interpolation onto a square grid centred on
the body (found by growing the body from the same seed with a −400…4000 HU window); samples outside the image
are air (−1000 HU). Seeds and disc centres are (row, column) indices of the pixel array *as stored in the file*;
they were placed by inspecting the images.

`augment` / `augment_batch` make many training samples from these few slices (flips, 90° rotations, integer
shifts with air fill, optional re-drawn enhancement), vectorised over PRNG keys. Two domain randomisations work on
any `Slice`, synthetic or real: `add_enhanced_tissue` adds enhanced organs that are not blood pool,
`insert_vessels` adds round blood pools (vessels of many sizes) in soft tissue.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.imaging._checks import check_image
from cardiojax.imaging.phantom import HU_AIR, HU_BLOOD_UNENHANCED, Slice, edge_weight, pixel_grid, sdf_ellipse

BODY_WINDOW = (-400.0, 4000.0)  # HU: everything but air and lung, to find the body for cropping


@dataclasses.dataclass(frozen=True)
class RealSliceSpec:
    """Where the aorta is in one real file.

    Attributes:
      name: short name.
      path: file path relative to the ``images`` folder.
      contrast: True for a contrast-enhanced slice (grow the lumen), False for a plain one (insert a disc).
      seed: (row, col) of a lumen pixel (contrast) or of the disc centre (plain), stored-array indices.
      window: (low, high) HU window of the lumen for region growing (contrast slices only).
      disc_radius: radius of the inserted aorta in m (plain slices only).
    """

    name: str
    path: str
    contrast: bool
    seed: tuple[int, int]
    window: tuple[float, float] = (0.0, 0.0)
    disc_radius: float = 0.0


# Contrast thoracic CT (128×128, 0.66 mm). The descending aorta is cut by the top edge; its centre is near
# row 6, col 92. Lumen ≈ 160 HU (noise SD ≈ 14 HU), neighbours are fat (≈ −100 HU), lung and bone (> 300 HU
# only in the cortex, which is not connected to the lumen within the window): low = 100 HU lies between the
# lumen and soft tissue, high = 300 HU excludes bone. Grown lumen: 662 px = 290 mm², 25 mm wide, mean 159 HU.
CT_SMALL = RealSliceSpec("CT_small", "pydicom/CT_small.dcm", True, (8, 92), (100.0, 300.0))
# Contrast abdominal CT (TCIA Pancreas-CT, 512×512, 0.86 mm), stored upside down (spine at the top). The aorta
# sits just below the vertebral body in the stored array, centre near row 237, col 267. Lumen ≈ 220 HU; the
# window 150–300 HU excludes the surrounding soft tissue (< 130 HU) and the vertebral cortex. Grown lumen:
# 273 px = 202 mm² (equivalent diameter 16 mm), mean 224 HU.
PANCREAS_CT = RealSliceSpec("explicit_VR-UN", "pydicom-data/explicit_VR-UN.dcm", True, (240, 265), (150.0, 300.0))
# Non-contrast lumbar CT (512×512, 0.29 mm; JPEG-lossless, needs the pylibjpeg + pylibjpeg-libjpeg plug-ins).
# Vertebral body centre near row 225, col 215 (top edge at row 160). The disc centre (row 105, col 245) is
# 35 mm anterior and 9 mm to the patient's left of it, in homogeneous soft tissue (49 ± 19 HU within 12 mm).
PLAIN_CT = RealSliceSpec("bad_sequence", "pydicom-data/bad_sequence.dcm", False, (105, 245), disc_radius=0.012)

REAL_SLICES = (CT_SMALL, PANCREAS_CT, PLAIN_CT)


# ---------------------------------------------------------------- region growing


def _dilate4(mask: jax.Array) -> jax.Array:
    p = jnp.pad(mask, 1)
    return mask | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]


def blood_pool_from_seed(hu, seed, low: float, high: float, max_iter: int = 10_000) -> jax.Array:
    """Flood fill of the pixels with ``low ≤ hu ≤ high`` (HU) 4-connected to ``seed`` = (row, col).

    ``hu``: ``(H, W)`` HU. Repeated binary dilations restricted to the window (a `lax.while_loop` that stops
    when the region no longer grows, or after ``max_iter`` dilations). Returns an ``(H, W)`` bool mask; it is
    empty when the seed itself is outside the window. `jit`-able (``max_iter`` may be traced).
    """
    hu = check_image("hu", hu, square=False)
    seed = jnp.asarray(seed)
    if seed.shape != (2,):
        raise ValueError(f"seed: shape {tuple(seed.shape)}; expected (row, col)")
    if not isinstance(seed, jax.core.Tracer):
        r, c = (int(v) for v in np.asarray(seed))
        if not (0 <= r < hu.shape[0] and 0 <= c < hu.shape[1]):
            raise ValueError(f"seed = ({r}, {c}); expected a pixel inside the image of shape {tuple(hu.shape)}")
    inside = (hu >= low) & (hu <= high)
    start = jnp.zeros(hu.shape, bool).at[seed[0], seed[1]].set(True) & inside

    def cond(state):
        _, grew, i = state
        return grew & (i < max_iter)

    def body(state):
        mask, _, i = state
        new = _dilate4(mask) & inside
        return new, jnp.any(new != mask), i + 1

    mask, _, _ = jax.lax.while_loop(cond, body, (start, jnp.array(True), jnp.array(0)))
    return mask


# ---------------------------------------------------------------- reading and resampling


def _read(path: Path) -> tuple[np.ndarray, tuple[float, float], tuple[float, ...]]:
    """HU image (float64), pixel spacing (row, col) in m and ImageOrientationPatient of a DICOM file."""
    import pydicom  # an optional dependency, like read_dicom's

    from cardiojax.imaging.dicom import read_dicom

    try:
        with warnings.catch_warnings():  # anonymised files carry hashes as UIDs: pydicom warns, harmlessly
            warnings.filterwarnings("ignore", message="Invalid value for VR UI")
            hu, meta = read_dicom(path)
    except RuntimeError as err:  # pydicom: no decoder for a compressed transfer syntax
        raise RuntimeError(
            f"{path}: cannot decode the pixel data ({err}); JPEG-lossless files need the pydicom plug-ins: "
            "pip install pylibjpeg pylibjpeg-libjpeg"
        ) from err
    if meta["pixel_spacing"] is None:
        raise ValueError(f"{path}: no PixelSpacing; expected a CT slice with a known pixel size")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Invalid value for VR UI")
        header = pydicom.dcmread(str(path), stop_before_pixels=True)
    iop = tuple(float(v) for v in header.get("ImageOrientationPatient", (1, 0, 0, 0, 1, 0)))
    return hu.astype(np.float64), tuple(meta["pixel_spacing"]), iop


def _standard_orientation(arrays: list[np.ndarray], iop: tuple[float, ...]) -> list[np.ndarray]:
    """Flip so that columns run to the patient's left (+x in LPS) and rows run posterior (+y in LPS)."""
    flip_cols, flip_rows = iop[0] < 0, iop[4] < 0
    out = []
    for a in arrays:
        a = a[::-1] if flip_rows else a
        out.append(np.ascontiguousarray(a[:, ::-1] if flip_cols else a))
    return out


def _resample_grid(body: np.ndarray, spacing, n_pixels: int, pixel_size: float | None):
    """Sample coordinates (2, N, N) in native pixel units of a square grid centred on the body bounding box."""
    rows, cols = np.nonzero(body)
    (r0, r1), (c0, c1) = (rows.min(), rows.max()), (cols.min(), cols.max())
    centre = np.array([(r0 + r1) / 2, (c0 + c1) / 2])
    if pixel_size is None:
        side = 1.06 * max((r1 - r0 + 1) * spacing[0], (c1 - c0 + 1) * spacing[1])  # 3 % margin each side
        side = min(side, max(body.shape[0] * spacing[0], body.shape[1] * spacing[1]))
        pixel_size = side / n_pixels
    for axis in range(2):  # keep the window inside the image where it fits (no false air edge through tissue)
        half = 0.5 * n_pixels * pixel_size / spacing[axis]
        lo, hi = half - 0.5, body.shape[axis] - 0.5 - half
        centre[axis] = np.clip(centre[axis], lo, hi) if lo <= hi else 0.5 * (body.shape[axis] - 1)
    offs = (np.arange(n_pixels) - 0.5 * (n_pixels - 1)) * pixel_size
    rr, cc = np.meshgrid(centre[0] + offs / spacing[0], centre[1] + offs / spacing[1], indexing="ij")
    return np.stack([rr, cc]), float(pixel_size)


def _bilinear(image: np.ndarray, coords: np.ndarray, cval: float, dtype) -> jax.Array:
    img = jnp.asarray(image, dtype)
    return jax.scipy.ndimage.map_coordinates(img, list(jnp.asarray(coords, dtype)), order=1, mode="constant", cval=cval)


def _images_dir(data_dir) -> Path:
    data_dir = Path(data_dir)
    if (data_dir / "images").is_dir():
        data_dir = data_dir / "images"
    if not data_dir.is_dir():
        raise ValueError(f"data_dir = {str(data_dir)!r}; expected the shared data folder or its 'images' subfolder")
    return data_dir


def load_real_slice(
    data_dir, spec: RealSliceSpec, n_pixels: int = 128, pixel_size: float | None = None, enhancement_hu: float = 300.0
) -> tuple[Slice, float]:
    """One real slice as a `Slice` (``(n_pixels, n_pixels)`` fields, HU) and its pixel size in m.

    ``data_dir``: the shared ``data`` folder or its ``images`` subfolder. ``pixel_size`` (m): None to fit the
    body's bounding box (+3 % margins) in ``n_pixels``. ``enhancement_hu``: the enhancement of the disc
    inserted into a plain slice (ignored for contrast slices, whose enhancement is measured).
    """
    if not isinstance(n_pixels, int) or n_pixels < 8:
        raise ValueError(f"n_pixels = {n_pixels!r}; expected an int ≥ 8")
    if pixel_size is not None and not (isinstance(pixel_size, (int, float)) and 1e-5 <= pixel_size <= 0.05):
        raise ValueError(f"pixel_size = {pixel_size!r} m; expected None or a number in [1e-5, 0.05] m")
    dtype = jnp.zeros(()).dtype
    hu, spacing, iop = _read(_images_dir(data_dir) / spec.path)
    seed = np.array(spec.seed)
    if spec.contrast:
        lumen = np.asarray(blood_pool_from_seed(jnp.asarray(hu), seed, *spec.window))
        if not lumen.any():
            raise ValueError(f"{spec.name}: seed {spec.seed} is not within the window {spec.window} HU")
        enhancement = float(hu[lumen].mean()) - HU_BLOOD_UNENHANCED
        pool = lumen.astype(np.float64)
        hu_full, hu_unenh = hu, hu - enhancement * pool
    else:
        rr, cc = np.meshgrid(np.arange(hu.shape[0]) * spacing[0], np.arange(hu.shape[1]) * spacing[1], indexing="ij")
        dist = np.hypot(rr - seed[0] * spacing[0], cc - seed[1] * spacing[1]) - spec.disc_radius
        pool = np.asarray(edge_weight(dist, min(spacing)))
        enhancement = float(enhancement_hu)
        hu_full, hu_unenh = hu + enhancement * pool, hu
    body = np.asarray(blood_pool_from_seed(jnp.asarray(hu_unenh), seed, *BODY_WINDOW))
    hu_full, hu_unenh, pool, body = _standard_orientation([hu_full, hu_unenh, pool, body], iop)
    coords, pixel_size = _resample_grid(body, spacing, n_pixels, pixel_size)
    bp = jnp.clip(_bilinear(pool, coords, 0.0, dtype), 0.0, 1.0)
    out = Slice(
        hu_full=_bilinear(hu_full, coords, HU_AIR, dtype),
        hu_unenhanced=_bilinear(hu_unenh, coords, HU_AIR, dtype),
        blood_pool=bp,
        aorta=bp >= 0.999,
        enhancement_hu=jnp.asarray(enhancement, dtype),
    )
    return out, pixel_size


def real_slices(data_dir, n_pixels: int = 128, pixel_size: float | None = None) -> list[Slice]:
    """The `REAL_SLICES` (in that order) as `Slice` records of ``(n_pixels, n_pixels)`` HU images.

    With ``pixel_size`` None each slice gets its own pixel size (see `load_real_slice`); pass a pixel size (m)
    to have all three on the same grid (e.g. for the CT projector).
    """
    return [load_real_slice(data_dir, spec, n_pixels, pixel_size)[0] for spec in REAL_SLICES]


# ---------------------------------------------------------------- augmentation


def stack_slices(slices) -> Slice:
    """Stack a sequence of equal-size `Slice` records into one with a leading axis."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *slices)


def _shift(x: jax.Array, dy, dx, pad: int, fill) -> jax.Array:
    p = jnp.pad(x, pad, constant_values=fill)
    return jax.lax.dynamic_slice(p, (pad + dy, pad + dx), x.shape)


def augment(
    key: jax.Array,
    s: Slice,
    max_shift: int = 8,
    flip: bool = True,
    rotate: bool = True,
    enhancement_range: tuple[float, float] | None = None,
) -> Slice:
    """A random rigid variant of one `Slice` (``(N, N)`` fields): every field moves together.

    Draws a left–right flip (if ``flip``), a rotation by k·90° (if ``rotate``) and an integer shift of up to
    ``max_shift`` pixels per axis (air, zero blood pool fill). With ``enhancement_range`` = (low, high) HU the
    enhancement is re-drawn uniformly and the contrast scaled to it: ``hu_full = hu_unenhanced + (E'/E) ·
    (hu_full − hu_unenhanced)``, which keeps the image exactly unchanged outside the blood pool.
    """
    if not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift = {max_shift!r}; expected an int ≥ 0 (pixels)")
    k_flip, k_rot, k_shift, k_enh = jax.random.split(key, 4)
    do_flip = jax.random.bernoulli(k_flip) & flip
    n_rot = jax.random.randint(k_rot, (), 0, 4) * rotate
    dy, dx = jax.random.randint(k_shift, (2,), -max_shift, max_shift + 1)

    def move(x, fill):
        x = jnp.where(do_flip, x[:, ::-1], x)
        x = jax.lax.switch(n_rot, [lambda a, k=k: jnp.rot90(a, k) for k in range(4)], x)
        return _shift(x, dy, dx, max_shift, fill)

    hu_full, hu_unenh = move(s.hu_full, HU_AIR), move(s.hu_unenhanced, HU_AIR)
    enh = s.enhancement_hu
    if enhancement_range is not None:
        lo, hi = enhancement_range
        new = jax.random.uniform(k_enh, (), enh.dtype, lo, hi)
        hu_full = hu_unenh + (new / enh) * (hu_full - hu_unenh)
        enh = new
    return Slice(hu_full, hu_unenh, move(s.blood_pool, 0.0), move(s.aorta, False), enh)


def augment_batch(keys: jax.Array, slices: Slice, **kwargs) -> Slice:
    """``len(keys)`` augmented samples drawn from a stacked `Slice` (leading axis M, see `stack_slices`).

    Each key picks one of the M slices uniformly and applies `augment` (keyword arguments passed on); the
    result has ``(B, N, N)`` fields. Vectorised with `vmap`; wrap in `jit` with the kwargs bound if needed.
    """
    m = slices.hu_full.shape[0]

    def one(key):
        k_pick, k_aug = jax.random.split(key)
        idx = jax.random.randint(k_pick, (), 0, m)
        chosen = jax.tree_util.tree_map(lambda x: x[idx], slices)
        return augment(k_aug, chosen, **kwargs)

    return jax.vmap(one)(keys)


SOFT_TISSUE_WINDOW = (-50.0, 150.0)  # HU: unenhanced soft tissue (not air, lung, fat or bone)


def _soft_tissue_blobs(key, s: Slice, pixel_size: float, n: int, semi_axes, probability, round_: bool, caller: str):
    """``(allowed, weights)``: the soft-tissue pixels without blood pool (unenhanced HU in `SOFT_TISSUE_WINDOW`)
    and the anti-aliased weights ``(n, N, N)`` of ``n`` random ellipses (discs if ``round_``) centred on them,
    each kept with ``probability`` (else all zero)."""
    if n < 0 or not 0.0 <= probability <= 1.0:
        raise ValueError(f"{caller}: count = {n}, probability = {probability}; expected a count ≥ 0 and a "
                         "probability in [0, 1]")
    lo, hi = SOFT_TISSUE_WINDOW
    allowed = (s.hu_unenhanced > lo) & (s.hu_unenhanced < hi) & (s.blood_pool == 0)
    grid = pixel_grid(s.hu_full.shape[0], pixel_size, s.hu_full.dtype)
    k_c, k_ax, k_ang, k_on = jax.random.split(key, 4)
    idx = jax.random.categorical(k_c, jnp.where(allowed.reshape(-1), 0.0, -jnp.inf), shape=(n,))
    centres = grid.reshape(-1, 2)[idx]
    axes = jax.random.uniform(k_ax, (n, 1 if round_ else 2), grid.dtype, *semi_axes) * jnp.ones((n, 2), grid.dtype)
    angles = jax.random.uniform(k_ang, (n,), grid.dtype, 0.0, jnp.pi)
    on = jax.random.bernoulli(k_on, probability, (n,)).astype(grid.dtype)
    weights = jax.vmap(lambda c, a, t: edge_weight(sdf_ellipse(grid, c, a, t), pixel_size))(centres, axes, angles)
    return allowed & jnp.any(allowed), weights * on[:, None, None]


def add_enhanced_tissue(
    key: jax.Array,
    s: Slice,
    pixel_size: float,
    n_blobs: int = 3,
    delta_hu: tuple[float, float] = (60.0, 180.0),
    semi_axes: tuple[float, float] = (0.012, 0.045),
    probability: float = 0.5,
) -> Slice:
    """Enhanced parenchyma that is *not* blood pool: ``n_blobs`` random ellipses (semi-axes in ``semi_axes``,
    m) in soft tissue, each present with ``probability``, raise both images by ΔHU ~ U(``delta_hu``).

    Organs that take up contrast (liver, spleen, kidneys in a portal phase, bowel wall) look like diluted
    iodinated blood; the dose model (`cardiojax.imaging.dose`) leaves them unchanged, as it does in the real
    contrast slices, where only the grown lumen is blood pool. Training on such distractors teaches a network
    that bright soft tissue is not necessarily blood. A blob covers only pixels with unenhanced HU in
    `SOFT_TISSUE_WINDOW` and no blood pool, so ``hu_full − hu_unenhanced`` (the iodine of the blood pool),
    ``blood_pool`` and ``aorta`` are unchanged bit for bit. Centres are drawn uniformly over those pixels; edges
    are anti-aliased over a pixel (`edge_weight`). ``(N, N)`` fields; vmap over keys for a batch.
    """
    k_blobs, k_hu = jax.random.split(key)
    allowed, weights = _soft_tissue_blobs(k_blobs, s, pixel_size, n_blobs, semi_axes, probability, False,
                                          "add_enhanced_tissue")
    delta = jax.random.uniform(k_hu, (n_blobs,), weights.dtype, *delta_hu)
    added = jnp.where(allowed, jnp.max(weights * delta[:, None, None], axis=0, initial=0.0), 0.0)
    return s._replace(hu_full=s.hu_full + added, hu_unenhanced=s.hu_unenhanced + added)


def insert_vessels(
    key: jax.Array,
    s: Slice,
    pixel_size: float,
    n_vessels: int = 2,
    radii: tuple[float, float] = (0.004, 0.014),
    probability: float = 0.5,
) -> Slice:
    """Extra blood pool: ``n_vessels`` random discs (radius in ``radii``, m) in soft tissue, each present with
    ``probability``, enhanced like the slice's blood (``hu_full += E·w``, ``blood_pool += w``).

    The same construction as the aorta inserted in the plain real slice (`PLAIN_CT`): the unenhanced image keeps
    the real tissue texture (soft tissue is close to unenhanced blood), and the full-dose image gains the
    slice's enhancement ``E`` = ``enhancement_hu`` times the disc's anti-aliased weight w. Discs are clipped to
    soft tissue without blood pool (see `add_enhanced_tissue`), so the contrast identity ``hu_full −
    hu_unenhanced = E · blood_pool`` holds wherever it held before; the ``aorta`` ROI is unchanged. Training on
    vessels of many sizes in real backgrounds teaches a network to find small round blood pools anywhere.
    """
    allowed, weights = _soft_tissue_blobs(key, s, pixel_size, n_vessels, radii, probability, True, "insert_vessels")
    w = jnp.where(allowed, jnp.max(weights, axis=0, initial=0.0), 0.0)
    return s._replace(hu_full=s.hu_full + s.enhancement_hu * w, blood_pool=s.blood_pool + w)
