"""Hyperemic FFR from a pulsatile 0D run: cycle-averaged distal / aortic pressure.

The tree becomes a compliant block network (`cardiojax.lumped.tree_network`)
with the hyperemic outlet resistances of the steady recipe
(`with_hyperemic_outlets`) and an aortic pressure waveform at the inlet; it
is integrated over a few cardiac cycles and FFR at every segment end is the
last cycle's mean pressure there over the mean aortic pressure, computed
with the same clinical functions as the steady path (`segment_ffr`).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from cardiojax.clinical.ffr import segment_ffr
from cardiojax.clinical.hyperemia import HyperemiaParams, with_hyperemic_outlets
from cardiojax.lumped.network import Network, vessel_results
from cardiojax.lumped.pulsatile import Simulation, Solution, check_converged, simulate
from cardiojax.lumped.tree_network import tree_network
from cardiojax.tree.ops import require_single
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import MMHG, Blood


def aortic_waveform(mean: float, pulse: float = 40.0 * MMHG, period: float = 0.8,
                    samples: int = 161) -> tuple[np.ndarray, np.ndarray]:
    """A smooth aortic pressure waveform over one cycle: ``(t in s, P in Pa)``.

    Three harmonics (systolic peak, dicrotic shoulder), scaled so that the
    cycle mean (trapezoid over the period) is ``mean`` and systolic minus
    diastolic pressure is ``pulse`` (Pa).
    """
    t = np.linspace(0.0, period, samples)
    theta = 2.0 * np.pi * t / period
    shape = np.sin(theta) + 0.45 * np.sin(2 * theta - 0.6) + 0.15 * np.sin(3 * theta - 1.2)
    shape = (shape - shape[:-1].mean()) / (shape.max() - shape.min())
    return t, mean + pulse * shape


@dataclasses.dataclass(frozen=True)
class PulsatileFFR:
    """Cycle-averaged hyperemic FFR of one tree (per slot; NaN on padding).

    Attributes:
      ffr_in, ffr_out: FFR at each segment's inlet and end.
      p_in, p_out: last-cycle mean pressures, Pa.  flow: mean flow, m³/s.
      aortic_pressure: last-cycle mean aortic (inlet) pressure, Pa.
      network, solution, simulation: the run, for waveforms.
    """

    ffr_in: np.ndarray
    ffr_out: np.ndarray
    p_in: np.ndarray
    p_out: np.ndarray
    flow: np.ndarray
    aortic_pressure: float
    network: Network
    solution: Solution
    simulation: Simulation


def pulsatile_ffr(
    tree: VesselTree,
    params: HyperemiaParams = HyperemiaParams(),
    blood: Blood = Blood(),
    waveform: tuple[np.ndarray, np.ndarray] | None = None,
    cycles: int = 4,
    pts_per_cycle: int = 161,
    compliance: bool = True,
    apply_recipe: bool = True,
) -> PulsatileFFR:
    """Hyperemic FFR of one tree from a pulsatile run.

    Args:
      tree: single tree (SI units).
      params: hyperemia recipe; its ``aortic_pressure`` is the mean of the
        default waveform.
      waveform: ``(t, P)`` aortic pressure over one cycle (s, Pa); default
        `aortic_waveform` (``params.aortic_pressure`` mean, 40 mmHg pulse,
        0.8 s period).
      cycles, pts_per_cycle: time settings (the last cycle is averaged).
      compliance: vessel compliance and inertance on (else resistive).
      apply_recipe: set hyperemic outlet resistances (as the steady path).
    """
    require_single(tree, "pulsatile_ffr")
    if apply_recipe:
        tree = with_hyperemic_outlets(tree, params)
    t, p = waveform if waveform is not None else aortic_waveform(float(params.aortic_pressure))
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    if t.ndim != 1 or t.shape != p.shape or t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError(f"waveform: expected increasing times and pressures of the same length, "
                         f"got shapes {t.shape} and {p.shape}")
    net, net_params, slots = tree_network(tree, (t, p), blood, compliance)
    lesion = bool(np.any(np.asarray(tree.stenosis_severity)[slots] > 0))
    sim = Simulation(period=float(t[-1] - t[0]), cycles=cycles, pts_per_cycle=pts_per_cycle,
                     linear=not lesion)
    solution = jax.jit(simulate, static_argnums=(0, 2))(net, net_params, sim)
    check_converged(solution, sim, "pulsatile_ffr")
    res = {k: np.asarray(v)[:-1].mean(axis=0)  # one period: drop the repeated end point
           for k, v in vessel_results(net, solution.y).items()}
    root = int(np.flatnonzero(np.asarray(tree.parent)[slots] < 0)[0])
    aortic = float(res["pressure_in"][root])
    cap = tree.parent.shape[-1]
    full = {k: np.full(cap, np.nan) for k in ("p_in", "p_out", "flow")}
    full["p_in"][slots], full["p_out"][slots], full["flow"][slots] = (
        res["pressure_in"], res["pressure_out"], res["flow_in"])
    ffr_in, ffr_out = (np.asarray(x) for x in segment_ffr(full["p_in"], full["p_out"], aortic))
    return PulsatileFFR(ffr_in, ffr_out, full["p_in"], full["p_out"], full["flow"], aortic,
                        net, solution, sim)
