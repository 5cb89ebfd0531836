"""Training a `NetworkPINN`: Adam (optax) in compiled chunks of steps, then an optional L-BFGS stage.

Each Adam step draws a fresh batch of residual points per vessel (`sample_residual_points`) and evaluates the
whole loss — every vessel, every measurement, every junction — in one compiled call; ``chunk`` steps run inside
one `jax.lax.scan`, so Python only sees the loop every chunk (progress bar, loss history, checkpoints). The
learning rate is ``learning_rate`` for the first ``decay_at`` share of the Adam steps and ``learning_rate·decay``
after it (Kissas et al.: 1e-3 then 1e-4). The L-BFGS stage (`optax.lbfgs` with its zoom line search) uses one
fixed, larger set of residual points.

Networks run in float32 (set by the caller: nothing here changes JAX's precision).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm import tqdm

from cardiojax.io.checkpoint import (
    load_checkpoint_state,
    read_checkpoint_meta,
    save_checkpoint_dir,
)
from cardiojax.physics.network_pinn import (
    Arrays,
    LossParts,
    LossWeights,
    NetworkPINN,
    PINNProblem,
    Scales,
    compile_problem,
    loss_parts,
    sample_residual_points,
    total_loss,
)


@dataclasses.dataclass(frozen=True)
class PINNConfig:
    """Network size and optimisation settings (saved with every checkpoint).

    Attributes:
      depth, width: hidden layers × units of each vessel's network.
      batch: residual points per vessel per Adam step.
      adam_steps, learning_rate, decay, decay_at: the Adam schedule (see the module docstring).
      lbfgs_steps, lbfgs_points: the L-BFGS stage (0 steps: none) and its residual points per vessel.
      chunk: Adam steps per compiled call.
      weights: `LossWeights` of the data, mass + momentum, interface, tube-law and outlet terms.
      time_harmonics: K sin/cos harmonics of the time window added to each network's input (0: x and t only).
      warmup: share of the Adam steps over which every weight except the data's ramps up linearly from 0
        (the networks first fit the data, then the physics takes hold; 0: full weights from the start). The
        logged ``loss`` always uses the full weights.
      fit_stiffness: train each vessel's stiffness factor with the networks (inverse problem).
      fit_resistance: train each resistance outlet's resistance factor with the networks.
      hard_tube_law: pressure = the tube law of the predicted area instead of a third network output.
      seed: initialisation and sampling seed.
    """

    depth: int = 7
    width: int = 100
    batch: int = 1024
    adam_steps: int = 20000
    learning_rate: float = 1e-3
    decay: float = 0.1
    decay_at: float = 2.0 / 3.0
    lbfgs_steps: int = 0
    lbfgs_points: int = 2048
    chunk: int = 250
    weights: LossWeights = LossWeights()
    warmup: float = 0.0
    time_harmonics: int = 0
    fit_stiffness: bool = False
    fit_resistance: bool = False
    hard_tube_law: bool = False
    seed: int = 0

    def validate(self) -> None:
        for name in ("depth", "width", "batch", "chunk", "lbfgs_points"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} = {getattr(self, name)!r}; expected a positive integer")
        for name in ("adam_steps", "lbfgs_steps"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} = {getattr(self, name)!r}; expected ≥ 0")
        if not 0 <= self.warmup <= 1:
            raise ValueError(f"warmup = {self.warmup}; expected a share of the Adam steps in [0, 1]")
        if not self.learning_rate > 0 or not 0 < self.decay <= 1 or not 0 <= self.decay_at <= 1:
            raise ValueError(f"learning_rate = {self.learning_rate}, decay = {self.decay}, decay_at = "
                             f"{self.decay_at}; expected a positive rate, 0 < decay ≤ 1 and 0 ≤ decay_at ≤ 1")


class Fitted(NamedTuple):
    """A trained PINN: the model, its compiled problem, the loss history (one dict per logged step) and timings."""

    model: NetworkPINN
    arrays: Arrays
    scales: Scales
    history: list[dict]
    timings: dict


PARTS = LossParts._fields


def build_model(problem: PINNProblem, config: PINNConfig) -> NetworkPINN:
    """A freshly initialised `NetworkPINN` for ``problem``."""
    n_outlets = len(problem.outlets)
    return NetworkPINN(len(problem.vessels), depth=config.depth, width=config.width,
                       fit_stiffness=config.fit_stiffness, hard_tube_law=config.hard_tube_law,
                       time_harmonics=config.time_harmonics, n_outlets=n_outlets,
                       fit_resistance=config.fit_resistance, seed=config.seed)


def adam_schedule(config: PINNConfig):
    """The piecewise-constant learning rate of the Adam stage."""
    boundary = int(round(config.decay_at * config.adam_steps))
    return optax.piecewise_constant_schedule(config.learning_rate, {boundary: config.decay})


def make_loss(graphdef, scales: Scales, problem: PINNProblem, config: PINNConfig):
    """``(params, rest, arrays, x_f, t_f, physics=1) ↦ (total loss, LossParts)`` of the split model; ``physics``
    scales the residual and interface weights (the warm-up ramp)."""
    rho, friction = jnp.float32(problem.rho), jnp.float32(problem.friction)

    def loss_fn(params, rest, arrays, x_f, t_f, physics=1.0):
        model = nnx.merge(graphdef, params, rest)
        parts = loss_parts(model, arrays, scales, x_f, t_f, rho, friction)
        w = config.weights
        weights = LossWeights(w.data, w.residual * physics, w.interface * physics, w.tube_law * physics,
                              w.outlet * physics)
        return total_loss(parts, weights), parts

    return loss_fn


def make_adam_chunk(graphdef, arrays: Arrays, scales: Scales, problem: PINNProblem, config: PINNConfig, tx):
    """A compiled ``(params, rest, opt_state, key, step0) ↦ (params, opt_state, key, parts (chunk, 7))`` of
    ``chunk`` Adam steps starting at step ``step0`` (which sets the warm-up ramp of the physics weights)."""
    loss_fn = make_loss(graphdef, scales, problem, config)
    ramp_steps = max(config.warmup * config.adam_steps, 1.0)

    def one(carry, i):
        params, rest, opt_state, key = carry
        key, sub = jax.random.split(key)
        x_f, t_f = sample_residual_points(sub, arrays, config.batch)
        physics = jnp.minimum(1.0, (i + 1.0) / ramp_steps) if config.warmup > 0 else 1.0
        (_, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, rest, arrays, x_f, t_f, physics)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, rest, opt_state, key), jnp.stack(parts)

    @jax.jit
    def run(params, rest, opt_state, key, step0):
        steps = step0 + jnp.arange(config.chunk, dtype=jnp.float32)
        (params, _, opt_state, key), parts = jax.lax.scan(one, (params, rest, opt_state, key), steps)
        return params, opt_state, key, parts

    return run, loss_fn


def _record(history, parts, step0, weights):
    parts = np.asarray(parts)
    for i, row in enumerate(parts):
        entry = dict(zip(PARTS, map(float, row)))
        entry["loss"] = float(total_loss(LossParts(*row), weights))
        entry["step"] = step0 + i + 1
        history.append(entry)


def train_pinn(problem: PINNProblem, config: PINNConfig = PINNConfig(), *, progress: bool = True,
               checkpoint: str | Path | None = None, checkpoint_every: int = 5000, model: NetworkPINN | None = None,
               desc: str = "PINN") -> Fitted:
    """Fit a `NetworkPINN` to ``problem``: Adam for ``config.adam_steps`` (rounded up to whole chunks), then
    ``config.lbfgs_steps`` of L-BFGS.

    ``checkpoint``: a directory rewritten every ``checkpoint_every`` Adam steps and at the end (`save_pinn`).
    ``model``: continue from this model (it must match ``problem`` and ``config``). L-BFGS steps are rounded up
    to whole chunks like the Adam steps.
    Returns `Fitted`; its timings hold ``compile_s`` (first chunk's compile), ``adam_s`` (the rest),
    ``s_per_iter`` (Adam seconds per step excluding compilation) and ``lbfgs_s``. Raises ``FloatingPointError``
    if the loss becomes NaN or infinite.
    """
    config.validate()
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every = {checkpoint_every}; expected a positive number of steps")
    arrays, scales = compile_problem(problem, config.batch)
    fresh = build_model(problem, config)
    if model is None:
        model = fresh
    else:
        shapes = lambda m: jax.tree_util.tree_map(jnp.shape, nnx.to_pure_dict(nnx.state(m)))  # noqa: E731
        if shapes(model) != shapes(fresh):
            raise ValueError("model does not match problem and config (vessels, outlets, depth, width or "
                             "time_harmonics differ); pass a model built by build_model(problem, config)")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(adam_schedule(config))
    opt_state = tx.init(params)
    run, loss_fn = make_adam_chunk(graphdef, arrays, scales, problem, config, tx)
    key = jax.random.key(config.seed + 1)
    n_chunks = math.ceil(config.adam_steps / config.chunk)
    history: list[dict] = []
    timings = {"compile_s": 0.0, "adam_s": 0.0, "s_per_iter": float("nan"), "lbfgs_s": 0.0}
    bar = tqdm(total=n_chunks * config.chunk, desc=desc, unit="step", disable=not progress, mininterval=2.0)
    timed_steps = 0
    for c in range(n_chunks):
        t0 = time.perf_counter()
        params, opt_state, key, parts = run(params, rest, opt_state, key, jnp.float32(c * config.chunk))
        parts = jax.block_until_ready(parts)
        dt = time.perf_counter() - t0
        if c == 0:
            timings["compile_s"] = dt
        else:
            timings["adam_s"] += dt
            timed_steps += config.chunk
        _record(history, parts, c * config.chunk, config.weights)
        if not math.isfinite(history[-1]["loss"]):
            raise FloatingPointError(f"PINN training diverged at step {history[-1]['step']}: the loss is "
                                     f"{history[-1]['loss']}")
        bar.update(config.chunk)
        bar.set_postfix(loss=f"{history[-1]['loss']:.3e}")
        if checkpoint is not None and (c + 1) * config.chunk % checkpoint_every < config.chunk:
            save_pinn(checkpoint, nnx.merge(graphdef, params, rest), problem, config)
    bar.close()
    if timed_steps:
        timings["s_per_iter"] = timings["adam_s"] / timed_steps
    if config.lbfgs_steps:
        t0 = time.perf_counter()
        lb_arrays, _ = compile_problem(problem, config.lbfgs_points)
        params = _lbfgs(loss_fn, params, rest, lb_arrays, config, history, progress, desc)
        timings["lbfgs_s"] = time.perf_counter() - t0
    model = nnx.merge(graphdef, params, rest)
    if checkpoint is not None:
        save_pinn(checkpoint, model, problem, config)
    return Fitted(model, arrays, scales, history, timings)


def _lbfgs(loss_fn, params, rest, arrays, config: PINNConfig, history, progress, desc):
    x_f, t_f = sample_residual_points(jax.random.key(config.seed + 2), arrays, config.lbfgs_points)
    # optax's line search keeps its scalars in JAX's default float type: with float64 enabled, run the stage in it
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    in_dtypes = jax.tree_util.tree_map(lambda a: a.dtype, params)
    params = jax.tree_util.tree_map(lambda a: a.astype(dtype), params)

    def value(p):
        return loss_fn(p, rest, arrays, x_f, t_f)[0]

    tx = optax.lbfgs()
    state = tx.init(params)
    value_and_grad = optax.value_and_grad_from_state(value)

    def one(carry, _):
        p, s = carry
        v, g = value_and_grad(p, state=s)
        updates, s = tx.update(g, s, p, value=v, grad=g, value_fn=value)
        return (optax.apply_updates(p, updates), s), v

    @jax.jit
    def run(p, s):
        return jax.lax.scan(one, (p, s), None, length=chunk)

    chunk = min(config.chunk, config.lbfgs_steps)
    n_chunks = math.ceil(config.lbfgs_steps / chunk)
    step0 = history[-1]["step"] if history else 0
    bar = tqdm(total=n_chunks * chunk, desc=f"{desc} L-BFGS", unit="step", disable=not progress, mininterval=2.0)
    for c in range(n_chunks):
        (params, state), values = run(params, state)
        values = np.asarray(values)
        for i, v in enumerate(values):
            history.append({"loss": float(v), "step": step0 + c * chunk + i + 1, "stage": "lbfgs"})
        if not np.all(np.isfinite(values)):
            raise FloatingPointError(f"L-BFGS diverged: the loss is {values[-1]}")
        bar.update(chunk)
        bar.set_postfix(loss=f"{values[-1]:.3e}")
    bar.close()
    return jax.tree_util.tree_map(lambda a, d: a.astype(d), params, in_dtypes)


def predict(fitted: Fitted, vessel: int, x, t) -> dict[str, np.ndarray]:
    """Area (m²), velocity (m/s) and pressure (Pa) of ``vessel`` at points ``x`` (m), ``t`` (s) (broadcast)."""
    x, t = np.broadcast_arrays(np.asarray(x, np.float32), np.asarray(t, np.float32))
    nv = fitted.arrays.x_lo.shape[0]
    if not 0 <= vessel < nv:
        raise ValueError(f"vessel = {vessel}; expected an index < {nv}")
    lo, hi = float(fitted.arrays.x_lo[vessel]), float(fitted.arrays.x_hi[vessel])
    tol = 1e-6 * (hi - lo)
    if x.size and (x.min() < lo - tol or x.max() > hi + tol):
        raise ValueError(f"x spans [{x.min():g}, {x.max():g}] m, outside vessel {vessel} [{lo:g}, {hi:g}] m; "
                         "the network is not defined there")
    xs = jnp.broadcast_to(jnp.asarray(x.ravel()), (nv, x.size))
    ts = jnp.broadcast_to(jnp.asarray(t.ravel()), (nv, x.size))
    a, u, p = fitted.model.fields(fitted.arrays, fitted.scales, xs, ts)
    return {k: np.asarray(v[vessel]).reshape(x.shape) for k, v in (("area", a), ("velocity", u), ("pressure", p))}


def fitted_resistance(fitted: Fitted) -> np.ndarray:
    """Each resistance outlet's R (Pa·s/m³) after training (the prior times the fitted factor)."""
    r0 = np.asarray(fitted.arrays.o_resistance)
    return r0 * np.exp(np.asarray(fitted.model.log_resistance[...])[: r0.size])


def fitted_stiffness(fitted: Fitted) -> np.ndarray:
    """β (Pa/m) at each vessel's two ends after training (the prior times the fitted factor)."""
    return np.asarray(fitted.arrays.beta_ends) * np.exp(np.asarray(fitted.model.log_stiffness[...]))[:, None]


def save_pinn(path: str | Path, model: NetworkPINN, problem: PINNProblem, config: PINNConfig) -> None:
    """Checkpoint directory: the model's state (orbax) and the configuration (JSON)."""
    meta = {"kind": "pinn", "config": {k: v for k, v in dataclasses.asdict(config).items() if k != "weights"},
            "weights": dataclasses.asdict(config.weights), "n_vessels": len(problem.vessels),
            "n_outlets": len(problem.outlets)}
    save_checkpoint_dir(path, nnx.to_pure_dict(nnx.state(model)), meta)


def load_pinn(path: str | Path) -> tuple[NetworkPINN, PINNConfig]:
    """The model and configuration saved by `save_pinn`."""
    meta = read_checkpoint_meta(path, "PINN")
    if meta.get("kind") != "pinn":
        raise ValueError(f"{path}: not a cardiojax PINN checkpoint (kind = {meta.get('kind')!r})")
    config = PINNConfig(**meta["config"], weights=LossWeights(**meta["weights"]))
    n_outlets = meta.get("n_outlets", 0)
    model = NetworkPINN(meta["n_vessels"], depth=config.depth, width=config.width,
                        fit_stiffness=config.fit_stiffness, hard_tube_law=config.hard_tube_law,
                        time_harmonics=config.time_harmonics, n_outlets=n_outlets,
                        fit_resistance=config.fit_resistance, seed=config.seed)
    state = nnx.state(model)
    nnx.replace_by_pure_dict(state, load_checkpoint_state(path, nnx.to_pure_dict(state)))
    nnx.update(model, state)
    return model, config


def plot_history(history: list[dict], path: str | Path, title: str = "PINN training") -> None:
    """PNG of every loss term against the step (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    adam = [h for h in history if "mass" in h]
    steps = [h["step"] for h in adam]
    for name in PARTS + ("loss",):
        ax.semilogy(steps, [max(h[name], 1e-16) for h in adam], lw=1.5 if name == "loss" else 0.8, label=name)
    lb = [h for h in history if h.get("stage") == "lbfgs"]
    if lb:
        ax.semilogy([h["step"] for h in lb], [h["loss"] for h in lb], "k-", lw=1.5, label="loss (L-BFGS)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss term (dimensionless)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
