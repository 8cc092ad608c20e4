"""What monitoring keeps between runs.

* The last alert of each kind (its dedup key and when): one registered-model tag,
  ``monitoring.last_alerts``, so every worker sees the same one (as the gate's rejection-mail
  cooldown does).
* The metrics history: one JSON row per run under ``<lake>/monitoring/runs/`` (a re-run of
  the same Airflow run replaces its row: idempotent, no duplicates), and ``history.csv``
  rebuilt from the rows after each run.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import pandas as pd

from include import layout, storage

LAST_ALERTS_TAG = "monitoring.last_alerts"


def last_alerts(model_name: str, tracking_uri: str | None = None) -> dict[str, dict[str, Any]]:
    from include.modeling import tracking

    client = tracking.configure(tracking_uri).MlflowClient()
    raw = client.get_registered_model(model_name).tags.get(LAST_ALERTS_TAG)
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


def record_alerts(
    model_name: str,
    claims: dict[str, str],
    now: datetime,
    tracking_uri: str | None = None,
    *,
    run_id: str = "",
) -> None:
    """Remember that the alerts ``claims`` (kind -> dedup key) were acted on at ``now``."""
    if not claims:
        return
    from include.modeling import tracking

    client = tracking.configure(tracking_uri).MlflowClient()
    merged = last_alerts(model_name, tracking_uri)
    merged.update(
        {
            kind: {"key": key, "at": now.isoformat(), "run_id": run_id}
            for kind, key in claims.items()
        }
    )
    client.set_registered_model_tag(model_name, LAST_ALERTS_TAG, json.dumps(merged))


def write_row(lake_uri: str, run_id: str, row: dict[str, Any]) -> str:
    uri = layout.monitoring_run_uri(lake_uri, run_id)
    storage.write_bytes(uri, json.dumps(row, sort_keys=True, default=str).encode())
    return uri


def rows(lake_uri: str) -> list[dict[str, Any]]:
    """Every run's row, oldest first."""
    out = []
    for obj in storage.list_objects(layout.monitoring_runs_dir(lake_uri)):
        if obj.name.endswith(".json"):
            out.append(json.loads(storage.read_bytes(obj.uri)))
    return sorted(out, key=lambda r: str(r.get("measured_at", "")))


def write_history(lake_uri: str) -> str:
    """``history.csv``: one flat row per run (per-feature scores as ``drift.<feature>``)."""
    flat = [_flatten(r) for r in rows(lake_uri)]
    uri = layout.monitoring_history_uri(lake_uri)
    buffer = io.StringIO()
    pd.DataFrame(flat).to_csv(buffer, index=False)
    storage.write_bytes(uri, buffer.getvalue().encode())
    return uri


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if not isinstance(v, dict | list)}
    for k, v in (row.get("feature_drift") or {}).items():
        out[f"drift.{k}"] = v
    for k, v in (row.get("feature_skew") or {}).items():
        out[f"skew.{k}"] = v
    return out


def failed_retrains(history: list[dict[str, Any]], champion_version: str, run_id: str) -> int:
    """Retrains monitoring asked for while ``champion_version`` was (and still is) champion:
    each one was skipped or rejected, since the champion did not change."""
    return sum(
        1
        for r in history
        if r.get("retrain")
        and str(r.get("champion_version")) == str(champion_version)
        and r.get("run_id") != run_id
    )
