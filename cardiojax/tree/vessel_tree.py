"""The `VesselTree` pytree: a vessel tree as fixed-capacity arrays in SI units.

Segments are stored in topological order (a parent always has a smaller index
than its children). ``valid`` marks real segments; padding slots may sit
anywhere, hold harmless finite filler values and are ignored by every
computation. One compiled function serves every tree of the same capacity, and
a batch of trees is the same structure with a leading batch axis.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

# Filler values for padding slots: finite and positive, so that masked
# arithmetic (resistances, divisions, gradients) never produces NaN or inf.
PAD_VALUES: dict[str, Any] = {
    "parent": -1,
    "length": 1e-2,
    "r_in": 1e-3,
    "r_out": 1e-3,
    "stenosis_severity": 0.0,
    "stenosis_length": 0.0,
    "stenosis_position": 0.5,
    "stiffness": 100.0,
    "outlet_resistance": 1e10,
    "outlet_pressure": 0.0,
    "start": 0.0,
    "end": 0.0,
    "valid": False,
}

#: Array fields in declaration order, with their units (for docs and file headers).
FIELD_UNITS: dict[str, str] = {
    "parent": "index",
    "length": "m",
    "r_in": "m",
    "r_out": "m",
    "stenosis_severity": "1 (diameter fraction)",
    "stenosis_length": "m",
    "stenosis_position": "1 (fraction of length)",
    "stiffness": "Pa·m (E·h)",
    "outlet_resistance": "Pa·s/m³",
    "outlet_pressure": "Pa",
    "start": "m",
    "end": "m",
    "valid": "bool",
}
FLOAT_FIELDS = tuple(k for k in FIELD_UNITS if k not in ("parent", "valid"))


@dataclasses.dataclass(frozen=True)
class VesselTree:
    """A vessel tree of ``capacity`` segment slots (arrays ``(..., capacity)``).

    Attributes:
      parent: ``(cap,)`` int32, index of the parent segment, −1 for the root
        (and for padding). Parents come before children.
      length: ``(cap,)`` m, centreline length of each segment.
      r_in: ``(cap,)`` m, reference (lesion-free) lumen radius at the inlet.
      r_out: ``(cap,)`` m, reference lumen radius at the outlet; the reference
        radius varies linearly (taper) between ``r_in`` and ``r_out``.
      stenosis_severity: ``(cap,)`` diameter stenosis fraction s ∈ [0, 1);
        0 means no lesion. The minimal lumen radius is ``(1 − s)·r_ref``.
      stenosis_length: ``(cap,)`` m, lesion length Ls (cosine profile).
      stenosis_position: ``(cap,)`` lesion centre as a fraction of ``length``.
      stiffness: ``(cap,)`` Pa·m, wall Young's modulus times thickness (E·h).
      outlet_resistance: ``(cap,)`` Pa·s/m³, resistance from a terminal
        segment's outlet to ``outlet_pressure`` (used only at outlets).
      outlet_pressure: ``(cap,)`` Pa, distal (venous) pressure at outlets.
      start: ``(cap, 3)`` m, centreline start point (for drawing and export).
      end: ``(cap, 3)`` m, centreline end point.
      valid: ``(cap,)`` bool, True for real segments.
      max_depth: static int (required), an upper bound on the depth of any
        valid segment (root = 0). Tree sweeps run ``max_depth + 1`` level
        passes, so a bound that is too small leaves deep segments unsolved —
        `validate` checks it, and solver residuals expose it. ``capacity − 1``
        is always safe; `make_tree` and readers set the exact depth.
    """

    parent: jax.Array
    length: jax.Array
    r_in: jax.Array
    r_out: jax.Array
    stenosis_severity: jax.Array
    stenosis_length: jax.Array
    stenosis_position: jax.Array
    stiffness: jax.Array
    outlet_resistance: jax.Array
    outlet_pressure: jax.Array
    start: jax.Array
    end: jax.Array
    valid: jax.Array
    max_depth: int = dataclasses.field(metadata=dict(static=True))

    @property
    def capacity(self) -> int:
        """Number of segment slots (static)."""
        return self.parent.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes (``()`` for a single tree)."""
        return self.parent.shape[:-1]

    @property
    def num_segments(self) -> jax.Array:
        """Number of valid segments, shape ``batch_shape``."""
        return jnp.sum(self.valid, axis=-1)

    def replace(self, **changes) -> VesselTree:
        """A copy with some fields replaced (``max_depth`` is kept unless given)."""
        return dataclasses.replace(self, **changes)

    def arrays(self) -> dict[str, Any]:
        """The array fields as a dict (in declaration order)."""
        return {k: getattr(self, k) for k in FIELD_UNITS}


jax.tree_util.register_dataclass(
    VesselTree, data_fields=list(FIELD_UNITS), meta_fields=["max_depth"]
)


