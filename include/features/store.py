"""The Feast feature store from settings: config, apply, guarded materialization, pruned views.

Inputs: settings (``data_root``, ``feast_repo``, ``feast_online_store``, ``redis_url``) and
the use-case spec. Outputs: a ``FeatureStore``; small JSON-able summaries of apply and
materialize. Feast is imported inside the functions (it costs ~6 s).

Why a Python ``RepoConfig`` and not only ``feature_repo/feature_store.yaml``: the paths and
the online store type come from settings, and a YAML can only substitute environment variables
(Feast runs ``os.path.expandvars`` on it) — it can not fall back to the default data root nor
switch between the SQLite and Redis sections. The YAML mirrors the SQLite case for the CLI;
``tests/unit/features/test_store.py`` checks that both agree.

Pruned views: Feast's file offline store reads *every* file of a source and joins all rows of
an entity before filtering by time, so its cost grows with the whole history. The feature
sources are relative paths (``features/<view>``) resolved against ``repo_path``; pointing
``repo_path`` at a temporary folder holding only the partitions a time range can use gives
Feast the same answer at a bounded cost, with the same registry and feature service.
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


def repo_config(settings: Settings | None = None, *, repo_path: Path | None = None) -> Any:
    """The store's ``RepoConfig``; ``repo_path`` (default: the data root) resolves sources."""
    from feast import RepoConfig

    settings = settings or get_settings()
    fspec = feature_spec_from(settings)
    return RepoConfig(
        project=fspec.project,
        provider="local",
        registry=registry_config(settings.feast_registry),
        offline_store={"type": "file"},
        online_store=online_store_config(settings),
        entity_key_serialization_version=3,
        materialization={"online_write_batch_size": ONLINE_WRITE_BATCH_SIZE},
        repo_path=str(repo_path or settings.data_root),
    )


def scratch_dir(settings: Settings) -> Path:
    """Local scratch space for pruned views (a cache: deleting it loses nothing)."""
    return settings.feast_dir / "tmp"


def feature_store(settings: Settings | None = None, *, repo_path: Path | None = None) -> Any:
    """A ``FeatureStore`` on the settings' registry, online store and feature tables."""
    from feast import FeatureStore

    settings = settings or get_settings()
    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=repo_config(settings, repo_path=repo_path))


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
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if views is None:  # the views asked for, else every view of the settings' spec
        views = list(keys) if keys else [v.name for v in feature_spec_from().views]
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="view-", dir=scratch) as tmp:
        view = PrunedView(Path(tmp))
        for name in views:
            parts = []
            for d in _days(first, last):
                uri = layout.feature_table_uri(features_uri, name, d)
                if not storage.exists(uri):
                    continue
                source = uri if not storage.is_s3(uri) else io.BytesIO(storage.read_bytes(uri))
                parts.append(pq.read_table(source))
            if not parts:
                continue
            table = pa.concat_tables(parts, promote_options="default")
            key = table.schema.names[0]  # tables are written key first (compute._typed)
            if keys is not None and name in keys:
                table = table.filter(pc.is_in(table[key], value_set=pa.array(list(keys[name]))))
            if table.num_rows == 0:
                continue
            target = view.path / schema.source_path(name) / "data.parquet"
            target.parent.mkdir(parents=True)
            pq.write_table(table, target)
            view.tables[name] = table.select([key, schema.TIMESTAMP]).to_pandas()
        yield view


def _days(first: date, last: date) -> Iterator[date]:
    for i in range((last - first).days + 1):
        yield first + timedelta(days=i)


def materialize(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """``store.materialize(start, end)`` over pruned sources, into the guarded online store.

    A look-back window (not ``materialize_incremental``) so late rows are picked up; the
    guarded store keeps every online value at its newest event time whatever the order.
    """
    settings = settings or get_settings()
    fspec = feature_spec_from(settings)
    start, end = _utc(start), _utc(end)
    first, last = partitions_for_stamps(start, end, fspec)
    names = [v.name for v in fspec.views]
    with pruned_view(
        settings.features_uri, scratch_dir(settings), first, last, views=names
    ) as view:
        views = list(view.tables)
        if views:
            store = feature_store(settings, repo_path=view.path)
            store.materialize(start_date=start, end_date=end, feature_views=views)
    return {"start": start.isoformat(), "end": end.isoformat(), "feature_views": views}


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
