"""Every Asset of the platform, by layer: the contract between DAGs.

    raw (landing) → validated → features → model → deployed / predictions → reports

Each producing task puts what the consumer needs (partition, row counts, URIs) in the
event's ``extra``.
"""

from __future__ import annotations

from airflow.sdk import Asset

from include import layout, storage
from include.config import get_settings


def _uri(location: str) -> str:
    return location if storage.is_s3(location) else f"file://{location}"


def validated(feed: str) -> Asset:
    """The validated zone of a feed: date-partitioned Parquet, one event per partition."""
    settings = get_settings()
    return Asset(
        name=f"validated_{feed}",
        uri=_uri(layout.validated_dir(settings.lake_uri, feed)),
        group="validated",
    )


def _feed_names() -> tuple[str, str]:
    from include.spec import load_spec

    names = load_spec(get_settings().usecase_spec).names
    return names.events_feed, names.labels_feed


# The use case's feeds (the spec names them): events to score, and their outcomes.
EVENTS_FEED, LABELS_FEED = _feed_names()
VALIDATED_TRANSACTIONS = validated(EVENTS_FEED)
VALIDATED_LABELS = validated(LABELS_FEED)


def features() -> Asset:
    """The feature store's offline tables + online store: one event per materialize run
    (extra: partitions, rows per view, feature service, materialized window)."""
    settings = get_settings()
    return Asset(
        name="features",
        uri=_uri(settings.features_uri),
        group="features",
    )


FEATURES = features()


def champion_model() -> Asset:
    """The registered model's champion alias: one event per promotion
    (extra: model name, version, alias, run ids) for the packaging stage."""
    from include.spec import load_spec

    model = load_spec(get_settings().usecase_spec).model
    return Asset(
        name="champion_model",
        uri=f"mlflow://registry/{model.registered_name}/{model.champion_alias}",
        group="model",
    )


CHAMPION_MODEL = champion_model()


def predictions() -> Asset:
    """Batch scores of validated transactions: one event per scored partition
    (extra: partition day, rows, model name and version, URI) for monitoring."""
    settings = get_settings()
    return Asset(
        name="predictions",
        uri=_uri(storage.join(settings.lake_uri, "predictions")),
        group="predictions",
    )


PREDICTIONS = predictions()


def deployed_model() -> Asset:
    """What serves production: one event per deployment or rollback (extra: version,
    Bento tag, outcome, previous version) — the history of the serving address."""
    from include.spec import load_spec

    spec = load_spec(get_settings().usecase_spec)
    return Asset(
        name="deployed_model",
        uri=f"mlflow://registry/{spec.model.registered_name}/{spec.serving.deployed_alias}",
        group="model",
    )


DEPLOYED_MODEL = deployed_model()


def drift_reports() -> Asset:
    """Monitoring's reports: one event per ``monitor_drift`` run (extra: window, champion,
    decision and its reason, verdicts, the report's URI): each run's summary, linked from the
    run in the UI (the Asset event of its ``record`` task)."""
    settings = get_settings()
    return Asset(
        name="drift_reports",
        uri=_uri(storage.join(settings.lake_uri, "reports", "drift")),
        group="reports",
    )


DRIFT_REPORTS = drift_reports()
