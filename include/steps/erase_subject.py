"""The ``erase_subject`` DAG's steps: one person's rows out of the platform, and a record.

1. :func:`pseudonymise`: the raw id becomes its pseudonym under the platform's key; the raw
   id goes no further (what the next tasks get, and every log line, names the pseudonym);
2. :func:`find_events`: the subject's events (lake, staging, landing, quarantine), kept as
   keyed hashes for this run and any later one;
3. one step per kind of store, each idempotent: :func:`erase_lake`, :func:`erase_features`,
   :func:`erase_online_store`, :func:`erase_outputs`, :func:`erase_training_sets`,
   :func:`erase_raw_files`;
4. :func:`record`: the erasure record under ``<lake>/privacy/erasures/<pseudonym>/``
   (who asked, when, why, rows removed per location, what could not be reached) and a
   short summary.

The logic is :mod:`include.privacy.erasure`; this module reads settings and the spec, and
asks the registry and the feature store what only they know.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TypedDict

from include import storage
from include.config import get_settings
from include.features.schema import feature_spec
from include.privacy import erasure
from include.privacy.erasure import Erased, Matcher, Subject
from include.spec import UseCaseSpec, load_spec

log = logging.getLogger(__name__)


class EventsFound(TypedDict):
    """The subject's events: how many are known, and where their keyed hashes are."""

    count: int
    uri: str
    unreadable: list[str]


def _spec() -> UseCaseSpec:
    return load_spec(get_settings().usecase_spec)


def _pseudonymiser(lake_uri: str) -> Any:
    """The platform's key, never created here: without one nothing was pseudonymised."""
    from include.privacy import keys
    from include.privacy.pseudonym import Pseudonymiser

    key = keys.load_key(create=False)
    if storage.exists(keys.key_record_uri(lake_uri)):
        keys.check_lake_key(lake_uri, key)  # another key would find nobody
    return Pseudonymiser(key)


def _matcher(subject: Subject, event_keys: set[str] | None = None) -> Matcher:
    settings = get_settings()
    return Matcher(
        _pseudonymiser(settings.lake_uri),
        subject["pseudonym"],
        subject["columns"],
        _spec().events_feed.key,
        event_keys if event_keys is not None else set(),
    )


def _with_events(subject: Subject) -> Matcher:
    keys = erasure.load_event_keys(get_settings().lake_uri, subject["pseudonym"])
    return _matcher(subject, keys)


def _done(step: str, subject: Subject, erased: Erased) -> dict[str, Any]:
    log.info(
        "%s for %s: %d rows removed (%s), %d files changed",
        step,
        subject["pseudonym"],
        sum(erased.rows.values()),
        ", ".join(f"{k} {v}" for k, v in sorted(erased.rows.items()) if v) or "none",
        len(set(erased.changed)),
    )
    return erased.to_dict()


def pseudonymise(
    raw_id: str, column: str, reason: str, requested_by: str, requested: dict[str, Any]
) -> Subject:
    """The subject's pseudonym and the request, without the raw id (``requested``: the
    run's ids, type and conf, the raw id already left out)."""
    raw = raw_id.strip()
    if not raw:
        raise erasure.SubjectNotErasable("subject_id is empty: give the person's raw id")
    settings = get_settings()
    columns = erasure.subject_columns(_spec().events_feed, column)
    pseudonym = _pseudonymiser(settings.lake_uri).value(raw)
    subject = Subject(
        pseudonym=pseudonym,
        columns=list(columns),
        reason=erasure.redact(reason, raw),
        requested_by=requested_by or "unknown (the run names no triggering user)",
        requested=erasure.redact(requested, raw),
        started_at=datetime.now(UTC).isoformat(timespec="microseconds"),
    )
    log.info("erasing subject %s (columns %s)", pseudonym, ", ".join(columns))
    return subject


def find_events(subject: Subject) -> EventsFound:
    """The subject's events, added to those earlier runs kept (a union)."""
    settings = get_settings()
    found, unreadable = erasure.find_event_keys(
        settings.lake_uri, settings.landing_uri, _spec().events_feed, _matcher(subject)
    )
    uri, count = erasure.save_event_keys(settings.lake_uri, subject["pseudonym"], found)
    log.info("subject %s: %d events (%d found now)", subject["pseudonym"], count, len(found))
    return EventsFound(count=count, uri=uri, unreadable=unreadable)


def erase_lake(subject: Subject) -> dict[str, Any]:
    """Validated and staged partitions of every feed (labels by their event's key)."""
    settings = get_settings()
    feeds = list(_spec().feeds.values())
    erased = erasure.erase_lake(settings.lake_uri, feeds, _with_events(subject))
    return _done("lake", subject, erased)


def erase_features(subject: Subject) -> dict[str, Any]:
    """Offline feature tables of the views keyed by the subject's pii columns."""
    settings = get_settings()
    views = [v.name for v in feature_spec(_spec()).views if v.join_key in subject["columns"]]
    erased = erasure.erase_feature_tables(settings.features_uri, views, _with_events(subject))
    return _done("feature tables", subject, erased)


def erase_online_store(subject: Subject) -> dict[str, Any]:
    """The entity's rows in Feast's online store, by Feast's own key serialization."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    from include.features import store

    settings = get_settings()
    fspec = feature_spec(_spec())
    config = store.repo_config(settings)
    version = config.entity_key_serialization_version
    views = [v for v in fspec.views if v.join_key in subject["columns"]]
    join_keys = sorted({v.join_key for v in views})
    entities = [
        EntityKey(join_keys=[k], entity_values=[Value(string_val=subject["pseudonym"])])
        for k in join_keys
    ]
    if settings.feast_online_store == "redis":
        keys = [_redis_key(fspec.project, e, entity_key_serialization_version=version)
                for e in entities]  # fmt: skip
        erased = erasure.erase_online_redis(settings.redis_url, keys)
    else:
        keys = [serialize_entity_key(e, entity_key_serialization_version=version) for e in entities]
        path = store.online_store_config(settings)["path"]
        erased = erasure.erase_online_sqlite(path, fspec.project, [v.name for v in views], keys)
    return _done("online store", subject, erased)


def erase_outputs(subject: Subject) -> dict[str, Any]:
    """Batch predictions and captured online requests of the subject's events."""
    erased = erasure.erase_outputs(get_settings().lake_uri, _with_events(subject))
    return _done("predictions and captures", subject, erased)


def erase_training_sets(subject: Subject) -> dict[str, Any]:
    """Every training set (``changed``: the sets that held the rows: their models)."""
    erased = erasure.erase_training_sets(get_settings().lake_uri, _with_events(subject))
    return _done("training sets", subject, erased)


def erase_raw_files(subject: Subject) -> dict[str, Any]:
    """The landing zone's files and quarantined raw files (raw values, CSV)."""
    settings = get_settings()
    feeds = list(_spec().feeds.values())
    erased = erasure.erase_raw_files(
        settings.lake_uri, settings.landing_uri, feeds, _with_events(subject)
    )
    return _done("raw files", subject, erased)


def _models(spec: UseCaseSpec, held: list[str], earlier: list[dict[str, Any]]) -> erasure.Models:
    """The registered versions trained on the subject's rows (see erasure.models_trained_on)."""
    from include.registry.read import model_version

    settings = get_settings()
    name = spec.model.registered_name
    before = [v for r in earlier for v in (r.get("models") or {}).get("trained_on") or []]
    try:
        from include.modeling import tracking

        client = tracking.configure(settings.mlflow_tracking_uri).MlflowClient()
        numbers = [str(v.version) for v in client.search_model_versions(f"name = '{name}'")]
        found = [model_version(n, spec, settings.mlflow_tracking_uri) for n in numbers]
    except Exception as exc:  # noqa: BLE001 (the record says so; the erasure stands)
        return erasure.Models(name, error=f"{type(exc).__name__}: {exc}"[:300])
    trained, unknown = erasure.models_trained_on(
        [(v.version, v.training_set_uri) for v in found],
        held,
        erasure.training_sets(settings.lake_uri),
        before,
    )
    aliases = {a: v.version for v in found for a in v.aliases}
    return erasure.Models(name, trained, unknown, dict(sorted(aliases.items())))


def record(subject: Subject, events: EventsFound, results: dict[str, dict[str, Any]]) -> dict:
    """Write the erasure record from every step's result (by step name); returns a short
    summary (the task's XCom)."""
    settings = get_settings()
    spec = _spec()
    pseudonym = subject["pseudonym"]
    erased = Erased(unreadable=list(events["unreadable"]))
    for result in results.values():
        erased.merge(Erased.from_dict(result))
    held = Erased.from_dict(results["training_sets"]).changed
    models = _models(spec, held, erasure.earlier_records(settings.lake_uri, pseudonym))
    recorded_at = datetime.now(UTC).isoformat(timespec="seconds")
    other_views = [v.name for v in feature_spec(spec).views if v.join_key not in subject["columns"]]
    facts = {
        "recorded_at": recorded_at,
        "dag_id": subject["requested"].get("dag_id", ""),
        "run_id": subject["requested"].get("run_id", ""),
        "retention_days": spec.privacy.quarantine_retention_days,
        "label_delay_days": spec.labels.max_delay_days,
        "event_keys_uri": events["uri"],
        "drift_reports": erasure.monitoring_dir(settings.lake_uri),
        "evidently_workspace": str(settings.evidently_workspace),
        "online_store": settings.feast_online_store,
    }
    skip = erasure.erasures_dir(settings.lake_uri, pseudonym)
    gaps = erasure.not_reached(
        models=models,
        erased=erased,
        other_views=other_views,
        mentioned=erasure.mentions(settings.lake_uri, pseudonym, skip=skip),
        facts=facts,
    )
    body = erasure.build_record(
        subject,
        erased,
        models,
        gaps,
        event_keys=events["count"],
        event_keys_uri=events["uri"],
        recorded_at=recorded_at,
    )
    uri = erasure.record_uri(settings.lake_uri, pseudonym, subject["started_at"])
    storage.write_bytes(uri, json.dumps(body, indent=2).encode())
    summary = {
        "record_uri": uri,
        "pseudonym": pseudonym,
        "rows_removed": body["rows_removed"],
        "removed": {k: v for k, v in body["removed"].items() if v},
        "models_trained_on_subject": models.trained_on,
        "not_reached": [g["what"] for g in gaps],
    }
    log.info("erasure of %s recorded at %s: %s", pseudonym, uri, json.dumps(summary))
    return summary
