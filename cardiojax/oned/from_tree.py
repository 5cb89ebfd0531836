"""A `VesselTree` as a 1D network: padded to the tree's capacity so that a batch shares one compiled function.

Every segment becomes a vessel of ``n_cells`` cells (padding slots are closed
tubes at rest), every valid segment with children a junction
(total-pressure continuity, padded to ``degree`` ends), every outlet a
``resistance`` block with the tree's ``outlet_resistance`` and
``outlet_pressure`` (set them first, e.g. with
`cardiojax.clinical.with_hyperemic_outlets`; a resistance of 0 is refused).
The wall stiffness is K = E·h/r0(x) from the tree's ``stiffness`` (E·h); the
inlet is a pressure waveform at the root.

Lesions (``lesions=``):

* ``"lumped"`` (default): the segment is split into two healthy tapered
  vessels joined by a Young–Tsai element (`stenosis_loss` with the healthy
  diameter at the lesion centre) — the lesion model of the steady FFR
  network (`cardiojax.lumped.segment_coefficients`), so the 1D steady limit
  is the 0D FFR solution. The split sits at the cell boundary nearest the
  lesion centre that leaves at least 3 cells on each side (the segment keeps
  ``n_cells`` cells of its own Δx, so lesions near a segment end do not
  shrink the time step); the steady pressure drop of the segment does not
  depend on where the loss sits;
* ``"resolved"``: the narrowed lumen (the cosine profile of
  `cardiojax.tree.geometry.lumen_radius`) is discretised; the scheme is not
  well balanced, so a resolved lesion needs many cells across it — at 8
  cells per segment the synthetic trees' lesions (30–90 %) blow up;
* ``"none"``: lesions are dropped.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cardiojax.oned.model import (
    InletSpec,
    JunctionSpec,
    NetworkSpec,
    OneDModel,
    OutletSpec,
    VesselSpec,
    build_model,
    stenosis_loss,
)
from cardiojax.tree.ops import require_single, to_numpy
from cardiojax.tree.vessel_tree import VesselTree
from cardiojax.units import Blood

LESION_MODES = ("lumped", "resolved", "none")


def tree_spec(tree: VesselTree, inlet_times, inlet_pressure, *, n_cells: int = 8, blood: Blood = Blood(),
              profile: float = 2.0, junction_pressure: str = "total", lesions: str = "lumped",
              grid: str = "node") -> NetworkSpec:
    """The `NetworkSpec` of one tree (valid segments only) with a pressure inlet ``P(t)`` (s, Pa).

    ``grid`` (`NetworkSpec.grid`): ``"node"`` puts the boundary cells on the
    segment ends, so junction and outlet pressures sit where the 0D model has
    them (measured on a synthetic tree, steady, stiff walls: max |ΔFFR| vs the
    0D solver 0.004 at 8 cells per segment, against 0.035 with ``"cell"``).

    Vessel names are ``seg{s}`` (a lumped lesion's downstream piece ``seg{s}_distal``).
    """
    require_single(tree, "tree_spec")
    if lesions not in LESION_MODES:
        raise ValueError(f"lesions={lesions!r}, expected one of {LESION_MODES}")
    t = to_numpy(tree)
    valid = np.flatnonzero(t.valid)
    children: dict[int, list[int]] = {}
    for s in valid:
        p = int(t.parent[s])
        if p >= 0:
            children.setdefault(p, []).append(int(s))
    vessels, junctions, outlets = [], [], []
    first, last = {}, {}  # segment -> index of its inlet / outlet vessel
    for s in (int(x) for x in valid):
        length, r_in, r_out, eh = float(t.length[s]), float(t.r_in[s]), float(t.r_out[s]), float(t.stiffness[s])
        severity = float(t.stenosis_severity[s])
        first[s] = len(vessels)
        if severity > 0 and lesions == "lumped":
            pos = float(t.stenosis_position[s])
            n_up = min(max(3, int(round(n_cells * pos))), max(n_cells - 3, 3))
            n_down = max(3, n_cells - n_up)
            cut = n_up / (n_up + n_down)  # the lesion centre, moved to a cell boundary with >= 3 cells each side
            r_cut = r_in + (r_out - r_in) * cut
            vessels.append(VesselSpec(f"seg{s}", length * cut, r_in, r_cut, {"Eh": eh}, n_up))
            vessels.append(VesselSpec(f"seg{s}_distal", length * (1.0 - cut), r_cut, r_out, {"Eh": eh}, n_down))
            r_lesion = r_in + (r_out - r_in) * pos  # healthy radius at the true centre, as the 0D model
            loss = stenosis_loss(r_lesion, severity, float(t.stenosis_length[s]), blood)
            junctions.append(JunctionSpec([(first[s], "out"), (first[s] + 1, "in")], pressure=junction_pressure,
                                          losses=[(0.0, 0.0), loss]))
        else:
            lesion = None
            if severity > 0 and lesions == "resolved":
                lesion = (severity, float(t.stenosis_length[s]), float(t.stenosis_position[s]))
            vessels.append(VesselSpec(f"seg{s}", length, r_in, r_out, {"Eh": eh}, n_cells, lesion=lesion))
        last[s] = len(vessels) - 1
    for s in (int(x) for x in valid):
        if s in children:
            junctions.append(JunctionSpec([(last[s], "out")] + [(first[c], "in") for c in children[s]],
                                          pressure=junction_pressure))
            continue
        r = float(t.outlet_resistance[s])
        if not r > 0:
            raise ValueError(f"segment {s}: field 'outlet_resistance' = {r!r} Pa·s/m³; expected > 0 at an outlet "
                             "(set boundary conditions first, e.g. cardiojax.clinical.with_hyperemic_outlets)")
        outlets.append(OutletSpec(last[s], "resistance", {"R": r, "Pd": float(t.outlet_pressure[s])}))
    roots = [first[int(s)] for s in valid if t.parent[s] < 0]
    times = np.asarray(inlet_times, float)
    inlets = [InletSpec(roots[0], "pressure", times, np.asarray(inlet_pressure, float))]
    return NetworkSpec(vessels, junctions, inlets, outlets, float(times[-1] - times[0]), blood, "beta", profile,
                       name="tree", grid=grid)


def tree_model(tree: VesselTree, inlet_times, inlet_pressure, *, n_cells: int = 8, degree: int = 3,
               blood: Blood = Blood(), profile: float = 2.0, lesions: str = "lumped",
               lesion_slots: int | None = None, grid: str = "node") -> tuple[OneDModel, NetworkSpec]:
    """`tree_spec` compiled with padding to the tree's capacity, so that models of one capacity stack into a batch.

    ``lesion_slots`` (default capacity // 4) is the number of lumped lesions
    the padding has room for (each adds a vessel and a junction); a tree with
    more raises ``ValueError``.
    """
    spec = tree_spec(tree, inlet_times, inlet_pressure, n_cells=n_cells, blood=blood, profile=profile,
                     lesions=lesions, grid=grid)
    cap = tree.capacity
    slots = cap // 4 if lesion_slots is None else int(lesion_slots)
    extra = len(spec.vessels) - int(np.sum(np.asarray(tree.valid)))
    if extra > slots:
        raise ValueError(f"the tree has {extra} lumped lesions, more than lesion_slots={slots}; "
                         "pass a larger lesion_slots (the same for every tree of a batch)")
    m = build_model(spec, pad_vessels=cap + slots, pad_junctions=cap + slots, degree=degree,
                    pad_outlets={"resistance": cap}, pad_cells=cap * (n_cells + 2) + slots * (n_cells + 10))
    # static fields equal for every tree of a capacity, so models stack into one batch
    m = dataclasses.replace(m, vessel_names=tuple(f"v{i}" for i in range(cap + slots)), varying=True)
    return m, spec
