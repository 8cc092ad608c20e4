"""The ingest stage as plain functions, one per DAG task (see ``dags/ingest_*.py``).

Each takes and returns small JSON-able values (days, URIs, summaries) so tasks pass
references, not data, through XCom. Settings and the use-case spec are read when called.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from typing import Any

from include import layout, storage
from include.config import get_settings
from include.data import batches, lake
from include.quality.errors import BatchNotLanded, BatchValidationFailed
from include.spec import load_spec


def batch_day(requested: str | None, interval_start: datetime | str | None) -> str:
    """The day a run ingests: the ``batch_date`` param when given, else its data interval."""
    if requested:
        return date.fromisoformat(str(requested)[:10]).isoformat()
    if interval_start is None:
        raise ValueError("no batch_date param and no data interval: cannot tell which day")
    if isinstance(interval_start, str):
        interval_start = datetime.fromisoformat(interval_start)
    return interval_start.date().isoformat()


def find_batch(feed: str, day: str) -> list[str]:
    settings = get_settings()
    files = batches.list_batch_files(settings.landing_uri, feed, date.fromisoformat(day))
    if not files:
        prefix = batches.batch_prefix(settings.landing_uri, feed, date.fromisoformat(day))
        raise BatchNotLanded(f"no {feed} batch for {day} under {prefix}")
    return [f.uri for f in files]


def validate(feed: str, day: str, run_id: str) -> dict[str, Any]:
    """Validate the landed batch, write its evidence, stage it when valid."""
    from include.quality.validate import validate_batch, write_evidence

    settings = get_settings()
    spec = load_spec(settings.usecase_spec)
    feed_spec = spec.feed(feed)
    the_day = date.fromisoformat(day)
    files = batches.list_batch_files(settings.landing_uri, feed, the_day)
    if not files:
        raise BatchNotLanded(f"the {feed} batch for {day} disappeared from the landing zone")
    raw = batches.read_batch(feed, the_day, files, max_bytes=feed_spec.max_batch_mb * 1024 * 1024)
    outcome = validate_batch(
        raw,
        feed_spec,
        gx_root=settings.gx_root,
        run_id=run_id,
        existing_keys=lambda: lake.neighbour_keys(
            settings.lake_uri, feed, the_day, feed_spec.key, feed_spec.allowed_lateness_hours
        ),
    )
    try:
        evidence = write_evidence(
            outcome, layout.report_dir(settings.lake_uri, feed, the_day, run_id)
        )
    finally:
        shutil.rmtree(outcome.docs_dir, ignore_errors=True)
    staged = None
    if outcome.typed is not None:
        staged = layout.staging_uri(settings.lake_uri, feed, the_day, run_id)
        lake.stage(outcome.typed, staged)
    report = outcome.report
    return {
        "feed": feed,
        "day": day,
        "run_id": run_id,
        "success": report.success,
        "row_count": report.row_count,
        "staged_uri": staged,
        "failed_checks": [c.name for c in report.failed],
        "dropped_columns": report.dropped_columns,
        **evidence,
    }


def publish(summary: dict[str, Any]) -> dict[str, Any]:
    """Replace the day's partition with the staged batch; the result is the Asset extra."""
    settings = get_settings()
    day = date.fromisoformat(summary["day"])
    staged, current = (
        summary["staged_uri"],
        layout.partition_uri(settings.lake_uri, summary["feed"], day),
    )
    # A re-delivered day with the same content changes nothing downstream: the DAG then
    # emits no validated_* event, so no features run and no retrain follow (fault A5).
    unchanged = (
        storage.exists(staged)
        and storage.exists(current)
        and storage.read_bytes(staged) == storage.read_bytes(current)
    )
    result = lake.publish(staged, settings.lake_uri, summary["feed"], day)
    # The landing copy stays: landing is the source of record; re-runs re-read it.
    return {
        "feed": summary["feed"],
        "unchanged": unchanged,
        **result,
        "validation_result_uri": summary["report_uri"],
        "run_id": summary["run_id"],
    }


def quarantine(summary: dict[str, Any]) -> None:
    """Move the batch to quarantine with its evidence, then fail loudly (one alert mail)."""
    import json

    from include.quality.quarantine import quarantine_batch

    settings = get_settings()
    report = json.loads(storage.read_bytes(summary["report_uri"]))
    dest = layout.quarantine_dir(
        settings.lake_uri, summary["feed"], date.fromisoformat(summary["day"]), summary["run_id"]
    )
    result = quarantine_batch(report, summary, dest)
    raise BatchValidationFailed(result)
