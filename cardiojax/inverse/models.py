"""Solvers as inverse-problem `Model` s.

`lumped_model` wraps a 0D block network (`cardiojax.lumped`): the free parameters are block parameters
named ``"<block>.<param>"`` (e.g. ``"RCR_0.Rd"``, ``"branch0_seg0.S"``); it reports ``"pressure"`` (Pa) and
``"flow"`` (m³/s) at every node, named ``"<upstream block>:<downstream block>"`` as in svZeroDSolver
(e.g. ``"INFLOW:branch0_seg0"``, ``"branch0_seg0:RCR_0"``) — steady (`solve_steady_network`) or over the last
cardiac cycle of a pulsatile run (`cardiojax.lumped.simulate`, output times of the `Simulation`).

The 1D solver, the steady FFR tree network and the 3D lattice-Boltzmann stenosis are in
`cardiojax.inverse.solvers`. Any other solver is a `Model` built from a traceable ``run(theta) -> {signal:
array}`` and an `OutputSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from cardiojax.inverse.objective import Model
from cardiojax.inverse.observe import OutputSpec
from cardiojax.lumped.network import Network, Params, solve_steady_network
from cardiojax.lumped.pulsatile import Simulation, simulate
from cardiojax.lumped.tables import Table


def _block_index(net: Network) -> dict[str, tuple[int, int]]:
    return {name: (g, i) for g, group in enumerate(net.groups) for i, name in enumerate(group.names)}


def set_block_params(net: Network, params: Params, free: Mapping[str, str], theta: Mapping) -> Params:
    """``params`` with the block parameters named in ``free`` (theta name → ``"<block>.<param>"``) set to
    ``theta`` values (SI)."""
    where = _block_index(net)
    out = [dict(p) for p in params]
    for name, target in free.items():
        block, key = target.rsplit(".", 1)
        g, i = where[block]
        out[g][key] = out[g][key].at[i].set(theta[name])
    return tuple(out)


def _check_free(net: Network, params: Params, free: Mapping[str, str]) -> None:
    where = _block_index(net)
    for name, target in free.items():
        if not isinstance(target, str) or "." not in target:
            raise ValueError(f"free parameter '{name}' -> {target!r}; expected '<block>.<param>'")
        block, key = target.rsplit(".", 1)
        if block not in where:
            raise ValueError(f"free parameter '{name}': the network has no block '{block}'; expected one of "
                             f"{sorted(where)[:12]}")
        g, _ = where[block]
        if key not in params[g]:
            raise ValueError(f"free parameter '{name}': block '{block}' has no parameter '{key}'; expected one "
                             f"of {sorted(params[g])}")
        if isinstance(params[g][key], Table):
            raise ValueError(f"free parameter '{name}': '{target}' varies in time (a table); expected a "
                             "constant parameter")


def node_locations(net: Network) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Node names and the indices of their pressure and flow variables."""
    names, p_idx, q_idx = [], [], []
    index = {v: i for i, v in enumerate(net.var_names)}
    for v, i in index.items():
        if v.startswith("pressure:") and v.count(":") == 2:
            node = v.split(":", 1)[1]
            names.append(node)
            p_idx.append(i)
            q_idx.append(index[f"flow:{node}"])
    return tuple(names), np.array(p_idx), np.array(q_idx)


def lumped_model(net: Network, params: Params, free: Mapping[str, str], sim: Simulation | None = None) -> Model:
    """A 0D network as a `Model` (module docstring). ``sim=None``: steady; else pulsatile over ``sim``."""
    _check_free(net, params, free)
    free = dict(free)
    names, p_idx, q_idx = node_locations(net)
    p_idx, q_idx = jnp.asarray(p_idx), jnp.asarray(q_idx)

    if sim is None:
        def run(theta):
            y, _ = solve_steady_network(net, set_block_params(net, params, free, theta))
            return {"pressure": y[p_idx], "flow": y[q_idx]}

        return Model(run, OutputSpec(("pressure", "flow"), names, None))

    def run_pulsatile(theta):
        y = simulate(net, set_block_params(net, params, free, theta), sim).y
        return {"pressure": y[:, p_idx], "flow": y[:, q_idx]}

    times = tuple(float(t) for t in sim.output_times())
    return Model(run_pulsatile, OutputSpec(("pressure", "flow"), names, times))
