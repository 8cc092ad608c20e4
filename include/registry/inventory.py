"""The model inventory: every version of the registered model, what it is now, and the
lifecycle's key figures, as one JSON-able dict (the console renders it).

Sources, each read here and nowhere else for this purpose:

* the MLflow registry: aliases (``champion``, ``challenger``, the deployed alias), version
  tags (``gate.decision``, ``approval.*``, ``lifecycle.retired*``, ``lineage.*``);
* the deployment records (:func:`include.deployment.history.records`): when a version
  started serving, and until when;
* the monitoring history (:func:`include.monitoring.state.rows`): the last drift verdict
  and the retrains monitoring triggered;
* the landing zone: when the batch of a version's newest training partition landed (the
  batch files' modification time, the time the last file of the day arrived).

Definitions: a version's ``status`` is the first that holds of retired, champion, serving,
challenger, rejected (by the gate or by a person), candidate. ``retrains``: versions
registered after the first (each one a training run that reached the gate).
``rejection_rate``: rejected / versions the gate judged. ``landing_to_serving``: from the
newest training partition's batch landing to the version's first ``serving`` record.
``time_in_production``: days between a version's ``serving`` records and the next switch.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from include import layout, storage
from include.config import get_settings
from include.spec import UseCaseSpec, load_spec

JUDGED = ("promoted", "rejected", "awaiting_approval", "already_champion")


def _iso(ms: int | None) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _when(text: Any) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def status(version: str, tags: dict[str, str], aliases: dict[str, str], spec: UseCaseSpec) -> str:
    """retired / champion / serving / challenger / rejected / candidate (pure)."""
    from include.registry.retire import is_retired

    model = spec.model
    if is_retired(tags):
        return "retired"
    if aliases.get(model.champion_alias) == version:
        return "champion"
    if aliases.get(spec.serving.deployed_alias) == version:
        return "serving"
    if aliases.get(model.challenger_alias) == version:
        return "challenger"
    if tags.get("gate.decision") == "rejected" or tags.get("approval.decision") == "rejected":
        return "rejected"
    return "candidate"


def newest_partition(tags: dict[str, str]) -> date | None:
    """The last day of ``lineage.data_partitions`` (``transactions:<first>..<last>``)."""
    raw = tags.get("lineage.data_partitions", "")
    try:
        return date.fromisoformat(raw.rsplit("..", 1)[-1].split(":")[-1].strip())
    except ValueError:
        return None


def landed_at(landing_uri: str, feed: str, day: date) -> datetime | None:
    """When the day's batch finished landing: the newest modification time of its files."""
    prefix = layout.landing_dir(landing_uri, feed, day)
    if storage.is_s3(prefix):
        bucket, key = storage._split_s3(prefix)
        pages = (
            storage.s3_client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=key.rstrip("/") + "/")
        )
        times = [o["LastModified"] for p in pages for o in p.get("Contents", [])]
        return max(times).astimezone(UTC) if times else None
    folder = Path(prefix)
    if not folder.is_dir():
        return None
    times = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()]
    return datetime.fromtimestamp(max(times), UTC) if times else None


def serving_spans(
    records: list[dict[str, Any]], now: datetime, current: str | None
) -> list[tuple[str, datetime, datetime]]:
    """(version, from, to) for each ``serving`` record, until the next switch (or ``now``
    when the version still serves; else the last record about it, e.g. a replacement)."""
    switches = [
        (str(r["version"]), _when(r.get("recorded_at")))
        for r in records
        if r.get("outcome") == "serving" and _when(r.get("recorded_at"))
    ]
    switches.sort(key=lambda s: s[1])
    spans = []
    for i, (version, start) in enumerate(switches):
        if i + 1 < len(switches):
            end = switches[i + 1][1]
        else:
            end = now if current in (None, version) else start
        spans.append((version, start, end))
    return spans


def kpis(
    versions: list[dict[str, Any]],
    tags_of: dict[str, dict[str, str]],
    records: list[dict[str, Any]],
    landing_uri: str,
    now: datetime,
    current: str | None,
    events_feed: str,
) -> dict[str, Any]:
    spans = serving_spans(records, now, current)
    first_served: dict[str, datetime] = {}
    days: dict[str, float] = {}
    for version, start, end in spans:
        first_served.setdefault(version, start)
        days[version] = days.get(version, 0.0) + (end - start).total_seconds() / 86400
    to_serving = []
    for version, served in sorted(first_served.items(), key=lambda kv: kv[1]):
        day = newest_partition(tags_of.get(version, {}))
        landed = landed_at(landing_uri, events_feed, day) if day else None
        to_serving.append(
            {
                "version": version,
                "seconds": round((served - landed).total_seconds(), 1) if landed else None,
                "deployed_at": served.isoformat(),
            }
        )
    judged = [
        v
        for v in versions
        if tags_of[v["version"]].get("gate.decision") in JUDGED
        or tags_of[v["version"]].get("approval.decision")
    ]
    rejected = [v for v in judged if v["status"] == "rejected"]
    return {
        "landing_to_serving": to_serving,
        "retrains": max(len(versions) - 1, 0),
        "rejection_rate": round(len(rejected) / len(judged), 4) if judged else 0.0,
        "time_in_production": [
            {"version": v, "days": round(d, 3)}
            for v, d in sorted(days.items(), key=lambda kv: int(kv[0]))
        ],
    }


def _monitoring(lake_uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last drift verdict and the last retrain monitoring triggered."""
    from include.monitoring import state

    history = state.rows(lake_uri)
    last = history[-1] if history else {}
    drift = {
        "status": last.get("decision"),
        "at": last.get("measured_at"),
        "report_url": _report_url(last.get("report_uri")),
    }
    retrains = [r for r in history if r.get("retrain")]
    retrain = (
        {"at": retrains[-1].get("measured_at"), "reason": retrains[-1].get("reason")}
        if retrains
        else {"at": None, "reason": None}
    )
    return drift, retrain


def _report_url(uri: Any) -> str | None:
    if not uri:
        return None
    try:
        from include.console.links import report_url
    except ImportError:  # the console is optional: keep the plain location
        return str(uri)
    return report_url(str(uri)) or str(uri)


def build_inventory(
    *, spec: UseCaseSpec | None = None, tracking_uri: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The inventory (module docstring); one model per spec (the registered model)."""
    from mlflow.exceptions import MlflowException

    from include.deployment import history
    from include.modeling import tracking
    from include.registry.retire import retirement

    settings = get_settings()
    spec = spec or load_spec(settings.usecase_spec)
    now = now or datetime.now(UTC)
    name = spec.model.registered_name
    client = tracking.configure(tracking_uri or settings.mlflow_tracking_uri).MlflowClient()
    try:
        aliases = {k: str(v) for k, v in (client.get_registered_model(name).aliases or {}).items()}
        found = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        aliases, found = {}, []
    found = sorted(found, key=lambda mv: int(mv.version))
    tags_of = {str(mv.version): dict(mv.tags or {}) for mv in found}
    versions = []
    for mv in found:
        version, tags = str(mv.version), tags_of[str(mv.version)]
        created = _iso(mv.creation_timestamp)
        versions.append(
            {
                "version": version,
                "status": status(version, tags, aliases, spec),
                "created_at": created,
                "age_days": round((now - _when(created)).total_seconds() / 86400, 2)
                if created
                else None,
                **retirement(tags),
                "run_id": mv.run_id,
            }
        )
    records = [r for r in history.records() if r.get("model") in (None, name)]
    current = aliases.get(spec.serving.deployed_alias)
    newest = found[-1] if found else None
    drift, retrain = _monitoring(settings.lake_uri)
    newest_tags = tags_of.get(str(newest.version), {}) if newest else {}
    model = {
        "name": name,
        "champion": aliases.get(spec.model.champion_alias),
        "challenger": aliases.get(spec.model.challenger_alias),
        "serving": current,
        "versions": versions,
        "last_training": {
            "at": _iso(newest.creation_timestamp) if newest else None,
            "run_id": newest_tags.get("lineage.dag_run_id") or (newest.run_id if newest else None),
        },
        "last_retrain": retrain,
        "last_drift": drift,
        "kpis": kpis(
            versions, tags_of, records, settings.landing_uri, now, current, spec.names.events_feed
        ),
    }
    return {"generated_at": now.isoformat(), "models": [model]}
