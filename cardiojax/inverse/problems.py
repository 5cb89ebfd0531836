"""Ready-made inverse problems (synthetic data from a known truth), shared by studies, benchmarks and tests.

`windkessel_problem`: the three-element Windkessel (RCR) parameters of every outlet of a 0D network with a
prescribed inflow — typically a svZeroDSolver model such as the VMR anatomy 0104_0001 read by
`cardiojax.io.read_svzerod` — from the inlet pressure waveform over the last cardiac cycle and the mean flow
through each outlet, all with Gaussian noise of a given relative level. The truth is the file's RCR values.
With these data only the total resistance of each outlet and the network's total compliance and proximal
resistance are well determined (the split of Rp, C between outlets is not), so the problem carries an optional
weak log-normal prior centred on the starting guess.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.inverse.models import lumped_model, node_locations
from cardiojax.inverse.objective import Model, Objective, objective
from cardiojax.inverse.observe import Observation
from cardiojax.inverse.transforms import Param, ParamSpace

RCR_PARAMS = ("Rp", "C", "Rd")


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A synthetic inverse problem.

    Attributes:
      objective: the objective with noisy data (and the prior, if any).
      likelihood: the same data without the prior (what the data alone determine).
      truth: the physical values the data were simulated at (dict, SI).
      start: the starting guess (dict, SI); also the prior mean when there is a prior.
      model: the forward model.
      notes: a short description (units, sizes, noise).
    """

    objective: Objective
    likelihood: Objective
    truth: dict
    start: dict
    model: Model
    notes: str

    def z_truth(self) -> np.ndarray:
        return self.objective.space.to_unconstrained(self.truth)

    def z_start(self) -> np.ndarray:
        return self.objective.space.to_unconstrained(self.start)


def _rcr_outlets(net) -> list[tuple[str, str]]:
    """(RCR block, node feeding it) for every RCR outlet."""
    names, _, _ = node_locations(net)
    out = []
    for group in net.groups:
        if group.kind != "rcr":
            continue
        for block in group.names:
            feeding = [n for n in names if n.endswith(f":{block}")]
            out.append((block, feeding[0]))
    return out


def _inlet_node(net) -> str:
    names, _, _ = node_locations(net)
    for group in net.groups:
        if group.kind == "flow":
            return next(n for n in names if n.startswith(f"{group.names[0]}:"))
    raise ValueError("windkessel_problem: the network has no prescribed-flow ('FLOW') inlet; expected one")


def windkessel_problem(source, *, pts_per_cycle: int = 100, cycles: int = 6, n_pressure: int = 40,
                       noise: float = 0.02, prior_sd: float | None = 1.0, start_spread: float = 0.5,
                       seed: int = 0, zero_stenosis: bool = False) -> Problem:
    """RCR parameters of every outlet from the inlet pressure waveform and the outlet mean flows.

    Args:
      source: a svZeroDSolver JSON path (CGS file, converted to SI), a parsed dict, or an
        `cardiojax.io.SvZeroDModel`; it needs one ``FLOW`` inlet and at least one ``RCR`` outlet.
      pts_per_cycle, cycles: time points per cycle and cycles of the pulsatile run (the file's own settings
        are usually finer than an inverse problem needs; the last cycle is observed).
      n_pressure: inlet pressure samples, evenly spaced over the last cycle (times in s).
      noise: relative noise level: σ = noise × mean inlet pressure (Pa) for every pressure sample,
        σ = noise × |mean flow| (m³/s) for each outlet's mean flow.
      prior_sd: sd in log space of a log-normal prior on each parameter, centred on the start (None: flat).
      start_spread: the start is truth × exp(start_spread · N(0, 1)), drawn per parameter.
      seed: seeds the noise (`jax.random`) and the start (NumPy).
      zero_stenosis: set every vessel's and junction's stenosis coefficient S (Pa·s²/m⁶) to 0, which makes
        the network linear (`Simulation.linear`: one factorisation per run). The VMR files carry tiny fitted
        S values; this shows how the cost of a run, not the physics, changes the comparison.

    Free parameters ``"<RCR block>.Rp"`` (Pa·s/m³), ``".C"`` (m³/Pa), ``".Rd"`` (Pa·s/m³), all log-transformed.
    """
    from cardiojax.io.svzerod import SvZeroDModel, read_svzerod

    checks = [("pts_per_cycle", pts_per_cycle, int(pts_per_cycle) == pts_per_cycle and pts_per_cycle >= 10,
               "an integer >= 10"),
              ("cycles", cycles, int(cycles) == cycles and cycles >= 1, "an integer >= 1"),
              ("n_pressure", n_pressure, int(n_pressure) == n_pressure and n_pressure >= 1, "an integer >= 1"),
              ("noise", noise, np.isfinite(noise) and noise > 0, "a positive fraction (0.02 = 2 %)"),
              ("prior_sd", prior_sd, prior_sd is None or (np.isfinite(prior_sd) and prior_sd > 0),
               "None or a positive sd in log space"),
              ("start_spread", start_spread, np.isfinite(start_spread) and start_spread >= 0, "a number >= 0")]
    for name, value, ok, expected in checks:
        if not ok:
            raise ValueError(f"windkessel_problem: {name} = {value!r}; expected {expected}")
    svz = source if isinstance(source, SvZeroDModel) else read_svzerod(source)
    if svz.simulation is None:
        raise ValueError("windkessel_problem: the file has no simulation_parameters; expected a pulsatile model")
    net, params = svz.network, svz.params
    sim = dataclasses.replace(svz.simulation, pts_per_cycle=int(pts_per_cycle), cycles=int(cycles))
    if zero_stenosis:
        params = tuple({k: (jnp.zeros_like(v) if k == "S" else v) for k, v in p.items()} for p in params)
        sim = dataclasses.replace(sim, linear=True)
    outlets = _rcr_outlets(net)
    if not outlets:
        raise ValueError("windkessel_problem: the network has no RCR outlet; expected at least one")
    inlet = _inlet_node(net)
    free = {f"{b}.{k}": f"{b}.{k}" for b, _ in outlets for k in RCR_PARAMS}
    model = lumped_model(net, params, free, sim)
    index = {name: i for g, group in enumerate(net.groups) for i, name in enumerate(group.names)
             if group.kind == "rcr"}
    rcr = next(p for g, p in zip(net.groups, params) if g.kind == "rcr")
    truth = {n: float(rcr[n.rsplit(".", 1)[1]][index[n.rsplit(".", 1)[0]]]) for n in free}
    rng = np.random.default_rng(seed)
    start = {n: v * float(np.exp(start_spread * rng.standard_normal())) for n, v in truth.items()}
    if prior_sd is None:
        space = ParamSpace(tuple(Param(n, "log") for n in free))
    else:  # log-normal: sd of the physical value = prior_sd × mean gives sd prior_sd in z = log θ
        space = ParamSpace(tuple(Param(n, "log", prior_mean=start[n], prior_sd=prior_sd * start[n]) for n in free))
    flat = ParamSpace(tuple(Param(n, "log") for n in free))
    out = jax.jit(model.run)(truth)
    names = model.spec.locations
    p_in = np.asarray(out["pressure"][:, names.index(inlet)])
    period = sim.period
    times = np.linspace(0.0, period, int(n_pressure), endpoint=False)
    obs = [Observation("pressure", inlet, np.interp(times, model.spec.times, p_in), noise * float(np.mean(p_in)),
                       times=times)]
    q = np.asarray(out["flow"])
    for block, node in outlets:
        q_mean = float(np.mean(q[:, names.index(node)]))
        obs.append(Observation("flow", node, [q_mean], noise * abs(q_mean), reduce="mean"))
    obj = objective(model, space, obs)
    clean = np.asarray(obj.operator.predict(out))  # as Objective.synthetic, without a second compile
    eps = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), clean.shape, clean.dtype))
    obj = obj.with_data(clean + obj.operator.sigma * eps)
    likelihood = dataclasses.replace(obj, space=flat)
    linear = "; stenosis coefficients set to 0 (linear)" if zero_stenosis else ""
    prior_text = "none" if prior_sd is None else f"log-normal, sd {prior_sd} in log"
    notes = (f"{len(outlets)} RCR outlets, {len(free)} parameters; {n_pressure} inlet pressure samples + "
             f"{len(outlets)} mean outlet flows, {noise:.0%} noise; {sim.cycles} cycles × {sim.pts_per_cycle} "
             f"points (period {period:.3f} s){linear}; prior: {prior_text}")
    return Problem(obj, likelihood, truth, start, model, notes)


def total_resistance(theta: dict) -> dict:
    """Rp + Rd per RCR block (Pa·s/m³) from a dict with ``"<block>.Rp"`` and ``"<block>.Rd"`` keys."""
    blocks = sorted({n.rsplit(".", 1)[0] for n in theta if n.endswith(".Rp")})
    return {b: float(theta[f"{b}.Rp"]) + float(theta[f"{b}.Rd"]) for b in blocks}


__all__ = ["Problem", "RCR_PARAMS", "total_resistance", "windkessel_problem"]
