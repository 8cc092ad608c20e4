"""The ``train_model`` DAG's steps, one function per task; references in, references out.

1. :func:`build_training_set`: labelled transactions of the window (validated transactions
   inner-joined with matured labels) → Feast ``get_historical_features`` through the feature
   service (one row per entity row, no future feature: ``include.features.training_set``) →
   one Parquet file per run under ``<lake>/training_sets/``, plus the lineage (partitions,
   feature service, validation result ids, git commit, DAG run id).
2. :func:`train`: :func:`include.training.train.train_candidates` on that file.
3. :func:`gate`: :func:`include.registry.evaluate_and_promote`; a rejection returns its
   result (the champion is untouched) for the DAG to mail, it does not fail the run.
"""

from __future__ import annotations

import io
import subprocess
from datetime import date, timedelta
from typing import Any

from include import layout, storage
from include.config import REPO_ROOT, get_settings
from include.data import lake
from include.spec import LABELS_FEED, TRANSACTIONS_FEED, UseCaseSpec, load_spec


class TrainingWindowEmpty(ValueError):
    """Too few matured labelled transactions in the window to train on (yet)."""


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _validation_ids(lake_uri: str, feed: str, days: list[date]) -> list[str]:
    """The newest validation result per partition: ``<feed>/<day>/<run>``."""
    ids = []
    for day in days:
        reports = storage.list_objects(layout.validation_reports_dir(lake_uri, feed, day))
        runs = sorted({o.uri.rsplit("/", 2)[-2] for o in reports if o.name.endswith(".json")})
        if runs:
            ids.append(f"{feed}/{day.isoformat()}/{runs[-1]}")
    return ids


def build_training_set(window_days: int, run_id: str, end: str | None = None) -> dict[str, Any]:
    """Write the run's training set; returns its URI, size and lineage."""
    import pandas as pd

    from include.features import schema
    from include.features.training_set import entity_columns, historical_features

    settings = get_settings()
    spec = load_spec(settings.usecase_spec)
    fspec = schema.feature_spec(spec)
    model, names = spec.model, spec.names
    target, key, event_ts = names.target, names.tx_key, names.event_ts
    published = sorted(lake.partition_row_counts(settings.lake_uri, TRANSACTIONS_FEED))
    if end:
        published = [d for d in published if d <= end]
    if not published:
        raise TrainingWindowEmpty("no validated transaction partition yet: ingest data first")
    last = date.fromisoformat(published[-1])
    days = [
        d
        for d in (date.fromisoformat(p) for p in published)
        if d > last - timedelta(days=window_days)
    ]
    label_days = [
        date.fromisoformat(p) for p in lake.partition_row_counts(settings.lake_uri, LABELS_FEED)
    ]
    sensitive = [a for f in spec.feeds.values() for a in f.sensitive_attributes]
    tx = pd.concat(
        [
            lake.read_partition(
                settings.lake_uri, TRANSACTIONS_FEED, d, [*entity_columns(fspec), *sensitive]
            )
            for d in days
        ],
        ignore_index=True,
    )
    labels = pd.concat(
        [lake.read_partition(settings.lake_uri, LABELS_FEED, d, [key, target]) for d in label_days]
        or [pd.DataFrame(columns=[key, target])],
        ignore_index=True,
    ).drop_duplicates(key, keep="last")
    # Only matured transactions: before a transaction is `maturity_days` old only its
    # chargeback can have arrived, so a younger window would over-represent fraud.
    maturity = spec.labels.maturity_days
    cutoff = pd.Timestamp(max(label_days) + timedelta(days=1 - maturity), tz="UTC")
    tx = tx[tx[event_ts] < cutoff]
    entity = tx.merge(labels, on=key, how="inner")
    positives = int(entity[target].sum()) if len(entity) else 0
    min_rows, min_pos = model.min_training_rows, model.min_positives
    if len(entity) < min_rows or positives < min_pos or positives == len(entity):
        raise TrainingWindowEmpty(
            f"{len(entity)} matured labelled transactions ({positives} fraud) in "
            f"{days[0]}..{days[-1]}; training needs {min_rows} rows with {min_pos} fraud and "
            "both classes. Genuine transactions are labelled after the spec's maturity_days."
        )
    for join_key in (fspec.customer_key, fspec.merchant_key):
        entity[join_key] = entity[join_key].astype("int64")
    frame = historical_features(entity.sort_values(event_ts, ignore_index=True))
    features = schema.model_features(fspec)
    _check_splittable(frame, features, spec)
    uri = layout.training_set_uri(settings.lake_uri, run_id)
    storage.write_bytes(uri, lake.to_parquet_bytes(frame))
    lineage = {
        "data_partitions": f"{TRANSACTIONS_FEED}:{days[0]}..{days[-1]}",
        "label_partitions": f"{LABELS_FEED}:{min(label_days)}..{max(label_days)}",
        "feature_service": fspec.feature_service,
        "validation_result_ids": ",".join(
            _validation_ids(settings.lake_uri, TRANSACTIONS_FEED, days)
        )[:4000],
        "git_commit": _git_commit(),
        "dag_run_id": run_id,
        "training_set_uri": uri,
    }
    return {
        "uri": uri,
        "rows": len(frame),
        "positives": int(frame[target].sum()),
        "features": features,
        "lineage": lineage,
    }


def _check_splittable(frame: Any, features: list[str], spec: UseCaseSpec) -> None:
    """Each part of the time split needs both classes; fraud clusters in time (nights,
    bursts), so a young window may not have them yet: wait for more data, do not fail."""
    from include.training.errors import TrainingDataInvalid
    from include.training.split import Columns, time_split

    columns = Columns.of(spec, features)
    try:
        parts = time_split(frame, columns, spec.model.split)
    except TrainingDataInvalid as exc:
        raise TrainingWindowEmpty(f"the labelled window cannot be split yet: {exc}") from exc
    for name, part in zip(
        ("train", "validation", "holdout"),
        (parts.train, parts.validation, parts.holdout),
        strict=True,
    ):
        if part[columns.target].sum() < 5:
            raise TrainingWindowEmpty(
                f"the {name} part has {int(part[columns.target].sum())} fraud rows; "
                "waiting for more matured labels"
            )


def train(
    training_set: dict[str, Any], *, families: list[str] | None, tuning_budget: int | None
) -> dict[str, Any]:
    import pandas as pd

    from include.training.train import train_candidates

    frame = pd.read_parquet(io.BytesIO(storage.read_bytes(training_set["uri"])))
    return train_candidates(
        frame,
        training_set["features"],
        training_set["lineage"],
        tracking_uri=get_settings().mlflow_tracking_uri,
        families=families or None,
        tuning_budget=tuning_budget,
    )


def gate(training: dict[str, Any]) -> dict[str, Any]:
    """Register the best candidate as challenger; promote it only if it wins the gate."""
    from include.registry import evaluate_and_promote

    settings = get_settings()
    return evaluate_and_promote(
        training,
        tracking_uri=settings.mlflow_tracking_uri,
        lock_dir=settings.data_root / "locks",
        raise_on_reject=False,
    )
