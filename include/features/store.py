"""The Feast feature store from settings: config, apply, guarded materialization, pruned views.

Inputs: settings (``data_root``, ``feast_repo``, ``feast_online_store``, ``redis_url``) and
the use-case spec. Outputs: a ``FeatureStore``; small JSON-able summaries of apply and
materialize. Feast is imported inside the functions (it costs ~6 s).

Why a Python ``RepoConfig`` and not only ``feature_repo/feature_store.yaml``: the paths and
the online store type come from settings, and a YAML can only substitute environment variables
(Feast runs ``os.path.expandvars`` on it) — it can not fall back to the default data root nor
switch between the SQLite and Redis sections. The YAML mirrors the SQLite case for the CLI;
``tests/unit/features/test_store.py`` checks that both agree.

Pruned views: Feast's offline stores read *every* file of a source and join all rows of an
entity before filtering by time, so their cost grows with the whole history. The feature
sources are relative paths (``features/<view>``) resolved against ``repo_path``; pointing
``repo_path`` at a temporary folder holding only the partitions a time range can use gives
Feast the same answer at a bounded cost, with the same registry and feature service.

Two offline stores: point-in-time retrieval (``feature_store(..., retrieval=True)``) runs on
Feast's DuckDB store (:mod:`include.features.offline_store`), materialization on Feast's
file store (Dask).
"""

from __future__ import annotations

import contextlib
import runpy
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from include import layout, storage
from include.config import Settings, get_settings
from include.features import schema
from include.features.schema import FeatureSpec
from include.spec import load_spec

# Rows per online write batch: one executemany per batch (see bench/materialize.py).
ONLINE_WRITE_BATCH_SIZE = 50_000
# Feature rows per Feast materialize call: the keys of a view's window are loaded in pieces
# of at most this many rows of its partitions (``materialize``).
MATERIALIZE_CHUNK_ROWS = 250_000
# The offline store of point-in-time reads (training sets, batch scores): Feast's DuckDB store
# reading pruned views. Named, not imported: ibis and DuckDB load only where it is used.
RETRIEVAL_OFFLINE_STORE = "include.features.offline_store.PrunedDuckDBOfflineStore"


def feature_spec_from(settings: Settings | None = None) -> FeatureSpec:
    settings = settings or get_settings()
    return schema.feature_spec(load_spec(settings.usecase_spec))


def redis_connection_string(url: str) -> str:
    """``redis://[:password@]host:port/db`` (or ``rediss://``) as Feast's connection string."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ValueError(f"MLOPS_REDIS_URL must look like redis://host:6379/0, got {url!r}")
    parts = [f"{parsed.hostname}:{parsed.port or 6379}"]
    db = parsed.path.lstrip("/")
    if db:
        parts.append(f"db={int(db)}")
    if parsed.password:
        parts.append(f"password={parsed.password}")
    if parsed.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def online_store_config(settings: Settings) -> dict[str, Any]:
    from include.features.online_store import REDIS_TYPE, SQLITE_TYPE

    if settings.feast_online_store == "sqlite":
        return {"type": SQLITE_TYPE, "path": str(settings.feast_dir / "online.db")}
    if settings.feast_online_store == "redis":
        return {
            "type": REDIS_TYPE,
            "connection_string": redis_connection_string(settings.redis_url),
        }
    raise ValueError(
        f"MLOPS_FEAST_ONLINE_STORE must be 'sqlite' or 'redis', got {settings.feast_online_store!r}"
    )


def registry_config(registry: str) -> str | dict[str, Any]:
    """A file registry (a path) or Feast's SQL registry (a SQLAlchemy URL).

    The SQL registry keeps every object and materialization interval in a database
    transaction, so concurrent materialize and training tasks cannot overwrite each other's
    registry writes as they can with the single protobuf file.
    """
    if "://" not in registry:
        return registry
    if not registry.startswith(("postgresql", "mysql", "sqlite")):
        raise ValueError(
            f"MLOPS_FEAST_REGISTRY must be a path or a SQLAlchemy URL, got {registry!r}"
        )
    return {
        "registry_type": "sql",
        "path": registry,
        "cache_ttl_seconds": 60,
        "sqlalchemy_config_kwargs": {"pool_pre_ping": True},
    }


def repo_config(
    settings: Settings | None = None, *, repo_path: Path | None = None, retrieval: bool = False
) -> Any:
    """The store's ``RepoConfig``; ``repo_path`` (default: the data root) resolves sources.
    ``retrieval``: the offline store is DuckDB (:mod:`include.features.offline_store`), for
    the point-in-time reads; otherwise Feast's file store, which materialization uses."""
    from feast import RepoConfig

    settings = settings or get_settings()
    fspec = feature_spec_from(settings)
    return RepoConfig(
        project=fspec.project,
        provider="local",
        registry=registry_config(settings.feast_registry),
        offline_store={"type": RETRIEVAL_OFFLINE_STORE if retrieval else "file"},
        online_store=online_store_config(settings),
        entity_key_serialization_version=3,
        materialization={"online_write_batch_size": ONLINE_WRITE_BATCH_SIZE},
        repo_path=str(repo_path or settings.data_root),
    )


def scratch_dir(settings: Settings) -> Path:
    """Local scratch space for pruned views (a cache: deleting it loses nothing)."""
    return settings.feast_dir / "tmp"


def feature_store(
    settings: Settings | None = None, *, repo_path: Path | None = None, retrieval: bool = False
) -> Any:
    """A ``FeatureStore`` on the settings' registry, online store and feature tables."""
    from feast import FeatureStore

    settings = settings or get_settings()
    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=repo_config(settings, repo_path=repo_path, retrieval=retrieval))


def load_definitions(repo: Path) -> list[Any]:
    """Every Feast object the repo's modules define, in definition order.

    Like ``feast apply`` (which imports every ``.py`` of the repo), but each call runs the
    modules afresh, so the spec and settings in force now are the ones applied.
    """
    from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView, Project
    from feast.data_source import DataSource

    kinds = (Project, Entity, DataSource, FeatureView, OnDemandFeatureView, FeatureService)
    objects: list[Any] = []
    for path in sorted(repo.glob("*.py")):
        namespace = runpy.run_path(str(path), run_name=f"feast_repo_{path.stem}")
        for value in namespace.values():
            if isinstance(value, kinds) and not any(value is o for o in objects):
                objects.append(value)
    return objects


def apply_definitions(settings: Settings | None = None) -> dict[str, Any]:
    """``feast apply`` through the Python API: register the repo's objects (idempotent)."""
    settings = settings or get_settings()
    objects = load_definitions(settings.feast_repo)
    store = feature_store(settings)
    with warnings.catch_warnings():
        # "On demand feature view is an experimental feature": known, and noisy per task.
        warnings.simplefilter("ignore", RuntimeWarning)
        store.apply(objects)
    return {
        "project": store.project,
        "objects": sorted(f"{type(o).__name__}:{o.name}" for o in objects),
        "registry": settings.feast_registry,
    }


def partitions_for_stamps(first: datetime, last: datetime, fspec: FeatureSpec) -> tuple[date, date]:
    """Partition days that can hold rows stamped in ``[first, last]``: a partition D holds
    stamps from D - lateness (late rows) to D + 1 day (the end-of-day and t + 1 µs rows)."""
    return (first.date() - timedelta(days=2), last.date() + timedelta(days=fspec.lateness_days + 1))


@dataclass
class PrunedView:
    """A temporary repo path for Feast plus the rows it holds, per view (present ones only)."""

    path: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@contextlib.contextmanager
def pruned_view(
    features_uri: str,
    scratch: Path,
    first: date,
    last: date,
    keys: dict[str, Any] | None = None,
    views: Sequence[str] | None = None,
) -> Iterator[PrunedView]:
    """The partitions ``first``..``last`` of each view (rows of ``keys[view]`` only, if
    given) as ONE Parquet file per view under a temporary ``features/<view>/`` in ``scratch``.

    The tables may live on S3 (``features_uri``); Feast reads only the local copy. One file,
    not links to the partition files: Feast's Dask join sorts and de-duplicates per
    partition, and with several partitions it returned an older row than the latest one
    before the entity time (seen in tests/unit/features/test_store.py); with one partition the
    sort and ``keep="last"`` are plain pandas and exact.
    """
    import pyarrow.parquet as pq

    if views is None:  # the views asked for, else every view of the settings' spec
        views = list(keys) if keys else [v.name for v in feature_spec_from().views]
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="view-", dir=scratch) as tmp:
        view = PrunedView(Path(tmp))
        for name in views:
            wanted = keys.get(name) if keys is not None else None
            table = read_view(features_uri, name, first, last, wanted)
            if table is None:
                continue
            target = view.path / schema.source_path(name) / "data.parquet"
            target.parent.mkdir(parents=True)
            pq.write_table(table, target)
            key = table.schema.names[0]
            view.tables[name] = table.select([key, schema.TIMESTAMP]).to_pandas()
        yield view


def read_view(
    features_uri: str,
    view: str,
    first: date,
    last: date,
    keys: Any = None,
    columns: Sequence[str] | None = None,
) -> Any:
    """The partitions ``first``..``last`` of ``view`` as one Arrow table (None: no row),
    rows of ``keys`` only if given, ``columns`` only if given (the join key always first).

    Each partition is filtered as it is read, so a day's table is never held whole next to
    the others, and only its row groups that can hold a key between the smallest and the
    largest of ``keys`` are decoded (tables are written sorted by key in small row groups,
    ``tables.ROW_GROUP_ROWS``): a few neighbouring keys cost a few row groups, not the
    look-back's size (bench/scale.py).
    """
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if keys is None or isinstance(keys, pa.Array):
        wanted = keys
    elif isinstance(keys, pa.ChunkedArray):
        wanted = keys.combine_chunks()
    else:
        wanted = pa.array(list(keys))
    if wanted is not None and len(wanted) == 0:
        return None
    bounds = pc.min_max(wanted) if wanted is not None else None
    parts = []
    for d in _days(first, last):
        uri = layout.feature_table_uri(features_uri, view, d)
        if not storage.exists(uri):
            continue
        source = uri if not storage.is_s3(uri) else io.BytesIO(storage.read_bytes(uri))
        key = pq.read_schema(source).names[0]  # tables are written key first (compute._typed)
        if isinstance(source, io.BytesIO):
            source.seek(0)
        wanted_columns = list(dict.fromkeys([key, *columns])) if columns else None
        in_range = (
            [(key, ">=", bounds["min"].as_py()), (key, "<=", bounds["max"].as_py())]
            if bounds is not None
            else None
        )
        part = pq.read_table(source, columns=wanted_columns, filters=in_range)
        if wanted is not None:
            part = part.filter(pc.is_in(part[key], value_set=wanted))
        parts.append(part)
    if not parts:
        return None
    table = pa.concat_tables(parts, promote_options="default")
    return table if table.num_rows else None


def _days(first: date, last: date) -> Iterator[date]:
    for i in range((last - first).days + 1):
        yield first + timedelta(days=i)


def materialize(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """``store.materialize(start, end)`` over pruned sources, into the guarded online store.

    A look-back window (not ``materialize_incremental``) so late rows are picked up; the
    guarded store keeps every online value at its newest event time whatever the order.

    Per view, only the keys with a row stamped in the window are loaded, in pieces of
    neighbouring keys holding about ``MATERIALIZE_CHUNK_ROWS`` rows of the partitions
    (:func:`key_chunks`): Feast's file store holds a call's whole source in memory several
    times over (measured: a 5.6 GB peak for a day of 1M transactions, whose window holds
    ~6M rows; 1.5 GB in pieces, bench/README.md "Scale curve"), so a call per piece keeps
    the peak flat whatever a day's size. A key's rows are all in one piece, so each piece
    writes the same latest row per key a single call would.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    settings = settings or get_settings()
    fspec = feature_spec_from(settings)
    start, end = _utc(start), _utc(end)
    first, last = partitions_for_stamps(start, end, fspec)
    scratch = scratch_dir(settings)
    views = []
    for name in (v.name for v in fspec.views):
        stamps = read_view(settings.features_uri, name, first, last, columns=[schema.TIMESTAMP])
        if stamps is None:
            continue
        key = stamps.schema.names[0]
        ts = stamps[schema.TIMESTAMP]
        # Feast loads rows stamped in [start, end]: a key without one has nothing to write.
        inside = pc.and_(
            pc.greater_equal(ts, pa.scalar(start, type=ts.type)),
            pc.less_equal(ts, pa.scalar(end, type=ts.type)),
        )
        active = pc.unique(stamps[key].filter(inside))
        rows = stamps[key].filter(pc.is_in(stamps[key], value_set=active))
        del stamps, ts
        for keys in key_chunks(rows, MATERIALIZE_CHUNK_ROWS):
            with pruned_view(
                settings.features_uri, scratch, first, last, {name: keys}, views=[name]
            ) as view:
                if name not in view.tables:
                    continue
                store = feature_store(settings, repo_path=view.path)
                store.materialize(start_date=start, end_date=end, feature_views=[name])
            if name not in views:
                views.append(name)
    return {"start": start.isoformat(), "end": end.isoformat(), "feature_views": views}


def key_chunks(keys: Any, max_rows: int) -> list[Any]:
    """The distinct values of ``keys`` (one per row), sorted, as Arrow arrays of neighbouring
    keys: a key whose last row is the ``max_rows``-th, 2 x ``max_rows``-th... ends a run, so
    a run holds fewer than ``max_rows`` rows plus those of its first key. The key sets of
    :func:`read_view` calls of bounded size (counted and sorted in Arrow: no Python object
    per key)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(keys, pa.ChunkedArray | pa.Array):
        keys = pa.array(keys)
    counted = pc.value_counts(keys)
    if len(counted) == 0:
        return []
    order = pc.sort_indices(counted.field("values"))
    values = counted.field("values").take(order)
    run = (np.cumsum(counted.field("counts").take(order).to_numpy()) - 1) // max(1, max_rows)
    bounds = [0, *(np.flatnonzero(np.diff(run)) + 1).tolist(), len(values)]
    return [values.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
