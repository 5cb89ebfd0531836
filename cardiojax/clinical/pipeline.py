"""Hyperemic FFR of one tree or a batch: recipe → steady solve → FFR at every segment end."""

from __future__ import annotations

import dataclasses
import functools

import jax

from cardiojax.clinical.ffr import segment_ffr
from cardiojax.clinical.hyperemia import HyperemiaParams, with_hyperemic_outlets
from cardiojax.lumped.tree_steady import NEWTON_ITERATIONS, SteadyFlow, solve_steady
from cardiojax.tree.ops import require_batch, require_single
from cardiojax.tree.traversal import is_outlet
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import Blood


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class FFRResult:
    """Hyperemic FFR of a tree (arrays ``(..., cap)``).

    Attributes:
      tree: the tree with the outlet conditions that were solved.
      flow: the steady solution (flow in m³/s, pressures in Pa, residual).
      ffr_in, ffr_out: FFR at each segment's inlet and outlet (end).
      outlet: True at terminal segments.
    """

    tree: VesselTree
    flow: SteadyFlow
    ffr_in: jax.Array
    ffr_out: jax.Array
    outlet: jax.Array


def hyperemic_ffr(
    tree: VesselTree,
    params: HyperemiaParams = HyperemiaParams(),
    blood: Blood = Blood(),
    iterations: int = NEWTON_ITERATIONS,
    apply_recipe: bool = True,
) -> FFRResult:
    """FFR at every segment end of one tree under hyperemia.

    Args:
      tree: single tree (SI units).
      params: recipe parameters; ``params.aortic_pressure`` is the inlet pressure.
      blood: blood density and viscosity.
      iterations: Newton iterations (static).
      apply_recipe: set hyperemic outlet resistances from `params`; if False
        use the tree's own ``outlet_resistance``/``outlet_pressure``.
    """
    require_single(tree, "hyperemic_ffr")
    if apply_recipe:
        tree = with_hyperemic_outlets(tree, params)
    flow = solve_steady(tree, params.aortic_pressure, blood=blood, iterations=iterations)
    ffr_in, ffr_out = segment_ffr(flow.p_in, flow.p_out, params.aortic_pressure)
    return FFRResult(tree, flow, ffr_in, ffr_out, is_outlet(tree))


@functools.partial(jax.jit, static_argnames=("iterations", "apply_recipe"))
def hyperemic_ffr_batch(
    trees: VesselTree,
    params: HyperemiaParams = HyperemiaParams(),
    blood: Blood = Blood(),
    iterations: int = NEWTON_ITERATIONS,
    apply_recipe: bool = True,
) -> FFRResult:
    """`hyperemic_ffr` over a batch of trees (leading axis), compiled once per shape.

    ``params`` and ``blood`` are shared by the batch; for per-tree parameters
    use ``jax.vmap(hyperemic_ffr)`` with batched `HyperemiaParams`.
    """
    require_batch(trees, "hyperemic_ffr_batch")
    return jax.vmap(lambda t: hyperemic_ffr(t, params, blood, iterations, apply_recipe))(trees)

