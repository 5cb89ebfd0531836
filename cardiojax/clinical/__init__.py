"""Clinical quantities: FFR, pressure drops, hyperemic boundary-condition recipes."""

from cardiojax.clinical.ffr import (
    FFR_CUTOFFS,
    ffr,
    min_ffr,
    pressure_drop,
    segment_ffr,
)
from cardiojax.clinical.hyperemia import (
    HyperemiaParams,
    outlet_flow_shares,
    resting_flow,
    resting_outlet_resistance,
    with_hyperemic_outlets,
)
from cardiojax.clinical.pipeline import FFRResult, hyperemic_ffr, hyperemic_ffr_batch
from cardiojax.clinical.pulsatile import PulsatileFFR, aortic_waveform, pulsatile_ffr
from cardiojax.clinical.vessels import MAIN_VESSEL_RADIUS, Vessels, vessel_ffr, vessels

__all__ = [
    "FFR_CUTOFFS",
    "ffr",
    "segment_ffr",
    "pressure_drop",
    "min_ffr",
    "HyperemiaParams",
    "resting_flow",
    "outlet_flow_shares",
    "resting_outlet_resistance",
    "with_hyperemic_outlets",
    "FFRResult",
    "hyperemic_ffr",
    "hyperemic_ffr_batch",
    "PulsatileFFR",
    "aortic_waveform",
    "pulsatile_ffr",
    "Vessels",
    "vessels",
    "vessel_ffr",
    "MAIN_VESSEL_RADIUS",
]
