"""Every Asset of the platform, by layer: the contract between DAGs.

    raw (landing) → validated → features → model → deployed / predictions → reports

Each producing task puts what the consumer needs (partition, row counts, URIs) in the
event's ``extra``. Every use case has its own (:func:`assets_of`): with several, each Asset's
name carries the use case's (``flights.features``) and its URI the use case's storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from airflow.sdk import Asset

from include import layout, storage
from include.config import UseCase, current_usecase, get_settings


def _uri(location: str) -> str:
    return location if storage.is_s3(location) else f"file://{location}"


@dataclass(frozen=True)
class UseCaseAssets:
    """One use case's Assets and the names of its feeds (the spec names them)."""

    usecase: UseCase
    events_feed: str  # the events to score
    labels_feed: str  # their outcomes
    validated_events: Asset  # the validated zone of a feed: one event per partition
    validated_labels: Asset
    # The feature store's offline tables + online store: one event per materialize run
    # (extra: partitions, rows per view, feature service, materialized window).
    features: Asset
    # The registered model's champion alias: one event per promotion
    # (extra: model name, version, alias, run ids) for the packaging stage.
    champion_model: Asset
    # What serves production: one event per deployment or rollback (extra: version,
    # Bento tag, outcome, previous version): the history of the serving address.
    deployed_model: Asset
    # Batch scores of validated events: one event per scored partition
    # (extra: partition day, rows, model name and version, URI) for monitoring.
    predictions: Asset
    # Monitoring's reports: one event per ``monitor_drift`` run (extra: window, champion,
    # decision and its reason, verdicts, the report's URI).
    drift_reports: Asset


_SEEN: dict[str, Asset] = {}


@cache
def _assets(usecase: UseCase) -> UseCaseAssets:
    from include.spec import load_spec

    settings = get_settings(usecase.name)
    spec = load_spec(usecase.spec)
    names, model = spec.names, spec.model
    registry = f"mlflow://registry/{model.registered_name}"

    def asset(base: str, uri: str, group: str) -> Asset:
        # One name, one URI per process (Airflow refuses an Asset name with two URIs): a
        # process whose settings changed (tests) keeps the first.
        name = usecase.qualify(base)
        return _SEEN.setdefault(name, Asset(name=name, uri=uri, group=group))

    def validated(feed: str) -> Asset:
        uri = _uri(layout.validated_dir(settings.lake_uri, feed))
        return asset(f"validated_{feed}", uri, "validated")

    return UseCaseAssets(
        usecase=usecase,
        events_feed=names.events_feed,
        labels_feed=names.labels_feed,
        validated_events=validated(names.events_feed),
        validated_labels=validated(names.labels_feed),
        features=asset("features", _uri(settings.features_uri), "features"),
        champion_model=asset("champion_model", f"{registry}/{model.champion_alias}", "model"),
        deployed_model=asset(
            "deployed_model", f"{registry}/{spec.serving.deployed_alias}", "model"
        ),
        predictions=asset(
            "predictions", _uri(storage.join(settings.lake_uri, "predictions")), "predictions"
        ),
        drift_reports=asset(
            "drift_reports", _uri(storage.join(settings.lake_uri, "reports", "drift")), "reports"
        ),
    )


def assets_of(usecase: UseCase | None = None) -> UseCaseAssets:
    """The Assets of ``usecase`` (default: the current one). Read at parse time: cheap, the
    spec's YAML only."""
    return _assets(usecase or current_usecase())


# The first use case's, for code that names one Asset (tests, tools).
FEATURES = assets_of().features
CHAMPION_MODEL = assets_of().champion_model
