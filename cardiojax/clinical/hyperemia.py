"""Hyperemic boundary conditions for coronary trees (CT-FFR recipe).

The recipe of image-based FFR (Taylor et al., JACC 2013; Sharma et al. 2012):

1. total resting coronary flow from the perfused myocardial mass,
   ``Q_rest = q_m · M`` (about 1 mL/min per gram);
2. resting flow split to the outlets by outlet diameter,
   ``Q_i ∝ d_i^k`` (k = 2.55, van der Giessen et al., J Biomech 2011);
3. resting outlet resistance ``R_i = (P_a − P_v) / Q_i`` (the epicardial
   vessels' resistance is negligible against the microcirculation's);
4. hyperemia (adenosine) lowers every microvascular resistance to
   0.24 × its resting value (Wilson et al., Circulation 1990).

All parameters live in `HyperemiaParams` (a pytree, so gradients with respect
to them exist) and every function is `jit`/`vmap`-compatible.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from cardiojax.tree.traversal import is_outlet
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import GRAM, ML_PER_MIN, MMHG


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class HyperemiaParams:
    """Parameters of the hyperemic boundary-condition recipe (SI units).

    Attributes:
      myocardial_mass: M, kg of myocardium perfused by the tree (default
        0.1 kg; about 0.05 kg suits a non-dominant right coronary tree).
      resting_flow_per_mass: q_m, m³/s per kg (default 1 mL/min/g).
      aortic_pressure: P_a, Pa, mean aortic pressure imposed at the inlet
        (default 93 mmHg) and used to size the resting resistances.
      venous_pressure: P_v, Pa, distal pressure of every outlet (default 0).
      flow_split_exponent: k in ``Q_i ∝ d_i^k`` (default 2.55).
      hyperemic_resistance_ratio: hyperemic / resting resistance (default 0.24).
    """

    myocardial_mass: float = 100 * GRAM
    resting_flow_per_mass: float = 1.0 * ML_PER_MIN / GRAM
    aortic_pressure: float = 93.0 * MMHG
    venous_pressure: float = 0.0
    flow_split_exponent: float = 2.55
    hyperemic_resistance_ratio: float = 0.24


def resting_flow(params: HyperemiaParams = HyperemiaParams()):
    """Total resting coronary flow of the tree, m³/s."""
    return params.myocardial_mass * params.resting_flow_per_mass


def outlet_flow_shares(tree: VesselTree, exponent=2.55) -> jax.Array:
    """``(..., cap)`` fraction of the total flow to each outlet, ``∝ d_out^k``; 0 elsewhere."""
    outlet = is_outlet(tree)
    weight = jnp.where(outlet, (2.0 * tree.r_out) ** exponent, 0.0)
    return weight / jnp.sum(weight, axis=-1, keepdims=True)


def resting_outlet_resistance(tree: VesselTree, params: HyperemiaParams = HyperemiaParams()):
    """``(..., cap)`` resting microvascular resistance of each outlet, Pa·s/m³ (0 elsewhere)."""
    share = outlet_flow_shares(tree, params.flow_split_exponent)
    q_i = resting_flow(params) * share
    dp = params.aortic_pressure - params.venous_pressure
    return jnp.where(share > 0, dp / jnp.where(share > 0, q_i, 1.0), 0.0)


def with_hyperemic_outlets(tree: VesselTree, params: HyperemiaParams = HyperemiaParams()) -> VesselTree:
    """The tree with hyperemic outlet resistances and venous outlet pressure set.

    Works on a single tree or a batch (arrays ``(..., cap)``).
    """
    r = params.hyperemic_resistance_ratio * resting_outlet_resistance(tree, params)
    r = jnp.where(tree.valid, r, tree.outlet_resistance)  # 0 at non-outlets; padding untouched
    p_v = jnp.broadcast_to(jnp.asarray(params.venous_pressure, r.dtype), r.shape)
    return tree.replace(outlet_resistance=r, outlet_pressure=p_v)

