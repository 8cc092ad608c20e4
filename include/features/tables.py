"""Offline feature tables: compute a partition's rows from the lake and write them atomically.

Inputs: the lake (``<lake>/validated/{transactions,labels}/date=<D>/data.parquet``), a list of
partition days, the use-case spec. Outputs: ``<data_root>/features/<view>/date=<D>/data.parquet``
per view and day (one file, temp-then-rename, so a re-run replaces it), and a JSON-able
summary of rows per view and day.

Partition D's rows use the partitions **up to and including D** of both feeds: exactly what
had arrived when D was processed, whatever arrives later. So a partition's table is a pure
function of the lake up to D, and re-running it gives the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from include import storage
from include.data import lake
from include.features import compute, schema
from include.features.schema import FeatureSpec

log = logging.getLogger(__name__)
TX_COLUMNS = [
    "transaction_id",
    "event_timestamp",
    "customer_id",
    "merchant_id",
    "amount",
    "channel",
]
LABEL_COLUMNS = ["transaction_id", "label_timestamp", "is_fraud"]


class PartitionCache:
    """Validated partitions read once per run (a backfill reads each day once, not 40 times)."""

    def __init__(self, lake_uri: str) -> None:
        self.lake_uri = lake_uri
        self._frames: dict[tuple[str, date], pd.DataFrame | None] = {}

    def get(self, feed: str, day: date) -> pd.DataFrame | None:
        if (feed, day) not in self._frames:
            uri = lake.partition_uri(self.lake_uri, feed, day)
            cols = TX_COLUMNS if feed == "transactions" else LABEL_COLUMNS
            self._frames[(feed, day)] = (
                lake.read_partition(self.lake_uri, feed, day, cols) if storage.exists(uri) else None
            )
        return self._frames[(feed, day)]

    def span(self, feed: str, first: date, last: date) -> pd.DataFrame:
        """Every existing partition of ``feed`` in ``[first, last]``, concatenated."""
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        frames = [f for f in (self.get(feed, d) for d in days) if f is not None and len(f)]
        if not frames:
            cols = TX_COLUMNS if feed == "transactions" else LABEL_COLUMNS
            return pd.DataFrame(columns=cols)
        return pd.concat(frames, ignore_index=True)


def partition_tables(
    day: date, cache: PartitionCache, fspec: FeatureSpec
) -> dict[str, pd.DataFrame]:
    """The rows of every view for partition ``day`` (nothing is written)."""
    target = cache.get("transactions", day)
    target = target if target is not None else pd.DataFrame(columns=TX_COLUMNS)
    history = cache.span("transactions", day - timedelta(days=fspec.transaction_lookback_days), day)
    labels = cache.span("labels", day - timedelta(days=fspec.label_lookback_days), day)
    return {
        schema.CUSTOMER_VIEW: compute.customer_stats(history, target, fspec),
        schema.MERCHANT_VIEW: compute.merchant_stats(history, labels, target, day, fspec),
    }


def write_table(frame: pd.DataFrame, data_root: Path, view: str, day: date) -> dict[str, Any]:
    """Replace the view's partition file atomically; an empty frame removes it."""
    path = schema.table_path(data_root, view, day)
    if frame.empty:
        # No rows: no file (an empty Parquet file would still be read by the offline store).
        storage.delete(str(path))
        return {"view": view, "partition": day.isoformat(), "rows": 0, "path": None}
    storage.write_bytes(str(path), lake.to_parquet_bytes(frame))
    return {"view": view, "partition": day.isoformat(), "rows": len(frame), "path": str(path)}


def build_partitions(
    days: Iterable[date], *, lake_uri: str, data_root: Path, fspec: FeatureSpec
) -> dict[str, dict[str, int]]:
    """Compute and write every view for each day; returns ``{day: {view: rows}}``."""
    cache = PartitionCache(lake_uri)
    summary: dict[str, dict[str, int]] = {}
    for day in sorted(set(days)):
        tables = partition_tables(day, cache, fspec)
        summary[day.isoformat()] = {
            view: write_table(frame, data_root, view, day)["rows"] for view, frame in tables.items()
        }
        log.info("features for %s: %s", day, summary[day.isoformat()])
    return summary


def existing_partitions(data_root: Path, view: str) -> list[date]:
    """Days that have a table file for ``view``, oldest first."""
    root = schema.table_dir(data_root, view)
    if not root.is_dir():
        return []
    return sorted(
        date.fromisoformat(p.parent.name.removeprefix("date="))
        for p in root.glob("date=*/data.parquet")
    )
