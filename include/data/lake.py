"""The data lake's partitions: atomic, idempotent writes and reads.

Where things live is :mod:`include.layout`'s business; this module moves bytes. A partition
is exactly one file written atomically, so re-running a day replaces it and never appends:
row counts stay the same however often a day runs.
"""

from __future__ import annotations

import io
import math
from datetime import date, timedelta
from typing import Any

import pandas as pd

from include import storage
from include.layout import partition_day, partition_uri, quarantine_feed_dir, validated_dir


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def parquet_rows(data: bytes) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)


_FOOTER_GUESS = 64 * 1024  # bytes: most footers fit; a bigger one costs a second read


def partition_rows(lake_uri: str, feed: str, day: date) -> int | None:
    """A partition's row count from its Parquet footer alone (no row is read or decoded);
    None when the day has no partition."""
    uri = partition_uri(lake_uri, feed, day)
    return file_rows(uri) if storage.exists(uri) else None


def file_rows(uri: str) -> int:
    """A Parquet file's row count from its footer alone (no row is read or decoded)."""
    import pyarrow.parquet as pq

    tail = storage.read_tail(uri, _FOOTER_GUESS)
    needed = int.from_bytes(tail[-8:-4], "little") + 8  # footer length, then b"PAR1"
    if needed > len(tail):
        tail = storage.read_tail(uri, needed)
    return int(pq.ParquetFile(io.BytesIO(tail[-needed:])).metadata.num_rows)


def stage(frame: pd.DataFrame, uri: str) -> None:
    storage.write_bytes(uri, to_parquet_bytes(frame))


def publish(staged: str, lake_uri: str, feed: str, day: date) -> dict[str, Any]:
    """Move the staged file into its partition (replacing it) and read the result back."""
    target = partition_uri(lake_uri, feed, day)
    if storage.exists(staged):
        storage.move(staged, target)
    elif not storage.exists(target):
        raise FileNotFoundError(f"nothing staged at {staged} and no partition at {target}")
    # else: a retry after the move already happened; the partition is the staged data.
    rows = parquet_rows(storage.read_bytes(target))
    return {"partition": day.isoformat(), "uri": target, "rows": rows}


def read_partition(
    lake_uri: str, feed: str, day: date, columns: list[str] | None = None
) -> pd.DataFrame:
    uri = partition_uri(lake_uri, feed, day)
    return pd.read_parquet(io.BytesIO(storage.read_bytes(uri)), columns=columns)


def neighbour_keys(
    lake_uri: str, feed: str, day: date, key: str, lateness_hours: float
) -> dict[str, set[Any]]:
    """Keys published in the partitions around ``day`` (not ``day`` itself, which a re-run
    replaces): where a re-delivered or overlapping batch would have landed its rows."""
    reach = math.ceil(lateness_hours / 24) + 1
    out: dict[str, set[Any]] = {}
    for offset in range(-reach, reach + 1):
        other = day + timedelta(days=offset)
        if offset == 0 or not storage.exists(partition_uri(lake_uri, feed, other)):
            continue
        out[other.isoformat()] = set(read_partition(lake_uri, feed, other, [key])[key])
    return out


def partitions(lake_uri: str, feed: str) -> list[date]:
    """Days with a published partition, oldest first (a listing: no file is read)."""
    days = {
        date.fromisoformat(partition_day(obj.uri))
        for obj in storage.list_objects(validated_dir(lake_uri, feed))
        if obj.name == "data.parquet"
    }
    return sorted(days)


def quarantined_days(lake_uri: str, feed: str) -> list[date]:
    """Days with at least one quarantined batch of ``feed``, oldest first (a listing)."""
    root = quarantine_feed_dir(lake_uri, feed)
    days = set()
    for obj in storage.list_objects(root):
        try:
            days.add(date.fromisoformat(obj.uri[len(root) :].strip("/").split("/")[0]))
        except ValueError:
            continue
    return sorted(days)


def partition_row_counts(lake_uri: str, feed: str) -> dict[str, int]:
    """Rows per published partition. Reads every partition's footer: for tests and checks,
    not for a pipeline's hot path (use :func:`partitions`)."""
    return {
        day.isoformat(): parquet_rows(storage.read_bytes(partition_uri(lake_uri, feed, day)))
        for day in partitions(lake_uri, feed)
    }
