"""svZeroDSolver's calibration: fit vessel and junction parameters of a 0D model to a complete simulated state.

svZeroDSolver's calibrator (``svzerodcalibrator``; Pfaller et al.) reads a model file with extra fields

* ``y``, ``dy``: every pressure and flow of the network (``"flow:<up>:<down>"``, ``"pressure:<up>:<down>"``)
  and its time derivative at N time points (CGS: dyn/cm², mL/s);
* ``calibration_parameters``: ``tolerance_gradient``, ``tolerance_increment``, ``maximum_iterations``,
  ``calibrate_stenosis_coefficient`` (default true), ``set_capacitance_to_zero`` (default false),
  ``initial_damping_factor``;

and finds the parameters α of every ``BloodVessel`` (R, C, L and, optionally, the stenosis coefficient S) and
of every junction with two or more outlets (turned into a ``BloodVesselJunction``: R, L, S per outlet) that
minimise the sum over time points of the squared block residuals

    r_t(α) = F(y_t, ẏ_t; α)      (the 0D block equations, `cardiojax.lumped.blocks`),

in the file's units (CGS), so the least-squares weighting is svZeroDSolver's. The equations are bilinear in α
(C·R and C·S products), so Levenberg–Marquardt converges in a few iterations. Here the residuals are the
cardiojax block equations evaluated with `jax.vmap` over time points, and the Jacobian comes from
`jax.jacfwd` — nothing is differentiated by hand. The result is written back in svZeroDSolver's output
layout: its inputs minus ``y``, ``dy`` and ``calibration_parameters``, the fitted values in
``zero_d_element_values`` / ``junction_values``, C and L clipped at 0 (C = 0 with
``set_capacitance_to_zero``), as svZeroDSolver does; values within round-off of zero (`ROUND_OFF`) are
written as 0. A newer svZeroDSolver option is honoured too: a vessel's
``"calibrate": [names]`` list fixes every parameter not in it at its file value.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cardiojax.inverse.optimize import STATUS, FitResult, levenberg_marquardt
from cardiojax.io.svzerod import read_svzerod
from cardiojax.lumped.network import residual

#: Vessel parameters in the calibration vector, with their svZeroDSolver names.
VESSEL_KEYS = (("R", "R_poiseuille"), ("C", "C"), ("L", "L"), ("S", "stenosis_coefficient"))
#: Fitted values below this times the largest |value| of their kind are round-off of a zero optimum (e.g.
#: junctions whose pressures agree exactly) and are written as 0.
ROUND_OFF = 1e-12
#: Junction parameters (one per outlet).
JUNCTION_KEYS = (("R", "R_poiseuille"), ("L", "L"), ("S", "stenosis_coefficient"))


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Outcome of `calibrate`.

    Attributes:
      config: the calibrated model in svZeroDSolver's layout (CGS), ready for ``cardiojax 0d``.
      result: the optimiser's `FitResult` (z is the free part of α, CGS).
      labels: ``"<block>.<param>"`` (``[i]`` per junction outlet) of each free parameter.
      values: the fitted free parameters (CGS), unclipped.
      seconds: wall time of the fit (compile included); compile_seconds: of which compiling.
      observations: time points used.
    """

    config: dict
    result: FitResult
    labels: tuple[str, ...]
    values: np.ndarray
    seconds: float
    compile_seconds: float
    observations: int

    @property
    def message(self) -> str:
        return STATUS[int(self.result.status)]


def _load(source) -> dict:
    if isinstance(source, dict):
        return copy.deepcopy(source)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"calibration input {str(path)!r} does not exist; expected a svZeroDSolver JSON file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"calibration input {str(path)!r} is not valid JSON: {err}") from None


def _settings(cfg: dict) -> dict:
    raw = cfg.get("calibration_parameters", {}) or {}
    defaults = {"tolerance_gradient": 1e-5, "tolerance_increment": 1e-10, "maximum_iterations": 100,
                "calibrate_stenosis_coefficient": True, "set_capacitance_to_zero": False,
                "initial_damping_factor": 1.0}
    unknown = sorted(set(raw) - set(defaults))
    if unknown:
        raise ValueError(f"calibration_parameters: unknown field(s) {unknown}; expected {sorted(defaults)}")
    out = {**defaults, **raw}
    if int(out["maximum_iterations"]) != out["maximum_iterations"] or out["maximum_iterations"] < 1:
        raise ValueError(f"calibration_parameters: maximum_iterations = {out['maximum_iterations']!r}; "
                         "expected an integer >= 1")
    return out


def _model_config(cfg: dict) -> dict:
    """The model part of the input with multi-outlet junctions as BloodVesselJunctions and zeroed values
    (the reader only supplies the network structure here)."""
    model = {k: copy.deepcopy(v) for k, v in cfg.items() if k not in ("y", "dy", "calibration_parameters")}
    for v in model.get("vessels", []):
        v.pop("calibrate", None)
        v["zero_d_element_values"] = {"R_poiseuille": 0.0, "C": 0.0, "L": 0.0, "stenosis_coefficient": 0.0}
    for j in model.get("junctions", []):
        j.pop("calibrate", None)
        n = len(j.get("outlet_vessels", []))
        if n > 1:
            j["junction_type"] = "BloodVesselJunction"
            j["junction_values"] = {"R_poiseuille": [0.0] * n, "L": [0.0] * n, "stenosis_coefficient": [0.0] * n}
    return model


def _observations(cfg: dict, var_names) -> tuple[np.ndarray, np.ndarray]:
    """``y`` and ``dy`` as ``(n_times, n_vars)`` in the network's variable order (CGS). Internal variables of
    boundary conditions (not calibrated, not in the file) are zero."""
    for key in ("y", "dy"):
        if not isinstance(cfg.get(key), dict) or not cfg[key]:
            raise ValueError(f"calibration input: '{key}' is missing or empty; expected a dict of "
                             "'flow:<up>:<down>' / 'pressure:<up>:<down>' series")
    n = None
    y = {}
    for key in ("y", "dy"):
        for name, series in cfg[key].items():
            arr = np.asarray(series, np.float64)
            if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
                raise ValueError(f"calibration input: {key}['{name}'] is not a non-empty list of finite numbers")
            if n is None:
                n = arr.size
            if arr.size != n:
                raise ValueError(f"calibration input: {key}['{name}'] has {arr.size} time points; expected {n} "
                                 "(the same for every series)")
            y[key, name] = arr
    ys, dys = np.zeros((n, len(var_names))), np.zeros((n, len(var_names)))
    for i, name in enumerate(var_names):
        if name.count(":") != 2:
            continue
        for key, out in (("y", ys), ("dy", dys)):
            if (key, name) not in y:
                raise ValueError(f"calibration input: no {key} series for '{name}'; expected every node's "
                                 "flow and pressure")
            out[:, i] = y[key, name]
    return ys, dys


def _layout(net, cfg: dict, settings: dict):
    """Free parameters: (group, block, key, outlet or None, label, start value) per entry of α."""
    vessels = {v["vessel_name"]: v for v in cfg["vessels"]}
    junctions = {j["junction_name"]: j for j in cfg.get("junctions", [])}
    keys = {"vessel": VESSEL_KEYS, "vessel_junction": JUNCTION_KEYS}
    entries, fixed = [], []
    for g, group in enumerate(net.groups):
        if group.kind not in keys:
            continue
        for b, name in enumerate(group.names):
            src = vessels.get(name) if group.kind == "vessel" else junctions.get(name)
            given = src.get("zero_d_element_values" if group.kind == "vessel" else "junction_values") or {}
            chosen = src.get("calibrate")
            for key, file_key in keys[group.kind]:
                start = given.get(file_key, 0.0)
                if group.kind == "vessel_junction" and src.get("junction_type") != "BloodVesselJunction":
                    start = 0.0
                if key == "S" and not settings["calibrate_stenosis_coefficient"]:
                    start = 0.0  # as svZeroDSolver: no stenosis term in the fit (and 0 in the output)
                free = (key != "S" or settings["calibrate_stenosis_coefficient"]) and (
                    chosen is None or file_key in chosen)
                outs = [None] if group.kind == "vessel" else list(range(group.n_out))
                for o in outs:
                    value = float(start if o is None else (start[o] if isinstance(start, list) else start))
                    label = f"{name}.{key}" + ("" if o is None else f"[{o}]")
                    (entries if free else fixed).append((g, b, key, o, label, value))
    return entries, fixed


def _params_builder(net, entries, fixed):
    """α (free entries) → the parameter pytree of the calibrated groups (CGS), as one scatter per key."""
    groups = sorted({e[0] for e in entries + fixed})
    shapes = {}
    for g in groups:
        grp = net.groups[g]
        n_b = len(grp.names)
        keys = ("R", "C", "L", "S") if grp.kind == "vessel" else ("R", "L", "S")
        for k in keys:
            shapes[g, k] = (n_b,) if grp.kind == "vessel" else (n_b, grp.n_out)
    base = {gk: np.zeros(s) for gk, s in shapes.items()}
    for g, b, k, o, _, v in fixed:
        base[g, k][(b,) if o is None else (b, o)] = v
    scatter = {}
    for i, (g, b, k, o, _, _) in enumerate(entries):
        scatter.setdefault((g, k), []).append((i, (b,) if o is None else (b, o)))
    index = {gk: (np.array([i for i, _ in lst]), tuple(np.array(x) for x in zip(*[pos for _, pos in lst])))
             for gk, lst in scatter.items()}

    def build(alpha):
        out = []
        for g in groups:
            grp = net.groups[g]
            d = {}
            for (gg, k), arr in base.items():
                if gg != g:
                    continue
                val = jnp.asarray(arr)
                if (g, k) in index:
                    src, pos = index[g, k]
                    val = val.at[pos].set(alpha[src])
                d[k] = val
            if grp.kind == "vessel_junction":
                d.setdefault("C", jnp.zeros(len(grp.names)))
            out.append(d)
        return tuple(out)

    return groups, build


def calibration_residual(source):
    """The calibration problem of a svZeroDSolver calibration input (path or dict).

    Returns ``(residual_fn, alpha0, labels, settings, layout)``: ``residual_fn(alpha) -> (n_times·n_eq,)``
    the stacked vessel and junction equations at every time point (CGS), ``alpha0`` the start values from
    the file, ``labels`` the parameter names, ``settings`` the calibration parameters with defaults, and
    ``layout`` = (config, network, free entries, fixed entries) for writing the result.
    """
    cfg = _load(source)
    settings = _settings(cfg)
    model = read_svzerod(_model_config(cfg))
    net = model.network
    ys, dys = _observations(cfg, net.var_names)
    entries, fixed = _layout(net, cfg, settings)
    if not entries:
        raise ValueError("calibration input: no parameter is free (check 'calibrate' lists and "
                         "calibrate_stenosis_coefficient); expected at least one")
    groups, build = _params_builder(net, entries, fixed)
    sub = dataclasses.replace(net, groups=tuple(net.groups[g] for g in groups))
    y_t, dy_t = jnp.asarray(ys), jnp.asarray(dys)

    def residual_fn(alpha):
        params = build(alpha)
        return jax.vmap(lambda y, dy: residual(sub, params, y, dy))(y_t, dy_t).reshape(-1)

    alpha0 = np.array([e[5] for e in entries])
    return residual_fn, alpha0, tuple(e[4] for e in entries), settings, (cfg, net, entries, fixed)


def _output_config(cfg: dict, net, entries, fixed, alpha: np.ndarray, settings: dict) -> dict:
    """svZeroDSolver's output layout with the fitted values (module docstring)."""
    values = {(e[0], e[1], e[2], e[3]): e[5] for e in fixed}
    values.update({(e[0], e[1], e[2], e[3]): float(a) for e, a in zip(entries, alpha)})
    scale = {}
    for (_, _, k, _), x in values.items():
        scale[k] = max(scale.get(k, 0.0), abs(x))
    values = {key: 0.0 if abs(x) <= ROUND_OFF * scale[key[2]] else x for key, x in values.items()}
    out = {k: copy.deepcopy(v) for k, v in cfg.items() if k not in ("y", "dy", "calibration_parameters")}
    by_name = {name: (g, b) for g, grp in enumerate(net.groups) for b, name in enumerate(grp.names)}
    for v in out["vessels"]:
        g, b = by_name[v["vessel_name"]]
        c = 0.0 if settings["set_capacitance_to_zero"] else max(values[g, b, "C", None], 0.0)
        s = values[g, b, "S", None] if settings["calibrate_stenosis_coefficient"] else 0.0
        v["zero_d_element_values"] = {"R_poiseuille": values[g, b, "R", None], "C": c,
                                      "L": max(values[g, b, "L", None], 0.0), "stenosis_coefficient": s}
    for j in out.get("junctions", []):
        n = len(j["outlet_vessels"])
        if n < 2:
            continue
        g, b = by_name[j["junction_name"]]
        j["junction_type"] = "BloodVesselJunction"
        j["junction_values"] = {
            "R_poiseuille": [values[g, b, "R", o] for o in range(n)],
            "L": [max(values[g, b, "L", o], 0.0) for o in range(n)],
            "stenosis_coefficient": [values[g, b, "S", o] if settings["calibrate_stenosis_coefficient"] else 0.0
                                     for o in range(n)]}
    return out


def calibrate(source, *, max_iterations: int | None = None, xtol: float = 1e-12) -> Calibration:
    """Calibrate a svZeroDSolver calibration input (path or dict); see the module docstring.

    Runs `levenberg_marquardt` (Jacobian by `jax.jacfwd`; initial damping λ₀ = the file's
    ``initial_damping_factor``, which multiplies diag(JᵀJ) in both codes) until the parameter step falls
    below ``xtol`` relative to ‖α‖, or ``max_iterations`` (default: the file's ``maximum_iterations``, at
    least 50) pass.
    (A step that does not lower the cost at all also stops it: "cost tolerance".) This is stricter than
    svZeroDSolver's rule (gradient below ``tolerance_gradient`` and step below
    ``tolerance_increment``, both absolute in CGS), whose gradient tolerance would stop VMR 0104_0001 with
    stenosis coefficients still 1e-7 away from the optimum.
    """
    t0 = time.perf_counter()
    residual_fn, alpha0, labels, settings, (cfg, net, entries, fixed) = calibration_residual(source)
    iters = max_iterations or max(int(settings["maximum_iterations"]), 50)

    def run(a0):
        return levenberg_marquardt(residual_fn, a0, max_iterations=iters, gtol=0.0, xtol=xtol, ftol=0.0,
                                   initial_damping=float(settings["initial_damping_factor"]))

    compiled = jax.jit(run).lower(jnp.asarray(alpha0)).compile()
    t1 = time.perf_counter()
    result = jax.block_until_ready(compiled(jnp.asarray(alpha0)))
    alpha = np.asarray(result.z)
    out = _output_config(cfg, net, entries, fixed, alpha, settings)
    seconds = time.perf_counter() - t0
    n_times = len(next(iter(cfg["y"].values())))
    return Calibration(out, result, labels, alpha, seconds, t1 - t0, n_times)


def parameter_errors(calibrated: dict, reference: dict) -> dict:
    """Compare the vessel and junction values of two svZeroDSolver configs (CGS).

    Returns ``max_rel`` (largest |x − ref|/|ref| over non-zero reference values), ``max_abs_zero`` (largest
    |x| where the reference is 0, relative to the largest |ref| of that parameter kind) and ``worst`` (the
    label of the largest relative error).
    """
    def flat(cfg):
        out = {}
        for v in cfg["vessels"]:
            for k, x in v["zero_d_element_values"].items():
                out[f"{v['vessel_name']}.{k}"] = float(x)
        for j in cfg.get("junctions", []):
            for k, xs in (j.get("junction_values") or {}).items():
                for i, x in enumerate(xs):
                    out[f"{j['junction_name']}.{k}[{i}]"] = float(x)
        return out

    a, r = flat(calibrated), flat(reference)
    missing = sorted(set(r) - set(a))
    if missing:
        raise ValueError(f"calibrated model lacks parameters {missing[:5]} of the reference")
    scale = {}
    for name, x in r.items():
        kind = name.split(".", 1)[1].split("[")[0]
        scale[kind] = max(scale.get(kind, 0.0), abs(x))
    rel = {n: abs(a[n] - x) / abs(x) for n, x in r.items() if x != 0.0}
    zero = {n: abs(a[n]) / max(scale[n.split(".", 1)[1].split("[")[0]], 1e-300) for n, x in r.items() if x == 0.0}
    worst = max(rel, key=rel.get) if rel else None
    return {"max_rel": max(rel.values(), default=0.0), "max_abs_zero": max(zero.values(), default=0.0),
            "worst": worst, "compared": len(r)}


def calibrate_file(path, output=None) -> Calibration:
    """`calibrate` a file and, if ``output`` is given, write the calibrated model there (JSON, atomically)."""
    from cardiojax.io.files import atomic_path

    cal = calibrate(path)
    if output is not None:
        with atomic_path(Path(output)) as tmp:
            tmp.write_text(json.dumps(cal.config, indent=4))
    return cal
