"""Priors of the synthetic coronary tree generator (documented, overridable).

Every number the generator draws comes from a field of `CoronaryPrior`; change
one with ``dataclasses.replace(prior, murray_exponent=(3.0, 3.0))`` or
``CoronaryPrior(side="right", ...)``. A prior is hashable, so it is a static
argument of the compiled generator (one compile per distinct prior).

Defaults and their sources:

* root (proximal) lumen diameter: left main 4.5 ± 0.5 mm, proximal RCA
  3.9 ± 0.6 mm (mean ± SD; Dodge et al., Circulation 1992), drawn from a
  normal distribution and clipped to a root radius of 1.5–3.5 mm;
* 2–5 first-generation side branches per main branch (diagonals on the LAD,
  obtuse marginals on the LCx, acute marginals/PDA on the RCA) and 0–2
  second-generation branches per side branch;
* segment length 15–40 mm (a segment is the centreline between branch
  points; a side branch has at least two segments);
* Murray exponent k 2.1–2.7 per tree (``r_parent^k = Σ r_child^k`` at every
  junction; set ``(3.0, 3.0)`` for Murray's original law);
* taper −20 % to +5 % per anatomical branch (the radius change along a
  branch beyond what it loses at branch points, spread over its segments);
* 0–3 stenoses per main branch and 0–2 per first-generation side branch
  (at most one per segment), diameter stenosis 30–90 %, lesion length
  5–25 mm (never longer than its segment), cosine profile;
* side-to-main radius ratio 0.5–0.9 at a branch point, LCx-to-LAD radius
  ratio 0.7–1.0 at the left-main bifurcation;
* branching angle 30–70° (drawing layout only, planar);
* ``min_radius`` 0 (off): when set (e.g. 0.5 mm, about the resolution of CT
  angiography), branches whose radius would end below it are not drawn —
  their siblings take their share of the junction, Murray's law still holds
  and every kept radius only grows — so the side-branch counts above become
  upper bounds.

With the default priors the distal vessels of a left tree get small (down
to ~0.1 mm radius) and long, so even lesion-free trees have distal FFR below
0.80 (about 79 % of lesion-free left trees have some segment end below 0.80;
30 % with ``min_radius = 0.5 mm``; 9 % with 0.6 mm).

All ranges are ``(low, high)`` and drawn uniformly (integers inclusive), in SI
units (m) except angles (degrees).
"""

from __future__ import annotations

import dataclasses

Range = tuple[float, float]
IntRange = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class CoronaryPrior:
    """Distribution of synthetic coronary trees (see the module docstring)."""

    side: str = "left"
    left_main_diameter: Range = (4.5e-3, 0.5e-3)  # (mean, SD), m
    rca_diameter: Range = (3.9e-3, 0.6e-3)  # (mean, SD), m
    root_radius: Range = (1.5e-3, 3.5e-3)  # clip range, m
    side_branches: IntRange = (2, 5)  # first generation, per main branch
    second_generation: IntRange = (0, 2)  # per first-generation side branch
    segment_length: Range = (15e-3, 40e-3)  # m
    murray_exponent: Range = (2.1, 2.7)
    taper: Range = (-0.20, 0.05)  # r_out / r_in - 1
    stenoses_main: IntRange = (0, 3)  # per main branch
    stenoses_side: IntRange = (0, 2)  # per first-generation side branch
    stenosis_severity: Range = (0.30, 0.90)  # diameter stenosis fraction
    lesion_length: Range = (5e-3, 25e-3)  # m
    side_branch_ratio: Range = (0.5, 0.9)  # r_side / r_main at a branch point
    lcx_lad_ratio: Range = (0.7, 1.0)  # r_LCx / r_LAD at the left-main bifurcation
    branch_angle: Range = (30.0, 70.0)  # degrees, drawing layout only
    min_radius: float = 0.0  # m; branches ending below it are not drawn (0: keep all)

    def __post_init__(self):
        for f in dataclasses.fields(self):  # lists from configs/CLIs → hashable tuples
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self.validate()

    @property
    def num_main(self) -> int:
        """Main branches: LAD and LCx (left) or the RCA (right)."""
        return 2 if self.side == "left" else 1

    def validate(self) -> None:
        """Raise `ValueError` naming the field if a range is impossible."""
        if self.side not in ("left", "right"):
            raise ValueError(f"CoronaryPrior.side = {self.side!r}; expected 'left' or 'right'")
        ranges = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("side", "left_main_diameter", "rca_diameter", "min_radius")
        }
        for name, (lo, hi) in ranges.items():
            if not lo <= hi:
                raise ValueError(f"CoronaryPrior.{name} = {(lo, hi)}; expected low <= high")
        positive = ("root_radius", "segment_length", "lesion_length", "side_branch_ratio",
                    "lcx_lad_ratio", "murray_exponent")
        for name in positive:
            if ranges[name][0] <= 0:
                raise ValueError(f"CoronaryPrior.{name} = {ranges[name]}; expected values > 0")
        for name in ("side_branches", "second_generation", "stenoses_main", "stenoses_side"):
            lo, hi = ranges[name]
            if lo < 0 or int(lo) != lo or int(hi) != hi:
                raise ValueError(f"CoronaryPrior.{name} = {(lo, hi)}; expected whole numbers >= 0")
        if self.side_branches[1] < 1:
            raise ValueError(f"CoronaryPrior.side_branches = {self.side_branches}; expected a high end >= 1")
        if not self.min_radius >= 0:
            raise ValueError(f"CoronaryPrior.min_radius = {self.min_radius}; expected a radius >= 0 m")
        if ranges["side_branches"][0] + 1 < ranges["stenoses_main"][1]:
            raise ValueError(
                f"CoronaryPrior.stenoses_main = {self.stenoses_main} needs main branches of at least "
                f"{self.stenoses_main[1]} segments, but side_branches = {self.side_branches} allows "
                f"{self.side_branches[0] + 1}; expected stenoses_main[1] <= side_branches[0] + 1"
            )
        if self.stenoses_side[1] > max(2, self.second_generation[0] + 1):
            raise ValueError(
                f"CoronaryPrior.stenoses_side = {self.stenoses_side}; expected at most "
                f"{max(2, self.second_generation[0] + 1)} (one lesion per side-branch segment)"
            )
        lo, hi = self.stenosis_severity
        if not (0 <= lo and hi < 1):
            raise ValueError(
                f"CoronaryPrior.stenosis_severity = {self.stenosis_severity}; expected within [0, 1)"
            )
        if self.taper[0] <= -1:
            raise ValueError(f"CoronaryPrior.taper = {self.taper}; expected values > -1")
        if self.lesion_length[0] > self.segment_length[0]:
            raise ValueError(
                f"CoronaryPrior.lesion_length = {self.lesion_length}; expected a low end <= "
                f"segment_length low end {self.segment_length[0]} m (a lesion must fit its segment)"
            )
        for name in ("left_main_diameter", "rca_diameter"):
            mean, sd = getattr(self, name)
            if mean <= 0 or sd < 0:
                raise ValueError(
                    f"CoronaryPrior.{name} = {(mean, sd)}; expected (mean > 0, SD >= 0) in m"
                )
