"""Trace a prediction back to the data it came from.

    prediction (online capture, else the batch scores)
      → model version (registry tags)
      → training run (MLflow)
      → training set (``<lake>/training_sets/<run>.parquet``)
      → feature service (Feast, named in the lineage tags)
      → partitions (validated transactions and labels)
      → validation results (GX result and Data Docs of each partition)

Each step is a dict ``{"kind", "title", "fields": {str: str}, "links": [{"text", "href"}]}``;
the chain stops at the first link that can not be followed and ``missing`` says which one
and why (a capture that was rotated away, a version deleted from the registry, a training
set removed...). Links: the MLflow UI (settings ``mlflow_ui_url``), Airflow's run pages and
the console's lake pages (``include.console.links``, when installed).

Inputs: a ``prediction_id`` (the ``request_id`` of a served request, which the service
returns) and/or a ``transaction_id``. Reads only: the lake, the registry, MLflow's runs.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

from include import layout, storage
from include.config import current_usecase, get_settings
from include.spec import UseCaseSpec, load_spec

Step = dict[str, Any]


def _step(
    kind: str, title: str, fields: Mapping[str, Any], links: list[dict] | None = None
) -> Step:
    return {
        "kind": kind,
        "title": title,
        "fields": {str(k): "" if v is None else str(v) for k, v in fields.items()},
        "links": [link for link in (links or []) if link.get("href")],
    }


def _link(text: str, href: str | None) -> dict[str, str]:
    return {"text": text, "href": href or ""}


def _console(uri: str | None) -> str | None:
    """The console address of a lake location, or None (no console, or not served)."""
    if not uri:
        return None
    try:
        from include.console.links import report_url
    except ImportError:
        return None
    return report_url(uri)


def _airflow_run(dag_id: str, run_id: str | None) -> str | None:
    if not run_id:
        return None
    try:
        from include.console.links import run_url
    except ImportError:
        return None
    return run_url(dag_id, run_id)


# ------------------------------------------------------------------------ the prediction
def find_capture(
    lake_uri: str, prediction_id: str | None, transaction_id: str | None
) -> dict[str, Any] | None:
    """The newest online capture record matching the ids (both must match when both given)."""
    needles = [n for n in (prediction_id, transaction_id) if n]
    files = [
        o
        for o in storage.list_objects(storage.join(lake_uri, "capture"))
        if o.name.endswith(".jsonl")
    ]
    for obj in reversed(files):  # newest day and part first
        for line in storage.read_bytes(obj.uri).decode().splitlines():
            if not all(n in line for n in needles):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if prediction_id and rec.get("request_id") != prediction_id:
                continue
            if transaction_id and rec.get("transaction_id") != transaction_id:
                continue
            return {**rec, "_source": obj.uri}
    return None


def find_batch_score(lake_uri: str, key: str, transaction_id: str) -> dict[str, Any] | None:
    """The batch score of a transaction (``<lake>/predictions/``), newest partition first."""
    import pyarrow.parquet as pq

    files = [
        o
        for o in storage.list_objects(storage.join(lake_uri, "predictions"))
        if o.name.endswith(".parquet")
    ]
    for obj in reversed(files):
        table = pq.read_table(
            io.BytesIO(storage.read_bytes(obj.uri)), filters=[(key, "==", transaction_id)]
        )
        if table.num_rows:
            row = table.slice(0, 1).to_pylist()[0]
            return {**row, "_source": obj.uri}
    return None


def _prediction_step(rec: Mapping[str, Any], key: str, online: bool) -> Step:
    fields = {
        "prediction_id": rec.get("request_id") if online else "(batch score)",
        "transaction_id": rec.get("transaction_id") or rec.get(key),
        "at": rec.get("served_at") if online else rec.get("scored_at"),
        "score": rec.get("score"),
        "decision": rec.get("decision"),
        "scored": rec.get("scored"),
        "model": f"{rec.get('model_name')} v{rec.get('model_version')}",
        "source": rec.get("_source"),
    }
    if rec.get("unscored_reason"):
        fields["unscored_reason"] = rec.get("unscored_reason")
    title = "Online prediction" if online else "Batch score"
    return _step("prediction", title, fields, [_link("capture file", _console(rec.get("_source")))])


# ------------------------------------------------------------------------------ the chain
def _mlflow_ui() -> str:
    return get_settings().mlflow_ui_url


def _version_step(mv: Any, spec: UseCaseSpec, lake_uri: str) -> Step:
    tags = dict(mv.tags or {})
    name, version = spec.model.registered_name, str(mv.version)
    report = layout.promotion_report_uri(lake_uri, name, version)
    fields = {
        "model": name,
        "version": version,
        "aliases": ", ".join(getattr(mv, "aliases", None) or []) or "-",
        "family": tags.get("family"),
        "gate decision": tags.get("gate.decision"),
        "approval": tags.get("approval.decision") or tags.get("approval.status") or "-",
        "retired": tags.get("lifecycle.retired", "false"),
        "threshold": tags.get("serving.threshold"),
        "data sha256": tags.get("data_sha256"),
    }
    links = [
        _link("MLflow model version", f"{_mlflow_ui()}/#/models/{quote(name)}/versions/{version}"),
        _link("comparison report", _console(report) if storage.exists(report) else None),
    ]
    return _step("model_version", f"{name} v{version}", fields, links)


def _run_step(client: Any, run_id: str, tags: Mapping[str, str]) -> Step | None:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    dag_run = tags.get("lineage.dag_run_id")
    fields = {
        "mlflow run": run_id,
        "name": run.info.run_name,
        "status": run.info.status,
        "started": run.info.start_time,
        "dag run": dag_run,
        "git commit": tags.get("lineage.git_commit"),
        "candidate run": tags.get("candidate_run_id"),
    }
    exp = run.info.experiment_id
    links = [
        _link("MLflow run", f"{_mlflow_ui()}/#/experiments/{exp}/runs/{run_id}"),
        _link("Airflow run", _airflow_run(current_usecase().qualify("train_model"), dag_run)),
    ]
    return _step("training_run", f"Training run {run.info.run_name or run_id}", fields, links)


def _training_set_step(uri: str, tags: Mapping[str, str]) -> Step:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(io.BytesIO(storage.read_bytes(uri))).metadata
    fields = {
        "uri": uri,
        "rows": meta.num_rows,
        "columns": meta.num_columns,
        "data sha256 (split)": tags.get("data_sha256"),
        "features event through": tags.get("lineage.features_event_through"),
        # Beyond model.max_training_rows: "<kept> of about <all> ... (rate, by key hash)".
        "sampled": tags.get("lineage.sampled", "-"),
    }
    return _step("training_set", "Training set", fields)


def _feature_step(spec: UseCaseSpec, tags: Mapping[str, str]) -> Step:
    fields = {
        "feast project": spec.features.project,
        "feature service": tags.get("lineage.feature_service"),
        "model features": tags.get("features"),
    }
    return _step(
        "feature_service", f"Feature service {tags.get('lineage.feature_service')}", fields
    )


def _days(spans: str) -> tuple[str, list[date]]:
    """``"<feed>:<first>..<last>"`` → (feed, every day of the span)."""
    from datetime import timedelta

    feed, _, span = spans.partition(":")
    first, _, last = span.partition("..")
    a, b = date.fromisoformat(first.strip()), date.fromisoformat((last or first).strip())
    return feed, [a + timedelta(days=i) for i in range((b - a).days + 1)]


def _partitions_step(lake_uri: str, tags: Mapping[str, str]) -> Step:
    fields: dict[str, Any] = {}
    for tag in ("lineage.data_partitions", "lineage.label_partitions"):
        if not tags.get(tag):
            continue
        feed, days = _days(tags[tag])
        present = [d for d in days if storage.exists(layout.partition_uri(lake_uri, feed, d))]
        fields[feed] = (
            f"{tags[tag].partition(':')[2]} ({len(present)}/{len(days)} partitions present)"
        )
        fields[f"{feed} location"] = layout.validated_dir(lake_uri, feed)
    return _step("partitions", "Data partitions", fields)


def _validation_step(lake_uri: str, ids: str) -> Step:
    fields: dict[str, Any] = {}
    links = []
    for vid in [v for v in ids.split(",") if v.strip()]:
        feed, day, run = vid.strip().split("/", 2)
        folder = storage.join(
            layout.validation_reports_dir(lake_uri, feed, date.fromisoformat(day)), run
        )
        result = layout.evidence(folder, layout.VALIDATION_RESULT)
        try:
            ok = json.loads(storage.read_bytes(result)).get("success")
            fields[f"{feed} {day}"] = "passed" if ok else "FAILED"
        except (FileNotFoundError, OSError, ValueError):
            fields[f"{feed} {day}"] = f"result not found ({result})"
            continue
        links.append(
            _link(
                f"{feed} {day} Data Docs",
                _console(layout.evidence(folder, layout.DATA_DOCS, "index.html")),
            )
        )
    return _step("validation", "Validation results", fields, links)


def trace(
    prediction_id: str | None = None,
    transaction_id: str | None = None,
    *,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """The lineage of one prediction (module docstring)."""
    from mlflow.exceptions import MlflowException

    from include.modeling import tracking

    if not (prediction_id or transaction_id):
        raise ValueError("give a prediction_id (request id) or a transaction_id")
    settings = get_settings()
    spec = spec or load_spec(settings.usecase_spec)
    lake = settings.lake_uri
    query = {"prediction_id": prediction_id, "transaction_id": transaction_id}
    steps: list[Step] = []

    def done(missing: str | None) -> dict[str, Any]:
        return {"query": query, "steps": steps, "missing": missing}

    key = spec.events_feed.key
    rec, online = find_capture(lake, prediction_id, transaction_id), True
    if rec is None and transaction_id and not prediction_id:
        rec, online = find_batch_score(lake, key, transaction_id), False
    if rec is None:
        what = f"prediction {prediction_id}" if prediction_id else f"transaction {transaction_id}"
        return done(
            f"no prediction found for {what} in {storage.join(lake, 'capture')} "
            f"or {storage.join(lake, 'predictions')} (never scored, or the files were removed)"
        )
    steps.append(_prediction_step(rec, key, online))

    client = tracking.configure(tracking_uri or settings.mlflow_tracking_uri).MlflowClient()
    name, version = (
        str(rec.get("model_name") or spec.model.registered_name),
        rec.get("model_version"),
    )
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException as exc:
        return done(f"model version {name} v{version} is not in the registry ({exc.error_code})")
    steps.append(_version_step(mv, spec, lake))
    tags = dict(mv.tags or {})

    run_id = tags.get("training_run_id") or mv.run_id
    run = _run_step(client, run_id, tags) if run_id else None
    if run is None:
        return done(
            f"the training run of v{version} ({run_id or 'no training_run_id tag'}) "
            "is not in MLflow"
        )
    steps.append(run)

    uri = tags.get("lineage.training_set_uri")
    if not uri or not storage.exists(uri):
        return done(
            f"the training set of v{version} ({uri or 'no lineage.training_set_uri tag'}) "
            "was not found"
        )
    steps.append(_training_set_step(uri, tags))

    if not tags.get("lineage.feature_service"):
        return done(f"v{version} has no lineage.feature_service tag")
    steps.append(_feature_step(spec, tags))

    if not tags.get("lineage.data_partitions"):
        return done(f"v{version} has no lineage.data_partitions tag")
    steps.append(_partitions_step(lake, tags))

    ids = tags.get("lineage.validation_result_ids", "")
    if not ids.strip():
        return done(f"v{version} names no validation results (lineage.validation_result_ids)")
    steps.append(_validation_step(lake, ids))
    return done(None)


__all__ = ["find_batch_score", "find_capture", "trace"]
