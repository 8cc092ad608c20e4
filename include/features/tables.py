"""Offline feature tables: compute a partition's rows from the lake and write them atomically.

Inputs: the lake (``<lake>/validated/{transactions,labels}/date=<D>/data.parquet``), a list of
partition days, the use-case spec. Outputs: ``<features>/<view>/date=<D>/data.parquet``
per view and day (one file, temp-then-rename, so a re-run replaces it), and a JSON-able
summary of rows per view and day.

Partition D's rows use the partitions **up to and including D** of both feeds: exactly what
had arrived when D was processed, whatever arrives later. So a partition's table is a pure
function of the lake up to D, and re-running it gives the same bytes.

After every view of D is written, ``<features>/_computed/date=<D>/computed.json`` is written
too (:func:`stale_partitions`): a day whose own lake partition (of either feed) is newer than
that file was published after its tables were computed, so its features are owed, whether
or not an Asset event said so (fault B12: the scheduler can drop an event).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from include import layout, storage
from include.data import lake
from include.features import compute, shards
from include.features.schema import FeatureSpec

log = logging.getLogger(__name__)
# Rows per Parquet row group of a table. Tables are sorted by join key (compute), so a reader
# of a few neighbouring keys decodes a few groups of this size, not the whole day
# (store.read_view: the point-in-time reads of training and scoring, in pieces).
ROW_GROUP_ROWS = 65_536


def transaction_columns(fspec: FeatureSpec) -> list[str]:
    """The events columns the features read (names from the spec)."""
    return [fspec.tx_key, fspec.event_ts, *fspec.join_keys, *fspec.event_columns]


def label_columns(fspec: FeatureSpec) -> list[str]:
    """The labels columns the label aggregations read (names from the spec)."""
    columns = [a.column for v in fspec.views for a in v.aggregates if a.source == "labels"]
    return list(dict.fromkeys([fspec.tx_key, fspec.label_ts, fspec.target, *filter(None, columns)]))


class PartitionCache:
    """Validated partitions read once per run (a backfill reads each day once, not 40 times)."""

    def __init__(self, lake_uri: str, fspec: FeatureSpec) -> None:
        self.lake_uri = lake_uri
        self._columns = {
            fspec.events_feed: transaction_columns(fspec),
            fspec.labels_feed: label_columns(fspec),
        }
        self._frames: dict[tuple[str, date], pd.DataFrame | None] = {}

    def get(self, feed: str, day: date) -> pd.DataFrame | None:
        if (feed, day) not in self._frames:
            uri = layout.partition_uri(self.lake_uri, feed, day)
            cols = self._columns[feed]
            self._frames[(feed, day)] = (
                lake.read_partition(self.lake_uri, feed, day, cols) if storage.exists(uri) else None
            )
        return self._frames[(feed, day)]

    def forget_before(self, day: date) -> None:
        """Drop the frames of days before ``day``: days are computed in order, so no later
        day reads them (a backfill holds one look-back, not every day of the run)."""
        for key in [k for k in self._frames if k[1] < day]:
            del self._frames[key]

    def span(self, feed: str, first: date, last: date) -> pd.DataFrame:
        """Every existing partition of ``feed`` in ``[first, last]``, concatenated."""
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        frames = [f for f in (self.get(feed, d) for d in days) if f is not None and len(f)]
        if not frames:
            return pd.DataFrame(columns=self._columns[feed])
        return pd.concat(frames, ignore_index=True)


def partition_tables(
    day: date, cache: PartitionCache, fspec: FeatureSpec
) -> dict[str, pd.DataFrame]:
    """The rows of every view for partition ``day`` (nothing is written)."""
    target = cache.get(fspec.events_feed, day)
    target = target if target is not None else pd.DataFrame(columns=transaction_columns(fspec))
    lookback = timedelta(days=fspec.transaction_lookback_days)
    history = cache.span(fspec.events_feed, day - lookback, day)
    labels = cache.span(fspec.labels_feed, day - timedelta(days=fspec.label_lookback_days), day)
    return {
        view.name: compute.view_stats(view, history, labels, target, day, fspec)
        for view in fspec.views
    }


def write_table(frame: pd.DataFrame, features_uri: str, view: str, day: date) -> dict[str, Any]:
    """Replace the view's partition file atomically; an empty frame removes it."""
    uri = layout.feature_table_uri(features_uri, view, day)
    if frame.empty:
        # No rows: no file (an empty Parquet file would still be read by the offline store).
        storage.delete(uri)
        return {"view": view, "partition": day.isoformat(), "rows": 0, "path": None}
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, row_group_size=ROW_GROUP_ROWS)
    storage.write_bytes(uri, buf.getvalue())
    return {"view": view, "partition": day.isoformat(), "rows": len(frame), "path": uri}


def build_partitions(
    days: Iterable[date], *, lake_uri: str, features_uri: str, fspec: FeatureSpec
) -> dict[str, dict[str, int]]:
    """Compute and write every view for each day; returns ``{day: {view: rows}}``.

    A day whose look-back holds more than ``shards.SHARD_ROWS`` rows is computed by shards
    of join keys (:mod:`include.features.shards`: the same bytes, a fraction of the memory);
    the others whole, from frames cached for the days after them.
    """
    cache = PartitionCache(lake_uri, fspec)
    reach = timedelta(days=max(fspec.transaction_lookback_days, fspec.label_lookback_days))
    summary: dict[str, dict[str, int]] = {}
    with shards.ShardedLake(lake_uri, fspec) as sharded:
        for day in sorted(set(days)):
            inputs = {
                f: _published_at(lake_uri, f, day) for f in (fspec.events_feed, fspec.labels_feed)
            }
            n = sharded.shard_count(day)
            if n > 1:
                cache.forget_before(day + timedelta(days=1))  # not read: held no longer
                tables = sharded.partition_tables(day, n)
            else:
                cache.forget_before(day - reach)
                tables = partition_tables(day, cache, fspec)
            summary[day.isoformat()] = {
                view: write_table(frame, features_uri, view, day)["rows"]
                for view, frame in tables.items()
            }
            del tables
            _mark_computed(features_uri, day, inputs)
            log.info("features for %s: %s", day, summary[day.isoformat()])
    return summary


def existing_partitions(features_uri: str, view: str) -> list[date]:
    """Days that have a table file for ``view``, oldest first (a listing: nothing is read)."""
    return sorted(
        date.fromisoformat(layout.partition_day(obj.uri))
        for obj in storage.list_objects(layout.feature_table_dir(features_uri, view))
        if obj.name == "data.parquet"
    )


def _published_at(lake_uri: str, feed: str, day: date) -> str | None:
    """When ``feed``'s partition of ``day`` was written (the store's clock), or None."""
    listed = storage.list_objects(storage.join(layout.validated_dir(lake_uri, feed), f"date={day}"))
    times = [o.modified for o in listed if o.name == "data.parquet" and o.modified is not None]
    return times[0].isoformat() if times else None


def _mark_computed(features_uri: str, day: date, inputs: dict[str, str | None]) -> None:
    """Written after every view of ``day``: the write times of the day's own partitions as
    they were listed just before the day was computed (:func:`stale_partitions`)."""
    body = {"partition": day.isoformat(), "inputs": inputs}
    storage.write_bytes(
        layout.computed_marker_uri(features_uri, day), json.dumps(body).encode("utf-8")
    )


def _written_by_day(prefix: str, name: str) -> dict[date, datetime]:
    """Per day, the newest write time of the files called ``name`` under ``prefix``."""
    out: dict[date, datetime] = {}
    for obj in storage.list_objects(prefix):
        if obj.name != name or obj.modified is None:
            continue
        try:
            day = date.fromisoformat(layout.partition_day(obj.uri))
        except ValueError:
            continue
        out[day] = max(out.get(day, obj.modified), obj.modified)
    return out


def stale_partitions(lake_uri: str, features_uri: str, fspec: FeatureSpec) -> list[date]:
    """Days whose own lake partition (of either feed) is not the one their feature tables
    were computed from: published or replaced since, or never computed. What the Asset
    events would have asked for, had none been lost (fault B12). Listings, plus a marker
    read for a day whose partition is older than its marker.

    A day computed before markers existed counts from its oldest table file.
    """
    feeds = (fspec.events_feed, fspec.labels_feed)
    published = {
        feed: _written_by_day(layout.validated_dir(lake_uri, feed), "data.parquet")
        for feed in feeds
    }
    marked = _written_by_day(layout.computed_marker_dir(features_uri), "computed.json")
    tables: dict[date, datetime] = {}
    for view in fspec.views:
        listed = _written_by_day(layout.feature_table_dir(features_uri, view.name), "data.parquet")
        for day, at in listed.items():
            tables[day] = min(tables.get(day, at), at)
    stale = []
    for day in sorted({d for times in published.values() for d in times}):
        newest = max(times[day] for times in published.values() if day in times)
        if day not in marked:
            if day not in tables or tables[day] < newest:
                stale.append(day)
            continue
        if marked[day] < newest:
            stale.append(day)
            continue
        # Listed before the day was read: a partition published while the day was being
        # computed is newer than what the tables saw, though older than the marker.
        seen = json.loads(storage.read_bytes(layout.computed_marker_uri(features_uri, day)))
        current = {f: (t[day].isoformat() if day in t else None) for f, t in published.items()}
        if any(seen.get("inputs", {}).get(f) != current[f] for f in feeds):
            stale.append(day)
    return stale
