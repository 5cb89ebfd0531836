"""A network of lumped blocks assembled from a static map, and its steady solve.

`NetworkBuilder` connects blocks (`cardiojax.lumped.blocks`) through nodes;
each node carries a pressure and a flow and joins exactly two block ports.
`build()` groups blocks of the same kind and port count, so the residual of
a whole group is one `vmap` of the block's local equations:

    F(y, dy, t) = concat_over_groups( vmap(block.residual)(params, y[idx], dy[idx], t) )

The `Network` (static, hashable) holds the index map; the parameters are a
pytree (a tuple of dicts of arrays, one dict per group) so `jax.grad` and
`jax.vmap` act on them. `solve_steady_network` finds ``F(y, 0, t) = 0`` by
Newton's method with the Jacobian from `jax.jacfwd`, wrapped in
`lax.custom_root` so gradients come from the implicit function theorem.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cardiojax.lumped.blocks import BLOCKS
from cardiojax.lumped.tables import Table
from cardiojax.lumped.tables import steady as steady_values

Params = tuple[dict[str, "jax.Array | Table"], ...]


@dataclasses.dataclass(frozen=True)
class BlockGroup:
    """Blocks of one kind and port layout (static).

    Attributes:
      kind: key of `cardiojax.lumped.blocks.BLOCKS`.
      names: block names.
      var_index: ``(n_blocks, n_local_vars)`` global variable indices, ports
        as (P, Q) pairs (inlets first), then internal variables.
      n_in, n_out: number of inlet and outlet ports of each block.
    """

    kind: str
    names: tuple[str, ...]
    var_index: tuple[tuple[int, ...], ...]
    n_in: int
    n_out: int


@dataclasses.dataclass(frozen=True)
class Network:
    """Static structure of a block network (hashable; a `jit` static argument).

    Attributes:
      groups: the block groups, in residual order.
      var_names: name of each global variable in svZeroDSolver's convention:
        ``pressure:<up>:<down>`` and ``flow:<up>:<down>`` for the node
        between blocks ``up`` and ``down``, ``<variable>:<block>`` for
        internal variables (e.g. ``pressure_c:RCR1``).
      vessels: names of the blocks reported as vessels.
      vessel_vars: ``(P_in, Q_in, P_out, Q_out)`` variable indices per vessel.
    """

    groups: tuple[BlockGroup, ...]
    var_names: tuple[str, ...]
    vessels: tuple[str, ...]
    vessel_vars: tuple[tuple[int, int, int, int], ...]

    @property
    def num_vars(self) -> int:
        return len(self.var_names)

    def var_kind(self) -> np.ndarray:
        """0 for pressures (also internal ones, e.g. ``pressure_c``), 1 for flows, 2 for other
        internal variables such as volumes (per variable): groups sharing one unit."""
        return np.array([0 if v.startswith("pressure") else 1 if v.startswith("flow") else 2
                         for v in self.var_names])


class NetworkBuilder:
    """Assemble a `Network` block by block (host side, at model-building time)."""

    def __init__(self):
        self._num_nodes = 0
        self._node_ports: dict[int, list[tuple[str, str]]] = {}
        self._node_up: dict[int, str] = {}
        self._node_down: dict[int, str] = {}
        self._blocks: list[tuple[str, str, list[int], dict[str, Any], int]] = []
        self._vessels: list[tuple[str, int, int]] = []

    def node(self) -> int:
        """A new node (a pressure and a flow variable); returns its id.

        The node is named after the blocks it joins, ``"upstream:downstream"``
        (svZeroDSolver's convention), when the network is built.
        """
        self._num_nodes += 1
        return self._num_nodes - 1

    def block(self, kind: str, name: str, inlets: list[int], outlets: list[int],
              params: dict[str, Any] | None = None) -> None:
        """Add a block of ``kind`` joined to ``inlets`` then ``outlets`` nodes.

        A parameter is a number (SI) or, if it varies over the cardiac cycle,
        a ``(times, values)`` pair (s, SI) that becomes a periodic `Table`.

        Flow at a node is positive from the block that has it as an outlet to
        the block that has it as an inlet. Boundary conditions at a network
        inlet use ``outlets=[node]``; at a network outlet ``inlets=[node]``.
        """
        if kind not in BLOCKS:
            raise ValueError(f"block '{name}': unknown kind {kind!r}; expected one of {sorted(BLOCKS)}")
        spec = BLOCKS[kind]
        params = dict(params or {})
        for p in spec.params:
            if p not in params:
                raise ValueError(f"block '{name}' ({kind}): missing parameter '{p}'")
        for n, role in [(n, "inlet") for n in inlets] + [(n, "outlet") for n in outlets]:
            if not 0 <= n < self._num_nodes:
                raise ValueError(f"block '{name}': node {n} does not exist")
            self._node_ports.setdefault(n, []).append((name, role))
        for n in inlets:
            self._node_down[n] = name
        for n in outlets:
            self._node_up[n] = name
        self._blocks.append((kind, name, inlets + outlets, params, len(inlets)))

    def vessel(self, name: str, inlet: int, outlet: int, params: dict[str, Any]) -> None:
        """A ``vessel`` block between two nodes, reported in results under ``name``."""
        self.block("vessel", name, [inlet], [outlet], params)
        self._vessels.append((name, inlet, outlet))

    def build(self, dtype=None) -> tuple[Network, Params]:
        """The static `Network` and its parameter pytree."""
        var_names = []
        for n in range(self._num_nodes):
            ports = self._node_ports.get(n, [])
            if len(ports) != 2:
                where = " and ".join(f"the {role} of '{b}'" for b, role in ports) or "no block"
                raise ValueError(
                    f"the node at {where} joins {len(ports)} block ports; expected exactly 2 "
                    "(every vessel end needs one boundary condition or junction)"
                )
            if n not in self._node_up or n not in self._node_down:
                roles = " and ".join(f"the {role} of '{b}'" for b, role in ports)
                raise ValueError(f"the node at {roles} joins two ports of the same side; expected "
                                 "one block's outlet joined to another block's inlet")
            name = f"{self._node_up[n]}:{self._node_down[n]}"
            var_names += [f"pressure:{name}", f"flow:{name}"]
        grouped: dict[tuple[str, int, int], list] = defaultdict(list)
        for kind, name, nodes, params, n_in in self._blocks:
            spec = BLOCKS[kind]
            local = [v for n in nodes for v in (2 * n, 2 * n + 1)]
            for internal in spec.internal:
                var_names.append(f"{internal}:{name}")
                local.append(len(var_names) - 1)
            grouped[kind, n_in, len(nodes) - n_in].append((name, tuple(local), params))
        groups, params_out = [], []
        dtype = dtype or jnp.result_type(float)
        for (kind, n_in, n_out), members in grouped.items():
            names, index, plist = zip(*members)
            groups.append(BlockGroup(kind, names, index, n_in, n_out))
            params_out.append({k: _stack_param([p[k] for p in plist], dtype) for k in plist[0]})
        vessel_vars = tuple((2 * i, 2 * i + 1, 2 * o, 2 * o + 1) for _, i, o in self._vessels)
        net = Network(tuple(groups), tuple(var_names), tuple(v[0] for v in self._vessels),
                      vessel_vars)
        n_eq = sum(len(g.names) * (g.n_in + g.n_out + len(BLOCKS[g.kind].internal))
                   for g in groups)
        if n_eq != net.num_vars:  # cannot happen when every node joins two ports
            raise ValueError(f"network has {n_eq} equations for {net.num_vars} unknowns")
        return net, tuple(params_out)


def _stack_param(values: list, dtype):
    """One group parameter: an array over blocks, or a `Table` if any block has a table."""
    if not any(isinstance(v, tuple) for v in values):
        return jnp.asarray(np.array(values, np.float64), dtype)
    rows = [v if isinstance(v, tuple) else ([0.0], [v]) for v in values]
    return Table.from_rows(rows, dtype)


def residual(net: Network, params: Params, y: jax.Array, dy: jax.Array, t=0.0,
             steady: bool = False) -> jax.Array:
    """Stacked block residuals ``F(y, dy, t)``, shape ``(num_vars,)``.

    ``params`` must hold plain values (tables already evaluated, see
    `cardiojax.lumped.tables.at_time`). ``steady`` selects svZeroDSolver's
    steady-mode equations for the blocks that have them. The Python loop runs
    over block *groups* (kinds), a static handful; the blocks inside a group
    are one `vmap`.
    """
    parts = []
    for group, p in zip(net.groups, params):
        idx = jnp.asarray(np.array(group.var_index, np.int32))
        local = BLOCKS[group.kind].equations(steady)

        def one(pp, yy, dd, _local=local, _g=group):
            return _local(pp, yy, dd, t, _g.n_in, _g.n_out)

        parts.append(jax.vmap(one)(p, y[idx], dy[idx]).reshape(-1))
    return jnp.concatenate(parts)


def with_initial_state(net: Network, params: Params, y0: jax.Array, ydot0: jax.Array,
                       values: Params | None = None) -> Params:
    """``params`` plus the parameters that blocks fix from the initial state.

    ``values`` are the plain parameter values in force at the start (default
    ``params``, which must then hold no tables).
    """
    values = params if values is None else values
    out = []
    for group, p, v in zip(net.groups, params, values):
        init = BLOCKS[group.kind].initial_params
        if init is None:
            out.append(p)
            continue
        idx = jnp.asarray(np.array(group.var_index, np.int32))
        out.append(dict(p, **jax.vmap(init)(v, y0[idx], ydot0[idx])))
    return tuple(out)


def _equilibrated_solve(jac: jax.Array, rhs: jax.Array) -> jax.Array:
    """Solve ``jac x = rhs`` after row and column equilibration (mixed Pa / m³/s scales)."""
    row = 1.0 / jnp.maximum(jnp.max(jnp.abs(jac), axis=1), 1e-300)
    scaled = jac * row[:, None]
    col = 1.0 / jnp.maximum(jnp.max(jnp.abs(scaled), axis=0), 1e-300)
    return col * jnp.linalg.solve(scaled * col[None, :], rhs * row)


def solve_steady_network(
    net: Network,
    params: Params,
    y0: jax.Array | None = None,
    t=0.0,
    rtol: float = 1e-13,
    max_iterations: int = 50,
) -> tuple[jax.Array, jax.Array]:
    """Steady state ``F(y, 0, t) = 0`` of a network by Newton's method.

    Args:
      net: the static network.  params: its parameter pytree; time tables
        enter as their mean, and svZeroDSolver's steady-mode block equations
        are used (RCR with C = 0, algebraic coronary volume).
      y0: initial guess (default zeros).
      rtol: stop when every update is below ``rtol`` × the largest value of
        its kind (pressures, flows, internal variables).
      max_iterations: Newton iteration cap.

    Returns:
      ``(y, residual_norm)`` with y in SI units; differentiable in ``params``
      through the implicit function theorem (`lax.custom_root`).
    """
    n = net.num_vars
    zeros = jnp.zeros(n)
    y0 = zeros if y0 is None else y0
    kind = jnp.asarray(net.var_kind())

    params = steady_values(params)

    def f(y):
        return residual(net, params, y, zeros, t, steady=True)

    def newton(func, guess):
        def step(state):
            y, _, it = state
            dy = _equilibrated_solve(jax.jacfwd(func)(y), -func(y))
            scale = jax.ops.segment_max(jnp.abs(y + dy), kind, num_segments=3)[kind] + 1e-300
            return y + dy, jnp.max(jnp.abs(dy) / scale), it + 1

        def go_on(state):
            _, change, it = state
            return (change > rtol) & (it < max_iterations)

        y, _, _ = lax.while_loop(go_on, step, (guess, jnp.inf, 0))
        return y

    def tangent_solve(g, b):
        return _equilibrated_solve(jax.jacfwd(g)(b), b)

    y = lax.custom_root(f, y0, newton, tangent_solve)
    return y, jnp.linalg.norm(f(y))


def vessel_results(net: Network, y: jax.Array) -> dict[str, jax.Array]:
    """Per-vessel ``pressure_in, flow_in, pressure_out, flow_out`` (Pa, m³/s).

    ``y`` is ``(..., num_vars)`` (one state, or a time series / batch of
    them); each result is ``(..., n_vessels)``.
    """
    idx = jnp.asarray(np.array(net.vessel_vars, np.int32).reshape(-1, 4))
    v = y[..., idx]
    return {"pressure_in": v[..., 0], "flow_in": v[..., 1], "pressure_out": v[..., 2],
            "flow_out": v[..., 3]}
