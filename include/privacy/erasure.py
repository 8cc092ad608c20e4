"""Erasure of one data subject: their rows out of every store the platform writes, and a
record of what was done and of what could not be reached.

A subject is named by the raw value of a pii column of the events feed; past ingest the
platform holds only its pseudonym (:mod:`include.privacy.pseudonym`), so every match is on
the pseudonym, or on the keys of the subject's events (their labels, scores, captures):

* a **lake-form** Parquet file (validated and staged partitions, feature tables,
  predictions, training sets) loses the rows whose pii column holds the pseudonym or whose
  events key is one of the subject's events;
* a **raw** CSV file (landing zone, quarantined raw files) is read as ingest reads it
  (typed, then pseudonymised: :func:`include.data.batches.coerce`) to find the same rows;
  the header, the columns and every other row are written back as they were;
* a **capture** part (JSONL, ``serving/capture.py``) loses the records of those events;
* the **online store** loses the entity's rows (SQLite) or hash (Redis), by the serialized
  entity keys the caller computes with Feast's own function.

The subject's events are kept as keyed hashes of their keys (the pseudonymiser's HMAC, never
the keys) in ``<lake>/privacy/erasures/<pseudonym>/event_keys.json``: a re-run finds them
after the events are gone, so labels arriving later for those events go with a re-run.

A file is rewritten (atomically, :mod:`include.storage`) only when it holds a row of the
subject, and a file left without rows is deleted (as a feature table without rows is), so
erasing twice changes nothing the second time. No Airflow, no Feast: plain Python.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from include import layout, storage
from include.data.batches import coerce
from include.data.lake import to_parquet_bytes
from include.privacy.pseudonym import Pseudonymiser, is_pseudonym
from include.spec import FeedSpec

EVENT_KEYS = "event_keys.json"
# Layout names the dated folders of these locations; any day gives their parent.
_ANY_DAY = date(2000, 1, 1)
# Capture fields that never hold an id (serving/capture.py's record); every other top-level
# field (the events key as the scoring API names it) is compared with the subject's events.
_CAPTURE_NOT_IDS = frozenset(
    {"request_id", "served_at", "model_name", "model_version", "features", "score",
     "decision", "scored", "unscored_reason", "latency_ms", "event_timestamp"}
)  # fmt: skip
# What of the online store outlives a delete, by store (settings.feast_online_store).
_ONLINE_COPIES = {
    "redis": "Redis's persistence files (RDB, AOF) until rewritten and its replicas' lag",
    "sqlite": "copies of the SQLite file",
}
_TEXT_SUFFIXES = (".json", ".jsonl", ".csv", ".html", ".txt", ".md", ".yaml", ".yml")


class Subject(TypedDict):
    """Who is erased and who asked (the first task's XCom: never the raw id)."""

    pseudonym: str
    columns: list[str]  # the events feed's pii columns it is looked up by
    reason: str  # as typed, the raw id replaced by "<subject>"
    requested_by: str  # the run's triggering user
    requested: dict[str, Any]  # dag_id, run_id, run_type, conf (without the raw id)
    started_at: str  # UTC, when the pseudonym was computed (names the record)


class SubjectNotErasable(ValueError):
    """The request can not name a subject: no pii column, an unknown column, an empty id."""


def subject_columns(events: FeedSpec, column: str = "") -> tuple[str, ...]:
    """The events feed's pii columns the subject is looked up by: ``column``, or all."""
    pii = events.pii_columns
    if not pii:
        raise SubjectNotErasable(
            f"the {events.name} feed has no pii column: the platform keeps no pseudonymised "
            "person to erase (mark the personal columns `pii: true` in the spec)"
        )
    if column and column not in pii:
        raise SubjectNotErasable(
            f"{column!r} is not a pii column of {events.name}; its pii columns: {list(pii)}"
        )
    return (column,) if column else pii


def redact(value: Any, raw_id: str) -> Any:
    """``value`` (a reason typed by a person, a run's conf) with the raw id replaced by
    ``<subject>`` in every text it holds."""
    if isinstance(value, str):
        return value.replace(raw_id, "<subject>") if raw_id else value
    if isinstance(value, Mapping):
        return {k: redact(v, raw_id) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, raw_id) for v in value]
    return value


def erasures_dir(lake_uri: str, pseudonym: str) -> str:
    """``<lake>/privacy/erasures/<pseudonym>/``: the subject's records and event keys."""
    if not is_pseudonym(pseudonym):
        raise SubjectNotErasable(f"{pseudonym!r} is not a pseudonym (32 hex digits)")
    return storage.join(lake_uri, "privacy", "erasures", pseudonym)


def _above(uri: str, levels: int = 1) -> str:
    return uri.rstrip("/").rsplit("/", levels)[0]


# ------------------------------------------------------------------------------- matching
class Matcher:
    """Which rows and records are the subject's (see the module docstring)."""

    def __init__(
        self,
        pseudo: Pseudonymiser,
        pseudonym: str,
        columns: Sequence[str],
        key: str,
        event_keys: Iterable[str] = (),
    ) -> None:
        self.pseudo = pseudo
        self.pseudonym = pseudonym
        self.columns = tuple(columns)  # the subject's pii columns
        self.key = key  # the events feed's key (labels, scores and captures carry it)
        self.event_keys = frozenset(event_keys)  # keyed hashes of the subject's events

    def rows(self, frame: pd.DataFrame) -> np.ndarray:
        """A lake-form frame's rows of the subject (pii columns hold pseudonyms)."""
        hit = np.zeros(len(frame), dtype=bool)
        for column in self.columns:
            if column in frame.columns:
                same = frame[column].astype("string") == self.pseudonym
                hit |= same.fillna(False).to_numpy(dtype=bool)
        if self.event_keys and self.key in frame.columns:
            hit |= self.pseudo.series(frame[self.key]).isin(self.event_keys).to_numpy(dtype=bool)
        return hit

    def event_keys_of(self, frame: pd.DataFrame) -> set[str]:
        """Keyed hashes of the keys of ``frame``'s rows whose pii column is the subject's."""
        if self.key not in frame.columns:
            return set()
        mine = Matcher(self.pseudo, self.pseudonym, self.columns, self.key).rows(frame)
        return {h for h in self.pseudo.series(frame.loc[mine, self.key]).dropna()}

    def record(self, record: Mapping[str, Any]) -> bool:
        """A captured request of the subject (its events key, or the pseudonym)."""
        for name, value in record.items():
            if name in _CAPTURE_NOT_IDS or isinstance(value, bool | dict | list | float):
                continue
            if value == self.pseudonym or self.pseudo.value(value) in self.event_keys:
                return True
        return False


# ------------------------------------------------------------------- one file of each kind
@dataclass
class Erased:
    """What a step removed: rows per location, the files it changed, the files it could
    not read (which may still hold the subject's rows)."""

    rows: dict[str, int] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def add(self, location: str, rows: int, uri: str) -> None:
        self.rows[location] = self.rows.get(location, 0) + rows
        if rows:
            self.changed.append(uri)

    def merge(self, other: Erased) -> Erased:
        for location, n in other.rows.items():
            self.rows[location] = self.rows.get(location, 0) + n
        self.changed += other.changed
        self.unreadable += other.unreadable
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Erased:
        return cls(dict(data["rows"]), list(data["changed"]), list(data["unreadable"]))


def _replace(uri: str, data: bytes | None) -> None:
    """The file's new content, or no file (it has no row left)."""
    if data is None:
        storage.delete(uri)
    else:
        storage.write_bytes(uri, data)


def _columns(data: bytes, wanted: Iterable[str]) -> pd.DataFrame:
    """The ``wanted`` columns a Parquet file has (none: an empty frame of its rows)."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(io.BytesIO(data)).names)
    present = [c for c in dict.fromkeys(wanted) if c in names]
    return pd.read_parquet(io.BytesIO(data), columns=present)


def _parquet(data: bytes, matcher: Matcher) -> tuple[int, bytes | None]:
    probe = _columns(data, (*matcher.columns, matcher.key))
    if probe.columns.empty:
        return 0, data
    hit = matcher.rows(probe)
    if not hit.any():
        return 0, data
    kept = pd.read_parquet(io.BytesIO(data)).loc[~hit].reset_index(drop=True)
    return int(hit.sum()), (to_parquet_bytes(kept) if len(kept) else None)


@dataclass
class _RawCsv:
    """A CSV file's records, each with its exact text (quoting, line ends) to write back."""

    header: list[str]
    header_text: str
    rows: list[tuple[list[str], str]]  # (fields, text) after the header; blank lines: []

    @classmethod
    def parse(cls, data: bytes) -> _RawCsv:
        # newline="": lines end at \n, \r or \r\n, kept as they are; a quoted value may span
        # lines, so a record is the lines the reader consumed for it.
        lines = list(io.StringIO(data.decode("utf-8"), newline=""))
        reader = csv.reader(lines, strict=True)
        records, start = [], 0
        for fields in reader:
            records.append((fields, "".join(lines[start : reader.line_num])))
            start = reader.line_num
        if not records:
            return cls([], "", [])
        return cls(records[0][0], records[0][1], records[1:])

    def lake_form(self, feed: FeedSpec, pseudo: Pseudonymiser) -> pd.DataFrame:
        """The data rows as ingest types and pseudonymises them (blank lines left out)."""
        width = len(self.header)
        cells = [(f + [""] * width)[:width] for f, _ in self.rows if f]
        raw = pd.DataFrame(cells, columns=self.header, dtype=object)
        raw = raw.where(raw != "", None)
        return pseudo.frame(coerce(raw, feed), feed.pii_columns)

    def without(self, hit: np.ndarray) -> bytes:
        """The file's text without the records ``hit`` marks (one flag per data row)."""
        flags = iter(hit)
        kept = [text for fields, text in self.rows if not fields or not next(flags)]
        return (self.header_text + "".join(kept)).encode("utf-8")


def _csv(data: bytes, matcher: Matcher, feed: FeedSpec) -> tuple[int, bytes]:
    raw = _RawCsv.parse(data)
    if not raw.header or not any(f for f, _ in raw.rows):
        return 0, data
    hit = matcher.rows(raw.lake_form(feed, matcher.pseudo))
    return int(hit.sum()), (raw.without(hit) if hit.any() else data)


def _jsonl(data: bytes, matcher: Matcher) -> tuple[int, bytes | None]:
    kept, removed = [], 0
    for line in data.decode("utf-8").splitlines(keepends=True):
        try:
            record = json.loads(line) if line.strip() else None
        except ValueError:
            record = None  # not a record: kept as it is
        if isinstance(record, dict) and matcher.record(record):
            removed += 1
        else:
            kept.append(line)
    if not removed:
        return 0, data
    return removed, ("".join(kept).encode() if any(s.strip() for s in kept) else None)


def _erase_file(uri: str, location: str, erased: Erased, rewrite: Any) -> None:
    """Rewrite one file with ``rewrite(bytes) -> (rows removed, new bytes or None)``."""
    try:
        data = storage.read_bytes(uri)
        removed, new = rewrite(data)
    except (ValueError, UnicodeDecodeError, csv.Error, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            return  # gone since the listing (a retention sweep, a publish)
        erased.unreadable.append(uri)
        return
    if removed:
        stat = None if storage.is_s3(uri) else os.stat(uri)
        _replace(uri, new)
        if stat is not None and new is not None:  # when a batch landed stays as it was
            os.utime(uri, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    erased.add(location, removed, uri)


def _files(prefix: str, suffix: str = "") -> list[str]:
    return [
        o.uri
        for o in storage.list_objects(prefix)
        if not o.name.startswith(".") and not o.name.endswith((".tmp", ".part"))
        and o.name.endswith(suffix)
    ]  # fmt: skip


# --------------------------------------------------------------------------- the locations
def _relevant(feed: FeedSpec, matcher: Matcher) -> bool:
    return matcher.key in feed.columns or any(c in feed.pii_columns for c in matcher.columns)


def feed_locations(lake_uri: str, landing_uri: str, feed: str) -> dict[str, str]:
    """Where a feed's rows are: validated, staged, landed, quarantined (folders)."""
    return {
        **lake_locations(lake_uri, feed),
        "landing": _above(layout.landing_dir(landing_uri, feed, _ANY_DAY)),
        "quarantine": _above(layout.quarantine_day_dir(lake_uri, feed, _ANY_DAY)),
    }


def lake_locations(lake_uri: str, feed: str) -> dict[str, str]:
    """A feed's Parquet in the lake: its validated partitions and staged files (folders)."""
    return {
        "validated": layout.validated_dir(lake_uri, feed),
        "staging": _above(layout.staging_uri(lake_uri, feed, _ANY_DAY, "run"), 2),
    }


def _raw_files(folder: str) -> list[str]:
    """The raw files of every quarantined batch under ``folder``."""
    return [u for u in _files(folder) if f"/{layout.RAW_FILES}/" in u]


def monitoring_dir(lake_uri: str) -> str:
    """Where monitoring's drift, skew and quality reports are (one folder per window)."""
    return _above(layout.drift_report_dir(lake_uri, _ANY_DAY, _ANY_DAY))


def find_event_keys(
    lake_uri: str, landing_uri: str, events: FeedSpec, matcher: Matcher
) -> tuple[set[str], list[str]]:
    """Keyed hashes of the subject's events in the events feed's lake, staging, landing
    and quarantined files; and the files that could not be read."""
    where = feed_locations(lake_uri, landing_uri, events.name)
    found: set[str] = set()
    unreadable: list[str] = []
    for uri in _files(where["validated"], ".parquet") + _files(where["staging"], ".parquet"):
        try:
            data = storage.read_bytes(uri)
            found |= matcher.event_keys_of(_columns(data, (*matcher.columns, matcher.key)))
        except (ValueError, OSError):
            unreadable.append(uri)
    for uri in _files(where["landing"]) + _raw_files(where["quarantine"]):
        try:
            raw = _RawCsv.parse(storage.read_bytes(uri))
            if raw.header and any(f for f, _ in raw.rows):
                found |= matcher.event_keys_of(raw.lake_form(events, matcher.pseudo))
        except (ValueError, UnicodeDecodeError, csv.Error, OSError):
            unreadable.append(uri)
    return found, unreadable


def erase_lake(lake_uri: str, feeds: Sequence[FeedSpec], matcher: Matcher) -> Erased:
    """Every validated and staged partition of every feed holding the subject's rows."""
    erased = Erased()
    for feed in (f for f in feeds if _relevant(f, matcher)):
        where = lake_locations(lake_uri, feed.name)
        for kind in ("validated", "staging"):
            location = f"lake/{kind}/{feed.name}"
            erased.rows.setdefault(location, 0)
            for uri in _files(where[kind], ".parquet"):
                _erase_file(uri, location, erased, lambda d: _parquet(d, matcher))
    return erased


def erase_feature_tables(features_uri: str, views: Sequence[str], matcher: Matcher) -> Erased:
    """Rows of the offline tables of ``views`` (those keyed by the subject's pii column)."""
    erased = Erased()
    for view in views:
        location = f"features/{view}"
        erased.rows.setdefault(location, 0)
        for uri in _files(layout.feature_table_dir(features_uri, view), ".parquet"):
            _erase_file(uri, location, erased, lambda d: _parquet(d, matcher))
    return erased


def erase_outputs(lake_uri: str, matcher: Matcher) -> Erased:
    """Batch predictions (Parquet per day) and captured online requests (JSONL parts)."""
    erased = Erased(rows={"predictions": 0, "capture": 0})
    for uri in _files(_above(layout.predictions_dir(lake_uri, _ANY_DAY)), ".parquet"):
        _erase_file(uri, "predictions", erased, lambda d: _parquet(d, matcher))
    for uri in _files(_above(layout.capture_dir(lake_uri, _ANY_DAY)), ".jsonl"):
        _erase_file(uri, "capture", erased, lambda d: _jsonl(d, matcher))
    return erased


def erase_training_sets(lake_uri: str, matcher: Matcher) -> Erased:
    """Every training set; ``changed`` names the sets that held the subject's rows."""
    erased = Erased(rows={"training_sets": 0})
    for uri in training_sets(lake_uri):
        _erase_file(uri, "training_sets", erased, lambda d: _parquet(d, matcher))
    return erased


def training_sets(lake_uri: str) -> list[str]:
    return _files(_above(layout.training_set_uri(lake_uri, "run")), ".parquet")


def erase_raw_files(
    lake_uri: str, landing_uri: str, feeds: Sequence[FeedSpec], matcher: Matcher
) -> Erased:
    """The landing zone's CSV files and quarantined raw files of every relevant feed."""
    erased = Erased()
    for feed in (f for f in feeds if _relevant(f, matcher)):
        where = feed_locations(lake_uri, landing_uri, feed.name)
        for kind, uris in (("landing", _files(where["landing"])),
                           ("quarantine", _raw_files(where["quarantine"]))):  # fmt: skip
            location = f"{kind}/{feed.name}"
            erased.rows.setdefault(location, 0)
            for uri in uris:
                _erase_file(uri, location, erased, lambda d, f=feed: _csv(d, matcher, f))
    return erased


def _view_of(table: str, names: Mapping[str, str]) -> str | None:
    """The view a Feast SQLite table holds (``names``: table name -> view), None if none."""
    base, _, version = table.rpartition("_v")
    return names.get(table) or (names.get(base) if version.isdigit() else None)


def erase_online_sqlite(
    path: str, project: str, views: Sequence[str], entity_keys: Sequence[bytes]
) -> Erased:
    """Delete the entity's rows from the tables of ``views`` in Feast's SQLite store
    (``<project>_<view>``, or ``..._v<n>`` when Feast versions its views).

    ``secure_delete`` overwrites the freed pages, and a WAL checkpoint moves the change
    into the file, so the values do not linger in free pages or in the write-ahead log."""
    erased = Erased()
    if not os.path.isfile(path) or not entity_keys:
        return erased
    marks = ",".join("?" * len(entity_keys))
    names = {f"{project}_{v}": v for v in views}
    conn = sqlite3.connect(path, timeout=60)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        tables = {t: v for (t,) in found if (v := _view_of(t, names))}
        for view in views:
            erased.rows.setdefault(f"online_store/{view}", 0)
        with conn:
            for table, view in sorted(tables.items()):
                quoted = '"' + table.replace('"', '""') + '"'
                where = f"FROM {quoted} WHERE entity_key IN ({marks})"
                count = f"SELECT COUNT(DISTINCT entity_key) {where}"
                (n,) = conn.execute(count, list(entity_keys)).fetchone()
                conn.execute(f"DELETE {where}", list(entity_keys))
                erased.add(f"online_store/{view}", int(n), path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return erased


def erase_online_redis(url: str, keys: Sequence[bytes], timeout_s: float = 10.0) -> Erased:
    """Delete the entity's hashes (one per entity: every view's features) from Redis."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        removed = int(client.delete(*keys)) if keys else 0
    finally:
        client.close()
    erased = Erased()
    erased.add("online_store/redis", removed, "redis")
    return erased


# --------------------------------------------------------------------------- event keys
def load_event_keys(lake_uri: str, pseudonym: str) -> set[str]:
    uri = storage.join(erasures_dir(lake_uri, pseudonym), EVENT_KEYS)
    if not storage.exists(uri):
        return set()
    return set(json.loads(storage.read_bytes(uri))["event_keys"])


def save_event_keys(lake_uri: str, pseudonym: str, keys: set[str]) -> tuple[str, int]:
    """Keep ``keys`` with those kept before (a union; unchanged: not rewritten); returns the
    file's location and how many keys it holds."""
    uri = storage.join(erasures_dir(lake_uri, pseudonym), EVENT_KEYS)
    known = load_event_keys(lake_uri, pseudonym)
    merged = keys | known
    if merged != known or not storage.exists(uri):
        body = {"pseudonym": pseudonym, "event_keys": sorted(merged)}
        storage.write_bytes(uri, json.dumps(body, indent=1).encode())
    return uri, len(merged)


def earlier_records(lake_uri: str, pseudonym: str) -> list[dict[str, Any]]:
    """The erasure records of this subject, oldest first."""
    folder = erasures_dir(lake_uri, pseudonym)
    uris = [u for u in _files(folder, ".json") if not u.endswith(f"/{EVENT_KEYS}")]
    return [json.loads(storage.read_bytes(u)) for u in sorted(uris)]


def mentions(root: str, text: str, skip: str) -> list[str]:
    """Text files under ``root`` (not under ``skip``) that contain ``text``."""
    needle = text.encode()
    return [
        o.uri
        for o in storage.list_objects(root)
        if o.name.endswith(_TEXT_SUFFIXES)
        and not o.uri.startswith(skip.rstrip("/") + "/")
        and needle in storage.read_bytes(o.uri)
    ]


# ------------------------------------------------------------------------------ the record
@dataclass
class Models:
    """The registered versions trained on the subject's rows, as far as the registry says."""

    registered_name: str
    trained_on: list[str] = field(default_factory=list)  # their training set held the rows
    undetermined: list[str] = field(default_factory=list)  # no training set left to check
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version
    error: str | None = None  # the registry could not be read


def models_trained_on(
    versions: Sequence[tuple[str, str | None]],
    held: Iterable[str],
    existing: Iterable[str],
    earlier: Iterable[str] = (),
) -> tuple[list[str], list[str]]:
    """(versions trained on the subject's rows, versions that can not be told) from each
    version's training set: one that ``held`` the rows (this run found them in it), or one
    named by an ``earlier`` record; undetermined when its set is unknown or not ``existing``.

    Training sets are told apart by file name (one per training run, all in the lake's
    ``training_sets`` folder): a lake restored or moved elsewhere keeps the versions' tags
    pointing at its old place."""
    held, existing = {_name(u) for u in held}, {_name(u) for u in existing}
    trained, unknown = set(earlier), set()
    for version, training_set in versions:
        name = _name(training_set) if training_set else None
        if name in held:
            trained.add(version)
        elif name is None or name not in existing:
            unknown.add(version)
    order = sorted  # versions are numbers as text
    return order(trained, key=int), order(unknown - trained, key=int)


def _name(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _days(uris: Iterable[str]) -> list[str]:
    """Partition days of lake files (``.../date=<D>/data.parquet``)."""
    return sorted({layout.partition_day(u) for u in uris if "/date=" in u})


def not_reached(
    *,
    models: Models,
    erased: Erased,
    other_views: Sequence[str],
    mentioned: Sequence[str],
    facts: Mapping[str, Any],
) -> list[dict[str, str]]:
    """What the erasure could not remove, each as ``{"what", "detail"}`` in words.

    ``facts``: ``recorded_at``, ``dag_id``, ``run_id``, ``retention_days``,
    ``label_delay_days``, ``event_keys_uri``, ``drift_reports``, ``evidently_workspace``,
    ``online_store`` (what the store is)."""
    out: list[dict[str, str]] = []
    name = models.registered_name
    if models.error:
        detail = (
            f"the registry could not be read ({models.error}): treat every version of {name} "
            f"registered before {facts['recorded_at']} as trained on the subject's rows"
        )
    else:
        listed = [f"v{v}" for v in models.trained_on]
        alias = {v: a for a, v in models.aliases.items()}
        listed = [f"{x} ({alias[x[1:]]})" if x[1:] in alias else x for x in listed]
        detail = (
            f"{name} {', '.join(listed)}: their training sets held the subject's rows"
            if listed
            else f"no version of {name} has a training set that held the subject's rows"
        )
        if models.undetermined:
            detail += (
                f"; {', '.join('v' + v for v in models.undetermined)}: no training set left to "
                "check (no lineage tag, or the file is gone): treat them as trained on them"
            )
    out.append(
        {
            "what": "trained models and their MLflow runs",
            "detail": detail + ". A model keeps what it learnt from the rows (its weights, "
            "the Bentos built from it, its MLflow run's artifacts: the holdout parquet, the "
            "input example): retrain without them (train_model) and retire these versions "
            "(retire_model); a registered version is never rewritten.",
        }
    )
    out.append(
        {
            "what": "monitoring reports and Evidently snapshots",
            "detail": "drift, skew and quality reports and the metrics history "
            f"({facts['drift_reports']}) and the Evidently workspace "
            f"({facts['evidently_workspace']}) were computed on windows that held the "
            "subject's scored events; they keep distributions and aggregates, not rows, and "
            "are not recomputed.",
        }
    )
    lake_days = _days(u for u in erased.changed if "/validated/" in u)
    if other_views and lake_days:
        out.append(
            {
                "what": "features of other entities",
                "detail": f"{', '.join(other_views)} aggregate the subject's events with "
                "others' (counts, means) and hold no id of theirs: run materialize_features "
                f"for {lake_days[0]}..{lake_days[-1]} to recompute them from the erased lake.",
            }
        )
    folders = sorted({u.split(f"/{layout.RAW_FILES}/")[0] for u in erased.changed
                      if f"/{layout.RAW_FILES}/" in u})  # fmt: skip
    if folders:
        out.append(
            {
                "what": "quarantine evidence",
                "detail": f"{', '.join(folders)}: the unmasked validation result and Data Docs "
                "may list the subject's raw values among failing samples until retention "
                f"deletes them ({facts['retention_days']} days after quarantine); their raw "
                "files were rewritten, so accept_batch can not accept these batches as they "
                "were (their digest changed): land them again instead.",
            }
        )
    if mentioned:
        out.append(
            {
                "what": "files that still name the pseudonym",
                "detail": f"{', '.join(mentioned)}: reports and evidence that quote it "
                "(masked validation samples); not rewritten.",
            }
        )
    if erased.unreadable:
        out.append(
            {
                "what": "files that could not be read",
                "detail": f"{', '.join(erased.unreadable)}: not checked, they may hold the "
                "subject's rows; repair or delete them and run the erasure again.",
            }
        )
    out += [
        {
            "what": "labels and events that arrive later",
            "detail": "labels of the subject's events arrive up to "
            f"{facts['label_delay_days']:g} days after them and are ingested as usual: run "
            "erase_subject again with the same id after that; the subject's events are kept "
            f"as keyed hashes in {facts['event_keys_uri']} so the re-run finds them. New "
            "events of the subject are new data (a new request).",
        },
        {
            "what": "this run in Airflow",
            "detail": "Airflow keeps the run's conf, with the raw id, in its metadata "
            f"database and shows it with the run: delete the run ({facts['dag_id']}, "
            f"{facts['run_id']}) in the UI or with DELETE /api/v2/dags/<dag_id>/dagRuns/"
            "<run_id> once this record is filed. Task logs and XCom hold the pseudonym only.",
        },
        {
            "what": "backups and copies",
            "detail": "backups and snapshots of the lake, the landing zone and the feature "
            f"stores, {_ONLINE_COPIES.get(facts['online_store'], 'copies of the online store')}"
            ", object-store versions of rewritten files, and copies people downloaded are "
            "outside the platform: their own retention applies.",
        },
    ]
    return out


def build_record(
    subject: Subject,
    erased: Erased,
    models: Models,
    gaps: list[dict[str, str]],
    *,
    event_keys: int,
    event_keys_uri: str,
    recorded_at: str,
) -> dict[str, Any]:
    """The erasure record: who asked, when, why, what was removed where, what was not."""
    return {
        "pseudonym": subject["pseudonym"],
        "columns": list(subject["columns"]),
        "reason": subject["reason"],
        "requested_by": subject["requested_by"],
        "requested": dict(subject["requested"]),
        "started_at": subject["started_at"],
        "recorded_at": recorded_at,
        "events": {"count": event_keys, "keys_uri": event_keys_uri},
        "rows_removed": sum(erased.rows.values()),
        "removed": dict(sorted(erased.rows.items())),
        "files_changed": sorted(set(erased.changed)),
        "unreadable_files": sorted(set(erased.unreadable)),
        "models": asdict(models),
        "not_reached": gaps,
    }


def record_uri(lake_uri: str, pseudonym: str, started_at: str) -> str:
    """``<lake>/privacy/erasures/<pseudonym>/<started_at, compact>.json`` (a retry of the
    same run replaces its record)."""
    stamp = datetime.fromisoformat(started_at).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return storage.join(erasures_dir(lake_uri, pseudonym), f"{stamp}.json")
