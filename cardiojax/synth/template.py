"""Static topology template of a synthetic coronary tree.

The template holds every segment slot a tree of a given prior can use, in
topological order; a drawn tree switches slots on and off with a mask, so all
trees of one prior share array shapes and one compiled generator.

Left tree: left main (root) → LAD and LCx main branches. Right tree: the RCA
main branch, whose first segment is the root. A main branch is a chain of
``n_side + 1`` segments, with first-generation side branch j leaving at the
end of main segment j. A side branch is a chain of ``max(2, n2 + 1)``
segments, with second-generation branch q (one segment) leaving at the end of
side segment q.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from cardiojax.tree.validate import host_depth

ROOT, MAIN, SIDE, SECOND = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class Template:
    """Per-slot NumPy arrays (length ``size``) describing the template.

    Attributes:
      parent: parent slot, −1 for the root.
      role: ROOT (left main), MAIN, SIDE (first-generation chain) or SECOND.
      main: main-branch index (0 = LAD or RCA, 1 = LCx), −1 for the left main.
      j: position along the main chain (MAIN) or the side branch's index.
      c: position along the side chain (SIDE) or the index q (SECOND).
      branch: stenosis branch id (main m → m; side (m, j) → num_main +
        m·max_side + j), −1 where no lesion is placed.
      chain: id of the anatomical branch (chain of segments) a slot belongs
        to; a branch tapers as a whole (root, each main, side and
        second-generation branch is one chain).
      max_depth: deepest slot's depth.
    """

    parent: np.ndarray
    role: np.ndarray
    main: np.ndarray
    j: np.ndarray
    c: np.ndarray
    branch: np.ndarray
    chain: np.ndarray
    num_main: int
    max_side: int
    max_second: int
    max_depth: int

    @property
    def size(self) -> int:
        return self.parent.shape[0]

    @property
    def num_branches(self) -> int:
        return self.num_main * (1 + self.max_side)

    @property
    def chain_length(self) -> int:
        return max(2, self.max_second + 1)


@functools.lru_cache(maxsize=None)
def build_template(side: str, max_side: int, max_second: int) -> Template:
    """The template for ``side`` ('left'/'right') and the structural maxima."""
    rows: list[tuple[int, int, int, int, int]] = []  # (parent, role, main, j, c)

    def add(parent: int, role: int, main: int, j: int, c: int) -> int:
        rows.append((parent, role, main, j, c))
        return len(rows) - 1

    num_main = 2 if side == "left" else 1
    root = add(-1, ROOT, -1, 0, 0) if side == "left" else -1
    main_slot = {}
    for m in range(num_main):
        prev = root
        for j in range(max_side + 1):
            prev = main_slot[m, j] = add(prev, MAIN, m, j, 0)
    chain = max(2, max_second + 1)
    side_slot = {}
    for m in range(num_main):
        for j in range(max_side):
            prev = main_slot[m, j]
            for c in range(chain):
                prev = side_slot[m, j, c] = add(prev, SIDE, m, j, c)
    for m in range(num_main):
        for j in range(max_side):
            for q in range(max_second):
                add(side_slot[m, j, q], SECOND, m, j, q)

    parent, role, main, j, c = (np.array(col, np.int32) for col in zip(*rows))
    branch = np.where(role == MAIN, main, -1)
    branch = np.where(role == SIDE, num_main + main * max_side + j, branch).astype(np.int32)
    # chain id: segments of one anatomical branch share the id of its first segment
    first = (role == ROOT) | (role == SECOND) | ((role == MAIN) & (j == 0)) | ((role == SIDE) & (c == 0))
    chain = np.where(first, np.arange(len(rows)), -1)
    for i in np.flatnonzero(~first):  # host-side, once per template: parents precede children
        chain[i] = chain[parent[i]]
    depth = host_depth(parent.astype(np.int64), np.ones(len(rows), bool))
    return Template(parent, role, main, j, c, branch, chain.astype(np.int32), num_main, max_side,
                    max_second, int(depth.max()))
