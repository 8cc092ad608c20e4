"""Batch scoring (``include.scoring.batch.score_partition``) against what it is built on.

Set-up in a scratch data root, not timed: eight simulated days (1,500 transactions each,
their labels) written straight into the validated zone (the bench measures scoring, not
ingest), a ninth day of N transactions (100k; ``quick``: 20k; ``smoke``: 2k) to score, the
feature tables of all nine days, ``feast apply``, and a champion trained and promoted by the
training steps (XGBoost, budget 1: the gate stores its threshold). Then, in this process,
after one untimed warm-up call (Feast, MLflow and model code load once per task process):

* **project**: ``score_partition(day, model, pyfunc=loaded)`` — read the partition, feature
  coverage, point-in-time features, predict, decide, write the partition (a re-run each rep);
* **floor**: the same day's ``historical_features`` plus ``pyfunc.predict`` on them, timed
  apart: the work scoring cannot avoid.

Printed: rows/s of each, the model load (in this already warm process; a task's cold load
imports Feast through ``models:/``, ~8 s), and project / floor. No target in
docs/performance-anchors.md yet: the figures are reported. The scored day is ~13x busier
than the history (same customers), so its decisions say nothing about the model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import Figure, Size, fmt, median, size_from_argv

FIRST = date(2026, 10, 20)  # eight days whose labels split with fraud in every part
HISTORY_DAYS = 8
HISTORY_ROWS = 1_500
_ENV = ("MLOPS_DATA_ROOT", "MLOPS_USECASE_SPEC", "MLFLOW_TRACKING_URI")
# size -> (rows of the scored day, reps); the history the champion learns from is fixed.
SIZES: dict[Size, tuple[int, int]] = {
    "smoke": (2_000, 1),
    "quick": (20_000, 3),
    "default": (100_000, 3),
}


def _spec(path: Path) -> Path:
    """The bundled spec with training minimums a 12k-row history can meet."""
    from devtools.trained_platform import small_spec

    # The gate's latency budget is judged on a busy bench machine: not what is measured here.
    return small_spec(path, serving={"model_p99_ms": 1_000})


def _publish(frame: Any, feed: str, day: date) -> None:
    from include import layout, storage
    from include.config import get_settings
    from include.data import lake

    uri = layout.partition_uri(get_settings().lake_uri, feed, day)
    storage.write_bytes(uri, lake.to_parquet_bytes(frame))


def _platform(score_day: date, rows: int) -> dict[str, Any]:
    """Lake, feature tables, registry and champion in the current data root (not timed)."""
    from devtools.simulator import simulate_labels, simulate_transactions
    from include.spec import load_spec
    from include.steps import materialize_features, train_model

    spec = load_spec()
    events, labels_feed = spec.names.events_feed, spec.names.labels_feed
    days = [FIRST + timedelta(days=i) for i in range(HISTORY_DAYS)]
    start = time.perf_counter()
    for day in days:
        _publish(simulate_transactions(spec, day, rows=HISTORY_ROWS), events, day)
        labels = simulate_labels(spec, day, rows=HISTORY_ROWS, since=FIRST)
        if len(labels):
            _publish(labels, labels_feed, day)
    _publish(simulate_transactions(spec, score_day, rows=rows), events, score_day)
    materialize_features.compute_tables([d.isoformat() for d in [*days, score_day]])
    materialize_features.apply_definitions()
    lake_s = time.perf_counter() - start
    start = time.perf_counter()
    training_set = train_model.build_training_set(30, "bench__scoring")
    trained = train_model.train(training_set, families=["xgboost"], tuning_budget=1)
    result = train_model.gate(trained)
    if not result.get("promoted"):
        raise RuntimeError(f"the bench's model was not promoted: {result.get('reason')}")
    return {"lake_and_features_s": lake_s, "training_s": time.perf_counter() - start}


def _measure(score_day: date, reps: int) -> dict[str, Any]:
    from include.config import get_settings
    from include.data import lake
    from include.features import schema
    from include.features.training_set import entity_columns, historical_features
    from include.scoring import batch
    from include.scoring.model import load_model, model_inputs, predict, scoring_model
    from include.spec import load_spec

    settings = get_settings()
    fspec = schema.feature_spec(load_spec())
    model = scoring_model()
    start = time.perf_counter()
    pyfunc = load_model(model)
    load_s = time.perf_counter() - start
    summary = batch.score_partition(score_day, model, pyfunc=pyfunc)  # untimed warm-up
    inputs = model_inputs(pyfunc, fspec)
    project, pit, scores = [], [], []
    for _ in range(reps):  # interleaved: machine noise hits both sides alike
        start = time.perf_counter()
        batch.score_partition(score_day, model, pyfunc=pyfunc)
        project.append(time.perf_counter() - start)
        rows = lake.read_partition(
            settings.lake_uri, fspec.events_feed, score_day, [*entity_columns(fspec)]
        )
        start = time.perf_counter()
        features = historical_features(rows)
        pit.append(time.perf_counter() - start)
        start = time.perf_counter()
        predict(pyfunc, features, inputs)
        scores.append(time.perf_counter() - start)
    return {
        "model_load_s": load_s,
        "project_s": project,
        "historical_features_s": pit,
        "predict_s": scores,
        "summary": dict(summary),
    }


def run(size: Size) -> dict[str, Any]:
    """Measure, print and return the scoring section (``figures``: summary rows)."""
    rows, reps = SIZES[size]
    score_day = FIRST + timedelta(days=HISTORY_DAYS)
    print(f"\n== Batch scoring: one day of {rows:,} transactions (median of {reps}) ==")
    saved = {k: os.environ.get(k) for k in _ENV}
    scratch = Path(tempfile.mkdtemp(prefix="mlops-bench-score-"))
    try:
        root = scratch / "data"
        (root / "mlflow").mkdir(parents=True)
        os.environ["MLOPS_DATA_ROOT"] = str(root)
        os.environ["MLOPS_USECASE_SPEC"] = str(_spec(scratch / "spec.yaml"))
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
        setup = _platform(score_day, rows)
        print(
            f"set-up (not timed): lake + feature tables {setup['lake_and_features_s']:.1f} s, "
            f"training + gate {setup['training_s']:.1f} s"
        )
        got = _measure(score_day, reps)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(scratch, ignore_errors=True)
    project, pit, pred = (
        median(got[k]) for k in ("project_s", "historical_features_s", "predict_s")
    )
    floor = pit + pred
    summary = got["summary"]
    for label, seconds in (
        ("project: score_partition", project),
        ("floor: historical_features", pit),
        ("floor: pyfunc predict", pred),
        ("floor: both", floor),
    ):
        print(f"  {label:<30} {fmt(seconds, 's'):>9}  {rows / seconds:>10,.0f} rows/s")
    print(
        f"  project / floor {project / floor:.2f}x; model load {got['model_load_s']:.1f} s "
        f"(warm process; cold ~8 s); {summary['scored']:,} scored, "
        f"{summary['unscored']:,} unscored, "
        f"decisions {summary['decisions']}"
    )
    return {
        "rows": rows,
        "reps": reps,
        **setup,
        **{k: v for k, v in got.items() if k != "summary"},
        "summary": summary,
        "figures": [
            Figure("score", "batch scoring rows/s (score_partition)", rows / project, "rows/s"),
            Figure("score", "PIT features + predict rows/s (floor)", rows / floor, "rows/s"),
            Figure("score", "score_partition / (PIT features + predict)", project / floor, "x"),
        ],
    }


if __name__ == "__main__":
    import sys

    run(size_from_argv(sys.argv))
