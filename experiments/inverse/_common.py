"""Shared set-up and plotting of the inverse-problem studies (windkessel.py, pullback.py)."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
from matplotlib.figure import Figure

from cardiojax.io.files import atomic_path
from cardiojax.plot import save_figure

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def setup_jax(cache: bool = True) -> None:
    """float64, and JAX's persistent compilation cache in ``.jax_cache/`` (reruns skip most compiling)."""
    jax.config.update("jax_enable_x64", True)
    if cache:
        jax.config.update("jax_compilation_cache_dir", str(ROOT / ".jax_cache"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def run_rows(runs: dict, target: float, errors=None) -> dict:
    """JSON-ready figures of each `cardiojax.inverse.compare.Run`."""
    out = {}
    for m, r in runs.items():
        t, n = r.time_to(target), r.evaluations_to(target)
        row = {"final_loss": r.loss, "iterations": r.iterations, "solver_runs": r.evaluations,
               "wall_s": round(r.wall_s, 4), "compile_s": round(r.compile_s, 2),
               "s_to_target": None if t is None else round(t, 4), "runs_to_target": n, "message": r.message}
        if errors is not None:
            row.update(errors(r.z))
        out[m] = row
    return out


def save_convergence(path: Path, runs: dict, target: float, title: str) -> None:
    """Best loss so far against wall time (log–log), one line per method, and the common target."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    floor = min(float(np.min(r.trace_loss)) for r in runs.values())
    for m, r in runs.items():
        ax.step(np.maximum(r.trace_s, 1e-4), r.trace_loss - 0.999 * floor, where="post", label=m)
    ax.axhline(target - 0.999 * floor, color="k", lw=0.8, ls="--", label="target")
    ax.set(xscale="log", yscale="log", xlabel="wall time, s (compilation excluded)",
           ylabel="loss − 0.999 × best loss", title=title)
    ax.legend()
    save_figure(fig, path, tight=True)


def ellipse(ax, mean, cov, level: float = 0.95, **kw) -> None:
    """Draw the ``level`` ellipse of a 2-D Gaussian."""
    from scipy.stats import chi2

    vals, vecs = np.linalg.eigh(np.asarray(cov, np.float64))
    k = np.sqrt(chi2.ppf(level, 2))
    a = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(a), np.sin(a)])
    pts = vecs @ (k * np.sqrt(np.maximum(vals, 0))[:, None] * circle) + np.asarray(mean)[:, None]
    ax.plot(pts[0], pts[1], **kw)


def write_results(out_dir: Path, name: str, results: dict) -> None:
    """``<name>.json`` in ``out_dir`` and the same as one JSON line on stdout (last line)."""
    with atomic_path(out_dir / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1, default=float))
    print(json.dumps(results, default=float))
