"""Exact-gradient fits against the usual alternatives, on one objective, with loss-versus-time traces.

The question a user of `cardiojax.inverse` asks first: how much does differentiating through the solver buy
over fitting it as a black box? `compare` answers it on one `Objective` from one start, with:

* ``"lm"`` / ``"lbfgs"`` / ``"adam"`` — this package's optimisers (`fit`), Jacobians or gradients by JAX;
* ``"nelder-mead"`` — `scipy.optimize.minimize` Nelder–Mead (adaptive parameters) on the jitted loss,
  derivative-free;
* ``"fd-trf"`` — `scipy.optimize.least_squares` (trust-region reflective) on the jitted residuals with a
  2-point finite-difference Jacobian: the same least-squares method family as ``"lm"``, derivatives by
  n extra solver runs per Jacobian.

Every method minimises the same ``obj.loss`` = ½‖r(z)‖² in the same unconstrained z. Wall times exclude
compilation (reported apart) and stop after ``block_until_ready``. Each `Run` carries a trace of the best
loss so far against elapsed time: for the scipy methods one record per solver call, timestamped as it
returns; for the JAX optimisers — one compiled `lax.while_loop` — the same compiled run is timed again with
its iteration cap set to k = 1, 2, …, K (the cap is a traced argument, so there is no recompilation), which
gives the loss after k iterations and the wall time a run stopping there takes. `Run.time_to` reads the
first time a run reaches a target loss (e.g. the gradient fit's final loss × (1 + 10⁻³)).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.inverse.objective import Objective
from cardiojax.inverse.optimize import STATUS, adam, lbfgs, levenberg_marquardt

JAX_METHODS = ("lm", "lbfgs", "adam")
BASELINES = ("nelder-mead", "fd-trf")


@dataclasses.dataclass(frozen=True)
class Run:
    """One optimiser run with its loss trace.

    Attributes:
      method: the method name.
      z: final unconstrained parameters.
      loss: final ½‖r‖².
      iterations: optimiser iterations.
      evaluations: solver runs (objective evaluations; a JAX Jacobian of n parameters counts as n, a
        finite-difference Jacobian as the n runs it makes).
      wall_s: wall time of the whole run, s (compilation excluded).
      compile_s: compilation time of the jitted loss / residuals / optimiser, s.
      trace_s, trace_loss, trace_evals: elapsed time (s), best loss so far and solver runs so far, one
        entry per record (see the module docstring).
      message: the optimiser's stopping message.
    """

    method: str
    z: np.ndarray
    loss: float
    iterations: int
    evaluations: int
    wall_s: float
    compile_s: float
    trace_s: np.ndarray
    trace_loss: np.ndarray
    trace_evals: np.ndarray
    message: str

    def _first(self, target: float):
        hit = np.nonzero(self.trace_loss <= target)[0]
        return None if hit.size == 0 else int(hit[0])

    def time_to(self, target: float) -> float | None:
        """Wall time, s, at which the run first reaches a loss <= ``target`` (None: never)."""
        i = self._first(target)
        return None if i is None else float(self.trace_s[i])

    def evaluations_to(self, target: float) -> int | None:
        """Solver runs made until the loss first reaches <= ``target`` (None: never)."""
        i = self._first(target)
        return None if i is None else int(self.trace_evals[i])


class _Recorder:
    """Wraps a jitted host function: counts calls and records (elapsed s, best loss so far)."""

    def __init__(self, fn, to_loss):
        self.fn, self.to_loss = fn, to_loss
        self.t0, self.best, self.records = None, np.inf, []

    def start(self):
        self.t0, self.best, self.records = time.perf_counter(), np.inf, []

    def __call__(self, z):
        out = np.asarray(self.fn(jnp.asarray(z, jnp.float64)))
        loss = self.to_loss(out)
        if np.isfinite(loss) and loss < self.best:
            self.best = loss
        self.records.append((time.perf_counter() - self.t0, self.best))
        return out if out.ndim else float(out)

    def trace(self):
        rec = np.asarray(self.records, np.float64).reshape(-1, 2)
        return rec[:, 0], rec[:, 1], np.arange(1, len(rec) + 1)


def _compiled(fn, z0):
    """``(compiled fn, compile s)`` after one warm-up call."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(jnp.asarray(z0)).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(jnp.asarray(z0)))
    return compiled, compile_s


def nelder_mead(obj: Objective, z0, *, max_evaluations: int = 20000, xatol: float = 1e-6,
                fatol: float = 1e-8) -> Run:
    """`scipy.optimize.minimize` Nelder–Mead (``adaptive=True``, for n > 2) on the jitted ``obj.loss``."""
    from scipy.optimize import minimize

    z0 = np.asarray(z0, np.float64)
    loss, compile_s = _compiled(obj.loss, z0)
    rec = _Recorder(loss, float)
    rec.start()
    res = minimize(rec, z0, method="Nelder-Mead",
                   options=dict(maxfev=int(max_evaluations), xatol=xatol, fatol=fatol, adaptive=True))
    wall = time.perf_counter() - rec.t0
    ts, tl, te = rec.trace()
    return Run("nelder-mead", np.asarray(res.x), float(res.fun), int(res.nit), len(ts), wall, compile_s,
               ts, tl, te, str(res.message))


def finite_difference(obj: Objective, z0, *, max_evaluations: int = 5000, tol: float = 1e-12) -> Run:
    """`scipy.optimize.least_squares` (``"trf"``, 2-point finite-difference Jacobian) on the jitted residuals.

    ``iterations`` is the number of Jacobians it formed; ``evaluations`` counts every solver run, those of
    the finite differences included.
    """
    from scipy.optimize import least_squares

    z0 = np.asarray(z0, np.float64)
    residuals, compile_s = _compiled(obj.residuals, z0)
    rec = _Recorder(residuals, lambda r: 0.5 * float(r @ r))
    rec.start()
    res = least_squares(rec, z0, jac="2-point", method="trf", ftol=tol, xtol=tol, gtol=tol,
                        max_nfev=int(max_evaluations))
    wall = time.perf_counter() - rec.t0
    ts, tl, te = rec.trace()
    return Run("fd-trf", np.asarray(res.x), 0.5 * float(res.fun @ res.fun), int(res.njev or 0), len(ts), wall,
               compile_s, ts, tl, te, str(res.message))


def _jax_optimiser(obj: Objective, method: str, options: dict):
    if method == "lm":
        return lambda z, k: levenberg_marquardt(obj.residuals, z, max_iterations=k, **options)
    if method == "lbfgs":
        return lambda z, k: lbfgs(obj.loss, z, max_iterations=k, **options)
    if method == "adam":
        return lambda z, k: adam(obj.loss, z, max_iterations=k, **options)
    raise ValueError(f"method = {method!r}; expected one of {JAX_METHODS + BASELINES}")


def _timed(fn, *args, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best, out


def jax_run(obj: Objective, z0, method: str = "lm", *, max_iterations: int = 100, max_trace: int = 30,
            repeats: int = 3, trace_repeats: int = 1, **options) -> Run:
    """One of this package's optimisers, compiled once with a traced iteration cap, then timed.

    The full run (cap ``max_iterations``) is timed (best of ``repeats``); the trace re-runs the same
    executable (best of ``trace_repeats``) with caps k on at most ``max_trace`` values between 1 and the
    iterations the full run took (all of them when fewer; a geometric grid otherwise, so `Run.time_to` is
    then an upper bound); the recorded times are made non-decreasing in k (a running maximum).
    """
    if method not in JAX_METHODS:
        raise ValueError(f"method = {method!r}; expected one of {JAX_METHODS}")
    z0 = jnp.asarray(z0, jnp.float64)
    cap = jnp.asarray(int(max_iterations), jnp.int32)
    t0 = time.perf_counter()
    run = jax.jit(_jax_optimiser(obj, method, options)).lower(z0, cap).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(run(z0, cap))
    wall, res = _timed(run, z0, cap, repeats=repeats)
    n_it = int(res.iterations)
    last = max(n_it, 1)  # a start that already meets the tolerances: one record, the start itself
    caps = np.arange(1, last + 1) if last <= max_trace else \
        np.unique(np.geomspace(1, last, max_trace).round().astype(int))
    ts, tl, te = [], [], []
    for k in caps:
        t, r = _timed(run, z0, jnp.asarray(k, jnp.int32), repeats=trace_repeats)
        ts.append(t if k < last else wall)
        tl.append(float(r.cost))
        te.append(int(r.evaluations))
    best = np.minimum.accumulate(np.asarray(tl))
    ts = np.maximum.accumulate(np.asarray(ts))  # a run stopping later cannot finish earlier (timer noise)
    return Run(method, np.asarray(res.z), float(res.cost), n_it, int(res.evaluations), wall, compile_s,
               ts, best, np.asarray(te), STATUS[int(res.status)])


def compare(obj: Objective, z0, methods=("lm", "nelder-mead", "fd-trf"), options: dict | None = None) -> dict:
    """Run each method from ``z0`` (unconstrained) on ``obj``; ``options[method]`` are its keyword options.

    Returns ``{method: Run}`` in the order given.
    """
    options = options or {}
    unknown = [m for m in methods if m not in JAX_METHODS + BASELINES]
    if unknown:
        raise ValueError(f"methods {unknown}; expected names from {JAX_METHODS + BASELINES}")
    out = {}
    for m in methods:
        kw = dict(options.get(m, {}))
        if m == "nelder-mead":
            out[m] = nelder_mead(obj, z0, **kw)
        elif m == "fd-trf":
            out[m] = finite_difference(obj, z0, **kw)
        else:
            out[m] = jax_run(obj, z0, m, **kw)
    return out


def time_to_target(runs: dict, reference: str = "lm", rtol: float = 1e-3) -> tuple[float, dict]:
    """The target loss (the reference run's final loss × (1 + rtol)) and, per method, ``(time s or None,
    solver runs or None)`` to first reach it."""
    target = runs[reference].loss * (1.0 + rtol)
    return target, {m: (r.time_to(target), r.evaluations_to(target)) for m, r in runs.items()}


def speedup(runs: dict, other: str, reference: str = "lm", rtol: float = 1e-3) -> tuple[float, bool]:
    """Wall-time speed-up of ``reference`` over ``other`` to the common target (`time_to_target`).

    Returns ``(speed-up, reached)``; when ``other`` never reaches the target its whole run's time is used,
    so the figure is a lower bound and ``reached`` is False.
    """
    target, times = time_to_target(runs, reference, rtol)
    t_ref = times[reference][0]
    t_other = times[other][0]
    reached = t_other is not None
    return (t_other if reached else runs[other].wall_s) / t_ref, reached


def table(runs: dict, reference: str = "lm", rtol: float = 1e-3, error=None) -> str:
    """A text table of the runs: final loss, iterations, solver runs, wall and compile time, time and solver
    runs to the common target; ``error(z) -> str`` adds a parameter-error column."""
    target, times = time_to_target(runs, reference, rtol)
    head = (f"{'method':<13}{'final loss':>13}{'iters':>7}{'solver runs':>13}{'wall s':>9}{'compile s':>11}"
            f"{'s to target':>13}{'runs to target':>16}" + ("   parameter error" if error else ""))
    rows = [f"target loss = {target:.6g} ({reference} final × (1 + {rtol:g}))", head]
    for m, r in runs.items():
        t, n = times[m]
        ts = f"{t:.3f}" if t is not None else f"> {r.wall_s:.2f}"
        ns = f"{n}" if n is not None else f"> {r.evaluations}"
        rows.append(f"{m:<13}{r.loss:>13.6g}{r.iterations:>7}{r.evaluations:>13}{r.wall_s:>9.3f}"
                    f"{r.compile_s:>11.2f}{ts:>13}{ns:>16}" + (f"   {error(r.z)}" if error else ""))
    return "\n".join(rows)
