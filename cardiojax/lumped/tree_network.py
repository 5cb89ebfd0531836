"""A `VesselTree` as a pulsatile block network (one vessel block per segment).

Each valid segment becomes a ``vessel`` block ``seg<i>`` with the steady
law's R and stenosis coefficient S (`segment_coefficients`) and, with
``compliance=True``, the wall compliance and blood inertance of a thin-walled
elastic tube of the segment's mean radius r̄ and length ℓ:

    C = 3·π·r̄³·ℓ / (2·E·h)   (m³/Pa),   L = ρ·ℓ / (π·r̄²)   (Pa·s²/m³),

with E·h the tree's ``stiffness`` (Pa·m). Every segment end with children is
a junction (one pressure, mass conserved); every outlet a ``resistance``
block to its ``outlet_pressure``; the root inlet a ``pressure`` block, constant
or a periodic ``(times, values)`` table. Built on the host, once per topology.
"""

from __future__ import annotations

import numpy as np

from cardiojax.lumped.elements import segment_coefficients
from cardiojax.lumped.network import Network, NetworkBuilder, Params
from cardiojax.tree.traversal import is_outlet
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import Blood


def tree_network(tree: VesselTree, inlet_pressure, blood: Blood = Blood(),
                 compliance: bool = True) -> tuple[Network, Params, np.ndarray]:
    """The block network of one tree.

    Args:
      tree: a single tree (SI units).
      inlet_pressure: aortic pressure at the root inlet, Pa: a number or a
        ``(times in s, values in Pa)`` pair over one cardiac cycle.
      blood: density (inertance) and viscosity (resistance).
      compliance: include vessel C and L (else a purely resistive network).

    Returns:
      ``(network, params, slots)``: vessel k of the network is tree slot
      ``slots[k]``.
    """
    t = {k: np.asarray(v) for k, v in tree.arrays().items()}
    if t["parent"].ndim != 1:
        raise ValueError(f"tree_network: expected a single tree, got batch shape {t['parent'].shape[:-1]}")
    r, s = (np.asarray(x) for x in segment_coefficients(tree, blood))
    outlet = np.asarray(is_outlet(tree))
    slots = np.flatnonzero(t["valid"])
    radius = 0.5 * (t["r_in"] + t["r_out"])
    if compliance:
        cap = 3.0 * np.pi * radius**3 * t["length"] / (2.0 * t["stiffness"])
        ind = blood.density * t["length"] / (np.pi * radius**2)
    else:
        cap = ind = np.zeros_like(radius)
    b = NetworkBuilder()
    ends = {int(i): (b.node(), b.node()) for i in slots}
    children: dict[int, list[int]] = {int(i): [] for i in slots}
    for i in slots:
        i = int(i)
        b.vessel(f"seg{i}", *ends[i], {"R": float(r[i]), "C": float(cap[i]), "L": float(ind[i]),
                                        "S": float(s[i])})
        if t["parent"][i] >= 0:
            children[int(t["parent"][i])].append(i)
        else:
            b.block("pressure", "AORTA", [], [ends[i][0]], {"P": inlet_pressure})
        if outlet[i]:
            b.block("resistance", f"OUT{i}", [ends[i][1]], [],
                    {"R": float(t["outlet_resistance"][i]), "Pd": float(t["outlet_pressure"][i])})
    for i, kids in children.items():
        if kids:
            b.block("junction", f"J{i}", [ends[i][1]], [ends[k][0] for k in kids])
    net, params = b.build()
    return net, params, slots
