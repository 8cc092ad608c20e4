"""The steps of the ``materialize_features`` DAG, one function per task (Airflow-free).

    resolve_partitions → compute_tables ─┐
    apply_definitions ───────────────────┴→ materialize_partitions → features_event

Inputs: partition days (from asset events, a manual range, or the latest partitions) and
settings. Outputs: JSON-able summaries; the last one is the ``features`` Asset event's extra.
Re-running any step with the same lake gives the same tables and online values (tables are
replaced per partition, the online store is written with an event-time guard).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from include.config import Settings, get_settings
from include.data import lake
from include.features import store, tables
from include.spec import load_spec

log = logging.getLogger(__name__)


class NoPartitionsToCompute(ValueError):
    """Nothing validated to compute features from (empty lake, or a range without data)."""


def _existing(settings: Settings, feed: str) -> list[date]:
    return lake.partitions(settings.lake_uri, feed)


def resolve_partitions(
    event_partitions: Iterable[str],
    start_date: str | None = None,
    end_date: str | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """The partition days to (re)compute, oldest first.

    A manual range wins (every day in it that has a validated partition of either feed);
    otherwise the partitions named by the triggering asset events; otherwise (a manual run
    without a range) the latest partition of each feed. Without a range, every day whose
    tables are older than its partitions is added (``tables.stale_partitions``): a partition
    whose Asset event the scheduler dropped gets its features from the next run (B12).
    """
    settings = settings or get_settings()
    feeds = list(load_spec(settings.usecase_spec).feeds)
    if start_date or end_date:
        first = date.fromisoformat(start_date or end_date or "")
        last = date.fromisoformat(end_date or start_date or "")
        if last < first:
            raise NoPartitionsToCompute(f"end_date {last} is before start_date {first}")
        days = {d for feed in feeds for d in _existing(settings, feed) if first <= d <= last}
        where = f"between {first} and {last}"
    elif named := {date.fromisoformat(p) for p in event_partitions if p}:
        days, where = named, "in the triggering events"
    else:
        days = {ds[-1] for feed in feeds if (ds := _existing(settings, feed))}
        where = "in the lake"
    if not (start_date or end_date):
        fspec = store.feature_spec_from(settings)
        if (
            owed := set(tables.stale_partitions(settings.lake_uri, settings.features_uri, fspec))
            - days
        ):
            log.warning(
                "features owed by days no event named (published or replaced after their "
                "tables were computed): %s",
                ", ".join(d.isoformat() for d in sorted(owed)),
            )
            days |= owed
    if not days:
        raise NoPartitionsToCompute(
            f"no validated partitions {where} (lake: {settings.lake_uri}); ingest first"
        )
    return [d.isoformat() for d in sorted(days)]


def compute_tables(days: list[str], settings: Settings | None = None) -> dict[str, Any]:
    """Write the feature tables of ``days``; returns rows per day and view."""
    settings = settings or get_settings()
    return tables.build_partitions(
        [date.fromisoformat(d) for d in days],
        lake_uri=settings.lake_uri,
        features_uri=settings.features_uri,
        fspec=store.feature_spec_from(settings),
    )


def apply_definitions(settings: Settings | None = None) -> dict[str, Any]:
    return store.apply_definitions(settings)


def materialization_window(days: list[str], overlap_days: int) -> tuple[datetime, datetime]:
    """From ``overlap_days`` before the first day (late rows, A7) to just after the last
    day's end-of-day rows (stamped at the next midnight)."""
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    start = datetime.combine(first - timedelta(days=overlap_days), time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(1), tzinfo=UTC)
    return start, end


def materialize_partitions(days: list[str], settings: Settings | None = None) -> dict[str, Any]:
    """Materialize the window covering ``days`` into the online store (guarded, see store)."""
    settings = settings or get_settings()
    fspec = store.feature_spec_from(settings)
    start, end = materialization_window(days, fspec.materialize_overlap_days)
    return store.materialize(start, end, settings)


def features_event(
    days: list[str], table_rows: dict[str, Any], materialized: dict[str, Any]
) -> dict[str, Any]:
    """The ``features`` Asset event's extra: what the training DAG needs to know."""
    fspec = store.feature_spec_from()
    views: dict[str, int] = {}
    for per_view in table_rows.values():
        for view, rows in per_view.items():
            views[view] = views.get(view, 0) + int(rows)
    return {
        "partitions": days,
        "rows": table_rows,
        "rows_per_view": views,
        "feature_service": fspec.feature_service,
        "project": fspec.project,
        "materialized": {"start": materialized["start"], "end": materialized["end"]},
    }
