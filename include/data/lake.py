"""The data lake's layout and its atomic, idempotent writes.

    <lake>/validated/<feed>/date=<YYYY-MM-DD>/data.parquet   one file per partition
    <lake>/staging/<feed>/<YYYY-MM-DD>/<run>.parquet          validated, not yet published
    <lake>/reports/validation/<feed>/<YYYY-MM-DD>/<run>/      validation result + Data Docs
    <lake>/quarantine/<feed>/<YYYY-MM-DD>/<run>/              raw files + evidence

A partition is exactly one file written atomically, so re-running a day replaces it and
never appends: row counts stay the same however often a day runs.
"""

from __future__ import annotations

import io
import math
import re
from datetime import date, timedelta
from typing import Any

import pandas as pd

from include import storage

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def run_slug(run_id: str) -> str:
    """A run id as one safe path segment (run ids hold ':' and '+'; never '..')."""
    slug = _UNSAFE.sub("_", run_id).strip("._") or "run"
    return slug[:120]


def partition_uri(lake_uri: str, feed: str, day: date) -> str:
    return storage.join(lake_uri, "validated", feed, f"date={day.isoformat()}", "data.parquet")


def staging_uri(lake_uri: str, feed: str, day: date, run_id: str) -> str:
    return storage.join(lake_uri, "staging", feed, day.isoformat(), f"{run_slug(run_id)}.parquet")


def report_dir(lake_uri: str, feed: str, day: date, run_id: str) -> str:
    return storage.join(lake_uri, "reports", "validation", feed, day.isoformat(), run_slug(run_id))


def quarantine_dir(lake_uri: str, feed: str, day: date, run_id: str) -> str:
    return storage.join(lake_uri, "quarantine", feed, day.isoformat(), run_slug(run_id))


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def parquet_rows(data: bytes) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)


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


def partition_row_counts(lake_uri: str, feed: str) -> dict[str, int]:
    """Rows per published partition, for tests, benches and the README's checks."""
    prefix = storage.join(lake_uri, "validated", feed)
    counts = {}
    for obj in storage.list_objects(prefix):
        if obj.name == "data.parquet":
            part = obj.uri.rstrip("/").split("/")[-2].removeprefix("date=")
            counts[part] = parquet_rows(storage.read_bytes(obj.uri))
    return counts
