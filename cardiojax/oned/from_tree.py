"""A `VesselTree` as a 1D network: padded to the tree's capacity so that a batch shares one compiled function.

Every segment slot becomes a vessel of ``n_cells`` cells (padding slots are
closed tubes at rest), every valid segment with children a junction
(total-pressure continuity, padded to ``degree`` ends), every outlet a
``resistance`` block with the tree's ``outlet_resistance`` and
``outlet_pressure`` (or a ``coronary`` block when ``coronary`` parameters are
given). With ``lesions=True`` lesions are resolved as narrowed geometry (the cosine profile of
`cardiojax.tree.geometry.lumen_radius`); the scheme is not well balanced, so
a resolved lesion needs several cells across it — at 8 cells per segment a
severe lesion makes the run blow up (seen on synthetic trees), and
``lesions=False`` drops them. The wall stiffness is
K = E·h/r0(x) from the tree's ``stiffness`` (E·h). The inlet is a pressure
waveform at the root.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cardiojax.oned.model import InletSpec, JunctionSpec, NetworkSpec, OneDModel, OutletSpec, VesselSpec, build_model
from cardiojax.tree.ops import require_single, to_numpy
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import Blood


def tree_spec(tree: VesselTree, inlet_times, inlet_pressure, *, n_cells: int = 8, blood: Blood = Blood(),
              profile: float = 2.0, junction_pressure: str = "total", lesions: bool = True) -> NetworkSpec:
    """The `NetworkSpec` of one tree (valid segments only) with a pressure inlet ``P(t)`` (s, Pa)."""
    require_single(tree, "tree_spec")
    t = to_numpy(tree)
    valid = np.flatnonzero(t.valid)
    index = {int(s): i for i, s in enumerate(valid)}
    vessels, junctions, outlets = [], [], []
    children: dict[int, list[int]] = {}
    for s in valid:
        p = int(t.parent[s])
        if p >= 0:
            children.setdefault(p, []).append(int(s))
    for s in valid:
        s = int(s)
        lesion = None
        if lesions and t.stenosis_severity[s] > 0:
            lesion = (float(t.stenosis_severity[s]), float(t.stenosis_length[s]), float(t.stenosis_position[s]))
        vessels.append(VesselSpec(f"seg{s}", float(t.length[s]), float(t.r_in[s]), float(t.r_out[s]),
                                  {"Eh": float(t.stiffness[s])}, n_cells, lesion=lesion))
        if s in children:
            junctions.append(JunctionSpec([(index[s], "out")] + [(index[c], "in") for c in children[s]],
                                          pressure=junction_pressure))
        else:
            outlets.append(OutletSpec(index[s], "resistance", {"R": float(t.outlet_resistance[s]),
                                                               "Pd": float(t.outlet_pressure[s])}))
    roots = [index[int(s)] for s in valid if t.parent[s] < 0]
    times = np.asarray(inlet_times, float)
    inlets = [InletSpec(roots[0], "pressure", times, np.asarray(inlet_pressure, float))]
    return NetworkSpec(vessels, junctions, inlets, outlets, float(times[-1] - times[0]), blood, "beta", profile,
                       name="tree")


def tree_model(tree: VesselTree, inlet_times, inlet_pressure, *, n_cells: int = 8, degree: int = 3,
               blood: Blood = Blood(), profile: float = 2.0, lesions: bool = True) -> tuple[OneDModel, NetworkSpec]:
    """`tree_spec` compiled with padding to the tree's capacity (vessels, junctions and outlets)."""
    spec = tree_spec(tree, inlet_times, inlet_pressure, n_cells=n_cells, blood=blood, profile=profile,
                     lesions=lesions)
    cap = tree.capacity
    m = build_model(spec, pad_vessels=cap, pad_junctions=cap, degree=degree,
                    pad_outlets={"resistance": cap}, pad_cells=cap * (n_cells + 2))
    # static fields equal for every tree of a capacity, so models stack into one batch
    m = dataclasses.replace(m, vessel_names=tuple(f"v{i}" for i in range(cap)), varying=True)
    return m, spec
