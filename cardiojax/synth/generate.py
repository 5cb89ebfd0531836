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
    n = tpl.size
    k_topology, k_length, k_radii, k_lesions, k_layout = jax.random.split(key, 5)
    zeros = jnp.zeros(n, dtype)
    tree = VesselTree(
        parent=jnp.asarray(tpl.parent),
        length=_uniform(k_length, (n,), prior.segment_length, dtype),
        r_in=zeros + 1.0,
        r_out=zeros + 1.0,
        stenosis_severity=zeros,
        stenosis_length=zeros,
        stenosis_position=zeros + 0.5,
        stiffness=zeros + 1.0,
        outlet_resistance=zeros,
        outlet_pressure=zeros,
        start=jnp.zeros((n, 3), dtype),
        end=jnp.zeros((n, 3), dtype),
        valid=_topology(k_topology, prior, tpl),
        max_depth=tpl.max_depth,
    )
    tree = _radii(k_radii, prior, tpl, tree)
    tree = _lesions(k_lesions, prior, tpl, tree)
    start, end = planar_layout(tree, _turns(k_layout, prior, tpl))
    return pad(compact(tree.replace(start=start, end=end)), capacity)


def _slots(tpl):
    return (jnp.asarray(a) for a in (tpl.role, tpl.main, tpl.j, tpl.c))


def _topology(key, prior: CoronaryPrior, tpl) -> jax.Array:
    """``(n,)`` bool: the template slots this tree uses (side-branch counts drawn)."""
    role, main, j, c = _slots(tpl)
    k_side, k_second = jax.random.split(key)
    nm, ms = tpl.num_main, tpl.max_side
    m = jnp.maximum(main, 0)
    n_side = _randint(k_side, (nm,), prior.side_branches)[m]
    n2 = _randint(k_second, (nm, ms), prior.second_generation)[m, jnp.clip(j, 0, ms - 1)]
    return jnp.select(
        [role == ROOT, role == MAIN, role == SIDE, role == SECOND],
        [True, j <= n_side, (j < n_side) & (c <= jnp.maximum(1, n2)), (j < n_side) & (c < n2)],
        False,
    )


def _radii(key, prior: CoronaryPrior, tpl, tree: VesselTree) -> VesselTree:
    """Radii by Murray's law at junctions and a taper per anatomical branch.

    With ``prior.min_radius`` branches that would end below it are dropped
    (with their descendants) and the radii recomputed without them.
    """
    role, main, j, c = _slots(tpl)
    n, dtype = tpl.size, tree.length.dtype
    k_murray, k_ratio, k_lcx, k_taper, k_root = jax.random.split(key, 5)
    murray_k = _uniform(k_murray, (), prior.murray_exponent, dtype)
    side_start = ((role == SIDE) & (c == 0)) | (role == SECOND)
    weight = jnp.where(side_start, _uniform(k_ratio, (n,), prior.side_branch_ratio, dtype), 1.0)
    lcx = _uniform(k_lcx, (), prior.lcx_lad_ratio, dtype)
    weight = jnp.where((role == MAIN) & (j == 0) & (main == 1), lcx, weight)
    # one taper per anatomical branch, spread evenly over its segments
    chain = jnp.asarray(tpl.chain)
    chain_taper = 1.0 + _uniform(k_taper, (n,), prior.taper, dtype)[chain]
    chain_segments = jax.ops.segment_sum(tree.valid.astype(dtype), chain, num_segments=n)[chain]
    log_taper = jnp.log(chain_taper) / jnp.maximum(chain_segments, 1.0)
    mean_d, sd_d = prior.left_main_diameter if prior.side == "left" else prior.rca_diameter
    r_root = jnp.clip(0.5 * (mean_d + sd_d * jax.random.normal(k_root, (), dtype)), *prior.root_radius)
    has_parent = tpl.parent >= 0
    parent_slot = jnp.where(has_parent, tpl.parent, 0)

    def radii(tree):
        siblings = children_sum(tree, jnp.where(tree.valid, weight**murray_k, 0.0))
        siblings = jnp.where(siblings > 0, siblings, 1.0)  # padding-only parents
        log_split = jnp.where(has_parent, jnp.log(weight) - jnp.log(siblings[parent_slot]) / murray_k, 0.0)
        r_in = r_root * jnp.exp(path_sum(tree, log_split + log_taper) - log_taper)
        return tree.replace(r_in=r_in, r_out=r_in * jnp.exp(log_taper))

    tree = radii(tree)
    if prior.min_radius > 0:
        # branches ending below the smallest resolved radius are not drawn; their siblings
        # then take their share at the junction, so every kept radius only grows
        too_small = tree.valid & (tree.r_out < prior.min_radius)
        dropped = path_sum(tree, too_small.astype(dtype)) > 0
        tree = radii(tree.replace(valid=tree.valid & ~dropped))
    return tree.replace(stiffness=olufsen_stiffness(0.5 * (tree.r_in + tree.r_out)))


def _lesions(key, prior: CoronaryPrior, tpl, tree: VesselTree) -> VesselTree:
    """k lesions on k distinct segments of each eligible branch (cosine profiles)."""
    n, dtype = tpl.size, tree.length.dtype
    k_main, k_side, k_pick, k_sev, k_len, k_pos = jax.random.split(key, 6)
    branch = jnp.asarray(tpl.branch)
    eligible = tree.valid & (branch >= 0)
    count = jnp.concatenate([
        _randint(k_main, (tpl.num_main,), prior.stenoses_main),
        _randint(k_side, (tpl.num_main * tpl.max_side,), prior.stenoses_side),
    ])
    score = jax.random.uniform(k_pick, (n,), dtype)
    same = (branch[:, None] == branch[None, :]) & eligible[None, :]
    rank = jnp.sum(same & (score[None, :] < score[:, None]), axis=1)
    lesion = eligible & (rank < count[jnp.maximum(branch, 0)])
    severity = _uniform(k_sev, (n,), prior.stenosis_severity, dtype)
    lo, hi = prior.lesion_length
    ls = lo + jax.random.uniform(k_len, (n,), dtype) * (jnp.minimum(hi, tree.length) - lo)
    half = 0.5 * ls / tree.length
    pos = half + jax.random.uniform(k_pos, (n,), dtype) * (1.0 - 2.0 * half)
    return tree.replace(
        stenosis_severity=jnp.where(lesion, severity, 0.0),
        stenosis_length=jnp.where(lesion, ls, 0.0),
        stenosis_position=jnp.where(lesion, pos, 0.5),
    )


def _turns(key, prior: CoronaryPrior, tpl) -> jax.Array:
    """Turn angle (rad) of each slot for the planar drawing layout."""
    role, main, j, c = _slots(tpl)
    n, dtype = tpl.size, jnp.result_type(float)
    k_angle, k_sign, k_wiggle = jax.random.split(key, 3)
    lo, hi = (jnp.deg2rad(a) for a in prior.branch_angle)
    branch_turn = _uniform(k_angle, (n,), (lo, hi), dtype)
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (n,)), 1.0, -1.0)
    wiggle = _uniform(k_wiggle, (n,), (-0.075, 0.075), dtype)  # ±4° between consecutive segments
    side_start = ((role == SIDE) & (c == 0)) | (role == SECOND)
    turn = jnp.where(side_start, sign * branch_turn, wiggle)
    lad_lcx = jnp.where(main == 0, -0.5, 1.1)  # rad: LAD forward-left, LCx around the AV groove
    turn = jnp.where((role == MAIN) & (j == 0) & (prior.side == "left"), lad_lcx, turn)
    return jnp.where(tpl.parent < 0, 0.0, turn)


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
