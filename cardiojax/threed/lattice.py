"""The D3Q19 velocity set: lattice velocities, weights and opposite directions (lattice units).

Directions: 0 at rest, 1–6 along the axes, 7–18 along the face diagonals;
weights 1/3, 1/18 and 1/36; sound speed c_s² = 1/3.
"""

from __future__ import annotations

import numpy as np

#: (19, 3) integer lattice velocities.
C = np.array(
    [[0, 0, 0],
     [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1],
     [1, 1, 0], [-1, -1, 0], [1, -1, 0], [-1, 1, 0],
     [1, 0, 1], [-1, 0, -1], [1, 0, -1], [-1, 0, 1],
     [0, 1, 1], [0, -1, -1], [0, 1, -1], [0, -1, 1]],
    dtype=np.int32,
)
#: (19,) weights.
W = np.array([1 / 3] + [1 / 18] * 6 + [1 / 36] * 12)
#: (19,) index of the opposite direction.
OPP = np.array([int(np.flatnonzero((C == -c).all(axis=1))[0]) for c in C], dtype=np.int32)
#: squared lattice sound speed.
CS2 = 1.0 / 3.0
Q = 19
