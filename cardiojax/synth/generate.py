"""Synthetic coronary trees drawn from a PRNG key, batched on the device.

`generate(key, prior, capacity)` draws one tree; `generate_batch(keys, ...)`
is the same function under `jax.vmap` and `jax.jit` (one compile per prior
and capacity). The same key always gives the same tree, and a batch equals
the loop of single draws. No Python loop runs per tree or per segment.

Geometry: radii follow Murray's law with exponent k at every junction
(``r_out(parent)^k = Σ r_in(child)^k``) and are continuous at segment joints
without a side branch. Each anatomical branch (left main, LAD, LCx, RCA, each
side branch) tapers by one drawn factor ``r_end / r_start − 1`` of the
prior's range (beyond the radius it loses at branch points), spread evenly as
a linear taper over its segments.
Lesions have a cosine profile (see `cardiojax.tree.geometry.lumen_radius`). Outlet
boundary parameters are left at zero; apply a recipe from
`cardiojax.clinical` before solving.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from cardiojax.synth.priors import CoronaryPrior
from cardiojax.synth.template import MAIN, ROOT, SECOND, SIDE, build_template
from cardiojax.tree.layout import planar_layout
from cardiojax.tree.ops import compact, olufsen_stiffness, pad
from cardiojax.tree.traversal import children_sum, path_sum
from cardiojax.tree.vessel_tree import VesselTree


def template_for(prior: CoronaryPrior):
    """The static slot template that trees of ``prior`` live in."""
    return build_template(prior.side, prior.side_branches[1], prior.second_generation[1])


def min_capacity(prior: CoronaryPrior) -> int:
    """Smallest capacity that holds every tree of ``prior``."""
    return template_for(prior).size


def _uniform(key, shape, bounds, dtype):
    lo, hi = bounds
    return jax.random.uniform(key, shape, dtype, minval=lo, maxval=hi)


def _randint(key, shape, bounds):
    lo, hi = bounds
    return jax.random.randint(key, shape, lo, hi + 1)


def generate(key: jax.Array, prior: CoronaryPrior = CoronaryPrior(), capacity: int = 64) -> VesselTree:
    """Draw one synthetic coronary tree.

    Args:
      key: a JAX PRNG key.
      prior: the distribution (static; see `CoronaryPrior`).
      capacity: number of segment slots, at least `min_capacity(prior)`.

    Returns:
      A compact `VesselTree` (valid segments first, in topological order) in
      SI units, with zero outlet resistance and pressure.
    """
    tpl = template_for(prior)
    if capacity < tpl.size:
        raise ValueError(
            f"capacity = {capacity}; expected at least {tpl.size} for a {prior.side} tree with up to "
            f"{prior.side_branches[1]} side branches and {prior.second_generation[1]} "
            "second-generation branches (see min_capacity)"
        )
    dtype = jnp.result_type(float)
    n, nm, ms = tpl.size, tpl.num_main, tpl.max_side
    role, main, j, c = (jnp.asarray(a) for a in (tpl.role, tpl.main, tpl.j, tpl.c))
    m = jnp.maximum(main, 0)
    k = jax.random.split(key, 16)

    # --- topology: which template slots this tree uses -------------------------
    n_side = _randint(k[0], (nm,), prior.side_branches)
    n_second = _randint(k[1], (nm, ms), prior.second_generation)
    ns = n_side[m]
    n2 = n_second[m, jnp.clip(j, 0, ms - 1)]
    valid = jnp.select(
        [role == ROOT, role == MAIN, role == SIDE, role == SECOND],
        [True, j <= ns, (j < ns) & (c <= jnp.maximum(1, n2)), (j < ns) & (c < n2)],
        False,
    )
    tree = VesselTree(
        parent=jnp.asarray(tpl.parent),
        length=_uniform(k[2], (n,), prior.segment_length, dtype),
        r_in=jnp.ones(n, dtype),
        r_out=jnp.ones(n, dtype),
        stenosis_severity=jnp.zeros(n, dtype),
        stenosis_length=jnp.zeros(n, dtype),
        stenosis_position=jnp.full(n, 0.5, dtype),
        stiffness=jnp.ones(n, dtype),
        outlet_resistance=jnp.zeros(n, dtype),
        outlet_pressure=jnp.zeros(n, dtype),
        start=jnp.zeros((n, 3), dtype),
        end=jnp.zeros((n, 3), dtype),
        valid=valid,
        max_depth=tpl.max_depth,
    )

    # --- radii: Murray split at junctions, taper along segments ---------------
    murray_k = _uniform(k[3], (), prior.murray_exponent, dtype)
    ratio = _uniform(k[4], (n,), prior.side_branch_ratio, dtype)
    lcx = _uniform(k[5], (), prior.lcx_lad_ratio, dtype)
    first = (role == MAIN) & (j == 0)
    weight = jnp.where(((role == SIDE) & (c == 0)) | (role == SECOND), ratio, 1.0)
    weight = jnp.where(first & (main == 1), lcx, weight)
    # one taper per anatomical branch, spread evenly over its segments
    chain = jnp.asarray(tpl.chain)
    chain_taper = 1.0 + _uniform(k[6], (n,), prior.taper, dtype)[chain]
    chain_segments = jax.ops.segment_sum(valid.astype(dtype), chain, num_segments=n)[chain]
    log_taper = jnp.log(chain_taper) / jnp.maximum(chain_segments, 1.0)
    mean_d, sd_d = prior.left_main_diameter if prior.side == "left" else prior.rca_diameter
    r_root = jnp.clip(
        0.5 * (mean_d + sd_d * jax.random.normal(k[7], (), dtype)), *prior.root_radius
    )

    def radii(tree):  # Murray split at junctions, taper along segments
        siblings = children_sum(tree, jnp.where(tree.valid, weight**murray_k, 0.0))
        siblings = jnp.where(siblings > 0, siblings, 1.0)  # padding-only parents
        parent_slot = jnp.where(tpl.parent >= 0, tpl.parent, 0)
        log_split = jnp.where(tpl.parent >= 0, jnp.log(weight) - jnp.log(siblings[parent_slot]) / murray_k, 0.0)
        r_in = r_root * jnp.exp(path_sum(tree, log_split + log_taper) - log_taper)
        return r_in, r_in * jnp.exp(log_taper)

    r_in, r_out = radii(tree)
    if prior.min_radius > 0:
        # branches that would end below the smallest resolved radius are not drawn; their
        # siblings then take their share at the junction, so every kept radius only grows
        too_small = tree.valid & (r_out < prior.min_radius)
        dropped = path_sum(tree, too_small.astype(dtype)) > 0
        valid = valid & ~dropped
        tree = tree.replace(valid=valid)
        r_in, r_out = radii(tree)

    # --- stenoses: k lesions on k distinct segments of each eligible branch ----
    branch = jnp.asarray(tpl.branch)
    eligible = valid & (branch >= 0)
    count = jnp.concatenate([
        _randint(k[8], (nm,), prior.stenoses_main),
        _randint(k[9], (nm * ms,), prior.stenoses_side),
    ])
    score = jax.random.uniform(k[10], (n,), dtype)
    same = (branch[:, None] == branch[None, :]) & eligible[None, :]
    rank = jnp.sum(same & (score[None, :] < score[:, None]), axis=1)
    lesion = eligible & (rank < count[jnp.maximum(branch, 0)])
    severity = _uniform(k[11], (n,), prior.stenosis_severity, dtype)
    lo, hi = prior.lesion_length
    ls = lo + jax.random.uniform(k[12], (n,), dtype) * (jnp.minimum(hi, tree.length) - lo)
    half = 0.5 * ls / tree.length
    pos = half + jax.random.uniform(k[13], (n,), dtype) * (1.0 - 2.0 * half)

    # --- planar drawing layout -------------------------------------------------
    lo_a, hi_a = (jnp.deg2rad(a) for a in prior.branch_angle)
    branch_turn = _uniform(k[14], (n,), (lo_a, hi_a), dtype)
    sign = jnp.where(jax.random.bernoulli(k[15], 0.5, (n,)), 1.0, -1.0)
    wiggle = 0.15 * (score - 0.5)  # small (±4°) bend between consecutive segments
    turn = jnp.where(((role == SIDE) & (c == 0)) | (role == SECOND), sign * branch_turn, wiggle)
    lad_lcx = jnp.where(main == 0, -0.5, 1.1)  # rad: LAD forward-left, LCx around the AV groove
    turn = jnp.where(first & (prior.side == "left"), lad_lcx, turn)
    turn = jnp.where(tpl.parent < 0, 0.0, turn)

    tree = tree.replace(
        r_in=r_in,
        r_out=r_out,
        stenosis_severity=jnp.where(lesion, severity, 0.0),
        stenosis_length=jnp.where(lesion, ls, 0.0),
        stenosis_position=jnp.where(lesion, pos, 0.5),
        stiffness=olufsen_stiffness(0.5 * (r_in + r_out)),
    )
    start, end = planar_layout(tree, turn)
    tree = tree.replace(start=start, end=end)
    return pad(compact(tree), capacity)


@functools.partial(jax.jit, static_argnames=("prior", "capacity"))
def generate_batch(
    keys: jax.Array, prior: CoronaryPrior = CoronaryPrior(), capacity: int = 64
) -> VesselTree:
    """`generate` over a batch of keys (``(B,)`` key array) → batched tree ``(B, cap)``."""
    return jax.vmap(lambda key: generate(key, prior, capacity))(keys)


def tree_keys(key: jax.Array, start: int, num: int) -> jax.Array:
    """Keys of trees ``start … start + num − 1`` of a run: ``fold_in(key, i)``.

    Tree i of a seed is the same whatever the batch it is drawn in.
    """
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(start, start + num))


def generate_trees(
    key: jax.Array, num: int, prior: CoronaryPrior = CoronaryPrior(), capacity: int = 64
) -> VesselTree:
    """Trees 0 … num − 1 of ``key``: tree i is ``generate(fold_in(key, i))``.

    ``cardiojax ffr --seed S`` draws the same trees from ``jax.random.key(S)``.
    """
    return generate_batch(tree_keys(key, 0, num), prior, capacity)
