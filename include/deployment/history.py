"""The history of what served production, where the registry and the UIs show it.

* MLflow: the ``serving.deployed_alias`` alias (``production``) follows the version that
  serves; each version deployed carries ``deploy.*`` tags (when, Bento, run, outcome), and
  the one it replaced is tagged ``deploy.outcome=replaced``.
* The lake: one JSON record per deployment attempt (success, failure, rollback) under
  ``<lake>/deployments/``; :func:`records` reads them back, newest last.
* Airflow: the ``deployed_model`` Asset event of each deployment (emitted by the DAG).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from include import storage
from include.config import get_settings
from include.spec import UseCaseSpec, load_spec


def _dir() -> str:
    return storage.join(get_settings().lake_uri, "deployments")


def write_record(record: dict[str, Any]) -> str:
    """One deployment attempt as ``<lake>/deployments/<stamp>-v<version>-<outcome>.json``."""
    from include.layout import run_slug

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}-v{record.get('version')}-{record.get('outcome')}"
    uri = storage.join(_dir(), f"{run_slug(name)}.json")
    storage.write_bytes(uri, json.dumps(record, indent=2, default=str).encode())
    return uri


def records() -> list[dict[str, Any]]:
    out = []
    for obj in storage.list_objects(_dir()):
        if obj.name.endswith(".json"):
            out.append(json.loads(storage.read_bytes(obj.uri)))
    return sorted(out, key=lambda r: str(r.get("recorded_at", "")))


def record_deployment(
    *,
    version: str,
    bento_tag: str,
    run_id: str,
    outcome: str,
    previous_version: str | None,
    detail: dict[str, Any] | None = None,
    spec: UseCaseSpec | None = None,
) -> dict[str, Any]:
    """Record an attempt; a ``serving`` outcome also moves the alias and tags."""
    from include.modeling import tracking

    spec = spec or load_spec()
    now = datetime.now(UTC).isoformat()
    record = {
        "model": spec.model.registered_name,
        "version": str(version),
        "bento_tag": bento_tag,
        "dag_run_id": run_id,
        "outcome": outcome,
        "previous_version": previous_version,
        "recorded_at": now,
        "detail": detail or {},
    }
    record["uri"] = write_record(record)
    mlflow = tracking.configure(get_settings().mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    name = spec.model.registered_name
    tags = {
        "deploy.outcome": outcome,
        "deploy.at": now,
        "deploy.bento": bento_tag,
        "deploy.dag_run_id": run_id,
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)
    if outcome == "serving":
        client.set_registered_model_alias(name, spec.serving.deployed_alias, str(version))
        if previous_version and str(previous_version) != str(version):
            client.set_model_version_tag(name, str(previous_version), "deploy.outcome", "replaced")
            client.set_model_version_tag(name, str(previous_version), "deploy.replaced_at", now)
    return record
