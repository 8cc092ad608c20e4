"""The current window of production: what was scored, what was served, what was labelled.

* :func:`scored`: the batch scores of the window's days (``<lake>/predictions/date=D/``,
  written by ``score_transactions``): the model's features *as they were scored* and the
  score, one row per validated transaction; unscored rows (no features) are left out.
* :func:`captured`: the online requests served in the window (``<lake>/capture/``): the
  features as the service looked them up, joined to the batch rows for the skew report.
* :func:`labelled`: the window's transactions whose label has matured (older than the
  longest label delay at the newest label delivery), with their score and label;
  :func:`matured`: the newest window whose labels have all matured (a nightly run judges
  quality there, since its own window is too young to hold matured labels).
* :func:`quarantined`: the window's days whose batch was quarantined and never published:
  an upstream data-quality failure, which monitoring reports and never retrains on.

Malformed input (a missing column, a non-numeric feature, a broken capture line) raises
:class:`MonitoringInputInvalid` naming the file: a loud failure, never a silent pass.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from include import layout, storage
from include.data import lake, sample
from include.monitoring.errors import MonitoringInputInvalid
from include.spec import UseCaseSpec

SCORE = "score"
# Columns every predictions partition has besides the model's features (include.scoring).
_SCORED_COLUMNS = ("score", "scored", "model_version")


@dataclass(frozen=True)
class Window:
    """The inclusive days a monitoring run judges."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"window ends ({self.last}) before it starts ({self.first})")

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"

    def __str__(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def resolve(
    run_day: date, window_days: int, start: str | None = None, end: str | None = None
) -> Window:
    """The window a run judges: ``start``..``end`` when given, else the ``window_days`` days
    ending the day before ``run_day`` (a nightly run judges the days that are complete)."""
    last = date.fromisoformat(end) if end else run_day - timedelta(days=1)
    first = date.fromisoformat(start) if start else last - timedelta(days=window_days - 1)
    return Window(first, last)


def matured(label_days: list[date], window_days: int, maturity_days: float) -> Window | None:
    """The newest window of ``window_days`` days whose labels have all matured: it ends
    ``maturity_days`` (``labels.max_delay_days``: the maturity, or the longest positive
    delay if longer) before the newest label delivery, the last day :func:`labelled` keeps
    whole. None before any label partition. The nightly window ends yesterday and so never
    holds matured labels; quality is judged on this one instead, with no dates to choose."""
    if not label_days:
        return None
    last = max(label_days) - timedelta(days=math.ceil(maturity_days))
    return Window(last - timedelta(days=window_days - 1), last)


def for_quality(
    win: Window, label_days: list[date], max_delay_days: float, *, chosen: bool
) -> Window:
    """The window quality is judged on: ``win`` when a person ``chosen`` its dates (their
    question, as asked), else the :func:`matured` window of the same length (``win`` before
    any label delivery)."""
    if chosen:
        return win
    return matured(label_days, len(win.days), max_delay_days) or win


@dataclass
class Scored:
    """The window's scored rows (features as scored, score) and what was not there."""

    frame: pd.DataFrame
    days_present: list[str] = field(default_factory=list)
    days_missing: list[str] = field(default_factory=list)
    rows_total: int = 0  # scored + unscored (every row of the window, sampled or not)
    model_versions: dict[str, int] = field(default_factory=dict)  # rows read, per version
    sampling: sample.Sampling = field(default_factory=lambda: sample.Sampling(1.0, 0))


def _numeric(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise MonitoringInputInvalid(f"{where}: non-numeric values in {bad}")


def scored(
    lake_uri: str,
    window: Window,
    spec: UseCaseSpec,
    features: list[str],
    rate: float | None = None,
) -> Scored:
    """The batch scores of the window (see the module docstring).

    Beyond ``monitoring.max_read_rows`` rows in the window (their Parquet footers, read
    first), a uniform sample by event key hash (:mod:`include.data.sample`) is kept from each
    row group as it is read, so the window is never held whole; ``rate`` forces one (the
    drift window's, for another window of the same run). ``rows_total`` stays exact."""
    names = spec.names
    required = [names.tx_key, names.event_ts, *_SCORED_COLUMNS, *features]
    present, missing, sizes = [], [], {}
    for day in window.days:
        uri = layout.predictions_uri(lake_uri, day)
        if not storage.exists(uri):
            missing.append(day.isoformat())
            continue
        try:
            sizes[day] = lake.file_rows(uri)
        except Exception as exc:  # noqa: BLE001 (any parse error: the file is malformed)
            raise MonitoringInputInvalid(f"{uri}: not a readable Parquet file: {exc}") from exc
        present.append(day.isoformat())
    total = sum(sizes.values())
    if rate is None:
        rate = sample.rate_for(total, spec.monitoring.max_read_rows)
    frames = [_read_scored(lake_uri, day, required, features, rate, spec) for day in sizes]
    if frames:
        out = pd.concat(frames, ignore_index=True)
    else:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in required})
    versions = out["model_version"].astype(str).value_counts().to_dict() if len(out) else {}
    return Scored(
        out,
        present,
        missing,
        total,
        {str(k): int(v) for k, v in versions.items()},
        sample.Sampling(rate, len(out)),
    )


def _read_scored(
    lake_uri: str,
    day: date,
    required: list[str],
    features: list[str],
    rate: float,
    spec: UseCaseSpec,
) -> pd.DataFrame:
    """One day's scored rows, only the ``required`` columns, kept at ``rate`` by key hash
    row group by row group (one group of the partition decoded at a time)."""
    import pyarrow.parquet as pq

    uri = layout.predictions_uri(lake_uri, day)
    try:
        file = pq.ParquetFile(io.BytesIO(storage.read_bytes(uri)))
        absent = [c for c in required if c not in file.schema_arrow.names]
        if absent:
            raise MonitoringInputInvalid(
                f"{uri}: missing columns {absent}; the champion's features and the scoring "
                "columns are required (re-run score_transactions for that day)"
            )
        pieces = []
        for group in range(file.num_row_groups):
            frame = file.read_row_group(group, columns=required).to_pandas()
            frame = sample.keep(frame, spec.names.tx_key, rate)
            pieces.append(frame[frame["scored"].astype(bool)])
        frame = (
            pd.concat(pieces, ignore_index=True)
            if pieces
            else file.schema_arrow.empty_table().select(required).to_pandas()
        )
    except MonitoringInputInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 (any parse error: the file is malformed)
        raise MonitoringInputInvalid(f"{uri}: not a readable Parquet file: {exc}") from exc
    _numeric(frame, [SCORE, *features], uri)
    return frame[required]


def captured(
    lake_uri: str, window: Window, spec: UseCaseSpec, features: list[str], rate: float = 1.0
) -> pd.DataFrame:
    """Scored online requests served in the window: key, served_at, model_version, score and
    the features as served (one row per request; a transaction asked twice counts twice).
    ``rate``: the scored window's sample rate (:attr:`Scored.sampling`): the same
    transactions are kept, so every skew pair the whole window has among them is kept."""
    key = spec.names.tx_key
    rows: list[dict] = []
    for day in window.days:
        for obj in storage.list_objects(layout.capture_dir(lake_uri, day)):
            if not obj.name.endswith(".jsonl"):
                continue
            rows.extend(_kept(_capture_rows(obj.uri, key, features), key, rate))
    columns = [key, "served_at", "model_version", SCORE, *features]
    frame = pd.DataFrame(rows, columns=columns)
    for column in [SCORE, *features]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _kept(rows: list[dict], key: str, rate: float) -> list[dict]:
    if rate >= 1.0 or not rows:
        return rows
    hashes = sample.key_hash(pd.Series([r[key] for r in rows]))
    return [r for r, h in zip(rows, hashes, strict=True) if h < rate]


def _capture_rows(uri: str, key: str, features: list[str]) -> list[dict]:
    """One capture file's scored records as rows (a broken line names the file and line)."""
    rows: list[dict] = []
    for n, line in enumerate(storage.read_bytes(uri).decode().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not record.get("scored"):
                continue
            values = record["features"]
            row = {
                key: record["transaction_id"],
                "served_at": record["served_at"],
                "model_version": str(record.get("model_version")),
                SCORE: record.get("score"),
            }
            for f in features:
                value = values.get(f)
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int | float)
                ):
                    raise ValueError(f"feature {f!r} is not a number: {value!r}")
                row[f] = value
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MonitoringInputInvalid(
                f"{uri} line {n}: not a capture record ({type(exc).__name__}: {exc})"
            ) from exc
        rows.append(row)
    return rows


def skew_pairs(
    online: pd.DataFrame, offline: pd.DataFrame, key: str, features: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The captured requests that have a batch row: (offline, online) feature frames of the
    same transactions, row for row."""
    if online.empty or offline.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in features})
        return empty, empty.copy()
    batch = offline.drop_duplicates(key).set_index(key)
    matched = online[online[key].isin(batch.index)]
    off = batch.loc[matched[key], features].reset_index(drop=True)
    on = matched[features].reset_index(drop=True)
    return off.astype("float64"), on.astype("float64")


def labelled(
    lake_uri: str, window: Window, spec: UseCaseSpec, current: pd.DataFrame
) -> pd.DataFrame:
    """The window's scored transactions whose label has *matured*: key, score, target.

    Labels are delivered on the day they are known (chargebacks days later, genuine
    confirmations after the maturity period). Only a transaction older than the longest
    label delay (``labels.max_delay_days``) at the newest label delivery has its final label:
    a younger one is labelled only if it is a fraud, which would tilt every metric. So the
    rows kept are those matured by the end of the newest label partition, joined to their
    label (every label partition from the window's first day on; the newest label wins)."""
    names = spec.names
    target = names.target
    days = [d for d in lake.partitions(lake_uri, names.labels_feed) if d >= window.first]
    frames = []
    for day in days:
        frame = lake.read_partition(lake_uri, names.labels_feed, day)
        absent = [c for c in (names.tx_key, names.label_ts, target) if c not in frame.columns]
        if absent:
            uri = layout.partition_uri(lake_uri, names.labels_feed, day)
            raise MonitoringInputInvalid(f"{uri}: missing columns {absent}")
        # Only the labels of scored rows are held (a sampled window's: its sample's).
        frame = frame[frame[names.tx_key].isin(current[names.tx_key])]
        frames.append(frame[[names.tx_key, names.label_ts, target]])
    columns = [names.tx_key, SCORE, target]
    if not frames or current.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    labels = (
        pd.concat(frames, ignore_index=True)
        .sort_values(names.label_ts)
        .drop_duplicates(names.tx_key, keep="last")
    )
    as_of = pd.Timestamp(days[-1] + timedelta(days=1), tz="UTC")
    delay = pd.Timedelta(days=spec.labels.max_delay_days)
    stamps = pd.to_datetime(current[names.event_ts], utc=True)
    matured = current[stamps + delay <= as_of]
    joined = matured[[names.tx_key, SCORE]].merge(labels, on=names.tx_key, how="inner")
    joined[target] = spec.model.positives(joined[target]).astype(np.int64)
    return joined[columns].reset_index(drop=True)


def quarantined(lake_uri: str, window: Window, feeds: list[str]) -> dict[str, list[str]]:
    """Per feed, the window's days that were quarantined and have no published partition."""
    out: dict[str, list[str]] = {}
    for feed in feeds:
        published = set(lake.partitions(lake_uri, feed))
        bad = []
        for day in window.days:
            if day in published:
                continue
            folder = layout.quarantine_day_dir(lake_uri, feed, day)
            if storage.list_objects(folder):
                bad.append(day.isoformat())
        if bad:
            out[feed] = bad
    return out
