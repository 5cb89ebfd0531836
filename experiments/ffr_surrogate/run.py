"""FFR surrogate study: generate and label synthetic trees, train the graph network, evaluate.

    python experiments/ffr_surrogate/run.py --quick       # a few minutes
    python experiments/ffr_surrogate/run.py               # default, ~15 min on a 2-core CPU
    python experiments/ffr_surrogate/run.py --full        # 13,000 training trees (for a GPU)

Writes to ``--output`` (default ``runs/ffr_surrogate/<mode>``): ``results.json``,
``history.json``, ``model.ckpt`` and PNGs (ROC, scatter, Bland–Altman,
training curve, trees coloured by solver and predicted FFR). The last line
printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cardiojax.clinical import HyperemiaParams, hyperemic_ffr_batch  # noqa: E402
from cardiojax.io import svzerod_to_tree  # noqa: E402
from cardiojax.io.files import atomic_path  # noqa: E402
from cardiojax.surrogate.data import label_trees, make_dataset  # noqa: E402
from cardiojax.surrogate.metrics import ffr_report  # noqa: E402
from cardiojax.surrogate.train import MODELS, TrainConfig, predict_batch, save_checkpoint, train  # noqa: E402
from cardiojax.synth import CoronaryPrior  # noqa: E402

#: Training prior: the published ranges, branches ending below 0.5 mm radius (≈ CT resolution) not drawn.
TRAIN_PRIOR = CoronaryPrior(min_radius=0.5e-3)
#: Distribution-shift sets, never trained on.
SHIFTS = {
    "murray_3.0": dataclasses.replace(TRAIN_PRIOR, murray_exponent=(3.0, 3.0)),
    "more_longer_stenoses": dataclasses.replace(TRAIN_PRIOR, stenoses_main=(2, 3), stenoses_side=(1, 2),
                                                lesion_length=(15e-3, 30e-3)),
    "largest_trees": dataclasses.replace(TRAIN_PRIOR, side_branches=(5, 5), second_generation=(2, 2),
                                         min_radius=0.0),  # every slot of the template, all small branches
    "right_coronary": dataclasses.replace(TRAIN_PRIOR, side="right"),
}  # plus the VMR anatomy 0104_0001 read from its svZeroDSolver file (`_file_trees`)
MODES = {  # n_train, n_val, n_test, n_shift, config
    "quick": (1000, 200, 500, 200, TrainConfig(hidden=48, steps=4, batch_size=32, epochs=6,
                                               learning_rate=2e-3)),
    "default": (6000, 500, 2000, 500, TrainConfig(hidden=64, steps=4, batch_size=32, epochs=24,
                                                  learning_rate=2e-3)),
    "full": (13000, 1000, 2000, 1000, TrainConfig(hidden=128, steps=6, batch_size=64, epochs=100,
                                                  learning_rate=1e-3)),
}


def _file_trees(params):
    """Trees read from outside files through cardiojax.io: the VMR anatomy of the svZeroDSolver data."""
    path = ROOT.parent / "shared" / "data" / "hemo_reference" / "svZeroDSolver" / "vmr"
    path = path / "0104_0001_optimal_from_0d.json"
    if not path.is_file():
        print(f"note: {path} not found; the outside-file shift set is skipped", file=sys.stderr)
        return None
    tree = svzerod_to_tree(path, capacity=64)
    return label_trees(jax.tree_util.tree_map(lambda a: a[None], tree), params)


def _valid(data, values):
    return np.asarray(values)[np.asarray(data.trees.valid)]


def _speed(model, data, params, repeats=3):
    """Per-tree times (s) of the surrogate and of the steady solver on the same batch, after compiling."""
    trees = data.trees
    predict_batch(model, trees, params, batch_size=len(data))  # compile
    t0 = time.perf_counter()
    for _ in range(repeats):
        predict_batch(model, trees, params, batch_size=len(data))
    surrogate = (time.perf_counter() - t0) / repeats / len(data)
    jax.block_until_ready(hyperemic_ffr_batch(trees, params, apply_recipe=False))  # compile
    t0 = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(hyperemic_ffr_batch(trees, params, apply_recipe=False))
    solver = (time.perf_counter() - t0) / repeats / len(data)
    return surrogate, solver


def _plots(out, test, pred, history, shift_results):
    from matplotlib.figure import Figure

    from cardiojax.plot import save_tree_figure
    from cardiojax.surrogate.metrics import roc_auc

    ref, p = _valid(test, test.labels["ffr_out"]), _valid(test, pred)
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    ax_roc, ax_sc, ax_ba, ax_lc = fig.subplots(1, 4)
    for c in (0.80, 0.75):
        truth = ref < c
        thresholds = np.unique(np.concatenate([[-np.inf, np.inf], p]))
        tpr = [np.mean(p[truth] < t) for t in thresholds]
        fpr = [np.mean(p[~truth] < t) for t in thresholds]
        ax_roc.plot(fpr, tpr, label=f"cut-off {c:.2f}: AUC {roc_auc(truth, -p):.3f}")
    ax_roc.set(xlabel="1 − specificity", ylabel="sensitivity", title="ROC (test set)")
    ax_roc.legend(fontsize=7)
    ax_sc.scatter(ref, p, s=1, alpha=0.3)
    ax_sc.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax_sc.set(xlabel="solver FFR", ylabel="surrogate FFR", title="segment ends")
    mean, diff = (ref + p) / 2, p - ref
    ax_ba.scatter(mean, diff, s=1, alpha=0.3)
    sd = diff.std(ddof=1)
    for v, ls in ((diff.mean(), "-"), (diff.mean() + 1.96 * sd, "--"), (diff.mean() - 1.96 * sd, "--")):
        ax_ba.axhline(v, color="k", ls=ls, lw=0.8)
    ax_ba.set(xlabel="mean of the two", ylabel="surrogate − solver", title="Bland–Altman")
    ax_lc.plot([h["epoch"] for h in history], [h["data"] for h in history], label="train loss")
    ax_lc.plot([h["epoch"] for h in history], [h["val_mae"] for h in history], label="val MAE")
    ax_lc.set(yscale="log", xlabel="epoch", title="training")
    ax_lc.legend(fontsize=7)
    with atomic_path(out / "evaluation.png") as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    tree = jax.tree_util.tree_map(lambda a: a[0], test.trees)
    save_tree_figure(out / "tree_pred_vs_solver.png",
                     [(tree, test.labels["ffr_out"][0], test.labels["ffr_out"][0], "solver FFR"),
                      (tree, pred[0], pred[0], "surrogate FFR")])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small run, a few minutes")
    mode.add_argument("--full", action="store_true", help="13,000 training trees (GPU)")
    ap.add_argument("--output", help="output folder (default runs/ffr_surrogate/<mode>)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", choices=MODELS, default="gnn", help="graph network or tree-LSTM (default gnn)")
    args = ap.parse_args()
    name = "quick" if args.quick else "full" if args.full else "default"
    n_train, n_val, n_test, n_shift, config = MODES[name]
    config = dataclasses.replace(config, seed=args.seed, model=args.model)
    tag = name if args.model == "gnn" else f"{name}_{args.model}"
    out = Path(args.output or ROOT / "runs" / "ffr_surrogate" / tag)
    out.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_x64", True)  # labels from the float64 solver; the network runs float32
    params = HyperemiaParams()

    t0 = time.perf_counter()
    sets = {split: make_dataset(args.seed, split, n, TRAIN_PRIOR, params, progress=True)
            for split, n in (("train", n_train), ("val", n_val), ("test", n_test))}
    shifts = {k: make_dataset(args.seed, "shift", n_shift, prior, params, progress=True, stream=i)
              for i, (k, prior) in enumerate(SHIFTS.items())}  # an independent stream per shift set
    file_trees = _file_trees(params)
    if file_trees is not None:
        shifts["vmr_0104_0001_file"] = file_trees
    data_s = time.perf_counter() - t0

    def report(row):
        print(f"epoch {row['epoch']:3d}  loss {row['loss']:.2e}  val MAE {row['val_mae']:.4f}  "
              f"({row['seconds']:.1f} s)", flush=True)

    t0 = time.perf_counter()
    model, history = train(sets["train"], sets["val"], config, params, progress=report)
    train_s = time.perf_counter() - t0
    save_checkpoint(out / "model.ckpt", model, config, {"mode": name, "prior": dataclasses.asdict(TRAIN_PRIOR)})

    test = sets["test"]
    pred = predict_batch(model, test.trees, params)
    results = {"test": ffr_report(_valid(test, pred), _valid(test, test.labels["ffr_out"]))}
    shift_pred, shift_ref = [], []
    for k, data in shifts.items():
        p = predict_batch(model, data.trees, params)
        results[k] = ffr_report(_valid(data, p), _valid(data, data.labels["ffr_out"]))
        shift_pred.append(_valid(data, p))
        shift_ref.append(_valid(data, data.labels["ffr_out"]))
    results["shift_all"] = ffr_report(np.concatenate(shift_pred), np.concatenate(shift_ref))
    surrogate_s, solver_s = _speed(model, test, params)
    _plots(out, test, pred, history, results)

    print(f"\n{'set':<22} {'MAE':>7} {'RMSE':>7} {'r':>7} {'acc 0.80':>9} {'AUC 0.80':>9} {'AUC 0.75':>9}")
    for k, m in results.items():
        print(f"{k:<22} {m['mae']:7.4f} {m['rmse']:7.4f} {m['pearson_r']:7.4f} {m['acc_080']:9.4f} "
              f"{m['auc_080']:9.4f} {m['auc_075']:9.4f}")
    print(f"data {data_s:.0f} s, training {train_s:.0f} s; surrogate {surrogate_s * 1e6:.1f} µs/tree, "
          f"solver {solver_s * 1e6:.1f} µs/tree (both batched, after compilation)")
    figures = {
        "mae": round(results["test"]["mae"], 5), "acc_080": round(results["test"]["acc_080"], 4),
        "auc_080": round(results["test"]["auc_080"], 4), "auc_075": round(results["test"]["auc_075"], 4),
        "shift_auc_080": round(results["shift_all"]["auc_080"], 4),
        "shift_mae": round(results["shift_all"]["mae"], 5),
        "speedup_vs_solver": round(solver_s / surrogate_s, 3),
        "trees_per_s": round(1.0 / surrogate_s, 1),
        "mode": name, "n_train": n_train, "train_s": round(train_s, 1),
    }
    with atomic_path(out / "results.json") as tmp, open(tmp, "w") as fh:
        json.dump({"figures": figures, "metrics": results, "history": history}, fh, indent=1)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
