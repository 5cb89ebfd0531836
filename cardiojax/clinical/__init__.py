"""Clinical quantities: FFR, pressure drops, hyperemic boundary-condition recipes."""

from cardiojax.clinical.ffr import (
    FFR_CUTOFFS,
    ffr,
    min_ffr,
    outlet_ffr,
    pressure_drop,
    segment_ffr,
)
from cardiojax.clinical.hyperemia import (
    HyperemiaParams,
    hyperemic_flow,
    outlet_flow_shares,
    resting_flow,
    resting_outlet_resistance,
    with_hyperemic_outlets,
)

__all__ = [
    "FFR_CUTOFFS",
    "ffr",
    "segment_ffr",
    "pressure_drop",
    "outlet_ffr",
    "min_ffr",
    "HyperemiaParams",
    "resting_flow",
    "outlet_flow_shares",
    "resting_outlet_resistance",
    "with_hyperemic_outlets",
    "hyperemic_flow",
]
