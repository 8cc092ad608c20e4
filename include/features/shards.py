"""A day's feature tables computed by shards of join keys, when its look-back is big.

``tables.partition_tables`` holds a day's whole look-back of both feeds in pandas (the fraud
spec reads 40 days of events and 33 of labels) plus every intermediate of the aggregations:
6.5 GB at 1M rows a day over 8 days of lake (bench/README.md), ~62 GB projected at 10M.
Every aggregation of a view is per join key (:mod:`include.features.compute`), so the rows
can be computed for a part of the keys at a time and put together. This module does that
when the rows a day reads exceed :data:`SHARD_ROWS`, and its tables are byte-identical to the
unsharded ones (tests/unit/features/test_tables_shards.py).

With N = ceil(rows / SHARD_ROWS) shards, a row's shard is a stable hash of its join key (typed
as the tables type it) modulo N; each join key of the spec has its own split.

1. **Split.** Each lake partition of the look-back is read once (Arrow, only the columns the
   views read) and written to local scratch as an Arrow IPC file per join key whose record
   batch *i* holds the rows of shard *i* in their order. A backfill reuses them day to day.
2. **Route labels.** A label counts for the entity of its event, found by the event key: the
   earliest of that event's rows (``compute._labels_of``), in any partition. The event keys
   of both feeds are split into N buckets by their hash and each bucket is joined on its own:
   every label gets the shard of its event's row, or none (no event, so never counted), and
   each labels partition is split by that.
3. **Compute.** Per join key and shard, every partition's piece is read back with the dtypes
   the whole partition has in pandas, the pieces concatenated with the dtypes the whole span
   has (``PartitionCache.span``), and ``compute.view_stats`` runs on them with the earliest
   stamp of the whole day (``first_stamp``: the floats of cumulative sums then match).
4. **Assemble.** A view's shard rows are concatenated and sorted by (key, stamp): the order
   ``view_stats`` gives, and no two rows share both.

Memory: one partition (Arrow) while splitting, one shard while computing, and the day's
output tables. Disk: the look-back once, lz4-compressed, under the system temp folder,
removed when the run ends.
"""

from __future__ import annotations

import io
import logging
import math
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from include import layout, storage
from include.data import lake
from include.features import compute, schema
from include.features.schema import FeatureSpec, View

log = logging.getLogger(__name__)
# Rows a day may read (events and counted labels of its look-back) before it is computed in
# shards: at ~1 KB a row for the history and its intermediates (bench/README.md), ~2 GB.
SHARD_ROWS = 2_000_000
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass(frozen=True)
class _Group:
    """The views of one join key, and the columns they read of each feed."""

    index: int
    key: str
    key_type: str
    views: tuple[View, ...]
    events: tuple[str, ...]
    labels: tuple[str, ...]  # empty: no view of the key counts labels


@dataclass(frozen=True)
class _Split:
    """A partition's rows in one IPC file whose record batch i is shard (or bucket) i."""

    path: Path
    rows: int  # of the whole partition
    sample: pd.DataFrame  # its dtypes in pandas, and which columns are all missing


def _groups(fspec: FeatureSpec) -> list[_Group]:
    by_key: dict[str, list[View]] = {}
    for view in fspec.views:
        by_key.setdefault(view.join_key, []).append(view)
    out = []
    for index, (key, views) in enumerate(by_key.items()):
        aggs = [a for v in views for a in v.aggregates]
        events = [fspec.event_ts, key, *(a.column for a in aggs if a.source == "events")]
        labels: list[str | None] = []
        if any(a.source == "labels" for a in aggs):
            events.insert(0, fspec.tx_key)  # the labels' join to their event
            labels = [
                fspec.tx_key,
                fspec.label_ts,
                *(a.column for a in aggs if a.source != "events"),
            ]
        out.append(
            _Group(
                index,
                key,
                views[0].key_type,
                tuple(views),
                tuple(c for c in dict.fromkeys(events) if c is not None),
                tuple(c for c in dict.fromkeys(labels) if c is not None),
            )
        )
    return out


class ShardedLake:
    """The lake read by shards of join keys for a run of days (a context: it owns scratch)."""

    def __init__(self, lake_uri: str, fspec: FeatureSpec) -> None:
        self.lake_uri, self.fspec = lake_uri, fspec
        self.groups = _groups(fspec)
        self.counted = [g for g in self.groups if g.labels]  # groups whose views count labels
        self._rows: dict[tuple[str, date], int | None] = {}
        self._splits: dict[tuple[str, date, int, int, date | None], _Split] = {}
        self._scratch: Path | None = None

    def __enter__(self) -> ShardedLake:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        self._splits.clear()

    # ------------------------------------------------------------------ how many shards
    def rows(self, feed: str, day: date) -> int | None:
        if (feed, day) not in self._rows:
            self._rows[(feed, day)] = lake.partition_rows(self.lake_uri, feed, day)
        return self._rows[(feed, day)]

    def _span(self, feed: str, day: date, lookback: int) -> list[date]:
        """Days in ``[day - lookback, day]`` whose partition of ``feed`` has rows."""
        days = (day - timedelta(days=lookback - i) for i in range(lookback + 1))
        return [d for d in days if self.rows(feed, d)]

    def _spans(self, day: date) -> tuple[list[date], list[date]]:
        fspec = self.fspec
        events = self._span(fspec.events_feed, day, fspec.transaction_lookback_days)
        labels = self._span(fspec.labels_feed, day, fspec.label_lookback_days)
        return events, labels if self.counted else []

    def shard_count(self, day: date) -> int:
        """Shards for ``day``: 1 (compute it whole) unless it reads over SHARD_ROWS rows."""
        events, labels = self._spans(day)
        rows = sum(self.rows(self.fspec.events_feed, d) or 0 for d in events)
        rows += sum(self.rows(self.fspec.labels_feed, d) or 0 for d in labels)
        return max(1, math.ceil(rows / SHARD_ROWS))

    # ------------------------------------------------------------------ the day's tables
    def partition_tables(self, day: date, shards: int) -> dict[str, pd.DataFrame]:
        """What ``tables.partition_tables`` gives for ``day``, computed in ``shards`` shards."""
        fspec, n = self.fspec, shards
        events, labels = self._spans(day)
        self._forget(events, labels, n, day)
        for d in dict.fromkeys([*events, day]):
            if self.rows(fspec.events_feed, d) is not None:
                self._split_events(d, n)
        if labels and events:
            self._split_labels(events, labels, n, day)
        parts: dict[str, list[pd.DataFrame]] = {v.name: [] for v in fspec.views}
        for group in self.groups:
            first = self._first_stamps(group, day, n)
            history_splits = [self._splits[("events", d, group.index, n, None)] for d in events]
            label_splits = [
                self._splits[("labels", d, group.index, n, day)]
                for d in (labels if group.labels and events else [])
            ]
            for i in range(n):
                history = _gather(history_splits, i, group.events)
                found = _gather(label_splits, i, group.labels)
                target = self._target(group, day, n, i)
                for view in group.views:
                    parts[view.name].append(
                        compute.view_stats(
                            view,
                            history,
                            found,
                            target,
                            day,
                            fspec,
                            first_stamp=first.get(view.name),
                        )
                    )
                del history, found, target  # one shard's frames at a time
        for key in [k for k in self._splits if k[4] == day]:  # this day's label splits
            self._splits.pop(key).path.unlink(missing_ok=True)
        log.info("features for %s computed in %d shards of join keys", day, n)
        return {v.name: _assemble(parts.pop(v.name), v) for v in fspec.views}

    def _target(self, group: _Group, day: date, n: int, i: int) -> pd.DataFrame:
        """Shard ``i`` of the day's own events (``PartitionCache.get``'s frame)."""
        split = self._splits.get(("events", day, group.index, n, None))
        if split is None:
            return pd.DataFrame(columns=list(group.events))
        return _piece(split, i)

    def _first_stamps(self, group: _Group, day: date, n: int) -> dict[str, pd.Timestamp]:
        """Per per-event view of ``group``: the earliest stamp of the whole day's events."""
        split = self._splits.get(("events", day, group.index, n, None))
        views = [v for v in group.views if v.stamps == "per_event"]
        out: dict[str, pd.Timestamp] = {}
        if split is None or not views:
            return out
        for i in range(n):
            target = _piece(split, i, [self.fspec.event_ts, group.key])
            for view in views:
                got = compute.earliest_stamp(view, target, self.fspec)
                if got is not None and (view.name not in out or got < out[view.name]):
                    out[view.name] = got
        return out

    # ------------------------------------------------------------------ splitting
    def _path(self, name: str) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="mlops-feature-shards-"))
        return self._scratch / name

    def _read(self, feed: str, day: date, columns: list[str]) -> pa.Table:
        """The partition's columns as ``pd.read_parquet`` reads them (pandas metadata kept)."""
        data = storage.read_bytes(layout.partition_uri(self.lake_uri, feed, day))
        return pq.read_table(io.BytesIO(data), columns=columns, use_pandas_metadata=True)

    def _split_events(self, day: date, n: int) -> None:
        """Split an events partition by each join key's shard, and its event keys by bucket."""
        todo = [g for g in self.groups if ("events", day, g.index, n, None) not in self._splits]
        if not todo:
            return
        columns = list(dict.fromkeys(c for g in self.groups for c in g.events))
        table = self._read(self.fspec.events_feed, day, columns)
        sample = _sample(table)
        shards = {g.index: _key_shards(table.column(g.key), g.key_type, n) for g in self.groups}
        for g in todo:
            path = self._path(f"events-{day}-{g.index}-{n}.arrow")
            _write_split(table.select(list(g.events)), shards[g.index], n, path)
            split = _Split(path, table.num_rows, sample[list(g.events)])
            self._splits[("events", day, g.index, n, None)] = split
        if self.counted:
            keys = pa.table(
                {
                    "tx": table.column(self.fspec.tx_key),
                    "ts": table.column(self.fspec.event_ts),
                    **{f"shard{g.index}": shards[g.index] for g in self.counted},
                }
            )
            path = self._path(f"events-tx-{day}-{n}.arrow")
            _write_split(keys, _buckets(table.column(self.fspec.tx_key), n), n, path)
            self._splits[("events-tx", day, -1, n, None)] = _Split(path, table.num_rows, sample)

    def _split_label_keys(self, day: date, n: int) -> _Split:
        """A labels partition's event keys by bucket, and its columns kept for the day."""
        if ("labels-tx", day, -1, n, None) not in self._splits:
            columns = list(dict.fromkeys(c for g in self.counted for c in g.labels))
            table = self._read(self.fspec.labels_feed, day, columns)
            path = self._path(f"labels-{day}-{n}.arrow")
            _write_split(table, np.zeros(table.num_rows, np.int32), 1, path)
            self._splits[("labels-all", day, -1, n, None)] = _Split(
                path, table.num_rows, _sample(table)
            )
            keys = pa.table({"tx": table.column(self.fspec.tx_key), "row": np.arange(len(table))})
            path = self._path(f"labels-tx-{day}-{n}.arrow")
            _write_split(keys, _buckets(table.column(self.fspec.tx_key), n), n, path)
            split = _Split(path, table.num_rows, pd.DataFrame())  # read uncast
            self._splits[("labels-tx", day, -1, n, None)] = split
        return self._splits[("labels-all", day, -1, n, None)]

    def _split_labels(self, events: list[date], labels: list[date], n: int, day: date) -> None:
        """Split the look-back's labels partitions by the shard of each label's event."""
        whole = [self._split_label_keys(d, n) for d in labels]
        offsets = np.cumsum([0, *(s.rows for s in whole)])
        routes = {g.index: np.full(offsets[-1], -1, np.int32) for g in self.counted}
        ev_splits = [self._splits[("events-tx", d, -1, n, None)] for d in events]
        lab_splits = [self._splits[("labels-tx", d, -1, n, None)] for d in labels]
        for b in range(n):
            ev = pd.concat([_piece(s, b, cast=False) for s in ev_splits], ignore_index=True)
            lab = pd.concat(
                [
                    _piece(s, b, cast=False).assign(at=o)
                    for s, o in zip(lab_splits, offsets, strict=False)
                ],
                ignore_index=True,
            )
            if ev.empty or lab.empty:
                continue
            # compute._labels_of: each event key's earliest row in time order (_prepare:
            # rows with a key and a time, stable sort) gives its label the row's entity.
            ev["ts"] = pd.to_datetime(ev["ts"], utc=True)
            ev = ev[ev["ts"].notna()].sort_values("ts", kind="stable")
            for g in self.counted:
                shard = f"shard{g.index}"
                first = ev.loc[ev[shard] >= 0, ["tx", shard]].drop_duplicates("tx")
                hit = lab.merge(first, on="tx", how="inner")
                routes[g.index][(hit["at"] + hit["row"]).to_numpy()] = hit[shard].to_numpy()
        for d, split, lo in zip(labels, whole, offsets, strict=False):
            with pa.OSFile(str(split.path)) as source:
                table = pa.ipc.open_file(source).read_all()
            for g in self.counted:
                path = self._path(f"labels-{d}-{g.index}-{n}-for-{day}.arrow")
                _write_split(
                    table.select(list(g.labels)), routes[g.index][lo : lo + split.rows], n, path
                )
                self._splits[("labels", d, g.index, n, day)] = _Split(
                    path, split.rows, split.sample[list(g.labels)]
                )

    def _forget(self, events: list[date], labels: list[date], n: int, day: date) -> None:
        """Remove the splits ``day`` does not read (days go forward: nor will later days)."""
        keep = {("events", d) for d in [*events, day]} | {("events-tx", d) for d in events}
        keep |= {(kind, d) for d in labels for kind in ("labels-all", "labels-tx")}
        for key in list(self._splits):
            kind, d, _, shards, _ = key
            if shards != n or (kind, d) not in keep:
                self._splits.pop(key).path.unlink(missing_ok=True)


# ---------------------------------------------------------------------- Arrow helpers
def _key_shards(column: pa.ChunkedArray, key_type: str, n: int) -> np.ndarray:
    """Per row, the shard of its join key (-1: no key, a row ``compute`` drops). The hash
    is of the key as the tables type it, so a key has one shard in every partition."""
    values = pc.unique(column)
    codes = pc.fill_null(pc.index_in(column, value_set=values), len(values))
    keys = values.to_pandas()
    shard = np.full(len(keys) + 1, -1, np.int32)
    present = keys.notna().to_numpy()
    if present.any():
        typed = compute.typed_keys(keys[present], key_type).to_numpy()
        shard[:-1][present] = pd.util.hash_array(typed, categorize=False) % n
    return shard[codes.to_numpy(zero_copy_only=False)]


def _buckets(column: pa.ChunkedArray, n: int) -> np.ndarray:
    """Per row, the bucket of its event key (the same value: the same bucket in both feeds)."""
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    return (pd.util.hash_array(values, categorize=False) % n).astype(np.int32)


def _write_split(table: pa.Table, shard: np.ndarray, n: int, path: Path) -> None:
    """``table``'s rows of shard i as record batch i (rows of shard -1 left out), in order."""
    order = np.argsort(shard, kind="stable")
    counts = np.bincount(shard[shard >= 0], minlength=n)
    ordered = table.take(order[len(order) - counts.sum() :])
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=_IPC) as w:
        start = 0
        for count in counts:
            part = ordered.slice(start, count)
            arrays = [column.combine_chunks() for column in part.columns]
            w.write_batch(pa.RecordBatch.from_arrays(arrays, schema=table.schema))
            start += count


def _sample(table: pa.Table) -> pd.DataFrame:
    """A few rows of ``table`` in pandas: each column's first missing and first present
    value, so the frame has the dtypes the whole table has in pandas (an int column with a
    null is float) and a column is all missing exactly when the table's is."""
    rows = {0} if table.num_rows else set()
    for column in table.columns:
        missing = pc.is_null(column, nan_is_null=True).to_numpy(zero_copy_only=False)
        rows |= {
            int(np.argmax(missing == flag)) for flag in (True, False) if (missing == flag).any()
        }
    return table.take(sorted(rows)).to_pandas()


def _piece(
    split: _Split, i: int, columns: list[str] | None = None, *, cast: bool = True
) -> pd.DataFrame:
    """Shard ``i`` of ``split`` in pandas, with the dtypes of the whole partition."""
    with pa.OSFile(str(split.path)) as source:
        table = pa.Table.from_batches([pa.ipc.open_file(source).get_batch(i)])
    frame = table.select(columns).to_pandas() if columns else table.to_pandas()
    return _cast(frame, split.sample.dtypes) if cast else frame


def _cast(frame: pd.DataFrame, dtypes: pd.Series) -> pd.DataFrame:
    differ = {c: dtypes[c] for c in frame.columns if frame[c].dtype != dtypes[c]}
    return frame.astype(differ) if differ else frame


def _gather(splits: list[_Split], i: int, columns: tuple[str, ...]) -> pd.DataFrame:
    """Shard ``i`` of a span's partitions, as ``PartitionCache.span`` concatenates them."""
    if not splits:
        return pd.DataFrame(columns=list(columns))
    pieces = [_piece(s, i) for s in splits]
    # The span's dtypes: pandas ignores empty and all-missing frames when it picks the
    # common dtype, and a shard's piece may be either where its partition is not.
    dtypes = pd.concat([s.sample for s in splits], ignore_index=True).dtypes
    whole = pd.concat([p for p in pieces if len(p)] or pieces[:1], ignore_index=True)
    return _cast(whole, dtypes)


def _assemble(parts: list[pd.DataFrame], view: View) -> pd.DataFrame:
    """A view's shard rows in ``view_stats``' order: by key, then stamp (unique pairs)."""
    frame = pd.concat(parts, ignore_index=True)
    parts.clear()  # the shards' rows are held once, not twice, while they are sorted
    return frame.sort_values([view.join_key, schema.TIMESTAMP], kind="stable", ignore_index=True)
