"""Agreement and diagnostic-performance metrics of predicted against reference FFR (host side, NumPy).

Regression: MAE, RMSE, Pearson r, Bland–Altman bias ± SD (limits of
agreement bias ± 1.96 SD). Classification at a cut-off c: a lesion is
*positive* (haemodynamically significant) when FFR < c; accuracy,
sensitivity, specificity of ``predicted < c`` against ``reference < c``, and
the ROC AUC of the score ``−predicted`` (Mann–Whitney statistic, ties count
one half), as scikit-learn's ``roc_auc_score`` computes it.
"""

from __future__ import annotations

import numpy as np

from cardiojax.clinical.ffr import FFR_CUTOFFS


def regression_metrics(pred, ref) -> dict[str, float]:
    """MAE, RMSE, Pearson r, Bland–Altman bias and SD of ``pred − ref``."""
    pred, ref = np.asarray(pred, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    if pred.shape != ref.shape or pred.size < 2:
        raise ValueError(f"regression_metrics: got {pred.size} predictions and {ref.size} references; "
                         "expected equal numbers, at least 2")
    diff = pred - ref
    r = np.corrcoef(pred, ref)[0, 1] if np.std(pred) > 0 and np.std(ref) > 0 else float("nan")
    return {"mae": float(np.mean(np.abs(diff))), "rmse": float(np.sqrt(np.mean(diff**2))),
            "pearson_r": float(r), "bias": float(np.mean(diff)), "sd": float(np.std(diff, ddof=1))}


def roc_auc(positive, score) -> float:
    """Area under the ROC curve of ``score`` for boolean labels ``positive``.

    NaN if one class is empty or a score is not finite.
    """
    positive = np.asarray(positive, bool).ravel()
    score = np.asarray(score, np.float64).ravel()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0 or not np.all(np.isfinite(score)):
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(score.size)
    sorted_scores = score[order]
    # average ranks over ties (1-based)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_metrics(pred, ref, cutoff: float) -> dict[str, float]:
    """Accuracy, sensitivity, specificity and AUC at ``cutoff`` (positive: FFR < cutoff)."""
    pred, ref = np.asarray(pred, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    truth, called = ref < cutoff, pred < cutoff
    tp, tn = np.sum(truth & called), np.sum(~truth & ~called)
    return {
        "accuracy": float((tp + tn) / truth.size),
        "sensitivity": float(tp / truth.sum()) if truth.any() else float("nan"),
        "specificity": float(tn / (~truth).sum()) if (~truth).any() else float("nan"),
        "auc": roc_auc(truth, -pred),
        "prevalence": float(truth.mean()),
    }


def ffr_report(pred, ref, cutoffs=FFR_CUTOFFS) -> dict[str, float]:
    """All metrics in one flat dict: regression plus ``acc_080``, ``auc_080``, ... per cut-off."""
    out = regression_metrics(pred, ref)
    for c in cutoffs:
        tag = f"{round(c * 100):03d}"
        for k, v in classification_metrics(pred, ref, c).items():
            out[f"{'acc' if k == 'accuracy' else k}_{tag}"] = v
    return out
