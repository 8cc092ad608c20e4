"""The ingest stage as plain functions, one per DAG task (see ``dags/ingest_*.py``).

Each takes and returns small JSON-able values (days, URIs, summaries) so tasks pass
references, not data, through XCom. Settings and the use-case spec are read when called.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from typing import Any

from include import layout, storage
from include.config import get_settings
from include.data import batches, lake
from include.notify.templates import TaskContext
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
    from include.privacy import pseudonym
    from include.privacy.masking import mask_report
    from include.quality import acceptance
    from include.quality.history import load_history
    from include.quality.validate import validate_batch, write_evidence

    settings = get_settings()
    spec = load_spec(settings.usecase_spec)
    feed_spec = spec.feed(feed)
    the_day = date.fromisoformat(day)
    files = batches.list_batch_files(settings.landing_uri, feed, the_day)
    if not files:
        raise BatchNotLanded(f"the {feed} batch for {day} disappeared from the landing zone")
    raw = batches.read_batch(feed, the_day, files, max_bytes=feed_spec.max_batch_mb * 1024 * 1024)
    pii = feed_spec.pii_columns
    pseudo = pseudonym.for_platform(settings.lake_uri) if pii else None
    digest = acceptance.batch_digest([f.sha256 for f in raw.files])
    outcome = validate_batch(
        raw,
        feed_spec,
        gx_root=settings.gx_root,
        run_id=run_id,
        existing_keys=lambda: lake.neighbour_keys(
            settings.lake_uri, feed, the_day, feed_spec.key, feed_spec.allowed_lateness_hours
        ),
        history=load_history(spec, feed, the_day, settings.lake_uri),
        accepted=acceptance.accepted(settings.lake_uri, feed, the_day, digest),
        pseudonymiser=pseudo,
    )
    reports = layout.report_dir(settings.lake_uri, feed, the_day, run_id)
    try:
        if pseudo is None:
            evidence = write_evidence(outcome, reports)
        else:
            masked = mask_report(outcome.report.to_dict(), pii, feed_spec.key, pseudo)
            if outcome.report.success:  # its Data Docs list no failing (raw) value
                evidence = write_evidence(outcome, reports, report=masked)
            else:
                # The raw values it names stay with the raw files, in quarantine only;
                # the lake and the mails get the masked report.
                evidence = write_evidence(
                    outcome, layout.quarantine_dir(settings.lake_uri, feed, the_day, run_id)
                )
                masked_uri = layout.evidence(reports, layout.VALIDATION_RESULT)
                storage.write_bytes(masked_uri, json.dumps(masked, indent=2).encode())
                evidence["masked_report_uri"] = masked_uri
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
        "warnings": [c.name for c in report.warnings],
        "causes": report.causes,
        "arrived": raw.arrived.isoformat() if raw.arrived else None,
        "profile_version": report.profile_version,
        "digest": digest,
        "accepted_by": (report.accepted or {}).get("by"),
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
    normal = learn(summary["feed"], day, summary.get("arrived"), summary["run_id"])
    expire(summary["feed"])
    return {
        "feed": summary["feed"],
        "unchanged": unchanged,
        **result,
        "validation_result_uri": summary["report_uri"],
        "run_id": summary["run_id"],
        "profile_version": normal,
    }


def learn(feed: str, day: date, arrived: str | None, run_id: str) -> int | None:
    """The published partition's statistics join the feed's profile (a new version when the
    last ``history.partitions`` partitions changed); returns the profile's version."""
    from include.quality import profile

    settings = get_settings()
    spec = load_spec(settings.usecase_spec)
    feed_spec, ids = spec.feed(feed), profile.identifiers(spec, feed)
    stats = profile.partition_stats(
        lake.read_partition(settings.lake_uri, feed, day),
        feed_spec,
        day,
        identifiers=ids,
        arrived=datetime.fromisoformat(arrived) if arrived else None,
    )
    profile.record_partition(settings.lake_uri, feed, day, stats)
    built = profile.rebuild(
        settings.lake_uri, feed_spec, run_id, ids, ramp_days=profile.ramp_days(spec, feed)
    )
    return built.version if built else None


def warn(summary: dict[str, Any], ctx: TaskContext) -> bool:
    """Mail once what changed in a published batch whose history checks only warned;
    returns whether this call sent it. Once per batch: a retried task or a re-run of the
    day with the same files sends no second mail; a new delivery for the day does."""
    from include.notify import send_alert
    from include.quality.alerts import batch_warned

    if not summary.get("warnings"):
        return False
    if summary.get("accepted_by"):
        print(f"accepted as the new normal by {summary['accepted_by']}: no warning mail")
        return False
    report = json.loads(storage.read_bytes(summary["report_uri"]))
    marker = layout.warning_marker_uri(
        get_settings().lake_uri,
        summary["feed"],
        date.fromisoformat(summary["day"]),
        summary["digest"],
    )
    if storage.exists(marker):
        print(f"the warning about this batch was mailed already ({marker})")
        return False
    minimum = load_spec(get_settings().usecase_spec).feed(summary["feed"]).history.min_partitions
    send_alert(batch_warned(ctx, report, summary, minimum))
    storage.write_bytes(marker, json.dumps({"run_id": summary["run_id"]}).encode())
    return True


def quarantine(summary: dict[str, Any]) -> None:
    """Move the batch to quarantine with its evidence, then fail loudly (one alert mail)."""
    from include.quality.quarantine import quarantine_batch

    settings = get_settings()
    # With pii columns, what people read (the summary, the mail) comes from the masked copy.
    report = json.loads(
        storage.read_bytes(summary.get("masked_report_uri") or summary["report_uri"])
    )
    dest = layout.quarantine_dir(
        settings.lake_uri, summary["feed"], date.fromisoformat(summary["day"]), summary["run_id"]
    )
    result = quarantine_batch(report, summary, dest)
    expire(summary["feed"])
    raise BatchValidationFailed(result)


def expire(feed: str) -> dict[str, Any] | None:
    """Delete the feed's quarantine evidence older than ``privacy.quarantine_retention_days``
    (include/quality/retention.py); every ingest run does, whatever its batch's outcome,
    without a task of its own. A failure is logged, never fails the batch: the next run
    retries it."""
    import logging

    from include.quality import retention

    settings = get_settings()
    days = load_spec(settings.usecase_spec).privacy.quarantine_retention_days
    try:
        result = retention.expire_quarantine(settings.lake_uri, feed, days)
    except Exception:  # noqa: BLE001 - retried by the next run; the batch is not at fault
        logging.getLogger(__name__).exception("quarantine retention of %s failed", feed)
        return None
    if result.expired or result.undated:
        print(f"quarantine retention ({days} days): {result.to_dict()}")
    return result.to_dict()
