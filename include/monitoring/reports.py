"""The Evidently 0.7 reports of a monitoring run, and the numbers read back from them.

Every comparison is an Evidently ``Report`` run on ``Dataset``s with an explicit
``DataDefinition``; the verdict numbers are read from the snapshot (``snapshot.dict()``),
not recomputed here:

* :func:`data_drift`: ``ValueDrift`` of each judged model feature (warm-up per feature:
  ``include.monitoring.warmup``), one method and threshold from the spec for every column
  (Evidently would otherwise switch tests with the sample size); the drifted share of the
  judged features against the spec's ``drift_share``;
* :func:`prediction_drift`: ``ValueDrift`` of the score against the champion's holdout scores;
* :func:`skew`: ``ValueDrift`` of each online feature against the offline features of the
  same transactions, at the spec's (tighter) skew threshold;
* :func:`quality`: ``RocAuc`` and, at the version's decision threshold, ``Recall``,
  ``Precision`` and ``FPR`` (current matured window vs the holdout), beside PR-AUC and recall
  at the spec's FPR from :func:`include.modeling.metrics.classification_metrics`, the gate's
  own definitions, so the figures compare with the holdout figures on the version (Evidently
  0.7 has no PR-AUC metric).

Each side is sampled (seeded) down to ``monitoring.max_rows``; the result says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from include.spec import P_VALUE_DRIFT_METHODS, MonitoringSpec

log = logging.getLogger(__name__)

# Methods whose value is a p-value (drift when below the threshold); the others are
# distances (drift when at or above it).
P_VALUE_METHODS = frozenset(
    {*P_VALUE_DRIFT_METHODS, "chisquare", "z", "t_test", "mannw", "cramer_von_mises"}
)
SEED = 20_260_101


@dataclass
class Measured:
    """One comparison: its summary numbers and the Evidently snapshot (for HTML/workspace)."""

    name: str
    summary: dict[str, Any]
    snapshot: Any = field(repr=False, default=None)


def sample(frame: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, int | None]:
    """At most ``max_rows`` rows (seeded); the original size when it sampled, else None."""
    if len(frame) <= max_rows:
        return frame, None
    return frame.sample(n=max_rows, random_state=SEED), len(frame)


def drifted(method: str, score: float, threshold: float) -> bool:
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return False
    return score < threshold if method in P_VALUE_METHODS else score >= threshold


def _dataset(frame: pd.DataFrame, columns: list[str]) -> Any:
    from evidently import DataDefinition, Dataset

    return Dataset.from_pandas(
        frame[columns].astype("float64").reset_index(drop=True),
        data_definition=DataDefinition(numerical_columns=list(columns)),
    )


def _metrics(snapshot: Any) -> list[tuple[str, dict, Any]]:
    out = []
    for m in snapshot.dict()["metrics"]:
        cfg = m["config"]
        out.append((cfg["type"].rsplit(":", 1)[-1], cfg, m["value"]))
    return out


def _columns_drift(snapshot: Any) -> dict[str, dict]:
    """Each ``ValueDrift`` of ``snapshot``: column -> method, score, threshold, drifted."""
    columns: dict[str, dict] = {}
    if snapshot is None:
        return columns
    for kind, cfg, value in _metrics(snapshot):
        if kind == "ValueDrift":
            score = float(value) if value is not None else float("nan")
            columns[cfg["column"]] = {
                "method": cfg["method"],
                "score": None if math.isnan(score) else round(score, 6),
                "threshold": cfg["threshold"],
                "drifted": drifted(cfg["method"], score, cfg["threshold"]),
            }
    return columns


def comparable(a: pd.DataFrame, b: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[str]]:
    """(columns with values on both sides, columns empty on either side): Evidently refuses
    an all-null column (e.g. a 1-day std over a handful of rows); it is reported, not compared."""
    empty = [c for c in columns if a[c].notna().sum() == 0 or b[c].notna().sum() == 0]
    return [c for c in columns if c not in empty], empty


def _drift_report(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    columns: list[str],
    threshold: float,
    mon: MonitoringSpec,
    name: str,
) -> Any:
    """One ``ValueDrift`` per column, the spec's method and ``threshold`` (None when there is
    no column to compare). Not ``DataDriftPreset``: it computes each column's distance three
    times (its dataset count and table besides the per-column metrics), 2x the CPU for the
    same numbers (bench/drift.py); the drifted share is counted from the columns."""
    from evidently import Report
    from evidently.metrics import ValueDrift

    if not columns:
        return None
    metrics = [ValueDrift(column=c, method=mon.drift_method, threshold=threshold) for c in columns]
    return Report(metrics).run(_dataset(current, columns), _dataset(reference, columns), name=name)


def data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    mon: MonitoringSpec,
    *,
    warming_up: dict[str, dict[str, Any]] | None = None,
) -> Measured:
    """Per-feature drift of ``current`` against ``reference`` over ``columns``: the judged
    features (``include.monitoring.warmup``); ``warming_up`` (feature -> its warm-up) is
    kept in the summary: not compared, not part of the share."""
    ref, ref_from = sample(reference, mon.max_rows)
    cur, cur_from = sample(current, mon.max_rows)
    all_columns = list(columns)
    columns, empty = comparable(ref, cur, all_columns)
    snapshot = _drift_report(cur, ref, columns, mon.drift_threshold, mon, "data drift")
    per_column = _columns_drift(snapshot)
    drifted_columns = sorted(c for c, v in per_column.items() if v["drifted"])
    # The share is over every judged feature: an empty column counts as not drifted.
    share = len(drifted_columns) / len(all_columns) if all_columns else 0.0
    return Measured(
        "data_drift",
        {
            "empty_columns": empty,
            "method": mon.drift_method,
            "threshold": mon.drift_threshold,
            "drift_share_limit": mon.drift_share,
            "reference_rows": len(reference),
            "current_rows": len(current),
            "sampled_from": {"reference": ref_from, "current": cur_from},
            "drifted_columns": drifted_columns,
            "share": round(share, 6),
            "columns": per_column,
            "warming_up": dict(warming_up or {}),
        },
        snapshot,
    )


def prediction_drift(
    reference_scores: pd.Series, current_scores: pd.Series, mon: MonitoringSpec
) -> Measured:
    """The score distribution against the champion's holdout scores."""
    from evidently import Report
    from evidently.metrics import ValueDrift

    ref, ref_from = sample(reference_scores.to_frame("score"), mon.max_rows)
    cur, cur_from = sample(current_scores.to_frame("score"), mon.max_rows)
    snapshot = Report(
        [
            ValueDrift(
                column="score", method=mon.drift_method, threshold=mon.prediction_drift_threshold
            )
        ]
    ).run(_dataset(cur, ["score"]), _dataset(ref, ["score"]), name="prediction drift")
    per_column = _columns_drift(snapshot)
    score = per_column.get("score", {})
    return Measured(
        "prediction_drift",
        {
            "method": mon.drift_method,
            "threshold": mon.prediction_drift_threshold,
            "reference_rows": len(reference_scores),
            "current_rows": len(current_scores),
            "sampled_from": {"reference": ref_from, "current": cur_from},
            "score": score.get("score"),
            "drifted": bool(score.get("drifted")),
            "reference_mean": _mean(reference_scores),
            "current_mean": _mean(current_scores),
        },
        snapshot,
    )


def _mean(values: pd.Series) -> float | None:
    return None if values.empty else round(float(values.mean()), 6)


def skew(
    offline: pd.DataFrame, online: pd.DataFrame, columns: list[str], mon: MonitoringSpec
) -> Measured:
    """Online features as served against the offline features of the same transactions."""

    off, off_from = sample(offline, mon.max_rows)
    on = online.loc[off.index] if off_from else online  # keep the pairs aligned
    columns, empty = comparable(off, on, list(columns))
    snapshot = _drift_report(on, off, columns, mon.skew_threshold, mon, "training/serving skew")
    per_column = _columns_drift(snapshot)
    return Measured(
        "skew",
        {
            "empty_columns": empty,
            "method": mon.drift_method,
            "threshold": mon.skew_threshold,
            "rows": len(offline),
            "sampled_from": off_from,
            "skewed_columns": sorted(c for c, v in per_column.items() if v["drifted"]),
            "columns": per_column,
        },
        snapshot,
    )


def quality(
    current: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    target: str,
    threshold: float,
    fpr_target: float,
    holdout_figures: dict[str, float],
) -> Measured:
    """Quality on the window's matured labels against the champion's holdout."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.metrics import FPR, Precision, Recall, RocAuc

    from include.modeling.metrics import classification_metrics

    def dataset(frame: pd.DataFrame) -> Any:
        data = pd.DataFrame(
            {"target": frame[target].astype("int64"), "score": frame["score"].astype("float64")}
        )
        definition = DataDefinition(
            classification=[BinaryClassification(target="target", prediction_probas="score")],
            numerical_columns=[],
        )
        return Dataset.from_pandas(data.reset_index(drop=True), data_definition=definition)

    rows, positives = len(current), int(current[target].sum()) if len(current) else 0
    summary: dict[str, Any] = {
        "rows": rows,
        "positives": positives,
        "threshold": threshold,
        "fpr_target": fpr_target,
        "holdout": {
            k: holdout_figures.get(k) for k in ("pr_auc", "recall_at_fpr", "rows", "positives")
        },
    }
    if rows == 0 or positives == 0 or positives == rows:
        summary.update(pr_auc=None, recall_at_fpr=None)
        return Measured("quality", summary, None)
    both = 0 < int(holdout[target].sum()) < len(holdout)
    snapshot = Report(
        [
            RocAuc(),
            Recall(probas_threshold=threshold),
            Precision(probas_threshold=threshold),
            FPR(probas_threshold=threshold),
        ]
    ).run(dataset(current), dataset(holdout) if both else None, name="quality")
    evidently_values = {}
    for kind, _cfg, value in _metrics(snapshot):
        if kind in ("RocAuc", "Recall", "Precision", "FPR"):
            evidently_values[kind.lower()] = None if value is None else round(float(value), 6)
    gate = classification_metrics(current[target], current["score"], fpr_target=fpr_target)
    summary.update(
        pr_auc=gate["pr_auc"],
        recall_at_fpr=gate["recall_at_fpr"],
        at_threshold=evidently_values,
    )
    return Measured("quality", summary, snapshot)
