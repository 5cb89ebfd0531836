"""Learning curve of the FFR surrogate with and without the physics-informed loss.

    python experiments/ffr_surrogate/learning_curve.py --quick    # 100, 300, 1,000 labels (a few minutes)
    python experiments/ffr_surrogate/learning_curve.py            # 100 … 3,000 labels (~15 min)
    python experiments/ffr_surrogate/learning_curve.py --full     # 100 … 13,000 labels (GPU)

For each number n of labelled trees the graph network is trained three
times with the same number of optimiser steps: (a) on the n labelled trees
alone, data loss only; (b) on a pool of which n trees are labelled, batches
half labelled and half unlabelled, data loss only (a control: half as many
labelled trees per batch); (c) as (b) plus the physics residual
(`physics_residual`: segment laws against mass conservation on the predicted
pressures) on all trees. All are evaluated on the same held-out test trees. Writes ``learning_curve.json``
and ``learning_curve.png``; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import TRAIN_PRIOR  # noqa: E402

from cardiojax.clinical import HyperemiaParams  # noqa: E402
from cardiojax.io.files import atomic_path  # noqa: E402
from cardiojax.surrogate.data import make_dataset  # noqa: E402
from cardiojax.surrogate.metrics import ffr_report  # noqa: E402
from cardiojax.surrogate.train import TrainConfig, predict_batch, train  # noqa: E402

MODES = {  # labelled sizes, pool size, test size, optimiser steps per run
    "quick": ([100, 300, 1000], 1000, 300, 300),
    "default": ([100, 300, 1000, 3000], 3000, 1000, 1000),
    "full": ([100, 300, 1000, 3000, 13000], 13000, 2000, 20000),
}


def _fit(data, labelled, config, steps, params):
    per_epoch = max(len(data) // config.batch_size, 1)
    config = dataclasses.replace(config, epochs=max(1, math.ceil(steps / per_epoch)))
    model, _ = train(data, None, config, params, labelled=labelled)
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    ap.add_argument("--physics-weight", type=float, default=10.0,
                    help="weight of the physics residual in the loss (default 10)")
    ap.add_argument("--output", help="output folder (default runs/ffr_surrogate/learning_curve_<mode>)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    name = "quick" if args.quick else "full" if args.full else "default"
    sizes, pool_n, test_n, steps = MODES[name]
    out = Path(args.output or ROOT / "runs" / "ffr_surrogate" / f"learning_curve_{name}")
    out.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_x64", True)
    params = HyperemiaParams()
    pool = make_dataset(args.seed, "train", pool_n, TRAIN_PRIOR, params, progress=True)
    test = make_dataset(args.seed, "test", test_n, TRAIN_PRIOR, params, progress=True)
    valid = np.asarray(test.trees.valid)
    base = TrainConfig(hidden=48, steps=4, batch_size=32, learning_rate=2e-3, seed=args.seed)

    rows = []
    variants = (("data", 0.0), ("pool_no_physics", 0.0), ("physics", args.physics_weight))
    for n in sizes:
        for variant, weight in variants:
            if variant != "data" and n >= pool_n:
                continue  # the pool has no unlabelled trees left: same as "data"
            t0 = time.perf_counter()
            if variant == "data":
                subset = pool.take(np.arange(n))
                model = _fit(subset, None, dataclasses.replace(base, batch_size=min(32, n)), steps, params)
            else:  # the same half-labelled batches, with or without the physics term
                labelled = np.arange(pool_n) < n
                model = _fit(pool, labelled, dataclasses.replace(base, physics_weight=weight), steps, params)
            pred = predict_batch(model, test.trees, params)
            m = ffr_report(pred[valid], test.labels["ffr_out"][valid])
            rows.append({"labelled": n, "variant": variant, "physics": weight > 0, "mae": m["mae"],
                         "acc_080": m["acc_080"], "auc_080": m["auc_080"],
                         "seconds": time.perf_counter() - t0})
            print(f"{n:6d} labelled  {variant:<16} MAE {m['mae']:.4f}  acc@0.80 {m['acc_080']:.4f}  "
                  f"AUC@0.80 {m['auc_080']:.4f}  ({rows[-1]['seconds']:.0f} s)", flush=True)

    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 3.8), layout="constrained")
    ax = fig.subplots()
    for variant, label in (("data", "labelled trees only"),
                           ("pool_no_physics", f"half-labelled batches (pool {pool_n}), no physics"),
                           ("physics", f"half-labelled batches + physics loss (w = {args.physics_weight:g})")):
        pts = [(r["labelled"], r["mae"]) for r in rows if r["variant"] == variant]
        if pts:
            ax.plot(*zip(*pts), "o-", label=label)
    ax.set(xscale="log", yscale="log", xlabel="labelled training trees", ylabel="test MAE (FFR)",
           title="FFR surrogate learning curve")
    ax.legend(fontsize=8)
    with atomic_path(out / "learning_curve.png") as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    with atomic_path(out / "learning_curve.json") as tmp, open(tmp, "w") as fh:
        json.dump({"mode": name, "steps": steps, "pool": pool_n, "rows": rows}, fh, indent=1)
    summary = {f"mae_{r['labelled']}_{r['variant']}": round(r["mae"], 5) for r in rows}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
