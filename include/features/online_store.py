"""Feast online stores whose writes never move a value back in time (fault A7).

Feast's SQLite store upserts blindly: materializing an older window after a newer one
overwrites the newer values (A7 [exp]). :class:`GuardedSqliteOnlineStore` keeps the upsert
but adds ``WHERE excluded.event_ts >= stored.event_ts``, so a row is written only if it is
at least as new as what is stored; equal stamps are rewritten, because a partition
recomputed with late labels keeps its stamps and must still reach the online store. It also
writes with one ``executemany`` per batch instead of one statement per feature value.

Feast's Redis store already skips older rows but also skips *equal* ones;
:class:`GuardedRedisOnlineStore` filters with the same ``>=`` rule and writes the stock
layout. Select them in a RepoConfig with ``type: include.features.online_store.
GuardedSqliteOnlineStore`` (or ``...GuardedRedisOnlineStore``); reads are the stock ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from feast.feature_view import FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3, _redis_key, extract_text_and_num
from feast.infra.online_stores.redis import (
    RedisOnlineStore,
    RedisOnlineStoreConfig,
    _versioned_fv_name,
)
from feast.infra.online_stores.sqlite import (
    SqliteOnlineStore,
    SqliteOnlineStoreConfig,
    _quote_id,
    _table_id,
)
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig
from feast.utils import make_tzaware, to_naive_utc
from google.protobuf.timestamp_pb2 import Timestamp

Row = tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]
SQLITE_TYPE = "include.features.online_store.GuardedSqliteOnlineStore"
REDIS_TYPE = "include.features.online_store.GuardedRedisOnlineStore"


class GuardedSqliteOnlineStoreConfig(SqliteOnlineStoreConfig):
    """SQLite online store settings (``path``), selected by this module's store type."""

    type: Literal["include.features.online_store.GuardedSqliteOnlineStore"] = SQLITE_TYPE  # type: ignore[assignment]


class GuardedSqliteOnlineStore(SqliteOnlineStore):
    """Feast's SQLite store with an event-time guard on every write (see module docstring).

    The database is switched to write-ahead logging: the scoring service reads it while
    materialization writes, and in the default rollback journal a reader waits for each
    commit (and, past its timeout, fails a request); in WAL readers never wait for a writer.
    """

    def _get_conn(self, config: RepoConfig) -> Any:
        fresh = not self._conn
        conn = super()._get_conn(config)
        if fresh:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: set once per file
        return conn

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: Sequence[Row],
        progress: Callable[[int], Any] | None,
    ) -> None:
        store_cfg = config.online_store
        if store_cfg.vector_enabled or store_cfg.enable_openai_compatible_store:
            raise ValueError("GuardedSqliteOnlineStore does not support vector/value_num columns")
        conn = self._get_conn(config)
        name = _quote_id(
            _table_id(config.project, table, config.registry.enable_online_feature_view_versioning)
        )
        # The stock table layout; the WHERE makes the upsert a no-op for an older row.
        sql = (
            f"INSERT INTO {name}"
            " (entity_key, feature_name, value, value_text, event_ts, created_ts)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(entity_key, feature_name) DO UPDATE SET"
            " value = excluded.value, value_text = excluded.value_text,"
            " event_ts = excluded.event_ts, created_ts = excluded.created_ts"
            f" WHERE excluded.event_ts >= {name}.event_ts"
        )
        version = config.entity_key_serialization_version
        rows = []
        for entity_key, values, event_ts, created_ts in data:
            key = serialize_entity_key(entity_key, entity_key_serialization_version=version)
            # What the stock store's sqlite3 adapter stores (whole seconds), computed once per
            # entity instead of once per value; the guard compares these integers.
            ts = int(to_naive_utc(event_ts).timestamp())
            created = int(to_naive_utc(created_ts).timestamp()) if created_ts is not None else None
            for feature, value in values.items():
                text, _ = extract_text_and_num(value, False)
                rows.append((key, feature, value.SerializeToString(), text, ts, created))
        rows.sort(key=lambda r: (r[0], r[1]))  # primary-key order: fewer B-tree page splits
        with conn:
            conn.executemany(sql, rows)
        if progress:
            progress(len(data))


class GuardedRedisOnlineStoreConfig(RedisOnlineStoreConfig):
    """Redis online store settings (``connection_string``, ``key_ttl_seconds``…)."""

    type: Literal["include.features.online_store.GuardedRedisOnlineStore"] = REDIS_TYPE  # type: ignore[assignment]


class GuardedRedisOnlineStore(RedisOnlineStore):
    """Feast's Redis store with the same ``>=`` event-time guard as the SQLite one."""

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: Sequence[Row],
        progress: Callable[[int], Any] | None,
    ) -> None:
        store_cfg = config.online_store
        client = self._get_client(store_cfg)
        view = _versioned_fv_name(table, config)
        ts_key = f"_ts:{view}"  # the stock layout: one hash per entity, a stamp per view
        version = config.entity_key_serialization_version
        keys = [
            _redis_key(config.project, ek, entity_key_serialization_version=version)
            for ek, _, _, _ in data
        ]
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, ts_key)
            stored = pipe.execute()
        newest: dict[bytes, tuple[int, Row]] = {}
        for key, previous, row in zip(keys, stored, data, strict=True):
            nanos = _nanos(row[2])
            floor = _parse_nanos(previous) if previous else -1
            best = newest.get(key)
            if nanos >= floor and (best is None or nanos >= best[0]):
                newest[key] = (nanos, row)
        with client.pipeline(transaction=False) as pipe:
            for key, (_, (_, values, event_ts, _)) in newest.items():
                stamp = Timestamp()
                stamp.FromDatetime(make_tzaware(event_ts))
                fields: dict[Any, Any] = {ts_key: stamp.SerializeToString()}
                for feature, value in values.items():
                    fields[_mmh3(f"{view}:{feature}")] = value.SerializeToString()
                pipe.hset(key, mapping=fields)
                if store_cfg.key_ttl_seconds:
                    pipe.expire(name=key, time=store_cfg.key_ttl_seconds)
            pipe.execute()
        if progress:
            progress(len(data))


def _nanos(ts: datetime) -> int:
    stamp = Timestamp()
    stamp.FromDatetime(make_tzaware(ts))
    return stamp.seconds * 1_000_000_000 + stamp.nanos


def _parse_nanos(raw: bytes) -> int:
    stamp = Timestamp()
    stamp.ParseFromString(raw)
    return stamp.seconds * 1_000_000_000 + stamp.nanos
