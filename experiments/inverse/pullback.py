"""Pressure pull-back: lesion severity and hyperemic microvascular resistance from a coronary pressure wire.

A synthetic left coronary tree (`cardiojax.synth.generate`, no random lesions) gets one lesion in the
mid-LAD. Hyperemic outlet resistances are ``ratio × R_rest`` with R_rest from the CT-FFR recipe at 93 mmHg
(`cardiojax.clinical.resting_outlet_resistance`); the steady tree is solved by `cardiojax.lumped.solve_steady`
(stenosis by the Young–Tsai law). A pull-back records the pressure every ``spacing`` along the main path, from
the ostium to the distal LAD outlet: inside a segment the pressure falls with the Poiseuille resistance of the
tapered tube up to that point and with the lesion's own loss spread over the lesion length (at the segment end
this is exactly the solver's pressure). The guiding catheter measures the aortic pressure. Noise 1 mmHg on
every reading.

Free (`cardiojax.inverse.ParamSpace`): lesion severity (sigmoid on (0, 0.95)), the hyperemic resistance ratio
(log; truth 0.24) and the aortic pressure (log; a nuisance parameter the catheter reading constrains).
Compared on the same loss from the same start (`cardiojax.inverse.compare`): cardiojax Levenberg–Marquardt
(`jax.jacfwd`), scipy Nelder–Mead, scipy least_squares with finite-difference Jacobians. Then the Laplace
posterior, the FFR it implies, and the coverage of its 95 % intervals over fresh noise draws. Writes
``pullback.json``, ``pullback_fit.png``, ``pullback_posterior.png`` and ``pullback_convergence.png`` to
``--output``.

    python experiments/inverse/pullback.py            # default, ~20 s (more on a first, compiling run)
    python experiments/inverse/pullback.py --quick    # 5 mm spacing, 20 noise draws, ~20 s
"""

from __future__ import annotations

import os
import sys

if "--all-cores" not in sys.argv:
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import ROOT, run_rows, save_convergence, setup_jax, write_results  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cardiojax.clinical import HyperemiaParams, resting_outlet_resistance  # noqa: E402
from cardiojax.inverse import (  # noqa: E402
    Model,
    Observation,
    OutputSpec,
    Param,
    ParamSpace,
    laplace,
    levenberg_marquardt,
    objective,
)
from cardiojax.inverse.compare import compare, speedup, table, time_to_target  # noqa: E402
from cardiojax.lumped import poiseuille_resistance, solve_steady, young_tsai  # noqa: E402
from cardiojax.plot import save_figure  # noqa: E402
from cardiojax.synth import CoronaryPrior, generate, min_capacity  # noqa: E402
from cardiojax.tree import reference_radius  # noqa: E402
from cardiojax.units import MMHG, Blood  # noqa: E402

TRUTH = {"severity": 0.50, "ratio": 0.24, "Pa": 93.0 * MMHG}
START = {"severity": 0.30, "ratio": 0.50, "Pa": 90.0 * MMHG}
LESION = dict(length=10e-3, position=0.5)  # m, fraction of the segment
DEFAULTS = dict(spacing=2.5e-3, nm_evals=4000, fd_evals=1000, tree_seed=3, coverage=200)
QUICK = dict(spacing=5e-3, nm_evals=600, fd_evals=200, tree_seed=3, coverage=20)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", default=str(ROOT / "runs" / "inverse"), help="output folder")
    p.add_argument("--quick", action="store_true", help="coarser pull-back, small budgets (~20 s)")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--all-cores", action="store_true", help="do not pin the process to one CPU core")
    return p.parse_args(argv)


def main_path(tree) -> np.ndarray:
    """Segments from the root to an outlet, always into the widest child (the LAD in a left tree)."""
    parent, r_in = np.asarray(tree.parent), np.asarray(tree.r_in)
    valid = np.asarray(tree.valid)
    path = [int(np.nonzero(valid & (parent < 0))[0][0])]
    while True:
        kids = np.nonzero(valid & (parent == path[-1]))[0]
        if kids.size == 0:
            return np.asarray(path)
        path.append(int(kids[np.argmax(r_in[kids])]))


def build_tree(seed: int):
    """The tree with its lesion in the middle segment of the main path, outlets at resting resistance."""
    prior = CoronaryPrior(side="left", stenoses_main=(0, 0), stenoses_side=(0, 0), side_branches=(3, 4),
                          second_generation=(0, 1))
    tree = generate(jax.random.PRNGKey(seed), prior, capacity=min_capacity(prior))
    path = main_path(tree)
    lesion = int(path[len(path) // 2])
    tree = tree.replace(stenosis_length=tree.stenosis_length.at[lesion].set(LESION["length"]),
                        stenosis_position=tree.stenosis_position.at[lesion].set(LESION["position"]),
                        stenosis_severity=tree.stenosis_severity.at[lesion].set(TRUTH["severity"]))
    return tree, path, lesion, resting_outlet_resistance(tree, HyperemiaParams())


def pullback_points(tree, path, spacing: float):
    """Sample positions along ``path`` (m from the ostium), the segment of each and its fraction u ∈ (0, 1]."""
    lengths = np.asarray(tree.length)[path]
    ends = np.concatenate([[0.0], np.cumsum(lengths)])
    s = np.arange(spacing, ends[-1] + 1e-9, spacing)
    k = np.clip(np.searchsorted(ends, s, side="left") - 1, 0, len(path) - 1)
    return s, path[k], (s - ends[k]) / lengths[k]


def make_run(tree, lesion, r_rest, seg, u, blood=Blood()):
    """Steady hyperemic solve + pull-back sampler: ``theta -> {"pressure": (1 + n_points,) Pa}``, the aortic
    pressure first, then the pull-back readings."""
    seg, u = jnp.asarray(seg), jnp.asarray(u)
    outlet = r_rest > 0

    def run(theta):
        t = tree.replace(stenosis_severity=tree.stenosis_severity.at[lesion].set(theta["severity"]),
                         outlet_resistance=jnp.where(outlet, theta["ratio"] * r_rest, tree.outlet_resistance))
        sol = solve_steady(t, theta["Pa"], blood=blood)
        q, p_in = sol.flow[seg], sol.p_in[seg]
        r_in, length = t.r_in[seg], t.length[seg]
        r_u = r_in + (t.r_out[seg] - r_in) * u  # reference radius at the reading
        r_pois = poiseuille_resistance(u * length, r_in, r_u, blood.viscosity)  # ostium side of the segment
        d0 = 2.0 * reference_radius(t, t.stenosis_position)[seg]
        sev = t.stenosis_severity[seg]
        lesion_here = sev > 0
        r_v, s_coef = young_tsai(d0, jnp.where(lesion_here, sev, 0.5), t.stenosis_length[seg], blood)
        start = t.stenosis_position[seg] * length - 0.5 * t.stenosis_length[seg]
        frac = jnp.where(lesion_here, jnp.clip((u * length - start) / t.stenosis_length[seg], 0.0, 1.0), 0.0)
        p = p_in - q * r_pois - frac * (r_v * q + s_coef * q * jnp.abs(q))
        return {"pressure": jnp.concatenate([theta["Pa"][None], p])}

    return run


def build(spacing: float, tree_seed: int, noise_seed: int):
    tree, path, lesion, r_rest = build_tree(tree_seed)
    s, seg, u = pullback_points(tree, path, spacing)
    locations = ("aorta",) + tuple(f"s={1e3 * x:.1f}mm" for x in s)
    model = Model(make_run(tree, lesion, r_rest, seg, u), OutputSpec(("pressure",), locations))
    space = ParamSpace((Param("severity", "sigmoid", 0.0, 0.95), Param("ratio", "log"), Param("Pa", "log")))
    obs = [Observation("pressure", loc, [TRUTH["Pa"]], 1.0 * MMHG) for loc in locations]
    obj = objective(model, space, obs).synthetic(TRUTH, jax.random.PRNGKey(noise_seed))
    return obj, dict(tree=tree, path=path, lesion=lesion, s=s, r_rest=r_rest)


def distal_ffr(obj):
    """FFR at the last pull-back point (distal LAD) as a function of z."""
    return lambda z: obj.predict(z)[-1] / obj.predict(z)[0]


def ffr_posterior(obj, post, n: int = 2000, seed: int = 1):
    """Distal FFR of ``n`` draws from the Laplace Gaussian (z space): mean, 2.5 and 97.5 percentiles."""
    draws = np.random.default_rng(seed).multivariate_normal(post.z, post.cov_z, n)
    f = jax.jit(jax.vmap(distal_ffr(obj)))(jnp.asarray(draws))
    return float(np.mean(f)), float(np.percentile(f, 2.5)), float(np.percentile(f, 97.5))


def coverage(obj, z_true, z0, n: int, seed: int = 10) -> dict:
    """Refit ``n`` fresh noise draws (one `vmap` of LM + Laplace) and count how often the 95 % Laplace
    intervals of each parameter and of the distal FFR (delta method) contain the truth."""
    op = obj.operator
    clean = obj.predict(z_true)
    datasets = clean + op.sigma * jax.random.normal(jax.random.PRNGKey(seed), (n, clean.size), clean.dtype)
    ffr_of = distal_ffr(obj)

    def one(data):
        def residuals(z):
            return (obj.predict(z) - data) / op.sigma

        r = levenberg_marquardt(residuals, z0, max_iterations=100)
        jac = jax.jacfwd(residuals)(r.z)
        cov = jnp.linalg.inv(jac.T @ jac)
        g = jax.grad(ffr_of)(r.z)
        return r.z, jnp.sqrt(jnp.diag(cov)), ffr_of(r.z), jnp.sqrt(g @ cov @ g), r.status

    z, sd, ffr, sd_ffr, status = jax.jit(jax.vmap(one))(datasets)
    inside = np.abs(np.asarray(z) - np.asarray(z_true)) <= 1.96 * np.asarray(sd)
    ffr_true = float(ffr_of(z_true))
    ffr_in = np.abs(np.asarray(ffr) - ffr_true) <= 1.96 * np.asarray(sd_ffr)
    ok = np.isin(np.asarray(status), (1, 2, 3))
    return {"draws": n, "converged": int(ok.sum()),
            **{f"{name}_covered": int(inside[ok, i].sum()) for i, name in enumerate(obj.space.names)},
            "ffr_covered": int(ffr_in[ok].sum()), "ffr_sd_mean": float(np.mean(np.asarray(sd_ffr)[ok])),
            "ffr_rmse": float(np.sqrt(np.mean((np.asarray(ffr)[ok] - ffr_true) ** 2)))}


def save_fit_png(path, obj, info, z_fit, spacing_fine=0.5e-3):
    tree, lesion = info["tree"], info["lesion"]
    s, seg, u = pullback_points(tree, info["path"], spacing_fine)
    run = jax.jit(make_run(tree, lesion, info["r_rest"], seg, u))
    space = obj.space
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    curves = ((START, "start", dict(color="0.6", ls=":")), (TRUTH, "truth", dict(color="k", lw=3, alpha=0.3)),
              ({k: float(v) for k, v in space.to_physical(jnp.asarray(z_fit)).items()}, "fit (LM)",
               dict(color="C3")))
    for theta, label, style in curves:
        p = np.asarray(run({k: jnp.asarray(v) for k, v in theta.items()})["pressure"])
        ffr = float(distal_ffr(obj)(jnp.asarray(space.to_unconstrained(theta))))
        ax.plot(np.concatenate([[0.0], s]) * 1e3, p / MMHG, label=f"{label}: FFR {ffr:.3f}", **style)
    data = obj.operator.data / MMHG
    ax.errorbar(info["s"] * 1e3, data[1:], 1.0, fmt="o", ms=3, color="C0", label="pull-back (σ 1 mmHg)")
    ax.errorbar([0.0], data[:1], 1.0, fmt="s", ms=5, color="C2", label="aortic (catheter)")
    ends = np.cumsum(np.asarray(tree.length)[info["path"]])
    k = int(np.nonzero(info["path"] == lesion)[0][0])
    centre = (ends[k] - float(tree.length[lesion]) * (1 - LESION["position"])) * 1e3
    ax.axvspan(centre - LESION["length"] * 5e2, centre + LESION["length"] * 5e2, color="C1", alpha=0.15,
               label="lesion")
    ax.set(xlabel="distance from the ostium along the LAD, mm", ylabel="pressure, mmHg",
           title="hyperemic pressure pull-back (FFR at the last reading)")
    ax.legend(fontsize=8)
    save_figure(fig, path, tight=True)


def save_posterior_png(path, obj, post, truth_ffr, n=2000):
    draws = np.random.default_rng(1).multivariate_normal(post.z, post.cov_z, n)
    theta = jax.vmap(obj.space.physical_vector)(jnp.asarray(draws))
    theta = np.asarray(theta)
    ffr = np.asarray(jax.jit(jax.vmap(distal_ffr(obj)))(jnp.asarray(draws)))
    fig = Figure(figsize=(14, 4.3))
    axes = fig.subplots(1, 3)
    for ax, (i, j, xl, yl, fx, fy) in zip(axes[:2], [(0, 1, "severity", "hyperemic resistance ratio", 1, 1),
                                                     (0, 2, "severity", "aortic pressure, mmHg", 1, 1 / MMHG)]):
        ax.plot(theta[:, i] * fx, theta[:, j] * fy, ".", ms=2, alpha=0.3, color="C3", label="Laplace draws")
        names = obj.space.names
        ax.plot(TRUTH[names[i]] * fx, TRUTH[names[j]] * fy, "k*", ms=12, label="truth")
        ax.plot(post.theta[i] * fx, post.theta[j] * fy, "o", color="C3", mec="k", label="fit")
        ax.set(xlabel=xl, ylabel=yl, title=f"Laplace posterior (corr {post.corr[i, j]:+.3f})")
        ax.legend(fontsize=8)
    ax = axes[2]
    ax.hist(ffr, 40, color="C3", alpha=0.6, density=True, label="Laplace draws")
    ax.axvline(truth_ffr, color="k", lw=2, label=f"truth {truth_ffr:.3f}")
    ax.axvline(0.80, color="0.5", ls="--", label="0.80 cut-off")
    ax.set(xlabel="distal FFR", ylabel="density", title="FFR implied by the posterior")
    ax.legend(fontsize=8)
    save_figure(fig, path, tight=True)


def main(argv=None):
    args = parse_args(argv)
    cfg = QUICK if args.quick else DEFAULTS
    setup_jax()
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    obj, info = build(cfg["spacing"], cfg["tree_seed"], args.seed)
    z_true = jnp.asarray(obj.space.to_unconstrained(TRUTH))
    truth_ffr = float(distal_ffr(obj)(z_true))
    print(f"tree: {int(info['tree'].num_segments)} segments, path {info['path'].tolist()} "
          f"({1e3 * float(np.sum(np.asarray(info['tree'].length)[info['path']])):.0f} mm), lesion in segment "
          f"{info['lesion']}; {len(info['s'])} pull-back readings every {1e3 * cfg['spacing']:.1f} mm + aortic; "
          f"true distal FFR {truth_ffr:.3f} (built in {time.perf_counter() - t0:.1f} s)")
    z0 = obj.space.to_unconstrained(START)
    budgets = {"nelder-mead": dict(max_evaluations=cfg["nm_evals"]), "fd-trf": dict(max_evaluations=cfg["fd_evals"])}
    runs = compare(obj, z0, ("lm", "nelder-mead", "fd-trf"), budgets)
    target, _ = time_to_target(runs)

    def errors(z):
        th = {k: float(v) for k, v in obj.space.to_physical(jnp.asarray(z)).items()}
        return {"severity_abs_err": th["severity"] - TRUTH["severity"],
                "ratio_rel_err": th["ratio"] / TRUTH["ratio"] - 1.0,
                "ffr_abs_err": float(distal_ffr(obj)(jnp.asarray(z))) - truth_ffr}

    def error_text(z):
        e = errors(z)
        return (f"severity {e['severity_abs_err']:+.4f}, ratio {e['ratio_rel_err']:+.1%}, "
                f"FFR {e['ffr_abs_err']:+.4f}")

    print(table(runs, error=error_text))
    speed = {m: speedup(runs, m) for m in runs if m != "lm"}
    for m, (s, reached) in speed.items():
        print(f"LM speed-up to the target over {m}: {'' if reached else '>= '}{s:.1f}×")
    post = laplace(obj, runs["lm"].z)
    print("\nLaplace at the LM optimum:")
    print(post.table())
    print(f"correlation severity–ratio {post.corr[0, 1]:+.3f}, severity–Pa {post.corr[0, 2]:+.3f}, "
          f"ratio–Pa {post.corr[1, 2]:+.3f}; condition number {post.condition:.3g}")
    f_mean, f_lo, f_hi = ffr_posterior(obj, post)
    print(f"distal FFR: {f_mean:.3f}, 95 % [{f_lo:.3f}, {f_hi:.3f}] (Laplace draws); truth {truth_ffr:.3f}")
    cov = coverage(obj, z_true, jnp.asarray(z0), cfg["coverage"])
    print(f"coverage over {cov['draws']} noise draws ({cov['converged']} converged): truth inside the 95 % "
          f"Laplace interval for severity {cov['severity_covered']}, ratio {cov['ratio_covered']}, "
          f"Pa {cov['Pa_covered']}, distal FFR {cov['ffr_covered']}; FFR sd (Laplace, mean) "
          f"{cov['ffr_sd_mean']:.4f}, FFR RMSE over draws {cov['ffr_rmse']:.4f}")
    save_fit_png(out_dir / "pullback_fit.png", obj, info, runs["lm"].z)
    save_posterior_png(out_dir / "pullback_posterior.png", obj, post, truth_ffr)
    save_convergence(out_dir / "pullback_convergence.png", runs, target, "pull-back, 3 parameters")
    lo, hi = post.interval(0.95)
    results = {
        "problem": f"{len(info['s'])} pull-back readings + aortic, σ 1 mmHg; free severity, ratio, Pa",
        "quick": args.quick, "target_loss": target, "target_definition": "LM final loss × 1.001",
        "methods": run_rows(runs, target, errors),
        "speedup_vs_nelder_mead": speed["nelder-mead"][0], "nelder_mead_reached_target": speed["nelder-mead"][1],
        "speedup_vs_fd": speed["fd-trf"][0], "fd_reached_target": speed["fd-trf"][1],
        "laplace": {"labels": list(post.labels), "theta": post.theta.tolist(), "sd": post.sd_theta.tolist(),
                    "lo95": lo.tolist(), "hi95": hi.tolist(), "corr_severity_ratio": float(post.corr[0, 1]),
                    "condition": post.condition},
        "ffr": {"truth": truth_ffr, "mean": f_mean, "lo95": f_lo, "hi95": f_hi}, "coverage": cov,
        "pinned_one_core": not args.all_cores,
    }
    write_results(out_dir, "pullback", results)


if __name__ == "__main__":
    main()
