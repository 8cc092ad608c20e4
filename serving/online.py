"""Online features of the feature service, read straight from Feast's online store.

The service scores one transaction in a few milliseconds; Feast's ``get_online_features``
for this service costs ~10 ms per transaction (its pandas on-demand path; ~0.1-0.15 ms here,
``bench/online_lookup.py``) and ``import feast`` 6-12 s (torch included). This module reads the
same rows Feast wrote — Feast's SQLite table layout (the embedded setup) or its Redis hash
layout (production), entity key serialization version 3 — and assembles exactly what
``FeatureStore.get_online_features`` returns for the spec's feature service: every entity
view's features plus the on-demand ones, computed by the same function Feast runs
(:mod:`include.features.request_time`). Views, features, join keys, TTL and project come from
the use-case spec (:mod:`include.features.schema`); the store from settings. Importing this
costs the standard library, numpy and the spec loader; the Redis client is imported only
when the store is Redis.

Per transaction :meth:`OnlineFeatures.lookup` returns an :class:`Assembled`: ``values`` (every
model feature, NaN where Feast gives null), ``as_of`` (the stored rows' event times, UTC, per
entity) and ``unscored`` (entity -> ``"missing"`` | ``"expired"``; empty when the row may be
scored). Expired: the stored row is older than ``now - ttl``, the rule of the point-in-time
join that built the training set. Feast 0.67's online read does not apply the TTL (only its
pre-computed-vector path does) and serves such a row as present; its values are kept here
too, so ``values`` stay equal to Feast's, but the transaction is flagged and must not be
scored on them (fault D3), nor on a missing entity's NaNs.

Errors: :class:`StoreUnavailable` (no store file, a missing table, Redis down or timing out,
SQLite locked by a materialization for longer than ``timeout_s``) is distinct from an entity
that is simply not there (``unscored``); :class:`RequestRowInvalid` for a row without a field,
a key of the wrong type or a naive time. :meth:`OnlineFeatures.ping` is the cheap health probe (a
Redis ``PING``, or SQLite's tables checked without reading a row), raising
:class:`StoreUnavailable` the same way; the service polls it to follow an outage (fault B9).
Stamps: Feast's SQLite layout keeps whole seconds, its Redis layout the full time; ``as_of``
is what the store holds, as Feast reads it.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import sqlite3
import stat
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from include.config import Settings, get_settings
from include.features import request_time, schema
from include.features.schema import FeatureSpec
from include.spec import load_spec

MISSING = "missing"  # no stored row for the entity
EXPIRED = "expired"  # the stored row is older than the views' TTL

# --------------------------------------------------------------------------- wire format
# feast/protos/feast/types/Value.proto: ValueType.Enum numbers (entity keys) and the field
# numbers of Value's ``val`` oneof that our views hold.
_TYPE_STRING, _TYPE_INT64 = 2, 4
_INT64_VAL, _DOUBLE_VAL, _FLOAT_VAL, _UNIX_TIMESTAMP_VAL, _NULL_VAL = 4, 5, 6, 8, 19
# feast.type_map.NULL_TIMESTAMP_INT_VALUE: a null timestamp is stored as NaT's int64.
NULL_TIMESTAMP = -(2**63)
_U32 = 0xFFFFFFFF


class StoreUnavailable(RuntimeError):
    """The online store can not be read (no file or table, Redis unreachable)."""


class RequestRowInvalid(ValueError):
    """A request row lacks a field, has a non-integer key or a naive timestamp."""


class ValueDecodeError(ValueError):
    """A stored value is not one of the types the feature views declare."""


class FeatureNotServed(KeyError):
    """A model asks for a feature the feature service does not serve."""


def serialize_entity_key(join_keys: Mapping[str, int | str]) -> bytes:
    """Feast's ``serialize_entity_key`` (version 3): the key count, each join key name
    (sorted) as a typed, length-prefixed string, then each value (int -> INT64, str ->
    STRING), all little-endian."""
    items = sorted(join_keys.items()) if len(join_keys) > 1 else list(join_keys.items())
    out = [struct.pack("<I", len(items)), *(_key_name(name) for name, _ in items)]
    for name, value in items:
        if isinstance(value, str):
            raw = value.encode("utf8")
            out += (struct.pack("<II", _TYPE_STRING, len(raw)), raw)
        elif isinstance(value, bool):
            raise TypeError(f"join key {name}: {value!r} is not an integer id")
        else:
            out.append(struct.pack("<IIq", _TYPE_INT64, 8, operator.index(value)))
    return b"".join(out)


@functools.lru_cache(maxsize=64)
def _key_name(name: str) -> bytes:
    raw = name.encode("utf8")
    return struct.pack("<II", _TYPE_STRING, len(raw)) + raw


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _int64(raw: int) -> int:
    return raw - (1 << 64) if raw >= 1 << 63 else raw


def decode_value(blob: bytes | None) -> int | float | None:
    """A serialized Feast ``Value`` as a Python number: ``int64_val`` and
    ``unix_timestamp_val`` (seconds) as int, ``double_val``/``float_val`` as float;
    ``null_val``, no field (Feast's null) and the null-timestamp sentinel as None."""
    if not blob:
        return None
    if blob[0] == 0x29 and len(blob) == 9:  # the common case: one double_val
        return struct.unpack_from("<d", blob, 1)[0]
    value: int | float | None = None
    pos, end = 0, len(blob)
    while pos < end:  # a oneof: the last field wins, as in protobuf
        tag, pos = _varint(blob, pos)
        field, wire = tag >> 3, tag & 7
        if field == _DOUBLE_VAL and wire == 1:
            value = struct.unpack_from("<d", blob, pos)[0]
            pos += 8
        elif field == _FLOAT_VAL and wire == 5:
            value = struct.unpack_from("<f", blob, pos)[0]
            pos += 4
        elif field in (_INT64_VAL, _UNIX_TIMESTAMP_VAL) and wire == 0:
            raw, pos = _varint(blob, pos)
            value = _int64(raw)
            if field == _UNIX_TIMESTAMP_VAL and value == NULL_TIMESTAMP:
                value = None
        elif field == _NULL_VAL and wire == 0:
            _, pos = _varint(blob, pos)
            value = None
        else:
            raise ValueDecodeError(
                f"stored Feast Value field {field} (wire type {wire}) is not int64, double, "
                f"float, unix timestamp or null: {blob[:32].hex()}; the feature views declare "
                "only these (feature_repo/definitions.py)"
            )
    return value


def decode_timestamp(blob: bytes | None) -> datetime:
    """A serialized ``google.protobuf.Timestamp`` (Feast's Redis ``_ts:<view>`` field) as
    Feast reads it: ``fromtimestamp(seconds + nanos / 1e9, UTC)``."""
    seconds = nanos = 0
    pos, end = 0, len(blob or b"")
    while pos < end:
        tag, pos = _varint(blob, pos)  # type: ignore[arg-type]
        raw, pos = _varint(blob, pos)  # type: ignore[arg-type]
        if tag == 0x08:
            seconds = _int64(raw)
        elif tag == 0x10:
            nanos = raw
        else:
            raise ValueDecodeError(f"not a protobuf Timestamp: {blob!r}")
    return datetime.fromtimestamp(seconds + nanos / 1e9, tz=UTC)


def sqlite_event_ts(stored: int | str | bytes) -> datetime:
    """A SQLite ``event_ts`` as Feast reads it: its converter makes a *local* naive datetime
    of the stored epoch integer and Feast labels it UTC; its writer stored the naive UTC time
    read as local time, so the pair round-trips in any time zone. Same here."""
    return datetime.fromtimestamp(int(stored)).replace(tzinfo=UTC)


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit (unsigned), what Feast's Redis store (``mmh3``) names hash
    fields with; computed once per feature when the store is opened, so pure Python."""
    h, length = seed & _U32, len(data)
    c1, c2 = 0xCC9E2D51, 0x1B873593

    def mix(k: int) -> int:
        k = (k * c1) & _U32
        k = ((k << 15) | (k >> 17)) & _U32
        return (k * c2) & _U32

    blocks = length - length % 4
    for i in range(0, blocks, 4):
        h ^= mix(int.from_bytes(data[i : i + 4], "little"))
        h = ((h << 13) | (h >> 19)) & _U32
        h = (h * 5 + 0xE6546B64) & _U32
    if length % 4:
        h ^= mix(int.from_bytes(data[blocks:], "little"))
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _U32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _U32
    return h ^ (h >> 16)


def redis_field(view: str, feature: str) -> bytes:
    """The Redis hash field of a feature (Feast's ``_mmh3("<view>:<feature>")``)."""
    return struct.pack("<I", murmur3_32(f"{view}:{feature}".encode()))


# --------------------------------------------------------------------------- the stores
@dataclass(frozen=True)
class _View:
    name: str
    entity: str  # the spec's entity name: the key of as_of / unscored
    join_key: str
    key_type: str  # "int" | "string"
    features: tuple[str, ...]  # the model features it serves, decoded to float


# One stored entity row: its event time and the raw values by feature name.
Stored = tuple[datetime, dict[str, bytes | None]]


class _Store(Protocol):
    name: str  # what the store is, for messages (never a password)

    def read(self, wanted: Sequence[tuple[_View, list[bytes]]]) -> list[dict[bytes, Stored]]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class SqliteStore:
    """Feast's SQLite layout, read only: table ``<project>_<view>``, one row per (entity_key,
    feature_name) with the serialized value and ``event_ts``. One connection per thread
    (``mode=ro``); sqlite3 caches each statement's compiled form per connection. A connection
    goes on reading its file after the file is deleted or replaced: :meth:`ping` notices a
    new file (another inode) and each thread then reopens its own connection."""

    def __init__(self, path: Path, project: str, views: Sequence[_View], timeout_s: float):
        self.path = path
        self.name = f"SQLite {path}"
        self._uri = f"{path.resolve().as_uri()}?mode=ro"
        self._timeout = timeout_s
        self._tables = {v.name: _quote(f"{project}_{v.name}") for v in views}
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._sql: dict[tuple[tuple[str, int], ...], str] = {}
        self._views = tuple(views)
        self._inode: int | None = None  # the file the connections read
        self._generation = 0  # bumped when the file is replaced: connections reopen
        try:
            self.ping()  # fail now, not on the first request
        except StoreUnavailable:
            self.close()
            raise

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.generation != self._generation:
            with self._lock:  # the file was replaced: this thread's connection reads the old
                if conn in self._all:
                    self._all.remove(conn)
            conn.close()
            conn = self._local.conn = None
        if conn is None:
            if not self.path.is_file():
                raise StoreUnavailable(
                    f"no online store at {self.path}: run the materialize_features DAG (or "
                    "check MLOPS_DATA_ROOT / MLOPS_FEAST_ONLINE_STORE)"
                )
            try:
                conn = sqlite3.connect(
                    self._uri, uri=True, timeout=self._timeout, check_same_thread=False
                )
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"can not open the online store {self.path}: {exc}") from exc
            self._local.conn, self._local.generation = conn, self._generation
            with self._lock:
                self._all.append(conn)
        return conn

    def _query(self, shape: tuple[tuple[str, int], ...]) -> str:
        """One statement for every view (one lock and one round trip into SQLite):
        ``SELECT <view index>, entity_key, feature_name, value, event_ts ... UNION ALL``."""
        sql = self._sql.get(shape)
        if sql is None:
            parts = []
            for i, (table, n) in enumerate(shape):
                # n == 0 (the open-time check): no row, but the table must exist
                where = "entity_key = ?" if n == 1 else f"entity_key IN ({','.join('?' * n)})"
                parts.append(
                    f"SELECT {i}, entity_key, feature_name, value, event_ts FROM {table}"
                    f" WHERE {where if n else '0'}"
                )
            sql = self._sql[shape] = " UNION ALL ".join(parts)
        return sql

    def read(self, wanted: Sequence[tuple[_View, list[bytes]]]) -> list[dict[bytes, Stored]]:
        conn = self._conn()
        shape = tuple((self._tables[view.name], len(keys)) for view, keys in wanted)
        params = [k for _, keys in wanted for k in keys]
        try:
            rows = conn.execute(self._query(shape), params).fetchall()
        except sqlite3.Error as exc:
            hint = (
                ": the views were never materialized into it (run materialize_features)"
                if "no such table" in str(exc)
                else ""
            )
            raise StoreUnavailable(f"online store {self.path}: {exc}{hint}") from exc
        found: list[dict[bytes, list[Any]]] = [{} for _ in wanted]
        for i, key, feature, value, ts in rows:
            entry = found[i].get(key)
            if entry is None:
                found[i][key] = [ts, {feature: value}]
            else:
                entry[0] = max(entry[0], ts)  # one stamp per entity row in practice
                entry[1][feature] = value
        return [
            {k: (sqlite_event_ts(ts), vals) for k, (ts, vals) in view.items()} for view in found
        ]

    def ping(self) -> None:
        """The file is there and holds every view's table (one statement reading no row);
        :class:`StoreUnavailable` if not. A new file (deleted and materialized again) makes
        every thread reopen its connection."""
        try:
            found = self.path.stat()
        except OSError:
            found = None
        if found is None or not stat.S_ISREG(found.st_mode):
            raise StoreUnavailable(
                f"no online store at {self.path}: run the materialize_features DAG (or "
                "check MLOPS_DATA_ROOT / MLOPS_FEAST_ONLINE_STORE)"
            )
        if found.st_ino != self._inode:
            if self._inode is not None:
                self._generation += 1
            self._inode = found.st_ino
        self.read([(v, []) for v in self._views])

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class RedisStore:
    """Feast's Redis layout: one hash per entity at ``serialize_entity_key(...) + project``,
    a field per feature (:func:`redis_field`) and ``_ts:<view>`` (a protobuf Timestamp).
    One pipelined round trip per lookup; the client's pool is thread-safe. The client has no
    retries and ``timeout_s`` socket timeouts (connect and read): a dead Redis is reported in
    ``timeout_s`` at most, and its pool drops the dead connections when Redis is back."""

    def __init__(self, url: str, project: str, views: Sequence[_View], timeout_s: float):
        import redis

        self.url = url
        self.name = f"Redis {_safe_url(url)}"
        self._errors = redis.RedisError
        self._project = project.encode("utf8")
        self._fields = {
            v.name: [*(redis_field(v.name, f) for f in v.features), f"_ts:{v.name}".encode()]
            for v in views
        }
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        try:
            self.ping()
        except StoreUnavailable:
            self._client.close()
            raise

    def ping(self) -> None:
        """One ``PING`` (a round trip, or ``timeout_s``); :class:`StoreUnavailable` if it
        fails."""
        try:
            self._client.ping()
        except self._errors as exc:
            raise StoreUnavailable(f"online store {self.name}: {exc}") from exc

    def read(self, wanted: Sequence[tuple[_View, list[bytes]]]) -> list[dict[bytes, Stored]]:
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for view, keys in wanted:
                    fields = self._fields[view.name]
                    for key in keys:
                        pipe.hmget(key + self._project, fields)
                replies = iter(pipe.execute())
        except self._errors as exc:
            raise StoreUnavailable(f"online store {self.name}: {exc}") from exc
        out = []
        for view, keys in wanted:
            found: dict[bytes, Stored] = {}
            for key in keys:
                *values, ts = next(replies)
                if ts is not None:  # Feast writes the stamp with every row
                    stored = dict(zip(view.features, values, strict=True))
                    found[key] = (decode_timestamp(ts), stored)
            out.append(found)
        return out

    def close(self) -> None:
        self._client.close()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _safe_url(url: str) -> str:
    """The URL without its credentials, in the netloc or a ``password=`` query parameter
    (error messages end up in logs and in the service's 503 bodies)."""
    head, sep, tail = url.rpartition("@")
    safe = f"{head.split('//', 1)[0]}//***@{tail}" if sep else url
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", safe)


# --------------------------------------------------------------------------- assembling
@dataclass(frozen=True, slots=True)
class Assembled:
    """One transaction's features: ``values`` (model feature -> float, NaN for null),
    ``as_of`` (entity -> stored row's event time, None if missing) and ``unscored``
    (entity -> MISSING | EXPIRED; empty: the row may be scored)."""

    values: dict[str, float]
    as_of: dict[str, datetime | None]
    unscored: dict[str, str]

    @property
    def scorable(self) -> bool:
        return not self.unscored


class OnlineFeatures:
    """The feature service's online read; open once per process, share across threads."""

    def __init__(self, fspec: FeatureSpec, store: _Store) -> None:
        self.fspec = fspec
        self.store = store
        self.ttl = timedelta(days=fspec.ttl_days)
        self.feature_names = schema.model_features(fspec)
        self._views = _views(fspec)
        self._request = [(r.name, r.function, r.inputs) for r in fspec.request]

    @classmethod
    def open(cls, settings: Settings | None = None, *, timeout_s: float = 1.0) -> OnlineFeatures:
        """The store the settings name (``MLOPS_FEAST_ONLINE_STORE``): SQLite at
        ``<data_root>/feast/online.db`` (as ``include.features.store.online_store_config``)
        or Redis at ``MLOPS_REDIS_URL``. Raises :class:`StoreUnavailable` if it can not be
        read now."""
        settings = settings or get_settings()
        fspec = schema.feature_spec(load_spec(settings.usecase_spec))
        views = _views(fspec)
        store: _Store
        if settings.feast_online_store == "sqlite":
            store = SqliteStore(_sqlite_path(settings), fspec.project, views, timeout_s)
        elif settings.feast_online_store == "redis":
            store = RedisStore(settings.redis_url, fspec.project, views, timeout_s)
        else:
            raise ValueError(
                "MLOPS_FEAST_ONLINE_STORE must be 'sqlite' or 'redis', got "
                f"{settings.feast_online_store!r}"
            )
        return cls(fspec, store)

    def __enter__(self) -> OnlineFeatures:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    @property
    def store_name(self) -> str:
        """The store, for messages: ``SQLite <path>`` or ``Redis <url without password>``."""
        return self.store.name

    def ping(self) -> None:
        """Cheap health probe of the store (no entity is read); raises
        :class:`StoreUnavailable` while it can not be read."""
        self.store.ping()

    def lookup(
        self, rows: Sequence[Mapping[str, Any]], *, now: datetime | None = None
    ) -> list[Assembled]:
        """The features of each request row (the spec's join keys, request fields and the
        event time, tz-aware), in order. ``now`` (default: the clock) decides expiry."""
        now = datetime.now(UTC) if now is None else _aware(now, "now")
        oldest = now - self.ttl
        requests = [self._parse(i, row) for i, row in enumerate(rows)]
        if not requests:
            return []
        wanted = [
            (view, list(dict.fromkeys(r[0][j] for r in requests)))
            for j, view in enumerate(self._views)
        ]
        stored_by_view = self.store.read(wanted)
        decoded: dict[tuple[str, bytes], tuple[datetime | None, dict[str, float]]] = {}
        out = []
        for keys, fields in requests:
            values: dict[str, Any] = dict(fields)
            as_of: dict[str, datetime | None] = {}
            unscored: dict[str, str] = {}
            for view, key, stored in zip(self._views, keys, stored_by_view, strict=True):
                hit = decoded.get((view.name, key))
                if hit is None:
                    hit = decoded[(view.name, key)] = _decode(view, stored.get(key))
                stamp, features = hit
                values.update(features)
                as_of[view.entity] = stamp
                if stamp is None:
                    unscored[view.entity] = MISSING
                elif stamp < oldest:
                    unscored[view.entity] = EXPIRED
            values.update(request_time.compute(self._request, values))
            out.append(
                Assembled({n: float(values[n]) for n in self.feature_names}, as_of, unscored)
            )
        return out

    def _parse(self, i: int, row: Mapping[str, Any]) -> tuple[list[bytes], dict[str, Any]]:
        """A request row's serialized entity keys (view order) and its request fields
        (the event time under Feast's name, as the request-time transforms read it)."""
        fspec = self.fspec
        expected = [*fspec.join_keys, *fspec.request_fields, fspec.event_ts]
        missing = [c for c in expected if c not in row]
        if missing:
            raise RequestRowInvalid(f"request row {i} lacks {missing}; expected {expected}")
        fields: dict[str, Any] = {}
        for name in fspec.request_fields:
            try:
                fields[name] = float(row[name])
            except (TypeError, ValueError) as exc:
                raise RequestRowInvalid(f"request row {i}: {name} is not a number: {exc}") from None
        fields[schema.TIMESTAMP] = _aware(row[fspec.event_ts], f"request row {i}: {fspec.event_ts}")
        keys = []
        for view in self._views:
            value = row[view.join_key]
            # The entity's key type is the events column's (feature_repo/definitions.py).
            wrong = isinstance(value, bool) or (
                not isinstance(value, str) if view.key_type == "string" else isinstance(value, str)
            )
            try:
                if wrong:
                    raise TypeError(f"got {value!r}")
                keys.append(serialize_entity_key({view.join_key: value}))
            except TypeError as exc:
                kind = "strings" if view.key_type == "string" else "integers"
                raise RequestRowInvalid(
                    f"request row {i}: {view.join_key} must be {kind}: {exc}"
                ) from None
        return keys, fields


def store_name(settings: Settings | None = None) -> str:
    """The store the settings name, as messages show it (``SQLite <path>``, ``Redis <url
    without password>``), known also when it can not be opened."""
    settings = settings or get_settings()
    if settings.feast_online_store == "redis":
        return f"Redis {_safe_url(settings.redis_url)}"
    if settings.feast_online_store == "sqlite":
        return f"SQLite {_sqlite_path(settings)}"
    return str(settings.feast_online_store)


def _sqlite_path(settings: Settings) -> Path:
    return settings.feast_dir / "online.db"  # include.features.store's path


def _views(fspec: FeatureSpec) -> tuple[_View, ...]:
    model = set(schema.model_features(fspec))
    return tuple(
        _View(v.name, v.entity, v.join_key, v.key_type, tuple(f for f in v.features if f in model))
        for v in fspec.views
    )


def _decode(view: _View, stored: Stored | None) -> tuple[datetime | None, dict[str, float]]:
    if stored is None:
        return None, dict.fromkeys(view.features, math.nan)
    stamp, raw = stored
    features = {}
    for name in view.features:
        value = decode_value(raw.get(name))
        features[name] = math.nan if value is None else float(value)
    return stamp, features


def _aware(ts: Any, what: str) -> datetime:
    if not isinstance(ts, datetime) or ts.utcoffset() is None:
        raise RequestRowInvalid(f"{what} must be a tz-aware datetime, got {ts!r}")
    return ts


# --------------------------------------------------------------------------- model input
def feature_matrix(
    batch: Sequence[Assembled], names: Sequence[str], dtype: Any = np.float64
) -> np.ndarray:
    """The rows' features in the model's order, shape ``(len(batch), len(names))``."""
    out = np.empty((len(batch), len(names)), dtype=dtype)
    for i, item in enumerate(batch):
        values = item.values
        try:
            out[i] = [values[n] for n in names]
        except KeyError as exc:
            raise FeatureNotServed(
                f"the model expects {exc.args[0]!r}, which the feature service does not "
                f"serve ({sorted(values)}): a model trained on another feature service?"
            ) from None
    return out


def feature_vector(item: Assembled, names: Sequence[str], dtype: Any = np.float64) -> np.ndarray:
    """One row's features in the model's order, shape ``(len(names),)``."""
    return feature_matrix([item], names, dtype)[0]
