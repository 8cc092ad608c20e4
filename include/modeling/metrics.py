"""Metrics of a fraud-probability model: ranking, recall at a fixed FPR, calibration, slices.

* ``pr_auc``: average precision (the step-wise area under the precision-recall curve, as
  scikit-learn computes it; no optimistic trapezoid interpolation). Random scores give the
  fraud rate.
* ``roc_auc``; ``recall_at_fpr``: the best recall whose false-positive rate is at most the
  spec's ``recall_at_fpr`` (the alert budget of an investigations team).
* ``brier``; ``ece``: expected calibration error over equal-mass bins. With ~1.5 % fraud,
  equal-width bins put almost every prediction in the first bin and hide miscalibration of
  the high scores that trigger alerts.
* :func:`threshold_at_fpr`: the decision threshold serving flags at (``score >= t``), fixed
  on the holdout at a target false-positive rate, with its holdout FPR and recall.

A metric that is undefined on the data (one class only) is ``None``, never NaN, so results
stay JSON-able.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

METRICS = ("pr_auc", "roc_auc", "recall_at_fpr", "brier", "ece")
# Larger is better for every metric except these (the gate and selection need to know).
LOWER_IS_BETTER = frozenset({"brier", "ece"})
UNKNOWN_SLICE = "(missing)"


@dataclass(frozen=True)
class OperatingPoint:
    """A decision threshold and what it does on the data it was fixed on."""

    threshold: float  # flag a transaction when its score >= threshold
    target_fpr: float
    fpr: float  # false-positive rate of ``score >= threshold``, never above ``target_fpr``
    recall: float | None  # recall of ``score >= threshold``; None without positives
    negatives: int
    positives: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def threshold_at_fpr(
    y_true: Sequence[int] | np.ndarray, proba: Sequence[float] | np.ndarray, target_fpr: float
) -> OperatingPoint:
    """The lowest threshold ``t`` whose rule ``score >= t`` has a false-positive rate on the
    negatives of at most ``target_fpr``: the most recall the alert budget allows.

    Rule, in full:

    * ``t`` is one of the observed scores (the ROC point with the most recall within the
      budget), so the holdout FPR and recall are exactly what ``score >= t`` gives on
      these rows, and the model's float64 scores compare against it exactly;
    * ties are never split: every row with the same score gets the same decision, so when
      tied negatives straddle the budget ``t`` goes above the tie and the FPR lands below
      the target (the closest to it that a rule can reach without exceeding it);
    * among thresholds with the same FPR the lowest is taken (it flags the most positives);
    * when even the highest score would exceed the budget (too few negatives for the
      target, or negatives tied at the top), ``t`` lies just above the highest score:
      nothing is flagged, FPR and recall are 0;
    * without positives ``recall`` is None; without negatives there is no FPR to fix a
      threshold on, and neither with NaN scores nor a target outside [0, 1]: ValueError.

    Raising ``target_fpr`` never raises ``t`` (and never lowers recall).
    """
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(proba, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and scores {p.shape} differ in shape")
    if not 0.0 <= target_fpr <= 1.0:
        raise ValueError(f"target false-positive rate {target_fpr!r} is not in [0, 1]")
    if not np.isfinite(p).all():
        raise ValueError("scores must be finite to fix a decision threshold on them")
    negatives = np.sort(p[y == 0])
    positives = np.sort(p[y == 1])
    if not len(negatives):
        raise ValueError(
            f"no negative among {len(y)} rows: a false-positive rate, and so a decision "
            "threshold, needs negative events"
        )
    candidates = np.unique(p)  # ascending; a flagged-set boundary only ever sits on a score
    # Rows flagged by `score >= c` for each candidate c (non-increasing in c).
    false_pos = len(negatives) - np.searchsorted(negatives, candidates, side="left")
    allowed = false_pos / len(negatives) <= target_fpr  # a suffix of the candidates
    if allowed.any():
        threshold = float(candidates[np.argmax(allowed)])
    else:
        threshold = float(np.nextafter(candidates[-1], np.inf))
    fp = len(negatives) - int(np.searchsorted(negatives, threshold, side="left"))
    tp = len(positives) - int(np.searchsorted(positives, threshold, side="left"))
    return OperatingPoint(
        threshold=threshold,
        target_fpr=float(target_fpr),
        fpr=fp / len(negatives),
        recall=tp / len(positives) if len(positives) else None,
        negatives=len(negatives),
        positives=len(positives),
    )


def recall_at_fpr(y: np.ndarray, p: np.ndarray, fpr_target: float) -> float:
    """Recall at the decision threshold :func:`threshold_at_fpr` fixes (so the gate's metric
    and serving's threshold agree). Not read off ``sklearn.metrics.roc_curve``: by default
    it drops collinear ROC points, which can hide the best point within the budget."""
    recall = threshold_at_fpr(y, p, fpr_target).recall
    if recall is None:
        raise ValueError("recall needs at least one positive")
    return recall


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, np.ndarray]:
    """Equal-mass bins of the predictions: mean prediction, fraud rate and size per bin.

    Bin edges are quantiles of ``p``; equal predictions always share a bin (a constant
    model has one bin), so ties never fake a calibration error.
    """
    edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    which = np.searchsorted(edges, p, side="left")
    count = np.bincount(which, minlength=len(edges) + 1)
    sum_p = np.bincount(which, weights=p, minlength=len(count))
    sum_y = np.bincount(which, weights=y, minlength=len(count))
    used = count > 0
    return {
        "mean_predicted": sum_p[used] / count[used],
        "fraction_positive": sum_y[used] / count[used],
        "count": count[used],
    }


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    cal = calibration_bins(y, p, bins)
    gaps = np.abs(cal["mean_predicted"] - cal["fraction_positive"])
    return float(np.sum(gaps * cal["count"]) / cal["count"].sum())


def classification_metrics(
    y_true: Sequence[int] | np.ndarray, proba: Sequence[float] | np.ndarray, *, fpr_target: float
) -> dict[str, Any]:
    """Every metric of :data:`METRICS` plus ``rows`` and ``positives``."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(proba, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and predictions {p.shape} differ in shape")
    if len(p) and not (np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0):
        raise ValueError("predictions must be finite probabilities in [0, 1]")
    out: dict[str, Any] = {"rows": int(len(y)), "positives": int(y.sum())}
    both_classes = 0 < out["positives"] < len(y)
    out["pr_auc"] = float(average_precision_score(y, p)) if both_classes else None
    out["roc_auc"] = float(roc_auc_score(y, p)) if both_classes else None
    out["recall_at_fpr"] = recall_at_fpr(y, p, fpr_target) if both_classes else None
    out["brier"] = float(brier_score_loss(y, p)) if len(y) else None
    out["ece"] = expected_calibration_error(y, p) if len(y) else None
    return out


def slice_metrics(
    y_true: np.ndarray,
    proba: np.ndarray,
    groups: pd.Series,
    *,
    metric: str,
    fpr_target: float,
    min_rows: int,
    overall: float | None,
    max_gap: float,
) -> list[dict[str, Any]]:
    """One row per value of a sensitive attribute: its metric, gap to overall and verdict.

    A slice is judged only with at least ``min_rows`` rows and both classes present;
    otherwise ``judged`` is False and ``passed`` None (too little evidence either way).
    """
    y = np.asarray(y_true)
    p = np.asarray(proba)
    labels = groups.astype("object").where(groups.notna(), UNKNOWN_SLICE).astype(str).to_numpy()
    rows = []
    for value in sorted(set(labels)):
        mask = labels == value
        m = classification_metrics(y[mask], p[mask], fpr_target=fpr_target)
        score = m.get(metric)
        judged = bool(m["rows"] >= min_rows and score is not None and overall is not None)
        gap = None
        if score is not None and overall is not None:
            gap = (score - overall) if metric in LOWER_IS_BETTER else (overall - score)
        rows.append(
            {
                "slice": value,
                "rows": m["rows"],
                "positives": m["positives"],
                metric: score,
                "gap": gap,
                "judged": judged,
                "passed": (gap <= max_gap) if judged and gap is not None else None,
            }
        )
    return rows


def better(metric: str, a: float, b: float) -> bool:
    """True when value ``a`` is strictly better than ``b`` for ``metric``."""
    return a < b if metric in LOWER_IS_BETTER else a > b


def prefixed(metrics: Mapping[str, Any], prefix: str) -> dict[str, float]:
    """``{prefix/name: value}`` for the defined numeric metrics (what MLflow logs)."""
    return {
        f"{prefix}/{k}": float(v)
        for k, v in metrics.items()
        if v is not None and k in (*METRICS, "rows", "positives")
    }
