"""Windkessel calibration: the RCR outlets of a real 0D aorta model from inlet pressure and outlet mean flows.

The model is the VMR anatomy 0104_0001 as svZeroDSolver runs it (``../shared/data/hemo_reference/
svZeroDSolver/vmr/0104_0001_optimal_from_0d.json``: 18 vessels, 13 junctions, a prescribed inflow, 5 RCR
outlets; CGS converted to SI by `cardiojax.io.read_svzerod`), run pulsatile by `cardiojax.lumped.simulate`.
Truth: the file's 15 RCR values. Data: the inlet pressure at ``n_pressure`` times over the last cycle and the
mean flow of each outlet, 2 % Gaussian noise (`cardiojax.inverse.problems.windkessel_problem`). Free: Rp, C, Rd
of every outlet (log), with a weak log-normal prior (sd 1 in log) centred on the start.

Compared on the same loss from the same start (`cardiojax.inverse.compare`): cardiojax Levenberg–Marquardt
(Jacobian by `jax.jacfwd`) [and, with ``--lbfgs``, optax L-BFGS, gradient by reverse mode], scipy Nelder–Mead, scipy
least_squares with 2-point finite-difference Jacobians. Then the Laplace approximation at the LM optimum,
with and without the prior, and an LM fit without the prior. Writes ``windkessel.json``,
``windkessel_fit.png``, ``windkessel_posterior.png`` and ``windkessel_convergence.png`` to ``--output``.

    python experiments/inverse/windkessel.py            # default, ~2 min (~3 min when compiling first)
    python experiments/inverse/windkessel.py --quick    # coarse time grid, small budgets, ~1 min
    python experiments/inverse/windkessel.py --lbfgs    # also optax L-BFGS (reverse-mode gradients)
    python experiments/inverse/windkessel.py --zero-stenosis   # the same with the file's tiny S set to 0

The process pins itself to one CPU core unless ``--all-cores`` is given (README: XLA's CPU runtime stalls
for seconds when the other core is busy).
"""

from __future__ import annotations

import os
import sys

if "--all-cores" not in sys.argv:
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import DATA, ROOT, ellipse, run_rows, save_convergence, setup_jax, write_results  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cardiojax.inverse import describe_combination, fit, laplace  # noqa: E402
from cardiojax.inverse.compare import compare, speedup, table, time_to_target  # noqa: E402
from cardiojax.inverse.problems import total_resistance, windkessel_problem  # noqa: E402
from cardiojax.plot import save_figure  # noqa: E402
from cardiojax.units import MMHG  # noqa: E402

VMR = DATA / "hemo_reference" / "svZeroDSolver" / "vmr" / "0104_0001_optimal_from_0d.json"
DEFAULTS = dict(pts_per_cycle=100, cycles=6, n_pressure=40, nm_evals=8000, fd_evals=3000, lbfgs_iters=100)
QUICK = dict(pts_per_cycle=50, cycles=3, n_pressure=25, nm_evals=1500, fd_evals=600, lbfgs_iters=60)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", default=str(ROOT / "runs" / "inverse"), help="output folder")
    p.add_argument("--quick", action="store_true", help="coarse time grid and small budgets (~1 min)")
    p.add_argument("--zero-stenosis", action="store_true", help="set the file's stenosis coefficients to 0")
    p.add_argument("--lbfgs", action="store_true", help="add an optax L-BFGS row (reverse-mode gradients; +1–2 min)")
    p.add_argument("--seed", type=int, default=0, help="noise and start seed")
    p.add_argument("--all-cores", action="store_true", help="do not pin the process to one CPU core")
    return p.parse_args(argv)


def errors_of(pb):
    """Parameter errors against the truth: the total resistance per outlet, total compliance, each θ."""
    truth_r = total_resistance(pb.truth)
    c_true = sum(v for k, v in pb.truth.items() if k.endswith(".C"))

    def errors(z):
        th = {k: float(v) for k, v in pb.objective.space.to_physical(jnp.asarray(z)).items()}
        r = total_resistance(th)
        rel = np.array([th[k] / pb.truth[k] - 1.0 for k in pb.truth])
        return {"total_R_max_rel_err": max(abs(r[b] / truth_r[b] - 1.0) for b in r),
                "total_C_rel_err": sum(v for k, v in th.items() if k.endswith(".C")) / c_true - 1.0,
                "theta_median_rel_err": float(np.median(np.abs(rel))), "theta_max_rel_err": float(np.max(np.abs(rel)))}

    return errors


def error_text(errors):
    def text(z):
        e = errors(z)
        return (f"R_tot ≤ {e['total_R_max_rel_err']:.1%}, C_tot {e['total_C_rel_err']:+.1%}, "
                f"θ median {e['theta_median_rel_err']:.0%}")
    return text


def _scaled_eigs(jac):
    """Eigenvalues (ascending) of the correlation-scaled Gauss–Newton Hessian JᵀJ."""
    h = jac.T @ jac
    s = np.sqrt(np.maximum(np.diag(h), 1e-300))
    return np.linalg.eigvalsh(h / np.outer(s, s))


def identifiability(pb, z_fit):
    """Laplace with the prior; the data alone at the same point (its undetermined combinations are listed,
    collinearity index above 20); Hessian spectra; an LM fit without the prior."""
    post = laplace(pb.objective, z_fit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data_only = laplace(pb.likelihood, z_fit)
    jac = np.asarray(jax.jit(jax.jacfwd(pb.objective.residuals))(jnp.asarray(z_fit)))
    n_data = pb.objective.operator.data.size
    spectra = {"data alone": _scaled_eigs(jac[:n_data]), "with prior": _scaled_eigs(jac)}
    free = fit(pb.likelihood, pb.start)
    ratio = {k: float(free.theta[k]) / v for k, v in pb.truth.items()}
    runaway = {k: r for k, r in ratio.items() if not 0.1 <= r <= 10.0}
    return post, data_only, spectra, free, runaway, [str(w.message) for w in caught]


def total_r_interval(post, labels, level_k=1.96):
    """Delta-method 95 % intervals of Rp + Rd per outlet from the Laplace covariance in z (log values)."""
    out = {}
    for b in sorted({lab.rsplit(".", 1)[0] for lab in labels}):
        i, j = labels.index(f"{b}.Rp"), labels.index(f"{b}.Rd")
        g = np.zeros(len(labels))
        g[i], g[j] = post.theta[i], post.theta[j]
        r, sd = post.theta[i] + post.theta[j], float(np.sqrt(g @ post.cov_z @ g))
        out[b] = (r, r - level_k * sd, r + level_k * sd)
    return out


def save_fit_png(path, pb, z_fit):
    obj, spec = pb.objective, pb.model.spec
    outputs = jax.jit(obj.outputs)
    op = obj.operator
    inlet = op.observations[0]
    t = np.asarray(spec.times)
    loc = spec.locations.index(inlet.location)
    fig = Figure(figsize=(11, 4.2))
    (a1, a2) = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1.6, 1]))
    for z, label, style in ((pb.z_start(), "start", dict(color="0.6", ls=":")),
                            (pb.z_truth(), "truth", dict(color="k", lw=2.5, alpha=0.35)),
                            (z_fit, "fit (LM)", dict(color="C3"))):
        out = outputs(jnp.asarray(z))
        a1.plot(t, np.asarray(out["pressure"][:, loc]) / MMHG, label=label, **style)
    a1.errorbar(inlet.times, inlet.values / MMHG, inlet.sigma / MMHG, fmt="o", ms=3, color="C0", label="data (2 %)")
    a1.set(xlabel="time in the last cycle, s", ylabel="inlet pressure, mmHg", title="inlet pressure")
    a1.legend(fontsize=8)
    names = [o.location.split(":")[1] for o in op.observations[1:]]
    x = np.arange(len(names))
    pred = np.asarray(jax.jit(obj.predict)(jnp.asarray(z_fit)))[-len(names):]
    clean = np.asarray(jax.jit(obj.predict)(jnp.asarray(pb.z_truth())))[-len(names):]
    data = np.array([o.values[0] for o in op.observations[1:]])
    sig = np.array([o.sigma[0] for o in op.observations[1:]])
    a2.bar(x - 0.2, clean * 1e6, 0.4, color="0.8", label="truth")
    a2.errorbar(x - 0.2, data * 1e6, sig * 1e6, fmt="o", color="C0", ms=4, label="data (2 %)")
    a2.bar(x + 0.2, pred * 1e6, 0.4, color="C3", alpha=0.7, label="fit (LM)")
    a2.set_xticks(x, names)
    a2.set(ylabel="mean outlet flow, mL/s", title="outlet mean flows")
    a2.legend(fontsize=8)
    save_figure(fig, path, tight=True)


def save_posterior_png(path, pb, post, data_only, spectra):
    labels = list(post.labels)
    truth = np.array([pb.truth[k] for k in labels])
    start = np.array([pb.start[k] for k in labels])
    lo, hi = post.interval(0.95)
    fig = Figure(figsize=(15, 5))
    axes = fig.subplots(1, 3, gridspec_kw=dict(width_ratios=[1.3, 1, 1]))
    ax = axes[0]
    y = np.arange(len(labels))[::-1]
    ax.hlines(y, start * np.exp(-1.96) / truth, start * np.exp(1.96) / truth, color="0.85", lw=6, label="prior 95 %")
    ax.hlines(y, lo / truth, hi / truth, color="C3", lw=2, label="posterior 95 % (Laplace)")
    ax.plot(post.theta / truth, y, "o", color="C3", ms=4)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set(xscale="log", xlabel="value / truth", title="Laplace marginals (θ / truth)")
    ax.set_yticks(y, labels, fontsize=7)
    ax.legend(fontsize=7, loc="lower right")
    z_true = pb.z_truth()
    for ax, (a, b) in zip(axes[1:2], [("RCR_0.Rp", "RCR_0.Rd")]):
        i, j = labels.index(a), labels.index(b)
        sub = np.ix_([i, j], [i, j])
        ellipse(ax, post.z[[i, j]] - z_true[[i, j]], post.cov_z[sub], color="C3", label="posterior 95 %")
        ellipse(ax, post.z[[i, j]] - z_true[[i, j]], data_only.cov_z[sub], color="C0", ls="--",
                label="data alone 95 %")
        ax.plot(0, 0, "k*", ms=10, label="truth")
        ax.plot(*(np.log(start[[i, j]] / truth[[i, j]])), "s", color="0.5", label="start = prior mean")
        half = 3.0 * np.sqrt(np.diag(post.cov_z[sub]))  # frame the posterior; the data-alone ellipse is far larger
        centre = post.z[[i, j]] - z_true[[i, j]]
        extent = 2.0 * np.sqrt(np.diag(data_only.cov_z[sub]))
        ax.set(xlim=(centre[0] - half[0], centre[0] + half[0]), ylim=(centre[1] - half[1], centre[1] + half[1]),
               xlabel=f"log({a} / truth)", ylabel=f"log({b} / truth)",
               title=f"{a} vs {b} (data-alone sd ×{extent[0] / half[0] * 1.5:.0f} of posterior)")
        ax.legend(fontsize=7)
    ax = axes[2]
    for name, ev in spectra.items():
        ax.semilogy(np.arange(1, ev.size + 1), ev / ev.max(), "o-", ms=4, label=name)
    ax.set(xlabel="eigenvalue index", ylabel="eigenvalue / largest",
           title="correlation-scaled Gauss–Newton Hessian")
    ax.legend(fontsize=8)
    save_figure(fig, path, tight=True)


def main(argv=None):
    args = parse_args(argv)
    cfg = QUICK if args.quick else DEFAULTS
    setup_jax()
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pb = windkessel_problem(VMR, pts_per_cycle=cfg["pts_per_cycle"], cycles=cfg["cycles"],
                            n_pressure=cfg["n_pressure"], seed=args.seed, zero_stenosis=args.zero_stenosis)
    print(f"problem: {pb.notes} (built in {time.perf_counter() - t0:.1f} s)")
    methods = ("lm",) + (("lbfgs",) if args.lbfgs else ()) + ("nelder-mead", "fd-trf")
    options = {"nelder-mead": dict(max_evaluations=cfg["nm_evals"]), "fd-trf": dict(max_evaluations=cfg["fd_evals"]),
               "lbfgs": dict(max_iterations=cfg["lbfgs_iters"], repeats=1, max_trace=15)}
    runs = compare(pb.objective, pb.z_start(), methods, options)
    errors = errors_of(pb)
    target, _ = time_to_target(runs)
    print(table(runs, error=error_text(errors)))
    speed = {m: speedup(runs, m) for m in runs if m != "lm"}
    for m, (s, reached) in speed.items():
        print(f"LM speed-up to the target over {m}: {'' if reached else '>= '}{s:.1f}×")
    post, data_only, spectra, free, runaway, caught = identifiability(pb, runs["lm"].z)
    print("\nLaplace at the LM optimum (with the prior):")
    print(post.table())
    r_int = total_r_interval(post, list(post.labels))
    truth_r = total_resistance(pb.truth)
    for b, (r, a, c) in r_int.items():
        print(f"  {b} Rp+Rd = {r:.4g} Pa·s/m³, 95 % [{a:.4g}, {c:.4g}], truth {truth_r[b]:.4g}")
    lo, hi = post.interval(0.95)
    truth_vec = np.array([pb.truth[k] for k in post.labels])
    covered = int(np.sum((truth_vec >= lo) & (truth_vec <= hi)))
    r_covered = int(sum(a <= truth_r[b] <= c for b, (_, a, c) in r_int.items()))
    print(f"collinearity index (warning above 20): with prior {post.collinearity:.3g} (condition number "
          f"{post.condition:.3g}); data alone at the same point {data_only.collinearity:.3g} (condition "
          f"{data_only.condition:.3g}); truth inside the 95 % intervals: "
          f"{covered}/{len(lo)} parameters, {r_covered}/{len(r_int)} total resistances")
    for message in caught:
        print(f"IdentifiabilityWarning (data alone): {message}")
    print(f"LM without the prior: loss {float(free.result.cost):.4f} ({free.message}) against "
          f"{runs['lm'].loss:.4f} with it; ran away (> 10× off the truth): "
          + (", ".join(f"{k} ×{r:.3g}" for k, r in runaway.items()) or "none"))
    name = "windkessel" + ("_linear" if args.zero_stenosis else "")
    save_fit_png(out_dir / f"{name}_fit.png", pb, runs["lm"].z)
    save_posterior_png(out_dir / f"{name}_posterior.png", pb, post, data_only, spectra)
    save_convergence(out_dir / f"{name}_convergence.png", runs, target, "Windkessel (VMR 0104_0001), 15 parameters")
    results = {
        "problem": pb.notes, "quick": args.quick, "target_loss": target, "target_definition": "LM final loss × 1.001",
        "methods": run_rows(runs, target, errors),
        "speedup_vs_nelder_mead": speed["nelder-mead"][0], "nelder_mead_reached_target": speed["nelder-mead"][1],
        "speedup_vs_fd": speed["fd-trf"][0], "fd_reached_target": speed["fd-trf"][1],
        "laplace": {"condition_with_prior": post.condition, "condition_data_alone": data_only.condition,
                    "collinearity_with_prior": post.collinearity, "collinearity_data_alone": data_only.collinearity,
                    "truth_in_95_intervals": covered, "total_R_in_95_intervals": int(r_covered),
                    "weak_data_alone": [describe_combination(c) for c in data_only.weak],
                    "no_prior_fit_loss": float(free.result.cost), "no_prior_runaway": runaway},
        "pinned_one_core": not args.all_cores,
    }
    write_results(out_dir, name, results)


if __name__ == "__main__":
    main()
